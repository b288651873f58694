"""Simulated outcomes: companies that choose by hidden preferences unlike the default weights.

For demonstrations and tests of :mod:`matcher.calibration`, where real outcomes are not yet
recorded. Each need is shown its top ``shown`` listings by the default ranking (the engine's
filters and weights); its company then opens, contacts, visits, signs or rejects some of them
by its *hidden* preferences (:data:`HIDDEN`), which differ from the defaults as a local
economic-development officer would expect:

- companies care more about access and less about technical fit than the defaults assume;
- a logistics company (warehouse user) judges access by the nearest motorway exit, a lab by
  the nearest station, and the others by both — whether or not their need says so.

A company's utility for a listing is the weighted mean of the engine's utilities with its
hidden weights, access always counted (measured as above); it picks by that utility plus
Gumbel noise (a logit choice; every shown listing is looked at: no position bias). Everything
is drawn from ``seed``: the same seed, catalogue and needs give the same outcomes.

Only the engine's ranking and the draws go need by need (the draws in a fixed order, so a
seed gives what it always gave); the hidden utilities, choices, rejection reasons and events
are computed for every shown listing at once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from geodata.schemas import NeedIn
from matcher.engine import matchable_mask, rank
from matcher.index import MatchIndex
from matcher.needs import NeedTable
from matcher.scoring import weighted_score
from matcher.weights import CRITERIA

__all__ = [
    "HIDDEN",
    "HiddenPreferences",
    "SimulatedOutcomes",
    "hidden_weights",
    "simulate_outcomes",
]


@dataclass(frozen=True)
class HiddenPreferences:
    """What simulated companies really weigh (criterion → weight, adding up to 100).

    ``base`` applies to every company; ``access_weight`` replaces the access weight for the
    companies whose need has a use of its keys; ``access_point`` names the access point
    (``"station"`` or ``"interchange"``) each such use judges by, with ``reach_m`` the
    distance at which that access is worth half.
    """

    base: Mapping[str, float]
    access_weight: Mapping[str, float]
    access_point: Mapping[str, str]
    reach_m: Mapping[str, float] = field(
        default_factory=lambda: {"station": 1_000.0, "interchange": 3_000.0}
    )


#: The hidden preferences of the demo simulation (the defaults are surface 30, use 20,
#: budget 20, location 15, access 5, technical 5, availability 5).
HIDDEN = HiddenPreferences(
    base={
        "surface": 15.0,
        "use": 15.0,
        "budget": 30.0,
        "location": 15.0,
        "access": 20.0,
        "technical": 0.0,
        "availability": 5.0,
    },
    access_weight={"logistics": 30.0, "lab_rd": 30.0},
    access_point={"logistics": "interchange", "lab_rd": "station"},
)

#: The rejection reason a criterion's shortfall gives (surface: too small or too big).
_REASON = {
    "use": "wrong_use",
    "budget": "too_dear",
    "location": "too_far",
    "access": "bad_access",
    "technical": "other",
    "availability": "not_available_in_time",
}


def _profile(need: NeedIn, prefs: HiddenPreferences) -> str | None:
    uses = {str(u) for u in (need.uses or [])} | {
        "logistics" for k in (need.kinds or []) if str(k) == "warehouse"
    }
    for use in prefs.access_weight:
        if use in uses:
            return use
    return None


def hidden_weights(need: NeedIn, prefs: HiddenPreferences = HIDDEN) -> np.ndarray:
    """The hidden weights of a need's company, in the order of :data:`CRITERIA`."""
    w = dict(prefs.base)
    profile = _profile(need, prefs)
    if profile is not None:
        w["access"] = float(prefs.access_weight[profile])
    return np.array([float(w.get(c, 0.0)) for c in CRITERIA])


def _hidden_access(
    index: MatchIndex, profiles: np.ndarray, rows: np.ndarray, prefs: HiddenPreferences
) -> np.ndarray:
    """The hidden access utility of each listing (``rows``) for its need's profile (the use
    judged by one access point, or ``""``: every point of ``prefs.reach_m``, averaged)."""
    by_point = {}
    for point, reach in prefs.reach_m.items():
        d = index.cols[f"{point}_dist"][rows]
        u = np.clip(1.0 - d / (2.0 * reach), 0.0, 1.0)
        by_point[point] = np.where(np.isnan(d), 0.5, u)
    out = np.mean([by_point[p] for p in prefs.reach_m], axis=0) if by_point else np.zeros(0)
    for use, point in prefs.access_point.items():
        at = profiles == use
        out[at] = by_point[point][at]
    return out


def _cat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.empty(0, dtype=dtype)


@dataclass
class SimulatedOutcomes:
    """The outcomes of a simulation.

    ``events`` lists ``(need position, listing id, event, reason)`` in the order they
    happened (as an app would record them); the arrays hold one row per pair shown:
    the need's position, the listing, its default rank and score, the engine's utilities
    the ranking showed (``utilities``, one column per criterion of
    :data:`~matcher.weights.CRITERIA`, NaN where the need does not use it) and its ``level``
    (the furthest positive step, else the last stage: what calibration learns from).
    """

    need_positions: np.ndarray
    premises_ids: np.ndarray
    ranks: np.ndarray
    scores: np.ndarray
    levels: list[str]
    events: list[tuple[int, int, str, str | None]]
    hidden: np.ndarray = field(default_factory=lambda: np.empty((0, len(CRITERIA))))
    utilities: np.ndarray = field(default_factory=lambda: np.empty((0, len(CRITERIA))))

    def utility_maps(self, at: np.ndarray | slice = slice(None)) -> list[dict[str, float]]:
        """The utilities shown of the rows ``at`` (default: all), one criterion → utility
        dict per row, the criteria its need does not use left out."""
        block = self.utilities[at]
        names = np.array(CRITERIA, dtype=object)
        used = ~np.isnan(block)
        return [
            dict(zip(names[m].tolist(), row[m].tolist(), strict=True))
            for row, m in zip(block, used, strict=True)
        ]

    def shown_utilities(self, at: np.ndarray) -> dict[int, dict[str, float]]:
        """By listing id, the utilities shown of the rows ``at`` (a mask or the indices of
        one need's rows)."""
        return dict(zip(self.premises_ids[at].tolist(), self.utility_maps(at), strict=True))

    @property
    def hidden_mean(self) -> dict[str, float]:
        """The hidden weights averaged over the simulated needs (adding up to 100)."""
        mean = self.hidden.mean(axis=0) if len(self.hidden) else np.zeros(len(CRITERIA))
        return dict(zip(CRITERIA, (100.0 * mean / max(mean.sum(), 1e-12)).tolist(), strict=True))


def simulate_outcomes(
    index: MatchIndex,
    needs: Sequence[NeedIn],
    *,
    seed: int = 0,
    shown: int = 20,
    temperature: float = 1.5,
    prefs: HiddenPreferences = HIDDEN,
) -> SimulatedOutcomes:
    """Show each need its top listings by the default ranking and simulate what follows.

    Parameters
    ----------
    index
        The catalogue.
    needs
        The needs (inactive ones are skipped).
    seed
        Seed of every draw.
    shown
        How many listings each need is shown.
    temperature
        Score points per unit of the choice's noise: lower means choices follow the hidden
        utility more closely.
    prefs
        The hidden preferences.
    """
    rng = np.random.default_rng(seed)
    table = NeedTable.from_needs(list(needs), np.arange(len(needs)))
    base = matchable_mask(index)
    # 1. The default ranking of each active need (the engine, one need at a time).
    kept: list[int] = []
    ranked = []
    for i, need in enumerate(table.needs):
        if not getattr(need, "active", True):
            continue
        r = rank(index, table, i, k=shown, base=base)
        if len(r.rows) >= 2:
            kept.append(i)
            ranked.append(r)
    n_kept = len(kept)
    sizes = np.array([len(r.rows) for r in ranked], dtype=np.int64)
    pos = np.repeat(np.array(kept, dtype=np.int64), sizes)
    group = np.repeat(np.arange(n_kept), sizes)  # the need of each pair, 0..n_kept-1
    start = np.r_[0, np.cumsum(sizes)[:-1]].astype(np.int64)
    within = np.arange(len(pos)) - start[group]  # the default rank of each pair, from 0
    rows = _cat([r.rows for r in ranked], np.int64)
    shown_u = np.concatenate([r.utilities for r in ranked]) if ranked else np.empty((0, 0))
    # 2. What each company really values: its hidden weights, access measured its way.
    profiles = np.array([_profile(table.needs[i], prefs) or "" for i in kept], dtype=object)
    hidden = np.array([hidden_weights(table.needs[i], prefs) for i in kept]).reshape(
        n_kept, len(CRITERIA)
    )
    U = shown_u.copy()  # noqa: N806
    if len(U):
        U[:, CRITERIA.index("access")] = _hidden_access(index, profiles[group], rows, prefs)
    W = hidden[group]  # noqa: N806
    true = weighted_score(U, W, ~np.isnan(U))
    # 3. The draws, need by need in the order of the first version (same seed, same draws).
    gumbel = np.empty(len(pos))
    n_open = np.empty(n_kept, dtype=np.int64)
    n_contact = np.empty(n_kept, dtype=np.int64)
    visit = np.zeros(n_kept, dtype=bool)
    sign = np.zeros(n_kept, dtype=bool)
    draws: list[np.ndarray] = []  # per need: one uniform per opened, non-visited listing
    for g in range(n_kept):
        n = int(sizes[g])
        gumbel[start[g] : start[g] + n] = rng.gumbel(size=n)
        n_open[g] = min(n, 1 + int(rng.poisson(3)))
        n_contact[g] = (
            0 if rng.uniform() < 0.15 else min(int(n_open[g]), 1 + int(rng.binomial(2, 0.35)))
        )
        if n_contact[g] and rng.uniform() < 0.6:
            visit[g] = True
            sign[g] = rng.uniform() < 0.4
        draws.append(rng.uniform(size=int(n_open[g]) - int(visit[g])))
    # 4. The choices, every pair at once: each need's listings in order of hidden utility
    #    plus noise, the first n_open opened, the first n_contact contacted, the first
    #    visited (and signed) when drawn so.
    z = true / temperature + gumbel
    order = np.lexsort((-z, group))  # by need, then by z descending (ties: default rank)
    place = np.empty(len(pos), dtype=np.int64)
    place[order] = np.arange(len(pos)) - start[group[order]]
    opened = place < n_open[group]
    contacted = place < n_contact[group]
    visited = (place == 0) & visit[group]
    signed = (place == 0) & sign[group]
    # Opened and neither visited nor signed: the uniform of its place rejects it or not.
    may_reject = opened & ~visited
    offsets = np.r_[0, np.cumsum([len(d) for d in draws])[:-1]].astype(np.int64)
    flat = _cat(draws, np.float64)
    drawn = np.ones(len(pos))
    at = np.flatnonzero(may_reject)
    drawn[at] = flat[offsets[group[at]] + place[at] - visit[group[at]]]
    rejected = may_reject & (drawn < 0.5)
    # The criterion that cost a rejected listing most with the hidden weights.
    loss = np.where(np.isnan(U), -1.0, W * (1.0 - np.nan_to_num(U)))
    worst = np.argmax(loss, axis=1) if len(loss) else np.zeros(0, dtype=np.int64)
    smaller = (
        index.cols["surface_m2"][rows]
        < np.array([table.needs[i].surface_min_m2 or 0 for i in kept], dtype=np.float64)[group]
    )
    reason_of = np.array([_REASON.get(c, "") for c in CRITERIA], dtype=object)[worst]
    surface = worst == CRITERIA.index("surface")
    reason_of[surface] = np.where(smaller[surface], "too_small", "too_big")
    level = np.full(len(pos), "shown", dtype=object)
    level[opened] = "opened"
    level[contacted] = "contacted"
    level[visited] = "visited"
    level[signed] = "signed"
    level[rejected & ~contacted] = "rejected"
    # 5. The events in the order they happened: need by need, listing by default rank,
    #    each listing's steps in funnel order (the rejection last).
    flags = np.column_stack([np.ones(len(pos), bool), opened, contacted, visited, signed, rejected])
    pair, step = np.nonzero(flags)
    ids = index.cols["id"][rows].astype(np.int64)
    names = np.array(["shown", "opened", "contacted", "visited", "signed", "rejected"], object)
    why = reason_of[pair]
    why[step != 5] = None
    events = list(
        zip(
            pos[pair].tolist(),
            ids[pair].tolist(),
            names[step].tolist(),
            why.tolist(),
            strict=True,
        )
    )
    return SimulatedOutcomes(
        need_positions=pos,
        premises_ids=ids,
        ranks=within + 1,
        scores=_cat([r.scores for r in ranked], np.float64),
        levels=level.tolist(),
        events=events,
        hidden=hidden,
        utilities=shown_u if len(shown_u) else np.empty((0, len(CRITERIA))),
    )
