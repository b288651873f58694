"""Reverse matching: which saved needs one listing fits, vectorised over the needs.

The filters, utilities and score are the forward engine's, evaluated with one listing's
values as scalars and every need's parameters as arrays: a listing fits a need here exactly
when it would appear among that need's forward matches, with the same score.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

import shapely

from matcher import criteria as cr
from matcher._codes import STATUS_CODE
from matcher.engine import weighted_score
from matcher.index import MatchIndex
from matcher.needs import TECHNICAL_FIELDS, NeedTable
from matcher.weights import CRITERIA

__all__ = ["ListingMatch", "NeedArrays", "evaluate_listing", "match_listing"]


@dataclass(frozen=True)
class ListingMatch:
    """A saved need that a listing fits."""

    need_id: int
    score: float
    utilities: dict[str, float]


@dataclass
class NeedArrays:
    """The ragged parts of a :class:`NeedTable` padded to arrays, for reverse matching."""

    place_x: np.ndarray  # (m, P), NaN beyond a need's places
    place_y: np.ndarray
    place_reach: np.ndarray
    place_hard: np.ndarray
    commune_owner: np.ndarray  # flat (need row, commune) pairs
    commune_code: np.ndarray
    has_communes: np.ndarray
    has_polygon: np.ndarray
    is_active: np.ndarray

    @classmethod
    def from_table(cls, table: NeedTable) -> NeedArrays:
        """Pad the places and flatten the communes of every need."""
        m = len(table)
        p = max((len(x) for x in table.place_x), default=0)
        px = np.full((m, p), np.nan)
        py = np.full((m, p), np.nan)
        reach = np.full((m, p), np.nan)
        hard = np.zeros((m, p), dtype=bool)
        for i in range(m):
            n = len(table.place_x[i])
            px[i, :n] = table.place_x[i]
            py[i, :n] = table.place_y[i]
            reach[i, :n] = table.place_reach[i]
            hard[i, :n] = table.place_hard[i]
        owner = np.array([i for i, cs in enumerate(table.communes) for _ in cs], dtype=np.int64)
        codes = np.array([c for cs in table.communes for c in cs], dtype=object)
        return cls(
            place_x=px,
            place_y=py,
            place_reach=reach,
            place_hard=hard,
            commune_owner=owner,
            commune_code=codes,
            has_communes=np.array([bool(cs) for cs in table.communes], dtype=bool).reshape(m),
            has_polygon=np.array([g is not None for g in table.polygon], dtype=bool).reshape(m),
            is_active=np.array([bool(n.active) for n in table.needs], dtype=bool).reshape(m),
        )


def _arrays(table: NeedTable) -> NeedArrays:
    cached = getattr(table, "_need_arrays", None)
    if cached is None:
        cached = NeedArrays.from_table(table)
        table._need_arrays = cached  # type: ignore[attr-defined]
    return cached


def evaluate_listing(
    index: MatchIndex, pos: int, table: NeedTable
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the listing at row ``pos``: per need, whether it passes the required filters,
    its score and its ``(m, 7)`` utilities (NaN for criteria a need does not use)."""
    c = index.cols
    a = c["lot_min"][pos]
    b = c["surface_m2"][pos]
    x, y = c["x"][pos], c["y"][pos]
    arr = _arrays(table)
    m = len(table)
    req = table.required & table.active

    # --- filters -----------------------------------------------------------------------
    ok_surface = cr.surface_ok(a, b, table.s_min, table.s_max)
    ok_use = cr.use_ok(c["uses_eff"][pos], c["kind"][pos], table.use_mask, table.kind_mask)
    taken = cr.surface_taken(a, b, table.s_min)
    sale = cr.sale_total(c["sale_price_eur"][pos], b, taken)
    rent = c["rent_eur_m2_year"][pos]
    tenure = c["tenure"][pos]
    ok_budget = cr.budget_ok(tenure, rent, sale, table.wanted_bits, table.max_rent, table.max_sale)
    code = c["commune"][pos]
    commune = index.communes[code] if code >= 0 else None
    hit = np.zeros(m, dtype=bool)
    if commune is not None and len(arr.commune_code):
        hit[arr.commune_owner[arr.commune_code == commune]] = True
    inside_poly = np.zeros(m, dtype=bool)
    if arr.has_polygon.any():
        point = shapely.Point(x, y)
        inside_poly[arr.has_polygon] = shapely.covers(
            np.asarray(table.polygon[arr.has_polygon], dtype=object), point
        )
    dx = x - table.cx
    dy = y - table.cy
    d2 = dx * dx + dy * dy
    ok_radius = ~table.radius_hard | (d2 <= table.reach * table.reach)
    pdx = x - arr.place_x
    pdy = y - arr.place_y
    pd2 = pdx * pdx + pdy * pdy
    ok_places = ~(arr.place_hard & ~(pd2 <= arr.place_reach * arr.place_reach)).any(axis=1)
    ok_location = (
        (~arr.has_communes | hit) & (~arr.has_polygon | inside_poly) & ok_radius & ok_places
    )
    ok_access = ~(c["station_dist"][pos] > table.station_max) & ~(
        c["interchange_dist"][pos] > table.interchange_max
    )
    ok_tech = np.ones(m, dtype=bool)
    for j, (_, col) in enumerate(TECHNICAL_FIELDS):
        ok_tech &= cr.minimum_ok(c[col][pos], table.tech_min[:, j])
    ok_tech &= cr.icpe_ok(c["icpe"][pos], table.needs_icpe)
    ok_avail = cr.availability_ok(c["available_day"][pos], table.wanted_day)
    oks = np.column_stack(
        [ok_surface, ok_use, ok_budget, ok_location, ok_access, ok_tech, ok_avail]
    ).reshape(m, len(CRITERIA))
    passes = (~req | oks).all(axis=1) & arr.is_active

    # --- utilities (same formulas, same order as the forward engine) --------------------
    u = np.full((m, len(CRITERIA)), np.nan)
    u[:, 0] = cr.surface_utility(a, b, table.s_min, table.s_max)
    u[:, 1] = cr.use_utility(c["uses_eff"][pos], c["kind"][pos], table.use_mask, table.kind_mask)
    u[:, 2] = cr.budget_utility(
        tenure, rent, sale, table.wanted_bits, table.max_rent, table.max_sale
    )
    parts: list[Any] = [
        np.where(arr.has_communes, np.where(hit, 1.0, 0.0), np.nan),
        np.where(arr.has_polygon, np.where(inside_poly, 1.0, 0.0), np.nan),
        cr.distance_utility(cr.distance_m(x, y, table.cx, table.cy), table.reach),
    ]
    for j in range(arr.place_x.shape[1]):
        parts.append(
            cr.distance_utility(
                cr.distance_m(x, y, arr.place_x[:, j], arr.place_y[:, j]), arr.place_reach[:, j]
            )
        )
    u[:, 3] = cr.mean_of_present(parts)
    u[:, 4] = cr.mean_of_present(
        [
            cr.distance_utility(c["station_dist"][pos], table.station_max),
            cr.distance_utility(c["interchange_dist"][pos], table.interchange_max),
        ]
    )
    tech = [
        cr.minimum_utility(c[col][pos], table.tech_min[:, j])
        for j, (_, col) in enumerate(TECHNICAL_FIELDS)
    ]
    tech.append(cr.icpe_utility(c["icpe"][pos], table.needs_icpe))
    u[:, 5] = cr.mean_of_present(tech)
    u[:, 6] = cr.availability_utility(c["available_day"][pos], table.wanted_day)
    u = np.where(table.active, u, np.nan)
    scores = weighted_score(u, table.weights, table.active)
    return passes, scores, u


def match_listing(
    index: MatchIndex,
    listing_id: int,
    table: NeedTable,
    *,
    include_under_offer: bool = False,
    any_status: bool = False,
) -> list[ListingMatch]:
    """The saved needs a listing fits, best score first (ties: smaller need id).

    The listing must be in the index (call :meth:`MatchIndex.update` first for a new or
    changed one). Only needs marked ``active`` count. A listing whose status is not matched
    (let, sold, withdrawn; under offer unless asked) fits nothing unless ``any_status``.
    """
    pos = index.position(listing_id)
    if pos is None:
        msg = f"listing {listing_id} is not in the match index"
        raise KeyError(msg)
    status = index.cols["status"][pos]
    limit = STATUS_CODE["under_offer"] if include_under_offer else STATUS_CODE["available"]
    if not any_status and status > limit:
        return []
    passes, scores, u = evaluate_listing(index, pos, table)
    rows = np.flatnonzero(passes)
    order = rows[np.lexsort((table.ids[rows], -scores[rows]))]
    return [
        ListingMatch(
            need_id=int(table.ids[r]),
            score=float(scores[r]),
            utilities={
                CRITERIA[j]: float(u[r, j]) for j in range(len(CRITERIA)) if table.active[r, j]
            },
        )
        for r in order
    ]
