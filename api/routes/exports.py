"""Export the catalogue over HTTP: CSV, French CSV, XLSX, GeoJSON, GeoPackage or CNIG tables.

``GET /exports/premises?format=…`` takes every filter of ``GET /premises`` (the same
dependency, :func:`api.deps.get_premises_filters`) and the same visibility rules
(:func:`api.freshness.public_query`): anonymous and company readers get the public search in
the public view (no owner account, the contact only when published); a developer also gets
all of its own listings, in full; the staff every listing, in full.

The listings are read in pages of :data:`BATCH` inside one read transaction (one consistent
snapshot), and each page is turned into cells by :func:`geodata.io.export_table`, the same
conversion and CSV-injection neutralisation as ``implanter export``. CSV and GeoJSON are
streamed as the pages are read, so a 100,000-listing export never holds the document in
memory; XLSX (openpyxl's write-only mode) and GeoPackage (appended page by page) are written
to a temporary file first, then streamed from it; CNIG is a zip of its two tables.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Query
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.background import BackgroundTask

import shapely

from geodata.io import export_cnig
from geodata.io.exporter import export_table
from geodata.schemas import CONTACT_FIELDS, OWNER_FIELDS
from geodata.storage import PremisesQuery, Repository
from geodata.storage import catalogue as store
from geodata.storage import premises as premises_store
from geodata.storage.accounts import Account

from ..auth import OPTIONAL_AUTH, OptionalAccount
from ..deps import NowDep, PremisesFiltersDep, RepoDep, SettingsDep, TerritoryDep
from ..freshness import public_query

__all__ = ["BATCH", "MEDIA_TYPES", "router"]

router = APIRouter(prefix="/exports", tags=["exports"])

#: Listings read and converted at a time.
BATCH = 2000

ExportFormat = Literal["csv", "csv-fr", "xlsx", "geojson", "gpkg", "cnig"]

#: The media type of each format.
MEDIA_TYPES: dict[str, str] = {
    "csv": "text/csv; charset=utf-8",
    "csv-fr": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "geojson": "application/geo+json",
    "gpkg": "application/geopackage+sqlite3",
    "cnig": "application/zip",
}
_SUFFIX = {"csv-fr": "csv", "cnig": "zip"}
#: Layer names of the GeoPackage, as ``implanter export`` writes them.
_PREMISES_LAYER = "premises"
_FOOTPRINTS_LAYER = "footprints"

_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The file, as an attachment (Content-Disposition); X-Total-Count "
        "gives the number of listings selected (the CNIG tables leave out the withdrawn "
        "ones and those outside the territory).",
        "content": {media: {} for media in dict.fromkeys(MEDIA_TYPES.values())},
    }
}


def _reader_view(account: Account | None) -> tuple[str | None, bool]:
    """``(owner, all_full)``: whose listings are shown in full, and whether every one is."""
    if account is None:
        return None, False
    if account.role == "staff":
        return None, True
    return (account.name if account.role == "developer" else None), False


def _in_view(frame: pd.DataFrame, owner: str | None, all_full: bool) -> pd.DataFrame:
    """The rows of a page as the reader may see them: the public view of every listing
    but the reader's own (developer) or all (staff): no owner account, and the contact
    only when the owner published it."""
    if all_full or frame.empty:
        return frame
    own = np.zeros(len(frame), dtype=bool)
    if owner is not None:
        own = frame["owner_account"].eq(owner).fillna(False).to_numpy(dtype=bool)
    published = frame["contact_public"].fillna(False).to_numpy(dtype=bool)
    frame = frame.copy()
    for name in OWNER_FIELDS:
        frame.loc[~own, name] = None
    for name in CONTACT_FIELDS:
        frame.loc[~own & ~published, name] = None
    return frame


def _pages(repo: Repository, query: PremisesQuery) -> Iterator[pd.DataFrame]:
    """The listings of ``query`` by id, :data:`BATCH` at a time, from one read transaction;
    always at least one (maybe empty) page, so that every file gets its header."""
    with repo.connect() as conn:
        if conn.dialect.name == "postgresql":
            # One snapshot for every page (SQLite's read transaction already is one).
            conn.execution_options(isolation_level="REPEATABLE READ")
        offset = 0
        while True:
            page = query.model_copy(update={"limit": BATCH, "offset": offset, "order_by": "id"})
            frame = store.premises_frame(conn, page)
            yield frame
            if len(frame) < BATCH:
                return
            offset += BATCH


def _csv_chunks(pages: Iterator[pd.DataFrame], view: Any, *, french: bool) -> Iterator[bytes]:
    sep = ";" if french else ","
    first = True
    for frame in pages:
        table, _, _ = export_table(view(frame), "csv", french=french, exclude=view.exclude)
        out = io.StringIO()
        plain = csv.writer(out, delimiter=sep, lineterminator="\n")
        if first:
            if french:
                out.write("\ufeff")  # Excel then reads the accents of a ';' file right
            plain.writerow(list(table.columns))
            first = False
        # As implanter export: a row with a carriage return in a cell is quoted whole.
        quoted = csv.writer(out, delimiter=sep, lineterminator="\n", quoting=csv.QUOTE_ALL)
        for record in table.itertuples(index=False, name=None):
            if any("\r" in cell for cell in record if isinstance(cell, str)):
                quoted.writerow(record)
            else:
                plain.writerow(record)
        yield out.getvalue().encode()


def _json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    msg = f"cannot write {type(value).__name__} to GeoJSON"
    raise TypeError(msg)


def _geojson_chunks(pages: Iterator[pd.DataFrame], view: Any) -> Iterator[bytes]:
    yield b'{"type": "FeatureCollection", "features": ['
    sep = ""
    for frame in pages:
        table, lon, lat = export_table(view(frame), "geojson", exclude=view.exclude)
        props = table.astype(object).where(table.notna(), None).to_dict("records")
        features = [
            json.dumps(
                {
                    "type": "Feature",
                    "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
                    "properties": prop,
                },
                ensure_ascii=False,
                default=_json_default,
            )
            for prop, x, y in zip(props, lon, lat, strict=True)
        ]
        if features:
            yield (sep + ", ".join(features)).encode()
            sep = ", "
    yield b"]}"


def _write_xlsx(pages: Iterator[pd.DataFrame], view: Any, path: Path, *, french: bool) -> None:
    """A workbook in openpyxl's write-only mode (rows go to disk as they come); a text cell is
    always a string cell, never a formula, whatever its first character."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell

    book = Workbook(write_only=True)
    sheet = book.create_sheet("annonces" if french else "premises")
    header = True
    for frame in pages:
        table, _, _ = export_table(view(frame), "xlsx", french=french, exclude=view.exclude)
        if header:
            sheet.append(list(table.columns))
            header = False
        for record in table.astype(object).itertuples(index=False, name=None):
            row: list[Any] = []
            for value in record:
                if value is None or value is pd.NA or (isinstance(value, float) and value != value):
                    row.append(None)
                elif isinstance(value, str) and value.startswith("="):
                    cell = WriteOnlyCell(sheet, value=value)
                    cell.data_type = "s"  # openpyxl would store it as a formula
                    row.append(cell)
                else:
                    row.append(value)
            sheet.append(row)
    book.save(path)


def _write_gpkg(pages: Iterator[pd.DataFrame], view: Any, path: Path) -> None:
    """Layer ``premises`` (points) and, when some listings have one, ``footprints``
    (polygons with ``premises_id``), appended page by page."""
    import geopandas as gpd
    import pyogrio

    has_footprints = False
    for i, frame in enumerate(pages):
        table, lon, lat = export_table(view(frame), "gpkg", exclude=view.exclude)
        table = table.reset_index(drop=True)
        points = shapely.points(lon, lat)
        layer = gpd.GeoDataFrame(table, geometry=points, crs="EPSG:4326")
        pyogrio.write_dataframe(layer, path, layer=_PREMISES_LAYER, driver="GPKG", append=i > 0)
        shapes = shapely.from_geojson(table["footprint"].to_numpy(dtype=object))
        has = ~shapely.is_missing(shapes)
        if has.any():
            keys = pd.DataFrame(
                {
                    "premises_id": table["id"].to_numpy()[has],
                    "external_ref": table["external_ref"].to_numpy(dtype=object)[has],
                    "title": table["title"].to_numpy(dtype=object)[has],
                }
            )
            outlines = gpd.GeoDataFrame(keys, geometry=shapes[has], crs="EPSG:4326")
            pyogrio.write_dataframe(
                outlines, path, layer=_FOOTPRINTS_LAYER, driver="GPKG", append=has_footprints
            )
            has_footprints = True


class _View:
    """A page filter to the reader's view, and the columns a public export leaves out."""

    def __init__(self, account: Account | None) -> None:
        self.owner, self.all_full = _reader_view(account)
        # A public export has no owner column at all; a developer's has its own listings'.
        public_only = not self.all_full and self.owner is None
        self.exclude: tuple[str, ...] = OWNER_FIELDS if public_only else ()

    def __call__(self, frame: pd.DataFrame) -> pd.DataFrame:
        return _in_view(frame, self.owner, self.all_full)


def _file_response(
    folder: Path, path: Path, media_type: str, filename: str, headers: dict[str, str]
) -> FileResponse:
    """Stream a built file, then delete its temporary folder."""
    return FileResponse(
        path,
        media_type=media_type,
        filename=filename,
        headers=headers,
        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True),
    )


@router.get("/premises", response_class=Response, responses=_RESPONSES, openapi_extra=OPTIONAL_AUTH)
def export_premises(
    repo: RepoDep,
    settings: SettingsDep,
    territory: TerritoryDep,
    filters: PremisesFiltersDep,
    account: OptionalAccount,
    now: NowDep,
    fmt: Annotated[
        ExportFormat,
        Query(
            alias="format",
            description="csv (UTF-8, ','), csv-fr (French headers and values, ';', decimal "
            "commas, BOM), xlsx, geojson (WGS84 points), gpkg (layers premises and footprints) "
            "or cnig (a zip of the CNIG SITE-ECO and TERRAIN-ECO tables)",
        ),
    ] = "csv",
) -> Response:
    """Download the listings of ``GET /premises`` (the same filters and the same view: public
    for anonymous and company readers, full for the staff and for a developer's own listings)
    as a file. Listings unconfirmed for more than the hide threshold are left out of the
    public view, as in the search.

    CSV and XLSX cells that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@``,
    tab, carriage return) are neutralised; the files re-import with ``implanter import`` or
    ``POST /imports``.
    """
    query = public_query(filters, account, now, settings.freshness)
    with repo.connect() as conn:
        total = premises_store.count_premises(conn, query)
    base = "cnig-sites-economiques" if fmt == "cnig" else "implanter-premises"
    filename = f"{base}-{now:%Y%m%d}.{_SUFFIX.get(fmt, fmt)}"
    headers = {"X-Total-Count": str(total)}
    media_type = MEDIA_TYPES[fmt]
    view = _View(account)
    if fmt in ("csv", "csv-fr", "geojson"):
        pages = _pages(repo, query)
        chunks = (
            _geojson_chunks(pages, view)
            if fmt == "geojson"
            else _csv_chunks(pages, view, french=fmt == "csv-fr")
        )
        headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return StreamingResponse(chunks, media_type=media_type, headers=headers)
    folder = Path(tempfile.mkdtemp(prefix="implanter-export-"))
    try:
        path = folder / filename
        if fmt == "xlsx":
            _write_xlsx(_pages(repo, query), view, path, french=False)
        elif fmt == "gpkg":
            _write_gpkg(_pages(repo, query), view, path)
        else:
            _write_cnig(repo, query, view, territory, folder, path, now)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return _file_response(folder, path, media_type, filename, headers)


def _write_cnig(
    repo: Repository,
    query: PremisesQuery,
    view: _View,
    territory: Any,
    folder: Path,
    path: Path,
    now: datetime,
) -> None:
    """The CNIG tables of the listings in view, zipped (sites are aggregates of all their
    units, so the listings are read whole here)."""
    frames = [view(frame) for frame in _pages(repo, query)]
    listings = pd.concat(frames) if len(frames) > 1 else frames[0]
    tables = folder / "cnig"
    result = export_cnig(listings, territory, tables, actu_date=now.date())
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.write(result.site_csv, "site-eco.csv")
        archive.write(result.terrain_csv, "terrain-eco.csv")
