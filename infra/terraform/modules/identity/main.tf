# Identities without secrets: GitHub Actions federates into the CI identity (pushes images); GridOS and the
# External Secrets Operator federate their Kubernetes service accounts through the cluster's OIDC issuer.

locals {
  github_issuer = "https://token.actions.githubusercontent.com"
  audience      = ["api://AzureADTokenExchange"]
}

resource "azurerm_user_assigned_identity" "github_ci" {
  name                = "id-${var.name}-github-ci"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "github_main" {
  name                = "github-main"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.github_ci.id
  issuer              = local.github_issuer
  subject             = "repo:${var.github_repository}:ref:refs/heads/main"
  audience            = local.audience
}

# Azure rejects concurrent writes of federated credentials under one identity: one after the other.
resource "azurerm_federated_identity_credential" "github_environment" {
  name                = "github-environment-${var.github_environment}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.github_ci.id
  issuer              = local.github_issuer
  subject             = "repo:${var.github_repository}:environment:${var.github_environment}"
  audience            = local.audience

  depends_on = [azurerm_federated_identity_credential.github_main]
}

resource "azurerm_user_assigned_identity" "gridos" {
  name                = "id-${var.name}-gridos"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "gridos" {
  name                = "aks-${var.gridos_service_account.namespace}-${var.gridos_service_account.name}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.gridos.id
  issuer              = var.aks_oidc_issuer_url
  subject             = "system:serviceaccount:${var.gridos_service_account.namespace}:${var.gridos_service_account.name}"
  audience            = local.audience
}

resource "azurerm_user_assigned_identity" "external_secrets" {
  name                = "id-${var.name}-external-secrets"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "external_secrets" {
  name                = "aks-${var.external_secrets_service_account.namespace}-${var.external_secrets_service_account.name}"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.external_secrets.id
  issuer              = var.aks_oidc_issuer_url
  subject             = "system:serviceaccount:${var.external_secrets_service_account.namespace}:${var.external_secrets_service_account.name}"
  audience            = local.audience
}

# External Secrets reads secret values and certificates (exported as secrets); it cannot write them.
resource "azurerm_role_assignment" "external_secrets_reader" {
  scope                = var.key_vault_id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.external_secrets.principal_id
}
