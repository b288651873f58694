"""Benchmark ``GET /exports/premises``: time and peak memory of the server for a full export.

The server runs as a user starts it (``python -m api.cli serve``, one worker, the webhook
deliverer off) on a SQLite catalogue of ``--size`` synthetic premises (``bench/synth.py``,
seed 42), built once under ``bench/out/`` straight through the storage layer (about a minute
for 100,000). A staff key (``implanter accounts create --key``) downloads every listing, in
full, as each format of ``--formats`` (GeoJSON and GeoPackage by default), one after the
other; the body is read in 1 MiB chunks and written to a temporary file.

For each format the report gives the wall time of the download as the client sees it, the
server's CPU time for it (user + system, from ``/proc`` through psutil), its resident memory
before the request and at its peak (sampled every 20 ms), the size of the file and its
feature count read back (pyogrio). Beside it, ``implanter export`` of the same catalogue to
the same format as a whole process (wall, CPU and peak RSS from ``os.wait4``): the command
line builds the whole table in memory, the HTTP export works page by page.

With ``--backends sqlite postgis`` (the default) the same catalogue is also stored in a
PostGIS database of the local server (``IMPLANTER_PG_ADMIN_URL``, as ``bench_import``; built
once and kept, named after the size and the migrations) and the same exports are made by an
app serving it. On each backend the OGC API items page a GIS client asks for,
``GET /collections/premises/items?limit=1000&bbox=…`` (anonymous, the public view; the bbox
is the middle quarter of the collection's extent, half its width and half its height), is
sent ``--items-requests`` times one after the other on one keep-alive connection, the offset
moving over the first pages; the report gives its p50 and p99 latency and the server CPU per
request. Beside the PostGIS exports, ``ogr2ogr -f GeoJSON`` and ``-f GPKG`` reading the same
table straight from ``PG:`` (what a GIS engineer with database access would do), timed as a
whole process with ``/usr/bin/time -v`` (wall, CPU, peak resident memory).

Run once, short::

    python -m bench.bench_exports                       # 100,000 premises; RESULTS.md
    python -m bench.bench_exports --size 5000 --backends sqlite --results -   # quick, print
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import psutil

from bench.bench_cli import OUT, RESULTS, _cli, _run_measured, _schema_tag, machine
from bench.bench_http import Server, _get_json, serve, staff_key
from bench.bench_import import PG_ADMIN
from bench.results import write_section

__all__ = ["main"]

SUFFIX = {"csv-fr": "csv"}


def _fill(url: str, n: int) -> None:
    """Migrate the database at ``url`` and store ``n`` synthetic premises (seed 42) in it."""
    from bench.synth import load_territory_or_none, synthetic_catalogue
    from geodata.schemas import PremisesCreate
    from geodata.storage import Repository

    frame = synthetic_catalogue(n, seed=42, territory=load_territory_or_none())
    records = frame.drop(columns="geometry").astype(object)
    records = records.where(records.notna(), None)
    repo = Repository(url)
    repo.migrate()
    for start in range(0, n, 10_000):
        items = []
        for row in records.iloc[start : start + 10_000].to_dict("records"):
            row["uses"] = [u for u in str(row["uses"]).split(",") if u]
            items.append(PremisesCreate.model_validate(row))
        repo.add_many_premises(items, actor="bench")
    repo.dispose()


def catalogue_db(n: int, log: object) -> str:
    """``n`` synthetic premises in a SQLite file, stored through ``add_many_premises``."""
    path = OUT / f"exports-{n}-{_schema_tag()}.db"
    url = f"sqlite:///{path}"
    if path.exists():
        return url
    t0 = time.perf_counter()
    tmp = path.with_suffix(".part")
    tmp.unlink(missing_ok=True)
    _fill(f"sqlite:///{tmp}", n)
    tmp.rename(path)
    print(f"{n:,} synthetic premises stored in {time.perf_counter() - t0:.0f} s: {path.name}")
    return url


def catalogue_pg(n: int) -> tuple[str, str]:
    """The same catalogue in a PostGIS database (built once, kept): its URL and its name.

    A database left half-filled by an interrupted run (not exactly ``n`` premises) is rebuilt.
    """
    import sqlalchemy as sa

    name = f"implanter_bench_exports_{n}_{_schema_tag()}"
    url = sa.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
    count = -1
    if exists:
        engine = sa.create_engine(url, poolclass=sa.NullPool)
        try:
            with engine.connect() as conn:
                count = conn.execute(sa.text("SELECT count(*) FROM premises")).scalar_one()
        except sa.exc.ProgrammingError:
            count = -1
        engine.dispose()
    if count != n:
        t0 = time.perf_counter()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        _fill(url, n)
        print(f"{n:,} synthetic premises stored in PostGIS in {time.perf_counter() - t0:.0f} s")
    admin.dispose()
    return url, name


def _rss(server: Server) -> int:
    total = 0
    for p in server.procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            continue
    return total


@dataclass
class Download:
    backend: str
    fmt: str
    wall: float
    cpu: float
    rss_before_mb: float
    rss_peak_mb: float
    size_mb: float
    features: int


def download(server: Server, key: str, fmt: str, folder: Path, backend: str) -> Download:
    """One full export, with the server's peak memory sampled while it runs."""
    peak = [_rss(server)]
    before = peak[0]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _rss(server))
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    cpu0 = server.cpu_seconds()
    path = folder / f"export.{SUFFIX.get(fmt, fmt)}"
    sampler.start()
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=600)
    try:
        conn.request(
            "GET", f"/exports/premises?format={fmt}", headers={"Authorization": f"Bearer {key}"}
        )
        response = conn.getresponse()
        if response.status != 200:
            msg = f"{fmt}: {response.status} {response.read()[:500]!r}"
            raise RuntimeError(msg)
        with path.open("wb") as out:
            while chunk := response.read(1 << 20):
                out.write(chunk)
    finally:
        conn.close()
    wall = time.perf_counter() - t0
    done.set()
    sampler.join()
    cpu = server.cpu_seconds() - cpu0
    features = _count(path, fmt)
    size = path.stat().st_size / 2**20
    return Download(backend, fmt, wall, cpu, before / 2**20, peak[0] / 2**20, size, features)


def _count(path: Path, fmt: str) -> int:
    if fmt in ("geojson", "gpkg"):
        import pyogrio

        layer = "premises" if fmt == "gpkg" else None
        return int(pyogrio.read_info(path, layer=layer, force_feature_count=True)["features"])
    with path.open("rb") as handle:
        return sum(1 for _ in handle) - 1


@dataclass
class Items:
    backend: str
    bbox: str
    matched: int
    returned: int
    latencies_ms: np.ndarray
    cpu_ms: float

    def pct(self, q: float) -> float:
        return float(np.percentile(self.latencies_ms, q))


def quarter_bbox(port: int) -> str:
    """The middle quarter of the premises collection's extent (half its width and height)."""
    extent = _get_json(port, "/collections/premises")["extent"]["spatial"]["bbox"][0]
    x0, y0, x1, y1 = (float(v) for v in extent)
    dx, dy = (x1 - x0) / 4, (y1 - y0) / 4
    return f"{x0 + dx:.5f},{y0 + dy:.5f},{x1 - dx:.5f},{y1 - dy:.5f}"


def items_latency(server: Server, backend: str, requests: int) -> Items:
    """``requests`` items pages of 1,000 in the bbox, one after the other (after 3 warm-ups)."""
    bbox = quarter_bbox(server.port)
    base = f"/collections/premises/items?limit=1000&bbox={bbox}"
    first = _get_json(server.port, base)
    matched, returned = int(first["numberMatched"]), int(first["numberReturned"])
    pages = max(1, min(10, -(-matched // 1000)))
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    latencies = []
    cpu0 = 0.0
    try:
        for i in range(-3, requests):
            if i == 0:
                cpu0 = server.cpu_seconds()
            t0 = time.perf_counter()
            conn.request("GET", f"{base}&offset={1000 * (i % pages)}")
            response = conn.getresponse()
            body = response.read()
            if response.status != 200:
                msg = f"items: {response.status} {body[:300]!r}"
                raise RuntimeError(msg)
            if i >= 0:
                latencies.append(time.perf_counter() - t0)
    finally:
        conn.close()
    cpu = server.cpu_seconds() - cpu0
    json.loads(body)  # the last page is a JSON document
    lat = np.asarray(latencies) * 1e3
    return Items(backend, bbox, matched, returned, lat, 1e3 * cpu / max(requests, 1))


@dataclass
class Ogr:
    fmt: str
    wall: float
    cpu: float
    rss_peak_mb: float
    size_mb: float
    features: int


OGR_DRIVER = {"geojson": "GeoJSON", "gpkg": "GPKG"}


def ogr2ogr(name: str, fmt: str, folder: Path) -> Ogr:
    """``ogr2ogr -f GeoJSON|GPKG out PG:dbname=… premises(geom)`` under ``/usr/bin/time -v``.

    The table has two geometry columns (``geom``, points, and ``footprint_geom``); OGR shows
    one layer per column, and the points layer is the one a GIS engineer would copy.
    """
    import sqlalchemy as sa

    pg = sa.make_url(PG_ADMIN)
    conn = f"PG:dbname={name} host={pg.host or '127.0.0.1'} port={pg.port or 5432}"
    conn += f" user={pg.username or 'postgres'}"
    if pg.password:
        conn += f" password={pg.password}"
    out = folder / f"ogr.{fmt}"
    out.unlink(missing_ok=True)
    cmd = ["/usr/bin/time", "-v", "ogr2ogr", "-f", OGR_DRIVER[fmt], str(out), conn]
    cmd += ["premises(geom)", "-nln", "premises"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        msg = f"{' '.join(cmd[2:5])}: exit {proc.returncode}\n{proc.stderr[-2000:]}"
        raise RuntimeError(msg)

    def field(label: str) -> float:
        match = re.search(rf"{re.escape(label)}: ([0-9.]+)", proc.stderr)
        return float(match.group(1)) if match else float("nan")

    cpu = field("User time (seconds)") + field("System time (seconds)")
    rss = field("Maximum resident set size (kbytes)") / 1024
    return Ogr(fmt, wall, cpu, rss, out.stat().st_size / 2**20, _count(out, fmt))


def report(
    n: int,
    downloads: list[Download],
    cli: dict[str, tuple[float, float, float]],
    items: list[Items],
    ogr: list[Ogr],
    info: str,
    command: str,
    loads: tuple[str, str],
) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    lines = [
        "## Exports and OGC API items over HTTP — issue 9",
        "",
        f"Command: `{command}`. Produced by `bench/bench_exports.py` on {stamp} UTC.",
        "",
        f"Machine: {info}. `uptime` at the start: `{loads[0]}`; at the end: `{loads[1]}`. "
        "The machine is shared with other helpers' tests and benchmarks: wall times move "
        "with the load, CPU times much less.",
        "",
    ]
    if items:
        lines += [
            "`GET /collections/premises/items?limit=1000&bbox=…` (anonymous: the public view), "
            "the bbox being the middle quarter of the collection's extent; "
            f"{len(items[0].latencies_ms)} requests one after the other on one keep-alive "
            "connection, the offset moving over the first ten pages, served by "
            "`implanter serve` (1 worker).",
            "",
            "| backend | bbox | numberMatched | features per page | p50 | p99 "
            "| server CPU per request |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for it in items:
            lines.append(
                f"| {it.backend} | `{it.bbox}` | {it.matched:,} | {it.returned:,} "
                f"| {it.pct(50):.0f} ms | {it.pct(99):.0f} ms | {it.cpu_ms:.0f} ms |"
            )
        lines.append("")
    lines += [
        f"`GET /exports/premises?format=…` of all {n:,} synthetic premises by a staff key "
        "(full view), served by `implanter serve` (1 worker); server memory is the "
        "resident set of the server process, sampled every 20 ms."
        + (
            " Beside it, `implanter export` of the same catalogue (SQLite) as a whole process."
            if cli
            else " (`--no-cli`: `implanter export` not run.)"
        )
        + (
            " Then `ogr2ogr` copying the points layer of the same PostGIS table straight from "
            "`PG:` (wall, CPU and peak RSS of the whole process from `/usr/bin/time -v`)."
            if ogr
            else ""
        ),
        "",
        "| source | format | wall | CPU | memory | file | features |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for d in downloads:
        lines.append(
            f"| HTTP export, {d.backend} | {d.fmt} | {d.wall:.1f} s | {d.cpu:.1f} s (server) "
            f"| server {d.rss_before_mb:.0f} → {d.rss_peak_mb:.0f} MB "
            f"(+{d.rss_peak_mb - d.rss_before_mb:.0f}) | {d.size_mb:.1f} MiB | {d.features:,} |"
        )
    for fmt, c in cli.items():
        lines.append(
            f"| `implanter export`, sqlite | {fmt} | {c[0]:.1f} s | {c[1]:.1f} s "
            f"| peak {c[2]:.0f} MB | | |"
        )
    for o in ogr:
        lines.append(
            f"| `ogr2ogr` from `PG:` | {o.fmt} | {o.wall:.1f} s | {o.cpu:.1f} s "
            f"| peak {o.rss_peak_mb:.0f} MB | {o.size_mb:.1f} MiB | {o.features:,} |"
        )
    lines.append("")
    return "\n".join(lines)


def write_results(section: str, path: Path = RESULTS) -> None:
    """Replace (or add) this benchmark's section of RESULTS.md, keeping the others."""
    write_section("exports", section, path)


def _uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--formats", nargs="+", default=["geojson", "gpkg"])
    parser.add_argument(
        "--backends", nargs="+", choices=["sqlite", "postgis"], default=["sqlite", "postgis"]
    )
    parser.add_argument("--items-requests", type=int, default=100, help="0: no items pages")
    parser.add_argument("--no-cli", action="store_true", help="skip implanter export")
    parser.add_argument("--no-ogr2ogr", action="store_true", help="skip ogr2ogr from PG:")
    parser.add_argument("--results", default=str(RESULTS), help="RESULTS.md, or - to print")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    info, load0 = machine(), _uptime()
    urls = {}
    pg_name = ""
    if "sqlite" in args.backends:
        urls["sqlite"] = catalogue_db(args.size, print)
    if "postgis" in args.backends:
        urls["postgis"], pg_name = catalogue_pg(args.size)
    env = {
        **os.environ,
        "IMPLANTER_API__DEMO_ON_FIRST_RUN": "false",
        "IMPLANTER_DELIVERY__IN_APP": "false",
    }
    downloads: list[Download] = []
    items: list[Items] = []
    ogr: list[Ogr] = []
    cli: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for backend, url in urls.items():
            key = staff_key(url, env)
            with serve(url, 1, env, print) as server:
                if args.items_requests:
                    it = items_latency(server, backend, args.items_requests)
                    print(backend, "items p50/p99 ms", it.pct(50), it.pct(99), it.matched)
                    items.append(it)
                for fmt in args.formats:
                    d = download(server, key, fmt, folder, backend)
                    print(d)
                    downloads.append(d)
        if pg_name and not args.no_ogr2ogr:
            for fmt in args.formats:
                if fmt in OGR_DRIVER:
                    o = ogr2ogr(pg_name, fmt, folder)
                    print(o)
                    ogr.append(o)
        if not args.no_cli and "sqlite" in urls:
            for fmt in args.formats:
                out = folder / f"cli.{SUFFIX.get(fmt, fmt)}"
                cli[fmt] = _run_measured(_cli("export", str(out), "-d", urls["sqlite"]), env)
                print(fmt, "cli", cli[fmt])
    command = " ".join(["python -m bench.bench_exports", *(argv or sys.argv[1:])])
    section = report(
        args.size, downloads, cli, items, ogr, info, command.strip(), (load0, _uptime())
    )
    if args.results == "-":
        print(section)
    else:
        write_results(section, Path(args.results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
