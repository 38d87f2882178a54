# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Bring your own learner: a tabular Q-learner, attributed
#
# mesabase attributes a divergence between what a learner does and what we intended to
# *outer* causes (the objective, the data, or ties the objective leaves open) or to the
# *inner* learner (it does something no maximiser of its own objective does). Here the
# learner is not mesabase's: a tabular Q-learner with ε-greedy exploration (C. Watkins and
# P. Dayan, "Q-learning", Machine Learning 8, 1992), written below in a few lines, trained
# through the Gymnasium export of two shipped scenarios. A recorder wrapper collects its
# history; its policy is snapshotted every few steps; `attribute_policies` does the rest.
#
# Sizes: `MESABASE_EXAMPLES_SMALL=1` runs a fifth of the steps on 3 seeds. The figure goes
# to `$MESABASE_EXAMPLES_OUT` (default `./examples-output`).

# %%
import os
from pathlib import Path

import gymnasium
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from scipy import stats  # noqa: E402

from mesabase.sims import RecordEpisodes, attribute_policies, get_scenario  # noqa: E402

SMALL = os.environ.get("MESABASE_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("MESABASE_EXAMPLES_OUT", "examples-output"))
SCENARIOS = ("keys-and-chests", "misspecified-reward")
SEEDS = 3 if SMALL else 10
ALPHA, EPSILON = 0.5, 0.1  # step size and exploration rate


# %% [markdown]
# ## The learner
#
# Q-learning: Q(s, a) ← Q(s, a) + α (r + γ max_b Q(s', b) − Q(s, a)), with no bootstrap
# after a terminal state. It acts ε-greedily: π(a|s) = (1 − ε) · 1{a ∈ G(s)} / |G(s)| + ε/A,
# G(s) = argmax_a Q(s, a) as a *set* (exact ties share the greedy mass, so the snapshot is
# the policy that acts, whatever the tie-break). γ is the MDP's, exported by the env.

# %%
def eps_greedy(Q: np.ndarray, eps: float) -> np.ndarray:
    greedy = Q == Q.max(axis=1, keepdims=True)
    return (1 - eps) * greedy / greedy.sum(axis=1, keepdims=True) + eps / Q.shape[1]


def q_learning(env_id: str, steps: int, record_every: int, seed: int):
    """One seed: (recorder history, policy snapshots (R, S, A), recorded steps)."""
    env = RecordEpisodes(gymnasium.make(env_id))
    rng = np.random.default_rng([seed, 1])  # the agent's own stream
    S, A = env.observation_space.n, env.action_space.n
    gamma = env.unwrapped.gamma
    Q = np.zeros((S, A))
    snapshots, recorded = [], []
    s, _ = env.reset(seed=seed)
    for t in range(steps + 1):
        if t % record_every == 0 or t == steps:
            snapshots.append(eps_greedy(Q, EPSILON))
            recorded.append(t)
        if t == steps:
            break
        a = int(rng.choice(A, p=eps_greedy(Q[s][None], EPSILON)[0]))
        s2, r, terminated, truncated, _ = env.step(a)
        target = r + (0.0 if terminated else gamma * Q[s2].max())
        Q[s, a] += ALPHA * (target - Q[s, a])
        s = s2
        if terminated or truncated:
            s, _ = env.reset()
    return env.history, np.stack(snapshots), np.array(recorded)


# %% [markdown]
# ## Train and attribute
#
# Each seed is its own environment (seeded) and agent; the histories and snapshots are
# stacked across seeds. The attribution takes the argmax sets in the tabular class (the
# Q-learner can represent any policy) and the scenario's history objective (certainty
# equivalence: the best policy in the empirical MDP of the agent's own data).

# %%
attributions = []
for name in SCENARIOS:
    sc = get_scenario(name)
    steps = sc.steps // 5 if SMALL else sc.steps
    every = max(steps // 10, 1)
    runs = [q_learning(f"mesabase/{name}-v0", steps, every, seed) for seed in range(SEEDS)]
    histories = [h for h, _, _ in runs]
    policies = np.stack([p for _, p, _ in runs])
    recorded = runs[0][2]
    environments = ("train", "deploy") if sc.deploy is not None else ("train",)
    for environment in environments:
        a = attribute_policies(sc, histories, policies, recorded, environment,
                               learner="q-learning")
        attributions.append(a)
        print(a.summary(), end="\n\n")

# %% [markdown]
# ## Verdicts and the regret decomposition
#
# One panel per scenario and environment: the seed mean of each term of the intended
# regret against the step (band: 95% Student-t interval over seeds).

# %%
table = pd.concat([a.verdicts for a in attributions], ignore_index=True)
print(table[["scenario", "environment", "behaviour", "frac_outer", "frac_inner", "frac_none",
             "verdict"]].to_string(index=False))
print({f"{a.scenario} ({a.environment})": a.scenario_verdict for a in attributions})

TERMS = (("misspecification_gap", "misspecification (outer)"),
         ("data_gap", "data (outer)"), ("ambiguity_gap", "ambiguity (outer)"),
         ("learner_gap", "learner (inner)"), ("total", "total regret"))
fig, axes = plt.subplots(1, len(attributions), figsize=(4 * len(attributions), 3.4),
                         sharey=False, squeeze=False, layout="constrained")
for ax, a in zip(axes[0], attributions, strict=True):
    g = a.gaps.groupby("step")
    for col, label in TERMS:
        m, sd, n = g[col].mean(), g[col].std(ddof=1), g[col].count()
        half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)  # NaN for one seed
        line, = ax.plot(m.index, m.values, label=label, ls=":" if col == "total" else "-")
        if col != "total":
            ax.fill_between(m.index, m - half, m + half, color=line.get_color(), alpha=0.15)
    ax.set_title(f"{a.scenario}\n{a.environment}: verdict {a.scenario_verdict}", fontsize=9)
    ax.set_xlabel("step t")
axes[0, 0].set_ylabel("gap in intended return")
axes[0, -1].legend(fontsize=7)
OUT.mkdir(parents=True, exist_ok=True)
path = OUT / "byo_qlearner.png"
fig.savefig(path, dpi=120)
print(f"figure: {path}")
