"""Default weights, tolerances and lookup tables of the matching engine.

The score of a premises for a need is a weighted mean of per-criterion utilities, on 0–100
(:class:`matcher.ranker.WeightedMeanRanker`; each criterion lives in :mod:`matcher.criteria`):

``score = 100 × Σ wᵢ·uᵢ / Σ wᵢ`` over the criteria the need *uses* (a criterion is used when
the need says something about it; surface is always used). A need may override any weight
with ``need.weights``; a weight of 0 keeps a required criterion as a pure filter.

Default weights (they add up to 100, so with every criterion used a weight reads as a
percentage of the score):

=============  ======  ==============================================================
criterion      weight  what it rewards
=============  ======  ==============================================================
surface          30    the surface (or a lot of a divisible premises) fits the range
use              20    the listing allows every wanted use (and is of a wanted kind)
budget           20    rent or price under the ceiling, with a steep decay above it
location         15    inside the wanted communes / polygon / radius, close to places
access            5    close to a transit station and a motorway interchange
technical         5    ceiling height, floor load, docks, doors, power, ICPE
availability      5    available by the wanted date
=============  ======  ==============================================================

Utilities and filters (a required criterion excludes what fails its filter and still scores
what passes; a preferred criterion only scores):

- surface: the listing offers lots in ``[a, b]`` (``a = b = surface`` unless divisible, in
  which case ``a`` is the minimum lot, 0 when not stated). Utility 1 when ``[a, b]`` meets the
  wanted range ``[min, max]``, falling linearly to 0.5 at the edges of the tolerance band,
  ``min × (1 − SURFACE_TOLERANCE)`` and ``max × (1 + SURFACE_TOLERANCE)``, then
  0.5 × the ratio offered / edge (too small) or edge / smallest lot (too large) beyond it:
  twice too large scores 0.25. Filter: inside the band. When the need asks for a minimum of
  activity, storage or office surface and the listing states that part, the utility is
  multiplied by how well the part covers it (same curve as a too small surface, averaged
  over the parts), and the filter also asks each part to be within the band.
- use: fraction of the wanted uses that the listing allows (when a listing states no uses,
  those usual for its kind, :data:`KIND_DEFAULT_USES`), halved when the listing's kind is not
  among the wanted kinds. Filter: every wanted use allowed and the kind wanted.
- budget: the tenure must be compatible (rent ↔ rent/both, buy ↔ sale/both). Utility 1 at or
  under the ceiling, ``(1 − excess / BUDGET_TOLERANCE)²`` above it (0 at 10 % over).
  Filter: compatible tenure and price within the tolerance. Unknown price: passes, utility
  :data:`UNKNOWN_UTILITY`.
- location and access: ``u(d) = max(0, 1 − d / (2R))`` for a distance ``d`` in Lambert-93
  metres and a reach ``R`` (the radius, a place's maximum distance or
  :data:`DEFAULT_PLACE_REACH_M`, the maximum station / interchange distance): 1 on the spot,
  0.5 at the reach, 0 at twice the reach. Communes and polygon score 1 inside, 0 outside.
  Filters are hard: inside the communes, the polygon, the radius, each place's maximum
  distance, the maximum station / interchange distance.
- technical: each minimum scores 1 when met, falling linearly to 0 at
  ``minimum × (1 − TECHNICAL_TOLERANCE)``; ICPE scores 1 when allowed, 0 when not. Filter:
  every stated value meets its minimum. Unknown values pass and score
  :data:`UNKNOWN_UTILITY`; the result's completeness figure says so.
- availability: 1 when available by the wanted date (no date means now), falling linearly to
  0 at :data:`AVAILABILITY_TOLERANCE_DAYS` late. Filter: available by the date.
"""

from __future__ import annotations

from geodata.schemas import Criterion, PremisesKind, Use

__all__ = [
    "AVAILABILITY_TOLERANCE_DAYS",
    "BUDGET_TOLERANCE",
    "CRITERIA",
    "DEFAULT_PLACE_REACH_M",
    "DEFAULT_WEIGHTS",
    "KIND_DEFAULT_USES",
    "SURFACE_TOLERANCE",
    "TECHNICAL_TOLERANCE",
    "UNKNOWN_UTILITY",
]

#: The criteria in the order used by every array of the engine.
CRITERIA: tuple[str, ...] = tuple(c.value for c in Criterion)

DEFAULT_WEIGHTS: dict[str, float] = {
    "surface": 30.0,
    "use": 20.0,
    "budget": 20.0,
    "location": 15.0,
    "access": 5.0,
    "technical": 5.0,
    "availability": 5.0,
}

SURFACE_TOLERANCE = 0.10
BUDGET_TOLERANCE = 0.10
TECHNICAL_TOLERANCE = 0.25
AVAILABILITY_TOLERANCE_DAYS = 90.0
DEFAULT_PLACE_REACH_M = 5_000.0
UNKNOWN_UTILITY = 0.5

#: Uses a kind of premises usually allows, assumed when a listing states none.
KIND_DEFAULT_USES: dict[str, tuple[str, ...]] = {
    PremisesKind.workshop.value: ("production", "craft", "repair", "construction"),
    PremisesKind.warehouse.value: ("logistics",),
    PremisesKind.industrial_building.value: ("production", "logistics", "food_processing"),
    PremisesKind.land.value: ("construction", "logistics"),
    PremisesKind.business_village_lot.value: ("production", "craft", "repair", "construction"),
    PremisesKind.lab.value: ("lab_rd",),
    PremisesKind.office_annex.value: (),
}
assert set(KIND_DEFAULT_USES) == {k.value for k in PremisesKind}
assert all(u in {x.value for x in Use} for uses in KIND_DEFAULT_USES.values() for u in uses)
