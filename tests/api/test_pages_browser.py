"""The home page in a real headless Chromium: content, language switch, escaping."""

from __future__ import annotations

from typing import Any

import pytest

from geodata.schemas import PremisesCreate
from geodata.storage import Repository
from geodata.territory import default_territory

pytestmark = pytest.mark.browser

EVIL = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script> Atelier'


@pytest.fixture(scope="module")
def evil_listing(live_server: str, demo_db: Any) -> int:
    repo = Repository(f"sqlite:///{demo_db}")
    item = PremisesCreate.model_validate(
        {
            "title": EVIL,
            "kind": "workshop",
            "surface_m2": 333,
            "tenure": "rent",
            "rent_eur_m2_year": 140,
            "lon": 2.3920,
            "lat": 48.7870,
            "description": EVIL,
        },
        context={"territory": default_territory()},
    )
    created = repo.add_premises(item, actor="test")
    repo.dispose()
    return created.id


def test_home_page_lists_catalogue_in_french_and_english(browser: Any, live_server: str) -> None:
    page = browser.new_page()
    page.goto(live_server + "/")
    assert page.locator("html").get_attribute("lang") == "fr"
    assert "Catalogue des locaux" in page.locator("h1").inner_text()
    summary = page.locator("#summary").inner_text()
    assert "Locaux au catalogue" in summary
    rows = page.locator("#premises tbody tr")
    assert rows.count() == 50
    # French number formatting: narrow no-break space as thousands separator.
    assert "m²" in rows.first.inner_text()
    page.click("a[href='?lang=en']")
    assert page.locator("h1").inner_text() == "Premises catalogue"
    page.click("nav.pager a:has-text('Next')")
    assert "offset=50" in page.url
    page.close()


def test_user_text_is_escaped(browser: Any, live_server: str, evil_listing: int) -> None:
    page = browser.new_page()
    # The page lists the public catalogue, as anonymous GET /premises does.
    total = int(page.request.get(live_server + "/premises?limit=1").json()["total"])
    last = (total - 1) // 50 * 50
    page.goto(f"{live_server}/?offset={last}")
    assert page.evaluate("window.__pwned") is None
    cell = page.locator(f'a[href^="/locaux/{evil_listing}?"]')
    assert cell.inner_text() == EVIL
    assert page.locator("#premises img").count() == 0
    page.close()
