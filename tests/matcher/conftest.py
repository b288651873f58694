"""Fixtures of the matcher tests: a small synthetic catalogue built in code."""

from __future__ import annotations

import pytest
from matcher_data import INTERCHANGES, STATIONS, make_catalogue

import geopandas as gpd

from matcher import MatchIndex


@pytest.fixture(scope="session")
def catalogue() -> gpd.GeoDataFrame:
    return make_catalogue(400, seed=1)


@pytest.fixture(scope="session")
def index(catalogue: gpd.GeoDataFrame) -> MatchIndex:
    return MatchIndex.from_frame(catalogue, stations=STATIONS, interchanges=INTERCHANGES)
