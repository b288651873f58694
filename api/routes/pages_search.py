"""The SME search page: a need stated as a form, ranked premises beside their map.

Everything the form holds is in the URL (``GET /recherche?surface_min_m2=…``), so a search
can be shared and every relaxation suggestion is a plain link. Parameters are the fields of
a need (:class:`geodata.schemas.NeedIn`) under their own names: numbers, repeated ``uses``,
``kinds`` and ``required`` (an empty ``required`` marks an explicit choice, so that no box
ticked means no required criterion), ``communes`` by name or INSEE code (comma-separated),
``center_lon``/``center_lat``/``radius_m`` (a point clicked on the map), and the places that
matter as aligned ``place_label``/``place_lon``/``place_lat``/``place_max_m``.

The ranking is the API's (:func:`api.routes.match.rank_for_need` on the process's match
index); "save this search" stores the need through the very route function of
``POST /needs`` for a signed-in company.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode

import folium
from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from geodata.schemas import (
    NeedIn,
    PremisesKind,
    TenureWanted,
    Use,
    error_details,
    label,
)
from geodata.territory import Territory

from .. import maps
from ..auth import OPTIONAL_AUTH, OptionalAccount
from ..deps import NowDep, RepoDep, SettingsDep, TerritoryDep
from ..errors import ProblemError
from ..freshness import hide_before
from ..pages import PAGE_RESPONSES, Lang, csp_nonce, fmt_number, render
from .match import ANONYMOUS, MatchResponse, rank_for_need
from .needs import create_need

__all__ = ["SearchForm", "need_query", "parse_search", "router"]

router = APIRouter(tags=["pages"])

#: How many results the page shows, and below how many it offers relaxations first.
RESULTS = 20
FEW = 5

#: Number fields of the form: name → (French label, English label, integer).
NUMBERS: dict[str, tuple[str, str, bool]] = {
    "surface_min_m2": ("Surface minimale (m²)", "Minimum surface (m²)", False),
    "surface_max_m2": ("Surface maximale (m²)", "Maximum surface (m²)", False),
    "max_rent_eur_m2_year": ("Loyer maximal (€/m²/an)", "Maximum rent (€/m²/year)", False),
    "max_sale_price_eur": ("Prix d'achat maximal (€)", "Maximum purchase price (€)", False),
    "center_lon": ("Longitude du centre", "Centre longitude", False),
    "center_lat": ("Latitude du centre", "Centre latitude", False),
    "radius_m": ("Rayon (m)", "Radius (m)", False),
    "max_station_distance_m": (
        "Distance maximale à une gare (m)",
        "Maximum distance to a station (m)",
        False,
    ),
    "max_interchange_distance_m": (
        "Distance maximale à un échangeur (m)",
        "Maximum distance to a motorway exit (m)",
        False,
    ),
    "min_ceiling_height_m": (
        "Hauteur sous plafond minimale (m)",
        "Minimum ceiling height (m)",
        False,
    ),
    "min_floor_load_t_m2": ("Charge au sol minimale (t/m²)", "Minimum floor load (t/m²)", False),
    "min_loading_docks": ("Quais de chargement (au moins)", "Loading docks (at least)", True),
    "min_ground_level_doors": (
        "Portes de plain-pied (au moins)",
        "Ground-level doors (at least)",
        True,
    ),
    "min_power_kva": ("Puissance électrique minimale (kVA)", "Minimum power (kVA)", False),
}
TEXTS: dict[str, tuple[str, str]] = {
    "naf_code": ("Code NAF / APE", "NAF / APE code"),
    "communes": ("Communes", "Communes"),
    "wanted_by": ("Date d'entrée souhaitée", "Wanted move-in date"),
    "tenure": ("Location ou achat", "Rent or buy"),
    "uses": ("Usages", "Uses"),
    "kinds": ("Types de locaux", "Kinds of premises"),
    "places": ("Lieux importants", "Places that matter"),
    "required": ("Critères obligatoires", "Required criteria"),
    "needs_icpe": ("ICPE", "ICPE"),
}
CRITERIA: dict[str, tuple[str, str]] = {
    "surface": ("Surface", "Surface"),
    "use": ("Usage", "Use"),
    "budget": ("Budget", "Budget"),
    "location": ("Localisation", "Location"),
    "access": ("Accès (gare, échangeur)", "Access (station, motorway)"),
    "technical": ("Technique", "Technical"),
    "availability": ("Date de disponibilité", "Availability date"),
}
MAX_PLACES = 3
#: What a need requires when the URL does not say (the schema's default).
DEFAULT_REQUIRED = [
    str(c) for c in NeedIn(company_name="-", surface_min_m2=1, surface_max_m2=1).required
]
_PLACE_KEYS = ("place_label", "place_lon", "place_lat", "place_max_m")


@dataclass
class SearchForm:
    """A search read from the URL: the need's fields, what was wrong, the raw values."""

    values: dict[str, list[str]]
    need: dict[str, Any] = field(default_factory=dict)
    errors: list[tuple[str, str]] = field(default_factory=list)
    submitted: bool = False

    def first(self, name: str) -> str:
        return (self.values.get(name) or [""])[0]

    def all(self, name: str) -> list[str]:
        return [v for v in self.values.get(name, []) if v != ""]

    def place(self, i: int, key: str) -> str:
        got = self.values.get(key, [])
        return got[i] if i < len(got) else ""


def _number(text: str, integer: bool) -> float | int | None:
    try:
        value = float(text.replace("\u202f", "").replace(" ", "").replace(",", "."))
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    if integer:
        return int(value) if value.is_integer() else None
    return value


def parse_search(pairs: Sequence[tuple[str, str]], territory: Territory, lang: Lang) -> SearchForm:
    """Read a search from query pairs into a need (validated) or errors naming each field."""
    values: dict[str, list[str]] = {}
    for key, value in pairs:
        values.setdefault(key, []).append(value.strip())
    form = SearchForm(values=values)
    form.submitted = any(form.first(n) for n in ("surface_min_m2", "surface_max_m2"))
    if not form.submitted:
        return form
    fr = lang == "fr"
    need: dict[str, Any] = {"company_name": form.first("company_name") or ANONYMOUS}
    for name, (label_fr, label_en, integer) in NUMBERS.items():
        text = form.first(name)
        if not text:
            continue
        number = _number(text, integer)
        if number is None:
            kind = ("un nombre entier", "a whole number") if integer else ("un nombre", "a number")
            form.errors.append(
                (
                    name,
                    f"{label_fr} : « {text[:40]} » n'est pas {kind[0]}."
                    if fr
                    else f"{label_en}: '{text[:40]}' is not {kind[1]}.",
                )
            )
        else:
            need[name] = number
    for name in ("surface_min_m2", "surface_max_m2"):
        if name not in need and not any(f == name for f, _ in form.errors):
            label_fr, label_en, _ = NUMBERS[name]
            form.errors.append(
                (
                    name,
                    f"{label_fr} : à renseigner." if fr else f"{label_en}: required.",
                )
            )
    if form.first("naf_code"):
        need["naf_code"] = form.first("naf_code")
    if form.first("tenure"):
        need["tenure"] = form.first("tenure")
    if form.first("wanted_by"):
        need["wanted_by"] = form.first("wanted_by")
    if form.first("needs_icpe") in ("1", "true", "on"):
        need["needs_icpe"] = True
    for name in ("uses", "kinds"):
        if form.all(name):
            need[name] = form.all(name)
    communes = [c.strip() for v in form.all("communes") for c in v.split(",") if c.strip()]
    if communes:
        need["communes"] = communes
    if "required" in values:
        need["required"] = form.all("required")
    places = _places(form, lang)
    if places:
        need["places"] = places
    if form.errors:
        return form
    try:
        parsed = NeedIn.model_validate(need, context={"territory": territory})
    except ValidationError as exc:
        for e in error_details(exc):
            form.errors.append((e["field"].split(".")[0], _field_error(e, lang)))
        return form
    form.need = parsed.model_dump(mode="json", exclude_defaults=True)
    form.need["company_name"] = need["company_name"]
    if "required" in need:
        form.need["required"] = [str(c) for c in parsed.required]
    return form


def _field_error(error: Mapping[str, str], lang: Lang) -> str:
    name = error["field"].split(".")[0]
    if name in NUMBERS:
        shown = NUMBERS[name][0 if lang == "fr" else 1]
    elif name in TEXTS:
        shown = TEXTS[name][0 if lang == "fr" else 1]
    else:
        shown = name
    return (
        f"{shown} ({error['field']}) : {error['reason']}"
        if lang == "fr"
        else (f"{shown} ({error['field']}): {error['reason']}")
    )


def _places(form: SearchForm, lang: Lang) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    fr = lang == "fr"
    for i in range(MAX_PLACES):
        label_text, lon, lat, max_m = (form.place(i, k) for k in _PLACE_KEYS)
        if not (label_text or lon or lat):
            continue
        x, y = _number(lon, False), _number(lat, False)
        if not label_text or x is None or y is None:
            form.errors.append(
                (
                    "places",
                    f"Lieu {i + 1} : donnez un nom, une longitude et une latitude."
                    if fr
                    else f"Place {i + 1}: give a name, a longitude and a latitude.",
                )
            )
            continue
        place: dict[str, Any] = {"label": label_text, "lon": x, "lat": y}
        if max_m:
            limit = _number(max_m, False)
            if limit is None:
                form.errors.append(
                    (
                        "places",
                        f"Lieu {i + 1} : « {max_m[:40]} » n'est pas une distance en mètres."
                        if fr
                        else f"Place {i + 1}: '{max_m[:40]}' is not a distance in metres.",
                    )
                )
                continue
            place["max_distance_m"] = limit
        out.append(place)
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6f}".rstrip("0").rstrip(".") if not value.is_integer() else str(int(value))
    return str(value)


def need_query(need: Mapping[str, Any], territory: Territory) -> list[tuple[str, str]]:
    """The URL parameters of a need (the inverse of :func:`parse_search`).

    Examples
    --------
    >>> from geodata.territory import default_territory
    >>> need_query({"surface_min_m2": 500.0, "uses": ["logistics"], "communes": ["94065"],
    ...             "required": ["surface"]}, default_territory())  # doctest: +NORMALIZE_WHITESPACE
    [('surface_min_m2', '500'), ('uses', 'logistics'), ('communes', 'Rungis'),
     ('required', ''), ('required', 'surface')]
    """
    pairs: list[tuple[str, str]] = []
    for name, value in need.items():
        if value is None or name in ("company_name", "owner_account", "active"):
            continue
        if name == "communes":
            names = [territory.commune_names.get(c, c) for c in value]
            if names:
                pairs.append(("communes", ", ".join(names)))
        elif name == "places":
            for place in value:
                pairs += [
                    ("place_label", str(place["label"])),
                    ("place_lon", _fmt(place["lon"])),
                    ("place_lat", _fmt(place["lat"])),
                    ("place_max_m", _fmt(place.get("max_distance_m") or "")),
                ]
        elif name == "required":
            pairs.append(("required", ""))
            pairs += [("required", str(c)) for c in value]
        elif isinstance(value, list):
            pairs += [(name, str(v)) for v in value]
        elif isinstance(value, bool):
            if value:
                pairs.append((name, "1"))
        elif name in NUMBERS or name in ("naf_code", "tenure", "wanted_by"):
            pairs.append((name, _fmt(value)))
    return pairs


def _search_url(pairs: Sequence[tuple[str, str]], lang: Lang, path: str = "/recherche") -> str:
    return f"{path}?{urlencode([*pairs, ('lang', lang)])}"


def _facts(item: Any, lang: Lang, commune: str) -> list[str]:
    """Key facts of a result, in words and units."""
    p: Any = item.premises
    fr = lang == "fr"
    facts = [label(p.kind, lang), f"{fmt_number(p.surface_m2, lang)} m²", commune]
    if p.rent_eur_m2_year:
        facts.append(
            f"{fmt_number(p.rent_eur_m2_year, lang)} €/m²/an"
            if fr
            else f"€{fmt_number(p.rent_eur_m2_year, lang)}/m²/year"
        )
    if p.sale_price_eur:
        facts.append(
            f"{fmt_number(p.sale_price_eur, lang)} € à l'achat"
            if fr
            else f"€{fmt_number(p.sale_price_eur, lang)} to buy"
        )
    if p.available_from:
        facts.append(
            f"libre le {p.available_from:%d/%m/%Y}"
            if fr
            else f"free from {p.available_from:%Y-%m-%d}"
        )
    return facts


def _results_map(
    request: Request,
    settings: Any,
    territory: Territory,
    need: Mapping[str, Any],
    answer: MatchResponse | None,
    lang: Lang,
) -> maps.MapParts:
    """The need's area and places, and the ranked premises coloured by score."""
    m = maps.new_map(settings.maps)
    maps.communes_layer(territory, need.get("communes") or None).add_to(m)
    if need.get("center_lon") is not None and need.get("radius_m"):
        folium.Circle(
            location=[need["center_lat"], need["center_lon"]],
            radius=need["radius_m"],
            color="#12365a",
            weight=2,
            fill=False,
        ).add_to(m)
    places = need.get("places") or []
    if places:
        data = maps.point_features(
            [p["lon"] for p in places],
            [p["lat"] for p in places],
            [{"title": p["label"], "lines": []} for p in places],
        )
        maps.PointsLayer(data, name="places", style="place").add_to(m)
    if answer is not None and answer.results:
        rows: list[Any] = [r.premises for r in answer.results]
        props = [
            {
                "id": p.id,
                "title": p.title,
                "lines": [
                    f"{'Rang' if lang == 'fr' else 'Rank'} {r.rank} · score {round(r.score)}/100",
                    f"{label(p.kind, lang)} · {fmt_number(p.surface_m2, lang)} m²",
                ],
                "href": f"/locaux/{p.id}?lang={lang}",
                "score": round(r.score),
            }
            for r, p in zip(answer.results, rows, strict=True)
        ]
        data = maps.point_features([p.lon for p in rows], [p.lat for p in rows], props)
        link = "Voir le local" if lang == "fr" else "See the premises"
        maps.PointsLayer(data, link_text=link, fit=True).add_to(m)
    return maps.render_map(m, csp_nonce(request))


@router.get(
    "/recherche",
    response_class=HTMLResponse,
    openapi_extra=OPTIONAL_AUTH,
    responses=PAGE_RESPONSES,
)
@router.get("/search", response_class=HTMLResponse, include_in_schema=False)
def search_page(
    request: Request,
    repo: RepoDep,
    territory: TerritoryDep,
    settings: SettingsDep,
    now: NowDep,
    account: OptionalAccount,
    lang: Annotated[Lang, Query()] = "fr",
    saved: Annotated[int | None, Query(ge=1)] = None,
) -> Any:
    """The search form and, once a surface range is given, the ranked premises and their map."""
    pairs = [(k, v) for k, v in request.query_params.multi_items() if k not in ("lang", "saved")]
    form = parse_search(pairs, territory, lang)
    answer = None
    if form.submitted and not form.errors:
        need = NeedIn.model_validate(form.need, context={"territory": territory})
        answer = rank_for_need(
            repo,
            request.app.state.match_index,
            need,
            k=RESULTS,
            lang=lang,
            verified_since=hide_before(now, settings.freshness),
            now=now,
        )
    query = need_query(form.need, territory) if form.need else []
    relaxations = []
    if answer is not None:
        for r in answer.relaxations:
            relaxed = {**form.need, **r.need_update}
            relaxed = {k: v for k, v in relaxed.items() if v is not None}
            relaxations.append((r, _search_url(need_query(relaxed, territory), lang)))
    results = []
    if answer is not None:
        for item in answer.results:
            insee: Any = item.premises.commune_insee  # type: ignore[attr-defined]
            commune = (
                territory.commune_name(insee) if insee in territory.insee_codes else (insee or "—")
            )
            results.append((item, _facts(item, lang, commune)))
    status = 422 if form.errors else 200
    response = render(
        request,
        "search.html",
        lang,
        account=account,
        form=form,
        answer=answer,
        results=results,
        relaxations=relaxations,
        few=answer is not None and len(answer.results) < FEW,
        map=_results_map(request, settings, territory, form.need, answer, lang),
        numbers=NUMBERS,
        texts=TEXTS,
        criteria=CRITERIA,
        uses=[u.value for u in Use],
        kinds=[k.value for k in PremisesKind],
        tenures=[t.value for t in TenureWanted],
        required_now=form.all("required") if "required" in form.values else DEFAULT_REQUIRED,
        max_places=MAX_PLACES,
        commune_list=sorted(territory.commune_names.values()),
        query_pairs=query,
        share_url=_search_url(query, lang) if query else None,
        saved=saved,
    )
    response.status_code = status
    return response


@router.post("/recherche/enregistrer", response_class=HTMLResponse)
async def save_search(
    request: Request,
    repo: RepoDep,
    territory: TerritoryDep,
    account: OptionalAccount,
    lang: Annotated[Lang, Query()] = "fr",
    company_name: Annotated[str, Form(max_length=200)] = "",
) -> Any:
    """Save the search as a need of the signed-in company (``POST /needs``), with its alerts."""
    submitted = await request.form()
    pairs = [
        (k, v)
        for k, v in submitted.multi_items()
        if isinstance(v, str) and k not in ("csrf_token", "company_name", "lang")
    ]
    back = _search_url(pairs, lang)
    if account is None:
        return RedirectResponse(f"/login?lang={lang}&next={_quote(back)}", status_code=303)
    form = parse_search([*pairs, ("company_name", company_name)], territory, lang)
    if form.errors or not form.need:
        detail = "; ".join(text for _, text in form.errors) or "surface_min_m2"
        raise ProblemError(422, _text(detail, detail))
    body = {k: v for k, v in form.need.items() if k != "company_name"}
    body["company_name"] = company_name.strip() or account.name
    created = create_need(repo, territory, account, Response(), body)
    return RedirectResponse(f"{back}&saved={created['id']}", status_code=303)


def _quote(url: str) -> str:
    from urllib.parse import quote

    return quote(url, safe="")


def _text(fr: str, en: str) -> Any:
    from ..errors import Text

    return Text(fr, en)
