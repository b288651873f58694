"""Needs compiled to arrays: one row per need, the form every matching direction consumes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import numpy as np

import shapely

from geodata.schemas import NeedIn
from matcher._codes import WANTED_BITS, kind_mask, use_mask
from matcher._geo import project_geometry, to_lambert93
from matcher.weights import CRITERIA, DEFAULT_PLACE_REACH_M, weights_vector

__all__ = ["TECHNICAL_FIELDS", "NeedTable", "day_number"]

#: Need field → index column of the technical minimums, in scoring order.
TECHNICAL_FIELDS: tuple[tuple[str, str], ...] = (
    ("min_ceiling_height_m", "ceiling_height_m"),
    ("min_floor_load_t_m2", "floor_load_t_m2"),
    ("min_loading_docks", "loading_docks"),
    ("min_ground_level_doors", "ground_level_doors"),
    ("min_power_kva", "power_kva"),
)

_NAN = float("nan")


def day_number(value: date | datetime | None) -> float:
    """Days since 1970-01-01 (UTC) of a date or datetime; NaN for None.

    Examples
    --------
    >>> day_number(date(1970, 1, 11))
    10.0
    """
    if value is None:
        return _NAN
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.timestamp() / 86400.0
    return float(value.toordinal() - date(1970, 1, 1).toordinal())


def _str_keys(weights: Any) -> dict[str, float] | None:
    return None if weights is None else {str(k): float(v) for k, v in weights.items()}


def _opt(v: float | None) -> float:
    return _NAN if v is None else float(v)


def _opt_min(v: float | None) -> float:
    """A minimum of 0 asks nothing."""
    return _NAN if v is None or float(v) <= 0 else float(v)


@dataclass
class NeedTable:
    """Needs as arrays (length ``m``); NaN / 0 / empty means "not asked".

    Build it with :meth:`from_needs`. Coordinates are Lambert-93 metres, dates are day
    numbers (:func:`day_number`), uses and kinds are bitmasks, ``wanted_bits`` is 1 rent,
    2 buy, 3 either. ``required``, ``active`` and ``weights`` are ``(m, 7)`` in
    :data:`~matcher.weights.CRITERIA` order; a criterion is *active* when the need says
    something about it.
    """

    needs: list[NeedIn]
    ids: np.ndarray
    s_min: np.ndarray
    s_max: np.ndarray
    use_mask: np.ndarray
    kind_mask: np.ndarray
    wanted_bits: np.ndarray
    max_rent: np.ndarray
    max_sale: np.ndarray
    communes: list[tuple[str, ...]]
    cx: np.ndarray
    cy: np.ndarray
    reach: np.ndarray
    radius_hard: np.ndarray
    polygon: np.ndarray
    place_x: list[np.ndarray]
    place_y: list[np.ndarray]
    place_reach: list[np.ndarray]
    place_hard: list[np.ndarray]
    station_max: np.ndarray
    interchange_max: np.ndarray
    tech_min: np.ndarray
    needs_icpe: np.ndarray
    wanted_day: np.ndarray
    required: np.ndarray
    active: np.ndarray
    weights: np.ndarray

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def from_needs(
        cls, needs: Sequence[NeedIn], ids: Sequence[int] | np.ndarray | None = None
    ) -> NeedTable:
        """Compile needs; ``ids`` default to each need's ``id`` attribute, else 0, 1, 2…

        Examples
        --------
        >>> n = NeedIn(company_name="A", surface_min_m2=800, surface_max_m2=1200,
        ...            uses=["logistics"], max_rent_eur_m2_year=90)
        >>> t = NeedTable.from_needs([n])
        >>> t.s_min.tolist(), t.use_mask.tolist(), t.active[0].tolist()
        ([800.0], [2], [True, True, True, False, False, False, False])
        """
        needs = list(needs)
        m = len(needs)
        if ids is None:
            ids = [int(getattr(n, "id", i)) for i, n in enumerate(needs)]
        ids_arr = np.asarray(ids, dtype=np.int64).reshape(-1)
        if len(ids_arr) != m:
            msg = f"ids: {len(ids_arr)} ids for {m} needs"
            raise ValueError(msg)

        def col(fn: Any, dtype: Any = np.float64) -> np.ndarray:
            return np.asarray([fn(n) for n in needs], dtype=dtype).reshape(m)

        cx = np.full(m, _NAN)
        cy = np.full(m, _NAN)
        has_c = np.array([n.center_lon is not None for n in needs], dtype=bool)
        if has_c.any():
            lon = col(lambda n: _opt(n.center_lon))
            lat = col(lambda n: _opt(n.center_lat))
            x, y = to_lambert93(lon[has_c], lat[has_c])
            cx[has_c], cy[has_c] = x, y
        radius = col(lambda n: _opt(n.radius_m))
        reach = np.where(has_c, np.where(np.isnan(radius), DEFAULT_PLACE_REACH_M, radius), _NAN)

        polygon = np.full(m, None, dtype=object)
        for i, n in enumerate(needs):
            if n.polygon is not None:
                polygon[i] = project_geometry(shapely.from_geojson(json.dumps(n.polygon)))

        place_x: list[np.ndarray] = []
        place_y: list[np.ndarray] = []
        place_reach: list[np.ndarray] = []
        place_hard: list[np.ndarray] = []
        for n in needs:
            if n.places:
                px, py = to_lambert93([p.lon for p in n.places], [p.lat for p in n.places])
                mx = np.array([_opt(p.max_distance_m) for p in n.places])
            else:
                px = py = mx = np.empty(0)
            place_x.append(px)
            place_y.append(py)
            place_reach.append(np.where(np.isnan(mx), DEFAULT_PLACE_REACH_M, mx))
            place_hard.append(~np.isnan(mx))

        tech_min = np.column_stack(
            [col(lambda n, f=f: _opt_min(getattr(n, f))) for f, _ in TECHNICAL_FIELDS]
        ).reshape(m, len(TECHNICAL_FIELDS))
        needs_icpe = col(lambda n: bool(n.needs_icpe), bool)
        wanted_day = col(lambda n: day_number(n.wanted_by))
        use_m = col(lambda n: use_mask(n.uses), np.int64)
        kind_m = col(lambda n: kind_mask(n.kinds), np.int64)
        bits = col(lambda n: WANTED_BITS[str(n.tenure)], np.int64)
        max_rent = col(lambda n: _opt(n.max_rent_eur_m2_year))
        max_sale = col(lambda n: _opt(n.max_sale_price_eur))
        station_max = col(lambda n: _opt(n.max_station_distance_m))
        interchange_max = col(lambda n: _opt(n.max_interchange_distance_m))
        communes = [tuple(n.communes) for n in needs]

        active = np.zeros((m, len(CRITERIA)), dtype=bool)
        active[:, 0] = True
        active[:, 1] = (use_m != 0) | (kind_m != 0)
        active[:, 2] = (bits != 3) | ~np.isnan(max_rent) | ~np.isnan(max_sale)
        active[:, 3] = (
            np.array([bool(c) for c in communes], dtype=bool).reshape(m)
            | has_c
            | np.array([p is not None for p in polygon], dtype=bool).reshape(m)
            | np.array([len(p) > 0 for p in place_x], dtype=bool).reshape(m)
        )
        active[:, 4] = ~np.isnan(station_max) | ~np.isnan(interchange_max)
        active[:, 5] = (~np.isnan(tech_min)).any(axis=1) | needs_icpe
        active[:, 6] = ~np.isnan(wanted_day)
        required = np.array(
            [[n.is_required(c) for c in CRITERIA] for n in needs], dtype=bool
        ).reshape(m, len(CRITERIA))
        weights = np.array(
            [weights_vector(_str_keys(n.weights)) for n in needs], dtype=np.float64
        ).reshape(m, len(CRITERIA))
        return cls(
            needs=needs,
            ids=ids_arr,
            s_min=col(lambda n: float(n.surface_min_m2)),
            s_max=col(lambda n: float(n.surface_max_m2)),
            use_mask=use_m,
            kind_mask=kind_m,
            wanted_bits=bits,
            max_rent=max_rent,
            max_sale=max_sale,
            communes=communes,
            cx=cx,
            cy=cy,
            reach=reach,
            radius_hard=~np.isnan(radius) & has_c,
            polygon=polygon,
            place_x=place_x,
            place_y=place_y,
            place_reach=place_reach,
            place_hard=place_hard,
            station_max=station_max,
            interchange_max=interchange_max,
            tech_min=tech_min,
            needs_icpe=needs_icpe,
            wanted_day=wanted_day,
            required=required,
            active=active,
            weights=weights,
        )

    def take(self, rows: Sequence[int] | np.ndarray) -> NeedTable:
        """A table of some of the needs (in the given order)."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        kw: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if isinstance(value, np.ndarray):
                kw[name] = value[rows]
            else:
                kw[name] = [value[r] for r in rows]
        return NeedTable(**kw)
