"""Premises like this one (:mod:`matcher.similar`): public, available listings only.

Nearest neighbours over standardised attributes (kind, surface, rent, technical values) and
the place in Lambert-93 metres. Only available listings are proposed, and not those hidden
from the public search for want of confirmation (``freshness.hide_days``), whoever asks.
The nearest-neighbour model is fitted once per match-index snapshot and reused.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Header, Query, Request
from pydantic import BaseModel, Field

from geodata.schemas import PremisesPublic, Status
from geodata.storage import catalogue
from geodata.storage import premises as premises_store
from matcher import MatchIndex
from matcher.needs import day_number
from matcher.similar import SimilarIndex

from ..deps import NowDep, PremisesIdPath, RepoDep, SettingsDep
from ..errors import Lang
from ..freshness import hide_before
from .match import MatchReason, request_language

__all__ = ["SimilarPremises", "SimilarResponse", "router"]

router = APIRouter(tags=["premises"])

MAX_SIMILAR = 50


class SimilarPremises(BaseModel):
    """One listing like the asked one (public view), with what is alike."""

    rank: int
    similarity: float = Field(description="1 = same attributes at the same place; toward 0 apart.")
    distance_m: float = Field(description="Distance between the two listings, metres.")
    reasons: list[MatchReason]
    premises: PremisesPublic


class SimilarResponse(BaseModel):
    """Listings like one listing, most alike first."""

    premises_id: int
    lang: Lang
    catalogue_version: int
    results: list[SimilarPremises]


class _SimilarCache:
    """One :class:`SimilarIndex` per match-index snapshot (snapshots are never mutated)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entry: tuple[MatchIndex, SimilarIndex] | None = None

    def get(self, index: MatchIndex) -> SimilarIndex:
        entry = self._entry
        if entry is not None and entry[0] is index:
            return entry[1]
        with self._lock:
            entry = self._entry
            if entry is None or entry[0] is not index:
                entry = self._entry = (index, SimilarIndex(index))
        return entry[1]


def _cache(request: Request) -> _SimilarCache:
    cache: _SimilarCache | None = getattr(request.app.state, "similar_cache", None)
    if cache is None:
        cache = request.app.state.similar_cache = _SimilarCache()
    return cache


def _position(index: MatchIndex, listing_id: int) -> int:
    pos = index.position(listing_id)
    if pos is None:  # proposed listings are rows of the index
        msg = f"listing {listing_id} is not in the match index"
        raise KeyError(msg)
    return pos


@router.get(
    "/premises/{premises_id}/similar",
    response_model=SimilarResponse,
    responses={404: {"description": "No such listing"}},
)
def similar_premises(
    request: Request,
    premises_id: PremisesIdPath,
    repo: RepoDep,
    settings: SettingsDep,
    now: NowDep,
    k: Annotated[int, Query(ge=1, le=MAX_SIMILAR, description="How many listings.")] = 10,
    lang: Annotated[Lang | None, Query(description="fr or en (else Accept-Language)")] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Any:
    """Listings like this one: available, public and confirmed within ``hide_days``, most
    alike first, each with the attributes that are close (kind, surface, rent, technical
    values, distance). Anyone may ask, for any listing readable by its id."""
    language = request_language(lang, accept_language)
    with repo.connect() as conn:
        listing = premises_store.get_premises(conn, premises_id)
        index: MatchIndex = request.app.state.match_index.current(conn)
    if index.position(premises_id) is None:
        # Not in the snapshot (just written): measure it on a private copy.
        index = index.copy()
        index.update(premises_id, listing.model_dump())
        model = SimilarIndex(index)
    else:
        model = _cache(request).get(index)
    # Listings hidden for want of confirmation are proposed to no one: ask for as many more.
    cutoff = day_number(hide_before(now, settings.freshness))
    hidden = model.index.cols["verified_day"] < cutoff  # NaN (no date) is kept
    n_hidden = int(np.count_nonzero(hidden[model.rows]))
    items = [
        item
        for item in model.similar(premises_id, k=k + n_hidden)
        if not hidden[_position(model.index, item.listing_id)]
    ][:k]
    with repo.connect() as conn:
        listings = catalogue.premises_by_ids(conn, [i.listing_id for i in items])
    results = [
        SimilarPremises(
            rank=rank,
            similarity=item.similarity,
            distance_m=item.distance_m,
            reasons=[
                MatchReason(
                    criterion=r.criterion, code=r.code, params=r.params, text=text
                )
                for r, text in zip(item.reasons, item.text[language], strict=True)
            ],
            premises=PremisesPublic.model_validate(listings[item.listing_id]),
        )
        for rank, item in enumerate(
            (i for i in items if i.listing_id in listings
             and listings[i.listing_id].status == Status.available),
            start=1,
        )
    ]  # fmt: skip
    return SimilarResponse(
        premises_id=premises_id,
        lang=language,
        catalogue_version=index.version,
        results=results,
    )
