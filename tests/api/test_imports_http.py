"""``POST /imports``: who may upload, the report of ``implanter import`` in the request's
language, each format round-tripped through ``GET /exports/premises``, bad files refused.

Every test runs on SQLite and on PostGIS, through the real app with its lifespan entered.
"""

from __future__ import annotations

import sqlite3
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

import geopandas as gpd
import pyogrio
import shapely

from api.auth import issue_key
from api.main import create_app
from api.routes import imports
from geodata.io import export_listings
from geodata.schemas import NeedIn, PremisesCreate
from geodata.storage import Repository, accounts, needs
from geodata.territory import default_territory
from tests.api.conftest import backend_url, empty_settings
from tests.conftest import BACKENDS

NAMES = {"company": "pme-alpha", "developer": "sci-orly", "other": "sogaris-bis", "staff": "eco"}
PROBLEM = "application/problem+json"


def _listing(ref: str, **extra: Any) -> PremisesCreate:
    data = {
        "external_ref": ref,
        "title": f"Atelier {ref}",
        "kind": "workshop",
        "uses": ["craft"],
        "surface_m2": 450,
        "tenure": "rent",
        "rent_eur_m2_year": 110,
        "lon": 2.3920,
        "lat": 48.7870,
        **extra,
    }
    return PremisesCreate.model_validate(data, context={"territory": default_territory()})


@dataclass
class World:
    client: TestClient
    repo: Repository
    keys: dict[str, str]
    folder: Path

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        auth = {} if who == "anonymous" else {"Authorization": f"Bearer {self.keys[who]}"}
        return {**auth, **extra}

    def upload(
        self,
        who: str,
        path: Path,
        *,
        name: str | None = None,
        query: str = "",
        headers: dict[str, str] | None = None,
        **form: str,
    ) -> Any:
        files = {"file": (name or path.name, path.read_bytes(), "application/octet-stream")}
        return self.client.post(
            f"/imports{query}",
            files=files,
            data=form,
            headers=self.headers(who, **(headers or {})),
        )

    def file(self, name: str, items: list[PremisesCreate], **kw: Any) -> Path:
        path = self.folder / name
        export_listings(items, path, **kw)
        return path

    def count(self) -> int:
        return self.repo.counts()["premises"]


@pytest.fixture(scope="module", params=BACKENDS)
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    with (
        backend_url(request, tmp_path_factory, "imports") as url,
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
        folder = tmp_path_factory.mktemp("uploads")
        yield World(client, repo, keys, folder)


def _rows_of(body: dict[str, Any]) -> list[tuple[int, str]]:
    return [(e["row"], e["field"]) for e in body["row_errors"]]


# -- who may upload -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"),
    [("anonymous", 401), ("company", 403), ("developer", 200), ("staff", 200)],
)
def test_who_may_upload(world: World, who: str, status: int) -> None:
    path = world.file("roles.csv", [_listing("ROLE-1")])
    before = world.count()
    response = world.upload(who, path)
    assert response.status_code == status, response.text
    assert world.count() == before  # a dry run by default
    if status == 200:
        body = response.json()
        assert (body["dry_run"], body["written"], body["valid_rows"]) == (True, False, 1)
        assert body["report"].startswith("Import de roles.csv (CSV)")
        assert "Simulation" in body["report"]
    else:
        assert response.headers["content-type"].startswith(PROBLEM)


def test_a_developer_owns_what_it_imports_and_alerts_fire(world: World) -> None:
    need = NeedIn(
        company_name="PME Alpha",
        owner_account=NAMES["company"],
        surface_min_m2=1230,
        surface_max_m2=1250,
        uses=["craft"],
        max_rent_eur_m2_year=150,
    )
    with world.repo.begin() as conn:
        saved = needs.add_many_needs(conn, [need], actor="fixture")[0]
    items = [
        _listing("DEV-1", owner_account=NAMES["other"], surface_m2=1240),
        _listing("DEV-2", surface_m2=300),
    ]
    path = world.file("mine.csv", items)
    response = world.upload("developer", path, dry_run="false")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["written"] is True and len(body["created"]) == 2
    for premises_id in body["created"]:
        assert world.repo.get_premises(premises_id).owner_account == NAMES["developer"]
    notes = world.client.get("/me/notifications", headers=world.headers("company")).json()
    fitted = [n for n in notes["items"] if n["need_id"] == saved.id]
    assert [n["premises_id"] for n in fitted] == [body["created"][0]]
    assert body["notified"] >= 1


def _rows_csv(path: Path, n: int, surfaces: dict[int, int], rent: str = "110") -> Path:
    """A French CSV of ``n`` craft workshops spread over Vitry and Ivry, ``BULK-i`` each, of
    300-900 m² (neighbours differ by more than 10 %: no probable duplicates), except the
    rows given a surface in ``surfaces``."""
    header = "référence;titre;type;usages;surface (m²);loyer €/m²/an;transaction;lon;lat"
    lines = [header]
    for i in range(n):
        surface = surfaces.get(i, 300 + (i % 2) * 600 + i % 7)
        lon, lat = 2.3750 + (i % 40) * 0.0004, 48.8000 + (i // 40) * 0.0003
        lines.append(
            f"BULK-{i:04d};Atelier {i};atelier;artisanat;{surface};{rent};location;"
            f"{lon:.5f};{lat:.5f}"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_upload_of_more_than_1000_listings_notifies_each_fitting_need_once(
    world: World,
) -> None:
    """1,100 listings in one upload: every saved need is told of each listing it newly fits,
    once; a dry run and a refused upload tell no one; importing the listings again with a
    change that keeps them fitting tells no one again."""

    def need(surface: float) -> int:
        item = NeedIn(
            company_name="PME Alpha",
            owner_account=NAMES["company"],
            surface_min_m2=surface - 10,
            surface_max_m2=surface + 10,
            uses=["craft"],
            max_rent_eur_m2_year=150,
        )
        with world.repo.begin() as conn:
            return needs.add_many_needs(conn, [item], actor="fixture")[0].id

    def notes() -> list[tuple[int | None, int | None]]:
        body = world.client.get(
            "/me/notifications", params={"limit": 500}, headers=world.headers("company")
        ).json()
        return [(n["need_id"], n["premises_id"]) for n in body["items"] if n["need_id"] in ids]

    ids = [need(2240), need(2770)]
    surfaces = {500: 2240, 900: 2240, 1000: 2770}
    path = _rows_csv(world.folder / "bulk.csv", 1100, surfaces)
    dry = world.upload("developer", path)
    assert dry.status_code == 200 and dry.json()["notified"] == 0
    bad = path.read_text(encoding="utf-8").replace(";2240;", ";douze;", 1)
    (world.folder / "bad.csv").write_text(bad, encoding="utf-8")
    refused = world.upload("developer", world.folder / "bad.csv", dry_run="false")
    assert refused.status_code == 422, refused.text
    assert notes() == []

    response = world.upload("developer", path, dry_run="false")
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["created"]) == 1100
    listing = {
        r: world.repo.premises_by_refs([f"BULK-{r:04d}"])[f"BULK-{r:04d}"].id for r in surfaces
    }
    expected = {(ids[0], listing[500]), (ids[0], listing[900]), (ids[1], listing[1000])}
    assert sorted(notes()) == sorted(expected)
    assert body["notified"] == 3

    cheaper = _rows_csv(world.folder / "cheaper.csv", 1100, surfaces, rent="100")
    again = world.upload("developer", cheaper, dry_run="false")
    assert again.status_code == 200, again.text
    assert len(again.json()["updated"]) == 1100 and again.json()["notified"] == 0
    assert len(notes()) == 3


def test_a_developer_may_not_overwrite_another_owners_listing(world: World) -> None:
    theirs = world.repo.add_premises(
        _listing("THEIRS-1", owner_account=NAMES["other"]), actor="fixture"
    )
    path = world.file("theirs.csv", [_listing("THEIRS-1", title="Pris"), _listing("NEW-9")])
    before = world.count()
    for dry_run in ("true", "false"):
        response = world.upload("developer", path, dry_run=dry_run)
        assert response.status_code == 403, response.text
        problem = response.json()
        assert problem["errors"][0]["field"] == "external_ref"
        assert "THEIRS-1" in problem["detail"]
    assert world.count() == before
    assert world.repo.get_premises(theirs.id).title == "Atelier THEIRS-1"
    # The staff may.
    response = world.upload("staff", path, dry_run="false")
    assert response.status_code == 200, response.text
    assert response.json()["updated"] == [theirs.id]
    assert world.repo.get_premises(theirs.id).title == "Pris"


# -- the report -----------------------------------------------------------------------------


def test_bad_rows_refuse_the_file_with_the_rows_in_the_request_language(world: World) -> None:
    path = world.folder / "bad.csv"
    path.write_text(
        "external_ref,title,kind,surface_m2,tenure,lon,lat\n"
        "BAD-1,Atelier,workshop,450,rent,2.392,48.787\n"
        "BAD-2,Atelier,castle,450,rent,2.392,48.787\n"
        "BAD-3,Atelier,workshop,abc,rent,2.392,48.787\n",
        encoding="utf-8",
    )
    before = world.count()
    response = world.upload("staff", path, dry_run="false")
    assert response.status_code == 422
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert _rows_of(body) == [(3, "kind"), (4, "surface_m2")]
    assert {e["field"] for e in body["errors"]} == {"file"}
    assert body["errors"][1]["reason"].startswith("Ligne 4, surface_m2 :")
    assert "'abc' n'est pas un nombre" in body["report"]
    assert body["detail"].startswith("Lignes invalides : 2 erreur(s)")
    assert world.count() == before
    english = world.upload("staff", path, headers={"Accept-Language": "en"})
    assert english.json()["errors"][1]["reason"].startswith("Row 4, surface_m2:")
    assert english.json()["report"].startswith("Import of bad.csv (CSV)")
    assert world.upload("staff", path, query="?lang=en").json()["title"] == "Invalid data"
    # Unless skip_invalid: the valid row is written, the others listed.
    response = world.upload("staff", path, dry_run="false", skip_invalid="true")
    assert response.status_code == 200, response.text
    assert len(response.json()["created"]) == 1 and len(response.json()["errors"]) == 2
    assert world.count() == before + 1


def test_the_report_names_the_sheet_or_layer_read(world: World) -> None:
    items = [_listing("SHEET-1")]
    xlsx = world.upload("staff", world.file("offres.xlsx", items, french=True))
    assert xlsx.status_code == 200, xlsx.text
    assert xlsx.json()["sheet"] == "annonces"
    assert "feuille annonces" in xlsx.json()["report"]
    gpkg = world.upload("staff", world.file("offres.gpkg", items))
    assert gpkg.status_code == 200, gpkg.text
    assert gpkg.json()["layer"] == "premises"
    english = world.upload("staff", world.folder / "offres.gpkg", query="?lang=en")
    assert "Read with: layer premises." in english.json()["report"]


@pytest.mark.parametrize("fmt", ["csv", "csv-fr", "xlsx", "geojson", "gpkg"])
def test_an_export_re_imports_unchanged(world: World, fmt: str) -> None:
    """Export over HTTP, upload the file back: every listing is found unchanged."""
    if not world.repo.premises_by_refs([f"RT-{fmt}"]):
        world.repo.add_premises(
            _listing(f"RT-{fmt}", title='=HYPERLINK("http://x")', contact_phone="+33 1 45"),
            actor="fixture",
        )
    exported = world.client.get(
        f"/exports/premises?format={fmt}&q=HYPERLINK", headers=world.headers("staff")
    )
    assert exported.status_code == 200, exported.text
    suffix = {"csv-fr": "csv"}.get(fmt, fmt)
    path = world.folder / f"export.{suffix}"
    path.write_bytes(exported.content)
    before = world.count()
    response = world.upload("staff", path, dry_run="false")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["errors"] == [] and body["created"] == [] and body["updated"] == []
    assert len(body["unchanged"]) == int(exported.headers["x-total-count"]) >= 1
    assert world.count() == before


# -- bad files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("bad")
    files: dict[str, Path] = {}

    def put(name: str, data: bytes) -> None:
        files[name] = folder / name
        files[name].write_bytes(data)

    noise = bytes(range(256)) * 40
    put("garbage.csv", noise)
    put("garbage.xlsx", noise)
    put("garbage.gpkg", noise)
    put("garbage.geojson", noise)
    put("garbage.bin", noise)
    put("empty.csv", b"")
    put("workbook.csv", b"PK\x03\x04" + noise)
    # A zip bomb renamed .xlsx: 1.1 GiB of zeros in about a megabyte.
    bomb = folder / "bomb.xlsx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            zeros = b"0" * 2**24
            for _ in range(70):
                sheet.write(zeros)
    files["bomb.xlsx"] = bomb
    lines = gpd.GeoDataFrame(
        {"title": ["rue"]}, geometry=[shapely.LineString([(2.3, 48.7), (2.4, 48.8)])], crs=4326
    )
    files["lines.gpkg"] = folder / "lines.gpkg"
    pyogrio.write_dataframe(lines, files["lines.gpkg"], layer="rues", driver="GPKG")
    files["plain.gpkg"] = folder / "plain.gpkg"
    with sqlite3.connect(files["plain.gpkg"]) as conn:
        conn.execute("CREATE TABLE t (x)")
    return files


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("garbage.csv", "contenu binaire"),
        ("garbage.xlsx", "n'est pas un fichier XLSX valide"),
        ("garbage.gpkg", "n'est pas un fichier GPKG valide"),
        ("garbage.geojson", "contenu binaire"),
        ("garbage.bin", "impossible de reconnaître le format"),
        ("workbook.csv", "est un fichier XLSX"),
        ("bomb.xlsx", "le classeur se décompresse en 1 120 Mio"),
        ("lines.gpkg", "aucune couche de points ou de polygones (couches : rues (LineString))"),
        ("plain.gpkg", "illisible comme fichier GPKG"),
    ],
)
def test_a_bad_file_is_a_422_naming_file(
    world: World, bad_files: dict[str, Path], name: str, reason: str
) -> None:
    before = world.count()
    response = world.upload("developer", bad_files[name], dry_run="false")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    problem = response.json()
    assert problem["errors"][0]["field"] == "file"
    assert reason in problem["detail"], problem["detail"]
    assert world.count() == before


def test_an_empty_file_is_an_error_not_a_silent_success(
    world: World, bad_files: dict[str, Path]
) -> None:
    response = world.upload("staff", bad_files["empty.csv"], dry_run="false")
    assert response.status_code == 422
    assert "aucune annonce" in response.json()["report"]


def test_an_upload_over_the_size_limit_is_413(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = world.client.app.state.settings  # type: ignore[attr-defined]
    monkeypatch.setattr(settings.http, "max_upload_bytes", 5_000)
    path = world.folder / "big.csv"
    path.write_bytes(b"title\n" + b"x" * 10_000 + b"\n")
    response = world.upload("staff", path)
    assert response.status_code == 413
    problem = response.json()
    assert problem["errors"][0]["field"] == "file"
    assert "5000 octets" in problem["detail"]
    assert "IMPLANTER_HTTP__MAX_UPLOAD_BYTES" in problem["detail"]
    # Other requests keep their own, smaller limit.
    monkeypatch.setattr(settings.http, "max_upload_bytes", 10 * 2**20)
    body = b'{"title": "' + b"x" * (settings.http.max_body_bytes + 10) + b'"}'
    response = world.client.post(
        "/premises",
        content=body,
        headers=world.headers("staff", **{"Content-Type": "application/json"}),
    )
    assert response.status_code == 413
    assert response.json()["errors"][0]["field"] == "body"


def test_the_route_is_documented(world: World) -> None:
    operation = world.client.get("/openapi.json").json()["paths"]["/imports"]["post"]
    assert "multipart/form-data" in operation["requestBody"]["content"]
    assert {"401", "403", "413", "422"} <= set(operation["responses"])


def test_binary_noise_is_named_in_english_too(world: World, bad_files: dict[str, Path]) -> None:
    response = world.upload("staff", bad_files["garbage.csv"], query="?lang=en")
    assert response.status_code == 422
    assert "binary content" in response.json()["detail"]
    assert "'garbage.csv' is not a CSV text file" in response.json()["detail"]


# -- a refused file, in the reader's language ----------------------------------------------


@pytest.mark.parametrize(
    ("name", "fr", "en"),
    [
        (
            "garbage.csv",
            "« garbage.csv » n'est pas un fichier texte CSV (contenu binaire)",
            "'garbage.csv' is not a CSV text file (binary content)",
        ),
        (
            "garbage.xlsx",
            "« garbage.xlsx » n'est pas un fichier XLSX valide",
            "'garbage.xlsx' is not a valid XLSX file",
        ),
        (
            "bomb.xlsx",
            "« bomb.xlsx » est refusé : le classeur se décompresse en 1 120 Mio, plus que les "
            "1 024 Mio qu'un import accepte ; découpez-le en classeurs plus petits.",
            "'bomb.xlsx' is refused: the workbook unpacks to 1,120 MiB, more than the 1,024 MiB "
            "one import takes; split it into smaller workbooks",
        ),
        (
            "lines.gpkg",
            "aucune couche de points ou de polygones (couches : rues (LineString))",
            "no layer of points or polygons (layers: rues (LineString))",
        ),
        ("plain.gpkg", "illisible comme fichier GPKG", "cannot be read as GPKG"),
    ],
)
def test_a_refused_file_is_told_in_french_by_default_and_in_english_on_request(
    world: World, bad_files: dict[str, Path], name: str, fr: str, en: str
) -> None:
    french = world.upload("staff", bad_files[name])
    english = world.upload("staff", bad_files[name], query="?lang=en")
    for response in (french, english):
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "file"
    assert french.json()["detail"] == f"file : {fr}" or fr in french.json()["detail"]
    assert french.json()["detail"].startswith("file : ")
    assert english.json()["detail"].startswith("file: ")
    assert en in english.json()["detail"], english.json()["detail"]
    # No English reason inside the French sentence, nor French inside the English one.
    assert "cannot" not in french.json()["detail"] and "workbook" not in french.json()["detail"]
    assert "refusé" not in english.json()["detail"]


def test_an_empty_file_is_reported_in_both_languages(
    world: World, bad_files: dict[str, Path]
) -> None:
    french = world.upload("staff", bad_files["empty.csv"])
    english = world.upload("staff", bad_files["empty.csv"], query="?lang=en")
    assert french.status_code == english.status_code == 422
    assert "le fichier ne contient aucune annonce" in french.json()["report"]
    assert "the file holds no listing" in english.json()["report"]


def test_a_file_over_the_row_limit_is_told_in_both_languages(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = imports.ImportLimits(max_rows=2)
    monkeypatch.setattr(imports, "ImportLimits", lambda **kw: small)
    path = world.folder / "three.csv"
    path.write_text(
        "title,kind,surface_m2,tenure,lon,lat\n"
        + "".join(f"Entrepôt {i},warehouse,1000,rent,2.39,48.79\n" for i in range(3)),
        encoding="utf-8",
    )
    french = world.upload("staff", path)
    english = world.upload("staff", path, query="?lang=en")
    assert french.status_code == english.status_code == 422
    assert french.json()["detail"] == (
        "file : « three.csv » est refusé : plus de 2 lignes, alors qu'un import en prend au "
        "plus 2 ; découpez le fichier en fichiers plus petits."
    )
    assert english.json()["detail"] == (
        "file: 'three.csv' is refused: more than 2 rows, while one import takes at most 2; "
        "split the file into smaller files"
    )
