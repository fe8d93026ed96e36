output "server_id" {
  description = "Resource ID of the flexible server."
  value       = azurerm_postgresql_flexible_server.this.id
}

output "server_name" {
  description = "Name of the flexible server."
  value       = azurerm_postgresql_flexible_server.this.name
}

output "fqdn" {
  description = "Private FQDN of the server (resolves through the private DNS zone)."
  value       = azurerm_postgresql_flexible_server.this.fqdn
}

output "database_name" {
  description = "Name of the GridOS database."
  value       = azurerm_postgresql_flexible_server_database.gridos.name
}

output "administrator_password_secret_id" {
  description = "Versionless Key Vault ID of the administrator password secret."
  value       = azurerm_key_vault_secret.administrator_password.versionless_id
}

output "database_url_secret_id" {
  description = "Versionless Key Vault ID of the gridos-database-url secret (GRIDOS_DATABASE_URL)."
  value       = azurerm_key_vault_secret.database_url.versionless_id
}
