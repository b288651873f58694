"""The alerts of an import: the saved searches that listings written in bulk newly fit are
notified once each, in the import's transaction, exactly as writing the listings one by one
notifies them. Every test runs on SQLite and on PostGIS (the ``repo`` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest

from api.alerts import (
    REVERSE_STATES,
    AlertingCatalogue,
    ListingAlerts,
    TerritoryAccess,
    listing_columns,
    newly_fitting,
)
from api.settings import FreshnessSettings
from geodata.demo import demo_needs, demo_premises
from geodata.schemas import Premises, PremisesCreate
from geodata.storage import Repository, needs, outbox
from geodata.storage import premises as store
from geodata.storage.errors import StaleVersionError
from geodata.territory import default_territory
from matcher import NeedTable

RECIPIENTS = [f"pme-{i}" for i in range(10)]
#: The clock of the alerts: listings confirmed more than 90 days before are hidden.
NOW = datetime.now(UTC)


def _alerts() -> ListingAlerts:
    return ListingAlerts(TerritoryAccess.of(default_territory()), NOW, FreshnessSettings())


def _save_needs(repo: Repository, n: int = 120) -> None:
    territory = default_territory()
    items = [
        need.model_copy(update={"owner_account": RECIPIENTS[i % len(RECIPIENTS)]})
        for i, need in enumerate(demo_needs(7, n, territory=territory))
    ]
    with repo.begin() as conn:
        needs.add_many_needs(conn, items, actor="fixture")


def _notes(repo: Repository) -> list[tuple[int, int, float]]:
    """Every notification: (need id, listing id, score)."""
    with repo.connect() as conn:
        return [
            (int(n.need_id or 0), int(n.premises_id or 0), float(n.score or 0))
            for who in RECIPIENTS
            for n in outbox.list_notifications(conn, who, limit=10_000).items
        ]


def _catalogue() -> tuple[list[PremisesCreate], list[PremisesCreate]]:
    """A first catalogue, and a file re-importing it changed, plus new listings.

    In the file, a quarter of the listings is unchanged, a quarter bigger, a quarter changes
    status (available <-> let), a quarter is cheaper; the first catalogue has a fifth of its
    listings unconfirmed for 200 days (hidden), confirmed again by the import.
    """
    territory = default_territory()
    first = [
        p.model_copy(
            update={
                "external_ref": f"R{i}",
                "last_verified_at": NOW - timedelta(days=200 if i % 5 == 0 else 3),
            }
        )
        for i, p in enumerate(demo_premises(2018, 160, territory=territory))
    ]
    changed: list[PremisesCreate] = []
    for i, p in enumerate(first):
        update: dict[str, Any] = {"last_verified_at": None}
        if i % 4 == 0 and i % 5:
            update = {}
        elif i % 4 == 1:
            update["surface_m2"] = round(p.surface_m2 * 1.3)
        elif i % 4 == 2:
            update["status"] = "let" if p.status == "available" else "available"
        elif p.rent_eur_m2_year is not None:
            update["rent_eur_m2_year"] = round(p.rent_eur_m2_year * 0.8, 1)
        changed.append(PremisesCreate.model_validate(p.model_dump() | update))
    new = [
        p.model_copy(update={"external_ref": f"N{i}"})
        for i, p in enumerate(demo_premises(99, 60, territory=territory))
    ]
    return first, changed + new


def test_an_import_notifies_what_single_writes_of_its_listings_notify(repo: Repository) -> None:
    """The same (need, listing, score) triples, each once, whether the listings are written
    one by one (each scored against every need at once) or by one import (every need scored
    against all the listings at once)."""
    _save_needs(repo)
    first, file = _catalogue()
    repo.upsert_premises_by_ref(first, actor="fixture")  # before any alert: no notification
    assert _notes(repo) == []
    alerts = _alerts()
    at = NOW

    # One by one, as the API writes them, in a transaction rolled back afterwards.
    single: list[tuple[int, str, float]] = []
    with repo.begin() as conn:
        for item in file:
            before = store.premises_by_refs(conn, [str(item.external_ref)]).get(
                str(item.external_ref)
            )
            result = store.upsert_premises_by_ref(conn, [item], actor="one", verified_at=at)
            for written in [*result.created, *result.updated]:
                after = store.get_premises(conn, written)
                single += [
                    (int(n.need_id or 0), str(after.external_ref), float(n.score or 0))
                    for n in alerts.written(conn, before, after)
                ]
        conn.rollback()

    target = AlertingCatalogue(repo, alerts)
    result = target.upsert_premises_by_ref(file, actor="import", verified_at=at)
    assert len(result.created) + len(result.updated) > REVERSE_STATES  # scored need by need
    refs = {p.id: p.external_ref for p in store_refs(repo, file)}
    bulk = [(need, str(refs[listing]), score) for need, listing, score in _notes(repo)]

    assert target.notified == len(bulk)
    assert len(set(bulk)) == len(bulk)  # one notification per (need, listing)
    assert sorted(bulk) == sorted(single)
    notified = {ref for _, ref, _ in bulk}
    # New listings, edited ones and ones hidden before (confirmed by the import) all notify;
    # a listing left unchanged, or let, notifies no one.
    assert any(r.startswith("N") for r in notified)
    assert any(r.startswith("R") and int(r[1:]) % 5 for r in notified)
    assert any(r.startswith("R") and int(r[1:]) % 5 == 0 for r in notified)
    statuses = {i.external_ref: i.status for i in file}
    assert all(statuses[r] == "available" for r in notified)
    unchanged = {f"R{i}" for i in range(len(first)) if i % 4 == 0 and i % 5}
    assert not notified & unchanged


def store_refs(repo: Repository, items: list[PremisesCreate]) -> list[Any]:
    return list(repo.premises_by_refs([str(i.external_ref) for i in items]).values())


def test_an_import_that_changes_nothing_that_fits_notifies_no_one_again(repo: Repository) -> None:
    """Importing the listings again with a change that keeps them fitting writes no
    notification; a refused import (a listing changed meanwhile) writes none either, and
    the same import accepted later notifies."""
    _save_needs(repo, 60)
    first, _ = _catalogue()
    target = AlertingCatalogue(repo, _alerts())
    target.upsert_premises_by_ref(first, actor="import", verified_at=NOW)
    notified = len(_notes(repo))
    assert target.notified == notified > 0
    described = [p.model_copy(update={"description": "Repeint."}) for p in first]
    result = target.upsert_premises_by_ref(described, actor="import", verified_at=NOW)
    assert len(result.updated) == len(first)
    assert target.notified == 0 and len(_notes(repo)) == notified
    # Let, then available again: the second import would notify, but is refused.
    let = [p.model_copy(update={"status": "let"}) for p in described]
    target.upsert_premises_by_ref(let, actor="import", verified_at=NOW)
    assert target.notified == 0
    stale = {str(p.external_ref): 1 for p in described}
    with pytest.raises(StaleVersionError):
        target.upsert_premises_by_ref(
            described, actor="import", expected_versions=stale, verified_at=NOW
        )
    assert len(_notes(repo)) == notified
    target.upsert_premises_by_ref(described, actor="import", verified_at=NOW)
    assert target.notified > 0 and len(_notes(repo)) == notified + target.notified


def test_newly_fitting_leaves_out_hidden_and_unmatched_states() -> None:
    """On columns alone: a listing hidden for want of confirmation fits nothing (after as
    before the write), nor does a listing whose status is not matched."""
    territory = default_territory()
    table = NeedTable.from_needs(demo_needs(7, 40, territory=territory), list(range(40)))
    thresholds = np.full(len(table), 50.0)
    access = TerritoryAccess.of(territory)
    fresh = [
        Premises.model_validate(
            p.model_dump()
            | {"id": i + 1, "version": 1, "status": "available", "created_at": NOW}
            | {"updated_at": NOW, "last_verified_at": NOW}
        )
        for i, p in enumerate(demo_premises(2018, 40, territory=territory))
    ]
    old = [p.model_copy(update={"last_verified_at": NOW - timedelta(days=200)}) for p in fresh]
    let = [p.model_copy(update={"status": "let"}) for p in fresh]
    since = NOW - timedelta(days=90)

    def new(after: list[Premises], before: list[Premises] | None = None) -> int:
        return len(
            newly_fitting(
                access,
                listing_columns(after),
                None if before is None else listing_columns(before),
                table,
                thresholds,
                verified_since=since,
            )
        )

    assert new(fresh) > 0
    assert new(old) == 0 and new(let) == 0
    assert new(fresh, old) == new(fresh) == new(fresh, let)  # not fitting before: new again
    assert new(fresh, fresh) == 0  # fitting before as after: nothing new


def test_columns_of_listings_are_read_by_id_and_by_reference(repo: Repository) -> None:
    """The states an import is scored on: the listings it names, read in slices of one
    ``IN`` list each, in id order, whatever the order asked; unknown ones left out."""
    from geodata.storage import catalogue
    from geodata.storage._common import CHUNK

    territory = default_territory()
    items = [
        p.model_copy(update={"external_ref": f"C{i:04d}" if i else "C'0%s\\"})
        for i, p in enumerate(demo_premises(5, CHUNK + 40, territory=territory))
    ]
    stored = repo.add_many_premises(items, actor="fixture")
    ids = [p.id for p in stored]
    wanted = [*ids[::-1], 10**9]
    with repo.connect() as conn:
        by_id = catalogue.premises_columns(conn, ["surface_m2", "external_ref"], ids=wanted)
        refs = [str(p.external_ref) for p in items][::-1]  # quotes and all
        by_ref = catalogue.premises_columns(conn, ["surface_m2"], refs=[*refs, "NONE"])
        few = catalogue.premises_columns(conn, ["surface_m2"], ids=ids[3:1:-1])
        with pytest.raises(ValueError, match="ids, refs"):
            catalogue.premises_columns(conn, ["surface_m2"], ids=ids, refs=refs)
    assert by_id["id"].tolist() == by_ref["id"].tolist() == sorted(ids)
    assert by_id["external_ref"].tolist() == [
        p.external_ref for p in sorted(stored, key=lambda p: p.id)
    ]
    assert by_id["surface_m2"].tolist() == [
        p.surface_m2 for p in sorted(stored, key=lambda p: p.id)
    ]
    assert few["id"].tolist() == sorted(ids[2:4])


@pytest.mark.parametrize("repo", ["postgis"], indirect=True)
def test_an_import_waits_for_a_write_to_its_listings_and_does_not_notify_it_again(
    repo: Repository,
) -> None:
    """An edit of a listing commits while an import of the same listing runs (PostgreSQL,
    two connections): the import reads the listing as the edit left it, so the saved search
    the edit made it fit is notified once, by the edit, not a second time by the import.

    The import's read of the stored listings locks them: it waits for the edit's
    transaction, which the test commits only once the import is seen waiting for a lock.
    Before, the import read the listing as it was before the edit, waited later (at its
    own write), and notified the same need again.
    """
    import threading
    import time

    import sqlalchemy as sa

    from geodata.schemas import NeedIn

    territory = default_territory()
    listing = demo_premises(2018, 1, territory=territory)[0].model_copy(
        update={"external_ref": "COURSE-1", "status": "let", "last_verified_at": NOW}
    )
    need = NeedIn(
        company_name="Course",
        owner_account=RECIPIENTS[0],
        surface_min_m2=listing.surface_m2 * 0.9,
        surface_max_m2=listing.surface_m2 * 1.1,
        communes=[str(listing.commune_insee)],
        alert_threshold=50,
    )
    with repo.begin() as conn:
        needs.add_many_needs(conn, [need], actor="fixture")
    repo.upsert_premises_by_ref([listing], actor="fixture")
    alerts = _alerts()
    available = listing.model_copy(update={"status": "available"})

    edit = repo.engine.connect()
    edit_tx = edit.begin()
    before = store.premises_by_refs(edit, ["COURSE-1"])["COURSE-1"]
    written = store.upsert_premises_by_ref(edit, [available], actor="edit", verified_at=NOW)
    after = store.get_premises(edit, written.updated[0])
    assert len(alerts.written(edit, before, after)) == 1  # the edit's own notification
    edit_pid = edit.execute(sa.text("SELECT pg_backend_pid()")).scalar()

    target = AlertingCatalogue(repo, alerts)
    failures: list[BaseException] = []

    def run_import() -> None:
        try:
            described = available.model_copy(update={"description": "Rafraîchi."})
            target.upsert_premises_by_ref([described], actor="import", verified_at=NOW)
        except BaseException as exc:  # reported below
            failures.append(exc)

    importer = threading.Thread(target=run_import)
    importer.start()
    with repo.engine.connect() as watch:
        waiting = sa.text(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
            "AND :edit = ANY(pg_blocking_pids(pid))"
        )
        while not watch.execute(waiting, {"edit": edit_pid}).scalar():
            assert importer.is_alive(), failures
            watch.rollback()
            time.sleep(0.01)
    edit_tx.commit()
    edit.close()
    importer.join()
    assert failures == []
    assert target.notified == 0
    assert len(_notes(repo)) == 1
