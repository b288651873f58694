"""Allocate the lots of a development among applicant companies, and explain every decision.

A development (a business village) is divided into lots; each applicant company states a
need. An applicant may take one lot or a group of ADJACENT lots whose surfaces add up to
what it needs; a lot goes to at most one applicant. Every group of up to ``max_lots``
adjacent lots is a candidate premises: it becomes one row of a :class:`MatchIndex` (surface
summed, the technical values the group can promise, the rent averaged …), so that a need's
fit to a group is exactly its matching score (:func:`matcher.engine.score_rows`, the same
filters and utilities as :func:`matcher.match`).

:func:`optimal` maximises the total fit over the applicants served, an integer programme
over (applicant, group) pairs solved exactly by ``scipy.optimize.milp`` (or
``scipy.optimize.linear_sum_assignment`` when every applicant takes one lot);
:func:`first_come_first_served` serves applicants in arrival order, each taking its best
remaining group. Both return an :class:`Allocation` whose assignments, refusals and lots
each carry a reason as data (:class:`Reason`, criterion ``"allocation"``), rendered in French
and English by :func:`render`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy import optimize, sparse

import shapely

from geodata.schemas import NeedIn, PremisesCreate
from matcher._codes import TENURE_BITS
from matcher._geo import as_point_set, project_geometry
from matcher.criteria.base import Reason
from matcher.engine import matchable_mask, score_rows, sub_filters
from matcher.explain import LanguageFormatter, criterion_label, explain_row
from matcher.index import MatchIndex
from matcher.needs import NeedTable
from matcher.scoring import Ranker
from matcher.weights import KIND_DEFAULT_USES, SURFACE_TOLERANCE

__all__ = [
    "Allocation",
    "AllocationProblem",
    "Assignment",
    "LotOutcome",
    "Refusal",
    "compare",
    "first_come_first_served",
    "lot_adjacency",
    "lot_groups",
    "lots_label",
    "optimal",
    "render",
]

#: The criterion name of the allocation's reasons.
CRITERION = "allocation"

_TENURE_OF_BITS = {1: "rent", 2: "sale", 3: "both"}


# --- adjacency and groups ------------------------------------------------------------------


def lot_adjacency(
    lots: Sequence[PremisesCreate], *, tolerance_m: float = 1.0
) -> list[tuple[int, int]]:
    """Pairs ``(a, b)``, ``a < b``, of lots that touch.

    From the outlines (``footprint``) when every lot has one: two lots are adjacent when their
    outlines, projected to Lambert-93 and buffered by ``tolerance_m / 2``, intersect (a shared
    party wall, or a gap narrower than ``tolerance_m``). Otherwise from the order of the
    lots along the street: each lot touches the next.
    """
    n = len(lots)
    if n < 2:
        return []
    if any(lot.footprint is None for lot in lots):
        return [(k, k + 1) for k in range(n - 1)]
    outlines = np.array(
        [project_geometry(shapely.geometry.shape(lot.footprint)) for lot in lots], dtype=object
    )
    grown = shapely.buffer(outlines, tolerance_m / 2.0, join_style="mitre")
    tree = shapely.STRtree(grown)
    a, b = tree.query(grown, predicate="intersects")
    keep = a < b
    return sorted(zip(a[keep].tolist(), b[keep].tolist(), strict=True))


def lot_groups(
    n_lots: int, pairs: Sequence[tuple[int, int]], max_lots: int
) -> list[tuple[int, ...]]:
    """Every connected set of 1 to ``max_lots`` lots, as sorted tuples of positions.

    Grown one neighbour at a time from single lots (each set once), ordered by size then
    positions.

    Examples
    --------
    >>> lot_groups(4, [(0, 1), (1, 2), (2, 3)], 2)
    [(0,), (1,), (2,), (3,), (0, 1), (1, 2), (2, 3)]
    """
    if max_lots < 1:
        msg = f"max_lots: an applicant takes at least one lot, got {max_lots}"
        raise ValueError(msg)
    neighbours: list[set[int]] = [set() for _ in range(n_lots)]
    for a, b in pairs:
        neighbours[a].add(b)
        neighbours[b].add(a)
    level = {frozenset([k]) for k in range(n_lots)}
    out: list[tuple[int, ...]] = sorted(tuple(sorted(g)) for g in level)
    for _ in range(max_lots - 1):
        nxt = set()
        for g in level:
            for k in set().union(*(neighbours[v] for v in g)) - g:
                nxt.add(g | {k})
        level = nxt
        out.extend(sorted(tuple(sorted(g)) for g in level))
    return out


def _v(value: Any) -> str:
    """An enumeration's value, whether the model kept the member or its value."""
    return str(getattr(value, "value", value))


def _effective_uses(lot: PremisesCreate) -> set[str]:
    return {_v(u) for u in lot.uses} or set(KIND_DEFAULT_USES[_v(lot.kind)])


def _group_columns(
    lots: Sequence[PremisesCreate], groups: Sequence[tuple[int, ...]], labels: Sequence[str]
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Catalogue columns of the groups (one row each), and which groups are coherent.

    A group offers the sum of its lots' surfaces (and parts, docks, doors, power), the
    lowest ceiling and floor load, the surface-weighted rent and charges, the summed sale
    price, the uses and tenure every lot allows, ICPE when every lot allows it, the latest
    availability date. A value unknown for one lot is unknown for the group. Groups whose
    lots share no use or no tenure, or mix communes, are incoherent (never offered).
    """
    g = len(groups)
    surf = np.array([lot.surface_m2 for lot in lots])

    def num(name: str) -> np.ndarray:
        return np.array(
            [np.nan if getattr(lot, name) is None else float(getattr(lot, name)) for lot in lots]
        )

    cols: dict[str, Any] = {}
    sums = ("surface_m2", "activity_m2", "storage_m2", "office_m2", "loading_docks",
            "ground_level_doors", "power_kva", "sale_price_eur")  # fmt: skip
    mins = ("ceiling_height_m", "floor_load_t_m2")
    means = ("rent_eur_m2_year", "charges_eur_m2_year")
    lot_vals = {name: num(name) for name in (*sums, *mins, *means)}
    for name in (*sums, *mins, *means):
        cols[name] = np.empty(g)
    coherent = np.ones(g, dtype=bool)
    kinds, tenures, uses, icpe, avail, communes, zones = [], [], [], [], [], [], []
    lon, lat = np.empty(g), np.empty(g)
    outlines = [
        None if lot.footprint is None else shapely.geometry.shape(lot.footprint) for lot in lots
    ]
    for j, members in enumerate(groups):
        m = list(members)
        for name in sums:
            cols[name][j] = lot_vals[name][m].sum()  # NaN when one is unknown
        for name in mins:
            cols[name][j] = lot_vals[name][m].min()
        for name in means:
            cols[name][j] = (lot_vals[name][m] * surf[m]).sum() / surf[m].sum()
        group_lots = [lots[k] for k in m]
        kind_values = {_v(lot.kind) for lot in group_lots}
        kinds.append(_v(group_lots[0].kind) if len(kind_values) > 1 else kind_values.pop())
        bits = 3
        for lot in group_lots:
            bits &= TENURE_BITS[_v(lot.tenure)]
        common = set.intersection(*(_effective_uses(lot) for lot in group_lots))
        same_place = len({lot.commune_insee for lot in group_lots}) == 1
        coherent[j] = bits != 0 and bool(common) and same_place
        tenures.append(_TENURE_OF_BITS.get(bits, "rent"))
        uses.append(",".join(sorted(common)))
        flags = [lot.icpe_allowed for lot in group_lots]
        icpe.append(False if False in flags else (None if None in flags else True))
        dates = [lot.available_from for lot in group_lots]
        avail.append(None if None in dates else max(d for d in dates if d is not None))
        communes.append(group_lots[0].commune_insee)
        zones.append(group_lots[0].zone_id)
        shapes = [outlines[k] for k in m]
        if all(s is not None for s in shapes):
            c = shapely.union_all(shapes).centroid
            lon[j], lat[j] = c.x, c.y
        else:
            lon[j] = float(np.mean([lot.lon for lot in group_lots]))
            lat[j] = float(np.mean([lot.lat for lot in group_lots]))
    cols.update(
        id=np.arange(g, dtype=np.int64),
        title=np.array(list(labels), dtype=object),
        kind=np.array(kinds, dtype=object),
        status=np.full(g, "available", dtype=object),
        tenure=np.array(tenures, dtype=object),
        uses=np.array(uses, dtype=object),
        divisible=np.zeros(g, dtype=bool),
        icpe_allowed=np.array(icpe, dtype=object),
        min_lot_m2=np.full(g, np.nan),
        available_from=np.array(
            [np.datetime64("NaT") if d is None else np.datetime64(d) for d in avail],
            dtype="datetime64[us]",
        ),
        last_verified_at=np.full(g, np.datetime64("NaT"), dtype="datetime64[us]"),
        lon=lon,
        lat=lat,
        commune_insee=np.array(communes, dtype=object),
        zone_id=np.array(zones, dtype=object),
    )
    return cols, coherent


def lots_label(refs: Sequence[str], positions: Sequence[int]) -> str:
    """``A4`` for one lot, ``A4–A6`` for consecutive ones, ``A4, B1`` otherwise.

    Examples
    --------
    >>> lots_label(["A1", "A2", "A3", "B1"], [0, 1, 2]), lots_label(["A1", "B1"], [0, 1])
    ('A1–A3', 'A1, B1')
    """
    p = sorted(positions)
    if len(p) == 1:
        return refs[p[0]]
    if p[-1] - p[0] == len(p) - 1 and refs[p[0]][:1] == refs[p[-1]][:1]:
        return f"{refs[p[0]]}–{refs[p[-1]]}"
    return ", ".join(refs[k] for k in p)


# --- the problem ---------------------------------------------------------------------------


@dataclass
class AllocationProblem:
    """Lots, applicants, the groups of adjacent lots and each applicant's fit to each group.

    Build it with :meth:`build`. ``fit[i, g]`` is applicant ``i``'s matching score (0–100) for
    group ``g``, NaN where the group fails one of the applicant's required criteria;
    ``incidence`` (groups × lots, sparse) says which lots each group holds.
    """

    lots: list[PremisesCreate]
    lot_refs: list[str]
    available: np.ndarray
    needs: list[NeedIn]
    names: list[str]
    need_ids: np.ndarray
    table: NeedTable
    groups: list[tuple[int, ...]]
    labels: list[str]
    index: MatchIndex
    fit: np.ndarray
    incidence: sparse.csr_matrix
    failing: list[list[str]]
    max_lots: int
    ranker: Ranker | None = None

    @classmethod
    def build(
        cls,
        lots: Sequence[PremisesCreate],
        needs: Sequence[NeedIn],
        *,
        max_lots: int = 4,
        ids: Sequence[int] | None = None,
        adjacency: Sequence[tuple[int, int]] | None = None,
        tolerance_m: float = 1.0,
        stations: Any = None,
        interchanges: Any = None,
        commune_names: Mapping[str, str] | None = None,
        ranker: Ranker | None = None,
    ) -> AllocationProblem:
        """Enumerate the groups and score every applicant against every group.

        Parameters
        ----------
        lots
            The development's lots (``lot_ref`` names them; ``footprint`` gives adjacency).
            Only available lots are allocated; the others get a reason and stay out.
        needs
            The applicants' needs, in order of arrival (the first-come-first-served order).
        max_lots
            The most lots one applicant may take together.
        ids
            The applicants' ids (default: their ``id`` attribute, else 0, 1, 2 …).
        adjacency
            Pairs of adjacent lots (positions); default :func:`lot_adjacency`.
        stations, interchanges, commune_names
            As for :meth:`MatchIndex.from_frame`: access and reasons.
        ranker
            The scoring model (default weights without one).
        """
        lots = list(lots)
        needs = list(needs)
        if not lots:
            msg = "lots: a development needs at least one lot to allocate"
            raise ValueError(msg)
        refs = [str(lot.lot_ref) if lot.lot_ref else str(k + 1) for k, lot in enumerate(lots)]
        if len(set(refs)) != len(refs):
            msg = "lots: lot_ref must be unique within the development"
            raise ValueError(msg)
        pairs = (
            list(adjacency)
            if adjacency is not None
            else lot_adjacency(lots, tolerance_m=tolerance_m)
        )
        available = np.array([_v(lot.status) == "available" for lot in lots])
        pos = np.flatnonzero(available)
        renum = {int(p): k for k, p in enumerate(pos)}
        sub_pairs = [(renum[a], renum[b]) for a, b in pairs if a in renum and b in renum]
        groups = [tuple(int(pos[k]) for k in g) for g in lot_groups(len(pos), sub_pairs, max_lots)]
        labels = [lots_label(refs, g) for g in groups]
        cols, coherent = _group_columns(lots, groups, labels) if groups else ({}, np.zeros(0, bool))
        keep = np.flatnonzero(coherent)
        groups = [groups[j] for j in keep]
        labels = [labels[j] for j in keep]
        cols = {k: v[keep] for k, v in cols.items()}
        if len(groups):
            cols["id"] = np.arange(len(groups), dtype=np.int64)
        else:
            cols = _group_columns(lots, [(0,)], ["-"])[0]
            cols = {k: v[:0] for k, v in cols.items()}
        index = MatchIndex.from_columns(
            cols,
            stations=as_point_set(stations),
            interchanges=as_point_set(interchanges),
            commune_names=commune_names,
        )
        table = NeedTable.from_needs(needs, ids)
        fit, failing = _fit_matrix(index, table, ranker)
        rows = np.repeat(np.arange(len(groups)), [len(g) for g in groups])
        cols_ = np.array([k for g in groups for k in g], dtype=np.int64)
        incidence = sparse.csr_matrix(
            (np.ones(len(rows)), (rows, cols_)), shape=(len(groups), len(lots))
        )
        return cls(
            lots=lots,
            lot_refs=refs,
            available=available,
            needs=needs,
            names=[n.company_name for n in needs],
            need_ids=table.ids,
            table=table,
            groups=groups,
            labels=labels,
            index=index,
            fit=fit,
            incidence=incidence,
            failing=failing,
            max_lots=max_lots,
            ranker=ranker,
        )

    @property
    def surfaces(self) -> np.ndarray:
        """Surface of each group, m²."""
        return self.index.cols["surface_m2"]

    def pairs(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The feasible (applicant, group) pairs and their fit, applicant-major."""
        i, g = np.nonzero(~np.isnan(self.fit))
        return i, g, self.fit[i, g]


def _fit_matrix(
    index: MatchIndex, table: NeedTable, ranker: Ranker | None
) -> tuple[np.ndarray, list[list[str]]]:
    """Scores ``(needs, groups)`` (NaN where a required criterion fails), and per need the
    required criteria that some group fails."""
    m, g = len(table), index.n_rows
    fit = np.full((m, g), np.nan)
    failing: list[list[str]] = []
    base = matchable_mask(index)
    rows = np.arange(g)
    for i in range(m):
        ok = base.copy()
        fails: dict[str, np.ndarray] = {}
        for s in sub_filters(index, table, i):
            ok &= s.mask
            prev = fails.get(s.criterion)
            fails[s.criterion] = ~s.mask if prev is None else prev | ~s.mask
        failing.append([c for c, bad in fails.items() if bad.all() and g])
        if not table.needs[i].active or not ok.any():
            failing[-1] = failing[-1] or [c for c, bad in fails.items() if bad.any()]
            continue
        scores, _ = score_rows(index, table, i, rows[ok], ranker)
        fit[i, ok] = scores
    return fit, failing


# --- results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Assignment:
    """Lots given to one applicant, with the fit and its reasons."""

    need_id: int
    company: str
    lots: list[str]
    surface_m2: float
    fit: float
    reason: Reason
    text: dict[str, str]
    details: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class Refusal:
    """An applicant who got no lot, and why."""

    need_id: int
    company: str
    reason: Reason
    text: dict[str, str]


@dataclass(frozen=True)
class LotOutcome:
    """What became of one lot, and why."""

    lot: str
    company: str | None
    reason: Reason
    text: dict[str, str]


@dataclass(frozen=True)
class Allocation:
    """The outcome of one allocation method.

    ``total_fit`` is the sum of the fits (0–100 each) of the applicants served.
    """

    method: str
    assignments: list[Assignment]
    refusals: list[Refusal]
    lots: list[LotOutcome]
    total_fit: float
    n_served: int
    surface_let_m2: float
    chosen: list[tuple[int, int]]  # (applicant position, group position)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = asdict(self)
        out.pop("chosen")
        return out


# --- the solvers ---------------------------------------------------------------------------


def _solve_milp(
    problem: AllocationProblem, *, force: int | None = None
) -> tuple[list[tuple[int, int]], float]:
    """Best set of pairs: each applicant at most once, each lot at most once (exact).

    ``force`` makes that applicant served (for the cost of serving a refused one).
    """
    ni, ng, w = problem.pairs()
    if len(w) == 0:
        return [], 0.0
    m = len(problem.needs)
    n_pairs = len(w)
    cols = np.arange(n_pairs)
    need_rows = sparse.csr_matrix((np.ones(n_pairs), (ni, cols)), shape=(m, n_pairs))
    lot_rows = (problem.incidence[ng].T).tocsr()  # lots × pairs
    a = sparse.vstack([need_rows, lot_rows]).tocsr()
    lower = np.zeros(a.shape[0])
    upper = np.ones(a.shape[0])
    if force is not None:
        if not (ni == force).any():
            return [], float("nan")
        lower[force] = 1.0
    # Between equal totals, a tiny preference for fewer lots, then for earlier applicants
    # (far below any fit difference shown: the total stays optimal to 1e-4).
    n_lots = np.asarray(problem.incidence[ng].sum(axis=1)).ravel()
    cost = -(w - 1e-6 * n_lots - 1e-8 * ni)
    res = optimize.milp(
        cost,
        constraints=optimize.LinearConstraint(a, lower, upper),
        integrality=np.ones(n_pairs),
        bounds=optimize.Bounds(0, 1),
        options={"mip_rel_gap": 0.0},
    )
    if res.x is None:
        return [], float("nan")
    sel = np.flatnonzero(res.x > 0.5)
    chosen = sorted(zip(ni[sel].tolist(), ng[sel].tolist(), strict=True))
    return chosen, float(w[sel].sum())


def _solve_assignment(problem: AllocationProblem) -> tuple[list[tuple[int, int]], float]:
    """Best one-lot-each assignment (``linear_sum_assignment``): groups are single lots."""
    single = [j for j, g in enumerate(problem.groups) if len(g) == 1]
    fit = problem.fit[:, single]
    ok = ~np.isnan(fit)
    if not ok.any():
        return [], 0.0
    r, c = optimize.linear_sum_assignment(np.where(ok, fit, 0.0), maximize=True)
    keep = ok[r, c]
    chosen = sorted((int(i), single[int(j)]) for i, j in zip(r[keep], c[keep], strict=True))
    return chosen, float(fit[r[keep], c[keep]].sum())


def optimal(
    problem: AllocationProblem, *, method: str = "auto", explain: bool = True, costs: bool = True
) -> Allocation:
    """The allocation of greatest total fit.

    ``method``: ``"milp"`` (any group size), ``"assignment"`` (one lot each, Hungarian
    algorithm) or ``"auto"`` (assignment when ``max_lots`` is 1). With ``explain`` each
    assignment carries the matching reasons of its lots; with ``costs`` too, each refusal of
    an applicant who had fitting lots says how much the total fit would drop to serve it
    (one more solve per such applicant).
    """
    if method == "auto":
        method = "assignment" if problem.max_lots == 1 else "milp"
    if method == "milp":
        chosen, total = _solve_milp(problem)
    elif method == "assignment":
        chosen, total = _solve_assignment(problem)
    else:
        msg = f"method: expected 'auto', 'milp' or 'assignment', got {method!r}"
        raise ValueError(msg)
    return _outcome(
        problem, f"optimal ({method})", chosen, total, explain=explain, costs=explain and costs
    )


def first_come_first_served(
    problem: AllocationProblem, *, order: Sequence[int] | None = None, explain: bool = True
) -> Allocation:
    """Applicants in arrival order (``order``: positions; default the needs' order) each take
    their best remaining group: highest fit, then fewer lots, then the smaller surface."""
    order = list(range(len(problem.needs))) if order is None else [int(i) for i in order]
    taken = np.zeros(len(problem.lots), dtype=bool)
    inc = problem.incidence
    chosen: list[tuple[int, int]] = []
    total = 0.0
    sizes = np.array([len(g) for g in problem.groups])
    for i in order:
        row = problem.fit[i]
        free = ~(inc @ taken.astype(np.float64) > 0) if len(sizes) else np.zeros(0, bool)
        ok = np.flatnonzero(~np.isnan(row) & free)
        if len(ok) == 0:
            continue
        best = ok[np.lexsort((ok, problem.surfaces[ok], sizes[ok], -row[ok]))[0]]
        chosen.append((i, int(best)))
        total += float(row[best])
        taken[list(problem.groups[best])] = True
    return _outcome(
        problem, "first_come_first_served", sorted(chosen), total, explain=explain, costs=False
    )


# --- reasons -------------------------------------------------------------------------------


def _outcome(
    problem: AllocationProblem,
    method: str,
    chosen: list[tuple[int, int]],
    total: float,
    *,
    explain: bool,
    costs: bool,
) -> Allocation:
    fcfs = method == "first_come_first_served"
    owner = np.full(len(problem.lots), -1)
    got = {i: g for i, g in chosen}
    for i, g in chosen:
        owner[list(problem.groups[g])] = i
    assignments = []
    for i, g in chosen:
        need = problem.needs[i]
        reason = Reason(
            CRITERION,
            "assigned",
            {
                "company": need.company_name,
                "lots": [problem.lot_refs[k] for k in problem.groups[g]],
                "label": problem.labels[g],
                "surface": float(problem.surfaces[g]),
                "want_min": float(need.surface_min_m2),
                "want_max": float(need.surface_max_m2),
                "fit": round(float(problem.fit[i, g]), 1),
            },
        )
        details: list[dict[str, Any]] = []
        if explain:
            _, cols = score_rows(problem.index, problem.table, i, np.array([g]), problem.ranker)
            names = problem.table.registry.names
            utilities = {names[j]: float(c[0]) for j, c in enumerate(cols) if c is not None}
            details = explain_row(problem.index.record(g), problem.table, i, utilities)
        assignments.append(
            Assignment(
                need_id=int(problem.need_ids[i]),
                company=need.company_name,
                lots=reason.params["lots"],
                surface_m2=reason.params["surface"],
                fit=float(problem.fit[i, g]),
                reason=reason,
                text=_texts(reason),
                details=details,
            )
        )
    refusals = [
        Refusal(
            need_id=int(problem.need_ids[i]),
            company=problem.names[i],
            reason=(r := _refusal(problem, i, owner, fcfs, total, costs)),
            text=_texts(r),
        )
        for i in range(len(problem.needs))
        if i not in got
    ]
    lot_outcomes = [_lot_outcome(problem, k, owner, got) for k in range(len(problem.lots))]
    return Allocation(
        method=method,
        assignments=assignments,
        refusals=refusals,
        lots=lot_outcomes,
        total_fit=float(sum(problem.fit[i, g] for i, g in chosen)),
        n_served=len(chosen),
        surface_let_m2=float(sum(problem.surfaces[g] for _, g in chosen)),
        chosen=chosen,
    )


def _refusal(
    problem: AllocationProblem,
    i: int,
    owner: np.ndarray,
    fcfs: bool,
    total: float,
    costs: bool,
) -> Reason:
    need = problem.needs[i]
    name = need.company_name
    fits = np.flatnonzero(~np.isnan(problem.fit[i]))
    if not need.active:
        return Reason(CRITERION, "inactive", {"company": name})
    if len(fits) == 0 and not len(problem.groups):
        return Reason(CRITERION, "no_lots", {"company": name})
    if len(fits) == 0:
        sizes = problem.surfaces
        lo = float(need.surface_min_m2) * (1.0 - SURFACE_TOLERANCE)
        hi = float(need.surface_max_m2) * (1.0 + SURFACE_TOLERANCE)
        failing = problem.failing[i]
        if "surface" in failing and len(sizes) and sizes.max() < lo:
            return Reason(
                CRITERION,
                "too_large",
                {
                    "company": name,
                    "want_min": float(need.surface_min_m2),
                    "largest": float(sizes.max()),
                    "max_lots": problem.max_lots,
                },
            )
        if "surface" in failing and len(sizes) and sizes.min() > hi:
            return Reason(
                CRITERION,
                "too_small",
                {
                    "company": name,
                    "want_max": float(need.surface_max_m2),
                    "smallest": float(sizes.min()),
                },
            )
        return Reason(CRITERION, "no_fit", {"company": name, "criteria": failing})
    winners = sorted(
        {problem.names[int(o)] for g in fits for o in owner[list(problem.groups[g])] if o >= 0}
    )
    params: dict[str, Any] = {
        "company": name,
        "smallest": float(problem.surfaces[fits].min()),
        "n_options": len(fits),
        "taken_by": winners,
    }
    if fcfs:
        return Reason(CRITERION, "taken_earlier", params)
    if costs:
        _, forced = _solve_milp(problem, force=i)
        params["loss"] = round(max(total - forced, 0.0), 1)
    return Reason(CRITERION, "outranked", params)


def _lot_outcome(
    problem: AllocationProblem, k: int, owner: np.ndarray, got: dict[int, int]
) -> LotOutcome:
    ref = problem.lot_refs[k]
    if not problem.available[k]:
        reason = Reason(
            CRITERION, "lot_unavailable", {"lot": ref, "status": _v(problem.lots[k].status)}
        )
        return LotOutcome(ref, None, reason, _texts(reason))
    if owner[k] >= 0:
        i = int(owner[k])
        g = got[i]
        others = [problem.lot_refs[j] for j in problem.groups[g] if j != k]
        reason = Reason(
            CRITERION,
            "lot_assigned",
            {
                "lot": ref,
                "company": problem.names[i],
                "with": others,
                "fit": round(float(problem.fit[i, g]), 1),
            },
        )
        return LotOutcome(ref, problem.names[i], reason, _texts(reason))
    holding = np.flatnonzero(np.asarray(problem.incidence[:, k].todense()).ravel() > 0)
    could = sorted({int(i) for i in np.nonzero(~np.isnan(problem.fit[:, holding]))[0]})
    if not could:
        reason = Reason(CRITERION, "lot_no_applicant", {"lot": ref})
    else:
        served = [i for i in could if i in got]
        code = "lot_left_served" if len(served) == len(could) else "lot_left_blocked"
        reason = Reason(
            CRITERION,
            code,
            {"lot": ref, "n_could": len(could), "n_served": len(served)},
        )
    return LotOutcome(ref, None, reason, _texts(reason))


# --- text ----------------------------------------------------------------------------------


def _names(names: Sequence[str], lang: str, limit: int = 3) -> str:
    shown = list(names[:limit])
    rest = len(names) - len(shown)
    if rest > 0:
        shown.append(
            f"{rest} autre{'s' if rest > 1 else ''}"
            if lang == "fr"
            else f"{rest} other{'s' if rest > 1 else ''}"
        )
    if len(shown) <= 1:
        return "".join(shown)
    sep = " et " if lang == "fr" else " and "
    return ", ".join(shown[:-1]) + sep + shown[-1]


def _want(p: Mapping[str, Any], f: LanguageFormatter) -> str:
    lo, hi = p["want_min"], p["want_max"]
    if lo == hi:
        return f.area(lo)
    return f"{f.number(lo)} à {f.area(hi)}" if f.lang == "fr" else f"{f.number(lo)}–{f.area(hi)}"


def _lots_word(p: Mapping[str, Any], lang: str) -> str:
    many = len(p["lots"]) > 1
    return ("lots " if many else "lot ") + p["label"]


def render(reason: Reason, lang: str) -> str:
    """The text of an allocation reason in French (``"fr"``) or English (``"en"``).

    Examples
    --------
    >>> r = Reason("allocation", "assigned", {"company": "Menuiserie Démo", "lots": ["A4",
    ...     "A5"], "label": "A4–A5", "surface": 420.0, "want_min": 400.0, "want_max": 400.0,
    ...     "fit": 87.5})
    >>> render(r, "en")
    'Lots A4–A5 to Menuiserie Démo: 420\\xa0m² for a need of 400\\xa0m² (fit 87.5/100)'
    """
    f = LanguageFormatter(lang)
    fr = lang == "fr"
    p = reason.params
    code = reason.code
    if code == "assigned":
        lots = _lots_word(p, lang)
        lots = lots[:1].upper() + lots[1:]
        fit = f.number(p["fit"], 1)
        if fr:
            return (
                f"{lots} à {p['company']}\u00a0: {f.area(p['surface'])} pour un besoin de "
                f"{_want(p, f)} (adéquation {fit}/100)"
            )
        return (
            f"{lots} to {p['company']}: {f.area(p['surface'])} for a need of {_want(p, f)} "
            f"(fit {fit}/100)"
        )
    if code == "too_large":
        n = p["max_lots"]
        if fr:
            return (
                f"{p['company']} refusée\u00a0: son besoin de {f.area(p['want_min'])} au moins "
                f"dépasse le plus grand ensemble de {n} lots contigus ou moins "
                f"({f.area(p['largest'])})"
            )
        return (
            f"{p['company']} refused: its need of at least {f.area(p['want_min'])} exceeds the "
            f"largest group of up to {n} adjacent lots ({f.area(p['largest'])})"
        )
    if code == "too_small":
        if fr:
            return (
                f"{p['company']} refusée\u00a0: son besoin de {f.area(p['want_max'])} au plus est "
                f"en dessous du plus petit lot ({f.area(p['smallest'])})"
            )
        return (
            f"{p['company']} refused: its need of at most {f.area(p['want_max'])} is below the "
            f"smallest lot ({f.area(p['smallest'])})"
        )
    if code == "no_fit":
        crit = ", ".join(criterion_label(c, lang) for c in p["criteria"]) or "?"
        if fr:
            return (
                f"{p['company']} refusée\u00a0: aucun lot ni ensemble de lots contigus ne remplit "
                f"ses critères impératifs ({crit})"
            )
        return (
            f"{p['company']} refused: no lot or group of adjacent lots meets its required "
            f"criteria ({crit})"
        )
    if code == "no_lots":
        if fr:
            return f"{p['company']} refusée\u00a0: aucun lot n'est disponible"
        return f"{p['company']} refused: no lot is available"
    if code == "inactive":
        if fr:
            return f"{p['company']} non prise en compte\u00a0: sa demande est suspendue"
        return f"{p['company']} not considered: its application is suspended"
    if code in ("outranked", "taken_earlier"):
        who = _names(p["taken_by"], lang)
        if code == "taken_earlier":
            if fr:
                return (
                    f"{p['company']} refusée\u00a0: tous les lots de {f.area(p['smallest'])} ou "
                    f"plus qui lui conviennent étaient déjà attribués à des candidats arrivés "
                    f"avant ({who})"
                )
            return (
                f"{p['company']} refused: every lot of {f.area(p['smallest'])} or more that "
                f"fits it had already gone to earlier applicants ({who})"
            )
        loss = p.get("loss")
        if fr:
            text = (
                f"{p['company']} refusée\u00a0: tous les lots de {f.area(p['smallest'])} ou plus "
                f"qui lui conviennent sont allés à des entreprises mieux classées ({who})"
            )
            if loss is not None and loss < 0.05:
                text += "\u00a0; la servir à la place laisserait l'adéquation totale inchangée"
            elif loss is not None:
                text += (
                    "\u00a0; la servir ferait baisser l'adéquation totale de "
                    f"{f.number(loss, 1)} points"
                )
            return text
        text = (
            f"{p['company']} refused: every lot of {f.area(p['smallest'])} or more that fits "
            f"it went to companies with a higher fit ({who})"
        )
        if loss is not None and loss < 0.05:
            text += "; serving it instead would leave the total fit unchanged"
        elif loss is not None:
            text += f"; serving it would lower the total fit by {f.number(loss, 1)} points"
        return text
    if code == "lot_assigned":
        with_ = p["with"]
        if fr:
            tail = f" (avec {', '.join(with_)})" if with_ else ""
            return f"Lot {p['lot']}\u00a0: attribué à {p['company']}{tail}"
        tail = f" (with {', '.join(with_)})" if with_ else ""
        return f"Lot {p['lot']}: to {p['company']}{tail}"
    if code == "lot_unavailable":
        status = {
            "under_offer": ("sous offre", "under offer"),
            "let": ("loué", "let"),
            "sold": ("vendu", "sold"),
            "withdrawn": ("retiré", "withdrawn"),
        }.get(p["status"], (p["status"], p["status"]))
        if fr:
            return f"Lot {p['lot']}\u00a0: hors attribution ({status[0]})"
        return f"Lot {p['lot']}: not allocated ({status[1]})"
    if code == "lot_no_applicant":
        if fr:
            return (
                f"Lot {p['lot']}\u00a0: libre, aucun candidat ne peut l'utiliser, seul ou avec "
                "ses voisins"
            )
        return f"Lot {p['lot']}: free, no applicant can use it, alone or with its neighbours"
    if code == "lot_left_served":
        if fr:
            return (
                f"Lot {p['lot']}\u00a0: libre, les {p['n_could']} candidats à qui il pourrait "
                f"convenir ont reçu des lots qui leur conviennent mieux"
            )
        return (
            f"Lot {p['lot']}: free, the {p['n_could']} applicants it could suit got lots that "
            f"suit them better"
        )
    if code == "lot_left_blocked":
        if fr:
            return (
                f"Lot {p['lot']}\u00a0: libre, les candidats non servis qui pourraient l'utiliser "
                f"en auraient besoin avec des lots voisins déjà attribués"
            )
        return (
            f"Lot {p['lot']}: free, the unserved applicants who could use it would need it with "
            f"neighbouring lots already allocated"
        )
    msg = f"reason: no {lang} message for allocation code '{code}'"
    raise KeyError(msg)


def _texts(reason: Reason) -> dict[str, str]:
    return {lang: render(reason, lang) for lang in ("fr", "en")}


def compare(best: Allocation, other: Allocation) -> dict[str, Any]:
    """Figures of two allocations side by side (the optimum and first-come-first-served).

    Returns the total fit, applicants served and m² let of each, the gain, and the
    companies served by one and not the other.
    """
    a = {x.company for x in best.assignments}
    b = {x.company for x in other.assignments}
    return {
        "total_fit": {
            best.method: round(best.total_fit, 1),
            other.method: round(other.total_fit, 1),
        },
        "gain": round(best.total_fit - other.total_fit, 1),
        "served": {best.method: best.n_served, other.method: other.n_served},
        "surface_let_m2": {best.method: best.surface_let_m2, other.method: other.surface_let_m2},
        "only_in_" + best.method: sorted(a - b),
        "only_in_" + other.method: sorted(b - a),
    }
