"""Reasons rendered in French or English, with each language's number format.

Criteria give their reasons as data (:class:`~matcher.criteria.base.Reason`: criterion,
code, params) together with one message per code and language; this module is the one
place that turns them into text (:func:`render`), for the API, the pages and the CLI alike.
French uses a narrow no-break space (U+202F) between thousands, a decimal comma and a
no-break space (U+00A0) before units and before ``:`` — "3 200 m²", "1,2 km".
"""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import TYPE_CHECKING, Any

from geodata.schemas import KIND_LABELS, USE_LABELS
from matcher._codes import USE_BIT, uses_of_mask
from matcher.criteria.registry import DEFAULT_REGISTRY, Reason, Registry, day_to_date

if TYPE_CHECKING:
    from matcher.needs import NeedTable

__all__ = [
    "LanguageFormatter",
    "criterion_label",
    "explain_row",
    "fmt_area",
    "fmt_date",
    "fmt_distance",
    "fmt_money",
    "fmt_number",
    "render",
    "render_relaxation",
]

NNBSP = "\u202f"
NBSP = "\u00a0"

_MONTHS_FR = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def fmt_number(x: float, lang: str = "fr", decimals: int = 0, *, trim: bool = False) -> str:
    """A number with the language's separators.

    Examples
    --------
    >>> fmt_number(3200, "fr") == "3\u202f200"
    True
    >>> fmt_number(1234.5, "en", 1)
    '1,234.5'
    >>> fmt_number(1.0, "fr", 1, trim=True)
    '1'
    """
    s = f"{x:,.{decimals}f}"
    if trim and decimals and s.rstrip("0").endswith("."):
        s = s.rstrip("0")[:-1]
    if s in ("-0", "-0.0"):
        s = s[1:]
    if lang == "fr":
        s = s.replace(",", NNBSP).replace(".", ",")
    return s


def fmt_area(m2: float, lang: str = "fr") -> str:
    """Square metres, rounded to the unit.

    Examples
    --------
    >>> fmt_area(3200) == "3\u202f200\u00a0m²"
    True
    """
    return f"{fmt_number(round(m2), lang)}{NBSP}m²"


def fmt_distance(metres: float, lang: str = "fr") -> str:
    """Metres under 1 km (to the 10 m), kilometres with one decimal above.

    Examples
    --------
    >>> fmt_distance(1234) == "1,2\u00a0km"
    True
    >>> fmt_distance(848, "en") == "850\u00a0m"
    True
    """
    if metres < 995:
        return f"{fmt_number(round(metres, -1), lang)}{NBSP}m"
    return f"{fmt_number(metres / 1000, lang, 1, trim=True)}{NBSP}km"


def fmt_money(eur: float, lang: str = "fr", unit: str = "") -> str:
    """Euros (no cents), with an optional unit such as "/m²/an".

    Examples
    --------
    >>> fmt_money(76500, "fr", "/an") == "76\u202f500\u00a0€/an"
    True
    >>> fmt_money(76500, "en", "/year")
    '€76,500/year'
    """
    num = fmt_number(round(eur), lang)
    return f"{num}{NBSP}€{unit}" if lang == "fr" else f"€{num}{unit}"


def _fmt_rate(eur: float, lang: str, unit: str = "") -> str:
    """Euros per m² and year: with cents when they are not zero (90,40 € is above 90 €)."""
    if round(eur, 2) == round(eur):
        return fmt_money(eur, lang, unit)
    num = fmt_number(eur, lang, 2)
    return f"{num}{NBSP}€{unit}" if lang == "fr" else f"€{num}{unit}"


def fmt_date(d: date, lang: str = "fr") -> str:
    """A date in words.

    Examples
    --------
    >>> fmt_date(date(2026, 3, 1))
    '1er mars 2026'
    >>> fmt_date(date(2026, 3, 15), "en")
    '15 March 2026'
    """
    if lang == "fr":
        day = "1er" if d.day == 1 else str(d.day)
        return f"{day} {_MONTHS_FR[d.month - 1]} {d.year}"
    return f"{d.day} {_MONTHS_EN[d.month - 1]} {d.year}"


def _use_labels(uses: Any, lang: str) -> str:
    idx = 0 if lang == "fr" else 1
    names = uses_of_mask(uses) if isinstance(uses, int) else [str(u) for u in uses]
    return ", ".join(USE_LABELS[u][idx].lower() for u in names if u in USE_BIT)


def _fold(text: str) -> str:
    norm = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(norm.lower().replace("_", " ").split())


_CURRENT_SITE = {
    "site actuel",
    "votre site actuel",
    "current site",
    "your current site",
    "site",
    "mon site actuel",
    "notre site actuel",
}


class LanguageFormatter:
    """Numbers, amounts, dates and names in one language, for the criteria's messages.

    Examples
    --------
    >>> LanguageFormatter("en").area(1200)
    '1,200\xa0m²'
    """

    def __init__(self, lang: str) -> None:
        if lang not in ("fr", "en"):
            msg = f"lang: expected 'fr' or 'en', got {lang!r}"
            raise ValueError(msg)
        self.lang = lang

    def area(self, m2: float) -> str:
        return fmt_area(m2, self.lang)

    def money(self, eur: float, unit: str = "") -> str:
        return fmt_money(eur, self.lang, unit)

    def rate(self, eur: float, unit: str = "") -> str:
        return _fmt_rate(eur, self.lang, unit)

    def distance(self, metres: float) -> str:
        return fmt_distance(metres, self.lang)

    def date(self, day: float | str) -> str:
        d = date.fromisoformat(day) if isinstance(day, str) else day_to_date(day)
        return fmt_date(d, self.lang)

    def number(self, x: float, decimals: int = 0) -> str:
        return fmt_number(x, self.lang, decimals, trim=True)

    def uses(self, uses: Any) -> str:
        return _use_labels(uses, self.lang)

    def kind(self, kind: str) -> str:
        return KIND_LABELS[kind][0 if self.lang == "fr" else 1]

    def place(self, label: str) -> str:
        if _fold(label) in _CURRENT_SITE:
            return "votre site actuel" if self.lang == "fr" else "your current site"
        return f"«{NBSP}{label}{NBSP}»" if self.lang == "fr" else f"“{label}”"

    def commune(self, code: str | None, name: str | None = None) -> str:
        if code is None:
            return "?"
        return f"{name} ({code})" if name else code

    def more(self, n: int) -> str:
        if self.lang == "fr":
            return f"{n} local de plus" if n == 1 else f"{n} locaux de plus"
        return f"{n} more premises"


_FORMATTERS = {lang: LanguageFormatter(lang) for lang in ("fr", "en")}


def render(reason: Reason, lang: str, registry: Registry = DEFAULT_REGISTRY) -> str:
    """The text of a reason in a language.

    Examples
    --------
    >>> render(Reason("availability", "when", {"available": None}), "fr")
    'disponible immédiatement'
    """
    if lang not in _FORMATTERS:
        msg = f"lang: expected 'fr' or 'en', got {lang!r}"
        raise ValueError(msg)
    try:
        message = registry.get(reason.criterion).messages[reason.code][lang]
    except KeyError as exc:
        msg = (
            f"reason: no {lang} message for code '{reason.code}' of criterion "
            f"'{reason.criterion}' (add it to the criterion's messages)"
        )
        raise KeyError(msg) from exc
    return message(reason.params, _FORMATTERS[lang])


def render_relaxation(
    reasons: list[Reason], brings: int, lang: str, registry: Registry = DEFAULT_REGISTRY
) -> str:
    """The text of a suggested change (one reason) or of changes made together (several),
    with the number of premises it brings.

    Examples
    --------
    >>> r = Reason("budget", "change", {"constraint": "max_rent_eur_m2_year",
    ...            "current": 90.0, "suggested": 100.0})
    >>> render_relaxation([r], 1, "en")
    'Rent ceiling: €100/m²/year instead of €90/m²/year — 1 more premises'
    """
    f = _FORMATTERS[lang]
    texts = [render(r, lang, registry) for r in reasons]
    if len(texts) == 1:
        return f"{texts[0]} — {f.more(brings)}"
    rest = [t[:1].lower() + t[1:] for t in texts[1:]]
    if lang == "fr":
        joined = " et ".join([texts[0], *rest])
        return f"Aucun changement seul ne suffit{NBSP}; ensemble{NBSP}: {joined} — {f.more(brings)}"
    joined = " and ".join([texts[0], *rest])
    return f"No single change is enough; together: {joined} — {f.more(brings)}"


def criterion_label(name: str, lang: str, registry: Registry = DEFAULT_REGISTRY) -> str:
    """A criterion's name for people.

    Examples
    --------
    >>> criterion_label("use", "fr"), criterion_label("use", "en")
    ('usage', 'use')
    """
    label = registry.get(name).label
    return label[0] if lang == "fr" else label[1]


def explain_row(
    record: dict[str, Any],
    table: NeedTable,
    i: int,
    utilities: dict[str, float],
    langs: tuple[str, ...] = ("fr", "en"),
) -> list[dict[str, Any]]:
    """The reasons of one listing (an index record) for need ``i``, in criterion order.

    Each is a dict: ``criterion``, ``code``, ``params`` and ``text`` by language.
    """
    reg = table.registry
    out = []
    for name, u in utilities.items():
        for reason in reg.get(name).reasons(record, table.params, i, u):
            d = reason.to_dict()
            d["text"] = {lang: render(reason, lang, reg) for lang in langs}
            out.append(d)
    return out
