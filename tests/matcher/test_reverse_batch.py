"""Both directions agree, and batch matching equals matching need by need."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matcher_data import NOW, need

from geodata.schemas import NeedIn
from matcher import MatchIndex, NeedTable, batch_match, match, match_listing
from matcher.batch import batch_match_frame


def _needs() -> list[NeedIn]:
    rng = np.random.default_rng(11)
    out = []
    for i in range(40):
        lo = float(rng.choice([200, 500, 800, 1500, 3000]))
        kw: dict = {
            "surface_min_m2": lo,
            "surface_max_m2": lo * float(rng.choice([1.0, 1.5, 3.0])),
            "uses": list(
                rng.choice(
                    ["logistics", "production", "craft", "repair"],
                    size=int(rng.integers(0, 3)),
                    replace=False,
                )
            ),
            "tenure": str(rng.choice(["rent", "either", "buy"])),
            "required": list(
                rng.choice(
                    ["surface", "use", "budget", "location", "access", "technical", "availability"],
                    size=int(rng.integers(0, 5)),
                    replace=False,
                )
            ),
        }
        kw["max_rent_eur_m2_year"] = float(rng.uniform(60, 130)) if kw["tenure"] != "buy" else None
        if kw["tenure"] != "rent" and rng.random() < 0.6:
            kw["max_sale_price_eur"] = float(rng.uniform(3e5, 4e6))
        if rng.random() < 0.4:
            kw.update(
                center_lon=float(rng.uniform(2.34, 2.44)),
                center_lat=float(rng.uniform(48.71, 48.81)),
                radius_m=float(rng.choice([1500, 4000, 9000])),
            )
        if rng.random() < 0.5:
            kw["places"] = [
                {
                    "label": f"P{j}",
                    "lon": float(rng.uniform(2.34, 2.44)),
                    "lat": float(rng.uniform(48.71, 48.81)),
                    "max_distance_m": float(rng.choice([2000, 6000]))
                    if rng.random() < 0.5
                    else None,
                }
                for j in range(int(rng.integers(1, 3)))
            ]
        if rng.random() < 0.3:
            kw["communes"] = ["94065", "94073"][: int(rng.integers(1, 3))]
        if rng.random() < 0.2:
            kw["polygon"] = {
                "type": "Polygon",
                "coordinates": [
                    [[2.34, 48.72], [2.42, 48.72], [2.42, 48.79], [2.34, 48.79], [2.34, 48.72]]
                ],
            }
        if rng.random() < 0.4:
            kw["max_station_distance_m"] = float(rng.choice([800, 2000]))
        if rng.random() < 0.3:
            kw["max_interchange_distance_m"] = 3000.0
        if rng.random() < 0.4:
            kw["min_ceiling_height_m"] = float(rng.choice([4, 7]))
            kw["min_loading_docks"] = int(rng.integers(0, 3))
            kw["needs_icpe"] = bool(rng.random() < 0.5)
        if rng.random() < 0.3:
            kw["wanted_by"] = "2026-09-01"
        if rng.random() < 0.3:
            kw["kinds"] = ["warehouse", "workshop"]
        if rng.random() < 0.2:
            kw["weights"] = {"location": 40, "access": 0}
        out.append(need(**kw).model_copy(update={"active": i != 3}))
    return out


@pytest.fixture(scope="module")
def needs() -> list[NeedIn]:
    return _needs()


def test_reverse_equals_forward(index: MatchIndex, needs: list[NeedIn]) -> None:
    table = NeedTable.from_needs(needs, ids=np.arange(100, 100 + len(needs)))
    forward: dict[int, dict[int, float]] = {}
    for i in range(len(needs)):
        if not needs[i].active:
            continue
        res = match(index, table, i=i, k=10_000, now=NOW, explain=False, relax=False)
        for r in res.results:
            forward.setdefault(r.listing_id, {})[int(table.ids[i])] = r.score
    checked = 0
    for lid in index.cols["id"]:
        got = {m.need_id: m.score for m in match_listing(index, int(lid), table)}
        assert got == forward.get(int(lid), {}), lid
        checked += len(got)
    assert checked > 50


def test_reverse_orders_needs_and_respects_status(index: MatchIndex, needs: list[NeedIn]) -> None:
    table = NeedTable.from_needs(needs)
    status = index.cols["status"]
    lid = int(index.cols["id"][np.flatnonzero(status == 0)[0]])
    fits = match_listing(index, lid, table)
    keys = [(-m.score, m.need_id) for m in fits]
    assert keys == sorted(keys)
    let = int(index.cols["id"][np.flatnonzero(status == 2)[0]])
    assert match_listing(index, let, table) == []
    assert match_listing(index, let, NeedTable.from_needs([need(required=[])]), any_status=True)
    with pytest.raises(KeyError):
        match_listing(index, -1, table)


def test_batch_equals_per_need(index: MatchIndex, needs: list[NeedIn]) -> None:
    ids = list(range(500, 500 + len(needs)))
    results, summary = batch_match_frame(index, needs, k=7, chunk_size=6, ids=ids, now=NOW)
    table = NeedTable.from_needs(needs, ids=ids)
    expected = []
    for i in range(len(needs)):
        if not needs[i].active:
            continue
        res = match(index, table, i=i, k=7, now=NOW, explain=False)
        assert (
            summary.loc[summary.need_id == ids[i], "n_matching"].item()
            == res.diagnostics.n_matching
        )
        for r in res.results:
            expected.append((ids[i], r.rank, r.listing_id, r.score, r.completeness))
    got = list(
        results[["need_id", "rank", "listing_id", "score", "completeness"]].itertuples(
            index=False, name=None
        )
    )
    assert got == expected
    assert len(summary) == len(needs)
    # the same from a compiled table, in other chunk sizes
    again, _ = batch_match_frame(index, table, k=7, chunk_size=1000, now=NOW)
    pd.testing.assert_frame_equal(again, results)


def test_batch_yields_bounded_chunks(index: MatchIndex, needs: list[NeedIn]) -> None:
    chunks = list(batch_match(index, needs, k=3, chunk_size=8, now=NOW))
    assert len(chunks) == 5
    assert all(len(c.summary) <= 8 and len(c.results) <= 8 * 3 for c in chunks)
    with pytest.raises(ValueError, match="chunk_size"):
        next(batch_match(index, needs, chunk_size=0))
