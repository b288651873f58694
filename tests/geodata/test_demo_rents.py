"""Demo rents follow the market: dearer near Paris and inside the A86, warehouses cheaper per
m² as they grow, levels in line with the published 2024–2025 figures."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from geodata import demo
from geodata.demo import demo_premises, demo_tables
from geodata.territory import default_territory, to_lambert93

INNER = ("94041", "94037", "94003", "94043", "94076", "94081")  # Ivry … Vitry
OUTER = ("91326", "91479", "91027", "91432", "91589", "91687", "94054", "94077", "94078")


@pytest.fixture(scope="module")
def territory() -> Any:
    return default_territory()


@pytest.fixture(scope="module")
def rents(territory: Any) -> pd.DataFrame:
    items = demo_premises(territory=territory)
    frame = pd.DataFrame(
        {
            "kind": [str(p.kind) for p in items],
            "commune": [p.commune_insee for p in items],
            "surface": [p.surface_m2 for p in items],
            "rent": [p.rent_eur_m2_year for p in items],
            "lon": [p.lon for p in items],
            "lat": [p.lat for p in items],
        }
    ).dropna(subset=["rent"])
    x, y = to_lambert93(frame["lon"].to_numpy(), frame["lat"].to_numpy())
    tables = demo_tables(territory)
    frame["inside"] = demo._ring_inside(territory, tables.ring_roads, x, y)
    return frame


def test_the_a86_ring_is_read_from_the_interchanges(territory: Any) -> None:
    halls = territory.communes
    x, y = to_lambert93(halls["town_hall_lon"].to_numpy(), halls["town_hall_lat"].to_numpy())
    inside = dict(
        zip(halls.index, demo._ring_inside(territory, ("A86", "N186"), x, y), strict=True)
    )
    assert all(inside[c] for c in ("94041", "94037", "94043", "94076", "94081", "94016"))
    assert not any(inside[c] for c in ("91326", "91479", "94074", "94078", "94054", "91687"))
    assert not demo._ring_inside(territory, (), x, y).any()  # no ring road: nothing inside


def test_activity_premises_are_dearer_near_paris_and_inside_the_a86(rents: pd.DataFrame) -> None:
    workshops = rents[rents["kind"] == "workshop"]
    inner = workshops[workshops["commune"].isin(INNER)]["rent"]
    outer = workshops[workshops["commune"].isin(OUTER)]["rent"]
    assert len(inner) >= 20 and len(outer) >= 10
    assert inner.median() > outer.median() + 20
    # Published levels: about 150–160 inside the A86, about 122 for Île-de-France.
    assert 145 <= workshops[workshops["inside"]]["rent"].median() <= 165
    assert 105 <= workshops[~workshops["inside"]]["rent"].median() <= 130
    # The complaint of the issue: activity premises in Juvisy or Paray dearer than in Ivry.
    ivry = workshops[workshops["commune"] == "94041"]["rent"]
    south = workshops[workshops["commune"].isin(["91326", "91479"])]["rent"]
    assert ivry.min() > south.median()


def test_large_warehouses_let_cheaper_per_m2_than_small_ones(rents: pd.DataFrame) -> None:
    warehouses = rents[rents["kind"] == "warehouse"]
    small = warehouses[warehouses["surface"] < 1_500]
    large = warehouses[warehouses["surface"] >= 5_000]
    assert len(small) >= 10 and len(large) >= 10
    assert large["rent"].median() < small["rent"].median()
    for inside in (True, False):  # within each side of the ring too
        w = warehouses[warehouses["inside"] == inside]
        s, lg = w[w["surface"] < 2_000]["rent"], w[w["surface"] >= 5_000]["rent"]
        if len(s) >= 3 and len(lg) >= 3:
            assert lg.median() < s.median()
    # Around the Greater Paris prime logistics rent (about 85 €/m²/year).
    assert 65 <= large["rent"].median() <= 90


def test_the_model_itself() -> None:
    # Nearer Paris dearer, inside the ring dearer, larger warehouses cheaper, noise ±10 %.
    assert demo._rent("workshop", 300, 5, True, 0.5) > demo._rent("workshop", 300, 12, True, 0.5)
    assert demo._rent("lab", 500, 10, True, 0.5) > demo._rent("lab", 500, 10, False, 0.5)
    sizes = [600, 2_000, 5_000, 20_000]
    per_m2 = [demo._rent("warehouse", s, 14, False, 0.5) for s in sizes]
    assert per_m2 == sorted(per_m2, reverse=True)
    lo, hi = demo._rent("workshop", 300, 8, True, 0.0), demo._rent("workshop", 300, 8, True, 1.0)
    assert (lo, hi) == (135.0, 165.0)


def test_same_seed_same_rents(territory: Any, rents: pd.DataFrame) -> None:
    again = [p.rent_eur_m2_year for p in demo_premises(territory=territory)]
    assert np.array_equal(
        np.array([r for r in again if r is not None], dtype=float), rents["rent"].to_numpy()
    )
