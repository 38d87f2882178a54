# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # Property-testing your own claim
#
# A claim about MDPs is a statement for *every* MDP; hypothesis (D. R. MacIver et al.,
# "Hypothesis: a new approach to property-based testing", JOSS 2019) draws many small ones
# and, when the claim fails, shrinks the failing case to a minimal counterexample.
# `mesabase.theory.strategies` draws tabular MDPs and policies; `mesabase.proofs.Claim` and
# `check` wrap a statement, a strategy and a check into a reproducible verdict.
#
# The claims here: potential-based shaping (A. Y. Ng, D. Harada and S. Russell, "Policy
# invariance under reward transformations", ICML 1999) changes no optimal action — and its
# tempting cousin, a bonus per state that is not of potential form, does.
#
# Sizes: `MESABASE_EXAMPLES_SMALL=1` draws 15 MDPs per claim (200 otherwise), derandomised.
# The figure goes to `$MESABASE_EXAMPLES_OUT` (default `./examples-output`).

# %%
import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from mesabase.proofs import Claim, check  # noqa: E402
from mesabase.sims.reports.figures import STYLE  # noqa: E402
from mesabase.theory import TabularMDP, shaping_term, solve, strategies  # noqa: E402

SMALL = os.environ.get("MESABASE_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("MESABASE_EXAMPLES_OUT", "examples-output"))
N = 15 if SMALL else 200
TOL = 1e-8  # stated tolerance on Q-values (the solver's own bound is ~1e-10)

# %% [markdown]
# ## A true claim, tested directly
#
# For any potential Φ(s), F(s, a) = γ Σ_s' P(s'|s, a) Φ(s') − Φ(s) (`shaping_term`) shifts
# the optimal action values by −Φ(s): Q*_{R+F}(s, a) = Q*_R(s, a) − Φ(s), so the *set* of
# optimal actions in every state is unchanged. The check records the largest
# |Q*_{R+F} + Φ − Q*_R| of every drawn case, for the figure.

# %%
cases = st.tuples(strategies.mdps(n_states=st.integers(1, 4), gamma=st.sampled_from((0.5, 0.9))),
                  st.lists(st.integers(-8, 8), min_size=4, max_size=4))
residuals = []


@settings(max_examples=N, derandomize=True, database=None, deadline=None)
@given(cases)
def test_shaping_keeps_the_optimal_sets(case):
    mdp, phi = case
    phi = np.array(phi[:mdp.n_states], dtype=float) / 2
    shaped = TabularMDP(mdp.P, mdp.R + shaping_term(mdp, phi), gamma=mdp.gamma)
    before, after = solve(mdp), solve(shaped)
    residuals.append(np.abs(after.Q + phi[:, None] - before.Q).max())
    assert residuals[-1] <= TOL
    assert (after.optimal == before.optimal).all()


test_shaping_keeps_the_optimal_sets()   # raises (with the shrunk case) if the claim fails
print(f"{len(residuals)} MDPs: max |Q*_(R+F) + Φ − Q*_R| = {max(residuals):.2e} ≤ {TOL}")

# %% [markdown]
# ## A false claim, refuted
#
# "Adding a bonus b(s) to every action of state s changes no optimal action." It sounds
# like shaping but is not of the form γPΦ − Φ: a bonus makes the state itself attractive,
# so the actions leading there gain. `check` returns the shrunk counterexample.

# %%
def bonus_keeps_optimal_sets(case) -> bool:
    mdp, bonus = case
    b = np.array(bonus[:mdp.n_states], dtype=float)[:, None] / 2
    moved = solve(TabularMDP(mdp.P, mdp.R + b, gamma=mdp.gamma))
    return bool((moved.optimal == solve(mdp).optimal).all())


finding = check(Claim("a state bonus changes no optimal action", cases,
                      bonus_keeps_optimal_sets, expected=False), max_examples=N)
print(finding)
mdp, bonus = finding.counterexample
b = np.array(bonus[:mdp.n_states], dtype=float) / 2
print("P =", mdp.P.tolist(), " R =", mdp.R.tolist(), " γ =", mdp.gamma, " b =", b.tolist())
before, after = solve(mdp), solve(TabularMDP(mdp.P, mdp.R + b[:, None], gamma=mdp.gamma))
adv_before = before.Q - before.V[:, None]   # advantage Q*(s, a) − V*(s): 0 on the optimal set
adv_after = after.Q - after.V[:, None]
print("optimal sets before:", before.optimal.tolist(), " after:", after.optimal.tolist())

# %%
with plt.style.context(STYLE, after_reset=True):
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8), layout="constrained")
    r = np.maximum(np.array(residuals), 1e-18)  # an exact 0 drawn at 1e-18
    ax1.hist(np.log10(r), bins=20, color="#0072B2")
    ax1.axvline(np.log10(TOL), color="#D55E00", ls="--", label=f"tolerance {TOL:g}")
    zeros = int((np.array(residuals) == 0).sum())
    ax1.set(title=f"potential shaping, {len(r)} drawn MDPs\n({zeros} residuals exactly 0, "
                  "drawn at $10^{-18}$)",
            xlabel=r"$\log_{10} \max |Q^*_{R+F} + \Phi - Q^*_R|$", ylabel="MDPs")
    ax1.legend()
    S, A = adv_before.shape
    x = np.arange(S * A)
    flat = " (all 0: every action optimal)" if np.all(adv_before == 0) else ""
    ax2.bar(x - 0.2, adv_before.ravel(), 0.4, color="#0072B2", label=f"reward $R${flat}")
    ax2.bar(x + 0.2, adv_after.ravel(), 0.4, color="#D55E00", hatch="//", edgecolor="white",
            label="reward $R + b$")
    ax2.set_xticks(x, [f"s{s}, a{a}" for s in range(S) for a in range(A)])
    ax2.set(title=f"a state bonus: the shrunk counterexample\n($S = {S}$, "
                  f"$\\gamma = {mdp.gamma:g}$, $b = {b.tolist()}$)",
            ylabel="advantage $Q^*(s, a) - V^*(s)$\n(0: an optimal action)")
    ax2.legend()
    OUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT / "own_claim.png", dpi=120)
print(f"figure: {OUT / 'own_claim.png'}")
