"""Developments divided into lots, and the demo one: the Valenton village d'entreprises.

A development (a business village, an "hôtel d'activités") is a set of lots offered together
by one developer; each lot is a premises listing (:class:`~geodata.schemas.PremisesCreate`,
kind ``business_village_lot``) with its ``lot_ref`` and its outline as ``footprint``, so that
adjacency can be read from the outlines. A territory folder ships a development as a GeoJSON
FeatureCollection of lot polygons (properties named like ``PremisesCreate``'s fields) with a
``development`` member describing it; :func:`load_development` reads it.

The demo development, ``valenton_village.geojson`` in the GOSB folder, is FICTITIOUS: twenty
lots of 150 to 600 m² in two terraces on either side of an access street, drawn inside the
approximate outline of the Valenton business park (the real village's lots are not
published). :func:`development_applicants` draws applicant companies for it, as fictitious
as the demo catalogue's (names "… Démo …", e-mails at ``exemple.invalid``).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from geodata.schemas import NeedIn, PremisesCreate, luhn_check_digit
from geodata.territory import Territory, TerritoryError

__all__ = [
    "APPLICANT_PROFILES",
    "Development",
    "development_applicants",
    "load_development",
]

_FOLDER = Path(__file__).parent / "territories"


@dataclass(frozen=True)
class Development:
    """A development and its lots, in the order of the file (along the street).

    Attributes
    ----------
    code, name
        Its identifier and its name for people.
    commune_insee
        The commune it lies in.
    lots
        One listing per lot (``lot_ref`` and ``footprint`` set).
    demo
        True for fictitious data.
    description
        Where the data come from and what they are worth.
    """

    code: str
    name: str
    commune_insee: str
    lots: list[PremisesCreate]
    demo: bool
    description: str

    @property
    def lot_refs(self) -> list[str]:
        """The lots' references, in order."""
        return [str(lot.lot_ref) for lot in self.lots]


def load_development(
    name_or_path: str | Path = "valenton_village",
    *,
    territory: Territory | None = None,
    folder: str = "gosb",
) -> Development:
    """Read a development from a GeoJSON file of lots.

    Parameters
    ----------
    name_or_path
        A file, or a name looked up as ``<name>.geojson`` in the territory ``folder``.
    territory
        When given, every lot is checked against it (inside the territory, commune agreeing
        with the point), as any listing is.

    Raises
    ------
    TerritoryError
        When the file is missing or malformed, naming the file, the lot and the field.

    Examples
    --------
    >>> dev = load_development()
    >>> len(dev.lots), dev.lots[0].lot_ref, dev.demo
    (20, 'A1', True)
    """
    path = Path(name_or_path)
    if not path.suffix:
        path = _FOLDER / folder / f"{name_or_path}.geojson"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        meta = raw["development"]
        features = raw["features"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        msg = (
            f"{path}: not a development file ({type(exc).__name__}: {exc}); expected a "
            "GeoJSON FeatureCollection of lot polygons with a 'development' member"
        )
        raise TerritoryError(msg) from exc
    import shapely

    context = {"territory": territory} if territory is not None else None
    lots: list[PremisesCreate] = []
    seen: set[str] = set()
    for k, feature in enumerate(features):
        props = dict(feature.get("properties") or {})
        ref = str(props.get("lot_ref") or feature.get("id") or "")
        where = f"{path.name}, lot {ref or k + 1}"
        if not ref:
            msg = f"{where}: lot_ref is missing; give every lot a reference (A1, A2 …)"
            raise TerritoryError(msg)
        if ref in seen:
            msg = f"{where}: lot_ref '{ref}' is used twice; lot references must be unique"
            raise TerritoryError(msg)
        seen.add(ref)
        try:
            outline = shapely.geometry.shape(feature["geometry"])
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            msg = f"{where}: geometry is not a GeoJSON polygon ({exc})"
            raise TerritoryError(msg) from exc
        if outline.geom_type != "Polygon" or not outline.is_valid:
            msg = f"{where}: geometry must be a valid Polygon (the lot's outline)"
            raise TerritoryError(msg)
        point = outline.representative_point()
        props.update(
            lot_ref=ref,
            kind=props.get("kind", "business_village_lot"),
            lon=round(point.x, 6),
            lat=round(point.y, 6),
            footprint=feature["geometry"],
            commune_insee=props.get("commune_insee", meta.get("commune_insee")),
            zone_id=props.get("zone_id", meta.get("zone_id")),
            owner_account=props.get("owner_account", meta.get("owner_account")),
        )
        try:
            lots.append(PremisesCreate.model_validate(props, context=context))
        except ValueError as exc:
            msg = f"{where}: {exc}"
            raise TerritoryError(msg) from exc
    return Development(
        code=str(meta.get("code", path.stem)),
        name=str(meta.get("name", path.stem)),
        commune_insee=str(meta.get("commune_insee", "")),
        lots=lots,
        demo=bool(meta.get("demo", False)),
        description=str(meta.get("description", "")),
    )


# --------------------------------------------------------------------------------------------
# Applicants
# --------------------------------------------------------------------------------------------

#: Companies that apply for a village lot: (NAF code, name prefix, surface range m²,
#: uses, rent ceiling range €/m²/year, relative weight). Craft and small production, as
#: the TPE/PME the Valenton village is for; a few too large or too tight for it.
APPLICANT_PROFILES: tuple[
    tuple[str, str, tuple[float, float], tuple[str, ...], tuple[float, float], float], ...
] = (
    ("43.32A", "Menuiserie Démo", (250, 700), ("production", "craft"), (120, 160), 2.0),
    ("10.71C", "Boulangerie Démo", (120, 300), ("food_processing", "craft"), (125, 170), 1.5),
    ("31.09B", "Ébénisterie Démo", (150, 500), ("craft",), (115, 160), 1.5),
    ("33.12Z", "Maintenance Démo", (200, 900), ("repair", "production"), (110, 150), 1.5),
    ("43.21A", "Électricité Démo", (150, 400), ("construction", "craft"), (115, 155), 1.5),
    ("43.22A", "Plomberie Démo", (150, 350), ("construction", "craft"), (115, 155), 1.0),
    ("95.11Z", "Réparation Démo", (120, 300), ("repair",), (120, 170), 1.0),
    ("25.11Z", "Métallerie Démo", (400, 1_200), ("production",), (100, 145), 1.0),
    ("25.62B", "Mécanique Démo", (300, 1_000), ("production",), (105, 150), 1.5),
    ("11.05Z", "Brasserie Démo", (250, 700), ("food_processing", "production"), (115, 160), 1.0),
    ("18.12Z", "Imprimerie Démo", (300, 900), ("production",), (100, 145), 0.8),
    ("10.13B", "Charcuterie Démo", (200, 600), ("food_processing",), (110, 150), 0.7),
    ("45.20A", "Garage Démo", (250, 700), ("repair",), (100, 140), 0.8),
    ("49.41B", "Livraisons Démo", (1_500, 3_000), ("logistics",), (80, 120), 0.4),
)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFKD", text.casefold())
    return re.sub(r"[^a-z0-9]+", "-", "".join(c for c in text if not unicodedata.combining(c)))


def _siren(rng: np.random.Generator, taken: set[str]) -> str:
    while True:
        body = "".join(str(d) for d in rng.integers(0, 10, 8))
        if body[0] != "0" and body + luhn_check_digit(body) not in taken:
            siren = body + luhn_check_digit(body)
            taken.add(siren)
            return siren


_SUFFIXES = (
    "des Roseaux",
    "du Val",
    "Pompadour",
    "des Saules",
    "du Port",
    "de la Plage",
    "Horizon",
    "Atlas",
    "du Marché",
    "des Tilleuls",
)


def development_applicants(
    development: Development,
    n: int = 40,
    *,
    seed: int = 94074,
    reference_date: date = date(2026, 11, 1),
) -> list[NeedIn]:
    """Draw ``n`` fictitious applicant companies for a development, in order of arrival.

    Each asks for a surface range (some need several lots), the uses of its trade, a rent
    ceiling and, for some, technical minimums (power, ceiling height, ICPE) and a date by
    which it needs the premises. Surface, use and budget are required (the defaults); some
    also require the technical or the date criteria. The same seed gives the same list.

    Examples
    --------
    >>> needs = development_applicants(load_development(), 12)
    >>> len(needs), all("Démo" in need.company_name for need in needs)
    (12, True)
    """
    if n < 0:
        msg = f"n: the number of applicants must be positive or zero, got {n}"
        raise ValueError(msg)
    rng = np.random.default_rng([seed, 5])
    weights = np.array([p[5] for p in APPLICANT_PROFILES])
    picks = rng.choice(len(APPLICANT_PROFILES), size=n, p=weights / weights.sum())
    names: set[str] = set()
    sirens: set[str] = set()
    out: list[NeedIn] = []
    for i in range(n):
        code, prefix, (lo, hi), uses, (r_lo, r_hi), _ = APPLICANT_PROFILES[int(picks[i])]
        name = f"{prefix} {_SUFFIXES[int(rng.integers(len(_SUFFIXES)))]}"
        k = 2
        while name in names:
            name = f"{prefix} {_SUFFIXES[int(rng.integers(len(_SUFFIXES)))]} {k}"
            k += 1
        names.add(name)
        smin = round(math.exp(rng.uniform(math.log(lo), math.log(hi))) / 10) * 10
        smax = round(smin * rng.uniform(1.1, 1.5) / 10) * 10
        need: dict[str, Any] = {
            "company_name": name,
            "siren": _siren(rng, sirens),
            "naf_code": code,
            "headcount": int(rng.integers(1, 25)),
            "surface_min_m2": float(smin),
            "surface_max_m2": float(smax),
            "uses": list(uses),
            "kinds": ["business_village_lot", "workshop"],
            "tenure": "rent",
            "max_rent_eur_m2_year": float(round(rng.uniform(r_lo, r_hi))),
            "contact_email": f"{_fold(name).strip('-')}@exemple.invalid",
        }
        required = ["surface", "use", "budget"]
        if rng.uniform() < 0.35:
            need["min_power_kva"] = float(rng.choice([36, 60, 100, 150]))
        if "production" in uses and rng.uniform() < 0.3:
            need["min_ceiling_height_m"] = float(rng.choice([5.0, 6.0, 7.0]))
        if "food_processing" in uses or rng.uniform() < 0.1:
            need["needs_icpe"] = bool(rng.uniform() < 0.3)
        if rng.uniform() < 0.25:
            required.append("technical")
        if rng.uniform() < 0.8:
            need["wanted_by"] = reference_date + timedelta(days=int(rng.integers(90, 540)))
            if rng.uniform() < 0.2:
                required.append("availability")
        need["required"] = required
        out.append(NeedIn.model_validate(need))
    return out
