"""Weight trajectories of the memoryless learner (issue 16, item 4): agreement with the
Bayes-optimal action set along the inner loop from the zero / MAML / Meta-SGD starts, the
NMF of the weights and the correlations of its components with the counts."""

import io
import json

import numpy as np
import pandas as pd
import pytest
from figure_checks import check_post_figure
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from mesabase.sims.agents.policies import softmax
from mesabase.sims.meta import (
    AGREEMENT_COLUMNS,
    COMPARE_COLUMNS,
    COMPONENT_COLUMNS,
    CORRELATION_COLUMNS,
    FIT_COLUMNS,
    MEASURES,
    START_COLUMNS,
    STARTS,
    BayesOptimalAgent,
    BetaTasks,
    MemorylessReinforce,
    bayes_agreement,
    enumerate_outcomes,
    fit_nmf,
    init_family,
    maml_objective,
    plot_weight_trajectories,
    record_trajectories,
    rollout,
    signed_parts,
    stat_correlations,
    weight_trajectories,
)

SIZES = dict(n_tasks=60, n_seeds=2, meta_steps=20, seed=1)


@pytest.fixture(scope="module")
def run():
    return weight_trajectories(4, **SIZES)


def test_tables_have_their_columns_and_shapes(run):
    assert list(run.agreement.columns) == list(AGREEMENT_COLUMNS)
    assert list(run.compare.columns) == list(COMPARE_COLUMNS)
    assert list(run.starts.columns) == list(START_COLUMNS)
    assert list(run.correlations.columns) == list(CORRELATION_COLUMNS)
    assert list(run.components.columns) == list(COMPONENT_COLUMNS)
    assert list(run.fit.columns) == list(FIT_COLUMNS)
    assert len(run.agreement) == len(STARTS) * 4 * len(MEASURES)
    assert list(run.starts.start) == list(STARTS) and len(run.compare) == 2 * 3
    assert len(run.correlations) == 3 * 2 * 4 and len(run.components) == 2 * 4
    assert set(run.correlations.statistic) == {"s1", "f1", "s2", "f2"}
    f = run.fit.iloc[0]  # rows: 3 starts × 60 tasks × 2 seeds × (H + 1) states
    assert f.n_rows == 3 * 60 * 2 * 5 and f.n_columns == 4 and f.n_components == 2


def test_measures_are_in_range_and_inside_their_intervals(run):
    a = run.agreement.set_index(["start", "step", "measure"])["mean"]
    for m in ("mass", "agree", "greedy_all", "greedy_any"):
        v = a.xs(m, level="measure")
        assert ((v >= 0) & (v <= 1)).all()
    assert (a.xs("greedy_all", level="measure") <= a.xs("greedy_any", level="measure")).all()
    assert (a.xs("regret_gap", level="measure") >= -1e-12).all()  # tolerance: rounding
    ok = run.agreement.dropna()
    assert ((ok.ci_low <= ok["mean"] + 1e-12) & (ok["mean"] <= ok.ci_high + 1e-12)).all()
    for r in run.compare.itertuples():
        assert r.significant == (r.ci_low > 0 or r.ci_high < 0)


def test_first_step_mass_is_the_policys_mass_on_the_prior_optimal_set(run):
    """At t = 0 every row is at the empty belief with weights θ₀, so mass = Σ_{k∈O} π_θ₀(k)
    exactly, with no spread over tasks."""
    tasks = init_family("asymmetric")
    opt = tasks.bayes(4).optimal[0]
    first = run.agreement[(run.agreement.step == 0) & (run.agreement.measure == "mass")]
    for r in run.starts.itertuples():
        want = float(softmax(np.array(json.loads(r.theta0)))[opt].sum())
        got = first[first.start == r.start].iloc[0]
        assert got["mean"] == pytest.approx(want, abs=1e-12)  # tolerance: rounding
        assert got.ci_high - got.ci_low == pytest.approx(0.0, abs=1e-12)
    assert first[first.start == "zero"]["mean"].iloc[0] == pytest.approx(opt.sum() / 2)


def test_the_bayes_gap_estimate_covers_the_exact_gap(run):
    """Σ_t E[regret_gap_t] = V* − J (performance difference): the seeded 95% intervals cover
    the exact gap of all three starts."""
    assert run.starts.covers_exact.all()
    assert (run.starts.exact_gap >= 0).all()


def test_regret_gap_sums_to_the_exact_bayes_gap_over_all_outcome_sequences():
    """Exact check of the identity on every outcome sequence (H = 3): Σ_τ P(τ) Σ_t
    regret_gap_t(τ) = V* − J(θ₀, η), to 1e-12."""
    tasks, H = init_family("asymmetric"), 3
    th0, eta = np.array([0.7, -0.2]), np.array([1.5, 0.5])
    out = enumerate_outcomes(th0, eta, tasks, H)
    M, K = len(out.prob), 2
    agent = MemorylessReinforce(th0, eta)
    state = agent.init(M, K, H, np.random.default_rng(0))
    counts = np.zeros((M, K, 2), dtype=np.int64)
    probs, cs = [], []
    for t in range(H):
        probs.append(agent.policy(state))
        cs.append(counts.copy())
        a, r = out.arms[:, t], out.rewards[:, t].astype(float)
        state = agent.update(state, counts, t, a, r)
        counts[np.arange(M), a, (r == 0).astype(int)] += 1
    bayes = tasks.bayes(H)
    gap = bayes_agreement(bayes, np.stack(cs, 1), np.stack(probs, 1))["regret_gap"]
    want = float(bayes.value) - maml_objective(th0, eta, tasks, H)
    assert float(out.prob @ gap.sum(axis=1)) == pytest.approx(want, abs=1e-12)


def test_bayes_optimal_policy_agrees_with_itself_everywhere():
    bayes = BetaTasks(2).bayes(4)
    live = bayes.states.sum(axis=(1, 2)) < 4                     # states where one acts
    m = bayes_agreement(bayes, bayes.states[live], bayes.policy[live])
    assert (m["mass"] == pytest.approx(1.0, abs=1e-12))          # tolerance: rounding
    assert (m["greedy_all"] == 1).all() and (m["greedy_any"] == 1).all()
    assert np.abs(m["regret_gap"]).max() <= 1e-12
    # a one-hot on an arm outside the optimal set has mass 0 and a positive gap
    opt = m["optimal"]
    rows = np.flatnonzero(~opt.all(axis=1))
    bad = np.eye(2)[np.argmin(opt[rows], axis=1)]
    mb = bayes_agreement(bayes, bayes.states[live][rows], bad)
    assert (mb["mass"] == 0).all() and (mb["greedy_any"] == 0).all()
    assert (mb["regret_gap"] > 0).all()
    # at the symmetric empty belief both arms are optimal: any policy agrees, whatever the ties
    assert opt[0].all()
    for pi in ([1.0, 0.0], [0.3, 0.7], [0.5, 0.5]):
        e = bayes_agreement(bayes, np.zeros((1, 2, 2), int), np.array([pi]))
        assert e["mass"][0] == 1 and e["greedy_all"][0] == 1


def test_bayes_optimal_agents_own_actions_are_in_the_optimal_set():
    tasks = init_family("asymmetric")
    bayes = tasks.bayes(6)
    p = tasks.sample(50, np.random.default_rng(3))
    rec = record_trajectories(BayesOptimalAgent(bayes), p, 6, 5)
    assert rec.theta is None and rec.counts.shape == (50, 7, 2, 2)
    opt = bayes.optimal[bayes.index(rec.counts[:, :6])]
    assert np.take_along_axis(opt, rec.rollout.arms[..., None], -1).all()


def test_recording_changes_nothing_and_follows_the_update():
    p = BetaTasks(2).sample(30, np.random.default_rng(0))
    agent = MemorylessReinforce([0.4, -0.1], eta=[2.0, 0.5], baseline=0.3)
    rec = record_trajectories(agent, p, 5, 11)
    plain = rollout(agent, p, 5, 11)
    for a, b in zip(rec.rollout, plain, strict=True):
        np.testing.assert_array_equal(a, b)
    arms, rew = plain.arms, plain.rewards.astype(float)
    for t in range(5):
        th = rec.theta[:, t]
        step = np.eye(2)[arms[:, t]] - softmax(th)
        np.testing.assert_allclose(rec.theta[:, t + 1],
                                   th + agent.eta * (rew[:, t] - 0.3)[:, None] * step,
                                   rtol=0, atol=1e-12)  # tolerance: rounding
    final = np.zeros((30, 2, 2), int)
    np.add.at(final, (np.repeat(np.arange(30), 5), arms.ravel(), 1 - plain.rewards.ravel()), 1)
    np.testing.assert_array_equal(rec.counts[:, -1], final)
    assert (rec.counts.sum(axis=(2, 3)) == np.arange(6)).all()


@settings(max_examples=30, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 4)),
              elements=st.floats(-50, 50)))
def test_signed_parts_are_non_negative_and_invertible(theta):
    X = signed_parts(theta)
    K = theta.shape[1]
    assert X.shape == (theta.shape[0], 2 * K) and (X >= 0).all()
    assert ((X[:, :K] == 0) | (X[:, K:] == 0)).all()
    np.testing.assert_allclose(X[:, :K] - X[:, K:], theta - theta.mean(1, keepdims=True),
                               atol=1e-12)


def test_nmf_is_non_negative_and_exact_at_the_rank(run):
    theta = np.random.default_rng(4).normal(size=(200, 2))
    X = signed_parts(theta)       # K = 2: rank ≤ 2
    W, comps, fit = fit_nmf(X, 2, random_state=0)
    assert (W >= 0).all() and (comps.loading >= 0).all()
    assert fit.converged.iloc[0] and fit.relative_err.iloc[0] < 1e-6
    H = comps.pivot(index="component", columns="column", values="loading")
    cols = ["theta1+", "theta2+", "theta1-", "theta2-"]
    err = np.linalg.norm(X - W @ H[cols].to_numpy())
    assert fit.frobenius_err.iloc[0] == pytest.approx(err, abs=1e-9)
    top = [cols.index(H.loc[c].idxmax()) for c in H.index]    # canonical component order
    assert top == sorted(top)
    assert (run.components.loading >= 0).all() and run.fit.n_iter.iloc[0] >= 1
    assert run.fit.converged.iloc[0] == (run.fit.n_iter.iloc[0] < run.fit.max_iter.iloc[0])


def test_correlations_match_numpy_and_the_brute_force_jackknife():
    rng = np.random.default_rng(7)
    g = np.repeat(np.arange(12), 5)
    A = rng.random((60, 2)) + g[:, None] * 0.05
    S = np.column_stack([A[:, 0] + rng.normal(0, 0.3, 60), rng.random(60)])
    c = stat_correlations(A, S, g, confidence=0.9, statistics=["a", "b"])
    assert list(c.columns) == list(CORRELATION_COLUMNS[2:])
    for r in c.itertuples():
        x, y = A[:, r.component], S[:, ["a", "b"].index(r.statistic)]
        assert r.r == pytest.approx(np.corrcoef(x, y)[0, 1], abs=1e-10)  # tolerance: rounding
        z = np.array([np.arctanh(np.corrcoef(x[g != j], y[g != j])[0, 1]) for j in range(12)])
        se = np.sqrt(11 / 12 * ((z - z.mean()) ** 2).sum())
        from scipy import stats
        half = stats.t.ppf(0.95, 11) * se
        assert r.ci_low == pytest.approx(np.tanh(np.arctanh(r.r) - half), abs=1e-10)
        assert r.ci_high == pytest.approx(np.tanh(np.arctanh(r.r) + half), abs=1e-10)
        assert -1 <= r.ci_low <= r.r <= r.ci_high <= 1
    const = stat_correlations(np.ones((10, 1)), S[:10], g[:10])
    assert const.r.isna().all() and const.ci_low.isna().all()
    one = stat_correlations(A[:5], S[:5], np.zeros(5))
    assert one.r.notna().all() and one.ci_low.isna().all()


def test_study_correlations_are_bounded(run):
    c = run.correlations.dropna()
    assert len(c) and ((-1 <= c.ci_low) & (c.ci_low <= c.r) & (c.r <= c.ci_high)
                       & (c.ci_high <= 1)).all()
    assert (run.correlations.n_tasks == 60).all()


def test_reproducible_with_the_same_seed(run):
    again = weight_trajectories(4, **SIZES)
    for a, b in zip(run, again, strict=True):
        pd.testing.assert_frame_equal(a, b, check_exact=True)
    other = weight_trajectories(4, **{**SIZES, "seed": 2})
    assert not other.agreement["mean"].equals(run.agreement["mean"])


@pytest.mark.parametrize("kwargs,message", [
    (dict(horizon=1), "horizon must be an int >= 2"),
    (dict(n_tasks=1), "n_tasks must be an int >= 2"),
    (dict(confidence=1.0), "confidence must be in"),
    (dict(tasks="nope"), "family must be one of"),
    (dict(tasks=3), "tasks must be a family name"),
    (dict(n_components=0), "n_components must be an int >= 1"),
    (dict(seed=-1), "seed must be an int >= 0"),
])
def test_bad_inputs_raise(kwargs, message):
    args = {"horizon": 3, "n_tasks": 4, "n_seeds": 1, "meta_steps": 0, **kwargs}
    with pytest.raises(ValueError, match=message):
        weight_trajectories(args.pop("horizon"), **args)


def test_bad_inputs_of_the_parts_raise():
    bayes = BetaTasks(2).bayes(2)
    with pytest.raises(ValueError, match="probs must have shape"):
        bayes_agreement(bayes, np.zeros((3, 2, 2), int), np.full((3, 3), 1 / 3))
    with pytest.raises(ValueError, match="summing to 1"):
        bayes_agreement(bayes, np.zeros((1, 2, 2), int), np.array([[0.9, 0.9]]))
    with pytest.raises(ValueError, match="non-negative"):
        fit_nmf(-np.ones((3, 2)), 1, random_state=0)
    with pytest.raises(ValueError, match="n_components must be an int in"):
        fit_nmf(np.ones((3, 2)), 5, random_state=0)
    with pytest.raises(ValueError, match="must agree"):
        stat_correlations(np.ones((4, 1)), np.ones((5, 1)), np.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        signed_parts([[np.nan, 1.0]])


def test_figure(run):
    fig = plot_weight_trajectories(run.agreement, run.correlations)
    check_post_figure(fig, ["meta-bandits"])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == list(STARTS) and len(fig.axes) == 1 + 3 + 1   # + the colour bar


def test_the_study_writes_the_files_and_the_report_section(tmp_path):
    from mesabase.sims.meta.study import run_study, study_sizes

    sizes = study_sizes(horizons=(2,), n_tasks=10, n_seeds=1, meta_steps=2)
    run_study(tmp_path, sizes, stream=io.StringIO())
    folder = tmp_path / "meta-bandits"
    for name in ("agreement", "compare", "starts", "nmf", "components", "fit"):
        assert (folder / f"weights-{name}.csv").exists(), name
    assert (folder / "weights.png").exists() and (folder / "weights.svg").exists()
    ag = pd.read_csv(folder / "weights-agreement.csv")
    assert list(ag.columns) == list(AGREEMENT_COLUMNS) and ag.step.max() == 1   # H = 2
    from mesabase.sims.meta.study import study_section

    text = "\n".join(study_section(tmp_path))
    assert "### Where does the memoryless learner keep the statistics?" in text
    assert "meta-bandits/weights.png" in text
    cmp_ = pd.read_csv(folder / "weights-compare.csv")
    r = cmp_[(cmp_.start == "maml") & (cmp_.summary == "mass_last")].iloc[0]
    verdict = ("significantly higher than" if r.ci_low > 0 else "significantly lower than"
               if r.ci_high < 0 else "not distinguishable from")
    assert f"maml's mass at the last step is {verdict} the zero start's" in text
