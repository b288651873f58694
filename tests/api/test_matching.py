"""An index brought up to date from the catalogue's changes equals one rebuilt from scratch."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from api.matching import apply_changes, build_index, refresh_index
from geodata.schemas import NeedIn
from geodata.storage import PremisesQuery, Repository, catalogue
from geodata.territory import Territory, load_territory
from matcher import MatchIndex, match
from matcher.index import catalogue_columns
from tests.geodata.test_storage import (
    IVRY,
    ORLY,
    RUNGIS,
    THIAIS,
    VITRY,
    full_premises,
    make_premises,
)


@pytest.fixture(scope="module")
def territory() -> Territory:
    return load_territory("gosb")


def _records(index: MatchIndex) -> dict[int, dict[str, Any]]:
    out = {}
    for listing_id in index.cols["id"].tolist():
        pos = index.position(listing_id)
        if pos is not None:
            out[listing_id] = index.record(pos)
    return out


def _same(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return a.keys() == b.keys() and all(
        (
            isinstance(a[k], float)
            and math.isnan(a[k])
            and isinstance(b[k], float)
            and math.isnan(b[k])
        )
        or a[k] == b[k]
        for k in a
    )


def test_changes_since_brought_to_an_index_equal_a_rebuild(
    repo: Repository, territory: Territory
) -> None:
    kept, moved, let, gone = repo.add_many_premises(
        [
            make_premises(RUNGIS, uses=["logistics"], surface_m2=900.0),
            make_premises(VITRY, external_ref="V-1", surface_m2=1200.0),
            make_premises(ORLY, uses=["logistics", "repair"], surface_m2=700.0),
            make_premises(THIAIS, surface_m2=300.0),
        ],
        actor="t",
    )
    index = build_index(repo, territory)
    assert index.version == repo.catalogue_version()

    repo.patch_premises(moved.id, {"lon": 2.385, "lat": 48.815}, expected_version=1, actor="t")
    repo.set_status(let.id, "let", expected_version=1, actor="t")
    repo.delete_premises(gone.id, expected_version=1, actor="t")
    [added] = repo.add_many_premises([make_premises(IVRY, uses=["craft"])], actor="t")
    repo.upsert_premises_by_ref(
        [make_premises(IVRY, external_ref="V-1", surface_m2=1500.0)], actor="t"
    )

    changes = repo.changes_since(index.version)
    assert changes.since == index.version
    assert changes.version == repo.catalogue_version()
    assert [p.id for p in changes.upserted] == [moved.id, let.id, added.id]
    assert changes.removed == [gone.id]
    assert kept.id not in {p.id for p in changes.upserted}

    apply_changes(index, changes)
    rebuilt = build_index(repo, territory)
    assert index.version == rebuilt.version
    updated, fresh = _records(index), _records(rebuilt)
    assert sorted(updated) == sorted(fresh) == sorted([kept.id, moved.id, let.id, added.id])
    for listing_id, record in fresh.items():
        assert _same(updated[listing_id], record), listing_id
    need = NeedIn.model_validate(
        {"company_name": "Test", "surface_min_m2": 200, "surface_max_m2": 2000},
    )
    ranked = [(r.listing_id, r.score) for r in match(index, need, k=10).results]
    assert ranked == [(r.listing_id, r.score) for r in match(rebuilt, need, k=10).results]

    # Nothing changed since: nothing to apply; applying again changes nothing either.
    assert repo.changes_since(index.version).upserted == []
    refresh_index(index, repo)
    assert _records(index).keys() == fresh.keys()


def test_changes_since_a_version_ahead_is_refused(repo: Repository) -> None:
    with pytest.raises(ValueError, match="version: 5 is ahead of the catalogue"):
        repo.changes_since(5)


def test_columnar_read_gives_the_index_the_same_columns_as_the_frame(repo: Repository) -> None:
    repo.add_many_premises(
        [
            full_premises(),
            make_premises(RUNGIS, uses=[], icpe_allowed=None, loading_docks=None),
            make_premises(
                VITRY,
                kind="land",
                tenure="sale",
                rent_eur_m2_year=None,
                sale_price_eur=2e6,
                icpe_allowed=True,
                available_from="2027-01-31",
            ),
            make_premises(ORLY, status="let", divisible=True, min_lot_m2=120.0),
        ],
        actor="t",
    )
    with repo.connect() as conn:
        columns = catalogue.premises_columns(conn)
    ids = pd.Index(columns.pop("id"), name="id")
    lean = catalogue_columns(pd.DataFrame(columns, index=ids))
    full = catalogue_columns(repo.premises_frame())
    assert lean.keys() == full.keys()
    for name, expected in full.items():
        got = lean[name]
        assert got.dtype == expected.dtype, name
        if expected.dtype.kind == "f":
            np.testing.assert_array_equal(got, expected, err_msg=name)
        else:
            assert got.tolist() == expected.tolist(), name


def test_columnar_read_takes_a_query_and_refuses_unknown_columns(repo: Repository) -> None:
    repo.add_many_premises(
        [make_premises(surface_m2=100.0), make_premises(VITRY, surface_m2=900.0)], actor="t"
    )
    query = PremisesQuery(min_surface_m2=500, limit=None)
    with repo.connect() as conn:
        columns = catalogue.premises_columns(conn, ["surface_m2", "commune_insee"], query)
        assert columns["surface_m2"].tolist() == [900.0]
        assert columns["commune_insee"].tolist() == [VITRY[2]]
        # Every filter is rendered into the statement: bbox (PostGIS index), use, text.
        around_vitry = (VITRY[0] - 0.01, VITRY[1] - 0.01, VITRY[0] + 0.01, VITRY[1] + 0.01)
        query = PremisesQuery(bbox=around_vitry, use="production", commune=VITRY[2], limit=None)
        columns = catalogue.premises_columns(conn, ["kind", "uses"], query)
        assert len(columns["id"]) == 1
        assert columns["kind"].tolist() == ["workshop"]
        assert columns["uses"].tolist() == ["production"]
        assert (
            len(
                catalogue.premises_columns(
                    conn, ["kind"], PremisesQuery.parse(**{**query.model_dump(), "use": "craft"})
                )["id"]
            )
            == 0
        )
        with pytest.raises(ValueError, match=r"names: unknown column\(s\) \['colour'\]"):
            catalogue.premises_columns(conn, ["colour"])
