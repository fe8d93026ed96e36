# staging: production's shape at a smaller size, so that a change is rehearsed on the same topology:
# three zones, private cluster, Premium registry, zone-redundant PostgreSQL (geo backup off).
environment        = "staging"
location           = "westeurope"
global_name_suffix = "g7s"

address_space = ["10.20.0.0/16"]
subnet_cidrs = {
  aks_nodes         = "10.20.0.0/20"
  agc               = "10.20.16.0/24"
  postgresql        = "10.20.18.0/27"
  private_endpoints = "10.20.19.0/27"
}
zones = ["1", "2", "3"]

kubernetes_version          = "1.34"
aks_sku_tier                = "Standard"
aks_private_cluster_enabled = true
system_node_pool = {
  vm_size         = "Standard_D4ds_v5"
  min_count       = 3
  max_count       = 3
  os_disk_size_gb = 128
}
user_node_pool = {
  vm_size         = "Standard_D4ds_v5"
  min_count       = 3
  max_count       = 6
  os_disk_size_gb = 128
}

acr_sku = "Premium"

postgresql_sku_name                     = "GP_Standard_D2ds_v5"
postgresql_storage_mb                   = 65536
postgresql_backup_retention_days        = 14
postgresql_high_availability_enabled    = true
postgresql_geo_redundant_backup_enabled = false

host_names         = ["gridos.staging.example.com"]
certificate_issuer = "DigiCert"
waf_mode           = "Prevention"

log_retention_days   = 60
secret_rotation_days = 90
github_repository    = "gridos/gridos"
