"""The Bayes-adaptive Bernoulli bandit (mesabase.theory.bandits): hand values, an independent
brute-force expectimax over outcome sequences, float = exact, the belief MDP = the table,
the ranking, bounds, the dependent family, and every ValueError.

Tolerances: Fractions are compared with ==; floats against exact values to 1e-12
(absolute, values ≤ H ≤ 8); the belief MDP solved by ``solve(…, "backward")`` to 1e-10.
"""

import itertools
from fractions import Fraction
from math import comb, factorial

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesabase.theory import TabularMDP, solve
from mesabase.theory.bandits.bayes import (
    MAX_STATES,
    BayesBandit,
    bayes_optimal_bandit,
    bayes_optimal_dependent,
    belief_mdp,
    belief_states,
    n_belief_states,
)


# ---- an independent oracle: expectimax over outcome sequences, posteriors by integration ----
def _beta_integral(i: int, j: int) -> Fraction:
    """∫₀¹ pⁱ (1 − p)ʲ dp = i! j! / (i + j + 1)!  (integers i, j ≥ 0)."""
    return Fraction(factorial(i) * factorial(j), factorial(i + j + 1))


def _predictive(prior_ab, ones: int, zeros: int) -> Fraction:
    """P(next = 1) for a Beta(α, β) (integer) parameter seen `ones` times as p and `zeros`
    times as 1 − p: the ratio of two integrals of the likelihood times the prior density."""
    a, b = prior_ab
    num = _beta_integral(a - 1 + ones + 1, b - 1 + zeros)
    return num / _beta_integral(a - 1 + ones, b - 1 + zeros)


def _brute(K, H, prior, history=(), family="independent"):
    """max over arms of E[r + value of the longer history]; history = ((arm, reward), …)."""
    if len(history) == H:
        return Fraction(0)
    best = None
    for k in range(K):
        if family == "independent":
            ones = sum(1 for a, r in history if a == k and r == 1)
            zeros = sum(1 for a, r in history if a == k and r == 0)
            p1 = _predictive(prior[k], ones, zeros)
        else:  # p₂ = 1 − p₁: a success of arm 2 is a "zero" of p₁
            ones = sum(1 for a, r in history if (a, r) in ((0, 1), (1, 0)))
            zeros = len(history) - ones
            q = _predictive(prior[0], ones, zeros)  # P(p₁-event)
            p1 = q if k == 0 else 1 - q
        v = (p1 * (1 + _brute(K, H, prior, history + ((k, 1),), family))
             + (1 - p1) * _brute(K, H, prior, history + ((k, 0),), family))
        best = v if best is None else max(best, v)
    return best


# ---- hand-computed values (module docstring) ------------------------------------------------
@pytest.mark.parametrize("H, expected", [(0, Fraction(0)), (1, Fraction(1, 2)),
                                         (2, Fraction(13, 12)), (3, Fraction(5, 3))])
def test_hand_values_two_uniform_arms(H, expected):
    b = bayes_optimal_bandit(2, H, exact=True)
    assert b.value == expected and isinstance(b.value, Fraction)
    assert abs(bayes_optimal_bandit(2, H).value - float(expected)) <= 1e-12


def test_hand_values_h2_policy():
    """H = 2: stay on a success (2/3 > 1/2), switch after a failure (1/2 > 1/3)."""
    b = bayes_optimal_bandit(2, 2, exact=True)
    assert b.optimal[b.index([[0, 0], [0, 0]])].tolist() == [True, True]
    assert b.optimal[b.index([[1, 0], [0, 0]])].tolist() == [True, False]
    assert b.optimal[b.index([[0, 1], [0, 0]])].tolist() == [False, True]
    assert b.Q[b.index([[1, 0], [0, 0]])].tolist() == [Fraction(2, 3), Fraction(1, 2)]


# ---- brute force ---------------------------------------------------------------------------
CASES = [(1, 5, (1, 1)), (1, 4, (2, 3)), (2, 4, (1, 1)), (2, 3, (2, 1)),
         (2, 4, ((1, 3), (2, 2))), (3, 3, (1, 1)), (3, 3, ((3, 1), (1, 1), (1, 2))),
         (2, 5, (1, 2))]


@pytest.mark.parametrize("K, H, prior", CASES)
def test_matches_brute_force_expectimax(K, H, prior):
    per_arm = np.broadcast_to(np.array(prior, dtype=object), (K, 2)).tolist()
    expected = _brute(K, H, per_arm)
    exact = bayes_optimal_bandit(K, H, prior=prior, exact=True)
    assert exact.value == expected
    assert abs(bayes_optimal_bandit(K, H, prior=prior).value - float(expected)) <= 1e-12


def test_brute_force_at_a_non_empty_belief():
    """V at the counts c equals the brute force started from a history with those counts."""
    b = bayes_optimal_bandit(2, 4, exact=True)
    c = np.array([[1, 0], [0, 1]])
    hist = ((0, 1), (1, 0))
    # the oracle counts the history, so its horizon is the total H = 4
    assert b.V[b.index(c)] == _brute(2, 4, [[1, 1], [1, 1]], hist)


@pytest.mark.parametrize("H, prior", [(3, (1, 1)), (4, (2, 1)), (4, (1, 3))])
def test_dependent_matches_brute_force(H, prior):
    expected = _brute(2, H, [list(prior), list(prior[::-1])], family="dependent")
    b = bayes_optimal_dependent(H, prior=prior, exact=True)
    assert b.value == expected and b.family == "dependent"
    assert abs(bayes_optimal_dependent(H, prior=prior).value - float(expected)) <= 1e-12


def test_dependent_hand_value_and_symmetry():
    assert bayes_optimal_dependent(2, exact=True).value == Fraction(7, 6)
    # prior (α, β) and (β, α) are the same problem with the arms swapped
    a = bayes_optimal_dependent(5, prior=(2, 1), exact=True)
    b = bayes_optimal_dependent(5, prior=(1, 2), exact=True)
    assert a.value == b.value
    swapped = a.states[:, ::-1]
    assert (b.V[b.index(swapped)] == a.V).all()
    assert (b.Q[b.index(swapped)][:, ::-1] == a.Q).all()
    u = bayes_optimal_dependent(4, exact=True)
    assert u.Q[0, 0] == u.Q[0, 1]
    np.testing.assert_array_equal(u.prior, [[1, 1], [1, 1]])
    np.testing.assert_array_equal(bayes_optimal_dependent(2, prior=(2, 5)).prior,
                                  [[2, 5], [5, 2]])


# ---- float = exact; the belief MDP ---------------------------------------------------------
@pytest.mark.parametrize("K, H, prior", [(2, 6, (1, 1)), (3, 4, ((1, 2), (2, 1), (1, 1))),
                                         (2, 5, (0.5, 0.5))])
def test_float_agrees_with_exact(K, H, prior):
    f = bayes_optimal_bandit(K, H, prior=prior)
    e = bayes_optimal_bandit(K, H, prior=prior, exact=True)
    np.testing.assert_allclose(f.V, e.V.astype(float), rtol=0, atol=1e-12)
    np.testing.assert_allclose(f.Q, e.Q.astype(float), rtol=0, atol=1e-12)
    np.testing.assert_array_equal(f.optimal, e.optimal)
    np.testing.assert_array_equal(f.policy, e.policy)
    assert f.V.dtype == np.float64 and e.V.dtype == object and e.prior.dtype == object


def test_exact_reads_float_priors_as_decimals():
    e = bayes_optimal_bandit(1, 2, prior=(0.5, 1.5), exact=True)
    assert e.prior[0, 0] == Fraction(1, 2) and e.prior[0, 1] == Fraction(3, 2)
    assert e.value == Fraction(1, 2)  # H·α/(α + β) = 2 · (1/2)/2


@pytest.mark.parametrize("K, H, prior, family", [(2, 5, (1, 1), "independent"),
                                                 (3, 3, (2, 1), "independent"),
                                                 (1, 6, (1, 4), "independent"),
                                                 (2, 5, (2, 1), "dependent")])
def test_belief_mdp_backward_equals_table(K, H, prior, family):
    mdp = belief_mdp(K, H, prior, family=family)
    assert isinstance(mdp, TabularMDP) and mdp.horizon == H and mdp.gamma == 1.0
    assert mdp.n_states == n_belief_states(K, H) and mdp.n_actions == K
    sol = solve(mdp, "backward")
    table = (bayes_optimal_bandit(K, H, prior) if family == "independent"
             else bayes_optimal_dependent(H, prior))
    t = table.states.sum(axis=(1, 2))
    s = np.arange(len(t))
    live = t < H
    np.testing.assert_allclose(sol.V[t, s], table.V, rtol=0, atol=1e-10)
    np.testing.assert_allclose(sol.Q[t[live], s[live]], table.Q[live], rtol=0, atol=1e-10)
    assert abs(float(mdp.mu0 @ sol.V[0]) - table.value) <= 1e-10


def test_belief_mdp_exact_solve():
    mdp = belief_mdp(2, 3, exact=True)
    assert mdp.is_exact
    sol = solve(mdp, "exact")
    assert sol.V[0][0] == Fraction(5, 3)
    dep = solve(belief_mdp(2, 3, (2, 1), family="dependent", exact=True), "exact")
    assert dep.V[0][0] == bayes_optimal_dependent(3, (2, 1), exact=True).value


# ---- the table and its ranking -------------------------------------------------------------
@pytest.mark.parametrize("K, H", [(1, 0), (1, 4), (2, 3), (3, 2)])
def test_belief_states_order(K, H):
    s = belief_states(K, H)
    assert s.shape == (comb(H + 2 * K, 2 * K), K, 2) and s.dtype == np.int64
    flat = [tuple(v) for v in s.reshape(len(s), -1).tolist()]
    expected = sorted((v for v in itertools.product(range(H + 1), repeat=2 * K)
                       if sum(v) <= H), key=lambda v: (sum(v), v))
    assert flat == expected
    assert not s.flags.writeable


@pytest.mark.parametrize("K, H", [(1, 6), (2, 5), (3, 3), (4, 2)])
def test_index_round_trip(K, H):
    b = bayes_optimal_bandit(K, H)
    np.testing.assert_array_equal(b.index(b.states), np.arange(len(b.states)))
    batch = b.states[::-1].reshape(-1, 1, K, 2)  # leading axes are kept
    np.testing.assert_array_equal(b.index(batch), np.arange(len(b.states))[::-1, None])
    assert b.index(np.zeros((K, 2), dtype=np.int32)).shape == ()


@given(st.integers(1, 3), st.integers(0, 5), st.data())
def test_index_inverts_states(K, H, data):
    b = bayes_optimal_bandit(K, H)
    rows = data.draw(st.lists(st.integers(0, len(b.states) - 1), min_size=1, max_size=8))
    np.testing.assert_array_equal(b.index(b.states[rows]), rows)


def test_action_probs_and_policy():
    b = bayes_optimal_bandit(3, 4, prior=((1, 1), (2, 2), (1, 2)))
    pr = b.action_probs(b.states)
    assert pr.shape == (len(b.states), 3) and pr.dtype == np.float64
    np.testing.assert_allclose(pr.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(pr, b.policy)
    # uniform over the optimal set, zero elsewhere; the optimal set holds the argmax
    n_opt = b.optimal.sum(axis=1, keepdims=True)
    np.testing.assert_array_equal(pr, b.optimal / n_opt)
    assert (b.optimal[np.arange(len(b.Q)), b.Q.argmax(axis=1)]).all()
    np.testing.assert_array_equal(b.V, b.Q.max(axis=1))
    # terminal layer: nothing left to earn, every arm optimal
    term = b.states.sum(axis=(1, 2)) == 4
    assert (b.Q[term] == 0).all() and b.optimal[term].all()
    for a in (b.V, b.Q, b.optimal, b.policy, b.prior):
        assert not a.flags.writeable
    assert isinstance(b, BayesBandit) and "n_states=" in repr(b)


def test_bellman_equation_holds_in_the_table():
    """Q(c, k) = mₖ (1 + V(c + e_{k,s})) + (1 − mₖ) V(c + e_{k,f}), checked state by state."""
    b = bayes_optimal_bandit(2, 4, prior=((2, 1), (1, 3)), exact=True)
    for i, c in enumerate(b.states):
        if c.sum() == 4:
            continue
        for k in range(2):
            a, bb = b.prior[k, 0] + int(c[k, 0]), b.prior[k, 1] + int(c[k, 1])
            m = a / (a + bb)
            cs, cf = c.copy(), c.copy()
            cs[k, 0] += 1
            cf[k, 1] += 1
            assert b.Q[i, k] == m * (1 + b.V[b.index(cs)]) + (1 - m) * b.V[b.index(cf)]


# ---- closed forms and bounds ---------------------------------------------------------------
@pytest.mark.parametrize("H, prior", [(0, (1, 1)), (1, (1, 1)), (5, (2, 3)), (7, (1, 4))])
def test_one_arm_value_is_h_times_the_mean(H, prior):
    a, b = prior
    assert bayes_optimal_bandit(1, H, prior, exact=True).value == H * Fraction(a, a + b)


def test_value_bounds_and_monotone_in_h():
    """H/2 ≤ V*_H ≤ H·E[max(p₁, p₂)] = 2H/3 (uniform priors), and V*_H is increasing."""
    vals = [bayes_optimal_bandit(2, H, exact=True).value for H in range(8)]
    for H, v in enumerate(vals):
        assert Fraction(H, 2) <= v <= Fraction(2 * H, 3)
        if H >= 2:
            assert Fraction(H, 2) < v < Fraction(2 * H, 3)
    assert all(v1 > v0 for v0, v1 in zip(vals, vals[1:], strict=False))
    # the per-step gain V*_{H+1} − V*_H lies in [1/2, 2/3] as well
    assert all(Fraction(1, 2) <= v1 - v0 <= Fraction(2, 3)
               for v0, v1 in zip(vals, vals[1:], strict=False))


@pytest.mark.parametrize("prior", [((1, 3), (2, 2)), ((5, 1), (1, 1), (1, 1))])
def test_value_at_least_best_fixed_arm(prior):
    K, H = len(prior), 4
    best = max(Fraction(a, a + b) for a, b in prior)
    assert bayes_optimal_bandit(K, H, prior, exact=True).value >= H * best


def test_more_arms_never_hurt():
    vals = [bayes_optimal_bandit(K, 4, exact=True).value for K in (1, 2, 3)]
    assert vals[0] < vals[1] < vals[2]


# ---- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    (dict(n_arms=0, horizon=2), "n_arms"), (dict(n_arms=1.5, horizon=2), "n_arms"),
    (dict(n_arms=True, horizon=2), "n_arms"), (dict(n_arms=2, horizon=-1), "horizon"),
    (dict(n_arms=2, horizon=2.0), "horizon"),
    (dict(n_arms=2, horizon=2, prior=(1, 1, 1)), "shape"),
    (dict(n_arms=2, horizon=2, prior=((1, 1),) * 3), "shape"),
    (dict(n_arms=2, horizon=2, prior=(0, 1)), r"prior\[0, 0\].*alpha"),
    (dict(n_arms=2, horizon=2, prior=(1, -2)), r"prior\[0, 1\].*beta"),
    (dict(n_arms=2, horizon=2, prior=((1, 1), (1, np.nan))), r"prior\[1, 1\]"),
    (dict(n_arms=2, horizon=2, prior=(np.inf, 1)), "finite"),
    (dict(n_arms=2, horizon=2, prior=("a", 1)), "numeric"),
    (dict(n_arms=2, horizon=2, exact=1), "exact"),
    (dict(n_arms=3, horizon=40, tables=True), "MAX_STATES"),
])
def test_bayes_optimal_bandit_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bayes_optimal_bandit(**kwargs)


def test_size_limit_is_checked_before_building():
    assert n_belief_states(3, 40) > MAX_STATES >= n_belief_states(2, 60)
    with pytest.raises(ValueError, match="MAX_STATES"):
        belief_states(3, 40)
    with pytest.raises(ValueError, match="MAX_STATES"):
        belief_mdp(3, 40)
    with pytest.raises(ValueError, match="horizon"):
        n_belief_states(2, -3)


@pytest.mark.parametrize("call, match", [
    (lambda: bayes_optimal_dependent(-1), "horizon"),
    (lambda: bayes_optimal_dependent(2, prior=((1, 1), (1, 1))), "shape"),
    (lambda: bayes_optimal_dependent(2, prior=(1, 0)), "beta"),
    (lambda: bayes_optimal_dependent(2, exact="yes"), "exact"),
    (lambda: belief_mdp(2, 0), "horizon"),
    (lambda: belief_mdp(2, 2, family="other"), "family"),
    (lambda: belief_mdp(3, 2, family="dependent"), "n_arms"),
    (lambda: belief_mdp(2, 2, exact=None), "exact"),
    (lambda: belief_mdp(0, 2), "n_arms"),
    (lambda: belief_states(0, 2), "n_arms"),
])
def test_other_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()


@pytest.mark.parametrize("counts, match", [
    (np.zeros((3, 2), dtype=int), "shape"), (np.zeros(4, dtype=int), "shape"),
    (np.zeros((2, 2)), "integers"), (np.array([[1, -1], [0, 0]]), ">= 0"),
    (np.array([[2, 1], [0, 1]]), "exceeds the horizon"),
])
def test_index_errors(counts, match):
    b = bayes_optimal_bandit(2, 3)
    with pytest.raises(ValueError, match=match):
        b.index(counts)
    with pytest.raises(ValueError, match=match):
        b.action_probs(counts)


def test_result_unpacks_as_value_and_policy():
    b = bayes_optimal_bandit(2, 2, exact=True)
    value, policy = b
    assert value == Fraction(13, 12) and value is b.value
    assert policy is b.policy and policy.shape == (len(b.states), 2)
