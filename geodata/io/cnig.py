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
- Site counts (``site_uf_nbre``...) count the catalogue's listings in the site only; they
  are left empty for a zone without listings (unknown, not zero).
- A listing without a footprint gets a schematic square ``terr_geomsurf`` centred on its
  point, of area ``plot_m2`` (else ``surface_m2``).
- Withdrawn listings are not exported.

Listings outside every zone (diffuse premises)
-----------------------------------------------
Every TERRAIN-ECO row must name its SITE-ECO (``site_id`` is required). Of the standard's
site types, ``"établissement économique isolé"`` (an isolated economic establishment) is the
one for premises outside any activity zone. A listing whose point lies in no zone of the
territory (and whose stored ``zone_id`` names none) is exported as a TERRAIN-ECO unit of one
such site per commune:
``site_id`` ``<INSEE>_SITE-ECO_DIFFUS`` (the suffix cannot collide with the numbered ids of
the zones), ``site_nom`` "Locaux d'activité diffus hors zone – <commune>",
``site_type`` "établissement économique isolé", ``site_etat`` "existant et actif",
``site_moa_type`` "sans objet" (nobody develops a diffuse set), ``site_vocadomi``
"inconnu"; its outline is the union of its units' outlines and its gross and usable
surfaces the sum of theirs. Its commune is the listing's ``commune_insee`` (checked against
the point on import), else the commune the point lies in. :func:`export_cnig` returns how
many listings went to zones, to diffuse sites and were left out (withdrawn, or outside the
territory), and ``implanter export --format cnig`` prints it.

Vacancy (``site_uf_vacant_nbre``, ``site_taux_vacance``)
---------------------------------------------------------
A unit is vacant when its listing says it is free today: status available or under offer
and free since its ``available_from`` date (else since it was created) — ``terr_etat_occup``
``"inoccupé"`` or ``"vacant"``. ``site_uf_vacant_nbre`` counts them and
``site_taux_vacance`` is their share (%) of the site's exported units. Article L318-8-2 of
the Code de l'urbanisme counts a unit as vacant after two years without an activity liable
to the CFE; the catalogue cannot know that tax fact, so the rate is the catalogue's, the
units free for two years or more are marked ``"vacant"`` one by one, and
``site_description`` gives both figures.

Sale price (``terr_vente_montant``, ``terr_m2_prix``)
-----------------------------------------------------
For a sold listing with a sale price, ``terr_vente_montant`` is that price and
``terr_m2_prix`` the price per square metre *of the land unit*:
``terr_vente_montant / (terr_surf_brute × 10 000)``, rounded to the cent, as in the
standard's official example (530 000 € for 9.9 ha, 5.35 €/m²). It is not the price per m²
of the building's floor area (``surface_m2``): the unit is the plot.

Status mapping (``terr_stade_comm`` / ``terr_etat_occup``)
-----------------------------------------------------------
========== ===================================== ==========================================
status     terr_stade_comm                       terr_etat_occup
========== ===================================== ==========================================
available  en vente                              inoccupé; vacant when free for >= 2 years;
                                                 occupé when ``available_from`` is ahead
under_offer réservé par option de réservation    inoccupé; occupé when ``available_from``
                                                 is ahead
let        autre (let: no rental value exists)   occupé
sold       vendu, commercialisation achevée      occupé
========== ===================================== ==========================================

"vacant" follows article L318-8-2 of the Code de l'urbanisme (unoccupied for at least two
years); a listing is free since its ``available_from`` date, else since it was created.
:func:`read_cnig` reads the two tables back (the status of each unit from this mapping).
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import shapely

from geodata.io._geo import to_lambert93, to_wgs84
from geodata.io.exporter import canonical_frame
from geodata.territory import Territory

__all__ = [
    "CNIG_SCHEMAS",
    "DIFFUSE_SITE_SUFFIX",
    "CnigExport",
    "CnigTables",
    "export_cnig",
    "read_cnig",
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

#: ``site_id`` of the site of a commune's diffuse premises is ``<INSEE>`` + this suffix.
DIFFUSE_SITE_SUFFIX = "_SITE-ECO_DIFFUS"

_VACANT_AFTER = timedelta(days=730)
_BUILT_USAGE = "bâti productif"
_STADE_COMM = {
    "available": "en vente",
    "under_offer": "réservé par option de réservation",
    "let": "autre",
    "sold": "vendu, commercialisation achevée",
}
_STATUS_OF_STADE = {v: k for k, v in _STADE_COMM.items()}
_FREE = ("inoccupé", "vacant")
_INTERNAL = ["_listing_id", "_status", "_built", "_diffuse", "_commune", "_geom"]


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


def _listing_sites(frame: pd.DataFrame, territory: Territory) -> tuple[np.ndarray, np.ndarray]:
    """The site_id of each listing and its commune.

    The site is the zone its point lies in, else its stored ``zone_id`` when that names a
    zone of the territory, else the diffuse site of its commune (None without a commune).
    """
    lon = frame["lon"].to_numpy(dtype=float)
    lat = frame["lat"].to_numpy(dtype=float)
    if not len(frame):
        return np.array([], dtype=object), np.array([], dtype=object)
    zones = np.asarray(territory.zone_at(lon, lat), dtype=object)
    known = set(territory.zones["site_id"].astype(str))
    stored = frame["zone_id"].to_numpy(dtype=object)
    fallback = np.array([z if z in known else None for z in stored], dtype=object)
    zones = np.where(pd.isna(zones), fallback, zones)
    stored_insee = frame["commune_insee"].to_numpy(dtype=object)
    located = np.asarray(territory.commune_at(lon, lat), dtype=object)
    commune = np.where(pd.isna(stored_insee), located, stored_insee)
    diffuse = np.array(
        [None if pd.isna(c) else f"{c}{DIFFUSE_SITE_SUFFIX}" for c in commune], dtype=object
    )
    return np.where(pd.isna(zones), diffuse, zones), commune


def terrain_eco_frame(
    listings: pd.DataFrame, territory: Territory, *, actu_date: date | None = None
) -> pd.DataFrame:
    """TERRAIN-ECO rows: every listing not withdrawn, in its zone or its commune's diffuse site.

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
        The columns of the TERRAIN-ECO schema, in order, plus ``_listing_id``, ``_status``,
        ``_built``, ``_diffuse``, ``_commune`` and ``_geom`` (the Lambert-93 outline),
        dropped before writing. A listing with no commune (outside the territory) has no row.
    """
    today = actu_date or date.today()
    frame = listings[listings["status"] != "withdrawn"].copy()
    sites, commune = _listing_sites(frame, territory)
    frame["_site_id"] = sites
    frame["_commune"] = commune
    frame = frame[frame["_site_id"].notna()]
    columns = schema_fields("terrain-eco")
    if frame.empty:
        return pd.DataFrame(columns=[*columns, *_INTERNAL])
    ids = frame["id"].to_numpy(dtype=int)
    insee = frame["_commune"].fillna(frame["_site_id"].str[:5]).astype(str).to_numpy()
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
            np.isin(status, ("available", "under_offer")) & ahead,
            (status == "available") & long_free,
        ],
        ["occupé", "occupé", "vacant"],
        default="inoccupé",
    )
    built = frame["kind"].to_numpy(dtype=object) != "land"
    sold = status == "sold"
    price = pd.to_numeric(frame["sale_price_eur"], errors="coerce").to_numpy(dtype=float)
    hectares = _ha(gross_m2)
    priced = sold & np.isfinite(price) & (hectares > 0)

    out = pd.DataFrame(index=frame.index, columns=columns, dtype=object)
    out["terr_id"] = [f"{c}_TERRAIN-ECO_{i:05d}" for c, i in zip(insee, ids, strict=True)]
    out["site_id"] = frame["_site_id"].to_numpy()
    out["terr_surf_brute"] = hectares
    out["terr_utile"] = "oui"
    out["terr_identif_date"] = [d.isoformat() for d in created]
    out["terr_actu_date"] = [d.isoformat() for d in updated]
    out["terr_maitrise_fonc"] = "inconnu"
    out["terr_stade_amngt"] = np.where(built, "viabilisé et aménagé", "inconnu")
    out["terr_stade_comm"] = [_STADE_COMM.get(s, "inconnu") for s in status]
    out["terr_etat_occup"] = etat
    out["terr_usage"] = np.where(built, _BUILT_USAGE, "inconnu")
    out["terr_geomsurf"] = _geojson_l93(geoms)
    out["terr_vente_montant"] = np.where(priced, price, np.nan)
    # The standard's price per m² is of the land unit (its gross surface), not of the floor
    # area: terr_vente_montant / (terr_surf_brute × 10 000). See the module docstring.
    with np.errstate(divide="ignore", invalid="ignore"):
        out["terr_m2_prix"] = np.where(priced, np.round(price / (hectares * 10_000), 2), np.nan)
    out["_listing_id"] = ids
    out["_status"] = status
    out["_built"] = built
    out["_diffuse"] = np.array([str(s).endswith(DIFFUSE_SITE_SUFFIX) for s in out["site_id"]])
    out["_commune"] = insee
    out["_geom"] = geoms
    return out.reset_index(drop=True)


def _diffuse_sites(terrain: pd.DataFrame, territory: Territory) -> pd.DataFrame:
    """The attributes of one site per commune holding diffuse units (Lambert-93 outline)."""
    diffuse = terrain[terrain["_diffuse"].astype(bool)]
    names = territory.commune_names
    rows = []
    for site_id, units in diffuse.groupby("site_id", sort=True):
        insee = str(site_id)[: -len(DIFFUSE_SITE_SUFFIX)]
        name = names.get(insee, insee)
        outline = shapely.union_all(np.asarray(units["_geom"].to_numpy(), dtype=object))
        gross = float(units["terr_surf_brute"].astype(float).sum())
        rows.append(
            {
                "site_id": site_id,
                "site_nom": f"Locaux d'activité diffus hors zone – {name}",
                "site_type": "établissement économique isolé",
                "site_vocadomi": "inconnu",
                "site_etat": "existant et actif",
                "site_surf_brute": gross,
                "site_surf_utile": gross,
                "site_identif_date": min(units["terr_identif_date"]),
                "site_comm_insee": insee,
                "site_comm_nom": name,
                "site_moa_type": "sans objet",
                "_outline": outline,
            }
        )
    return pd.DataFrame(rows)


def site_eco_frame(
    terrain: pd.DataFrame,
    territory: Territory,
    *,
    epci_name: str,
    epci_siren: str,
    actu_date: date | None = None,
    pole_id: str = "sans objet",
) -> pd.DataFrame:
    """SITE-ECO rows: one per zone of the territory, then one per commune with diffuse units.

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

    def column(name: str, default: Any = None) -> pd.Series:
        if name in zones:
            return zones[name].where(zones[name].notna(), default)
        return pd.Series([default] * len(zones), index=zones.index, dtype=object)

    comm_insee = column("site_comm_insee").astype(str)
    comm_nom = column("site_comm_nom")
    comm_nom = comm_nom.where(comm_nom.notna(), comm_insee.map(territory.commune_names))
    brute = pd.to_numeric(column("site_surf_brute"), errors="coerce").fillna(
        pd.Series(area_ha, index=zones.index)
    )
    base = pd.DataFrame(
        {
            "site_id": zones["site_id"].astype(str),
            "pole_id": column("pole_id", pole_id),
            "site_nom": column("site_nom"),
            "site_type": _in_vocab(column("site_type"), enums["site_type"], "inconnu"),
            "site_vocadomi": _in_vocab(column("site_vocadomi"), enums["site_vocadomi"], "inconnu"),
            "site_etat": _in_vocab(column("site_etat"), enums["site_etat"], "inconnu"),
            "site_surf_brute": brute,
            "site_surf_utile": pd.to_numeric(column("site_surf_utile"), errors="coerce").fillna(
                brute
            ),
            "site_creation_date": column("site_creation_date"),
            "site_identif_date": column("site_identif_date", today.isoformat()),
            "site_comm_nom": comm_nom,
            "site_comm_insee": comm_insee,
            "site_moa_type": _in_vocab(column("site_moa_type"), enums["site_moa_type"], "inconnu"),
            "_outline": np.asarray(zones_l93.geometry.array, dtype=object),
        }
    )
    if len(terrain):
        diffuse = _diffuse_sites(terrain, territory)
        if len(diffuse):
            diffuse["pole_id"] = pole_id
            base = pd.concat([base, diffuse], ignore_index=True)
    outlines = np.asarray(base["_outline"].to_numpy(), dtype=object)
    multi = shapely.multipolygons(shapely.get_parts(outlines), indices=_part_owner(outlines))
    rx, ry = to_wgs84(
        shapely.get_x(shapely.point_on_surface(outlines)),
        shapely.get_y(shapely.point_on_surface(outlines)),
    )

    site = terrain["site_id"]
    free = terrain["terr_etat_occup"].isin(_FREE)
    m2 = terrain["terr_surf_brute"].astype(float)
    n_units = site.value_counts()
    n_free = free.groupby(site).sum()
    n_long = (terrain["terr_etat_occup"] == "vacant").groupby(site).sum()
    n_built = terrain["_built"].astype(bool).groupby(site).sum()
    n_avail = (terrain["_status"] == "available").groupby(site).sum()
    avail_ha = m2.where(terrain["_status"] == "available", 0.0).groupby(site).sum()
    offer_ha = m2.where(terrain["_status"] == "under_offer", 0.0).groupby(site).sum()

    ids = base["site_id"]
    units = ids.map(n_units)
    known = units.notna()
    vacant = ids.map(n_free).fillna(0).astype(int)
    long_free = ids.map(n_long).fillna(0).astype(int)
    avail = ids.map(n_avail).fillna(0).astype(int)

    out = pd.DataFrame(index=base.index, columns=columns, dtype=object)
    for name in base.columns:
        if name in out:
            out[name] = base[name]
    out["site_surf_brute"] = base["site_surf_brute"].astype(float).round(4)
    out["site_surf_utile"] = base["site_surf_utile"].astype(float).round(4)
    out["site_actu_date"] = today.isoformat()
    out["source_producteur"] = f"{epci_name} (catalogue Implanter)"
    out["site_description"] = [
        f"Catalogue Implanter au {today:%d/%m/%Y} : {int(u) if pd.notna(u) else 0} annonce(s) "
        f"dans le site, dont {a} disponible(s) ; {v} libre(s) à ce jour, dont {lf} depuis "
        "deux ans ou plus (vacance au sens de l'article L318-8-2 du code de l'urbanisme)."
        for u, a, v, lf in zip(units, avail, vacant, long_free, strict=True)
    ]
    out["site_epci_nom"] = epci_name
    out["site_epci_siren"] = epci_siren
    out["site_uf_nbre"] = units
    out["site_uf_vacant_nbre"] = vacant.where(known)
    out["site_taux_vacance"] = (100 * vacant / units).round(1).where(known)
    out["site_uf_bati_nbre"] = ids.map(n_built).where(known)
    out["site_geomsurf"] = _geojson_l93(np.asarray(multi, dtype=object))
    out["site_geompoint"] = [f"{x:.6f}, {y:.6f}" for x, y in zip(rx, ry, strict=True)]
    out["site_surf_comm_dispo"] = ids.map(avail_ha).round(4)
    out["site_surf_projet"] = ids.map(offer_ha).round(4)
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


@dataclass(frozen=True)
class CnigExport:
    """What :func:`export_cnig` wrote, and where each listing of the catalogue went.

    Attributes
    ----------
    site_csv, terrain_csv
        The two files written.
    listings
        Listings in the catalogue (all statuses).
    in_zones
        TERRAIN-ECO units in one of the territory's zones.
    diffuse
        TERRAIN-ECO units in the diffuse site of their commune (outside every zone).
    withdrawn
        Withdrawn listings, not exported.
    outside
        Listings with no commune of the territory, not exported.
    zone_sites, diffuse_sites
        SITE-ECO rows written: the territory's zones, and the communes' diffuse sites.
    by_site
        Units per ``site_id`` (sites with at least one unit).
    """

    site_csv: Path
    terrain_csv: Path
    listings: int
    in_zones: int
    diffuse: int
    withdrawn: int
    outside: int
    zone_sites: int
    diffuse_sites: int
    by_site: dict[str, int] = field(default_factory=dict)

    @property
    def exported(self) -> int:
        """TERRAIN-ECO units written (``in_zones + diffuse``)."""
        return self.in_zones + self.diffuse

    def summary(self, lang: str = "fr") -> str:
        """Where the listings went, in French (``"fr"``, default) or English, on two lines.

        Examples
        --------
        >>> e = CnigExport(Path("s.csv"), Path("t.csv"), 10, 6, 3, 1, 0, 2, 1)
        >>> print(e.summary("en"))
        CNIG: 10 listing(s): 6 in 2 activity zone(s), 3 outside any zone in 1 diffuse site(s) (one per commune), 1 withdrawn (not exported), 0 outside the territory (not exported).
        Files: s.csv and t.csv
        """  # noqa: E501
        if lang == "fr":
            return (
                f"CNIG : {self.listings} annonce(s) : {self.in_zones} dans "
                f"{self.zone_sites} zone(s) d'activité, {self.diffuse} hors zone dans "
                f"{self.diffuse_sites} site(s) diffus (un par commune), {self.withdrawn} "
                f"retirée(s) (non exportées), {self.outside} hors du territoire "
                f"(non exportées).\nFichiers : {self.site_csv} et {self.terrain_csv}"
            )
        return (
            f"CNIG: {self.listings} listing(s): {self.in_zones} in {self.zone_sites} activity "
            f"zone(s), {self.diffuse} outside any zone in {self.diffuse_sites} diffuse site(s) "
            f"(one per commune), {self.withdrawn} withdrawn (not exported), {self.outside} "
            f"outside the territory (not exported).\nFiles: {self.site_csv} and {self.terrain_csv}"
        )


def export_cnig(
    repo_or_frame: Any,
    territory: Territory,
    folder: str | Path = ".",
    *,
    actu_date: date | None = None,
    epci_name: str | None = None,
    epci_siren: str | None = None,
    pole_id: str = "sans objet",
) -> CnigExport:
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
    CnigExport
        The two paths, and how many listings went to zones, to diffuse sites, or were left
        out (withdrawn, outside the territory).

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
    diffuse_units = terrain["_diffuse"].astype(bool)
    withdrawn = int((listings["status"] == "withdrawn").sum())
    n_zones = len(territory.zones)
    return CnigExport(
        site_csv=site_path,
        terrain_csv=terrain_path,
        listings=len(listings),
        in_zones=int((~diffuse_units).sum()),
        diffuse=int(diffuse_units.sum()),
        withdrawn=withdrawn,
        outside=len(listings) - withdrawn - len(terrain),
        zone_sites=n_zones,
        diffuse_sites=len(sites) - n_zones,
        by_site={str(k): int(v) for k, v in terrain["site_id"].value_counts().sort_index().items()},
    )


@dataclass(frozen=True)
class CnigTables:
    """The SITE-ECO and TERRAIN-ECO tables read back by :func:`read_cnig`.

    Attributes
    ----------
    sites
        One row per site: every SITE-ECO field as text, plus ``geometry`` (Lambert-93
        shapely geometry) and ``diffuse`` (the site of a commune's diffuse premises).
    terrains
        One row per land unit: every TERRAIN-ECO field as text, plus ``listing_id`` (from
        ``terr_id``), ``status`` (the catalogue status its ``terr_stade_comm`` maps from),
        ``surface_m2`` (``terr_surf_brute`` in m²) and ``geometry`` (Lambert-93).
    """

    sites: pd.DataFrame
    terrains: pd.DataFrame


def _read_table(path: Path, name: str) -> pd.DataFrame:
    frame = pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8")
    missing = [f for f in schema_fields(name) if f not in frame.columns]
    if missing:
        msg = (
            f"{path.name}: not a CNIG {name.upper()} table, the column(s) "
            f"{', '.join(missing)} are missing; export it again with implanter export "
            "--format cnig"
        )
        raise ValueError(msg)
    return frame


def read_cnig(folder: str | Path) -> CnigTables:
    """Read the ``site-eco.csv`` and ``terrain-eco.csv`` of a folder back into frames.

    Parameters
    ----------
    folder
        A folder written by :func:`export_cnig`.

    Returns
    -------
    CnigTables
        The sites and land units, with their outlines and the listings they came from.

    Raises
    ------
    ValueError
        When a file lacks a field of its schema, or a ``terr_id`` carries no listing number.
    """
    folder = Path(folder)
    sites = _read_table(folder / "site-eco.csv", "site-eco")
    terrains = _read_table(folder / "terrain-eco.csv", "terrain-eco")
    sites["geometry"] = shapely.from_geojson(sites["site_geomsurf"].to_numpy(dtype=object))
    sites["diffuse"] = sites["site_id"].str.endswith(DIFFUSE_SITE_SUFFIX)
    numbers = terrains["terr_id"].str.extract(r"_TERRAIN-ECO_(\d+)$")[0]
    if numbers.isna().any():
        bad = terrains.loc[numbers.isna(), "terr_id"].iloc[0]
        msg = f"terr_id: {bad!r} does not end in _TERRAIN-ECO_<listing number>"
        raise ValueError(msg)
    terrains["listing_id"] = numbers.astype(int)
    terrains["status"] = terrains["terr_stade_comm"].map(_STATUS_OF_STADE)
    terrains["surface_m2"] = pd.to_numeric(terrains["terr_surf_brute"]) * 10_000
    terrains["geometry"] = shapely.from_geojson(terrains["terr_geomsurf"].to_numpy(dtype=object))
    return CnigTables(sites=sites, terrains=terrains)
