"""Server-rendered HTML pages (Jinja2, autoescaped), French first with English available."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, PackageLoader, select_autoescape

from geodata.schemas import label

__all__ = ["fmt_number", "render", "templates"]

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


def render(request: Request, template: str, lang: Lang, **context: Any) -> Any:
    """Render a template with the translation and formatting helpers."""
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
    }
    return templates.TemplateResponse(request, template, {**helpers, **context})
