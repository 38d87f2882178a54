"""Published values reproduced by every applicable solver (mesabase.theory.examples).

Sources: Sutton & Barto (2018) Examples 3.5, 3.8 and 4.1; Puterman (1994) §3.1; the
secretary problem (Gilbert & Mosteller 1966; Ferguson 1989); a chain with a closed form.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from mesabase.theory import evaluate, solve, to_fraction
from mesabase.theory import examples as ex

INFINITE = ("vi", "pi", "auto", "lp", "cvxpy", "exact")
FINITE = ("backward", "auto", "exact")


def as_float(x) -> np.ndarray:
    return np.asarray(x, dtype=np.float64)


def assert_exact(sol, method):
    """The exact method returns Fractions; the others float64."""
    assert (sol.V.dtype == object) == (method == "exact")


# ---- Sutton & Barto, Examples 3.5 / 3.8 -------------------------------------------------
SB_VSTAR = np.array([
    [22.0, 24.4, 22.0, 19.4, 17.5],
    [19.8, 22.0, 19.8, 17.8, 16.0],
    [17.8, 19.8, 17.8, 16.0, 14.4],
    [16.0, 17.8, 16.0, 14.4, 13.0],
    [14.4, 16.0, 14.4, 13.0, 11.7],
])
SB_RANDOM = np.array([
    [3.3, 8.8, 4.4, 5.3, 1.5],
    [1.5, 3.0, 2.3, 1.9, 0.5],
    [0.1, 0.7, 0.7, 0.4, -0.4],
    [-1.0, -0.4, -0.4, -0.6, -1.2],
    [-1.9, -1.3, -1.2, -1.4, -2.0],
])
#: Figure 3.5 (right): the optimal actions of each cell, N S E W.
SB_POLICY = [
    ["E", "NSEW", "W", "NSEW", "W"],
    ["NE", "N", "NW", "W", "W"],
    ["NE", "N", "NW", "NW", "NW"],
    ["NE", "N", "NW", "NW", "NW"],
    ["NE", "N", "NW", "NW", "NW"],
]


def sb_gridworld(method):
    return ex.sutton_barto_gridworld(Fraction(9, 10) if method == "exact" else 0.9)


@pytest.mark.parametrize("method", INFINITE)
def test_sutton_barto_optimal_values(method):
    sol = solve(sb_gridworld(method), method=method)
    assert_exact(sol, method)
    V = as_float(sol.V).reshape(5, 5)
    np.testing.assert_allclose(V, SB_VSTAR, rtol=0, atol=0.05)  # published to 1 decimal
    # V*(A) = 10 / (1 − γ⁵): the optimal policy cycles A → A′ → … → A in 5 steps.
    np.testing.assert_allclose(V[0, 1], 10 / (1 - 0.9**5), rtol=0, atol=1e-9)


@pytest.mark.parametrize("method", INFINITE)
def test_sutton_barto_optimal_policy_set(method):
    sol = solve(sb_gridworld(method), method=method)
    got = [["".join("NSEW"[a] for a in range(4) if sol.optimal[r * 5 + c, a])
            for c in range(5)] for r in range(5)]
    assert got == SB_POLICY


def test_sutton_barto_exact_value_at_A():
    sol = solve(ex.sutton_barto_gridworld(Fraction(9, 10)), method="exact")
    assert sol.V[1] == 10 / (1 - Fraction(9, 10) ** 5)  # tolerance: exact (Fractions)
    assert sol.V[21] == Fraction(9, 10) ** 4 * sol.V[1]  # A′ is 4 steps from A; exact


@pytest.mark.parametrize("gamma", [0.9, Fraction(9, 10)])
def test_sutton_barto_random_policy_values(gamma):
    V = evaluate(ex.sutton_barto_gridworld(gamma), np.full((25, 4), 0.25))
    np.testing.assert_allclose(V.reshape(5, 5), SB_RANDOM, rtol=0, atol=0.05)  # 1 decimal


def test_sutton_barto_layout():
    mdp = ex.sutton_barto_gridworld()
    assert ex.GRID_ACTIONS == ("north", "south", "east", "west")
    assert mdp.P[7, 0, 2] == 1.0 and mdp.P[7, 1, 12] == 1.0  # tolerance: exact
    assert mdp.P[7, 2, 8] == 1.0 and mdp.P[7, 3, 6] == 1.0  # tolerance: exact
    assert mdp.P[0, 0, 0] == 1.0 and mdp.R[0, 0] == -1.0  # off the grid; exact
    assert (mdp.R[1] == 10).all() and (mdp.P[1, :, 21] == 1).all()  # A → A′; exact
    assert (mdp.R[3] == 5).all() and (mdp.P[3, :, 13] == 1).all()  # B → B′; exact
    assert mdp.gamma == 0.9 and not mdp.is_exact  # tolerance: exact
    assert ex.sutton_barto_gridworld(Fraction(9, 10)).is_exact


# ---- Sutton & Barto, Example 4.1 --------------------------------------------------------
SB41_RANDOM = np.array([
    [0, -14, -20, -22],
    [-14, -18, -20, -20],
    [-20, -20, -18, -14],
    [-22, -20, -14, 0],
], dtype=float)
SB41_VSTAR = np.array([
    [0, -1, -2, -3],
    [-1, -2, -3, -2],
    [-2, -3, -2, -1],
    [-3, -2, -1, 0],
], dtype=float)


def test_small_gridworld_random_policy_values():
    V = evaluate(ex.sutton_barto_small_gridworld(), np.full((16, 4), 0.25))
    np.testing.assert_allclose(V.reshape(4, 4), SB41_RANDOM, rtol=0, atol=1e-9)


@pytest.mark.parametrize("method", INFINITE)
def test_small_gridworld_optimal_values(method):
    sol = solve(ex.sutton_barto_small_gridworld(), method=method)
    assert_exact(sol, method)
    np.testing.assert_allclose(as_float(sol.V).reshape(4, 4), SB41_VSTAR, rtol=0, atol=1e-9)
    # Optimal actions: exactly the moves one step closer to a terminal corner.
    assert sol.optimal[1].tolist() == [False, False, False, True]  # west only
    assert sol.optimal[5].tolist() == [True, False, False, True]  # north or west
    assert sol.optimal[0].all() and sol.optimal[15].all()  # terminal: all tie at 0


# ---- Puterman (1994) §3.1 ---------------------------------------------------------------
@pytest.mark.parametrize("method", INFINITE)
def test_puterman_discounted(method):
    gamma = Fraction(19, 20) if method == "exact" else 0.95
    sol = solve(ex.puterman_two_state(gamma), method=method)
    assert_exact(sol, method)
    np.testing.assert_allclose(as_float(sol.V), [-60 / 7, -20.0], rtol=0, atol=1e-9)
    assert sol.optimal.tolist() == [[True, False], [True, True]]  # a11; s2's duplicate ties
    np.testing.assert_allclose(as_float(sol.Q[0]), [-60 / 7, -9.0], rtol=0, atol=1e-9)
    if method == "exact":
        assert list(sol.V) == [Fraction(-60, 7), Fraction(-20)]  # tolerance: exact


@pytest.mark.parametrize("method", FINITE)
def test_puterman_finite_horizon(method):
    gamma = Fraction(1) if method == "exact" else 1.0
    sol = solve(ex.puterman_two_state(gamma, horizon=2), method=method)
    assert_exact(sol, method)
    V = as_float(sol.V)
    assert V.shape == (3, 2)
    np.testing.assert_allclose(V, [[9.5, -2.0], [10.0, -1.0], [0.0, 0.0]], rtol=0, atol=1e-12)
    assert sol.optimal[0, 0].tolist() == [True, False]  # two left: a11 (9.5 > 9)
    assert sol.optimal[1, 0].tolist() == [False, True]  # one left: a12 (10 > 5)
    np.testing.assert_allclose(as_float(sol.Q[0, 0]), [9.5, 9.0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("method", ["vi", "pi", "lp", "cvxpy"])
def test_finite_horizon_refused_by_infinite_horizon_methods(method):
    with pytest.raises(ValueError, match=r"use 'backward'"):
        solve(ex.puterman_two_state(1.0, horizon=2), method=method)


# ---- the secretary problem --------------------------------------------------------------
SECRETARY_VALUE = {
    1: Fraction(1), 2: Fraction(1, 2), 3: Fraction(1, 2), 4: Fraction(11, 24),
    5: Fraction(13, 30), 6: Fraction(77, 180), 7: Fraction(29, 70), 8: Fraction(459, 1120),
    9: Fraction(341, 840), 10: Fraction(3349, 8400),
}
#: Smallest optimal threshold r (n = 2: r = 1 and r = 2 tie).
SECRETARY_THRESHOLD = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3, 6: 3, 7: 3, 8: 4, 9: 4, 10: 4}
STOP, CONTINUE = 0, 1


def threshold_success(n: int, r: int) -> Fraction:
    """P(r) = (r − 1)/n Σ_{k=r}^{n} 1/(k − 1), P(1) = 1/n: the classical formula."""
    if r == 1:
        return Fraction(1, n)
    return Fraction(r - 1, n) * sum(Fraction(1, k - 1) for k in range(r, n + 1))


@pytest.mark.parametrize("n", range(1, 11))
def test_secretary_published_table_matches_the_formula(n):
    best = max(threshold_success(n, r) for r in range(1, n + 1))
    assert best == SECRETARY_VALUE[n]  # tolerance: exact (Fractions)
    r = min(r for r in range(1, n + 1) if threshold_success(n, r) == best)
    assert r == SECRETARY_THRESHOLD[n]
    if n == 10:
        assert abs(float(best) - 0.398690) < 5e-7  # the published 6 decimals


@pytest.mark.parametrize("method", FINITE)
@pytest.mark.parametrize("n", range(1, 11))
def test_secretary_values(n, method):
    mdp = ex.secretary(n)
    sol = solve(mdp, method=method)
    assert_exact(sol, method)
    s11 = ex.secretary_state(n, 1, True)
    if method == "exact":
        assert sol.V[0, s11] == SECRETARY_VALUE[n]  # tolerance: exact
    else:
        assert abs(sol.V[0, s11] - float(SECRETARY_VALUE[n])) <= 1e-12
        assert abs(float(mdp.mu0 @ sol.V[0]) - float(SECRETARY_VALUE[n])) <= 1e-12


@pytest.mark.parametrize("method", FINITE)
@pytest.mark.parametrize("n", range(1, 11))
def test_secretary_threshold_policy(n, method):
    sol = solve(ex.secretary(n), method=method)
    r = SECRETARY_THRESHOLD[n]
    for t in range(1, n + 1):
        best, other = ex.secretary_state(n, t, True), ex.secretary_state(n, t, False)
        k = t - 1  # candidate t is seen at decision step t − 1
        assert sol.optimal[k, best, STOP] == (t >= r), (t, "stop")
        tie = (n, t) == (2, 1)
        assert sol.optimal[k, best, CONTINUE] == (t < r or tie), (t, "continue")
        if t < n:  # a candidate who is not the best so far is never worth taking
            assert sol.optimal[k, other].tolist() == [False, True], (t, "b = 0")


@pytest.mark.parametrize("n", [1, 4, 10])
def test_secretary_threshold_rule_value_by_evaluation(n):
    """Evaluating the threshold rule as a per-step policy gives the published value."""
    mdp = ex.secretary(n)
    r = SECRETARY_THRESHOLD[n]
    pi = np.zeros((n, mdp.n_states, 2))
    pi[..., CONTINUE] = 1.0
    for t in range(r, n + 1):
        pi[:, ex.secretary_state(n, t, True)] = [1.0, 0.0]
    V = evaluate(mdp, pi)
    s11 = ex.secretary_state(n, 1, True)
    assert abs(V[0, s11] - float(SECRETARY_VALUE[n])) <= 1e-12


def test_secretary_model():
    mdp = ex.secretary(3)
    assert (mdp.n_states, mdp.n_actions, mdp.horizon, mdp.gamma) == (7, 2, 3, 1.0)
    P, R, gamma, mu0 = mdp.exact_arrays()
    s = ex.secretary_state(3, 2, False)
    assert P[s, CONTINUE, ex.secretary_state(3, 3, True)] == Fraction(1, 3)  # exact
    assert P[s, CONTINUE, ex.secretary_state(3, 3, False)] == Fraction(2, 3)  # exact
    assert R[ex.secretary_state(3, 2, True), STOP] == Fraction(2, 3)  # exact
    assert mu0[ex.secretary_state(3, 1, True)] == 1 and sum(mu0) == 1  # exact
    with pytest.raises(ValueError):
        ex.secretary_state(3, 4, True)


# ---- the chain --------------------------------------------------------------------------
CHAINS = [(1, 0.5), (4, 0.5), (6, 0.9), (10, 0.95), (3, 0.0)]


def chain_vstar(n, gamma):
    return np.array([gamma ** (n - 1 - s) / (1 - gamma) for s in range(n)])


@pytest.mark.parametrize("method", INFINITE)
@pytest.mark.parametrize("n,gamma", CHAINS)
def test_chain_closed_form(n, gamma, method):
    g = to_fraction(gamma) if method == "exact" else gamma
    sol = solve(ex.chain_mdp(n, g), method=method)
    assert_exact(sol, method)
    V = chain_vstar(n, gamma)
    np.testing.assert_allclose(as_float(sol.V), V, rtol=0, atol=1e-9)
    left = gamma * V[np.maximum(np.arange(n) - 1, 0)]
    np.testing.assert_allclose(as_float(sol.Q[:, 0]), left, rtol=0, atol=1e-9)
    if gamma > 0:
        assert sol.optimal[:, 1].all() and not sol.optimal[:, 0].any()
    if method == "exact":
        exact = [g ** (n - 1 - s) / (1 - g) for s in range(n)]
        assert list(sol.V) == exact  # tolerance: exact


@pytest.mark.parametrize("gamma", [1.0, 1.5])
def test_chain_needs_discounting(gamma):
    with pytest.raises(ValueError, match=r"gamma in \[0, 1\)"):
        ex.chain_mdp(3, gamma)
