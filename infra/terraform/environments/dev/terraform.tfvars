# dev: cheap. Free control plane, small burstable database without HA, Standard registry, one zone.
# Tenant-specific IDs and IP allow-lists come from the GitHub environment as TF_VAR_ variables.
environment        = "dev"
location           = "westeurope"
global_name_suffix = "g7d"

address_space = ["10.10.0.0/16"]
subnet_cidrs = {
  aks_nodes         = "10.10.0.0/20"
  agc               = "10.10.16.0/24"
  postgresql        = "10.10.18.0/27"
  private_endpoints = "10.10.19.0/27"
}
zones = ["1"]

kubernetes_version          = "1.34"
aks_sku_tier                = "Free"
aks_private_cluster_enabled = false
system_node_pool = {
  vm_size         = "Standard_D2ds_v5"
  min_count       = 1
  max_count       = 2
  os_disk_size_gb = 64
}
user_node_pool = {
  vm_size         = "Standard_D2ds_v5"
  min_count       = 1
  max_count       = 3
  os_disk_size_gb = 64
}

acr_sku = "Standard"

postgresql_sku_name                     = "B_Standard_B1ms"
postgresql_storage_mb                   = 32768
postgresql_backup_retention_days        = 7
postgresql_high_availability_enabled    = false
postgresql_geo_redundant_backup_enabled = false

agc_extra_frontends = ["fe-gridos-previews"]
host_names          = ["gridos.dev.example.com"]
certificate_issuer  = "Self"
waf_mode            = "Detection"

log_retention_days   = 30
secret_rotation_days = 90
github_repository    = "gridos/gridos"
