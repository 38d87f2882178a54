"""Ng & Russell's (2000) 5×5 gridworld reproduced (mesabase.theory.revealed_grid) and its
heat-map figure (mesabase.sims.reports.revealed_figures)."""

import dataclasses
from fractions import Fraction

import numpy as np
import pytest
from figure_checks import check_post_figure
from matplotlib.patches import Rectangle

from mesabase.sims.reports.revealed_figures import plot_revealed_gridworld
from mesabase.theory import ng_russell_gridworld, ng_russell_mdp

N, NORTH, SOUTH, EAST, WEST = 5, 0, 1, 2, 3


@pytest.fixture(scope="module")
def result():
    return ng_russell_gridworld()


def _reflect(grid: np.ndarray) -> np.ndarray:
    """The symmetry about the anti-diagonal, (r, c) → (4 − c, 4 − r): it fixes the goal."""
    return grid[::-1, ::-1].swapaxes(0, 1)


def test_the_world_is_ng_and_russells():
    mdp = ng_russell_mdp()
    P = mdp.P
    # intended move 0.7 + 0.3/4; from the corner (4, 0) west and south bump: stay w.p. 0.15
    assert P[12, NORTH, 7] == pytest.approx(0.775) and P[20, NORTH, 20] == pytest.approx(0.15)
    assert (P[4, :, 4] == 1).all() and (mdp.R[4] == 1).all() and mdp.R.sum() == 4
    assert mdp.exact_arrays()[2] == Fraction(1, 5)  # Alger's discount (the paper gives none)
    # slips to one of the other three; an ordinary goal: north from it bumps (0.7) or slips
    # east and bumps (0.1)
    other = ng_russell_mdp(slip="other", absorbing=False).P
    assert other[12, NORTH, 7] == pytest.approx(0.7) and other[12, NORTH, 11] == pytest.approx(0.1)
    assert other[4, NORTH, 4] == pytest.approx(0.8) and other[4, SOUTH, 9] == pytest.approx(0.7)
    with pytest.raises(ValueError, match="slip must be one of"):
        ng_russell_mdp(slip="all")


def test_the_default_reproduces_the_published_recovery(result):
    """Ng & Russell's Figure 2 at λ = 1.05: the corner spike recovered, the rest near 0 (all
    but one square within 0.05; module docstring); at λ = 0 the bumpy reward."""
    rec = result.recovered
    assert result.l1 == 1.05 and result.gamma == pytest.approx(0.2)
    assert result.correlation > 0.95 and result.tie_break_correlations[0] > 0.95
    assert rec[0, N - 1] == pytest.approx(1.0, abs=1e-7)
    rest = np.abs(np.delete(rec.ravel(), N - 1))
    assert rest.max() < 0.2 and (rest > 0.05).sum() == 1
    assert result.correlation_no_penalty < 0.5


def test_gamma_0_3_survives_a_solver_failure():
    """HiGHS raises on one of the range LPs at γ = 0.3; the fallback chain answers."""
    r = ng_russell_gridworld(gamma=Fraction(3, 10), max_tie_breaks=1)
    assert r.correlation > 0.95 and r.recovered[0, N - 1] == pytest.approx(1.0, abs=1e-6)
    lo, hi = r.ranges
    assert (lo <= r.recovered + 1e-6).all() and (r.recovered <= hi + 1e-6).all()


def test_optimal_sets_are_symmetric_and_tie_on_the_anti_diagonal(result):
    opt = result.optimal.reshape(N, N, 4)
    swap = opt[..., [EAST, WEST, NORTH, SOUTH]]  # the reflection swaps north/east, south/west
    assert (_reflect(swap) == opt).all()
    for r in range(1, N):
        assert opt[r, N - 1 - r, NORTH] and opt[r, N - 1 - r, EAST]
    assert set(result.tie_states) >= {r * N + N - 1 - r for r in range(1, N)}


def test_true_and_recovered_rewards_are_in_the_revealed_set(result):
    rs = result.rs
    as_sa = lambda g: np.repeat(g.reshape(-1, 1), 4, axis=1)  # noqa: E731
    m = rs.contains(as_sa(result.true_reward), tol=0.0)
    assert m.member and m.certain
    assert rs.contains(as_sa(result.recovered), tol=1e-7).member
    assert np.abs(result.recovered).max() <= result.r_max + 1e-9
    lo, hi = result.ranges
    assert (lo <= result.recovered + 1e-7).all() and (result.recovered <= hi + 1e-7).all()


def test_a_unique_recovered_reward_is_symmetric(result):
    """The LP and the optimal sets are invariant under the reflection, so a unique optimum is."""
    for rec, (lo, hi) in ((result.recovered, result.ranges),
                          (result.recovered_no_penalty, result.ranges_no_penalty)):
        if (hi - lo).max() < 1e-5:
            np.testing.assert_allclose(rec, _reflect(rec), atol=1e-5)


def test_recovered_reward_maximises_ng_and_russells_own_objective(result):
    """Their objective, Σ_s min_{a ∉ opt(s)} (P_π(s) − P_a(s))(I − γP_π)⁻¹R − λ‖R‖₁ with their
    λ, is at least as large at the recovered reward as at the true reward and at 0."""
    mdp, opt, g, lam = ng_russell_mdp(), result.optimal, result.gamma, result.l1
    P = mdp.P
    pi = opt / opt.sum(1, keepdims=True)
    P_pi = np.einsum("sa,sat->st", pi, P)
    inv = np.linalg.inv(np.eye(N * N) - g * P_pi)

    def objective(R):
        V = inv @ R.reshape(-1)
        terms = [min((P_pi[s] - P[s, a]) @ V for a in np.flatnonzero(~opt[s]))
                 for s in range(N * N) if (~opt[s]).any()]
        return sum(terms) - lam * np.abs(R).sum()

    best = objective(result.recovered)
    assert best >= objective(result.true_reward) - 1e-7 and best >= -1e-9
    assert result.correlation == pytest.approx(
        np.corrcoef(result.recovered.ravel(), result.true_reward.ravel())[0, 1], abs=1e-12)
    lo, hi = result.tie_break_correlations
    assert -1 <= lo <= hi <= 1
    sizes = result.optimal[list(result.tie_states)].sum(axis=1)
    assert result.tie_breaks[0] == result.tie_breaks[1] == int(np.prod(sizes))


def test_heat_map_figure(result):
    fig = plot_revealed_gridworld(result)
    images = [ax for ax in fig.axes if ax.images]
    assert len(images) == 3
    np.testing.assert_array_equal(images[0].images[0].get_array(), result.true_reward)
    np.testing.assert_array_equal(images[2].images[0].get_array(), result.recovered)
    check_post_figure(fig, ["Ng & Russell"])
    # a square whose value is not forced is hatched and shows its range
    lo, hi = result.ranges
    wide = dataclasses.replace(result, ranges=(lo - 0.5 * (np.arange(N * N) == 3).reshape(N, N),
                                               hi))
    fig = plot_revealed_gridworld(wide)
    hatched = [p for p in fig.axes[2].patches if isinstance(p, Rectangle) and p.get_hatch()]
    assert len(hatched) == 1
    with pytest.raises(TypeError, match="NgRussellResult"):
        plot_revealed_gridworld(object())
