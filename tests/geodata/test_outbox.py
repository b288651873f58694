"""The alerts outbox in storage: notifications, webhooks, claims, outcomes; on both backends."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from geodata.storage import NotFoundError, Repository, outbox
from geodata.storage._common import now as utc_now
from geodata.storage._tables import notifications
from geodata.storage.outbox import NewNotification


def _note(recipient: str, need_id: int = 1) -> NewNotification:
    return NewNotification(
        recipient=recipient,
        kind="match",
        need_id=need_id,
        premises_id=7,
        premises_version=1,
        score=81.5,
        payload={"need_id": need_id, "texte": "été"},
    )


def _lease(now: datetime, seconds: float = 60) -> object:
    return lambda attempt: now + timedelta(seconds=seconds * attempt)


def test_notifications_are_due_only_for_recipients_with_a_webhook(repo: Repository) -> None:
    with repo.begin() as conn:
        outbox.set_webhook(conn, "pme-a", "https://example.org/hook", "whsec_a")
        written = outbox.add_notifications(conn, [_note("pme-a"), _note("pme-b", 2)])
    assert [n.recipient for n in written] == ["pme-a", "pme-b"]
    assert written[0].delivery == "pending" and written[1].delivery == "none"
    with repo.connect() as conn:
        stored = outbox.get_notification(conn, written[0].id)
    assert stored == written[0]
    assert stored.payload == {"need_id": 1, "texte": "été"}


def test_an_account_lists_its_own_newest_first_and_marks_them_read(repo: Repository) -> None:
    with repo.begin() as conn:
        ids = [n.id for n in outbox.add_notifications(conn, [_note("pme-a", i) for i in (1, 2, 3)])]
        other = outbox.add_notifications(conn, [_note("pme-b")])[0]
    with repo.connect() as conn:
        page = outbox.list_notifications(conn, "pme-a", limit=2)
        rest = outbox.list_notifications(conn, "pme-a", limit=2, offset=2)
    assert page.total == 3 and [n.id for n in page.items] == ids[::-1][:2]
    assert [n.id for n in rest.items] == ids[:1]
    with repo.begin() as conn:
        read = outbox.mark_read(conn, "pme-a", ids[1])
        again = outbox.mark_read(conn, "pme-a", ids[1])
        with pytest.raises(NotFoundError):
            outbox.mark_read(conn, "pme-a", other.id)  # another account's: as if absent
    assert read.read_at is not None and again.read_at == read.read_at
    with repo.connect() as conn:
        unread = outbox.list_notifications(conn, "pme-a", unread=True)
        assert outbox.get_notification(conn, other.id).read_at is None
    assert [n.id for n in unread.items] == [ids[2], ids[0]]


def test_a_claim_leases_the_row_and_outcomes_are_recorded_once(repo: Repository) -> None:
    with repo.begin() as conn:
        outbox.set_webhook(conn, "pme-a", "https://example.org/hook", "whsec_a")
        item = outbox.add_notifications(conn, [_note("pme-a")])[0]
    now = utc_now()
    with repo.begin() as conn:
        claims = outbox.claim_due(conn, now=now, lease_until=_lease(now), max_attempts=3)
    assert [(c.notification.id, c.attempt, c.url, c.secret) for c in claims] == [
        (item.id, 1, "https://example.org/hook", "whsec_a")
    ]
    with repo.begin() as conn:
        # Leased: not due again before the lease ends, even for another deliverer.
        assert outbox.claim_due(conn, now=now, lease_until=_lease(now), max_attempts=3) == []
        later = now + timedelta(seconds=61)
        assert outbox.record_failure(
            conn, item.id, attempt=1, error="HTTP 500 from the webhook", at=now, retry_at=later
        )
        assert outbox.claim_due(conn, now=now, lease_until=_lease(now), max_attempts=3) == []
        second = outbox.claim_due(conn, now=later, lease_until=_lease(later), max_attempts=3)
        assert [c.attempt for c in second] == [2]
        # The outcome of a claim that is no longer the current one is ignored.
        assert not outbox.record_failure(
            conn, item.id, attempt=1, error="late", at=later, retry_at=later
        )
        assert outbox.record_delivered(conn, item.id, at=later)
        assert not outbox.record_delivered(conn, item.id, at=later)
        stored = outbox.get_notification(conn, item.id)
    assert stored.delivery == "delivered" and stored.attempts == 2
    assert stored.next_attempt_at is None and stored.last_error is None


def test_the_last_failed_attempt_gives_up_and_staff_can_retry(repo: Repository) -> None:
    with repo.begin() as conn:
        outbox.set_webhook(conn, "pme-a", "https://example.org/hook", "whsec_a")
        item = outbox.add_notifications(conn, [_note("pme-a")])[0]
    now = utc_now()
    with repo.begin() as conn:
        [claim] = outbox.claim_due(conn, now=now, lease_until=_lease(now), max_attempts=1)
        outbox.record_failure(
            conn, item.id, attempt=claim.attempt, error="timeout", at=now, retry_at=None
        )
    with repo.connect() as conn:
        failed = outbox.list_deliveries(conn, state="failed")
        assert outbox.list_deliveries(conn, state="pending").total == 0
    assert [(n.id, n.delivery, n.last_error) for n in failed.items] == [
        (item.id, "failed", "timeout")
    ]
    with repo.begin() as conn:
        retried = outbox.retry_delivery(conn, item.id, now=now)
    assert retried.delivery == "pending" and retried.attempts == 0


def test_a_deliverer_that_died_during_the_last_attempt_is_given_up(repo: Repository) -> None:
    with repo.begin() as conn:
        outbox.set_webhook(conn, "pme-a", "https://example.org/hook", "whsec_a")
        item = outbox.add_notifications(conn, [_note("pme-a")])[0]
    now = utc_now()
    with repo.begin() as conn:
        outbox.claim_due(conn, now=now, lease_until=_lease(now, 1), max_attempts=1)
    # Never recorded: the lease runs out, and one attempt was all there was.
    after = now + timedelta(seconds=2)
    with repo.begin() as conn:
        assert outbox.claim_due(conn, now=after, lease_until=_lease(after), max_attempts=1) == []
        stored = outbox.get_notification(conn, item.id)
    assert stored.delivery == "failed"
    assert "stopped during the attempt" in (stored.last_error or "")


def test_removing_the_webhook_cancels_pending_deliveries(repo: Repository) -> None:
    with repo.begin() as conn:
        outbox.set_webhook(conn, "pme-a", "https://example.org/hook", "whsec_a")
        item = outbox.add_notifications(conn, [_note("pme-a")])[0]
        assert outbox.delete_webhook(conn, "pme-a")
        assert not outbox.delete_webhook(conn, "pme-a")
        assert outbox.get_webhook(conn, "pme-a") is None
        stored = outbox.get_notification(conn, item.id)
    assert stored.delivery == "none" and stored.last_error == "webhook removed by its account"


def test_replacing_the_webhook_keeps_one_per_account(repo: Repository) -> None:
    with repo.begin() as conn:
        outbox.set_webhook(conn, "pme-a", "https://example.org/one", "whsec_1")
        outbox.set_webhook(conn, "pme-a", "https://example.org/two", "whsec_2")
        item = outbox.add_notifications(conn, [_note("pme-a")])[0]
    with repo.connect() as conn:
        hook = outbox.get_webhook(conn, "pme-a")
    assert hook is not None and hook.url == "https://example.org/two"
    now = utc_now()
    with repo.begin() as conn:
        [claim] = outbox.claim_due(conn, now=now, lease_until=_lease(now), max_attempts=3)
    assert (claim.notification.id, claim.secret) == (item.id, "whsec_2")


def test_two_deliverers_never_claim_the_same_notification(repo: Repository) -> None:
    with repo.begin() as conn:
        outbox.set_webhook(conn, "pme-a", "https://example.org/hook", "whsec_a")
        outbox.add_notifications(conn, [_note("pme-a", i) for i in range(10)])
    now = utc_now()

    def claim(conn: sa.Connection, limit: int) -> set[int]:
        got = outbox.claim_due(conn, now=now, lease_until=_lease(now), max_attempts=3, limit=limit)
        return {c.notification.id for c in got}

    postgres = repo.engine.dialect.name == "postgresql"
    with repo.begin() as first:
        a = claim(first, 3)
        if postgres:
            # The first claim is not committed yet: its rows are locked and skipped.
            with repo.begin() as second:
                b = claim(second, 10)
    if not postgres:
        # SQLite: one write transaction at a time; the second sees the first's lease.
        with repo.begin() as second:
            b = claim(second, 10)
    assert len(a) == 3 and len(b) == 7 and not a & b
    with repo.connect() as conn:
        attempts = conn.execute(sa.select(notifications.c.attempts)).scalars().all()
    assert sorted(attempts) == [1] * 10
