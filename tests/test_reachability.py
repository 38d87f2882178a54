"""γ = 1 beyond shortest paths (issue 14, item 1): zero-reward loops are worth 0, so the
positive (reachability) and negative models of Puterman (1994, ch. 7) are solved by every
method (theory/solvers/total.py); infinite or undetermined values are refused, naming the
states and actions."""

from fractions import Fraction as F

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesabase.theory import (
    IllPosedMDP,
    TabularMDP,
    check_episodic,
    evaluate,
    from_gym,
    q_values,
    solve,
)
from mesabase.theory.episodic import end_components, toward, zero_reward_classes
from mesabase.theory.solvers.exact import evaluate_exact
from mesabase.theory.solvers.total import reduce_total

METHODS = ["vi", "pi", "lp", "cvxpy", "auto"]
try:
    import cvxpy  # noqa: F401
except ImportError:  # pragma: no cover - cvxpy is a test dependency here
    METHODS.remove("cvxpy")


def frozen_lake() -> TabularMDP:
    gym = pytest.importorskip("gymnasium")
    env = gym.make("FrozenLake-v1", is_slippery=True).unwrapped
    return from_gym(env.P, gamma=1.0, mu0=env.initial_state_distrib)


def one_hot(actions, A):
    return (np.asarray(actions)[:, None] == np.arange(A)).astype(int)


def plain_value_iteration(mdp, sweeps=5000):
    """V_{k+1} = max_a (R + P V_k) from V_0 = 0 (numpy only): in a positive model it
    increases to V*, the least non-negative fixed point (Puterman 1994, Thm 7.2.12)."""
    V = np.zeros(mdp.n_states)
    for _ in range(sweeps):
        V = (mdp.R + np.einsum("sat,t->sa", mdp.P, V)).max(axis=1)
    return V


# ---- FrozenLake 4×4 slippery: the probability of reaching the goal ----------------------
def test_frozen_lake_exact_value_is_14_17():
    mdp = frozen_lake()
    with pytest.raises(IllPosedMDP, match="zero-reward loop"):  # not a shortest path
        check_episodic(mdp)
    ex = solve(mdp, "exact")
    assert ex.V[0] == F(14, 17) and ex.error_bound == 0.0
    # independently: value iteration from 0, which converges to V* in a positive model
    np.testing.assert_allclose(plain_value_iteration(mdp), ex.V.astype(float), atol=1e-12)
    # the returned policy reaches the goal with probability exactly V*, from every state
    assert (evaluate_exact(mdp, one_hot(ex.actions, 4)) == ex.V).all()
    assert ex.actions[0] == 0  # LEFT: hug the wall, the classic answer


@pytest.mark.parametrize("method", METHODS)
def test_frozen_lake_every_float_method(method):
    mdp = frozen_lake()
    exact = solve(mdp, "exact").V.astype(float)
    sol = solve(mdp, method)
    assert abs(sol.V[0] - 14 / 17) <= 1e-9
    err = np.abs(sol.V - exact).max()
    assert err <= sol.error_bound <= 1e-9  # a real bound, and a useful one
    np.testing.assert_allclose(evaluate(mdp, sol.greedy), exact, atol=1e-9)
    assert sol.optimal[np.arange(17), sol.actions].all()


def test_frozen_lake_policies_that_loop_are_worth_zero():
    mdp = frozen_lake()
    up = one_hot(np.full(17, 3), 4)  # UP from the top row: never reaches a hole or the goal
    V = evaluate(mdp, up)
    assert V[:4].tolist() == [0.0] * 4
    assert evaluate_exact(mdp, up)[:4].tolist() == [0] * 4
    # the uniform random walk: exact and float agree
    uniform = evaluate_exact(mdp, np.full((17, 4), F(1, 4), dtype=object))
    assert uniform[0] == F(483, 34649)
    np.testing.assert_allclose(evaluate(mdp, np.full((17, 4), 0.25)), uniform.astype(float),
                               atol=1e-12)
    Q = q_values(mdp, up)
    assert (Q[:4] == 0.0).all()  # whatever the first step, UP ever after earns nothing


def test_frozen_lake_with_a_mask():
    # no LEFT on the lake: the wall-hugging strategy is gone (3/14, by exact arithmetic)
    mdp = frozen_lake()
    allowed = np.ones((17, 4), dtype=bool)
    allowed[:16, 0] = False
    masked = TabularMDP(mdp.P, mdp.R, gamma=1.0, allowed=allowed)
    ex = solve(masked, "exact")
    assert ex.V[0] == F(3, 14) and not ex.optimal[:16, 0].any()
    assert (evaluate_exact(masked, one_hot(ex.actions, 4)) == ex.V).all()
    for method in METHODS:
        sol = solve(masked, method)
        np.testing.assert_allclose(sol.V, ex.V.astype(float), atol=1e-9, err_msg=method)
        assert allowed[np.arange(17), sol.actions].all() and sol.Q[0, 0] == -np.inf
        assert np.abs(sol.V - ex.V.astype(float)).max() <= sol.error_bound


# ---- refusals: infinite or undetermined values -------------------------------------------
def cycle(r01, r10):
    """0 → 1 → 0 by action 0 (rewards r01, r10); action 1 ends (state 2) with reward 0."""
    P = np.zeros((3, 2, 3))
    P[0, 0, 1] = P[1, 0, 0] = P[0, 1, 2] = P[1, 1, 2] = P[2, :, 2] = 1.0
    return TabularMDP(P, [[r01, 0.0], [r10, 0.0], [0.0, 0.0]], gamma=1.0)


@pytest.mark.parametrize("method", [*METHODS, "exact"])
def test_mixed_sign_loop_is_refused_naming_states_and_actions(method):
    with pytest.raises(IllPosedMDP, match=r"stay forever in states \[0, 1\] repeating action 0 "
                                          r"in state 0 .* and action 0 in state 1 .*"
                                          r"\+inf - inf"):
        solve(cycle(1.0, -1.0), method)


@pytest.mark.parametrize("method", [*METHODS, "exact"])
def test_positive_loop_is_refused_as_plus_infinity(method):
    with pytest.raises(IllPosedMDP, match=r"states \[0, 1\] repeating action 0 in state 0 "
                                          r"\(reward R\[0, 0\] = 1.0 > 0\): V\* = \+inf"):
        solve(cycle(1.0, 0.0), method)


def test_evaluating_a_loop_with_reward_names_it():
    loop = one_hot([0, 0, 0], 2)
    for r01, r10 in ((1.0, -1.0), (1.0, 0.0), (-1.0, 0.0)):
        mdp = cycle(r01, r10)
        with pytest.raises(IllPosedMDP, match=r"never terminates from states \[0, 1\]: it "
                                              r"repeats action 0 in state 0"):
            evaluate(mdp, loop)
        with pytest.raises(IllPosedMDP, match=r"never terminates from states \[0, 1\]"):
            evaluate_exact(mdp, loop)
    zero = cycle(0.0, 0.0)  # the same loop earning nothing: worth 0
    assert evaluate(zero, loop).tolist() == [0.0] * 3
    assert evaluate(cycle(-1.0, 0.0), one_hot([1, 1, 0], 2)).tolist() == [0.0] * 3


def test_minus_infinity_states_are_named():
    # state 0 can rest (zero loop) or go to 1; states 1 and 2 swap forever at −1 per step
    P = np.zeros((3, 2, 3))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 2] = P[2, :, 1] = 1.0
    mdp = TabularMDP(P, [[0.0, 5.0], [-1.0, -1.0], [-1.0, -1.0]], gamma=1.0)
    for method in [*METHODS, "exact"]:
        with pytest.raises(IllPosedMDP, match=r"from states \[1, 2\] every policy repeats a "
                                              r"negative reward forever .* V\* = -inf"):
            solve(mdp, method)


# ---- negative models: zero loops against costs ---------------------------------------------
def test_negative_model_rest_or_pay():
    # 0: rest (0, stays) or pay 1 to move to 1; 1: pay 2 to end, or rest
    P = np.zeros((3, 2, 3))
    P[0, 0, 0] = P[0, 1, 1] = P[1, 0, 2] = P[1, 1, 1] = P[2, :, 2] = 1.0
    mdp = TabularMDP(P, [[0.0, -1.0], [-2.0, 0.0], [0.0, 0.0]], gamma=1.0)
    for method in [*METHODS, "exact"]:
        sol = solve(mdp, method)
        assert sol.V.tolist() == [0, 0, 0] and sol.actions.tolist()[:2] == [0, 1], method
    # a bonus for ending makes moving on worth it: 0 → 1 → end pays −1 − 2 + 5
    P2 = P.copy()
    mdp2 = TabularMDP(P2, [[0.0, -1.0], [3.0, 0.0], [0.0, 0.0]], gamma=1.0)
    for method in [*METHODS, "exact"]:
        sol = solve(mdp2, method)
        np.testing.assert_allclose(sol.V.astype(float), [2.0, 3.0, 0.0], atol=1e-9)
        assert sol.actions.tolist()[:2] == [1, 0], method


# ---- every method agrees with exact arithmetic on random problems ---------------------------
@st.composite
def loopy_problems(draw):
    """Random sparse dynamics over S states plus a goal and a pit (both absorbing); rewards
    either 'reach the goal' (R = P[s, a, goal] ≥ 0) or costs in {0, −1, −2} with a bonus
    for reaching the goal: zero loops are common. Rows k/n, so exact mode reads them back."""
    S = draw(st.integers(1, 6))
    A = draw(st.integers(1, 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    K = np.where(rng.random((S + 2, A, S + 2)) < 0.35, rng.integers(1, 6, (S + 2, A, S + 2)), 0)
    K[np.arange(S + 2), :, np.arange(S + 2)] += (K.sum(-1) == 0)  # no empty row: stay
    K[S:] = 0
    K[S, :, S] = K[S + 1, :, S + 1] = 1
    P = K / K.sum(-1, keepdims=True)
    if draw(st.booleans()):
        R = P[:, :, S].copy()
    else:
        R = -rng.integers(0, 3, (S + 2, A)) * (rng.random((S + 2, A)) < 0.5) + 3.0 * P[:, :, S]
    R[S:] = 0.0
    allowed = None
    if draw(st.booleans()):  # an action mask (exact mode once returned a disallowed action)
        allowed = rng.random((S + 2, A)) < 0.7
        allowed[np.arange(S + 2), rng.integers(0, A, S + 2)] = True
    return TabularMDP(P, R, gamma=1.0, allowed=allowed)


@settings(max_examples=40, deadline=None)
@given(loopy_problems())
def test_every_method_agrees_with_exact(mdp):
    try:
        ex = solve(mdp, "exact")
    except IllPosedMDP as e:
        for method in METHODS:
            with pytest.raises(IllPosedMDP):
                solve(mdp, method)
        assert "inf" in str(e)
        return
    V = ex.V.astype(float)
    A = mdp.n_actions
    assert mdp.allowed[np.arange(mdp.n_states), ex.actions].all()
    assert (evaluate_exact(mdp, one_hot(ex.actions, A)) == ex.V).all()  # optimal, exactly
    for method in METHODS:
        sol = solve(mdp, method)
        err = np.abs(sol.V - V).max()
        assert err <= 1e-9 and err <= sol.error_bound, method
        np.testing.assert_allclose(evaluate(mdp, sol.greedy), V, atol=1e-9, err_msg=method)
        assert (sol.optimal | ~ex.optimal).all(), method  # exact ties are within the set


# ---- the graph helpers ---------------------------------------------------------------------
def test_end_components_toward_and_reduction_by_hand():
    # 0 ⇄ 1 by action 0 (zero reward), 1 → 2 by action 1, 2 absorbing; 0's action 1 → 3,
    # 3 → 3 (absorbing) with reward 0 by action 0 and −1 by action 1
    P = np.zeros((4, 2, 4))
    P[0, 0, 1] = P[1, 0, 0] = P[1, 1, 2] = P[0, 1, 3] = P[2, :, 2] = P[3, :, 3] = 1.0
    R = np.array([[0.0, 0.0], [0.0, 0.5], [0.0, 0.0], [0.0, -1.0]])
    mdp = TabularMDP(P, R, gamma=1.0)
    ec, inside = end_components(mdp, mdp.allowed)
    assert ec[0] == ec[1] != ec[2] and len(set(ec.tolist())) == 3
    assert inside.tolist() == [[True, False], [True, False], [True, True], [True, True]]
    reach, act = toward(mdp, inside, np.array([False, True, False, False]))
    assert reach[:2].all() and act[0] == 0
    # zero blocks {0, 1} (options (0, 1), (1, 1), stop) and {3} (options (3, 1), stop);
    # state 2 is terminal: τ
    red = reduce_total(mdp)
    assert red.node.tolist() == [0, 0, -1, 1] and red.n_nodes == 2
    options = list(zip(red.opt_node.tolist(), red.opt_s.tolist(), red.opt_a.tolist(),
                       strict=True))
    assert options == [(0, 0, 1), (0, 1, 1), (0, 0, -1), (1, 3, 1), (1, 3, -1)]
    sol = solve(mdp, "exact")  # leave from 1 for the 0.5: from 0 walk to 1 first
    assert sol.V.tolist() == [F(1, 2), F(1, 2), 0, 0] and sol.actions.tolist()[:2] == [0, 1]
    closed = zero_reward_classes(P[:, 0], np.eye(2, dtype=bool)[[0, 0, 0, 0]], R)
    assert closed.tolist() == [True, True, True, True]
    assert reduce_total(TabularMDP(P[2:, :, 2:], R[2:] * 0, gamma=1.0)) is None
