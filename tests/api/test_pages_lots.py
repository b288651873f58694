"""The staff page of a development's lots (the FICTITIOUS Valenton village d'entreprises).

Who may read it, and that it shows what ``GET /staff/developments/{code}/allocation`` answers:
every lot with a reason, the optimum's total fit at least first-come-first-served's. Then in a
real headless Chromium (no request leaves the loopback): one path per lot on the map, and no
serious axe-core violation.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from api.auth import hash_password, issue_key
from api.main import create_app
from api.routes.developments import AllocationBody, allocate, find_development
from api.routes.pages_lots import FREE_COLOUR, _lots_map
from geodata.developments import load_development
from geodata.storage import Repository, accounts
from geodata.territory import default_territory
from tests.api.conftest import make_settings, serious_violations

CODE = "valenton-village"
PAGE = f"/tableau-de-bord/lots/{CODE}"
QUERY = "n=12&seed=94074&max_lots=4"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "screenshots"
PASSWORD = "correct horse battery staple"
EVIL = "<img src=x onerror=alert(1)>{{ 7 * 7 }}`${alert(2)}` Démo"


@dataclass
class World:
    client: TestClient
    keys: dict[str, str]

    def get(self, path: str, who: str = "staff") -> Any:
        headers = {} if who == "anonymous" else {"Authorization": f"Bearer {self.keys[who]}"}
        return self.client.get(path, headers=headers, follow_redirects=False)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db = tmp_path_factory.mktemp("lots") / "implanter.db"
    with TestClient(create_app(make_settings(db))) as client:
        repo = client.app.state.repo  # type: ignore[attr-defined]
        keys = {}
        with repo.begin() as conn:
            for role in ("staff", "developer", "company"):
                account = accounts.create_account(
                    conn, name=f"{role}-lots", email=f"{role}-lots@exemple.invalid", role=role
                )
                keys[role] = issue_key(conn, account.id).key
        yield World(client, keys)


def _lot_refs() -> list[str]:
    territory = default_territory()
    path = Path(territory.path)
    folder = path.parent if path.is_file() else path
    dev = load_development(folder / "valenton_village.geojson", territory=territory)
    return [str(lot.lot_ref) for lot in dev.lots]


def _table(html: str, table_id: str) -> str:
    return html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]


@pytest.mark.parametrize("path", ["/tableau-de-bord/lots", PAGE, "/dashboard/lots"])
def test_anonymous_is_sent_to_sign_in_and_back(world: World, path: str) -> None:
    response = world.get(f"{path}?{QUERY}", "anonymous")
    assert response.status_code == 303
    target = urlsplit(response.headers["location"])
    assert target.path == "/login"
    assert parse_qs(target.query)["next"] == [f"{path}?{QUERY}"]


@pytest.mark.parametrize("who", ["developer", "company"])
@pytest.mark.parametrize("path", ["/tableau-de-bord/lots", PAGE])
def test_other_roles_get_the_403_page(world: World, who: str, path: str) -> None:
    response = world.get(path, who)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert "Accès réservé" in response.text
    assert "Valenton" not in response.text  # nothing of the development leaks


def test_index_lists_the_development(world: World) -> None:
    response = world.get("/tableau-de-bord/lots")
    assert response.status_code == 200
    assert f'href="/tableau-de-bord/lots/{CODE}?lang=fr"' in response.text
    assert 'data-code="valenton-village"' in response.text


def test_dashboard_links_to_the_lots(world: World) -> None:
    html = world.get("/tableau-de-bord").text
    assert 'href="/tableau-de-bord/lots?lang=fr"' in html


def test_page_shows_every_lot_with_a_reason(world: World) -> None:
    response = world.get(f"{PAGE}?{QUERY}")
    assert response.status_code == 200, response.text[:500]
    html = response.text
    assert '<html lang="fr"' in html
    rows = re.findall(
        r'<tr data-lot="([^"]*)" data-reason="([^"]*)">(.*?)</tr>',
        _table(html, "table-lots"),
        flags=re.S,
    )
    refs = _lot_refs()
    assert [r[0] for r in rows] == refs
    for _, code, body in rows:
        assert code
        reason = re.findall(r"<td>(.*?)</td>", body, flags=re.S)[-1].strip()
        assert len(reason) > 10, body
    # One colour per company served (the legend and the lots table agree), white for the rest.
    served = len(re.findall(r'<tr data-applicant="', _table(html, "table-assignments")))
    swatch = r'class="swatch[^"]*" style="background: ([^"]+)"'
    swatches = re.findall(swatch, _table(html, "table-lots"))
    assert len(swatches) == len(refs)
    assert len(set(swatches) - {FREE_COLOUR}) == served
    legend = html.split('id="lots-legend"', 1)[1].split("</ul>", 1)[0]
    assert set(re.findall(swatch, legend)) == set(swatches) | {FREE_COLOUR}
    # Every company shown for a lot is in the assignments, with that lot.
    assignments = _table(html, "table-assignments")
    for ref, _, body in rows:
        company = unescape(re.findall(r"</span>(.*?)</td>", body, flags=re.S)[0]).strip()
        if company != "non attribué":
            assert re.search(rf"{re.escape(ref)}\b", assignments)


def test_page_shows_the_same_figures_as_the_route(world: World) -> None:
    html = world.get(f"{PAGE}?{QUERY}").text
    api = world.get(f"/staff/developments/{CODE}/allocation?{QUERY}").json()
    cells = dict(
        re.findall(
            r'<tr data-method="(\w+)">.*?data-value="([^"]+)"', _table(html, "comparison"), re.S
        )
    )
    optimum, fcfs = float(cells["optimal"]), float(cells["fcfs"])
    assert optimum == pytest.approx(api["optimal"]["total_fit"])
    assert fcfs == pytest.approx(api["first_come_first_served"]["total_fit"])
    assert optimum >= fcfs
    served = re.findall(r'<tr data-applicant="(\d+)">', _table(html, "table-assignments"))
    assert sorted(map(int, served)) == sorted(a["applicant"] for a in api["optimal"]["assignments"])
    refused = re.findall(r'<tr data-applicant="(\d+)"', _table(html, "table-refusals"))
    assert sorted(map(int, refused)) == sorted(r["applicant"] for r in api["optimal"]["refusals"])
    assert len(served) + len(refused) == 12


def test_english_and_bad_input(world: World) -> None:
    html = world.get(f"{PAGE}?{QUERY}&lang=en").text
    assert '<html lang="en"' in html and "First come, first served" in html
    assert "Lot not let" in html or "not let" not in html
    missing = world.get("/tableau-de-bord/lots/nulle-part")
    assert missing.status_code == 404
    assert "nulle-part" in missing.text
    nobody = world.get(f"{PAGE}?n=0&max_lots=6")
    assert nobody.status_code == 200
    assert nobody.text.count('data-reason="') == len(_lot_refs())  # every lot, none let
    assert "Aucune attribution." in nobody.text and "Aucun refus." in nobody.text
    bad = world.get(f"{PAGE}?n=9999")
    assert bad.status_code == 422
    assert "n" in bad.text


def test_company_names_reach_the_map_escaped(world: World) -> None:
    """The tooltips show their properties through innerHTML: a company's name must arrive
    HTML-escaped, with no template braces left for branca to evaluate."""
    app = world.client.app
    territory = app.state.territory  # type: ignore[attr-defined]
    request = Request({"type": "http", "app": app, "headers": [], "query_string": b""})
    dev = find_development(request, territory, CODE)
    result = allocate(dev, AllocationBody(demo_applicants=6), territory, "fr")
    lots = [x.model_copy(update={"company": EVIL}) for x in result.optimal.lots]
    result.optimal.lots = lots
    colours = {x.lot: "#E69F00" for x in lots}
    parts = _lots_map(request, dev, result, colours, "fr")
    # In the script's JSON, "&" is written \u0026: the browser gets "&lt;img …&gt;".
    assert "\\u0026lt;img src=x onerror=alert(1)\\u0026gt;" in parts.scripts
    assert "<img" not in parts.scripts and "{{" not in parts.scripts


# --- in Chromium ----------------------------------------------------------------------------


@pytest.mark.browser
def test_map_draws_every_lot_and_axe_passes(browser: Any, live_server: str, demo_db: Path) -> None:
    repo = Repository(f"sqlite:///{demo_db}")
    with repo.begin() as conn:
        accounts.create_account(
            conn,
            name="equipe-lots",
            email="equipe-lots@exemple.invalid",
            role="staff",
            password_hash=hash_password(PASSWORD),
        )
    repo.dispose()
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(locale="fr-FR", viewport={"width": 1280, "height": 900})
    origin = urlsplit(live_server).netloc
    refused: list[str] = []

    def handle(route: Any) -> None:
        if urlsplit(route.request.url).netloc == origin:
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    context.route("**/*", handle)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{live_server}{PAGE}?{QUERY}")
    assert urlsplit(page.url).path == "/login"
    page.get_by_label("Adresse e-mail").fill("equipe-lots@exemple.invalid")
    page.get_by_label("Mot de passe").fill(PASSWORD)
    page.get_by_role("button", name="Se connecter").click()
    page.wait_for_url(f"**{PAGE}?{QUERY}")
    paths = page.locator("#lots-map path.leaflet-interactive")
    paths.first.wait_for()
    assert paths.count() == len(_lot_refs())
    fills = page.eval_on_selector_all(
        "#lots-map path.leaflet-interactive", "els => els.map(e => e.getAttribute('fill'))"
    )
    assert len(set(fills)) >= 2  # companies told apart
    paths.first.hover()
    tooltip = page.locator(".leaflet-tooltip")
    tooltip.wait_for()
    assert "Motif" in tooltip.inner_text() and _lot_refs()[0] in tooltip.inner_text()
    page.screenshot(path=str(SHOTS / "lots-fr.png"), full_page=True)
    assert serious_violations(page) == []
    assert errors == []
    context.close()
