"""History, the empirical model and the exact history objectives."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesabase.theory import solve
from mesabase.theory.history.empirical import EmpiricalBatch, EmpiricalMDP, empirical_mdp
from mesabase.theory.history.objectives import MAX_ENUMERATED, history_optimal
from mesabase.theory.history.records import History


# ---- History ------------------------------------------------------------------------
def test_append_grows_and_slices():
    h = History(n_seeds=3, capacity=2)
    for t in range(5):
        h.append([t, t, t], [0, 1, 0], [1.0 * t] * 3, [t + 1] * 3, [0.5] * 3, [t == 2] * 3)
    assert len(h) == 5 and h.states.shape == (3, 5)
    assert h.rewards[1].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert h.dones[0].tolist() == [False, False, True, False, False]
    first = h[:3]
    assert len(first) == 3 and first.states.shape == (3, 3)
    assert h.first(0).states.shape == (3, 0)
    with pytest.raises(ValueError):
        first.states[0, 0] = 7  # read-only view
    with pytest.raises(ValueError, match="read-only slice"):
        first.append(0, 0, 0.0, 0, 1.0)
    assert h.seed(1).states.shape == (1, 5) and h.seed(1).single


def test_from_arrays_shapes_and_validation():
    h = History.from_arrays([0, 1], [1, 1], [0.5, 1.0], [1, 0], [0.2, 1.0])
    assert h.single and h.n_seeds == 1 and len(h) == 2
    hb = History.from_arrays(*(np.zeros((4, 3)) for _ in range(4)), np.ones((4, 3)))
    assert not hb.single and hb.states.shape == (4, 3)
    with pytest.raises(ValueError, match="probs"):
        History.from_arrays([0], [0], [1.0], [0], [0.0])
    with pytest.raises(ValueError, match="shape"):
        History.from_arrays([0, 1], [0], [1.0, 1.0], [0, 0], [1.0, 1.0])
    with pytest.raises(ValueError, match="integers"):
        History.from_arrays([0.5], [0], [1.0], [0], [1.0])
    with pytest.raises(TypeError, match="prefix"):
        hb[1]


# ---- the empirical model --------------------------------------------------------------
def test_empirical_model_by_hand():
    h = History.from_arrays([0, 0, 0, 1], [0, 0, 1, 0], [1.0, 3.0, -1.0, 2.0],
                            [1, 0, 1, 1], [1.0] * 4)
    m = empirical_mdp(h, 2, 2, gamma=0.5)
    assert isinstance(m, EmpiricalMDP)
    np.testing.assert_allclose(m.P[0, 0], [0.5, 0.5], atol=0)
    np.testing.assert_allclose(m.R[0], [2.0, -1.0], atol=0)
    assert m.unvisited.tolist() == [[False, False], [False, True]]
    np.testing.assert_allclose(m.P[1, 1], [0.0, 1.0], atol=0)  # self-loop rule
    assert m.R[1, 1] == 0.0 and m.rule == "self-loop"
    u = empirical_mdp(h, 2, 2, unvisited="uniform", reward_prior=0.25)
    np.testing.assert_allclose(u.P[1, 1], [0.5, 0.5], atol=0)
    assert u.R[1, 1] == 0.25 and u.rule == "uniform"
    d = empirical_mdp(h, 2, 2, prior=1.0, reward_prior=1.0, reward_weight=2.0)
    np.testing.assert_allclose(d.P[0, 0], [2 / 4, 2 / 4], atol=1e-15)
    np.testing.assert_allclose(d.P[1, 1], [0.5, 0.5], atol=1e-15)  # prior only
    np.testing.assert_allclose(d.R[0, 0], (4.0 + 2.0) / 4, atol=1e-15)
    with pytest.raises(ValueError, match="unvisited"):
        empirical_mdp(h, 2, 2, unvisited="optimistic")
    with pytest.raises(ValueError, match="out of range"):
        empirical_mdp(h, 1, 2)


def test_empirical_batch_matches_single_seeds():
    rng = np.random.default_rng(0)
    arrs = [rng.integers(0, 3, (4, 20)), rng.integers(0, 2, (4, 20)), rng.normal(size=(4, 20)),
            rng.integers(0, 3, (4, 20)), np.full((4, 20), 0.5)]
    h = History.from_arrays(*arrs)
    b = empirical_mdp(h, 3, 2)
    assert isinstance(b, EmpiricalBatch) and b.P.shape == (4, 3, 2, 3)
    for i in range(4):
        one = empirical_mdp(h.seed(i), 3, 2)
        np.testing.assert_array_equal(one.P, b.P[i])
        np.testing.assert_array_equal(one.R, b.R[i])


# ---- history objectives ---------------------------------------------------------------
@st.composite
def histories(draw, max_states=3, max_actions=3, max_steps=12, seeds=None):
    S = draw(st.integers(1, max_states))
    A = draw(st.integers(1, max_actions))
    N = draw(st.integers(1, 3)) if seeds is None else seeds
    T = draw(st.integers(0, max_steps))
    ints = lambda hi: st.lists(st.integers(0, hi - 1), min_size=N * T, max_size=N * T)  # noqa: E731
    s, a, s2 = draw(ints(S)), draw(ints(A)), draw(ints(S))
    r = draw(st.lists(st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0]), min_size=N * T,
                      max_size=N * T))
    p = draw(st.lists(st.sampled_from([0.25, 0.5, 1.0]), min_size=N * T, max_size=N * T))
    d = draw(st.lists(st.booleans(), min_size=N * T, max_size=N * T))
    shape = (N, T)
    h = History.from_arrays(*(np.array(x, dtype=dt).reshape(shape) for x, dt in
                              zip((s, a, r, s2, p, d), (int, int, float, int, float, bool),
                                  strict=True)))
    return h, S, A


@given(histories(), st.sampled_from([0.0, 0.5, 0.9]))
def test_ce_equals_solving_the_empirical_model(hSA, gamma):
    h, S, A = hSA
    sol = history_optimal(h, "ce", n_states=S, n_actions=A, gamma=gamma)
    ref = solve(empirical_mdp(h, S, A, gamma=gamma))
    assert sol.V.shape == (h.n_seeds, S)
    np.testing.assert_allclose(sol.V, ref.V, atol=1e-10, rtol=0)
    for i in range(h.n_seeds):
        one = solve(empirical_mdp(h.seed(i), S, A, gamma=gamma), "pi")
        np.testing.assert_allclose(sol.V[i], one.V, atol=1e-8, rtol=0)
        np.testing.assert_array_equal(sol.optimal[i], one.optimal)


@given(histories())
def test_log_objective_closed_form(hSA):
    h, S, A = hSA
    sol = history_optimal(h, "log", n_states=S, n_actions=A)
    for n in range(h.n_seeds):
        c = np.zeros((S, A))
        for s, a, r in zip(h.states[n], h.actions[n], h.rewards[n], strict=True):
            c[s, a] += r
        assert sol.bounded[n] == bool((c >= 0).all())
        for s in range(S):
            row = sol.policy[n, s]
            assert row.sum() == pytest.approx(1.0, abs=1e-12)
            if (c[s] < 0).any():
                assert (row[c[s] < 0] == 0).all() or (c[s] < 0).all()
                assert sol.V[n, s] == np.inf
            elif c[s].sum() > 0:
                np.testing.assert_allclose(row, c[s] / c[s].sum(), atol=1e-12)
                # it maximises Σ c log π: no random policy does better
                rng = np.random.default_rng(0)
                for q in rng.dirichlet(np.ones(A), size=20):
                    val = np.sum(np.where(c[s] > 0, c[s] * np.log(q), 0.0))
                    assert val <= sol.V[n, s] + 1e-9
            else:
                assert sol.optimal[n, s].all()


def test_log_unbounded_is_reported_not_clipped():
    h = History.from_arrays([0, 0], [0, 1], [-1.0, 2.0], [0, 0], [0.5, 0.5])
    sol = history_optimal(h, "log", n_states=1, n_actions=2)
    assert sol.bounded is False
    assert sol.policy.tolist() == [[0.0, 1.0]] and sol.V[0] == np.inf


def test_is_on_a_bandit_picks_the_largest_weighted_sum():
    # arm 0: rewards 1, 1 at prob 0.5 -> 4; arm 1: reward 3 at prob 0.75 -> 4; arm 2: 0
    h = History.from_arrays([0, 0, 0, 0], [0, 0, 1, 2], [1.0, 1.0, 3.0, 5.0], [0] * 4,
                            [0.5, 0.5, 0.75, 1.0])
    sol = history_optimal(h, "is", n_states=1, n_actions=3)
    np.testing.assert_allclose(sol.Q[0], [1.0, 1.0, 1.25], atol=1e-12)
    assert sol.optimal.tolist() == [[False, False, True]]
    h2 = History.from_arrays([0, 0, 0], [0, 0, 1], [1.0, 1.0, 3.0], [0] * 3, [0.5, 0.5, 0.75])
    assert history_optimal(h2, "is", n_states=1, n_actions=3).optimal.tolist() == [
        [True, True, False]]  # a tie: the argmax is a set


def _is_estimate_loop(h, n, policy, gamma):
    """Per-decision IS by plain loops over episodes (an independent oracle)."""
    total, E = 0.0, 0
    w, k, alive = 1.0, 0, True
    for t in range(len(h)):
        if k == 0:
            E += 1
        s, a = h.states[n, t], h.actions[n, t]
        alive = alive and policy[s] == a
        w = w / h.probs[n, t]
        if alive:
            total += gamma**k * h.rewards[n, t] * w
        k += 1
        if h.dones[n, t]:
            w, k, alive = 1.0, 0, True
    return total / max(E, 1)


@given(histories(max_states=3, max_actions=2, max_steps=10), st.sampled_from([0.5, 1.0]))
def test_is_on_an_mdp_matches_enumeration_by_loops(hSA, gamma):
    h, S, A = hSA
    if S == 1:
        return
    sol = history_optimal(h, "is", n_states=S, n_actions=A, gamma=gamma)
    for n in range(h.n_seeds):
        vals = {pol: _is_estimate_loop(h, n, pol, gamma)
                for pol in itertools.product(range(A), repeat=S)}
        best = max(vals.values())
        np.testing.assert_allclose(sol.V[n], best, atol=1e-9, rtol=0)
        for s in range(S):
            for a in range(A):
                qa = max(v for pol, v in vals.items() if pol[s] == a)
                np.testing.assert_allclose(sol.Q[n, s, a], qa, atol=1e-9, rtol=0)


def test_objective_errors():
    h = History.from_arrays([0], [0], [1.0], [0], [1.0])
    with pytest.raises(ValueError, match="unknown objective"):
        history_optimal(h, "kl", n_states=1, n_actions=1)
    with pytest.raises(TypeError, match="model arguments"):
        history_optimal(h, "log", n_states=1, n_actions=1, prior=1.0)
    big = History.from_arrays([0], [0], [1.0], [0], [1.0])
    with pytest.raises(ValueError, match=str(MAX_ENUMERATED)):
        history_optimal(big, "is", n_states=30, n_actions=2)
