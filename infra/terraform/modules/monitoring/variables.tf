variable "name" {
  type        = string
  description = "Name prefix, e.g. gridos-prod; the workspace is log-<name>."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the Log Analytics workspace."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group of the workspace."
}

variable "retention_in_days" {
  type        = number
  description = "How long the workspace keeps logs (30-730 days)."
  default     = 30
  validation {
    condition     = var.retention_in_days >= 30 && var.retention_in_days <= 730
    error_message = "retention_in_days must be between 30 and 730."
  }
}

variable "daily_quota_gb" {
  type        = number
  description = "Daily ingestion cap in GB; -1 means no cap."
  default     = -1
  validation {
    condition     = var.daily_quota_gb == -1 || var.daily_quota_gb >= 0.023
    error_message = "daily_quota_gb must be -1 (no cap) or at least 0.023."
  }
}

variable "diagnostic_targets" {
  type        = map(string)
  description = "Resources whose diagnostic logs and metrics go to the workspace: a stable key per resource => its resource ID."
  default     = {}
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
