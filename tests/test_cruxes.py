"""The crux model (mesabase.theory.cruxes, .crux_sensitivity, .cruxes_data): a valid
probability tree at every input, the sympy expression equal to the tree walk, exact ranges
that contain every sampled point, and the participants' data consistent with their words."""

import re
from fractions import Fraction

import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st

from mesabase.theory import (
    CRUX_NODES,
    CRUXES,
    PARTICIPANTS,
    Chance,
    CruxModel,
    Estimate,
    Leaf,
    crossovers,
    most_sensitive,
    participant_range,
    sensitivity,
)

MODEL = CruxModel()
NODES = MODEL.nodes
# probabilities with small denominators, the ends 0 and 1 included
prob = st.fractions(min_value=0, max_value=1, max_denominator=60)
points = st.fixed_dictionaries({n: prob for n in NODES})


@st.composite
def boxes(draw):
    """A box of intervals (some points) and a sample point inside it."""
    box, inside = {}, {}
    for n in NODES:
        a, b = sorted((draw(prob), draw(prob)))
        box[n] = (a, b)
        t = draw(st.fractions(min_value=0, max_value=1, max_denominator=30))
        inside[n] = a + (b - a) * t
    return box, inside


# ---- the tree ----------------------------------------------------------------------------
def test_the_tree_has_every_crux_node_once_and_is_multilinear():
    assert set(NODES) == set(CRUX_NODES) == {n for c in CRUXES for n in c.nodes}
    assert MODEL.degrees() == {n: 1 for n in NODES} and MODEL.multilinear
    assert sp.expand(MODEL.expression + MODEL.safety) == 1


@given(points)
def test_leaf_probabilities_are_a_distribution_at_every_input(v):
    leaves = MODEL.leaf_probabilities(v)
    assert all(0 <= p <= 1 for p in leaves.values())
    assert sum(leaves.values()) == 1
    cat = sum(p for leaf, _ in MODEL.leaf_paths() if leaf.catastrophe
              for label, p in leaves.items() if label == leaf.label)
    assert cat == MODEL.value(v)
    assert 0 <= MODEL.value(v) <= 1


@given(points)
def test_the_symbolic_expression_equals_the_tree_walk(v):
    exact = MODEL.value(v)
    assert MODEL.symbolic_value(v) == sp.Rational(exact.numerator, exact.denominator)
    assert MODEL.polynomial_value(v) == exact
    safe = MODEL.safety.subs({MODEL.symbols[n]: sp.Rational(x.numerator, x.denominator)
                              for n, x in v.items()})
    assert 1 - safe == sp.Rational(exact.numerator, exact.denominator)


def test_path_probabilities_sum_to_one_symbolically():
    assert sp.expand(sum(p for _, p in MODEL.leaf_paths())) == 1


@given(boxes())
def test_the_interval_result_contains_every_sampled_point(bx):
    box, inside = bx
    rng = MODEL.range(box)
    assert rng.low <= MODEL.value(inside) <= rng.high
    for corner in rng.argmin:
        assert MODEL.value(corner) == rng.low
    for corner in rng.argmax:
        assert MODEL.value(corner) == rng.high
    # the directions agree with the partial derivatives at the sampled point
    for n, d in rng.monotone.items():
        slope = MODEL.value({**inside, n: 1}) - MODEL.value({**inside, n: 0})
        assert {"increasing": slope >= 0, "decreasing": slope <= 0,
                "constant": slope == 0, "mixed": True}[d], (n, d, slope)


def test_argmax_is_the_whole_set_of_corners_attaining_it():
    rng = MODEL.range({n: (0, 1) for n in NODES})
    assert (rng.low, rng.high) == (0, 1)
    corners = MODEL._corners({n: (Fraction(0), Fraction(1)) for n in NODES})
    assert len(rng.argmax) == sum(MODEL.value(c) == 1 for c in corners) > 1
    assert rng.common("min") == {"hard": 0, "motivated": 1, "cheap": 1, "large_use": 1}


def test_directions_follow_the_tree():
    mono = MODEL.monotonicity({n: (Fraction(1, 10), Fraction(9, 10)) for n in NODES})
    assert {n for n, d in mono.items() if d == "increasing"} == {"hard", "reliability"}
    assert {n for n, d in mono.items() if d == "decreasing"} == set(NODES) - {"hard",
                                                                           "reliability"}


# ---- other trees ---------------------------------------------------------------------------
XOR = Chance("x", Chance("y", Leaf(True, "xy"), Leaf(False, "x not y")),
             Chance("y", Leaf(False, "y not x"), Leaf(True, "neither")))


@given(st.fractions(0, 1, max_denominator=20), st.fractions(0, 1, max_denominator=20),
       st.fractions(0, 1, max_denominator=20), st.fractions(0, 1, max_denominator=20))
def test_a_node_on_two_branches_is_multilinear_with_mixed_direction(a, b, s, t):
    m = CruxModel(XOR)
    assert m.nodes == ("x", "y") and m.multilinear
    box = {"x": (Fraction(0), Fraction(1)), "y": (Fraction(1, 4), Fraction(3, 4))}
    assert m.monotonicity(box)["x"] == "mixed"
    rng = m.range(box)
    y = Fraction(1, 4) + Fraction(1, 2) * t
    assert m.value({"x": s, "y": y}) in rng
    assert m.value({"x": a, "y": b}) == a * b + (1 - a) * (1 - b)


def test_a_node_twice_on_one_path_is_refused():
    bad = Chance("x", Chance("x", Leaf(True, "a"), Leaf(False, "b")), Leaf(False, "c"))
    with pytest.raises(ValueError, match="twice on one path"):
        CruxModel(bad)
    with pytest.raises(ValueError, match="Chance and Leaf"):
        CruxModel(Chance("x", Leaf(True, "a"), "not a tree"))


@pytest.mark.parametrize("values, message", [
    ({n: 0 for n in NODES[:-1]}, "missing"),
    ({**{n: 0 for n in NODES}, "extra": 0}, "unknown"),
    ({**{n: 0 for n in NODES}, "hard": Fraction(3, 2)}, r"in \[0, 1\]"),
    ({**{n: 0 for n in NODES}, "hard": float("nan")}, "finite"),
    ({**{n: 0 for n in NODES}, "hard": True}, "probability"),
    ({**{n: 0 for n in NODES}, "hard": "0.5"}, "number"),
])
def test_bad_values_are_refused_by_name(values, message):
    with pytest.raises(ValueError, match=message):
        MODEL.value(values)


def test_bad_boxes_are_refused():
    box = {n: (0, 1) for n in NODES}
    with pytest.raises(ValueError, match="low 1 > high 0"):
        MODEL.range({**box, "hard": (1, 0)})
    with pytest.raises(ValueError, match=r"\(low, high\)"):
        MODEL.range({**box, "hard": (0, 1, 1)})


# ---- the participants' data ---------------------------------------------------------------
_TOKEN = re.compile(r"[~<] ?\d+(?:-\d+)?%")


@pytest.mark.parametrize("key", list(PARTICIPANTS))
def test_every_stated_number_is_in_its_quoted_sentence(key):
    p = PARTICIPANTS[key]
    assert set(p.estimates) == set(NODES)
    for n, e in p.estimates.items():
        assert e.node == n and e.quote
        if e.declined:
            assert ("will not predict" in e.quote or "not a question in my ontology" in e.quote)
            assert e.interval == (0, 1)
            continue
        tokens = _TOKEN.findall(e.stated)
        assert tokens and any(t in e.quote for t in tokens), (n, e.stated)
        m = re.fullmatch(r"~(\d+)%", e.stated)
        if m:  # "~x%" is read as the point x/100
            assert e.low == e.high == Fraction(int(m.group(1)), 100)


def test_a_range_and_an_upper_bound_are_read_as_intervals():
    a, b = PARTICIPANTS["A"], PARTICIPANTS["B"]
    assert a.estimates["motivated"].interval == (Fraction(1, 100), Fraction(1, 5))
    assert b.estimates["reliability"].interval == (0, Fraction(1, 10))
    assert b.estimates["large_use"].interval == (Fraction(9, 10), 1)    # 1 - [0, 10%]
    assert b.estimates["hard"].low == 1 - Fraction(90, 100)


@pytest.mark.parametrize("kwargs, message", [
    ({"low": Fraction(1, 2), "high": Fraction(1, 4)}, "low <= high"),
    ({"low": 0.5, "high": 0.5}, "exact Fractions"),
    ({"low": Fraction(0), "high": None}, "both low and high"),
    ({"low": Fraction(0), "high": Fraction(1), "reading": Fraction(1)}, "declined node only"),
    ({"low": None, "high": None, "reading": Fraction(2)}, r"in \[0, 1\]"),
])
def test_bad_estimates_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Estimate("hard", "x", quote="q", **kwargs)


@pytest.mark.parametrize("key", list(PARTICIPANTS))
def test_each_participant_range_contains_their_baseline_and_their_samples(key):
    p = PARTICIPANTS[key]
    rng, base = participant_range(MODEL, key)
    assert base in rng
    for corner in (*rng.argmin, *rng.argmax):
        for n, x in corner.items():
            lo, hi = p.estimates[n].interval
            assert x in (lo, hi)


def test_with_every_other_node_at_its_best_b_reaches_the_hard_branch_alone():
    rng, _ = participant_range(MODEL, "B")
    assert rng.low == PARTICIPANTS["B"].estimates["hard"].low     # P = h when all else safe
    assert rng.high == 1                                           # a declined node at 0


# ---- sensitivity and crossovers -------------------------------------------------------------
@pytest.mark.parametrize("key", list(PARTICIPANTS))
def test_each_swing_is_the_partial_derivative_at_the_baselines(key):
    p = PARTICIPANTS[key]
    base = {n: e.baseline for n, e in p.estimates.items()}
    at = {MODEL.symbols[n]: sp.Rational(v.numerator, v.denominator) for n, v in base.items()}
    swings = sensitivity(MODEL, key)
    assert [s.swing for s in swings] == sorted((s.swing for s in swings), reverse=True)
    for s in swings:
        d = sp.diff(MODEL.expression, MODEL.symbols[s.node]).subs(at)
        assert s.swing == abs(Fraction(int(d.p), int(d.q)))
        assert s.slope_low <= d <= s.slope_high
        assert s.outcome == MODEL.value(base)
    best, robust = most_sensitive(swings)
    assert swings[0].node in best
    if robust:
        for s in swings:
            if s.node not in best:
                assert s.abs_slope_range[1] <= swings[0].abs_slope_range[0]


def test_crossovers_solve_their_equation_exactly():
    xs = crossovers(MODEL)
    assert len(xs) == 2 * len(NODES)
    for x in xs:
        mover = PARTICIPANTS[x.mover]
        base = {n: e.baseline for n, e in mover.estimates.items()}
        f0 = MODEL.value({**base, x.node: 0}) - x.target_outcome
        f1 = MODEL.value({**base, x.node: 1}) - x.target_outcome
        if x.solutions is None:
            assert f0 == f1 == 0
        elif not x.solutions:
            assert f0 * f1 > 0 and x.text() == "none in [0, 1]"   # no root in [0, 1]
        else:
            for t in x.solutions:
                assert 0 <= t <= 1
                assert MODEL.value({**base, x.node: t}) == x.target_outcome
