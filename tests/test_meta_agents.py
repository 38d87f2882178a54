"""Rollouts with common random numbers, the classical agents against their textbook
behaviour, and the meta-bandits study (table, summary, figure)."""

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, stats

from mesabase.sims.meta import (
    UCB1,
    AgentSpec,
    BayesOptimalAgent,
    BetaTasks,
    DependentTasks,
    GittinsAgent,
    Greedy,
    NoState,
    Thompson,
    classical_agents,
    default_agents,
    exact_bayes_regret,
    meta_bandits,
    meta_learned_agents,
    plot_meta_bandits,
    random_argmax,
    rollout,
    sample_arms,
    split_seed,
    summarise,
)
from mesabase.theory.bandits.gittins import gittins_index


class Fixed:
    """Always pulls ``arm`` (a deterministic agent for checking the rollout)."""

    def __init__(self, arm=0, name="fixed"):
        self.arm, self.name = arm, name

    def init(self, n, n_arms, horizon, rng):
        return NoState()

    def act(self, state, counts, t, rng):
        return np.full(counts.shape[0], self.arm, dtype=np.int64)

    def update(self, state, counts, t, arms, rewards):
        return state


class RoundRobin(Fixed):
    def act(self, state, counts, t, rng):
        return np.full(counts.shape[0], t % counts.shape[1], dtype=np.int64)


def _table(seed, n, K, H):
    table, _ = split_seed(seed)
    return np.random.Generator(np.random.PCG64(table)).random((n, K, H))


def _agents(tasks, H):
    return [BayesOptimalAgent(tasks.bayes(H)), GittinsAgent(0.9), UCB1(), Thompson(), Greedy()]


# ---- rollout -------------------------------------------------------------------------------
def test_rollout_shapes_and_regret():
    p = np.array([[0.2, 0.7], [0.9, 0.1], [0.5, 0.5]])
    out = rollout(RoundRobin(), p, 4, seed=3)
    assert out.arms.shape == out.rewards.shape == out.means.shape == (3, 4)
    assert out.arms.dtype == np.int64 and out.rewards.dtype == np.int8
    np.testing.assert_array_equal(out.arms, np.tile([0, 1, 0, 1], (3, 1)))
    np.testing.assert_array_equal(out.means, p[:, [0, 1, 0, 1]])
    # H·max p − Σ p[a_t], by hand: 4·0.7 − 1.8 = 1.0, 3.6 − 2.0 = 1.6, 0
    np.testing.assert_allclose(out.regret, [1.0, 1.6, 0.0], atol=1e-12)


def test_rollout_pays_from_the_outcome_table():
    """The j-th pull of arm k in row i pays 1 iff U[i, k, j] < p[i, k]."""
    p = np.array([[0.3, 0.6], [0.8, 0.4]])
    out = rollout(RoundRobin(), p, 6, seed=11)
    U = _table(11, 2, 2, 6)
    for i in range(2):
        for t in range(6):
            k, j = t % 2, t // 2
            assert out.rewards[i, t] == int(U[i, k, j] < p[i, k])


def _per_arm_rewards(out, K):
    """{(row, arm): rewards of that arm in pull order}."""
    seqs = {}
    for i in range(out.arms.shape[0]):
        for k in range(K):
            seqs[i, k] = out.rewards[i][out.arms[i] == k]
    return seqs


def test_common_random_numbers_across_agents():
    """Two agents with the same seed face the same table: wherever both pulled arm k at least
    j + 1 times in row i, their j-th rewards from arm k agree."""
    p = BetaTasks(3).sample(200, rng=5)
    a = _per_arm_rewards(rollout(UCB1(), p, 30, seed=9), 3)
    b = _per_arm_rewards(rollout(Thompson(), p, 30, seed=9), 3)
    compared = 0
    for key in a:
        m = min(a[key].size, b[key].size)
        np.testing.assert_array_equal(a[key][:m], b[key][:m])
        compared += m
    assert compared > 2000  # the check compared many pulls
    c = _per_arm_rewards(rollout(UCB1(), p, 30, seed=10), 3)
    assert any(not np.array_equal(a[k][:3], c[k][:3]) for k in a)  # another seed differs


@pytest.mark.parametrize("make", [lambda: BayesOptimalAgent(BetaTasks(2).bayes(8)),
                                  lambda: GittinsAgent(0.9), UCB1, Thompson, Greedy])
def test_same_agent_same_seed_bit_identical(make):
    p = BetaTasks(2).sample(64, rng=1)
    x, y = rollout(make(), p, 8, seed=4), rollout(make(), p, 8, seed=4)
    for f in x._fields:
        np.testing.assert_array_equal(getattr(x, f), getattr(y, f))
    seed_ss = np.random.SeedSequence(4)
    z = rollout(make(), p, 8, seed=seed_ss)
    np.testing.assert_array_equal(x.arms, z.arms)


@pytest.mark.parametrize("make", [lambda: BayesOptimalAgent(BetaTasks(2).bayes(8)),
                                  lambda: GittinsAgent(0.9), UCB1, Thompson, Greedy])
def test_row_independence(make):
    """Row i's result depends only on p[i] (for a fixed seed and n), not on other rows."""
    p = BetaTasks(2).sample(50, rng=2)
    q = BetaTasks(2).sample(50, rng=3)
    q[7] = p[7]
    x, y = rollout(make(), p, 8, seed=6), rollout(make(), q, 8, seed=6)
    for f in ("arms", "rewards", "means"):
        np.testing.assert_array_equal(getattr(x, f)[7], getattr(y, f)[7])
    assert x.regret[7] == y.regret[7]
    assert not np.array_equal(x.means, y.means)


def test_outcome_table_independent_of_batch_size():
    p = np.array([[0.4, 0.6]] * 5)
    big, small = rollout(RoundRobin(), p, 5, seed=0), rollout(RoundRobin(), p[:2], 5, seed=0)
    np.testing.assert_array_equal(big.rewards[:2], small.rewards)


class BadArms(Fixed):
    def act(self, state, counts, t, rng):
        return np.full(counts.shape[0], 5 if t == 1 else 0)


class FloatArms(Fixed):
    def act(self, state, counts, t, rng):
        return np.zeros(counts.shape[0])


@pytest.mark.parametrize("call, match", [
    (lambda: rollout(Fixed(), [0.5, 0.5], 3, 0), "p must have shape"),
    (lambda: rollout(Fixed(), [[0.5, 1.5]], 3, 0), r"p\[0, 1\] = 1.5"),
    (lambda: rollout(Fixed(), [[0.5, np.nan]], 3, 0), "p must lie"),
    (lambda: rollout(Fixed(), [[0.5, 0.5]], 0, 0), "horizon"),
    (lambda: rollout(Fixed(), [[0.5, 0.5]], 2.0, 0), "horizon"),
    (lambda: rollout(Fixed(), [[0.5, 0.5]], 3, -1), "seed"),
    (lambda: rollout(Fixed(), [[0.5, 0.5]], 3, "a"), "seed"),
    (lambda: rollout(object(), [[0.5, 0.5]], 3, 0), "Agent protocol"),
    (lambda: rollout(BadArms(), [[0.5, 0.5]], 3, 0), "arm 5 outside"),
    (lambda: rollout(FloatArms(), [[0.5, 0.5]], 3, 0), "integer arms"),
])
def test_rollout_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ---- sampling helpers ----------------------------------------------------------------------
def test_sample_arms_inversion_and_draw_count():
    rng, ref = np.random.default_rng(0), np.random.default_rng(0)
    probs = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    np.testing.assert_array_equal(sample_arms(probs, rng), [0, 2, 1])
    ref.random(3)
    assert rng.random() == ref.random()  # exactly n variates were drawn


def test_random_argmax_splits_ties_uniformly():
    n = 30_000
    vals = np.tile([0.3, 0.7, 0.7, 0.1], (n, 1))
    arms = random_argmax(vals, np.random.default_rng(1))
    assert set(np.unique(arms)) == {1, 2}
    # each tied arm w.p. ½: 5-sigma binomial band, sd = √(¼/n)
    assert abs((arms == 1).mean() - 0.5) <= 5 * math.sqrt(0.25 / n)


# ---- UCB1 ----------------------------------------------------------------------------------
def test_ucb1_pulls_every_arm_once_first():
    p = BetaTasks(4).sample(100, rng=0)
    out = rollout(UCB1(), p, 10, seed=1)
    np.testing.assert_array_equal(out.arms[:, :4], np.tile([0, 1, 2, 3], (100, 1)))


def test_ucb1_index_by_hand():
    """Auer et al. (2002), Fig. 1: x̄ₖ + √(2 ln t / nₖ), t the pulls so far.
    Row 0: arm 0 (s=2, f=1), arm 1 (s=1, f=0), t = 4:
      2/3 + √(2 ln 4 / 3) = 1.6280 < 1 + √(2 ln 4) = 2.6651  -> arm 1.
    Row 1: arm 0 (s=9, f=1), arm 1 (s=0, f=2), t = 12:
      0.9 + √(2 ln 12 / 10) = 1.6049 > 0 + √(2 ln 12 / 2) = 1.5764  -> arm 0."""
    assert 2 / 3 + math.sqrt(2 * math.log(4) / 3) == pytest.approx(1.6280, abs=1e-4)
    assert 0.9 + math.sqrt(2 * math.log(12) / 10) == pytest.approx(1.6049, abs=1e-4)
    assert math.sqrt(math.log(12)) == pytest.approx(1.5764, abs=1e-4)
    counts = np.array([[[2, 1], [1, 0]], [[9, 1], [0, 2]]])
    arms = UCB1().act(NoState(), counts, None, np.random.default_rng(0))
    np.testing.assert_array_equal(arms, [1, 0])
    # an unpulled arm goes first, lowest index first
    counts = np.array([[[5, 0], [0, 0], [0, 0]]])
    assert UCB1().act(NoState(), counts, 5, np.random.default_rng(0))[0] == 1


@pytest.mark.parametrize("T", [100, 400, 1600])
def test_ucb1_regret_within_auer_bound(T):
    """Mean regret over 300 runs ≤ 8 ln T / Δ + (1 + π²/3) Δ (Auer et al. 2002, Theorem 1;
    K = 2, p = (0.7, 0.4), Δ = 0.3). The bound holds for the expectation; the sample mean's
    sd is ≤ T·Δ/√300, far below the slack seen here."""
    delta = 0.3
    p = np.tile([0.7, 0.4], (300, 1))
    mean = rollout(UCB1(), p, T, seed=2).regret.mean()
    bound = 8 * math.log(T) / delta + (1 + math.pi**2 / 3) * delta
    assert mean <= bound


def test_ucb1_regret_grows_logarithmically():
    """Sub-polynomial growth: from T = 100 to 6400 (64x; ln ratio 8.76/4.61 = 1.9) the mean
    regret over 200 runs grows by less than √64 = 8 (linear growth would give 64; observed
    ≈ 6.7), and regret/ln T at T = 6400 stays below Auer's 8/Δ (observed ≈ 5 vs 26.7)."""
    p = np.tile([0.7, 0.4], (200, 1))
    r = {T: rollout(UCB1(), p, T, seed=3).regret.mean() for T in (100, 6400)}
    assert r[6400] / r[100] < 8.0
    assert r[6400] / math.log(6400) < 8 / 0.3


# ---- Thompson ------------------------------------------------------------------------------
def test_thompson_picks_arm_with_posterior_probability_of_being_best():
    """P(arm 0 pulled) = P(θ₀ > θ₁), θ₀ ~ Beta(1+3, 1+1), θ₁ ~ Beta(1+1, 1+2), computed by
    ∫ f₀(x) F₁(x) dx (quad, tol 1e-12); the frequency over n = 40000 rows lies within a
    5-sigma binomial band."""
    counts = np.tile(np.array([[3, 1], [1, 2]]), (40_000, 1, 1))
    exact, _ = integrate.quad(lambda x: stats.beta.pdf(x, 4, 2) * stats.beta.cdf(x, 2, 3),
                              0, 1, epsabs=1e-12, epsrel=1e-12)
    agent = Thompson()
    arms = agent.act(agent.init(40_000, 2, 10, None), counts, 7, np.random.default_rng(5))
    freq = (arms == 0).mean()
    assert abs(freq - exact) <= 5 * math.sqrt(exact * (1 - exact) / 40_000)
    # a per-arm prior shifts it: arm 1 with prior Beta(9, 1) is now the favourite
    agent = Thompson([[1, 1], [9, 1]])
    arms = agent.act(agent.init(40_000, 2, 10, None), counts, 7, np.random.default_rng(5))
    exact2, _ = integrate.quad(lambda x: stats.beta.pdf(x, 4, 2) * stats.beta.cdf(x, 10, 3),
                               0, 1, epsabs=1e-12, epsrel=1e-12)
    assert abs((arms == 0).mean() - exact2) <= 5 * math.sqrt(exact2 * (1 - exact2) / 40_000)


# ---- Greedy --------------------------------------------------------------------------------
def test_greedy_posterior_mean_and_ties():
    agent, rng = Greedy(), np.random.default_rng(0)
    # means (1+0)/(2+1) = 1/3 vs (1+0)/2 = 1/2 -> arm 1; (1+3)/(2+4) = 2/3 vs 1/2 -> arm 0
    counts = np.array([[[0, 1], [0, 0]], [[3, 1], [0, 0]]])
    np.testing.assert_array_equal(agent.act(agent.init(2, 2, 5, rng), counts, 0, rng), [1, 0])
    # equal posterior means 2/4 = 1/2: a fair coin (5-sigma band over 20000 rows)
    counts = np.tile(np.array([[1, 1], [0, 0]]), (20_000, 1, 1))
    arms = agent.act(agent.init(20_000, 2, 5, rng), counts, 2, rng)
    assert abs(arms.mean() - 0.5) <= 5 * math.sqrt(0.25 / 20_000)
    # a prior changes the means: Beta(1, 9) on arm 1 makes arm 0 (mean 1/3) better than 1/10
    g = Greedy([[1, 1], [1, 9]])
    assert g.act(g.init(1, 2, 5, rng), np.zeros((1, 2, 2), np.int64), 0, rng)[0] == 0


# ---- Gittins -------------------------------------------------------------------------------
def test_gittins_agent_follows_the_index():
    rng = np.random.default_rng(0)
    agent = GittinsAgent(0.9)
    # arm 0: Beta(1+1, 1+3), arm 1: Beta(1, 1) -> the larger index, from gittins_index
    counts = np.array([[[1, 3], [0, 0]], [[4, 0], [1, 1]]])
    expect = [int(gittins_index(2, 4, 0.9) < gittins_index(1, 1, 0.9)),
              int(gittins_index(5, 1, 0.9) < gittins_index(2, 2, 0.9))]
    assert expect == [1, 0]
    np.testing.assert_array_equal(agent.act(agent.init(2, 2, 10, rng), counts, 4, rng), expect)
    counts = np.tile(np.array([[2, 1], [2, 1]]), (20_000, 1, 1))  # exact tie: a fair coin
    arms = agent.act(agent.init(20_000, 2, 10, rng), counts, 6, rng)
    assert abs(arms.mean() - 0.5) <= 5 * math.sqrt(0.25 / 20_000)
    assert agent.name == "gittins(0.9)"


# ---- Bayes-optimal -------------------------------------------------------------------------
@pytest.mark.parametrize("tasks, H", [(BetaTasks(2), 10), (BetaTasks(3, (1, 2)), 5),
                                      (DependentTasks(), 8)])
def test_bayes_agent_mean_reward_matches_value(tasks, H):
    """Monte-Carlo mean of Σₜ p[a_t] and of Σₜ rₜ over n = 20000 tasks from the prior lies in
    the 99% normal interval around ``bayes.value`` (fixed seeds)."""
    bayes = tasks.bayes(H)
    out = rollout(BayesOptimalAgent(bayes), tasks.sample(20_000, rng=7), H, seed=8)
    z = stats.norm.ppf(0.995)
    for x in (out.means.sum(axis=1), out.rewards.sum(axis=1)):
        assert abs(x.mean() - bayes.value) <= z * x.std(ddof=1) / math.sqrt(x.size)


def test_bayes_agent_validates_its_table():
    b = BetaTasks(2).bayes(4)
    with pytest.raises(ValueError, match="horizon"):
        rollout(BayesOptimalAgent(b), [[0.5, 0.5]], 3, 0)
    with pytest.raises(ValueError, match="n_arms"):
        rollout(BayesOptimalAgent(b), [[0.5, 0.5, 0.5]], 4, 0)
    with pytest.raises(ValueError, match="bayes"):
        BayesOptimalAgent("table")


@pytest.mark.parametrize("make, match", [
    (lambda: GittinsAgent(1.0), "gamma"), (lambda: GittinsAgent(0), "gamma"),
    (lambda: GittinsAgent(0.9, tol=0), "tol"), (lambda: Thompson((1, 0)), "prior"),
    (lambda: Greedy((1, 2, 3)), "prior"),
    (lambda: rollout(Greedy(np.ones((3, 2))), [[0.5, 0.5]], 2, 0), "n_arms=2"),
])
def test_agent_bad_arguments(make, match):
    with pytest.raises(ValueError, match=match):
        make()


# ---- the study -----------------------------------------------------------------------------
def test_bayes_optimal_smallest_regret_at_small_horizon():
    """On the same tasks, outcome tables and tie-breaks (common random numbers), no agent of
    the study beats the Bayes-optimal one: at H = 5 and 10 (K = 2, uniform prior, 8000
    tasks) each paired difference regret(X) − regret(bayes-optimal) has a one-sided 99%
    upper bound ≥ 0, and at H = 10 (where the nearest agent, Gittins, is ≈ 3 standard
    errors worse) the Bayes-optimal mean regret is the smallest. UCB1 and Thompson are
    significantly worse (99% lower bound > 0) at both horizons."""
    df = meta_bandits(horizons=(5, 10), n_tasks=8000, n_seeds=1, seed=0,
                      agents=classical_agents())
    z = stats.norm.ppf(0.99)
    for H, d in df.groupby("horizon"):
        r = {a: g.sort_values("task")["regret"].to_numpy() for a, g in d.groupby("agent")}
        assert len(r) == 5
        for name, x in r.items():
            diff = x - r["bayes-optimal"]
            half = z * diff.std(ddof=1) / math.sqrt(diff.size)
            assert diff.mean() + half >= 0, (H, name)
            if name in ("ucb1", "thompson"):
                assert diff.mean() - half > 0, (H, name)
        if H == 10:
            means = d.groupby("agent")["regret"].mean()
            assert means.idxmin() == "bayes-optimal" and (means.drop("bayes-optimal") >
                                                           means["bayes-optimal"]).all()


def test_experiment_table_shape_and_determinism():
    kw = dict(horizons=(2, 4), n_tasks=7, n_seeds=3, seed=5,
              agents=classical_agents() + meta_learned_agents(steps=3, n_samples=64, batch=16))
    df = meta_bandits(**kw)
    assert list(df.columns) == ["agent", "horizon", "task", "seed", "regret", "return"]
    assert list(dict.fromkeys(df["agent"])) == [
        "bayes-optimal", "gittins", "ucb1", "thompson", "greedy",
        "reinforce", "maml", "meta-sgd", "belief-rl"]
    assert len(df) == 9 * 2 * 7 * 3
    assert df.groupby(["agent", "horizon"]).size().eq(21).all()
    assert not df.duplicated(["agent", "horizon", "task", "seed"]).any()
    assert (df["return"] <= df["horizon"]).all() and (df["regret"] >= -1e-12).all()
    pd.testing.assert_frame_equal(df, meta_bandits(**kw))
    assert df.attrs["family"] == "beta"


def test_experiment_adding_an_agent_or_horizon_changes_nothing_else():
    one = meta_bandits(horizons=(3,), n_tasks=20, n_seeds=2, seed=1, agents=[UCB1()])
    two = meta_bandits(horizons=(2, 3), n_tasks=20, n_seeds=2, seed=1,
                       agents=[Thompson(), UCB1()])
    pd.testing.assert_frame_equal(
        one, two[(two.agent == "ucb1") & (two.horizon == 3)].reset_index(drop=True))


def test_experiment_accepts_any_agent_and_specs():
    spec = AgentSpec("stay", lambda tasks, H, ss: Fixed(0, name="ignored"))
    df = meta_bandits(horizons=(3,), n_tasks=4, n_seeds=1, agents=[Fixed(1, "one"), spec],
                      family="dependent")
    assert list(dict.fromkeys(df.agent)) == ["one", "stay"]
    assert df.attrs["family"] == "dependent"


def test_exact_bayes_regret_by_hand():
    # H = 1: 2/3 − 1/2; H = 2: V* = 1/2 + ½·2/3 + ½·1/2 = 13/12, so 4/3 − 13/12 = 1/4.
    assert exact_bayes_regret(BetaTasks(2), 1, exact=True) == Fraction(1, 6)
    assert exact_bayes_regret(BetaTasks(2), 2, exact=True) == Fraction(1, 4)
    assert exact_bayes_regret(BetaTasks(2), 2) == pytest.approx(0.25, abs=1e-12)
    # dependent family, H = 1: 3/4 − 1/2
    assert exact_bayes_regret(DependentTasks(), 1, exact=True) == Fraction(1, 4)


def test_summarise_t_interval_and_exact_column():
    df = pd.DataFrame({"agent": ["a"] * 3 + ["bayes-optimal"] * 3, "horizon": 2,
                       "task": [0, 1, 2] * 2, "seed": 0, "regret": [0.1, 0.2, 0.3] * 2,
                       "return": [1, 2, 0] * 2})
    s = summarise(df, tasks=BetaTasks(2))
    assert list(s.agent) == ["a", "bayes-optimal"]
    row = s.iloc[0]
    # x̄ = 0.2, s = 0.1, half-width t₀.₉₇₅,₂ · 0.1/√3 = 4.302653 · 0.057735 = 0.248414
    assert row.regret == pytest.approx(0.2) and row.sd == pytest.approx(0.1)
    assert row.ci_high - row.regret == pytest.approx(0.248414, abs=1e-6)
    assert row.mean_return == 1.0 and math.isnan(row.exact_regret)
    assert s.iloc[1].exact_regret == pytest.approx(0.25, abs=1e-12)
    assert summarise(df)["exact_regret"].isna().all()  # no tasks given, no attrs


def test_summarise_clusters_rows_by_task():
    """Two seeds per task: the interval is over the task means (0.15, 0.35, 0.4), not the six
    rows: ȳ = 0.3, s = √((0.15² + 0.05² + 0.1²)/2) = 0.132288, half-width
    t₀.₉₇₅,₂ · s/√3 = 4.302653 · 0.0763763 = 0.328621."""
    df = pd.DataFrame({"agent": "a", "horizon": 3, "task": [0, 0, 1, 1, 2, 2],
                       "seed": [0, 1] * 3, "regret": [0.1, 0.2, 0.3, 0.4, 0.4, 0.4],
                       "return": 1})
    row = summarise(df).iloc[0]
    assert (row.n, row.n_tasks) == (6, 3)
    assert row.regret == pytest.approx(0.3) and row.sd == pytest.approx(0.132288, abs=1e-6)
    assert row.ci_high - row.regret == pytest.approx(0.328621, abs=1e-6)


def test_summary_straddles_the_exact_bayes_regret():
    df = meta_bandits(horizons=(6,), n_tasks=3000, n_seeds=2, seed=3,
                      agents=[AgentSpec("bayes-optimal",
                                        lambda t, H, ss: BayesOptimalAgent(t.bayes(H)))])
    row = summarise(df).iloc[0]
    assert row.ci_low <= row.exact_regret <= row.ci_high


def test_plot_writes_png_and_svg(tmp_path):
    df = meta_bandits(horizons=(2, 3), n_tasks=10, n_seeds=2, seed=0,
                      agents=classical_agents())
    fig = plot_meta_bandits(summarise(df), tmp_path / "meta.png")
    assert (tmp_path / "meta.png").stat().st_size > 0
    assert (tmp_path / "meta.svg").read_text().startswith("<?xml")
    ax = fig.axes[0]
    assert len(ax.get_lines()) == df["agent"].nunique() + 1  # + the exact crosses
    with pytest.raises(ValueError, match="lacks the columns"):
        plot_meta_bandits(df)


@pytest.mark.parametrize("kw, match", [
    (dict(horizons=()), "horizons"), (dict(horizons=(0,)), "horizons"),
    (dict(horizons=(2, 2)), "distinct"), (dict(horizons="5"), "horizons"),
    (dict(family="gauss"), "family"), (dict(n_tasks=0), "n_tasks"),
    (dict(n_seeds=-1), "n_seeds"), (dict(seed=-1), "seed"), (dict(n_arms=0), "n_arms"),
    (dict(family="dependent", n_arms=3), "n_arms"), (dict(exact="yes"), "exact"),
    (dict(agents=[object()]), r"agents\[0\]"), (dict(agents=[]), "agents"),
    (dict(agents=[UCB1(), UCB1()]), "duplicate"), (dict(prior=(0, 1)), "prior"),
])
def test_experiment_bad_arguments(kw, match):
    args = dict(horizons=(2,), n_tasks=2, n_seeds=1, agents=[UCB1()]) | kw
    with pytest.raises(ValueError, match=match):
        meta_bandits(**args)


def test_default_agents_are_classical_then_meta_learned():
    names = [a.name for a in default_agents()]
    assert names == ["bayes-optimal", "gittins", "ucb1", "thompson", "greedy",
                     "reinforce", "maml", "meta-sgd", "belief-rl"]


def test_summarise_bad_arguments():
    with pytest.raises(ValueError, match="confidence"):
        summarise(meta_bandits(horizons=(2,), n_tasks=2, n_seeds=1, agents=[UCB1()]),
                  confidence=1.5)
    with pytest.raises(ValueError, match="lacks"):
        summarise(pd.DataFrame({"agent": ["a"]}))


def test_package_reexports_every_public_name():
    import importlib

    import mesabase.sims.meta as meta

    for mod in ("tasks", "rollouts", "agents", "memoryless", "maml", "belief", "experiment",
                "families", "frozen"):
        names = importlib.import_module(f"mesabase.sims.meta.{mod}").__all__
        missing = sorted(set(names) - set(meta.__all__))
        assert not missing, (mod, missing)
    assert all(hasattr(meta, n) for n in meta.__all__)
