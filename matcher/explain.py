"""Short reasons for a score, in French and English, with each language's number format.

French uses a narrow no-break space (U+202F) between thousands, a decimal comma and a
no-break space (U+00A0) before units and before ``:`` — "3 200 m²", "1,2 km".
"""

from __future__ import annotations

import unicodedata
from datetime import date, timedelta
from typing import Any

import numpy as np

from geodata.schemas import KIND_LABELS, USE_LABELS
from matcher import criteria as cr
from matcher._codes import KINDS, uses_of_mask
from matcher.needs import TECHNICAL_FIELDS, NeedTable

__all__ = [
    "explain_row",
    "fmt_area",
    "fmt_date",
    "fmt_distance",
    "fmt_money",
    "fmt_number",
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


def _day_to_date(day: float) -> date:
    return date(1970, 1, 1) + timedelta(days=int(np.floor(day)))


def _use_labels(mask: int, lang: str) -> str:
    idx = 0 if lang == "fr" else 1
    labels = [USE_LABELS[u][idx] for u in uses_of_mask(mask)]
    return ", ".join(lab.lower() for lab in labels)


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


def _place_name(label: str, lang: str) -> str:
    if _fold(label) in _CURRENT_SITE:
        return "votre site actuel" if lang == "fr" else "your current site"
    return f"«{NBSP}{label}{NBSP}»" if lang == "fr" else f"“{label}”"


def _commune_label(code: str | None, name: str | None = None) -> str:
    if code is None:
        return "?"
    return f"{name} ({code})" if name else code


# --- one function per criterion, each returning (fr, en) lists -----------------------------


def _surface(rec: dict[str, Any], t: NeedTable, i: int, u: float) -> tuple[list[str], list[str]]:
    lo, hi = float(t.s_min[i]), float(t.s_max[i])
    out = []
    for lang in ("fr", "en"):
        want = (
            fmt_area(lo, lang)
            if lo == hi
            else (
                f"{fmt_number(lo, lang)} à {fmt_area(hi, lang)}"
                if lang == "fr"
                else f"{fmt_number(lo, lang)}–{fmt_area(hi, lang)}"
            )
        )
        offer = fmt_area(rec["surface_m2"], lang)
        if rec["divisible"]:
            min_lot = rec["min_lot_m2"]
            if min_lot is not None and not np.isnan(min_lot):
                offer += (
                    f" divisible dès {fmt_area(min_lot, lang)}"
                    if lang == "fr"
                    else f" divisible from {fmt_area(min_lot, lang)}"
                )
            else:
                offer += " divisible"
        sep = f"votre besoin{NBSP}: " if lang == "fr" else "you need "
        text = f"{offer} — {sep}{want}"
        if u < 1:
            small = rec["surface_m2"] < lo
            far = u < 0.5
            if lang == "fr":
                text += (
                    (" (bien trop petit)" if far else " (un peu petit)")
                    if small
                    else (" (bien trop grand)" if far else " (un peu grand)")
                )
            else:
                text += (
                    (" (far too small)" if far else " (a little small)")
                    if small
                    else (" (far too large)" if far else " (a little large)")
                )
        out.append(text)
    return [out[0]], [out[1]]


def _use(rec: dict[str, Any], t: NeedTable, i: int) -> tuple[list[str], list[str]]:
    kind = KINDS[rec["kind"]]
    want = int(t.use_mask[i])
    fr_parts = [KIND_LABELS[kind][0]]
    en_parts = [KIND_LABELS[kind][1]]
    if want:
        stated = int(rec["uses"])
        have = stated if stated else int(rec["uses_eff"])
        ok, missing = want & have, want & ~have
        if not stated:
            fr_parts.append(
                f"usages non précisés (d'ordinaire{NBSP}: {_use_labels(have, 'fr') or 'aucun'})"
            )
            en_parts.append(f"uses not stated (usually: {_use_labels(have, 'en') or 'none'})")
        else:
            if ok:
                fr_parts.append(f"autorise{NBSP}: {_use_labels(ok, 'fr')}")
                en_parts.append(f"allows {_use_labels(ok, 'en')}")
            if missing:
                fr_parts.append(f"n'autorise pas{NBSP}: {_use_labels(missing, 'fr')}")
                en_parts.append(f"does not allow {_use_labels(missing, 'en')}")
    kinds = int(t.kind_mask[i])
    if kinds and not (kinds >> rec["kind"]) & 1:
        fr_parts.append("type de local non recherché")
        en_parts.append("not a kind you asked for")
    fr = fr_parts[0] + (" — " + f"{NBSP}; ".join(fr_parts[1:]) if fr_parts[1:] else "")
    en = en_parts[0] + (" — " + "; ".join(en_parts[1:]) if en_parts[1:] else "")
    return [fr], [en]


def _budget(rec: dict[str, Any], t: NeedTable, i: int) -> tuple[list[str], list[str]]:
    fr: list[str] = []
    en: list[str] = []
    bits = int(rec["tenure"]) & int(t.wanted_bits[i])
    max_rent, max_sale = float(t.max_rent[i]), float(t.max_sale[i])
    taken = float(cr.surface_taken(rec["lot_min"], rec["surface_m2"], t.s_min[i]))
    if bits == 0:
        if int(t.wanted_bits[i]) == 1:
            return (
                ["proposé à la vente seulement, vous cherchez à louer"],
                ["for sale only, you want to rent"],
            )
        return (
            ["proposé à la location seulement, vous cherchez à acheter"],
            ["for rent only, you want to buy"],
        )
    if bits & 1:
        rent = rec["rent_eur_m2_year"]
        if rent is None or np.isnan(rent):
            fr.append("loyer non communiqué")
            en.append("rent not stated")
        else:
            f = f"loyer {_fmt_rate(rent, 'fr', '/m²/an')}"
            e = f"rent {_fmt_rate(rent, 'en', '/m²/year')}"
            if not np.isnan(max_rent):
                if rent <= max_rent:
                    f += f", dans votre plafond de {_fmt_rate(max_rent, 'fr')}"
                    e += f", within your ceiling of {_fmt_rate(max_rent, 'en')}"
                else:
                    f += f", au-dessus de votre plafond de {_fmt_rate(max_rent, 'fr')}"
                    e += f", above your ceiling of {_fmt_rate(max_rent, 'en')}"
            f += f" ({fmt_money(rent * taken, 'fr', '/an')} pour {fmt_area(taken, 'fr')})"
            e += f" ({fmt_money(rent * taken, 'en', '/year')} for {fmt_area(taken, 'en')})"
            fr.append(f)
            en.append(e)
    if bits & 2:
        price = rec["sale_price_eur"]
        if price is None or np.isnan(price):
            fr.append("prix de vente non communiqué")
            en.append("sale price not stated")
        else:
            total = float(cr.sale_total(price, rec["surface_m2"], taken))
            f = f"prix de vente {fmt_money(total, 'fr')}"
            e = f"sale price {fmt_money(total, 'en')}"
            if total != price:
                f += f" pour {fmt_area(taken, 'fr')} (au prorata)"
                e += f" for {fmt_area(taken, 'en')} (pro rata)"
            if not np.isnan(max_sale):
                if total <= max_sale:
                    f += f", dans votre budget de {fmt_money(max_sale, 'fr')}"
                    e += f", within your budget of {fmt_money(max_sale, 'en')}"
                else:
                    f += f", au-dessus de votre budget de {fmt_money(max_sale, 'fr')}"
                    e += f", above your budget of {fmt_money(max_sale, 'en')}"
            fr.append(f)
            en.append(e)
    return fr, en


def _location(rec: dict[str, Any], t: NeedTable, i: int) -> tuple[list[str], list[str]]:
    fr: list[str] = []
    en: list[str] = []
    x, y = rec["x"], rec["y"]
    if t.communes[i]:
        code = rec["commune_insee"]
        where = _commune_label(code, rec.get("commune_name"))
        if code in t.communes[i]:
            fr.append(f"à {where}, dans vos communes")
            en.append(f"in {where}, one of your communes")
        else:
            fr.append(f"à {where}, hors de vos communes")
            en.append(f"in {where}, outside your communes")
    poly = t.polygon[i]
    if poly is not None:
        import shapely

        if shapely.covers(poly, shapely.Point(x, y)):
            fr.append("dans votre zone de recherche")
            en.append("inside your search area")
        else:
            d = float(shapely.distance(poly, shapely.Point(x, y)))
            fr.append(f"hors de votre zone de recherche, à {fmt_distance(d, 'fr')}")
            en.append(f"outside your search area, {fmt_distance(d, 'en')} from it")
    if not np.isnan(t.cx[i]):
        d = float(cr.distance_m(x, y, t.cx[i], t.cy[i]))
        if t.radius_hard[i]:
            r = float(t.reach[i])
            fr.append(
                f"à {fmt_distance(d, 'fr')} du centre de votre recherche "
                f"(rayon {fmt_distance(r, 'fr')})"
            )
            en.append(
                f"{fmt_distance(d, 'en')} from the centre of your search "
                f"(radius {fmt_distance(r, 'en')})"
            )
        else:
            fr.append(f"à {fmt_distance(d, 'fr')} du centre de votre recherche")
            en.append(f"{fmt_distance(d, 'en')} from the centre of your search")
    need = t.needs[i]
    for j, place in enumerate(need.places):
        d = float(cr.distance_m(x, y, t.place_x[i][j], t.place_y[i][j]))
        f = f"à {fmt_distance(d, 'fr')} de {_place_name(place.label, 'fr')}"
        e = f"{fmt_distance(d, 'en')} from {_place_name(place.label, 'en')}"
        if place.max_distance_m is not None and d > place.max_distance_m:
            f += f" (au-delà de {fmt_distance(place.max_distance_m, 'fr')})"
            e += f" (beyond {fmt_distance(place.max_distance_m, 'en')})"
        fr.append(f)
        en.append(e)
    return fr, en


def _access(rec: dict[str, Any], t: NeedTable, i: int) -> tuple[list[str], list[str]]:
    fr: list[str] = []
    en: list[str] = []
    for kind, limit, f_label, e_label in (
        ("station", t.station_max[i], "gare la plus proche", "nearest station"),
        ("interchange", t.interchange_max[i], "échangeur le plus proche", "nearest interchange"),
    ):
        if np.isnan(limit):
            continue
        d = rec[f"{kind}_dist"]
        name = rec[f"{kind}_name"]
        if d is None or np.isnan(d):
            fr.append(f"{f_label}{NBSP}: non connue")
            en.append(f"{e_label}: unknown")
            continue
        f = f"{f_label}{NBSP}: {name}, à {fmt_distance(d, 'fr')}"
        e = f"{e_label}: {name}, {fmt_distance(d, 'en')} away"
        if d > limit:
            f += f" (au-delà de {fmt_distance(limit, 'fr')})"
            e += f" (beyond {fmt_distance(limit, 'en')})"
        fr.append(f)
        en.append(e)
    return fr, en


_TECH_TEXT = {
    "ceiling_height_m": ("hauteur sous plafond", "ceiling height", "m", 1),
    "floor_load_t_m2": ("charge au sol", "floor load", "t/m²", 1),
    "loading_docks": ("quais de chargement", "loading docks", "", 0),
    "ground_level_doors": ("portes de plain-pied", "ground-level doors", "", 0),
    "power_kva": ("puissance", "power", "kVA", 0),
}


def _technical(rec: dict[str, Any], t: NeedTable, i: int) -> tuple[list[str], list[str]]:
    fr: list[str] = []
    en: list[str] = []
    for j, (_, col) in enumerate(TECHNICAL_FIELDS):
        minimum = t.tech_min[i, j]
        if np.isnan(minimum):
            continue
        f_name, e_name, unit, dec = _TECH_TEXT[col]
        value = rec[col]
        if value is None or np.isnan(value):
            fr.append(f"{f_name}{NBSP}: non renseigné")
            en.append(f"{e_name}: not stated")
            continue

        def q(v: float, lang: str, unit: str = unit, dec: int = dec) -> str:
            num = fmt_number(v, lang, dec, trim=True)
            return f"{num}{NBSP}{unit}" if unit else num

        fr.append(f"{f_name} {q(value, 'fr')} (min. {q(minimum, 'fr')})")
        en.append(f"{e_name} {q(value, 'en')} (min. {q(minimum, 'en')})")
    if t.needs_icpe[i]:
        icpe = rec["icpe"]
        fr.append(
            {1: "ICPE autorisée", 0: "ICPE non autorisée"}.get(icpe, "ICPE : non précisé").replace(
                " : ", f"{NBSP}: "
            )
        )
        en.append({1: "ICPE allowed", 0: "ICPE not allowed"}.get(icpe, "ICPE: not stated"))
    return ["; ".join(fr).replace("; ", f"{NBSP}; ")] if fr else [], ["; ".join(en)] if en else []


def _availability(rec: dict[str, Any], t: NeedTable, i: int) -> tuple[list[str], list[str]]:
    day = rec["available_day"]
    wanted = _day_to_date(t.wanted_day[i])
    if day is None or np.isnan(day):
        return ["disponible immédiatement"], ["available now"]
    when = _day_to_date(day)
    if day <= t.wanted_day[i]:
        return (
            [f"disponible le {fmt_date(when, 'fr')}, avant votre date du {fmt_date(wanted, 'fr')}"],
            [f"available on {fmt_date(when, 'en')}, before your date of {fmt_date(wanted, 'en')}"],
        )
    return (
        [f"disponible le {fmt_date(when, 'fr')}, après votre date du {fmt_date(wanted, 'fr')}"],
        [f"available on {fmt_date(when, 'en')}, after your date of {fmt_date(wanted, 'en')}"],
    )


def explain_row(
    record: dict[str, Any], table: NeedTable, i: int, utilities: dict[str, float]
) -> dict[str, list[str]]:
    """French and English reasons for one listing (an index record) and need ``i``.

    One or more short sentences per active criterion, in criterion order.
    """
    fr: list[str] = []
    en: list[str] = []
    for name in utilities:
        if name == "surface":
            f, e = _surface(record, table, i, utilities[name])
        elif name == "use":
            f, e = _use(record, table, i)
        elif name == "budget":
            f, e = _budget(record, table, i)
        elif name == "location":
            f, e = _location(record, table, i)
        elif name == "access":
            f, e = _access(record, table, i)
        elif name == "technical":
            f, e = _technical(record, table, i)
        else:
            f, e = _availability(record, table, i)
        fr.extend(f)
        en.extend(e)
    return {"fr": fr, "en": en}
