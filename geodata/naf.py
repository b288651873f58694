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

__all__ = ["NAF_DIVISION_USES", "default_uses_for_naf", "normalise_naf"]


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

_NAF_RE = re.compile(r"^(\d{2})\.?(\d{2})([A-Z])$")


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
