"""Interactive API documentation served entirely by the app: Swagger UI at ``/docs`` and
ReDoc at ``/redoc``, with no request to a CDN, so both work on a closed network.

FastAPI's own pages load their scripts from a CDN and start Swagger UI with an inline script,
which the app's Content-Security-Policy forbids. Here the assets come from the
``fastapi-offline`` package (installed with the app, served under ``/static/docs``) and
Swagger UI is started by a small script of ours (``api/static/swagger-init.js``) that reads
the OpenAPI document's address from a ``data-`` attribute: the pages need no inline script.
"""

from __future__ import annotations

from html import escape
from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles

__all__ = ["ASSETS_PREFIX", "add_offline_docs"]

#: Where the vendored Swagger UI and ReDoc files are served.
ASSETS_PREFIX = "/static/docs"
#: Where the app's own static files are served.
APP_STATIC_PREFIX = "/static/app"

_APP_STATIC = Path(__file__).parent / "static"
#: The one outside address in the vendored ReDoc bundle (the "API docs by Redocly" logo):
#: replaced by the favicon served with it, so that /redoc makes no request off the app.
_REDOC_LOGO = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


def _vendored_assets() -> Path:
    """The folder of Swagger UI and ReDoc files shipped by the ``fastapi-offline`` package."""
    return Path(str(files("fastapi_offline") / "static"))


def _swagger_page(title: str, openapi_url: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} — API</title>
<link rel="stylesheet" href="{ASSETS_PREFIX}/swagger-ui.css">
<link rel="icon" type="image/png" href="{ASSETS_PREFIX}/favicon.png">
<style>.visually-hidden {{ position: absolute; width: 1px; height: 1px; overflow: hidden;
clip: rect(0 0 0 0); white-space: nowrap; }}</style>
</head>
<body>
<main><h1 class="visually-hidden">{escape(title)} — API</h1>
<div id="swagger-ui" data-openapi-url="{escape(openapi_url)}"></div></main>
<script src="{ASSETS_PREFIX}/swagger-ui-bundle.js"></script>
<script src="{APP_STATIC_PREFIX}/swagger-init.js"></script>
</body>
</html>
"""


def _redoc_page(title: str, openapi_url: str) -> str:
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} — API</title>
<link rel="icon" type="image/png" href="{ASSETS_PREFIX}/favicon.png">
</head>
<body>
<redoc spec-url="{escape(openapi_url)}"></redoc>
<script src="{ASSETS_PREFIX}/redoc.standalone.js"></script>
</body>
</html>
"""


def add_offline_docs(app: FastAPI) -> None:
    """Serve ``/docs`` and ``/redoc`` from the app's own assets.

    Create the app with ``docs_url=None, redoc_url=None`` so that FastAPI's CDN pages are not
    registered, then call this.
    """
    openapi_url = app.openapi_url or "/openapi.json"
    redoc_js = (_vendored_assets() / "redoc.standalone.js").read_bytes()
    redoc_js = redoc_js.replace(_REDOC_LOGO, f"{ASSETS_PREFIX}/favicon.png".encode())

    # Registered before the mount below, so this route answers for the bundle's path.
    @app.get(f"{ASSETS_PREFIX}/redoc.standalone.js", include_in_schema=False)
    def redoc_bundle() -> Response:
        return Response(redoc_js, media_type="text/javascript")

    app.mount(ASSETS_PREFIX, StaticFiles(directory=_vendored_assets()), name="docs-assets")
    app.mount(APP_STATIC_PREFIX, StaticFiles(directory=_APP_STATIC), name="app-static")
    swagger = _swagger_page(app.title, openapi_url)
    redoc = _redoc_page(app.title, openapi_url)

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(swagger)

    @app.get("/redoc", include_in_schema=False)
    def redoc_ui() -> HTMLResponse:
        return HTMLResponse(redoc)
