variable "name" {
  type        = string
  description = "Name prefix, e.g. gridos-prod; the gateway is agw-<name>."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the gateway."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the gateway."
}

variable "subnet_id" {
  type        = string
  description = "Dedicated Application Gateway subnet (/26 or larger)."
}

variable "zones" {
  type        = list(string)
  description = "Availability zones of the gateway and its public IP."
  default     = ["1", "2", "3"]
  validation {
    condition     = alltrue([for zone in var.zones : contains(["1", "2", "3"], zone)])
    error_message = "zones may only hold 1, 2 and 3."
  }
}

variable "min_capacity" {
  type        = number
  description = "Autoscaling lower bound in capacity units (2 or more for zone redundancy)."
  default     = 2
  validation {
    condition     = var.min_capacity >= 0 && var.min_capacity <= 100
    error_message = "min_capacity must be between 0 and 100."
  }
}

variable "max_capacity" {
  type        = number
  description = "Autoscaling upper bound in capacity units."
  default     = 10
  validation {
    condition     = var.max_capacity >= 2 && var.max_capacity <= 125
    error_message = "max_capacity must be between 2 and 125."
  }
}

variable "host_names" {
  type        = list(string)
  description = "Public host names served over HTTPS, e.g. gridos.example.com; the first one names the TLS certificate's subject."
  validation {
    condition     = length(var.host_names) > 0 && alltrue([for host in var.host_names : can(regex("^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", host))])
    error_message = "host_names must hold at least one lowercase DNS name."
  }
}

variable "backend_ip_address" {
  type        = string
  description = "Static private IP of the ingress-nginx internal load balancer."
  validation {
    condition     = can(cidrhost("${var.backend_ip_address}/32", 0))
    error_message = "backend_ip_address must be an IPv4 address."
  }
}

variable "backend_https" {
  type        = bool
  description = "Re-encrypt to ingress-nginx over HTTPS (needs a certificate from a public CA, as in staging and prod); false forwards plain HTTP inside the virtual network (dev, self-signed certificate)."
  default     = true
}

variable "health_probe_path" {
  type        = string
  description = "GridOS path the gateway probes through the ingress."
  default     = "/health/live"
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
