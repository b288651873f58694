"""The premises detail page: facts with units, its photos, a mini-map with what is near, the
zone and lot, how recently it was verified, "contact the owner" and similar premises."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

import numpy as np
from fastapi import APIRouter, Form, HTTPException, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from geodata.schemas import Premises, PremisesPublic, Status, error_details, label
from geodata.storage.errors import NotFoundError
from geodata.territory import Territory, to_lambert93
from matcher.index import MatchIndex
from matcher.similar import SimilarIndex

from .. import maps
from ..auth import OPTIONAL_AUTH, OptionalAccount
from ..deps import NowDep, PremisesIdPath, RepoDep, SettingsDep, TerritoryDep
from ..freshness import hide_before
from ..pages import PAGE_RESPONSES, Lang, csp_nonce, fmt_number, render
from .contacts import ContactRequestIn, send_contact_request
from .photos import photos_visible

__all__ = ["nearest", "router"]

router = APIRouter(tags=["pages"])

N_STATIONS = 3
N_EXITS = 2
N_SIMILAR = 4
STATION_COLOUR = "#5a2d82"
EXIT_COLOUR = "#8a4b00"

_similar_lock = threading.Lock()
_similar: dict[int, tuple[MatchIndex, SimilarIndex]] = {}


def nearest(frame: Any, lon: float, lat: float, k: int) -> list[tuple[str, float, float, float]]:
    """The ``k`` nearest points of a layer: ``(name, lon, lat, metres)``, nearest first."""
    if len(frame) == 0:
        return []
    px = frame.geometry.x.to_numpy()
    py = frame.geometry.y.to_numpy()
    x, y = to_lambert93(px, py)
    x0, y0 = to_lambert93(lon, lat)
    d = np.hypot(x - x0[0], y - y0[0])
    order = np.argsort(d)[:k]
    names = frame["name"].to_numpy()
    return [(str(names[i]), float(px[i]), float(py[i]), float(d[i])) for i in order]


def _similar_index(index: MatchIndex) -> SimilarIndex:
    """One neighbour index per match-index snapshot (snapshots are never changed)."""
    with _similar_lock:
        got = _similar.get(id(index))
        if got is not None and got[0] is index:
            return got[1]
        built = SimilarIndex(index)
        _similar.clear()
        _similar[id(index)] = (index, built)
        return built


def _similar_items(
    index: MatchIndex, listing_id: int, visible_since: datetime, lang: Lang
) -> list[dict[str, Any]]:
    try:
        items = _similar_index(index).similar(listing_id, k=N_SIMILAR * 2)
    except KeyError:
        return []
    public = set(index.cols["id"][maps.public_rows(index, visible_since)].tolist())
    out = []
    for item in items:
        if item.listing_id not in public:
            continue
        pos = index.position(item.listing_id)
        if pos is None:
            continue
        out.append(
            {
                "id": item.listing_id,
                "title": index.cols["title"][pos] or f"#{item.listing_id}",
                "reasons": item.text[lang],
            }
        )
        if len(out) == N_SIMILAR:
            break
    return out


def _distance(metres: float, lang: Lang) -> str:
    if metres < 1000:
        return f"{round(metres / 10) * 10:.0f} m"
    return f"{fmt_number(metres / 1000, lang, 1)} km"


def _zone_name(territory: Territory, item: Premises) -> str | None:
    zone_id = item.zone_id or territory.zone_at(item.lon, item.lat)[0]
    if not zone_id:
        return None
    zones = territory.zones
    found = zones[zones["site_id"] == zone_id]
    return str(found["site_nom"].iloc[0]) if len(found) else str(zone_id)


def _mini_map(
    request: Request,
    settings: Any,
    item: Any,
    stations: list[tuple[str, float, float, float]],
    exits: list[tuple[str, float, float, float]],
    lang: Lang,
) -> maps.MapParts:
    m = maps.new_map(settings.maps, location=(item.lat, item.lon), zoom=14)
    maps.communes_layer(request.app.state.territory).add_to(m)

    def layer(points: list[tuple[str, float, float, float]], colour: str, what: str) -> None:
        if points:
            data = maps.point_features(
                [p[1] for p in points],
                [p[2] for p in points],
                [{"title": p[0], "lines": [what, _distance(p[3], lang)]} for p in points],
            )
            maps.PointsLayer(data, name=what, colour=colour, radius=6).add_to(m)

    layer(stations, STATION_COLOUR, "Gare" if lang == "fr" else "Station")
    layer(exits, EXIT_COLOUR, "Échangeur" if lang == "fr" else "Motorway exit")
    here = maps.point_features(
        [item.lon], [item.lat], [{"id": item.id, "title": item.title, "lines": []}]
    )
    maps.PointsLayer(here, name="premises", radius=10, fit=False).add_to(m)
    everything = [(item.lon, item.lat)] + [(p[1], p[2]) for p in stations + exits]
    lons = [p[0] for p in everything]
    lats = [p[1] for p in everything]
    m.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(20, 20))
    return maps.render_map(m, csp_nonce(request))


def _facts(item: Any, lang: Lang) -> list[tuple[str, str]]:
    """The listing's facts as (label, value with unit), only those it states."""
    fr = lang == "fr"

    def t(a: str, b: str) -> str:
        return a if fr else b

    def unit(v: float | None, suffix: str, decimals: int = 0) -> str | None:
        return None if v is None else f"{fmt_number(v, lang, decimals)} {suffix}"

    def m2(v: float | None) -> str | None:
        return unit(v, "m²")

    per_m2_year = t("€/m²/an", "€/m²/year")

    rows: list[tuple[str, str | None]] = [
        (t("Type", "Kind"), label(item.kind, lang)),
        (t("Surface", "Surface"), m2(item.surface_m2)),
        (t("dont activité", "of which activity"), m2(item.activity_m2)),
        (t("dont stockage", "of which storage"), m2(item.storage_m2)),
        (t("dont bureaux", "of which offices"), m2(item.office_m2)),
        (t("Mezzanine", "Mezzanine"), m2(item.mezzanine_m2)),
        (t("Terrain", "Plot"), m2(item.plot_m2)),
        (
            t("Divisible", "Divisible"),
            (t("oui, dès ", "yes, from ") + (m2(item.min_lot_m2) or "—"))
            if item.divisible
            else None,
        ),
        (
            t("Usages autorisés", "Allowed uses"),
            ", ".join(label(u, lang) for u in item.uses) or None,
        ),
        (t("Offre", "Offered"), label(item.tenure, lang)),
        (t("Loyer", "Rent"), unit(item.rent_eur_m2_year, per_m2_year)),
        (t("Charges", "Service charges"), unit(item.charges_eur_m2_year, per_m2_year)),
        (t("Prix de vente", "Sale price"), unit(item.sale_price_eur, "€")),
        (t("Hauteur sous plafond", "Ceiling height"), unit(item.ceiling_height_m, "m", 1)),
        (t("Charge au sol", "Floor load"), unit(item.floor_load_t_m2, "t/m²", 1)),
        (t("Quais de chargement", "Loading docks"), _count(item.loading_docks)),
        (t("Portes de plain-pied", "Ground-level doors"), _count(item.ground_level_doors)),
        (t("Puissance électrique", "Electric power"), unit(item.power_kva, "kVA")),
        (
            t("ICPE", "ICPE"),
            None
            if item.icpe_allowed is None
            else (t("autorisée", "allowed") if item.icpe_allowed else t("non", "no")),
        ),
        (t("Places de parking", "Parking spaces"), _count(item.parking_spaces)),
        (
            t("Disponible", "Available"),
            None
            if item.available_from is None
            else (
                f"{t('le ', 'from ')}{item.available_from:%d/%m/%Y}"
                if fr
                else f"from {item.available_from:%Y-%m-%d}"
            ),
        ),
        (t("Statut", "Status"), label(item.status, lang)),
        (t("Adresse", "Address"), item.address),
    ]
    return [(k, v) for k, v in rows if v]


def _count(v: int | None) -> str | None:
    return None if v is None else str(v)


def _detail(
    request: Request,
    premises_id: int,
    repo: Any,
    territory: Territory,
    settings: Any,
    now: datetime,
    account: Any,
    lang: Lang,
    *,
    errors: list[str] | None = None,
    values: dict[str, str] | None = None,
    sent: bool = False,
    status_code: int = 200,
) -> Response:
    try:
        stored = repo.get_premises(premises_id)
    except NotFoundError:
        response: Response = render(
            request, "not_found.html", lang, account=account, premises_id=premises_id
        )
        response.status_code = 404
        return response
    item: Any = PremisesPublic.model_validate(stored)
    stations = nearest(territory.stations, item.lon, item.lat, N_STATIONS)
    exits = nearest(territory.motorway_access, item.lon, item.lat, N_EXITS)
    since = hide_before(now, settings.freshness)
    verified = stored.last_verified_at
    age = None if verified is None else max(0, (now - verified).days)
    index = request.app.state.match_index.current()
    commune = (
        territory.commune_name(item.commune_insee)
        if item.commune_insee in territory.insee_codes
        else item.commune_insee
    )
    response = render(
        request,
        "premises.html",
        lang,
        account=account,
        item=item,
        facts=_facts(item, lang),
        commune=commune,
        zone=_zone_name(territory, stored),
        stations=[(n, _distance(d, lang)) for n, _, _, d in stations],
        exits=[(n, _distance(d, lang)) for n, _, _, d in exits],
        verified=verified,
        age=age,
        hidden=verified is not None and verified < since,
        withdrawn=item.status == Status.withdrawn,
        similar=_similar_items(index, premises_id, since, lang),
        gallery=stored.gallery if photos_visible(account, stored, now, settings) else [],
        map=_mini_map(request, settings, item, stations, exits, lang),
        errors=errors or [],
        values=values or {},
        sent=sent,
        contact_url=f"/locaux/{premises_id}/contact?lang={lang}",
        login_url=f"/login?lang={lang}&next={quote(f'/locaux/{premises_id}?lang={lang}', safe='')}",
    )
    response.status_code = status_code
    return response


@router.get(
    "/locaux/{premises_id}",
    response_class=HTMLResponse,
    openapi_extra=OPTIONAL_AUTH,
    responses=PAGE_RESPONSES,
)
def premises_page(
    request: Request,
    premises_id: PremisesIdPath,
    repo: RepoDep,
    territory: TerritoryDep,
    settings: SettingsDep,
    now: NowDep,
    account: OptionalAccount,
    lang: Annotated[Lang, Query()] = "fr",
    sent: Annotated[bool, Query()] = False,
) -> Response:
    """One listing's page (its public view), with a map of what is near and a contact form."""
    return _detail(request, premises_id, repo, territory, settings, now, account, lang, sent=sent)


@router.post("/locaux/{premises_id}/contact", response_class=HTMLResponse)
def contact_owner(
    request: Request,
    premises_id: PremisesIdPath,
    repo: RepoDep,
    territory: TerritoryDep,
    settings: SettingsDep,
    now: NowDep,
    account: OptionalAccount,
    message: Annotated[str, Form(max_length=4000)] = "",
    contact_name: Annotated[str, Form(max_length=400)] = "",
    contact_email: Annotated[str, Form(max_length=400)] = "",
    contact_phone: Annotated[str, Form(max_length=100)] = "",
    lang: Annotated[Lang, Query()] = "fr",
) -> Response:
    """Send the owner a contact request (``POST /premises/{id}/contact-requests``)."""
    back = f"/locaux/{premises_id}?lang={lang}"
    if account is None:
        return RedirectResponse(f"/login?lang={lang}&next={quote(back, safe='')}", status_code=303)
    values = {
        "message": message,
        "contact_name": contact_name,
        "contact_email": contact_email,
        "contact_phone": contact_phone,
    }
    try:
        body = ContactRequestIn.model_validate({k: v for k, v in values.items() if v})
        send_contact_request(premises_id, body, repo, account, Response())
    except ValidationError as exc:
        errors = [f"{e['field']} : {e['reason']}" for e in error_details(exc)]
    except HTTPException as exc:
        errors = [str(exc.detail)]
    else:
        return RedirectResponse(f"{back}&sent=true#contact", status_code=303)
    return _detail(
        request,
        premises_id,
        repo,
        territory,
        settings,
        now,
        account,
        lang,
        errors=errors,
        values=values,
        status_code=422,
    )
