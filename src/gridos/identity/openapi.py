"""The OpenAPI document, completed in one place for every route: stable operationIds, the roles each
operation needs (x-gridos-roles), and the problem+json error responses every operation can give."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, routing
from fastapi.openapi.utils import get_openapi

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "field": {"type": ["string", "null"]},
                    "in": {"type": ["string", "null"]},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}
ERRORS = {
    "401": "Not authenticated: no, unknown, expired or invalid credentials",
    "403": "Authenticated, but the role or key scope does not allow this (or the CSRF check failed)",
    "404": "No such resource",
    "409": "Conflicts with the current state",
    "422": "Invalid input; `errors` names each offending field",
    "429": "Too many failed authentications from this client or for this key (see Retry-After)",
    "503": "A dependency (database, identity provider) is unavailable; retry later",
}
PUBLIC_ERRORS = ("404", "422", "503")


def _routes(app: FastAPI) -> list[Any]:
    """Every route with its effective path (FastAPI >= 0.16x keeps included routers nested)."""
    flatten = getattr(routing, "iter_route_contexts", None)
    return list(flatten(app.routes)) if flatten is not None else list(app.routes)


def _roles(route: Any) -> list[str] | None:
    dependant = getattr(route, "dependant", None)
    for dep in dependant.dependencies if dependant is not None else ():
        allowed = getattr(dep.call, "allowed_roles", None)
        if allowed is not None:
            return sorted(r.value for r in allowed)
    return None


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {})
        components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        # FastAPI's default 422 schema (HTTPValidationError) is not what we send: drop it.
        for name in ("HTTPValidationError", "ValidationError"):
            components["schemas"].pop(name, None)
        seen: dict[str, int] = {}
        for route in _routes(app):
            if not getattr(route, "include_in_schema", False) or route.path_format is None:
                continue
            for method in sorted(route.methods or ()):
                op = schema["paths"].get(route.path_format, {}).get(method.lower())
                if op is None:
                    continue
                # operationId = the view function's name: stable across releases and readable in
                # generated clients. A function serving two paths gets the second path in its id.
                op_id = str(route.name).lstrip("_")
                if op_id in seen:
                    slug = "_".join(
                        p for p in route.path_format.strip("/").replace("-", "_").split("/") if "{" not in p
                    )
                    op_id = f"{op_id}_{method.lower()}_{slug}"
                seen[op_id] = 1
                op["operationId"] = op_id
                roles = _roles(route)
                codes = ERRORS if roles is not None else {k: ERRORS[k] for k in PUBLIC_ERRORS}
                if roles is not None:
                    op["x-gridos-roles"] = roles
                else:
                    op["security"] = []
                if op.get("x-error-format"):  # documents its own error shapes (e.g. InfluxDB's)
                    continue
                responses = op.setdefault("responses", {})
                for code, description in codes.items():
                    responses[code] = {
                        "description": description,
                        "content": {
                            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                        },
                    }
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
