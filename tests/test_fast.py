"""simulate(engine="numba") equals the numpy reference; its limits are stated, not silent."""

import numpy as np
import pytest

from mesabase.sims.agents import engine as fast
from mesabase.sims.agents.full import FullOptimizer
from mesabase.sims.agents.reinforce import Reinforce
from mesabase.sims.envs import Env, bernoulli_bandit, chain, gaussian_bandit, riverswim
from mesabase.sims.simulation import simulate
from mesabase.theory import TabularMDP

needs_numba = pytest.mark.skipif(not fast.available(), reason="numba is not installed")

_FIELDS = ("states", "actions", "rewards", "next_states", "dones")


def _random_mdp(S=6, A=3, horizon=8, seed=0):
    g = np.random.default_rng(seed)
    P = g.dirichlet(np.full(S, 0.5), size=(S, A))
    P[S - 1] = 0.0
    P[S - 1, :, S - 1] = 1.0                                   # an absorbing state
    return Env(TabularMDP(P, g.random((S, A)), gamma=1.0, horizon=horizon), noise="bernoulli")


def _assert_same(a, b):
    """Sampled data identical; probabilities and policies equal to rounding (1e-12)."""
    for f in _FIELDS:
        np.testing.assert_array_equal(getattr(a.history, f), getattr(b.history, f), err_msg=f)
    np.testing.assert_allclose(a.history.probs, b.history.probs, rtol=1e-12, atol=0)
    np.testing.assert_allclose(a.policies, b.policies, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(a.steps, b.steps)
    assert len(a.history) == len(b.history)


CASES = [
    (bernoulli_bandit([0.1, 0.5, 0.9, 0.3]), Reinforce(lr=0.4), 600),
    (bernoulli_bandit([0.2, 0.7]), Reinforce(lr=0.3, baseline="mean"), 300),
    (gaussian_bandit([1.0, -0.5, 0.2], sigma=2.0), Reinforce(lr=0.05, baseline=0.3), 300),
    (_random_mdp(), Reinforce(lr=0.5), 400),
    (_random_mdp(horizon=5, seed=3), Reinforce(lr=0.2, baseline="mean"), 300),
    (riverswim(n=5, horizon=12), Reinforce(lr=2.0, init_logits=[[0.0, 1.0]] * 5), 300),
    (chain(4, gamma=0.9), Reinforce(lr=0.7, baseline=-0.1), 200),        # absorbing end
]


@needs_numba
@pytest.mark.parametrize("env,learner,steps", CASES, ids=lambda x: getattr(x, "name", None))
def test_numba_equals_numpy(env, learner, steps):
    seeds = [4, 0, 17, 123456789]
    ref = simulate(env, learner, steps, seeds=seeds, shadow=None, record_every=37)
    got = simulate(env, learner, steps, seeds=seeds, shadow=None, record_every=37,
                   engine="numba")
    _assert_same(ref, got)
    assert got.shadow_policies is None and got.learner is not None


@needs_numba
def test_numba_is_independent_of_batch_and_threads():
    env = _random_mdp(S=5, A=4, horizon=6, seed=1)
    learner = Reinforce(lr=0.3)
    before = fast.numba.get_num_threads()
    try:
        fast.numba.set_num_threads(1)
        one = simulate(env, learner, 500, seeds=list(range(9)), shadow=None, engine="numba")
        fast.numba.set_num_threads(min(2, fast.numba.config.NUMBA_NUM_THREADS))
        two = simulate(env, learner, 500, seeds=list(range(9)), shadow=None, engine="numba")
        alone = simulate(env, learner, 500, seeds=[7], shadow=None, engine="numba")
    finally:
        fast.numba.set_num_threads(before)
    for f in (*_FIELDS, "probs"):
        assert np.array_equal(getattr(one.history, f), getattr(two.history, f)), f
        assert np.array_equal(getattr(one.history, f)[7], getattr(alone.history, f)[0]), f
    assert np.array_equal(one.policies, two.policies)
    assert np.array_equal(one.policies[7], alone.policies[0])


@needs_numba
def test_numba_edge_sizes():
    env = bernoulli_bandit([0.5, 0.6])
    run = simulate(env, Reinforce(), 0, seeds=3, shadow=None, engine="numba")
    assert run.history.states.shape == (3, 0) and run.policies.shape == (3, 1, 1, 2)
    np.testing.assert_allclose(run.policies, 0.5, rtol=0, atol=0)
    one_arm = simulate(bernoulli_bandit([0.4]), Reinforce(lr=1.0), 50, seeds=2, shadow=None,
                       engine="numba")
    assert (one_arm.history.actions == 0).all() and (one_arm.history.probs == 1.0).all()
    long = simulate(env, Reinforce(lr=0.1), 3 * fast._STEPS + 5, seeds=2, shadow=None,
                    engine="numba")                              # several uniform blocks
    ref = simulate(env, Reinforce(lr=0.1), 3 * fast._STEPS + 5, seeds=2, shadow=None)
    _assert_same(ref, long)


class _SubEnv(Env):
    pass


@pytest.mark.parametrize("env,learner,shadow,match", [
    (bernoulli_bandit([0.5, 0.5]), Reinforce(update="episode"), None, "update='step'"),
    (bernoulli_bandit([0.5, 0.5]), Reinforce(policy=np.eye(2)[None]), None, "tabular"),
    (bernoulli_bandit([0.5, 0.5]), Reinforce(natural=True), None, "natural"),
    (bernoulli_bandit([0.5, 0.5]), Reinforce(schedule=("power", 1.0)), None, "constant"),
    (riverswim(n=3), Reinforce(), "ce", "shadow"),
    (riverswim(n=3), FullOptimizer("ce"), None, "Reinforce"),
    (_SubEnv(bernoulli_bandit([0.5]).mdp), Reinforce(), None, "subclass"),
])
def test_numba_refuses_what_it_does_not_fuse(env, learner, shadow, match):
    assert fast.unsupported(env, learner.bind(env) if hasattr(learner, "bind") else learner,
                            shadow) is not None
    if fast.available():
        with pytest.raises(ValueError, match=match):
            simulate(env, learner, 5, seeds=2, shadow=shadow, engine="numba")


def test_engine_is_checked_and_numba_is_optional(monkeypatch):
    env = bernoulli_bandit([0.5, 0.5])
    with pytest.raises(ValueError, match="engine"):
        simulate(env, Reinforce(), 5, shadow=None, engine="jax")
    monkeypatch.setattr(fast, "numba", None)
    with pytest.raises(ImportError, match="numba"):
        simulate(env, Reinforce(), 5, shadow=None, engine="numba")
    assert fast.unsupported(env, Reinforce(), None) is None
