"""Regression tests for defects found in review of geodata.storage and geodata.io."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from listing_items import GOSB, RUNGIS_MIN, VITRY
from listing_items import item as _item

from geodata.io import import_listings, read_listings
from geodata.schemas import PremisesCreate
from geodata.storage import Repository
from geodata.storage.errors import StaleVersionError


def test_bbox_edge_is_exact_on_both_backends(repo: Repository) -> None:
    # PostGIS ``&&`` compares float4-rounded boxes: a point 1e-7 degree (1 cm) beyond the
    # bbox edge was listed on PostGIS and not on SQLite.
    lon, lat = 2.36, 48.76
    repo.add_premises(
        PremisesCreate.model_validate(
            {
                "title": "Edge",
                "kind": "workshop",
                "surface_m2": 400.0,
                "tenure": "rent",
                "lon": lon,
                "lat": lat + 1e-7,
            },
        ),
        actor="t",
    )
    assert repo.count_premises(bbox=(2.0, 48.0, 3.0, lat)) == 0
    assert repo.list_premises(bbox=(2.0, 48.0, 3.0, lat)).total == 0
    assert repo.count_premises(bbox=(2.0, 48.0, 3.0, lat + 1e-7)) == 1
    assert repo.count_premises(bbox=(lon, lat + 1e-7, lon, lat + 1e-7)) == 1


def test_reimport_with_a_wkt_geometry_column_moves_the_listing(
    repo: Repository, tmp_path: Path
) -> None:
    stored = repo.upsert_premises_by_ref([_item("G1", *RUNGIS_MIN)], actor="t")
    path = tmp_path / "moved.csv"
    path.write_text(
        "ref,title,kind,surface_m2,tenure,geometry\n"
        f"G1,Local G1,warehouse,1000,rent,POINT ({VITRY[0]} {VITRY[1]})\n",
        encoding="utf-8",
    )
    report = import_listings(repo, path, actor="t", territory=GOSB)
    assert report.ok and report.updated == stored.created
    after = repo.get_premises(stored.created[0])
    assert (after.lon, after.lat) == VITRY
    assert after.commune_insee == "94081"


def test_reimport_merge_with_stored_fields_is_revalidated(repo: Repository, tmp_path: Path) -> None:
    # Stored: for sale, with a price. File: tenure 'rent', no price column. Keeping the stored
    # price gave a rent-only listing with a sale price: stored unvalidated, then unreadable.
    item = _item("S1", *RUNGIS_MIN, tenure="sale", rent_eur_m2_year=None, sale_price_eur=5e5)
    first = repo.upsert_premises_by_ref([item], actor="t").created[0]
    before = (repo.catalogue_version(), repo.get_premises(first).version)
    path = tmp_path / "rent.csv"
    path.write_text(
        "ref,title,kind,surface_m2,tenure,lon,lat\n"
        f"S1,Local S1,warehouse,1000,rent,{RUNGIS_MIN[0]},{RUNGIS_MIN[1]}\n",
        encoding="utf-8",
    )
    report = import_listings(repo, path, actor="t", territory=GOSB)
    assert not report.written and not report.ok
    assert [(e.row, e.field) for e in report.errors] == [(2, "sale_price_eur")]
    assert report.valid_rows == 0
    assert (repo.catalogue_version(), repo.get_premises(first).version) == before
    dry = import_listings(repo, path, actor="t", dry_run=True, territory=GOSB)
    assert [(e.row, e.field) for e in dry.errors] == [(2, "sale_price_eur")]
    skipped = import_listings(repo, path, actor="t", skip_invalid=True, territory=GOSB)
    assert not skipped.written and skipped.updated == []
    assert repo.get_premises(first).sale_price_eur == 5e5


def test_spreadsheet_serial_dates_are_read(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(
        ["ref", "titre", "type", "surface", "location / vente", "lon", "lat", "disponible le"]
    )
    ws.append(["A", "Local", "atelier", 400, "location", 2.36, 48.76, 46266])
    wb.save(tmp_path / "serial.xlsx")
    parsed = read_listings(tmp_path / "serial.xlsx", territory=None)
    assert parsed.errors == []
    assert parsed.items[0].available_from == date(2026, 9, 1)


def test_a_header_given_twice_is_a_duplicate_column_warning(tmp_path: Path) -> None:
    path = tmp_path / "twice.csv"
    path.write_text(
        "ref;titre;type;surface;surface;location / vente;lon;lat\n"
        "A;Local;atelier;400;500;location;2,36;48,76\n",
        encoding="utf-8",
    )
    parsed = read_listings(path, territory=None)
    assert parsed.errors == []
    assert parsed.items[0].surface_m2 == 400.0
    assert [(w.kind, w.field) for w in parsed.warnings] == [("duplicate_column", "surface.1")]


def test_an_edit_made_during_an_import_is_not_overwritten(
    repo: Repository, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The import reads the stored values of the fields the file has no column for, then
    # writes. A listing edited in between must make the import write nothing.
    (first,) = repo.upsert_premises_by_ref([_item("R1", *RUNGIS_MIN)], actor="t").created
    repo.upsert_premises_by_ref([_item("R2", *VITRY)], actor="t")
    path = tmp_path / "no-status.csv"
    path.write_text(
        "ref,title,kind,surface_m2,tenure,rent_eur_m2_year,lon,lat\n"
        f"R1,Local R1,warehouse,1000,rent,95,{RUNGIS_MIN[0]},{RUNGIS_MIN[1]}\n"
        f"R2,Local R2,warehouse,1000,rent,95,{VITRY[0]},{VITRY[1]}\n",
        encoding="utf-8",
    )
    real_upsert = repo.upsert_premises_by_ref

    def edit_then_upsert(*args: Any, **kwargs: Any) -> Any:
        stored = repo.get_premises(first)
        repo.set_status(first, "let", expected_version=stored.version, actor="owner")
        return real_upsert(*args, **kwargs)

    monkeypatch.setattr(repo, "upsert_premises_by_ref", edit_then_upsert)
    version = repo.catalogue_version()
    report = import_listings(repo, path, actor="t", territory=GOSB)
    assert not report.written
    assert [(e.row, e.field, e.value) for e in report.errors] == [(2, "external_ref", "R1")]
    assert "changed while importing" in report.errors[0].reason
    after = repo.get_premises(first)
    assert after.status == "let" and after.rent_eur_m2_year == 90.0
    assert repo.catalogue_version() == version + 1  # the owner's edit only
    monkeypatch.undo()
    again = import_listings(repo, path, actor="t", territory=GOSB)
    assert again.written and repo.get_premises(first).status == "let"
    assert repo.get_premises(first).rent_eur_m2_year == 95.0


def test_upsert_refuses_stale_expected_versions(repo: Repository) -> None:
    (pid,) = repo.upsert_premises_by_ref([_item("V1", *RUNGIS_MIN)], actor="t").created
    changed = _item("V1", *RUNGIS_MIN, rent_eur_m2_year=99.0)
    with pytest.raises(StaleVersionError, match="version"):
        repo.upsert_premises_by_ref(
            [changed, _item("V2", *VITRY)], actor="t", expected_versions={"V1": 0}
        )
    assert repo.get_premises(pid).rent_eur_m2_year == 90.0
    assert repo.counts()["premises"] == 1
    result = repo.upsert_premises_by_ref([changed], actor="t", expected_versions={"V1": 1})
    assert result.updated == [pid]
