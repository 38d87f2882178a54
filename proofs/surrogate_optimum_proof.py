"""The surrogate's full optimum: argmax_{π ∈ Δ} Σ_a c_a log π_a.

When every c_a ≥ 0 (and Σ_a c_a > 0) the maximiser is the reward-weighted frequency
π_a = c_a / Σ_b c_b. Lagrangian: ℒ = Σ_a c_a log π_a − λ(Σ_a π_a − 1); stationarity
c_a/π_a = λ gives π_a = c_a/λ and the constraint gives λ = Σ c. The objective is concave
(Hessian diag(−c_a/π_a²) ⪯ 0), so the stationary point is the maximum. Solved for c
symbolic (positive) with K = 2, 3, 4; the zero-c boundary cases are handled in
:func:`mesabase.theory.history.objectives.log_optimal`.

When some c_a < 0 the supremum is +∞, for symbolic K: along the feasible path π_a = ε,
π_b = (1 − ε)/(K − 1) for b ≠ a, the objective is c_a log ε + C log((1 − ε)/(K − 1)) with
C = Σ_{b≠a} c_b, and it tends to +∞ as ε → 0⁺. So fully optimising the seed's Σ r log π is
frequency matching, not the argmax of expected reward.
"""

from __future__ import annotations

import sympy as sp

from .base import Proof, Step

__all__ = ["surrogate_optimum", "SIZES"]

#: The numbers of actions K for which the Lagrangian is solved symbolically.
SIZES = (2, 3, 4)


def _lagrange(K: int):
    """(solution dict, residual vector, Hessian) of the Lagrangian for K actions, c > 0."""
    c = sp.symbols(f"c_0:{K}", positive=True)
    p = sp.symbols(f"pi_0:{K}", positive=True)
    lam = sp.Symbol("lambda", positive=True)
    L = sum(ci * sp.log(pi) for ci, pi in zip(c, p, strict=True)) - lam * (sum(p) - 1)
    eqs = [sp.diff(L, v) for v in (*p, lam)]
    sols = sp.solve(eqs, [*p, lam], dict=True)
    target = [ci / sum(c) for ci in c]
    residual = sp.Matrix([sp.simplify(sols[0][pi] - t) for pi, t in zip(p, target, strict=True)])
    hessian = sp.hessian(L, p)
    return sols, residual, hessian, c, p


def surrogate_optimum() -> Proof:
    """Establish the argmax for c ≥ 0 (K = 2, 3, 4) and sup = +∞ for some c_a < 0 (any K)."""
    a, b, K = sp.Symbol("a"), sp.Symbol("b"), sp.Symbol("K")
    c, pi = sp.IndexedBase("c"), sp.IndexedBase("pi")
    statement = sp.Eq(pi[a], c[a] / sp.Sum(c[b], (b, 1, K)))
    steps = [Step("Lagrangian of max Σ_a c_a log π_a subject to Σ_a π_a = 1 (the constraint "
                  "π_a ≥ 0 is inactive: log π_a → −∞ at 0 when c_a > 0).")]
    ok = True
    for k in SIZES:
        sols, residual, hessian, cs, ps = _lagrange(k)
        unique = len(sols) == 1
        zero = residual == sp.zeros(k, 1)
        # concavity: the Hessian is diagonal with entries −c_a/π_a² < 0
        diag = [hessian[i, i] for i in range(k)]
        concave = (hessian.is_diagonal() and all(d.is_negative for d in diag))
        ok = ok and unique and zero and concave
        steps.append(Step(f"K = {k}: the stationarity equations have the single solution "
                          "π_a = c_a / Σ c (residual below).", residual.T))
        steps.append(Step(f"K = {k}: the Hessian in π is diagonal with negative entries, so the "
                          "objective is concave and the stationary point is the maximum.",
                          sp.Matrix([diag])))
    # unbounded case, symbolic K
    eps, d = sp.symbols("epsilon d", positive=True)
    Ks = sp.Symbol("K", integer=True, positive=True)
    C = sp.Symbol("C", real=True)
    path = -d * sp.log(eps) + C * sp.log((1 - eps) / (Ks - 1))
    lim = sp.limit(path, eps, 0, "+")
    ok = ok and lim is sp.oo
    steps.append(Step("Some c_a = −d < 0: on the feasible path π_a = ε, π_b = (1 − ε)/(K − 1) "
                      "(b ≠ a), with C = Σ_{b≠a} c_b, the objective tends to +∞ as ε → 0⁺, "
                      "for symbolic K ≥ 2.", sp.Eq(sp.Limit(path, eps, 0, "+"), lim)))
    return Proof(
        name="surrogate_optimum",
        title="The surrogate Σ c log π is maximised by frequency matching",
        statement=statement,
        assumptions=("π in the simplex Δ_K; c_a ≥ 0 for every a and Σ_a c_a > 0 (for the "
                     "argmax); the Lagrangian is solved for K = "
                     + ", ".join(map(str, SIZES)),
                     "if some c_a < 0 the supremum is +∞ (any K ≥ 2)"),
        steps=tuple(steps),
        holds=bool(ok),
        about="mesabase.theory.history.objectives.log_optimal",
        references=("S. Boyd and L. Vandenberghe, Convex Optimization (2004), §5.5.3 (KKT)",),
    )
