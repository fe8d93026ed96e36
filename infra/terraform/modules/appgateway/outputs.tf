output "application_gateway_id" {
  description = "Resource ID of the Application Gateway."
  value       = azurerm_application_gateway.this.id
}

output "public_ip_address" {
  description = "Public IP address the GridOS host names point to."
  value       = azurerm_public_ip.gateway.ip_address
}

output "waf_policy_id" {
  description = "Resource ID of the WAF policy."
  value       = azurerm_web_application_firewall_policy.this.id
}

output "certificate_secret_id" {
  description = "Versionless Key Vault secret ID of the gridos-tls certificate (also exported to the cluster by External Secrets)."
  value       = azurerm_key_vault_certificate.tls.versionless_secret_id
}
