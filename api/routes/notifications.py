"""Alerts for their recipients, webhooks for the accounts that want them, failures for the staff.

``GET /me/notifications`` lists the caller's notifications (a listing newly fits one of its
saved searches), newest first; ``POST /me/notifications/{id}/read`` marks one read.
``PUT /me/webhook`` sets where notifications are also posted, signed with a secret returned
that once; ``DELETE /me/webhook`` stops it. ``GET /staff/deliveries`` shows the staff the
deliveries that failed (or are pending, or delivered) and ``POST
/staff/deliveries/{id}/retry`` tries a given-up one again.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response
from pydantic import BaseModel, Field

from geodata.storage import outbox
from geodata.storage._common import now as utc_now
from geodata.storage.outbox import DeliveryState, Notification, Webhook

from ..auth import CurrentAccount, require_role
from ..delivery import private_address
from ..deps import MAX_INT32, RepoDep
from ..errors import request_language

__all__ = [
    "DeliveryOut",
    "NotificationOut",
    "NotificationPage",
    "StaffDelivery",
    "StaffDeliveryPage",
    "WebhookIn",
    "WebhookSet",
    "router",
]

router = APIRouter(tags=["alerts"])

_AUTH: dict[int | str, dict[str, Any]] = {
    401: {"description": "No or bad API key (WWW-Authenticate: Bearer)"}
}
_STAFF: dict[int | str, dict[str, Any]] = {
    **_AUTH,
    403: {"description": "Only staff accounts see the deliveries"},
}

NotificationIdPath = Annotated[int, Path(ge=1, le=MAX_INT32, description="The notification's id")]
Limit = Annotated[int, Query(ge=1, le=500, description="Items per page.")]
Offset = Annotated[int, Query(ge=0, le=MAX_INT32, description="Items skipped.")]


class DeliveryOut(BaseModel):
    """Where the webhook delivery of a notification stands."""

    state: DeliveryState = Field(
        description="none (no webhook when it was written), pending, delivered or failed "
        "(given up)."
    )
    attempts: int
    next_attempt_at: datetime | None
    delivered_at: datetime | None
    last_error: str | None
    gave_up_at: datetime | None


class NotificationOut(BaseModel):
    """A notification: what happened (``payload``), when, whether read and delivered."""

    id: int
    kind: str = Field(
        description="'match': a listing newly fits a saved need; 'stale_listing': one of the "
        "caller's listings has not been confirmed for flag_days (see payload.hidden_from)."
    )
    need_id: int | None
    premises_id: int | None
    premises_version: int | None
    score: float | None = Field(description="0-100")
    payload: dict[str, Any] = Field(
        description="For 'match': the need id, score, threshold, the listing's public view "
        "and a sentence in French and English. For 'stale_listing': the title, "
        "last_verified_at, age_days, hidden_from, the confirm route and the message."
    )
    created_at: datetime
    read_at: datetime | None
    delivery: DeliveryOut

    @classmethod
    def of(cls, item: Notification) -> NotificationOut:
        """The view of a stored notification."""
        return cls(
            **item.model_dump(
                include={
                    "id",
                    "kind",
                    "need_id",
                    "premises_id",
                    "premises_version",
                    "score",
                    "payload",
                    "created_at",
                    "read_at",
                }
            ),
            delivery=DeliveryOut(
                state=item.delivery,
                **item.model_dump(
                    include={
                        "attempts",
                        "next_attempt_at",
                        "delivered_at",
                        "last_error",
                        "gave_up_at",
                    }
                ),
            ),
        )


class NotificationPage(BaseModel):
    """One page of notifications, newest first."""

    items: list[NotificationOut]
    total: int
    limit: int
    offset: int


class StaffDelivery(NotificationOut):
    """A delivery as the staff see it: with the account it is for."""

    recipient: str


class StaffDeliveryPage(BaseModel):
    """One page of deliveries, newest first."""

    items: list[StaffDelivery]
    total: int
    limit: int
    offset: int


class WebhookIn(BaseModel):
    """Where to post the caller's notifications."""

    url: str = Field(
        max_length=2000,
        description="An http:// or https:// URL, without user:password nor fragment.",
        examples=["https://example.org/hooks/implanter"],
    )


class WebhookSet(Webhook):
    """The webhook just set, with its signing secret: shown this once, never again."""

    secret: str = Field(
        description="Verify X-Implanter-Signature with it (HMAC-SHA256); keep it secret."
    )


def _url_problem(url: str, *, allow_private: bool = False) -> tuple[str, str] | None:
    """Why a webhook URL is refused (French, English), or None when it is acceptable.

    Unless ``allow_private``, a host written as a loopback, private or link-local address
    (or ``localhost``) is refused here; a name resolving to one is refused when delivering.
    """
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        parts, port = None, None
    if parts is None or any(ch.isspace() or not ch.isprintable() for ch in url):
        return ("n'est pas une adresse valide", "is not a valid URL")
    if parts.scheme not in ("http", "https"):
        return (
            "doit commencer par http:// ou https://",
            "must start with http:// or https://",
        )
    if not parts.hostname:
        return ("ne nomme aucun hôte", "names no host")
    if parts.username is not None or parts.password is not None:
        return (
            "ne doit pas contenir d'identifiant ni de mot de passe ; la signature authentifie "
            "les envois",
            "must not carry a user name or password; the signature authenticates deliveries",
        )
    if parts.fragment:
        return ("ne doit pas contenir de fragment (#…)", "must not carry a fragment (#…)")
    if port == 0:
        return ("le port 0 n'est pas valide", "port 0 is not valid")
    host = parts.hostname.lower().rstrip(".")
    kind = "loopback" if host == "localhost" or host.endswith(".localhost") else None
    kind = kind or private_address(host)
    if kind is not None and not allow_private:
        fr_kind = {
            "loopback": "de bouclage (la machine elle-même)",
            "private": "privée",
            "link-local": "lien-local",
            "multicast": "multicast",
            "unspecified": "non spécifiée",
            "reserved": "réservée",
        }[kind]
        return (
            f"l'hôte {host} est une adresse {fr_kind}, pas une adresse publique d'internet ; "
            "donnez l'adresse publique de votre récepteur",
            f"the host {host} is a {kind} address, not a public internet address; give your "
            "receiver's public address",
        )
    return None


@router.get("/me/notifications", response_model=NotificationPage, responses=_AUTH)
def my_notifications(
    account: CurrentAccount,
    repo: RepoDep,
    unread: Annotated[bool, Query(description="Only those not marked read.")] = False,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """The caller's notifications, newest first."""
    with repo.connect() as conn:
        page = outbox.list_notifications(
            conn, account.name, unread=unread, limit=limit, offset=offset
        )
    return NotificationPage(
        items=[NotificationOut.of(n) for n in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/me/notifications/{notification_id}/read",
    response_model=NotificationOut,
    responses={**_AUTH, 404: {"description": "No such notification of the caller's"}},
)
def read_notification(
    notification_id: NotificationIdPath, account: CurrentAccount, repo: RepoDep
) -> Any:
    """Mark one of the caller's notifications read (another account's is a 404)."""
    with repo.begin() as conn:
        item = outbox.mark_read(conn, account.name, notification_id)
    return NotificationOut.of(item)


@router.get(
    "/me/webhook",
    response_model=Webhook,
    responses={**_AUTH, 404: {"description": "No webhook set"}},
)
def my_webhook(request: Request, account: CurrentAccount, repo: RepoDep) -> Any:
    """The caller's webhook (its URL; the secret was shown once, when it was set)."""
    with repo.connect() as conn:
        hook = outbox.get_webhook(conn, account.name)
    if hook is None:
        lang = request_language(request.headers, request.url.query)
        detail = (
            "webhook: none set; set one with PUT /me/webhook"
            if lang == "en"
            else "webhook : aucun n'est défini ; définissez-en un avec PUT /me/webhook"
        )
        raise HTTPException(status_code=404, detail=detail)
    return hook


@router.put("/me/webhook", response_model=WebhookSet, responses=_AUTH)
def set_my_webhook(
    body: WebhookIn, request: Request, account: CurrentAccount, repo: RepoDep
) -> Any:
    """Post the caller's notifications to a URL, signed with a new secret (returned once).

    Setting it again replaces the URL and the secret; pending deliveries go to the new one.
    """
    allow = request.app.state.settings.delivery.allow_private_networks
    reason = _url_problem(body.url, allow_private=allow)
    if reason is not None:
        lang = request_language(request.headers, request.url.query)
        fr, en = reason
        detail = f"url: {en}" if lang == "en" else f"url : {fr}"
        raise HTTPException(status_code=422, detail=detail)
    secret = "whsec_" + secrets.token_urlsafe(32)
    with repo.begin() as conn:
        hook = outbox.set_webhook(conn, account.name, body.url, secret)
    return WebhookSet(**hook.model_dump(), secret=secret)


@router.delete(
    "/me/webhook",
    status_code=204,
    response_class=Response,
    responses={**_AUTH, 404: {"description": "No webhook set"}},
)
def delete_my_webhook(request: Request, account: CurrentAccount, repo: RepoDep) -> Response:
    """Stop posting the caller's notifications (pending deliveries are cancelled)."""
    with repo.begin() as conn:
        deleted = outbox.delete_webhook(conn, account.name)
    if not deleted:
        lang = request_language(request.headers, request.url.query)
        detail = (
            "webhook: none set, nothing to delete"
            if lang == "en"
            else "webhook : aucun n'est défini, rien à supprimer"
        )
        raise HTTPException(status_code=404, detail=detail)
    return Response(status_code=204)


def _staff_only(account: Any) -> None:
    require_role(account, ("staff",), "deliveries: only staff accounts see the webhook deliveries")


def _staff_view(item: Notification) -> StaffDelivery:
    return StaffDelivery(**NotificationOut.of(item).model_dump(), recipient=item.recipient)


@router.get("/staff/deliveries", response_model=StaffDeliveryPage, responses=_STAFF)
def staff_deliveries(
    account: CurrentAccount,
    repo: RepoDep,
    state: Annotated[
        Literal["failed", "pending", "delivered", "all"],
        Query(description="failed (given up, the default), pending, delivered or all."),
    ] = "failed",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Webhook deliveries in a state, newest first, with their attempts and last error."""
    _staff_only(account)
    with repo.connect() as conn:
        page = outbox.list_deliveries(conn, state=state, limit=limit, offset=offset)
    return StaffDeliveryPage(
        items=[_staff_view(n) for n in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.post(
    "/staff/deliveries/{notification_id}/retry",
    response_model=StaffDelivery,
    responses={**_STAFF, 404: {"description": "No such notification"}},
)
def retry_delivery(
    notification_id: NotificationIdPath, account: CurrentAccount, repo: RepoDep
) -> Any:
    """Try a given-up delivery again now, with a fresh count of attempts (staff)."""
    _staff_only(account)
    with repo.begin() as conn:
        item = outbox.retry_delivery(conn, notification_id, now=utc_now())
    return _staff_view(item)
