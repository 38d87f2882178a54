"""Batched solves equal a loop of single solves; validation of MDPBatch."""

import numpy as np
import pytest

from mesabase.theory import InvalidMDP, TabularMDP, solve
from mesabase.theory.solvers.batch import MDPBatch, solution_item, solve_batch


def _random_batch(seed, N=12, S=6, A=3, gamma=0.9, horizon=None):
    rng = np.random.default_rng(seed)
    P = rng.random((N, S, A, S)) ** 3
    P /= P.sum(-1, keepdims=True)
    R = rng.normal(size=(N, S, A))
    return MDPBatch(P, R, gamma=gamma, horizon=horizon)


@pytest.mark.parametrize("method", ["pi", "vi", "auto"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.95, 0.99])
def test_batch_equals_loop(method, gamma):
    batch = _random_batch(0, gamma=gamma)
    sol = solve_batch(batch, method)
    assert sol.V.shape == (12, 6) and sol.Q.shape == (12, 6, 3)
    for i in range(len(batch)):
        ref = solve(batch[i], "pi")
        np.testing.assert_allclose(sol.V[i], ref.V, atol=1e-8, rtol=0)
        np.testing.assert_array_equal(sol.optimal[i], ref.optimal)
    assert sol.error_bound <= 1e-10 and sol.residual <= 1e-10


def test_batch_finite_horizon_equals_loop():
    batch = _random_batch(1, gamma=1.0, horizon=5)
    sol = solve_batch(batch)
    assert sol.V.shape == (12, 6, 6) and sol.Q.shape == (12, 5, 6, 3)
    for i in range(len(batch)):
        ref = solve(batch[i])
        np.testing.assert_allclose(sol.V[i], ref.V, atol=1e-12, rtol=0)
        np.testing.assert_array_equal(solution_item(sol, i).actions, ref.actions)


def test_warm_start_converges_in_one_iteration():
    batch = _random_batch(2, N=50, gamma=0.95)
    cold = solve_batch(batch, "pi")
    warm = solve_batch(batch, "pi", actions0=cold.actions)
    assert cold.iterations > 1
    assert warm.iterations == 1
    np.testing.assert_allclose(warm.V, cold.V, atol=1e-10, rtol=0)


def test_from_mdps_and_indexing_roundtrip():
    rng = np.random.default_rng(3)
    mdps = []
    for _ in range(4):
        P = rng.random((3, 2, 3))
        P /= P.sum(-1, keepdims=True)
        mdps.append(TabularMDP(P, rng.random((3, 2)), gamma=0.8))
    batch = MDPBatch.from_mdps(mdps)
    assert len(batch) == 4
    np.testing.assert_array_equal(batch[2].P, mdps[2].P)
    np.testing.assert_array_equal(batch[2].R, mdps[2].R)


def test_shared_reward_broadcasts():
    P = np.ones((3, 1, 2, 1))
    sol = solve_batch(MDPBatch(P, [[1.0, 0.0]], gamma=0.5))
    np.testing.assert_allclose(sol.V[:, 0], [2.0, 2.0, 2.0], atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(P=np.ones((2, 1, 1)), R=np.zeros((2, 1)), gamma=0.5), "rank 4"),
        (dict(P=np.ones((1, 2, 1, 1)), R=np.zeros((1, 2, 1)), gamma=0.5), "axis 3"),
        (dict(P=np.full((1, 1, 1, 1), 0.5), R=np.zeros((1, 1, 1)), gamma=0.5), r"P\[0, 0, 0, :\]"),
        (dict(P=np.ones((1, 1, 1, 1)), R=np.zeros((2, 1, 1)), gamma=0.5), "shape"),
        (dict(P=np.ones((1, 1, 1, 1)), R=np.zeros((1, 1, 1)), gamma=1.0), "gamma < 1"),
        (dict(P=np.ones((1, 1, 1, 1)), R=[[[np.nan]]], gamma=0.5), "not finite"),
    ],
)
def test_batch_validation(kwargs, match):
    with pytest.raises(InvalidMDP, match=match):
        MDPBatch(kwargs.pop("P"), kwargs.pop("R"), **kwargs)


def test_bad_method_and_warm_start():
    batch = _random_batch(4, N=2)
    with pytest.raises(ValueError, match="unknown batched method"):
        solve_batch(batch, "lp")
    with pytest.raises(ValueError, match="actions0"):
        solve_batch(batch, "pi", actions0=np.zeros((2, 5), dtype=int))
    with pytest.raises(TypeError):
        solve_batch(batch[0])
