"""Unit tests of the per-criterion utilities and filters (arrays in, arrays out)."""

from __future__ import annotations

import doctest
import importlib

import numpy as np
import pytest

from matcher import criteria as cr
from matcher.criteria.registry import DEFAULT_REGISTRY
from matcher.weights import (
    BUDGET_TOLERANCE,
    DEFAULT_WEIGHTS,
    SURFACE_TOLERANCE,
    UNKNOWN_UTILITY,
)

MODULES = [
    "matcher.criteria",
    "matcher.weights",
    "matcher.explain",
    "matcher.engine",
    "matcher.needs",
    "matcher._geo",
]


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0


# --- surface -------------------------------------------------------------------------------


def test_divisible_building_fits_a_smaller_need() -> None:
    # A 3,000 m² building divisible from 800 m² fits a 900 m² need.
    lot_min = cr.lot_minimum([3000.0], [True], [800.0])
    assert cr.surface_ok(lot_min, [3000.0], 900, 900).tolist() == [True]
    assert cr.surface_utility(lot_min, [3000.0], 900, 900).tolist() == [1.0]
    assert cr.surface_taken(lot_min, [3000.0], 900).tolist() == [900.0]
    # The same building, not divisible, does not.
    assert cr.surface_ok([3000.0], [3000.0], 900, 900).tolist() == [False]


def test_surface_tolerance_band_is_linear_and_bounded() -> None:
    lo, hi = 1000.0, 2000.0
    surfaces = np.array(
        [
            lo * (1 - SURFACE_TOLERANCE),
            lo * 0.95,
            lo,
            1500.0,
            hi,
            hi * 1.05,
            hi * (1 + SURFACE_TOLERANCE),
            hi * 1.5,
            10.0,
        ]
    )
    u = cr.surface_utility(surfaces, surfaces, lo, hi)
    np.testing.assert_allclose(
        u, [0.5, 0.75, 1.0, 1.0, 1.0, 0.75, 0.5, 0.5 * 2200 / 3000, 0.5 * 10 / 900], atol=1e-12
    )
    # the further out, the lower, never below 0
    far = cr.surface_utility([3e3, 6e3, 6e4], [3e3, 6e3, 6e4], lo, hi)
    assert far[0] > far[1] > far[2] > 0
    ok = cr.surface_ok(surfaces, surfaces, lo, hi)
    assert ok.tolist() == [True, True, True, True, True, True, True, False, False]


def test_divisible_without_min_lot_offers_any_lot() -> None:
    assert cr.lot_minimum([5000.0], [True], [np.nan]).tolist() == [0.0]


def test_surface_broadcasts_over_needs() -> None:
    u = cr.surface_utility(800.0, 3000.0, np.array([900.0, 4000.0]), np.array([900.0, 5000.0]))
    assert u.shape == (2,)
    assert u[0] == 1.0 and u[1] == 0.5 * 3000 / (4000 * 0.9)


# --- use -----------------------------------------------------------------------------------


def test_use_requires_every_wanted_use_and_kind() -> None:
    logistics, production = 0b10, 0b01
    uses = np.array([logistics | production, logistics, production])
    assert cr.use_ok(uses, 1, logistics | production).tolist() == [True, False, False]
    np.testing.assert_allclose(cr.use_utility(uses, 1, logistics | production), [1, 0.5, 0.5])
    # Kind 1 wanted (bit 1), kind 2 not.
    assert cr.use_ok(uses[:1], [1], logistics, 0b10).tolist() == [True]
    assert cr.use_ok(uses[:1], [2], logistics, 0b10).tolist() == [False]
    assert cr.use_utility(uses[:1], [2], logistics, 0b10).tolist() == [0.5]


# --- budget --------------------------------------------------------------------------------


def test_rent_decays_steeply_above_the_ceiling() -> None:
    rent = np.array([60.0, 90.0, 92.0, 95.0, 99.0, 99.5, np.nan])
    u = cr.price_utility(rent, 90.0)
    assert u[0] == 1.0 and u[1] == 1.0
    assert 0 < u[3] < u[2] < 1
    assert u[3] < 0.25  # 5.6 % over the ceiling already loses most of the utility
    assert u[4] == 0.0 and u[5] == 0.0
    assert u[6] == UNKNOWN_UTILITY
    ok = cr.budget_ok(1, rent, np.nan, 1, 90.0, np.nan)
    limit = 90 * (1 + BUDGET_TOLERANCE)
    assert ok.tolist() == [True, True, True, True, True, False, True]
    assert ok.tolist() == (~(rent > limit)).tolist()


def test_tenure_compatibility() -> None:
    tenure = np.array([1, 2, 3])  # rent, sale, both
    assert cr.tenure_ok(tenure, 1).tolist() == [True, False, True]
    assert cr.tenure_ok(tenure, 2).tolist() == [False, True, True]
    assert cr.budget_ok(tenure, 80.0, 1e6, 1, 90.0, np.nan).tolist() == [True, False, True]
    u = cr.budget_utility(tenure, 80.0, 1e6, 2, np.nan, 2e6)
    assert u.tolist() == [0.0, 1.0, 1.0]


def test_sale_price_is_pro_rata_for_a_lot() -> None:
    assert cr.sale_total(3_000_000.0, 3000.0, 1000.0).tolist() == 1_000_000.0
    assert cr.sale_total(1_234_567.0, 987.0, 987.0).tolist() == 1_234_567.0


# --- location and access -------------------------------------------------------------------


def test_distance_utility() -> None:
    d = np.array([0.0, 500.0, 1000.0, 1500.0, 2000.0, 5000.0, np.nan])
    u = cr.distance_utility(d, 1000.0)
    np.testing.assert_allclose(u, [1.0, 0.75, 0.5, 0.25, 0.0, 0.0, UNKNOWN_UTILITY])
    assert np.isnan(cr.distance_utility([10.0], np.nan)).all()


def test_distance_m_is_euclidean_in_metres() -> None:
    assert cr.distance_m([3.0], [4.0], 0.0, 0.0).tolist() == [5.0]


# --- technical -----------------------------------------------------------------------------


def test_minimums() -> None:
    v = np.array([8.0, 7.0, 6.0, 5.25, 3.0, np.nan])
    assert cr.minimum_ok(v, 7.0).tolist() == [True, True, False, False, False, True]
    np.testing.assert_allclose(cr.minimum_utility(v, 7.0), [1, 1, 1 - 1 / 1.75, 0, 0, 0.5])
    assert cr.minimum_ok(v, np.nan).all()


def test_icpe() -> None:
    icpe = np.array([1, 0, -1])
    assert cr.icpe_ok(icpe, True).tolist() == [True, False, True]
    assert cr.icpe_ok(icpe, False).all()
    assert cr.icpe_utility(icpe, True).tolist() == [1.0, 0.0, UNKNOWN_UTILITY]


# --- availability --------------------------------------------------------------------------


def test_availability() -> None:
    wanted = 20_000.0
    days = np.array([19_000.0, 20_000.0, 20_045.0, 20_090.0, 21_000.0, np.nan])
    assert cr.availability_ok(days, wanted).tolist() == [True, True, False, False, False, True]
    np.testing.assert_allclose(cr.availability_utility(days, wanted), [1, 1, 0.5, 0, 0, 1])


# --- aggregation and weights ---------------------------------------------------------------


def test_mean_of_present_ignores_nan() -> None:
    out = cr.mean_of_present([np.array([1.0, np.nan, 0.2]), np.array([0.0, np.nan, np.nan])])
    assert out[0] == 0.5 and np.isnan(out[1]) and out[2] == 0.2


def test_default_weights_sum_to_100_and_override() -> None:
    assert sum(DEFAULT_WEIGHTS.values()) == 100
    w = DEFAULT_REGISTRY.weights({"location": 0})
    assert w[3] == 0 and w.sum() == 85
    with pytest.raises(ValueError, match="unknown criterion"):
        DEFAULT_REGISTRY.weights({"colour": 1})


def test_no_python_loop_needed_for_a_million_rows() -> None:
    n = 1_000_000
    rng = np.random.default_rng(0)
    surface = rng.uniform(100, 5000, n)
    u = cr.surface_utility(surface, surface, 800.0, 1200.0)
    assert u.shape == (n,) and ((u >= 0) & (u <= 1)).all()
