"""The console page and the API documentation page. Both are static files of this package; they hold no
data and no credential, and load nothing from another host: scripts and styles are files under /static
(vendored from npm), so the Content-Security-Policy needs no 'unsafe-inline'."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from gridos import deps

router = APIRouter(include_in_schema=False)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


@cache
def _page(name: str) -> str:
    return files("gridos.web").joinpath(f"static/{name}").read_text(encoding="utf-8")


def _html(name: str, page: str | None = None) -> HTMLResponse:
    return HTMLResponse(
        page if page is not None else _page(name),
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": CSP,
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


@router.get("/", response_class=HTMLResponse)
def operator_console(request: Request) -> HTMLResponse:
    # The sign-in form offers "Sign in with your organisation account" only when /auth/login can work
    # (OIDC configured); otherwise a token (the demo's #token= link, or an API key). A meta tag, not a
    # request: the page knows before it asks /api/v1/me, and it holds no secret.
    identity = deps.services(request).identity
    oidc = bool(identity is not None and identity.settings.oidc_enabled)
    page = _page("index.html").replace(
        '<meta name="gridos-signin" content="token">',
        f'<meta name="gridos-signin" content="{"oidc" if oidc else "token"}">',
    )
    return _html("index.html", page)


@router.get("/docs", response_class=HTMLResponse)
def api_docs() -> HTMLResponse:
    """Swagger UI from this package (vendor/swagger-ui-dist), reading /openapi.json."""
    return _html("docs.html")
