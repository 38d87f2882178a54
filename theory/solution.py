"""The result of an exact solve: values, the *set* of optimal actions, and a certificate."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Solution", "optimal_set"]


@dataclass(frozen=True, eq=False)
class Solution:
    """Optimal values and policies of a TabularMDP, with the evidence that they are optimal.

    Shapes (S states, A actions; H decisions for a finite horizon; a leading batch axis
    N when produced by :func:`~mesabase.theory.solve_batch`):

    ============  ======================  =============================================
    field         infinite horizon        finite horizon H
    ============  ======================  =============================================
    ``V``         (S,)  V*(s)             (H+1, S)  V*_t(s), t = 0..H, ``V[H] = 0``
    ``Q``         (S, A)                  (H, S, A)  Q*_t(s, a)
    ``optimal``   bool (S, A)             bool (H, S, A)
    ``policy``    (S, A)                  (H, S, A)
    ``actions``   int (S,)                int (H, S)
    ============  ======================  =============================================

    ``optimal[s, a]`` is True for every action within ``tol`` of ``max_a Q[s, a]``:
    argmax is a set, and ties matter for attribution. ``policy`` is uniform over that
    set; ``actions`` is one deterministic optimal policy (the solver's own, so policy
    iteration's tie rule, keep the current action, is visible there).

    Certificate: ``residual = ‖T V − V‖∞``, the Bellman residual of the returned V
    (for a finite horizon, max over t of ‖T V_{t+1} − V_t‖∞); ``error_bound`` is a
    guaranteed bound on ‖V − V*‖∞ given by the method's stopping rule (0.0 where V
    comes from a direct solve or exact arithmetic: only floating-point error remains;
    ``residual/(1 − γ)`` for the LP methods, ``inf`` if their γ = 1 policy is improper);
    ``gap`` is the LP duality gap (``None`` for non-LP methods). For ``"exact"`` the
    arrays hold :class:`fractions.Fraction` (dtype object), ``residual`` and
    ``error_bound`` are exactly 0 and ``optimal`` uses exact equality.

    ``bounded`` is False when the objective's supremum is +∞ (the ``"log"`` history
    objective with a negative reward sum; an (N,) bool array when batched): ``policy`` is
    then the limit policy of a maximising sequence, not a maximiser.
    """

    V: np.ndarray
    Q: np.ndarray
    optimal: np.ndarray
    policy: np.ndarray
    actions: np.ndarray
    method: str
    iterations: int
    residual: float
    error_bound: float
    tol: float
    gap: float | None = None
    bounded: bool | np.ndarray = True

    @property
    def greedy(self) -> np.ndarray:
        """The deterministic policy ``actions`` as a one-hot ``pi[s, a]`` array (float)."""
        A = self.Q.shape[-1]
        return (self.actions[..., None] == np.arange(A)).astype(np.float64)

    def __repr__(self) -> str:
        gap = "" if self.gap is None else f", gap={self.gap:.2e}"
        return (
            f"Solution(method={self.method!r}, V.shape={self.V.shape}, "
            f"iterations={self.iterations}, residual={self.residual:.2e}, "
            f"error_bound={self.error_bound:.2e}{gap})"
        )


def optimal_set(Q: np.ndarray, tol: float) -> tuple[np.ndarray, np.ndarray]:
    """``(optimal, policy)``: actions within ``tol`` of the max over the last axis, and
    the policy uniform over them. Works for float arrays and (tol = 0) Fraction arrays."""
    if Q.dtype == object:
        best = np.max(Q, axis=-1, keepdims=True)
        optimal = np.asarray(Q == best, dtype=bool)
        from fractions import Fraction

        counts = optimal.sum(axis=-1, keepdims=True)
        policy = np.empty(Q.shape, dtype=object)
        for idx in np.ndindex(Q.shape):
            policy[idx] = Fraction(int(optimal[idx]), int(counts[idx[:-1] + (0,)]))
        return optimal, policy
    best = Q.max(axis=-1, keepdims=True)
    optimal = Q >= best - tol
    policy = optimal / optimal.sum(axis=-1, keepdims=True)
    return optimal, policy
