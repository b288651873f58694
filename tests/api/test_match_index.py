"""One match index per process: immutable snapshots, refreshed from the catalogue's changes."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import pytest

from api.index_state import IndexHolder
from api.matching import build_index
from geodata.schemas import NeedIn
from geodata.storage import Repository
from geodata.territory import Territory, load_territory
from matcher import match
from tests.api.test_matching import _records, _same
from tests.geodata.test_storage import IVRY, ORLY, RUNGIS, THIAIS, VITRY, make_premises


@pytest.fixture(scope="module")
def territory() -> Territory:
    return load_territory("gosb")


def test_a_refresh_from_the_changes_equals_a_rebuild_and_leaves_the_old_snapshot_alone(
    repo: Repository, territory: Territory
) -> None:
    kept, moved, let, gone = repo.add_many_premises(
        [
            make_premises(RUNGIS, uses=["logistics"], surface_m2=900.0),
            make_premises(VITRY, surface_m2=1200.0),
            make_premises(ORLY, surface_m2=700.0),
            make_premises(THIAIS, surface_m2=300.0),
        ],
        actor="t",
    )
    holder = IndexHolder(repo, territory)
    old = holder.current()
    old_records = _records(old)
    old_columns = {name: array.copy() for name, array in old.cols.items()}

    repo.patch_premises(moved.id, {"lon": 2.385, "lat": 48.815}, expected_version=1, actor="t")
    repo.set_status(let.id, "let", expected_version=1, actor="t")
    repo.delete_premises(gone.id, expected_version=1, actor="t")
    [added] = repo.add_many_premises([make_premises(IVRY, uses=["craft"])], actor="t")

    new = holder.current()
    assert new is not old
    assert (holder.refreshes, holder.rebuilds) == (1, 0)
    assert new.version == repo.catalogue_version() > old.version
    rebuilt = build_index(repo, territory)
    updated, fresh = _records(new), _records(rebuilt)
    assert sorted(updated) == sorted(fresh) == sorted([kept.id, moved.id, let.id, added.id])
    for listing_id, record in fresh.items():
        assert _same(updated[listing_id], record), listing_id

    # Copy-on-write: the snapshot a request was holding did not move.
    assert old.version < new.version
    assert _records(old).keys() == old_records.keys()
    for name, array in old_columns.items():
        assert old.cols[name].tolist() == array.tolist() or (
            array.dtype.kind == "f" and np.array_equal(old.cols[name], array, equal_nan=True)
        ), name

    # Nothing moved: the same snapshot, no refresh.
    assert holder.current() is new
    assert holder.refreshes == 1


def test_a_large_change_rebuilds_and_a_restored_database_too(
    repo: Repository, territory: Territory
) -> None:
    holder = IndexHolder(repo, territory)
    holder.max_changes = 2
    repo.add_many_premises([make_premises(RUNGIS), make_premises(VITRY)], actor="t")
    holder.current()
    assert (holder.refreshes, holder.rebuilds) == (1, 0)
    repo.add_many_premises([make_premises(ORLY), make_premises(IVRY), make_premises()], actor="t")
    assert len(holder.current()) == 5
    assert holder.rebuilds == 1
    # An index ahead of the database (a restore) is rebuilt, not patched.
    ahead = build_index(repo, territory)
    ahead.version += 10
    holder = IndexHolder(repo, territory, ahead)
    assert holder.refresh().version == repo.catalogue_version()
    assert holder.rebuilds == 1


NEED = NeedIn.model_validate(
    {
        "company_name": "Test",
        "surface_min_m2": 100,
        "surface_max_m2": 5000,
        "communes": ["94065"],
        "required": ["surface", "location"],
    }
)


def test_concurrent_matches_while_listings_change_each_see_one_version(
    repo: Repository, territory: Territory
) -> None:
    """Every result is the exact answer at the catalogue version it reports."""
    base = repo.add_many_premises([make_premises(RUNGIS) for _ in range(3)], actor="t")
    base += repo.add_many_premises([make_premises(VITRY) for _ in range(3)], actor="t")
    holder = IndexHolder(repo, territory)
    in_rungis = {p.id for p in base if p.commune_insee == "94065"}
    expected: dict[int, set[int]] = {repo.catalogue_version(): set(in_rungis)}
    seen: list[tuple[int, list[int], int]] = []
    errors: list[BaseException] = []
    done = threading.Event()

    def write() -> None:
        try:
            current = set(in_rungis)
            added: list[Any] = []
            for step in range(30):
                if step % 3 == 2:  # every third write takes the oldest addition away
                    gone = added.pop(0)
                    repo.delete_premises(gone.id, expected_version=1, actor="t")
                    current.discard(gone.id)
                else:
                    place = RUNGIS if step % 2 else VITRY  # only Rungis ones match
                    [item] = repo.add_many_premises([make_premises(place)], actor="t")
                    added.append(item)
                    if place is RUNGIS:
                        current.add(item.id)
                expected[repo.catalogue_version()] = set(current)
        except BaseException as exc:
            errors.append(exc)
        finally:
            done.set()

    def read() -> None:
        try:
            while not done.is_set():
                index = holder.current()
                result = match(index, NEED, k=100, explain=False, relax=False)
                seen.append((result.index_version, result.ids, result.diagnostics.n_matching))
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(6)]
    writer = threading.Thread(target=write)
    for t in [*readers, writer]:
        t.start()
    for t in [writer, *readers]:
        t.join(timeout=120)
    assert not errors, errors
    versions = {v for v, _, _ in seen}
    assert len(versions) > 3, "the readers saw too few versions to test anything"
    for version, ids, n_matching in seen:
        assert set(ids) == expected[version], version
        assert n_matching == len(ids)
    assert holder.rebuilds == 0
    assert holder.refreshes >= len(versions) - 1
