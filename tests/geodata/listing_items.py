"""Listings for the import and storage tests: two places in zones and a one-line builder."""

from __future__ import annotations

from geodata.schemas import PremisesCreate
from geodata.territory import default_territory

#: The territory the listings lie in, passed explicitly to every check and import.
GOSB = default_territory()
RUNGIS_MIN = (2.3536, 48.7597)  # Chevilly-Larue, in the MIN zone
VITRY = (2.4125, 48.7850)  # Vitry-sur-Seine, Les Ardoines


def item(ref: str | None, lon: float, lat: float, **over: object) -> PremisesCreate:
    """A valid 1,000 m² warehouse for rent at ``(lon, lat)``; ``over`` changes any field."""
    data: dict[str, object] = {
        "external_ref": ref,
        "title": f"Local {ref}",
        "kind": "warehouse",
        "uses": ["logistics"],
        "surface_m2": 1000.0,
        "tenure": "rent",
        "rent_eur_m2_year": 90.0,
        "lon": lon,
        "lat": lat,
    }
    data.update(over)
    return PremisesCreate.model_validate(data, context={"territory": GOSB})
