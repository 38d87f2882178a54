"""The Gymnasium export (mesabase.sims.gymenv): spaces, sampling, truncation, info, the
registered ids, the recorder, History.from_transitions, and Gymnasium staying optional."""

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

gymnasium = pytest.importorskip("gymnasium")
from gymnasium.utils.env_checker import check_env  # noqa: E402

from mesabase.sims import (  # noqa: E402
    SCENARIOS,
    RecordEpisodes,
    get_scenario,
    riverswim,
    to_gymnasium,
)
from mesabase.sims.gymenv import REGISTERED, TAIL, default_max_steps  # noqa: E402
from mesabase.theory import History, TabularMDP  # noqa: E402


def _roll(env, steps, rng, seed=None):
    """A uniformly random agent for ``steps`` steps; the (s, a, r, s', term, trunc, info)."""
    out = []
    s, _ = env.reset(seed=seed)
    for _ in range(steps):
        a = int(rng.integers(env.action_space.n))
        s2, r, term, trunc, info = env.step(a)
        out.append((s, a, r, s2, term, trunc, info))
        s = env.reset()[0] if term or trunc else s2
    return out


# ---- the environments ---------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_every_registered_id_makes_an_env_that_passes_check_env(name):
    env_id = f"mesabase/{name}-v0"
    assert env_id in REGISTERED and env_id in gymnasium.envs.registry
    env = gymnasium.make(env_id)
    sc = get_scenario(name)
    assert env.observation_space == gymnasium.spaces.Discrete(sc.train.n_states)
    assert env.action_space == gymnasium.spaces.Discrete(sc.train.n_actions)
    check_env(env.unwrapped, skip_render_check=True)


def test_the_deployment_env_is_made_through_make_kwargs():
    sc = get_scenario("keys-and-chests")
    env = gymnasium.make("mesabase/keys-and-chests-v0", environment="deploy")
    assert env.observation_space.n == sc.deploy.env.n_states == 121
    check_env(env.unwrapped, skip_render_check=True)
    assert env.unwrapped.R_I is not None and list(env.unwrapped.behaviours) == ["hoards-keys"]


def test_steps_follow_the_mesabase_env_sampling_rules_exactly():
    """reset draws one uniform of np_random (seeded as numpy.random.default_rng(seed)) for
    s_0 ~ μ0, a step two (next state, reward): the Env's own inverse-CDF sampling."""
    for name, env, ref in (("proxy-bandit", to_gymnasium("proxy-bandit"),  # bernoulli reward
                            get_scenario("proxy-bandit").train),
                           ("exploration-trap", to_gymnasium("exploration-trap"),
                            get_scenario("exploration-trap").train)):
        g = np.random.default_rng(11)
        s, _ = env.reset(seed=11)
        assert s == int(ref.reset(g.random(1))[0])
        for a in [1, 0, 1, 1, 0, 1, 1, 1] * 5:
            s2, r, term, trunc, _ = env.step(a)
            u = g.random(2)
            sa = (np.array([s]), np.array([a]))
            assert s2 == int(ref.next_state(*sa, u[:1])[0]), name
            assert r == float(ref.reward(*sa, u[1:])[0]), name
            s = env.reset()[0] if term or trunc else s2
            if term or trunc:
                assert s == int(ref.reset(g.random(1))[0])


def test_next_state_frequencies_match_P():
    """RiverSwim's swim-right from the middle: left 0.05, stay 0.6, right 0.35 (Strehl &
    Littman); started there (μ0 = δ₂, one step per episode), 3000 draws, every frequency
    within 5 binomial standard errors of P."""
    m = riverswim(n=6, gamma=0.95).mdp
    mu0 = np.eye(6)[2]
    env = to_gymnasium(TabularMDP(m.P, m.R, gamma=m.gamma, mu0=mu0), max_steps=1)
    P = m.P[2, 1]
    counts = np.zeros(6)
    n = 3000
    env.reset(seed=0)
    for _ in range(n):
        counts[env.step(1)[0]] += 1
        env.reset()
    se = np.sqrt(P * (1 - P) / n)
    assert np.all(np.abs(counts / n - P) <= 5 * se + 1e-12), (counts / n, P)
    assert P.tolist() == [0.0, 0.05, 0.6, 0.35, 0.0, 0.0]


def test_reward_info_and_truncation_at_the_horizon():
    sc = get_scenario("keys-and-chests")
    env = to_gymnasium(sc, seed=4)
    assert env.unwrapped.max_steps == sc.train.horizon == 16
    assert env.unwrapped.gamma == sc.train.mdp.gamma
    steps = _roll(env, 200, np.random.default_rng(0))
    k = 0
    for s, a, r, s2, term, trunc, info in steps:
        k += 1
        assert r == sc.R_B[s, a] == info["base_reward_mean"]  # noise "none": the base reward
        assert info["intended_reward"] == sc.R_I[s, a]
        assert info["behaviours"] == {b: float(v.reward[s, a]) for b, v in sc.behaviours.items()}
        assert info["proxies"] == {p: float(v[s, a]) for p, v in sc.proxies.items()}
        assert trunc == (k == 16 and not term)
        assert 0 <= s2 < env.observation_space.n
        if term or trunc:
            k = 0
    assert sum(t[5] for t in steps) == 12  # 200 steps, no absorbing state: 12 episodes of 16


def test_a_bandit_terminates_after_one_step():
    env = to_gymnasium("proxy-bandit", seed=0)
    env.reset()
    _, _, term, trunc, info = env.step(2)
    assert term and not trunc and info["intended_reward"] == 0.2
    with pytest.raises(gymnasium.error.ResetNeeded, match="episode has ended"):
        env.step(0)


def test_default_truncation_of_an_infinite_horizon_mdp():
    for g in (0.5, 0.9, 0.95, 0.99):
        m = TabularMDP(np.ones((1, 1, 1)), np.ones((1, 1)), gamma=g)
        H = default_max_steps(m)
        assert g ** H <= TAIL < g ** (H - 1)
    assert to_gymnasium("exploration-trap").unwrapped.max_steps == 90  # γ = 0.95
    assert math.ceil(math.log(TAIL) / math.log(0.95)) == 90
    assert to_gymnasium("exploration-trap", max_steps=7).unwrapped.max_steps == 7


def test_seed_argument_makes_the_first_reset_reproducible():
    a = _roll(to_gymnasium("exploration-trap", seed=5), 50, np.random.default_rng(1))
    b = _roll(to_gymnasium("exploration-trap", seed=5), 50, np.random.default_rng(1))
    c = _roll(to_gymnasium("exploration-trap", seed=6), 50, np.random.default_rng(1))
    strip = [[x[:6] for x in run] for run in (a, b, c)]
    assert strip[0] == strip[1] and strip[0] != strip[2]


def test_a_bare_mdp_is_exported_with_its_reward_as_intended():
    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = P[:, 1, 1] = 1.0
    m = TabularMDP(P, np.array([[0.0, 1.0], [2.0, 0.0]]), gamma=0.9, horizon=3)
    env = to_gymnasium(m, seed=0)
    env.reset()
    _, r, _, _, info = env.step(1)
    assert r == info["intended_reward"] and info["behaviours"] == {}
    check_env(env, skip_render_check=True)


@pytest.mark.parametrize("args, kwargs, match", [
    (("no-such-scenario",), {}, "unknown scenario"),
    (("proxy-bandit",), {"environment": "deploy"}, "no deployment environment"),
    (("proxy-bandit",), {"environment": "test"}, "environment must be"),
    (("proxy-bandit",), {"max_steps": 0}, "max_steps must be"),
    (("proxy-bandit",), {"render_mode": "human"}, "render_mode"),
    ((riverswim(),), {"environment": "deploy"}, "no deployment"),
    ((TabularMDP(np.ones((1, 1, 1)), np.ones((1, 1)), gamma=1.0, horizon=None),), {},
     "pass max_steps"),
])
def test_bad_arguments_are_refused(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        to_gymnasium(*args, **kwargs)


def test_bad_actions_are_refused():
    env = to_gymnasium("proxy-bandit", seed=0)
    with pytest.raises(gymnasium.error.ResetNeeded):
        env.step(0)
    env.reset()
    for bad in (3, -1, 1.0, True, "0"):
        with pytest.raises(ValueError, match="action must be an integer"):
            env.step(bad)
    assert env.step(np.int64(1))[0] == 0


# ---- the recorder and History.from_transitions ---------------------------------------
def test_the_recorder_history_is_what_the_agent_saw():
    env = RecordEpisodes(gymnasium.make("mesabase/misspecified-reward-v0"))
    steps = _roll(env, 120, np.random.default_rng(2), seed=3)
    h = env.history
    assert h.single and len(h) == 120
    assert h.states[0].tolist() == [x[0] for x in steps]
    assert h.actions[0].tolist() == [x[1] for x in steps]
    assert h.rewards[0].tolist() == [x[2] for x in steps]
    assert h.next_states[0].tolist() == [x[3] for x in steps]
    assert h.dones[0].tolist() == [x[4] or x[5] for x in steps]
    assert (h.probs == 1.0).all()
    assert env.transitions == [x[:6] for x in steps]


def test_a_reset_mid_episode_marks_the_cut():
    env = RecordEpisodes(to_gymnasium("exploration-trap", seed=0))
    env.reset()
    env.step(1)
    env.step(1)
    env.reset()
    env.step(0)
    assert [t[5] for t in env.transitions] == [False, True, False]
    assert env.history.dones[0].tolist() == [False, True, False]


def test_the_recorder_needs_discrete_spaces():
    with pytest.raises(ValueError, match="Discrete observation space"):
        RecordEpisodes(gymnasium.make("CartPole-v1"))


_transition = st.tuples(st.integers(0, 5), st.integers(0, 3),
                        st.floats(-10, 10, allow_nan=False), st.integers(0, 5),
                        st.booleans(), st.booleans(), st.floats(0.01, 1.0))


@given(st.lists(_transition, max_size=12), st.booleans())
def test_from_transitions_equals_from_arrays(rows, as_dicts):
    # make the list a valid trajectory: a step not ending its episode leads to the next obs
    rows = [(s if i == 0 or rows[i - 1][4] or rows[i - 1][5] else rows[i - 1][3], *rest)
            for i, (s, *rest) in enumerate(rows)]
    keys = ("obs", "action", "reward", "next_obs", "terminated", "truncated", "prob")
    items = [dict(zip(keys, r, strict=True)) for r in rows] if as_dicts else rows
    h = History.from_transitions(items)
    cols = list(zip(*rows, strict=True)) if rows else [[]] * 7
    assert h.single and len(h) == len(rows)
    assert h.states[0].tolist() == list(cols[0]) and h.actions[0].tolist() == list(cols[1])
    assert h.rewards[0].tolist() == list(cols[2]) and h.probs[0].tolist() == list(cols[6])
    assert h.dones[0].tolist() == [bool(a or b) for a, b in zip(cols[4], cols[5], strict=True)]


@pytest.mark.parametrize("items, match", [
    ("abc", "needs a list"),
    ({"obs": 0}, "needs a list"),
    ([(0, 1, 1.0, 1, False, False), (0, 1, 1.0, 2)], "transition 1 must be a tuple"),
    ([(0, 1, 1.0, 1, 0, False)], "transition 0: terminated = 0 is not a bool"),
    ([(0, -1, 1.0, 1, False, False)], "transition 0: action = -1 is not an index"),
    ([(0, 1, 1.5, 1, True, False), (0.5, 1, 1.0, 1, False, False)],
     "transition 1: obs = 0.5 is not an index"),
    ([(0, 1, np.inf, 1, False, False)], "transition 0: reward = inf is not finite"),
    ([(0, 1, 1.0, 1, False, False, 0.0)], r"transition 0: prob = 0.0 is not a probability"),
    ([(np.zeros(2), 1, 1.0, 1, False, False)], "transition 0: obs .* is not a state index"),
    ([{"obs": 0, "action": 1, "reward": 1.0, "next_obs": 1, "terminated": False}],
     "transition 0: missing key.s. truncated"),
    ([{"obs": 0, "action": 1, "reward": 1.0, "next_obs": 1, "terminated": False,
       "truncated": False, "probability": 0.5}], "unknown key.s. probability"),
    ([(0, 1, 1.0, 1, False, False), (2, 1, 1.0, 1, False, False)],
     "transition 1 starts in state 2 but transition 0 ended in state 1"),
])
def test_from_transitions_names_the_bad_item(items, match):
    with pytest.raises(ValueError, match=match):
        History.from_transitions(items)


# ---- Gymnasium is optional ------------------------------------------------------------------
def test_mesabase_imports_and_attributes_without_gymnasium():
    code = """
import sys
sys.modules['gymnasium'] = None          # import gymnasium now raises ImportError
import numpy as np
import mesabase.sims as ms
from mesabase.sims import *               # every exported name exists
from mesabase.theory import History
assert ms.gymenv.REGISTERED == ()
for call in (lambda: ms.to_gymnasium('proxy-bandit'), lambda: ms.RecordEpisodes(None)):
    try:
        call()
    except ImportError as e:
        assert 'mesabase[gym]' in str(e), e
    else:
        raise AssertionError('no ImportError')
h = History.from_transitions([(0, 2, 1.0, 0, True, False)] * 3)
a = ms.attribute_policies('proxy-bandit', h, np.tile([0.0, 0.0, 1.0], (2, 1, 1)), [0, 3])
print(a.scenario_verdict)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "outer"


def test_an_env_pickles_and_continues_identically():
    import pickle

    env = to_gymnasium("keys-and-chests", seed=1)
    env.reset()
    env.step(1)
    twin = pickle.loads(pickle.dumps(env))
    for a in (1, 1, 2, 0, 3, 1):
        assert twin.step(a)[:4] == env.step(a)[:4]
