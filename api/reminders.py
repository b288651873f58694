"""Reminders to confirm a listing: the ``flag_days`` flag, written to the alerts outbox.

A listing on the market (available or under offer) whose owner has not confirmed it for
``flag_days`` gets one notification of kind ``stale_listing`` to that owner: in
``GET /me/notifications`` and, when the owner set a webhook, delivered to it like any alert.
One per unconfirmed stretch: a confirmation or an edit moves the listing's version, and the
next stretch gets its own reminder. ``GET /me/reminders`` still lists every flagged listing at
any time; the outbox is what tells an owner that does not poll.

Reminders are written by the deliverers (the app's background thread and
``implanter worker``) before a delivery pass, at most every ``remind_every_seconds``; the
check and the insert run in one write transaction serialised across processes, so two
deliverers never write the same reminder twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from geodata.freshness import age_days
from geodata.storage import Repository, outbox
from geodata.storage import _common as co
from geodata.storage.freshness import StaleListing, unreminded_stale
from geodata.storage.outbox import NewNotification

from .freshness import flag_before
from .settings import FreshnessSettings

__all__ = ["KIND", "ReminderSchedule", "enqueue_reminders", "reminder_notifications"]

#: The kind of the notifications written here.
KIND = "stale_listing"
#: The key that serialises reminder passes across processes (an advisory lock on PostgreSQL).
_LOCK_KEY = 0x1A9_5A1E


def reminder_notifications(
    stale: Sequence[StaleListing], now: datetime, settings: FreshnessSettings
) -> list[NewNotification]:
    """The notifications telling each owner which listing to confirm, and by when.

    The payload carries the title, the freshness date, its age in days, the first day the
    listing is hidden unless confirmed, the route that confirms it and a message in French
    and English.
    """
    items = []
    for item in stale:
        age = age_days(item.last_verified_at, now) or 0
        hidden_from = item.last_verified_at.astimezone(UTC).date() + timedelta(
            days=settings.hide_days + 1
        )
        confirm = f"/premises/{item.id}/confirm"
        items.append(
            NewNotification(
                recipient=item.owner,
                kind=KIND,
                premises_id=item.id,
                premises_version=item.version,
                payload={
                    "title": item.title,
                    "last_verified_at": item.last_verified_at.isoformat(),
                    "age_days": age,
                    "hidden_from": hidden_from.isoformat(),
                    "confirm": confirm,
                    "message": {
                        "fr": f"« {item.title} » n'a pas été confirmée depuis {age} jours : "
                        f"confirmez-la (POST {confirm}) ou modifiez-la avant le "
                        f"{hidden_from:%d/%m/%Y}, sinon elle quittera la recherche publique "
                        "et l'appariement ce jour-là.",
                        "en": f"'{item.title}' has not been confirmed for {age} days: confirm "
                        f"it (POST {confirm}) or edit it before {hidden_from.isoformat()}, or "
                        "it leaves the public search and matching on that day.",
                    },
                },
            )
        )
    return items


def enqueue_reminders(repo: Repository, settings: FreshnessSettings, *, now: datetime) -> int:
    """Write the reminders due at ``now`` that are not written yet; return how many."""
    with repo.begin() as conn:
        co.hooks_of(conn).serialise(conn, _LOCK_KEY)
        stale = unreminded_stale(conn, before=flag_before(now, settings), kind=KIND)
        written = outbox.add_notifications(
            conn, reminder_notifications(stale, now, settings), at=now
        )
    return len(written)


class ReminderSchedule:
    """Run :func:`enqueue_reminders` when called, at most every ``remind_every_seconds``.

    Parameters
    ----------
    repo
        The catalogue.
    settings
        The thresholds and the pace.
    clock
        What "now" is (the app's clock); the pace is counted on the same clock.
    """

    def __init__(
        self,
        repo: Repository,
        settings: FreshnessSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.repo = repo
        self.settings = settings
        self.clock = clock
        self._last: datetime | None = None

    def __call__(self) -> int:
        """Write the due reminders if the last pass is old enough; return how many."""
        now = self.clock()
        pace = timedelta(seconds=self.settings.remind_every_seconds)
        if self._last is not None and now - self._last < pace:
            return 0
        self._last = now
        return enqueue_reminders(self.repo, self.settings, now=now)
