"""Linear programming for infinite-horizon MDPs: the primal LP (HiGHS) and its dual, the
occupancy-measure LP (cvxpy).

Primal LP (``method="lp"``), over values V ∈ ℝˢ with weights c(s) > 0:

    min_V  Σ_s c(s) V(s)
    s.t.   V(s) ≥ R[s, a] + γ Σ_s' P[s, a, s'] V(s')      for all (s, a).

Every feasible V satisfies V ≥ T V, hence V ≥ V* (T is monotone and, for γ < 1, a
contraction); V* is feasible, so V* is the unique minimiser as soon as every c(s) > 0.
The weights are uniform, c(s) = 1/S, rather than μ0: with c(s) = 0 the LP leaves V(s)
free above V*(s), and a state that μ0 never starts in still needs its value (it may be
reached, and Q* of every state is part of the answer).

Dual LP (``method="cvxpy"``), over state-action occupancies d ∈ ℝ^{S·A}, with ρ(s) > 0:

    max_d  Σ_{s,a} d(s, a) R[s, a]
    s.t.   Σ_a d(s', a) − γ Σ_{s,a} P[s, a, s'] d(s, a) = ρ(s')   for all s',   d ≥ 0.

A feasible d is the discounted occupancy Σ_t γᵗ Pr(s_t = s, a_t = a) of some stationary
policy started from ρ, and Σ_{s,a} d(s, a) = Σ_s ρ(s) / (1 − γ). The multiplier of the
constraint at s' is V*(s'); ρ is uniform (1/S) so that every state is a source of flow
and its multiplier is pinned. Complementary slackness: d(s, a) · (V*(s) − Q*(s, a)) = 0,
so d(s, a) > 0 only where a is optimal in s; and since ρ > 0, every state carries flow on
at least one (optimal) action. The LP's primal and dual objectives agree at the optimum,
Σ d R = ρᵀ V*; the returned ``Solution.gap`` is the difference the solver's output
achieves, a certificate of optimality.

In matrix form, with rows indexed s·A + a, Pm = ``mdp.P_matrix`` (S·A, S) and
E[s·A + a, s] = 1: the primal constraints are (γ Pm − E) V ≤ −R (``A_ub``, ``b_ub`` for
:func:`scipy.optimize.linprog`), the dual constraints (Eᵀ − γ Pmᵀ) d = ρ. Both are built
as sparse matrices straight from Pm, never as an S×A×S copy.

Polishing. An optimal basis of either LP is a policy μ (one tight constraint, or one
positive d(s, ·), per state), and its basic solution is V^μ = (I − γ P_μ)⁻¹ r_μ. HiGHS
computes it from a copy of P without the coefficients below ``small_matrix_value``
(1e-12 here), so V^μ is recomputed from the exact P by one linear solve and kept when its
Bellman residual is no larger (:func:`_polish`). ``gap`` certifies the solver's own
primal-dual pair; ``residual`` and ``error_bound`` certify the returned V (the bound
includes the floating-point error of computing the residual: it is not 0 when the
computed residual rounds to 0; see :mod:`.solvers`).

γ = 1 (episodic, no horizon): after :func:`~mesabase.theory.episodic.check_episodic`
the values of terminal states are fixed at 0 (the primal by variable bounds, the dual by
dropping terminal states: flow into them leaves the system, so P restricted to
non-terminal successors is substochastic). The well-posedness conditions make both LPs
bounded: V ≥ T V forces V ≥ V^μ for every proper μ, and a circulation of flow that never
terminates runs through trap actions, whose rewards are negative.

Symbols → arguments: P[s, a, s'] = ``mdp.P`` (used as ``mdp.P_matrix``), R[s, a] =
``mdp.R``, γ = ``mdp.gamma``, c = 1/S, ρ = 1/S (or the ``rho`` of :func:`occupancy_lp`).

References:
  A. S. Manne, "Linear programming and sequential decisions", Management Science 6(3),
  1960. M. L. Puterman, *Markov Decision Processes*, Wiley 1994, §6.9. D. P. de Farias
  and B. Van Roy, "The linear programming approach to approximate dynamic programming",
  Operations Research 51(6), 2003.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
from scipy.optimize import OptimizeWarning, linprog

from ..episodic import IllPosedMDP, check_episodic, is_episodic
from ..evaluation import bellman_q, evaluate
from ..mdp import InvalidMDP, TabularMDP
from ..solution import Solution
from .certificate import bellman_residual, certify_solution, one_hot
from .masked import fold_occupancy, solve_masked, unmasked_copy

__all__ = ["solve_lp", "solve_cvxpy", "occupancy_lp", "HIGHS_OPTIONS", "quiet_highs"]

#: Options passed to HiGHS by both methods. Feasibility tolerances 1e-10 and the smallest
#: ``small_matrix_value`` HiGHS allows: by default it silently drops every |coefficient| <
#: 1e-9, and the tiny transition probabilities that leaves out shift V by up to ~1e-5 at
#: γ = 0.99 (rows with many entries < 1e-9). Presolve is off: it finds nothing to remove in
#: these LPs, and on dense ones it dominates the run time (the dual LP with S=500, A=4:
#: 35 s with it, 3 s without).
HIGHS_OPTIONS = dict(primal_feasibility_tolerance=1e-10, dual_feasibility_tolerance=1e-10,
                     small_matrix_value=1e-12)
#: Tolerances passed to Clarabel when cvxpy has no HiGHS.
_CLARABEL_OPTS = dict(tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12, tol_ktratio=1e-10,
                      max_iter=500)


def _check_infinite_horizon(mdp: TabularMDP, name: str) -> None:
    if mdp.horizon is not None:
        raise ValueError(
            f"{name} solves infinite-horizon problems; this MDP has horizon={mdp.horizon}: "
            "use solve(mdp, 'backward')"
        )


def _state_of_row(S: int, A: int) -> sp.csr_array:
    """E (S·A, S): E[s·A + a, s] = 1."""
    return sp.csr_array(
        (np.ones(S * A), (np.arange(S * A), np.repeat(np.arange(S), A))), shape=(S * A, S)
    )


def _terminal(mdp: TabularMDP) -> np.ndarray:
    """Terminal mask for γ = 1 (after checking the problem is well posed); else all False."""
    if is_episodic(mdp):
        return check_episodic(mdp)[0]
    return np.zeros(mdp.n_states, dtype=bool)


def _polish(mdp: TabularMDP, V: np.ndarray) -> np.ndarray:
    """Recompute the LP's basic solution from the exact P; return the better V.

    The optimal basis is a policy μ, greedy with respect to the LP's V; its basic solution
    is V^μ = (I − γ P_μ)⁻¹ r_μ, which the solver computes from a P whose coefficients below
    ``small_matrix_value`` it has dropped. V^μ is recomputed by one linear solve
    (:func:`~mesabase.theory.evaluation.evaluate`) and kept if its computed Bellman
    residual is no larger than the LP's. The certificate of the returned V is then
    computed by :func:`~.certificate.certify_solution` (rounding included, see
    :mod:`.solvers`): Δ/(1 − γρ̄) for γ < 1; for γ = 1 the shortest-path bound when every
    non-terminal reward is negative, else inf.
    """
    mu = one_hot(np.argmax(bellman_q(mdp, V), axis=1), mdp.n_actions)
    residual = bellman_residual(mdp, V)
    try:
        V_mu = evaluate(mdp, mu)
    except (IllPosedMDP, np.linalg.LinAlgError):  # μ improper (γ = 1) or singular
        V_mu = None
    if V_mu is not None and np.isfinite(V_mu).all():
        if bellman_residual(mdp, V_mu) <= residual:
            V = V_mu
    return V


#: A duality gap above this (relative to 1 + |objective|) makes :func:`solve_lp` re-solve
#: once without HiGHS's matrix scaling.
GAP_RETRY = 1e-10


def _highs(c, A_ub, b_ub, bounds, mdp, **extra):
    """linprog(method="highs") with :data:`HIGHS_OPTIONS`: (result, |primal − dual|)."""
    with warnings.catch_warnings():  # scipy warns that it passes small_matrix_value verbatim
        warnings.filterwarnings("ignore", "Unrecognized options", OptimizeWarning)
        res = linprog(c, A_ub=A_ub, b_ub=b_ub, bounds=bounds, method="highs",
                      options=dict(presolve=False, **HIGHS_OPTIONS, **extra))
    if res.status != 0:
        raise RuntimeError(f"HiGHS failed on the primal LP of {mdp!r} "
                           f"(status {res.status}): {res.message}")
    return res, abs(float(res.fun) - float(b_ub @ res.ineqlin.marginals))


def solve_lp(mdp: TabularMDP, tol: float = 1e-10) -> Solution:
    """Solve the primal LP  min_V Σ_s c(s) V(s)  s.t.  V ≥ R + γ P V  with HiGHS.

    c(s) = 1/S > 0 in every state, so V* is the unique minimiser everywhere (see the
    module docstring). The LP goes to :func:`scipy.optimize.linprog` (``method="highs"``)
    as ``A_ub = γ Pm − E`` (sparse, from ``mdp.P_matrix``), ``b_ub = −R.reshape(-1)``,
    with the options :data:`HIGHS_OPTIONS`, no presolve. With γ = 1 the terminal states
    are fixed at V = 0 by bounds and the other values are free. The basic solution is then
    recomputed from the exact P (:func:`_polish`: one linear solve for the optimal basis).

    Certificate: ``gap = |cᵀV − b_ubᵀ y|`` for HiGHS's own primal and dual solutions, with
    y = ``res.ineqlin.marginals`` ≤ 0 (−y is the occupancy measure of the dual LP with
    ρ = c); ``error_bound`` = (‖T V − V‖∞ + rounding)/(1 − γρ̄) for γ < 1, a bound that
    accounts for the floating-point error of the residual itself (:mod:`.solvers`; see
    :func:`_polish` for γ = 1).

    Args:
      mdp: an infinite-horizon :class:`TabularMDP` (dense or sparse).
      tol: the tolerance defining the optimal-action set of the returned Solution.

    Raises:
      ValueError: for a finite-horizon MDP.
      IllPosedMDP: γ = 1 and the episodic problem is not well posed.
      RuntimeError: HiGHS did not return an optimal solution (its message is included).

    An action mask is honoured by solving the copy MDP (:mod:`.masked`).

    Reference: Puterman (1994), §6.9.1; Manne (1960).
    """
    _check_infinite_horizon(mdp, "solve_lp")
    if mdp.is_masked:
        return solve_masked(mdp, lambda m: solve_lp(m, tol))
    S, A, g = mdp.n_states, mdp.n_actions, mdp.gamma
    terminal = _terminal(mdp)
    A_ub = sp.csr_array(g * sp.csr_array(mdp.P_matrix) - _state_of_row(S, A))
    A_ub.eliminate_zeros()
    b_ub = -mdp.R.reshape(-1)
    c = np.full(S, 1.0 / S)
    bounds = np.column_stack([np.full(S, -np.inf), np.full(S, np.inf)])
    bounds[terminal] = 0.0
    # Bounds are 0 or ±inf, so they add nothing to the dual objective.
    res, gap = _highs(c, A_ub, b_ub, bounds, mdp)
    if gap > GAP_RETRY * (1.0 + abs(float(res.fun))):
        # HiGHS's scaling can mislead it when coefficients span hundreds of orders of
        # magnitude (γ = 1e-10 times P entries of 1e-263: an output off by 1e-5, gap 1e-6);
        # unscaled, the same LP is solved to 1e-16. Keep the better certificate.
        res2, gap2 = _highs(c, A_ub, b_ub, bounds, mdp, simplex_scale_strategy=0)
        if gap2 < gap:
            res, gap = res2, gap2
    V = np.array(res.x, dtype=np.float64)
    V[terminal] = 0.0
    V = _polish(mdp, V)
    return certify_solution(mdp, V, bellman_q(mdp, V), tol, "lp", res.nit or 1, gap=gap)


_HIGHS_QUIET = []


def quiet_highs() -> None:
    """highspy prints its "Running HiGHS ..." banner once per process, from the constructor
    of its solver object, before cvxpy can pass ``output_flag=False``. Let that one banner
    be written here with console logging off, so it never reaches the user's terminal
    (call it before any cvxpy solve with HiGHS; idempotent)."""
    if _HIGHS_QUIET:
        return
    _HIGHS_QUIET.append(True)
    try:
        import highspy

        h = highspy._Highs()  # the core class: constructing it does not log
        h.setOptionValue("log_to_console", False)
        h.setCallback(lambda *a: None, None)  # writes the banner, not to the console
    except (ImportError, AttributeError, TypeError):  # another highspy: nothing to silence
        pass


def _dual_lp(mdp: TabularMDP, rho: np.ndarray):
    """Solve the occupancy LP; return ``(d (S, A), V (S,), objective, iterations)``.

    γ = 1: variables and constraints live on non-terminal states only (d = 0 and V = 0 on
    terminal states)."""
    import cvxpy as cp

    S, A, g = mdp.n_states, mdp.n_actions, mdp.gamma
    keep = np.flatnonzero(~_terminal(mdp))
    d_full, V = np.zeros((S, A)), np.zeros(S)
    if keep.size == 0:
        return d_full, V, 0.0, 1
    rows = (keep[:, None] * A + np.arange(A)).reshape(-1)
    P_kk = sp.csr_array(sp.csr_array(mdp.P_matrix)[rows][:, keep])
    E_k = _state_of_row(keep.size, A)
    M = sp.csr_array((E_k - g * P_kk).T)
    M.eliminate_zeros()
    r = mdp.R[keep].reshape(-1)
    highs = cp.HIGHS in cp.installed_solvers()
    if highs:
        quiet_highs()
    best, failure = None, ""
    for extra in ({}, {"simplex_scale_strategy": 0}) if highs else ({},):
        # a fresh problem each time: cvxpy would hand HiGHS the last solution as a warm start
        d = cp.Variable(rows.size, nonneg=True)
        flow = M @ d == rho[keep]
        prob = cp.Problem(cp.Maximize(r @ d), [flow])
        try:
            if highs:
                prob.solve(solver=cp.HIGHS, presolve="off", **HIGHS_OPTIONS, **extra)
            else:  # pragma: no cover - depends on the installed solvers
                prob.solve(solver=cp.CLARABEL, **_CLARABEL_OPTS)
        except cp.error.SolverError as e:  # e.g. HiGHS on badly scaled data: try unscaled
            failure = f"{e}"
            continue
        if prob.status != cp.OPTIMAL:
            failure = f"status {prob.status!r}"
            continue
        # For a maximisation, cvxpy's multiplier of an equality is ∂(optimal value)/∂ρ = V*.
        v = np.asarray(flow.dual_value, dtype=np.float64)
        gap = abs(float(prob.value) - float(rho[keep] @ v))
        if best is None or gap < best[0]:
            its = prob.solver_stats.num_iters
            best = (gap, v, np.asarray(d.value, dtype=np.float64), float(prob.value),
                    int(its) if its else 1)
        if gap <= GAP_RETRY * (1.0 + abs(float(prob.value))):
            break  # else re-solve once unscaled (see solve_lp)
    if best is None:
        raise RuntimeError(f"cvxpy ({'HiGHS' if highs else 'Clarabel'}) failed on the "
                           f"occupancy LP of {mdp!r}: {failure}")
    _, V[keep], dv, objective, its = best
    d_full[keep] = np.maximum(dv, 0.0).reshape(-1, A)
    return d_full, V, objective, its


def _check_rho(mdp: TabularMDP, rho) -> np.ndarray:
    S = mdp.n_states
    if rho is None:
        return np.full(S, 1.0 / S)
    r = np.asarray(rho, dtype=np.float64)
    if r.shape != (S,):
        raise InvalidMDP(f"rho must have shape ({S},) (one weight per state); got {r.shape}")
    bad = ~np.isfinite(r) | (r < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidMDP(f"rho[{i}] = {r[i]} must be finite and >= 0")
    return r


def occupancy_lp(mdp: TabularMDP, rho=None) -> np.ndarray:
    """The optimal occupancy measure d[s, a], from the dual LP solved in cvxpy.

        max_d Σ d(s, a) R[s, a]  s.t.  Σ_a d(s', a) − γ Σ_{s,a} P[s, a, s'] d(s, a) = ρ(s'),
        d ≥ 0.

    d is the discounted occupancy of an optimal policy started from ρ, so
    Σ_{s,a} d = Σ_s ρ(s) / (1 − γ) for γ < 1 (for γ = 1: the expected number of steps to
    termination, and d = 0 on terminal states). By complementary slackness d(s, a) > 0
    only where a is optimal in s. Tiny negative solver round-off is clipped to 0.

    Args:
      mdp: an infinite-horizon :class:`TabularMDP`.
      rho: ρ[s] ≥ 0, shape (S,); uniform 1/S by default (pass ``mdp.mu0`` for the
        optimal occupancy from the initial distribution).

    With an action mask, d = 0 at disallowed pairs (the copy MDP's flow on a copy is
    folded back onto the action it copies, :func:`~.masked.fold_occupancy`).

    Reference: Puterman (1994), §6.9.2; Manne (1960).
    """
    _check_infinite_horizon(mdp, "occupancy_lp")
    if mdp.is_masked:
        return fold_occupancy(mdp, occupancy_lp(unmasked_copy(mdp), rho))
    return _dual_lp(mdp, _check_rho(mdp, rho))[0]


def solve_cvxpy(mdp: TabularMDP, tol: float = 1e-10) -> Solution:
    """Solve the occupancy-measure dual LP in cvxpy and read V* off its multipliers.

    ρ = 1/S in every state, so the multiplier of each flow constraint is V*(s) (module
    docstring). Solver: HiGHS through cvxpy when installed (options :data:`HIGHS_OPTIONS`,
    no presolve), else Clarabel with tight tolerances. The basic solution is recomputed
    from the exact P (:func:`_polish`), then Q = :func:`~mesabase.theory.evaluation.bellman_q`.
    With γ = 1 the LP lives on the non-terminal states
    (:func:`~mesabase.theory.episodic.check_episodic` first) and V = 0 on terminal ones.

    Certificate: ``gap = |Σ d R − ρᵀ V|`` for the solver's own d and V (before polishing);
    ``error_bound`` = (‖T V − V‖∞ + rounding)/(1 − γρ̄) for γ < 1 (:mod:`.solvers`; see
    :func:`_polish` for γ = 1).

    Raises:
      ValueError: for a finite-horizon MDP.
      IllPosedMDP: γ = 1 and the episodic problem is not well posed.
      RuntimeError: the solver did not report an optimal solution.

    An action mask is honoured by solving the copy MDP (:mod:`.masked`).

    Reference: Puterman (1994), §6.9.2; de Farias & Van Roy (2003).
    """
    _check_infinite_horizon(mdp, "solve_cvxpy")
    if mdp.is_masked:
        return solve_masked(mdp, lambda m: solve_cvxpy(m, tol))
    rho = _check_rho(mdp, None)
    _, V, objective, its = _dual_lp(mdp, rho)
    gap = abs(objective - float(rho @ V))
    V = _polish(mdp, V)
    return certify_solution(mdp, V, bellman_q(mdp, V), tol, "cvxpy", its, gap=gap)
