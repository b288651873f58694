# Two commands on a fresh machine with Python >= 3.11: `make run` and `make test`.
# Each creates .venv (once) and installs the pinned set of requirements.lock (runtime, the
# postgis extra and the dev group, with hashes), then the project itself without dependencies.
# `make lock` re-resolves the pins after a change to pyproject.toml (see README, "Installing").

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
BENCH_HTTP_ARGS ?=
LOCK := requirements.lock
# uv resolves the lock; it lives in its own small venv so that it is not part of the pinned set.
UV_VERSION := 0.13.9
LOCK_TOOL := $(VENV)/lock-tool
UV_LOCK_ARGS ?=
# Leaflet and its plugins, served by the app from api/static/vendor (git-ignored), installed
# from web/package-lock.json by npm at build time: no page loads a script from a CDN.
VENDOR := api/static/vendor
VENDOR_STAMP := $(VENDOR)/.copied

.PHONY: run test lint vendor bench bench-cli bench-http bench-import bench-allocation bench-calibration bench-alerts bench-dashboard \
	bench-maps bench-exports lock clean-db

$(STAMP): pyproject.toml $(LOCK) $(VENDOR_STAMP)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $(STAMP)

## Install the pinned front-end assets (npm ci) and copy their dist files into api/static/vendor.
vendor: $(VENDOR_STAMP)

$(VENDOR_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	rm -rf $(VENDOR) && mkdir -p $(VENDOR)/leaflet $(VENDOR)/markercluster $(VENDOR)/heat \
		$(VENDOR)/supercluster
	cp -R web/node_modules/leaflet/dist/leaflet.js web/node_modules/leaflet/dist/leaflet.css \
		web/node_modules/leaflet/dist/images web/node_modules/leaflet/LICENSE $(VENDOR)/leaflet/
	cp web/node_modules/leaflet.markercluster/dist/leaflet.markercluster.js \
		web/node_modules/leaflet.markercluster/dist/MarkerCluster.css \
		web/node_modules/leaflet.markercluster/dist/MarkerCluster.Default.css \
		web/node_modules/leaflet.markercluster/MIT-LICENCE.txt $(VENDOR)/markercluster/
	cp web/node_modules/leaflet.heat/dist/leaflet-heat.js web/node_modules/leaflet.heat/LICENSE \
		$(VENDOR)/heat/
	cp web/node_modules/supercluster/dist/supercluster.min.js web/node_modules/supercluster/LICENSE \
		$(VENDOR)/supercluster/
	touch $(VENDOR_STAMP)

## Serve the app on http://127.0.0.1:8000 (SQLite file var/implanter.db, demo data on first run).
run: $(STAMP) $(VENDOR_STAMP)
	IMPLANTER_API__DEMO_PHOTOS=$${IMPLANTER_API__DEMO_PHOTOS:-6} $(BIN)/implanter serve

## Run the whole test suite (PostGIS and Chromium tests skip if absent, unless required).
test: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check geodata matcher api
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.bench_match

## Time `implanter match` as a whole process (demo and 100k premises), with its imports.
bench-cli: $(STAMP)
	$(BIN)/python -m bench.bench_cli

## Load `implanter serve` on loopback (demo and 100k premises): requests/s, p50, p99, server CPU.
## `make bench-http BENCH_HTTP_ARGS="--workers 2"` adds the cross-worker freshness check.
bench-http: $(STAMP)
	$(BIN)/python -m bench.bench_http $(BENCH_HTTP_ARGS)

## Time `implanter import` of 100k listings as a whole process, on SQLite and PostGIS.
bench-import: $(STAMP)
	$(BIN)/python -m bench.bench_import

## Time the catalogue map in Chromium at 360, 10,000 and 100,000 premises, clustered or not.
bench-maps: $(STAMP) $(VENDOR_STAMP)
	$(BIN)/python -m bench.bench_maps

## Time the allocation of the Valenton village's lots (40 demo applicants), optimum vs first come.
bench-allocation: $(STAMP)
	$(BIN)/python -m bench.bench_allocation

## Learned ranking weights against the defaults on simulated outcomes (NDCG@10, MRR, intervals).
bench-calibration: $(STAMP)
	$(BIN)/python -m bench.bench_calibration

## OGC items p50/p99 and full GeoJSON/GeoPackage exports of 100k premises on SQLite and
## PostGIS (server time and peak memory), beside ogr2ogr reading PostGIS straight.
bench-exports: $(STAMP)
	$(BIN)/python -m bench.bench_exports

## Alerts inside a listing write and an import (1,000 and 10,000 listings against 180 and
## 2,000 saved searches), and webhook deliveries per second.
bench-alerts: $(STAMP)
	$(BIN)/python -m bench.bench_alerts

## The staff dashboard at 360 and 10,000 listings: the day's first view, again, filtered,
## and after a write.
bench-dashboard: $(STAMP)
	$(BIN)/python -m bench.bench_dashboard

## Re-resolve uv.lock after editing pyproject.toml (keeps current pins unless they no longer
## fit; `make lock UV_LOCK_ARGS=--upgrade` takes the newest), then export requirements.lock.
lock:
	test -x $(LOCK_TOOL)/bin/uv || ($(PYTHON) -m venv $(LOCK_TOOL) \
		&& $(LOCK_TOOL)/bin/python -m pip install --quiet "uv==$(UV_VERSION)")
	$(LOCK_TOOL)/bin/uv lock $(UV_LOCK_ARGS)
	$(LOCK_TOOL)/bin/uv export --frozen --quiet --format requirements-txt --extra postgis \
		--group dev --no-emit-project -o $(LOCK)

clean-db:
	rm -f var/implanter.db var/implanter.db-wal var/implanter.db-shm
