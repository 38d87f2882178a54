"""A mesa-learner attributed (issue 16, item 6): the belief policy meta-trained on one task
family, deployed on another, its behaviours attributed outer / inner against exact ranges
over the training and the deployment argmax sets."""

import io
import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesabase.sims.meta import (
    MESA_COLUMNS,
    MESA_MARGIN,
    MESA_REGRET_COLUMNS,
    BeliefPolicy,
    BetaTasks,
    DependentTasks,
    Greedy,
    behaviour_bounds,
    belief_policy_value,
    mesa_attribution,
    mesa_behaviours,
    plot_mesa,
    predictive,
)
from mesabase.theory.bandits import belief_states

TRAIN = BetaTasks(2, prior=[[1, 1], [1, 9]])
DEPLOY = BetaTasks(2, prior=[[1, 1], [9, 1]])
TOTAL = mesa_behaviours(1, 2)[0]._replace(  # the total reward: w = 1, no event
    name="total", final=lambda c, z: np.zeros((len(c), len(z))), per_success=1.0)


def _enumerate(tasks, H, probs, behaviour):
    """E[value] by brute force over every sequence of (arm, reward), weighted by the policy
    and the prior predictive (the Pólya urn): independent of the backward recursion."""
    K = tasks.n_arms
    rows = {tuple(s.ravel()): i for i, s in enumerate(belief_states(K, H))}
    total = 0.0
    for seq in itertools.product(range(2 * K), repeat=H):
        c = np.zeros((K, 2), dtype=np.int64)
        w, arms, rewards = 1.0, [], []
        for x in seq:
            k, r = divmod(x, 2)
            mu = predictive(tasks, c)[k]
            w *= probs[rows[tuple(c.ravel())], k] * (mu if r else 1 - mu)
            c[k, 1 - r] += 1
            arms.append(k)
            rewards.append(r)
        if w == 0:
            continue
        a, r = np.array([arms]), np.array([rewards], dtype=np.int8)
        total += w * (float(r.sum()) if behaviour is TOTAL else float(behaviour.episode(a, r)[0]))
    return total


@settings(max_examples=8)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**31))
def test_recursion_matches_enumeration(a1, b2, H, seed):
    """Exact probability of every behaviour (and the total reward) for a random stochastic
    policy, backward recursion versus enumeration of all (2K)^H histories (tolerance 1e-12),
    and the total reward against :func:`belief_policy_value`."""
    tasks = BetaTasks(2, prior=[[a1, 1], [1, b2]])
    H = max(H, 2)
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet([1.0, 1.0], size=len(belief_states(2, H)))
    for b in (*mesa_behaviours(1, 2), TOTAL):
        lo, hi = behaviour_bounds(tasks, H, b, policy=probs)
        assert lo == hi
        assert lo == pytest.approx(_enumerate(tasks, H, probs, b), abs=1e-12)
    pol = BeliefPolicy(2, H, np.log(probs))
    assert behaviour_bounds(tasks, H, TOTAL, policy=pol)[0] == pytest.approx(
        belief_policy_value(pol, tasks, H), abs=1e-12)


def _one_hot(allowed, pick):
    out = np.zeros(allowed.shape)
    out[np.arange(len(allowed)), pick] = 1.0
    return out


def _reachable_ties(allowed, H):
    """Rows (before the last layer) with more than one allowed arm that play restricted to
    ``allowed`` can reach from the empty belief."""
    states = belief_states(2, H)
    rows = {tuple(s.ravel()): i for i, s in enumerate(states)}
    seen, todo, ties = {0}, [0], []
    while todo:
        i = todo.pop()
        c = states[i]
        if c.sum() == H:
            continue
        if allowed[i].sum() > 1:
            ties.append(i)
        for k in np.flatnonzero(allowed[i]):
            for j in (0, 1):
                n = c.copy()
                n[k, j] += 1
                r = rows[tuple(n.ravel())]
                if r not in seen:
                    seen.add(r)
                    todo.append(r)
    return ties


@pytest.mark.parametrize("train,H", [(BetaTasks(2), 3), (BetaTasks(2, prior=[[1, 2], [1, 1]]), 5),
                                     (TRAIN, 9)])
def test_range_contains_every_tie_break_and_is_attained(train, H):
    """[lo, hi] over an argmax set contains the value of the lowest-index and the
    highest-index tie-breakers and of the uniform one; for events of the counts alone (no
    memory) it is exactly the min and max over every deterministic tie-break of the
    reachable ties (enumerated), so no point of it is unattainable. (TRAIN first ties at
    H = 9: after eight failures of arm 1, arm 1's mean 1/10 equals arm 2's.)"""
    allowed = train.bayes(H).optimal
    lowest = _one_hot(allowed, np.argmax(allowed, axis=1))
    highest = _one_hot(allowed, allowed.shape[1] - 1 - np.argmax(allowed[:, ::-1], axis=1))
    uniform = allowed / allowed.sum(axis=1, keepdims=True)
    ties = _reachable_ties(allowed, H)
    assert 0 < len(ties) <= 10
    widths = []
    for b in (*mesa_behaviours(1, 2), TOTAL):
        lo, hi = behaviour_bounds(DEPLOY, H, b, allowed=allowed)
        widths.append(hi - lo)
        for pol in (lowest, highest, uniform):
            v = behaviour_bounds(DEPLOY, H, b, policy=pol)[0]
            assert lo - 1e-12 <= v <= hi + 1e-12, (b.name, lo, v, hi)
        if b.memory == 1:
            vals = []
            for choice in itertools.product(*(np.flatnonzero(allowed[i]) for i in ties)):
                pick = np.argmax(allowed, axis=1)
                pick[ties] = choice
                vals.append(behaviour_bounds(DEPLOY, H, b, policy=_one_hot(allowed, pick))[0])
            assert min(vals) == pytest.approx(lo, abs=1e-12)
            assert max(vals) == pytest.approx(hi, abs=1e-12)
    assert max(widths) > 0.01  # the ties matter: the test can tell a range from a point


def test_outer_when_the_learner_is_the_training_optimum():
    """A policy (near-)Bayes-optimal for the training objective, deployed: never trying the
    arm the training family made useless is unintended and outer; on the training family
    itself (deploy = train) nothing is unintended."""
    H = 6
    pol = BeliefPolicy.from_bayes(TRAIN.bayes(H), 60.0)
    res = mesa_attribution(H, policy=pol, n_tasks=300, n_seeds=1, seed=1)
    t = res.table.set_index("behaviour")
    assert res.training is None and t.learner_converged.isna().all()
    never = t.loc["never-tries-arm-2"]
    assert never.unintended and never.training_shows and never.verdict == "outer"
    assert never.ci_low >= never.threshold == never.intended_hi + MESA_MARGIN
    assert never.training_lo > 0.9 and never.intended_hi < 0.01
    assert t.loc["leaves-a-winner"].verdict == "not unintended"
    same = mesa_attribution(H, train=TRAIN, deploy=TRAIN, policy=pol, n_tasks=300,
                            n_seeds=1, seed=1).table
    assert not same.unintended.any() and (same.verdict == "not unintended").all()
    assert np.allclose(same.training_lo, same.intended_lo) \
        and np.allclose(same.training_hi, same.intended_hi)


def test_inner_when_the_learner_is_untrained():
    """The uniform policy (an untrained belief policy) leaves winners, which no
    Bayes-optimal policy for the training objective does: unintended and inner."""
    res = mesa_attribution(6, policy=BeliefPolicy(2, 6), n_tasks=300, n_seeds=1, seed=3)
    t = res.table.set_index("behaviour")
    leave = t.loc["leaves-a-winner"]
    assert leave.training_hi < leave.threshold <= leave.ci_low
    assert leave.unintended and not leave.training_shows and leave.verdict == "inner"
    assert leave.exceeds_training
    # a uniform policy pulls arm 2 with probability 1/2 per step: P(never) = 2^-6 < θ
    assert t.loc["never-tries-arm-2", "learner_exact"] == pytest.approx(2.0 ** -6, abs=1e-12)
    assert t.loc["never-tries-arm-2", "verdict"] == "not unintended"


def test_meta_trained_learner_tables_and_figure():
    from figure_checks import check_post_figure

    res = mesa_attribution(4, n_tasks=200, n_seeds=2, steps=20, batch=64, seed=0)
    t, reg = res.table, res.regret
    assert list(t.columns) == list(MESA_COLUMNS)
    assert list(reg.columns) == list(MESA_REGRET_COLUMNS)
    assert list(reg.policy) == ["learner", "training", "intended"]
    assert res.training is not None and res.training.steps <= 20
    assert (t.learner_converged == res.training.converged).all()
    assert (t.training_lo <= t.training_hi).all() and (t.intended_lo <= t.intended_hi).all()
    assert set(t.verdict) <= {"outer", "inner", "not unintended"}
    assert (t.unintended == (t.ci_low >= t.threshold - 1e-9)).all()
    # the exact probability and the estimate agree within 4 standard errors (seeded)
    se = (t.ci_high - t.ci_low) / (2 * 1.97)
    assert ((t.learner - t.learner_exact).abs() <= 4 * se + 0.01).all()
    learner, train, intended = (reg.set_index("policy").loc[p] for p in
                                ("learner", "training", "intended"))
    assert learner.ci_low <= learner.regret <= learner.ci_high
    assert intended.exact_lo == intended.exact_hi  # one value for every intended maximiser
    # the intended policy is Bayes-optimal on the deployment family: no policy beats it
    assert intended.exact_lo <= min(learner.exact_lo, train.exact_lo) + 1e-12
    assert intended.exact_lo == pytest.approx(4 * DEPLOY.expected_max()
                                              - DEPLOY.bayes(4).value, abs=1e-9)
    fig = plot_mesa(t)
    check_post_figure(fig, ["meta-bandits"])


def test_reproducible_with_the_same_seed():
    kw = dict(n_tasks=30, n_seeds=1, steps=3, batch=16)
    a, b = (mesa_attribution(3, seed=5, **kw) for _ in range(2))
    pd.testing.assert_frame_equal(a.table, b.table, check_exact=True)
    pd.testing.assert_frame_equal(a.regret, b.regret, check_exact=True)
    c = mesa_attribution(3, seed=6, **kw)
    assert not a.table.learner.equals(c.table.learner)


def test_any_agent_can_be_deployed():
    res = mesa_attribution(3, policy=Greedy(prior=[[1, 1], [1, 9]]), n_tasks=20, n_seeds=1)
    assert res.table.learner_exact.isna().all() and np.isnan(res.regret.exact_lo.iloc[0])


@pytest.mark.parametrize("kwargs,message", [
    (dict(horizon=1), "horizon must be an int >= 2"),
    (dict(n_tasks=1), "n_tasks must be an int >= 2"),
    (dict(n_seeds=0), "n_seeds must be an int >= 1"),
    (dict(seed=-1), "seed must be an int >= 0"),
    (dict(confidence=1.0), "confidence must be in"),
    (dict(train=DependentTasks()), "train must be a BetaTasks"),
    (dict(train=BetaTasks(2)), "unique lowest prior mean"),
    (dict(deploy=BetaTasks(3)), "deploy must be a BetaTasks with n_arms = 2"),
    (dict(deploy=DependentTasks()), "deploy must be a BetaTasks"),
    (dict(policy="greedy"), "policy must be None, a BeliefPolicy or an Agent"),
    (dict(policy=BeliefPolicy(2, 2)), "horizon <= 2"),
])
def test_bad_inputs(kwargs, message):
    kw = dict(horizon=3, n_tasks=4, n_seeds=1, steps=1, batch=4) | kwargs
    with pytest.raises(ValueError, match=message):
        mesa_attribution(**kw)


def test_bounds_bad_inputs():
    b = mesa_behaviours(1, 2)[0]
    allowed = TRAIN.bayes(2).optimal
    with pytest.raises(ValueError, match="exactly one of allowed"):
        behaviour_bounds(DEPLOY, 2, b)
    with pytest.raises(ValueError, match="exactly one of allowed"):
        behaviour_bounds(DEPLOY, 2, b, allowed=allowed, policy=allowed / 1.0)
    with pytest.raises(ValueError, match=r"must have shape \(15, 2\)"):
        behaviour_bounds(DEPLOY, 2, b, allowed=allowed[:3])
    empty = np.array(allowed)
    empty[4] = False
    with pytest.raises(ValueError, match="no arm at belief row 4"):
        behaviour_bounds(DEPLOY, 2, b, allowed=empty)
    with pytest.raises(ValueError, match="probability vectors"):
        behaviour_bounds(DEPLOY, 2, b, policy=np.full(allowed.shape, 0.7))
    with pytest.raises(ValueError, match="tasks must be a BetaTasks or DependentTasks"):
        behaviour_bounds("beta", 2, b, allowed=allowed)
    with pytest.raises(ValueError, match="arm must be in"):
        mesa_behaviours(2, 2)


def test_the_study_writes_the_files(tmp_path, monkeypatch):
    """The study writes mesa.csv, mesa-regret.csv and the figure, and the report section
    reads them (figures recorded, not rendered: plot_mesa is checked above)."""
    from mesabase.sims.meta.study import run_study, study_section, study_sizes
    from mesabase.sims.reports import report

    drawn = []
    monkeypatch.setattr(report, "write_figure", lambda fig, stem, dpi=None: drawn.append(stem))
    sizes = study_sizes(horizons=(2, 3), n_tasks=6, n_seeds=1, meta_steps=1)
    run_study(tmp_path, sizes, stream=io.StringIO())
    folder = tmp_path / "meta-bandits"
    t = pd.read_csv(folder / "mesa.csv")
    assert list(t.columns) == list(MESA_COLUMNS) and set(t.horizon) == {3}
    assert list(pd.read_csv(folder / "mesa-regret.csv").columns) == list(MESA_REGRET_COLUMNS)
    assert folder / "mesa" in drawn
    text = "\n".join(study_section(tmp_path))
    assert "### A mesa-learner attributed" in text and "meta-bandits/mesa.png" in text
    for r in t.itertuples():
        assert f"| {r.behaviour} |" in text
