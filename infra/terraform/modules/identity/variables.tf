variable "name" {
  type        = string
  description = "Name prefix, e.g. gridos-prod; identities are id-<name>-<purpose>."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the identities."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the identities."
}

variable "github_repository" {
  type        = string
  description = "GitHub repository (owner/name) whose workflows may sign in as the CI identity: pushes to main and jobs of the environment named by github_environment."
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}

variable "github_environment" {
  type        = string
  description = "GitHub environment whose jobs may sign in as the CI identity (subject repo:<owner>/<name>:environment:<github_environment>)."
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+$", var.github_environment))
    error_message = "github_environment must be a GitHub environment name."
  }
}

variable "aks_oidc_issuer_url" {
  type        = string
  description = "OIDC issuer URL of the AKS cluster, trusted by the workload identities."
}

variable "gridos_service_account" {
  type = object({
    namespace = string
    name      = string
  })
  description = "Kubernetes service account of GridOS (deploy/k8s/base/serviceaccount.yaml)."
  default = {
    namespace = "gridos"
    name      = "gridos"
  }
}

variable "external_secrets_service_account" {
  type = object({
    namespace = string
    name      = string
  })
  description = "Kubernetes service account of the External Secrets Operator controller."
  default = {
    namespace = "external-secrets"
    name      = "external-secrets"
  }
}

variable "key_vault_id" {
  type        = string
  description = "Key Vault External Secrets reads (Key Vault Secrets User)."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}

variable "oidc_redirect_uris" {
  type        = list(string)
  description = "Redirect URIs of the GridOS app registration: https://<host>/auth/callback (sign-in) and https://<host>/ (where the console returns after sign-out, post_logout_redirect_uri) for each public host name."
  validation {
    condition     = anytrue([for uri in var.oidc_redirect_uris : can(regex("/auth/callback$", uri))]) && alltrue([for uri in var.oidc_redirect_uris : can(regex("^https://[a-z0-9.-]+(:[0-9]+)?(/auth/callback|/)$", uri))])
    error_message = "oidc_redirect_uris must hold at least one https://<host>/auth/callback URI, and otherwise only https://<host>/ URIs."
  }
}

variable "oidc_logout_url" {
  type        = string
  description = "Front-channel logout URL of the GridOS app registration (https://<host>/), or null."
  default     = null
}
