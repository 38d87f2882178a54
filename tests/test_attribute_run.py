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
    GAP_ATOL,
    GAP_COLUMNS,
    MAJORITY,
    NEGLIGIBLE,
    SHARE,
    VERDICT_COLUMNS,
    Attribution,
    _verdict_label,
    argmax_sets,
    attribute,
    scenario_verdict,
)
from mesabase.sims.envs.base import Env
from mesabase.sims.scenarios import Deployment, get_scenario
from mesabase.theory import expected_return
from mesabase.theory.attribution.gaps import proportion

TOL = 1e-9
EXACT = 1e-12


def assert_telescopes(a: Attribution):
    """The four terms sum to the total and each is the difference of its numbers."""
    g = a.gaps
    terms = g.misspecification_gap + g.data_gap + g.ambiguity_gap + g.learner_gap
    err = (terms - g.total).abs().max()
    assert err <= TOL, f"gaps do not sum to the total: {err}"
    np.testing.assert_allclose(g.total, g.J_intended - g.J_learner, rtol=0, atol=TOL)
    np.testing.assert_allclose(g.misspecification_gap, g.J_intended - g.J_base_max, rtol=0,
                               atol=TOL)
    np.testing.assert_allclose(g.data_gap, g.J_base_max - g.J_history_max, rtol=0, atol=TOL)
    clipped = np.clip(g.J_learner, g.J_history_min, g.J_history_max)
    np.testing.assert_allclose(g.ambiguity_gap, g.J_history_max - clipped, rtol=0, atol=TOL)
    np.testing.assert_allclose(g.learner_gap, clipped - g.J_learner, rtol=0, atol=TOL)
    assert (g.J_base_min <= g.J_base_max + TOL).all()
    assert (g.J_history_min <= g.J_history_max + TOL).all()
    assert (g.J_base_max <= g.J_intended + TOL).all()
    assert (g.J_history_max <= g.J_intended + TOL).all()
    assert (g.ambiguity_gap >= -TOL).all() and (g.misspecification_gap >= -TOL).all()
    if a.environment != "shift":  # one evaluation environment: one base range
        assert (g.J_base_min == a.J_base_range[0]).all()
        assert (g.J_base_max == a.J_base_range[1]).all()


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
def test_misspecified_reward_gives_a_positive_misspecification_gap_and_outer():
    r, a = run("misspecified-reward", steps=2400, seeds=4, record_every=1200)
    assert_telescopes(a)
    # laps: 2 − ¼; every base maximiser does a quarter lap, so the range is one point
    np.testing.assert_allclose(a.gaps.misspecification_gap, 2.0 - 0.25, rtol=0, atol=TOL)
    assert a.J_base_range == pytest.approx((0.25, 0.25), abs=TOL)
    f = a.final
    np.testing.assert_allclose(f.data_gap, 0.0, rtol=0, atol=TOL)
    np.testing.assert_allclose(f[["J_history_min", "J_history_max"]], 0.25, rtol=0, atol=TOL)
    assert final_labels(a, "games-checkpoints") == ["outer"] * 4
    assert a.verdicts.verdict.tolist() == ["outer"] and a.scenario_verdict == "outer"
    assert a.policy_class == "tabular"
    text = a.summary()
    assert "misspecification 1.75" in text and "outer 4/4" in text
    assert "'games-checkpoints' is outer" in a.verdict_reason
    assert "in 4/4 seeds some maximiser" in a.verdict_reason


def test_stuck_learner_with_R_I_equal_to_R_B_is_inner():
    ctl = get_scenario("proxy-bandit-control")
    exact = dataclasses.replace(ctl, train=Env(ctl.train.mdp, noise="none"))  # exact means
    stuck = Reinforce(lr=0.01, init_logits=[[3.0, 0.0, 0.0]])  # π(arm 0) ≈ 0.91 at the start
    r, a = run(exact, stuck, steps=1000, seeds=5, record_every=500)
    assert_telescopes(a)
    assert (a.gaps.misspecification_gap.abs() <= EXACT).all()  # R_I = R_B
    f = a.final
    np.testing.assert_allclose(f.data_gap, 0.0, rtol=0, atol=EXACT)  # A_t pulls arm 2 only
    np.testing.assert_allclose(f[["J_history_min", "J_history_max"]], 0.8, rtol=0,
                               atol=EXACT)
    np.testing.assert_allclose(f.ambiguity_gap, 0.0, rtol=0, atol=EXACT)  # a one-point set
    assert (f.learner_gap > 0.3).all()                  # the learner still pulls arm 0
    assert final_labels(a, "intended-suboptimal-arm") == ["inner"] * 5
    assert a.scenario_verdict == "inner"
    row = a.verdicts.iloc[0]
    assert (row.frac_inner, row.frac_outer, row.n_seeds) == (1.0, 0.0, 5)
    # Clopper–Pearson, 5 of 5: the lower bound solves p⁵ = α/2 (below MAJORITY: the verdict
    # falls back on the most frequent label)
    assert row.frac_inner_low == pytest.approx(0.025 ** (1 / 5), abs=1e-9)
    assert row.frac_inner_low < MAJORITY and row.verdict == "inner"


def test_exploration_trap_full_optimiser_has_a_data_gap_and_reinforce_a_learner_gap():
    sc = get_scenario("exploration-trap")
    r, a = run(sc, "full", steps=600, seeds=6, record_every=300)
    assert_telescopes(a)
    np.testing.assert_allclose(a.gaps.learner_gap, 0.0, rtol=0, atol=EXACT)  # it acts in A_t
    np.testing.assert_allclose(a.gaps.misspecification_gap, 0.0, rtol=0, atol=EXACT)
    f = a.final
    # locked onto the bank: every maximiser of its history stays there, J_I = 0.1
    locked = (np.isclose(f.J_history_max, 0.005 / 0.05, rtol=0, atol=TOL)
              & np.isclose(f.J_history_min, 0.1, rtol=0, atol=TOL))
    assert locked.sum() >= 5 and (f.data_gap[locked] > 4.5).all()
    assert final_labels(a, "stays-at-bank").count("outer") >= 5
    assert a.verdicts.verdict.tolist() == ["outer"] and a.scenario_verdict == "outer"
    _, b = run(sc, "reinforce", steps=3000, seeds=20, record_every=1500)
    assert_telescopes(b)
    fb = b.final
    assert fb.data_gap.mean() < f.data_gap.mean() - 2.0    # its data reach the far end
    assert (fb.learner_gap > 1.0).mean() >= 0.5            # but the learner lags: inner
    labels = final_labels(b, "stays-at-bank")
    assert labels.count("inner") >= 15                      # CP lower bound above ½
    assert b.verdicts.verdict.tolist() == ["inner"] and b.scenario_verdict == "inner"


# ---- keys and chests: exact deployment, underdetermination ------------------------------------
# These use the linear-softmax learner: its argmax sets are taken in its own class
# (mesabase.sims.attribution.sets.linear_sets, which needs mesabase.theory.LinearClass).
# Contract: A_t = the class's limit policies whose training part maximises the CE objective
# on the learner's history, A_B those maximising the true training return; a range over a
# set is the min and max over its members' evaluation parts.
def test_deployment_evaluation_of_the_linear_learner_is_exact(keys_run):
    sc, r, a_train, a_dep = keys_run
    assert_telescopes(a_train)
    assert_telescopes(a_dep)
    assert a_train.policy_class == a_dep.policy_class == "linear"
    theta = learner_params(r)
    dep = sc.deploy
    M, R_I = dep.env.mdp, dep.R_I
    J = [[expected_return(M, LinearSoftmax(dep.features).probs(theta[n, i : i + 1])[0], R_I)
          for i in range(len(r.steps))] for n in range(3)]
    np.testing.assert_allclose(a_dep.gaps.J_learner, np.ravel(J), rtol=0, atol=1e-10)
    np.testing.assert_allclose(a_dep.gaps.J_intended, 0.95**3, rtol=0, atol=EXACT)
    np.testing.assert_allclose(a_train.gaps.J_intended, 0.95**5, rtol=0, atol=EXACT)
    assert set(a_dep.gaps.environment) == {"deploy"} and set(a_train.gaps.environment) == {
        "train"}
    # step 0: no data, so every limit policy maximises L_0: A_0 ⊇ A_B, its range contains
    # the base range (a data gap ≤ 0)
    for a in (a_train, a_dep):
        g0 = a.gaps[a.gaps.step == 0]
        m, M_B = a.J_base_range
        assert (g0.J_history_min <= m + TOL).all() and (g0.J_history_max >= M_B - TOL).all()
        assert (g0.data_gap <= TOL).all()
    # a linear maximiser of the training return goes for the key and then a chest
    assert a_train.J_base_range[1] == pytest.approx(0.95**5, abs=1e-10)
    np.testing.assert_allclose(a_train.gaps.misspecification_gap, 0.0, rtol=0, atol=1e-10)


def test_underdetermination_decides_the_hoarding_verdict(keys_run):
    """In deployment the training maximisers disagree about hoarding (through θ they all
    fit the training data; some weigh keys above chests-with-a-key, some not): some
    maximiser hoards, so hoarding is outer (the seed's underdetermination)."""
    sc, r, _, a_dep = keys_run
    b = a_dep.behaviours
    fin = b[(b.behaviour == "hoards-keys") & (b.step == b.step.max())]
    assert (fin.label == "outer").all()
    assert (fin.learner_value >= 0.5).all()  # the learner hoards in deployment
    assert (fin.hi >= 0.5).all() and (fin.lo < 0.5).all()
    assert a_dep.verdicts.behaviour.tolist() == ["hoards-keys"]
    assert not a_dep.verdicts.intended.any()
    assert a_dep.scenario_verdict == "outer"


def test_the_tabular_full_optimiser_cannot_go_for_keys_in_deployment():
    """Rewritten for the one-rule verdict: the tabular full optimiser is uniform on the new
    states (it does not hoard), but the training history leaves every deployment state free,
    so some maximiser of L_t hoards: outer, whatever the learner does (it was "none" when
    the learner had to show the behaviour). Its shortfall is ambiguity, not a learner gap."""
    sc = get_scenario("keys-and-chests")
    r = simulate(sc.train, FullOptimizer("ce"), 96, seeds=2, record_every=48)
    a = attribute(r, sc, "deploy")
    assert_telescopes(a)
    assert a.policy_class == "tabular"
    M = sc.deploy.env.mdp
    uniform = np.full((M.n_states, 4), 0.25)
    np.testing.assert_allclose(a.gaps.J_learner, expected_return(M, uniform, sc.deploy.R_I),
                               rtol=0, atol=1e-10)
    # everything free: J_I over A_B and A_t ranges from 0 to the deployment optimum
    np.testing.assert_allclose(a.gaps[["J_base_min", "J_history_min"]], 0.0, rtol=0,
                               atol=EXACT)
    np.testing.assert_allclose(a.gaps[["J_base_max", "J_history_max"]], 0.95**3, rtol=0,
                               atol=EXACT)
    np.testing.assert_allclose(a.gaps[["misspecification_gap", "data_gap", "learner_gap"]],
                               0.0, rtol=0, atol=EXACT)
    np.testing.assert_allclose(a.gaps.ambiguity_gap, a.gaps.total, rtol=0, atol=EXACT)
    assert (a.behaviours.learner_value < 0.5).all()  # uniform on every new state
    assert final_labels(a, "hoards-keys") == ["outer", "outer"]
    assert (a.behaviours.hi >= 0.5).all() and (a.behaviours.lo == 0.0).all()
    assert a.scenario_verdict == "outer"


def test_intended_behaviours_never_decide_the_scenario_verdict():
    """Training, the tabular full optimiser after 6 episodes: its maximisers include key
    collectors ("collects-keys" outer), but collecting keys is intended; the only unintended
    behaviour, hoarding, is impossible with one key. So the behaviours do not decide; the
    gaps do: the regret is large and all ambiguity (outer), and the reason says so."""
    sc = get_scenario("keys-and-chests")
    assert sc.behaviours["collects-keys"].intended and not sc.behaviours["hoards-keys"].intended
    r = simulate(sc.train, FullOptimizer("ce"), 96, seeds=2, record_every=48)
    a = attribute(r, sc, "train")
    assert_telescopes(a)
    v = a.verdicts.set_index("behaviour")
    assert v.loc["collects-keys", "verdict"] == "outer" and v.loc["collects-keys", "intended"]
    assert v.loc["hoards-keys", "verdict"] == "none" and not v.loc["hoards-keys", "intended"]
    assert a.behaviours.groupby("behaviour").intended.all().to_dict() == {
        "collects-keys": True, "hoards-keys": False}
    assert (a.final.total > 0.5).all()
    f = a.final
    assert float(f.ambiguity_gap.mean()) >= 0.8 * float(f.total.mean())
    assert a.scenario_verdict == "outer"
    assert "no unintended behaviour ('hoards-keys')" in a.verdict_reason
    assert "so the gaps decide" in a.verdict_reason
    # were collecting keys unintended, it would decide (outer via the behaviour, not the gaps)
    flipped = a.verdicts.assign(intended=False)
    from mesabase.sims.attribution.analysis import scenario_verdict
    label, reason = scenario_verdict(flipped, f)
    assert label == "outer" and "'collects-keys' is outer" in reason
    assert "(intended, shown when" in a.summary()


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


def _record(k_outer: int, k_inner: int, k_none: int) -> dict:
    """A verdict row's fractions with their Clopper–Pearson 95% intervals, from counts."""
    n = k_outer + k_inner + k_none
    rec = {}
    for lab, k in (("outer", k_outer), ("inner", k_inner), ("none", k_none)):
        p = proportion(np.arange(n) < k)
        rec |= {f"frac_{lab}": float(p.fraction), f"frac_{lab}_low": float(p.low),
                f"frac_{lab}_high": float(p.high)}
    return rec


# Rewritten for the majority rule: a label wins when its 95% lower bound exceeds MAJORITY;
# else "mixed" when outer and inner both occur; else the most frequent (outer, inner, none).
@pytest.mark.parametrize("counts, label", [
    ((20, 0, 0), "outer"), ((0, 20, 0), "inner"), ((0, 0, 20), "none"),
    ((16, 1, 3), "outer"),   # 16/20: lower bound 0.56 > ½ although inner occurs
    ((1, 16, 3), "inner"),
    ((10, 10, 0), "mixed"), ((2, 2, 6), "mixed"),  # none most frequent, but not a majority
    ((5, 1, 0), "mixed"),    # 5/6 outer: lower bound 0.36, and inner occurs
    ((6, 0, 4), "outer"),    # no majority, no inner: the most frequent
    ((0, 5, 5), "inner"),    # a tie: outer, inner, none in that order
    ((4, 0, 4), "outer"), ((0, 0, 5), "none"), ((0, 1, 9), "none"),
])
def test_verdict_rule(counts, label):
    assert _verdict_label(_record(*counts)) == label


def test_the_majority_bound_is_the_clopper_pearson_lower_end():
    assert MAJORITY == 0.5
    assert _record(15, 0, 5)["frac_outer_low"] > MAJORITY > _record(14, 0, 6)["frac_outer_low"]
    assert _verdict_label(_record(14, 1, 5)) == "mixed"
    assert _verdict_label(_record(15, 1, 4)) == "outer"


def _verdicts(*rows) -> pd.DataFrame:
    """VERDICT_COLUMNS rows from (behaviour, intended, verdict, k_outer, k_inner, k_none)."""
    recs = []
    for name, intended, label, *counts in rows:
        recs.append({"scenario": "x", "environment": "train", "learner": "l",
                     "behaviour": name, "intended": intended, "threshold": 0.5,
                     **_record(*counts), "n_seeds": sum(counts), "verdict": label})
    return pd.DataFrame(recs, columns=list(VERDICT_COLUMNS))


def _final(misspecification, data, ambiguity, learner, seeds=2) -> pd.DataFrame:
    """GAP_COLUMNS rows at one final step, the same gaps in every seed."""
    total = misspecification + data + ambiguity + learner
    rows = [{"scenario": "x", "environment": "train", "learner": "l", "seed": n, "step": 10,
             "misspecification_gap": misspecification, "data_gap": data,
             "ambiguity_gap": ambiguity, "learner_gap": learner, "total": total,
             "J_intended": 1.0, "J_base_min": 0.0, "J_base_max": 1.0 - misspecification,
             "J_history_min": 0.0, "J_history_max": 1.0 - misspecification - data,
             "J_learner": 1.0 - total} for n in range(seeds)]
    return pd.DataFrame(rows, columns=list(GAP_COLUMNS))


def test_scenario_verdict_combines_behaviours_and_falls_back_on_gaps():
    inner_gaps = _final(0.0, 0.1, 0.0, 0.9)
    # no unintended behaviour shown: the gaps decide, and a negligible regret is none
    nothing = _verdicts(("a", False, "none", 0, 0, 4), ("b", False, "none", 0, 0, 4))
    label, reason = scenario_verdict(nothing, inner_gaps)
    assert label == "inner" and "no unintended behaviour ('a', 'b')" in reason
    assert scenario_verdict(nothing, _final(0.0, 0.0, 0.0, 0.04))[0] == "none"  # ≤ 5% of J*
    assert scenario_verdict(nothing, _final(0.0, 0.0, 0.0, 0.06))[0] == "inner"
    assert NEGLIGIBLE == 0.05
    assert scenario_verdict(_verdicts(("a", False, "outer", 4, 0, 0),
                                      ("b", False, "none", 0, 0, 4)), inner_gaps)[0] == "outer"
    assert scenario_verdict(_verdicts(("a", False, "inner", 0, 4, 0),
                                      ("b", False, "inner", 0, 4, 0)), _final(1, 0, 0, 0))[0] \
        == "inner"
    assert scenario_verdict(_verdicts(("a", False, "outer", 4, 0, 0),
                                      ("b", False, "inner", 0, 4, 0)), inner_gaps)[0] == "mixed"
    assert scenario_verdict(_verdicts(("a", False, "mixed", 2, 2, 0)), inner_gaps)[0] == "mixed"
    # no behaviours: the gaps decide
    none = _verdicts()
    assert scenario_verdict(none, inner_gaps)[0] == "inner"
    assert scenario_verdict(none, _final(0.0, 0.0, 0.0, 0.0))[0] == "none"
    assert scenario_verdict(none, _final(0.0, 0.01, 0.0, 0.02))[0] == "none"
    assert scenario_verdict(none, _final(0.5, 0.3, 0.0, 0.2))[0] == "outer"   # exactly SHARE
    assert scenario_verdict(none, _final(0.5, 0.0, 0.0, 0.5))[0] == "mixed"
    # a negative learner gap: the outer terms exceed the total
    assert scenario_verdict(none, _final(1.0, 0.0, 0.0, -0.2))[0] == "outer"
    assert SHARE == 0.8 and GAP_ATOL > 0
    # through an Attribution: the property reads its own tables
    r, a = run("proxy-bandit", steps=100, seeds=2, record_every=100)
    assert (a.scenario_verdict, a.verdict_reason) == scenario_verdict(a.verdicts, a.final)
    b = dataclasses.replace(a, verdicts=_verdicts(), gaps=_final(0.0, 0.1, 0.0, 0.9))
    assert b.scenario_verdict == "inner" and "the gaps decide" in b.verdict_reason
    assert "learner gap 0.9" in b.verdict_reason


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
    # the training rows carry both training behaviours, the intended one marked
    tb = a.behaviours[a.behaviours.environment == "train"]
    assert tb.groupby("behaviour").intended.all().to_dict() == {"collects-keys": True,
                                                                "hoards-keys": False}


def test_online_shift_attributes_the_resumed_linear_learner_in_its_class():
    """SOURCE BUG (fails at the time of writing): after T0 the learner is the same
    linear-softmax REINFORCE, resumed (runner._Resumed) with the deployment features, so
    its argmax sets belong in the linear class (sets.learner_sets); but is_linear() does
    not see through _Resumed, and the post-shift rows, and Attribution.policy_class, fall
    back to the tabular class (every deployment action free where the post-shift data are
    silent)."""
    from mesabase.sims.attribution import simulate_shift
    from mesabase.sims.attribution.sets import learner_sets

    sc = dataclasses.replace(get_scenario("keys-and-chests"), shift_step=200,
                             name="small-shift")
    r = simulate_shift(sc, sc.get_learner(), 300, seeds=1, record_every=100)
    # the resumed learner acts as π_θ(a|s) ∝ exp φ_deploy(s, a)·θ
    theta = learner_params(r.before)[:, -1]
    np.testing.assert_allclose(r.after.policies[:, 0],
                               LinearSoftmax(sc.deploy.features).probs(theta), atol=1e-12)
    sets = learner_sets(r.after, sc, R_I=sc.deploy.R_I, deploy=False)
    assert sets.policy_class == "linear"


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
