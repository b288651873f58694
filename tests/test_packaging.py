"""What a user installs: the licence, the data notice, the lock file, the runtime dependencies."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

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
