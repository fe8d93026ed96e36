# Remote state in Azure Storage; the blob lease is the state lock (one writer at a time).
# The state account (rg-gridos-tfstate / stgridostfstate, created once by docs/runbooks/infrastructure.md)
# has blob versioning, blob and container soft delete (30 days), no shared-key access and no public access:
# a corrupted or deleted state is restored from a previous version.
terraform {
  backend "azurerm" {
    resource_group_name  = "rg-gridos-tfstate"
    storage_account_name = "stgridostfstate"
    container_name       = "tfstate"
    key                  = "gridos-dev.tfstate"
    use_oidc             = true
    use_azuread_auth     = true
  }
}
