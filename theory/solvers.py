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
measured, :func:`_rounding`):

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
   V^μ − V = N_μ(T_μ V − V) with N = (I − P)⁻¹ ≥ 0, N 1 = τ). Otherwise no a-posteriori
   bound is known here and ``error_bound = inf``.
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

from dataclasses import dataclass

import numpy as np

from . import kernels
from .episodic import IllPosedMDP, _is_episodic, check_episodic, terminal_states
from .evaluation import _stationary_values, bellman_q
from .mdp import ROW_SUM_ATOL, TabularMDP
from .solution import Solution

__all__ = ["solve", "value_iteration", "policy_iteration", "backward_induction", "METHODS",
           # the certificate's building blocks, for solvers elsewhere (incremental, objectives)
           "UNIT_ROUNDOFF", "SAFETY_FACTOR", "SMALLEST_SUBNORMAL", "higham_gamma", "Rounding",
           "rounding_bound", "discounted_bound", "set_width", "certified_set"]

METHODS = ("auto", "vi", "pi", "lp", "cvxpy", "backward", "exact")
#: No longer used by any solver (kept as a public name): a relative tie rule
#: TIE_RTOL·(1 + |Q|) ignores real improvements once |Q| ≳ 1e12. Policy iteration (and
#: :class:`~mesabase.theory.IncrementalCE`) treat as ties only differences within 2·E_Q,
#: the rounding bound of Q̂ itself.
TIE_RTOL = 1e-12

#: u = 2⁻⁵³, the unit roundoff of float64.
UNIT_ROUNDOFF = 2.0 ** -53
_U = UNIT_ROUNDOFF
#: Multiplies every computed bound: covers the roundings of the formula computing it.
SAFETY_FACTOR = _SAFE = 1.0 + 64.0 * _U
#: The smallest subnormal, 2⁻¹⁰⁷⁴: the absolute error of an underflowing operation.
SMALLEST_SUBNORMAL = _ETA = 2.0 ** -1074
#: Row sums and nonzeros of P are measured (one pass over P) when S·A·S is at most this
#: (0: never, by default — the a-priori bound of validation is enough), or when γ is so
#: close to 1 that the a-priori row-sum slack would matter (see :func:`_rounding_from`).
MEASURE_SIZE = 0


def higham_gamma(n: int) -> float:
    """Higham's γ_n = n u / (1 − n u), rounded up (γ_n for n < 1 is that of n = 1): a sum
    or dot product of n + 1 terms errs by at most γ_n Σ|terms| in any order."""
    n = max(int(n), 1)
    return n * _U / (1.0 - n * _U) * _SAFE


_gamma_n = higham_gamma


@dataclass(frozen=True)
class Rounding:
    """Constants of the floating-point error analysis of one MDP (module docstring).

    ``n``: terms per row of P; ``rho`` ≥ max_i Σ_j P_ij and ``dev`` ≥ max_i |Σ_j P_ij − 1|
    (exact sums of the stored entries); ``R_norm`` = ‖R‖∞ (an array for a batch);
    ``k`` = (γ_n + 3u(1 + γ_n)) rounded up."""

    gamma: float
    n: int
    rho: float
    dev: float
    R_norm: float | np.ndarray
    k: float

    @property
    def beta(self) -> float:
        """An upper bound on the contraction factor γ ρ̄."""
        return self.gamma * self.rho * (1.0 + 4.0 * _U)

    def one_minus_beta(self) -> float:
        """A lower bound on 1 − γ ρ̄ (≤ 0: not a contraction; no bound)."""
        return (1.0 - self.beta) * (1.0 - 2.0 * _U)

    def q_error(self, V_norm, R_norm=None):
        """E_Q: a bound on |Q̂ − (R + γ P V)| entrywise, for Q̂ computed as fl(R + γ fl(P V))
        from a V with ‖V‖∞ = ``V_norm`` (arrays broadcast; ``R_norm`` ≥ ‖R‖∞ overrides
        the stored one). The last term covers underflow (each of the n + 2 roundings errs
        by at most 2⁻¹⁰⁷⁴ more)."""
        R_norm = self.R_norm if R_norm is None else R_norm
        return ((_U * R_norm + self.gamma * self.rho * V_norm * self.k) * _SAFE
                + (self.n + 2) * _ETA)

    def floor(self):
        """(a, b): the rounding floor a + b ‖V‖∞ of one residual entry (for stopping rules)."""
        Rn = self.R_norm if np.ndim(self.R_norm) == 0 else float(np.max(self.R_norm))
        return _U * Rn * _SAFE, self.gamma * self.rho * self.k * _SAFE


_Rounding = Rounding  # the name used inside theory before it was public


def rounding_bound(gamma: float, n_terms: int, row_sum_dev: float, R_norm=0.0) -> Rounding:
    """The rounding constants of the module docstring for a model whose rows of P have at
    most ``n_terms`` terms and exact sums within ``row_sum_dev`` of 1 (the caller proves
    that bound, e.g. from how P was computed; ρ̄ = 1 + row_sum_dev). ``R_norm`` ≥ ‖R‖∞
    (or pass it to :meth:`Rounding.q_error` per call)."""
    n = max(int(n_terms), 1)
    gn = higham_gamma(n)
    dev = float(row_sum_dev) * _SAFE
    k = (gn + 3.0 * _U * (1.0 + gn)) * _SAFE
    return Rounding(gamma=float(gamma), n=n, rho=(1.0 + dev) * _SAFE, dev=dev, R_norm=R_norm,
                    k=k)


def _norm(x, axis=None):
    """‖x‖∞ (over ``axis``), ignoring −inf entries (disallowed actions)."""
    x = np.asarray(x)
    if axis is None:
        if not x.size:
            return 0.0
        m = max(float(x.max()), -float(x.min()))
        if m == np.inf:
            m = max(float(x.max()), -float(np.where(np.isneginf(x), 0.0, x).min()))
        return m
    m = np.abs(x).max(axis=axis)
    if np.isinf(m).any():
        m = np.abs(np.where(np.isneginf(x), 0.0, x)).max(axis=axis)
    return m


def _row_stats(Pm, sparse: bool) -> tuple[int, float, float]:
    """(n, ρ̄, dev) measured: the largest number of nonzeros in a row, and bounds on the
    largest exact row sum and on the largest |row sum − 1| (one pass over P)."""
    if sparse:
        sums = np.asarray(Pm.sum(axis=1)).ravel()
        n = int(np.diff(Pm.indptr).max()) if Pm.shape[0] else 1
    else:
        sums = Pm.sum(axis=-1).reshape(-1)
        n = int(np.count_nonzero(Pm.reshape(-1, Pm.shape[-1]), axis=1).max())
    gn = _gamma_n(n)
    rho = float(sums.max()) * (1.0 + 2.0 * gn) * _SAFE  # |fl(Σ) − Σ| ≤ γ_n Σ
    dev = (float(np.abs(sums - 1.0).max()) + gn * rho) * _SAFE
    return n, rho, dev


def _rounding_from(gamma: float, S: int, A: int, Pm, sparse: bool, R_norm,
                   size: int | None = None) -> Rounding:
    """Rounding constants from the a-priori row-sum guarantee of validation, or measured
    (one pass over the (rows, S) ``Pm``) when its ``size`` (default S·A·S) is at most
    :data:`MEASURE_SIZE` or γ is so close to 1 that the a-priori slack would inflate
    1/(1 − γρ̄) by more than 0.1 %."""
    n = int(np.diff(Pm.indptr).max()) if sparse and Pm.shape[0] else S
    gn = _gamma_n(n)
    # a priori: the MDP was validated with |fl(row sum) − 1| ≤ ROW_SUM_ATOL
    dev = (ROW_SUM_ATOL + gn * (1.0 + ROW_SUM_ATOL)) * (1.0 + 2.0 * gn) * _SAFE
    rho = (1.0 + dev) * _SAFE
    size = S * A * S if size is None else size
    if size <= MEASURE_SIZE or (0.0 < gamma < 1.0 and gamma * dev > 1e-3 * (1.0 - gamma)):
        n, rho, dev = _row_stats(Pm, sparse)
        gn = _gamma_n(n)
    k = (gn + 3.0 * _U * (1.0 + gn)) * _SAFE
    return Rounding(gamma=float(gamma), n=n, rho=rho, dev=dev, R_norm=R_norm, k=k)


def _rounding(mdp: TabularMDP, R=None) -> Rounding:
    """The rounding constants of ``mdp`` (with reward ``R``, default ``mdp.R``)."""
    R = mdp.R if R is None else R
    S, A = mdp.n_states, mdp.n_actions
    return _rounding_from(mdp.gamma, S, A, mdp.P_matrix, mdp.is_sparse, _norm(R))


def _residual(mdp: TabularMDP, V: np.ndarray) -> float:
    return float(np.max(np.abs(bellman_q(mdp, V).max(axis=1) - V)))


def discounted_bound(rd: Rounding, residual, qerr):
    """error_bound = Δ/(1 − β) with Δ = residual (1 + 2u) + E_Q (arrays broadcast)."""
    omb = rd.one_minus_beta()
    if isinstance(residual, float) and isinstance(qerr, float):
        if not omb > 0.0:
            return float("inf")
        out = (float(residual) * (1.0 + 2.0 * _U) + float(qerr)) * _SAFE / omb * _SAFE
        return out if out < float("inf") else float("inf")  # nan → inf
    delta = (np.asarray(residual) * (1.0 + 2.0 * _U) + qerr) * _SAFE
    if not omb > 0.0:
        return np.full(np.shape(delta), np.inf)
    out = delta / omb * _SAFE
    return np.where(out < np.inf, out, np.inf)


_discounted_bound = discounted_bound


def _ssp_bound(mdp: TabularMDP, V, Q, qerr: float, actions) -> float:
    """γ = 1, no horizon: the shortest-path bound of the module docstring (item 4)."""
    terminal = terminal_states(mdp)
    keep = ~terminal
    if not keep.any():
        return 0.0 if not np.any(V) else float("inf")
    if np.any(V[terminal] != 0.0):
        return float("inf")
    c = -float(mdp.R[keep].max())
    if not c > 0.0:
        return float("inf")
    Qk, Vk = Q[keep], V[keep]
    d_max = np.abs(Qk.max(axis=1) - Vk).max()
    d_mu = np.abs(_taken(Qk, actions[keep]) - Vk).max()
    delta = (max(d_max, d_mu) * (1.0 + 2.0 * _U) + qerr) * _SAFE
    if not delta < c:
        return float("inf")
    c_lo = (c - delta) * (1.0 - 2.0 * _U)
    tau = max(1.0, float(np.max(-Vk)) / c_lo * _SAFE)
    out = delta * tau * _SAFE
    return out if np.isfinite(out) else float("inf")


def _taken(Q: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Q[..., actions] along the last axis."""
    if Q.ndim == 2:
        return Q[np.arange(Q.shape[0]), actions]
    return np.take_along_axis(Q, actions[..., None], axis=-1)[..., 0]


def _covering_set(Q: np.ndarray, width: float, actions: np.ndarray, best=None):
    """``optimal_set(Q, w)`` with w ≥ ``width`` widened, if ever needed, until every
    returned action is in the set: (optimal, policy, w)."""
    if best is None:
        best = Q.max(axis=-1, keepdims=True)
    for _ in range(4):
        optimal = Q >= best - width  # exactly optimal_set(Q, width)
        if _taken(optimal, actions).all():
            policy = optimal / optimal.sum(axis=-1, keepdims=True)
            return optimal, policy, width
        gap = best[..., 0] - _taken(Q, actions)
        width = float(np.nextafter(max(width, float(gap.max())) * (1.0 + 8.0 * _U)
                                   + 4.0 * _U * _norm(best), np.inf))
    raise AssertionError("could not widen the optimal set to cover the returned actions")


def set_width(tol: float, eps, q_norm: float) -> float:
    """w = tol + 2ε + 2u·``q_norm``, rounded up: the width of the certified optimal set
    (module docstring) for ε = max ``eps`` ≥ ‖Q̂ − Q*‖∞ and ``q_norm`` ≥ ‖Q̂‖∞."""
    eps = eps if isinstance(eps, float) else float(np.max(eps))
    return (tol + 2.0 * eps + 2.0 * _U * q_norm) * _SAFE


def certified_set(Q, tol: float, eps, actions, best=None):
    """``(optimal, policy, w)``: the certified optimal set of width
    w = tol + 2ε + 2u‖Q̂‖∞ (rounded up; ε = max ``eps`` ≥ ‖Q̂ − Q*‖∞, module docstring),
    i.e. ``optimal == optimal_set(Q, w)``, and ``policy`` uniform over it; w is widened,
    if ever needed, until every one of ``actions`` (…, S) lies in the set. ``best`` is
    ``Q.max(axis=-1, keepdims=True)`` if the caller has it."""
    actions = np.asarray(actions, dtype=np.intp)
    if best is None:
        best = Q.max(axis=-1, keepdims=True)
    q_norm = max(float(best.max()), -float(Q.min())) if Q.size else 0.0  # ‖Q̂‖∞
    if q_norm == np.inf:  # −inf at disallowed actions
        q_norm = _norm(Q)
    return _covering_set(Q, set_width(tol, eps, q_norm), actions, best)


def _solution(V, Q, tol, method, iterations, residual, bound, eps, actions, gap=None,
              bounded=True, best=None) -> Solution:
    """Build the Solution: the certified optimal set of width
    w = tol + 2ε + 2u‖Q̂‖∞, rounded up (module docstring); ``Solution.tol`` = w."""
    actions = np.asarray(actions, dtype=np.intp)
    optimal, policy, width = certified_set(Q, tol, eps, actions, best)
    for a in (V, Q, optimal, policy, actions):
        a.setflags(write=False)
    return Solution(V=V, Q=Q, optimal=optimal, policy=policy, actions=actions, method=method,
                    iterations=int(iterations), residual=float(residual),
                    error_bound=float(bound), tol=width, gap=gap, bounded=bounded)


def _finish(mdp, V, Q, tol, method, iterations, actions=None, gap=None, qerr=None,
            rd=None) -> Solution:
    """The certificate of an infinite-horizon (V, Q̂): residual, error_bound, optimal set.

    ``qerr`` bounds |Q̂ − (R + γ P V)| entrywise (default: E_Q of a fresh Q̂ = R + γ P V)."""
    rd = _rounding(mdp) if rd is None else rd
    if qerr is None:
        qerr = float(rd.q_error(_norm(V)))
    best = Q.max(axis=-1, keepdims=True)
    if actions is None:
        actions = np.argmax(Q, axis=-1)
    residual = _norm(best[:, 0] - V)  # ‖T V − V‖∞ as computed
    if _is_episodic(mdp):
        bound = _ssp_bound(mdp, V, Q, qerr, np.asarray(actions, dtype=np.intp))
    else:
        bound = _discounted_bound(rd, residual, qerr)
    if not residual < np.inf:
        bound = float("inf")
    eps = qerr + (rd.gamma * rd.rho * bound if bound < np.inf else 0.0)
    return _solution(V, Q, tol, method, iterations, residual, bound, eps, actions, gap=gap,
                     best=best)


def _backward_bound(rd: Rounding, V: np.ndarray):
    """Finite horizon: e_t = E_Q(V_{t+1}) + γ ρ̄ e_{t+1}, e_H = 0 (module docstring, item 5)
    for V of shape (..., H+1, S); returns max_t e_t (over every leading index too)."""
    norms = _norm(V, axis=-1)  # (..., H+1)
    H = V.shape[-2] - 1
    e = np.zeros(norms.shape[:-1])
    worst = 0.0
    for t in range(H - 1, -1, -1):
        e = (rd.q_error(norms[..., t + 1]) + rd.gamma * rd.rho * e) * _SAFE
        worst = max(worst, float(np.max(e)))
    return worst


def _midpoint(rd: Rounding, V, Q, lo, hi, qerr, recompute):
    """The span-midpoint V + c, Q + γc with c = (max d + min d)/(2(1 − γ)), and a bound on
    |Q̂ − (R + γ P V)| for the shifted pair. Exact algebra: P(V + c) = P V + c ρ with ρ the
    row sums, so the shift adds the roundings of V + c, γc and Q + γc and γ|c|·|ρ − 1|
    to the error of Q̂. When that would more than double it (|c| large and ρ only known to
    be within ROW_SUM_ATOL of 1), Q̂ is recomputed from the shifted V by ``recompute``."""
    g = rd.gamma
    c = (hi + lo) / (2.0 * (1.0 - g))
    V = V + c
    gc = g * c
    if g * abs(c) * rd.dev > qerr:
        return V, recompute(V), None
    Q = Q + gc
    extra = (2.0 * _U * abs(gc) + _U * _norm(Q) + g * abs(c) * rd.dev
             + g * rd.rho * _U * _norm(V)) * _SAFE
    return V, Q, float((qerr + extra) * _SAFE)


def _vi_run(mdp: TabularMDP, V, tol: float, max_sweeps: int, rd: Rounding | None = None):
    """Span-stopped value iteration for γ < 1 (MacQueen 1966; Puterman 1994, Thm 6.6.6).

    Sweep k computes Q_k = R + γ P V_k and d = max_a Q_k − V_k = T V_k − V_k. For any V,
    V + min(d)/(1 − γ) ≤ V* ≤ V + max(d)/(1 − γ) (T is monotone and T(V + c) = T V + γc).
    Stop when span(d)/(2(1 − γ)) ≤ tol — or when span(d) is down to twice the rounding
    floor of one residual entry (2(E_Q + u|d|), module docstring) and no longer shrinks,
    since floating point cannot certify more — and return the midpoint
    V = V_k + (max d + min d)/(2(1 − γ)), with Q = Q_k + γ (max d + min d)/(2(1 − γ)),
    which is R + γ P V of the returned V up to rounding bounded by :func:`_midpoint` (or
    recomputed there), so the certificate costs no extra pass over P in general. A first
    sweep from V = 0 reads no P (Q_1 = R exactly).

    Returns (V, Q, k, span_bound, converged, qerr): ``qerr`` bounds |Q − (R + γ P V)|;
    when not converged, V = T V_{k−1} and Q = Q_{k−1} (and qerr is None).
    """
    g = mdp.gamma
    S, A = mdp.R.shape
    if g == 0.0:  # Q = R and V = max_a R exactly
        return mdp.R.max(axis=1), mdp.R.copy(), 1, 0.0, True, 0.0
    rd = _rounding(mdp) if rd is None else rd
    fa, fb = rd.floor()
    two_1mg = 2.0 * (1.0 - g)
    Pm, R = mdp.P_matrix, mdp.R
    dense = isinstance(Pm, np.ndarray)

    def recompute(W):
        return bellman_q(mdp, W)

    def done(Vk, Qk, k, lo, hi):
        qerr = float(rd.q_error(_norm(Vk)))
        V, Q, qe = _midpoint(rd, Vk, Qk, lo, hi, qerr, recompute)
        if qe is None:
            qe = float(rd.q_error(_norm(V)))
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
    prev = np.inf
    bound = np.inf
    for k in range(1, max_sweeps + 1):
        if first_free and k == 1:
            Q[:] = R  # R + γ P 0 = R exactly
        else:
            if dense:
                np.dot(Pm, V, out=buf)
            else:
                buf[:] = Pm @ V
            buf *= g
            Q += R
        TV = Q.max(axis=1)
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
    iteration from the greedy policy once it is proper.
    """
    if _is_episodic(mdp):
        terminal, _ = check_episodic(mdp)
        rd = _rounding(mdp)
        fa, fb = rd.floor()
        V = np.zeros(mdp.n_states) if V0 is None else np.array(V0, dtype=float)
        for sweeps in range(1, max_sweeps + 1):
            V_new = bellman_q(mdp, V).max(axis=1)
            V_new[terminal] = 0.0
            step = np.max(np.abs(V_new - V))
            V = V_new
            if step <= max(tol, 2.0 * (fa + fb * float(_norm(V)))):
                greedy = np.argmax(bellman_q(mdp, V), axis=1)
                try:
                    _stationary_values(mdp, _one_hot(greedy, mdp.n_actions), mdp.R)
                except Exception:  # greedy policy improper (or singular): keep iterating
                    continue
                return policy_iteration(mdp, tol, actions0=greedy, method="vi",
                                        sweeps_before=sweeps)
        raise RuntimeError(f"value iteration did not reach tol={tol:g} in {max_sweeps} sweeps")
    rd = _rounding(mdp)
    V = np.zeros(mdp.n_states) if V0 is None else np.array(V0, dtype=float)
    V, Q, k, bound, ok, qerr = _vi_run(mdp, V, tol, max_sweeps, rd)
    if not ok:
        raise RuntimeError(
            f"value iteration did not reach tol={tol:g} in {max_sweeps} sweeps "
            f"(error bound {bound:.3g}); use method='pi'"
        )
    return _finish(mdp, V, Q, tol, "vi", k, qerr=qerr, rd=rd)


def _one_hot(actions: np.ndarray, A: int) -> np.ndarray:
    return (actions[..., None] == np.arange(A)).astype(np.float64)


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
    rd = _rounding(mdp)
    V = None
    rows = np.arange(S)
    seen = set()
    prev = None
    for k in range(1, max_iterations + 1):
        try:
            V = _stationary_values(mdp, _one_hot(pi_a, A), mdp.R, x0=V)
        except IllPosedMDP:
            # γ = 1: a switch justified only at the rounding level made the policy improper;
            # keep the last proper one (its certificate is computed as usual)
            if prev is None:
                raise
            V, Q, pi_prev, qerr = prev
            return _finish(mdp, V, Q, tol, method, k - 1 + sweeps_before, actions=pi_prev,
                           qerr=qerr, rd=rd)
        Q = bellman_q(mdp, V)
        qerr = float(rd.q_error(_norm(V)))
        best = np.argmax(Q, axis=1)
        current = Q[rows, pi_a]
        improve = Q[rows, best] > current + 2.0 * qerr
        if not improve.any():
            return _finish(mdp, V, Q, tol, method, k + sweeps_before, actions=pi_a, qerr=qerr,
                           rd=rd)
        seen.add(pi_a.tobytes())
        prev = (V, Q, pi_a, qerr)
        pi_a = np.where(improve, best, pi_a)
        if pi_a.tobytes() in seen:  # a cycle through rounding-level changes: stop here
            return _finish(mdp, V, Q, tol, method, k + sweeps_before, qerr=qerr, rd=rd)
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
    (up to the rounding term of the certificate, module docstring).

    Why this order: on problems whose rows mix in a step (random dense rows) modified policy
    iteration needs two full passes over P where value iteration needs six to nine; on
    slow-mixing chains both policy-iteration variants move a switch point about one state
    per pass (363 passes at S = 500 in BENCHMARKS.md), where value iteration takes 2,213
    sweeps that each cost one pass — so MPI gets a few passes, then VI takes over."""
    from .mpi import _mpi

    S, A = mdp.n_states, mdp.n_actions
    rd = _rounding(mdp)
    V0, k0 = np.zeros(S), 0
    size = S * S * A
    compiled = size <= kernels.SMALL_SIZE and kernels.available()
    if not mdp.is_sparse and size >= MPI_MIN_SIZE and A >= MPI_MIN_ACTIONS and not compiled:
        V, Q, _, k0, bound, ok, qerr = _mpi(
            mdp, tol, max_passes=MPI_PASSES, eval_budget=MPI_EVAL_BUDGET, rd=rd)
        if ok:
            return _finish(mdp, V, Q, tol, "auto:mpi", k0, qerr=qerr, rd=rd)
        V0 = V
    budget = max(2000, 20 * S // A)
    V, Q, k, bound, ok, qerr = _vi_run(mdp, V0, tol, budget, rd)
    if ok:
        return _finish(mdp, V, Q, tol, "auto:vi", k0 + k, qerr=qerr, rd=rd)
    actions0 = np.argmax(Q, axis=1)
    return policy_iteration(mdp, tol, actions0=actions0, method="auto:pi",
                            sweeps_before=k0 + k)


def backward_induction(mdp: TabularMDP, tol: float = 1e-10) -> Solution:
    """Finite horizon H: V_H = 0, Q_t = R + γ P V_{t+1}, V_t = max_a Q_t, t = H−1, …, 0.

    Exact up to floating point: ``error_bound`` = max_t e_t with e_H = 0 and
    e_t = E_Q(V_{t+1}) + γ ρ̄ e_{t+1}, the accumulated rounding (module docstring, item 5).
    Reference: Puterman (1994), §4.5.
    """
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    if H is None:
        raise ValueError("method 'backward' needs a finite horizon; this MDP has horizon=None")
    V = np.zeros((H + 1, S))
    Q = np.empty((H, S, A))
    for t in range(H - 1, -1, -1):
        Q[t] = bellman_q(mdp, V[t + 1])
        V[t] = Q[t].max(axis=1)
    bound = _backward_bound(_rounding(mdp), V)
    return _solution(V, Q, tol, "backward", H, 0.0, bound, bound, np.argmax(Q, axis=-1))


def solve(mdp: TabularMDP, method: str = "auto", tol: float = 1e-10) -> Solution:
    """Solve ``mdp`` for V*, Q*, the set of optimal actions and a certificate.

    Methods: ``"vi"`` value iteration (span stopping rule: ‖V − V*‖∞ ≤ tol up to rounding),
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
      tol: target for the algorithmic error ‖V − V*‖∞ of iterative methods (the
        certified ``error_bound`` adds the floating-point term of the module docstring,
        so it may exceed tol when γ → 1 or ‖V‖∞ is large), and the base tolerance of the
        optimal-action set ``optimal[s, a] = Q[s, a] ≥ max_a' Q[s, a'] − w``, with w =
        ``Solution.tol`` = tol + 2ε (ε bounds ‖Q − Q*‖∞: outside the set is provably
        suboptimal).

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
