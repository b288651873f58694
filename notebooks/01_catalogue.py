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
# # Le catalogue en un coup d'œil — the catalogue at a glance
#
# Pour les équipes du développement économique : combien de locaux, de quel type, où, à quel
# loyer, dans les 24 communes de Grand-Orly Seine Bièvre. Les surfaces bâties (ateliers,
# entrepôts, bâtiments, lots…) et les terrains sont comptés à part et ne sont jamais
# additionnés : un m² de terrain n'est pas un m² de plancher.
#
# *For economic-development staff: listings by commune and kind, floor area and land kept
# apart, counts and median rents. By default the notebook builds the fictitious demo
# catalogue (same seed, same data) in a temporary SQLite file; set `DATABASE_URL` to read a
# real catalogue instead.*

# %%
# Parameters: a database URL (e.g. "sqlite:////path/to/var/implanter.db"), or None for the
# demo catalogue; the demo's seed.
DATABASE_URL: str | None = None
SEED = 2018

# %%
import tempfile
from pathlib import Path

import folium
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from api.maps import escape_properties
from geodata.demo import load_demo
from geodata.schemas import KIND_LABELS, label
from geodata.storage import open_repository
from geodata.territory import default_territory
from matcher.explain import fmt_area

territory = default_territory()
if DATABASE_URL is None:
    workdir = tempfile.TemporaryDirectory(prefix="implanter-notebook-")  # removed at exit
    repo = open_repository(f"sqlite:///{Path(workdir.name) / 'demo.db'}", migrate=True)
    load_demo(repo, territory=territory, seed=SEED)
else:
    repo = open_repository(DATABASE_URL)

catalogue = repo.premises_frame()
available = catalogue[catalogue["status"] == "available"].copy()
available["land"] = available["kind"] == "land"
print(f"{len(catalogue)} locaux au catalogue, dont {len(available)} disponibles")

# %% [markdown]
# ## Statut des annonces par type — listings by kind and status

# %%
kinds_fr = {k: label(k) for k in KIND_LABELS}
status_table = pd.crosstab(catalogue["kind"].map(kinds_fr), catalogue["status"].map(label))
status_table.index.name = "Type de local"
status_table.columns.name = "Statut"
status_table

# %% [markdown]
# ## Surfaces disponibles par commune — available m² by commune
#
# Deux colonnes qui ne s'additionnent pas : la surface de plancher des locaux bâtis, et la
# surface des terrains.

# %%
codes = sorted(territory.insee_codes, key=territory.commune_name)
by_commune = (
    pd.DataFrame(
        {
            "Locaux bâtis": available[~available["land"]].groupby("commune_insee").size(),
            "Surface bâtie disponible (m²)": available[~available["land"]]
            .groupby("commune_insee")["surface_m2"]
            .sum(),
            "Terrains": available[available["land"]].groupby("commune_insee").size(),
            "Terrains disponibles (m²)": available[available["land"]]
            .groupby("commune_insee")["surface_m2"]
            .sum(),
        }
    )
    .reindex(codes, fill_value=0)
    .fillna(0)
    .astype(int)
)
by_commune.index = pd.Index([territory.commune_name(c) for c in codes], name="Commune")
by_commune.sort_values("Surface bâtie disponible (m²)", ascending=False).style.format(
    thousands="\u202f"
).set_caption("Offre disponible par commune (surfaces en m²)")

# %% [markdown]
# ## Carte : m² disponibles par commune — choropleth map
#
# Une couche par nature de surface (choisir dans le sélecteur en haut à droite) : **surface
# bâtie** ou **terrains**, jamais la somme des deux. Classes : aucune offre, puis les quartiles
# des communes qui en ont (autant de communes dans chaque classe).
#
# *This is a plain folium map: Jupyter shows it with Leaflet loaded from folium's CDN and
# OpenStreetMap tiles, so drawing it needs a network connection (the tables and figures do
# not). The app's pages draw their maps with `api/maps.py` instead, which serves Leaflet from
# the app itself and puts the map's script under the page's CSP nonce: it renders parts for
# our Jinja pages, which a notebook cannot use. Only its `escape_properties` is reused here,
# for the tooltips. Colours are computed here and the legend is plain HTML, so no other
# script (such as folium's d3 legend) is needed.*

# %%
from branca.element import Element
from branca.utilities import color_brewer

from matcher.explain import fmt_number


def classify(v: np.ndarray, palette: str) -> tuple[list[str], list[tuple[str, str]]]:
    """A colour per value and the legend's (colour, range) rows: no supply (0) in a class of
    its own, then the quartiles of the communes that have some."""
    some = v[v > 0]
    edges = np.unique(np.quantile(some, [0, 0.25, 0.5, 0.75, 1.0])) if len(some) else []
    n = max(len(edges) - 1, 1)
    colours = ["#f7f7f7", *color_brewer(palette, max(n, 3))[-n:]]
    k = np.where(v > 0, np.searchsorted(edges[1:-1], v, side="left") + 1, 0)
    legend = [(colours[0], "aucune offre")]
    if len(edges) == 1:
        legend.append((colours[1], fmt_area(edges[0])))
    for i in range(1, len(edges)):
        legend.append((colours[i], f"{fmt_number(edges[i - 1])} – {fmt_area(edges[i])}"))
    return [colours[i] for i in k], legend


communes = territory.communes.reset_index()
values = pd.DataFrame(
    {
        "insee": codes,
        "building_m2": by_commune["Surface bâtie disponible (m²)"].to_numpy(),
        "land_m2": by_commune["Terrains disponibles (m²)"].to_numpy(),
    }
)
communes = communes.merge(values, on="insee")
communes["bati"] = [fmt_area(v) for v in communes["building_m2"]]
communes["terrain"] = [fmt_area(v) for v in communes["land_m2"]]

m = folium.Map(tiles=None, control_scale=True)
folium.TileLayer("OpenStreetMap", control=False).add_to(m)
west, south, east, north = communes.total_bounds
m.fit_bounds([[south, west], [north, east]])
legend_html = []
for column, name, palette, show in (
    ("building_m2", "Surface bâtie disponible (m²)", "YlOrRd", True),
    ("land_m2", "Terrains disponibles (m²)", "YlGn", False),
):
    fills, legend = classify(communes[column].to_numpy(dtype=float), palette)
    layer_frame = communes[["insee", "name", "bati", "terrain", "geometry"]].assign(fill=fills)
    features = layer_frame.__geo_interface__
    for feature in features["features"]:
        feature["properties"] = escape_properties(feature["properties"])
    folium.GeoJson(
        features,
        name=name,
        overlay=False,  # one layer at a time: floor area and land are never added
        show=show,
        style_function=lambda f: {
            "fillColor": f["properties"]["fill"],
            "fillOpacity": 0.75,
            "color": "#555555",
            "weight": 1,
        },
        highlight_function=lambda f: {"weight": 3},
        tooltip=folium.GeoJsonTooltip(
            fields=["name", "bati", "terrain"],
            aliases=["Commune", "Surface bâtie disponible", "Terrains disponibles"],
        ),
    ).add_to(m)
    rows = "".join(
        f'<div><span style="display:inline-block;width:14px;height:10px;background:{c};'
        f'border:1px solid #999;margin-right:4px"></span>{text}</div>'
        for c, text in legend
    )
    legend_html.append(f"<div><strong>{name}</strong>{rows}</div>")
folium.LayerControl(collapsed=False).add_to(m)
m.get_root().html.add_child(
    Element(
        '<div style="position:absolute;bottom:24px;right:10px;z-index:1000;background:white;'
        'padding:6px 8px;font:12px sans-serif;border:1px solid #999;display:flex;gap:12px">'
        + "".join(legend_html)
        + "</div>"
    )
)
m

# %% [markdown]
# ## Nombre de locaux disponibles par commune et par type — counts

# %%
counts = pd.crosstab(
    available["commune_insee"].map(territory.commune_name), available["kind"].map(kinds_fr)
)
counts.index.name = "Commune"
counts.columns.name = "Type de local"
counts["Total"] = counts.sum(axis=1)
counts.sort_values("Total", ascending=False)

# %% [markdown]
# ## Loyers médians par commune et par type — median rents
#
# En €/m²/an, hors taxes et hors charges, sur les locaux disponibles à la location dont le
# loyer est connu ; « — » : aucun local de ce type à louer dans la commune.

# %%
rented = available[available["rent_eur_m2_year"].notna()]
rents = rented.pivot_table(
    index=rented["commune_insee"].map(territory.commune_name),
    columns=rented["kind"].map(kinds_fr),
    values="rent_eur_m2_year",
    aggfunc="median",
)
rents.index.name = "Commune"
rents.columns.name = "Type de local"
rents.style.format(precision=0, na_rep="—").set_caption("Loyer médian (€/m²/an HT hors charges)")

# %%
print("Loyer médian de tout le territoire, par type (€/m²/an HT) :")
medians = rented.groupby("kind")["rent_eur_m2_year"].median()
for kind in (k for k in KIND_LABELS if k in medians.index):
    print(f"  {kinds_fr[kind]} : {medians[kind]:.0f} €/m²/an")

# %% [markdown]
# ## En figures — in figures

# %%
order = by_commune.sort_values("Surface bâtie disponible (m²)").index
fig, (ax_b, ax_l) = plt.subplots(1, 2, figsize=(11, 7), sharey=True)
ax_b.barh(order, by_commune.loc[order, "Surface bâtie disponible (m²)"] / 1000, color="#d95f0e")
ax_b.set_xlabel("Surface bâtie disponible (milliers de m²)")
ax_b.set_title("Locaux bâtis")
ax_l.barh(order, by_commune.loc[order, "Terrains disponibles (m²)"] / 1000, color="#31a354")
ax_l.set_xlabel("Terrains disponibles (milliers de m²)")
ax_l.set_title("Terrains")
fig.suptitle("Offre disponible par commune (deux échelles, jamais additionnées)")
fig.tight_layout()
plt.show()

# %%
kinds_rented = [k for k in KIND_LABELS if k in set(rented["kind"])]
fig, ax = plt.subplots(figsize=(9, 4.5))
ax.boxplot(
    [rented.loc[rented["kind"] == k, "rent_eur_m2_year"] for k in kinds_rented],
    orientation="horizontal",
    tick_labels=[kinds_fr[k] for k in kinds_rented],
)
ax.set_xlabel("Loyer (€/m²/an HT, hors charges)")
ax.set_title("Loyers des locaux disponibles, par type")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Communes sans offre disponible, densité de l'offre — gaps and density

# %%
empty = by_commune.index[(by_commune["Locaux bâtis"] == 0) & (by_commune["Terrains"] == 0)].tolist()
print("Communes sans aucune offre disponible :", ", ".join(empty) if empty else "aucune")
assert len(by_commune) == len(territory.insee_codes)

area_km2 = territory.communes.to_crs(2154).area / 1e6
density = (
    available.groupby("commune_insee").size().reindex(territory.communes.index, fill_value=0)
    / area_km2
).rename("Locaux disponibles par km²")
density.index = pd.Index([territory.commune_name(c) for c in density.index], name="Commune")
density.sort_values(ascending=False).round(2).head(10).to_frame()
