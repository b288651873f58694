"""Benchmark ``implanter match NEED.json`` as a whole process: wall time, peak memory, imports.

A user who types ``implanter match need.json`` waits for Python to start, the command line to
import what it needs, the catalogue to be read, the index to be built and the match to run.
This benchmark times that whole process, as a user sees it, on two SQLite catalogues:

- the demo catalogue (``implanter demo``: 360 premises, 180 needs);
- a synthetic catalogue of 100,000 premises (``bench/synth.py``, seed 42), loaded once with
  ``implanter import`` of a CSV file, the way a user would load a large catalogue.

``implanter match`` keeps the index it built beside the catalogue (``<file>.match-index``,
see ``api/index_cache.py``): each case is timed with that file turned off
(``IMPLANTER_DATABASE__INDEX_CACHE=off``: every run reads the catalogue and builds the
index, as a first run does) and on (the warm-up run writes it, the measured runs read it,
as every run after the first on an unchanged catalogue does).

Both databases are kept under ``bench/out/`` and reused by later runs (``--rebuild`` makes them
anew; their file name changes with the schema's migrations, so a new migration rebuilds them).
Each case runs once to warm the file cache and migrate the file if needed, then ``--runs`` times
(default 7); the report gives the median, the fastest and the slowest wall time and the peak
resident memory (``ru_maxrss``) of the process. ``implanter --help`` is timed the same way.

Then one ``python -X importtime`` run of each command gives where the import time goes: the
*self* time of every imported module, summed per top-level package.

The command runs as ``python -m api.cli`` from the repository root, so that it measures this
working tree (an installed ``implanter`` script runs the same function). Run::

    python -m bench.bench_cli                 # the demo and 100k, writes bench/RESULTS.md
    python -m bench.bench_cli --sizes 0       # the demo only
    python -m bench.bench_cli --results -     # print only

Targets (issue 7, on the 2-core machine of ``bench/RESULTS.md``): ``implanter match`` under
0.7 s on the demo and under 1 s on 100,000 premises.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pstats
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.results import machine, write_section

__all__ = ["NEED", "main"]

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
RESULTS = ROOT / "bench" / "RESULTS.md"
#: The need of the README's example (a wholesaler near the MIN de Rungis).
NEED = {
    "company_name": "Primeurs Démo",
    "surface_min_m2": 800,
    "surface_max_m2": 1200,
    "uses": ["logistics"],
    "tenure": "rent",
    "max_rent_eur_m2_year": 90,
    "places": [{"label": "MIN de Rungis", "lon": 2.355, "lat": 48.759}],
}
TARGETS_S = {0: 0.7, 100_000: 1.0}
Log = Callable[[str], None]


@dataclass
class Timing:
    """Wall times (s), CPU times (s) and peak resident memory (MB) of repeated runs."""

    label: str
    wall: np.ndarray
    cpu: np.ndarray
    rss_mb: np.ndarray

    def cells(self) -> str:
        w = self.wall
        return (
            f"{np.median(w):.2f} s | {w.min():.2f} / {w.max():.2f} s "
            f"| {np.median(self.cpu):.2f} s | {np.median(self.rss_mb):.0f} MB"
        )


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "api.cli", *args]


def _run_measured(cmd: list[str], env: dict[str, str]) -> tuple[float, float, float]:
    """Wall time (s), CPU time (s, user + system) and peak RSS (MB) of one process.

    CPU time and memory come from ``os.wait4`` on that process. On a loaded machine the wall
    time grows with the other processes' demand; the CPU time much less.
    """
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            err.seek(0)
            msg = f"{' '.join(cmd)} exited with {proc.returncode}:\n{err.read().decode()}"
            raise RuntimeError(msg)
    cpu = usage.ru_utime + usage.ru_stime
    return wall, cpu, usage.ru_maxrss / 1024  # kilobytes on Linux


def time_command(label: str, cmd: list[str], env: dict[str, str], runs: int) -> Timing:
    """One warm-up run, then ``runs`` measured runs."""
    _run_measured(cmd, env)
    walls, cpu, rss = np.empty(runs), np.empty(runs), np.empty(runs)
    for r in range(runs):
        walls[r], cpu[r], rss[r] = _run_measured(cmd, env)
    return Timing(label, walls, cpu, rss)


def import_breakdown(cmd: list[str], env: dict[str, str]) -> tuple[float, list[tuple[str, float]]]:
    """Total import time (s) and the self time per top-level package (s), largest first."""
    proc = subprocess.run(
        [cmd[0], "-X", "importtime", *cmd[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    per_package: dict[str, float] = defaultdict(float)
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _cumulative, name = (part.strip() for part in line[12:].split("|"))
        per_package[name.split(".")[0]] += int(self_us) / 1e6
    ranked = sorted(per_package.items(), key=lambda kv: -kv[1])
    return sum(per_package.values()), ranked


def profile_breakdown(cmd: list[str], env: dict[str, str], top: int = 8) -> list[tuple[str, float]]:
    """The project's functions that take the most time in one run (cumulative, under cProfile).

    Module bodies (imports) are left out: ``import_breakdown`` covers them. Times include the
    profiler's overhead; they tell where the time goes, the wall times above tell how much.
    """
    with tempfile.TemporaryDirectory() as tmp:
        stats_file = Path(tmp) / "match.prof"
        subprocess.run(
            [cmd[0], "-m", "cProfile", "-o", str(stats_file), *cmd[1:]],
            cwd=ROOT,
            env=env,
            capture_output=True,
            check=True,
        )
        stats = pstats.Stats(str(stats_file)).stats  # type: ignore[attr-defined]
    rows: list[tuple[str, float]] = []
    for (filename, _line, func), (_cc, _nc, _tt, cumulative, _callers) in stats.items():
        path = Path(filename)
        if (
            func == "<module>"
            or not path.is_relative_to(ROOT)
            or path.parts[-2] == "bench"
            or "site-packages" in path.parts  # a virtualenv inside the checkout is not ours
        ):
            continue
        rows.append((f"{path.relative_to(ROOT).as_posix()}:{func}", cumulative))
    return sorted(rows, key=lambda r: -r[1])[:top]


# --- the catalogues ------------------------------------------------------------------------


def _schema_tag() -> str:
    """A short tag of the migrations, so that a new migration gets new benchmark databases."""
    versions = sorted(p.name for p in (ROOT / "geodata/migrations/versions").glob("*.py"))
    return hashlib.sha1("\n".join(versions).encode()).hexdigest()[:8]


def demo_db(env: dict[str, str], rebuild: bool, log: Log) -> str:
    """The demo catalogue in a SQLite file (built with ``implanter demo``)."""
    path = OUT / f"cli-demo-{_schema_tag()}.db"
    if rebuild:
        path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    if not path.exists():
        t0 = time.perf_counter()
        subprocess.run(_cli("demo", "-d", url), cwd=ROOT, env=env, check=True, capture_output=True)
        log(f"demo catalogue built in {time.perf_counter() - t0:.1f} s: {path.name}")
    return url


def synthetic_db(n: int, env: dict[str, str], rebuild: bool, log: Log) -> str:
    """``n`` synthetic premises in a SQLite file, loaded with ``implanter import`` of a CSV."""
    path = OUT / f"cli-{n}-{_schema_tag()}.db"
    if rebuild:
        path.unlink(missing_ok=True)
    url = f"sqlite:///{path}"
    if path.exists():
        return url
    from bench.synth import load_territory_or_none, synthetic_catalogue

    t0 = time.perf_counter()
    frame = synthetic_catalogue(n, seed=42, territory=load_territory_or_none())
    csv = OUT / f"cli-{n}.csv"
    frame.drop(columns="geometry").to_csv(csv, index=False)
    tmp = path.with_suffix(".part")
    tmp.unlink(missing_ok=True)
    subprocess.run(
        _cli("import", str(csv), "-d", f"sqlite:///{tmp}", "--skip-invalid", "--actor", "bench"),
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    tmp.rename(path)
    csv.unlink()
    log(f"{n:,} synthetic premises imported in {time.perf_counter() - t0:.0f} s: {path.name}")
    return url


# --- the report ----------------------------------------------------------------------------


def report(
    timings: list[tuple[str, Timing, float | None]],
    imports: list[tuple[str, float, list[tuple[str, float]]]],
    profiles: list[tuple[str, list[tuple[str, float]]]],
    command: str,
    info: str,
    runs: int,
) -> str:
    """The Markdown section for bench/RESULTS.md."""
    lines = [
        "## Command line — issue 7",
        "",
        f"Command: `{command}`. Produced by `bench/bench_cli.py` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        f"Machine: {info}.",
        "",
        "Whole process, as a user runs it (`python -m api.cli …` from the repository root; "
        f"one warm-up run, then {runs} runs): wall time median, fastest / slowest, CPU time "
        "(user + system, median) and peak resident memory (median of `ru_maxrss`). The need "
        "is the README's example (800–1 200 m² of logistics near the MIN de Rungis, "
        "rent ≤ 90 €/m²/year), top 10.",
        "",
        "| command | catalogue | wall (median) | fastest / slowest | CPU (median) | peak RSS "
        "| target |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for catalogue, t, target in timings:
        verdict = ""
        if target is not None:
            ok = np.median(t.wall) < target
            verdict = f"< {target:.1f} s: {'met' if ok else 'not met'}"
        lines.append(f"| `{t.label}` | {catalogue} | {t.cells()} | {verdict} |")
    lines += [
        "",
        "Import time (`python -X importtime`, one run; the *self* time of each module summed "
        "per top-level package, so the columns add up to the total):",
        "",
    ]
    for label, total, ranked in imports:
        top = ", ".join(f"{name} {s * 1e3:.0f}" for name, s in ranked[:12])
        lines.append(f"- `{label}`: **{total * 1e3:.0f} ms** in all; in ms: {top}.")
    lines += [
        "",
        "Where the time goes (`python -m cProfile`, one run; the project's functions with the "
        "largest cumulative time, in ms, profiler overhead included; a function's time "
        "includes its callees, and the imports made inside it, since each command imports "
        "what it needs in its body):",
        "",
    ]
    for label, rows in profiles:
        top = ", ".join(f"`{name}` {s * 1e3:.0f}" for name, s in rows)
        lines.append(f"- `{label}`: {top}.")
    lines.append("")
    return "\n".join(lines)


def write_results(section: str, path: Path = RESULTS) -> None:
    """Replace (or add) the command-line section of RESULTS.md, keeping the others."""
    write_section("cli", section, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[0, 100_000],
        help="catalogues: 0 for the demo, else a number of synthetic premises (default 0 100000)",
    )
    parser.add_argument("--runs", type=int, default=7, help="measured runs per command")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the benchmark databases")
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
    # Without PYTHONDONTWRITEBYTECODE: an installed package has its bytecode compiled, and the
    # warm-up run writes this tree's, so no measured run spends its time compiling sources.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("IMPLANTER_") and k != "PYTHONDONTWRITEBYTECODE"
    }
    need = OUT / "cli-need.json"
    need.write_text(json.dumps(NEED, ensure_ascii=False), encoding="utf-8")

    timings: list[tuple[str, Timing, float | None]] = []
    imports: list[tuple[str, float, list[tuple[str, float]]]] = []
    profiles: list[tuple[str, list[tuple[str, float]]]] = []
    help_cmd = _cli("--help")
    timings.append(("none", time_command("implanter --help", help_cmd, env, args.runs), None))
    log(f"--help: median {np.median(timings[-1][1].wall):.2f} s")
    imports.append(("implanter --help", *import_breakdown(help_cmd, env)))
    for n in args.sizes:
        url = demo_db(env, args.rebuild, log) if n == 0 else synthetic_db(n, env, args.rebuild, log)
        name = "demo (360 premises)" if n == 0 else f"synthetic, {n:,} premises"
        cmd = _cli("match", str(need), "-d", url)
        # Without the kept index first: every run reads the catalogue and builds the index.
        off = {**env, "IMPLANTER_DATABASE__INDEX_CACHE": "off"}
        t = time_command("implanter match need.json (index file off)", cmd, off, args.runs)
        timings.append((name, t, None))
        log(f"match on {name}, no index file: median {np.median(t.wall):.2f} s")
        # The warm-up run writes the index file beside the catalogue; the runs then read it.
        t = time_command("implanter match need.json", cmd, env, args.runs)
        timings.append((name, t, TARGETS_S.get(n)))
        log(f"match on {name}: median {np.median(t.wall):.2f} s, {np.median(t.rss_mb):.0f} MB")
        label = f"implanter match need.json, {name}"
        imports.append((label, *import_breakdown(cmd, env)))
        profiles.append((label, profile_breakdown(cmd, env)))
    info += f"; at the end {os.getloadavg()[0]:.2f}"
    command = "python -m bench.bench_cli " + " ".join(argv if argv is not None else sys.argv[1:])
    section = report(timings, imports, profiles, command.strip(), info, args.runs)
    print()
    print(section)
    if str(args.results) != "-":
        write_results(section, args.results)
        log(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
