"""The zone outlines that become SITE-ECO rows: areas and communes match the published ones."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from geodata.io import export_cnig
from geodata.territory import default_territory

MIN = "94021_SITE-ECO_00001"
ICADE_PARK = "94065_SITE-ECO_00002"


@pytest.fixture(scope="module")
def zones_l93() -> pd.DataFrame:
    return default_territory().zones.to_crs(2154).set_index("site_id")


def test_the_min_de_rungis_has_its_published_area_over_its_two_communes(
    zones_l93: pd.DataFrame,
) -> None:
    """Semmaris publishes 232 ha for the MIN, on Rungis and Chevilly-Larue."""
    outline = zones_l93.geometry[MIN]
    assert outline.area / 1e4 == pytest.approx(232, rel=0.02)
    communes = default_territory().communes.to_crs(2154)
    share = communes.geometry.intersection(outline).area / outline.area
    by_commune = dict(zip(communes["insee"], share.round(2), strict=True))
    assert by_commune["94021"] > 0.5  # Chevilly-Larue, the main commune (site_id, site_comm_*)
    assert by_commune["94065"] > 0.25  # Rungis
    assert by_commune["94021"] + by_commune["94065"] == pytest.approx(1, abs=0.01)
    assert zones_l93.loc[MIN, "site_comm_insee"] == "94021"


def test_the_icade_park_has_its_published_area(zones_l93: pd.DataFrame) -> None:
    """Icade publishes about 58 ha for its Paris-Orly-Rungis business park."""
    assert zones_l93.geometry[ICADE_PARK].area / 1e4 == pytest.approx(58, rel=0.02)


def test_recorded_areas_are_the_outlines_areas(zones_l93: pd.DataFrame) -> None:
    drawn = zones_l93.geometry.area / 1e4
    recorded = zones_l93["site_surf_brute"].astype(float)
    assert (recorded - drawn).abs().max() < 0.1


def test_the_cnig_export_gives_the_corrected_areas(tmp_path: Path) -> None:
    written = export_cnig([], default_territory(), tmp_path, actu_date=date(2026, 6, 30))
    sites = pd.read_csv(written.site_csv, sep=";", dtype=str).set_index("site_id")
    assert float(sites.loc[MIN, "site_surf_brute"]) == pytest.approx(232, rel=0.02)
    assert float(sites.loc[ICADE_PARK, "site_surf_brute"]) == pytest.approx(58, rel=0.02)
