"""from_gym and from_mdptoolbox: hand-written inputs against hand-computed P, R and values."""

from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

from mesabase.theory import InvalidMDP, expected_return, solve
from mesabase.theory.convert import from_gym, from_mdptoolbox

T = 1.0 / 3.0


def slippery_2x2():
    """FrozenLake's rules on the map  S F / H G  (states 0 1 / 2 3), written out by hand.

    Actions 0 left, 1 down, 2 right, 3 up; action a moves in direction a-1, a, a+1 (mod 4)
    with probability 1/3 each; a wall leaves the agent in place; H and G end the episode,
    G pays 1; from H and G every action is (1.0, s, 0, True), as in Gymnasium.
    """
    return {
        0: {0: [(T, 0, 0.0, False), (T, 0, 0.0, False), (T, 2, 0.0, True)],
            1: [(T, 0, 0.0, False), (T, 2, 0.0, True), (T, 1, 0.0, False)],
            2: [(T, 2, 0.0, True), (T, 1, 0.0, False), (T, 0, 0.0, False)],
            3: [(T, 1, 0.0, False), (T, 0, 0.0, False), (T, 0, 0.0, False)]},
        1: {0: [(T, 1, 0.0, False), (T, 0, 0.0, False), (T, 3, 1.0, True)],
            1: [(T, 0, 0.0, False), (T, 3, 1.0, True), (T, 1, 0.0, False)],
            2: [(T, 3, 1.0, True), (T, 1, 0.0, False), (T, 1, 0.0, False)],
            3: [(T, 1, 0.0, False), (T, 1, 0.0, False), (T, 0, 0.0, False)]},
        2: {a: [(1.0, 2, 0.0, True)] for a in range(4)},
        3: {a: [(1.0, 3, 0.0, True)] for a in range(4)},
    }


def test_from_gym_slippery_map_matches_hand_computed_P_and_R():
    mdp = from_gym(slippery_2x2(), gamma=0.9)
    assert (mdp.n_states, mdp.n_actions) == (5, 4)  # 4 cells + "episode over" (index 4)
    t, u, end = 1 / 3, 2 / 3, np.eye(5)[4]
    P = np.zeros((5, 4, 5))
    P[0] = [[u, 0, 0, 0, t], [t, t, 0, 0, t], [t, t, 0, 0, t], [u, t, 0, 0, 0]]
    P[1] = [[t, t, 0, 0, t], [t, t, 0, 0, t], [0, u, 0, 0, t], [t, u, 0, 0, 0]]
    P[2:] = end
    np.testing.assert_allclose(mdp.P, P, rtol=0, atol=1e-15)
    R = np.zeros((5, 4))
    R[1, :3] = 1 / 3
    np.testing.assert_allclose(mdp.R, R, rtol=0, atol=1e-15)
    np.testing.assert_array_equal(mdp.mu0, [0.25, 0.25, 0.25, 0.25, 0.0])  # exact


def test_from_gym_sparse_equals_dense():
    dense = from_gym(slippery_2x2(), gamma=0.9)
    sparse = from_gym(slippery_2x2(), gamma=0.9, sparse=True)
    assert sparse.is_sparse and not dense.is_sparse
    np.testing.assert_array_equal(sparse.P, dense.P)  # same sums, tolerance 0
    np.testing.assert_allclose(solve(sparse, "pi").V, solve(dense, "pi").V, rtol=0, atol=1e-12)


def chain_with_goal():
    """0 -> 1 -> 2 -> goal: 'right' (a=0) costs 1 per step, the last step pays 10 and ends
    the episode; 'stay' (a=1) costs 1 and never ends it."""
    P = {s: {0: [(1.0, s + 1, -1.0, False)], 1: [(1.0, s, -1.0, False)]} for s in range(2)}
    P[2] = {0: [(1.0, 2, 10.0, True)], 1: [(1.0, 2, -1.0, False)]}
    return P


@pytest.mark.parametrize("method", ["pi", "vi", "auto"])
def test_from_gym_episodic_chain_solved_with_gamma_one(method):
    mdp = from_gym(chain_with_goal(), gamma=1.0, mu0=[1.0, 0.0, 0.0])
    assert mdp.n_states == 4
    np.testing.assert_array_equal(mdp.mu0, [1.0, 0.0, 0.0, 0.0])  # padded with 0
    sol = solve(mdp, method)
    np.testing.assert_allclose(sol.V, [8.0, 9.0, 10.0, 0.0], rtol=0, atol=1e-9)
    assert sol.actions[:3].tolist() == [0, 0, 0]
    assert expected_return(mdp, sol.greedy) == pytest.approx(8.0, abs=1e-9)


def test_from_gym_without_done_adds_no_state_and_sums_duplicates():
    P = {0: {0: [(0.25, 1, 2.0, False), (0.5, 1, 0.0, False), (0.25, 0, 4.0, False)]},
         1: {0: [(1.0, 1, 0.0, False)]}}
    mdp = from_gym(P, gamma=0.5, mu0=[0.0, 1.0])
    assert mdp.n_states == 2
    np.testing.assert_allclose(mdp.P[:, 0], [[0.25, 0.75], [0.0, 1.0]], rtol=0, atol=0)
    np.testing.assert_allclose(mdp.R[:, 0], [1.5, 0.0], rtol=0, atol=1e-15)  # .5 + 1


@pytest.mark.parametrize(
    "P, kwargs, match",
    [
        ({0: {0: [(1.0, 0, 0.0, False)]}, 2: {0: [(1.0, 0, 0.0, False)]}}, {}, "state key 2"),
        ({0: {0: [(1.0, 0, 0.0, False)]}}, {"n_states": 2}, "no entry for state 1"),
        ({0: {0: [(1.0, 0, 0, False)], 2: [(1.0, 0, 0, False)]}}, {}, "action key 2"),
        ({0: {0: [(1.0, 0, 0, False)]}}, {"n_actions": 2}, "state 0, action 1"),
        ({0: {0: [(0.5, 0, 0, False), (0.4, 0, 0, False)]}}, {}, r"P\[0\]\[0\] probabilities sum"),
        ({0: {0: [(1.0, 3, 0, False)]}}, {}, "next state 3"),
        ({0: {0: [(1.2, 0, 0, False), (-0.2, 0, 0, False)]}}, {}, "probability -0.2"),
        ({0: {0: [(1.0, 0, 0)]}}, {}, r"\(prob, s_next, reward, done\)"),
        ({0: {0: []}}, {}, "no outcome"),
        ({0: {0: [(1.0, 0, float("nan"), False)]}}, {}, "reward nan"),
        ({0: {0: [(1.0, 0, 0, True)]}}, {"mu0": [0.5, 0.25, 0.25]}, r"mu0 must have shape \(1,\)"),
        ([[(1.0, 0, 0, False)]], {}, "must be a dict"),
    ],
)
def test_from_gym_errors_name_state_and_action(P, kwargs, match):
    with pytest.raises(InvalidMDP, match=match):
        from_gym(P, gamma=0.9, **kwargs)


# ---- pymdptoolbox ---------------------------------------------------------------------
P_IN = np.array([[[0.5, 0.5], [0.25, 0.75]], [[1.0, 0.0], [0.0, 1.0]]])  # (A, S, S)
R_TRANSITION = np.array([[[2.0, 4.0], [8.0, 0.0]], [[5.0, 7.0], [1.0, 3.0]]])  # (A, S, S)


@pytest.mark.parametrize(
    "R_in, R_expected",
    [
        (np.array([1.0, -2.0]), [[1.0, 1.0], [-2.0, -2.0]]),  # (S,): same for every action
        (np.array([[1.0, 2.0], [3.0, 4.0]]), [[1.0, 2.0], [3.0, 4.0]]),  # (S, A)
        # R[s, a] = Σ_s' P_in[a][s, s'] R_in[a][s, s']: .5·2+.5·4, 1·5 / .25·8+.75·0, 1·3
        (R_TRANSITION, [[3.0, 5.0], [2.0, 3.0]]),
        ([sp.csr_array(r) for r in R_TRANSITION], [[3.0, 5.0], [2.0, 3.0]]),
    ],
    ids=["state", "state-action", "transition", "transition-sparse-list"],
)
def test_from_mdptoolbox_reward_layouts(R_in, R_expected):
    mdp = from_mdptoolbox(P_IN, R_in, gamma=0.9)
    np.testing.assert_allclose(mdp.P[1, 0], [0.25, 0.75], rtol=0, atol=0)  # P[s, a] = P_in[a][s]
    np.testing.assert_allclose(mdp.P[0, 1], [1.0, 0.0], rtol=0, atol=0)
    np.testing.assert_allclose(mdp.R, R_expected, rtol=0, atol=1e-15)


def test_from_mdptoolbox_sparse_list_matches_dense():
    rng = np.random.default_rng(7)
    A, S = 3, 8
    dense_in = rng.random((A, S, S)) * (rng.random((A, S, S)) < 0.4)
    dense_in[:, :, 0] += 0.1  # every row has mass
    dense_in /= dense_in.sum(axis=2, keepdims=True)
    R_in = rng.normal(size=(S, A))
    mixed = [sp.csr_matrix(dense_in[0]), sp.csc_array(dense_in[1]), dense_in[2]]
    sparse = from_mdptoolbox(mixed, R_in, gamma=0.95)
    dense = from_mdptoolbox(dense_in, R_in, gamma=0.95)
    assert sparse.is_sparse and not dense.is_sparse
    assert sparse.P_matrix.nnz == np.count_nonzero(dense_in)  # built sparse, no fill-in
    for s, a in [(0, 0), (3, 2), (7, 1)]:  # row s·A + a is P_in[a][s, :]
        np.testing.assert_array_equal(sparse.P_matrix[[s * A + a], :].toarray()[0],
                                      dense_in[a, s])
    np.testing.assert_allclose(solve(sparse, "pi").V, solve(dense, "pi").V, rtol=0, atol=1e-10)
    R_tr = rng.normal(size=(A, S, S))
    np.testing.assert_allclose(from_mdptoolbox(mixed, R_tr, gamma=0.95).R,
                               from_mdptoolbox(dense_in, R_tr, gamma=0.95).R, rtol=0, atol=1e-12)


def test_from_mdptoolbox_keeps_fractions_exact():
    h = Fraction(1, 2)
    P_in = np.array([[[h, h], [0, 1]], [[1, 0], [1, 0]]], dtype=object)
    mdp = from_mdptoolbox(P_in, np.array([Fraction(1, 3), 0], dtype=object), gamma=Fraction(1, 2))
    P, R, gamma, _ = mdp.exact_arrays()
    assert mdp.is_exact and gamma == Fraction(1, 2)
    assert P[0, 0, 1] == h and R[0, 1] == Fraction(1, 3)


@pytest.mark.parametrize(
    "P, R, match",
    [
        (P_IN[0], [1.0, 2.0], "rank 3"),
        (np.ones((2, 2, 3)) / 3, [1.0, 2.0], "axis 2 .next state"),
        ([P_IN[0], sp.csr_array(np.eye(3))], [1.0, 2.0], r"P\[1\] .action 1. has shape \(3, 3\)"),
        (sp.csr_array(P_IN[0]), [1.0, 2.0], "single sparse matrix"),
        (P_IN, [1.0, 2.0, 3.0], "axis 0, state s"),
        (P_IN, np.ones((2, 3)), "axis 1 .action a. has length 3"),
        (np.ones((2, 3, 3)) / 3, np.ones((2, 3)), r"looks like \(A, S\)"),
        (P_IN, np.ones((3, 2, 2)), "axis 0 .action a. has length 3"),
        (P_IN, np.ones((2, 2, 3)), "axis 2 .next state s'. has length 3"),
        (P_IN, np.ones((2, 2, 2, 2)), r"\(S,\), \(S, A\) or \(A, S, S\)"),
        (P_IN * 1.5, [1.0, 2.0], r"P\[0, 0, :\] sums to .* P_in\[a\]\[s, s'\]"),
    ],
)
def test_from_mdptoolbox_errors_name_the_axis(P, R, match):
    with pytest.raises(InvalidMDP, match=match):
        from_mdptoolbox(P, R, gamma=0.9)


# ---- against pymdptoolbox itself (optional: the `bench` extra) -------------------------
def test_forest_round_trip_matches_pymdptoolbox():
    pytest.importorskip("mdptoolbox")
    import mdptoolbox.example
    import mdptoolbox.mdp

    P, R = mdptoolbox.example.forest()  # S = 3, A = 2
    pi_ref = mdptoolbox.mdp.PolicyIteration(P, R, 0.9)
    pi_ref.run()
    sol = solve(from_mdptoolbox(P, R, gamma=0.9), "pi")
    np.testing.assert_allclose(sol.V, pi_ref.V, rtol=0, atol=1e-8)
    assert tuple(sol.actions.tolist()) == tuple(pi_ref.policy)
    Ps, Rs = mdptoolbox.example.forest(is_sparse=True)
    sparse = from_mdptoolbox(Ps, Rs, gamma=0.9)
    assert sparse.is_sparse
    np.testing.assert_allclose(solve(sparse, "pi").V, pi_ref.V, rtol=0, atol=1e-8)


@pytest.mark.parametrize("shape", [(3,), (3, 2), (2, 3, 3)],
                         ids=["state", "state-action", "transition"])
def test_expected_reward_matches_pymdptoolbox(shape):
    pytest.importorskip("mdptoolbox")
    import mdptoolbox.example
    import mdptoolbox.mdp

    P, _ = mdptoolbox.example.forest()  # A = 2, S = 3 (S != A: pymdptoolbox misreads an
    R_in = np.arange(np.prod(shape), dtype=float).reshape(shape) - 4.0  # (S,) reward if S = A)
    ref = mdptoolbox.mdp.PolicyIteration(P, R_in, 0.9)  # computes R per action on init
    np.testing.assert_allclose(from_mdptoolbox(P, R_in, gamma=0.9).R,
                               np.stack(ref.R, axis=1), rtol=0, atol=1e-15)
