"""Storage functions over a caller's connection: several writes in one transaction."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from sqlalchemy.engine import Connection

from geodata.schemas import NeedIn
from geodata.storage import (
    DuplicateRefError,
    PremisesQuery,
    Repository,
    catalogue,
    needs,
    premises,
)
from tests.geodata.test_storage import VITRY, make_premises

STORAGE = Path(__file__).resolve().parents[2] / "geodata" / "storage"


def make_need() -> NeedIn:
    return NeedIn.model_validate(
        {"company_name": "Atelier Martin", "surface_min_m2": 200, "surface_max_m2": 600},
    )


def test_writes_in_one_begin_commit_together(repo: Repository) -> None:
    with repo.begin() as conn:
        [listing] = premises.add_many_premises(conn, [make_premises()], actor="alice")
        [need] = needs.add_many_needs(conn, [make_need()], actor="alice")
        moved = premises.set_status(conn, listing.id, "under_offer", expected_version=1, actor="a")
    assert repo.counts() == {"premises": 1, "needs": 1}
    assert repo.get_premises(listing.id) == moved
    assert repo.get_need(need.id) == need
    assert [e.action for e in repo.audit_trail("premises", listing.id)] == ["create", "status"]


def test_writes_in_one_begin_roll_back_together(repo: Repository) -> None:
    repo.add_premises(make_premises(external_ref="TAKEN"), actor="t")
    version = repo.catalogue_version()
    with pytest.raises(DuplicateRefError, match=r"'TAKEN'.*already used"), repo.begin() as conn:
        [first] = premises.add_many_premises(conn, [make_premises(VITRY)], actor="alice")
        needs.add_many_needs(conn, [make_need()], actor="alice")
        premises.add_many_premises(conn, [make_premises(external_ref="TAKEN")], actor="alice")
    assert repo.counts() == {"premises": 1, "needs": 0}
    assert repo.audit_trail("premises", first.id) == []
    assert repo.catalogue_version() == version


def test_an_error_of_the_caller_rolls_back_the_writes(repo: Repository) -> None:
    with pytest.raises(RuntimeError, match="outbox"), repo.begin() as conn:
        premises.add_many_premises(conn, [make_premises()], actor="alice")
        raise RuntimeError("the outbox refused the alert")
    assert repo.counts()["premises"] == 0


def test_function_modules_never_import_the_facade() -> None:
    for path in STORAGE.glob("*.py"):
        if path.name in ("__init__.py", "repository.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            node.module
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module
        } | {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert "geodata.storage.repository" not in imported, path.name
        names = {
            alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.module == "geodata.storage"
            for alias in node.names
        }
        assert "repository" not in names and "Repository" not in names, path.name


def test_repository_is_a_thin_facade() -> None:
    lines = (STORAGE / "repository.py").read_text(encoding="utf-8").count("\n")
    assert lines < 300


def test_audit_rows_record_the_catalogue_version(repo: Repository) -> None:
    first = repo.add_premises(make_premises(), actor="t")
    repo.set_status(first.id, "let", expected_version=1, actor="t")
    trail = repo.audit_trail("premises", first.id)
    assert [e.catalogue_version for e in trail] == [1, 2]
    need = repo.add_need(make_need(), actor="t")
    assert repo.audit_trail("need", need.id)[0].catalogue_version == 2


# -- one query model ------------------------------------------------------------------------


def test_one_query_serves_list_count_and_frame(repo: Repository) -> None:
    stored = repo.add_many_premises(
        [
            make_premises(surface_m2=300.0, uses=["logistics"]),
            make_premises(VITRY, surface_m2=900.0, uses=["logistics", "repair"]),
            make_premises(VITRY, surface_m2=1500.0, uses=["production"]),
        ],
        actor="t",
    )
    query = PremisesQuery(use="logistics", min_surface_m2=200, order_by="-surface_m2", limit=1)
    page = repo.list_premises(query)
    assert [p.id for p in page.items] == [stored[1].id]
    assert (page.total, page.limit) == (2, 1)
    assert repo.count_premises(query) == 2
    frame = repo.premises_frame(query.model_copy(update={"limit": None}))
    assert frame.index.tolist() == [stored[1].id, stored[0].id]
    # Fields given as keywords override those of the query.
    assert repo.count_premises(query, commune="94081") == 1
    with repo.connect() as conn:
        assert premises.count_premises(conn, query) == 2
        assert premises.list_premises(conn, query).items == page.items


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"commune": "Vitry"}, r"commune: 'Vitry' is not an INSEE code"),
        ({"bbox": "1,2,3"}, r"bbox: expected four finite numbers .* got '1,2,3'"),
        ({"bbox": "2.5,48.7,nan,48.8"}, r"bbox: expected four finite numbers"),
        ({"min_surface_m2": 500, "max_surface_m2": 100}, r"min_surface_m2: 500.0 is larger"),
        ({"offset": -3}, r"limit, offset: must not be negative"),
        ({"colour": "red"}, r"colour: Extra inputs are not permitted"),
    ],
)
def test_query_errors_name_the_field(values: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        PremisesQuery.parse(**values)


def test_query_normalises_commune_and_bbox() -> None:
    query = PremisesQuery(commune=" 2a004 ", bbox=[2, 48, 3, 49])
    assert (query.commune, query.bbox) == ("2A004", (2.0, 48.0, 3.0, 49.0))
    assert PremisesQuery(bbox="").bbox is None


def test_a_read_is_labelled_with_the_version_its_data_are_at(repo: Repository) -> None:
    # On PostgreSQL each statement sees what committed before it: a write committed between
    # reading the version and reading the data must not leave newer data under an older label
    # (a match index labelled so would answer a version it does not hold). SQLite reads in one
    # snapshot, so there the first read is already consistent, at the older version.
    repo.add_premises(make_premises(), actor="t")
    before = repo.catalogue_version()
    reads: list[int] = []

    def read(conn: Connection) -> list[int]:
        if not reads:  # another transaction commits while the first read runs
            repo.add_premises(make_premises(VITRY), actor="other")
        ids = [p.id for p in premises.list_premises(conn, PremisesQuery(limit=None)).items]
        reads.append(len(ids))
        return ids

    with repo.connect() as conn:
        version, ids = catalogue.at_one_version(conn, lambda: read(conn))
    after = repo.catalogue_version()
    listings_at = {before: 1, after: 2}
    assert len(ids) == listings_at[version]
    if repo.engine.dialect.name == "postgresql":
        assert reads == [2, 2]  # read again, since the version moved during the first read
        assert version == after


def test_needs_have_an_owner_and_an_alert_threshold(repo: Repository) -> None:
    def need(name: str, owner: str | None) -> NeedIn:
        return NeedIn(
            company_name=name, surface_min_m2=100, surface_max_m2=200, owner_account=owner
        )

    repo.add_many_needs([need("A", "acme"), need("B", "other"), need("C", None)], actor="t")
    with repo.connect() as conn:
        mine = needs.list_needs(conn, owner_account="acme")
    assert [n.company_name for n in mine.items] == ["A"]
    assert mine.total == 1
    assert mine.items[0].owner_account == "acme"
    assert mine.items[0].alert_threshold == 70.0
    with pytest.raises(ValueError, match="alert_threshold"):
        NeedIn(company_name="A", surface_min_m2=1, surface_max_m2=2, alert_threshold=101)
