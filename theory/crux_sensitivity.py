"""Sensitivity and crossovers of the crux model (:mod:`mesabase.theory.cruxes`), per
participant (:data:`~mesabase.theory.cruxes_data.PARTICIPANTS`).

Baselines. Where one value per node is needed, a participant's node takes its
:attr:`~mesabase.theory.cruxes_data.Estimate.baseline`: the stated point, the midpoint of a
stated range, and for a declined node the value the participant's words imply (``reading``)
or else 1/2, a placeholder. Ranges never use baselines: they cover the stated intervals, and
[0, 1] for a declined node.

Sensitivity (:func:`sensitivity`): one node moved over its full range [0, 1], the others at
the participant's baselines. The outcome f is multilinear, hence affine in that node, so the
bar's length |f(x=1) − f(x=0)| is |∂f/∂x| at the baselines. Whether the ranking could change
within the stated ranges is decided exactly (:func:`most_sensitive`): the range of ∂f/∂x
over the participant's box is computed at the corners of the other nodes.

Crossover (:func:`crossovers`): for node x and participants P, Q, the value t of x at which
P's outcome, P's other nodes at their baselines, equals Q's outcome at Q's baselines:
f(t; P) = f(Q), an affine equation in t solved exactly with sympy; "none in [0, 1]" when its
root lies outside, "any value" when x does not move P's outcome and the two already agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import sympy as sp

from .cruxes import CruxModel, OutcomeRange
from .cruxes_data import CRUX_NODES, CRUXES, PARTICIPANTS, Participant

__all__ = ["Swing", "Crossover", "sensitivity", "most_sensitive", "crossovers",
           "participant_range"]


def _participant(p) -> Participant:
    if isinstance(p, Participant):
        return p
    if p not in PARTICIPANTS:
        raise ValueError(f"unknown participant {p!r}; they are {list(PARTICIPANTS)}")
    return PARTICIPANTS[p]


def participant_range(model: CruxModel, participant) -> tuple[OutcomeRange, Fraction]:
    """(the outcome's range over the participant's stated intervals — a declined node over
    [0, 1] —, the outcome at their baselines)."""
    p = _participant(participant)
    return (model.range(p.estimates),
            model.value({n: e.baseline for n, e in p.estimates.items()}))


def _crux_of(node: str) -> int:
    for c in CRUXES:
        if node in c.nodes:
            return c.number
    return CRUX_NODES[node].crux if node in CRUX_NODES else 0


@dataclass(frozen=True)
class Swing:
    """One bar of the tornado: ``node`` moved over [0, 1] with the other nodes at
    ``participant``'s baselines. ``outcome`` is P(catastrophe) at all baselines; ``at_zero``
    / ``at_one`` with the node at 0 / 1; ``stated_*`` the node's stated interval ([0, 1] if
    declined) and ``at_stated_*`` the outcome at its ends; ``slope_low``, ``slope_high`` the
    range of ∂P/∂node over the participant's whole box (every other node over its stated
    interval), so ``swing`` = |at_one − at_zero| = |slope at the baselines|."""

    participant: str
    node: str
    crux: int
    baseline: Fraction
    outcome: Fraction
    at_zero: Fraction
    at_one: Fraction
    stated_low: Fraction
    stated_high: Fraction
    at_stated_low: Fraction
    at_stated_high: Fraction
    slope_low: Fraction
    slope_high: Fraction
    declined: bool

    @property
    def swing(self) -> Fraction:
        return abs(self.at_one - self.at_zero)

    @property
    def abs_slope_range(self) -> tuple[Fraction, Fraction]:
        """The range of |∂P/∂node| over the participant's box."""
        lo, hi = self.slope_low, self.slope_high
        top = max(abs(lo), abs(hi))
        return (Fraction(0) if lo <= 0 <= hi else min(abs(lo), abs(hi))), top


def sensitivity(model: CruxModel, participant) -> tuple[Swing, ...]:
    """The tornado of ``participant``: one :class:`Swing` per node, largest swing first
    (ties in node order)."""
    p = _participant(participant)
    base = {n: e.baseline for n, e in p.estimates.items()}
    out = []
    for n in model.nodes:
        e = p.estimates[n]
        lo, hi = e.interval
        at = {x: model.value({**base, n: x}) for x in (Fraction(0), Fraction(1), lo, hi)}
        s_lo, s_hi = model.partial_range(n, p.estimates)
        out.append(Swing(p.key, n, _crux_of(n), base[n], model.value(base), at[Fraction(0)],
                         at[Fraction(1)], lo, hi, at[lo], at[hi], s_lo, s_hi, e.declined))
    return tuple(sorted(out, key=lambda s: -s.swing))


def most_sensitive(swings) -> tuple[tuple[str, ...], bool]:
    """(the nodes of largest swing — a set when tied —, robust): robust when the least
    |∂P/∂node| of each of them over the participant's box is at least the largest of every
    other node, so no value within the stated ranges changes which crux matters most."""
    swings = tuple(swings)
    top = max(s.swing for s in swings)
    best = tuple(s.node for s in swings if s.swing == top)
    others = [s.abs_slope_range[1] for s in swings if s.node not in best]
    robust = all(s.abs_slope_range[0] >= max(others, default=Fraction(0))
                 for s in swings if s.node in best)
    return best, robust


@dataclass(frozen=True)
class Crossover:
    """The value of ``node`` at which ``mover``'s outcome (their other nodes at their
    baselines) equals ``target``'s baseline outcome ``target_outcome``: ``solutions`` in
    [0, 1] (empty: none there; None: every value, the node not moving the outcome)."""

    node: str
    mover: str
    target: str
    target_outcome: Fraction
    solutions: tuple[Fraction, ...] | None

    def text(self) -> str:
        if self.solutions is None:
            return "any value"
        if not self.solutions:
            return "none in [0, 1]"
        return ", ".join(f"{float(x):.4g}" for x in self.solutions)


def crossovers(model: CruxModel, a="A", b="B") -> tuple[Crossover, ...]:
    """For each node, both directions: the value at which ``a`` (moving only that node)
    reaches ``b``'s baseline outcome, and at which ``b`` reaches ``a``'s; solved exactly
    with sympy (the outcome is affine in one node of a multilinear tree)."""
    pa, pb = _participant(a), _participant(b)
    out = []
    for n in model.nodes:
        for mover, target in ((pa, pb), (pb, pa)):
            goal = participant_range(model, target)[1]
            base = {k: e.baseline for k, e in mover.estimates.items() if k != n}
            sym = model.symbols[n]
            f = sp.expand(model.expression.subs(
                {model.symbols[k]: sp.Rational(v.numerator, v.denominator)
                 for k, v in base.items()}))
            eq = sp.expand(f - sp.Rational(goal.numerator, goal.denominator))
            if not eq.has(sym):
                sols = None if eq == 0 else ()
            else:
                roots = sp.solve(eq, sym)
                sols = tuple(sorted(Fraction(int(r.p), int(r.q)) for r in roots
                                    if r.is_Rational and 0 <= r <= 1))
            out.append(Crossover(n, mover.key, target.key, goal, sols))
    return tuple(out)
