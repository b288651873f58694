"""The limits an import of a listing file runs under, and the error raised past them.

A listing file comes from outside (a spreadsheet typed by an owner, an upload): it can be
huge, hostile or broken. Every import path reads it under :class:`ImportLimits`, whose
defaults are the constants below; a caller (the HTTP upload, a test) passes its own.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

__all__ = [
    "MAX_CELL_CHARS",
    "MAX_ERRORS",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "MAX_SECONDS",
    "MAX_UNPACKED_BYTES",
    "Deadline",
    "ImportFileError",
    "ImportLimitError",
    "ImportLimits",
    "french_number",
]

#: Largest file read, in bytes (100 MiB: a CSV of 100,000 listings is about 20 MB).
MAX_FILE_BYTES = 100 * 2**20
#: Largest total of the unpacked parts of an XLSX workbook (a zip), in bytes: a workbook
#: of a few hundred kilobytes can unpack to gigabytes ("zip bomb").
MAX_UNPACKED_BYTES = 1 * 2**30
#: Most data rows (or features) in one file.
MAX_ROWS = 200_000
#: Most errors kept in a report; the others are counted, not listed.
MAX_ERRORS = 1_000
#: Most processor time spent reading and validating one file, in seconds (the time of the
#: thread doing it, so that a busy machine or other requests do not count against a file).
MAX_SECONDS = 300.0
#: Longest CSV cell, in characters (the limit of Python's csv module; no field needs more).
MAX_CELL_CHARS = 131_072


class ImportFileError(Exception):
    """An error about a whole file, worded in French and in English.

    ``str(exc)`` is the English message (for logs and callers matching on it); :meth:`text`
    gives the message in the reader's language. Both name the file and say what to do.

    Examples
    --------
    >>> exc = ImportLimitError("a.csv: too big", "a.csv : trop gros")
    >>> str(exc), exc.text("fr"), exc.text("en")
    ('a.csv: too big', 'a.csv : trop gros', 'a.csv: too big')
    """

    def __init__(self, en: str, fr: str | None = None) -> None:
        super().__init__(en)
        self.en = en
        self.fr = en if fr is None else fr

    def text(self, lang: str = "fr") -> str:
        """The message in ``lang`` (``"fr"``, else English)."""
        return self.fr if lang == "fr" else self.en


def french_number(english: str) -> str:
    """A number written the English way (``1,120.5``), written the French way (``1 120,5``).

    >>> french_number("1,120.5")
    '1 120,5'
    """
    return english.replace(",", " ").replace(".", ",")


class ImportLimitError(ImportFileError, ValueError):
    """A file past one of the :class:`ImportLimits`; the message says which and what to do."""


@dataclass(frozen=True)
class ImportLimits:
    """The caps of one import (see the module constants for the defaults and their units)."""

    max_file_bytes: int = MAX_FILE_BYTES
    max_unpacked_bytes: int = MAX_UNPACKED_BYTES
    max_rows: int = MAX_ROWS
    max_errors: int = MAX_ERRORS
    max_seconds: float = MAX_SECONDS

    def deadline(self) -> Deadline:
        """A :class:`Deadline` starting now."""
        return Deadline(self.max_seconds)

    def too_many_rows(self, name: str, rows: int | None) -> ImportLimitError:
        """The error for a file of more than :attr:`max_rows` rows (``rows`` when known)."""
        most = f"{self.max_rows:,}"
        most_fr = french_number(most)
        found = f"{rows:,} rows" if rows is not None else f"more than {most} rows"
        found_fr = (
            f"{french_number(f'{rows:,}')} lignes"
            if rows is not None
            else f"plus de {most_fr} lignes"
        )
        msg = (
            f"{name}: {found}, while one import takes at most {most}; "
            "split the file into smaller files"
        )
        fr = (
            f"{name} : {found_fr}, alors qu'un import en prend au plus {most_fr} ; "
            "découpez le fichier en fichiers plus petits"
        )
        return ImportLimitError(msg, fr)


@dataclass
class Deadline:
    """The processor time left to read a file; :meth:`check` raises once it has run out.

    It counts the processor time of the calling thread (:func:`time.thread_time`), not the
    wall clock: a file is stopped for the work it takes, not because the machine is busy.
    """

    seconds: float
    start: float = field(default_factory=time.thread_time)

    def check(self, name: str) -> None:
        """Raise :class:`ImportLimitError` when more than :attr:`seconds` have been spent."""
        if time.thread_time() - self.start > self.seconds:
            msg = (
                f"{name}: reading the file took more than {self.seconds:g} s of processor time "
                "and was stopped; "
                "split the file into smaller files"
            )
            fr = (
                f"{name} : la lecture du fichier a pris plus de "
                f"{french_number(f'{self.seconds:g}')} s de temps processeur et a été "
                "arrêtée ; découpez le fichier en fichiers plus petits"
            )
            raise ImportLimitError(msg, fr)
