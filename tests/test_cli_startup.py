"""Start-up of the ``implanter`` command line: each path imports only what it needs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

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


def probe_output(args: Sequence[str], probe: str = PROBE) -> str:
    """What ``probe`` prints when it runs the command line with ``args`` in a new process."""
    r = subprocess.run(
        [sys.executable, "-c", probe, json.dumps(list(args))],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert r.returncode == 0, r.stderr
    return r.stdout


def modules_of(output: str) -> set[str]:
    """The top-level packages the probe's output lists as imported."""
    line = output.rsplit("\nMODULES ", 1)[1]
    return {name.split(".")[0] for name in json.loads(line)}


def imported_by(*args: str) -> set[str]:
    return modules_of(probe_output(args))


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


def test_match_on_a_kept_index_reads_neither_the_database_layer_nor_pyproj(
    tmp_path: Path,
) -> None:
    """The second `match` of a need file on an unchanged SQLite catalogue reads the kept index
    (api.index_cache.quick_index): no SQLAlchemy, no migration check, no pydantic-settings, no
    projection library (the need's places are projected by matcher._geo in numpy), and no
    listing model built."""
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    need = tmp_path / "need.json"
    need.write_text(
        json.dumps(
            {
                "company_name": "Primeurs",
                "surface_min_m2": 800,
                "surface_max_m2": 1200,
                "uses": ["logistics"],
                "places": [{"label": "MIN de Rungis", "lon": 2.355, "lat": 48.759}],
            }
        ),
        encoding="utf-8",
    )
    for args in (
        ("demo", "-d", db, "--premises", "40", "--needs", "1"),
        ("match", str(need), "-d", db),  # builds the index and keeps it beside the file
    ):
        subprocess.run(
            [sys.executable, "-m", "api.cli", *args],
            cwd=ROOT,
            capture_output=True,
            check=True,
            timeout=300,
        )
    assert (tmp_path / "demo.db.match-index").exists()
    probe = PROBE.replace(
        'print("\\nMODULES "',
        "import geodata.schemas as s\n"
        "print('\\nBUILT ' + json.dumps(sorted(m.__name__ for m in (s.PremisesBase,"
        " s.PremisesCreate, s.Premises, s.PremisesUpdate, s.PremisesPublic, s.NeedIn)"
        " if m.__pydantic_complete__)))\n"
        'print("\\nMODULES "',
    )
    output = probe_output(["match", str(need), "-d", db], probe)
    loaded = modules_of(output)
    assert {"matcher", "geodata", "numpy"} <= loaded
    not_for_kept_index = {"sqlalchemy", "alembic", "pyproj", "pandas", "geopandas", "pyogrio"}
    not_for_kept_index |= {"pydantic_settings"}
    not_for_kept_index |= {"scipy", "sklearn"} | SERVER_ONLY
    assert not loaded & not_for_kept_index, sorted(loaded & not_for_kept_index)
    # Only the need model was built (defer_build), not the listing models.
    built = json.loads(output.rsplit("\nBUILT ", 1)[1].split("\n", 1)[0])
    assert built == ["NeedIn"], built


@pytest.mark.parametrize(
    "environ",
    [
        {},
        {"IMPLANTER_TERRITORY": "other", "IMPLANTER_DATABASE__URL": "sqlite:///x.db"},
        {"implanter_database__index_cache": "off", "IMPLANTER_FRESHNESS__HIDE_DAYS": "120"},
        {"IMPLANTER_FRESHNESS__FLAG_DAYS": "30", "IMPLANTER_FRESHNESS__HIDE_DAYS": "45"},
        {"PATH_LIKE": "unrelated", "IMPLANTER_DATABASE__URL": ""},
        {"IMPLANTER_REQUIRE_POSTGIS": "1", "IMPLANTER_NOT_A_SETTING__X": "y"},
    ],
)
def test_match_settings_read_what_settings_reads(
    environ: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.settings import Settings
    from api.settings_models import match_settings

    for key in [k for k in os.environ if k.lower().startswith("implanter_")]:
        monkeypatch.delenv(key)
    for key, value in environ.items():
        monkeypatch.setenv(key, value)
    fast = match_settings(os.environ)
    full = Settings()
    assert fast is not None
    assert fast.territory == full.territory
    assert fast.database == full.database
    assert fast.freshness == full.freshness


@pytest.mark.parametrize(
    "environ",
    [
        {"IMPLANTER_AUTH__SESSION_SECRET": "short"},  # another section: Settings() checks it
        {"IMPLANTER_DATABASE": '{"url": "sqlite:///j.db"}'},  # a section as JSON
        {"IMPLANTER_FRESHNESS__HIDE_DAYS": "soon"},  # invalid: Settings() says why
        {"IMPLANTER_FRESHNESS__FLAG_DAYS": "100"},  # flag_days > hide_days
        {"IMPLANTER_DATABASE__NAME": "x"},  # not a field of the section
        {"IMPLANTER_UPLOADS": "{}"},
    ],
)
def test_match_settings_leave_anything_else_to_settings(environ: dict[str, str]) -> None:
    from api.settings_models import match_settings

    assert match_settings(environ) is None
    assert match_settings({"IMPLANTER_TERRITORY": "a", "implanter_territory": "b"}) is None


def test_match_settings_know_the_fields_of_settings() -> None:
    from api.settings import Settings
    from api.settings_models import SETTINGS_FIELDS

    assert set(Settings.model_fields) == SETTINGS_FIELDS
