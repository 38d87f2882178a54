# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Learning to learn on bandits: statistics in activations or in weights?
#
# A task is a two-armed Bernoulli bandit whose arm means p are drawn from a prior
# (independent uniform here); an agent plays it for H pulls. Its *Bayes regret* is
#
#     R_H = H · E[max_k p_k] − E[Σ_t p[a_t]],
#
# the expectation over the prior and the pulls. The Bayes-optimal agent solves the
# Bayes-adaptive bandit exactly as a belief MDP (backward induction over the posterior
# counts), so its R_H is known exactly and the Monte-Carlo estimate must straddle it. The
# others: Gittins indices, UCB1, Thompson sampling, greedy; a memoryless softmax learner
# updated by REINFORCE *within* the episode (its statistics live in its weights) from θ₀ = 0,
# from MAML's meta-learned θ₀ (C. Finn et al., "Model-agnostic meta-learning", ICML 2017)
# and from Meta-SGD's θ₀ and step sizes; and a belief-state policy meta-trained by REINFORCE
# (its statistics live in its input: "activations"). All agents play the same tasks with the
# same outcome tables (common random numbers).
#
# Sizes: `MESABASE_EXAMPLES_SMALL=1` runs horizons 2 and 3 on 30 tasks with 3 meta-training
# steps; otherwise the study's defaults (`mesabase run meta-bandits`). The figure goes to
# `$MESABASE_EXAMPLES_OUT` (default `./examples-output`).

# %%
import os
from pathlib import Path

from mesabase.sims.meta import default_agents, meta_bandits, plot_meta_bandits, summarise
from mesabase.sims.meta.study import study_sizes

SMALL = os.environ.get("MESABASE_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("MESABASE_EXAMPLES_OUT", "examples-output"))
sizes = (study_sizes(horizons=(2, 3), n_tasks=30, n_seeds=1, meta_steps=3) if SMALL
         else study_sizes())
print(sizes)

# %% [markdown]
# ## Run: one row per agent × horizon × task × seed
#
# Every random number derives from `seed` by `SeedSequence(seed, spawn_key=...)` keyed by
# values (the horizon, the agent's name), so adding an agent or a horizon changes no other
# number. Meta-learned agents are trained per horizon on the same prior; whether each
# training converged (and how far it ended from Bayes-optimal) is recorded.

# %%
df = meta_bandits(horizons=sizes["horizons"], n_arms=sizes["n_arms"], family=sizes["family"],
                  n_tasks=sizes["n_tasks"], n_seeds=sizes["n_seeds"], seed=sizes["seed"],
                  agents=default_agents(meta_steps=sizes["meta_steps"]))
print(df.head())
training = df.attrs["training"]
print(f"{sum(not r['converged'] for r in training)} of {len(training)} meta-trainings stopped "
      "before their convergence criterion")

# %% [markdown]
# ## Summarise: task-clustered intervals, and the exact check
#
# Rows of one task share p, so the interval is over task means y_j:
# ȳ ± t_{0.975, m−1} s/√m with m tasks. For the Bayes-optimal agent the exact R_H is in the
# table too; the 95% interval should cover it (in about 19 studies of 20).

# %%
summary = summarise(df)
print(summary[["agent", "horizon", "n_tasks", "regret", "ci_low", "ci_high", "exact_regret"]]
      .round(4).to_string(index=False))
ref = summary[summary.agent == "bayes-optimal"]
covered = ((ref.ci_low <= ref.exact_regret) & (ref.exact_regret <= ref.ci_high)).tolist()
print("exact Bayes regret inside the Bayes-optimal agent's interval, per horizon:", covered)

# %%
fig = plot_meta_bandits(summary, training=training)
OUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT / "meta_bandits.png", dpi=120)
print(f"figure: {OUT / 'meta_bandits.png'}")
