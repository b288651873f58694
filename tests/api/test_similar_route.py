"""GET /premises/{id}/similar: public, available listings only, stale ones hidden."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.auth import issue_key
from api.main import create_app
from api.routes.similar import SimilarResponse
from geodata.schemas import PremisesCreate
from geodata.storage import Repository, accounts
from geodata.territory import default_territory
from tests.api.conftest import backend_url, empty_settings
from tests.conftest import BACKENDS

OWNER = "sci-orly"
BASE = {
    "title": "Atelier à Vitry",
    "kind": "workshop",
    "uses": ["production", "craft"],
    "surface_m2": 450,
    "tenure": "rent",
    "rent_eur_m2_year": 110,
    "ceiling_height_m": 6.0,
    "lon": 2.3920,
    "lat": 48.7870,
    "owner_account": OWNER,
}


@dataclass
class World:
    client: TestClient
    repo: Repository
    ids: dict[str, int]
    key: str


def _add(repo: Repository, **extra: Any) -> int:
    item = PremisesCreate.model_validate(
        {**BASE, **extra}, context={"territory": default_territory()}
    )
    return repo.add_premises(item, actor="fixture").id


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with (
        backend_url(request, tmp_path_factory, "similar") as url,
        TestClient(create_app(empty_settings(url))) as client,
    ):
        repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
        now = datetime.now(UTC)
        fresh = {"last_verified_at": now}
        ids = {
            "base": _add(repo, **fresh),
            "twin": _add(repo, surface_m2=495, lat=48.7870 + 150 / 111_000, **fresh),
            "let": _add(repo, status="let", **fresh),
            "withdrawn": _add(repo, status="withdrawn", **fresh),
            "stale": _add(repo, last_verified_at=now - timedelta(days=120)),
        }
        rng = np.random.default_rng(5)
        lon, lat = rng.uniform(2.33, 2.42, 200), rng.uniform(48.72, 48.80, 200)
        inside = default_territory().contains(lon, lat)
        lon, lat = lon[inside], lat[inside]
        kinds = ["warehouse", "workshop", "land", "lab", "industrial_building"]
        for k in range(30):
            _add(
                repo,
                title=f"Autre {k}",
                kind=kinds[k % len(kinds)],
                uses=[],
                surface_m2=float(rng.choice([150, 900, 3000, 12000])),
                rent_eur_m2_year=float(rng.integers(60, 170)),
                lon=float(lon[k]),
                lat=float(lat[k]),
                **fresh,
            )
        with repo.begin() as conn:
            account = accounts.create_account(
                conn, name=OWNER, email="sci@exemple.invalid", role="developer"
            )
            key = issue_key(conn, account.id).key
        yield World(client, repo, ids, key)


def test_the_near_twin_first_and_only_public_available_listings(world: World) -> None:
    response = world.client.get(f"/premises/{world.ids['base']}/similar", params={"k": 10})
    assert response.status_code == 200, response.text
    body = SimilarResponse.model_validate(response.json())
    got = [r.premises.id for r in body.results]
    assert got[0] == world.ids["twin"]
    assert len(got) == 10 and world.ids["base"] not in got
    for name in ("let", "withdrawn", "stale"):
        assert world.ids[name] not in got, name
    assert all(r.premises.status == "available" for r in body.results)
    assert "owner_account" not in response.json()["results"][0]["premises"]
    first = body.results[0]
    assert first.distance_m == pytest.approx(150, abs=5)
    assert any(r.text.startswith("Même type") for r in first.reasons)
    sims = [r.similarity for r in body.results]
    assert sims == sorted(sims, reverse=True)
    en = world.client.get(
        f"/premises/{world.ids['base']}/similar", headers={"Accept-Language": "en"}
    ).json()
    assert en["lang"] == "en"
    assert any(r["text"].startswith("Same kind") for r in en["results"][0]["reasons"])


def test_a_stale_twin_comes_back_once_confirmed(world: World) -> None:
    stale = world.ids["stale"]
    version = world.repo.get_premises(stale).version
    confirmed = world.client.post(
        f"/premises/{stale}/confirm",
        headers={"Authorization": f"Bearer {world.key}", "If-Match": f'"{version}"'},
    )
    assert confirmed.status_code == 200, confirmed.text
    got = world.client.get(f"/premises/{world.ids['base']}/similar", params={"k": 3}).json()
    # Identical to the base listing at the same place: now the most alike.
    assert got["results"][0]["premises"]["id"] == stale


def test_a_let_listing_has_similar_available_ones(world: World) -> None:
    got = world.client.get(f"/premises/{world.ids['let']}/similar", params={"k": 2}).json()
    ids = [r["premises"]["id"] for r in got["results"]]
    assert world.ids["base"] in ids and world.ids["let"] not in ids


def test_bad_requests_name_the_field(world: World) -> None:
    missing = world.client.get("/premises/999999/similar")
    assert missing.status_code == 404
    for params in ({"k": 0}, {"k": 51}, {"k": "x"}):
        bad = world.client.get(f"/premises/{world.ids['base']}/similar", params=params)
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"].endswith("k")
