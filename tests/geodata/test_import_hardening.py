"""Bad files on every import path end in a one-line error that says what to do.

Oversized cells, broken or hostile workbooks, a locked database, files past the caps,
ambiguous numbers, implausible quantities, empty files, mixed encodings and invisible
characters; and the bulk validation gives what a row-by-row validation gives.
"""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from listing_items import GOSB, RUNGIS_MIN, VITRY
from openpyxl import Workbook
from pydantic import ValidationError

from geodata.io import (
    ImportLimitError,
    ImportLimits,
    ImportWriteError,
    ListingsFileError,
    export_listings,
    format_report,
    import_listings,
    read_listings,
)
from geodata.io.importer import NO_LISTING
from geodata.schemas import PremisesCreate, error_details
from geodata.storage import Repository
from geodata.storage._dialects import SqliteHooks
from geodata.storage._engine import dispose_engine

HEADER = "title,kind,surface_m2,tenure,rent_eur_m2_year,lon,lat"
ROW = "Entrepôt {n},warehouse,{surface},rent,90,{lon},{lat}"


def _csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def _rows(n: int, surface: str = "1000") -> list[str]:
    return [ROW.format(n=i, surface=surface, lon=VITRY[0], lat=VITRY[1]) for i in range(n)]


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "api.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)


def _one_line_error(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


# --- CSV cells and encodings -----------------------------------------------------------------


def test_a_csv_cell_over_the_csv_limit_is_a_one_line_error(tmp_path: Path) -> None:
    long_title = "x" * 131_073
    path = _csv(tmp_path / "long.csv", [*_rows(1), f'"{long_title}",warehouse,1,rent,9,2.4,48.7'])
    with pytest.raises(ListingsFileError, match=r"row 3: a cell is longer than 131,072"):
        read_listings(path, territory=GOSB)
    r = _cli("import", str(path), "--database-url", f"sqlite:///{tmp_path / 'x.db'}")
    _one_line_error(r, "file : long.csv : ligne 3 : une cellule dépasse 131 072 caractères")
    r = _cli(
        "import", str(path), "--lang", "en", "--database-url", f"sqlite:///{tmp_path / 'x.db'}"
    )
    _one_line_error(r, "file: long.csv", "row 3", "131,072")


@pytest.fixture
def raised_csv_limit() -> Iterator[None]:
    """The csv module's field limit raised for the whole process, as frictionless does."""
    before = csv.field_size_limit(sys.maxsize)
    try:
        yield
    finally:
        csv.field_size_limit(before)


def test_a_long_cell_is_refused_whatever_the_process_csv_limit(
    tmp_path: Path, raised_csv_limit: None
) -> None:
    long_title = "x" * 131_073
    path = _csv(tmp_path / "long.csv", [*_rows(1), f'"{long_title}",warehouse,1,rent,9,2.4,48.7'])
    with pytest.raises(ListingsFileError, match=r"row 3: a cell is longer than 131,072"):
        read_listings(path, territory=GOSB)
    rows = [*_rows(1), '"Entrepôt,warehouse,1000,rent,90,2.4,48.7', *(["a" * 1000] * 200)]
    with pytest.raises(ListingsFileError, match="a quote left open"):
        read_listings(_csv(tmp_path / "quote.csv", rows), territory=GOSB)


def test_an_unclosed_quote_swallowing_the_file_is_named(tmp_path: Path) -> None:
    rows = [*_rows(1), '"Entrepôt,warehouse,1000,rent,90,2.4,48.7', *(["a" * 1000] * 200)]
    with pytest.raises(ListingsFileError, match="a quote left open"):
        read_listings(_csv(tmp_path / "quote.csv", rows), territory=GOSB)


def test_a_file_mixing_encodings_names_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "mixed.csv"
    utf8 = "\n".join([HEADER, *_rows(2)]).encode("utf-8")
    latin = ("\n" + ROW.format(n=9, surface=800, lon=VITRY[0], lat=VITRY[1])).encode("cp1252")
    path.write_bytes(utf8 + latin + b"\n")
    with pytest.raises(ListingsFileError) as info:
        read_listings(path, territory=GOSB)
    message = str(info.value)
    assert "mixes text encodings: rows 4 are not UTF-8" in message
    assert "rows 2, 3 are UTF-8" in message
    assert "\n" not in message


def test_a_file_wholly_in_cp1252_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "windows.csv"
    path.write_bytes("\n".join([HEADER, *_rows(2)]).encode("cp1252"))
    parsed = read_listings(path, territory=GOSB)
    assert parsed.errors == [] and parsed.items[0].title == "Entrepôt 0"


# --- workbooks -------------------------------------------------------------------------------


def _workbook(path: Path, rows: int = 2) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    for i in range(rows):
        sheet.append([f"Entrepôt {i}", "warehouse", 1000, "rent", 90, *VITRY])
    book.save(path)
    return path


def _replace_part(path: Path, part: str, data: bytes) -> Path:
    """Rewrite one part of a workbook (a zip), keeping the others."""
    out = path.with_name("bad-" + path.name)
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info, data if info.filename == part else src.read(info.filename))
    return out


SHEET = "xl/worksheets/sheet1.xml"
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'


def _sheet_xml(cells: str, doctype: str = "") -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>{doctype}<worksheet {_NS}><sheetData>'
        f'<row r="1"><c r="A1" t="inlineStr"><is><t>title</t></is></c></row>'
        f'<row r="2"><c r="A2" t="inlineStr"><is><t>{cells}</t></is></c></row>'
        "</sheetData></worksheet>"
    ).encode()


@pytest.mark.parametrize(
    ("case", "xml"),
    [
        ("malformed", b'<?xml version="1.0"?><worksheet><sheetData><row r="1"><c'),
        (
            "xxe",
            _sheet_xml("&xxe;", '<!DOCTYPE w [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'),
        ),
        (
            "billion-laughs",
            _sheet_xml(
                "&l9;",
                '<!DOCTYPE w [<!ENTITY l0 "ha">'
                + "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10}">' for i in range(1, 10))
                + "]>",
            ),
        ),
    ],
)
def test_a_broken_or_hostile_workbook_is_a_one_line_error(
    tmp_path: Path, case: str, xml: bytes
) -> None:
    path = _replace_part(_workbook(tmp_path / f"{case}.xlsx"), SHEET, xml)
    with pytest.raises(ListingsFileError, match="cannot be read as XLSX") as info:
        read_listings(path, territory=GOSB)
    assert "root:" not in str(info.value)
    r = _cli("import", str(path), "--database-url", f"sqlite:///{tmp_path / 'x.db'}")
    _one_line_error(r, path.name, "illisible comme fichier XLSX", "enregistrez-le à nouveau")
    assert "root:" not in r.stdout + r.stderr


def _row_bomb(path: Path, rows: int) -> Path:
    """A workbook of ``rows`` one-cell rows: a few hundred kilobytes, tens of megabytes unpacked."""
    base = _workbook(tmp := path.with_name("base-" + path.name), 0)
    body = "".join(f'<row r="{r}"><c r="A{r}"><v>1</v></c></row>' for r in range(2, rows + 2))
    xml = (
        f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}><sheetData>'
        '<row r="1"><c r="A1" t="inlineStr"><is><t>surface_m2</t></is></c></row>'
        f"{body}</sheetData></worksheet>"
    ).encode()
    out = _replace_part(base, SHEET, xml)
    tmp.unlink()
    return out.rename(path)


def test_a_workbook_of_a_million_rows_is_refused_at_the_row_cap(tmp_path: Path) -> None:
    path = _row_bomb(tmp_path / "bomb.xlsx", 1_000_000)
    assert path.stat().st_size < 8 * 2**20  # a small upload...
    with pytest.raises(
        ImportLimitError, match="more than 1,000 rows, while one import takes at most 1,000"
    ):
        read_listings(path, territory=GOSB, limits=ImportLimits(max_rows=1_000))
    # ... that unpacks to far more than a workbook of that size should.
    with pytest.raises(ImportLimitError, match="unpacks to"):
        read_listings(path, territory=GOSB, limits=ImportLimits(max_unpacked_bytes=2**20))


def test_the_default_row_cap_refuses_the_million_row_workbook(tmp_path: Path) -> None:
    path = _row_bomb(tmp_path / "bomb.xlsx", 1_000_000)
    r = _cli("import", str(path), "--database-url", f"sqlite:///{tmp_path / 'x.db'}")
    _one_line_error(r, "bomb.xlsx", "au plus 200 000", "découpez le fichier")


# --- caps ------------------------------------------------------------------------------------


def test_caps_on_file_size_rows_and_time(tmp_path: Path) -> None:
    path = _csv(tmp_path / "ten.csv", _rows(10))
    with pytest.raises(ImportLimitError, match="more than the 0 MiB"):
        read_listings(path, territory=GOSB, limits=ImportLimits(max_file_bytes=100))
    with pytest.raises(ImportLimitError, match="more than 9 rows, while one import takes at"):
        read_listings(path, territory=GOSB, limits=ImportLimits(max_rows=9))
    assert len(read_listings(path, territory=GOSB, limits=ImportLimits(max_rows=10)).items) == 10
    with pytest.raises(ImportLimitError, match="took more than 0 s of processor time"):
        read_listings(path, territory=GOSB, limits=ImportLimits(max_seconds=0))
    gpkg = export_listings(read_listings(path, territory=GOSB).items, tmp_path / "ten.gpkg")
    with pytest.raises(ImportLimitError, match="10 rows, while one import takes at most 9"):
        read_listings(gpkg, territory=GOSB, limits=ImportLimits(max_rows=9))


def test_errors_past_the_cap_are_counted_not_listed(tmp_path: Path) -> None:
    path = _csv(tmp_path / "bad.csv", _rows(30, surface="beaucoup"))
    repo_free = read_listings(path, territory=GOSB, limits=ImportLimits(max_errors=5))
    assert len(repo_free.errors) == 5 and repo_free.more_errors == 25
    assert [e.row for e in repo_free.errors] == [2, 3, 4, 5, 6]


def test_the_report_counts_the_errors_it_does_not_list(tmp_path: Path, sqlite_url: str) -> None:
    repo = Repository(sqlite_url)
    repo.migrate()
    path = _csv(tmp_path / "bad.csv", _rows(30, surface="beaucoup"))
    report = import_listings(
        repo, path, actor="t", territory=GOSB, limits=ImportLimits(max_errors=5)
    )
    text = format_report(report)
    assert "Erreurs (30) :" in text
    assert "… et 25 autre(s) erreur(s), non listée(s) (au plus 5 par import)." in text
    assert "and 25 more error(s)" in format_report(report, "en")


# --- the write phase -------------------------------------------------------------------------


def test_a_locked_database_ends_in_a_clear_error_and_writes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(SqliteHooks, "busy_timeout_s", 0.2)
    db = tmp_path / "locked.db"
    url = f"sqlite:///{db}"
    repo = Repository(url)
    repo.migrate()
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # another program holds the write lock
        with pytest.raises(ImportWriteError) as info:
            import_listings(repo, _csv(tmp_path / "ok.csv", _rows(3)), actor="t", territory=GOSB)
    finally:
        other.execute("ROLLBACK")
        other.close()
    message = str(info.value)
    assert "ok.csv: the database is locked by another program" in message
    assert "nothing was written, import the file again" in message
    assert repo.counts()["premises"] == 0
    repo.dispose()
    dispose_engine(url)


# --- values ----------------------------------------------------------------------------------


def test_an_ambiguous_thousands_separator_is_an_error_naming_row_and_field(
    tmp_path: Path,
) -> None:
    row = ROW.format(n=1, surface='"12,500"', lon=VITRY[0], lat=VITRY[1])
    parsed = read_listings(_csv(tmp_path / "en.csv", [*_rows(1), row]), territory=GOSB)
    (error,) = parsed.errors
    assert (error.row, error.field, error.value) == (3, "surface_m2", "12,500")
    assert error.reason.startswith("'12,500' is ambiguous: 12.5 or 12500?")
    assert [it.surface_m2 for it in parsed.items] == [1000.0]
    french = tmp_path / "fr.csv"
    french.write_text(
        "titre;type;surface;mode;loyer;lon;lat\n"
        f"A;entrepôt;12,500;location;90;{VITRY[0]};{VITRY[1]}\n"
        f"B;entrepôt;1.500;location;90;{VITRY[0]};{VITRY[1]}\n",
        encoding="utf-8",
    )
    parsed = read_listings(french, territory=GOSB)
    assert [it.surface_m2 for it in parsed.items] == [12.5]  # a decimal comma, in France
    assert [(e.row, e.field) for e in parsed.errors] == [(3, "surface_m2")]
    assert "'1.500' is ambiguous" in parsed.errors[0].reason


@pytest.mark.parametrize("value", ["1e308", "inf", "-inf", "nan", "2000000"])
def test_implausible_surfaces_are_refused_naming_the_field(tmp_path: Path, value: str) -> None:
    path = _csv(tmp_path / "big.csv", _rows(1, surface=value))
    parsed = read_listings(path, territory=GOSB)
    assert parsed.items == []
    assert [(e.row, e.field) for e in parsed.errors] == [(2, "surface_m2")]


@pytest.mark.parametrize(
    ("field", "too_much"),
    [
        ("surface_m2", 1e6 + 1),
        ("activity_m2", 2e6),
        ("storage_m2", 2e6),
        ("office_m2", 2e6),
        ("mezzanine_m2", 2e6),
        ("plot_m2", 1e8),
        ("ceiling_height_m", 61),
        ("floor_load_t_m2", 101),
        ("loading_docks", 1001),
        ("ground_level_doors", 1001),
        ("power_kva", 100_001),
        ("parking_spaces", 100_001),
        ("rent_eur_m2_year", 2001),
        ("sale_price_eur", 1e11),
        ("charges_eur_m2_year", 1001),
        ("sale_price_eur", float("inf")),
    ],
)
def test_every_quantity_has_a_plausibility_range(field: str, too_much: float) -> None:
    data: dict[str, object] = {
        "title": "A",
        "kind": "warehouse",
        "surface_m2": 1000,
        "tenure": "both",
        "lon": VITRY[0],
        "lat": VITRY[1],
        field: too_much,
    }
    with pytest.raises(ValidationError) as info:
        PremisesCreate.model_validate(data)
    assert [d["field"] for d in error_details(info.value)] == [field]


@pytest.mark.parametrize("content", ["", "\n\n", HEADER + "\n"])
def test_an_empty_file_is_an_error(tmp_path: Path, sqlite_url: str, content: str) -> None:
    repo = Repository(sqlite_url)
    repo.migrate()
    path = tmp_path / "vide.csv"
    path.write_text(content, encoding="utf-8")
    report = import_listings(repo, path, actor="t", territory=GOSB)
    assert not report.ok and not report.written
    assert [e.reason for e in report.errors] == [NO_LISTING]
    assert "le fichier ne contient aucune annonce" in format_report(report)
    r = _cli("import", str(path), "--database-url", sqlite_url)
    assert r.returncode != 0 and "aucune annonce" in r.stdout


def test_invisible_and_bidi_characters_are_removed_with_a_warning(tmp_path: Path) -> None:
    rows = [
        ROW.format(n="\u202eevil\u202c", surface=900, lon=VITRY[0], lat=VITRY[1]),
        ROW.format(n="zero\u200bwidth", surface=800, lon=RUNGIS_MIN[0], lat=RUNGIS_MIN[1]),
        ROW.format(n="plain", surface=700, lon=RUNGIS_MIN[0], lat=RUNGIS_MIN[1]),
    ]
    parsed = read_listings(_csv(tmp_path / "bidi.csv", rows), territory=GOSB)
    assert [it.title for it in parsed.items] == [
        "Entrepôt evil",
        "Entrepôt zerowidth",
        "Entrepôt plain",
    ]
    found = [(w.row, w.field) for w in parsed.warnings if w.kind == "invisible_characters"]
    assert found == [(2, "title"), (3, "title")]
    assert "U+202C, U+202E" in parsed.warnings[0].message


# --- the bulk validation gives what one-by-one validation gives --------------------------------


def test_bulk_place_check_gives_the_row_by_row_results(tmp_path: Path) -> None:
    lon, lat = VITRY
    cases = {
        "inside": (lon, lat, ""),
        "inside with its commune": (lon, lat, "94081"),
        "in a zone": (*RUNGIS_MIN, ""),
        "outside": (1.0, 47.0, ""),
        "swapped": (lat, lon, ""),
        "other commune": (lon, lat, "94065"),
        "unknown commune": (lon, lat, "75056"),
        "commune by name": (lon, lat, "Vitry-sur-Seine"),
    }
    header = HEADER + ",commune_insee"
    rows = [
        f"{title},warehouse,1000,rent,90,{x},{y},{commune}"
        for title, (x, y, commune) in cases.items()
    ]
    parsed = read_listings(_csv(tmp_path / "places.csv", rows, header), territory=GOSB)
    expected_items, expected_errors = [], []
    for row, (title, (x, y, commune)) in enumerate(cases.items(), start=2):
        data = {
            "title": title,
            "kind": "warehouse",
            "surface_m2": 1000.0,
            "tenure": "rent",
            "rent_eur_m2_year": 90.0,
            "lon": x,
            "lat": y,
        }
        if commune:
            data["commune_insee"] = commune if commune[0].isdigit() else GOSB.commune_code(commune)
        try:
            expected_items.append(PremisesCreate.model_validate(data, context={"territory": GOSB}))
        except ValidationError as exc:
            expected_errors += [(row, d["field"], d["reason"]) for d in error_details(exc)]
    assert parsed.items == expected_items
    assert [(e.row, e.field, e.reason) for e in parsed.errors] == expected_errors
    assert len(expected_items) == 4 and len(expected_errors) == 4
    assert parsed.items[2].zone_id is not None and parsed.items[0].commune_insee == "94081"


def test_a_demo_sized_export_reads_back_identical(tmp_path: Path) -> None:
    from geodata.demo import demo_premises

    items = demo_premises(territory=GOSB)
    path = export_listings(items, tmp_path / "demo.csv")
    parsed = read_listings(path, territory=GOSB)
    assert parsed.errors == []
    assert parsed.items == items
    frame = pd.read_csv(path)
    assert len(frame) == len(items)


def test_listings_validated_in_bulk_are_those_of_row_by_row(tmp_path: Path) -> None:
    from geodata.demo import demo_premises

    items = demo_premises(seed=7, n=2_000, territory=GOSB)
    path = export_listings(items, tmp_path / "synth.csv")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    frame.drop(columns=["commune_insee", "zone_id"]).to_csv(path, index=False)  # from the point
    parsed = read_listings(path, territory=GOSB)
    assert parsed.errors == [] and len(parsed.items) == 2_000
    context = {"territory": GOSB}
    for item in parsed.items:
        data = item.model_dump(exclude={"commune_insee", "zone_id"})
        assert PremisesCreate.model_validate(data, context=context) == item
    assert sum(item.zone_id is not None for item in parsed.items) > 0


# --- a refused file, in the language of the report ------------------------------------------


@pytest.fixture(scope="module")
def refused_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    import geopandas as gpd
    import pyogrio
    import shapely

    folder = tmp_path_factory.mktemp("refused")
    noise = bytes(range(256)) * 40
    (folder / "garbage.csv").write_bytes(noise)
    (folder / "garbage.xlsx").write_bytes(noise)
    (folder / "empty.gpkg").write_bytes(b"")
    # A zip bomb renamed .xlsx: 1.1 GiB of zeros in about a megabyte.
    with zipfile.ZipFile(folder / "bomb.xlsx", "w", zipfile.ZIP_DEFLATED, compresslevel=1) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            for _ in range(70):
                sheet.write(b"0" * 2**24)
    lines = gpd.GeoDataFrame(
        {"title": ["rue"]}, geometry=[shapely.LineString([(2.3, 48.7), (2.4, 48.8)])], crs=4326
    )
    pyogrio.write_dataframe(lines, folder / "lines.gpkg", layer="rues", driver="GPKG")
    return {p.name: p for p in folder.iterdir()}


@pytest.mark.parametrize(
    ("name", "fr", "en"),
    [
        (
            "garbage.csv",
            "file : garbage.csv : n'est pas un fichier texte CSV (contenu binaire) ; enregistrez "
            "à nouveau le tableau en CSV UTF-8 depuis le tableur",
            "file: garbage.csv: is not a CSV text file (binary content); save the table again "
            "as CSV UTF-8 from the spreadsheet",
        ),
        (
            "garbage.xlsx",
            "file : garbage.xlsx : illisible comme fichier XLSX (BadZipFile: File is not a zip "
            "file) ; vérifiez que le fichier est bien au format XLSX et enregistrez-le à nouveau",
            "file: garbage.xlsx: cannot be read as XLSX (BadZipFile: File is not a zip file); "
            "check that the file is in XLSX format and save it again",
        ),
        (
            "bomb.xlsx",
            "file : bomb.xlsx : le classeur se décompresse en 1 120 Mio, plus que les 1 024 Mio "
            "qu'un import accepte ; découpez-le en classeurs plus petits",
            "file: bomb.xlsx: the workbook unpacks to 1,120 MiB, more than the 1,024 MiB one "
            "import takes; split it into smaller workbooks",
        ),
        (
            "lines.gpkg",
            "file : lines.gpkg : aucune couche de points ou de polygones (couches : rues "
            "(LineString)) ; exportez les annonces en points ou en polygones depuis le SIG",
            "file: lines.gpkg: no layer of points or polygons (layers: rues (LineString)); "
            "export the listings as points or polygons from the GIS",
        ),
        (
            "empty.gpkg",
            "file : empty.gpkg : le fichier est vide (0 octet) ; exportez-y à nouveau les annonces",
            "file: empty.gpkg: the file is empty (0 bytes); export the listings to it again",
        ),
    ],
)
def test_the_cli_tells_a_refused_file_in_the_report_language(
    refused_files: dict[str, Path], tmp_path: Path, name: str, fr: str, en: str
) -> None:
    path, db = refused_files[name], f"sqlite:///{tmp_path / 'x.db'}"
    with pytest.raises((ListingsFileError, ImportLimitError)) as info:
        read_listings(path, territory=GOSB)
    assert str(info.value) == en.removeprefix("file: ")  # str() stays English for logs
    assert info.value.text("fr") == fr.removeprefix("file : ")
    french = _cli("import", str(path), "--database-url", db)
    _one_line_error(french)
    assert french.stderr.strip() == fr
    english = _cli("import", str(path), "--lang", "en", "--database-url", db)
    _one_line_error(english)
    assert english.stderr.strip() == en
