"""Default uses suggested by a company's NAF/APE activity code.

The table maps NAF rév. 2 divisions (the first two digits of the code, INSEE nomenclature,
https://www.insee.fr/fr/information/2120875) to the uses of premises a company of that
division usually needs. It is a suggestion: a need that lists its uses keeps them.

| NAF divisions | activity | suggested uses |
|---|---|---|
| 10-11 | food and drink manufacturing | food_processing, production |
| 12-15 | tobacco, textiles, clothing, leather | production, craft |
| 16 | wood products | production, craft |
| 17-18 | paper, printing | production |
| 19-20, 22-30 | chemicals, plastics, metals, machinery, electronics, vehicles | production |
| 21 | pharmaceuticals | production, lab_rd |
| 31-32 | furniture, other manufacturing (jewellery, instruments) | craft, production |
| 33 | repair and installation of machinery | repair, production |
| 35-39 | energy, water, waste | production, logistics |
| 41-43 | construction | construction, logistics |
| 45 | motor vehicle trade and repair | repair |
| 46 | wholesale trade | logistics |
| 47 | retail trade | logistics |
| 49-53 | transport, warehousing, post and courier | logistics |
| 56 | food service (central kitchens) | food_processing |
| 58-63 | publishing, IT (data centres, studios) | production |
| 71 | engineering, technical testing | lab_rd |
| 72 | scientific research and development | lab_rd |
| 74-75 | design, photography, veterinary | craft, lab_rd |
| 77 | rental and leasing (equipment depots) | logistics |
| 81 | building services, cleaning, landscaping | construction, logistics |
| 90 | arts (workshops, set building) | craft |
| 95 | repair of computers and household goods | repair, craft |
| 96 | other personal services (laundries) | craft, production |
"""

from __future__ import annotations

import re

__all__ = [
    "NAF_DIVISION_LABELS",
    "NAF_DIVISION_USES",
    "default_uses_for_naf",
    "naf_label",
    "normalise_naf",
]


def _divisions(first: int, last: int, uses: tuple[str, ...]) -> dict[int, tuple[str, ...]]:
    return dict.fromkeys(range(first, last + 1), uses)


NAF_DIVISION_USES: dict[int, tuple[str, ...]] = {
    **_divisions(10, 11, ("food_processing", "production")),
    **_divisions(12, 15, ("production", "craft")),
    16: ("production", "craft"),
    **_divisions(17, 20, ("production",)),
    21: ("production", "lab_rd"),
    **_divisions(22, 30, ("production",)),
    **_divisions(31, 32, ("craft", "production")),
    33: ("repair", "production"),
    **_divisions(35, 39, ("production", "logistics")),
    **_divisions(41, 43, ("construction", "logistics")),
    45: ("repair",),
    46: ("logistics",),
    47: ("logistics",),
    **_divisions(49, 53, ("logistics",)),
    56: ("food_processing",),
    **_divisions(58, 63, ("production",)),
    71: ("lab_rd",),
    72: ("lab_rd",),
    **_divisions(74, 75, ("craft", "lab_rd")),
    77: ("logistics",),
    81: ("construction", "logistics"),
    90: ("craft",),
    95: ("repair", "craft"),
    96: ("craft", "production"),
}

_NAF_RE = re.compile(r"^(\d{2})\.?(\d{2})([A-Z])$", re.ASCII)


def normalise_naf(code: str) -> str:
    """Return a NAF rév. 2 code in its dotted form, or raise ``ValueError``.

    Examples
    --------
    >>> normalise_naf("2562b")
    '25.62B'
    >>> normalise_naf("46.69Z")
    '46.69Z'
    """
    raw = code.strip().upper().replace(" ", "")
    m = _NAF_RE.match(raw)
    if not m:
        msg = f"'{code}' is not a NAF/APE code (e.g. 25.62B)"
        raise ValueError(msg)
    return f"{m.group(1)}.{m.group(2)}{m.group(3)}"


def default_uses_for_naf(code: str) -> tuple[str, ...]:
    """Uses suggested for a NAF/APE code; empty when its division needs no premises of ours.

    Examples
    --------
    >>> default_uses_for_naf("10.71C")
    ('food_processing', 'production')
    >>> default_uses_for_naf("49.41A")
    ('logistics',)
    >>> default_uses_for_naf("64.19Z")
    ()
    """
    division = int(normalise_naf(code)[:2])
    return NAF_DIVISION_USES.get(division, ())


#: The 88 divisions of NAF rév. 2 with their label, French then English (INSEE titles,
#: shortened). A code whose first two digits are not one of these is not a NAF code.
NAF_DIVISION_LABELS: dict[int, tuple[str, str]] = {
    1: ("Culture et production animale, chasse", "Crop and animal production, hunting"),
    2: ("Sylviculture et exploitation forestière", "Forestry and logging"),
    3: ("Pêche et aquaculture", "Fishing and aquaculture"),
    5: ("Extraction de houille et de lignite", "Mining of coal and lignite"),
    6: ("Extraction d'hydrocarbures", "Extraction of crude petroleum and natural gas"),
    7: ("Extraction de minerais métalliques", "Mining of metal ores"),
    8: ("Autres industries extractives", "Other mining and quarrying"),
    9: ("Services de soutien aux industries extractives", "Mining support services"),
    10: ("Industries alimentaires", "Manufacture of food products"),
    11: ("Fabrication de boissons", "Manufacture of beverages"),
    12: ("Fabrication de produits à base de tabac", "Manufacture of tobacco products"),
    13: ("Fabrication de textiles", "Manufacture of textiles"),
    14: ("Industrie de l'habillement", "Manufacture of wearing apparel"),
    15: ("Industrie du cuir et de la chaussure", "Manufacture of leather products"),
    16: ("Travail du bois, fabrication d'articles en bois", "Manufacture of wood products"),
    17: ("Industrie du papier et du carton", "Manufacture of paper products"),
    18: ("Imprimerie et reproduction d'enregistrements", "Printing and reproduction"),
    19: ("Cokéfaction et raffinage", "Manufacture of coke and refined petroleum"),
    20: ("Industrie chimique", "Manufacture of chemicals"),
    21: ("Industrie pharmaceutique", "Manufacture of pharmaceuticals"),
    22: ("Fabrication de produits en caoutchouc et en plastique", "Rubber and plastic products"),
    23: ("Autres produits minéraux non métalliques", "Other non-metallic mineral products"),
    24: ("Métallurgie", "Manufacture of basic metals"),
    25: ("Fabrication de produits métalliques", "Manufacture of fabricated metal products"),
    26: ("Produits informatiques, électroniques et optiques", "Computer and electronics"),
    27: ("Fabrication d'équipements électriques", "Manufacture of electrical equipment"),
    28: ("Fabrication de machines et équipements", "Manufacture of machinery"),
    29: ("Industrie automobile", "Manufacture of motor vehicles"),
    30: ("Fabrication d'autres matériels de transport", "Other transport equipment"),
    31: ("Fabrication de meubles", "Manufacture of furniture"),
    32: ("Autres industries manufacturières", "Other manufacturing"),
    33: ("Réparation et installation de machines", "Repair and installation of machinery"),
    35: ("Production et distribution d'électricité, de gaz", "Electricity and gas supply"),
    36: ("Captage, traitement et distribution d'eau", "Water collection and supply"),
    37: ("Collecte et traitement des eaux usées", "Sewerage"),
    38: ("Collecte, traitement et élimination des déchets", "Waste collection and treatment"),
    39: ("Dépollution et autres services de gestion des déchets", "Remediation"),
    41: ("Construction de bâtiments", "Construction of buildings"),
    42: ("Génie civil", "Civil engineering"),
    43: ("Travaux de construction spécialisés", "Specialised construction activities"),
    45: ("Commerce et réparation d'automobiles", "Trade and repair of motor vehicles"),
    46: ("Commerce de gros", "Wholesale trade"),
    47: ("Commerce de détail", "Retail trade"),
    49: ("Transports terrestres", "Land transport"),
    50: ("Transports par eau", "Water transport"),
    51: ("Transports aériens", "Air transport"),
    52: ("Entreposage et services auxiliaires des transports", "Warehousing and transport support"),
    53: ("Activités de poste et de courrier", "Postal and courier activities"),
    55: ("Hébergement", "Accommodation"),
    56: ("Restauration", "Food and beverage service activities"),
    58: ("Édition", "Publishing activities"),
    59: ("Production de films, vidéo, télévision ; musique", "Film, video, TV and music"),
    60: ("Programmation et diffusion", "Programming and broadcasting"),
    61: ("Télécommunications", "Telecommunications"),
    62: ("Programmation, conseil et autres activités informatiques", "Computer programming"),
    63: ("Services d'information", "Information service activities"),
    64: ("Activités des services financiers", "Financial service activities"),
    65: ("Assurance", "Insurance"),
    66: ("Activités auxiliaires de services financiers", "Activities auxiliary to finance"),
    68: ("Activités immobilières", "Real estate activities"),
    69: ("Activités juridiques et comptables", "Legal and accounting activities"),
    70: ("Activités des sièges sociaux ; conseil de gestion", "Head offices; consultancy"),
    71: ("Architecture, ingénierie, contrôle et analyses", "Architecture, engineering, testing"),
    72: ("Recherche-développement scientifique", "Scientific research and development"),
    73: ("Publicité et études de marché", "Advertising and market research"),
    74: ("Autres activités spécialisées, scientifiques", "Other professional activities"),
    75: ("Activités vétérinaires", "Veterinary activities"),
    77: ("Activités de location et location-bail", "Rental and leasing activities"),
    78: ("Activités liées à l'emploi", "Employment activities"),
    79: ("Agences de voyage, voyagistes", "Travel agencies and tour operators"),
    80: ("Enquêtes et sécurité", "Security and investigation"),
    81: ("Services relatifs aux bâtiments, aménagement paysager", "Building services"),
    82: ("Activités administratives et de soutien aux entreprises", "Office support"),
    84: ("Administration publique et défense", "Public administration and defence"),
    85: ("Enseignement", "Education"),
    86: ("Activités pour la santé humaine", "Human health activities"),
    87: ("Hébergement médico-social et social", "Residential care"),
    88: ("Action sociale sans hébergement", "Social work without accommodation"),
    90: ("Activités créatives, artistiques et de spectacle", "Creative and arts activities"),
    91: ("Bibliothèques, archives, musées", "Libraries, archives, museums"),
    92: ("Organisation de jeux de hasard et d'argent", "Gambling and betting"),
    93: ("Activités sportives, récréatives et de loisirs", "Sports and recreation"),
    94: ("Activités des organisations associatives", "Membership organisations"),
    95: ("Réparation d'ordinateurs et de biens personnels", "Repair of computers and goods"),
    96: ("Autres services personnels", "Other personal service activities"),
    97: ("Activités des ménages employeurs", "Households as employers"),
    98: ("Activités des ménages pour usage propre", "Households' own-use production"),
    99: ("Activités extra-territoriales", "Extraterritorial organisations"),
}


def naf_label(code: str, lang: str = "fr") -> str | None:
    """The label of a NAF code's division, French (default) or English; None if unknown.

    Raises ``ValueError`` when ``code`` is not in the form of a NAF code.

    Examples
    --------
    >>> naf_label("25.62B")
    'Fabrication de produits métalliques'
    >>> naf_label("2562B", "en")
    'Manufacture of fabricated metal products'
    >>> naf_label("00.00Z") is None
    True
    """
    labels = NAF_DIVISION_LABELS.get(int(normalise_naf(code)[:2]))
    if labels is None:
        return None
    return labels[1] if lang == "en" else labels[0]
