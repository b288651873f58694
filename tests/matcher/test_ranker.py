"""The scoring model is a scikit-learn estimator; the engine scores with any fitted one."""

from __future__ import annotations

import numpy as np
import pytest
from matcher_data import NOW, need
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import estimator_checks_generator

from matcher import MatchIndex, NeedTable, match
from matcher.engine import utility_matrix
from matcher.ranker import WeightedMeanRanker
from matcher.weights import CRITERIA, DEFAULT_WEIGHTS


def _check_name(check: object) -> str:
    return str(getattr(getattr(check, "func", check), "__name__", check))


# Every scikit-learn estimator check but the array-API one: the ranker computes with numpy
# only and declares no array-API support, and that check runs only under SCIPY_ARRAY_API=1
# (it would show as a skip, which CI counts as a failure).
_CHECKS = [
    pytest.param(estimator, check, id=_check_name(check))
    for estimator, check in estimator_checks_generator(WeightedMeanRanker())
    if _check_name(check) != "check_array_api_input"
]


@pytest.mark.parametrize(("estimator", "check"), _CHECKS)
def test_sklearn_compatible(estimator: WeightedMeanRanker, check: object) -> None:
    check(estimator)  # type: ignore[operator]


def test_defaults_are_its_parameters_and_fit_learns_weights() -> None:
    r = WeightedMeanRanker()
    assert r.get_params() == {"weights": None, "criteria": None}
    assert r.weights_for(CRITERIA).tolist() == [DEFAULT_WEIGHTS[c] for c in CRITERIA]
    with pytest.raises(NotFittedError):
        r.predict(np.ones((1, len(CRITERIA))))
    rng = np.random.default_rng(0)
    u = rng.uniform(0, 1, (400, len(CRITERIA)))
    y = u @ np.array([0.5, 0.3, 0.2, 0, 0, 0, 0])
    fitted = clone(r).fit(u, y)
    assert fitted.weights_.sum() == pytest.approx(1.0)
    assert fitted.weights_.round(3).tolist() == [0.5, 0.3, 0.2, 0, 0, 0, 0]
    assert fitted.criteria_ == CRITERIA


def test_engine_scores_with_the_default_ranker_as_before(index: MatchIndex) -> None:
    n = need(communes=["94041"], max_station_distance_m=800)
    table = NeedTable.from_needs([n])
    plain = match(index, table, k=20, now=NOW)
    default = match(index, table, k=20, now=NOW, ranker=WeightedMeanRanker())
    assert [(i.listing_id, i.score) for i in plain.results] == [
        (i.listing_id, i.score) for i in default.results
    ]
    rows = np.array([index.position(i) for i in plain.ids])
    u = utility_matrix(index, table, 0, rows)
    # the ranker's predict gives the engine's scores, bit for bit
    w = WeightedMeanRanker(criteria=CRITERIA).fit(u, np.ones(len(rows)))
    w.weights_ = np.array([DEFAULT_WEIGHTS[c] for c in CRITERIA])
    assert w.predict(u).tolist() == [i.score for i in plain.results]


def test_a_fitted_ranker_changes_the_order(index: MatchIndex) -> None:
    n = need(communes=["94041"])
    table = NeedTable.from_needs([n])
    base = match(index, table, k=50, now=NOW, relax=False)
    rows = np.array([index.position(i) for i in base.ids])
    u = utility_matrix(index, table, 0, rows)
    # outcomes that only follow location: the fitted ranker puts location first
    only_location = WeightedMeanRanker(criteria=CRITERIA).fit(
        np.nan_to_num(u), np.nan_to_num(u[:, CRITERIA.index("location")])
    )
    assert only_location.weights_[CRITERIA.index("location")] == pytest.approx(1.0)
    ranked = match(index, table, k=50, now=NOW, relax=False, ranker=only_location)
    scores = [i.score for i in ranked.results]
    locs = [i.utilities["location"] for i in ranked.results]
    assert scores == pytest.approx([100 * x for x in locs])
    assert scores == sorted(scores, reverse=True)


def test_a_needs_own_weights_mix_with_a_fitted_rankers(index: MatchIndex) -> None:
    n = need(communes=["94041"], weights={"surface": 100})
    table = NeedTable.from_needs([n])
    base = match(index, table, k=30, now=NOW, relax=False)
    rows = np.array([index.position(i) for i in base.ids])
    u = utility_matrix(index, table, 0, rows)
    loc = CRITERIA.index("location")
    fitted = WeightedMeanRanker(criteria=CRITERIA).fit(np.nan_to_num(u), np.nan_to_num(u[:, loc]))
    ranked = match(index, table, k=30, now=NOW, relax=False, ranker=fitted)
    # location fitted to the whole scale (100), surface set to 100 by the need: half each
    for item in ranked.results:
        expected = 50 * item.utilities["surface"] + 50 * item.utilities["location"]
        assert item.score == pytest.approx(expected, abs=1e-6)
