"""The four-term regret decomposition telescopes, and which terms are outer and inner.

With J_I(π) the intended return (``mesabase.theory.attribution``), [m, M] the range of J_I
over A_B (the base objective's argmax set with full information) and [m_t, M_t] its range
over A_t (the history objective's argmax set), and c = clip(J_I(π_θt), m_t, M_t):

    J_I(π_I*) − J_I(π_θt) = [J_I(π_I*) − M]   misspecification (outer)
                          + [M − M_t]         data             (outer)
                          + [M_t − c]         ambiguity        (outer)
                          + [c − J_I(π_θt)]   learner          (inner)

for any real numbers: the intermediate values cancel. Every term is a function of sets (their
ranges), not of a tie-break. The learner term is zero whenever the learner's J_I lies in
[m_t, M_t] — in particular when the learner is a maximiser of its own objective (full
optimisation); the ambiguity term is never negative. The split into outer and inner is a
definition, stated in the proof's assumptions.
"""

from __future__ import annotations

import sympy as sp

from .base import Proof, Step

__all__ = ["telescoping"]


def telescoping() -> Proof:
    """Establish that misspecification + data + ambiguity + learner = total regret (symbolic
    J), that the learner term vanishes inside [m_t, M_t], and that ambiguity is ≥ 0."""
    J_I, M, m_t, M_t, J_th = sp.symbols(
        r"J_{I}(\pi_{I}^{*}) M m_{t} M_{t} J_{I}(\pi_{\theta_t})", real=True)
    c = sp.Min(sp.Max(J_th, m_t), M_t)
    mis, data, amb, learn = J_I - M, M - M_t, M_t - c, c - J_th
    total = J_I - J_th
    s_mis, s_data, s_amb, s_learn, s_total = sp.symbols(
        r"\Delta_{mis} \Delta_{data} \Delta_{amb} \Delta_{learn} \Delta_{total}")
    residual = sp.simplify(mis + data + amb + learn - total)
    # inside the range the clip is the identity, so the learner term is 0
    x = sp.Symbol("x", real=True)
    inside = sp.simplify((sp.Min(sp.Max(x, m_t), M_t) - x).subs(
        {m_t: x - sp.Symbol("a", nonnegative=True), M_t: x + sp.Symbol("b", nonnegative=True)}))
    amb_cases = _ambiguity_cases()
    statement = sp.Eq(total, sp.Add(mis, data, amb, learn, evaluate=False), evaluate=False)
    steps = (
        Step("Definition (outer): misspecification, what even the best policy the base "
             "objective selects with full information falls short of π_I*.",
             sp.Eq(s_mis, mis)),
        Step("Definition (outer): data, what a finite history changes in the best of the "
             "selected set.", sp.Eq(s_data, data)),
        Step("Definition (outer): ambiguity, where in its own argmax set's range the learner "
             "lands below the best maximiser.", sp.Eq(s_amb, amb)),
        Step("Definition (inner): the learner falls below (or, negative, rises above) every "
             "maximiser of its own objective on its own data.", sp.Eq(s_learn, learn)),
        Step("Definition: the total intended regret.", sp.Eq(s_total, total)),
        Step("Sum the four terms and subtract the total: M, M_t and the clip cancel.",
             sp.Eq(s_mis + s_data + s_amb + s_learn - s_total, residual)),
        Step("With m_t = x − a ≤ x ≤ x + b = M_t (a, b ≥ 0) the learner term is "
             "min(max(x, m_t), M_t) − x:", sp.Eq(s_learn, inside)),
        Step("Ambiguity on the three cases of the clip (l = m_t; u, v, w ≥ 0): J = l − u, "
             "J = l + u ≤ M_t = l + u + v, J = M_t + u; each is a sum of non-negatives:",
             sp.Tuple(*amb_cases)),
    )
    return Proof(
        name="telescoping",
        title="The four-term regret decomposition telescopes",
        statement=statement,
        assumptions=("J_I(π) = μ0ᵀV^π under R_I in the evaluation MDP; m ≤ M and m_t ≤ M_t "
                     "are the ranges of J_I over the argmax sets A_B and A_t",
                     "outer terms: misspecification, data and ambiguity (the objective, its "
                     "data and its ties select them)",
                     "inner term: learner (zero when the learner fully optimises L_t)"),
        steps=steps,
        holds=bool(residual == 0 and inside == 0
                   and all(x.is_nonnegative for x in amb_cases)),
        about="mesabase.theory.attribution.four_gaps",
        references=("E. Hubinger et al., Risks from learned optimization in advanced machine "
                    "learning systems, arXiv:1906.01820 (2019)",),
    )


def _ambiguity_cases() -> list[sp.Expr]:
    """M_t − min(max(J, m_t), M_t) in the three cases of the clip, simplified."""
    l = sp.Symbol("l", real=True)  # noqa: E741
    u, v, w = sp.symbols("u v w", nonnegative=True)
    amb = lambda J, lo, hi: sp.simplify(hi - sp.Min(sp.Max(J, lo), hi))  # noqa: E731
    return [amb(l - u, l, l + w), amb(l + u, l, l + u + v), amb(l + w + u, l, l + w)]
