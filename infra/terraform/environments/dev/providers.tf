# Authentication is OpenID Connect only: GitHub Actions exchanges its token for the environment's Terraform
# identity (ARM_CLIENT_ID, ARM_TENANT_ID, ARM_SUBSCRIPTION_ID and ARM_USE_OIDC come from the workflow).
# No client secret exists anywhere.
provider "azurerm" {
  use_oidc            = true
  storage_use_azuread = true

  features {
    key_vault {
      purge_soft_delete_on_destroy    = false
      recover_soft_deleted_key_vaults = true
    }
    resource_group {
      prevent_deletion_if_contains_resources = true
    }
  }
}

# The GridOS app registration (modules/identity): the same OIDC sign-in as azurerm, in the same tenant.
provider "azuread" {
  use_oidc = true
}

provider "random" {}

provider "time" {}
