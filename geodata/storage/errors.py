"""Exceptions raised by the storage layer, each with a message that says what to do."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "DuplicateRefError",
    "NotFoundError",
    "StaleVersionError",
    "StorageError",
]


class StorageError(Exception):
    """Base class of every error raised by :mod:`geodata.storage`."""


class NotFoundError(StorageError, LookupError):
    """A listing or need does not exist (never created, or deleted).

    Parameters
    ----------
    entity : str
        ``"premises"`` or ``"need"``.
    entity_id : int
        The id that was looked up.
    """

    def __init__(self, entity: str, entity_id: int) -> None:
        self.entity = entity
        self.entity_id = entity_id
        msg = (
            f"{entity} {entity_id} does not exist (it was never created or has been deleted); "
            f"list the {entity} records to find the right id"
        )
        super().__init__(msg)


class StaleVersionError(StorageError):
    """An edit named a version that is no longer the stored one.

    Parameters
    ----------
    entity : str
        ``"premises"`` or ``"need"``.
    entity_id : int
        The record that was edited.
    expected : int
        The version the caller based its edit on.
    current : int
        The version stored now.
    """

    def __init__(self, entity: str, entity_id: int, expected: int, current: int) -> None:
        self.entity = entity
        self.entity_id = entity_id
        self.expected = expected
        self.current = current
        msg = (
            f"{entity} {entity_id} is at version {current}, not version {expected}: someone "
            f"changed it since you read it; reload it, re-apply your change and save with "
            f"version {current}"
        )
        super().__init__(msg)


class DuplicateRefError(StorageError):
    """One or more ``external_ref`` values are already used by another listing.

    Parameters
    ----------
    refs : iterable of str
        The clashing references.
    detail : str
        Where the clash is (in the batch itself, or with stored listings).
    """

    def __init__(self, refs: Iterable[str], detail: str) -> None:
        self.refs = sorted(set(refs))
        shown = ", ".join(repr(r) for r in self.refs[:10])
        more = f" and {len(self.refs) - 10} more" if len(self.refs) > 10 else ""
        msg = (
            f"external_ref {shown}{more}: {detail}; give each listing its own reference, or "
            f"use an upsert by reference to update the existing listings"
        )
        super().__init__(msg)
