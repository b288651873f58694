"""Photos in a real headless Chromium: a developer adds one from the listing form (its
description written as markup), a reader on a 390 px phone sees it on the detail page as an
image with its description as text; both pages pass axe-core; the developer deletes it.

Served by uvicorn on a loopback port, every request elsewhere blocked. Screenshots go to
``var/screenshots/`` (git-ignored): ``photos-*.png``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from api.auth import hash_password
from api.main import create_app
from geodata.photos import prepare_photo
from geodata.schemas import PremisesCreate
from geodata.storage import Repository, accounts, photos
from geodata.territory import default_territory
from tests.api.conftest import make_settings, serious_violations
from tests.api.live_uvicorn import serving
from tests.utils.images import jpeg_with_gps, png_bytes

pytestmark = pytest.mark.browser

PASSWORD = "correct horse battery"
EMAIL = "promoteur-photos@exemple.invalid"
OWNER = "sci-photos"
EVIL = "<img src=x onerror=alert(1)>"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"


@dataclass
class Site:
    url: str
    repo: Repository
    listing: int


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    db = tmp_path_factory.mktemp("photos-browser") / "implanter.db"
    with serving(create_app(make_settings(db, demo=False))) as url:
        repo = Repository(f"sqlite:///{db}")
        with repo.begin() as conn:
            accounts.create_account(
                conn,
                name=OWNER,
                email=EMAIL,
                role="developer",
                password_hash=hash_password(PASSWORD),
            )
        item = PremisesCreate.model_validate(
            {
                "title": "Atelier de 450 m² à Vitry-sur-Seine",
                "kind": "workshop",
                "surface_m2": 450,
                "tenure": "rent",
                "rent_eur_m2_year": 120,
                "lon": 2.392,
                "lat": 48.787,
                "owner_account": OWNER,
            },
            context={"territory": default_territory()},
        )
        listing = repo.add_premises(item, actor="fixture").id
        yield Site(url, repo, listing)
        repo.dispose()


def _context(browser: Any, site: Site, **options: Any) -> Any:
    """A French browser context whose requests outside the app are blocked."""
    context = browser.new_context(locale="fr-FR", **options)
    own = urlparse(site.url).netloc
    context.route(
        "**/*", lambda r: r.continue_() if urlparse(r.request.url).netloc == own else r.abort()
    )
    return context


def _watch(page: Any) -> list[str]:
    """Dialogs opened and Content-Security-Policy refusals, as they happen."""
    seen: list[str] = []
    page.on("dialog", lambda d: (seen.append(d.message), d.dismiss()))
    page.on(
        "console", lambda m: seen.append(m.text) if "Content Security Policy" in m.text else None
    )
    return seen


def _shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"photos-{name}.png"), full_page=True)


def _sign_in_to(page: Any, site: Site, path: str) -> None:
    """Open ``path`` as the owner: the sign-in form, then back to the page."""
    page.goto(site.url + path)
    page.get_by_label("Adresse e-mail").fill(EMAIL)
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"**{path}*")


def _loaded(img: Any) -> bool:
    return bool(img.evaluate("i => i.complete && i.naturalWidth > 0"))


def test_a_photo_added_in_the_form_shows_on_a_phone(browser: Any, site: Site) -> None:
    context = _context(browser, site, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    seen = _watch(page)
    form_path = f"/mes-annonces/{site.listing}/modifier"
    _sign_in_to(page, site, form_path)
    assert page.locator("#no-photo").is_visible()
    page.locator("#p-file").set_input_files(
        {"name": "facade.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps((800, 600))}
    )
    page.locator("#p-alt").fill(EVIL)
    page.locator("#p-alt_en").fill("Street front")
    page.get_by_role("button", name="Ajouter la photo").click()
    page.wait_for_url("**photo=added*")
    shown = page.locator("#photo-list img")
    assert shown.count() == 1
    assert shown.first.get_attribute("alt") == EVIL
    shown.first.scroll_into_view_if_needed()
    page.wait_for_function("document.querySelector('#photo-list img').naturalWidth > 0")
    assert page.locator("#photo-list figcaption").first.inner_text().startswith(EVIL)
    assert serious_violations(page) == [], page.url
    _shot(page, "form")

    phone = _context(browser, site, viewport={"width": 390, "height": 844}, is_mobile=True)
    reader = phone.new_page()
    reader_seen = _watch(reader)
    reader.goto(f"{site.url}/locaux/{site.listing}")
    img = reader.locator("#gallery img")
    assert img.count() == 1 and img.first.get_attribute("alt") == EVIL
    reader.wait_for_function("document.querySelector('#gallery img').naturalWidth > 0")
    assert _loaded(img.first)
    box = img.first.bounding_box()
    assert box is not None and 0 < box["width"] <= 390
    # The gallery fits the phone's width: nothing scrolls sideways.
    assert reader.evaluate("document.documentElement.scrollWidth") <= 390
    assert reader.locator("img[src='x']").count() == 0
    assert serious_violations(reader) == [], reader.url
    _shot(reader, "detail-390")
    # The image is the re-encoded JPEG, served as such.
    served = reader.request.get(f"{site.url}{img.first.get_attribute('src')}")
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert b"Exif" not in served.body()
    # Several photos: a strip that scrolls sideways by itself, the page never does.
    with site.repo.begin() as conn:
        photos.add_photo(
            conn, site.listing, prepare_photo(png_bytes((900, 600))), alt="Quai", actor="x"
        )
    reader.goto(f"{site.url}/locaux/{site.listing}")
    assert reader.locator("#gallery img").count() == 2
    assert reader.locator("#gallery img").nth(1).get_attribute("loading") == "lazy"
    strip = reader.evaluate(
        "(() => { const g = document.querySelector('#gallery');"
        " return [g.scrollWidth, g.clientWidth]; })()"
    )
    assert strip[0] > strip[1]
    assert reader.evaluate("document.documentElement.scrollWidth") <= 390
    assert serious_violations(reader) == [], reader.url
    _shot(reader, "detail-390-strip")
    phone.close()

    page.reload()
    page.get_by_role("button", name=f"Supprimer la photo « {EVIL} »").click()
    page.wait_for_url("**photo=deleted*")
    assert [p.alt for p in site.repo.get_premises(site.listing).gallery] == ["Quai"]
    assert page.locator("#photo-list img").count() == 1
    assert seen == [] and reader_seen == []
    context.close()


def test_a_photo_over_the_limit_is_refused_in_the_page_before_it_is_sent(
    browser: Any, site: Site
) -> None:
    """A file over ``uploads.photo_max_bytes`` is refused by the form itself, with the
    field's message, and nothing is sent (the server would answer a bare 413)."""
    context = _context(browser, site, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    form_path = f"/mes-annonces/{site.listing}/modifier"
    _sign_in_to(page, site, form_path)
    sent.clear()
    limit = int(page.locator("#p-file").get_attribute("data-max-bytes") or 0)
    assert limit == 8 * 2**20  # the setting's default, told to the page
    big = jpeg_with_gps((64, 64)) + b"\0" * limit
    page.locator("#p-file").set_input_files(
        {"name": "trop-lourde.jpg", "mimeType": "image/jpeg", "buffer": big}
    )
    page.locator("#p-alt").fill("Façade")
    message = page.locator("#p-file").evaluate("i => i.validationMessage")
    assert message == "Photo : ce fichier dépasse 8 Mio ; envoyez une photo plus légère."
    assert page.locator("#p-file").get_attribute("aria-invalid") == "true"
    page.get_by_role("button", name="Ajouter la photo").click()
    assert sent == [] and page.url.endswith(form_path)
    # A file within the limit clears the message.
    page.locator("#p-file").set_input_files(
        {"name": "facade.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps((64, 64))}
    )
    assert page.locator("#p-file").evaluate("i => i.validity.valid")
    assert serious_violations(page) == [], page.url
    context.close()
