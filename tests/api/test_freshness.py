"""Freshness over HTTP: a listing unconfirmed for too long leaves the public search and
matching, its owner is reminded, the staff see the backlog, and a confirmation brings it back.
And the filters, sorts and page links of ``GET /premises``.

The app's clock (``create_app(clock=...)``) is moved instead of waiting. Every test runs on
SQLite and on PostGIS, through the real app with its lifespan entered.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import issue_key
from api.freshness import Freshness
from api.main import create_app
from api.reminders import ReminderSchedule, enqueue_reminders
from geodata.schemas import NeedIn, Premises, PremisesPublic
from geodata.storage import Repository, accounts, needs
from tests.api.conftest import backend_url, empty_settings
from tests.api.test_premises_write import NAMES, PRINCIPALS, _sample
from tests.conftest import BACKENDS


@dataclass
class MovableClock:
    """The system clock (UTC), moved by ``offset``."""

    offset: timedelta = field(default_factory=timedelta)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@dataclass
class World:
    client: TestClient
    repo: Repository
    keys: dict[str, str]
    clock: MovableClock

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        auth = {} if who == "anonymous" else {"Authorization": f"Bearer {self.keys[who]}"}
        return {**auth, **extra}

    def create(self, **extra: Any) -> dict[str, Any]:
        """A listing created over HTTP by "developer", at the clock's time."""
        response = self.client.post(
            "/premises", json=_sample(**extra), headers=self.headers("developer")
        )
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def listed(self, who: str, **params: Any) -> dict[int, dict[str, Any]]:
        response = self.client.get(
            "/premises", params={"limit": 500, **params}, headers=self.headers(who)
        )
        assert response.status_code == 200, response.text
        return {item["id"]: item for item in response.json()["items"]}

    def matched(self, need: dict[str, Any]) -> list[int]:
        response = self.client.post("/match", params={"k": 50}, json=need)
        assert response.status_code == 200, response.text
        return [r["premises"]["id"] for r in response.json()["results"]]


@pytest.fixture(params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    """A fresh empty catalogue per test (what is hidden depends on every listing's date)."""
    with backend_url(request, tmp_path_factory, "fresh") as url:
        settings = empty_settings(url)
        clock = MovableClock()
        with TestClient(create_app(settings, clock=clock)) as client:
            repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
            keys = {}
            with repo.begin() as conn:
                for who, name in NAMES.items():
                    role = "developer" if "developer" in who else who
                    account = accounts.create_account(
                        conn, name=name, email=f"{name}@exemple.invalid", role=role
                    )
                    keys[who] = issue_key(conn, account.id).key
            yield World(client, repo, keys, clock)
        repo.dispose()


NEED = {"surface_min_m2": 400, "surface_max_m2": 500, "uses": ["craft"]}


def test_a_stale_listing_leaves_the_public_search_and_matching_until_confirmed(
    world: World,
) -> None:
    listing = world.create()
    pid = listing["id"]
    fresh = world.create(title="Atelier confirmé")["id"]
    assert pid in world.listed("anonymous") and pid in world.matched(NEED)

    world.clock.offset = timedelta(days=91)
    # The other listing was confirmed (edited) today, on the moved clock.
    etag = world.client.get(f"/premises/{fresh}").headers["ETag"]
    edit = world.client.patch(
        f"/premises/{fresh}",
        json={"rent_eur_m2_year": 100},
        headers=world.headers("developer", **{"If-Match": etag}),
    )
    assert edit.status_code == 200, edit.text

    for who in ("anonymous", "company", "other_developer"):
        listed = world.listed(who)
        assert pid not in listed and fresh in listed, who
    assert pid not in world.matched(NEED)
    assert fresh in world.matched(NEED)
    match = world.client.post("/match", json=NEED).json()
    assert match["diagnostics"]["n_matchable"] == 1

    # Its owner and the staff still see it, flagged as hidden.
    for who in ("developer", "staff"):
        item = world.listed(who)[pid]
        assert item["freshness"]["hidden"] is True, who
        assert item["freshness"]["age_days"] == 91
        assert item["freshness"]["days_left"] == 0
    assert world.listed("developer")[fresh]["freshness"]["hidden"] is False
    # The full view is every field of the listing, and its freshness; nothing else.
    own = world.client.get(f"/premises/{pid}", headers=world.headers("developer")).json()
    assert Freshness.model_validate(own.pop("freshness")).hidden is True
    Premises.model_validate(own)
    PremisesPublic.model_validate(world.client.get(f"/premises/{pid}").json())
    backlog = world.client.get("/staff/stale", headers=world.headers("staff")).json()
    assert [i["premises"]["id"] for i in backlog["items"]] == [pid]
    assert (backlog["total"], backlog["hidden"]) == (1, 1)
    assert backlog["items"][0]["freshness"]["hidden"] is True
    reminders = world.client.get("/me/reminders", headers=world.headers("developer")).json()
    assert [i["premises"]["id"] for i in reminders["items"]] == [pid]
    none = world.client.get("/me/reminders", headers=world.headers("other_developer")).json()
    assert none["items"] == [] and none["total"] == 0

    # Its owner confirms it (no If-Match needed): back in the search and in matching.
    confirmed = world.client.post(f"/premises/{pid}/confirm", headers=world.headers("developer"))
    assert confirmed.status_code == 200, confirmed.text
    body = confirmed.json()
    assert confirmed.headers["ETag"] == f'"{body["version"]}"'
    assert body["version"] == listing["version"] + 1
    verified = datetime.fromisoformat(body["last_verified_at"])
    assert verified - datetime.now(UTC) > timedelta(days=90)  # the moved clock's now
    assert pid in world.listed("anonymous")
    assert pid in world.matched(NEED)
    assert world.client.get("/staff/stale", headers=world.headers("staff")).json()["total"] == 0
    history = world.client.get(f"/premises/{pid}/history", headers=world.headers("developer"))
    assert history.json()[-1]["action"] == "confirm"


def test_owners_are_reminded_from_the_flag_day(world: World) -> None:
    pid = world.create()["id"]
    world.clock.offset = timedelta(days=59)
    reminders = world.client.get("/me/reminders", headers=world.headers("developer")).json()
    assert reminders["items"] == []
    assert (reminders["flag_days"], reminders["hide_days"]) == (60, 90)

    world.clock.offset = timedelta(days=60)
    reminders = world.client.get("/me/reminders", headers=world.headers("developer")).json()
    [item] = reminders["items"]
    state = item["freshness"]
    assert item["premises"]["id"] == pid
    assert (state["flagged"], state["hidden"], state["age_days"]) == (True, False, 60)
    assert state["days_left"] == 31
    # Flagged, still public; on day 90 too, gone on day 91.
    assert pid in world.listed("anonymous")
    world.clock.offset = timedelta(days=90)
    assert pid in world.listed("anonymous")
    world.clock.offset = timedelta(days=91)
    assert pid not in world.listed("anonymous")


def _notes(world: World, who: str) -> list[dict[str, Any]]:
    response = world.client.get("/me/notifications", headers=world.headers(who))
    assert response.status_code == 200, response.text
    return [n for n in response.json()["items"] if n["kind"] == "stale_listing"]


def test_the_flag_reaches_the_owner_once_per_stretch_in_the_outbox(world: World) -> None:
    pid = world.create()["id"]
    gone = world.create(title="Atelier retiré")["id"]
    etag = world.client.get(f"/premises/{gone}").headers["ETag"]
    withdrawn = world.client.delete(
        f"/premises/{gone}", headers=world.headers("developer", **{"If-Match": etag})
    )
    assert withdrawn.status_code in (200, 204), withdrawn.text
    settings = world.client.app.state.settings.freshness  # type: ignore[attr-defined]

    world.clock.offset = timedelta(days=59)
    assert enqueue_reminders(world.repo, settings, now=world.clock()) == 0
    world.clock.offset = timedelta(days=60)
    assert enqueue_reminders(world.repo, settings, now=world.clock()) == 1
    # Written once: the next passes find it written (the withdrawn listing never is).
    assert enqueue_reminders(world.repo, settings, now=world.clock()) == 0
    [note] = _notes(world, "developer")
    assert note["premises_id"] == pid
    assert note["payload"]["age_days"] == 60
    hidden_from = (world.clock() + timedelta(days=31)).date().isoformat()
    assert note["payload"]["hidden_from"] == hidden_from
    assert note["payload"]["confirm"] == f"/premises/{pid}/confirm"
    assert "confirmez-la" in note["payload"]["message"]["fr"]
    for who in ("other_developer", "company", "staff"):
        assert _notes(world, who) == [], who

    # Confirmed, it starts a new stretch; 60 days later its owner is reminded again.
    confirmed = world.client.post(f"/premises/{pid}/confirm", headers=world.headers("developer"))
    assert confirmed.status_code == 200, confirmed.text
    assert enqueue_reminders(world.repo, settings, now=world.clock()) == 0
    world.clock.offset = timedelta(days=120)
    assert enqueue_reminders(world.repo, settings, now=world.clock()) == 1
    assert len(_notes(world, "developer")) == 2


def test_the_reminder_schedule_keeps_its_pace_on_the_app_clock(world: World) -> None:
    world.create()
    world.clock.offset = timedelta(days=1)
    world.create(title="Autre atelier")
    settings = world.client.app.state.settings.freshness  # type: ignore[attr-defined]
    every_two_days = settings.model_copy(update={"remind_every_seconds": 2 * 86_400})
    schedule = ReminderSchedule(world.repo, every_two_days, world.clock)
    world.clock.offset = timedelta(days=60)
    assert schedule() == 1
    # The second listing is flagged a day later, but the last look is only a day old.
    world.clock.offset = timedelta(days=61)
    assert schedule() == 0
    world.clock.offset = timedelta(days=62)
    assert schedule() == 1
    assert len(_notes(world, "developer")) == 2


def test_confirming_a_hidden_listing_alerts_the_needs_it_fits_again(world: World) -> None:
    """Hidden for staleness, a listing is out of matching; confirmed, it newly fits the saved
    needs again, so their owners are told once more (and not on a mere re-confirmation)."""
    pid = world.create()["id"]
    with world.repo.begin() as conn:
        [need] = needs.add_many_needs(
            conn,
            [
                NeedIn(
                    company_name="PME Alpha",
                    owner_account=NAMES["company"],
                    surface_min_m2=400,
                    surface_max_m2=500,
                    uses=["craft"],
                    max_rent_eur_m2_year=150,
                )
            ],
            actor="fixture",
        )

    def match_notes() -> list[dict[str, Any]]:
        response = world.client.get(
            "/me/notifications", params={"limit": 500}, headers=world.headers("company")
        )
        return [n for n in response.json()["items"] if n["kind"] == "match"]

    # Written before the need existed: no alert yet. An edit that keeps it fitting: none.
    assert match_notes() == []
    world.clock.offset = timedelta(days=91)
    assert pid not in world.matched(NEED)
    confirmed = world.client.post(f"/premises/{pid}/confirm", headers=world.headers("developer"))
    assert confirmed.status_code == 200, confirmed.text
    [note] = match_notes()
    assert (note["need_id"], note["premises_id"]) == (need.id, pid)
    # Confirmed again the next day, it fitted all along: no second alert.
    world.clock.offset = timedelta(days=92)
    again = world.client.post(f"/premises/{pid}/confirm", headers=world.headers("developer"))
    assert again.status_code == 200, again.text
    assert len(match_notes()) == 1


def test_edits_and_status_changes_confirm_and_a_client_date_is_ignored(world: World) -> None:
    old = "2020-01-01T00:00:00Z"
    created = world.create(last_verified_at=old)
    pid = created["id"]
    assert created["last_verified_at"] != old  # the server's clock, not the body's
    world.clock.offset = timedelta(days=200)
    assert pid not in world.listed("anonymous")
    patched = world.client.patch(
        f"/premises/{pid}",
        json={"last_verified_at": "2099-01-01T00:00:00Z"},
        headers=world.headers("developer", **{"If-Match": f'"{created["version"]}"'}),
    )
    assert patched.status_code == 200, patched.text
    moved_now = datetime.fromisoformat(patched.json()["last_verified_at"])
    assert timedelta(days=199) < moved_now - datetime.now(UTC) < timedelta(days=201)
    assert pid in world.listed("anonymous")

    world.clock.offset = timedelta(days=400)
    assert pid not in world.listed("anonymous")
    status = world.client.post(
        f"/premises/{pid}/status",
        json={"status": "under_offer"},
        headers=world.headers("staff", **{"If-Match": f'"{patched.json()["version"]}"'}),
    )
    assert status.status_code == 200, status.text
    assert pid in world.listed("anonymous")


def test_confirm_with_if_match_is_a_compare_and_set(world: World) -> None:
    listing = world.create()
    pid, version = listing["id"], listing["version"]
    stale = world.client.post(
        f"/premises/{pid}/confirm",
        headers=world.headers("developer", **{"If-Match": f'"{version + 5}"'}),
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"].startswith("application/problem+json")
    bad = world.client.post(
        f"/premises/{pid}/confirm", headers=world.headers("staff", **{"If-Match": "abc"})
    )
    assert bad.status_code == 400
    ok = world.client.post(
        f"/premises/{pid}/confirm",
        headers=world.headers("staff", **{"If-Match": f'"{version}"'}),
    )
    assert ok.status_code == 200 and ok.json()["version"] == version + 1
    assert world.repo.get_premises(pid).version == version + 1


def test_withdrawn_listings_are_out_of_the_public_search_even_when_asked(world: World) -> None:
    listing = world.create()
    pid = listing["id"]
    gone = world.client.delete(
        f"/premises/{pid}",
        headers=world.headers("developer", **{"If-Match": f'"{listing["version"]}"'}),
    )
    assert gone.status_code == 200
    for who in ("anonymous", "company", "other_developer"):
        assert pid not in world.listed(who), who
        assert pid not in world.listed(who, status="withdrawn"), who
    for who in ("developer", "staff"):
        assert pid in world.listed(who, status="withdrawn"), who
        assert pid in world.listed(who), who


def test_the_freshness_routes_refuse_the_wrong_roles(world: World) -> None:
    expected = {
        "/me/reminders": (401, 403, 200, 200, 200),
        "/staff/stale": (401, 403, 403, 403, 200),
    }
    for path, statuses in expected.items():
        for who, status in zip(PRINCIPALS, statuses, strict=True):
            response = world.client.get(path, headers=world.headers(who))
            assert response.status_code == status, (path, who, response.text)
    too_many = world.client.get(
        "/staff/stale", params={"limit": 10_000}, headers=world.headers("staff")
    )
    assert too_many.status_code == 400
    assert "limit" in too_many.json()["detail"]


# -- the list filters -------------------------------------------------------------------------


def test_list_filters_sorts_and_page_links(world: World) -> None:
    a = world.create(title="Entrepôt sous douane", rent_eur_m2_year=80, lon=2.36, lat=48.76)["id"]
    b = world.create(title="Atelier ÉCLAIRÉ", rent_eur_m2_year=150, lon=2.46, lat=48.75)["id"]
    c = world.create(
        title="Lot à vendre",
        tenure="sale",
        rent_eur_m2_year=None,
        sale_price_eur=600_000,
        lon=2.40,
        lat=48.79,
    )["id"]

    def ids(**params: Any) -> list[int]:
        response = world.client.get("/premises", params=params)
        assert response.status_code == 200, response.text
        return [i["id"] for i in response.json()["items"]]

    assert ids(min_rent_eur_m2_year=100) == [b]
    assert ids(max_rent_eur_m2_year=100) == [a]
    assert ids(min_sale_price_eur=500_000, max_sale_price_eur=700_000) == [c]
    assert ids(q="eclaire") == [b]
    assert ids(q="ENTREPOT douane") == [a]
    assert ids(sort="rent") == [a, b, c]
    assert ids(sort="-rent") == [b, a, c]
    assert ids(sort="-surface") == [a, b, c]  # equal surfaces: by id
    assert ids(sort="freshness") == [c, b, a]
    assert ids(sort="distance", near="2.46,48.75") == [b, c, a]

    first = world.client.get("/premises", params={"sort": "rent", "limit": 1}).json()
    rels = {link["rel"]: link["href"] for link in first["links"]}
    assert "prev" not in rels and "sort=rent" in rels["next"]
    second = world.client.get(rels["next"]).json()
    assert [i["id"] for i in second["items"]] == [b]
    rels = {link["rel"]: link["href"] for link in second["links"]}
    assert {"prev", "next"} <= set(rels)
    assert [i["id"] for i in world.client.get(rels["prev"]).json()["items"]] == [a]
    assert [i["id"] for i in world.client.get(rels["next"]).json()["items"]] == [c]


@pytest.mark.parametrize(
    ("params", "status", "field"),
    [
        ({"sort": "distance"}, 422, "sort"),
        ({"sort": "colour"}, 422, "sort"),
        ({"near": "2.4", "sort": "distance"}, 400, "near"),
        ({"min_rent_eur_m2_year": 200, "max_rent_eur_m2_year": 100}, 400, "min_rent_eur_m2_year"),
        ({"max_sale_price_eur": "nan"}, 422, "max_sale_price_eur"),
        ({"q": "x" * 201}, 422, "q"),
    ],
)
def test_list_filter_errors_name_the_field(
    client: TestClient, params: dict[str, Any], status: int, field: str
) -> None:
    response = client.get("/premises", params=params)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert field in body["detail"]
    assert field in [e["field"] for e in body.get("errors", [])]
