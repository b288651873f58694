"""What ``GET /premises`` computes once and reuses: the totals of searches, the public JSON
of listings.

Both live on the app (``app.state``), one per process, and are exact: a total is keyed by
the catalogue version and the search's filters, a listing's public JSON by its id and its
version (a listing's public view depends on nothing else). Both are bounded (least recently
used out) and safe across the threads serving requests.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from starlette.datastructures import State

from geodata.schemas import PremisesPublic
from geodata.storage import PremisesQuery
from geodata.storage._convert import premises_from_row

from .json_response import encode_json

__all__ = ["PublicJsonCache", "TotalCache", "public_json", "public_json_cache", "total_cache"]


def public_json(row: Mapping[Any, Any]) -> dict[str, Any]:
    """The public view of a stored listing row as JSON values, as every read route gives it
    to a reader who may not edit the listing."""
    return PremisesPublic.model_validate(premises_from_row(row)).model_dump(
        mode="json", by_alias=True
    )


class TotalCache:
    """How many listings match each query's filters, at one catalogue version.

    ``COUNT(*)`` over the filtered catalogue is most of the cost of a page at 100,000
    listings, and is the same for every page of a search and every reader sharing its
    filters until the catalogue moves. The public view's freshness bound (``visible_since``)
    moves once a day, at 00:00 UTC, so it is part of the key like every other filter. A new
    version empties the cache; at most ``size`` searches are kept (least recently used out).
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._version: int | None = None
        self._totals: OrderedDict[PremisesQuery, int] = OrderedDict()

    @staticmethod
    def key(query: PremisesQuery) -> PremisesQuery:
        """The query's filters alone: its page and order set to their defaults."""
        return query.model_copy(update={"limit": None, "offset": 0, "order_by": "id", "near": None})

    def get(self, version: int, query: PremisesQuery) -> int | None:
        """The total stored for these filters at ``version``, else None."""
        key = self.key(query)
        with self._lock:
            if self._version != version or key not in self._totals:
                return None
            self._totals.move_to_end(key)
            return self._totals[key]

    def put(self, version: int, query: PremisesQuery, total: int) -> None:
        """Store the total of these filters, counted at ``version``."""
        key = self.key(query)
        with self._lock:
            if self._version != version:
                if self._version is not None and version < self._version:
                    return  # a late reader of an older version: keep the newer totals
                self._version = version
                self._totals.clear()
            self._totals[key] = total
            self._totals.move_to_end(key)
            while len(self._totals) > self.size:
                self._totals.popitem(last=False)


class PublicJsonCache:
    """The public view of listings as JSON values and as their encoded JSON (the bytes
    :class:`api.json_response.FastJSONResponse` writes for them), keyed by
    ``(id, version)``.

    Every write moves a listing's version, so an entry never goes stale; it is only
    evicted, least recently used first, beyond ``size`` listings. The values are shared
    between responses: callers must not change them.
    """

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple[int, int], tuple[dict[str, Any], bytes]] = OrderedDict()

    def _found(self, key: tuple[int, int]) -> tuple[dict[str, Any], bytes] | None:
        """The entry of ``key``, marked as used; the caller holds the lock."""
        found = self._items.get(key)
        if found is not None:
            self._items.move_to_end(key)
        return found

    def _entry(
        self, key: tuple[int, int], build: Callable[[], dict[str, Any]]
    ) -> tuple[dict[str, Any], bytes]:
        """The entry of ``key``, built (and encoded) on a miss."""
        with self._lock:
            found = self._found(key)
        if found is not None:
            return found
        value = build()
        entry = (value, encode_json(value))
        with self._lock:
            self._items[key] = entry
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return entry

    def peek_entry(self, premises_id: int, version: int) -> tuple[dict[str, Any], bytes] | None:
        """The public JSON of a listing at ``version`` and its encoding, if cached."""
        with self._lock:
            return self._found((premises_id, version))

    def get_entry(
        self, premises_id: int, version: int, build: Callable[[], dict[str, Any]]
    ) -> tuple[dict[str, Any], bytes]:
        """The public JSON of a listing at ``version`` and its encoding; ``build`` makes the
        JSON values on a miss."""
        return self._entry((premises_id, version), build)

    def peek_encoded(self, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The encoded public JSON of those listings ``(id, version)`` that are cached."""
        out: dict[tuple[int, int], bytes] = {}
        with self._lock:
            for key in keys:
                found = self._found(key)
                if found is not None:
                    out[key] = found[1]
        return out

    def get_encoded(
        self, premises_id: int, version: int, build: Callable[[], dict[str, Any]]
    ) -> bytes:
        """The encoded public JSON of a listing at ``version``; ``build`` makes its JSON
        values on a miss."""
        return self._entry((premises_id, version), build)[1]


def total_cache(state: State) -> TotalCache:
    """The app's :class:`TotalCache`, made on first use."""
    cache: TotalCache | None = getattr(state, "premises_totals", None)
    if cache is None:
        cache = state.premises_totals = TotalCache()
    return cache


def public_json_cache(state: State) -> PublicJsonCache:
    """The app's :class:`PublicJsonCache`, made on first use."""
    cache: PublicJsonCache | None = getattr(state, "premises_public_json", None)
    if cache is None:
        cache = state.premises_public_json = PublicJsonCache()
    return cache
