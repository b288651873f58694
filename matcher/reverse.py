"""Reverse matching: which saved needs one listing fits, vectorised over the needs.

The filters, utilities and score are the forward engine's, evaluated with one listing's
values as scalars and every need's parameters as arrays: a listing fits a need here exactly
when it would appear among that need's forward matches, with the same score.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from matcher._codes import STATUS_CODE
from matcher.engine import need_weights
from matcher.index import MatchIndex
from matcher.needs import NeedTable
from matcher.scoring import Ranker, weighted_score

__all__ = ["ListingMatch", "evaluate_listing", "match_listing", "table_weights"]


@dataclass(frozen=True)
class ListingMatch:
    """A saved need that a listing fits."""

    need_id: int
    score: float
    utilities: dict[str, float]


def evaluate_listing(
    index: MatchIndex,
    pos: int,
    table: NeedTable,
    ranker: Ranker | None = None,
    *,
    weights: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For the listing at row ``pos``: per need, whether it passes the required filters,
    its score and its ``(m, n_criteria)`` utilities (NaN for criteria a need does not use).

    ``ranker`` is the scoring model (the default weights without one), each need's own
    weights applied over it, as the engine scores a match. ``weights`` gives those weights
    already computed (:func:`table_weights`), for a caller scoring several listings."""
    m = len(table)
    reg = table.registry
    req = table.required & table.active
    passes = np.array([bool(n.active) for n in table.needs], dtype=bool).reshape(m)
    u = np.full((m, len(reg)), np.nan)
    for j, c in enumerate(reg):
        ok, u[:, j] = c.listing(index, pos, table.params)
        passes &= ~req[:, j] | ok
    u = np.where(table.active, u, np.nan)
    if weights is None:
        weights = table_weights(table, ranker)
    scores = weighted_score(u, weights, table.active)
    return passes, scores, u


def table_weights(table: NeedTable, ranker: Ranker | None = None) -> np.ndarray:
    """The ``(m, n_criteria)`` weights every need of ``table`` is scored with by ``ranker``
    (the needs' own weights over the default ones without a ranker), as the engine's
    :func:`matcher.engine.need_weights` gives them one need at a time."""
    if ranker is None:
        return table.weights
    m, k = len(table), len(table.registry)
    return np.array([need_weights(table, i, ranker) for i in range(m)]).reshape(m, k)


def match_listing(
    index: MatchIndex,
    listing_id: int,
    table: NeedTable,
    *,
    include_under_offer: bool = False,
    any_status: bool = False,
    ranker: Ranker | None = None,
) -> list[ListingMatch]:
    """The saved needs a listing fits, best score first (ties: smaller need id).

    The listing must be in the index (call :meth:`MatchIndex.update` first for a new or
    changed one). Only needs marked ``active`` count. A listing whose status is not matched
    (let, sold, withdrawn; under offer unless asked) fits nothing unless ``any_status``.
    ``ranker`` scores as in :func:`evaluate_listing` (None: the default weights).
    """
    pos = index.position(listing_id)
    if pos is None:
        msg = f"listing {listing_id} is not in the match index"
        raise KeyError(msg)
    status = index.cols["status"][pos]
    limit = STATUS_CODE["under_offer"] if include_under_offer else STATUS_CODE["available"]
    if not any_status and status > limit:
        return []
    passes, scores, u = evaluate_listing(index, pos, table, ranker)
    rows = np.flatnonzero(passes)
    order = rows[np.lexsort((table.ids[rows], -scores[rows]))]
    names = table.registry.names
    return [
        ListingMatch(
            need_id=int(table.ids[r]),
            score=float(scores[r]),
            utilities={names[j]: float(u[r, j]) for j in range(len(names)) if table.active[r, j]},
        )
        for r in order
    ]
