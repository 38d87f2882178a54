"""Policy evaluation (theory/evaluation.py): hand-computed cases, the occupancy identity
J = Σ d·R, q-value consistency, policy validation, per-step policies, sparse = dense."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mesabase.theory import (
    IllPosedMDP,
    InvalidMDP,
    TabularMDP,
    evaluate,
    expected_return,
    occupancy,
    q_values,
)


# ---- a tiny MDP to compute by hand ------------------------------------------------------
def tiny(gamma=0.5, horizon=None, mu0=(1.0, 0.0), sparse=False):
    """State 0: action 0 stays (reward 1), action 1 goes to state 1 (reward 0).
    State 1 is absorbing with reward 2 under both actions."""
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    R = np.array([[1.0, 0.0], [2.0, 2.0]])
    P_in = sp.csr_array(P.reshape(4, 2)) if sparse else P
    return TabularMDP(P_in, R, gamma=gamma, horizon=horizon, mu0=list(mu0))


HALF = np.full((2, 2), 0.5)


def test_evaluate_by_hand():
    # V(1) = 2/(1 − ½) = 4;  V(0) = ½(1 + ½V(0)) + ½(½·4)  ⇒  ¾V(0) = 3/2  ⇒  V(0) = 2.
    np.testing.assert_allclose(evaluate(tiny(), HALF), [2.0, 4.0], rtol=0, atol=1e-12)
    # Always stay: V(0) = 1/(1 − ½) = 2; always go: V(0) = ½·4 = 2; γ = 0: V = r_π.
    np.testing.assert_allclose(evaluate(tiny(), [[1, 0], [1, 0]]), [2, 4], rtol=0, atol=1e-12)
    np.testing.assert_allclose(evaluate(tiny(0.9), [[0, 1], [1, 0]]), [18, 20], rtol=0,
                               atol=1e-9)
    np.testing.assert_allclose(evaluate(tiny(0.0), HALF), [0.5, 2.0], rtol=0, atol=1e-12)


def test_q_values_by_hand():
    # Q(0, 0) = 1 + ½·2 = 2,  Q(0, 1) = 0 + ½·4 = 2,  Q(1, ·) = 2 + ½·4 = 4.
    np.testing.assert_allclose(q_values(tiny(), HALF), [[2, 2], [4, 4]], rtol=0, atol=1e-12)
    # Under "always stay" at γ = 0.9: V(0) = 10, V(1) = 20; Q(0, 1) = 0.9·20 = 18.
    Q = q_values(tiny(0.9), [[1, 0], [1, 0]])
    np.testing.assert_allclose(Q, [[10, 18], [20, 20]], rtol=0, atol=1e-9)


def test_occupancy_by_hand():
    # From state 0: Pr(s_t = 0) = (½)ᵗ, so d_S(0) = Σ (¼)ᵗ = 4/3 and d_S(1) = 2 − 4/3 = 2/3.
    d = occupancy(tiny(), HALF)
    np.testing.assert_allclose(d, [[2 / 3, 2 / 3], [1 / 3, 1 / 3]], rtol=0, atol=1e-12)
    assert abs(expected_return(tiny(), HALF) - 2.0) <= 1e-12
    assert abs(float((d * tiny().R).sum()) - 2.0) <= 1e-12


def test_finite_horizon_by_hand():
    # H = 2, γ = 1: V₁ = r_π = (½, 2); V₀(0) = ½(1 + ½) + ½(0 + 2) = 7/4, V₀(1) = 4.
    mdp = tiny(gamma=1.0, horizon=2)
    V = evaluate(mdp, HALF)
    np.testing.assert_allclose(V, [[1.75, 4.0], [0.5, 2.0], [0.0, 0.0]], rtol=0, atol=1e-12)
    Q = q_values(mdp, HALF)
    np.testing.assert_allclose(Q, [[[1.5, 2.0], [4.0, 4.0]], [[1.0, 0.0], [2.0, 2.0]]],
                               rtol=0, atol=1e-12)
    # t = 0: (0, ·) w.p. ½ each; t = 1: s = 0 or 1 w.p. ½, then each action w.p. ½.
    d = occupancy(mdp, HALF)
    np.testing.assert_allclose(d, [[0.75, 0.75], [0.25, 0.25]], rtol=0, atol=1e-12)
    assert abs(expected_return(mdp, HALF) - 1.75) <= 1e-12


def test_per_step_policy_by_hand():
    # H = 2, γ = ½: go at t = 0, stay at t = 1. V₀(0) = 0 + ½·2 = 1, V₀(1) = 2 + ½·2 = 3.
    mdp = tiny(gamma=0.5, horizon=2)
    pi = np.array([[[0.0, 1.0], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]]])
    np.testing.assert_allclose(evaluate(mdp, pi), [[1, 3], [1, 2], [0, 0]], rtol=0, atol=1e-12)
    d = occupancy(mdp, pi)  # (0, go) at t = 0 weight 1; (1, stay) at t = 1 weight γ = ½
    np.testing.assert_allclose(d, [[0, 1], [0.5, 0]], rtol=0, atol=1e-12)
    assert abs(d.sum() - 1.5) <= 1e-12  # Σ_{t<2} γᵗ
    assert abs(expected_return(mdp, pi) - 1.0) <= 1e-12


def test_per_step_policy_needs_a_horizon():
    with pytest.raises(InvalidMDP, match=r"policy must have shape \(2, 2\); got \(2, 2, 2\)"):
        evaluate(tiny(), np.full((2, 2, 2), 0.5))


def test_reward_argument_by_hand():
    # Under R' = indicator of state 1, V(0) under "go" is ½·(1/(1 − ½)) = 1.
    Rp = np.array([[0.0, 0.0], [1.0, 1.0]])
    go = [[0.0, 1.0], [1.0, 0.0]]
    np.testing.assert_allclose(evaluate(tiny(), go, reward=Rp), [1, 2], rtol=0, atol=1e-12)
    np.testing.assert_allclose(q_values(tiny(), go, reward=Rp), [[0.5, 1], [2, 2]], rtol=0,
                               atol=1e-12)
    assert abs(expected_return(tiny(), go, reward=Rp) - 1.0) <= 1e-12
    np.testing.assert_allclose(evaluate(tiny(), go), [2, 4], rtol=0, atol=1e-12)  # R unchanged


@pytest.mark.parametrize("reward,match", [
    (np.zeros((2, 3)), r"reward must have shape \(2, 2\)"),
    (np.array([[0.0, np.nan], [0.0, 0.0]]), r"reward has non-finite entries"),
])
def test_reward_argument_validated(reward, match):
    with pytest.raises(InvalidMDP, match=match):
        evaluate(tiny(), HALF, reward=reward)


# ---- γ = 1 episodic ---------------------------------------------------------------------
def line(sparse=False):
    """0 ← 1 ← 2, state 0 terminal; action 0 moves left, action 1 stays; reward −1."""
    P = np.zeros((3, 2, 3))
    P[0, :, 0] = P[1, 0, 0] = P[2, 0, 1] = P[1, 1, 1] = P[2, 1, 2] = 1.0
    R = np.array([[0.0, 0.0], [-1.0, -1.0], [-1.0, -1.0]])
    return TabularMDP(sp.csr_array(P.reshape(6, 3)) if sparse else P, R, gamma=1.0)


@pytest.mark.parametrize("sparse", [False, True])
def test_episodic_by_hand(sparse):
    # Moving left w.p. ½ takes 2 steps on average per state: V = (0, −2, −4).
    mdp = line(sparse)
    pi = np.array([[1.0, 0.0], [0.5, 0.5], [0.5, 0.5]])
    np.testing.assert_allclose(evaluate(mdp, pi), [0, -2, -4], rtol=0, atol=1e-12)
    np.testing.assert_allclose(q_values(mdp, pi), [[0, 0], [-1, -3], [-3, -5]], rtol=0,
                               atol=1e-12)
    # Expected visits from μ0 uniform: state 1: (2 + 2)/3, state 2: 2/3; terminal: 0.
    d = occupancy(mdp, pi)
    np.testing.assert_allclose(d.sum(axis=1), [0, 4 / 3, 2 / 3], rtol=0, atol=1e-12)
    np.testing.assert_allclose(d, d.sum(axis=1, keepdims=True) * pi, rtol=0, atol=1e-15)
    assert abs(d.sum() - 2.0) <= 1e-12  # expected episode length (0 + 2 + 4)/3
    assert abs(expected_return(mdp, pi) - (-2.0)) <= 1e-12


def test_episodic_improper_policy():
    with pytest.raises(IllPosedMDP, match=r"never terminates from states \[2\]"):
        q_values(line(), [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])


# ---- policy validation ------------------------------------------------------------------
@pytest.mark.parametrize("fn", [evaluate, q_values, occupancy, expected_return])
@pytest.mark.parametrize("policy,match", [
    (np.full(2, 0.5), r"policy must have shape \(2, 2\); got \(2,\)"),
    (np.full((2, 3), 1 / 3), r"policy must have shape \(2, 2\); got \(2, 3\)"),
    (np.full((3, 2), 0.5), r"policy must have shape \(2, 2\); got \(3, 2\)"),
    ([[1.5, -0.5], [0.5, 0.5]], r"policy\[0, 1\] = -0\.5 is not a probability"),
    ([[0.5, 0.5], [np.nan, 0.5]], r"policy\[1, 0\] = nan is not a probability"),
    ([[0.5, 0.5], [0.5, 0.4]], r"policy\[1, :\] sums to .*0\.9.*not 1"),
    ([[0.0, 0.0], [0.5, 0.5]], r"policy\[0, :\] sums to .*0\.0.*not 1"),
])
def test_bad_policies(fn, policy, match):
    with pytest.raises(InvalidMDP, match=match):
        fn(tiny(), policy)


def test_bad_per_step_policies():
    mdp = tiny(horizon=3)
    with pytest.raises(InvalidMDP, match=r"policy must have shape \(2, 2\) or \(3, 2, 2\)"):
        evaluate(mdp, np.full((2, 2, 2), 0.5))  # H = 2 steps given, the MDP has 3
    pi = np.full((3, 2, 2), 0.5)
    pi[2, 1] = [0.7, 0.7]
    with pytest.raises(InvalidMDP, match=r"policy\[2, 1, :\] sums to .*1\.4"):
        occupancy(mdp, pi)


# ---- hypothesis: a small local MDP strategy ---------------------------------------------
def _distributions(draw, shape):
    """Rows of integer weights 0..4, normalised; an all-zero row puts its mass on index 0."""
    w = draw(arrays(np.float64, shape, elements=st.integers(0, 4).map(float)))
    w[..., 0] += w.sum(axis=-1) == 0
    return w / w.sum(axis=-1, keepdims=True)


@st.composite
def mdp_and_policy(draw, finite=None, per_step=None):
    """(mdp, pi): S ≤ 4, A ≤ 3; γ ∈ [0, 0.95] (any γ ∈ [0, 1] with a horizon ≤ 4)."""
    S, A = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    finite = draw(st.booleans()) if finite is None else finite
    H = draw(st.integers(1, 4)) if finite else None
    gamma = draw(st.sampled_from([k / 20 for k in range(21 if finite else 20)]))
    P = _distributions(draw, (S, A, S))
    R = draw(arrays(np.float64, (S, A), elements=st.integers(-10, 10).map(lambda k: k / 2)))
    mu0 = _distributions(draw, (S,)) if draw(st.booleans()) else None
    mdp = TabularMDP(P, R, gamma=gamma, horizon=H, mu0=mu0)
    per_step = finite and (draw(st.booleans()) if per_step is None else per_step)
    pi = _distributions(draw, (H, S, A) if per_step else (S, A))
    return mdp, pi


def sparse_copy(mdp):
    S, A = mdp.n_states, mdp.n_actions
    return TabularMDP(sp.csr_array(mdp.P.reshape(S * A, S)), mdp.R, gamma=mdp.gamma,
                      horizon=mdp.horizon, mu0=mdp.mu0)


def reference_values(mdp, pi, R=None):
    """Independent oracle: explicit P_π by einsum, then a dense solve or a plain loop."""
    R = mdp.R if R is None else R
    P = np.array(mdp.P)
    if mdp.horizon is None:
        P_pi = np.einsum("sa,sat->st", pi, P)
        return np.linalg.solve(np.eye(mdp.n_states) - mdp.gamma * P_pi, (pi * R).sum(axis=1))
    V = np.zeros((mdp.horizon + 1, mdp.n_states))
    for t in reversed(range(mdp.horizon)):
        pt = pi if pi.ndim == 2 else pi[t]
        for s in range(mdp.n_states):
            V[t, s] = sum(pt[s, a] * (R[s, a] + mdp.gamma * P[s, a] @ V[t + 1])
                          for a in range(mdp.n_actions))
    return V


@given(mdp_and_policy())
def test_evaluate_matches_reference(case):
    mdp, pi = case
    np.testing.assert_allclose(evaluate(mdp, pi), reference_values(mdp, pi), rtol=1e-10,
                               atol=1e-10)


@given(mdp_and_policy())
def test_occupancy_identity(case):
    """J(π) = Σ_{s,a} d(s, a) R[s, a], d ≥ 0 and Σ d = Σ_t γᵗ (1/(1 − γ) or Σ_{t<H} γᵗ)."""
    mdp, pi = case
    d = occupancy(mdp, pi)
    assert d.shape == (mdp.n_states, mdp.n_actions) and (d >= -1e-12).all()
    if mdp.horizon is None:
        mass = 1 / (1 - mdp.gamma)
    else:
        mass = sum(mdp.gamma**t for t in range(mdp.horizon))
    assert abs(d.sum() - mass) <= 1e-9 * mass
    J = expected_return(mdp, pi)
    assert abs(J - float((d * mdp.R).sum())) <= 1e-9 * (1 + abs(J))
    V = evaluate(mdp, pi)
    assert abs(J - float(mdp.mu0 @ (V if mdp.horizon is None else V[0]))) <= 1e-12 * (1 + abs(J))


@given(mdp_and_policy(), st.data())
def test_reward_argument_is_with_reward(case, data):
    mdp, pi = case
    R2 = data.draw(arrays(np.float64, mdp.R.shape, elements=st.integers(-6, 6).map(float)))
    other = mdp.with_reward(R2)
    np.testing.assert_allclose(evaluate(mdp, pi, reward=R2), evaluate(other, pi), rtol=0,
                               atol=1e-12)
    np.testing.assert_allclose(q_values(mdp, pi, reward=R2), q_values(other, pi), rtol=0,
                               atol=1e-12)
    np.testing.assert_allclose(evaluate(mdp, pi, reward=R2), reference_values(mdp, pi, R2),
                               rtol=1e-10, atol=1e-10)
    J2 = expected_return(mdp, pi, reward=R2)
    assert abs(J2 - float((occupancy(mdp, pi) * R2).sum())) <= 1e-9 * (1 + abs(J2))


@given(mdp_and_policy())
def test_q_values_consistent(case):
    """Σ_a π(a|s) Q^π(s, a) = V^π(s), and Q = R + γ P V (per step t for a horizon)."""
    mdp, pi = case
    V, Q = evaluate(mdp, pi), q_values(mdp, pi)
    P = np.array(mdp.P)
    if mdp.horizon is None:
        np.testing.assert_allclose((pi * Q).sum(axis=1), V, rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(Q, mdp.R + mdp.gamma * P @ V, rtol=1e-10, atol=1e-10)
        return
    assert Q.shape == (mdp.horizon, mdp.n_states, mdp.n_actions)
    for t in range(mdp.horizon):
        pt = pi if pi.ndim == 2 else pi[t]
        np.testing.assert_allclose((pt * Q[t]).sum(axis=1), V[t], rtol=1e-10, atol=1e-10)
        np.testing.assert_allclose(Q[t], mdp.R + mdp.gamma * P @ V[t + 1], rtol=1e-10,
                                   atol=1e-10)


@given(mdp_and_policy(finite=True, per_step=False))
def test_stationary_policy_equals_its_repetition(case):
    """A stationary pi (S, A) with a horizon is the per-step policy repeated H times."""
    mdp, pi = case
    rep = np.broadcast_to(pi, (mdp.horizon, *pi.shape))
    np.testing.assert_allclose(evaluate(mdp, rep), evaluate(mdp, pi), rtol=0, atol=1e-12)
    np.testing.assert_allclose(occupancy(mdp, rep), occupancy(mdp, pi), rtol=0, atol=1e-12)


@given(mdp_and_policy())
def test_sparse_equals_dense(case):
    mdp, pi = case
    sparse = sparse_copy(mdp)
    assert sparse.is_sparse
    for fn in (evaluate, q_values, occupancy):
        np.testing.assert_allclose(fn(sparse, pi), fn(mdp, pi), rtol=1e-10, atol=1e-10)
    J = expected_return(mdp, pi)
    assert abs(expected_return(sparse, pi) - J) <= 1e-10 * (1 + abs(J))


def test_sparse_equals_dense_by_hand():
    for kw in ({}, {"gamma": 1.0, "horizon": 2}):
        dense, sparse = tiny(**kw), tiny(sparse=True, **kw)
        for fn in (evaluate, q_values, occupancy):
            np.testing.assert_allclose(fn(sparse, HALF), fn(dense, HALF), rtol=0, atol=1e-12)
