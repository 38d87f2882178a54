# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Revealed objectives: which rewards does a policy optimise?
#
# A trained policy need not pursue the reward it was trained on. What it *reveals* is the
# set of rewards under which its actions are optimal, a polyhedral cone (A. Y. Ng and
# S. Russell, "Algorithms for inverse reinforcement learning", ICML 2000, Theorem 3):
#
#     𝓡(π, ε) = {R : every a with π(a|s) ≥ ε is optimal in s under R}
#             = {R : Q^{π_ε}_R(s, a) ≥ Q^{π_ε}_R(s, a') for a in the support, a' ≠ a},
#
# linear in R because Q^{π_ε}_R = R + γ P (I − γ P_{π_ε})⁻¹ R_{π_ε}. `revealed_rewards`
# builds it; `contains` decides membership by one policy evaluation (with a rounding or
# exact certificate); `distance`, `max_margin` and `trivial` solve linear programs.
#
# Sizes: `MESABASE_EXAMPLES_SMALL=1` solves the gridworld's LP for at most 8 deterministic
# tie-breaks of its optimal policy (all, up to 256, otherwise). The figure goes to
# `$MESABASE_EXAMPLES_OUT` (default `./examples-output`).

# %%
import os
from pathlib import Path

import numpy as np

from mesabase.sims import get_scenario
from mesabase.sims.reports.revealed_figures import plot_revealed_gridworld
from mesabase.theory import ng_russell_gridworld, revealed_rewards, shaping_term

SMALL = os.environ.get("MESABASE_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("MESABASE_EXAMPLES_OUT", "examples-output"))

# %% [markdown]
# ## Two behaviours in the exploration trap
#
# The exploration trap is RiverSwim (6 states, γ = 0.95): swimming left at the bank pays a
# small sure reward, swimming right against the current eventually reaches the far end,
# which pays 1 per step; the intended reward R_I is the base reward. Two deterministic
# behaviours: *bank* (always left: what the full optimiser locks onto when its data have
# never shown the far end) and *upstream* (always right). Which rewards does each reveal?

# %%
sc = get_scenario("exploration-trap")
mdp, S = sc.train.mdp, sc.train.n_states
bank = revealed_rewards(mdp, np.zeros(S, dtype=int))     # one-hot (s, a) rewards
upstream = revealed_rewards(mdp, np.ones(S, dtype=int))
print(bank)
for name, R in (("intended R_I", sc.R_I), ("bank's reward only", sc.proxies["bank-reward"]),
                ("far end's only", sc.proxies["far-reward"])):
    for who, rs in (("bank", bank), ("upstream", upstream)):
        m = rs.contains(R)   # exact rational margins on a problem this small
        how = "exact" if m.exact is not None else "certified" if m.certain else "within tol"
        print(f"{name:>18} optimal for {who:>8}? {m.member!s:5} (min margin {m.margin:+.4f}, "
              f"{how})")

# %% [markdown]
# How wrong would R_I have to be for the bank to be the right thing to do? `distance` is the
# smallest ℓ1 change to R_I that puts it in 𝓡(bank): the far end's reward must shrink to
# almost nothing. The cone is also blind to potential shaping R + γPΦ − Φ (Ng, Harada and
# Russell, ICML 1999): a revealed reward is identified at best up to shaping and scale.

# %%
near = bank.distance(sc.R_I, "l1")
print(f"ℓ1 distance from R_I to 𝓡(bank): {near.value:.4f}; changed entries (s, a): "
      + ", ".join(f"{tuple(map(int, i))}: {sc.R_I[tuple(i)]:g} → {near.reward[tuple(i)]:.4f}"
                  for i in np.argwhere(np.abs(near.reward - sc.R_I) > 1e-9)))
shaped = sc.R_I + shaping_term(mdp, np.linspace(-3.0, 3.0, S))
print("R_I + shaping optimal for upstream?", upstream.contains(shaped).member,
      "| only degenerate rewards in 𝓡(upstream)?", upstream.trivial())
softmax = np.full((S, 2), 0.5)   # a policy playing every action: every reward must tie
print("uniform policy, ε = 1e-9: trivial?", revealed_rewards(mdp, softmax).trivial())

# %% [markdown]
# ## Ng & Russell's gridworld, reproduced
#
# A 5×5 grid, reward 1 in the upper-right square, moves that slip with probability 0.3.
# The optimal policy (its optimal *set*, solved in rationals) is handed to their LP over
# state rewards, max Σ_s min_{a' ∉ opt(s)} margin − λ‖R‖₁ subject to the cone and
# |R| ≤ R_max, with λ = 0 and with their penalty. Squares whose value is not forced by the
# LP's optimal face are hatched and show their range: never a tie-broken number.

# %%
result = ng_russell_gridworld(max_tie_breaks=8 if SMALL else 256)
print(f"γ = {result.gamma:g}, λ = {result.l1:g}: Pearson r with the true reward "
      f"{result.correlation:.3f} (λ = 0: {result.correlation_no_penalty:.3f}); over the "
      f"{result.tie_breaks[0]} of {result.tie_breaks[1]} deterministic tie-breaks r ∈ "
      f"[{result.tie_break_correlations[0]:.3f}, {result.tie_break_correlations[1]:.3f}]")
fig = plot_revealed_gridworld(result)
OUT.mkdir(parents=True, exist_ok=True)
fig.savefig(OUT / "revealed_objectives.png", dpi=120)
print(f"figure: {OUT / 'revealed_objectives.png'}")
