"""The console page and the API documentation page. Both are static files of this package; they hold no
data and no credential, and load nothing from another host: scripts and styles are files under /static
(vendored from npm), so the Content-Security-Policy needs no 'unsafe-inline'."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

router = APIRouter(include_in_schema=False)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


@cache
def _page(name: str) -> str:
    return files("gridos.web").joinpath(f"static/{name}").read_text(encoding="utf-8")


def _html(name: str) -> HTMLResponse:
    return HTMLResponse(
        _page(name),
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CSP,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/", response_class=HTMLResponse)
def operator_console() -> HTMLResponse:
    return _html("index.html")


@router.get("/docs", response_class=HTMLResponse)
def api_docs() -> HTMLResponse:
    """Swagger UI from this package (vendor/swagger-ui-dist), reading /openapi.json."""
    return _html("docs.html")
