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
# # Attribuer les lots du village d'entreprises de Valenton — lot allocation
#
# Un village d'entreprises est découpé en lots de 150 à 600 m² ; des entreprises candidatent,
# chacune avec son besoin. Une entreprise peut prendre un lot ou plusieurs lots **contigus**
# dont les surfaces s'additionnent ; un lot va à une seule entreprise. On compare :
#
# - **l'optimum** : l'attribution qui maximise l'adéquation totale (la somme des scores de
#   recherche, sur 100, des entreprises servies), un programme en nombres entiers résolu
#   exactement (`scipy.optimize.milp`) ;
# - **premier arrivé, premier servi** : chaque candidat, dans l'ordre d'arrivée, prend le
#   meilleur ensemble de lots encore libre.
#
# Chaque attribution, chaque refus et chaque lot a sa raison, en français.
#
# *Lot allocation with `matcher/allocation.py` for the development of `geodata/developments.py`.
# The village and its 40 applicants are FICTITIOUS demo data (the real village's lots are not
# published): the lots come from the territory folder, the applicants from
# `development_applicants` (same seed, same list), so no database is needed here.*

# %%
# Parameters: how many applicants, their seed, the most lots one company may take together.
N_APPLICANTS = 40
APPLICANT_SEED = 94074
MAX_LOTS = 4

# %%
import folium
import matplotlib.pyplot as plt
import pandas as pd

import geopandas as gpd
import shapely

from api.maps import escape_properties
from geodata.developments import development_applicants, load_development
from geodata.schemas import label
from geodata.territory import default_territory
from matcher.allocation import (
    AllocationProblem,
    compare,
    first_come_first_served,
    optimal,
)
from matcher.explain import criterion_label, fmt_area, fmt_number

territory = default_territory()
dev = load_development("valenton_village", territory=territory)
applicants = development_applicants(dev, N_APPLICANTS, seed=APPLICANT_SEED)
print(
    f"{dev.name} ({territory.commune_name(dev.commune_insee)}) : {len(dev.lots)} lots, "
    f"{len(applicants)} candidats"
)

# %% [markdown]
# ## Les lots — the lots
#
# Dans l'ordre de la rue (bâtiment A au nord, B au sud). La contiguïté se lit sur les
# contours des lots.

# %%
lots = gpd.GeoDataFrame(
    {
        "Lot": dev.lot_refs,
        "Surface (m²)": [lot.surface_m2 for lot in dev.lots],
        "Loyer (€/m²/an HT)": [lot.rent_eur_m2_year for lot in dev.lots],
        "Statut": [label(str(getattr(lot.status, "value", lot.status))) for lot in dev.lots],
    },
    geometry=[shapely.geometry.shape(lot.footprint) for lot in dev.lots],
    crs=4326,
)
lots.drop(columns="geometry").set_index("Lot").T.style.format(precision=0)

# %% [markdown]
# ## Les candidats — the applicants
#
# Dans l'ordre d'arrivée des dossiers. Surface, usage et budget sont des critères
# obligatoires pour tous ; certains exigent aussi des minimums techniques ou une date.

# %%
pd.DataFrame(
    {
        "Entreprise": [n.company_name for n in applicants],
        "Surface voulue (m²)": [
            f"{n.surface_min_m2:,.0f}–{n.surface_max_m2:,.0f}".replace(",", "\u202f")
            for n in applicants
        ],
        "Usages": [
            ", ".join(label(str(getattr(u, "value", u))) for u in n.uses) for n in applicants
        ],
        "Loyer maximum (€/m²/an HT)": [n.max_rent_eur_m2_year for n in applicants],
        "Critères obligatoires": [
            ", ".join(criterion_label(str(getattr(c, "value", c)), "fr") for c in n.required)
            for n in applicants
        ],
    },
    index=pd.Index(range(1, len(applicants) + 1), name="Arrivée"),
)

# %% [markdown]
# ## Le problème — every applicant against every group of adjacent lots
#
# Chaque groupe d'au plus `MAX_LOTS` lots contigus est un local candidat (surfaces
# additionnées) ; l'adéquation d'une entreprise à un groupe est exactement son score de
# recherche (mêmes filtres, mêmes utilités que `matcher.match`).

# %%
problem = AllocationProblem.build(
    dev.lots,
    applicants,
    max_lots=MAX_LOTS,
    stations=territory.stations,
    interchanges=territory.interchanges,
    commune_names=territory.commune_names,
)
i, g, fit = problem.pairs()
print(
    f"{len(problem.groups)} groupes de lots contigus, {int(problem.available.sum())} lots "
    f"attribuables ; {len(fit)} couples (candidat, groupe) possibles ; "
    f"{len(set(i.tolist()))} candidats ont au moins un groupe qui leur convient"
)

# %% [markdown]
# ## L'optimum contre « premier arrivé, premier servi »

# %%
best = optimal(problem)
first = first_come_first_served(problem)
c = compare(best, first)
names = {best.method: "optimum", first.method: "premier arrivé, premier servi"}
summary = pd.DataFrame(
    {
        names[a.method]: {
            "Adéquation totale (points)": fmt_number(a.total_fit, decimals=1),
            "Entreprises servies": a.n_served,
            "Surface attribuée": fmt_area(a.surface_let_m2),
            "Adéquation moyenne des servies (/100)": fmt_number(
                a.total_fit / max(a.n_served, 1), decimals=1
            ),
        }
        for a in (best, first)
    }
)
assert best.total_fit >= first.total_fit - 1e-6  # the optimum is never worse
print(
    f"L'optimum gagne {fmt_number(c['gain'], decimals=1)} points d'adéquation totale sur "
    f"« premier arrivé, premier servi »."
)
print("Servies seulement par l'optimum :", ", ".join(c["only_in_" + best.method]) or "aucune")
print("Servies seulement au premier arrivé :", ", ".join(c["only_in_" + first.method]) or "aucune")
summary

# %% [markdown]
# ## Les raisons de l'optimum — why each lot, why each refusal

# %%
print("Attributions :")
for a in best.assignments:
    print("  •", a.text["fr"])
print()
print("Refus :")
for r in best.refusals:
    print("  •", r.text["fr"])

# %%
print("Chaque lot :")
for lot in best.lots:
    print("  •", lot.text["fr"])
assert len(best.lots) == len(dev.lots)  # every lot has its reason

# %% [markdown]
# Les raisons d'une attribution reprennent aussi celles de la recherche (surface, usage,
# budget…), pour le premier lot attribué :

# %%
a = best.assignments[0]
print(a.text["fr"])
for d in a.details:
    print(f"   • {criterion_label(d['criterion'], 'fr')} : {d['text']['fr']}")

# %% [markdown]
# ## Les lots sur la carte, colorés par entreprise — the lots by company
#
# D'abord une figure (sans réseau), l'optimum et « premier arrivé, premier servi » côte à côte,
# puis une carte folium de l'optimum (*a plain folium map, Leaflet from folium's CDN and
# OpenStreetMap tiles: it needs a network connection to draw; the app's pages use
# `api/maps.py`*).

# %%
companies = sorted({x.company for a in (best, first) for x in a.assignments})
cmap = plt.get_cmap("tab20")
colour_of = {name: plt.matplotlib.colors.to_hex(cmap(k % 20)) for k, name in enumerate(companies)}


def owners(allocation) -> list[str | None]:
    by_lot = {o.lot: o.company for o in allocation.lots}
    return [by_lot.get(ref) for ref in dev.lot_refs]


lots_l93 = lots.to_crs(2154)
fig, axes = plt.subplots(2, 1, figsize=(11, 7), sharex=True, sharey=True)
for ax, allocation in zip(axes, (best, first), strict=True):
    who = owners(allocation)
    fills = [colour_of[w] if w else "#eeeeee" for w in who]
    lots_l93.plot(ax=ax, color=fills, edgecolor="#333333", linewidth=0.8)
    for ref, geom in zip(dev.lot_refs, lots_l93.geometry, strict=True):
        p = geom.representative_point()
        ax.annotate(ref, (p.x, p.y), ha="center", va="center", fontsize=8)
    ax.set_title(
        f"{names[allocation.method].capitalize()} : {fmt_number(allocation.total_fit)} points "
        f"d'adéquation, {allocation.n_served} entreprises servies"
    )
    ax.set_ylabel("y (m, Lambert-93)")
    ax.ticklabel_format(useOffset=False, style="plain")
axes[0].set_xlabel("")
axes[1].set_xlabel("x (m, Lambert-93)")
handles = [plt.matplotlib.patches.Patch(color=colour_of[n], label=n) for n in companies]
handles.append(
    plt.matplotlib.patches.Patch(color="#eeeeee", label="non attribué ou hors attribution")
)
fig.legend(handles=handles, loc="center right", fontsize=8, frameon=False)
fig.suptitle("Lots du village d'entreprises (fictif), colorés par entreprise")
fig.tight_layout(rect=(0, 0, 0.75, 1))
plt.show()

# %%
who = owners(best)
reasons = {o.lot: o.text["fr"] for o in best.lots}
layer = lots.assign(
    company=[w or "non attribué" for w in who],
    fill=[colour_of[w] if w else "#eeeeee" for w in who],
    surface=[fmt_area(s) for s in lots["Surface (m²)"]],
    reason=[reasons[ref] for ref in dev.lot_refs],
)[["Lot", "company", "surface", "reason", "fill", "geometry"]]
features = layer.__geo_interface__
for feature in features["features"]:
    feature["properties"] = escape_properties(feature["properties"])
west, south, east, north = lots.total_bounds
m = folium.Map(tiles=None, control_scale=True, max_zoom=20)
folium.TileLayer("OpenStreetMap", control=False, max_zoom=20, max_native_zoom=19).add_to(m)
m.fit_bounds([[south, west], [north, east]])
folium.GeoJson(
    features,
    name="Lots (optimum)",
    style_function=lambda f: {
        "fillColor": f["properties"]["fill"],
        "fillOpacity": 0.8,
        "color": "#333333",
        "weight": 1,
    },
    tooltip=folium.GeoJsonTooltip(
        fields=["Lot", "company", "surface", "reason"],
        aliases=["Lot", "Entreprise", "Surface", "Raison"],
    ),
).add_to(m)
m
