"""Photos of listings: upload, describe, re-order and delete them (owner and staff), serve them.

A photo's content must be a JPEG, PNG or WebP image (told by its bytes, never its name),
within the ``uploads.photo_*`` settings; it is stored re-encoded as a JPEG without any
metadata (no GPS position, no camera owner: :mod:`geodata.photos`). Every change is an edit
of the listing (:mod:`geodata.storage.photos`): version + 1, audited, visible in
``GET /premises/{id}/history``, and answered with the listing's new ``ETag``. ``If-Match`` is
optional on these routes: when sent it must name the listing's current version (412
otherwise); without it the change applies to the current version (adding or removing a photo
does not overwrite anyone's edit of the listing's fields). An edit by the owner or the staff
confirms the listing, as ``PATCH /premises/{id}`` does.

The image (``GET /premises/{id}/photos/{photo_id}``) is served to whoever may see the listing
in the catalogue: anyone while it is public, only its owner and the staff once it is
withdrawn or hidden for want of confirmation (others get a 404).

The developer's listing form (``/mes-annonces/{id}/modifier``) adds and deletes photos through
the page routes at the end of this module, with the session's CSRF token.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, File, Form, Path, Request, Response, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.engine import Connection

from geodata.photos import ACCEPTED_TYPES, PhotoError, PhotoLimits, prepare_photo
from geodata.schemas import PhotoIn, PhotoRef, PhotoUpdate, Premises, Status
from geodata.storage import Repository
from geodata.storage import photos as store
from geodata.storage import premises as listings
from geodata.storage._tables import ENTITY_PREMISES
from geodata.storage.accounts import Account
from geodata.storage.errors import StaleVersionError
from geodata.storage.photos import PhotoCountError, PhotoInfo
from geodata.territory import Territory

from ..alerts import ListingAlerts
from ..auth import OPTIONAL_AUTH, CurrentAccount, OptionalAccount, can_edit
from ..deps import (
    MAX_INT32,
    ListingAlertsDep,
    NowDep,
    PremisesIdPath,
    RepoDep,
    SettingsDep,
    TerritoryDep,
)
from ..errors import ProblemError, Text
from ..freshness import hide_before
from ..pages import Lang, url_with_lang
from ..settings import Settings
from .pages_dev_forms import form_values, validation_errors
from .pages_listings import FORM_RESPONSES, _form_page, _gate, _not_found, _owned
from .premises import _AUTH, _WRITE, IfMatch, _check_editor, _expected_version

__all__ = [
    "PhotoChange",
    "large_bodies",
    "photo_limits",
    "photos_visible",
    "router",
]

router = APIRouter(tags=["photos"])
T = TypeVar("T")

PhotoIdPath = Annotated[int, Path(ge=1, le=MAX_INT32, description="The photo's id")]

#: The API's upload route and the listing form's, whose bodies may hold a photo.
API_PATH = "/premises/{premises_id}/photos"
PAGE_PATH = "/mes-annonces/{premises_id}/photos"
#: Room for the multipart envelope and the description around a photo.
_MULTIPART_SLACK = 64 * 1024


def photo_limits(settings: Settings) -> PhotoLimits:
    """The bounds of an uploaded photo, from the ``uploads`` settings."""
    up = settings.uploads
    return PhotoLimits(
        max_bytes=up.photo_max_bytes,
        max_pixels=up.photo_max_pixels,
        max_side=up.photo_max_side,
        per_listing=up.photos_per_listing,
    )


def large_bodies(settings: Settings) -> dict[str, int]:
    """The upload paths (templates) and their body limit, for
    :class:`api.middleware.HardeningMiddleware`."""
    limit = settings.uploads.photo_max_bytes + _MULTIPART_SLACK
    return {API_PATH: limit, PAGE_PATH: limit}


def photos_visible(
    account: Account | None, item: Premises, now: dt.datetime, settings: Settings
) -> bool:
    """Whether ``account`` may see the listing's photos: its owner and the staff always,
    everyone else while the listing is in the public catalogue (neither withdrawn nor
    hidden for want of confirmation)."""
    if can_edit(account, item.owner_account):
        return True
    if item.status == Status.withdrawn:
        return False
    verified = item.last_verified_at
    return verified is None or verified >= hide_before(now, settings.freshness)


class PhotoChange(BaseModel):
    """The answer to a photo change: the photo (none after a deletion), the listing's new
    version (also its ``ETag``) and its photos as the listing now lists them."""

    photo: PhotoInfo | None = None
    premises_version: int = Field(description="The listing's new version (its ETag).")
    gallery: list[PhotoRef]


_PHOTO_404 = {"description": "No such listing or photo"}
_PHOTO_WRITE: dict[int | str, dict[str, Any]] = {
    **_WRITE,
    404: _PHOTO_404,
    409: {"description": "The listing already has the most photos allowed"},
    413: {"description": "The request is larger than the photo limit (uploads.photo_max_bytes)"},
}


def _answer(response: Response, photo: PhotoInfo | None, listing: Premises) -> dict[str, Any]:
    response.headers["ETag"] = f'"{listing.version}"'
    body = PhotoChange(photo=photo, premises_version=listing.version, gallery=listing.gallery)
    return jsonable_encoder(body)


def _expected(if_match: str | None) -> int | None:
    return None if if_match is None or not if_match.strip() else _expected_version(if_match)


def _editable(repo: Repository, account: Account, premises_id: int) -> Premises:
    """The listing, if ``account`` may edit it (404 when absent, 403 otherwise)."""
    with repo.connect() as conn:
        item = listings.get_premises(conn, premises_id)
    _check_editor(account, item)
    return item


def _too_many(exc: PhotoCountError) -> ProblemError:
    return ProblemError(
        409,
        Text(
            f"file : l'annonce {exc.premises_id} a déjà {exc.limit} photos, le maximum ; "
            "supprimez-en une avant d'en ajouter une autre.",
            str(exc),
        ),
    )


def _read_upload(upload: UploadFile, limits: PhotoLimits) -> bytes:
    """The upload's bytes, one more than the limit at most (enough to refuse it)."""
    upload.file.seek(0)
    return upload.file.read(limits.max_bytes + 1)


def _add(
    repo: Repository,
    account: Account,
    alerts: ListingAlerts,
    now: dt.datetime,
    settings: Settings,
    premises_id: int,
    upload: UploadFile,
    text: PhotoIn,
    expected: int | None,
) -> tuple[PhotoInfo, Premises]:
    """Check the editor, then the image, then store it, in the listing's transaction."""
    item = _editable(repo, account, premises_id)
    if expected is not None and item.version != expected:  # before decoding the image
        raise StaleVersionError(ENTITY_PREMISES, premises_id, expected, item.version)
    limits = photo_limits(settings)
    prepared = prepare_photo(_read_upload(upload, limits), limits, name=upload.filename or "")
    return _edit(
        repo,
        account,
        alerts,
        premises_id,
        lambda conn: store.add_photo(
            conn,
            premises_id,
            prepared,
            alt=text.alt,
            alt_en=text.alt_en,
            position=text.position,
            actor=account.name,
            expected_version=expected,
            verified_at=now,
            max_photos=limits.per_listing,
        ),
    )


def _edit(
    repo: Repository,
    account: Account,
    alerts: ListingAlerts,
    premises_id: int,
    write: Callable[[Connection], tuple[T, Premises]],
) -> tuple[T, Premises]:
    """A photo edit as a listing edit: in one transaction, the editor checked on the listing
    as it is, the write, and the alerts of the listing as written (a photo edit confirms the
    listing: one hidden for want of confirmation comes back)."""
    with repo.begin() as conn:
        current = listings.get_premises(conn, premises_id)
        _check_editor(account, current)
        result, listing = write(conn)
        alerts.written(conn, current, listing)
    return result, listing


@router.post(
    API_PATH,
    status_code=201,
    response_model=PhotoChange,
    responses={
        **_PHOTO_WRITE,
        422: {
            "description": "The file is not a JPEG, PNG or WebP image by its content, is "
            "too large (bytes or pixels), truncated or damaged, or the description is "
            "missing: problem+json naming `file` or `alt`"
        },
    },
)
def add_photo(
    premises_id: PremisesIdPath,
    repo: RepoDep,
    settings: SettingsDep,
    account: CurrentAccount,
    alerts: ListingAlertsDep,
    now: NowDep,
    response: Response,
    file: Annotated[
        UploadFile, File(description=f"The photo: {', '.join(ACCEPTED_TYPES)} (by content)")
    ],
    alt: Annotated[
        str, Form(max_length=1000, description="What the photo shows, in French (required).")
    ],
    alt_en: Annotated[
        str | None, Form(max_length=1000, description="The same in English (optional).")
    ] = None,
    position: Annotated[
        int | None, Form(ge=0, le=1000, description="Its place, from 0 (default: last).")
    ] = None,
    if_match: IfMatch = None,
) -> Any:
    """Add a photo to a listing (its owner and the staff), stored without its metadata.

    The answer carries the photo (its ``url``, size in pixels, description) and the
    listing's new version, also as ``ETag``. ``If-Match`` is optional (see the module).
    """
    expected = _expected(if_match)
    text = PhotoIn.model_validate({"alt": alt, "alt_en": alt_en, "position": position})
    try:
        info, listing = _add(
            repo, account, alerts, now, settings, premises_id, file, text, expected
        )
    except PhotoError as exc:
        raise ProblemError(422, Text(exc.text("fr"), exc.text("en"))) from exc
    except PhotoCountError as exc:
        raise _too_many(exc) from exc
    response.headers["Location"] = info.url
    return _answer(response, info, listing)


@router.patch(
    f"{API_PATH}/{{photo_id}}",
    response_model=PhotoChange,
    responses={**_PHOTO_WRITE},
)
def change_photo(
    premises_id: PremisesIdPath,
    photo_id: PhotoIdPath,
    body: PhotoUpdate,
    repo: RepoDep,
    account: CurrentAccount,
    alerts: ListingAlertsDep,
    now: NowDep,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    """Change a photo's description (``alt``, ``alt_en``) or place among the listing's
    photos (``position``, from 0); an edit of the listing (owner and staff)."""
    expected = _expected(if_match)
    _editable(repo, account, premises_id)
    info, listing = _edit(
        repo,
        account,
        alerts,
        premises_id,
        lambda conn: store.update_photo(
            conn,
            premises_id,
            photo_id,
            body.changes(),
            actor=account.name,
            expected_version=expected,
            verified_at=now,
        ),
    )
    return _answer(response, info, listing)


@router.delete(
    f"{API_PATH}/{{photo_id}}",
    response_model=PhotoChange,
    responses={**_PHOTO_WRITE},
)
def delete_photo(
    premises_id: PremisesIdPath,
    photo_id: PhotoIdPath,
    repo: RepoDep,
    account: CurrentAccount,
    alerts: ListingAlertsDep,
    now: NowDep,
    response: Response,
    if_match: IfMatch = None,
) -> Any:
    """Delete a photo of a listing; an edit of the listing (owner and staff)."""
    expected = _expected(if_match)
    _editable(repo, account, premises_id)
    _, listing = _edit(
        repo,
        account,
        alerts,
        premises_id,
        lambda conn: (
            None,
            store.delete_photo(
                conn,
                premises_id,
                photo_id,
                actor=account.name,
                expected_version=expected,
                verified_at=now,
            ),
        ),
    )
    return _answer(response, None, listing)


@router.get(
    f"{API_PATH}/{{photo_id}}",
    response_class=Response,
    responses={
        200: {
            "description": "The image (a JPEG without metadata)",
            "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
        },
        404: {
            "description": "No such photo, or a listing this reader may not see (withdrawn "
            "or hidden: its owner and the staff only)"
        },
        **_AUTH,
    },
    openapi_extra=OPTIONAL_AUTH,
)
def photo_image(
    premises_id: PremisesIdPath,
    photo_id: PhotoIdPath,
    repo: RepoDep,
    settings: SettingsDep,
    account: OptionalAccount,
    now: NowDep,
) -> Response:
    """The image of a photo, for whoever may see its listing (``ETag``, cacheable)."""
    with repo.connect() as conn:
        item = listings.get_premises(conn, premises_id)
        if not photos_visible(account, item, now, settings):
            raise ProblemError(
                404,
                Text(
                    f"photo {photo_id} : aucune photo visible à cette adresse (l'annonce "
                    f"{premises_id} n'est pas publique) ; connectez-vous avec le compte de "
                    "son propriétaire.",
                    f"photo {photo_id}: no visible photo here (listing {premises_id} is not "
                    "public); sign in with its owner's account",
                ),
            )
        photo = store.get_photo(conn, premises_id, photo_id)
    public = account is None
    return Response(
        photo.content,
        media_type=photo.content_type,
        headers={
            "ETag": f'"{photo.sha256[:32]}"',
            "Cache-Control": "public, max-age=3600" if public else "private, no-store",
            "Content-Disposition": f'inline; filename="photo-{photo.id}.jpg"',
        },
    )


# --- the listing form's photos (pages) --------------------------------------------------------


def _t(lang: Lang, fr: str, en: str) -> str:
    return fr if lang == "fr" else en


def _back_to_form(premises_id: int, lang: Lang, done: str) -> RedirectResponse:
    url = url_with_lang(f"/mes-annonces/{premises_id}/modifier", lang, {"photo": done})
    return RedirectResponse(f"{url}#photos", status_code=303)


def _form_with_errors(
    request: Request,
    settings: Settings,
    territory: Territory,
    lang: Lang,
    account: Account,
    item: Premises,
    errors: dict[str, str],
    typed: dict[str, str],
) -> Response:
    """The listing form again, its photo errors next to the photo fields (422)."""
    return _form_page(
        request,
        settings,
        territory,
        lang,
        account,
        values=form_values(item.model_dump(), lang),
        errors={},
        item=item,
        version=item.version,
        status_code=422,
        extra={"photo_errors": errors, "photo_values": typed},
    )


def _gate_listing(
    request: Request, repo: Repository, account: Account | None, lang: Lang, premises_id: int
) -> tuple[Response | None, Premises | None]:
    """The pages' gate (sign-in, role), then the caller's own listing (404 page otherwise)."""
    refused = _gate(request, account, lang)
    if refused is not None:
        return refused, None
    assert account is not None
    item = _owned(repo, account, premises_id)
    if item is None:
        return _not_found(request, account, lang, premises_id), None
    return None, item


@router.post(
    PAGE_PATH, response_class=HTMLResponse, openapi_extra=OPTIONAL_AUTH, responses=FORM_RESPONSES
)
def page_add_photo(
    request: Request,
    premises_id: PremisesIdPath,
    repo: RepoDep,
    settings: SettingsDep,
    territory: TerritoryDep,
    account: OptionalAccount,
    alerts: ListingAlertsDep,
    now: NowDep,
    file: Annotated[UploadFile | None, File()] = None,
    alt: Annotated[str, Form()] = "",
    alt_en: Annotated[str, Form()] = "",
    lang: Lang = "fr",
) -> Response:
    """Add a photo from the listing form; errors are shown in the form, next to the field."""
    refused, item = _gate_listing(request, repo, account, lang, premises_id)
    if refused is not None:
        return refused
    assert account is not None and item is not None
    typed = {"alt": alt, "alt_en": alt_en}
    errors: dict[str, str] = {}
    text: PhotoIn | None = None
    try:
        text = PhotoIn.model_validate(typed)
    except ValidationError as exc:
        errors.update(validation_errors(exc, lang))
    if file is None or not file.filename:
        errors["file"] = _t(lang, "choisissez une photo à envoyer", "choose a photo to send")
    elif text is not None:
        try:
            _add(repo, account, alerts, now, settings, premises_id, file, text, None)
        except PhotoError as exc:
            errors[exc.field] = exc.reason(lang)
        except PhotoCountError as exc:
            errors["file"] = _t(
                lang,
                f"l'annonce a déjà {exc.limit} photos, le maximum ; supprimez-en une d'abord",
                f"the listing already has {exc.limit} photos, the most allowed; delete one first",
            )
        else:
            return _back_to_form(premises_id, lang, "added")
    return _form_with_errors(request, settings, territory, lang, account, item, errors, typed)


@router.post(
    f"{PAGE_PATH}/{{photo_id}}/supprimer",
    response_class=HTMLResponse,
    openapi_extra=OPTIONAL_AUTH,
    responses=FORM_RESPONSES,
)
def page_delete_photo(
    request: Request,
    premises_id: PremisesIdPath,
    photo_id: PhotoIdPath,
    repo: RepoDep,
    account: OptionalAccount,
    alerts: ListingAlertsDep,
    now: NowDep,
    lang: Lang = "fr",
) -> Response:
    """Delete a photo from the listing form, then show the form again."""
    refused, _ = _gate_listing(request, repo, account, lang, premises_id)
    if refused is not None:
        return refused
    assert account is not None
    with repo.begin() as conn:
        current = listings.get_premises(conn, premises_id)
        _check_editor(account, current)
        if any(p.id == photo_id for p in current.gallery):
            listing = store.delete_photo(
                conn, premises_id, photo_id, actor=account.name, verified_at=now
            )
            alerts.written(conn, current, listing)
    # A photo already gone (deleted from another tab) ends the same way: it is not there.
    return _back_to_form(premises_id, lang, "deleted")
