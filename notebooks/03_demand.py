# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.7
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # La demande, et la demande non satisfaite — demand and unmet demand
#
# Où les entreprises cherchent (foyers de demande), quels besoins ne trouvent rien de
# convenable (par commune, par usage, par tranche de surface), l'équilibre entre l'offre et la
# demande dans chaque commune (surfaces bâties et terrains à part), et les surfaces et usages
# les plus demandés pour lesquels l'offre manque.
#
# *Demand analytics of `matcher/analytics.py` on the saved needs of the fictitious demo
# catalogue (built in a temporary SQLite file): DBSCAN hot spots in Lambert-93 metres, unmet
# demand from the batch engine's best score per need, supply/demand balance per commune, and
# the most wanted, least supplied bands as sentences.*

# %%
# Parameters: a database URL (e.g. "sqlite:////path/to/var/implanter.db"), or None for the
# demo catalogue; the demo's seed; the score under which a need counts as unmet; DBSCAN's
# radius (m) and the needs a hot spot gathers at least.
DATABASE_URL: str | None = None
SEED = 2018
UNMET_THRESHOLD = 50.0
HOTSPOT_RADIUS_M = 1_000.0
HOTSPOT_MIN_NEEDS = 8

# %%
import tempfile
from pathlib import Path

import folium
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

import geopandas as gpd

import matcher.analytics as an
from api.matching import build_index
from geodata.demo import load_demo
from geodata.schemas import label
from geodata.storage import open_repository
from geodata.territory import default_territory
from matcher.explain import fmt_area, fmt_distance, fmt_number

territory = default_territory()
if DATABASE_URL is None:
    workdir = tempfile.TemporaryDirectory(prefix="implanter-notebook-")  # removed at exit
    repo = open_repository(f"sqlite:///{Path(workdir.name) / 'demo.db'}", migrate=True)
    load_demo(repo, territory=territory, seed=SEED)
else:
    repo = open_repository(DATABASE_URL)
index = build_index(repo, territory)
needs = repo.all_needs(active=True)
ids = [n.id for n in needs]
print(f"{len(needs)} besoins actifs, {index.n_rows} locaux au catalogue")

# %% [markdown]
# ## Les besoins en lignes — needs as rows
#
# Chaque besoin devient une ligne : surface voulue (et sa tranche), usages, communes (nommées,
# ou celle où se trouve son lieu), un point représentatif en Lambert-93 et la partie du
# territoire (nord, centre, sud). Un besoin qui cite plusieurs usages ou communes compte dans
# chacun.


# %%
def to_lonlat(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lambert-93 metres to WGS84 degrees."""
    pts = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=2154).to_crs(4326)
    return pts.x.to_numpy(), pts.y.to_numpy()


def commune_at(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The commune of Lambert-93 points (None outside the territory)."""
    return territory.commune_at(*to_lonlat(x, y))


centres_l93 = territory.communes.representative_point().to_crs(2154)
commune_xy = {code: (p.x, p.y) for code, p in centres_l93.items()}
_, ymin, _, ymax = territory.boundary_l93.bounds
frame = an.need_frame(needs, ids, commune_xy=commune_xy, commune_at=commune_at, bounds=(ymin, ymax))
places = an.need_places(needs, ids, commune_xy=commune_xy)


def commune_label(code: str) -> str:
    return territory.commune_names.get(code, code) if code else "(aucune commune)"


def band_fr(k: int) -> str:
    """A size band in French: "200–400 m²", "10 000 m² et plus"."""
    edges = [0.0, *an.SIZE_BANDS]
    if k >= len(an.SIZE_BANDS):
        return f"{fmt_area(edges[-1])} et plus"
    return f"{fmt_number(edges[k])}–{fmt_area(edges[k + 1])}"


def use_fr(use: str) -> str:
    return "(usage non précisé)" if use == an.NO_USE else label(use)


by_use = frame.explode("uses").groupby("uses").size().sort_values(ascending=False)
by_use.index = [use_fr(u) for u in by_use.index]
by_band = frame.groupby("band").size()
by_band.index = [band_fr(k) for k in by_band.index]
pd.concat(
    [
        by_use.rename("Besoins actifs").rename_axis("Usage").reset_index(),
        by_band.rename("Besoins actifs").rename_axis("Surface voulue").reset_index(),
    ],
    axis=1,
).fillna("")

# %% [markdown]
# ## Foyers de demande — hot spots
#
# DBSCAN (scikit-learn) sur les lieux des besoins, en mètres Lambert-93 : un foyer rassemble
# au moins `HOTSPOT_MIN_NEEDS` besoins à moins de `HOTSPOT_RADIUS_M` les uns des autres (un
# besoin qui cite deux lieux compte pour moitié à chacun).

# %%
labels, clusters = an.hotspots(places, eps_m=HOTSPOT_RADIUS_M, min_needs=HOTSPOT_MIN_NEEDS)
clusters["lon"], clusters["lat"] = to_lonlat(clusters["x"].to_numpy(), clusters["y"].to_numpy())
clusters["commune"] = [
    commune_label(c) for c in territory.commune_at(clusters["lon"], clusters["lat"])
]
print(
    f"{len(clusters)} foyers de demande ; {int((labels < 0).sum())} lieux isolés sur {len(places)}"
)
pd.DataFrame(
    {
        "Foyer": clusters["cluster"] + 1,
        "Centré sur": clusters["commune"],
        "Besoins": clusters["n_needs"],
        "Rayon (90 % des lieux)": [fmt_distance(r) for r in clusters["radius_m"]],
    }
).set_index("Foyer")

# %% [markdown]
# Sur la carte : chaque lieu de besoin (coloré par foyer, gris quand isolé), et le cercle de
# chaque foyer. *A plain folium map (Leaflet from folium's CDN, OpenStreetMap tiles), as in
# notebook 01: it needs a network connection to draw; the app's pages use `api/maps.py`.*

# %%
palette = ["#d7301f", "#2171b5", "#238b45", "#6a51a3", "#cc4c02", "#ae017e", "#00798c"]
lon, lat = to_lonlat(places["x"].to_numpy(), places["y"].to_numpy())
m = folium.Map(tiles=None, control_scale=True)
folium.TileLayer("OpenStreetMap", control=False).add_to(m)
west, south, east, north = territory.communes.total_bounds
m.fit_bounds([[south, west], [north, east]])
folium.GeoJson(
    territory.communes[["name", "geometry"]].__geo_interface__,
    name="Communes",
    style_function=lambda f: {"fill": False, "color": "#777777", "weight": 1},
).add_to(m)
spots = folium.FeatureGroup(name="Foyers de demande").add_to(m)
for row in clusters.itertuples():
    folium.Circle(
        [row.lat, row.lon],
        radius=float(row.radius_m),
        color=palette[row.cluster % len(palette)],
        fill=True,
        fill_opacity=0.12,
        tooltip=f"Foyer {row.cluster + 1} : {row.n_needs} besoins autour de {row.commune}",
    ).add_to(spots)
points = folium.FeatureGroup(name="Lieux des besoins").add_to(m)
for k, y, x in zip(labels, lat, lon, strict=True):
    folium.CircleMarker(
        [y, x],
        radius=3,
        weight=0,
        fill=True,
        fill_opacity=0.8,
        fill_color=palette[k % len(palette)] if k >= 0 else "#888888",
    ).add_to(points)
folium.LayerControl(collapsed=False).add_to(m)
m

# %% [markdown]
# ## Demande non satisfaite — unmet demand
#
# Le meilleur score de chaque besoin sur le catalogue disponible (le même moteur que la
# recherche, pour tous les besoins à la fois). Un besoin est **non satisfait** quand son
# meilleur local reste sous `UNMET_THRESHOLD`/100, ou qu'aucun local ne passe ses critères
# obligatoires.

# %%
best = an.best_scores(index, needs, ids)
none_pass = int(best.isna().sum())
unmet_ids = set(best.index[~(best >= UNMET_THRESHOLD)])
print(
    f"{len(unmet_ids)} besoins non satisfaits sur {len(needs)} "
    f"(dont {none_pass} pour lesquels aucun local ne passe les critères obligatoires)"
)

fig, ax = plt.subplots(figsize=(8, 3.8))
ax.hist(best.dropna(), bins=np.arange(0, 105, 5), color="#2171b5", edgecolor="white")
ax.axvline(
    UNMET_THRESHOLD, color="#d7301f", linestyle="--", label=f"seuil ({UNMET_THRESHOLD:.0f}/100)"
)
ax.set_xlabel("Meilleur score du besoin (sur 100)")
ax.set_ylabel("Besoins (nombre)")
ax.set_title(
    f"Meilleur score par besoin ({none_pass} besoins sans aucun local possible, hors figure)"
)
ax.legend()
fig.tight_layout()
plt.show()


# %%
def unmet_table(by: str, name: str, fmt) -> pd.DataFrame:
    u = an.unmet_demand(frame, best, threshold=UNMET_THRESHOLD, by=(by,))
    return pd.DataFrame(
        {
            name: [fmt(v) for v in u[by]],
            "Besoins actifs": u["n_needs"],
            "Non satisfaits": u["n_unmet"],
            "Part non satisfaite": [f"{s:.0%}" for s in u["share_unmet"]],
        }
    ).set_index(name)


unmet_table("commune", "Commune", commune_label).head(10)

# %%
unmet_table("use", "Usage", use_fr)

# %%
unmet_table("band", "Surface voulue", band_fr).sort_index(
    key=lambda s: s.map({band_fr(k): k for k in range(len(an.SIZE_BANDS) + 1)})
)

# %% [markdown]
# Les croisements commune × usage × tranche où le plus de besoins restent sans réponse :

# %%
detail = an.unmet_demand(frame, best, threshold=UNMET_THRESHOLD).head(10)
pd.DataFrame(
    {
        "Commune": [commune_label(c) for c in detail["commune"]],
        "Usage": [use_fr(u) for u in detail["use"]],
        "Surface voulue": [band_fr(b) for b in detail["band"]],
        "Besoins actifs": detail["n_needs"],
        "Non satisfaits": detail["n_unmet"],
    }
)

# %% [markdown]
# ## Offre et demande par commune — supply and demand balance
#
# L'offre : les locaux disponibles, en surface de plancher ou, pour les terrains, en surface
# de terrain. La demande : la surface voulue (milieu de la fourchette) des besoins actifs,
# partagée entre les communes qu'ils citent. Le rapport est le nombre de m² offerts par m²
# demandé ; bâti et terrains ne s'additionnent jamais.

# %%
supply = an.supply_frame(index, bounds=(ymin, ymax))
bal = an.balance(supply, frame)
balance_table = pd.DataFrame(
    {
        "Bâti offert (m²)": bal["building_m2"],
        "Bâti demandé (m²)": bal["wanted_building_m2"],
        "m² offerts par m² demandé (bâti)": bal["building_ratio"],
        "Terrain offert (m²)": bal["land_m2"],
        "Terrain demandé (m²)": bal["wanted_land_m2"],
        "m² offerts par m² demandé (terrain)": bal["land_ratio"],
    }
)
balance_table.index = [commune_label(c) for c in balance_table.index]
balance_table.index.name = "Commune"
surfaces = [c for c in balance_table.columns if c.endswith("(m²)")]
ratios = [c for c in balance_table.columns if c.startswith("m² offerts")]
(
    balance_table.sort_values("m² offerts par m² demandé (bâti)")
    .style.format(subset=surfaces, precision=0, thousands="\u202f")
    .format(subset=ratios, precision=2, decimal=",", na_rep="—")
    .set_caption("Équilibre de l'offre et de la demande par commune")
)

# %%
b = balance_table[
    (balance_table["Bâti demandé (m²)"] > 0) & (balance_table.index != commune_label(""))
].sort_values("m² offerts par m² demandé (bâti)")
fig, ax = plt.subplots(figsize=(9, 7))
colours = np.where(b["m² offerts par m² demandé (bâti)"] < 1, "#d7301f", "#2171b5")
ax.barh(b.index, b["m² offerts par m² demandé (bâti)"], color=colours)
ax.axvline(1, color="black", linewidth=1)
ax.set_xscale("log")
ticks = [0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10]
ax.set_xticks(ticks, [f"{t:g}".replace(".", ",") for t in ticks])
ax.minorticks_off()
ax.set_xlabel(
    "m² de plancher offerts par m² demandé (échelle logarithmique ; < 1 : l'offre manque)"
)
ax.set_title("Équilibre de l'offre bâtie et de la demande, par commune")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Les plus demandés, les moins offerts — most wanted, least supplied
#
# Par tranche de surface × usage × partie du territoire : les besoins actifs et les locaux
# disponibles de la même tranche qui permettent l'usage, classés par besoins par offre.

# %%
wanted = an.most_wanted(frame, supply)
for sentence in wanted["text_fr"].head(10):
    print("•", sentence)

# %% [markdown]
# *Time to let (`an.time_to_let`) needs a history of status changes (available → let or
# sold); the demo catalogue has none, so it is not shown here.*

# %%
print(
    f"Surface totale voulue par les besoins non satisfaits : "
    f"{fmt_area(frame.loc[sorted(unmet_ids), 's_mid'].sum())}"
)
