"""The index built from the storage's typed columns equals the one built from a frame."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from api.matching import build_index
from geodata.demo import load_demo
from geodata.storage import Repository, catalogue
from geodata.territory import default_territory
from matcher import MatchIndex, PointSet
from matcher.index import CATALOGUE_COLUMNS, _nearest


def test_index_from_typed_columns_equals_the_index_from_the_frame(repo: Repository) -> None:
    territory = default_territory()
    load_demo(repo, territory=territory, n_premises=120, n_needs=1)
    with repo.connect() as conn:
        frame = catalogue.premises_frame(conn)
    from_frame = MatchIndex.from_frame(
        frame,
        stations=territory.stations,
        interchanges=territory.motorway_access,
        commune_names=territory.communes["name"].to_dict(),
    )
    from_columns = build_index(repo, territory)
    assert set(from_frame.cols) == set(from_columns.cols)
    for name, expected in from_frame.cols.items():
        got = from_columns.cols[name]
        if name == "commune":  # positions into each index's own list of codes
            got = np.array([from_columns.communes[c] if c >= 0 else None for c in got])
            expected = np.array([from_frame.communes[c] if c >= 0 else None for c in expected])
        assert got.dtype == expected.dtype or name == "commune", name
        if got.dtype.kind == "f":
            np.testing.assert_array_equal(got, expected, err_msg=name)  # NaN-aware, exact
        else:
            assert got.tolist() == expected.tolist(), name
    assert from_columns.commune_names == from_frame.commune_names


def test_typed_columns_name_a_bad_enumeration_value_and_the_listings_missing_one() -> None:
    base = {
        "id": np.array([1, 2]),
        "kind": np.array(["warehouse", "workshop"], dtype=object),
        "tenure": np.array(["rent", "sale"], dtype=object),
        "status": np.array(["available", None], dtype=object),  # missing: available
        "surface_m2": np.array([100.0, 200.0]),
        "lon": np.array([2.36, 2.37]),
        "lat": np.array([48.79, 48.78]),
    }
    index = MatchIndex.from_columns(base)
    assert index.cols["status"].tolist() == [0, 0]
    with pytest.raises(ValueError, match="kind: unknown value 'castle'"):
        MatchIndex.from_columns({**base, "kind": np.array(["warehouse", "castle"], dtype=object)})
    with pytest.raises(ValueError, match=r"tenure: missing for listing\(s\) \[2\]"):
        MatchIndex.from_columns({**base, "tenure": np.array(["rent", None], dtype=object)})
    with pytest.raises(ValueError, match="duplicate listing ids"):
        MatchIndex.from_columns({**base, "id": np.array([3, 3])})


def test_nearest_points_are_exactly_those_of_a_kd_tree() -> None:
    rng = np.random.default_rng(7)
    points = PointSet(
        rng.uniform(2.2, 2.5, 90), rng.uniform(48.65, 48.85, 90), [f"p{i}" for i in range(90)]
    )
    x = rng.uniform(points.x.min() - 5e3, points.x.max() + 5e3, 5000)
    y = rng.uniform(points.y.min() - 5e3, points.y.max() + 5e3, 5000)
    dist, idx = _nearest(points, x, y, chunk=777)
    tree_dist, tree_idx = cKDTree(np.column_stack([points.x, points.y])).query(
        np.column_stack([x, y]), k=1
    )
    assert idx.tolist() == tree_idx.tolist()
    assert dist.tolist() == tree_dist.tolist()  # bit for bit


def test_catalogue_columns_are_the_ones_the_index_reads(repo: Repository) -> None:
    with repo.connect() as conn:
        columns = catalogue.premises_columns(conn, CATALOGUE_COLUMNS)
    assert list(columns) == list(CATALOGUE_COLUMNS)
