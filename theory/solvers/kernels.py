"""A compiled value-iteration kernel for small dense MDPs (numba: the optional ``fast`` extra).

For S·A·S up to :data:`SMALL_SIZE` numbers (≤ 1.6 MB of P, cache-resident), a Bellman
sweep costs less than the ~10 numpy calls that express it, so the whole span-stopped loop
of :func:`mesabase.theory.solvers.iteration._vi_run` runs here as one compiled function: the same
iteration and the same stopping rules (its docstring has the bound; the rounding floor
a + b‖V‖∞ of one residual entry is passed in). Summation inside a row's dot product may be
reordered (``fastmath`` reassociation, for SIMD) and fused (FMA): that changes V by a few
ulps, and the rounding bound of the certificate, γ_n Σ|p_j v_j| per dot product, holds
for any order of summation, with or without FMA.

Without numba installed, :func:`vi_small` and :func:`vi_raw` return None and the numpy
loop is used. The first call in a process loads (or compiles and caches on disk) the kernel.
"""

from __future__ import annotations

import numpy as np

__all__ = ["vi_small", "vi_raw", "policy_sweeps", "mpi_small", "SMALL_SIZE", "available"]

#: The largest S·A·S handled by the compiled kernel.
SMALL_SIZE = 200_000

_U = 2.0 ** -53

_kernel = None  # None: not tried yet; False: numba missing
_eval = [None, None]  # compiled partial policy evaluation and MPI (built with _kernel)


def _build():
    import numba

    @numba.njit(cache=True, fastmath={"reassoc", "contract"}, nogil=True)
    def vi_kernel(Pm, R, g, V, tol, max_sweeps, Q, fa, fb, zero):  # pragma: no cover
        """Leaves V = V_k, Q = Q_k of the stopping sweep k; returns (k, lo, hi, stopped).
        Not stopped: V = T V_{k−1}, Q = Q_{k−1} after max_sweeps. ``zero``: V = 0, so the
        first sweep is Q = R exactly (no pass over P)."""
        SA, S = Pm.shape
        A = SA // S
        two_1mg = 2.0 * (1.0 - g)
        TV = np.empty(S)
        lo = 0.0
        hi = np.inf
        prev = np.inf
        for k in range(1, max_sweeps + 1):
            lo = np.inf
            hi = -np.inf
            vnorm = 0.0
            for s in range(S):
                vnorm = max(vnorm, abs(V[s]))
                best = -np.inf
                for a in range(A):
                    row = s * A + a
                    acc = 0.0
                    if not (zero and k == 1):
                        for j in range(S):
                            acc += Pm[row, j] * V[j]
                    q = R[s, a] + g * acc
                    Q[s, a] = q
                    if q > best:
                        best = q
                TV[s] = best
                d = best - V[s]
                lo = min(lo, d)
                hi = max(hi, d)
            span = hi - lo
            if span / two_1mg <= tol:
                return k, lo, hi, True
            if span >= prev and span <= (2.0 * (fa + fb * vnorm)
                                         + 4.0 * _U * max(abs(hi), abs(lo))):
                return k, lo, hi, True
            prev = span
            V[:] = TV
        return max_sweeps, lo, hi, False

    @numba.njit(cache=True, fastmath={"reassoc", "contract"}, nogil=True)
    def eval_kernel(P_pi, r_pi, W, g, eps, budget):  # pragma: no cover
        """Span-stopped W ← r + g P_π W in place (mpi._evaluate_partial's loop): returns
        (sweeps, lo, hi) of the last e = W_new − W_old."""
        S = W.shape[0]
        c = g / (1.0 - g)
        new = np.empty(S)
        lo = 0.0
        hi = 0.0
        prev = np.inf
        for j in range(1, budget + 1):
            lo = np.inf
            hi = -np.inf
            for s in range(S):
                acc = 0.0
                for t in range(S):
                    acc += P_pi[s, t] * W[t]
                w = r_pi[s] + g * acc
                e = w - W[s]
                lo = min(lo, e)
                hi = max(hi, e)
                new[s] = w
            W[:] = new
            if c * (hi - lo) / 2.0 <= eps or hi - lo >= prev:
                return j, lo, hi
            prev = hi - lo
        return budget, lo, hi

    @numba.njit(cache=True, fastmath={"reassoc", "contract"}, nogil=True)
    def mpi_kernel(Pm, R, g, tol, max_passes, eval_budget, qa, qb, fa, fb, V, Q,
                   act, Q1):  # pragma: no cover
        """mpi.mpi_with_rounding's loop, compiled: leaves V = V_k, Q = Q_k of the stopping
        pass k and the policy in ``act``; returns (k, lo, hi, stopped)."""
        SA, S = Pm.shape
        A = SA // S
        one_minus = 1.0 - g
        eps = tol * one_minus / 4.0
        c = g / one_minus
        P_pi = np.empty((S, S))
        r_pi = np.empty(S)
        TV = np.empty(S)
        for s in range(S):  # the start: act = argmax Q1 (given), TV = T_act v0
            TV[s] = Q1[s, act[s]]
        changed = True
        prev = np.inf
        lo = 0.0
        hi = 0.0
        for k in range(1, max_passes + 1):
            if changed:
                for s in range(S):
                    row = s * A + act[s]
                    for t in range(S):
                        P_pi[s, t] = Pm[row, t]
                    r_pi[s] = R[s, act[s]]
            # partial evaluation from W = TV, span-stopped (and stopped on a stall)
            V[:] = TV
            _, elo, ehi = eval_kernel(P_pi, r_pi, V, g, eps, eval_budget)
            shift = c * (ehi + elo) / 2.0
            vnorm = 0.0
            for s in range(S):
                V[s] += shift
                vnorm = max(vnorm, abs(V[s]))
            # full pass
            lo = np.inf
            hi = -np.inf
            for s in range(S):
                best = -np.inf
                for a in range(A):
                    row = s * A + a
                    acc = 0.0
                    for t in range(S):
                        acc += Pm[row, t] * V[t]
                    q = R[s, a] + g * acc
                    Q[s, a] = q
                    if q > best:
                        best = q
                d = best - V[s]
                lo = min(lo, d)
                hi = max(hi, d)
                TV[s] = best
            span = hi - lo
            floor = 2.0 * (fa + fb * vnorm) + 4.0 * _U * max(abs(hi), abs(lo))
            if span / (2.0 * one_minus) <= tol or (span <= floor and span >= prev):
                return k, lo, hi, True
            prev = span
            theta = 2.0 * (qa + qb * vnorm)
            changed = False
            for s in range(S):
                b = 0
                for a in range(1, A):
                    if Q[s, a] > Q[s, b]:
                        b = a
                if Q[s, b] > Q[s, act[s]] + theta:
                    act[s] = b
                    changed = True
                TV[s] = Q[s, act[s]]
        return max_passes, lo, hi, False

    return vi_kernel, eval_kernel, mpi_kernel


def available() -> bool:
    """True when numba is installed (the kernel is then built on first use)."""
    global _kernel
    if _kernel is None:
        try:
            _kernel, _eval[0], _eval[1] = _build()
        except ImportError:
            _kernel = False
    return _kernel is not False


def mpi_small(Pm: np.ndarray, R: np.ndarray, g: float, tol: float, max_passes: int,
              eval_budget: int, rd, Q1: np.ndarray):
    """Modified policy iteration (:func:`mesabase.theory.solvers.mpi.mpi_with_rounding`: same
    start — greedy for ``Q1`` = R + γ P max_a R —, evaluation, stopping rules and tie
    threshold 2·E_Q(‖V‖∞) with E_Q = ``rd.q_error``) as one compiled loop, for P small
    enough to stay in cache: ``(V_k, Q_k, actions, k, lo, hi, stopped)`` before the
    midpoint shift, or None without numba. Summation order may differ from numpy's (the
    certificate's γ_n bound holds in any order)."""
    if not available():
        return None
    S, A = R.shape
    fa, fb = rd.floor()
    qa = float(rd.q_error(0.0))  # E_Q(v) = qa + qb·v (the underflow term included in qa)
    V = np.empty(S)
    Q = np.empty((S, A))
    act = np.argmax(Q1, axis=1)
    k, lo, hi, ok = _eval[1](np.ascontiguousarray(Pm, dtype=np.float64),
                             np.ascontiguousarray(R, dtype=np.float64), float(g), float(tol),
                             int(max_passes), int(eval_budget), qa, float(fb), float(fa),
                             float(fb), V, Q, act, np.ascontiguousarray(Q1))
    return V, Q, act, int(k), float(lo), float(hi), bool(ok)


def policy_sweeps(P_pi: np.ndarray, r_pi: np.ndarray, W: np.ndarray, g: float, eps: float,
                  budget: int):
    """The partial evaluation of :func:`mesabase.theory.solvers.mpi._evaluate_partial` as
    one compiled loop (no per-sweep call into BLAS, whose sleeping threads can cost more to
    wake than a sweep of a cache-resident P_π): ``(W, sweeps)`` with the same midpoint, or
    None without numba. Only the speed of modified policy iteration depends on it: its
    stopping rule and certificate come from the full passes."""
    if not available():
        return None
    W = np.array(W, dtype=np.float64)
    j, lo, hi = _eval[0](P_pi, np.ascontiguousarray(r_pi, dtype=np.float64), W, float(g),
                         float(eps), int(budget))
    c = g / (1.0 - g)
    return W + c * (hi + lo) / 2.0, int(j)


def vi_raw(Pm: np.ndarray, R: np.ndarray, g: float, V0: np.ndarray, tol: float,
           max_sweeps: int, fa: float = 0.0, fb: float = 0.0):
    """The compiled loop: ``(V_k, Q_k, k, lo, hi, stopped)`` with d = T V_k − V_k spanning
    [lo, hi] at the stopping sweep k (no midpoint shift), or None without numba. ``fa``,
    ``fb``: the rounding floor a + b‖V‖∞ of one residual entry (0 disables that rule but
    for its last-ulp part)."""
    if not available():
        return None
    S, A = R.shape
    V = np.array(V0, dtype=np.float64)
    Q = np.empty((S, A))
    k, lo, hi, ok = _kernel(np.ascontiguousarray(Pm, dtype=np.float64),
                            np.ascontiguousarray(R, dtype=np.float64), float(g), V,
                            float(tol), int(max_sweeps), Q, float(fa), float(fb),
                            not V.any())
    return V, Q, int(k), float(lo), float(hi), bool(ok)


def vi_small(Pm: np.ndarray, R: np.ndarray, g: float, V0: np.ndarray, tol: float,
             max_sweeps: int):
    """Span-stopped value iteration on a dense (S·A, S) ``Pm`` (row s·A + a is P[s, a, :]),
    ``R[s, a]``, discount 0 < g < 1, from ``V0``: ``(V, Q, k, bound, converged)`` with the
    midpoint V + c, Q + g c, c = (hi + lo)/(2(1 − g)), as
    :func:`mesabase.theory.solvers.iteration._vi_sweeps`, or None when numba is not installed."""
    out = vi_raw(Pm, R, g, V0, tol, max_sweeps)
    if out is None:
        return None
    V, Q, k, lo, hi, ok = out
    two_1mg = 2.0 * (1.0 - g)
    if ok:
        shift = (hi + lo) / two_1mg
        V += shift
        Q += g * shift
    return V, Q, k, (hi - lo) / two_1mg, ok
