"""One query model for the listings: the filters, the page and the order, checked once."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from geodata.schemas import PremisesKind, Status, Use, error_details
from geodata.storage._dialects import fold_text
from geodata.storage._tables import premises

__all__ = ["BBox", "PremisesQuery", "fold_text"]

BBox = tuple[float, float, float, float]

_INSEE = re.compile(r"\d{5}|2[AB]\d{3}")
_ORDERABLE = frozenset(c.name for c in premises.c)
#: Friendly sort keys (as ``GET /premises?sort=`` takes them, ``-`` reversing them) and the
#: order each stands for; ``freshness`` is the most recently confirmed first.
SORT_ALIASES = {
    "surface": "surface_m2",
    "rent": "rent_eur_m2_year",
    "price": "sale_price_eur",
    "freshness": "-last_verified_at",
}
DISTANCE = "distance"


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
    min_rent_eur_m2_year, max_rent_eur_m2_year : float or None
        Rent bounds (€/m²/year), inclusive; listings without a rent are left out when one is
        given.
    min_sale_price_eur, max_sale_price_eur : float or None
        Sale price bounds (€), inclusive; listings without a price are left out when one is
        given.
    q : str or None
        Free text: every word must appear in the title, the description or the address,
        whatever the case and the accents.
    near : tuple of float or None
        ``(lon, lat)`` in WGS84 (or the text ``"lon,lat"``), the point of ``order_by="distance"``.
    order_by : str
        A column name, prefixed with ``-`` for descending order, or one of ``surface``,
        ``rent``, ``price``, ``freshness`` (most recently confirmed first; ``-freshness`` the
        oldest first) and ``distance`` (nearest to ``near`` first, which it needs); ties are
        broken by id.
    visible_since : datetime or None
        When set, only the listings of the public view: not withdrawn, and confirmed at or
        after this time (a listing without a freshness date counts as fresh).
    visible_owner : str or None
        With ``visible_since``, the account whose own listings are all read all the same.
    owner : str or None
        Only the listings of this owner account (``owner_account``).

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
    min_rent_eur_m2_year: float | None = Field(default=None, ge=0)
    max_rent_eur_m2_year: float | None = Field(default=None, ge=0)
    min_sale_price_eur: float | None = Field(default=None, ge=0)
    max_sale_price_eur: float | None = Field(default=None, ge=0)
    q: str | None = Field(default=None, max_length=200)
    near: tuple[float, float] | None = None
    limit: int | None = 50
    offset: int = 0
    order_by: str = "id"
    visible_since: datetime | None = None
    visible_owner: str | None = None
    owner: str | None = Field(default=None, max_length=120)

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
        values = _finite_numbers(value, 4, "min_lon, min_lat, max_lon, max_lat")
        if values is None:
            return None
        min_lon, min_lat, max_lon, max_lat = values
        if min_lon > max_lon or min_lat > max_lat:
            msg = (
                f"({min_lon}, {min_lat}, {max_lon}, {max_lat}) has a minimum above its maximum; "
                "the order is min_lon, min_lat, max_lon, max_lat"
            )
            raise ValueError(msg)
        return values

    @field_validator("near", mode="before")
    @classmethod
    def _near(cls, value: Any) -> Any:
        values = _finite_numbers(value, 2, "lon,lat")
        if values is None:
            return None
        lon, lat = values
        if not (-180 <= lon <= 180 and -90 <= lat <= 90):
            msg = f"({lon}, {lat}) is not a WGS84 point; the order is lon,lat"
            raise ValueError(msg)
        return values

    @field_validator("q", mode="before")
    @classmethod
    def _q(cls, value: Any) -> Any:
        if value is None:
            return None
        # Control characters (NUL included, which PostgreSQL refuses) separate words too.
        text = "".join(c if c.isprintable() else " " for c in str(value))
        return " ".join(text.split()) or None

    @field_validator("order_by")
    @classmethod
    def _order_by(cls, value: str) -> str:
        alias = SORT_ALIASES.get(value.lstrip("-"))
        if alias is not None and value.startswith("-"):  # the alias's order, reversed
            value = alias[1:] if alias.startswith("-") else f"-{alias}"
        elif alias is not None:
            value = alias
        if value.lstrip("-") not in _ORDERABLE and value != DISTANCE:
            names = sorted({*_ORDERABLE, *SORT_ALIASES, DISTANCE})
            msg = f"unknown column {value.lstrip('-')!r}; use one of {', '.join(names)}"
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
        for name in ("surface_m2", "rent_eur_m2_year", "sale_price_eur"):
            low, high = getattr(self, f"min_{name}"), getattr(self, f"max_{name}")
            if low is not None and high is not None and low > high:
                msg = f"min_{name}: {low} is larger than max_{name} ({high}); swap them"
                raise ValueError(msg)
        if self.order_by == DISTANCE and self.near is None:
            msg = "order_by: sorting by distance needs a point; give near=lon,lat"
            raise ValueError(msg)
        return self


_COUNTS = {2: "two", 4: "four"}


def _finite_numbers(value: Any, count: int, names: str) -> tuple[float, ...] | None:
    """``count`` finite numbers from comma-separated text or a sequence; None when empty.

    Examples
    --------
    >>> _finite_numbers("2.3, 48.7", 2, "lon,lat")
    (2.3, 48.7)
    >>> _finite_numbers("nan,1", 2, "lon,lat")
    Traceback (most recent call last):
    ...
    ValueError: expected two finite numbers lon,lat, got 'nan,1'
    """
    if value is None or value == "":
        return None
    parts: Sequence[Any] = value.split(",") if isinstance(value, str) else value
    try:
        values = tuple(float(v) for v in parts)
    except (TypeError, ValueError):
        values = ()
    if len(values) != count or not all(math.isfinite(v) for v in values):
        msg = f"expected {_COUNTS.get(count, count)} finite numbers {names}, got {value!r}"
        raise ValueError(msg)
    return values
