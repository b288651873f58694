"""Lots of one business village (CNIG land units of one site) are not probable duplicates.

The lots of a village d'entreprises lie a few metres apart and have similar surfaces; their
lot references tell them apart. Only listings that could be the same premises are reported,
and the report speaks the reader's language.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

import geopandas as gpd
import shapely

from geodata.io import find_probable_duplicates, format_report, import_listings
from geodata.schemas import PremisesCreate
from geodata.storage import Repository
from geodata.territory import default_territory, to_lambert93

GOSB = default_territory()
VILLAGE = "94074_SITE-ECO_00001"


def _village_point(dx: float = 0.0) -> tuple[float, float]:
    """A point of the Valenton village zone, moved ``dx`` metres east."""
    zone = GOSB.zones.set_index("site_id").geometry[VILLAGE]
    centre = shapely.point_on_surface(zone)
    x, y = to_lambert93(centre.x, centre.y)
    moved = gpd.GeoSeries(shapely.points([x[0] + dx], [y[0]]), crs=2154).to_crs(4326)
    return float(moved.x.iloc[0]), float(moved.y.iloc[0])


def _lot(ref: str, lot: str | None, dx: float, surface: float = 300.0) -> PremisesCreate:
    lon, lat = _village_point(dx)
    return PremisesCreate.model_validate(
        {
            "title": f"Village d'entreprises, {lot or 'lot ?'}",
            "external_ref": ref,
            "kind": "business_village_lot",
            "surface_m2": surface,
            "tenure": "rent",
            "rent_eur_m2_year": 120.0,
            "lon": lon,
            "lat": lat,
            "zone_id": VILLAGE,
            "lot_ref": lot,
        },
        context={"territory": GOSB},
    )


def test_two_lots_of_one_village_are_not_duplicates() -> None:
    items = [_lot("V-1", "Lot 01", 0.0), _lot("V-2", "Lot 02", 13.0, 310.0)]
    assert find_probable_duplicates(items, [2, 3]) == []


def test_the_same_lot_twice_or_a_listing_without_lot_is_still_a_probable_duplicate() -> None:
    items = [
        _lot("V-1", "Lot 01", 0.0),
        _lot("V-9", "lot 01 ", 13.0, 310.0),  # the same lot, typed differently
        _lot("V-5", None, 6.0, 305.0),  # no lot reference: cannot tell
    ]
    warnings = find_probable_duplicates(items, [2, 3, 4])
    assert [(w.row, w.other_row) for w in warnings] == [(3, 2), (4, 2), (4, 3)]


def test_a_stored_lot_is_not_the_duplicate_of_its_neighbour_lot() -> None:
    lon, lat = _village_point(0.0)
    stored = pd.DataFrame(
        {
            "lon": [lon, lon],
            "lat": [lat, lat],
            "surface_m2": [300.0, 300.0],
            "external_ref": ["S-1", "S-2"],
            "title": ["Lot 01", "Sans lot"],
            "lot_ref": ["Lot 01", None],
        },
        index=pd.Index([41, 42], name="id"),
    )
    warnings = find_probable_duplicates([_lot("V-2", "Lot 02", 13.0)], [2], stored)
    assert [(w.row, w.other_id) for w in warnings] == [(2, 42)]


def _village_csv(path: Path, lots: list[tuple[str, str, float]]) -> Path:
    header = ["Référence", "Titre", "Type", "Surface (m²)", "Transaction", "Loyer"]
    header += ["Longitude", "Latitude", "Lot"]
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(header)
        for ref, lot, dx in lots:
            lon, lat = _village_point(dx)
            row = [ref, f"Village, {lot}", "lot", "300", "location"]
            writer.writerow([*row, "120", f"{lon:.7f}", f"{lat:.7f}", lot])
    return path


def test_reimporting_a_village_reports_no_duplicate(repo: Repository, tmp_path: Path) -> None:
    path = _village_csv(tmp_path / "village.csv", [("V-1", "Lot 01", 0.0), ("V-2", "Lot 02", 13.0)])
    first = import_listings(repo, path, actor="test", territory=GOSB)
    assert first.written and first.warnings == []
    again = _village_csv(tmp_path / "again.csv", [("V-1", "Lot 01", 0.0), ("V-3", "Lot 03", 26.0)])
    second = import_listings(repo, again, actor="test", territory=GOSB)
    assert second.written and second.warnings == []
    stored = {p.lot_ref: p.zone_id for p in repo.list_premises(limit=10).items}
    assert stored == {"Lot 01": VILLAGE, "Lot 02": VILLAGE, "Lot 03": VILLAGE}


def test_the_duplicate_report_speaks_the_readers_language(repo: Repository, tmp_path: Path) -> None:
    path = _village_csv(tmp_path / "twice.csv", [("V-1", "Lot 01", 0.0), ("V-2", "Lot 01", 13.0)])
    report = import_listings(repo, path, actor="test", territory=GOSB, dry_run=True)
    assert [(w.row, w.other_row) for w in report.warnings] == [(3, 2)]
    french = format_report(report, lang="fr")
    assert (
        "Ligne 3 : doublon probable — doublon probable de la ligne 2 ('Village, Lot 01') : "
        "13 m d'écart, 300 m² contre 300 m²"
    ) in french
    assert "apart" not in french
    english = format_report(report, lang="en")
    assert (
        "Row 3: probable duplicate — probable duplicate of row 2 ('Village, Lot 01'): "
        "13 m apart, 300 m² vs 300 m²"
    ) in english
    stored = repo.add_many_premises([_lot("S-1", None, 20.0)], actor="test")[0]
    one = _village_csv(tmp_path / "one.csv", [("V-7", "Lot 07", 13.0)])
    report = import_listings(repo, one, actor="test", territory=GOSB, dry_run=True)
    french = format_report(report, lang="fr")
    assert (
        f"doublon probable de l'annonce enregistrée {stored.id} ('Village d'entreprises, lot ?')"
        " : 7 m d'écart, 300 m² contre 300 m²"
    ) in french
