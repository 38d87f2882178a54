"""attribute_policies: an outside run attributed from its history and policy snapshots.

The strongest check: a mesabase run's own history and policies, fed through
attribute_policies, give exactly the tables and verdicts of attribute(run)."""

import dataclasses
from functools import cache

import numpy as np
import pandas as pd
import pytest

from mesabase.sims import attribute, attribute_policies, get_scenario, simulate
from mesabase.sims.byol import POLICY_ATOL
from mesabase.theory import History, expected_returns

TABLES = ("gaps", "behaviours", "verdicts")


@cache
def _run(name, learner, steps, seeds, every):
    sc = get_scenario(name)
    r = simulate(sc.train, sc.get_learner(learner), steps, seeds, shadow=sc.shadow,
                 record_every=every)
    return dataclasses.replace(r, scenario=sc)


def _same(a, b):
    for f in TABLES:
        pd.testing.assert_frame_equal(getattr(a, f), getattr(b, f), check_exact=True)
    assert (a.scenario_verdict, a.verdict_reason, a.J_base_range, a.learner) == (
        b.scenario_verdict, b.verdict_reason, b.J_base_range, b.learner)


@pytest.mark.parametrize("name, learner, steps, seeds, every, environment", [
    ("keys-and-chests", "reinforce-tabular", 480, 3, 160, "train"),
    ("keys-and-chests", "reinforce-tabular", 480, 3, 160, "deploy"),
    ("misspecified-reward", "reinforce", 480, 3, 96, "train"),
    ("proxy-bandit", "reinforce", 200, 4, 50, "train"),      # H = 1: recorded shadow
    ("exploration-trap", "reinforce", 300, 3, 100, "train"),  # no horizon: recorded shadow
    ("softmax-trap", "reinforce", 300, 3, 100, "train"),
])
def test_a_mesabase_run_fed_back_gives_its_own_attribution(name, learner, steps, seeds, every,
                                                           environment):
    r = _run(name, learner, steps, seeds, every)
    a = attribute(r, environment=environment)
    b = attribute_policies(name, r.history, r.policies, r.steps, environment,
                           learner=a.learner, seeds=r.seeds)
    _same(a, b)


def test_one_seed_forms_and_a_list_of_histories_agree_with_the_batch():
    r = _run("misspecified-reward", "reinforce", 480, 3, 96)
    sc = r.scenario
    whole = attribute_policies(sc, r.history, r.policies, r.steps)
    parts = attribute_policies(sc, [r.history.seed(i) for i in range(3)], r.policies, r.steps)
    _same(whole, parts)
    one = attribute_policies(sc, r.history.seed(1), r.policies[1], r.steps)
    for f in ("gaps", "behaviours"):
        x = getattr(whole, f)
        x = x[x.seed == 1].drop(columns="seed").reset_index(drop=True)
        y = getattr(one, f).drop(columns="seed").reset_index(drop=True)
        pd.testing.assert_frame_equal(x, y, check_exact=True)
    assert (whole.learner, set(whole.gaps.learner)) == ("external", {"external"})


def test_a_gymnasium_run_with_known_policy_gives_the_exact_regret():
    """A uniform agent on proxy-bandit, recorded through the Gymnasium export: its intended
    regret is J_I(π_I*) − J_I(uniform) = 0.8 − 0.5 = 0.3 at every step, the four terms add
    up to it, and the misspecification gap is J_I(π_I*) − J_I(arm 2) = 0.8 − 0.2."""
    gymnasium = pytest.importorskip("gymnasium")
    from mesabase.sims import RecordEpisodes

    recs = []
    for seed in range(3):
        env = RecordEpisodes(gymnasium.make("mesabase/proxy-bandit-v0"))
        rng = np.random.default_rng(seed)
        env.reset(seed=seed)
        for _ in range(40):
            _, _, term, trunc, _ = env.step(int(rng.integers(3)))
            if term or trunc:
                env.reset()
        recs.append(env.history)
    uniform = np.full((3, 3, 1, 3), 1 / 3)
    a = attribute_policies("proxy-bandit", recs, uniform, [0, 20, 40], learner="uniform")
    g = a.gaps
    assert np.allclose(g.total, 0.3, rtol=0, atol=1e-12)
    assert np.allclose(g.J_learner, 0.5, rtol=0, atol=1e-12)
    assert np.allclose(g.misspecification_gap, 0.6, rtol=0, atol=1e-12)
    parts = g.misspecification_gap + g.data_gap + g.ambiguity_gap + g.learner_gap
    assert np.allclose(parts, g.total, rtol=0, atol=1e-12)
    assert list(g.step.unique()) == [0, 20, 40] and list(g.seed.unique()) == [0, 1, 2]


def test_rows_off_by_less_than_the_tolerance_are_renormalised():
    r = _run("proxy-bandit", "reinforce", 200, 4, 50)
    pi = r.policies * (1 + 1e-7)  # every row sums to 1 + 1e-7: within POLICY_ATOL
    a = attribute_policies("proxy-bandit", r.history, pi, r.steps)
    b = attribute_policies("proxy-bandit", r.history, r.policies, r.steps)
    for f in ("gaps", "behaviours"):
        x, y = getattr(a, f), getattr(b, f)
        num = x.select_dtypes("number").columns
        assert np.allclose(x[num], y[num], rtol=0, atol=1e-12)
    J = expected_returns(r.env.mdp, (pi / pi.sum(-1, keepdims=True)).reshape(-1, 1, 3))
    assert np.allclose(J, r.learner_returns().ravel(), rtol=0, atol=1e-12)


# ---- bad inputs --------------------------------------------------------------------------
def _bad(**change):
    r = _run("proxy-bandit", "reinforce", 200, 4, 50)
    kw = dict(scenario="proxy-bandit", history=r.history, policies=r.policies, steps=r.steps)
    kw.update(change)
    return kw


def _shifted_row(delta):
    p = np.array(_run("proxy-bandit", "reinforce", 200, 4, 50).policies)
    p[2, 1, 0, 0] += delta
    return p


def _other_env_history():
    # misspecified-reward's track, attributed as keys-and-chests: an impossible transition
    h = _run("misspecified-reward", "reinforce", 480, 3, 96).history
    return h


@pytest.mark.parametrize("change, match", [
    (dict(scenario="nope"), "unknown scenario 'nope'"),
    (dict(scenario=3), "scenario must be a Scenario"),
    (dict(environment="test"), "environment must be 'train' or 'deploy'"),
    (dict(environment="deploy"), "has no deployment environment"),
    (dict(learner=""), "learner must be a non-empty name"),
    (dict(history=np.zeros((4, 200))), "history must be a History"),
    (dict(history=[]), "history must be a History"),
    (dict(policies=np.full((4, 5, 1, 2), 0.5)), r"policies must have shape \(N, R, S, A\)"),
    (dict(policies=np.full((5, 1, 3), 1 / 3)), r"are for one seed, but the history has 4"),
    (dict(policies=_shifted_row(0.1)), r"policies\[2, 1, 0\] .* sums to 1.1, not 1"),
    (dict(policies=_shifted_row(np.nan)), r"policies\[2, 1, 0, 0\] = nan is not finite"),
    (dict(policies=_shifted_row(-2.0)), r"policies\[2, 1, 0, 0\] = .* is negative"),
    (dict(policies=np.full((4, 5, 1, 3), "x")), "policies must be real numbers"),
    (dict(steps=[0, 50, 100, 150]), r"policies must have shape"),
    (dict(steps=[0, 50, 100, 150, 150]), "steps must increase strictly"),
    (dict(steps=[0, 50, 100, 150, 201]), r"steps must increase strictly within \[0, 200\]"),
    (dict(steps=[0.0, 50, 100, 150, 200]), "steps must be a non-empty 1-D array of integers"),
    (dict(steps=[]), "steps must be a non-empty"),
    (dict(seeds=[0, 1]), "seeds must label the 4 seeds"),
])
def test_bad_inputs_are_refused_with_one_line(change, match):
    with pytest.raises(ValueError, match=match) as e:
        attribute_policies(**_bad(**change))
    assert "\n" not in str(e.value)


def test_a_history_from_another_environment_is_refused():
    h = _other_env_history()  # 60 states; proxy-bandit has 1
    with pytest.raises(ValueError, match="out of range for 'proxy-bandit'"):
        attribute_policies("proxy-bandit", h, np.full((3, 6, 1, 3), 1 / 3),
                           np.arange(0, 481, 96))
    # keys-and-chests has 91 states, so the indices fit but a transition is impossible
    with pytest.raises(ValueError, match="has probability 0 in the training environment"):
        attribute_policies("keys-and-chests", h, np.full((3, 6, 91, 4), 0.25),
                           np.arange(0, 481, 96))


def test_histories_of_different_lengths_are_refused():
    h = _run("proxy-bandit", "reinforce", 200, 4, 50).history
    with pytest.raises(ValueError, match=r"different lengths \[100, 200\]"):
        attribute_policies("proxy-bandit", [h.seed(0), h.seed(1)[:100]],
                           np.full((2, 2, 1, 3), 1 / 3), [0, 100])


def test_the_tolerance_is_the_documented_one():
    p = _shifted_row(2 * POLICY_ATOL)
    with pytest.raises(ValueError, match="tolerance 1e-06"):
        attribute_policies(**_bad(policies=p))
    attribute_policies(**_bad(policies=_shifted_row(POLICY_ATOL / 2)))
    assert History  # the public class the inputs are built from
