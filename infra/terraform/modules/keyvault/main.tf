# Key Vault in RBAC mode with soft delete and purge protection, reachable from workloads through a private
# endpoint. The apply identity of Terraform gets the data-plane roles it needs to write generated secrets.

resource "azurerm_key_vault" "this" {
  #checkov:skip=CKV_AZURE_189:Public network access stays on only so the CI runners' static egress IPs (allowed_ip_ranges) can write generated secrets during terraform apply; the firewall denies everything else and workloads use the private endpoint (ADR 0023).
  name                          = var.name
  location                      = var.location
  resource_group_name           = var.resource_group_name
  tenant_id                     = var.tenant_id
  sku_name                      = var.sku_name
  rbac_authorization_enabled    = true
  soft_delete_retention_days    = var.soft_delete_retention_days
  purge_protection_enabled      = true
  public_network_access_enabled = true
  tags                          = var.tags

  network_acls {
    default_action = "Deny"
    bypass         = "AzureServices"
    ip_rules       = var.allowed_ip_ranges
  }
}

resource "azurerm_private_endpoint" "this" {
  name                = "pe-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  subnet_id           = var.private_endpoint_subnet_id
  tags                = var.tags

  private_service_connection {
    name                           = "psc-${var.name}"
    private_connection_resource_id = azurerm_key_vault.this.id
    subresource_names              = ["vault"]
    is_manual_connection           = false
  }

  private_dns_zone_group {
    name                 = "default"
    private_dns_zone_ids = [var.private_dns_zone_id]
  }
}

# Terraform writes generated secrets (passwords, tokens) and creates the TLS certificate. The principal is
# an input, not the caller: plans run as a read-only identity and must not propose to move these roles.
resource "azurerm_role_assignment" "deployer_secrets" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Secrets Officer"
  principal_id         = var.deployer_principal_id
}

resource "azurerm_role_assignment" "deployer_certificates" {
  scope                = azurerm_key_vault.this.id
  role_definition_name = "Key Vault Certificates Officer"
  principal_id         = var.deployer_principal_id
}

# GridOS API tokens: generated here, stored only in Key Vault, read by External Secrets.
resource "time_rotating" "secrets" {
  rotation_days = var.secret_rotation_days
}

resource "random_password" "api_token" {
  for_each = toset(var.gridos_api_token_roles)
  length   = 48
  special  = false
  keepers = {
    rotation = time_rotating.secrets.id
  }
}

resource "azurerm_key_vault_secret" "api_tokens" {
  name            = "gridos-api-tokens"
  key_vault_id    = azurerm_key_vault.this.id
  content_type    = "text/plain; format=role:token,..."
  expiration_date = timeadd(time_rotating.secrets.rotation_rfc3339, "720h")
  value           = join(",", [for role in sort(var.gridos_api_token_roles) : "${role}:${random_password.api_token[role].result}"])

  depends_on = [azurerm_role_assignment.deployer_secrets]
}
