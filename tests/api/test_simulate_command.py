"""``implanter model simulate`` gives, for a seed, what the first (per-event) version gave.

The simulation and its recording were rewritten for speed (arrays instead of loops per need
and per listing, bulk writes instead of one compare-and-set per event). This test keeps the
first version as the reference: :func:`_reference_simulate` is its simulation, copied as it
was, and :func:`_reference_record` its recording, through the per-event storage functions.
The command's outcome rows and audit trail must equal the reference's, on SQLite and on
PostGIS, up to the instants (the reference wrote each event at its own instant).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import sqlalchemy as sa

from api.matching import build_index
from geodata.schemas import NeedIn
from geodata.storage import Repository
from geodata.storage import outcomes as outcome_store
from geodata.storage._tables import ENTITY_OUTCOME, audit_log, outcomes
from geodata.territory import default_territory
from matcher.calibration import outcome_features
from matcher.engine import matchable_mask, rank
from matcher.index import MatchIndex
from matcher.needs import NeedTable
from matcher.scoring import weighted_score
from matcher.simulate import (
    _REASON,
    HIDDEN,
    HiddenPreferences,
    SimulatedOutcomes,
    _cat,
    _profile,
    hidden_weights,
    simulate_outcomes,
)
from matcher.weights import CRITERIA
from tests.conftest import BACKENDS, scratch_database

SEED = 5


def _reference_hidden_access(
    index: MatchIndex, need: NeedIn, rows: np.ndarray, prefs: HiddenPreferences
) -> np.ndarray:
    """The first version of the hidden access utility, as it was."""
    profile = _profile(need, prefs)
    points = [prefs.access_point[profile]] if profile is not None else list(prefs.reach_m)
    parts = []
    for point in points:
        d = index.cols[f"{point}_dist"][rows]
        u = np.clip(1.0 - d / (2.0 * prefs.reach_m[point]), 0.0, 1.0)
        parts.append(np.where(np.isnan(d), 0.5, u))
    return np.mean(parts, axis=0)


def _reference_simulate(
    index: MatchIndex,
    needs: list[NeedIn],
    *,
    seed: int = 0,
    shown: int = 20,
    temperature: float = 1.5,
    prefs: HiddenPreferences = HIDDEN,
) -> SimulatedOutcomes:
    """The first version of :func:`matcher.simulate.simulate_outcomes`, as it was."""
    rng = np.random.default_rng(seed)
    table = NeedTable.from_needs(list(needs), np.arange(len(needs)))
    base = matchable_mask(index)
    j_access = CRITERIA.index("access")
    pos_l: list[np.ndarray] = []
    pid_l: list[np.ndarray] = []
    rank_l: list[np.ndarray] = []
    score_l: list[np.ndarray] = []
    levels: list[str] = []
    events: list[tuple[int, int, str, str | None]] = []
    hidden_rows = []
    for i, need in enumerate(table.needs):
        if not getattr(need, "active", True):
            continue
        ranked = rank(index, table, i, k=shown, base=base)
        n = len(ranked.rows)
        if n < 2:
            continue
        ids = index.cols["id"][ranked.rows].astype(np.int64)
        U = ranked.utilities.copy()  # noqa: N806
        U[:, j_access] = _reference_hidden_access(index, need, ranked.rows, prefs)
        w = hidden_weights(need, prefs)
        hidden_rows.append(w)
        true = weighted_score(U, w, ~np.isnan(U))
        z = true / temperature + rng.gumbel(size=n)
        order = np.argsort(-z, kind="stable")
        n_open = min(n, 1 + int(rng.poisson(3)))
        n_contact = 0 if rng.uniform() < 0.15 else min(n_open, 1 + int(rng.binomial(2, 0.35)))
        level = ["shown"] * n
        pair_events: list[list[tuple[str, str | None]]] = [[("shown", None)] for _ in range(n)]
        for r in order[:n_open]:
            level[r] = "opened"
            pair_events[r].append(("opened", None))
        for r in order[:n_contact]:
            level[r] = "contacted"
            pair_events[r].append(("contacted", None))
        if n_contact and rng.uniform() < 0.6:
            top = order[0]
            level[top] = "visited"
            pair_events[top].append(("visited", None))
            if rng.uniform() < 0.4:
                level[top] = "signed"
                pair_events[top].append(("signed", None))
        for r in order[:n_open]:
            if level[r] in ("opened", "contacted") and rng.uniform() < 0.5:
                loss = np.where(np.isnan(U[r]), -1.0, w * (1.0 - np.nan_to_num(U[r])))
                worst = CRITERIA[int(np.argmax(loss))]
                if worst == "surface":
                    s = index.cols["surface_m2"][ranked.rows[r]]
                    reason = "too_small" if s < (need.surface_min_m2 or 0) else "too_big"
                else:
                    reason = _REASON[worst]
                if level[r] == "opened":
                    level[r] = "rejected"
                pair_events[r].append(("rejected", reason))
        for r in range(n):
            events.extend((i, int(ids[r]), e, reason) for e, reason in pair_events[r])
        pos_l.append(np.full(n, i))
        pid_l.append(ids)
        rank_l.append(np.arange(1, n + 1))
        score_l.append(ranked.scores)
        levels.extend(level)
    return SimulatedOutcomes(
        need_positions=_cat(pos_l, np.int64),
        premises_ids=_cat(pid_l, np.int64),
        ranks=_cat(rank_l, np.int64),
        scores=_cat(score_l, np.float64),
        levels=levels,
        events=events,
        hidden=np.array(hidden_rows) if hidden_rows else np.empty((0, len(CRITERIA))),
    )


def _reference_record(
    repo: Repository, sim: SimulatedOutcomes, ids: list[int], shown: SimulatedOutcomes
) -> None:
    """The first version of the command's recording: per need, then per event (with the
    utilities as shown, recorded since, taken from ``shown``)."""
    with repo.begin() as conn:
        for pos in sorted(set(sim.need_positions.tolist())):
            at = sim.need_positions == pos
            rows = zip(sim.premises_ids[at], sim.ranks[at], sim.scores[at], strict=True)
            outcome_store.record_shown(
                conn,
                ids[pos],
                [(int(p), int(r), float(s)) for p, r, s in rows],
                actor="simulation",
                utilities=shown.shown_utilities(at),
            )
        for pos, premises_id, event, reason in sim.events:
            if event != "shown":
                outcome_store.record_event(
                    conn, ids[pos], premises_id, event, reason=reason, actor="simulation"
                )


def _cli(url: str, *args: str) -> None:
    cmd = [sys.executable, "-m", "api.cli", *args, "--database-url", url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stderr


@pytest.fixture(params=BACKENDS)
def two_demos(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    """Two databases holding the same small demo catalogue."""
    if request.param == "sqlite":
        urls = [f"sqlite:///{tmp_path / name}" for name in ("a.db", "b.db")]
        for url in urls:
            _cli(url, "demo", "--premises", "150", "--needs", "40")
        yield urls[0], urls[1]
        return
    admin = request.getfixturevalue("pg_admin_url")
    with scratch_database(admin) as a, scratch_database(admin) as b:
        for url in (a, b):
            _cli(url, "demo", "--premises", "150", "--needs", "40")
        yield a, b


_INSTANT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?")


def _plain(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 9)
    return value


def _stored(url: str) -> tuple[list[dict[str, Any]], list[tuple[Any, ...]]]:
    """The outcome rows (without instants) and their audit trail (instants masked)."""
    repo = Repository(url)
    try:
        with repo.connect() as conn:
            rows = [
                {k: _plain(v) if not k.endswith("_at") else v is not None for k, v in row.items()}
                for row in conn.execute(sa.select(outcomes).order_by(outcomes.c.id)).mappings()
            ]
            trail = [
                (
                    r.entity_id,
                    r.action,
                    r.version,
                    r.actor,
                    json.loads(_INSTANT.sub("T", r.changes)),
                )
                for r in conn.execute(
                    sa.select(audit_log)
                    .where(audit_log.c.entity == ENTITY_OUTCOME)
                    .order_by(audit_log.c.entity_id, audit_log.c.version, audit_log.c.id)
                )
            ]
    finally:
        repo.dispose()
    return rows, trail


def test_the_simulation_is_the_first_versions_for_a_seed(two_demos: tuple[str, str]) -> None:
    command_url, reference_url = two_demos
    repo = Repository(reference_url)
    try:
        index = build_index(repo, default_territory())
        needs = repo.all_needs(active=None)
        reference = _reference_simulate(index, needs, seed=SEED)
        assert len(reference.events) > 100  # a case with every kind of event
        assert {e for _, _, e, _ in reference.events} == set(outcome_store.EVENTS)
        new = simulate_outcomes(index, needs, seed=SEED)
        for name in ("need_positions", "premises_ids", "ranks", "scores", "hidden"):
            np.testing.assert_array_equal(getattr(new, name), getattr(reference, name), name)
        assert new.levels == reference.levels
        assert new.events == reference.events
        # The utilities shown are the engine's for the pairs on the catalogue of the moment.
        features, kept = outcome_features(index, needs, new.need_positions, new.premises_ids)
        assert kept.all()
        np.testing.assert_allclose(new.utilities, features)
        _reference_record(repo, reference, [n.id for n in needs], new)
    finally:
        repo.dispose()
    _cli(command_url, "model", "simulate", "--seed", str(SEED))
    rows, trail = _stored(command_url)
    expected_rows, expected_trail = _stored(reference_url)
    assert len(rows) == len(reference.levels)
    assert rows == expected_rows
    assert trail == expected_trail


def test_a_second_simulation_updates_as_the_first_version_did(two_demos: tuple[str, str]) -> None:
    """Simulated again with another seed: the pairs already recorded are updated (one
    compare-and-set each) as the per-event recording updates them."""
    command_url, reference_url = two_demos
    repo = Repository(reference_url)
    try:
        index = build_index(repo, default_territory())
        needs = repo.all_needs(active=None)
        ids = [n.id for n in needs]
        for seed in (SEED, SEED + 1):
            sim = simulate_outcomes(index, needs, seed=seed)
            _reference_record(repo, sim, ids, sim)
    finally:
        repo.dispose()
    for seed in (SEED, SEED + 1):
        _cli(command_url, "model", "simulate", "--seed", str(seed))
    rows, trail = _stored(command_url)
    expected_rows, expected_trail = _stored(reference_url)
    assert max(r["version"] for r in rows) > 5  # pairs written by both simulations
    assert rows == expected_rows
    assert trail == expected_trail


def _scenario(repo: Repository, offset: int, batch: bool) -> None:
    """The same story for needs ``offset + 1`` and ``offset + 2``, through record_batch or
    through record_shown and record_event."""
    n1, n2 = offset + 1, offset + 2
    with repo.begin() as conn:
        # Recorded before the listings were shown (a contact, an opening).
        outcome_store.record_event(conn, n1, 11, "contacted", actor="app", only_new=True)
        outcome_store.record_event(conn, n1, 12, "opened", actor="app", only_new=True)
    utilities = {"surface": 0.5, "budget": 1.0}
    shown = [
        (n1, 11, 1, 90.0, utilities),
        (n1, 12, 2, 80.0, None),
        (n1, 13, 3, 70.5, utilities),
        (n2, 11, 1, 88.0, {"use": 0.25}),
    ]
    events: list[tuple[int, int, str, str | None]] = [
        (n1, 13, "opened", None),
        (n1, 13, "rejected", "too_dear"),
        (n2, 11, "contacted", None),
        (n2, 14, "visited", None),  # never shown
        (n1, 11, "signed", None),
        (n1, 12, "shown", None),  # shown again: a version, as record_event writes it
    ]
    with repo.begin() as conn:
        if batch:
            outcome_store.record_batch(conn, shown, events, actor="sim", model=7)
            return
        for need in (n1, n2):
            outcome_store.record_shown(
                conn,
                need,
                [(p, r, s) for n, p, r, s, _ in shown if n == need],
                actor="sim",
                model=7,
                utilities={p: u for n, p, _, _, u in shown if n == need and u is not None},
            )
        for need, premises_id, event, reason in events:
            outcome_store.record_event(conn, need, premises_id, event, reason=reason, actor="sim")


@pytest.mark.parametrize("repo", ["sqlite", "postgis"], indirect=True)
def test_record_batch_writes_what_each_event_in_turn_writes(repo: Repository) -> None:
    _scenario(repo, 0, batch=False)
    _scenario(repo, 100, batch=True)
    with repo.connect() as conn:
        stored = [dict(r) for r in conn.execute(sa.select(outcomes)).mappings()]
        trail = conn.execute(
            sa.select(audit_log.c.entity_id, audit_log.c.action, audit_log.c.version)
            .add_columns(audit_log.c.actor, audit_log.c.changes)
            .where(audit_log.c.entity == ENTITY_OUTCOME)
            .order_by(audit_log.c.entity_id, audit_log.c.version)
        ).all()
    pair_of = {r["id"]: (r["need_id"] % 100, r["premises_id"]) for r in stored}

    def side(batch: bool) -> tuple[dict[Any, Any], dict[Any, Any]]:
        mine = [r for r in stored if (r["need_id"] > 100) == batch]
        rows = {
            pair_of[r["id"]]: {
                k: (v is not None) if k.endswith("_at") else v
                for k, v in r.items()
                if k not in ("id", "need_id")
            }
            for r in mine
        }
        changes: dict[Any, list[Any]] = {}
        for entity_id, action, version, actor, text in trail:
            if entity_id in {r["id"] for r in mine}:
                body = json.loads(_INSTANT.sub("T", text))
                body.pop("id", None)
                body.pop("need_id", None)
                changes.setdefault(pair_of[entity_id], []).append((action, version, actor, body))
        return rows, changes

    assert side(batch=True) == side(batch=False)
    rows, _ = side(batch=True)
    assert rows[(1, 11)]["stage"] == "signed" and rows[(1, 11)]["shown_rank"] == 1
    assert json.loads(rows[(1, 11)]["shown_utilities"]) == {"surface": 0.5, "budget": 1.0}
    assert rows[(1, 12)]["shown_utilities"] is None and rows[(2, 14)]["shown_at"] is False
    with repo.begin() as conn, pytest.raises(ValueError, match="reason"):
        outcome_store.record_batch(conn, [], [(1, 11, "rejected", None)], actor="sim")
