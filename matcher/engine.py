"""Match one need against the catalogue: filter, score, rank, explain, diagnose, relax."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

from geodata.schemas import NeedIn
from matcher import criteria as cr
from matcher._codes import STATUS_CODE
from matcher.index import MatchIndex
from matcher.needs import TECHNICAL_FIELDS, NeedTable, day_number
from matcher.weights import BUDGET_TOLERANCE, CRITERIA, UNKNOWN_UTILITY

if TYPE_CHECKING:
    from matcher.relax import Relaxation

__all__ = [
    "Diagnostics",
    "MatchItem",
    "MatchResult",
    "Ranked",
    "SubFilter",
    "completeness",
    "match",
    "matchable_mask",
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
    """One ranked premises for a need."""

    listing_id: int
    rank: int
    score: float
    utilities: dict[str, float]
    reasons: dict[str, list[str]]
    completeness: float
    missing: list[str]
    verified_age_days: float | None
    title: str | None = None


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


@dataclass(frozen=True)
class SubFilter:
    """One required constraint evaluated over every row of the index."""

    criterion: str
    name: str
    mask: np.ndarray


# --- filters -------------------------------------------------------------------------------


def _communes_mask(index: MatchIndex, communes: tuple[str, ...]) -> np.ndarray:
    table = np.zeros(len(index.communes) + 1, dtype=bool)
    for c in communes:
        code = index.communes.index(c) if c in index.communes else None
        if code is not None:
            table[code] = True
    return table[index.cols["commune"]]


def _mask_from_positions(n: int, positions: np.ndarray) -> np.ndarray:
    out = np.zeros(n, dtype=bool)
    out[positions] = True
    return out


def sub_filters(index: MatchIndex, table: NeedTable, i: int) -> list[SubFilter]:
    """The required constraints of need ``i``, each as a mask over the index's rows.

    Constraint names are the need's field names (``"radius_m"``, ``"places.0"`` …), or
    ``"surface"``, ``"budget"`` for the criteria whose fields act together.
    """
    c = index.cols
    out: list[SubFilter] = []
    req = table.required[i] & table.active[i]

    def add(crit: str, name: str, mask: np.ndarray) -> None:
        out.append(SubFilter(crit, name, np.asarray(mask, dtype=bool)))

    if req[0]:
        add(
            "surface",
            "surface",
            cr.surface_ok(c["lot_min"], c["surface_m2"], table.s_min[i], table.s_max[i]),
        )
    if req[1]:
        if table.use_mask[i]:
            want = int(table.use_mask[i])
            add("use", "uses", (c["uses_eff"] & want) == want)
        if table.kind_mask[i]:
            lut = np.array([(int(table.kind_mask[i]) >> k) & 1 for k in range(8)], dtype=bool)
            add("use", "kinds", lut[c["kind"]])
    if req[2]:
        add("budget", "budget", _budget_ok(c, table, i))
    if req[3]:
        if table.communes[i]:
            add("location", "communes", _communes_mask(index, table.communes[i]))
        if table.polygon[i] is not None:
            add(
                "location",
                "polygon",
                _mask_from_positions(index.n_rows, index.positions_covered_by(table.polygon[i])),
            )
        if table.radius_hard[i]:
            add(
                "location",
                "radius_m",
                index.within_mask(float(table.cx[i]), float(table.cy[i]), float(table.reach[i])),
            )
        for j in np.flatnonzero(table.place_hard[i]).tolist():
            add(
                "location",
                f"places.{j}",
                index.within_mask(
                    float(table.place_x[i][j]),
                    float(table.place_y[i][j]),
                    float(table.place_reach[i][j]),
                ),
            )
    if req[4]:
        if not np.isnan(table.station_max[i]):
            add("access", "max_station_distance_m", ~(c["station_dist"] > table.station_max[i]))
        if not np.isnan(table.interchange_max[i]):
            add(
                "access",
                "max_interchange_distance_m",
                ~(c["interchange_dist"] > table.interchange_max[i]),
            )
    if req[5]:
        for j, (fname, col) in enumerate(TECHNICAL_FIELDS):
            if not np.isnan(table.tech_min[i, j]):
                add("technical", fname, cr.minimum_ok(c[col], table.tech_min[i, j]))
        if table.needs_icpe[i]:
            add("technical", "needs_icpe", c["icpe"] != 0)
    if req[6]:
        add(
            "availability", "wanted_by", cr.availability_ok(c["available_day"], table.wanted_day[i])
        )
    return out


def _budget_ok(c: dict[str, np.ndarray], table: NeedTable, i: int) -> np.ndarray:
    """:func:`matcher.criteria.budget_ok` with the need's scalars (fewer passes)."""
    bits = int(table.wanted_bits[i])
    max_rent, max_sale = table.max_rent[i], table.max_sale[i]
    ok: np.ndarray | None = None
    tol = 1.0 + BUDGET_TOLERANCE
    if bits & 1:
        can = (c["tenure"] & 1).view(bool)
        ok = can if np.isnan(max_rent) else can > (c["rent_eur_m2_year"] > max_rent * tol)
    if bits & 2:
        can = (c["tenure"] & 2) != 0
        if np.isnan(max_sale):
            part = can
        else:
            rows = np.flatnonzero(can)
            part = np.zeros(len(can), dtype=bool)
            part[rows] = ~(_sale_total_at(c, table, i, rows) > max_sale * tol)
        ok = part if ok is None else ok | part
    assert ok is not None
    return ok


def _sale_total_at(c: dict[str, np.ndarray], table: NeedTable, i: int, rows: Any) -> np.ndarray:
    surface = c["surface_m2"][rows]
    taken = cr.surface_taken(c["lot_min"][rows], surface, table.s_min[i])
    return cr.sale_total(c["sale_price_eur"][rows], surface, taken)


# --- utilities and score -------------------------------------------------------------------


def _location_parts(
    x: np.ndarray,
    y: np.ndarray,
    inside_communes: Any,
    inside_polygon: Any,
    table: NeedTable,
    i: int,
) -> list[np.ndarray]:
    parts: list[np.ndarray] = []
    if table.communes[i]:
        parts.append(np.where(inside_communes, 1.0, 0.0))
    if table.polygon[i] is not None:
        parts.append(np.where(inside_polygon, 1.0, 0.0))
    if not np.isnan(table.cx[i]):
        parts.append(
            cr.distance_utility(cr.distance_m(x, y, table.cx[i], table.cy[i]), table.reach[i])
        )
    for j in range(len(table.place_x[i])):
        parts.append(
            cr.distance_utility(
                cr.distance_m(x, y, table.place_x[i][j], table.place_y[i][j]),
                table.place_reach[i][j],
            )
        )
    return parts


def utility_columns(
    index: MatchIndex, table: NeedTable, i: int, rows: np.ndarray
) -> list[np.ndarray | None]:
    """Utilities of need ``i`` for some rows, one array per criterion (None when inactive).

    The forward path: the need's parameters are scalars, so only what the need asks is
    computed. Values are bit-identical to the generic functions of :mod:`matcher.criteria`
    (same operations in the same order), which reverse matching uses.
    """
    c = index.cols
    act = table.active[i]
    out: list[np.ndarray | None] = [None] * len(CRITERIA)
    lot_min = c["lot_min"][rows]
    surface = c["surface_m2"][rows]
    s_min = table.s_min[i]
    out[0] = cr.surface_utility(lot_min, surface, s_min, table.s_max[i])
    if act[1]:
        want, kinds = int(table.use_mask[i]), int(table.kind_mask[i])
        if want:
            have = np.bitwise_count(c["uses_eff"][rows] & want).astype(np.float64)
            u = have / float(np.bitwise_count(want))
        else:
            u = np.ones(len(rows))
        if kinds:
            lut = np.array([1.0 if (kinds >> k) & 1 else 0.5 for k in range(8)])
            u = u * lut[c["kind"][rows]]
        out[1] = u
    if act[2]:
        out[2] = _budget_utility(c, table, i, rows, lot_min, surface)
    if act[3]:
        inside_c = inside_p = None
        if table.communes[i]:
            inside_c = _communes_mask(index, table.communes[i])[rows]
        if table.polygon[i] is not None:
            inside_p = np.isin(rows, index.positions_covered_by(table.polygon[i]))
        parts = _location_parts(c["x"][rows], c["y"][rows], inside_c, inside_p, table, i)
        acc = parts[0]
        for p in parts[1:]:
            acc = acc + p
        out[3] = acc / float(len(parts))
    if act[4]:
        out[4] = cr.mean_of_present(
            [
                cr.distance_utility(c["station_dist"][rows], table.station_max[i]),
                cr.distance_utility(c["interchange_dist"][rows], table.interchange_max[i]),
            ]
        )
    if act[5]:
        tech = [
            cr.minimum_utility(c[col][rows], table.tech_min[i, j])
            for j, (_, col) in enumerate(TECHNICAL_FIELDS)
            if not np.isnan(table.tech_min[i, j])
        ]
        if table.needs_icpe[i]:
            tech.append(cr.icpe_utility(c["icpe"][rows], True))
        out[5] = cr.mean_of_present(tech)
    if act[6]:
        out[6] = cr.availability_utility(c["available_day"][rows], table.wanted_day[i])
    return out


def _budget_utility(
    c: dict[str, np.ndarray],
    table: NeedTable,
    i: int,
    rows: np.ndarray,
    lot_min: np.ndarray,
    surface: np.ndarray,
) -> np.ndarray:
    bits = c["tenure"][rows] & int(table.wanted_bits[i])
    max_rent, max_sale = table.max_rent[i], table.max_sale[i]
    free = 1.0 if np.isnan(max_rent) and np.isnan(max_sale) else UNKNOWN_UTILITY
    u: np.ndarray | None = None
    if table.wanted_bits[i] & 1:
        if np.isnan(max_rent):
            u_rent: Any = free
        else:
            u_rent = cr.price_utility(c["rent_eur_m2_year"][rows], max_rent)
        u = np.where((bits & 1) != 0, u_rent, 0.0)
    if table.wanted_bits[i] & 2:
        if np.isnan(max_sale):
            u_sale: Any = free
        else:
            taken = cr.surface_taken(lot_min, surface, table.s_min[i])
            u_sale = cr.price_utility(
                cr.sale_total(c["sale_price_eur"][rows], surface, taken), max_sale
            )
        part = np.where((bits & 2) != 0, u_sale, 0.0)
        u = part if u is None else np.maximum(u, part)
    assert u is not None
    return u


def utility_matrix(index: MatchIndex, table: NeedTable, i: int, rows: np.ndarray) -> np.ndarray:
    """Utilities ``(len(rows), 7)`` of need ``i`` for some rows; NaN for inactive criteria."""
    cols = utility_columns(index, table, i, rows)
    out = np.full((len(rows), len(CRITERIA)), np.nan)
    for j, col in enumerate(cols):
        if col is not None:
            out[:, j] = col
    return out


def weighted_score(utilities: np.ndarray, weights: np.ndarray, active: np.ndarray) -> np.ndarray:
    """``100 × Σ w·u / Σ w`` over the active criteria, summed left to right; 0 if ``Σ w = 0``.

    ``utilities`` is ``(..., 7)``; ``weights`` and ``active`` broadcast against it.
    """
    utilities = np.asarray(utilities, dtype=np.float64)
    w = np.where(active, weights, 0.0) * np.ones(utilities.shape[-1])
    acc = np.zeros(utilities.shape[:-1])
    wsum = np.zeros(w.shape[:-1])
    for j in range(utilities.shape[-1]):
        wj = w[..., j]
        acc = acc + np.where(wj > 0, wj * np.nan_to_num(utilities[..., j]), 0.0)
        wsum = wsum + wj
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(wsum > 0, 100.0 * acc / wsum, 0.0)


def _score_columns(
    cols: list[np.ndarray | None], weights: np.ndarray, active: np.ndarray, n: int
) -> np.ndarray:
    """:func:`weighted_score` for one need, from per-criterion columns (same arithmetic)."""
    acc: np.ndarray | None = None
    wsum = 0.0
    for j, col in enumerate(cols):
        wj = float(weights[j]) if active[j] else 0.0
        if wj > 0 and col is not None:
            term = wj * col
            acc = term if acc is None else acc + term
        wsum = wsum + wj
    if acc is None or wsum <= 0:
        return np.zeros(n)
    return 100.0 * acc / wsum


def score_rows(
    index: MatchIndex, table: NeedTable, i: int, rows: np.ndarray
) -> tuple[np.ndarray, list[np.ndarray | None]]:
    """Scores (0–100) and per-criterion utilities of need ``i`` for some rows."""
    cols = utility_columns(index, table, i, rows)
    return _score_columns(cols, table.weights[i], table.active[i], len(rows)), cols


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
    c = index.cols
    asked: list[tuple[str, np.ndarray, np.ndarray]] = []  # (field, asked mask, stated mask)
    n = len(rows)
    yes = np.ones(n, dtype=bool)
    asked.append(("surface_m2", yes, yes))
    divisible = c["divisible"][rows]
    asked.append(("min_lot_m2", divisible, ~np.isnan(c["min_lot_m2"][rows])))
    if table.active[i, 1] and table.use_mask[i]:
        asked.append(("uses", yes, c["uses"][rows] != 0))
    if table.active[i, 2]:
        tenure = c["tenure"][rows] & int(table.wanted_bits[i])
        asked.append(
            ("rent_eur_m2_year", (tenure & 1) != 0, ~np.isnan(c["rent_eur_m2_year"][rows]))
        )
        asked.append(
            (
                "sale_price_eur",
                ((tenure & 2) != 0) & ~np.isnan(table.max_sale[i]),
                ~np.isnan(c["sale_price_eur"][rows]),
            )
        )
    if table.active[i, 4]:
        if not np.isnan(table.station_max[i]):
            asked.append(("station", yes, ~np.isnan(c["station_dist"][rows])))
        if not np.isnan(table.interchange_max[i]):
            asked.append(("interchange", yes, ~np.isnan(c["interchange_dist"][rows])))
    for j, (_, col) in enumerate(TECHNICAL_FIELDS):
        if not np.isnan(table.tech_min[i, j]):
            asked.append((col, yes, ~np.isnan(c[col][rows])))
    if table.needs_icpe[i]:
        asked.append(("icpe_allowed", yes, c["icpe"][rows] >= 0))
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


def matchable_mask(index: MatchIndex, *, include_under_offer: bool = False) -> np.ndarray:
    """Rows whose status may be matched: available (and under offer when asked)."""
    status = index.cols["status"]
    if include_under_offer:
        return status <= STATUS_CODE["under_offer"]
    return status == STATUS_CODE["available"]


def match(
    index: MatchIndex,
    need: NeedIn | NeedTable,
    *,
    k: int = 20,
    i: int = 0,
    include_under_offer: bool = False,
    now: datetime | None = None,
    explain: bool = True,
    relax: bool = True,
    lang: str | None = None,
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
    now
        Reference time for the listings' age since verification (default: now, UTC).
    explain
        Build the reasons of each result (``MatchItem.reasons``, keyed by language).
    lang
        ``"fr"`` or ``"en"`` to keep the reasons in that language only; both by default.
    relax
        When fewer than ``k`` match, suggest single constraints to relax.
    """
    table = need if isinstance(need, NeedTable) else NeedTable.from_needs([need])
    base = matchable_mask(index, include_under_offer=include_under_offer)
    ranked = rank(index, table, i, k=k, base=base)
    diagnostics = _diagnose(index, base, ranked.by_criterion, ranked.n_matching, ranked.passes)
    relaxations: list[Relaxation] = []
    if relax and ranked.n_matching < k and ranked.subs:
        from matcher.relax import suggest_relaxations

        relaxations = suggest_relaxations(
            index, table, i, base, ranked.subs, n_matching=ranked.n_matching, k=k
        )
    if lang not in (None, "fr", "en"):
        msg = f"lang: expected 'fr' or 'en', got {lang!r}"
        raise ValueError(msg)
    items = _items(
        index, table, i, ranked.rows, ranked.scores, ranked.utilities, now, explain, lang
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


def rank(index: MatchIndex, table: NeedTable, i: int, *, k: int, base: np.ndarray) -> Ranked:
    """Filter, score and take the exact top ``k`` of need ``i`` among the ``base`` rows."""
    subs = sub_filters(index, table, i)
    by_crit: dict[str, np.ndarray] = {}
    for s in subs:
        prev = by_crit.get(s.criterion)
        by_crit[s.criterion] = s.mask if prev is None else prev & s.mask
    passes = _passes(list(by_crit.values()))
    ok = base if passes is None else (passes == len(by_crit)) & base
    rows = np.flatnonzero(ok)
    scores, cols = score_rows(index, table, i, rows)
    best = top_k(scores, index.cols["id"][rows], k)
    utils = np.full((len(best), len(CRITERIA)), np.nan)
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
) -> list[MatchItem]:
    if len(rows) == 0:
        return []
    comp, missing = completeness(index, table, i, rows)
    age = _now_day(now) - index.cols["verified_day"][rows]
    ids = index.cols["id"][rows]
    titles = index.cols["title"][rows]
    act = table.active[i]
    items = []
    for r in range(len(rows)):
        utilities = {CRITERIA[j]: float(utils[r, j]) for j in range(len(CRITERIA)) if act[j]}
        reasons: dict[str, list[str]] = {"fr": [], "en": []}
        if explain:
            from matcher.explain import explain_row

            reasons = explain_row(index.record(int(rows[r])), table, i, utilities)
            if lang is not None:
                reasons = {lang: reasons[lang]}
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
            )
        )
    return items
