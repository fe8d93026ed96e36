# prod: HA everywhere. Three zones, private cluster with the uptime SLA, Premium geo-replicated registry,
# zone-redundant PostgreSQL with geo-redundant backups and 35 days of point-in-time restore, WAF blocking.
environment        = "prod"
location           = "westeurope"
global_name_suffix = "g7p"

address_space = ["10.30.0.0/16"]
subnet_cidrs = {
  aks_nodes         = "10.30.0.0/20"
  agc               = "10.30.16.0/24"
  postgresql        = "10.30.18.0/27"
  private_endpoints = "10.30.19.0/27"
}
zones = ["1", "2", "3"]

kubernetes_version          = "1.34"
aks_sku_tier                = "Standard"
aks_private_cluster_enabled = true
system_node_pool = {
  vm_size         = "Standard_D4ds_v5"
  min_count       = 3
  max_count       = 5
  os_disk_size_gb = 128
}
user_node_pool = {
  vm_size         = "Standard_D8ds_v5"
  min_count       = 3
  max_count       = 12
  os_disk_size_gb = 128
}

acr_sku                      = "Premium"
acr_georeplication_locations = ["northeurope"]

postgresql_sku_name                     = "GP_Standard_D4ds_v5"
postgresql_storage_mb                   = 262144
postgresql_backup_retention_days        = 35
postgresql_high_availability_enabled    = true
postgresql_geo_redundant_backup_enabled = true

host_names         = ["gridos.example.com"]
certificate_issuer = "DigiCert"
waf_mode           = "Prevention"

log_retention_days   = 90
secret_rotation_days = 90
github_repository    = "gridos/gridos"
