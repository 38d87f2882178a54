# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # The seed's dichotomy in one environment
#
# If an online learner shows a bad behaviour B, either **some** maximiser π*_t of the
# objective over its own history L_t shows B too (the objective and its data select B:
# *outer*), or none does and only the incremental learner shows it (*inner*). The
# exploration trap (RiverSwim, 6 states, γ = 0.95) shows both failures in one environment:
#
# * the **full optimiser** acts by the certainty-equivalent π*_t. Untried actions are
#   worth the prior mean 0 in its model, so once the bank has paid 0.005 it stays there:
#   the behaviour `stays-at-bank` is in π*_t — outer, a *data* gap;
# * **REINFORCE** (θ ← θ + α r ∇ log π) keeps exploring, so its own history ranks the far
#   end first and π*_t on that history swims upstream — yet the learner itself still sits
#   at the bank: inner, a *learner* gap.
#
# Sizes: `MESABASE_EXAMPLES_SMALL=1` runs 4 seeds (20 otherwise) at the scenario's 3000
# steps. The figure goes to `$MESABASE_EXAMPLES_OUT` (default `./examples-output`).

# %%
import os
from pathlib import Path

import pandas as pd

from mesabase.sims import get_scenario, run
from mesabase.sims.reports.dichotomy import plot_dichotomy

SMALL = os.environ.get("MESABASE_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("MESABASE_EXAMPLES_OUT", "examples-output"))
SEEDS = 4 if SMALL else 20

# %% [markdown]
# ## Both learners, the same environment, attributed
#
# `run` simulates and attributes. At each recorded step t the intended regret telescopes,
# with [m, M] and [m_t, M_t] the ranges of J_I over the argmax sets of the base objective
# (full information) and of L_t, and c = clip(J_I(π_θt), m_t, M_t):
#
#     J_I(π_I*) − J_I(π_θt) = (J_I(π_I*) − M) + (M − M_t) + (M_t − c)  +  (c − J_I(π_θt))
#                              misspecification   data      ambiguity      learner (inner)
#
# and a behaviour b (here J_b = discounted fraction of time taking the bank's reward, shown
# at J_b ≥ θ_b = ½) is *outer* in a seed when its maximum over argmax L_t reaches θ_b.

# %%
sc = get_scenario("exploration-trap")
attributions = {}
for learner in ("full", "reinforce"):
    _, a = run(sc, learner=learner, seeds=SEEDS)
    attributions[learner] = a
    print(a.summary(), end="\n\n")

final = pd.concat([a.final.assign(learner=name) for name, a in attributions.items()])
print(final.groupby("learner")[["data_gap", "learner_gap", "total"]].mean().round(3) + 0.0)
print(pd.concat([a.verdicts for a in attributions.values()])[
    ["learner", "behaviour", "frac_outer", "frac_inner", "frac_none", "n_seeds", "verdict"]]
    .to_string(index=False))

# %% [markdown]
# ## The dichotomy figure
#
# Each seed at the final step is a point: x = max over argmax L_t of J_b / θ_b (what *some*
# maximiser of the learner's own objective does), y = J_b(π_θt) / θ_b (what the learner
# does). Right of x = 1 is outer, left of it and above y = 1 inner, below both none. The
# same figure as `mesabase demo`'s `dichotomy.png`, drawn from the attributions'
# `behaviours` tables.

# %%
points = pd.concat([a.behaviours[a.behaviours.step == a.final.step.max()]
                    for a in attributions.values()], ignore_index=True)
fig = plot_dichotomy(points)
OUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT / "dichotomy.png", dpi=120)
print(f"figure: {OUT / 'dichotomy.png'}")
