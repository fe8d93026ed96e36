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

output "ingress_private_ip" {
  description = "loadBalancerIP of the ingress-nginx controller service."
  value       = module.network.ingress_private_ip
}

output "ingress_subnet_name" {
  description = "Value of the ingress-nginx service annotation service.beta.kubernetes.io/azure-load-balancer-internal-subnet."
  value       = module.network.ingress_subnet_name
}

output "public_ip_address" {
  description = "Public IP of Application Gateway (DNS A records of host_names)."
  value       = module.appgateway.public_ip_address
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

output "archive_location" {
  description = "GRIDOS_ARCHIVE_LOCATION of the archive CronJob and the API pods."
  value       = module.storage.archive_location
}

output "archive_client_id" {
  description = "Client ID for the annotation of ServiceAccount gridos-archive."
  value       = module.storage.archive_client_id
}
