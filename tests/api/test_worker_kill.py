"""``implanter worker`` killed with SIGKILL mid-delivery loses nothing and records it once.

The worker runs as a real subprocess on a SQLite file and on PostGIS; the webhook receiver
holds the first request open, the worker is killed while it waits for the answer, then
restarted. Delivery is at least once: the receiver may see the notification twice, always
with the same ``X-Implanter-Delivery`` id, and the database records it delivered once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import pytest
import sqlalchemy as sa

from api.alerts import notify_listing_write
from api.delivery import DELIVERY_HEADER, SIGNATURE_HEADER, verify
from api.matching import build_index
from geodata.schemas import NeedIn, PremisesCreate
from geodata.storage import Repository, needs, outbox, premises
from geodata.storage._tables import notifications
from geodata.territory import default_territory
from tests.api.webhook_receiver import webhook_receiver
from tests.conftest import BACKENDS, scratch_database

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec_kill_test"


def _worker(url: str, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        # The killed attempt's lease ends 8 s + 1 s + 0.2 s after its claim: long enough for
        # the kill to land before the attempt would time out, short enough for the restart.
        "IMPLANTER_DELIVERY__TIMEOUT_SECONDS": "8",
        "IMPLANTER_DELIVERY__BACKOFF_BASE_SECONDS": "0.2",
        "IMPLANTER_DELIVERY__POLL_SECONDS": "0.1",
        "IMPLANTER_DELIVERY__ALLOW_PRIVATE_NETWORKS": "true",  # the receiver is on loopback
    }
    env.pop("IMPLANTER_DATABASE__URL", None)
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "api.cli", "worker", "--database-url", url, *extra],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _row(repo: Repository, notification_id: int) -> outbox.Notification:
    with repo.connect() as conn:
        return outbox.get_notification(conn, notification_id)


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_worker_killed_mid_delivery_delivers_once_after_restart(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    database: AbstractContextManager[str]
    if backend == "sqlite":
        database = nullcontext(f"sqlite:///{tmp_path / 'implanter.db'}")
    else:
        database = scratch_database(request.getfixturevalue("pg_admin_url"))
    log = tmp_path / "worker.log"
    with database as url, webhook_receiver() as receiver:
        receiver.mode = "hold_first"
        repo = Repository(url)
        repo.migrate()
        territory = default_territory()
        reference = build_index(repo, territory)
        listing = PremisesCreate.model_validate(
            {
                "title": "Atelier",
                "kind": "workshop",
                "uses": ["craft"],
                "surface_m2": 450,
                "tenure": "rent",
                "rent_eur_m2_year": 110,
                "lon": 2.3920,
                "lat": 48.7870,
                "owner_account": "sci-orly",
            },
            context={"territory": territory},
        )
        need = NeedIn(
            company_name="PME",
            owner_account="pme",
            surface_min_m2=300,
            surface_max_m2=600,
            uses=["craft"],
        )
        with repo.begin() as conn:
            outbox.set_webhook(conn, "pme", receiver.url, SECRET)
            needs.add_many_needs(conn, [need], actor="pme")
            stored = premises.add_many_premises(conn, [listing], actor="sci-orly")[0]
            [note] = notify_listing_write(conn, None, stored, reference=reference)

        first = _worker(url, log)
        try:
            assert receiver.first_arrived.wait(120), log.read_text(errors="replace")
            first.send_signal(signal.SIGKILL)  # mid-delivery: the receiver has not answered
            first.wait(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
        assert first.returncode == -signal.SIGKILL
        killed = _row(repo, note.id)
        # Claimed (one attempt counted), nothing recorded: not delivered, no error.
        assert (killed.attempts, killed.delivered_at, killed.last_error) == (1, None, None)
        receiver.release.set()

        second = _worker(url, log)
        try:
            deadline = time.monotonic() + 120
            while _row(repo, note.id).delivered_at is None:
                assert second.poll() is None, log.read_text(errors="replace")
                assert time.monotonic() < deadline, log.read_text(errors="replace")
                time.sleep(0.1)
        finally:
            second.terminate()  # SIGTERM: the worker finishes its pass and exits
            second.wait(timeout=30)
        assert second.returncode == 0, log.read_text(errors="replace")

        done = _row(repo, note.id)
        assert done.delivery == "delivered" and done.attempts == 2
        with repo.connect() as conn:
            assert (
                conn.execute(sa.select(sa.func.count()).select_from(notifications)).scalar_one()
                == 1
            )
        # At least once: the killed attempt reached the receiver too, with the same id.
        assert len(receiver.received) == 2
        assert {r.headers[DELIVERY_HEADER] for r in receiver.received} == {str(note.id)}
        assert receiver.received[0].body == receiver.received[1].body
        assert all(verify(SECRET, r.headers[SIGNATURE_HEADER], r.body) for r in receiver.received)

        # Nothing left to deliver: another pass sends nothing.
        again = _worker(url, log, "--once")
        assert again.wait(timeout=120) == 0
        assert len(receiver.received) == 2
        assert "0 livrées / delivered" in log.read_text(errors="replace")
        repo.dispose()
