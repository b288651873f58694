"""Photos of listings: add, describe, re-order and delete them as listing writes; read them.

Adding, changing or deleting a photo is an edit of its listing: in the caller's transaction,
a compare-and-set of the listing's version (version + 1, the optional ``expected_version``
checked), its ``gallery`` column rewritten from the photos, an ``update`` audit row whose
changes are ``{"gallery": [old, new]}`` and a new catalogue version, so that everything keyed
by a listing's id and version (the public JSON cache, the ETags, the match index's changes)
stays exact. The images are checked and re-encoded beforehand (:mod:`geodata.photos`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, computed_field
from sqlalchemy.engine import Connection

from geodata.photos import PreparedPhoto
from geodata.schemas import Premises
from geodata.storage import _common as co
from geodata.storage import _convert as cv
from geodata.storage._tables import ENTITY_PREMISES, premises, premises_photos
from geodata.storage.errors import NotFoundError, StaleVersionError, StorageError

__all__ = [
    "ENTITY_PHOTO",
    "PhotoCountError",
    "PhotoInfo",
    "StoredPhoto",
    "add_photo",
    "delete_photo",
    "get_photo",
    "list_photos",
    "photo_url",
    "update_photo",
]

ENTITY_PHOTO = "photo"

_INFO_COLUMNS = [c for c in premises_photos.c if c.name != "content"]


def photo_url(premises_id: int, photo_id: int) -> str:
    """Where a photo is served, relative to the site.

    Examples
    --------
    >>> photo_url(12, 3)
    '/premises/12/photos/3'
    """
    return f"/premises/{premises_id}/photos/{photo_id}"


class PhotoInfo(BaseModel):
    """A stored photo's description (everything but its bytes)."""

    id: int
    premises_id: int
    position: int = Field(ge=0, description="Its place among the listing's photos, from 0.")
    content_type: str
    size_bytes: int
    sha256: str
    width: int
    height: int
    alt: str
    alt_en: str | None = None
    created_by: str
    created_at: datetime

    @computed_field  # type: ignore[prop-decorator]
    @property
    def url(self) -> str:
        """Where the image is served."""
        return photo_url(self.premises_id, self.id)


class StoredPhoto(PhotoInfo):
    """A stored photo with its bytes."""

    content: bytes = Field(exclude=True)


class PhotoCountError(StorageError):
    """A listing already has the most photos allowed."""

    def __init__(self, premises_id: int, limit: int) -> None:
        self.premises_id = premises_id
        self.limit = limit
        msg = (
            f"file: premises {premises_id} already has {limit} photos, the most allowed; "
            "delete one before adding another"
        )
        super().__init__(msg)


# -- reads --------------------------------------------------------------------------------------


def list_photos(conn: Connection, premises_id: int) -> list[PhotoInfo]:
    """Return the photos of a listing (without their bytes), in display order."""
    stmt = (
        sa.select(*_INFO_COLUMNS)
        .where(premises_photos.c.premises_id == premises_id)
        .order_by(premises_photos.c.position, premises_photos.c.id)
    )
    return [PhotoInfo.model_validate(dict(row)) for row in conn.execute(stmt).mappings()]


def get_photo(conn: Connection, premises_id: int, photo_id: int) -> StoredPhoto:
    """Return one photo of a listing with its bytes.

    Raises
    ------
    NotFoundError
        When the listing has no such photo.
    """
    stmt = sa.select(premises_photos).where(
        premises_photos.c.id == photo_id, premises_photos.c.premises_id == premises_id
    )
    row = conn.execute(stmt).mappings().first()
    if row is None:
        raise NotFoundError(ENTITY_PHOTO, photo_id)
    return StoredPhoto.model_validate(dict(row))


# -- writes -------------------------------------------------------------------------------------


def add_photo(
    conn: Connection,
    premises_id: int,
    photo: PreparedPhoto,
    *,
    alt: str,
    actor: str,
    alt_en: str | None = None,
    position: int | None = None,
    expected_version: int | None = None,
    verified_at: datetime | None = None,
    max_photos: int = 20,
) -> tuple[PhotoInfo, Premises]:
    """Store a photo of a listing, as an edit of the listing.

    Parameters
    ----------
    conn : sqlalchemy.Connection
        A connection inside a write transaction.
    premises_id : int
        The listing.
    photo : PreparedPhoto
        The checked, re-encoded image (:func:`geodata.photos.prepare_photo`).
    alt, alt_en : str
        What it shows, in French (required) and in English.
    actor : str
        Who adds it.
    position : int, optional
        Its place among the listing's photos, from 0 (default: last).
    expected_version : int, optional
        The listing's version the caller read: a compare-and-set on it. Without it, the
        version stored now (its row is locked until the transaction ends).
    verified_at : datetime, optional
        Also the listing's new freshness date (an edit by its owner confirms it).
    max_photos : int
        The most photos a listing may have.

    Returns
    -------
    (PhotoInfo, Premises)
        The stored photo and the listing at its new version.

    Raises
    ------
    NotFoundError
        When the listing does not exist.
    StaleVersionError
        When it is no longer at ``expected_version``; nothing is written.
    PhotoCountError
        When it already has ``max_photos`` photos.
    """
    new_id: list[int] = []

    def change(conn: Connection, count: int) -> None:
        if count >= max_photos:
            raise PhotoCountError(premises_id, max_photos)
        place = count if position is None else min(position, count)
        _shift(conn, premises_id, place, +1)
        row = {
            "premises_id": premises_id,
            "position": place,
            "content_type": photo.content_type,
            "content": photo.content,
            "size_bytes": len(photo.content),
            "sha256": photo.sha256,
            "width": photo.width,
            "height": photo.height,
            "alt": alt,
            "alt_en": alt_en or None,
            "created_by": actor,
            "created_at": co.now(),
        }
        cv.check_storable({k: v for k, v in row.items() if k != "content"})
        new_id.extend(co.hooks_of(conn).insert_many(conn, premises_photos, [row]))

    listing = _listing_write(conn, premises_id, expected_version, actor, verified_at, change)
    return _info(conn, premises_id, new_id[0]), listing


def update_photo(
    conn: Connection,
    premises_id: int,
    photo_id: int,
    changes: Mapping[str, Any],
    *,
    actor: str,
    expected_version: int | None = None,
    verified_at: datetime | None = None,
) -> tuple[PhotoInfo, Premises]:
    """Change a photo's description (``alt``, ``alt_en``) or place (``position``), as an
    edit of its listing (see :func:`add_photo` for the version and freshness parameters).

    Raises
    ------
    NotFoundError
        When the listing or the photo does not exist.
    StaleVersionError
        When the listing is no longer at ``expected_version``; nothing is written.
    """
    unknown = set(changes) - {"alt", "alt_en", "position"}
    if unknown:
        msg = f"{', '.join(sorted(unknown))}: not a field of a photo; use alt, alt_en, position"
        raise ValueError(msg)

    def change(conn: Connection, count: int) -> None:
        current = _info(conn, premises_id, photo_id)
        values = {k: v for k, v in changes.items() if k in ("alt", "alt_en")}
        if "position" in changes:
            place = min(int(changes["position"]), count - 1)
            _shift(conn, premises_id, current.position + 1, -1)
            _shift(conn, premises_id, place, +1)
            values["position"] = place
        if values:
            cv.check_storable(values)
            conn.execute(
                sa.update(premises_photos).where(premises_photos.c.id == photo_id).values(**values)
            )

    listing = _listing_write(conn, premises_id, expected_version, actor, verified_at, change)
    return _info(conn, premises_id, photo_id), listing


def delete_photo(
    conn: Connection,
    premises_id: int,
    photo_id: int,
    *,
    actor: str,
    expected_version: int | None = None,
    verified_at: datetime | None = None,
) -> Premises:
    """Delete a photo of a listing, as an edit of the listing (see :func:`add_photo`).

    Returns
    -------
    Premises
        The listing at its new version.

    Raises
    ------
    NotFoundError
        When the listing or the photo does not exist.
    StaleVersionError
        When the listing is no longer at ``expected_version``; nothing is deleted.
    """

    def change(conn: Connection, count: int) -> None:
        current = _info(conn, premises_id, photo_id)
        conn.execute(sa.delete(premises_photos).where(premises_photos.c.id == photo_id))
        _shift(conn, premises_id, current.position + 1, -1)

    return _listing_write(conn, premises_id, expected_version, actor, verified_at, change)


# -- plumbing -----------------------------------------------------------------------------------


def _info(conn: Connection, premises_id: int, photo_id: int) -> PhotoInfo:
    stmt = sa.select(*_INFO_COLUMNS).where(
        premises_photos.c.id == photo_id, premises_photos.c.premises_id == premises_id
    )
    row = conn.execute(stmt).mappings().first()
    if row is None:
        raise NotFoundError(ENTITY_PHOTO, photo_id)
    return PhotoInfo.model_validate(dict(row))


def _shift(conn: Connection, premises_id: int, start: int, delta: int) -> None:
    """Move the photos at ``start`` and after one place down (+1) or up (-1)."""
    conn.execute(
        sa.update(premises_photos)
        .where(premises_photos.c.premises_id == premises_id, premises_photos.c.position >= start)
        .values(position=premises_photos.c.position + delta)
    )


def _gallery(conn: Connection, premises_id: int) -> str:
    """The listing's ``gallery`` column: its photos as JSON, in display order."""
    refs = [
        {
            "id": p.id,
            "url": p.url,
            "alt": p.alt,
            "alt_en": p.alt_en,
            "width": p.width,
            "height": p.height,
        }
        for p in list_photos(conn, premises_id)
    ]
    return json.dumps(refs, ensure_ascii=False, separators=(",", ":"))


def _listing_write(
    conn: Connection,
    premises_id: int,
    expected_version: int | None,
    actor: str,
    verified_at: datetime | None,
    change: Callable[[Connection, int], None],
) -> Premises:
    """Run ``change(conn, number of photos)`` as an edit of the listing: lock and check its
    version, rewrite its gallery, bump its version and audit the change."""
    at = co.now()
    stmt = sa.select(premises).where(premises.c.id == premises_id).with_for_update()
    old = conn.execute(stmt).mappings().first()
    if old is None:
        raise NotFoundError(ENTITY_PREMISES, premises_id)
    if expected_version is not None and old["version"] != expected_version:
        raise StaleVersionError(ENTITY_PREMISES, premises_id, expected_version, old["version"])
    expected = int(old["version"])
    count = conn.execute(
        sa.select(sa.func.count())
        .select_from(premises_photos)
        .where(premises_photos.c.premises_id == premises_id)
    ).scalar_one()
    change(conn, int(count))
    gallery = _gallery(conn, premises_id)
    values: dict[str, Any] = {"gallery": gallery, "version": expected + 1, "updated_at": at}
    diff: dict[str, list[Any]] = {"gallery": [json.loads(old["gallery"]), json.loads(gallery)]}
    if verified_at is not None:
        values["last_verified_at"] = verified_at
        before = cv.audit_value("last_verified_at", old["last_verified_at"])
        after = cv.audit_value("last_verified_at", verified_at)
        if before != after:
            diff["last_verified_at"] = [before, after]
    co.compare_and_set(
        conn,
        sa.update(premises).values(**values),
        premises,
        premises_id,
        ENTITY_PREMISES,
        expected,
    )
    entry = co.audit_row(
        ENTITY_PREMISES,
        premises_id,
        "update",
        expected + 1,
        actor,
        at,
        diff,
        catalogue_version=co.bump_catalogue(conn, at),
    )
    co.write_audit(conn, [entry])
    return cv.premises_from_row({**old, **values})
