"""Deliver the alerts outbox to the accounts' webhooks: signed, retried, at least once.

Each notification due for delivery is claimed in a short transaction
(:func:`geodata.storage.outbox.claim_due`), posted outside any transaction, and its outcome
recorded in another. The body is the notification as JSON; it is signed with the account's
webhook secret::

    X-Implanter-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<unix time>." + body>
    X-Implanter-Delivery: <notification id>

A 2xx answer within ``timeout_seconds`` delivers it. Anything else (another status, a
timeout, a refused connection, a redirect, which is never followed) is retried with
exponential back-off until ``max_attempts`` (:class:`api.settings.DeliverySettings`), then
given up and listed for the staff. A deliverer that dies mid-delivery leaves its claim to
expire after the attempt's timeout and back-off; the notification is then claimed again.
So a receiver may get the same notification twice (at least once): it must treat
``X-Implanter-Delivery`` as an idempotency key.

Deliverers run in each app process (a background thread, ``delivery.in_app``) and as
``implanter worker``; any number may run at once.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from geodata.storage import Repository, outbox
from geodata.storage._common import now as utc_now
from geodata.storage._tables import notifications
from geodata.storage.outbox import Claim, Notification

from .settings import DeliverySettings

__all__ = [
    "DELIVERY_HEADER",
    "SIGNATURE_HEADER",
    "DeliveryError",
    "DeliveryReport",
    "DeliveryThread",
    "backoff",
    "deliver_due",
    "post_webhook",
    "private_address",
    "sign",
    "verify",
    "webhook_body",
]

logger = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Implanter-Signature"
DELIVERY_HEADER = "X-Implanter-Delivery"
#: A receiver should refuse a signature older than this (replays).
SIGNATURE_TOLERANCE_SECONDS = 300


class DeliveryError(Exception):
    """A webhook attempt failed; the message says how (status, timeout, refused…)."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Implanter-Signature`` value of a body sent at ``timestamp`` (unix seconds).

    Examples
    --------
    >>> sign("whsec_test", 1700000000, b'{"id":1}')[:13]
    't=1700000000,'
    >>> verify("whsec_test", sign("whsec_test", 1700000000, b'{"id":1}'), b'{"id":1}',
    ...        now=1700000010)
    True
    """
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    now: float | None = None,
    tolerance: float = SIGNATURE_TOLERANCE_SECONDS,
) -> bool:
    """Check an ``X-Implanter-Signature`` header against the exact body received.

    What a receiver does (the README shows the same in a few lines): recompute the HMAC of
    ``"<t>." + body`` with the secret, compare in constant time, refuse an old ``t``.
    """
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    now = time.time() if now is None else now
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


def webhook_body(item: Notification) -> bytes:
    """The JSON body posted for a notification (compact, keys sorted)."""
    doc = {
        "id": item.id,
        "kind": item.kind,
        "created_at": item.created_at.isoformat(),
        "need_id": item.need_id,
        "premises_id": item.premises_id,
        "premises_version": item.premises_version,
        "score": item.score,
        "data": item.payload,
    }
    return json.dumps(doc, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


def private_address(host: str) -> str | None:
    """Why ``host`` (an IP literal) is not a public internet address, or None when it is one
    or is not an IP literal (a name: it is checked once resolved, when connecting).

    Loopback, private (RFC 1918, ULA), link-local (cloud metadata services live there),
    multicast, reserved and unspecified addresses are refused unless
    ``allow_private_networks`` is set: a webhook must not make the server reach its own
    network (server-side request forgery).

    Examples
    --------
    >>> private_address("127.0.0.1"), private_address("[::1]")
    ('loopback', 'loopback')
    >>> private_address("169.254.169.254"), private_address("10.1.2.3")
    ('link-local', 'private')
    >>> private_address("::ffff:192.168.0.1"), private_address("93.184.215.14")
    ('private', None)
    >>> private_address("example.org") is None
    True
    """
    try:
        ip = ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind, test in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved or not ip.is_global),
    ):
        if test:
            return kind
    return None


def _guarded(create: Callable[..., socket.socket]) -> Callable[..., socket.socket]:
    """``socket.create_connection`` refusing a peer that is not a public address.

    The check is made on the address actually connected to, after name resolution, so a
    name that resolves (or is re-bound) to a private address is refused too.
    """

    def create_connection(*args: Any, **kwargs: Any) -> socket.socket:
        sock = create(*args, **kwargs)
        peer = sock.getpeername()[0]
        kind = private_address(peer)
        if kind is not None:
            sock.close()
            msg = (
                f"refused: the webhook's host resolves to {peer}, a {kind} address "
                "(set IMPLANTER_DELIVERY__ALLOW_PRIVATE_NETWORKS=true to allow it)"
            )
            raise DeliveryError(msg)
        return sock

    return create_connection


class _GuardedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded(socket.create_connection)


class _GuardedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._create_connection = _guarded(socket.create_connection)


class _GuardedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_GuardedHTTPConnection, req)


class _GuardedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: urllib.request.Request) -> Any:
        return self.do_open(_GuardedHTTPSConnection, req, context=self._context)  # type: ignore[attr-defined]


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow a redirect: a webhook answers where it was set, or fails."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)
_public_opener = urllib.request.build_opener(_NoRedirect, _GuardedHTTPHandler, _GuardedHTTPSHandler)


def post_webhook(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    allow_private: bool = False,
) -> int:
    """POST ``body`` to ``url``; return the 2xx status or raise :class:`DeliveryError`.

    Unless ``allow_private``, a host that is (or resolves to) a loopback, private,
    link-local or otherwise non-public address is refused before anything is sent.
    """
    request = urllib.request.Request(url, data=body, method="POST")
    for name, value in {
        "Content-Type": "application/json",
        "User-Agent": "Implanter-Webhook/1",
        **headers,
    }.items():
        request.add_header(name, value)
    opener = _opener if allow_private else _public_opener
    try:
        with opener.open(request, timeout=timeout) as response:
            status = int(response.status)
    except DeliveryError:
        raise
    except urllib.error.HTTPError as exc:
        msg = f"HTTP {exc.code} from the webhook"
        raise DeliveryError(msg) from exc
    except TimeoutError as exc:
        msg = f"no answer within {timeout:g} s"
        raise DeliveryError(msg) from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        msg = f"could not reach the webhook: {reason}"
        raise DeliveryError(msg) from exc
    if not 200 <= status < 300:
        msg = f"HTTP {status} from the webhook"
        raise DeliveryError(msg)
    return status


def backoff(attempt: int, settings: DeliverySettings) -> timedelta:
    """The wait after failed attempt number ``attempt`` (1, 2, …).

    Examples
    --------
    >>> s = DeliverySettings()
    >>> [backoff(n, s).total_seconds() for n in (1, 2, 3, 8, 20)]
    [30.0, 60.0, 120.0, 3600.0, 3600.0]
    """
    seconds = settings.backoff_base_seconds * 2.0 ** min(attempt - 1, 60)
    return timedelta(seconds=min(seconds, settings.backoff_max_seconds))


@dataclass
class DeliveryReport:
    """What one pass over the outbox did."""

    delivered: int = 0
    failed: int = 0
    gave_up: int = 0


def _anything_due(repo: Repository, now: datetime) -> bool:
    """One indexed read, so that an idle deliverer never takes SQLite's write lock."""
    with repo.connect() as conn:
        return (
            conn.execute(
                sa.select(notifications.c.id)
                .where(
                    notifications.c.next_attempt_at <= now,
                    notifications.c.delivered_at.is_(None),
                    notifications.c.gave_up_at.is_(None),
                )
                .limit(1)
            ).first()
            is not None
        )


def _claim_one(repo: Repository, settings: DeliverySettings, now: datetime) -> Claim | None:
    # The lease of attempt n: the attempt ends within its timeout; if its deliverer died,
    # the notification is due again after the back-off a failure would have given it.
    during = timedelta(seconds=settings.timeout_seconds + 1.0)
    with repo.begin() as conn:
        claims = outbox.claim_due(
            conn,
            now=now,
            lease_until=lambda n: now + during + backoff(n, settings),
            max_attempts=settings.max_attempts,
            limit=1,
        )
    return claims[0] if claims else None


def _attempt(
    repo: Repository, settings: DeliverySettings, claim: Claim, now: datetime | None
) -> str:
    """Post one claimed notification and record the outcome (at ``now``); return it."""
    item = claim.notification
    body = webhook_body(item)
    headers = {
        SIGNATURE_HEADER: sign(claim.secret, int(time.time()), body),
        DELIVERY_HEADER: str(item.id),
    }
    try:
        post_webhook(
            claim.url,
            body,
            headers,
            timeout=settings.timeout_seconds,
            allow_private=settings.allow_private_networks,
        )
    except DeliveryError as exc:
        at = now or utc_now()
        give_up = claim.attempt >= settings.max_attempts
        retry_at = None if give_up else at + backoff(claim.attempt, settings)
        with repo.begin() as conn:
            outbox.record_failure(
                conn, item.id, attempt=claim.attempt, error=str(exc), at=at, retry_at=retry_at
            )
        logger.warning(
            "webhook delivery of notification %d, attempt %d/%d failed: %s%s",
            item.id,
            claim.attempt,
            settings.max_attempts,
            exc,
            "; given up" if give_up else "",
        )
        return "gave_up" if give_up else "failed"
    with repo.begin() as conn:
        outbox.record_delivered(conn, item.id, at=now or utc_now())
    logger.info("webhook delivered: notification %d (attempt %d)", item.id, claim.attempt)
    return "delivered"


def deliver_due(
    repo: Repository, settings: DeliverySettings, *, now: datetime | None = None
) -> DeliveryReport:
    """Deliver the notifications due at ``now`` (default: the current time), one at a time.

    At most ``settings.batch_size`` attempts; safe to run from several processes at once.
    ``now`` moves the clock (tests of the back-off): claims, leases, outcomes and the next
    attempt are reckoned from it; the signature's timestamp is always the real time.
    """
    report = DeliveryReport()
    clock = now or utc_now()
    if not _anything_due(repo, clock):
        return report
    for _ in range(settings.batch_size):
        claim = _claim_one(repo, settings, now or utc_now())
        if claim is None:
            break
        outcome = _attempt(repo, settings, claim, now)
        setattr(report, outcome, getattr(report, outcome) + 1)
    return report


class DeliveryThread:
    """A background thread that delivers the outbox every ``poll_seconds`` until stopped.

    ``before_pass``, when given, runs before each pass (the freshness reminders of
    :class:`api.reminders.ReminderSchedule`, which write to the outbox).
    """

    def __init__(
        self,
        repo: Repository,
        settings: DeliverySettings,
        before_pass: Callable[[], object] | None = None,
    ) -> None:
        self.repo = repo
        self.settings = settings
        self.before_pass = before_pass
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self.run, name="implanter-delivery", daemon=True)

    def start(self) -> None:
        """Start delivering."""
        self._thread.start()

    def run(self) -> None:
        """Loop until :meth:`stop`; an unexpected error is logged and the loop goes on."""
        while not self._stop.is_set():
            try:
                if self.before_pass is not None:
                    self.before_pass()
                deliver_due(self.repo, self.settings)
            except Exception:
                logger.exception("webhook delivery pass failed; retrying after the pause")
            self._stop.wait(self.settings.poll_seconds)

    def stop(self, timeout: float | None = None) -> None:
        """Ask the loop to stop and wait for the attempt in progress (up to ``timeout``)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
