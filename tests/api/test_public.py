"""Anonymous readers never see who owns a listing, nor a contact the owner did not publish."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from geodata.schemas import CONTACT_FIELDS, Premises, PremisesCreate, PremisesPublic
from geodata.storage import Repository
from geodata.territory import default_territory

#: Every field of a stored listing the model marks as personal (``x-personal`` in its schema).
PERSONAL = {
    name
    for name, info in Premises.model_fields.items()
    if isinstance(info.json_schema_extra, dict) and "x-personal" in info.json_schema_extra
}
#: The personal fields PremisesPublic leaves out altogether.
NEVER_PUBLIC = set(Premises.model_fields) - set(PremisesPublic.model_fields)


def _listing(ref: str, published: bool) -> PremisesCreate:
    secret = ref.lower()
    return PremisesCreate.model_validate(
        {
            "external_ref": ref,
            "title": f"Atelier {ref}",
            "kind": "workshop",
            "surface_m2": 400,
            "tenure": "rent",
            "rent_eur_m2_year": 120,
            "lon": 2.3920,
            "lat": 48.7870,
            "owner_account": f"compte-{secret}",
            "contact_name": f"Nom-{secret}",
            "contact_email": f"mail-{secret}@exemple.invalid",
            "contact_phone": f"+33 1 00 00 00 0{len(ref)}",
            "contact_public": published,
        },
        context={"territory": default_territory()},
    )


@pytest.fixture(scope="module")
def anonymous(
    tmp_path_factory: pytest.TempPathFactory, settings_for: Callable[..., Settings]
) -> Iterator[tuple[TestClient, dict[str, Premises]]]:
    path: Path = tmp_path_factory.mktemp("public") / "implanter.db"
    repo = Repository(f"sqlite:///{path}")
    repo.migrate()
    stored = {
        ref: repo.add_premises(_listing(ref, published), actor="owner")
        for ref, published in (("PRIVE", False), ("PUBLIE", True))
    }
    repo.dispose()
    with TestClient(create_app(settings_for(path, demo=False))) as client:
        yield client, stored


def _responses(client: TestClient, stored: dict[str, Premises]) -> dict[str, Any]:
    urls = [
        "/premises",
        "/premises?commune=vitry-sur-seine",
        *(f"/premises/{item.id}" for item in stored.values()),
        "/",
        "/?lang=en",
        # The OGC API - Features views of the same listings (GeoJSON and HTML).
        "/collections/premises/items?limit=1000",
        "/collections/premises/items?limit=1000&f=html",
        *(f"/collections/premises/items/{item.id}" for item in stored.values()),
    ]
    out = {}
    for url in urls:
        # The home page as a browser asks for it (a JSON client gets the OGC landing page).
        headers = {"accept": "text/html"} if url.startswith("/?") or url == "/" else {}
        response = client.get(url, headers=headers)
        assert response.status_code == 200, (url, response.text)
        out[url] = response
    return out


def test_the_personal_fields_are_the_owner_and_the_contact() -> None:
    assert {"owner_account", *CONTACT_FIELDS} == PERSONAL
    assert {"owner_account"} == NEVER_PUBLIC


def test_no_personal_field_in_any_anonymous_response(
    anonymous: tuple[TestClient, dict[str, Premises]],
) -> None:
    client, stored = anonymous
    private, published = stored["PRIVE"], stored["PUBLIE"]
    for url, response in _responses(client, stored).items():
        text = response.text
        for name in PERSONAL:  # no value of the unpublished listing's personal fields
            value = getattr(private, name)
            assert value and value not in text, (url, name)
        for name in NEVER_PUBLIC:  # nor the owner of the published one
            assert getattr(published, name) not in text, (url, name)
        if not response.headers["content-type"].startswith("application/json"):
            continue
        body = response.json()
        items = body.get("items", [body])
        assert items
        for item in items:
            assert not NEVER_PUBLIC & set(item), (url, item)
            shown = {name: item[name] for name in PERSONAL - NEVER_PUBLIC}
            if item["id"] == private.id:
                assert shown == dict.fromkeys(shown), (url, shown)
            else:
                assert shown == {n: getattr(published, n) for n in shown}, (url, shown)


def test_the_published_schema_of_the_public_routes_has_no_owner_field(
    anonymous: tuple[TestClient, dict[str, Premises]],
) -> None:
    client, _ = anonymous
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    # The write routes take the owner's fields; every schema a public read answers with,
    # and every schema those refer to, has none.
    seen: set[str] = set()
    todo = [
        document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]
        for path in ("/premises", "/premises/{premises_id}")
    ]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.rsplit("/", 1)[1] not in seen:
                seen.add(ref.rsplit("/", 1)[1])
                todo.append(schemas[ref.rsplit("/", 1)[1]])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    assert {"PremisesPage", "PremisesPublic"} <= seen
    for name in seen:
        assert not NEVER_PUBLIC & set(schemas[name].get("properties", {})), name
    public = schemas["PremisesPublic"]["properties"]
    assert set(CONTACT_FIELDS) <= set(public)
    assert public["contact_email"]["x-personal"] == "contact"


def test_the_commune_filter_takes_a_name(
    anonymous: tuple[TestClient, dict[str, Premises]],
) -> None:
    client, stored = anonymous
    for name in ("Vitry-sur-Seine", "vitry sur seine", "VITRY SUR SEINE", "94081"):
        body = client.get("/premises", params={"commune": name}).json()
        assert body["total"] == len(stored), name
    assert client.get("/premises", params={"commune": "Rungis"}).json()["total"] == 0
    wrong = client.get("/premises", params={"commune": "Vitri"})
    assert wrong.status_code == 400
    assert wrong.json()["detail"].startswith("commune: ")
    assert "Vitry-sur-Seine (94081)" in wrong.json()["detail"]
