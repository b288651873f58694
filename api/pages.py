"""Server-rendered HTML pages (Jinja2, autoescaped), French first with English available."""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode

from fastapi import Request
from fastapi.responses import RedirectResponse
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

from geodata.schemas import label

from . import sessions as web

__all__ = [
    "NAV",
    "PAGE_RESPONSES",
    "csp_nonce",
    "fmt_number",
    "policy_with_nonce",
    "render",
    "sign_in_redirect",
    "switch_lang",
    "templates",
    "tile_origin",
    "url_with_lang",
]

_HTML: dict[str, Any] = {"text/html": {}}
#: What a page may answer besides its 200, for the OpenAPI document: a redirection (to the
#: sign-in form, or after a form), and its refusals as pages in the reader's language.
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    303: {"description": "Redirected (to /login when not signed in, or after a form)"},
    403: {"description": "Not allowed for this account (a page)", "content": _HTML},
    404: {"description": "No such listing (a page)", "content": _HTML},
    422: {"description": "A field of the form is invalid (the page, naming it)", "content": _HTML},
}

Lang = Literal["fr", "en"]

_env = Environment(
    loader=PackageLoader("api", "templates"),
    autoescape=select_autoescape(["html", "xml"]),
)
templates = Jinja2Templates(env=_env)


def fmt_number(value: float, lang: Lang = "fr", decimals: int = 0) -> str:
    """Format a number the French way (narrow no-break space, decimal comma) or the English way.

    Examples
    --------
    >>> fmt_number(3200.0)
    '3\u202f200'
    >>> fmt_number(1234.5, "en", 1)
    '1,234.5'
    """
    text = f"{value:,.{decimals}f}"
    if lang == "fr":
        text = text.replace(",", "\u202f").replace(".", ",")
    return text


#: The site's navigation: (path, French, English). Each page owns its path.
NAV: list[tuple[str, str, str]] = [
    ("/recherche", "Rechercher un local", "Find premises"),
    ("/carte", "Carte du catalogue", "Catalogue map"),
    ("/mes-annonces", "Mes annonces", "My listings"),
    ("/tableau-de-bord", "Tableau de bord", "Dashboard"),
]


def url_with_lang(path: str, lang: Lang, params: Mapping[str, Any] | None = None) -> str:
    """A link to a page of the site that keeps the reader's language (``None`` params dropped).

    Examples
    --------
    >>> url_with_lang("/carte", "en")
    '/carte?lang=en'
    >>> url_with_lang("/recherche", "fr", {"surface_min": 500, "commune": None})
    '/recherche?surface_min=500&lang=fr'
    """
    pairs: list[tuple[str, Any]] = []
    for key, value in (params or {}).items():
        if value is None or value == "":
            continue
        values = value if isinstance(value, list | tuple) else [value]
        pairs += [(key, v) for v in values if v is not None and v != ""]
    pairs.append(("lang", lang))
    return f"{path}?{urlencode(pairs)}"


def sign_in_redirect(request: Request, lang: Lang, back: str | None = None) -> RedirectResponse:
    """Send a signed-out reader to the sign-in form (303), which brings them back to ``back``
    after (default: this page, its query kept)."""
    if back is None:
        back = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(url_with_lang("/login", lang, {"next": back}), status_code=303)


def switch_lang(query: str, lang: Lang) -> str:
    """This page in another language: a query-only link keeping every other parameter.

    Examples
    --------
    >>> switch_lang("", "en")
    '?lang=en'
    >>> switch_lang("offset=50&lang=fr", "en")
    '?offset=50&lang=en'
    """
    pairs = [(k, v) for k, v in parse_qsl(query, keep_blank_values=True) if k != "lang"]
    return "?" + urlencode([*pairs, ("lang", lang)])


def csp_nonce(request: Request) -> str:
    """The request's CSP nonce for inline scripts (one per request, made on first use)."""
    nonce: str | None = getattr(request.state, "csp_nonce", None)
    if nonce is None:
        nonce = secrets.token_urlsafe(18)
        request.state.csp_nonce = nonce
    return nonce


def tile_origin(tiles_url: str) -> str | None:
    """The origin a tile URL template loads from, as a CSP source (None for the app's own).

    Examples
    --------
    >>> tile_origin("https://tile.openstreetmap.org/{z}/{x}/{y}.png")
    'https://tile.openstreetmap.org'
    >>> tile_origin("https://{s}.tiles.example.org:8443/{z}/{x}/{y}.png")
    'https://*.tiles.example.org:8443'
    >>> tile_origin("/tiles/{z}/{x}/{y}.png") is None
    True
    """
    scheme, sep, rest = tiles_url.partition("://")
    if not sep:
        return None
    host = rest.split("/", 1)[0]
    host = re.sub(r"\{[^}]*\}", "*", host)
    return f"{scheme}://{host}"


def _add_source(directives: list[str], name: str, source: str, default: str) -> None:
    for i, directive in enumerate(directives):
        if directive.split()[0].lower() == name:
            directives[i] = f"{directive} {source}"
            return
    directives.append(f"{name} {default} {source}")


def policy_with_nonce(policy: str, nonce: str, img_source: str | None = None) -> str:
    """The policy with ``'nonce-…'`` added to ``script-src`` (or a ``script-src`` made), and
    the tiles' origin to ``img-src`` when given.

    Examples
    --------
    >>> policy_with_nonce("default-src 'self'; script-src 'self'", "abc")
    "default-src 'self'; script-src 'self' 'nonce-abc'"
    >>> policy_with_nonce("default-src 'self'", "abc", "https://t.example.org")
    "default-src 'self'; script-src 'self' 'nonce-abc'; img-src 'self' https://t.example.org"
    """
    directives = [d.strip() for d in policy.split(";") if d.strip()]
    _add_source(directives, "script-src", f"'nonce-{nonce}'", "'self'")
    if img_source:
        _add_source(directives, "img-src", img_source, "'self'")
    return "; ".join(directives)


def render(request: Request, template: str, lang: Lang, **context: Any) -> Any:
    """Render a template with the translation, formatting and link helpers.

    Pass ``account`` (the signed-in account, or None) for the navigation to show it. When
    the page used ``csp_nonce`` (a map's script), the response's Content-Security-Policy
    allows that nonce's scripts and no other inline script.
    """
    territory = request.app.state.territory

    def t(fr: str, en: str) -> str:
        return fr if lang == "fr" else en

    def commune_name(insee: str | None) -> str:
        # A listing stored under another territory keeps its code: show it, never fail.
        if insee is None:
            return "—"
        return territory.commune_name(insee) if insee in territory.insee_codes else insee

    helpers = {
        "lang": lang,
        "t": t,
        "label": lambda v: label(v, lang),
        "commune_name": commune_name,
        "m2": lambda v: f"{fmt_number(v, lang)} m²",
        "eur": lambda v: fmt_number(v, lang),
        "url": lambda path, **params: url_with_lang(path, lang, params),
        "lang_url": lambda code: switch_lang(request.url.query, code),
        "nav": NAV,
        "current_path": request.url.path,
        "signed_in": web.SESSION_COOKIE in request.cookies,
        "session_csrf": web.csrf_token(request),
        "account": None,
    }
    response = templates.TemplateResponse(request, template, {**helpers, **context})
    nonce = getattr(request.state, "csp_nonce", None)
    if nonce is not None:
        # A page with a map: its script's nonce, and the tiles' origin for the images.
        settings = request.app.state.settings
        policy = policy_with_nonce(
            settings.http.content_security_policy, nonce, tile_origin(settings.maps.tiles_url)
        )
        response.headers["Content-Security-Policy"] = policy
    return response
