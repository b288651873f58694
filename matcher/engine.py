"""Match one need against the catalogue: filter, score, rank, explain, diagnose, relax."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from geodata.schemas import NeedIn
from matcher._codes import STATUS_CODE
from matcher.criteria.registry import Relaxation, SubFilter
from matcher.explain import explain_row
from matcher.index import MatchIndex
from matcher.needs import NeedTable, day_number
from matcher.relax import suggest_relaxations
from matcher.scoring import Ranker, score_columns, weighted_score

__all__ = [
    "Diagnostics",
    "MatchItem",
    "MatchResult",
    "Ranked",
    "SubFilter",
    "completeness",
    "match",
    "matchable_mask",
    "need_weights",
    "rank",
    "score_rows",
    "sub_filters",
    "top_k",
    "utility_columns",
    "utility_matrix",
    "weighted_score",
]


@dataclass(frozen=True)
class MatchItem:
    """One ranked premises for a need.

    ``reasons`` holds the text of the reasons by language; ``reason_details`` the same
    reasons as data: ``criterion``, ``code``, ``params`` and ``text`` (by language).
    ``listing_version`` is the version of the listing the index holds (None when the index
    was built without versions): the caller can fetch the listing as it was ranked.
    """

    listing_id: int
    rank: int
    score: float
    utilities: dict[str, float]
    reasons: dict[str, list[str]]
    completeness: float
    missing: list[str]
    verified_age_days: float | None
    title: str | None = None
    reason_details: list[dict[str, Any]] = field(default_factory=list)
    listing_version: int | None = None


@dataclass(frozen=True)
class Diagnostics:
    """What the required criteria did to the catalogue.

    ``excluded[c]`` counts the matchable listings (right status) that fail criterion ``c``;
    ``excluded_only[c]`` those that fail ``c`` and pass every other required criterion.
    """

    n_listings: int
    n_matchable: int
    n_matching: int
    excluded: dict[str, int]
    excluded_only: dict[str, int]


@dataclass(frozen=True)
class MatchResult:
    """Results of one query."""

    need_id: int
    results: list[MatchItem]
    diagnostics: Diagnostics
    relaxations: list[Relaxation] = field(default_factory=list)
    index_version: int = 0

    @property
    def ids(self) -> list[int]:
        """Listing ids, best first."""
        return [r.listing_id for r in self.results]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


# --- filters, utilities and score ---------------------------------------------------------


def sub_filters(index: MatchIndex, table: NeedTable, i: int) -> list[SubFilter]:
    """The required constraints of need ``i``, each as a mask over the index's rows.

    Constraint names are the need's field names (``"radius_m"``, ``"places.0"`` …), or
    ``"surface"``, ``"budget"`` for the criteria whose fields act together.
    """
    return table.registry.sub_filters(index, table.params, table.required[i] & table.active[i], i)


def utility_columns(
    index: MatchIndex, table: NeedTable, i: int, rows: np.ndarray
) -> list[np.ndarray | None]:
    """Utilities of need ``i`` for some rows, one array per criterion (None when inactive).

    The forward path: the need's parameters are scalars, so only what the need asks is
    computed. Values are bit-identical to the listing-side functions of each criterion
    (same operations in the same order), which reverse matching uses.
    """
    act = table.active[i]
    return [
        c.utility(index, table.params, i, rows) if act[j] else None
        for j, c in enumerate(table.registry)
    ]


def utility_matrix(index: MatchIndex, table: NeedTable, i: int, rows: np.ndarray) -> np.ndarray:
    """Utilities ``(len(rows), n_criteria)`` of need ``i``; NaN for inactive criteria."""
    cols = utility_columns(index, table, i, rows)
    out = np.full((len(rows), len(cols)), np.nan)
    for j, col in enumerate(cols):
        if col is not None:
            out[:, j] = col
    return out


def need_weights(table: NeedTable, i: int, ranker: Ranker | None) -> np.ndarray:
    """The weights need ``i`` is scored with: the ranker's (the default weights without
    one), with the need's own overrides applied."""
    if ranker is None:
        return table.weights[i]
    reg = table.registry
    defaults = dict(
        zip(reg.names, ranker.weights_for(reg.names, reg.default_weights()), strict=True)
    )
    overrides = table.needs[i].weights
    return reg.weights(
        None if overrides is None else {str(k): float(v) for k, v in overrides.items()}, defaults
    )


def score_rows(
    index: MatchIndex,
    table: NeedTable,
    i: int,
    rows: np.ndarray,
    ranker: Ranker | None = None,
) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """Scores (0–100) and per-criterion utilities of need ``i`` for some rows."""
    cols = utility_columns(index, table, i, rows)
    w = need_weights(table, i, ranker)
    return score_columns(cols, w, table.active[i], len(rows)), cols


def top_k(scores: np.ndarray, ids: np.ndarray, k: int) -> np.ndarray:
    """Positions of the ``k`` best scores, ties broken by smaller id; exact and deterministic.

    Examples
    --------
    >>> top_k(np.array([1.0, 3.0, 3.0, 2.0]), np.array([10, 12, 11, 13]), 2).tolist()
    [2, 1]
    """
    n = len(scores)
    if k <= 0 or n == 0:
        return np.empty(0, dtype=np.int64)
    if k < n:
        part = np.argpartition(-scores, k - 1)
        kth = scores[part[k - 1]]
        sel = np.flatnonzero(scores >= kth)
    else:
        sel = np.arange(n)
    order = np.lexsort((ids[sel], -scores[sel]))
    return sel[order[:k]]


# --- trust ---------------------------------------------------------------------------------


def completeness(
    index: MatchIndex, table: NeedTable, i: int, rows: np.ndarray
) -> tuple[np.ndarray, list[list[str]]]:
    """Share of what the need asks about that each listing states, and what it leaves out."""
    asked: list[tuple[str, np.ndarray, np.ndarray]] = []  # (field, asked mask, stated mask)
    n = len(rows)
    for j, c in enumerate(table.registry):
        if table.active[i, j]:
            asked.extend(c.completeness(index, table.params, i, rows))
    n_asked = np.zeros(n)
    n_stated = np.zeros(n)
    for _, a, s in asked:
        n_asked += a
        n_stated += a & s
    missing: list[list[str]] = [[] for _ in range(n)]
    for name, a, s in asked:
        for r in np.flatnonzero(a & ~s):
            missing[r].append(name)
    return n_stated / n_asked, missing


# --- the query -----------------------------------------------------------------------------


def _now_day(now: datetime | None) -> float:
    return day_number(now if now is not None else datetime.now(UTC))


def matchable_mask(
    index: MatchIndex,
    *,
    include_under_offer: bool = False,
    verified_since: datetime | None = None,
) -> np.ndarray:
    """Rows that may be matched: available (and under offer when asked), and fresh.

    ``verified_since`` leaves out the listings last confirmed before it (their freshness
    date, ``last_verified_at``, is older); listings without a date are kept. It is a time
    given at each call, as freshness moves with the clock while the index does not.
    """
    status = index.cols["status"]
    if include_under_offer:
        mask = status <= STATUS_CODE["under_offer"]
    else:
        mask = status == STATUS_CODE["available"]
    if verified_since is not None:
        # NaN (no date) compares false, so it is kept.
        mask &= ~(index.cols["verified_day"] < day_number(verified_since))
    return mask


def match(
    index: MatchIndex,
    need: NeedIn | NeedTable,
    *,
    k: int = 20,
    i: int = 0,
    include_under_offer: bool = False,
    verified_since: datetime | None = None,
    now: datetime | None = None,
    explain: bool = True,
    relax: bool = True,
    lang: str | None = None,
    ranker: Ranker | None = None,
    detail_langs: tuple[str, ...] = ("fr", "en"),
) -> MatchResult:
    """Rank the catalogue's premises for a need.

    Parameters
    ----------
    index
        The catalogue, prepared once with :meth:`MatchIndex.from_frame`.
    need
        A need, or a compiled :class:`NeedTable` with ``i`` the row to match.
    k
        How many results; the top ``k`` is exact, ties go to the smaller listing id.
    include_under_offer
        Also match listings under offer (by default only available ones).
    verified_since
        Leave out the listings last confirmed before this time (see :func:`matchable_mask`).
    now
        Reference time for the listings' age since verification (default: now, UTC).
    explain
        Build the reasons of each result (``MatchItem.reasons``, keyed by language).
    lang
        ``"fr"`` or ``"en"`` to keep ``MatchItem.reasons`` in that language only; both by
        default (``MatchItem.reason_details`` has the languages of ``detail_langs``).
    relax
        When fewer than ``k`` match, suggest constraints to relax.
    ranker
        The scoring model, such as a fitted :class:`matcher.ranker.WeightedMeanRanker`
        (default: the default weights).
    detail_langs
        The languages of the texts of ``MatchItem.reason_details`` (both by default; a
        caller answering in one language renders only that one).
    """
    table = need if isinstance(need, NeedTable) else NeedTable.from_needs([need])
    base = matchable_mask(
        index, include_under_offer=include_under_offer, verified_since=verified_since
    )
    ranked = rank(index, table, i, k=k, base=base, ranker=ranker)
    diagnostics = _diagnose(index, base, ranked.by_criterion, ranked.n_matching, ranked.passes)
    relaxations: list[Relaxation] = []
    if relax and ranked.n_matching < k and ranked.subs:
        relaxations = suggest_relaxations(
            index, table, i, base, ranked.subs, n_matching=ranked.n_matching, k=k
        )
    if lang not in (None, "fr", "en"):
        msg = f"lang: expected 'fr' or 'en', got {lang!r}"
        raise ValueError(msg)
    items = _items(
        index,
        table,
        i,
        ranked.rows,
        ranked.scores,
        ranked.utilities,
        now,
        explain,
        lang,
        detail_langs,
    )
    return MatchResult(
        need_id=int(table.ids[i]),
        results=items,
        diagnostics=diagnostics,
        relaxations=relaxations,
        index_version=index.version,
    )


@dataclass(frozen=True)
class Ranked:
    """The bare ranking of one need: best rows, their scores and utilities, and the filters."""

    rows: np.ndarray
    scores: np.ndarray
    utilities: np.ndarray
    n_matching: int
    subs: list[SubFilter]
    by_criterion: dict[str, np.ndarray]
    passes: np.ndarray | None = None


def rank(
    index: MatchIndex,
    table: NeedTable,
    i: int,
    *,
    k: int,
    base: np.ndarray,
    ranker: Ranker | None = None,
) -> Ranked:
    """Filter, score and take the exact top ``k`` of need ``i`` among the ``base`` rows."""
    subs = sub_filters(index, table, i)
    by_crit: dict[str, np.ndarray] = {}
    for s in subs:
        prev = by_crit.get(s.criterion)
        by_crit[s.criterion] = s.mask if prev is None else prev & s.mask
    passes = _passes(list(by_crit.values()))
    ok = base if passes is None else (passes == len(by_crit)) & base
    rows = np.flatnonzero(ok)
    scores, cols = score_rows(index, table, i, rows, ranker)
    best = top_k(scores, index.cols["id"][rows], k)
    utils = np.full((len(best), len(cols)), np.nan)
    for j, col in enumerate(cols):
        if col is not None:
            utils[:, j] = col[best]
    return Ranked(rows[best], scores[best], utils, len(rows), subs, by_crit, passes)


def _passes(masks: list[np.ndarray]) -> np.ndarray | None:
    """How many of the masks each row passes (uint8), or None without masks."""
    if not masks:
        return None
    passes = masks[0].view(np.uint8)
    for m in masks[1:]:
        passes = passes + m.view(np.uint8)
    return passes


def _diagnose(
    index: MatchIndex,
    base: np.ndarray,
    by_crit: dict[str, np.ndarray],
    n_matching: int,
    passes: np.ndarray | None = None,
) -> Diagnostics:
    excluded: dict[str, int] = {}
    excluded_only: dict[str, int] = {}
    if passes is None:
        passes = _passes(list(by_crit.values()))
    if passes is not None:
        one = (passes == len(by_crit) - 1) & base  # fails exactly one criterion
        for name, m in by_crit.items():
            excluded[name] = int(np.count_nonzero(base > m))
            excluded_only[name] = int(np.count_nonzero(one > m))
    return Diagnostics(
        n_listings=len(index),
        n_matchable=int(np.count_nonzero(base)),
        n_matching=n_matching,
        excluded=excluded,
        excluded_only=excluded_only,
    )


def _items(
    index: MatchIndex,
    table: NeedTable,
    i: int,
    rows: np.ndarray,
    scores: np.ndarray,
    utils: np.ndarray,
    now: datetime | None,
    explain: bool,
    lang: str | None = None,
    detail_langs: tuple[str, ...] = ("fr", "en"),
) -> list[MatchItem]:
    if len(rows) == 0:
        return []
    comp, missing = completeness(index, table, i, rows)
    age = _now_day(now) - index.cols["verified_day"][rows]
    ids = index.cols["id"][rows]
    titles = index.cols["title"][rows]
    versions = index.cols["listing_version"][rows].tolist()
    act = table.active[i]
    names = table.registry.names
    langs = ("fr", "en") if lang is None else (lang,)
    records = index.records(rows) if explain else []
    items = []
    for r in range(len(rows)):
        utilities = {names[j]: float(utils[r, j]) for j in range(len(names)) if act[j]}
        reasons: dict[str, list[str]] = {"fr": [], "en": []}
        details: list[dict[str, Any]] = []
        if explain:
            details = explain_row(records[r], table, i, utilities, detail_langs)
            reasons = {lg: [d["text"][lg] for d in details] for lg in langs}
        items.append(
            MatchItem(
                listing_id=int(ids[r]),
                rank=r + 1,
                score=float(scores[r]),
                utilities=utilities,
                reasons=reasons,
                completeness=float(comp[r]),
                missing=missing[r],
                verified_age_days=None if np.isnan(age[r]) else round(float(age[r]), 1),
                title=None if titles[r] is None else str(titles[r]),
                reason_details=details,
                listing_version=None if versions[r] < 0 else versions[r],
            )
        )
    return items
