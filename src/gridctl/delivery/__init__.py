"""The delivery toolkit behind `gridctl image set / deploy / promote / rollback / ledger / smoke / monitor /
budget`: the logic the CI/CD workflows call, kept in tested Python rather than in workflow YAML."""

from gridctl.delivery.errors import DeliveryError
from gridctl.delivery.image import ImageReference, set_overlay_image
from gridctl.delivery.ledger import LedgerEntry, PromotionLedger

__all__ = ["DeliveryError", "ImageReference", "LedgerEntry", "PromotionLedger", "set_overlay_image"]
