"""Frozen weights, improving performance (issue 16, item 5): per-step regret within the
episode for a frozen belief-state policy and for REINFORCE, on and off the training
family, with intervals, and its figure."""

import numpy as np
import pandas as pd
import pytest

from mesabase.sims.meta import BetaTasks, DependentTasks
from mesabase.sims.meta.frozen import (
    FROZEN_COLUMNS,
    IMPROVEMENT_COLUMNS,
    frozen_weights,
    plot_frozen_weights,
)


@pytest.fixture(scope="module")
def run():
    return frozen_weights(6, n_tasks=300, n_seeds=2, steps=30, batch=128, seed=2)


def test_tables(run):
    per_step, imp, rep = run
    assert list(per_step.columns) == list(FROZEN_COLUMNS)
    assert list(imp.columns) == list(IMPROVEMENT_COLUMNS)
    assert len(per_step) == 2 * 2 * 6 and set(per_step.step) == set(range(6))
    assert ((per_step.regret >= 0) & (per_step.regret <= 1)).all()
    assert ((per_step.ci_low <= per_step.regret) & (per_step.regret <= per_step.ci_high)).all()
    for r in imp.itertuples():  # improvement = early − late (means over the same tasks)
        assert r.improvement == pytest.approx(r.early - r.late, abs=1e-12)  # tolerance: 1e-12
        assert r.significant == (r.ci_low > 0 or r.ci_high < 0)
    assert rep.steps <= 30 and rep.bayes_gap == pytest.approx(rep.class_gap)


def test_first_step_regret_is_the_prior_gap_whatever_the_policy(run):
    """At t = 0 on uniform arms every arm has mean 1/2 and E[max p] = 2/3: ρ_0 = 1/6 for any
    first action; the seeded 95% intervals of both agents cover it."""
    per_step = run[0]
    first = per_step[(per_step.family == "train") & (per_step.step == 0)]
    assert ((first.ci_low <= 1 / 6) & (1 / 6 <= first.ci_high)).all()


def test_frozen_belief_policy_improves_within_the_episode(run):
    imp = run[1]
    frozen = imp[imp.agent == "belief (frozen)"]
    assert (frozen.improvement > 0).all() and frozen.significant.all()


def test_seeded_and_errors():
    a = frozen_weights(3, n_tasks=20, n_seeds=1, steps=2, batch=16, seed=7)[0]
    b = frozen_weights(3, n_tasks=20, n_seeds=1, steps=2, batch=16, seed=7)[0]
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    with pytest.raises(ValueError, match="horizon must be an int >= 2"):
        frozen_weights(1)
    with pytest.raises(ValueError, match="same number of arms"):
        frozen_weights(3, shifted=BetaTasks(3), steps=1)
    with pytest.raises(ValueError, match="confidence must be in"):
        frozen_weights(3, confidence=0.0)
    out = frozen_weights(3, train=DependentTasks(), shifted=BetaTasks(2, prior=(3, 1)),
                         n_tasks=10, n_seeds=1, steps=1, batch=8)
    assert set(out[0].family) == {"train", "shifted"}


def test_figure(run):
    fig = plot_frozen_weights(run[0])
    assert len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["belief (frozen)", "reinforce (learning)"]
    assert np.isfinite([ln.get_ydata().astype(float).sum() for ln in fig.axes[0].get_lines()]).all()


def test_t_interval_formula_and_small_samples():
    from scipy import stats

    from mesabase.sims.meta import t_interval

    x = np.array([1.0, 2.0, 4.0, 7.0])
    m, lo, hi = t_interval(x, 0.9)
    half = stats.t.ppf(0.95, 3) * x.std(ddof=1) / 2.0
    assert m == 3.5 and hi - m == pytest.approx(half, rel=1e-12)  # tolerance: 1e-12 rel
    assert m - lo == pytest.approx(half, rel=1e-12)  # tolerance: 1e-12 rel
    one = t_interval(np.array([5.0]), 0.95)
    assert one[0] == 5.0 and np.isnan(one[1]) and np.isnan(one[2])
