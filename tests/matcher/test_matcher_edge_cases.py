"""Regression tests from the review of the matching engine."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matcher_data import NOW, need

import geopandas as gpd
import shapely

from geodata.schemas import NeedIn
from matcher import MatchIndex, NeedTable, batch_match_frame, match, match_listing
from matcher.explain import NBSP, NNBSP


def _index(rows: list[dict[str, Any]]) -> MatchIndex:
    base = {
        "kind": "warehouse",
        "uses": "logistics",
        "divisible": False,
        "min_lot_m2": np.nan,
        "status": "available",
        "commune_insee": "94065",
        "lon": 2.36,
        "lat": 48.755,
        "title": "Local",
        "available_from": pd.NaT,
    }
    frame = pd.DataFrame(
        [{**base, **r} for r in rows], index=pd.Index(range(1, len(rows) + 1), name="id")
    )
    return MatchIndex.from_frame(
        gpd.GeoDataFrame(frame, geometry=shapely.points(frame["lon"], frame["lat"]), crs=4326)
    )


def _apply(n: NeedIn, update: dict[str, Any]) -> NeedIn:
    data = n.model_dump()
    data.update(update)
    return NeedIn.model_validate(data)


def test_lowering_the_minimum_surface_counts_the_cheaper_lots_it_brings() -> None:
    # 1: too small only; 2: a divisible building whose pro-rata price for 1 000 m² is over
    # budget, but within it for the smaller lot the relaxed need would take.
    idx = _index(
        [
            {"surface_m2": 500.0, "tenure": "sale", "sale_price_eur": 400_000.0},
            {
                "surface_m2": 3000.0,
                "divisible": True,
                "tenure": "sale",
                "sale_price_eur": 3_600_000.0,
            },
        ]
    )
    n = need(
        surface_min_m2=1000,
        surface_max_m2=1200,
        tenure="buy",
        max_rent_eur_m2_year=None,
        max_sale_price_eur=1_000_000,
    )
    res = match(idx, n, k=1, now=NOW)
    assert res.diagnostics.n_matching == 0
    (r,) = [r for r in res.relaxations if r.constraint == "surface_min_m2"]
    relaxed = match(idx, _apply(n, r.need_update), k=10, now=NOW)
    assert relaxed.diagnostics.n_matching == r.brings == 2


def test_batch_without_ids_numbers_needs_across_chunks() -> None:
    idx = _index([{"surface_m2": 1000.0, "tenure": "rent", "rent_eur_m2_year": 80.0}])
    needs = [need(surface_min_m2=900 + i, surface_max_m2=1100) for i in range(5)]
    whole, s_whole = batch_match_frame(idx, needs, k=3, chunk_size=100, now=NOW)
    chunked, s_chunked = batch_match_frame(idx, needs, k=3, chunk_size=2, now=NOW)
    assert s_whole.need_id.tolist() == [0, 1, 2, 3, 4]
    pd.testing.assert_frame_equal(chunked, whole)
    pd.testing.assert_frame_equal(s_chunked, s_whole)


def test_pro_rata_price_equal_to_the_budget_is_within_it() -> None:
    # 2 500 000 € for 2 500 m²: 700 m² cost exactly 700 000 €.
    idx = _index(
        [
            {
                "surface_m2": 2500.0,
                "divisible": True,
                "tenure": "sale",
                "sale_price_eur": 2_500_000.0,
            }
        ]
    )
    n = need(
        surface_min_m2=700,
        surface_max_m2=800,
        tenure="buy",
        max_rent_eur_m2_year=None,
        max_sale_price_eur=700_000,
        required=[],
    )
    (item,) = match(idx, n, k=1, now=NOW).results
    assert item.utilities["budget"] == 1.0
    assert any(f"dans votre budget de 700{NNBSP}000{NBSP}€" in r for r in item.reasons["fr"]), (
        item.reasons["fr"]
    )
    (rev,) = match_listing(idx, 1, NeedTable.from_needs([n]))
    assert rev.score == item.score


def test_a_rent_just_above_the_ceiling_does_not_read_as_equal_to_it() -> None:
    idx = _index([{"surface_m2": 1000.0, "tenure": "rent", "rent_eur_m2_year": 90.4}])
    (item,) = match(idx, need(max_rent_eur_m2_year=90, required=[]), k=1, now=NOW).results
    (text,) = [r for r in item.reasons["fr"] if r.startswith("loyer")]
    assert text.startswith(f"loyer 90,40{NBSP}€/m²/an, au-dessus de votre plafond de 90{NBSP}€")
    (text,) = [r for r in item.reasons["en"] if r.startswith("rent")]
    assert text.startswith("rent €90.40/m²/year, above your ceiling of €90")
