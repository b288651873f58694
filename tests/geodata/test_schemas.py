"""Validation of listings and needs: every error names its field and reason."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from geodata.naf import NAF_DIVISION_USES, default_uses_for_naf, normalise_naf
from geodata.schemas import (
    CONTACT_FIELDS,
    OWNER_FIELDS,
    NeedIn,
    Premises,
    PremisesCreate,
    PremisesPublic,
    PremisesUpdate,
    Use,
    error_details,
)
from geodata.territory import default_territory

#: Validation context of the checks that need a territory.
GOSB = {"territory": default_territory()}

# A point in the MIN de Rungis area (Rungis, 94065), and one in Vitry-sur-Seine (94081).
RUNGIS = (2.3530, 48.7500)
VITRY = (2.3920, 48.7870)


def listing(**over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "title": "Entrepôt 1 200 m²",
        "kind": "warehouse",
        "uses": ["logistics"],
        "surface_m2": 1200,
        "tenure": "rent",
        "rent_eur_m2_year": 85,
        "lon": RUNGIS[0],
        "lat": RUNGIS[1],
    }
    data.update(over)
    return data


def fields_of(exc: pytest.ExceptionInfo[ValidationError]) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in error_details(exc.value)}


def test_valid_listing_derives_its_commune() -> None:
    p = PremisesCreate.model_validate(listing(), context=GOSB)
    assert p.commune_insee == "94065"
    assert p.uses == ["logistics"]


@pytest.mark.parametrize(
    ("over", "field", "words"),
    [
        ({"surface_m2": -5}, "surface_m2", "greater than 0"),
        ({"uses": ["juggling"]}, "uses.0", "production"),
        ({"sale_price_eur": 900000}, "sale_price_eur", "rent-only"),
        ({"tenure": "sale", "rent_eur_m2_year": 80}, "rent_eur_m2_year", "sale-only"),
        ({"min_lot_m2": 300}, "min_lot_m2", "not divisible"),
        ({"divisible": True, "min_lot_m2": 3000}, "min_lot_m2", "larger than the surface"),
        ({"activity_m2": 1000, "office_m2": 400}, "activity_m2, storage_m2, office_m2", "1400"),
        ({"commune_insee": "75056"}, "commune_insee", "unknown INSEE code"),
        ({"commune_insee": "9406"}, "commune_insee", "not an INSEE commune code"),
        ({"commune_insee": "94081"}, "commune_insee", "disagrees with the point"),
        ({"lon": RUNGIS[1], "lat": RUNGIS[0]}, "lon, lat", "swapped"),
        ({"lon": 2.3499, "lat": 48.8530}, "lon, lat", "outside the territory"),
        ({"contact_email": "nobody"}, "contact_email", "e-mail"),
        ({"kind": "castle"}, "kind", "workshop"),
    ],
)
def test_listing_errors_name_field_and_reason(over: dict[str, Any], field: str, words: str) -> None:
    with pytest.raises(ValidationError) as exc:
        PremisesCreate.model_validate(listing(**over), context=GOSB)
    errors = fields_of(exc)
    assert field in errors, errors
    assert words in errors[field]


def test_commune_that_agrees_is_kept() -> None:
    p = PremisesCreate.model_validate(
        listing(lon=VITRY[0], lat=VITRY[1], commune_insee="94081"), context=GOSB
    )
    assert p.commune_insee == "94081"


def test_need_surface_range_and_naf_default_uses() -> None:
    with pytest.raises(ValidationError) as exc:
        NeedIn(company_name="A", surface_min_m2=900, surface_max_m2=500)
    assert "surface_min_m2" in fields_of(exc)
    need = NeedIn(company_name="B", surface_min_m2=200, surface_max_m2=400, naf_code="1071C")
    assert need.naf_code == "10.71C"
    assert need.uses == [Use.production, Use.food_processing]  # canonical enum order
    kept = NeedIn(
        company_name="C", surface_min_m2=200, surface_max_m2=400, naf_code="1071C", uses=["craft"]
    )
    assert kept.uses == ["craft"]


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"siren": "12345678"}, "siren"),
        ({"siren": "732829321"}, "siren"),
        ({"naf_code": "ABCDE"}, "naf_code"),
        ({"communes": ["99999"]}, "communes"),
        ({"radius_m": 1000}, "radius_m"),
        ({"center_lon": 2.35}, "center_lon, center_lat"),
        ({"tenure": "rent", "max_sale_price_eur": 10}, "max_sale_price_eur"),
        ({"uses": ["teleportation"]}, "uses.0"),
    ],
)
def test_need_errors(over: dict[str, Any], field: str) -> None:
    data = {"company_name": "D", "surface_min_m2": 100, "surface_max_m2": 200, **over}
    with pytest.raises(ValidationError) as exc:
        NeedIn.model_validate(data, context=GOSB)
    assert any(f.startswith(field) for f in fields_of(exc)), fields_of(exc)


def test_uses_are_canonical_and_text_is_clean() -> None:
    p = PremisesCreate.model_validate(listing(uses=["repair", "logistics", "repair"]))
    assert p.uses == ["logistics", "repair"]
    with pytest.raises(ValidationError) as exc:
        PremisesCreate.model_validate(listing(title="Atelier\x00"))
    assert "control character" in fields_of(exc)["title"]
    naive = PremisesCreate.model_validate(listing(last_verified_at="2026-05-01T10:00:00"))
    assert naive.last_verified_at is not None and naive.last_verified_at.utcoffset() is not None


def test_valid_siren_luhn() -> None:
    need = NeedIn(company_name="E", surface_min_m2=1, surface_max_m2=2, siren="732 829 320")
    assert need.siren == "732829320"


def test_naf_table_is_consistent() -> None:
    for uses in NAF_DIVISION_USES.values():
        assert uses
        assert all(u in Use.__members__ for u in uses)
    assert normalise_naf("25.62b") == "25.62B"
    assert default_uses_for_naf("45.20A") == ("repair",)
    with pytest.raises(ValueError, match="not a NAF"):
        normalise_naf("2562")


# -- the territory is explicit ------------------------------------------------------------------

LYON = (4.8357, 45.7640)  # Place Bellecour, far from Grand-Orly Seine Bièvre


def test_without_a_territory_no_place_is_checked_nor_derived() -> None:
    """There is no default territory: without one, a listing anywhere in France validates."""
    p = PremisesCreate.model_validate(listing(lon=LYON[0], lat=LYON[1]))
    assert p.commune_insee is None and p.zone_id is None
    with pytest.raises(ValidationError, match="outside the territory"):
        PremisesCreate.model_validate(listing(lon=LYON[0], lat=LYON[1]), context=GOSB)
    need = NeedIn.model_validate(
        {"company_name": "A", "surface_min_m2": 1, "surface_max_m2": 2, "communes": ["69381"]}
    )
    assert need.communes == ["69381"]


def test_a_stored_listing_is_never_checked_again() -> None:
    """Reading a stored listing back costs no territory check, whatever the context."""
    stored = {
        **listing(lon=LYON[0], lat=LYON[1], commune_insee="69381"),
        "id": 1,
        "version": 1,
        "created_at": "2026-05-01T10:00:00Z",
        "updated_at": "2026-05-01T10:00:00Z",
    }
    assert Premises.model_validate(stored, context=GOSB).commune_insee == "69381"


def test_the_context_must_carry_a_territory() -> None:
    with pytest.raises(TypeError, match=r"must be a geodata\.territory\.Territory"):
        PremisesCreate.model_validate(listing(), context={"territory": "gosb"})


# -- per-use models ---------------------------------------------------------------------------


def test_update_is_partial_and_checks_each_field() -> None:
    assert PremisesUpdate().changes() == {}
    assert PremisesUpdate(status="let", description=None).changes() == {
        "status": "let",
        "description": None,
    }
    with pytest.raises(ValidationError) as exc:
        PremisesUpdate.model_validate({"surface_m2": -1, "colour": "red"})
    assert {"surface_m2", "colour"} <= set(fields_of(exc))


def test_public_listing_hides_the_owner_and_an_unpublished_contact() -> None:
    assert OWNER_FIELDS == ("owner_account",)
    assert CONTACT_FIELDS == ("contact_name", "contact_email", "contact_phone")
    assert not set(OWNER_FIELDS) & set(PremisesPublic.model_fields)
    personal = {"owner_account": "sci-x", "contact_name": "Mme X", "contact_email": "x@y.fr"}
    stored = Premises.model_validate(
        {
            **listing(**personal, contact_phone="01 02 03 04 05"),
            "id": 7,
            "version": 2,
            "created_at": "2026-05-01T10:00:00Z",
            "updated_at": "2026-05-01T10:00:00Z",
        }
    )
    hidden = PremisesPublic.model_validate(stored).model_dump()
    assert "owner_account" not in hidden
    assert all(hidden[f] is None for f in CONTACT_FIELDS)
    assert hidden["title"] == stored.title and hidden["id"] == 7
    published = PremisesPublic.model_validate(stored.model_copy(update={"contact_public": True}))
    assert published.model_dump()["contact_email"] == "x@y.fr"
    assert "owner_account" not in published.model_dump()


# -- a commune given by name ------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["Vitry-sur-Seine", "vitry sur seine", "VITRY SUR SEINE", " Vitry-sur-Seïne ", "94081"]
)
def test_a_wanted_commune_is_given_by_name_or_code(name: str) -> None:
    need = NeedIn.model_validate(
        {"company_name": "A", "surface_min_m2": 1, "surface_max_m2": 2, "communes": [name]},
        context=GOSB,
    )
    assert need.communes == ["94081"]


def test_names_and_codes_of_one_commune_count_once() -> None:
    need = NeedIn.model_validate(
        {
            "company_name": "A",
            "surface_min_m2": 1,
            "surface_max_m2": 2,
            "communes": ["L'Haÿ-les-Roses", "hay les roses", "94038", "Villeneuve St Georges"],
        },
        context=GOSB,
    )
    assert need.communes == ["94038", "94078"]


def test_an_unknown_commune_name_lists_the_close_matches() -> None:
    data = {"company_name": "A", "surface_min_m2": 1, "surface_max_m2": 2}
    with pytest.raises(ValidationError) as exc:
        NeedIn.model_validate({**data, "communes": ["Vitri"]}, context=GOSB)
    reason = fields_of(exc)["communes"]
    assert "Vitry-sur-Seine (94081)" in reason and "INSEE code" in reason
    with pytest.raises(ValidationError) as exc:
        NeedIn.model_validate({**data, "communes": ["Vitry-sur-Seine"]})
    assert "only against a territory" in fields_of(exc)["communes"]


def test_a_listing_commune_is_given_by_name() -> None:
    p = PremisesCreate.model_validate(listing(commune_insee="rungis"), context=GOSB)
    assert p.commune_insee == "94065"
    with pytest.raises(ValidationError) as exc:
        PremisesCreate.model_validate(listing(commune_insee="Rungys"), context=GOSB)
    assert "Rungis (94065)" in fields_of(exc)["commune_insee"]


def test_an_ambiguous_commune_name_lists_the_candidates() -> None:
    import dataclasses

    gosb = default_territory()
    layer = gosb.layer("communes")
    properties = tuple(  # two communes of the same name
        {**p, "name": "Vitry-sur-Seine"} if p["insee"] == "94041" else p for p in layer.properties
    )
    communes = dataclasses.replace(layer, properties=properties)
    twins = dataclasses.replace(gosb, layers={**gosb.layers, "communes": communes})
    with pytest.raises(ValidationError) as exc:
        NeedIn.model_validate(
            {"company_name": "A", "surface_min_m2": 1, "surface_max_m2": 2, "communes": ["vitry"]},
            context={"territory": twins},
        )
    reason = fields_of(exc)["communes"]
    assert "several communes" in reason and "(94041)" in reason and "(94081)" in reason
