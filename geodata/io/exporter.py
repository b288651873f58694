"""Export the catalogue to CSV (English or French), XLSX, GeoJSON or GeoPackage.

Every export is read back by :func:`geodata.io.import_listings` into the same catalogue:
the columns are the listing fields (French headers with ``french=True``), plus the
read-only ``id``, ``version``, ``created_at`` and ``updated_at`` that the importer ignores.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import shapely

from geodata.io._csv import write_csv_table
from geodata.io._geo import write_geojson, write_gpkg
from geodata.io._values import BOOL_FIELDS, FLOAT_FIELDS, INT_FIELDS
from geodata.io._vocab import FIELDS, FRENCH_HEADERS, IGNORED_COLUMNS, USE_FRENCH
from geodata.io.importer import FORMATS, detect_format
from geodata.schemas import KIND_LABELS, STATUS_LABELS, TENURE_LABELS, PremisesCreate

__all__ = [
    "FORMULA_TRIGGERS",
    "canonical_frame",
    "export_listings",
    "export_table",
    "frame_from_listings",
    "neutralise",
]

SYSTEM_COLUMNS: tuple[str, ...] = ("id", "version", "created_at", "updated_at")
_FLOATS = frozenset(FLOAT_FIELDS)
_INTS = (*INT_FIELDS, "id", "version")
_BOOLS = BOOL_FIELDS
_DATES = ("available_from",)
_DATETIMES = ("last_verified_at", "created_at", "updated_at")
_LISTS = ("uses", "photos")


#: The first characters that make a spreadsheet read a CSV cell as a formula (OWASP "CSV
#: injection"): ``=``, ``+``, ``-``, ``@``, tab and carriage return.
FORMULA_TRIGGERS = "=+-@\t\r"
_NEEDS_QUOTE = re.compile(r"^'*[=+\-@\t\r]")


def neutralise(text: str) -> str:
    """A text cell that a spreadsheet will show as text, never run as a formula.

    A cell starting with one of :data:`FORMULA_TRIGGERS` gets a leading single quote, the
    mark spreadsheets use for "this is text"; so does one that already starts with quotes
    followed by such a character, so that the importer, which removes one leading quote
    before such a character, reads back exactly the value exported. Numbers are written by
    their own columns and never pass here: ``-12.5`` stays a number.

    Examples
    --------
    >>> print(neutralise('=HYPERLINK("http://x")'))
    '=HYPERLINK("http://x")
    >>> neutralise("+33 1 45 60 00 00"), neutralise("Entrepôt")
    ("'+33 1 45 60 00 00", 'Entrepôt')
    """
    return "'" + text if _NEEDS_QUOTE.match(text) else text


def frame_from_listings(items: Sequence[PremisesCreate]) -> pd.DataFrame:
    """Build a frame shaped like ``Repository.premises_frame()`` from listing models.

    ``uses`` is comma-joined, ``photos`` JSON text, ``footprint`` GeoJSON text or ``None``;
    the index is the ``id`` of stored listings (:class:`~geodata.schemas.Premises`), else
    1, 2, ...

    Examples
    --------
    >>> from geodata.schemas import PremisesCreate
    >>> item = PremisesCreate.model_validate(
    ...     {"title": "A", "kind": "warehouse", "surface_m2": 800, "tenure": "rent",
    ...      "lon": 2.4, "lat": 48.75, "uses": ["logistics"]})
    >>> frame_from_listings([item]).loc[1, "uses"]
    'logistics'
    """
    records = []
    for item in items:
        data = item.model_dump(mode="python")
        data["uses"] = ",".join(str(u) for u in data["uses"])
        data["photos"] = json.dumps(list(data["photos"]), ensure_ascii=False)
        fp = data["footprint"]
        data["footprint"] = None if fp is None else json.dumps(fp)
        records.append(data)
    columns = [*FIELDS, *(c for c in SYSTEM_COLUMNS if records and c in records[0])]
    frame = pd.DataFrame.from_records(records, columns=columns)
    if "id" in frame:
        frame.index = pd.Index(frame["id"].to_numpy(), name="id")
    else:
        frame.index = pd.RangeIndex(1, len(frame) + 1, name="id")
    return frame


def _source_frame(source: Any, status: str | None) -> pd.DataFrame:
    if hasattr(source, "premises_frame"):
        return source.premises_frame(status=status)
    if isinstance(source, pd.DataFrame):
        return source
    return frame_from_listings(list(source))


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    return value is pd.NaT or (np.ndim(value) == 0 and bool(pd.isna(value)))


def _listify(value: Any, kind: str) -> list[str]:
    if isinstance(value, list | tuple | np.ndarray):
        return [str(v) for v in value]
    if _missing(value):
        return []
    text = str(value).strip()
    if not text:
        return []
    if text.startswith("["):
        return [str(v) for v in json.loads(text)]
    if kind == "uses":
        return [part.strip() for part in text.split(",") if part.strip()]
    return text.split()


def _as_date(value: Any) -> date | None:
    if _missing(value):
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date()
    return date.fromisoformat(str(value)[:10])


def _as_datetime(value: Any) -> datetime | None:
    if _missing(value):
        return None
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    if isinstance(value, datetime):
        return value
    return datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def canonical_frame(source: Any, *, status: str | None = None) -> pd.DataFrame:
    """Return the listings of a repository, a frame or models as Python values per field.

    The result has one column per listing field plus the system columns present, with
    ``None`` for missing values, ``list`` for ``uses`` and ``photos``, ``dict`` for
    ``footprint``, :class:`~datetime.date` / :class:`~datetime.datetime` for dates, and
    ``lon``/``lat`` taken from the point geometry when the frame has no such columns.
    """
    frame = _source_frame(source, status)
    out = pd.DataFrame(index=frame.index)
    if "id" not in frame and frame.index.name == "id":
        out["id"] = frame.index.to_numpy()
    for name in (*SYSTEM_COLUMNS, *FIELDS):
        if name in frame:
            out[name] = frame[name].astype(object).to_numpy()
        elif name in FIELDS:
            out[name] = None
    if ("lon" not in frame or "lat" not in frame) and "geometry" in frame:
        geoms = np.asarray(frame.geometry.array, dtype=object)
        out["lon"] = shapely.get_x(geoms)
        out["lat"] = shapely.get_y(geoms)
    out = out.astype(object)
    for name in out.columns:
        column = out[name].to_numpy(dtype=object)
        values: list[Any]
        if name in _LISTS:
            values = [_listify(v, name) for v in column]
        elif name == "footprint":
            values = [
                None if _missing(v) else (v if isinstance(v, dict) else json.loads(v))
                for v in column
            ]
        elif name in _FLOATS:
            values = [None if _missing(v) else float(v) for v in column]
        elif name in _INTS:
            values = [None if _missing(v) else int(v) for v in column]
        elif name in _BOOLS:
            values = [None if _missing(v) else bool(v) for v in column]
        elif name in _DATES:
            values = [_as_date(v) for v in column]
        elif name in _DATETIMES:
            values = [_as_datetime(v) for v in column]
        else:
            values = [
                None if _missing(v) else (v.value if hasattr(v, "value") else v) for v in column
            ]
        out[name] = pd.Series(values, index=out.index, dtype=object)
    return out


def _number_text(value: float | None, decimal: str) -> str:
    if value is None:
        return ""
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    text = repr(value)
    return text.replace(".", decimal) if decimal != "." else text


def _text_table(frame: pd.DataFrame, *, french: bool, quote: bool = False) -> pd.DataFrame:
    """The export as text cells (CSV); ``quote`` neutralises formula-like text (see
    :func:`neutralise`)."""
    decimal = "," if french else "."
    table = pd.DataFrame(index=frame.index)
    for name in frame.columns:
        column = frame[name].to_numpy(dtype=object)
        if name in _FLOATS:
            cells = [_number_text(v, decimal) for v in column]
        elif name in _INTS:
            cells = ["" if v is None else str(v) for v in column]
        elif name in _BOOLS:
            words = ("oui", "non") if french else ("true", "false")
            cells = ["" if v is None else words[0] if v else words[1] for v in column]
        elif name in _DATES:
            fmt = "%d/%m/%Y" if french else "%Y-%m-%d"
            cells = ["" if v is None else v.strftime(fmt) for v in column]
        elif name in _DATETIMES:
            cells = ["" if v is None else v.isoformat() for v in column]
        elif name == "uses":
            if french:
                cells = [", ".join(USE_FRENCH.get(u, u) for u in v) for v in column]
            else:
                cells = [",".join(v) for v in column]
        elif name == "photos":
            cells = [" ".join(v) for v in column]
        elif name == "footprint":
            cells = ["" if v is None else json.dumps(v) for v in column]
        elif french and name in ("kind", "tenure", "status"):
            labels = {"kind": KIND_LABELS, "tenure": TENURE_LABELS, "status": STATUS_LABELS}[name]
            cells = ["" if v is None else labels.get(str(v), (str(v),))[0] for v in column]
        else:
            cells = ["" if v is None else str(v) for v in column]
        if quote and name not in _FLOATS and name not in _INTS:
            cells = [neutralise(c) for c in cells]
        table[name] = cells
    return table


def _typed_table(frame: pd.DataFrame, *, french: bool, geo: bool) -> pd.DataFrame:
    """The export as typed columns (XLSX, GeoJSON, GeoPackage)."""
    table = _text_table(frame, french=french)
    for name in frame.columns:
        column = frame[name].to_numpy(dtype=object)
        if name in _FLOATS:
            table[name] = np.array([np.nan if v is None else v for v in column], dtype=float)
        elif name in _INTS:
            table[name] = pd.array(list(column), dtype="Int64")
        elif name in _BOOLS and not french:
            table[name] = pd.array(list(column), dtype="boolean")
        elif (name in _DATES and not geo) or (name == "footprint" and geo):
            table[name] = pd.Series(list(column), index=frame.index, dtype=object)
        elif name not in _FLOATS:
            table[name] = table[name].replace("", None)
    return table


def _write_xlsx(table: pd.DataFrame, path: Path, *, sheet: str) -> None:
    """Write typed cells to a workbook; every text cell is a string cell, never a formula.

    openpyxl turns a string starting with ``=`` into a formula cell, which a spreadsheet would
    run (a title ``=HYPERLINK(...)``). Strings are stored as they are (a string cell is never
    evaluated, whatever its first character), so they read back unchanged.
    """
    with pd.ExcelWriter(path, engine="openpyxl") as writer:
        table.to_excel(writer, index=False, sheet_name=sheet)
        text = [
            i + 1
            for i, name in enumerate(table.columns)
            if pd.api.types.is_object_dtype(table[name])
            or pd.api.types.is_string_dtype(table[name])
        ]
        worksheet = writer.sheets[sheet]
        for col in text:
            for (cell,) in worksheet.iter_rows(min_row=2, min_col=col, max_col=col):
                if cell.data_type == "f":
                    cell.data_type = "s"


def _order(frame: pd.DataFrame) -> list[str]:
    system = [c for c in SYSTEM_COLUMNS if c in frame]
    return ["id", *FIELDS, *system[1:]] if "id" in system else [*FIELDS, *system]


def _french_headers(columns: Sequence[str]) -> list[str]:
    return [FRENCH_HEADERS.get(c, IGNORED_COLUMNS.get(c, c)) for c in columns]


def export_listings(
    frame_or_repo: Any,
    path: str | Path,
    *,
    fmt: str | None = None,
    french: bool = False,
    status: str | None = None,
) -> Path:
    """Export listings to a CSV, XLSX, GeoJSON or GeoPackage file.

    Parameters
    ----------
    frame_or_repo
        A :class:`geodata.storage.Repository` (its ``premises_frame()``), such a frame,
        or a sequence of :class:`~geodata.schemas.PremisesCreate`.
    path
        The file to write (overwritten).
    fmt
        ``csv``, ``xlsx``, ``geojson`` or ``gpkg``; by default from the suffix.
    french
        CSV/XLSX only: French headers and values, ``;`` separator, decimal commas,
        ``oui``/``non`` and ``JJ/MM/AAAA`` dates (UTF-8 with a BOM, for Excel).
        The importer reads it back.
    status
        With a repository: export only the listings with this status.

    Returns
    -------
    pathlib.Path
        The file written.

    Notes
    -----
    CSV: UTF-8, ``,`` separator, field names as headers, numbers with a decimal point,
    ``uses`` comma-joined, ``photos`` space-separated, ``footprint`` as GeoJSON text.
    GeoJSON: WGS84 points with the fields as properties (``footprint`` nested).
    GeoPackage: layer ``premises`` (points, ``footprint`` as GeoJSON text) and, when some
    listings have one, layer ``footprints`` (polygons with ``premises_id``).
    XLSX: typed cells; numbers keep 15 significant digits, as Excel does (every other
    format round-trips floats exactly).
    """
    path = Path(path)
    fmt = detect_format(path, fmt)
    if fmt not in FORMATS:  # pragma: no cover - detect_format raises first
        raise AssertionError(fmt)
    frame = _ordered(canonical_frame(frame_or_repo, status=status))
    table = _table(frame, fmt, french=french)
    if fmt == "csv":
        write_csv_table(table, path, sep=";" if french else ",")
        return path
    if fmt == "xlsx":
        _write_xlsx(table, path, sheet="annonces" if french else "premises")
        return path
    lon, lat = _lonlat(frame)
    if fmt == "geojson":
        write_geojson(table, lon, lat, path)
        return path
    footprints = shapely.from_geojson(table["footprint"].to_numpy(dtype=object))
    write_gpkg(table, lon, lat, footprints, path)
    return path


def _ordered(frame: pd.DataFrame) -> pd.DataFrame:
    return frame[[c for c in _order(frame) if c in frame]]


def _lonlat(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    lon = np.array([np.nan if v is None else v for v in frame["lon"]], dtype=float)
    lat = np.array([np.nan if v is None else v for v in frame["lat"]], dtype=float)
    return lon, lat


def _table(frame: pd.DataFrame, fmt: str, *, french: bool) -> pd.DataFrame:
    """The cells of an export of an ordered canonical frame (see :func:`export_table`)."""
    if fmt == "csv":
        table = _text_table(frame, french=french, quote=True)
        if french:
            table.columns = _french_headers(list(table.columns))
        return table
    if fmt == "xlsx":
        table = _typed_table(frame, french=french, geo=False)
        for name in _DATETIMES:
            if name in table:
                table[name] = table[name].replace("", None)
        if french:
            table.columns = _french_headers(list(table.columns))
        return table
    table = _typed_table(frame.drop(columns=["lon", "lat"]), french=False, geo=True)
    if fmt == "gpkg":
        texts = [None if v is None else json.dumps(v) for v in frame["footprint"]]
        table["footprint"] = pd.Series(texts, index=table.index, dtype=object)
    return table


def export_table(
    source: Any, fmt: str, *, french: bool = False, exclude: Sequence[str] = ()
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """The cells :func:`export_listings` writes for ``fmt``, and each listing's point.

    For a caller that writes an export in parts (the HTTP export streams its files batch by
    batch): every batch gets the same columns, conversions and CSV-injection neutralisation
    as a whole-file export.

    Parameters
    ----------
    source
        Listings, as :func:`export_listings` takes them (a repository, a frame, models).
    fmt
        ``csv`` (text cells, formula-like text neutralised, French headers and values with
        ``french``), ``xlsx`` (typed cells), ``geojson`` (typed properties, ``footprint`` a
        nested dict) or ``gpkg`` (typed properties, ``footprint`` as GeoJSON text).
    french
        CSV and XLSX only, as in :func:`export_listings`.
    exclude
        Fields to leave out of the table (e.g. ``owner_account`` in a public export).

    Returns
    -------
    table, lon, lat
        One row per listing in file order (the columns named as in the file), and the
        WGS84 coordinates of each (the geometry of GeoJSON and GeoPackage features).

    Examples
    --------
    >>> from geodata.schemas import PremisesCreate
    >>> item = PremisesCreate.model_validate(
    ...     {"title": "=1+1", "kind": "warehouse", "surface_m2": 800, "tenure": "rent",
    ...      "lon": 2.4, "lat": 48.75})
    >>> table, lon, lat = export_table([item], "csv")
    >>> table["title"].tolist(), lon.tolist()
    (["'=1+1"], [2.4])
    """
    if fmt not in FORMATS:
        msg = f"fmt: {fmt!r} is not one of {', '.join(FORMATS)}"
        raise ValueError(msg)
    frame = _ordered(canonical_frame(source))
    lon, lat = _lonlat(frame)
    frame = frame.drop(columns=[c for c in exclude if c in frame])
    return _table(frame, fmt, french=french), lon, lat
