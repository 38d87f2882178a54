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

__all__ = ["vi_small", "vi_raw", "SMALL_SIZE", "available"]

#: The largest S·A·S handled by the compiled kernel.
SMALL_SIZE = 200_000

_U = 2.0 ** -53

_kernel = None  # None: not tried yet; False: numba missing


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

    return vi_kernel


def available() -> bool:
    """True when numba is installed (the kernel is then built on first use)."""
    global _kernel
    if _kernel is None:
        try:
            _kernel = _build()
        except ImportError:
            _kernel = False
    return _kernel is not False


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
