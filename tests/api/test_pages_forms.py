"""The search URL and the pages' forms, without a browser: round trips, refusals, CSRF."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.auth import hash_password
from api.main import create_app
from api.routes.pages_search import need_query, parse_search
from geodata.storage import Repository, accounts, contacts
from geodata.territory import default_territory
from tests.api.conftest import make_settings

PASSWORD = "une phrase de passe assez longue"


def test_a_search_survives_its_own_url() -> None:
    territory = default_territory()
    pairs = [
        ("surface_min_m2", "600"),
        ("surface_max_m2", "1 200,5"),
        ("uses", "logistics"),
        ("uses", "craft"),
        ("communes", "Rungis, 94041"),
        ("tenure", "rent"),
        ("max_rent_eur_m2_year", "120"),
        ("place_label", "Siège <b>"),
        ("place_lon", "2.355"),
        ("place_lat", "48.759"),
        ("place_max_m", "5000"),
        ("min_loading_docks", "2"),
        ("wanted_by", "2027-03-01"),
        ("required", ""),
        ("required", "surface"),
        ("required", "location"),
    ]
    form = parse_search(pairs, territory, "fr")
    assert form.errors == []
    need = form.need
    assert need["surface_max_m2"] == 1200.5
    assert need["communes"] == ["94065", "94041"]
    assert need["places"][0]["label"] == "Siège <b>"
    assert need["required"] == ["surface", "location"]
    again = parse_search(need_query(need, territory), territory, "fr")
    assert again.errors == []
    assert again.need == need


def test_no_required_box_ticked_means_no_required_criterion() -> None:
    territory = default_territory()
    base = [("surface_min_m2", "100"), ("surface_max_m2", "200")]
    assert parse_search([*base, ("required", "")], territory, "fr").need["required"] == []
    assert "required" not in parse_search(base, territory, "fr").need  # the schema's default


@pytest.mark.parametrize(
    ("pairs", "field", "text"),
    [
        ([("surface_min_m2", "100")], "surface_max_m2", "Surface maximale (m²) : à renseigner."),
        (
            [("surface_min_m2", "1e999"), ("surface_max_m2", "200")],
            "surface_min_m2",
            "n'est pas un nombre",
        ),
        (
            [("surface_min_m2", "100"), ("surface_max_m2", "200"), ("min_loading_docks", "1.5")],
            "min_loading_docks",
            "n'est pas un nombre entier",
        ),
        (
            [("surface_min_m2", "100"), ("surface_max_m2", "200"), ("communes", "Paris")],
            "communes",
            "Paris",
        ),
        (
            [("surface_min_m2", "100"), ("surface_max_m2", "200"), ("place_label", "Siège")],
            "places",
            "Lieu 1",
        ),
    ],
)
def test_bad_values_name_their_field(pairs: list[tuple[str, str]], field: str, text: str) -> None:
    form = parse_search(pairs, default_territory(), "fr")
    assert [f for f, _ in form.errors] == [field]
    assert text in form.errors[0][1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    db = tmp_path_factory.mktemp("forms") / "implanter.db"
    with TestClient(create_app(make_settings(db))) as client:
        repo = Repository(f"sqlite:///{db}")
        with repo.begin() as conn:
            for name, role in (("pme-forms", "company"), ("dev-forms", "developer")):
                accounts.create_account(
                    conn,
                    name=name,
                    email=f"{name}@exemple.invalid",
                    role=role,
                    password_hash=hash_password(PASSWORD),
                )
        repo.dispose()
        yield client, db


def _sign_in(client: TestClient, name: str) -> str:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/login",
        data={"email": f"{name}@exemple.invalid", "password": PASSWORD, "csrf_token": token},
        headers={"Accept": "application/json"},
    )
    assert response.status_code == 200, response.text
    return str(response.json()["csrf_token"])


SEARCH = {"surface_min_m2": "800", "surface_max_m2": "1500", "uses": "logistics"}


def test_saving_a_search_needs_a_company_session_and_its_csrf_token(
    site: tuple[TestClient, Path],
) -> None:
    client, db = site
    client.cookies.clear()
    anonymous = client.post("/recherche/enregistrer", data=SEARCH, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/login?lang=fr&next=%2Frecherche%3F")
    csrf = _sign_in(client, "pme-forms")
    forged = client.post("/recherche/enregistrer", data={**SEARCH, "csrf_token": "0" * 64})
    assert forged.status_code == 403
    saved = client.post(
        "/recherche/enregistrer",
        data={**SEARCH, "csrf_token": csrf, "company_name": "PME Formulaires"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    need_id = int(re.search(r"saved=(\d+)", saved.headers["location"]).group(1))  # type: ignore[union-attr]
    need = Repository(f"sqlite:///{db}").get_need(need_id)
    assert (need.owner_account, need.company_name) == ("pme-forms", "PME Formulaires")
    client.cookies.clear()
    developer = _sign_in(client, "dev-forms")
    refused = client.post("/recherche/enregistrer", data={**SEARCH, "csrf_token": developer})
    assert refused.status_code == 403
    client.cookies.clear()


def test_contacting_an_owner_from_the_page(site: tuple[TestClient, Path]) -> None:
    client, db = site
    client.cookies.clear()
    page = client.get("/locaux/3")
    assert page.status_code == 200 and 'id="contact-login"' in page.text
    csrf = _sign_in(client, "pme-forms")
    page = client.get("/locaux/3")
    assert 'action="/locaux/3/contact?lang=fr"' in page.text
    # Neither an e-mail nor a phone: the page says so, and nothing is sent.
    missing = client.post("/locaux/3/contact", data={"message": "Bonjour", "csrf_token": csrf})
    assert missing.status_code == 422
    assert "contact_email" in missing.text and 'id="contact-errors"' in missing.text
    sent = client.post(
        "/locaux/3/contact",
        data={"message": "Bonjour", "contact_phone": "01 02 03 04 05", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert (
        sent.status_code == 303
        and sent.headers["location"] == "/locaux/3?lang=fr&sent=true#contact"
    )
    repo = Repository(f"sqlite:///{db}")
    with repo.connect() as conn:
        got = contacts.list_contact_requests(conn, sender_account="pme-forms").items
    assert [(c.premises_id, c.contact_phone) for c in got] == [(3, "01 02 03 04 05")]
    client.cookies.clear()


def test_an_unknown_listing_is_a_page_not_a_crash(site: tuple[TestClient, Path]) -> None:
    client, _ = site
    missing = client.get("/locaux/999999?lang=en")
    assert missing.status_code == 404
    assert "Premises not found" in missing.text
    assert client.get("/locaux/0").status_code == 422


@pytest.mark.parametrize(
    "query",
    [
        "required=bogus",
        "kinds=castle",
        "uses=bogus",
        "tenure=lease",
        "wanted_by=2020-13-45",
        "center_lon=2.4",
        "radius_m=-5",
        "max_rent_eur_m2_year=0",
        "surface_min_m2=nan",
        "place_lon=2.3&place_lat=48.7",
        "place_label=x&place_lon=200&place_lat=48.7",
        "naf_code=banana",
        "communes=%3Cscript%3E",
        "max_sale_price_eur=1&tenure=rent",
    ],
)
def test_no_bad_search_is_a_server_error(site: tuple[TestClient, Path], query: str) -> None:
    client, _ = site
    base = "" if query.startswith("surface_min_m2") else "surface_min_m2=100&"
    response = client.get(f"/recherche?{base}surface_max_m2=900&{query}")
    assert response.status_code == 422, (query, response.status_code)
    assert 'role="alert"' in response.text
    assert "<script>" not in response.text.split('role="alert"', 1)[1].split("</div>", 1)[0]
