"""Dependencies shared by the routes: settings, repository, territory, query parsing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Literal

from fastapi import Depends, Header, HTTPException, Path, Query, Request
from pydantic import BaseModel, Field

from geodata.schemas import PremisesKind, Status, Use
from geodata.storage import Repository
from geodata.storage.query import PremisesQuery
from geodata.territory import CommuneNameError, Territory

from .alerts import ListingAlerts
from .errors import Lang, preferred_language
from .settings import Settings

__all__ = [
    "MAX_INT32",
    "LangDep",
    "ListingAlertsDep",
    "NowDep",
    "PremisesFilterParams",
    "PremisesFiltersDep",
    "PremisesIdPath",
    "PremisesPageParams",
    "PremisesQueryDep",
    "RepoDep",
    "SettingsDep",
    "TerritoryDep",
    "get_lang",
    "get_listing_alerts",
    "get_now",
    "get_premises_filters",
    "get_premises_query",
    "get_repo",
    "get_settings",
    "get_territory",
]


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_repo(request: Request) -> Repository:
    """The repository opened in the app's lifespan."""
    repo: Repository = request.app.state.repo
    return repo


async def get_now(request: Request) -> datetime:
    """The current time (aware, UTC) on the app's clock (``app.state.clock``, see create_app)."""
    clock: Callable[[], datetime] = request.app.state.clock
    return clock()


async def get_territory(request: Request) -> Territory:
    """The territory loaded in the app's lifespan."""
    territory: Territory = request.app.state.territory
    return territory


#: The largest id or offset accepted: ids are 32-bit integers in the database, and a larger
#: number would overflow the driver's binding (a 500) instead of simply matching nothing.
MAX_INT32 = 2**31 - 1

#: A listing id in a path: a positive 32-bit integer (422 otherwise, naming the field).
PremisesIdPath = Annotated[int, Path(ge=1, le=MAX_INT32, description="The listing's id")]


async def get_lang(
    lang: Annotated[Lang | None, Query(description="fr or en (else Accept-Language)")] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Lang:
    """The language of the texts: ``?lang=``, else Accept-Language, else French."""
    return preferred_language(lang, accept_language)


SettingsDep = Annotated[Settings, Depends(get_settings)]
RepoDep = Annotated[Repository, Depends(get_repo)]
TerritoryDep = Annotated[Territory, Depends(get_territory)]
NowDep = Annotated[datetime, Depends(get_now)]
LangDep = Annotated[Lang, Depends(get_lang)]


async def get_listing_alerts(request: Request, now: NowDep) -> ListingAlerts:
    """The alerts hook of a request's listing writes (:class:`api.alerts.ListingAlerts`),
    measuring access with the process's match index."""
    return ListingAlerts(
        request.app.state.match_index.snapshot, now, request.app.state.settings.freshness
    )


ListingAlertsDep = Annotated[ListingAlerts, Depends(get_listing_alerts)]

#: The orders of ``GET /premises``: by surface, rent, sale price (ascending, or descending
#: with ``-``), freshness (most recently confirmed first; ``-freshness`` the oldest first) or
#: distance to ``near`` (nearest first).
Sort = Literal[
    "surface", "-surface", "rent", "-rent", "price", "-price", "freshness", "-freshness", "distance"
]


class PremisesFilterParams(BaseModel):
    """The listing filters as query parameters (:func:`get_premises_filters`).

    One model rather than a dozen parameters: FastAPI validates it in one call, which costs
    a read route less per request, and documents its fields as the same query parameters.
    """

    commune: str | None = Field(
        default=None, description="A commune: its INSEE code or its name, in any case"
    )
    kind: PremisesKind | None = None
    use: Use | None = None
    min_surface_m2: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    max_surface_m2: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    status: Status | None = None
    bbox: str | None = Field(default=None, description="minlon,minlat,maxlon,maxlat")
    min_rent_eur_m2_year: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="Rent at least (€/m²/year)"
    )
    max_rent_eur_m2_year: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="Rent at most (€/m²/year)"
    )
    min_sale_price_eur: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="Sale price at least (€)"
    )
    max_sale_price_eur: float | None = Field(
        default=None, ge=0, allow_inf_nan=False, description="Sale price at most (€)"
    )
    q: str | None = Field(
        default=None,
        max_length=200,
        description="Words to find in the title, description or address (every word; "
        "case and accents ignored)",
    )


async def get_premises_filters(
    territory: TerritoryDep, params: Annotated[PremisesFilterParams, Query()]
) -> PremisesQuery:
    """Parse the listing filters into a :class:`PremisesQuery` (every listing: no page).

    Shared by ``GET /premises`` and the OGC API's premises items, so that both filter alike.
    A commune may be given by its INSEE code or its name (any case, accents optional).
    Every error names its field.
    """
    commune = params.commune
    if commune is not None:
        try:
            commune = territory.commune_code(commune)
        except CommuneNameError as exc:
            raise HTTPException(status_code=400, detail=f"commune: {exc}") from exc
    try:
        query = PremisesQuery.parse(**{**params.model_dump(), "commune": commune, "limit": None})
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc
    if query.commune is not None and query.commune not in territory.insee_codes:
        msg = f"commune: '{commune}' is not the INSEE code of a commune of {territory.name}"
        raise HTTPException(status_code=400, detail=msg)
    return query


PremisesFiltersDep = Annotated[PremisesQuery, Depends(get_premises_filters)]


class PremisesPageParams(BaseModel):
    """The order and the page of ``GET /premises`` as query parameters
    (:func:`get_premises_query`)."""

    sort: Sort | None = Field(
        default=None,
        description="Order of the items (ties by id); distance needs near. Default: id",
    )
    near: str | None = Field(
        default=None, max_length=100, description="lon,lat: the point of sort=distance"
    )
    limit: int | None = Field(default=None, ge=1, le=MAX_INT32)
    offset: int = Field(default=0, ge=0, le=MAX_INT32)


async def get_premises_query(
    settings: SettingsDep,
    filters: PremisesFiltersDep,
    params: Annotated[PremisesPageParams, Query()],
) -> PremisesQuery:
    """The listing filters with an order and a page of at most the configured size
    (``GET /premises``). ``sort=distance`` without ``near`` is a 422 naming ``sort``."""
    sort, near, limit = params.sort, params.near, params.limit
    if sort == "distance" and near is None:
        msg = "sort: sorting by distance needs a point; add near=lon,lat (WGS84, e.g. 2.39,48.79)"
        raise HTTPException(status_code=422, detail=msg)
    page = settings.api.default_page_size if limit is None else limit
    if page > settings.api.max_page_size:
        msg = f"limit: at most {settings.api.max_page_size} items per page"
        raise HTTPException(status_code=400, detail=msg)
    try:
        return PremisesQuery.parse(
            **{
                **filters.model_dump(),
                "near": near,
                "order_by": sort or "id",
                "limit": page,
                "offset": params.offset,
            }
        )
    except ValueError as exc:
        raise HTTPException(status_code=400, detail=str(exc)) from exc


PremisesQueryDep = Annotated[PremisesQuery, Depends(get_premises_query)]
