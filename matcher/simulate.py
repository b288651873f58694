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
    index: MatchIndex, need: NeedIn, rows: np.ndarray, prefs: HiddenPreferences
) -> np.ndarray:
    profile = _profile(need, prefs)
    points = [prefs.access_point[profile]] if profile is not None else list(prefs.reach_m)
    parts = []
    for point in points:
        d = index.cols[f"{point}_dist"][rows]
        u = np.clip(1.0 - d / (2.0 * prefs.reach_m[point]), 0.0, 1.0)
        parts.append(np.where(np.isnan(d), 0.5, u))
    return np.mean(parts, axis=0)


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
    j_access = CRITERIA.index("access")
    pos_l: list[np.ndarray] = []
    pid_l: list[np.ndarray] = []
    rank_l: list[np.ndarray] = []
    score_l: list[np.ndarray] = []
    util_l: list[np.ndarray] = []
    levels: list[str] = []
    events: list[tuple[int, int, str, str | None]] = []
    hidden_rows = []
    for i, need in enumerate(table.needs):
        if not getattr(need, "active", True):
            continue
        ranked = rank(index, table, i, k=shown, base=base)
        n = len(ranked.rows)
        if n < 2:
            continue
        ids = index.cols["id"][ranked.rows].astype(np.int64)
        U = ranked.utilities.copy()  # noqa: N806
        U[:, j_access] = _hidden_access(index, need, ranked.rows, prefs)
        w = hidden_weights(need, prefs)
        hidden_rows.append(w)
        true = weighted_score(U, w, ~np.isnan(U))
        z = true / temperature + rng.gumbel(size=n)
        order = np.argsort(-z, kind="stable")
        n_open = min(n, 1 + int(rng.poisson(3)))
        n_contact = 0 if rng.uniform() < 0.15 else min(n_open, 1 + int(rng.binomial(2, 0.35)))
        level = ["shown"] * n
        pair_events: list[list[tuple[str, str | None]]] = [[("shown", None)] for _ in range(n)]
        for r in order[:n_open]:
            level[r] = "opened"
            pair_events[r].append(("opened", None))
        for r in order[:n_contact]:
            level[r] = "contacted"
            pair_events[r].append(("contacted", None))
        if n_contact and rng.uniform() < 0.6:
            top = order[0]
            level[top] = "visited"
            pair_events[top].append(("visited", None))
            if rng.uniform() < 0.4:
                level[top] = "signed"
                pair_events[top].append(("signed", None))
        for r in order[:n_open]:
            if level[r] in ("opened", "contacted") and rng.uniform() < 0.5:
                # The criterion that cost it most with the hidden weights.
                loss = np.where(np.isnan(U[r]), -1.0, w * (1.0 - np.nan_to_num(U[r])))
                worst = CRITERIA[int(np.argmax(loss))]
                if worst == "surface":
                    s = index.cols["surface_m2"][ranked.rows[r]]
                    reason = "too_small" if s < (need.surface_min_m2 or 0) else "too_big"
                else:
                    reason = _REASON[worst]
                if level[r] == "opened":
                    level[r] = "rejected"
                pair_events[r].append(("rejected", reason))
        for r in range(n):
            events.extend((i, int(ids[r]), e, reason) for e, reason in pair_events[r])
        pos_l.append(np.full(n, i))
        pid_l.append(ids)
        rank_l.append(np.arange(1, n + 1))
        score_l.append(ranked.scores)
        util_l.append(ranked.utilities)
        levels.extend(level)
    return SimulatedOutcomes(
        need_positions=_cat(pos_l, np.int64),
        premises_ids=_cat(pid_l, np.int64),
        ranks=_cat(rank_l, np.int64),
        scores=_cat(score_l, np.float64),
        levels=levels,
        events=events,
        hidden=np.array(hidden_rows) if hidden_rows else np.empty((0, len(CRITERIA))),
        utilities=np.concatenate(util_l) if util_l else np.empty((0, len(CRITERIA))),
    )
