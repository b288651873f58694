"""The match index: columns, spatial queries, updates without a full rebuild."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matcher_data import INTERCHANGES, NOW, STATIONS, make_catalogue, need

import geopandas as gpd
import shapely

from matcher import MatchIndex, PointSet, match
from matcher._geo import project_geometry


def _results(index: MatchIndex, needs: list[Any]) -> list[list[tuple[int, float]]]:
    return [
        [(r.listing_id, r.score) for r in match(index, n, k=10_000, now=NOW).results] for n in needs
    ]


NEEDS = [
    need(),
    need(required=[], places=[{"label": "Site actuel", "lon": 2.37, "lat": 48.76}]),
    need(
        center_lon=2.38,
        center_lat=48.77,
        radius_m=3000,
        required=["surface", "use", "budget", "location"],
        max_station_distance_m=1500,
    ),
    need(
        tenure="either", max_sale_price_eur=2_000_000, min_ceiling_height_m=6, required=["surface"]
    ),
    need(
        polygon={
            "type": "Polygon",
            "coordinates": [
                [[2.34, 48.72], [2.41, 48.72], [2.41, 48.79], [2.34, 48.79], [2.34, 48.72]]
            ],
        },
        required=["location"],
    ),
]


def test_columns_and_codes(catalogue: gpd.GeoDataFrame, index: MatchIndex) -> None:
    assert len(index) == len(catalogue) == index.n_rows
    assert set(index.cols["id"].tolist()) == set(catalogue.index)
    pos = index.position(int(catalogue.index[0]))
    assert pos is not None
    rec = index.record(pos)
    row = catalogue.iloc[0]
    assert rec["surface_m2"] == row["surface_m2"]
    assert rec["commune_insee"] == row["commune_insee"]
    assert rec["station_name"] in set(STATIONS.names)
    assert index.position(-5) is None


def test_within_mask_equals_brute_force() -> None:
    idx = MatchIndex.from_frame(make_catalogue(3000, seed=4))
    x, y = idx.cols["x"], idx.cols["y"]
    rng = np.random.default_rng(1)
    for _ in range(60):
        px, py = rng.uniform(x.min() - 2000, x.max() + 2000), rng.uniform(y.min(), y.max())
        r = float(rng.choice([5.0, 200.0, 900.0, 2500.0, 7000.0, 40_000.0]))
        dx, dy = x - px, y - py
        assert (idx.within_mask(px, py, r) == (dx * dx + dy * dy <= r * r)).all()
    # exactly on the edge
    for _ in range(30):
        a, b = rng.integers(len(x), size=2)
        dx, dy = x[b] - x[a], y[b] - y[a]
        r = float(np.sqrt(dx * dx + dy * dy))
        ex, ey = x - x[a], y - y[a]
        assert (idx.within_mask(x[a], y[a], r) == (ex * ex + ey * ey <= r * r)).all()


def test_polygon_query_uses_the_strtree(index: MatchIndex) -> None:
    poly = shapely.box(2.36, 48.74, 2.40, 48.78)
    got = index.positions_covered_by(project_geometry(poly))
    brute = np.flatnonzero(
        shapely.covers(poly, shapely.points(index.cols["lon"], index.cols["lat"]))
    )
    # same points, up to the projection of the box's edges
    assert len(np.setxor1d(got, brute)) <= 2
    assert len(got) > 10


def test_index_is_independent_of_row_order(catalogue: gpd.GeoDataFrame) -> None:
    shuffled = catalogue.sample(frac=1.0, random_state=3)
    a = MatchIndex.from_frame(catalogue, stations=STATIONS, interchanges=INTERCHANGES)
    b = MatchIndex.from_frame(shuffled, stations=STATIONS, interchanges=INTERCHANGES)
    assert (a.cols["id"] == b.cols["id"]).all()


def _changed(cat: gpd.GeoDataFrame, rng: np.random.Generator) -> tuple[gpd.GeoDataFrame, dict]:
    """Change, move, add and remove some listings; return the new frame and the changes."""
    new = cat.copy()
    changes: dict[int, Any] = {}
    for lid in rng.choice(new.index, 25, replace=False):
        row = new.loc[lid].copy()
        row["rent_eur_m2_year"] = float(rng.uniform(40, 120)) if row["tenure"] != "sale" else np.nan
        row["surface_m2"] = float(rng.uniform(500, 1500))
        row["status"] = str(rng.choice(["available", "let", "under_offer"]))
        if rng.random() < 0.5:
            row["lon"] = float(rng.uniform(2.33, 2.45))
            row["lat"] = float(rng.uniform(48.70, 48.82))
            row["geometry"] = shapely.Point(row["lon"], row["lat"])
        row["uses"] = "logistics,production"
        new.loc[lid] = row
        changes[int(lid)] = row
    extra = make_catalogue(30, seed=99)
    extra.index = pd.Index(np.arange(50_000, 50_030), name="id")
    new = pd.concat([new, extra])
    for lid, row in extra.iterrows():
        changes[int(lid)] = row
    removed = [int(x) for x in rng.choice(cat.index, 10, replace=False) if int(x) not in changes]
    new = new.drop(index=removed)
    for lid in removed:
        changes[lid] = None
    return gpd.GeoDataFrame(new, geometry="geometry", crs=4326), changes


def test_update_equals_rebuild(catalogue: gpd.GeoDataFrame) -> None:
    rng = np.random.default_rng(7)
    idx = MatchIndex.from_frame(catalogue, stations=STATIONS, interchanges=INTERCHANGES, version=3)
    new, changes = _changed(catalogue, rng)
    before = _results(idx, NEEDS)  # builds the STRtree before the changes
    for lid, row in changes.items():
        if row is None:
            assert idx.remove(lid)
        else:
            idx.update(lid, row.to_dict())
    assert idx.version == 3 + len(changes)
    assert not idx.remove(-1)
    rebuilt = MatchIndex.from_frame(new, stations=STATIONS, interchanges=INTERCHANGES)
    assert len(idx) == len(rebuilt) == len(new)
    assert _results(idx, NEEDS) == _results(rebuilt, NEEDS)
    assert _results(idx, NEEDS) != before
    # a tree built lazily after the changes gives the same
    late = MatchIndex.from_frame(catalogue, stations=STATIONS, interchanges=INTERCHANGES)
    for lid, row in changes.items():
        if row is None:
            late.remove(lid)
        else:
            late.update(lid, row.to_dict())
    assert _results(late, NEEDS) == _results(rebuilt, NEEDS)
    lid = next(iter(changes))
    pos_a, pos_b = idx.position(lid), rebuilt.position(lid)
    assert pos_a is not None and pos_b is not None
    for col in ("station_dist", "interchange_dist", "x", "y", "surface_m2", "commune"):
        a, b = idx.cols[col][pos_a], rebuilt.cols[col][pos_b]
        if col == "commune":
            assert idx.communes[a] == rebuilt.communes[b]
        else:
            assert a == b or (np.isnan(a) and np.isnan(b))


def test_many_moves_trigger_a_compaction(catalogue: gpd.GeoDataFrame) -> None:
    small = catalogue.iloc[:100]
    idx = MatchIndex.from_frame(small)
    idx.min_stale = 30
    rng = np.random.default_rng(0)
    moved = small.copy()
    for _ in range(3):
        for lid in small.index:
            row = moved.loc[lid].copy()
            row["lon"], row["lat"] = rng.uniform(2.33, 2.45), rng.uniform(48.70, 48.82)
            row["geometry"] = shapely.Point(row["lon"], row["lat"])
            moved.loc[lid] = row
            idx.update(int(lid), row.to_dict())
        idx.update(900_000, moved.iloc[0].to_dict())
        idx.remove(900_000)
    assert idx.n_rows == len(small) + 1  # compacted: the removed row was dropped once
    rebuilt = MatchIndex.from_frame(gpd.GeoDataFrame(moved, geometry="geometry", crs=4326))
    n = need(center_lon=2.39, center_lat=48.76, radius_m=4000, required=["location"])
    assert _results(idx, [n]) == _results(rebuilt, [n])


def test_bad_catalogues_are_named() -> None:
    cat = make_catalogue(5, seed=0)
    bad = cat.copy()
    bad.loc[bad.index[0], "kind"] = "castle"
    with pytest.raises(ValueError, match="kind: unknown value 'castle'"):
        MatchIndex.from_frame(bad)
    bad = cat.copy()
    bad.loc[bad.index[1], "uses"] = "logistics,dancing"
    with pytest.raises(ValueError, match="uses: unknown use 'dancing'"):
        MatchIndex.from_frame(bad)
    bad = cat.copy()
    bad.loc[bad.index[2], "surface_m2"] = -1
    with pytest.raises(ValueError, match="surface_m2"):
        MatchIndex.from_frame(bad)
    bad = cat.drop(columns=["lon", "lat"])
    bad = bad.set_geometry(shapely.buffer(bad.geometry.array, 0.001))
    with pytest.raises(ValueError, match="must be points"):
        MatchIndex.from_frame(bad)


def test_point_sets_from_frames() -> None:
    frame = gpd.GeoDataFrame(
        {"name": ["A", "B", "C"], "status": ["open", "planned", "open"]},
        geometry=shapely.points([2.35, 2.36, 2.37], [48.75, 48.76, 48.77]),
        crs=4326,
    )
    ps = PointSet.from_frame(frame)
    assert list(ps.names) == ["A", "C"] and len(ps) == 2
    l93 = frame.to_crs(2154)
    ps2 = PointSet.from_frame(l93)
    np.testing.assert_allclose(ps2.lon, [2.35, 2.37], atol=1e-9)
    with pytest.raises(ValueError, match="same length"):
        PointSet(np.array([1.0]), np.array([1.0, 2.0]), np.array(["a"]))
    idx = MatchIndex.from_frame(make_catalogue(20, seed=0), stations=frame)
    assert np.isfinite(idx.cols["station_dist"]).all()
    assert np.isnan(MatchIndex.from_frame(make_catalogue(5)).cols["station_dist"]).all()


def test_update_from_a_validated_listing(index: MatchIndex) -> None:
    from datetime import date, datetime

    from geodata.schemas import PremisesCreate

    item = PremisesCreate.model_validate(
        {
            "title": "Cellule logistique",
            "kind": "warehouse",
            "uses": ["logistics", "repair"],
            "surface_m2": 1000,
            "tenure": "rent",
            "rent_eur_m2_year": 80,
            "lon": 2.36,
            "lat": 48.75,
            "commune_insee": "94065",
            "available_from": date(2026, 7, 1),
            "last_verified_at": datetime(2026, 5, 20, tzinfo=UTC),
            "icpe_allowed": True,
            "photos": ["https://example.org/a.jpg"],
        },
    )
    idx = MatchIndex.from_frame(make_catalogue(20, seed=3), stations=STATIONS)
    idx.update(424242, item.model_dump())
    pos = idx.position(424242)
    assert pos is not None
    rec = idx.record(pos)
    assert rec["uses"] == 0b1000010 and rec["icpe"] == 1 and rec["commune_insee"] == "94065"
    assert rec["available_day"] == (date(2026, 7, 1) - date(1970, 1, 1)).days
    result = match(idx, need(required=[]), k=50, now=NOW)
    (item,) = [r for r in result.results if r.listing_id == 424242]
    assert item.score == 100.0
    assert item.verified_age_days == 12.0
    assert index.version == 0  # the shared fixture is untouched
