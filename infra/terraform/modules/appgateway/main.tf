# Application Gateway WAF_v2 in front of ingress-nginx: terminates TLS with the gridos-tls Key Vault
# certificate, applies the OWASP managed rules, forwards to the ingress-nginx internal load balancer, which
# does the weighted canary routing for Argo Rollouts (ADR 0001, ADR 0025).

locals {
  backend_port     = var.backend_https ? 443 : 80
  backend_protocol = var.backend_https ? "Https" : "Http"
  frontend_ip      = "public"
  https_port       = "https"
  listener         = "https"
  backend_pool     = "ingress-nginx"
  backend_settings = "ingress-nginx"
  probe            = "gridos-live"
  certificate      = "gridos-tls"
}

resource "azurerm_user_assigned_identity" "gateway" {
  name                = "id-agw-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

# The gateway reads its certificate (a Key Vault secret) with its own identity.
resource "azurerm_role_assignment" "gateway_certificate" {
  scope                = var.key_vault_id
  role_definition_name = "Key Vault Secrets User"
  principal_id         = azurerm_user_assigned_identity.gateway.principal_id
}

resource "azurerm_key_vault_certificate" "tls" {
  name         = local.certificate
  key_vault_id = var.key_vault_id

  certificate_policy {
    issuer_parameters {
      name = var.certificate_issuer
    }

    key_properties {
      exportable = true
      key_type   = "RSA"
      key_size   = 2048
      reuse_key  = false
    }

    lifetime_action {
      action {
        action_type = "AutoRenew"
      }
      trigger {
        days_before_expiry = 30
      }
    }

    secret_properties {
      content_type = "application/x-pkcs12"
    }

    x509_certificate_properties {
      subject            = "CN=${var.host_names[0]}"
      validity_in_months = 12
      key_usage          = ["digitalSignature", "keyEncipherment"]
      extended_key_usage = ["1.3.6.1.5.5.7.3.1"]

      subject_alternative_names {
        dns_names = var.host_names
      }
    }
  }
}

resource "azurerm_public_ip" "gateway" {
  name                = "pip-agw-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  allocation_method   = "Static"
  sku                 = "Standard"
  zones               = var.zones
  tags                = var.tags
}

resource "azurerm_web_application_firewall_policy" "this" {
  name                = "waf-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags

  policy_settings {
    enabled                     = true
    mode                        = var.waf_mode
    request_body_check          = true
    max_request_body_size_in_kb = 2000
    file_upload_limit_in_mb     = 100
  }

  managed_rules {
    managed_rule_set {
      type    = "OWASP"
      version = "3.2"
    }
    managed_rule_set {
      type    = "Microsoft_BotManagerRuleSet"
      version = "1.0"
    }
  }
}

resource "azurerm_application_gateway" "this" {
  name                              = "agw-${var.name}"
  location                          = var.location
  resource_group_name               = var.resource_group_name
  zones                             = var.zones
  firewall_policy_id                = azurerm_web_application_firewall_policy.this.id
  force_firewall_policy_association = true
  tags                              = var.tags

  sku {
    name = "WAF_v2"
    tier = "WAF_v2"
  }

  autoscale_configuration {
    min_capacity = var.min_capacity
    max_capacity = var.max_capacity
  }

  identity {
    type         = "UserAssigned"
    identity_ids = [azurerm_user_assigned_identity.gateway.id]
  }

  gateway_ip_configuration {
    name      = "gateway"
    subnet_id = var.subnet_id
  }

  frontend_ip_configuration {
    name                 = local.frontend_ip
    public_ip_address_id = azurerm_public_ip.gateway.id
  }

  frontend_port {
    name = local.https_port
    port = 443
  }

  ssl_policy {
    policy_type = "Predefined"
    policy_name = "AppGwSslPolicy20220101S"
  }

  ssl_certificate {
    name                = local.certificate
    key_vault_secret_id = azurerm_key_vault_certificate.tls.versionless_secret_id
  }

  http_listener {
    name                           = local.listener
    frontend_ip_configuration_name = local.frontend_ip
    frontend_port_name             = local.https_port
    protocol                       = "Https"
    ssl_certificate_name           = local.certificate
    host_names                     = var.host_names
    require_sni                    = true
  }

  backend_address_pool {
    name         = local.backend_pool
    ip_addresses = [var.backend_ip_address]
  }

  probe {
    name                                      = local.probe
    protocol                                  = local.backend_protocol
    path                                      = var.health_probe_path
    interval                                  = 10
    timeout                                   = 5
    unhealthy_threshold                       = 3
    pick_host_name_from_backend_http_settings = true

    match {
      status_code = ["200"]
    }
  }

  backend_http_settings {
    name                                = local.backend_settings
    cookie_based_affinity               = "Disabled"
    port                                = local.backend_port
    protocol                            = local.backend_protocol
    request_timeout                     = 30
    probe_name                          = local.probe
    pick_host_name_from_backend_address = false
    host_name                           = var.host_names[0]
  }

  request_routing_rule {
    name                       = "gridos"
    priority                   = 100
    rule_type                  = "Basic"
    http_listener_name         = local.listener
    backend_address_pool_name  = local.backend_pool
    backend_http_settings_name = local.backend_settings
  }

  depends_on = [azurerm_role_assignment.gateway_certificate]
}
