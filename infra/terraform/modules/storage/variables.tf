variable "name" {
  type        = string
  description = "Globally unique storage account name (3-24 lowercase letters and digits)."
  validation {
    condition     = can(regex("^[a-z0-9]{3,24}$", var.name))
    error_message = "name must be 3-24 lowercase letters or digits."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the account."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the account, its private endpoints, DNS zones and the archive identity."
}

variable "replication_type" {
  type        = string
  description = "Redundancy of the archive: years of regulated history, so zone- and geo-redundant (GZRS) by default; ZRS where data must stay in one region."
  default     = "GZRS"
  validation {
    condition     = contains(["LRS", "ZRS", "GRS", "GZRS", "RAGRS", "RAGZRS"], var.replication_type)
    error_message = "replication_type must be one of LRS, ZRS, GRS, GZRS, RAGRS, RAGZRS."
  }
}

variable "container_name" {
  type        = string
  description = "Container (ADLS Gen2 file system) of the archive."
  default     = "archive"
  validation {
    condition     = can(regex("^[a-z0-9](?:[a-z0-9]|-[a-z0-9]){2,62}$", var.container_name))
    error_message = "container_name must be 3-63 lowercase letters, digits and single hyphens."
  }
}

variable "archive_prefix" {
  type        = string
  description = "Folder inside the container where GridOS writes (the <prefix> of GRIDOS_ARCHIVE_LOCATION)."
  default     = "gridos"
  validation {
    condition     = can(regex("^[a-z0-9][a-z0-9/_-]*$", var.archive_prefix))
    error_message = "archive_prefix must be lowercase letters, digits, '/', '_' or '-'."
  }
}

variable "private_endpoint_subnet_id" {
  type        = string
  description = "Subnet of the blob and dfs private endpoints."
}

variable "virtual_network_id" {
  type        = string
  description = "VNet linked to the privatelink.blob and privatelink.dfs DNS zones created here."
}

variable "aks_oidc_issuer_url" {
  type        = string
  description = "OIDC issuer of the AKS cluster, trusted by the archive identity's federated credential."
  validation {
    condition     = startswith(var.aks_oidc_issuer_url, "https://")
    error_message = "aks_oidc_issuer_url must be an https URL."
  }
}

variable "archive_service_account" {
  type = object({
    namespace = string
    name      = string
  })
  description = "Kubernetes ServiceAccount of the archive CronJob (deploy/k8s/base/serviceaccount-archive.yaml)."
  default = {
    namespace = "gridos"
    name      = "gridos-archive"
  }
}

variable "reader_principal_ids" {
  type        = map(string)
  description = "Principals granted Storage Blob Data Reader on the archive: the GridOS API identity (cold queries), Synapse/Fabric/Databricks identities. Keys are stable labels."
  default     = {}
}

variable "soft_delete_retention_days" {
  type        = number
  description = "Days a deleted file or container stays recoverable."
  default     = 30
  validation {
    condition     = var.soft_delete_retention_days >= 7 && var.soft_delete_retention_days <= 365
    error_message = "soft_delete_retention_days must be 7-365."
  }
}

variable "cool_after_days" {
  type        = number
  description = "Days after writing at which a Parquet file moves to the cool tier (still online, cheaper storage, dearer reads)."
  default     = 90
  validation {
    condition     = var.cool_after_days >= 30
    error_message = "cool_after_days must be at least 30 (the cool tier's minimum retention)."
  }
}

variable "archive_after_days" {
  type        = number
  description = "Days after writing at which a file moves to the archive tier: offline, must be rehydrated before GridOS or Spark can read it (docs/runbooks/archive-restore.md)."
  default     = 730
}

variable "delete_after_days" {
  type        = number
  description = "Days after writing at which a file is deleted; 0 keeps files forever (GRIDOS_ARCHIVE_COLD_RETENTION_DAYS deletes through the catalog instead)."
  default     = 0
  validation {
    condition     = var.delete_after_days == 0 || var.delete_after_days >= 180
    error_message = "delete_after_days must be 0 (never) or at least 180 (the archive tier's minimum retention)."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
