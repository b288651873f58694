"""The listing form of the developer pages: its fields, how the typed text is read, and the
errors in the reader's language, each tied to the field it is about.

The form is read into the values :class:`geodata.schemas.PremisesCreate` accepts (numbers
written the French way, ``12,5`` or ``3 200``, included); everything else is checked by the
schema and the territory, as for the API, and their messages (English) are put in French here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from pydantic import ValidationError

from geodata.io.report import translate_reason
from geodata.schemas import PremisesKind, Status, Tenure, Use, label

from ..pages import fmt_number

__all__ = [
    "FIELDS",
    "SECTIONS",
    "FieldSpec",
    "ParsedForm",
    "field_label",
    "form_values",
    "parse_listing_form",
    "translate_error",
    "validation_errors",
]

Lang = Literal["fr", "en"]
Kind = Literal[
    "text", "textarea", "number", "int", "date", "select", "check", "checks", "yesno", "lines"
]


@dataclass(frozen=True)
class FieldSpec:
    """One field of the listing form: its label, unit and help in French and English."""

    name: str
    kind: Kind
    fr: str
    en: str
    unit: str = ""
    help_fr: str = ""
    help_en: str = ""
    required: bool = False
    options: tuple[str, ...] = ()
    step: str = "any"
    staff_only: bool = False

    def label(self, lang: Lang) -> str:
        """The label in ``lang``."""
        return self.fr if lang == "fr" else self.en

    def help(self, lang: Lang) -> str:
        """The help text in ``lang``."""
        return self.help_fr if lang == "fr" else self.help_en

    def option_label(self, value: str, lang: Lang) -> str:
        """The readable name of one of the options (never the code)."""
        return label(value, lang)


_F = FieldSpec

FIELDS: tuple[FieldSpec, ...] = (
    _F(
        "title",
        "text",
        "Titre de l'annonce",
        "Listing title",
        required=True,
        help_fr="Ce que verront les entreprises, par exemple « Atelier 450 m² avec quai ».",
        help_en='What companies will see, e.g. "450 m² workshop with a dock".',
    ),
    _F(
        "kind",
        "select",
        "Type de local",
        "Kind of premises",
        required=True,
        options=tuple(k.value for k in PremisesKind),
    ),
    _F(
        "uses",
        "checks",
        "Usages autorisés",
        "Allowed uses",
        options=tuple(u.value for u in Use),
        help_fr="Les activités que le local accepte.",
        help_en="The activities it allows.",
    ),
    _F(
        "description",
        "textarea",
        "Description",
        "Description",
        help_fr="5 000 caractères au plus.",
        help_en="At most 5,000 characters.",
    ),
    _F(
        "external_ref",
        "text",
        "Votre référence",
        "Your reference",
        help_fr="Votre propre référence ; un import de tableur met à jour l'annonce qui la porte.",
        help_en="Your own reference; a spreadsheet import updates the listing that carries it.",
    ),
    _F(
        "lot_ref",
        "text",
        "Numéro de lot",
        "Lot number",
        help_fr="Dans un parc ou un village d'entreprises divisé en lots.",
        help_en="In a park or business village divided into lots.",
    ),
    _F("surface_m2", "number", "Surface totale", "Total surface", unit="m²", required=True),
    _F("activity_m2", "number", "dont activité", "of which activity", unit="m²"),
    _F("storage_m2", "number", "dont stockage", "of which storage", unit="m²"),
    _F(
        "office_m2",
        "number",
        "dont bureaux",
        "of which offices",
        unit="m²",
        help_fr="Activité, stockage et bureaux ne dépassent pas la surface totale.",
        help_en="Activity, storage and offices add up to at most the total surface.",
    ),
    _F("mezzanine_m2", "number", "Mezzanine", "Mezzanine", unit="m²"),
    _F("divisible", "check", "Divisible en lots", "Divisible into lots"),
    _F(
        "min_lot_m2",
        "number",
        "Lot minimum",
        "Smallest lot",
        unit="m²",
        help_fr="Seulement pour un local divisible.",
        help_en="Only for a divisible listing.",
    ),
    _F("plot_m2", "number", "Surface du terrain", "Plot area", unit="m²"),
    _F("ceiling_height_m", "number", "Hauteur sous plafond", "Ceiling height", unit="m"),
    _F("floor_load_t_m2", "number", "Charge au sol", "Floor load", unit="t/m²"),
    _F("loading_docks", "int", "Quais de chargement", "Loading docks", step="1"),
    _F("ground_level_doors", "int", "Portes de plain-pied", "Ground-level doors", step="1"),
    _F("power_kva", "number", "Puissance électrique", "Electrical power", unit="kVA"),
    _F(
        "icpe_allowed",
        "yesno",
        "Activité ICPE possible",
        "ICPE-classified activity allowed",
        help_fr="Installation classée pour la protection de l'environnement.",
        help_en="Activity classified for environmental protection (ICPE).",
    ),
    _F("parking_spaces", "int", "Places de stationnement", "Parking spaces", step="1"),
    _F(
        "tenure",
        "select",
        "Mode de commercialisation",
        "Offered for",
        required=True,
        options=tuple(t.value for t in Tenure),
    ),
    _F(
        "rent_eur_m2_year",
        "number",
        "Loyer",
        "Rent",
        unit="€ HT HC/m²/an",
        help_fr="Hors taxes et hors charges, par m² et par an.",
        help_en="Excluding tax and service charges, per m² per year.",
    ),
    _F("sale_price_eur", "number", "Prix de vente", "Sale price", unit="€ HT"),
    _F("charges_eur_m2_year", "number", "Charges", "Service charges", unit="€/m²/an"),
    _F(
        "available_from",
        "date",
        "Disponible à partir du",
        "Available from",
        help_fr="Vide : disponible tout de suite.",
        help_en="Empty: available now.",
    ),
    _F("status", "select", "Statut", "Status", options=tuple(s.value for s in Status)),
    _F("address", "text", "Adresse", "Address"),
    _F(
        "lon",
        "number",
        "Longitude",
        "Longitude",
        unit="°",
        required=True,
        help_fr="WGS84, par exemple 2,3912 ; cliquez sur la carte pour la remplir.",
        help_en="WGS84, e.g. 2.3912; click the map to fill it in.",
    ),
    _F(
        "lat",
        "number",
        "Latitude",
        "Latitude",
        unit="°",
        required=True,
        help_fr="WGS84, par exemple 48,7870.",
        help_en="WGS84, e.g. 48.7870.",
    ),
    _F("contact_name", "text", "Nom du contact", "Contact name"),
    _F("contact_email", "text", "E-mail du contact", "Contact e-mail"),
    _F("contact_phone", "text", "Téléphone du contact", "Contact phone"),
    _F(
        "contact_public",
        "check",
        "Publier le contact",
        "Publish the contact",
        help_fr="Sinon, seuls vous et l'équipe le voient ; les entreprises passent par une "
        "demande de contact.",
        help_en="Otherwise only you and the staff see it; companies send a contact request.",
    ),
    _F(
        "photos",
        "lines",
        "Liens vers des photos publiées ailleurs",
        "Links to photos published elsewhere",
        help_fr="Une adresse http(s) par ligne. Vos propres photos s'envoient dans « Photos "
        "de l'annonce », sous ce formulaire, une fois l'annonce enregistrée.",
        help_en='One http(s) address per line. Your own photos are sent in "Photos of the '
        'listing", below this form, once the listing is saved.',
    ),
    _F(
        "owner_account",
        "text",
        "Compte propriétaire",
        "Owner account",
        staff_only=True,
        help_fr="Le compte développeur qui gère l'annonce.",
        help_en="The developer account that manages the listing.",
    ),
)

_BY_NAME = {f.name: f for f in FIELDS}

#: The form's fieldsets: (legend French, legend English, field names).
SECTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "Le local",
        "The premises",
        ("title", "kind", "uses", "description", "external_ref", "lot_ref"),
    ),
    ("Emplacement", "Location", ("address", "lon", "lat")),
    (
        "Surfaces",
        "Surfaces",
        (
            "surface_m2",
            "activity_m2",
            "storage_m2",
            "office_m2",
            "mezzanine_m2",
            "divisible",
            "min_lot_m2",
            "plot_m2",
        ),
    ),
    (
        "Caractéristiques techniques",
        "Technical features",
        (
            "ceiling_height_m",
            "floor_load_t_m2",
            "loading_docks",
            "ground_level_doors",
            "power_kva",
            "icpe_allowed",
            "parking_spaces",
        ),
    ),
    (
        "Conditions",
        "Terms",
        (
            "tenure",
            "rent_eur_m2_year",
            "sale_price_eur",
            "charges_eur_m2_year",
            "available_from",
            "status",
        ),
    ),
    (
        "Contact et photos",
        "Contact and photos",
        (
            "contact_name",
            "contact_email",
            "contact_phone",
            "contact_public",
            "photos",
            "owner_account",
        ),
    ),
)


def field_label(name: str, lang: Lang) -> str:
    """The readable name of a listing field (its code when the form has no such field)."""
    spec = _BY_NAME.get(name)
    return spec.label(lang) if spec else name


@dataclass
class ParsedForm:
    """What the form gave: ``data`` for the schema, ``values`` as typed (to show again) and
    ``errors`` per field (already in the reader's language)."""

    data: dict[str, Any]
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)


_SPACES = re.compile(r"[\s\u00a0\u202f]")


def _number(raw: str, lang: Lang, *, whole: bool) -> float | int:
    text = _SPACES.sub("", raw).replace(",", ".")
    try:
        value = float(text)
    except ValueError:
        msg = f"« {raw} » n'est pas un nombre" if lang == "fr" else f"'{raw}' is not a number"
        raise ValueError(msg) from None
    if whole:
        if not value.is_integer():
            msg = (
                f"« {raw} » n'est pas un nombre entier"
                if lang == "fr"
                else f"'{raw}' is not a whole number"
            )
            raise ValueError(msg)
        return int(value)
    return value


def _date(raw: str, lang: Lang) -> date:
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            return datetime.strptime(raw.strip(), fmt).date()
        except ValueError:
            continue
    msg = (
        f"« {raw} » n'est pas une date (JJ/MM/AAAA)"
        if lang == "fr"
        else f"'{raw}' is not a date (YYYY-MM-DD)"
    )
    raise ValueError(msg)


def parse_listing_form(form: Mapping[str, Sequence[str]], lang: Lang, *, staff: bool) -> ParsedForm:
    """Read the form's text into listing values; ``form`` maps each name to its values.

    Empty optional fields are ``None``; a number may use a decimal comma and spaces.
    """
    data: dict[str, Any] = {}
    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for spec in FIELDS:
        if spec.staff_only and not staff:
            continue
        given = [str(v) for v in form.get(spec.name, [])]
        raw = given[0].strip() if given else ""
        if spec.kind == "checks":
            values[spec.name] = given
            data[spec.name] = [v for v in given if v]
            continue
        if spec.kind == "check":
            values[spec.name] = bool(raw)
            data[spec.name] = bool(raw)
            continue
        values[spec.name] = given[0] if given else ""
        if spec.kind == "lines":
            data[spec.name] = [line.strip() for line in raw.splitlines() if line.strip()]
            continue
        if spec.kind == "yesno":
            data[spec.name] = {"yes": True, "no": False}.get(raw)
            continue
        if not raw:
            # The schema says what is missing (title "" is too short, a select is required);
            # a status left empty keeps the listing's (a new one is available).
            if spec.name != "status":
                data[spec.name] = "" if spec.name == "title" else None
            continue
        try:
            if spec.kind in ("number", "int"):
                data[spec.name] = _number(raw, lang, whole=spec.kind == "int")
            elif spec.kind == "date":
                data[spec.name] = _date(raw, lang)
            else:
                data[spec.name] = raw
        except ValueError as exc:
            errors[spec.name] = str(exc)
    return ParsedForm(data=data, values=values, errors=errors)


def form_values(item: Mapping[str, Any], lang: Lang) -> dict[str, Any]:
    """A stored listing's values as the form shows them (numbers the reader's way)."""
    values: dict[str, Any] = {}
    for spec in FIELDS:
        value = item.get(spec.name)
        if spec.kind == "checks":
            values[spec.name] = [str(v) for v in value or []]
        elif spec.kind == "check":
            values[spec.name] = bool(value)
        elif spec.kind == "yesno":
            values[spec.name] = "" if value is None else ("yes" if value else "no")
        elif spec.kind == "lines":
            values[spec.name] = "\n".join(value or [])
        elif value is None:
            values[spec.name] = ""
        elif spec.kind in ("number", "int"):
            number = float(value)
            if spec.name in ("lon", "lat"):
                values[spec.name] = f"{number:.6f}".rstrip("0").rstrip(".")
            else:
                values[spec.name] = _plain_number(number, lang)
        elif spec.kind == "date":
            values[spec.name] = value.isoformat() if hasattr(value, "isoformat") else str(value)
        else:
            values[spec.name] = str(value)
    return values


def _plain_number(number: float, lang: Lang) -> str:
    text = f"{number:.10g}" if not number.is_integer() else str(int(number))
    return text.replace(".", ",") if lang == "fr" else text


# --- error messages ------------------------------------------------------------------------

#: Messages of the schema's and the territory's checks (English), and their French wording.
_FRENCH: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"^\((?P<lon>[^,]+), (?P<lat>[^)]+)\) is outside the territory (?P<t>.+), "
            r"(?P<km>[\d.]+) km from its boundary$"
        ),
        "le point ({lon}, {lat}) est hors du territoire {t}, à {km} km de sa limite ; "
        "placez-le dans le territoire",
    ),
    (
        re.compile(
            r"^\((?P<lon>[^,]+), (?P<lat>[^)]+)\) looks like latitude and longitude swapped; "
            r"\((?P<lat2>[^,]+), (?P<lon2>[^)]+)\) would be in (?P<c>.+)$"
        ),
        "({lon}, {lat}) ressemble à une latitude et une longitude inversées ; "
        "({lat2}, {lon2}) serait à {c}",
    ),
    (
        re.compile(
            r"^the split \((?P<n>.*)\) adds up to (?P<a>\S+) m², more than surface_m2 = "
            r"(?P<s>\S+) m²$"
        ),
        "la répartition ({n}) fait {a} m², plus que la surface totale ({s} m²)",
    ),
    (
        re.compile(r"^given on a listing that is not divisible \(set divisible=true\)$"),
        "indiqué pour un local non divisible (cochez « Divisible en lots »)",
    ),
    (
        re.compile(
            r"^the minimum lot \((?P<a>\S+) m²\) is larger than the surface \((?P<s>\S+) m²\)$"
        ),
        "le lot minimum ({a} m²) dépasse la surface ({s} m²)",
    ),
    (
        re.compile(r"^a sale price on a rent-only listing \(tenure is 'rent'\)$"),
        "un prix de vente sur un local proposé seulement à la location",
    ),
    (
        re.compile(r"^a rent on a sale-only listing \(tenure is 'sale'\)$"),
        "un loyer sur un local proposé seulement à la vente",
    ),
    (re.compile(r"^'(?P<v>.*)' is not an e-mail address$"), "« {v} » n'est pas une adresse e-mail"),
    (re.compile(r"^'(?P<v>.*)' is not an http\(s\) URL$"), "« {v} » n'est pas une adresse http(s)"),
    (re.compile(r"^contains a control character$"), "contient un caractère de contrôle"),
    (
        re.compile(
            r"^the reference '(?P<v>.*)' belongs to a listing of another account; give this "
            r"row a reference of your own$"
        ),
        "la référence « {v} » est celle d'une annonce d'un autre compte ; donnez à cette "
        "ligne une référence à vous",
    ),
    (
        re.compile(r"^unknown INSEE code '(?P<c>\w+)': not a commune of the territory (?P<t>.+)$"),
        "code INSEE {c} inconnu : pas une commune du territoire {t}",
    ),
]


def translate_error(reason: str, lang: Lang) -> str:
    """A reason of the schema, the territory or the importer in ``lang`` (French when known).

    Examples
    --------
    >>> translate_error("(2.9, 48.9) is outside the territory GOSB, 25.1 km from its boundary",
    ...                 "fr")[:60]
    'le point (2.9, 48.9) est hors du territoire GOSB, à 25,1 km '
    >>> translate_error("'12O0' is not a number", "fr")
    "'12O0' n'est pas un nombre"
    """
    if lang != "fr":
        return reason
    for pattern, template in _FRENCH:
        match = pattern.match(reason)
        if match:
            parts = match.groupdict()
            if "km" in parts:
                parts["km"] = parts["km"].replace(".", ",")
            return template.format(**parts)
    return translate_reason(reason, lang)


def _bound(value: Any, lang: Lang) -> str:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        return fmt_number(number, lang, 0 if number.is_integer() else 2)
    return str(value)


_BY_TYPE: dict[str, tuple[str, str]] = {
    "missing": ("champ obligatoire", "required"),
    "string_too_short": ("champ obligatoire", "required"),
    "string_too_long": ("{max_length} caractères au plus", "at most {max_length} characters"),
    "greater_than": ("doit être supérieur à {gt}", "must be greater than {gt}"),
    "greater_than_equal": ("doit être supérieur ou égal à {ge}", "must be at least {ge}"),
    "less_than": ("doit être inférieur à {lt}", "must be less than {lt}"),
    "less_than_equal": ("doit être au plus {le}", "must be at most {le}"),
    "finite_number": ("doit être un nombre fini", "must be a finite number"),
    "enum": ("valeur inconnue ; choisissez dans la liste", "unknown value; pick one in the list"),
    "literal_error": (
        "valeur inconnue ; choisissez dans la liste",
        "unknown value; pick one in the list",
    ),
    "float_parsing": ("n'est pas un nombre", "is not a number"),
    "float_type": ("n'est pas un nombre", "is not a number"),
    "int_parsing": ("n'est pas un nombre entier", "is not a whole number"),
    "int_type": ("n'est pas un nombre entier", "is not a whole number"),
    "date_parsing": ("n'est pas une date", "is not a date"),
    "date_from_datetime_parsing": ("n'est pas une date", "is not a date"),
    "string_type": ("champ obligatoire", "required"),
}

_FIELD_LIST = re.compile(r"^(?P<fields>[a-z_0-9]+(?:, [a-z_0-9]+)*) ?: (?P<reason>.+)$", re.DOTALL)


def validation_errors(exc: ValidationError, lang: Lang) -> dict[str, str]:
    """``{field: message}`` of a listing's validation error, in ``lang``.

    A check over several fields (``lon, lat: …``, the surface split) is reported on each.
    """
    out: dict[str, str] = {}
    for err in exc.errors(include_url=False):
        loc = [str(p) for p in err.get("loc", ())]
        kind = str(err.get("type", ""))
        message = str(err.get("msg", "")).removeprefix("Value error, ")
        names = loc[:1]
        if kind == "value_error" or not loc:
            match = _FIELD_LIST.match(message) if not loc else None
            if match:
                names = match["fields"].split(", ")
                message = match["reason"]
            text = translate_error(message, lang)
        elif kind in _BY_TYPE:
            ctx = {k: _bound(v, lang) for k, v in (err.get("ctx") or {}).items()}
            template = _BY_TYPE[kind][0 if lang == "fr" else 1]
            try:
                text = template.format(**ctx)
            except KeyError:
                text = message
        else:
            text = message
        for name in names or ["(record)"]:
            out.setdefault(name, text)
    return out
