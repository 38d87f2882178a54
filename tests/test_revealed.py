"""Revealed rewards (mesabase.theory.revealed): the cone of rewards under which a policy is
optimal, against exact solves, brute force, Ng & Russell's Theorem 3 and shaping invariance."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesabase.theory import (
    InvalidMDP,
    TabularMDP,
    revealed_rewards,
    shaping_term,
    solve,
    solve_exact,
)
from mesabase.theory.strategies import mdps

SMALL = dict(n_states=st.integers(1, 3), n_actions=st.integers(1, 3))
LP_TOL = 1e-7  # solver feasibility: margins of LP solutions are >= -LP_TOL


def _random_mdp(rng, S, A, gamma=0.8, horizon=None):
    """Rows of P are small integer weights normalised, so that their floats read back as
    rationals summing to exactly 1 (the exact certificate then applies)."""
    W = rng.integers(0, 5, size=(S, A, S)).astype(float)
    W[W.sum(-1) == 0, 0] = 1.0
    P = W / W.sum(-1, keepdims=True)
    return TabularMDP(P, rng.normal(size=(S, A)), gamma=gamma, horizon=horizon)


def _exact_optimal(mdp):
    """Exact optimal sets and the policy uniform over them (float)."""
    opt = np.asarray(solve_exact(mdp).optimal, dtype=bool)
    return opt, opt / opt.sum(axis=-1, keepdims=True)


# ---- membership -------------------------------------------------------------------------
@settings(max_examples=25)
@given(mdps(**SMALL, rational=True), st.booleans())
def test_an_optimal_policy_set_contains_its_reward(mdp, deterministic):
    opt, pi = _exact_optimal(mdp)
    if deterministic:
        pi = np.argmax(opt, axis=1)
    rs = revealed_rewards(mdp, pi)
    m = rs.contains(mdp.R, tol=0.0)
    assert m.member and m.certain
    if rs.pairs.size:  # exact arithmetic on exact input
        assert m.exact >= 0 and m.interval == (float(m.exact),) * 2
    else:  # one action: nothing to compare
        assert m.margin == np.inf and m.exact is None


@settings(max_examples=10)
@given(mdps(**SMALL, rational=True, horizon=st.integers(1, 3), gamma=st.just(Fraction(1))))
def test_finite_horizon_optimal_policy_contains_its_reward(mdp):
    opt, pi = _exact_optimal(mdp)  # (H, S, A): a per-step policy
    rs = revealed_rewards(mdp, pi)
    assert rs.contains(mdp.R, tol=0.0).member
    assert rs.pairs[:, 0].max(initial=0) <= mdp.horizon - 1


@settings(max_examples=15)
@given(mdps(n_states=st.integers(1, 3), n_actions=st.integers(2, 3), rational=True), st.data())
def test_a_suboptimal_policy_is_refused_and_its_distance_is_positive(mdp, data):
    opt, _ = _exact_optimal(mdp)
    bad = np.argwhere(~opt)
    if not bad.size:
        return  # every action optimal everywhere: nothing to refuse
    s, a = bad[data.draw(st.integers(0, len(bad) - 1))]
    acts = np.argmax(opt, axis=1)
    acts[s] = a
    rs = revealed_rewards(mdp, acts)
    m = rs.contains(mdp.R)
    assert not m.member and m.certain and m.interval[1] < 0
    near = rs.distance(mdp.R, "linf")
    assert near.value > 0 and near.min_margin >= -LP_TOL
    # the nearest reward makes the policy optimal (an independent solve)
    sol = solve(mdp.with_reward(near.reward))
    best = sol.Q.max(axis=1)
    assert (sol.Q[np.arange(mdp.n_states), acts] >= best - 1e-6).all()


def test_float_certificate_encloses_the_exact_margin():
    rng = np.random.default_rng(0)
    for horizon in (None, 3):
        mdp = _random_mdp(rng, 4, 3, horizon=horizon)
        rs = revealed_rewards(mdp, rng.integers(0, 3, size=4))
        R = rng.normal(size=(4, 3))
        f, e = rs.contains(R, exact=False), rs.contains(R, exact=True)
        assert f.interval[0] <= float(e.exact) <= f.interval[1]
        assert 0 < f.interval[1] - f.interval[0] < 1e-12


# ---- the cone's constraint matrix ---------------------------------------------------------
@pytest.mark.parametrize("horizon", [None, 4])
@pytest.mark.parametrize("basis", ["state_action", "state", "features"])
def test_constraint_rows_are_the_margins(basis, horizon):
    rng = np.random.default_rng(1)
    mdp = _random_mdp(rng, 5, 3, horizon=horizon)
    b = rng.normal(size=(5, 3, 4)) if basis == "features" else basis
    pi = rng.dirichlet(np.ones(3), size=5)
    pi[pi < 0.2] = 0.0
    pi /= pi.sum(1, keepdims=True)
    rs = revealed_rewards(mdp, pi, b, eps=0.2)
    w = rng.normal(size=rs.n_weights)
    np.testing.assert_allclose(rs.D @ w, rs.margins(rs.reward(w)), atol=1e-10)


def test_state_rewards_give_ng_russell_theorem_3():
    """(P_π − P_a)(I − γ P_π)⁻¹ R ⪰ 0 (Ng & Russell 2000, Theorem 3): our rows are γ times it."""
    rng = np.random.default_rng(2)
    mdp = _random_mdp(rng, 6, 3, gamma=0.7)
    acts = rng.integers(0, 3, size=6)
    rs = revealed_rewards(mdp, acts, "state")
    P = mdp.P
    P_pi = P[np.arange(6), acts]
    inv = np.linalg.inv(np.eye(6) - 0.7 * P_pi)
    for (t, s, a, b), row in zip(rs.pairs, rs.D, strict=True):
        assert t == 0 and a == acts[s] and b != a
        np.testing.assert_allclose(row, 0.7 * (P_pi[s] - P[s, b]) @ inv, atol=1e-12)


# ---- distance against brute force -----------------------------------------------------------
def _brute_distance(mdp, acts, R, norm, h, reach):
    """min ‖R' − R‖ over the grid R' = R + h·k (k integer in all S·A entries) within
    ‖R' − R‖ ≤ reach, optimality checked by evaluating the deterministic policy and one
    Bellman backup, batched (no use of the cone)."""
    S, A = R.shape
    radius = int(np.ceil(reach / h))
    ks = np.arange(-radius, radius + 1) * h
    grid = np.stack(np.meshgrid(*[ks] * (S * A), indexing="ij"), -1).reshape(-1, S * A)
    d = {"l1": np.abs(grid).sum(1), "linf": np.abs(grid).max(1),
         "l2": np.sqrt((grid ** 2).sum(1))}[norm]
    grid, d = grid[d <= reach], d[d <= reach]
    Rs = (R.reshape(1, -1) + grid).reshape(-1, S, A)
    P, g = mdp.P, mdp.gamma
    P_pi = P[np.arange(S), acts]
    V = np.linalg.solve(np.eye(S) - g * P_pi, Rs[:, np.arange(S), acts].T).T
    Q = Rs + g * np.einsum("sat,nt->nsa", P, V)
    ok = (Q.max(axis=2) <= V + 1e-12).all(axis=1)
    return d[ok].min()


@pytest.mark.parametrize("norm", ["l1", "linf", "l2"])
@pytest.mark.parametrize("seed", [3, 4, 5])
def test_distance_agrees_with_brute_force(norm, seed):
    rng = np.random.default_rng(seed)
    mdp = _random_mdp(rng, 2, 2, gamma=0.6)
    R = 0.4 * mdp.R  # distances of order 0.2-0.8
    acts = np.argmin(solve(mdp).Q, axis=1)  # the worst actions: far from optimal
    rs = revealed_rewards(mdp, acts)
    near = rs.distance(R, norm)
    assert near.value > 0.2
    h = 0.05  # the grid: steps of 0.05 in each of the 4 rewards, out to 1.2 × the LP value
    brute = _brute_distance(mdp, acts, R, norm, h, 1.2 * near.value)
    assert near.value <= brute + 1e-7  # every grid point found is in the set
    assert brute <= near.value + 2 * h  # a grid point near the optimum is in the set
    assert near.min_margin >= -LP_TOL


def test_distance_is_zero_inside_and_returns_r():
    rng = np.random.default_rng(6)
    mdp = _random_mdp(rng, 3, 2)
    rs = revealed_rewards(mdp, solve(mdp).actions)
    near = rs.distance(mdp.R, "l2")
    assert near.value == 0.0 and (near.reward == mdp.R).all()


# ---- triviality ---------------------------------------------------------------------------
def test_constant_rewards_are_trivial_and_in_every_set():
    rng = np.random.default_rng(7)
    mdp = _random_mdp(rng, 4, 3)
    acts = rng.integers(0, 3, size=4)
    assert revealed_rewards(mdp, acts, np.ones((4, 3, 1))).trivial()  # constants only
    rs = revealed_rewards(mdp, acts)
    m = rs.contains(np.full((4, 3), 2.5))
    assert m.member and m.exact == 0  # every action optimal: all margins exactly 0
    assert not rs.trivial()
    R = rs.strict_reward()
    assert rs.margins(R).min() >= -LP_TOL and rs.margins(R)[rs.strict].max() > 0.5


def test_uniform_policy_and_indistinguishable_actions_are_trivial():
    rng = np.random.default_rng(8)
    mdp = _random_mdp(rng, 4, 3)
    rs = revealed_rewards(mdp, np.full((4, 3), 1 / 3))
    assert rs.trivial() and rs.strict_reward() is None and not rs.strict.any()
    # actions with identical transitions cannot be told apart by state rewards
    P = np.repeat(rng.dirichlet(np.ones(4), size=(4, 1)), 3, axis=1)
    same = TabularMDP(P, np.zeros((4, 3)), gamma=0.8)
    assert revealed_rewards(same, [0, 1, 2, 0], "state").trivial()
    assert not revealed_rewards(same, [0, 1, 2, 0]).trivial()


# ---- shaping -------------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [9, 10])
def test_potential_shaping_leaves_the_set_unchanged(seed):
    """R and R + γPΦ − Φ (Ng, Harada & Russell 1999) have the same margins and distance."""
    rng = np.random.default_rng(seed)
    mdp = _random_mdp(rng, 4, 3)
    rs = revealed_rewards(mdp, rng.integers(0, 3, size=4))
    R = rng.normal(size=(4, 3))
    F = shaping_term(mdp, rng.normal(size=4) * 3)
    np.testing.assert_allclose(rs.margins(R + F), rs.margins(R), atol=1e-10)
    assert rs.contains(R).member == rs.contains(R + F).member
    for norm in ("l1", "linf"):
        assert abs(rs.distance(R + F, norm).value - rs.distance(R, norm).value) < 1e-6
    assert rs.contains(F).member and rs.contains(F).margin == pytest.approx(0, abs=1e-10)


# ---- stochastic policies -------------------------------------------------------------------
def test_eps_decides_which_actions_must_be_optimal():
    mdp = TabularMDP(np.ones((1, 3, 1)), np.zeros((1, 3)), gamma=0.5)
    pi = [[0.6, 0.4, 0.0]]
    strict, loose = revealed_rewards(mdp, pi, eps=0.5), revealed_rewards(mdp, pi, eps=0.3)
    assert strict.support.tolist() == [[True, False, False]]
    assert loose.support.tolist() == [[True, True, False]]
    tie, one = [[1.0, 1.0, 0.0]], [[1.0, 0.5, 0.0]]
    assert strict.contains(tie) and loose.contains(tie)
    assert strict.contains(one) and not loose.contains(one)


# ---- Ng & Russell's LP ---------------------------------------------------------------------
def test_max_margin_solution_is_feasible_and_bounded():
    rng = np.random.default_rng(11)
    mdp = _random_mdp(rng, 5, 3, gamma=0.9)
    rs = revealed_rewards(mdp, solve(mdp).actions, "state")
    res = rs.max_margin(l1=0.3, r_max=2.0, ranges=True)
    assert np.abs(res.reward).max() <= 2.0 + 1e-9 and res.min_margin >= -LP_TOL
    assert res.objective == pytest.approx(res.margin_sum - 0.3 * res.l1_norm, abs=1e-7)
    lo, hi = res.ranges
    assert (lo <= res.reward + 1e-7).all() and (res.reward <= hi + 1e-7).all()
    # a large penalty leaves only R = 0 (its objective 0 beats any positive ‖w‖₁ cost)
    assert np.abs(rs.max_margin(l1=1e3).reward).max() < 1e-9


def test_masked_actions_are_never_compared():
    rng = np.random.default_rng(12)
    P = rng.dirichlet(np.ones(3), size=(3, 3))
    allowed = np.array([[True, True, False], [True, True, True], [False, True, True]])
    mdp = TabularMDP(P, np.zeros((3, 3)), gamma=0.8, allowed=allowed)
    rs = revealed_rewards(mdp, [0, 2, 1])
    assert allowed[rs.pairs[:, 1], rs.pairs[:, 3]].all()
    R = rs.max_margin(l1=0.1).reward
    assert (R[~allowed] == 0).all() and rs.contains(R, tol=LP_TOL)


# ---- errors --------------------------------------------------------------------------------
def test_bad_input_is_refused_with_a_message():
    rng = np.random.default_rng(13)
    mdp = _random_mdp(rng, 2, 2)
    with pytest.raises(ValueError, match="basis must be one of"):
        revealed_rewards(mdp, [0, 1], "action")
    with pytest.raises(ValueError, match="basis must have shape"):
        revealed_rewards(mdp, [0, 1], np.ones((3, 2, 1)))
    with pytest.raises(ValueError, match="eps must be"):
        revealed_rewards(mdp, [0, 1], eps=0.0)
    with pytest.raises(ValueError, match="exceeds every probability"):
        revealed_rewards(mdp, [[0.5, 0.5], [1, 0]], eps=0.6)
    with pytest.raises(ValueError, match="actions must lie in"):
        revealed_rewards(mdp, [0, 2])
    with pytest.raises(InvalidMDP, match="policy"):
        revealed_rewards(mdp, [[0.5, 0.6], [1, 0]])
    with pytest.raises(ValueError, match="gamma < 1"):
        revealed_rewards(TabularMDP(np.ones((1, 1, 1)), [[0.0]], gamma=1.0), [0])
    with pytest.raises(ValueError, match="terminal"):
        revealed_rewards(TabularMDP(np.ones((1, 1, 1)), [[0.0]], gamma=1.0, horizon=2,
                                    terminal=[1.0]), [0])
    rs = revealed_rewards(mdp, [0, 1])
    with pytest.raises(ValueError, match="R must have shape"):
        rs.contains(np.zeros(2))
    with pytest.raises(ValueError, match="norm must be"):
        rs.distance(np.zeros((2, 2)), "l3")
    with pytest.raises(ValueError, match="l1 must be"):
        rs.max_margin(l1=-1.0)
    with pytest.raises(ValueError, match="r_max must be"):
        rs.max_margin(r_max=0.0)


# ---- solver fallback -----------------------------------------------------------------------
def test_a_failing_solver_hands_over_to_the_next(monkeypatch):
    """A solver that raises, one that stops short of optimal and one that is not installed
    each hand over to the next of the chain; when every one fails the error names the
    program and each failure."""
    from mesabase.theory import SolverFailed, revealed_lp

    rng = np.random.default_rng(14)
    mdp = _random_mdp(rng, 3, 2)
    rs = revealed_rewards(mdp, np.argmin(solve(mdp).Q, axis=1))
    ref = rs.distance(mdp.R, "linf")
    assert ref.solver == "HIGHS" and ref.value > 0.05
    broken = (("bad-option", "HIGHS", {"no_such_option": 1}),
              ("no-iterations", "HIGHS", {"presolve": "off", "simplex_iteration_limit": 0}),
              ("absent", "NO_SUCH_SOLVER", {}))
    clarabel = tuple(c for c in revealed_lp.LP_SOLVERS if c[0] == "CLARABEL")
    monkeypatch.setattr(revealed_lp, "LP_SOLVERS", broken + clarabel)
    near = rs.distance(mdp.R, "linf")
    assert near.solver == "CLARABEL" and near.min_margin >= -LP_TOL
    assert near.value == pytest.approx(ref.value, abs=1e-6)
    assert rs.max_margin(l1=0.1).solver == "CLARABEL"
    monkeypatch.setattr(revealed_lp, "LP_SOLVERS", broken)
    with pytest.raises(SolverFailed, match=r"nearest-reward program \(linf distance\): "
                       r"bad-option: ValueError.*no-iterations: status 'user_limit'.*"
                       r"absent: not installed"):
        rs.distance(mdp.R, "linf")
    with pytest.raises(SolverFailed, match="strict-margin LP"):
        rs.trivial()
