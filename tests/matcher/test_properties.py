"""Property-based tests: dominance, monotonicity, invariance under reordering, determinism."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from matcher_data import INTERCHANGES, NOW, STATIONS, make_catalogue, need

import geopandas as gpd
import shapely

from geodata.schemas import NeedIn
from matcher import MatchIndex, NeedTable, match, match_listing
from matcher.weights import CRITERIA

USES = ["production", "logistics", "craft", "lab_rd", "food_processing", "construction", "repair"]
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

_catalogues: dict[tuple[int, int], gpd.GeoDataFrame] = {}
_indexes: dict[tuple[int, int], MatchIndex] = {}


def _catalogue(n: int, seed: int) -> gpd.GeoDataFrame:
    key = (n, seed)
    if key not in _catalogues:
        _catalogues[key] = make_catalogue(n, seed)
    return _catalogues[key]


def _index(n: int, seed: int) -> MatchIndex:
    key = (n, seed)
    if key not in _indexes:
        _indexes[key] = MatchIndex.from_frame(
            _catalogue(n, seed), stations=STATIONS, interchanges=INTERCHANGES
        )
    return _indexes[key]


catalogues = st.tuples(st.integers(1, 80), st.integers(0, 5))


@st.composite
def needs(draw: Any) -> NeedIn:
    lo = draw(st.floats(50, 4000))
    kw: dict[str, Any] = {
        "surface_min_m2": lo,
        "surface_max_m2": lo * draw(st.floats(1, 4)),
        "uses": draw(st.lists(st.sampled_from(USES), max_size=2, unique=True)),
        "tenure": draw(st.sampled_from(["rent", "buy", "either"])),
        "required": draw(st.lists(st.sampled_from(list(CRITERIA)), unique=True, max_size=4)),
        "max_rent_eur_m2_year": None,
    }
    if kw["tenure"] != "buy":
        kw["max_rent_eur_m2_year"] = draw(st.none() | st.floats(40, 160))
    if kw["tenure"] != "rent":
        kw["max_sale_price_eur"] = draw(st.none() | st.floats(1e5, 5e6))
    if draw(st.booleans()):
        kw.update(
            center_lon=draw(st.floats(2.33, 2.45)),
            center_lat=draw(st.floats(48.70, 48.82)),
            radius_m=draw(st.none() | st.floats(200, 15_000)),
        )
    kw["places"] = [
        {"label": "site", "lon": p[0], "lat": p[1], "max_distance_m": p[2]}
        for p in draw(
            st.lists(
                st.tuples(
                    st.floats(2.33, 2.45), st.floats(48.70, 48.82), st.none() | st.floats(300, 9000)
                ),
                max_size=2,
            )
        )
    ]
    if draw(st.booleans()):
        kw["communes"] = draw(
            st.lists(
                st.sampled_from(["94065", "94073", "94054", "94081"]),
                min_size=1,
                max_size=2,
                unique=True,
            )
        )
    kw["max_station_distance_m"] = draw(st.none() | st.floats(300, 5000))
    kw["min_ceiling_height_m"] = draw(st.none() | st.floats(3, 12))
    kw["min_loading_docks"] = draw(st.none() | st.integers(0, 4))
    kw["needs_icpe"] = draw(st.booleans())
    if draw(st.booleans()):
        kw["wanted_by"] = draw(
            st.dates(
                min_value=pd.Timestamp("2026-01-01").date(),
                max_value=pd.Timestamp("2027-06-01").date(),
            )
        )
    if draw(st.booleans()):
        kw["weights"] = draw(
            st.dictionaries(st.sampled_from(list(CRITERIA)), st.floats(0, 50), max_size=3)
        )
    return need(**kw)


def _all(index: MatchIndex, n: NeedIn | NeedTable, **kw: Any) -> dict[int, float]:
    res = match(index, n, k=10_000, now=NOW, explain=False, relax=False, **kw)
    return {r.listing_id: r.score for r in res.results}


# --- dominance -----------------------------------------------------------------------------


def _improve(row: pd.Series, n: NeedIn, rng: np.random.Generator) -> pd.Series:
    """A copy of a listing at least as good on every criterion for any need."""
    better = row.copy()
    wanted = set(n.uses)
    have = set(filter(None, str(row["uses"]).split(","))) if row["uses"] else set()
    if have or not wanted:
        better["uses"] = ",".join(sorted(have | wanted))
    if not np.isnan(row["rent_eur_m2_year"]):
        better["rent_eur_m2_year"] = row["rent_eur_m2_year"] * rng.uniform(0.5, 1.0)
    if not np.isnan(row["sale_price_eur"]):
        better["sale_price_eur"] = row["sale_price_eur"] * rng.uniform(0.5, 1.0)
    for col in (
        "ceiling_height_m",
        "floor_load_t_m2",
        "loading_docks",
        "ground_level_doors",
        "power_kva",
    ):
        if not np.isnan(row[col]):
            better[col] = row[col] + rng.uniform(0, 3)
    if row["icpe_allowed"] is True or (row["icpe_allowed"] is None and rng.random() < 0.5):
        better["icpe_allowed"] = True
    if not pd.isna(row["available_from"]) and rng.random() < 0.5:
        better["available_from"] = row["available_from"] - pd.Timedelta(days=30)
    return better


@SETTINGS
@given(catalogues, needs(), st.integers(0, 10_000))
def test_dominance(cat_key: tuple[int, int], n: NeedIn, seed: int) -> None:
    cat = _catalogue(*cat_key).copy()
    cat["status"] = "available"
    rng = np.random.default_rng(seed)
    b_id = int(rng.choice(cat.index))
    a_row = _improve(cat.loc[b_id], n, rng)
    a_id = int(cat.index.min()) - 1  # smaller id: wins ties too
    cat.loc[a_id] = a_row
    cat = gpd.GeoDataFrame(cat, geometry="geometry", crs=4326)
    idx = MatchIndex.from_frame(cat, stations=STATIONS, interchanges=INTERCHANGES)
    res = match(idx, n, k=10_000, now=NOW, explain=False, relax=False)
    ranks = {r.listing_id: r.rank for r in res.results}
    utils = {r.listing_id: r.utilities for r in res.results}
    scores = {r.listing_id: r.score for r in res.results}
    event("dominated premises matched" if b_id in ranks else "dominated premises filtered")
    if b_id in ranks:
        assert a_id in ranks, "a dominating premises was filtered out"
        assert ranks[a_id] < ranks[b_id]
        assert scores[a_id] >= scores[b_id]
        assert all(utils[a_id][c] >= utils[b_id][c] for c in utils[b_id])
    # and among all results: utility-wise dominance never ranks below
    ids = list(ranks)
    for x in ids[:15]:
        for y in ids[:15]:
            if all(utils[x][c] >= utils[y][c] for c in utils[x]):
                assert scores[x] >= scores[y]


# --- monotonicity --------------------------------------------------------------------------


@SETTINGS
@given(catalogues, needs(), st.floats(1.0, 3.0))
def test_raising_the_budget_never_removes_a_result(
    cat_key: tuple[int, int], n: NeedIn, factor: float
) -> None:
    idx = _index(*cat_key)
    n = n.model_copy(update={"required": sorted({*n.required, "budget"})})
    if n.tenure != "buy" and n.max_rent_eur_m2_year is None:
        n = n.model_copy(update={"max_rent_eur_m2_year": 70.0})
    update: dict[str, Any] = {}
    if n.max_rent_eur_m2_year is not None:
        update["max_rent_eur_m2_year"] = n.max_rent_eur_m2_year * factor
    if n.max_sale_price_eur is not None:
        update["max_sale_price_eur"] = n.max_sale_price_eur * factor
    richer = n.model_copy(update=update)
    before, after = _all(idx, n), _all(idx, richer)
    event("grew" if len(after) > len(before) else "same size")
    assert set(before) <= set(after)
    # nobody loses score either
    assert all(after[i] >= before[i] - 1e-9 for i in before)


@SETTINGS
@given(catalogues, needs(), st.floats(1.0, 5.0))
def test_widening_the_radius_never_removes_a_result(
    cat_key: tuple[int, int], n: NeedIn, factor: float
) -> None:
    idx = _index(*cat_key)
    n = n.model_copy(update={"required": sorted({*n.required, "location", "access"})})
    if n.radius_m is None:
        n = n.model_copy(update={"center_lon": 2.39, "center_lat": 48.76, "radius_m": 2500.0})
    update: dict[str, Any] = {"radius_m": n.radius_m * factor}
    update["places"] = [
        p.model_copy(
            update={
                "max_distance_m": p.max_distance_m * factor
                if p.max_distance_m is not None
                else None
            }
        )
        for p in n.places
    ]
    update["max_station_distance_m"] = (
        n.max_station_distance_m * factor if n.max_station_distance_m is not None else None
    )
    wider = n.model_copy(update=update)
    before, after = _all(idx, n), _all(idx, wider)
    event("grew" if len(after) > len(before) else "same size")
    assert set(before) <= set(after)


# --- invariance and determinism ------------------------------------------------------------


@SETTINGS
@given(catalogues, needs(), st.integers(0, 1000))
def test_reordering_the_catalogue_changes_nothing(
    cat_key: tuple[int, int], n: NeedIn, seed: int
) -> None:
    cat = _catalogue(*cat_key)
    shuffled = cat.sample(frac=1.0, random_state=seed)
    a = match(_index(*cat_key), n, k=12, now=NOW)
    b = match(
        MatchIndex.from_frame(shuffled, stations=STATIONS, interchanges=INTERCHANGES),
        n,
        k=12,
        now=NOW,
    )
    assert a.to_dict() == b.to_dict()


@SETTINGS
@given(catalogues, needs())
def test_determinism(cat_key: tuple[int, int], n: NeedIn) -> None:
    idx = _index(*cat_key)
    first = match(idx, n, k=8, now=NOW).to_dict()
    assert match(idx, n, k=8, now=NOW).to_dict() == first
    fresh = MatchIndex.from_frame(
        _catalogue(*cat_key), stations=STATIONS, interchanges=INTERCHANGES
    )
    assert match(fresh, n, k=8, now=NOW).to_dict() == first


@SETTINGS
@given(catalogues, needs(), st.integers(1, 30))
def test_top_k_is_a_prefix_of_the_full_ranking(cat_key: tuple[int, int], n: NeedIn, k: int) -> None:
    idx = _index(*cat_key)
    full = match(idx, n, k=10_000, now=NOW, explain=False).ids
    assert match(idx, n, k=k, now=NOW, explain=False).ids == full[:k]


@SETTINGS
@given(catalogues, st.lists(needs(), min_size=1, max_size=6))
def test_both_directions_agree(cat_key: tuple[int, int], ns: list[NeedIn]) -> None:
    idx = _index(*cat_key)
    table = NeedTable.from_needs(ns)
    forward = [_all(idx, table, i=i) for i in range(len(ns))]
    for lid in idx.cols["id"].tolist():
        got = {m.need_id: m.score for m in match_listing(idx, lid, table)}
        expected = {i: f[lid] for i, f in enumerate(forward) if lid in f}
        assert got == expected


def test_a_listing_moved_out_of_the_radius_leaves_the_results() -> None:
    cat = make_catalogue(50, seed=8)
    idx = MatchIndex.from_frame(cat)
    n = need(center_lon=2.39, center_lat=48.76, radius_m=5000, required=["location"])
    inside = _all(idx, n)
    lid = next(iter(inside))
    row = cat.loc[lid].copy()
    row["lon"], row["lat"] = 2.20, 48.90
    row["geometry"] = shapely.Point(2.20, 48.90)
    idx.update(lid, row.to_dict())
    assert lid not in _all(idx, n)
