"""Diagnostics and relaxation when fewer than k premises match."""

from __future__ import annotations

from typing import Any

import pytest
from matcher_data import NOW, need

from geodata.schemas import NeedIn
from matcher import MatchIndex, match


def _apply(n: NeedIn, update: dict[str, Any]) -> NeedIn:
    data = n.model_dump()
    data.update(update)
    return NeedIn.model_validate(data)


def test_impossible_need_gets_no_result_and_a_relaxation(index: MatchIndex) -> None:
    # the largest premises in Gentilly has 3,290 m²
    n = need(
        surface_min_m2=4_000,
        surface_max_m2=4_000,
        communes=["94037"],
        required=["surface", "use", "budget", "location"],
    )
    result = match(index, n, k=10, now=NOW)
    assert result.results == []
    assert result.diagnostics.n_matching == 0
    assert result.diagnostics.excluded_only["surface"] > 0
    assert result.relaxations, "an impossible need must come with a suggestion"
    smaller = [r for r in result.relaxations if r.constraint == "surface_min_m2"]
    assert smaller, result.relaxations
    best = smaller[0]
    assert best.criterion == "surface" and 2_000 <= best.suggested < 4_000 and best.brings > 0
    assert "Surface minimale" in best.text["fr"] and "au lieu de" in best.text["fr"]
    assert "Minimum surface" in best.text["en"]


def _check_counts(index: MatchIndex, n: NeedIn, k: int) -> list[Any]:
    base = match(index, n, k=k, now=NOW)
    assert base.diagnostics.n_matching < k
    for r in base.relaxations:
        relaxed = match(index, _apply(n, r.need_update), k=10_000, now=NOW)
        assert relaxed.diagnostics.n_matching == base.diagnostics.n_matching + r.brings, r
        assert set(base.ids) <= set(relaxed.ids)
    return base.relaxations


@pytest.mark.parametrize(
    "kw",
    [
        {"surface_min_m2": 20_000, "surface_max_m2": 30_000},
        {"surface_min_m2": 40, "surface_max_m2": 45},
        {"max_rent_eur_m2_year": 50},
        {"tenure": "buy", "max_rent_eur_m2_year": None, "max_sale_price_eur": 100_000},
        {
            "center_lon": 2.36,
            "center_lat": 48.75,
            "radius_m": 400,
            "required": ["surface", "use", "budget", "location"],
        },
        {
            "places": [{"label": "Fournisseur", "lon": 2.40, "lat": 48.78, "max_distance_m": 300}],
            "required": ["surface", "use", "budget", "location"],
        },
        {"communes": ["94037"], "required": ["surface", "use", "budget", "location"]},
        {"max_station_distance_m": 150, "required": ["surface", "use", "budget", "access"]},
        {"min_ceiling_height_m": 13.8, "required": ["surface", "use", "budget", "technical"]},
        {
            "min_loading_docks": 7,
            "needs_icpe": True,
            "required": ["surface", "use", "budget", "technical"],
        },
        {"wanted_by": "2026-01-02", "required": ["surface", "use", "budget", "availability"]},
        {"uses": ["logistics", "lab_rd"]},
        {"kinds": ["lab"], "uses": ["logistics"]},
        {
            "polygon": {
                "type": "Polygon",
                "coordinates": [
                    [[2.35, 48.75], [2.36, 48.75], [2.36, 48.755], [2.35, 48.755], [2.35, 48.75]]
                ],
            },
            "required": ["surface", "use", "budget", "location"],
        },
    ],
)
def test_relaxation_counts_are_what_the_changed_need_gets(
    index: MatchIndex, kw: dict[str, Any]
) -> None:
    relaxations = _check_counts(index, need(**kw), k=30)
    assert relaxations
    assert all(r.brings > 0 for r in relaxations)
    assert all(r.text["fr"] and r.text["en"] for r in relaxations)


def test_best_relaxation_brings_what_is_missing_first(index: MatchIndex) -> None:
    n = need(
        max_rent_eur_m2_year=55,
        min_ceiling_height_m=12,
        required=["surface", "use", "budget", "technical"],
    )
    result = match(index, n, k=20, now=NOW)
    missing = 20 - result.diagnostics.n_matching
    firsts = [r for r in result.relaxations if r.brings >= missing]
    if firsts:
        assert result.relaxations[0].brings >= missing


def test_no_relaxation_when_enough_match(index: MatchIndex) -> None:
    result = match(index, need(), k=3, now=NOW)
    assert len(result.results) == 3
    assert result.relaxations == []


def test_two_constraints_together_when_no_single_one_is_enough() -> None:
    from matcher_data import make_catalogue

    cat = make_catalogue(200, seed=4)
    cat["status"] = "available"
    cat.loc[cat["commune_insee"] == "94037", "uses"] = "craft"  # nothing to store in Gentilly
    idx = MatchIndex.from_frame(cat)
    # the largest premises has 9,370 m², outside Gentilly
    n = need(
        surface_min_m2=12_000,
        surface_max_m2=12_000,
        communes=["94037"],
        required=["surface", "use", "location"],
    )
    result = match(idx, n, k=10, now=NOW)
    assert result.results == [] and result.relaxations
    assert all("+" in r.criterion for r in result.relaxations)
    best = result.relaxations[0]
    assert best.text["fr"].startswith("Aucun changement seul ne suffit")
    relaxed = match(idx, _apply(n, best.need_update), k=1000, now=NOW)
    assert relaxed.diagnostics.n_matching == best.brings
