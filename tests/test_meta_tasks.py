"""Bandit task distributions: shapes, moments, E[max p], the matching Bayes tables, errors."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesabase.sims.meta import BetaTasks, DependentTasks
from mesabase.theory.bandits.bayes import BayesBandit

N = 40_000  # samples for moment checks; a check fails beyond 5 standard errors


def _beta_moments(a, b):
    m = a / (a + b)
    return m, a * b / ((a + b) ** 2 * (a + b + 1))


def _close_mean(x, mean, var, z=5.0):
    """|x̄ − mean| ≤ z·√(var/n): a 5-sigma band (false-failure rate < 1e-6 per check)."""
    return abs(x.mean() - mean) <= z * np.sqrt(var / x.size)


@pytest.mark.parametrize("prior", [(1, 1), (2, 5), (0.5, 0.5)])
def test_beta_tasks_shape_and_moments(prior):
    tasks = BetaTasks(3, prior)
    p = tasks.sample(N, rng=np.random.default_rng(1))
    assert p.shape == (N, 3) and p.dtype == np.float64
    assert ((p >= 0) & (p <= 1)).all()
    m, v = _beta_moments(*prior)
    for k in range(3):
        assert _close_mean(p[:, k], m, v)
        # the variance: its estimator's sd is ≈ √((μ₄ − σ⁴)/n) ≤ √(μ₄/n), μ₄ ≤ E[(p−m)²] ≤ v
        assert abs(p[:, k].var() - v) <= 5 * np.sqrt(v / N)
    # independent arms: sample correlation ≈ 0 (sd 1/√N)
    assert abs(np.corrcoef(p[:, 0], p[:, 1])[0, 1]) <= 5 / np.sqrt(N)


def test_beta_tasks_per_arm_prior():
    prior = np.array([[1.0, 3.0], [4.0, 1.0]])
    p = BetaTasks(2, prior).sample(N, rng=2)
    for k in range(2):
        m, v = _beta_moments(*prior[k])
        assert _close_mean(p[:, k], m, v)


def test_dependent_tasks_shape_and_moments():
    tasks = DependentTasks((2, 3))
    p = tasks.sample(N, rng=3)
    assert p.shape == (N, 2) and p.dtype == np.float64
    np.testing.assert_array_equal(p[:, 1], 1.0 - p[:, 0])
    m, v = _beta_moments(2, 3)
    assert _close_mean(p[:, 0], m, v)
    assert tasks.n_arms == 2 and tasks.family == "dependent"


def test_sample_seeded_and_deterministic():
    tasks = BetaTasks(2)
    np.testing.assert_array_equal(tasks.sample(5, rng=7), tasks.sample(5, rng=7))
    np.testing.assert_array_equal(tasks.sample(5, rng=7),
                                  tasks.sample(5, rng=np.random.default_rng(7)))
    assert not np.array_equal(tasks.sample(5, rng=7), tasks.sample(5, rng=8))
    assert tasks.sample(0, rng=0).shape == (0, 2)


def test_expected_max_closed_forms():
    # max of K uniforms: K/(K+1)
    assert BetaTasks(2).expected_max(exact=True) == Fraction(2, 3)
    assert BetaTasks(3).expected_max(exact=True) == Fraction(3, 4)
    assert BetaTasks(2).expected_max() == pytest.approx(2 / 3, abs=1e-15)
    assert DependentTasks().expected_max(exact=True) == Fraction(3, 4)


def test_expected_max_numerical_against_hand_values():
    # Beta(2,1): F(x) = x², E[max of 2] = 1 − ∫x⁴ = 4/5.
    assert BetaTasks(2, (2, 1)).expected_max() == pytest.approx(4 / 5, abs=1e-10)
    # Beta(1,2): F = 1 − (1−x)², ∫(1 − F²) = 1 − (1 − 2/3 + 1/5) = 7/15.
    assert BetaTasks(2, (1, 2)).expected_max() == pytest.approx(7 / 15, abs=1e-10)
    # per-arm: Beta(2,1) and Beta(1,1): 1 − ∫ x²·x dx = 3/4.
    assert BetaTasks(2, [[2, 1], [1, 1]]).expected_max() == pytest.approx(0.75, abs=1e-10)
    # dependent, p ~ Beta(2,2): 2∫_{½}^1 x·6x(1−x) dx = 11/16.
    assert DependentTasks((2, 2)).expected_max() == pytest.approx(11 / 16, abs=1e-12)


@pytest.mark.parametrize("tasks", [BetaTasks(2, (0.7, 2.0)), DependentTasks((3.0, 1.5))])
def test_expected_max_against_monte_carlo(tasks):
    m = tasks.sample(N, rng=4).max(axis=1)
    assert _close_mean(m, tasks.expected_max(), m.var())


def test_bayes_tables_of_the_family():
    b = BetaTasks(2).bayes(3)
    assert isinstance(b, BayesBandit)
    assert (b.n_arms, b.horizon, b.family) == (2, 3, "independent")
    d = DependentTasks().bayes(3)
    assert (d.n_arms, d.horizon, d.family) == (2, 3, "dependent")
    # H = 1: the best single pull has mean 1/2 in both families
    assert BetaTasks(2).bayes(1, exact=True).value == Fraction(1, 2)
    assert DependentTasks().bayes(1, exact=True).value == Fraction(1, 2)


def test_names_and_keys():
    assert BetaTasks(2).key == BetaTasks(2, (1, 1)).key != BetaTasks(2, (1, 2)).key
    assert "beta" in BetaTasks(2).name and "dependent" in DependentTasks().name


@pytest.mark.parametrize("make, match", [
    (lambda: BetaTasks(0), "n_arms"),
    (lambda: BetaTasks(2.5), "n_arms"),
    (lambda: BetaTasks(True), "n_arms"),
    (lambda: BetaTasks(2, (0, 1)), "prior"),
    (lambda: BetaTasks(2, (1, np.nan)), "prior"),
    (lambda: BetaTasks(2, np.ones((3, 2))), "prior"),
    (lambda: BetaTasks(2, "ab"), "prior"),
    (lambda: DependentTasks((1, -1)), "prior"),
    (lambda: DependentTasks((1, 1, 1)), "prior"),
    (lambda: BetaTasks(2).sample(-1, rng=0), "n must"),
    (lambda: BetaTasks(2).sample(2.0, rng=0), "n must"),
    (lambda: BetaTasks(2).sample(2, rng="x"), "rng"),
    (lambda: DependentTasks().sample(2, rng=-3), "rng"),
    (lambda: BetaTasks(2, (2, 1)).expected_max(exact=True), "exact"),
    (lambda: DependentTasks((2, 1)).expected_max(exact=True), "exact"),
])
def test_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


@given(k=st.integers(1, 4), a=st.floats(0.05, 20), b=st.floats(0.05, 20),
       n=st.integers(0, 20), seed=st.integers(0, 2**32 - 1))
def test_samples_in_unit_cube(k, a, b, n, seed):
    p = BetaTasks(k, (a, b)).sample(n, rng=seed)
    assert p.shape == (n, k) and ((p >= 0) & (p <= 1)).all()
    q = DependentTasks((a, b)).sample(n, rng=seed)
    assert q.shape == (n, 2) and np.array_equal(q[:, 1], 1.0 - q[:, 0])
    assert ((q >= 0) & (q <= 1)).all()
