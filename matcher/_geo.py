"""Projection to Lambert-93 and named point sets (stations, interchanges) — private plumbing."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

import shapely

if TYPE_CHECKING:
    import pyproj

__all__ = ["PointSet", "as_point_set", "project_geometry", "to_lambert93", "to_wgs84_geometry"]


# Lambert-93 (EPSG:2154) is a Lambert conformal conic projection of the GRS80 ellipsoid
# (standard parallels 49° and 44°, origin 46.5° N 3° E, false easting 700 km, northing
# 6,600 km), and PROJ goes from WGS84 (EPSG:4326) to it without a datum shift. Its forward
# formulas are PROJ's (``lcc``), here in numpy: projecting a need's places then costs no
# pyproj import (about 60 ms of every `implanter match`); tests/matcher check it against
# pyproj. The inverse (rare: maps) stays pyproj's.
_A = 6378137.0
_F = 1 / 298.257222101
_E = math.sqrt(_F * (2 - _F))
_RAD = math.pi / 180


def _tsfn(phi: Any, sinphi: Any) -> Any:
    """exp(-ψ), ψ the isometric latitude (PROJ's ``pj_tsfn``)."""
    cosphi = np.cos(phi)
    side = np.where(sinphi > 0, cosphi / (1 + sinphi), (1 - sinphi) / cosphi)
    return np.exp(_E * np.arctanh(_E * sinphi)) * side


def _msfn(phi: float) -> float:
    return math.cos(phi) / math.sqrt(1 - _E * _E * math.sin(phi) ** 2)


def _cone() -> tuple[float, float, float]:
    """The cone constant n, the scale c and the radius at the origin of Lambert-93."""
    phi1, phi2, phi0 = 49 * _RAD, 44 * _RAD, 46.5 * _RAD
    t1 = float(_tsfn(phi1, math.sin(phi1)))
    n = math.log(_msfn(phi1) / _msfn(phi2)) / math.log(t1 / float(_tsfn(phi2, math.sin(phi2))))
    c = _msfn(phi1) * t1**-n / n
    return n, c, c * float(_tsfn(phi0, math.sin(phi0))) ** n


_N, _C, _RHO0 = _cone()


def to_lambert93(lon: Any, lat: Any) -> tuple[np.ndarray, np.ndarray]:
    """Project WGS84 longitudes and latitudes to Lambert-93 (EPSG:2154) metres.

    The same as pyproj's ``Transformer.from_crs(4326, 2154)`` to a few nanometres.

    Examples
    --------
    >>> x, y = to_lambert93([2.3522], [48.8566])
    >>> round(float(x[0])), round(float(y[0]))
    (652469, 6862035)
    """
    lam = np.asarray(lon, dtype=np.float64) * _RAD - 3 * _RAD
    lam = np.where(np.abs(lam) > math.pi, np.remainder(lam + math.pi, 2 * math.pi) - math.pi, lam)
    lam = lam * _N
    phi = np.asarray(lat, dtype=np.float64) * _RAD
    with np.errstate(invalid="ignore"):  # NaN in, NaN out
        rho = _C * _tsfn(phi, np.sin(phi)) ** _N
    x = _A * (rho * np.sin(lam)) + 700_000.0
    y = _A * (_RHO0 - rho * np.cos(lam)) + 6_600_000.0
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def project_geometry(geom: shapely.Geometry) -> shapely.Geometry:
    """A WGS84 shapely geometry projected to Lambert-93."""

    def _fn(coords: np.ndarray) -> np.ndarray:
        x, y = to_lambert93(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geom, _fn)


@dataclass(frozen=True)
class PointSet:
    """Named points (transit stations or motorway interchanges), WGS84 in, Lambert-93 kept.

    Build it from arrays with ``PointSet(lon, lat, names)``, or from a GeoDataFrame with
    :meth:`from_frame`.
    """

    lon: np.ndarray
    lat: np.ndarray
    names: np.ndarray
    x: np.ndarray = field(init=False, repr=False)
    y: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        lon = np.asarray(self.lon, dtype=np.float64).reshape(-1)
        lat = np.asarray(self.lat, dtype=np.float64).reshape(-1)
        names = np.asarray(self.names, dtype=object).reshape(-1)
        if not (len(lon) == len(lat) == len(names)):
            msg = (
                f"PointSet: lon, lat and names must have the same length, got {len(lon)}, "
                f"{len(lat)} and {len(names)}"
            )
            raise ValueError(msg)
        if len(lon) and not (np.all(np.abs(lon) <= 180) and np.all(np.abs(lat) <= 90)):
            msg = "PointSet: lon/lat out of range; pass WGS84 degrees (EPSG:4326)"
            raise ValueError(msg)
        x, y = to_lambert93(lon, lat)
        object.__setattr__(self, "lon", lon)
        object.__setattr__(self, "lat", lat)
        object.__setattr__(self, "names", names)
        object.__setattr__(self, "x", x)
        object.__setattr__(self, "y", y)

    def __len__(self) -> int:
        return len(self.lon)

    @classmethod
    def from_frame(
        cls, frame: Any, *, name_column: str = "name", open_only: bool = True
    ) -> PointSet:
        """Points of a GeoDataFrame (any CRS; only ``status == 'open'`` rows if it has one).

        The name is ``name_column``, else "<road> sortie <exit>" for interchanges.
        """
        gdf = frame
        if open_only and "status" in gdf.columns:
            gdf = gdf[gdf["status"].astype(str) == "open"]
        if gdf.crs is not None and not gdf.crs.equals("EPSG:4326"):
            gdf = gdf.to_crs(4326)
        geom = gdf.geometry.array if hasattr(gdf.geometry, "array") else gdf.geometry
        geoms = np.asarray(geom, dtype=object)
        kinds = set(shapely.get_type_id(geoms).tolist())
        if kinds - {0}:
            geoms = shapely.centroid(geoms)
        lon = shapely.get_x(geoms)
        lat = shapely.get_y(geoms)
        if name_column in gdf.columns:
            names = gdf[name_column].astype(str).to_numpy(dtype=object)
        elif {"road", "exit"} <= set(gdf.columns):
            names = (gdf["road"].astype(str) + " sortie " + gdf["exit"].astype(str)).to_numpy(
                dtype=object
            )
        else:
            names = np.asarray([str(i) for i in gdf.index], dtype=object)
        return cls(lon, lat, names)

    @classmethod
    def empty(cls) -> PointSet:
        """A set with no points."""
        return cls(np.empty(0), np.empty(0), np.empty(0, dtype=object))


def as_point_set(points: Any) -> PointSet | None:
    """Accept a :class:`PointSet`, a GeoDataFrame, a ``(lon, lat, names)`` tuple or None."""
    if points is None or isinstance(points, PointSet):
        return points
    if hasattr(points, "geometry"):
        return PointSet.from_frame(points)
    if isinstance(points, tuple | list) and len(points) == 3:
        return PointSet(*points)
    msg = (
        "stations / interchanges: pass a PointSet, a GeoDataFrame of points or a "
        f"(lon, lat, names) tuple, got {type(points).__name__}"
    )
    raise TypeError(msg)


@functools.cache
def _inverse() -> pyproj.Transformer:
    import pyproj  # lazy, for start-up speed: matching projects forward only (see above)

    return pyproj.Transformer.from_crs(2154, 4326, always_xy=True)


def to_wgs84_geometry(geom: shapely.Geometry) -> shapely.Geometry:
    """A Lambert-93 shapely geometry back in WGS84 (lon, lat)."""

    def _fn(coords: np.ndarray) -> np.ndarray:
        lon, lat = _inverse().transform(coords[:, 0], coords[:, 1])
        return np.column_stack([lon, lat])

    return shapely.transform(geom, _fn)
