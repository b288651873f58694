"""What every matching criterion exposes, and the types they share.

A criterion is one object (a subclass of :class:`Criterion`) that knows, for one aspect of a
need (surface, budget, location …):

- what it reads from the needs (:meth:`Criterion.compile`: named arrays, one row per need)
  and whether a need states it (:meth:`Criterion.stated`);
- its filter for one need over the catalogue (:meth:`Criterion.filters`) and for one listing
  over many needs (:meth:`Criterion.ok_listing`);
- its utility, both ways (:meth:`Criterion.utility`, :meth:`Criterion.utility_listing`);
- which listing fields the need asks about (:meth:`Criterion.completeness`);
- its reasons, as data (:meth:`Criterion.reasons` returns :class:`Reason` objects, rendered
  by :mod:`matcher.explain` with the criterion's :attr:`Criterion.messages`);
- its relaxations (:meth:`Criterion.candidates`: per failing listing, the smallest change
  that admits it and what that change costs; the re-check is the relaxation loop's).

This module imports no other criterion and nothing of the engine: every criterion imports
it, the registry imports the criteria, and the engine imports only the registry.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

import numpy as np

from matcher.weights import UNKNOWN_UTILITY

if TYPE_CHECKING:
    from geodata.schemas import NeedIn
    from matcher.index import MatchIndex

__all__ = [
    "ArrayLike",
    "Candidates",
    "Criterion",
    "Formatter",
    "Message",
    "Params",
    "Reason",
    "Relaxation",
    "SubFilter",
    "as_float",
    "change_messages",
    "day_number",
    "day_to_date",
    "distance_m",
    "distance_utility",
    "format_value",
    "lax_round",
    "mean_of_present",
    "pick_rows",
    "severity",
]

#: The compiled parameters of a table of needs: name → array (or list), one row per need.
Params = Mapping[str, Any]

_NAN = float("nan")


@dataclass(frozen=True)
class Reason:
    """One reason of a score or one suggested change, as data.

    ``criterion`` names the criterion, ``code`` the kind of statement, ``params`` its values
    (numbers in base units: m², €, metres, day numbers; JSON-ready). :func:`matcher.explain.
    render` turns it into French or English text.

    Examples
    --------
    >>> Reason("surface", "fits", {"offer": 1000.0}).to_dict()["code"]
    'fits'
    """

    criterion: str
    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (``params`` is shared, not copied)."""
        return {"criterion": self.criterion, "code": self.code, "params": self.params}


@dataclass(frozen=True)
class Relaxation:
    """One way to loosen the required constraints of a need.

    ``need_update`` holds the fields to change on the need (``need.model_copy(update=...)``
    then re-validate); ``brings`` is how many more premises the changed need matches
    (counted by running the changed need through the filters). ``cost`` is comparable
    across criteria: the share of the need's weights the criterion carries times the
    severity of the change (1 = the largest change that does not gut the need).
    ``reason`` is the change as data, ``text`` its rendering in French and English.
    """

    criterion: str
    constraint: str
    current: Any
    suggested: Any
    need_update: dict[str, Any]
    brings: int
    relative_change: float
    text: dict[str, str]
    cost: float = 0.0
    reason: Reason | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return asdict(self)


@dataclass(frozen=True)
class SubFilter:
    """One required constraint of a need evaluated over every row of the index."""

    criterion: str
    name: str
    mask: np.ndarray


@dataclass(frozen=True)
class Candidates:
    """How loosening one constraint could admit each of some failing listings.

    ``severity[r]`` is the severity (0–1) of the smallest change of ``constraint`` that
    admits ``rows[r]``; NaN when no change can, or when it would gut the need (severity
    above 1). ``make(selected)`` returns the change that admits every selected row (a
    boolean mask over ``rows``) as a :class:`Relaxation` whose ``brings`` and ``text`` the
    relaxation loop fills in, or None.
    """

    criterion: str
    constraint: str
    severity: np.ndarray
    make: Callable[[np.ndarray], Relaxation | None]


class Formatter(Protocol):
    """The language-aware formatting :mod:`matcher.explain` hands to a criterion's messages."""

    lang: str

    def area(self, m2: float) -> str: ...
    def money(self, eur: float, unit: str = "") -> str: ...
    def rate(self, eur: float, unit: str = "") -> str: ...
    def distance(self, metres: float) -> str: ...
    def date(self, day: float | str) -> str: ...
    def number(self, x: float, decimals: int = 0) -> str: ...
    def uses(self, mask: int) -> str: ...
    def kind(self, kind: str) -> str: ...
    def place(self, label: str) -> str: ...
    def commune(self, code: str | None, name: str | None = None) -> str: ...
    def more(self, n: int) -> str: ...


#: A message: builds the text of a reason's params in one language.
Message = Callable[[Mapping[str, Any], Formatter], str]


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


def day_to_date(day: float) -> date:
    """The date of a day number.

    Examples
    --------
    >>> day_to_date(10.5)
    datetime.date(1970, 1, 11)
    """
    return date(1970, 1, 1) + timedelta(days=int(np.floor(day)))


def lax_round(value: float, step: float, *, up: bool) -> float:
    """Round to a readable step in the lax direction (up for a ceiling, down for a minimum).

    Examples
    --------
    >>> lax_round(99.2, 1.0, up=True), lax_round(3333.3, 10.0, up=False)
    (100.0, 3330.0)
    """
    if up:
        return round(math.ceil(value / step - 1e-9) * step, 6)
    return round(math.floor(value / step + 1e-9) * step, 6)


def pick_rows(cost: np.ndarray, target: int) -> np.ndarray:
    """Mask of the ``target`` cheapest rows (NaN costs never picked; ties by position).

    Examples
    --------
    >>> pick_rows(np.array([0.5, np.nan, 0.1, 0.3]), 2).tolist()
    [False, False, True, True]
    """
    ok = np.flatnonzero(~np.isnan(cost))
    order = ok[np.argsort(cost[ok], kind="stable")][: max(target, 0)]
    out = np.zeros(len(cost), dtype=bool)
    out[order] = True
    return out


def severity(change: np.ndarray, limit: float) -> np.ndarray:
    """A relative change over the largest one allowed; NaN beyond it (it would gut the need).

    Examples
    --------
    >>> severity(np.array([0.1, 0.5, 0.8]), 0.5).tolist()
    [0.2, 1.0, nan]
    """
    s = np.asarray(change, dtype=np.float64) / limit
    return np.where(s <= 1.0 + 1e-12, np.maximum(s, 0.0), np.nan)


#: What the pure functions of the criteria take: a scalar, a sequence or an array.
ArrayLike = Any


def as_float(x: ArrayLike) -> np.ndarray:
    """``x`` as a float64 array (one copy at most).

    Examples
    --------
    >>> as_float([1, 2]).dtype.name
    'float64'
    """
    return np.asarray(x, dtype=np.float64)


def distance_m(x: Any, y: Any, px: Any, py: Any) -> np.ndarray:
    """Euclidean distance in projected metres (Lambert-93).

    Examples
    --------
    >>> distance_m([0.0, 3.0], [0.0, 4.0], 0.0, 0.0).tolist()
    [0.0, 5.0]
    """
    dx = as_float(x) - as_float(px)
    dy = as_float(y) - as_float(py)
    return np.sqrt(dx * dx + dy * dy)


def distance_utility(d: Any, reach: Any) -> np.ndarray:
    """``max(0, 1 − d / (2 × reach))``: 1 on the spot, 0.5 at the reach, 0 at twice the reach.

    An unknown distance (NaN) scores :data:`~matcher.weights.UNKNOWN_UTILITY`; no reach
    (NaN) gives NaN.

    Examples
    --------
    >>> distance_utility([0, 1000, 2000, 5000], 2000).tolist()
    [1.0, 0.75, 0.5, 0.0]
    """
    d, reach = as_float(d), as_float(reach)
    u = np.maximum(1.0 - d / (2.0 * reach), 0.0)
    u = np.where(np.isnan(d), UNKNOWN_UTILITY, u)
    return np.where(np.isnan(reach), np.nan, u)


def mean_of_present(parts: Sequence[Any]) -> np.ndarray:
    """Mean of the sub-utilities that are not NaN, left to right; NaN where none is.

    Examples
    --------
    >>> mean_of_present([[1.0, np.nan], [0.5, np.nan]]).tolist()
    [0.75, nan]
    """
    total: np.ndarray | float = 0.0
    count: np.ndarray | float = 0.0
    for part in parts:
        q = as_float(part)
        present = ~np.isnan(q)
        total = total + np.where(present, q, 0.0)
        count = count + present
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.asarray(count) > 0, np.asarray(total) / np.asarray(count), np.nan)


def format_value(f: Formatter, unit: str, v: Any) -> str:
    """A constraint's value in words: ``unit`` is area, rate, money, distance, metres,
    t_m2, kva, date or count."""
    if unit == "area":
        return f.area(v)
    if unit == "rate":
        return f.money(v, "/m²/an" if f.lang == "fr" else "/m²/year")
    if unit == "money":
        return f.money(v)
    if unit == "distance":
        return f.distance(v)
    if unit == "metres":
        return f"{f.number(v, 1)}\u00a0m"
    if unit == "t_m2":
        return f"{f.number(v, 1)}\u00a0t/m²"
    if unit == "kva":
        return f"{f.number(v)}\u00a0kVA"
    if unit == "date":
        return f.date(v)
    return f.number(v)


def change_messages(
    labels: Mapping[str, tuple[str, str, str]],
) -> dict[str, Message]:
    """Messages of a ``change`` reason (``constraint``, ``current``, ``suggested``).

    ``labels`` maps a constraint to its French and English label and its unit (see
    :func:`format_value`); a ``label`` param overrides the label (a place's name).
    """

    def make(lang: str) -> Message:
        def message(params: Mapping[str, Any], f: Formatter) -> str:
            fr_label, en_label, unit = labels[params["constraint"].split(".")[0]]
            label = params.get("label") or (fr_label if lang == "fr" else en_label)
            label = label[:1].upper() + label[1:]
            new = format_value(f, unit, params["suggested"])
            cur = format_value(f, unit, params["current"])
            if lang == "fr":
                return f"{label}\u00a0: {new} au lieu de {cur}"
            return f"{label}: {new} instead of {cur}"

        return message

    return {"fr": make("fr"), "en": make("en")}


class Criterion:
    """Base class of a matching criterion; subclasses override what they use.

    Attributes
    ----------
    name
        The criterion's key (``need.required`` and ``need.weights`` use it).
    label
        Its name for people, French then English ("usage", "use").
    default_weight
        Its weight in the default ranker.
    messages
        Reason code → one :data:`Message` per language (``{"fr": …, "en": …}``).
    """

    name: str = ""
    label: tuple[str, str] = ("", "")
    default_weight: float = 0.0
    messages: ClassVar[Mapping[str, Mapping[str, Message]]] = {}

    # --- the need side -----------------------------------------------------------------

    def compile(self, needs: Sequence[NeedIn]) -> dict[str, Any]:
        """The need fields this criterion reads, as named arrays (one row per need).

        Names must be unique across the registry's criteria.
        """
        return {}

    def stated(self, p: Params, m: int) -> np.ndarray:
        """Whether each of the ``m`` needs says something about this criterion."""
        return np.zeros(m, dtype=bool)

    def required(self, needs: Sequence[NeedIn]) -> np.ndarray:
        """Whether each need makes this criterion a hard filter."""
        return np.array([n.is_required(self.name) for n in needs], dtype=bool).reshape(len(needs))

    # --- one need, many listings -------------------------------------------------------

    def filters(self, index: MatchIndex, p: Params, i: int) -> list[tuple[str, np.ndarray]]:
        """The constraints of need ``i`` as masks over the index's rows, each named."""
        return []

    def utility(self, index: MatchIndex, p: Params, i: int, rows: np.ndarray) -> np.ndarray:
        """The utility (0–1) of need ``i`` for some rows."""
        raise NotImplementedError

    def completeness(
        self, index: MatchIndex, p: Params, i: int, rows: np.ndarray
    ) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """``(listing field, asked, stated)`` masks over ``rows`` for need ``i``."""
        return []

    def reasons(self, record: Mapping[str, Any], p: Params, i: int, utility: float) -> list[Reason]:
        """Why listing ``record`` (an index record) scores ``utility`` for need ``i``."""
        return []

    def candidates(
        self,
        index: MatchIndex,
        p: Params,
        i: int,
        need: NeedIn,
        constraint: str,
        rows: np.ndarray,
    ) -> list[Candidates]:
        """Ways of loosening ``constraint`` of need ``i`` for the failing ``rows``."""
        return []

    # --- one listing, many needs -------------------------------------------------------

    def ok_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        """Whether the listing at row ``pos`` passes this criterion's filter, per need."""
        raise NotImplementedError

    def utility_listing(self, index: MatchIndex, pos: int, p: Params) -> np.ndarray:
        """The utility of the listing at row ``pos``, per need (same values as forward)."""
        raise NotImplementedError

    def listing(self, index: MatchIndex, pos: int, p: Params) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`ok_listing` and :meth:`utility_listing` together (a criterion may share
        work between them)."""
        return self.ok_listing(index, pos, p), self.utility_listing(index, pos, p)
