"""One query model for the listings: the filters, the page and the order, checked once."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geodata.schemas import PremisesKind, Status, Use, error_details
from geodata.storage._tables import premises

__all__ = ["BBox", "PremisesQuery"]

BBox = tuple[float, float, float, float]

_INSEE = re.compile(r"\d{5}|2[AB]\d{3}")
_ORDERABLE = frozenset(c.name for c in premises.c)


class PremisesQuery(BaseModel):
    """Which listings to read: filters (all must hold), the page and the order.

    Used by the storage functions (:func:`geodata.storage.premises.list_premises`,
    :func:`~geodata.storage.premises.count_premises`,
    :func:`~geodata.storage.catalogue.premises_frame`) and by the API's query parameters.
    Every error names its field.

    Attributes
    ----------
    commune : str or None
        INSEE code of a commune (a caller given a name resolves it with the territory first).
    kind, use, status : enum or None
        Values of :class:`PremisesKind`, :class:`Use` (among the uses a listing allows,
        exactly) and :class:`Status`.
    min_surface_m2, max_surface_m2 : float or None
        Total surface bounds, inclusive.
    bbox : tuple of float or None
        ``(min_lon, min_lat, max_lon, max_lat)`` in WGS84, edges included; also accepted
        as the text ``"min_lon,min_lat,max_lon,max_lat"``.
    available_by : date or None
        Listings available on that day at the latest (``available_from`` on or before it,
        or not set: available now).
    limit : int or None
        Page size; ``None`` reads every matching listing.
    offset : int
        Listings skipped before the page.
    order_by : str
        A column name, prefixed with ``-`` for descending order; ties are broken by id.

    Examples
    --------
    >>> PremisesQuery(use="logistics", bbox="2.3,48.7,2.5,48.8").bbox
    (2.3, 48.7, 2.5, 48.8)
    >>> PremisesQuery.parse(kind="castle")
    Traceback (most recent call last):
    ...
    ValueError: kind: unknown value 'castle'; use one of workshop, warehouse, ...
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    commune: str | None = None
    kind: PremisesKind | None = None
    use: Use | None = None
    min_surface_m2: float | None = Field(default=None, ge=0)
    max_surface_m2: float | None = Field(default=None, ge=0)
    status: Status | None = None
    bbox: BBox | None = None
    available_by: date | None = None
    limit: int | None = 50
    offset: int = 0
    order_by: str = "id"

    @classmethod
    def parse(cls, **values: Any) -> Self:
        """Build a query from keyword values; raise ``ValueError("field: reason; ...")``."""
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            msg = "; ".join(f"{e['field']}: {e['reason']}" for e in error_details(exc))
            raise ValueError(msg) from exc

    @field_validator("commune", mode="before")
    @classmethod
    def _commune(cls, value: Any) -> Any:
        if value is None:
            return None
        code = str(value).strip().upper()
        if not _INSEE.fullmatch(code):
            msg = f"{value!r} is not an INSEE code (five characters, e.g. 94081)"
            raise ValueError(msg)
        return code

    @field_validator("kind", "use", "status", mode="before")
    @classmethod
    def _enum(cls, value: Any, info: Any) -> Any:
        enum = {"kind": PremisesKind, "use": Use, "status": Status}[info.field_name]
        if value is None or isinstance(value, enum):
            return value
        try:
            return enum(str(value))
        except ValueError:
            allowed = ", ".join(e.value for e in enum)
            msg = f"unknown value {value!r}; use one of {allowed}"
            raise ValueError(msg) from None

    @field_validator("bbox", mode="before")
    @classmethod
    def _bbox(cls, value: Any) -> Any:
        if value is None or value == "":
            return None
        parts: Sequence[Any] = value.split(",") if isinstance(value, str) else value
        try:
            values = tuple(float(v) for v in parts)
        except (TypeError, ValueError):
            values = ()
        if len(values) != 4 or not all(math.isfinite(v) for v in values):
            msg = f"expected four finite numbers min_lon, min_lat, max_lon, max_lat, got {value!r}"
            raise ValueError(msg)
        min_lon, min_lat, max_lon, max_lat = values
        if min_lon > max_lon or min_lat > max_lat:
            msg = (
                f"({min_lon}, {min_lat}, {max_lon}, {max_lat}) has a minimum above its maximum; "
                "the order is min_lon, min_lat, max_lon, max_lat"
            )
            raise ValueError(msg)
        return values

    @field_validator("order_by")
    @classmethod
    def _order_by(cls, value: str) -> str:
        if value.lstrip("-") not in _ORDERABLE:
            msg = (
                f"unknown column {value.lstrip('-')!r}; use one of {', '.join(sorted(_ORDERABLE))}"
            )
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _ranges(self) -> Self:
        if (self.limit is not None and self.limit < 0) or self.offset < 0:
            msg = (
                f"limit, offset: must not be negative (got limit={self.limit}, "
                f"offset={self.offset})"
            )
            raise ValueError(msg)
        low, high = self.min_surface_m2, self.max_surface_m2
        if low is not None and high is not None and low > high:
            msg = f"min_surface_m2: {low} is larger than max_surface_m2 ({high}); swap them"
            raise ValueError(msg)
        return self
