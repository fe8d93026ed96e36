# AKS: system and user node pools across availability zones with the cluster autoscaler, Azure CNI overlay
# with Cilium, OIDC issuer and workload identity, Entra ID RBAC with local accounts disabled, Container
# Insights. Traffic comes in through Application Gateway for Containers (modules/agc), which reaches pods
# directly from its own subnet: the cluster creates no load balancer for ingress (ADR 0060).

resource "azurerm_user_assigned_identity" "cluster" {
  name                = "id-aks-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

# The control plane manages load balancers and NICs in the node subnet.
resource "azurerm_role_assignment" "cluster_network_nodes" {
  scope                = var.node_subnet_id
  role_definition_name = "Network Contributor"
  principal_id         = azurerm_user_assigned_identity.cluster.principal_id
}

resource "azurerm_kubernetes_cluster" "this" {
  #checkov:skip=CKV_AZURE_117:Disks use platform-managed keys plus encryption at host; customer-managed keys need a disk encryption set and key rotation process we do not operate yet (ADR 0021).
  #checkov:skip=CKV_AZURE_172:Secrets reach pods through External Secrets Operator with workload identity, not the Key Vault CSI driver, so there is no CSI secret rotation to enable.
  #checkov:skip=CKV_AZURE_170:The uptime-SLA tier is a variable: staging and prod use Standard, dev deliberately uses Free to stay cheap.
  #checkov:skip=CKV_AZURE_115:Staging and prod set private_cluster_enabled; dev keeps a public API server restricted to authorized IP ranges so developers reach it without a VPN.
  #checkov:skip=CKV_AZURE_6:A private cluster cannot have authorized IP ranges; the dynamic block sets them whenever the API server is public (dev).
  name                              = "aks-${var.name}"
  location                          = var.location
  resource_group_name               = var.resource_group_name
  dns_prefix                        = "aks-${var.name}"
  kubernetes_version                = var.kubernetes_version
  sku_tier                          = var.sku_tier
  automatic_upgrade_channel         = var.automatic_upgrade_channel
  node_os_upgrade_channel           = "NodeImage"
  private_cluster_enabled           = var.private_cluster_enabled
  oidc_issuer_enabled               = true
  workload_identity_enabled         = true
  local_account_disabled            = true
  role_based_access_control_enabled = true
  azure_policy_enabled              = true
  image_cleaner_enabled             = true
  image_cleaner_interval_hours      = 48
  tags                              = var.tags

  default_node_pool {
    name                         = "system"
    vm_size                      = var.system_node_pool.vm_size
    vnet_subnet_id               = var.node_subnet_id
    zones                        = var.zones
    auto_scaling_enabled         = true
    min_count                    = var.system_node_pool.min_count
    max_count                    = var.system_node_pool.max_count
    max_pods                     = 110
    os_disk_type                 = "Ephemeral"
    os_disk_size_gb              = var.system_node_pool.os_disk_size_gb
    host_encryption_enabled      = true
    only_critical_addons_enabled = true
    orchestrator_version         = var.kubernetes_version
    temporary_name_for_rotation  = "systemtmp"
    tags                         = var.tags

    upgrade_settings {
      max_surge = "33%"
    }
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.cluster.id]
  }

  network_profile {
    network_plugin      = "azure"
    network_plugin_mode = "overlay"
    network_data_plane  = "cilium"
    network_policy      = "cilium"
    load_balancer_sku   = "standard"
    outbound_type       = "loadBalancer"
    pod_cidr            = var.pod_cidr
    service_cidr        = var.service_cidr
    dns_service_ip      = cidrhost(var.service_cidr, 10)
  }

  azure_active_directory_role_based_access_control {
    tenant_id              = var.tenant_id
    admin_group_object_ids = var.admin_group_object_ids
    azure_rbac_enabled     = true
  }

  dynamic "api_server_access_profile" {
    for_each = var.private_cluster_enabled ? [] : [1]
    content {
      authorized_ip_ranges = var.api_server_authorized_ip_ranges
    }
  }

  oms_agent {
    log_analytics_workspace_id      = var.log_analytics_workspace_id
    msi_auth_for_monitoring_enabled = true
  }

  microsoft_defender {
    log_analytics_workspace_id = var.log_analytics_workspace_id
  }

  depends_on = [
    azurerm_role_assignment.cluster_network_nodes,
  ]
}

resource "azurerm_kubernetes_cluster_node_pool" "user" {
  name                    = "user"
  kubernetes_cluster_id   = azurerm_kubernetes_cluster.this.id
  mode                    = "User"
  vm_size                 = var.user_node_pool.vm_size
  vnet_subnet_id          = var.node_subnet_id
  zones                   = var.zones
  auto_scaling_enabled    = true
  min_count               = var.user_node_pool.min_count
  max_count               = var.user_node_pool.max_count
  max_pods                = 110
  os_disk_type            = "Ephemeral"
  os_disk_size_gb         = var.user_node_pool.os_disk_size_gb
  host_encryption_enabled = true
  orchestrator_version    = var.kubernetes_version
  tags                    = var.tags

  node_labels = {
    "gridos.io/pool" = "user"
  }

  upgrade_settings {
    max_surge = "33%"
  }
}
