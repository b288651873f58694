"""Every staff notebook runs top to bottom on the demo catalogue, headless.

The notebooks are kept as jupytext percent-format scripts (``notebooks/NN_name.py``): each is
turned into a notebook here, executed by a real Jupyter kernel (nbclient, ``python3``, from the
repository's root) and checked for errors, warnings and one thing a reader would look for.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jupytext
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))


def _outputs(nb: Any) -> list[Any]:
    return [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]


def _stream(outputs: list[Any], name: str = "stdout") -> str:
    return "".join(
        o.get("text", "") for o in outputs if o.output_type == "stream" and o.name == name
    )


def _data(outputs: list[Any], mime: str) -> list[str]:
    return [
        o.data[mime]
        for o in outputs
        if o.output_type in ("display_data", "execute_result") and mime in o.get("data", {})
    ]


def _figures(outputs: list[Any]) -> int:
    return len(_data(outputs, "image/png"))


def _leaflet_maps(outputs: list[Any]) -> list[str]:
    # folium's notebook view: an iframe whose srcdoc holds the page, HTML-escaped.
    return [h for h in _data(outputs, "text/html") if "L.map(" in h and "leaflet" in h]


def _check_catalogue(outputs: list[Any]) -> None:
    text = _stream(outputs)
    assert re.search(r"\d+ locaux au catalogue, dont \d+ disponibles", text)
    html = "".join(_data(outputs, "text/html"))
    assert "Entrepôt" in html and "Terrain" in html  # the kinds, in French
    assert "Loyer médian" in html
    maps = _leaflet_maps(outputs)
    assert len(maps) == 1
    # Two layers, building floor area and land, never added together.
    assert "Surface bâtie disponible (m²)" in maps[0]
    assert "Terrains disponibles (m²)" in maps[0]
    assert _figures(outputs) >= 2


def _check_matching(outputs: list[Any]) -> None:
    text = _stream(outputs)
    html = "".join(_data(outputs, "text/html"))
    assert "Utilité" in html  # the per-criterion utilities, labelled in French
    assert "au lieu de" in text  # a relaxation, rendered in French
    assert _figures(outputs) >= 1


def _check_demand(outputs: list[Any]) -> None:
    text = _stream(outputs)
    assert re.search(r"\d+ besoins? actifs? pour .+\sm²", text)
    assert len(_leaflet_maps(outputs)) == 1
    assert _figures(outputs) >= 1


def _check_allocation(outputs: list[Any]) -> None:
    text = _stream(outputs)
    assert "premier arrivé, premier servi" in text
    assert re.search(r"[Ll]ots? [A-Z]\d+.* à ", text)  # a lot given, with its reason
    assert "refusé" in text
    assert len(_leaflet_maps(outputs)) == 1
    assert _figures(outputs) >= 1


def _check_calibration(outputs: list[Any]) -> None:
    text = _stream(outputs)
    html = "".join(_data(outputs, "text/html"))
    # Learned weights beat the defaults on held-out needs, with the interval above zero.
    assert "Les poids appris sont meilleurs que les poids par défaut" in text
    # Access and budget, which the simulated companies weigh more, move toward them.
    moved = re.search(r"Poids rapprochés des préférences cachées : (.+)", text)
    assert moved and "accès" in moved.group(1).lower() and "budget" in moved.group(1).lower()
    assert "préférences cachées" in html and "NDCG@10" in html
    assert _figures(outputs) >= 1


CHECKS = {
    "01_catalogue": _check_catalogue,
    "02_matching": _check_matching,
    "03_demand": _check_demand,
    "04_allocation": _check_allocation,
    "05_calibration": _check_calibration,
}


def test_every_notebook_has_a_check() -> None:
    assert sorted(p.stem for p in NOTEBOOKS) == sorted(CHECKS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_executes(path: Path) -> None:
    nb = jupytext.read(path)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    NotebookClient(
        nb,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(ROOT)}},
    ).execute()
    outputs = _outputs(nb)
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, "\n".join(f"{e.ename}: {e.evalue}" for e in errors)
    # No warning and no log line, but matplotlib's one-off note on a fresh machine.
    stderr = [
        line
        for line in _stream(outputs, "stderr").splitlines()
        if line.strip() and "Matplotlib is building the font cache" not in line
    ]
    assert not stderr, "\n".join(stderr)
    CHECKS[path.stem](outputs)
