"""Read and write listing layers as GeoJSON or GeoPackage (pyogrio), reprojected to WGS84.

Row numbers
-----------
In a geometry file a row is the 1-based feature number in the layer (the first feature
is 1); errors about the whole file use row 0.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import pyogrio
import shapely
from pyproj import CRS

from geodata.io._csv import RawTable
from geodata.territory import to_lambert93, to_wgs84

__all__ = [
    "LAMBERT93",
    "WGS84",
    "read_geo_table",
    "to_lambert93",
    "to_wgs84",
    "write_geojson",
    "write_gpkg",
]

WGS84 = "EPSG:4326"
LAMBERT93 = "EPSG:2154"
#: Layer names of an exported GeoPackage.
PREMISES_LAYER = "premises"
FOOTPRINTS_LAYER = "footprints"


def layer_names(path: Path) -> list[str]:
    """The layer names of a GeoPackage (or any OGR dataset), in file order."""
    return [str(name) for name in pyogrio.list_layers(path)[:, 0]]


def read_geo_table(path: str | Path, fmt: str, *, layer: str | None = None) -> RawTable:
    """Read a GeoJSON or GeoPackage layer into a :class:`RawTable` with WGS84 geometries.

    A GeoPackage is read from its ``premises`` layer when it has one, else its first
    layer. A layer without a CRS is taken as WGS84 (the GeoJSON default); any other CRS
    (Lambert-93...) is reprojected. Dates are kept as text so that they parse like CSV cells.
    """
    path = Path(path)
    if layer is None and fmt == "gpkg":
        names = layer_names(path)
        layer = PREMISES_LAYER if PREMISES_LAYER in names else (names[0] if names else None)
    frame = pyogrio.read_dataframe(path, layer=layer, datetime_as_string=True)
    notes: dict[str, str] = {}
    if layer is not None:
        notes["layer"] = layer
    geoms = np.asarray(frame.geometry.array, dtype=object) if "geometry" in frame else None
    if geoms is not None and frame.crs is not None and not CRS(frame.crs).equals(CRS(WGS84)):
        notes["crs"] = f"{CRS(frame.crs).to_string()} reprojected to {WGS84}"
        geoms = np.asarray(frame.geometry.to_crs(WGS84).array, dtype=object)
    table = pd.DataFrame(frame.drop(columns="geometry", errors="ignore")).astype(object)
    return RawTable(
        frame=table.reset_index(drop=True),
        rows=np.arange(1, len(table) + 1),
        fmt=fmt,
        header_row=0,
        geometry=geoms,
        notes=notes,
    )


def write_geojson(records: pd.DataFrame, lon: np.ndarray, lat: np.ndarray, path: Path) -> None:
    """Write point features (RFC 7946, WGS84) whose properties are ``records``.

    Written with :mod:`json` so that every coordinate round-trips exactly; ``NaN`` and
    ``None`` become ``null``; ``footprint`` (a GeoJSON dict) stays a nested object.
    """
    props = records.astype(object).where(records.notna(), None).to_dict("records")
    features = [
        {
            "type": "Feature",
            "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
            "properties": prop,
        }
        for prop, x, y in zip(props, lon, lat, strict=True)
    ]
    collection = {"type": "FeatureCollection", "features": features}
    path.write_text(json.dumps(collection, ensure_ascii=False, default=_json_default), "utf-8")


def write_gpkg(
    records: pd.DataFrame,
    lon: np.ndarray,
    lat: np.ndarray,
    footprints: np.ndarray,
    path: Path,
) -> None:
    """Write a GeoPackage: layer ``premises`` (points) and, if any, layer ``footprints``.

    ``footprints`` holds one WGS84 polygon or ``None`` per record; the footprints layer
    keeps the listing ``id`` (as ``premises_id``) and ``external_ref`` to join on.
    """
    import geopandas as gpd

    if path.exists():
        path.unlink()
    points = shapely.points(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    layer = gpd.GeoDataFrame(records.reset_index(drop=True), geometry=points, crs=WGS84)
    pyogrio.write_dataframe(layer, path, layer=PREMISES_LAYER, driver="GPKG")
    has = ~shapely.is_missing(footprints)
    if has.any():
        keys = pd.DataFrame(
            {
                "premises_id": records["id"].to_numpy()[has] if "id" in records else None,
                "external_ref": records["external_ref"].to_numpy()[has],
                "title": records["title"].to_numpy()[has],
            }
        )
        shapes = gpd.GeoDataFrame(keys, geometry=footprints[has], crs=WGS84)
        pyogrio.write_dataframe(shapes, path, layer=FOOTPRINTS_LAYER, driver="GPKG")


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    msg = f"cannot write {type(value).__name__} to GeoJSON"
    raise TypeError(msg)
