"""LP duality for MDPs: the occupancy dual's optimum is μ0ᵀV*, with the certificate.

Primal (values):  min_V μ0ᵀV  s.t.  V(s) ≥ R[s, a] + γ Σ_s' P[s, a, s'] V(s')   ∀(s, a).
Dual (occupancies):  max_d Σ d(s, a) R[s, a]
    s.t.  Σ_a d(s', a) − γ Σ_{s,a} P[s, a, s'] d(s, a) = μ0(s')  ∀s',  d ≥ 0.

Weak duality is the identity, for any V and any d meeting the flow constraints,

    μ0ᵀV − Σ d R = Σ_{s,a} d(s, a) (V(s) − Q_V(s, a)),   Q_V = R + γ P V,

whose right side is ≥ 0 when V is primal-feasible and d ≥ 0. Strong duality is the
certificate: V* (from the exact solver) is primal-feasible, the occupancy d* of an optimal
deterministic policy is dual-feasible, and complementary slackness
d*(s, a) (V*(s) − Q*(s, a)) = 0 holds, so both objectives equal μ0ᵀV*.

Established in exact rational arithmetic: the identity by expanding with symbolic d and V,
the certificate with V* from ``solve(mdp, "exact")`` and d* from a rational linear solve.

About :func:`mesabase.theory.solvers.lp.solve_cvxpy` (the dual LP, V* read off its multipliers).

Reference: A. S. Manne, Management Science 6(3), 1960; M. L. Puterman, *Markov Decision
Processes*, Wiley 1994, §6.9.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import sympy as sp

from .base import Proof, Step

__all__ = ["lp_duality", "example_mdp"]

_F = Fraction


def example_mdp():
    """The 2-state, 3-action MDP the proof uses (rational P, R, γ = 4/5, uniform μ0)."""
    from mesabase.theory import TabularMDP

    P = [[[_F(1, 2), _F(1, 2)], [_F(1), _F(0)], [_F(1, 5), _F(4, 5)]],
         [[_F(0), _F(1)], [_F(3, 4), _F(1, 4)], [_F(1, 3), _F(2, 3)]]]
    R = [[_F(1), _F(3, 2), _F(0)], [_F(2), _F(-1), _F(1, 2)]]
    return TabularMDP(np.array(P, dtype=object), np.array(R, dtype=object), gamma=_F(4, 5),
                      mu0=np.array([_F(1, 2), _F(1, 2)], dtype=object))


def _rat(x) -> sp.Rational:
    x = Fraction(x)
    return sp.Rational(x.numerator, x.denominator)


def lp_duality() -> Proof:
    """max_d Σ d R = μ0ᵀV* for the occupancy dual, certified by complementary slackness."""
    from mesabase.theory import solve

    mdp = example_mdp()
    P, R, g, mu0 = mdp.exact_arrays()
    S, A = mdp.n_states, mdp.n_actions
    Pm = [[[_rat(P[s, a, t]) for t in range(S)] for a in range(A)] for s in range(S)]
    Rm = sp.Matrix(S, A, lambda s, a: _rat(R[s, a]))
    g, mu = _rat(g), sp.Matrix(S, 1, lambda s, _: _rat(mu0[s]))

    # weak duality identity, with symbolic d and V
    dv = sp.Matrix(S, A, lambda s, a: sp.Symbol(f"d_{s}{a}"))
    Vv = sp.Matrix(S, 1, lambda s, _: sp.Symbol(f"V_{s}"))

    def q_of(V):
        return sp.Matrix(S, A, lambda s, a: Rm[s, a] + g * sum(Pm[s][a][t] * V[t]
                                                               for t in range(S)))

    def flow(d):  # Σ_a d(s', a) − γ Σ P d − μ0(s')
        return sp.Matrix(S, 1, lambda t, _: sum(d[t, a] for a in range(A)) - g * sum(
            Pm[s][a][t] * d[s, a] for s in range(S) for a in range(A)) - mu[t])

    Qv = q_of(Vv)
    gap_expr = (mu.T * Vv)[0] - sum(dv[s, a] * Rm[s, a] for s in range(S) for a in range(A))
    slack = sum(dv[s, a] * (Vv[s] - Qv[s, a]) for s in range(S) for a in range(A))
    identity = sp.expand(gap_expr - slack + sum(Vv[t] * flow(dv)[t] for t in range(S)))
    ok = identity == 0

    # strong duality certificate
    sol = solve(mdp, "exact")
    V = sp.Matrix(S, 1, lambda s, _: _rat(sol.V[s]))
    Q = q_of(V)
    act = [int(a) for a in sol.actions]
    P_pi = sp.Matrix(S, S, lambda s, t: Pm[s][act[s]][t])
    dS = (sp.eye(S) - g * P_pi).T.LUsolve(mu)
    d = sp.Matrix(S, A, lambda s, a: dS[s] if a == act[s] else sp.Integer(0))
    primal_feasible = all(V[s] >= Q[s, a] for s in range(S) for a in range(A))
    dual_feasible = flow(d) == sp.zeros(S, 1) and all(x >= 0 for x in d)
    cs = sp.Matrix(S, A, lambda s, a: d[s, a] * (V[s] - Q[s, a]))
    dual_value = sum(d[s, a] * Rm[s, a] for s in range(S) for a in range(A))
    primal_value = (mu.T * V)[0]
    ok = bool(ok and primal_feasible and dual_feasible and cs == sp.zeros(S, A)
              and dual_value == primal_value)

    dsym, Rsym, musym, Vstar = (sp.IndexedBase(n) for n in ("d", "R", r"\mu_0", "V^*"))
    s_, a_ = sp.symbols("s a")
    inner = sp.Sum(dsym[s_, a_] * Rsym[s_, a_], (a_, 1, sp.Symbol("A")))
    statement = sp.Eq(sp.Symbol(r"\max_{d \in D}") * sp.Sum(inner, (s_, 1, sp.Symbol("S"))),
        sp.Sum(musym[s_] * Vstar[s_], (s_, 1, sp.Symbol("S"))))
    steps = (
        Step("Weak duality: for symbolic d and V, μ0ᵀV − Σ dR − Σ d (V − Q_V) + Σ_s' V(s') × "
             "(flow residual at s') expands to", identity),
        Step("So for V primal-feasible (V ≥ Q_V) and d dual-feasible (flow = μ0, d ≥ 0), "
             "Σ dR ≤ μ0ᵀV: every dual value is at most every primal value."),
        Step("V* from the exact solver (rational arithmetic); it is primal-feasible "
             f"(V*(s) ≥ Q*(s, a) for all (s, a): {primal_feasible})", V.T),
        Step("d* = occupancy of the optimal deterministic policy "
             f"{act}, (I − γP_π)ᵀ d_S = μ0; dual-feasible: {dual_feasible}", d),
        Step("Complementary slackness d*(s, a)(V*(s) − Q*(s, a)):", cs),
        Step("Hence (Σ d* R, μ0ᵀV*) are equal, and by weak duality both are optimal",
             sp.Matrix([[dual_value, primal_value]])),
    )
    return Proof(
        name="lp_duality",
        title="LP duality for MDPs: the occupancy dual's optimum is μ0ᵀV*",
        statement=statement,
        assumptions=("γ < 1, μ0 a distribution over states",
                     "D: the occupancy polytope (flow constraints with source μ0, d ≥ 0)",
                     "certificate checked exactly on a 2-state, 3-action MDP with rational data"),
        steps=steps,
        holds=ok,
        about="mesabase.theory.solvers.lp.solve_cvxpy",
        references=("Manne, Management Science 6(3), 1960", "Puterman (1994), §6.9"),
    )
