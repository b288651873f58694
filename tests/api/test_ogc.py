"""OGC API – Features, read by the real clients: GDAL's OAPIF driver and owslib."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.routes.ogc import CRS84, EPSG2154
from api.settings import FreshnessSettings
from geodata.freshness import hidden_before
from geodata.storage import PremisesQuery, Repository
from tests.api.conftest import _require

JSON = {"accept": "application/json"}


@pytest.fixture(scope="module")
def gdal() -> str:
    path = shutil.which("ogr2ogr")
    if path is None:
        _require("GDAL", "ogr2ogr not found (apt-get install gdal-bin)")
    assert path is not None
    return path


def _available(demo_db: Path, **filters: Any) -> int:
    repo = Repository(f"sqlite:///{demo_db}")
    try:
        # The public view: available, and not hidden for want of confirmation.
        since = hidden_before(datetime.now(UTC), FreshnessSettings().hide_days)
        query = PremisesQuery(status="available", limit=None, visible_since=since, **filters)
        return repo.count_premises(query)
    finally:
        repo.dispose()


def _layer_counts(gpkg: Path) -> dict[str, int]:
    import pyogrio

    return {
        str(name): int(pyogrio.read_info(gpkg, layer=str(name))["features"])
        for name, _ in pyogrio.list_layers(gpkg)
    }


def test_landing_conformance_and_collections(client: TestClient) -> None:
    landing = client.get("/", headers=JSON)
    assert landing.status_code == 200
    rels = {link["rel"] for link in landing.json()["links"]}
    assert {"self", "service-desc", "conformance", "data"} <= rels
    # A browser still gets the HTML catalogue at the same address; a client asking for
    # anything (owslib, curl) gets the landing page.
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert (
        client.get("/", headers={"accept": browser}).headers["content-type"].startswith("text/html")
    )
    assert client.get("/", headers={"accept": "*/*"}).json()["links"]
    assert client.get("/?f=html").headers["content-type"].startswith("text/html")
    classes = client.get("/conformance", headers=JSON).json()["conformsTo"]
    assert any(c.endswith("ogcapi-features-1/1.0/conf/core") for c in classes)
    ids = [c["id"] for c in client.get("/collections", headers=JSON).json()["collections"]]
    assert ids == ["premises", "communes", "stations", "interchanges", "zones", "landmarks"]
    queryables = client.get("/collections/premises/queryables").json()["properties"]
    assert {"commune", "kind", "use", "min_surface_m2"} <= set(queryables)


def test_items_page_with_links_and_counts(client: TestClient, demo_db: Path) -> None:
    total = _available(demo_db)
    first = client.get("/collections/premises/items?limit=7", headers=JSON)
    body = first.json()
    assert first.headers["content-type"] == "application/geo+json"
    assert first.headers["content-crs"] == f"<{CRS84}>"
    assert body["numberMatched"] == total
    assert body["numberReturned"] == 7
    links = {link["rel"]: link["href"] for link in body["links"]}
    assert "prev" not in links
    second = client.get(links["next"], headers=JSON).json()
    assert not {f["id"] for f in second["features"]} & {f["id"] for f in body["features"]}
    assert "prev" in {link["rel"] for link in second["links"]}
    # The public view: never the owner's account.
    assert all("owner_account" not in f["properties"] for f in body["features"])
    assert all(f["properties"]["status"] == "available" for f in body["features"])


def test_filters_are_those_of_the_premises_query(client: TestClient, demo_db: Path) -> None:
    bbox = (2.33, 48.70, 2.42, 48.78)
    url = "/collections/premises/items?limit=1000&kind=warehouse&bbox=" + ",".join(map(str, bbox))
    body = client.get(url, headers=JSON).json()
    assert body["numberMatched"] == _available(demo_db, kind="warehouse", bbox=bbox)
    assert body["numberMatched"] > 0
    assert all(f["properties"]["kind"] == "warehouse" for f in body["features"])
    bad = client.get("/collections/premises/items?kind=castle", headers=JSON)
    assert bad.status_code in (400, 422)
    assert "kind" in bad.text
    unknown = client.get("/collections/premises/items?colour=red", headers=JSON)
    assert unknown.status_code == 400
    assert "colour" in unknown.json()["detail"]
    # Only staff read listings that are not available.
    assert client.get("/collections/premises/items?status=let", headers=JSON).status_code == 403


def test_datetime_filters_on_availability(client: TestClient, demo_db: Path) -> None:
    soon = client.get("/collections/premises/items?datetime=2000-01-01", headers=JSON).json()
    later = client.get("/collections/premises/items?datetime=2100-01-01/..", headers=JSON).json()
    assert soon["numberMatched"] < later["numberMatched"] == _available(demo_db)
    bad = client.get("/collections/premises/items?datetime=yesterday", headers=JSON)
    assert bad.status_code == 400
    assert "datetime" in bad.json()["detail"]


def test_lambert_93_output_and_bbox(client: TestClient) -> None:
    l93 = client.get(f"/collections/communes/items?limit=50&crs={EPSG2154}", headers=JSON)
    assert l93.headers["content-crs"] == f"<{EPSG2154}>"
    x, y = l93.json()["features"][0]["geometry"]["coordinates"][0][0][0]
    assert 600_000 < x < 700_000 and 6_800_000 < y < 6_900_000
    # A Lambert-93 bbox around Rungis's market selects the same stations as its WGS84 box.
    wgs = client.get("/collections/stations/items?bbox=2.33,48.74,2.38,48.77", headers=JSON)
    assert wgs.json()["numberMatched"] > 0
    one = client.get("/collections/communes/items/94065", headers=JSON).json()
    assert one["properties"]["name"] == "Rungis"
    assert client.get("/collections/communes/items/00000", headers=JSON).status_code == 404
    assert client.get("/collections/roads/items", headers=JSON).status_code == 404


def test_html_views_escape_text(client: TestClient) -> None:
    page = client.get("/collections/premises/items?f=html&limit=5")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert '<table id="features">' in page.text
    # One item per collection in the list (the site navigation has list items too).
    assert client.get("/collections?f=html").text.count('<li><a href="/collections/') == 6


def test_gdal_copies_every_collection(
    gdal: str, live_server: str, demo_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "all.gpkg"
    subprocess.run(
        [gdal, "-f", "GPKG", str(out), f"OAPIF:{live_server}"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    counts = _layer_counts(out)
    assert counts["premises"] == _available(demo_db)
    assert counts["communes"] == 24
    assert set(counts) == {"premises", "communes", "stations", "interchanges", "zones", "landmarks"}
    assert all(n > 0 for n in counts.values())


def test_gdal_copies_the_premises_as_the_readme_says(
    gdal: str, live_server: str, demo_db: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out.gpkg"
    subprocess.run(
        [gdal, "-f", "GPKG", str(out), f"OAPIF:{live_server}", "premises"],
        check=True,
        capture_output=True,
        timeout=300,
    )
    assert _layer_counts(out) == {"premises": _available(demo_db)}


def test_owslib_reads_items_with_bbox_and_a_property(live_server: str, demo_db: Path) -> None:
    from owslib.ogcapi.features import Features

    api = Features(live_server)
    assert "premises" in [c["id"] for c in api.collections()["collections"]]
    bbox = [2.33, 48.70, 2.42, 48.78]
    items = api.collection_items("premises", bbox=bbox, kind="warehouse", limit=500)
    assert items["numberMatched"] == _available(demo_db, kind="warehouse", bbox=tuple(bbox))
    assert {f["properties"]["kind"] for f in items["features"]} == {"warehouse"}
    stations = api.collection_items("stations", limit=1000)
    assert stations["numberReturned"] == stations["numberMatched"] > 0


def test_queryables_are_the_filters_of_get_premises(client: TestClient) -> None:
    """One set of filters: the premises queryables are exactly GET /premises's filters."""
    spec = client.get("/openapi.json").json()
    listed = {p["name"] for p in spec["paths"]["/premises"]["get"]["parameters"]}
    queryables = set(client.get("/collections/premises/queryables").json()["properties"])
    assert queryables - {"geometry"} == listed - {"limit", "offset", "bbox", "sort", "near"}
