"""Typed models of the catalogue: a premises listing and a company's need."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonDict

import shapely

from geodata.naf import default_uses_for_naf, normalise_naf

if TYPE_CHECKING:
    from geodata.territory import Territory

__all__ = [
    "CONTACT_FIELDS",
    "KIND_LABELS",
    "OWNER_FIELDS",
    "PHOTO_ALT_MAX",
    "STATUS_LABELS",
    "TENURE_LABELS",
    "USE_LABELS",
    "Criterion",
    "Need",
    "NeedIn",
    "PhotoIn",
    "PhotoRef",
    "PhotoUpdate",
    "PlaceOfInterest",
    "Premises",
    "PremisesBase",
    "PremisesCreate",
    "PremisesKind",
    "PremisesPublic",
    "PremisesUpdate",
    "Status",
    "Tenure",
    "TenureWanted",
    "Use",
    "error_details",
    "label",
    "luhn_check_digit",
]


class PremisesKind(StrEnum):
    """What a listing is, physically."""

    workshop = "workshop"
    warehouse = "warehouse"
    industrial_building = "industrial_building"
    land = "land"
    business_village_lot = "business_village_lot"
    lab = "lab"
    office_annex = "office_annex"


class Use(StrEnum):
    """An activity a listing allows and a company needs."""

    production = "production"
    logistics = "logistics"
    craft = "craft"
    lab_rd = "lab_rd"
    food_processing = "food_processing"
    construction = "construction"
    repair = "repair"


class Tenure(StrEnum):
    """How a listing is offered."""

    rent = "rent"
    sale = "sale"
    both = "both"


class TenureWanted(StrEnum):
    """How a company wants to occupy premises."""

    rent = "rent"
    buy = "buy"
    either = "either"


class Status(StrEnum):
    """Where a listing is in its life."""

    available = "available"
    under_offer = "under_offer"
    let = "let"
    sold = "sold"
    withdrawn = "withdrawn"


class Criterion(StrEnum):
    """A matching criterion; a need marks each one required (filter) or preferred (scored)."""

    surface = "surface"
    use = "use"
    budget = "budget"
    location = "location"
    access = "access"
    technical = "technical"
    availability = "availability"


# User-facing labels, French first then English.
KIND_LABELS: dict[str, tuple[str, str]] = {
    "workshop": ("Atelier / local d'activité", "Workshop / activity premises"),
    "warehouse": ("Entrepôt", "Warehouse"),
    "industrial_building": ("Bâtiment industriel", "Industrial building"),
    "land": ("Terrain", "Plot of land"),
    "business_village_lot": (
        "Lot en village d'entreprises / hôtel d'activités",
        "Lot in a business village",
    ),
    "lab": ("Laboratoire", "Lab"),
    "office_annex": ("Bureaux d'accompagnement", "Office annex"),
}
USE_LABELS: dict[str, tuple[str, str]] = {
    "production": ("Production", "Production"),
    "logistics": ("Stockage / logistique", "Storage / logistics"),
    "craft": ("Artisanat", "Craft"),
    "lab_rd": ("Laboratoire / R&D", "Lab / R&D"),
    "food_processing": ("Agroalimentaire", "Food processing"),
    "construction": ("BTP", "Construction"),
    "repair": ("Réparation / maintenance", "Repair / maintenance"),
}
TENURE_LABELS: dict[str, tuple[str, str]] = {
    "rent": ("Location", "Rent"),
    "sale": ("Vente", "Sale"),
    "both": ("Location ou vente", "Rent or sale"),
    "buy": ("Achat", "Buy"),
    "either": ("Location ou achat", "Rent or buy"),
}
STATUS_LABELS: dict[str, tuple[str, str]] = {
    "available": ("Disponible", "Available"),
    "under_offer": ("Sous offre", "Under offer"),
    "let": ("Loué", "Let"),
    "sold": ("Vendu", "Sold"),
    "withdrawn": ("Retiré", "Withdrawn"),
}


def label(value: str, lang: str = "fr") -> str:
    """Return the French (default) or English label of an enum value.

    Examples
    --------
    >>> label("warehouse")
    'Entrepôt'
    >>> label("warehouse", "en")
    'Warehouse'
    """
    for table in (KIND_LABELS, USE_LABELS, TENURE_LABELS, STATUS_LABELS):
        if value in table:
            return table[value][0 if lang == "fr" else 1]
    return value


_INSEE_RE = re.compile(r"^(\d{5}|2[AB]\d{3})$")
_SIREN_RE = re.compile(r"^\d{9}$")

NonNegFloat = Annotated[float, Field(ge=0)]
PosFloat = Annotated[float, Field(gt=0)]
# Integers stay within 32 bits, as both storage backends require.
NonNegInt = Annotated[int, Field(ge=0, le=2**31 - 1)]
_CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def luhn_check_digit(body: str) -> str:
    """The digit that makes ``body + digit`` pass the Luhn test (the SIREN check digit).

    Examples
    --------
    >>> luhn_check_digit("73282932")
    '0'
    """
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def _luhn_ok(digits: str) -> bool:
    return luhn_check_digit(digits[:-1]) == digits[-1]


def _territory(info: ValidationInfo) -> Territory | None:
    """The territory given in the validation context (``{"territory": t}``), else None.

    There is no default territory: validation without one checks the form of every field but
    not where a place lies. The callers that take input (the API, the importer, the command
    line, the demo) always pass theirs; stored records are never checked again. Other keys
    (such as the former ``skip_territory``) are ignored.
    """
    territory = (info.context or {}).get("territory")
    if territory is not None and not hasattr(territory, "commune_at"):
        msg = (
            "validation context: 'territory' must be a geodata.territory.Territory, "
            f"got {type(territory).__name__}"
        )
        raise TypeError(msg)
    return territory


def _check_insee_code(code: str, territory: Territory | None) -> str:
    """An INSEE code in canonical form; a member of ``territory`` when one is given."""
    given = code
    code = code.strip().upper()
    if not _INSEE_RE.match(code):
        msg = f"'{given}' is not an INSEE commune code (five characters, e.g. 94065)"
        if territory is None:
            msg += "; a commune is read by its name only against a territory"
        raise ValueError(msg)
    if territory is not None and code not in territory.insee_codes:
        msg = f"unknown INSEE code '{code}': not a commune of the territory {territory.name}"
        raise ValueError(msg)
    return code


def _resolve_commune(value: Any, info: ValidationInfo) -> Any:
    """A commune given by name becomes its INSEE code, when a territory is given."""
    territory = _territory(info)
    if territory is None or not isinstance(value, str) or not re.search(r"[^\W\d_]", value):
        return value  # no letter: a code, checked as one
    if _INSEE_RE.match(value.strip().upper()):
        return value
    return territory.commune_code(value)


def _shape_of(geojson: dict[str, Any], allowed: tuple[str, ...]) -> shapely.Geometry:
    try:
        geom = shapely.from_geojson(_json_dumps(geojson))
    except Exception as exc:  # shapely raises GEOSException with a terse message
        msg = f"not a valid GeoJSON geometry ({exc})"
        raise ValueError(msg) from exc
    if geom.geom_type not in allowed:
        msg = f"must be a GeoJSON {' or '.join(allowed)}, got {geom.geom_type}"
        raise ValueError(msg)
    if not shapely.is_valid(geom):
        msg = f"invalid geometry: {shapely.is_valid_reason(geom)}"
        raise ValueError(msg)
    return geom


def _json_dumps(obj: Any) -> str:
    import json

    return json.dumps(obj)


def _json_loads(text: str | bytes) -> Any:
    import json

    return json.loads(text)


#: Longest description (alt text) of a photo, in characters.
PHOTO_ALT_MAX = 300


class _Model(BaseModel):
    # defer_build: a model's validator is built on its first use, not when this module is
    # imported, so a command builds only the models it validates (`implanter match` builds
    # NeedIn and PlaceOfInterest, not the listing models): start-up speed only. The flag is
    # turned off again once the classes exist (see the end of the module).
    model_config = ConfigDict(
        defer_build=True,
        extra="forbid",
        str_strip_whitespace=True,
        use_enum_values=True,
        validate_default=True,
    )

    @field_validator("*", mode="after")
    @classmethod
    def _clean(cls, v: Any) -> Any:
        """Refuse control characters in text; read naive datetimes as UTC."""
        if isinstance(v, str) and _CONTROL_RE.search(v):
            msg = "contains a control character"
            raise ValueError(msg)
        if isinstance(v, datetime) and v.tzinfo is None:
            return v.replace(tzinfo=UTC)
        return v


def _enum_order(values: list[Any], enum: type[StrEnum]) -> list[Any]:
    """Deduplicate enum values and sort them in declaration order (a canonical form)."""
    order = _ENUM_ORDERS.get(enum)
    if order is None:
        order = _ENUM_ORDERS[enum] = {m.value: i for i, m in enumerate(enum)}
    return sorted(dict.fromkeys(values), key=lambda v: order[str(v)])


_ENUM_ORDERS: dict[type[StrEnum], dict[str, int]] = {}  # declaration order of each enum


_OWNER: JsonDict = {"x-personal": "owner"}
_CONTACT: JsonDict = {"x-personal": "contact"}


class PremisesBase(_Model):
    """The fields of a premises listing, with every check that needs no territory.

    Surfaces are in square metres, rents in euros per square metre per year excluding tax and
    charges, prices in euros; the point is WGS84 (lon, lat). Fields marked ``x-personal`` in
    the schema identify a person: ``owner`` ones are never public, ``contact`` ones only when
    ``contact_public`` is true (see :class:`PremisesPublic`).
    """

    external_ref: str | None = Field(
        default=None, max_length=120, description="The owner's own reference, used on re-import."
    )
    title: str = Field(min_length=1, max_length=200)
    kind: PremisesKind
    uses: list[Use] = Field(default_factory=list, description="Allowed uses.")
    # Plausibility ranges: a value past them is a typing or unit mistake (1e308 m², a price
    # in cents), refused with the field's name. Floats are finite (no inf, no NaN).
    surface_m2: Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)]
    activity_m2: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)] | None = None
    storage_m2: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)] | None = None
    office_m2: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)] | None = None
    mezzanine_m2: Annotated[float, Field(ge=0, le=1_000_000, allow_inf_nan=False)] | None = None
    divisible: bool = False
    min_lot_m2: Annotated[float, Field(gt=0, le=1_000_000, allow_inf_nan=False)] | None = None
    plot_m2: Annotated[float, Field(gt=0, le=10_000_000, allow_inf_nan=False)] | None = None
    ceiling_height_m: Annotated[float, Field(gt=0, le=60, allow_inf_nan=False)] | None = None
    floor_load_t_m2: Annotated[float, Field(gt=0, le=100, allow_inf_nan=False)] | None = None
    loading_docks: Annotated[int, Field(ge=0, le=1_000)] | None = None
    ground_level_doors: Annotated[int, Field(ge=0, le=1_000)] | None = None
    power_kva: Annotated[float, Field(ge=0, le=100_000, allow_inf_nan=False)] | None = None
    icpe_allowed: bool | None = None
    parking_spaces: Annotated[int, Field(ge=0, le=100_000)] | None = None
    tenure: Tenure
    rent_eur_m2_year: Annotated[float, Field(gt=0, le=2000, allow_inf_nan=False)] | None = None
    sale_price_eur: Annotated[float, Field(gt=0, le=10_000_000_000, allow_inf_nan=False)] | None = (
        None
    )
    charges_eur_m2_year: Annotated[float, Field(ge=0, le=1_000, allow_inf_nan=False)] | None = None
    available_from: date | None = None
    status: Status = Status.available
    address: str | None = Field(default=None, max_length=300)
    commune_insee: str | None = None
    lon: Annotated[float, Field(ge=-180, le=180, allow_inf_nan=False)]
    lat: Annotated[float, Field(ge=-90, le=90, allow_inf_nan=False)]
    footprint: dict[str, Any] | None = Field(
        default=None, description="Optional GeoJSON Polygon or MultiPolygon of the building."
    )
    zone_id: str | None = Field(
        default=None, description="CNIG site-eco id of the activity zone or park it lies in."
    )
    lot_ref: str | None = Field(
        default=None, max_length=60, description="Lot number in a divided park (terrain-eco)."
    )
    owner_account: str | None = Field(
        default=None, max_length=120, description="The owner's account.", json_schema_extra=_OWNER
    )
    contact_name: str | None = Field(default=None, max_length=120, json_schema_extra=_CONTACT)
    contact_email: str | None = Field(default=None, max_length=200, json_schema_extra=_CONTACT)
    contact_phone: str | None = Field(default=None, max_length=40, json_schema_extra=_CONTACT)
    contact_public: bool = Field(
        default=False,
        description="The owner publishes the contact (name, e-mail, phone) to every reader; "
        "otherwise only the owner and the staff see it.",
    )
    photos: list[str] = Field(default_factory=list)
    description: str | None = Field(default=None, max_length=5000)
    last_verified_at: datetime | None = Field(
        default=None, description="When the owner last confirmed that the listing is still true."
    )

    @field_validator("commune_insee")
    @classmethod
    def _insee(cls, v: str | None) -> str | None:
        return None if v is None or v == "" else _check_insee_code(v, None)

    @field_validator("uses")
    @classmethod
    def _uses(cls, v: list[Any]) -> list[Any]:
        return _enum_order(v, Use)

    @field_validator("contact_email")
    @classmethod
    def _email(cls, v: str | None) -> str | None:
        if v and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", v):
            msg = f"'{v}' is not an e-mail address"
            raise ValueError(msg)
        return v or None

    @field_validator("photos")
    @classmethod
    def _photos(cls, v: list[str]) -> list[str]:
        for url in v:
            if not re.match(r"^https?://\S+$", url):
                msg = f"'{url}' is not an http(s) URL"
                raise ValueError(msg)
        return v

    @field_validator("footprint")
    @classmethod
    def _footprint(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            _shape_of(v, ("Polygon", "MultiPolygon"))
        return v

    @model_validator(mode="after")
    def _coherent(self) -> PremisesBase:
        parts = {
            "activity_m2": self.activity_m2,
            "storage_m2": self.storage_m2,
            "office_m2": self.office_m2,
        }
        split = sum(v for v in parts.values() if v is not None)
        if split > self.surface_m2 * 1.001:
            names = ", ".join(k for k, v in parts.items() if v is not None)
            msg = (
                f"activity_m2, storage_m2, office_m2: the split ({names}) adds up to "
                f"{split:g} m², more than surface_m2 = {self.surface_m2:g} m²"
            )
            raise ValueError(msg)
        if self.min_lot_m2 is not None:
            if not self.divisible:
                msg = "min_lot_m2: given on a listing that is not divisible (set divisible=true)"
                raise ValueError(msg)
            if self.min_lot_m2 > self.surface_m2:
                msg = (
                    f"min_lot_m2: the minimum lot ({self.min_lot_m2:g} m²) is larger than the "
                    f"surface ({self.surface_m2:g} m²)"
                )
                raise ValueError(msg)
        if self.tenure == Tenure.rent and self.sale_price_eur is not None:
            msg = "sale_price_eur: a sale price on a rent-only listing (tenure is 'rent')"
            raise ValueError(msg)
        if self.tenure == Tenure.sale and self.rent_eur_m2_year is not None:
            msg = "rent_eur_m2_year: a rent on a sale-only listing (tenure is 'sale')"
            raise ValueError(msg)
        return self


#: A listing as ``POST /premises`` takes it: the example of the OpenAPI document.
PREMISES_EXAMPLE: JsonDict = {
    "external_ref": "DEMO-EXAMPLE-1",
    "title": "Entrepôt de 1 200 m² à Rungis, 2 quais",
    "kind": "warehouse",
    "uses": ["logistics"],
    "surface_m2": 1200,
    "office_m2": 150,
    "ceiling_height_m": 9.5,
    "loading_docks": 2,
    "tenure": "rent",
    "rent_eur_m2_year": 115,
    "commune_insee": "94065",
    "lon": 2.3560,
    "lat": 48.7590,
    "available_from": "2027-03-01",
}


class PremisesCreate(PremisesBase):
    """A premises listing as an owner or agent describes it, checked against the territory.

    Validate it with the territory in the context,
    ``PremisesCreate.model_validate(data, context={"territory": territory})``: the point must
    lie in the territory, the commune (an INSEE code or a name, in any case and with or
    without accents) is derived from the point when not given and must agree with it, and the
    activity zone is derived from the point. Without a territory, only the form of each field
    is checked.
    """

    model_config = ConfigDict(json_schema_extra={"examples": [PREMISES_EXAMPLE]})

    @field_validator("commune_insee", mode="before")
    @classmethod
    def _commune_by_name(cls, v: Any, info: ValidationInfo) -> Any:
        return _resolve_commune(v, info)

    @field_validator("commune_insee")
    @classmethod
    def _commune_member(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None else _check_insee_code(v, _territory(info))

    @model_validator(mode="after")
    def _place(self, info: ValidationInfo) -> PremisesCreate:
        territory = _territory(info)
        if territory is not None:
            self._check_place(territory)
        return self

    def _check_place(self, territory: Territory) -> None:
        import numpy as np

        lon = np.array([self.lon])
        lat = np.array([self.lat])
        commune = territory.commune_at(lon, lat)[0]
        if commune is None:
            swapped = territory.commune_at(lat, lon)[0]
            if swapped is not None:
                msg = (
                    f"lon, lat: ({self.lon}, {self.lat}) looks like latitude and longitude "
                    f"swapped; ({self.lat}, {self.lon}) would be in "
                    f"{territory.commune_name(swapped)}"
                )
                raise ValueError(msg)
            km = float(territory.distance_to_boundary_m(lon, lat)[0]) / 1000
            msg = (
                f"lon, lat: ({self.lon}, {self.lat}) is outside the territory "
                f"{territory.name}, {km:.1f} km from its boundary"
            )
            raise ValueError(msg)
        if self.commune_insee is None:
            self.commune_insee = str(commune)
        elif self.commune_insee != commune:
            msg = (
                f"commune_insee: {self.commune_insee} "
                f"({territory.commune_name(self.commune_insee)}) disagrees with the point, "
                f"which lies in {commune} ({territory.commune_name(commune)})"
            )
            raise ValueError(msg)
        if self.zone_id is None:
            zone = territory.zone_at(lon, lat)[0]
            if zone is not None:
                self.zone_id = str(zone)


class PhotoRef(_Model):
    """One photo stored with a listing, as the listing's ``gallery`` lists it.

    ``url`` serves the image (a JPEG re-encoded without metadata, see
    :mod:`geodata.photos`); ``alt`` describes it in French for readers who cannot see it,
    ``alt_en`` in English when the owner gave one.
    """

    id: int = Field(ge=1)
    url: str = Field(description="Where the image is served (GET), relative to the site.")
    alt: str = Field(min_length=1, max_length=PHOTO_ALT_MAX, description="French description.")
    alt_en: str | None = Field(
        default=None, max_length=PHOTO_ALT_MAX, description="English description, if given."
    )
    width: int = Field(ge=1, description="Pixels.")
    height: int = Field(ge=1, description="Pixels.")


class PhotoIn(_Model):
    """The description of a photo sent with it (``POST /premises/{id}/photos``).

    ``alt`` is required: it is what a reader who cannot see the photo is told (RGAA).
    """

    alt: str = Field(
        min_length=1,
        max_length=PHOTO_ALT_MAX,
        description="What the photo shows, in French (the image's text alternative).",
    )
    alt_en: str | None = Field(
        default=None, max_length=PHOTO_ALT_MAX, description="The same in English (optional)."
    )
    position: Annotated[int, Field(ge=0, le=1000)] | None = Field(
        default=None, description="Where it goes among the listing's photos, from 0 (last)."
    )

    @field_validator("alt_en")
    @classmethod
    def _blank_en(cls, v: str | None) -> str | None:
        return v or None


class PhotoUpdate(_Model):
    """A new description or place of a photo (``PATCH /premises/{id}/photos/{photo_id}``)."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"alt": "Le quai de chargement", "position": 0}]}
    )

    alt: str | None = Field(default=None, min_length=1, max_length=PHOTO_ALT_MAX)
    alt_en: str | None = Field(
        default=None, max_length=PHOTO_ALT_MAX, description="Empty text or null removes it."
    )
    position: Annotated[int, Field(ge=0, le=1000)] | None = Field(
        default=None, description="The photo's new place, from 0 (first)."
    )

    def changes(self) -> dict[str, Any]:
        """The fields the client sent (``alt`` cannot be removed, only replaced)."""
        out = self.model_dump(exclude_unset=True)
        if out.get("alt") is None:
            out.pop("alt", None)
        if out.get("position") is None:
            out.pop("position", None)
        if "alt_en" in out:
            out["alt_en"] = out["alt_en"] or None
        return out


class Premises(PremisesBase):
    """A stored listing: the owner's description plus identity, version and timestamps.

    It was checked against the territory when it was written, so reading it back never checks
    it again (whatever the validation context). ``gallery`` lists the photos stored with it,
    in display order; it changes only through the photo routes (each change is a new version).
    """

    id: int
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime
    gallery: list[PhotoRef] = Field(
        default_factory=list,
        description="The photos stored with the listing, in display order (uploaded with "
        "POST /premises/{id}/photos); `photos` lists links to pictures hosted elsewhere.",
    )

    @field_validator("gallery", mode="before")
    @classmethod
    def _gallery_text(cls, v: Any) -> Any:
        """The stored column holds the gallery as JSON text."""
        return _json_loads(v) if isinstance(v, str | bytes) else v


def _personal(kind: str) -> tuple[str, ...]:
    return tuple(
        name
        for name, info in PremisesBase.model_fields.items()
        if isinstance(info.json_schema_extra, dict)
        and info.json_schema_extra.get("x-personal") == kind
    )


#: Fields that say who owns a listing: never in :class:`PremisesPublic`.
OWNER_FIELDS: tuple[str, ...] = _personal("owner")
#: Fields that reach a person: in :class:`PremisesPublic` only when ``contact_public`` is true.
CONTACT_FIELDS: tuple[str, ...] = _personal("contact")


def _optional(info: FieldInfo) -> tuple[Any, FieldInfo]:
    """The same field, optional and absent by default (for a partial update)."""
    field = FieldInfo.merge_field_infos(info, default=None)
    field.default_factory = None
    return info.annotation | None, field  # type: ignore[operator]


if TYPE_CHECKING:
    _PremisesUpdateBase = _Model
    _PremisesPublicBase = _Model
else:
    _PremisesUpdateBase = create_model(
        "_PremisesUpdateBase",
        __base__=_Model,
        **{name: _optional(info) for name, info in PremisesBase.model_fields.items()},
    )
    _PremisesPublicBase = create_model(
        "_PremisesPublicBase",
        __base__=_Model,
        **{
            name: (info.annotation, info)
            for name, info in Premises.model_fields.items()
            if name not in OWNER_FIELDS
        },
    )


class PremisesUpdate(_PremisesUpdateBase):
    """Some fields of a listing to change (a partial update, as ``PATCH`` sends).

    Every field of :class:`PremisesBase` is optional here and each is checked on its own; the
    merged listing is checked whole, against the territory, as a :class:`PremisesCreate`.

    Examples
    --------
    >>> PremisesUpdate(title="Atelier rénové", rent_eur_m2_year=120).changes()
    {'title': 'Atelier rénové', 'rent_eur_m2_year': 120.0}
    """

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"rent_eur_m2_year": 110, "loading_docks": 3}]}
    )

    def changes(self) -> dict[str, Any]:
        """The fields the client sent, ``{field: value}`` (``None`` clears a field)."""
        return self.model_dump(exclude_unset=True)


class PremisesPublic(_PremisesPublicBase):
    """What anyone may read of a stored listing.

    Never the owner's account (:data:`OWNER_FIELDS`); the contact (:data:`CONTACT_FIELDS`)
    only when the owner published it (``contact_public``), else those fields are null; no
    photos (``gallery``) once the listing is withdrawn.

    Examples
    --------
    >>> stored = Premises.model_validate(
    ...     {"id": 1, "version": 1, "created_at": "2026-05-01T10:00:00Z",
    ...      "updated_at": "2026-05-01T10:00:00Z", "title": "Atelier", "kind": "workshop",
    ...      "surface_m2": 300, "tenure": "rent", "lon": 2.39, "lat": 48.79,
    ...      "owner_account": "sci-x", "contact_email": "a@b.fr"})
    >>> public = PremisesPublic.model_validate(stored)
    >>> public.contact_email is None, "owner_account" in public.model_dump()
    (True, False)
    """

    @model_validator(mode="before")
    @classmethod
    def _hide_personal(cls, data: Any) -> Any:
        if isinstance(data, BaseModel):
            data = data.model_dump()
        if isinstance(data, dict):
            data = {k: v for k, v in data.items() if k not in OWNER_FIELDS}
            if not data.get("contact_public"):
                data.update(dict.fromkeys(CONTACT_FIELDS))
            if data.get("status") == Status.withdrawn and data.get("gallery"):
                data["gallery"] = []  # its photos are served to its owner and the staff only
        return data


class PlaceOfInterest(_Model):
    """A point that matters to a company (its current site, a supplier, a station)."""

    label: str = Field(min_length=1, max_length=120)
    lon: Annotated[float, Field(ge=-180, le=180)]
    lat: Annotated[float, Field(ge=-90, le=90)]
    max_distance_m: PosFloat | None = Field(
        default=None, description="Beyond this distance the place counts as too far."
    )


_DEFAULT_REQUIRED: list[Criterion] = [Criterion.surface, Criterion.use, Criterion.budget]


class NeedIn(_Model):
    """A company's need for premises.

    Every criterion is either required (a hard filter) or preferred (scored); ``required``
    lists the required ones. When ``uses`` is empty, the NAF/APE code suggests them.
    """

    company_name: str = Field(min_length=1, max_length=200)
    siren: str | None = None
    naf_code: str | None = None
    headcount: NonNegInt | None = None
    surface_min_m2: PosFloat
    surface_max_m2: PosFloat
    activity_min_m2: NonNegFloat | None = None
    storage_min_m2: NonNegFloat | None = None
    office_min_m2: NonNegFloat | None = None
    uses: list[Use] = Field(default_factory=list)
    kinds: list[PremisesKind] = Field(default_factory=list, description="Acceptable kinds.")
    tenure: TenureWanted = TenureWanted.either
    max_rent_eur_m2_year: PosFloat | None = None
    max_sale_price_eur: PosFloat | None = None
    communes: list[str] = Field(default_factory=list)
    center_lon: Annotated[float, Field(ge=-180, le=180)] | None = None
    center_lat: Annotated[float, Field(ge=-90, le=90)] | None = None
    radius_m: PosFloat | None = None
    polygon: dict[str, Any] | None = Field(default=None, description="GeoJSON search area.")
    places: list[PlaceOfInterest] = Field(default_factory=list)
    max_station_distance_m: PosFloat | None = None
    max_interchange_distance_m: PosFloat | None = None
    min_ceiling_height_m: PosFloat | None = None
    min_floor_load_t_m2: PosFloat | None = None
    min_loading_docks: NonNegInt | None = None
    min_ground_level_doors: NonNegInt | None = None
    min_power_kva: PosFloat | None = None
    needs_icpe: bool = False
    wanted_by: date | None = None
    required: list[Criterion] = Field(default_factory=lambda: list(_DEFAULT_REQUIRED))
    weights: dict[Criterion, Annotated[float, Field(ge=0)]] | None = None
    contact_email: str | None = Field(default=None, max_length=200, json_schema_extra=_CONTACT)
    owner_account: str | None = Field(
        default=None,
        max_length=120,
        description="The company account that owns the need (its saved search).",
        json_schema_extra=_OWNER,
    )
    alert_threshold: Annotated[float, Field(ge=0, le=100)] = Field(
        default=70.0,
        description="A listing that newly fits the need with at least this score (0-100) "
        "is notified to its owner.",
    )
    active: bool = True

    @field_validator("siren")
    @classmethod
    def _siren(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        v = v.replace(" ", "")
        if not _SIREN_RE.match(v):
            msg = f"'{v}' is not a SIREN (nine digits)"
            raise ValueError(msg)
        if not _luhn_ok(v):
            msg = f"'{v}' is not a valid SIREN (its check digit is wrong)"
            raise ValueError(msg)
        return v

    @field_validator("uses")
    @classmethod
    def _uses(cls, v: list[Any]) -> list[Any]:
        return _enum_order(v, Use)

    @field_validator("kinds")
    @classmethod
    def _kinds(cls, v: list[Any]) -> list[Any]:
        return _enum_order(v, PremisesKind)

    @field_validator("naf_code")
    @classmethod
    def _naf(cls, v: str | None) -> str | None:
        return None if v is None or v == "" else normalise_naf(v)

    @field_validator("communes", mode="before")
    @classmethod
    def _communes_by_name(cls, v: Any, info: ValidationInfo) -> Any:
        if not isinstance(v, list | tuple):
            return v
        return [_resolve_commune(c, info) for c in v]

    @field_validator("communes")
    @classmethod
    def _communes(cls, v: list[str], info: ValidationInfo) -> list[str]:
        territory = _territory(info)
        return list(dict.fromkeys(_check_insee_code(c, territory) for c in v))

    @field_validator("polygon")
    @classmethod
    def _polygon(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            _shape_of(v, ("Polygon", "MultiPolygon"))
        return v

    @model_validator(mode="after")
    def _coherent(self) -> NeedIn:
        if self.surface_min_m2 > self.surface_max_m2:
            msg = (
                f"surface_min_m2: the minimum ({self.surface_min_m2:g} m²) is larger than "
                f"surface_max_m2 ({self.surface_max_m2:g} m²)"
            )
            raise ValueError(msg)
        if (self.center_lon is None) != (self.center_lat is None):
            msg = "center_lon, center_lat: give both or neither"
            raise ValueError(msg)
        if self.radius_m is not None and self.center_lon is None:
            msg = "radius_m: a radius needs a centre (center_lon, center_lat)"
            raise ValueError(msg)
        if self.tenure == TenureWanted.rent and self.max_sale_price_eur is not None:
            msg = "max_sale_price_eur: a purchase budget on a need that only wants to rent"
            raise ValueError(msg)
        if self.tenure == TenureWanted.buy and self.max_rent_eur_m2_year is not None:
            msg = "max_rent_eur_m2_year: a rent ceiling on a need that only wants to buy"
            raise ValueError(msg)
        if not self.uses and self.naf_code:
            self.uses = _enum_order(list(default_uses_for_naf(self.naf_code)), Use)
        if len(set(self.required)) != len(self.required):
            self.required = list(dict.fromkeys(self.required))
        return self

    def is_required(self, criterion: Criterion | str) -> bool:
        """Whether a criterion is a hard filter for this need."""
        return str(criterion) in {str(c) for c in self.required}


class Need(NeedIn):
    """A stored need."""

    id: int
    version: int = Field(ge=1)
    created_at: datetime
    updated_at: datetime


Lang = Literal["fr", "en"]


def _built_by_adapters(model: type[BaseModel]) -> None:
    """Let ``model`` and its subclasses stay unbuilt, but have later wrappers build eagerly.

    A pydantic ``TypeAdapter`` of a model (FastAPI makes one per route parameter and
    response) defers its own build when the model's config says ``defer_build``, and would
    then build on first use, outside FastAPI's handling of its own annotations (which warns).
    Pydantic reads ``model_config`` when it builds, so clearing the flag once the classes
    exist keeps them unbuilt until first use while every adapter (and any later subclass)
    builds as usual.
    """
    model.model_config["defer_build"] = False
    for sub in model.__subclasses__():
        _built_by_adapters(sub)


_built_by_adapters(_Model)


def error_details(exc: ValidationError) -> list[dict[str, str]]:
    """Flatten a pydantic ``ValidationError`` into ``{"field", "reason"}`` pairs.

    Cross-field checks raise messages of the form ``"field: reason"``; their field is taken
    from that prefix so that every error names a field.

    Examples
    --------
    >>> try:
    ...     NeedIn(company_name="A", surface_min_m2=900, surface_max_m2=500)
    ... except ValidationError as exc:
    ...     error_details(exc)[0]["field"]
    'surface_min_m2'
    """
    out: list[dict[str, str]] = []
    for err in exc.errors(include_url=False):
        loc = ".".join(str(p) for p in err.get("loc", ()))
        msg = str(err.get("msg", ""))
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if not loc and ": " in msg:
            head, rest = msg.split(": ", 1)
            if re.fullmatch(r"[a-z_0-9]+(, [a-z_0-9]+)*", head):
                loc, msg = head, rest
        out.append({"field": loc or "(record)", "reason": msg})
    return out
