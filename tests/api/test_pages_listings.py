"""The developer pages over HTTP: who may open them, CSRF, the form's errors (named fields, in
French and English, what was typed kept), the territory check, compare-and-set edits, status
and confirmation, demand without company names, and the upload's dry run then import.

Every test runs on SQLite and on PostGIS, through the real app with its lifespan entered and
the demo catalogue loaded.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.auth import hash_password
from api.main import create_app
from geodata.storage import Repository, accounts
from geodata.storage import needs as needs_store
from geodata.storage import premises as store
from tests.api.conftest import backend_url, empty_settings
from tests.conftest import BACKENDS

PASSWORD = "correct horse battery"
EVIL = "<img src=x onerror=alert(1)>"
_ips = count(1)

FORM = {
    "title": "Atelier de la page",
    "kind": "workshop",
    "uses": ["craft", "repair"],
    "surface_m2": "450",
    "tenure": "rent",
    "rent_eur_m2_year": "110,5",
    "lon": "2.3920",
    "lat": "48.7870",
}


@dataclass
class Site:
    app: Any
    repo: Repository
    owner: str  # the developer who owns demo listings

    def browser(self) -> TestClient:
        return TestClient(self.app, client=(f"10.1.{next(_ips)}.1", 40000))

    def signed_in(self, who: str) -> tuple[TestClient, str]:
        """A client with a session of ``who`` (developer, other, company, staff), and the
        session's CSRF token as its pages carry it."""
        client = self.browser()
        login = client.get("/login")
        token = _token(login.text)
        response = client.post(
            "/login",
            data={"email": f"{who}@exemple.invalid", "password": PASSWORD, "csrf_token": token},
        )
        assert response.status_code == 200, response.text
        return client, response.json()["csrf_token"]


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    with backend_url(request, tmp_path_factory, "devpages") as url:
        settings = empty_settings(url)
        settings.api.demo_on_first_run = True
        settings.uploads.staging_dir = str(tmp_path_factory.mktemp("staging"))
        app = create_app(settings)
        with TestClient(app):
            repo: Repository = app.state.repo
            owner = str(repo.premises_frame()["owner_account"].value_counts().index[0])
            with repo.begin() as conn:
                for who, name, role in (
                    ("developer", owner, "developer"),
                    ("other", "autre-promoteur", "developer"),
                    ("company", "pme-page", "company"),
                    ("staff", "eco-page", "staff"),
                ):
                    accounts.create_account(
                        conn,
                        name=name,
                        email=f"{who}@exemple.invalid",
                        role=role,
                        password_hash=hash_password(PASSWORD),
                    )
            yield Site(app, repo, owner)


def _create(client: TestClient, csrf: str, **fields: Any) -> int:
    response = client.post(
        "/mes-annonces/nouvelle",
        data={**FORM, **fields, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert location.startswith("/mes-annonces?done=created")
    return int(re.search(r"id=(\d+)", location).group(1))  # type: ignore[union-attr]


def _errors(html: str) -> dict[str, str]:
    return {
        m.group(1): m.group(2)
        for m in re.finditer(r'<p class="field-error" id="err-([a-z_0-9]+)">([^<]*)</p>', html)
    }


# -- who may open the pages ------------------------------------------------------------------


def test_a_signed_out_visitor_is_sent_to_sign_in_and_back(site: Site) -> None:
    client = site.browser()
    for path, lang in (("/mes-annonces", "fr"), ("/mes-annonces/nouvelle?lang=en", "en")):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        location = response.headers["location"]
        assert location.startswith("/login?next=") and location.endswith(f"lang={lang}")
        assert "%2Fmes-annonces" in location
    # A write without a session changes nothing and goes to sign in.
    response = client.post("/mes-annonces/nouvelle", data=FORM, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


def test_a_company_account_gets_a_403_page(site: Site) -> None:
    client, csrf = site.signed_in("company")
    page = client.get("/mes-annonces")
    assert page.status_code == 403
    assert "Accès réservé" in page.text
    response = client.post("/mes-annonces/nouvelle", data={**FORM, "csrf_token": csrf})
    assert response.status_code == 403
    assert site.repo.list_premises(q="Atelier de la page").total == 0


def test_another_developers_listing_is_not_found(site: Site) -> None:
    developer, csrf = site.signed_in("developer")
    listing = _create(developer, csrf, title="Atelier du premier promoteur")
    other, other_csrf = site.signed_in("other")
    for path in (f"/mes-annonces/{listing}/modifier",):
        assert other.get(path).status_code == 404
    for action, data in (
        ("modifier", {**FORM, "version": "1"}),
        ("statut", {"status": "let", "version": "1"}),
        ("confirmer", {"version": "1"}),
    ):
        response = other.post(
            f"/mes-annonces/{listing}/{action}", data={**data, "csrf_token": other_csrf}
        )
        assert response.status_code == 404, action
    assert site.repo.get_premises(listing).version == 1
    # Its own page does not list it; the owner's does; the staff open it.
    assert f'id="listing-{listing}"' not in other.get("/mes-annonces").text
    assert f'id="listing-{listing}"' in developer.get("/mes-annonces").text
    staff, _ = site.signed_in("staff")
    assert staff.get(f"/mes-annonces/{listing}/modifier").status_code == 200


def test_a_form_without_the_csrf_token_is_refused(site: Site) -> None:
    client, csrf = site.signed_in("developer")
    missing = client.post("/mes-annonces/nouvelle", data=FORM)
    assert missing.status_code == 403
    assert "CSRF" in missing.json()["detail"]
    wrong = client.post("/mes-annonces/nouvelle", data={**FORM, "csrf_token": "0" * 64})
    assert wrong.status_code == 403
    listing = _create(client, csrf, title="Atelier à confirmer sans jeton")
    assert (
        client.post(f"/mes-annonces/{listing}/confirmer", data={"version": "1"}).status_code == 403
    )
    assert site.repo.get_premises(listing).version == 1


def _documented(app: Any, method: str, path: str, response: Any) -> None:
    """The answer's status and media type are the OpenAPI document's for the operation."""
    op = app.openapi()["paths"][path][method]
    assert {} in op["security"]  # anonymous callers too (sent to sign in)
    documented = op["responses"][str(response.status_code)]
    media = response.headers.get("content-type", "").split(";")[0]
    if media:
        assert media in documented.get("content", {}), (path, response.status_code, media)


def test_the_pages_and_their_refusals_are_in_the_openapi_document(site: Site) -> None:
    """Each page and form of "Mes annonces" is documented, and each answer it gives below
    (a page, a redirection, a CSRF refusal, a stale edit, a bad form) is one it documents."""
    paths = site.app.openapi()["paths"]
    base = "/mes-annonces"
    for path, method in (
        (base, "get"),
        (f"{base}/nouvelle", "get"),
        (f"{base}/nouvelle", "post"),
        (f"{base}/{{premises_id}}/modifier", "get"),
        (f"{base}/{{premises_id}}/modifier", "post"),
        (f"{base}/{{premises_id}}/statut", "post"),
        (f"{base}/{{premises_id}}/confirmer", "post"),
        (f"{base}/import", "post"),
        (f"{base}/import/enregistrer", "post"),
    ):
        assert method in paths[path], (path, method)
    assert "/my-listings" not in paths and "/my-listings/new" not in paths  # aliases
    client, csrf = site.signed_in("developer")
    _documented(site.app, "get", base, client.get(base))
    anonymous = site.browser().get(f"{base}/nouvelle", follow_redirects=False)
    assert anonymous.status_code == 303
    _documented(site.app, "get", f"{base}/nouvelle", anonymous)
    missing = client.post(f"{base}/nouvelle", data=FORM)
    assert missing.status_code == 403
    _documented(site.app, "post", f"{base}/nouvelle", missing)
    bad = client.post(f"{base}/nouvelle", data={**FORM, "surface_m2": "x", "csrf_token": csrf})
    assert bad.status_code == 422
    _documented(site.app, "post", f"{base}/nouvelle", bad)
    listing = _create(client, csrf, title="Atelier documenté")
    stale = client.post(
        f"{base}/{listing}/modifier", data={**FORM, "version": "9", "csrf_token": csrf}
    )
    assert stale.status_code == 409
    _documented(site.app, "post", f"{base}/{{premises_id}}/modifier", stale)
    company, _ = site.signed_in("company")
    denied = company.get(f"{base}/{listing}/modifier")
    assert denied.status_code == 403
    _documented(site.app, "get", f"{base}/{{premises_id}}/modifier", denied)


# -- the form ---------------------------------------------------------------------------------


def test_the_commune_comes_from_the_point(site: Site) -> None:
    client, csrf = site.signed_in("developer")
    listing = _create(client, csrf)
    item = site.repo.get_premises(listing)
    territory = site.app.state.territory
    assert item.commune_insee == territory.commune_at([2.392], [48.787])[0]
    assert item.owner_account == site.owner
    assert item.rent_eur_m2_year == 110.5  # a French decimal comma
    assert item.uses == ["craft", "repair"]
    page = client.get(f"/mes-annonces/{listing}/modifier")
    assert territory.commune_name(item.commune_insee) in page.text
    assert 'value="110,5"' in page.text


def test_field_errors_name_the_field_and_keep_what_was_typed(site: Site) -> None:
    client, csrf = site.signed_in("developer")
    data = {**FORM, "title": "Atelier mal rempli", "surface_m2": "12O0", "ceiling_height_m": "-2"}
    data |= {"tenure": "sale", "csrf_token": csrf}
    page = client.post("/mes-annonces/nouvelle", data=data)
    assert page.status_code == 422
    errors = _errors(page.text)
    assert errors["surface_m2"] == "« 12O0 » n&#39;est pas un nombre"
    assert errors["ceiling_height_m"] == "doit être supérieur à 0"
    assert 'value="Atelier mal rempli"' in page.text and 'value="12O0"' in page.text
    assert 'href="#f-surface_m2"' in page.text  # the summary links to the field
    # Once the numbers are right, the check across fields speaks of the rent.
    data |= {"surface_m2": "1200", "ceiling_height_m": "7"}
    page = client.post("/mes-annonces/nouvelle?lang=en", data=data)
    assert _errors(page.text) == {
        "rent_eur_m2_year": "a rent on a sale-only listing (tenure is &#39;sale&#39;)"
    }
    assert site.repo.list_premises(q="Atelier mal rempli").total == 0


def test_a_point_outside_the_territory_is_refused_with_the_distance(site: Site) -> None:
    client, csrf = site.signed_in("developer")
    data = {**FORM, "title": "Atelier trop loin", "lon": "2,0", "lat": "48,3", "csrf_token": csrf}
    page = client.post("/mes-annonces/nouvelle", data=data)
    assert page.status_code == 422
    error = _errors(page.text)["location"]
    assert re.search(r"hors du territoire .+, à \d+,\d km de sa limite", error), error
    english = client.post("/mes-annonces/nouvelle?lang=en", data=data)
    assert re.search(r"outside the territory .+, \d+\.\d km from its boundary", english.text)
    # Swapped coordinates are told as such.
    swapped = client.post("/mes-annonces/nouvelle", data={**data, "lon": "48.787", "lat": "2.392"})
    assert "inversées" in _errors(swapped.text)["location"]
    assert site.repo.list_premises(q="Atelier trop loin").total == 0


def test_an_edit_is_a_compare_and_set_on_the_version(site: Site) -> None:
    client, csrf = site.signed_in("developer")
    listing = _create(client, csrf, title="Atelier à modifier")
    before = site.repo.get_premises(listing)
    form = client.get(f"/mes-annonces/{listing}/modifier")
    assert 'name="version" value="1"' in form.text
    # Someone else changes its status meanwhile.
    staff, staff_csrf = site.signed_in("staff")
    staff.post(
        f"/mes-annonces/{listing}/statut",
        data={"status": "under_offer", "version": "1", "csrf_token": staff_csrf},
    )
    data = {**FORM, "title": "Atelier modifié trop tard", "version": "1", "csrf_token": csrf}
    stale = client.post(f"/mes-annonces/{listing}/modifier", data=data)
    assert stale.status_code == 409
    assert "Quelqu&#39;un d&#39;autre a modifié cette annonce" in stale.text
    assert 'value="Atelier modifié trop tard"' in stale.text
    assert site.repo.get_premises(listing).title == "Atelier à modifier"
    saved = client.post(
        f"/mes-annonces/{listing}/modifier",
        data={**data, "title": "Atelier modifié", "version": "2"},
        follow_redirects=False,
    )
    assert saved.status_code == 303 and "done=updated" in saved.headers["location"]
    after = site.repo.get_premises(listing)
    assert (after.title, after.version, after.status) == ("Atelier modifié", 3, "under_offer")
    assert (after.commune_insee, after.zone_id) == (before.commune_insee, before.zone_id)


def test_status_and_confirmation_from_the_table(site: Site) -> None:
    client, csrf = site.signed_in("developer")
    listing = _create(client, csrf, title="Atelier vieilli")
    with site.repo.begin() as conn:
        old = datetime.now(UTC) - timedelta(days=75)
        store.confirm_premises(conn, listing, at=old, actor="test")
    page = client.get("/mes-annonces").text
    row = page[page.index(f'id="listing-{listing}"') :].split("</tr>")[0]
    assert "À confirmer" in row and "masquée dans 16 jour(s)" in row
    assert f'action="/mes-annonces/{listing}/confirmer?lang=fr"' in row
    confirmed = client.post(
        f"/mes-annonces/{listing}/confirmer",
        data={"version": "2", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert confirmed.headers["location"].startswith("/mes-annonces?done=confirmed")
    item = site.repo.get_premises(listing)
    assert item.version == 3 and item.last_verified_at.date() == datetime.now(UTC).date()
    # A status change at a stale version changes nothing and says so.
    stale = client.post(
        f"/mes-annonces/{listing}/statut",
        data={"status": "let", "version": "2", "csrf_token": csrf},
    )
    assert "modifiée par quelqu&#39;un d&#39;autre" in stale.text
    assert site.repo.get_premises(listing).status == "available"
    client.post(
        f"/mes-annonces/{listing}/statut",
        data={"status": "let", "version": "3", "csrf_token": csrf},
    )
    assert site.repo.get_premises(listing).status == "let"


def test_demand_is_the_apis_without_company_names(site: Site) -> None:
    client, csrf = site.signed_in("developer")
    listing = _create(client, csrf, title="Atelier demandé", surface_m2="800")
    page = client.get("/mes-annonces").text
    row = page[page.index(f'id="listing-{listing}"') :].split("</tr>")[0]
    demand = client.get(f"/premises/{listing}/demand").json()
    assert demand["n_fitting"] > 0
    assert f'<strong class="n-fitting">{demand["n_fitting"]}</strong>' in row
    with site.repo.connect() as conn:
        names = {n.company_name for n in needs_store.all_needs(conn, active=True)}
    assert names and not any(name in page for name in names)


def test_markup_in_a_title_is_escaped_in_the_table_the_map_and_the_form(site: Site) -> None:
    client, csrf = site.signed_in("developer")
    listing = _create(client, csrf, title=EVIL)
    page = client.get("/mes-annonces").text
    assert EVIL not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page  # the table
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in page  # the map's data
    form = client.get(f"/mes-annonces/{listing}/modifier").text
    assert EVIL not in form and 'value="&lt;img src=x onerror=alert(1)&gt;"' in form


# -- upload -----------------------------------------------------------------------------------

CSV = (
    "external_ref;Titre;kind;surface_m2;tenure;rent_eur_m2_year;lon;lat\n"
    "{ref}-1;Atelier du tableur;workshop;520;rent;95;2,3901;48,7902\n"
    "{ref}-2;Entrepôt mal saisi;warehouse;beaucoup;rent;80;2,3850;48,7700\n"
)


def _upload(
    client: TestClient, csrf: str, body: str, name: str = "offres.csv", lang: str = "fr"
) -> Any:
    return client.post(
        f"/mes-annonces/import?lang={lang}",
        data={"csrf_token": csrf},
        files={"file": (name, body.encode(), "text/csv")},
    )


def test_an_upload_is_checked_first_and_names_the_bad_row(site: Site) -> None:
    client, csrf = site.signed_in("developer")
    page = _upload(client, csrf, CSV.format(ref="UP"))
    assert page.status_code == 200
    table = page.text[page.text.index('id="import-errors"') :].split("</table>")[0]
    assert table.count("<tr><td") == 1
    assert "Ligne 3" in table and "Surface totale (surface_m2)" in table and "beaucoup" in table
    assert site.repo.list_premises(q="Atelier du tableur").total == 0  # a dry run
    english = _upload(client, csrf, CSV.format(ref="UP"), "offers.csv", lang="en")
    assert "Row 3" in english.text and "Total surface (surface_m2)" in english.text
    token = _token_of(page.text)
    done = client.post(
        "/mes-annonces/import/enregistrer",
        data={"token": token, "skip_invalid": "true", "csrf_token": csrf},
    )
    assert "1 créée(s)" in done.text
    [item] = site.repo.list_premises(q="Atelier du tableur").items
    assert item.owner_account == site.owner
    # The file was imported once: its token is spent.
    again = client.post(
        "/mes-annonces/import/enregistrer",
        data={"token": token, "skip_invalid": "true", "csrf_token": csrf},
    )
    assert again.status_code == 422 and "plus disponible" in again.text


def _token_of(html: str) -> str:
    match = re.search(r'name="token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


def test_an_upload_never_touches_another_accounts_listing(site: Site) -> None:
    client, csrf = site.signed_in("developer")
    _create(client, csrf, title="Atelier référencé", external_ref="REF-PREMIER")
    other, other_csrf = site.signed_in("other")
    body = (
        "external_ref;Titre;kind;surface_m2;tenure;lon;lat\n"
        "REF-PREMIER;Atelier volé;workshop;300;rent;2.3901;48.7902\n"
        "REF-AUTRE;Atelier de l'autre;workshop;310;rent;2.3911;48.7912\n"
    )
    page = _upload(other, other_csrf, body)
    table = page.text[page.text.index('id="import-errors"') :].split("</table>")[0]
    assert "Ligne 2" in table and "REF-PREMIER" in table and "un autre compte" in table
    # Nothing can be imported, not even the valid row, until that row is fixed.
    assert 'name="token"' not in page.text
    assert site.repo.list_premises(q="Atelier de l'autre").total == 0
    [item] = site.repo.list_premises(q="Atelier référencé").items
    assert item.owner_account == site.owner and item.version == 1


def test_an_upload_over_the_limit_or_of_an_unknown_type_is_refused(site: Site) -> None:
    client, csrf = site.signed_in("developer")
    settings = site.app.state.settings
    saved = settings.uploads.max_bytes
    settings.uploads.max_bytes = 2048
    try:
        page = _upload(client, csrf, CSV.format(ref="BIG") + "x" * 4096)
    finally:
        settings.uploads.max_bytes = saved
    assert page.status_code == 422 and "dépasse la taille maximale" in page.text
    odd = _upload(client, csrf, "hello", "offres.pdf")
    assert odd.status_code == 422 and "n&#39;est ni un CSV" in odd.text


def test_an_unreadable_upload_is_refused_in_the_pages_language(site: Site) -> None:
    client, csrf = site.signed_in("developer")
    noise = "".join(map(chr, range(32))) * 40
    page = _upload(client, csrf, noise, "offres.csv")
    assert page.status_code == 422
    assert "fichier : offres.csv : n&#39;est pas un fichier texte CSV (contenu binaire)" in (
        page.text
    )
    assert "binary" not in page.text
    english = _upload(client, csrf, noise, "offers.csv", lang="en")
    assert english.status_code == 422
    assert "file: offers.csv: is not a CSV text file (binary content)" in english.text
    workbook = _upload(client, csrf, noise, "offres.xlsx")
    assert workbook.status_code == 422
    assert "offres.xlsx : illisible comme fichier XLSX" in workbook.text
    assert "cannot be read" not in workbook.text


def test_a_clean_file_is_imported_by_its_button(site: Site) -> None:
    client, csrf = site.signed_in("developer")
    body = CSV.format(ref="NET").splitlines()[:2]
    page = _upload(client, csrf, "\n".join(body) + "\n")
    assert "Le fichier est correct" in page.text and 'id="import-errors"' not in page.text
    before = site.repo.count_premises()
    done = client.post(
        "/mes-annonces/import/enregistrer", data={"token": _token_of(page.text), "csrf_token": csrf}
    )
    assert "1 créée(s)" in done.text
    assert site.repo.count_premises() == before + 1


def test_a_file_imported_by_its_button_alerts_the_saved_searches_it_fits(site: Site) -> None:
    """The page's import notifies as every other write does: the company whose saved need
    the imported listing fits is told, once; the check before it tells no one."""
    from geodata.schemas import NeedIn
    from geodata.storage import outbox

    need = NeedIn(
        company_name="PME Page",
        owner_account="pme-page",
        surface_min_m2=5120,
        surface_max_m2=5140,
        uses=["production"],
        max_rent_eur_m2_year=150,
    )
    with site.repo.begin() as conn:
        [saved] = needs_store.add_many_needs(conn, [need], actor="fixture")

    def notes() -> list[tuple[int | None, int | None]]:
        with site.repo.connect() as conn:
            items = outbox.list_notifications(conn, "pme-page", limit=100).items
        return [(n.need_id, n.premises_id) for n in items if n.need_id == saved.id]

    client, csrf = site.signed_in("developer")
    body = (
        "external_ref;Titre;kind;uses;surface_m2;tenure;rent_eur_m2_year;lon;lat\n"
        "ALERTE-1;Atelier à signaler;workshop;production;5130;rent;95;2,3901;48,7902\n"
    )
    page = _upload(client, csrf, body)
    assert notes() == []
    done = client.post(
        "/mes-annonces/import/enregistrer", data={"token": _token_of(page.text), "csrf_token": csrf}
    )
    assert "1 créée(s)" in done.text
    [item] = site.repo.list_premises(q="Atelier à signaler").items
    assert notes() == [(saved.id, item.id)]


def test_only_the_upload_takes_a_body_over_the_api_limit(site: Site) -> None:
    client, csrf = site.signed_in("developer")
    big = "x" * (site.app.state.settings.http.max_body_bytes + 1000)
    # Through the middleware to the page, which refuses the file for its type, not its size.
    page = _upload(client, csrf, big, "offres.pdf")
    assert page.status_code == 422 and "n&#39;est ni un CSV" in page.text
    other = client.post(
        "/mes-annonces/nouvelle",
        data={"csrf_token": csrf},
        files={"file": ("offres.pdf", big.encode(), "text/csv")},
    )
    assert other.status_code == 413


def test_the_staff_list_for_a_developer_and_see_every_listing(site: Site) -> None:
    staff, csrf = site.signed_in("staff")
    page = staff.get("/mes-annonces?lang=en")
    assert "Every listing of the catalogue" in page.text
    assert 'id="f-owner_account"' in staff.get("/mes-annonces/nouvelle").text
    listing = _create(staff, csrf, title="Atelier confié", owner_account="autre-promoteur")
    assert site.repo.get_premises(listing).owner_account == "autre-promoteur"
    other, other_csrf = site.signed_in("other")
    assert f'id="listing-{listing}"' in other.get("/mes-annonces").text
    # A developer's form has no owner field, and one added by hand is ignored.
    assert 'id="f-owner_account"' not in other.get("/mes-annonces/nouvelle").text
    own = _create(other, other_csrf, title="Atelier à soi", owner_account=site.owner)
    assert site.repo.get_premises(own).owner_account == "autre-promoteur"
