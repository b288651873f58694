"""Benchmark the staff dashboard (``GET /tableau-de-bord``) on demo catalogues of growing size.

For each size (listings, needs) it loads the demo generator's catalogue into a new SQLite
file, starts the app (its lifespan builds the match index) and, signed in as staff with an
API key, times in process (``TestClient``, no network):

- *cold*: the first view of the day, which runs the batch engine over every active need
  (their best scores) and the figures, then draws the map;
- *warm*: the same view again (figures kept per catalogue version, needs table and day;
  the map and the tables are drawn again);
- *filtered*: a view with new filters (``use=craft``: figures computed, best scores kept);
- *after a write*: the first view after a staff edit of one listing (the catalogue moved:
  the listings' part of the figures, that listing's scores against every need, the map);

and the size of the page (HTML with the map's GeoJSON). The figures go to the
``dashboard`` section of ``bench/RESULTS.md``.

Run::

    python -m bench.bench_dashboard
    python -m bench.bench_dashboard --sizes 360:180 10000:2000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from api.auth import issue_key
from api.main import create_app
from api.settings import Settings
from bench.results import machine, write_section
from geodata.demo import load_demo
from geodata.storage import Repository, accounts
from geodata.territory import default_territory

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"


def measure(n_premises: int, n_needs: int, folder: Path) -> dict[str, float]:
    """Times (s) and page size (bytes) of the dashboard on one demo catalogue."""
    db = folder / f"dashboard-{n_premises}-{n_needs}.db"
    repo = Repository(f"sqlite:///{db}")
    repo.migrate()
    load_demo(repo, territory=default_territory(), n_premises=n_premises, n_needs=n_needs)
    with repo.begin() as conn:
        staff = accounts.create_account(
            conn, name="bench-staff", email="bench-staff@exemple.invalid", role="staff"
        )
        key = issue_key(conn, staff.id).key
    repo.dispose()
    settings = Settings()
    settings.database.url = f"sqlite:///{db}"
    settings.api.demo_on_first_run = False
    settings.delivery.in_app = False
    headers = {"Authorization": f"Bearer {key}"}
    out: dict[str, float] = {}
    with TestClient(create_app(settings)) as client:
        client.get("/tableau-de-bord?use=production", headers=headers)  # imports, warm-up
        client.app.state.dashboard_cache = None  # type: ignore[attr-defined]
        for name, path in (
            ("cold", "/tableau-de-bord"),
            ("warm", "/tableau-de-bord"),
            ("filtered", "/tableau-de-bord?use=craft"),
        ):
            start = time.perf_counter()
            response = client.get(path, headers=headers)
            out[name] = time.perf_counter() - start
            assert response.status_code == 200, response.text[:200]
            if name == "cold":
                out["bytes"] = len(response.content)
        # A staff edit of one listing, then the same view: its first view after a write.
        listing = client.get("/premises?limit=1&status=available", headers=headers).json()
        listing_id = listing["items"][0]["id"]
        etag = client.get(f"/premises/{listing_id}", headers=headers).headers["etag"]
        edited = client.patch(
            f"/premises/{listing_id}",
            headers={**headers, "If-Match": etag},
            json={"surface_m2": listing["items"][0]["surface_m2"] + 10},
        )
        assert edited.status_code == 200, edited.text[:200]
        start = time.perf_counter()
        response = client.get("/tableau-de-bord", headers=headers)
        out["write"] = time.perf_counter() - start
        assert response.status_code == 200, response.text[:200]
    return out


def write_results(section: str, path: Path = RESULTS, *, baseline: bool = False) -> None:
    """Replace (or add) the dashboard section (or its baseline) of RESULTS.md, keeping the
    others."""
    write_section("dashboard-baseline" if baseline else "dashboard", section, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "--sizes",
        nargs="+",
        default=["360:180", "10000:2000"],
        help="listings:needs of each demo catalogue",
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not edit RESULTS.md")
    parser.add_argument(
        "--baseline",
        metavar="REVISION",
        help="the code measured is an earlier revision: write its figures to the baseline "
        "section (kept when the current code's are written again)",
    )
    args = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M")
    env = machine()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            n_premises, n_needs = (int(v) for v in size.split(":"))
            r = measure(n_premises, n_needs, Path(tmp))
            rows.append(
                f"| {n_premises:,} | {n_needs:,} | {r['cold']:.2f} s | {r['warm']:.2f} s | "
                f"{r['filtered']:.2f} s | {r['write']:.2f} s | {r['bytes'] / 1e6:.2f} MB |"
            )
            print(rows[-1], flush=True)
    heading = "## Staff dashboard — issue 10 §3"
    if args.baseline:
        heading = f"### Staff dashboard, baseline: the code of {args.baseline}"
    section = "\n".join(
        [
            heading,
            "",
            f"Command: `python -m bench.bench_dashboard --sizes {' '.join(args.sizes)}`. "
            f"Produced by `bench/bench_dashboard.py` on {started}.",
            "",
            f"Machine: {env}.",
            "",
            "`GET /tableau-de-bord` in process (TestClient), signed in as staff, on the demo "
            "generator's catalogue. *Cold*: the day's first view (the batch engine over every "
            "active need for their best scores, the figures, the map); *warm*: the same view "
            "again (figures kept; map and tables drawn again); *filtered*: new filters "
            "(`use=craft`, best scores kept); *after a write*: the first view after a staff "
            "edit of one listing (the catalogue moved). Page: the HTML with its map's GeoJSON "
            "(the supply layer carries every available listing, drawn on a canvas above "
            "1,500). The baseline section below, when there is one, is the same benchmark run "
            "on the code before the figures were kept per part and the best scores brought up "
            "to date from what a write changed (`--baseline REVISION`).",
            "",
            "| listings | needs | cold | warm | filtered | after a write | page |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            *rows,
        ]
    )
    if args.no_write:
        print(section)
    else:
        write_results(section, baseline=bool(args.baseline))


if __name__ == "__main__":
    main()
