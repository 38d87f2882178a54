"""The three-term regret decomposition telescopes, and which terms are outer and inner.

With J_I(π) the intended return (``mesabase.theory.attribution``),

    J_I(π_I*) − J_I(π_θt) = [J_I(π_I*) − J_I(π_B*)]   specification gap (outer)
                          + [J_I(π_B*) − J_I(π*_t)]   history gap       (outer)
                          + [J_I(π*_t) − J_I(π_θt)]   learner gap       (inner)

for any four real numbers: the intermediate values cancel. The split into outer and inner is
a definition, stated in the proof's assumptions.
"""

from __future__ import annotations

import sympy as sp

from .base import Proof, Step

__all__ = ["telescoping"]


def telescoping() -> Proof:
    """Establish that spec gap + history gap + learner gap = total regret (symbolic J)."""
    J_I, J_B, J_t, J_th = sp.symbols(
        r"J_{I}(\pi_{I}^{*}) J_{I}(\pi_{B}^{*}) J_{I}(\pi_{t}^{*}) J_{I}(\pi_{\theta_t})",
        real=True)
    spec, hist, learn = J_I - J_B, J_B - J_t, J_t - J_th
    total = J_I - J_th
    s_spec, s_hist, s_learn, s_total = sp.symbols(
        r"\Delta_{spec} \Delta_{hist} \Delta_{learn} \Delta_{total}")
    residual = sp.expand(spec + hist + learn - total)
    statement = sp.Eq(total, sp.Add(spec, hist, learn, evaluate=False), evaluate=False)
    steps = (
        Step("Definition (outer): the specification gap, set by R_B versus R_I alone.",
             sp.Eq(s_spec, spec)),
        Step("Definition (outer): the history gap, what fully optimising the same objective "
             "on the history H_t selects instead of π_B*.", sp.Eq(s_hist, hist)),
        Step("Definition (inner): the learner gap, the learner against the maximiser of its "
             "own objective on its own data; it vanishes under full optimisation.",
             sp.Eq(s_learn, learn)),
        Step("Definition: the total intended regret.", sp.Eq(s_total, total)),
        Step("Sum the three gaps and subtract the total: J_I(π_B*) and J_I(π*_t) cancel.",
             sp.Eq(s_spec + s_hist + s_learn - s_total, residual)),
    )
    return Proof(
        name="telescoping",
        title="The three-term regret decomposition telescopes",
        statement=statement,
        assumptions=("J_I(π) = μ0ᵀV^π under R_I in the evaluation MDP, a real number for each "
                     "of π_I*, π_B*, π*_t, π_θt",
                     "outer terms: specification gap and history gap (no learner involved)",
                     "inner term: learner gap (zero when the learner fully optimises L_t)"),
        steps=steps,
        holds=bool(residual == 0),
        about="mesabase.theory.attribution.decompose",
        references=("E. Hubinger et al., Risks from learned optimization in advanced machine "
                    "learning systems, arXiv:1906.01820 (2019)",),
    )
