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
    ingress           = string
    appgateway        = string
    postgresql        = string
    private_endpoints = string
  })
  description = "CIDR of each subnet: AKS nodes, the ingress-nginx internal load balancer, Application Gateway, the PostgreSQL delegated subnet and private endpoints."
  validation {
    condition = alltrue([
      for cidr in values(var.subnet_cidrs) : can(cidrhost(cidr, 0))
    ])
    error_message = "Every subnet CIDR must be a valid CIDR block."
  }
  validation {
    condition     = tonumber(split("/", var.subnet_cidrs.appgateway)[1]) <= 26
    error_message = "Application Gateway v2 needs a /26 or larger subnet."
  }
}

variable "ingress_private_ip_offset" {
  type        = number
  description = "Host number, inside the ingress subnet, of the static private IP of the ingress-nginx internal load balancer."
  default     = 10
  validation {
    condition     = var.ingress_private_ip_offset >= 4 && var.ingress_private_ip_offset <= 250
    error_message = "Azure reserves the first four addresses of a subnet: use 4-250."
  }
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource."
  default     = {}
}
