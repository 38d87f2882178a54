"""Gittins indices of Beta–Bernoulli arms (mesabase.theory.bandits.gittins): published values, an
independent restart-in-state computation, the accuracy guarantee, properties, the table,
and every ValueError.

Tolerances: ``gittins_index(…, tol)`` promises |returned − G| ≤ tol/2; two calls with tol
and a far smaller tol may differ by tol/2 + (tiny); published values are rounded to 4
decimals, so they are matched to 5e-5 + tol/2.
"""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesabase.theory import gittins_index, gittins_table
from mesabase.theory.bandits.gittins import MAX_DEPTH, truncation_depth

# Christian & Griffiths, *Algorithms to Live By* (Henry Holt, 2016), ch. 2 "Explore/Exploit",
# the text around its tables of Gittins indices "as a function of wins and losses" for a
# payoff next time worth 90% (and 99%) of one now, uniform prior: a record of w wins and l
# losses is the posterior Beta(1 + w, 1 + l). Quoted there: 0–0 → 0.7029, 1–1 → 0.6346,
# 2–2 → 0.6010, 9 wins then a loss → 0.8695, the "more-played machine" at 60% (9–6) → 0.6300,
# and at 99%: 0–0 → 0.8699 ("86.99%"); 0–1 is "still above 50%".
PUBLISHED = [
    (1, 1, 0.9, 0.7029), (2, 2, 0.9, 0.6346), (3, 3, 0.9, 0.6010), (10, 2, 0.9, 0.8695),
    (10, 7, 0.9, 0.6300), (1, 1, 0.99, 0.8699),
]


@pytest.mark.parametrize("a, b, gamma, value", PUBLISHED)
def test_published_values(a, b, gamma, value):
    assert abs(gittins_index(a, b, gamma) - value) <= 5e-5 + 5e-7


def test_published_zero_one_record_above_half():
    assert gittins_index(1, 2, 0.9) > 0.5  # "still above 50%" (ibid.)


# ---- an independent method: restart-in-state (Katehakis & Veinott 1987) ---------------------
def _restart_index(a: float, b: float, gamma: float, depth: int, tol: float = 1e-12) -> float:
    """(1 − γ)·ρ, ρ the value of the restart-in-x problem at x = Beta(a, b).

    At every state y one may pull y's arm or restart: jump back to x and pull there. With
    ρ = V(x), V(y) = max(ρ, m_y + γ E V(children of y)) and ρ = m_x + γ E V(children of x);
    ρ is found by value iteration ρ ← F(ρ) (a γ-contraction), each F by backward induction
    over the tree of depth `depth` whose leaves take max(ρ, m/(1 − γ)) (error ≤ γ^depth/(1−γ)).
    Katehakis & Veinott, Math. Oper. Res. 12 (1987) 262–268: G(x) = (1 − γ) V_x(x).
    """
    def F(rho):
        j = np.arange(depth + 1)
        V = np.maximum(rho, (a + j) / (a + b + depth) / (1 - gamma))
        for r in range(depth - 1, -1, -1):
            m = (a + j[: r + 1]) / (a + b + r)
            C = m * (1 + gamma * V[1:]) + (1 - m) * gamma * V[:-1]
            V = C if r == 0 else np.maximum(rho, C)
        return V[0]

    rho = a / (a + b) / (1 - gamma)
    while True:
        new = F(rho)
        if abs(new - rho) <= tol * (1 - gamma):  # contraction: then |ρ − ρ*| ≤ tol
            return (1 - gamma) * new
        rho = new


@pytest.mark.parametrize("a, b, gamma", [(1, 1, 0.5), (1, 1, 0.8), (2, 5, 0.8), (4, 1, 0.9),
                                         (0.5, 0.5, 0.9), (3, 3, 0.7), (1, 9, 0.9)])
def test_agrees_with_restart_in_state(a, b, gamma):
    depth = math.ceil(math.log(1e-10 * (1 - gamma)) / math.log(gamma))
    ref = _restart_index(a, b, gamma, depth)  # within ~1e-10 of G
    assert abs(gittins_index(a, b, gamma) - ref) <= 1e-6
    assert abs(gittins_index(a, b, gamma, tol=1e-9) - ref) <= 1e-9


# ---- the accuracy guarantee ----------------------------------------------------------------
@pytest.mark.parametrize("gamma", [0.3, 0.9, 0.97])
def test_error_within_half_tol(gamma):
    a = np.array([1.0, 1.0, 2.0, 5.0, 0.5, 3.0, 12.0])
    b = np.array([1.0, 4.0, 1.0, 5.0, 0.5, 9.0, 2.0])
    ref = gittins_index(a, b, gamma, tol=1e-10)
    for tol in (1e-2, 1e-4, 1e-6):
        err = np.abs(gittins_index(a, b, gamma, tol=tol) - ref)
        assert (err <= tol / 2 + 1e-10).all(), (tol, err)


@settings(max_examples=15, deadline=None)
@given(st.floats(0.2, 20), st.floats(0.2, 20), st.floats(0.05, 0.9))
def test_bracket_property(a, b, gamma):
    g3 = gittins_index(a, b, gamma, tol=1e-3)
    g8 = gittins_index(a, b, gamma, tol=1e-8)
    assert abs(g3 - g8) <= 5e-4 + 5e-9


def test_truncation_depth_rule():
    """N is the least N ≥ 1 with γᴺ/(4(1 − γ)√(n0 + N + 1)) ≤ tol/2."""
    def eps(g, N, n0):
        return g**N / (4 * (1 - g) * math.sqrt(n0 + N + 1))

    for g, tol, n0 in [(0.9, 1e-6, 2.0), (0.5, 1e-3, 10.0), (0.99, 1e-6, 2.0)]:
        N = truncation_depth(g, tol, n0)
        assert eps(g, N, n0) <= tol / 2 and (N == 1 or eps(g, N - 1, n0) > tol / 2)
    assert truncation_depth(0.0, 1e-6) == 1
    assert truncation_depth(0.9, 1e-6) == 124
    with pytest.raises(ValueError, match="MAX_DEPTH"):
        truncation_depth(0.9999, 1e-9)
    assert MAX_DEPTH == 20_000


# ---- properties ----------------------------------------------------------------------------
def test_index_exceeds_mean_and_is_bounded_above():
    """m ≤ G ≤ m + γ sd/(2(1 − γ)): after one pull, full information is worth at most
    E(p − λ)⁺ ≤ ½ sd per step, so f(m + γ sd/(2(1 − γ))) ≤ 0. Hence G → m as γ → 0."""
    a = np.array([1.0, 2.0, 1.0, 7.0, 0.5])
    b = np.array([1.0, 1.0, 6.0, 3.0, 2.0])
    m = a / (a + b)
    sd = np.sqrt(m * (1 - m) / (a + b + 1))
    for gamma in (1e-3, 0.01, 0.1, 0.5, 0.9):
        G = gittins_index(a, b, gamma)
        assert (G >= m - 5e-7).all()
        assert (G > m).all()
        assert (G <= m + gamma * sd / (2 * (1 - gamma)) + 5e-7).all()
    np.testing.assert_array_equal(gittins_index(a, b, 0.0), m)


def test_monotone_in_counts_and_gamma():
    T = gittins_table(0.9, 8)
    s, f = np.meshgrid(np.arange(9), np.arange(9), indexing="ij")
    ok = s + f <= 7
    assert (T[1:, :][ok[:-1, :]] > T[:-1, :][ok[:-1, :]]).all()  # a success raises it
    assert (T[:, 1:][ok[:, :-1]] < T[:, :-1][ok[:, :-1]]).all()  # a failure lowers it
    gammas = [0.1, 0.5, 0.8, 0.9, 0.95]
    for a, b in [(1, 1), (2, 7), (6, 2)]:
        vals = [gittins_index(a, b, g) for g in gammas]
        assert all(v1 > v0 for v0, v1 in zip(vals, vals[1:], strict=False))


def test_vectorised_equals_scalar_calls():
    a = np.array([[1.0, 2.0], [3.0, 0.7]])
    G = gittins_index(a, 2.0, 0.8)
    assert G.shape == (2, 2) and G.dtype == np.float64
    for i in np.ndindex(2, 2):
        assert abs(G[i] - gittins_index(float(a[i]), 2.0, 0.8)) <= 1e-6
    assert isinstance(gittins_index(1, 1, 0.8), float)


def test_table():
    T = gittins_table(0.8, 4, prior=(2, 1))
    assert T.shape == (5, 5)
    s, f = np.meshgrid(np.arange(5), np.arange(5), indexing="ij")
    inside = s + f <= 4
    assert np.isnan(T[~inside]).all() and np.isfinite(T[inside]).all()
    direct = gittins_index(2 + s[inside], 1 + f[inside], 0.8)
    np.testing.assert_allclose(T[inside], direct, rtol=0, atol=1e-6)
    assert gittins_table(0.8, 0).shape == (1, 1)
    assert abs(gittins_table(0.9, 0)[0, 0] - 0.7029) <= 5e-5 + 5e-7


# ---- errors --------------------------------------------------------------------------------
@pytest.mark.parametrize("args, kwargs, match", [
    ((1, 1, 1.0), {}, "gamma"), ((1, 1, -0.1), {}, "gamma"), ((1, 1, float("nan")), {}, "gamma"),
    ((1, 1, "0.9"), {}, "gamma"), ((1, 1, True), {}, "gamma"),
    ((1, 1, 0.9), dict(tol=0), "tol"), ((1, 1, 0.9), dict(tol=-1e-3), "tol"),
    ((1, 1, 0.9), dict(tol=float("inf")), "tol"),
    ((0, 1, 0.9), {}, "alpha"), ((-1, 1, 0.9), {}, "alpha"), ((np.nan, 1, 0.9), {}, "alpha"),
    (("a", 1, 0.9), {}, "alpha"), ((1, 0, 0.9), {}, "beta"),
    (([1, 2], [1, -1], 0.9), {}, r"beta.*index \(1,\)"),
    ((1, 1, 0.9999), dict(tol=1e-9), "MAX_DEPTH"),
])
def test_gittins_index_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        gittins_index(*args, **kwargs)


@pytest.mark.parametrize("args, kwargs, match", [
    ((0.9, -1), {}, "max_pulls"), ((0.9, 1.5), {}, "max_pulls"), ((0.9, True), {}, "max_pulls"),
    ((0.9, 3), dict(prior=(1, 1, 1)), "shape"), ((0.9, 3), dict(prior=(0, 1)), "prior"),
    ((1.2, 3), {}, "gamma"), ((0.9, 3), dict(tol=0.0), "tol"),
])
def test_gittins_table_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        gittins_table(*args, **kwargs)
