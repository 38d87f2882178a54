"""Independent solvers agree, and each result carries a certificate that holds.

Oracles, layered: every method against every other (tolerance 1e-8 on V); the greedy
policy's exactly evaluated value against V*; Bellman residual and duality gap.
"""

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st

from mesabase.theory import (
    InvalidMDP,
    TabularMDP,
    evaluate,
    occupancy,
    solve,
    value_iteration,
)
from mesabase.theory.solvers.iteration import mdp_rounding
from mesabase.theory.strategies import mdps

FLOAT_METHODS = ("vi", "pi", "lp", "cvxpy", "auto")
AGREE = 1e-8  # tolerance for method-vs-method agreement on V
TOL = 1e-10  # solve()'s default tol


def _rounding_allowance(mdp, V):
    """What floating point adds to a span-stopped bound (theory.solvers): 3 E_Q/(1 − γρ̄)."""
    rd = mdp_rounding(mdp)
    return 3.0 * rd.q_error(np.abs(V).max()) / rd.one_minus_beta()


def _gap(sol):
    """Smallest gap between the best and a strictly worse action (inf if all tie)."""
    Q = np.asarray(sol.Q, dtype=float)
    best = Q.max(axis=-1, keepdims=True)
    worse = np.where(best - Q > 1e-6, best - Q, np.inf)
    return float(worse.min())


@given(mdps(n_states=st.integers(1, 5), n_actions=st.integers(1, 3), rational=True))
def test_all_methods_agree(mdp):
    exact = solve(mdp, "exact")
    V_exact = np.asarray(exact.V, dtype=float)
    for method in FLOAT_METHODS:
        sol = solve(mdp, method)
        np.testing.assert_allclose(sol.V, V_exact, atol=AGREE, rtol=0, err_msg=method)
        # the greedy policy is optimal: its exact value is V*
        np.testing.assert_allclose(evaluate(mdp, sol.greedy), V_exact, atol=AGREE, rtol=0,
                                   err_msg=method)
        # the optimal sets agree (exact ties are within tol of each other in floats)
        np.testing.assert_array_equal(sol.optimal, exact.optimal, err_msg=method)
        assert sol.residual <= sol.tol, method
        if method in ("lp", "cvxpy"):
            assert sol.gap is not None and sol.gap <= 1e-8, method


@given(mdps(n_states=st.integers(1, 5), n_actions=st.integers(1, 3),
            gamma=st.sampled_from([0.0, 0.5, 0.9, 0.99])))
def test_certificates(mdp):
    for method in ("vi", "pi", "auto"):
        sol = solve(mdp, method)
        assert sol.residual <= TOL
        assert sol.error_bound <= TOL + _rounding_allowance(mdp, sol.V)
        assert sol.tol >= TOL  # the set's width: tol plus the certified error of Q
        # policy is uniform over the optimal set
        np.testing.assert_allclose(sol.policy.sum(axis=1), 1.0, atol=1e-12)
        assert np.all((sol.policy > 0) == sol.optimal)
        assert sol.optimal[np.arange(mdp.n_states), sol.actions].all()
    d = occupancy(mdp, sol.policy)
    assert d.sum() == pytest.approx(1.0 / (1.0 - mdp.gamma), abs=1e-9)


@given(mdps(n_states=st.integers(1, 4), n_actions=st.integers(1, 3),
            horizon=st.integers(1, 6), rational=True))
def test_finite_horizon_backward_equals_exact(mdp):
    sol = solve(mdp)
    assert sol.method == "backward" and sol.V.shape == (mdp.horizon + 1, mdp.n_states)
    exact = solve(mdp, "exact")
    np.testing.assert_allclose(sol.V, np.asarray(exact.V, dtype=float), atol=1e-10, rtol=0)
    np.testing.assert_array_equal(sol.optimal, exact.optimal)
    np.testing.assert_allclose(evaluate(mdp, sol.greedy), sol.V, atol=1e-10, rtol=0)
    assert occupancy(mdp, sol.policy).sum() == pytest.approx(
        sum(mdp.gamma**t for t in range(mdp.horizon)), abs=1e-9)


def _slow_chain(n=60, gamma=0.99):
    """A noisy chain (move 0.4, stay 0.3, slip back 0.3) paying at its ends: it mixes
    slowly, so value iteration needs thousands of sweeps at γ = 0.99. (A deterministic
    chain would not do: the span rule finishes it in n sweeps.)"""
    P = np.zeros((n, 2, n))
    for s in range(n):
        for a, (back, stay, fwd) in enumerate([(0.4, 0.3, 0.3), (0.3, 0.3, 0.4)]):
            P[s, a, max(s - 1, 0)] += back
            P[s, a, s] += stay
            P[s, a, min(s + 1, n - 1)] += fwd
    R = np.zeros((n, 2))
    R[n - 1, :] = 1.0
    R[0, :] = 0.05
    return TabularMDP(P, R, gamma=gamma)


@pytest.mark.parametrize("tol", [1e-2, 1e-5, 1e-10])
def test_vi_stopping_rule_bounds_error_in_v_star(tol):
    mdp = _slow_chain()
    ref = solve(mdp, "pi").V
    sol = value_iteration(mdp, tol=tol)
    assert np.max(np.abs(sol.V - ref)) <= tol
    assert sol.error_bound <= tol + _rounding_allowance(mdp, sol.V)
    assert sol.iterations > 100  # the problem is genuinely slow for VI


def test_vi_raises_when_sweeps_run_out():
    with pytest.raises(RuntimeError, match="did not reach"):
        value_iteration(_slow_chain(), tol=1e-10, max_sweeps=5)


def test_auto_switches_to_policy_iteration_on_slow_chains():
    sol = solve(_slow_chain())
    assert sol.method == "auto:pi"
    np.testing.assert_allclose(sol.V, solve(_slow_chain(), "pi").V, atol=1e-10, rtol=0)


def test_policy_iteration_keeps_current_action_on_ties():
    # two identical actions in every state: PI must stop at once with its initial policy
    P = np.zeros((3, 2, 3))
    P[:, :, 0] = 1.0
    R = np.ones((3, 2))
    sol = solve(TabularMDP(P, R, gamma=0.9), "pi")
    assert sol.iterations == 1
    assert sol.optimal.all()
    np.testing.assert_allclose(sol.policy, 0.5)


def test_sparse_matches_dense():
    rng = np.random.default_rng(7)
    S, A, k = 300, 3, 5
    rows = np.repeat(np.arange(S * A), k)
    cols = rng.integers(0, S, size=S * A * k)
    vals = rng.random(S * A * k)
    M = sp.csr_array((vals, (rows, cols)), shape=(S * A, S))
    M = sp.csr_array(M.multiply(1.0 / M.sum(axis=1)[:, None]))
    R = rng.normal(size=(S, A))
    sparse = TabularMDP(M, R, gamma=0.95)
    dense = TabularMDP(M.toarray().reshape(S, A, S), R, gamma=0.95)
    assert sparse.is_sparse and not dense.is_sparse
    ref = solve(dense, "pi")
    for method in ("vi", "pi", "auto", "lp"):
        np.testing.assert_allclose(solve(sparse, method).V, ref.V, atol=1e-8, rtol=0)
    np.testing.assert_allclose(evaluate(sparse, ref.policy), ref.V, atol=1e-8, rtol=0)
    np.testing.assert_allclose(occupancy(sparse, ref.policy), occupancy(dense, ref.policy),
                               atol=1e-9, rtol=0)


def test_gamma_zero_is_the_immediate_reward():
    rng = np.random.default_rng(0)
    P = rng.random((4, 3, 4))
    P /= P.sum(-1, keepdims=True)
    R = rng.normal(size=(4, 3))
    for method in FLOAT_METHODS:
        np.testing.assert_allclose(solve(TabularMDP(P, R, gamma=0.0), method).V, R.max(1),
                                   atol=1e-10, rtol=0)


def test_method_errors():
    mdp = _slow_chain(5)
    with pytest.raises(ValueError, match="unknown method"):
        solve(mdp, "simplex")
    with pytest.raises(ValueError, match="tol must be positive"):
        solve(mdp, tol=0)
    with pytest.raises(ValueError, match="finite horizon"):
        solve(mdp, "backward")
    fh = TabularMDP(mdp.P, mdp.R, gamma=1.0, horizon=3)
    for method in ("vi", "pi", "lp", "cvxpy"):
        with pytest.raises(ValueError, match="use 'backward'"):
            solve(fh, method)
    assert issubclass(InvalidMDP, ValueError)
