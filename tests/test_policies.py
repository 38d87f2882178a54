"""Softmax policies: scores against finite differences, numerical stability, validation."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mesabase.sims.agents.policies import LinearSoftmax, TabularSoftmax, log_softmax, softmax

H = 1e-6          # central-difference step
FD_ATOL = 1e-7    # |analytic − central difference|; truncation ~H², rounding ~1e-16·|f|/H


def _floats(lo, hi):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


@st.composite
def tabular_cases(draw):
    N, S, A = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 5))
    theta = draw(hnp.arrays(np.float64, (N, S, A), elements=_floats(-5, 5)))
    s = draw(hnp.arrays(np.int64, (N,), elements=st.integers(0, S - 1)))
    a = draw(hnp.arrays(np.int64, (N,), elements=st.integers(0, A - 1)))
    return TabularSoftmax(S, A), theta, s, a


@st.composite
def linear_cases(draw):
    N, S, A, d = (draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 4)),
                  draw(st.integers(1, 4)))
    phi = draw(hnp.arrays(np.float64, (S, A, d), elements=_floats(-2, 2)))
    theta = draw(hnp.arrays(np.float64, (N, d), elements=_floats(-2, 2)))
    s = draw(hnp.arrays(np.int64, (N,), elements=st.integers(0, S - 1)))
    a = draw(hnp.arrays(np.int64, (N,), elements=st.integers(0, A - 1)))
    return LinearSoftmax(phi), theta, s, a


def _central_difference(f, theta):
    """∂f/∂θ per seed by central differences; f maps θ (N, ...) to (N,)."""
    grad = np.zeros_like(theta)
    for j in np.ndindex(theta.shape[1:]):
        e = np.zeros_like(theta)
        e[(slice(None), *j)] = H
        grad[(slice(None), *j)] = (f(theta + e) - f(theta - e)) / (2 * H)
    return grad


@given(tabular_cases())
def test_tabular_score_matches_finite_differences(case):
    pol, theta, s, a = case
    fd = _central_difference(lambda th: pol.log_prob(th, s, a), theta)
    np.testing.assert_allclose(pol.grad_log_prob(theta, s, a), fd, atol=FD_ATOL, rtol=0)


@given(linear_cases())
def test_linear_score_matches_finite_differences(case):
    pol, theta, s, a = case
    fd = _central_difference(lambda th: pol.log_prob(th, s, a), theta)
    np.testing.assert_allclose(pol.grad_log_prob(theta, s, a), fd, atol=FD_ATOL, rtol=0)


@given(tabular_cases(), st.data())
def test_tabular_policy_gradient_matches_finite_differences(case, data):
    pol, theta, _, _ = case
    S, A = pol.param_shape
    w = data.draw(hnp.arrays(np.float64, (S, A), elements=_floats(-3, 3)))
    rho = data.draw(hnp.arrays(np.float64, (S,), elements=_floats(0, 2)))
    J = lambda th: (rho[:, None] * pol.probs(th) * w).sum((1, 2))  # noqa: E731
    fd = _central_difference(J, theta)
    np.testing.assert_allclose(pol.policy_gradient(theta, w, rho), fd, atol=FD_ATOL, rtol=0)


@given(linear_cases(), st.data())
def test_linear_policy_gradient_matches_finite_differences(case, data):
    pol, theta, _, _ = case
    w = data.draw(hnp.arrays(np.float64, (pol.n_states, pol.n_actions),
                             elements=_floats(-3, 3)))
    J = lambda th: (pol.probs(th) * w).sum((1, 2))  # noqa: E731
    fd = _central_difference(J, theta)
    np.testing.assert_allclose(pol.policy_gradient(theta, w), fd, atol=FD_ATOL, rtol=0)


@given(tabular_cases())
def test_natural_score_solves_the_fisher_system(case):
    """F_s x = e_a − π_s for x = e_a / π(a|s) on row s, F_s = diag π_s − π_s π_sᵀ."""
    pol, theta, s, a = case
    n = np.arange(len(s))
    x = pol.natural_grad_log_prob(theta, s, a)
    pi = pol.probs(theta)[n, s]                                   # (N, A)
    fisher = np.einsum("na,ab->nab", pi, np.eye(pol.n_actions)) - pi[:, :, None] * pi[:, None]
    lhs = np.einsum("nab,nb->na", fisher, x[n, s])
    np.testing.assert_allclose(lhs, pol.grad_log_prob(theta, s, a)[n, s], atol=1e-9, rtol=0)
    x_other = x.copy()
    x_other[n, s] = 0.0
    assert not x_other.any()


# ---- numerical stability -----------------------------------------------------------------
EXTREME = np.array([
    [1e4, 1e4, 1e4],
    [-1e4, -1e4, -1e4],
    [1e4, -1e4, 0.0],
    [1e4, 1e4 - 1.0, -1e4],
    [0.0, -1e4, -1e4],
])


def test_extreme_logits_give_finite_normalised_probabilities():
    pol = TabularSoftmax(n_states=5, n_actions=3)
    theta = EXTREME[None]
    p, lp = pol.probs(theta), pol.log_probs(theta)
    assert np.isfinite(p).all() and np.isfinite(lp).all()
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-15, rtol=0)
    # log π computed directly, not as log of a rounded π: exact values, 1e-12 relative.
    c = np.log1p(np.exp(-1.0))
    np.testing.assert_allclose(lp[0, 3], [-c, -1.0 - c, -2e4 - c], rtol=1e-12)
    np.testing.assert_allclose(lp[0, 4], [0.0, -1e4, -1e4], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(lp[0, 2], [0.0, -2e4, -1e4], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(p[0, 0], 1 / 3, rtol=1e-15)
    for s in range(5):
        for a in range(3):
            g = pol.grad_log_prob(theta, s, a)
            assert np.isfinite(g).all()
            assert np.isfinite(pol.log_prob(theta, s, a)).all()


def test_extreme_linear_logits_are_stable():
    phi = np.array([[[1.0, 0.0], [0.0, 1.0], [1.0, -1.0]]])
    pol = LinearSoftmax(phi)
    theta = np.array([[1e4, -1e4], [1e4, 1e4], [-1e4, -1e4]])
    p, lp = pol.probs(theta), pol.log_probs(theta)
    assert np.isfinite(p).all() and np.isfinite(lp).all()
    np.testing.assert_allclose(p.sum(-1), 1.0, atol=1e-15, rtol=0)
    np.testing.assert_allclose(lp[0, 0], [-1e4, -3e4, 0.0], rtol=1e-12, atol=1e-12)
    assert np.isfinite(pol.grad_log_prob(theta, 0, 1)).all()


def test_free_functions_are_stable():
    x = np.array([1e4, -1e4, 1e4 - 2.0])
    np.testing.assert_allclose(softmax(x).sum(), 1.0, atol=1e-15)
    np.testing.assert_allclose(log_softmax(x)[1], -2e4 - np.log1p(np.exp(-2.0)), rtol=1e-12)


# ---- batch independence ------------------------------------------------------------------
def test_each_seed_is_bit_identical_whatever_the_batch():
    rng = np.random.default_rng(0)
    S, A, d, N = 4, 6, 5, 37
    s, a = rng.integers(0, S, N), rng.integers(0, A, N)
    for pol, theta in ((TabularSoftmax(S, A), rng.normal(size=(N, S, A)) * 3),
                       (LinearSoftmax(rng.normal(size=(S, A, d))), rng.normal(size=(N, d)))):
        batch = (pol.probs(theta), pol.log_probs(theta), pol.grad_log_prob(theta, s, a))
        for n in (0, 5, N - 1):
            one = (pol.probs(theta[n:n + 1]), pol.log_probs(theta[n:n + 1]),
                   pol.grad_log_prob(theta[n:n + 1], s[n:n + 1], a[n:n + 1]))
            for x, y in zip(batch, one, strict=True):
                np.testing.assert_array_equal(x[n:n + 1], y)


# ---- construction and validation -------------------------------------------------------
def test_init_shapes_and_given_logits():
    pol = TabularSoftmax(2, 3)
    assert pol.init(4).shape == (4, 2, 3) and not pol.init(4).any()
    logits = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(pol.init(3, logits), np.broadcast_to(logits, (3, 2, 3)))
    per_seed = np.arange(12.0).reshape(2, 2, 3)
    np.testing.assert_array_equal(pol.init(2, per_seed), per_seed)
    lin = LinearSoftmax(np.ones((2, 3, 4)))
    assert lin.init(5).shape == (5, 4)
    np.testing.assert_array_equal(lin.init(2, [1.0, 2, 3, 4])[1], [1, 2, 3, 4])
    with pytest.raises(ValueError, match=r"shape \(N, 2, 3\)"):
        pol.init(3, np.zeros((3, 2)))
    with pytest.raises(ValueError, match="not finite"):
        pol.init(1, [[0.0, np.inf, 0.0], [0.0, 0.0, 0.0]])


def test_validation_errors():
    pol = TabularSoftmax(2, 3)
    theta = np.zeros((2, 2, 3))
    with pytest.raises(ValueError, match="n_states must be a positive integer"):
        TabularSoftmax(0, 3)
    with pytest.raises(ValueError, match="n_actions"):
        TabularSoftmax(2, 2.5)
    with pytest.raises(ValueError, match=r"theta must have shape \(N, 2, 3\)"):
        pol.probs(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"theta\[1, 0, 2\] = nan is not finite"):
        bad = theta.copy()
        bad[1, 0, 2] = np.nan
        pol.probs(bad)
    with pytest.raises(ValueError, match=r"a\[1\] = 3 is out of range \[0, 3\)"):
        pol.grad_log_prob(theta, [0, 1], [0, 3])
    with pytest.raises(ValueError, match=r"s\[0\] = -1 is out of range"):
        pol.log_prob(theta, [-1, 0], 0)
    with pytest.raises(ValueError, match=r"s must have shape \(2,\)"):
        pol.log_prob(theta, [0, 0, 0], 0)
    with pytest.raises(ValueError, match="a must hold integers"):
        pol.log_prob(theta, 0, 0.5)
    with pytest.raises(ValueError, match="rank 3"):
        LinearSoftmax(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"features\[0, 1, 0\] = inf is not finite"):
        LinearSoftmax(np.array([[[0.0], [np.inf]]]))
    with pytest.raises(ValueError, match=r"theta must have shape \(N, 4\)"):
        LinearSoftmax(np.ones((2, 3, 4))).probs(np.zeros((1, 3)))


def test_linear_features_are_copied_and_read_only():
    phi = np.ones((1, 2, 2))
    pol = LinearSoftmax(phi)
    phi[0, 0, 0] = 5.0
    assert pol.features[0, 0, 0] == 1.0
    with pytest.raises(ValueError):
        pol.features[0, 0, 0] = 2.0
