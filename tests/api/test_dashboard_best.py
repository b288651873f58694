"""The dashboard's best scores after writes: brought up to date from what changed, and equal
to matching every need again.

Real writes through the API on the demo catalogue (a SQLite file); each new index snapshot
and needs table is compared with the batch engine run from scratch on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from api.auth import issue_key
from api.dashboard import BestScores, changed_listings
from api.freshness import hide_before
from api.routes.demand import active_needs
from geodata.schemas import NeedIn
from geodata.storage import accounts
from matcher import analytics
from matcher.batch import batch_match_frame


def _staff(client: TestClient, name: str) -> dict[str, str]:
    with client.app.state.repo.begin() as conn:  # type: ignore[attr-defined]
        account = accounts.create_account(
            conn, name=name, email=f"{name}@exemple.invalid", role="staff"
        )
        return {"Authorization": f"Bearer {issue_key(conn, account.id).key}"}


def _state(client: TestClient) -> tuple[Any, Any]:
    app: Any = client.app
    with app.state.repo.connect() as conn:
        index = app.state.match_index.current(conn)
        _, table = active_needs(app).get(conn)
    return index, table


def _etag(client: TestClient, headers: dict[str, str], listing: int) -> str:
    return client.get(f"/premises/{listing}", headers=headers).headers["etag"]


def test_best_scores_follow_each_write_as_matching_every_need_again(client: TestClient) -> None:
    app: Any = client.app
    headers = _staff(client, "equipe-meilleurs")
    since = hide_before(app.state.clock(), app.state.settings.freshness)
    kept = BestScores()

    def check() -> pd.Series:
        index, table = _state(client)
        got = kept.get(index, table, since)
        want = analytics.best_scores(index, table, verified_since=since)
        pd.testing.assert_series_equal(got, want, rtol=1e-9)
        return got

    first = check()
    index, table = _state(client)
    results, _ = batch_match_frame(index, table, k=1, verified_since=since)
    # The listing giving the best score of the most needs: let, so those needs lose it.
    top = int(results["listing_id"].value_counts().idxmax())
    losing = results.loc[results["listing_id"] == top, "need_id"].to_numpy()
    assert len(losing) >= 2
    r = client.post(
        f"/premises/{top}/status",
        headers={**headers, "If-Match": _etag(client, headers, top)},
        json={"status": "let"},
    )
    assert r.status_code == 200, r.text
    after_let = check()
    assert (after_let[losing] < first[losing]).any()  # they were matched again, lower
    assert kept.full_runs == 1 and kept.partial_runs == 1

    # Another listing grows; a new one fits the largest need.
    other = int(results["listing_id"].iloc[-1])
    assert other != top
    grown = float(client.get(f"/premises/{other}", headers=headers).json()["surface_m2"]) * 1.5
    r = client.patch(
        f"/premises/{other}",
        headers={**headers, "If-Match": _etag(client, headers, other)},
        json={"surface_m2": grown},
    )
    assert r.status_code == 200, r.text
    check()
    biggest = max(table.needs, key=lambda n: n.surface_max_m2)
    hall = app.state.territory.layer("communes").properties[0]
    r = client.post(
        "/premises",
        headers=headers,
        json={
            "title": "Grand bâtiment des meilleurs scores",
            "kind": "industrial_building",
            "uses": list(biggest.uses) or ["production"],
            "surface_m2": (biggest.surface_min_m2 + biggest.surface_max_m2) / 2,
            "tenure": "both",
            "rent_eur_m2_year": 20,
            "sale_price_eur": 1_000,
            "lon": hall["town_hall_lon"],
            "lat": hall["town_hall_lat"],
        },
    )
    assert r.status_code == 201, r.text
    check()

    # Needs written: one edited, one added; the others keep their scores.
    repo = app.state.repo
    need = repo.get_need(int(table.ids[0]))
    edited = NeedIn(**{**need.model_dump(include=set(NeedIn.model_fields)), "surface_max_m2":
                       need.surface_max_m2 * 2})  # fmt: skip
    repo.update_need(need.id, edited, expected_version=need.version, actor="test")
    repo.add_need(
        NeedIn(company_name="Nouvelle demande", surface_min_m2=200, surface_max_m2=600),
        actor="test",
    )
    check()
    assert kept.full_runs == 1 and kept.partial_runs == 4


def test_too_many_changed_listings_match_every_need_again(client: TestClient) -> None:
    index, table = _state(client)
    since = hide_before(client.app.state.clock(), client.app.state.settings.freshness)  # type: ignore[attr-defined]
    kept = BestScores()
    kept.max_changed = 0
    kept.get(index, table, since)
    changed = index.copy()
    pos = int(np.flatnonzero(index.cols["status"] == 0)[0])
    row = index.record(pos)
    changed.update(int(row["id"]), {**_catalogue_row(client, int(row["id"])), "surface_m2": 9.0})
    assert changed_listings(index, changed).tolist() == [int(row["id"])]
    got = kept.get(changed, table, since)
    assert kept.full_runs == 2 and kept.partial_runs == 0
    pd.testing.assert_series_equal(
        got, analytics.best_scores(changed, table, verified_since=since), rtol=1e-9
    )


def _catalogue_row(client: TestClient, listing: int) -> dict[str, Any]:
    item = client.app.state.repo.get_premises(listing)  # type: ignore[attr-defined]
    return dict(item.model_dump())


@pytest.mark.parametrize("moved", [False, True])
def test_changed_listings_are_found_whatever_the_order_of_the_rows(
    client: TestClient, moved: bool
) -> None:
    index, _ = _state(client)
    new = index.copy()
    ids = index.cols["id"][:2].tolist()
    for listing in ids:
        row = _catalogue_row(client, listing)
        if moved:  # far enough to move the row in the grid once the index is re-sorted
            row["lon"], row["lat"] = row["lon"] + 0.05, row["lat"] + 0.03
        else:
            row["title"] = "Titre changé"
        new.update(listing, row)
    if moved:
        new._reindex()  # a compaction: rows in another order
        assert not np.array_equal(new.cols["id"], index.cols["id"])
    assert sorted(changed_listings(index, new).tolist()) == sorted(ids)
    assert changed_listings(index, index.copy()).tolist() == []
