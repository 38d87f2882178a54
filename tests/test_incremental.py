"""IncrementalCE: the incremental π*_t equals the from-scratch π*_t at every step."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mesabase.theory.history.incremental as incremental
from mesabase.theory.history.empirical import empirical_mdp, model_arrays
from mesabase.theory.history.incremental import IncrementalCE
from mesabase.theory.history.records import History
from mesabase.theory.solvers.batch import MDPBatch, solve_batch

ATOL = 1e-8  # agreement with from-scratch policy iteration, in V and Q (absolute)


def _scratch(history, t, S, A, gamma, kw):
    """π*_t from scratch: the empirical model of the first t steps, solved by batched PI."""
    m = empirical_mdp(history[:t], S, A, gamma=gamma, **kw)
    return m, solve_batch(m, "pi")


def _assert_same(ce, m, sol, where):
    """Model bit for bit; V and Q to ATOL; the same optimal sets and policy; and
    ``actions`` (the incremental solver's own policy) is in the optimal set."""
    np.testing.assert_array_equal(ce.P, m.P, err_msg=f"P̂ at {where}")  # bit for bit
    np.testing.assert_array_equal(ce.R, m.R, err_msg=f"R̂ at {where}")
    np.testing.assert_allclose(ce.V, sol.V, rtol=0, atol=ATOL, err_msg=f"V at {where}")
    np.testing.assert_allclose(ce.Q, sol.Q, rtol=0, atol=ATOL, err_msg=f"Q at {where}")
    np.testing.assert_array_equal(ce.optimal, sol.optimal, err_msg=f"optimal set at {where}")
    np.testing.assert_allclose(ce.policy, sol.policy, rtol=0, atol=1e-15)
    N, S = ce.actions.shape
    assert ce.optimal[np.arange(N)[:, None], np.arange(S), ce.actions].all(), where


@st.composite
def _histories(draw):
    N, S, A = draw(st.integers(1, 3)), draw(st.integers(1, 5)), draw(st.integers(1, 3))
    T = draw(st.integers(0, 40))
    ints = lambda hi: st.lists(st.integers(0, hi - 1), min_size=N * T, max_size=N * T)  # noqa: E731
    shape = (N, T)
    states = np.array(draw(ints(S)), dtype=np.intp).reshape(shape)
    actions = np.array(draw(ints(A)), dtype=np.intp).reshape(shape)
    nexts = np.array(draw(ints(S)), dtype=np.intp).reshape(shape)
    # rewards from a small set: exact ties are common, near-ties at the 1e-10 scale are not
    rewards = np.array(draw(st.lists(st.sampled_from([-1.0, 0.0, 0.5, 1.0, 2.0]),
                                     min_size=N * T, max_size=N * T))).reshape(shape)
    h = History.from_arrays(states, actions, rewards, nexts, np.ones(shape))
    gamma = draw(st.sampled_from([0.0, 0.5, 0.9, 0.99]))
    prior = draw(st.sampled_from(["zero", "scalar", "array"]))
    if prior == "array":
        prior = np.array(draw(st.lists(st.sampled_from([0.0, 0.5, 1.0]), min_size=S * A * S,
                                       max_size=S * A * S))).reshape(S, A, S)
    else:
        prior = 0.0 if prior == "zero" else 0.5
    kw = dict(prior=prior, reward_prior=draw(st.sampled_from([0.0, 1.0, -0.5])),
              reward_weight=draw(st.sampled_from([0.0, 2.0])),
              unvisited=draw(st.sampled_from(["self-loop", "uniform"])))
    engine = dict(refresh_every=draw(st.sampled_from([0, 7, 1000])),
                  max_rank=draw(st.sampled_from([0, 1, 8])), screen=draw(st.booleans()))
    return h, S, A, gamma, kw, engine


@given(_histories())
def test_incremental_equals_from_scratch_at_every_step(case):
    h, S, A, gamma, kw, engine = case
    ce = IncrementalCE(h.n_seeds, S, A, gamma, **kw, **engine)
    _assert_same(ce, *_scratch(h, 0, S, A, gamma, kw), "t=0")
    for t in range(len(h)):
        ce.update(h.states[:, t], h.actions[:, t], h.rewards[:, t], h.next_states[:, t])
        _assert_same(ce, *_scratch(h, t + 1, S, A, gamma, kw), f"t={t + 1}")
    np.testing.assert_array_equal(ce.counts, empirical_mdp(h, S, A, **kw).counts)


@settings(max_examples=15)
@given(_histories())
def test_every_rank_one_step_refactorised_gives_the_same(case):
    """With the pivot guard forcing a re-factorisation at every Sherman–Morrison step the
    result is unchanged (the guard path is exact too)."""
    h, S, A, gamma, kw, _ = case
    old = incremental.MIN_PIVOT
    incremental.MIN_PIVOT = np.inf
    try:
        ce = IncrementalCE(h.n_seeds, S, A, gamma, **kw)
        for t in range(len(h)):
            ce.update(h.states[:, t], h.actions[:, t], h.rewards[:, t], h.next_states[:, t])
    finally:
        incremental.MIN_PIVOT = old
    _assert_same(ce, *_scratch(h, len(h), S, A, gamma, kw), "end")


def test_hand_computed_bandit():
    """One state, two arms, γ = 1/2: after arm 0 pays 1, R̂ = (1, 0) (arm 1 unvisited,
    r₀ = 0), V = 1/(1 − γ) = 2, Q = (2, 0 + γ·2) = (2, 1)."""
    ce = IncrementalCE(1, 1, 2, 0.5)
    ce.update([0], [0], [1.0], [0])
    np.testing.assert_allclose(ce.V, [[2.0]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(ce.Q, [[[2.0, 1.0]]], rtol=0, atol=1e-15)
    assert ce.actions.tolist() == [[0]] and ce.policy.tolist() == [[[1.0, 0.0]]]
    ce.update([0], [1], [4.0], [0])  # arm 1 pays 4: Q = (1 + 4, 4 + 4) = (5, 8)
    np.testing.assert_allclose(ce.Q, [[[5.0, 8.0]]], rtol=0, atol=1e-14)
    assert ce.actions.tolist() == [[1]]


@pytest.mark.parametrize("screen", [False, True])
def test_long_run_stays_exact(screen):
    """5,000 steps on S = 20: rank-one drift is bounded by the periodic re-factorisation
    (and Q, skipped by the screen between checkpoints, is right when read)."""
    rng = np.random.default_rng(7)
    N, S, A, T, gamma = 2, 20, 3, 5000, 0.95
    P = rng.dirichlet(np.ones(S) * 0.3, size=(S, A))
    R = rng.random((S, A))
    ce = IncrementalCE(N, S, A, gamma, refresh_every=1000, screen=screen)
    counts, rsum = np.zeros((N, S, A, S)), np.zeros((N, S, A))
    s = rng.integers(S, size=N)
    n = np.arange(N)
    checked = 0
    for t in range(1, T + 1):
        a = rng.integers(A, size=N)
        s2 = (P[s, a].cumsum(axis=1) < rng.random(N)[:, None]).sum(axis=1).clip(max=S - 1)
        r = R[s, a] + 0.1 * rng.standard_normal(N)
        ce.update(s, a, r, s2)
        counts[n, s, a, s2] += 1.0
        rsum[n, s, a] += r
        s = s2
        if t % 997 == 0 or t == T:  # checkpoints between refreshes, where drift is largest
            Ph, Rh, _ = model_arrays(counts, rsum)
            sol = solve_batch(MDPBatch(Ph, Rh, gamma=gamma), "pi")
            np.testing.assert_allclose(ce.V, sol.V, rtol=0, atol=ATOL, err_msg=f"t={t}")
            np.testing.assert_allclose(ce.Q, sol.Q, rtol=0, atol=ATOL, err_msg=f"t={t}")
            np.testing.assert_array_equal(ce.optimal, sol.optimal, err_msg=f"t={t}")
            checked += 1
    assert checked == 6
    assert ce.refactorisations >= N * (T // 1000)
    assert 0.0 <= ce.drift < 1e-10  # |V_incremental − V_refactorised| at the last refresh


def test_refresh_reports_drift_and_solution_snapshot():
    ce = IncrementalCE(2, 3, 2, 0.9, refresh_every=0)
    rng = np.random.default_rng(0)
    for _ in range(200):
        ce.update(rng.integers(3, size=2), rng.integers(2, size=2), rng.random(2),
                  rng.integers(3, size=2))
    d = ce.refresh()
    assert 0.0 <= d < 1e-12 and ce.drift == d  # 200 rank-one steps: rounding only
    assert ce.refresh() == 0.0  # re-factorising is deterministic: nothing left to correct
    sol = ce.solution()
    assert sol.V.shape == (2, 3) and sol.Q.shape == (2, 3, 2) and sol.method == "incremental-pi"
    assert not sol.V.flags.writeable and sol.residual < 1e-12
    V = sol.V.copy()
    ce.update([0, 1], [0, 1], [5.0, 5.0], [1, 2])
    np.testing.assert_array_equal(sol.V, V)  # a snapshot, not a view


def test_screen_default_follows_model_size(monkeypatch):
    assert not IncrementalCE(2, 3, 2, 0.9).screen  # 2·3·2·3 doubles: cache-resident
    monkeypatch.setattr(incremental, "SCREEN_BYTES", 2 * 3 * 2 * 3 * 8)
    assert IncrementalCE(2, 3, 2, 0.9).screen
    assert not IncrementalCE(2, 3, 2, 0.9, screen=False).screen


def test_public_arrays_are_read_only_live_views():
    ce = IncrementalCE(1, 2, 2, 0.5)
    V = ce.V
    with pytest.raises(ValueError, match="read-only"):
        V[0, 0] = 1.0
    ce.update([0], [0], [1.0], [0])
    assert V[0, 0] == ce.V[0, 0] == 2.0  # the view follows the update (1/(1 − γ))


def test_accepts_integral_floats_and_lists():
    ce = IncrementalCE(2, 2, 2, 0.5)
    ce.update(np.array([0.0, 1.0]), [1, 0], [1, 2], (1, 1))
    assert ce.counts.sum() == 2.0


@pytest.mark.parametrize("kwargs, match", [
    (dict(gamma=1.0), "gamma < 1"),
    (dict(gamma=-0.1), "0 <= gamma"),
    (dict(unvisited="zero"), "unvisited"),
    (dict(tol=0.0), "tol"),
    (dict(n_seeds=0), ">= 1"),
    (dict(prior=-1.0), "prior"),
    (dict(refresh_every=-1), "refresh_every"),
])
def test_constructor_errors(kwargs, match):
    args = dict(n_seeds=2, n_states=3, n_actions=2, gamma=0.9) | kwargs
    with pytest.raises(ValueError, match=match):
        IncrementalCE(**args)


@pytest.mark.parametrize("step, match", [
    (([0], [0, 1], [1.0, 1.0], [0, 0]), r"states must have shape \(2,\)"),
    (([0, 0], [0, 1], [1.0], [0, 0]), r"rewards must have shape \(2,\)"),
    (([0, 3], [0, 1], [1.0, 1.0], [0, 0]), r"states\[1\] = 3 is out of range \[0, 3\)"),
    (([0, 0], [0, -1], [1.0, 1.0], [0, 0]), r"actions\[1\] = -1 is out of range \[0, 2\)"),
    (([0, 0], [0, 1], [1.0, 1.0], [5, 0]), r"next_states\[0\] = 5 is out of range"),
    (([0.5, 0], [0, 1], [1.0, 1.0], [0, 0]), "integer indices"),
    (([0, 0], [0, 1], [1.0, np.nan], [0, 0]), r"rewards\[1\] not finite"),
])
def test_update_errors(step, match):
    ce = IncrementalCE(2, 3, 2, 0.9)
    before = ce.counts.copy()
    with pytest.raises(ValueError, match=match):
        ce.update(*step)
    np.testing.assert_array_equal(ce.counts, before)  # a rejected step changes nothing
