"""benchmarks/peers.py --profile: where mesabase's solve spends its time on the cases where
it is behind QuantEcon (model construction, policy evaluation, sweeps)."""

from __future__ import annotations

import os
import statistics
import time

import numpy as np
from harness import (  # noqa: I001 (a sibling script module)
    ft,
    random_sparse,
    table,
)
from peers_contenders import TOL, dirichlet_dense, warm_up  # noqa: E402 (a sibling module)
from quantecon.markov import DiscreteDP  # noqa: E402 (peers_contenders checked it is there)

from mesabase.theory import TabularMDP, policy_iteration, solve
from mesabase.theory.evaluation import bellman_q


# ---- profile (--profile) ---------------------------------------------------------------
def _med(f, k=5):
    f()
    ts = []
    for _ in range(k):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def _top(f, n=8) -> list[list]:
    """cProfile of one call of f: the n functions with the most own time."""
    import cProfile
    import pstats

    pr = cProfile.Profile()
    pr.enable()
    f()
    pr.disable()
    st = pstats.Stats(pr)
    rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:n]
    return [[f"`{os.path.basename(fn)}:{line} {name}`", cc, ft(tt), ft(ct)]
            for (fn, line, name), (cc, nc, tt, ct, _) in rows]


def profile_case(S, A, g, seed=0, k=5):
    """Where solve(TabularMDP(P, R, gamma)) spends its time on one dense case (Markdown)."""
    from mesabase.theory.checks import real_array
    from mesabase.theory.evaluation import policy_matrix
    from mesabase.theory.mdp import check_distribution
    from mesabase.theory.solvers.certificate import mdp_rounding, one_hot

    P, R = dirichlet_dense(np.random.default_rng([seed, S, A]), S, A)
    load = os.getloadavg()[0]
    mdp = TabularMDP(P, R, gamma=g)
    rows = np.arange(S)
    t = {}
    t["TabularMDP(P, R, gamma) total (copying P)"] = _med(lambda: TabularMDP(P, R, gamma=g), k)
    t["TabularMDP(P, R, gamma, copy=False) total"] = _med(
        lambda: TabularMDP(P, R, gamma=g, copy=False), k)
    t["  real_array(P) (asarray, no copy)"] = _med(lambda: real_array(P, "P"), k)
    t["  check_distribution(P): row sums + sign, one pass"] = _med(
        lambda: check_distribution("P", P, ""), k)
    t["  own C-order copy of P"] = _med(lambda: np.array(P, dtype=np.float64, order="C"), k)
    t["QuantEcon DiscreteDP(R, P, γ)"] = _med(lambda: DiscreteDP(R, P, g), k)
    t["solve(mdp, 'auto') on a built mdp"] = _med(lambda: solve(mdp, tol=TOL), k)
    t["solve(mdp, 'vi') on a built mdp"] = _med(lambda: solve(mdp, "vi", tol=TOL), k)
    t["solve(mdp, 'pi') on a built mdp"] = _med(lambda: solve(mdp, "pi", tol=TOL), k)
    greedy = np.argmax(bellman_q(mdp, R.max(axis=1)), axis=1)
    pi_g = policy_iteration(mdp, TOL, actions0=greedy)
    t[f"policy_iteration from greedy(max_a R) ({pi_g.iterations} it, the default start)"] = \
        _med(lambda: policy_iteration(mdp, TOL, actions0=greedy), k)
    sol = solve(mdp, "pi", tol=TOL)
    act = sol.actions
    pi = one_hot(act, A)
    t["mdp_rounding(mdp)"] = _med(lambda: mdp_rounding(mdp), k)
    t["one PI step: policy_matrix (one-hot π: np.take)"] = _med(lambda: policy_matrix(mdp, pi), k)
    t["one PI step: P[s, σ(s), :] by np.take (QuantEcon: fancy index)"] = _med(
        lambda: np.take(mdp.P_matrix, rows * A + act, axis=0), k)
    Pp = np.take(mdp.P_matrix, rows * A + act, axis=0)
    t["one PI step: np.eye(S) − γ P_π"] = _med(lambda: np.eye(S) - g * Pp, k)
    M = np.eye(S) - g * Pp
    rp = R[rows, act]
    t["one PI step: np.linalg.solve (LU)"] = _med(lambda: np.linalg.solve(M, rp), k)
    t["one PI step: bellman_q (a full pass over P)"] = _med(lambda: bellman_q(mdp, sol.V), k)
    out = [f"#### S = {S}, A = {A}, γ = {g} (load {load:.2f} → {os.getloadavg()[0]:.2f}; "
           f"medians of {k})", "", table(["what", "time"], [[w, ft(v)] for w, v in t.items()]),
           "", "cProfile of `solve(TabularMDP(P, R, gamma=γ), tol=1e-8)` (auto), top own time:",
           "", table(["function", "calls", "own", "cumulative"],
                     _top(lambda: solve(TabularMDP(P, R, gamma=g), tol=TOL))), ""]
    return "\n".join(out)


def profile_sparse(g=0.99, seed=0, k=5):
    S, A, kk = 10_000, 4, 5
    Pm, R = random_sparse(np.random.default_rng([seed, S, kk]), S, A, kk)
    s_idx, a_idx = np.repeat(np.arange(S), A), np.tile(np.arange(A), S)
    load = os.getloadavg()[0]
    mdp = TabularMDP(Pm, R, gamma=g)
    V = np.zeros(S)
    t = {"TabularMDP(Pm, R, gamma) (CSR)": _med(lambda: TabularMDP(Pm, R, gamma=g), k),
         "solve(mdp, 'auto') on a built mdp": _med(lambda: solve(mdp, tol=TOL), k),
         "one full pass P_matrix @ V": _med(lambda: mdp.P_matrix @ V, k),
         "QuantEcon DiscreteDP (sa-pair form)": _med(
             lambda: DiscreteDP(R.ravel(), Pm, g, s_idx, a_idx), k),
         "QuantEcon MPI solve (built model)": _med(
             lambda: DiscreteDP(R.ravel(), Pm, g, s_idx, a_idx).solve(
                 "modified_policy_iteration", epsilon=2e-8), k)}
    sol = solve(mdp, tol=TOL)
    out = [f"#### Sparse S = 10⁴, A = 4, γ = {g} (load {load:.2f}; medians of {k}; auto: "
           f"{sol.method} {sol.iterations})", "",
           table(["what", "time"], [[w, ft(v)] for w, v in t.items()]), "",
           "cProfile of `solve(TabularMDP(Pm, R, gamma=γ), tol=1e-8)`, top own time:", "",
           table(["function", "calls", "own", "cumulative"],
                 _top(lambda: solve(TabularMDP(Pm, R, gamma=g), tol=TOL))), ""]
    return "\n".join(out)


def profile(cases) -> str:
    warm_up()
    parts = [profile_case(*c) for c in cases]
    parts.append(profile_sparse())
    return "\n".join(parts)


