"""Listing files sent from the developer pages: kept a short while, checked, then imported.

A file sent from "Mes annonces" is first checked (a dry run of
:func:`geodata.io.import_listings`, as ``implanter import --dry-run``) and kept in a staging
folder under a random name bound to the account that sent it; its "Importer" button imports
that very file. A developer imports only its own listings: every row becomes its listing,
and a reference (``external_ref``) that belongs to another account's listing is an error on
its row, never an update of that listing. Staff import as the command line does.
"""

from __future__ import annotations

import json
import secrets
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from geodata.io import (
    ImportLimitError,
    ImportReport,
    ImportWriteError,
    ListingsFileError,
    RowError,
    import_listings,
    read_listings,
)
from geodata.schemas import Premises, PremisesCreate
from geodata.storage import Repository
from geodata.storage.accounts import Account
from geodata.territory import Territory

from ..alerts import AlertingCatalogue, ListingAlerts
from ..settings import UploadSettings

__all__ = [
    "FOREIGN_NOTE",
    "SUFFIXES",
    "ImportRefusedError",
    "StagedFile",
    "run_import",
    "stage_file",
    "staged_file",
]

#: The listing files accepted, by suffix, and the format the importer reads them as.
SUFFIXES = {
    ".csv": "csv",
    ".xlsx": "xlsx",
    ".geojson": "geojson",
    ".json": "geojson",
    ".gpkg": "gpkg",
}

#: The note of a report naming the references of other accounts' listings (nothing of such
#: a file can be imported: fix those rows first).
FOREIGN_NOTE = "foreign_refs"

#: How long a checked file waits for its "Importer" (seconds).
STAGING_SECONDS = 3600

_TOKEN_CHARS = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class ImportRefusedError(ValueError):
    """A file refused as a whole (too large, unknown format, unreadable, gone)."""

    def __init__(self, fr: str, en: str) -> None:
        super().__init__(en)
        self.fr = fr
        self.en = en


@dataclass(frozen=True)
class StagedFile:
    """A checked file waiting for its owner's "Importer"."""

    token: str
    path: Path
    name: str
    account_id: int


def _folder(settings: UploadSettings) -> Path:
    base = Path(settings.staging_dir) if settings.staging_dir else Path(tempfile.gettempdir())
    folder = base if settings.staging_dir else base / "implanter-uploads"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _sweep(folder: Path) -> None:
    """Remove the files left longer than :data:`STAGING_SECONDS`."""
    limit = time.time() - STAGING_SECONDS
    for path in folder.iterdir():
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except OSError:
            continue


def stage_file(
    settings: UploadSettings, chunks: Iterable[bytes], filename: str, account: Account
) -> StagedFile:
    """Keep an uploaded file for its account; refuse a file past the size limit or of an
    unknown type (nothing kept then)."""
    suffix = Path(filename).suffix.lower()
    if suffix not in SUFFIXES:
        raise ImportRefusedError(
            f"fichier : « {filename} » n'est ni un CSV, ni un classeur XLSX, ni un GeoJSON, "
            "ni un GeoPackage (extensions .csv, .xlsx, .geojson, .gpkg).",
            f"file: '{filename}' is neither a CSV, an XLSX workbook, a GeoJSON nor a "
            "GeoPackage (suffixes .csv, .xlsx, .geojson, .gpkg).",
        )
    folder = _folder(settings)
    _sweep(folder)
    token = secrets.token_urlsafe(24)
    path = folder / f"{token}{suffix}"
    size = 0
    with path.open("xb") as out:
        for chunk in chunks:
            size += len(chunk)
            if size > settings.max_bytes:
                out.close()
                path.unlink(missing_ok=True)
                kb = settings.max_bytes // 1024
                raise ImportRefusedError(
                    f"fichier : « {filename} » dépasse la taille maximale ({kb} Kio) ; "
                    "découpez-le en plusieurs fichiers.",
                    f"file: '{filename}' is over the size limit ({kb} KiB); split it into "
                    "several files.",
                )
            out.write(chunk)
    if size == 0:
        path.unlink(missing_ok=True)
        raise ImportRefusedError(
            "fichier : aucun fichier choisi, ou un fichier vide.",
            "file: no file chosen, or an empty one.",
        )
    name = Path(filename).name[:200]
    meta = {"account_id": account.id, "name": name}
    (folder / f"{token}.json").write_text(json.dumps(meta), encoding="utf-8")
    return StagedFile(token, path, name, account.id)


def staged_file(settings: UploadSettings, token: str, account: Account) -> StagedFile:
    """The file kept under ``token`` for this account; refused when gone or someone else's."""
    gone = ImportRefusedError(
        "fichier : ce fichier n'est plus disponible (plus d'une heure, ou déjà importé) ; "
        "envoyez-le à nouveau.",
        "file: this file is no longer available (over an hour old, or imported already); "
        "send it again.",
    )
    if not token or len(token) > 64 or not set(token) <= _TOKEN_CHARS:
        raise gone
    folder = _folder(settings)
    try:
        meta = json.loads((folder / f"{token}.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise gone from None
    if meta.get("account_id") != account.id:
        raise gone
    for suffix in dict.fromkeys(SUFFIXES):
        path = folder / f"{token}{suffix}"
        if path.is_file():
            return StagedFile(token, path, str(meta.get("name", path.name)), account.id)
    raise gone


def discard(staged: StagedFile) -> None:
    """Remove a staged file (after its import)."""
    staged.path.unlink(missing_ok=True)
    staged.path.with_name(f"{staged.token}.json").unlink(missing_ok=True)


class _OwnCatalogue:
    """The catalogue as a developer's import sees it: only its own listings are found by
    reference, and every listing written is its own (see :mod:`geodata.io.importer`)."""

    def __init__(self, repo: Repository | AlertingCatalogue, owner: str) -> None:
        self.repo = repo
        self.owner = owner
        self.foreign: set[str] = set()

    def connect(self) -> Any:
        return self.repo.connect()

    def premises_frame(self, **kw: Any) -> Any:
        return self.repo.premises_frame(**kw)

    def premises_by_refs(self, refs: Iterable[str]) -> Mapping[str, Premises]:
        found = self.repo.premises_by_refs(refs)
        self.foreign |= {ref for ref, item in found.items() if item.owner_account != self.owner}
        return {ref: item for ref, item in found.items() if ref not in self.foreign}

    def upsert_premises_by_ref(
        self,
        items: Sequence[PremisesCreate],
        *,
        actor: str,
        expected_versions: Mapping[str, int] | None = None,
        verified_at: datetime | None = None,
    ) -> Any:
        if self.foreign:  # checked before: never write over another account's listing
            msg = "references of another account's listings"
            raise ImportWriteError(msg, "références d'annonces d'un autre compte")
        owned = [item.model_copy(update={"owner_account": self.owner}) for item in items]
        return self.repo.upsert_premises_by_ref(
            owned, actor=actor, expected_versions=expected_versions, verified_at=verified_at
        )

    def get_premises(self, premises_id: int) -> Premises:
        return self.repo.get_premises(premises_id)


def _foreign_errors(
    path: Path, foreign: set[str], territory: Territory, header_row: int
) -> list[RowError]:
    """One error per row whose reference is another account's (the file read again for
    the rows: only when there is such a reference)."""
    parsed = read_listings(path, territory=territory)
    rows = {item.external_ref: row for item, row in zip(parsed.items, parsed.rows, strict=True)}
    return [
        RowError(
            rows.get(ref, header_row),
            "external_ref",
            f"the reference '{ref}' belongs to a listing of another account; give this row "
            "a reference of your own",
            ref,
        )
        for ref in sorted(foreign)
    ]


def run_import(
    repo: Repository,
    staged: StagedFile,
    account: Account,
    territory: Territory,
    *,
    dry_run: bool,
    skip_invalid: bool = False,
    alerts: ListingAlerts | None = None,
) -> ImportReport:
    """Check (``dry_run``) or import a staged file as ``account``, as ``implanter import``
    does; a developer's rows are its own listings. With ``alerts``, the listings written
    notify the saved searches they newly fit, in the import's transaction.

    Raises
    ------
    ImportRefusedError
        When the file cannot be read, is past a limit, or the catalogue cannot be written.
    """
    catalogue: Any = repo if alerts is None else AlertingCatalogue(repo, alerts)
    try:
        if account.role != "developer":
            return import_listings(
                catalogue,
                staged.path,
                actor=account.name,
                territory=territory,
                dry_run=dry_run,
                skip_invalid=skip_invalid,
            )
        own = _OwnCatalogue(catalogue, account.name)
        report = import_listings(
            own, staged.path, actor=account.name, territory=territory, dry_run=True
        )
        if own.foreign:
            extra = _foreign_errors(staged.path, own.foreign, territory, report.header_row)
            report.errors = sorted([*report.errors, *extra], key=lambda e: (e.row, e.field))
            report.valid_rows = max(0, report.valid_rows - len({e.row for e in extra}))
            report.skip_invalid = skip_invalid
            report.notes[FOREIGN_NOTE] = ", ".join(sorted(own.foreign))
        if dry_run or own.foreign or (report.errors and not skip_invalid):
            return report
        return import_listings(
            own, staged.path, actor=account.name, territory=territory, skip_invalid=skip_invalid
        )
    except (ListingsFileError, ImportLimitError, ImportWriteError) as exc:
        fr, en = (
            exc.text(lang)
            .replace(str(staged.path), staged.name)
            .replace(staged.path.name, staged.name)
            for lang in ("fr", "en")
        )
        raise ImportRefusedError(f"fichier : {fr}", f"file: {en}") from exc
