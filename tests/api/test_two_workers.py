"""``implanter serve --workers 2`` on PostGIS: a write is matched by every worker at once.

The listing is written straight into the database through the storage layer, as another
worker or an import would; each worker must match it at its next request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from geodata.storage import Repository
from tests.api.live_uvicorn import free_port
from tests.geodata.test_storage import RUNGIS, make_premises

pytestmark = pytest.mark.postgis

ROOT = Path(__file__).resolve().parents[2]
NEED = {"surface_min_m2": 70000, "surface_max_m2": 80000, "communes": ["94065"]}


def _call(url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """One request on a new connection (so that the kernel may hand it to either worker)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        result: dict[str, Any] = json.loads(response.read())
        return result


def _spread(url: str, n: int, body: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """``n`` requests, eight at a time: a busy worker leaves the next one to the other."""
    with ThreadPoolExecutor(8) as pool:
        return list(pool.map(lambda _: _call(url, body), range(n)))


@pytest.fixture
def server(pg_scratch: Any, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """``implanter serve --workers 2`` on a scratch PostGIS database with the demo catalogue."""
    log = tmp_path / "serve.log"
    with pg_scratch() as db_url, log.open("wb") as stderr:
        port = free_port()
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        env.pop("IMPLANTER_DATABASE__URL", None)
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api.cli",
                "serve",
                "--workers",
                "2",
                "--port",
                str(port),
                "--database-url",
                db_url,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    _call(f"{base}/health")
                    break
                except (urllib.error.URLError, ConnectionError):
                    if process.poll() is not None or time.monotonic() > deadline:
                        err = log.read_text(errors="replace")
                        pytest.fail(f"implanter serve did not start:\n{err[-3000:]}")
                    time.sleep(0.2)
            yield base, db_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def _pids(base: str, at_least: int = 2) -> dict[int, dict[str, Any]]:
    """The health of each worker, by process id (bounded number of tries)."""
    seen: dict[int, dict[str, Any]] = {}
    for _ in range(25):
        for health in _spread(f"{base}/health", 16):
            seen[health["worker_pid"]] = health
        if len(seen) >= at_least:
            break
    return seen


def test_a_listing_written_to_the_database_is_matched_by_every_worker(
    server: tuple[str, str],
) -> None:
    base, db_url = server
    workers = _pids(base)
    assert len(workers) == 2, f"only reached workers {sorted(workers)}"
    assert all(_call(f"{base}/match", NEED)["results"] == [] for _ in range(4))
    before = {pid: h["index_version"] for pid, h in _pids(base).items()}

    repo = Repository(db_url)
    try:
        item = repo.add_premises(make_premises(RUNGIS, surface_m2=75000.0), actor="t")
        version = repo.catalogue_version()
    finally:
        repo.dispose()

    # Every match after the write, whichever worker answers, has the new listing.
    refreshed: dict[int, int] = {}
    for _ in range(20):
        for body in _spread(f"{base}/match", 16, NEED):
            assert [r["premises"]["id"] for r in body["results"]] == [item.id]
            assert body["catalogue_version"] >= version
        # /health does not refresh the index: a worker at the new version got there by
        # answering one of the matches above.
        refreshed = {pid: h["index_version"] for pid, h in _pids(base).items()}
        if len(refreshed) == 2 and all(v >= version for v in refreshed.values()):
            break
    assert refreshed.keys() == before.keys()
    assert all(before[pid] < version <= refreshed[pid] for pid in before), (before, refreshed)
