"""The demo catalogue through the CNIG tables and back: valid tables, nothing lost."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from frictionless import system, validate

import shapely

from geodata.demo import demo_premises
from geodata.io import CnigExport, CnigTables, export_cnig, read_cnig
from geodata.io.cnig import CNIG_SCHEMAS, schema_enums
from geodata.storage import Repository
from geodata.territory import default_territory, to_lambert93

TODAY = date(2026, 6, 30)
GOSB = default_territory()


@pytest.fixture
def stored(repo: Repository, tmp_path: Path) -> Iterator[tuple[Repository, CnigExport]]:
    repo.add_many_premises(demo_premises(territory=GOSB), actor="test")
    yield repo, export_cnig(repo, GOSB, tmp_path / "cnig", actu_date=TODAY)


def _problems(path: Path, name: str) -> list[list[object]]:
    """``frictionless validate --schema <schema> <file>``, as the standard's README says."""
    with system.use_context(trusted=True):
        report = validate(str(path), schema=str(CNIG_SCHEMAS[name]))
    assert report.tasks and report.tasks[0].stats["rows"] > 0
    return report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_frictionless_accepts_both_tables_of_the_demo(
    stored: tuple[Repository, CnigExport],
) -> None:
    _, written = stored
    assert _problems(written.site_csv, "site-eco") == []
    assert _problems(written.terrain_csv, "terrain-eco") == []
    # frictionless does not enforce the field-level "enum" lists of these schemas: check them.
    tables = read_cnig(written.site_csv.parent)
    for frame, name in ((tables.sites, "site-eco"), (tables.terrains, "terrain-eco")):
        for field, allowed in schema_enums(name).items():
            assert set(frame[field]) - {""} <= set(allowed), field


def test_every_listing_not_withdrawn_comes_back_once(
    stored: tuple[Repository, CnigExport],
) -> None:
    repo, written = stored
    frame = repo.premises_frame()
    kept = frame[frame["status"] != "withdrawn"]
    back = read_cnig(written.site_csv.parent).terrains.set_index("listing_id")
    assert back.index.is_unique
    assert sorted(back.index) == sorted(kept.index)
    assert written.exported == len(kept) and written.withdrawn == len(frame) - len(kept)
    assert written.in_zones == int(kept["zone_id"].notna().sum())
    assert back.loc[kept.index, "status"].tolist() == kept["status"].tolist()
    # Each unit is where its listing is, and as large as its plot (else its floor area).
    lon, lat = kept["lon"].to_numpy(float), kept["lat"].to_numpy(float)
    x, y = to_lambert93(lon, lat)
    outlines = np.asarray(back.loc[kept.index, "geometry"].to_numpy(), dtype=object)
    assert shapely.dwithin(outlines, shapely.points(x, y), 0.05).all()
    plot = kept["plot_m2"].astype(float).fillna(kept["surface_m2"].astype(float))
    surfaces = back.loc[kept.index, "surface_m2"].astype(float)
    assert np.allclose(surfaces.to_numpy(), plot.to_numpy(), atol=1.0)
    sold = kept[(kept["status"] == "sold") & kept["sale_price_eur"].notna()]
    assert len(sold)
    assert back.loc[sold.index, "terr_vente_montant"].astype(float).tolist() == pytest.approx(
        sold["sale_price_eur"].astype(float).tolist()
    )


def test_the_zones_come_back_as_they_were(stored: tuple[Repository, CnigExport]) -> None:
    repo, written = stored
    tables: CnigTables = read_cnig(written.site_csv.parent)
    zones = GOSB.zones.to_crs(2154).reset_index(drop=True)
    sites = tables.sites[~tables.sites["diffuse"]].reset_index(drop=True)
    assert sites["site_id"].tolist() == zones["site_id"].tolist()
    for field in ("site_nom", "site_type", "site_vocadomi", "site_etat", "site_comm_insee"):
        assert sites[field].tolist() == zones[field].astype(str).tolist(), field
    assert sites["site_surf_brute"].astype(float).tolist() == pytest.approx(
        zones["site_surf_brute"].astype(float).tolist(), abs=1e-3
    )
    drawn = np.asarray(zones.geometry.array, dtype=object)
    back = np.asarray(sites["geometry"].to_numpy(), dtype=object)
    assert (shapely.hausdorff_distance(drawn, back) < 0.01).all()  # rounded to the centimetre
    assert np.allclose(shapely.area(back), shapely.area(drawn), rtol=1e-4)
    # Each listing of a zone comes back in that zone; the others in their commune's site.
    frame = repo.premises_frame()
    kept = frame[frame["status"] != "withdrawn"]
    units = tables.terrains.set_index("listing_id").loc[kept.index]
    expected = kept["zone_id"].fillna(kept["commune_insee"] + "_SITE-ECO_DIFFUS")
    assert units["site_id"].tolist() == expected.tolist()
    diffuse = tables.sites[tables.sites["diffuse"]]
    assert set(diffuse["site_comm_insee"]) == set(kept.loc[kept["zone_id"].isna(), "commune_insee"])


def test_the_lots_of_the_village_come_back_one_unit_each(
    stored: tuple[Repository, CnigExport],
) -> None:
    repo, written = stored
    frame = repo.premises_frame()
    lots = frame[frame["lot_ref"].notna() & (frame["status"] != "withdrawn")]
    assert len(lots) >= 10 and lots["zone_id"].nunique() == 1
    village = lots["zone_id"].iloc[0]
    units = read_cnig(written.site_csv.parent).terrains
    in_village = units[units["site_id"] == village].set_index("listing_id")
    assert set(lots.index) <= set(in_village.index)
    outlines = np.asarray(in_village.loc[lots.index, "geometry"].to_numpy(), dtype=object)
    assert len({shapely.to_wkb(g) for g in outlines}) == len(lots)  # one outline per lot
    assert written.by_site[village] == len(in_village)


def test_a_table_that_is_not_cnig_is_refused_by_name(tmp_path: Path) -> None:
    export_cnig([], GOSB, tmp_path, actu_date=TODAY)
    (tmp_path / "terrain-eco.csv").write_text("terr_id;site_id\r\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"terrain-eco\.csv: not a CNIG TERRAIN-ECO table"):
        read_cnig(tmp_path)
