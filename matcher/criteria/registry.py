"""The criteria the engine uses, in order: their positions in every array come from here.

The engine, reverse matching, batch matching, diagnostics, relaxation and explanation loop
over a :class:`Registry`; none of them names a criterion. :data:`DEFAULT_REGISTRY` holds the
seven criteria of :mod:`matcher.weights`; :meth:`Registry.with_criterion` adds one (a
:class:`~matcher.criteria.base.Criterion` subclass), and a need table compiled with that
registry (``NeedTable.from_needs(needs, registry=...)``) is matched with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from matcher.criteria.access import Access
from matcher.criteria.availability import Availability
from matcher.criteria.base import (
    Candidates,
    Criterion,
    Formatter,
    Message,
    Params,
    Reason,
    Relaxation,
    SubFilter,
    day_number,
    day_to_date,
    pick_rows,
)
from matcher.criteria.budget import Budget
from matcher.criteria.location import Location
from matcher.criteria.surface import Surface
from matcher.criteria.technical import Technical
from matcher.criteria.use import Use

if TYPE_CHECKING:
    from geodata.schemas import NeedIn
    from matcher.index import MatchIndex

__all__ = [
    "DEFAULT_REGISTRY",
    "Candidates",
    "Criterion",
    "Formatter",
    "Message",
    "Params",
    "Reason",
    "Registry",
    "Relaxation",
    "SubFilter",
    "day_number",
    "day_to_date",
    "pick_rows",
]


class Registry:
    """An ordered set of criteria.

    Examples
    --------
    >>> DEFAULT_REGISTRY.names
    ('surface', 'use', 'budget', 'location', 'access', 'technical', 'availability')
    >>> DEFAULT_REGISTRY.position("budget")
    2
    """

    def __init__(self, criteria: Sequence[Criterion]) -> None:
        names = [c.name for c in criteria]
        if len(set(names)) != len(names) or not all(names):
            msg = f"criteria: every criterion needs a distinct, non-empty name, got {names}"
            raise ValueError(msg)
        self.criteria: tuple[Criterion, ...] = tuple(criteria)
        self.names: tuple[str, ...] = tuple(names)
        self._pos = {n: j for j, n in enumerate(names)}

    def __iter__(self) -> Iterator[Criterion]:
        return iter(self.criteria)

    def __len__(self) -> int:
        return len(self.criteria)

    def __repr__(self) -> str:
        return f"Registry({', '.join(self.names)})"

    def position(self, name: str) -> int:
        """The column of a criterion in every ``(…, n_criteria)`` array."""
        return self._pos[name]

    def get(self, name: str) -> Criterion:
        """The criterion of a name."""
        return self.criteria[self._pos[name]]

    def with_criterion(self, criterion: Criterion) -> Registry:
        """A new registry with one more criterion, placed last."""
        return Registry([*self.criteria, criterion])

    # --- needs -------------------------------------------------------------------------

    def default_weights(self) -> dict[str, float]:
        """Each criterion's default weight."""
        return {c.name: float(c.default_weight) for c in self.criteria}

    def weights(
        self, overrides: Mapping[Any, float] | None, defaults: Mapping[str, float] | None = None
    ) -> np.ndarray:
        """Weights in registry order: ``defaults`` (the criteria's own by default) with a
        need's ``overrides`` applied.

        Examples
        --------
        >>> DEFAULT_REGISTRY.weights({"budget": 40}).tolist()
        [30.0, 20.0, 40.0, 15.0, 5.0, 5.0, 5.0]
        """
        base = self.default_weights() if defaults is None else dict(defaults)
        out = np.array([base[n] for n in self.names], dtype=np.float64)
        for key, value in (overrides or {}).items():
            name = str(getattr(key, "value", key))
            if name not in self._pos:
                msg = f"weights: unknown criterion '{name}' (one of {', '.join(self.names)})"
                raise ValueError(msg)
            if not np.isfinite(value) or value < 0:
                msg = f"weights: the weight of '{name}' must be a finite number ≥ 0, got {value}"
                raise ValueError(msg)
            out[self._pos[name]] = float(value)
        return out

    def compile(self, needs: Sequence[NeedIn]) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
        """Every criterion's parameters, and the ``(m, n_criteria)`` stated and required
        masks."""
        m = len(needs)
        params: dict[str, Any] = {}
        for c in self.criteria:
            part = c.compile(needs)
            clash = set(part) & set(params)
            if clash:
                msg = f"criterion '{c.name}': parameter names {sorted(clash)} already taken"
                raise ValueError(msg)
            params.update(part)
        stated = np.zeros((m, len(self)), dtype=bool)
        required = np.zeros((m, len(self)), dtype=bool)
        for j, c in enumerate(self.criteria):
            stated[:, j] = c.stated(params, m)
            required[:, j] = c.required(needs)
        return params, stated, required

    # --- one need, many listings -------------------------------------------------------

    def sub_filters(
        self, index: MatchIndex, p: Params, required: np.ndarray, i: int
    ) -> list[SubFilter]:
        """The constraints of need ``i`` whose criterion is required (``required`` is its
        row of required and stated criteria), each as a mask over the index's rows."""
        out = []
        for j, c in enumerate(self.criteria):
            if required[j]:
                for name, mask in c.filters(index, p, i):
                    out.append(SubFilter(c.name, name, np.asarray(mask, dtype=bool)))
        return out


DEFAULT_REGISTRY = Registry(
    [Surface(), Use(), Budget(), Location(), Access(), Technical(), Availability()]
)
