"""Demand analytics over HTTP: who sees what, and figures that agree with the engine.

The app runs on a real SQLite file with the demo catalogue (360 listings, 180 needs).
Staff get the detail (need ids); developers the aggregates: no need id, no company, counts
of 1 to 4 needs suppressed; companies get a 403 and anonymous callers a 401.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.auth import issue_key
from api.freshness import hide_before
from api.main import create_app
from api.routes.analytics import SMALL_COUNT, Balance, Hotspots, TimeToLet, Unmet, Wanted
from geodata.storage import Repository, accounts
from geodata.storage import needs as needs_store
from matcher import match
from tests.api.conftest import backend_url, empty_settings, make_settings
from tests.conftest import BACKENDS

ROUTES = {
    "/analytics/hotspots": Hotspots,
    "/analytics/unmet": Unmet,
    "/analytics/balance": Balance,
    "/analytics/wanted": Wanted,
    "/analytics/time-to-let": TimeToLet,
}
NAMES = {"staff": "eco-gosb", "developer": "sci-orly", "company": "pme-alpha"}


@dataclass
class World:
    client: TestClient
    repo: Repository
    keys: dict[str, str]

    def get(self, who: str, path: str, **params: Any) -> Any:
        headers = {} if who == "anonymous" else {"Authorization": f"Bearer {self.keys[who]}"}
        return self.client.get(path, params=params, headers=headers)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db: Path = tmp_path_factory.mktemp("analytics") / "implanter.db"
    with TestClient(create_app(make_settings(db))) as client:
        repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
        keys = {}
        with repo.begin() as conn:
            for role, name in NAMES.items():
                account = accounts.create_account(
                    conn, name=name, email=f"{name}@exemple.invalid", role=role
                )
                keys[role] = issue_key(conn, account.id).key
        yield World(client, repo, keys)


@pytest.mark.parametrize("path", list(ROUTES))
def test_role_matrix(world: World, path: str) -> None:
    assert world.get("anonymous", path).status_code == 401
    refused = world.get("company", path)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"].startswith("analytics : seuls les comptes staff")
    assert world.get("company", path, lang="en").json()["detail"].startswith("analytics: only")
    for who in ("developer", "staff"):
        response = world.get(who, path)
        assert response.status_code == 200, response.text
        ROUTES[path].model_validate(response.json())


def _all_counts(body: Any, key: str) -> list[Any]:
    """Every value of ``key`` anywhere in a JSON body."""
    out = []
    if isinstance(body, dict):
        for k, v in body.items():
            if k == key:
                out.append(v)
            out.extend(_all_counts(v, key))
    elif isinstance(body, list):
        for v in body:
            out.extend(_all_counts(v, key))
    return out


def test_developers_get_aggregates_without_personal_data(world: World) -> None:
    with world.repo.connect() as conn:
        companies = {n.company_name for n in needs_store.all_needs(conn, active=None)}
        emails = {n.contact_email for n in needs_store.all_needs(conn, active=None)} - {None}
    assert len(companies) > 100
    params = {"/analytics/hotspots": {"min_needs": 2}, "/analytics/wanted": {"min_needs": 1}}
    for path in ROUTES:
        body = world.get("developer", path, **params.get(path, {})).json()
        text = json.dumps(body, ensure_ascii=False)
        assert not any(name in text for name in companies), path
        assert not any(email in text for email in emails), path
        assert all(v is None for v in _all_counts(body, "need_ids")), path
        assert all(v is None for v in _all_counts(body, "unmet_ids")), path
        for key in ("n_needs", "n_unmet", "needs_building", "needs_land", "n_active_needs"):
            counts = [v for v in _all_counts(body, key) if v is not None]
            assert all(v == 0 or v >= SMALL_COUNT for v in counts), (path, key)
    hot = world.get("developer", "/analytics/hotspots", min_needs=2).json()
    assert hot["min_needs"] == SMALL_COUNT and hot["detail"] is False
    unmet = world.get("developer", "/analytics/unmet").json()
    assert any(g["suppressed"] for g in unmet["groups"])  # the demo has small groups


def test_staff_get_the_need_ids_behind_every_figure(world: World) -> None:
    with world.repo.connect() as conn:
        active = {n.id for n in needs_store.all_needs(conn, active=True)}
    hot = world.get("staff", "/analytics/hotspots").json()
    assert hot["detail"] is True and hot["hotspots"]
    for spot in hot["hotspots"]:
        assert len(spot["need_ids"]) == spot["n_needs"] >= 5
        assert set(spot["need_ids"]) <= active
    assert [s["n_needs"] for s in hot["hotspots"]] == sorted(
        (s["n_needs"] for s in hot["hotspots"]), reverse=True
    )
    wanted = world.get("staff", "/analytics/wanted", limit=50).json()
    for band in wanted["bands"]:
        assert len(band["need_ids"]) == band["n_needs"]
    unmet = world.get("staff", "/analytics/unmet", by="use").json()
    for group in unmet["groups"]:
        assert len(group["unmet_ids"]) == group["n_unmet"] and not group["suppressed"]


def test_unmet_needs_are_those_whose_own_match_scores_under_the_threshold(world: World) -> None:
    app: Any = world.client.app
    with world.repo.connect() as conn:
        active = needs_store.all_needs(conn, active=True)
        index = app.state.match_index.current(conn)
    since = hide_before(app.state.clock(), app.state.settings.freshness)
    threshold = 60.0
    expected = set()
    for need in active:
        results = match(index, need, k=1, verified_since=since).results
        if not results or results[0].score < threshold:
            expected.add(need.id)
    body = world.get("staff", "/analytics/unmet", by="band", threshold=threshold).json()
    got = {i for g in body["groups"] for i in g["unmet_ids"]}
    assert got == expected
    assert body["n_unmet"] == len(expected)
    assert 0 < len(expected) < len(active)


def test_balance_keeps_building_and_land_apart_and_counts_every_commune(world: World) -> None:
    app: Any = world.client.app
    with world.repo.connect() as conn:
        index = app.state.match_index.current(conn)
    since = hide_before(app.state.clock(), app.state.settings.freshness)
    from matcher.engine import matchable_mask

    ok = matchable_mask(index, verified_since=since)
    land = index.cols["kind"] == 3
    staff = world.get("staff", "/analytics/balance").json()
    developer = world.get("developer", "/analytics/balance").json()
    assert len(staff["communes"]) == 24
    building = sum(c["building_m2"] for c in staff["communes"])
    assert building == pytest.approx(index.cols["surface_m2"][ok & ~land].sum())
    assert sum(c["land_m2"] for c in staff["communes"]) == pytest.approx(
        index.cols["surface_m2"][ok & land].sum()
    )
    # Supply is public: the same for both; demand suppressed for developers where small.
    for s, d in zip(staff["communes"], developer["communes"], strict=True):
        assert (s["building_m2"], s["land_m2"]) == (d["building_m2"], d["land_m2"])
        if 0 < s["needs_building"] < SMALL_COUNT:
            assert d["needs_building"] is None and d["wanted_building_m2"] is None
        else:
            assert d["needs_building"] == s["needs_building"]


def test_texts_are_french_first_and_english_on_request(world: World) -> None:
    fr = world.get("staff", "/analytics/wanted").json()["bands"][0]
    en = world.client.get(
        "/analytics/wanted",
        headers={"Authorization": f"Bearer {world.keys['staff']}", "Accept-Language": "en"},
    ).json()["bands"][0]
    assert " besoin" in fr["text"] and ("offre" in fr["text"])
    assert " active need" in en["text"] and "listing" in en["text"]
    assert fr["n_needs"] == en["n_needs"]
    note = world.get("staff", "/analytics/balance", lang="en").json()["note"]
    assert note.startswith("Buildings (floor area) and land are counted apart")


def test_bad_parameters_name_the_field(world: World) -> None:
    bad = world.get("staff", "/analytics/unmet", by="commune,colour")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "by"
    assert "colour" in bad.json()["detail"]
    for path, params in (
        ("/analytics/unmet", {"threshold": 200}),
        ("/analytics/hotspots", {"method": "kmeans"}),
        ("/analytics/hotspots", {"eps_m": "nan"}),
    ):
        response = world.get("staff", path, **params)
        assert response.status_code == 422, (path, params)
        assert response.json()["errors"][0]["field"].endswith(next(iter(params)))


def test_time_to_let_appears_once_a_listing_is_let(world: World) -> None:
    empty = world.get("staff", "/analytics/time-to-let").json()
    assert empty["groups"] == []
    assert empty["note"].startswith("Aucune annonce")
    listing = world.repo.list_premises().items[0]
    headers = {"Authorization": f"Bearer {world.keys['staff']}", "If-Match": f'"{listing.version}"'}
    response = world.client.post(
        f"/premises/{listing.id}/status", json={"status": "let"}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = world.get("developer", "/analytics/time-to-let").json()
    assert [g["n_let"] for g in body["groups"]] == [1]
    group = body["groups"][0]
    assert group["kind"] == str(listing.kind)
    assert group["median_days"] >= 0
    assert np.isfinite(group["q3_days"])


@pytest.fixture(scope="module", params=BACKENDS)
def bare(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """The app without the demo on each backend, with a staff key."""
    with (
        backend_url(request, tmp_path_factory, "analytics_bare") as url,
        TestClient(create_app(empty_settings(url))) as client,
    ):
        repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
        with repo.begin() as conn:
            account = accounts.create_account(
                conn, name="eco", email="eco@exemple.invalid", role="staff"
            )
            keys = {"staff": issue_key(conn, account.id).key}
        yield World(client, repo, keys)


def test_on_each_backend_a_let_and_a_need_show_in_the_figures(bare: World) -> None:
    headers = {"Authorization": f"Bearer {bare.keys['staff']}"}
    listing = {
        "title": "Atelier",
        "kind": "workshop",
        "uses": ["craft"],
        "surface_m2": 300,
        "tenure": "rent",
        "rent_eur_m2_year": 150,
        "lon": 2.3920,
        "lat": 48.7870,
        "owner_account": "eco",
    }
    created = bare.client.post("/premises", json=listing, headers=headers)
    assert created.status_code == 201, created.text
    item = created.json()
    need = {
        "company_name": "Ébénisterie Test",
        "surface_min_m2": 250,
        "surface_max_m2": 350,
        "uses": ["craft"],
        "communes": ["94081"],
        "max_rent_eur_m2_year": 160,
    }
    assert bare.client.post("/needs", json=need, headers=headers).status_code == 201
    balance = bare.client.get("/analytics/balance", headers=headers).json()
    vitry = {c["commune"]: c for c in balance["communes"]}["94081"]
    assert (vitry["listings_building"], vitry["building_m2"]) == (1, 300)
    assert (vitry["needs_building"], vitry["wanted_building_m2"]) == (1, 300)
    unmet = bare.client.get("/analytics/unmet", headers=headers).json()
    assert unmet["n_unmet"] == 0  # the workshop serves the need well
    let = bare.client.post(
        f"/premises/{item['id']}/status",
        json={"status": "let"},
        headers={**headers, "If-Match": f'"{item["version"]}"'},
    )
    assert let.status_code == 200, let.text
    times = bare.client.get("/analytics/time-to-let", headers=headers).json()["groups"]
    assert [(g["kind"], g["band"], g["n_let"]) for g in times] == [("workshop", "200-400", 1)]
    # Let, the listing leaves the supply and the need is unmet.
    unmet = bare.client.get("/analytics/unmet", headers=headers).json()
    assert unmet["n_unmet"] == 1
