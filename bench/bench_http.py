"""Benchmark the HTTP API under a bounded load: ``implanter serve`` (uvicorn) on loopback.

The server runs as a user starts it, ``python -m api.cli serve`` (one worker by default,
``--workers 2`` as an option), on a copy of a SQLite catalogue: the demo (``implanter
demo``: 360 premises) and 100,000 synthetic premises (``bench/synth.py``, seed 42, the
databases of ``bench/bench_cli.py``, kept under ``bench/out/``). The load comes from this
process: ``--concurrency`` client threads (8 and 32 by default), each with one keep-alive
connection (``http.client``), send requests for ``--seconds`` per endpoint (a bounded run),
every endpoint of :data:`ENDPOINTS` measured in the same run, one after the other at each
concurrency, ``GET /health`` first (the framework's ceiling).

For each endpoint and concurrency the report gives requests/s, the p50 and p99 latency as
the client sees it, and the **server CPU time per request** (user + system of the server
process and its workers, read from ``/proc`` through psutil before and after): on a shared
machine the wall-clock figures move with the other processes' load, the CPU per request
much less.

Then, with ``--workers 2`` (``--freshness``, on by default), "a listing write is visible to
matching on another worker within one request": a staff API key is created with
``implanter accounts create --key``; two keep-alive connections are opened on two different
workers (``GET /health`` tells which ``worker_pid`` serves a connection); a listing no need
would otherwise rank first is created with ``POST /premises`` on the first connection, and
``POST /match`` is sent on the second until the new listing comes first. The report gives
how many ``/match`` requests that took (target: 1) over ``--trials`` trials.

Needs only the project's own dependencies (psutil, installed with the dev group, reads the
CPU times; the client is the standard library). Run::

    python -m bench.bench_http                         # demo and 100k, 1 worker; RESULTS.md
    python -m bench.bench_http --sizes 100000 --workers 2
    python -m bench.bench_http --sizes 0 --seconds 2 --results -   # quick, print only

Targets (issue 8): at 100,000 premises, ``POST /match`` and ``GET /premises?limit=50`` each
sustain at least half the requests/s of ``GET /health``; a write is matched by another
worker at its next request.

To add an endpoint, add one :class:`Endpoint` line to :data:`ENDPOINTS` (the path may name
``{need_id}``, a saved need of the catalogue; ``auth=True`` sends the staff key).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

from bench.bench_cli import NEED, OUT, RESULTS, demo_db, machine, synthetic_db
from bench.results import write_section

__all__ = ["ENDPOINTS", "Endpoint", "main"]

ROOT = Path(__file__).resolve().parents[1]
Log = Callable[[str], None]


@dataclass(frozen=True)
class Endpoint:
    """One request the load repeats: method, path (may name ``{need_id}``), JSON body."""

    label: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    auth: bool = False

    def request(self, context: dict[str, Any]) -> tuple[str, str, bytes | None]:
        body = None if self.body is None else json.dumps(self.body).encode()
        return self.method, self.path.format(**context), body


#: The endpoints measured, in this order, at each concurrency; ``GET /health`` first.
ENDPOINTS: tuple[Endpoint, ...] = (
    Endpoint("GET /health", "GET", "/health"),
    Endpoint("POST /match", "POST", "/match", body=NEED),
    Endpoint("GET /premises?limit=50", "GET", "/premises?limit=50"),
    Endpoint("GET /needs/{id}/matches", "GET", "/needs/{need_id}/matches?k=10", auth=True),
)

#: A listing no need of the benchmark asks for (75,000 m² in Rungis), and the need that
#: finds it first: the freshness check's write and probe.
FRESH_LISTING = {
    "title": "Entrepôt de mesure",
    "kind": "warehouse",
    "uses": ["logistics"],
    "surface_m2": 75_000,
    "tenure": "rent",
    "rent_eur_m2_year": 60,
    "lon": 2.3560,
    "lat": 48.7590,
}
FRESH_NEED = {"surface_min_m2": 70_000, "surface_max_m2": 80_000, "communes": ["94065"]}


# --- the server ----------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "api.cli", *args]


def staff_key(url: str, env: dict[str, str]) -> str:
    """A staff account with an API key (``implanter accounts create --key``); the key."""
    email = f"bench-{os.getpid()}-{time.monotonic_ns()}@bench.invalid"
    out = subprocess.run(
        _cli("accounts", "create", email, "--role", "staff", "--key", "-d", url),
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    for word in out.split():
        if word.startswith("imp_"):
            return word
    msg = f"no API key in the output of accounts create:\n{out}"
    raise RuntimeError(msg)


def saved_need(url: str, env: dict[str, str]) -> int:
    """The benchmark's need (the one ``POST /match`` sends) saved in the catalogue; its id.

    Through ``POST /needs`` of a one-off app process would cost a server start: the storage
    function is what that route calls.
    """
    code = (
        "import json, sys\n"
        "from geodata.schemas import NeedIn\n"
        "from geodata.storage import Repository\n"
        "from geodata.territory import default_territory\n"
        "need = NeedIn.model_validate({**json.loads(sys.argv[2]), 'company_name': 'Bench'},\n"
        "    context={'territory': default_territory()})\n"
        "print(Repository(sys.argv[1]).add_need(need, actor='bench').id)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, url, json.dumps(NEED)],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return int(out.split()[-1])


@dataclass
class Server:
    """``implanter serve`` in a subprocess, and the processes whose CPU time it uses."""

    process: subprocess.Popen[bytes]
    port: int
    workers: int
    procs: list[psutil.Process] = field(default_factory=list)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server and its workers, so far."""
        total = 0.0
        for p in self.procs:
            try:
                t = p.cpu_times()
            except psutil.NoSuchProcess:
                continue
            total += t.user + t.system
        return total


@contextmanager
def serve(url: str, workers: int, env: dict[str, str], log: Log) -> Iterator[Server]:
    """Start ``implanter serve`` on a free loopback port; wait until every worker answers."""
    port = _free_port()
    cmd = _cli("serve", "--port", str(port), "--workers", str(workers), "-d", url)
    with tempfile.TemporaryFile() as err:
        process = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err)
        server = Server(process, port, workers)
        try:
            t0 = time.perf_counter()
            pids: set[int] = set()
            while len(pids) < workers:
                if process.poll() is not None:
                    err.seek(0)
                    msg = f"the server exited with {process.returncode}:\n{err.read().decode()}"
                    raise RuntimeError(msg)
                if time.perf_counter() - t0 > 300:
                    msg = "the server did not answer within 300 s"
                    raise RuntimeError(msg)
                try:
                    pids.add(_get_json(port, "/health")["worker_pid"])
                except OSError:
                    time.sleep(0.2)
            top = psutil.Process(process.pid)
            server.procs = [top, *top.children(recursive=True)]
            log(f"server up in {time.perf_counter() - t0:.1f} s ({workers} worker(s))")
            yield server
        finally:
            process.terminate()
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _get_json(port: int, path: str, conn: http.client.HTTPConnection | None = None) -> Any:
    own = conn is None
    conn = conn or http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            msg = f"GET {path}: {response.status} {body[:300]!r}"
            raise RuntimeError(msg)
        return json.loads(body)
    finally:
        if own:
            conn.close()


# --- the load ------------------------------------------------------------------------------


@dataclass
class Cell:
    """One endpoint at one concurrency."""

    endpoint: str
    concurrency: int
    requests: int
    seconds: float
    latencies_ms: np.ndarray
    server_cpu_s: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_ms(self) -> float:
        return 1e3 * self.server_cpu_s / max(self.requests, 1)

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q)) if len(self.latencies_ms) else np.nan


def load(
    server: Server,
    endpoint: Endpoint,
    context: dict[str, Any],
    concurrency: int,
    seconds: float,
    warmup: float,
) -> Cell:
    """``concurrency`` keep-alive clients repeat the request for ``seconds`` (after a warm-up)."""
    method, path, body = endpoint.request(context)
    headers = {"Content-Type": "application/json", "Accept-Language": "fr"}
    if endpoint.auth:
        headers["Authorization"] = f"Bearer {context['key']}"
    phase = {"measure": False, "stop": False}
    lock = threading.Lock()
    latencies: list[float] = []
    errors = [0]
    start = threading.Barrier(concurrency + 1)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        mine: list[float] = []
        bad = 0
        start.wait()
        while not phase["stop"]:
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                ok = response.status < 400
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
                ok = False
            if phase["measure"] and not phase["stop"]:
                mine.append(time.perf_counter() - t0)
                bad += not ok
        conn.close()
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    threads = [threading.Thread(target=client, daemon=True) for _ in range(concurrency)]
    for t in threads:
        t.start()
    start.wait()
    time.sleep(warmup)
    cpu0, t0 = server.cpu_seconds(), time.perf_counter()
    phase["measure"] = True
    time.sleep(seconds)
    phase["stop"] = True
    elapsed, cpu1 = time.perf_counter() - t0, server.cpu_seconds()
    for t in threads:
        t.join()
    lat = np.asarray(latencies) * 1e3
    return Cell(endpoint.label, concurrency, len(lat), elapsed, lat, cpu1 - cpu0, errors[0])


def _two_workers(port: int) -> tuple[http.client.HTTPConnection, http.client.HTTPConnection]:
    """Two keep-alive connections served by two different workers (``worker_pid``)."""
    first = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    writer_pid = _get_json(port, "/health", first)["worker_pid"]
    for _ in range(200):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        if _get_json(port, "/health", conn)["worker_pid"] != writer_pid:
            return first, conn
        conn.close()
    msg = "could not open a connection on a second worker"
    raise RuntimeError(msg)


def freshness(server: Server, key: str, trials: int, log: Log) -> list[tuple[int, float]]:
    """Per trial: the ``/match`` requests until a new listing shows, and the first's ms."""
    auth = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    out: list[tuple[int, float]] = []
    for trial in range(trials):
        # Opened afresh each trial: an idle keep-alive connection is closed by the server.
        first, other = _two_workers(server.port)
        listing = {**FRESH_LISTING, "title": f"Entrepôt de mesure {trial}"}
        first.request("POST", "/premises", body=json.dumps(listing).encode(), headers=auth)
        response = first.getresponse()
        created = json.loads(response.read())
        if response.status != 201:
            msg = f"POST /premises: {response.status} {created}"
            raise RuntimeError(msg)
        tries, first_ms = 0, np.nan
        while tries < 50:
            tries += 1
            t0 = time.perf_counter()
            other.request("POST", "/match?k=1", body=json.dumps(FRESH_NEED).encode(), headers=auth)
            result = json.loads(other.getresponse().read())
            if tries == 1:
                first_ms = (time.perf_counter() - t0) * 1e3
            if result["results"] and result["results"][0]["premises"]["id"] == created["id"]:
                break
        out.append((tries, first_ms))
        first.close()
        other.close()
        # Withdraw it, so that the next trial's listing ranks first again.
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
        conn.request(
            "DELETE",
            f"/premises/{created['id']}",
            headers={**auth, "If-Match": f'"{created["version"]}"'},
        )
        conn.getresponse().read()
        conn.close()
    log(f"freshness: /match requests until visible on the other worker: {[t for t, _ in out]}")
    return out


# --- the run -------------------------------------------------------------------------------


@dataclass
class SizeRun:
    name: str
    n: int
    workers: int
    cells: list[Cell]
    fresh: list[tuple[int, float]] | None
    load_avg: tuple[float, float]


def run_size(n: int, args: argparse.Namespace, env: dict[str, str], log: Log) -> SizeRun:
    base = demo_db(env, False, log) if n == 0 else synthetic_db(n, env, False, log)
    name = "demo (360 premises)" if n == 0 else f"synthetic, {n:,} premises"
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        # A copy: the freshness check writes, and the benchmark databases stay as built.
        path = Path(tmp) / "catalogue.db"
        shutil.copyfile(base.removeprefix("sqlite:///"), path)
        url = f"sqlite:///{path}"
        key = staff_key(url, env)
        context: dict[str, Any] = {"key": key, "need_id": saved_need(url, env)}
        cells: list[Cell] = []
        load0 = os.getloadavg()[0]
        with serve(url, args.workers, env, log) as server:
            for c in args.concurrency:
                for endpoint in ENDPOINTS:
                    cell = load(server, endpoint, context, c, args.seconds, args.warmup)
                    cells.append(cell)
                    log(
                        f"{name}, c={c}, {endpoint.label}: {cell.rps:.0f} req/s, "
                        f"p50 {cell.pct(50):.1f} ms, p99 {cell.pct(99):.1f} ms, "
                        f"server CPU {cell.cpu_ms:.2f} ms/req, errors {cell.errors}"
                    )
            fresh = None
            if args.workers > 1 and args.freshness:
                fresh = freshness(server, key, args.trials, log)
        return SizeRun(name, n, args.workers, cells, fresh, (load0, os.getloadavg()[0]))


def report(runs: list[SizeRun], command: str, info: str, args: argparse.Namespace) -> str:
    lines = [
        "## HTTP API under load — issue 8",
        "",
        f"Command: `{command}`. Produced by `bench/bench_http.py` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        f"Machine: {info}.",
        "",
        f"`implanter serve --workers {args.workers}` (uvicorn) on a copy of a SQLite catalogue, "
        f"loopback; per endpoint and concurrency, {args.seconds:g} s of keep-alive requests "
        f"after {args.warmup:g} s of warm-up, from client threads in a second process (on the "
        "same 2 cores as the server). *Server CPU* is the user + system time of the server "
        "processes divided by the requests served (robust to the machine's load; the "
        "wall-clock columns are not). The need of `POST /match` is the README's example "
        "(800–1 200 m² of logistics near the MIN de Rungis, rent ≤ 90 €/m²/year, top 10).",
        "",
    ]
    for run in runs:
        lines += [
            f"### {run.name}, {run.workers} worker(s) (load average {run.load_avg[0]:.2f} at "
            f"start, {run.load_avg[1]:.2f} at the end)",
            "",
            "| endpoint | clients | requests/s | p50 | p99 | server CPU / request | errors "
            "| ÷ /health (req/s) |",
            "|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for c in sorted({cell.concurrency for cell in run.cells}):
            row = [cell for cell in run.cells if cell.concurrency == c]
            health = next((cell for cell in row if cell.endpoint == "GET /health"), None)
            for cell in row:
                ratio = f"{cell.rps / health.rps:.2f}" if health and health.rps else ""
                if not cell.requests:
                    lines.append(
                        f"| `{cell.endpoint}` | {c} | 0 | no request completed within the "
                        f"{cell.seconds:.0f} s | | | {cell.errors} | |"
                    )
                    continue
                lines.append(
                    f"| `{cell.endpoint}` | {c} | {cell.rps:.0f} | {cell.pct(50):.1f} ms "
                    f"| {cell.pct(99):.1f} ms | {cell.cpu_ms:.2f} ms | {cell.errors} | {ratio} |"
                )
        if run.n >= 100_000:
            verdicts = []
            for c in sorted({cell.concurrency for cell in run.cells}):
                row = {cell.endpoint: cell for cell in run.cells if cell.concurrency == c}
                h = row.get("GET /health")
                for label in ("POST /match", "GET /premises?limit=50"):
                    if h and label in row:
                        ok = row[label].rps >= h.rps / 2
                        verdicts.append(f"{label} at {c} clients {'met' if ok else 'not met'}")
            lines += ["", "Target ≥ ½ of /health's requests/s: " + "; ".join(verdicts) + "."]
        if run.fresh is not None:
            tries = [t for t, _ in run.fresh]
            ms = [m for _, m in run.fresh]
            lines += [
                "",
                f"Freshness across workers ({len(tries)} trials): a listing created with "
                "`POST /premises` on one worker's connection was ranked first by "
                f"`POST /match` on another worker's connection after {tries} request(s) "
                f"(target 1: {'met' if max(tries) == 1 else 'not met'}); that first "
                f"`/match` took {np.median(ms):.0f} ms (median; it brings the worker's index "
                "up to date from the changes).",
            ]
        lines.append("")
    return "\n".join(lines)


def write_results(section: str, workers: int, path: Path = RESULTS) -> None:
    """Replace (or add) this benchmark's section of RESULTS.md for this number of workers,
    keeping the others."""
    write_section("http" if workers == 1 else f"http-w{workers}", section, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[0, 100_000],
        help="catalogues: 0 for the demo, else a number of synthetic premises (default 0 100000)",
    )
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers (default 1)")
    parser.add_argument(
        "--concurrency", type=int, nargs="+", default=[8, 32], help="clients (default 8 32)"
    )
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per cell")
    parser.add_argument(
        "--no-freshness",
        dest="freshness",
        action="store_false",
        help="skip the cross-worker freshness check (run only with --workers 2 or more)",
    )
    parser.add_argument("--trials", type=int, default=5, help="freshness trials")
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="Markdown file to update (use '-' to skip writing)",
    )
    args = parser.parse_args(argv)
    start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"{time.perf_counter() - start:7.1f}s  {msg}", flush=True)

    info = machine()
    OUT.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMPLANTER_")}
    env["IMPLANTER_API__DEMO_ON_FIRST_RUN"] = "false"
    runs = [run_size(n, args, env, log) for n in args.sizes]
    info += f"; at the end {os.getloadavg()[0]:.2f}"
    command = "python -m bench.bench_http " + " ".join(argv if argv is not None else sys.argv[1:])
    section = report(runs, command.strip(), info, args)
    print()
    print(section)
    if str(args.results) != "-":
        write_results(section, args.workers, args.results)
        log(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
