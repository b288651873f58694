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
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from geodata.io._vocab import header_lookup
from geodata.io.limits import (
    MAX_CELL_CHARS,
    Deadline,
    ImportFileError,
    ImportLimitError,
    ImportLimits,
    french_number,
)

__all__ = [
    "ENCODINGS",
    "RawTable",
    "SheetNotFoundError",
    "TableReadError",
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


def looks_binary(head: bytes) -> bool:
    """Whether the first bytes of a text file are binary data: NUL bytes, or more than 5 %
    of control characters other than tab and line ends.

    >>> looks_binary(b"title;kind\\n"), looks_binary(bytes(range(32)))
    (False, True)
    """
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 13))
    return bool(head) and controls > 0.05 * len(head)


class TableReadError(ImportFileError, ValueError):
    """A table file that cannot be read; the message names the file, the row and what to do."""


def _rows_list(rows: list[int], most: int = 10) -> str:
    shown = ", ".join(str(r) for r in rows[:most])
    return shown + (f" and {len(rows) - most} more" if len(rows) > most else "")


def mixed_encoding_rows(data: bytes) -> tuple[list[int], list[int]] | None:
    """The lines written in UTF-8 and those that are not, when a file mixes both, else None.

    A file is mixed when some lines hold UTF-8 accents and others bytes that are not UTF-8
    (lines pasted from a Windows cp1252 file): decoding it whole either way garbles part of
    it. Lines are numbered from 1, as a spreadsheet numbers rows.

    Examples
    --------
    >>> mixed_encoding_rows("a\\nEntrepôt\\n".encode() + "Entrepôt\\n".encode("cp1252"))
    ([2], [3])
    >>> mixed_encoding_rows("a\\nEntrepôt\\n".encode("cp1252")) is None
    True
    """
    utf8: list[int] = []
    other: list[int] = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        if line.isascii():
            continue
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            other.append(number)
        else:
            utf8.append(number)
    return (utf8, other) if utf8 and other else None


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
        try:
            records = [r for r in csv.reader(io.StringIO(sample), delimiter=sep) if r]
        except csv.Error:  # a huge cell: reading the file says where
            continue
        if not records:
            continue
        width = len(records[0])
        even = sum(len(r) == width for r in records) / len(records)
        score = (int(width > 1), even, width)
        if score > best_score or (score == best_score and rank < _SEPARATORS.index(best)):
            best, best_score = sep, score
    return best


def read_csv_table(
    path: str | Path, *, limits: ImportLimits | None = None, deadline: Deadline | None = None
) -> RawTable:
    """Read a CSV file into a :class:`RawTable` of text cells.

    The encoding (UTF-8 with or without BOM, else cp1252) and the separator are detected.
    Rows with more cells than the header are reported in ``problems``; short rows are
    padded with empty cells.

    Raises
    ------
    TableReadError
        A file mixing UTF-8 and another encoding (naming the lines of each), a cell longer
        than :data:`~geodata.io.limits.MAX_CELL_CHARS` characters or a row the CSV reader
        cannot split (naming the row).
    ImportLimitError
        More rows than ``limits.max_rows``, or reading past ``limits.max_seconds``.
    """
    limits = limits or ImportLimits()
    deadline = deadline or limits.deadline()
    name = Path(path).name
    data_bytes = Path(path).read_bytes()
    if looks_binary(data_bytes[:8192]):
        msg = (
            f"{name}: is not a CSV text file (binary content); save the table again as "
            "CSV UTF-8 from the spreadsheet"
        )
        fr = (
            f"{name} : n'est pas un fichier texte CSV (contenu binaire) ; enregistrez à "
            "nouveau le tableau en CSV UTF-8 depuis le tableur"
        )
        raise TableReadError(msg, fr)
    text, encoding = decode(data_bytes)
    mixed = None if encoding == ENCODINGS[0] else mixed_encoding_rows(data_bytes)
    if mixed is not None:
        utf8, other = mixed
        msg = (
            f"{name} mixes text encodings: rows {_rows_list(other)} are not UTF-8 (Windows "
            f"cp1252?) while rows {_rows_list(utf8)} are UTF-8; open the file, fix the accents "
            "of those rows and save it again as CSV UTF-8"
        )
        fr = (
            f"{name} mélange des encodages de texte : les lignes {_rows_list(other)} ne sont "
            f"pas en UTF-8 (Windows cp1252 ?) alors que les lignes {_rows_list(utf8)} le sont ; "
            "ouvrez le fichier, corrigez les accents de ces lignes et enregistrez-le à nouveau "
            "en CSV UTF-8"
        )
        raise TableReadError(msg, fr)
    del data_bytes
    sep = detect_separator(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep)
    header: list[str] | None = None
    data: list[list[str]] = []
    rows: list[int] = []
    problems: list[tuple[int, str]] = []
    same: dict[str, str] = {}
    for number, record in enumerate(_records(reader, name), start=1):
        if number % 10_000 == 0:
            deadline.check(name)
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
        # Cells repeat (kinds, yes/no, communes, dates, numbers): one string per distinct
        # cell instead of one per cell keeps about half the table's memory.
        record = [same.setdefault(cell, cell) for cell in record]
        data.append(record + [""] * (len(header) - len(record)))
        rows.append(number)
        if len(rows) > limits.max_rows:
            raise limits.too_many_rows(name, None)
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


_LONG_CELL = (
    f"a cell is longer than {MAX_CELL_CHARS:,} characters (a quote left open?); "
    "close the quote or shorten the cell"
)
_LONG_CELL_FR = (
    f"une cellule dépasse {french_number(f'{MAX_CELL_CHARS:,}')} caractères (un guillemet "
    "resté ouvert ?) ; fermez le guillemet ou raccourcissez la cellule"
)


def _records(reader: Any, name: str) -> Iterator[list[str]]:
    """The records of a CSV reader; a record it cannot split is a :class:`TableReadError`.

    The cell length is checked here as well as by the csv module's field limit, because that
    limit is global to the process and another library may have raised it.
    """
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            # The reader has consumed the bad record: line_num is the line it ended on.
            if "field larger than field limit" in str(exc):
                reason, reason_fr = _LONG_CELL, _LONG_CELL_FR
            else:
                reason = f"cannot be read as CSV ({exc}); check the quotes of this row"
                reason_fr = f"illisible en CSV ({exc}) ; vérifiez les guillemets de cette ligne"
            msg = f"{name}: row {reader.line_num}: {reason}"
            raise TableReadError(msg, f"{name} : ligne {reader.line_num} : {reason_fr}") from None
        if record and max(map(len, record)) > MAX_CELL_CHARS:
            raise TableReadError(
                f"{name}: row {reader.line_num}: {_LONG_CELL}",
                f"{name} : ligne {reader.line_num} : {_LONG_CELL_FR}",
            )
        yield record


class SheetNotFoundError(ImportFileError, LookupError):
    """The sheet (or layer) asked for is not in the file; the message lists those it has."""


def read_xlsx_table(
    path: str | Path,
    *,
    sheet: str | int | None = None,
    limits: ImportLimits | None = None,
    deadline: Deadline | None = None,
) -> RawTable:
    """Read one sheet of an XLSX workbook (header on the first non-empty row).

    The workbook is streamed (openpyxl's read-only mode, XML parsed with defusedxml: no
    entity expansion, no external entity), and reading stops as soon as the sheet has more
    rows than ``limits.max_rows``.

    Parameters
    ----------
    path
        The workbook.
    sheet
        A sheet name, or its position counted from 1 as a spreadsheet shows its tabs. By
        default the first sheet whose header names at least two listing fields (a workbook
        often opens on a notes or summary sheet), else the first sheet.
    limits, deadline
        The caps of the import (:class:`~geodata.io.limits.ImportLimits`).

    Raises
    ------
    SheetNotFoundError
        When ``sheet`` names no sheet of the workbook.
    ImportLimitError
        A workbook unpacking to more than ``limits.max_unpacked_bytes``, a sheet of more
        than ``limits.max_rows`` rows, or reading past ``limits.max_seconds``.
    """

    limits = limits or ImportLimits()
    deadline = deadline or limits.deadline()
    file_name = Path(path).name
    with zipfile.ZipFile(path) as archive:
        unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > limits.max_unpacked_bytes:
            msg = (
                f"{file_name}: the workbook unpacks to {unpacked / 2**20:,.0f} MiB, more than "
                f"the {limits.max_unpacked_bytes / 2**20:,.0f} MiB one import takes; split it "
                "into smaller workbooks"
            )
            fr = (
                f"{file_name} : le classeur se décompresse en "
                f"{french_number(f'{unpacked / 2**20:,.0f}')} Mio, plus que les "
                f"{french_number(f'{limits.max_unpacked_bytes / 2**20:,.0f}')} Mio qu'un import "
                "accepte ; découpez-le en classeurs plus petits"
            )
            raise ImportLimitError(msg, fr)
        sheets = [p for p in archive.namelist() if re.match(r"xl/worksheets/[^/]+\.xml$", p)]
        for part in sheets:  # + 1: the header
            if _count_rows(archive, part, limits.max_rows + 1) > limits.max_rows + 1:
                raise limits.too_many_rows(file_name, None)
    # Opened here so that the file is closed even when openpyxl fails half-way through.
    with Path(path).open("rb") as handle:
        return _read_book(handle, file_name, sheet, limits, deadline)


def _read_book(
    handle: Any,
    file_name: str,
    sheet: str | int | None,
    limits: ImportLimits,
    deadline: Deadline,
) -> RawTable:
    from openpyxl import load_workbook

    book = load_workbook(handle, read_only=True, data_only=True)
    try:
        names = [str(n) for n in book.sheetnames]
        if sheet is None:
            # The first sheet whose header fits; else the first sheet.
            name = next((n for n in names if _looks_like_listings(_header(book[n]))), names[0])
        else:
            name = pick_by_name_or_position(
                sheet, names, file_name=file_name, what="sheet", container="workbook"
            )
        header, first, body, numbers = _sheet_rows(book[name], file_name, limits, deadline)
    finally:
        book.close()
    notes = {"sheet": name} if len(names) > 1 else {}
    if header is None:
        return RawTable(frame=pd.DataFrame(), rows=np.zeros(0, dtype=int), fmt="xlsx", notes=notes)
    # As a spreadsheet shows it: as many columns as the widest row, unnamed ones numbered.
    width = max([len(header), *(len(row) for row in body)])
    header = header + [""] * (width - len(header))
    frame = pd.DataFrame(
        [row + (None,) * (width - len(row)) for row in body],
        columns=_unique(header),
        dtype=object,
    )
    return RawTable(
        frame=frame,
        rows=np.asarray(numbers, dtype=int),
        fmt="xlsx",
        header_row=first,
        notes=notes,
    )


def _cell(value: Any) -> Any:
    """A worksheet value as a listing cell: blank text is missing, whole floats are ints."""
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _filled(values: tuple[Any, ...]) -> bool:
    return any(v is not None and not (isinstance(v, str) and not v.strip()) for v in values)


def _header(worksheet: Any) -> list[str]:
    """The first non-empty row of a sheet, as text (empty for an empty sheet)."""
    worksheet.reset_dimensions()  # some writers record a wrong sheet size: read what is there
    for values in worksheet.iter_rows(values_only=True):
        if _filled(values):
            return ["" if v is None else str(v).strip() for v in values]
    return []


_ROW_END = re.compile(rb"</(?:\w+:)?row>")


def _count_rows(archive: zipfile.ZipFile, part: str, most: int) -> int:
    """Count the rows with cells in a worksheet part of a workbook, stopping past ``most``.

    A byte scan of the decompressed XML (no parsing): tens of megabytes a second, so that a
    sheet of a million rows is refused in a moment. openpyxl, even in read-only mode, parses
    a whole sheet when it lacks a ``<dimension>`` element. Rows written without cells
    (``<row r="9"/>``, formatting only) are not counted.
    """
    count, tail = 0, b""
    with archive.open(part) as source:
        while chunk := source.read(1 << 20):
            data = tail + chunk
            cut = data.rfind(b">") + 1  # every whole "</row>" ends before the cut
            count += len(_ROW_END.findall(data, 0, cut))
            if count > most:
                break
            tail = data[cut:][-64:]
    return count


def _sheet_rows(
    worksheet: Any, file_name: str, limits: ImportLimits, deadline: Deadline
) -> tuple[list[str] | None, int, list[tuple[Any, ...]], list[int]]:
    """The header, its row number, the non-empty rows after it and their row numbers."""
    worksheet.reset_dimensions()
    header: list[str] | None = None
    first = 1
    body: list[tuple[Any, ...]] = []
    numbers: list[int] = []
    for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
        if number % 10_000 == 0:
            deadline.check(file_name)
        if not _filled(values):
            continue
        if header is None:
            header = ["" if v is None else str(v).strip() for v in values]
            while header and not header[-1]:
                header.pop()
            first = number
            continue
        row = tuple(_cell(v) for v in values)
        end = len(row)
        while end and row[end - 1] is None:
            end -= 1
        body.append(row[:end])
        numbers.append(number)
        if len(body) > limits.max_rows:
            raise limits.too_many_rows(file_name, None)
    return header, first, body, numbers


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
    what_fr = {"sheet": "feuille", "layer": "couche"}.get(what, what)
    fr = (
        f"{file_name} : aucune {what_fr} {choice!r} dans ce "
        f"{ {'workbook': 'classeur'}.get(container, container) } ; ses {what_fr}s "
        f"sont {listed}"
    )
    raise SheetNotFoundError(msg, fr)


def _looks_like_listings(header: list[str]) -> bool:
    """Whether the header of a sheet names at least two listing fields."""
    return sum(header_lookup(v) is not None for v in header if v) >= 2


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
