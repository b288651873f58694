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

Run once, short::

    python -m bench.bench_exports                       # 100,000 premises; RESULTS.md
    python -m bench.bench_exports --size 5000 --results -   # quick, print only
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil

from bench.bench_cli import OUT, RESULTS, _cli, _run_measured, _schema_tag, machine
from bench.bench_http import Server, serve, staff_key

__all__ = ["main"]

BEGIN, END = "<!-- exports:begin -->", "<!-- exports:end -->"
SUFFIX = {"csv-fr": "csv"}


def catalogue_db(n: int, log: object) -> str:
    """``n`` synthetic premises in a SQLite file, stored through ``add_many_premises``."""
    path = OUT / f"exports-{n}-{_schema_tag()}.db"
    url = f"sqlite:///{path}"
    if path.exists():
        return url
    from bench.synth import load_territory_or_none, synthetic_catalogue
    from geodata.schemas import PremisesCreate
    from geodata.storage import Repository

    t0 = time.perf_counter()
    frame = synthetic_catalogue(n, seed=42, territory=load_territory_or_none())
    records = frame.drop(columns="geometry").astype(object)
    records = records.where(records.notna(), None)
    tmp = path.with_suffix(".part")
    tmp.unlink(missing_ok=True)
    repo = Repository(f"sqlite:///{tmp}")
    repo.migrate()
    for start in range(0, n, 10_000):
        items = []
        for row in records.iloc[start : start + 10_000].to_dict("records"):
            row["uses"] = [u for u in str(row["uses"]).split(",") if u]
            items.append(PremisesCreate.model_validate(row))
        repo.add_many_premises(items, actor="bench")
    repo.dispose()
    tmp.rename(path)
    print(f"{n:,} synthetic premises stored in {time.perf_counter() - t0:.0f} s: {path.name}")
    return url


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
    fmt: str
    wall: float
    cpu: float
    rss_before_mb: float
    rss_peak_mb: float
    size_mb: float
    features: int


def download(server: Server, key: str, fmt: str, folder: Path) -> Download:
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
    return Download(
        fmt, wall, cpu, before / 2**20, peak[0] / 2**20, path.stat().st_size / 2**20, features
    )


def _count(path: Path, fmt: str) -> int:
    if fmt in ("geojson", "gpkg"):
        import pyogrio

        layer = "premises" if fmt == "gpkg" else None
        return int(pyogrio.read_info(path, layer=layer, force_feature_count=True)["features"])
    with path.open("rb") as handle:
        return sum(1 for _ in handle) - 1


def report(
    n: int,
    downloads: list[Download],
    cli: dict[str, tuple[float, float, float]],
    info: str,
    command: str,
) -> str:
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    lines = [
        "## Exports over HTTP — issue 9",
        "",
        f"Command: `{command}`. Produced by `bench/bench_exports.py` on {stamp} UTC.",
        "",
        f"Machine: {info}. The machine is shared with other helpers' tests and benchmarks: "
        "wall times move with the load, CPU times much less.",
        "",
        f"`GET /exports/premises?format=…` of all {n:,} synthetic premises by a staff key "
        "(full view), served by `implanter serve` (1 worker) on SQLite; server memory is the "
        "resident set of the server process, sampled every 20 ms."
        + (
            " Beside it, `implanter export` of the same catalogue as a whole process."
            if cli
            else " (`--no-cli`: `implanter export` not run.)"
        ),
        "",
        "| format | HTTP wall | server CPU | server RSS before → peak | file | features "
        "| `implanter export` wall / CPU / peak RSS |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for d in downloads:
        c = cli.get(d.fmt)
        cli_cell = f"{c[0]:.1f} s / {c[1]:.1f} s / {c[2]:.0f} MB" if c else "—"
        lines.append(
            f"| {d.fmt} | {d.wall:.1f} s | {d.cpu:.1f} s | {d.rss_before_mb:.0f} → "
            f"{d.rss_peak_mb:.0f} MB (+{d.rss_peak_mb - d.rss_before_mb:.0f}) "
            f"| {d.size_mb:.1f} MiB | {d.features:,} | {cli_cell} |"
        )
    lines.append("")
    return "\n".join(lines)


def write_results(section: str, path: Path = RESULTS) -> None:
    """Replace (or add) this benchmark's section of RESULTS.md, keeping the others."""
    block = f"{BEGIN}\n{section}\n{END}\n"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    if BEGIN in text and END in text:
        text = text[: text.index(BEGIN)] + block + text[text.index(END) + len(END) + 1 :]
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--formats", nargs="+", default=["geojson", "gpkg"])
    parser.add_argument("--no-cli", action="store_true", help="skip implanter export")
    parser.add_argument("--results", default=str(RESULTS), help="RESULTS.md, or - to print")
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    info = machine()
    url = catalogue_db(args.size, print)
    env = {
        **os.environ,
        "IMPLANTER_API__DEMO_ON_FIRST_RUN": "false",
        "IMPLANTER_DELIVERY__IN_APP": "false",
    }
    downloads: list[Download] = []
    cli: dict[str, tuple[float, float, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        key = staff_key(url, env)
        with serve(url, 1, env, print) as server:
            for fmt in args.formats:
                d = download(server, key, fmt, folder)
                print(d)
                downloads.append(d)
        if not args.no_cli:
            for fmt in args.formats:
                out = folder / f"cli.{SUFFIX.get(fmt, fmt)}"
                cli[fmt] = _run_measured(_cli("export", str(out), "-d", url), env)
                print(fmt, "cli", cli[fmt])
    command = " ".join(["python -m bench.bench_exports", *(argv or sys.argv[1:])])
    section = report(args.size, downloads, cli, info, command)
    if args.results == "-":
        print(section)
    else:
        write_results(section, Path(args.results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
