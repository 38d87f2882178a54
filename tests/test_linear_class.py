"""The optimum over the linear-softmax class (mesabase.theory.solvers.linear_class)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesabase.theory import (
    ClassSolution,
    History,
    InvalidMDP,
    LinearClass,
    TabularMDP,
    class_optimal,
    expected_returns,
    history_optimal,
    solve,
)
from mesabase.theory.solvers.linear_class import limit_policy, softmax_policy
from mesabase.theory.strategies import mdps

FAST = settings(max_examples=30, derandomize=True, database=None, deadline=None)
GAMMAS = st.sampled_from([0.0, 0.5, 0.9])


def _features(seed, S, A, d):
    return np.random.default_rng(seed).integers(-2, 3, size=(S, A, d)).astype(float)


def _one_hot(S, A):
    return np.eye(S * A).reshape(S, A, S * A)


def _aliased(R):
    """Two states with the same features: a0 goes to s1, a1 to s0 (from either state)."""
    P = np.zeros((2, 2, 2))
    P[:, 0, 1] = 1
    P[:, 1, 0] = 1
    return TabularMDP(P, R, gamma=0.9, mu0=[1.0, 0.0]), np.stack([np.eye(2), np.eye(2)])


def _sampled_thetas(seed, d, n=40):
    """Directions at several scales (finite θ) from a seeded generator."""
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(n, d))
    return [c * u for u in dirs for c in (0.1, 0.5, 2.0, 10.0, 1e3)]


@FAST
@given(mdps(n_states=st.integers(1, 3), n_actions=st.integers(1, 3), gamma=GAMMAS,
            horizon=st.sampled_from([None, None, 3])),
       st.integers(1, 3), st.integers(0, 2**16))
def test_no_sampled_theta_beats_the_value(mdp, d, seed):
    S, A = mdp.n_states, mdp.n_actions
    phi = _features(seed, S, A, d)
    sol = class_optimal(mdp, phi)
    assert sol.value <= sol.upper_bound + 1e-12
    thetas = _sampled_thetas(seed, d)
    pols = np.array([softmax_policy(phi, t) for t in thetas]
                    + [limit_policy(phi, t) for t in thetas])
    J = expected_returns(mdp, pols)
    assert J.max() <= sol.value + sol.width
    # the value is attained by a returned policy
    assert np.isclose(expected_returns(mdp, sol.policies).max(), sol.value, atol=sol.width)


@FAST
@given(st.integers(1, 4), st.integers(1, 3), st.integers(1, 3), st.integers(0, 2**16))
def test_every_policy_is_the_limit_of_its_theta(S, A, d, seed):
    phi = _features(seed, S, A, d)
    lc = LinearClass(phi)
    assert lc.policies.shape == (len(lc.thetas), S, A) and lc.thetas.shape[1] == d
    assert len(np.unique(lc.policies.reshape(len(lc.policies), -1), axis=0)) == len(lc.policies)
    assert any((p == 1.0 / A).all() for p in lc.policies)  # θ = 0: uniform
    for pol, th in zip(lc.policies, lc.thetas, strict=True):
        assert np.array_equal(limit_policy(phi, th), pol)
        assert np.allclose(softmax_policy(phi, 1e3 * th), pol, atol=1e-9)
    # the limit policy of any θ is one of the class's
    keys = {p.tobytes() for p in lc.policies}
    for th in _sampled_thetas(seed, d, n=10)[::5]:
        assert limit_policy(phi, th, atol=1e-12).tobytes() in keys


@FAST
@given(mdps(n_states=st.integers(1, 3), n_actions=st.integers(1, 3), gamma=GAMMAS,
            horizon=st.sampled_from([None, 2])), st.integers(0, 2**16))
def test_returned_values_are_exact(mdp, seed):
    phi = _features(seed, mdp.n_states, mdp.n_actions, 2)
    sol = class_optimal(mdp, phi)
    assert isinstance(sol, ClassSolution) and sol.width >= 1e-9
    J = expected_returns(mdp, sol.policies)
    assert np.allclose(J, sol.values, atol=1e-12, rtol=0)
    assert (np.abs(sol.values - sol.value) <= sol.width).all()
    if not sol.interior:
        lc = LinearClass(phi)
        allJ = lc.values(mdp)
        assert len(sol.policies) == (allJ >= allJ.max() - sol.width).sum()


@FAST
@given(mdps(n_states=st.integers(1, 4), n_actions=st.integers(1, 3), gamma=GAMMAS))
def test_one_hot_features_agree_with_solve(mdp):
    S, A = mdp.n_states, mdp.n_actions
    sol = class_optimal(mdp, _one_hot(S, A))
    ref = solve(mdp)
    assert abs(sol.value - ref.V @ mdp.mu0) <= 1e-9
    assert sol.certified and not sol.interior and sol.n_policies == (2**A - 1) ** S
    support = sol.policies > 0
    assert (support <= ref.optimal).all() and np.array_equal(support.any(axis=0), ref.optimal)
    for pol, th in zip(sol.policies, sol.thetas, strict=True):
        assert np.array_equal(limit_policy(_one_hot(S, A), th), pol)
    if (2**A - 1) ** S <= 400:  # the enumerated class gives the same value
        lc = LinearClass(_one_hot(S, A))
        assert abs(lc.optimal(mdp).value - sol.value) <= 1e-9


def test_one_hot_with_a_finite_horizon_enumerates_and_is_bounded():
    P = np.zeros((2, 2, 2))
    P[:, 0, 1] = P[:, 1, 0] = 1
    mdp = TabularMDP(P, [[0.0, 1.0], [2.0, 0.0]], gamma=1.0, horizon=4, mu0=[1.0, 0.0])
    sol = class_optimal(mdp, _one_hot(2, 2))
    assert sol.value <= sol.upper_bound and sol.n_policies == 9
    assert abs(sol.value - solve(mdp).V[0] @ mdp.mu0) <= 1e-9  # a stationary optimum here
    with pytest.raises(ValueError, match="max_policies"):
        class_optimal(mdp, _one_hot(2, 2), max_policies=5)


def test_an_aliased_problem_has_an_interior_optimum():
    mdp, phi = _aliased([[0.0, 0.0], [0.3, 1.0]])
    sol = class_optimal(mdp, phi)
    assert sol.interior and not sol.certified and sol.n_policies == 3
    assert sol.upper_bound == pytest.approx(0.9 / 0.19)
    p = sol.policies[0, 0, 0]
    assert p == pytest.approx(5 / 7, abs=1e-4) and 0 < p < 1
    assert sol.value == pytest.approx(45 / 14, abs=1e-8)
    assert sol.value > LinearClass(phi).values(mdp).max() + sol.width
    assert np.allclose(softmax_policy(phi, sol.thetas[0]), sol.policies[0])
    # symmetric rewards: the uniform limit policy (θ = 0) is the best; still uncertified
    mdp, phi = _aliased([[0.0, 0.0], [0.0, 1.0]])
    sol = class_optimal(mdp, phi)
    assert not sol.interior and not sol.certified
    assert np.allclose(sol.policies, 0.5) and np.array_equal(sol.thetas, [[0.0, 0.0]])


def test_actions_with_identical_features_are_always_tied():
    phi = _features(3, 3, 3, 2)
    phi[:, 1] = phi[:, 0]
    lc = LinearClass(phi)
    assert np.array_equal(lc.policies[:, :, 0], lc.policies[:, :, 1])
    phi = np.zeros((2, 3, 2))  # no hyperplane at all: only the uniform policy
    lc = LinearClass(phi)
    assert lc.n_faces == 1 and np.allclose(lc.policies, 1 / 3)


def test_face_count_of_lines_in_the_plane():
    """n distinct lines through 0 in ℝ²: 2n sectors, 2n rays and the origin; parallel and
    antiparallel differences (a negated copy of the state) are merged."""
    phi = np.random.default_rng(0).normal(size=(1, 4, 2))
    lc = LinearClass(np.concatenate([phi, -phi]))
    assert lc.n_hyperplanes == 6 and lc.n_faces == 4 * 6 + 1


def test_joint_features_slice_into_each_environment():
    mdp, phi = _aliased([[0.0, 0.0], [0.3, 1.0]])
    other = _features(7, 3, 2, 2)
    lc = LinearClass(np.concatenate([phi, other]))
    stack = lc.policies[:, :2]  # with repeats: distinct joint policies agree on s0, s1
    J = lc.values(mdp, policies=stack)
    assert np.allclose(J, expected_returns(mdp, stack), atol=1e-12)
    assert J.max() == pytest.approx(LinearClass(phi).values(mdp).max(), abs=1e-12)
    sol = lc.optimal(mdp, policies=stack)
    assert not sol.interior and not sol.certified and sol.n_policies == 3
    assert np.array_equal(sol.policies, stack[sol.index])
    assert np.array_equal(sol.thetas, lc.thetas[sol.index])
    assert np.array_equal(sol.index, np.flatnonzero(J >= J.max() - sol.width))
    with pytest.raises(ValueError, match="one row per limit policy"):
        lc.optimal(mdp, policies=stack[:2])
    with pytest.raises(InvalidMDP, match="shape"):
        lc.values(mdp)


def test_errors():
    mdp, phi = _aliased([[0.0, 0.0], [0.0, 1.0]])
    with pytest.raises(ValueError, match=r"shape \(S, A, d\)"):
        LinearClass(np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"shape \(S, A, d\)"):
        LinearClass(np.zeros((2, 2, 0)))
    with pytest.raises(ValueError, match="not finite"):
        LinearClass(np.full((2, 2, 1), np.nan))
    with pytest.raises(InvalidMDP, match="features have shape"):
        class_optimal(mdp, np.zeros((3, 2, 1)))
    with pytest.raises(ValueError, match=r"more than 5 faces.*the limit is 5"):
        LinearClass(_features(1, 4, 3, 3), max_faces=5)
    with pytest.raises(ValueError, match="max_faces is 10"):
        LinearClass(_one_hot(3, 2), max_faces=10)
    with pytest.raises(ValueError, match="max_policies"):
        class_optimal(TabularMDP(np.ones((3, 2, 3)) / 3, np.zeros((3, 2)), gamma=0.5),
                      _one_hot(3, 2), max_policies=3)
    episodic = TabularMDP(np.ones((1, 2, 1)), np.zeros((1, 2)), gamma=1.0)
    with pytest.raises(InvalidMDP, match="gamma = 1"):
        LinearClass(np.eye(2)[None]).optimal(episodic)


def _history(N=None):
    rng = np.random.default_rng(5)
    shape = (12,) if N is None else (N, 12)
    s = rng.integers(0, 2, size=shape)
    return History.from_arrays(s, rng.integers(0, 2, size=shape), rng.normal(size=shape),
                               rng.integers(0, 2, size=shape), np.full(shape, 0.5))


def test_history_optimal_in_the_class():
    h = _history()
    ref = history_optimal(h, n_states=2, n_actions=2)
    sol = history_optimal(h, n_states=2, n_actions=2, features=_one_hot(2, 2))
    assert isinstance(sol, ClassSolution)
    assert abs(sol.value - ref.V @ np.full(2, 0.5)) <= 1e-9
    hs = _history(3)
    ref = history_optimal(hs, n_states=2, n_actions=2)
    sols = history_optimal(hs, n_states=2, n_actions=2, features=_one_hot(2, 2))
    assert isinstance(sols, tuple) and len(sols) == 3
    for n, s in enumerate(sols):
        assert abs(s.value - ref.V[n] @ np.full(2, 0.5)) <= 1e-9
    aliased = np.stack([np.eye(2), np.eye(2)])
    sols = history_optimal(hs, n_states=2, n_actions=2, features=aliased)
    assert all(s.n_policies == 3 and s.value <= s.upper_bound for s in sols)
    for objective in ("is", "log"):
        with pytest.raises(ValueError, match='only "ce" is defined in a class'):
            history_optimal(h, objective, n_states=2, n_actions=2, features=_one_hot(2, 2))
