"""Matching criteria: one module per criterion, a base protocol, and the registry.

The per-criterion utilities and filters are pure vectorised functions: pass the catalogue's
columns as arrays and one need's parameters as scalars (forward matching), or one listing's
values as scalars and the parameters of many needs as arrays (reverse matching). A need
parameter that is NaN means "not asked": filters pass and utilities return NaN. A listing
value that is NaN means "not stated": filters pass and utilities return
:data:`~matcher.weights.UNKNOWN_UTILITY`. They use only correctly rounded operations
(``+ − × ÷``, comparisons, min/max), so that a value does not depend on where it sits in
an array.
"""

from matcher.criteria.availability import availability_ok, availability_utility
from matcher.criteria.base import (
    Candidates,
    Criterion,
    Reason,
    Relaxation,
    distance_m,
    distance_utility,
    mean_of_present,
)
from matcher.criteria.budget import budget_ok, budget_utility, price_utility, sale_total, tenure_ok
from matcher.criteria.registry import DEFAULT_REGISTRY, Registry
from matcher.criteria.surface import lot_minimum, surface_ok, surface_taken, surface_utility
from matcher.criteria.technical import icpe_ok, icpe_utility, minimum_ok, minimum_utility
from matcher.criteria.use import use_ok, use_utility

__all__ = [
    "DEFAULT_REGISTRY",
    "Candidates",
    "Criterion",
    "Reason",
    "Registry",
    "Relaxation",
    "availability_ok",
    "availability_utility",
    "budget_ok",
    "budget_utility",
    "distance_m",
    "distance_utility",
    "icpe_ok",
    "icpe_utility",
    "lot_minimum",
    "mean_of_present",
    "minimum_ok",
    "minimum_utility",
    "price_utility",
    "sale_total",
    "surface_ok",
    "surface_taken",
    "surface_utility",
    "tenure_ok",
    "use_ok",
    "use_utility",
]
