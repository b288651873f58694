"""Benchmark the allocation of the Valenton village's lots: solve time, optimum vs first come.

For the demo development (``geodata/territories/gosb/valenton_village.geojson``, 20 lots,
one under offer) and the seeded demo applicants (``development_applicants``, 40 by default,
more with ``--applicants``) it times, after one warm-up, over ``--runs`` runs:

- *build*: groups of up to 4 adjacent lots, their index, every applicant's fit to every
  group (the matching engine's filters and scores);
- *optimal*: the exact integer programme (``scipy.optimize.milp``), decisions only;
- *first come*: first-come-first-served in arrival order, decisions only;
- *optimal + reasons*: the optimum with every reason and the matching reasons of each group
  given (``costs=False``);
- *+ costs of refusals*: the same and, for each refused applicant who had fitting lots, one
  more solve that says how much serving it would cost (fewer runs: a third).

It reports the total fit, applicants served and m² let of both methods, and writes the
figures to the ``allocation`` section of ``bench/RESULTS.md``.

Run::

    python -m bench.bench_allocation
    python -m bench.bench_allocation --applicants 40 100 --runs 7
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import scipy

from bench import results
from bench.results import write_section
from geodata.developments import development_applicants, load_development
from geodata.territory import load_territory
from matcher.allocation import AllocationProblem, compare, first_come_first_served, optimal

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "RESULTS.md"
TARGET_S = 1.0


def machine() -> str:
    """CPU, cores, OS, Python, SciPy and the load when the benchmark starts."""
    return results.machine(f"numpy {np.__version__}", f"scipy {scipy.__version__} (HiGHS)")


CPU: dict[int, list[float]] = {}


def timed(fn: Callable[[], Any], runs: int) -> tuple[list[float], Any]:
    """Wall times of ``runs`` calls after one warm-up, and the last result (the CPU times
    of this process, all threads, go to ``CPU[id(times)]``)."""
    out = fn()
    times: list[float] = []
    cpu: list[float] = []
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    CPU[id(times)] = cpu
    return times, out


def ms(times: list[float]) -> str:
    """Median, fastest and slowest, in ms."""
    return f"{np.median(times) * 1e3:.0f} ({min(times) * 1e3:.0f}–{max(times) * 1e3:.0f})"


def run(n_applicants: int, runs: int) -> dict[str, Any]:
    territory = load_territory("gosb")
    dev = load_development(territory=territory)
    needs = development_applicants(dev, n_applicants)
    stations, interchanges = territory.stations, territory.interchanges

    def build() -> AllocationProblem:
        return AllocationProblem.build(
            dev.lots, needs, stations=stations, interchanges=interchanges
        )

    t_build, problem = timed(build, runs)
    t_opt, best = timed(lambda: optimal(problem, explain=False), runs)
    t_fcfs, fcfs = timed(lambda: first_come_first_served(problem, explain=False), runs)
    t_reasons, _ = timed(lambda: optimal(problem, costs=False), runs)
    t_full, full = timed(lambda: optimal(problem), max(1, runs // 3))
    whole = [b + o for b, o in zip(t_build, t_opt, strict=True)]
    whole_cpu = [b + o for b, o in zip(CPU[id(t_build)], CPU[id(t_opt)], strict=True)]
    return {
        "applicants": n_applicants,
        "lots": len(dev.lots),
        "available": int(problem.available.sum()),
        "groups": len(problem.groups),
        "pairs": int((~np.isnan(problem.fit)).sum()),
        "build": t_build,
        "optimal": t_opt,
        "fcfs": t_fcfs,
        "reasons": t_reasons,
        "full": t_full,
        "whole": whole,
        "whole_cpu": whole_cpu,
        "best": best,
        "fcfs_result": fcfs,
        "full_result": full,
        "compare": compare(best, fcfs),
    }


def report(results: list[dict[str, Any]], info: str, command: str, load_end: float) -> str:
    lines = [
        "## Allocation of a development's lots — issue 11",
        "",
        f"Command: `{command}`. Produced by `bench/bench_allocation.py` on "
        f"{time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        f"Machine: {info}; at the end {load_end:.2f}. The machine is shared: other test "
        "suites and benchmarks ran at the same time (a load average well above the 2 cores "
        "means the figures are slower than on a quiet machine).",
        "",
        "The FICTITIOUS Valenton village (20 lots of 150–600 m² in two terraces, A3 under "
        "offer), seeded demo applicants; an applicant takes up to 4 adjacent lots; fit = the "
        "matching score (0–100) of the group. Times in ms: median (fastest–slowest) of the "
        "runs after one warm-up. *Allocation* = build + optimal, the time a staff member "
        f"waits for the decisions (target < {TARGET_S:.0f} s); its CPU time (this process, "
        "all threads) moves less with the load than the wall time.",
        "",
        "| applicants | groups / feasible pairs | build | optimal (MILP) | first come | "
        "allocation | its CPU time | target | optimal + reasons | + costs of refusals |",
        "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for r in results:
        ok = np.median(r["whole"]) < TARGET_S
        lines.append(
            f"| {r['applicants']} | {r['groups']} / {r['pairs']} | {ms(r['build'])} | "
            f"{ms(r['optimal'])} | {ms(r['fcfs'])} | **{ms(r['whole'])}** | "
            f"{ms(r['whole_cpu'])} | "
            f"< {TARGET_S * 1e3:.0f}: {'met' if ok else 'not met'} | {ms(r['reasons'])} | "
            f"{ms(r['full'])} |"
        )
    lines += [
        "",
        "| applicants | method | total fit | served | m² let | mean fit of those served |",
        "|---:|---|---:|---:|---:|---:|",
    ]
    for r in results:
        for res in (r["best"], r["fcfs_result"]):
            mean = res.total_fit / res.n_served if res.n_served else 0.0
            lines.append(
                f"| {r['applicants']} | {res.method} | {res.total_fit:.1f} | {res.n_served} | "
                f"{res.surface_let_m2:,.0f} | {mean:.1f} |"
            )
    lines.append("")
    for r in results:
        c = r["compare"]
        only_best = next(v for k, v in c.items() if k.startswith("only_in_optimal"))
        only_fcfs = c["only_in_first_come_first_served"]
        lines.append(
            f"- {r['applicants']} applicants: the optimum gains **{c['gain']:.1f}** points "
            f"of total fit over first come ({len(only_best)} applicants served only by the "
            f"optimum, {len(only_fcfs)} only by first come)."
        )
    r0 = results[0]
    lines += ["", f"Examples of the reasons ({r0['applicants']} applicants, optimum):", ""]
    full = r0["full_result"]
    multi = [a for a in full.assignments if len(a.lots) > 1][:1] or full.assignments[:1]
    picks = [
        *(a.text["fr"] for a in multi),
        *[x.text["fr"] for x in full.refusals if x.reason.code == "outranked"][:1],
        *[x.text["fr"] for x in full.refusals if x.reason.code != "outranked"][:1],
        *[x.text["fr"] for x in full.lots if x.company is None][:1],
    ]
    lines += [f"- {text}" for text in picks]
    lines.append("")
    return "\n".join(lines)


def write_results(section: str, path: Path = RESULTS) -> None:
    """Replace (or add) the allocation section of RESULTS.md, keeping the others."""
    write_section("allocation", section, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--applicants", type=int, nargs="+", default=[40])
    parser.add_argument("--runs", type=int, default=7, help="measured runs after a warm-up")
    parser.add_argument(
        "--results", type=Path, default=RESULTS, help="Markdown file to update ('-' to skip)"
    )
    args = parser.parse_args(argv)
    info = machine()
    results = [run(n, args.runs) for n in args.applicants]
    command = (
        "python -m bench.bench_allocation"
        + (
            ""
            if args.applicants == [40]
            else " --applicants " + " ".join(map(str, args.applicants))
        )
        + ("" if args.runs == 7 else f" --runs {args.runs}")
    )
    section = report(results, info, command, os.getloadavg()[0])
    print(section)
    if str(args.results) != "-":
        write_results(section, args.results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
