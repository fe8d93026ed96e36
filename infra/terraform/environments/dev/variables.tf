variable "environment" {
  type        = string
  description = "Environment name; part of every resource name."
  validation {
    condition     = contains(["dev", "staging", "prod"], var.environment)
    error_message = "environment must be dev, staging or prod."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the environment (a region with three availability zones)."
}

variable "global_name_suffix" {
  type        = string
  description = "Short suffix that makes the globally unique names (Key Vault, registry, PostgreSQL) unique."
  validation {
    condition     = can(regex("^[a-z0-9]{2,6}$", var.global_name_suffix))
    error_message = "global_name_suffix must be 2-6 lowercase letters or digits."
  }
}

variable "address_space" {
  type        = list(string)
  description = "Address space of the environment's virtual network."
}

variable "subnet_cidrs" {
  type = object({
    aks_nodes         = string
    agc               = string
    postgresql        = string
    private_endpoints = string
  })
  description = "CIDR of each subnet (see modules/network)."
}

variable "zones" {
  type        = list(string)
  description = "Availability zones used by AKS node pools."
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of AKS, e.g. 1.34."
}

variable "aks_sku_tier" {
  type        = string
  description = "AKS control-plane tier: Free (dev) or Standard (uptime SLA)."
}

variable "aks_private_cluster_enabled" {
  type        = bool
  description = "Private API server (staging, prod)."
}

variable "aks_api_server_authorized_ip_ranges" {
  type        = list(string)
  description = "CIDRs allowed to a public API server (dev); set through TF_VAR_ from the GitHub environment."
  default     = []
}

variable "aks_admin_group_object_ids" {
  type        = list(string)
  description = "Entra ID groups with cluster-admin; set through TF_VAR_ from the GitHub environment (tenant-specific)."
}

variable "system_node_pool" {
  type = object({
    vm_size         = string
    min_count       = number
    max_count       = number
    os_disk_size_gb = number
  })
  description = "AKS system node pool size and autoscaler bounds."
}

variable "user_node_pool" {
  type = object({
    vm_size         = string
    min_count       = number
    max_count       = number
    os_disk_size_gb = number
  })
  description = "AKS user node pool size and autoscaler bounds."
}

variable "acr_sku" {
  type        = string
  description = "Container registry SKU (Premium in prod)."
}

variable "acr_georeplication_locations" {
  type        = list(string)
  description = "Regions the registry replicates to (Premium only)."
  default     = []
}

variable "postgresql_sku_name" {
  type        = string
  description = "PostgreSQL flexible server compute SKU."
}

variable "postgresql_storage_mb" {
  type        = number
  description = "PostgreSQL storage in MB."
}

variable "postgresql_backup_retention_days" {
  type        = number
  description = "PostgreSQL point-in-time restore window in days."
}

variable "postgresql_high_availability_enabled" {
  type        = bool
  description = "Zone-redundant PostgreSQL standby."
}

variable "postgresql_geo_redundant_backup_enabled" {
  type        = bool
  description = "Geo-redundant PostgreSQL backups."
}

variable "terraform_apply_principal_id" {
  type        = string
  description = "Object ID of the environment's Terraform apply identity (Key Vault data-plane writer); set through TF_VAR_ from the GitHub environment."
}

variable "key_vault_allowed_ip_ranges" {
  type        = list(string)
  description = "Static egress IPs of the CI runners that apply Terraform; set through TF_VAR_ from the GitHub environment."
  default     = []
}

variable "host_names" {
  type        = list(string)
  description = "Public host names of GridOS served by the Gateway (CNAME to the AGC frontend FQDN)."
}

variable "agc_extra_frontends" {
  type        = list(string)
  description = "AGC frontends besides fe-gridos-<environment>, e.g. fe-gridos-previews for the pull-request previews in dev."
  default     = []
}

variable "certificate_issuer" {
  type        = string
  description = "Key Vault certificate issuer of gridos-tls: Self or a configured public-CA issuer."
}

variable "waf_mode" {
  type        = string
  description = "WAF mode: Prevention or Detection."
}

variable "log_retention_days" {
  type        = number
  description = "Log Analytics retention in days."
}

variable "secret_rotation_days" {
  type        = number
  description = "Days after which terraform apply regenerates generated passwords and tokens."
}

variable "github_repository" {
  type        = string
  description = "GitHub repository (owner/name) whose workflows may publish images as the CI identity."
  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository must be owner/name."
  }
}

variable "tags" {
  type        = map(string)
  description = "Extra tags on every resource (environment, service and managed-by are always set)."
  default     = {}
}

variable "archive_replication_type" {
  type        = string
  description = "Redundancy of the historian's cold tier (modules/storage): GZRS by default; ZRS where data must stay in one region."
  default     = "GZRS"
}

variable "archive_reader_principal_ids" {
  type        = map(string)
  description = "Extra principals (Synapse, Fabric, Databricks) granted read access to the archive; the GridOS API identity always is."
  default     = {}
}
