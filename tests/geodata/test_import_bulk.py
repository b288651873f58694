"""The bulk import path gives what the row-by-row one gave: audit rows, places, all or nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import sqlalchemy as sa

from geodata.schemas import PremisesCreate
from geodata.storage import Repository, StorageError
from geodata.storage import premises as store
from geodata.storage._tables import audit_log
from tests.geodata.test_storage import (
    ORLY,
    PLACES,
    RUNGIS,
    VITRY,
    full_premises,
    make_premises,
)


def _created_audits(repo: Repository) -> dict[int, dict[str, Any]]:
    with repo.connect() as conn:
        rows = conn.execute(
            sa.select(audit_log.c.entity_id, audit_log.c.changes).where(
                audit_log.c.action == "create"
            )
        ).all()
    return {int(pid): json.loads(text) for pid, text in rows}


def test_created_audit_rows_are_the_stored_listings(repo: Repository) -> None:
    """The audit text of a created listing is the listing as stored, whatever its fields."""
    paris = timezone(timedelta(hours=2))
    items = [
        full_premises(),
        make_premises(VITRY, external_ref="V-1"),
        make_premises(ORLY, last_verified_at=datetime(2026, 5, 1, 11, 0, tzinfo=paris)),
        make_premises(RUNGIS, last_verified_at=datetime(2026, 5, 1, 9, 0)),  # naive: UTC
        make_premises(VITRY, last_verified_at=datetime(2026, 5, 1, 9, 0, tzinfo=UTC)),
        make_premises(ORLY, uses=["repair", "production", "repair"], photos=[]),
    ]
    result = repo.upsert_premises_by_ref(items, actor="t")
    audits = _created_audits(repo)
    assert sorted(audits) == sorted(result.created)
    for pid in result.created:
        stored = json.loads(repo.get_premises(pid).model_dump_json())
        assert audits[pid] == stored
    assert audits[result.created[2]]["last_verified_at"] == "2026-05-01T09:00:00Z"


def test_upsert_of_several_batches_keeps_order_counts_and_one_version(
    repo: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches are an implementation detail: ids in item order, one catalogue version."""
    monkeypatch.setattr(store, "BATCH", 3)
    repo.upsert_premises_by_ref([make_premises(RUNGIS, external_ref="K-1")], actor="t")
    version = repo.catalogue_version()
    items = [
        make_premises(PLACES[k % len(PLACES)], external_ref=f"K-{k}", surface_m2=100.0 + k)
        for k in range(1, 11)
    ]
    result = repo.upsert_premises_by_ref(items, actor="t")
    assert len(result.created) == 9 and len(result.updated) == 1
    assert result.created == sorted(result.created)
    assert repo.catalogue_version() == version + 1
    assert repo.counts()["premises"] == 10
    refs = [repo.get_premises(pid).external_ref for pid in result.created]
    assert refs == [f"K-{k}" for k in range(2, 11)]
    with repo.connect() as conn:
        versions = conn.execute(
            sa.select(audit_log.c.catalogue_version).where(audit_log.c.actor == "t")
        ).scalars()
        assert set(versions) == {version, version + 1}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"loading_docks": 2**40}, "loading_docks: .* too large"),  # refused before the SQL
        ({"lon": 500.0}, "the database refused the change"),  # refused by the database
    ],
)
def test_a_refused_row_late_in_a_large_upsert_writes_nothing(
    repo: Repository, monkeypatch: pytest.MonkeyPatch, bad: dict[str, Any], message: str
) -> None:
    """Row 1,500 of 2,000 cannot be stored: the batches before it are rolled back."""
    monkeypatch.setattr(store, "BATCH", 400)
    base = make_premises(RUNGIS).model_dump()
    items = [PremisesCreate.model_validate({**base, "external_ref": f"B-{k}"}) for k in range(2000)]
    items[1499] = PremisesCreate.model_construct(**{**items[1499].model_dump(), **bad})
    with pytest.raises(StorageError, match=message):
        repo.upsert_premises_by_ref(items, actor="t")
    assert repo.counts()["premises"] == 0
    assert repo.catalogue_version() == 0
    with repo.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_log)).scalar() == 0
