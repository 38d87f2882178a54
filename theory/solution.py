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

    For an MDP with an action mask, ``Q`` is −inf at disallowed pairs, which are never in
    ``optimal``, ``policy`` or ``actions``.

    ``optimal[s, a]`` is True for every action within ``tol`` of ``max_a Q[s, a]``
    (``optimal == optimal_set(Q, tol)[0]``): argmax is a set, and ties matter for
    attribution. ``policy`` is uniform over that set; ``actions`` is one deterministic
    policy in the set (the solver's own, so policy iteration's tie rule, keep the current
    action, is visible there).

    Certificate (floating point included; the maths is in :mod:`.solvers`):
    ``residual = ‖T V − V‖∞`` as computed in floating point, the Bellman residual of the
    returned V (for a finite horizon, max over t of ‖T V_{t+1} − V_t‖∞, which is 0);
    ``error_bound`` is a guaranteed upper bound on ‖V − V*‖∞ for the MDP as stored:

    * γ < 1 (every float method): (residual·(1 + 2u) + E_Q)/(1 − γρ̄), with E_Q =
      u‖R‖∞ + γρ̄‖V‖∞(γ_n + 3u(1 + γ_n)) the rounding bound of Q = R + γ P V in float64
      (u = 2⁻⁵³, n terms per row of P, ρ̄ ≥ the largest row sum of P). It is not 0 when
      the computed residual rounds to 0, and it is about (n + 3)u‖V‖∞/(1 − γ) at best:
      ~1e-11 on small problems with |V| ~ 100 and γ = 0.99, ~1e-3 on a chain with
      γ = 1 − 10⁻⁶ and |V| ~ 10⁶ (which is what float64 can certify there).
    * γ = 1 (episodic): Δ · max(−V)/(c − Δ) when every non-terminal reward is ≤ −c < 0
      (Δ the residual plus rounding); else, when every policy ends (after zero-reward
      loops are collapsed), Δ · (max expected time)/η (:mod:`.solvers.total`); else ``inf``.
    * finite horizon: the rounding accumulated by backward induction.
    * ``"exact"``: 0 (rational arithmetic, verified exactly).
    * ``"incremental-pi"`` (:class:`~mesabase.theory.IncrementalCE`): as γ < 1, from Q
      recomputed for the V returned (rank-one drift included).
    * history objectives ``"is"`` and ``"log"``: the rounding of the closed form against
      the objective's exact value (:mod:`~mesabase.theory.history.objectives`); ``residual`` 0.

    ``tol`` is the width of the optimal set: the requested tol plus 2ε, where
    ε = E_Q + γρ̄·error_bound ≥ ‖Q − Q*‖∞ (plus 2u‖Q‖∞ for the comparison itself), so an
    action outside ``optimal`` is provably suboptimal; if ``error_bound`` is infinite the
    set only means "within tol (plus rounding) of the computed max". ``gap`` is the LP
    duality gap (``None`` for non-LP methods). For ``"exact"`` the arrays hold
    :class:`fractions.Fraction` (dtype object), ``residual``, ``error_bound`` and ``tol``
    are exactly 0 and ``optimal`` uses exact equality.

    ``bounded`` is False when the objective's supremum is +∞ (the ``"log"`` history
    objective with a negative reward sum; an (N,) bool array when batched): ``policy`` is
    then the limit policy of a maximising sequence, not a maximiser.

    ``exact_input`` (method ``"exact"`` only; ``None`` otherwise) says where the rationals
    came from: ``"exact"`` when the MDP was given exactly, else ``"from floats (largest
    change c)"``, c = max |q − x| over the floats x read as rationals q by
    :func:`~mesabase.theory.rationals.float_to_fraction` (with "; n kept their binary
    values" when some had no simple rational nearby). The solution is exact for the
    rational MDP so obtained.
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
    exact_input: str | None = None

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
