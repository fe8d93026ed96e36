output "resource_group_name" {
  description = "Resource group of the environment."
  value       = azurerm_resource_group.this.name
}

output "aks_cluster_name" {
  description = "AKS cluster name (az aks get-credentials)."
  value       = module.aks.cluster_name
}

output "aks_oidc_issuer_url" {
  description = "OIDC issuer of the cluster."
  value       = module.aks.oidc_issuer_url
}

output "acr_login_server" {
  description = "Registry login server: the image prefix of the Kubernetes overlay."
  value       = module.acr.login_server
}

output "key_vault_uri" {
  description = "Key Vault URI for the External Secrets ClusterSecretStore azure-keyvault."
  value       = module.keyvault.key_vault_uri
}

output "postgresql_fqdn" {
  description = "Private FQDN of PostgreSQL."
  value       = module.postgresql.fqdn
}

output "database_url_secret_id" {
  description = "Key Vault secret holding GRIDOS_DATABASE_URL."
  value       = module.postgresql.database_url_secret_id
}

output "agc_id" {
  description = "Gateway annotation alb.networking.azure.io/alb-id (deploy/k8s/overlays/<env>/gateway-patch.yaml)."
  value       = module.agc.agc_id
}

output "agc_frontend_fqdns" {
  description = "FQDN of each AGC frontend by name (DNS CNAME target of host_names); the name is the Gateway's alb-frontend address."
  value       = module.agc.frontend_fqdns
}

output "waf_policy_id" {
  description = "spec.webApplicationFirewall.id of the WebApplicationFirewallPolicy objects."
  value       = module.agc.waf_policy_id
}

output "alb_controller_client_id" {
  description = "albController.podIdentity.clientID (deploy/argocd/values/alb-controller-<env>.yaml)."
  value       = module.agc.alb_controller_client_id
}

output "gridos_client_id" {
  description = "azure.workload.identity/client-id of the gridos service account."
  value       = module.identity.gridos_client_id
}

output "external_secrets_client_id" {
  description = "azure.workload.identity/client-id of the external-secrets service account."
  value       = module.identity.external_secrets_client_id
}

output "github_ci_client_id" {
  description = "AZURE_CLIENT_ID of the image-publishing workflow."
  value       = module.identity.github_ci_client_id
}

output "tenant_id" {
  description = "Entra ID tenant (azure.workload.identity/tenant-id)."
  value       = data.azurerm_client_config.current.tenant_id
}

output "oidc_client_id" {
  description = "Client ID of the GridOS app registration people sign in to (GRIDOS_OIDC_CLIENT_ID)."
  value       = module.identity.oidc_client_id
}

output "archive_location" {
  description = "GRIDOS_ARCHIVE_LOCATION of the archive CronJob and the API pods."
  value       = module.storage.archive_location
}

output "archive_client_id" {
  description = "Client ID for the annotation of ServiceAccount gridos-archive."
  value       = module.storage.archive_client_id
}
