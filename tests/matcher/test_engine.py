"""The forward engine: filters, score, exact top-k, diagnostics, trust figures."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matcher_data import INTERCHANGES, NOW, STATIONS, make_catalogue, need

import geopandas as gpd

from matcher import MatchIndex, match, top_k
from matcher._geo import to_lambert93
from matcher.engine import utility_matrix
from matcher.needs import NeedTable


def _reference_scores(cat: gpd.GeoDataFrame, cx: float, cy: float, radius: float) -> pd.Series:
    """Row-by-row reference of the documented formulas for the default test need with a
    required radius: 800–1 200 m², logistics, rent ≤ 90 €, radius around (cx, cy)."""
    x, y = to_lambert93(cat["lon"].to_numpy(), cat["lat"].to_numpy())
    out = {}
    for (lid, row), px, py in zip(cat.iterrows(), x, y, strict=True):
        if row["status"] != "available":
            continue
        surface = row["surface_m2"]
        lot = (
            (0.0 if math.isnan(row["min_lot_m2"]) else row["min_lot_m2"])
            if row["divisible"]
            else surface
        )
        if not (surface >= 800 * 0.9 and lot <= 1200 * 1.1):
            continue
        uses = (
            row["uses"].split(",")
            if row["uses"]
            else {
                "workshop": ["production", "craft", "repair", "construction"],
                "warehouse": ["logistics"],
                "industrial_building": ["production", "logistics", "food_processing"],
                "land": ["construction", "logistics"],
                "business_village_lot": ["production", "craft", "repair", "construction"],
                "lab": ["lab_rd"],
                "office_annex": [],
            }[row["kind"]]
        )
        if "logistics" not in uses:
            continue
        if row["tenure"] == "sale":
            continue
        rent = row["rent_eur_m2_year"]
        if not math.isnan(rent) and rent > 90 * 1.1:
            continue
        d = math.sqrt((px - cx) ** 2 + (py - cy) ** 2)
        if d > radius:
            continue
        gap = max(0.0, (800 - surface) / 80, (lot - 1200) / 120)
        u_s = 1 - 0.5 * gap  # inside the band (required)
        u_b = 0.5 if math.isnan(rent) else max(0.0, 1 - max(0.0, (rent - 90) / 9)) ** 2
        u_l = max(0.0, 1 - d / (2 * radius))
        out[lid] = 100 * (30 * u_s + 20 * 1.0 + 20 * u_b + 15 * u_l) / 85
    return pd.Series(out, dtype=float)


def test_matches_a_row_by_row_reference(catalogue: gpd.GeoDataFrame, index: MatchIndex) -> None:
    lon, lat, radius = 2.38, 48.76, 6000.0
    n = need(
        center_lon=lon,
        center_lat=lat,
        radius_m=radius,
        required=["surface", "use", "budget", "location"],
    )
    cx, cy = to_lambert93([lon], [lat])
    ref = _reference_scores(catalogue, float(cx[0]), float(cy[0]), radius)
    result = match(index, n, k=1000, now=NOW)
    got = pd.Series({r.listing_id: r.score for r in result.results}, dtype=float)
    assert set(got.index) == set(ref.index)
    assert len(ref) > 5
    np.testing.assert_allclose(got.sort_index(), ref.sort_index(), rtol=1e-12)
    expected_order = sorted(ref.index, key=lambda i: (-round(ref[i], 9), i))
    assert result.ids == expected_order


def test_top_k_is_exact_with_ties() -> None:
    rng = np.random.default_rng(0)
    scores = rng.integers(0, 5, 1000).astype(float)
    ids = rng.permutation(1000)
    for k in (1, 7, 100, 999, 1000, 2000):
        got = top_k(scores, ids, k)
        expected = np.lexsort((ids, -scores))[:k]
        assert got.tolist() == expected.tolist()


def test_results_are_sorted_and_bounded(index: MatchIndex) -> None:
    result = match(index, need(), k=15, now=NOW)
    scores = [r.score for r in result.results]
    assert len(scores) == 15
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 100 for s in scores)
    assert [r.rank for r in result.results] == list(range(1, 16))
    for r in result.results:
        assert set(r.utilities) == {"surface", "use", "budget"}
        assert all(0 <= u <= 1 for u in r.utilities.values())


def test_only_available_listings_unless_asked(
    catalogue: gpd.GeoDataFrame, index: MatchIndex
) -> None:
    n = need(required=[])
    status = catalogue["status"]
    got = set(match(index, n, k=10_000, now=NOW).ids)
    assert got == set(catalogue.index[status == "available"])
    got = set(match(index, n, k=10_000, include_under_offer=True, now=NOW).ids)
    assert got == set(catalogue.index[status.isin(["available", "under_offer"])])


def test_required_filters_and_diagnostics(catalogue: gpd.GeoDataFrame, index: MatchIndex) -> None:
    n = need(min_ceiling_height_m=6, required=["surface", "use", "budget", "technical"])
    table = NeedTable.from_needs([n])
    result = match(index, table, k=10_000, now=NOW)
    avail = np.flatnonzero(index.cols["status"] == 0)
    u = utility_matrix(index, table, 0, avail)
    assert result.diagnostics.n_matchable == len(avail)
    assert result.diagnostics.n_matching == len(result.results)
    # The ceiling-height filter: stated heights below 6 m are excluded, unknown ones pass.
    ceiling = index.cols["ceiling_height_m"][avail]
    tech_fail = ceiling < 6
    assert result.diagnostics.excluded["technical"] == int(tech_fail.sum())
    ids = set(result.ids)
    for pos in avail[tech_fail]:
        assert int(index.cols["id"][pos]) not in ids
    # excluded_only: failing this criterion and passing every other one.
    e = result.diagnostics
    assert all(e.excluded_only[c] <= e.excluded[c] for c in e.excluded)
    assert set(e.excluded) == {"surface", "use", "budget", "technical"}
    assert u.shape == (len(avail), 7)


def test_preferred_criteria_only_score(index: MatchIndex) -> None:
    strict = match(index, need(), k=10_000, now=NOW)
    loose = match(index, need(required=[]), k=10_000, now=NOW)
    assert set(strict.ids) < set(loose.ids)
    assert loose.diagnostics.excluded == {}


def test_weights_override_changes_the_ranking(index: MatchIndex) -> None:
    n_loc = need(
        places=[{"label": "Site actuel", "lon": 2.36, "lat": 48.75}], weights={"location": 100}
    )
    n_def = need(places=[{"label": "Site actuel", "lon": 2.36, "lat": 48.75}])
    a = match(index, n_loc, k=5, now=NOW)
    b = match(index, n_def, k=5, now=NOW)
    assert a.ids != b.ids
    loc_a = [r.utilities["location"] for r in a.results]
    loc_b = [r.utilities["location"] for r in b.results]
    assert np.mean(loc_a) > np.mean(loc_b)


def test_zero_weights_give_zero_scores_and_id_order(index: MatchIndex) -> None:
    n = need(weights={c: 0 for c in ["surface", "use", "budget"]})
    result = match(index, n, k=5, now=NOW)
    assert all(r.score == 0 for r in result.results)
    assert result.ids == sorted(result.ids)


def test_trust_figures_do_not_change_the_score() -> None:
    cat = make_catalogue(60, seed=5)
    cat["status"] = "available"
    idx = MatchIndex.from_frame(cat)
    bare = cat.copy()
    bare["ceiling_height_m"] = np.nan
    bare["last_verified_at"] = pd.NaT
    idx_bare = MatchIndex.from_frame(bare)
    n = need(min_ceiling_height_m=5, required=[])
    a = {r.listing_id: r for r in match(idx, n, k=100, now=NOW).results}
    b = {r.listing_id: r for r in match(idx_bare, n, k=100, now=NOW).results}
    some = next(
        i
        for i in a
        if not np.isnan(cat.loc[i, "ceiling_height_m"])
        and cat.loc[i, "ceiling_height_m"] >= 5
        and not pd.isna(cat.loc[i, "last_verified_at"])
    )
    assert b[some].utilities["technical"] == 0.5  # unknown, stated as such
    assert "ceiling_height_m" in b[some].missing
    assert b[some].completeness < a[some].completeness
    assert b[some].verified_age_days is None
    assert a[some].verified_age_days is not None and a[some].verified_age_days >= 31
    # Completeness itself never enters the score: same utilities, same score.
    same = [i for i in a if a[i].utilities == b[i].utilities]
    assert same and all(a[i].score == b[i].score for i in same)


def test_completeness_counts_what_the_need_asks() -> None:
    cat = make_catalogue(30, seed=2)
    cat["status"] = "available"
    cat["tenure"] = "rent"
    cat["sale_price_eur"] = np.nan
    cat["rent_eur_m2_year"] = np.nan
    cat["divisible"] = False
    cat["min_lot_m2"] = np.nan
    cat["uses"] = "logistics"
    idx = MatchIndex.from_frame(cat)
    result = match(idx, need(required=[]), k=100, now=NOW)
    # asks surface (stated), uses (stated), rent (missing everywhere): 2 of 3
    assert {round(r.completeness, 6) for r in result.results} == {round(2 / 3, 6)}
    assert all(r.missing == ["rent_eur_m2_year"] for r in result.results)


def test_stations_and_interchanges_are_precomputed(index: MatchIndex) -> None:
    d = index.cols["station_dist"]
    x, y = index.cols["x"], index.cols["y"]
    brute = np.min(
        np.hypot(x[:, None] - STATIONS.x[None, :], y[:, None] - STATIONS.y[None, :]), axis=1
    )
    np.testing.assert_allclose(d, brute, rtol=1e-9)
    assert np.isfinite(index.cols["interchange_dist"]).all()
    assert len(INTERCHANGES) == 3
    n = need(max_station_distance_m=1000, required=["access"])
    result = match(index, n, k=10_000, now=NOW)
    for r in result.results:
        assert d[index.position(r.listing_id)] <= 1000


def test_result_serialises(index: MatchIndex) -> None:
    import json

    result = match(index, need(), k=3, now=NOW)
    text = json.dumps(result.to_dict(), ensure_ascii=False)
    assert "reasons" in text and "diagnostics" in text


def test_records_of_several_rows_are_each_rows_record(index: MatchIndex) -> None:
    rows = np.array([0, 7, 3, len(index) - 1, 7])
    # The same values, types and keys (NaN is not equal to itself: compared by their repr).
    assert repr(index.records(rows)) == repr([index.record(int(r)) for r in rows])
    assert index.records(np.array([], dtype=np.int64)) == []
    # Python values, as a JSON encoder and the reasons need them.
    for rec in index.records(rows):
        assert not any(isinstance(v, np.generic) for v in rec.values())


def test_detail_langs_render_only_the_languages_asked(index: MatchIndex) -> None:
    both = match(index, need(), k=10, now=NOW)
    for lang in ("fr", "en"):
        one = match(index, need(), k=10, now=NOW, lang=lang, detail_langs=(lang,))
        assert [r.listing_id for r in one.results] == [r.listing_id for r in both.results]
        for a, b in zip(one.results, both.results, strict=True):
            assert a.reasons[lang] == b.reasons[lang]
            assert [d["text"] for d in a.reason_details] == [
                {lang: d["text"][lang]} for d in b.reason_details
            ]
            strip = [{k: v for k, v in d.items() if k != "text"} for d in b.reason_details]
            assert [{k: v for k, v in d.items() if k != "text"} for d in a.reason_details] == strip
