"""The staff dashboard: who may read it, and figures that agree with the database.

The figures are checked against sums computed here from the ``premises`` table with SQL (not
from the match index the page reads), on the demo catalogue in a real SQLite file.
"""

from __future__ import annotations

import re
import sqlite3
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi.testclient import TestClient

from api.auth import issue_key
from api.main import create_app
from api.routes.pages_dashboard import BANDS
from geodata.freshness import flagged_before, hidden_before
from geodata.schemas import NeedIn
from geodata.storage import accounts
from matcher import match
from tests.api.conftest import make_settings

EVIL = "<img src=x onerror=alert(1)>`${alert(2)}`</script> Démo"


@dataclass
class World:
    client: TestClient
    db: Path
    keys: dict[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db = tmp_path_factory.mktemp("dashboard") / "implanter.db"
    with TestClient(create_app(make_settings(db))) as client:
        repo = client.app.state.repo  # type: ignore[attr-defined]
        keys = {}
        with repo.begin() as conn:
            for role in ("staff", "developer", "company"):
                account = accounts.create_account(
                    conn, name=f"{role}-tdb", email=f"{role}-tdb@exemple.invalid", role=role
                )
                keys[role] = issue_key(conn, account.id).key
        # A need no listing can meet, whose company name is hostile markup.
        repo.add_many_needs(
            [
                NeedIn(
                    company_name=EVIL,
                    surface_min_m2=90_000,
                    surface_max_m2=95_000,
                    uses=["craft"],
                    communes=["94081"],
                )
            ],
            actor="test",
        )
        yield World(client, db, keys)


def _get(world: World, path: str, role: str | None = "staff", **kw: object) -> object:
    headers = {"Authorization": f"Bearer {world.keys[role]}"} if role else {}
    return world.client.get(path, headers=headers, follow_redirects=False, **kw)  # type: ignore[arg-type]


def _cells(html: str, table: str) -> dict[str, list[float | None]]:
    """Row key → the ``data-value`` of each cell (None for a text cell) of a table."""
    body = html.split(f'id="table-{table}"', 1)[1].split("</table>", 1)[0]
    out = {}
    for key, row in re.findall(r'<tr data-key="([^"]*)">(.*?)</tr>', body, flags=re.S):
        cells = re.findall(r"<td([^>]*)>", row)
        out[key] = [
            float(m.group(1)) if (m := re.search(r'data-value="([^"]+)"', c)) else None
            for c in cells
        ]
    return out


def _sql(db: Path, query: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query, args).fetchall()


# --- who may read it ------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in_and_back_with_the_filters(world: World) -> None:
    r = _get(world, "/tableau-de-bord?kind=warehouse&lang=en", role=None)
    assert r.status_code == 303  # type: ignore[attr-defined]
    target = urlsplit(r.headers["location"])  # type: ignore[attr-defined]
    assert target.path == "/login"
    query = parse_qs(target.query)
    assert query["next"] == ["/tableau-de-bord?kind=warehouse&lang=en"]
    assert query["lang"] == ["en"]
    # The sign-in form carries the way back.
    form = world.client.get(r.headers["location"]).text  # type: ignore[attr-defined]
    assert 'name="next" value="/tableau-de-bord?kind=warehouse&amp;lang=en"' in form


@pytest.mark.parametrize("role", ["developer", "company"])
def test_other_roles_get_a_403_page(world: World, role: str) -> None:
    r = _get(world, "/tableau-de-bord", role=role)
    assert r.status_code == 403  # type: ignore[attr-defined]
    text = r.text  # type: ignore[attr-defined]
    assert "Accès réservé à l'équipe du territoire" in unescape(text)
    assert f"{role}-tdb" in text
    assert "table-balance" not in text  # no figure leaks
    english = _get(world, "/tableau-de-bord?lang=en", role=role)
    assert "For the territory's staff only" in unescape(english.text)  # type: ignore[attr-defined]


def test_staff_get_the_dashboard_in_french_and_english(world: World) -> None:
    r = _get(world, "/tableau-de-bord")
    assert r.status_code == 200  # type: ignore[attr-defined]
    html = r.text  # type: ignore[attr-defined]
    assert "Tableau de bord du territoire" in html
    # Readable labels, never enum codes, in the filters, legends and tables.
    shown = unescape(re.sub(r"<[^>]+>", " ", html.split("<main", 1)[1].split("<script", 1)[0]))
    assert "Lot en village d'entreprises" in shown
    assert "business_village_lot" not in shown and "industrial_building" not in shown
    # French numbers: narrow no-break space between thousands.
    assert re.search(r"\d\u202f\d{3} m²", shown)
    # The map's script carries the nonce the policy allows; no inline script without it.
    policy = r.headers["content-security-policy"]  # type: ignore[attr-defined]
    nonce = re.search(r"'nonce-([^']+)'", policy).group(1)  # type: ignore[union-attr]
    inline = re.findall(r"<script(?![^>]*\bsrc=)([^>]*)>", html)
    executed = [attrs for attrs in inline if 'type="application/json"' not in attrs]
    assert executed == [f' nonce="{nonce}"']
    # The layers' GeoJSON is in data blocks, which browsers never run.
    assert len(inline) - len(executed) >= 5
    assert "/static/app/dashboard.js" in html
    en = _get(world, "/tableau-de-bord?lang=en").text  # type: ignore[attr-defined]
    assert "Territory dashboard" in en and "Available building floor area (m²)" in en


def test_a_bad_filter_is_named_and_the_rest_still_shows(world: World) -> None:
    r = _get(world, "/tableau-de-bord?kind=castle&threshold=120&use=craft")
    assert r.status_code == 422  # type: ignore[attr-defined]
    text = unescape(r.text)  # type: ignore[attr-defined]
    assert "kind : « castle » n'est pas un type de local connu" in text
    assert "threshold : « 120 » doit être un nombre entre 0 et 100" in text
    assert '<option value="craft" selected>' in text  # the good filter is kept
    en = unescape(_get(world, "/tableau-de-bord?band=huge&lang=en").text)  # type: ignore[attr-defined]
    assert "band: 'huge' is not a known size band" in en


# --- figures --------------------------------------------------------------------------------


def test_building_and_land_per_commune_are_the_databases_sums_never_added(world: World) -> None:
    html = _get(world, "/tableau-de-bord").text  # type: ignore[attr-defined]
    rows = _cells(html, "balance")
    expected: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0, 0.0])
    for commune, kind, surface in _sql(
        world.db,
        "SELECT commune_insee, kind, surface_m2 FROM premises WHERE status = 'available'",
    ):
        e = expected[str(commune or "")]
        land = kind == "land"
        e[2 if land else 0] += 1
        e[3 if land else 1] += float(surface)  # type: ignore[arg-type]
    assert any(e[3] > 0 for e in expected.values()), "the demo has land on offer"
    for commune, (n_build, build_m2, n_land, land_m2) in expected.items():
        got = rows[commune]
        assert got[0] == n_build and got[2] == n_land, commune
        assert got[1] == pytest.approx(build_m2) and got[3] == pytest.approx(land_m2), commune
    # A commune with both: the page shows two figures, and neither is their sum.
    both = [c for c, e in expected.items() if e[1] > 0 and e[3] > 0]
    assert both
    for commune in both:
        values = rows[commune]
        assert expected[commune][1] + expected[commune][3] not in values
    total = rows["total"]
    assert total[1] == pytest.approx(sum(e[1] for e in expected.values()))
    assert total[3] == pytest.approx(sum(e[3] for e in expected.values()))
    # The key figures beside the map say the same, apart.
    assert f'id="total-building" data-value="{total[1]}"' in html
    assert f'id="total-land" data-value="{total[3]}"' in html


def test_surface_by_kind_and_median_rent_follow_the_filters(world: World) -> None:
    band = "400-1000"
    lo, hi = next((lo, hi) for v, lo, hi in BANDS if v == band)
    html = _get(world, f"/tableau-de-bord?kind=workshop&band={band}").text  # type: ignore[attr-defined]
    rows = _cells(html, "by-kind")
    found = _sql(
        world.db,
        "SELECT commune_insee, surface_m2, rent_eur_m2_year FROM premises WHERE status = "
        "'available' AND kind = 'workshop' AND surface_m2 >= ? AND surface_m2 <= ?",
        lo,
        hi,
    )
    assert found
    sums: dict[str, float] = defaultdict(float)
    rents: dict[str, list[float]] = defaultdict(list)
    for commune, surface, rent in found:
        sums[str(commune)] += float(surface)  # type: ignore[arg-type]
        if rent is not None:
            rents[str(commune)].append(float(rent))  # type: ignore[arg-type]
    assert set(rows) - {"total"} == set(sums)
    for commune, m2 in sums.items():
        # One kind shown (workshops), then the buildings' total: the same number.
        assert rows[commune] == [pytest.approx(m2), pytest.approx(m2)]
    import statistics

    rent_rows = _cells(html, "rent")
    for commune, values in rents.items():
        assert rent_rows[commune][0] == pytest.approx(statistics.median(values), abs=0.5)
    # The downloads hold the same listings: the export and OGC links carry the filters.
    links = re.findall(r'href="(/(?:exports|collections)/premises[^"]*)"', html)
    assert len(links) >= 3
    for link in links:
        q = parse_qs(urlsplit(unescape(link)).query)
        assert q["kind"] == ["workshop"] and q["status"] == ["available"]
        assert q["min_surface_m2"] == ["400"] and q["max_surface_m2"] == ["1000"]
    formats = {parse_qs(urlsplit(unescape(u)).query).get("format", [""])[0] for u in links}
    assert {"csv", "geojson"} <= formats


def test_the_ogc_link_lists_what_the_figures_count(world: World) -> None:
    html = _get(world, "/tableau-de-bord?kind=warehouse").text  # type: ignore[attr-defined]
    link = unescape(re.search(r'href="(/collections/premises/items\?f=json[^"]*)"', html).group(1))  # type: ignore[union-attr]
    items = _get(world, link).json()  # type: ignore[attr-defined]
    total = sum(f["properties"]["surface_m2"] for f in items["features"])
    assert items["numberMatched"] == len(items["features"]) > 0
    assert total == pytest.approx(_cells(html, "by-kind")["total"][-1])


def test_listings_to_confirm_are_counted_as_the_freshness_rules_say(world: World) -> None:
    html = _get(world, "/tableau-de-bord").text  # type: ignore[attr-defined]
    now = world.client.app.state.clock()  # type: ignore[attr-defined]
    rules = world.client.app.state.settings.freshness  # type: ignore[attr-defined]
    rows = _sql(
        world.db,
        "SELECT commune_insee, last_verified_at FROM premises "
        "WHERE status IN ('available', 'under_offer')",
    )
    from datetime import datetime

    def before(at: object, limit: datetime) -> bool:
        return (
            at is not None and datetime.fromisoformat(str(at)).replace(tzinfo=limit.tzinfo) < limit
        )

    flag, hide = flagged_before(now, rules.flag_days), hidden_before(now, rules.hide_days)
    flagged = sum(before(at, flag) for _, at in rows)
    hidden = sum(before(at, hide) for _, at in rows)
    assert 0 < hidden < flagged < len(rows)
    assert _cells(html, "stale")["total"] == [len(rows), flagged, hidden]
    assert f'id="total-flagged" data-value="{float(flagged)}"' in html


def _each_needs_own_share(world: World, use: str, threshold: float) -> tuple[int, int]:
    """(needs for ``use`` whose own match reaches ``threshold``, all such needs)."""
    app = world.client.app  # type: ignore[attr-defined]
    index = app.state.match_index.current()
    now = app.state.clock()
    from geodata.storage import needs as needs_store

    with app.state.repo.connect() as conn:
        active = [n for n in needs_store.all_needs(conn, active=True) if use in n.uses]
    since = hidden_before(now, app.state.settings.freshness.hide_days)
    good = 0
    for need in active:
        found = match(index, need, k=1, verified_since=since, now=now)
        good += bool(found.results) and found.results[0].score >= threshold
    return good, len(active)


def _share(html: str) -> float:
    return float(re.search(r'id="good-share" data-value="([^"]*)"', html).group(1))  # type: ignore[union-attr]


def test_the_share_of_good_matches_is_each_needs_own_match(world: World) -> None:
    """The page's count (batch engine) equals matching each need on its own."""
    html = _get(world, "/tableau-de-bord?use=craft&threshold=60").text  # type: ignore[attr-defined]
    good, n = _each_needs_own_share(world, "craft", 60)
    summary = unescape(html.split('id="summary"', 1)[1].split("</table>", 1)[0])
    assert "≥ 60" in summary
    assert _share(html) == pytest.approx(good / n)
    assert 0 < good < n


def test_user_text_reaches_the_map_only_as_escaped_data(world: World) -> None:
    html = _get(world, "/tableau-de-bord?use=craft").text  # type: ignore[attr-defined]
    assert "<img src=x" not in html
    # The unmet need's company name is in the map's data, escaped for the script.
    assert "\\u003cimg src=x onerror=alert(1)\\u003e" in html


def test_a_new_listing_shows_at_the_next_view(world: World) -> None:
    """The figures are kept per catalogue version: a write is counted at once, as land."""
    territory = world.client.app.state.territory  # type: ignore[attr-defined]
    hall = next(p for p in territory.layer("communes").properties if p["insee"] == "94081")
    before = _cells(_get(world, "/tableau-de-bord").text, "balance")["94081"]  # type: ignore[attr-defined]
    created = world.client.post(
        "/premises",
        headers={"Authorization": f"Bearer {world.keys['staff']}"},
        json={
            "title": "Terrain Démo du tableau de bord",
            "kind": "land",
            "surface_m2": 12_345,
            "tenure": "sale",
            "sale_price_eur": 1_500_000,
            "lon": hall["town_hall_lon"] + 0.001,
            "lat": hall["town_hall_lat"] + 0.001,
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["commune_insee"] == "94081"
    after = _cells(_get(world, "/tableau-de-bord").text, "balance")["94081"]  # type: ignore[attr-defined]
    assert after[0:2] == before[0:2]  # buildings unchanged
    assert after[2] == before[2] + 1  # type: ignore[operator]
    assert after[3] == pytest.approx(before[3] + 12_345)  # type: ignore[operator]


def test_a_write_updates_unmet_demand_without_matching_every_need_again(world: World) -> None:
    """After a write, the best scores are brought up to date from the changed listing (not
    every need matched again), and the figures are those of matching each need anew."""
    path = "/tableau-de-bord?use=craft"
    before = _get(world, path).text  # type: ignore[attr-defined]
    cache = world.client.app.state.dashboard_cache  # type: ignore[attr-defined]
    full = cache.best.full_runs
    territory = world.client.app.state.territory  # type: ignore[attr-defined]
    hall = next(p for p in territory.layer("communes").properties if p["insee"] == "94081")
    # The hostile need (90,000–95,000 m² for craft in Vitry-sur-Seine) had no match.
    created = world.client.post(
        "/premises",
        headers={"Authorization": f"Bearer {world.keys['staff']}"},
        json={
            "title": "Grande halle artisanale Démo",
            "kind": "industrial_building",
            "uses": ["craft"],
            "surface_m2": 92_000,
            "tenure": "both",
            "rent_eur_m2_year": 40,
            "sale_price_eur": 50_000_000,
            "lon": hall["town_hall_lon"] - 0.002,
            "lat": hall["town_hall_lat"] + 0.001,
        },
    )
    assert created.status_code == 201, created.text
    after = _get(world, path).text  # type: ignore[attr-defined]
    assert cache.best.full_runs == full and cache.best.partial_runs >= 1
    good, n = _each_needs_own_share(world, "craft", 50)
    assert _share(after) == pytest.approx(good / n)
    assert _share(after) > _share(before)
    unmet = _cells(before, "balance")["94081"][5], _cells(after, "balance")["94081"][5]
    assert unmet[1] == unmet[0] - 1  # type: ignore[operator]
    # Its company was on the unmet-demand layer, and is no longer.
    assert "\\u003cimg src=x" in before and "\\u003cimg src=x" not in after


def test_an_empty_catalogue_shows_an_empty_dashboard(tmp_path: Path) -> None:
    with TestClient(create_app(make_settings(tmp_path / "empty.db", demo=False))) as client:
        with client.app.state.repo.begin() as conn:  # type: ignore[attr-defined]
            account = accounts.create_account(
                conn, name="equipe-vide", email="vide@exemple.invalid", role="staff"
            )
            key = issue_key(conn, account.id).key
        r = client.get("/tableau-de-bord", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 200
    assert "Rien à montrer avec ces filtres." in r.text
    assert "Aucun besoin actif avec ces filtres." in unescape(r.text)


def _staff_key(client: TestClient, name: str) -> str:
    with client.app.state.repo.begin() as conn:  # type: ignore[attr-defined]
        account = accounts.create_account(
            conn, name=name, email=f"{name}@exemple.invalid", role="staff"
        )
        return issue_key(conn, account.id).key


@pytest.mark.postgis
def test_postgis_gives_the_same_figures_as_sqlite(pg_scratch: Any, client: TestClient) -> None:
    """The same demo (same seed, same day) on PostGIS: the same tables, cell for cell."""
    key = _staff_key(client, "equipe-sqlite")
    on_sqlite = client.get("/tableau-de-bord", headers={"Authorization": f"Bearer {key}"}).text
    with pg_scratch() as url:
        settings = make_settings(Path("unused.db"))
        settings.database.url = url
        with TestClient(create_app(settings)) as pg:
            assert pg.get("/health").json()["database"] == "postgresql"
            pg_key = _staff_key(pg, "equipe-postgis")
            on_pg = pg.get("/tableau-de-bord", headers={"Authorization": f"Bearer {pg_key}"}).text
    for table in ("balance", "by-kind", "rent", "stale", "unmet"):
        assert _cells(on_pg, table) == _cells(on_sqlite, table), table
    share = r'id="good-share" data-value="([^"]*)"'
    assert re.search(share, on_pg).group(1) == re.search(share, on_sqlite).group(1)  # type: ignore[union-attr]
