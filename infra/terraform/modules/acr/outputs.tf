output "registry_id" {
  description = "Resource ID of the registry."
  value       = azurerm_container_registry.this.id
}

output "registry_name" {
  description = "Name of the registry."
  value       = azurerm_container_registry.this.name
}

output "login_server" {
  description = "Login server, e.g. crgridosprod.azurecr.io (the image prefix of the Kubernetes overlays)."
  value       = azurerm_container_registry.this.login_server
}
