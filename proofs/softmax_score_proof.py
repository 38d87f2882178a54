"""The score function of the softmax: ∂ log π_a / ∂θ_b = 1{a = b} − π_b, for symbolic K.

With π_a = e^{θ_a} / Σ_{k=0}^{K−1} e^{θ_k}, log π_a = θ_a − log Σ_k e^{θ_k}, so

    ∂ log π_a / ∂θ_b = δ_{ab} − Σ_k δ_{bk} e^{θ_k} / Σ_k e^{θ_k} = δ_{ab} − π_b.

The number of actions K is a sympy symbol; the only fact used about the index b is that it
is an action, 0 ≤ b ≤ K − 1 (written K = b + m + 1 with m ≥ 0 an integer).
"""

from __future__ import annotations

import sympy as sp

from .base import Proof, Step

__all__ = ["softmax_score"]


def softmax_score() -> Proof:
    """Establish ∂ log π_a/∂θ_b = δ_ab − π_b for the K-action softmax, K symbolic."""
    K = sp.Symbol("K", integer=True, positive=True)
    a, b, k, m = sp.symbols("a b k m", integer=True, nonnegative=True)
    theta, pi = sp.IndexedBase("theta"), sp.IndexedBase("pi")
    Z = sp.Sum(sp.exp(theta[k]), (k, 0, K - 1))
    log_pi_a = theta[a] - sp.log(Z)
    raw = sp.diff(log_pi_a, theta[b])
    # b is an action: K = b + m + 1, m ≥ 0, which settles the range condition of δ_bk's sum
    evaluated = raw.doit().subs(K, b + m + 1)
    target = sp.KroneckerDelta(a, b) - sp.exp(theta[b]) / Z.subs(K, b + m + 1)
    residual = sp.simplify(evaluated - target)
    statement = sp.Eq(sp.Derivative(sp.log(pi[a]), theta[b]), sp.KroneckerDelta(a, b) - pi[b])
    steps = (
        Step("Write the softmax's log-probability with K a symbol.",
             sp.Eq(sp.log(pi[a]), log_pi_a)),
        Step("Differentiate with respect to θ_b; ∂θ_k/∂θ_b = δ_bk inside the sum.",
             sp.Eq(sp.Derivative(sp.log(pi[a]), theta[b]), raw)),
        Step("The sum of δ_bk e^{θ_k} keeps the k = b term, as 0 ≤ b ≤ K − 1 "
             "(K = b + m + 1, m ≥ 0).", evaluated),
        Step("Its difference from δ_ab − e^{θ_b}/Σ_k e^{θ_k} = δ_ab − π_b simplifies to zero.",
             sp.Eq(sp.Symbol("residual"), residual)),
    )
    return Proof(
        name="softmax_score",
        title="Score function of the softmax",
        statement=statement,
        assumptions=("π_a = e^{θ_a} / Σ_{k=0}^{K−1} e^{θ_k}, θ ∈ ℝ^K, K ≥ 1 symbolic",
                     "a, b ∈ {0, …, K − 1}"),
        steps=steps,
        holds=bool(residual == 0),
        about="mesabase.sims.agents.policies.TabularSoftmax.grad_log_prob",
        references=("R. J. Williams, Machine Learning 8, 229–256 (1992)",
                    "R. S. Sutton and A. G. Barto, Reinforcement Learning, 2nd ed., §13.3"),
    )
