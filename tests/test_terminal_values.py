"""Terminal values of a finite horizon (issue 14, item 3): ``TabularMDP(..., horizon=H,
terminal=v)`` adds γᴴ v(s_H) to the return (pymdptoolbox's ``h``, QuantEcon's ``v_term``)."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesabase.theory import (
    InvalidMDP,
    MDPBatch,
    TabularMDP,
    class_optimal,
    evaluate,
    evaluate_many,
    expected_return,
    from_quantecon,
    q_values,
    solve,
    solve_restricted,
)
from mesabase.theory.attribution import restricted_optima
from mesabase.theory.solvers.exact import evaluate_exact


def test_hand_derived_one_state():
    # reward 1 per step, γ = 1/2, H = 2, v = 8:  V_2 = 8, V_1 = 1 + 8/2 = 5, V_0 = 1 + 5/2
    mdp = TabularMDP(np.ones((1, 1, 1)), [[1.0]], gamma=0.5, horizon=2, terminal=[8.0])
    sol = solve(mdp)
    assert sol.V[:, 0].tolist() == [3.5, 5.0, 8.0]
    assert evaluate(mdp, [[1.0]])[:, 0].tolist() == [3.5, 5.0, 8.0]
    assert expected_return(mdp, [[1.0]]) == 3.5
    assert sol.error_bound < 1e-14


def test_terminal_values_change_the_optimal_action():
    # state 0: a0 stays (reward 1), a1 moves to state 1 (reward 0); state 1 absorbing.
    # H = 1, γ = 0.9:  Q_0(0, ·) = (1 + 0.9 v(0), 0.9 v(1)) = (1, 9) for v = (0, 10).
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    R = [[1.0, 0.0], [0.0, 0.0]]
    plain = solve(TabularMDP(P, R, gamma=0.9, horizon=1))
    with_v = solve(TabularMDP(P, R, gamma=0.9, horizon=1, terminal=[0.0, 10.0]))
    assert plain.actions[0].tolist() == [0, 0]
    np.testing.assert_allclose(with_v.Q[0, 0], [1.0, 9.0], atol=1e-15)
    assert with_v.actions[0, 0] == 1 and with_v.V[1].tolist() == [0.0, 10.0]


@st.composite
def finite_problems(draw):
    S = draw(st.integers(1, 5))
    A = draw(st.integers(1, 3))
    H = draw(st.integers(1, 6))
    gamma = draw(st.sampled_from([0.3, 0.5, 0.95, 1.0]))  # pymdptoolbox needs γ > 0
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    P = rng.random((S, A, S)) ** 2 + 1e-3
    P /= P.sum(-1, keepdims=True)
    return P, rng.normal(size=(S, A)), rng.normal(scale=5.0, size=S), gamma, H


@settings(max_examples=40, deadline=None)
@given(finite_problems())
def test_backward_equals_pymdptoolbox_finite_horizon_with_h(prob):
    mdptoolbox = pytest.importorskip("mdptoolbox.mdp")
    P, R, v, gamma, H = prob
    fh = mdptoolbox.FiniteHorizon(np.moveaxis(P, 1, 0), R, gamma, H, h=v)
    fh.run()
    mdp = TabularMDP(P, R, gamma=gamma, horizon=H, terminal=v)
    sol = solve(mdp)
    np.testing.assert_allclose(sol.V, fh.V.T, atol=1e-9, rtol=0)
    # pymdptoolbox's argmax is one optimal action: ours certifies a set containing it
    assert sol.optimal[np.arange(H)[:, None], np.arange(P.shape[0]), fh.policy.T].all()
    # evaluation of the greedy policy under the same terminal values is V*
    np.testing.assert_allclose(evaluate(mdp, sol.greedy), sol.V, atol=1e-9, rtol=0)
    np.testing.assert_allclose(evaluate_many(mdp, sol.greedy[None, 0])[0, H], v, atol=0)


def test_certificate_covers_the_exact_values():
    rng = np.random.default_rng(5)
    S, A, H = 3, 2, 5
    P = rng.random((S, A, S))
    P /= P.sum(-1, keepdims=True)
    R, v = rng.normal(size=(S, A)) * 100, rng.normal(size=S) * 1e3
    mdp = TabularMDP(P, R, gamma=0.99, horizon=H, terminal=v)
    sol = solve(mdp)
    # exact backward induction on the stored floats, in rationals
    Pf = [[[Fraction(float(x)) for x in row] for row in Ps] for Ps in mdp.P]
    Vx = [Fraction(float(x)) for x in mdp.terminal]
    g = Fraction(mdp.gamma)
    worst = 0.0
    for t in range(H - 1, -1, -1):
        Vx = [max(Fraction(float(R[s, a]))
                  + g * sum(p * w for p, w in zip(Pf[s][a], Vx, strict=True))
                  for a in range(A)) for s in range(S)]
        worst = max(worst, max(abs(float(Fraction(float(sol.V[t, s])) - Vx[s]))
                               for s in range(S)))
    assert worst <= sol.error_bound < 1e-9


def test_q_values_and_restricted_use_terminal_values():
    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = P[:, 1, 1] = 1.0  # action a goes to state a
    mdp = TabularMDP(P, np.zeros((2, 2)), gamma=0.5, horizon=2, terminal=[4.0, 8.0])
    pi = np.array([[1.0, 0.0], [1.0, 0.0]])
    Q = q_values(mdp, pi)
    assert Q[1].tolist() == [[2.0, 4.0], [2.0, 4.0]]       # last step: γ v(a)
    assert Q[0].tolist() == [[1.0, 1.0], [1.0, 1.0]]       # then γ V_1^π = γ·γ·4 wherever
    sol = solve_restricted(mdp, np.array([[True, False], [True, True]]))
    assert sol.V[0].tolist() == [1.0, 2.0]
    assert restricted_optima(mdp, np.ones((2, 2), bool)).tolist() == pytest.approx(2.0)


def test_with_reward_quantecon_and_masks_keep_terminal_values():
    mdp = TabularMDP(np.ones((1, 2, 1)), [[1.0, -np.inf]], gamma=1.0, horizon=3,
                     terminal=[10.0])
    assert mdp.with_reward([[2.0, 0.0]]).terminal.tolist() == [10.0]
    sol = solve(mdp)
    assert sol.V[:, 0].tolist() == [13.0, 12.0, 11.0, 10.0] and not sol.optimal[..., 1].any()
    ex = solve(mdp, "exact")  # mask and terminal values together, exactly
    assert ex.V[:, 0].tolist() == [13, 12, 11, 10] and not ex.optimal[..., 1].any()
    assert (ex.Q[..., 1] == -np.inf).all() and (ex.actions == 0).all()
    qe = from_quantecon([1.0], [[1.0]], 1.0, [0], [0], horizon=3, terminal=[10.0],
                        n_actions=2)
    assert solve(qe).V[:, 0].tolist() == [13.0, 12.0, 11.0, 10.0]


def test_exact_terminal_values_are_kept_exactly():
    third = Fraction(1, 3)
    P = np.array([[[Fraction(1)]]], dtype=object)
    mdp = TabularMDP(P, np.array([[Fraction(0)]], dtype=object), gamma=third, horizon=1,
                     terminal=np.array([third], dtype=object))
    assert mdp.exact_terminal().tolist() == [third] and mdp.terminal[0] == 1 / 3
    assert TabularMDP(P, [[0.0]], gamma=0.5, horizon=2).exact_terminal().tolist() == [0]
    assert TabularMDP(np.ones((1, 1, 1)), [[0.0]], gamma=0.5, horizon=1,
                      terminal=[0.1]).exact_terminal().tolist() == [Fraction(1, 10)]
    sol = solve(mdp, "exact")  # V_1 = v = 1/3, V_0 = 0 + (1/3)(1/3)
    assert sol.V[:, 0].tolist() == [Fraction(1, 9), third] and sol.error_bound == 0.0
    assert evaluate_exact(mdp, [[1]])[:, 0].tolist() == [Fraction(1, 9), third]
    zero = TabularMDP(P, np.array([[Fraction(1)]], dtype=object), gamma=third, horizon=1)
    assert solve(zero, "exact").V[0, 0] == 1


def test_exact_hand_derived_and_changed_action():
    mdp = TabularMDP(np.ones((1, 1, 1)), [[1.0]], gamma=0.5, horizon=2, terminal=[8.0])
    assert solve(mdp, "exact").V[:, 0].tolist() == [Fraction(7, 2), 5, 8]
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 1] = 1.0
    sol = solve(TabularMDP(P, [[1.0, 0.0], [0.0, 0.0]], gamma=0.9, horizon=1,
                           terminal=[0.0, 10.0]), "exact")
    assert sol.Q[0, 0].tolist() == [1, 9] and sol.actions[0].tolist() == [1, 0]
    assert sol.optimal[0].tolist() == [[False, True], [True, True]]


def _simple(P):
    """Rows k/n (n < 200): floats that exact mode reads back as k/n, summing to 1."""
    K = np.floor(P * 50) + 1
    return K / K.sum(-1, keepdims=True)


@settings(max_examples=30, deadline=None)
@given(finite_problems())
def test_exact_equals_pymdptoolbox_and_backward_with_h(prob):
    mdptoolbox = pytest.importorskip("mdptoolbox.mdp")
    P, R, v, gamma, H = prob
    P = _simple(P)
    fh = mdptoolbox.FiniteHorizon(np.moveaxis(P, 1, 0), R, gamma, H, h=v)
    fh.run()
    mdp = TabularMDP(P, R, gamma=gamma, horizon=H, terminal=v)
    ex = solve(mdp, "exact")
    assert ex.V[H].tolist() == mdp.exact_terminal().tolist()
    np.testing.assert_allclose(ex.V.astype(float), fh.V.T, atol=1e-9, rtol=0)
    np.testing.assert_allclose(ex.V.astype(float), solve(mdp).V, atol=1e-9, rtol=0)
    S = P.shape[0]
    # every exactly optimal action is within the float set (ties included)
    assert (solve(mdp).optimal | ~ex.optimal).all()
    pi = np.zeros((S, P.shape[1]), dtype=object)
    pi[:, 0] = 1
    np.testing.assert_allclose(evaluate_exact(mdp, pi).astype(float), evaluate(mdp, pi),
                               atol=1e-9, rtol=0)
    greedy = (ex.actions[..., None] == np.arange(P.shape[1])).astype(int)
    assert (evaluate_exact(mdp, greedy) == ex.V).all()  # no tolerance


@pytest.mark.parametrize("kwargs, match", [
    (dict(terminal=[1.0]), "terminal values need a finite horizon"),
    (dict(horizon=2, terminal=[1.0, 2.0]), r"terminal must have shape \(1,\)"),
    (dict(horizon=2, terminal=[np.nan]), r"terminal\[0\] = nan is not finite"),
    (dict(horizon=2, terminal=[np.inf]), r"terminal\[0\] = inf is not finite"),
])
def test_terminal_errors(kwargs, match):
    with pytest.raises(InvalidMDP, match=match):
        TabularMDP(np.ones((1, 1, 1)), [[1.0]], gamma=0.5, **kwargs)


def test_terminal_defaults_and_unsupported_paths():
    mdp = TabularMDP(np.ones((1, 1, 1)), [[1.0]], gamma=0.5, horizon=2)
    assert mdp.terminal.tolist() == [0.0]
    assert TabularMDP(np.ones((1, 1, 1)), [[1.0]], gamma=0.5).terminal is None
    v = TabularMDP(np.ones((1, 1, 1)), [[1.0]], gamma=0.5, horizon=2, terminal=[1.0])
    with pytest.raises(ValueError):
        v.terminal[0] = 2.0
    with pytest.raises(InvalidMDP, match="nonzero terminal values: MDPBatch"):
        MDPBatch.from_mdps([v])
    with pytest.raises(InvalidMDP, match="terminal values"):
        class_optimal(v, np.ones((1, 1, 1)))
