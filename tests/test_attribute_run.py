"""attribute(run, scenario): verdicts on cases whose answers are known by hand, exact
deployment evaluation, telescoping, and the table contract."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from mesabase.sims import FullOptimizer, Reinforce, simulate
from mesabase.sims.agents.policies import LinearSoftmax
from mesabase.sims.attribution import learner_params, run
from mesabase.sims.attribution.analysis import (
    BEHAVIOUR_COLUMNS,
    GAP_COLUMNS,
    VERDICT_COLUMNS,
    Attribution,
    _verdict_label,
    argmax_sets,
    attribute,
)
from mesabase.sims.envs.base import Env
from mesabase.sims.scenarios import Deployment, get_scenario
from mesabase.theory import expected_return

TOL = 1e-9
EXACT = 1e-12


def assert_telescopes(a: Attribution):
    g = a.gaps
    err = (g.spec_gap + g.history_gap + g.learner_gap - g.total).abs().max()
    assert err <= TOL, f"gaps do not sum to the total: {err}"
    np.testing.assert_allclose(g.total, g.J_intended - g.J_learner, rtol=0, atol=TOL)
    np.testing.assert_allclose(g.history_gap, g.J_base - g.J_history, rtol=0, atol=TOL)
    assert (g.J_history_min <= g.J_history + TOL).all()
    assert (g.J_history <= g.J_history_max + TOL).all()


def final_labels(a: Attribution, behaviour: str) -> list[str]:
    b = a.behaviours
    return b[(b.behaviour == behaviour) & (b.step == b.step.max())].label.tolist()


@pytest.fixture(scope="module")
def keys_run():
    """The linear-softmax learner in keys-and-chests (small), with both evaluations."""
    sc = get_scenario("keys-and-chests")
    r = simulate(sc.train, sc.get_learner(), 3000, seeds=3, record_every=1500)
    return sc, r, attribute(r, sc, "train"), attribute(r, sc, "deploy")


# ---- verdicts known by hand -----------------------------------------------------------------
def test_misspecified_reward_gives_a_positive_spec_gap_and_outer():
    r, a = run("misspecified-reward", steps=2400, seeds=4, record_every=1200)
    assert_telescopes(a)
    np.testing.assert_allclose(a.gaps.spec_gap, 2.0 - 0.25, rtol=0, atol=TOL)  # laps: 2 − ¼
    assert a.spec_gap_range == pytest.approx((1.75, 1.75), abs=TOL)
    assert final_labels(a, "games-checkpoints") == ["outer"] * 4
    assert a.verdicts.verdict.tolist() == ["outer"] and a.scenario_verdict == "outer"
    assert "specification gap 1.75" in a.summary() and "outer 4/4" in a.summary()


def test_stuck_learner_with_R_I_equal_to_R_B_is_inner():
    ctl = get_scenario("proxy-bandit-control")
    exact = dataclasses.replace(ctl, train=Env(ctl.train.mdp, noise="none"))  # exact means
    stuck = Reinforce(lr=0.01, init_logits=[[3.0, 0.0, 0.0]])  # π(arm 0) ≈ 0.91 at the start
    r, a = run(exact, stuck, steps=1000, seeds=5, record_every=500)
    assert_telescopes(a)
    assert (a.gaps.spec_gap.abs() <= EXACT).all()       # R_I = R_B: no specification gap
    f = a.final
    np.testing.assert_allclose(f.history_gap, 0.0, rtol=0, atol=EXACT)  # π*_t pulls arm 2
    np.testing.assert_allclose(f.J_history, 0.8, rtol=0, atol=EXACT)
    assert (f.learner_gap > 0.3).all()                  # the learner still pulls arm 0
    assert final_labels(a, "intended-suboptimal-arm") == ["inner"] * 5
    assert a.scenario_verdict == "inner"
    row = a.verdicts.iloc[0]
    assert (row.frac_inner, row.frac_outer, row.n_seeds) == (1.0, 0.0, 5)
    # Clopper–Pearson, 5 of 5: the lower bound solves p⁵ = α/2
    assert row.frac_inner_low == pytest.approx(0.025 ** (1 / 5), abs=1e-9)


def test_exploration_trap_full_optimiser_has_a_history_gap_and_reinforce_does_not_lock():
    sc = get_scenario("exploration-trap")
    r, a = run(sc, "full", steps=600, seeds=6, record_every=300)
    assert_telescopes(a)
    np.testing.assert_allclose(a.gaps.learner_gap, 0.0, rtol=0, atol=EXACT)  # it acts by π*_t
    np.testing.assert_allclose(a.gaps.spec_gap, 0.0, rtol=0, atol=EXACT)
    f = a.final
    locked = np.isclose(f.J_history, 0.005 / 0.05, rtol=0, atol=TOL)  # the bank policy: 0.1
    assert locked.sum() >= 5 and (f.history_gap[locked] > 4.5).all()
    assert final_labels(a, "stays-at-bank").count("outer") >= 5
    _, b = run(sc, "reinforce", steps=3000, seeds=6, record_every=1500)
    assert_telescopes(b)
    fb = b.final
    assert fb.history_gap.mean() < f.history_gap.mean() - 2.0  # its data reach the far end
    assert (fb.learner_gap > 1.0).mean() >= 0.5                # but the learner lags: inner


# ---- keys and chests: exact deployment, underdetermination ------------------------------------
def test_deployment_evaluation_of_the_linear_learner_is_exact(keys_run):
    sc, r, a_train, a_dep = keys_run
    assert_telescopes(a_train)
    assert_telescopes(a_dep)
    theta = learner_params(r)
    dep = sc.deploy
    M, R_I = dep.env.mdp, dep.R_I
    J = [[expected_return(M, LinearSoftmax(dep.features).probs(theta[n, i : i + 1])[0], R_I)
          for i in range(len(r.steps))] for n in range(3)]
    np.testing.assert_allclose(a_dep.gaps.J_learner, np.ravel(J), rtol=0, atol=1e-10)
    uniform = np.full((M.n_states, 4), 0.25)
    np.testing.assert_allclose(a_dep.gaps.J_history, expected_return(M, uniform, R_I),
                               rtol=0, atol=1e-10)
    np.testing.assert_allclose(a_dep.gaps.J_intended, 0.95**3, rtol=0, atol=EXACT)
    np.testing.assert_allclose(a_train.gaps.J_intended, 0.95**5, rtol=0, atol=EXACT)
    assert set(a_dep.gaps.environment) == {"deploy"} and set(a_train.gaps.environment) == {
        "train"}


def test_underdetermination_decides_the_hoarding_verdict(keys_run):
    sc, r, _, a_dep = keys_run
    b = a_dep.behaviours
    fin = b[(b.behaviour == "hoards-keys") & (b.step == b.step.max())]
    assert (fin.label == "outer").all()
    assert (fin.learner_value >= 0.5).all()  # the learner hoards in deployment
    M = sc.deploy.env.mdp
    uniform = np.full((M.n_states, 4), 0.25)
    point = expected_return(M, uniform, sc.deploy.behaviours["hoards-keys"].reward)
    assert point < 0.5 <= fin.hi.min()  # π*_t itself does not hoard; its free argmax set can
    assert (fin.lo == 0.0).all()
    assert a_dep.scenario_verdict == "outer"


def test_the_tabular_full_optimiser_cannot_go_for_keys_in_deployment():
    sc = get_scenario("keys-and-chests")
    r = simulate(sc.train, FullOptimizer("ce"), 96, seeds=2, record_every=48)
    a = attribute(r, sc, "deploy")
    assert_telescopes(a)
    np.testing.assert_allclose(a.gaps.J_learner, a.gaps.J_history, rtol=0, atol=EXACT)
    assert final_labels(a, "hoards-keys") == ["none", "none"]
    assert (a.behaviours.learner_value < 0.5).all()  # uniform on every new state


# ---- the mapping oracle: deploying into the training environment itself -----------------------
@pytest.mark.parametrize("name, kw", [
    ("proxy-bandit", dict(steps=200, seeds=3, record_every=100)),
    ("misspecified-reward", dict(steps=480, seeds=2, record_every=240)),
])
def test_identity_deployment_equals_the_training_evaluation(name, kw):
    sc = get_scenario(name)
    same = Deployment(sc.train, sc.R_I, sc.behaviours, state_map=np.arange(sc.train.n_states))
    sc2 = dataclasses.replace(sc, deploy=same)
    r = simulate(sc.train, sc.get_learner(), kw["steps"], kw["seeds"],
                 record_every=kw["record_every"])
    a, b = attribute(r, sc2, "train"), attribute(r, sc2, "deploy")
    num = [c for c in GAP_COLUMNS if c not in ("scenario", "environment", "learner")]
    np.testing.assert_allclose(a.gaps[num], b.gaps[num], rtol=0, atol=1e-10)
    for c in ("learner_value", "lo", "hi"):
        np.testing.assert_allclose(a.behaviours[c], b.behaviours[c], rtol=0, atol=1e-10)
    assert a.behaviours.label.tolist() == b.behaviours.label.tolist()


# ---- π*_t and its argmax set ---------------------------------------------------------------
def test_per_step_pi_star_is_recomputed_from_the_history():
    sc = get_scenario("misspecified-reward")
    r = simulate(sc.train, sc.get_learner(), 240, seeds=2, record_every=120)
    pi, allowed, per_step = argmax_sets(r)
    assert per_step and pi.shape == (2, 3, 24, sc.train.n_states, 4)
    np.testing.assert_array_equal(pi[:, :, 0] > 0, r.shadow_optimal)  # step 0 as recorded
    assert (allowed | ~(pi > 0)).all() and allowed[:, 0].all()  # no data: everything free


# ---- the tables and the verdict rules ----------------------------------------------------------
def test_tables_follow_the_contract():
    r, a = run("proxy-bandit", steps=200, seeds=4, record_every=100)
    assert tuple(a.gaps.columns) == GAP_COLUMNS and len(a.gaps) == 4 * 3
    assert tuple(a.behaviours.columns) == BEHAVIOUR_COLUMNS and len(a.behaviours) == 2 * 4 * 3
    assert tuple(a.verdicts.columns) == VERDICT_COLUMNS and len(a.verdicts) == 2
    v = a.verdicts
    np.testing.assert_allclose(v.frac_outer + v.frac_inner + v.frac_none, 1.0, rtol=0,
                               atol=EXACT)
    for lab in ("outer", "inner", "none"):
        assert ((v[f"frac_{lab}_low"] <= v[f"frac_{lab}"])
                & (v[f"frac_{lab}"] <= v[f"frac_{lab}_high"])).all()
    assert a.gaps.step.tolist() == [0, 100, 200] * 4
    assert set(a.behaviours.label) <= {"outer", "inner", "none"}


@pytest.mark.parametrize("fractions, label", [
    ((0.2, 0.2, 0.6), "mixed"), ((0.5, 0.1, 0.4), "outer"), ((0.1, 0.6, 0.3), "inner"),
    ((0.1, 0.1, 0.8), "none"), ((0.4, 0.0, 0.4), "outer"), ((0.0, 0.5, 0.5), "inner"),
])
def test_verdict_rule(fractions, label):
    assert _verdict_label(*fractions) == label


def test_scenario_verdict_combines_behaviours_and_falls_back_on_gaps():
    r, a = run("proxy-bandit", steps=100, seeds=2, record_every=100)

    def with_verdicts(*labels):
        v = pd.DataFrame({"verdict": list(labels)}, columns=list(VERDICT_COLUMNS))
        return dataclasses.replace(a, verdicts=v)

    assert with_verdicts("none", "none").scenario_verdict == "none"
    assert with_verdicts("outer", "none").scenario_verdict == "outer"
    assert with_verdicts("inner", "inner").scenario_verdict == "inner"
    assert with_verdicts("outer", "inner").scenario_verdict == "mixed"
    assert with_verdicts("mixed").scenario_verdict == "mixed"
    g = a.gaps.copy()
    g[["spec_gap", "history_gap", "learner_gap", "total"]] = [0.0, 0.1, 0.9, 1.0]
    assert dataclasses.replace(with_verdicts(), gaps=g).scenario_verdict == "inner"
    g[["spec_gap", "history_gap", "learner_gap", "total"]] = [0.0, 0.0, 0.0, 0.0]
    assert dataclasses.replace(with_verdicts(), gaps=g).scenario_verdict == "none"


def test_online_shift_rows_are_train_then_deploy():
    sc = dataclasses.replace(get_scenario("keys-and-chests"), shift_step=200,
                             name="small-shift")
    r, a = run(sc, steps=400, seeds=2, record_every=100)
    assert_telescopes(a)
    assert a.environment == "shift" and a.learner == "reinforce-linear"
    g = a.gaps
    assert g[g.environment == "train"].step.unique().tolist() == [0, 100, 200]
    assert g[g.environment == "deploy"].step.unique().tolist() == [200, 300, 400]
    assert set(g.seed) == {0, 1}
    assert a.verdicts.behaviour.tolist() == ["hoards-keys"]


def test_attribute_errors():
    sc = get_scenario("proxy-bandit")
    r = simulate(get_scenario("exploration-trap").train, Reinforce(), 10, seeds=1)
    with pytest.raises(ValueError, match="is not the training environment of 'proxy-bandit'"):
        attribute(r, sc)
    r = simulate(sc.train, Reinforce(), 10, seeds=1)
    with pytest.raises(ValueError, match="has no deployment environment"):
        attribute(r, sc, "deploy")
    with pytest.raises(ValueError, match="environment must be 'train' or 'deploy'"):
        attribute(r, sc, "test")


def test_attribute_needs_only_the_run_when_made_by_run():
    from mesabase.sims import attribute, run
    from mesabase.sims.simulation import simulate

    r, a = run("proxy-bandit", seeds=3, steps=150, record_every=100)
    assert r.steps.tolist() == [0, 100, 150]  # the final step is always recorded
    b = attribute(r)
    assert b.scenario_verdict == a.scenario_verdict
    np.testing.assert_allclose(b.gaps.total.to_numpy(), a.gaps.total.to_numpy(), atol=0)
    bare = simulate(r.env, r.learner, 10, seeds=1)
    with pytest.raises(ValueError, match="needs the scenario"):
        attribute(bare)
