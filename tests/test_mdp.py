"""TabularMDP validation (every error and its message), immutability, and the γ = 1
well-posedness errors of the solvers (theory/episodic.py)."""

from __future__ import annotations

import re
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

from mesabase.theory import (
    IllPosedMDP,
    InvalidMDP,
    TabularMDP,
    evaluate,
    occupancy,
    solve,
)


def two_state():
    """P (2, 2, 2), R (2, 2): a valid little MDP to break one piece at a time."""
    P = np.array([[[0.5, 0.5], [1.0, 0.0]], [[0.0, 1.0], [0.25, 0.75]]])
    R = np.array([[1.0, 0.0], [0.0, 2.0]])
    return P, R


def build(P=None, R=None, **kw):
    P0, R0 = two_state()
    kw.setdefault("gamma", 0.9)
    return TabularMDP(P0 if P is None else P, R0 if R is None else R, **kw)


# ---- P ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2, 2), (2,), (2, 2, 2, 1)])
def test_P_wrong_rank(shape):
    rank = len(shape)
    with pytest.raises(InvalidMDP, match=rf"P must have rank 3.*got rank {rank}"):
        build(P=np.ones(shape))


def test_P_axis2_differs_from_axis0():
    P = np.zeros((2, 2, 3))
    P[..., 0] = 1.0
    with pytest.raises(InvalidMDP, match=r"P axis 2 .* length 3 but axis 0 .* length 2"):
        build(P=P)


@pytest.mark.parametrize("shape", [(0, 1, 0), (2, 0, 2)])
def test_P_no_states_or_actions(shape):
    with pytest.raises(InvalidMDP, match=r"at least one state and one action"):
        TabularMDP(np.zeros(shape), np.zeros(shape[:2]), gamma=0.5)


def test_P_negative_probability_names_index():
    P, _ = two_state()
    P[1, 0] = [-0.5, 1.5]  # the row still sums to 1: only the sign is wrong
    with pytest.raises(InvalidMDP, match=r"P\[1, 0, 0\] = -0\.5 is negative"):
        build(P=P)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_P_non_finite(bad):
    P, _ = two_state()
    P[0, 1, 1] = bad
    with pytest.raises(InvalidMDP, match=rf"P\[0, 1, 1\] = {re.escape(str(bad))} is not finite"):
        build(P=P)


def test_P_row_not_summing_to_one_names_row_and_sum():
    P, _ = two_state()
    P[1, 1] = [0.5, 0.4]
    with pytest.raises(InvalidMDP, match=r"P\[1, 1, :\] sums to .*0\.9.*not 1"):
        build(P=P)


def test_P_row_sum_message_is_a_plain_number():
    """The sum is printed as a number, not as a numpy repr like ``np.float64(0.9)``."""
    P, _ = two_state()
    P[1, 1] = [0.5, 0.4]
    with pytest.raises(InvalidMDP, match=r"P\[1, 1, :\] sums to 0\.9, not 1"):
        build(P=P)


def test_P_all_zero_row_is_not_absorbing():
    P, _ = two_state()
    P[0, 1] = 0.0
    with pytest.raises(InvalidMDP, match=r"P\[0, 1, :\] sums to .*0\.0.*not 1"):
        build(P=P)


def test_P_row_sum_tolerance():
    P, _ = two_state()
    P[0, 0] = [0.5, 0.5 + 1e-12]  # within ROW_SUM_ATOL = 1e-9: accepted
    assert build(P=P).P[0, 0, 1] == 0.5 + 1e-12  # tolerance: exact storage
    P = P.copy()
    P[0, 0] = [0.5, 0.5 + 1e-6]
    with pytest.raises(InvalidMDP, match=r"P\[0, 0, :\] sums to"):
        build(P=P)


def test_P_not_numeric():
    with pytest.raises(InvalidMDP, match=r"P must be numeric"):
        build(P=np.array([[["a", "b"]]]))


# ---- R ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(2,), (2, 2, 1)])
def test_R_wrong_rank(shape):
    with pytest.raises(InvalidMDP, match=rf"R must have rank 2.*got rank {len(shape)}"):
        build(R=np.zeros(shape))


def test_R_axis0_mismatch():
    with pytest.raises(InvalidMDP, match=r"R axis 0 \(state s\) has length 3 but P has 2 states"):
        build(R=np.zeros((3, 2)))


def test_R_axis1_mismatch():
    with pytest.raises(InvalidMDP, match=r"R axis 1 \(action a\) has length 1 but P has 2 actions"):
        build(R=np.zeros((2, 1)))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_R_non_finite_names_index(bad):
    R = np.zeros((2, 2))
    R[1, 0] = bad
    with pytest.raises(InvalidMDP, match=rf"R\[1, 0\] = {bad} is not finite"):
        build(R=R)


# ---- gamma and horizon ------------------------------------------------------------------
@pytest.mark.parametrize("gamma", [-0.1, 1.0000001, 2, float("nan"), float("inf")])
def test_gamma_out_of_range(gamma):
    with pytest.raises(InvalidMDP, match=r"gamma must be in \[0, 1\]; got"):
        build(gamma=gamma)


def test_gamma_not_a_number():
    with pytest.raises(InvalidMDP, match=r"gamma must be a number"):
        build(gamma="high")


@pytest.mark.parametrize("gamma", [0, 0.0, 1, 1.0, Fraction(1, 2)])
def test_gamma_boundaries_accepted(gamma):
    assert build(gamma=gamma).gamma == float(gamma)  # tolerance: exact


@pytest.mark.parametrize("horizon", [0, -3, 2.5, 2.0, True, "3"])
def test_horizon_invalid(horizon):
    with pytest.raises(InvalidMDP, match=r"horizon must be None or an integer >= 1"):
        build(horizon=horizon)


def test_horizon_numpy_integer_accepted():
    mdp = build(horizon=np.int64(3))
    assert mdp.horizon == 3 and type(mdp.horizon) is int  # tolerance: exact


# ---- mu0 --------------------------------------------------------------------------------
@pytest.mark.parametrize("mu0", [[1.0], [0.2, 0.3, 0.5], [[0.5, 0.5]]])
def test_mu0_wrong_shape(mu0):
    with pytest.raises(InvalidMDP, match=r"mu0 must have shape \(2,\)"):
        build(mu0=mu0)


def test_mu0_negative():
    with pytest.raises(InvalidMDP, match=r"mu0\[0\] = -0\.5 is negative"):
        build(mu0=[-0.5, 1.5])


def test_mu0_not_summing_to_one():
    with pytest.raises(InvalidMDP, match=r"mu0 sums to .*0\.8.*not 1"):
        build(mu0=[0.4, 0.4])


def test_mu0_default_uniform():
    np.testing.assert_array_equal(build().mu0, [0.5, 0.5])  # tolerance: exact


# ---- exact input ------------------------------------------------------------------------
def exact_P():
    h = Fraction(1, 2)
    return np.array([[[h, h], [Fraction(1), Fraction(0)]],
                     [[Fraction(0), Fraction(1)], [Fraction(1, 3), Fraction(2, 3)]]],
                    dtype=object)


def test_exact_row_off_by_less_than_float_tolerance():
    P = exact_P()
    P[1, 1, 1] = Fraction(2, 3) + Fraction(1, 10**12)  # float image passes, exact does not
    with pytest.raises(InvalidMDP, match=r"P\[1, 1, :\] sums to 1000000000001/1000000000000 "
                                         r"exactly, not 1"):
        TabularMDP(P, np.zeros((2, 2)), gamma=Fraction(1, 2))


def test_exact_mu0_must_sum_exactly():
    mu0 = np.array([Fraction(1, 2), Fraction(1, 2) + Fraction(1, 10**12)], dtype=object)
    with pytest.raises(InvalidMDP, match=r"mu0 sums to .* exactly, not 1"):
        TabularMDP(exact_P(), np.zeros((2, 2)), gamma=Fraction(1, 2), mu0=mu0)


def test_exact_mu0_accepted_and_kept_exact():
    mu0 = np.array([Fraction(1, 3), Fraction(2, 3)], dtype=object)
    mdp = TabularMDP(exact_P(), np.zeros((2, 2)), gamma=Fraction(1, 2), mu0=mu0)
    P, R, gamma, m = mdp.exact_arrays()
    assert list(m) == [Fraction(1, 3), Fraction(2, 3)]  # tolerance: exact
    assert gamma == Fraction(1, 2) and P[1, 1, 0] == Fraction(1, 3)  # tolerance: exact
    assert mdp.is_exact and "exact" in repr(mdp)


def test_exact_arrays_of_float_mdp_read_as_decimals():
    P, R, gamma, mu0 = build(gamma=0.9).exact_arrays()
    assert gamma == Fraction(9, 10) and P[1, 1, 0] == Fraction(1, 4)  # tolerance: exact
    assert R.dtype == object and mu0[0] == Fraction(1, 2)  # tolerance: exact


def test_exact_arrays_of_sparse_mdp_refused():
    P, R = two_state()
    with pytest.raises(InvalidMDP, match=r"exact arithmetic needs a dense P"):
        TabularMDP(sp.csr_array(P.reshape(4, 2)), R, gamma=0.5).exact_arrays()


# ---- sparse P ---------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 2), (3, 2)])
def test_sparse_P_wrong_shape(shape):
    M = sp.csr_array(np.ones(shape) / shape[1])
    with pytest.raises(InvalidMDP, match=r"sparse P must have shape \(S\*A, S\)"):
        TabularMDP(M, np.zeros((2, 2)), gamma=0.5)


def test_sparse_P_negative_names_entry():
    P, R = two_state()
    P[1, 1] = [1.5, -0.5]
    with pytest.raises(InvalidMDP, match=r"P\[1, 1, 1\] = -0\.5 is negative"):
        TabularMDP(sp.csr_array(P.reshape(4, 2)), R, gamma=0.5)


def test_sparse_P_bad_row_sum_names_state_and_action():
    P, R = two_state()
    P[1, 0] = [0.0, 0.5]
    with pytest.raises(InvalidMDP, match=r"P\[1, 0, :\] sums to .*0\.5.*state 1, action 0"):
        TabularMDP(sp.csr_array(P.reshape(4, 2)), R, gamma=0.5)


def test_sparse_P_non_finite():
    P, R = two_state()
    P[0, 0] = [np.nan, 0.5]
    with pytest.raises(InvalidMDP, match=r"not finite"):
        TabularMDP(sp.csr_array(P.reshape(4, 2)), R, gamma=0.5)


def test_sparse_matches_dense_views():
    P, R = two_state()
    mdp = TabularMDP(sp.coo_array(P.reshape(4, 2)), R, gamma=0.5)
    assert mdp.is_sparse and (mdp.n_states, mdp.n_actions) == (2, 2)
    np.testing.assert_array_equal(mdp.P, P)  # tolerance: exact
    assert "sparse" in repr(mdp)


# ---- immutability -----------------------------------------------------------------------
def test_InvalidMDP_is_ValueError():
    assert issubclass(InvalidMDP, ValueError) and issubclass(IllPosedMDP, InvalidMDP)


@pytest.mark.parametrize("field,index", [("P", (0, 0, 0)), ("R", (0, 0)), ("mu0", (0,))])
def test_arrays_are_read_only(field, index):
    mdp = build()
    with pytest.raises(ValueError, match="read-only"):
        getattr(mdp, field)[index] = 7.0


def test_attributes_cannot_be_reassigned():
    mdp = build()
    with pytest.raises(AttributeError):
        mdp.gamma = 0.5
    with pytest.raises(AttributeError):
        mdp.extra = 1


def test_changing_inputs_afterwards_does_not_change_the_mdp():
    P, R = two_state()
    mu0 = np.array([0.25, 0.75])
    mdp = TabularMDP(P, R, gamma=0.9, mu0=mu0)
    P[0, 0] = [1.0, 0.0]  # the caller's arrays stay theirs: still writable
    R[0, 0] = 99.0
    mu0[:] = [1.0, 0.0]
    assert mdp.P[0, 0, 0] == 0.5 and mdp.R[0, 0] == 1.0  # tolerance: exact
    assert mdp.mu0[0] == 0.25  # tolerance: exact


def test_changing_sparse_input_afterwards_does_not_change_the_mdp():
    P, R = two_state()
    M = sp.csr_array(P.reshape(4, 2))
    mdp = TabularMDP(M, R, gamma=0.9)
    M.data[:] = 0.0
    assert mdp.P[0, 0, 0] == 0.5  # tolerance: exact


def test_sparse_matrix_is_read_only():
    P, R = two_state()
    mdp = TabularMDP(sp.csr_array(P.reshape(4, 2)), R, gamma=0.9)
    with pytest.raises(ValueError, match="read-only"):
        mdp.P_matrix.data[0] = 0.0


def test_with_reward_keeps_dynamics_and_validates():
    P, R = two_state()
    mdp = TabularMDP(P, R, gamma=0.8, horizon=3, mu0=[0.25, 0.75])
    new = mdp.with_reward([[5.0, 6.0], [7.0, 8.0]])
    np.testing.assert_array_equal(new.P, mdp.P)  # tolerance: exact
    np.testing.assert_array_equal(new.R, [[5.0, 6.0], [7.0, 8.0]])  # tolerance: exact
    np.testing.assert_array_equal(new.mu0, mdp.mu0)  # tolerance: exact
    assert (new.gamma, new.horizon) == (0.8, 3)  # tolerance: exact
    np.testing.assert_array_equal(mdp.R, R)  # tolerance: exact; the original is untouched
    with pytest.raises(InvalidMDP, match=r"R axis 1"):
        mdp.with_reward(np.zeros((2, 3)))


def test_with_reward_keeps_sparse_and_exact():
    P, R = two_state()
    sparse = TabularMDP(sp.csr_array(P.reshape(4, 2)), R, gamma=0.5).with_reward(2 * R)
    assert sparse.is_sparse and sparse.R[1, 1] == 4.0  # tolerance: exact
    exact = TabularMDP(exact_P(), np.zeros((2, 2)), gamma=Fraction(1, 2))
    new = exact.with_reward(np.array([[Fraction(1, 3)] * 2] * 2, dtype=object))
    assert new.is_exact and new.exact_arrays()[1][0, 0] == Fraction(1, 3)  # tolerance: exact
    assert new.exact_arrays()[2] == Fraction(1, 2)  # tolerance: exact


def test_repr():
    assert repr(build(gamma=0.9)) == "TabularMDP(S=2, A=2, gamma=0.9, dense)"
    assert repr(build(gamma=1, horizon=4)) == "TabularMDP(S=2, A=2, gamma=1, horizon=4, dense)"


# ---- γ = 1 episodic well-posedness ------------------------------------------------------
def line(R_move=-1.0):
    """0 ← 1 ← 2 with 0 terminal; action 0 moves left, action 1 stays (reward R_move)."""
    P = np.zeros((3, 2, 3))
    P[0, :, 0] = 1.0
    P[1, 0, 0] = P[2, 0, 1] = 1.0
    P[1, 1, 1] = P[2, 1, 2] = 1.0
    R = np.full((3, 2), R_move)
    R[0] = 0.0
    return P, R


def test_episodic_without_terminal_state():
    P, R = two_state()
    mdp = TabularMDP(P, R - 5.0, gamma=1.0)
    for method in ("auto", "vi", "pi"):
        with pytest.raises(IllPosedMDP, match=r"needs terminal states .* has none"):
            solve(mdp, method=method)


def test_episodic_zero_reward_loop_is_worth_zero():
    P, R = line()
    R[2, 1] = 0.0  # staying in state 2 is free: worth 0, better than moving (−2)
    mdp = TabularMDP(P, R, gamma=1.0)
    for method in ("auto", "vi", "pi", "lp", "exact"):
        sol = solve(mdp, method=method)
        np.testing.assert_allclose(sol.V.astype(float), [0.0, -1.0, 0.0], atol=1e-12)
        assert sol.actions[2] == 1 and sol.optimal[2].tolist() == [False, True]
    # not a shortest-path problem: check_episodic itself still names the loop
    from mesabase.theory import check_episodic

    with pytest.raises(IllPosedMDP, match=r"action 1 in state 2 never leaves"):
        check_episodic(mdp)


def test_episodic_absorbing_state_with_reward():
    P, R = line()
    R[0] = [0.0, 1.0]
    mdp = TabularMDP(P, R, gamma=1.0)
    with pytest.raises(IllPosedMDP, match=r"state 0 is absorbing with reward R\[0, 1\] = 1\.0"):
        solve(mdp)


def test_episodic_unreachable_terminal():
    P = np.zeros((4, 2, 4))
    P[0, :, 0] = P[1, :, 0] = 1.0
    P[2, :, 3] = P[3, :, 2] = 1.0  # 2 and 3 swap forever: no way to the terminal state 0
    R = np.full((4, 2), -1.0)
    R[0] = 0.0
    with pytest.raises(IllPosedMDP, match=r"no policy reaches .* from states \[2, 3\]"):
        solve(TabularMDP(P, R, gamma=1.0))


def test_episodic_well_posed_line_solves():
    sol = solve(TabularMDP(*line(), gamma=1.0))
    np.testing.assert_allclose(sol.V, [0.0, -1.0, -2.0], atol=1e-12)


def test_evaluate_policy_that_never_terminates():
    mdp = TabularMDP(*line(), gamma=1.0)
    stay = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])  # state 1 stays forever
    with pytest.raises(IllPosedMDP, match=r"never terminates from states \[1, 2\]"):
        evaluate(mdp, stay)
    with pytest.raises(IllPosedMDP, match=r"never terminates"):
        occupancy(mdp, stay)


def test_evaluate_never_terminating_policy_on_sparse_mdp():
    P, R = line()
    mdp = TabularMDP(sp.csr_array(P.reshape(6, 3)), R, gamma=1.0)
    with pytest.raises(IllPosedMDP, match=r"never terminates"):
        evaluate(mdp, [[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
