"""Column-header aliases and French value vocabularies for listing files.

Headers and values are compared after :func:`normalise_key`: lower case, accents removed,
``²`` read as ``2``, ``€`` as ``eur``, every run of other characters as one space. So
``"Surface (m²)"``, ``"surface m2"`` and ``"SURFACE_M2"`` are the same key.

Column aliases (the English field name itself is always accepted)
------------------------------------------------------------------
Each field of :class:`geodata.schemas.PremisesCreate` lists its French headers in
:data:`COLUMN_ALIASES`; the first one is the header the French export writes
(:data:`FRENCH_HEADERS`). Columns ``id``, ``version``, ``created_at`` and ``updated_at``
(``identifiant``, ``créé le``, ``modifié le``) are recognised and ignored on import. Any other
column is reported as an ``unknown_column`` warning and ignored. A table may carry its
geometry as WKT or GeoJSON text in a column named as in :data:`GEOMETRY_ALIASES`.

Values
------
Kinds, uses, tenures and statuses accept their English enum value, the French and English
labels of :mod:`geodata.schemas` and the French words in :data:`KIND_WORDS`,
:data:`USE_WORDS`, :data:`TENURE_WORDS` and :data:`STATUS_WORDS`. Booleans accept
:data:`TRUE_WORDS` and :data:`FALSE_WORDS`; an empty cell is a missing value.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from geodata.schemas import (
    KIND_LABELS,
    STATUS_LABELS,
    TENURE_LABELS,
    USE_LABELS,
    PremisesCreate,
)

__all__ = [
    "COLUMN_ALIASES",
    "FALSE_WORDS",
    "FIELDS",
    "FRENCH_HEADERS",
    "GEOMETRY_ALIASES",
    "IGNORED_COLUMNS",
    "KIND_WORDS",
    "REQUIRED_FIELDS",
    "STATUS_WORDS",
    "TENURE_WORDS",
    "TRUE_WORDS",
    "USE_FRENCH",
    "USE_WORDS",
    "header_lookup",
    "normalise_key",
    "value_lookup",
]

#: The listing fields, in model order.
FIELDS: tuple[str, ...] = tuple(PremisesCreate.model_fields)

#: Fields without a default: a file must give them (lon/lat may come from a geometry).
REQUIRED_FIELDS: tuple[str, ...] = tuple(
    name for name, info in PremisesCreate.model_fields.items() if info.is_required()
)

#: French column headers per field; the first one is written by the French export.
# fmt: off
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "external_ref": (
        "Référence", "ref", "réf", "référence annonce", "référence externe", "id externe",
        "code annonce",
    ),
    "title": ("Titre", "intitulé", "libellé", "nom du bien", "désignation", "nom"),
    "kind": ("Type", "nature", "type de bien", "type de local", "catégorie"),
    "uses": ("Usages", "usage", "activités autorisées", "activités", "destination"),
    "surface_m2": (
        "Surface (m²)", "surface m2", "surface", "surface totale", "surface totale (m²)",
        "superficie", "superficie (m²)", "surface utile (m²)",
    ),
    "activity_m2": (
        "Surface activité (m²)", "surface d'activité (m²)", "surface d'activité",
        "activité (m²)", "surface atelier (m²)", "surface atelier",
    ),
    "storage_m2": (
        "Surface stockage (m²)", "surface de stockage (m²)", "surface de stockage",
        "stockage (m²)", "surface entrepôt (m²)",
    ),
    "office_m2": (
        "Surface bureaux (m²)", "surface de bureaux (m²)", "surface de bureaux", "bureaux (m²)",
        "surface bureaux",
    ),
    "mezzanine_m2": ("Mezzanine (m²)", "surface mezzanine (m²)", "surface mezzanine", "mezzanine"),
    "divisible": ("Divisible", "divisibilité"),
    "min_lot_m2": (
        "Lot minimum (m²)", "lot minimum", "lot min (m²)", "surface minimum (m²)",
        "surface minimale (m²)", "divisible à partir de (m²)",
    ),
    "plot_m2": (
        "Terrain (m²)", "surface terrain (m²)", "surface du terrain (m²)", "surface terrain",
        "surface du terrain", "emprise foncière (m²)", "parcelle (m²)",
    ),
    "ceiling_height_m": (
        "Hauteur sous plafond (m)", "hauteur sous plafond", "hsp", "hsp (m)", "hauteur libre (m)",
        "hauteur libre", "hauteur (m)",
    ),
    "floor_load_t_m2": (
        "Charge au sol (t/m²)", "charge au sol", "résistance au sol (t/m²)", "résistance au sol",
    ),
    "loading_docks": (
        "Quais de chargement", "quais", "nombre de quais", "quais niveleurs", "nb quais",
    ),
    "ground_level_doors": (
        "Portes de plain-pied", "portes plain-pied", "portes de plain pied", "accès plain-pied",
        "nombre de portes de plain-pied",
    ),
    "power_kva": ("Puissance (kVA)", "puissance", "puissance électrique (kVA)", "kva"),
    "icpe_allowed": ("ICPE", "ICPE autorisée", "ICPE possible", "activité ICPE"),
    "parking_spaces": (
        "Places de parking", "parking", "places de stationnement", "stationnement",
        "nombre de places",
    ),
    "tenure": (
        "Location / vente", "location ou vente", "modalité", "mode", "transaction",
        "type de transaction", "offre",
    ),
    "rent_eur_m2_year": (
        "Loyer (€/m²/an)", "loyer €/m²/an", "loyer (€/m2/an)", "loyer", "loyer HT HC (€/m²/an)",
        "loyer annuel (€/m²)", "loyer (€ HT/m²/an)",
    ),
    "sale_price_eur": ("Prix de vente (€)", "prix de vente", "prix (€)", "prix", "prix HT (€)"),
    "charges_eur_m2_year": ("Charges (€/m²/an)", "charges", "charges (€/m2/an)"),
    "available_from": (
        "Disponible le", "disponibilité", "date de disponibilité", "disponible à partir du",
        "disponible à partir de",
    ),
    "status": ("Statut", "état", "état de commercialisation"),
    "address": ("Adresse", "adresse postale"),
    "commune_insee": ("Code INSEE", "commune", "insee", "code commune", "commune (code INSEE)"),
    "lon": ("Longitude", "lon", "lng", "long", "x"),
    "lat": ("Latitude", "lat", "y"),
    "footprint": ("Emprise (GeoJSON)", "emprise", "contour", "polygone"),
    "zone_id": ("Zone d'activité", "zone", "zae", "site_id", "identifiant de zone"),
    "lot_ref": ("Lot", "numéro de lot", "n° de lot", "lot n°"),
    "owner_account": ("Propriétaire", "compte propriétaire", "bailleur"),
    "contact_name": ("Contact", "nom du contact", "interlocuteur"),
    "contact_email": ("E-mail du contact", "e-mail", "email", "courriel", "mail"),
    "contact_phone": ("Téléphone", "tél", "tel", "téléphone du contact"),
    "contact_public": ("Contact public", "contact publié", "publier le contact"),
    "photos": ("Photos", "photo", "images"),
    "description": ("Description", "descriptif", "commentaire", "commentaires", "observations"),
    "last_verified_at": ("Vérifié le", "date de vérification", "dernière vérification"),
}
# fmt: on

#: The header the French export writes for each field.
FRENCH_HEADERS: dict[str, str] = {field: names[0] for field, names in COLUMN_ALIASES.items()}

#: Headers of a geometry column in a table (WKT or GeoJSON text, as QGIS writes CSV/XLSX):
#: a point places the listing, a polygon gives its footprint and its representative point.
GEOMETRY_ALIASES: tuple[str, ...] = ("geometry", "géométrie", "wkt", "geom", "the_geom")

#: Read-only columns of an export, recognised and ignored on import (field -> French header).
IGNORED_COLUMNS: dict[str, str] = {
    "id": "Identifiant",
    "version": "Version",
    "created_at": "Créé le",
    "updated_at": "Modifié le",
}

# fmt: off
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "workshop": (
        "atelier", "ateliers", "local d'activité", "locaux d'activité", "local d'activités",
        "locaux d'activités", "local activité", "activité", "local artisanal",
    ),
    "warehouse": ("entrepôt", "entrepôts", "entrepôt logistique", "plateforme logistique"),
    "industrial_building": ("bâtiment industriel", "bâtiment d'activité", "usine", "industriel"),
    "land": ("terrain", "terrain à bâtir", "foncier", "parcelle", "terrain nu"),
    "business_village_lot": (
        "lot", "village d'entreprises", "lot en village d'entreprises", "hôtel d'activités",
        "hôtel d'entreprises", "pépinière",
    ),
    "lab": ("laboratoire", "labo", "laboratoires"),
    "office_annex": ("bureaux", "bureau", "bureaux d'accompagnement"),
}

USE_WORDS: dict[str, tuple[str, ...]] = {
    "production": ("production", "industrie", "fabrication", "industriel", "productif"),
    "logistics": ("logistique", "stockage", "entreposage", "messagerie", "distribution"),
    "craft": ("artisanat", "artisanal", "artisan"),
    "lab_rd": (
        "R&D", "recherche", "recherche et développement", "laboratoire", "labo",
        "lab", "recherche & développement",
    ),
    "food_processing": ("agroalimentaire", "agro-alimentaire", "alimentaire", "agroalimentaires"),
    "construction": ("BTP", "bâtiment", "construction", "travaux publics"),
    "repair": ("réparation", "maintenance", "entretien", "dépannage"),
}

#: The word the French export writes for each use (read back by :data:`USE_WORDS`).
USE_FRENCH: dict[str, str] = {
    "production": "production",
    "logistics": "logistique",
    "craft": "artisanat",
    "lab_rd": "R&D",
    "food_processing": "agroalimentaire",
    "construction": "BTP",
    "repair": "réparation",
}

TENURE_WORDS: dict[str, tuple[str, ...]] = {
    "rent": ("location", "à louer", "louer", "bail", "loyer", "locatif"),
    "sale": ("vente", "à vendre", "vendre", "cession", "achat", "acquisition"),
    "both": (
        "location ou vente", "les deux", "location et vente", "location/vente",
        "vente ou location", "vente/location", "location - vente", "mixte",
    ),
}
# fmt: on

STATUS_WORDS: dict[str, tuple[str, ...]] = {
    "available": ("disponible", "libre", "à pourvoir", "vacant", "en commercialisation"),
    "under_offer": ("sous offre", "sous promesse", "sous option", "option", "réservé"),
    "let": ("loué", "louée", "occupé", "pris à bail"),
    "sold": ("vendu", "vendue", "cédé"),
    "withdrawn": ("retiré", "retirée", "retiré du marché", "archivé", "suspendu"),
}

#: Words read as ``True`` / ``False`` in boolean columns (after :func:`normalise_key`).
TRUE_WORDS: frozenset[str] = frozenset(
    {"oui", "o", "vrai", "x", "1", "yes", "y", "true", "t", "ok", "possible", "autorise"}
)
FALSE_WORDS: frozenset[str] = frozenset(
    {"non", "n", "faux", "0", "no", "false", "f", "impossible", "interdit", "non autorise"}
)

_SEPARATORS = re.compile(r"[^a-z0-9]+")


def normalise_key(text: str) -> str:
    """Fold a header or a value for lookup: lower case, no accents, single spaces.

    Examples
    --------
    >>> normalise_key("Surface (m²)")
    'surface m2'
    >>> normalise_key("Loyer €/m²/an")
    'loyer eur m2 an'
    >>> normalise_key("  Entrepôt ")
    'entrepot'
    """
    text = text.replace("€", " eur ").replace("&", " et ").replace("œ", "oe").replace("Œ", "oe")
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _SEPARATORS.sub(" ", plain.lower()).strip()


def _lookup(names: Iterable[tuple[str, Iterable[str]]], what: str) -> dict[str, str]:
    """``{normalised word: value}`` from ``(value, words)`` pairs; no word may name two values."""
    out: dict[str, str] = {}
    for value, words in names:
        for word in words:
            key = normalise_key(word)
            previous = out.setdefault(key, value)
            if previous != value:
                msg = f"{what} clash: {word!r} means both {previous!r} and {value!r}"
                raise ValueError(msg)
    return out


def _build(
    table: dict[str, tuple[str, ...]], labels: dict[str, tuple[str, str]] | None
) -> dict[str, str]:
    labels = labels or {}
    names = ((v, (v, *words, *labels.get(v, ()))) for v, words in table.items())
    return _lookup(names, "vocabulary")


def _build_headers() -> dict[str, str]:
    tables = [(f, (f, *names)) for f, names in COLUMN_ALIASES.items()]
    tables += [(f, (f, h)) for f, h in IGNORED_COLUMNS.items()]
    tables += [("geometry", GEOMETRY_ALIASES)]
    return _lookup(tables, "header")


_HEADERS = _build_headers()
_VALUES: dict[str, dict[str, str]] = {
    "kind": _build(KIND_WORDS, KIND_LABELS),
    "uses": _build(USE_WORDS, USE_LABELS),
    "tenure": _build(TENURE_WORDS, {k: v for k, v in TENURE_LABELS.items() if k in TENURE_WORDS}),
    "status": _build(STATUS_WORDS, STATUS_LABELS),
}


def header_lookup(header: str) -> str | None:
    """Return the field a column header names, or ``None`` for an unknown column.

    Columns that an export writes but an import ignores (``id``, ``version``, ...) map to
    their own name (check :data:`IGNORED_COLUMNS`); a geometry column maps to ``"geometry"``.

    Examples
    --------
    >>> header_lookup("Loyer (€/m2/an)")
    'rent_eur_m2_year'
    >>> header_lookup("Hauteur sous plafond (m)")
    'ceiling_height_m'
    >>> header_lookup("couleur") is None
    True
    """
    return _HEADERS.get(normalise_key(header))


def value_lookup(field: str, text: str) -> str | None:
    """Return the enum value a French or English word means for ``field``, or ``None``.

    ``field`` is one of ``kind``, ``uses``, ``tenure``, ``status``.

    Examples
    --------
    >>> value_lookup("kind", "Entrepôt")
    'warehouse'
    >>> value_lookup("tenure", "les deux")
    'both'
    >>> value_lookup("uses", "R&D")
    'lab_rd'
    """
    return _VALUES[field].get(normalise_key(text))


def known_words(field: str) -> list[str]:
    """A few accepted French words for ``field``, for error messages."""
    table = {
        "kind": KIND_WORDS,
        "uses": USE_WORDS,
        "tenure": TENURE_WORDS,
        "status": STATUS_WORDS,
    }[field]
    return [words[0] for words in table.values()]
