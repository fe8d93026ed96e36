variable "name" {
  type        = string
  description = "Name prefix, e.g. gridos-prod; the cluster is aks-<name>."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the cluster."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the cluster (the node resource group is derived by AKS)."
}

variable "kubernetes_version" {
  type        = string
  description = "Kubernetes minor version of the control plane and node pools, e.g. 1.34 (patches follow the automatic upgrade channel)."
  validation {
    condition     = can(regex("^1\\.[0-9]{2}$", var.kubernetes_version))
    error_message = "kubernetes_version must be a minor version such as 1.34."
  }
}

variable "sku_tier" {
  type        = string
  description = "Control-plane tier: Free (dev only, no uptime SLA) or Standard (uptime SLA)."
  default     = "Standard"
  validation {
    condition     = contains(["Free", "Standard", "Premium"], var.sku_tier)
    error_message = "sku_tier must be Free, Standard or Premium."
  }
}

variable "zones" {
  type        = list(string)
  description = "Availability zones every node pool spreads across."
  default     = ["1", "2", "3"]
  validation {
    condition     = length(var.zones) > 0 && alltrue([for zone in var.zones : contains(["1", "2", "3"], zone)])
    error_message = "zones must hold one or more of 1, 2, 3."
  }
}

variable "system_node_pool" {
  type = object({
    vm_size         = string
    min_count       = number
    max_count       = number
    os_disk_size_gb = number
  })
  description = "System node pool (critical add-ons only): VM size, autoscaler bounds and the ephemeral OS disk size (must fit the VM's cache or temp disk)."
  validation {
    condition     = var.system_node_pool.min_count >= 1 && var.system_node_pool.max_count >= var.system_node_pool.min_count
    error_message = "system_node_pool needs min_count >= 1 and max_count >= min_count."
  }
}

variable "user_node_pool" {
  type = object({
    vm_size         = string
    min_count       = number
    max_count       = number
    os_disk_size_gb = number
  })
  description = "User node pool (GridOS workloads): VM size, autoscaler bounds and the ephemeral OS disk size."
  validation {
    condition     = var.user_node_pool.min_count >= 0 && var.user_node_pool.max_count >= max(var.user_node_pool.min_count, 1)
    error_message = "user_node_pool needs min_count >= 0 and max_count >= max(min_count, 1)."
  }
}

variable "node_subnet_id" {
  type        = string
  description = "Subnet of the nodes (Azure CNI overlay: pods get addresses from pod_cidr, not from this subnet)."
}

variable "pod_cidr" {
  type        = string
  description = "Overlay address range of the pods (must not overlap the virtual network)."
  default     = "10.244.0.0/16"
  validation {
    condition     = can(cidrhost(var.pod_cidr, 0))
    error_message = "pod_cidr must be a CIDR block."
  }
}

variable "service_cidr" {
  type        = string
  description = "Address range of Kubernetes services (must not overlap the virtual network)."
  default     = "10.245.0.0/16"
  validation {
    condition     = can(cidrhost(var.service_cidr, 0))
    error_message = "service_cidr must be a CIDR block."
  }
}

variable "private_cluster_enabled" {
  type        = bool
  description = "Serve the API server on a private endpoint only (staging, prod). Dev keeps a public endpoint limited to api_server_authorized_ip_ranges."
  default     = true
}

variable "api_server_authorized_ip_ranges" {
  type        = list(string)
  description = "CIDRs allowed to reach a public API server (ignored for a private cluster)."
  default     = []
}

variable "tenant_id" {
  type        = string
  description = "Entra ID tenant of the cluster's Kubernetes RBAC."
}

variable "admin_group_object_ids" {
  type        = list(string)
  description = "Entra ID groups with cluster-admin; local accounts are disabled, so this is the break-glass path."
  validation {
    condition     = length(var.admin_group_object_ids) > 0
    error_message = "At least one admin group is required: local accounts are disabled."
  }
}

variable "log_analytics_workspace_id" {
  type        = string
  description = "Log Analytics workspace of Container Insights (oms_agent) and Defender."
}

variable "automatic_upgrade_channel" {
  type        = string
  description = "Cluster auto-upgrade channel."
  default     = "patch"
  validation {
    condition     = contains(["patch", "stable", "rapid", "node-image"], var.automatic_upgrade_channel)
    error_message = "automatic_upgrade_channel must be patch, stable, rapid or node-image."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
