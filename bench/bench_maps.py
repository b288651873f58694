"""Benchmark the catalogue map (``GET /carte``) in Chromium at 360, 10,000 and 100,000 premises.

The page is the app's own: ``create_app`` served by uvicorn on loopback, its match index
replaced by one built from a synthetic catalogue (``bench/synth.py``, seed 42) so that no
database import is needed; the route, the template, ``api/maps.py`` and ``api/static/maps.js``
run as in production. Each size is drawn clustered (``/carte``, markercluster with chunked
loading) and not (``/carte?cluster=false``: every marker on one canvas).

For each it reports:

- ``html_kib``: the page's bytes (the markers' GeoJSON is embedded in it), and ``geojson_kib``
  the GeoJSON alone;
- ``cold_ms``: the first request after the catalogue changed, which builds the markers'
  GeoJSON (then kept for that index snapshot, day and language), timed by the client;
- ``server_ms``: until the page's last byte has arrived (``responseEnd``: the server renders
  the page around the kept GeoJSON, then sends it over loopback);
- ``render_ms``: from navigation start until the markers layer is on the map (the map's
  script has run; ``data-markers`` set) and a frame has been painted after it;
- ``idle_ms``: from navigation start until the page is interactive: markers added (chunked
  clustering done) and the main thread idle (``requestIdleCallback``).

Headless Debian Chromium through Playwright, every request off the app blocked (no tiles):
the figures are the app's own. Target (issue 10): 10,000 premises interactive within 2 s.

Run::

    python -m bench.bench_maps                      # 360, 10k, 100k; into RESULTS.md
    python -m bench.bench_maps --sizes 360 10000 --results -   # print only
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.results import machine, write_section

RESULTS = Path(__file__).parent / "RESULTS.md"
CHROMIUM = "/usr/bin/chromium"
TARGET_MS = 2000

#: Waits in the page for the markers, a painted frame, then an idle main thread.
_WAIT = """async () => {
  const frame = () => new Promise(r => requestAnimationFrame(() => setTimeout(r, 0)));
  const el = document.querySelector('.folium-map');
  while (!el.dataset.markers) await frame();
  await frame();
  const rendered = performance.now();
  const layer = Object.values(window).find(v => v && v._featureGroup && v._needsClustering);
  while (layer && layer._queue && layer._queue.length) await frame();
  await new Promise(r => requestIdleCallback(r, {timeout: 60000}));
  const mark = n => (performance.getEntriesByName(n)[0] || {startTime: NaN}).startTime;
  const nav = performance.getEntriesByType('navigation')[0];
  return {rendered: rendered, idle: performance.now(), markers: +el.dataset.markers,
          response: nav.responseEnd, dcl: nav.domContentLoadedEventStart,
          html: nav.decodedBodySize,
          start: mark('implanter-points-start'), built: mark('implanter-points-built'),
          added: mark('implanter-points-added')};
}"""


class _Holder:
    """Stands in for the app's index holder: always the synthetic index."""

    def __init__(self, index: Any) -> None:
        self.index = index

    def current(self, conn: Any = None) -> Any:
        return self.index

    def snapshot(self) -> Any:
        return self.index


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def _serve(app: Any) -> Iterator[str]:
    import uvicorn

    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def _index(n: int, territory: Any) -> Any:
    from bench.synth import synthetic_catalogue
    from matcher.index import MatchIndex

    frame = synthetic_catalogue(n, seed=42, territory=territory)
    return MatchIndex.from_frame(frame, commune_names=territory.commune_names)


def measure(sizes: list[int], db_dir: Path, repeat: int = 3) -> list[dict[str, Any]]:
    """Serve the map for each size and time it in Chromium, clustered and not."""
    from playwright.sync_api import sync_playwright

    from api import maps
    from api.freshness import hide_before
    from api.main import create_app
    from api.settings import Settings
    from geodata.territory import default_territory

    if not maps.vendor_available():
        sys.exit("bench_maps: run `make vendor` first (Leaflet is not in api/static/vendor)")
    territory = default_territory()
    settings = Settings()
    settings.database.url = f"sqlite:///{db_dir / 'maps-bench.db'}"
    settings.api.demo_on_first_run = False
    settings.delivery.in_app = False
    # Every synthetic listing on the map, however long ago it was confirmed.
    settings.freshness.hide_days = 36_500
    app = create_app(settings)
    rows: list[dict[str, Any]] = []
    with _serve(app) as base, sync_playwright() as p:
        # Outside hosts do not resolve (no tiles), without intercepting the app's requests.
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1"],
        )
        for n in sizes:
            index = _index(n, territory)
            app.state.match_index = _Holder(index)
            since = hide_before(datetime.now(UTC), settings.freshness)
            geojson = maps.premises_features(index, maps.public_rows(index, since), "fr")
            geojson_bytes = len(json.dumps(geojson, separators=(",", ":")))
            # The first request builds and caches the catalogue's JSON (once per catalogue
            # version, day and language); the page loads below are served from that cache.
            t0 = time.perf_counter()
            browser.new_page().request.get(base + "/carte?cluster=false")
            cold_ms = (time.perf_counter() - t0) * 1000
            for cluster in (True, False):
                path = "/carte" if cluster else "/carte?cluster=false"
                runs = []
                for _ in range(1 if n > 20_000 else repeat):
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    response = page.goto(base + path, wait_until="commit")
                    assert response is not None and response.ok, path
                    got = page.evaluate(_WAIT)
                    runs.append(got)
                    print(n, path, {k: round(v) for k, v in got.items()}, flush=True)
                    page.close()
                best = min(runs, key=lambda r: r["idle"])
                rows.append(
                    {
                        "premises": n,
                        "clustered": cluster,
                        "markers": best["markers"],
                        "html_kib": best["html"] / 1024,
                        "geojson_kib": geojson_bytes / 1024,
                        "server_ms": best["response"],
                        "cold_ms": cold_ms,
                        "render_ms": best["rendered"],
                        "idle_ms": best["idle"],
                        "runs": len(runs),
                    }
                )
        browser.close()
    return rows


def _line(r: dict[str, Any]) -> str:
    return (
        f"| {r['premises']:,} | {'yes' if r['clustered'] else 'no'} | {r['markers']:,} | "
        f"{r['html_kib']:,.0f} | {r['geojson_kib']:,.0f} | {r['cold_ms']:,.0f} | "
        f"{r['server_ms']:,.0f} | "
        f"{r['render_ms']:,.0f} | {r['idle_ms']:,.0f} |"
    )


def report(rows: list[dict[str, Any]]) -> str:
    load = os.getloadavg()
    ten_k = [r for r in rows if r["premises"] == 10_000 and r["clustered"]]
    verdict = (
        f"Target (10,000 premises interactive within {TARGET_MS / 1000:g} s, clustered): "
        + ("met" if ten_k and ten_k[0]["idle_ms"] <= TARGET_MS else "not met")
        + (f" ({ten_k[0]['idle_ms'] / 1000:.2f} s)." if ten_k else ".")
    )
    lines = [
        "## Catalogue map in Chromium — issue 10",
        "",
        "`python -m bench.bench_maps`: `GET /carte` of the app (uvicorn on loopback) over a "
        "synthetic catalogue (seed 42), headless Debian Chromium, outside hosts unresolvable "
        "(no tiles). Times from navigation start; the best of 3 runs (1 at 100,000).",
        "",
        f"Machine: {machine(load=False)}; load average (1 min) at the end {load[0]:.2f} (a "
        "shared machine: read the times as upper bounds).",
        "",
        "| premises | clustered | markers | HTML KiB | GeoJSON KiB | first request ms | "
        "page received ms | markers drawn ms | interactive ms |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
        *(_line(r) for r in rows),
        "",
        verdict,
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[360, 10_000, 100_000])
    parser.add_argument(
        "--results",
        default=str(RESULTS),
        help="the results file whose maps section is replaced; - prints only",
    )
    args = parser.parse_args(argv)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        rows = measure(args.sizes, Path(tmp))
    text = report(rows)
    print(text)
    if args.results != "-":
        write_section("maps", text.rstrip("\n"), Path(args.results))


if __name__ == "__main__":
    main()
