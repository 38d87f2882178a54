"""paired_differences: the paired comparison of each agent with the Bayes-optimal agent."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mesabase.sims.meta import DIFFERENCE_COLUMNS, paired_differences


def _table(diffs: dict, n_tasks=30, n_seeds=2, seed=0):
    rng = np.random.default_rng(seed)
    base = rng.random((n_tasks, n_seeds))
    rows = []
    for agent, shift in {"bayes-optimal": 0.0, **diffs}.items():
        noise = rng.normal(0, 0.05, (n_tasks, n_seeds)) if agent != "bayes-optimal" else 0
        reg = base + shift + noise
        for t in range(n_tasks):
            for s in range(n_seeds):
                rows.append((agent, 5, t, s, reg[t, s], 0))
    return pd.DataFrame(rows, columns=["agent", "horizon", "task", "seed", "regret", "return"])


def test_paired_interval_is_the_t_interval_of_task_mean_differences():
    df = _table({"a": 0.3, "b": 0.0})
    out = paired_differences(df)
    assert list(out.columns) == list(DIFFERENCE_COLUMNS)
    assert set(out.agent) == {"a", "b"}
    per = df.groupby(["agent", "task"])["regret"].mean()
    d = (per["a"] - per["bayes-optimal"]).to_numpy()
    r = out.set_index("agent").loc["a"]
    half = stats.t.ppf(0.975, d.size - 1) * d.std(ddof=1) / np.sqrt(d.size)
    assert r.difference == pytest.approx(d.mean())
    assert (r.ci_low, r.ci_high) == pytest.approx((d.mean() - half, d.mean() + half))
    assert r.p_value == pytest.approx(stats.ttest_rel(per["a"], per["bayes-optimal"]).pvalue)
    assert r.significant and r.significant_holm
    b = out.set_index("agent").loc["b"]
    assert b.significant == (b.ci_low > 0 or b.ci_high < 0)


def test_holm_is_never_more_permissive_than_one_comparison():
    df = _table({f"x{i}": 0.02 * i for i in range(8)}, n_tasks=12, seed=3)
    out = paired_differences(df)
    assert not (out.significant_holm & ~out.significant).any()
    # Holm at α = 0.05: the smallest p must clear 0.05/k to reject anything.
    k = len(out)
    if out.p_value.min() > 0.05 / k:
        assert not out.significant_holm.any()


def test_without_the_reference_the_table_is_empty_and_bad_confidence_raises():
    df = _table({"a": 0.1}).query("agent != 'bayes-optimal'")
    assert paired_differences(df).empty
    with pytest.raises(ValueError, match="confidence"):
        paired_differences(_table({"a": 0.1}), confidence=1.5)
