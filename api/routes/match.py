"""The stateless match: anyone (no account) states a need and gets the ranked premises.

The need is not stored. The ranking runs on the process's match index
(:class:`api.index_state.IndexHolder`), brought up to date first when the catalogue moved,
so a listing written through any worker is matched by the next request. Results carry the
public view of each listing (never its owner nor an unpublished contact), the score, the
utility of each criterion, the reasons as codes and as text in the request's language,
completeness and age, what the required criteria excluded, and what to relax.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Header, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.engine import Connection
from starlette.datastructures import State

from geodata.schemas import NeedIn, PremisesPublic
from geodata.storage import Repository
from geodata.storage import premises as store
from geodata.storage._convert import premises_from_row
from matcher import MatchItem, MatchResult
from matcher import match as run_match

from ..deps import NowDep, RepoDep, SettingsDep, TerritoryDep
from ..errors import Lang
from ..errors import preferred_language as request_language
from ..freshness import hide_before
from ..index_state import ENGINE_LOCK, IndexHolder
from ..json_response import EncodedJSONResponse, encode_json
from ..listing_cache import PublicJsonCache, public_json, public_json_cache
from ..outcomes import ModelRef, live_ranker

__all__ = [
    "MatchAnswer",
    "MatchDiagnostics",
    "MatchReason",
    "MatchRelaxation",
    "MatchResponse",
    "MatchedPremises",
    "ScoredPremises",
    "match_body",
    "rank_for_need",
    "request_language",
    "router",
]

router = APIRouter(tags=["match"])
T = TypeVar("T")

#: The company name given to an unnamed stateless need (the field is required on saved needs).
ANONYMOUS = "(anonyme)"
MAX_RESULTS = 50


class MatchReason(BaseModel):
    """One reason of a score: a stable code with its values, and its text."""

    criterion: str
    code: str
    params: dict[str, Any]
    text: str


class ScoredPremises(BaseModel):
    """The score of one ranked listing and why (:class:`MatchedPremises` less the listing)."""

    rank: int
    score: float = Field(description="0-100")
    utilities: dict[str, float] = Field(description="Per criterion, 0-1.")
    reasons: list[MatchReason]
    completeness: float = Field(description="Share of the scored fields the listing states.")
    missing: list[str] = Field(description="Fields the listing leaves blank.")
    verified_age_days: float | None = Field(description="Days since last verification.")


class MatchedPremises(ScoredPremises):
    """One ranked listing (public view) with its score and why."""

    premises: PremisesPublic


class MatchDiagnostics(BaseModel):
    """What the required criteria did to the catalogue."""

    n_listings: int
    n_matchable: int
    n_matching: int
    excluded: dict[str, int]
    excluded_only: dict[str, int]


class MatchRelaxation(BaseModel):
    """One way to widen the search, and how many more listings it brings."""

    criterion: str
    constraint: str
    current: Any
    suggested: Any
    need_update: dict[str, Any]
    brings: int
    code: str | None
    params: dict[str, Any]
    text: str


class MatchResponse(BaseModel):
    """The ranked listings for a need, best first."""

    lang: Lang
    catalogue_version: int = Field(description="The catalogue version matched against.")
    model: ModelRef = Field(description="The ranking model that scored the results.")
    results: list[MatchedPremises]
    diagnostics: MatchDiagnostics
    relaxations: list[MatchRelaxation]


NEED_EXAMPLE = {
    "surface_min_m2": 500,
    "surface_max_m2": 1500,
    "uses": ["logistics"],
    "communes": ["Rungis", "94073"],
    "max_rent_eur_m2_year": 140,
}


@router.post(
    "/match",
    # Serialised once by the route (the listings' public JSON is cached by version); the
    # model documents the answer.
    response_model=None,
    responses={200: {"model": MatchResponse, "description": "Successful Response"}},
)
def match_need(
    request: Request,
    repo: RepoDep,
    territory: TerritoryDep,
    settings: SettingsDep,
    now: NowDep,
    need: Annotated[
        dict[str, Any],
        Body(
            description=(
                "A need: the fields of NeedIn (see the Need schemas). `company_name` is "
                "optional here; communes may be INSEE codes or names."
            ),
            examples=[NEED_EXAMPLE],
        ),
    ],
    k: Annotated[int, Query(ge=1, le=MAX_RESULTS, description="How many results.")] = 10,
    lang: Annotated[
        Lang | None, Query(description="Language of the reasons (else Accept-Language).")
    ] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> EncodedJSONResponse:
    """Rank the public catalogue for a need, without storing it or needing an account.

    Only available listings confirmed within ``freshness.hide_days`` are matched.
    """
    language = request_language(lang, accept_language)
    need.setdefault("company_name", ANONYMOUS)
    parsed = NeedIn.model_validate(need, context={"territory": territory})
    answer = match_body(
        request.app.state,
        repo,
        parsed,
        k=k,
        lang=language,
        verified_since=hide_before(now, settings.freshness),
        now=now,
    )
    return EncodedJSONResponse(answer.encode())


@dataclass(frozen=True)
class MatchAnswer:
    """The answer of the match routes: its JSON values, and each listing's public JSON as
    encoded once in the cache (:meth:`encode` writes the body with them)."""

    #: The fields of :class:`MatchResponse` as JSON values, each result's ``premises`` the
    #: listing's public JSON (a test checks it is that model's dump).
    body: dict[str, Any]
    #: The encoded public JSON of each listing of the results, by id.
    encoded: dict[int, bytes]

    def encode(self) -> bytes:
        """The body as :func:`api.json_response.encode_json` writes it, the listings' JSON
        spliced in as encoded rather than encoded again (the same bytes)."""
        body = self.body
        results = [
            encode_json({k: v for k, v in r.items() if k != "premises"})[:-1]
            + b',"premises":'
            + self.encoded[r["premises"]["id"]]
            + b"}"
            for r in body["results"]
        ]
        head = encode_json({k: body[k] for k in ("lang", "catalogue_version", "model")})
        tail = encode_json({k: body[k] for k in ("diagnostics", "relaxations")})
        return head[:-1] + b',"results":[' + b",".join(results) + b"]," + tail[1:]


def match_body(
    state: State,
    repo: Repository,
    need: NeedIn,
    *,
    k: int,
    lang: Lang,
    verified_since: datetime | None,
    now: datetime | None,
) -> MatchAnswer:
    """The answer of the match routes (``POST /match``, ``GET /needs/{id}/matches``), in the
    order and shape of :class:`MatchResponse`: the scores dumped once, the listings' public
    JSON from the cache."""
    result, model, listings = _ranked(
        repo,
        state.match_index,
        need,
        partial(_public_listings, public_json_cache(state)),
        k=k,
        lang=lang,
        verified_since=verified_since,
        now=now,
    )
    # A listing deleted since the snapshot was taken is left out.
    kept = [item for item in result.results if item.listing_id in listings]
    summary = _summary(result, model, lang)
    body = {
        "lang": summary["lang"],
        "catalogue_version": summary["catalogue_version"],
        "model": summary["model"],
        "results": [
            {**_scored(item, lang), "premises": listings[item.listing_id][0]} for item in kept
        ],
        "diagnostics": summary["diagnostics"],
        "relaxations": summary["relaxations"],
    }
    return MatchAnswer(body, {pid: encoded for pid, (_, encoded) in listings.items()})


def _public_listings(
    public: PublicJsonCache, conn: Connection, items: Sequence[MatchItem]
) -> dict[int, tuple[dict[str, Any], bytes]]:
    """The public JSON of the ranked listings and its encoding, by id.

    The index holds each listing's version as it was ranked, and the snapshot is at least
    as new as the catalogue this request's connection sees: a listing whose JSON is cached
    at that version needs no read. Only the others (not cached, or indexed without a
    version) are read from their rows; one deleted meanwhile is then left out.
    """
    out: dict[int, tuple[dict[str, Any], bytes]] = {}
    missing = []
    for item in items:
        version = item.listing_version
        found = None if version is None else public.peek_entry(item.listing_id, version)
        if found is None:
            missing.append(item.listing_id)
        else:
            out[item.listing_id] = found
    for pid, row in (store.rows_by_ids(conn, missing) if missing else {}).items():
        out[pid] = public.get_entry(pid, row["version"], partial(public_json, row))
    return out


def _ranked(
    repo: Repository,
    holder: IndexHolder,
    need: NeedIn,
    read: Callable[[Connection, Sequence[MatchItem]], T],
    *,
    k: int,
    lang: Lang,
    verified_since: datetime | None,
    now: datetime | None,
) -> tuple[MatchResult, ModelRef, T]:
    """The match on the process's index, its ranking model, and its listings as ``read``
    gives them (from the ranked items)."""
    # One pooled connection for the version check and the listings.
    with repo.connect() as conn:
        ranker, model = live_ranker(conn, lang)
        index = holder.current(conn)
        with ENGINE_LOCK:  # matches take turns (see ENGINE_LOCK)
            result = run_match(
                index,
                need,
                k=k,
                lang=lang,
                verified_since=verified_since,
                now=now,
                ranker=ranker,
                detail_langs=(lang,),
            )
        listings = read(conn, result.results)
    return result, model, listings


def _scored(item: MatchItem, lang: Lang) -> dict[str, Any]:
    """The fields of :class:`ScoredPremises` for one result, as JSON values."""
    return {
        "rank": item.rank,
        "score": item.score,
        "utilities": item.utilities,
        "reasons": [
            {
                "criterion": d["criterion"],
                "code": d["code"],
                "params": d["params"],
                "text": d["text"][lang],
            }
            for d in item.reason_details
        ],
        "completeness": item.completeness,
        "missing": item.missing,
        "verified_age_days": item.verified_age_days,
    }


def _summary(result: MatchResult, model: ModelRef, lang: Lang) -> dict[str, Any]:
    """The fields of :class:`MatchResponse` other than the results (the model's values)."""
    d = result.diagnostics
    return {
        "lang": lang,
        "catalogue_version": result.index_version,
        "model": model,
        "diagnostics": {
            "n_listings": d.n_listings,
            "n_matchable": d.n_matchable,
            "n_matching": d.n_matching,
            "excluded": d.excluded,
            "excluded_only": d.excluded_only,
        },
        "relaxations": [
            {
                "criterion": r.criterion,
                "constraint": r.constraint,
                "current": r.current,
                "suggested": r.suggested,
                "need_update": r.need_update,
                "brings": r.brings,
                "code": r.reason.code if r.reason is not None else None,
                "params": r.reason.params if r.reason is not None else {},
                "text": r.text[lang],
            }
            for r in result.relaxations
        ],
    }


def rank_for_need(
    repo: Repository,
    holder: IndexHolder,
    need: NeedIn,
    *,
    k: int,
    lang: Lang,
    verified_since: datetime | None = None,
    now: datetime | None = None,
) -> MatchResponse:
    """Rank the catalogue for a need on the process's index: the answer of the match routes.

    Parameters
    ----------
    repo
        The catalogue (the listings' public view is read from it).
    holder
        The process's match index, brought up to date first if the catalogue moved.
    need
        A validated need (stateless, or a stored one).
    k
        How many results.
    lang
        The language of the reasons and relaxations.
    verified_since
        Listings confirmed before this instant are left out (see ``freshness.hide_days``).
    now
        The current time (the listings' ages count from it).
    """
    result, model, rows = _ranked(
        repo,
        holder,
        need,
        lambda conn, items: store.rows_by_ids(conn, [item.listing_id for item in items]),
        k=k,
        lang=lang,
        verified_since=verified_since,
        now=now,
    )
    return MatchResponse(
        results=[
            MatchedPremises(
                **_scored(item, lang),
                premises=PremisesPublic.model_validate(premises_from_row(rows[item.listing_id])),
            )
            # A listing deleted since the snapshot was taken is left out.
            for item in result.results
            if item.listing_id in rows
        ],
        **_summary(result, model, lang),
    )
