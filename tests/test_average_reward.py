"""The average-reward criterion: ``solve(mdp, criterion="average")`` (theory/solvers/average.py).

Hand-derived values are in the comments; floats are compared with a stated tolerance, gains
against the exact Fractions by the certified ``error_bound`` (checked in exact arithmetic).
"""

from __future__ import annotations

from fractions import Fraction as F

import mdptoolbox
import mdptoolbox.example
import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mesabase.theory import (
    AverageSolution,
    InvalidMDP,
    TabularMDP,
    from_mdptoolbox,
    solve,
    solve_average,
)
from mesabase.theory.strategies import mdps

SETTINGS = settings(max_examples=40, derandomize=True, database=None, deadline=None)


def small(scale=1.0) -> TabularMDP:
    """pymdptoolbox's ``example.small()``: P[s, a, s'], R[s, a] = [[5, 10], [-1, 2]]."""
    P, R = mdptoolbox.example.small()
    return from_mdptoolbox(P, R * scale, gamma=1.0)


def policy_gain(mdp: TabularMDP, actions) -> np.ndarray:
    """The exact gain of the deterministic policy ``actions`` (the one-action MDP it induces)."""
    P, R, _, _ = mdp.exact_arrays()
    s = np.arange(mdp.n_states)
    one = TabularMDP(P[s, actions][:, None, :], R[s, actions][:, None], gamma=F(1))
    return solve_average(one, method="exact").gain


def contains(sol: AverageSolution, exact_gain) -> bool:
    """|gain(s) − g*(s)| ≤ error_bound for every s, decided in exact arithmetic."""
    return all(abs(F(float(g)) - ge) <= F(sol.error_bound)
               for g, ge in zip(sol.gain, exact_gain, strict=True))


# ---- pymdptoolbox's small() ------------------------------------------------------------
def test_small_policy_and_gain_match_pymdptoolbox():
    P, R = mdptoolbox.example.small()
    sol = solve(small(), criterion="average")
    assert isinstance(sol, AverageSolution) and sol.method == "rvi"
    assert tuple(sol.actions) == (1, 0)  # pymdptoolbox's test: policy (1, 0)
    # pymdptoolbox's RVI (and its test's 3.88523524641183, from Octave) stops at span
    # < epsilon = 0.01; asked for epsilon = 1e-13 it agrees with us to 1e-9
    tb = mdptoolbox.mdp.RelativeValueIteration(P, R)
    tb.run()
    assert tb.policy == (1, 0) and abs(tb.average_reward - 3.88523524641183) < 1e-12
    assert abs(sol.gain[0] - tb.average_reward) <= 0.01
    tight = mdptoolbox.mdp.RelativeValueIteration(P, R, epsilon=1e-13, max_iter=10_000)
    tight.run()
    assert np.abs(sol.gain - tight.average_reward).max() <= 1e-9
    assert sol.error_bound <= 1e-9 and contains(sol, [F(35, 9)] * 2)


def test_small_exact_hand_derived():
    # policy (1, 0): P_d = [[0, 1], [4/5, 1/5]], r_d = (10, -1), μ = (4/9, 5/9),
    # g = 40/9 − 5/9 = 35/9; bias: h0 − h1 = 10 − 35/9 = 55/9 and μ·h = 0 give
    # h = (275/81, −220/81). The other policies: (0,0) 35/13, (0,1) 5/2, (1,1) 30/11.
    sol = solve(small(), "exact", criterion="average")
    assert sol.method == "exact" and sol.error_bound == 0.0 and sol.tol == 0.0
    assert sol.gain.tolist() == [F(35, 9)] * 2
    assert sol.bias.tolist() == [F(275, 81), F(-220, 81)]
    assert sol.actions.tolist() == [1, 0]
    assert sol.optimal.tolist() == [[False, True], [True, False]]
    assert sol.policy.tolist() == [[0, 1], [1, 0]]
    # Q = R + P h: at the chosen actions Q = g + h
    assert sol.Q[0, 1] == sol.gain[0] + sol.bias[0] and sol.Q[1, 0] == sol.gain[1] + sol.bias[1]
    rvi = solve(small(), criterion="average")
    assert np.abs((rvi.bias - rvi.bias[0]) - np.array(sol.bias - sol.bias[0], float)).max() < 1e-8


def test_every_policy_in_the_set_is_nearly_gain_optimal():
    sol = solve(small(), criterion="average")
    for a0 in np.flatnonzero(sol.optimal[0]):
        for a1 in np.flatnonzero(sol.optimal[1]):
            g = policy_gain(small(), [a0, a1])
            assert min(g) >= F(35, 9) - 2 * (F(sol.error_bound) + F(sol.tol))


def test_sparse_input_gives_the_same_gain():
    P, R = mdptoolbox.example.small()
    sparse = from_mdptoolbox([sp.csr_matrix(p) for p in P], R, gamma=1.0)
    assert sparse.is_sparse
    sol = solve(sparse, criterion="average")
    assert sol.actions.tolist() == [1, 0] and contains(sol, [F(35, 9)] * 2)


def test_gain_bound_holds_with_large_rewards():
    # rewards ×(10⁸ + 1/3): the rounding term e_d dominates, and still bounds
    scale = 1e8 + 1.0 / 3.0
    sol = solve(small(scale), criterion="average")
    exact = F(35, 9) * F(scale)
    assert contains(sol, [exact] * 2) and sol.error_bound > 0


# ---- periodic (aperiodicity transformation) ----------------------------------------------
def swap() -> TabularMDP:
    """Two states swapped every step, reward 1 in state 0: period 2, gain 1/2."""
    return TabularMDP(np.array([[[0.0, 1.0]], [[1.0, 0.0]]]), [[1.0], [0.0]], gamma=1.0)


def test_periodic_chain_needs_and_gets_tau_one_half():
    sol = solve(swap(), criterion="average")
    assert sol.tau == 0.5 and contains(sol, [F(1, 2)] * 2) and sol.error_bound < 1e-12
    assert solve(swap(), "exact", criterion="average").gain.tolist() == [F(1, 2)] * 2
    with pytest.raises(RuntimeError, match="could not certify the gain"):
        solve_average(swap(), "rvi", tau=1.0)  # without the transformation: span stays 1


# ---- multichain --------------------------------------------------------------------------
def multichain() -> TabularMDP:
    """States 0, 1 absorbing with rewards 1 and 2 (two recurrent classes, both actions the
    same); state 2: action 0 → state 0 with reward 5, action 1 → state 1 or stay (½ each),
    reward 0. g* = (1, 2, 2): action 1 at state 2 (gain level: P g = 1 vs (2 + g(2))/2).
    Bias of the optimal policy: h(0) = h(1) = 0 (P*h = 0), and at state 2
    g + h = 0 + h(1)/2 + h(2)/2, so h(2) = −4 (two steps at reward 0 instead of 2)."""
    P = np.zeros((3, 2, 3), dtype=object)
    P[:] = F(0)
    P[0, :, 0] = P[1, :, 1] = P[2, 0, 0] = F(1)
    P[2, 1, 1] = P[2, 1, 2] = F(1, 2)
    R = np.array([[F(1), F(1)], [F(2), F(2)], [F(5), F(0)]], dtype=object)
    return TabularMDP(P, R, gamma=F(1))


def test_multichain_exact_hand_derived():
    sol = solve(multichain(), "exact", criterion="average")
    assert sol.gain.tolist() == [1, 2, 2] and sol.bias.tolist() == [0, 0, -4]
    assert sol.actions[2] == 1
    assert sol.optimal.tolist() == [[True, True], [True, True], [False, True]]
    assert sol.policy[0].tolist() == [F(1, 2), F(1, 2)]
    assert sol.gain_Q[2].tolist() == [1, 2]  # P g: the gain level of the two actions
    assert sol.Q[2, 1] == sol.gain[2] + sol.bias[2]


def test_multichain_rvi_refuses_and_auto_goes_exact():
    with pytest.raises(RuntimeError, match=r"g\* lies in \[1, 2\].*method='exact'"):
        solve(multichain(), "rvi", criterion="average")
    sol = solve(multichain(), criterion="average")
    assert sol.method == "auto:exact" and sol.gain.tolist() == [1.0, 2.0, 2.0]
    assert sol.bias.tolist() == [0.0, 0.0, -4.0] and sol.error_bound <= 1e-15
    assert contains(sol, [1, 2, 2])


def test_auto_fallback_names_what_the_exact_solver_needs():
    P = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0]]))
    mdp = TabularMDP(P, [[1.0, 1.0], [2.0, 2.0]], gamma=1.0)  # sparse, gains 1 and 2
    with pytest.raises(RuntimeError, match="exact fallback needs"):
        solve(mdp, criterion="average")


def test_action_mask():
    # small() without action 1 in state 0: policies (0, 0) gain 35/13 and (0, 1) 5/2
    P, R = mdptoolbox.example.small()
    mdp = from_mdptoolbox(P, R, gamma=1.0)
    masked = TabularMDP(mdp.P, mdp.R, gamma=1.0, allowed=np.array([[True, False], [True, True]]))
    sol = solve(masked, criterion="average")
    assert sol.actions.tolist() == [0, 0] and contains(sol, [F(35, 13)] * 2)
    assert not sol.optimal[0, 1] and sol.Q[0, 1] == -np.inf
    ex = solve(masked, "exact", criterion="average")
    assert ex.gain.tolist() == [F(35, 13)] * 2 and ex.optimal.tolist() == [[True, False],
                                                                           [True, False]]


# ---- random unichain problems: RVI against exact -----------------------------------------
@st.composite
def unichain(draw):
    """A drawn rational MDP made unichain and aperiodic: P' = (P + 1/S)/2 > 0, γ = 1."""
    m = draw(mdps(n_states=st.integers(1, 5), n_actions=st.integers(1, 3), rational=True))
    P, R, _, _ = m.exact_arrays()
    S = m.n_states
    return TabularMDP((P + F(1, S)) / 2, R, gamma=F(1))


@SETTINGS
@given(unichain())
def test_rvi_agrees_with_exact_and_its_bound_holds(mdp):
    ex = solve(mdp, "exact", criterion="average")
    sol = solve(mdp, criterion="average")
    assert sol.method == "rvi"
    assert len(set(ex.gain.tolist())) == 1  # unichain: one gain
    assert np.abs(sol.gain - ex.gain.astype(float)).max() <= 1e-9
    assert contains(sol, ex.gain)  # the certified bound bounds the exact gain
    assert sol.error_bound <= 1e-9
    h, he = sol.bias - sol.bias[0], (ex.bias - ex.bias[0]).astype(float)
    assert np.abs(h - he).max() <= 1e-7 * max(1.0, np.abs(he).max())
    assert (sol.optimal | ~ex.optimal).all()  # exact ties are kept within the width
    g = policy_gain(mdp, sol.actions)
    assert min(g) >= ex.gain[0] - 2 * (F(sol.error_bound) + F(sol.tol))


@SETTINGS
@given(mdps(n_states=st.integers(1, 4), n_actions=st.integers(1, 3), rational=True))
def test_exact_satisfies_the_multichain_optimality_equations(m):
    P, R, _, _ = m.exact_arrays()
    mdp = TabularMDP(P, R, gamma=F(1))  # any drawn MDP: possibly multichain
    sol = solve(mdp, "exact", criterion="average")
    S, A = R.shape
    for s in range(S):
        gq = [sum(P[s, a, j] * sol.gain[j] for j in range(S)) for a in range(A)]
        assert max(gq) == sol.gain[s]
        q = [R[s, a] + sum(P[s, a, j] * sol.bias[j] for j in range(S)) for a in range(A)]
        assert max(q[a] for a in range(A) if gq[a] == sol.gain[s]) == sol.gain[s] + sol.bias[s]
    # the chosen deterministic policy attains g* in every state
    assert policy_gain(mdp, sol.actions).tolist() == sol.gain.tolist()
    auto = solve(mdp, criterion="average")
    assert contains(auto, sol.gain)


# ---- refusals ----------------------------------------------------------------------------
def test_refusals():
    P = np.array([[[1.0]]])
    with pytest.raises(InvalidMDP, match=r"needs gamma = 1; this MDP has gamma=0\.9"):
        solve(TabularMDP(P, [[1.0]], gamma=0.9), criterion="average")
    with pytest.raises(InvalidMDP, match="infinite horizon; this MDP has horizon=3"):
        solve(TabularMDP(P, [[1.0]], gamma=1.0, horizon=3), criterion="average")
    with pytest.raises(InvalidMDP, match="one TabularMDP; got str"):
        solve_average("mdp")
    mdp = TabularMDP(P, [[1.0]], gamma=1.0)
    with pytest.raises(ValueError, match="unknown criterion 'total'"):
        solve(mdp, criterion="total")
    with pytest.raises(ValueError, match="unknown method 'vi' for criterion='average'"):
        solve(mdp, "vi", criterion="average")
    with pytest.raises(ValueError, match="tol must be positive"):
        solve(mdp, tol=0.0, criterion="average")
    with pytest.raises(ValueError, match=r"tau must be in \(0, 1\]"):
        solve_average(mdp, tau=0.0)


def test_discounted_default_unchanged():
    mdp = TabularMDP(np.array([[[1.0]]]), [[1.0]], gamma=0.5)
    assert solve(mdp).V.tolist() == solve(mdp, criterion="discounted").V.tolist() == [2.0]


def test_one_state_and_repr():
    sol = solve(TabularMDP(np.array([[[1.0], [1.0]]]), [[1.0, 3.0]], gamma=1.0),
                criterion="average")
    assert sol.gain.tolist() == [3.0] and sol.iterations == 1 and sol.greedy.tolist() == [[0, 1]]
    assert repr(sol).startswith("AverageSolution(method='rvi', S=1, iterations=1")
