"""GridOS identity and access: OIDC sign-in (Authorization Code + PKCE) with server-side sessions, bearer
JWTs from the provider, named API keys for machines, the audit log, failed-authentication limits and
security headers. Routes check roles through gridos.security.require; see docs/identity.md.

`install(app, services)` builds the IdentityService (services.identity) from `settings.identity` and adds
its routes and middleware.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from gridos.identity.service import IdentityService
    from gridos.services import Services

log = logging.getLogger("gridos.identity")

__all__ = ["install"]


def install(app: FastAPI, services: Services) -> IdentityService:
    # Imported here: gridos.config composes IdentitySettings from this package, and the service needs
    # gridos.config.
    from fastapi import Request
    from fastapi.responses import JSONResponse

    from gridos.http import problem
    from gridos.identity.middleware import SecurityMiddleware
    from gridos.identity.openapi import install_openapi
    from gridos.identity.service import IdentityService, TooManyFailures
    from gridos.identity.views import audit_router, auth_router, keys_router, me_router

    settings = services.settings.identity
    service = IdentityService(services.settings, settings, services.engine)
    services.identity = service
    app.include_router(auth_router)
    app.include_router(me_router)
    app.include_router(keys_router)
    app.include_router(audit_router)
    app.add_middleware(SecurityMiddleware, identity=service)
    install_openapi(app)

    @app.exception_handler(TooManyFailures)
    async def _too_many(request: Request, exc: TooManyFailures) -> JSONResponse:
        response = problem(exc.status, exc.title, exc.detail, request.url.path, **exc.extensions)
        response.headers["Retry-After"] = str(exc.extensions.get("retry_after", 60))
        return response

    if settings.auth_production and services.settings.token_roles:
        log.warning(
            "GRIDOS_API_TOKENS is set in production mode: static tokens are for bootstrap and demos; "
            "people should sign in with OIDC and machines use named API keys"
        )
    if not settings.oidc_enabled:
        log.info("OIDC sign-in is off (GRIDOS_OIDC_ISSUER / GRIDOS_OIDC_CLIENT_ID unset)")
    return service
