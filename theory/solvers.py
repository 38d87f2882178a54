"""Exact solvers for tabular MDPs: value iteration, policy iteration, backward induction,
and the dispatcher :func:`solve` (LP methods live in :mod:`.lp`, rational ones in :mod:`.exact`).

Bellman optimality: V*(s) = max_a Q*(s, a),  Q*(s, a) = R[s, a] + γ Σ_s' P[s, a, s'] V*(s').

Every iterative stopping rule here bounds the error in V*, not the size of the last step.
"""

from __future__ import annotations

import numpy as np

from . import kernels
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

    Sweep k computes Q_k = R + γ P V_k and d = max_a Q_k − V_k = T V_k − V_k. For any V,
    V + min(d)/(1 − γ) ≤ V* ≤ V + max(d)/(1 − γ) (T is monotone and T(V + c) = T V + γc).
    Stop when span(d)/(2(1 − γ)) ≤ tol and return the midpoint
    V = V_k + (max d + min d)/(2(1 − γ)), whose error is at most that bound, with
    Q = Q_k + γ (max d + min d)/(2(1 − γ)): since P's rows sum to 1, that is exactly
    R + γ P V of the returned V, so the certificate costs no extra pass over P.
    Returns (V, Q, k, bound, converged); when not converged, V = T V_{k−1} and Q = Q_{k−1}.
    """
    g = mdp.gamma
    S, A = mdp.R.shape
    if g == 0.0:
        return mdp.R.max(axis=1), mdp.R.copy(), 1, 0.0, True
    two_1mg = 2.0 * (1.0 - g)
    Pm, R = mdp.P_matrix, mdp.R
    dense = isinstance(Pm, np.ndarray)
    if dense and S * S * A <= kernels.SMALL_SIZE:
        out = kernels.vi_small(Pm, R, g, V, tol, max_sweeps)  # None without numba
        if out is not None:
            return out
    buf = np.empty(S * A)
    Q = buf.reshape(S, A)
    V = np.array(V, dtype=np.float64)
    for k in range(1, max_sweeps + 1):
        if dense:
            np.dot(Pm, V, out=buf)
        else:
            buf[:] = Pm @ V
        buf *= g
        Q += R
        TV = Q.max(axis=1)
        d = TV - V
        lo, hi = d.min(), d.max()
        bound = (hi - lo) / two_1mg
        if bound <= tol:
            shift = (hi + lo) / two_1mg
            return V + shift, Q + g * shift, k, bound, True
        V = TV
    return V, Q, max_sweeps, bound, False


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
    V, Q, k, bound, ok = _vi_sweeps(mdp, V, tol, max_sweeps)
    if not ok:
        raise RuntimeError(
            f"value iteration did not reach tol={tol:g} in {max_sweeps} sweeps "
            f"(error bound {bound:.3g}); use method='pi'"
        )
    return _finish(mdp, V, Q, tol, "vi", k, bound)


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


#: ``auto`` tries modified policy iteration first on dense problems with S·A·S at least
#: this (below it, per-call overheads make plain value iteration faster: BENCHMARKS.md)
#: and at least MPI_MIN_ACTIONS actions. Its evaluation sweeps read 1/A of P each, so it
#: costs about 2 + 20/A full passes on fast-mixing problems against value iteration's 7–9:
#: with A = 4 the two tie (measured), with A = 16 MPI is twice as fast.
MPI_MIN_SIZE, MPI_MIN_ACTIONS = 40_000, 6
#: ... for at most this many full passes, evaluating each policy by at most this many sweeps
#: over P_π; problems whose policies mix slowly exhaust these and go on by value iteration.
MPI_PASSES, MPI_EVAL_BUDGET = 4, 30


def _auto_discounted(mdp: TabularMDP, tol: float) -> Solution:
    """Dense problems with S·A·S ≥ MPI_MIN_SIZE and A ≥ MPI_MIN_ACTIONS (and beyond the
    compiled kernel's :data:`~mesabase.theory.kernels.SMALL_SIZE` when numba is installed):
    modified policy iteration (:mod:`.mpi`) for up to MPI_PASSES full passes over P. Then
    (or at once, for other problems) span-stopped value iteration from where it stopped,
    and — only if that has not converged within a generous budget of sweeps,
    max(2000, 20·S/A), i.e. the cost of several dense linear solves — policy iteration
    warm-started from its greedy policy. Every path stops on a bound of ‖V − V*‖∞ ≤ tol
    (or is exact).

    Why this order: on problems whose rows mix in a step (random dense rows) modified policy
    iteration needs two full passes over P where value iteration needs six to nine; on
    slow-mixing chains both policy-iteration variants move a switch point about one state
    per pass (363 passes at S = 500 in BENCHMARKS.md), where value iteration takes 2,213
    sweeps that each cost one pass — so MPI gets a few passes, then VI takes over."""
    from .mpi import modified_policy_iteration

    S, A = mdp.n_states, mdp.n_actions
    V0, k0 = np.zeros(S), 0
    size = S * S * A
    compiled = size <= kernels.SMALL_SIZE and kernels.available()
    if not mdp.is_sparse and size >= MPI_MIN_SIZE and A >= MPI_MIN_ACTIONS and not compiled:
        V, Q, _, k0, bound, ok = modified_policy_iteration(
            mdp, tol, max_passes=MPI_PASSES, eval_budget=MPI_EVAL_BUDGET, tie_rtol=TIE_RTOL)
        if ok:
            return _finish(mdp, V, Q, tol, "auto:mpi", k0, bound)
        V0 = V
    budget = max(2000, 20 * S // A)
    V, Q, k, bound, ok = _vi_sweeps(mdp, V0, tol, budget)
    if ok:
        return _finish(mdp, V, Q, tol, "auto:vi", k0 + k, bound)
    actions0 = np.argmax(Q, axis=1)
    return policy_iteration(mdp, tol, actions0=actions0, method="auto:pi",
                            sweeps_before=k0 + k)


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
