"""Saved-search alerts over HTTP: which listing writes notify whom, and the signed webhooks.

Every test runs on SQLite and on PostGIS, through the real app with its lifespan entered;
webhooks are received by a real HTTP server on a loopback port. The clock of the delivery
back-off is moved by passing ``now`` to :func:`api.delivery.deliver_due`, never by waiting.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.alerts import notify_listing_write
from api.auth import issue_key
from api.delivery import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    DeliveryError,
    deliver_due,
    post_webhook,
    verify,
)
from api.main import create_app
from api.settings import DeliverySettings, Settings
from geodata.schemas import Need, NeedIn, PremisesCreate
from geodata.storage import Repository, accounts, models, needs, outbox
from geodata.storage import premises as premises_store
from geodata.storage._common import now as utc_now
from geodata.territory import default_territory
from matcher.weights import CRITERIA
from tests.api.conftest import backend_url, empty_settings
from tests.api.webhook_receiver import webhook_receiver
from tests.conftest import BACKENDS

NAMES = {
    "company": "pme-alpha",
    "other_company": "pme-beta",
    "developer": "sci-orly",
    "staff": "eco-gosb",
}

#: Between two tests' surfaces (which double each time): fits neither test's need.
MISS = 1.41


def _listing(surface: float, **extra: Any) -> dict[str, Any]:
    return {
        "title": "Atelier à Vitry",
        "kind": "workshop",
        "uses": ["craft"],
        "surface_m2": surface,
        "tenure": "rent",
        "rent_eur_m2_year": 110,
        "lon": 2.3920,
        "lat": 48.7870,
        "contact_name": "Mme Privée",
        "contact_email": "privee@exemple.invalid",
        **extra,
    }


#: Delivery settings for the receivers of these tests, which listen on loopback.
LOOPBACK = DeliverySettings(allow_private_networks=True)


@dataclass
class World:
    """The app on one backend, with one account and key per principal."""

    client: TestClient
    repo: Repository
    keys: dict[str, str]
    sizes: Iterator[int] = field(default_factory=lambda: (1000 * 2**k for k in itertools.count()))

    def surface(self) -> float:
        """A surface of its own for each test, so that no listing fits another test's need."""
        return float(next(self.sizes))

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.keys[who]}", **extra}

    def need(self, surface: float, *, owner: str | None = NAMES["company"], **extra: Any) -> Need:
        """A saved need that a listing of ``surface`` m² (as :func:`_listing`) fits at 100."""
        item = NeedIn(
            company_name="PME Alpha",
            owner_account=owner,
            surface_min_m2=surface - 50,
            surface_max_m2=surface + 50,
            uses=["craft"],
            max_rent_eur_m2_year=150,
            **extra,
        )
        with self.repo.begin() as conn:
            return needs.add_many_needs(conn, [item], actor="fixture")[0]

    def create(self, surface: float, **extra: Any) -> dict[str, Any]:
        response = self.client.post(
            "/premises", json=_listing(surface, **extra), headers=self.headers("developer")
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def patch(self, listing: dict[str, Any], **changes: Any) -> dict[str, Any]:
        response = self.client.patch(
            f"/premises/{listing['id']}",
            json=changes,
            headers=self.headers("developer", **{"If-Match": f'"{listing["version"]}"'}),
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def set_status(self, listing: dict[str, Any], status: str) -> dict[str, Any]:
        response = self.client.post(
            f"/premises/{listing['id']}/status",
            json={"status": status},
            headers=self.headers("developer", **{"If-Match": f'"{listing["version"]}"'}),
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def notes(self, need: Need, who: str = "company") -> list[dict[str, Any]]:
        """The caller's notifications about ``need``, newest first."""
        response = self.client.get(
            "/me/notifications", params={"limit": 500}, headers=self.headers(who)
        )
        assert response.status_code == 200, response.text
        return [n for n in response.json()["items"] if n["need_id"] == need.id]


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with backend_url(request, tmp_path_factory, "alerts") as url:
        settings = empty_settings(url)
        settings.delivery.in_app = False  # the tests deliver, with a clock they move
        settings.delivery.allow_private_networks = True  # the receivers listen on loopback
        with TestClient(create_app(settings)) as client:
            repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
            keys = {}
            with repo.begin() as conn:
                for who, name in NAMES.items():
                    role = "company" if "company" in who else who
                    account = accounts.create_account(
                        conn, name=name, email=f"{name}@exemple.invalid", role=role
                    )
                    keys[who] = issue_key(conn, account.id).key
            yield World(client, repo, keys)


@pytest.fixture
def hooked(world: World) -> Iterator[Any]:
    """A receiver set as the company's webhook for one test (removed after it)."""
    with webhook_receiver() as receiver:
        response = world.client.put(
            "/me/webhook", json={"url": receiver.url}, headers=world.headers("company")
        )
        assert response.status_code == 200, response.text
        receiver.secret = response.json()["secret"]  # type: ignore[attr-defined]
        try:
            yield receiver
        finally:
            world.client.delete("/me/webhook", headers=world.headers("company"))


# -- what triggers a notification -------------------------------------------------------------


def test_a_listing_that_newly_fits_notifies_the_owner_once(world: World) -> None:
    surface = world.surface()
    need = world.need(surface)
    unowned = world.need(surface, owner=None)
    picky = world.need(surface, alert_threshold=100, max_station_distance_m=1)
    listing = world.create(surface)

    [note] = world.notes(need)
    assert (note["kind"], note["premises_id"], note["premises_version"]) == (
        "match",
        listing["id"],
        1,
    )
    assert note["score"] >= need.alert_threshold
    assert note["delivery"]["state"] == "none"  # no webhook set
    # The owner gets the public view of the listing: no owner, no unpublished contact.
    public = note["payload"]["premises"]
    assert "owner_account" not in public and public["contact_email"] is None
    assert "Atelier à Vitry" in note["payload"]["text"]["fr"]
    assert world.notes(unowned, "staff") == [] and world.notes(picky) == []

    # An edit that keeps it fitting notifies no one again.
    listing = world.patch(listing, rent_eur_m2_year=100)
    assert len(world.notes(need)) == 1
    # An edit that makes it miss the need: nothing; one that makes it fit again: a new one.
    listing = world.patch(listing, surface_m2=surface * MISS)
    assert len(world.notes(need)) == 1
    listing = world.patch(listing, surface_m2=surface)
    assert [n["premises_version"] for n in world.notes(need)] == [4, 1]
    # Let, then available again: fits again after a time out of matching.
    listing = world.set_status(listing, "let")
    assert len(world.notes(need)) == 2
    listing = world.set_status(listing, "available")
    assert [n["premises_version"] for n in world.notes(need)] == [6, 4, 1]


def test_a_listing_that_does_not_fit_notifies_no_one(world: World) -> None:
    surface = world.surface()
    need = world.need(surface)
    world.create(surface * MISS)
    world.create(surface, uses=["logistics"], kind="warehouse")
    world.create(surface, rent_eur_m2_year=400)
    world.create(surface, status="let")
    assert world.notes(need) == []


def test_a_refused_write_leaves_no_notification(world: World) -> None:
    surface = world.surface()
    need = world.need(surface)
    listing = world.create(surface * MISS)
    stale = world.client.patch(
        f"/premises/{listing['id']}",
        json={"surface_m2": surface},
        headers=world.headers("developer", **{"If-Match": '"7"'}),
    )
    assert stale.status_code == 412
    assert world.notes(need) == []

    # The notification is written on the listing's connection: a transaction that fails
    # after both were written leaves neither.
    item = PremisesCreate.model_validate(
        _listing(surface), context={"territory": default_territory()}
    )
    reference = world.client.app.state.match_index.snapshot  # type: ignore[attr-defined]
    with pytest.raises(RuntimeError, match="after the outbox"), world.repo.begin() as conn:
        created = premises_store.add_many_premises(conn, [item], actor="test")[0]
        written = notify_listing_write(conn, None, created, reference=reference)
        assert need.id in [n.need_id for n in written]
        raise RuntimeError("a failure after the outbox write")
    assert world.notes(need) == []
    assert world.repo.count_premises(min_surface_m2=surface, max_surface_m2=surface) == 0


def test_notifications_are_their_recipients_only(world: World) -> None:
    surface = world.surface()
    need = world.need(surface)
    world.create(surface)
    [note] = world.notes(need)
    assert world.notes(need, "other_company") == []
    theirs = world.client.post(
        f"/me/notifications/{note['id']}/read", headers=world.headers("other_company")
    )
    assert theirs.status_code == 404
    assert theirs.headers["content-type"].startswith("application/problem+json")
    read = world.client.post(
        f"/me/notifications/{note['id']}/read", headers=world.headers("company")
    )
    assert read.status_code == 200 and read.json()["read_at"] is not None
    unread = world.client.get(
        "/me/notifications", params={"unread": True, "limit": 500}, headers=world.headers("company")
    ).json()
    assert note["id"] not in [n["id"] for n in unread["items"]]
    assert world.client.get("/me/notifications").status_code == 401


# -- webhooks ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.org/hook", "http:// ou https://"),
        ("example.org/hook", "http:// ou https://"),
        ("https:///hook", "aucun hôte"),
        ("https://user:secret@example.org/hook", "mot de passe"),
        ("https://example.org/hook#x", "fragment"),
        ("https://exa mple.org/", "pas une adresse valide"),
        ("https://example.org/\x00", "pas une adresse valide"),
    ],
)
def test_a_bad_webhook_url_is_refused_naming_the_field(world: World, url: str, reason: str) -> None:
    response = world.client.put("/me/webhook", json={"url": url}, headers=world.headers("company"))
    assert response.status_code == 422, response.text
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert problem["errors"][0]["field"] == "url"
    assert reason in problem["detail"]
    english = world.client.put(
        "/me/webhook?lang=en", json={"url": url}, headers=world.headers("company")
    )
    assert english.status_code == 422 and english.json()["detail"].startswith("url: ")


def test_the_webhook_secret_is_shown_once(world: World) -> None:
    headers = world.headers("other_company")
    assert world.client.get("/me/webhook", headers=headers).status_code == 404
    put = world.client.put("/me/webhook", json={"url": "https://example.org/h"}, headers=headers)
    assert put.status_code == 200
    assert put.json()["secret"].startswith("whsec_")
    shown = world.client.get("/me/webhook", headers=headers)
    assert shown.status_code == 200
    assert shown.json()["url"] == "https://example.org/h" and "secret" not in shown.json()
    again = world.client.put("/me/webhook", json={"url": "https://example.org/h"}, headers=headers)
    assert again.json()["secret"] != put.json()["secret"]
    assert world.client.delete("/me/webhook", headers=headers).status_code == 204
    assert world.client.delete("/me/webhook", headers=headers).status_code == 404


def test_the_webhook_receives_the_notification_signed(world: World, hooked: Any) -> None:
    surface = world.surface()
    need = world.need(surface)
    listing = world.create(surface)
    [note] = world.notes(need)
    assert note["delivery"]["state"] == "pending"

    report = deliver_due(world.repo, LOOPBACK)
    assert report.delivered == 1
    [got] = hooked.received
    assert verify(hooked.secret, got.headers[SIGNATURE_HEADER], got.body)
    assert not verify(hooked.secret, got.headers[SIGNATURE_HEADER], got.body + b" ")
    assert not verify("whsec_other", got.headers[SIGNATURE_HEADER], got.body)
    assert got.headers[DELIVERY_HEADER] == str(note["id"])
    assert got.headers["Content-Type"] == "application/json"
    body = json.loads(got.body)
    assert (body["id"], body["kind"], body["need_id"]) == (note["id"], "match", need.id)
    assert body["data"]["premises"]["id"] == listing["id"]
    assert "owner_account" not in body["data"]["premises"]

    [note] = world.notes(need)
    assert note["delivery"]["state"] == "delivered" and note["delivery"]["attempts"] == 1
    assert deliver_due(world.repo, LOOPBACK).delivered == 0
    assert len(hooked.received) == 1


def test_failed_deliveries_back_off_then_give_up_visible_to_staff(
    world: World, hooked: Any
) -> None:
    hooked.mode = "error"
    settings = LOOPBACK.model_copy(
        update={"max_attempts": 3, "backoff_base_seconds": 30, "timeout_seconds": 5}
    )
    surface = world.surface()
    need = world.need(surface)
    world.create(surface)
    [note] = world.notes(need)
    t0 = utc_now()

    assert deliver_due(world.repo, settings, now=t0).failed == 1
    # Not due again before its back-off (30 s after the first failure)...
    assert deliver_due(world.repo, settings, now=t0 + timedelta(seconds=20)).failed == 0
    assert len(hooked.received) == 1
    # ...then due; the second failure doubles the wait (60 s).
    assert deliver_due(world.repo, settings, now=t0 + timedelta(seconds=40)).failed == 1
    assert deliver_due(world.repo, settings, now=t0 + timedelta(seconds=80)).failed == 0
    assert len(hooked.received) == 2
    # The third and last attempt fails: given up.
    assert deliver_due(world.repo, settings, now=t0 + timedelta(seconds=110)).gave_up == 1
    assert deliver_due(world.repo, settings, now=t0 + timedelta(days=1)).gave_up == 0
    assert len(hooked.received) == 3
    assert {r.headers[DELIVERY_HEADER] for r in hooked.received} == {str(note["id"])}

    [note] = world.notes(need)
    assert note["delivery"]["state"] == "failed" and note["delivery"]["attempts"] == 3
    assert world.client.get("/staff/deliveries", headers=world.headers("company")).status_code == (
        403
    )
    staff = world.client.get(
        "/staff/deliveries", params={"limit": 500}, headers=world.headers("staff")
    )
    assert staff.status_code == 200
    [failed] = [d for d in staff.json()["items"] if d["id"] == note["id"]]
    assert failed["recipient"] == NAMES["company"]
    assert failed["delivery"]["last_error"] == "HTTP 500 from the webhook"
    assert failed["delivery"]["gave_up_at"] is not None

    # The receiver is fixed; the staff try it again.
    hooked.mode = "ok"
    retried = world.client.post(
        f"/staff/deliveries/{note['id']}/retry", headers=world.headers("staff")
    )
    assert retried.status_code == 200 and retried.json()["delivery"]["state"] == "pending"
    assert deliver_due(world.repo, settings).delivered == 1
    assert world.notes(need)[0]["delivery"]["state"] == "delivered"


@pytest.mark.parametrize(
    ("mode", "error"),
    [
        ("slow", "no answer within 0.5 s"),
        ("redirect", "HTTP 302 from the webhook"),
    ],
)
def test_a_slow_or_redirecting_webhook_is_a_failed_attempt(
    world: World, hooked: Any, mode: str, error: str
) -> None:
    hooked.mode = mode
    settings = LOOPBACK.model_copy(update={"timeout_seconds": 0.5})
    surface = world.surface()
    need = world.need(surface)
    world.create(surface)
    assert deliver_due(world.repo, settings).failed == 1
    [note] = world.notes(need)
    assert note["delivery"]["state"] == "pending"
    assert note["delivery"]["last_error"] == error
    assert len(hooked.received) == 1  # the redirect was not followed


def test_the_app_delivers_in_its_lifespan(tmp_path: Path) -> None:
    """As a new user would: a company saves a need and sets its webhook, a developer lists a
    fitting premises, the webhook receives one signed notification (the app's own thread)."""
    settings = Settings()
    settings.database.url = f"sqlite:///{tmp_path / 'implanter.db'}"
    settings.api.demo_on_first_run = False
    settings.delivery.poll_seconds = 0.05
    settings.delivery.allow_private_networks = True  # the receiver listens on loopback
    with webhook_receiver() as receiver, TestClient(create_app(settings)) as client:
        repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
        with repo.begin() as conn:
            company = accounts.create_account(
                conn, name="pme", email="pme@exemple.invalid", role="company"
            )
            developer = accounts.create_account(
                conn, name="dev", email="dev@exemple.invalid", role="developer"
            )
            company_key = issue_key(conn, company.id).key
            developer_key = issue_key(conn, developer.id).key
            needs.add_many_needs(
                conn,
                [
                    NeedIn(
                        company_name="PME",
                        owner_account="pme",
                        surface_min_m2=300,
                        surface_max_m2=600,
                        uses=["craft"],
                    )
                ],
                actor="pme",
            )
        secret = client.put(
            "/me/webhook",
            json={"url": receiver.url},
            headers={"Authorization": f"Bearer {company_key}"},
        ).json()["secret"]
        created = client.post(
            "/premises", json=_listing(450), headers={"Authorization": f"Bearer {developer_key}"}
        )
        assert created.status_code == 201
        assert receiver.wait_for(1)
        with repo.connect() as conn:
            [note] = outbox.list_notifications(conn, "pme").items
        assert note.premises_id == created.json()["id"]
    [got] = receiver.received
    assert verify(secret, got.headers[SIGNATURE_HEADER], got.body)
    assert json.loads(got.body)["premises_id"] == created.json()["id"]


def test_the_listing_index_of_an_alert_is_the_catalogue_index(tmp_path: Path) -> None:
    """The columns of written listings, built from their models (a single write) or read
    from the database (an import), give the index rows that the catalogue's own path (a
    frame of the listings) gives: the alert scores what matching would."""
    import math

    import pandas as pd

    from api.alerts import STATE_COLUMNS, _states_index, listing_columns
    from api.matching import build_index
    from geodata.storage import catalogue
    from matcher import MatchIndex
    from tests.geodata.test_storage import full_premises, make_premises

    repo = Repository(f"sqlite:///{tmp_path / 'implanter.db'}")
    repo.migrate()
    reference = build_index(repo, default_territory())
    items = repo.add_many_premises([full_premises(), make_premises()], actor="test")
    none = listing_columns([])
    from_models = _states_index(reference, listing_columns(items), none)
    with repo.connect() as conn:
        read = catalogue.premises_columns(conn, STATE_COLUMNS, ids=[p.id for p in items])
    from_database = _states_index(reference, read, none)
    frame = pd.DataFrame([i.model_dump() for i in items], index=pd.RangeIndex(len(items)))
    theirs = MatchIndex.from_frame(
        frame,
        stations=reference.stations,
        interchanges=reference.interchanges,
        commune_names=reference.commune_names,
    )
    for ours in (from_models, from_database):
        for k in range(len(items)):
            a = ours.record(ours.position(k))  # type: ignore[arg-type]
            b = theirs.record(theirs.position(k))  # type: ignore[arg-type]
            assert a.keys() == b.keys()
            for key in a:
                same_nan = isinstance(a[key], float) and math.isnan(a[key]) and math.isnan(b[key])
                assert same_nan or a[key] == b[key], key
        # The full listing states its dates: they were converted, not lost.
        assert not math.isnan(ours.record(ours.position(0))["available_day"])  # type: ignore[arg-type]
        assert not math.isnan(ours.record(ours.position(0))["verified_day"])  # type: ignore[arg-type]
    repo.dispose()


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://127.0.0.1:8080/hook", "bouclage"),
        ("http://localhost/hook", "bouclage"),
        ("http://[::1]/hook", "bouclage"),
        ("http://10.0.0.7/hook", "privée"),
        ("http://192.168.1.20:9000/hook", "privée"),
        ("http://169.254.169.254/latest/meta-data/", "lien-local"),
        ("http://[::ffff:172.16.0.1]/hook", "privée"),
    ],
)
def test_a_webhook_on_the_servers_own_network_is_refused(
    world: World, monkeypatch: pytest.MonkeyPatch, url: str, kind: str
) -> None:
    delivery = world.client.app.state.settings.delivery  # type: ignore[attr-defined]
    monkeypatch.setattr(delivery, "allow_private_networks", False)
    response = world.client.put("/me/webhook", json={"url": url}, headers=world.headers("company"))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "url"
    assert kind in response.json()["detail"]
    english = world.client.put(
        "/me/webhook?lang=en", json={"url": url}, headers=world.headers("company")
    )
    assert "not a public internet address" in english.json()["detail"]
    assert world.client.get("/me/webhook", headers=world.headers("company")).status_code == 404


def test_a_name_resolving_to_the_servers_own_network_is_refused_when_delivering() -> None:
    """A public-looking name may resolve to loopback (or be re-bound to it after the URL was
    accepted): the address actually connected to is checked, and nothing is sent."""
    with webhook_receiver() as receiver:
        by_name = receiver.url.replace("127.0.0.1", "localhost")
        with pytest.raises(DeliveryError, match="loopback address"):
            post_webhook(by_name, b"{}", {}, timeout=5)
        assert receiver.received == []
        assert post_webhook(by_name, b"{}", {}, timeout=5, allow_private=True) == 204
        assert len(receiver.received) == 1


def test_alerts_score_with_the_promoted_model_as_matches_do(world: World) -> None:
    """A need's alerts and its matches rank alike: once a model that weighs only access is
    promoted, a listing far from any station no longer reaches the need's threshold."""

    def preferring_access(surface: float) -> Need:
        return world.need(surface, alert_threshold=60, max_station_distance_m=1)

    # With the default weights, access is a small share of the score: it fits above 60.
    surface = world.surface()
    need = preferring_access(surface)
    world.create(surface)
    [note] = world.notes(need)
    assert 60 <= note["score"] < 100
    # Only access counts in the promoted model: the same listing scores under 60.
    with world.repo.begin() as conn:
        model = models.add_model(
            conn,
            weights={**dict.fromkeys(CRITERIA, 0.0), "access": 100.0},
            metrics={},
            training_size=0,
            n_needs=0,
            source="test",
            actor="test",
        )
    promoted = world.client.post(
        f"/staff/models/{model.id}/promote", headers=world.headers("staff")
    )
    assert promoted.status_code == 200, promoted.text
    try:
        surface = world.surface()
        need = preferring_access(surface)
        listing = world.create(surface)
        assert world.notes(need) == []
        matches = world.client.get(
            f"/needs/{need.id}/matches", headers=world.headers("company")
        ).json()
        [match] = [r for r in matches["results"] if r["premises"]["id"] == listing["id"]]
        assert match["score"] < 60 and matches["model"]["version"] == model.id
    finally:
        back = world.client.delete("/staff/models/promoted", headers=world.headers("staff"))
        assert back.status_code == 200, back.text
