"""Matching defects found when the engine was tried as users would (issue 7, section 5)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from matcher_data import NOW, need

from matcher import MatchIndex, match
from matcher.explain import NBSP

#: A point in each commune used below.
PLACES = {
    "94037": (2.344, 48.813),  # Gentilly
    "94081": (2.392, 48.787),  # Vitry-sur-Seine
    "94065": (2.349, 48.747),  # Rungis
    "94078": (2.450, 48.730),  # Villeneuve-Saint-Georges
}


def _index(rows: list[dict[str, Any]]) -> MatchIndex:
    """An index of a few listings: each row gives a commune and what differs."""
    data = []
    for j, row in enumerate(rows):
        lon, lat = PLACES[row["commune_insee"]]
        data.append(
            {
                "title": f"Local {j + 1}",
                "kind": "warehouse",
                "uses": "logistics",
                "tenure": "rent",
                "rent_eur_m2_year": 80.0,
                "status": "available",
                "lon": lon + 0.001 * j,
                "lat": lat,
                **row,
            }
        )
    return MatchIndex.from_frame(pd.DataFrame(data, index=pd.Index(range(1, len(data) + 1))))


def test_pair_search_is_joint_and_finds_the_listing_both_changes_bring() -> None:
    # one 3,000 m² listing in Vitry, two 1,000 m² in Rungis; 5,000-6,000 m² in Gentilly
    index = _index(
        [
            {"commune_insee": "94081", "surface_m2": 3000.0},
            {"commune_insee": "94065", "surface_m2": 1000.0},
            {"commune_insee": "94065", "surface_m2": 1000.0},
        ]
    )
    n = need(
        surface_min_m2=5000,
        surface_max_m2=6000,
        communes=["94037"],
        required=["surface", "location"],
    )
    result = match(index, n, k=1, now=NOW)
    assert result.results == []
    assert result.relaxations, "no single change suffices, but a pair does"
    best = result.relaxations[0]
    assert best.need_update["surface_min_m2"] == 3000
    assert best.need_update["communes"] == ["94037", "94081"]
    assert best.brings == 1
    changed = need(
        surface_min_m2=3000,
        surface_max_m2=6000,
        communes=["94037", "94081"],
        required=["surface", "location"],
    )
    assert match(index, changed, k=1, now=NOW).ids == [1]


def test_suggestions_are_ranked_by_a_comparable_cost_and_never_gut_the_need() -> None:
    # 50,000 m² in Gentilly: only small premises there, two large ones elsewhere
    index = _index(
        [
            {"commune_insee": "94037", "surface_m2": 150.0},
            {"commune_insee": "94037", "surface_m2": 400.0},
            {"commune_insee": "94081", "surface_m2": 52_000.0},
            {"commune_insee": "94078", "surface_m2": 48_000.0},
        ]
    )
    n = need(
        surface_min_m2=50_000,
        surface_max_m2=50_000,
        communes=["94037"],
        required=["surface", "use", "budget", "location"],
    )
    result = match(index, n, k=2, now=NOW)
    assert result.relaxations
    first = result.relaxations[0]
    assert first.constraint == "communes"
    assert set(first.need_update["communes"]) == {"94037", "94081", "94078"}
    assert first.brings == 2
    cuts = [r for r in result.relaxations if r.constraint == "surface_min_m2"]
    assert all(r.suggested >= 25_000 for r in cuts), cuts
    assert all(r.cost >= 0 for r in result.relaxations)
    costs = [r.cost for r in result.relaxations if r.brings >= 2]
    assert costs == sorted(costs)


def test_activity_storage_office_split_is_used_when_both_sides_state_it() -> None:
    # 900 m² of storage wanted; an all-office 1,000 m² listing must not rank first at 100
    index = _index(
        [
            {
                "commune_insee": "94081",
                "surface_m2": 1000.0,
                "office_m2": 1000.0,
                "storage_m2": 0.0,
            },
            {
                "commune_insee": "94081",
                "surface_m2": 1000.0,
                "storage_m2": 950.0,
                "office_m2": 50.0,
            },
            {"commune_insee": "94081", "surface_m2": 1000.0},
        ]
    )
    n = need(surface_min_m2=900, surface_max_m2=1200, storage_min_m2=900, required=["use"])
    result = match(index, n, k=3, now=NOW)
    assert result.ids[0] == 2
    by_id = {r.listing_id: r for r in result.results}
    assert by_id[1].score < by_id[2].score and by_id[1].utilities["surface"] < 0.5
    assert by_id[3].utilities["surface"] == 1.0  # states no split: nothing to compare
    assert any("stockage" in t for t in by_id[1].reasons["fr"])
    assert any("storage" in t for t in by_id[1].reasons["en"])
    # required surface: the split filters too
    strict = match(index, n.model_copy(update={"required": ["surface"]}), k=3, now=NOW)
    assert 1 not in strict.ids and 2 in strict.ids


def test_budget_tolerance_speaks_in_the_users_terms() -> None:
    # a required ceiling of 90 €: a 100 € listing is excluded (beyond 10 %), a 95 € one kept
    index = _index(
        [
            {"commune_insee": "94081", "surface_m2": 1000.0, "rent_eur_m2_year": 100.0},
            {"commune_insee": "94081", "surface_m2": 1000.0, "rent_eur_m2_year": 95.0},
        ]
    )
    n = need(max_rent_eur_m2_year=90)
    result = match(index, n, k=2, now=NOW)
    assert result.ids == [2]
    assert any("tolérance" in t for t in result.results[0].reasons["fr"])
    assert any("tolerance" in t for t in result.results[0].reasons["en"])
    rent = [r for r in result.relaxations if r.constraint == "max_rent_eur_m2_year"]
    assert rent and rent[0].suggested == 100
    assert rent[0].text["fr"].startswith(f"Plafond de loyer{NBSP}: 100{NBSP}€/m²/an au lieu de")
