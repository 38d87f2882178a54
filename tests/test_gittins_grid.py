"""Whole Gittins tables by one induction per λ over the shared triangle
(mesabase.theory.bandits.gittins_grid): certified brackets against the independent per-index
calibration, published values, width ≤ tol, monotonicity, the two engines, bad inputs.

Tolerances: ``gittins_table_bracket(…, tol)`` promises lower ≤ G ≤ upper with upper − lower
≤ tol; ``gittins_index(…, 1e-10)`` is within 5e-11 of G, so it must lie in
[lower − 5e-11, upper + 5e-11] (plus 1e-12 for rounding). Published values are rounded to 4
decimals: matched to 5e-5 + tol.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesabase.theory.bandits import gittins_index, gittins_table, gittins_table_bracket

REF_TOL = 1e-10


def _nodes(M):
    s, f = np.nonzero(np.add.outer(np.arange(M + 1), np.arange(M + 1)) <= M)
    return s, f


def _check_contains(lo, up, prior, gamma, M, every=1, ref_tol=REF_TOL):
    """The per-index value (within ref_tol/2 of G) lies in the bracket, up to ref_tol/2."""
    s, f = _nodes(M)
    s, f = s[::every], f[::every]
    ref = gittins_index(prior[0] + s, prior[1] + f, gamma, tol=ref_tol)
    slack = ref_tol / 2 + 1e-12
    assert (lo[s, f] - slack <= ref).all() and (ref <= up[s, f] + slack).all()


@pytest.mark.parametrize("gamma, M, prior, every", [
    (0.9, 8, (1, 1), 2), (0.99, 12, (2, 0.5), 13), (0.6, 8, (0.3, 4), 1),
])
def test_brackets_contain_per_index_value(gamma, M, prior, every):
    tol = 1e-6
    lo, up = gittins_table_bracket(gamma, M, prior=prior, tol=tol)
    s, f = _nodes(M)
    assert (up[s, f] - lo[s, f] <= tol).all() and (lo[s, f] <= up[s, f]).all()
    _check_contains(lo, up, prior, gamma, M, every, 1e-9 if gamma > 0.95 else REF_TOL)


@settings(max_examples=12, deadline=None)
@given(st.floats(0.05, 0.95), st.integers(0, 4), st.floats(0.3, 6), st.floats(0.3, 6),
       st.sampled_from([1e-3, 1e-5, 1e-8]))
def test_bracket_property(gamma, M, a, b, tol):
    lo, up = gittins_table_bracket(gamma, M, prior=(a, b), tol=tol)
    s, f = _nodes(M)
    assert (up[s, f] - lo[s, f] <= tol).all()
    _check_contains(lo, up, (a, b), gamma, M)


def test_table_midpoints_match_per_index_method():
    """gittins_table (shared) and the per-index table are each within tol/2 of G."""
    for gamma, M in [(0.9, 10), (0.99, 3)]:
        shared = gittins_table(gamma, M)
        per_index = gittins_table(gamma, M, method="per-index")
        np.testing.assert_array_equal(np.isnan(shared), np.isnan(per_index))
        np.testing.assert_allclose(shared, per_index, rtol=0, atol=1e-6)


# Christian & Griffiths, *Algorithms to Live By* (2016), ch. 2: Gittins index tables for a
# payoff next time worth 90% (99%) of one now, uniform prior; w wins, l losses → table[w, l].
@pytest.mark.parametrize("gamma, w, l, value", [
    (0.9, 0, 0, 0.7029), (0.9, 1, 1, 0.6346), (0.9, 2, 2, 0.6010), (0.9, 9, 1, 0.8695),
    (0.9, 9, 6, 0.6300), (0.99, 0, 0, 0.8699),
])
def test_published_values(gamma, w, l, value):
    lo, up = gittins_table_bracket(gamma, 15 if gamma == 0.9 else 1)
    assert lo[w, l] - 5e-5 <= value <= up[w, l] + 5e-5
    assert abs(gittins_table(gamma, 15 if gamma == 0.9 else 1)[w, l] - value) <= 5e-5 + 5e-7


def test_zero_one_record_above_half_at_099():
    lo, _ = gittins_table_bracket(0.99, 1)
    assert lo[0, 1] > 0.5  # "still above 50%" (ibid.)


def test_monotone_in_successes_and_failures_certified():
    """A success raises the index, a failure lowers it: the brackets are disjoint."""
    lo, up = gittins_table_bracket(0.97, 25, tol=1e-6)
    s, f = np.meshgrid(np.arange(26), np.arange(26), indexing="ij")
    inner = s + f <= 24
    assert (lo[1:, :][inner[:-1, :]] > up[:-1, :][inner[:-1, :]]).all()
    assert (up[:, 1:][inner[:, :-1]] < lo[:, :-1][inner[:, :-1]]).all()
    mean = (1 + s) / (2 + s + f)
    ok = s + f <= 25
    assert (lo[ok] >= mean[ok] - 1e-12).all()  # G ≥ posterior mean


def test_brackets_from_different_grids_overlap_and_engines_agree():
    a = gittins_table_bracket(0.9, 10, grid=0.05)
    b = gittins_table_bracket(0.9, 10, grid=1e-3)
    c = gittins_table_bracket(0.9, 10, grid=0.05, engine="numpy")
    s, f = _nodes(10)
    assert (np.maximum(a[0], b[0])[s, f] <= np.minimum(a[1], b[1])[s, f]).all()
    for x, y in zip(a, c, strict=True):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12, equal_nan=True)


def test_shapes_gamma_zero_and_nan_outside():
    lo, up = gittins_table_bracket(0.0, 3, prior=(2, 3))
    s, f = _nodes(3)
    np.testing.assert_array_equal(lo[s, f], (2 + s) / (5 + s + f))
    np.testing.assert_array_equal(up[s, f], lo[s, f])
    out = np.add.outer(np.arange(4), np.arange(4)) > 3
    assert lo.shape == up.shape == (4, 4) and np.isnan(lo[out]).all() and np.isnan(up[out]).all()
    lo0, up0 = gittins_table_bracket(0.9, 0)
    assert lo0.shape == (1, 1) and lo0[0, 0] <= 0.70295 and up0[0, 0] >= 0.70285


@pytest.mark.parametrize("args, kwargs, match", [
    ((1.0, 3), {}, "gamma"), ((-0.1, 3), {}, "gamma"), ((True, 3), {}, "gamma"),
    (("0.9", 3), {}, "gamma"), ((0.9, 3), dict(tol=0.0), "tol"),
    ((0.9, 3), dict(tol=float("nan")), "tol"), ((0.9, -1), {}, "max_pulls"),
    ((0.9, 2.5), {}, "max_pulls"), ((0.9, False), {}, "max_pulls"),
    ((0.9, 3), dict(prior=(1, 1, 1)), "shape"), ((0.9, 3), dict(prior=(0, 1)), "prior"),
    ((0.9, 3), dict(prior=(1, np.inf)), "prior"), ((0.9, 3), dict(prior="ab"), "prior"),
    ((0.9, 3), dict(engine="gpu"), "engine"), ((0.9, 3), dict(grid=0.0), "grid"),
    ((0.9, 3), dict(grid=-1e-3), "grid"), ((0.9999, 3), dict(tol=1e-9), "MAX_DEPTH"),
])
def test_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        gittins_table_bracket(*args, **kwargs)


def test_table_method_error():
    with pytest.raises(ValueError, match="method"):
        gittins_table(0.9, 3, method="fast")
