output "storage_account_id" {
  description = "Resource ID of the archive storage account."
  value       = azurerm_storage_account.this.id
}

output "storage_account_name" {
  description = "Name of the archive storage account."
  value       = azurerm_storage_account.this.name
}

output "archive_location" {
  description = "GRIDOS_ARCHIVE_LOCATION for GridOS and the archive CronJob (abfs://<container>@<account>.dfs.core.windows.net/<prefix>)."
  value       = "abfs://${azurerm_storage_container.archive.name}@${azurerm_storage_account.this.name}.dfs.core.windows.net/${local.gridos_prefix}"
}

output "spark_samples_path" {
  description = "Path Spark/Synapse read the samples from (abfss://, hive partitions day= and site=)."
  value       = "abfss://${azurerm_storage_container.archive.name}@${azurerm_storage_account.this.name}.dfs.core.windows.net/${local.gridos_prefix}/samples"
}

output "archive_client_id" {
  description = "Client ID of the archive identity (azure.workload.identity/client-id of ServiceAccount gridos-archive)."
  value       = azurerm_user_assigned_identity.archive.client_id
}
