"""Modified policy iteration with span bounds: the ``auto`` method for large dense MDPs.

Each full Bellman pass reads all of P (S·A·S numbers); evaluating one fixed policy reads
only its rows, the S × S matrix P_π. So ``auto`` spends as few full passes as it can and
does the rest of the work on P_π (Puterman & Shin 1978; Puterman 1994, §6.5):

    π_0(s) ∈ argmax_a Q₁(s, a),  Q₁ = R + γ P max_b R  (TabularMDP.first_backup: for a large
                                                     P free with the validation pass)
    repeat, for k = 0, 1, …:
        V_k ≈ V^{π_k}:  W ← r_π + γ P_π W  from W = T_π V_{k−1}, span-stopped (below)
        full pass:      Q_k = R + γ P V_k,  d = max_a Q_k − V_k
        stop when       span(d) / (2(1 − γ)) ≤ tol
        π_{k+1}(s) ∈ argmax_a Q_k(s, a), keeping π_k(s) unless another action is better by
                        more than 2·E_Q, the rounding bound of Q̂ (no cycling on
                        floating-point ties; see :mod:`.solvers`)

**The stopping rule bounds the error in V*.** For any V, with d = T V − V,

    V + min(d)/(1 − γ) ≤ V* ≤ V + max(d)/(1 − γ)

(T is monotone and T(V + c) = T V + γc, so T V ≥ V + m implies V* = lim Tⁿ V ≥
V + m/(1 − γ); the same for the upper side). The returned V = V_k + (max d + min d)/(2(1 − γ))
is within span(d)/(2(1 − γ)) of V* in exact arithmetic. Because P has rows on the simplex,
P (V + c) = P V + c, so the returned Q = Q_k + γ (max d + min d)/(2(1 − γ)) is
R + γ P V of the returned V up to rounding, which is bounded (or Q recomputed) by
:func:`~mesabase.theory.solvers.certificate.midpoint_correction`: the final full pass is also the
certificate
(``error_bound`` adds the floating-point term of :mod:`.solvers`). The pass loop also
stops when span(d) is down to the rounding floor and no longer shrinks.

**Partial evaluation.** W_{j+1} = r_π + γ P_π W_j is value iteration on a one-action
problem, so the same bound applies with e = W_{j+1} − W_j: ‖W_{j+1} + γ(max e + min e)/(2(1 − γ))
− V^π‖∞ ≤ γ span(e)/(2(1 − γ)). It stops once that is ≤ tol (1 − γ)/4 — if π_k is optimal
the next full pass then meets ``tol`` — or after ``eval_budget`` sweeps (correctness never
depends on the evaluation: only the full pass's bound decides when to stop).

The outer loop is guaranteed to end for a starting V with T V ≥ V (Puterman 1994,
Thm 6.5.5); from ours it ends in practice in a few passes, and after ``max_passes`` full
passes :func:`modified_policy_iteration` reports failure so that the caller can fall back
to policy iteration (``solve(method="auto")`` does).
"""

from __future__ import annotations

import threading

import numpy as np

from ..evaluation import row_max
from ..mdp import TabularMDP
from . import kernels
from .certificate import UNIT_ROUNDOFF as _U

__all__ = ["modified_policy_iteration"]

_local = threading.local()


def _scratch(S: int) -> np.ndarray:
    """A reusable (S, S) float64 buffer for P_π, one per thread (the last size used).

    Fresh memory is expensive to touch on some machines (each first write of a page is a
    fault: 140 ms for 32 MiB on the benchmark machine, against 2 ms to write it again), so
    repeated solves of same-sized problems reuse this buffer. It holds S² numbers — 1/A of
    P — until the thread ends or a solve of another size replaces it.
    """
    buf = getattr(_local, "P_pi", None)
    if buf is None or buf.shape != (S, S):
        buf = _local.P_pi = np.empty((S, S))
    return buf


#: Policy evaluations with S up to this run as one compiled loop (numba installed): P_π
#: (8 S² bytes, 2 MB at S = 500) is then cache-resident and a BLAS call per sweep costs
#: more in thread wake-ups than the sweep itself (measured: 0.8–8 ms per solve at S = 500).
COMPILED_EVAL_MAX = 1024


def _evaluate_partial(P_pi, r_pi, W, g, eps, budget):
    """Span-stopped W ← r_π + γ P_π W (at most ``budget`` sweeps); returns (W, sweeps).
    It also stops when span(e) stops shrinking: at γ = 0.999 the target span is ≈ 5e-15,
    below the rounding floor, and the sweeps after the stall only cost time (30 sweeps of a
    32 MiB P_π at S = 2000). Only speed depends on where it stops (module docstring).

    The returned W is the midpoint W + γ(max e + min e)/(2(1 − γ)) of the bounds on V^π
    also when the budget runs out (the span of e often stalls at its rounding floor
    before ``eps``): the level of V^π is then right, and the full pass that follows
    needs only a small shift — whose rounding the certificate can bound without another
    pass over P (:func:`~mesabase.theory.solvers.certificate.midpoint_correction`)."""
    c = g / (1.0 - g)
    dense = isinstance(P_pi, np.ndarray)
    if dense and P_pi.shape[0] <= COMPILED_EVAL_MAX:
        out = kernels.policy_sweeps(P_pi, r_pi, W, g, eps, budget)  # None without numba
        if out is not None:
            return out
    buf = np.empty_like(W)
    lo = hi = 0.0
    prev = np.inf
    for j in range(1, budget + 1):
        if dense:
            np.dot(P_pi, W, out=buf)
        else:
            buf[:] = P_pi @ W
        buf *= g
        buf += r_pi
        W, buf = buf, W
        np.subtract(W, buf, out=buf)  # e = W_new − W_old, in the spare buffer
        lo, hi = buf.min(), buf.max()
        if c * (hi - lo) / 2.0 <= eps or hi - lo >= prev:
            return W + c * (hi + lo) / 2.0, j
        prev = hi - lo
    return W + c * (hi + lo) / 2.0, budget


def modified_policy_iteration(mdp: TabularMDP, tol: float, *, max_passes: int = 50,
                              eval_budget: int = 100, tie_rtol: float = 0.0):
    """Modified policy iteration for a discounted (γ < 1) ``mdp``, dense or sparse (module
    docstring; for a sparse P, P_π is the CSR matrix of the policy's S rows).

    Returns ``(V, Q, actions, passes, bound, converged)``: ``bound`` = span(d)/(2(1 − γ))
    of the last full pass, the algorithmic part of the error (the certificate of
    :func:`~mesabase.theory.solve` adds the rounding term); ``Q = R + γ P V`` of the
    returned ``V`` up to rounding; ``actions`` the current greedy policy; ``passes`` the
    number of full Bellman passes over P. When not ``converged`` (``max_passes``
    reached), ``V`` is the last iterate. ``tie_rtol``: an extra relative tie margin
    (default 0: only differences within 2·E_Q, the rounding bound of Q̂, are ties).
    """
    return mpi_with_rounding(mdp, tol, max_passes=max_passes, eval_budget=eval_budget,
                             tie_rtol=tie_rtol)[:6]


def mpi_with_rounding(mdp: TabularMDP, tol: float, *, max_passes: int = 50,
                      eval_budget: int = 100, tie_rtol: float = 0.0, rd=None):
    """:func:`modified_policy_iteration` returning also ``qerr``, a bound on
    |Q − (R + γ P V)| entrywise (None when not converged). With an action mask it runs on
    the copy MDP (:mod:`.masked`); Q is then −inf at disallowed pairs and the actions
    are allowed ones."""
    from .certificate import inf_norm, mdp_rounding, midpoint_correction
    from .masked import copy_index, unmasked_copy

    if mdp.is_masked:
        V, Q, actions, *rest = mpi_with_rounding(unmasked_copy(mdp), tol, max_passes=max_passes,
                                                 eval_budget=eval_budget, tie_rtol=tie_rtol)
        actions = copy_index(mdp.allowed)[np.arange(mdp.n_states), actions]
        return (V, np.where(mdp.allowed, Q, -np.inf), actions, *rest)

    g = mdp.gamma
    if not 0.0 < g < 1.0:
        raise ValueError(f"modified policy iteration needs 0 < gamma < 1; got {g}")
    sparse = mdp.is_sparse
    rd = mdp_rounding(mdp) if rd is None else rd
    fa, fb = rd.floor()
    Pm, R = mdp.P_matrix, mdp.R
    S, A = R.shape
    rows = np.arange(S)
    one_minus = 1.0 - g
    eps = tol * one_minus / 4.0
    Q1 = mdp.first_backup  # R + γ P max_a R (free with validation for a large P)
    actions = np.argmax(Q1, axis=1)
    V = np.zeros(S)
    TV = Q1[rows, actions].copy()  # T_π v₀ for v₀ = max_a R
    changed = True
    P_pi = None if sparse else _scratch(S)
    r_pi = None
    Qbuf = np.empty(S * A)
    Q = Qbuf.reshape(S, A)
    prev = np.inf

    def recompute(W):
        return R + g * (Pm @ W).reshape(S, A)

    for k in range(1, max_passes + 1):
        if changed:
            if sparse:  # the S rows of the CSR matrix: a CSR P_π
                P_pi = Pm[rows * A + actions]
            else:
                np.take(Pm, rows * A + actions, axis=0, out=P_pi, mode="clip")
            r_pi = R[rows, actions]
        V, _ = _evaluate_partial(P_pi, r_pi, TV, g, eps, eval_budget)
        if sparse:
            Qbuf[:] = Pm @ V
        else:
            np.dot(Pm, V, out=Qbuf)
        Qbuf *= g
        Q += R
        TV = row_max(Q)
        d = TV - V
        lo, hi = float(d.min()), float(d.max())
        span = hi - lo
        bound = span / (2.0 * one_minus)
        vnorm = float(inf_norm(V))
        floor = 2.0 * (fa + fb * vnorm) + 4.0 * _U * max(abs(hi), abs(lo))
        if bound <= tol or (span <= floor and span >= prev):
            qerr = float(rd.q_error(vnorm))
            V, Q, qerr = midpoint_correction(rd, V, Q, lo, hi, qerr, recompute)
            if qerr is None:
                qerr = float(rd.q_error(inf_norm(V)))
            return V, Q, actions, k, float(bound), True, qerr
        prev = span
        best = np.argmax(Q, axis=1)
        current = Q[rows, actions]
        theta = 2.0 * float(rd.q_error(vnorm))
        improve = Q[rows, best] > current + theta + tie_rtol * (1.0 + np.abs(current))
        changed = bool(improve.any())
        if changed:
            actions = np.where(improve, best, actions)
            TV = Q[rows, actions]
        else:
            TV = current.copy()
    return V, Q.copy(), actions, max_passes, float(bound), False, None
