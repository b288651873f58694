"""Calibrate the ranking on outcomes: learn criterion weights from what companies did.

Pure (numpy, scikit-learn; no database, no web framework). The features of a (need,
listing) pair are the engine's per-criterion utilities (:func:`outcome_features`, NaN where
the need does not use a criterion); the target is how far the company went with the
listing (:data:`GAINS`: contacted 1, visited 2, signed 3, anything less 0).

:class:`PairwiseRanker` fits a pairwise logistic model: within each need, for every pair of
listings where the company went further with one than with the other, the probability that
it prefers the first is ``σ(w · (u₁ − u₂))``. Differences are taken within a need, so the
criteria it does not use cancel out and the learned ``w`` is exactly what the engine's
weighted mean ranks with (the mean's denominator is the same for every listing of a need).
Negative weights are set to 0 and the rest scaled to add up to 1: the result is a fitted
:class:`~matcher.ranker.WeightedMeanRanker`, which :func:`matcher.match` accepts.

:func:`evaluate` compares learned and default weights on held-out needs: cross-validation
grouped by need (:class:`~sklearn.model_selection.GroupKFold`), NDCG@10 and MRR per held-out
need, and percentile bootstrap intervals over needs of each mean and of the paired difference.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import ndcg_score
from sklearn.model_selection import GroupKFold
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data

from geodata.schemas import NeedIn
from matcher.engine import utility_matrix
from matcher.index import MatchIndex
from matcher.needs import NeedTable
from matcher.ranker import WeightedMeanRanker
from matcher.scoring import weighted_score
from matcher.weights import CRITERIA, DEFAULT_WEIGHTS

__all__ = [
    "GAINS",
    "CalibrationReport",
    "Interval",
    "PairwiseRanker",
    "TrainingSet",
    "calibrate",
    "evaluate",
    "gains_of",
    "mrr_per_group",
    "ndcg_per_group",
    "outcome_features",
    "training_set",
]

#: The gain of each outcome level: "contacted or better" is positive.
GAINS: dict[str, float] = {"contacted": 1.0, "visited": 2.0, "signed": 3.0}


def gains_of(levels: Sequence[str]) -> np.ndarray:
    """Gains of outcome levels (0 for shown, opened, rejected without contact).

    Examples
    --------
    >>> gains_of(["shown", "contacted", "signed", "rejected"]).tolist()
    [0.0, 1.0, 3.0, 0.0]
    """
    return np.array([GAINS.get(str(level), 0.0) for level in levels], dtype=np.float64)


def outcome_features(
    index: MatchIndex,
    needs: Sequence[NeedIn],
    need_positions: Sequence[int] | np.ndarray,
    premises_ids: Sequence[int] | np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """The engine's utilities of (need, listing) pairs: one row per pair, one column per
    criterion (:data:`~matcher.weights.CRITERIA`), NaN where the need does not use it.

    Parameters
    ----------
    index
        The catalogue.
    needs
        The needs; ``need_positions`` index into it.
    need_positions, premises_ids
        The pairs.

    Returns
    -------
    X : ndarray of shape (n_pairs, n_criteria)
    kept : ndarray of bool, shape (n_pairs,)
        False for a pair whose listing is no longer in the index (its row of ``X`` is NaN).
    """
    pos = np.asarray(need_positions, dtype=np.int64)
    pids = np.asarray(premises_ids, dtype=np.int64)
    table = NeedTable.from_needs(list(needs), np.arange(len(needs)))
    X = np.full((len(pos), len(table.registry)), np.nan)  # noqa: N806
    kept = np.zeros(len(pos), dtype=bool)
    rows = np.array([-1 if (r := index.position(int(p))) is None else r for p in pids])
    for i in np.unique(pos):  # one vectorised call per need
        at = np.flatnonzero((pos == i) & (rows >= 0))
        if len(at):
            X[at] = utility_matrix(index, table, int(i), rows[at])
            kept[at] = True
    return X, kept


def _pairs(
    X: np.ndarray,  # noqa: N803
    y: np.ndarray,
    groups: np.ndarray,
    max_pairs: int,
    rng: np.random.RandomState,
) -> np.ndarray:
    """Differences ``X[a] − X[b]`` (NaN as 0) for pairs of one group with ``y[a] > y[b]``."""
    Z = np.nan_to_num(X)  # noqa: N806
    diffs = []
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    for members in np.split(order, bounds):
        g = y[members]
        a, b = np.nonzero(g[:, None] > g[None, :])
        if len(a) == 0:
            continue
        if len(a) > max_pairs:
            keep = rng.choice(len(a), size=max_pairs, replace=False)
            a, b = a[keep], b[keep]
        diffs.append(Z[members[a]] - Z[members[b]])
    if not diffs:
        return np.empty((0, X.shape[1]))
    return np.concatenate(diffs)


class PairwiseRanker(WeightedMeanRanker):
    """Criterion weights fitted by pairwise logistic regression within needs.

    Parameters
    ----------
    C : float, default=1.0
        Inverse strength of the L2 penalty of the logistic regression.
    max_pairs : int, default=200
        At most this many preference pairs per need (drawn at random when more).
    random_state : int, RandomState instance or None, default=None
        Seeds the draw of pairs.
    criteria : sequence of str, default=None
        As for :class:`~matcher.ranker.WeightedMeanRanker`.

    Attributes
    ----------
    weights_ : ndarray of shape (n_features_in_,)
        The weights: non-negative, adding up to 1 (equal when nothing was learned).
    coef_ : ndarray of shape (n_features_in_,)
        The raw logistic coefficients (may be negative).
    n_pairs_ : int
        How many preference pairs it was fitted on.
    criteria_ : tuple of str
        The criterion of each column.

    Examples
    --------
    >>> X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.2], [0.1, 1.0]])
    >>> r = PairwiseRanker(criteria=["surface", "use"]).fit(X, [1, 0, 1, 0], groups=[0, 0, 1, 1])
    >>> bool(r.weights_[0] > r.weights_[1]), r.n_pairs_
    (True, 2)
    """

    def __init__(
        self,
        C: float = 1.0,  # noqa: N803
        max_pairs: int = 200,
        random_state: Any = None,
        criteria: Sequence[str] | None = None,
        weights: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(weights=weights, criteria=criteria)
        self.C = C
        self.max_pairs = max_pairs
        self.random_state = random_state

    def fit(self, X: Any, y: Any, groups: Any = None) -> PairwiseRanker:  # noqa: N803
        """Learn weights from outcomes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_criteria)
            Utilities in [0, 1], NaN where a need does not use a criterion.
        y : array-like of shape (n_samples,)
            Gains (:func:`gains_of`): higher is further along.
        groups : array-like of shape (n_samples,), default=None
            The need of each row; pairs are only formed within a need (None: one need).

        Returns
        -------
        self
        """
        X, y = validate_data(  # noqa: N806
            self, X, y, ensure_all_finite="allow-nan", y_numeric=True
        )
        y = np.asarray(y, dtype=np.float64)
        groups = np.zeros(len(y), dtype=np.int64) if groups is None else np.asarray(groups)
        if len(groups) != len(y):
            msg = f"groups: {len(groups)} values for {len(y)} rows"
            raise ValueError(msg)
        rng = check_random_state(self.random_state)
        names = self._names(X.shape[1])
        D = _pairs(X, y, groups, int(self.max_pairs), rng)  # noqa: N806
        self.n_pairs_ = len(D)
        coef = np.zeros(X.shape[1])
        if len(D):
            # Both orientations, so no intercept is needed and the classes balance.
            model = LogisticRegression(C=self.C, fit_intercept=False, max_iter=1000)
            model.fit(np.vstack([D, -D]), np.r_[np.ones(len(D)), np.zeros(len(D))])
            coef = model.coef_[0]
        self.coef_ = coef
        w = np.clip(coef, 0.0, None)
        total = float(w.sum())
        self.weights_ = w / total if total > 0 else np.full(X.shape[1], 1.0 / X.shape[1])
        self.criteria_ = names
        return self

    def weight_map(self) -> dict[str, float]:
        """The fitted weights on the scale of the default ones (adding up to 100)."""
        check_is_fitted(self)
        scale = sum(DEFAULT_WEIGHTS.values())
        return {n: float(w * scale) for n, w in zip(self.criteria_, self.weights_, strict=True)}


# --- metrics -------------------------------------------------------------------------------


def _split(groups: np.ndarray) -> list[np.ndarray]:
    order = np.argsort(groups, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(groups[order])) + 1)


def ndcg_per_group(
    gains: np.ndarray, scores: np.ndarray, groups: np.ndarray, k: int = 10
) -> np.ndarray:
    """NDCG@k of each group with a positive gain and at least two rows (ties averaged)."""
    out = []
    for members in _split(groups):
        g = gains[members]
        if len(members) < 2 or not (g > 0).any():
            continue
        out.append(ndcg_score(g[None, :], scores[members][None, :], k=k))
    return np.array(out)


def mrr_per_group(gains: np.ndarray, scores: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Reciprocal rank of the best-scored positive (gain > 0) of each group; a tie with
    negatives counts as half a place above it."""
    out = []
    for members in _split(groups):
        g, s = gains[members], scores[members]
        if len(members) < 2 or not (g > 0).any():
            continue
        best = s[g > 0].max()
        neg = s[g <= 0]
        rank = 1.0 + np.count_nonzero(neg > best) + 0.5 * np.count_nonzero(neg == best)
        out.append(1.0 / rank)
    return np.array(out)


@dataclass(frozen=True)
class Interval:
    """A mean over held-out needs with its percentile bootstrap interval."""

    mean: float
    low: float
    high: float

    def __str__(self) -> str:
        return f"{self.mean:.3f} [{self.low:.3f}, {self.high:.3f}]"

    def to_dict(self) -> dict[str, float]:
        """A JSON-ready dict."""
        return {"mean": self.mean, "low": self.low, "high": self.high}


def _bootstrap(
    values: np.ndarray, n_boot: int, rng: np.random.RandomState, level: float
) -> Interval:
    if len(values) == 0:
        return Interval(float("nan"), float("nan"), float("nan"))
    idx = rng.randint(0, len(values), size=(n_boot, len(values)))
    means = values[idx].mean(axis=1)
    alpha = (1.0 - level) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return Interval(float(values.mean()), float(low), float(high))


@dataclass(frozen=True)
class CalibrationReport:
    """What :func:`evaluate` measured, and the ranker fitted on every outcome.

    ``metrics[name]`` has ``default``, ``learned`` and ``difference`` (learned − default,
    paired by need) intervals for ``ndcg@k`` and ``mrr``. From :func:`calibrate`: how many
    outcomes were learnt from the utilities recorded when shown (``n_as_shown``), how many
    from the catalogue as it is now for want of them (``n_from_catalogue``), and how many
    were left out (their need or listing gone, nothing recorded: ``n_left_out``).
    """

    ranker: PairwiseRanker
    metrics: dict[str, dict[str, Interval]]
    n_rows: int
    n_needs: int
    n_evaluated: int
    n_splits: int
    fold_weights: list[dict[str, float]] = field(default_factory=list)
    n_as_shown: int = 0
    n_from_catalogue: int = 0
    n_left_out: int = 0

    @property
    def weights(self) -> dict[str, float]:
        """The learned weights, adding up to 100."""
        return self.ranker.weight_map()

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary (what a saved model keeps as its metrics)."""
        return {
            "metrics": {
                m: {which: iv.to_dict() for which, iv in d.items()} for m, d in self.metrics.items()
            },
            "n_rows": self.n_rows,
            "n_needs": self.n_needs,
            "n_evaluated": self.n_evaluated,
            "n_splits": self.n_splits,
            "features": {
                "as_shown": self.n_as_shown,
                "from_catalogue": self.n_from_catalogue,
                "left_out": self.n_left_out,
            },
        }


def _default_scores(X: np.ndarray, criteria: Sequence[str]) -> np.ndarray:  # noqa: N803
    w = np.array([DEFAULT_WEIGHTS.get(c, 0.0) for c in criteria])
    return weighted_score(X, w, ~np.isnan(X))


def evaluate(
    X: Any,  # noqa: N803
    gains: Any,
    groups: Any,
    *,
    criteria: Sequence[str] = CRITERIA,
    n_splits: int = 5,
    k: int = 10,
    n_boot: int = 2000,
    level: float = 0.95,
    C: float = 1.0,  # noqa: N803
    random_state: int | None = 0,
) -> CalibrationReport:
    """Cross-validate learned weights against the defaults, grouped by need.

    Each fold fits a :class:`PairwiseRanker` on the other folds' needs and ranks the
    held-out needs' listings with it and with the default weights; NDCG@k and MRR are
    computed per held-out need (those with a positive outcome and two listings or more),
    and their means get percentile bootstrap intervals over needs (``n_boot`` resamples,
    the paired difference resampled by need too). The returned ranker is fitted on all rows.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_criteria)
        Utilities (:func:`outcome_features`).
    gains : array-like of shape (n_rows,)
        :func:`gains_of` the outcome levels.
    groups : array-like of shape (n_rows,)
        The need of each row.
    criteria : sequence of str
        The criterion of each column (for the default weights).
    n_splits, k, n_boot, level, C, random_state
        Folds, the cut-off of NDCG, bootstrap resamples and level, the logistic penalty,
        the seed of pairs and resamples.
    """
    X = np.asarray(X, dtype=np.float64)  # noqa: N806
    y = np.asarray(gains, dtype=np.float64)
    g = np.asarray(groups)
    n_groups = len(np.unique(g))
    if n_groups < n_splits:
        msg = f"groups: {n_groups} needs for {n_splits} folds; record outcomes for more needs"
        raise ValueError(msg)
    learned = np.zeros(len(y))
    fold_weights = []
    for train, test in GroupKFold(n_splits=n_splits).split(X, y, g):
        r = PairwiseRanker(C=C, random_state=random_state, criteria=criteria)
        r.fit(X[train], y[train], groups=g[train])
        learned[test] = r.predict(X[test])
        fold_weights.append(r.weight_map())
    default = _default_scores(X, criteria)
    rng = check_random_state(random_state)
    metrics: dict[str, dict[str, Interval]] = {}
    n_eval = 0
    for name, per_group in (
        (f"ndcg@{k}", lambda s: ndcg_per_group(y, s, g, k)),
        ("mrr", lambda s: mrr_per_group(y, s, g)),
    ):
        d, lr = per_group(default), per_group(learned)
        n_eval = len(d)
        metrics[name] = {
            "default": _bootstrap(d, n_boot, rng, level),
            "learned": _bootstrap(lr, n_boot, rng, level),
            "difference": _bootstrap(lr - d, n_boot, rng, level),
        }
    final = PairwiseRanker(C=C, random_state=random_state, criteria=criteria).fit(X, y, groups=g)
    return CalibrationReport(
        ranker=final,
        metrics=metrics,
        n_rows=len(y),
        n_needs=n_groups,
        n_evaluated=n_eval,
        n_splits=n_splits,
        fold_weights=fold_weights,
    )


@dataclass(frozen=True)
class TrainingSet:
    """What calibration learns from: one row per outcome kept.

    ``X`` holds the utilities (one column per criterion, NaN where the need does not use
    it), ``gains`` the outcome levels' gains, ``groups`` the need's position, ``need_ids``
    and ``premises_ids`` the pairs; ``as_shown`` marks the rows whose utilities were recorded
    when shown (else the catalogue's as it is now). ``n_left_out`` counts the outcomes left
    out: need unknown, or listing gone with nothing recorded.
    """

    X: np.ndarray
    gains: np.ndarray
    groups: np.ndarray
    need_ids: np.ndarray
    premises_ids: np.ndarray
    as_shown: np.ndarray
    n_left_out: int


def training_set(
    index: MatchIndex,
    needs: Sequence[NeedIn],
    outcomes: Sequence[tuple[int, int, str]],
    *,
    as_shown: Mapping[tuple[int, int], Mapping[str, float]] | None = None,
    criteria: Sequence[str] = CRITERIA,
) -> TrainingSet:
    """The features and gains of outcomes as stored.

    The features of a pair are the utilities recorded when it was shown (``as_shown``): what
    the company saw, whatever the listing or the need became since. A pair without them (an
    outcome recorded by hand, or before they were recorded) gets the utilities of the
    catalogue as it is now.

    Parameters
    ----------
    index
        The catalogue the utilities of pairs without recorded ones are computed on.
    needs
        The needs; each must carry its ``id``.
    outcomes
        ``(need id, listing id, level)`` rows, as
        :func:`geodata.storage.outcomes.training_outcomes` returns them.
    as_shown
        By (need id, listing id): criterion → utility as shown
        (:func:`geodata.storage.outcomes.recorded_utilities`).
    criteria
        The criterion of each column.
    """
    as_shown = as_shown or {}
    position = {int(getattr(n, "id", -1)): i for i, n in enumerate(needs)}
    rows = [(position[n], n, p, lv) for n, p, lv in outcomes if n in position]
    if not rows:
        msg = "outcomes: none of them is about a known need; record outcomes first"
        raise ValueError(msg)
    pos = np.array([r[0] for r in rows], dtype=np.int64)
    pids = np.array([r[2] for r in rows], dtype=np.int64)
    recorded = [as_shown.get((r[1], r[2])) for r in rows]
    shown = np.array([u is not None for u in recorded])
    X = np.full((len(rows), len(criteria)), np.nan)  # noqa: N806
    if shown.any():
        X[shown] = [[u.get(c, np.nan) for c in criteria] for u in recorded if u is not None]
    kept = shown.copy()
    rest = ~shown
    if rest.any():
        X[rest], kept[rest] = outcome_features(index, needs, pos[rest], pids[rest])
    return TrainingSet(
        X=X[kept],
        gains=gains_of([r[3] for r in rows])[kept],
        groups=pos[kept],
        need_ids=np.array([r[1] for r in rows], dtype=np.int64)[kept],
        premises_ids=pids[kept],
        as_shown=shown[kept],
        n_left_out=len(outcomes) - int(np.count_nonzero(kept)),
    )


def calibrate(
    index: MatchIndex,
    needs: Sequence[NeedIn],
    outcomes: Sequence[tuple[int, int, str]],
    *,
    as_shown: Mapping[tuple[int, int], Mapping[str, float]] | None = None,
    **kwargs: Any,
) -> CalibrationReport:
    """Features (:func:`training_set`), gains and evaluation (:func:`evaluate`) in one call,
    from outcomes as stored; the report counts the outcomes learnt from the utilities as
    shown, from the catalogue as it is now, and left out.
    """
    data = training_set(
        index, needs, outcomes, as_shown=as_shown, criteria=kwargs.get("criteria", CRITERIA)
    )
    report = evaluate(data.X, data.gains, data.groups, **kwargs)
    return replace(
        report,
        n_as_shown=int(np.count_nonzero(data.as_shown)),
        n_from_catalogue=int(np.count_nonzero(~data.as_shown)),
        n_left_out=data.n_left_out,
    )
