# Azure Container Registry: admin user off, pulls by the cluster's kubelet identity (AcrPull), pushes by the
# CI identity (AcrPush). Premium adds a private endpoint, zone redundancy, geo-replication and retention.

locals {
  premium = var.sku == "Premium"
}

resource "azurerm_container_registry" "this" {
  #checkov:skip=CKV_AZURE_163:checkov does not read terraform.tfvars, so var.sku is unresolved in the environments; the variable's validation admits only Standard and Premium, the SKUs this check accepts. Scanning itself is Defender for Containers, enabled per subscription (docs/runbooks/infrastructure.md).
  #checkov:skip=CKV_AZURE_139:Only the non-Premium dev registry keeps public access (Standard cannot use private endpoints); Premium registries (staging, prod) disable it through local.premium.
  #checkov:skip=CKV_AZURE_165:Geo-replication is set per environment (georeplication_locations, prod only); a single-region dev registry is deliberate.
  #checkov:skip=CKV_AZURE_233:Zone redundancy follows the SKU (Premium only, so staging and prod); dev's Standard registry cannot be zone-redundant.
  #checkov:skip=CKV_AZURE_164:Content trust (Docker Content Trust) is retired by Azure in favour of Notary Project signatures verified in-cluster (ADR 0024).
  #checkov:skip=CKV_AZURE_166:Quarantine is a preview feature needing a scanner integration we do not run; images are scanned in CI before they are pushed (ADR 0024).
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  sku                           = var.sku
  admin_enabled                 = false
  anonymous_pull_enabled        = false
  public_network_access_enabled = !local.premium
  zone_redundancy_enabled       = local.premium
  data_endpoint_enabled         = local.premium
  export_policy_enabled         = !local.premium
  network_rule_bypass_option    = "AzureServices"
  retention_policy_in_days      = local.premium ? var.untagged_retention_days : null
  tags                          = var.tags

  dynamic "georeplications" {
    for_each = local.premium ? var.georeplication_locations : []
    content {
      location                = georeplications.value
      zone_redundancy_enabled = true
      tags                    = var.tags
    }
  }
}

resource "azurerm_private_endpoint" "this" {
  count               = local.premium ? 1 : 0
  name                = "pe-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}"
    private_connection_resource_id = azurerm_container_registry.this.id
    subresource_names              = ["registry"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [var.private_dns_zone_id]
  }
}

resource "azurerm_role_assignment" "pull" {
  for_each                         = var.pull_principal_ids
  scope                            = azurerm_container_registry.this.id
  role_definition_name             = "AcrPull"
  principal_id                     = each.value
  skip_service_principal_aad_check = true
}

resource "azurerm_role_assignment" "push" {
  for_each                         = var.push_principal_ids
  scope                            = azurerm_container_registry.this.id
  role_definition_name             = "AcrPush"
  principal_id                     = each.value
  skip_service_principal_aad_check = true
}
