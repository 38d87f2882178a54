"""The truncation depth of the Gittins calibration (shared by :mod:`.gittins` and
:mod:`.gittins_grid`): the least N at which the a-priori bound on the value beyond depth N,
γᴺ/(4(1 − γ)√(n0 + N + 1)), is at most tol/2 (the derivation is in :mod:`.gittins`'s
module docstring)."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

__all__ = ["MAX_DEPTH", "truncation_depth", "check_gamma_tol"]

#: Largest truncation depth N allowed (each bisection step costs ~N²/2 nodes per index).
MAX_DEPTH = 20_000


def check_gamma_tol(gamma, tol) -> tuple[float, float]:
    """γ ∈ [0, 1) and a finite tol > 0, as floats; ValueError naming the bad one."""
    if isinstance(gamma, bool) or not isinstance(gamma, Real) or not 0 <= gamma < 1:
        raise ValueError(f"gamma must be a number in [0, 1); got {gamma!r}")
    if isinstance(tol, bool) or not isinstance(tol, Real) or not (0 < tol < math.inf):
        raise ValueError(f"tol must be a finite number > 0; got {tol!r}")
    return float(gamma), float(tol)


def truncation_depth(gamma: float, tol: float, n0: float = 2.0) -> int:
    """The least N ≥ 1 with γᴺ/(4(1 − γ)√(n0 + N + 1)) ≤ tol/2, n0 = a + b (module doc).

    Raises ValueError when N would exceed :data:`MAX_DEPTH` (γ too close to 1 for tol).

      >>> truncation_depth(0.9, 1e-6)
      124
    """
    g, tol = check_gamma_tol(gamma, tol)
    if g == 0:
        return 1
    N = np.arange(1, MAX_DEPTH + 1)
    log_eps = N * math.log(g) - math.log(4 * (1 - g)) - 0.5 * np.log(n0 + N + 1)
    ok = np.flatnonzero(log_eps <= math.log(tol / 2))
    if ok.size == 0:
        raise ValueError(f"gamma={gamma!r} with tol={tol!r} needs a truncation depth above "
                         f"MAX_DEPTH={MAX_DEPTH}; use a larger tol or a smaller gamma")
    return int(N[ok[0]])
