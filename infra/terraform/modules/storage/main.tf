# The cold tier of the historian (docs/archive.md): an ADLS Gen2 account (hierarchical namespace) holding
# Parquet files that GridOS writes and Spark/Synapse/Fabric/DuckDB read. No shared keys, no public network:
# everything authenticates with Entra ID (the archive CronJob through workload identity) and reaches the
# account through private endpoints. Lifecycle rules move old days to cool, then archive; soft delete
# keeps deleted files and containers recoverable.

locals {
  gridos_prefix = trimsuffix(var.archive_prefix, "/")
}

resource "azurerm_storage_account" "this" {
  #checkov:skip=CKV2_AZURE_1:Encryption with Microsoft-managed keys plus infrastructure encryption; the archive holds telemetry, not personal data, and a customer-managed key would tie its readability to a Key Vault key's lifetime (ADR in docs/archive.md).
  #checkov:skip=CKV_AZURE_33:Queue service logging: the account has no queues.
  name                              = var.name
  location                          = var.location
  resource_group_name               = var.resource_group_name
  account_kind                      = "StorageV2"
  account_tier                      = "Standard"
  account_replication_type          = var.replication_type
  access_tier                       = "Hot"
  is_hns_enabled                    = true
  shared_access_key_enabled         = false
  default_to_oauth_authentication   = true
  local_user_enabled                = false
  sftp_enabled                      = false
  public_network_access_enabled     = false
  allow_nested_items_to_be_public   = false
  https_traffic_only_enabled        = true
  min_tls_version                   = "TLS1_2"
  infrastructure_encryption_enabled = true
  cross_tenant_replication_enabled  = false
  tags                              = var.tags

  blob_properties {
    # Versioning and change feed are not available with a hierarchical namespace; soft delete is.
    delete_retention_policy {
      days = var.soft_delete_retention_days
    }
    container_delete_retention_policy {
      days = var.soft_delete_retention_days
    }
  }

  network_rules {
    default_action = "Deny"
    bypass         = ["AzureServices", "Logging", "Metrics"]
  }

  sas_policy {
    expiration_period = "00.01:00:00"
    expiration_action = "Log"
  }
}

# Created through the management plane: with shared keys off and no public network, Terraform cannot use
# the data plane from a CI runner.
resource "azurerm_storage_container" "archive" {
  #checkov:skip=CKV2_AZURE_21:Blob read logging is configured by the monitoring module's diagnostic settings on the account.
  name                  = var.container_name
  storage_account_id    = azurerm_storage_account.this.id
  container_access_type = "private"
}

resource "azurerm_private_dns_zone" "this" {
  for_each            = toset(["blob", "dfs"])
  name                = "privatelink.${each.key}.core.windows.net"
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_private_dns_zone_virtual_network_link" "this" {
  for_each              = azurerm_private_dns_zone.this
  name                  = "link-${var.name}-${each.key}"
  resource_group_name   = var.resource_group_name
  private_dns_zone_name = each.value.name
  virtual_network_id    = var.virtual_network_id
  registration_enabled  = false
  tags                  = var.tags
}

# blob for the Blob API (GridOS uses it), dfs for the ADLS Gen2 API (Spark's abfss:// driver).
resource "azurerm_private_endpoint" "this" {
  for_each            = azurerm_private_dns_zone.this
  name                = "pe-${var.name}-${each.key}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}-${each.key}"
    private_connection_resource_id = azurerm_storage_account.this.id
    subresource_names              = [each.key]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [each.value.id]
  }
}

# The archive CronJob's identity (ServiceAccount gridos-archive), federated through the AKS OIDC issuer.
resource "azurerm_user_assigned_identity" "archive" {
  name                = "id-${var.name}-archive"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "archive" {
  name                = "aks-${var.archive_service_account.namespace}-${var.archive_service_account.name}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.archive.id
  issuer              = var.aks_oidc_issuer_url
  subject             = "system:serviceaccount:${var.archive_service_account.namespace}:${var.archive_service_account.name}"
  audience            = ["api://AzureADTokenExchange"]
}

# Least privilege, on the container only: the archiver writes and deletes (superseded generations, cold
# retention); the API pods and analytics engines only read.
resource "azurerm_role_assignment" "archive_writer" {
  scope                = azurerm_storage_container.archive.id
  role_definition_name = "Storage Blob Data Contributor"
  principal_id         = azurerm_user_assigned_identity.archive.principal_id
  principal_type       = "ServicePrincipal"
}

resource "azurerm_role_assignment" "readers" {
  for_each             = var.reader_principal_ids
  scope                = azurerm_storage_container.archive.id
  role_definition_name = "Storage Blob Data Reader"
  principal_id         = each.value
}

resource "azurerm_storage_management_policy" "this" {
  storage_account_id = azurerm_storage_account.this.id

  rule {
    name    = "gridos-cold-tiers"
    enabled = true
    filters {
      blob_types   = ["blockBlob"]
      prefix_match = ["${var.container_name}/${local.gridos_prefix}/samples/"]
    }
    actions {
      base_blob {
        tier_to_cool_after_days_since_modification_greater_than    = var.cool_after_days
        tier_to_archive_after_days_since_modification_greater_than = var.archive_after_days
        delete_after_days_since_modification_greater_than          = var.delete_after_days > 0 ? var.delete_after_days : null
      }
    }
  }
}
