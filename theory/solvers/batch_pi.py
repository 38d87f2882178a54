"""Batched policy iteration for :func:`~mesabase.theory.solve_batch`: N discounted MDPs
of one shape, every step a few numpy calls over the whole stack.

Arrays: ``P[n, s, a, s']`` (C-contiguous), ``R[n, s, a]``, one γ < 1, no action mask
(masks are removed before, by the copy MDPs of :mod:`.masked`).

**Start.** Unless a warm start ``actions0`` is given, π_0 is greedy for v_0 = max_a R:

    π_0(s) ∈ argmax_a [ R(s, a) + γ Σ_s' P(s, a, s') v_0(s') ],   v_0(s) = max_a R(s, a)

(the start of QuantEcon's ``DiscreteDP.solve("policy_iteration")``: one Bellman step
from v_0, i.e. one pass over P). It is only a starting policy; it needs no guarantee,
and on random dense models it is usually optimal already, so one evaluation suffices.

**Iteration k** (models whose policy is still changing, the others keep their result):

    evaluation:  V_k = (I − γ P_π)⁻¹ r_π,  P_π[s, s'] = P(s, π(s), s'),  r_π(s) = R(s, π(s))
                 (one ``numpy.linalg.solve`` on the stack of (S, S) systems; row s of
                 I − γ P_π has diagonal 1 − γ P_π[s, s] and off-diagonal mass
                 γ (Σ_s' P_π[s, s'] − P_π[s, s]), so it is strictly diagonally dominant
                 with margin 1 − γ Σ_s' P_π[s, s'] ≥ 1 − γ ρ̄: nonsingular when γ ρ̄ < 1)
    Q̂_k = fl(R + γ fl(P V_k))                       (one batched matmul)
    improvement: π(s) ← argmax_a Q̂_k(s, a) where max_a Q̂_k(s, a) > Q̂_k(s, π(s)) + θ,
                 θ = 2·E_Q(‖V_k‖∞), twice the rounding bound of one Q̂ entry (:mod:`.solvers`)

A model stops when no state improves — or when the new policy is one it has already
evaluated (a cycle can only come from rounding-level switches), then with the greedy
actions of Q̂_k — exactly as :func:`~mesabase.theory.policy_iteration` for one model.

**The certificate does not rest on any of this.** The caller computes it from the
returned (V, Q̂) of each model (``Q̂`` is fl(R + γ fl(P V)) of the returned V, so E_Q
of :mod:`.solvers` bounds its error): the error of the linear solve, a tie below θ or a
non-optimal start all show up in ‖T V − V‖∞ and hence in ``error_bound``.
"""

from __future__ import annotations

import numpy as np

from .certificate import SAFETY_FACTOR as _SAFE
from .certificate import UNIT_ROUNDOFF as _U
from .certificate import Rounding, inf_norm

__all__ = ["q_values", "max_last", "max_argmax_last", "evaluate_policies",
           "batch_policy_iteration"]


def q_values(P: np.ndarray, R: np.ndarray, gamma: float, V: np.ndarray) -> np.ndarray:
    """Q̂[n, s, a] = fl(R[n, s, a] + fl(γ · fl(Σ_s' P[n, s, a, s'] V[n, s']))): one batched
    matmul, then ×γ and +R in place (the operations, hence the rounding, of the
    certificate's Q̂)."""
    N, S, A, _ = P.shape
    Q = np.matmul(P.reshape(N, S * A, S), V[:, :, None]).reshape(N, S, A)
    np.multiply(Q, gamma, out=Q)
    np.add(Q, R, out=Q)
    return Q


def max_last(Q: np.ndarray) -> np.ndarray:
    """``Q.max(axis=-1)`` (the same values: a maximum is exact) by A − 1 elementwise
    maxima over strided views, much faster than a reduction over a short last axis."""
    out = Q[..., 0].copy()
    for a in range(1, Q.shape[-1]):
        np.maximum(out, Q[..., a], out=out)
    return out


def max_argmax_last(Q: np.ndarray):
    """(``Q.max(axis=-1)``, ``Q.argmax(axis=-1)``) by the same elementwise passes as
    :func:`max_last`; ties go to the first action, as for ``argmax`` (Q without NaN)."""
    best = Q[..., 0].copy()
    arg = np.zeros(best.shape, dtype=np.intp)
    for a in range(1, Q.shape[-1]):
        q = Q[..., a]
        np.putmask(arg, q > best, a)
        np.maximum(best, q, out=best)
    return best, arg


def evaluate_policies(P: np.ndarray, R: np.ndarray, gamma: float, actions: np.ndarray,
                      models=None) -> np.ndarray:
    """V^π of the deterministic policies ``actions[i, s]`` of the models ``models`` (all
    when None): solves (I − γ P_π) V = r_π for each, P_π gathered as rows of P."""
    N, S, A, _ = P.shape
    n = np.arange(N) if models is None else models
    flat = ((n[:, None] * S + np.arange(S)) * A + actions).ravel()
    M = P.reshape(N * S * A, S).take(flat, axis=0)  # P_π, a fresh (n·S, S) array
    np.multiply(M, -gamma, out=M)
    M = M.reshape(n.size, S, S)
    M.reshape(n.size, S * S)[:, :: S + 1] += 1.0  # the diagonal: I − γ P_π
    r_pi = R.reshape(-1).take(flat).reshape(n.size, S, 1)
    return np.linalg.solve(M, r_pi)[:, :, 0]


def _revisits(history, models, new):
    """Which of ``models`` (sorted) would move to a policy ``new[i]`` they have already
    evaluated: ``history`` holds (models, their evaluated policies) per past iteration,
    the models sorted and each later set a subset of the earlier ones (a model leaves
    for good)."""
    out = np.zeros(models.size, dtype=bool)
    for seen_models, acts in history:
        out |= (acts[np.searchsorted(seen_models, models)] == new).all(axis=1)
    return out


def batch_policy_iteration(P: np.ndarray, R: np.ndarray, gamma: float, rd: Rounding,
                           actions0=None, max_iterations: int = 10_000):
    """Policy iteration on every model (module docstring). ``rd``: the batch's rounding
    constants (``rd.R_norm`` per model). Returns (V, Q̂, k, actions) with Q̂ computed from
    each model's returned V and k the largest number of evaluations of a model."""
    N, S, A = R.shape
    if actions0 is None:  # greedy for v_0 = max_a R
        actions = max_argmax_last(q_values(P, R, gamma, max_last(R)))[1]
    else:
        actions = np.array(actions0, dtype=np.intp)
        if actions.shape != (N, S) or (actions < 0).any() or (actions >= A).any():
            raise ValueError(f"actions0 must have shape ({N}, {S}) with entries in [0, {A})")
    R_norm = np.broadcast_to(np.asarray(rd.R_norm, dtype=np.float64), (N,))
    c_v = rd.gamma * rd.rho * rd.k
    V = Q = None
    ids = np.arange(N)
    history = []
    for k in range(1, max_iterations + 1):
        full = ids.size == N
        act = actions if full else actions[ids]
        Va = evaluate_policies(P, R, gamma, act, None if full else ids)
        Pa, Ra = (P, R) if full else (P.take(ids, axis=0), R.take(ids, axis=0))
        Qa = q_values(Pa, Ra, gamma, Va)
        if full:
            V, Q = Va, Qa
        else:
            V[ids], Q[ids] = Va, Qa
        best_q, greedy = max_argmax_last(Qa)
        cur = np.take_along_axis(Qa, act[:, :, None], axis=2)[:, :, 0]
        theta = 2.0 * (_U * R_norm[ids] + c_v * inf_norm(Va, axis=1)) * _SAFE
        better = best_q > cur + theta[:, None]
        changed = better.any(axis=1)
        rows = np.flatnonzero(changed)
        if rows.size == 0:
            return V, Q, k, actions
        greedy = greedy[rows]
        new = np.where(better[rows], greedy, act[rows])
        history.append((ids, act.copy() if full else act))
        cycled = _revisits(history, ids[rows], new)
        new[cycled] = greedy[cycled]  # a rounding-level cycle: stop with the greedy actions
        actions[ids[rows]] = new
        ids = ids[rows[~cycled]]
        if ids.size == 0:
            return V, Q, k, actions
    raise RuntimeError(f"batched policy iteration did not converge in {max_iterations} iterations")
