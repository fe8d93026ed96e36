output "github_ci_client_id" {
  description = "Client ID of the CI identity (AZURE_CLIENT_ID of the image-publishing workflow)."
  value       = azurerm_user_assigned_identity.github_ci.client_id
}

output "github_ci_principal_id" {
  description = "Principal ID of the CI identity (granted AcrPush)."
  value       = azurerm_user_assigned_identity.github_ci.principal_id
}

output "gridos_client_id" {
  description = "Client ID of the GridOS workload identity (azure.workload.identity/client-id of its service account)."
  value       = azurerm_user_assigned_identity.gridos.client_id
}

output "external_secrets_client_id" {
  description = "Client ID of the External Secrets workload identity (its service account annotation)."
  value       = azurerm_user_assigned_identity.external_secrets.client_id
}

output "oidc_client_id" {
  description = "Client ID of the GridOS app registration (GRIDOS_OIDC_CLIENT_ID, also in Key Vault as gridos-oidc-client-id)."
  value       = azuread_application.gridos.client_id
}

output "oidc_issuer" {
  description = "OIDC issuer people sign in with (GRIDOS_OIDC_ISSUER, also in Key Vault as gridos-oidc-issuer)."
  value       = local.oidc_issuer
}

output "gridos_principal_id" {
  description = "Principal ID of the GridOS workload identity (granted read access to the archive storage)."
  value       = azurerm_user_assigned_identity.gridos.principal_id
}
