"""Exact solvers for tabular MDPs: value iteration, policy iteration, backward induction,
and the dispatcher :func:`solve` (LP methods live in :mod:`.lp`, rational ones in :mod:`.exact`).

Bellman optimality: V*(s) = max_a Q*(s, a),  Q*(s, a) = R[s, a] + γ Σ_s' P[s, a, s'] V*(s').

Every iterative stopping rule here bounds the error in V*, not the size of the last step.

**The certificate accounts for floating point.** ``Solution.error_bound`` is an upper
bound on ‖V − V*‖∞ for the returned V and the MDP *as stored* (float64 P, R, γ), proved
from quantities computed in floating point, so it cannot round to zero when V is wrong.
With u = 2⁻⁵³ (unit roundoff), γ_n = n u / (1 − n u) (Higham 2002, §3.1), n the number
of terms in one row of P (S for a dense P; fewer when the nonzeros are counted) and ρ̄ ≥
max_i Σ_j P[i, j] (the exact row sums of the stored P: 1 + ROW_SUM_ATOL a priori, or
measured, :func:`mdp_rounding`):

1. Q̂ = fl(R + γ fl(P V)) differs from the exact R + γ P V entrywise by at most

       E_Q = u ‖R‖∞ + γ ρ̄ ‖V‖∞ (γ_n + 3u(1 + γ_n))        (:meth:`Rounding.q_error`)

   (a dot product of n terms errs by γ_n Σ|p_j v_j| in any summation order, with or
   without FMA; then one rounding for ×γ and one for +R).
2. The exact residual ‖T V − V‖∞ is at most Δ = ‖fl(max_a Q̂ − V)‖∞ (1 + 2u) + E_Q.
3. T is a β-contraction in ‖·‖∞ with β = γ ρ̄, so ‖V − V*‖∞ ≤ ‖TV − V‖∞ + β ‖V − V*‖∞:

       error_bound = Δ / (1 − β)      (γ < 1; ∞ if β ≥ 1)

   Every operation that computes the bound itself is rounded up (a final factor
   1 + 64u covers the ≲ 30 roundings of each formula), so the printed number is an
   upper bound, not an estimate. When V is the midpoint of a span-stopped iteration
   (value iteration, MPI) this is the span bound span(d)/(2(1 − γ)) plus the rounding
   term, so ``error_bound`` ≲ tol + 3E_Q/(1 − β) (the shift's own rounding included).
   The rounding term is what floating point can certify: about (n + 3)·u·‖V‖∞/(1 − γ),
   e.g. ~1e-11 for S = 5, ‖V‖ = 100, γ = 0.99; 5e-10 for a dense S = 500 (tests:
   tests/test_certificates.py); and 10⁶ times the rounding of V itself for
   γ = 1 − 10⁻⁶, e.g. 6e-4 on a chain with ‖V‖ ≈ 10⁶ whose policy-iteration V is off by
   1.9e-5 — honest: float64 cannot certify better there.
   Underflow adds at most (n + 2)·2⁻¹⁰⁷⁴ to E_Q.
4. γ = 1 (episodic, no horizon): when every reward of a non-terminal state is ≤ −c < 0
   (shortest-path problems) and Δ < c, every policy whose one-step residual is below c
   is proper, its expected number of steps τ satisfies τ ≤ −V/(c − Δ), and
   ‖V − V*‖∞ ≤ Δ · max_s(−V(s)) / (c − Δ) (both sides: V* − V = N_μ*(T_μ* V − V) and
   V^μ − V = N_μ(T_μ V − V) with N = (I − P)⁻¹ ≥ 0, N 1 = τ). Otherwise, when every
   policy ends (e.g. reachability, or after zero-reward loops are collapsed), the bound
   ‖T V − V‖ · max expected time of :mod:`.total`; else ``error_bound = inf``.
5. Finite horizon: e_H = 0, e_t = E_Q(V_{t+1}) + γ ρ̄ e_{t+1} bounds |V̂_t − V*_t| and
   |Q̂_t − Q*_t|; ``error_bound = max_t e_t``.

**The optimal set is certified too.** With ε = E_Q + γ ρ̄ · error_bound ≥ ‖Q̂ − Q*‖∞
(ε = e_t for a finite horizon), ``optimal[s, a]`` ⇔ max_b Q̂[s, b] − Q̂[s, a] ≤ w with

    w = tol + 2ε + 2u ‖Q̂‖∞          (rounded up; ``Solution.tol`` holds w)

so an action outside the set is provably suboptimal (its Q* is below another action's),
and an action inside is within w + 2ε of the best. When ``error_bound`` is infinite ε is
taken as E_Q and the set means "within tol of the computed best" (not certified). The
returned ``actions`` always lie in the set (w is widened to cover them if ever needed).
"""

from __future__ import annotations

import numpy as np

from ..episodic import IllPosedMDP, check_episodic, is_episodic
from ..evaluation import bellman_q, row_max, stationary_values
from ..mdp import TabularMDP
from ..solution import Solution
from . import kernels
from .certificate import (
    SAFETY_FACTOR,
    SMALLEST_SUBNORMAL,
    UNIT_ROUNDOFF,
    Rounding,
    backward_bound,
    certified_set,
    certify_solution,
    discounted_bound,
    higham_gamma,
    inf_norm,
    make_solution,
    mdp_rounding,
    midpoint_correction,
    one_hot,
    rounding_bound,
    set_width,
)
from .certificate import UNIT_ROUNDOFF as _U
from .masked import solve_masked
from .pi_start import PI_FIRST_RATIO, greedy_start, pi_first

__all__ = ["solve", "value_iteration", "policy_iteration", "backward_induction", "METHODS",
           # the certificate's building blocks, for solvers elsewhere (incremental, objectives)
           "UNIT_ROUNDOFF", "SAFETY_FACTOR", "SMALLEST_SUBNORMAL", "higham_gamma", "Rounding",
           "rounding_bound", "discounted_bound", "set_width", "certified_set"]

METHODS = ("auto", "vi", "pi", "lp", "cvxpy", "backward", "exact")
def _vi_run(mdp: TabularMDP, V, tol: float, max_sweeps: int, rd: Rounding | None = None):
    """Span-stopped value iteration for γ < 1 (MacQueen 1966; Puterman 1994, Thm 6.6.6).

    Sweep k computes Q_k = R + γ P V_k and d = max_a Q_k − V_k = T V_k − V_k. For any V,
    V + min(d)/(1 − γ) ≤ V* ≤ V + max(d)/(1 − γ) (T is monotone and T(V + c) = T V + γc).
    Stop when span(d)/(2(1 − γ)) ≤ tol — or when span(d) is down to twice the rounding
    floor of one residual entry (2(E_Q + u|d|), module docstring) and no longer shrinks,
    since floating point cannot certify more — and return the midpoint
    V = V_k + (max d + min d)/(2(1 − γ)), with Q = Q_k + γ (max d + min d)/(2(1 − γ)),
    which is R + γ P V of the returned V up to rounding bounded by :func:`midpoint_correction` (or
    recomputed there), so the certificate costs no extra pass over P in general. A first
    sweep from V = 0 reads no P (Q_1 = R exactly).

    Returns (V, Q, k, span_bound, converged, qerr): ``qerr`` bounds |Q − (R + γ P V)|;
    when not converged, V = T V_{k−1} and Q = Q_{k−1} (and qerr is None).
    """
    g = mdp.gamma
    S, A = mdp.R.shape
    if g == 0.0:  # Q = R and V = max_a R exactly
        return mdp.R.max(axis=1), mdp.R.copy(), 1, 0.0, True, 0.0
    rd = mdp_rounding(mdp) if rd is None else rd
    fa, fb = rd.floor()
    two_1mg = 2.0 * (1.0 - g)
    Pm, R = mdp.P_matrix, mdp.R
    dense = isinstance(Pm, np.ndarray)

    def recompute(W):
        return bellman_q(mdp, W)

    def done(Vk, Qk, k, lo, hi):
        qerr = float(rd.q_error(inf_norm(Vk)))
        V, Q, qe = midpoint_correction(rd, Vk, Qk, lo, hi, qerr, recompute)
        if qe is None:
            qe = float(rd.q_error(inf_norm(V)))
        return V, Q, k, (hi - lo) / two_1mg, True, qe

    if dense and S * S * A <= kernels.SMALL_SIZE:
        out = kernels.vi_raw(Pm, R, g, V, tol, max_sweeps, fa, fb)  # None without numba
        if out is not None:
            Vk, Qk, k, lo, hi, ok = out
            if ok:
                return done(Vk, Qk, k, lo, hi)
            return Vk, Qk, k, (hi - lo) / two_1mg, False, None
    buf = np.empty(S * A)
    Q = buf.reshape(S, A)
    V = np.array(V, dtype=np.float64)
    first_free = not V.any()
    second = mdp.first_backup if first_free and mdp.has_first_backup else None
    prev = np.inf
    bound = np.inf
    for k in range(1, max_sweeps + 1):
        if first_free and k == 1:
            Q[:] = R  # R + γ P 0 = R exactly
        elif second is not None and k == 2:
            Q[:] = second  # R + γ P max_a R, computed in the validation pass
        else:
            if dense:
                np.dot(Pm, V, out=buf)
            else:
                buf[:] = Pm @ V
            buf *= g
            Q += R
        TV = row_max(Q)
        d = TV - V
        lo, hi = float(d.min()), float(d.max())
        span = hi - lo
        bound = span / two_1mg
        if bound <= tol:
            return done(V, Q, k, lo, hi)
        if span >= prev:
            vnorm = max(float(V.max()), -float(V.min()))
            if span <= 2.0 * (fa + fb * vnorm) + 4.0 * _U * max(abs(hi), abs(lo)):
                return done(V, Q, k, lo, hi)
        prev = span
        V = TV
    return V, Q, max_sweeps, bound, False, None


def _vi_sweeps(mdp, V, tol, max_sweeps):
    """:func:`_vi_run` without the rounding bound: (V, Q, k, span_bound, converged)."""
    return _vi_run(mdp, V, tol, max_sweeps)[:5]


def value_iteration(mdp: TabularMDP, tol: float = 1e-10, max_sweeps: int = 1_000_000,
                    V0=None) -> Solution:
    """Value iteration V_{k+1} = max_a [R + γ P V_k] with a stopping rule bounding ‖V − V*‖∞.

    γ < 1: the span rule of :func:`_vi_run`: the algorithmic error span(d)/(2(1 − γ)) is
    at most tol, so ``error_bound ≤ tol + E_Q/(1 − β)`` (the rounding term of the module
    docstring; below tol on ordinary small problems, larger when γ → 1 or ‖V‖ is large —
    then the span is only driven down to the rounding floor). γ = 1 (episodic): iterate
    until the step is below tol (or the rounding floor), then continue by policy
    iteration from the greedy policy once it is proper. With an action mask: on the copy
    MDP (:mod:`.masked`).
    """
    if mdp.is_masked:
        return solve_masked(mdp, lambda m: value_iteration(m, tol, max_sweeps, V0))
    if is_episodic(mdp):
        terminal, _ = check_episodic(mdp)
        rd = mdp_rounding(mdp)
        fa, fb = rd.floor()
        V = np.zeros(mdp.n_states) if V0 is None else np.array(V0, dtype=float)
        for sweeps in range(1, max_sweeps + 1):
            V_new = bellman_q(mdp, V).max(axis=1)
            V_new[terminal] = 0.0
            step = np.max(np.abs(V_new - V))
            V = V_new
            if step <= max(tol, 2.0 * (fa + fb * float(inf_norm(V)))):
                greedy = np.argmax(bellman_q(mdp, V), axis=1)
                try:
                    stationary_values(mdp, one_hot(greedy, mdp.n_actions), mdp.R)
                except Exception:  # greedy policy improper (or singular): keep iterating
                    continue
                return policy_iteration(mdp, tol, actions0=greedy, method="vi",
                                        sweeps_before=sweeps)
        raise RuntimeError(f"value iteration did not reach tol={tol:g} in {max_sweeps} sweeps")
    rd = mdp_rounding(mdp)
    V = np.zeros(mdp.n_states) if V0 is None else np.array(V0, dtype=float)
    V, Q, k, bound, ok, qerr = _vi_run(mdp, V, tol, max_sweeps, rd)
    if not ok:
        raise RuntimeError(
            f"value iteration did not reach tol={tol:g} in {max_sweeps} sweeps "
            f"(error bound {bound:.3g}); use method='pi'"
        )
    return certify_solution(mdp, V, Q, tol, "vi", k, qerr=qerr, rd=rd)


def policy_iteration(mdp: TabularMDP, tol: float = 1e-10, actions0=None,
                     max_iterations: int = 100_000, method: str = "pi",
                     sweeps_before: int = 0) -> Solution:
    """Howard's policy iteration with exact evaluation (linear solves).

    π_{k+1}(s) ∈ argmax_a Q̂^{π_k}(s, a), keeping π_k(s) unless another action is better by
    more than 2·E_Q — twice the bound on the rounding error of each Q̂ entry (module
    docstring), i.e. unless the improvement is more than floating point can blur: at
    |Q| ≈ 1e13 that is ≈ 0.1, not the 10 a relative rule 1e-12·|Q| would ignore. It stops
    when no action improves (or, should rounding make it revisit a policy, at once with
    the greedy actions). The certificate is computed from the final V^{π} and Q̂: an
    improvement below the tie threshold, like the error of the linear solve, shows up in
    ‖T V − V‖∞ and so in ``error_bound`` (which is therefore ≈ 0 only when V is). With
    γ = 1 it starts from a proper policy (see
    :func:`~mesabase.theory.episodic.check_episodic`) and stays proper.

    With an action mask it runs on the copy MDP (:mod:`.masked`).

    Reference: R. A. Howard, *Dynamic Programming and Markov Processes*, MIT Press 1960;
    Puterman (1994), §6.4.
    """
    if mdp.is_masked:
        return solve_masked(mdp, lambda m: policy_iteration(
            m, tol, actions0, max_iterations, method, sweeps_before))
    S, A = mdp.n_states, mdp.n_actions
    if actions0 is not None:
        pi_a = np.asarray(actions0, dtype=np.intp).copy()
        if pi_a.shape != (S,) or (pi_a < 0).any() or (pi_a >= A).any():
            raise ValueError(f"actions0 must be {S} action indices in [0, {A}); got {actions0!r}")
    elif is_episodic(mdp):
        pi_a = check_episodic(mdp)[1]
    else:
        pi_a = greedy_start(mdp)
    if is_episodic(mdp):
        check_episodic(mdp)
    rd = mdp_rounding(mdp)
    V = None
    rows = np.arange(S)
    seen = set()
    prev = None
    for k in range(1, max_iterations + 1):
        try:
            V = stationary_values(mdp, one_hot(pi_a, A), mdp.R, x0=V)
        except IllPosedMDP:
            # γ = 1: a switch justified only at the rounding level made the policy improper;
            # keep the last proper one (its certificate is computed as usual)
            if prev is None:
                raise
            V, Q, pi_prev, qerr = prev
            return certify_solution(mdp, V, Q, tol, method, k - 1 + sweeps_before, actions=pi_prev,
                           qerr=qerr, rd=rd)
        Q = bellman_q(mdp, V)
        qerr = float(rd.q_error(inf_norm(V)))
        best = np.argmax(Q, axis=1)
        current = Q[rows, pi_a]
        improve = Q[rows, best] > current + 2.0 * qerr
        if not improve.any():
            return certify_solution(mdp, V, Q, tol, method, k + sweeps_before, actions=pi_a,
                                    qerr=qerr,
                           rd=rd)
        seen.add(pi_a.tobytes())
        prev = (V, Q, pi_a, qerr)
        pi_a = np.where(improve, best, pi_a)
        if pi_a.tobytes() in seen:  # a cycle through rounding-level changes: stop here
            return certify_solution(mdp, V, Q, tol, method, k + sweeps_before, qerr=qerr, rd=rd)
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
    """The first stage, by the shape of the problem (measured: BENCHMARKS.md, issue 15):

    * dense, S·A·S ≤ :data:`~mesabase.theory.solvers.kernels.SMALL_SIZE` (cache-resident)
      with numba installed: modified policy iteration as one compiled loop
      (:func:`~mesabase.theory.solvers.kernels.mpi_small`) when A ≥ MPI_MIN_ACTIONS, else
      the compiled value-iteration loop;
    * dense, S ≤ PI_FIRST_RATIO·A without numba: policy iteration from the greedy start for
      at most PI_FIRST_MAX evaluations (:func:`.pi_start.pi_first`);
    * dense, S·A·S ≥ MPI_MIN_SIZE and A ≥ MPI_MIN_ACTIONS: modified policy iteration
      (:mod:`.mpi`) for up to MPI_PASSES full passes over P;
    * otherwise (sparse P, few actions): none.

    Then span-stopped value iteration from where that stage stopped, and — only if it has not
    converged within a generous budget of sweeps, max(2000, 20·S/A), i.e. the cost of
    several dense linear solves — policy iteration warm-started from its greedy policy.
    Every path stops on a bound of ‖V − V*‖∞ ≤ tol (up to the rounding term of the
    certificate, module docstring), and every certificate is computed from the final V and
    Q̂ the same way.

    Why this order: on problems whose rows mix in a step (random dense rows) modified policy
    iteration needs two full passes over P where value iteration needs six to nine; on
    slow-mixing chains both policy-iteration variants move a switch point about one state
    per pass (363 passes at S = 500 in BENCHMARKS.md), where value iteration takes 2,213
    sweeps that each cost one pass — so MPI gets a few passes, then VI takes over."""
    from .mpi import mpi_with_rounding

    S, A = mdp.n_states, mdp.n_actions
    rd = mdp_rounding(mdp)
    V0, k0 = np.zeros(S), 0
    if not mdp.is_sparse and S <= PI_FIRST_RATIO * A and not kernels.available():
        sol, V0, k0 = pi_first(mdp, tol, rd)
        if sol is not None:
            return sol
    size = S * S * A
    compiled = size <= kernels.SMALL_SIZE and kernels.available()
    if compiled and not mdp.is_sparse and A >= MPI_MIN_ACTIONS and not k0:
        V, Q, _, k0, lo, hi, ok = kernels.mpi_small(mdp.P_matrix, mdp.R, mdp.gamma, tol,
                                                    MPI_PASSES, MPI_EVAL_BUDGET, rd,
                                                    mdp.first_backup)
        if ok:
            V, Q, qerr = midpoint_correction(rd, V, Q, lo, hi, float(rd.q_error(inf_norm(V))),
                                             lambda W: bellman_q(mdp, W))
            return certify_solution(mdp, V, Q, tol, "auto:mpi", k0, qerr=qerr, rd=rd)
        V0 = V
    if (not mdp.is_sparse and size >= MPI_MIN_SIZE and A >= MPI_MIN_ACTIONS and not compiled
            and not k0):
        V, Q, _, k0, bound, ok, qerr = mpi_with_rounding(
            mdp, tol, max_passes=MPI_PASSES, eval_budget=MPI_EVAL_BUDGET, rd=rd)
        if ok:
            return certify_solution(mdp, V, Q, tol, "auto:mpi", k0, qerr=qerr, rd=rd)
        V0 = V
    budget = max(2000, 20 * S // A)
    V, Q, k, bound, ok, qerr = _vi_run(mdp, V0, tol, budget, rd)
    if ok:
        return certify_solution(mdp, V, Q, tol, "auto:vi", k0 + k, qerr=qerr, rd=rd)
    actions0 = np.argmax(Q, axis=1)
    return policy_iteration(mdp, tol, actions0=actions0, method="auto:pi",
                            sweeps_before=k0 + k)


def backward_induction(mdp: TabularMDP, tol: float = 1e-10) -> Solution:
    """Finite horizon H: V_H = v, Q_t = R + γ P V_{t+1}, V_t = max_a Q_t, t = H−1, …, 0.

    v = ``mdp.terminal`` (0 by default). With an action mask the max runs over the allowed
    actions: Q_t = −inf at disallowed pairs, so no disallowed action is ever optimal.

    Exact up to floating point: ``error_bound`` = max_t e_t with e_H = 0 and
    e_t = E_Q(V_{t+1}) + γ ρ̄ e_{t+1}, the accumulated rounding (module docstring, item 5).
    Reference: Puterman (1994), §4.5.
    """
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    if H is None:
        raise ValueError("method 'backward' needs a finite horizon; this MDP has horizon=None")
    V = np.zeros((H + 1, S))
    V[H] = mdp.terminal
    Q = np.empty((H, S, A))
    for t in range(H - 1, -1, -1):
        Q[t] = bellman_q(mdp, V[t + 1])
        if mdp.is_masked:
            Q[t][~mdp.allowed] = -np.inf
        V[t] = Q[t].max(axis=1)
    bound = backward_bound(mdp_rounding(mdp), V)
    return make_solution(V, Q, tol, "backward", H, 0.0, bound, bound, np.argmax(Q, axis=-1))


def solve(mdp: TabularMDP, method: str = "auto", tol: float = 1e-10, *,
          criterion: str = "discounted") -> Solution:
    """Solve ``mdp`` for V*, Q*, the set of optimal actions and a certificate.

    Methods: ``"vi"`` value iteration (span stopping rule: ‖V − V*‖∞ ≤ tol up to rounding),
    ``"pi"`` policy iteration (exact linear solves), ``"lp"`` the primal LP by HiGHS,
    ``"cvxpy"`` the occupancy-measure dual LP, ``"backward"`` backward induction (finite
    horizon), ``"exact"`` rational arithmetic (Fractions in, Fractions out). ``"auto"``
    picks ``"backward"`` for a finite horizon, policy iteration for γ = 1 (with no horizon
    every method also solves zero-reward loops — positive and negative models, e.g.
    reachability — by the reduction of :mod:`.total`), and otherwise modified policy
    iteration, policy iteration or value iteration by the shape of the problem, then
    span-stopped value iteration, falling back to warm-started policy iteration only past
    a generous budget of sweeps (recorded as ``"auto:mpi"``, ``"auto:vi"`` or
    ``"auto:pi"``; the stages: ``_auto_discounted``).

    Args:
      mdp: a :class:`TabularMDP` (dense, sparse or exact); an :class:`MDPBatch` is passed
        on to :func:`~mesabase.theory.solve_batch` (methods auto, pi, vi, backward).
      method: one of :data:`METHODS`.
      tol: target for the algorithmic error ‖V − V*‖∞ of iterative methods (the
        certified ``error_bound`` adds the floating-point term of the module docstring,
        so it may exceed tol when γ → 1 or ‖V‖∞ is large), and the base tolerance of the
        optimal-action set ``optimal[s, a] = Q[s, a] ≥ max_a' Q[s, a'] − w``, with w =
        ``Solution.tol`` = tol + 2ε (ε bounds ‖Q − Q*‖∞: outside the set is provably
        suboptimal).
      criterion: ``"discounted"`` (the default: Σ γᵗ r_t, or episodic γ = 1) or
        ``"average"`` (γ = 1, no horizon: the long-run average reward; methods auto,
        rvi, exact; returns an :class:`~mesabase.theory.AverageSolution`, see
        :mod:`.average`).

    Example:
      >>> import numpy as np
      >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
      >>> mdp = TabularMDP(P, [[0.0, 1.0], [2.0, 2.0]], gamma=0.5)
      >>> sol = solve(mdp)
      >>> sol.V.round(10).tolist(), sol.optimal.tolist()
      ([3.0, 4.0], [[False, True], [True, True]])
    """
    if criterion != "discounted":
        from .average import solve_average  # checks criterion, γ = 1, no horizon

        return solve_average(mdp, method, tol, criterion=criterion)
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
    if is_episodic(mdp):  # zero-reward loops reduced, certificate (.total)
        from .total import solve_total

        return solve_total(mdp, method, tol, solve, _solve_infinite)
    return _solve_infinite(mdp, method, tol)


def _solve_infinite(mdp: TabularMDP, method: str, tol: float) -> Solution:
    """The float methods for an infinite horizon (γ = 1: a shortest-path problem as given)."""
    if mdp.is_masked:  # the copy MDP (.masked), any method
        return solve_masked(mdp, lambda m: _solve_infinite(m, method, tol))
    if method == "vi":
        return value_iteration(mdp, tol)
    if method == "pi":
        return policy_iteration(mdp, tol)
    if method in ("lp", "cvxpy"):
        from .lp import solve_cvxpy, solve_lp

        return (solve_lp if method == "lp" else solve_cvxpy)(mdp, tol)
    if is_episodic(mdp):
        return policy_iteration(mdp, tol, method="auto:pi")
    return _auto_discounted(mdp, tol)
