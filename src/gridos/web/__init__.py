"""The operator console and the API documentation, served by GridOS itself (no other host is contacted).

`install(app)` adds the pages (`/`, `/docs`), the packaged static files (`/static`, including the
front-end libraries vendored from npm by scripts/vendor-web-assets.py) and the live stream `/api/v1/live`
(gridos.web.live, its route in gridos.web.live_views). Who the console talks as (`/api/v1/me`) comes from gridos.identity.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from gridos.web import live_views
from gridos.web.views import router

if TYPE_CHECKING:
    from gridos.services import Services


def install(app: FastAPI, services: Services) -> None:
    app.include_router(router)
    live_views.install(app, services)
    app.mount("/static", StaticFiles(packages=[("gridos.web", "static")]), name="static")
