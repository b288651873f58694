"""Benchmark the saved-search alerts: their cost in a listing write, and webhook delivery.

On a SQLite file holding the demo catalogue and ``n`` saved needs (demo needs given owner
accounts), it measures, inside the write transaction of a listing:

- the alerts of one write with the saved searches already compiled (the common case),
- the first write after a need changed (the saved searches are read and compiled again),

and then delivers ``--deliveries`` notifications to a webhook receiver on a loopback port
with one deliverer, to give deliveries per second. Figures go to ``bench/RESULTS.md``.

Run::

    python -m bench.bench_alerts                       # 180, 2 000 and 10 000 saved needs
    python -m bench.bench_alerts --needs 180 --deliveries 50
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import sqlalchemy as sa

from api.alerts import notify_listing_write
from api.delivery import deliver_due
from api.matching import build_index
from api.settings import DeliverySettings
from geodata.demo import demo_needs, load_demo
from geodata.storage import Repository, needs, outbox
from geodata.storage._tables import needs as needs_table
from geodata.storage.outbox import NewNotification
from geodata.territory import default_territory

RESULTS = Path(__file__).with_name("RESULTS.md")
START, END = "<!-- alerts:start -->", "<!-- alerts:end -->"
REPEAT = 7


def _ms(seconds: list[float]) -> str:
    return f"{statistics.median(seconds) * 1000:.1f} ms"


def _write_costs(repo: Repository, n_needs: int) -> tuple[str, str, int]:
    """Median alerts cost of a write with compiled saved searches, and after a need change."""
    territory = default_territory()
    with repo.begin() as conn:
        conn.execute(sa.delete(needs_table))
        items = [
            need.model_copy(update={"owner_account": f"pme-{i % 50}"})
            for i, need in enumerate(demo_needs(7, n_needs, territory=territory))
        ]
        needs.add_many_needs(conn, items, actor="bench")
    reference = build_index(repo, territory)
    listing = repo.get_premises(5)
    warm, cold = [], []
    hits = 0
    for _ in range(REPEAT):
        with repo.begin() as conn:  # a need changes: the next write compiles them again
            conn.execute(sa.update(needs_table).values(updated_at=datetime.now(UTC)))
        with repo.begin() as conn:
            start = time.perf_counter()
            hits = len(notify_listing_write(conn, None, listing, reference=reference))
            cold.append(time.perf_counter() - start)
            start = time.perf_counter()
            notify_listing_write(conn, None, listing, reference=reference)
            warm.append(time.perf_counter() - start)
            conn.rollback()  # the notifications of the measure are not kept
    return _ms(warm), _ms(cold), hits


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
        settings = DeliverySettings(batch_size=n)
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
    parser.add_argument("--deliveries", type=int, default=200)
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
    rate = _deliveries_per_second(repo, args.deliveries)
    print(f"{rate:.0f} deliveries/s", flush=True)
    repo.dispose()
    section = "\n".join(
        [
            START,
            "## Alerts — issue 8, saved searches",
            "",
            f"Command: `{' '.join(['python -m bench.bench_alerts', *(argv or sys.argv[1:])])}`. "
            "Produced by `bench/bench_alerts.py` on "
            f"{datetime.now(UTC):%Y-%m-%d %H:%M}.",
            "",
            f"Machine: {platform.processor() or platform.machine()}; cores {os.cpu_count()}; "
            f"Python {platform.python_version()}; load average (1 min) at start "
            f"{load_start:.2f}, at the end {os.getloadavg()[0]:.2f} (other work was running: "
            "read the figures as upper bounds).",
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
            f"Webhook delivery, one deliverer, loopback receiver answering 204: "
            f"**{rate:.0f} deliveries/s** ({args.deliveries} notifications; each is a claim "
            "transaction, a signed POST and an outcome transaction).",
            END,
        ]
    )
    text = RESULTS.read_text(encoding="utf-8")
    if START in text:
        text = re.sub(re.escape(START) + ".*?" + re.escape(END), section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
