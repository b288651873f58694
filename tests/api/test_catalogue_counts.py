"""``/health`` reads the catalogue size from the catalogue state, kept by every write."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from api.main import create_app
from api.settings import Settings
from geodata.io.exporter import export_listings
from geodata.io.importer import import_listings
from geodata.storage import Repository, StorageError, catalogue, dispose_engine, schema
from geodata.territory import load_territory
from tests.geodata.test_storage import IVRY, ORLY, VITRY, make_need, make_premises
from tests.geodata.test_storage_migrations import _insert_old_listing, empty_url  # noqa: F401


def _stored(repo: Repository) -> dict[str, int]:
    with repo.connect() as conn:
        return catalogue.counts(conn)


def _counted(repo: Repository) -> dict[str, int]:
    with repo.connect() as conn:
        return catalogue.recount(conn)


def test_counts_follow_adds_deletes_imports_and_rollbacks(repo: Repository, tmp_path: Path) -> None:
    assert _stored(repo) == {"premises": 0, "needs": 0}
    first, second = repo.add_many_premises(
        [make_premises(), make_premises(VITRY, external_ref="V-1")], actor="t"
    )
    repo.add_many_needs([make_need(), make_need(company_name="B")], actor="t")
    assert _stored(repo) == _counted(repo) == {"premises": 2, "needs": 2}

    repo.delete_premises(first.id, expected_version=1, actor="t")
    assert _stored(repo) == _counted(repo) == {"premises": 1, "needs": 2}

    # A refused delete (stale version) and a refused insert (duplicate ref) change nothing.
    with pytest.raises(StorageError):
        repo.delete_premises(second.id, expected_version=9, actor="t")
    with pytest.raises(StorageError):
        repo.add_many_premises([make_premises(IVRY, external_ref="V-1")], actor="t")
    assert _stored(repo) == _counted(repo) == {"premises": 1, "needs": 2}

    # An import through the file importer: two created, one (V-1) updated in place.
    source = Repository(f"sqlite:///{tmp_path / 'source.db'}")
    source.migrate()
    source.add_many_premises(
        [
            make_premises(VITRY, external_ref="V-1", surface_m2=999.0),
            make_premises(ORLY, external_ref="O-1"),
            make_premises(IVRY, external_ref="I-1"),
        ],
        actor="t",
    )
    export_listings(source, tmp_path / "listings.csv")
    source.dispose()
    territory = load_territory("gosb")
    for _ in range(2):  # the second run only updates
        report = import_listings(repo, tmp_path / "listings.csv", actor="t", territory=territory)
        assert not report.errors
        assert _stored(repo) == _counted(repo) == {"premises": 3, "needs": 2}

    # A transaction rolled back takes its counts with it.
    with pytest.raises(RuntimeError), repo.begin() as conn:
        from geodata.storage import premises

        premises.add_many_premises(conn, [make_premises(ORLY)], actor="t")
        assert catalogue.counts(conn)["premises"] == 4
        raise RuntimeError
    assert _stored(repo) == _counted(repo) == {"premises": 3, "needs": 2}


def test_health_reports_the_stored_counts_without_counting(
    repo: Repository, tmp_path: Path
) -> None:
    repo.add_many_premises([make_premises(), make_premises(VITRY)], actor="t")
    repo.add_need(make_need(), actor="t")
    settings = Settings()
    settings.database.url = str(repo.engine.url.render_as_string(hide_password=False))
    settings.api.demo_on_first_run = False
    with TestClient(create_app(settings)) as client:
        health = client.get("/health").json()
        assert (health["premises"], health["needs"]) == (2, 1)
        assert health["catalogue_version"] == repo.catalogue_version()
        # The counters are what /health reports: no COUNT(*) behind it.
        with repo.begin() as conn:
            conn.execute(sa.text("UPDATE catalogue_state SET premises_count = 41"))
        assert client.get("/health").json()["premises"] == 41


def test_the_migration_fills_the_counts_of_stored_rows(empty_url: str) -> None:  # noqa: F811
    repo = Repository(empty_url)
    try:
        with repo.begin() as conn:
            schema.migrate(conn, "0001")
            _insert_old_listing(conn, "Entrepôt", "logistics")
            _insert_old_listing(conn, "Labo", "lab_rd")
            schema.migrate(conn, "0004")
        repo.migrate()
        assert _stored(repo) == _counted(repo) == {"premises": 2, "needs": 0}
        repo.add_premises(make_premises(), actor="t")
        assert _stored(repo)["premises"] == 3
    finally:
        dispose_engine(empty_url)
