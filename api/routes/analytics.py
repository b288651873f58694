"""Demand analytics over HTTP: hot spots, unmet demand, supply/demand balance, most wanted
bands and the time to let (:mod:`matcher.analytics`).

Staff get the detail (the ids of the needs behind every figure); developers get aggregates
only: no need id, no company, and every count of needs from 1 to :data:`SMALL_COUNT` - 1 is
suppressed (``null``, with ``suppressed: true``) so that a figure never points at one or two
companies; zero and counts of :data:`SMALL_COUNT` or more are exact. Counts of listings
(the public supply) are never suppressed. Companies get a 403, anonymous callers a 401.

The active needs, their best scores (the batch engine) and the supply are computed once per
state of the catalogue, of the needs and of the day (the freshness hiding moves with it),
and reused by every analytics request until one of them changes.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from pydantic import BaseModel, Field

import shapely

from geodata.schemas import KIND_LABELS, USE_LABELS
from geodata.storage import audit
from geodata.storage import needs as needs_store
from geodata.storage.accounts import Account
from geodata.territory import Territory, to_wgs84
from matcher import MatchIndex
from matcher._codes import KINDS
from matcher._geo import to_lambert93
from matcher.engine import matchable_mask
from matcher.explain import fmt_number

from ..auth import CurrentAccount, require_role
from ..deps import LangDep, NowDep
from ..errors import Lang, ProblemError, Text
from ..freshness import hide_before
from ..settings import FreshnessSettings
from .demand import active_needs

if TYPE_CHECKING:
    import pandas as pd

# pandas, scikit-learn and matcher.analytics are imported on the first analytics request,
# not when the app starts: serving the catalogue and matching need none of them.

__all__ = [
    "SMALL_COUNT",
    "Balance",
    "Hotspots",
    "TimeToLet",
    "Unmet",
    "Wanted",
    "router",
]

router = APIRouter(prefix="/analytics", tags=["analytics"])

#: Counts of needs under this are suppressed for developers.
SMALL_COUNT = 5

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad API key (WWW-Authenticate: Bearer)"},
    403: {"description": "Only staff and developer accounts see the demand analytics"},
}


# --- who reads, in which language ----------------------------------------------------------


async def get_reader(account: CurrentAccount) -> Account:
    """Staff or developer; a company is refused (403), an anonymous caller 401."""
    return require_role(
        account,
        ("staff", "developer"),
        Text(
            "analytics : seuls les comptes staff (le détail) et développeur (les agrégats) "
            "voient l'analyse de la demande ; les besoins des entreprises ne sont pas publics.",
            "analytics: only staff (the detail) and developer (the aggregates) accounts see "
            "the demand analytics; the needs of companies are not public",
        ),
    )


ReaderDep = Annotated[Account, Depends(get_reader)]


def _count(n: Any, staff: bool) -> int | None:
    """A count of needs as the reader may see it (None: suppressed)."""
    n = int(n)
    return n if staff or n == 0 or n >= SMALL_COUNT else None


# --- the shared computation ----------------------------------------------------------------


@dataclass(frozen=True)
class _State:
    """What every analytics route reads: needs as rows, their places, best scores, supply."""

    key: tuple[Any, ...]
    n_active: int
    needs: pd.DataFrame
    places: pd.DataFrame
    best: pd.Series
    supply: pd.DataFrame
    listings: pd.DataFrame


class AnalyticsCache:
    """The analytics inputs of one state of the catalogue, of the needs and of the day."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state: _State | None = None

    def get(
        self,
        app: FastAPI,
        index: MatchIndex,
        territory: Territory,
        now: datetime,
        rules: FreshnessSettings,
    ) -> _State:
        """The current state, computed when the catalogue, the needs or the day moved."""
        repo = app.state.repo
        since = hide_before(now, rules)
        with repo.connect() as conn:
            key = (index.version, needs_store.needs_signature(conn), since)
            state = self._state
            if state is not None and state.key == key:
                return state
            active, table = active_needs(app).get(conn)
        with self._lock:
            state = self._state
            if state is None or state.key != key:
                state = self._state = _compute(key, active, table, index, territory, since)
        return state


def _territory_geometry(territory: Territory) -> tuple[dict[str, tuple[float, float]], Any]:
    layer = territory.layers["communes"]
    pts = shapely.point_on_surface(layer.geometry)
    x, y = to_lambert93(shapely.get_x(pts), shapely.get_y(pts))
    codes = layer.column("insee").tolist()
    centres = {c: (float(a), float(b)) for c, a, b in zip(codes, x, y, strict=True)}
    miny, maxy = territory.boundary_l93.bounds[1], territory.boundary_l93.bounds[3]
    return centres, (float(miny), float(maxy))


def _compute(
    key: tuple[Any, ...],
    active: list[Any],
    table: Any,
    index: MatchIndex,
    territory: Territory,
    since: datetime,
) -> _State:
    import pandas as pd

    from matcher import analytics as an

    centres, bounds = _territory_geometry(territory)

    def commune_at(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        lon, lat = to_wgs84(x, y)
        return territory.commune_at(lon, lat)

    ids = [n.id for n in active]
    frame = an.need_frame(active, ids, commune_xy=centres, commune_at=commune_at, bounds=bounds)
    places = an.need_places(active, ids, commune_xy=centres)
    if table is not None:
        best = an.best_scores(index, table, verified_since=since)
    else:
        best = pd.Series([], dtype=np.float64, name="best_score")
    mask = matchable_mask(index, verified_since=since)
    supply = an.supply_frame(index, mask=mask, bounds=bounds)
    c = index.cols
    listings = pd.DataFrame(
        {
            "listing_id": c["id"],
            "kind": np.array(KINDS, dtype=object)[c["kind"].astype(np.int64)],
            "surface_m2": c["surface_m2"],
        }
    )
    return _State(key, len(active), frame, places, best, supply, listings)


def _state(request: Request, now: datetime) -> _State:
    app = request.app
    cache: AnalyticsCache | None = getattr(app.state, "analytics_cache", None)
    if cache is None:
        cache = app.state.analytics_cache = AnalyticsCache()
    with app.state.repo.connect() as conn:
        index: MatchIndex = app.state.match_index.current(conn)
    settings = app.state.settings
    return cache.get(app, index, app.state.territory, now, settings.freshness)


def _use_label(use: str, lang: Lang) -> str:
    from matcher.analytics import NO_USE

    if use == NO_USE:
        return "Sans usage précisé" if lang == "fr" else "No use stated"
    return USE_LABELS[use][0 if lang == "fr" else 1]


def _band_text(band: int, lang: Lang) -> str:
    """``200–400 m²``, ``moins de 200 m²``, ``10 000 m² ou plus`` (or in English)."""
    from matcher.analytics import SIZE_BANDS

    edges = [fmt_number(e, lang) for e in (0.0, *SIZE_BANDS)]
    fr = lang == "fr"
    if band >= len(SIZE_BANDS):
        return f"{edges[-1]}\u00a0m² {'ou plus' if fr else 'or more'}"
    if band == 0:
        return f"{'moins de' if fr else 'under'} {edges[1]}\u00a0m²"
    return f"{edges[band]}–{edges[band + 1]}\u00a0m²"


# --- hot spots -----------------------------------------------------------------------------


class Hotspot(BaseModel):
    """A cluster of places of needs."""

    rank: int = Field(description="1 for the cluster with the most needs.")
    n_needs: int = Field(description="Distinct active needs with a place in it.")
    lon: float
    lat: float
    radius_m: float = Field(description="Distance from the centre holding 90 % of its places.")
    commune: str | None = Field(description="The commune of its centre (INSEE code).")
    commune_name: str | None
    need_ids: list[int] | None = Field(default=None, description="Staff only.")


class Hotspots(BaseModel):
    """Hot spots of demand: DBSCAN or HDBSCAN on the places of the active needs."""

    detail: bool = Field(description="True for staff (need ids), false for the aggregates.")
    method: Literal["dbscan", "hdbscan"]
    eps_m: float
    min_needs: int
    n_active_needs: int | None = Field(description="Active needs (null: 1 to 4, suppressed).")
    n_placed: int | None = Field(description="Active needs that name a place or a commune.")
    hotspots: list[Hotspot]
    note: str


@router.get("/hotspots", response_model=Hotspots, responses=_AUTH)
def get_hotspots(
    request: Request,
    account: ReaderDep,
    lang: LangDep,
    now: NowDep,
    method: Annotated[Literal["dbscan", "hdbscan"], Query()] = "dbscan",
    eps_m: Annotated[
        float,
        Query(gt=0, le=20_000, allow_inf_nan=False, description="DBSCAN radius, metres"),
    ] = 800.0,
    min_needs: Annotated[
        int, Query(ge=2, le=1_000, description="Needs a hot spot gathers at least")
    ] = SMALL_COUNT,
) -> Any:
    """Where the active needs gather (their search centres, places of interest, or the
    communes they name), in Lambert-93 metres. Developers: at least 5 needs per hot spot,
    centres rounded to about 100 m, no need ids."""
    staff = account.role == "staff"
    if not staff:
        min_needs = max(min_needs, SMALL_COUNT)
    state = _state(request, now)
    active_ids = state.needs.index[state.needs["active"]]
    places = state.places[state.places["need_id"].isin(active_ids)].reset_index(drop=True)
    from matcher.analytics import hotspots

    _, clusters = hotspots(places, method=method, eps_m=eps_m, min_needs=min_needs)
    spots: list[Hotspot] = []
    if len(clusters):
        lon, lat = to_wgs84(clusters["x"].to_numpy(), clusters["y"].to_numpy())
        communes = request.app.state.territory.commune_at(lon, lat)
        names = request.app.state.territory.commune_names
        digits = 5 if staff else 3
        for k, row in enumerate(clusters.itertuples()):
            spots.append(
                Hotspot(
                    rank=k + 1,
                    n_needs=int(row.n_needs),
                    lon=round(float(lon[k]), digits),
                    lat=round(float(lat[k]), digits),
                    radius_m=round(float(row.radius_m), -1),
                    commune=communes[k],
                    commune_name=names.get(communes[k]) if communes[k] else None,
                    need_ids=list(row.need_ids) if staff else None,
                )
            )
    note = Text(
        f"{len(spots)} foyers de demande (au moins {min_needs} besoins à moins de "
        f"{eps_m:g} m les uns des autres).",
        f"{len(spots)} hot spots of demand (at least {min_needs} needs within {eps_m:g} m "
        "of one another).",
    )(lang)
    return Hotspots(
        detail=staff,
        method=method,
        eps_m=eps_m,
        min_needs=min_needs,
        n_active_needs=_count(state.n_active, staff),
        n_placed=_count(places["need_id"].nunique(), staff),
        hotspots=spots,
        note=note,
    )


# --- unmet demand --------------------------------------------------------------------------


class UnmetGroup(BaseModel):
    """Active needs of one group and how many of them nothing serves well."""

    commune: str | None = None
    commune_name: str | None = None
    use: str | None = None
    use_label: str | None = None
    band: str | None = Field(default=None, description="Size band, m² (middle of the range).")
    band_label: str | None = None
    region: str | None = Field(
        default=None, description="north, centre or south (thirds of the territory)."
    )
    n_needs: int | None = Field(description="Active needs (null: suppressed, 1 to 4).")
    n_unmet: int | None = Field(description="Of those, best score under the threshold.")
    share_unmet: float | None
    median_best: float | None = Field(description="Median of their best scores (0-100).")
    suppressed: bool = Field(description="A count was suppressed (developers).")
    unmet_ids: list[int] | None = Field(default=None, description="Staff only.")


class Unmet(BaseModel):
    """Unmet demand: active needs whose best match scores under the threshold."""

    detail: bool
    threshold: float
    by: list[str]
    n_active_needs: int | None = Field(description="Active needs (null: 1 to 4, suppressed).")
    n_unmet: int | None = Field(description="Distinct active needs unmet (suppressed if 1-4).")
    groups: list[UnmetGroup]
    note: str


async def _by(
    by: Annotated[
        str,
        Query(description="Comma-separated groupings among commune, use, band, region"),
    ] = "commune,use,band",
) -> list[str]:
    keys = [k.strip() for k in by.split(",") if k.strip()]
    allowed = ("commune", "use", "band", "region")
    bad = [k for k in keys if k not in allowed]
    if bad or not keys or len(set(keys)) != len(keys):
        raise ProblemError(
            422,
            Text(
                f"by : {', '.join(bad) or by!r} n'est pas un regroupement accepté ; donnez un ou "
                "plusieurs de commune, use, band, region, séparés par des virgules, sans "
                "doublon.",
                f"by: {', '.join(bad) or by!r} is not an accepted grouping; give one or more of "
                "commune, use, band, region, comma-separated, without repeats",
            ),
        )
    return keys


@router.get("/unmet", response_model=Unmet, responses=_AUTH)
def get_unmet(
    request: Request,
    account: ReaderDep,
    lang: LangDep,
    now: NowDep,
    by: Annotated[list[str], Depends(_by)],
    threshold: Annotated[
        float, Query(ge=0, le=100, allow_inf_nan=False, description="Best score under which a "
                     "need is unmet (0-100)")
    ] = 50.0,
) -> Any:  # fmt: skip
    """Active needs whose best score (the batch engine, fresh available listings) stays under
    ``threshold``, by commune, use and size band. A need counts in each commune and use it
    names. Developers: no need ids, counts of 1 to 4 needs suppressed."""
    staff = account.role == "staff"
    state = _state(request, now)
    from matcher.analytics import band_label, unmet_demand

    table = unmet_demand(state.needs, state.best, threshold=threshold, by=by)
    names = request.app.state.territory.commune_names
    groups = []
    for row in table.to_dict("records"):
        n, u = _count(row["n_needs"], staff), _count(row["n_unmet"], staff)
        commune = row.get("commune")
        groups.append(
            UnmetGroup(
                commune=(commune or None) if "commune" in by else None,
                commune_name=names.get(commune) if commune else None,
                use=row.get("use"),
                use_label=_use_label(row["use"], lang) if "use" in by else None,
                band=band_label(int(row["band"])) if "band" in by else None,
                band_label=_band_text(int(row["band"]), lang) if "band" in by else None,
                region=(row["region"] or None) if "region" in by else None,
                n_needs=n,
                n_unmet=u,
                share_unmet=float(row["share_unmet"]) if n is not None and u is not None else None,
                median_best=(
                    None
                    if n is None or _missing(row["median_best"])
                    else round(float(row["median_best"]), 1)
                ),
                suppressed=n is None or u is None,
                unmet_ids=list(row["unmet_ids"]) if staff else None,
            )
        )
    act = state.needs[state.needs["active"]]
    best = state.best.reindex(act.index)
    n_unmet = int((~(best >= threshold)).sum())
    return Unmet(
        detail=staff,
        threshold=threshold,
        by=by,
        n_active_needs=_count(state.n_active, staff),
        n_unmet=_count(n_unmet, staff),
        groups=groups,
        note=Text(
            f"{n_unmet} besoins actifs sur {len(act)} n'ont aucune offre au score de "
            f"{threshold:g} ou plus.",
            f"{n_unmet} of {len(act)} active needs have no listing scoring {threshold:g} or more.",
        )(lang)
        if staff or _count(n_unmet, False) is not None
        else Text(
            "Trop peu de besoins non satisfaits pour les détailler.",
            "Too few unmet needs to detail them.",
        )(lang),
    )


# --- balance -------------------------------------------------------------------------------


class CommuneBalance(BaseModel):
    """Supply and demand in one commune; building floor area and land never added."""

    commune: str
    commune_name: str | None
    listings_building: int = Field(description="Available buildings (fresh).")
    building_m2: float = Field(description="Their floor area, m².")
    listings_land: int = Field(description="Available plots of land (fresh).")
    land_m2: float = Field(description="Their land area, m².")
    needs_building: int | None = Field(description="Active needs for a building naming it.")
    wanted_building_m2: float | None = Field(
        description="Their surfaces (middle of the range), shared among the communes each names."
    )
    needs_land: int | None = Field(description="Active needs for land only naming it.")
    wanted_land_m2: float | None
    building_ratio: float | None = Field(description="m² of buildings offered per m² wanted.")
    land_ratio: float | None = Field(description="m² of land offered per m² wanted.")
    suppressed: bool


class Balance(BaseModel):
    """Supply and demand per commune of the territory."""

    detail: bool
    n_active_needs: int | None = Field(description="Active needs (null: 1 to 4, suppressed).")
    needs_without_commune: int | None
    communes: list[CommuneBalance]
    note: str


def _num(v: Any) -> float | None:
    return None if _missing(v) else round(float(v), 3)


def _missing(v: Any) -> bool:
    """None or NaN."""
    return v is None or math.isnan(float(v))


@router.get("/balance", response_model=Balance, responses=_AUTH)
def get_balance(request: Request, account: ReaderDep, lang: LangDep, now: NowDep) -> Any:
    """Per commune: available (fresh) floor area of buildings and area of land, set against
    the active needs naming the commune (or lying in it). Building and land are kept apart,
    never added. Developers: demand figures of 1 to 4 needs suppressed."""
    staff = account.role == "staff"
    state = _state(request, now)
    from matcher.analytics import balance

    table = balance(state.supply, state.needs)
    names = request.app.state.territory.commune_names
    full = table.reindex(list(names)).fillna(
        {c: 0 for c in table.columns if not c.endswith("_ratio")}
    )
    rows = []
    for code, row in full.iterrows():
        nb, nl = _count(row["needs_building"], staff), _count(row["needs_land"], staff)
        rows.append(
            CommuneBalance(
                commune=str(code),
                commune_name=names.get(str(code)),
                listings_building=int(row["listings_building"]),
                building_m2=float(row["building_m2"]),
                listings_land=int(row["listings_land"]),
                land_m2=float(row["land_m2"]),
                needs_building=nb,
                wanted_building_m2=_num(row["wanted_building_m2"]) if nb is not None else None,
                needs_land=nl,
                wanted_land_m2=_num(row["wanted_land_m2"]) if nl is not None else None,
                building_ratio=_num(row["building_ratio"]) if nb is not None else None,
                land_ratio=_num(row["land_ratio"]) if nl is not None else None,
                suppressed=nb is None or nl is None,
            )
        )
    act = state.needs[state.needs["active"]]
    without = int((act["communes"].map(len) == 0).sum())
    return Balance(
        detail=staff,
        n_active_needs=_count(state.n_active, staff),
        needs_without_commune=_count(without, staff),
        communes=rows,
        note=Text(
            "Bâti (surface de plancher) et terrain sont comptés à part, jamais additionnés ; "
            "un besoin qui nomme plusieurs communes partage sa surface entre elles.",
            "Buildings (floor area) and land are counted apart, never added; a need naming "
            "several communes shares its surface among them.",
        )(lang),
    )


# --- most wanted ---------------------------------------------------------------------------


class WantedBand(BaseModel):
    """A size × use (× region) band: its active needs and the listings offered."""

    band: str
    band_label: str
    use: str
    use_label: str
    region: str | None = Field(description="north, centre or south (thirds of the territory).")
    n_needs: int
    n_listings: int = Field(description="Available (fresh) listings of the band and use.")
    pressure: float = Field(description="Needs per listing offered: n_needs / (n_listings + 1).")
    text: str
    need_ids: list[int] | None = Field(default=None, description="Staff only.")


class Wanted(BaseModel):
    """The most wanted and least supplied bands, first."""

    detail: bool
    n_active_needs: int | None = Field(description="Active needs (null: 1 to 4, suppressed).")
    min_needs: int
    bands: list[WantedBand]


@router.get("/wanted", response_model=Wanted, responses=_AUTH)
def get_wanted(
    request: Request,
    account: ReaderDep,
    lang: LangDep,
    now: NowDep,
    by_region: Annotated[bool, Query(description="Split by third of the territory")] = True,
    min_needs: Annotated[int, Query(ge=1, le=10_000)] = 1,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> Any:
    """Sizes and uses most wanted and least supplied, with a sentence ("40 besoins actifs pour
    200–400 m² d'artisanat dans le nord du territoire, 3 offres"). Developers: bands of at
    least 5 needs only, no need ids."""
    staff = account.role == "staff"
    if not staff:
        min_needs = max(min_needs, SMALL_COUNT)
    state = _state(request, now)
    from matcher.analytics import most_wanted

    table = most_wanted(state.needs, state.supply, by_region=by_region, min_needs=min_needs)
    bands = [
        WantedBand(
            band=str(row["band_label"]),
            band_label=_band_text(int(row["band"]), lang),
            use=str(row["use"]),
            use_label=_use_label(str(row["use"]), lang),
            region=str(row["region"]) or None,
            n_needs=int(row["n_needs"]),
            n_listings=int(row["n_listings"]),
            pressure=float(row["pressure"]),
            text=str(row[f"text_{lang}"]),
            need_ids=list(row["need_ids"]) if staff else None,
        )
        for row in table.head(limit).to_dict("records")
    ]
    return Wanted(
        detail=staff,
        n_active_needs=_count(state.n_active, staff),
        min_needs=min_needs,
        bands=bands,
    )


# --- time to let ---------------------------------------------------------------------------


class LetTime(BaseModel):
    """How long listings of one kind and size band took to let or sell."""

    kind: str
    kind_label: str
    band: str
    band_label: str
    n_let: int = Field(description="Listings let or sold after being available.")
    n_open: int = Field(description="Available at some point and not let since.")
    median_days: float
    q1_days: float
    q3_days: float


class TimeToLet(BaseModel):
    """Days from available to let or sold, from the listings' status history."""

    groups: list[LetTime]
    note: str


@router.get("/time-to-let", response_model=TimeToLet, responses=_AUTH)
def get_time_to_let(
    request: Request,
    account: ReaderDep,
    lang: LangDep,
    now: NowDep,
    min_cases: Annotated[int, Query(ge=1, le=1_000, description="Lets per group at least")] = 1,
) -> Any:
    """Days from a listing's first "available" to its first "let" or "sold", by kind and size
    band, from the audit trail of status changes. Empty until outcomes are recorded."""
    state = _state(request, now)
    with request.app.state.repo.connect() as conn:
        changes = audit.status_changes(conn)
    import pandas as pd

    from matcher.analytics import time_to_let

    history = pd.DataFrame(changes, columns=["listing_id", "status", "changed_at"])
    table = time_to_let(history, state.listings, min_cases=min_cases)
    idx = 0 if lang == "fr" else 1
    groups = [
        LetTime(
            kind=str(row["kind"]),
            kind_label=KIND_LABELS.get(str(row["kind"]), (row["kind"], row["kind"]))[idx],
            band=str(row["band_label"]),
            band_label=_band_text(int(row["band"]), lang),
            n_let=int(row["n_let"]),
            n_open=int(row["n_open"]),
            median_days=float(row["median_days"]),
            q1_days=float(row["q1_days"]),
            q3_days=float(row["q3_days"]),
        )
        for row in table.to_dict("records")
    ]
    note = (
        Text(
            "Aucune annonce n'a encore été louée ou vendue après avoir été disponible : pas de "
            "délai à mesurer.",
            "No listing has been let or sold after being available yet: no time to measure.",
        )
        if not groups
        else Text(
            "Délais en jours entre la première mise en disponibilité et la première location "
            "ou vente ; n_open compte les annonces encore sur le marché.",
            "Days between the first time available and the first let or sale; n_open counts "
            "the listings still on the market.",
        )
    )(lang)
    return TimeToLet(groups=groups, note=note)
