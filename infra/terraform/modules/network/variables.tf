variable "name" {
  type        = string
  description = "Name prefix of every network resource, e.g. gridos-prod."
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,30}$", var.name))
    error_message = "name must be 3-31 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "location" {
  type        = string
  description = "Azure region of the virtual network."
}

variable "resource_group_name" {
  type        = string
  description = "Resource group that holds the network."
}

variable "address_space" {
  type        = list(string)
  description = "Address space of the virtual network (CIDR blocks)."
  validation {
    condition     = length(var.address_space) > 0 && alltrue([for cidr in var.address_space : can(cidrhost(cidr, 0))])
    error_message = "address_space must hold at least one valid CIDR block."
  }
}

variable "subnet_cidrs" {
  type = object({
    aks_nodes         = string
    agc               = string
    postgresql        = string
    private_endpoints = string
  })
  description = "CIDR of each subnet: AKS nodes, the Application Gateway for Containers association subnet, the PostgreSQL delegated subnet and private endpoints."
  validation {
    condition = alltrue([
      for cidr in values(var.subnet_cidrs) : can(cidrhost(cidr, 0))
    ])
    error_message = "Every subnet CIDR must be a valid CIDR block."
  }
  validation {
    condition     = tonumber(split("/", var.subnet_cidrs.agc)[1]) <= 24
    error_message = "Application Gateway for Containers needs a /24 or larger association subnet."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
