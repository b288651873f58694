"""Generate a seeded, plausible and clearly fictitious catalogue of premises and company needs.

The demo catalogue fills an empty installation (``implanter demo``, the app's first run) with
listings that fit the places of the territory, and needs of companies with real NAF rév. 2
codes and fictitious names and SIRENs. This module is only the generator: what it knows of a
territory's places comes from the territory's folder, its reference layers (communes, zones,
landmarks, stations, interchanges) and its demo tables (``demo.json``, see
:class:`DemoTables`). For Grand-Orly Seine Bièvre those tables put large warehouses around
Rungis, Orly and the A86, urban workshops in Ivry, Vitry, Gentilly and their neighbours, labs
around the Villejuif cancer campus, plots of land in the south-east, and a village
d'entreprises of about twenty small lots in Valenton. A territory without demo tables gets a
demo drawn from its layers alone (:meth:`DemoTables.generic`).

Everything is fiction and says so: owners are called "… Démo …", e-mails end in
``@exemple.invalid`` (a reserved domain), references are ``DEMO-0001``…, and every
description contains "Annonce fictive générée pour la démonstration.".

The same seed gives the same data: all randomness comes from
``numpy.random.default_rng`` streams derived from the seed, and dates are offsets from a
fixed reference date (:data:`REFERENCE_DATE`), never from today.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

import shapely

from geodata.naf import default_uses_for_naf
from geodata.schemas import NeedIn, PremisesCreate, PremisesKind, Use, luhn_check_digit
from geodata.territory import Territory, TerritoryError, to_lambert93, to_wgs84

__all__ = [
    "DEMO_SENTENCE",
    "REFERENCE_DATE",
    "DemoTables",
    "demo_needs",
    "demo_premises",
    "demo_tables",
    "load_demo",
]

#: Dates of the demo are offsets from this day, so that the data never depends on today.
REFERENCE_DATE = date(2026, 11, 1)

#: The sentence every demo description carries.
DEMO_SENTENCE = "Annonce fictive générée pour la démonstration."

_STREETS: dict[str, tuple[str, ...]] = {
    "logistics": (
        "avenue des Transporteurs",
        "rue du Fret",
        "rue des Entrepôts",
        "voie des Quais",
        "rue de la Halle",
        "avenue du Marché-Gare",
        "rue des Routiers",
        "allée des Messageries",
    ),
    "urban": (
        "rue des Ateliers",
        "passage des Artisans",
        "rue de l'Industrie",
        "impasse des Forges",
        "rue des Métiers",
        "rue de la Fabrique",
        "cour des Ébénistes",
        "rue des Tanneurs",
        "villa des Imprimeurs",
    ),
    "lab": (
        "rue de la Recherche",
        "allée des Sciences",
        "avenue de l'Innovation",
        "rue des Laboratoires",
    ),
    "land": ("chemin du Port", "chemin de Halage", "route des Terres-Basses", "rue du Triage"),
}
_STREET_GROUP: dict[str, str] = {
    "warehouse": "logistics",
    "industrial_building": "urban",
    "workshop": "urban",
    "lab": "lab",
    "office_annex": "lab",
    "land": "land",
    "business_village_lot": "urban",
}

_STATUSES = ("available", "under_offer", "let", "sold", "withdrawn")
_STATUS_P = (0.78, 0.09, 0.07, 0.03, 0.03)
_TENURES = ("rent", "sale", "both")


@dataclass(frozen=True)
class _KindSpec:
    """How the listings of one kind are sized, equipped and priced."""

    surface: tuple[float, float]
    step: float
    ceiling: tuple[float, float] | None
    floor_load: tuple[float, float] | None
    docks_per_1000: tuple[float, float]
    doors: tuple[int, int]
    power: tuple[float, float] | None
    sale_eur_m2: tuple[float, float]
    charges: tuple[float, float] | None
    activity: tuple[float, float]
    storage: tuple[float, float]
    office: tuple[float, float]
    mezzanine_p: float
    core_uses: tuple[str, ...]
    optional_uses: tuple[tuple[str, float], ...]
    icpe_p: float
    divisible_p: float
    tenure_p: tuple[float, float, float]
    plot_factor: tuple[float, float] | None
    parking_per_1000: tuple[float, float]


_SPECS: dict[str, _KindSpec] = {
    "warehouse": _KindSpec(
        # From small parcel-delivery cells (600 m²) to large platforms (20,000 m²).
        surface=(600, 20_000),
        step=50,
        ceiling=(8.0, 12.0),
        floor_load=(3.0, 6.0),
        docks_per_1000=(0.6, 1.2),
        doors=(1, 3),
        power=(150, 600),
        sale_eur_m2=(1_000, 1_600),
        charges=(8, 15),
        activity=(0.0, 0.0),
        storage=(0.85, 0.93),
        office=(0.03, 0.08),
        mezzanine_p=0.0,
        core_uses=("logistics",),
        optional_uses=(("production", 0.15), ("food_processing", 0.15)),
        icpe_p=0.7,
        divisible_p=0.35,
        tenure_p=(0.7, 0.1, 0.2),
        plot_factor=(1.6, 2.4),
        parking_per_1000=(1.5, 4.0),
    ),
    "industrial_building": _KindSpec(
        surface=(1_500, 12_000),
        step=50,
        ceiling=(6.0, 10.0),
        floor_load=(2.0, 5.0),
        docks_per_1000=(0.1, 0.6),
        doors=(2, 4),
        power=(250, 1_500),
        sale_eur_m2=(1_000, 1_800),
        charges=(8, 18),
        activity=(0.6, 0.8),
        storage=(0.0, 0.0),
        office=(0.05, 0.12),
        mezzanine_p=0.2,
        core_uses=("production",),
        optional_uses=(("logistics", 0.4), ("food_processing", 0.2), ("repair", 0.2)),
        icpe_p=0.8,
        divisible_p=0.25,
        tenure_p=(0.45, 0.25, 0.3),
        plot_factor=(1.5, 2.5),
        parking_per_1000=(3.0, 8.0),
    ),
    "workshop": _KindSpec(
        surface=(100, 1_500),
        step=5,
        ceiling=(3.5, 7.0),
        floor_load=(0.8, 3.0),
        docks_per_1000=(0.0, 0.0),
        doors=(1, 3),
        power=(36, 250),
        sale_eur_m2=(1_400, 2_500),
        charges=(12, 25),
        activity=(0.7, 0.88),
        storage=(0.0, 0.0),
        office=(0.08, 0.2),
        mezzanine_p=0.3,
        core_uses=(),
        optional_uses=(
            ("production", 0.6),
            ("craft", 0.6),
            ("food_processing", 0.1),
            ("construction", 0.3),
            ("repair", 0.4),
        ),
        icpe_p=0.2,
        divisible_p=0.2,
        tenure_p=(0.65, 0.15, 0.2),
        plot_factor=None,
        parking_per_1000=(2.0, 10.0),
    ),
    "land": _KindSpec(
        surface=(5_000, 60_000),
        step=100,
        ceiling=None,
        floor_load=None,
        docks_per_1000=(0.0, 0.0),
        doors=(0, 0),
        power=None,
        sale_eur_m2=(300, 900),
        charges=None,
        activity=(0.0, 0.0),
        storage=(0.0, 0.0),
        office=(0.0, 0.0),
        mezzanine_p=0.0,
        core_uses=(),
        optional_uses=(("production", 0.5), ("logistics", 0.7), ("construction", 0.6)),
        icpe_p=0.6,
        divisible_p=0.3,
        tenure_p=(0.2, 0.5, 0.3),
        plot_factor=None,
        parking_per_1000=(0.0, 0.0),
    ),
    "lab": _KindSpec(
        surface=(200, 3_000),
        step=5,
        ceiling=(3.0, 4.5),
        floor_load=(0.5, 1.5),
        docks_per_1000=(0.0, 0.0),
        doors=(0, 1),
        power=(150, 600),
        sale_eur_m2=(1_800, 2_500),
        charges=(25, 45),
        activity=(0.55, 0.7),
        storage=(0.0, 0.0),
        office=(0.25, 0.4),
        mezzanine_p=0.0,
        core_uses=("lab_rd",),
        optional_uses=(("production", 0.3),),
        icpe_p=0.3,
        divisible_p=0.3,
        tenure_p=(0.8, 0.05, 0.15),
        plot_factor=None,
        parking_per_1000=(5.0, 15.0),
    ),
    "office_annex": _KindSpec(
        surface=(100, 800),
        step=5,
        ceiling=(2.7, 3.2),
        floor_load=(0.25, 0.5),
        docks_per_1000=(0.0, 0.0),
        doors=(0, 0),
        power=(36, 100),
        sale_eur_m2=(2_000, 2_500),
        charges=(30, 45),
        activity=(0.0, 0.0),
        storage=(0.0, 0.0),
        office=(0.85, 1.0),
        mezzanine_p=0.0,
        core_uses=(),
        optional_uses=(("production", 0.4), ("lab_rd", 0.3), ("craft", 0.3)),
        icpe_p=0.0,
        divisible_p=0.15,
        tenure_p=(0.8, 0.05, 0.15),
        plot_factor=None,
        parking_per_1000=(10.0, 25.0),
    ),
    "business_village_lot": _KindSpec(
        surface=(150, 600),
        step=5,
        ceiling=(5.5, 7.0),
        floor_load=(1.0, 2.0),
        docks_per_1000=(0.0, 0.0),
        doors=(1, 1),
        power=(36, 72),
        sale_eur_m2=(1_800, 2_400),
        charges=(15, 22),
        activity=(0.85, 0.92),
        storage=(0.0, 0.0),
        office=(0.06, 0.12),
        mezzanine_p=0.5,
        core_uses=(),
        optional_uses=(
            ("craft", 0.6),
            ("production", 0.6),
            ("construction", 0.5),
            ("repair", 0.5),
        ),
        icpe_p=0.1,
        divisible_p=0.0,
        tenure_p=(0.8, 0.0, 0.2),
        plot_factor=None,
        parking_per_1000=(4.0, 8.0),
    ),
}

_TITLES: dict[str, str] = {
    "warehouse": "Entrepôt logistique",
    "industrial_building": "Bâtiment industriel",
    "workshop": "Local d'activité",
    "land": "Terrain",
    "lab": "Laboratoire R&D",
    "office_annex": "Bureaux d'accompagnement",
    "business_village_lot": "Village d'entreprises",
}

_LEADS: dict[str, tuple[str, ...]] = {
    "warehouse": (
        "Entrepôt logistique de classe A",
        "Plateforme de stockage et de distribution",
        "Entrepôt récent avec cour de manœuvre poids lourds",
    ),
    "industrial_building": (
        "Bâtiment industriel indépendant sur son terrain",
        "Bâtiment de production avec bureaux d'accompagnement",
        "Ancien site de production réhabilité",
    ),
    "workshop": (
        "Local d'activité en rez-de-chaussée",
        "Atelier lumineux en cœur de ville",
        "Local mixte activité et bureaux",
        "Atelier dans une cour artisanale",
    ),
    "land": (
        "Terrain nu constructible en zone d'activités",
        "Foncier à vocation productive",
        "Terrain viabilisé, accès poids lourds",
    ),
    "lab": (
        "Plateau de laboratoire équipé",
        "Laboratoire R&D avec bureaux",
        "Surface de recherche en bâtiment tertiaire adapté",
    ),
    "office_annex": (
        "Bureaux d'accompagnement d'activité",
        "Plateau de bureaux attenant à un site productif",
    ),
    "business_village_lot": ("Lot neuf en village d'entreprises pour TPE/PME",),
}


@dataclass(frozen=True)
class _NafProfile:
    """A kind of company: its NAF code, its usual premises and where it tends to look."""

    code: str
    label: str
    prefix: str
    surface: tuple[float, float]
    headcount: tuple[int, int]
    kinds: tuple[str, ...]
    rent: tuple[float, float]
    tech: str
    icpe_p: float = 0.0
    extra_uses: tuple[str, ...] = ()
    place: str | None = None
    weight: float = 1.0


# fmt: off
_NAF_PROFILES: tuple[_NafProfile, ...] = (
    _NafProfile("10.71A", "Fabrication industrielle de pain et de pâtisserie fraîche",
                "Boulangerie industrielle Démo", (400, 2_500), (15, 80),
                ("workshop", "industrial_building"),
                (90, 150), "production", 0.3, place="min"),
    _NafProfile("10.71C", "Boulangerie et boulangerie-pâtisserie", "Fournil Démo",
                (80, 300), (3, 12), ("workshop", "business_village_lot"), (120, 190),
                "craft"),
    _NafProfile("10.13B", "Charcuterie", "Charcuterie Démo", (300, 1_500), (5, 40),
                ("workshop", "industrial_building"), (90, 160), "production",
                0.4, place="min"),
    _NafProfile("10.85Z", "Fabrication de plats préparés", "Cuisine centrale Démo",
                (500, 3_000), (15, 90), ("industrial_building", "workshop", "warehouse"),
                (80, 150), "production", 0.4,
                place="min"),
    _NafProfile("11.05Z", "Fabrication de bière", "Brasserie Démo", (200, 900), (3, 20),
                ("workshop",), (110, 180), "production", 0.2),
    _NafProfile("18.12Z", "Autre imprimerie (labeur)", "Imprimerie Démo", (300, 1_500),
                (5, 40), ("workshop", "industrial_building"), (90, 160), "production"),
    _NafProfile("21.20Z", "Fabrication de préparations pharmaceutiques", "Pharma Démo",
                (800, 4_000), (20, 120), ("lab", "industrial_building"),
                (120, 240), "lab", 0.6),
    _NafProfile("22.29A", "Fabrication de pièces techniques à base de matières plastiques",
                "Plasturgie Démo", (800, 4_000), (10, 60), ("industrial_building", "workshop"),
                (70, 130), "production", 0.7),
    _NafProfile("25.11Z", "Fabrication de structures métalliques et de parties de structures",
                "Métallerie Démo", (300, 2_000), (5, 40), ("workshop", "industrial_building"),
                (80, 150), "production", 0.3),
    _NafProfile("25.62B", "Mécanique industrielle", "Mécanique Démo", (200, 1_500), (4, 50),
                ("workshop", "industrial_building", "business_village_lot"), (90, 170),
                "production", 0.3, weight=2.0),
    _NafProfile("26.51B", "Fabrication d'instrumentation scientifique et technique",
                "Instruments Démo", (200, 1_200), (5, 40), ("lab", "workshop"),
                (130, 240), "lab"),
    _NafProfile("31.09B", "Fabrication d'autres meubles et industries connexes de l'ameublement",
                "Ébénisterie Démo", (150, 800), (2, 15), ("workshop", "business_village_lot"),
                (110, 180), "craft"),
    _NafProfile("32.12Z", "Fabrication d'articles de joaillerie et bijouterie",
                "Atelier Démo Joaillerie", (60, 250), (2, 10), ("workshop",),
                (130, 200), "craft"),
    _NafProfile("33.12Z", "Réparation de machines et équipements mécaniques",
                "Maintenance Démo", (150, 900), (3, 30), ("workshop", "business_village_lot"),
                (100, 170), "production", weight=1.5),
    _NafProfile("38.32Z", "Récupération de déchets triés", "Recyclage Démo", (2_000, 10_000),
                (8, 50), ("land", "industrial_building"), (20, 90), "land", 0.9,
                extra_uses=("logistics",)),
    _NafProfile("43.21A", "Travaux d'installation électrique dans tous locaux",
                "Électricité Démo", (100, 500), (3, 30), ("workshop", "business_village_lot"),
                (110, 170), "craft", weight=1.5),
    _NafProfile("43.22A", "Travaux d'installation d'eau et de gaz en tous locaux",
                "Plomberie Démo", (100, 400), (3, 20), ("workshop", "business_village_lot"),
                (110, 170), "craft"),
    _NafProfile("43.32A", "Travaux de menuiserie bois et PVC", "Menuiserie Démo", (200, 900),
                (3, 25), ("workshop", "business_village_lot", "industrial_building"),
                (100, 160), "production"),
    _NafProfile("43.99C", "Travaux de maçonnerie générale et gros œuvre de bâtiment",
                "Bâtiment Démo", (500, 3_000), (10, 80), ("land", "workshop", "warehouse"),
                (20, 120), "land"),
    _NafProfile("45.20A", "Entretien et réparation de véhicules automobiles légers",
                "Garage Démo", (200, 800), (2, 15), ("workshop",), (100, 170), "craft",
                0.5, weight=1.5),
    _NafProfile("45.20B", "Entretien et réparation d'autres véhicules automobiles",
                "Poids Lourds Démo", (800, 3_000), (5, 30),
                ("industrial_building", "workshop", "land"), (60, 120),
                "production", 0.6),
    _NafProfile("46.31Z", "Commerce de gros (commerce interentreprises) de fruits et légumes",
                "Primeurs Démo", (1_000, 6_000), (8, 60), ("warehouse",),
                (70, 110), "logistics", place="min", weight=1.5),
    _NafProfile("46.69B",
                "Commerce de gros (commerce interentreprises) de fournitures et équipements "
                "industriels divers", "Négoce Démo", (500, 4_000), (5, 40),
                ("warehouse", "workshop"), (70, 130), "logistics", weight=1.5),
    _NafProfile("46.73A",
                "Commerce de gros (commerce interentreprises) de bois et de matériaux de "
                "construction", "Matériaux Démo", (1_500, 8_000), (8, 50), ("warehouse", "land"),
                (40, 100), "logistics"),
    _NafProfile("47.91B", "Vente à distance sur catalogue spécialisé", "E-commerce Démo",
                (1_500, 10_000), (10, 120), ("warehouse",), (60, 110),
                "logistics"),
    _NafProfile("49.41A", "Transports routiers de fret interurbains", "Transports Démo",
                (2_000, 15_000), (15, 150), ("warehouse", "land"),
                (55, 105), "logistics", weight=2.0),
    _NafProfile("49.41B", "Transports routiers de fret de proximité", "Livraisons Démo",
                (500, 3_000), (5, 60), ("warehouse", "workshop"),
                (70, 150), "logistics", weight=1.5),
    _NafProfile("52.10A", "Entreposage et stockage frigorifique", "Froid Démo", (3_000, 15_000),
                (10, 80), ("warehouse",), (70, 115), "logistics", 0.8,
                place="min"),
    _NafProfile("52.10B", "Entreposage et stockage non frigorifique", "Stockage Démo",
                (3_000, 18_000), (8, 100), ("warehouse",), (55, 105),
                "logistics", 0.6, weight=2.0),
    _NafProfile("52.29A", "Messagerie, fret express", "Express Démo", (2_000, 10_000),
                (20, 150), ("warehouse",),
                (65, 115), "logistics", place="orly"),
    _NafProfile("56.29A", "Restauration collective sous contrat", "Restauration Démo",
                (500, 2_500), (20, 120), ("industrial_building", "workshop"),
                (90, 160), "production", 0.3),
    _NafProfile("71.20B", "Analyses, essais et inspections techniques", "Contrôle Démo",
                (200, 1_200), (5, 40), ("lab", "workshop"), (130, 230), "lab"),
    _NafProfile("72.11Z", "Recherche-développement en biotechnologie", "Biotech Démo",
                (150, 1_500), (4, 60), ("lab",), (170, 280),
                "lab", 0.2, place="campus", weight=1.5),
    _NafProfile("72.19Z", "Recherche-développement en autres sciences physiques et naturelles",
                "Recherche Démo", (200, 2_000), (4, 60), ("lab", "workshop"),
                (150, 260), "lab", weight=1.5),
    _NafProfile("74.10Z", "Activités spécialisées de design", "Studio Démo", (80, 300), (2, 12),
                ("workshop", "office_annex"), (130, 210), "craft"),
    _NafProfile("77.32Z",
                "Location et location-bail de machines et équipements pour la construction",
                "Location Démo", (1_500, 6_000), (5, 40), ("land", "warehouse"),
                (30, 100), "land"),
    _NafProfile("81.30Z", "Services d'aménagement paysager", "Paysages Démo", (300, 1_500),
                (5, 40), ("land", "workshop", "business_village_lot"), (40, 150),
                "land"),
    _NafProfile("90.03A", "Création artistique relevant des arts plastiques",
                "Atelier Démo d'artistes", (60, 300), (1, 6), ("workshop",),
                (100, 170), "craft"),
    _NafProfile("95.11Z", "Réparation d'ordinateurs et d'équipements périphériques",
                "Réparation Démo", (80, 300), (2, 15), ("workshop", "business_village_lot"),
                (110, 180), "craft"),
    _NafProfile("96.01A", "Blanchisserie-teinturerie de gros", "Blanchisserie Démo",
                (800, 3_000), (15, 80), ("industrial_building", "workshop"), (80, 140),
                "production", 0.7),
)
# fmt: on


# --------------------------------------------------------------------------------------------
# Territory plumbing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DemoTables:
    """What the demo knows of a territory's places beyond its reference layers.

    A territory folder ships these tables as ``demo.json`` (named by ``"demo"`` in its
    manifest); a territory without them gets :meth:`generic` ones, so that its demo is drawn
    from its layers alone (communes, zones, landmarks, stations, interchanges).

    Attributes
    ----------
    plan
        Relative weights of listing kinds per commune (INSEE code).
    default_plan
        The weights of a commune the plan does not list.
    postcodes
        Postcode per commune, for addresses (none: the address names the commune only).
    urban_communes
        Dense communes: urban workshops; where the "too big" needs look.
    logistics_communes
        The logistics belt.
    food_communes
        Communes where listings more often allow food processing.
    regions
        Per NAF code of :data:`_NAF_PROFILES`, the communes such companies look in
        (anywhere in the territory when absent).
    owners
        ``(account, display name, {kind: weight})`` of the fictitious owners.
    village
        ``(commune, account, display name)`` of a business village whose lots the demo lists,
        or None.
    campus
        ``(label, lon, lat, commune)`` of a research campus labs gather around, or None.
    landmarks
        Keywords finding in the landmarks layer the places some companies need to be near
        (``"min"``: a wholesale food market, ``"orly"``: an airport).
    company_suffixes
        Words after the fictitious company names.
    rent_centre
        ``(label, lon, lat)`` of the centre rents fall from with distance (for GOSB, Paris),
        or None for no gradient.
    ring_roads
        The roads whose interchanges draw the ring inside which rents are higher (for GOSB,
        the A86 and its stretch signed N186); empty for none.
    """

    plan: dict[str, dict[str, int]]
    default_plan: dict[str, int]
    postcodes: dict[str, str]
    urban_communes: tuple[str, ...]
    logistics_communes: tuple[str, ...]
    food_communes: tuple[str, ...]
    regions: dict[str, tuple[str, ...]]
    owners: tuple[tuple[str, str, dict[str, float]], ...]
    village: tuple[str, str, str] | None
    campus: tuple[str, float, float, str] | None
    landmarks: dict[str, tuple[str, ...]]
    company_suffixes: tuple[str, ...]
    rent_centre: tuple[str, float, float] | None = None
    ring_roads: tuple[str, ...] = ()

    @classmethod
    def generic(cls) -> DemoTables:
        """Tables for a territory that ships none: every kind everywhere, generic names."""
        return cls(
            plan={},
            default_plan={
                "warehouse": 3,
                "workshop": 3,
                "industrial_building": 2,
                "land": 1,
                "lab": 1,
                "office_annex": 1,
            },
            postcodes={},
            urban_communes=(),
            logistics_communes=(),
            food_communes=(),
            regions={},
            owners=(
                ("fonciere-demo", "Foncière Démo", {}),
                ("agence-demo-immobilier", "Agence Démo Immobilier", {}),
                ("sci-demo-des-ateliers", "SCI Démo des Ateliers", {}),
            ),
            village=None,
            campus=None,
            landmarks={"min": ("marche d'interet national",), "orly": ("aeroport", "airport")},
            company_suffixes=(
                "Horizon",
                "Atlas",
                "Boréal",
                "Méridien",
                "Zénith",
                "du Moulin",
                "des Tilleuls",
                "du Marché",
                "des Saules",
                "du Port",
            ),
        )

    @classmethod
    def from_file(cls, path: Path) -> DemoTables:
        """Read the tables of a territory's ``demo.json``.

        Raises
        ------
        TerritoryError
            When the file is missing or a table is malformed, naming the file and the key.
        """
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            village = raw.get("village")
            campus = raw.get("campus")
            gradient = raw.get("rent_gradient") or {}
            centre = gradient.get("centre")
            return cls(
                plan={
                    str(c): {str(k): int(w) for k, w in p.items()} for c, p in raw["plan"].items()
                },
                default_plan={str(k): int(w) for k, w in raw["default_plan"].items()},
                postcodes={str(c): str(v) for c, v in raw.get("postcodes", {}).items()},
                urban_communes=tuple(raw.get("urban_communes", ())),
                logistics_communes=tuple(raw.get("logistics_communes", ())),
                food_communes=tuple(raw.get("food_communes", ())),
                regions={str(k): tuple(v) for k, v in raw.get("regions", {}).items()},
                owners=tuple(
                    (
                        str(o["account"]),
                        str(o["name"]),
                        {str(k): float(w) for k, w in o["weights"].items()},
                    )
                    for o in raw["owners"]
                ),
                village=(
                    (str(village["commune"]), str(village["account"]), str(village["name"]))
                    if village
                    else None
                ),
                campus=(
                    (
                        str(campus["label"]),
                        float(campus["lon"]),
                        float(campus["lat"]),
                        str(campus["commune"]),
                    )
                    if campus
                    else None
                ),
                landmarks={str(k): tuple(v) for k, v in raw.get("landmarks", {}).items()},
                company_suffixes=tuple(raw["company_suffixes"]),
                rent_centre=(
                    (str(centre["label"]), float(centre["lon"]), float(centre["lat"]))
                    if centre
                    else None
                ),
                ring_roads=tuple(str(r) for r in gradient.get("ring_roads", ())),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            msg = f"{path}: not valid demo tables ({type(exc).__name__}: {exc})"
            raise TerritoryError(msg) from exc

    def owner_weights(self, kind: str) -> NDArray[np.float64]:
        """Probability of each owner for a kind of listing (uniform when not given)."""
        weights = np.array([w.get(kind, 0.0) for _, _, w in self.owners], dtype=float)
        total = float(weights.sum())
        if total <= 0:
            return np.full(len(self.owners), 1.0 / len(self.owners))
        return weights if abs(total - 1.0) < 1e-9 else weights / total


def demo_tables(territory: Territory) -> DemoTables:
    """The demo tables of a territory: its ``demo.json`` when its manifest names one.

    Examples
    --------
    >>> from geodata.territory import load_territory
    >>> demo_tables(load_territory("gosb")).village[0]
    '94074'
    """
    name = territory.manifest.get("demo")
    if not name:
        return DemoTables.generic()
    return DemoTables.from_file(territory.path / str(name))


def _points_frame(layer: Any) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Names and WGS84 coordinates of a point layer (an empty one when it is missing)."""
    if layer is None or len(layer) == 0:
        return [], np.empty(0), np.empty(0)
    gdf = layer.to_crs(4326) if layer.crs is not None and layer.crs.to_epsg() != 4326 else layer
    pts = shapely.point_on_surface(np.asarray(gdf.geometry.array))
    names = [str(v) for v in gdf["name"]] if "name" in gdf else [""] * len(gdf)
    return names, shapely.get_x(pts), shapely.get_y(pts)


def _norm(text: str) -> str:
    """Lower-case ASCII folding, to match names whatever their accents."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()


@dataclass
class _Places:
    """What the generator needs to know about the territory, prepared once per call."""

    territory: Territory
    tables: DemoTables
    insee: list[str]
    names: dict[str, str]
    center: dict[str, tuple[float, float]]  # Lambert-93
    sigma: dict[str, float]
    inner: dict[str, tuple[float, float]]  # WGS84 point surely inside the commune
    landmark_names: list[str]
    landmark_xy: np.ndarray  # (L, 2) Lambert-93
    landmarks_near: dict[str, list[int]]
    zone_ids: list[str]
    zone_geoms: np.ndarray  # WGS84 polygons
    zone_bounds: np.ndarray  # (Z, 4) Lambert-93 bounds
    zones_in: dict[str, list[int]]
    village: int | None
    village_center: tuple[float, float] | None  # Lambert-93
    station_names: list[str]
    station_xy: np.ndarray
    interchange_labels: list[str]
    interchange_xy: np.ndarray

    def commune_of(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """The INSEE code at each point (None outside), as an object array."""
        if len(lon) == 0:
            return np.empty(0, dtype=object)
        return np.asarray(self.territory.commune_at(lon, lat), dtype=object)

    def landmark(self, *keywords: str) -> int | None:
        """Index of the first landmark whose name contains one of the keywords."""
        for kw in keywords:
            for i, name in enumerate(self.landmark_names):
                if kw in _norm(name):
                    return i
        return None


def _prepare(territory: Territory, tables: DemoTables) -> _Places:
    communes = territory.communes
    if communes.crs is not None and communes.crs.to_epsg() != 4326:
        communes = communes.to_crs(4326)
    insee = sorted(str(c) for c in communes.index)
    geoms = {str(c): g for c, g in zip(communes.index, communes.geometry.array, strict=True)}
    names = {str(c): str(n) for c, n in zip(communes.index, communes["name"], strict=True)}
    geom_arr = np.asarray([geoms[c] for c in insee], dtype=object)
    inner_pts = shapely.point_on_surface(geom_arr)
    inner = {
        c: (float(x), float(y))
        for c, x, y in zip(insee, shapely.get_x(inner_pts), shapely.get_y(inner_pts), strict=True)
    }
    # The town hall is the natural centre, unless it is missing or lies outside the commune.
    th_lon = np.array([_num(communes.at[c, "town_hall_lon"], inner[c][0]) for c in insee])
    th_lat = np.array([_num(communes.at[c, "town_hall_lat"], inner[c][1]) for c in insee])
    at_th = np.asarray(territory.commune_at(th_lon, th_lat), dtype=object)
    ok = at_th == np.asarray(insee, dtype=object)
    c_lon = np.where(ok, th_lon, shapely.get_x(inner_pts))
    c_lat = np.where(ok, th_lat, shapely.get_y(inner_pts))
    cx, cy = to_lambert93(c_lon, c_lat)
    geom_l93 = shapely.transform(geom_arr, lambda xy: np.column_stack(to_lambert93(*xy.T)))
    areas = shapely.area(geom_l93)
    center = {c: (float(x), float(y)) for c, x, y in zip(insee, cx, cy, strict=True)}
    sigma = {c: float(0.3 * math.sqrt(a)) for c, a in zip(insee, areas, strict=True)}

    lm_names, lm_lon, lm_lat = _points_frame(getattr(territory, "landmarks", None))
    lm_x, lm_y = to_lambert93(lm_lon, lm_lat)
    lm_xy = np.column_stack([lm_x, lm_y]) if len(lm_names) else np.empty((0, 2))
    landmarks_near: dict[str, list[int]] = {c: [] for c in insee}
    if len(lm_names):
        dist = shapely.distance(geom_l93[:, None], shapely.points(lm_xy)[None, :])
        for i, c in enumerate(insee):
            landmarks_near[c] = [int(j) for j in np.flatnonzero(dist[i] <= 1_000.0)]

    zones = getattr(territory, "zones", None)
    zone_ids: list[str] = []
    zone_geoms = np.empty(0, dtype=object)
    zone_bounds = np.empty((0, 4))
    zones_in: dict[str, list[int]] = {c: [] for c in insee}
    village: int | None = None
    if zones is not None and len(zones):
        if zones.crs is not None and zones.crs.to_epsg() != 4326:
            zones = zones.to_crs(4326)
        zone_ids = [str(v) for v in zones["site_id"]]
        zone_geoms = np.asarray(zones.geometry.array, dtype=object)
        zl93 = shapely.transform(zone_geoms, lambda xy: np.column_stack(to_lambert93(*xy.T)))
        zone_bounds = shapely.bounds(zl93)
        zp = shapely.point_on_surface(zone_geoms)
        zone_commune = np.asarray(
            territory.commune_at(shapely.get_x(zp), shapely.get_y(zp)), dtype=object
        )
        for j, c in enumerate(zone_commune):
            if c is not None and str(c) in zones_in:
                zones_in[str(c)].append(j)
        village = _find_village(
            tables.village[0] if tables.village else None,
            names,
            zones,
            zone_commune,
            zone_geoms,
            lm_names,
            lm_lon,
            lm_lat,
        )
        if village is not None:
            for c in zones_in:
                zones_in[c] = [j for j in zones_in[c] if j != village]

    st_names, st_lon, st_lat = _points_frame(getattr(territory, "stations", None))
    st_x, st_y = to_lambert93(st_lon, st_lat)
    # Road access is described by the nearest exit, never by a junction between two motorways.
    ic = getattr(territory, "motorway_access", getattr(territory, "interchanges", None))
    ic_names, ic_lon, ic_lat = _points_frame(ic)
    ic_labels = list(ic_names)
    if ic is not None and len(ic) and "road" in ic:  # name the road unless the name does
        roads = [str(r) for r in ic["road"]]
        ic_labels = [
            n if r in n else f"{r} – {n}" if n else r for r, n in zip(roads, ic_names, strict=True)
        ]
    ic_x, ic_y = to_lambert93(ic_lon, ic_lat)
    village_key = _norm(names[tables.village[0]]) if village is not None and tables.village else ""
    return _Places(
        territory=territory,
        tables=tables,
        insee=insee,
        names=names,
        center=center,
        sigma=sigma,
        inner=inner,
        landmark_names=lm_names,
        landmark_xy=lm_xy,
        landmarks_near=landmarks_near,
        zone_ids=zone_ids,
        zone_geoms=zone_geoms,
        zone_bounds=zone_bounds,
        zones_in=zones_in,
        village=village,
        village_center=_village_center(village, village_key, zone_geoms, lm_names, lm_lon, lm_lat),
        station_names=st_names,
        station_xy=np.column_stack([st_x, st_y]) if len(st_names) else np.empty((0, 2)),
        interchange_labels=ic_labels,
        interchange_xy=np.column_stack([ic_x, ic_y]) if len(ic_labels) else np.empty((0, 2)),
    )


def _num(value: Any, default: float) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(out) else out


def _find_village(
    commune: str | None,
    names: dict[str, str],
    zones: Any,
    zone_commune: np.ndarray,
    zone_geoms: np.ndarray,
    lm_names: list[str],
    lm_lon: np.ndarray,
    lm_lat: np.ndarray,
) -> int | None:
    """Index of the business village (its commune from the demo tables) among the zones."""
    if commune is None or commune not in names:
        return None
    key = _norm(names[commune])
    in_commune = []
    for j in range(len(zone_geoms)):
        communes = str(zones["site_comm_insee"].iloc[j]) if "site_comm_insee" in zones else ""
        if zone_commune[j] == commune or commune in communes:
            in_commune.append(j)
    if not in_commune:
        return None
    pattern = re.compile(r"village|entreprises|business")
    for j in in_commune:
        text = " ".join(
            _norm(str(zones[col].iloc[j]))
            for col in ("site_nom", "site_type", "site_vocadomi")
            if col in zones
        )
        if pattern.search(text):
            return j
    for i, name in enumerate(lm_names):
        if key in _norm(name):
            hit = [
                j for j in in_commune if shapely.contains_xy(zone_geoms[j], lm_lon[i], lm_lat[i])
            ]
            if hit:
                return hit[0]
    return max(in_commune, key=lambda j: float(shapely.area(zone_geoms[j])))


def _village_center(
    village: int | None,
    key: str,
    zone_geoms: np.ndarray,
    lm_names: list[str],
    lm_lon: np.ndarray,
    lm_lat: np.ndarray,
) -> tuple[float, float] | None:
    """Lambert-93 centre of the village: its landmark when inside the zone, else a point in it."""
    if village is None:
        return None
    geom = zone_geoms[village]
    for i, name in enumerate(lm_names):
        if key and key in _norm(name) and shapely.contains_xy(geom, lm_lon[i], lm_lat[i]):
            x, y = to_lambert93(lm_lon[i], lm_lat[i])
            return float(x[0]), float(y[0])
    pt = shapely.point_on_surface(geom)
    x, y = to_lambert93(shapely.get_x(pt), shapely.get_y(pt))
    return float(x[0]), float(y[0])


def _sample_points(
    rng: np.random.Generator,
    places: _Places,
    insee: Sequence[str],
    cx: np.ndarray,
    cy: np.ndarray,
    sigma: np.ndarray,
    zone: np.ndarray,
    *,
    strict_zone: np.ndarray | None = None,
    avoid_village: np.ndarray | None = None,
    rounds: int = 80,
) -> tuple[np.ndarray, np.ndarray]:
    """Draw one point per record inside its commune (and zone), by bulk rejection sampling.

    Records with ``zone[i] >= 0`` are kept only inside that zone's polygon: they are drawn
    uniformly in its bounding box, or, when their zone is strict, from a Gaussian around
    ``(cx, cy)`` like the others (``sigma`` metres, Lambert-93). Every round draws all pending
    records at once. After a third of the rounds, the records that still fail fall back to
    their commune's centre (unless their zone is strict); the last resort is a point surely
    inside the commune.
    """
    n = len(insee)
    target = np.asarray(list(insee), dtype=object)
    cx, cy, sigma, zone = cx.astype(float), cy.astype(float), sigma.astype(float), zone.copy()
    strict = np.zeros(n, bool) if strict_zone is None else strict_zone
    avoid = np.zeros(n, bool) if avoid_village is None else avoid_village
    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    pending = np.arange(n)
    for r in range(rounds):
        if len(pending) == 0:
            break
        if r == rounds // 3:
            loose = pending[(zone[pending] >= 0) & ~strict[pending] | (zone[pending] < 0)]
            zone[loose] = -1
            cx[loose] = [places.center[target[i]][0] for i in loose]
            cy[loose] = [places.center[target[i]][1] for i in loose]
            sigma[loose] = [places.sigma[target[i]] for i in loose]
        z = zone[pending]
        in_zone = z >= 0
        uniform = in_zone & ~strict[pending]
        b = places.zone_bounds[np.where(in_zone, z, 0)] if len(places.zone_bounds) else None
        gx = cx[pending] + sigma[pending] * rng.standard_normal(len(pending))
        gy = cy[pending] + sigma[pending] * rng.standard_normal(len(pending))
        ux = rng.uniform(size=len(pending))
        uy = rng.uniform(size=len(pending))
        if b is not None:
            gx = np.where(uniform, b[:, 0] + ux * (b[:, 2] - b[:, 0]), gx)
            gy = np.where(uniform, b[:, 1] + uy * (b[:, 3] - b[:, 1]), gy)
        plon, plat = to_wgs84(gx, gy)
        plon, plat = np.round(plon, 6), np.round(plat, 6)
        ok = places.commune_of(plon, plat) == target[pending]
        if in_zone.any():
            zg = places.zone_geoms[np.where(in_zone, z, 0)]
            ok &= ~in_zone | shapely.contains_xy(zg, plon, plat)
        if places.village is not None and avoid[pending].any():
            inside_village = shapely.contains_xy(places.zone_geoms[places.village], plon, plat)
            ok &= ~(avoid[pending] & inside_village)
        done = pending[ok]
        lon[done], lat[done] = plon[ok], plat[ok]
        pending = pending[~ok]
    for i in pending:  # last resort, rarely reached
        lon[i], lat[i] = places.inner[target[i]]
    return lon, lat


def _nearest(xy: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Index of and distance (m) to the nearest target of each point; -1 when none."""
    if len(targets) == 0 or len(xy) == 0:
        return np.full(len(xy), -1), np.full(len(xy), np.inf)
    d = np.hypot(xy[:, None, 0] - targets[None, :, 0], xy[:, None, 1] - targets[None, :, 1])
    j = np.argmin(d, axis=1)
    return j, d[np.arange(len(xy)), j]


# --------------------------------------------------------------------------------------------
# Formatting
# --------------------------------------------------------------------------------------------


def _fr_int(value: float) -> str:
    """A whole number with French thousands spacing: 4800 -> '4 800'."""
    return f"{round(value):,}".replace(",", " ")


def _fr_dec(value: float, digits: int = 1) -> str:
    """A decimal number the French way, without a useless ',0': 9.5 -> '9,5', 9.0 -> '9'."""
    text = f"{value:.{digits}f}".replace(".", ",")
    return text.rstrip("0").rstrip(",") if "," in text else text


# --------------------------------------------------------------------------------------------
# Premises
# --------------------------------------------------------------------------------------------


def _allocate(weights: list[tuple[str, str, float]], total: int) -> list[int]:
    """Split ``total`` among weighted segments (largest remainder), each commune getting one."""
    if total <= 0 or not weights:
        return [0] * len(weights)
    w = np.array([s[2] for s in weights], float)
    quota = w / w.sum() * total
    counts = np.floor(quota).astype(int)
    rest = total - counts.sum()
    order = np.lexsort((np.arange(len(w)), -(quota - counts)))
    counts[order[:rest]] += 1
    communes = sorted({s[0] for s in weights})
    if total >= len(communes):
        for c in communes:
            idx = [i for i, s in enumerate(weights) if s[0] == c]
            if counts[idx].sum() == 0:
                donor = int(np.argmax(counts))
                counts[donor] -= 1
                counts[idx[int(np.argmax(w[idx]))]] += 1
    return [int(v) for v in counts]


def _draw_uses(rng: np.random.Generator, spec: _KindSpec, boost: dict[str, float]) -> list[str]:
    chosen = set(spec.core_uses)
    for use, p in spec.optional_uses:
        if rng.uniform() < boost.get(use, p):
            chosen.add(use)
    if not chosen:
        chosen.add(spec.optional_uses[0][0] if spec.optional_uses else "production")
    return [u.value for u in Use if u.value in chosen]


def _round_step(value: float, step: float) -> float:
    return float(max(step, round(value / step) * step))


# --------------------------------------------------------------------------------------------
# Rents
# --------------------------------------------------------------------------------------------
#
# Published market figures the demo rents are calibrated on (rents excluding tax and service
# charges, €/m²/year, 2024–2025; rounded as quoted by the brokers' market reports):
#
# - logistics: the prime rent of Greater Paris (Grand Paris) warehouses is about 85 €/m²/year
#   (JLL and CBRE, Île-de-France logistics market reports, 2024–2025). Prime means large,
#   modern, well-placed platforms; small urban cells near Paris let dearer per m², large
#   platforms cheaper: a discount with size.
# - activity premises ("locaux d'activités"): about 122 €/m²/year on average in
#   Île-de-France, about 150–160 inside the A86 ring, about 143 for new buildings (JLL and
#   CBRE, Île-de-France activity premises market reports, 2024–2025).
# - small-business village units are usually 150–400 m² (developers' programmes).
#
# Each rent is  reference × ring × distance × size × noise :
#
# - reference: the kind's median rent inside the A86 ring, 8 km from the centre of Paris
#   (:data:`_RENT_MODEL`; for warehouses, at 5 000 m²);
# - ring: 1 inside the A86, the kind's ``outside`` factor beyond it (workshops: 0.85, so that
#   inside ≈ 150–160 and the outer communes ≈ 110–125, about the Île-de-France average);
# - distance: ``exp(-gradient × (d - 8 km))`` with ``d`` the distance to the centre of Paris
#   (Notre-Dame, the kilometre zero of French roads): -1.2 % per km;
# - size: ``(surface / reference surface) ** elasticity`` (warehouses -0.08: a 600 m² cell
#   ≈ +19 %, a 20 000 m² platform ≈ -10 % against 5 000 m²; land -0.05);
# - noise: a uniform ±10 % (one draw, where the demo drew a uniform rent before).
#
# "Inside the A86" is read from the territory's interchanges layer: the ring road's exits and
# junctions (the GOSB stretch is the southern arc, Antony – Fresnes – Rungis – Thiais –
# Choisy-le-Roi – Créteil; Travel Mapping waypoints, see the folder's SOURCES.md) joined by
# straight lines; a listing north of that line, between its two ends, is inside. Which roads
# draw the ring, and the centre, come from the territory's demo tables
# (``rent_gradient`` in demo.json); without them rents have no gradient.
#
# The demo stays FICTITIOUS: these are plausible levels for a believable demonstration, not
# a valuation of any property.


@dataclass(frozen=True)
class _RentModel:
    """The rent of one kind: median inside the ring at 8 km, factors beyond it."""

    reference: float
    outside: float = 0.85
    gradient_per_km: float = 0.012
    size_reference_m2: float = 1.0
    size_elasticity: float = 0.0
    spread: float = 0.10


_RENT_MODEL: dict[str, _RentModel] = {
    # Large platforms outside the A86 ≈ 70–80 €, around the 85 € prime; small urban cells
    # inside the ring ≈ 110–125 €.
    "warehouse": _RentModel(
        reference=100.0, outside=0.82, size_reference_m2=5_000.0, size_elasticity=-0.08
    ),
    "industrial_building": _RentModel(
        reference=115.0, outside=0.85, size_reference_m2=4_000.0, size_elasticity=-0.05
    ),
    # Activity premises: ≈ 150–160 inside the A86 (nearer Paris, dearer), ≈ 110–125 in the
    # outer communes.
    "workshop": _RentModel(reference=150.0, outside=0.85),
    "land": _RentModel(
        reference=36.0, outside=0.8, size_reference_m2=15_000.0, size_elasticity=-0.05
    ),
    "lab": _RentModel(reference=230.0, outside=0.85),
    "office_annex": _RentModel(reference=190.0, outside=0.85),
    # New units of one development: about the 143 € of new activity premises, a little less
    # outside the A86; the same place for every lot, so no gradient.
    "business_village_lot": _RentModel(reference=136.0, outside=1.0, gradient_per_km=0.0),
}

#: Distance (km) to the centre at which :attr:`_RentModel.reference` holds.
_RENT_REFERENCE_KM = 8.0


def _ring_inside(
    territory: Territory, roads: Sequence[str], x: NDArray[np.float64], y: NDArray[np.float64]
) -> NDArray[np.bool_]:
    """Whether Lambert-93 points lie inside a ring road, from its interchanges' waypoints.

    The waypoints of ``roads`` (their ``road``, or the road named in a junction's name) are
    joined from west to east; a point between the first and last one and north of the line
    is inside. Fewer than two waypoints: nothing is inside.
    """
    out = np.zeros(len(x), dtype=bool)
    if not roads:
        return out
    layer = territory.layer("interchanges")
    if not len(layer):
        return out
    road = layer.column("road") if "road" in layer.columns else np.full(len(layer), None)
    name = layer.column("name") if "name" in layer.columns else np.full(len(layer), None)
    keep = np.array(
        [
            str(r) in roads or any(t in str(n) for t in roads)
            for r, n in zip(road, name, strict=True)
        ],
        dtype=bool,
    )
    if keep.sum() < 2:
        return out
    wx, wy = to_lambert93(shapely.get_x(layer.geometry[keep]), shapely.get_y(layer.geometry[keep]))
    order = np.argsort(wx)
    wx, wy = wx[order], wy[order]
    return (x >= wx[0]) & (x <= wx[-1]) & (y > np.interp(x, wx, wy))


def _rent(kind: str, surface: float, distance_km: float, inside: bool, u: float) -> float:
    """The demo rent (€/m²/year) of a listing; ``u`` is a uniform draw in [0, 1).

    Examples
    --------
    >>> _rent("workshop", 300, 8.0, True, 0.5), _rent("workshop", 300, 8.0, False, 0.5)
    (150.0, 128.0)
    >>> _rent("warehouse", 600, 14.0, False, 0.5) > _rent("warehouse", 20_000, 14.0, False, 0.5)
    True
    """
    m = _RENT_MODEL[kind]
    rent = m.reference * (1.0 if inside else m.outside)
    rent *= math.exp(-m.gradient_per_km * (distance_km - _RENT_REFERENCE_KM))
    if m.size_elasticity:
        rent *= (surface / m.size_reference_m2) ** m.size_elasticity
    rent *= 1.0 + m.spread * (2.0 * u - 1.0)
    return float(round(rent))


def _premises_record(
    rng: np.random.Generator,
    kind: str,
    insee: str,
    boost: dict[str, float],
    *,
    distance_km: float = _RENT_REFERENCE_KM,
    inside_ring: bool = False,
) -> dict[str, Any]:
    """Size, equip and price one listing of ``kind`` (everything but place and texts).

    ``distance_km`` (to the centre the rents fall from) and ``inside_ring`` (inside the A86)
    place its rent on the gradient (see "Rents" above).
    """
    spec = _SPECS[kind]
    lo, hi = spec.surface
    surface = _round_step(math.exp(rng.uniform(math.log(lo), math.log(hi))), spec.step)
    rec: dict[str, Any] = {"kind": kind, "surface_m2": surface}
    rec["uses"] = _draw_uses(rng, spec, boost)
    if kind == "land":
        rec["plot_m2"] = surface
    elif spec.plot_factor is not None:
        rec["plot_m2"] = _round_step(surface * rng.uniform(*spec.plot_factor), 100)
    if spec.ceiling is not None:
        rec["ceiling_height_m"] = round(rng.uniform(*spec.ceiling) * 2) / 2
    if spec.floor_load is not None:
        load = rng.uniform(*spec.floor_load)
        rec["floor_load_t_m2"] = round(load * 2) / 2 if load >= 2 else round(load, 1)
    if kind != "land":
        docks = round(surface / 1000 * rng.uniform(*spec.docks_per_1000))
        if kind == "warehouse":
            docks = max(docks, 2)
        rec["loading_docks"] = int(docks)
        rec["ground_level_doors"] = int(rng.integers(spec.doors[0], spec.doors[1] + 1))
        rec["parking_spaces"] = round(surface / 1000 * rng.uniform(*spec.parking_per_1000))
    if spec.power is not None:
        rec["power_kva"] = float(max(36, round(rng.uniform(*spec.power), -1)))
    rec["icpe_allowed"] = bool(rng.uniform() < spec.icpe_p)
    # Split of the surface (floors, so that the parts never add up to more than the whole).
    fractions = {
        "activity_m2": rng.uniform(*spec.activity),
        "storage_m2": rng.uniform(*spec.storage),
        "office_m2": rng.uniform(*spec.office),
    }
    total = sum(fractions.values())
    if total > 1:
        fractions = {k: f / total for k, f in fractions.items()}
    if kind in ("workshop", "industrial_building", "lab", "business_village_lot"):
        parts = {k: float(math.floor(surface * f)) for k, f in fractions.items() if f > 0}
        used = sum(parts.values())
        if surface - used > 0 and kind in ("industrial_building", "lab"):
            parts["storage_m2"] = surface - used
        rec.update(parts)
    elif kind in ("warehouse", "office_annex"):
        rec.update({k: float(math.floor(surface * f)) for k, f in fractions.items() if f > 0})
    if rng.uniform() < spec.mezzanine_p:
        rec["mezzanine_m2"] = float(_round_step(surface * rng.uniform(0.1, 0.25), 5))
    # Divisible into lots.
    if spec.divisible_p and surface >= 3 * lo and rng.uniform() < spec.divisible_p:
        rec["divisible"] = True
        rec["min_lot_m2"] = _round_step(max(lo, surface / rng.integers(2, 6)), spec.step)
    # Tenure and prices.
    tenure = str(rng.choice(_TENURES, p=spec.tenure_p))
    rec["tenure"] = tenure
    if tenure in ("rent", "both"):
        # One uniform draw, as when rents were drawn uniformly per kind: the stream, hence
        # every other value of the catalogue, stays that of the same seed.
        rec["rent_eur_m2_year"] = _rent(kind, surface, distance_km, inside_ring, rng.uniform())
        if spec.charges is not None:
            rec["charges_eur_m2_year"] = float(round(rng.uniform(*spec.charges)))
    if tenure in ("sale", "both"):
        price = surface * rng.uniform(*spec.sale_eur_m2)
        rec["sale_price_eur"] = _round_step(price, 1_000 if surface < 1_000 else 5_000)
    status = str(rng.choice(_STATUSES, p=_STATUS_P))
    if status == "sold" and tenure == "rent":
        status = "let"
    elif status == "let" and tenure == "sale":
        status = "sold"
    rec["status"] = status
    return rec


def _dates(rng: np.random.Generator, rec: dict[str, Any], ref: date, village: bool) -> None:
    if village:  # a new development, delivered in stages
        start, span = date(2026, 9, 1), 300
    else:
        start, span = date(2026, 1, 1), 729
    rec["available_from"] = start + timedelta(days=int(rng.integers(0, span + 1)))
    # Most listings were confirmed within the last 60 days; a fifth were not, and half of
    # those are past the 90 days after which a listing leaves the public search.
    days = rng.uniform(0, 59) if rng.uniform() < 0.8 else rng.uniform(60, 180)
    stamp = datetime.combine(ref, time(9, 0), tzinfo=UTC) - timedelta(days=float(days))
    rec["last_verified_at"] = stamp.replace(microsecond=0)


def _owner(rng: np.random.Generator, kind: str, tables: DemoTables) -> tuple[str, str]:
    if kind == "business_village_lot" and tables.village is not None:
        return tables.village[1], tables.village[2]
    account, name, _ = tables.owners[
        int(rng.choice(len(tables.owners), p=tables.owner_weights(kind)))
    ]
    return account, name


def _describe(
    rng: np.random.Generator,
    rec: dict[str, Any],
    commune: str,
    near: list[str],
) -> str:
    kind = rec["kind"]
    leads = _LEADS[kind]
    lead = leads[int(rng.integers(len(leads)))]
    parts = [f"{lead} à {commune}, {_fr_int(rec['surface_m2'])} m²."]
    tech = []
    if rec.get("ceiling_height_m"):
        tech.append(f"hauteur libre {_fr_dec(rec['ceiling_height_m'])} m")
    if rec.get("loading_docks"):
        n = rec["loading_docks"]
        tech.append(f"{n} quai{'s' if n > 1 else ''} de chargement")
    if rec.get("ground_level_doors"):
        n = rec["ground_level_doors"]
        tech.append(
            f"{n} porte{'s' if n > 1 else ''} sectionnelle{'s' if n > 1 else ''} de plain-pied"
        )
    if rec.get("floor_load_t_m2"):
        tech.append(f"dalle {_fr_dec(rec['floor_load_t_m2'])} t/m²")
    if rec.get("power_kva"):
        tech.append(f"puissance {_fr_int(rec['power_kva'])} kVA")
    if tech:
        parts.append(tech[0][0].upper() + ", ".join(tech)[1:] + ".")
    if kind == "land":
        parts.append("Terrain plat, clos, accessible aux poids lourds.")
    if rec.get("icpe_allowed"):
        parts.append("Activités classées (ICPE) envisageables.")
    if rec.get("divisible"):
        parts.append(f"Divisible à partir de {_fr_int(rec['min_lot_m2'])} m².")
    parts.extend(near)
    parts.append(DEMO_SENTENCE)
    return " ".join(parts)


def demo_premises(
    seed: int = 2018,
    n: int = 360,
    *,
    territory: Territory,
    reference_date: date = REFERENCE_DATE,
) -> list[PremisesCreate]:
    """Generate ``n`` fictitious premises listings spread over the territory's communes.

    Kinds, sizes and rents fit each place (warehouses around Rungis, Orly and the A86, urban
    workshops next to Paris, labs around Villejuif, plots of land in the south-east) and about
    twenty lots of the Valenton village d'entreprises share that park's ``zone_id``. Each point
    is drawn inside the commune it is listed in, and each record is validated as a
    :class:`~geodata.schemas.PremisesCreate` against the territory.

    Parameters
    ----------
    seed
        Seed of the random generator: the same seed gives the same listings.
    n
        Number of listings.
    territory
        The territory to place listings in.
    reference_date
        "Today" of the demo: verification dates are at most 18 months before it.

    Returns
    -------
    list of PremisesCreate
        Listings with ``external_ref`` ``DEMO-0001``, ``DEMO-0002``…

    Examples
    --------
    >>> from geodata.territory import load_territory
    >>> items = demo_premises(n=60, territory=load_territory("gosb"))
    >>> len(items), items[0].external_ref, items[0].description.endswith(DEMO_SENTENCE)
    (60, 'DEMO-0001', True)
    """
    if n < 0:
        msg = f"n: the number of listings must be positive or zero, got {n}"
        raise ValueError(msg)
    tables = demo_tables(territory)
    places = _prepare(territory, tables)
    rng = np.random.default_rng([seed, 1])

    n_village = min(20, n // 10) if places.village is not None else 0
    segments = [
        (c, kind, float(w))
        for c in places.insee
        for kind, w in sorted(tables.plan.get(c, tables.default_plan).items())
    ]
    counts = _allocate(segments, n - n_village)
    rows: list[tuple[str, str]] = [
        (c, kind) for (c, kind, _), k in zip(segments, counts, strict=True) for _ in range(k)
    ]
    if tables.village is not None:
        rows += [(tables.village[0], "business_village_lot")] * n_village
    m = len(rows)
    insee = [r[0] for r in rows]
    kinds = [r[1] for r in rows]

    # Where to draw each listing from: a landmark, an activity zone or the commune's centre.
    cx = np.empty(m)
    cy = np.empty(m)
    sig = np.empty(m)
    zone = np.full(m, -1)
    anchor_p = {"warehouse": 0.6, "industrial_building": 0.35, "land": 0.6}
    zone_p = {
        "warehouse": 0.5,
        "industrial_building": 0.5,
        "workshop": 0.4,
        "lab": 0.3,
        "land": 0.3,
    }
    campus = tables.campus
    if campus is not None:
        campus_x, campus_y = to_lambert93(campus[1], campus[2])
        campus_xy = (float(campus_x[0]), float(campus_y[0]))
    else:
        campus_xy = (math.inf, math.inf)
    for i, (c, kind) in enumerate(rows):
        cx[i], cy[i] = places.center[c]
        sig[i] = places.sigma[c]
        u = rng.uniform()
        if kind == "business_village_lot":  # one compact site of about a hectare
            zone[i] = places.village
            cx[i], cy[i] = places.village_center  # type: ignore[misc]
            sig[i] = 60.0
        elif kind == "lab" and campus is not None and c == campus[3] and u < 0.85:
            cx[i], cy[i], sig[i] = float(campus_xy[0]), float(campus_xy[1]), 450.0
        elif places.landmarks_near[c] and u < anchor_p.get(kind, 0.0):
            options = places.landmarks_near[c]
            j = options[int(rng.integers(len(options)))]
            cx[i], cy[i] = places.landmark_xy[j]
            sig[i] = 700.0 if kind == "land" else 900.0
        elif places.zones_in[c] and rng.uniform() < zone_p.get(kind, 0.0):
            zs = places.zones_in[c]
            zone[i] = zs[int(rng.integers(len(zs)))]
    is_village = np.array([k == "business_village_lot" for k in kinds], bool)
    lon, lat = _sample_points(
        rng, places, insee, cx, cy, sig, zone, strict_zone=is_village, avoid_village=~is_village
    )

    # What is near each listing, for its description (vectorised distance matrices).
    x, y = to_lambert93(lon, lat)
    xy = np.column_stack([x, y])
    lm_j, lm_d = _nearest(xy, places.landmark_xy)
    st_j, st_d = _nearest(xy, places.station_xy)
    ic_j, ic_d = _nearest(xy, places.interchange_xy)
    campus_d = np.hypot(x - campus_xy[0], y - campus_xy[1])
    # Where each listing stands on the rent gradient (see "Rents").
    if tables.rent_centre is not None:
        centre_x, centre_y = to_lambert93(tables.rent_centre[1], tables.rent_centre[2])
        centre_km = np.hypot(x - centre_x[0], y - centre_y[0]) / 1000.0
    else:
        centre_km = np.full(m, _RENT_REFERENCE_KM)
    inside_ring = _ring_inside(territory, tables.ring_roads, x, y)

    out: list[PremisesCreate] = []
    lot = 0
    context = {"territory": territory}
    for i, (c, kind) in enumerate(rows):
        boost = {"food_processing": 0.5} if c in tables.food_communes else {}
        rec = _premises_record(
            rng,
            kind,
            c,
            boost,
            distance_km=float(centre_km[i]),
            inside_ring=bool(inside_ring[i]),
        )
        _dates(rng, rec, reference_date, kind == "business_village_lot")
        account, owner = _owner(rng, kind, tables)
        commune_name = places.names[c]
        street_group = _STREETS[_STREET_GROUP[kind]]
        street = street_group[int(rng.integers(len(street_group)))]
        number = int(rng.integers(1, 120))
        town = f"{tables.postcodes[c]} {commune_name}" if c in tables.postcodes else commune_name
        near: list[str] = []
        if kind == "lab" and campus is not None and campus_d[i] < 2_000:
            near.append(f"À {_fr_dec(campus_d[i] / 1000)} km du {campus[0]}.")
        elif lm_j[i] >= 0 and lm_d[i] < 3_000 and kind != "business_village_lot":
            near.append(
                f"Proximité : {places.landmark_names[lm_j[i]]}, à {_fr_dec(lm_d[i] / 1000)} km."
            )
        if (
            ic_j[i] >= 0
            and ic_d[i] < 5_000
            and kind in ("warehouse", "land", "industrial_building")
        ):
            near.append(
                f"Accès routier : {places.interchange_labels[ic_j[i]]} à "
                f"{_fr_dec(ic_d[i] / 1000)} km."
            )
        if st_j[i] >= 0 and st_d[i] < 1_500 and kind not in ("warehouse", "land"):
            near.append(
                f"Transports : {places.station_names[st_j[i]]} à "
                f"{_fr_int(round(st_d[i], -1))} m à pied."
            )
        size = _fr_int(rec["surface_m2"])
        if kind == "business_village_lot":
            lot += 1
            rec["lot_ref"] = f"Lot {lot:02d}"
            rec["zone_id"] = places.zone_ids[places.village]  # type: ignore[index]
            rec["title"] = f"Village d'entreprises – {rec['lot_ref']} – {size} m² – {commune_name}"
            rec["address"] = f"Village d'entreprises Démo, {lot} allée des Artisans, {town}"
            near.insert(
                0,
                "Village d'entreprises neuf réservé aux TPE/PME productives "
                "(artisanat, production, BTP, maintenance) ; lots livrés en blanc.",
            )
        else:
            rec["title"] = f"{_TITLES[kind]} {size} m² – {commune_name}"
            rec["address"] = f"{number} {street}, {town}"
        rec["description"] = _describe(rng, rec, commune_name, near)
        rec.update(
            external_ref=f"DEMO-{i + 1:04d}",
            commune_insee=c,
            lon=float(lon[i]),
            lat=float(lat[i]),
            owner_account=account,
            contact_name=f"Service commercial – {owner}",
            contact_email=f"{account}@exemple.invalid",
            # 01 99 00 xx xx: a range ARCEP keeps for works of fiction.
            contact_phone=f"01 99 00 {int(rng.integers(100)):02d} {int(rng.integers(100)):02d}",
            photos=[],
        )
        out.append(PremisesCreate.model_validate(rec, context=context))
    return out


# --------------------------------------------------------------------------------------------
# Needs
# --------------------------------------------------------------------------------------------


def _siren(rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        body = "".join(str(d) for d in rng.integers(0, 10, 8))
        if body[0] == "0":
            continue
        siren = body + luhn_check_digit(body)
        if siren not in taken:
            taken.add(siren)
            return siren


def _tech(rng: np.random.Generator, profile: _NafProfile, need: dict[str, Any]) -> None:
    """Technical minimums a company of this profile typically asks for."""
    t = profile.tech
    if t == "logistics":
        if rng.uniform() < 0.6:
            need["min_ceiling_height_m"] = float(rng.choice([7.0, 8.0, 9.0, 10.0]))
        if rng.uniform() < 0.6:
            docks = max(1, round(need["surface_min_m2"] / 1000 * rng.uniform(0.3, 0.8)))
            need["min_loading_docks"] = int(docks)
        if rng.uniform() < 0.2:
            need["min_floor_load_t_m2"] = float(rng.choice([3.0, 4.0, 5.0]))
    elif t == "production":
        if rng.uniform() < 0.4:
            need["min_power_kva"] = float(rng.choice([100, 150, 250, 400]))
        if rng.uniform() < 0.3:
            need["min_ceiling_height_m"] = float(rng.choice([4.0, 5.0, 6.0]))
        if rng.uniform() < 0.4:
            need["min_ground_level_doors"] = 1
    elif t == "craft":
        if rng.uniform() < 0.5:
            need["min_ground_level_doors"] = 1
        if rng.uniform() < 0.3:
            need["min_power_kva"] = float(rng.choice([36, 60, 100]))
    elif t == "lab":
        if rng.uniform() < 0.4:
            need["min_power_kva"] = float(rng.choice([100, 200, 300]))
        if rng.uniform() < 0.2:
            need["min_floor_load_t_m2"] = float(rng.choice([0.5, 1.0]))
    if rng.uniform() < profile.icpe_p:
        need["needs_icpe"] = True


def _required(rng: np.random.Generator, need: dict[str, Any]) -> list[str]:
    """Which criteria are hard filters: a random mix, among those the need says something about."""
    p = {
        "surface": 0.85,
        "use": 0.8,
        "budget": 0.6,
        "location": 0.45,
        "access": 0.1,
        "technical": 0.3,
        "availability": 0.2,
    }
    stated = {
        "budget": "max_rent_eur_m2_year" in need or "max_sale_price_eur" in need,
        "location": any(k in need for k in ("communes", "center_lon", "places")),
        "access": any(k in need for k in ("max_station_distance_m", "max_interchange_distance_m")),
        "technical": any(k.startswith("min_") for k in need) or bool(need.get("needs_icpe")),
        "availability": "wanted_by" in need,
    }
    draws = rng.uniform(size=len(p))  # drawn for all, so that the stream does not depend on it
    return [c for (c, q), u in zip(p.items(), draws, strict=True) if u < q and stated.get(c, True)]


def demo_needs(
    seed: int = 2018,
    n: int = 180,
    *,
    territory: Territory,
    reference_date: date = REFERENCE_DATE,
) -> list[NeedIn]:
    """Generate ``n`` fictitious company needs with real NAF codes and valid SIRENs.

    Activities range from craft bakeries and mechanics to hauliers, cold stores and biotech
    labs; each need asks for a surface range, uses (left empty for about a third of them, so
    that the NAF code's default applies), a tenure and budget, location wishes (communes, a
    radius around the current site, places of interest), some technical minimums and a date.
    A few needs (about 3 %) are too big for where they look, so that "what to relax" has work.

    Parameters
    ----------
    seed
        Seed of the random generator: the same seed gives the same needs.
    n
        Number of needs.
    territory
        The territory the wishes refer to.
    reference_date
        "Today" of the demo: ``wanted_by`` dates follow it.

    Returns
    -------
    list of NeedIn

    Examples
    --------
    >>> from geodata.territory import load_territory
    >>> needs = demo_needs(n=20, territory=load_territory("gosb"))
    >>> len(needs), all("Démo" in need.company_name for need in needs)
    (20, True)
    """
    if n < 0:
        msg = f"n: the number of needs must be positive or zero, got {n}"
        raise ValueError(msg)
    tables = demo_tables(territory)
    places = _prepare(territory, tables)
    rng = np.random.default_rng([seed, 2])

    weights = np.array([p.weight for p in _NAF_PROFILES])
    prof_idx = rng.choice(len(_NAF_PROFILES), size=n, p=weights / weights.sum())
    n_impossible = max(1, round(0.03 * n)) if n >= 10 else 0
    impossible = set(rng.choice(n, size=n_impossible, replace=False).tolist()) if n else set()

    # Current sites: one point per need, in a commune of its profile's region.
    site_commune = []
    for i in range(n):
        region = tables.regions.get(_NAF_PROFILES[prof_idx[i]].code) or tuple(places.insee)
        region = tuple(c for c in region if c in places.names) or tuple(places.insee)
        if i in impossible:
            region = tuple(c for c in tables.urban_communes if c in places.names) or region
        site_commune.append(region[int(rng.integers(len(region)))])
    cx = np.array([places.center[c][0] for c in site_commune])
    cy = np.array([places.center[c][1] for c in site_commune])
    sig = np.array([places.sigma[c] for c in site_commune])
    site_lon, site_lat = _sample_points(rng, places, site_commune, cx, cy, sig, np.full(n, -1))

    min_idx = places.landmark(*tables.landmarks.get("min", ()))
    orly_idx = places.landmark(*tables.landmarks.get("orly", ()))

    out: list[NeedIn] = []
    names_taken: set[str] = set()
    sirens: set[str] = set()
    context = {"territory": territory}
    for i in range(n):
        profile = _NAF_PROFILES[prof_idx[i]]
        suffix = tables.company_suffixes[int(rng.integers(len(tables.company_suffixes)))]
        prefix = "Logistique Démo Grand Format" if i in impossible else profile.prefix
        name = f"{prefix} {suffix}"
        k = 2
        while name in names_taken:
            name = f"{prefix} {suffix} {k}"
            k += 1
        names_taken.add(name)
        slug = re.sub(r"[^a-z0-9]+", "-", _norm(name)).strip("-")
        lo, hi = profile.surface
        smin = _round_step(math.exp(rng.uniform(math.log(lo), math.log(hi))), 10)
        smax = _round_step(smin * rng.uniform(1.2, 1.8), 10)
        need: dict[str, Any] = {
            "company_name": name,
            "siren": _siren(rng, sirens),
            "naf_code": profile.code,
            "headcount": int(rng.integers(profile.headcount[0], profile.headcount[1] + 1)),
            "surface_min_m2": smin,
            "surface_max_m2": smax,
            "contact_email": f"{slug}@exemple.invalid",
        }
        if rng.uniform() < 0.7:  # the others keep no uses: the NAF code suggests them
            uses = set(default_uses_for_naf(profile.code)) | set(profile.extra_uses)
            need["uses"] = [u.value for u in Use if u.value in uses]
        if rng.uniform() < 0.5:
            need["kinds"] = [k.value for k in PremisesKind if k.value in profile.kinds]
        if profile.tech in ("production", "lab") and rng.uniform() < 0.4:
            need["activity_min_m2"] = _round_step(smin * rng.uniform(0.5, 0.8), 10)
        if profile.tech == "logistics" and rng.uniform() < 0.4:
            need["storage_min_m2"] = _round_step(smin * rng.uniform(0.7, 0.9), 10)
        tenure = str(rng.choice(["rent", "buy", "either"], p=[0.6, 0.15, 0.25]))
        need["tenure"] = tenure
        if tenure != "buy" and rng.uniform() < 0.9:
            need["max_rent_eur_m2_year"] = float(round(rng.uniform(*profile.rent)))
        if tenure != "rent" and rng.uniform() < 0.9:
            per_m2 = (350, 900) if profile.tech == "land" else (1_200, 2_600)
            need["max_sale_price_eur"] = _round_step(smax * rng.uniform(*per_m2), 10_000)

        # Where: communes of its region, a radius around its current site, places that matter.
        region = tuple(c for c in tables.regions.get(profile.code, ()) if c in places.names)
        has_site = rng.uniform() < 0.75
        if region and rng.uniform() < 0.55:
            k_c = int(rng.integers(1, min(4, len(region)) + 1))
            picks = rng.choice(len(region), size=k_c, replace=False)
            need["communes"] = sorted({region[int(j)] for j in picks})
        elif rng.uniform() < 0.3:
            need["communes"] = [site_commune[i]]
        if has_site:
            site = {"label": "Site actuel", "lon": float(site_lon[i]), "lat": float(site_lat[i])}
            if rng.uniform() < 0.4:
                site["max_distance_m"] = float(rng.choice([3_000, 5_000, 8_000]))
            need["places"] = [site]
            if rng.uniform() < 0.45:
                need["center_lon"], need["center_lat"] = site["lon"], site["lat"]
                need["radius_m"] = float(rng.choice([3_000, 5_000, 7_500, 10_000]))
        extra = {"min": min_idx, "orly": orly_idx, "campus": None}.get(profile.place or "")
        if profile.place == "campus" and tables.campus is not None:
            label, lon, lat, _ = tables.campus
            need.setdefault("places", []).append({"label": label, "lon": lon, "lat": lat})
        elif extra is not None and rng.uniform() < 0.7:
            (elon,), (elat,) = to_wgs84(*places.landmark_xy[extra])
            need.setdefault("places", []).append(
                {
                    "label": places.landmark_names[extra],
                    "lon": round(float(elon), 6),
                    "lat": round(float(elat), 6),
                }
            )
        if profile.tech == "logistics" and rng.uniform() < 0.4:
            need["max_interchange_distance_m"] = float(rng.choice([2_000, 3_000, 5_000]))
        if profile.tech in ("craft", "lab") and rng.uniform() < 0.25:
            need["max_station_distance_m"] = float(rng.choice([500, 800, 1_200]))
        _tech(rng, profile, need)
        if rng.uniform() < 0.9:
            need["wanted_by"] = reference_date + timedelta(days=int(rng.integers(30, 601)))
        need["required"] = _required(rng, need)
        need["active"] = bool(rng.uniform() < 0.96)

        if i in impossible:
            # Too big for where it looks: a large logistics hub in the dense inner communes.
            urban = [c for c in tables.urban_communes if c in places.names] or places.insee
            k_c = int(rng.integers(1, min(3, len(urban)) + 1))
            picks = rng.choice(len(urban), size=k_c, replace=False)
            smin = _round_step(rng.uniform(30_000, 80_000), 1_000)
            need.update(
                naf_code="52.10B",
                headcount=int(rng.integers(80, 300)),
                surface_min_m2=smin,
                surface_max_m2=_round_step(smin * 1.3, 1_000),
                uses=["logistics"],
                kinds=["warehouse"],
                tenure="rent",
                max_rent_eur_m2_year=float(round(rng.uniform(70, 100))),
                communes=sorted({urban[int(j)] for j in picks}),
                required=["surface", "use", "location"],
                active=True,
            )
            need.pop("max_sale_price_eur", None)
            need.pop("activity_min_m2", None)
            need.pop("storage_min_m2", None)
        out.append(NeedIn.model_validate(need, context=context))
    return out


# --------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------


def _count(result: Any, fallback: int) -> int:
    if isinstance(result, bool) or result is None:
        return fallback
    if isinstance(result, int):
        return result
    try:
        return len(result)
    except TypeError:
        return fallback


def load_demo(
    repo: Any,
    *,
    territory: Territory,
    seed: int = 2018,
    n_premises: int = 360,
    n_needs: int = 180,
    actor: str = "demo",
    reference_date: date = REFERENCE_DATE,
) -> tuple[int, int]:
    """Generate the demo catalogue and store it in a repository.

    Parameters
    ----------
    repo
        A storage repository with ``add_many_premises(items, actor=...)`` and
        ``add_many_needs(items, actor=...)``.
    seed
        Seed of the random generator.
    n_premises, n_needs
        How many listings and needs to generate.
    actor
        Who the audit trail names as the author.
    territory
        The territory to place the catalogue in.
    reference_date
        The day the dates count from (listings' freshness dates, needs' wanted-by dates): a
        server loading the demo passes today, so that its listings are as fresh as designed.

    Returns
    -------
    tuple of int
        The numbers of listings and needs stored.
    """
    premises = demo_premises(seed, n_premises, territory=territory, reference_date=reference_date)
    needs = demo_needs(seed, n_needs, territory=territory, reference_date=reference_date)
    stored_premises = _count(repo.add_many_premises(premises, actor=actor), len(premises))
    stored_needs = _count(repo.add_many_needs(needs, actor=actor), len(needs))
    return stored_premises, stored_needs
