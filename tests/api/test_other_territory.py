"""The app on a second territory: it starts, lists, filters and renders with no GOSB in sight."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from geodata.demo import REFERENCE_DATE, demo_premises
from geodata.schemas import PremisesPublic
from geodata.storage import Repository
from geodata.territory import default_territory, load_territory

#: Four communes south of Lyon, built by scripts/build_communes.py (see its SOURCES.md).
VALLEE = Path(__file__).resolve().parents[1] / "data" / "territories" / "vallee-chimie"


def _settings(settings_for: Callable[..., Settings], db: Path, *, demo: bool) -> Settings:
    settings = settings_for(db, demo=demo)
    settings.territory = str(VALLEE)
    return settings


@pytest.fixture(scope="module")
def vallee_client(
    tmp_path_factory: pytest.TempPathFactory, settings_for: Callable[..., Settings]
) -> Iterator[TestClient]:
    db = tmp_path_factory.mktemp("vallee") / "implanter.db"
    with TestClient(create_app(_settings(settings_for, db, demo=True))) as client:
        yield client


def test_the_app_starts_on_the_other_territory_with_its_demo(vallee_client: TestClient) -> None:
    health = vallee_client.get("/health").json()
    assert health["territory"] == "Vallée de la chimie (test)"
    assert health["premises"] > 0
    body = vallee_client.get("/premises", params={"limit": 500}).json()
    assert {item["commune_insee"] for item in body["items"]} <= {
        "69199",
        "69259",
        "69276",
        "69296",
    }
    for item in body["items"]:
        PremisesPublic.model_validate(item)
        assert item["description"].endswith("Annonce fictive générée pour la démonstration.")


def test_filters_and_pages_speak_the_other_territory(vallee_client: TestClient) -> None:
    by_name = vallee_client.get("/premises", params={"commune": "VENISSIEUX", "limit": 500})
    assert by_name.status_code == 200
    items = by_name.json()["items"]
    assert items and {i["commune_insee"] for i in items} == {"69259"}
    gosb = vallee_client.get("/premises", params={"commune": "94081"})
    assert gosb.status_code == 400 and "Vallée de la chimie" in gosb.json()["detail"]
    one = vallee_client.get(f"/premises/{items[0]['id']}")
    assert one.status_code == 200 and one.json()["id"] == items[0]["id"]
    page = vallee_client.get("/", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert any(name in page.text for name in ("Saint-Fons", "Vénissieux", "Feyzin", "Solaize"))


def test_listings_stored_under_another_territory_are_still_served(
    tmp_path: Path, settings_for: Callable[..., Settings]
) -> None:
    """Reading never re-checks a stored listing: GOSB listings do not break the other app."""
    db = tmp_path / "mixed.db"
    repo = Repository(f"sqlite:///{db}")
    repo.migrate()
    gosb = demo_premises(n=20, territory=default_territory())
    repo.add_many_premises(gosb, actor="t")
    others = [
        item.model_copy(update={"external_ref": f"VALLEE-{k}"})
        for k, item in enumerate(demo_premises(n=10, territory=load_territory(VALLEE)))
    ]
    repo.add_many_premises(others, actor="t")
    repo.dispose()
    # On the demo's reference day, the public search is every listing neither withdrawn nor
    # unconfirmed for more than 90 days.
    today = datetime.combine(REFERENCE_DATE, time(12), tzinfo=UTC)
    public = [
        p
        for p in [*gosb, *others]
        if p.status != "withdrawn"
        and p.last_verified_at is not None
        and (REFERENCE_DATE - p.last_verified_at.date()).days <= 90
    ]
    app = create_app(_settings(settings_for, db, demo=False), clock=lambda: today)
    with TestClient(app) as client:
        listed = client.get("/premises", params={"limit": 500})
        assert listed.status_code == 200 and listed.json()["total"] == len(public) > 10
        gosb_item = next(i for i in listed.json()["items"] if i["commune_insee"].startswith("9"))
        assert client.get(f"/premises/{gosb_item['id']}").status_code == 200
        page = client.get("/", headers={"accept": "text/html"})
        assert page.status_code == 200
        assert gosb_item["commune_insee"] in page.text  # shown by its code, not a 500
