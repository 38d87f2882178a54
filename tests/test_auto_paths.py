"""The paths of ``solve(method="auto")`` for discounted problems: modified policy iteration
(large dense), the compiled value-iteration kernel (small dense, with numba), the numpy
value-iteration loop, and the fall-backs. Each must return V within ``tol`` of V* (policy
iteration's V, exact up to rounding) with ``error_bound ≤ tol`` plus the certificate's
rounding term, and Q = R + γ P V."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesabase.theory import TabularMDP, solve, value_iteration
from mesabase.theory.solvers import iteration as solvers
from mesabase.theory.solvers import kernels
from mesabase.theory.solvers.iteration import _vi_sweeps, mdp_rounding
from mesabase.theory.solvers.mpi import modified_policy_iteration

TOL = 1e-8  # the tol passed to the solvers: ‖V − V*‖∞ must be below it
Q_EXACT = 1e-12  # ‖Q − (R + γ P V)‖∞ relative to 1 + |Q|: rounding only


def _random(seed, S, A, gamma):
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S)) ** 4  # skewed rows: mixes fast, but not in one step
    P /= P.sum(axis=-1, keepdims=True)
    return TabularMDP(P, rng.uniform(-1, 1, (S, A)), gamma=gamma)


def _check(sol, mdp, tol=TOL):
    ref = solve(mdp, "pi").V
    assert np.max(np.abs(sol.V - ref)) <= tol
    rd = mdp_rounding(mdp)  # what floating point adds to the span bound: 3 E_Q/(1 − γρ̄)
    assert sol.error_bound <= tol + 3.0 * rd.q_error(np.abs(sol.V).max()) / rd.one_minus_beta()
    Q = mdp.R + mdp.gamma * (mdp.P @ sol.V)
    np.testing.assert_allclose(sol.Q, Q, rtol=0, atol=Q_EXACT * (1 + np.abs(Q).max()))
    assert sol.residual <= (1 - mdp.gamma) * tol + 1e-12


@given(seed=st.integers(0, 2**32 - 1), S=st.integers(190, 230), A=st.integers(6, 8),
       gamma=st.sampled_from([0.5, 0.9, 0.99]))
@settings(max_examples=15)
def test_auto_uses_modified_policy_iteration_on_large_dense_problems(seed, S, A, gamma):
    assert S * S * A > kernels.SMALL_SIZE and A >= solvers.MPI_MIN_ACTIONS
    mdp = _random(seed, S, A, gamma)
    sol = solve(mdp, "auto", TOL)
    assert sol.method == "auto:mpi"
    assert sol.iterations <= solvers.MPI_PASSES
    _check(sol, mdp)


def test_modified_policy_iteration_bound_and_passes():
    mdp = _random(0, 300, 4, 0.99)
    V, Q, actions, passes, bound, ok = modified_policy_iteration(mdp, 1e-9)
    assert ok and bound <= 1e-9 and passes <= 3
    assert np.max(np.abs(V - solve(mdp, "pi").V)) <= 1e-9
    # the greedy policy of Q is optimal: its value is V*
    assert np.array_equal(np.argmax(Q, axis=1), solve(mdp, "pi").actions)


def test_modified_policy_iteration_keeps_the_current_action_on_exact_ties():
    P = np.zeros((200, 3, 200))
    P[:, :, 0] = 1.0
    mdp = TabularMDP(P, np.ones((200, 3)), gamma=0.9)  # every action ties everywhere
    V, Q, actions, passes, bound, ok = modified_policy_iteration(mdp, 1e-10)
    assert ok and passes == 1 and (actions == 0).all()
    np.testing.assert_allclose(V, 10.0, rtol=0, atol=1e-10)


def test_modified_policy_iteration_rejects_what_it_does_not_solve():
    P = np.ones((2, 1, 2)) / 2
    with pytest.raises(ValueError, match="gamma"):
        modified_policy_iteration(TabularMDP(P, np.zeros((2, 1)), gamma=0.0), 1e-8)


def _slow_chain(n, gamma=0.99, n_actions=2):
    """Noisy chain (see test_solvers): policies mix slowly, so MPI's passes run out.
    Actions beyond the first two repeat them (a, a mod 2)."""
    P = np.zeros((n, n_actions, n))
    moves = [(0.4, 0.3, 0.3), (0.3, 0.3, 0.4)]
    for s in range(n):
        for a in range(n_actions):
            back, stay, fwd = moves[a % 2]
            P[s, a, max(s - 1, 0)] += back
            P[s, a, s] += stay
            P[s, a, min(s + 1, n - 1)] += fwd
    R = np.zeros((n, n_actions))
    R[n - 1, :] = 1.0
    R[0, :] = 0.05
    return TabularMDP(P, R, gamma=gamma)


def test_auto_goes_on_by_value_iteration_when_mpi_passes_run_out(monkeypatch):
    monkeypatch.setattr(kernels, "_kernel", False)  # the numpy path, whatever is installed
    mdp = _slow_chain(100, n_actions=solvers.MPI_MIN_ACTIONS)  # S·A·S = 60,000
    V, *_, ok = modified_policy_iteration(mdp, TOL, max_passes=solvers.MPI_PASSES,
                                          eval_budget=solvers.MPI_EVAL_BUDGET)
    assert not ok
    sol = solve(mdp, "auto", TOL)
    assert sol.method in ("auto:vi", "auto:pi")
    assert sol.iterations > solvers.MPI_PASSES
    _check(sol, mdp)


@pytest.mark.parametrize("S,A,gamma", [(5, 2, 0.9), (30, 3, 0.99), (100, 16, 0.95)])
def test_compiled_kernel_matches_the_numpy_loop(monkeypatch, S, A, gamma):
    pytest.importorskip("numba")
    mdp = _random(S * A, S, A, gamma)
    assert S * S * A <= kernels.SMALL_SIZE
    fast = kernels.vi_small(mdp.P_matrix, mdp.R, gamma, np.zeros(S), TOL, 100_000)
    monkeypatch.setattr(kernels, "_kernel", False)
    slow = _vi_sweeps(mdp, np.zeros(S), TOL, 100_000)
    assert fast[2] == slow[2] and fast[4] and slow[4]  # same number of sweeps, converged
    # the same iteration up to the order of summation in each row's dot product
    np.testing.assert_allclose(fast[0], slow[0], rtol=0, atol=1e-11)
    np.testing.assert_allclose(fast[1], slow[1], rtol=0, atol=1e-11)
    assert abs(fast[3] - slow[3]) <= 1e-11 / (1 - gamma)


def test_compiled_kernel_path_of_solve():
    pytest.importorskip("numba")
    mdp = _slow_chain(60)
    sol = value_iteration(mdp, TOL)
    _check(sol, mdp)
    assert solve(mdp, "auto", TOL).method == "auto:vi"


def test_vi_small_without_numba_returns_none(monkeypatch):
    monkeypatch.setattr(kernels, "_kernel", False)
    assert not kernels.available()
    P = np.ones((2, 1, 2)) / 2
    assert kernels.vi_small(P.reshape(2, 2), np.zeros((2, 1)), 0.5, np.zeros(2), 1e-8, 10) is None
    sol = solve(TabularMDP(P, [[1.0], [0.0]], gamma=0.5), "vi", TOL)
    np.testing.assert_allclose(sol.V, [1.0 + 0.5 * 1.0, 0.5], rtol=0, atol=TOL)


@pytest.mark.parametrize("use_numba", [True, False])
def test_every_auto_path_on_one_problem(monkeypatch, use_numba):
    if use_numba:
        pytest.importorskip("numba")
    else:
        monkeypatch.setattr(kernels, "_kernel", False)
    for S, A in [(8, 2), (60, 4), (120, 4), (90, 6)]:
        mdp = _random(7, S, A, 0.95)
        _check(solve(mdp, "auto", TOL), mdp)
        _check(solve(mdp, "vi", TOL), mdp)


def test_auto_keeps_value_iteration_for_few_actions(monkeypatch):
    monkeypatch.setattr(kernels, "_kernel", False)
    mdp = _random(3, 150, 4, 0.95)  # large, but A = 4 < MPI_MIN_ACTIONS: MPI would not pay
    sol = solve(mdp, "auto", TOL)
    assert sol.method == "auto:vi"
    _check(sol, mdp)
