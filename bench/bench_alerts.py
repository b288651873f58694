"""Benchmark the saved-search alerts: their cost in a listing write and in an import, and
webhook delivery.

On a SQLite file holding the demo catalogue and ``n`` saved needs (demo needs given owner
accounts), it measures, inside the write transaction of a listing:

- the alerts of one write with the saved searches already compiled (the common case),
- the first write after a need changed (the saved searches are read and compiled again);

inside the transaction of an import of ``N`` new listings (other demo listings, written
by reference as ``implanter import`` writes them; rolled back after the measure):

- the write of the listings themselves, for scale,
- the scoring of the listings against every saved need (:func:`api.alerts.newly_fitting`),
- the whole alerts (the listings read as columns, scored, and every notification written),
- for imports of at most 1,000 listings, the former path: one single-write alert per listing;

and then delivers ``--deliveries`` notifications to a webhook receiver on a loopback port
with one deliverer, to give deliveries per second. Figures go to ``bench/RESULTS.md``.

Run::

    python -m bench.bench_alerts        # writes: 180, 2 000, 10 000 needs; imports: 1 000 and
                                        # 10 000 listings against 180 and 2 000 needs
    python -m bench.bench_alerts --needs 180 --imports 1000 --import-needs 180 --results -
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import sqlalchemy as sa

from api.alerts import (
    STATE_COLUMNS,
    TerritoryAccess,
    newly_fitting,
    notify_import,
    notify_listing_write,
    saved_search_table,
)
from api.delivery import deliver_due
from api.matching import build_index
from api.settings import DeliverySettings
from bench.results import RESULTS, machine, write_section
from geodata.demo import demo_needs, demo_premises, load_demo
from geodata.storage import Repository, catalogue, needs, outbox
from geodata.storage import premises as store
from geodata.storage._tables import needs as needs_table
from geodata.storage.outbox import NewNotification
from geodata.territory import default_territory

REPEAT = 7
#: At most this many listings, an import is also measured the former way (one alert each).
ONE_BY_ONE = 1000


def _ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:.1f} ms"


def _save_needs(repo: Repository, n_needs: int) -> None:
    """Replace the saved needs by ``n_needs`` demo needs, owned by 50 companies."""
    territory = default_territory()
    with repo.begin() as conn:
        conn.execute(sa.delete(needs_table))
        items = [
            need.model_copy(update={"owner_account": f"pme-{i % 50}"})
            for i, need in enumerate(demo_needs(7, n_needs, territory=territory))
        ]
        needs.add_many_needs(conn, items, actor="bench")


def _write_costs(repo: Repository, n_needs: int) -> tuple[str, str, int]:
    """Median alerts cost of a write with compiled saved searches, and after a need change."""
    territory = default_territory()
    _save_needs(repo, n_needs)
    reference = build_index(repo, territory)
    listing = repo.get_premises(5)
    warm, cold = [], []
    hits = 0
    for _ in range(REPEAT):
        with repo.begin() as conn:  # a need changes: the next write compiles them again
            conn.execute(
                sa.update(needs_table).values(
                    version=needs_table.c.version + 1, updated_at=datetime.now(UTC)
                )
            )
        with repo.begin() as conn:
            start = time.perf_counter()
            hits = len(notify_listing_write(conn, None, listing, reference=reference))
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            notify_listing_write(conn, None, listing, reference=reference)
            warm.append(time.perf_counter() - start)
            conn.rollback()  # the notifications of the measure are not kept
    return _ms(warm), _ms(cold), hits


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s"


def _import_costs(repo: Repository, n_needs: int, n_listings: int) -> str:
    """One row of the import table: the costs of an import of ``n_listings`` new listings
    with ``n_needs`` saved needs, each measured in a transaction rolled back afterwards."""
    territory = default_territory()
    _save_needs(repo, n_needs)
    access = TerritoryAccess.of(territory)
    items = [
        p.model_copy(update={"external_ref": f"BENCH-{i}"})
        for i, p in enumerate(demo_premises(11, n_listings, territory=territory))
    ]
    with repo.connect() as conn:
        saved_search_table(conn)  # compiled once, as in a running app
    with repo.begin() as conn:
        start = time.perf_counter()
        result = store.upsert_premises_by_ref(conn, items, actor="bench")
        write = time.perf_counter() - start
        written = [*result.created, *result.updated]
        start = time.perf_counter()
        after = catalogue.premises_columns(conn, STATE_COLUMNS, ids=written)
        _, table, thresholds = saved_search_table(conn)
        fits = newly_fitting(access, after, None, table, thresholds)
        scoring = time.perf_counter() - start
        start = time.perf_counter()
        notified = notify_import(conn, None, written, reference=access)
        alerts = time.perf_counter() - start
        conn.rollback()
    assert notified == len(fits)
    former = "—"
    if n_listings <= ONE_BY_ONE:
        with repo.begin() as conn:
            result = store.upsert_premises_by_ref(conn, items, actor="bench")
            models = catalogue.premises_by_ids(conn, [*result.created, *result.updated])
            start = time.perf_counter()
            for listing in models.values():
                notify_listing_write(conn, None, listing, reference=access)
            former = _s(time.perf_counter() - start)
            conn.rollback()
    return (
        f"| {n_listings:,} | {n_needs:,} | {notified:,} | {_s(write)} | {_s(scoring)} | "
        f"{_s(alerts)} | {former} |"
    )


def _deliveries_per_second(repo: Repository, n: int) -> float:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with repo.begin() as conn:
            outbox.set_webhook(
                conn, "pme-bench", f"http://127.0.0.1:{server.server_port}/", "whsec_bench"
            )
            outbox.add_notifications(
                conn,
                [
                    NewNotification(recipient="pme-bench", kind="match", payload={"i": i})
                    for i in range(n)
                ],
            )
        # The receiver listens on loopback, which deliveries refuse unless allowed.
        settings = DeliverySettings(batch_size=n, allow_private_networks=True)
        start = time.perf_counter()
        done = deliver_due(repo, settings).delivered
        elapsed = time.perf_counter() - start
    finally:
        server.shutdown()
        server.server_close()
    return done / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--needs", type=int, nargs="+", default=[180, 2000, 10_000])
    parser.add_argument("--imports", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--import-needs", type=int, nargs="+", default=[180, 2000])
    parser.add_argument("--deliveries", type=int, default=200)
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="Markdown file to update ('-': print)"
    )
    args = parser.parse_args(argv)
    load_start = os.getloadavg()[0]
    folder = tempfile.mkdtemp()
    repo = Repository(f"sqlite:///{folder}/bench.db")
    repo.migrate()
    load_demo(repo, territory=default_territory(), seed=2018)
    rows = []
    for n in args.needs:
        warm, cold, hits = _write_costs(repo, n)
        rows.append(f"| {n:,} | {hits:,} | {warm} | {cold} |")
        print(rows[-1], flush=True)
    imports = []
    for n_listings in args.imports:
        for n_needs in args.import_needs:
            imports.append(_import_costs(repo, n_needs, n_listings))
            print(imports[-1], flush=True)
    rate = _deliveries_per_second(repo, args.deliveries)
    print(f"{rate:.0f} deliveries/s", flush=True)
    repo.dispose()
    load_end = os.getloadavg()[0]
    busy = max(load_start, load_end) > 1.0
    section = "\n".join(
        [
            "## Alerts — issue 8, saved searches",
            "",
            f"Command: `{' '.join(['python -m bench.bench_alerts', *(argv or sys.argv[1:])])}`. "
            "Produced by `bench/bench_alerts.py` on "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M}.",
            "",
            f"Machine: {machine(load=False)}; load average (1 min) at start "
            f"{load_start:.2f}, at the end {load_end:.2f}"
            + (
                " (**a loaded machine**, other work was running: read the figures as upper bounds)."
                if busy
                else "."
            ),
            "",
            "Cost of the alerts inside one listing write (SQLite, demo catalogue, the listing "
            f"scored against every saved need at once; median of {REPEAT}), with the "
            "saved searches compiled already, and on the first write after a need changed "
            "(read and compiled again). *Notified* is how many saved needs the listing newly "
            "fits, each a notification written in the transaction.",
            "",
            "| saved needs | notified | alerts of a write | first write after a need change |",
            "|---:|---:|---:|---:|",
            *rows,
            "",
            "Cost of the alerts inside an import of new listings (other demo listings, "
            "written by reference as `implanter import` writes them; one run each, rolled "
            "back). *Write* is the import's own write of the listings, for scale; *scoring* "
            "reads the written listings as columns and scores each saved need against all "
            "of them at once; *alerts* is all of it with the notifications written (one per "
            "need and newly fitting listing, *notified*). *One by one* is the former path "
            "on the same import, one single-write alert per listing (only up to "
            f"{ONE_BY_ONE:,} listings).",
            "",
            "| listings | saved needs | notified | write | scoring | alerts | one by one |",
            "|---:|---:|---:|---:|---:|---:|---:|",
            *imports,
            "",
            f"Webhook delivery, one deliverer, loopback receiver answering 204: "
            f"**{rate:.0f} deliveries/s** ({args.deliveries} notifications; each is a claim "
            "transaction, a signed POST and an outcome transaction).",
        ]
    )
    if str(args.results) == "-":
        print(section)
    else:
        write_section("alerts", section, args.results)


if __name__ == "__main__":
    main()
