"""Lambert-93 projection of the matcher (numpy) against pyproj, the reference."""

from __future__ import annotations

import numpy as np

import pyproj

from matcher import to_lambert93


def test_to_lambert93_is_pyprojs_projection_to_a_few_nanometres() -> None:
    rng = np.random.default_rng(7)
    # Metropolitan France and beyond, plus the territory's corner and a missing value.
    lon = np.r_[rng.uniform(-6.0, 10.0, 50_000), 2.3633, np.nan, -179.0]
    lat = np.r_[rng.uniform(41.0, 52.0, 50_000), 48.7920, 48.0, 45.0]
    ref_x, ref_y = pyproj.Transformer.from_crs(4326, 2154, always_xy=True).transform(lon, lat)
    x, y = to_lambert93(lon, lat)
    assert x.dtype == y.dtype == np.float64
    np.testing.assert_array_equal(np.isnan(x), np.isnan(ref_x))
    ok = ~np.isnan(ref_x)
    assert np.max(np.abs(x[ok] - ref_x[ok])) < 1e-6
    assert np.max(np.abs(y[ok] - ref_y[ok])) < 1e-6


def test_to_lambert93_keeps_the_shape_of_scalars_and_empty_input() -> None:
    x, y = to_lambert93(2.3633, 48.7920)
    assert round(float(x) / 1000) == 653 and round(float(y) / 1000) == 6855
    x, y = to_lambert93([], [])
    assert x.shape == y.shape == (0,)
