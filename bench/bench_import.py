"""Benchmark ``implanter import FILE.csv`` of 100,000 listings as a whole process.

A user loading a large catalogue types ``implanter import listings.csv``: Python starts, the
file is read and every row validated (form, territory, duplicates), then the listings are
written with their audit rows in one transaction. This benchmark times that whole process
(``python -m api.cli import …`` from the repository root, so that it measures this working
tree) on a synthetic catalogue (``bench/synth.py``, seed 42) written as an English CSV, into
a new SQLite file and into a new PostGIS database. Each case runs ``--runs`` times (default
3) on a new database each time; the report gives the median wall time, the CPU time (user +
system) and the peak resident memory (``ru_maxrss``) of the import process.

It also checks that the stored listings are what a row-by-row validation of the same file
gives (``--check``, on by default: the commune and zone of every listing, found in bulk, are
those the model finds with the territory).

With ``--before DIR`` (a checkout of an earlier commit, e.g. ``git archive <commit> | tar -x
-C DIR``), the same imports also run from that tree, alternating with this one so that both
see the same load, and the report gives both.

Run::

    python -m bench.bench_import                 # 100k, SQLite and PostGIS, writes RESULTS.md
    python -m bench.bench_import --size 20000 --results -
    python -m bench.bench_import --runs 1 --before ../implanter-before
    make bench-import

Targets (issue 9): 100,000 listings in under 15 s and under 600 MB on SQLite.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.results import machine, write_section

__all__ = ["main"]

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "RESULTS.md"
TARGET_S, TARGET_MB = 15.0, 600.0
PG_ADMIN = os.environ.get(
    "IMPLANTER_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


@dataclass
class Run:
    """One import process: wall time (s), CPU time (s), peak resident memory (MB)."""

    wall: float
    cpu: float
    rss_mb: float


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "api.cli", *args]


def _env(tree: Path) -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(tree)}


def timed(cmd: list[str], env: dict[str, str], tree: Path = ROOT) -> Run:
    """Run a command, wait for it with ``os.wait4`` and return its own resource usage."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        cmd, cwd=tree, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode() if proc.stderr else ""
        raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}): {err[-2000:]}")
    if proc.stderr:
        proc.stderr.close()
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024)


def synthetic_csv(n: int) -> Path:
    """``n`` synthetic listings as an English CSV (built once, kept under ``bench/out``)."""
    path = OUT / f"import-{n}.csv"
    if not path.exists():
        from bench.synth import load_territory_or_none, synthetic_catalogue

        frame = synthetic_catalogue(n, seed=42, territory=load_territory_or_none())
        frame.drop(columns="geometry").to_csv(path, index=False)
    return path


def _pg_database() -> tuple[str, str]:
    """A new empty database on the local PostGIS server: (its URL, its name)."""
    import sqlalchemy as sa

    name = f"implanter_bench_import_{os.getpid()}_{time.monotonic_ns() % 10**6}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False), name


def _pg_drop(name: str) -> None:
    import sqlalchemy as sa

    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def import_runs(csv: Path, backend: str, runs: int, trees: dict[str, Path]) -> dict[str, list[Run]]:
    """Import ``csv`` ``runs`` times from each source tree, alternating the trees, each time
    into a new database (migrated first, outside the timing)."""
    out: dict[str, list[Run]] = {label: [] for label in trees}
    for i in range(runs):
        for label, tree in trees.items():
            env = _env(tree)
            if backend == "sqlite":
                db = OUT / f"import-{i}.db"
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
                url, name = f"sqlite:///{db}", None
            else:
                url, name = _pg_database()
            try:
                subprocess.run(
                    _cli("init-db", "-d", url),
                    cwd=tree,
                    env=env,
                    check=True,
                    capture_output=True,
                )
                args = ("import", str(csv), "-d", url, "--skip-invalid", "--actor", "bench")
                out[label].append(timed(_cli(*args), env, tree))
                if i == runs - 1:
                    _check_counts(url, csv)
            finally:
                if name is not None:
                    _pg_drop(name)
                else:
                    for suffix in ("", "-wal", "-shm"):
                        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return out


def _check_counts(url: str, csv: Path) -> None:
    """The stored catalogue holds one listing per row of the file."""
    import pandas as pd

    from geodata.storage import Repository

    repo = Repository(url)
    stored = repo.counts()["premises"]
    repo.dispose()
    rows = len(pd.read_csv(csv, usecols=[0]))
    if stored != rows:
        raise AssertionError(f"{stored} listings stored from {rows} rows")


def check_bulk_equals_row_by_row(csv: Path, sample: int = 5_000) -> str:
    """Compare the bulk validation with a row-by-row validation on the first rows."""
    import pandas as pd

    from geodata.io import read_listings
    from geodata.schemas import PremisesCreate
    from geodata.territory import default_territory

    territory = default_territory()
    head = OUT / "import-check.csv"
    pd.read_csv(csv, nrows=sample, dtype=str).to_csv(head, index=False)
    parsed = read_listings(head, territory=territory)
    head.unlink()
    same = 0
    for item in parsed.items:
        data = item.model_dump(exclude={"commune_insee", "zone_id"})
        again = PremisesCreate.model_validate(data, context={"territory": territory})
        same += again == item
    if same != len(parsed.items) or parsed.errors:
        raise AssertionError(f"bulk and row-by-row validation differ: {same}/{len(parsed.items)}")
    return f"{same:,} of the first {sample:,} rows give the same listing row by row"


def report(
    n: int, results: dict[str, list[Run]], info: str, check: str, command: str, load_end: str
) -> str:
    """The Markdown section for bench/RESULTS.md."""
    lines = [
        "## Bulk import — issue 9",
        "",
        f"Command: `{command}` (`make bench-import`). Produced by `bench/bench_import.py` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        f"Machine: {info}; at the end {load_end}. The machine is shared with other helpers' "
        "test suites and benchmarks, which run at the same time: wall times are inflated by "
        "the load (the CPU time of the import process is the steadier figure).",
        "",
        f"`implanter import` of {n:,} synthetic listings (English CSV, "
        f"{synthetic_csv(n).stat().st_size / 2**20:.1f} MiB) into a new, migrated database, "
        "as a whole process; median of the runs, each on a new database.",
        "",
        "| backend | runs | wall (median) | CPU user+sys (median) | peak RSS (median) | rows/s "
        "(wall) | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for backend, runs in results.items():
        if not runs:
            continue
        wall = float(np.median([r.wall for r in runs]))
        cpu = float(np.median([r.cpu for r in runs]))
        rss = float(np.median([r.rss_mb for r in runs]))
        target = ""
        if backend == "sqlite":  # this tree, not the tree compared with
            ok = wall < TARGET_S and rss < TARGET_MB
            target = f"< {TARGET_S:.0f} s and < {TARGET_MB:.0f} MB: {'met' if ok else 'not met'}"
        lines.append(
            f"| {backend} | {len(runs)} | {wall:.1f} s | {cpu:.1f} s | {rss:.0f} MB "
            f"| {n / wall:,.0f} | {target} |"
        )
    lines += ["", f"Check: {check}.", ""]
    return "\n".join(lines)


def write_results(section: str, path: Path = RESULTS) -> None:
    """Replace (or add) the bulk-import section of RESULTS.md, keeping the others."""
    write_section("import", section, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=int, default=100_000, help="listings in the file")
    parser.add_argument("--runs", type=int, default=3, help="imports per backend")
    parser.add_argument(
        "--backends", nargs="+", default=["sqlite", "postgis"], choices=["sqlite", "postgis"]
    )
    parser.add_argument("--no-check", action="store_true", help="skip the row-by-row check")
    parser.add_argument(
        "--before", type=Path, help="also run the imports from this earlier source tree"
    )
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="Markdown file to update ('-': print)"
    )
    args = parser.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    info = machine()
    csv = synthetic_csv(args.size)
    check = "not run" if args.no_check else check_bulk_equals_row_by_row(csv)
    trees = {"": ROOT}
    if args.before is not None:
        trees = {" (before)": args.before.resolve(), "": ROOT}
    results: dict[str, list[Run]] = {}
    for backend in args.backends:
        for label, runs in import_runs(csv, backend, args.runs, trees).items():
            results[backend + label] = runs
            for r in runs:
                print(
                    f"{backend}{label}: {r.wall:.1f} s wall, {r.cpu:.1f} s CPU, {r.rss_mb:.0f} MB",
                    flush=True,
                )
    load_end = "load average " + ", ".join(f"{x:.1f}" for x in os.getloadavg())
    given = sys.argv[1:] if argv is None else argv
    # The tree compared with is a folder of this machine: the report says <before> instead.
    shown = ["<before>" if args.before and a == str(args.before) else a for a in given]
    command = "python -m bench.bench_import" + (" " + " ".join(shown) if shown else "")
    section = report(args.size, results, info, check, command, load_end)
    print(section)
    if str(args.results) != "-":
        write_results(section, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
