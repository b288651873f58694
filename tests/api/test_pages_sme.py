"""The SME journey in a real headless Chromium, with every outside request blocked.

(a) a company fills the search form, sees ranked results and their markers, follows a
relaxation link, opens a detail page, saves the search and contacts the owner; (d) a listing
whose title and description are markup shows as text in the list, the popup, the tooltip and
the detail page; (e) the search on a 390 px phone. Screenshots of each step go to
``var/screenshots/`` (git-ignored) for a person to look at; axe-core checks every page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from api.auth import hash_password
from geodata.schemas import PremisesCreate
from geodata.storage import Repository, accounts, contacts
from geodata.territory import default_territory
from tests.api.conftest import serious_violations
from tests.api.keyboard_maps import active, open_marker, popup_settled, tab_into_map

pytestmark = pytest.mark.browser

SCREENSHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
EVIL = (
    '<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>'
    "`${window.__pwned=3}` {{ 7*7 }} {% raw %} Entrepôt"
)
PASSWORD = "une phrase de passe assez longue"
SEARCH = (
    "/recherche?surface_min_m2=800&surface_max_m2=1500&uses=logistics&communes=Rungis"
    "&required=&required=surface&required=use&required=location"
)


def _shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"sme-{name}.png"), full_page=True)


@pytest.fixture(scope="module")
def evil_listing(live_server: str, demo_db: Path) -> int:
    """A warehouse in Rungis whose title and description are markup."""
    repo = Repository(f"sqlite:///{demo_db}")
    item = PremisesCreate.model_validate(
        {
            "title": EVIL,
            "kind": "warehouse",
            "uses": ["logistics"],
            "surface_m2": 1000,
            "tenure": "rent",
            "rent_eur_m2_year": 90,
            "lon": 2.3540,
            "lat": 48.7560,
            "description": EVIL,
        },
        context={"territory": default_territory()},
    )
    created = repo.add_premises(item, actor="test")
    repo.dispose()
    return created.id


@pytest.fixture(scope="module")
def company(live_server: str, demo_db: Path) -> str:
    """A company account with a password; its e-mail."""
    repo = Repository(f"sqlite:///{demo_db}")
    with repo.begin() as conn:
        accounts.create_account(
            conn,
            name="pme-recherche",
            email="pme-recherche@exemple.invalid",
            role="company",
            password_hash=hash_password(PASSWORD),
        )
    repo.dispose()
    return "pme-recherche@exemple.invalid"


def _offline_page(browser: Any, base: str, **options: Any) -> Iterator[Any]:
    context = browser.new_context(**options)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    blocked: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(base):
            r.continue_()
        else:  # tiles and anything else outside: a closed network
            blocked.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    page.errors = errors
    page.blocked = blocked
    yield page
    context.close()


@pytest.fixture
def page(browser: Any, live_server: str) -> Iterator[Any]:
    yield from _offline_page(browser, live_server, locale="fr-FR")


def _scores(page: Any) -> list[int]:
    texts = page.locator("#results .score-text").all_inner_texts()
    return [int(re.search(r"(\d+)/100", t).group(1)) for t in texts]  # type: ignore[union-attr]


def _markers(page: Any) -> int:
    return int(page.locator("#results-map .folium-map").get_attribute("data-markers") or 0)


def _highlighted(page: Any, premises_id: str) -> bool:
    """Whether a listing's marker is drawn highlighted (larger, on top)."""
    return bool(
        page.evaluate(
            f"(() => {{ const m = Implanter.markers['{premises_id}'];"
            " const dot = m.getElement().firstChild;"
            " return m.getElement().classList.contains('highlighted')"
            " && dot.style.transform.includes('scale'); })()"
        )
    )


def test_a_company_searches_relaxes_and_opens_a_listing(page: Any, live_server: str) -> None:
    page.goto(live_server + "/recherche")
    assert page.locator("h1").inner_text() == "Rechercher un local"
    assert serious_violations(page) == []
    _shot(page, "a1-empty-form")
    # The form, by its labels, as a person (or a screen reader) finds the fields.
    page.get_by_label("Surface minimale (m²)").fill("800")
    page.get_by_label("Surface maximale (m²)").fill("1500")
    page.get_by_label("Stockage / logistique").check()
    page.get_by_label("Communes (noms ou codes INSEE, séparés par des virgules)").fill("Rungis")
    page.get_by_label("Obligatoire (Localisation)").check()
    page.locator("#search-submit").click()
    page.wait_for_load_state("networkidle")
    # The search is in the URL (shareable), without the empty fields.
    assert "surface_min_m2=800" in page.url and "place_label" not in page.url
    results = page.locator("#results > li")
    n = results.count()
    assert n >= 1
    scores = _scores(page)
    assert scores == sorted(scores, reverse=True)
    # One marker per result, from the app's own Leaflet (no CDN: the page ran offline).
    assert _markers(page) == n
    assert page.evaluate("typeof L") == "object"
    assert page.errors == []
    # Reasons are in the reader's language.
    assert "votre besoin" in results.first.inner_text()
    # Hovering a result highlights its marker; so does keyboard focus.
    first_id = results.first.get_attribute("data-premises-id")
    results.first.hover()
    assert _highlighted(page, first_id)
    assert "is-highlighted" in (results.first.get_attribute("class") or "")
    page.mouse.move(0, 0)
    assert not _highlighted(page, first_id)
    results.first.locator("a").focus()
    assert _highlighted(page, first_id)
    assert serious_violations(page) == []
    _shot(page, "a2-results")
    # A click on a marker opens its popup (title as text, link to its page), and only that.
    x, y = page.evaluate(
        f"(() => {{ const m = Implanter.markers['{first_id}'];"
        " const p = m._map.latLngToContainerPoint(m.getLatLng()); return [p.x, p.y]; })()"
    )
    box = page.locator("#results-map .folium-map").bounding_box()
    page.mouse.click(box["x"] + x, box["y"] + y)
    popup = page.locator(".leaflet-popup-content")
    assert popup.locator("strong").inner_text() == results.first.locator("h3").inner_text()
    assert popup.locator("a").get_attribute("href") == f"/locaux/{first_id}?lang=fr"
    # A click on the map places the search's centre (a point and a radius).
    assert page.get_by_label("Latitude du centre").input_value() == ""
    page.locator("#results-map").click(position={"x": 40, "y": 300})
    lat = float(page.get_by_label("Latitude du centre").input_value())
    lon = float(page.get_by_label("Longitude du centre").input_value())
    assert 48.6 < lat < 48.9 and 2.2 < lon < 2.6
    assert page.get_by_label("Rayon (m)").input_value() == "2000"

    # Few results: the relaxations are links; one widens the search.
    relax = page.locator("#relaxations a")
    assert relax.count() >= 1
    before = page.url
    relax.first.click()
    page.wait_for_load_state("networkidle")
    assert page.url != before
    assert page.locator("#results > li").count() > n
    assert _markers(page) == page.locator("#results > li").count()
    _shot(page, "a3-relaxed")

    # The detail page of the best result.
    top = page.locator("#results > li").first
    title = top.locator("h3").inner_text()
    top.locator("h3 a").click()
    page.wait_for_load_state("networkidle")
    assert re.search(r"/locaux/\d+\?lang=fr$", page.url)
    assert page.locator("h1").inner_text() == title
    assert "m²" in page.locator("#facts").inner_text()
    assert page.locator("#stations li").count() == 3
    assert re.search(r"\d", page.locator("#exits li").first.inner_text())
    assert re.search(r"jours|aujourd'hui|hier", page.locator("#verified").inner_text())
    # The mini-map: this listing, 3 stations and 2 exits.
    assert page.locator("#premises-map .folium-map").count() == 1
    assert page.locator("#similar li").count() >= 1
    assert page.errors == []
    assert serious_violations(page) == []
    _shot(page, "a4-detail")
    # The English switch keeps the page.
    page.click("a[hreflang=en]")
    assert page.locator("#facts-heading").inner_text() == "Facts"
    assert page.locator("h1").inner_text() == title
    assert serious_violations(page) == []
    # Tiles were asked for outside and refused: the markers showed all the same.
    assert any("tile.openstreetmap.org" in url for url in page.blocked)


def test_a_company_saves_the_search_and_contacts_an_owner(
    page: Any, live_server: str, demo_db: Path, company: str
) -> None:
    page.goto(live_server + SEARCH)
    assert page.locator("#save a").count() == 1  # signed out: a link to sign in
    page.locator("#save a").click()
    page.get_by_label("Adresse e-mail").fill(company)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_load_state("networkidle")
    # Back on the same search, signed in.
    assert "surface_min_m2=800" in page.url
    page.get_by_label("Nom de l'entreprise").fill("Transports Dupont")
    page.locator("#save-submit").click()
    page.wait_for_load_state("networkidle")
    saved = page.locator("#saved")
    need_id = int(re.search(r"saved=(\d+)", page.url).group(1))  # type: ignore[union-attr]
    assert str(need_id) in saved.inner_text()
    repo = Repository(f"sqlite:///{demo_db}")
    need = repo.get_need(need_id)
    assert need.owner_account == "pme-recherche"
    assert need.company_name == "Transports Dupont"
    assert (need.surface_min_m2, need.surface_max_m2) == (800, 1500)
    assert need.communes == ["94065"]
    _shot(page, "a5-saved")

    # Contact the owner of the first result.
    page.locator("#results > li h3 a").first.click()
    listing_id = int(re.search(r"/locaux/(\d+)", page.url).group(1))  # type: ignore[union-attr]
    page.get_by_label("Message").fill("Bonjour, ce local est-il visitable la semaine prochaine ?")
    page.get_by_label("E-mail").fill("contact@dupont.invalid")
    page.locator("#contact-submit").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#contact-sent").is_visible()
    with repo.connect() as conn:
        sent = contacts.list_contact_requests(conn, sender_account="pme-recherche").items
    repo.dispose()
    assert [(c.premises_id, c.contact_email) for c in sent] == [
        (listing_id, "contact@dupont.invalid")
    ]
    assert serious_violations(page) == []
    _shot(page, "a6-contact-sent")


def test_markup_in_a_listing_shows_as_text_everywhere(
    page: Any, live_server: str, evil_listing: int
) -> None:
    page.goto(live_server + SEARCH)
    item = page.locator(f'#results > li[data-premises-id="{evil_listing}"]')
    assert item.locator("h3").inner_text() == EVIL
    assert page.locator("#results img, #results script").count() == 0
    # The marker's popup and tooltip, through the layer's click and hover handlers.
    page.evaluate(f"Implanter.open({evil_listing})")
    popup = page.locator(".leaflet-popup-content")
    assert popup.locator("strong").inner_text() == EVIL
    assert popup.locator("img").count() == 0
    assert popup.locator("a").get_attribute("href") == f"/locaux/{evil_listing}?lang=fr"
    page.evaluate(f"Implanter.hover({evil_listing})")
    assert page.locator(".leaflet-tooltip").last.inner_text() == EVIL
    _shot(page, "d1-markup-as-text-popup")
    # The detail page.
    page.goto(f"{live_server}/locaux/{evil_listing}")
    assert page.locator("h1").inner_text() == EVIL
    assert page.locator("#description").inner_text() == EVIL
    assert page.locator("main img:not(.leaflet-tile)").count() == 0
    page.evaluate(f"Implanter.hover({evil_listing})")
    assert page.locator(".leaflet-tooltip").last.inner_text() == EVIL
    # The catalogue map holds it too, as data.
    page.goto(f"{live_server}/carte?cluster=false")
    page.evaluate(f"Implanter.open({evil_listing})")
    assert page.locator(".leaflet-popup-content strong").inner_text() == EVIL
    assert page.locator(".leaflet-popup-content img").count() == 0
    assert page.evaluate("window.__pwned") is None
    assert page.errors == []
    _shot(page, "d2-markup-as-text-map")


def test_the_search_on_a_390px_phone(browser: Any, live_server: str) -> None:
    for phone in _offline_page(
        browser, live_server, viewport={"width": 390, "height": 844}, is_mobile=True
    ):
        phone.goto(live_server + "/recherche")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.get_by_label("Surface minimale (m²)").fill("800")
        phone.get_by_label("Surface maximale (m²)").fill("1500")
        phone.get_by_label("Stockage / logistique").check()
        phone.get_by_label("Communes (noms ou codes INSEE, séparés par des virgules)").fill(
            "Rungis"
        )
        phone.get_by_label("Obligatoire (Localisation)").check()
        phone.locator("#search-submit").click()
        phone.wait_for_load_state("networkidle")
        n = phone.locator("#results > li").count()
        assert n >= 1 and _markers(phone) == n
        # Nothing runs off the screen; the results come before the form.
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        results_top = phone.locator("#results").bounding_box()["y"]
        form_top = phone.locator("#search-form").bounding_box()["y"]
        assert results_top < form_top
        box = phone.locator("#results-map").bounding_box()
        assert box is not None and box["width"] <= 390 and box["height"] > 200
        assert serious_violations(phone) == []
        _shot(phone, "e1-phone-results")
        phone.locator("#relaxations a").first.click()
        phone.wait_for_load_state("networkidle")
        assert phone.locator("#results > li").count() > n
        phone.locator("#results > li h3 a").first.click()
        phone.wait_for_load_state("networkidle")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        assert serious_violations(phone) == []
        _shot(phone, "e2-phone-detail")
        # The home table becomes cards rather than overflowing.
        phone.goto(live_server + "/")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        _shot(phone, "e3-phone-home")


@pytest.mark.parametrize(
    "path",
    [
        "/carte",
        "/carte?lang=en",
        "/recherche?lang=en",
        SEARCH + "&surface_max_m2=abc",
        "/locaux/1",
        "/locaux/999999",
    ],
)
def test_each_page_passes_axe_and_runs_offline(page: Any, live_server: str, path: str) -> None:
    response = page.goto(live_server + path)
    assert response is not None
    assert response.status in (200, 404, 422), path
    page.wait_for_load_state("networkidle")
    assert serious_violations(page) == []
    assert page.errors == []
    policy = response.headers["content-security-policy"]
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]


def test_bad_search_input_names_the_field(page: Any, live_server: str) -> None:
    response = page.goto(live_server + SEARCH.replace("1500", "abc"))
    assert response is not None and response.status == 422
    alert = page.get_by_role("alert")
    assert "Surface maximale (m²)" in alert.inner_text()
    assert "n'est pas un nombre" in alert.inner_text()
    assert page.get_by_label("Surface maximale (m²)").get_attribute("aria-invalid") == "true"
    response = page.goto(live_server + "/recherche?surface_min_m2=900&surface_max_m2=500&lang=en")
    assert response is not None and response.status == 422
    assert "surface_min_m2" in page.get_by_role("alert").inner_text()


def test_the_catalogue_map_clusters_every_public_listing(page: Any, live_server: str) -> None:
    page.goto(live_server + "/carte")
    page.wait_for_load_state("networkidle")
    total = int(page.request.get(live_server + "/premises?limit=1").json()["total"])
    assert _map_count(page) == total
    clusters = page.locator(".marker-cluster")
    assert clusters.count() >= 1
    # A cluster names its count (its accessible name) and a click zooms to where it splits.
    assert re.fullmatch(r"\d+ locaux", clusters.first.get_attribute("title") or "")
    _shot(page, "c1-catalogue-map")
    zoom = "Object.values(window).find(v => v instanceof L.Map).getZoom()"
    before = page.evaluate(zoom)
    clusters.first.click()
    page.wait_for_function(f"{zoom} > {before}")
    # A listing inside a cluster: its popup opens once the map has zoomed to it.
    some_id = page.evaluate("Object.keys(Implanter.markers)[0]")
    page.evaluate(f"Implanter.open({some_id})")
    assert page.locator(".leaflet-popup-content a").get_attribute("href") == (
        f"/locaux/{some_id}?lang=fr"
    )
    assert page.errors == []


def _map_count(page: Any) -> int:
    return int(page.locator("#catalogue-map .folium-map").get_attribute("data-markers") or 0)


def test_a_keyboard_opens_a_results_marker_and_comes_back(page: Any, live_server: str) -> None:
    """Tab reaches a result's marker (a button named by the listing's title), Enter opens
    its popup with the focus on the link to the listing, Escape closes it and gives the
    focus back to the marker; axe-core stays clean with the popup open."""
    page.goto(live_server + SEARCH)
    page.wait_for_load_state("networkidle")
    titles = page.locator("#results h3").all_inner_texts()
    marker = tab_into_map(page, "#results-map")
    assert marker["marker"] and marker["role"] == "button"
    title = next(t for t in titles if marker["label"].startswith(t))
    page.keyboard.press("Enter")
    link = active(page)
    assert link["tag"] == "A" and re.fullmatch(r"/locaux/\d+\?lang=fr", link["href"])
    item = page.locator("#results > li", has=page.locator(f'a[href="{link["href"]}"]'))
    assert item.locator("h3").inner_text() == title
    assert page.locator(".leaflet-popup-content strong").inner_text() == title
    popup_settled(page)
    assert serious_violations(page) == []
    page.keyboard.press("Escape")
    page.wait_for_selector(".leaflet-popup", state="detached")
    assert active(page)["label"] == marker["label"]
    assert page.errors == []


def test_a_keyboard_reaches_a_listing_through_the_clusters(page: Any, live_server: str) -> None:
    """On the catalogue map, Tab reaches a cluster (a button naming its count), Enter zooms
    in with the focus kept on the map, until a listing's marker whose popup Enter opens."""
    page.goto(live_server + "/carte")
    page.wait_for_load_state("networkidle")
    first = tab_into_map(page, "#catalogue-map")
    assert first["cluster"] and re.fullmatch(r"\d+ locaux", first["label"])
    marker = open_marker(page, "#catalogue-map")
    link = active(page)
    assert link["tag"] == "A" and re.fullmatch(r"/locaux/\d+\?lang=fr", link["href"])
    strong = page.locator(".leaflet-popup-content strong").inner_text()
    assert marker["label"].startswith(strong)
    popup_settled(page)
    assert serious_violations(page) == []
    assert page.errors == []
