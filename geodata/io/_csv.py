"""Read and write listing tables as CSV (separator and encoding detected) or XLSX.

Row numbers
-----------
A row is numbered as a spreadsheet shows it: the header is row 1, the first data row is
row 2, and blank lines keep their number (they are skipped, not renumbered). A quoted cell
that spans several lines is one row.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geodata.io._vocab import header_lookup

__all__ = [
    "ENCODINGS",
    "RawTable",
    "SheetNotFoundError",
    "decode",
    "detect_separator",
    "pick_by_name_or_position",
    "read_csv_table",
    "read_xlsx_table",
    "write_csv_table",
]

#: Encodings tried in order; cp1252 (Excel's "CSV (séparateur : point-virgule)" on Windows)
#: is the fallback, and latin-1 the last resort (it never fails).
ENCODINGS: tuple[str, ...] = ("utf-8-sig", "cp1252", "latin-1")
_SEPARATORS = (";", "\t", ",", "|")


@dataclass
class RawTable:
    """The cells of a listing file before parsing.

    Attributes
    ----------
    frame
        One column per file column (headers as written), object dtype, cells as read.
    rows
        The row number of each line of ``frame`` (see the module docstring).
    fmt
        ``csv``, ``xlsx``, ``geojson`` or ``gpkg``.
    header_row
        The row number errors about the whole file or its header use (1 for tables,
        0 for geometry files: "the file").
    geometry
        For geometry files, one shapely geometry (WGS84) or ``None`` per row.
    notes
        What the reader detected (encoding, separator, CRS), for the report.
    problems
        ``(row, reason)`` pairs about the shape of a row (too many cells...).
    """

    frame: pd.DataFrame
    rows: np.ndarray
    fmt: str
    header_row: int = 1
    geometry: np.ndarray | None = None
    notes: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[int, str]] = field(default_factory=list)


def decode(data: bytes) -> tuple[str, str]:
    """Decode file bytes with the first encoding of :data:`ENCODINGS` that works.

    Examples
    --------
    >>> decode("Entrepôt".encode("cp1252"))
    ('Entrepôt', 'cp1252')
    >>> decode("\\ufeffEntrepôt".encode("utf-8"))
    ('Entrepôt', 'utf-8-sig')
    """
    for encoding in ENCODINGS:
        try:
            return data.decode(encoding), encoding
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any byte string")  # pragma: no cover


def detect_separator(text: str) -> str:
    """Pick the CSV separator (``;``, tab, ``,`` or ``|``) that splits the lines most evenly.

    Each candidate parses the first 50 lines; the best one gives the header more than one
    column and the most lines with as many cells as the header. Ties go to ``;`` (French
    files), then tab, then ``,``.

    Examples
    --------
    >>> detect_separator("titre;surface\\nA;1 200,5\\n")
    ';'
    >>> detect_separator("title,surface_m2\\nA,1200.5\\n")
    ','
    """
    sample = "\n".join(text.splitlines()[:50])
    best, best_score = ",", (-1, -1.0, -1)
    for rank, sep in enumerate(_SEPARATORS):
        records = [r for r in csv.reader(io.StringIO(sample), delimiter=sep) if r]
        if not records:
            continue
        width = len(records[0])
        even = sum(len(r) == width for r in records) / len(records)
        score = (int(width > 1), even, width)
        if score > best_score or (score == best_score and rank < _SEPARATORS.index(best)):
            best, best_score = sep, score
    return best


def read_csv_table(path: str | Path) -> RawTable:
    """Read a CSV file into a :class:`RawTable` of text cells.

    The encoding (UTF-8 with or without BOM, else cp1252) and the separator are detected.
    Rows with more cells than the header are reported in ``problems``; short rows are
    padded with empty cells.
    """
    text, encoding = decode(Path(path).read_bytes())
    sep = detect_separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    header: list[str] | None = None
    data: list[list[str]] = []
    rows: list[int] = []
    problems: list[tuple[int, str]] = []
    for number, record in enumerate(reader, start=1):
        if header is None:
            if not any(cell.strip() for cell in record):
                continue
            header = [cell.strip() for cell in record]
            header_row = number
            continue
        if not any(cell.strip() for cell in record):
            continue
        if len(record) > len(header):
            extra = record[len(header) :]
            if any(cell.strip() for cell in extra):
                problems.append(
                    (
                        number,
                        f"has {len(record)} cells but the header has {len(header)} columns "
                        f"(an unquoted '{sep}' inside a value?)",
                    )
                )
            record = record[: len(header)]
        data.append(record + [""] * (len(header) - len(record)))
        rows.append(number)
    if header is None:
        header, header_row = [], 1
    frame = pd.DataFrame(data, columns=_unique(header), dtype=object)
    notes = {"encoding": encoding, "separator": "tab" if sep == "\t" else sep}
    return RawTable(
        frame=frame,
        rows=np.asarray(rows, dtype=int),
        fmt="csv",
        header_row=header_row,
        notes=notes,
        problems=problems,
    )


class SheetNotFoundError(LookupError):
    """The sheet (or layer) asked for is not in the file; the message lists those it has."""


def read_xlsx_table(path: str | Path, *, sheet: str | int | None = None) -> RawTable:
    """Read one sheet of an XLSX workbook (header on the first non-empty row).

    Parameters
    ----------
    path
        The workbook.
    sheet
        A sheet name, or its position counted from 1 as a spreadsheet shows its tabs. By
        default the first sheet whose header names at least two listing fields (a workbook
        often opens on a notes or summary sheet), else the first sheet.

    Raises
    ------
    SheetNotFoundError
        When ``sheet`` names no sheet of the workbook.
    """
    with pd.ExcelFile(path, engine="openpyxl") as book:
        names = [str(n) for n in book.sheet_names]
        if sheet is None:
            # Parse sheets in tab order up to the first that fits; else fall back to the first.
            name, grid = names[0], _sheet_grid(book, names[0])
            for other in names:
                candidate = grid if other == names[0] else _sheet_grid(book, other)
                if _looks_like_listings(candidate):
                    name, grid = other, candidate
                    break
        else:
            name = pick_by_name_or_position(
                sheet, names, file_name=Path(path).name, what="sheet", container="workbook"
            )
            grid = _sheet_grid(book, name)
    notes = {"sheet": name} if len(names) > 1 else {}
    filled = grid.notna().any(axis=1).to_numpy()
    if not filled.any():
        return RawTable(frame=pd.DataFrame(), rows=np.zeros(0, dtype=int), fmt="xlsx", notes=notes)
    first = int(np.argmax(filled))
    header = ["" if pd.isna(v) else str(v).strip() for v in grid.iloc[first]]
    body = grid.iloc[first + 1 :]
    keep = body.notna().any(axis=1).to_numpy()
    frame = body[keep].reset_index(drop=True)
    frame.columns = _unique(header)
    numbers = (np.arange(first + 1, len(grid)) + 1)[keep]
    return RawTable(frame=frame, rows=numbers, fmt="xlsx", header_row=first + 1, notes=notes)


def _sheet_grid(book: pd.ExcelFile, name: str) -> pd.DataFrame:
    return pd.read_excel(book, sheet_name=name, header=None, dtype=object)


def pick_by_name_or_position(
    choice: str | int, names: list[str], *, file_name: str, what: str, container: str
) -> str:
    """The sheet or layer named ``choice``, else the one at that position counted from 1.

    Raises
    ------
    SheetNotFoundError
        When ``choice`` is neither, naming every ``what`` the ``container`` has.
    """
    if str(choice) in names:  # a name wins over a position
        return str(choice)
    position = int(choice) if str(choice).isdigit() else 0
    if 1 <= position <= len(names):
        return names[position - 1]
    listed = ", ".join(f"{i} « {n} »" for i, n in enumerate(names, start=1))
    msg = f"{file_name}: no {what} {choice!r} in this {container}; its {what}s are {listed}"
    raise SheetNotFoundError(msg)


def _looks_like_listings(grid: pd.DataFrame) -> bool:
    """Whether the first non-empty row of a sheet names at least two listing fields."""
    filled = grid.notna().any(axis=1).to_numpy()
    if not filled.any():
        return False
    header = grid.iloc[int(np.argmax(filled))]
    return sum(header_lookup(str(v)) is not None for v in header if not pd.isna(v)) >= 2


def write_csv_table(frame: pd.DataFrame, path: str | Path, *, sep: str = ",") -> None:
    """Write a table of text cells as UTF-8 CSV (with a BOM when ``sep`` is ``;``).

    The BOM lets Excel open a French ``;`` file with its accents intact. A row with a
    carriage return in a cell is written with every cell quoted (the ``csv`` module quotes
    only the line terminator's characters, here ``\\n``), so that the cell stays one cell.
    """
    encoding = "utf-8-sig" if sep == ";" else "utf-8"
    with Path(path).open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=sep, lineterminator="\n")
        quoted = csv.writer(handle, delimiter=sep, lineterminator="\n", quoting=csv.QUOTE_ALL)
        writer.writerow(list(frame.columns))
        for record in frame.itertuples(index=False, name=None):
            if any("\r" in cell for cell in record if isinstance(cell, str)):
                quoted.writerow(record)
            else:
                writer.writerow(record)


def _unique(header: list[Any]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(header):
        name = str(name) if str(name) else f"column_{i + 1}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out
