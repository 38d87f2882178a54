"""Policy gradient theorem for the tabular softmax, checked on a 2-state, 2-action MDP.

    ∂V(μ)/∂θ_{s,a} = 1/(1 − γ) · d_μ(s) · π(a|s) · A^π(s, a),

with π(a|s) = exp θ_{s,a} / Σ_b exp θ_{s,b}, V(μ) = μᵀ V^π, the normalised discounted
state distribution d_μ(s) = (1 − γ) Σ_t γᵗ Pr(s_t = s | s_0 ~ μ, π) and the advantage
A^π(s, a) = Q^π(s, a) − V^π(s). In the library's terms, with ``occupancy`` returning the
unnormalised d[s, a] = d_μ(s) π(a|s) / (1 − γ): ∂J/∂θ_{s,a} = d[s, a] (Q[s, a] − V[s]).

Established exactly: θ symbolic (four logits), P, R, γ, μ rational. V^π is the closed form
(I − γ P_π)⁻¹ r_π (sympy's LU solve over rational functions of x_{s,a} = exp θ_{s,a} > 0),
differentiated by the chain rule ∂/∂θ = x ∂/∂x, and the difference from the right-hand
side cancels to 0 as a rational function, for every (s, a).

About :func:`mesabase.theory.evaluation.occupancy` (with ``q_values``).

Reference: R. S. Sutton, D. McAllester, S. Singh, Y. Mansour, "Policy gradient methods for
reinforcement learning with function approximation", NeurIPS 1999; A. Agarwal, S. Kakade,
J. Lee, G. Mahajan, "On the theory of policy gradient methods", JMLR 22, 2021, Lemma C.1.
"""

from __future__ import annotations

import sympy as sp

from .base import Proof, Step

__all__ = ["policy_gradient_theorem", "EXAMPLE"]

_Q = sp.Rational
#: The MDP the proof uses: P[s, a, s'], R[s, a], γ, μ (all rational).
EXAMPLE = dict(
    P=[[[_Q(1, 3), _Q(2, 3)], [_Q(1), _Q(0)]], [[_Q(1, 2), _Q(1, 2)], [_Q(1, 4), _Q(3, 4)]]],
    R=[[_Q(1), _Q(0)], [_Q(-1, 2), _Q(2)]],
    gamma=_Q(3, 4),
    mu=[_Q(2, 5), _Q(3, 5)],
)


def policy_gradient_theorem() -> Proof:
    """∂V(μ)/∂θ_{s,a} = d_μ(s) π(a|s) A(s, a) / (1 − γ), checked exactly on :data:`EXAMPLE`."""
    P, R, g, mu = EXAMPLE["P"], EXAMPLE["R"], EXAMPLE["gamma"], sp.Matrix(EXAMPLE["mu"])
    S, A = 2, 2
    th = sp.Matrix(S, A, lambda s, a: sp.Symbol(f"theta_{s}{a}", real=True))
    x = sp.Matrix(S, A, lambda s, a: sp.Symbol(f"x_{s}{a}", positive=True))  # x = exp θ
    pi = sp.Matrix(S, A, lambda s, a: x[s, a] / sum(x[s, b] for b in range(A)))
    P_pi = sp.Matrix(S, S, lambda s, t: sum(pi[s, a] * P[s][a][t] for a in range(A)))
    r_pi = sp.Matrix(S, 1, lambda s, _: sum(pi[s, a] * R[s][a] for a in range(A)))
    M = sp.eye(S) - g * P_pi
    V = M.LUsolve(r_pi).applyfunc(sp.cancel)
    J = sp.cancel((mu.T * V)[0])
    Q = sp.Matrix(S, A, lambda s, a: R[s][a] + g * sum(P[s][a][t] * V[t] for t in range(S)))
    d = ((1 - g) * M.T.LUsolve(mu)).applyfunc(sp.cancel)   # normalised d_μ
    residuals, ok = [], True
    for s in range(S):
        for a in range(A):
            lhs = x[s, a] * sp.diff(J, x[s, a])            # ∂J/∂θ = x ∂J/∂x
            rhs = d[s] * pi[s, a] * (Q[s, a] - V[s]) / (1 - g)
            res = sp.cancel(sp.together(lhs - rhs))
            residuals.append(res)
            ok = ok and res == 0
    d_sum = sp.cancel(sum(d))
    ok = ok and d_sum == 1
    sub = {x[s, a]: sp.exp(th[s, a]) for s in range(S) for a in range(A)}

    ths, ta = sp.symbols("s a")
    Vmu, dmu, pif, Adv = (sp.Function(n) for n in ("V", "d_mu", "pi", "A"))
    theta_sa = sp.Indexed("theta", ths, ta)
    gam = sp.Symbol("gamma")
    statement = sp.Eq(sp.Derivative(Vmu(sp.Symbol("mu")), theta_sa),
                      dmu(ths) * pif(ta, ths) * Adv(ths, ta) / (1 - gam))
    steps = (
        Step("Data: P[s, a, s'] and R[s, a] rational, γ and μ as given; the softmax policy "
             "written in x_{s,a} = exp θ_{s,a}", sp.Eq(sp.Symbol("pi_00"), pi[0, 0].subs(sub))),
        Step("Policy evaluation in closed form, V^π = (I − γP_π)⁻¹ r_π; the value at μ is",
             sp.Eq(sp.Symbol(r"V(\mu)"), sp.simplify(J.subs(sub)))),
        Step("The normalised discounted state distribution d_μ = (1 − γ)(I − γP_πᵀ)⁻¹ μ sums "
             "to 1", sp.Eq(sp.Symbol(r"\sum_s d_\mu(s)"), d_sum)),
        Step("For each (s, a), ∂V(μ)/∂θ_{s,a} = x_{s,a} ∂V(μ)/∂x_{s,a}; the difference from "
             "d_μ(s) π(a|s) (Q(s,a) − V(s)) / (1 − γ) cancels, as a rational function, to",
             sp.Matrix(S, A, residuals)),
    )
    return Proof(
        name="policy_gradient",
        title="Policy gradient theorem for the tabular softmax",
        statement=statement,
        assumptions=("tabular softmax policy π(a|s) ∝ exp θ_{s,a}",
                     "γ < 1; checked on a 2-state, 2-action MDP with rational P, R, γ = 3/4, μ",
                     "d_μ is the normalised discounted state distribution"),
        steps=steps,
        holds=bool(ok),
        about="mesabase.theory.evaluation.occupancy",
        references=("Sutton, McAllester, Singh & Mansour, NeurIPS 1999",
                    "Agarwal, Kakade, Lee & Mahajan, JMLR 22 (2021)"),
    )
