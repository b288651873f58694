"""Read listing files (CSV, XLSX, GeoJSON, GeoPackage), validate every row, and import them.

Every row is validated before anything is written, and every problem is collected as a
:class:`RowError` naming the row, the field, the reason and the raw value. An import with
invalid rows writes nothing unless ``skip_invalid=True``; a re-import updates listings by
``external_ref`` instead of duplicating them.

Row numbers (``RowError.row``, ``RowWarning.row``)
--------------------------------------------------
- CSV and XLSX: the row number a spreadsheet shows. The header is row 1, so the first
  listing is row 2; blank lines keep their number.
- GeoJSON and GeoPackage: the 1-based feature number in the layer.
- Row 0 (geometry files) or the header row (tables) is about the whole file, e.g. a
  missing required column.
"""

from __future__ import annotations

import copy
import gc
import re
import threading
import warnings
import zipfile
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd
from pydantic import ValidationError
from scipy.spatial import cKDTree
from sqlalchemy.engine import Connection
from sqlalchemy.exc import OperationalError

import pyogrio
import shapely

from geodata.io._csv import (
    RawTable,
    SheetNotFoundError,
    TableReadError,
    pick_by_name_or_position,
    read_csv_table,
    read_xlsx_table,
)
from geodata.io._geo import layer_names, read_geo_table, to_lambert93, to_wgs84
from geodata.io._values import (
    FIELD_PARSERS,
    INT_FIELDS,
    NUMBER_FIELDS,
    CellError,
    is_missing,
    parse_int,
    parse_int_strict,
    parse_number,
    parse_number_strict,
    parse_text,
)
from geodata.io._vocab import (
    COLUMN_ALIASES,
    FIELDS,
    IGNORED_COLUMNS,
    REQUIRED_FIELDS,
    header_lookup,
    normalise_key,
)
from geodata.io.limits import (
    Deadline,
    ImportFileError,
    ImportLimitError,
    ImportLimits,
    french_number,
)
from geodata.schemas import Premises, PremisesCreate, error_details
from geodata.storage.catalogue import premises_columns
from geodata.storage.errors import StaleVersionError
from geodata.territory import CommuneNameError, Territory

__all__ = [
    "DUPLICATE_RADIUS_M",
    "DUPLICATE_SURFACE_TOLERANCE",
    "FORMATS",
    "NO_LISTING",
    "ImportLimitError",
    "ImportLimits",
    "ImportReport",
    "ImportWriteError",
    "ListingsFileError",
    "ParsedListings",
    "RowError",
    "RowWarning",
    "UnsupportedFormatError",
    "detect_format",
    "find_probable_duplicates",
    "import_listings",
    "read_listings",
]

#: File formats and the suffixes that select them.
FORMATS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".txt", ".tsv"),
    "xlsx": (".xlsx", ".xlsm"),
    "geojson": (".geojson", ".json"),
    "gpkg": (".gpkg",),
}
#: Two listings closer than this (Lambert-93 metres) with similar surfaces are probably one.
DUPLICATE_RADIUS_M = 30.0
#: ... where "similar" means within this fraction of the larger surface.
DUPLICATE_SURFACE_TOLERANCE = 0.10

# Lambert-93 coordinates typed in lon/lat columns (x, y in metres over metropolitan France).
_L93_X = (50_000.0, 1_300_000.0)
_L93_Y = (6_000_000.0, 7_200_000.0)


class ListingsFileError(ImportFileError, ValueError):
    """A listing file that cannot be read at all (unknown format, unreadable layer...).

    ``str(exc)`` is English; ``exc.text(lang)`` gives the French (default) or English message.
    """


class UnsupportedFormatError(ListingsFileError):
    """A file whose format is neither given nor recognisable from its suffix."""


class ImportWriteError(ImportFileError, ValueError):
    """The catalogue could not be written (e.g. a locked database); nothing was written.

    ``str(exc)`` is English; ``exc.text(lang)`` gives the French (default) or English message.
    """


#: The error of a file without any listing (empty, or a header only).
NO_LISTING = "the file holds no listing: it is empty or has only a header row"


@dataclass(frozen=True)
class RowError:
    """One problem with one field of one row; the row is not imported.

    Attributes
    ----------
    row
        Row number as the user sees it (see the module docstring).
    field
        The listing field (``surface_m2``), several joined by ``", "`` for a cross-field
        check (``lon, lat``), or ``(record)`` for the row as a whole.
    reason
        The validator's reason, in English (``"'12O0' is not a number"``).
    value
        The raw cell as it was in the file, when one cell is at fault.
    """

    row: int
    field: str
    reason: str
    value: str | None = None


@dataclass(frozen=True)
class RowWarning:
    """Something worth a look that does not stop the import.

    Attributes
    ----------
    row
        Row number (see the module docstring); the header row for column warnings.
    kind
        ``probable_duplicate``, ``unknown_column``, ``duplicate_column`` or ``reprojected``.
    message
        What was found, in English.
    field
        The field or column concerned, if any.
    other_row
        For a probable duplicate within the file: the other row.
    other_id
        For a probable duplicate of a stored listing: its id.
    """

    row: int
    kind: str
    message: str
    field: str | None = None
    other_row: int | None = None
    other_id: int | None = None


@dataclass
class ParsedListings:
    """The outcome of reading and validating a listing file (nothing written).

    Attributes
    ----------
    fmt
        The format read.
    total_rows
        Data rows in the file (blank lines not counted).
    items
        The valid listings, in file order.
    rows
        The row number of each valid listing.
    errors, warnings
        Every problem found, in row order.
    columns
        File column -> field, for the columns that were used.
    notes
        What the reader detected (encoding, separator, layer, CRS).
    header_row
        The row of file-level problems: 1 (the header) for tables, 0 for geometry files.
    more_errors
        How many errors were found past the ``max_errors`` first ones listed in ``errors``.
    """

    fmt: str
    total_rows: int
    items: list[PremisesCreate]
    rows: list[int]
    errors: list[RowError]
    warnings: list[RowWarning]
    columns: dict[str, str]
    notes: dict[str, str] = field(default_factory=dict)
    header_row: int = 1
    more_errors: int = 0


@dataclass
class ImportReport:
    """What an import found and did.

    Attributes
    ----------
    path, fmt
        The file and its format.
    total_rows, valid_rows
        Data rows read, and those without any error.
    errors, warnings
        Every :class:`RowError` and :class:`RowWarning`.
    created, updated, unchanged
        Listing ids, as returned by the repository (empty when nothing was written).
    written
        Whether the rows were sent to the catalogue (``False`` on a dry run, a refused
        import, or a file without a valid row); ``unchanged`` says which changed nothing.
    dry_run, skip_invalid
        The options the import ran with.
    notes
        What the reader detected (encoding, separator, layer, CRS).
    header_row
        The row of file-level problems: 1 (the header) for tables, 0 for geometry files.
    more_errors
        Errors found past those listed (see :class:`~geodata.io.limits.ImportLimits`).
    """

    path: str
    fmt: str
    total_rows: int
    valid_rows: int
    errors: list[RowError] = field(default_factory=list)
    warnings: list[RowWarning] = field(default_factory=list)
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    written: bool = False
    dry_run: bool = False
    skip_invalid: bool = False
    notes: dict[str, str] = field(default_factory=dict)
    header_row: int = 1
    more_errors: int = 0

    @property
    def ok(self) -> bool:
        """Whether the file had no error at all."""
        return not self.errors

    @property
    def invalid_rows(self) -> int:
        """How many data rows were rejected."""
        return self.total_rows - self.valid_rows

    @property
    def row_kind(self) -> str:
        """``"row"`` for tables, ``"feature"`` for geometry files (for messages)."""
        return "feature" if self.fmt in ("geojson", "gpkg") else "row"


class _Repository(Protocol):  # the part of geodata.storage.Repository used here
    def connect(self) -> AbstractContextManager[Connection]: ...

    def premises_frame(self, *, status: str | None = None) -> pd.DataFrame: ...

    def upsert_premises_by_ref(
        self,
        items: Sequence[PremisesCreate],
        *,
        actor: str,
        expected_versions: Mapping[str, int] | None = None,
        verified_at: datetime | None = None,
    ) -> Any: ...

    def premises_by_refs(self, refs: Iterable[str]) -> Mapping[str, Premises]: ...

    def get_premises(self, premises_id: int) -> Premises: ...


def detect_format(path: str | Path, fmt: str | None = None) -> str:
    """Return the format of a listing file from ``fmt`` or the file's suffix.

    Examples
    --------
    >>> detect_format("offres.CSV"), detect_format("lots.gpkg"), detect_format("x.dat", "csv")
    ('csv', 'gpkg', 'csv')
    """
    if fmt is not None:
        fmt = fmt.lower().lstrip(".")
        if fmt == "json":
            fmt = "geojson"
        if fmt not in FORMATS:
            msg = f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}"
            fr = f"format inconnu {fmt!r} : utilisez l'un de {', '.join(FORMATS)}"
            raise UnsupportedFormatError(msg, fr)
        return fmt
    suffix = Path(path).suffix.lower()
    for name, suffixes in FORMATS.items():
        if suffix in suffixes:
            return name
    known = ", ".join(s for suffixes in FORMATS.values() for s in suffixes)
    msg = f"cannot tell the format of {Path(path).name!r} from its suffix: use {known} or fmt="
    fr = (
        f"impossible de reconnaître le format de {Path(path).name!r} à son extension : "
        f"utilisez {known} ou fmt="
    )
    raise UnsupportedFormatError(msg, fr)


def _read_raw(
    path: Path, fmt: str, sheet: str | int | None, limits: ImportLimits, deadline: Deadline
) -> RawTable:
    if not path.exists():
        msg = f"{path}: no such file"
        raise ListingsFileError(msg, f"{path} : fichier introuvable ; vérifiez son chemin")
    if sheet is not None and fmt not in ("xlsx", "gpkg"):
        msg = f"{path.name}: only an XLSX workbook or a GeoPackage has sheets or layers to choose"
        fr = (
            f"{path.name} : seuls un classeur XLSX ou un GeoPackage ont des feuilles ou des "
            "couches à choisir ; retirez l'option de feuille ou de couche"
        )
        raise ListingsFileError(msg, fr)
    size = path.stat().st_size
    if size == 0 and fmt != "csv":  # an empty CSV is reported as a file without listing
        msg = f"{path.name}: the file is empty (0 bytes); export the listings to it again"
        fr = f"{path.name} : le fichier est vide (0 octet) ; exportez-y à nouveau les annonces"
        raise ListingsFileError(msg, fr)
    if size > limits.max_file_bytes:
        msg = (
            f"{path.name}: {size / 2**20:,.1f} MiB, more than the "
            f"{limits.max_file_bytes / 2**20:,.0f} MiB one import takes; "
            "split it into smaller files"
        )
        fr = (
            f"{path.name} : {french_number(f'{size / 2**20:,.1f}')} Mio, plus que les "
            f"{french_number(f'{limits.max_file_bytes / 2**20:,.0f}')} Mio qu'un import "
            "accepte ; découpez-le en fichiers plus petits"
        )
        raise ImportLimitError(msg, fr)
    try:
        if fmt == "csv":
            return read_csv_table(path, limits=limits, deadline=deadline)
        if fmt == "xlsx":
            return read_xlsx_table(path, sheet=sheet, limits=limits, deadline=deadline)
        layer = None
        if fmt == "gpkg" and sheet is not None:
            layer = pick_by_name_or_position(
                sheet, layer_names(path), file_name=path.name, what="layer", container="GeoPackage"
            )
        if fmt == "gpkg":
            _check_gpkg_layers(path)
            names = layer_names(path)
            chosen = layer or ("premises" if "premises" in names else names[0] if names else None)
            features = int(pyogrio.read_info(path, layer=chosen)["features"]) if chosen else 0
        else:
            features = int(pyogrio.read_info(path)["features"])
        if features > limits.max_rows:
            raise limits.too_many_rows(path.name, features)
        return read_geo_table(path, fmt, layer=layer)
    except (ListingsFileError, ImportLimitError):
        raise
    except (SheetNotFoundError, TableReadError) as exc:
        raise ListingsFileError(exc.en, exc.fr) from exc
    except (OSError, ValueError, KeyError, RuntimeError, zipfile.BadZipFile) as exc:
        cause = _short(exc).replace(str(path), path.name)
        msg = (
            f"{path.name}: cannot be read as {fmt.upper()} ({cause}); check that the file is in "
            f"{fmt.upper()} format and save it again"
        )
        fr = (
            f"{path.name} : illisible comme fichier {fmt.upper()} ({cause}) ; vérifiez "
            f"que le fichier est bien au format {fmt.upper()} et enregistrez-le à nouveau"
        )
        raise ListingsFileError(msg, fr) from exc
    except Exception as exc:  # a broken workbook: malformed XML, unexpected parts...
        if fmt != "xlsx":
            raise
        cause = _short(exc).replace(str(path), path.name)
        msg = (
            f"{path.name}: cannot be read as XLSX ({cause}); open it in a spreadsheet "
            "and save it again as an .xlsx workbook"
        )
        fr = (
            f"{path.name} : illisible comme fichier XLSX ({cause}) ; ouvrez-le dans un "
            "tableur et enregistrez-le à nouveau en classeur .xlsx"
        )
        raise ListingsFileError(msg, fr) from exc


def usable_geometry_type(name: str) -> bool:
    """Whether a layer of this OGR geometry type can hold listings: points, polygons, or a
    layer of any type ("Unknown", "Geometry": an empty or mixed layer).

    >>> usable_geometry_type("MultiPolygon"), usable_geometry_type("Unknown")
    (True, True)
    >>> usable_geometry_type("LineString")
    False
    """
    name = name.upper()
    return "POINT" in name or "POLYGON" in name or name in ("UNKNOWN", "GEOMETRY")


def _check_gpkg_layers(path: Path) -> None:
    """A GeoPackage must have a layer of points or polygons (listings are one or the other)."""
    with warnings.catch_warnings():  # GDAL's warnings about a foreign SQLite file
        warnings.simplefilter("ignore")
        layers = [(str(n), str(g)) for n, g in pyogrio.list_layers(path)]
    if any(usable_geometry_type(g) for _, g in layers):
        return
    shown = ", ".join(f"{n} ({g})" for n, g in layers)
    msg = (
        f"{path.name}: no layer of points or polygons (layers: {shown or 'none'}); "
        "export the listings as points or polygons from the GIS"
    )
    fr = (
        f"{path.name} : aucune couche de points ou de polygones (couches : {shown or 'aucune'}) ; "
        "exportez les annonces en points ou en polygones depuis le SIG"
    )
    raise ListingsFileError(msg, fr)


def _short(exc: BaseException) -> str:
    """An exception as one short line: its class and the first line of its message."""
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _map_columns(raw: RawTable) -> tuple[dict[str, str], list[RowWarning]]:
    """Map file columns to fields; warn about unknown and repeated columns."""
    mapping: dict[str, str] = {}
    warnings: list[RowWarning] = []
    used: dict[str, str] = {}
    columns = [str(c) for c in raw.frame.columns]
    for column in columns:
        target = header_lookup(column)
        stem, dot, suffix = column.rpartition(".")
        if target is None and dot and suffix.isdigit() and stem in columns:
            target = header_lookup(stem)  # a header given twice, renamed "name.1" on reading
        if target is None:
            if raw.fmt in ("geojson", "gpkg") and normalise_key(str(column)) in ("fid", "ogc fid"):
                continue
            msg = f"column '{column}' is not a listing field and was ignored"
            warnings.append(RowWarning(raw.header_row, "unknown_column", msg, str(column)))
            continue
        if target in IGNORED_COLUMNS:
            continue
        if target in used:
            msg = (
                f"column '{column}' also means {target} (like column '{used[target]}') "
                "and was ignored"
            )
            warnings.append(RowWarning(raw.header_row, "duplicate_column", msg, str(column)))
            continue
        used[target] = str(column)
        mapping[str(column)] = target
    return mapping, warnings


def _geometry_columns(
    geoms: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Point of each geometry (the representative point of a polygon) and polygon footprints."""
    geoms = np.asarray(geoms, dtype=object)
    n = len(geoms)
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    footprints = np.full(n, None, dtype=object)
    kinds = shapely.get_type_id(geoms)
    is_point = kinds == shapely.GeometryType.POINT
    is_poly = np.isin(kinds, (shapely.GeometryType.POLYGON, shapely.GeometryType.MULTIPOLYGON))
    bad = ~is_point & ~is_poly & ~shapely.is_missing(geoms)
    points = geoms.copy()
    if is_poly.any():
        points[is_poly] = shapely.point_on_surface(geoms[is_poly])
        footprints[is_poly] = geoms[is_poly]
    use = (is_point | is_poly) & ~shapely.is_empty(points)
    if use.any():
        lon[use] = shapely.get_x(points[use])
        lat[use] = shapely.get_y(points[use])
    return lon, lat, footprints, bad


def _geometry_from_text(
    texts: np.ndarray, rows: np.ndarray, errors: list[RowError], warnings: list[RowWarning]
) -> np.ndarray:
    """Parse a WKT/GeoJSON column (WGS84, or Lambert-93 detected by its coordinates)."""
    texts = np.array([None if is_missing(t) else str(t).strip() for t in texts], dtype=object)
    given = np.array([t is not None for t in texts], dtype=bool)
    is_json = np.array([t is not None and t.startswith("{") for t in texts], dtype=bool)
    geoms = np.full(len(texts), None, dtype=object)
    if is_json.any():
        geoms[is_json] = shapely.from_geojson(texts[is_json], on_invalid="ignore")
    wkt = given & ~is_json
    if wkt.any():
        geoms[wkt] = shapely.from_wkt(texts[wkt], on_invalid="ignore")
    unreadable = given & shapely.is_missing(geoms)
    for i in np.flatnonzero(unreadable):
        reason = f"'{texts[i][:60]}' is neither WKT nor GeoJSON"
        errors.append(RowError(int(rows[i]), "geometry", reason, texts[i]))
    present = ~shapely.is_missing(geoms)
    if present.any():
        west, south, east, north = shapely.bounds(geoms[present]).T
        l93 = np.zeros(len(geoms), dtype=bool)
        l93[present] = (west >= _L93_X[0]) & (east <= _L93_X[1]) & (south >= _L93_Y[0])
        l93[present] &= north <= _L93_Y[1]
        if l93.any():
            geoms[l93] = shapely.transform(
                geoms[l93], lambda xy: np.column_stack(to_wgs84(xy[:, 0], xy[:, 1]))
            )
            msg = (
                f"{int(l93.sum())} geometr{'y' if l93.sum() == 1 else 'ies'} in Lambert-93 "
                "metres (EPSG:2154) were reprojected to WGS84"
            )
            first = int(rows[np.flatnonzero(l93)[0]])
            warnings.append(RowWarning(first, "reprojected", msg, "geometry"))
    return geoms


_INSEE_LIKE = r"^\s*(?:\d{5}|2[ABab]\d{3})\s*$"


def _communes_by_name(
    parsed: dict[str, list[Any]],
    territory: Territory,
    cells: Mapping[str, np.ndarray],
    rows: np.ndarray,
    failed: Mapping[int, set[str]],
    errors: list[RowError],
) -> None:
    """Replace the commune names of the ``commune_insee`` column by their INSEE codes.

    Each distinct name is resolved once (:meth:`Territory.commune_codes`); a name that fits
    no commune, or several, is a :class:`RowError` listing the close matches. Codes are left
    to the model, which checks them against the territory.
    """
    if "commune_insee" not in parsed:
        return
    values = pd.Series(parsed["commune_insee"], dtype=object)
    names = (values.notna() & ~values.astype(str).str.match(_INSEE_LIKE)).to_numpy()
    if not names.any():
        return
    codes = territory.commune_codes(values[names].to_numpy(object))
    column = parsed["commune_insee"]
    for k, i in enumerate(np.flatnonzero(names)):
        if codes[k] is not None:
            column[i] = codes[k]
            continue
        try:
            territory.commune_code(column[i])
        except CommuneNameError as exc:
            failed[int(i)].add("commune_insee")
            raw = _raw_text(cells["commune_insee"][i]) if "commune_insee" in cells else None
            errors.append(RowError(int(rows[i]), "commune_insee", str(exc), raw))


def read_listings(
    path: str | Path,
    *,
    territory: Territory | None,
    fmt: str | None = None,
    sheet: str | int | None = None,
    limits: ImportLimits | None = None,
) -> ParsedListings:
    """Read a listing file and validate every row, without writing anything.

    Parameters
    ----------
    path
        A CSV, XLSX, GeoJSON or GeoPackage file.
    territory
        The territory to check points and communes against, and to read commune names
        with (in any case, with or without accents). ``None`` checks only the form of each
        field (for files from elsewhere, checked again when imported into a territory).
    fmt
        ``csv``, ``xlsx``, ``geojson`` or ``gpkg``; by default from the suffix.
    sheet
        The sheet of an XLSX workbook or the layer of a GeoPackage, by name or by position
        counted from 1. By default the first sheet that looks like a listing table, and the
        ``premises`` layer (else the first one).
    limits
        The caps of the import (file size, rows, errors kept, time); by default those of
        :mod:`geodata.io.limits`.

    Returns
    -------
    ParsedListings
        The valid listings with their row numbers, every error (the first
        ``limits.max_errors`` of them, see ``ParsedListings.more_errors``) and every warning.

    Raises
    ------
    ListingsFileError
        When the file cannot be read at all.
    ImportLimitError
        When the file is past one of the ``limits``.
    """
    with _frozen_heap():
        return _read_listings(path, territory=territory, fmt=fmt, sheet=sheet, limits=limits)


def _read_listings(
    path: str | Path,
    *,
    territory: Territory | None,
    fmt: str | None,
    sheet: str | int | None,
    limits: ImportLimits | None,
) -> ParsedListings:
    path = Path(path)
    fmt = detect_format(path, fmt)
    limits = limits or ImportLimits()
    deadline = limits.deadline()
    raw = _read_raw(path, fmt, sheet, limits, deadline)
    gc.freeze()  # the cells, kept to the end (see _frozen_heap)
    mapping, warnings = _map_columns(raw)
    errors = _Errors(limits.max_errors)
    errors.extend(RowError(row, "(record)", reason) for row, reason in raw.problems)
    frame = raw.frame
    n = len(frame)
    rows = raw.rows

    # Columns of raw cells, one per field.
    cells: dict[str, np.ndarray] = {
        target: frame[column].to_numpy(dtype=object) for column, target in mapping.items()
    }
    failed: defaultdict[int, set[str]] = defaultdict(set)  # fields already reported, by row
    geometry = raw.geometry
    geometry_text = cells.pop("geometry", None)
    if geometry is None and geometry_text is not None:
        geometry = _geometry_from_text(geometry_text, rows, errors, warnings)
        given = np.array([not is_missing(t) for t in geometry_text], dtype=bool)
        for k in np.flatnonzero(given & shapely.is_missing(geometry)):
            failed[int(k)] |= {"lon", "lat", "lon, lat"}
    geom_lon = geom_lat = None
    geom_footprint = None
    if geometry is not None:
        geom_lon, geom_lat, geom_footprint, bad = _geometry_columns(geometry)
        for k in np.flatnonzero(bad):
            failed[int(k)] |= {"lon", "lat", "lon, lat"}
            kind = shapely.get_type_id(geometry[k])
            errors.append(
                RowError(
                    int(rows[k]),
                    "geometry",
                    f"a {shapely.GeometryType(kind).name.title()} cannot place a listing "
                    "(expected a Point, Polygon or MultiPolygon)",
                )
            )

    empty_file = n == 0 and len(frame.columns) == 0
    missing_required = [
        name
        for name in REQUIRED_FIELDS
        if name not in cells
        and not (name in ("lon", "lat") and geom_lon is not None)
        and not empty_file
    ]
    for name in missing_required:
        names = dict.fromkeys((name, *COLUMN_ALIASES.get(name, ())))
        expected = ", ".join(f"'{a}'" for a in list(names)[:4])
        errors.append(
            RowError(raw.header_row, name, f"no column for this required field (e.g. {expected})")
        )

    # A comma is a decimal comma in a French file (";"-separated, as Excel writes it in
    # France); elsewhere "12,500" could be 12.5 or 12500 and is refused, never guessed.
    french = raw.fmt == "csv" and raw.notes.get("separator") == ";"
    parsed: dict[str, list[Any]] = {name: [None] * n for name in cells}
    for name, column in cells.items():
        deadline.check(path.name)
        parse = FIELD_PARSERS.get(name, parse_text)
        if name in NUMBER_FIELDS and name not in ("lon", "lat"):
            strict = (
                (_parse_int_french, _parse_number_french)
                if french
                else (
                    parse_int_strict,
                    parse_number_strict,
                )
            )
            parse = strict[0] if name in INT_FIELDS else strict[1]
        out = parsed[name]
        todo: list[int] | range = range(n)
        if name in NUMBER_FIELDS:
            todo = _plain_numbers(column, out, whole=name in INT_FIELDS, french=french)
        # Words, yes/no, dates and lists repeat: each distinct cell is parsed once.
        memo: dict[str, Any] | None = {} if name not in _FREE_TEXT else None
        for i in todo:
            value = column[i]
            if value.__class__ is str and memo is not None:
                result = memo.get(value, _UNSEEN)
                if result is _UNSEEN:
                    try:
                        result = _BLANK if not value.strip() else parse(value)
                    except CellError as exc:
                        result = exc
                    memo[value] = result
                if result is _BLANK:
                    continue
                if isinstance(result, CellError):
                    failed[i].add(name)
                    errors.append(RowError(int(rows[i]), name, str(result), _raw_text(value)))
                    continue
                out[i] = result if result.__class__ in _IMMUTABLE else copy.copy(result)
                continue
            if (value.__class__ is str and not value.strip()) or is_missing(value):
                continue
            try:
                out[i] = parse(value)
            except CellError as exc:
                failed[i].add(name)
                errors.append(RowError(int(rows[i]), name, str(exc), _raw_text(value)))
    _strip_invisible(parsed, rows, warnings)

    _lambert93_columns(parsed, rows, warnings)
    if geom_lon is not None and geom_lat is not None:
        has = ~np.isnan(geom_lon)
        lon_col = parsed.setdefault("lon", [None] * n)
        lat_col = parsed.setdefault("lat", [None] * n)
        for k in np.flatnonzero(has):
            lon_col[k], lat_col[k] = float(geom_lon[k]), float(geom_lat[k])
            failed[int(k)] -= {"lon", "lat"}
        placed = {int(r) for r in rows[has]}
        errors.keep(lambda e: not (e.row in placed and e.field in ("lon", "lat")))
        if geom_footprint is not None and (shapely.is_geometry(geom_footprint)).any():
            fp_col = parsed.setdefault("footprint", [None] * n)
            for k in np.flatnonzero(shapely.is_geometry(geom_footprint)):
                fp_col[k] = FIELD_PARSERS["footprint"](geom_footprint[k])
                failed[int(k)].discard("footprint")

    if territory is not None:
        _communes_by_name(parsed, territory, cells, rows, failed, errors)

    deadline.check(path.name)
    bad_rows = {e.row for e in errors if e.row != raw.header_row}
    columns = [(name, values) for name, values in parsed.items() if name in FIELDS]
    present = {
        name: pd.notna(pd.Series(values, dtype=object)).to_numpy() for name, values in columns
    }

    def reject(i: int, exc: ValidationError) -> None:
        for detail in error_details(exc):
            name = detail["field"]
            if name in failed[i] or name in missing_required:
                continue
            errors.append(
                RowError(int(rows[i]), name, detail["reason"], _cell_text(name, cells, parsed, i))
            )
            bad_rows.add(int(rows[i]))

    # The rows are validated a chunk at a time, so that only one chunk of records is held
    # besides the listings. Each row is checked for its form (no territory), then every
    # point of the chunk against the territory at once (:func:`_place_in_bulk`); a row whose
    # place is wrong is validated again on its own with the territory, which gives its error
    # as a single check would.
    items: list[PremisesCreate] = []
    item_rows: list[int] = []
    for start in range(0, n, VALIDATION_CHUNK):
        deadline.check(path.name)
        stop = min(n, start + VALIDATION_CHUNK)
        records: list[dict[str, Any]] = [{} for _ in range(start, stop)]
        for name, values in columns:
            for j in np.flatnonzero(present[name][start:stop]).tolist():
                records[j][name] = values[start + j]
        formed: dict[int, PremisesCreate] = {}
        for j, record in enumerate(records):
            try:
                formed[start + j] = PremisesCreate.model_validate(record)
            except ValidationError as exc:
                reject(start + j, exc)
        if territory is not None and formed:
            context = {"territory": territory}
            for i in _place_in_bulk(formed, territory):
                try:
                    formed[i] = PremisesCreate.model_validate(records[i - start], context=context)
                except ValidationError as exc:
                    del formed[i]
                    reject(i, exc)
        for i, item in formed.items():
            if int(rows[i]) not in bad_rows:
                items.append(_compact(item))
                item_rows.append(int(rows[i]))
        gc.freeze()  # the listings so far: kept to the end, no use scanning them again

    items, item_rows = _duplicate_refs(items, item_rows, cells, rows, errors)
    kept, more_errors = errors.first()
    notes = dict(raw.notes)
    return ParsedListings(
        fmt=fmt,
        total_rows=n,
        items=items,
        rows=item_rows,
        errors=kept,
        more_errors=more_errors,
        warnings=warnings,
        columns=mapping,
        notes=notes,
        header_row=raw.header_row,
    )


_frozen_depth = 0
_frozen_lock = threading.Lock()


@contextmanager
def _frozen_heap() -> Iterator[None]:
    """Let the code inside freeze the objects it keeps (``gc.freeze()``); unfreeze at the end.

    A large import keeps millions of objects (cells, listings) alive to its end, and each
    full collection of the garbage collector would walk them all again: a fifth of the
    import's time at 100,000 rows. Frozen objects are left out of collections until the
    outermost import ends (new garbage is still collected meanwhile).
    """
    global _frozen_depth
    with _frozen_lock:
        _frozen_depth += 1
    try:
        yield
    finally:
        with _frozen_lock:
            _frozen_depth -= 1
            if _frozen_depth == 0:
                gc.unfreeze()


#: Rows validated at a time by :func:`read_listings`.
VALIDATION_CHUNK = 5_000


def _compact(item: PremisesCreate) -> PremisesCreate:
    """The listing with its set of given fields copied to a set of the right size.

    pydantic grows that set one field at a time, to 128 slots for a typical row (2.2 KB, two
    thirds of a listing): a copy sized for its fields halves it, 100 MB over 100,000 rows.
    """
    object.__setattr__(item, "__pydantic_fields_set__", set(item.__pydantic_fields_set__))
    return item


def _parse_number_french(value: Any) -> float:
    return parse_number(value, french=True)


def _parse_int_french(value: Any) -> int:
    return parse_int(value, french=True)


_UNSEEN = object()  # a cell not parsed yet
_BLANK = object()  # a blank cell
#: Parsed values shared between the cells that gave them (the others are copied).
_IMMUTABLE = frozenset({str, int, float, bool, date, datetime})

# Fields whose cells rarely repeat: parsed cell by cell, without a memo.
_FREE_TEXT = frozenset(
    {
        "external_ref",
        "title",
        "address",
        "description",
        "lot_ref",
        "contact_name",
        "contact_email",
        "contact_phone",
        "owner_account",
        "footprint",
        "photos",
    }
)
_PLAIN_NUMBER = re.compile(r"^\s*-?\d{1,15}(?:\.\d{1,15})?\s*$")
_THREE_DECIMALS = re.compile(r"^\s*-?[1-9]\d{0,2}\.\d{3}\s*$")


def _plain_numbers(column: np.ndarray, out: list[Any], *, whole: bool, french: bool) -> Any:
    """Read the plain numbers of a column at once (``"1200"``, ``"-3.5"``) into ``out``.

    Returns the positions left for the cell parser: other text (units, grouped thousands,
    commas...), numbers from spreadsheets and blanks, and, for whole-number fields, plain
    numbers that are not whole. In a French file "1.500" is left to the parser, which
    refuses it as ambiguous. Gives the values the cell parser would give, faster.
    """
    plain = np.fromiter(
        (
            isinstance(v, str)
            and _PLAIN_NUMBER.match(v) is not None
            and not (french and _THREE_DECIMALS.match(v))
            for v in column
        ),
        dtype=bool,
        count=len(column),
    )
    values = np.array([float(v) for v in column[plain]], dtype=float)
    if whole:
        integral = np.floor(values) == values
        plain[np.flatnonzero(plain)[~integral]] = False
        values = values[integral]
    for i, v in zip(np.flatnonzero(plain).tolist(), values.tolist(), strict=True):
        out[i] = int(v) if whole else v
    return np.flatnonzero(~plain).tolist()


# Bidirectional controls (embeddings, overrides, isolates, marks) and zero-width characters:
# invisible, they can make a title read differently from what is stored ("Trojan Source").
_INVISIBLE = re.compile("[\u061c\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")


def _strip_invisible(
    parsed: dict[str, list[Any]], rows: np.ndarray, warnings: list[RowWarning]
) -> None:
    """Remove invisible and bidirectional control characters from text cells, with a warning."""
    for name, values in parsed.items():
        if name not in FIELDS:
            continue
        texts = [v for v in values if isinstance(v, str)]
        if not texts or not _INVISIBLE.search("".join(texts)):  # a column at once
            continue
        for i, value in enumerate(values):
            if isinstance(value, str) and _INVISIBLE.search(value):
                found = sorted({f"U+{ord(c):04X}" for c in _INVISIBLE.findall(value)})
                values[i] = _INVISIBLE.sub("", value).strip()
                msg = (
                    f"invisible or text-direction characters ({', '.join(found)}) were removed "
                    f"from {name}"
                )
                warnings.append(RowWarning(int(rows[i]), "invisible_characters", msg, name))


class _Errors(list[RowError]):
    """The errors of a file, bounded: past ``4 * most`` the others are only counted.

    :meth:`first` sorts them by row and keeps the first ``most``, so that a file of a million
    bad cells neither fills the memory nor a report nobody reads.
    """

    def __init__(self, most: int) -> None:
        super().__init__()
        self.most = most
        self.dropped = 0

    def append(self, error: RowError) -> None:
        if len(self) < 4 * self.most:
            super().append(error)
        else:
            self.dropped += 1

    def extend(self, errors: Iterable[RowError]) -> None:
        for error in errors:
            self.append(error)

    def keep(self, test: Any) -> None:
        """Keep only the errors for which ``test(error)`` is true."""
        self[:] = [e for e in self if test(e)]

    def first(self) -> tuple[list[RowError], int]:
        """The first ``most`` errors in row order, and how many others there are."""
        ordered = sorted(self, key=lambda e: (e.row, e.field))
        return ordered[: self.most], len(ordered) - self.most + self.dropped if len(
            ordered
        ) > self.most or self.dropped else 0


def _place_in_bulk(formed: dict[int, PremisesCreate], territory: Territory) -> list[int]:
    """Check every listing's place against the territory at once; return those to look at.

    For each listing whose point lies in a commune of the territory that agrees with its
    ``commune_insee`` (when given), set the commune and the activity zone found from the
    point when they were not given, as :class:`~geodata.schemas.PremisesCreate` does with the
    territory. Return the keys of the others (point outside, commune unknown or disagreeing),
    to be validated one by one for their exact error.
    """
    keys = list(formed)
    items = [formed[k] for k in keys]
    lon = np.fromiter((it.lon for it in items), dtype=float, count=len(items))
    lat = np.fromiter((it.lat for it in items), dtype=float, count=len(items))
    found = territory.commune_at(lon, lat)
    codes = territory.insee_codes
    ok = np.array(
        [
            f is not None and (it.commune_insee is None or it.commune_insee == f)
            for it, f in zip(items, found, strict=True)
        ],
        dtype=bool,
    )
    needs_zone = ok & np.array([it.zone_id is None for it in items], dtype=bool)
    zones = np.full(len(items), None, dtype=object)
    if needs_zone.any():
        zones[needs_zone] = territory.zone_at(lon[needs_zone], lat[needs_zone])
    for k in np.flatnonzero(ok).tolist():
        item = items[k]
        if item.commune_insee is None:
            item.commune_insee = str(found[k])
        if zones[k] is not None:
            item.zone_id = str(zones[k])
    assert all(str(f) in codes for f in found[ok])  # commune_at gives territory communes
    return [keys[k] for k in np.flatnonzero(~ok).tolist()]


def _raw_text(value: Any) -> str | None:
    if is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip() if not isinstance(value, dict) else str(value)


def _cell_text(name: str, cells: Mapping[str, np.ndarray], parsed: Mapping, i: int) -> str | None:
    names = [part.strip() for part in name.split(",")]
    texts = []
    for part in names:
        if part in cells:
            texts.append(_raw_text(cells[part][i]))
        elif part in parsed and parsed[part][i] is not None:
            texts.append(_raw_text(parsed[part][i]))
        else:
            texts.append(None)
    if all(t is None for t in texts):
        return None
    return ", ".join("" if t is None else t for t in texts)


def _lambert93_columns(parsed: dict[str, list[Any]], rows: np.ndarray, warnings: list) -> None:
    """Reproject lon/lat cells that hold Lambert-93 metres (x, y columns) to WGS84."""
    if "lon" not in parsed or "lat" not in parsed:
        return
    lon = np.array([np.nan if v is None else v for v in parsed["lon"]], dtype=float)
    lat = np.array([np.nan if v is None else v for v in parsed["lat"]], dtype=float)
    l93 = (lon >= _L93_X[0]) & (lon <= _L93_X[1]) & (lat >= _L93_Y[0]) & (lat <= _L93_Y[1])
    if not l93.any():
        return
    new_lon, new_lat = to_wgs84(lon[l93], lat[l93])
    for k, i in enumerate(np.flatnonzero(l93)):
        parsed["lon"][i], parsed["lat"][i] = float(new_lon[k]), float(new_lat[k])
    first = int(rows[np.flatnonzero(l93)[0]])
    msg = (
        f"{int(l93.sum())} row(s) give lon/lat in Lambert-93 metres (EPSG:2154); "
        "they were reprojected to WGS84"
    )
    warnings.append(RowWarning(first, "reprojected", msg, "lon, lat"))


def _duplicate_refs(
    items: list[PremisesCreate],
    item_rows: list[int],
    cells: Mapping[str, np.ndarray],
    rows: np.ndarray,
    errors: list[RowError],
) -> tuple[list[PremisesCreate], list[int]]:
    """Flag every repeat of an external_ref within the file (valid rows or not)."""
    if "external_ref" not in cells:
        return items, item_rows
    refs = pd.Series([None if is_missing(v) else parse_text(v) for v in cells["external_ref"]])
    repeated = refs.notna() & refs.duplicated(keep="first")
    if not repeated.any():
        return items, item_rows
    first_row = {ref: int(rows[i]) for i, ref in refs[~repeated & refs.notna()].items()}
    dropped = set()
    for i in np.flatnonzero(repeated.to_numpy()):
        ref = refs.iloc[i]
        row = int(rows[i])
        msg = f"duplicate reference '{ref}' in the file (already on row {first_row[ref]})"
        errors.append(RowError(row, "external_ref", msg, ref))
        dropped.add(row)
    keep = [k for k, row in enumerate(item_rows) if row not in dropped]
    return [items[k] for k in keep], [item_rows[k] for k in keep]


def find_probable_duplicates(
    items: Sequence[PremisesCreate],
    rows: Sequence[int],
    existing: pd.DataFrame | None = None,
    *,
    radius_m: float = DUPLICATE_RADIUS_M,
    surface_tolerance: float = DUPLICATE_SURFACE_TOLERANCE,
) -> list[RowWarning]:
    """Find listings that are probably already in the file or in the catalogue.

    Two listings are probable duplicates when they lie within ``radius_m`` of each other
    (Lambert-93), their surfaces differ by at most ``surface_tolerance`` of the larger,
    they do not share an ``external_ref`` (a shared reference is an update, not a
    duplicate), and they do not both give a ``lot_ref`` with different values: the lots of
    one business village lie metres apart with similar surfaces, and their lot references
    tell them apart (compared ignoring case and surrounding spaces). Candidate pairs come
    from one k-d tree query each, not a loop over pairs.

    Parameters
    ----------
    items, rows
        The listings of a file and their row numbers.
    existing
        The stored catalogue (``Repository.premises_frame()``): index = id, columns
        ``lon``, ``lat``, ``surface_m2``, ``external_ref`` (``title`` and ``lot_ref``
        optional).

    Returns
    -------
    list of RowWarning
        ``probable_duplicate`` warnings on the later row, naming the other row
        (``other_row``) or the stored listing (``other_id``).
    """
    if not items:
        return []
    lon = np.array([it.lon for it in items], dtype=float)
    lat = np.array([it.lat for it in items], dtype=float)
    surface = np.array([it.surface_m2 for it in items], dtype=float)
    refs = np.array([it.external_ref for it in items], dtype=object)
    lots = _lot_keys([it.lot_ref for it in items])
    titles = [it.title for it in items]
    x, y = to_lambert93(lon, lat)
    tree = cKDTree(np.column_stack([x, y]))
    out: list[RowWarning] = []

    pairs = tree.query_pairs(radius_m, output_type="ndarray")
    if len(pairs):
        i, j = pairs[:, 0], pairs[:, 1]
        keep = (
            _similar(surface[i], surface[j], surface_tolerance)
            & _other_ref(refs[i], refs[j])
            & _same_lot_or_unknown(lots[i], lots[j])
        )
        i, j = i[keep], j[keep]
        dist = np.hypot(x[i] - x[j], y[i] - y[j])
        for a, b, d in zip(i, j, dist, strict=True):
            first, second = sorted((int(a), int(b)), key=lambda k: rows[k])
            msg = (
                f"probable duplicate of row {rows[first]} ('{titles[first]}'): "
                f"{d:.0f} m apart, {surface[first]:g} m² vs {surface[second]:g} m²"
            )
            out.append(
                RowWarning(int(rows[second]), "probable_duplicate", msg, other_row=int(rows[first]))
            )

    if existing is not None and len(existing):
        stored_lon, stored_lat = _frame_lonlat(existing)
        ok = np.isfinite(stored_lon) & np.isfinite(stored_lat)
        stored = existing[ok]
        sx, sy = to_lambert93(stored_lon[ok], stored_lat[ok])
        other = cKDTree(np.column_stack([sx, sy]))
        hits = tree.sparse_distance_matrix(other, radius_m, output_type="ndarray")
        if len(hits):
            i, j, d = hits["i"], hits["j"], hits["v"]
            s_surface = pd.to_numeric(stored["surface_m2"], errors="coerce").to_numpy(float)
            s_refs = (
                stored["external_ref"].astype(object).where(stored["external_ref"].notna(), None)
            )
            s_refs = s_refs.to_numpy(dtype=object)
            s_lots = _lot_keys(stored["lot_ref"] if "lot_ref" in stored else [None] * len(stored))
            keep = (
                _similar(surface[i], s_surface[j], surface_tolerance)
                & _other_ref(refs[i], s_refs[j])
                & _same_lot_or_unknown(lots[i], s_lots[j])
            )
            ids = stored.index.to_numpy()
            s_titles = stored["title"].to_numpy(dtype=object) if "title" in stored else None
            for a, b, dist in zip(i[keep], j[keep], d[keep], strict=True):
                name = f" ('{s_titles[b]}')" if s_titles is not None else ""
                msg = (
                    f"probable duplicate of stored listing {ids[b]}{name}: {dist:.0f} m apart, "
                    f"{surface[a]:g} m² vs {s_surface[b]:g} m²"
                )
                out.append(
                    RowWarning(int(rows[a]), "probable_duplicate", msg, other_id=int(ids[b]))
                )
    out.sort(key=lambda w: (w.row, w.other_row or 0, w.other_id or 0))
    return out


def _similar(a: np.ndarray, b: np.ndarray, tolerance: float) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return np.abs(a - b) <= tolerance * np.maximum(a, b)


def _lot_keys(values: Iterable[Any]) -> np.ndarray:
    """Lot references folded for comparison (case and surrounding spaces); None when missing."""
    folded = [None if is_missing(v) else str(v).strip().casefold() for v in values]
    return np.array([v or None for v in folded], dtype=object)


def _same_lot_or_unknown(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """False where both listings give a lot reference and the two differ (two lots)."""
    both = (
        pd.notna(pd.Series(a, dtype=object)).to_numpy()
        & pd.notna(pd.Series(b, dtype=object)).to_numpy()
    )
    return ~both | (a == b)


def _other_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a_missing = pd.isna(pd.Series(a, dtype=object)).to_numpy()
    b_missing = pd.isna(pd.Series(b, dtype=object)).to_numpy()
    return a_missing | b_missing | (a != b)


def _frame_lonlat(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if "lon" in frame and "lat" in frame:
        return (
            pd.to_numeric(frame["lon"], errors="coerce").to_numpy(float),
            pd.to_numeric(frame["lat"], errors="coerce").to_numpy(float),
        )
    geoms = np.asarray(frame.geometry.array, dtype=object)
    return shapely.get_x(geoms), shapely.get_y(geoms)


#: The stored columns :func:`find_probable_duplicates` compares a file with.
_DUPLICATE_COLUMNS = ("lon", "lat", "surface_m2", "external_ref", "title", "lot_ref")


def _stored_for_duplicates(repo: _Repository) -> pd.DataFrame:
    """The stored listings as :func:`find_probable_duplicates` reads them (index = id).

    Only the columns it compares, as arrays: not the whole catalogue as a GeoDataFrame.
    """
    with repo.connect() as conn:
        columns = premises_columns(conn, _DUPLICATE_COLUMNS)
    ids = pd.Index(columns.pop("id"), name="id")
    return pd.DataFrame(columns, index=ids)


# Fields derived from the point by validation: they are "carried" whenever the point is.
_DERIVED = {"commune_insee", "zone_id"}
_PLACE = {"lon", "lat", "footprint"}


def _keep_stored_fields(
    repo: _Repository, parsed: ParsedListings
) -> tuple[list[PremisesCreate], dict[str, int], list[RowError]]:
    """Re-imported listings keep the stored value of every field their file has no column for.

    A sheet without a status column must not set a let or sold listing back to available,
    nor wipe the description typed in the app: only the columns present are updated. The
    merged listing is validated again (a file setting tenure to rent must not keep a stored
    sale price); a merge that is invalid is a :class:`RowError` on that row. Also returns
    the version each merged listing was read at, so that the write can refuse a listing
    edited in the meantime instead of overwriting that edit with older values.
    """
    carried = set(parsed.columns.values())
    if parsed.fmt in ("geojson", "gpkg") or carried & {"lon", "lat", "geometry"}:
        carried |= _PLACE | _DERIVED
    absent = [f for f in PremisesCreate.model_fields if f not in carried and f != "external_ref"]
    if not absent or not any(item.external_ref for item in parsed.items):
        return list(parsed.items), {}, []
    items: list[PremisesCreate] = []
    versions: dict[str, int] = {}
    errors: list[RowError] = []
    # A chunk of stored listings at a time: a re-import of the whole catalogue does not hold
    # a second copy of it as models.
    for start in range(0, len(parsed.items), VALIDATION_CHUNK):
        chunk = parsed.items[start : start + VALIDATION_CHUNK]
        refs = [item.external_ref for item in chunk if item.external_ref]
        stored = repo.premises_by_refs(refs) if refs else {}
        rows = parsed.rows[start : start + VALIDATION_CHUNK]
        for item, row in zip(chunk, rows, strict=True):
            old = stored.get(item.external_ref or "")
            if old is not None:
                data = item.model_dump() | {f: getattr(old, f) for f in absent}
                try:
                    # The point was checked against the territory, in the file or when stored.
                    item = _compact(PremisesCreate.model_validate(data))
                except ValidationError as exc:
                    for detail in error_details(exc):
                        reason = (
                            f"{detail['reason']} (with the stored values of the fields the "
                            "file has no column for)"
                        )
                        errors.append(RowError(row, detail["field"], reason))
                    continue
                versions[old.external_ref or ""] = old.version
            items.append(item)
    return items, versions, errors


def import_listings(
    repo: _Repository,
    path: str | Path,
    *,
    actor: str,
    territory: Territory | None,
    skip_invalid: bool = False,
    fmt: str | None = None,
    dry_run: bool = False,
    sheet: str | int | None = None,
    limits: ImportLimits | None = None,
    verified_at: datetime | None = None,
) -> ImportReport:
    """Import a listing file into the catalogue, all or nothing.

    Every row is validated first. When any row is invalid and ``skip_invalid`` is false,
    nothing is written and the report lists every error. Otherwise the valid rows are
    upserted by ``external_ref`` in one transaction: a listing whose reference is already
    stored is updated (or left unchanged), the others are created.

    Parameters
    ----------
    repo
        A :class:`geodata.storage.Repository`.
    path
        The file (CSV, XLSX, GeoJSON, GeoPackage).
    actor
        Who imports, for the audit log.
    territory
        The territory the listings must lie in (see :func:`read_listings`).
    skip_invalid
        Write the valid rows even if some rows are invalid.
    fmt
        The format, by default from the suffix.
    dry_run
        Validate and report, write nothing.
    sheet, limits
        See :func:`read_listings`.
    verified_at
        The freshness date (``last_verified_at``) of the listings whose row gives none
        (default: now), when they are created or replace a dated listing. An import is its
        author's statement that the listings are true today: without it, a listing
        imported without a date would never be flagged nor hidden for want of
        confirmation. A date given in the file is kept; a listing already stored whose file
        has no such column keeps its stored date.

    Returns
    -------
    ImportReport
        Counts, errors, warnings (probable duplicates included) and the ids written. A file
        without any listing (empty, or a header only) is an error on its header row.

    Raises
    ------
    ListingsFileError
        When the file cannot be read at all.
    ImportLimitError
        When the file is past one of the ``limits``.
    ImportWriteError
        When the catalogue cannot be written (a database locked by another writer...);
        nothing was written.
    """
    with _frozen_heap():
        return _import_listings(
            repo,
            path,
            actor=actor,
            territory=territory,
            skip_invalid=skip_invalid,
            fmt=fmt,
            dry_run=dry_run,
            sheet=sheet,
            limits=limits,
            verified_at=verified_at,
        )


def _import_listings(
    repo: _Repository,
    path: str | Path,
    *,
    actor: str,
    territory: Territory | None,
    skip_invalid: bool,
    fmt: str | None,
    dry_run: bool,
    sheet: str | int | None,
    limits: ImportLimits | None,
    verified_at: datetime | None,
) -> ImportReport:
    parsed = read_listings(path, fmt=fmt, territory=territory, sheet=sheet, limits=limits)
    if parsed.total_rows == 0 and not parsed.errors:
        parsed.errors.append(RowError(parsed.header_row, "(file)", NO_LISTING))
    existing = _stored_for_duplicates(repo)
    warnings = list(parsed.warnings)
    warnings += find_probable_duplicates(parsed.items, parsed.rows, existing)
    warnings.sort(key=lambda w: w.row)
    items, versions, merge_errors = (
        _keep_stored_fields(repo, parsed) if parsed.items else ([], {}, [])
    )
    file_refs = [item.external_ref for item in parsed.items]
    parsed.items = []  # those merged with stored values are replaced in ``items``
    errors = sorted([*parsed.errors, *merge_errors], key=lambda e: (e.row, e.field))
    report = ImportReport(
        path=str(path),
        fmt=parsed.fmt,
        total_rows=parsed.total_rows,
        valid_rows=len(items),
        errors=errors,
        warnings=warnings,
        dry_run=dry_run,
        skip_invalid=skip_invalid,
        notes=parsed.notes,
        header_row=parsed.header_row,
        more_errors=parsed.more_errors,
    )
    if dry_run or not items or (errors and not skip_invalid):
        return report
    gc.freeze()
    try:
        result = repo.upsert_premises_by_ref(
            items,
            actor=actor,
            expected_versions=versions,
            verified_at=verified_at or datetime.now(UTC),
        )
    except OperationalError as exc:
        # The whole upsert is one transaction: a failure leaves the catalogue as it was.
        locked = "locked" in str(exc.orig).lower() or "lock" in type(exc.orig).__name__.lower()
        cause = str(exc.orig).strip().splitlines()[0]
        reason, reason_fr = (
            (
                "the database is locked by another program writing to it",
                "la base de données est verrouillée par un autre programme qui y écrit",
            )
            if locked
            else (
                f"the database refused the write ({cause})",
                f"la base de données a refusé l'écriture ({cause})",
            )
        )
        msg = (
            f"{Path(path).name}: {reason}; nothing was written, import the file again "
            "once the other write is over"
        )
        fr = (
            f"{Path(path).name} : {reason_fr} ; rien n'a été enregistré, importez à nouveau "
            "le fichier une fois l'autre écriture terminée"
        )
        raise ImportWriteError(msg, fr) from exc
    except StaleVersionError as exc:
        # Someone edited a listing between our read and our write: write nothing, say which.
        ref = repo.get_premises(exc.entity_id).external_ref
        row_of = dict(zip(file_refs, parsed.rows, strict=True))
        report.errors.append(
            RowError(
                row_of.get(ref, parsed.header_row),
                "external_ref",
                f"listing {exc.entity_id} was changed while importing (version {exc.expected} "
                f"became {exc.current}); nothing was written, import the file again",
                ref,
            )
        )
        return report
    report.created = list(result.created)
    report.updated = list(result.updated)
    report.unchanged = list(result.unchanged)
    report.written = True
    return report
