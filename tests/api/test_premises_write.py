"""Listings over HTTP with API keys: who may do what (one table), versions, withdrawal, history.

Every test runs on SQLite and on PostGIS, through the real app with its lifespan entered.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import issue_key
from api.main import create_app
from geodata.schemas import PremisesCreate
from geodata.storage import Repository, accounts
from geodata.territory import default_territory
from tests.api.conftest import backend_url, empty_settings
from tests.conftest import BACKENDS

#: The callers of the matrix; "developer" owns the listing each row acts on.
PRINCIPALS = ("anonymous", "company", "developer", "other_developer", "staff")

#: name of the account of each principal (the developer's is its listings' owner_account).
NAMES = {
    "company": "pme-alpha",
    "developer": "sci-orly",
    "other_developer": "sogaris-bis",
    "staff": "eco-gosb",
}


def _sample(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Atelier de test",
        "kind": "workshop",
        "uses": ["craft"],
        "surface_m2": 450,
        "tenure": "rent",
        "rent_eur_m2_year": 110,
        "lon": 2.3920,
        "lat": 48.7870,
        "contact_name": "Mme Privée",
        "contact_email": "privee@exemple.invalid",
        **extra,
    }


@dataclass
class World:
    """The app on one backend, with one account and key per principal."""

    client: TestClient
    repo: Repository
    keys: dict[str, str]

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        auth = {} if who == "anonymous" else {"Authorization": f"Bearer {self.keys[who]}"}
        return {**auth, **extra}

    def listing(self, owner: str = NAMES["developer"]) -> tuple[int, int]:
        """A fresh listing of ``owner``: its id and version."""
        item = PremisesCreate.model_validate(
            _sample(owner_account=owner), context={"territory": default_territory()}
        )
        stored = self.repo.add_premises(item, actor="fixture")
        return stored.id, stored.version


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with backend_url(request, tmp_path_factory, "writes") as url:
        settings = empty_settings(url)
        with TestClient(create_app(settings)) as client:
            repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
            keys = {}
            with repo.begin() as conn:
                for who, name in NAMES.items():
                    role = "developer" if "developer" in who else who
                    account = accounts.create_account(
                        conn, name=name, email=f"{name}@exemple.invalid", role=role
                    )
                    keys[who] = issue_key(conn, account.id).key
            yield World(client, repo, keys)


# -- the role × route matrix ------------------------------------------------------------------

#: (method, path template, body, sends If-Match) -> status for each of PRINCIPALS.
#: ``{id}`` is a fresh listing owned by "developer"; ``{missing}`` is an id never created.
MATRIX: list[tuple[str, str, dict[str, Any] | None, bool, tuple[int, ...]]] = [
    ("GET", "/premises", None, False, (200, 200, 200, 200, 200)),
    ("GET", "/premises/{id}", None, False, (200, 200, 200, 200, 200)),
    ("GET", "/premises/{missing}", None, False, (404, 404, 404, 404, 404)),
    ("POST", "/premises", _sample(), False, (401, 403, 201, 201, 201)),
    ("PATCH", "/premises/{id}", {"rent_eur_m2_year": 99}, True, (401, 403, 200, 403, 200)),
    ("PATCH", "/premises/{missing}", {"title": "x"}, True, (401, 404, 404, 404, 404)),
    ("POST", "/premises/{id}/status", {"status": "let"}, True, (401, 403, 200, 403, 200)),
    ("DELETE", "/premises/{id}", None, True, (401, 403, 200, 403, 200)),
    ("GET", "/premises/{id}/history", None, False, (401, 403, 200, 403, 200)),
    ("POST", "/premises/{id}/confirm", None, False, (401, 403, 200, 403, 200)),
    ("POST", "/premises/{id}/confirm", None, True, (401, 403, 200, 403, 200)),
    ("POST", "/premises/{missing}/confirm", None, False, (401, 404, 404, 404, 404)),
    ("GET", "/me/reminders", None, False, (401, 403, 200, 200, 200)),
    ("GET", "/staff/stale", None, False, (401, 403, 403, 403, 200)),
    ("GET", "/me", None, False, (401, 200, 200, 200, 200)),
]

CASES = [
    pytest.param(method, path, body, if_match, who, status, id=f"{method} {path} as {who}")
    for method, path, body, if_match, statuses in MATRIX
    for who, status in zip(PRINCIPALS, statuses, strict=True)
]


@pytest.mark.parametrize(("method", "path", "body", "if_match", "who", "expected"), CASES)
def test_role_route_matrix(
    world: World,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    if_match: bool,
    who: str,
    expected: int,
) -> None:
    premises_id, version = world.listing()
    url = path.format(id=premises_id, missing=premises_id + 10_000)
    extra = {"If-Match": f'"{version}"'} if if_match else {}
    response = world.client.request(method, url, json=body, headers=world.headers(who, **extra))
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    if expected == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if expected == 403 and method != "GET":
        # A refused write changed nothing.
        assert world.repo.get_premises(premises_id).version == version
    if method == "GET" and path == "/premises/{id}":
        full = who in ("developer", "staff")
        body_out = response.json()
        assert ("owner_account" in body_out) is full
        assert (body_out["contact_email"] is not None) is full


def test_the_list_shows_the_full_view_of_own_listings_only(world: World) -> None:
    mine, _ = world.listing()
    theirs, _ = world.listing(owner=NAMES["other_developer"])
    params = {"limit": 500}
    for who, full_ids in (
        ("anonymous", set()),
        ("company", set()),
        ("developer", {mine}),
        ("staff", {mine, theirs}),
    ):
        items = world.client.get("/premises", params=params, headers=world.headers(who)).json()
        by_id = {i["id"]: i for i in items["items"]}
        for pid in (mine, theirs):
            assert ("owner_account" in by_id[pid]) is (pid in full_ids), (who, pid)
            assert (by_id[pid]["contact_name"] is not None) is (pid in full_ids), (who, pid)


# -- writes -----------------------------------------------------------------------------------


def test_a_developer_creates_edits_and_withdraws_its_listing(world: World) -> None:
    client = world.client
    created = client.post(
        "/premises", json=_sample(title="Local neuf"), headers=world.headers("developer")
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["owner_account"] == NAMES["developer"]
    assert body["commune_insee"] == "94081"  # derived from the point, against the territory
    assert created.headers["Location"] == f"/premises/{body['id']}"
    etag = created.headers["ETag"]
    assert etag == '"1"'

    edited = client.patch(
        f"/premises/{body['id']}",
        json={"rent_eur_m2_year": 95, "status": "under_offer"},
        headers=world.headers("developer", **{"If-Match": etag}),
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["rent_eur_m2_year"] == 95
    assert edited.headers["ETag"] == '"2"'

    gone = client.delete(
        f"/premises/{body['id']}", headers=world.headers("developer", **{"If-Match": '"2"'})
    )
    assert gone.status_code == 200, gone.text
    assert gone.json()["status"] == "withdrawn"
    # Withdrawn, not erased: still readable, with its whole history.
    assert client.get(f"/premises/{body['id']}").json()["status"] == "withdrawn"
    history = client.get(
        f"/premises/{body['id']}/history", headers=world.headers("developer")
    ).json()
    assert [e["action"] for e in history] == ["create", "update", "status"]
    assert {e["actor"] for e in history} == {NAMES["developer"]}
    assert history[1]["changes"]["rent_eur_m2_year"] == [110.0, 95.0]
    assert history[2]["changes"]["status"] == ["under_offer", "withdrawn"]
    assert all(e["at"] for e in history)
    assert [e["version"] for e in history] == [1, 2, 3]


def test_status_change_records_who_and_when(world: World) -> None:
    premises_id, version = world.listing()
    response = world.client.post(
        f"/premises/{premises_id}/status",
        json={"status": "sold"},
        headers=world.headers("staff", **{"If-Match": f'"{version}"'}),
    )
    assert response.status_code == 200, response.text
    last = world.repo.audit_trail("premises", premises_id)[-1]
    assert (last.action, last.actor, last.changes["status"]) == (
        "status",
        NAMES["staff"],
        ["available", "sold"],
    )
    # A status change by the staff (or the owner) confirms the listing too.
    assert set(last.changes) == {"status", "last_verified_at"}
    bad = world.client.post(
        f"/premises/{premises_id}/status",
        json={"status": "vendu"},
        headers=world.headers("staff", **{"If-Match": f'"{version + 1}"'}),
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "status"


def test_a_developer_may_not_give_a_listing_to_someone_else(world: World) -> None:
    response = world.client.post(
        "/premises",
        json=_sample(owner_account=NAMES["other_developer"]),
        headers=world.headers("developer"),
    )
    assert response.status_code == 403
    # French by default, English on request; both name the field first.
    assert response.json()["detail"].startswith("owner_account : un compte développeur")
    assert response.json()["errors"][0]["field"] == "owner_account"
    english = world.client.post(
        "/premises?lang=en",
        json=_sample(owner_account=NAMES["other_developer"]),
        headers=world.headers("developer"),
    )
    assert english.json()["detail"].startswith("owner_account: a developer account")
    premises_id, version = world.listing()
    moved = world.client.patch(
        f"/premises/{premises_id}",
        json={"owner_account": NAMES["other_developer"]},
        headers=world.headers("developer", **{"If-Match": f'"{version}"'}),
    )
    assert moved.status_code == 403
    assert world.repo.get_premises(premises_id).owner_account == NAMES["developer"]
    # The staff may hand a listing to any owner.
    handed = world.client.patch(
        f"/premises/{premises_id}",
        json={"owner_account": NAMES["other_developer"]},
        headers=world.headers("staff", **{"If-Match": f'"{version}"'}),
    )
    assert handed.status_code == 200
    assert handed.json()["owner_account"] == NAMES["other_developer"]


def test_if_match_missing_is_428_and_stale_is_412(world: World) -> None:
    premises_id, version = world.listing()
    url = f"/premises/{premises_id}"
    missing = world.client.patch(url, json={"title": "x"}, headers=world.headers("developer"))
    assert missing.status_code == 428
    assert missing.json()["detail"].startswith("If-Match : en-tête obligatoire")
    assert missing.json()["errors"][0]["field"] == "If-Match"
    garbled = world.client.patch(
        url,
        json={"title": "x"},
        headers=world.headers("developer", **{"If-Match": "abc", "Accept-Language": "en"}),
    )
    assert garbled.status_code == 400
    assert garbled.json()["detail"].startswith("If-Match: ")
    stale = world.client.patch(
        url,
        json={"title": "x"},
        headers=world.headers("developer", **{"If-Match": f'"{version + 5}"'}),
    )
    assert stale.status_code == 412
    for method in ("DELETE", "POST"):
        path = url if method == "DELETE" else f"{url}/status"
        body = None if method == "DELETE" else {"status": "let"}
        r = world.client.request(method, path, json=body, headers=world.headers("developer"))
        assert r.status_code == 428, (method, r.text)
    assert world.repo.get_premises(premises_id).version == version


def test_two_patches_on_the_same_version_one_wins_one_is_412_nothing_lost(world: World) -> None:
    premises_id, version = world.listing()
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}

    def edit(who: str, changes: dict[str, Any]) -> None:
        barrier.wait()
        results[who] = world.client.patch(
            f"/premises/{premises_id}",
            json=changes,
            headers=world.headers(who, **{"If-Match": f'"{version}"'}),
        )

    threads = [
        threading.Thread(target=edit, args=("developer", {"rent_eur_m2_year": 80})),
        threading.Thread(target=edit, args=("staff", {"title": "Repris par le service"})),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    statuses = sorted(r.status_code for r in results.values())
    assert statuses == [200, 412], {k: r.text for k, r in results.items()}
    winner = next(who for who, r in results.items() if r.status_code == 200)
    loser = next(who for who, r in results.items() if r.status_code == 412)
    stored = world.repo.get_premises(premises_id)
    assert stored.version == version + 1
    # The loser re-reads, re-applies and saves: both changes are kept.
    current = world.client.get(f"/premises/{premises_id}", headers=world.headers(loser))
    retry_changes = {"developer": {"rent_eur_m2_year": 80}, "staff": {"title": "Repris"}}[loser]
    retry = world.client.patch(
        f"/premises/{premises_id}",
        json=retry_changes,
        headers=world.headers(loser, **{"If-Match": current.headers["ETag"]}),
    )
    assert retry.status_code == 200, retry.text
    final = world.repo.get_premises(premises_id)
    assert final.rent_eur_m2_year == 80
    assert final.title.startswith("Repris")
    trail = world.repo.audit_trail("premises", premises_id)
    assert [e.actor for e in trail[1:]] == [NAMES[winner], NAMES[loser]]


def test_invalid_writes_name_the_field(world: World) -> None:
    headers = world.headers("developer")
    outside = world.client.post("/premises", json=_sample(lon=5.0, lat=45.0), headers=headers)
    assert outside.status_code == 422
    assert "lon, lat" in outside.text
    negative = world.client.post("/premises", json=_sample(surface_m2=-3), headers=headers)
    assert negative.status_code == 422
    assert negative.json()["errors"][0]["field"] == "surface_m2"
    premises_id, version = world.listing()
    bad_patch = world.client.patch(
        f"/premises/{premises_id}",
        json={"tenure": "sale"},  # a rent on a sale-only listing
        headers=world.headers("developer", **{"If-Match": f'"{version}"'}),
    )
    assert bad_patch.status_code == 422
    assert "rent_eur_m2_year" in bad_patch.text
    assert world.repo.get_premises(premises_id).version == version


# -- keys ------------------------------------------------------------------------------------


def test_bad_revoked_and_disabled_keys_are_401(world: World) -> None:
    client = world.client
    premises_id, _ = world.listing()
    for header in ("Bearer imp_not-a-key", "Basic dXNlcjpwYXNz", "Bearer "):
        r = client.get(f"/premises/{premises_id}", headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.headers["WWW-Authenticate"].startswith("Bearer")
        assert "imp_not-a-key" not in r.text
    with world.repo.begin() as conn:
        account = accounts.create_account(
            conn, name="ephemere", email="ephemere@exemple.invalid", role="developer"
        )
        first = issue_key(conn, account.id)
        second = issue_key(conn, account.id)
    me = client.get("/me", headers={"Authorization": f"Bearer {first.key}"})
    assert me.status_code == 200
    assert me.json()["account"]["name"] == "ephemere"
    assert first.key not in me.text and "key_hash" not in me.text
    assert [k["last_used_at"] is not None for k in me.json()["keys"]] == [True, False]
    with world.repo.begin() as conn:
        accounts.revoke_api_key(conn, first.id)
    assert client.get("/me", headers={"Authorization": f"Bearer {first.key}"}).status_code == 401
    assert client.get("/me", headers={"Authorization": f"Bearer {second.key}"}).status_code == 200
    with world.repo.begin() as conn:
        accounts.set_disabled(conn, "ephemere")
    assert client.get("/me", headers={"Authorization": f"Bearer {second.key}"}).status_code == 401


def test_the_write_routes_are_documented(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    patch = paths["/premises/{premises_id}"]["patch"]
    assert {"401", "403", "412", "428"} <= set(patch["responses"])
    assert any(p["name"] == "if-match" for p in patch["parameters"])
    assert "post" in paths["/premises"] and "delete" in paths["/premises/{premises_id}"]
    assert "/premises/{premises_id}/history" in paths and "/me" in paths


def test_last_use_is_recorded_once_a_minute_and_keys_never_reach_the_logs(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with world.repo.begin() as conn:
        account = accounts.create_account(
            conn, name="horloge", email="horloge@exemple.invalid", role="company"
        )
        issued = issue_key(conn, account.id)
    caplog.set_level(logging.DEBUG)
    auth = {"Authorization": f"Bearer {issued.key}"}
    first = world.client.get("/me", headers=auth).json()["keys"][0]["last_used_at"]
    assert first is not None
    assert world.client.get("/me", headers=auth).json()["keys"][0]["last_used_at"] == first
    with world.repo.begin() as conn:  # as if the last use were two minutes ago
        accounts.touch_api_key(conn, issued.id, datetime.now(UTC) - timedelta(minutes=2))
    later = world.client.get("/me", headers=auth).json()["keys"][0]["last_used_at"]
    assert later > first
    bad = world.client.get("/me", headers={"Authorization": f"Bearer {issued.key}x"})
    assert bad.status_code == 401
    assert issued.key not in caplog.text and issued.key not in bad.text
