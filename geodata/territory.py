"""Load a territory's reference layers (communes, stations, interchanges, landmarks, zones)."""

from __future__ import annotations

import difflib
import functools
import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

import shapely
from shapely.geometry.base import BaseGeometry

if TYPE_CHECKING:
    import geopandas as gpd
    from pyproj import Transformer

__all__ = [
    "LAYERS",
    "TERRITORIES_DIR",
    "CommuneNameError",
    "Epci",
    "Layer",
    "Territory",
    "TerritoryError",
    "default_territory",
    "load_territory",
    "to_lambert93",
    "to_wgs84",
]

#: Folder holding one sub-folder per territory (``<name>/manifest.json`` + layers).
TERRITORIES_DIR = Path(__file__).resolve().parent / "territories"

#: Layers every territory must ship, with the properties each one must carry and its geometry.
LAYERS: Mapping[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "communes": (
        ("insee", "name", "department", "town_hall_lon", "town_hall_lat"),
        ("Polygon", "MultiPolygon"),
    ),
    "stations": (("id", "name", "lines", "modes", "status", "opening_year"), ("Point",)),
    "interchanges": (("id", "name", "road", "kind"), ("Point",)),
    "landmarks": (("id", "name", "kind"), ("Point",)),
    "zones": (("site_id", "site_nom", "site_type", "site_comm_insee"), ("Polygon",)),
}

_STORAGE_CRS = "EPSG:4326"
#: Names a GeoJSON file's (obsolete) ``crs`` member may give to WGS84 longitude/latitude.
_WGS84_NAMES = frozenset(
    {"EPSG:4326", "urn:ogc:def:crs:EPSG::4326", "OGC:CRS84", "urn:ogc:def:crs:OGC:1.3:CRS84"}
)
_METRIC_CRS = "EPSG:2154"
_GEOMETRY_TYPE_IDS = {"Point": 0, "LineString": 1, "Polygon": 3, "MultiPolygon": 6}
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class TerritoryError(ValueError):
    """A territory folder, its manifest or one of its layers is missing or malformed."""


class CommuneNameError(ValueError):
    """A commune name or code that names no commune of the territory, or several.

    Attributes
    ----------
    value : str
        What was given.
    matches : tuple of str
        The INSEE codes of the candidates: the communes it could mean when ambiguous, the
        closest names when unknown (possibly none).
    """

    def __init__(self, msg: str, value: str, matches: tuple[str, ...]) -> None:
        super().__init__(msg)
        self.value = value
        self.matches = matches


_INSEE_RE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
_ARTICLES = ("l", "le", "la", "les")
_SAINTS = {"st": "saint", "ste": "sainte"}


def _name_key(text: str) -> str:
    """Fold a commune name for lookup: no case, accents, hyphens or apostrophes; St = Saint.

    Examples
    --------
    >>> _name_key("  L'Haÿ-les-Roses ")
    'l hay les roses'
    >>> _name_key("VILLENEUVE ST GEORGES")
    'villeneuve saint georges'
    """
    plain = unicodedata.normalize("NFKD", text.replace("œ", "oe").replace("Œ", "OE"))
    plain = "".join(ch for ch in plain if not unicodedata.combining(ch)).lower()
    words = re.sub(r"[^a-z0-9]+", " ", plain).split()
    return " ".join(_SAINTS.get(w, w) for w in words)


# pyproj is imported on first projection, for start-up speed: `implanter match` on a kept
# index reads the territory without projecting it (about 60 ms of import saved).
@functools.cache
def _transformer() -> Transformer:
    from pyproj import Transformer

    return Transformer.from_crs(_STORAGE_CRS, _METRIC_CRS, always_xy=True)


@functools.cache
def _inverse_transformer() -> Transformer:
    from pyproj import Transformer

    return Transformer.from_crs(_METRIC_CRS, _STORAGE_CRS, always_xy=True)


def _project(x: NDArray[np.float64], y: NDArray[np.float64]) -> Any:
    """``shapely.transform`` callback: WGS84 lon/lat arrays to Lambert-93 metres."""
    return _transformer().transform(x, y)


def _as_xy(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Broadcast lon/lat to two flat float arrays (scalars become 1-element arrays)."""
    x, y = np.broadcast_arrays(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))
    return np.atleast_1d(x).ravel(), np.atleast_1d(y).ravel()


def to_lambert93(lon: ArrayLike, lat: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Project WGS84 lon/lat to Lambert-93 (EPSG:2154) metres.

    Parameters
    ----------
    lon, lat
        Longitudes and latitudes in degrees (scalars or arrays, broadcast together).

    Returns
    -------
    tuple of numpy.ndarray
        Easting and northing in metres, flat arrays.

    Examples
    --------
    >>> x, y = to_lambert93(2.3633, 48.7920)
    >>> round(float(x[0]) / 1000), round(float(y[0]) / 1000)
    (653, 6855)
    """
    x, y = _as_xy(lon, lat)
    ex, ny = _transformer().transform(x, y)
    return np.asarray(ex, dtype=float), np.asarray(ny, dtype=float)


def to_wgs84(x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Unproject Lambert-93 (EPSG:2154) metres to WGS84 lon/lat, the inverse of `to_lambert93`.

    Examples
    --------
    >>> lon, lat = to_wgs84(653000.0, 6850000.0)
    >>> round(float(lon[0]), 2), round(float(lat[0]), 2)
    (2.36, 48.75)
    """
    ex, ny = _as_xy(x, y)
    lon, lat = _inverse_transformer().transform(ex, ny)
    return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)


def _first_hit(
    tree: shapely.STRtree, points: NDArray[Any], values: NDArray[Any]
) -> NDArray[np.object_]:
    """For each point, the value of the first indexed geometry that intersects it, else None."""
    out = np.full(len(points), None, dtype=object)
    pt_idx, geom_idx = tree.query(points, predicate="intersects")
    if len(pt_idx):
        order = np.lexsort((geom_idx, pt_idx))
        pt_idx, geom_idx = pt_idx[order], geom_idx[order]
        first = np.r_[True, pt_idx[1:] != pt_idx[:-1]]
        out[pt_idx[first]] = values[geom_idx[first]]
    return out


@dataclass(frozen=True)
class Epci:
    """The établissement public de coopération intercommunale competent for a territory.

    Attributes
    ----------
    name : str
        Its full name (``"Établissement public territorial Grand-Orly Seine Bièvre"``).
    siren : str
        Its SIREN, nine digits with a valid check digit.
    """

    name: str
    siren: str


@dataclass(frozen=True, eq=False)
class Layer:
    """One reference layer as read from its GeoJSON file: geometries and properties.

    The arrays are what the territory's own look-ups and the match index need; the
    GeoDataFrame of the layer (:meth:`frame`, and :attr:`Territory.communes` and the other
    attributes) is built from them on first use, so that a command that only matches
    imports neither pandas nor geopandas.

    Attributes
    ----------
    geometry : numpy.ndarray
        The features' shapely geometries (EPSG:4326), in the file's order.
    properties : tuple of dict
        The features' properties, aligned with ``geometry``.
    columns : tuple of str
        Every property name found, in order of first appearance (the required ones of an
        empty layer).
    """

    geometry: NDArray[np.object_]
    properties: tuple[dict[str, Any], ...]
    columns: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.geometry)

    def column(self, name: str) -> NDArray[np.object_]:
        """One property of every feature, as an object array (None where a feature lacks it).

        Examples
        --------
        >>> default_territory().layer("communes").column("insee")[:2].tolist()
        ['91027', '91326']
        """
        if name not in self.columns:
            msg = f"{name!r}: no such property in the layer; use one of {list(self.columns)}"
            raise KeyError(msg)
        out = np.empty(len(self.properties), dtype=object)
        out[:] = [p.get(name) for p in self.properties]
        return out

    def frame(self, index: ArrayLike | None = None) -> gpd.GeoDataFrame:
        """The layer as a GeoDataFrame in EPSG:4326 (one column per property).

        Parameters
        ----------
        index : array-like, optional
            The frame's index (default: 0 to n - 1).
        """
        import pandas as pd

        import geopandas as gpd

        data = pd.DataFrame(list(self.properties), columns=list(self.columns), index=index)
        return gpd.GeoDataFrame(data, geometry=np.asarray(self.geometry), crs=_STORAGE_CRS)


@dataclass(frozen=True, eq=False)
class Territory:
    """A territory and its reference layers, all in EPSG:4326.

    Attributes
    ----------
    code : str
        Short code of the territory (``"gosb"``).
    name : str
        Human name (``"Grand-Orly Seine Bièvre"``).
    path : pathlib.Path
        Folder the territory was loaded from.
    layers : dict of str to Layer
        Every layer of :data:`LAYERS` as read from its file (the communes sorted by INSEE
        code); :meth:`layer` gives one.
    manifest : dict
        The parsed ``manifest.json``.
    communes : geopandas.GeoDataFrame
        Columns ``insee``, ``name``, ``department``, ``town_hall_lon``, ``town_hall_lat``,
        ``geometry`` (plus optional ones such as ``population``); indexed by INSEE code.
    stations, interchanges, landmarks, zones : geopandas.GeoDataFrame
        The other reference layers, as described in the territory's manifest.

    The GeoDataFrames are built from the layers on first use (pandas and geopandas are
    imported then): the look-ups of the territory (:meth:`commune_at`, :meth:`contains`,
    :meth:`commune_code`, …) work on the layers' arrays and need none.
    """

    code: str
    name: str
    path: Path
    layers: Mapping[str, Layer]
    manifest: dict[str, Any]

    def layer(self, name: str) -> Layer:
        """One reference layer (``"communes"``, ``"stations"``, …) as arrays."""
        if name not in self.layers:
            msg = f"{name!r}: no such layer; use one of {', '.join(self.layers)}"
            raise KeyError(msg)
        return self.layers[name]

    @functools.cached_property
    def communes(self) -> gpd.GeoDataFrame:
        """The member communes, indexed by INSEE code (see the class attributes)."""
        layer = self.layers["communes"]
        return layer.frame(index=list(self.commune_names))

    @functools.cached_property
    def stations(self) -> gpd.GeoDataFrame:
        """Public-transport stations; ``lines`` and ``modes`` are lists of str."""
        return _tidy_stations(self.layers["stations"].frame())

    @functools.cached_property
    def interchanges(self) -> gpd.GeoDataFrame:
        """Motorway interchanges (exits and junctions between motorways)."""
        return self.layers["interchanges"].frame()

    @functools.cached_property
    def landmarks(self) -> gpd.GeoDataFrame:
        """Economic landmarks."""
        return self.layers["landmarks"].frame()

    @functools.cached_property
    def zones(self) -> gpd.GeoDataFrame:
        """Activity zones (CNIG SITE-ECO attributes)."""
        return self.layers["zones"].frame()

    @functools.cached_property
    def commune_names(self) -> dict[str, str]:
        """INSEE code to name of every member commune, in code order.

        Examples
        --------
        >>> default_territory().commune_names["94065"]
        'Rungis'
        """
        layer = self.layers["communes"]
        return {
            str(code): str(name)
            for code, name in zip(layer.column("insee"), layer.column("name"), strict=True)
        }

    @property
    def epci(self) -> Epci | None:
        """The competent EPCI, from the ``epci`` entry of the manifest (None without one).

        Examples
        --------
        >>> default_territory().epci.siren
        '200058014'
        """
        epci = self.manifest.get("epci")
        return Epci(name=str(epci["name"]), siren=str(epci["siren"])) if epci else None

    @functools.cached_property
    def insee_codes(self) -> frozenset[str]:
        """INSEE codes of the member communes."""
        return frozenset(self.commune_names)

    @functools.cached_property
    def motorway_access(self) -> gpd.GeoDataFrame:
        """Interchanges where a vehicle can get on or off the road network (``kind == "exit"``).

        Motorway-to-motorway junctions (``kind == "junction"``, such as a split between two
        motorways) are left out: being next to one gives no access.
        """
        return self.interchanges[self.interchanges["kind"] == "exit"]

    @functools.cached_property
    def boundary(self) -> BaseGeometry:
        """Union of the communes, EPSG:4326 (Polygon or MultiPolygon), prepared for queries."""
        geom = shapely.union_all(self.layers["communes"].geometry)
        shapely.prepare(geom)
        return geom

    @functools.cached_property
    def boundary_l93(self) -> BaseGeometry:
        """Union of the communes in Lambert-93 (EPSG:2154)."""
        return shapely.union_all(
            shapely.transform(self.layers["communes"].geometry, _project, interleaved=False)
        )

    @functools.cached_property
    def _commune_tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.layers["communes"].geometry)

    @functools.cached_property
    def _zone_tree(self) -> shapely.STRtree:
        return shapely.STRtree(self.layers["zones"].geometry)

    def commune_at(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.object_]:
        """INSEE code of the commune containing each point, or None outside the territory.

        Parameters
        ----------
        lon, lat
            Coordinates in degrees (EPSG:4326), scalars or arrays broadcast together.
            Pass whole arrays: the lookup is one bulk STRtree query, not a loop.

        Returns
        -------
        numpy.ndarray
            Object array of INSEE codes (``str``) or ``None``, one per point. A point exactly on
            a shared border gets the commune that comes first in the layer (lowest INSEE code).

        Examples
        --------
        >>> t = default_territory()
        >>> t.commune_at([2.3633, 2.3522], [48.7920, 48.8566]).tolist()
        ['94076', None]
        """
        x, y = _as_xy(lon, lat)
        codes = self.layers["communes"].column("insee")
        return _first_hit(self._commune_tree, shapely.points(x, y), codes)

    def contains(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.bool_]:
        """Whether each point lies in the territory (border included).

        Parameters
        ----------
        lon, lat
            Coordinates in degrees (EPSG:4326), scalars or arrays broadcast together.

        Returns
        -------
        numpy.ndarray
            Boolean array, one value per point.

        Examples
        --------
        >>> default_territory().contains([2.3633, 2.3499], [48.7920, 48.8530]).tolist()
        [True, False]
        """
        x, y = _as_xy(lon, lat)
        return np.asarray(shapely.intersects_xy(self.boundary, x, y), dtype=bool)

    def distance_to_boundary_m(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.float64]:
        """Distance in metres from each point to the territory, computed in Lambert-93.

        Parameters
        ----------
        lon, lat
            Coordinates in degrees (EPSG:4326), scalars or arrays broadcast together.

        Returns
        -------
        numpy.ndarray
            0.0 for points inside the territory, the distance to its edge in metres outside,
            NaN for NaN coordinates.

        Examples
        --------
        >>> d = default_territory().distance_to_boundary_m([2.3633, 2.3499], [48.7920, 48.8530])
        >>> float(d[0]), bool(d[1] > 3000)
        (0.0, True)
        """
        x, y = to_lambert93(lon, lat)
        distance = np.asarray(
            shapely.distance(self.boundary_l93, shapely.points(x, y)), dtype=float
        )
        # Exactly 0 for every point ``contains`` accepts (a border point can be a few mm off
        # once projected, since straight edges in lon/lat are not straight in Lambert-93).
        distance[self.contains(lon, lat)] = 0.0
        return distance

    def zone_at(self, lon: ArrayLike, lat: ArrayLike) -> NDArray[np.object_]:
        """``site_id`` of the activity zone containing each point, or None.

        Parameters
        ----------
        lon, lat
            Coordinates in degrees (EPSG:4326), scalars or arrays broadcast together.

        Returns
        -------
        numpy.ndarray
            Object array of ``site_id`` strings or ``None``, one per point.
        """
        x, y = _as_xy(lon, lat)
        ids = self.layers["zones"].column("site_id")
        return _first_hit(self._zone_tree, shapely.points(x, y), ids)

    @functools.cached_property
    def _commune_keys(self) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
        """Folded full names, and names without their article, to the codes they name."""
        full: dict[str, list[str]] = {}
        short: dict[str, list[str]] = {}
        for code, name in self.commune_names.items():
            key = _name_key(name)
            full.setdefault(key, []).append(code)
            head, _, rest = key.partition(" ")
            if head in _ARTICLES and rest:
                short.setdefault(rest, []).append(str(code))
        return (
            {k: tuple(v) for k, v in full.items()},
            {k: tuple(v) for k, v in short.items()},
        )

    def _describe(self, codes: tuple[str, ...]) -> str:
        return ", ".join(f"{self.commune_names[c]} ({c})" for c in codes)

    def commune_code(self, name_or_code: str) -> str:
        """The INSEE code of a member commune given by its code or by its name.

        Names are read whatever their case, accents, hyphens and apostrophes, with or without
        their article, and "St" for "Saint".

        Parameters
        ----------
        name_or_code : str
            An INSEE code (``"94081"``) or a name (``"Vitry-sur-Seine"``, ``"vitry sur
            seine"``, ``"VITRY SUR SEINE"``).

        Returns
        -------
        str
            The INSEE code.

        Raises
        ------
        CommuneNameError
            When it names no commune of the territory, or several; the message lists the
            close matches (or the candidates) with their codes and says what to give instead.

        Examples
        --------
        >>> t = default_territory()
        >>> t.commune_code("VITRY SUR SEINE"), t.commune_code("Haÿ-les-Roses")
        ('94081', '94038')
        >>> t.commune_code("94065")
        '94065'
        >>> try:
        ...     t.commune_code("Vitri-sur-Seine")
        ... except CommuneNameError as exc:
        ...     print(exc)
        'Vitri-sur-Seine' is not a commune of Grand-Orly Seine Bièvre; close matches: Vitry-sur-Seine (94081), Ivry-sur-Seine (94041); give one of these names or an INSEE code
        """  # noqa: E501
        text = str(name_or_code).strip()
        if _INSEE_RE.match(text.upper()):
            if text.upper() in self.insee_codes:
                return text.upper()
            msg = (
                f"'{text}' is not the INSEE code of a commune of {self.name}; give one of its "
                f"{len(self.insee_codes)} communes by code or by name"
            )
            raise CommuneNameError(msg, text, ())
        full, short = self._commune_keys
        key = _name_key(text)
        codes = full.get(key) or short.get(key) or self._prefix_codes(key)
        if len(codes) == 1:
            return codes[0]
        if codes:
            msg = (
                f"'{text}' names several communes of {self.name}: {self._describe(codes)}; "
                "give the full name or the INSEE code"
            )
            raise CommuneNameError(msg, text, codes)
        matches = self._close_codes(key)
        hint = (
            f"close matches: {self._describe(matches)}; give one of these names or an INSEE code"
            if matches
            else f"no close match among its {len(self.insee_codes)} communes; give an INSEE code"
        )
        msg = f"'{text}' is not a commune of {self.name}; {hint}"
        raise CommuneNameError(msg, text, matches)

    def _prefix_codes(self, key: str) -> tuple[str, ...]:
        """Codes of the communes whose name starts with ``key``'s words ("vitry")."""
        if not key:
            return ()
        full, short = self._commune_keys
        return tuple(
            dict.fromkeys(
                code
                for table in (full, short)
                for name, codes in table.items()
                if name.startswith(key + " ")
                for code in codes
            )
        )

    def _close_codes(self, key: str, n: int = 3, cutoff: float = 0.75) -> tuple[str, ...]:
        """Codes of the names closest to ``key``, whole or cut to as many words (difflib)."""
        full, short = self._commune_keys
        n_words = len(key.split())
        scores: dict[str, float] = {}
        for table in (full, short):
            for name, codes in table.items():
                head = " ".join(name.split()[:n_words])
                score = max(
                    difflib.SequenceMatcher(None, key, name).ratio(),
                    difflib.SequenceMatcher(None, key, head).ratio(),
                )
                for code in codes:
                    scores[code] = max(scores.get(code, 0.0), score)
        ranked = sorted((c for c in scores if scores[c] >= cutoff), key=lambda c: -scores[c])
        return tuple(ranked[:n])

    def commune_codes(self, names_or_codes: ArrayLike) -> NDArray[np.object_]:
        """INSEE codes of many communes given by code or name, None where none fits.

        Each distinct value is resolved once (:meth:`commune_code`), so a column of a
        thousand rows naming five communes costs five look-ups. Call :meth:`commune_code` on
        a value that gave None to get the reason and the close matches.

        Parameters
        ----------
        names_or_codes
            Codes, names, or missing values (None, NaN, blank text: None out).

        Returns
        -------
        numpy.ndarray
            Object array of INSEE codes or None, aligned with the input.

        Examples
        --------
        >>> default_territory().commune_codes(["Rungis", "94081", "nowhere", None]).tolist()
        ['94065', '94081', None, None]
        """
        import pandas as pd

        values = pd.Series(np.asarray(names_or_codes, dtype=object).ravel(), dtype=object)
        present = values.notna() & (values.astype(str).str.strip() != "")
        out = np.full(len(values), None, dtype=object)
        if present.any():
            uniques = pd.unique(values[present].astype(str))
            resolved: dict[str, str | None] = {}
            for value in uniques:
                try:
                    resolved[value] = self.commune_code(value)
                except CommuneNameError:
                    resolved[value] = None
            mapped = values[present].astype(str).map(resolved).astype(object)
            out[present.to_numpy()] = mapped.where(mapped.notna(), None).to_numpy(object)
        return out

    def commune_name(self, insee: str) -> str:
        """Full name of a member commune.

        Parameters
        ----------
        insee : str
            INSEE code of the commune.

        Returns
        -------
        str
            The commune's name, article included (``"L'Haÿ-les-Roses"``).

        Raises
        ------
        KeyError
            If the code is not one of the territory's communes.
        """
        if insee not in self.insee_codes:
            msg = f"{insee!r} is not a commune of territory {self.code!r}"
            raise KeyError(msg)
        return self.commune_names[insee]


def _siren_ok(siren: str) -> bool:
    """Nine digits passing the Luhn test."""
    if not re.fullmatch(r"\d{9}", siren):
        return False
    doubled = [int(c) * (1 + i % 2) for i, c in enumerate(reversed(siren))]
    return sum(d - 9 if d > 9 else d for d in doubled) % 10 == 0


def _read_manifest(folder: Path) -> dict[str, Any]:
    manifest_path = folder / "manifest.json"
    if not folder.is_dir():
        msg = f"territory folder {folder} does not exist"
        raise TerritoryError(msg)
    if not manifest_path.is_file():
        msg = f"{manifest_path}: missing manifest.json in the territory folder"
        raise TerritoryError(msg)
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{manifest_path}: not valid JSON ({exc})"
        raise TerritoryError(msg) from exc
    if not isinstance(manifest, dict):
        msg = f"{manifest_path}: the manifest must be a JSON object"
        raise TerritoryError(msg)
    for key in ("code", "name", "layers"):
        if key not in manifest:
            msg = f"{manifest_path}: missing key {key!r}"
            raise TerritoryError(msg)
    layers = manifest["layers"]
    if not isinstance(layers, list) or not all(
        isinstance(entry, dict) and "name" in entry and "file" in entry for entry in layers
    ):
        msg = f"{manifest_path}: 'layers' must be a list of objects with 'name' and 'file'"
        raise TerritoryError(msg)
    missing = sorted(set(LAYERS) - {entry["name"] for entry in layers})
    if missing:
        msg = f"{manifest_path}: no entry for layer(s) {', '.join(missing)}"
        raise TerritoryError(msg)
    epci = manifest.get("epci")
    if epci is not None:
        siren = str(epci.get("siren", "")) if isinstance(epci, dict) else ""
        if not (isinstance(epci, dict) and epci.get("name") and _siren_ok(siren)):
            msg = (
                f"{manifest_path}: 'epci' must be an object with a 'name' and a valid nine-digit "
                f"'siren', got {epci!r}"
            )
            raise TerritoryError(msg)
    crs = manifest.get("crs", {})
    if crs.get("storage", _STORAGE_CRS) != _STORAGE_CRS:
        msg = f"{manifest_path}: crs.storage must be {_STORAGE_CRS}, got {crs.get('storage')!r}"
        raise TerritoryError(msg)
    return manifest


def _read_layer(folder: Path, layer: str, file_name: str) -> Layer:
    """Read and check one GeoJSON layer; every layer but the communes may be empty.

    Read with :mod:`json` and shapely (GEOS parses the geometries), without GDAL: the
    properties keep their JSON types (integers, floats, strings, lists).
    """
    path = folder / file_name
    if not path.is_file():
        msg = f"{path}: layer file for {layer!r} is missing"
        raise TerritoryError(msg)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
        features = data.get("features") if isinstance(data, dict) else None
        if not isinstance(features, list) or data.get("type") != "FeatureCollection":
            msg = "not a GeoJSON FeatureCollection"
            raise ValueError(msg)
        if any(not isinstance(f, dict) or not f.get("geometry") for f in features):
            msg = "a feature has no geometry"
            raise ValueError(msg)
        collection = shapely.from_geojson(text) if features else None
    except (OSError, UnicodeDecodeError, ValueError, shapely.errors.GEOSException) as exc:
        msg = f"{path}: cannot read layer {layer!r} ({exc})"
        raise TerritoryError(msg) from exc
    geometry = (
        shapely.get_parts(collection) if collection is not None else np.empty(0, dtype=object)
    )
    properties = tuple(dict(f.get("properties") or {}) for f in features)
    columns = tuple(dict.fromkeys(key for p in properties for key in p))
    required, geom_types = LAYERS[layer]
    missing = [c for c in required if c not in columns]
    if missing and not features and layer != "communes":
        # An empty layer (a territory with no zone or no station yet) has no properties to
        # read its columns from: give it the required ones, empty.
        columns, missing = (*columns, *missing), []
    if missing:
        msg = f"{path}: layer {layer!r} lacks propert{'ies' if len(missing) > 1 else 'y'} {missing}"
        raise TerritoryError(msg)
    crs = data.get("crs")
    crs_name = crs.get("properties", {}).get("name") if isinstance(crs, dict) else None
    if crs is not None and crs_name not in _WGS84_NAMES:
        msg = f"{path}: layer {layer!r} must be in {_STORAGE_CRS}, found {crs_name or crs}"
        raise TerritoryError(msg)
    types = set(shapely.get_type_id(geometry).tolist())
    allowed = {_GEOMETRY_TYPE_IDS[name] for name in geom_types}
    if len(geometry) != len(features) or not types <= allowed:
        msg = f"{path}: layer {layer!r} must hold {' or '.join(geom_types)} geometries only"
        raise TerritoryError(msg)
    if not shapely.is_valid(geometry).all():
        msg = f"{path}: layer {layer!r} has invalid geometries"
        raise TerritoryError(msg)
    return Layer(geometry=geometry, properties=properties, columns=columns)


def _tidy_stations(stations: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Turn the JSON arrays ``lines``/``modes`` into plain lists of str."""
    import pandas as pd

    stations = stations.copy()
    for column in ("lines", "modes"):
        stations[column] = pd.Series(
            [[str(v) for v in np.atleast_1d(value)] if value is not None else [] for value in
             stations[column]],
            index=stations.index,
            dtype=object,
        )  # fmt: skip
    return stations


def _resolve(name_or_path: str | Path) -> Path:
    if isinstance(name_or_path, Path) or "/" in str(name_or_path) or "\\" in str(name_or_path):
        return Path(name_or_path).expanduser().resolve()
    name = str(name_or_path)
    if not _NAME_RE.match(name):
        msg = f"{name!r} is neither a territory name (lowercase letters, digits, - or _) nor a path"
        raise TerritoryError(msg)
    return TERRITORIES_DIR / name


def load_territory(name_or_path: str | Path = "gosb") -> Territory:
    """Load a territory from its folder of reference layers.

    Parameters
    ----------
    name_or_path : str or pathlib.Path, default "gosb"
        A territory name, looked up as ``geodata/territories/<name>/``, or the path of a folder
        holding ``manifest.json`` and the layer files it lists.

    Returns
    -------
    Territory
        The territory, with every layer read (as arrays; as GeoDataFrames in EPSG:4326 on
        first use).

    Raises
    ------
    TerritoryError
        If the folder, the manifest or a layer is missing or malformed; the message names the
        file and the reason.

    Examples
    --------
    >>> t = load_territory("gosb")
    >>> t.name, len(t.communes)
    ('Grand-Orly Seine Bièvre', 24)
    """
    folder = _resolve(name_or_path)
    manifest = _read_manifest(folder)
    files = {entry["name"]: entry["file"] for entry in manifest["layers"]}
    layers = {layer: _read_layer(folder, layer, files[layer]) for layer in LAYERS}
    communes = layers["communes"]
    if len(communes) == 0:
        msg = f"{folder / files['communes']}: the communes layer is empty; a territory needs one"
        raise TerritoryError(msg)
    insee = [str(code) for code in communes.column("insee")]
    if len(set(insee)) != len(insee):
        msg = f"{folder / files['communes']}: duplicate INSEE codes"
        raise TerritoryError(msg)
    order = sorted(range(len(insee)), key=insee.__getitem__)
    layers["communes"] = Layer(
        geometry=communes.geometry[order],
        properties=tuple({**communes.properties[i], "insee": insee[i]} for i in order),
        columns=communes.columns,
    )
    return Territory(
        code=str(manifest["code"]),
        name=str(manifest["name"]),
        path=folder,
        layers=layers,
        manifest=manifest,
    )


@functools.cache
def default_territory() -> Territory:
    """The packaged Grand-Orly Seine Bièvre territory, loaded once (examples and tests).

    Library code never falls back on it: every function that needs a territory takes one.

    Returns
    -------
    Territory
        ``load_territory("gosb")``, cached for the process.
    """
    return load_territory("gosb")
