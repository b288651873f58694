"""Demand analytics: hot spots, unmet demand, balance, most wanted bands, time to let."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matcher_data import need

from matcher import MatchIndex, match
from matcher._geo import to_lambert93
from matcher.analytics import (
    balance,
    best_scores,
    hotspots,
    most_wanted,
    need_frame,
    need_places,
    supply_frame,
    time_to_let,
    unmet_demand,
    wanted_sentence,
)


def _planted_needs() -> tuple[list, list[int]]:
    """12 needs around Rungis and 8 around Vitry (each within ~400 m), 8 scattered over the
    territory's box."""
    rng = np.random.default_rng(3)
    needs = []
    for n, lon, lat in ((12, 2.350, 48.750), (8, 2.400, 48.790)):
        for _ in range(n):
            needs.append(
                need(
                    center_lon=lon + rng.uniform(-0.004, 0.004),
                    center_lat=lat + rng.uniform(-0.002, 0.002),
                    radius_m=3000,
                )
            )
    spots = [(2.33, 48.70), (2.45, 48.82), (2.45, 48.70), (2.33, 48.82), (2.40, 48.70),
             (2.29, 48.76), (2.45, 48.76), (2.40, 48.84)]  # fmt: skip
    for lon, lat in spots:
        needs.append(need(center_lon=lon, center_lat=lat, radius_m=3000))
    return needs, list(range(100, 100 + len(needs)))


@pytest.mark.parametrize("method", ["dbscan", "hdbscan"])
def test_hotspots_find_the_planted_clusters_and_nothing_else(method: str) -> None:
    needs, ids = _planted_needs()
    places = need_places(needs, ids)
    labels, clusters = hotspots(places, method=method, eps_m=1_000, min_needs=5)
    assert clusters["need_ids"].tolist() == [ids[:12], ids[12:20]]  # the largest first
    assert clusters["n_needs"].tolist() == [12, 8]
    assert (labels[:12] == 0).all() and (labels[12:20] == 1).all() and (labels[20:] == -1).all()
    x, y = to_lambert93([2.350], [48.750])
    assert np.hypot(clusters.loc[0, "x"] - x[0], clusters.loc[0, "y"] - y[0]) < 300
    assert 0 < clusters.loc[0, "radius_m"] < 600


def test_a_need_with_two_places_counts_once_in_dbscan() -> None:
    # Four needs with one place each and one with two places, all at the same spot: the
    # weights add to 5 (a core point needs 5), whereas counting places would give 6.
    one = [need(center_lon=2.35, center_lat=48.75, radius_m=1000) for _ in range(4)]
    two = need(
        places=[
            {"label": "site", "lon": 2.35, "lat": 48.75},
            {"label": "dépôt", "lon": 2.3501, "lat": 48.75},
        ]
    )
    places = need_places([*one, two], [1, 2, 3, 4, 5])
    assert places.groupby("need_id")["weight"].sum().tolist() == [1.0] * 5
    _, clusters = hotspots(places, eps_m=200, min_needs=5)
    assert clusters["n_needs"].tolist() == [5]
    _, none = hotspots(places.iloc[:5], eps_m=200, min_needs=5)  # 4 needs and a half
    assert none.empty


def test_hotspots_refuse_an_unknown_method() -> None:
    with pytest.raises(ValueError, match="method"):
        hotspots(need_places([need(center_lon=2.35, center_lat=48.75, radius_m=10)]), method="k")


def test_best_scores_are_each_needs_own_best_match(index: MatchIndex) -> None:
    needs = [
        need(surface_min_m2=200, surface_max_m2=600, max_rent_eur_m2_year=140),
        need(surface_min_m2=1000, surface_max_m2=3000, uses=["production"]),
        need(surface_min_m2=900_000, surface_max_m2=1_000_000),  # nothing is that large
        need(surface_min_m2=300, surface_max_m2=500, active=False),
    ]
    best = best_scores(index, needs, ids=[1, 2, 3, 4])
    for i, n in enumerate(needs[:2]):
        assert best.loc[i + 1] == pytest.approx(match(index, n, k=1).results[0].score)
    assert np.isnan(best.loc[3]) and np.isnan(best.loc[4])


def test_unmet_demand_counts_needs_under_the_threshold_by_commune_use_and_band(
    index: MatchIndex,
) -> None:
    needs = [
        need(surface_min_m2=200, surface_max_m2=600, max_rent_eur_m2_year=140,
             communes=["94065"]),
        need(surface_min_m2=900_000, surface_max_m2=1_000_000, communes=["94065", "94073"]),
        need(surface_min_m2=900_000, surface_max_m2=1_000_000, uses=["craft"], active=False,
             communes=["94065"]),
    ]  # fmt: skip
    ids = [1, 2, 3]
    frame = need_frame(needs, ids)
    best = best_scores(index, needs, ids=ids)
    assert best.loc[1] > 40
    unmet = unmet_demand(frame, best, threshold=40)
    rungis = unmet[unmet["commune"] == "94065"].set_index("band")
    assert rungis.loc[6, "n_unmet"] == 1 and rungis.loc[6, "unmet_ids"] == [2]
    met = unmet[unmet["unmet_ids"].map(lambda ids: 1 in ids)]
    assert met.empty
    assert unmet[unmet["commune"] == "94073"]["n_unmet"].tolist() == [1]
    assert 3 not in {i for ids_ in unmet["unmet_ids"] for i in ids_}  # inactive: not counted
    # A threshold above every score makes every active need unmet.
    assert unmet_demand(frame, best, threshold=101, by=["use"])["n_unmet"].sum() == 2
    with pytest.raises(ValueError, match="by"):
        unmet_demand(frame, best, by=["colour"])


def test_balance_keeps_building_and_land_apart(index: MatchIndex) -> None:
    supply = supply_frame(index)
    c = index.cols
    avail = c["status"] == 0
    land = avail & (c["kind"] == 3)
    assert supply["land"].sum() == land.sum()
    needs = [
        need(communes=["94065", "94073"]),
        need(surface_min_m2=5000, surface_max_m2=7000, kinds=["land"], communes=["94065"]),
        need(communes=["94065"], active=False),
    ]
    frame = need_frame(needs, [1, 2, 3])
    b = balance(supply, frame)
    assert b["building_m2"].sum() == pytest.approx(c["surface_m2"][avail & ~land].sum())
    assert b["land_m2"].sum() == pytest.approx(c["surface_m2"][land].sum())
    # The first need's 1 000 m² shared between its two communes; the land need apart.
    assert b.loc["94065", "wanted_building_m2"] == pytest.approx(500)
    assert b.loc["94073", "wanted_building_m2"] == pytest.approx(500)
    assert b.loc["94065", "wanted_land_m2"] == pytest.approx(6000)
    assert b.loc["94065", "needs_building"] == 1 and b.loc["94065", "needs_land"] == 1
    assert b.loc["94065", "land_ratio"] == pytest.approx(b.loc["94065", "land_m2"] / 6000, abs=1e-3)


def test_most_wanted_puts_the_unsupplied_band_first_with_its_sentence() -> None:
    # Five craft needs of 200–400 m² in the north, no listing for them; two logistics needs
    # of 1 000–2 500 m² in the south with three listings.
    north = [
        need(
            surface_min_m2=250,
            surface_max_m2=350,
            uses=["craft"],
            center_lon=2.36,
            center_lat=48.81,
            radius_m=2000,
        )
        for _ in range(5)
    ]
    south = [need(surface_min_m2=1200, surface_max_m2=2000, uses=["logistics"],
                  center_lon=2.40, center_lat=48.71, radius_m=2000) for _ in range(2)]  # fmt: skip
    frame = need_frame([*north, *south], list(range(1, 8)))
    supply = pd.DataFrame(
        {"band": [3, 3, 3, 1], "uses_mask": [2, 2, 2, 2], "region": ["south"] * 3 + ["north"]}
    )
    wanted = most_wanted(frame, supply)
    first = wanted.iloc[0]
    assert (first["band_label"], first["use"], first["region"]) == ("200-400", "craft", "north")
    assert first["n_needs"] == 5 and first["n_listings"] == 0  # the northern lot is logistics
    assert first["need_ids"] == [1, 2, 3, 4, 5]
    assert first["text_fr"] == (
        "5 besoins actifs pour 200–400\u00a0m² d'artisanat dans le nord du territoire, aucune offre"
    )
    assert first["text_en"].startswith("5 active needs for 200–400\u00a0m² of craft space")
    logistics = wanted[wanted["use"] == "logistics"].iloc[0]
    assert logistics["n_listings"] == 3 and logistics["pressure"] == pytest.approx(0.5)


def test_wanted_sentence_agrees_in_number() -> None:
    assert wanted_sentence(1, 0, "craft", 1, None) == (
        "1 besoin actif pour moins de 200\u00a0m² d'artisanat, 1 offre"
    )


def test_time_to_let_by_kind_and_band() -> None:
    t = pd.to_datetime
    history = pd.DataFrame(
        {
            "listing_id": [1, 1, 2, 2, 3, 3, 4, 4, 5],
            "status": ["available", "let", "available", "let", "available", "sold",
                       "let", "available", "available"],
            "changed_at": t(["2025-01-01", "2025-01-31", "2025-01-01", "2025-04-01",
                             "2025-02-01", "2025-02-11", "2024-12-01", "2025-01-01",
                             "2025-01-01"]),
        }
    )  # fmt: skip
    listings = pd.DataFrame(
        {
            "listing_id": [1, 2, 3, 4, 5],
            "kind": ["workshop", "workshop", "warehouse", "workshop", "workshop"],
            "surface_m2": [300, 350, 3000, 320, 250],
        }
    )
    out = time_to_let(history, listings).set_index("kind")
    assert out.loc["workshop", "n_let"] == 2  # 4 was let BEFORE it was available: not a let
    assert out.loc["workshop", "n_open"] == 2
    assert out.loc["workshop", "median_days"] == pytest.approx((30 + 90) / 2)
    assert out.loc["warehouse", "median_days"] == pytest.approx(10)
    assert time_to_let(None, listings).empty
    assert time_to_let(history, listings, min_cases=2).index.tolist() == [0]
