output "agc_id" {
  description = "Resource ID of the AGC (Gateway annotation alb.networking.azure.io/alb-id)."
  value       = azurerm_application_load_balancer.this.id
}

output "frontend_fqdns" {
  description = "FQDN of each frontend by name: the CNAME target of the host names its Gateway serves."
  value       = { for name, frontend in azurerm_application_load_balancer_frontend.this : name => frontend.fully_qualified_domain_name }
}

output "waf_policy_id" {
  description = "Resource ID of the WAF policy (WebApplicationFirewallPolicy spec.webApplicationFirewall.id)."
  value       = azurerm_web_application_firewall_policy.this.id
}

output "alb_controller_client_id" {
  description = "Client ID of the ALB controller identity (chart value albController.podIdentity.clientID)."
  value       = azurerm_user_assigned_identity.alb_controller.client_id
}

output "certificate_secret_id" {
  description = "Versionless Key Vault secret ID of the gridos-tls certificate (exported to the cluster by External Secrets)."
  value       = azurerm_key_vault_certificate.tls.versionless_secret_id
}
