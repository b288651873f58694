"""What a user installs: the licence, the data notice, the lock file, the runtime dependencies."""

from __future__ import annotations

import ast
import json
import re
import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def test_licence_is_the_agpl_v3_text_declared_in_pyproject() -> None:
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines[0].strip() == "GNU AFFERO GENERAL PUBLIC LICENSE"
    assert lines[1].strip() == "Version 3, 19 November 2007"
    assert len(lines) == 661
    assert "END OF TERMS AND CONDITIONS" in text
    project = _pyproject()["project"]
    assert project["license"] == "AGPL-3.0-or-later"
    assert project["license-files"] == ["LICENSE", "NOTICE"]
    sdist = _pyproject()["tool"]["hatch"]["build"]["targets"]["sdist"]["only-include"]
    assert {"LICENSE", "NOTICE"} <= set(sdist)


def test_notice_names_every_shipped_layer_and_its_licence() -> None:
    notice = (ROOT / "NOTICE").read_text(encoding="utf-8")
    manifest = json.loads(
        (ROOT / "geodata/territories/gosb/manifest.json").read_text(encoding="utf-8")
    )
    for layer in manifest["layers"]:
        assert layer["file"] in notice, layer["file"]
        for licence, spelled in (("ODbL", "ODbL"), ("Licence Ouverte", "Licence Ouverte")):
            if licence in layer["licence"]:
                block = notice.split(layer["file"], 1)[1].split("\n\n", 1)[0]
                assert spelled in block, (layer["file"], licence)
    assert "© OpenStreetMap contributors" in notice
    assert "Île-de-France Mobilités" in notice
    assert "geodata/io/cnig_schemas/" in notice


def _locked() -> dict[str, str]:
    """Name -> version pinned in requirements.lock (names normalised as in PEP 503)."""
    pins: dict[str, str] = {}
    for line in (ROOT / "requirements.lock").read_text(encoding="utf-8").splitlines():
        if line and line[0].isalnum():
            name, version = line.split(";")[0].strip().split("==")
            pins[canonicalize_name(name)] = version
    return pins


def test_lock_pins_every_declared_dependency_within_its_range() -> None:
    pyproject = _pyproject()
    declared = [
        *pyproject["project"]["dependencies"],
        *pyproject["project"]["optional-dependencies"]["postgis"],
        *(r for r in pyproject["dependency-groups"]["dev"] if not r.startswith("implanter")),
    ]
    pins = _locked()
    for spec in map(Requirement, declared):
        name = canonicalize_name(spec.name)
        assert name in pins, f"{spec.name} is declared in pyproject.toml but not locked"
        assert spec.specifier.contains(pins[name]), (spec, pins[name])
        for extra in spec.extras:  # psycopg[binary] brings psycopg-binary
            assert f"{name}-{extra}" in pins, (spec, extra)


def test_uv_lock_and_its_pip_export_agree_and_name_no_local_path() -> None:
    uv_lock = tomllib.loads((ROOT / "uv.lock").read_text(encoding="utf-8"))
    in_uv = {
        canonicalize_name(p["name"]): p["version"]
        for p in uv_lock["package"]
        if p["name"] != "implanter"
    }
    pins = _locked()
    # The export leaves out what only another platform needs; what it pins, uv.lock pins alike.
    assert pins.items() <= in_uv.items()
    for p in uv_lock["package"]:
        if p["name"] != "implanter":
            assert p["source"] == {"registry": "https://pypi.org/simple"}, p["name"]
    for name in ("uv.lock", "requirements.lock"):
        text = (ROOT / name).read_text(encoding="utf-8")
        assert "file://" not in text and "--find-links" not in text and "/home/" not in text


def _runtime_closure() -> set[str]:
    """Distributions a plain install brings: the runtime dependencies and theirs, no extras."""
    todo = [Requirement(r) for r in _pyproject()["project"]["dependencies"]]
    seen: set[str] = set()
    while todo:
        req = todo.pop()
        name = canonicalize_name(req.name)
        if name in seen:
            continue
        seen.add(name)
        for sub in metadata.requires(req.name) or []:
            sub_req = Requirement(sub)
            if sub_req.marker is None or sub_req.marker.evaluate({"extra": ""}):
                todo.append(sub_req)
    return seen


def test_a_plain_install_brings_every_module_the_packages_import() -> None:
    """Every third-party module imported by geodata, matcher or api, or named as a pandas or
    geopandas I/O engine (``engine="openpyxl"``), comes with the runtime dependencies."""
    first_party = {"geodata", "matcher", "api"}
    modules: set[str] = set()
    for package in sorted(first_party):
        for path in (ROOT / package).rglob("*.py"):
            source = path.read_text(encoding="utf-8")
            for node in ast.walk(ast.parse(source)):
                if isinstance(node, ast.Import):
                    modules.update(a.name.split(".")[0] for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    modules.add(node.module.split(".")[0])
            modules.update(re.findall(r"""engine=["'](\w+)["']""", source))
    third_party = modules - first_party - set(sys.stdlib_module_names)
    dists = metadata.packages_distributions()
    closure = _runtime_closure()
    missing = {
        m: dists.get(m)
        for m in sorted(third_party)
        if not {canonicalize_name(d) for d in dists.get(m, [m])} & closure
    }
    assert not missing, f"imported but not brought by [project] dependencies: {missing}"
    assert {"openpyxl", "pyogrio", "typer", "uvicorn"} <= third_party
