"""The pymdptoolbox traps that benchmarks/solvers.py demonstrates: its LP's reward layout,
and policy iteration cycling on exact ties (not a test)."""

from __future__ import annotations

import sys

import numpy as np

from mesabase.theory import TabularMDP, policy_iteration, solve

try:
    import mdptoolbox.mdp as mdpt
except ImportError:  # pragma: no cover
    sys.exit("pymdptoolbox is needed: pip install -e '.[bench]'")


from harness import (  # noqa: I001 (a sibling script module)
    _run,
    err,
    quiet,
    random_dense,
    reference,
    timed,
    TOL,
    toolbox_P,
)


def lp_trap(seed):
    """pymdptoolbox's LP: constraints stacked by action (row a·S + s), reward vector laid
    out in Fortran order (row s·A + a). It solves the MDP with rewards R'[s, a] =
    R.ravel()[a·S + s] and then applies one Bellman backup with the true R."""
    try:
        import cvxopt  # noqa: F401
    except ImportError:
        return None
    S, A, g = 10, 3, 0.9
    P, R = random_dense(np.random.default_rng([seed, 7]), S, A)
    mdp = TabularMDP(P, R, gamma=g)
    V_star = reference(mdp)[0]
    lp = quiet(lambda: mdpt._LP(toolbox_P(P), R, g))
    quiet(lp.run)
    R_perm = R.ravel().reshape(A, S).T
    V_perm = policy_iteration(mdp.with_reward(R_perm)).V
    predicted = (R + g * (mdp.P_matrix @ V_perm).reshape(S, A)).max(axis=1)
    ours = solve(mdp, method="lp", tol=TOL)
    return {"S": S, "A": A, "g": g, "err": err(lp.V, V_star), "explained": err(lp.V, predicted),
            "ours": err(ours.V, V_star)}


def mirror_mdp(rng, k):
    """State 0 chooses between two mirror-image copies of one random k-state MDP that both
    return to 0: Q*(0, 0) = Q*(0, 1) exactly, but not in floating point."""
    S, A = 1 + 2 * k, 2
    B = rng.random((k, A, k + 1))
    B /= B.sum(axis=2, keepdims=True)
    RB = rng.random((k, A))
    P, R = np.zeros((S, A, S)), np.zeros((S, A))
    for off in (1, 1 + k):
        P[off:off + k, :, off:off + k] = B[:, :, :k]
        P[off:off + k, :, 0] = B[:, :, k]
        R[off:off + k] = RB
    P[0, 0, 1] = P[0, 1, 1 + k] = 1.0
    R[0] = rng.random()
    return P, R


def cycle_trap():
    g = 0.9
    for seed in range(1000):
        rng = np.random.default_rng(seed)
        P, R = mirror_mdp(rng, int(rng.integers(2, 8)))
        probe = mdpt.PolicyIteration(toolbox_P(P), R, g, max_iter=20)
        quiet(probe.run)
        if probe.iter == 20:
            break
    else:
        return None
    mdp = TabularMDP(P, R, gamma=g)
    t, _, pi = timed(lambda: quiet(lambda: _run(mdpt.PolicyIteration(toolbox_P(P), R, g))), 1)
    t2, _, ours = timed(lambda: policy_iteration(mdp), 3)
    return {"seed": seed, "S": mdp.n_states, "iters": pi.iter, "t": t, "ours_t": t2,
            "ours_iters": ours.iterations, "diff": err(pi.V, ours.V)}


# ---- report ----------------------------------------------------------------------------
