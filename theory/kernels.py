"""A compiled value-iteration kernel for small dense MDPs (numba: the optional ``fast`` extra).

For S·A·S up to :data:`SMALL_SIZE` numbers (≤ 1.6 MB of P, cache-resident), a Bellman
sweep costs less than the ~10 numpy calls that express it, so the whole span-stopped loop
of :func:`mesabase.theory.solvers._vi_sweeps` runs here as one compiled function: the same
iteration, the same stopping rule and the same returned midpoint (its docstring has the
bound). Summation inside a row's dot product may be reordered (``fastmath`` reassociation,
for SIMD), which changes V by a few ulps, not the bound.

Without numba installed, :func:`vi_small` returns None and the numpy loop is used. The
first call in a process loads (or compiles and caches on disk) the kernel.
"""

from __future__ import annotations

import numpy as np

__all__ = ["vi_small", "SMALL_SIZE", "available"]

#: The largest S·A·S handled by the compiled kernel.
SMALL_SIZE = 200_000

_kernel = None  # None: not tried yet; False: numba missing


def _build():
    import numba

    @numba.njit(cache=True, fastmath={"reassoc", "contract"}, nogil=True)
    def vi_kernel(Pm, R, g, V, tol, max_sweeps, Q):  # pragma: no cover - compiled
        SA, S = Pm.shape
        A = SA // S
        two_1mg = 2.0 * (1.0 - g)
        TV = np.empty(S)
        bound = np.inf
        for k in range(1, max_sweeps + 1):
            lo = np.inf
            hi = -np.inf
            for s in range(S):
                best = -np.inf
                for a in range(A):
                    row = s * A + a
                    acc = 0.0
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
            bound = (hi - lo) / two_1mg
            if bound <= tol:
                shift = (hi + lo) / two_1mg
                for s in range(S):
                    V[s] += shift
                    for a in range(A):
                        Q[s, a] += g * shift
                return k, bound, True
            V[:] = TV
        return max_sweeps, bound, False

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


def vi_small(Pm: np.ndarray, R: np.ndarray, g: float, V0: np.ndarray, tol: float,
             max_sweeps: int):
    """Span-stopped value iteration on a dense (S·A, S) ``Pm`` (row s·A + a is P[s, a, :]),
    ``R[s, a]``, discount 0 < g < 1, from ``V0``: ``(V, Q, k, bound, converged)`` exactly as
    :func:`mesabase.theory.solvers._vi_sweeps`, or None when numba is not installed."""
    if not available():
        return None
    S, A = R.shape
    V = np.array(V0, dtype=np.float64)
    Q = np.empty((S, A))
    k, bound, ok = _kernel(np.ascontiguousarray(Pm, dtype=np.float64),
                           np.ascontiguousarray(R, dtype=np.float64), float(g), V,
                           float(tol), int(max_sweeps), Q)
    return V, Q, int(k), float(bound), bool(ok)
