"""Calibration learns criterion weights from outcomes and beats the defaults on held-out needs."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sklearn.utils.estimator_checks import estimator_checks_generator

from api.matching import build_index
from geodata.demo import load_demo
from geodata.storage import dispose_engine, open_repository
from geodata.territory import load_territory
from matcher import match
from matcher.calibration import (
    PairwiseRanker,
    evaluate,
    gains_of,
    mrr_per_group,
    ndcg_per_group,
    outcome_features,
)
from matcher.simulate import simulate_outcomes
from matcher.weights import CRITERIA, DEFAULT_WEIGHTS


def _check_name(check: object) -> str:
    return str(getattr(getattr(check, "func", check), "__name__", check))


_CHECKS = [
    pytest.param(estimator, check, id=_check_name(check))
    for estimator, check in estimator_checks_generator(PairwiseRanker(random_state=0))
    if _check_name(check) != "check_array_api_input"
]


@pytest.mark.parametrize(("estimator", "check"), _CHECKS)
def test_sklearn_compatible(estimator: PairwiseRanker, check: object) -> None:
    check(estimator)  # type: ignore[operator]


# -- pure pieces ----------------------------------------------------------------------------


def test_metrics_on_hand_made_rankings() -> None:
    gains = np.array([0.0, 1.0, 0.0, 3.0, 0.0])
    groups = np.array([0, 0, 0, 1, 1])
    best_first = np.array([0.1, 0.9, 0.2, 0.8, 0.3])
    worst_first = np.array([0.9, 0.1, 0.2, 0.3, 0.8])
    assert mrr_per_group(gains, best_first, groups).tolist() == [1.0, 1.0]
    assert mrr_per_group(gains, worst_first, groups).tolist() == [1 / 3, 1 / 2]
    assert ndcg_per_group(gains, best_first, groups).tolist() == [1.0, 1.0]
    assert ndcg_per_group(gains, worst_first, groups).max() < 1.0
    # A tie with a negative costs half a place; a need without a positive is not scored.
    assert mrr_per_group(gains[:3], np.array([0.5, 0.5, 0.1]), groups[:3]).tolist() == [2 / 3]
    assert len(mrr_per_group(np.zeros(3), best_first[:3], groups[:3])) == 0


def test_pairwise_ranker_recovers_planted_weights() -> None:
    rng = np.random.default_rng(3)
    true = np.array([10.0, 40.0, 5.0, 25.0, 20.0, 0.0, 0.0])
    n_needs, per = 400, 15
    X = rng.uniform(size=(n_needs * per, len(CRITERIA)))  # noqa: N806
    groups = np.repeat(np.arange(n_needs), per)
    z = X @ true / 5.0 + rng.gumbel(size=len(X))
    gains = np.zeros(len(X))
    for g in range(n_needs):
        at = np.flatnonzero(groups == g)
        gains[at[np.argmax(z[at])]] = 1.0
    r = PairwiseRanker(random_state=0).fit(X, gains, groups=groups)
    learned = r.weights_ * 100
    assert np.abs(learned - true).max() < 6.0
    assert r.n_pairs_ == n_needs * (per - 1)
    assert r.weight_map()["use"] == pytest.approx(learned[1])
    # Pairs never cross needs: a need's constant shift of every utility changes nothing.
    shifted = X + groups[:, None] % 3
    again = PairwiseRanker(random_state=0).fit(shifted, gains, groups=groups)
    assert np.allclose(again.weights_, r.weights_)


def test_groups_must_align_and_be_enough() -> None:
    X = np.ones((4, 2))  # noqa: N806
    with pytest.raises(ValueError, match="groups: 3 values for 4 rows"):
        PairwiseRanker().fit(X, [1, 0, 1, 0], groups=[0, 0, 1])
    with pytest.raises(ValueError, match="groups: 2 needs for 5 folds"):
        evaluate(X, [1, 0, 1, 0], [0, 0, 1, 1], criteria=["surface", "use"])


# -- on the demo catalogue, with simulated outcomes -----------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, list[Any]]]:
    """A demo catalogue of 1,500 listings and 1,500 needs in a SQLite file, and its index."""
    path: Path = tmp_path_factory.mktemp("calibration") / "demo.db"
    url = f"sqlite:///{path}"
    territory = load_territory("gosb")
    repo = open_repository(url, migrate=True)
    load_demo(repo, territory=territory, n_premises=1500, n_needs=1500, seed=2018)
    index = build_index(repo, territory)
    needs = repo.all_needs(active=None)
    repo.dispose()
    yield index, needs
    dispose_engine(url)


@pytest.fixture(scope="module")
def simulated(demo: tuple[Any, list[Any]]) -> Any:
    index, needs = demo
    return simulate_outcomes(index, needs, seed=11)


def test_simulation_is_deterministic_and_shows_the_default_ranking(
    demo: tuple[Any, list[Any]], simulated: Any
) -> None:
    index, needs = demo
    again = simulate_outcomes(index, needs, seed=11)
    assert again.events == simulated.events
    other = simulate_outcomes(index, needs, seed=12)
    assert other.events != simulated.events
    # What a need is shown is its default ranking.
    first = int(simulated.need_positions[0])
    shown = simulated.premises_ids[simulated.need_positions == first].tolist()
    assert shown == match(index, needs[first], k=len(shown), relax=False, explain=False).ids
    levels = set(simulated.levels)
    assert {"shown", "opened", "contacted", "visited", "signed", "rejected"} <= levels
    reasons = {r for *_, e, r in simulated.events if e == "rejected"}
    assert reasons and None not in reasons


def test_calibration_moves_toward_the_hidden_weights_and_beats_the_defaults(
    demo: tuple[Any, list[Any]], simulated: Any
) -> None:
    index, needs = demo
    X, kept = outcome_features(index, needs, simulated.need_positions, simulated.premises_ids)  # noqa: N806
    assert kept.all()
    report = evaluate(X, gains_of(simulated.levels), simulated.need_positions, n_boot=1000)
    learned, hidden = report.weights, simulated.hidden_mean

    def l1(w: dict[str, float]) -> float:
        return sum(abs(w[c] - hidden[c]) for c in CRITERIA)

    assert l1(learned) < 0.6 * l1(DEFAULT_WEIGHTS)
    assert learned["access"] > 2 * DEFAULT_WEIGHTS["access"]
    assert learned["technical"] < DEFAULT_WEIGHTS["technical"] / 2
    assert learned["budget"] > DEFAULT_WEIGHTS["budget"]
    assert learned["surface"] < DEFAULT_WEIGHTS["surface"]
    # On held-out needs, the whole 95 % interval of the gain is above zero.
    for metric in ("ndcg@10", "mrr"):
        diff = report.metrics[metric]["difference"]
        assert diff.low > 0, (metric, str(diff))
        assert report.metrics[metric]["learned"].mean > report.metrics[metric]["default"].mean
    assert report.n_evaluated > 500
    # The fitted ranker is one the engine ranks with.
    need = needs[int(simulated.need_positions[0])]
    ranked = match(index, need, k=5, ranker=report.ranker, relax=False, explain=False)
    assert ranked.results
