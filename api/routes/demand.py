"""Demand for a listing: how many active needs it fits, and their profile.

Reverse matching (:func:`matcher.match_listing`) runs the forward engine's filters and score
with the listing's values against every active need at once: a need counts when the listing
passes the criteria that need marks required. The listing's owner learns how many needs it
fits and what they look like (sizes, uses, communes wanted, tenure), never which companies;
the staff also get the needs themselves.
"""

from __future__ import annotations

import threading
from collections import Counter
from itertools import pairwise
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, FastAPI, Header, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection

from geodata.schemas import Need
from geodata.storage import needs as needs_store
from geodata.storage import premises as premises_store
from geodata.storage.accounts import Account
from geodata.territory import Territory
from matcher import MatchIndex, NeedTable, match_listing
from matcher.scoring import Ranker

from ..auth import CurrentAccount, can_edit, forbid
from ..deps import PremisesIdPath, RepoDep, TerritoryDep
from ..outcomes import ModelRef, live_ranker
from .match import Lang, request_language

__all__ = [
    "SURFACE_BANDS",
    "ActiveNeeds",
    "CommuneDemand",
    "Demand",
    "DemandNeed",
    "demand_for",
    "router",
]

router = APIRouter(tags=["premises"])

#: Upper bounds (m²) of the surface bands needs are counted in, by the middle of their range.
SURFACE_BANDS: tuple[float, ...] = (300.0, 1000.0, 3000.0, 10000.0)


def _band_names() -> list[str]:
    edges = [0.0, *SURFACE_BANDS]
    names = [f"{lo:g}-{hi:g}" for lo, hi in pairwise(edges)]
    return [*names, f"{SURFACE_BANDS[-1]:g}+"]


class CommuneDemand(BaseModel):
    """How many of the fitting needs name a commune."""

    code: str
    name: str | None
    count: int


class DemandNeed(BaseModel):
    """A need the listing fits (staff only)."""

    id: int
    company_name: str
    owner_account: str | None
    score: float = Field(description="0-100, as the need's forward match would score it.")
    alert_threshold: float


class Demand(BaseModel):
    """How many active needs a listing fits, and their profile; the needs for the staff."""

    premises_id: int
    status: str = Field(description="The listing's status (demand is counted whatever it is).")
    catalogue_version: int
    n_active_needs: int = Field(description="Active needs in the catalogue.")
    n_fitting: int = Field(description="Active needs the listing fits (their required criteria).")
    n_above_threshold: int = Field(description="Of those, the ones scoring at least their alert.")
    surface_bands: dict[str, int] = Field(
        description="Fitting needs per band of wanted surface (m², middle of their range)."
    )
    uses: dict[str, int] = Field(description="Fitting needs per use they ask for.")
    tenure: dict[str, int] = Field(description="Fitting needs per tenure wanted.")
    communes: list[CommuneDemand] = Field(description="Communes the fitting needs name.")
    score_median: float | None
    model: ModelRef = Field(description="The ranking model that scored the needs.")
    needs: list[DemandNeed] | None = Field(
        default=None, description="Staff only: the fitting needs, best first."
    )


class ActiveNeeds:
    """The active needs, read and compiled (:class:`matcher.NeedTable`) once per state of the
    needs table, and reused by every demand request until a need is written.

    Reading and compiling every active need costs far more than matching one listing against
    them; :func:`geodata.storage.needs.needs_signature` (one aggregate query) tells whether
    the cached table is still current. An entry is one tuple, replaced whole.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[tuple[int, int, int], list[Need], NeedTable | None] | None = None

    def get(self, conn: Connection) -> tuple[list[Need], NeedTable | None]:
        """The active needs and their table (None when there is none), current as of now."""
        key = needs_store.needs_signature(conn)
        entry = self._entry
        if entry is not None and entry[0] == key:
            return entry[1], entry[2]
        with self._lock:
            entry = self._entry
            if entry is None or entry[0] != key:
                active = needs_store.all_needs(conn, active=True)
                entry = (key, active, NeedTable.from_needs(active) if active else None)
                self._entry = entry
        return entry[1], entry[2]


def active_needs(app: FastAPI) -> ActiveNeeds:
    """The app's cache of the active needs (made on first use)."""
    cache: ActiveNeeds | None = getattr(app.state, "active_needs", None)
    if cache is None:
        cache = app.state.active_needs = ActiveNeeds()
    return cache


def _reader(account: Account, listing_owner: str | None, premises_id: int) -> None:
    if not can_edit(account, listing_owner):
        msg = (
            f"premises {premises_id}: only its owner and the staff see the demand for a "
            "listing; the needs of companies are not public"
        )
        raise forbid(msg)


def demand_for(
    index: MatchIndex,
    premises_id: int,
    active: list[Need],
    table: NeedTable | None,
    territory: Territory,
    *,
    with_needs: bool,
    ranker: Ranker | None = None,
) -> dict[str, Any]:
    """The demand profile of a listing already in ``index`` against the active needs.

    ``table`` is ``active`` compiled (:meth:`matcher.NeedTable.from_needs`), None if empty;
    ``ranker`` scores as the needs' matches do (the live one: the promoted model's weights,
    None for the defaults).
    """
    fits = (
        []
        if table is None
        else match_listing(index, premises_id, table, any_status=True, ranker=ranker)
    )
    by_id = {n.id: n for n in active}
    fitting = [by_id[f.need_id] for f in fits]
    scores = np.array([f.score for f in fits], dtype=np.float64)
    thresholds = np.array([n.alert_threshold for n in fitting], dtype=np.float64)
    middles = np.array(
        [(n.surface_min_m2 + n.surface_max_m2) / 2 for n in fitting], dtype=np.float64
    )
    names = _band_names()
    band_counts = np.bincount(
        np.searchsorted(np.asarray(SURFACE_BANDS), middles, side="right"), minlength=len(names)
    )
    communes = Counter(c for n in fitting for c in n.communes)
    return {
        "n_active_needs": len(active),
        "n_fitting": len(fits),
        "n_above_threshold": int(np.count_nonzero(scores >= thresholds)),
        "surface_bands": dict(zip(names, (int(c) for c in band_counts), strict=True)),
        "uses": dict(Counter(str(u) for n in fitting for u in n.uses).most_common()),
        "tenure": dict(Counter(str(n.tenure) for n in fitting).most_common()),
        "communes": [
            CommuneDemand(code=code, name=territory.commune_names.get(code), count=count)
            for code, count in communes.most_common()
        ],
        "score_median": float(np.median(scores)) if len(scores) else None,
        "needs": (
            [
                DemandNeed(
                    id=n.id,
                    company_name=n.company_name,
                    owner_account=n.owner_account,
                    score=round(f.score, 2),
                    alert_threshold=n.alert_threshold,
                )
                for f, n in zip(fits, fitting, strict=True)
            ]
            if with_needs
            else None
        ),
    }


@router.get(
    "/premises/{premises_id}/demand",
    response_model=Demand,
    responses={
        401: {"description": "No or bad API key (WWW-Authenticate: Bearer)"},
        403: {"description": "Only the listing's owner and the staff see its demand"},
        404: {"description": "No such listing"},
    },
)
def premises_demand(
    request: Request,
    premises_id: PremisesIdPath,
    repo: RepoDep,
    territory: TerritoryDep,
    account: CurrentAccount,
    lang: Annotated[
        Lang | None, Query(description="Language of the model's name (else Accept-Language).")
    ] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Any:
    """How many active needs a listing fits and their profile (owner); the needs (staff).

    The needs are scored as their matches are: by the promoted model, named in ``model``.
    """
    if account.role == "company":
        raise forbid("demand: only developer and staff accounts see the demand for listings")
    with repo.connect() as conn:
        listing = premises_store.get_premises(conn, premises_id)
        _reader(account, listing.owner_account, premises_id)
        index: MatchIndex = request.app.state.match_index.current(conn)
        active, table = active_needs(request.app).get(conn)
        ranker, model = live_ranker(conn, request_language(lang, accept_language))
    version = index.version
    if index.position(premises_id) is None:
        # Not matched at the moment (left out of the index): measure it on a private copy.
        index = index.copy()
        index.update(premises_id, listing.model_dump())
    staff = account.role == "staff"
    profile = demand_for(
        index, premises_id, active, table, territory, with_needs=staff, ranker=ranker
    )
    return Demand(
        premises_id=premises_id,
        status=str(listing.status),
        catalogue_version=version,
        model=model,
        **profile,
    )
