"""Scenarios: the registry, hand-computed values of the shipped scenarios, validation, the
online shift and ``run``."""

import dataclasses

import numpy as np
import pytest

from mesabase.sims import FullOptimizer, Reinforce
from mesabase.sims.agents.policies import LinearSoftmax
from mesabase.sims.attribution import ShiftRun, learner_params, run, simulate_shift
from mesabase.sims.envs import build_gridworld, expected_count, grid_features
from mesabase.sims.envs.base import Env
from mesabase.sims.scenarios import (
    SCENARIOS,
    SHIPPED,
    Behaviour,
    Deployment,
    Scenario,
    get_scenario,
)
from mesabase.sims.scenarios.keys_and_chests import DEPLOY_MAP, FEATURES, TRAIN_MAP
from mesabase.theory import expected_return, solve
from mesabase.theory.attribution.gaps import behaviour_range, behaviour_values
from mesabase.theory.attribution.restricted import argmax_set_allowed

TOL = 1e-12


def _start_value(mdp, sol) -> float:
    V = sol.V[0] if mdp.horizon is not None else sol.V
    return float(mdp.mu0 @ V)


# ---- the registry --------------------------------------------------------------------------
def test_registry_holds_the_issue_names_and_caches():
    assert SHIPPED == ("keys-and-chests", "misspecified-reward", "proxy-bandit",
                       "exploration-trap")
    extra = {"proxy-bandit-control", "keys-and-chests-shift", "softmax-trap"}
    assert set(SHIPPED) | extra == set(SCENARIOS)
    for name in SCENARIOS:
        sc = get_scenario(name)
        assert sc.name == name and sc.default_learner in sc.learners
        assert get_scenario(name) is sc
    with pytest.raises(KeyError, match="unknown scenario 'boat'; choose from keys-and-chests"):
        get_scenario("boat")


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_is_solved_with_a_certificate(name):
    """(Speed is shown by benchmarks, never asserted in a test.)"""
    sc = get_scenario(name)
    for mdp in [sc.train.mdp] + ([sc.deploy.env.mdp] if sc.deploy else []):
        sol = solve(mdp)
        assert sol.error_bound <= 1e-10 and sol.residual <= 1e-9


# ---- hand-computed values --------------------------------------------------------------------
def test_proxy_bandit_values_and_control():
    sc, ctl = get_scenario("proxy-bandit"), get_scenario("proxy-bandit-control")
    np.testing.assert_array_equal(sc.R_B, [[0.3, 0.5, 0.8]])
    np.testing.assert_array_equal(sc.R_I, [[0.8, 0.5, 0.2]])
    np.testing.assert_array_equal(ctl.R_I, ctl.R_B)
    np.testing.assert_array_equal(sc.behaviours["pulls-proxy-arm"].reward, [[0, 0, 1]])
    np.testing.assert_array_equal(sc.behaviours["intended-suboptimal-arm"].reward, [[0, 1, 1]])
    np.testing.assert_array_equal(ctl.behaviours["intended-suboptimal-arm"].reward, [[1, 1, 0]])
    assert list(ctl.behaviours) == ["intended-suboptimal-arm"]


def test_misspecified_reward_base_optimum_games_checkpoints():
    sc = get_scenario("misspecified-reward")
    mdp = sc.train.mdp
    sol_B, sol_I = solve(mdp), solve(mdp.with_reward(sc.R_I))
    assert _start_value(mdp, sol_B) == pytest.approx(12.0, abs=TOL)  # a checkpoint per 2 steps
    assert _start_value(mdp, sol_I) == pytest.approx(2.0, abs=TOL)   # 24 steps = 2 laps of 12
    game = sc.behaviours["games-checkpoints"].reward
    # π_B* (uniform over the base argmax set): a quarter lap, then back and forth
    assert behaviour_values(mdp, sc.R_I, sol_B.policy, per_step=True) == pytest.approx(
        0.25, abs=TOL)
    assert behaviour_values(mdp, game, sol_B.policy, per_step=True) == pytest.approx(
        11.0, abs=TOL)
    assert behaviour_values(mdp, game, sol_I.policy, per_step=True) == pytest.approx(
        0.0, abs=TOL)


def test_exploration_trap_bank_policy_value():
    sc = get_scenario("exploration-trap")
    mdp = sc.train.mdp
    bank = np.zeros((6, 2))
    bank[:, 0] = 1.0  # swim left everywhere: the small sure reward for ever
    assert expected_return(mdp, bank) == pytest.approx(0.005 / (1 - 0.95), abs=TOL)
    assert expected_return(mdp, bank, sc.behaviours["stays-at-bank"].reward) == pytest.approx(
        1.0, abs=TOL)
    assert _start_value(mdp, solve(mdp)) > 40 * 0.1  # the far end is worth far more


def test_keys_and_chests_training_optimum_opens_the_chest():
    sc = get_scenario("keys-and-chests")
    w, mdp = sc.world, sc.train.mdp
    sol = solve(mdp)
    # the key is 5 moves away, the nearest chest 1 more: one chest, rewarded at step 5
    assert _start_value(mdp, sol) == pytest.approx(0.95**5, abs=TOL)
    assert expected_count(w, sol.policy, "chests_opened", gamma=1.0) == pytest.approx(1.0, abs=TOL)
    assert expected_count(w, sol.policy, "keys_collected", gamma=1.0) == pytest.approx(
        1.0, abs=TOL)
    dep = sc.deploy
    assert _start_value(dep.env.mdp, solve(dep.env.mdp.with_reward(dep.R_I))) == pytest.approx(
        0.95**3, abs=TOL)


def test_keys_and_chests_layouts_round_trip_and_differ():
    sc = get_scenario("keys-and-chests")
    train, deploy = sc.world, sc.deploy.world
    assert (len(train.keys), len(train.chests)) == (1, 3)
    assert (len(deploy.keys), len(deploy.chests)) == (4, 1)
    for w, text in ((train, TRAIN_MAP), (deploy, DEPLOY_MAP)):
        again = build_gridworld(w.to_ascii(), gamma=0.95, horizon=16)
        assert again.states == w.states
        assert w.to_ascii() == "\n".join(ln.strip() for ln in text.strip().splitlines())
    assert train.n_states != deploy.n_states  # a tabular policy cannot transfer
    np.testing.assert_array_equal(sc.deploy.features, grid_features(deploy, FEATURES))


def test_only_collecting_keys_is_an_intended_behaviour():
    sc = get_scenario("keys-and-chests")
    assert sc.behaviours["collects-keys"].intended is True
    assert sc.behaviours["hoards-keys"].intended is False
    assert sc.deploy.behaviours["hoards-keys"].intended is False
    for name in SCENARIOS:
        other = get_scenario(name)
        marked = {k for k, b in other.behaviours.items() if b.intended}
        assert marked == ({"collects-keys"} if name.startswith("keys-and-chests") else set())
        assert not any(b.intended for b in (other.deploy.behaviours.values()
                                            if other.deploy else ()))


def test_hoarding_is_impossible_in_training_and_never_intended_in_deployment():
    sc = get_scenario("keys-and-chests")
    assert not sc.behaviours["hoards-keys"].reward.any()  # one key: never a second in hand
    dep = sc.deploy
    M, hoard = dep.env.mdp, dep.behaviours["hoards-keys"].reward
    sol_I = solve(M.with_reward(dep.R_I))
    opt_I = argmax_set_allowed(sol_I.optimal, P=M.P, mu0=M.mu0, gamma=M.gamma,
                               horizon=M.horizon)
    lo, hi = behaviour_range(M, hoard, opt_I, per_step=True)
    assert (float(lo), float(hi)) == pytest.approx((0.0, 0.0), abs=TOL)
    lo, hi = behaviour_range(M, hoard, np.ones((M.n_states, 4), dtype=bool))
    assert float(hi) >= 2.0  # some deployment policy hoards two keys or more


# ---- validation -------------------------------------------------------------------------------
def _bandit_env(means=(0.2, 0.8)):
    from mesabase.sims.envs import bernoulli_bandit

    return bernoulli_bandit(list(means))


@pytest.mark.parametrize("kwargs, match", [
    (dict(R_I=np.zeros((1, 3))), r"R_I must have shape \(1, 2\); got \(1, 3\)"),
    (dict(behaviours={"b": ([[0.0, np.nan]], 0.5)}), r"train behaviour 'b' reward\[0, 1\] = nan"),
    (dict(behaviours={"b": ([[0.0, 1.0]], float("inf"))}), r"threshold inf is not finite"),
    (dict(proxies={"p": np.zeros((2, 2))}), r"proxies\['p'\] must have shape \(1, 2\)"),
    (dict(shift_step=10), "shift_step needs a deployment"),
    (dict(learners={"a": Reinforce()}, default_learner="b"), "default learner 'b' is not one"),
    (dict(steps=0), "steps must be >= 1"),
])
def test_scenario_validation_says_what_is_wrong(kwargs, match):
    args = dict(name="x", description="", train=_bandit_env(), R_I=np.zeros((1, 2)))
    with pytest.raises(ValueError, match=match):
        Scenario(**(args | kwargs))


def test_deployment_validation_says_what_is_wrong():
    env = _bandit_env()
    with pytest.raises(ValueError, match=r"state_map must be 1 integers"):
        Deployment(env, np.zeros((1, 2)), state_map=[0.5])
    with pytest.raises(ValueError, match=r"deploy features must have shape \(1, 2, d\)"):
        Deployment(env, np.zeros((1, 2)), features=np.zeros((2, 2, 3)))
    three = _bandit_env((0.1, 0.2, 0.3))
    with pytest.raises(ValueError, match="deployment env has 3 actions but the training env"):
        Scenario("x", "", env, np.zeros((1, 2)), deploy=Deployment(three, np.zeros((1, 3))))
    with pytest.raises(ValueError, match=r"state_map\[0\] = 4 is not a training state"):
        Scenario("x", "", env, np.zeros((1, 2)),
                 deploy=Deployment(env, np.zeros((1, 2)), state_map=[4]))


def test_get_learner_by_name_default_or_object():
    sc = get_scenario("exploration-trap")
    assert isinstance(sc.get_learner(), FullOptimizer)
    assert isinstance(sc.get_learner("reinforce"), Reinforce)
    mine = Reinforce(lr=0.3)
    assert sc.get_learner(mine) is mine
    assert sc.learner_name(mine) == "Reinforce"
    assert sc.learner_name(sc.learners["full"].bind(sc.train), sc.train) == "full"
    with pytest.raises(ValueError, match="has no learner 'ppo'; choose from full, reinforce"):
        sc.get_learner("ppo")


# ---- running and the online shift ----------------------------------------------------------------
def test_run_returns_the_run_and_its_attribution():
    r, a = run("proxy-bandit", steps=50, seeds=3, record_every=25)
    assert r.policies.shape == (3, 3, 1, 3) and r.steps.tolist() == [0, 25, 50]
    assert a.learner == "reinforce" and a.environment == "train"
    assert len(a.gaps) == 9


def test_learner_params_replay_and_detect_a_wrong_learner():
    sc = get_scenario("keys-and-chests")
    r, _ = run(sc, steps=300, seeds=2, record_every=100, environment="train")
    theta = learner_params(r)
    assert theta.shape == (2, 4, len(FEATURES))
    phi = LinearSoftmax(grid_features(sc.world, FEATURES))
    for i in range(4):
        np.testing.assert_allclose(phi.probs(theta[:, i]), r.policies[:, i], rtol=0, atol=TOL)
    wrong = dataclasses.replace(r, learner=r.learner.replace(init_logits=[0.0, 0.0, 0.0, 1.0]))
    with pytest.raises(RuntimeError, match="does not reproduce its policy at step 0"):
        learner_params(wrong)
    with pytest.raises(TypeError, match="Reinforce learners only"):
        learner_params(dataclasses.replace(r, learner=FullOptimizer()))


def test_online_shift_carries_theta_into_the_new_layout():
    sc = dataclasses.replace(get_scenario("keys-and-chests"), shift_step=300,
                             name="keys-and-chests-small-shift")
    learner = sc.get_learner()
    shift = simulate_shift(sc, learner, 500, seeds=2, record_every=100)
    assert isinstance(shift, ShiftRun) and shift.shift_step == 300
    assert shift.before.env is sc.train and shift.after.env is sc.deploy.env
    assert shift.after.steps.tolist() == [0, 100, 200]
    theta = learner_params(shift.before)[:, -1]  # θ at T0 = 300
    pi = LinearSoftmax(sc.deploy.features).probs(theta)
    np.testing.assert_allclose(shift.after.policies[:, 0], pi, rtol=0, atol=TOL)
    assert not np.allclose(shift.after.policies[:, -1], pi, atol=1e-3)  # it keeps learning
    with pytest.raises(ValueError, match=r"steps \(300\) must exceed the shift step"):
        simulate_shift(sc, learner, 300)
    with pytest.raises(TypeError, match="only Reinforce learners can be resumed"):
        simulate_shift(sc, FullOptimizer(), 400)
    with pytest.raises(ValueError, match="a tabular learner cannot carry over"):
        simulate_shift(sc, sc.learners["reinforce-tabular"], 400)


def test_behaviour_tuples_are_converted_and_frozen():
    env = _bandit_env()
    sc = Scenario("x", "", env, np.zeros((1, 2)), behaviours={"b": ([[0.0, 1.0]], 0.5)})
    b = sc.behaviours["b"]
    assert isinstance(b, Behaviour) and b.threshold == 0.5 and b.description == ""
    assert b.intended is False                          # the default: a divergence
    sc = Scenario("x", "", env, np.zeros((1, 2)),
                  behaviours={"b": ([[0.0, 1.0]], 0.5, "wanted", np.bool_(True))})
    assert sc.behaviours["b"].intended is True          # a numpy bool becomes a bool
    with pytest.raises(ValueError, match="read-only"):
        b.reward[0, 0] = 1.0
    with pytest.raises(TypeError):
        sc.behaviours["c"] = b
    assert Env is type(sc.train)
