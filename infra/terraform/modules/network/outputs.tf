output "vnet_id" {
  description = "ID of the virtual network."
  value       = azurerm_virtual_network.this.id
}

output "vnet_name" {
  description = "Name of the virtual network."
  value       = azurerm_virtual_network.this.name
}

output "subnet_ids" {
  description = "Subnet IDs by role: aks_nodes, agc, postgresql, private_endpoints."
  value       = { for key, subnet in azurerm_subnet.this : key => subnet.id }
  # The NSGs must be attached before anything is placed in the subnets.
  depends_on = [azurerm_subnet_network_security_group_association.this]
}

output "private_dns_zone_ids" {
  description = "Private DNS zone IDs by service: keyvault, acr, postgresql (each linked to the virtual network)."
  value       = { for key, zone in azurerm_private_dns_zone.this : key => zone.id }
  depends_on  = [azurerm_private_dns_zone_virtual_network_link.this]
}
