variable "name" {
  type        = string
  description = "Globally unique registry name (5-50 letters and digits)."
  validation {
    condition     = can(regex("^[a-zA-Z0-9]{5,50}$", var.name))
    error_message = "name must be 5-50 letters or digits."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the registry."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the registry."
}

variable "sku" {
  type        = string
  description = "Registry SKU: Standard or Premium. Premium (required in prod) brings private endpoints, zone redundancy, geo-replication and content trust."
  default     = "Premium"
  validation {
    condition     = contains(["Standard", "Premium"], var.sku)
    error_message = "sku must be Standard or Premium (Basic has no vulnerability scanning integration and too little throughput)."
  }
}

variable "georeplication_locations" {
  type        = list(string)
  description = "Extra regions the registry replicates to (Premium only)."
  default     = []
}

variable "untagged_retention_days" {
  type        = number
  description = "Days untagged manifests are kept before they are purged (Premium only)."
  default     = 7
  validation {
    condition     = var.untagged_retention_days >= 0 && var.untagged_retention_days <= 365
    error_message = "untagged_retention_days must be between 0 and 365."
  }
}

variable "private_endpoint_subnet_id" {
  type        = string
  description = "Subnet of the registry's private endpoint (used with the Premium SKU)."
}

variable "private_dns_zone_id" {
  type        = string
  description = "ID of the privatelink.azurecr.io private DNS zone."
}

variable "pull_principal_ids" {
  type        = map(string)
  description = "Principals granted AcrPull: a stable key => object ID (the AKS kubelet identity)."
  default     = {}
}

variable "push_principal_ids" {
  type        = map(string)
  description = "Principals granted AcrPush: a stable key => object ID (the GitHub CI identity)."
  default     = {}
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
