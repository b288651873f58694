"""Matching engine: rank premises for a need, and needs for a premises, vectorised.

Build a :class:`MatchIndex` once per catalogue version, then call :func:`match` per need,
:func:`match_listing` per listing (which saved needs it fits), or :func:`batch_match` for
every saved need at once.

Each criterion is one module of :mod:`matcher.criteria`, listed in a registry
(:data:`DEFAULT_REGISTRY`) that every matching direction loops over; scores come from a
ranker (:class:`WeightedMeanRanker`, the default weights unless fitted); reasons are
:class:`Reason` data rendered by :mod:`matcher.explain`.
"""

import importlib
from typing import TYPE_CHECKING, Any

from matcher._geo import PointSet, to_lambert93
from matcher.criteria.registry import DEFAULT_REGISTRY, Reason, Registry, Relaxation
from matcher.engine import Diagnostics, MatchItem, MatchResult, match, top_k
from matcher.index import MatchIndex
from matcher.needs import NeedTable
from matcher.reverse import ListingMatch, match_listing
from matcher.scoring import Ranker
from matcher.weights import CRITERIA, DEFAULT_WEIGHTS

if TYPE_CHECKING:
    from matcher.batch import BatchChunk, batch_match, batch_match_frame
    from matcher.ranker import WeightedMeanRanker

__all__ = [
    "CRITERIA",
    "DEFAULT_REGISTRY",
    "DEFAULT_WEIGHTS",
    "BatchChunk",
    "Diagnostics",
    "ListingMatch",
    "MatchIndex",
    "MatchItem",
    "MatchResult",
    "NeedTable",
    "PointSet",
    "Ranker",
    "Reason",
    "Registry",
    "Relaxation",
    "WeightedMeanRanker",
    "batch_match",
    "batch_match_frame",
    "match",
    "match_listing",
    "to_lambert93",
    "top_k",
]


#: Names loaded on first use, with their module: the ranker imports scikit-learn, which
#: matching with the default weights (``implanter match``, the API's index) does not need;
#: batch matching returns pandas frames, which matching one need does not build.
_LAZY = {
    "WeightedMeanRanker": "matcher.ranker",
    "BatchChunk": "matcher.batch",
    "batch_match": "matcher.batch",
    "batch_match_frame": "matcher.batch",
}


def __getattr__(name: str) -> Any:
    """Load the names of :data:`_LAZY` on first use (see there why)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    msg = f"module 'matcher' has no attribute {name!r}"
    raise AttributeError(msg)
