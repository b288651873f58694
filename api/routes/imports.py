"""Upload a listing file: ``POST /imports`` runs the import of ``implanter import`` over HTTP.

A developer imports its own listings (every row it writes is owned by it, and a row whose
reference is another owner's listing is refused); the staff import any. The file (CSV,
XLSX, GeoJSON or GeoPackage, multipart field ``file``) is checked as the command line does
(:func:`geodata.io.import_listings`, under :class:`geodata.io.ImportLimits`): a dry run by
default, all or nothing unless ``skip_invalid``. The answer is the same row-numbered report
as the command's, in the request's language, with its parts as data.

The upload body is capped by ``IMPLANTER_HTTP__MAX_UPLOAD_BYTES`` (413 above, see
:mod:`api.middleware`). A file that cannot be read (binary garbage, a zip bomb renamed
``.xlsx``, a GeoPackage without a layer of points or polygons) is a 422 naming ``file``.

Listings written by an upload notify the saved searches they newly fit, as a single write
does, in the import's transaction, however many they are (:class:`api.alerts.AlertingCatalogue`,
scored in bulk); ``notified`` in the answer says how many notifications were written.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from geodata.io import (
    ImportLimitError,
    ImportLimits,
    ImportReport,
    ImportWriteError,
    ListingsFileError,
    import_listings,
    looks_binary,
)
from geodata.io.importer import FORMATS
from geodata.io.report import format_report, format_row_error, translate_reason
from geodata.schemas import PremisesCreate
from geodata.storage import Repository, UpsertResult
from geodata.storage.accounts import Account

from ..alerts import AlertingCatalogue, ListingAlerts
from ..auth import CurrentAccount, forbid
from ..deps import ListingAlertsDep, RepoDep, SettingsDep, TerritoryDep
from ..errors import PROBLEM_JSON, Lang, ProblemError, Text, problem, request_language

__all__ = ["ForeignListingsError", "router"]

router = APIRouter(tags=["imports"])

_SNIFF_BYTES = 64 * 1024
_ZIP = b"PK\x03\x04"
_SQLITE = b"SQLite format 3\x00"
_SAFE_NAME = re.compile(r"[^\w.\-]+")


class ForeignListingsError(Exception):
    """A developer's file names listings another account owns; nothing was written."""

    def __init__(self, refs: list[str]) -> None:
        super().__init__(", ".join(refs))
        self.refs = refs


class _Target(AlertingCatalogue):
    """The catalogue as :func:`import_listings` writes to it for one account's upload.

    Its upsert runs in one transaction that, for a developer, refuses references owned by
    another account and makes every row the developer's own, then notifies the saved
    searches the written listings newly fit (:class:`api.alerts.AlertingCatalogue`). In a
    dry run the same checks run and nothing is written.
    """

    def __init__(
        self, repo: Repository, account: Account, alerts: ListingAlerts, *, dry_run: bool
    ) -> None:
        super().__init__(repo, alerts)
        self.account = account
        self.dry_run = dry_run

    def checks(self) -> bool:
        return self.account.role != "staff"

    def check(self, stored: Mapping[str, np.ndarray]) -> None:
        if self.account.role == "staff":
            return
        mine = stored["owner_account"] == self.account.name
        foreign = sorted(str(r) for r in stored["external_ref"][~mine])
        if foreign:
            raise ForeignListingsError(foreign)

    def upsert_premises_by_ref(
        self,
        items: Sequence[PremisesCreate],
        *,
        actor: str,
        expected_versions: Mapping[str, int] | None = None,
        verified_at: datetime | None = None,
    ) -> UpsertResult:
        if self.dry_run:
            refs = [i.external_ref for i in items if i.external_ref]
            if refs and self.checks():
                with self.repo.connect() as conn:
                    self.check(self.stored(conn, refs))
            return UpsertResult()
        if self.account.role == "developer":
            items = [i.model_copy(update={"owner_account": self.account.name}) for i in items]
        return super().upsert_premises_by_ref(
            items, actor=actor, expected_versions=expected_versions, verified_at=verified_at
        )


def _safe_name(filename: str | None) -> str:
    """The upload's file name, reduced to letters, digits, ``.``, ``-`` and ``_``."""
    name = _SAFE_NAME.sub("_", Path(filename or "").name).strip("._")[-100:]
    return name or "upload"


def _file_error(fr: str, en: str, status: int = 422) -> ProblemError:
    return ProblemError(status, Text(f"file : {fr}", f"file: {en}"))


def _sniff(head: bytes) -> str | None:
    """The format the first bytes of a file show, when they show one."""
    if head.startswith(_ZIP):
        return "xlsx"
    if head.startswith(_SQLITE):
        return "gpkg"
    if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"{", b"[")):
        return "geojson"
    return None


def _format_of(name: str, head: bytes) -> str:
    """The format of an upload: its suffix, else its first bytes; 422 when neither tells, or
    when a text format holds binary data."""
    suffix = Path(name).suffix.lower()
    fmt = next((f for f, suffixes in FORMATS.items() if suffix in suffixes), None) or _sniff(head)
    known = ", ".join(s for suffixes in FORMATS.values() for s in suffixes)
    if fmt is None:
        raise _file_error(
            f"impossible de reconnaître le format de « {name} » ; envoyez un fichier {known}.",
            f"cannot tell the format of '{name}'; send a {known} file",
        )
    sniffed = _sniff(head)
    if fmt in ("csv", "geojson") and sniffed in ("xlsx", "gpkg"):
        raise _file_error(
            f"« {name} » est un fichier {sniffed.upper()} et non {fmt.upper()} ; "
            f"renommez-le en .{sniffed}.",
            f"'{name}' is an {sniffed.upper()} file, not {fmt.upper()}; rename it .{sniffed}",
        )
    if fmt in ("csv", "geojson") and looks_binary(head):
        raise _file_error(
            f"« {name} » n'est pas un fichier texte {fmt.upper()} (contenu binaire) ; "
            f"envoyez un fichier {known}.",
            f"'{name}' is not a {fmt.upper()} text file (binary content); send a {known} file",
        )
    if fmt in ("xlsx", "gpkg") and sniffed != fmt:
        raise _file_error(
            f"« {name} » n'est pas un fichier {fmt.upper()} valide (son contenu ne commence "
            "pas comme tel) ; enregistrez-le à nouveau depuis le tableur ou le SIG.",
            f"'{name}' is not a valid {fmt.upper()} file (its content does not start like one); "
            "save it again from the spreadsheet or GIS",
        )
    return fmt


def _note_only_sheet(report: ImportReport, path: Path) -> None:
    """Name the sheet of a one-sheet workbook in the report too (the importer names the sheet
    only when it had to choose), so that the report always says what it read."""
    from openpyxl import load_workbook

    book = load_workbook(path, read_only=True)  # reads workbook.xml only, through defusedxml
    try:
        if len(book.sheetnames) == 1:
            report.notes["sheet"] = book.sheetnames[0]
    finally:
        book.close()


def _report_json(report: ImportReport, name: str, lang: Lang) -> dict[str, Any]:
    kind = report.row_kind
    return {
        "file": name,
        "format": report.fmt,
        "sheet": report.notes.get("sheet"),
        "layer": report.notes.get("layer"),
        "notes": report.notes,
        "dry_run": report.dry_run,
        "skip_invalid": report.skip_invalid,
        "written": report.written,
        "total_rows": report.total_rows,
        "valid_rows": report.valid_rows,
        "invalid_rows": report.invalid_rows,
        "created": report.created,
        "updated": report.updated,
        "unchanged": report.unchanged,
        "errors": [
            {
                "row": e.row,
                "field": e.field,
                "reason": translate_reason(e.reason, lang),
                "value": None if e.value is None else str(e.value),
                "text": format_row_error(e, lang=lang, kind=kind, header_row=report.header_row),
            }
            for e in report.errors
        ],
        "more_errors": report.more_errors,
        "warnings": [
            {
                "row": w.row,
                "kind": w.kind,
                "field": w.field,
                "message": translate_reason(w.message, lang),
            }
            for w in report.warnings
        ],
        "report": format_report(report, lang=lang),
    }


@router.post(
    "/imports",
    responses={
        200: {"description": "The import report (a dry run, or the listings written)."},
        401: {"description": "No or bad API key"},
        403: {"description": "Not a developer or staff account, or another owner's listings"},
        413: {"description": "The upload exceeds IMPLANTER_HTTP__MAX_UPLOAD_BYTES"},
        422: {
            "description": "The file cannot be read, or has invalid rows (nothing written): "
            "problem+json naming `file`, with the report",
            "content": {PROBLEM_JSON: {}},
        },
        503: {"description": "The catalogue is locked by another write; nothing was written"},
    },
)
def import_premises(
    request: Request,
    repo: RepoDep,
    settings: SettingsDep,
    territory: TerritoryDep,
    account: CurrentAccount,
    alerts: ListingAlertsDep,
    file: Annotated[UploadFile, File(description="CSV, XLSX, GeoJSON or GeoPackage")],
    dry_run: Annotated[
        bool, Form(description="Check only, write nothing (the default); false to write")
    ] = True,
    skip_invalid: Annotated[
        bool, Form(description="Write the valid rows even if some rows are invalid")
    ] = False,
    sheet: Annotated[
        str | None,
        Form(
            max_length=100,
            description="Sheet of a workbook or layer of a GeoPackage, by name or number "
            "(from 1); by default the first that looks like a listing table",
        ),
    ] = None,
) -> JSONResponse:
    """Import listings from an uploaded file, as ``implanter import`` does.

    Developers import their own listings (each row written is owned by the developer; a
    reference that is another owner's listing is refused with 403), the staff any. A dry
    run by default: send ``dry_run=false`` to write. All or nothing unless
    ``skip_invalid=true``. The report (``report``: the command's text; ``errors`` and
    ``warnings`` by row) is in the request's language (``?lang=en`` or
    ``Accept-Language``), and names the sheet or layer read.
    """
    lang = request_language(request.headers, request.url.query)
    if account.role not in ("developer", "staff"):
        raise forbid(
            Text(
                "imports : seuls les comptes développeur et staff importent des annonces.",
                "imports: only developer and staff accounts import listings",
            )
        )
    name = _safe_name(file.filename)
    folder = Path(tempfile.mkdtemp(prefix="implanter-import-"))
    try:
        path = folder / name
        with path.open("wb") as out:
            shutil.copyfileobj(file.file, out, length=1 << 20)
        with path.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
        fmt = _format_of(name, head)
        target = _Target(repo, account, alerts, dry_run=dry_run)
        limits = ImportLimits(max_file_bytes=settings.http.max_upload_bytes)
        try:
            report = import_listings(
                target,
                path,
                actor=account.name,
                territory=territory,
                skip_invalid=skip_invalid,
                fmt=fmt,
                dry_run=False,  # the target writes nothing in a dry run, after the same checks
                sheet=int(sheet) if sheet is not None and sheet.isdigit() else sheet,
                limits=limits,
            )
        except ForeignListingsError as exc:
            shown = ", ".join(repr(r) for r in exc.refs[:20])
            raise forbid(
                Text(
                    f"external_ref : {shown} appartien(nen)t à des annonces d'un autre "
                    "propriétaire ; un compte développeur n'importe que ses propres annonces. "
                    "Retirez ces lignes ou changez leurs références. Rien n'a été enregistré.",
                    f"external_ref: {shown} belong(s) to another owner's listings; a "
                    "developer account imports only its own listings. Remove those rows or "
                    "change their references. Nothing was written.",
                )
            ) from exc
        except ImportWriteError as exc:
            raise ProblemError(
                503,
                Text(
                    "file : l'écriture a échoué, rien n'a été enregistré ; réessayez "
                    f"({exc.text('fr')}).",
                    f"file: the write failed, nothing was written; try again ({exc.text('en')})",
                ),
                headers={"Retry-After": "5"},
            ) from exc
        except (ImportLimitError, ListingsFileError) as exc:
            raise _file_error(
                f"« {name} » est refusé : {exc.text('fr').removeprefix(f'{name} : ')}.",
                f"'{name}' is refused: {exc.text('en').removeprefix(f'{name}: ')}",
            ) from exc
        if fmt == "xlsx" and "sheet" not in report.notes:
            _note_only_sheet(report, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if dry_run:
        report.dry_run, report.written = True, False
        report.created, report.updated, report.unchanged = [], [], []
    body = _report_json(report, name, lang)
    body["notified"] = target.notified if report.written else 0
    if report.errors and not skip_invalid:
        n = len(report.errors) + report.more_errors
        detail = (
            f"Invalid rows: {n} error(s) in '{name}'; nothing was written. Fix them "
            "and send the file again (the report lists each row)."
            if lang == "en"
            else f"Lignes invalides : {n} erreur(s) dans « {name} » ; rien n'a été "
            "enregistré. Corrigez-les et renvoyez le fichier (le rapport les liste ligne "
            "par ligne)."
        )
        errors = [{"field": "file", "reason": e["text"]} for e in body["errors"]]
        extra = {"request_id": getattr(request.state, "request_id", None)}
        return problem(
            422,
            detail,
            lang=lang,
            errors=errors,
            instance=request.url.path,
            **{k: v for k, v in extra.items() if v},
            **{k: v for k, v in body.items() if k != "errors"},
            row_errors=body["errors"],
        )
    return JSONResponse(body)
