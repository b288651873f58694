"""Journey (b) in a real headless Chromium: a developer signs in, creates a listing by clicking
the map, finds it on the catalogue map, uploads a workbook with one bad row and sees the row
named, edits a listing, confirms a stale one; every page passes axe-core, and a listing
titled with markup shows as text in the table, the map popup and the form.

The app is served by uvicorn on a loopback port; every request elsewhere (the map tiles) is
blocked, so the maps are drawn from the app's own files only. Screenshots go to
``var/screenshots/`` (git-ignored): ``journey-b-*.png``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from api.auth import hash_password
from api.main import create_app
from geodata.storage import Repository, accounts
from geodata.storage import premises as store
from geodata.storage.query import PremisesQuery
from tests.api.conftest import make_settings, serious_violations
from tests.api.keyboard_maps import active, popup_settled, tab_into_map
from tests.api.live_uvicorn import serving

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
EMAIL = "promoteur-b@exemple.invalid"
EVIL = "<img src=x onerror=alert(1)>"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
#: A point of Vitry-sur-Seine, inside the territory.
POINT = (2.3920, 48.7870)


@dataclass
class Site:
    url: str
    repo: Repository
    owner: str
    stale_id: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The demo catalogue served on a free port, with a developer who owns demo listings
    (one of them unconfirmed for 70 days)."""
    db = tmp_path_factory.mktemp("journey-b") / "implanter.db"
    app = create_app(make_settings(db))
    with serving(app) as url:
        repo = Repository(f"sqlite:///{db}")
        owner = str(repo.premises_frame()["owner_account"].value_counts().index[0])
        with repo.begin() as conn:
            accounts.create_account(
                conn,
                name=owner,
                email=EMAIL,
                role="developer",
                password_hash=hash_password(PASSWORD),
            )
            mine = store.list_premises(conn, PremisesQuery(owner=owner, status="available"))
            stale = mine.items[0]
            store.confirm_premises(
                conn, stale.id, at=datetime.now(UTC) - timedelta(days=70), actor="test"
            )
        yield Site(url, repo, owner, stale.id)
        repo.dispose()


@pytest.fixture
def page(browser: Any, site: Site) -> Iterator[Any]:
    """A French browser page whose requests outside the app are blocked (and counted)."""
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    own = urlparse(site.url).netloc
    blocked: list[str] = []

    def route(r: Any) -> None:
        if urlparse(r.request.url).netloc == own:
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route("**/*", route)
    dialogs: list[str] = []
    p = context.new_page()
    p.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    # No page needs its Content-Security-Policy loosened: Chromium reports any refusal.
    p.on(
        "console",
        lambda m: dialogs.append(m.text) if "Content Security Policy" in m.text else None,
    )
    p.blocked = blocked
    p.dialogs = dialogs
    yield p
    context.close()


def _shot(page: Any, name: str, *, full_page: bool = True) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"journey-b-{name}.png"), full_page=full_page)


def _sign_in(page: Any, site: Site, path: str = "/mes-annonces") -> None:
    page.goto(site.url + path)
    # Signed out: sent to the sign-in page, then back.
    assert "/login" in page.url
    page.get_by_label("Adresse e-mail").fill(EMAIL)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"**{path}*")


def _no_axe(page: Any) -> None:
    assert serious_violations(page) == [], page.url


def _click_map_at(page: Any, frame: str, lon: float, lat: float) -> None:
    """Click a folium map where a point lies (the map's own projection says where)."""
    name = page.locator("#listing-form").get_attribute("data-map")
    page.wait_for_function(f"document.querySelector('{frame} .folium-map')?.dataset.picker")
    xy = page.evaluate(
        f"(() => {{ const p = window['{name}'].latLngToContainerPoint([{lat}, {lon}]); "
        "return [p.x, p.y]; })()"
    )
    page.locator(frame).scroll_into_view_if_needed()
    box = page.locator(f"{frame} .folium-map").bounding_box()
    page.mouse.click(box["x"] + xy[0], box["y"] + xy[1])


def _workbook(path: Path) -> Path:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.append(["Titre", "kind", "surface_m2", "tenure", "rent_eur_m2_year", "lon", "lat"])
    ws.append(["Atelier importé", "workshop", 520, "rent", 95, 2.3901, 48.7902])
    ws.append(["Entrepôt mal saisi", "warehouse", "beaucoup", "rent", 80, 2.3850, 48.7700])
    wb.save(path)
    return path


def test_journey_b(page: Any, site: Site, tmp_path: Path) -> None:
    _sign_in(page, site)
    assert page.locator("h1").inner_text() == "Mes annonces"
    rows = page.locator("#listings tbody tr")
    assert rows.count() >= 2
    # The map shows the same listings as the table.
    page.wait_for_selector("#listings-map .folium-map[data-markers]")
    markers = page.locator("#listings-map .folium-map").get_attribute("data-markers")
    assert int(markers) == rows.count()
    # A keyboard reaches a marker of the map and opens its popup, which links to its form.
    marker = tab_into_map(page, "#listings-map")
    assert marker["marker"] and marker["role"] == "button" and marker["label"]
    page.keyboard.press("Enter")
    link = active(page)
    assert link["tag"] == "A" and re.fullmatch(r"/mes-annonces/\d+/modifier\?lang=fr", link["href"])
    shown = re.search(r"/mes-annonces/(\d+)/", link["href"]).group(1)  # type: ignore[union-attr]
    assert marker["label"].startswith(page.locator(f"#listing-{shown} a.title").inner_text())
    popup_settled(page)
    _shot(page, "1-mes-annonces")
    _no_axe(page)
    page.keyboard.press("Escape")

    # Create a listing by clicking the map.
    page.get_by_role("link", name="Nouvelle annonce").click()
    page.wait_for_url("**/mes-annonces/nouvelle*")
    _no_axe(page)
    page.get_by_label("Titre de l'annonce").fill("Atelier du parcours B")
    page.get_by_label("Type de local").select_option(label="Atelier / local d'activité")
    page.get_by_label("Surface totale").fill("640")
    page.get_by_label("Mode de commercialisation").select_option(label="Location")
    page.get_by_label("Loyer").fill("105,5")
    _click_map_at(page, "#picker-map", *POINT)
    lon = float(page.get_by_label("Longitude").input_value())
    lat = float(page.get_by_label("Latitude").input_value())
    assert abs(lon - POINT[0]) < 1e-3 and abs(lat - POINT[1]) < 1e-3
    assert "Point placé" in page.locator("#picked").inner_text()
    _shot(page, "2-nouvelle-annonce")
    page.get_by_role("button", name="Créer l'annonce").click()
    page.wait_for_url("**/mes-annonces?done=created*")
    created = int(page.url.split("id=")[1].split("&")[0].split("#")[0])
    assert "créée" in page.locator("#done").inner_text()
    row = page.locator(f"#listing-{created}")
    assert "Atelier du parcours B" in row.inner_text()
    assert "Vitry-sur-Seine" in row.inner_text()  # the commune, found from the point

    # It is on the catalogue map, where it was clicked.
    page.goto(site.url + "/carte")
    page.wait_for_function(f"window.Implanter && window.Implanter.markers['{created}']")
    where = page.evaluate(
        f"(() => {{ const m = window.Implanter.markers['{created}'].getLatLng(); "
        "return [m.lng, m.lat]; })()"
    )
    assert abs(where[0] - lon) < 1e-4 and abs(where[1] - lat) < 1e-4
    _shot(page, "3-carte")
    _no_axe(page)

    # Upload a workbook with one bad row: the row is named, nothing is written.
    page.goto(site.url + "/mes-annonces")
    page.get_by_label("Fichier d'annonces").set_input_files(
        str(_workbook(tmp_path / "offres.xlsx"))
    )
    page.get_by_role("button", name="Vérifier le fichier").click()
    page.wait_for_selector("#import-errors")
    errors = page.locator("#import-errors tbody tr")
    assert errors.count() == 1
    text = errors.first.inner_text()
    assert "Ligne 3" in text and "surface_m2" in text and "beaucoup" in text
    assert "Rien n'a été enregistré" in page.locator("#import-status").inner_text()
    _shot(page, "4-import-verifie")
    _no_axe(page)
    page.get_by_role("button", name="Importer les 1 ligne(s) valide(s)").click()
    page.wait_for_load_state()
    _shot(page, "5-import-fait")
    page.wait_for_selector("#import-done", timeout=5000)
    assert "1 créée(s)" in page.locator("#import-done").inner_text()
    _shot(page, "5-import-fait")
    imported = site.repo.list_premises(q="Atelier importé").items
    assert [i.owner_account for i in imported] == [site.owner]

    # Edit the created listing.
    page.goto(site.url + f"/mes-annonces/{created}/modifier")
    assert page.get_by_label("Titre de l'annonce").input_value() == "Atelier du parcours B"
    _no_axe(page)
    page.get_by_label("Titre de l'annonce").fill("Atelier du parcours B, rénové")
    page.get_by_role("button", name="Enregistrer les modifications").click()
    page.wait_for_url("**/mes-annonces?done=updated*")
    assert "rénové" in page.locator(f"#listing-{created}").inner_text()
    assert site.repo.get_premises(created).version == 2

    # Confirm the stale listing.
    stale = page.locator(f"#listing-{site.stale_id}")
    assert "À confirmer" in stale.inner_text()
    _shot(page, "6-a-confirmer")
    stale.get_by_role("button", name="Confirmer").click()
    page.wait_for_url("**/mes-annonces?done=confirmed*")
    assert "confirmée" in page.locator("#done").inner_text()
    assert "À confirmer" not in page.locator(f"#listing-{site.stale_id}").inner_text()
    assert site.repo.get_premises(site.stale_id).last_verified_at.date() == datetime.now(UTC).date()

    # In English, on a phone: the same page, the table as cards, nothing wider than the screen.
    page.set_viewport_size({"width": 390, "height": 844})
    page.get_by_role("link", name="EN", exact=True).click()
    assert page.locator("h1").inner_text() == "My listings"
    assert "lang=en" in page.get_by_role("link", name="New listing").get_attribute("href")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator("#listings tbody tr").nth(1).scroll_into_view_if_needed()
    _shot(page, "7-phone-en", full_page=False)
    _no_axe(page)
    # The tiles were asked for and blocked; nothing else left the machine.
    assert all("tile" in u for u in page.blocked), page.blocked
    assert page.dialogs == []  # no alert, no CSP refusal


def test_a_point_outside_the_territory_is_refused_in_the_page(page: Any, site: Site) -> None:
    _sign_in(page, site, "/mes-annonces/nouvelle")
    page.get_by_label("Titre de l'annonce").fill("Hors territoire")
    page.get_by_label("Type de local").select_option("warehouse")
    page.get_by_label("Surface totale").fill("12O0")
    page.get_by_label("Mode de commercialisation").select_option("rent")
    page.get_by_label("Longitude").fill("2,0")
    page.get_by_label("Latitude").fill("48,3")
    page.get_by_role("button", name="Créer l'annonce").click()
    error = page.locator("#err-location").inner_text()
    assert "hors du territoire" in error and "km de sa limite" in error
    assert "n'est pas un nombre" in page.locator("#err-surface_m2").inner_text()
    # What was typed is kept; the summary links to the fields.
    assert page.get_by_label("Titre de l'annonce").input_value() == "Hors territoire"
    assert page.get_by_label("Surface totale").get_attribute("aria-invalid") == "true"
    assert page.locator("#error-summary a[href='#f-surface_m2']").count() == 1
    _shot(page, "8-erreurs")
    _no_axe(page)


def test_a_title_with_markup_shows_as_text(page: Any, site: Site) -> None:
    _sign_in(page, site, "/mes-annonces/nouvelle")
    page.get_by_label("Titre de l'annonce").fill(EVIL)
    page.get_by_label("Type de local").select_option("workshop")
    page.get_by_label("Surface totale").fill("300")
    page.get_by_label("Mode de commercialisation").select_option("rent")
    page.get_by_label("Longitude").fill("2.3950")
    page.get_by_label("Latitude").fill("48.7850")
    page.get_by_role("button", name="Créer l'annonce").click()
    page.wait_for_url("**/mes-annonces?done=created*")
    created = int(page.url.split("id=")[1].split("&")[0].split("#")[0])
    # The table.
    assert page.locator(f"#listing-{created} a.title").inner_text() == EVIL
    assert page.locator("#listings img").count() == 0
    # The map popup.
    page.wait_for_function(f"window.Implanter && window.Implanter.markers['{created}']")
    page.evaluate(f"window.Implanter.open({created})")
    popup = page.locator(".leaflet-popup-content")
    assert popup.locator("strong").inner_text() == EVIL
    assert popup.locator("img").count() == 0
    # The edit form.
    page.goto(site.url + f"/mes-annonces/{created}/modifier")
    assert page.get_by_label("Titre de l'annonce").input_value() == EVIL
    assert page.locator("img[src='x']").count() == 0
    assert page.dialogs == []
