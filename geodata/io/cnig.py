"""Export zones and listings as the CNIG "Sites économiques" SITE-ECO and TERRAIN-ECO tables.

The two CSV files follow the Table Schemas of the CNIG standard v1.0.1 (vendored in
``geodata/io/cnig_schemas/``, source ``cnigfr/schema-sites-economiques``, Licence Ouverte
2.0): ``;`` separated, UTF-8, CRLF line ends like the official examples.

Choices made where the catalogue cannot know the answer
--------------------------------------------------------
- Geometries: ``site_geomsurf`` and ``terr_geomsurf`` are GeoJSON in Lambert-93
  (EPSG:2154), as in the official example and the standard's SQL model; ``site_geompoint``
  is ``"lon, lat"`` in WGS84, the only form the Table Schema ``geopoint`` type accepts.
- Surfaces are in hectares (the schema's unit), rounded to the square metre.
- ``pole_id`` is required but the territory defines no pôle: ``"sans objet"`` by default.
- ``site_surf_utile`` defaults to the zone's gross surface (no usable-surface layer).
- ``site_moa_type`` and ``terr_maitrise_fonc`` are ``"inconnu"`` unless the zone layer says.
- Site counts (``site_uf_nbre``...) count the catalogue's listings in the zone only; they
  are left empty for a zone without listings (unknown, not zero).
- A listing without a footprint gets a schematic square ``terr_geomsurf`` centred on its
  point, of area ``plot_m2`` (else ``surface_m2``).
- Withdrawn listings are not exported.

Status mapping (``terr_stade_comm`` / ``terr_etat_occup``)
-----------------------------------------------------------
========== ===================================== ==========================================
status     terr_stade_comm                       terr_etat_occup
========== ===================================== ==========================================
available  en vente                              inoccupé; vacant when free for >= 2 years;
                                                 occupé when ``available_from`` is ahead
under_offer réservé par option de réservation    inoccupé
let        autre (let: no rental value exists)   occupé
sold       vendu, commercialisation achevée      occupé
========== ===================================== ==========================================

"vacant" follows article L318-8-2 of the Code de l'urbanisme (unoccupied for at least two
years); a listing is free since its ``available_from`` date, else since it was created.
``site_taux_vacance`` is the share (%) of the zone's exported units that are vacant.
"""

from __future__ import annotations

import csv
import json
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import shapely

from geodata.io._geo import to_lambert93
from geodata.io.exporter import canonical_frame
from geodata.territory import Territory

__all__ = [
    "CNIG_SCHEMAS",
    "export_cnig",
    "schema_enums",
    "schema_fields",
    "site_eco_frame",
    "terrain_eco_frame",
]

#: The vendored Table Schemas, by resource name.
CNIG_SCHEMAS: dict[str, Path] = {
    "site-eco": Path(__file__).resolve().parent / "cnig_schemas" / "site-eco.schema.json",
    "terrain-eco": Path(__file__).resolve().parent / "cnig_schemas" / "terrain-eco.schema.json",
}

_VACANT_AFTER = timedelta(days=730)
_BUILT_USAGE = "bâti productif"
_STADE_COMM = {
    "available": "en vente",
    "under_offer": "réservé par option de réservation",
    "let": "autre",
    "sold": "vendu, commercialisation achevée",
}


def schema_fields(name: str) -> list[str]:
    """The field names of a vendored CNIG schema (``"site-eco"`` or ``"terrain-eco"``), in order.

    Examples
    --------
    >>> schema_fields("terrain-eco")[:3]
    ['terr_id', 'site_id', 'terr_refcad']
    """
    schema = json.loads(CNIG_SCHEMAS[name].read_text("utf-8"))
    return [f["name"] for f in schema["fields"]]


def schema_enums(name: str) -> dict[str, list[str]]:
    """The controlled vocabulary of each field of a vendored CNIG schema.

    The schemas put most vocabularies in a field-level ``enum`` key, which ``frictionless``
    does not enforce; this reads both that key and ``constraints.enum``.

    Examples
    --------
    >>> "en vente" in schema_enums("terrain-eco")["terr_stade_comm"]
    True
    """
    schema = json.loads(CNIG_SCHEMAS[name].read_text("utf-8"))
    out: dict[str, list[str]] = {}
    for f in schema["fields"]:
        values = f.get("enum") or f.get("constraints", {}).get("enum")
        if values:
            out[f["name"]] = list(values)
    return out


def _in_vocab(values: pd.Series, allowed: list[str], default: str) -> pd.Series:
    """Map values onto a vocabulary, ignoring case; anything else becomes ``default``."""
    lookup = {v.casefold(): v for v in allowed}
    return values.map(lambda v: lookup.get(str(v).casefold(), default) if pd.notna(v) else default)


def _ha(m2: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(m2, dtype=float) / 10_000, 4)


def _geojson_l93(geoms: np.ndarray) -> list[str]:
    """Lambert-93 geometries as compact GeoJSON text, coordinates rounded to the centimetre."""
    rounded = shapely.transform(geoms, lambda xy: np.round(xy, 2))
    return [json.dumps(json.loads(g), separators=(",", ":")) for g in shapely.to_geojson(rounded)]


def _listing_zones(frame: pd.DataFrame, territory: Territory) -> np.ndarray:
    """The site_id of the zone each listing lies in (its point, else its stored zone_id)."""
    lon = frame["lon"].to_numpy(dtype=float)
    lat = frame["lat"].to_numpy(dtype=float)
    zones = np.asarray(territory.zone_at(lon, lat), dtype=object) if len(frame) else np.array([])
    known = set(territory.zones["site_id"].astype(str))
    stored = frame["zone_id"].to_numpy(dtype=object)
    fallback = np.array([z if z in known else None for z in stored], dtype=object)
    return np.where(pd.isna(zones), fallback, zones)


def terrain_eco_frame(
    listings: pd.DataFrame, territory: Territory, *, actu_date: date | None = None
) -> pd.DataFrame:
    """TERRAIN-ECO rows: the listings that lie in one of the territory's zones.

    Parameters
    ----------
    listings
        :func:`geodata.io.canonical_frame` of the catalogue.
    territory
        A :class:`geodata.territory.Territory`.
    actu_date
        The export date (default: today), used for vacancy and missing dates.

    Returns
    -------
    pandas.DataFrame
        The columns of the TERRAIN-ECO schema, in order, plus ``_listing_id``,
        ``_status`` and ``_built`` (dropped before writing).
    """
    today = actu_date or date.today()
    frame = listings[listings["status"] != "withdrawn"].copy()
    frame["_site_id"] = _listing_zones(frame, territory)
    frame = frame[frame["_site_id"].notna()]
    columns = schema_fields("terrain-eco")
    if frame.empty:
        return pd.DataFrame(columns=[*columns, "_listing_id", "_status", "_built"])
    ids = frame["id"].to_numpy(dtype=int)
    insee = frame["commune_insee"].fillna(frame["_site_id"].str[:5]).astype(str).to_numpy()
    surface = frame["surface_m2"].to_numpy(dtype=float)
    plot = pd.to_numeric(frame["plot_m2"], errors="coerce").to_numpy(dtype=float)
    lon = frame["lon"].to_numpy(dtype=float)
    lat = frame["lat"].to_numpy(dtype=float)
    x, y = to_lambert93(lon, lat)

    footprints = shapely.from_geojson(
        np.array([None if fp is None else json.dumps(fp) for fp in frame["footprint"]], object)
    )
    has_fp = ~shapely.is_missing(footprints)
    fp_l93 = np.full(len(frame), None, dtype=object)
    if has_fp.any():
        fp_l93[has_fp] = shapely.transform(
            footprints[has_fp], lambda xy: np.column_stack(to_lambert93(xy[:, 0], xy[:, 1]))
        )
    gross_m2 = np.where(np.isfinite(plot), plot, np.where(has_fp, shapely.area(fp_l93), surface))
    half = np.sqrt(gross_m2) / 2
    squares = shapely.box(x - half, y - half, x + half, y + half)
    geoms = np.where(has_fp, fp_l93, squares)

    status = frame["status"].astype(str).to_numpy()
    available_from = frame["available_from"].to_numpy(dtype=object)
    created = np.array(
        [today if v is None else v.date() for v in frame.get("created_at", [None] * len(frame))],
        dtype=object,
    )
    updated = np.array(
        [today if v is None else v.date() for v in frame.get("updated_at", [None] * len(frame))],
        dtype=object,
    )
    free_since = np.array(
        [c if a is None else a for a, c in zip(available_from, created, strict=True)],
        dtype=object,
    )
    ahead = np.array([s > today for s in free_since], dtype=bool)
    long_free = np.array([today - s >= _VACANT_AFTER for s in free_since], dtype=bool)
    etat = np.select(
        [
            np.isin(status, ("let", "sold")),
            (status == "available") & ahead,
            (status == "available") & long_free,
        ],
        ["occupé", "occupé", "vacant"],
        default="inoccupé",
    )
    built = frame["kind"].to_numpy(dtype=object) != "land"
    sold = status == "sold"
    price = pd.to_numeric(frame["sale_price_eur"], errors="coerce").to_numpy(dtype=float)

    out = pd.DataFrame(index=frame.index, columns=columns, dtype=object)
    out["terr_id"] = [f"{c}_TERRAIN-ECO_{i:05d}" for c, i in zip(insee, ids, strict=True)]
    out["site_id"] = frame["_site_id"].to_numpy()
    out["terr_surf_brute"] = _ha(gross_m2)
    out["terr_utile"] = "oui"
    out["terr_identif_date"] = [d.isoformat() for d in created]
    out["terr_actu_date"] = [d.isoformat() for d in updated]
    out["terr_maitrise_fonc"] = "inconnu"
    out["terr_stade_amngt"] = np.where(built, "viabilisé et aménagé", "inconnu")
    out["terr_stade_comm"] = [_STADE_COMM.get(s, "inconnu") for s in status]
    out["terr_etat_occup"] = etat
    out["terr_usage"] = np.where(built, _BUILT_USAGE, "inconnu")
    out["terr_geomsurf"] = _geojson_l93(geoms)
    out["terr_vente_montant"] = np.where(sold & np.isfinite(price), price, np.nan)
    out["terr_m2_prix"] = np.where(sold & np.isfinite(price), np.round(price / surface, 2), np.nan)
    out["_listing_id"] = ids
    out["_status"] = status
    out["_built"] = built
    return out.reset_index(drop=True)


def site_eco_frame(
    terrain: pd.DataFrame,
    territory: Territory,
    *,
    epci_name: str,
    epci_siren: str,
    actu_date: date | None = None,
    pole_id: str = "sans objet",
) -> pd.DataFrame:
    """SITE-ECO rows: one per zone of the territory, with the counts of its listings.

    Parameters
    ----------
    terrain
        :func:`terrain_eco_frame` of the same catalogue.
    territory
        A :class:`geodata.territory.Territory` (its ``zones`` layer).
    actu_date
        The export date (default: today).
    epci_name, epci_siren
        The competent EPCI (its name and SIREN).
    pole_id
        The pôle économique the zones belong to (the schema requires one).

    Returns
    -------
    pandas.DataFrame
        The columns of the SITE-ECO schema, in order.
    """
    today = actu_date or date.today()
    zones = territory.zones.reset_index(drop=True)
    enums = schema_enums("site-eco")
    columns = schema_fields("site-eco")
    zones_l93 = zones.to_crs("EPSG:2154")
    area_ha = _ha(zones_l93.geometry.area.to_numpy())
    multi = shapely.multipolygons(
        shapely.get_parts(zones_l93.geometry.array), indices=_part_owner(zones_l93.geometry.array)
    )
    reps = shapely.point_on_surface(np.asarray(zones.geometry.array, dtype=object))

    by_site = terrain.groupby("site_id")
    n_units = by_site.size()
    n_vacant = by_site["terr_etat_occup"].apply(lambda s: int((s == "vacant").sum()))
    n_built = by_site["_built"].sum() if len(terrain) else pd.Series(dtype=float)
    m2 = terrain["terr_surf_brute"].astype(float)
    avail_ha = m2.where(terrain["_status"] == "available", 0.0).groupby(terrain["site_id"]).sum()
    offer_ha = m2.where(terrain["_status"] == "under_offer", 0.0).groupby(terrain["site_id"]).sum()
    n_avail = (terrain["_status"] == "available").groupby(terrain["site_id"]).sum()

    site_ids = zones["site_id"].astype(str)
    units = site_ids.map(n_units)
    vacant = site_ids.map(n_vacant)

    def column(name: str, default: Any = None) -> pd.Series:
        if name in zones:
            return zones[name].where(zones[name].notna(), default)
        return pd.Series([default] * len(zones), index=zones.index, dtype=object)

    communes = territory.communes
    comm_insee = column("site_comm_insee").astype(str)
    comm_nom = column("site_comm_nom")
    comm_nom = comm_nom.where(comm_nom.notna(), comm_insee.map(communes.get("name", {})))
    out = pd.DataFrame(index=zones.index, columns=columns, dtype=object)
    out["site_id"] = site_ids
    out["pole_id"] = column("pole_id", pole_id)
    out["site_nom"] = column("site_nom")
    out["site_type"] = _in_vocab(column("site_type"), enums["site_type"], "inconnu")
    out["site_vocadomi"] = _in_vocab(column("site_vocadomi"), enums["site_vocadomi"], "inconnu")
    out["site_etat"] = _in_vocab(column("site_etat"), enums["site_etat"], "inconnu")
    brute = pd.to_numeric(column("site_surf_brute"), errors="coerce").fillna(
        pd.Series(area_ha, index=zones.index)
    )
    out["site_surf_brute"] = brute.round(4)
    out["site_surf_utile"] = (
        pd.to_numeric(column("site_surf_utile"), errors="coerce").fillna(brute).round(4)
    )
    out["site_creation_date"] = column("site_creation_date")
    out["site_identif_date"] = column("site_identif_date", today.isoformat())
    out["site_actu_date"] = today.isoformat()
    out["source_producteur"] = f"{epci_name} (catalogue Implanter)"
    avail = site_ids.map(n_avail).fillna(0).astype(int)
    out["site_description"] = [
        f"Catalogue Implanter au {today:%d/%m/%Y} : {int(u) if pd.notna(u) else 0} annonce(s) "
        f"dans le site, dont {a} disponible(s)."
        for u, a in zip(units, avail, strict=True)
    ]
    out["site_epci_nom"] = epci_name
    out["site_epci_siren"] = epci_siren
    out["site_comm_nom"] = comm_nom
    out["site_comm_insee"] = comm_insee
    out["site_moa_type"] = _in_vocab(column("site_moa_type"), enums["site_moa_type"], "inconnu")
    out["site_uf_nbre"] = units
    out["site_uf_vacant_nbre"] = vacant.where(units.notna())
    out["site_taux_vacance"] = (100 * vacant / units).round(1)
    out["site_uf_bati_nbre"] = site_ids.map(n_built).where(units.notna())
    out["site_geomsurf"] = _geojson_l93(np.asarray(multi, dtype=object))
    out["site_geompoint"] = [
        f"{x:.6f}, {y:.6f}" for x, y in zip(shapely.get_x(reps), shapely.get_y(reps), strict=True)
    ]
    out["site_surf_comm_dispo"] = site_ids.map(avail_ha).round(4)
    out["site_surf_projet"] = site_ids.map(offer_ha).round(4)
    return out


def _part_owner(geoms: Any) -> np.ndarray:
    """For :func:`shapely.get_parts` output, the index of the geometry each part came from."""
    counts = shapely.get_num_geometries(np.asarray(geoms, dtype=object))
    return np.repeat(np.arange(len(counts)), counts)


def _cell(value: Any) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float | np.floating):
        if float(value).is_integer():
            return str(int(value))
        return f"{float(value):.4f}".rstrip("0").rstrip(".")
    if isinstance(value, np.integer | np.bool_):
        return str(value.item())
    if isinstance(value, datetime | date):
        return value.isoformat()[:10]
    return str(value)


def _write(frame: pd.DataFrame, path: Path) -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
        writer.writerow(list(frame.columns))
        for record in frame.itertuples(index=False, name=None):
            writer.writerow([_cell(v) for v in record])


def export_cnig(
    repo_or_frame: Any,
    territory: Territory,
    folder: str | Path = ".",
    *,
    actu_date: date | None = None,
    epci_name: str | None = None,
    epci_siren: str | None = None,
    pole_id: str = "sans objet",
) -> tuple[Path, Path]:
    """Write the CNIG SITE-ECO and TERRAIN-ECO tables of the catalogue.

    Parameters
    ----------
    repo_or_frame
        A :class:`geodata.storage.Repository`, its ``premises_frame()``, or listing models.
    territory
        The territory whose ``zones`` are the sites and whose EPCI is the competent one.
    folder
        Where to write ``site-eco.csv`` and ``terrain-eco.csv`` (created if needed).
    actu_date
        The update date written in the tables (default: today).
    epci_name, epci_siren
        The competent EPCI; default: the territory's (``epci`` in its ``manifest.json``).
    pole_id
        ``pole_id`` for zones whose layer gives none (the schema requires a value).

    Returns
    -------
    tuple of pathlib.Path
        ``(site_eco_csv, terrain_eco_csv)``.

    Raises
    ------
    ValueError
        When the EPCI is neither given nor in the territory's manifest.

    Notes
    -----
    See the module docstring for the mapping of statuses and the choices made where the
    catalogue cannot know the answer. Both files validate against the vendored schemas
    (``frictionless validate --schema geodata/io/cnig_schemas/site-eco.schema.json``).
    """
    epci = territory.epci
    name = epci_name or (epci.name if epci else None)
    siren = epci_siren or (epci.siren if epci else None)
    if not name or not siren:
        msg = (
            f"epci: the CNIG tables name the competent EPCI, and territory {territory.code!r} "
            'has none; add "epci": {"name": ..., "siren": ...} to its manifest.json, or pass '
            "epci_name and epci_siren"
        )
        raise ValueError(msg)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    listings = canonical_frame(repo_or_frame)
    terrain = terrain_eco_frame(listings, territory, actu_date=actu_date)
    sites = site_eco_frame(
        terrain, territory, actu_date=actu_date, epci_name=name, epci_siren=siren, pole_id=pole_id
    )
    site_path = folder / "site-eco.csv"
    terrain_path = folder / "terrain-eco.csv"
    _write(sites, site_path)
    _write(terrain[schema_fields("terrain-eco")], terrain_path)
    return site_path, terrain_path
