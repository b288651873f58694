"""Integer codes and bitmasks for the catalogue's enumerations (private plumbing)."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from geodata.schemas import PremisesKind, Status, Tenure, TenureWanted, Use
from matcher.weights import KIND_DEFAULT_USES

USES: tuple[str, ...] = tuple(u.value for u in Use)
KINDS: tuple[str, ...] = tuple(k.value for k in PremisesKind)
STATUSES: tuple[str, ...] = tuple(s.value for s in Status)

USE_BIT: dict[str, int] = {u: 1 << i for i, u in enumerate(USES)}
KIND_CODE: dict[str, int] = {k: i for i, k in enumerate(KINDS)}
STATUS_CODE: dict[str, int] = {s: i for i, s in enumerate(STATUSES)}
#: Status code of a row removed from an index (never matched).
REMOVED = 99

#: Listing tenure → bits: 1 = can be rented, 2 = can be bought.
TENURE_BITS: dict[str, int] = {Tenure.rent.value: 1, Tenure.sale.value: 2, Tenure.both.value: 3}
#: Wanted tenure → bits the listing must share.
WANTED_BITS: dict[str, int] = {
    TenureWanted.rent.value: 1,
    TenureWanted.buy.value: 2,
    TenureWanted.either.value: 3,
}

#: Bitmask of the uses a kind usually allows, indexed by kind code.
KIND_DEFAULT_MASK = np.array(
    [sum(USE_BIT[u] for u in KIND_DEFAULT_USES[k]) for k in KINDS], dtype=np.int16
)


def use_mask(uses: Iterable[str]) -> int:
    """Bitmask of a collection of use names; raises ``ValueError`` on an unknown one."""
    mask = 0
    for u in uses:
        name = str(getattr(u, "value", u)).strip()
        if not name:
            continue
        if name not in USE_BIT:
            msg = f"uses: unknown use '{name}' (one of {', '.join(USES)})"
            raise ValueError(msg)
        mask |= USE_BIT[name]
    return mask


def kind_mask(kinds: Iterable[str]) -> int:
    """Bitmask of a collection of kind names (bit i = kind code i)."""
    mask = 0
    for k in kinds:
        name = str(getattr(k, "value", k))
        if name not in KIND_CODE:
            msg = f"kinds: unknown kind '{name}' (one of {', '.join(KINDS)})"
            raise ValueError(msg)
        mask |= 1 << KIND_CODE[name]
    return mask


def uses_of_mask(mask: int) -> list[str]:
    """The use names of a bitmask, in enumeration order."""
    return [u for u in USES if mask & USE_BIT[u]]
