"""Exact solvers for tabular MDPs: value iteration, policy iteration, backward induction,
and the dispatcher :func:`solve` (LP methods live in :mod:`.lp`, rational ones in :mod:`.exact`).

Bellman optimality: V*(s) = max_a Q*(s, a),  Q*(s, a) = R[s, a] + γ Σ_s' P[s, a, s'] V*(s').

Every iterative stopping rule here bounds the error in V*, not the size of the last step.
"""

from __future__ import annotations

import numpy as np

from .episodic import _is_episodic, check_episodic
from .evaluation import _stationary_values, bellman_q
from .mdp import TabularMDP
from .solution import Solution, optimal_set

__all__ = ["solve", "value_iteration", "policy_iteration", "backward_induction", "METHODS"]

METHODS = ("auto", "vi", "pi", "lp", "cvxpy", "backward", "exact")
#: Policy iteration keeps the current action unless another beats it by more than this
#: (relative to the scale of Q): floating-point near-ties cannot make it cycle.
TIE_RTOL = 1e-12


def _residual(mdp: TabularMDP, V: np.ndarray) -> float:
    return float(np.max(np.abs(bellman_q(mdp, V).max(axis=1) - V)))


def _finish(mdp, V, Q, tol, method, iterations, error_bound, actions=None, gap=None,
            residual=None) -> Solution:
    optimal, policy = optimal_set(Q, tol)
    if actions is None:
        actions = np.argmax(Q, axis=-1)
    if residual is None:  # Q = R + γ P V of the returned V, so this is ‖T V − V‖∞
        residual = float(np.max(np.abs(Q.max(axis=-1) - V)))
    for a in (V, Q, optimal, policy, actions):
        a.setflags(write=False)
    return Solution(V=V, Q=Q, optimal=optimal, policy=policy, actions=actions, method=method,
                    iterations=int(iterations), residual=float(residual),
                    error_bound=float(error_bound), tol=float(tol), gap=gap)


def _vi_sweeps(mdp, V, tol, max_sweeps):
    """Span-stopped value iteration for γ < 1 (MacQueen 1966; Puterman 1994, Thm 6.6.6).

    With d = V_{k+1} − V_k and c = γ/(1 − γ): V_{k+1} + c·min d ≤ V* ≤ V_{k+1} + c·max d.
    Stop when c·span(d)/2 ≤ tol and return the midpoint V_{k+1} + c·(max d + min d)/2,
    whose error is at most c·span(d)/2. Returns (V, k, bound, converged).
    """
    g = mdp.gamma
    if g == 0.0:
        return mdp.R.max(axis=1), 1, 0.0, True
    c = g / (1.0 - g)
    Pm, R = mdp.P_matrix, mdp.R
    S, A = R.shape
    for k in range(1, max_sweeps + 1):
        V_new = (R + g * np.asarray(Pm @ V).reshape(S, A)).max(axis=1)
        d = V_new - V
        lo, hi = d.min(), d.max()
        bound = c * (hi - lo) / 2.0
        V = V_new
        if bound <= tol:
            return V + c * (hi + lo) / 2.0, k, bound, True
    return V, max_sweeps, bound, False


def value_iteration(mdp: TabularMDP, tol: float = 1e-10, max_sweeps: int = 1_000_000,
                    V0=None) -> Solution:
    """Value iteration V_{k+1} = max_a [R + γ P V_k] with a stopping rule bounding ‖V − V*‖∞.

    γ < 1: the span rule of :func:`_vi_sweeps` guarantees ``error_bound <= tol`` (and the
    Bellman residual is then at most (1 − γ)·tol). γ = 1 (episodic): iterate until the step
    is below tol, then evaluate the greedy policy exactly and continue from its values until
    no action improves on it by more than tol (the policy-iteration optimality test).
    """
    if _is_episodic(mdp):
        terminal, proper = check_episodic(mdp)
        V = np.zeros(mdp.n_states) if V0 is None else np.array(V0, dtype=float)
        sweeps = 0
        while True:
            for _ in range(max_sweeps):
                sweeps += 1
                V_new = bellman_q(mdp, V).max(axis=1)
                V_new[terminal] = 0.0
                step = np.max(np.abs(V_new - V))
                V = V_new
                if step <= tol:
                    break
            pi = _one_hot(np.argmax(bellman_q(mdp, V), axis=1), mdp.n_actions)
            try:
                V_pi = _stationary_values(mdp, pi, mdp.R)
            except Exception:  # greedy policy improper: keep iterating
                continue
            Q = bellman_q(mdp, V_pi)
            if np.all(Q.max(axis=1) - V_pi <= tol):
                return _finish(mdp, V_pi, Q, tol, "vi", sweeps, 0.0)
            V = V_pi
    V = np.zeros(mdp.n_states) if V0 is None else np.array(V0, dtype=float)
    V, k, bound, ok = _vi_sweeps(mdp, V, tol, max_sweeps)
    if not ok:
        raise RuntimeError(
            f"value iteration did not reach tol={tol:g} in {max_sweeps} sweeps "
            f"(error bound {bound:.3g}); use method='pi'"
        )
    return _finish(mdp, V, bellman_q(mdp, V), tol, "vi", k, bound)


def _one_hot(actions: np.ndarray, A: int) -> np.ndarray:
    return (actions[..., None] == np.arange(A)).astype(np.float64)


def policy_iteration(mdp: TabularMDP, tol: float = 1e-10, actions0=None,
                     max_iterations: int = 100_000, method: str = "pi",
                     sweeps_before: int = 0) -> Solution:
    """Howard's policy iteration with exact evaluation (linear solves).

    π_{k+1}(s) ∈ argmax_a Q^{π_k}(s, a), keeping π_k(s) unless another action is better by
    more than TIE_RTOL·(1 + |Q|): it stops when no action improves, and then V^{π_k} = V*
    up to floating-point error (``error_bound = 0``). With γ = 1 it starts from a proper
    policy (see :func:`~mesabase.theory.episodic.check_episodic`) and stays proper.

    Reference: R. A. Howard, *Dynamic Programming and Markov Processes*, MIT Press 1960;
    Puterman (1994), §6.4.
    """
    S, A = mdp.n_states, mdp.n_actions
    if actions0 is not None:
        pi_a = np.asarray(actions0, dtype=np.intp).copy()
        if pi_a.shape != (S,) or (pi_a < 0).any() or (pi_a >= A).any():
            raise ValueError(f"actions0 must be {S} action indices in [0, {A}); got {actions0!r}")
    elif _is_episodic(mdp):
        pi_a = check_episodic(mdp)[1]
    else:
        pi_a = np.argmax(mdp.R, axis=1)
    if _is_episodic(mdp):
        check_episodic(mdp)
    V = None
    rows = np.arange(S)
    for k in range(1, max_iterations + 1):
        V = _stationary_values(mdp, _one_hot(pi_a, A), mdp.R, x0=V)
        Q = bellman_q(mdp, V)
        best = np.argmax(Q, axis=1)
        current = Q[rows, pi_a]
        improve = Q[rows, best] > current + TIE_RTOL * (1.0 + np.abs(current))
        if not improve.any():
            return _finish(mdp, V, Q, tol, method, k + sweeps_before, 0.0, actions=pi_a)
        pi_a = np.where(improve, best, pi_a)
    raise RuntimeError(f"policy iteration did not converge in {max_iterations} iterations")


def _auto_discounted(mdp: TabularMDP, tol: float) -> Solution:
    """Span-stopped value iteration, then — only if it has not converged within a generous
    budget of sweeps, max(2000, 20·S/A), i.e. the cost of several dense linear solves —
    policy iteration warm-started from its greedy policy.

    Why VI first: on chains that mix in a step (random dense rows) it needs a handful of
    sweeps, and on slow-mixing chains policy iteration is no better (it moves a switch
    point about one state per iteration: 363 iterations at S = 500 in BENCHMARKS.md,
    against 2,213 cheap sweeps)."""
    S, A = mdp.n_states, mdp.n_actions
    budget = max(2000, 20 * S // A)
    V, k, bound, ok = _vi_sweeps(mdp, np.zeros(S), tol, budget)
    if ok:
        return _finish(mdp, V, bellman_q(mdp, V), tol, "auto:vi", k, bound)
    actions0 = np.argmax(bellman_q(mdp, V), axis=1)
    return policy_iteration(mdp, tol, actions0=actions0, method="auto:pi", sweeps_before=k)


def backward_induction(mdp: TabularMDP, tol: float = 1e-10) -> Solution:
    """Finite horizon H: V_H = 0, Q_t = R + γ P V_{t+1}, V_t = max_a Q_t, t = H−1, …, 0.

    Exact up to floating point (``error_bound = 0``). Reference: Puterman (1994), §4.5.
    """
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    if H is None:
        raise ValueError("method 'backward' needs a finite horizon; this MDP has horizon=None")
    V = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    for t in range(H - 1, -1, -1):
        Q[t] = bellman_q(mdp, V[t + 1])
        V[t] = Q[t].max(axis=1)
    return _finish(mdp, V, Q, tol, "backward", H, 0.0, residual=0.0)


def solve(mdp: TabularMDP, method: str = "auto", tol: float = 1e-10) -> Solution:
    """Solve ``mdp`` for V*, Q*, the set of optimal actions and a certificate.

    Methods: ``"vi"`` value iteration (span stopping rule: ‖V − V*‖∞ ≤ tol guaranteed),
    ``"pi"`` policy iteration (exact linear solves), ``"lp"`` the primal LP by HiGHS,
    ``"cvxpy"`` the occupancy-measure dual LP, ``"backward"`` backward induction (finite
    horizon), ``"exact"`` rational arithmetic (Fractions in, Fractions out). ``"auto"``
    picks ``"backward"`` for a finite horizon, policy iteration for γ = 1, and otherwise
    span-stopped value iteration, falling back to warm-started policy iteration only past
    a generous budget of sweeps (recorded as ``"auto:vi"`` or ``"auto:pi"``).

    Args:
      mdp: a :class:`TabularMDP` (dense, sparse or exact); an :class:`MDPBatch` is passed
        on to :func:`~mesabase.theory.solve_batch` (methods auto, pi, vi, backward).
      method: one of :data:`METHODS`.
      tol: bound on ‖V − V*‖∞ for iterative methods, and the tolerance defining the
        optimal-action set ``optimal[s, a] = Q[s, a] ≥ max_a' Q[s, a'] − tol``.

    Example:
      >>> import numpy as np
      >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
      >>> mdp = TabularMDP(P, [[0.0, 1.0], [2.0, 2.0]], gamma=0.5)
      >>> sol = solve(mdp)
      >>> sol.V.round(10).tolist(), sol.optimal.tolist()
      ([3.0, 4.0], [[False, True], [True, True]])
    """
    from .batch import MDPBatch, solve_batch

    if isinstance(mdp, MDPBatch):
        return solve_batch(mdp, method, tol)
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not (tol > 0):
        raise ValueError(f"tol must be positive; got {tol!r}")
    if method == "exact":
        from .exact import solve_exact

        return solve_exact(mdp)
    if mdp.horizon is not None:
        if method not in ("auto", "backward"):
            raise ValueError(
                f"method {method!r} solves infinite-horizon problems; this MDP has "
                f"horizon={mdp.horizon}: use 'backward' (or 'exact')"
            )
        return backward_induction(mdp, tol)
    if method == "backward":
        raise ValueError("method 'backward' needs a finite horizon; this MDP has horizon=None")
    if method == "vi":
        return value_iteration(mdp, tol)
    if method == "pi":
        return policy_iteration(mdp, tol)
    if method in ("lp", "cvxpy"):
        from .lp import solve_cvxpy, solve_lp

        return (solve_lp if method == "lp" else solve_cvxpy)(mdp, tol)
    if _is_episodic(mdp):
        return policy_iteration(mdp, tol, method="auto:pi")
    return _auto_discounted(mdp, tol)
