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
# # Apprendre la pondération des critères — calibration of the ranking
#
# Le score d'un local pour un besoin est une moyenne pondérée des utilités de sept critères
# (surface, usage, budget, localisation, accès, technique, disponibilité). Les poids par défaut
# sont un avis d'expert. Les **suites données** aux propositions (ouvertes, contactées,
# visitées, refusées, signées) disent ce que les entreprises regardent vraiment : on apprend
# les poids sur ces suites, puis on vérifie, sur des besoins **mis de côté**, que les poids
# appris classent mieux que les poids par défaut (NDCG@10 et rang réciproque moyen, avec leur
# intervalle de confiance à 95 %).
#
# Les suites sont ici **simulées** (`matcher/simulate.py`) : des entreprises fictives dont les
# préférences cachées diffèrent des poids par défaut — l'accès compte plus (la sortie
# d'autoroute pour la logistique, la gare pour un laboratoire), le budget plus, la surface
# moins, la technique pas du tout. Un bon apprentissage doit retrouver ces écarts.
#
# *Calibration with `matcher.calibration` (a pairwise logistic model per need, scikit-learn),
# cross-validated by need (GroupKFold). A smaller catalogue than `make bench-calibration` so
# the notebook runs in the test suite; the figures of the benchmark are in `bench/RESULTS.md`.*

# %%
# Parameters: the size of the demo catalogue, the simulation's seed, the bootstrap draws.
N_PREMISES = 600
N_NEEDS = 600
SEED = 11
N_BOOT = 300

# %%
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from api.matching import build_index
from geodata.demo import load_demo
from geodata.storage import dispose_engine, open_repository
from geodata.territory import load_territory
from matcher.calibration import evaluate, gains_of, outcome_features
from matcher.explain import criterion_label
from matcher.simulate import simulate_outcomes
from matcher.weights import CRITERIA, DEFAULT_WEIGHTS

territory = load_territory("gosb")
with tempfile.TemporaryDirectory() as tmp:
    url = f"sqlite:///{Path(tmp) / 'demo.db'}"
    repo = open_repository(url, migrate=True)
    load_demo(repo, territory=territory, n_premises=N_PREMISES, n_needs=N_NEEDS)
    index = build_index(repo, territory)
    needs = repo.all_needs(active=None)
    repo.dispose()
    dispose_engine(url)
print(f"{N_PREMISES} locaux au catalogue, {len(needs)} besoins")

# %% [markdown]
# ## Les suites simulées
#
# Chaque besoin se voit proposer les 20 premiers locaux du classement par défaut ; chaque
# entreprise simulée ouvre, contacte, visite, signe ou refuse selon ses préférences cachées.

# %%
sim = simulate_outcomes(index, needs, seed=SEED)
STAGES = {
    "shown": "proposé",
    "opened": "ouvert",
    "contacted": "contacté",
    "visited": "visité",
    "rejected": "refusé",
    "signed": "signé",
}
funnel = (
    pd.Series(sim.levels)
    .map(STAGES)
    .value_counts()
    .reindex(list(STAGES.values()), fill_value=0)
    .rename("propositions")
    .to_frame()
)
funnel.index.name = "suite la plus avancée"
print(f"{len(sim.levels)} propositions à {len(set(sim.need_positions.tolist()))} besoins")
funnel

# %% [markdown]
# ## Apprentissage et évaluation sur des besoins mis de côté
#
# Validation croisée en 5 blocs **par besoin** : les besoins évalués n'ont jamais servi à
# apprendre. NDCG@10 vaut 1 quand les locaux que l'entreprise a retenus (contact ou mieux)
# sont en tête ; le rang réciproque moyen (MRR) vaut 1 quand le premier retenu est classé
# premier. L'écart est apparié par besoin.

# %%
X, _ = outcome_features(index, needs, sim.need_positions, sim.premises_ids)
report = evaluate(X, gains_of(sim.levels), sim.need_positions, n_boot=N_BOOT)
NAMES = {"ndcg@10": "NDCG@10", "mrr": "rang réciproque moyen (MRR)"}
metrics = pd.DataFrame(
    [
        {
            "mesure": NAMES[name],
            "poids par défaut": str(d["default"]),
            "poids appris": str(d["learned"]),
            "écart (appris − défaut)": str(d["difference"]),
        }
        for name, d in report.metrics.items()
    ]
).set_index("mesure")
print(f"{report.n_evaluated} besoins évalués hors apprentissage, intervalles à 95 %")
gain = report.metrics["ndcg@10"]["difference"]
verdict = "meilleurs" if gain.low > 0 else "pas meilleurs de façon sûre"
print(f"Les poids appris sont {verdict} que les poids par défaut : NDCG@10 {gain}")
metrics

# %% [markdown]
# ## Les poids ont-ils bougé dans le bon sens ?
#
# Les poids appris (somme 100) à côté des poids par défaut et des préférences cachées de la
# simulation, en moyenne sur les entreprises simulées.

# %%
hidden = sim.hidden_mean
weights = pd.DataFrame(
    {
        "par défaut": [DEFAULT_WEIGHTS[c] for c in CRITERIA],
        "préférences cachées": [hidden[c] for c in CRITERIA],
        "appris": [report.weights[c] for c in CRITERIA],
    },
    index=[criterion_label(c, "fr") for c in CRITERIA],
).round(1)
weights.index.name = "critère"
toward = [
    criterion_label(c, "fr")
    for c in CRITERIA
    if abs(report.weights[c] - hidden[c]) < abs(DEFAULT_WEIGHTS[c] - hidden[c])
]
print(f"Poids rapprochés des préférences cachées : {', '.join(toward)}")
weights

# %%
fig, ax = plt.subplots(figsize=(8, 4))
y = np.arange(len(weights))
for i, (column, colour) in enumerate(
    zip(weights.columns, ("#9aa5b1", "#e07a1f", "#12365a"), strict=True)
):
    ax.barh(y + (i - 1) * 0.27, weights[column], height=0.27, label=column, color=colour)
ax.set_yticks(y, weights.index)
ax.invert_yaxis()
ax.set_xlabel("poids (sur 100)")
ax.set_title("Pondération des critères : par défaut, cachée, apprise")
ax.legend(loc="lower right")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Mettre un modèle en service
#
# Rien ne change le classement en service sans décision : un modèle entraîné est enregistré
# avec sa version, sa taille d'apprentissage, ses mesures et sa date, puis **promu** par
# l'équipe (`implanter model train`, `implanter model list`, `implanter model promote N`, ou
# `POST /staff/models/{n}/promote`). Chaque réponse d'appariement dit quel modèle a classé.
