"""Rational-arithmetic solving: hand-computed fractions, textbook values, float agreement.

Oracles, layered: a value derived by hand (1825/43); published tables (Sutton & Barto
Examples 3.5, 3.8, 4.1; the secretary problem's 1, 1/2, 1/2, 11/24, 13/30); float
policy iteration, value iteration and backward induction on hypothesis-drawn rational
MDPs (tolerance 1e-8 on V and Q); exact self-consistency (evaluate_exact of the returned
policy is V* with no tolerance at all).
"""

from fractions import Fraction as F

import numpy as np
import pytest
import scipy.sparse as sp
import sympy
from hypothesis import given
from hypothesis import strategies as st

from mesabase.theory import IllPosedMDP, InvalidMDP, TabularMDP, evaluate, solve
from mesabase.theory.solution import optimal_set
from mesabase.theory.solvers import exact as exact_mod
from mesabase.theory.solvers.exact import _solve_linear, evaluate_exact, solve_exact

AGREE = 1e-8  # tolerance for exact-vs-float agreement on V and Q
SET_TOL = 1e-9  # tolerance defining the float optimal-action set


def _float(a):
    return np.asarray(a, dtype=np.float64)


def _one_hot(actions, A):
    actions = np.asarray(actions)
    out = np.full(actions.shape + (A,), F(0), dtype=object)
    for i in np.ndindex(actions.shape):
        out[i + (actions[i],)] = F(1)
    return out


# ---- a value computed by hand ----------------------------------------------------------
def _mdp_1825_43():
    """Two states, two actions, γ = 9/10.

    state 0: a0 reward 7/4, stays w.p. 19/30, else moves to 1;  a1 reward 2, stays.
    state 1: a0 reward 5, stays;                                a1 reward 0, moves to 0.
    """
    P = np.array([[[F(19, 30), F(11, 30)], [F(1), F(0)]],
                  [[F(0), F(1)], [F(1), F(0)]]], dtype=object)
    R = np.array([[F(7, 4), F(2)], [F(5), F(0)]], dtype=object)
    return TabularMDP(P, R, gamma=F(9, 10))


def test_hand_computed_fraction_1825_over_43():
    # Policy (a0, a0).  V(1) = 5 / (1 − 9/10) = 50.
    # V(0) = 7/4 + 9/10 (19/30 V(0) + 11/30 · 50)
    #      = 7/4 + 57/100 V(0) + 33/100 · 50
    # (43/100) V(0) = 7/4 + 33/2 = 73/4   =>   V(0) = 7300/172 = 1825/43 ≈ 42.442.
    # Optimality (no action improves):
    #   Q(0, a1) = 2 + 9/10 · 1825/43 = 172/86 + 3285/86 = 3457/86 < 3650/86 = V(0);
    #   Q(1, a1) = 0 + 9/10 · 1825/43 = 3285/86 ≈ 38.2 < 50 = V(1).
    # Policy iteration starts from argmax R = (a1, a0), which is not optimal in state 0.
    sol = solve_exact(_mdp_1825_43())
    assert sol.V[0] == F(1825, 43) and isinstance(sol.V[0], F)
    assert sol.V[1] == F(50) and isinstance(sol.V[1], F)
    assert sol.Q.tolist() == [[F(1825, 43), F(3457, 86)], [F(50), F(3285, 86)]]
    assert sol.optimal.tolist() == [[True, False], [True, False]]
    assert sol.actions.tolist() == [0, 0]
    assert sol.iterations == 2  # one improvement step, then the optimality test
    assert (sol.method, sol.residual, sol.error_bound, sol.tol, sol.gap) == (
        "exact", 0.0, 0.0, 0.0, None)
    assert sol.policy.tolist() == [[F(1), F(0)], [F(1), F(0)]]
    for a in (sol.V, sol.Q, sol.optimal, sol.policy, sol.actions):
        assert not a.flags.writeable
    # through the dispatcher too
    assert solve(_mdp_1825_43(), "exact").V[0] == F(1825, 43)


# ---- Sutton & Barto 5×5 gridworld (Examples 3.5, 3.8) ----------------------------------
MOVES = ((-1, 0), (1, 0), (0, 1), (0, -1))  # north, south, east, west


def _gridworld5(gamma=F(9, 10), number=F):
    S, A = 25, 4
    P = np.full((S, A, S), number(0), dtype=object)
    R = np.full((S, A), number(0), dtype=object)
    for r in range(5):
        for c in range(5):
            s = 5 * r + c
            for a, (dr, dc) in enumerate(MOVES):
                if (r, c) == (0, 1):
                    s2, rew = 5 * 4 + 1, 10
                elif (r, c) == (0, 3):
                    s2, rew = 5 * 2 + 3, 5
                elif 0 <= r + dr < 5 and 0 <= c + dc < 5:
                    s2, rew = 5 * (r + dr) + c + dc, 0
                else:
                    s2, rew = s, -1
                P[s, a, s2] = number(1)
                R[s, a] = number(rew)
    if number is float:
        P, R = P.astype(float), R.astype(float)
    return TabularMDP(P, R, gamma=gamma)


V_STAR_5X5 = [[22.0, 24.4, 22.0, 19.4, 17.5], [19.8, 22.0, 19.8, 17.8, 16.0],
              [17.8, 19.8, 17.8, 16.0, 14.4], [16.0, 17.8, 16.0, 14.4, 13.0],
              [14.4, 16.0, 14.4, 13.0, 11.7]]
V_RANDOM_5X5 = [[3.3, 8.8, 4.4, 5.3, 1.5], [1.5, 3.0, 2.3, 1.9, 0.5],
                [0.1, 0.7, 0.7, 0.4, -0.4], [-1.0, -0.4, -0.4, -0.6, -1.2],
                [-1.9, -1.3, -1.2, -1.4, -2.0]]


def _rounded(V):
    return [[float(round(V[5 * r + c], 1)) for c in range(5)] for r in range(5)]


def test_sutton_barto_gridworld_optimal_values():
    sol = solve_exact(_gridworld5())
    # From A every action jumps to A' (+10); the optimal path walks 4 steps north back
    # to A, so V*(A) = 10 + γ⁵ V*(A).
    assert sol.V[1] == F(10) / (1 - F(9, 10) ** 5)
    assert isinstance(sol.V[1], F)
    # the book's table, with rounding done exactly on the Fractions (tolerance 1e-12)
    np.testing.assert_allclose(_rounded(sol.V), V_STAR_5X5, atol=1e-12, rtol=0)
    assert sol.optimal[1].all() and sol.optimal[3].all()  # all actions jump from A, B
    # the greedy policy's exact value is V*, with no tolerance
    assert (evaluate_exact(_gridworld5(), _one_hot(sol.actions, 4)) == sol.V).all()


def test_sutton_barto_gridworld_random_policy_and_float_input():
    mdp = _gridworld5()
    V = evaluate_exact(mdp, np.full((25, 4), F(1, 4), dtype=object))
    np.testing.assert_allclose(_rounded(V), V_RANDOM_5X5, atol=1e-12, rtol=0)
    # floats are read as the closest simple rationals (0.9 -> 9/10, 0.25 -> 1/4): the same
    # Fractions (mesabase.theory.rationals.float_to_fraction)
    mdp_f = _gridworld5(gamma=0.9, number=float)
    assert not mdp_f.is_exact
    assert (evaluate_exact(mdp_f, np.full((25, 4), 0.25)) == V).all()
    assert (solve_exact(mdp_f).V == solve_exact(mdp).V).all()


# ---- Sutton & Barto 4×4 gridworld (Example 4.1), γ = 1 ---------------------------------
def _gridworld4():
    S, A = 16, 4
    P = np.full((S, A, S), F(0), dtype=object)
    R = np.full((S, A), F(0), dtype=object)
    for s in range(S):
        r, c = divmod(s, 4)
        for a, (dr, dc) in enumerate(MOVES):
            if s in (0, 15):
                P[s, a, s] = F(1)
                continue
            r2, c2 = r + dr, c + dc
            s2 = 4 * r2 + c2 if 0 <= r2 < 4 and 0 <= c2 < 4 else s
            P[s, a, s2] = F(1)
            R[s, a] = F(-1)
    return TabularMDP(P, R, gamma=F(1))


def test_sutton_barto_small_gridworld_episodic():
    mdp = _gridworld4()
    sol = solve_exact(mdp)
    assert sol.V.reshape(4, 4).tolist() == [[0, -1, -2, -3], [-1, -2, -3, -2],
                                            [-2, -3, -2, -1], [-3, -2, -1, 0]]
    assert all(isinstance(v, F) for v in sol.V)
    # state 5 = (1, 1): north and west both lead to a neighbour of corner 0
    assert sol.optimal[5].tolist() == [True, False, False, True]
    V = evaluate_exact(mdp, np.full((16, 4), F(1, 4), dtype=object))
    assert V.reshape(4, 4).tolist() == [[0, -14, -20, -22], [-14, -18, -20, -20],
                                        [-20, -20, -18, -14], [-22, -20, -14, 0]]
    # floats: the same numbers, within 1e-9
    np.testing.assert_allclose(evaluate(mdp, np.full((16, 4), 0.25)), _float(V), atol=1e-9)


# ---- the secretary problem (finite horizon) --------------------------------------------
def secretary(n: int) -> TabularMDP:
    """The classical secretary problem as a finite-horizon MDP with γ = 1 and H = n.

    States ``(t, b)`` at index 2(t − 1) + b for t = 1..n, b = 1 iff candidate t is the
    best so far, and the absorbing stopped state 2n. Actions: 0 stop, 1 continue.
    Stop at (t, 1) pays t/n (the chance that the best so far is the best overall), at
    (t, 0) pays 0; continue pays 0 and moves to (t+1, 1) w.p. 1/(t+1), else (t+1, 0),
    and at t = n ends the search. V*_0(1, 1) is the best chance of hiring the best.
    """
    S = 2 * n + 1
    stopped = 2 * n
    P = np.full((S, 2, S), F(0), dtype=object)
    R = np.full((S, 2), F(0), dtype=object)
    P[stopped, :, stopped] = F(1)
    for t in range(1, n + 1):
        for b in (0, 1):
            s = 2 * (t - 1) + b
            P[s, 0, stopped] = F(1)
            R[s, 0] = F(t, n) if b else F(0)
            if t < n:
                P[s, 1, 2 * t + 1] = F(1, t + 1)
                P[s, 1, 2 * t] = F(t, t + 1)
            else:
                P[s, 1, stopped] = F(1)
    # μ0 should be the point mass on (1, 1) (index 1); V* does not depend on μ0, and an
    # exact 1-D mu0 currently trips theory/mdp.py _check_exact_rows, so keep the default.
    return TabularMDP(P, R, gamma=F(1), horizon=n)


@pytest.mark.parametrize("n, p", [(1, F(1)), (2, F(1, 2)), (3, F(1, 2)), (4, F(11, 24)),
                                  (5, F(13, 30))])
def test_secretary_problem(n, p):
    mdp = secretary(n)
    sol = solve_exact(mdp)
    assert sol.V.shape == (n + 1, 2 * n + 1) and sol.Q.shape == (n, 2 * n + 1, 2)
    assert sol.actions.shape == (n, 2 * n + 1) and sol.iterations == n
    assert sol.V[0, 1] == p and isinstance(sol.V[0, 1], F)
    assert (sol.V[n] == 0).all()
    # the optimal rule: at a best-so-far candidate t, stop iff t >= r (published cut-offs
    # r = 1, 1|2, 2, 2, 3); for n = 2 stopping and continuing tie at t = 1 (both give 1/2)
    r = {1: 1, 2: 1, 3: 2, 4: 2, 5: 3}[n]
    for t in range(1, n + 1):
        expected = [True, True] if (n, t) == (2, 1) else [t >= r, t < r]
        assert sol.optimal[t - 1, 2 * (t - 1) + 1].tolist() == expected, (n, t)
    # the first-optimal-action rule stops at (t, 1) for t >= r; its exact value is V*
    assert (evaluate_exact(mdp, _one_hot(sol.actions, 2)) == sol.V).all()
    np.testing.assert_allclose(_float(sol.V), solve(mdp, "backward").V, atol=AGREE, rtol=0)


# ---- agreement with the float solvers on drawn rational MDPs ---------------------------
@st.composite
def rational_mdps(draw, horizon=None, episodic=False):
    """S ∈ 1..4 (2..4 episodic), A ∈ 1..3; P rows from integer weights 0..4 (at least one
    positive) as Fractions; rewards integers −3..3 (−3..−1 off the terminal state 0 when
    episodic, where action 0 always has weight on state 0, so every state can terminate);
    γ = k/10, k ∈ 0..9 (0..10 with a horizon; 1 when episodic)."""
    S = draw(st.integers(2 if episodic else 1, 4))
    A = draw(st.integers(1, 3))
    P = np.empty((S, A, S), dtype=object)
    R = np.empty((S, A), dtype=object)
    for s in range(S):
        for a in range(A):
            w = draw(st.lists(st.integers(0, 4), min_size=S, max_size=S))
            if episodic and a == 0:
                w[0] = max(w[0], 1)
            if sum(w) == 0:
                w[draw(st.integers(0, S - 1))] = draw(st.integers(1, 4))
            P[s, a] = [F(x, sum(w)) for x in w]
            R[s, a] = F(draw(st.integers(-3, -1) if episodic else st.integers(-3, 3)))
    if episodic:
        P[0] = [[F(int(j == 0)) for j in range(S)]] * A
        R[0] = F(0)
        gamma, h = F(1), None
    else:
        h = None if horizon is None else draw(horizon)
        gamma = F(draw(st.integers(0, 9 if h is None else 10)), 10)
    return TabularMDP(P, R, gamma=gamma, horizon=h)


def _check_sets(exact_sol, Q_float, optimal_float):
    """Exact ties are within SET_TOL in floats; a float-optimal action is exactly within
    SET_TOL + 1e-9 (the float solvers' error) of the best."""
    Qe = exact_sol.Q
    assert (optimal_float | ~exact_sol.optimal).all()
    gap = _float(np.max(Qe, axis=-1, keepdims=True) - Qe)
    assert (gap[optimal_float] <= SET_TOL + 1e-9).all()
    np.testing.assert_allclose(Q_float, _float(Qe), atol=AGREE, rtol=0)


@given(rational_mdps())
def test_exact_agrees_with_policy_and_value_iteration(mdp):
    sol = solve_exact(mdp)
    V = _float(sol.V)
    pi = solve(mdp, "pi", tol=SET_TOL)
    np.testing.assert_allclose(pi.V, V, atol=AGREE, rtol=0)
    _check_sets(sol, pi.Q, pi.optimal)
    vi = solve(mdp, "vi", tol=1e-11)
    np.testing.assert_allclose(vi.V, V, atol=AGREE, rtol=0)
    _check_sets(sol, vi.Q, optimal_set(vi.Q, SET_TOL)[0])
    # exact self-consistency: the returned policy's exact value is V*, with no tolerance
    assert (evaluate_exact(mdp, _one_hot(sol.actions, mdp.n_actions)) == sol.V).all()
    assert all(isinstance(v, F) for v in sol.V)


@given(rational_mdps(horizon=st.integers(1, 4)))
def test_exact_agrees_with_backward_induction(mdp):
    sol = solve_exact(mdp)
    bw = solve(mdp, "backward", tol=SET_TOL)
    np.testing.assert_allclose(bw.V, _float(sol.V), atol=AGREE, rtol=0)
    _check_sets(sol, bw.Q, bw.optimal)
    assert (evaluate_exact(mdp, _one_hot(sol.actions, mdp.n_actions)) == sol.V).all()


@given(rational_mdps(episodic=True))
def test_exact_agrees_with_policy_iteration_episodic(mdp):
    sol = solve_exact(mdp)
    pi = solve(mdp, "pi", tol=SET_TOL)
    np.testing.assert_allclose(pi.V, _float(sol.V), atol=AGREE, rtol=0)
    _check_sets(sol, pi.Q, pi.optimal)
    assert sol.V[0] == 0


@given(rational_mdps(horizon=st.sampled_from([None, None, 3])), st.data())
def test_evaluate_exact_agrees_with_evaluate(mdp, data):
    S, A = mdp.n_states, mdp.n_actions
    pi = np.empty((S, A), dtype=object)
    for s in range(S):
        w = data.draw(st.lists(st.integers(0, 3), min_size=A, max_size=A))
        w[data.draw(st.integers(0, A - 1))] += 1
        pi[s] = [F(x, sum(w)) for x in w]
    reward = np.array([[F(s - a, 3) for a in range(A)] for s in range(S)], dtype=object)
    for r in (None, reward):
        V = evaluate_exact(mdp, pi, r)
        expected_shape = (S,) if mdp.horizon is None else (mdp.horizon + 1, S)
        assert V.shape == expected_shape and V.dtype == object
        np.testing.assert_allclose(_float(V), evaluate(mdp, _float(pi), None if r is None
                                                       else _float(r)), atol=AGREE, rtol=0)


def test_thirty_states_fast_and_correct():
    rng = np.random.default_rng(0)
    S, A = 30, 3
    W = rng.integers(0, 5, size=(S, A, S))
    W[..., 0] += 1
    P = np.array([[[F(int(x), int(w.sum())) for x in w] for w in row] for row in W],
                 dtype=object)
    R = np.array([[F(int(x)) for x in row] for row in rng.integers(-3, 4, size=(S, A))],
                 dtype=object)
    mdp = TabularMDP(P, R, gamma=F(9, 10))
    sol = solve_exact(mdp)  # its speed is in BENCHMARKS.md (benchmarks/exact.py), not here
    np.testing.assert_allclose(_float(sol.V), solve(mdp, "pi").V, atol=AGREE, rtol=0)


# ---- the exact linear solver and the certificate ---------------------------------------
# small integers make singular systems common; fractions make the arithmetic non-trivial
_ENTRIES = st.integers(-2, 2).map(F) | st.fractions(-5, 5, max_denominator=7)


@given(st.integers(1, 5).flatmap(lambda n: st.tuples(
    st.lists(st.lists(_ENTRIES,
                      min_size=n, max_size=n), min_size=n, max_size=n),
    st.lists(st.integers(-5, 5), min_size=n, max_size=n))))
def test_solve_linear_is_exact(system):
    M, b = system
    if sympy.Matrix(M).det() == 0:
        with pytest.raises(ZeroDivisionError, match="singular"):
            _solve_linear(M, b)
        return
    x = _solve_linear(M, b)
    assert [sum((m * xi for m, xi in zip(row, x, strict=True)), F(0)) for row in M] == b


def test_solve_linear_pivots_past_a_zero():
    # M[0][0] = 0 needs a row swap; x = (1/3, 1/2) by hand: 2·(1/2) = 1, 3·(1/3) + 1/2 = 3/2
    assert _solve_linear([[F(0), F(2)], [F(3), F(1)]], [F(1), F(3, 2)]) == [F(1, 3), F(1, 2)]


def test_certificate_catches_a_wrong_solve(monkeypatch):
    real = exact_mod._solve_linear
    monkeypatch.setattr(exact_mod, "_solve_linear",
                        lambda M, b: [x + F(1, 10**6) for x in real(M, b)])
    with pytest.raises(RuntimeError, match="certificate"):
        solve_exact(_mdp_1825_43())


# ---- errors ----------------------------------------------------------------------------
def test_sparse_mdp_is_rejected():
    mdp = TabularMDP(sp.csr_array(np.eye(2)), [[0.0], [1.0]], gamma=0.5)
    with pytest.raises(InvalidMDP, match="dense"):
        solve_exact(mdp)
    with pytest.raises(InvalidMDP, match="dense"):
        solve(mdp, "exact")
    with pytest.raises(InvalidMDP, match="dense"):
        evaluate_exact(mdp, [[1], [1]])


def test_ill_posed_episodic_problems():
    # a two-state cycle with γ = 1 and no terminal state
    cycle = np.array([[[F(0), F(1)]], [[F(1), F(0)]]], dtype=object)
    with pytest.raises(IllPosedMDP, match="terminal"):
        solve_exact(TabularMDP(cycle, [[F(-1)], [F(-1)]], gamma=F(1)))
    # state 1 can loop forever at reward 0 instead of paying 1 to reach the terminal state
    # 0: the loop is worth 0 (tests/test_reachability.py), no longer refused
    P = np.array([[[F(1), F(0)], [F(1), F(0)]], [[F(1), F(0)], [F(0), F(1)]]], dtype=object)
    sol = solve_exact(TabularMDP(P, [[F(0), F(0)], [F(-1), F(0)]], gamma=F(1)))
    assert sol.V.tolist() == [0, 0] and sol.actions[1] == 1
    # with reward +1 on that loop V*(1) = +inf: refused, naming the state and action
    with pytest.raises(IllPosedMDP, match=r"action 1 in state 1 \(reward R\[1, 1\] = 1.0"):
        solve_exact(TabularMDP(P, [[F(0), F(0)], [F(-1), F(1)]], gamma=F(1)))
    # a policy that never terminates has no value: always north in the 4×4 grid
    north = _one_hot(np.zeros(16, dtype=int), 4)
    with pytest.raises(IllPosedMDP, match="never terminates"):
        evaluate_exact(_gridworld4(), north)


def test_evaluate_exact_input_errors():
    mdp = _mdp_1825_43()
    one = TabularMDP(np.ones((1, 3, 1)), [[0.0, 0.0, 0.0]], gamma=0.5)
    # floats 1/3 are read as 1/3 (mdp.float_to_fraction), 0.2500000001 as its binary value
    assert evaluate_exact(one, [[1 / 3, 1 / 3, 1 / 3]]).tolist() == [F(0)]
    with pytest.raises(InvalidMDP, match=r"policy\[0\]\[:\] sums to \d+/\d+ exactly, not 1"):
        evaluate_exact(one, [[0.5, 0.25, 0.2500000001]])
    with pytest.raises(InvalidMDP, match=r"shape \(2, 2\)"):
        evaluate_exact(mdp, [[1, 0, 0], [1, 0, 0]])
    with pytest.raises(InvalidMDP, match=r"policy\[1, 0\] = -1 is negative"):
        evaluate_exact(mdp, [[1, 0], [-1, 2]])
    with pytest.raises(InvalidMDP, match=r"reward must have shape \(2, 2\)"):
        evaluate_exact(mdp, [[1, 0], [1, 0]], reward=[1, 2])
    with pytest.raises(InvalidMDP, match=r"shape \(2, 2\); got \(1, 2, 2\)"):
        evaluate_exact(mdp, [[[1, 0], [1, 0]]])  # per-step policies need a horizon
