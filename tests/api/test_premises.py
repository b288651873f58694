"""GET /health and the paginated, filtered GET /premises on the demo catalogue."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from geodata.schemas import PremisesPublic


def test_health_reports_demo_catalogue(client: TestClient) -> None:
    body = client.get("/health").json()
    assert body["status"] == "ok"
    assert body["database"] == "sqlite"
    assert body["premises"] >= 300
    assert body["needs"] >= 150


def test_first_run_creates_the_sqlite_file(demo_db: Path, client: TestClient) -> None:
    assert demo_db.exists()


def test_list_is_paginated_with_links(client: TestClient) -> None:
    body = client.get("/premises", params={"limit": 20}).json()
    assert body["limit"] == 20
    assert len(body["items"]) == 20
    for item in body["items"]:
        PremisesPublic.model_validate(item)
    rels = {link["rel"]: link["href"] for link in body["links"]}
    assert "next" in rels and "prev" not in rels
    second = client.get(rels["next"]).json()
    first_ids = {i["id"] for i in body["items"]}
    assert not first_ids & {i["id"] for i in second["items"]}
    assert second["total"] == body["total"]


def test_filters_combine(client: TestClient) -> None:
    params = {"commune": "94065", "kind": "warehouse", "min_surface_m2": 2000, "limit": 500}
    body = client.get("/premises", params=params).json()
    assert body["total"] == len(body["items"]) > 0
    for item in body["items"]:
        assert item["commune_insee"] == "94065"
        assert item["kind"] == "warehouse"
        assert item["surface_m2"] >= 2000
    by_use = client.get("/premises", params={"use": "lab_rd", "limit": 500}).json()
    assert by_use["total"] > 0
    assert all("lab_rd" in i["uses"] for i in by_use["items"])
    everything = client.get("/premises", params={"limit": 1}).json()["total"]
    assert by_use["total"] < everything


def test_bbox_filter(client: TestClient) -> None:
    bbox = "2.33,48.74,2.37,48.76"
    body = client.get("/premises", params={"bbox": bbox, "limit": 500}).json()
    assert body["total"] > 0
    for i in body["items"]:
        assert 2.33 <= i["lon"] <= 2.37 and 48.74 <= i["lat"] <= 48.76


def test_bad_filters_are_problem_json_naming_the_field(client: TestClient) -> None:
    for params, field in [
        ({"commune": "75056"}, "commune"),
        ({"kind": "castle"}, "kind"),
        ({"min_surface_m2": -1}, "min_surface_m2"),
        ({"bbox": "1,2,3"}, "bbox"),
        ({"limit": 100000}, "limit"),
        ({"min_surface_m2": 500, "max_surface_m2": 100}, "min_surface_m2"),
    ]:
        r = client.get("/premises", params=params)
        assert r.status_code in (400, 422), params
        assert r.headers["content-type"].startswith("application/problem+json")
        body = r.json()
        assert body["status"] == r.status_code
        assert field in body["detail"], body


def test_one_listing_with_etag_and_404(client: TestClient) -> None:
    first = client.get("/premises", params={"limit": 1}).json()["items"][0]
    r = client.get(f"/premises/{first['id']}")
    assert r.status_code == 200
    assert r.headers["etag"] == f'"{first["version"]}"'
    missing = client.get("/premises/999999")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def test_no_demo_when_disabled(tmp_path: Path, settings_for: Callable[..., Settings]) -> None:
    with TestClient(create_app(settings_for(tmp_path / "empty.db", demo=False))) as c:
        assert c.get("/health").json()["premises"] == 0
        assert c.get("/premises").json() == {
            "items": [],
            "total": 0,
            "limit": 50,
            "offset": 0,
            "links": [{"rel": "self", "href": "/premises"}],
        }


def test_the_query_parameters_are_documented_and_checked_each_by_name(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    params = {p["name"]: p for p in spec["paths"]["/premises"]["get"]["parameters"]}
    assert list(params) == [
        "sort",
        "near",
        "limit",
        "offset",
        "commune",
        "kind",
        "use",
        "min_surface_m2",
        "max_surface_m2",
        "status",
        "bbox",
        "min_rent_eur_m2_year",
        "max_rent_eur_m2_year",
        "min_sale_price_eur",
        "max_sale_price_eur",
        "q",
    ]
    assert all(p["in"] == "query" and not p["required"] for p in params.values())
    assert params["limit"]["schema"]["anyOf"][0] == {
        "type": "integer",
        "maximum": 2147483647,
        "minimum": 1,
    }
    assert params["q"]["schema"]["anyOf"][0] == {"type": "string", "maxLength": 200}
    assert params["kind"]["schema"]["anyOf"][0] == {"$ref": "#/components/schemas/PremisesKind"}
    assert params["near"]["description"] == "lon,lat: the point of sort=distance"

    bad = {"limit": 0, "sort": "x", "min_surface_m2": -1, "kind": "castle", "foo": "bar"}
    r = client.get("/premises", params=bad)
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["kind", "min_surface_m2", "sort", "limit"]
    # The filters are read before the page: an unknown commune answers 400 first.
    r = client.get("/premises", params={"commune": "nulle part", "limit": 0})
    assert r.status_code == 400
    assert r.json()["detail"].startswith("commune")
