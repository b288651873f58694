"""Tests of listing import and export: French CSV parsing, row-numbered errors, round trips."""

from __future__ import annotations

import csv
import json
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from listing_items import GOSB, RUNGIS_MIN, VITRY
from listing_items import item as _item

import geopandas as gpd
import shapely

from geodata.io import (
    ImportReport,
    RowError,
    UnsupportedFormatError,
    canonical_frame,
    export_listings,
    find_probable_duplicates,
    format_report,
    import_listings,
    read_listings,
)
from geodata.io._csv import decode, detect_separator
from geodata.io._values import (
    FLOAT_FIELDS,
    CellError,
    parse_bool,
    parse_date,
    parse_number,
    parse_uses,
)
from geodata.io._vocab import (
    COLUMN_ALIASES,
    FRENCH_HEADERS,
    header_lookup,
    value_lookup,
)
from geodata.io.report import format_row_error
from geodata.schemas import PremisesCreate
from geodata.storage import Repository
from geodata.territory import default_territory, to_lambert93

# Points inside the territory: (lon, lat) and the commune they lie in.
ORLY = (2.39, 48.74)  # Orly, outside any zone
VILLEJUIF = (2.37, 48.79)
GENTILLY = (2.333, 48.815)

FR_HEADER = [
    "Référence", "Intitulé", "Nature", "Usages", "Surface (m²)", "Loyer €/m²/an",
    "Prix de vente", "Location / vente", "Statut", "Latitude", "Longitude", "Divisible",
    "Lot minimum (m²)", "Hauteur sous plafond (m)", "Charge au sol (t/m²)", "Quais",
    "Portes de plain-pied", "Puissance (kVA)", "ICPE", "Disponibilité", "Adresse",
]  # fmt: skip


def _fr_row(ref: str, lon: float, lat: float, **over: str) -> list[str]:
    row = {
        "Référence": ref,
        "Intitulé": f"Local {ref}",
        "Nature": "entrepôt",
        "Usages": "stockage; artisanat",
        "Surface (m²)": "1 200,50",
        "Loyer €/m²/an": "95,5",
        "Prix de vente": "",
        "Location / vente": "location",
        "Statut": "disponible",
        "Latitude": f"{lat}".replace(".", ","),
        "Longitude": f"{lon}".replace(".", ","),
        "Divisible": "oui",
        "Lot minimum (m²)": "300",
        "Hauteur sous plafond (m)": "8,5",
        "Charge au sol (t/m²)": "3",
        "Quais": "2",
        "Portes de plain-pied": "1",
        "Puissance (kVA)": "250",
        "ICPE": "non",
        "Disponibilité": "31/12/2026",
        "Adresse": "1 rue de l'Église",
    }
    row.update(over)
    return [row[h] for h in FR_HEADER]


def _write_csv(
    path: Path,
    header: list[str],
    rows: list[list[str]],
    *,
    sep: str = ";",
    encoding: str = "utf-8",
) -> Path:
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=sep)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def _grid_points(n: int, spacing_m: float = 150.0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points of a regular Lambert-93 grid inside the territory, ``spacing_m`` apart."""
    territory = default_territory()
    west, south, east, north = territory.boundary_l93.bounds
    xs, ys = np.meshgrid(np.arange(west, east, spacing_m), np.arange(south, north, spacing_m))
    pts = shapely.points(xs.ravel(), ys.ravel())
    inside = shapely.contains_xy(
        shapely.buffer(territory.boundary_l93, -200), xs.ravel(), ys.ravel()
    )
    pts = gpd.GeoSeries(pts[inside], crs=2154).to_crs(4326)
    return shapely.get_x(pts.array[:n]), shapely.get_y(pts.array[:n])


# -- cell parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1 200,50", 1200.5),
        ("1\u00a0200,50", 1200.5),
        ("1\u202f200", 1200.0),
        ("12,5", 12.5),
        ("1.200,50", 1200.5),
        ("1,200.50", 1200.5),
        ("1200.5", 1200.5),
        ("95 €/m²/an", 95.0),
        ("1 200 m²", 1200.0),
        ("250 kVA", 250.0),
        ("-3,5", -3.5),
        ("1.200.000", 1_200_000.0),
        (12, 12.0),
        (2.5, 2.5),
    ],
)
def test_parse_number_reads_french_and_english_numbers(text: object, expected: float) -> None:
    assert parse_number(text) == expected


@pytest.mark.parametrize("text", ["12O0", "abc", "1,2,3", "12 quais", "1.2.3,4,5", "nan"])
def test_parse_number_names_the_raw_value(text: str) -> None:
    with pytest.raises(CellError, match=f"^'{text}' is not a number$"):
        parse_number(text)


@given(st.decimals(min_value=0, max_value=10**9, places=2, allow_nan=False))
@settings(max_examples=60, deadline=None)
def test_parse_number_reads_any_french_formatted_amount(value: object) -> None:
    number = float(value)  # type: ignore[arg-type]
    french = f"{number:,.2f}".replace(",", "\u202f").replace(".", ",")
    assert parse_number(french) == pytest.approx(number, abs=1e-9)


@pytest.mark.parametrize(
    ("text", "expected"),
    [("oui", True), ("Non", False), ("VRAI", True), ("faux", False), ("x", True), ("1", True),
     ("0", False), (True, True)],
)  # fmt: skip
def test_parse_bool(text: object, expected: bool) -> None:
    assert parse_bool(text) is expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("31/12/2026", date(2026, 12, 31)),
        ("2026-12-31", date(2026, 12, 31)),
        ("31.12.2026", date(2026, 12, 31)),
        ("1/3/26", date(2026, 3, 1)),
        (datetime(2026, 12, 31, 0, 0), date(2026, 12, 31)),
        ("immédiate", None),
    ],
)
def test_parse_date(text: object, expected: date | None) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize("text", ["31/02/2026", "demain", "2026-13-01"])
def test_parse_date_rejects_impossible_dates(text: str) -> None:
    with pytest.raises(CellError, match="is not a date"):
        parse_date(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stockage, artisanat", ["logistics", "craft"]),
        ("logistique; BTP / R&D | réparation", ["logistics", "construction", "lab_rd", "repair"]),
        ("production et agroalimentaire", ["production", "food_processing"]),
        ("Stockage / logistique", ["logistics"]),
        ("recherche et développement", ["lab_rd"]),
        ("laboratoire", ["lab_rd"]),
        ("logistics,production", ["logistics", "production"]),
    ],
)
def test_parse_uses_splits_french_lists(text: str, expected: list[str]) -> None:
    assert parse_uses(text) == expected


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("surface (m²)", "surface_m2"), ("Surface m2", "surface_m2"), ("SURFACE", "surface_m2"),
        ("loyer €/m²/an", "rent_eur_m2_year"), ("Loyer (€/m2/an)", "rent_eur_m2_year"),
        ("prix de vente", "sale_price_eur"), ("Prix (€)", "sale_price_eur"),
        ("type", "kind"), ("Nature", "kind"), ("usages", "uses"),
        ("commune", "commune_insee"), ("Code INSEE", "commune_insee"),
        ("latitude", "lat"), ("lat", "lat"), ("y", "lat"),
        ("longitude", "lon"), ("lng", "lon"), ("X", "lon"),
        ("référence", "external_ref"), ("Ref", "external_ref"),
        ("hauteur sous plafond (m)", "ceiling_height_m"),
        ("charge au sol (t/m²)", "floor_load_t_m2"),
        ("quais", "loading_docks"), ("Quais de chargement", "loading_docks"),
        ("portes de plain-pied", "ground_level_doors"), ("puissance (kVA)", "power_kva"),
        ("ICPE", "icpe_allowed"), ("disponible le", "available_from"),
        ("Disponibilité", "available_from"), ("statut", "status"), ("divisible", "divisible"),
        ("lot minimum (m²)", "min_lot_m2"), ("adresse", "address"), ("titre", "title"),
        ("Intitulé", "title"), ("surface_m2", "surface_m2"),
        ("rent_eur_m2_year", "rent_eur_m2_year"),
    ],
)  # fmt: skip
def test_french_headers_map_to_fields(header: str, field: str) -> None:
    assert header_lookup(header) == field


def test_every_field_has_a_french_header_that_reads_back() -> None:
    assert set(COLUMN_ALIASES) == set(PremisesCreate.model_fields)
    for field, header in FRENCH_HEADERS.items():
        assert header_lookup(header) == field


@pytest.mark.parametrize(
    ("field", "text", "value"),
    [
        ("kind", "entrepôt", "warehouse"), ("kind", "Atelier", "workshop"),
        ("kind", "local d'activité", "workshop"), ("kind", "terrain", "land"),
        ("kind", "bâtiment industriel", "industrial_building"),
        ("kind", "lot", "business_village_lot"),
        ("kind", "village d'entreprises", "business_village_lot"), ("kind", "laboratoire", "lab"),
        ("kind", "bureaux", "office_annex"), ("uses", "stockage", "logistics"),
        ("uses", "logistique", "logistics"), ("uses", "artisanat", "craft"),
        ("uses", "agroalimentaire", "food_processing"), ("uses", "BTP", "construction"),
        ("uses", "R&D", "lab_rd"), ("uses", "laboratoire", "lab_rd"),
        ("uses", "réparation", "repair"), ("uses", "production", "production"),
        ("tenure", "location", "rent"), ("tenure", "vente", "sale"),
        ("tenure", "location ou vente", "both"), ("tenure", "les deux", "both"),
        ("status", "disponible", "available"), ("status", "sous offre", "under_offer"),
        ("status", "loué", "let"), ("status", "vendu", "sold"), ("status", "retiré", "withdrawn"),
    ],
)  # fmt: skip
def test_french_values_map_to_enums(field: str, text: str, value: str) -> None:
    assert value_lookup(field, text) == value


def test_decode_and_separator_detection() -> None:
    assert decode("Entrepôt;Loué".encode("cp1252")) == ("Entrepôt;Loué", "cp1252")
    assert decode("\ufeffa;b".encode()) == ("a;b", "utf-8-sig")
    assert detect_separator("a;b;c\n1,5;2;3\n") == ";"
    assert detect_separator("a\tb\n1,5\t2\n") == "\t"
    assert detect_separator('a,b\n"1,5",2\n') == ","


# -- reading files --------------------------------------------------------------------------


def test_french_cp1252_csv_is_read(tmp_path: Path) -> None:
    rows = [
        _fr_row("E-1", *RUNGIS_MIN),
        _fr_row(
            "E-2", *VITRY, **{
                "Nature": "Local d'activité", "Usages": "production et R&D",
                "Surface (m²)": "450", "Location / vente": "location ou vente",
                "Prix de vente": "1\u00a0250\u00a0000", "Statut": "sous offre",
                "Divisible": "", "Lot minimum (m²)": "", "ICPE": "x",
                "Disponibilité": "2027-01-15",
            },
        ),
    ]  # fmt: skip
    path = _write_csv(tmp_path / "offres.csv", FR_HEADER, rows, encoding="cp1252")
    parsed = read_listings(path, territory=GOSB)
    assert parsed.errors == []
    assert parsed.notes == {"encoding": "cp1252", "separator": ";"}
    first, second = parsed.items
    assert parsed.rows == [2, 3]
    assert first.kind == "warehouse" and first.uses == ["logistics", "craft"]
    assert first.surface_m2 == 1200.5 and first.rent_eur_m2_year == 95.5
    assert first.divisible is True and first.min_lot_m2 == 300
    assert first.ceiling_height_m == 8.5 and first.loading_docks == 2
    assert first.icpe_allowed is False and first.available_from == date(2026, 12, 31)
    assert first.address == "1 rue de l'Église" and first.commune_insee == "94021"
    assert first.zone_id == "94021_SITE-ECO_00001"
    assert second.kind == "workshop" and second.uses == ["production", "lab_rd"]
    assert second.tenure == "both" and second.sale_price_eur == 1_250_000
    assert second.status == "under_offer" and second.icpe_allowed is True
    assert second.divisible is False and second.available_from == date(2027, 1, 15)


def test_tab_separated_utf8_bom_with_english_headers(tmp_path: Path) -> None:
    header = ["external_ref", "title", "kind", "surface_m2", "tenure", "lon", "lat", "uses"]
    rows = [["T-1", "Atelier", "workshop", "300.5", "rent", *map(str, ORLY), "craft|repair"]]
    path = _write_csv(tmp_path / "t.tsv", header, rows, sep="\t", encoding="utf-8-sig")
    parsed = read_listings(path, territory=GOSB)
    assert parsed.errors == [] and parsed.notes["separator"] == "tab"
    assert parsed.items[0].uses == ["craft", "repair"]
    assert parsed.items[0].surface_m2 == 300.5


def test_commune_names_are_read_as_insee_codes(tmp_path: Path) -> None:
    header = ["titre", "type", "surface", "location / vente", "commune", "lon", "lat"]
    rows = [["A", "atelier", "100", "location", "Orly", *map(str, ORLY)]]
    parsed = read_listings(_write_csv(tmp_path / "c.csv", header, rows), territory=GOSB)
    assert parsed.errors == []
    assert parsed.items[0].commune_insee == "94054"


def test_commune_names_in_any_form_and_wrong_names_with_close_matches(tmp_path: Path) -> None:
    header = ["ref", "titre", "type", "surface", "location / vente", "commune", "lon", "lat"]
    vitry = [*map(str, VITRY)]
    rows = [
        ["V-1", "A", "atelier", "100", "location", "Vitry-sur-Seine", *vitry],
        ["V-2", "B", "atelier", "100", "location", "vitry sur seine", *vitry],
        ["V-3", "C", "atelier", "100", "location", "VITRY SUR SEINE", *vitry],
        ["V-4", "D", "atelier", "100", "location", "Vitri sur Seine", *vitry],
        ["V-5", "E", "atelier", "100", "location", "Villeneuve", *vitry],
        ["V-6", "F", "atelier", "100", "location", "Orly", *vitry],
    ]
    parsed = read_listings(_write_csv(tmp_path / "v.csv", header, rows), territory=GOSB)
    assert [i.commune_insee for i in parsed.items] == ["94081"] * 3
    errors = {e.row: e for e in parsed.errors}
    assert set(errors) == {5, 6, 7}
    assert errors[5].field == "commune_insee" and errors[5].value == "Vitri sur Seine"
    assert "close matches: Vitry-sur-Seine (94081)" in errors[5].reason
    assert "several communes" in errors[6].reason and "(94078)" in errors[6].reason
    assert "disagrees with the point" in errors[7].reason  # a known name, the wrong place


def test_unknown_column_is_a_warning_not_an_error(tmp_path: Path) -> None:
    header = [*FR_HEADER, "Couleur du portail"]
    path = _write_csv(tmp_path / "u.csv", header, [[*_fr_row("U-1", *ORLY), "bleu"]])
    parsed = read_listings(path, territory=GOSB)
    assert parsed.errors == [] and len(parsed.items) == 1
    (warning,) = parsed.warnings
    assert warning.kind == "unknown_column" and warning.field == "Couleur du portail"
    assert warning.row == 1


def test_missing_required_column_is_reported_once(tmp_path: Path) -> None:
    header = [h for h in FR_HEADER if h != "Surface (m²)"]
    rows = [
        [c for h, c in zip(FR_HEADER, _fr_row(f"M-{i}", *ORLY), strict=True) if h in header]
        for i in range(3)
    ]
    parsed = read_listings(_write_csv(tmp_path / "m.csv", header, rows), territory=GOSB)
    assert parsed.items == []
    assert [(e.row, e.field) for e in parsed.errors] == [(1, "surface_m2")]
    assert "no column for this required field" in parsed.errors[0].reason


def test_every_bad_row_is_reported_with_row_and_field(tmp_path: Path) -> None:
    rows = [
        _fr_row("B-1", *RUNGIS_MIN),  # row 2: fine
        _fr_row("B-2", *VITRY, **{"Surface (m²)": "12O0"}),  # row 3
        _fr_row("B-3", *ORLY, **{"Nature": "hangar à bateaux"}),  # row 4
        _fr_row("B-4", *VILLEJUIF, **{"Intitulé": "", "Disponibilité": "31/02/2026"}),  # row 5
        _fr_row("B-5", ORLY[1], ORLY[0]),  # row 6: lat/lon swapped
        _fr_row("B-6", 2.2945, 48.8584),  # row 7: Eiffel tower, outside the territory
        _fr_row("B-1", *GENTILLY),  # row 8: reference already on row 2
        _fr_row("B-8", *GENTILLY, **{"Location / vente": "vente", "Quais": "2,5"}),  # row 9
    ]
    path = _write_csv(tmp_path / "bad.csv", FR_HEADER, rows)
    parsed = read_listings(path, territory=GOSB)
    found = {(e.row, e.field): e for e in parsed.errors}
    assert parsed.rows == [2]
    assert found[(3, "surface_m2")] == RowError(3, "surface_m2", "'12O0' is not a number", "12O0")
    assert "is not a known kind" in found[(4, "kind")].reason
    assert found[(4, "kind")].value == "hangar à bateaux"
    assert (5, "title") in found
    assert found[(5, "available_from")].value == "31/02/2026"
    assert "swapped" in found[(6, "lon, lat")].reason
    assert "outside the territory" in found[(7, "lon, lat")].reason
    assert "already on row 2" in found[(8, "external_ref")].reason
    assert found[(9, "loading_docks")].reason == "'2,5' is not a whole number"
    assert (9, "rent_eur_m2_year") in found  # a rent on a sale-only listing
    assert sorted({e.row for e in parsed.errors}) == [3, 4, 5, 6, 7, 8, 9]


def test_unquoted_decimal_comma_in_a_comma_file_is_named(tmp_path: Path) -> None:
    text = "title,kind,surface_m2,tenure,lon,lat\nA,workshop,100,rent,2.39,48.74\n"
    text += "B,workshop,1200,50,rent,2.39,48.741\n"
    path = tmp_path / "c.csv"
    path.write_text(text, encoding="utf-8")
    parsed = read_listings(path, territory=GOSB)
    assert [(e.row, e.field) for e in parsed.errors if e.field == "(record)"] == [(3, "(record)")]
    assert parsed.rows == [2]


def test_lambert93_xy_columns_are_reprojected(tmp_path: Path) -> None:
    x, y = to_lambert93(*ORLY)
    header = ["titre", "type", "surface", "location / vente", "x", "y"]
    rows = [["A", "atelier", "100", "location", f"{x[0]:.2f}", f"{y[0]:.2f}"]]
    parsed = read_listings(_write_csv(tmp_path / "l93.csv", header, rows), territory=GOSB)
    assert parsed.errors == []
    assert parsed.items[0].lon == pytest.approx(ORLY[0], abs=1e-6)
    assert parsed.items[0].lat == pytest.approx(ORLY[1], abs=1e-6)
    assert [w.kind for w in parsed.warnings] == ["reprojected"]


def test_geopackage_polygons_in_lambert93_give_points_and_footprints(tmp_path: Path) -> None:
    x, y = to_lambert93(*VITRY)
    square = shapely.box(x[0] - 20, y[0] - 15, x[0] + 20, y[0] + 15)
    frame = gpd.GeoDataFrame(
        {"Intitulé": ["Halle"], "Nature": ["bâtiment industriel"], "Surface (m²)": [1200.0],
         "Location / vente": ["vente"], "Prix de vente": [900000.0]},
        geometry=[square],
        crs=2154,
    )  # fmt: skip
    path = tmp_path / "halles.gpkg"
    frame.to_file(path, layer="halles", engine="pyogrio")
    parsed = read_listings(path, territory=GOSB)
    assert parsed.errors == []
    (item,) = parsed.items
    assert item.kind == "industrial_building" and item.commune_insee == "94081"
    assert item.lon == pytest.approx(VITRY[0], abs=1e-4)
    assert item.footprint is not None and item.footprint["type"] == "Polygon"
    assert "EPSG:2154" in parsed.notes["crs"]


def test_geojson_line_geometry_is_an_error(tmp_path: Path) -> None:
    frame = gpd.GeoDataFrame(
        {"title": ["A"], "kind": ["workshop"], "surface_m2": [100.0], "tenure": ["rent"]},
        geometry=[shapely.LineString([ORLY, VILLEJUIF])],
        crs=4326,
    )
    path = tmp_path / "line.geojson"
    frame.to_file(path, engine="pyogrio")
    parsed = read_listings(path, territory=GOSB)
    assert parsed.items == []
    assert (parsed.errors[0].row, parsed.errors[0].field) == (1, "geometry")


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.dbf"
    path.write_text("", encoding="utf-8")
    with pytest.raises(UnsupportedFormatError, match="cannot tell the format"):
        read_listings(path, territory=GOSB)


# -- probable duplicates --------------------------------------------------------------------


def test_probable_duplicates_within_the_file_and_with_stored_listings() -> None:
    x, y = to_lambert93(*ORLY)
    near = gpd.GeoSeries(shapely.points([x[0] + 12], [y[0] + 5]), crs=2154).to_crs(4326)
    near_lon, near_lat = float(near.x.iloc[0]), float(near.y.iloc[0])
    items = [
        _item("A", *ORLY, surface_m2=1000.0),
        _item("B", near_lon, near_lat, surface_m2=1050.0),  # 13 m, +5 %: duplicate of row 2
        _item("C", near_lon, near_lat, surface_m2=2000.0),  # same place, other surface
        _item(None, *VITRY, surface_m2=500.0),  # duplicate of stored listing 7
        _item("S-8", *VILLEJUIF, surface_m2=400.0),  # same ref as stored 8: an update
    ]
    stored = pd.DataFrame(
        {
            "lon": [VITRY[0], VILLEJUIF[0]],
            "lat": [VITRY[1] + 0.0001, VILLEJUIF[1]],
            "surface_m2": [520.0, 400.0],
            "external_ref": ["S-7", "S-8"],
            "title": ["Stored 7", "Stored 8"],
        },
        index=pd.Index([7, 8], name="id"),
    )
    warnings = find_probable_duplicates(items, [2, 3, 4, 5, 6], stored)
    assert [(w.row, w.other_row, w.other_id) for w in warnings] == [(3, 2, None), (5, None, 7)]
    assert all(w.kind == "probable_duplicate" for w in warnings)
    assert "13 m apart" in warnings[0].message


# -- importing into a repository ------------------------------------------------------------


def _good_file(tmp_path: Path, n: int = 3) -> Path:
    points = [RUNGIS_MIN, VITRY, ORLY, VILLEJUIF, GENTILLY]
    rows = [_fr_row(f"G-{i}", *points[i % len(points)]) for i in range(n)]
    return _write_csv(tmp_path / "good.csv", FR_HEADER, rows)


def test_all_or_nothing_writes_nothing_when_a_row_is_bad(repo: Repository, tmp_path: Path) -> None:
    repo.upsert_premises_by_ref([_item("OLD", *GENTILLY)], actor="test")
    before = (repo.counts(), repo.catalogue_version())
    rows = [_fr_row("N-1", *RUNGIS_MIN), _fr_row("N-2", *VITRY, **{"Surface (m²)": "abc"})]
    path = _write_csv(tmp_path / "n.csv", FR_HEADER, rows)
    report = import_listings(repo, path, actor="test", territory=GOSB)
    assert not report.written and not report.ok
    assert (report.total_rows, report.valid_rows) == (2, 1)
    assert report.errors == [RowError(3, "surface_m2", "'abc' is not a number", "abc")]
    assert report.created == report.updated == []
    assert (repo.counts(), repo.catalogue_version()) == before


def test_skip_invalid_imports_the_valid_rows(repo: Repository, tmp_path: Path) -> None:
    rows = [
        _fr_row("S-1", *RUNGIS_MIN),
        _fr_row("S-2", *VITRY, **{"Statut": "perdu"}),
        _fr_row("S-3", *ORLY),
    ]
    path = _write_csv(tmp_path / "s.csv", FR_HEADER, rows)
    report = import_listings(repo, path, actor="test", skip_invalid=True, territory=GOSB)
    assert report.written and len(report.created) == 2
    assert [(e.row, e.field) for e in report.errors] == [(3, "status")]
    frame = repo.premises_frame()
    assert sorted(frame["external_ref"]) == ["S-1", "S-3"]


def test_dry_run_validates_and_writes_nothing(repo: Repository, tmp_path: Path) -> None:
    report = import_listings(repo, _good_file(tmp_path), actor="test", dry_run=True, territory=GOSB)
    assert report.ok and report.valid_rows == 3 and not report.written
    assert repo.counts()["premises"] == 0


def test_reimport_updates_by_reference_instead_of_duplicating(
    repo: Repository, tmp_path: Path
) -> None:
    path = _good_file(tmp_path)
    first = import_listings(repo, path, actor="test", territory=GOSB)
    assert len(first.created) == 3 and first.warnings == []
    again = import_listings(repo, path, actor="test", territory=GOSB)
    assert (
        again.created == []
        and again.updated == []
        and sorted(again.unchanged) == sorted(first.created)
    )
    rows = [_fr_row("G-0", *RUNGIS_MIN, **{"Loyer €/m²/an": "99"}), _fr_row("G-1", *VITRY)]
    changed = import_listings(
        repo, _write_csv(tmp_path / "g2.csv", FR_HEADER, rows), actor="test", territory=GOSB
    )
    assert changed.created == [] and len(changed.updated) == 1
    assert repo.counts()["premises"] == 3
    frame = repo.premises_frame().set_index("external_ref")
    assert frame.loc["G-0", "rent_eur_m2_year"] == 99.0
    assert frame.loc["G-0", "version"] == 2


def test_reimport_keeps_fields_the_file_does_not_carry(repo: Repository, tmp_path: Path) -> None:
    import_listings(repo, _good_file(tmp_path), actor="test", territory=GOSB)
    stored = repo.premises_by_refs(["G-0"])["G-0"]
    let = repo.patch_premises(
        stored.id,
        {"status": "let", "description": "Typed in the app"},
        expected_version=stored.version,
        actor="owner",
    )
    header = [h for h in FR_HEADER if h != "Statut"]
    row = dict(zip(FR_HEADER, _fr_row("G-0", *RUNGIS_MIN, **{"Loyer €/m²/an": "101"}), strict=True))
    path = _write_csv(tmp_path / "no-status.csv", header, [[row[h] for h in header]])
    report = import_listings(repo, path, actor="test", territory=GOSB)
    assert report.updated == [stored.id]
    after = repo.get_premises(stored.id)
    assert after.rent_eur_m2_year == 101.0
    assert after.status == "let" and after.description == "Typed in the app"
    assert after.version == let.version + 1


def test_probable_duplicate_of_a_stored_listing_is_warned(repo: Repository, tmp_path: Path) -> None:
    (stored,) = repo.add_many_premises([_item("X-1", *ORLY, surface_m2=1190.0)], actor="test")
    path = _write_csv(tmp_path / "d.csv", FR_HEADER, [_fr_row("OTHER", *ORLY)])
    report = import_listings(repo, path, actor="test", dry_run=True, territory=GOSB)
    assert [(w.row, w.kind, w.other_id) for w in report.warnings] == [
        (2, "probable_duplicate", stored.id)
    ]


def test_thousand_rows_with_one_bad_row(repo: Repository, tmp_path: Path) -> None:
    lon, lat = _grid_points(1000)
    assert len(lon) == len(lat) == 1000
    rows = [
        _fr_row(f"K-{i:04d}", float(x), float(y))
        for i, (x, y) in enumerate(zip(lon, lat, strict=True))
    ]
    rows[416][FR_HEADER.index("Surface (m²)")] = "12O0"  # file row 418
    path = _write_csv(tmp_path / "big.csv", FR_HEADER, rows)
    refused = import_listings(repo, path, actor="test", territory=GOSB)
    assert refused.errors == [RowError(418, "surface_m2", "'12O0' is not a number", "12O0")]
    assert not refused.written and repo.counts()["premises"] == 0
    assert refused.warnings == []
    done = import_listings(repo, path, actor="test", skip_invalid=True, territory=GOSB)
    assert len(done.created) == 999 and repo.counts()["premises"] == 999


# -- export and round trips -----------------------------------------------------------------

FOOTPRINT = {
    "type": "Polygon",
    "coordinates": [
        [[2.3534, 48.7596], [2.3538, 48.7596], [2.3538, 48.75985], [2.3534, 48.75985],
         [2.3534, 48.7596]]
    ],
}  # fmt: skip


def _catalogue() -> list[PremisesCreate]:
    return [
        _item(
            "R-1",
            *RUNGIS_MIN,
            title="Entrepôt « frigorifique », quai; A86",
            uses=["logistics", "food_processing"],
            surface_m2=1234.56,
            activity_m2=1000.5,
            office_m2=120.0,
            divisible=True,
            min_lot_m2=300.0,
            plot_m2=2500.0,
            ceiling_height_m=9.75,
            floor_load_t_m2=3.0,
            loading_docks=4,
            ground_level_doors=2,
            power_kva=400.0,
            icpe_allowed=True,
            parking_spaces=12,
            rent_eur_m2_year=95.25,
            charges_eur_m2_year=12.5,
            available_from=date(2026, 12, 31),
            address="12 avenue du Marché, 94150 Rungis",
            footprint=FOOTPRINT,
            lot_ref="B3",
            owner_account="sogaris",
            contact_name="Zoé Dupré",
            contact_email="zoe@example.fr",
            contact_phone="+33 1 23 45 67 89",
            photos=["https://example.fr/a.jpg", "https://example.fr/b.jpg?x=1,2"],
            description='Ligne 1\nLigne 2 ; « guillemets » "doubles"',
            last_verified_at=datetime(2026, 5, 1, 10, 30, tzinfo=UTC),
        ),
        _item(
            "R-2",
            *VITRY,
            kind="workshop",
            uses=["craft", "repair", "lab_rd"],
            surface_m2=250.0,
            tenure="both",
            rent_eur_m2_year=120.0,
            sale_price_eur=450000.0,
            status="under_offer",
            icpe_allowed=False,
        ),
        _item(
            None,
            *ORLY,
            kind="land",
            uses=[],
            surface_m2=0.1 + 0.2,
            tenure="sale",
            rent_eur_m2_year=None,
            sale_price_eur=1.5e6,
            status="sold",
        ),
        _item("R-4", *GENTILLY, kind="business_village_lot", status="let", uses=["production"]),
    ]


ROUND_TRIPS = [
    ("listings.csv", {}),
    ("annonces.csv", {"french": True}),
    ("listings.geojson", {}),
    ("listings.gpkg", {}),
    ("listings.xlsx", {}),
    ("annonces.xlsx", {"french": True}),
]


def _owner_fields(frame: pd.DataFrame) -> pd.DataFrame:
    out = canonical_frame(frame).drop(columns=["id", "version", "created_at", "updated_at"])
    return out.sort_values("title").reset_index(drop=True)


@pytest.mark.parametrize(("name", "options"), ROUND_TRIPS, ids=[n for n, _ in ROUND_TRIPS])
def test_round_trip_gives_back_the_same_catalogue(
    repo: Repository, tmp_path: Path, sqlite_url: str, name: str, options: dict[str, bool]
) -> None:
    source = Repository(sqlite_url.replace("implanter.db", "source.db"))
    source.migrate()
    try:
        source.add_many_premises(_catalogue(), actor="test")
        path = export_listings(source, tmp_path / name, **options)
        before = _owner_fields(source.premises_frame())
    finally:
        source.dispose()
    stamp = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
    report = import_listings(
        repo, path, actor="test", territory=GOSB, verified_at=stamp
    )  # ``repo``: empty, on each backend
    assert report.ok, format_report(report, "en")
    assert report.warnings == []
    assert len(report.created) == 4
    after = _owner_fields(repo.premises_frame())
    # A listing without a freshness date is dated by the import; the others keep theirs.
    undated = before["last_verified_at"].isna()
    assert undated.any() and not undated.all()
    before["last_verified_at"] = [
        stamp if missing else value
        for missing, value in zip(undated, before["last_verified_at"], strict=True)
    ]
    for column in before.columns:
        if name.endswith(".xlsx") and column in FLOAT_FIELDS:
            # Excel (and openpyxl) keep 15 significant digits: 0.1 + 0.2 comes back 0.3.
            expected = [None if v is None else pytest.approx(v, rel=1e-14) for v in before[column]]
            assert list(after[column]) == expected, column
            continue
        assert list(after[column]) == list(before[column]), column


def test_french_csv_export_is_french(tmp_path: Path) -> None:
    path = export_listings(_catalogue(), tmp_path / "fr.csv", french=True)
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    text = raw.decode("utf-8-sig")
    header = text.splitlines()[0].split(";")
    assert header[:4] == ["Identifiant", "Référence", "Titre", "Type"]
    assert "Surface (m²)" in header and "Loyer (€/m²/an)" in header
    assert "1234,56" in text and "Entrepôt" in text and "31/12/2026" in text
    assert ";oui;" in text and "Sous offre" in text and "agroalimentaire" in text


def test_english_csv_export(tmp_path: Path) -> None:
    path = export_listings(_catalogue(), tmp_path / "en.csv")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert list(frame.columns[:3]) == ["id", "external_ref", "title"]
    assert frame.loc[0, "surface_m2"] == "1234.56" and frame.loc[0, "divisible"] == "true"
    assert frame.loc[0, "uses"] == "logistics,food_processing"
    assert json.loads(frame.loc[0, "footprint"]) == FOOTPRINT


def test_geopackage_has_points_and_footprints_layers(tmp_path: Path) -> None:
    import pyogrio

    path = export_listings(_catalogue(), tmp_path / "c.gpkg")
    layers = dict(pyogrio.list_layers(path))
    assert layers == {"premises": "Point", "footprints": "Polygon"}
    shapes = gpd.read_file(path, layer="footprints", engine="pyogrio")
    assert list(shapes["external_ref"]) == ["R-1"] and shapes.crs.to_epsg() == 4326


# -- report ---------------------------------------------------------------------------------


def test_format_report_in_french_and_english() -> None:
    report = ImportReport(
        path="/tmp/offres.csv",
        fmt="csv",
        total_rows=20,
        valid_rows=19,
        errors=[RowError(17, "surface_m2", "'abc' is not a number", "abc")],
        notes={"encoding": "cp1252", "separator": ";"},
    )
    fr = format_report(report)
    assert "Ligne 17, surface_m2 : 'abc' n'est pas un nombre" in fr
    assert "Rien n'a été enregistré" in fr and "encodage cp1252" in fr
    en = format_report(report, lang="en")
    assert "Row 17, surface_m2: 'abc' is not a number" in en
    assert "Nothing was written" in en


def test_format_report_keeps_validator_reasons_in_english() -> None:
    error = RowError(6, "lon, lat", "(48.74, 2.39) looks like latitude and longitude swapped")
    assert format_row_error(error) == (
        "Ligne 6, lon, lat : (48.74, 2.39) looks like latitude and longitude swapped"
    )
    assert format_row_error(RowError(0, "geometry", "x"), kind="feature") == "Fichier, geometry : x"
    assert format_row_error(RowError(3, "kind", "x"), kind="feature") == "Entité 3, kind : x"


def test_wkt_geometry_column_as_qgis_writes_it(tmp_path: Path) -> None:
    x, y = to_lambert93(*VITRY)
    square = shapely.box(x[0] - 20, y[0] - 15, x[0] + 20, y[0] + 15)
    header = ["WKT", "titre", "type", "surface", "location / vente"]
    rows = [
        [shapely.to_wkt(square), "Halle", "entrepôt", "1200", "location"],
        ["POINT (2.39 48.74)", "Atelier", "atelier", "200", "location"],
        ["POINT (oops)", "Cassé", "atelier", "200", "location"],
    ]
    parsed = read_listings(_write_csv(tmp_path / "qgis.csv", header, rows, sep=","), territory=GOSB)
    assert [(e.row, e.field) for e in parsed.errors] == [(4, "geometry")]
    halle, atelier = parsed.items
    assert halle.footprint is not None and halle.commune_insee == "94081"
    assert (atelier.lon, atelier.lat) == ORLY and atelier.footprint is None
    assert [w.kind for w in parsed.warnings] == ["reprojected"]


@pytest.mark.parametrize("name", ["e.csv", "e.geojson", "e.gpkg", "e.xlsx"])
def test_an_empty_catalogue_exports_and_reads_back_empty(tmp_path: Path, name: str) -> None:
    parsed = read_listings(export_listings([], tmp_path / name), territory=GOSB)
    assert (parsed.total_rows, parsed.items, parsed.errors) == (0, [], [])


def test_xlsx_errors_use_spreadsheet_row_numbers(tmp_path: Path) -> None:
    rows = [_fr_row("X-1", *ORLY), _fr_row("X-2", *VITRY, **{"Surface (m²)": "beaucoup"})]
    frame = pd.DataFrame(rows, columns=FR_HEADER)
    frame["Surface (m²)"] = [1200.5, "beaucoup"]
    path = tmp_path / "offres.xlsx"
    frame.to_excel(path, index=False)
    parsed = read_listings(path, territory=GOSB)
    assert parsed.rows == [2] and parsed.items[0].surface_m2 == 1200.5
    assert parsed.errors == [RowError(3, "surface_m2", "'beaucoup' is not a number", "beaucoup")]


def test_geojson_errors_use_feature_numbers(tmp_path: Path) -> None:
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": list(point)},
            "properties": {
                "titre": "A",
                "type": "atelier",
                "surface": s,
                "location / vente": "location",
            },
        }
        for point, s in ((ORLY, "100"), (VITRY, "12O0"))
    ]
    path = tmp_path / "offres.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}), "utf-8")
    report = ImportReport(
        str(path), "geojson", 2, 1, errors=read_listings(path, territory=GOSB).errors
    )
    assert report.errors == [RowError(2, "surface_m2", "'12O0' is not a number", "12O0")]
    assert "Entité 2, surface_m2 : '12O0' n'est pas un nombre" in format_report(report)


# --- choosing the sheet of a workbook or the layer of a GeoPackage ---------------------------


def _workbook(path: Path, sheets: dict[str, pd.DataFrame]) -> Path:
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        for name, frame in sheets.items():
            frame.to_excel(writer, sheet_name=name, index=False)
    return path


def test_a_workbook_opening_on_a_notes_sheet_is_read_from_its_listing_sheet(
    tmp_path: Path,
) -> None:
    notes = pd.DataFrame({"Mode d'emploi": ["Une ligne par local", "Surfaces en m²"]})
    listings = pd.DataFrame([_fr_row("W-1", *ORLY), _fr_row("W-2", *VITRY)], columns=FR_HEADER)
    path = _workbook(tmp_path / "classeur.xlsx", {"Notice": notes, "Offres 2026": listings})
    parsed = read_listings(path, territory=GOSB)
    assert [item.external_ref for item in parsed.items] == ["W-1", "W-2"]
    assert parsed.errors == [] and parsed.notes["sheet"] == "Offres 2026"
    report = ImportReport(str(path), "xlsx", 2, 2, notes=parsed.notes)
    assert "feuille Offres 2026" in format_report(report)


def test_a_sheet_is_chosen_by_name_or_by_its_tab_number(tmp_path: Path) -> None:
    first = pd.DataFrame([_fr_row("A-1", *ORLY)], columns=FR_HEADER)
    second = pd.DataFrame([_fr_row("B-1", *VITRY), _fr_row("B-2", *ORLY)], columns=FR_HEADER)
    path = _workbook(tmp_path / "deux.xlsx", {"2025": first, "2026": second})
    assert [i.external_ref for i in read_listings(path, territory=GOSB).items] == [
        "A-1"
    ]  # first that fits
    assert [i.external_ref for i in read_listings(path, sheet="2026", territory=GOSB).items] == [
        "B-1",
        "B-2",
    ]
    assert [i.external_ref for i in read_listings(path, sheet=2, territory=GOSB).items] == [
        "B-1",
        "B-2",
    ]
    assert [i.external_ref for i in read_listings(path, sheet="1", territory=GOSB).items] == ["A-1"]


def test_an_unknown_sheet_is_refused_with_the_list_of_sheets(tmp_path: Path) -> None:
    frame = pd.DataFrame([_fr_row("A-1", *ORLY)], columns=FR_HEADER)
    path = _workbook(tmp_path / "offres.xlsx", {"Offres": frame, "Archives": frame})
    for sheet in ("Ofres", 3, "0"):
        with pytest.raises(ValueError, match=r"no sheet .* its sheets are 1 « Offres », 2 «"):
            read_listings(path, sheet=sheet, territory=GOSB)
    with pytest.raises(ValueError, match="only an XLSX workbook or a GeoPackage"):
        read_listings(export_listings([], tmp_path / "e.csv"), sheet="Offres", territory=GOSB)


def test_a_geopackage_layer_is_chosen_by_name_or_number(tmp_path: Path) -> None:
    items = [_item("G-1", *ORLY), _item("G-2", *VITRY)]
    path = export_listings(items, tmp_path / "offres.gpkg")
    other = gpd.GeoDataFrame(
        {"titre": ["Autre"], "surface": [50]}, geometry=[shapely.Point(*ORLY)], crs=4326
    )
    other.to_file(path, layer="brouillon", driver="GPKG")
    assert sorted(i.external_ref for i in read_listings(path, territory=GOSB).items) == [
        "G-1",
        "G-2",
    ]
    drafts = read_listings(path, sheet="brouillon", territory=None)
    assert drafts.notes["layer"] == "brouillon" and drafts.total_rows == 1
    with pytest.raises(ValueError, match=r"no layer 'x' in this GeoPackage; its layers are 1 «"):
        read_listings(path, sheet="x", territory=GOSB)
