"""Needs, their matches, the demand for a listing and contact requests over HTTP.

Who may do what is one table (:data:`MATRIX`); the other tests check versions, NAF
suggestions, that a saved need's matches are those of ``POST /match``, that the demand
counts agree with forward matching, and that no personal data of a company reaches a
developer except through a contact request. Every test runs on SQLite and on PostGIS,
through the real app with its lifespan entered.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import issue_key
from api.main import create_app
from api.routes.demand import Demand
from api.routes.match import MatchResponse
from api.routes.needs import NeedsPage, NeedView
from geodata.schemas import PremisesCreate
from geodata.storage import Repository, accounts, needs
from geodata.territory import default_territory
from matcher import match
from tests.api.conftest import backend_url, empty_settings
from tests.conftest import BACKENDS

#: The callers of the matrix: "company" owns the need, "developer" the listing, each row uses.
PRINCIPALS = ("anonymous", "company", "other_company", "developer", "other_developer", "staff")

NAMES = {
    "company": "pme-alpha",
    "other_company": "pme-beta",
    "developer": "sci-orly",
    "other_developer": "sogaris-bis",
    "staff": "eco-gosb",
}

#: Personal data of the company: none of it may reach a developer without a contact request.
COMPANY_NAME = "Chaudronnerie Secrète"
COMPANY_EMAIL = "dirigeante@chaudronnerie-secrete.invalid"
SIREN = "732829320"


def need_body(**extra: Any) -> dict[str, Any]:
    return {
        "company_name": COMPANY_NAME,
        "siren": SIREN,
        "naf_code": "2562b",
        "surface_min_m2": 300,
        "surface_max_m2": 600,
        "communes": ["Vitry-sur-Seine"],
        "max_rent_eur_m2_year": 150,
        "contact_email": COMPANY_EMAIL,
        **extra,
    }


def listing_body(**extra: Any) -> dict[str, Any]:
    return {
        "title": "Atelier à Vitry",
        "kind": "workshop",
        "uses": ["production", "craft"],
        "surface_m2": 450,
        "tenure": "rent",
        "rent_eur_m2_year": 110,
        "lon": 2.3920,
        "lat": 48.7870,
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

    def listing(self, owner: str = NAMES["developer"], **extra: Any) -> tuple[int, int]:
        item = PremisesCreate.model_validate(
            listing_body(owner_account=owner, **extra), context={"territory": default_territory()}
        )
        stored = self.repo.add_premises(item, actor="fixture")
        return stored.id, stored.version

    def need(self, who: str = "company", **extra: Any) -> dict[str, Any]:
        response = self.client.post("/needs", json=need_body(**extra), headers=self.headers(who))
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with backend_url(request, tmp_path_factory, "needs") as url:
        settings = empty_settings(url)
        with TestClient(create_app(settings)) as client:
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


# -- the role × route matrix ------------------------------------------------------------------

_NEED_STATUSES = (401, 200, 404, 403, 403, 200)  # owner company and staff only; others 404

#: (method, path template, body, sends If-Match) -> status for each of PRINCIPALS.
#: ``{need}`` is a fresh need of "company"; ``{id}`` a fresh listing of "developer";
#: ``{missing}`` an id never created.
MATRIX: list[tuple[str, str, dict[str, Any] | None, bool, tuple[int, ...]]] = [
    ("POST", "/needs", need_body(), False, (401, 201, 201, 403, 403, 201)),
    ("GET", "/needs", None, False, (401, 200, 200, 403, 403, 200)),
    ("GET", "/needs/{need}", None, False, _NEED_STATUSES),
    ("GET", "/needs/{missing}", None, False, (401, 404, 404, 403, 403, 404)),
    ("PATCH", "/needs/{need}", {"surface_max_m2": 900}, True, _NEED_STATUSES),
    ("DELETE", "/needs/{need}", None, True, _NEED_STATUSES),
    ("GET", "/needs/{need}/history", None, False, _NEED_STATUSES),
    ("GET", "/needs/{need}/matches", None, False, _NEED_STATUSES),
    ("GET", "/premises/{id}/demand", None, False, (401, 403, 403, 200, 403, 200)),
    ("GET", "/premises/{missing}/demand", None, False, (401, 403, 403, 404, 404, 404)),
    (
        "POST",
        "/premises/{id}/contact-requests",
        {"message": "Bonjour", "contact_email": "a@b.fr"},
        False,
        (401, 201, 201, 403, 403, 403),
    ),
    ("GET", "/me/requests", None, False, (401, 200, 200, 200, 200, 200)),
    ("GET", "/naf/25.62B", None, False, (200, 200, 200, 200, 200, 200)),
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
    need = world.need()
    premises_id, _ = world.listing()
    url = path.format(need=need["id"], id=premises_id, missing=premises_id + need["id"] + 10_000)
    extra = {"If-Match": f'"{need["version"]}"'} if if_match else {}
    response = world.client.request(method, url, json=body, headers=world.headers(who, **extra))
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
    if expected == 401:
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    if expected in (403, 404) and "{need}" in path:
        # A refused write changed nothing, and the refusal tells nothing of the need.
        assert world.repo.get_need(need["id"]).version == need["version"]
        assert COMPANY_NAME not in response.text and COMPANY_EMAIL not in response.text
    if expected == 404 and who == "other_company" and "{need}" in path:
        # Exactly the answer for an id that was never created: existence does not leak.
        never = world.client.request(
            method,
            path.format(need=10_000_000, id=premises_id),
            json=body,
            headers=world.headers(who, **extra),
        )
        assert never.status_code == 404
        assert never.json()["detail"].replace("10000000", "N") == response.json()["detail"].replace(
            str(need["id"]), "N"
        )


# -- needs ------------------------------------------------------------------------------------


def test_a_company_saves_a_need_and_its_naf_code_suggests_the_uses(world: World) -> None:
    created = world.client.post(
        "/needs",
        json=need_body(owner_account=NAMES["company"]),
        headers=world.headers("company"),
    )
    assert created.status_code == 201, created.text
    body = NeedView.model_validate(created.json())
    assert body.owner_account == NAMES["company"]
    assert body.naf_code == "25.62B"
    assert body.uses == ["production"]  # stated no uses: the NAF code's are stored
    assert body.suggested_uses == ["production"]
    assert body.naf_label == "Fabrication de produits métalliques"
    assert body.communes == ["94081"]  # the commune's name, read against the territory
    assert created.headers["ETag"] == '"1"'
    assert created.headers["Location"] == f"/needs/{body.id}"
    # Stated uses are kept; the suggestion is still shown.
    stated = world.need(uses=["logistics"])
    assert stated["uses"] == ["logistics"]
    assert stated["suggested_uses"] == ["production"]
    # The stored need says the same.
    read = world.client.get(
        f"/needs/{body.id}", headers=world.headers("company", **{"Accept-Language": "en"})
    )
    assert read.json()["uses"] == ["production"]
    assert read.json()["naf_label"] == "Manufacture of fabricated metal products"
    assert read.headers["ETag"] == '"1"'


def test_a_company_may_not_give_its_need_away_and_staff_give_needs_to_companies(
    world: World,
) -> None:
    refused = world.client.post(
        "/needs",
        json=need_body(owner_account=NAMES["other_company"]),
        headers=world.headers("company"),
    )
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("owner_account: ")
    handed = world.client.post(
        "/needs", json=need_body(owner_account=NAMES["company"]), headers=world.headers("staff")
    )
    assert handed.status_code == 201
    assert handed.json()["owner_account"] == NAMES["company"]
    assert (
        world.client.get(
            f"/needs/{handed.json()['id']}", headers=world.headers("company")
        ).status_code
        == 200
    )
    for wrong in (NAMES["developer"], "personne", ["pme-alpha"], 1):
        bad = world.client.post(
            "/needs", json=need_body(owner_account=wrong), headers=world.headers("staff")
        )
        assert bad.status_code == 422, wrong
        assert bad.json()["errors"][0]["field"] == "owner_account"
    need = world.need()
    moved = world.client.patch(
        f"/needs/{need['id']}",
        json={"owner_account": NAMES["other_company"]},
        headers=world.headers("company", **{"If-Match": '"1"'}),
    )
    assert moved.status_code == 403
    assert world.repo.get_need(need["id"]).owner_account == NAMES["company"]


def test_invalid_needs_name_the_field(world: World) -> None:
    headers = world.headers("company")
    for body, field in (
        (need_body(surface_min_m2=900, surface_max_m2=500), "surface_min_m2"),
        (need_body(naf_code="bogus"), "naf_code"),
        (need_body(communes=["Lyon"]), "communes"),
        (need_body(alert_threshold=120), "alert_threshold"),
        (need_body(id=4), "id"),
    ):
        response = world.client.post("/needs", json=body, headers=headers)
        assert response.status_code == 422, (field, response.text)
        assert response.json()["errors"][0]["field"].startswith(field), response.json()


def test_the_list_shows_a_company_its_own_needs_and_staff_every_need(world: World) -> None:
    mine = world.need()
    theirs = world.need("other_company")
    world.client.delete(
        f"/needs/{theirs['id']}", headers=world.headers("other_company", **{"If-Match": '"1"'})
    )

    def ids(who: str, **params: Any) -> set[int]:
        response = world.client.get(
            "/needs", params={"limit": 500, **params}, headers=world.headers(who)
        )
        assert response.status_code == 200, response.text
        page = NeedsPage.model_validate(response.json())
        assert page.total == len(page.items)
        return {n.id for n in page.items}

    company = ids("company")
    assert mine["id"] in company and theirs["id"] not in company
    assert all(world.repo.get_need(i).owner_account == NAMES["company"] for i in company)
    staff = ids("staff")
    assert {mine["id"], theirs["id"]} <= staff
    assert theirs["id"] not in ids("staff", active=True)
    assert theirs["id"] in ids("staff", active=False)
    assert ids("staff", owner=NAMES["other_company"]) == ids("other_company")
    refused = world.client.get(
        "/needs", params={"owner": NAMES["other_company"]}, headers=world.headers("company")
    )
    assert refused.status_code == 403
    # Paginated like GET /premises.
    page = world.client.get("/needs", params={"limit": 1}, headers=world.headers("staff")).json()
    assert len(page["items"]) == 1 and page["total"] == len(staff)
    assert {"rel": "next", "href": "/needs?offset=1&limit=1"} in page["links"]
    too_many = world.client.get("/needs", params={"limit": 10_000}, headers=world.headers("staff"))
    assert too_many.status_code == 400
    assert too_many.json()["errors"][0]["field"] == "limit"


def test_patch_merges_checks_the_version_and_delete_deactivates(world: World) -> None:
    need = world.need()
    url = f"/needs/{need['id']}"
    missing = world.client.patch(url, json={"headcount": 12}, headers=world.headers("company"))
    assert missing.status_code == 428
    assert missing.json()["detail"].startswith("If-Match : ")
    assert "GET /needs/{id}" in missing.json()["detail"]
    english = world.client.patch(
        url, json={"headcount": 12}, headers=world.headers("company", **{"Accept-Language": "en"})
    )
    assert english.json()["detail"].startswith("If-Match: required")
    garbled = world.client.patch(
        url, json={"headcount": 12}, headers=world.headers("company", **{"If-Match": "x"})
    )
    assert garbled.status_code == 400
    stale = world.client.patch(
        url, json={"headcount": 12}, headers=world.headers("company", **{"If-Match": '"7"'})
    )
    assert stale.status_code == 412
    assert stale.json()["errors"][0]["field"] == "If-Match"
    incoherent = world.client.patch(
        url, json={"surface_max_m2": 100}, headers=world.headers("company", **{"If-Match": '"1"'})
    )
    assert incoherent.status_code == 422
    assert incoherent.json()["errors"][0]["field"] == "surface_min_m2"
    assert world.repo.get_need(need["id"]).version == 1

    edited = world.client.patch(
        url,
        json={"headcount": 12, "alert_threshold": 85},
        headers=world.headers("company", **{"If-Match": '"1"'}),
    )
    assert edited.status_code == 200, edited.text
    body = edited.json()
    # A partial merge: the rest of the need is unchanged.
    assert (body["headcount"], body["alert_threshold"], body["surface_min_m2"]) == (12, 85, 300)
    assert body["communes"] == ["94081"] and body["contact_email"] == COMPANY_EMAIL
    assert edited.headers["ETag"] == '"2"'

    gone = world.client.delete(url, headers=world.headers("company", **{"If-Match": '"2"'}))
    assert gone.status_code == 200, gone.text
    assert gone.json()["active"] is False
    assert gone.headers["ETag"] == '"3"'
    # Deactivated, not erased: still readable, with its whole history.
    assert world.client.get(url, headers=world.headers("company")).json()["active"] is False
    unchanged = world.client.get(url, headers=world.headers("company", **{"If-None-Match": '"3"'}))
    assert unchanged.status_code == 304
    history = world.client.get(f"{url}/history", headers=world.headers("staff")).json()
    assert [e["action"] for e in history] == ["create", "update", "update"]
    assert [e["version"] for e in history] == [1, 2, 3]
    assert {e["actor"] for e in history} == {NAMES["company"]}
    assert history[1]["changes"]["headcount"] == [None, 12]
    assert history[2]["changes"] == {"active": [True, False]}


def test_two_patches_on_the_same_version_one_wins_one_is_412_nothing_lost(world: World) -> None:
    need = world.need()
    url = f"/needs/{need['id']}"
    barrier = threading.Barrier(2)
    results: dict[str, Any] = {}
    changes = {"company": {"headcount": 30}, "staff": {"max_rent_eur_m2_year": 120}}

    def edit(who: str) -> None:
        barrier.wait()
        results[who] = world.client.patch(
            url, json=changes[who], headers=world.headers(who, **{"If-Match": '"1"'})
        )

    threads = [threading.Thread(target=edit, args=(who,)) for who in changes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(r.status_code for r in results.values()) == [200, 412], {
        k: r.text for k, r in results.items()
    }
    loser = next(who for who, r in results.items() if r.status_code == 412)
    assert world.repo.get_need(need["id"]).version == 2
    # The loser re-reads, re-applies and saves: both changes are kept.
    etag = world.client.get(url, headers=world.headers(loser)).headers["ETag"]
    retry = world.client.patch(
        url, json=changes[loser], headers=world.headers(loser, **{"If-Match": etag})
    )
    assert retry.status_code == 200, retry.text
    final = world.repo.get_need(need["id"])
    assert (final.headcount, final.max_rent_eur_m2_year, final.version) == (30, 120, 3)


# -- NAF -------------------------------------------------------------------------------------


def test_naf_codes_are_normalised_labelled_and_suggest_uses(world: World) -> None:
    fr = world.client.get("/naf/1071c")
    assert fr.status_code == 200
    assert fr.json() == {
        "code": "10.71C",
        "division": "10",
        "label": "Industries alimentaires",
        "suggested_uses": ["production", "food_processing"],
    }
    en = world.client.get("/naf/10.71C", params={"lang": "en"})
    assert en.json()["label"] == "Manufacture of food products"
    bank = world.client.get("/naf/64.19Z")
    assert bank.status_code == 200 and bank.json()["suggested_uses"] == []
    bad = world.client.get("/naf/abc")
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "code"
    assert "25.62B" in bad.json()["detail"]  # says what a code looks like
    for garbled in ("١٢٣٤Z", "25.62", "25.62BB"):
        refused = world.client.get(f"/naf/{garbled}")
        assert refused.status_code == 422, garbled
        assert refused.json()["errors"][0]["field"] == "code"
    unknown = world.client.get("/naf/04.00Z")
    assert unknown.status_code == 404
    assert unknown.json()["errors"][0]["field"] == "code"


# -- matches ----------------------------------------------------------------------------------


def test_a_saved_need_matches_as_post_match_does_in_the_asked_language(world: World) -> None:
    for _ in range(3):
        world.listing()
    world.listing(surface_m2=5000, title="Trop grand")
    need = world.need()
    saved = world.client.get(
        f"/needs/{need['id']}/matches", params={"k": 5}, headers=world.headers("company")
    )
    assert saved.status_code == 200, saved.text
    body = MatchResponse.model_validate(saved.json())
    assert body.lang == "fr"
    assert body.results, "the fitting listings are matched"
    assert all(r.premises.surface_m2 <= 600 for r in body.results)
    stateless = world.client.post("/match", params={"k": 5}, json=need_body())
    assert stateless.status_code == 200
    assert saved.json() == stateless.json()  # one code path, the same answer
    english = world.client.get(
        f"/needs/{need['id']}/matches",
        headers=world.headers("staff", **{"Accept-Language": "en-GB,en;q=0.9"}),
    ).json()
    assert english["lang"] == "en"
    texts_fr = [r.text for m in body.results for r in m.reasons]
    texts_en = [r["text"] for m in english["results"] for r in m["reasons"]]
    assert texts_fr and texts_en and set(texts_fr).isdisjoint(texts_en)
    assert (
        world.client.get(
            f"/needs/{need['id']}/matches", params={"lang": "en"}, headers=world.headers("company")
        ).json()["lang"]
        == "en"
    )
    # Public view only: no owner, no unpublished contact.
    assert all("owner_account" not in m["premises"] for m in saved.json()["results"])


# -- demand -----------------------------------------------------------------------------------


def test_demand_counts_the_needs_a_listing_fits_as_forward_matching_does(world: World) -> None:
    premises_id, _ = world.listing(title="Atelier demandé")
    fitting = [
        world.need(),
        world.need("other_company", surface_min_m2=400, surface_max_m2=1500, uses=["craft"]),
        world.need(communes=["94081", "94041"], tenure="rent"),
    ]
    not_fitting = [
        world.need(surface_min_m2=2000, surface_max_m2=3000),  # too small
        world.need(uses=["logistics"]),  # not this use
        world.need(max_rent_eur_m2_year=50),  # too dear
    ]
    inactive = world.need()
    world.client.delete(
        f"/needs/{inactive['id']}", headers=world.headers("company", **{"If-Match": '"1"'})
    )
    # Forward matching of every active need over the whole catalogue, as the cross-check.
    with world.repo.connect() as conn:
        index = world.client.app.state.match_index.current(conn)  # type: ignore[attr-defined]
        active = needs.all_needs(conn, active=True)
    forward = {
        n.id
        for n in active
        if premises_id in match(index, n, k=len(index), explain=False, relax=False).ids
    }
    assert {n["id"] for n in fitting} <= forward
    assert forward.isdisjoint({n["id"] for n in [*not_fitting, inactive]})

    owner = world.client.get(f"/premises/{premises_id}/demand", headers=world.headers("developer"))
    assert owner.status_code == 200, owner.text
    demand = Demand.model_validate(owner.json())
    assert demand.n_fitting == len(forward)
    assert demand.n_active_needs == len(active)
    assert demand.needs is None
    assert sum(demand.surface_bands.values()) == demand.n_fitting
    assert demand.surface_bands["1000-3000"] == 0  # the 2000-3000 m² need does not fit
    assert demand.uses["craft"] >= 1 and "logistics" not in demand.uses
    assert {c.code: c.name for c in demand.communes}["94041"] == "Ivry-sur-Seine"
    assert demand.tenure["rent"] >= 1
    # Counts and profiles, never the companies.
    for secret in (COMPANY_NAME, COMPANY_EMAIL, SIREN, NAMES["company"], NAMES["other_company"]):
        assert secret not in owner.text
    assert "need_id" not in owner.text and '"id"' not in owner.text

    staff = world.client.get(f"/premises/{premises_id}/demand", headers=world.headers("staff"))
    listed_needs = Demand.model_validate(staff.json()).needs
    assert listed_needs is not None
    assert {n.id for n in listed_needs} == forward
    assert {n.company_name for n in listed_needs} == {COMPANY_NAME}
    scores = [n.score for n in listed_needs]
    assert scores == sorted(scores, reverse=True)
    assert demand.n_above_threshold == sum(n.score >= n.alert_threshold for n in listed_needs)

    # A need that changes is seen by the next request (the compiled needs are not stale).
    dropped = fitting[0]
    world.client.patch(
        f"/needs/{dropped['id']}",
        json={"uses": ["logistics"]},
        headers=world.headers("company", **{"If-Match": '"1"'}),
    )
    again = world.client.get(f"/premises/{premises_id}/demand", headers=world.headers("staff"))
    assert again.json()["n_fitting"] == demand.n_fitting - 1
    assert dropped["id"] not in {n["id"] for n in again.json()["needs"]}


# -- contact requests ------------------------------------------------------------------------


def test_a_company_reveals_its_contact_to_one_listing_owner_by_a_contact_request(
    world: World,
) -> None:
    premises_id, _ = world.listing(title="Atelier convoité")
    need = world.need()

    def developer_sees_company() -> list[bool]:
        bodies = [
            world.client.get(url, headers=world.headers(who)).text
            for who in ("developer", "other_developer")
            for url in (
                f"/premises/{premises_id}/demand",
                "/me/requests?limit=500",
                f"/premises/{premises_id}",
                "/premises?limit=500",
            )
        ]
        return [COMPANY_EMAIL in b or "06 12 34 56 78" in b for b in bodies]

    assert not any(developer_sees_company())

    sent = world.client.post(
        f"/premises/{premises_id}/contact-requests",
        json={
            "need_id": need["id"],
            "message": "Bonjour, votre atelier nous intéresse.",
            "contact_name": "Mme Dirigeante",
            "contact_email": COMPANY_EMAIL,
            "contact_phone": "06 12 34 56 78",
        },
        headers=world.headers("company"),
    )
    assert sent.status_code == 201, sent.text
    request = sent.json()
    assert request["sender_account"] == NAMES["company"]
    assert request["recipient_account"] == NAMES["developer"]
    assert request["created_at"]

    received = world.client.get("/me/requests", headers=world.headers("developer")).json()
    mine = [r for r in received["items"] if r["id"] == request["id"]]
    assert mine and mine[0]["contact_email"] == COMPANY_EMAIL
    assert mine[0]["contact_phone"] == "06 12 34 56 78"
    assert mine[0]["need_id"] is None  # which need it was stays the company's
    assert all(r["recipient_account"] == NAMES["developer"] for r in received["items"])
    # Revealed to that listing's owner only: never to another developer, nor elsewhere.
    seen = developer_sees_company()
    assert seen == [False, True, False, False, False, False, False, False]
    sent_list = world.client.get("/me/requests", headers=world.headers("company")).json()
    assert request["id"] in {r["id"] for r in sent_list["items"]}
    assert all(r["sender_account"] == NAMES["company"] for r in sent_list["items"])
    other = world.client.get("/me/requests", headers=world.headers("other_company")).json()
    assert request["id"] not in {r["id"] for r in other["items"]}
    staff = world.client.get("/me/requests", headers=world.headers("staff")).json()
    assert request["id"] in {r["id"] for r in staff["items"]}
    assert [r["need_id"] for r in staff["items"] if r["id"] == request["id"]] == [need["id"]]


def test_contact_requests_refuse_withdrawn_listings_and_others_needs(world: World) -> None:
    premises_id, version = world.listing()
    url = f"/premises/{premises_id}/contact-requests"
    headers = world.headers("company")
    theirs = world.need("other_company")
    for body, field in (
        ({"message": "x", "contact_email": "a@b.fr", "need_id": theirs["id"]}, "need_id"),
        ({"message": "x", "contact_email": "a@b.fr", "need_id": 9_999_999}, "need_id"),
        ({"message": "x"}, "contact_email"),
        ({"message": "", "contact_email": "a@b.fr"}, "message"),
        ({"message": "x", "contact_email": "pas-un-mail"}, "contact_email"),
    ):
        response = world.client.post(url, json=body, headers=headers)
        assert response.status_code == 422, (body, response.text)
        assert response.json()["errors"][0]["field"] == field
    assert (
        world.client.post(
            "/premises/9999999/contact-requests",
            json={"message": "x", "contact_email": "a@b.fr"},
            headers=headers,
        ).status_code
        == 404
    )
    world.client.delete(
        f"/premises/{premises_id}",
        headers=world.headers("developer", **{"If-Match": f'"{version}"'}),
    )
    withdrawn = world.client.post(
        url, json={"message": "x", "contact_email": "a@b.fr"}, headers=headers
    )
    assert withdrawn.status_code == 409
    assert withdrawn.json()["detail"].startswith(f"premises {premises_id}: ")
    assert "withdrawn" in withdrawn.json()["detail"]


def test_the_new_routes_are_documented(world: World) -> None:
    paths = world.client.get("/openapi.json").json()["paths"]
    patch = paths["/needs/{need_id}"]["patch"]
    assert {"401", "403", "404", "412", "428"} <= set(patch["responses"])
    for path in (
        "/needs",
        "/needs/{need_id}/history",
        "/needs/{need_id}/matches",
        "/premises/{premises_id}/demand",
        "/premises/{premises_id}/contact-requests",
        "/me/requests",
        "/naf/{code}",
    ):
        assert path in paths, path
