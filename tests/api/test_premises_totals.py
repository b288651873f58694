"""What ``GET /premises`` computes once is never stale: the total of a search (counted once
per catalogue version and search) changes with a write through any path, the day moving the
freshness bound and the reader's own listings, exactly as a fresh ``COUNT(*)`` would; the
public JSON of a listing (built once per version) is the one ``GET /premises/{id}`` gives.

Runs on SQLite and on PostGIS, through the real app with its lifespan entered.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from unittest.mock import ANY

import pytest
from fastapi.testclient import TestClient

from api.auth import issue_key
from api.json_response import FastJSONResponse
from api.listing_cache import PublicJsonCache, TotalCache
from api.main import create_app
from geodata.schemas import PremisesCreate
from geodata.storage import PremisesQuery, Repository, accounts
from geodata.storage import premises as store
from geodata.territory import default_territory
from tests.api.conftest import backend_url, empty_settings
from tests.conftest import BACKENDS

START = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)


@dataclass
class World:
    client: TestClient
    repo: Repository
    clock: list[datetime]
    developer_key: str

    def add(self, *, owner: str | None = None, verified: datetime | None = None) -> Any:
        item = PremisesCreate.model_validate(
            {
                "title": "Atelier compté",
                "kind": "workshop",
                "uses": ["craft"],
                "surface_m2": 450,
                "tenure": "rent",
                "rent_eur_m2_year": 110,
                "lon": 2.3920,
                "lat": 48.7870,
                "owner_account": owner,
                "last_verified_at": verified or self.clock[0],
            },
            context={"territory": default_territory()},
        )
        return self.repo.add_premises(item, actor="fixture")

    def total(self, headers: dict[str, str] | None = None, **params: Any) -> int:
        response = self.client.get("/premises", params={"limit": 1, **params}, headers=headers)
        assert response.status_code == 200, response.text
        return int(response.json()["total"])

    def counted(self, **filters: Any) -> int:
        """What a fresh COUNT(*) of the public search says."""
        return self.repo.count_premises(
            PremisesQuery(visible_since=self.clock[0] - timedelta(days=91), **filters)
        )


@pytest.fixture(params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    clock = [START]
    with backend_url(request, tmp_path_factory, "totals") as url:
        app = create_app(empty_settings(url), clock=lambda: clock[0])
        with TestClient(app) as client:
            repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
            with repo.begin() as conn:
                account = accounts.create_account(
                    conn, name="sci-compte", email="sci@exemple.invalid", role="developer"
                )
                key = issue_key(conn, account.id).key
            yield World(client, repo, clock, key)


def test_the_total_follows_every_write(world: World) -> None:
    for _ in range(3):
        world.add()
    assert world.total() == world.total(offset=1) == 3
    assert world.total(use="craft") == 3
    assert world.total(use="logistics") == 0

    # Written outside the route (as an import or another worker would): a new version.
    added = world.add()
    assert world.total() == world.total(use="craft") == 4
    world.repo.set_status(added.id, "withdrawn", expected_version=added.version, actor="t")
    assert world.total() == 3
    assert world.total() == world.counted()


def test_the_total_moves_with_the_day_and_the_reader(world: World) -> None:
    world.add()
    world.add(verified=START - timedelta(days=80))
    world.add(owner="sci-compte", verified=START - timedelta(days=80))
    mine = {"Authorization": f"Bearer {world.developer_key}"}
    assert world.total() == 3
    assert world.total(mine) == 3

    # Twenty days later, without any write: two listings are past the 90 days.
    world.clock[0] = START + timedelta(days=20)
    assert world.total() == world.counted() == 1
    # Its owner still reads its own stale listing; nobody else's count changed with it.
    assert world.total(mine) == 2
    assert world.total() == 1


def test_the_listings_public_json_follows_their_edits(world: World) -> None:
    item = world.add()
    world.add(owner="sci-compte")
    mine = {"Authorization": f"Bearer {world.developer_key}"}
    for _ in range(2):  # built, then reused
        page = world.client.get("/premises").json()["items"]
        assert page[0] == world.client.get(f"/premises/{item.id}").json()
        assert "owner_account" not in page[0]
        assert "owner_account" not in page[1]  # another reader's listing: public

    world.repo.patch_premises(
        item.id, {"title": "Atelier renommé"}, expected_version=item.version, actor="t"
    )
    first = world.client.get("/premises").json()["items"][0]
    assert first["title"] == "Atelier renommé"
    assert first == world.client.get(f"/premises/{item.id}").json()
    # Its owner reads its own listing in full, with its freshness, not the public JSON.
    own = world.client.get("/premises", headers=mine).json()["items"][1]
    assert own["owner_account"] == "sci-compte"
    assert "freshness" in own


def test_pages_in_any_order_give_each_listings_current_json(world: World) -> None:
    for surface in (300, 900, 600, 1200):
        item = world.add()
        world.repo.patch_premises(
            item.id, {"surface_m2": surface}, expected_version=item.version, actor="t"
        )
    world.client.get("/premises", params={"limit": 2})  # the first two are cached
    expected = {
        None: [300, 900, 600, 1200],
        "surface": [300, 600, 900, 1200],
        "-surface": [1200, 900, 600, 300],
    }
    for sort, surfaces in expected.items():
        params = {} if sort is None else {"sort": sort}
        page = world.client.get("/premises", params=params).json()["items"]
        assert [i["surface_m2"] for i in page] == surfaces, sort
        for item in page:
            assert item == world.client.get(f"/premises/{item['id']}").json()


def test_the_total_cache_keeps_one_version_and_a_bounded_number_of_searches() -> None:
    cache = TotalCache(size=2)
    a, b, c = (PremisesQuery(use=u) for u in ("craft", "logistics", "repair"))
    cache.put(5, a, 10)
    # The page and the order are not part of the search.
    assert cache.get(5, a.model_copy(update={"offset": 50, "order_by": "-surface_m2"})) == 10
    assert cache.get(6, a) is None
    cache.put(6, b, 7)
    assert cache.get(5, a) is None  # a new version empties it
    cache.put(5, a, 10)  # a late reader of the old version changes nothing
    assert cache.get(6, a) is None
    assert cache.get(6, b) == 7
    cache.put(6, a, 11)
    cache.put(6, c, 12)  # over the size: the least recently used (b) goes
    assert cache.get(6, b) is None
    assert (cache.get(6, a), cache.get(6, c)) == (11, 12)


def test_the_public_json_cache_is_bounded_and_keyed_by_version() -> None:
    cache = PublicJsonCache(size=2)
    built: list[tuple[int, int]] = []

    def build(pid: int, version: int) -> dict[str, Any]:
        built.append((pid, version))
        return {"id": pid, "version": version}

    for pid, version in ((1, 1), (1, 1), (1, 2), (2, 1), (1, 2), (3, 1), (2, 1)):
        assert cache.get_entry(pid, version, lambda p=pid, v=version: build(p, v))[0] == {
            "id": pid,
            "version": version,
        }
    # (1, 1) once; (1, 2) kept while used; (2, 1) evicted by (3, 1), then built again.
    assert built == [(1, 1), (1, 2), (2, 1), (3, 1), (2, 1)]
    assert cache.peek_entry(2, 1)[0] == {"id": 2, "version": 1}  # type: ignore[index]
    assert cache.peek_entry(2, 2) is None
    assert cache.peek_entry(1, 2) is None  # evicted by (2, 1)


def test_the_public_json_cache_keeps_each_listing_encoded_too() -> None:
    cache = PublicJsonCache(size=2)
    built: list[int] = []

    def build(pid: int) -> dict[str, Any]:
        built.append(pid)
        return {"id": pid, "title": "Entrepôt « Rungis »", "rent": math.nan}

    assert cache.peek_encoded([(1, 1), (2, 1)]) == {}
    first = cache.get_entry(1, 1, lambda: build(1))[0]
    encoded = cache.get_encoded(1, 1, lambda: build(1))  # the same entry, not built again
    assert encoded == FastJSONResponse(first).body
    assert cache.get_encoded(2, 1, lambda: build(2)) == FastJSONResponse(build(2)).body
    assert built == [1, 2, 2]
    # Only the listings cached at that version; each one looked at is kept the longest.
    assert cache.peek_encoded([(2, 1), (1, 2), (1, 1)]) == {(1, 1): encoded, (2, 1): ANY}
    cache.get_entry(3, 1, lambda: build(3))
    assert cache.peek_entry(2, 1) is None  # looked at before (1, 1): the least recently used
    assert cache.peek_entry(1, 1)[0] is first  # type: ignore[index]


def test_a_page_is_written_as_its_items_json_would_be(world: World) -> None:
    world.add()
    world.add(owner="sci-compte")
    world.add(verified=START - timedelta(days=80))
    with world.repo.begin() as conn:
        staff = accounts.create_account(
            conn, name="equipe", email="equipe@exemple.invalid", role="staff"
        )
        staff_key = issue_key(conn, staff.id).key
    readers = {
        "anonymous": {},
        "owner": {"Authorization": f"Bearer {world.developer_key}"},
        "staff": {"Authorization": f"Bearer {staff_key}"},
    }
    for _ in range(2):  # the public JSON built, then reused
        for reader, headers in readers.items():
            for params in ({}, {"limit": 2, "offset": 1, "sort": "-freshness"}):
                response = world.client.get("/premises", params=params, headers=headers)
                assert response.status_code == 200, response.text
                page = response.json()
                assert response.content == FastJSONResponse(page).body, reader
                assert response.headers["content-type"] == "application/json"
                assert int(response.headers["content-length"]) == len(response.content)
                full = [i for i in page["items"] if "freshness" in i]
                assert (
                    len(full) == {"anonymous": 0, "owner": 1, "staff": len(page["items"])}[reader]
                )


def test_reads_by_ids_leave_out_ids_not_stored(world: World) -> None:
    a, b = world.add(), world.add()
    world.repo.patch_premises(b.id, {"title": "Autre"}, expected_version=b.version, actor="t")
    ids = [b.id, a.id, 999_999, a.id]
    with world.repo.connect() as conn:
        rows = store.rows_by_ids(conn, ids)
        assert set(rows) == {a.id, b.id}
        assert rows[b.id]["title"] == "Autre"
        assert store.rows_by_ids(conn, []) == {}
