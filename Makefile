# Two commands on a fresh machine with Python >= 3.11: `make run` and `make test`.
# Each creates .venv (once) and installs the project with its development tools.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: run test lint bench clean-db

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade "pip>=25.1"
	$(BIN)/python -m pip install --quiet -e . --group dev
	touch $(STAMP)

## Serve the app on http://127.0.0.1:8000 (SQLite file var/implanter.db, demo data on first run).
run: $(STAMP)
	$(BIN)/implanter serve

## Run the whole test suite (PostGIS and Chromium tests skip if absent, unless required).
test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check geodata matcher api
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench.bench_match

clean-db:
	rm -f var/implanter.db var/implanter.db-wal var/implanter.db-shm
