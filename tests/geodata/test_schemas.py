"""Validation of listings and needs: every error names its field and reason."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from geodata.naf import NAF_DIVISION_USES, default_uses_for_naf, normalise_naf
from geodata.schemas import NeedIn, PremisesIn, Use, error_details

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
    p = PremisesIn.model_validate(listing())
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
        PremisesIn.model_validate(listing(**over))
    errors = fields_of(exc)
    assert field in errors, errors
    assert words in errors[field]


def test_commune_that_agrees_is_kept() -> None:
    p = PremisesIn.model_validate(listing(lon=VITRY[0], lat=VITRY[1], commune_insee="94081"))
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
        NeedIn.model_validate(data)
    assert any(f.startswith(field) for f in fields_of(exc)), fields_of(exc)


def test_uses_are_canonical_and_text_is_clean() -> None:
    p = PremisesIn.model_validate(listing(uses=["repair", "logistics", "repair"]))
    assert p.uses == ["logistics", "repair"]
    with pytest.raises(ValidationError) as exc:
        PremisesIn.model_validate(listing(title="Atelier\x00"))
    assert "control character" in fields_of(exc)["title"]
    naive = PremisesIn.model_validate(listing(last_verified_at="2026-05-01T10:00:00"))
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
