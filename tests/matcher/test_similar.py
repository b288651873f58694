"""Similar premises: nearest neighbours over the match index, available listings only."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matcher_data import INTERCHANGES, STATIONS, make_catalogue

import geopandas as gpd

from matcher import MatchIndex
from matcher._codes import STATUS_CODE
from matcher.similar import SimilarIndex, render


@pytest.fixture(scope="module")
def planted() -> tuple[MatchIndex, int, int]:
    """A synthetic catalogue plus a near twin of one listing (10 % larger, 150 m away) and
    an exact twin that is let (never proposed)."""
    cat = make_catalogue(300, seed=7)
    base = cat[cat["status"] == "available"].iloc[0]
    base_id = int(base.name)
    twin = base.copy()
    twin["surface_m2"] = base["surface_m2"] * 1.1
    twin["lat"] = base["lat"] + 150 / 111_000
    twin["title"] = "Jumeau"
    let = base.copy()
    let["status"] = "let"
    extra = pd.DataFrame([twin, let], index=pd.Index([1, 2], name="id"))
    frame = pd.concat([cat, extra])
    frame = gpd.GeoDataFrame(
        frame.drop(columns="geometry"),
        geometry=gpd.points_from_xy(frame["lon"], frame["lat"]),
        crs=4326,
    ).sort_index()
    index = MatchIndex.from_frame(frame, stations=STATIONS, interchanges=INTERCHANGES)
    return index, base_id, 1


def test_the_near_twin_comes_first_and_only_available_listings(
    planted: tuple[MatchIndex, int, int],
) -> None:
    index, base_id, twin_id = planted
    sim = SimilarIndex(index)
    items = sim.similar(base_id, k=8)
    assert items[0].listing_id == twin_id
    assert len(items) == 8
    assert base_id not in [i.listing_id for i in items]
    assert 2 not in [i.listing_id for i in items]  # the let twin is never proposed
    status = {int(i): s for i, s in zip(index.cols["id"], index.cols["status"], strict=True)}
    assert all(status[i.listing_id] == STATUS_CODE["available"] for i in items)
    sims = [i.similarity for i in items]
    assert sims == sorted(sims, reverse=True) and all(0 < s <= 1 for s in sims)
    first = items[0]
    codes = {r.code for r in first.reasons}
    assert {"same_kind", "close_surface", "distance"} <= codes
    assert first.distance_m == pytest.approx(150, abs=5)
    assert any("Même type" in t for t in first.text["fr"])
    assert any("Same kind" in t for t in first.text["en"])


def test_under_offer_when_asked(planted: tuple[MatchIndex, int, int]) -> None:
    index, base_id, _ = planted
    offered = set(index.cols["id"][index.cols["status"] == STATUS_CODE["under_offer"]].tolist())
    plain = {i.listing_id for i in SimilarIndex(index).similar(base_id, k=400)}
    wider = {
        i.listing_id for i in SimilarIndex(index, include_under_offer=True).similar(base_id, k=400)
    }
    assert not plain & offered
    assert offered <= wider


def test_missing_values_are_neither_close_nor_far(planted: tuple[MatchIndex, int, int]) -> None:
    index, _, _ = planted
    sim = SimilarIndex(index)
    assert np.isfinite(sim.features).all()  # NaN rents and technical values imputed
    no_rent = index.cols["id"][
        np.isnan(index.cols["rent_eur_m2_year"])
        & (index.cols["status"] == STATUS_CODE["available"])
    ]
    assert len(no_rent)
    items = sim.similar(int(no_rent[0]), k=5)
    assert len(items) == 5
    assert all(r.code != "close_rent" for i in items for r in i.reasons)


def test_location_weight_moves_the_neighbours(planted: tuple[MatchIndex, int, int]) -> None:
    index, base_id, _ = planted
    near = SimilarIndex(index, weights={"location": 10.0}).similar(base_id, k=10)
    far = SimilarIndex(index, weights={"location": 0.0}).similar(base_id, k=10)
    assert np.mean([i.distance_m for i in near]) < np.mean([i.distance_m for i in far])


def test_unknown_listing_and_renders() -> None:
    index = MatchIndex.from_frame(make_catalogue(30, seed=3))
    with pytest.raises(KeyError, match="no listing 5"):
        SimilarIndex(index).similar(5)
    from matcher.criteria.base import Reason

    assert render(Reason("similar", "distance", {"metres": 1234.0}), "fr") == "À 1,2\u00a0km"
    with pytest.raises(KeyError, match="similarity code"):
        render(Reason("similar", "nonsense", {}), "en")
