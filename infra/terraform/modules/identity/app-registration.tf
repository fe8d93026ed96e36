# People sign in to GridOS with Microsoft Entra ID: one app registration per environment, its app roles
# (the `roles` claim GridOS maps to viewer/operator/engineer/admin, docs/identity.md) and the redirect URIs of
# the environment's host names. GridOS redeems codes as a confidential client without any secret: the app
# trusts the pods' federated service-account token (client assertion, GRIDOS_OIDC_CLIENT_ASSERTION_FILE).
# The non-secret settings GridOS needs (issuer, client id) go to Key Vault, read by the gridos-oidc
# ExternalSecret (deploy/k8s/base/externalsecret-gridos-oidc.yaml).

data "azuread_client_config" "current" {}

locals {
  # App role values are GridOS role names, so GRIDOS_OIDC_ROLE_MAP can stay empty.
  gridos_app_roles = {
    viewer   = "Read telemetry, devices, alarms and alarm rules."
    operator = "Viewer, plus acknowledge, shelve and unshelve alarms."
    engineer = "Operator, plus change alarm rules and the device registry."
    admin    = "Engineer, plus suppress alarms, remove them from service, manage API keys, read the audit log."
  }
  oidc_issuer = "https://login.microsoftonline.com/${data.azuread_client_config.current.tenant_id}/v2.0"
}

resource "time_rotating" "oidc_settings" {
  rotation_days = 180
}

resource "azuread_application" "gridos" {
  display_name     = "GridOS (${var.name})"
  sign_in_audience = "AzureADMyOrg"
  owners           = [data.azuread_client_config.current.object_id]

  dynamic "app_role" {
    for_each = local.gridos_app_roles
    content {
      allowed_member_types = ["User"]
      description          = app_role.value
      display_name         = "GridOS ${app_role.key}"
      enabled              = true
      # Stable ids: a role keeps its id (and its assignments) across applies.
      id    = uuidv5("url", "https://gridos.example/${var.name}/app-role/${app_role.key}")
      value = app_role.key
    }
  }

  api {
    requested_access_token_version = 2
  }

  web {
    redirect_uris = var.oidc_redirect_uris
    logout_url    = var.oidc_logout_url

    implicit_grant {
      access_token_issuance_enabled = false
      id_token_issuance_enabled     = false
    }
  }

  required_resource_access {
    resource_app_id = "00000003-0000-0000-c000-000000000000" # Microsoft Graph

    resource_access {
      id   = "37f7f235-527c-4136-accd-4a02d197296e" # openid
      type = "Scope"
    }
    resource_access {
      id   = "14dad69e-099b-42c9-810b-d002981feec1" # profile
      type = "Scope"
    }
    resource_access {
      id   = "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0" # email
      type = "Scope"
    }
  }
}

# Only people assigned an app role may sign in at all; everyone else is refused by Entra ID itself.
resource "azuread_service_principal" "gridos" {
  client_id                    = azuread_application.gridos.client_id
  app_role_assignment_required = true
  owners                       = [data.azuread_client_config.current.object_id]
}

resource "azuread_application_federated_identity_credential" "gridos_pods" {
  application_id = azuread_application.gridos.id
  display_name   = "aks-${var.gridos_service_account.namespace}-${var.gridos_service_account.name}"
  description    = "GridOS pods redeem sign-in codes with their service-account token instead of a secret."
  audiences      = local.audience
  issuer         = var.aks_oidc_issuer_url
  subject        = "system:serviceaccount:${var.gridos_service_account.namespace}:${var.gridos_service_account.name}"
}

resource "azurerm_key_vault_secret" "oidc_issuer" {
  name            = "gridos-oidc-issuer"
  key_vault_id    = var.key_vault_id
  content_type    = "text/plain; format=url"
  expiration_date = timeadd(time_rotating.oidc_settings.rotation_rfc3339, "720h")
  value           = local.oidc_issuer
}

resource "azurerm_key_vault_secret" "oidc_client_id" {
  name            = "gridos-oidc-client-id"
  key_vault_id    = var.key_vault_id
  content_type    = "text/plain; format=uuid"
  expiration_date = timeadd(time_rotating.oidc_settings.rotation_rfc3339, "720h")
  value           = azuread_application.gridos.client_id
}
