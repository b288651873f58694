"""Conversions between the pydantic models and the rows of the catalogue tables."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

from geodata.schemas import Need, NeedIn, Premises, PremisesCreate, Use
from geodata.storage._tables import USE_BITS, as_utc
from geodata.storage.errors import StorageError

__all__ = [
    "NEED_SYSTEM_FIELDS",
    "PREMISES_FIELDS",
    "audit_value",
    "check_storable",
    "check_storable_many",
    "join_uses",
    "jsonable",
    "need_doc",
    "need_from_row",
    "need_row",
    "premises_diff",
    "premises_from_row",
    "premises_row",
    "uses_mask",
    "uses_of_mask",
]

#: The fields an owner describes, in model order (every one is a column of ``premises``).
PREMISES_FIELDS: tuple[str, ...] = tuple(PremisesCreate.model_fields)
NEED_SYSTEM_FIELDS: tuple[str, ...] = ("id", "version", "created_at", "updated_at")

_USE_ORDER = {use.value: i for i, use in enumerate(Use)}
_INT_MAX = 2**31 - 1  # INTEGER columns are 32-bit on PostgreSQL
_ENUM_FIELDS = ("kind", "tenure", "status")
_PLAIN = frozenset({float, bool, date, datetime})  # values check_storable lets through as is
_PLAIN_OR_NONE = _PLAIN | {type(None)}


def join_uses(uses: Iterable[str]) -> str:
    """Join uses with commas, deduplicated and in the order of the :class:`Use` enum.

    Examples
    --------
    >>> join_uses(["logistics", "production", "logistics"])
    'production,logistics'
    """
    return ",".join(sorted({str(u) for u in uses}, key=_USE_ORDER.__getitem__))


def uses_mask(uses: Iterable[str]) -> int:
    """Return the bitmask stored for a collection of uses (see :data:`USE_BITS`).

    Examples
    --------
    >>> uses_mask(["logistics", "production"])
    3
    """
    mask = 0
    for use in uses:
        mask |= USE_BITS[str(use)]
    return mask


def uses_of_mask(mask: int) -> list[str]:
    """Return the uses of a stored bitmask, in the order of the :class:`Use` enum.

    Examples
    --------
    >>> uses_of_mask(3)
    ['production', 'logistics']
    """
    return [use for use in _USE_ORDER if mask & USE_BITS[use]]


def _dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def check_storable(row: Mapping[str, Any]) -> None:
    """Refuse, on every backend alike, values that one of them cannot store.

    Raises
    ------
    StorageError
        For an integer beyond 32 bits or a text holding a NUL character, naming the field.
    """
    for name, value in row.items():
        if value is None or type(value) in _PLAIN:  # most values: nothing to check
            continue
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > _INT_MAX:
            msg = f"{name}: {value} is too large to store (at most {_INT_MAX}); check the value"
            raise StorageError(msg)
        if isinstance(value, str) and "\x00" in value:
            msg = f"{name}: contains a NUL character (\\x00), which cannot be stored; remove it"
            raise StorageError(msg)


def check_storable_many(rows: Sequence[Mapping[str, Any]]) -> None:
    """:func:`check_storable` for rows with the same keys, a column at a time.

    Each column is screened at once (its types, its integers' range, NUL in its texts); only
    when one may hold a refused value are the rows checked one by one, which raises the
    error :func:`check_storable` raises on the first refused row.
    """
    if not rows:
        return
    for name in rows[0]:
        values = [row[name] for row in rows]
        kinds = set(map(type, values))
        if kinds <= _PLAIN_OR_NONE:
            continue
        if kinds <= _PLAIN_OR_NONE | {str}:
            texts = [v for v in values if type(v) is str]
            if "\x00" not in "".join(texts):
                continue
        elif kinds <= _PLAIN_OR_NONE | {int}:
            numbers = [v for v in values if type(v) is int]
            if max(numbers) <= _INT_MAX and min(numbers) >= -_INT_MAX:
                continue
        for row in rows:
            check_storable(row)
        return


def premises_row(item: PremisesCreate, *, check: bool = True) -> dict[str, Any]:
    """Return the column values of a listing (without id, version and timestamps).

    ``check=False`` leaves :func:`check_storable` to the caller (see
    :func:`check_storable_many`).
    """
    data = item.model_dump(mode="python")
    for name in _ENUM_FIELDS:
        value = data[name]
        data[name] = value.value if isinstance(value, Enum) else value
    data["uses"] = uses_mask(data["uses"])
    data["photos"] = _dumps(list(data["photos"])) if data["photos"] else "[]"
    footprint = data["footprint"]
    data["footprint"] = None if footprint is None else _dumps(footprint)
    if data["last_verified_at"] is not None:
        data["last_verified_at"] = as_utc(data["last_verified_at"])
    if check:
        check_storable(data)
    return data


def premises_from_row(row: Mapping[Any, Any]) -> Premises:
    """Build a :class:`Premises` from a full row of ``premises``."""
    data = dict(row)
    data["uses"] = uses_of_mask(data["uses"])
    data["photos"] = json.loads(data["photos"])
    footprint = data["footprint"]
    data["footprint"] = None if footprint is None else json.loads(footprint)
    return Premises.model_validate(data)


def jsonable(value: Any) -> Any:
    """Return ``value`` in a form :func:`json.dumps` accepts (dates as ISO 8601)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def audit_value(field: str, value: Any) -> Any:
    """Return a column value as the audit log shows it (the model's form, JSON-ready)."""
    if value is None:
        return None
    if field == "uses":
        return uses_of_mask(value)
    if field in ("photos", "footprint"):
        return json.loads(value)
    return jsonable(value)


def premises_diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, list[Any]]:
    """Return ``{field: [old, new]}`` for the owner-described fields that differ."""
    return {
        name: [audit_value(name, old[name]), audit_value(name, new[name])]
        for name in PREMISES_FIELDS
        if old[name] != new[name]
    }


def need_doc(item: NeedIn) -> dict[str, Any]:
    """Return the JSON document of a need (every field of :class:`NeedIn`)."""
    return item.model_dump(mode="json", include=set(NeedIn.model_fields))


def need_row(item: NeedIn) -> dict[str, Any]:
    """Return the column values of a need (without id, version and timestamps)."""
    doc = need_doc(item)
    row = {
        "company_name": doc["company_name"],
        "siren": doc["siren"],
        "naf_code": doc["naf_code"],
        "owner_account": doc["owner_account"],
        "active": bool(doc["active"]),
        "doc": _dumps(doc),
    }
    check_storable(row)
    return row


def need_from_row(row: Mapping[Any, Any]) -> Need:
    """Build a :class:`Need` from a full row of ``needs``."""
    data = json.loads(row["doc"])
    data["active"] = row["active"]
    data.update({name: row[name] for name in NEED_SYSTEM_FIELDS})
    return Need.model_validate(data)
