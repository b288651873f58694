"""The demo's drawn photos: stored as uploads are, marked fictitious, only when asked."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.main import create_app
from tests.api.conftest import make_settings


def test_the_first_run_gives_a_few_demo_listings_drawn_photos(tmp_path: Path) -> None:
    settings = make_settings(tmp_path / "demo.db")
    settings.api.demo_photos = 2
    with TestClient(create_app(settings)) as client:
        items = client.get("/premises", params={"limit": 500}).json()["items"]
        with_photos = [i for i in items if i["gallery"]]
        assert len(with_photos) == 2
        assert all(len(i["gallery"]) == 2 for i in with_photos)
        ref = with_photos[0]["gallery"][0]
        assert "fictive" in ref["alt"] and "fictitious" in ref["alt_en"]
        image = client.get(ref["url"])
        assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
        page = client.get(f"/locaux/{with_photos[0]['id']}").text
        assert 'id="gallery"' in page
    plain = make_settings(tmp_path / "plain.db")
    with TestClient(create_app(plain)) as client:
        items = client.get("/premises", params={"limit": 500}).json()["items"]
        assert not any(i["gallery"] for i in items)
