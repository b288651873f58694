"""Start-up of the ``implanter`` command line: each path imports only what it needs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Runs the command line in-process, then prints the names of the modules it imported.
PROBE = """
import json, runpy, sys
sys.argv = ["implanter", *json.loads(sys.argv[1])]
try:
    runpy.run_module("api.cli", run_name="__main__", alter_sys=True)
except SystemExit as exc:
    if exc.code not in (0, None):
        raise
print("\\nMODULES " + json.dumps(sorted(sys.modules)))
"""

#: What only the web server (serve), or no command yet, needs.
SERVER_ONLY = {"fastapi", "starlette", "uvicorn", "jinja2", "folium", "sklearn"}


def imported_by(*args: str) -> set[str]:
    r = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps(args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    line = r.stdout.rsplit("\nMODULES ", 1)[1]
    return {name.split(".")[0] for name in json.loads(line)}


def test_help_imports_neither_the_catalogue_nor_the_engine_nor_the_server() -> None:
    loaded = imported_by("--help")
    heavy = {"numpy", "pandas", "geopandas", "shapely", "pyproj", "scipy", "sqlalchemy"}
    heavy |= {"alembic", "pydantic", "pydantic_settings", "geodata", "matcher", "rich"}
    assert not loaded & (heavy | SERVER_ONLY), sorted(loaded & (heavy | SERVER_ONLY))
    assert "typer" in loaded


def test_catalogue_commands_do_not_import_the_web_server(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    subprocess.run(
        [sys.executable, "-m", "api.cli", "demo", "-d", db, "--premises", "40", "--needs", "1"],
        cwd=ROOT,
        capture_output=True,
        check=True,
        timeout=300,
    )
    loaded = imported_by("match", "--need-id", "1", "-d", db)
    assert {"matcher", "geodata", "numpy"} <= loaded
    assert not loaded & SERVER_ONLY, sorted(loaded & SERVER_ONLY)
    # Matching reads the catalogue as numpy columns and the territory's layers as arrays, finds
    # the nearest station without a k-d tree, and skips the migration check of a current
    # schema: none of these is needed (they cost about a second of start-up together).
    not_for_match = {"pandas", "geopandas", "pyogrio", "scipy", "alembic", "sklearn"}
    assert not loaded & not_for_match, sorted(loaded & not_for_match)
    csv = str(tmp_path / "catalogue.csv")
    for args in (("export", csv, "-d", db), ("import", csv, "--dry-run", "-d", db)):
        loaded = imported_by(*args)
        assert "geodata" in loaded
        assert not loaded & SERVER_ONLY, (args[0], sorted(loaded & SERVER_ONLY))
