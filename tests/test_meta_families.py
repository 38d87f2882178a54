"""MAML's initialisation against REINFORCE from zero on task families where it can matter
(issue 16, item 3): the symmetric control shows no difference at all, the asymmetric
families a significant one, and the Monte-Carlo interval agrees with the exact gain."""

import numpy as np
import pytest

from mesabase.sims.meta.families import (
    ADVANTAGE_COLUMNS,
    INIT_FAMILIES,
    init_family,
    maml_advantage,
)


@pytest.fixture(scope="module")
def table():
    return maml_advantage(horizons=(3,), n_tasks=300, n_seeds=2, steps=60, seed=1)


def test_table_shape_and_families(table):
    assert list(table.columns) == list(ADVANTAGE_COLUMNS)
    assert list(table.family) == list(INIT_FAMILIES) and (table.horizon == 3).all()
    assert (table.n_tasks == 300).all()


def test_symmetric_control_is_exactly_no_difference(table):
    u = table[table.family == "uniform"].iloc[0]
    assert u.theta0_diff == 0.0 and u.converged  # tolerance: exact (no step from theta_0 = 0)
    assert u.exact_gain == 0.0 and u.gain == 0.0  # tolerance: exact (identical learners)
    assert not u.significant


@pytest.mark.parametrize("family", ["asymmetric", "same-best", "dependent"])
def test_asymmetric_families_gain_and_intervals_cover_the_exact_gain(table, family):
    r = table[table.family == family].iloc[0]
    assert r.theta0_diff > 1.0  # MAML learns to prefer arm 1
    assert r.exact_gain > 0 and r.significant and r.ci_low > 0
    assert r.ci_low <= r.exact_gain <= r.ci_high  # seeded: the 95% interval covers it here


def test_same_best_gains_most(table):
    g = dict(zip(table.family, table.exact_gain, strict=True))
    assert g["same-best"] > max(g["asymmetric"], g["dependent"]) > 0


def test_bad_family_and_confidence():
    with pytest.raises(ValueError, match="family must be one of"):
        init_family("nope")
    with pytest.raises(ValueError, match="confidence must be in"):
        maml_advantage(families=("uniform",), horizons=(2,), n_tasks=5, confidence=1.5)
    assert init_family("same-best").prior.tolist() == [[4.0, 1.0], [1.0, 4.0]]
    assert np.isclose(init_family("asymmetric").prior[0, 0], 2.0)  # tolerance: default
