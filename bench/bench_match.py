"""Benchmark the matching engine on synthetic catalogues, side by side with the alternatives.

For each catalogue size it reports, for one clearly defined need (below): the index build
time and memory, the p50/p95 latency of a query, the *floor* (the time numpy takes to read
once the columns any implementation must scan for that query), and the same query answered by

(a) a straightforward geopandas implementation of the same semantics,
(b) SQL on PostGIS (``ST_DWithin``, ``CASE`` expressions, ``ORDER BY score LIMIT k``),
(c) SQL on DuckDB (plain SQL over projected x/y columns; its spatial extension cannot be
    installed offline),

checking that all four return the same top-k. It then matches a batch of saved needs
against a catalogue (time and peak memory) and writes the figures to ``bench/RESULTS.md``.

Run::

    python -m bench.bench_match --sizes 10000 100000 1000000
    python -m bench.bench_match --quick          # 10k and 100k, fewer repetitions

PostGIS comes from ``--pg-url`` or ``IMPLANTER_BENCH_PG_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``); the benchmark creates and uses a scratch
database ``implanter_bench``. Without a reachable server it says so and goes on.

The benchmark need: 800–1 200 m² (required, ±10 % band), storage/logistics use (required),
rent under 90 €/m²/year (required, +10 % tolerance with a steep decay), within 6 km of Rungis
(required, distance decay); score = 100 × (30·u_surface + 20·u_use + 20·u_budget +
15·u_location) / 85; top 20, ties to the smaller id.
"""

from __future__ import annotations

import argparse
import gc
import io
import os
import platform
import re
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import geopandas as gpd
import shapely

from bench.results import write_section
from bench.synth import load_territory_or_none, synthetic_catalogue, synthetic_needs
from geodata.schemas import NeedIn
from matcher import MatchIndex, NeedTable, match, match_listing
from matcher._codes import KIND_CODE, KIND_DEFAULT_MASK, USE_BIT
from matcher.batch import batch_match_frame
from matcher.weights import BUDGET_TOLERANCE, SURFACE_TOLERANCE

K = 20
RUNGIS = (2.3497, 48.7470)
BENCH_NEED: dict[str, Any] = {
    "company_name": "Benchmark",
    "surface_min_m2": 800.0,
    "surface_max_m2": 1200.0,
    "uses": ["logistics"],
    "tenure": "rent",
    "max_rent_eur_m2_year": 90.0,
    "center_lon": RUNGIS[0],
    "center_lat": RUNGIS[1],
    "radius_m": 6000.0,
    "required": ["surface", "use", "budget", "location"],
}
#: The floor: the columns a perfect implementation must read in full for the benchmark need.
#: Status, surface (and the smallest lot of a divisible listing), use, tenure and rent are
#: filters and utilities over every listing. x and y are not: a spatial index reads them only
#: for the listings in the cells around Rungis (the engine's grid does), so they are left out.
FLOOR_COLUMNS = ("status", "lot_min", "surface_m2", "uses_eff", "tenure", "rent_eur_m2_year")
DEFAULT_PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "implanter_bench"
RESULTS = Path(__file__).resolve().parent / "RESULTS.md"


# --- the benchmark need as constants (computed exactly as the engine computes them) --------


@dataclass(frozen=True)
class Params:
    """The benchmark need's constants, each computed with the engine's own expression."""

    lo_t: float
    hi_t: float
    s_min: float
    s_max: float
    s_den: float
    h_den: float
    use_bit: int
    max_rent: float
    rent_limit: float
    r_den: float
    cx: float
    cy: float
    radius: float
    r2: float
    two_r: float

    @classmethod
    def of(cls, need: NeedIn) -> Params:
        table = NeedTable.from_needs([need])
        s_min, s_max = float(table.s_min[0]), float(table.s_max[0])
        rent = float(table.max_rent[0])
        r = float(table.reach[0])
        return cls(
            lo_t=s_min * (1.0 - SURFACE_TOLERANCE),
            hi_t=s_max * (1.0 + SURFACE_TOLERANCE),
            s_min=s_min,
            s_max=s_max,
            s_den=s_min * SURFACE_TOLERANCE,
            h_den=s_max * SURFACE_TOLERANCE,
            use_bit=USE_BIT["logistics"],
            max_rent=rent,
            rent_limit=rent * (1.0 + BUDGET_TOLERANCE),
            r_den=rent * BUDGET_TOLERANCE,
            cx=float(table.cx[0]),
            cy=float(table.cy[0]),
            radius=r,
            r2=r * r,
            two_r=2.0 * r,
        )


def _sql(p: Params, *, dialect: str, table: str) -> str:
    """The benchmark query; identical arithmetic to the engine (same operations, same order)."""
    f = "::float8" if dialect == "postgis" else "::DOUBLE"

    def c(v: float) -> str:
        return f"({v!r}{f})"

    spatial = (
        f"ST_DWithin(geom, ST_SetSRID(ST_MakePoint({c(p.cx)}, {c(p.cy)}), 2154), {c(p.radius)}) "
        "AND "
        if dialect == "postgis"
        else ""
    )
    return f"""
SELECT id, score FROM (
  SELECT id,
    {c(100.0)} * ({c(30.0)} * us + {c(20.0)} * uu
                  + {c(20.0)} * (CASE WHEN rent IS NULL THEN {c(0.5)} ELSE bt * bt END)
                  + {c(15.0)} * ul) / {c(85.0)} AS score
  FROM (
    SELECT id, rent,
      CASE WHEN gap <= {c(1.0)} THEN {c(1.0)} - {c(0.5)} * gap
           WHEN short > over THEN {c(0.5)} * surface / {c(p.lo_t)}
           ELSE {c(0.5)} * {c(p.hi_t)} / lot_min END AS us,
      {c(1.0)} AS uu,
      GREATEST({c(1.0)} - GREATEST((rent - {c(p.max_rent)}) / {c(p.r_den)}, {c(0.0)}),
               {c(0.0)}) AS bt,
      GREATEST({c(1.0)} - sqrt((x - {c(p.cx)}) * (x - {c(p.cx)})
                               + (y - {c(p.cy)}) * (y - {c(p.cy)})) / {c(p.two_r)},
               {c(0.0)}) AS ul
    FROM (
      SELECT *, GREATEST(GREATEST(short, over), {c(0.0)}) AS gap FROM (
        SELECT *, ({c(p.s_min)} - surface) / {c(p.s_den)} AS short,
                  (lot_min - {c(p.s_max)}) / {c(p.h_den)} AS over
        FROM {table}
      ) AS t0
    ) AS t
    WHERE status = 0
      AND surface >= {c(p.lo_t)} AND lot_min <= {c(p.hi_t)}
      AND (uses_eff & {p.use_bit}) = {p.use_bit}
      AND (tenure & 1) = 1 AND (rent IS NULL OR rent <= {c(p.rent_limit)})
      AND {spatial}(x - {c(p.cx)}) * (x - {c(p.cx)}) + (y - {c(p.cy)}) * (y - {c(p.cy)})
          <= {c(p.r2)}
  ) AS u
) AS s
ORDER BY score DESC, id
LIMIT {K}
"""


def _flat(index: MatchIndex) -> pd.DataFrame:
    """The columns the SQL engines get: the index's own derived columns, same values."""
    c = index.cols
    return pd.DataFrame(
        {
            "id": c["id"],
            "status": c["status"].astype(np.int16),
            "lot_min": c["lot_min"],
            "surface": c["surface_m2"],
            "uses_eff": c["uses_eff"],
            "tenure": c["tenure"].astype(np.int16),
            "rent": c["rent_eur_m2_year"],
            "x": c["x"],
            "y": c["y"],
        }
    )


# --- (a) geopandas -------------------------------------------------------------------------


def geopandas_query(g: gpd.GeoDataFrame, p: Params) -> list[tuple[int, float]]:
    """The same need, written the straightforward way on a projected GeoDataFrame."""
    center = shapely.Point(p.cx, p.cy)
    lot = np.where(g["divisible"], g["min_lot_m2"].fillna(0.0), g["surface_m2"])
    kinds = [k for k, code in KIND_CODE.items() if KIND_DEFAULT_MASK[code] & p.use_bit]
    allowed = g["uses"].str.contains("logistics", regex=False) | (
        (g["uses"] == "") & g["kind"].isin(kinds)
    )
    mask = (
        (g["status"] == "available")
        & (g["surface_m2"] >= p.lo_t)
        & (lot <= p.hi_t)
        & allowed
        & g["tenure"].isin(["rent", "both"])
        & ~(g["rent_eur_m2_year"] > p.rent_limit)
        & g.geometry.dwithin(center, p.radius)
    )
    c = g[mask]
    lot_c = lot[mask.to_numpy()]
    short = (p.s_min - c["surface_m2"]) / p.s_den
    over = (lot_c - p.s_max) / p.h_den
    gap = np.maximum(np.maximum(short, over), 0.0)
    with np.errstate(divide="ignore"):  # a lot of 0 m² is only in the branch np.where drops
        us = np.where(
            gap <= 1.0,
            1.0 - 0.5 * gap,
            np.where(short > over, 0.5 * c["surface_m2"] / p.lo_t, 0.5 * p.hi_t / lot_c),
        )
    t = np.maximum(1.0 - np.maximum((c["rent_eur_m2_year"] - p.max_rent) / p.r_den, 0.0), 0.0)
    ub = np.where(c["rent_eur_m2_year"].isna(), 0.5, t * t)
    ul = np.maximum(1.0 - c.geometry.distance(center) / p.two_r, 0.0)
    score = 100.0 * (30.0 * us + 20.0 * 1.0 + 20.0 * ub + 15.0 * ul) / 85.0
    out = pd.DataFrame({"id": c.index.to_numpy(), "score": np.asarray(score, dtype=float)})
    out = out.sort_values(["score", "id"], ascending=[False, True]).head(K)
    return list(zip(out["id"].tolist(), out["score"].tolist(), strict=True))


# --- (b) PostGIS ---------------------------------------------------------------------------


class PostGIS:
    """A scratch PostGIS database holding one table per catalogue size."""

    def __init__(self, url: str) -> None:
        import psycopg

        self.psycopg = psycopg
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as admin:
            if (
                admin.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (BENCH_DB,)
                ).fetchone()
                is None
            ):
                admin.execute(f'CREATE DATABASE "{BENCH_DB}"')
        self.url = (
            re.sub(r"/[^/?]*(\?|$)", f"/{BENCH_DB}\\1", url, count=1)
            if re.search(r"//[^/]+/", url)
            else url.rstrip("/") + f"/{BENCH_DB}"
        )
        self.conn = psycopg.connect(self.url, autocommit=True)
        self.conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        # The scoring expressions make the planner's cost estimate large enough to trigger
        # JIT compilation, which alone costs ~300 ms a query here: measure PostGIS without it.
        self.conn.execute("SET jit = off")
        row = self.conn.execute("SELECT version(), postgis_lib_version()").fetchone()
        self.version = f"{row[0].split(' on ')[0]}, PostGIS {row[1]}" if row else "?"

    def load(self, name: str, flat: pd.DataFrame) -> float:
        """(Re)create ``name`` with COPY, a GiST index and statistics; returns seconds."""
        t0 = time.perf_counter()
        geom = shapely.to_wkb(
            shapely.set_srid(shapely.points(flat["x"], flat["y"]), 2154),
            hex=True,
            include_srid=True,
        )
        data = flat.assign(geom=geom)
        buf = io.StringIO()
        data.to_csv(buf, index=False, header=False, float_format="%.17g", na_rep="")
        cur = self.conn.cursor()
        cur.execute(f"DROP TABLE IF EXISTS {name}")
        cur.execute(f"""CREATE TABLE {name} (id bigint PRIMARY KEY, status smallint,
            lot_min float8, surface float8, uses_eff smallint, tenure smallint, rent float8,
            x float8, y float8, geom geometry(Point, 2154))""")
        cols = ", ".join(data.columns)
        with cur.copy(f"COPY {name} ({cols}) FROM STDIN WITH (FORMAT csv)") as copy:
            copy.write(buf.getvalue())
        cur.execute(f"CREATE INDEX ON {name} USING gist (geom)")
        cur.execute(f"ANALYZE {name}")
        return time.perf_counter() - t0

    def query(self, sql: str) -> list[tuple[int, float]]:
        return [(int(i), float(s)) for i, s in self.conn.execute(sql).fetchall()]

    def drop(self, name: str) -> None:
        self.conn.execute(f"DROP TABLE IF EXISTS {name}")


# --- measurement helpers -------------------------------------------------------------------


def _times(fn: Callable[[], Any], runs: int, warmup: int = 2) -> np.ndarray:
    for _ in range(warmup):
        fn()
    out = np.empty(runs)
    for r in range(runs):
        t0 = time.perf_counter()
        fn()
        out[r] = time.perf_counter() - t0
    return out


def _rss_mb() -> float:
    try:
        import psutil

        return float(psutil.Process().memory_info().rss) / 2**20
    except ImportError:  # pragma: no cover
        return float("nan")


def _same(ref: list[tuple[int, float]], other: list[tuple[int, float]]) -> str:
    if [i for i, _ in ref] == [i for i, _ in other]:
        worst = max((abs(a - b) for (_, a), (_, b) in zip(ref, other, strict=True)), default=0)
        return "yes" if worst == 0 else f"yes (scores within {worst:.0e})"
    ra = np.array([s for _, s in ref])
    rb = np.array([s for _, s in other])
    if len(ra) == len(rb) and np.allclose(ra, rb, rtol=0, atol=1e-9):
        return "yes up to ties (scores within 1e-9)"
    return "NO"


@dataclass
class SizeResult:
    n: int
    build_s: float = float("nan")
    index_mb: float = float("nan")
    rss_mb: float = float("nan")
    floor: np.ndarray = field(default_factory=lambda: np.empty(0))
    engine: np.ndarray = field(default_factory=lambda: np.empty(0))
    engine_explain: np.ndarray = field(default_factory=lambda: np.empty(0))
    geopandas: np.ndarray = field(default_factory=lambda: np.empty(0))
    postgis: np.ndarray = field(default_factory=lambda: np.empty(0))
    duckdb: np.ndarray = field(default_factory=lambda: np.empty(0))
    pg_load_s: float = float("nan")
    update_ms: float = float("nan")
    n_matching: int = 0
    same: dict[str, str] = field(default_factory=dict)


def _bench_geopandas(
    cat: gpd.GeoDataFrame, p: Params, runs: int
) -> tuple[np.ndarray, list[tuple[int, float]]]:
    g = cat.to_crs(2154)  # projected once, as a prepared GeoDataFrame would be
    return _times(lambda: geopandas_query(g, p), runs, 1), geopandas_query(g, p)


def _p(a: np.ndarray, q: float) -> float:
    return float(np.percentile(a, q)) * 1e3 if len(a) else float("nan")


def access_points(territory: Any) -> dict[str, Any]:
    """The stations and motorway exits the engine measures access to, as the app gives them."""
    if territory is None:
        return {"stations": None, "interchanges": None}
    return {"stations": territory.stations, "interchanges": territory.motorway_access}


def run_size(
    n: int, *, territory: Any, quick: bool, pg: PostGIS | None, log: Callable[[str], None]
) -> tuple[SizeResult, MatchIndex]:
    """Everything measured at one catalogue size."""
    res = SizeResult(n)
    t0 = time.perf_counter()
    cat = synthetic_catalogue(n, seed=42, territory=territory)
    log(f"[{n:>9,}] synthetic catalogue in {time.perf_counter() - t0:.1f} s")
    points = access_points(territory)
    gc.collect()
    rss0 = _rss_mb()
    t0 = time.perf_counter()
    index = MatchIndex.from_frame(cat, **points)
    res.build_s = time.perf_counter() - t0
    res.rss_mb = _rss_mb() - rss0
    res.index_mb = index.nbytes / 2**20
    log(
        f"[{n:>9,}] index built in {res.build_s:.2f} s (arrays {res.index_mb:.0f} MB, "
        f"RSS +{res.rss_mb:.0f} MB)"
    )

    rng = np.random.default_rng(0)
    picks = rng.choice(cat.index.to_numpy(), 20, replace=False)
    rows = [cat.loc[int(lid)].to_dict() for lid in picks]
    for row in rows:  # a new rent and a move of about 100 m
        row["rent_eur_m2_year"] = 80.0 if row["tenure"] != "sale" else None
        row["lon"] = float(row["lon"]) + 0.001
        row.pop("geometry", None)
    upd = np.empty(len(rows))
    for j, (lid, row) in enumerate(zip(picks, rows, strict=True)):
        t0 = time.perf_counter()
        index.update(int(lid), row)
        upd[j] = time.perf_counter() - t0
    res.update_ms = float(np.median(upd)) * 1e3
    log(f"[{n:>9,}] one listing update: p50 {res.update_ms:.2f} ms")

    need = NeedIn.model_validate(BENCH_NEED)
    table = NeedTable.from_needs([need])
    p = Params.of(need)
    runs = {10_000: 200, 100_000: 100}.get(n, 40) // (4 if quick else 1)
    cols = [index.cols[c] for c in FLOOR_COLUMNS]

    def floor() -> None:
        for col in cols:
            col.sum()

    def engine() -> Any:
        return match(index, table, k=K, explain=False)

    # interleave the floor and the query so that both see the same machine load
    floor_t = np.empty(runs)
    engine_t = np.empty(runs)
    _times(floor, 1, 3)
    _times(engine, 1, 3)
    for r in range(runs):
        t0 = time.perf_counter()
        floor()
        floor_t[r] = time.perf_counter() - t0
        t0 = time.perf_counter()
        engine()
        engine_t[r] = time.perf_counter() - t0
    res.floor, res.engine = floor_t, engine_t
    res.engine_explain = _times(lambda: match(index, table, k=K), max(5, runs // 4))
    result = match(index, table, k=K)
    ref = [(r.listing_id, r.score) for r in result.results]
    res.n_matching = result.diagnostics.n_matching
    log(
        f"[{n:>9,}] engine p50 {_p(engine_t, 50):.2f} ms (floor {_p(floor_t, 50):.2f} ms), "
        f"{res.n_matching} matching"
    )

    gp_runs = {10_000: 20, 100_000: 10}.get(n, 5) // (2 if quick else 1)
    res.geopandas, rows = _bench_geopandas(cat, p, max(3, gp_runs))
    res.same["geopandas"] = _same(ref, rows)
    log(
        f"[{n:>9,}] geopandas p50 {_p(res.geopandas, 50):.1f} ms, same top-k: "
        f"{res.same['geopandas']}"
    )

    flat = _flat(index)
    try:
        import duckdb

        con = duckdb.connect()
        con.register("flat_df", flat)
        con.execute("CREATE TABLE premises AS SELECT * FROM flat_df")
        con.unregister("flat_df")
        sql = _sql(p, dialect="duckdb", table="premises")
        db_runs = {10_000: 30, 100_000: 20}.get(n, 15) // (2 if quick else 1)
        res.duckdb = _times(lambda: con.execute(sql).fetchall(), max(5, db_runs))
        rows = [(int(i), float(s)) for i, s in con.execute(sql).fetchall()]
        res.same["duckdb"] = _same(ref, rows)
        con.close()
        log(f"[{n:>9,}] DuckDB p50 {_p(res.duckdb, 50):.1f} ms, same top-k: {res.same['duckdb']}")
    except ImportError:
        res.same["duckdb"] = "not installed"

    if pg is not None:
        name = f"bench_premises_{n}"
        try:
            res.pg_load_s = pg.load(name, flat)
            sql = _sql(p, dialect="postgis", table=name)
            pg_runs = {10_000: 30, 100_000: 15}.get(n, 10) // (2 if quick else 1)
            res.postgis = _times(lambda: pg.query(sql), max(5, pg_runs))
            res.same["postgis"] = _same(ref, pg.query(sql))
            log(
                f"[{n:>9,}] PostGIS p50 {_p(res.postgis, 50):.1f} ms (loaded in "
                f"{res.pg_load_s:.1f} s), same top-k: {res.same['postgis']}"
            )
        finally:
            pg.drop(name)
    else:
        res.same["postgis"] = "skipped"
    del cat, flat
    gc.collect()
    return res, index


@dataclass
class BatchResult:
    n_needs: int
    n_premises: int
    seconds: float
    peak_mb: float
    peak_mb_sample: int
    chunk_size: int
    rows: int
    reverse_ms: float
    reverse_fits: float


def run_batch(
    index: MatchIndex,
    n_needs: int,
    territory: Any,
    log: Callable[[str], None],
    chunk_size: int = 500,
) -> BatchResult:
    """Match ``n_needs`` synthetic needs against an index: time, then traced peak memory."""
    t0 = time.perf_counter()
    needs = synthetic_needs(n_needs, seed=7, territory=territory)
    log(f"[batch] {n_needs:,} synthetic needs in {time.perf_counter() - t0:.1f} s")
    table = NeedTable.from_needs(needs)
    t0 = time.perf_counter()
    results, _ = batch_match_frame(index, table, k=K, chunk_size=chunk_size)
    seconds = time.perf_counter() - t0
    log(
        f"[batch] {n_needs:,} needs × {len(index):,} premises in {seconds:.1f} s "
        f"({len(results):,} result rows)"
    )
    lids = index.cols["id"][np.flatnonzero(index.cols["status"] == 0)[:50]]
    rev = _times(lambda: [match_listing(index, int(lid), table) for lid in lids[:10]], 5, 1)
    reverse_ms = float(np.median(rev)) * 1e3 / 10
    fits = float(np.mean([len(match_listing(index, int(lid), table)) for lid in lids]))
    log(
        f"[batch] reverse: one listing against {n_needs:,} needs in {reverse_ms:.2f} ms "
        f"(fits {fits:.1f} needs on average)"
    )
    sample = min(n_needs, 4 * chunk_size)
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    batch_match_frame(index, table.take(np.arange(sample)), k=K, chunk_size=chunk_size)
    peak = (tracemalloc.get_traced_memory()[1] - base) / 2**20
    tracemalloc.stop()
    log(f"[batch] traced peak over {sample:,} needs: {peak:.1f} MB")
    return BatchResult(
        n_needs, len(index), seconds, peak, sample, chunk_size, len(results), reverse_ms, fits
    )


# --- report --------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    """CPU, cores, RAM and library versions."""
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = next(
            line
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        )
        ram = f"{int(mem.split()[1]) / 2**20:.1f} GiB"
    except (OSError, StopIteration):
        ram = "?"
    import duckdb
    import scipy

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": platform.platform(),
        "Python": platform.python_version(),
        "numpy": np.__version__,
        "pandas": pd.__version__,
        "shapely": f"{shapely.__version__} (GEOS {shapely.geos_version_string})",
        "geopandas": gpd.__version__,
        "scipy": scipy.__version__,
        "duckdb": duckdb.__version__,
        "BLAS": _blas(),
        "load average (1 min) at start": f"{load:.2f}",
    }


def _blas() -> str:
    """numpy's BLAS kernel, and the OPENBLAS_* variables that can force an older one."""
    from threadpoolctl import threadpool_info

    libs = [
        f"{i.get('internal_api')} {i.get('version')} ({i.get('architecture')}, "
        f"{i.get('num_threads')} threads)"
        for i in threadpool_info()
        if i.get("user_api") == "blas"
    ]
    forced = [
        f"{v}={os.environ[v]}" for v in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE") if v in os.environ
    ]
    return ", ".join(libs or ["?"]) + (f" [{' '.join(forced)}]" if forced else "")


def report(
    sizes: list[SizeResult],
    batch: BatchResult | None,
    info: dict[str, str],
    pg_version: str,
    command: str,
    wall: float,
) -> str:
    """The Markdown section for bench/RESULTS.md."""
    lines = [
        "## Matcher — issue 3",
        "",
        f"Command: `{command}` (whole run {wall / 60:.1f} min). "
        f"Produced by `bench/bench_match.py` on {time.strftime('%Y-%m-%d %H:%M')}.",
        "",
        "Machine: " + "; ".join(f"{k} {v}" for k, v in info.items()) + f"; {pg_version}.",
        "",
        "The need: 800–1 200 m² (required), storage/logistics (required), rent ≤ 90 €/m²/year "
        "(required, +10 % tolerance), within 6 km of Rungis (required); score = 100 × "
        "(30·u_surface + 20·u_use + 20·u_budget + 15·u_location) / 85; top 20, ties to the "
        "smaller id. Synthetic catalogue inside the territory's boundary (seed 42).",
        "",
        f"Latencies in ms (p50 / p95). *Floor*: numpy reading once the {len(FLOOR_COLUMNS)} "
        "columns a perfect implementation must read in full for this need ("
        + ", ".join(f"`{c}`" for c in FLOOR_COLUMNS)
        + "; `col.sum()` each), measured interleaved with the engine's queries. The "
        "coordinates are not in the floor: a spatial index reads x and y only for the "
        "listings in the cells around Rungis, as the engine's grid does (an earlier floor "
        "also summed x and y, which made the engine ÷ floor ratio look smaller). "
        "*Engine*: `matcher.match(index, need, k=20, explain=False)` (filters, diagnostics, "
        "scores, exact top-k); *+ reasons*: the same with French/English reasons for the 20. "
        '*Same top-k* "yes": the same 20 ids in the same order with bit-identical scores '
        "(every implementation computes the same formula with the same operations).",
        "",
        "| premises | index build | index arrays / RSS growth | matching | floor | engine "
        "| engine ÷ floor | + reasons | geopandas | PostGIS | DuckDB | same top-k "
        "(gpd / PostGIS / DuckDB) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in sizes:
        ratio = np.median(r.engine) / np.median(r.floor)
        lines.append(
            f"| {r.n:,} | {r.build_s:.2f} s | {r.index_mb:.0f} MB / {r.rss_mb:.0f} MB "
            f"| {r.n_matching:,} | {_p(r.floor, 50):.2f} / {_p(r.floor, 95):.2f} "
            f"| {_p(r.engine, 50):.2f} / {_p(r.engine, 95):.2f} | {ratio:.2f}× "
            f"| {_p(r.engine_explain, 50):.2f} "
            f"| {_p(r.geopandas, 50):.1f} / {_p(r.geopandas, 95):.1f} "
            f"| {_p(r.postgis, 50):.1f} / {_p(r.postgis, 95):.1f} "
            f"| {_p(r.duckdb, 50):.1f} / {_p(r.duckdb, 95):.1f} "
            f"| {r.same.get('geopandas')} / {r.same.get('postgis')} / {r.same.get('duckdb')} |"
        )
    lines.append("")
    for r in sizes:
        lines.append(
            f"- {r.n:,} premises: one listing changed (new rent, moved ~75 m) with "
            f"`MatchIndex.update` in {r.update_ms:.2f} ms (p50 of 20), against "
            f"{r.build_s:.2f} s for a full build"
            + (
                f"; PostGIS load (COPY, GiST, ANALYZE) {r.pg_load_s:.1f} s."
                if not np.isnan(r.pg_load_s)
                else "."
            )
        )
    if batch is not None:
        lines += [
            "",
            f"Batch: {batch.n_needs:,} synthetic saved needs × {batch.n_premises:,} premises, "
            f"top 20 each, chunks of {batch.chunk_size}: **{batch.seconds:.1f} s** "
            f"({batch.seconds / batch.n_needs * 1e3:.2f} ms per need, {batch.rows:,} result "
            f"rows); peak memory traced above the index over {batch.peak_mb_sample:,} needs: "
            f"**{batch.peak_mb:.0f} MB** (memory is bounded by a chunk, not by the number of "
            "needs).",
            "",
            f"Reverse: one listing against the {batch.n_needs:,} saved needs (which companies "
            f"it fits), vectorised over the needs: **{batch.reverse_ms:.2f} ms** per listing "
            f"(a listing fits {batch.reverse_fits:.1f} needs on average).",
        ]
    lines += [
        "",
        "PostGIS: `SET jit = off` for the session (with JIT on, the cost estimate of the "
        "scoring expressions triggers JIT compilation and each query takes ~300 ms more); "
        "one GiST index on the point, `ST_DWithin` plus the same arithmetic predicate as "
        "the engine. DuckDB: in-memory table, default threads. geopandas: the catalogue "
        "projected to EPSG:2154 once, then boolean masks, `GeoSeries.dwithin`/`distance`, "
        "`sort_values`.",
        "",
        "Targets: at 1M premises, engine p50 within 3× the floor; faster than PostGIS and "
        "DuckDB at 100k and 1M. The machine is shared: other processes may run during a "
        "benchmark, which is why the floor is measured interleaved with the queries.",
        "",
    ]
    for r in sizes:
        if r.n == 1_000_000:
            ratio = np.median(r.engine) / np.median(r.floor)
            met = "met" if ratio <= 3 else "not met"
            lines += [f"At 1M: engine ÷ floor **{ratio:.2f}×** (target 3×: {met}).", ""]
    return "\n".join(lines)


def write_results(section: str, path: Path = RESULTS) -> None:
    """Replace (or add) the matcher section of RESULTS.md, keeping other sections."""
    write_section("matcher", section, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=None,
        help="catalogue sizes (default 10000 100000 1000000)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="10k and 100k only, fewer repetitions, batch of 1,000 needs",
    )
    parser.add_argument(
        "--pg-url", default=os.environ.get("IMPLANTER_BENCH_PG_URL", DEFAULT_PG_URL)
    )
    parser.add_argument("--no-postgis", action="store_true")
    parser.add_argument(
        "--batch-needs",
        type=int,
        default=None,
        help="needs in the batch run (default 10,000; 1,000 with --quick)",
    )
    parser.add_argument("--batch-premises", type=int, default=100_000)
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="Markdown file to update (use '-' to skip writing)",
    )
    args = parser.parse_args(argv)
    sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
    n_batch = args.batch_needs or (1_000 if args.quick else 10_000)
    start = time.perf_counter()

    def log(msg: str) -> None:
        print(f"{time.perf_counter() - start:7.1f}s  {msg}", flush=True)

    info = machine()
    territory = load_territory_or_none()
    log("territory: " + ("loaded" if territory is not None else "missing, using a bounding box"))
    pg: PostGIS | None = None
    pg_version = "PostGIS not measured"
    if not args.no_postgis:
        try:
            pg = PostGIS(args.pg_url)
            pg_version = pg.version
            log(f"PostGIS: {pg_version}")
        except Exception as exc:  # the server may be absent; say so and go on
            log(f"PostGIS unavailable ({exc.__class__.__name__}: {exc}); skipping it")
    results: list[SizeResult] = []
    batch_index: MatchIndex | None = None
    for n in sizes:
        res, index = run_size(n, territory=territory, quick=args.quick, pg=pg, log=log)
        results.append(res)
        if n == args.batch_premises:
            batch_index = index
        del index
        gc.collect()
    if batch_index is None:
        cat = synthetic_catalogue(args.batch_premises, seed=42, territory=territory)
        batch_index = MatchIndex.from_frame(cat, **access_points(territory))
    batch = run_batch(batch_index, n_batch, territory, log)
    wall = time.perf_counter() - start
    command = "python -m bench.bench_match " + " ".join(argv if argv is not None else sys.argv[1:])
    section = report(results, batch, info, pg_version, command.strip(), wall)
    print()
    print(section)
    if str(args.results) != "-":
        write_results(section, args.results)
        log(f"wrote {args.results}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
