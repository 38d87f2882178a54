"""The crux model: a small probability tree over four cruxes, exact in sympy.

The question. In the comment thread under Abram Demski's "Mesa-Search vs Mesa-Control" (AI
Alignment Forum, 2020; :data:`~mesabase.theory.cruxes_data.CRUX_SOURCE`) the claim at issue is
that alignment problems "will manifest in real systems well before they are powerful enough
to take over the world", and what follows if they do. One participant (A) lists four cruxes
for whether early problems get fixed in time, and gives numbers; another (B) answers; A
ends "It might be worth sketching out a quantitative model here." This module is such a
model, built from how the two reason in the thread and no further.

The outcome. Conditional on the problems manifesting early (and, in B's scope, on the neural
net paradigm and single-single intent alignment), the model gives

    P(catastrophe) = P(the problems are nonetheless not fixed where it matters)

as a chance tree (:func:`crux_tree`) whose nodes are the cruxes
(:data:`~mesabase.theory.cruxes_data.CRUX_NODES`; each node's probability is conditional on the
branch it sits on):

    hard ─ yes ──────────────────────────────────────────────── catastrophe (patches only)
         └ no ─ motivated ─ no ──────────────────────────────── catastrophe (patches only)
                          └ yes ─ cheap ─ no ───────────────── catastrophe (fix not used)
                                        └ yes ─ large_use ─ no  catastrophe
                                                          └ yes ─ small_use ─ yes  safe
                                                                            └ no ─ reliability
                                                                                 ├ yes  catastrophe
                                                                                 └ no   safe

so that, with h, m, c, u_L, u_S, r the six node probabilities,

    P(catastrophe) = 1 − (1 − h) · m · c · u_L · (1 − r (1 − u_S)).

Its assumptions, each the model's reading of the thread, not a participant's number:

1. intractable problems (crux 1) are at best patched, and patches fail (the thread's
   "surface patches"): catastrophe with probability 1 on that branch;
2. crux 2: the chance that a real fix is developed equals the share of researchers highly
   motivated to fix the problems (A gives a share, ~1-20%, not a probability);
3. crux 3: a fix that is not cheap enough to be practical is not used; a cheap fix is easy
   to apply (A: "likely to be easy to apply … if they are cheap enough"); a large developer
   that does not use an available fix is decisive for catastrophe (B's counterfactual
   reading "a fix that would have made the difference"); small developers' use is asked
   only when the large ones use it;
4. crux 4: a small developer's non-use ends in catastrophe with probability r.

Exactness. The outcome is a sympy expression in the six node symbols (:attr:`CruxModel.
expression`); every evaluation is in exact rationals (``fractions.Fraction``; a float input
is read as its exact binary value). The same outcome is computed two ways — by walking the
tree and from the expanded polynomial — and the tests check they agree.

Ranges. Each node appears at most once on any path of the tree, so the outcome is
*multilinear*: of degree ≤ 1 in each symbol (checked with ``sympy.degree``, not assumed).
A multilinear function is affine in each variable with the others fixed, so over a box of
intervals its minimum and maximum are attained at corners (fix all but one variable: the
extreme over that one is at an end; repeat). :meth:`CruxModel.range` evaluates every corner
exactly and reports the extremes with every corner attaining them (a set, never one
tie-broken corner). It also checks the corners independently: the partial derivative
∂f/∂x_i does not involve x_i and is itself multilinear, so its range over the box is at the
corners of the other nodes; where each node is (weakly) monotone over the box, the corner
taking each node's worse end must attain the maximum, and the better ends the minimum.

Sensitivity to each node (a tornado) and the crossovers between the two participants are in
:mod:`mesabase.theory.crux_sensitivity`.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

import sympy as sp

from .cruxes_data import Estimate

__all__ = ["Leaf", "Chance", "crux_tree", "CruxModel", "OutcomeRange"]


@dataclass(frozen=True)
class Leaf:
    """An end of the tree: ``catastrophe`` or not, with a ``label`` saying why."""

    catastrophe: bool
    label: str


@dataclass(frozen=True)
class Chance:
    """A chance node: ``yes`` with probability P(``node``), ``no`` with 1 − P(``node``)."""

    node: str
    yes: Leaf | Chance
    no: Leaf | Chance


def crux_tree() -> Chance:
    """The tree of the module docstring."""
    cat, safe = True, False
    small = Chance("small_use", Leaf(safe, "every developer uses the fix"),
                   Chance("reliability",
                          Leaf(cat, "a small developer's non-use is catastrophic"),
                          Leaf(safe, "a small developer's non-use is survived")))
    return Chance(
        "hard", Leaf(cat, "intractable in time: patched at best"),
        Chance("motivated",
               Chance("cheap",
                      Chance("large_use", small,
                             Leaf(cat, "a large developer does not use the fix")),
                      Leaf(cat, "the fix is too costly to be used")),
               Leaf(cat, "no real fix is developed: patches only")))


def _fraction(x, what: str) -> Fraction:
    """``x`` as an exact Fraction in [0, 1] (sympy Rational, int, Fraction or finite float)."""
    if isinstance(x, bool):
        raise ValueError(f"{what} must be a probability; got {x!r}")
    if isinstance(x, sp.Rational):
        x = Fraction(int(x.p), int(x.q))
    elif isinstance(x, float):
        if not math.isfinite(x):
            raise ValueError(f"{what} must be finite; got {x!r}")
        x = Fraction(x)
    elif not isinstance(x, (int, Fraction)):
        raise ValueError(f"{what} must be a number; got {type(x).__name__} {x!r}")
    x = Fraction(x)
    if not 0 <= x <= 1:
        raise ValueError(f"{what} must lie in [0, 1]; got {x}")
    return x


@dataclass(frozen=True)
class OutcomeRange:
    """The outcome's exact range over a box of node intervals: [``low``, ``high``], every
    corner attaining each (``argmin``, ``argmax``: tuples of {node: value}), and each node's
    direction over the box (``monotone``: "increasing", "decreasing" — both weak —,
    "constant" or "mixed")."""

    low: Fraction
    high: Fraction
    argmin: tuple[dict, ...]
    argmax: tuple[dict, ...]
    monotone: dict

    def __contains__(self, x) -> bool:
        return self.low <= x <= self.high

    def common(self, which: str = "max") -> dict:
        """The nodes that take one value in every corner attaining the ``which`` ("min" or
        "max") extreme, with that value (the rest vary across the attaining corners)."""
        if which not in ("min", "max"):
            raise ValueError(f"which must be 'min' or 'max'; got {which!r}")
        corners = self.argmax if which == "max" else self.argmin
        return {n: v for n, v in corners[0].items() if all(c[n] == v for c in corners)}


class CruxModel:
    """A chance tree (default :func:`crux_tree`) and its P(catastrophe), exact.

    ``nodes``: the node names in order of first appearance. A node may appear on several
    branches but at most once on any path (else ValueError: the outcome would not be
    multilinear and a node's probability would be used twice in one world).

    >>> m = CruxModel()
    >>> m.nodes
    ('hard', 'motivated', 'cheap', 'large_use', 'small_use', 'reliability')
    >>> m.safety
    c*m*u_L*(1 - h)*(u_S + (1 - r)*(1 - u_S))
    >>> sp.expand(m.expression + m.safety)
    1
    >>> m.value({"hard": 0, "motivated": 1, "cheap": 1, "large_use": 1, "small_use": 0,
    ...          "reliability": Fraction(1, 10)})
    Fraction(1, 10)
    """

    #: Short symbol names for the default nodes (others use their node name).
    SYMBOLS = {"hard": "h", "motivated": "m", "cheap": "c", "large_use": "u_L",
               "small_use": "u_S", "reliability": "r"}

    def __init__(self, tree: Chance | None = None):
        self.tree = crux_tree() if tree is None else tree
        order: dict[str, None] = {}
        self._walk(self.tree, (), order)
        self.nodes = tuple(order)
        self.symbols = {n: sp.Symbol(self.SYMBOLS.get(n, n), real=True) for n in self.nodes}

    def _walk(self, t, path, order) -> None:
        if isinstance(t, Leaf):
            if not isinstance(t.catastrophe, bool):
                raise ValueError(f"leaf {t.label!r}: catastrophe must be True or False")
            return
        if not isinstance(t, Chance):
            raise ValueError(f"a tree is made of Chance and Leaf; got {type(t).__name__}")
        if t.node in path:
            raise ValueError(f"node {t.node!r} appears twice on one path ({' > '.join(path)} "
                             f"> {t.node}): the tree would not be multilinear")
        order.setdefault(t.node, None)
        for child in (t.yes, t.no):
            self._walk(child, (*path, t.node), order)

    # ---- the expression ------------------------------------------------------------------
    def _expr(self, t):
        if isinstance(t, Leaf):
            return sp.Integer(int(t.catastrophe))
        p = self.symbols[t.node]
        return p * self._expr(t.yes) + (1 - p) * self._expr(t.no)

    @cached_property
    def expression(self) -> sp.Expr:
        """P(catastrophe) as a sympy expression, built from the tree (not expanded)."""
        return self._expr(self.tree)

    @cached_property
    def safety(self) -> sp.Expr:
        """1 − P(catastrophe): the sum of the safe leaves' path probabilities, common factors
        taken out (``sympy.factor_terms``)."""
        return sp.factor_terms(sum((p for leaf, p in self.leaf_paths()
                                    if not leaf.catastrophe), sp.Integer(0)))

    @cached_property
    def polynomial(self) -> sp.Poly:
        """:attr:`expression` expanded into a polynomial in the node symbols."""
        return sp.Poly(sp.expand(self.expression), *self.symbols.values())

    def degrees(self) -> dict[str, int]:
        """The degree of the outcome in each node symbol (sympy.degree)."""
        return dict(self._degrees)

    @cached_property
    def _degrees(self) -> dict[str, int]:
        return {n: int(sp.degree(self.polynomial, s)) for n, s in self.symbols.items()}

    @property
    def multilinear(self) -> bool:
        """True when the outcome has degree ≤ 1 in every node (checked, not assumed)."""
        return all(d <= 1 for d in self.degrees().values())

    def leaf_paths(self) -> list[tuple[Leaf, sp.Expr]]:
        """Every leaf with its path probability (a product of p and 1 − p factors)."""
        out = []

        def go(t, prob):
            if isinstance(t, Leaf):
                out.append((t, prob))
                return
            p = self.symbols[t.node]
            go(t.yes, prob * p)
            go(t.no, prob * (1 - p))
        go(self.tree, sp.Integer(1))
        return out

    # ---- point values --------------------------------------------------------------------
    def _check_keys(self, values) -> None:
        if not isinstance(values, Mapping):
            raise ValueError(f"values must map node names to probabilities; got "
                             f"{type(values).__name__}")
        unknown = sorted(set(values) - set(self.nodes))
        missing = [n for n in self.nodes if n not in values]
        if unknown or missing:
            raise ValueError(f"values must give exactly the nodes {list(self.nodes)}"
                             + (f"; unknown {unknown}" if unknown else "")
                             + (f"; missing {missing}" if missing else ""))

    def point(self, values: Mapping) -> dict[str, Fraction]:
        """``values`` checked: a probability in [0, 1] for exactly the model's nodes."""
        self._check_keys(values)
        return {n: _fraction(values[n], f"node {n!r}") for n in self.nodes}

    def _walk_value(self, t, v) -> Fraction:
        if isinstance(t, Leaf):
            return Fraction(int(t.catastrophe))
        p = v[t.node]
        return p * self._walk_value(t.yes, v) + (1 - p) * self._walk_value(t.no, v)

    def value(self, values: Mapping) -> Fraction:
        """P(catastrophe) at point ``values`` ({node: probability}), exact, by walking the
        tree."""
        return self._walk_value(self.tree, self.point(values))

    def symbolic_value(self, values: Mapping) -> sp.Rational:
        """P(catastrophe) at ``values`` by substituting into :attr:`expression`."""
        v = self.point(values)
        return self.expression.subs(
            {self.symbols[n]: sp.Rational(x.numerator, x.denominator) for n, x in v.items()})

    def leaf_probabilities(self, values: Mapping) -> dict[str, Fraction]:
        """{leaf label: probability of reaching it} at ``values``, exact."""
        v = self.point(values)
        out: dict[str, Fraction] = {}

        def go(t, prob):
            if isinstance(t, Leaf):
                out[t.label] = out.get(t.label, Fraction(0)) + prob
                return
            go(t.yes, prob * v[t.node])
            go(t.no, prob * (1 - v[t.node]))
        go(self.tree, Fraction(1))
        return out

    # ---- boxes and ranges ----------------------------------------------------------------
    def box(self, spec: Mapping) -> dict[str, tuple[Fraction, Fraction]]:
        """{node: (low, high)} from ``spec``, which maps every node to a probability, a
        (low, high) pair or an :class:`~mesabase.theory.cruxes_data.Estimate` (a declined
        one: [0, 1])."""
        self._check_keys(spec)
        out = {}
        for n in self.nodes:
            s = spec[n]
            if isinstance(s, Estimate):
                lo, hi = s.interval
            elif isinstance(s, (tuple, list)):
                if len(s) != 2:
                    raise ValueError(f"node {n!r}: an interval is (low, high); got {s!r}")
                lo, hi = (_fraction(y, f"node {n!r}") for y in s)
            else:
                lo = hi = _fraction(s, f"node {n!r}")
            if lo > hi:
                raise ValueError(f"node {n!r}: low {lo} > high {hi}")
            out[n] = (lo, hi)
        return out

    @cached_property
    def _terms(self):
        return self._poly_terms(self.polynomial)

    def _poly_terms(self, poly: sp.Poly):
        return [(Fraction(int(c.p), int(c.q)), e) for e, c in poly.terms()]

    def _eval_terms(self, terms, v: Mapping) -> Fraction:
        total = Fraction(0)
        for coef, exps in terms:
            term = coef
            for n, e in zip(self.nodes, exps, strict=True):
                if e == 1:
                    term *= v[n]
                elif e:
                    term *= v[n] ** e
            total += term
        return total

    def polynomial_value(self, values: Mapping) -> Fraction:
        """P(catastrophe) at ``values`` from the expanded polynomial (a second route)."""
        return self._eval_terms(self._terms, self.point(values))

    @cached_property
    def _partials(self):
        return {n: self._poly_terms(sp.Poly(sp.diff(self.polynomial.as_expr(), s),
                                            *self.symbols.values()))
                for n, s in self.symbols.items()}

    def partial_range(self, node: str, spec: Mapping) -> tuple[Fraction, Fraction]:
        """The exact range of ∂P(catastrophe)/∂``node`` over the box ``spec`` (multilinear
        tree: the partial does not involve ``node`` and is multilinear in the others, so its
        extremes are at the corners of the others)."""
        if node not in self.nodes:
            raise ValueError(f"unknown node {node!r}; the nodes are {list(self.nodes)}")
        self._need_multilinear()
        b = self.box(spec)
        b[node] = (b[node][0], b[node][0])  # the partial does not involve the node itself
        vals = [self._eval_terms(self._partials[node], c) for c in self._corners(b)]
        return min(vals), max(vals)

    def _need_multilinear(self) -> None:
        if not self.multilinear:
            raise ValueError(f"the outcome is not multilinear (degrees {self.degrees()}): "
                             "its extremes over a box need not be at corners")

    @staticmethod
    def _corners(b: Mapping) -> list[dict[str, Fraction]]:
        names = list(b)
        ends = [sorted({lo, hi}) for lo, hi in b.values()]
        return [dict(zip(names, c, strict=True)) for c in itertools.product(*ends)]

    def monotonicity(self, spec: Mapping) -> dict[str, str]:
        """Each node's direction over the box: "increasing" / "decreasing" (weakly: the
        partial derivative is ≥ 0 / ≤ 0 at every point of the box and not identically 0),
        "constant" (identically 0 there) or "mixed" (changes sign)."""
        out = {}
        for n in self.nodes:
            lo, hi = self.partial_range(n, spec)
            out[n] = ("constant" if lo == hi == 0 else "increasing" if lo >= 0
                      else "decreasing" if hi <= 0 else "mixed")
        return out

    def range(self, spec: Mapping) -> OutcomeRange:
        """The exact range of P(catastrophe) over the box ``spec`` (:meth:`box`): every
        corner evaluated, extremes with all corners attaining them; then checked against
        the per-node monotonicity (module docstring). ValueError if not multilinear."""
        self._need_multilinear()
        b = self.box(spec)
        corners = self._corners(b)
        vals = [self._walk_value(self.tree, c) for c in corners]
        low, high = min(vals), max(vals)
        mono = self.monotonicity(b)
        if "mixed" not in mono.values():
            worst = {n: (b[n][1] if mono[n] == "increasing" else b[n][0]) for n in self.nodes}
            best = {n: (b[n][0] if mono[n] == "increasing" else b[n][1]) for n in self.nodes}
            if self._walk_value(self.tree, worst) != high or \
                    self._walk_value(self.tree, best) != low:
                raise RuntimeError("corner enumeration and monotonicity disagree: a bug")
        return OutcomeRange(
            low, high, tuple(c for c, v in zip(corners, vals, strict=True) if v == low),
            tuple(c for c, v in zip(corners, vals, strict=True) if v == high), mono)
