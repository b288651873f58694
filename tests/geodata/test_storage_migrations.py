"""Migrations convert stored data: run from an older revision on a database with listings."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from geodata.schemas import Use
from geodata.storage import Repository, StorageError, dispose_engine, schema
from geodata.storage._tables import USE_BITS
from tests.conftest import BACKENDS

ROOT = Path(__file__).resolve().parents[2]

# Uses as the 0001 schema stored them (comma-joined text), and what each listing allows.
OLD_USES = {
    "Entrepôt": ("logistics", ["logistics"]),
    "Atelier mixte": ("production,logistics,repair", ["production", "logistics", "repair"]),
    # Written by hand or by another tool, with a space after the comma: the old filter
    # ',' || uses || ',' LIKE '%,logistics,%' did not find this listing for logistics.
    "Saisi à la main": ("production, logistics", ["production", "logistics"]),
    "Labo": ("lab_rd", ["lab_rd"]),
    "Terrain nu": ("", []),
}


@pytest.fixture(params=BACKENDS)
def empty_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """URL of an empty database (no table), once per backend."""
    if request.param == "sqlite":
        url: str = request.getfixturevalue("sqlite_url")
        yield url
        return
    with request.getfixturevalue("pg_scratch")() as url:
        yield url


def _insert_old_listing(conn: sa.Connection, title: str, uses: str) -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    conn.execute(
        sa.text(
            "INSERT INTO premises (title, kind, uses, surface_m2, divisible, tenure, status, "
            "lon, lat, commune_insee, photos, created_at, updated_at, version) VALUES "
            "(:title, 'workshop', :uses, 500, false, 'rent', 'available', 2.36, 48.76, "
            "'94065', '[]', :now, :now, 1)"
        ),
        {"title": title, "uses": uses, "now": now},
    )


def _old_like(conn: sa.Connection, use: str) -> list[str]:
    stmt = sa.text(
        "SELECT title FROM premises WHERE (',' || uses || ',') LIKE :pattern ORDER BY id"
    )
    return list(conn.execute(stmt, {"pattern": f"%,{use},%"}).scalars())


def test_every_use_has_its_own_bit() -> None:
    assert set(USE_BITS) == {u.value for u in Use}
    bits = list(USE_BITS.values())
    assert len(set(bits)) == len(bits)
    assert all(b > 0 and b & (b - 1) == 0 for b in bits)


def test_uses_migration_converts_stored_listings(empty_url: str) -> None:
    repo = Repository(empty_url)
    try:
        with repo.begin() as conn:
            schema.migrate(conn, "0001")
            for title, (text, _) in OLD_USES.items():
                _insert_old_listing(conn, title, text)
        with repo.connect() as conn:
            assert "Saisi à la main" not in _old_like(conn, "logistics")  # the old defect

        repo.migrate()

        stored = {p.title: p for p in repo.list_premises(limit=None).items}
        assert {t: [str(u) for u in p.uses] for t, p in stored.items()} == {
            t: uses for t, (_, uses) in OLD_USES.items()
        }
        found = [p.title for p in repo.list_premises(use="logistics").items]
        assert found == ["Entrepôt", "Atelier mixte", "Saisi à la main"]
        assert repo.count_premises(use="repair") == 1
        assert repo.count_premises(use="craft") == 0
        frame = repo.premises_frame()
        assert frame["uses"].tolist() == [
            "logistics",
            "production,logistics,repair",
            "production,logistics",
            "lab_rd",
            "",
        ]

        # Down again: back to comma-joined text, which the old filter reads.
        with repo.begin() as conn:
            schema.downgrade(conn, "0001")
        with repo.connect() as conn:
            assert _old_like(conn, "logistics") == ["Entrepôt", "Atelier mixte", "Saisi à la main"]
            texts = conn.execute(sa.text("SELECT uses FROM premises ORDER BY id")).scalars()
            assert list(texts)[2] == "production,logistics"
    finally:
        dispose_engine(empty_url)


def test_uses_migration_names_an_unknown_use(empty_url: str) -> None:
    repo = Repository(empty_url)
    try:
        with repo.begin() as conn:
            schema.migrate(conn, "0001")
            _insert_old_listing(conn, "Inconnu", "logistics,dancing")
        with pytest.raises(
            StorageError, match=r"uses: unknown value 'dancing' in listing\(s\) \[1\]"
        ):
            repo.migrate()
        with repo.connect() as conn:  # nothing changed: the migration is one transaction
            version: Any = conn.execute(sa.text("SELECT version_num FROM alembic_version"))
            assert version.scalar() == "0001"
    finally:
        dispose_engine(empty_url)


def test_audit_migration_gives_old_rows_the_current_catalogue_version(empty_url: str) -> None:
    repo = Repository(empty_url)
    try:
        with repo.begin() as conn:  # a listing created then let, as revision 0002 stored it
            schema.migrate(conn, "0001")
            _insert_old_listing(conn, "Entrepôt", "logistics")
            schema.migrate(conn, "0002")
            conn.execute(sa.text("UPDATE premises SET status = 'let', version = 2"))
            at = datetime(2026, 5, 1, tzinfo=UTC)
            for action, version in (("create", 1), ("status", 2)):
                conn.execute(
                    sa.text(
                        "INSERT INTO audit_log (entity, entity_id, action, version, actor, at, "
                        "changes) VALUES ('premises', 1, :action, :version, 't', :at, '{}')"
                    ),
                    {"action": action, "version": version, "at": at},
                )
            conn.execute(sa.text("UPDATE catalogue_state SET version = 7"))
        repo.migrate()
        listing = repo.get_premises(1)  # read at head: later revisions add columns

        trail = repo.audit_trail("premises", listing.id)
        assert [e.catalogue_version for e in trail] == [7, 7]
        assert [p.id for p in repo.changes_since(6).upserted] == [listing.id]
        assert repo.changes_since(7).upserted == []
        repo.set_status(listing.id, "available", expected_version=2, actor="t")
        assert repo.audit_trail("premises", listing.id)[-1].catalogue_version == 8
        assert [p.id for p in repo.changes_since(7).upserted] == [listing.id]
    finally:
        dispose_engine(empty_url)


def test_head_revision_read_from_the_files_is_alembics() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(schema.MIGRATIONS_DIR))
    assert schema.head_revision() == ScriptDirectory.from_config(config).get_current_head()


def test_a_current_database_is_checked_without_alembic(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'catalogue.db'}"
    Repository(url).migrate()
    code = (
        "import sys\n"
        "from geodata.storage import Repository\n"
        f"repo = Repository({url!r})\n"
        "repo.migrate()\n"
        "print(sorted(m for m in ('alembic', 'geopandas') if m in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    assert done.stdout.strip() == "[]"


def test_an_old_database_is_still_migrated(sqlite_url: str) -> None:
    repo = Repository(sqlite_url)
    with repo.begin() as conn:
        schema.migrate(conn, "0001")
        assert not schema.is_current(conn)
    repo.migrate()
    with repo.connect() as conn:
        assert schema.current_revision(conn) == schema.head_revision()
        assert schema.is_current(conn)
