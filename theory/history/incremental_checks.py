"""The checks of :class:`~mesabase.theory.IncrementalCE`: its certificate, its tie rule
and its float32 screen.

**Certificate.** ``IncrementalCE.solution().error_bound`` bounds ‖V − V*‖∞ for every
seed's model as stored (P̂, R̂ in float64), floating point and drift included, by the
bound of :mod:`~mesabase.theory.solvers` (items 1–3 there): Δ/(1 − γρ̄) with Δ the
computed residual ‖max_a Q̂ − V‖∞ plus rounding, Q̂ = R̂ + γ P̂ V computed from the model
for the V returned — so whatever the rank-one updates left in V shows up in the residual.
ρ̄ bounds the exact row sums of P̂: a row fl(m/fl(Σ m)) of masses m sums exactly to
within (u + γ_{S−1})/(1 − γ_{S−1}) of 1 (u = 2⁻⁵³; a uniform row S·fl(1/S) within u).
Residual and norms are batch maxima (as in :func:`~mesabase.theory.solve_batch`). The
optimal sets have the certified width w = tol + 2ε + 2u‖Q̂‖∞, ε = E_Q + γρ̄·error_bound ≥
‖Q̂ − Q*‖∞ (``Solution.tol`` = w): an action outside is provably suboptimal, and the
returned actions always lie inside (w is widened if ever needed).

**Ties.** Policy iteration keeps π(s) unless some Q̂[s, b] exceeds Q̂[s, π(s)] by more than
θ(s) = 2γρ̄(k + 2u)‖V‖∞ + 4u|Q̂[s, π(s)]| (k ≈ (S + 3)u, rounded up): each computed entry
errs by at most u|R̂[s, a]| + γρ̄k‖V‖∞ (E_Q entry by entry) and u|R̂| ≤ u|Q̂| +
uγρ̄(1 + k)‖V‖∞, so a larger difference is an exact improvement at this V (2·E_Q, as in
:func:`~mesabase.theory.policy_iteration`), a smaller one is within rounding.
"""

from __future__ import annotations

import numpy as np

from ..solvers.certificate import SAFETY_FACTOR as _SAFE
from ..solvers.certificate import UNIT_ROUNDOFF as _U
from ..solvers.certificate import (
    Rounding,
    certified_set,
    discounted_bound,
    higham_gamma,
    rounding_bound,
    set_width,
)

__all__ = ["model_rounding", "tie_coefficients", "certify", "screen"]

_U, _SAFE = _U, _SAFE


def model_rounding(gamma: float, n_states: int) -> Rounding:
    """The rounding constants of models whose rows are m/fl(Σ m) (module docstring)."""
    g = higham_gamma(n_states - 1)
    return rounding_bound(gamma, n_states, (_U + g) / (1.0 - g) * _SAFE)


def tie_coefficients(rd: Rounding) -> tuple[float, float]:
    """(c_V, c_Q) with θ(s) = c_V ‖V‖∞ + c_Q |Q̂[s, π(s)]| (module docstring)."""
    return 2.0 * rd.gamma * rd.rho * (rd.k + 2.0 * _U) * _SAFE, 4.0 * _U * _SAFE


def certify(rd: Rounding, tol: float, V, R, Q, actions, taken):
    """(optimal, w, residual, error_bound) of V (N, S) with Q (N, S, A) = R + γ P V entry by
    entry, and ``actions`` (N, S) in the set (``taken`` = arange(N·S)·A). About a dozen
    passes over (N, S) or (N, S, A) arrays: it runs at every step in a simulation."""
    best = Q.max(axis=2, keepdims=True)
    residual = float(np.abs(best[..., 0] - V).max())
    v_norm = max(float(V.max()), -float(V.min()))
    r_norm = max(float(R.max()), -float(R.min()))
    qerr = float(rd.q_error(v_norm, r_norm))
    bound = discounted_bound(rd, residual, qerr)
    eps = qerr + (rd.gamma * rd.rho * bound if bound < np.inf else 0.0)
    # ‖Q̂‖∞ ≤ (‖R‖ + γρ̄‖V‖(1 + k))(1 + u)², from how Q̂ is computed: no pass over Q
    q_norm = (r_norm + rd.gamma * rd.rho * v_norm * (1.0 + rd.k)) * (1.0 + 2.0 * _U) * _SAFE
    width = set_width(tol, eps, q_norm)
    optimal = Q >= best - width                                  # optimal_set(Q, width)
    if not optimal.reshape(-1).take(taken + actions.reshape(-1)).all():
        optimal, _, width = certified_set(Q, width, 0.0, actions, best)  # widen
    return optimal, width, residual, bound


def screen(rows32, idx, out, V, R, actions, gamma: float) -> np.ndarray:
    """The seeds (of idx) whose policy a float32 evaluation of Q cannot confirm: (k,) bool.

    ``rows32[i]`` is seed i's P̂ in float32, (S·A, S); ``out`` a (k, S·A) float32 buffer;
    V (k, S), R (k, S, A) and actions (k, S) those of the seeds idx. With m the midpoint of
    V's range and h half its span, P̂V = m + P̂(V − m) (rows of P̂ sum to 1), and computing
    P̂(V − m) with P̂ and V − m rounded to float32 errs by at most (S + 3)·u·h, u = 2⁻²⁴
    (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1). So
    Q̃ = R̂ + γ(m + fl32(P̂(V − m))) is within ε = 2γ((S + 3)·u·h + 4S·u₆₄(|m| + 1)) +
    16u₆₄(1 + ‖V‖∞) + 4u₆₄|Q̃| of Q (u₆₄ = 2⁻⁵³ covers the float64 steps and Σ_s' P̂ ≠ 1
    by rounding). If every non-policy Q̃[s, b] + ε ≤ Q̃[s, π(s)] − ε, then Q[s, b] ≤
    Q[s, π(s)] exactly, so the computed Q̂ differ by at most θ(s) and the exact check would
    keep π too.
    """
    k, (S, A) = idx.size, R.shape[1:]
    hi, lo = V.max(axis=1), V.min(axis=1)
    m = 0.5 * (hi + lo)
    V32 = (V - m[:, None]).astype(np.float32)
    out, dot = out[:k], np.dot
    for i, vj, o in zip(idx.tolist(), V32, out, strict=True):
        dot(rows32[i], vj, out=o)
    Qs = (out.reshape(k, S, A) + m[:, None, None]) * gamma
    Qs += R
    u, u64 = 2.0 ** -24, _U
    eps = (2 * gamma * ((S + 3) * u * 0.5 * (hi - lo) + 4 * S * u64 * (np.abs(m) + 1))
           + 16 * u64 * (1 + np.maximum(hi, -lo)))
    on = (np.arange(k)[:, None], np.arange(S), actions)
    q_pi = Qs[on]
    low = q_pi - 4 * u64 * np.abs(q_pi) - eps[:, None]          # lower bounds on Q[s, π(s)]
    Qs += 4 * u64 * np.abs(Qs) + eps[:, None, None]              # upper bounds on Q
    Qs[on] = -np.inf
    qmax = Qs[:, :, 0].copy()
    for b in range(1, A):
        np.maximum(qmax, Qs[:, :, b], out=qmax)
    return (qmax > low).any(axis=1)
