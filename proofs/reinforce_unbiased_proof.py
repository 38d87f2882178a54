"""REINFORCE is unbiased: E_{a∼π}[r(a) ∇_θ log π(a)] = ∇_θ πᵀr, for any action-independent b.

For the K-action softmax π = softmax(θ) and a reward vector r,

    Σ_a π_a (r_a − b) ∇_θ log π_a = Σ_a ∇_θ π_a (r_a − b) = ∇_θ πᵀr − b ∇_θ Σ_a π_a = ∇_θ πᵀr,

since Σ_a π_a = 1. Established with θ, r and b symbolic for K = 2, 3 and 4 separately (each
K is an explicit expansion of the expectation; the differentiation is done by sympy, not by
the score formula, so the check is independent of :mod:`mesabase.proofs.softmax_score_proof`).
"""

from __future__ import annotations

import sympy as sp

from .base import Proof, Step

__all__ = ["reinforce_unbiased", "SIZES"]

#: The numbers of actions K for which the identity is established symbolically.
SIZES = (2, 3, 4)


def _check(K: int):
    """Residuals (expected update − ∇πᵀr, baseline term) for K actions, each a K-vector."""
    theta = sp.symbols(f"theta_0:{K}", real=True)
    r = sp.symbols(f"r_0:{K}", real=True)
    b = sp.Symbol("b", real=True)
    Z = sum(sp.exp(t) for t in theta)
    pi = [sp.exp(t) / Z for t in theta]
    grad = lambda f: sp.Matrix([sp.diff(f, t) for t in theta])  # noqa: E731
    expected = sum((pi[a] * (r[a] - b) * grad(sp.log(pi[a])) for a in range(K)),
                   sp.zeros(K, 1))
    target = grad(sum(p * q for p, q in zip(pi, r, strict=True)))
    baseline = sum((pi[a] * grad(sp.log(pi[a])) for a in range(K)), sp.zeros(K, 1))
    return sp.simplify(expected - target), sp.simplify(baseline)


def reinforce_unbiased() -> Proof:
    """Establish unbiasedness of the REINFORCE update with a baseline, for K = 2, 3, 4."""
    a, b, K = sp.Symbol("a"), sp.Symbol("b"), sp.Symbol("K")
    theta, pi, r = sp.Symbol("theta"), sp.IndexedBase("pi"), sp.IndexedBase("r")
    statement = sp.Eq(
        sp.Sum(pi[a] * (r[a] - b) * sp.Derivative(sp.log(pi[a]), theta), (a, 1, K)),
        sp.Derivative(sp.Sum(pi[a] * r[a], (a, 1, K)), theta))
    steps = [Step("Expand the expectation over the K actions with π = softmax(θ); θ, r and b "
                  "are symbols; sympy differentiates log π_a and πᵀr directly.")]
    ok = True
    for k in SIZES:
        unbiased, base = _check(k)
        zero = sp.zeros(k, 1)
        ok = ok and unbiased == zero and base == zero
        steps.append(Step(f"K = {k}: E[(r(a) − b) ∇ log π(a)] − ∇ πᵀr simplifies to the zero "
                          "vector.", unbiased.T))
        steps.append(Step(f"K = {k}: the baseline's term Σ_a π_a ∇ log π_a = ∇ Σ_a π_a "
                          "simplifies to the zero vector, so b leaves the update unbiased.",
                          base.T))
    return Proof(
        name="reinforce_unbiased",
        title="REINFORCE is unbiased, with any action-independent baseline",
        statement=statement,
        assumptions=("π = softmax(θ), θ ∈ ℝ^K; r ∈ ℝ^K; b ∈ ℝ independent of the action a",
                     "established symbolically for K = " + ", ".join(map(str, SIZES))),
        steps=tuple(steps),
        holds=bool(ok),
        about="mesabase.sims.agents.reinforce.Reinforce.update",
        references=("R. J. Williams, Machine Learning 8, 229–256 (1992)",
                    "R. S. Sutton and A. G. Barto, Reinforcement Learning, 2nd ed., §13.3–13.4"),
    )
