output "workspace_id" {
  description = "Resource ID of the Log Analytics workspace."
  value       = azurerm_log_analytics_workspace.this.id
}

output "workspace_name" {
  description = "Name of the Log Analytics workspace."
  value       = azurerm_log_analytics_workspace.this.name
}

output "workspace_customer_id" {
  description = "Workspace (customer) ID used by queries and agents."
  value       = azurerm_log_analytics_workspace.this.workspace_id
}

output "diagnostic_setting_ids" {
  description = "Diagnostic setting IDs by target key."
  value       = { for key, setting in azurerm_monitor_diagnostic_setting.this : key => setting.id }
}
