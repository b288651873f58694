"""Initial schema: premises, needs, audit log and catalogue state (+ PostGIS geometry).

Revision ID: 0001
Revises:
Create Date: 2026-05-01
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _ensure_postgis(bind: sa.Connection) -> None:
    """Create the postgis extension if needed, or say exactly what the administrator must do."""
    from geodata.storage.errors import StorageError

    if bind.execute(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")).first():
        return
    database = bind.execute(sa.text("SELECT current_database()")).scalar_one()
    available = bind.execute(
        sa.text("SELECT default_version FROM pg_available_extensions WHERE name = 'postgis'")
    ).first()
    if available is None:
        version = bind.execute(sa.text("SHOW server_version_num")).scalar_one()
        major = int(version) // 10000
        msg = (
            f"PostGIS is not installed on this PostgreSQL {major} server, so database "
            f"{database!r} cannot hold the catalogue: install it on the server (Debian/Ubuntu: "
            f"apt-get install postgresql-{major}-postgis-3; Docker: use a postgis/postgis image), "
            f"then run the migration again (implanter init-db)"
        )
        raise StorageError(msg)
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS postgis"))
    except sa.exc.DBAPIError as exc:
        msg = (
            f"PostGIS is installed on the server but not enabled in database {database!r}, and "
            f"this role may not enable it ({exc.orig}): ask a superuser to run "
            f"'CREATE EXTENSION postgis;' in {database!r}, then run the migration again"
        )
        raise StorageError(msg) from exc


def upgrade() -> None:
    """Create the tables; on PostgreSQL add generated, GiST-indexed geometry columns."""
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        _ensure_postgis(bind)

    op.create_table(
        "premises",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("external_ref", sa.String(120), nullable=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("uses", sa.Text, nullable=False),
        sa.Column("surface_m2", sa.Double, nullable=False),
        sa.Column("activity_m2", sa.Double),
        sa.Column("storage_m2", sa.Double),
        sa.Column("office_m2", sa.Double),
        sa.Column("mezzanine_m2", sa.Double),
        sa.Column("divisible", sa.Boolean, nullable=False),
        sa.Column("min_lot_m2", sa.Double),
        sa.Column("plot_m2", sa.Double),
        sa.Column("ceiling_height_m", sa.Double),
        sa.Column("floor_load_t_m2", sa.Double),
        sa.Column("loading_docks", sa.Integer),
        sa.Column("ground_level_doors", sa.Integer),
        sa.Column("power_kva", sa.Double),
        sa.Column("icpe_allowed", sa.Boolean),
        sa.Column("parking_spaces", sa.Integer),
        sa.Column("tenure", sa.String(10), nullable=False),
        sa.Column("rent_eur_m2_year", sa.Double),
        sa.Column("sale_price_eur", sa.Double),
        sa.Column("charges_eur_m2_year", sa.Double),
        sa.Column("available_from", sa.Date),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("address", sa.String(300)),
        sa.Column("commune_insee", sa.String(5)),
        sa.Column("lon", sa.Double, nullable=False),
        sa.Column("lat", sa.Double, nullable=False),
        sa.Column("footprint", sa.Text),
        sa.Column("zone_id", sa.String(120)),
        sa.Column("lot_ref", sa.String(60)),
        sa.Column("owner_account", sa.String(120)),
        sa.Column("contact_name", sa.String(120)),
        sa.Column("contact_email", sa.String(200)),
        sa.Column("contact_phone", sa.String(40)),
        sa.Column("photos", sa.Text, nullable=False),
        sa.Column("description", sa.Text),
        sa.Column("last_verified_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_premises"),
        sa.UniqueConstraint("external_ref", name="uq_premises_external_ref"),
        sa.CheckConstraint("surface_m2 > 0", name="ck_premises_surface_positive"),
        sa.CheckConstraint("version >= 1", name="ck_premises_version_positive"),
        sa.CheckConstraint(
            "lon BETWEEN -180 AND 180 AND lat BETWEEN -90 AND 90", name="ck_premises_lon_lat"
        ),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_premises_commune_insee", "premises", ["commune_insee"])
    op.create_index("ix_premises_kind", "premises", ["kind"])
    op.create_index("ix_premises_status", "premises", ["status"])
    op.create_index("ix_premises_surface_m2", "premises", ["surface_m2"])
    op.create_index("ix_premises_lon_lat", "premises", ["lon", "lat"])
    if postgres:
        # Generated columns: one write path (lon/lat and the GeoJSON text); the database keeps
        # the geometries in step. All functions used are IMMUTABLE, as PostgreSQL requires.
        op.execute(
            "ALTER TABLE premises ADD COLUMN geom geometry(Point, 4326) "
            "GENERATED ALWAYS AS (ST_SetSRID(ST_MakePoint(lon, lat), 4326)) STORED"
        )
        op.execute(
            "ALTER TABLE premises ADD COLUMN footprint_geom geometry(MultiPolygon, 4326) "
            "GENERATED ALWAYS AS "
            "(ST_Multi(ST_SetSRID(ST_GeomFromGeoJSON(footprint), 4326))) STORED"
        )
        op.create_index("ix_premises_geom", "premises", ["geom"], postgresql_using="gist")
        op.create_index(
            "ix_premises_footprint_geom", "premises", ["footprint_geom"], postgresql_using="gist"
        )

    op.create_table(
        "needs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("company_name", sa.String(200), nullable=False),
        sa.Column("siren", sa.String(9)),
        sa.Column("naf_code", sa.String(10)),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("doc", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_needs"),
        sa.CheckConstraint("version >= 1", name="ck_needs_version_positive"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_needs_active", "needs", ["active"])
    op.create_index("ix_needs_siren", "needs", ["siren"])

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("entity", sa.String(20), nullable=False),
        sa.Column("entity_id", sa.Integer, nullable=False),
        sa.Column("action", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_log_entity_entity_id", "audit_log", ["entity", "entity_id"])

    state = op.create_table(
        "catalogue_state",
        sa.Column("id", sa.Integer, autoincrement=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_catalogue_state"),
        sa.CheckConstraint("id = 1", name="ck_catalogue_state_single_row"),
    )
    op.bulk_insert(state, [{"id": 1, "version": 0, "updated_at": datetime.now(UTC)}])


def downgrade() -> None:
    """Drop every table (the postgis extension stays: other schemas may use it)."""
    op.drop_table("catalogue_state")
    op.drop_table("audit_log")
    op.drop_table("needs")
    op.drop_table("premises")
