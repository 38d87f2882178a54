"""Exact-gradient softmax policy gradient on a bandit: the update and its O(1/t) constant.

Update. With π = softmax(θ) over K arms and J(θ) = πᵀr, ∇J = (diag π − ππᵀ) r, and the
expected REINFORCE step E_{a∼π}[η r(a) (e_a − π)] is the same vector times η, so
exact-gradient PG is θ_{t+1} = θ_t + η (diag π_t − π_t π_tᵀ) r.

Rate. Let a* be the unique optimal arm, Δ_a = r(a*) − r(a) > 0 for a ≠ a*, and
u_a = Δ_a π_a / π_{a*}, U = Σ_{a≠a*} u_a; the suboptimality is r(a*) − πᵀr = π_{a*} U.
*Assumed* (the ODE approximation): the continuous-time flow θ̇ = η ∇J, to leading order as
π_{a*} → 1, where u̇_a = −η u_a (u_a + U). The ansatz u_a = c_a / t solves it iff
c_a = η c_a (c_a + C), C = Σ c_b. Solved symbolically: the only solution with every
c_a > 0 is the symmetric c = 1/(ηK); a solution with some c_a = 0 is inconsistent,
because such an arm decays like t^{−ηC} with ηC < 1, slower than 1/t. Hence

    t · (r(a*) − π_tᵀ r) → (K − 1) / (K η),

independent of the gaps Δ. The limit of the discrete iteration is checked numerically in
the tests (not proved here: the ODE approximation is an assumption).

About :class:`mesabase.sims.agents.reinforce.Reinforce` (its expected step on a bandit).

Reference: J. Mei, C. Xiao, C. Szepesvári, D. Schuurmans, "On the global convergence rates
of softmax policy gradient methods", ICML 2020 (the Θ(1/t) rate).
"""

from __future__ import annotations

import sympy as sp

from .base import Proof, Step

__all__ = ["pg_bandit_rate"]


def pg_bandit_rate() -> Proof:
    """η(diag π − ππᵀ) r is the exact/expected step; t·(r* − πᵀr) → (K − 1)/(Kη)."""
    K3 = 3
    th = sp.symbols(f"theta1:{K3 + 1}", real=True)
    r = sp.Matrix(sp.symbols(f"r1:{K3 + 1}", real=True))
    eta, t, c, K = sp.symbols("eta t c K", positive=True)
    Z = sum(sp.exp(x) for x in th)
    pi = sp.Matrix([sp.exp(x) / Z for x in th])
    J = (pi.T * r)[0]
    grad = sp.Matrix([sp.diff(J, x) for x in th])
    fisher = sp.diag(*pi) - pi * pi.T
    grad_res = (grad - fisher * r).applyfunc(sp.simplify)
    E = sp.eye(K3)
    reinforce = sum((pi[a] * eta * r[a] * (E[:, a] - pi) for a in range(K3)), sp.zeros(K3, 1))
    reinf_res = (reinforce - eta * fisher * r).applyfunc(sp.simplify)
    ok = grad_res == sp.zeros(K3, 1) and reinf_res == sp.zeros(K3, 1)

    # symmetric ansatz, general K: u_a = c/t for the K − 1 suboptimal arms
    u = c / t
    ode_res = sp.diff(u, t) + eta * u * (u + (K - 1) * u)
    c_sol = sp.solve(sp.simplify(ode_res * t**2), c)
    ok = ok and c_sol == [1 / (eta * K)]
    limit = sp.limit(t * (K - 1) * c_sol[0] / t, t, sp.oo)
    ok = ok and sp.simplify(limit - (K - 1) / (K * eta)) == 0

    # K = 3 without symmetry: c_a = η c_a (c_a + C) over c_a ≥ 0
    c1, c2 = sp.symbols("c1 c2", nonnegative=True)
    C = c1 + c2
    sols = sp.solve([c1 - eta * c1 * (c1 + C), c2 - eta * c2 * (c2 + C)], [c1, c2], dict=True)
    positive = [s for s in sols if all(sp.simplify(v).is_positive for v in s.values())]
    ok = ok and len(positive) == 1 and all(
        sp.simplify(v - 1 / (3 * eta)) == 0 for v in positive[0].values())
    # a zero coefficient decays like t^(−ηC); consistent with o(1/t) only if ηC > 1
    partial = [s for s in sols if s not in positive and any(v != 0 for v in s.values())]
    exponents = [sp.simplify(eta * (s[c1] + s[c2])) for s in partial]
    ok = ok and len(partial) == 2 and all(e < 1 for e in exponents)

    gap = sp.Symbol("g_t")
    statement = sp.Eq(sp.Limit(t * gap, t, sp.oo), (K - 1) / (K * eta))
    steps = (
        Step("K = 3, symbolic θ and r: ∇(πᵀr) − (diag π − ππᵀ) r simplifies to", grad_res),
        Step("The expected REINFORCE step Σ_a π_a η r_a (e_a − π) minus η (diag π − ππᵀ) r "
             "simplifies to", reinf_res),
        Step("ODE approximation (assumed): as π_{a*} → 1, u_a = Δ_a π_a/π_{a*} obeys "
             "u̇_a = −η u_a (u_a + U). The symmetric ansatz u_a = c/t leaves the residual",
             sp.Eq(sp.simplify(ode_res * t**2), 0)),
        Step("whose positive root is", sp.Eq(c, c_sol[0])),
        Step("K = 3 without assuming symmetry: the solutions of c_a = η c_a (c_a + C), "
             "c_a ≥ 0, are", sp.Matrix([[s[c1], s[c2]] for s in sols])),
        Step("A solution with c_a = 0 for one arm lets that arm decay like t^{−ηC}, with "
             "ηC below 1, i.e. slower than 1/t — inconsistent; only the symmetric one "
             "remains. The exponents ηC are", sp.Matrix(exponents)),
        Step("The suboptimality is π_{a*} U ≈ (K − 1) c / t, so t times it tends to",
             sp.Eq(sp.Limit(t * (K - 1) * c_sol[0] / t, t, sp.oo), limit)),
    )
    return Proof(
        name="pg_rate",
        title="Exact-gradient softmax PG on a bandit: update and O(1/t) rate constant",
        statement=statement,
        assumptions=("softmax policy over K arms, exact (expected) gradient, constant η",
                     "a unique optimal arm a*; g_t = r(a*) − π_tᵀr is the suboptimality",
                     "the continuous-time ODE approximation θ̇ = η∇J, to leading order as "
                     "π_{a*} → 1 (the discrete iteration is checked numerically, not proved)"),
        steps=steps,
        holds=bool(ok),
        about="mesabase.sims.agents.reinforce.Reinforce",
        references=("Mei, Xiao, Szepesvári & Schuurmans, ICML 2020",),
    )
