"""Tests of the CNIG "Sites économiques" export: schema validity, vocabularies, counts, ids."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from frictionless import system, validate

import shapely

from geodata.io import export_cnig
from geodata.io.cnig import CNIG_SCHEMAS, schema_enums, schema_fields
from geodata.schemas import PremisesCreate
from geodata.storage import Repository
from geodata.territory import default_territory, to_lambert93

TODAY = date(2026, 6, 30)
# The competent EPCI of GOSB, as its manifest.json gives it.
EPCI_NAME = "Établissement public territorial Grand-Orly Seine Bièvre"
EPCI_SIREN = "200058014"

# Representative points of zones of the default territory, and one point outside any zone.
MIN_RUNGIS = (2.35562, 48.76215)  # 94021_SITE-ECO_00001
SOGARIS = (2.3589, 48.7535)  # 94065_SITE-ECO_00001
ARDOINES = (2.4095, 48.78575)  # 94081_SITE-ECO_00001
THIAIS_ORLY = (2.38175, 48.751)  # 94073_SITE-ECO_00001
ORLY_TOWN = (2.39, 48.74)  # no zone

FOOTPRINT = {
    "type": "Polygon",
    "coordinates": [
        [
            [2.3815, 48.7508],
            [2.3820, 48.7508],
            [2.3820, 48.7512],
            [2.3815, 48.7512],
            [2.3815, 48.7508],
        ]
    ],
}


def _item(title: str, point: tuple[float, float], **over: object) -> PremisesCreate:
    data: dict[str, object] = {
        "title": title,
        "kind": "warehouse",
        "surface_m2": 1000.0,
        "tenure": "rent",
        "lon": point[0],
        "lat": point[1],
        "available_from": TODAY,
    }
    data.update(over)
    return PremisesCreate.model_validate(data, context={"territory": default_territory()})


def _catalogue() -> list[PremisesCreate]:
    return [
        _item("A free now", MIN_RUNGIS),
        _item(
            "B sold",
            SOGARIS,
            status="sold",
            tenure="sale",
            sale_price_eur=1_200_000.0,
            surface_m2=1500.0,
            plot_m2=4000.0,
        ),
        _item("C let land", ARDOINES, kind="land", plot_m2=5000.0, surface_m2=4800.0, status="let"),
        _item("D free since 2020", MIN_RUNGIS, available_from=date(2020, 1, 1)),
        _item("E free in 2099", MIN_RUNGIS, available_from=date(2099, 1, 1)),
        _item("F under offer", THIAIS_ORLY, status="under_offer", footprint=FOOTPRINT),
        _item("G withdrawn", MIN_RUNGIS, status="withdrawn"),
        _item("H outside zones", ORLY_TOWN),
    ]


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture
def exported(tmp_path: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    written = export_cnig(_catalogue(), default_territory(), tmp_path, actu_date=TODAY)
    return _read(written.site_csv), _read(written.terrain_csv).set_index("terr_id", drop=False)


def _frictionless(path: Path, name: str) -> list[list[object]]:
    with system.use_context(trusted=True):
        report = validate(str(path), schema=str(CNIG_SCHEMAS[name]))
    assert report.tasks and report.tasks[0].stats["rows"] > 0
    return report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_exports_validate_against_the_cnig_schemas(repo: Repository, tmp_path: Path) -> None:
    repo.add_many_premises(_catalogue(), actor="test")
    written = export_cnig(repo, default_territory(), tmp_path / "cnig")
    site, terrain = written.site_csv, written.terrain_csv
    assert (site.name, terrain.name) == ("site-eco.csv", "terrain-eco.csv")
    assert _frictionless(site, "site-eco") == []
    assert _frictionless(terrain, "terrain-eco") == []


def test_the_schema_check_is_not_vacuous(tmp_path: Path) -> None:
    terrain = export_cnig(_catalogue(), default_territory(), tmp_path, actu_date=TODAY).terrain_csv
    broken = tmp_path / "broken.csv"
    text = terrain.read_text(encoding="utf-8").splitlines(keepends=True)
    cells = text[1].split(";")
    cells[3] = "beaucoup"  # terr_surf_brute must be a number
    broken.write_text(text[0] + ";".join(cells), encoding="utf-8")
    problems = _frictionless(broken, "terrain-eco")
    assert [(p[1], p[2]) for p in problems] == [("terr_surf_brute", "type-error")]


def test_files_follow_the_official_layout(tmp_path: Path) -> None:
    written = export_cnig(_catalogue(), default_territory(), tmp_path, actu_date=TODAY)
    site, terrain = written.site_csv, written.terrain_csv
    for path, name in ((site, "site-eco"), (terrain, "terrain-eco")):
        raw = path.read_bytes()
        assert not raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw
        with path.open(encoding="utf-8", newline="") as handle:
            header = next(csv.reader(handle, delimiter=";"))
        assert header == schema_fields(name)


def test_controlled_vocabularies_are_respected(
    exported: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    site, terrain = exported
    for frame, name in ((site, "site-eco"), (terrain, "terrain-eco")):
        for field, allowed in schema_enums(name).items():
            values = set(frame[field]) - {""}
            assert values <= set(allowed), (field, values - set(allowed))


def test_every_listing_but_the_withdrawn_is_a_land_unit(
    exported: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    site, terrain = exported
    assert len(terrain) == 7  # G is withdrawn; H lies in no zone but is exported all the same
    assert all(re.fullmatch(r"\d{5}_TERRAIN-ECO_\d{5}", t) for t in terrain["terr_id"])
    assert set(terrain["site_id"]) <= set(site["site_id"])
    assert list(terrain["terr_id"]) == [
        "94021_TERRAIN-ECO_00001",
        "94065_TERRAIN-ECO_00002",
        "94081_TERRAIN-ECO_00003",
        "94021_TERRAIN-ECO_00004",
        "94021_TERRAIN-ECO_00005",
        "94073_TERRAIN-ECO_00006",
        "94054_TERRAIN-ECO_00008",
    ]


def test_a_listing_outside_every_zone_goes_to_the_diffuse_site_of_its_commune(
    exported: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    site, terrain = exported
    outside = terrain.loc["94054_TERRAIN-ECO_00008"]
    assert outside["site_id"] == "94054_SITE-ECO_DIFFUS"
    assert (outside["terr_stade_comm"], outside["terr_surf_brute"]) == ("en vente", "0.1")
    diffuse = site.set_index("site_id").loc["94054_SITE-ECO_DIFFUS"]
    assert diffuse["site_type"] == "établissement économique isolé"
    assert (diffuse["site_comm_insee"], diffuse["site_comm_nom"]) == ("94054", "Orly")
    assert "Orly" in diffuse["site_nom"] and "diffus" in diffuse["site_nom"]
    assert (diffuse["site_uf_nbre"], diffuse["site_surf_brute"]) == ("1", "0.1")
    outline = shapely.from_geojson(diffuse["site_geomsurf"])
    assert shapely.get_type_id(outline) == shapely.GeometryType.MULTIPOLYGON
    x, y = to_lambert93(*ORLY_TOWN)
    assert shapely.contains_xy(outline, x[0], y[0])
    assert shapely.area(outline) == pytest.approx(1000, rel=1e-3)
    lon, lat = (float(v) for v in diffuse["site_geompoint"].split(", "))
    assert default_territory().commune_at(lon, lat).tolist() == ["94054"]
    # Only communes with diffuse units get a diffuse site; the zones stay first, in order.
    zones = list(default_territory().zones["site_id"])
    assert list(site["site_id"]) == [*zones, "94054_SITE-ECO_DIFFUS"]


def test_the_export_says_where_every_listing_went(tmp_path: Path) -> None:
    written = export_cnig(_catalogue(), default_territory(), tmp_path, actu_date=TODAY)
    assert (written.listings, written.in_zones, written.diffuse) == (8, 6, 1)
    assert (written.withdrawn, written.outside, written.exported) == (1, 0, 7)
    assert (written.zone_sites, written.diffuse_sites) == (11, 1)
    assert written.by_site == {
        "94021_SITE-ECO_00001": 3,
        "94054_SITE-ECO_DIFFUS": 1,
        "94065_SITE-ECO_00001": 1,
        "94073_SITE-ECO_00001": 1,
        "94081_SITE-ECO_00001": 1,
    }
    french = written.summary("fr")
    assert "8 annonce(s) : 6 dans 11 zone(s) d'activité, 1 hors zone dans 1 site(s)" in french
    assert "1 retirée(s)" in french
    english = written.summary("en")
    assert "8 listing(s): 6 in 11 activity zone(s), 1 outside any zone" in english


def test_the_command_line_prints_where_the_listings_went(tmp_path: Path) -> None:
    db = tmp_path / "cnig.db"
    repo = Repository(f"sqlite:///{db}")
    repo.migrate()
    repo.add_many_premises(_catalogue(), actor="test")
    repo.dispose()
    folder = tmp_path / "cnig"
    cmd = [sys.executable, "-m", "api.cli", "export", str(folder), "--format", "cnig"]
    run = subprocess.run(
        [*cmd, "--database-url", f"sqlite:///{db}"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("CNIG : 8 annonce(s) : 6 dans 11 zone(s) d'activité, 1 hors zone")
    assert any(line.startswith("CNIG: 8 listing(s): 6 in 11 activity zone(s)") for line in lines)
    assert len(_read(folder / "terrain-eco.csv")) == 7


def test_terr_ids_are_stable_from_the_listing_id(repo: Repository, tmp_path: Path) -> None:
    stored = repo.add_many_premises(_catalogue()[:2], actor="test")
    first = export_cnig(repo, default_territory(), tmp_path / "a", actu_date=TODAY).terrain_csv
    repo.add_many_premises(_catalogue()[2:4], actor="test")
    second = export_cnig(repo, default_territory(), tmp_path / "b", actu_date=TODAY).terrain_csv
    ids_first = list(_read(first)["terr_id"])
    assert ids_first == [
        f"94021_TERRAIN-ECO_{stored[0].id:05d}",
        f"94065_TERRAIN-ECO_{stored[1].id:05d}",
    ]
    assert list(_read(second)["terr_id"])[:2] == ids_first


def test_status_maps_to_commercialisation_and_occupation(
    exported: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    _, terrain = exported
    by_title = terrain[["terr_stade_comm", "terr_etat_occup", "terr_usage"]].to_numpy().tolist()
    assert by_title == [
        ["en vente", "inoccupé", "bâti productif"],  # A
        ["vendu, commercialisation achevée", "occupé", "bâti productif"],  # B
        ["autre", "occupé", "inconnu"],  # C: let land
        ["en vente", "vacant", "bâti productif"],  # D: free for more than two years
        ["en vente", "occupé", "bâti productif"],  # E: tenant still there until 2099
        ["réservé par option de réservation", "inoccupé", "bâti productif"],  # F
        ["en vente", "inoccupé", "bâti productif"],  # H, outside every zone
    ]


def test_the_price_per_m2_is_of_the_land_unit(
    exported: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    """terr_m2_prix = terr_vente_montant / terr_surf_brute (in m²), as the official example.

    B is a 1,500 m² building on a 4,000 m² plot sold 1.2 M€: 300 €/m² of land, not 800 €/m²
    of floor area (the standard's own example: 530,000 EUR for 9.9 ha, 5.35 EUR/m²).
    """
    _, terrain = exported
    sold = terrain.loc["94065_TERRAIN-ECO_00002"]
    assert sold["terr_surf_brute"] == "0.4"
    assert (sold["terr_vente_montant"], sold["terr_m2_prix"]) == ("1200000", "300")


def test_surfaces_are_in_hectares_and_geometries_in_lambert93(
    exported: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    _, terrain = exported
    surfaces = terrain["terr_surf_brute"].astype(float)
    assert surfaces["94021_TERRAIN-ECO_00001"] == 0.1  # 1000 m²
    assert surfaces["94081_TERRAIN-ECO_00003"] == 0.5  # plot of 5000 m²
    geoms = shapely.from_geojson(terrain["terr_geomsurf"].to_numpy())
    assert (shapely.get_coordinates(geoms)[:, 0] > 100_000).all()
    square = geoms[0]
    assert shapely.area(square) == pytest.approx(1000, rel=1e-3)
    x, y = to_lambert93(*MIN_RUNGIS)
    assert shapely.contains_xy(square, x[0], y[0])
    # F has a footprint: its own outline, projected, and its area as gross surface.
    fp = shapely.from_geojson(json.dumps(FOOTPRINT))
    fp_l93 = shapely.transform(fp, lambda xy: np.column_stack(to_lambert93(xy[:, 0], xy[:, 1])))
    assert shapely.area(geoms[5]) == pytest.approx(shapely.area(fp_l93), rel=1e-4)
    assert surfaces["94073_TERRAIN-ECO_00006"] == pytest.approx(
        shapely.area(fp_l93) / 1e4, abs=1e-4
    )


def test_site_rows_are_the_zones_with_their_counts(
    exported: tuple[pd.DataFrame, pd.DataFrame],
) -> None:
    site, _ = exported
    zones = default_territory().zones
    assert list(site["site_id"])[: len(zones)] == list(zones["site_id"])
    assert set(site["site_epci_nom"]) == {EPCI_NAME}
    assert set(site["site_epci_siren"]) == {EPCI_SIREN}
    assert set(site["site_actu_date"]) == {TODAY.isoformat()}
    rungis = site.set_index("site_id").loc["94021_SITE-ECO_00001"]
    assert rungis["site_comm_nom"] == "Chevilly-Larue" and rungis["site_comm_insee"] == "94021"
    # A is free today and D for six years (vacant in the sense of L318-8-2), E is still let.
    assert (rungis["site_uf_nbre"], rungis["site_uf_vacant_nbre"]) == ("3", "2")
    assert rungis["site_taux_vacance"] == "66.7"
    assert (
        "3 annonce(s) dans le site, dont 3 disponible(s) ; 2 libre(s)" in rungis["site_description"]
    )
    assert "dont 1 depuis deux ans ou plus" in rungis["site_description"]
    assert rungis["site_uf_bati_nbre"] == "3"
    assert rungis["site_surf_comm_dispo"] == "0.3"  # three available units of 1000 m²
    assert float(rungis["site_surf_brute"]) > 0
    empty = site.set_index("site_id").loc["94065_SITE-ECO_00002"]
    assert empty["site_uf_nbre"] == "" and empty["site_taux_vacance"] == ""
    surf = shapely.from_geojson(site["site_geomsurf"].to_numpy())
    assert set(shapely.get_type_id(surf)) == {shapely.GeometryType.MULTIPOLYGON}
    assert (shapely.get_coordinates(surf)[:, 1] > 6_000_000).all()  # Lambert-93 metres
    lon, lat = np.array([p.split(", ") for p in site["site_geompoint"]], dtype=float).T
    assert default_territory().contains(lon, lat).all()  # WGS84 "lon, lat"


def test_epci_siren_is_a_valid_siren() -> None:
    """200058014 is the SIREN of the EPT Grand-Orly Seine Bièvre; its Luhn key must hold."""
    epci = default_territory().epci
    assert epci is not None and (epci.name, epci.siren) == (EPCI_NAME, EPCI_SIREN)
    digits = [int(c) for c in EPCI_SIREN]
    total = sum(
        d if i % 2 == 0 else (2 * d - 9 if 2 * d > 9 else 2 * d)
        for i, d in enumerate(reversed(digits))
    )
    assert len(digits) == 9 and total % 10 == 0


def test_vendored_schemas_are_the_cnig_ones() -> None:
    folder = next(iter(CNIG_SCHEMAS.values())).parent
    readme = (folder / "README.md").read_text(encoding="utf-8")
    assert "cnigfr/schema-sites-economiques" in readme and "Licence Ouverte" in readme
    for name, path in CNIG_SCHEMAS.items():
        schema = json.loads(path.read_text(encoding="utf-8"))
        assert schema["name"] == f"sites-economiques-{name}"
        assert schema["version"] == "v1.0.1"
        assert schema["licenses"][0]["name"] == "etalab-2.0"
    assert "terr_stade_comm" in schema_enums("terrain-eco")
    assert schema_fields("site-eco")[0] == "site_id"


def test_a_territory_without_epci_is_refused_unless_one_is_given(tmp_path: Path) -> None:
    """No silent fallback on GOSB's EPCI: a territory that names none must be told one."""
    import shutil

    from geodata.territory import load_territory

    folder = tmp_path / "no-epci"
    shutil.copytree(default_territory().path, folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    del manifest["epci"]
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    territory = load_territory(folder)
    with pytest.raises(ValueError, match=r"epci: .*manifest\.json"):
        export_cnig(_catalogue(), territory, tmp_path / "out", actu_date=TODAY)
    site = export_cnig(
        _catalogue(),
        territory,
        tmp_path / "given",
        actu_date=TODAY,
        epci_name="Communauté Démo",
        epci_siren="732829320",
    ).site_csv
    assert "Communauté Démo" in site.read_text(encoding="utf-8")


def test_a_unit_under_offer_whose_tenant_stays_is_not_vacant(tmp_path: Path) -> None:
    items = [
        _item(
            "under offer, let until 2099",
            MIN_RUNGIS,
            status="under_offer",
            available_from=date(2099, 1, 1),
        ),
        _item("under offer, free now", MIN_RUNGIS, status="under_offer"),
    ]
    written = export_cnig(items, default_territory(), tmp_path, actu_date=TODAY)
    terrain = _read(written.terrain_csv)
    assert terrain["terr_etat_occup"].tolist() == ["occupé", "inoccupé"]
    rungis = _read(written.site_csv).set_index("site_id").loc["94021_SITE-ECO_00001"]
    assert (rungis["site_uf_vacant_nbre"], rungis["site_taux_vacance"]) == ("1", "50")
