"""Bayes-optimal bandit values solved one layer of beliefs at a time (issue 16, item 1):
the same numbers as the full table wherever both run, published values beyond it, and the
layer ranking against the table's order."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesabase.theory.bandits import bayes_optimal_bandit, bayes_optimal_dependent, belief_states
from mesabase.theory.bandits.bayes import MAX_STATES, n_belief_states
from mesabase.theory.bandits.layered import layer_rank, layer_states


@pytest.mark.parametrize("K,t", [(1, 0), (1, 5), (2, 0), (2, 3), (3, 4), (4, 2)])
def test_layers_are_the_tables_slices_and_ranks_invert_them(K, t):
    full = belief_states(K, t)
    layer = layer_states(K, t)
    tot = full.sum(axis=(1, 2))
    assert np.array_equal(full[tot == t], layer)  # tolerance: exact
    flat = layer.reshape(len(layer), -1)
    assert np.array_equal(layer_rank(flat, t), np.arange(len(layer)))  # tolerance: exact


prior_st = st.tuples(st.integers(1, 4), st.integers(1, 4))


@given(K=st.integers(1, 3), H=st.integers(0, 6), prior=prior_st)
@settings(max_examples=30, deadline=None)
def test_layered_equals_full_table_exactly(K, H, prior):
    full = bayes_optimal_bandit(K, H, prior=prior, exact=True, tables=True)
    lay = bayes_optimal_bandit(K, H, prior=prior, exact=True, tables=False)
    assert lay.value == full.value and isinstance(lay.value, Fraction)  # tolerance: exact
    assert list(lay.Q[0]) == list(full.Q[0])  # tolerance: exact
    assert np.array_equal(lay.optimal[0], full.optimal[0])  # tolerance: exact
    assert not lay.tables and lay.states.shape == (1, K, 2)


@given(H=st.integers(0, 8), prior=prior_st)
@settings(max_examples=20, deadline=None)
def test_layered_dependent_and_per_arm_priors(H, prior):
    full = bayes_optimal_dependent(H, prior=prior, exact=True, tables=True)
    assert bayes_optimal_dependent(H, prior=prior, exact=True, tables=False).value == full.value
    per_arm = [[prior[0], prior[1]], [prior[1], 1]]
    a = bayes_optimal_bandit(2, H, prior=per_arm, exact=True, tables=True)
    b = bayes_optimal_bandit(2, H, prior=per_arm, exact=True, tables=False)
    assert a.value == b.value  # tolerance: exact


def test_float_layered_matches_exact_to_rounding():
    ex = bayes_optimal_bandit(2, 30, exact=True, tables=False).value
    fl = bayes_optimal_bandit(2, 30, tables=False).value
    assert abs(fl - float(ex)) <= 30 * 8 * np.finfo(float).eps * 30  # tolerance: H·8 ops·ulp·V


def test_default_switches_to_layers_above_max_states_and_keeps_the_root_only():
    assert n_belief_states(3, 31) > MAX_STATES >= n_belief_states(3, 30)
    b = bayes_optimal_bandit(3, 31)
    assert not b.tables and "tables=False" in repr(b)
    assert bayes_optimal_bandit(3, 30).tables  # it fits: the full table by default
    assert abs(b.value - bayes_optimal_bandit(3, 31, tables=False).value) == 0  # tolerance: exact
    assert b.index([[0, 0], [0, 0], [0, 0]]) == 0
    assert b.action_probs([[0, 0], [0, 0], [0, 0]]).tolist() == [1 / 3] * 3  # symmetric prior
    with pytest.raises(ValueError, match="keeps the empty belief only"):
        b.index([[1, 0], [0, 0], [0, 0]])
    with pytest.raises(ValueError, match="tables=False solves layer by layer"):
        bayes_optimal_bandit(3, 31, tables=True)
    with pytest.raises(ValueError, match="tables must be True, False or None"):
        bayes_optimal_bandit(2, 3, tables="yes")


def test_uniform_two_armed_value_grows_like_the_oracle_minus_regret():
    """Sanity beyond the table: H·E[max(p1, p2)] = 2H/3 is an upper bound (full
    information), H/2 a lower one (never learning), and the Bayes-optimal value sits close
    to the top for H = 100 (regret O(log H))."""
    v = bayes_optimal_bandit(2, 100).value
    assert 50 < v < 200 / 3
    assert 200 / 3 - v < 3.0
