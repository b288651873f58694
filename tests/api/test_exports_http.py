"""``GET /exports/premises``: every format read back, the filters and views of ``GET /premises``,
CSV injection neutralised, streamed in pages.

Every test runs on SQLite and on PostGIS, through the real app with its lifespan entered.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

import pyogrio

from api.auth import issue_key
from api.main import create_app
from api.routes import exports
from geodata.io import read_cnig
from geodata.schemas import PremisesCreate
from geodata.storage import Repository, accounts
from geodata.territory import default_territory
from tests.api.conftest import backend_url, empty_settings
from tests.conftest import BACKENDS

NAMES = {"company": "pme-alpha", "developer": "sci-orly", "other": "sogaris-bis", "staff": "eco"}
FORMULA = '=HYPERLINK("http://x")'
PHONE = "+33 1 45 60 00 00"


def _listing(**extra: Any) -> PremisesCreate:
    data = {
        "title": "Atelier",
        "kind": "workshop",
        "uses": ["craft"],
        "surface_m2": 450,
        "tenure": "rent",
        "rent_eur_m2_year": 110.5,
        "lon": 2.3920,
        "lat": 48.7870,
        "contact_name": "Mme Privée",
        "contact_email": "privee@exemple.invalid",
        "contact_phone": PHONE,
        **extra,
    }
    return PremisesCreate.model_validate(data, context={"territory": default_territory()})


@dataclass
class World:
    client: TestClient
    repo: Repository
    keys: dict[str, str]
    ids: dict[str, int]

    def get(self, who: str, query: str = "", **headers: str) -> Any:
        auth = {} if who == "anonymous" else {"Authorization": f"Bearer {self.keys[who]}"}
        return self.client.get(f"/exports/premises{query}", headers={**auth, **headers})


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with (
        backend_url(request, tmp_path_factory, "exports") as url,
        TestClient(create_app(empty_settings(url))) as client,
    ):
        repo: Repository = client.app.state.repo  # type: ignore[attr-defined]
        keys = {}
        with repo.begin() as conn:
            for who, name in NAMES.items():
                role = "developer" if who == "other" else who
                account = accounts.create_account(
                    conn, name=name, email=f"{name}@exemple.invalid", role=role
                )
                keys[who] = issue_key(conn, account.id).key
        now = datetime.now(UTC)
        stale = now - timedelta(days=200)
        dev, other = NAMES["developer"], NAMES["other"]
        listings = {
            "formula": _listing(
                title=FORMULA,
                description="-5 % la première année\ttab",
                address="@home",
                owner_account=dev,
                last_verified_at=now,
                footprint={
                    "type": "Polygon",
                    "coordinates": [
                        [
                            [2.3919, 48.7869],
                            [2.3921, 48.7869],
                            [2.3921, 48.7871],
                            [2.3919, 48.7871],
                            [2.3919, 48.7869],
                        ]
                    ],
                },
            ),
            "private": _listing(
                title="Entrepôt privé", owner_account=other, surface_m2=1200, kind="warehouse"
            ),
            "public_contact": _listing(
                title="Local à Rungis",
                owner_account=other,
                contact_public=True,
                lon=2.35,
                lat=48.75,
                surface_m2=800,
            ),
            "stale": _listing(title="Ancien", owner_account=other, last_verified_at=stale),
            "own_stale": _listing(title="Le mien", owner_account=dev, last_verified_at=stale),
            "withdrawn": _listing(title="Retiré", owner_account=other, status="withdrawn"),
        }
        stored = repo.add_many_premises(list(listings.values()), actor="fixture")
        ids = {key: item.id for key, item in zip(listings, stored, strict=True)}
        yield World(client, repo, keys, ids)


def _csv_rows(response: Any, *, sep: str = ",") -> list[dict[str, str]]:
    text = response.content.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text), delimiter=sep))


def _ids(rows: list[dict[str, str]]) -> set[int]:
    return {int(r["id"]) for r in rows}


# -- who sees what --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "seen"),
    [
        ("anonymous", {"formula", "private", "public_contact"}),
        ("company", {"formula", "private", "public_contact"}),
        ("developer", {"formula", "private", "public_contact", "own_stale"}),
        ("other", {"formula", "private", "public_contact", "stale", "withdrawn"}),
        ("staff", {"formula", "private", "public_contact", "stale", "own_stale", "withdrawn"}),
    ],
)
def test_each_reader_exports_what_the_search_shows_it(world: World, who: str, seen: set) -> None:
    response = world.get(who, "?format=csv")
    assert response.status_code == 200, response.text
    assert _ids(_csv_rows(response)) == {world.ids[k] for k in seen}
    assert response.headers["x-total-count"] == str(len(seen))
    # The same listings as the search itself.
    auth = {} if who == "anonymous" else {"Authorization": f"Bearer {world.keys[who]}"}
    page = world.client.get("/premises?limit=500", headers=auth).json()
    assert _ids(_csv_rows(response)) == {item["id"] for item in page["items"]}


def test_the_public_view_has_no_owner_and_only_published_contacts(world: World) -> None:
    rows = {int(r["id"]): r for r in _csv_rows(world.get("anonymous", "?format=csv"))}
    assert "owner_account" not in next(iter(rows.values()))
    assert rows[world.ids["private"]]["contact_email"] == ""
    assert rows[world.ids["formula"]]["contact_phone"] == ""
    assert rows[world.ids["public_contact"]]["contact_email"] == "privee@exemple.invalid"


def test_a_developer_gets_its_own_listings_in_full_and_the_others_public(world: World) -> None:
    rows = {int(r["id"]): r for r in _csv_rows(world.get("developer", "?format=csv"))}
    own, other = rows[world.ids["formula"]], rows[world.ids["private"]]
    assert own["owner_account"] == NAMES["developer"]
    assert own["contact_email"] == "privee@exemple.invalid"
    assert other["owner_account"] == ""
    assert other["contact_email"] == ""
    staff = {int(r["id"]): r for r in _csv_rows(world.get("staff", "?format=csv"))}
    assert staff[world.ids["private"]]["owner_account"] == NAMES["other"]
    assert staff[world.ids["private"]]["contact_email"] == "privee@exemple.invalid"


@pytest.mark.parametrize(
    "query",
    [
        "kind=warehouse",
        "min_surface_m2=500&max_surface_m2=1000",
        "commune=Rungis",
        "q=entrepot",
        "bbox=2.34,48.74,2.36,48.76",
        "use=craft&max_rent_eur_m2_year=120",
        "status=withdrawn",
    ],
)
def test_every_filter_of_the_search_applies(world: World, query: str) -> None:
    for who in ("anonymous", "staff"):
        auth = {} if who == "anonymous" else {"Authorization": f"Bearer {world.keys[who]}"}
        searched = world.client.get(f"/premises?{query}&limit=500", headers=auth)
        exported = world.get(who, f"?format=csv&{query}")
        assert exported.status_code == 200, exported.text
        expected = {item["id"] for item in searched.json()["items"]}
        assert _ids(_csv_rows(exported)) == expected, (who, query)


def test_bad_parameters_name_the_field(world: World) -> None:
    response = world.get("anonymous", "?format=pdf")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "format" in {e["field"] for e in response.json()["errors"]}
    response = world.get("anonymous", "?format=csv&min_surface_m2=900&max_surface_m2=10")
    assert response.status_code == 400
    response = world.get("anonymous", "?format=csv&commune=Lyon")
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "commune"


# -- formats, read back ---------------------------------------------------------------------


def test_csv_headers_and_injection(world: World) -> None:
    response = world.get("staff", "?format=csv")
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="implanter-premises-')
    assert disposition.endswith('.csv"')
    rows = {int(r["id"]): r for r in _csv_rows(response)}
    row = rows[world.ids["formula"]]
    assert row["title"] == "'" + FORMULA
    assert row["description"] == "'-5 % la première année\ttab"
    assert row["address"] == "'@home"
    assert row["contact_phone"] == "'" + PHONE  # readable, not a formula
    assert row["rent_eur_m2_year"] == "110.5"  # numbers stay numbers


def test_french_csv_opens_in_a_spreadsheet(world: World) -> None:
    response = world.get("staff", "?format=csv-fr&kind=workshop")
    assert response.content.startswith("\ufeff".encode())  # Excel reads the accents right
    rows = {r["Identifiant"]: r for r in _csv_rows(response, sep=";")}
    row = rows[str(world.ids["formula"])]
    assert row["Titre"] == "'" + FORMULA
    assert row["Téléphone"] == "'" + PHONE
    assert row["Loyer (€/m²/an)"] == "110,5"  # decimal comma
    assert row["Type"] == "Atelier / local d'activité"
    assert rows[str(world.ids["own_stale"])]["Titre"] == "Le mien"


def test_xlsx_cells_are_strings_never_formulas(world: World, tmp_path: Path) -> None:
    response = world.get("staff", "?format=xlsx")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == exports.MEDIA_TYPES["xlsx"]
    assert response.headers["content-disposition"].endswith('.xlsx"')
    path = tmp_path / "out.xlsx"
    path.write_bytes(response.content)
    sheet = load_workbook(path).active
    assert sheet is not None
    rows = list(sheet.iter_rows())
    header = [c.value for c in rows[0]]
    by_id = {row[header.index("id")].value: row for row in rows[1:]}
    assert set(by_id) == set(world.ids.values())
    title = by_id[world.ids["formula"]][header.index("title")]
    assert title.data_type == "s"
    assert title.value == FORMULA
    assert by_id[world.ids["formula"]][header.index("rent_eur_m2_year")].value == 110.5


def test_geojson_is_a_feature_collection(world: World, tmp_path: Path) -> None:
    response = world.get("anonymous", "?format=geojson")
    assert response.headers["content-type"] == "application/geo+json"
    body = response.json()
    assert body["type"] == "FeatureCollection"
    props = {f["properties"]["id"]: f for f in body["features"]}
    assert set(props) == {world.ids[k] for k in ("formula", "private", "public_contact")}
    feature = props[world.ids["formula"]]
    assert feature["geometry"] == {"type": "Point", "coordinates": [2.392, 48.787]}
    assert feature["properties"]["title"] == FORMULA  # not a spreadsheet: kept as typed
    assert "owner_account" not in feature["properties"]
    path = tmp_path / "out.geojson"
    path.write_bytes(response.content)
    assert len(pyogrio.read_dataframe(path)) == 3


def test_gpkg_has_the_points_and_the_footprints(world: World, tmp_path: Path) -> None:
    response = world.get("staff", "?format=gpkg")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/geopackage+sqlite3"
    path = tmp_path / "out.gpkg"
    path.write_bytes(response.content)
    layers = dict(pyogrio.list_layers(path))
    assert layers == {"premises": "Point", "footprints": "Polygon"}
    points = pyogrio.read_dataframe(path, layer="premises")
    assert sorted(points["id"]) == sorted(world.ids.values())
    assert set(points["title"]) >= {FORMULA, "Retiré"}
    outlines = pyogrio.read_dataframe(path, layer="footprints")
    assert list(outlines["premises_id"]) == [world.ids["formula"]]


def test_cnig_is_a_zip_of_the_two_tables(world: World, tmp_path: Path) -> None:
    response = world.get("anonymous", "?format=cnig")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/zip"
    assert response.headers["content-disposition"].endswith('.zip"')
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert sorted(archive.namelist()) == ["site-eco.csv", "terrain-eco.csv"]
        archive.extractall(tmp_path)
    tables = read_cnig(tmp_path)
    expected = {world.ids[k] for k in ("formula", "private", "public_contact")}
    assert set(tables.terrains["listing_id"]) == expected


def test_an_empty_export_still_has_its_header(world: World) -> None:
    response = world.get("anonymous", "?format=csv&min_surface_m2=999999")
    lines = response.content.decode().splitlines()
    assert len(lines) == 1 and lines[0].startswith("id,")
    assert world.get("anonymous", "?format=geojson&min_surface_m2=999999").json()["features"] == []
    assert world.get("anonymous", "?format=xlsx&min_surface_m2=999999").status_code == 200


def test_pages_are_streamed_and_joined_without_loss(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With pages of two listings, every format still holds each listing exactly once."""
    monkeypatch.setattr(exports, "BATCH", 2)
    rows = _csv_rows(world.get("staff", "?format=csv"))
    assert sorted(int(r["id"]) for r in rows) == sorted(world.ids.values())
    features = json.loads(world.get("staff", "?format=geojson").content)["features"]
    assert sorted(f["properties"]["id"] for f in features) == sorted(world.ids.values())
    with world.client.stream(
        "GET",
        "/exports/premises?format=csv",
        headers={"Authorization": f"Bearer {world.keys['staff']}"},
    ) as response:
        chunks = list(response.iter_raw())
    assert len(chunks) >= 3  # header and first page, then one chunk per page


def test_the_route_is_documented(world: World) -> None:
    doc = world.client.get("/openapi.json").json()
    operation = doc["paths"]["/exports/premises"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"format", "commune", "kind", "bbox", "q", "min_surface_m2"} <= names
    assert "application/geo+json" in operation["responses"]["200"]["content"]


#: Every free-text field a listing accepts a formula in (an e-mail address cannot be one).
TEXT_FIELDS = (
    "external_ref",
    "title",
    "address",
    "lot_ref",
    "contact_name",
    "contact_phone",
    "description",
    "owner_account",
)


def test_every_text_field_is_neutralised_in_every_spreadsheet_format(
    world: World, tmp_path: Path
) -> None:
    """A formula in any text field reaches a spreadsheet as text (last test of the module:
    it adds a listing)."""
    values = {name: f'=HYPERLINK("http://zzqq/{name}")' for name in TEXT_FIELDS}
    world.repo.add_premises(_listing(**values), actor="fixture")
    staff = {"Authorization": f"Bearer {world.keys['staff']}"}
    url = "/exports/premises?q=zzqq&format="
    [row] = _csv_rows(world.client.get(url + "csv", headers=staff))
    assert {name: row[name] for name in TEXT_FIELDS} == {k: "'" + v for k, v in values.items()}
    [french] = _csv_rows(world.client.get(url + "csv-fr", headers=staff), sep=";")
    neutralised = {"'" + v for v in values.values()}
    assert neutralised <= set(french.values())
    assert not [v for v in french.values() if v.startswith("=")]
    path = tmp_path / "all.xlsx"
    path.write_bytes(world.client.get(url + "xlsx", headers=staff).content)
    sheet = load_workbook(path).active
    assert sheet is not None
    cells = [c for row in sheet.iter_rows(min_row=2) for c in row if c.value is not None]
    assert [c.coordinate for c in cells if c.data_type == "f"] == []
    assert set(values.values()) <= {c.value for c in cells}
