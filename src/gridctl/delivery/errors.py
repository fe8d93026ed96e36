"""The one exception of the delivery toolkit: its message is the single line the CLI prints."""

from __future__ import annotations


class DeliveryError(Exception):
    """A delivery step cannot go on (malformed input, unverified image, dirty repository, ...)."""
