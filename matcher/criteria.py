"""Per-criterion utilities and filters, vectorised: arrays in, arrays out.

Every function broadcasts: pass the catalogue's columns as arrays and one need's parameters
as scalars (forward matching), or one listing's values as scalars and the parameters of many
needs as arrays (reverse matching). A need parameter that is NaN means "not asked": filters
pass and utilities return NaN (the sub-criterion does not count). A listing value that is NaN
means "not stated": filters pass and utilities return :data:`~matcher.weights.UNKNOWN_UTILITY`.
The formulas are documented in :mod:`matcher.weights`; they use only correctly rounded
operations (``+ − × ÷``, comparisons, min/max) so that a value does not depend on where it
sits in an array.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from matcher.weights import (
    AVAILABILITY_TOLERANCE_DAYS,
    BUDGET_TOLERANCE,
    SURFACE_TOLERANCE,
    TECHNICAL_TOLERANCE,
    UNKNOWN_UTILITY,
)

__all__ = [
    "availability_ok",
    "availability_utility",
    "budget_ok",
    "budget_utility",
    "distance_m",
    "distance_utility",
    "icpe_ok",
    "icpe_utility",
    "lot_minimum",
    "mean_of_present",
    "minimum_ok",
    "minimum_utility",
    "price_utility",
    "sale_total",
    "surface_ok",
    "surface_taken",
    "surface_utility",
    "tenure_ok",
    "use_ok",
    "use_utility",
]

ArrayLike = Any


def _f(x: ArrayLike) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


# --- surface -------------------------------------------------------------------------------


def lot_minimum(surface: ArrayLike, divisible: ArrayLike, min_lot: ArrayLike) -> np.ndarray:
    """Smallest lot a listing offers: its surface unless divisible, else its minimum lot.

    A divisible listing that states no minimum lot offers lots of any size (0).

    Examples
    --------
    >>> lot_minimum([3000, 3000, 500], [True, True, False], [800, np.nan, np.nan]).tolist()
    [800.0, 0.0, 500.0]
    """
    surface, min_lot = _f(surface), _f(min_lot)
    divisible = np.asarray(divisible, dtype=bool)
    return np.where(divisible, np.where(np.isnan(min_lot), 0.0, min_lot), surface)


def surface_ok(
    lot_min: ArrayLike,
    surface: ArrayLike,
    want_min: ArrayLike,
    want_max: ArrayLike,
    tol: float = SURFACE_TOLERANCE,
) -> np.ndarray:
    """Whether a listing offering lots in ``[lot_min, surface]`` meets the tolerance band.

    Examples
    --------
    >>> surface_ok([800, 3000, 500], [3000, 3000, 500], 900, 900).tolist()
    [True, False, False]
    """
    lo = _f(want_min) * (1.0 - tol)
    hi = _f(want_max) * (1.0 + tol)
    return (_f(surface) >= lo) & (_f(lot_min) <= hi)


def surface_utility(
    lot_min: ArrayLike,
    surface: ArrayLike,
    want_min: ArrayLike,
    want_max: ArrayLike,
    tol: float = SURFACE_TOLERANCE,
) -> np.ndarray:
    """Fit of the offered lots to the wanted range.

    1 when the lots ``[lot_min, surface]`` meet ``[want_min, want_max]``; linear down to 0.5
    at the edge of the tolerance band (``want_min × (1 − tol)``, ``want_max × (1 + tol)``);
    beyond it, 0.5 × the ratio of the surface offered to that edge (too small) or of that
    edge to the smallest lot offered (too large), so that a premises twice too large still
    beats one ten times too large.

    Examples
    --------
    >>> surface_utility([1000, 850, 1320, 2640, 405], [1000, 850, 1320, 2640, 405], 900, 1200
    ...                 ).round(3).tolist()
    [1.0, 0.722, 0.5, 0.25, 0.25]
    >>> surface_utility([800], [3000], 900, 900).tolist()
    [1.0]
    """
    want_min, want_max = _f(want_min), _f(want_max)
    surface, lot_min = _f(surface), _f(lot_min)
    short = (want_min - surface) / (want_min * tol)
    over = (lot_min - want_max) / (want_max * tol)
    gap = np.maximum(np.maximum(short, over), 0.0)
    u = np.asarray(1.0 - 0.5 * gap, dtype=np.float64)
    out = ~(gap <= 1.0)
    if gap.ndim == 0:
        if out:
            edge = want_min * (1.0 - tol) if short > over else want_max * (1.0 + tol)
            with np.errstate(divide="ignore"):
                u = np.asarray(0.5 * surface / edge if short > over else 0.5 * edge / lot_min)
        return u
    if out.any():  # beyond the band (computed only there; same value element by element)
        shape = out.shape
        lo_edge = np.broadcast_to(want_min * (1.0 - tol), shape)
        hi_edge = np.broadcast_to(want_max * (1.0 + tol), shape)
        s_b, l_b = np.broadcast_to(surface, shape), np.broadcast_to(lot_min, shape)
        sh, ov = np.broadcast_to(short, shape), np.broadcast_to(over, shape)
        u = np.array(np.broadcast_to(u, shape), dtype=np.float64)
        with np.errstate(divide="ignore"):
            u[out] = np.where(
                sh[out] > ov[out],
                0.5 * s_b[out] / lo_edge[out],
                0.5 * hi_edge[out] / l_b[out],
            )
    return u


def surface_taken(lot_min: ArrayLike, surface: ArrayLike, want_min: ArrayLike) -> np.ndarray:
    """Surface the company would take: the smallest acceptable lot the listing offers.

    Examples
    --------
    >>> surface_taken([800, 1000], [3000, 1000], 900).tolist()
    [900.0, 1000.0]
    """
    return np.maximum(_f(lot_min), np.minimum(_f(want_min), _f(surface)))


# --- use -----------------------------------------------------------------------------------


def _kind_wanted(kind: ArrayLike, want_kinds: ArrayLike) -> np.ndarray:
    want_kinds = np.asarray(want_kinds, dtype=np.int64)
    bit = np.right_shift(want_kinds, np.asarray(kind, dtype=np.int64)) & 1
    return (want_kinds == 0) | (bit == 1)


def use_ok(
    uses: ArrayLike, kind: ArrayLike, want_uses: ArrayLike, want_kinds: ArrayLike = 0
) -> np.ndarray:
    """Every wanted use allowed (bitmasks) and the kind among the wanted ones (0 = any).

    Examples
    --------
    >>> use_ok([0b011, 0b001], [1, 1], 0b011).tolist()
    [True, False]
    """
    uses = np.asarray(uses, dtype=np.int64)
    want = np.asarray(want_uses, dtype=np.int64)
    return ((uses & want) == want) & _kind_wanted(kind, want_kinds)


def use_utility(
    uses: ArrayLike, kind: ArrayLike, want_uses: ArrayLike, want_kinds: ArrayLike = 0
) -> np.ndarray:
    """Fraction of the wanted uses allowed, halved when the kind is not a wanted one.

    Examples
    --------
    >>> use_utility([0b011, 0b001, 0b100], [1, 1, 1], 0b011).tolist()
    [1.0, 0.5, 0.0]
    """
    uses = np.asarray(uses, dtype=np.int64)
    want = np.asarray(want_uses, dtype=np.int64)
    n_want = np.bitwise_count(want).astype(np.float64)
    n_have = np.bitwise_count(uses & want).astype(np.float64)
    frac = np.where(n_want > 0, n_have / np.maximum(n_want, 1.0), 1.0)
    return frac * np.where(_kind_wanted(kind, want_kinds), 1.0, 0.5)


# --- tenure and budget ---------------------------------------------------------------------


def tenure_ok(tenure_bits: ArrayLike, wanted_bits: ArrayLike) -> np.ndarray:
    """Whether the listing's tenure (1 rent, 2 sale, 3 both) offers what the need wants.

    Examples
    --------
    >>> tenure_ok([1, 2, 3], 1).tolist()
    [True, False, True]
    """
    return (np.asarray(tenure_bits, dtype=np.int64) & np.asarray(wanted_bits)) != 0


def sale_total(sale_price: ArrayLike, surface: ArrayLike, taken: ArrayLike) -> np.ndarray:
    """Sale price of the surface taken (pro rata for a lot of a divisible listing).

    Computed as ``price × taken / surface`` (multiply first), so that a whole price per m²
    gives the exact total rather than one a rounding above or below it.

    Examples
    --------
    >>> sale_total([1_000_000, 600_000], [1000, 3000], [1000, 1000]).tolist()
    [1000000.0, 200000.0]
    """
    return _f(sale_price) * _f(taken) / _f(surface)


def price_utility(
    price: ArrayLike, ceiling: ArrayLike, tol: float = BUDGET_TOLERANCE
) -> np.ndarray:
    """1 at or under the ceiling, ``(1 − excess/tol)²`` above (0 at ``tol`` over).

    Unknown price: :data:`UNKNOWN_UTILITY`; no ceiling (NaN): 1.

    Examples
    --------
    >>> price_utility([80, 95, 100, np.nan], 90).round(4).tolist()
    [1.0, 0.1975, 0.0, 0.5]
    """
    price, ceiling = _f(price), _f(ceiling)
    excess = (price - ceiling) / (ceiling * tol)
    t = np.maximum(1.0 - np.maximum(excess, 0.0), 0.0)
    u = np.where(np.isnan(price), UNKNOWN_UTILITY, t * t)
    return np.where(np.isnan(ceiling), 1.0, u)


def budget_ok(
    tenure_bits: ArrayLike,
    rent: ArrayLike,
    sale: ArrayLike,
    wanted_bits: ArrayLike,
    max_rent: ArrayLike,
    max_sale: ArrayLike,
    tol: float = BUDGET_TOLERANCE,
) -> np.ndarray:
    """Compatible tenure with a rent (€/m²/year) or sale total (€) within the tolerance.

    Examples
    --------
    >>> budget_ok([1, 1, 2, 1], [85, 100, np.nan, np.nan], np.nan, 1, 90, np.nan).tolist()
    [True, False, False, True]
    """
    bits = np.asarray(tenure_bits, dtype=np.int64) & np.asarray(wanted_bits, dtype=np.int64)
    rent_ok = ((bits & 1) != 0) & ~(_f(rent) > _f(max_rent) * (1.0 + tol))
    sale_ok = ((bits & 2) != 0) & ~(_f(sale) > _f(max_sale) * (1.0 + tol))
    return rent_ok | sale_ok


def budget_utility(
    tenure_bits: ArrayLike,
    rent: ArrayLike,
    sale: ArrayLike,
    wanted_bits: ArrayLike,
    max_rent: ArrayLike,
    max_sale: ArrayLike,
    tol: float = BUDGET_TOLERANCE,
) -> np.ndarray:
    """Best of the rent and sale utilities the tenure allows; 0 when incompatible.

    A way of occupying the premises for which the need gives no ceiling scores 1 when the
    need gives no ceiling at all, :data:`UNKNOWN_UTILITY` when it gives the other one.

    Examples
    --------
    >>> budget_utility([1, 2, 3], [85, np.nan, 95], [np.nan, 9e5, 9e5], 3, 90, np.nan).round(
    ...     4).tolist()
    [1.0, 0.5, 0.5]
    """
    bits = np.asarray(tenure_bits, dtype=np.int64) & np.asarray(wanted_bits, dtype=np.int64)
    max_rent, max_sale = _f(max_rent), _f(max_sale)
    free = np.where(np.isnan(max_rent) & np.isnan(max_sale), 1.0, UNKNOWN_UTILITY)
    u_rent = np.where(np.isnan(max_rent), free, price_utility(rent, max_rent, tol))
    u_sale = np.where(np.isnan(max_sale), free, price_utility(sale, max_sale, tol))
    return np.maximum(
        np.where((bits & 1) != 0, u_rent, 0.0), np.where((bits & 2) != 0, u_sale, 0.0)
    )


# --- location and access -------------------------------------------------------------------


def distance_m(x: ArrayLike, y: ArrayLike, px: ArrayLike, py: ArrayLike) -> np.ndarray:
    """Euclidean distance in projected metres (Lambert-93).

    Examples
    --------
    >>> distance_m([0.0, 3.0], [0.0, 4.0], 0.0, 0.0).tolist()
    [0.0, 5.0]
    """
    dx = _f(x) - _f(px)
    dy = _f(y) - _f(py)
    return np.sqrt(dx * dx + dy * dy)


def distance_utility(d: ArrayLike, reach: ArrayLike) -> np.ndarray:
    """``max(0, 1 − d / (2 × reach))``: 1 on the spot, 0.5 at the reach, 0 at twice the reach.

    An unknown distance (NaN) scores :data:`UNKNOWN_UTILITY`; no reach (NaN) gives NaN.

    Examples
    --------
    >>> distance_utility([0, 1000, 2000, 5000], 2000).tolist()
    [1.0, 0.75, 0.5, 0.0]
    """
    d, reach = _f(d), _f(reach)
    u = np.maximum(1.0 - d / (2.0 * reach), 0.0)
    u = np.where(np.isnan(d), UNKNOWN_UTILITY, u)
    return np.where(np.isnan(reach), np.nan, u)


# --- technical -----------------------------------------------------------------------------


def minimum_ok(value: ArrayLike, minimum: ArrayLike) -> np.ndarray:
    """A stated value meets the minimum; unknown values and absent minimums pass.

    Examples
    --------
    >>> minimum_ok([6.0, 8.0, np.nan], 7.0).tolist()
    [False, True, True]
    """
    return ~(_f(value) < _f(minimum))


def minimum_utility(
    value: ArrayLike, minimum: ArrayLike, tol: float = TECHNICAL_TOLERANCE
) -> np.ndarray:
    """1 when the minimum is met, linear to 0 at ``minimum × (1 − tol)``.

    Examples
    --------
    >>> minimum_utility([8.0, 6.3, np.nan], 7.0).round(3).tolist()
    [1.0, 0.6, 0.5]
    """
    value, minimum = _f(value), _f(minimum)
    short = (minimum - value) / (minimum * tol)
    u = np.maximum(1.0 - np.maximum(short, 0.0), 0.0)
    u = np.where(np.isnan(value), UNKNOWN_UTILITY, u)
    return np.where(np.isnan(minimum), np.nan, u)


def icpe_ok(icpe: ArrayLike, needed: ArrayLike) -> np.ndarray:
    """ICPE allowed (code 1), unknown (-1) or not needed; refused (0) fails when needed.

    Examples
    --------
    >>> icpe_ok([1, 0, -1], True).tolist()
    [True, False, True]
    """
    return ~np.asarray(needed, dtype=bool) | (np.asarray(icpe) != 0)


def icpe_utility(icpe: ArrayLike, needed: ArrayLike) -> np.ndarray:
    """1 when allowed, 0 when refused, :data:`UNKNOWN_UTILITY` when unknown; NaN if not needed.

    Examples
    --------
    >>> icpe_utility([1, 0, -1], True).tolist()
    [1.0, 0.0, 0.5]
    """
    icpe = np.asarray(icpe)
    u = np.where(icpe == 1, 1.0, np.where(icpe == 0, 0.0, UNKNOWN_UTILITY))
    return np.where(np.asarray(needed, dtype=bool), u, np.nan)


# --- availability --------------------------------------------------------------------------


def availability_ok(available_day: ArrayLike, wanted_day: ArrayLike) -> np.ndarray:
    """Available by the wanted day (days since 1970-01-01; NaN = now / not asked).

    Examples
    --------
    >>> availability_ok([100.0, 200.0, np.nan], 150.0).tolist()
    [True, False, True]
    """
    return ~(_f(available_day) > _f(wanted_day))


def availability_utility(
    available_day: ArrayLike,
    wanted_day: ArrayLike,
    tol_days: float = AVAILABILITY_TOLERANCE_DAYS,
) -> np.ndarray:
    """1 when available by the wanted day, linear to 0 at ``tol_days`` late.

    Examples
    --------
    >>> availability_utility([100.0, 145.0, np.nan], 100.0).tolist()
    [1.0, 0.5, 1.0]
    """
    available_day, wanted_day = _f(available_day), _f(wanted_day)
    late = (available_day - wanted_day) / tol_days
    u = np.maximum(1.0 - np.maximum(late, 0.0), 0.0)
    u = np.where(np.isnan(available_day), 1.0, u)
    return np.where(np.isnan(wanted_day), np.nan, u)


# --- aggregation ---------------------------------------------------------------------------


def mean_of_present(parts: Sequence[ArrayLike]) -> np.ndarray:
    """Mean of the sub-utilities that are not NaN, left to right; NaN where none is.

    Examples
    --------
    >>> mean_of_present([[1.0, np.nan], [0.5, np.nan]]).tolist()
    [0.75, nan]
    """
    total: np.ndarray | float = 0.0
    count: np.ndarray | float = 0.0
    for part in parts:
        p = _f(part)
        present = ~np.isnan(p)
        total = total + np.where(present, p, 0.0)
        count = count + present
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.asarray(count) > 0, np.asarray(total) / np.asarray(count), np.nan)
