"""The scoring model: a weighted mean of per-criterion utilities, as a scikit-learn estimator.

``score = 100 × Σ wᵢ·uᵢ / Σ wᵢ`` over the criteria a need uses (a NaN utility means "not
used"). :class:`WeightedMeanRanker` holds the weights as its parameter (the defaults of
:mod:`matcher.weights` unless given); :meth:`WeightedMeanRanker.fit` learns them from
outcomes (non-negative least squares of the outcome on the utilities, normalised to add up
to 1), so a fitted ranker can be handed to :func:`matcher.match`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from scipy.optimize import nnls
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted, validate_data

from matcher.scoring import weighted_score
from matcher.weights import CRITERIA, DEFAULT_WEIGHTS

__all__ = ["WeightedMeanRanker"]


class WeightedMeanRanker(BaseEstimator):
    """Score premises by a weighted mean of their per-criterion utilities (0–100).

    A ranker, not a regressor: :meth:`predict` gives a score to order listings by, on the
    0–100 scale of the engine, whatever the scale of the outcomes it was fitted on.

    Parameters
    ----------
    weights : mapping of str to float, default=None
        Criterion name → weight, used until the ranker is fitted; None means
        :data:`~matcher.weights.DEFAULT_WEIGHTS`.
    criteria : sequence of str, default=None
        The criteria the columns of ``X`` hold, in order; None means the names of a
        DataFrame's columns, or :data:`~matcher.weights.CRITERIA` when ``X`` has that many
        columns, or ``u0, u1, …``.

    Attributes
    ----------
    weights_ : ndarray of shape (n_features_in_,)
        The fitted weights, non-negative, adding up to 1.
    criteria_ : tuple of str
        The criterion of each column.
    n_features_in_ : int
        Number of utilities per row seen in :meth:`fit`.

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    >>> r = WeightedMeanRanker(criteria=["surface", "use"]).fit(X, [3.0, 1.0, 4.0])
    >>> r.weights_.round(2).tolist(), r.predict(X).round(1).tolist()
    ([0.75, 0.25], [75.0, 25.0, 100.0])
    >>> WeightedMeanRanker().weights_for(["surface", "budget"]).tolist()
    [30.0, 20.0]
    """

    def __init__(
        self,
        weights: Mapping[str, float] | None = None,
        criteria: Sequence[str] | None = None,
    ) -> None:
        self.weights = weights
        self.criteria = criteria

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.target_tags.required = True
        return tags

    def _names(self, n: int) -> tuple[str, ...]:
        if self.criteria is not None:
            names = tuple(str(c) for c in self.criteria)
            if len(names) != n:
                msg = f"criteria: {len(names)} names for {n} columns of utilities"
                raise ValueError(msg)
            return names
        if hasattr(self, "feature_names_in_"):
            return tuple(str(c) for c in self.feature_names_in_)
        if n == len(CRITERIA):
            return CRITERIA
        return tuple(f"u{j}" for j in range(n))

    def fit(self, X: Any, y: Any) -> WeightedMeanRanker:  # noqa: N803
        """Learn weights: non-negative least squares of ``y`` on the utilities.

        A NaN utility (criterion not used) counts as 0. When no weight comes out positive,
        the weights are equal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_criteria)
            Utilities in [0, 1], NaN where a need does not use a criterion.
        y : array-like of shape (n_samples,)
            Outcomes (for example 1 when the company visited or took the premises).

        Returns
        -------
        self
        """
        X, y = validate_data(  # noqa: N806
            self, X, y, ensure_all_finite="allow-nan", y_numeric=True
        )
        names = self._names(X.shape[1])
        coef, _ = nnls(np.nan_to_num(X), np.asarray(y, dtype=np.float64))
        total = float(coef.sum())
        if not np.isfinite(total) or total <= 0:
            coef = np.ones(X.shape[1])
            total = float(X.shape[1])
        self.weights_ = coef / total
        self.criteria_ = names
        return self

    def predict(self, X: Any) -> np.ndarray:  # noqa: N803
        """Scores (0–100) of rows of utilities; NaN utilities do not count.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_criteria)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, ensure_all_finite="allow-nan")  # noqa: N806
        return weighted_score(X, self.weights_, ~np.isnan(X))

    def weights_for(
        self, names: Sequence[str], fallback: Mapping[str, float] | None = None
    ) -> np.ndarray:
        """Weights of some criteria: the fitted ones if fitted, else the ``weights``
        parameter or the defaults; a criterion the ranker does not know gets its
        ``fallback`` weight (0 when it has none).

        Fitted weights come on the scale of the default ones (adding up to 100), so that a
        need's own weights (``need.weights``, which replace the ranker's for the criteria
        they name) keep their meaning; the scores do not depend on the scale.
        """
        if hasattr(self, "weights_"):
            scale = sum(DEFAULT_WEIGHTS.values())
            known = dict(zip(self.criteria_, (self.weights_ * scale).tolist(), strict=True))
        else:
            known = dict(DEFAULT_WEIGHTS if self.weights is None else self.weights)
        fallback = fallback or {}
        return np.array([float(known.get(n, fallback.get(n, 0.0))) for n in names])
