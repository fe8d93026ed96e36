# PostgreSQL Flexible Server with private access (delegated subnet + private DNS), zone-redundant HA and
# geo-redundant backups where the environment asks for them. The administrator password is generated here
# and written straight into Key Vault, together with the GRIDOS_DATABASE_URL that External Secrets syncs.

resource "time_rotating" "password" {
  rotation_days = var.password_rotation_days
}

resource "random_password" "administrator" {
  length           = 40
  special          = true
  override_special = "-_"
  min_lower        = 4
  min_upper        = 4
  min_numeric      = 4
  keepers = {
    rotation = time_rotating.password.id
  }
}

resource "azurerm_postgresql_flexible_server" "this" {
  #checkov:skip=CKV2_AZURE_57:Private access is VNet integration (delegated subnet, private DNS zone, public_network_access_enabled = false); Azure offers private endpoints only to servers created with public access, so both cannot be combined (ADR 0022).
  #checkov:skip=CKV_AZURE_136:Geo-redundant backup is a per-environment variable: on in prod, off in dev and staging where a regional outage may lose the restore window.
  name                          = "psql-${var.name}"
  location                      = var.location
  resource_group_name           = var.resource_group_name
  version                       = var.postgresql_version
  sku_name                      = var.sku_name
  storage_mb                    = var.storage_mb
  auto_grow_enabled             = true
  zone                          = var.zone
  delegated_subnet_id           = var.delegated_subnet_id
  private_dns_zone_id           = var.private_dns_zone_id
  public_network_access_enabled = false
  backup_retention_days         = var.backup_retention_days
  geo_redundant_backup_enabled  = var.geo_redundant_backup_enabled
  administrator_login           = var.administrator_login
  administrator_password        = random_password.administrator.result
  tags                          = var.tags

  authentication {
    password_auth_enabled         = true
    active_directory_auth_enabled = false
  }

  dynamic "high_availability" {
    for_each = var.high_availability_enabled ? [1] : []
    content {
      mode                      = "ZoneRedundant"
      standby_availability_zone = var.standby_zone
    }
  }

  maintenance_window {
    day_of_week  = 0
    start_hour   = 2
    start_minute = 0
  }

  lifecycle {
    # A failover swaps primary and standby zones; Terraform must not try to swap them back.
    ignore_changes = [zone, high_availability[0].standby_availability_zone]

    precondition {
      condition     = !var.high_availability_enabled || var.zone != var.standby_zone
      error_message = "The zone-redundant standby must live in another zone than the primary."
    }
    precondition {
      condition     = !var.high_availability_enabled || !startswith(var.sku_name, "B_")
      error_message = "High availability is not available on Burstable SKUs."
    }
  }
}

resource "azurerm_postgresql_flexible_server_database" "gridos" {
  name      = var.database_name
  server_id = azurerm_postgresql_flexible_server.this.id
  charset   = "UTF8"
  collation = "en_US.utf8"
}

# Server parameters, one at a time: the service rejects concurrent configuration updates (ServerIsBusy).
resource "azurerm_postgresql_flexible_server_configuration" "require_secure_transport" {
  name      = "require_secure_transport"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"
}

resource "azurerm_postgresql_flexible_server_configuration" "log_connections" {
  name      = "log_connections"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"

  depends_on = [azurerm_postgresql_flexible_server_configuration.require_secure_transport]
}

resource "azurerm_postgresql_flexible_server_configuration" "log_disconnections" {
  name      = "log_disconnections"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"

  depends_on = [azurerm_postgresql_flexible_server_configuration.log_connections]
}

resource "azurerm_postgresql_flexible_server_configuration" "log_checkpoints" {
  name      = "log_checkpoints"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"

  depends_on = [azurerm_postgresql_flexible_server_configuration.log_disconnections]
}

resource "azurerm_postgresql_flexible_server_configuration" "connection_throttle" {
  name      = "connection_throttle.enable"
  server_id = azurerm_postgresql_flexible_server.this.id
  value     = "on"

  depends_on = [azurerm_postgresql_flexible_server_configuration.log_checkpoints]
}

resource "azurerm_key_vault_secret" "administrator_password" {
  name            = "postgresql-administrator-password"
  key_vault_id    = var.key_vault_id
  content_type    = "text/plain"
  expiration_date = timeadd(time_rotating.password.rotation_rfc3339, "720h")
  value           = random_password.administrator.result
}

resource "azurerm_key_vault_secret" "database_url" {
  name            = "gridos-database-url"
  key_vault_id    = var.key_vault_id
  content_type    = "text/plain; format=sqlalchemy-url"
  expiration_date = timeadd(time_rotating.password.rotation_rfc3339, "720h")
  value           = "postgresql+psycopg://${var.administrator_login}:${random_password.administrator.result}@${azurerm_postgresql_flexible_server.this.fqdn}:5432/${var.database_name}?sslmode=require"
}
