"""The public hypothesis strategies: what they draw, how they validate, value-or-strategy."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import find, given, settings
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

from mesabase.theory import TabularMDP, evaluate, solve
from mesabase.theory.strategies import GAMMAS, bandits, mdps, policies

FLOAT_GAMMAS = {float(g) for g in GAMMAS}


@given(mdps())
def test_default_mdps_are_small_valid_and_on_the_grid(mdp):
    S, A = mdp.n_states, mdp.n_actions
    assert 1 <= S <= 4 and 1 <= A <= 3
    assert mdp.P.shape == (S, A, S) and mdp.R.shape == (S, A)
    assert mdp.P.dtype == np.float64 and not mdp.is_exact and not mdp.is_sparse
    assert mdp.gamma in FLOAT_GAMMAS and mdp.horizon is None
    np.testing.assert_allclose(mdp.P.sum(axis=2), 1.0, rtol=0, atol=1e-12)
    assert (mdp.P >= 0).all()
    R2 = 2 * mdp.R
    np.testing.assert_array_equal(R2, np.round(R2))  # halves, exactly
    assert np.abs(mdp.R).max() <= 2
    np.testing.assert_array_equal(mdp.mu0, np.full(S, 1.0 / S))


@given(mdps(horizon=st.one_of(st.none(), st.integers(1, 3))))
def test_drawn_mdps_solve_within_the_reward_bound(mdp):
    """Well posed: |V| ≤ max|R|·H, or max|R|/(1 − γ) without a horizon."""
    scale = mdp.horizon if mdp.horizon is not None else 1.0 / (1.0 - mdp.gamma)
    V = solve(mdp).V
    assert np.abs(V).max() <= np.abs(mdp.R).max() * scale + 1e-9


@given(mdps(rational=True))
def test_rational_mdps_hold_fractions_that_sum_exactly(mdp):
    assert mdp.is_exact
    P, R, gamma, mu0 = mdp.exact_arrays()
    assert P.dtype == object and all(type(x) is Fraction for x in P.flat)
    assert all(type(x) is Fraction for x in R.flat) and type(gamma) is Fraction
    assert gamma in GAMMAS
    assert all(sum(P[s, a]) == 1 for s in range(mdp.n_states) for a in range(mdp.n_actions))
    assert all(x.denominator in (1, 2) for x in R.flat)


@given(mdps(rational=True, n_states=st.integers(1, 3), n_actions=st.integers(1, 2)))
@settings(max_examples=15)
def test_rational_mdps_solve_exactly(mdp):
    pytest.importorskip("mesabase.theory.solvers.exact")
    exact = solve(mdp, method="exact")
    assert all(type(v) is Fraction for v in np.ravel(exact.V))
    np.testing.assert_allclose(np.asarray(exact.V, dtype=float), solve(mdp).V, rtol=0, atol=1e-8)


@given(mdps(mu0="random"))
def test_random_mu0_is_a_distribution(mdp):
    assert (mdp.mu0 >= 0).all()
    assert mdp.mu0.sum() == pytest.approx(1.0, abs=1e-12)


@given(mdps(rational=True, mu0="random"))
@settings(max_examples=5)
def test_random_mu0_is_exact_when_rational(mdp):
    mu0 = mdp.exact_arrays()[3]
    assert all(type(x) is Fraction for x in mu0) and sum(mu0) == 1


@given(mdps(n_states=3, n_actions=2, gamma=0.5, horizon=4))
def test_values_are_accepted(m):
    assert (m.n_states, m.n_actions, m.gamma, m.horizon) == (3, 2, 0.5, 4)


@given(mdps(n_states=st.sampled_from([2, 5]), gamma=st.just(Fraction(1, 3)),
            horizon=st.just(2), reward_range=st.just((3, 3))))
def test_strategies_are_accepted(m):
    assert m.n_states in (2, 5) and m.gamma == 1 / 3 and m.horizon == 2
    np.testing.assert_array_equal(m.R, 3.0)


def test_strategy_arguments_vary():
    """A strategy argument is drawn afresh: both values of ``rational`` occur."""
    seen = set()

    @given(mdps(rational=st.booleans(), n_states=1, n_actions=1))
    @settings(max_examples=20, derandomize=True, database=None)
    def record(m):
        seen.add(m.is_exact)

    record()
    assert seen == {True, False}


def test_shrinks_to_the_simplest_mdp():
    m = find(mdps(), lambda m: True, settings=settings(database=None))
    assert (m.n_states, m.n_actions, m.gamma, m.horizon) == (1, 1, 0.0, None)
    assert m.P.tolist() == [[[1.0]]] and m.R.tolist() == [[0.0]]


@given(mdps(gamma=1, horizon=3))
def test_gamma_one_allowed_with_a_horizon(m):
    assert m.gamma == 1.0 and m.horizon == 3


@given(bandits())
def test_bandits_are_one_state_one_step(b):
    assert isinstance(b, TabularMDP)
    assert b.n_states == 1 and 2 <= b.n_actions <= 5
    assert b.horizon == 1 and b.gamma == 1.0
    np.testing.assert_array_equal(b.P, 1.0)
    assert b.R.shape == (1, b.n_actions)
    assert solve(b).V[0, 0] == b.R.max()


@given(bandits(n_arms=7, rational=st.just(True), reward_range=(0, 1)))
def test_bandit_arguments(b):
    assert b.n_actions == 7 and b.is_exact
    assert set(b.R.ravel().tolist()) <= {0.0, 0.5, 1.0}


@given(policies(n_states=st.integers(1, 4), n_actions=3))
def test_policies_are_row_stochastic(pi):
    assert pi.dtype == np.float64 and pi.shape[1] == 3 and 1 <= pi.shape[0] <= 4
    assert (pi >= 0).all()
    np.testing.assert_allclose(pi.sum(axis=1), 1.0, rtol=0, atol=1e-12)


@given(policies(n_states=4, n_actions=st.integers(1, 3), deterministic=st.just(True)))
def test_deterministic_policies_are_one_hot(pi):
    assert pi.shape[0] == 4
    assert set(np.unique(pi).tolist()) <= {0.0, 1.0}
    np.testing.assert_array_equal(pi.sum(axis=1), 1.0)  # exactly one 1.0 per row


@given(mdps().flatmap(lambda m: st.tuples(st.just(m), policies(m))))
def test_policies_of_a_drawn_mdp_evaluate(pair):
    mdp, pi = pair
    assert pi.shape == (mdp.n_states, mdp.n_actions)
    V = evaluate(mdp, pi)
    assert np.abs(V).max() <= np.abs(mdp.R).max() / (1 - mdp.gamma) + 1e-9


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: mdps(n_states=0), "n_states must be an integer >= 1; got 0"),
        (lambda: mdps(n_actions=-1), "n_actions must be an integer >= 1"),
        (lambda: mdps(n_states=True), "n_states"),
        (lambda: mdps(n_states=2.0), "n_states"),
        (lambda: mdps(gamma=1.5), r"gamma must be a number in \[0, 1\]"),
        (lambda: mdps(gamma=1), "gamma = 1 needs a finite horizon"),
        (lambda: mdps(horizon=0), "horizon"),
        (lambda: mdps(rational="yes"), "rational must be True or False"),
        (lambda: mdps(reward_range=(2, -2)), "low > high"),
        (lambda: mdps(reward_range=(0.1, 0.4)), "no multiple of 1/2"),
        (lambda: mdps(reward_range=[0, 1]), "tuple"),
        (lambda: mdps(mu0="dirichlet"), "mu0 must be one of"),
        (lambda: bandits(n_arms=0), "n_arms"),
        (lambda: policies(), "give an mdp, or both"),
        (lambda: policies(n_states=2), "give an mdp, or both"),
        (lambda: policies(TabularMDP([[[1.0]]], [[0.0]], gamma=0.5), n_states=1), "not both"),
        (lambda: policies(mdps()), "mdps\\(\\).flatmap\\(policies\\)"),
        (lambda: policies(n_states=2, n_actions=2, deterministic=1), "deterministic"),
    ],
)
def test_bad_values_are_rejected_at_call_time(make, match):
    with pytest.raises(InvalidArgument, match=match):
        make()


@pytest.mark.parametrize(
    "strategy, match",
    [
        (mdps(n_states=st.just(0)), r"n_states \(drawn\)"),
        (mdps(gamma=st.just(1.0)), "gamma = 1 .drawn. needs a finite horizon"),
        (policies(n_states=2, n_actions=st.just(-1)), r"n_actions \(drawn\)"),
        (bandits(reward_range=st.just((1, 0))), "low > high"),
    ],
)
def test_bad_drawn_values_are_rejected_at_draw_time(strategy, match):
    @given(strategy)
    @settings(max_examples=1, database=None)
    def draw(x):
        pass

    with pytest.raises(InvalidArgument, match=match):
        draw()


@given(policies(3, 2))
def test_policies_takes_sizes_positionally(pi):
    assert pi.shape == (3, 2)
    np.testing.assert_allclose(pi.sum(axis=1), 1.0, atol=1e-12)
