"""Domain exceptions, mapped to RFC 9457 problem+json at the HTTP edge (gridos.http)."""

from __future__ import annotations

from typing import Any


class GridosError(Exception):
    status = 400
    title = "Bad request"
    type_ = "about:blank"

    def __init__(self, detail: str, **extensions: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extensions = extensions


class NotFound(GridosError):
    status = 404
    title = "Not found"


class Conflict(GridosError):
    status = 409
    title = "Conflict"


class InvalidInput(GridosError):
    """Input that parsed but breaks a rule; `errors` names each offending item and field."""

    status = 422
    title = "Invalid input"


class PayloadTooLarge(GridosError):
    status = 413
    title = "Payload too large"


class UnsupportedMediaType(GridosError):
    status = 415
    title = "Unsupported media type"


class Unauthorized(GridosError):
    status = 401
    title = "Unauthorized"


class Forbidden(GridosError):
    status = 403
    title = "Forbidden"


class ServiceUnavailable(GridosError):
    status = 503
    title = "Service unavailable"
