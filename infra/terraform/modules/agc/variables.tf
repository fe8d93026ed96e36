variable "name" {
  type        = string
  description = "Name prefix, e.g. gridos-prod; the AGC is agc-<name>, the WAF policy waf-<name>."

  validation {
    condition     = can(regex("^[a-z0-9-]{3,40}$", var.name))
    error_message = "name must be 3-40 lowercase letters, digits or hyphens."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the AGC (one where Application Gateway for Containers is available)."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the AGC, its WAF policy and the ALB controller identity."
}

variable "subnet_id" {
  type        = string
  description = "Subnet delegated to Microsoft.ServiceNetworking/trafficControllers (/24 or larger) that the AGC associates with."
}

variable "frontend_names" {
  type        = list(string)
  description = "AGC frontends, one per Gateway (the Gateway's address of type alb.networking.azure.io/alb-frontend)."

  validation {
    condition     = length(var.frontend_names) >= 1 && length(var.frontend_names) <= 5
    error_message = "an AGC has 1 to 5 frontends."
  }
}

variable "aks_oidc_issuer_url" {
  type        = string
  description = "OIDC issuer of the AKS cluster the ALB controller runs in (federated identity)."
}

variable "host_names" {
  type        = list(string)
  description = "Public host names served over HTTPS, e.g. gridos.example.com; the first one names the TLS certificate's subject."

  validation {
    condition     = length(var.host_names) > 0
    error_message = "at least one host name is required."
  }
}

variable "key_vault_id" {
  type        = string
  description = "Key Vault that holds the gridos-tls certificate."
}

variable "certificate_issuer" {
  type        = string
  description = "Key Vault certificate issuer: Self (dev) or the name of an issuer configured in the vault for a public CA (staging, prod)."
  default     = "Self"
}

variable "waf_mode" {
  type        = string
  description = "WAF mode: Prevention blocks, Detection only logs."
  default     = "Prevention"

  validation {
    condition     = contains(["Prevention", "Detection"], var.waf_mode)
    error_message = "waf_mode must be Prevention or Detection."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
