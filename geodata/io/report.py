"""Human-readable import reports, in French (default) or English."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from geodata.io.importer import ImportReport, RowError, RowWarning

__all__ = ["format_report", "format_row_error", "translate_reason"]

_TEXT: dict[str, dict[str, Any]] = {
    "fr": {
        "title": "Import de {name} ({fmt})",
        "read": "{total} {rows} lue(s) : {valid} valide(s), {invalid} en erreur.",
        "refused": (
            "Rien n'a été enregistré : corrigez les erreurs, ou relancez en ignorant les "
            "lignes invalides (--skip-invalid) pour importer les {valid} ligne(s) valide(s)."
        ),
        "dry": "Simulation (--dry-run) : rien n'a été enregistré.",
        "nothing": "Aucune ligne valide : rien n'a été enregistré.",
        "written": (
            "Enregistré : {created} créée(s), {updated} mise(s) à jour, {unchanged} inchangée(s)."
        ),
        "skipped": "{invalid} ligne(s) invalide(s) ignorée(s).",
        "errors": "Erreurs ({n}) :",
        "warnings": "Avertissements ({n}) :",
        "row": "Ligne {row}",
        "feature": "Entité {row}",
        "file": "Fichier",
        "header": "En-tête (ligne {row})",
        "more": "… et {n} autre(s).",
        "capped": "… et {n} autre(s) erreur(s), non listée(s) (au plus {most} par import).",
        "rows": "ligne(s)",
        "features": "entité(s)",
        "notes": "Lecture : {notes}.",
        "kinds": {
            "probable_duplicate": "doublon probable",
            "unknown_column": "colonne inconnue",
            "duplicate_column": "colonne en double",
            "reprojected": "coordonnées reprojetées",
            "invisible_characters": "caractères invisibles retirés",
        },
        "note_names": {
            "encoding": "encodage",
            "separator": "séparateur",
            "layer": "couche",
            "sheet": "feuille",
            "crs": "projection",
        },
    },
    "en": {
        "title": "Import of {name} ({fmt})",
        "read": "{total} {rows} read: {valid} valid, {invalid} with errors.",
        "refused": (
            "Nothing was written: fix the errors, or run again skipping invalid rows "
            "(--skip-invalid) to import the {valid} valid row(s)."
        ),
        "dry": "Dry run (--dry-run): nothing was written.",
        "nothing": "No valid row: nothing was written.",
        "written": "Written: {created} created, {updated} updated, {unchanged} unchanged.",
        "skipped": "{invalid} invalid row(s) skipped.",
        "errors": "Errors ({n}):",
        "warnings": "Warnings ({n}):",
        "row": "Row {row}",
        "feature": "Feature {row}",
        "file": "File",
        "header": "Header (row {row})",
        "more": "… and {n} more.",
        "capped": "… and {n} more error(s), not listed (at most {most} per import).",
        "rows": "row(s)",
        "features": "feature(s)",
        "notes": "Read with: {notes}.",
        "kinds": {
            "probable_duplicate": "probable duplicate",
            "unknown_column": "unknown column",
            "duplicate_column": "duplicate column",
            "reprojected": "reprojected coordinates",
            "invisible_characters": "invisible characters removed",
        },
        "note_names": {
            "encoding": "encoding",
            "separator": "separator",
            "layer": "layer",
            "sheet": "sheet",
            "crs": "CRS",
        },
    },
}

# The reasons this package writes itself, and their French wording.
_FRENCH_REASONS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"^(?P<v>'.*') is not a number$"), r"\g<v> n'est pas un nombre"),
    (re.compile(r"^(?P<v>'.*') is not a whole number$"), r"\g<v> n'est pas un nombre entier"),
    (
        re.compile(r"^(?P<v>'.*') is not a date \(expected DD/MM/YYYY or YYYY-MM-DD\)$"),
        r"\g<v> n'est pas une date (attendu JJ/MM/AAAA ou AAAA-MM-JJ)",
    ),
    (
        re.compile(r"^(?P<v>'.*') is not yes or no \(expected oui/non\)$"),
        r"\g<v> n'est ni oui ni non",
    ),
    (
        re.compile(r"^(?P<v>'.*') is not a known (?P<f>\w+) \(expected one of: (?P<e>.*)\)$"),
        r"\g<v> n'est pas une valeur connue (attendu : \g<e>)",
    ),
    (
        re.compile(r"^duplicate reference (?P<v>'.*') in the file \(already on row (?P<r>\d+)\)$"),
        r"référence \g<v> en double dans le fichier (déjà ligne \g<r>)",
    ),
    (
        re.compile(r"^no column for this required field \(e\.g\. (?P<e>.*)\)$"),
        r"aucune colonne pour ce champ obligatoire (par ex. \g<e>)",
    ),
    (re.compile(r"^Field required$"), "champ obligatoire manquant"),
    (
        re.compile(
            r"^probable duplicate of row (?P<r>\d+) (?P<t>\(.*\)): (?P<d>\S+) m apart, "
            r"(?P<a>\S+) m² vs (?P<b>\S+) m²$",
            re.DOTALL,
        ),
        r"doublon probable de la ligne \g<r> \g<t> : \g<d> m d'écart, \g<a> m² contre \g<b> m²",
    ),
    (
        re.compile(
            r"^probable duplicate of stored listing (?P<i>\d+)(?P<t>.*): (?P<d>\S+) m apart, "
            r"(?P<a>\S+) m² vs (?P<b>\S+) m²$",
            re.DOTALL,
        ),
        r"doublon probable de l'annonce enregistrée \g<i>\g<t> : \g<d> m d'écart, "
        r"\g<a> m² contre \g<b> m²",
    ),
    (
        re.compile(
            r"^(?P<v>'.*') is ambiguous: (?P<a>\S+) or (?P<b>\S+)\? write (?P<c>\S+) or "
            r"(?P<d>\S+), without a thousands separator$"
        ),
        r"\g<v> est ambigu : \g<a> ou \g<b> ? écrivez \g<c> ou \g<d>, sans séparateur de milliers",
    ),
    (
        re.compile(r"^the file holds no listing: it is empty or has only a header row$"),
        "le fichier ne contient aucune annonce : il est vide ou n'a qu'une ligne d'en-tête",
    ),
]


def translate_reason(reason: str, lang: str = "fr") -> str:
    """Return a reason in ``lang`` when this package knows its wording, else unchanged.

    Validator reasons (pydantic, territory checks) stay in English.

    Examples
    --------
    >>> translate_reason("'12O0' is not a number")
    "'12O0' n'est pas un nombre"
    >>> translate_reason("'12O0' is not a number", "en")
    "'12O0' is not a number"
    """
    if lang != "fr":
        return reason
    for pattern, template in _FRENCH_REASONS:
        if pattern.match(reason):
            return pattern.sub(template, reason)
    return reason


def _where(row: int, header_row: int, kind: str, text: dict) -> str:
    if row == 0:
        return str(text["file"])
    if row == header_row and kind == "row":
        return str(text["header"]).format(row=row)
    return str(text[kind]).format(row=row)


def format_row_error(
    error: RowError, *, lang: str = "fr", kind: str = "row", header_row: int = 1
) -> str:
    """One error as a line: ``"Ligne 17, surface_m2 : '12O0' n'est pas un nombre"``.

    Examples
    --------
    >>> format_row_error(RowError(17, "surface_m2", "'12O0' is not a number", "12O0"))
    "Ligne 17, surface_m2 : '12O0' n'est pas un nombre"
    >>> format_row_error(RowError(17, "surface_m2", "'12O0' is not a number"), lang="en")
    "Row 17, surface_m2: '12O0' is not a number"
    """
    text = _TEXT["fr" if lang == "fr" else "en"]
    colon = " :" if lang == "fr" else ":"
    where = _where(error.row, header_row, kind, text)
    return f"{where}, {error.field}{colon} {translate_reason(error.reason, lang)}"


def _format_warning(warning: RowWarning, lang: str, kind: str, header_row: int) -> str:
    text = _TEXT["fr" if lang == "fr" else "en"]
    colon = " :" if lang == "fr" else ":"
    where = _where(warning.row, header_row, kind, text)
    label = text["kinds"].get(warning.kind, warning.kind)
    return f"{where}{colon} {label} — {translate_reason(warning.message, lang)}"


def format_report(report: ImportReport, lang: str = "fr", *, max_lines: int | None = None) -> str:
    """Format an :class:`ImportReport` for people, in French (``"fr"``) or English (``"en"``).

    The surrounding text follows ``lang``; the reasons this package writes (numbers, dates,
    words, duplicate references) are translated, validator reasons stay in English.

    Parameters
    ----------
    report
        What :func:`geodata.io.import_listings` returned.
    lang
        ``"fr"`` (default) or ``"en"``.
    max_lines
        Show at most this many errors and this many warnings (default: all).

    Returns
    -------
    str
        Several lines, without a trailing newline.
    """
    text = _TEXT["fr" if lang == "fr" else "en"]
    kind = report.row_kind
    lines = [str(text["title"]).format(name=Path(report.path).name, fmt=report.fmt.upper())]
    if report.notes:
        names = text["note_names"]
        notes = ", ".join(f"{names.get(k, k)} {v}" for k, v in report.notes.items())
        lines.append(str(text["notes"]).format(notes=notes))
    lines.append(
        str(text["read"]).format(
            total=report.total_rows,
            rows=text["features" if kind == "feature" else "rows"],
            valid=report.valid_rows,
            invalid=report.invalid_rows,
        )
    )
    if report.written:
        lines.append(
            str(text["written"]).format(
                created=len(report.created),
                updated=len(report.updated),
                unchanged=len(report.unchanged),
            )
        )
        if report.errors:
            lines.append(str(text["skipped"]).format(invalid=report.invalid_rows))
    elif report.dry_run:
        lines.append(str(text["dry"]))
    elif report.errors and report.valid_rows and not report.skip_invalid:
        lines.append(str(text["refused"]).format(valid=report.valid_rows))
    else:
        lines.append(str(text["nothing"]))
    for title, entries, render in (
        (
            text["errors"],
            report.errors,
            lambda e: format_row_error(e, lang=lang, kind=kind, header_row=report.header_row),
        ),
        (
            text["warnings"],
            report.warnings,
            lambda w: _format_warning(w, lang, kind, report.header_row),
        ),
    ):
        if not entries:
            continue
        more = report.more_errors if entries is report.errors else 0
        lines.append(str(title).format(n=len(entries) + more))
        shown = entries if max_lines is None else entries[:max_lines]
        lines.extend(f"  {render(entry)}" for entry in shown)
        if len(shown) < len(entries):
            lines.append("  " + str(text["more"]).format(n=len(entries) - len(shown)))
        if more:
            lines.append("  " + str(text["capped"]).format(n=more, most=len(entries)))
    return "\n".join(lines)
