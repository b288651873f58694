"""The staff page of a development's lots: who gets which lot, and why.

``GET /tableau-de-bord/lots`` (also ``/dashboard/lots``) lists the territory's developments;
``GET /tableau-de-bord/lots/{code}`` (also ``/dashboard/lots/{code}``) shows the allocation of
one development's lots among ``n`` FICTITIOUS demo applicants, the same figures as
``GET /staff/developments/{code}/allocation`` (the same functions, not an HTTP call): the
optimum beside first-come-first-served (total fit, companies served), every lot with its
company and reason, the assignments and the refusals with their reasons, and a map of the lots
coloured by company.

Staff only, like the dashboard: an anonymous reader is sent to the sign-in page (and back here
after), another role gets the dashboard's 403 page. French first, English with ``?lang=en``.
The applicants' names are user text: the map's tooltips get them through
:func:`api.maps.escape_properties` (folium's ``GeoJsonTooltip`` shows them through
``innerHTML``), the tables through Jinja's autoescape.
"""

from __future__ import annotations

from typing import Annotated, Any

import folium
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

import shapely

from geodata.developments import Development, development_applicants
from geodata.schemas import label
from geodata.territory import Territory

from .. import maps
from ..auth import OPTIONAL_AUTH, OptionalAccount
from ..dashboard import tr
from ..errors import request_language
from ..pages import PAGE_RESPONSES, Lang, csp_nonce, fmt_number, render
from .developments import (
    MAX_APPLICANTS,
    AllocationBody,
    AllocationResponse,
    allocate,
    developments_of,
    find_development,
)
from .pages_dashboard import staff_gate

__all__ = ["COMPANY_COLOURS", "FREE_COLOUR", "lot_colours", "router"]

router = APIRouter(tags=["pages"])

#: One colour per company served, in the order of the lots: Okabe–Ito (told apart by
#: colour-blind readers), then darker ColorBrewer hues, cycled beyond.
COMPANY_COLOURS = [
    "#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7",
    "#7f3b08", "#1b7837", "#762a83", "#e7298a", "#66a61e", "#a6761d", "#01665e",
]  # fmt: skip
#: A lot nobody got.
FREE_COLOUR = "#ffffff"


@router.get(
    "/tableau-de-bord/lots",
    response_class=HTMLResponse,
    openapi_extra=OPTIONAL_AUTH,
    responses=PAGE_RESPONSES,
)
@router.get("/dashboard/lots", response_class=HTMLResponse, include_in_schema=False)
def lots_index(request: Request, account: OptionalAccount) -> Response:
    """The territory's developments, each linking to the allocation of its lots (staff)."""
    lang = request_language(request.headers, request.url.query)
    refused = staff_gate(request, lang, account)
    if refused is not None:
        return refused
    territory: Territory = request.app.state.territory
    items = list(developments_of(request, territory).values())
    rows = [
        {
            "code": dev.code,
            "name": dev.name,
            "commune": territory.commune_names.get(dev.commune_insee, dev.commune_insee),
            "n_lots": len(dev.lots),
            "surface": fmt_number(sum(lot.surface_m2 for lot in dev.lots), lang),
            "demo": dev.demo,
        }
        for dev in items
    ]
    response: Response = render(request, "lots_index.html", lang, account=account, rows=rows)
    return response


@router.get(
    "/tableau-de-bord/lots/{code}",
    response_class=HTMLResponse,
    openapi_extra=OPTIONAL_AUTH,
    responses=PAGE_RESPONSES,
)
@router.get("/dashboard/lots/{code}", response_class=HTMLResponse, include_in_schema=False)
def lots_page(
    request: Request,
    code: str,
    account: OptionalAccount,
    n: Annotated[int, Query(ge=0, le=MAX_APPLICANTS, description="Demo applicants")] = 40,
    seed: Annotated[int, Query(ge=0, le=2**31 - 1)] = 94074,
    max_lots: Annotated[int, Query(ge=1, le=6)] = 4,
) -> Response:
    """The allocation of a development's lots among ``n`` demo applicants (see the module)."""
    lang = request_language(request.headers, request.url.query)
    refused = staff_gate(request, lang, account)
    if refused is not None:
        return refused
    territory: Territory = request.app.state.territory
    dev = find_development(request, territory, code)
    body = AllocationBody(demo_applicants=n, seed=seed, max_lots=max_lots)
    result = allocate(dev, body, territory, lang)
    needs = [
        _need_text(a, lang) for a in development_applicants(dev, n, seed=seed)
    ]  # the same draw as allocate's
    colours, legend = lot_colours(result)
    parts = _lots_map(request, dev, result, colours, lang)
    legend.append({"colour": FREE_COLOUR, "text": tr(lang, "Lot non attribué", "Lot not let")})
    surfaces = {str(lot.lot_ref): lot.surface_m2 for lot in dev.lots}
    response: Response = render(
        request,
        "lots.html",
        lang,
        account=account,
        dev=dev,
        commune=territory.commune_names.get(dev.commune_insee, dev.commune_insee),
        result=result,
        needs=needs,
        colours=colours,
        free_colour=FREE_COLOUR,
        surfaces=surfaces,
        legend=legend,
        map=parts,
        params={"n": n, "seed": seed, "max_lots": max_lots},
        num=lambda v, d=0: fmt_number(float(v), lang, d),
    )
    return response


def lot_colours(result: AllocationResponse) -> tuple[dict[str, str], list[dict[str, str]]]:
    """Each lot the optimum lets → the colour of its company (one per applicant served, in
    the order of the lots), and the legend: each company's colour in words."""
    by_lot = {lot: a for a in result.optimal.assignments for lot in a.lots}
    colour_of: dict[int, str] = {}
    out: dict[str, str] = {}
    legend: list[dict[str, str]] = []
    for x in result.optimal.lots:
        a = by_lot.get(x.lot)
        if a is None:
            continue
        if a.applicant not in colour_of:
            colour_of[a.applicant] = COMPANY_COLOURS[len(colour_of) % len(COMPANY_COLOURS)]
            legend.append({"colour": colour_of[a.applicant], "text": a.company})
        out[x.lot] = colour_of[a.applicant]
    return out, legend


def _need_text(need: Any, lang: Lang) -> str:
    """An applicant's need in words: its surface range and uses."""
    uses = ", ".join(label(str(u), lang) for u in need.uses) or tr(lang, "tout usage", "any use")
    lo, hi = fmt_number(need.surface_min_m2, lang), fmt_number(need.surface_max_m2, lang)
    return f"{lo}–{hi} m² · {uses}"


def _lots_map(
    request: Request,
    dev: Development,
    result: AllocationResponse,
    colours: dict[str, str],
    lang: Lang,
) -> maps.MapParts:
    """The lots' outlines coloured by the company the optimum gives them to (``colours``:
    lot → colour, from :func:`lot_colours`)."""
    m = maps.new_map(request.app.state.settings.maps, zoom=17, prefer_canvas=False)
    outcome = {x.lot: x for x in result.optimal.lots}
    features = []
    for lot in dev.lots:
        ref = str(lot.lot_ref)
        x = outcome.get(ref)
        company = x.company if x is not None else None
        props = maps.escape_properties(
            {
                "lot": ref,
                "surface": f"{fmt_number(lot.surface_m2, lang)} m²",
                "company": company or tr(lang, "non attribué", "not let"),
                "reason": x.reason.text if x is not None else "",
                "fill": colours.get(ref, FREE_COLOUR),
            }
        )
        features.append({"type": "Feature", "geometry": lot.footprint, "properties": props})
    data = {"type": "FeatureCollection", "features": features}
    folium.GeoJson(
        data,
        name=tr(lang, "Lots", "Lots"),
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "fillOpacity": 0.85,
            "color": "#333333",
            "weight": 1,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=["lot", "surface", "company", "reason"],
            aliases=[
                tr(lang, "Lot", "Lot"),
                tr(lang, "Surface", "Surface"),
                tr(lang, "Entreprise", "Company"),
                tr(lang, "Motif", "Reason"),
            ],
        ),
    ).add_to(m)
    outlines = shapely.union_all([shapely.geometry.shape(lot.footprint) for lot in dev.lots])
    minx, miny, maxx, maxy = outlines.bounds
    m.fit_bounds([[miny, minx], [maxy, maxx]])
    return maps.render_map(
        m, csp_nonce(request), label=tr(lang, "Carte indisponible.", "Map unavailable.")
    )
