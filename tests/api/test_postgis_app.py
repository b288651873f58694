"""The same app on PostgreSQL/PostGIS answers exactly as on SQLite (same demo, same seed)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings

pytestmark = pytest.mark.postgis

QUERIES: list[dict[str, Any]] = [
    {"limit": 500},
    {"commune": "94065", "kind": "warehouse", "limit": 500},
    {"use": "lab_rd", "min_surface_m2": 200, "max_surface_m2": 2000, "limit": 500},
    {"status": "under_offer", "limit": 500},
    {"bbox": "2.33,48.74,2.37,48.76", "limit": 500},
    {"bbox": "2.38,48.78,2.42,48.82", "use": "craft", "limit": 7, "offset": 7},
]


def test_postgis_app_matches_sqlite_app(pg_scratch: Any, client: TestClient) -> None:
    with pg_scratch() as url:
        settings = Settings()
        settings.database.url = url
        with TestClient(create_app(settings)) as pg:
            health = pg.get("/health").json()
            assert health["database"] == "postgresql"
            assert health["premises"] == client.get("/health").json()["premises"]
            for params in QUERIES:
                on_pg = pg.get("/premises", params=params).json()
                on_sqlite = client.get("/premises", params=params).json()
                assert on_pg["total"] == on_sqlite["total"], params
                assert [i["id"] for i in on_pg["items"]] == [i["id"] for i in on_sqlite["items"]], (
                    params
                )
                assert _content(on_pg["items"]) == _content(on_sqlite["items"]), params


def _content(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Listings without their load timestamps, which differ between the two loads."""
    return [{k: v for k, v in i.items() if k not in ("created_at", "updated_at")} for i in items]
