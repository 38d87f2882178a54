"""The certificate every solver returns: a guaranteed bound on ‖V − V*‖∞ that includes the
floating-point error of computing it, and the optimal set whose width covers it.

With u = 2⁻⁵³ and γ_n = n u / (1 − n u) (Higham, *Accuracy and Stability of Numerical
Algorithms*, 2002, §3.1), the rounding of Q = R + γ P V is at most
E_Q = u‖R‖∞ + γ ρ̄ ‖V‖∞ (γ_n + 3u(1 + γ_n)) in any summation order; the residual
Δ = ‖fl(max_a Q̂ − V)‖∞ (1 + 2u) + E_Q is at least the exact ‖TV − V‖∞, and for γ < 1
``error_bound`` = Δ / (1 − γ ρ̄), every step rounded upward (:data:`SAFETY_FACTOR`), so it
cannot round to zero when V is wrong. An action is in the optimal set when it is within
w = tol + 2ε + 2u‖Q‖∞ of the best (ε = E_Q + γ ρ̄ · error_bound), so an action outside the
set is provably suboptimal. The full derivation is in :mod:`mesabase.theory.solvers`.

Shared by the solvers (:mod:`.solvers`, :mod:`.mpi`, :mod:`.lp`, :mod:`.batch`,
:mod:`.restricted`) and the incremental optimum, which is why it stands below all of them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..episodic import is_episodic, terminal_states
from ..evaluation import bellman_q
from ..mdp import ROW_SUM_ATOL, TabularMDP
from ..solution import Solution

__all__ = ["TIE_RTOL", "UNIT_ROUNDOFF", "SAFETY_FACTOR", "SMALLEST_SUBNORMAL", "MEASURE_SIZE",
           "higham_gamma", "Rounding", "rounding_bound", "inf_norm", "row_stats",
           "rounding_from", "mdp_rounding", "bellman_residual", "discounted_bound",
           "ssp_bound", "taken_mask", "covering_set", "set_width", "certified_set",
           "make_solution", "certify_solution", "backward_bound", "midpoint_correction",
           "one_hot"]

#: No longer used by any solver (kept as a public name): a relative tie rule
#: TIE_RTOL·(1 + |Q|) ignores real improvements once |Q| ≳ 1e12. Policy iteration (and
#: :class:`~mesabase.theory.IncrementalCE`) treat as ties only differences within 2·E_Q,
#: the rounding bound of Q̂ itself.
TIE_RTOL = 1e-12

#: u = 2⁻⁵³, the unit roundoff of float64.
UNIT_ROUNDOFF = 2.0 ** -53
#: Multiplies every computed bound: covers the roundings of the formula computing it.
SAFETY_FACTOR = 1.0 + 64.0 * UNIT_ROUNDOFF
#: The smallest subnormal, 2⁻¹⁰⁷⁴: the absolute error of an underflowing operation.
SMALLEST_SUBNORMAL = 2.0 ** -1074
_U, _SAFE, _ETA = UNIT_ROUNDOFF, SAFETY_FACTOR, SMALLEST_SUBNORMAL  # short names in formulas
#: Row sums and nonzeros of P are measured (one pass over P) when S·A·S is at most this
#: (0: never, by default — the a-priori bound of validation is enough), or when γ is so
#: close to 1 that the a-priori row-sum slack would matter (see :func:`rounding_from`).
MEASURE_SIZE = 0


def higham_gamma(n: int) -> float:
    """Higham's γ_n = n u / (1 − n u), rounded up (γ_n for n < 1 is that of n = 1): a sum
    or dot product of n + 1 terms errs by at most γ_n Σ|terms| in any order."""
    n = max(int(n), 1)
    return n * _U / (1.0 - n * _U) * _SAFE




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


def inf_norm(x, axis=None):
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


def row_stats(Pm, sparse: bool) -> tuple[int, float, float]:
    """(n, ρ̄, dev) measured: the largest number of nonzeros in a row, and bounds on the
    largest exact row sum and on the largest |row sum − 1| (one pass over P)."""
    if sparse:
        sums = np.asarray(Pm.sum(axis=1)).ravel()
        n = int(np.diff(Pm.indptr).max()) if Pm.shape[0] else 1
    else:
        sums = Pm.sum(axis=-1).reshape(-1)
        n = int(np.count_nonzero(Pm.reshape(-1, Pm.shape[-1]), axis=1).max())
    gn = higham_gamma(n)
    rho = float(sums.max()) * (1.0 + 2.0 * gn) * _SAFE  # |fl(Σ) − Σ| ≤ γ_n Σ
    dev = (float(np.abs(sums - 1.0).max()) + gn * rho) * _SAFE
    return n, rho, dev


def rounding_from(gamma: float, S: int, A: int, Pm, sparse: bool, R_norm,
                   size: int | None = None, sums=None) -> Rounding:
    """Rounding constants from the row sums measured when the model was validated
    (``sums``: the largest computed row sum and the largest |computed row sum − 1|; each
    computed sum of n terms is within γ_n times the exact one, in any summation order), or
    from the a-priori row-sum guarantee of validation, or measured
    (one pass over the (rows, S) ``Pm``) when its ``size`` (default S·A·S) is at most
    :data:`MEASURE_SIZE` or γ is so close to 1 that the a-priori slack would inflate
    1/(1 − γρ̄) by more than 0.1 %."""
    n = int(np.diff(Pm.indptr).max()) if sparse and Pm.shape[0] else S
    gn = higham_gamma(n)
    if sums is not None:  # (max fl(row sum), max |fl(row sum) − 1|), measured at validation
        rho = float(sums[0]) * (1.0 + 2.0 * gn) * _SAFE
        dev = (float(sums[1]) + gn * rho) * _SAFE
        k = (gn + 3.0 * _U * (1.0 + gn)) * _SAFE
        return Rounding(gamma=float(gamma), n=n, rho=rho, dev=dev, R_norm=R_norm, k=k)
    # a priori: the MDP was validated with |fl(row sum) − 1| ≤ ROW_SUM_ATOL
    dev = (ROW_SUM_ATOL + gn * (1.0 + ROW_SUM_ATOL)) * (1.0 + 2.0 * gn) * _SAFE
    rho = (1.0 + dev) * _SAFE
    size = S * A * S if size is None else size
    if size <= MEASURE_SIZE or (0.0 < gamma < 1.0 and gamma * dev > 1e-3 * (1.0 - gamma)):
        n, rho, dev = row_stats(Pm, sparse)
        gn = higham_gamma(n)
    k = (gn + 3.0 * _U * (1.0 + gn)) * _SAFE
    return Rounding(gamma=float(gamma), n=n, rho=rho, dev=dev, R_norm=R_norm, k=k)


def mdp_rounding(mdp: TabularMDP, R=None) -> Rounding:
    """The rounding constants of ``mdp`` (with reward ``R``, default ``mdp.R``)."""
    R = mdp.R if R is None else R
    S, A = mdp.n_states, mdp.n_actions
    return rounding_from(mdp.gamma, S, A, mdp.P_matrix, mdp.is_sparse, inf_norm(R),
                         sums=mdp.row_sums)


def bellman_residual(mdp: TabularMDP, V: np.ndarray) -> float:
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




def ssp_bound(mdp: TabularMDP, V, Q, qerr: float, actions) -> float:
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
    d_mu = np.abs(taken_mask(Qk, actions[keep]) - Vk).max()
    delta = (max(d_max, d_mu) * (1.0 + 2.0 * _U) + qerr) * _SAFE
    if not delta < c:
        return float("inf")
    c_lo = (c - delta) * (1.0 - 2.0 * _U)
    tau = max(1.0, float(np.max(-Vk)) / c_lo * _SAFE)
    out = delta * tau * _SAFE
    return out if np.isfinite(out) else float("inf")


def taken_mask(Q: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Q[..., actions] along the last axis."""
    if Q.ndim == 2:
        return Q[np.arange(Q.shape[0]), actions]
    return np.take_along_axis(Q, actions[..., None], axis=-1)[..., 0]


def covering_set(Q: np.ndarray, width: float, actions: np.ndarray, best=None):
    """``optimal_set(Q, w)`` with w ≥ ``width`` widened, if ever needed, until every
    returned action is in the set: (optimal, policy, w)."""
    if best is None:
        best = Q.max(axis=-1, keepdims=True)
    for _ in range(4):
        optimal = Q >= best - width  # exactly optimal_set(Q, width)
        if taken_mask(optimal, actions).all():
            policy = optimal / optimal.sum(axis=-1, keepdims=True)
            return optimal, policy, width
        gap = best[..., 0] - taken_mask(Q, actions)
        width = float(np.nextafter(max(width, float(gap.max())) * (1.0 + 8.0 * _U)
                                   + 4.0 * _U * inf_norm(best), np.inf))
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
        q_norm = inf_norm(Q)
    return covering_set(Q, set_width(tol, eps, q_norm), actions, best)


def make_solution(V, Q, tol, method, iterations, residual, bound, eps, actions, gap=None,
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


def certify_solution(mdp, V, Q, tol, method, iterations, actions=None, gap=None, qerr=None,
            rd=None) -> Solution:
    """The certificate of an infinite-horizon (V, Q̂): residual, error_bound, optimal set.

    ``qerr`` bounds |Q̂ − (R + γ P V)| entrywise (default: E_Q of a fresh Q̂ = R + γ P V)."""
    rd = mdp_rounding(mdp) if rd is None else rd
    if qerr is None:
        qerr = float(rd.q_error(inf_norm(V)))
    best = Q.max(axis=-1, keepdims=True)
    if actions is None:
        actions = np.argmax(Q, axis=-1)
    residual = inf_norm(best[:, 0] - V)  # ‖T V − V‖∞ as computed
    if is_episodic(mdp):
        bound = ssp_bound(mdp, V, Q, qerr, np.asarray(actions, dtype=np.intp))
    else:
        bound = discounted_bound(rd, residual, qerr)
    if not residual < np.inf:
        bound = float("inf")
    eps = qerr + (rd.gamma * rd.rho * bound if bound < np.inf else 0.0)
    return make_solution(V, Q, tol, method, iterations, residual, bound, eps, actions, gap=gap,
                     best=best)


def backward_bound(rd: Rounding, V: np.ndarray):
    """Finite horizon: e_t = E_Q(V_{t+1}) + γ ρ̄ e_{t+1}, e_H = 0 (module docstring, item 5)
    for V of shape (..., H+1, S); returns max_t e_t (over every leading index too)."""
    norms = inf_norm(V, axis=-1)  # (..., H+1)
    H = V.shape[-2] - 1
    e = np.zeros(norms.shape[:-1])
    worst = 0.0
    for t in range(H - 1, -1, -1):
        e = (rd.q_error(norms[..., t + 1]) + rd.gamma * rd.rho * e) * _SAFE
        worst = max(worst, float(np.max(e)))
    return worst


def midpoint_correction(rd: Rounding, V, Q, lo, hi, qerr, recompute):
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
    extra = (2.0 * _U * abs(gc) + _U * inf_norm(Q) + g * abs(c) * rd.dev
             + g * rd.rho * _U * inf_norm(V)) * _SAFE
    return V, Q, float((qerr + extra) * _SAFE)


def one_hot(actions: np.ndarray, A: int) -> np.ndarray:
    return (actions[..., None] == np.arange(A)).astype(np.float64)
