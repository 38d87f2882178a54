# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Quick start: solve, learn online, attribute
#
# The README's first blocks end to end: a small MDP solved exactly (floats with a
# certificate, and rationals); REINFORCE and the full optimiser trained online on RiverSwim
# beside π*_t, the optimum over the learner's own history; a shipped scenario run and its
# intended regret split into outer and inner terms.
#
# Sizes: `MESABASE_EXAMPLES_SMALL=1` runs a few seeds for a tenth of the steps or less.
# The figure goes to `$MESABASE_EXAMPLES_OUT` (default `./examples-output`).

# %%
import os
from fractions import Fraction
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

from mesabase.sims import FullOptimizer, Reinforce, get_scenario, riverswim, run, simulate  # noqa: E402
from mesabase.sims.reports.figures import STYLE  # noqa: E402
from mesabase.sims.reports.gap_figures import GAP_TERMS, gap_summary  # noqa: E402
from mesabase.theory import TabularMDP, evaluate, expected_return, solve  # noqa: E402

SMALL = os.environ.get("MESABASE_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("MESABASE_EXAMPLES_OUT", "examples-output"))

# %% [markdown]
# ## 1. An MDP, solved
#
# Bellman's optimality equation V*(s) = max_a [R(s, a) + γ Σ_s' P(s'|s, a) V*(s')]. The
# solver returns V*, Q*, the *set* of optimal actions (every action within `sol.tol` of the
# max) and a certificate: a guaranteed bound on ‖V − V*‖∞. With γ = 9/10 as a Fraction,
# `method="exact"` answers in rationals, so the float answer can be checked against it.

# %%
P = np.array([[[1.0, 0.0], [0.0, 1.0]],     # P[s, a, s']
              [[0.0, 1.0], [0.0, 1.0]]])
mdp = TabularMDP(P, R=[[0.0, 1.0], [2.0, 2.0]], gamma=0.9)
sol = solve(mdp)
print("V* =", sol.V, " optimal actions:", sol.optimal.tolist(), " bound:", sol.error_bound)
print("J(π*) =", expected_return(mdp, sol.policy), " V under R' =",
      evaluate(mdp, sol.policy, reward=np.array([[1.0, 0.0], [0.0, 0.0]])))
exact = solve(TabularMDP(P, R=[[0, 1], [2, 2]], gamma=Fraction(9, 10)), method="exact")
print("exact V* =", exact.V)
assert np.all(np.abs(sol.V - np.array(exact.V, dtype=float)) <= sol.error_bound)

# %% [markdown]
# ## 2. Learning online, beside the optimum over its own history
#
# REINFORCE takes one step θ ← θ + α r_t ∇ log π_θ(a_t|s_t) per transition; the full
# optimiser instead acts by π*_t, the certainty-equivalent optimum of everything seen so far.
# Every return below is an exact policy evaluation J(π) = μ0ᵀ V^π (no sampling); the bands
# are 95% Student-t intervals over seeds. Watch REINFORCE's own history soon rank the far
# end first (its π*_t climbs towards J*) while the learner itself lags far behind — a
# learner gap, inner — and the full optimiser lock onto the bank's small sure reward — a
# data gap, outer (`dichotomy.py` attributes both).

# %%
env = riverswim()
steps, seeds = (500, 5) if SMALL else (5000, 40)
runs = {"REINFORCE": simulate(env, Reinforce(lr=0.1), steps=steps, seeds=seeds, shadow="ce",
                              record_every=steps // 20),
        "full optimiser": simulate(env, FullOptimizer("ce", epsilon=0.0), steps=steps,
                                   seeds=seeds, record_every=steps // 20)}
for name, r in runs.items():
    last = r.to_frame().query("step == step.max()")
    print(f"{name}: J(learner) = {last.return_learner.mean():.3f}, J(π*_t) = "
          f"{last.return_shadow.mean():.3f}, J* = {last.return_optimal.iloc[0]:.3f}")

# %% [markdown]
# ## 3. A scenario, attributed
#
# keys-and-chests trains a linear-softmax REINFORCE learner where keys are scarce and
# deploys it where they are plentiful. The intended regret telescopes into
# misspecification + data + ambiguity (outer: the objective and its data) + learner gap
# (inner), each term exact and free of tie-breaks.

# %%
sc = get_scenario("keys-and-chests")
k_steps, k_every = (400, 100) if SMALL else (sc.steps, sc.record_every)
result, attribution = run(sc, seeds=3 if SMALL else 20, steps=k_steps, record_every=k_every)
print(attribution.summary())

# %%
with plt.style.context(STYLE, after_reset=True):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    colours = {"REINFORCE": "#0072B2", "full optimiser": "#D55E00"}
    for name, r in runs.items():
        g = r.to_frame().groupby("step")
        for col, ls, who in (("return_learner", "-", "learner"), ("return_shadow", "--",
                                                                    r"$\pi^*_t$")):
            if name == "full optimiser" and col == "return_shadow":
                continue  # it acts by π*_t: the same curve
            m, sd, n = g[col].mean(), g[col].std(ddof=1), g[col].count()
            half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)  # 95% t-interval
            ax1.plot(m.index, m, ls=ls, color=colours[name], label=f"{name}: {who}")
            ax1.fill_between(m.index, m - half, m + half, color=colours[name], alpha=0.15)
    ax1.axhline(runs["REINFORCE"].to_frame().return_optimal.iloc[0], color="k", ls=":",
                label="optimum $J^*$")
    ax1.set(title="RiverSwim: returns of the policies", xlabel="step $t$",
            ylabel=r"$J(\pi)$, exact")
    ax1.legend(fontsize=8)
    s = gap_summary(attribution.gaps).query("environment == 'deploy'")
    for col, label, colour, ls in GAP_TERMS:
        ax2.plot(s["step"], s[f"{col}_mean"], color=colour, ls=ls, label=label)
        if col != "total":
            ax2.fill_between(s["step"], s[f"{col}_low"], s[f"{col}_high"], color=colour,
                             alpha=0.18, linewidth=0)
    ax2.set(title=f"keys-and-chests (deploy): verdict {attribution.scenario_verdict}",
            xlabel="step $t$", ylabel=r"gap in intended return $J_I$")
    ax2.legend(fontsize=8)
    OUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT / "quick_start.png", dpi=120)
print(f"figure: {OUT / 'quick_start.png'}")
