"""Journey (c) in a real headless Chromium: staff sign in and read the territory's dashboard.

The app is served by uvicorn on a free loopback port; every request to another host (the
map tiles) is refused by the browser context, so the map must show its data without them.
Screenshots go to ``var/screenshots/journey-c-*.png`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from api.auth import hash_password
from api.routes.pages_dashboard import RAMPS
from geodata.storage import Repository, accounts
from tests.api.conftest import serious_violations

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery staple"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@pytest.fixture(scope="module")
def staff(live_server: str, demo_db: Path) -> str:
    """A staff account with a password in the served catalogue; its e-mail."""
    repo = Repository(f"sqlite:///{demo_db}")
    with repo.begin() as conn:
        accounts.create_account(
            conn,
            name="equipe-territoire",
            email="equipe-territoire@exemple.invalid",
            role="staff",
            password_hash=hash_password(PASSWORD),
        )
    repo.dispose()
    return "equipe-territoire@exemple.invalid"


def _closed_network(context: Any, base: str) -> list[str]:
    """Refuse every request leaving the app's origin; return the refused URLs."""
    refused: list[str] = []
    origin = urlsplit(base).netloc

    def handle(route: Any) -> None:
        if urlsplit(route.request.url).netloc == origin:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", handle)
    return refused


def _control_labels(page: Any) -> list[str]:
    labels = page.locator(".leaflet-control-layers label")
    return [labels.nth(i).inner_text().strip() for i in range(labels.count())]


def _filled_paths(page: Any) -> list[str]:
    """The fill colours of the vector paths Leaflet drew (SVG)."""
    return page.eval_on_selector_all(
        "#main .leaflet-map-pane path.leaflet-interactive",
        "els => els.map(e => e.getAttribute('fill'))",
    )


def test_journey_c_staff_read_the_territory(browser: Any, live_server: str, staff: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(locale="fr-FR", viewport={"width": 1366, "height": 900})
    refused = _closed_network(context, live_server)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on(
        "console",
        lambda msg: errors.append(msg.text) if "Content Security Policy" in msg.text else None,
    )

    # Signed out, the dashboard sends to the sign-in page, then back with its filters.
    page.goto(live_server + "/tableau-de-bord?band=200-400")
    assert urlsplit(page.url).path == "/login"
    page.get_by_label("Adresse e-mail").fill(staff)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/tableau-de-bord?band=200-400")
    assert page.get_by_label("Tranche de surface").input_value() == "200-400"

    # The whole territory: clear the filters with the form's link.
    page.get_by_role("link", name="Tout afficher").click()
    page.wait_for_url("**/tableau-de-bord?lang=fr")
    page.wait_for_selector("#main .leaflet-heatmap-layer", state="attached")
    assert page.locator("h1").inner_text() == "Tableau de bord du territoire"

    # The layer control lists the choropleths (one at a time) and the overlays, in words.
    labels = _control_labels(page)
    for name in (
        "Surface bâtie disponible (m²)",
        "Terrains disponibles (m²)",
        "Besoins actifs par commune",
        "Offre disponible, par type",
        "Chaleur de la demande",
        "Demande non satisfaite",
        "Foyers de demande",
        "Gares et stations",
        "Sorties d'autoroute",
        "Zones d'activité",
    ):
        assert name in labels, (name, labels)
    radios = page.locator(".leaflet-control-layers-base input[type=radio]")
    assert radios.count() == 3

    # Drawn: the communes filled by building floor area, the supply, the unmet needs.
    frame = page.locator("#dashboard-map .folium-map")
    assert frame.get_attribute("data-layer-communes-building") == "24"
    assert frame.get_attribute("data-layer-communes-land") is None  # one choropleth at a time
    n_unmet = int(frame.get_attribute("data-layer-unmet") or 0)
    assert n_unmet > 0
    assert int(frame.get_attribute("data-layer-hotspots") or 0) > 0
    fills = _filled_paths(page)
    assert len(fills) >= 24 + n_unmet
    assert set(RAMPS["building"][1:]) & set(fills)
    assert "#a4161a" in fills  # the unmet needs' colour
    # The heat map draws on its own canvas, sized to the map.
    size = page.eval_on_selector("#main .leaflet-heatmap-layer", "c => [c.width, c.height]")
    assert size[0] > 100 and size[1] > 100
    # An unmet need's tooltip is text.
    page.locator("#main path.leaflet-interactive[fill='#a4161a']").first.hover(force=True)
    assert page.locator(".leaflet-tooltip").count() >= 1
    page.screenshot(path=str(SHOTS / "journey-c-1-dashboard-fr.png"), full_page=False)

    # The supply by kind is one click away.
    assert frame.get_attribute("data-layer-supply") is None
    page.locator(".leaflet-control-layers label", has_text="Offre disponible").click()
    n_supply = int(frame.get_attribute("data-layer-supply") or 0)
    assert n_supply > 100
    assert len(_filled_paths(page)) >= 24 + n_unmet + n_supply
    page.locator(".leaflet-control-layers label", has_text="Offre disponible").click()

    # Switch the choropleth to land: the building one goes, the land one comes.
    page.locator(".leaflet-control-layers label", has_text="Terrains disponibles").click()
    assert frame.get_attribute("data-layer-communes-land") == "24"
    assert frame.get_attribute("data-layer-communes-building") is None
    assert set(RAMPS["land"][1:]) & set(_filled_paths(page))
    # The choropleth added last still lies under the points: each unmet need's marker is
    # what a pointer at its centre reaches.
    on_top = page.eval_on_selector_all(
        "#main path.leaflet-interactive[fill='#a4161a']",
        """els => els.map(e => {
            const r = e.getBoundingClientRect();
            const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            return hit === e || (hit && hit.getAttribute('fill') === '#a4161a');
        })""",
    )
    assert on_top and all(on_top), on_top
    page.screenshot(path=str(SHOTS / "journey-c-2-land-choropleth.png"))

    # The same figures are in tables (the map is not the only way to read them).
    assert page.locator("#table-balance tbody tr").count() >= 24
    assert page.locator("#table-by-kind caption").inner_text().startswith("Surface disponible")
    assert serious_violations(page) == []

    # Filter by use through the form, then switch to English: labels change, filters stay.
    page.get_by_label("Usage").select_option("craft")
    page.get_by_role("button", name="Appliquer").click()
    page.wait_for_url("**use=craft**")
    page.wait_for_selector("#main .leaflet-heatmap-layer", state="attached")
    fr_needs = page.locator("#summary tr", has_text="Besoins actifs").locator("td").inner_text()
    page.locator("a[hreflang=en]").click()
    page.wait_for_url("**lang=en**")
    assert "use=craft" in page.url
    page.wait_for_selector("#main .leaflet-heatmap-layer", state="attached")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Territory dashboard"
    assert page.get_by_label("Use").input_value() == "craft"
    labels = _control_labels(page)
    for name in ("Available building floor area (m²)", "Demand heat map", "Unmet demand"):
        assert name in labels, (name, labels)
    assert page.locator("#summary tr", has_text="Active needs").locator("td").inner_text() == (
        fr_needs
    )
    # The downloads carry the filter.
    hrefs = page.eval_on_selector_all("#downloads a", "els => els.map(e => e.href)")
    assert hrefs and all("use=craft" in h for h in hrefs if "/premises" in h)
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / "journey-c-3-english-craft.png"), full_page=True)

    # Nothing but the tiles tried to leave the app, and no script or policy error.
    assert all("tile.openstreetmap.org" in url for url in refused), refused
    assert errors == []
    context.close()


def test_a_phone_reads_the_dashboard(browser: Any, live_server: str, staff: str) -> None:
    context = browser.new_context(locale="fr-FR", viewport={"width": 390, "height": 844})
    _closed_network(context, live_server)
    page = context.new_page()
    page.goto(live_server + "/login?next=/tableau-de-bord")
    page.get_by_label("Adresse e-mail").fill(staff)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url("**/tableau-de-bord")
    # No sideways scroll of the page: wide tables scroll inside their box.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    assert serious_violations(page) == []
    page.screenshot(path=str(SHOTS / "journey-c-4-phone.png"))
    context.close()


def test_a_company_is_told_the_dashboard_is_for_staff(
    browser: Any, live_server: str, demo_db: Path
) -> None:
    repo = Repository(f"sqlite:///{demo_db}")
    with repo.begin() as conn:
        accounts.create_account(
            conn,
            name="pme-curieuse",
            email="pme-curieuse@exemple.invalid",
            role="company",
            password_hash=hash_password(PASSWORD),
        )
    repo.dispose()
    context = browser.new_context(locale="fr-FR")
    _closed_network(context, live_server)
    page = context.new_page()
    page.goto(live_server + "/login?next=/tableau-de-bord")
    page.get_by_label("Adresse e-mail").fill("pme-curieuse@exemple.invalid")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    with page.expect_response("**/tableau-de-bord") as answer:
        page.get_by_role("button", name="Se connecter").click()
    assert answer.value.status == 403
    assert "réservé" in page.locator("h1").inner_text()
    assert page.locator(".leaflet-container").count() == 0
    assert serious_violations(page) == []
    context.close()
