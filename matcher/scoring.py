"""Scores from per-criterion utilities: the weighted mean, and what the engine asks of a ranker.

Kept apart from :mod:`matcher.ranker` so that matching imports numpy only: the estimator
there (scikit-learn, about half a second to import) is loaded only by those who fit or pass
one, never by ``implanter match`` with the default weights.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import numpy as np

__all__ = ["Ranker", "score_columns", "weighted_score"]


class Ranker(Protocol):
    """What the engine needs of a scoring model: the weight of each criterion it scores.

    :class:`matcher.ranker.WeightedMeanRanker` is one, fitted or not.
    """

    def weights_for(
        self, names: Sequence[str], fallback: Mapping[str, float] | None = None
    ) -> np.ndarray:
        """The weights of criteria ``names``; ``fallback`` for those the model does not know."""
        ...


def weighted_score(utilities: Any, weights: Any, active: Any) -> np.ndarray:
    """``100 × Σ w·u / Σ w`` over the active criteria, summed left to right; 0 if ``Σ w = 0``.

    ``utilities`` is ``(..., n_criteria)``; ``weights`` and ``active`` broadcast against it.

    Examples
    --------
    >>> weighted_score([[1.0, 0.5, np.nan]], [30.0, 20.0, 50.0], [True, True, False]).tolist()
    [80.0]
    """
    utilities = np.asarray(utilities, dtype=np.float64)
    w = np.where(active, weights, 0.0) * np.ones(utilities.shape[-1])
    acc = np.zeros(utilities.shape[:-1])
    wsum = np.zeros(w.shape[:-1])
    for j in range(utilities.shape[-1]):
        wj = w[..., j]
        acc = acc + np.where(wj > 0, wj * np.nan_to_num(utilities[..., j]), 0.0)
        wsum = wsum + wj
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(wsum > 0, 100.0 * acc / wsum, 0.0)


def score_columns(
    cols: Sequence[np.ndarray | None], weights: Any, active: Any, n: int
) -> np.ndarray:
    """:func:`weighted_score` of one need from per-criterion columns (same arithmetic).

    Examples
    --------
    >>> score_columns([np.array([1.0]), np.array([0.5]), None], [30.0, 20.0, 50.0],
    ...               [True, True, False], 1).tolist()
    [80.0]
    """
    acc: np.ndarray | None = None
    wsum = 0.0
    for j, col in enumerate(cols):
        wj = float(weights[j]) if active[j] else 0.0
        if wj > 0 and col is not None:
            term = wj * col
            acc = term if acc is None else acc + term
        wsum = wsum + wj
    if acc is None or wsum <= 0:
        return np.zeros(n)
    return 100.0 * acc / wsum
