"""The web pages under ``/app`` (SPEC §5.1) and the offline ``/docs``.

`install_pages` adds them to the API app: the page routes (`api.pages.routes`),
the vendored assets at ``/app/static`` (`static/ASSETS.md`), Swagger UI at
``/docs`` from those assets (no CDN), and the pages' security headers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.pages.session import SigninCodes

__all__ = ["CSP", "install_pages"]

STATIC: Final = Path(__file__).parent / "static"

# Only this origin: no inline script or style, no frames, forms post here only.
CSP: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI sets style attributes in its markup; scripts stay this origin's only.
_DOCS_CSP: Final = CSP.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'")

_DOCS_HTML: Final = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Incentive ledger API</title>
<link rel="icon" href="/app/static/vendor/favicon-32x32.png">
<link rel="stylesheet" href="/app/static/vendor/swagger-ui.css">
</head><body><div id="swagger-ui"></div>
<script src="/app/static/vendor/swagger-ui-bundle.js"></script>
<script src="/app/static/docs.js"></script>
</body></html>"""


class PageHeaders:
    """Security headers on the pages, their assets and ``/docs``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if not (path.startswith("/app") or path == "/docs"):
            await self.app(scope, receive, send)
            return
        policy = (_DOCS_CSP if path == "/docs" else CSP).encode()
        page = not path.startswith("/app/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", policy),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"no-referrer"),
                ]
                if page:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_pages(app: FastAPI, secret: str, *, secure_cookies: bool = False) -> None:
    """Serve the pages, their assets and ``/docs`` from ``app``; ``secret`` (the
    token secret) keys the forms' CSRF tokens; ``secure_cookies``: every cookie
    the pages set is Secure, however the request arrived (behind a TLS proxy).
    Create the app with ``docs_url=None``: this serves ``/docs`` from the
    vendored Swagger UI."""
    from api.pages import payouts, routes, work  # noqa: PLC0415 - the routes need this package

    app.state.page_secret = secret.encode()
    app.state.secure_cookies = secure_cookies
    app.state.signin_codes = SigninCodes(app.state.ledger)
    app.include_router(routes.router)
    app.include_router(payouts.router)
    app.include_router(work.router)
    app.mount("/app/static", StaticFiles(directory=STATIC), name="page-static")

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(_DOCS_HTML)

    app.add_middleware(PageHeaders)
