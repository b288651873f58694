"""The developer's pages: "Mes annonces" (table, map, freshness, status, demand), the listing
form (create, edit, location picked on a map) and the upload of a listing file.

Every write goes through the code of the API's routes (:func:`.premises.create_listing`,
:func:`.premises.patch_listing`, :func:`.premises.set_listing_status`,
:func:`.freshness.confirm_listing`) and the demand through :func:`.demand.demand_for`, so the
pages and the API keep the same rules: a developer sees and edits its own listings only, the
staff every listing; edits are compare-and-set on the version the form was read at; a form
sent with the session cookie carries the session's CSRF token (checked by
:func:`api.auth.get_optional_account`, 403 otherwise). A signed-out visitor is sent to
``/login`` and back; a company account gets a 403 page; another developer's listing is a 404
(its existence is not told).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import folium
from fastapi import APIRouter, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData

import shapely

from geodata.io import ImportReport
from geodata.schemas import Premises, PremisesCreate, Status
from geodata.storage.accounts import Account
from geodata.storage.errors import DuplicateRefError, NotFoundError, StaleVersionError
from geodata.storage.query import PremisesQuery
from matcher import MatchIndex

from .. import maps
from ..auth import OPTIONAL_AUTH, OptionalAccount, can_edit
from ..deps import (
    MAX_INT32,
    ListingAlertsDep,
    NowDep,
    PremisesIdPath,
    RepoDep,
    SettingsDep,
    TerritoryDep,
)
from ..freshness import freshness_of
from ..outcomes import live_ranker
from ..pages import (
    PAGE_RESPONSES,
    Lang,
    csp_nonce,
    fmt_number,
    render,
    sign_in_redirect,
    url_with_lang,
)
from ..settings import Settings
from .demand import SURFACE_BANDS, active_needs, demand_for
from .freshness import confirm_listing
from .pages_dev_forms import (
    FIELDS,
    SECTIONS,
    field_label,
    form_values,
    parse_listing_form,
    translate_error,
    validation_errors,
)
from .pages_dev_import import (
    ImportRefusedError,
    StagedFile,
    discard,
    run_import,
    stage_file,
    staged_file,
)
from .premises import create_listing, patch_listing, set_listing_status

__all__ = ["UPLOAD_PATH", "large_bodies", "router"]

router = APIRouter(tags=["pages"])

PAGE = 50
BASE = "/mes-annonces"
UPLOAD_PATH = f"{BASE}/import"
#: Room for the multipart envelope around an uploaded file.
_MULTIPART_SLACK = 64 * 1024

Offset = Annotated[int, Query(ge=0, le=MAX_INT32)]
LangQuery = Annotated[Lang, Query()]

_HTML: dict[str, Any] = {"text/html": {}}
#: What a form of these pages may answer besides :data:`api.pages.PAGE_RESPONSES`: a 403
#: also when a form sent with the session cookie lacks the session's CSRF token (a problem).
FORM_RESPONSES: dict[int | str, dict[str, Any]] = {
    **PAGE_RESPONSES,
    403: {
        "description": "Not allowed for this account (a page), or a form sent with the "
        "session cookie without the session's CSRF token (a problem)",
        "content": _HTML,
    },
}
#: The listing form's body, read field by field by ``parse_listing_form`` (which names each
#: bad field in the page it answers, 422): any field may be missing, empty or repeated, so
#: the schema names them without constraining them.
_LISTING_FORM: dict[str, Any] = {
    "required": False,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {
                    "csrf_token": {
                        "description": "The session's CSRF token (with the session cookie)."
                    },
                    "version": {"description": "The version the form was read at (edits)."},
                    **{spec.name: {"description": spec.en} for spec in FIELDS},
                },
            }
        }
    },
}


def large_bodies(settings: Settings) -> dict[str, int]:
    """The upload path and its body limit, for :class:`api.middleware.HardeningMiddleware`."""
    return {UPLOAD_PATH: settings.uploads.max_bytes + _MULTIPART_SLACK}


def _megabytes(settings: Settings, lang: Lang) -> str:
    mb = settings.uploads.max_bytes / 1_048_576
    return fmt_number(mb, lang, 0 if mb.is_integer() else 1)


def _t(lang: Lang, fr: str, en: str) -> str:
    return fr if lang == "fr" else en


def _gate(request: Request, account: Account | None, lang: Lang) -> Response | None:
    """Send a signed-out visitor to the sign-in page (and back), refuse a company account."""
    if account is None:
        # After a form post, back to the list (the form's page would lose what was typed).
        back = None if request.method == "GET" else url_with_lang(BASE, lang)
        return sign_in_redirect(request, lang, back)
    if account.role not in ("developer", "staff"):
        response: Response = render(request, "listings_denied.html", lang, account=account)
        response.status_code = 403
        return response
    return None


def _not_found(request: Request, account: Account, lang: Lang, premises_id: int) -> Response:
    response: Response = render(
        request, "listings_denied.html", lang, account=account, missing=premises_id
    )
    response.status_code = 404
    return response


def _owned(repo: RepoDep, account: Account, premises_id: int) -> Premises | None:
    """The listing if the account may edit it; None when absent or someone else's."""
    try:
        item = repo.get_premises(premises_id)
    except NotFoundError:
        return None
    return item if can_edit(account, item.owner_account) else None


def _back(lang: Lang, **params: Any) -> RedirectResponse:
    anchor = f"#listing-{params['id']}" if params.get("id") else ""
    return RedirectResponse(url_with_lang(BASE, lang, params) + anchor, status_code=303)


# --- "Mes annonces" ------------------------------------------------------------------------


def _demand(
    request: Request, repo: RepoDep, territory: TerritoryDep, items: list[Premises]
) -> dict[int, dict[str, Any]]:
    """The demand profile of each listing of the page (``GET /premises/{id}/demand``'s code),
    never the needs themselves."""
    if not items:
        return {}
    with repo.connect() as conn:
        index: MatchIndex = request.app.state.match_index.current(conn)
        active, table = active_needs(request.app).get(conn)
        # Scored as GET /premises/{id}/demand scores: by the promoted model, if any.
        ranker, _ = live_ranker(conn)
    missing = [item for item in items if index.position(item.id) is None]
    if missing:  # withdrawn or hidden listings: measured on one private copy
        index = index.copy()
        for item in missing:
            index.update(item.id, item.model_dump())
    return {
        item.id: demand_for(
            index, item.id, active, table, territory, with_needs=False, ranker=ranker
        )
        for item in items
    }


def _band_label(name: str, lang: Lang) -> str:
    low, _, high = name.partition("-")
    if name.endswith("+"):
        return f"≥ {fmt_number(float(name[:-1]), lang)} m²"
    return f"{fmt_number(float(low), lang)}–{fmt_number(float(high), lang)} m²"


def _profile_lines(profile: dict[str, Any], lang: Lang) -> dict[str, list[str]]:
    """The demand profile as short readable lines (no enum code, no company)."""
    from geodata.schemas import label

    bands = [
        f"{_band_label(name, lang)} : {n}" if lang == "fr" else f"{_band_label(name, lang)}: {n}"
        for name, n in profile["surface_bands"].items()
        if n
    ]
    sep = " : " if lang == "fr" else ": "
    uses = [f"{label(use, lang)}{sep}{n}" for use, n in profile["uses"].items()]
    communes = [f"{c.name or c.code}{sep}{c.count}" for c in profile["communes"][:8]]
    tenure = [f"{label(k, lang)}{sep}{n}" for k, n in profile["tenure"].items()]
    return {"bands": bands, "uses": uses, "communes": communes, "tenure": tenure}


_DONE = {
    "created": ("Annonce n° {id} créée.", "Listing #{id} created."),
    "updated": ("Annonce n° {id} enregistrée.", "Listing #{id} saved."),
    "confirmed": (
        "Annonce n° {id} confirmée : elle reste dans la recherche publique.",
        "Listing #{id} confirmed: it stays in the public search.",
    ),
    "status": ("Statut de l'annonce n° {id} changé.", "Status of listing #{id} changed."),
}
_ERROR = {
    "stale": (
        "L'annonce n° {id} a été modifiée par quelqu'un d'autre depuis l'affichage de cette "
        "page ; rien n'a été changé. Vérifiez-la ci-dessous et recommencez.",
        "Listing #{id} was changed by someone else since this page was shown; nothing was "
        "changed. Check it below and try again.",
    ),
    "status": ("Statut inconnu ; rien n'a été changé.", "Unknown status; nothing was changed."),
}


@router.get(
    BASE, response_class=HTMLResponse, openapi_extra=OPTIONAL_AUTH, responses=PAGE_RESPONSES
)
@router.get("/my-listings", response_class=HTMLResponse, include_in_schema=False)
def my_listings(
    request: Request,
    repo: RepoDep,
    settings: SettingsDep,
    territory: TerritoryDep,
    now: NowDep,
    account: OptionalAccount,
    lang: LangQuery = "fr",
    offset: Offset = 0,
    done: Annotated[str | None, Query(max_length=20)] = None,
    error: Annotated[str | None, Query(max_length=20)] = None,
    id: Annotated[int | None, Query(ge=1, le=MAX_INT32)] = None,
) -> Response:
    """The caller's listings (every listing for the staff): table, map, freshness, status,
    demand, and the upload of a listing file."""
    refused = _gate(request, account, lang)
    if refused is not None:
        return refused
    assert account is not None
    owner = None if account.role == "staff" else account.name
    # The listings changed last come first (a new or just edited one is at the top).
    query = PremisesQuery(owner=owner, limit=PAGE, offset=offset, order_by="-updated_at")
    page = repo.list_premises(query)
    items = list(page.items)
    rules = settings.freshness
    fresh = {item.id: freshness_of(item, now, rules) for item in items}
    demand = _demand(request, repo, territory, items)
    profiles = {pid: _profile_lines(p, lang) for pid, p in demand.items()}
    m = maps.new_map(settings.maps)
    features = maps.point_features(
        [item.lon for item in items],
        [item.lat for item in items],
        [
            {
                "id": item.id,
                "title": item.title,
                "lines": [
                    f"{fmt_number(item.surface_m2, lang)} m² · " + _status_label(item.status, lang),
                    territory.commune_name(item.commune_insee)
                    if item.commune_insee in territory.insee_codes
                    else (item.commune_insee or "—"),
                ],
                "href": url_with_lang(f"{BASE}/{item.id}/modifier", lang),
            }
            for item in items
        ],
    )
    maps.PointsLayer(
        features, name="listings", link_text=_t(lang, "Modifier", "Edit"), fit=bool(items)
    ).add_to(m)
    parts = maps.render_map(m, csp_nonce(request))
    message = None
    if done in _DONE and id is not None:
        message = _DONE[done][0 if lang == "fr" else 1].format(id=id)
    problem = None
    if error in _ERROR:
        problem = _ERROR[error][0 if lang == "fr" else 1].format(id=id or "?")
    flagged = sum(1 for f in fresh.values() if f.flagged)
    return render(
        request,
        "listings.html",
        lang,
        account=account,
        map=parts,
        items=items,
        total=page.total,
        fresh=fresh,
        flagged=flagged,
        demand=demand,
        profiles=profiles,
        statuses=[s.value for s in Status],
        message=message,
        problem=problem,
        rules=rules,
        max_upload_mb=_megabytes(settings, lang),
        prev_offset=max(0, offset - PAGE) if offset > 0 else None,
        next_offset=offset + PAGE if offset + PAGE < page.total else None,
        bands=len(SURFACE_BANDS) + 1,
    )


def _status_label(status: Any, lang: Lang) -> str:
    from geodata.schemas import label

    return label(str(status), lang)


@router.post(
    f"{BASE}/{{premises_id}}/confirmer",
    response_class=HTMLResponse,
    openapi_extra=OPTIONAL_AUTH,
    responses=FORM_RESPONSES,
)
def confirm(
    request: Request,
    premises_id: PremisesIdPath,
    repo: RepoDep,
    account: OptionalAccount,
    alerts: ListingAlertsDep,
    now: NowDep,
    version: Annotated[int, Form(ge=1, le=MAX_INT32)],
    lang: LangQuery = "fr",
) -> Response:
    """Confirm that a listing is still true (``POST /premises/{id}/confirm``'s code)."""
    refused = _gate(request, account, lang)
    if refused is not None:
        return refused
    assert account is not None
    if _owned(repo, account, premises_id) is None:
        return _not_found(request, account, lang, premises_id)
    try:
        confirm_listing(repo, account, alerts, now, premises_id, version)
    except StaleVersionError:
        return _back(lang, error="stale", id=premises_id)
    return _back(lang, done="confirmed", id=premises_id)


@router.post(
    f"{BASE}/{{premises_id}}/statut",
    response_class=HTMLResponse,
    openapi_extra=OPTIONAL_AUTH,
    responses=FORM_RESPONSES,
)
def change_status(
    request: Request,
    premises_id: PremisesIdPath,
    repo: RepoDep,
    account: OptionalAccount,
    alerts: ListingAlertsDep,
    now: NowDep,
    version: Annotated[int, Form(ge=1, le=MAX_INT32)],
    status: Annotated[str, Form(max_length=20)],
    lang: LangQuery = "fr",
) -> Response:
    """Change a listing's status (``POST /premises/{id}/status``'s code)."""
    refused = _gate(request, account, lang)
    if refused is not None:
        return refused
    assert account is not None
    if _owned(repo, account, premises_id) is None:
        return _not_found(request, account, lang, premises_id)
    if status not in {s.value for s in Status}:
        return _back(lang, error="status", id=premises_id)
    try:
        set_listing_status(repo, account, alerts, now, premises_id, Status(status), version)
    except StaleVersionError:
        return _back(lang, error="stale", id=premises_id)
    return _back(lang, done="status", id=premises_id)


# --- the listing form ------------------------------------------------------------------------


def _form_page(
    request: Request,
    settings: Settings,
    territory: TerritoryDep,
    lang: Lang,
    account: Account,
    *,
    values: dict[str, Any],
    errors: dict[str, str],
    item: Premises | None = None,
    version: int | None = None,
    stale: bool = False,
    status_code: int = 200,
    extra: dict[str, Any] | None = None,
) -> Response:
    """The create or edit form, with what was typed and the errors next to their fields
    (``extra``: more of the template's context, such as the photos' errors)."""
    point = _point(values)
    commune = territory.commune_at([point[0]], [point[1]])[0] if point is not None else None
    location = (point[1], point[0]) if commune is not None and point else maps.DEFAULT_CENTER
    m = maps.new_map(settings.maps, location=location, zoom=15 if commune is not None else 12)
    folium.GeoJson(
        _outline(territory),
        name=territory.name,
        style_function=lambda _: {"color": "#12365a", "weight": 2, "fillOpacity": 0.04},
        interactive=False,
    ).add_to(m)
    if commune is None:  # no point yet: the whole territory
        west, south, east, north = territory.boundary.bounds
        m.fit_bounds([[south, west], [north, east]])
    parts = maps.render_map(m, csp_nonce(request))
    shown_errors = dict(errors)
    location_error = " ".join(
        dict.fromkeys(text for name, text in errors.items() if name in ("lon", "lat"))
    )
    summary = [
        (name, field_label(name, lang), text)
        for name, text in shown_errors.items()
        if name not in ("lon", "lat")
    ]
    if location_error:
        summary.insert(0, ("lon", _t(lang, "Emplacement", "Location"), location_error))
    action = f"{BASE}/{item.id}/modifier" if item else f"{BASE}/nouvelle"
    response: Response = render(
        request,
        "listing_form.html",
        lang,
        account=account,
        map=parts,
        item=item,
        version=version,
        values=values,
        errors=shown_errors,
        location_error=location_error,
        summary=summary,
        stale=stale,
        commune=territory.commune_name(commune) if commune else None,
        sections=[
            (fr if lang == "fr" else en, [f for f in FIELDS if f.name in names])
            for fr, en, names in SECTIONS
        ],
        staff=account.role == "staff",
        action=url_with_lang(action, lang),
        **(extra or {}),
    )
    response.status_code = status_code
    return response


def _outline(territory: TerritoryDep) -> dict[str, Any]:
    """The territory's outline, simplified to about 30 m (a light layer for the picker)."""
    geometry = json.loads(shapely.to_geojson(shapely.simplify(territory.boundary, 0.0003)))
    return {"type": "Feature", "properties": {}, "geometry": geometry}


def _point(values: dict[str, Any]) -> tuple[float, float] | None:
    """The (lon, lat) typed in the form, when both are numbers in range."""
    try:
        lon = float(str(values.get("lon", "")).replace(",", ".").strip())
        lat = float(str(values.get("lat", "")).replace(",", ".").strip())
    except ValueError:
        return None
    if not (-180 <= lon <= 180 and -90 <= lat <= 90):
        return None
    return lon, lat


def _multi(form: FormData) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for key, value in form.multi_items():
        if isinstance(value, str):
            out.setdefault(key, []).append(value)
    return out


@router.get(
    f"{BASE}/nouvelle",
    response_class=HTMLResponse,
    openapi_extra=OPTIONAL_AUTH,
    responses=PAGE_RESPONSES,
)
@router.get("/my-listings/new", response_class=HTMLResponse, include_in_schema=False)
def new_listing(
    request: Request,
    settings: SettingsDep,
    territory: TerritoryDep,
    account: OptionalAccount,
    lang: LangQuery = "fr",
) -> Response:
    """An empty listing form."""
    refused = _gate(request, account, lang)
    if refused is not None:
        return refused
    assert account is not None
    values = form_values({"status": "available", "kind": None, "tenure": None}, lang)
    return _form_page(request, settings, territory, lang, account, values=values, errors={})


@router.post(
    f"{BASE}/nouvelle",
    response_class=HTMLResponse,
    openapi_extra={**OPTIONAL_AUTH, "requestBody": _LISTING_FORM},
    responses=FORM_RESPONSES,
)
async def create(
    request: Request,
    repo: RepoDep,
    settings: SettingsDep,
    territory: TerritoryDep,
    account: OptionalAccount,
    alerts: ListingAlertsDep,
    now: NowDep,
    lang: LangQuery = "fr",
) -> Response:
    """Create a listing from the form (``POST /premises``'s code); the commune is found
    from the point; errors are shown in the form, which keeps what was typed."""
    refused = _gate(request, account, lang)
    if refused is not None:
        return refused
    assert account is not None
    form = _multi(await request.form())
    parsed = parse_listing_form(form, lang, staff=account.role == "staff")
    errors = dict(parsed.errors)
    data = dict(parsed.data)
    if account.role == "staff" and not data.get("owner_account"):
        data.pop("owner_account", None)
    if errors:
        errors = _with_schema_errors(errors, data, territory, lang)
    else:
        try:
            created = create_listing(repo, territory, account, alerts, now, data)
        except ValidationError as exc:
            errors = validation_errors(exc, lang)
        except DuplicateRefError:
            errors = {"external_ref": _duplicate_ref(lang)}
        else:
            return _back(lang, done="created", id=created.id)
    return _form_page(
        request,
        settings,
        territory,
        lang,
        account,
        values=parsed.values,
        errors=errors,
        status_code=422,
    )


def _with_schema_errors(
    errors: dict[str, str], data: dict[str, Any], territory: TerritoryDep, lang: Lang
) -> dict[str, str]:
    """The form's reading errors, plus what the schema finds in the other fields (so that
    every field to fix is named at once); nothing is written."""
    context = {"territory": territory}
    try:
        PremisesCreate.model_validate(data, context=context)
    except ValidationError as exc:
        for name, text in validation_errors(exc, lang).items():
            errors.setdefault(name, text)
    if "lon" not in errors and "lat" not in errors and {"lon", "lat"} <= data.keys():
        # Checks across fields wait for every field to be valid: check the place alone.
        place = {**_PLACE_ONLY, "lon": data["lon"], "lat": data["lat"]}
        try:
            PremisesCreate.model_validate(place, context=context)
        except ValidationError as exc:
            for name, text in validation_errors(exc, lang).items():
                if name in ("lon", "lat"):
                    errors.setdefault(name, text)
    return errors


#: The smallest valid listing, to check a point against the territory on its own.
_PLACE_ONLY: dict[str, Any] = {"title": "-", "kind": "workshop", "surface_m2": 1, "tenure": "rent"}


def _duplicate_ref(lang: Lang) -> str:
    return _t(
        lang,
        "cette référence est déjà celle d'une autre annonce ; choisissez-en une autre",
        "this reference is already another listing's; choose another one",
    )


@router.get(
    f"{BASE}/{{premises_id}}/modifier",
    response_class=HTMLResponse,
    openapi_extra=OPTIONAL_AUTH,
    responses=PAGE_RESPONSES,
)
def edit_listing(
    request: Request,
    premises_id: PremisesIdPath,
    repo: RepoDep,
    settings: SettingsDep,
    territory: TerritoryDep,
    account: OptionalAccount,
    lang: LangQuery = "fr",
) -> Response:
    """The form of one of the caller's listings, at its current version."""
    refused = _gate(request, account, lang)
    if refused is not None:
        return refused
    assert account is not None
    item = _owned(repo, account, premises_id)
    if item is None:
        return _not_found(request, account, lang, premises_id)
    values = form_values(item.model_dump(), lang)
    return _form_page(
        request,
        settings,
        territory,
        lang,
        account,
        values=values,
        errors={},
        item=item,
        version=item.version,
    )


def _changes(data: dict[str, Any], item: Premises) -> dict[str, Any]:
    """The fields the form changes (so that an unmoved point keeps its commune and zone)."""
    current = item.model_dump()
    return {k: v for k, v in data.items() if current.get(k) != v}


@router.post(
    f"{BASE}/{{premises_id}}/modifier",
    response_class=HTMLResponse,
    openapi_extra={**OPTIONAL_AUTH, "requestBody": _LISTING_FORM},
    responses={
        **FORM_RESPONSES,
        409: {"description": "Someone else saved the listing since (the form)", "content": _HTML},
    },
)
async def update(
    request: Request,
    premises_id: PremisesIdPath,
    repo: RepoDep,
    settings: SettingsDep,
    territory: TerritoryDep,
    account: OptionalAccount,
    alerts: ListingAlertsDep,
    now: NowDep,
    lang: LangQuery = "fr",
) -> Response:
    """Save the form of a listing as a compare-and-set on the version it was read at
    (``PATCH /premises/{id}``'s code); a stale form says someone else edited the listing."""
    refused = _gate(request, account, lang)
    if refused is not None:
        return refused
    assert account is not None
    item = _owned(repo, account, premises_id)
    if item is None:
        return _not_found(request, account, lang, premises_id)
    form = _multi(await request.form())
    parsed = parse_listing_form(form, lang, staff=account.role == "staff")
    raw_version = (form.get("version") or [""])[0]
    version = int(raw_version) if raw_version.isdigit() and len(raw_version) < 10 else 0
    errors = dict(parsed.errors)
    stale = False
    if errors:
        merged = {**item.model_dump(include=set(PremisesCreate.model_fields)), **parsed.data}
        errors = _with_schema_errors(errors, merged, territory, lang)
    else:
        try:
            patch_listing(
                repo,
                territory,
                account,
                alerts,
                now,
                premises_id,
                _changes(parsed.data, item),
                version,
            )
        except ValidationError as exc:
            errors = validation_errors(exc, lang)
        except StaleVersionError:
            stale = True
        except DuplicateRefError:
            errors = {"external_ref": _duplicate_ref(lang)}
        else:
            return _back(lang, done="updated", id=premises_id)
    return _form_page(
        request,
        settings,
        territory,
        lang,
        account,
        values=parsed.values,
        errors=errors,
        item=item,
        version=version,
        stale=stale,
        status_code=409 if stale else 422,
    )


# --- upload of a listing file ---------------------------------------------------------------


def _chunks(upload: UploadFile) -> Iterator[bytes]:
    upload.file.seek(0)
    while chunk := upload.file.read(1 << 20):
        yield chunk


def _report_rows(report: ImportReport, lang: Lang) -> dict[str, Any]:
    """The report as table rows in the reader's language."""
    kind = report.row_kind

    def where(row: int) -> str:
        if row == 0:
            return _t(lang, "Fichier", "File")
        if row == report.header_row and kind == "row":
            return _t(lang, f"En-tête (ligne {row})", f"Header (row {row})")
        if kind == "feature":
            return _t(lang, f"Entité {row}", f"Feature {row}")
        return _t(lang, f"Ligne {row}", f"Row {row}")

    def fields(name: str) -> str:
        return ", ".join(
            f"{field_label(n, lang)} ({n})" if field_label(n, lang) != n else n
            for n in name.split(", ")
        )

    errors = [
        {
            "where": where(e.row),
            "field": fields(e.field),
            "reason": translate_error(e.reason, lang),
            "value": e.value,
        }
        for e in report.errors
    ]
    warnings = [
        {
            "where": where(w.row),
            "field": fields(w.field or ""),
            "reason": translate_error(w.message, lang),
        }
        for w in report.warnings
    ]
    return {"errors": errors, "warnings": warnings}


def _upload_refused(
    request: Request, lang: Lang, account: Account, settings: Settings, exc: ImportRefusedError
) -> Response:
    """The upload page saying why the file was refused (422), in the page's language."""
    response: Response = render(
        request,
        "upload.html",
        lang,
        account=account,
        refused=exc.fr if lang == "fr" else exc.en,
        max_upload_mb=_megabytes(settings, lang),
    )
    response.status_code = 422
    return response


def _upload_report(
    request: Request,
    lang: Lang,
    account: Account,
    settings: Settings,
    report: ImportReport,
    staged: StagedFile,
    *,
    pending: bool,
) -> Response:
    """The upload page with a file's report; ``pending``: it still waits to be imported."""
    return render(
        request,
        "upload.html",
        lang,
        account=account,
        report=report,
        rows=_report_rows(report, lang),
        name=staged.name,
        token=staged.token if pending else None,
        checked=pending,
        max_upload_mb=_megabytes(settings, lang),
    )


@router.post(
    UPLOAD_PATH, response_class=HTMLResponse, openapi_extra=OPTIONAL_AUTH, responses=FORM_RESPONSES
)
def upload(
    request: Request,
    repo: RepoDep,
    settings: SettingsDep,
    territory: TerritoryDep,
    account: OptionalAccount,
    file: UploadFile | None = None,
    lang: LangQuery = "fr",
) -> Response:
    """Check a listing file (a dry run): the page lists its errors row by row, and offers
    to import it when it can be."""
    refused = _gate(request, account, lang)
    if refused is not None:
        return refused
    assert account is not None
    try:
        if file is None or not file.filename:
            raise ImportRefusedError(
                "fichier : choisissez un fichier CSV, XLSX, GeoJSON ou GeoPackage.",
                "file: choose a CSV, XLSX, GeoJSON or GeoPackage file.",
            )
        staged = stage_file(settings.uploads, _chunks(file), file.filename, account)
        try:
            report = run_import(repo, staged, account, territory, dry_run=True)
        except ImportRefusedError:
            discard(staged)
            raise
    except ImportRefusedError as exc:
        return _upload_refused(request, lang, account, settings, exc)
    return _upload_report(request, lang, account, settings, report, staged, pending=True)


@router.post(
    f"{UPLOAD_PATH}/enregistrer",
    response_class=HTMLResponse,
    openapi_extra=OPTIONAL_AUTH,
    responses=FORM_RESPONSES,
)
def upload_commit(
    request: Request,
    repo: RepoDep,
    settings: SettingsDep,
    territory: TerritoryDep,
    account: OptionalAccount,
    alerts: ListingAlertsDep,
    token: Annotated[str, Form(max_length=100)] = "",
    skip_invalid: Annotated[
        Literal["true", "false", ""] | None,
        Form(description="true: import the valid rows only (default: all or nothing)"),
    ] = None,
    lang: LangQuery = "fr",
) -> Response:
    """Import the file checked before ("Importer"), all or nothing unless the valid rows
    only were asked for; the listings written alert the saved searches they newly fit."""
    refused = _gate(request, account, lang)
    if refused is not None:
        return refused
    assert account is not None
    try:
        staged = staged_file(settings.uploads, token, account)
        report = run_import(
            repo,
            staged,
            account,
            territory,
            dry_run=False,
            skip_invalid=skip_invalid == "true",
            alerts=alerts,
        )
    except ImportRefusedError as exc:
        return _upload_refused(request, lang, account, settings, exc)
    if report.written:
        discard(staged)
    return _upload_report(
        request, lang, account, settings, report, staged, pending=not report.written
    )
