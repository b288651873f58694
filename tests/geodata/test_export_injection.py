"""CSV injection (OWASP): exported text cells never run as spreadsheet formulas.

A listing titled ``=HYPERLINK("http://x")`` must open in a spreadsheet as text: CSV and French
CSV cells get a leading single quote, XLSX cells are string cells (never formula cells). The
importer reads every export back to the same values, and numbers stay numbers.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from openpyxl import load_workbook

from geodata.io import export_listings, read_listings
from geodata.io.exporter import neutralise
from geodata.schemas import PremisesCreate

#: One formula-like payload per free-text field of a listing.
PAYLOADS: dict[str, str] = {
    "title": '=HYPERLINK("http://x","clic")',
    "external_ref": "+REF-1",
    "address": "-2+3+cmd|' /C calc'!A0",
    "lot_ref": "@SUM(1+1)",
    "zone_id": "=Z1",
    "owner_account": "=1+1",
    "contact_name": "@Dupont",
    "contact_email": "=x@example.fr",
    "contact_phone": "+33 1 45 60 00 00",
    "description": "=cmd|' /C calc'!A0",
}


def _listing(**extra: Any) -> PremisesCreate:
    data = {
        "kind": "warehouse",
        "surface_m2": 800,
        "tenure": "rent",
        "rent_eur_m2_year": 95.5,
        "lon": -1.5,  # a negative number, which must stay a number
        "lat": 48.75,
        "commune_insee": "94065",
        **PAYLOADS,
        **extra,
    }
    return PremisesCreate.model_validate(data)


def _csv_rows(path: Path, sep: str) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle, delimiter=sep))


def test_neutralise_quotes_every_trigger_and_only_them() -> None:
    for first in "=+-@\t\r":
        assert neutralise(first + "x") == "'" + first + "x"
    assert neutralise("'=x") == "''=x"  # so that reading back removes exactly one quote
    for safe in ("Entrepôt", "12 rue", "'quoted", "", "x=1"):
        assert neutralise(safe) == safe


def test_csv_export_quotes_formula_cells_and_keeps_numbers(tmp_path: Path) -> None:
    path = export_listings([_listing()], tmp_path / "out.csv")
    (row,) = _csv_rows(path, ",")
    for name, payload in PAYLOADS.items():
        assert row[name] == "'" + payload, name
    assert row["lon"] == "-1.5"  # a number column is never quoted
    assert row["rent_eur_m2_year"] == "95.5"


def test_french_csv_export_quotes_formula_cells(tmp_path: Path) -> None:
    path = export_listings([_listing()], tmp_path / "annonces.csv", french=True)
    (row,) = _csv_rows(path, ";")
    assert row["Titre"] == "'" + PAYLOADS["title"]
    quoted = [v for v in row.values() if v.startswith("'")]
    assert len(quoted) == len(PAYLOADS)
    assert "-1,5" in row.values()  # the longitude, a French number, not quoted


def test_xlsx_export_writes_string_cells_never_formulas(tmp_path: Path) -> None:
    for french in (False, True):
        path = export_listings([_listing()], tmp_path / f"out-{french}.xlsx", french=french)
        sheet = load_workbook(path).active
        assert sheet is not None
        header = [c.value for c in sheet[1]]
        cells = dict(zip(header, sheet[2], strict=True))
        kinds = {c.data_type for c in sheet.iter_rows() for c in c}
        assert "f" not in kinds
        title = cells["Titre" if french else "title"]
        assert title.data_type == "s"
        assert title.value == PAYLOADS["title"]
        lon = cells["Longitude" if french else "lon"] if not french else None
        if lon is not None:
            assert lon.data_type == "n" and lon.value == -1.5


@pytest.mark.parametrize(
    ("name", "options"),
    [("out.csv", {}), ("annonces.csv", {"french": True}), ("out.xlsx", {})],
)
def test_every_export_reads_back_the_exact_payloads(
    tmp_path: Path, name: str, options: dict[str, Any]
) -> None:
    path = export_listings([_listing()], tmp_path / name, **options)
    parsed = read_listings(path, territory=None)
    assert parsed.errors == []
    (item,) = parsed.items
    for field, payload in PAYLOADS.items():
        assert getattr(item, field) == payload, field
    assert item.lon == -1.5


def test_tab_and_carriage_return_cells_are_quoted(tmp_path: Path) -> None:
    # Validation strips leading blanks, but a frame straight from storage is exported as is.
    frame = pd.DataFrame(
        {
            "title": ["\tcmd", "\r=1+1"],
            "kind": ["warehouse"] * 2,
            "surface_m2": [800.0, 900.0],
            "tenure": ["rent"] * 2,
            "lon": [2.4, 2.41],
            "lat": [48.75, 48.76],
        }
    )
    path = export_listings(frame, tmp_path / "out.csv")
    titles = [row["title"] for row in _csv_rows(path, ",")]
    assert titles == ["'\tcmd", "'\r=1+1"]
