# Application Gateway for Containers (AGC), bring-your-own deployment: the AGC, its frontends and the
# association with a delegated subnet are Terraform's; the ALB controller in the cluster (Argo CD app
# platform-alb-controller) programs routing from the Gateway and HTTPRoute objects, including the canary
# weights that Argo Rollouts' Gateway API plugin writes (docs/adr/0060-gateway-api-traffic-router.md).
# Also here: the WAF policy the WebApplicationFirewallPolicy objects attach, the ALB controller's workload
# identity, and the gridos-tls certificate the Gateway's HTTPS listener serves (exported by External Secrets).

resource "azurerm_application_load_balancer" "this" {
  name                = "agc-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_application_load_balancer_subnet_association" "this" {
  name                         = "association-${var.name}"
  application_load_balancer_id = azurerm_application_load_balancer.this.id
  subnet_id                    = var.subnet_id
  tags                         = var.tags
}

# One frontend per Gateway: fe-<name> for GridOS, plus e.g. fe-gridos-previews in dev.
resource "azurerm_application_load_balancer_frontend" "this" {
  for_each                     = toset(var.frontend_names)
  name                         = each.value
  application_load_balancer_id = azurerm_application_load_balancer.this.id
  tags                         = var.tags
}

resource "azurerm_web_application_firewall_policy" "this" {
  #checkov:skip=CKV_AZURE_135:Application Gateway for Containers runs the Microsoft Default Rule Set 2.1, which includes the Log4j (CVE-2021-44228) rules; checkov only recognises the OWASP 3.x sets, which AGC does not support.
  name                = "waf-${var.name}"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags

  policy_settings {
    enabled                     = true
    mode                        = var.waf_mode
    request_body_check          = true
    max_request_body_size_in_kb = 2000
  }

  managed_rules {
    managed_rule_set {
      type    = "Microsoft_DefaultRuleSet"
      version = "2.1"
    }
    managed_rule_set {
      type    = "Microsoft_BotManagerRuleSet"
      version = "1.1"
    }
  }
}

# The ALB controller federates its service account (azure-alb-system/alb-controller-sa) into this identity.
resource "azurerm_user_assigned_identity" "alb_controller" {
  name                = "id-${var.name}-alb-controller"
  location            = var.location
  resource_group_name = var.resource_group_name
  tags                = var.tags
}

resource "azurerm_federated_identity_credential" "alb_controller" {
  name                = "alb-controller"
  resource_group_name = var.resource_group_name
  parent_id           = azurerm_user_assigned_identity.alb_controller.id
  issuer              = var.aks_oidc_issuer_url
  subject             = "system:serviceaccount:azure-alb-system:alb-controller-sa"
  audience            = ["api://AzureADTokenExchange"]
}

resource "azurerm_role_assignment" "alb_configuration_manager" {
  scope                = azurerm_application_load_balancer.this.id
  role_definition_name = "AppGw for Containers Configuration Manager"
  principal_id         = azurerm_user_assigned_identity.alb_controller.principal_id
}

resource "azurerm_role_assignment" "alb_subnet" {
  scope                = var.subnet_id
  role_definition_name = "Network Contributor"
  principal_id         = azurerm_user_assigned_identity.alb_controller.principal_id
}

resource "azurerm_key_vault_certificate" "tls" {
  name         = "gridos-tls"
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
