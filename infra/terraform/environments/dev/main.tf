# One GridOS environment. dev holds this file; staging and prod link to it (as to variables.tf, outputs.tf,
# providers.tf and versions.tf), so the environments differ only in terraform.tfvars and backend.tf.

data "azurerm_client_config" "current" {}

locals {
  name = "gridos-${var.environment}"
  tags = merge(var.tags, {
    environment = var.environment
    service     = "gridos"
    managed-by  = "terraform"
  })
}

resource "azurerm_resource_group" "this" {
  name     = "rg-${local.name}"
  location = var.location
  tags     = local.tags
}

module "monitoring" {
  source              = "../../modules/monitoring"
  name                = local.name
  location            = var.location
  resource_group_name = azurerm_resource_group.this.name
  retention_in_days   = var.log_retention_days
  diagnostic_targets = {
    aks         = module.aks.cluster_id
    keyvault    = module.keyvault.key_vault_id
    acr         = module.acr.registry_id
    postgresql  = module.postgresql.server_id
    agc         = module.agc.agc_id
    virtual_net = module.network.vnet_id
  }
  tags = local.tags
}

module "network" {
  source              = "../../modules/network"
  name                = local.name
  location            = var.location
  resource_group_name = azurerm_resource_group.this.name
  address_space       = var.address_space
  subnet_cidrs        = var.subnet_cidrs
  tags                = local.tags
}

module "keyvault" {
  source                     = "../../modules/keyvault"
  name                       = "kv-${local.name}-${var.global_name_suffix}"
  location                   = var.location
  resource_group_name        = azurerm_resource_group.this.name
  tenant_id                  = data.azurerm_client_config.current.tenant_id
  deployer_principal_id      = var.terraform_apply_principal_id
  allowed_ip_ranges          = var.key_vault_allowed_ip_ranges
  private_endpoint_subnet_id = module.network.subnet_ids["private_endpoints"]
  private_dns_zone_id        = module.network.private_dns_zone_ids["keyvault"]
  secret_rotation_days       = var.secret_rotation_days
  tags                       = local.tags
}

module "aks" {
  source                          = "../../modules/aks"
  name                            = local.name
  location                        = var.location
  resource_group_name             = azurerm_resource_group.this.name
  kubernetes_version              = var.kubernetes_version
  sku_tier                        = var.aks_sku_tier
  zones                           = var.zones
  system_node_pool                = var.system_node_pool
  user_node_pool                  = var.user_node_pool
  node_subnet_id                  = module.network.subnet_ids["aks_nodes"]
  private_cluster_enabled         = var.aks_private_cluster_enabled
  api_server_authorized_ip_ranges = var.aks_api_server_authorized_ip_ranges
  tenant_id                       = data.azurerm_client_config.current.tenant_id
  admin_group_object_ids          = var.aks_admin_group_object_ids
  log_analytics_workspace_id      = module.monitoring.workspace_id
  tags                            = local.tags
}

module "identity" {
  source              = "../../modules/identity"
  name                = local.name
  location            = var.location
  resource_group_name = azurerm_resource_group.this.name
  aks_oidc_issuer_url = module.aks.oidc_issuer_url
  key_vault_id        = module.keyvault.key_vault_id
  github_repository   = var.github_repository
  github_environment  = var.environment
  oidc_redirect_uris  = flatten([for host in var.host_names : ["https://${host}/auth/callback", "https://${host}/"]])
  oidc_logout_url     = "https://${var.host_names[0]}/"
  tags                = local.tags
}

module "acr" {
  source                     = "../../modules/acr"
  name                       = "crgridos${var.environment}${var.global_name_suffix}"
  location                   = var.location
  resource_group_name        = azurerm_resource_group.this.name
  sku                        = var.acr_sku
  georeplication_locations   = var.acr_georeplication_locations
  private_endpoint_subnet_id = module.network.subnet_ids["private_endpoints"]
  private_dns_zone_id        = module.network.private_dns_zone_ids["acr"]
  pull_principal_ids         = { aks_kubelet = module.aks.kubelet_identity_object_id }
  push_principal_ids         = { github_ci = module.identity.github_ci_principal_id }
  tags                       = local.tags
}

module "postgresql" {
  source                       = "../../modules/postgresql"
  name                         = "${local.name}-${var.global_name_suffix}"
  location                     = var.location
  resource_group_name          = azurerm_resource_group.this.name
  sku_name                     = var.postgresql_sku_name
  storage_mb                   = var.postgresql_storage_mb
  backup_retention_days        = var.postgresql_backup_retention_days
  high_availability_enabled    = var.postgresql_high_availability_enabled
  geo_redundant_backup_enabled = var.postgresql_geo_redundant_backup_enabled
  delegated_subnet_id          = module.network.subnet_ids["postgresql"]
  private_dns_zone_id          = module.network.private_dns_zone_ids["postgresql"]
  key_vault_id                 = module.keyvault.key_vault_id
  password_rotation_days       = var.secret_rotation_days
  tags                         = local.tags
}

module "agc" {
  source              = "../../modules/agc"
  name                = local.name
  location            = var.location
  resource_group_name = azurerm_resource_group.this.name
  subnet_id           = module.network.subnet_ids["agc"]
  frontend_names      = concat(["fe-${local.name}"], var.agc_extra_frontends)
  aks_oidc_issuer_url = module.aks.oidc_issuer_url
  host_names          = var.host_names
  key_vault_id        = module.keyvault.key_vault_id
  certificate_issuer  = var.certificate_issuer
  waf_mode            = var.waf_mode
  tags                = local.tags
}

module "storage" {
  source                     = "../../modules/storage"
  name                       = "stgridos${var.environment}${var.global_name_suffix}"
  location                   = var.location
  resource_group_name        = azurerm_resource_group.this.name
  replication_type           = var.archive_replication_type
  private_endpoint_subnet_id = module.network.subnet_ids["private_endpoints"]
  virtual_network_id         = module.network.vnet_id
  aks_oidc_issuer_url        = module.aks.oidc_issuer_url
  reader_principal_ids       = merge({ gridos_api = module.identity.gridos_principal_id }, var.archive_reader_principal_ids)
  tags                       = local.tags
}
