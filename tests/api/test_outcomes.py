"""Outcomes over HTTP: who may record and read them, the funnel, and what the app records itself.

Every test runs on SQLite and on PostGIS, through the real app with its lifespan entered.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import issue_key
from api.main import create_app
from geodata.schemas import PremisesCreate
from geodata.storage import Repository, accounts, outcomes
from geodata.territory import default_territory
from tests.api.conftest import backend_url, empty_settings
from tests.conftest import BACKENDS

NAMES = {
    "company": "pme-alpha",
    "other_company": "pme-beta",
    "developer": "sci-orly",
    "staff": "eco-gosb",
}


def need_body(**extra: Any) -> dict[str, Any]:
    return {
        "company_name": "Atelier Démo",
        "surface_min_m2": 300,
        "surface_max_m2": 600,
        "communes": ["Vitry-sur-Seine"],
        "max_rent_eur_m2_year": 150,
        **extra,
    }


@dataclass
class World:
    client: TestClient
    repo: Repository
    keys: dict[str, str]

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        auth = {} if who == "anonymous" else {"Authorization": f"Bearer {self.keys[who]}"}
        return {**auth, **extra}

    def listing(self, **extra: Any) -> int:
        body = {
            "title": "Atelier à Vitry",
            "kind": "workshop",
            "uses": ["production", "craft"],
            "surface_m2": 450,
            "tenure": "rent",
            "rent_eur_m2_year": 110,
            "lon": 2.3920,
            "lat": 48.7870,
            "owner_account": NAMES["developer"],
            **extra,
        }
        item = PremisesCreate.model_validate(body, context={"territory": default_territory()})
        return self.repo.add_premises(item, actor="fixture").id

    def need(self, who: str = "company", **extra: Any) -> int:
        response = self.client.post("/needs", json=need_body(**extra), headers=self.headers(who))
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def post(self, need_id: int, who: str = "company", **body: Any) -> Any:
        return self.client.post(f"/needs/{need_id}/outcomes", json=body, headers=self.headers(who))

    def outcomes(self, need_id: int, who: str = "company", **params: str) -> dict[str, Any]:
        response = self.client.get(
            f"/needs/{need_id}/outcomes", params=params, headers=self.headers(who)
        )
        assert response.status_code == 200, response.text
        return {item["premises_id"]: item for item in response.json()["items"]} | {
            "_body": response.json()
        }


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with (
        backend_url(request, tmp_path_factory, "outcomes") as url,
        TestClient(create_app(empty_settings(url))) as client,
    ):
        repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
        keys = {}
        with repo.begin() as conn:
            for who, name in NAMES.items():
                role = who.removeprefix("other_")
                account = accounts.create_account(
                    conn, name=name, email=f"{name}@exemple.invalid", role=role
                )
                keys[who] = issue_key(conn, account.id).key
        yield World(client, repo, keys)


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", 401),
        ("company", 200),
        ("other_company", 404),
        ("developer", 403),
        ("staff", 200),
    ],
)
@pytest.mark.parametrize("route", ["POST", "GET", "GET history"])
def test_the_owner_company_and_the_staff_only(
    world: World, route: str, who: str, expected: int
) -> None:
    need, listing = world.need(), world.listing()
    if route == "POST":
        response = world.post(need, who, premises_id=listing, event="visited")
    else:
        path = f"/needs/{need}/outcomes" + ("/history" if route == "GET history" else "")
        response = world.client.get(path, headers=world.headers(who))
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert listing not in world.outcomes(need)


def test_the_funnel_with_versions_reasons_and_labels(world: World) -> None:
    need, listing = world.need(), world.listing()
    opened = world.post(need, premises_id=listing, event="opened", expected_version=0)
    assert opened.status_code == 200, opened.text
    assert opened.json()["version"] == 1 and opened.headers["ETag"] == '"1"'
    # A second writer who read nothing is refused rather than overwriting.
    again = world.post(need, premises_id=listing, event="contacted", expected_version=0)
    assert again.status_code == 412, again.text
    contacted = world.post(need, premises_id=listing, event="contacted", expected_version=1)
    assert contacted.json()["stage"] == "contacted" and contacted.json()["version"] == 2
    stale = world.post(need, premises_id=listing, event="visited", expected_version=1)
    assert stale.status_code == 412
    assert stale.json()["detail"].startswith(
        f"expected_version : le suivi de l'annonce {listing} pour ce besoin est à la version 2"
    )
    rejected = world.post(need, "staff", premises_id=listing, event="rejected", reason="too_dear")
    assert rejected.status_code == 200, rejected.text
    state = world.outcomes(need)[listing]
    assert state["stage"] == "rejected" and state["stage_label"] == "écartée"
    assert state["reason"] == "too_dear" and state["reason_label"] == "trop cher"
    assert state["opened_at"] and state["contacted_at"] and state["rejected_at"]
    english = world.outcomes(need, lang="en")
    assert english[listing]["reason_label"] == "too expensive"
    codes = [r["code"] for r in english["_body"]["reasons"]]
    assert codes[0] == "too_dear" and "not_available_in_time" in codes
    history = world.client.get(f"/needs/{need}/outcomes/history", headers=world.headers("company"))
    changes = history.json()
    assert [c["action"] for c in changes] == ["create", "update", "update"]
    assert [c["actor"] for c in changes] == [NAMES["company"]] * 2 + [NAMES["staff"]]
    assert changes[-1]["changes"]["stage"] == ["contacted", "rejected"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "rejected"}, "reason"),
        ({"event": "visited", "reason": "too_far"}, "reason"),
        ({"event": "rejected", "reason": "ugly"}, "reason"),
        ({"event": "liked"}, "event"),
    ],
)
def test_bad_events_name_the_field(world: World, body: dict[str, Any], field: str) -> None:
    need, listing = world.need(), world.listing()
    response = world.post(need, premises_id=listing, **body)
    assert response.status_code == 422, response.text
    assert field in response.text
    assert listing not in world.outcomes(need)


def test_an_unknown_listing_is_404(world: World) -> None:
    need = world.need()
    response = world.post(need, premises_id=999_999, event="visited")
    assert response.status_code == 404


def test_the_app_records_shown_opened_and_contacted(world: World) -> None:
    need = world.need(surface_min_m2=2000, surface_max_m2=2500)
    listing = world.listing(title="Atelier à Vitry, rue des Fondeurs", surface_m2=2200)
    matches = world.client.get(f"/needs/{need}/matches", headers=world.headers("company"))
    assert matches.status_code == 200, matches.text
    body = matches.json()
    assert body["model"] == {"version": None, "text": "pondération par défaut"}
    ids = [r["premises"]["id"] for r in body["results"]]
    assert listing in ids
    state = world.outcomes(need)
    assert set(ids) <= set(state)
    assert state[listing]["stage"] == "shown" and state[listing]["shown_model"] is None
    assert state[listing]["shown_rank"] == ids.index(listing) + 1
    # The scores the company saw are kept with the outcome (training learns from them).
    assert state[listing]["shown_utilities"] == body["results"][ids.index(listing)]["utilities"]
    # Shown again: nothing new is written.
    world.client.get(f"/needs/{need}/matches", headers=world.headers("company"))
    assert world.outcomes(need)[listing]["version"] == 1
    # Opened for this need by its owner; another company's read records nothing.
    other_need = world.need("other_company")
    world.client.get(f"/premises/{listing}?need_id={need}", headers=world.headers("company"))
    world.client.get(f"/premises/{listing}?need_id={need}", headers=world.headers("other_company"))
    world.client.get(f"/premises/{listing}?need_id={other_need}", headers=world.headers("company"))
    assert world.outcomes(need)[listing]["stage"] == "opened"
    assert listing not in world.outcomes(other_need, "other_company")
    sent = world.client.post(
        f"/premises/{listing}/contact-requests",
        json={"need_id": need, "message": "Bonjour", "contact_email": "a@b.fr"},
        headers=world.headers("company"),
    )
    assert sent.status_code == 201, sent.text
    state = world.outcomes(need)[listing]
    assert state["stage"] == "contacted" and state["version"] == 3
    # A later match shows it again: the stage does not go back.
    world.client.get(f"/needs/{need}/matches", headers=world.headers("company"))
    assert world.outcomes(need)[listing]["stage"] == "contacted"


def test_a_listing_contacted_before_it_was_shown_keeps_its_stage(world: World) -> None:
    need, listing = world.need(), world.listing()
    with world.repo.begin() as conn:
        outcomes.record_event(conn, need, listing, "contacted", actor="test", only_new=True)
        assert outcomes.not_yet_shown(conn, need, [listing]) == [listing]
        assert outcomes.record_shown(conn, need, [(listing, 3, 71.5)], actor="test", model=4) == 1
        assert outcomes.not_yet_shown(conn, need, [listing]) == []
        assert outcomes.record_shown(conn, need, [(listing, 1, 80.0)], actor="test") == 0
        # A repeated automatic event writes nothing.
        assert (
            outcomes.record_event(conn, need, listing, "contacted", actor="test", only_new=True)
            is None
        )
    state = world.outcomes(need)[listing]
    assert state["stage"] == "contacted" and state["version"] == 2
    assert (state["shown_rank"], state["shown_score"], state["shown_model"]) == (3, 71.5, 4)
    with world.repo.connect() as conn:
        assert outcomes.training_outcomes(conn).count((need, listing, "contacted")) == 1


def test_training_learns_from_the_listing_as_it_was_shown(world: World) -> None:
    """An outcome recorded, then the listing edited (rent raised, surface changed): training
    uses the utilities the company saw, not today's; an outcome recorded by hand falls back
    to today's catalogue, and the training report counts both."""
    import numpy as np

    from api.outcomes import record_answer
    from api.routes.match import match_body
    from geodata.storage import needs as needs_store
    from matcher.calibration import calibrate, outcome_features, training_set
    from matcher.weights import CRITERIA

    need = world.need(surface_min_m2=700, surface_max_m2=800, max_rent_eur_m2_year=120)
    other = world.need(surface_min_m2=650, surface_max_m2=900)
    listing = world.listing(title="Atelier montré", surface_m2=760, rent_eur_m2_year=100)
    holder = world.client.app.state.match_index  # type: ignore[attr-defined]
    with world.repo.connect() as conn:
        account = accounts.find_account(conn, NAMES["company"])
    shown = {}
    for need_id in (need, other):
        # What GET /needs/{id}/matches answers, and records with record_answer.
        answer = match_body(
            world.client.app.state,  # type: ignore[attr-defined]
            world.repo,
            world.repo.get_need(need_id),
            k=50,
            lang="fr",
            verified_since=None,
            now=None,
        ).body
        record_answer(world.repo, account, need_id, answer)
        shown[need_id] = {r["premises"]["id"]: r["utilities"] for r in answer["results"]}
    seen = shown[need][listing]
    for need_id in (need, other):
        sent = world.post(need_id, premises_id=listing, event="contacted")
        assert sent.status_code == 200, sent.text
    assert world.outcomes(need)[listing]["shown_utilities"] == pytest.approx(seen)
    # The owner raises the rent above the need's ceiling and shrinks the surface.
    current = world.repo.get_premises(listing)
    world.repo.patch_premises(
        listing,
        {"rent_eur_m2_year": 190, "surface_m2": 480},
        expected_version=current.version,
        actor="fixture",
    )
    # An outcome posted by hand for a listing the app never showed for the need.
    by_hand = world.listing(title="Atelier signalé", surface_m2=790, rent_eur_m2_year=115)
    assert world.post(need, premises_id=by_hand, event="visited").status_code == 200
    with world.repo.connect() as conn:
        rows = outcomes.training_outcomes(conn)
        as_shown = outcomes.recorded_utilities(conn)
        index = holder.current(conn)
        needs = needs_store.all_needs(conn, active=None)
    data = training_set(index, needs, rows, as_shown=as_shown)
    at = np.flatnonzero((data.need_ids == need) & (data.premises_ids == listing))
    assert len(at) == 1 and data.as_shown[at[0]]
    np.testing.assert_allclose(data.X[at[0]], [seen.get(c, np.nan) for c in CRITERIA])
    position = [n.id for n in needs].index(need)
    today = outcome_features(index, needs, [position], [listing])[0][0]
    assert today[CRITERIA.index("budget")] < seen["budget"]  # the edit mattered
    assert today[CRITERIA.index("surface")] < seen["surface"]
    hand = np.flatnonzero((data.need_ids == need) & (data.premises_ids == by_hand))
    assert len(hand) == 1 and not data.as_shown[hand[0]]
    np.testing.assert_allclose(
        data.X[hand[0]], outcome_features(index, needs, [position], [by_hand])[0][0]
    )
    # The training report counts the rows of each kind.
    report = calibrate(index, needs, rows, as_shown=as_shown, n_splits=2, n_boot=50)
    assert report.n_as_shown == int(data.as_shown.sum()) >= 2
    assert report.n_from_catalogue == int((~data.as_shown).sum()) >= 1
    assert report.to_dict()["features"] == {
        "as_shown": report.n_as_shown,
        "from_catalogue": report.n_from_catalogue,
        "left_out": report.n_left_out,
    }
