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
# # Un besoin, pas à pas — a matching walkthrough
#
# Ce que le moteur fait d'un besoin d'entreprise : les critères obligatoires écartent ce qui
# ne peut pas convenir, chaque local restant reçoit une utilité entre 0 et 1 par critère, et le
# score sur 100 est leur moyenne pondérée. Chaque résultat s'explique en français (et en
# anglais). Quand trop peu de locaux conviennent, le moteur dit quelle contrainte assouplir,
# de combien, et pour combien de locaux de plus.
#
# *A need, its ranked results with per-criterion utilities and reasons in French, then a
# stricter need that few premises meet and the relaxations the engine suggests. By default on
# the fictitious demo catalogue, built in a temporary SQLite file.*

# %%
# Parameters: a database URL (e.g. "sqlite:////path/to/var/implanter.db"), or None for the
# demo catalogue; the demo's seed.
DATABASE_URL: str | None = None
SEED = 2018

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from api.matching import build_index
from geodata.demo import load_demo
from geodata.schemas import NeedIn, label
from geodata.storage import open_repository
from geodata.territory import default_territory
from matcher import CRITERIA, DEFAULT_WEIGHTS, match
from matcher.explain import criterion_label

territory = default_territory()
if DATABASE_URL is None:
    workdir = tempfile.TemporaryDirectory(prefix="implanter-notebook-")  # removed at exit
    repo = open_repository(f"sqlite:///{Path(workdir.name) / 'demo.db'}", migrate=True)
    load_demo(repo, territory=territory, seed=SEED)
else:
    repo = open_repository(DATABASE_URL)
index = build_index(repo, territory)
print(f"{index.n_rows} locaux dans l'index de recherche")

# %% [markdown]
# ## Le besoin — the need
#
# Un grossiste en fruits et légumes (fictif) cherche 800 à 1 200 m² d'entrepôt à louer, au
# plus 90 €/m²/an, près du MIN de Rungis. Surface, usage et budget sont obligatoires (les
# valeurs par défaut) ; la proximité du MIN est préférée, donc notée sans exclure.

# %%
need = NeedIn(
    company_name="Primeurs Démo",
    surface_min_m2=800,
    surface_max_m2=1200,
    uses=["logistics"],
    tenure="rent",
    max_rent_eur_m2_year=90,
    places=[{"label": "MIN de Rungis", "lon": 2.355, "lat": 48.759}],
)
print("Critères obligatoires :", ", ".join(criterion_label(c, "fr") for c in need.required))
print("Usages :", ", ".join(label(u) for u in need.uses))

# %% [markdown]
# ## Les résultats classés — ranked results
#
# Une colonne par critère que le besoin utilise : l'utilité (0 à 1) du local pour ce critère.
# Les critères dont le besoin ne dit rien (ici l'accès, la technique, la disponibilité) ne
# comptent pas.

# %%
result = match(index, need, k=10)
used = [c for c in CRITERIA if c in result.results[0].utilities]
ranked = pd.DataFrame(
    {
        "Rang": [r.rank for r in result.results],
        "Local": [r.title for r in result.results],
        "Score (/100)": [round(r.score, 1) for r in result.results],
        **{
            f"Utilité : {criterion_label(c, 'fr')}": [
                round(r.utilities[c], 2) for r in result.results
            ]
            for c in used
        },
        "Complétude de l'annonce": [f"{r.completeness:.0%}" for r in result.results],
    }
).set_index("Rang")
d = result.diagnostics
print(f"{d.n_matching} locaux passent les critères obligatoires, sur {d.n_matchable} disponibles")
utility_columns = [c for c in ranked.columns if c.startswith("Utilité")]
(
    ranked.style.format(subset=["Score (/100)"], precision=1, decimal=",")
    .format(subset=utility_columns, precision=2, decimal=",")
    .set_caption(f"Les {len(ranked)} premiers locaux pour {need.company_name}")
)

# %% [markdown]
# ## D'où vient le score — where the score comes from
#
# Le score est `100 × Σ poids × utilité / Σ poids` sur les critères utilisés. La figure
# montre la part de chaque critère dans le score des dix premiers : un critère mal satisfait
# laisse un vide à droite de la barre.

# %%
weights = {**DEFAULT_WEIGHTS, **(need.weights or {})}
total_weight = sum(weights[c] for c in used)
points = pd.DataFrame(
    {
        criterion_label(c, "fr"): [
            100 * weights[c] * r.utilities[c] / total_weight for r in result.results
        ]
        for c in used
    },
    index=[f"{r.rank}. {r.title}" for r in result.results],
)
# The decomposition is the engine's score, to the rounding.
assert np.allclose(points.sum(axis=1), [r.score for r in result.results], atol=0.01)

fig, ax = plt.subplots(figsize=(11, 5))
points.iloc[::-1].plot.barh(stacked=True, ax=ax, width=0.75, colormap="tab10")
ax.set_xlim(0, 100)
ax.set_xlabel("Points du score (sur 100)")
ax.set_title("Contribution de chaque critère au score des dix premiers locaux")
ax.legend(title="Critère", loc="upper left", bbox_to_anchor=(1.01, 1.0))
fig.tight_layout()
plt.show()

# %% [markdown]
# ## Les raisons, en français — the reasons
#
# Rendues par `matcher/explain.py` à partir des raisons sous forme de données
# (`reason_details` : critère, code, paramètres) ; `match(..., lang="en")` les donne en anglais.

# %%
for r in result.results[:3]:
    print(f"{r.rank}. {r.title} — {r.score:.0f}/100")
    for reason in r.reason_details:
        print(f"   • {criterion_label(reason['criterion'], 'fr')} : {reason['text']['fr']}")
    print()

# %% [markdown]
# ## Quand trop peu de locaux conviennent — relaxation
#
# Le même grossiste veut maintenant 800 à 1 000 m², au plus 75 €/m²/an, et seulement à
# Rungis ou Chevilly-Larue (la commune devient obligatoire). Le moteur dit combien de locaux
# chaque critère obligatoire écarte, puis propose les assouplissements les moins coûteux
# (coût : la part du critère dans les poids du besoin × l'ampleur du changement).

# %%
strict = NeedIn.model_validate(
    {
        **need.model_dump(),
        "surface_max_m2": 1000,
        "max_rent_eur_m2_year": 75,
        "communes": [territory.commune_code(c) for c in ("Rungis", "Chevilly-Larue")],
        "required": ["surface", "use", "budget", "location"],
    }
)
few = match(index, strict, k=10)
d = few.diagnostics
print(f"{d.n_matching} locaux seulement passent les critères obligatoires (10 demandés)")
pd.DataFrame(
    {
        "Écartés par ce critère": d.excluded,
        "Écartés par ce seul critère": d.excluded_only,
    }
).rename(index=lambda c: criterion_label(c, "fr")).rename_axis("Critère obligatoire")

# %%
print("Assouplissements proposés, du moins coûteux au plus coûteux :")
for rx in few.relaxations:
    print(f"  • {rx.text['fr']}")
pd.DataFrame(
    {
        "Critère": [criterion_label(rx.criterion, "fr") for rx in few.relaxations],
        "Locaux de plus": [rx.brings for rx in few.relaxations],
        "Coût": [round(rx.cost, 3) for rx in few.relaxations],
    }
)

# %% [markdown]
# On applique la première suggestion (le changement est donné tel qu'il s'applique au besoin,
# `need_update`) et on relance la recherche.

# %%
first = few.relaxations[0]
relaxed = NeedIn.model_validate({**strict.model_dump(), **first.need_update})
again = match(index, relaxed, k=10)
print(
    f"Avant : {few.diagnostics.n_matching} locaux ; après « {first.text['fr']} » : "
    f"{again.diagnostics.n_matching} locaux"
)
assert again.diagnostics.n_matching == few.diagnostics.n_matching + first.brings
pd.DataFrame(
    {
        "Local": [r.title for r in again.results],
        "Score (/100)": [round(r.score, 1) for r in again.results],
        "Nouveau": ["oui" if r.listing_id not in set(few.ids) else "" for r in again.results],
    },
    index=pd.Index([r.rank for r in again.results], name="Rang"),
)
