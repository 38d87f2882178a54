"""Exact solving on FLINT and exact answers from float input (issue 14, items 5 and 6).

Oracles: the pure-Fraction implementation of mesabase before FLINT (Bareiss elimination and
Fraction backups, rebuilt here as ``_old_*``: V, Q, actions and the iteration count must be
identical, no tolerance); the rational twin of a float MDP (identical Fractions); float
policy iteration (1e-9) where no exact oracle exists; hand-computed values.
"""

import math
import re
from fractions import Fraction as F

import numpy as np
import pytest
import sympy
from hypothesis import given, settings
from hypothesis import strategies as st

from mesabase.theory import InvalidMDP, TabularMDP, from_gym, solve, to_fraction
from mesabase.theory.examples import taxi_transitions
from mesabase.theory.rationals import float_to_fraction
from mesabase.theory.solvers.exact import _solve_linear, evaluate_exact, solve_exact
from mesabase.theory.solvers.rational import bareiss_solve
from mesabase.theory.strategies import mdps

AGREE = 1e-9  # exact vs float policy iteration, where no exact oracle exists


# ---- the implementation before FLINT, as the oracle ------------------------------------
def _old_backup(P, R, g, V):
    S, A = R.shape
    return [[R[s, a] + g * sum((P[s, a, j] * V[j] for j in range(S)), F(0)) for a in range(A)]
            for s in range(S)]


def _first_argmax(row):
    return row.index(max(row))


def _old_solve(mdp):
    """(V, Q, actions, iterations) of the old solve_exact: policy iteration from the first
    argmax of R, keeping the action on ties, each V^π by pure-Python Bareiss."""
    P, R, g, _ = mdp.exact_arrays()
    S, A = R.shape
    if mdp.horizon is not None:
        V, Qs, acts = [F(0)] * S, [], []
        for _ in range(mdp.horizon):
            Q = _old_backup(P, R, g, V)
            acts.insert(0, [_first_argmax(q) for q in Q])
            V = [max(q) for q in Q]
            Qs.insert(0, Q)
        return V, Qs, acts, mdp.horizon
    pi = [_first_argmax(list(R[s])) for s in range(S)]
    for k in range(1, 1000):
        M = [[int(i == j) - g * P[i, pi[i], j] for j in range(S)] for i in range(S)]
        V = bareiss_solve(M, [R[s, pi[s]] for s in range(S)])
        Q = _old_backup(P, R, g, V)
        new = [a if max(q) == q[a] else _first_argmax(q) for a, q in zip(pi, Q, strict=True)]
        if new == pi:
            return V, Q, pi, k
        pi = new


@settings(max_examples=60, deadline=None)
@given(mdps(n_states=st.integers(1, 6), n_actions=st.integers(1, 3), rational=True))
def test_same_fractions_as_the_old_implementation(mdp):
    V, Q, actions, k = _old_solve(mdp)
    sol = solve_exact(mdp)
    assert sol.V.tolist() == V and sol.Q.tolist() == Q  # tolerance: exact
    assert sol.actions.tolist() == actions and sol.iterations == k
    assert sol.exact_input == "exact"


@settings(max_examples=30, deadline=None)
@given(mdps(n_states=st.integers(1, 4), rational=True, horizon=st.integers(1, 4),
            gamma=st.sampled_from([F(0), F(1, 2), F(9, 10), F(1)])))
def test_finite_horizon_same_as_the_old_implementation(mdp):
    V0, Q, actions, _ = _old_solve(mdp)
    sol = solve_exact(mdp)
    assert sol.V[0].tolist() == V0 and sol.Q.tolist() == Q  # tolerance: exact
    assert sol.actions.tolist() == actions


@settings(max_examples=30, deadline=None)
@given(mdps(n_states=st.integers(1, 5), rational=True), st.data())
def test_evaluate_exact_same_as_bareiss(mdp, data):
    P, R, g, _ = mdp.exact_arrays()
    S, A = R.shape
    w = np.array(data.draw(st.lists(st.lists(st.integers(0, 3), min_size=A, max_size=A),
                                    min_size=S, max_size=S)))
    w[:, 0] += 1
    pi = np.array([[F(int(x), int(row.sum())) for x in row] for row in w], dtype=object)
    M = [[int(i == j) - g * sum((pi[i, a] * P[i, a, j] for a in range(A)), F(0))
          for j in range(S)] for i in range(S)]
    r = [sum((pi[s, a] * R[s, a] for a in range(A)), F(0)) for s in range(S)]
    assert evaluate_exact(mdp, pi).tolist() == bareiss_solve(M, r)  # tolerance: exact


_ENTRIES = st.integers(-2, 2).map(F) | st.fractions(-5, 5, max_denominator=7)


@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.lists(st.lists(_ENTRIES, min_size=n, max_size=n), min_size=n, max_size=n),
    st.lists(_ENTRIES, min_size=n, max_size=n))))
def test_flint_solve_equals_bareiss(system):
    M, b = system
    if sympy.Matrix(M).det() == 0:
        for solver in (_solve_linear, bareiss_solve):
            with pytest.raises(ZeroDivisionError, match="singular"):
                solver(M, b)
        return
    x = _solve_linear(M, b)
    assert all(type(v) is F for v in x) and x == bareiss_solve(M, b)  # tolerance: exact


# ---- floats read as rationals ----------------------------------------------------------
@given(st.integers(-10**6, 10**6), st.integers(1, 10**6))
def test_float_of_a_simple_rational_reads_back(p, q):
    x, simple = float_to_fraction(p / q)
    assert simple and x == F(p, q)  # tolerance: exact


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_float_rule_is_relative(x):
    q, simple = float_to_fraction(x)
    assert abs(q - F(x)) <= abs(F(x)) * F(1e-14)  # the stated tolerance
    assert (q == 0) == (x == 0)  # the support of P never changes
    assert simple or q == F(x)  # else the exact binary value


def test_float_with_no_simple_rational_nearby_keeps_its_binary_value():
    for x in (math.pi / 4, 0.123456789, 1 / 3 + 1e-10, 2.0**-30 * 3):
        assert to_fraction(x) == F(x) and not float_to_fraction(x)[1]  # tolerance: exact
    mdp = TabularMDP(np.ones((1, 1, 1)), [[math.pi]], gamma=0.5)
    P, R, g, _, note = mdp.exact_arrays(report=True)
    assert R[0, 0] == F(math.pi) and g == F(1, 2)  # tolerance: exact
    assert note == "from floats (largest change 0; 1 kept their binary values)"
    assert solve_exact(mdp).V[0] == 2 * F(math.pi)  # tolerance: exact


def test_exact_input_is_untouched():
    P = np.array([[[F(1, 3), F(2, 3)]], [[F(0), F(1)]]], dtype=object)
    R = np.array([[sympy.Rational(1, 7)], [2]], dtype=object)
    mdp = TabularMDP(P, R, gamma=sympy.Rational(9, 10))
    Pe, Re, g, _, note = mdp.exact_arrays(report=True)
    assert Pe[0, 0, 0] is P[0, 0, 0] and Re.tolist() == [[F(1, 7)], [F(2)]]
    assert g == F(9, 10) and note == "exact" and solve_exact(mdp).exact_input == "exact"
    huge = F(10**30 + 1, 10**30)  # no float conversion anywhere: kept to the last digit
    mdp = TabularMDP(np.ones((1, 1, 1), dtype=object), [[huge]], gamma=F(1, 2))
    assert solve_exact(mdp).V[0] == 2 * huge  # tolerance: exact


def test_row_of_thirds_solves_exactly_and_reports_the_change():
    # V = R + γ·mean(V): mean(V) = mean(R)/(1 − γ) = 2, so V = R + 1 = (1, 2, 3)
    mdp = TabularMDP(np.full((3, 1, 3), 1 / 3), [[0.0], [1.0], [2.0]], gamma=0.5)
    sol = solve_exact(mdp)
    assert sol.V.tolist() == [F(1), F(2), F(3)]  # tolerance: exact
    change = float(abs(F(1, 3) - F(1 / 3)))  # 1/3 − fl(1/3) ≈ 1.9e-17
    assert sol.exact_input == f"from floats (largest change {change:.2g})"
    assert solve(mdp, "pi").exact_input is None


def test_row_missing_by_a_rounding_error_is_refused_not_renormalised():
    P = np.full((2, 1, 2), 0.5)
    P[1, 0] = [0.3, 0.7000000001]
    P[1, 0, 0] -= 1e-10  # still within the float tolerance, no longer exactly 1
    mdp = TabularMDP(P, [[0.0], [1.0]], gamma=0.5)
    with pytest.raises(InvalidMDP, match=r"^P\[1, 0, :\] sums to \d+/\d+ exactly \(1 [-+] "
                       r".*read from floats as the closest rationals.*P\[1, 0, 0\] = "
                       + re.escape(repr(float(P[1, 0, 0]))) + " kept its binary value.*not renorm"):
        solve_exact(mdp)


def _frozen_lake(desc=("SFFF", "FHFH", "FFFH", "HFFG")):
    """Gymnasium's slippery FrozenLake dict: each move goes to the intended and the two
    perpendicular directions with probability 1/3 (floats), +1 on reaching G."""
    n = len(desc)
    P = {}
    for s in range(n * n):
        r, c = divmod(s, n)
        P[s] = {}
        for a in range(4):  # left, down, right, up
            if desc[r][c] in "GH":
                P[s][a] = [(1.0, s, 0.0, True)]
                continue
            P[s][a] = []
            for b in ((a - 1) % 4, a, (a + 1) % 4):
                dr, dc = ((0, -1), (1, 0), (0, 1), (-1, 0))[b]
                r2, c2 = min(max(r + dr, 0), n - 1), min(max(c + dc, 0), n - 1)
                letter = desc[r2][c2]
                P[s][a].append((1.0 / 3.0, r2 * n + c2, float(letter == "G"), letter in "GH"))
    return P


def test_frozen_lake_slippery_solves_exactly():
    mdp = from_gym(_frozen_lake(), gamma=0.99)
    sol = solve_exact(mdp)
    P = mdp.exact_arrays()[0]
    assert {x for x in P.reshape(-1)} <= {F(0), F(1, 3), F(2, 3), F(1)}  # duplicates summed
    assert sol.exact_input.startswith("from floats (largest change ")
    assert max(abs(float(v) - w) for v, w in zip(sol.V, solve(mdp, "pi").V, strict=True)) < AGREE
    assert float(sol.V[0]) == pytest.approx(0.5420, abs=1e-4)  # the known V*(start), γ = 0.99


def test_quantecon_growth_model_from_floats():
    # QuantEcon's "Discrete State Dynamic Programming" lecture: B = 10, M = 5, α = 0.5,
    # β = 0.9; s' = a + U{0..B} with probability 1/(B+1) as floats, u(c) = c^α for c = s − a.
    # Infeasible a > s get −1000 here rather than −inf (the masked form is tested in
    # tests/test_action_masks.py); it is never optimal, since a = 0 is always feasible
    # with V ≥ 0 > −1000 + γ max V.
    B, M, alpha, beta = 10, 5, 0.5, 0.9
    n, m = B + M + 1, M + 1
    P = np.zeros((n, m, n))
    R = np.full((n, m), -1000.0)
    for s in range(n):
        for a in range(m):
            P[s, a, a:a + B + 1] = 1.0 / (B + 1)
            if a <= s:
                R[s, a] = (s - a) ** alpha
    mdp = TabularMDP(P, R, gamma=beta)
    sol = solve_exact(mdp)
    assert mdp.exact_arrays()[0][0, 0, 0] == F(1, 11) and mdp.exact_arrays()[2] == F(9, 10)
    # √c is irrational for c ∉ {0, 1, 4, 9}: those rewards keep their binary values
    kept = sum((s - a) not in (0, 1, 4, 9) for s in range(n) for a in range(min(s, M) + 1))
    assert sol.exact_input.endswith(f"; {kept} kept their binary values)")
    float_sol = solve(mdp, "pi")
    assert max(abs(float(v) - w) for v, w in zip(sol.V, float_sol.V, strict=True)) < AGREE
    assert sol.actions.tolist() == float_sol.actions.tolist()


@settings(max_examples=25, deadline=None)
@given(mdps(n_states=st.integers(1, 5), rational=True))
def test_float_twin_gives_the_same_fractions(mdp):
    # P = w/Σw with Σw ≤ 20, R = k/2 and γ = k/20: floats of simple rationals read back
    twin = TabularMDP(mdp.P, mdp.R, gamma=mdp.gamma)
    a, b = solve_exact(mdp), solve_exact(twin)
    assert a.V.tolist() == b.V.tolist() and a.Q.tolist() == b.Q.tolist()  # tolerance: exact
    assert b.exact_input.startswith("from floats (largest change ")


# ---- Taxi scale (about 2.5 s per exact solve; BENCHMARKS.md) ----
def _taxi():
    return taxi_transitions()


def test_taxi_dict_is_gymnasiums():
    gym = pytest.importorskip("gymnasium")
    env_id = next(i for i in ("Taxi-v4", "Taxi-v3") if i in gym.registry)
    G = gym.make(env_id).unwrapped.P
    assert {s: {a: [(float(p), int(s2), float(r), bool(d)) for p, s2, r, d in G[s][a]]
                for a in range(6)} for s in range(500)} == _taxi()


@pytest.mark.parametrize("gamma", [0.9, 0.99])
def test_taxi_exact_agrees_with_float(gamma):
    """Taxi in exact arithmetic (its speed is shown in BENCHMARKS.md, benchmarks/exact.py,
    not asserted here)."""
    mdp = from_gym(_taxi(), gamma=gamma)
    sol = solve_exact(mdp)
    float_sol = solve(mdp, "pi")
    assert max(abs(float(v) - w) for v, w in zip(sol.V, float_sol.V, strict=True)) < AGREE
    change = float(abs(F(gamma) - to_fraction(gamma)))  # P, R dyadic (1.0, −1.0, 20.0)
    assert sol.exact_input == f"from floats (largest change {change:.2g})"
