"""Parse the cells of a listing file (French numbers, dates, booleans, words) into field values."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np

import shapely

from geodata.io._vocab import FALSE_WORDS, TRUE_WORDS, known_words, normalise_key, value_lookup

__all__ = [
    "FIELD_PARSERS",
    "NUMBER_FIELDS",
    "CellError",
    "is_missing",
    "parse_bool",
    "parse_date",
    "parse_datetime",
    "parse_footprint",
    "parse_int",
    "parse_int_strict",
    "parse_number",
    "parse_number_strict",
    "parse_photos",
    "parse_text",
    "parse_uses",
]


class CellError(ValueError):
    """A cell that cannot be read as its field's type; the message is the reason."""


# fmt: off
FLOAT_FIELDS = (
    "surface_m2",
    "activity_m2",
    "storage_m2",
    "office_m2",
    "mezzanine_m2",
    "min_lot_m2",
    "plot_m2",
    "ceiling_height_m",
    "floor_load_t_m2",
    "power_kva",
    "rent_eur_m2_year",
    "sale_price_eur",
    "charges_eur_m2_year",
    "lon",
    "lat",
)
INT_FIELDS = ("loading_docks", "ground_level_doors", "parking_spaces")
NUMBER_FIELDS = frozenset(FLOAT_FIELDS) | frozenset(INT_FIELDS)
BOOL_FIELDS = ("divisible", "icpe_allowed", "contact_public")

_SPACES = "\u00a0\u202f\u2009\u2007 '’_"
# A number, then optionally a unit the owner typed in the cell ("1 200 m²", "95 € HT/m²/an").
_NUMBER = re.compile(
    r"^(?P<num>[-+−]?[\d" + _SPACES + r".,]*\d(?:[eE][-+]?\d+)?)\s*"
    r"(?P<unit>(?:m²|m2|m|ha|€|eur|euros?|kva|kw|t/m²|t/m2|t|ht|hc|/|an|mois|%|\s)*)$",
    re.IGNORECASE,
)
_GROUPED = re.compile(r"^\d{1,3}([.,]\d{3})+$")
# One group of three digits after the only separator, the first group not zero: "12,500".
_ONE_GROUP = re.compile(r"^[1-9]\d{0,2},\d{3}$")
_DATE_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{2}|\d{4})$")
_DATE_YMD = re.compile(r"^(\d{4})[/.\-](\d{1,2})[/.\-](\d{1,2})$")
_NOW_WORDS = frozenset(
    {"immediat", "immediate", "immediatement", "de suite", "tout de suite", "maintenant", "now"}
)
_SERIAL_EPOCH = date(1899, 12, 30)
_SERIAL_MIN, _SERIAL_MAX = 10_000.0, 100_000.0
_LIST_SPLIT = re.compile(r"\s*(?:[,;/|+]|\s+et\s+|\s+&\s+|\n)\s*", re.IGNORECASE)
_QUOTED_FORMULA = re.compile(r"^'+[=+\-@\t\r]")
_URL_SPLIT = re.compile(r"[\s|]+|[;,](?=\s*https?://)")


def is_missing(value: Any) -> bool:
    """Whether a cell is empty: ``None``, NaN/NaT, or blank text.

    Examples
    --------
    >>> is_missing("  "), is_missing(float("nan")), is_missing(0)
    (True, True, False)
    """
    if value is None:
        return True
    if isinstance(value, str):
        return value.strip() == ""
    if isinstance(value, float | np.floating):
        return bool(np.isnan(value))
    try:
        import pandas as pd

        return bool(pd.isna(value)) if np.ndim(value) == 0 else False
    except (TypeError, ValueError):
        return False


def _quote(value: Any) -> str:
    return f"'{value}'"


def parse_number(value: Any, *, french: bool | None = None) -> float:
    """Read a number written the French or the English way.

    A comma is a decimal separator (``"12,5"``) unless it groups thousands alongside a
    decimal point (``"1,200.50"``); spaces, no-break spaces and apostrophes group
    thousands; a trailing unit (``m²``, ``€``, ``kVA``, ``€/m²/an``...) is ignored.

    Raises
    ------
    CellError
        With the reason ``"'12O0' is not a number"``.

    Examples
    --------
    >>> parse_number("1 200,50")
    1200.5
    >>> parse_number("1.200,50 €")
    1200.5
    >>> parse_number("1,200.50")
    1200.5
    >>> parse_number("95 €/m²/an")
    95.0

    ``french`` says how the file writes numbers, when known: ``False`` (an English file)
    refuses ``"12,500"`` (12.5 or 12,500?), ``True`` (a French file) refuses ``"12.500"``,
    naming both readings; ``None`` reads the comma or the point as a decimal mark.

    >>> try:
    ...     parse_number("12,500", french=False)
    ... except CellError as exc:
    ...     print(exc)
    '12,500' is ambiguous: 12.5 or 12500? write 12500 or 12.5, without a thousands separator
    """
    if isinstance(value, bool | np.bool_):
        msg = f"{_quote(value)} is not a number"
        raise CellError(msg)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        if not math.isfinite(number):
            msg = f"{_quote(value)} is not a number"
            raise CellError(msg)
        return number
    text = str(value).strip()
    match = _NUMBER.match(text)
    if match is None:
        msg = f"{_quote(text)} is not a number"
        raise CellError(msg)
    num = match.group("num").replace("−", "-")
    for ch in _SPACES:
        num = num.replace(ch, "")
    sign = ""
    if num[:1] in "+-":
        sign, num = num[0], num[1:]
    has_comma, has_dot = "," in num, "." in num
    mark = None if french is None else ("." if french else ",")
    if mark is not None and num.count(mark) == 1 and _ONE_GROUP.match(num.replace(mark, ",")):
        whole, part = num.split(mark)
        decimal = f"{whole},{part}" if french else f"{whole}.{part}"
        msg = (
            f"{_quote(text)} is ambiguous: {float(whole + '.' + part):g} or {whole}{part}? "
            f"write {whole}{part} or {decimal.rstrip('0')}, without a thousands separator"
        )
        raise CellError(msg)
    if has_comma and has_dot:
        decimal = "," if num.rfind(",") > num.rfind(".") else "."
        group = "." if decimal == "," else ","
        num = num.replace(group, "")
        if num.count(decimal) > 1:
            msg = f"{_quote(text)} is not a number"
            raise CellError(msg)
        num = num.replace(decimal, ".")
    elif has_comma:
        if num.count(",") > 1:
            if not _GROUPED.match(num):
                msg = f"{_quote(text)} is not a number"
                raise CellError(msg)
            num = num.replace(",", "")
        else:
            num = num.replace(",", ".")
    elif num.count(".") > 1:
        if not _GROUPED.match(num):
            msg = f"{_quote(text)} is not a number"
            raise CellError(msg)
        num = num.replace(".", "")
    try:
        number = float(sign + num)
    except ValueError:
        msg = f"{_quote(text)} is not a number"
        raise CellError(msg) from None
    if not math.isfinite(number):
        msg = f"{_quote(text)} is not a number"
        raise CellError(msg)
    return number


def parse_number_strict(value: Any) -> float:
    """:func:`parse_number` for a file that is not French: ``"12,500"`` is an error."""
    return parse_number(value, french=False)


def parse_int_strict(value: Any) -> int:
    """:func:`parse_int` for a file that is not French: ``"12,500"`` is an error."""
    return parse_int(value, french=False)


def parse_int(value: Any, *, french: bool | None = None) -> int:
    """Read a whole number (``"2"``, ``"2,0"``, ``2.0``).

    Examples
    --------
    >>> parse_int("3,0")
    3
    """
    number = parse_number(value, french=french)
    if not number.is_integer():
        text = value if isinstance(value, str) else f"{value:g}"
        msg = f"{_quote(str(text).strip())} is not a whole number"
        raise CellError(msg)
    return int(number)


def parse_bool(value: Any) -> bool:
    """Read yes/no: ``oui``/``non``, ``vrai``/``faux``, ``x``, ``1``/``0``, ``true``/``false``.

    Examples
    --------
    >>> parse_bool("Oui"), parse_bool("x"), parse_bool("non")
    (True, True, False)
    """
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | float | np.integer | np.floating) and value in (0, 1):
        return bool(value)
    key = normalise_key(str(value))
    if key in TRUE_WORDS:
        return True
    if key in FALSE_WORDS:
        return False
    msg = f"{_quote(str(value).strip())} is not yes or no (expected oui/non)"
    raise CellError(msg)


def parse_date(value: Any) -> date | None:
    """Read a date: ``31/12/2026``, ``31-12-2026``, ``2026-12-31``, or a spreadsheet date
    (a date cell, or its serial number such as ``46266``).

    ``"immédiat"`` and similar words mean "available now" and give ``None``.

    Examples
    --------
    >>> parse_date("31/12/2026")
    datetime.date(2026, 12, 31)
    >>> parse_date("2026-12-31")
    datetime.date(2026, 12, 31)
    """
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, np.datetime64):
        return value.astype("datetime64[D]").item()
    serial = _spreadsheet_serial(value)
    if serial is not None:
        return serial
    text = str(value).strip()
    if normalise_key(text) in _NOW_WORDS:
        return None
    head = text.split("T")[0].split(" ")[0]
    match = _DATE_YMD.match(head)
    try:
        if match:
            y, m, d = (int(g) for g in match.groups())
            return date(y, m, d)
        match = _DATE_DMY.match(head)
        if match:
            d, m, y = (int(g) for g in match.groups())
            if y < 100:
                y += 2000
            return date(y, m, d)
    except ValueError:
        pass
    msg = f"{_quote(text)} is not a date (expected DD/MM/YYYY or YYYY-MM-DD)"
    raise CellError(msg)


def _spreadsheet_serial(value: Any) -> date | None:
    """A spreadsheet date serial number (days since 1899-12-30), 1927 to 2173, else ``None``.

    A date cell formatted as a number in Excel or LibreOffice reads as e.g. ``46266``.
    """
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
    elif isinstance(value, str) and value.strip().isdigit():
        number = float(value.strip())
    else:
        return None
    if not (_SERIAL_MIN <= number < _SERIAL_MAX):
        return None
    return _SERIAL_EPOCH + timedelta(days=int(number))


def parse_datetime(value: Any) -> datetime:
    """Read a date and time in ISO 8601 (``2026-05-01T10:00:00+00:00``) or ``DD/MM/YYYY HH:MM``.

    Examples
    --------
    >>> parse_datetime("2026-05-01T10:00:00Z").isoformat()
    '2026-05-01T10:00:00+00:00'
    """
    if isinstance(value, datetime):
        return value
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime()
    text = str(value).strip()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        pass
    parts = text.split(" ", 1)
    try:
        day = parse_date(parts[0])
        if day is not None:
            clock = datetime.strptime(parts[1], "%H:%M:%S" if parts[1].count(":") == 2 else "%H:%M")
            return datetime.combine(day, clock.time())
    except (CellError, ValueError, IndexError):
        pass
    msg = f"{_quote(text)} is not a date and time (expected YYYY-MM-DDTHH:MM:SS)"
    raise CellError(msg)


def _enum_parser(field: str) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        text = str(value).strip()
        found = value_lookup(field, text)
        if found is None:
            expected = ", ".join(known_words(field))
            msg = f"{_quote(text)} is not a known {field} (expected one of: {expected})"
            raise CellError(msg)
        return found

    parse.__name__ = f"parse_{field}"
    return parse


def _as_list(value: Any) -> list[Any] | None:
    if isinstance(value, list | tuple | np.ndarray):
        return list(value)
    text = str(value).strip()
    if text.startswith("["):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError:
            return None
        if isinstance(loaded, list):
            return loaded
    return None


def parse_uses(value: Any) -> list[str]:
    """Read a list of uses separated by ``,`` ``;`` ``/`` ``|`` or "et".

    Examples
    --------
    >>> parse_uses("Stockage, artisanat et R&D")
    ['logistics', 'craft', 'lab_rd']
    >>> parse_uses("Stockage / logistique")
    ['logistics']
    """
    parse_one = _enum_parser("uses")
    items = _as_list(value)
    if items is None:
        text = str(value).strip()
        whole = value_lookup("uses", text)
        if whole is not None:
            return [whole]
        items = [part for part in _LIST_SPLIT.split(text) if part.strip()]
    out = [parse_one(item) for item in items]
    return list(dict.fromkeys(out))


def parse_photos(value: Any) -> list[str]:
    """Read photo URLs: a JSON list, or URLs separated by spaces, ``|`` or new lines.

    Examples
    --------
    >>> parse_photos("https://a.fr/1.jpg https://a.fr/2.jpg")
    ['https://a.fr/1.jpg', 'https://a.fr/2.jpg']
    """
    items = _as_list(value)
    if items is None:
        items = _URL_SPLIT.split(str(value).strip())
    return [str(item).strip() for item in items if str(item).strip()]


def parse_footprint(value: Any) -> dict[str, Any]:
    """Read a footprint polygon given as GeoJSON (text or object) or WKT, in WGS84.

    Examples
    --------
    >>> parse_footprint("POLYGON ((2.4 48.7, 2.41 48.7, 2.41 48.71, 2.4 48.7))")["type"]
    'Polygon'
    """
    if isinstance(value, dict):
        return value
    if isinstance(value, shapely.Geometry):
        return json.loads(shapely.to_geojson(value))
    text = str(value).strip()
    if text.startswith("{"):
        try:
            loaded = json.loads(text)
        except json.JSONDecodeError as exc:
            msg = f"{_quote(text[:60])} is not valid GeoJSON ({exc.msg})"
            raise CellError(msg) from None
        if not isinstance(loaded, dict):
            msg = f"{_quote(text[:60])} is not a GeoJSON object"
            raise CellError(msg)
        return loaded
    try:
        geom = shapely.from_wkt(text)
    except shapely.errors.GEOSException:
        msg = f"{_quote(text[:60])} is neither GeoJSON nor WKT"
        raise CellError(msg) from None
    return json.loads(shapely.to_geojson(geom))


def parse_text(value: Any) -> str:
    """Read a text cell; numbers from spreadsheets lose a spurious ``.0``.

    A single quote before a character that starts a spreadsheet formula (``'=...``,
    ``'+33 1...``) is the mark our CSV exports put there against formula injection: it is
    removed, so that an exported catalogue reads back as it was.

    Examples
    --------
    >>> parse_text(94065.0)
    '94065'
    >>> parse_text("'+33 1 45 60 00 00")
    '+33 1 45 60 00 00'
    """
    if isinstance(value, float | np.floating) and float(value).is_integer():
        return str(int(value))
    if isinstance(value, int | np.integer):
        return str(int(value))
    text = str(value).strip()
    return text[1:] if _QUOTED_FORMULA.match(text) else text


def _parse_commune(value: Any) -> str:
    text = parse_text(value).replace(" ", "")
    if text.isdigit() and len(text) == 4:
        return "0" + text
    return parse_text(value)


FIELD_PARSERS: dict[str, Callable[[Any], Any]] = {
    **dict.fromkeys(FLOAT_FIELDS, parse_number),
    **dict.fromkeys(INT_FIELDS, parse_int),
    **dict.fromkeys(BOOL_FIELDS, parse_bool),
    "kind": _enum_parser("kind"),
    "tenure": _enum_parser("tenure"),
    "status": _enum_parser("status"),
    "uses": parse_uses,
    "photos": parse_photos,
    "footprint": parse_footprint,
    "available_from": parse_date,
    "last_verified_at": parse_datetime,
    "commune_insee": _parse_commune,
}
"""The parser of each field; fields not listed are text (:func:`parse_text`)."""
