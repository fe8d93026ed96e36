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

variable "github_oidc_subjects" {
  type        = map(string)
  description = "GitHub Actions OIDC subjects the CI identity trusts: a credential name => subject, e.g. main = repo:org/gridos:ref:refs/heads/main."
  validation {
    condition     = alltrue([for subject in values(var.github_oidc_subjects) : startswith(subject, "repo:")])
    error_message = "Every GitHub OIDC subject starts with repo:<owner>/<name>:."
  }
  validation {
    condition     = alltrue([for key in keys(var.github_oidc_subjects) : can(regex("^[a-zA-Z0-9][a-zA-Z0-9_-]{0,100}$", key))])
    error_message = "Credential names are letters, digits, hyphens and underscores."
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
