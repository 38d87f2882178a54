"""The seed's dichotomy: a full optimiser's behaviours are behaviours of a maximiser of L_t.

Proposition. Let Π be a set of policies, M_t = argmax_{π ∈ Π} L_t(π; H_t) ⊆ Π the maximisers
of the history objective at step t, and B ⊆ Π any behaviour (a property of policies). An
agent that acts by some π*_t ∈ M_t at every t shows B at t only if M_t ∩ B ≠ ∅:

    π*_t ∈ M_t  ∧  π*_t ∈ B   ⟹   ∃ π' ∈ M_t : π' ∈ B.

The witness is π' = π*_t, so the statement is nearly definitional; its content is the
*attribution*: every behaviour of a full optimiser is a behaviour of the objective over
its history, never of the optimiser. The converse fails (a maximiser may show B while the
agent's tie-break picks another), which the proof also checks, so the implication is not
a tautology of the encoding.

Established in propositional logic for |Π| = 1..4 candidate policies: Boolean m_i (π_i ∈ M),
b_i (π_i ∈ B), a_i (the agent acts by π_i, exactly one i). The negation of the implication
is unsatisfiable (sympy's ``satisfiable`` returns False); the converse's negation is
satisfiable for |Π| ≥ 2. For arbitrary Π the one-line argument is the witness above.

About :class:`mesabase.sims.agents.full.FullOptimizer`, whose ``policy`` puts mass only on
``optimal`` (the argmax set) when ε = 0.
"""

from __future__ import annotations

import sympy as sp
from sympy.logic.boolalg import And, Implies, Not, Or
from sympy.logic.inference import satisfiable

from .base import Proof, Step

__all__ = ["dichotomy"]

_SIZES = (1, 2, 3, 4)


def _encoding(n: int):
    m = sp.symbols(f"m1:{n + 1}")
    b = sp.symbols(f"b1:{n + 1}")
    a = sp.symbols(f"a1:{n + 1}")
    one = Or(*a)
    at_most_one = And(*[Not(And(a[i], a[j])) for i in range(n) for j in range(i + 1, n)])
    acts_by_maximiser = And(*[Implies(a[i], m[i]) for i in range(n)])
    agent = And(one, at_most_one, acts_by_maximiser)
    shows = Or(*[And(a[i], b[i]) for i in range(n)])
    some_maximiser = Or(*[And(m[i], b[i]) for i in range(n)])
    return agent, shows, some_maximiser


def dichotomy() -> Proof:
    """The full optimiser shows a behaviour only if some maximiser of L_t shows it."""
    statement = (r"\pi^*_t \in M_t \wedge \pi^*_t \in B \;\Rightarrow\; "
                 r"M_t \cap B \neq \emptyset")
    steps = [Step("Let M_t = argmax L_t and B the set of policies showing the behaviour; the "
                  "agent acts by π*_t ∈ M_t. If π*_t ∈ B then π' = π*_t witnesses "
                  "M_t ∩ B ≠ ∅.")]
    ok = True
    for n in _SIZES:
        agent, shows, some = _encoding(n)
        negation = And(agent, shows, Not(some))
        unsat = satisfiable(negation) is False
        converse_fails = satisfiable(And(agent, some, Not(shows))) is not False
        ok = ok and unsat and (converse_fails or n == 1)
        if n == 2:
            steps.append(Step("Encoding with |Π| = 2 (m_i: π_i ∈ M_t, b_i: π_i ∈ B, a_i: the "
                              "agent acts by π_i); the negation of the claim is",
                              negation))
        converse = ("" if n == 1 else
                    "; the converse (some maximiser shows B ⟹ the agent does) "
                    + ("has a counterexample, so the implication is not vacuous"
                       if converse_fails else "HOLDS"))
        steps.append(Step(f"|Π| = {n}: the negation is "
                          f"{'unsatisfiable' if unsat else 'SATISFIABLE'}{converse}."))
    steps.append(Step("Hence every behaviour of a full optimiser at step t is in M_t ∩ B: it "
                      "is attributable to the objective L_t over the history H_t."))
    return Proof(
        name="dichotomy",
        title="A full optimiser shows a behaviour only if some maximiser of L_t does",
        statement=statement,
        assumptions=("the agent acts at every t by some π*_t ∈ argmax_π L_t(π; H_t) "
                     "(ε = 0; any tie-break)",
                     "a behaviour is a property of the policy acted by at step t"),
        steps=tuple(steps),
        holds=bool(ok),
        about="mesabase.sims.agents.full.FullOptimizer",
        references=("J. Wentworth and E. Hubinger, comment exchange on inner alignment and "
                    "online learning (docs/concepts.md, References)",),
    )
