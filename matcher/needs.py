"""Needs compiled to arrays: one row per need, the form every matching direction consumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from geodata.schemas import NeedIn
from matcher.criteria.registry import DEFAULT_REGISTRY, Registry, day_number

__all__ = ["NeedTable", "day_number"]


def _str_keys(weights: Any) -> dict[str, float] | None:
    return None if weights is None else {str(k): float(v) for k, v in weights.items()}


@dataclass
class NeedTable:
    """Needs as arrays (length ``m``); NaN / 0 / empty means "not asked".

    Build it with :meth:`from_needs`. ``params`` holds every criterion's parameters (see
    each criterion's ``compile``), also readable as attributes (``table.s_min``).
    ``required``, ``active`` and ``weights`` are ``(m, n_criteria)`` in the order of
    ``registry``; a criterion is *active* when the need says something about it.
    """

    needs: list[NeedIn]
    ids: np.ndarray
    params: dict[str, Any]
    required: np.ndarray
    active: np.ndarray
    weights: np.ndarray
    registry: Registry = field(default=DEFAULT_REGISTRY)

    def __len__(self) -> int:
        return len(self.ids)

    def __getattr__(self, name: str) -> Any:
        if name != "params" and "params" in self.__dict__ and name in self.params:
            return self.params[name]
        msg = f"'NeedTable' has no attribute or parameter '{name}'"
        raise AttributeError(msg)

    @classmethod
    def from_needs(
        cls,
        needs: Sequence[NeedIn],
        ids: Sequence[int] | np.ndarray | None = None,
        *,
        registry: Registry = DEFAULT_REGISTRY,
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
        params, active, required = registry.compile(needs)
        weights = np.array(
            [registry.weights(_str_keys(n.weights)) for n in needs], dtype=np.float64
        ).reshape(m, len(registry))
        return cls(
            needs=needs,
            ids=ids_arr,
            params=params,
            required=required,
            active=active,
            weights=weights,
            registry=registry,
        )

    def take(self, rows: Sequence[int] | np.ndarray) -> NeedTable:
        """A table of some of the needs (in the given order), compiled again."""
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        table = NeedTable.from_needs(
            [self.needs[r] for r in rows], self.ids[rows], registry=self.registry
        )
        table.weights = self.weights[rows]
        return table
