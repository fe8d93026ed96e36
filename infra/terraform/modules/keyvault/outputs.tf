output "key_vault_id" {
  description = "Resource ID of the Key Vault (available once Terraform holds its data-plane roles)."
  value       = azurerm_key_vault.this.id
  depends_on = [
    azurerm_role_assignment.deployer_secrets,
    azurerm_role_assignment.deployer_certificates,
    azurerm_private_endpoint.this,
  ]
}

output "key_vault_name" {
  description = "Name of the Key Vault."
  value       = azurerm_key_vault.this.name
}

output "key_vault_uri" {
  description = "Vault URI, e.g. for the External Secrets ClusterSecretStore."
  value       = azurerm_key_vault.this.vault_uri
}

output "api_tokens_secret_id" {
  description = "Versionless ID of the gridos-api-tokens secret."
  value       = azurerm_key_vault_secret.api_tokens.versionless_id
}
