"""Where policy iteration starts, and ``auto``'s policy-iteration-first path for small
dense problems (:func:`~mesabase.theory.solve`).

The certificate of every solution returned here is :func:`.certificate.certify_solution`'s,
computed from the final V and a fresh Q̂ = R + γ P V: the start and the linear solves only
change how much work is done, never what the error bound means.
"""

from __future__ import annotations

import numpy as np

from ..evaluation import bellman_q, stationary_values
from ..mdp import TabularMDP
from .certificate import Rounding, certify_solution, inf_norm, one_hot

__all__ = ["greedy_start", "pi_first", "PI_FIRST_RATIO", "PI_FIRST_MAX"]


def greedy_start(mdp: TabularMDP) -> np.ndarray:
    """Policy iteration's first policy for γ < 1: greedy for v = max_a R, i.e.
    σ₀(s) ∈ argmax_a R[s, a] + γ Σ_s' P[s, a, s'] max_b R[s', b] — the policy of two steps
    of value iteration from 0 (QuantEcon's start). One pass over P buys, on the dense grid
    of BENCHMARKS.md, one evaluation fewer on 14 of 18 problems (argmax_a R is one step);
    for a large dense P that pass comes free with validation (``TabularMDP.first_backup``)."""
    return np.argmax(mdp.first_backup, axis=1)


def pi_first(mdp: TabularMDP, tol: float, rd: Rounding):
    """``auto`` on small dense problems: policy iteration from :func:`greedy_start` for at most
    :data:`PI_FIRST_MAX` evaluations. Returns ``(solution, None, k)`` when no action improves
    by more than 2·E_Q after k evaluations (the test of
    :func:`~mesabase.theory.policy_iteration`), else ``(None, V, k)`` with V the
    value of the last policy: V = V^σ satisfies T V ≥ T_σ V = V, so value iteration from it
    increases monotonically to V* (the caller goes on from there)."""
    S = mdp.n_states
    rows = np.arange(S)
    act = greedy_start(mdp)
    V = None
    for k in range(1, PI_FIRST_MAX + 1):
        V = stationary_values(mdp, one_hot(act, mdp.n_actions), mdp.R)
        Q = bellman_q(mdp, V)
        qerr = float(rd.q_error(inf_norm(V)))
        best = np.argmax(Q, axis=1)
        improve = Q[rows, best] > Q[rows, act] + 2.0 * qerr
        if not improve.any():
            return certify_solution(mdp, V, Q, tol, "auto:pi", k, actions=act, qerr=qerr,
                                    rd=rd), None, k
        act = np.where(improve, best, act)
    return None, V, PI_FIRST_MAX


#: Without numba, ``auto`` starts small dense problems with policy iteration when
#: S ≤ PI_FIRST_RATIO · A (with numba the compiled MPI and VI loops of :mod:`.kernels` are
#: faster there: 0.20 against 0.33–0.40 ms at S = 100, A = 16, measured):
#: one LU (≈ S³/3 multiply-adds, at BLAS-3 speed) then costs about as much as a few Bellman
#: passes (S²A each), where value iteration needs 7–12 passes even on fast-mixing problems
#: (measured: BENCHMARKS.md). At most PI_FIRST_MAX evaluations, so that a slow-mixing
#: problem (PI moves a switch point about one state per evaluation) goes on by value
#: iteration after a bounded cost.
PI_FIRST_RATIO, PI_FIRST_MAX = 10, 3
