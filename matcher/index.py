"""The match index: a catalogue's columns as numpy arrays, a spatial index, accessibility.

Build it once per catalogue version with :meth:`MatchIndex.from_columns` (numpy arrays, as
the storage reads them: no pandas) or :meth:`MatchIndex.from_frame` and reuse it across
queries; :meth:`MatchIndex.update` and :meth:`MatchIndex.remove` apply one listing's change
without rebuilding the rest.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

import shapely

from matcher._codes import KIND_CODE, KIND_DEFAULT_MASK, REMOVED, STATUS_CODE, TENURE_BITS, use_mask
from matcher._geo import PointSet, as_point_set, to_lambert93
from matcher.criteria.surface import lot_minimum

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CATALOGUE_COLUMNS",
    "SPLIT_COLUMNS",
    "MatchIndex",
    "PointSet",
    "catalogue_columns",
    "typed_catalogue_columns",
]

_FLOAT_COLUMNS = (
    "surface_m2",
    "min_lot_m2",
    "ceiling_height_m",
    "floor_load_t_m2",
    "loading_docks",
    "ground_level_doors",
    "power_kva",
    "rent_eur_m2_year",
    "sale_price_eur",
    "charges_eur_m2_year",
)
#: How a listing's surface splits (activity, storage, office); optional in the columns an
#: index is built from (NaN when absent: not stated).
SPLIT_COLUMNS = ("activity_m2", "storage_m2", "office_m2")

#: The catalogue columns an index reads (``PremisesCreate``'s names, plus the listing ``id``
#: and its ``version``: what a caller needs to fetch the listing's JSON as it was indexed).
CATALOGUE_COLUMNS: tuple[str, ...] = (
    "id",
    "version",
    "title",
    "kind",
    "status",
    "tenure",
    "uses",
    "divisible",
    "icpe_allowed",
    *_FLOAT_COLUMNS,
    *SPLIT_COLUMNS,
    "available_from",
    "last_verified_at",
    "lon",
    "lat",
    "commune_insee",
    "zone_id",
)

#: Column name → dtype of every array an index keeps (besides the row-aligned objects).
_SCHEMA: dict[str, Any] = {
    "id": np.int64,
    "listing_version": np.int64,  # the listing's own version; -1 when not given
    "status": np.int8,
    "kind": np.int8,
    "uses": np.int16,
    "uses_eff": np.int16,
    "tenure": np.int8,
    "icpe": np.int8,
    "divisible": np.bool_,
    "lot_min": np.float64,
    **dict.fromkeys(_FLOAT_COLUMNS, np.float64),
    **dict.fromkeys(SPLIT_COLUMNS, np.float64),
    "available_day": np.float64,
    "verified_day": np.float64,
    "lon": np.float64,
    "lat": np.float64,
    "x": np.float64,
    "y": np.float64,
    "station_dist": np.float64,
    "station_idx": np.int32,
    "interchange_dist": np.float64,
    "interchange_idx": np.int32,
    "commune": np.int32,
    "title": object,
    "zone_id": object,
}


def _num(frame: pd.DataFrame, name: str) -> np.ndarray:
    import pandas as pd

    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    return pd.to_numeric(frame[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


def _days(frame: pd.DataFrame, name: str) -> np.ndarray:
    import pandas as pd

    if name not in frame.columns:
        return np.full(len(frame), np.nan)
    s = pd.to_datetime(frame[name], errors="coerce", utc=True)
    return _day_numbers(s.dt.tz_localize(None).to_numpy(dtype="datetime64[us]"))


def _day_numbers(values: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 (float) of ``datetime64`` values, NaN for NaT."""
    values = values.astype("datetime64[us]")
    out = values.astype(np.int64).astype(np.float64) / 86_400e6
    out[np.isnat(values)] = np.nan
    return out


def _codes(frame: pd.DataFrame, name: str, table: Mapping[str, int], default: str | None) -> Any:
    if name not in frame.columns:
        if default is None:
            msg = f"{name}: the catalogue has no '{name}' column"
            raise ValueError(msg)
        return np.full(len(frame), table[default])
    import pandas as pd

    codes, uniques = pd.factorize(frame[name].astype(object), use_na_sentinel=True)
    mapped = []
    for u in uniques:
        key = str(getattr(u, "value", u))
        if key not in table:
            msg = f"{name}: unknown value '{key}' (one of {', '.join(table)})"
            raise ValueError(msg)
        mapped.append(table[key])
    if default is None and (codes < 0).any():
        bad = frame.index[codes < 0][:5].tolist()
        msg = f"{name}: missing for listing(s) {bad}"
        raise ValueError(msg)
    lut = np.array([*mapped, table[default] if default is not None else 0])
    return lut[codes]


def _use_text(v: Any) -> str:
    if isinstance(v, list | tuple | set):
        return ",".join(str(getattr(u, "value", u)) for u in v)
    import pandas as pd

    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
        return ""
    return str(v)


def _uses(frame: pd.DataFrame) -> np.ndarray:
    """Bitmasks of the comma-joined ``uses`` strings (parsed once per distinct value)."""
    import pandas as pd

    if "uses" not in frame.columns:
        return np.zeros(len(frame), dtype=np.int16)
    col = frame["uses"]
    try:
        codes, uniques = pd.factorize(col, use_na_sentinel=True)
    except TypeError:  # lists of uses rather than strings
        codes, uniques = pd.factorize(col.map(_use_text), use_na_sentinel=True)
    lut = np.array([use_mask(_use_text(u).split(",")) for u in uniques] + [0], dtype=np.int16)
    return lut[codes]


def catalogue_columns(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Convert catalogue rows (PremisesCreate-named columns, index = listing id) to arrays.

    Returns the index's columns except the accessibility ones and the commune code; the
    commune comes back as ``commune_insee`` strings. Missing optional columns are NaN.
    """
    n = len(frame)
    try:
        ids = np.asarray(frame.index, dtype=np.int64)
    except (TypeError, ValueError) as exc:
        msg = "the catalogue's index must hold integer listing ids"
        raise ValueError(msg) from exc
    if "lon" in frame.columns and "lat" in frame.columns:
        lon, lat = _num(frame, "lon"), _num(frame, "lat")
    elif hasattr(frame, "geometry"):
        geom = frame.geometry
        if geom.crs is not None and not geom.crs.equals("EPSG:4326"):
            geom = geom.to_crs(4326)
        arr = np.asarray(geom.array, dtype=object)
        if n and (shapely.get_type_id(arr) != 0).any():
            msg = "geometry: the catalogue's geometries must be points (one per listing)"
            raise ValueError(msg)
        lon, lat = shapely.get_x(arr), shapely.get_y(arr)
    else:
        msg = "the catalogue needs lon/lat columns or a point geometry"
        raise ValueError(msg)
    divisible = (
        frame["divisible"].fillna(False).astype(bool).to_numpy()
        if "divisible" in frame.columns
        else np.zeros(n, dtype=bool)
    )
    if "icpe_allowed" in frame.columns:
        s = frame["icpe_allowed"]
        known = s.notna().to_numpy()
        val = s.where(s.notna(), False).astype(bool).to_numpy()
        icpe = np.where(known, val.astype(np.int8), -1).astype(np.int8)
    else:
        icpe = np.full(n, -1, dtype=np.int8)
    texts = {}
    for name in ("title", "zone_id", "commune_insee"):
        if name in frame.columns:
            col = frame[name].astype(object)
            texts[name] = col.where(col.notna(), None).to_numpy(dtype=object)
        else:
            texts[name] = np.full(n, None, dtype=object)
    return _assemble(
        ids,
        listing_version=_versions(_num(frame, "version"), n),
        lon=lon,
        lat=lat,
        numbers={c: _num(frame, c) for c in (*_FLOAT_COLUMNS, *SPLIT_COLUMNS)},
        kind=_codes(frame, "kind", KIND_CODE, None),
        status=_codes(frame, "status", STATUS_CODE, "available"),
        tenure=_codes(frame, "tenure", TENURE_BITS, None),
        uses=_uses(frame),
        divisible=divisible,
        icpe=icpe,
        available_day=_days(frame, "available_from"),
        verified_day=_days(frame, "last_verified_at"),
        texts=texts,
    )


def typed_catalogue_columns(columns: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Convert typed catalogue columns (as the storage reads them) to the index's arrays.

    The numpy-only counterpart of :func:`catalogue_columns`, for the columns of
    :data:`CATALOGUE_COLUMNS` in the types ``geodata.storage.catalogue.premises_columns``
    returns: ``id`` integers, numbers as floats (NaN when missing), ``divisible`` as bools,
    ``icpe_allowed`` as True/False/None, dates as ``datetime64``, ``kind``, ``status``,
    ``tenure``, comma-joined ``uses`` and the other texts as strings (None when missing).
    Missing optional columns are NaN (or None), as in :func:`catalogue_columns`.
    """
    ids = np.asarray(columns["id"], dtype=np.int64)
    n = len(ids)

    def number(name: str) -> np.ndarray:
        if name not in columns:
            return np.full(n, np.nan)
        return np.asarray(columns[name], dtype=np.float64)

    def day(name: str) -> np.ndarray:
        if name not in columns:
            return np.full(n, np.nan)
        return _day_numbers(np.asarray(columns[name], dtype="datetime64[us]"))

    def text(name: str) -> np.ndarray:
        if name not in columns:
            return np.full(n, None, dtype=object)
        return np.asarray(columns[name], dtype=object)

    if "icpe_allowed" in columns:
        flags = np.asarray(columns["icpe_allowed"], dtype=object)
        icpe = np.where(flags == True, 1, np.where(flags == False, 0, -1))  # noqa: E712
    else:
        icpe = np.full(n, -1)
    uses_codes, uses_values = _factorize(text("uses"))
    uses_lut = np.array([use_mask(u.split(",")) for u in uses_values] + [0], dtype=np.int16)
    return _assemble(
        ids,
        listing_version=_versions(columns.get("version"), n),
        lon=number("lon"),
        lat=number("lat"),
        numbers={c: number(c) for c in (*_FLOAT_COLUMNS, *SPLIT_COLUMNS)},
        kind=_coded(ids, "kind", text("kind"), KIND_CODE, None),
        status=_coded(ids, "status", text("status"), STATUS_CODE, "available"),
        tenure=_coded(ids, "tenure", text("tenure"), TENURE_BITS, None),
        uses=uses_lut[uses_codes],
        divisible=(
            np.asarray(columns["divisible"], dtype=bool)
            if "divisible" in columns
            else np.zeros(n, dtype=bool)
        ),
        icpe=icpe,
        available_day=day("available_from"),
        verified_day=day("last_verified_at"),
        texts={name: text(name) for name in ("title", "zone_id", "commune_insee")},
    )


def _factorize(values: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Codes of texts into their distinct values (-1 where None), and those values.

    One sort of fixed-width strings in C, whatever the number of rows: no Python loop.
    """
    missing = np.asarray(values == None, dtype=bool)  # noqa: E711 (elementwise)
    if missing.all():
        return np.full(len(values), -1, dtype=np.int64), []
    texts = np.where(missing, "", values).astype(str)
    distinct, codes = np.unique(texts, return_inverse=True)
    codes = codes.reshape(-1).astype(np.int64)
    codes[missing] = -1
    used = np.zeros(len(distinct), dtype=bool)
    used[codes[~missing]] = True
    # Renumber so that the values absent but for missing rows (the "" of None) drop out.
    remap = np.cumsum(used) - 1
    codes = np.where(missing, -1, remap[np.maximum(codes, 0)])
    return codes, [str(v) for v in distinct[used]]


def _coded(
    ids: np.ndarray,
    name: str,
    values: np.ndarray,
    table: Mapping[str, int],
    default: str | None,
) -> np.ndarray:
    """Codes of an enumeration's texts (see :func:`_codes`, its counterpart on frames).

    One elementwise comparison per value of the enumeration (a handful), no sort.
    """
    codes = np.zeros(len(values), dtype=np.int64)
    known = np.zeros(len(values), dtype=bool)
    for key, code in table.items():
        hit = values == key
        codes[hit] = code
        known |= hit
    missing = np.asarray(values == None, dtype=bool)  # noqa: E711 (elementwise)
    unknown = ~known & ~missing
    if unknown.any():
        key = str(values[np.flatnonzero(unknown)[0]])
        msg = f"{name}: unknown value '{key}' (one of {', '.join(table)})"
        raise ValueError(msg)
    if missing.any():
        if default is None:
            msg = f"{name}: missing for listing(s) {ids[missing][:5].tolist()}"
            raise ValueError(msg)
        codes[missing] = table[default]
    return codes


def _versions(values: Any, n: int) -> np.ndarray:
    """Listing versions as ``int64``, -1 where not given (no column, or a missing value).

    Examples
    --------
    >>> _versions(None, 2).tolist(), _versions([3, None], 2).tolist()
    ([-1, -1], [3, -1])
    """
    if values is None:
        return np.full(n, -1, dtype=np.int64)
    out = np.asarray(values, dtype=np.float64)  # None becomes NaN
    return np.where(np.isnan(out), -1, out).astype(np.int64)


def _assemble(
    ids: np.ndarray,
    *,
    listing_version: np.ndarray,
    lon: np.ndarray,
    lat: np.ndarray,
    numbers: dict[str, np.ndarray],
    kind: np.ndarray,
    status: np.ndarray,
    tenure: np.ndarray,
    uses: np.ndarray,
    divisible: np.ndarray,
    icpe: np.ndarray,
    available_day: np.ndarray,
    verified_day: np.ndarray,
    texts: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Check the converted columns and derive the index's own (lot minimum, x/y, uses)."""
    n = len(ids)
    increasing = n < 2 or bool((ids[1:] > ids[:-1]).all())  # as read by id: no sort needed
    if not increasing and len(np.unique(ids)) != n:
        msg = "the catalogue's index has duplicate listing ids"
        raise ValueError(msg)
    if n and (np.isnan(lon).any() or np.isnan(lat).any()):
        bad = ids[np.isnan(lon) | np.isnan(lat)][:5].tolist()
        msg = f"lon, lat: missing coordinates for listing(s) {bad}"
        raise ValueError(msg)
    surface = numbers["surface_m2"]
    if n and not (surface > 0).all():
        bad = ids[~(surface > 0)][:5].tolist()
        msg = f"surface_m2: missing or not positive for listing(s) {bad}"
        raise ValueError(msg)
    kind = kind.astype(np.int8)
    uses_eff = np.where(uses != 0, uses, KIND_DEFAULT_MASK[kind]).astype(np.int16)
    out: dict[str, Any] = {
        "id": ids,
        "listing_version": listing_version,
        "status": status.astype(np.int8),
        "kind": kind,
        "uses": uses,
        "uses_eff": uses_eff,
        "tenure": tenure.astype(np.int8),
        "icpe": icpe.astype(np.int8),
        "divisible": divisible,
        **numbers,
        "available_day": available_day,
        "verified_day": verified_day,
        "lon": lon,
        "lat": lat,
    }
    out["lot_min"] = lot_minimum(surface, divisible, out["min_lot_m2"])
    out["x"], out["y"] = to_lambert93(lon, lat)
    out.update(texts)
    return out


def _nearest(
    points: PointSet | None, x: np.ndarray, y: np.ndarray, chunk: int = 1024
) -> tuple[Any, Any]:
    """Distance to the nearest point of a set, and its position, for every (x, y).

    Exact, by comparing every listing with every point, a chunk of listings at a time: the
    sets are small (stations and motorway exits of one territory), so this costs about what
    a k-d tree would, without importing one. The distance is ``sqrt(dx² + dy²)``; between
    points at the same distance, the first one.
    """
    n = len(x)
    if points is None or len(points) == 0:
        return np.full(n, np.nan), np.full(n, -1, dtype=np.int32)
    dist = np.empty(n, dtype=np.float64)
    idx = np.empty(n, dtype=np.int32)
    for start in range(0, n, chunk):
        stop = min(start + chunk, n)
        d2 = np.subtract.outer(x[start:stop], points.x)
        d2 *= d2
        dy = np.subtract.outer(y[start:stop], points.y)
        dy *= dy
        d2 += dy
        best = d2.argmin(axis=1)
        idx[start:stop] = best
        dist[start:stop] = np.sqrt(d2[np.arange(stop - start), best])
    return dist, idx


class MatchIndex:
    """A catalogue prepared for matching.

    Attributes
    ----------
    cols : dict of str to numpy.ndarray
        One array per column, all of length :attr:`n_rows` (removed listings keep a row
        whose status is never matched). Uses are bitmasks (``uses`` as stated, ``uses_eff``
        falling back to the kind's usual uses), tenure is bits (1 rent, 2 sale), ICPE is
        1/0/-1 (unknown), dates are day numbers, ``x``/``y`` are Lambert-93 metres,
        ``station_dist``/``interchange_dist`` the distance to the nearest one.
    communes : list of str
        INSEE codes; ``cols["commune"]`` holds positions in it (-1 when unknown).
    stations, interchanges : PointSet or None
        The points accessibility was computed from.
    version : int
        Incremented by every :meth:`update` and :meth:`remove`.
    min_stale : int
        Moved or added rows are checked one by one by spatial queries until more than
        ``max(min_stale, n_rows // 8)`` of them trigger a re-sort of the rows (compaction).
    """

    min_stale = 1024

    def __init__(
        self,
        columns: dict[str, np.ndarray],
        *,
        stations: PointSet | None,
        interchanges: PointSet | None,
        version: int = 0,
        commune_names: Mapping[str, str] | None = None,
    ) -> None:
        self.commune_names: dict[str, str] = dict(commune_names or {})
        self.stations = stations
        self.interchanges = interchanges
        self.version = int(version)
        self.communes: list[str] = []
        self._commune_code: dict[str, int] = {}
        n = len(columns["id"])
        self._n = n
        self._cap = n
        self._store: dict[str, np.ndarray] = {}
        prepared = self._prepare(columns)
        for name, dtype in _SCHEMA.items():
            self._store[name] = np.asarray(prepared[name], dtype=dtype)
        self._stale = np.zeros(self._cap, dtype=bool)
        self._reindex()

    # --- construction ----------------------------------------------------------------------

    @classmethod
    def from_frame(
        cls,
        frame: pd.DataFrame,
        *,
        stations: Any = None,
        interchanges: Any = None,
        version: int = 0,
        commune_names: Mapping[str, str] | None = None,
    ) -> MatchIndex:
        """Build an index from a catalogue GeoDataFrame (index = listing id).

        Parameters
        ----------
        frame
            One row per listing, columns named like ``PremisesCreate``'s fields (``uses`` a
            comma-joined string), ``lon``/``lat`` or a point geometry in EPSG:4326.
        stations, interchanges
            A :class:`PointSet`, a GeoDataFrame of points (``name`` column, ``status ==
            'open'`` rows kept) or a ``(lon, lat, names)`` tuple; None leaves access unknown.
        version
            The catalogue version this index was built from.
        commune_names
            INSEE code -> name, for the reasons ("à Rungis (94065)"); codes alone otherwise.
        """
        return cls(
            catalogue_columns(frame),
            stations=as_point_set(stations),
            interchanges=as_point_set(interchanges),
            version=version,
            commune_names=commune_names,
        )

    @classmethod
    def from_columns(
        cls,
        columns: Mapping[str, np.ndarray],
        *,
        stations: Any = None,
        interchanges: Any = None,
        version: int = 0,
        commune_names: Mapping[str, str] | None = None,
    ) -> MatchIndex:
        """Build an index from typed catalogue columns, without pandas.

        Parameters
        ----------
        columns
            One array per column of :data:`CATALOGUE_COLUMNS` (``id`` and ``lon``/``lat``
            required), in the types ``geodata.storage.catalogue.premises_columns`` reads
            them (see :func:`typed_catalogue_columns`).
        stations, interchanges, version, commune_names
            As for :meth:`from_frame`.
        """
        return cls(
            typed_catalogue_columns(columns),
            stations=as_point_set(stations),
            interchanges=as_point_set(interchanges),
            version=version,
            commune_names=commune_names,
        )

    @classmethod
    def from_state(
        cls,
        store: Mapping[str, np.ndarray],
        *,
        n: int,
        grid: tuple[Any, ...],
        grid_starts: np.ndarray,
        stations: PointSet | None,
        interchanges: PointSet | None,
        version: int,
        communes: list[str],
        commune_names: Mapping[str, str],
    ) -> MatchIndex:
        """An index from the arrays and grid of one built before (see :mod:`matcher.index_file`).

        The arrays are used as they are (memory maps stay maps), in the row order they were
        built in; they must hold every column of the index and ``n`` rows each.
        """
        missing = [name for name in _SCHEMA if name not in store]
        if missing:
            msg = f"index state: missing column(s) {', '.join(missing)}"
            raise ValueError(msg)
        bad = [
            name
            for name, dtype in _SCHEMA.items()
            if store[name].dtype != np.dtype(dtype) or store[name].shape != (n,)
        ]
        if bad:
            msg = f"index state: wrong type or length of {', '.join(bad)}"
            raise ValueError(msg)
        x0, y0, cell, ncx, ncy = grid
        if len(grid_starts) != int(ncx) * int(ncy) + 1:
            msg = "index state: the grid does not match its cell starts"
            raise ValueError(msg)
        new = cls.__new__(cls)
        new.commune_names = dict(commune_names)
        new.stations = stations
        new.interchanges = interchanges
        new.version = int(version)
        new.communes = list(communes)
        new._commune_code = {code: i for i, code in enumerate(new.communes)}
        new._store = {name: store[name] for name in _SCHEMA}
        new._n = new._cap = int(n)
        new._grid = (float(x0), float(y0), float(cell), int(ncx), int(ncy))
        new._grid_starts = grid_starts
        new._stale = np.zeros(new._n, dtype=bool)
        new._n_stale = 0
        new._stale_rows = []
        new._tree = None
        new._refresh_views()
        return new

    def _prepare(self, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = dict(columns)
        for name in SPLIT_COLUMNS:
            if name not in out:
                out[name] = np.full(len(out["id"]), np.nan)
        out["station_dist"], out["station_idx"] = _nearest(self.stations, out["x"], out["y"])
        out["interchange_dist"], out["interchange_idx"] = _nearest(
            self.interchanges, out["x"], out["y"]
        )
        out["commune"] = self._commune_codes(columns["commune_insee"])
        return out

    def _commune_codes(self, values: np.ndarray) -> np.ndarray:
        codes, uniques = _factorize(np.asarray(values, dtype=object))
        lut = []
        for key in uniques:
            if key not in self._commune_code:
                self._commune_code[key] = len(self.communes)
                self.communes.append(key)
            lut.append(self._commune_code[key])
        return np.array([*lut, -1], dtype=np.int32)[codes]

    def _reindex(self) -> None:
        """Sort the rows along a grid of cells (dropping removed ones); reset the STRtree.

        Rows are ordered by (cell row, cell column, id), so the cells a circle covers are a
        few contiguous slices; the order depends on the content only, not on the input order.
        """
        keep = np.flatnonzero(self._store["status"][: self._n] != REMOVED)
        x = self._store["x"][keep]
        y = self._store["y"][keep]
        n = len(keep)
        if n:
            x0, y0 = float(x.min()), float(y.min())
            span = max(float(x.max()) - x0, float(y.max()) - y0, 1.0)
            cell = max(50.0, float(np.sqrt(span * span * 256.0 / n)))
        else:
            x0 = y0 = 0.0
            cell = 1000.0
        ncx = int((float(x.max()) - x0) // cell) + 1 if n else 1
        ncy = int((float(y.max()) - y0) // cell) + 1 if n else 1
        ci = np.minimum(((x - x0) // cell).astype(np.int64), ncx - 1)
        cj = np.minimum(((y - y0) // cell).astype(np.int64), ncy - 1)
        key = cj * ncx + ci
        order = keep[np.lexsort((self._store["id"][keep], key))]
        for name, arr in self._store.items():
            self._store[name] = arr[order]
        self._n = self._cap = n
        self._grid = (x0, y0, cell, ncx, ncy)
        self._grid_starts = np.searchsorted(np.sort(key), np.arange(ncx * ncy + 1))
        self._stale = np.zeros(n, dtype=bool)
        self._n_stale = 0
        self._stale_rows: list[int] = []
        self._tree: shapely.STRtree | None = None  # built on the first polygon query
        self._refresh_views()

    def cols_raw(self, name: str) -> np.ndarray:
        """One column's array over the rows held (a view)."""
        return self._store[name][: self._n]

    def _refresh_views(self) -> None:
        self.cols: dict[str, np.ndarray] = {k: v[: self._n] for k, v in self._store.items()}

    # --- properties ------------------------------------------------------------------------

    @property
    def n_rows(self) -> int:
        """Rows held, removed listings included."""
        return self._n

    def __len__(self) -> int:
        """Listings held (removed ones excluded)."""
        return int(np.count_nonzero(self.cols["status"] != REMOVED))

    @property
    def nbytes(self) -> int:
        """Bytes held by the column arrays (object columns count their pointers only)."""
        return int(sum(v.nbytes for v in self._store.values()))

    def position(self, listing_id: int) -> int | None:
        """Row of a listing, or None when it is not (or no longer) in the index."""
        pos = self._row_of(listing_id)
        if pos is None or self.cols["status"][pos] == REMOVED:
            return None
        return pos

    def _row_of(self, listing_id: int) -> int | None:
        """Row of an id, removed or not (one vectorised comparison, no id → row dict)."""
        hit = np.flatnonzero(self.cols["id"] == int(listing_id))
        return int(hit[0]) if len(hit) else None

    # --- spatial queries -------------------------------------------------------------------

    def within_mask(self, x: float, y: float, distance: float) -> np.ndarray:
        """Rows within ``distance`` Lambert-93 metres of a point (any status), as a mask.

        Exactly ``(X − x)² + (Y − y)² ≤ distance²``: cells of the grid wholly inside the
        circle are accepted as slices, rows of the cells its edge crosses are tested.
        """
        n = self._n
        mask = np.zeros(n, dtype=bool)
        if n == 0:
            return mask
        x0, y0, cell, ncx, ncy = self._grid
        starts = self._grid_starts
        r = float(distance)
        r2 = r * r
        eps = 1e-6 * cell
        cx_all, cy_all = self.cols["x"], self.cols["y"]
        j0 = max(0, int((y - r - eps - y0) // cell))
        j1 = min(ncy - 1, int((y + r + eps - y0) // cell))
        tested: list[tuple[int, int]] = []
        for j in range(j0, j1 + 1):
            lo, hi = y0 + j * cell - eps, y0 + (j + 1) * cell + eps
            near = 0.0 if lo <= y <= hi else min(abs(y - lo), abs(y - hi))
            if near > r:
                continue
            far = max(abs(y - lo), abs(y - hi))
            half = np.sqrt(r2 - near * near) + eps
            i_lo = max(0, int((x - half - x0) // cell))
            i_hi = min(ncx - 1, int((x + half - x0) // cell))
            if i_lo > i_hi:
                continue
            row = j * ncx
            if far < r * (1.0 - 1e-6):
                inner = np.sqrt(r2 - far * far) - 1e-6 * r
                a = int(np.ceil((x - inner - x0 + eps) / cell))
                b = int(np.floor((x + inner - x0 - eps) / cell)) - 1
                a, b = max(a, i_lo), min(b, i_hi)
            else:
                a, b = i_hi + 1, i_hi
            if a <= b:
                mask[starts[row + a] : starts[row + b + 1]] = True
                tested.append((starts[row + i_lo], starts[row + a]))
                tested.append((starts[row + b + 1], starts[row + i_hi + 1]))
            else:
                tested.append((starts[row + i_lo], starts[row + i_hi + 1]))
        spans = [(a, b) for a, b in tested if b > a]
        if spans:
            idx = np.concatenate([np.arange(a, b) for a, b in spans])
            dx = cx_all[idx] - x
            dy = cy_all[idx] - y
            mask[idx] = dx * dx + dy * dy <= r2
        if self._n_stale:
            stale = np.asarray(self._stale_rows, dtype=np.int64)
            dx = cx_all[stale] - x
            dy = cy_all[stale] - y
            mask[stale] = dx * dx + dy * dy <= r2
        return mask

    def positions_within(self, x: float, y: float, distance: float) -> np.ndarray:
        """Rows within ``distance`` Lambert-93 metres of a point (any status), sorted."""
        return np.flatnonzero(self.within_mask(x, y, distance))

    def positions_covered_by(self, geom: shapely.Geometry) -> np.ndarray:
        """Rows whose point a Lambert-93 polygon covers (any status), sorted.

        Uses an STRtree over the rows' points, built on the first call and kept until the
        next compaction (rows added or moved since are tested one by one).
        """
        shapely.prepare(geom)
        if self._tree is None:
            self._tree = shapely.STRtree(shapely.points(self.cols["x"], self.cols["y"]))
        hits = self._tree.query(geom, predicate="covers")

        def covered(px: np.ndarray, py: np.ndarray) -> np.ndarray:
            return np.asarray(shapely.covers(geom, shapely.points(px, py)), dtype=bool)

        return self._with_stale(hits, covered)

    def _with_stale(self, hits: np.ndarray, test: Any) -> np.ndarray:
        hits = np.asarray(hits, dtype=np.int64)
        hits = hits[hits < self._n]
        stale = self._stale[: self._n]
        if not self._n_stale:
            return np.sort(hits)
        hits = hits[~stale[hits]]
        extra = np.asarray(self._stale_rows, dtype=np.int64)
        keep = test(self.cols["x"][extra], self.cols["y"][extra])
        return np.sort(np.concatenate([hits, extra[np.asarray(keep, dtype=bool)]]))

    # --- changes ---------------------------------------------------------------------------

    def copy(self) -> MatchIndex:
        """An independent copy: :meth:`update` and :meth:`remove` on it leave ``self`` as is.

        The column arrays, the stale-row bookkeeping and the commune table are copied; the
        grid, the access points and the STRtree, which changes only replace, are shared.
        """
        new = copy.copy(self)
        new._store = {name: arr.copy() for name, arr in self._store.items()}
        new._stale = self._stale.copy()
        new._stale_rows = list(self._stale_rows)
        new.communes = list(self.communes)
        new._commune_code = dict(self._commune_code)
        new.commune_names = dict(self.commune_names)
        new._refresh_views()
        return new

    def update(self, listing_id: int, row: Mapping[str, Any] | pd.Series) -> None:
        """Insert or replace one listing (``row`` has the catalogue's columns).

        Recomputes that listing's columns, accessibility and commune code only; the spatial
        index is rebuilt only when many rows have moved since it was built.
        """
        data = dict(row)
        geom = data.pop("geometry", None)
        if ("lon" not in data or "lat" not in data) and geom is not None:
            data["lon"], data["lat"] = shapely.get_x(geom), shapely.get_y(geom)
        import pandas as pd

        frame = pd.DataFrame([data], index=pd.Index([int(listing_id)]))
        prepared = self._prepare(catalogue_columns(frame))
        pos = self._row_of(listing_id)
        if pos is None:
            pos = self._append_row()
            moved = True
        else:
            moved = bool(
                self._store["x"][pos] != prepared["x"][0]
                or self._store["y"][pos] != prepared["y"][0]
            )
        for name in _SCHEMA:
            self._store[name][pos] = prepared[name][0]
        if moved and not self._stale[pos]:
            self._stale[pos] = True
            self._n_stale += 1
            self._stale_rows.append(pos)
        if moved and self._n_stale > max(self.min_stale, self._n // 8):
            self._reindex()
        self.version += 1

    def remove(self, listing_id: int) -> bool:
        """Drop a listing from matching; returns False when it was not in the index."""
        pos = self._row_of(listing_id)
        if pos is None or self._store["status"][pos] == REMOVED:
            return False
        self._store["status"][pos] = REMOVED
        self.version += 1
        return True

    def _append_row(self) -> int:
        if self._n == self._cap:
            cap = max(16, self._cap + self._cap // 4)
            for name, arr in self._store.items():
                grown = np.empty(cap, dtype=arr.dtype)
                grown[: self._n] = arr[: self._n]
                self._store[name] = grown
            stale = np.zeros(cap, dtype=bool)
            stale[: self._n] = self._stale[: self._n]
            self._stale = stale
            self._cap = cap
        pos = self._n
        self._n += 1
        self._stale[pos] = False
        self._refresh_views()
        return pos

    # --- records ---------------------------------------------------------------------------

    def record(self, pos: int) -> dict[str, Any]:
        """One row as Python values, with its commune code and nearest station/interchange."""
        rec: dict[str, Any] = {}
        for name, arr in self.cols.items():
            value = arr[pos]
            rec[name] = value.item() if isinstance(value, np.generic) else value
        return self._complete(rec)

    def records(self, positions: np.ndarray) -> list[dict[str, Any]]:
        """:meth:`record` of several rows, each column converted once for all of them."""
        n = len(positions)
        recs: list[dict[str, Any]] = [{} for _ in range(n)]
        for name, arr in self.cols.items():
            taken = arr[positions]
            if taken.dtype == object:
                values = [v.item() if isinstance(v, np.generic) else v for v in taken]
            else:
                values = taken.tolist()  # Python scalars, as ``.item()`` gives
            for rec, value in zip(recs, values, strict=True):
                rec[name] = value
        return [self._complete(rec) for rec in recs]

    def _complete(self, rec: dict[str, Any]) -> dict[str, Any]:
        code = rec.pop("commune")
        rec["commune_insee"] = self.communes[code] if code >= 0 else None
        rec["commune_name"] = self.commune_names.get(rec["commune_insee"])
        for kind, points in (("station", self.stations), ("interchange", self.interchanges)):
            idx = rec[f"{kind}_idx"]
            rec[f"{kind}_name"] = points.names[idx] if points is not None and idx >= 0 else None
        return rec
