"""The staff routes of developments and the allocation of their lots (Valenton demo village)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import issue_key
from api.index_cache import access_points
from api.main import create_app
from api.routes.developments import AllocationResponse, DevelopmentView
from geodata.developments import development_applicants, load_development
from geodata.storage import Repository, accounts
from geodata.territory import default_territory
from matcher.allocation import AllocationProblem, first_come_first_served, optimal
from tests.api.conftest import empty_settings

CODE = "valenton-village"
NAMES = {"staff": "eco-gosb", "developer": "sci-orly", "company": "pme-alpha"}


@dataclass
class World:
    client: TestClient
    keys: dict[str, str]

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        auth = {} if who == "anonymous" else {"Authorization": f"Bearer {self.keys[who]}"}
        return {**auth, **extra}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    url = f"sqlite:///{tmp_path_factory.mktemp('developments') / 'implanter.db'}"
    with TestClient(create_app(empty_settings(url))) as client:
        repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
        keys = {}
        with repo.begin() as conn:
            for role, name in NAMES.items():
                account = accounts.create_account(
                    conn, name=name, email=f"{name}@exemple.invalid", role=role
                )
                keys[role] = issue_key(conn, account.id).key
        yield World(client, keys)


ROUTES = [
    ("GET", "/staff/developments"),
    ("GET", f"/staff/developments/{CODE}"),
    ("GET", f"/staff/developments/{CODE}/allocation?n=6"),
    ("POST", f"/staff/developments/{CODE}/allocation"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_staff_only(world: World, method: str, path: str) -> None:
    for who, status in (("anonymous", 401), ("company", 403), ("developer", 403)):
        response = world.client.request(method, path, headers=world.headers(who))
        assert response.status_code == status, (who, response.text)
    response = world.client.request(
        method, path, headers=world.headers("staff"), json={"demo_applicants": 6}
    )
    assert response.status_code == 200, response.text


def test_the_valenton_village_is_listed_with_its_lots(world: World) -> None:
    body = world.client.get("/staff/developments", headers=world.headers("staff")).json()
    views = [DevelopmentView.model_validate(b) for b in body]
    village = {v.code: v for v in views}[CODE]
    assert village.n_lots == 20 and village.demo is True
    assert village.commune_insee == "94074" and village.commune_name == "Valenton"
    assert [lot.lot_ref for lot in village.lots][:3] == ["A1", "A2", "A3"]
    missing = world.client.get("/staff/developments/nowhere", headers=world.headers("staff"))
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["field"] == "code"


def test_the_demo_allocation_beats_first_come_and_explains_every_lot(world: World) -> None:
    response = world.client.get(
        f"/staff/developments/{CODE}/allocation", params={"n": 40}, headers=world.headers("staff")
    )
    assert response.status_code == 200, response.text
    body = AllocationResponse.model_validate(response.json())
    best, fcfs = body.optimal, body.first_come_first_served
    assert body.n_applicants == 40 and body.demo_applicants and body.lang == "fr"
    assert best.total_fit > fcfs.total_fit
    for alloc in (best, fcfs):
        assert len(alloc.lots) == 20 and all(lot.reason.text for lot in alloc.lots)
        assert len(alloc.assignments) + len(alloc.refusals) == 40
        assert all(r.reason.text and r.company in r.reason.text for r in alloc.refusals)
        taken = [lot for a in alloc.assignments for lot in a.lots]
        assert len(taken) == len(set(taken))  # a lot goes to one applicant at most
    # The same as the library on the same applicants.
    territory = default_territory()
    dev = load_development()
    stations, interchanges = access_points(territory)
    problem = AllocationProblem.build(
        dev.lots,
        development_applicants(dev, 40),
        ids=list(range(40)),
        stations=stations,
        interchanges=interchanges,
        commune_names=territory.commune_names,
    )
    assert best.total_fit == pytest.approx(optimal(problem, explain=False).total_fit, abs=0.01)
    assert fcfs.total_fit == pytest.approx(first_come_first_served(problem).total_fit, abs=0.01)
    en = world.client.get(
        f"/staff/developments/{CODE}/allocation",
        params={"n": 40},
        headers=world.headers("staff", **{"Accept-Language": "en"}),
    ).json()
    assert en["lang"] == "en" and en["optimal"]["lots"][0]["reason"]["text"].startswith("Lot ")
    assert en["optimal"]["total_fit"] == pytest.approx(best.total_fit)


def _applicant(name: str, uses: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "company_name": name,
        "surface_min_m2": 150,
        "surface_max_m2": 200,
        "uses": uses,
        "tenure": "rent",
        "max_rent_eur_m2_year": 150,
        "communes": ["Valenton"],
        **extra,
    }


def test_a_planted_optimum_serves_everyone_where_first_come_refuses_one(world: World) -> None:
    # Only B1–B4 allow food processing. The craft workshop arrives first and prefers a
    # 7 m ceiling (the B terrace): first come, it takes a B lot and one food company is
    # refused; the optimum gives it an A lot and every food company a B lot.
    applicants = [
        _applicant("Atelier Premier", ["craft"], min_ceiling_height_m=7.0),
        *(_applicant(f"Traiteur {k}", ["food_processing"]) for k in range(1, 5)),
    ]
    response = world.client.post(
        f"/staff/developments/{CODE}/allocation",
        json={"applicants": applicants, "max_lots": 2},
        headers=world.headers("staff"),
    )
    assert response.status_code == 200, response.text
    body = AllocationResponse.model_validate(response.json())
    assert not body.demo_applicants and body.n_applicants == 5
    best, fcfs = body.optimal, body.first_come_first_served
    assert best.n_served == 5 and fcfs.n_served == 4
    assert best.total_fit > fcfs.total_fit
    first = {a.company: a for a in best.assignments}["Atelier Premier"]
    assert first.lots[0].startswith("A")
    food = sorted(lot for a in best.assignments if a.company != "Atelier Premier" for lot in a.lots)
    assert food == ["B1", "B2", "B3", "B4"]
    (refused,) = fcfs.refusals
    assert refused.company.startswith("Traiteur") and refused.reason.code == "taken_earlier"
    assert "Atelier Premier" in refused.reason.text


def test_bad_applicants_name_the_field(world: World) -> None:
    url = f"/staff/developments/{CODE}/allocation"
    applicants = [_applicant("A", ["craft"]), _applicant("B", ["craft"], communes=["Atlantide"])]
    bad = world.client.post(url, json={"applicants": applicants}, headers=world.headers("staff"))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"].startswith("applicants.1.communes")
    for body in ({"max_lots": 9}, {"demo_applicants": -1}):
        response = world.client.post(url, json=body, headers=world.headers("staff"))
        assert response.status_code == 422, body
        assert response.json()["errors"][0]["field"].endswith(next(iter(body)))
