"""simulate(): vectorised = a plain one-seed loop, per-seed reproducibility, the Run contract,
the shadow π*_t and the full optimiser."""

import numpy as np
import pytest

from mesabase.sims.agents.full import FullOptimizer
from mesabase.sims.agents.reinforce import Reinforce
from mesabase.sims.envs import Env, bernoulli_bandit, chain, gaussian_bandit, riverswim
from mesabase.sims.simulation import BLOCK, simulate
from mesabase.theory import TabularMDP, expected_return, history_optimal


def _loop_reference(env, lr, steps, seed):
    """One seed, scalar Python: the seed's literal update θ[s] += lr·r·(e_a − π(·|s))."""
    rng = np.random.default_rng(seed)
    S, A = env.n_states, env.n_actions
    theta = np.zeros((S, A))
    P, R, mu0 = env.P, env.R, env.mdp.mu0
    s = int(np.searchsorted(np.cumsum(mu0), rng.random(), side="right"))
    s = min(s, S - 1)
    k, out = 0, []
    for t in range(steps):
        if t % BLOCK == 0:
            U = rng.random((BLOCK, 4))
        u = U[t % BLOCK]
        z = theta[s] - theta[s].max()
        pi = np.exp(z) / np.exp(z).sum()
        a = min(int(np.sum(u[0] >= np.cumsum(pi))), A - 1)
        s2 = min(int(np.sum(u[1] >= np.cumsum(P[s, a]))), S - 1)
        if env.noise == "bernoulli":
            r = float(u[2] < R[s, a])
        else:
            r = float(R[s, a])
        k += 1
        done = env.horizon is not None and k >= env.horizon
        grad = -pi
        grad[a] += 1.0
        theta[s] += lr * r * grad
        out.append((s, a, r, s2, pi[a], done))
        if done:
            s2 = min(int(np.sum(u[3] >= np.cumsum(mu0))), S - 1)
            k = 0
        s = s2
    return np.array(out), theta


@pytest.mark.parametrize("env,steps", [
    (bernoulli_bandit([0.2, 0.5, 0.7]), BLOCK + 40),   # crosses a block of uniforms
    (riverswim(n=4, horizon=7), 300),
    (chain(4, gamma=0.9), 200),
])
def test_vectorised_equals_one_seed_loop(env, steps):
    seeds = [11, 3, 7]
    run = simulate(env, Reinforce(lr=0.3), steps, seeds=seeds, shadow=None,
                   record_every=steps)
    for i, seed in enumerate(seeds):
        ref, theta = _loop_reference(env, 0.3, steps, seed)
        h = run.history
        np.testing.assert_array_equal(h.states[i], ref[:, 0])
        np.testing.assert_array_equal(h.actions[i], ref[:, 1])
        np.testing.assert_array_equal(h.rewards[i], ref[:, 2])
        np.testing.assert_array_equal(h.next_states[i], ref[:, 3])
        np.testing.assert_allclose(h.probs[i], ref[:, 4], rtol=1e-12, atol=0)
        np.testing.assert_array_equal(h.dones[i], ref[:, 5].astype(bool))
        z = theta - theta.max(axis=1, keepdims=True)
        pi = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(run.policies[i, -1], pi, rtol=1e-10, atol=1e-12)


def test_a_seed_is_bit_identical_whatever_the_batch():
    env = riverswim(horizon=10)
    big = simulate(env, Reinforce(lr=0.2, update="episode"), 500, seeds=[0, 1, 2, 9],
                   record_every=100)
    alone = simulate(env, Reinforce(lr=0.2, update="episode"), 500, seeds=[9],
                     record_every=100)
    for f in ("states", "actions", "rewards", "next_states", "probs", "dones"):
        assert np.array_equal(getattr(big.history, f)[3], getattr(alone.history, f)[0]), f
    assert np.array_equal(big.policies[3], alone.policies[0])
    assert np.array_equal(big.shadow_policies[3], alone.shadow_policies[0])


def test_run_contract_and_exact_returns():
    env = riverswim(n=5)
    run = simulate(env, Reinforce(lr=0.1), 120, seeds=3, record_every=40)
    N, R, S, A = 3, 4, 5, 2
    assert run.history.states.shape == (N, 120)
    assert run.policies.shape == (N, R, S, A) and run.shadow_policies.shape == (N, R, S, A)
    assert run.steps.tolist() == [0, 40, 80, 120]
    df = run.to_frame()
    assert {"seed", "step", "return_learner", "return_shadow"} <= set(df.columns)
    assert len(df) == N * R
    row = df[(df.seed == 2) & (df.step == 80)].iloc[0]
    assert row.return_learner == pytest.approx(
        expected_return(env.mdp, run.policies[2, 2]), abs=1e-10)
    assert row.return_shadow == pytest.approx(
        expected_return(env.mdp, run.shadow_policies[2, 2]), abs=1e-10)


@pytest.mark.parametrize("objective", ["ce", "log", "is"])
def test_shadow_is_pi_star_on_the_learners_history(objective):
    env = bernoulli_bandit([0.3, 0.6]) if objective == "is" else riverswim(n=3)
    run = simulate(env, Reinforce(lr=0.2), 60, seeds=2, shadow=objective, record_every=20)
    for r, t in enumerate(run.steps[1:], start=1):
        sol = history_optimal(run.history[:t], objective, n_states=env.n_states,
                              n_actions=env.n_actions, gamma=env.mdp.gamma,
                              horizon=env.horizon)
        opt = sol.optimal[:, 0] if sol.optimal.ndim == 4 else sol.optimal
        np.testing.assert_array_equal(run.shadow_optimal[:, r], opt)


def test_full_optimizer_acts_within_argmax_of_its_own_history():
    """The seed's dichotomy, checked: each action of the full optimiser is optimal for
    L_t on the history before it."""
    env = riverswim(n=4)
    run = simulate(env, FullOptimizer("ce"), 80, seeds=3, shadow=None)
    h = run.history
    for t in range(0, 80, 7):
        sol = history_optimal(h[:t], "ce", n_states=4, n_actions=2, gamma=env.mdp.gamma)
        for n in range(3):
            assert sol.optimal[n, h.states[n, t], h.actions[n, t]]


def test_full_optimizer_ties_and_epsilon():
    env = bernoulli_bandit([0.5, 0.5, 0.5])
    fo = FullOptimizer("ce", tie="first").bind(env)
    st = fo.init(2, 1, 3)
    np.testing.assert_allclose(fo.policy(st), [[[1.0, 0.0, 0.0]]] * 2)
    uni = FullOptimizer("ce", tie="uniform", epsilon=0.3).bind(env)
    np.testing.assert_allclose(uni.policy(uni.init(1, 1, 3)), [[[1 / 3] * 3]])
    eps = FullOptimizer("ce", tie="first", epsilon=0.3).bind(env)
    np.testing.assert_allclose(eps.policy(eps.init(1, 1, 3)), [[[0.8, 0.1, 0.1]]])
    with pytest.raises(ValueError, match="epsilon"):
        FullOptimizer(epsilon=1.5)
    with pytest.raises(ValueError, match="tie"):
        FullOptimizer(tie="random")
    with pytest.raises(ValueError, match="objective"):
        FullOptimizer("mle")
    with pytest.raises(ValueError, match="gamma"):
        FullOptimizer().init(1, 1, 2)


def test_episodes_restart():
    run = simulate(bernoulli_bandit([0.1, 0.9]), Reinforce(), 50, seeds=2, shadow=None)
    assert run.history.dones.all()
    run = simulate(riverswim(n=4, horizon=5), Reinforce(), 50, seeds=2, shadow=None)
    assert run.history.dones[:, 4::5].all() and run.history.dones.sum() == 2 * 10
    assert (run.history.states[:, 5::5] == 0).all()  # μ0 = δ₀ after every restart
    P = np.zeros((3, 1, 3))
    P[0, 0, 1] = P[1, 0, 2] = P[2, 0, 2] = 1.0  # 0 -> 1 -> 2 (absorbing)
    env = Env(TabularMDP(P, np.zeros((3, 1)), gamma=0.9, mu0=[1.0, 0.0, 0.0]))
    run = simulate(env, Reinforce(), 6, seeds=1, shadow=None)
    assert run.history.states[0].tolist() == [0, 1, 0, 1, 0, 1]
    assert run.history.dones[0].tolist() == [False, True] * 3


def test_gaussian_rewards_have_the_stated_mean():
    env = gaussian_bandit([1.0, -1.0], sigma=2.0)
    run = simulate(env, Reinforce(lr=0.0), 400, seeds=50, shadow=None, record_every=400)
    r, a = run.history.rewards, run.history.actions
    for arm, mean in ((0, 1.0), (1, -1.0)):
        x = r[a == arm]
        assert abs(x.mean() - mean) < 5 * 2.0 / np.sqrt(x.size)  # 5 standard errors


def test_simulate_errors():
    env = bernoulli_bandit([0.5])
    with pytest.raises(TypeError, match="Env"):
        simulate(env.mdp, Reinforce(), 3)
    with pytest.raises(ValueError, match="steps"):
        simulate(env, Reinforce(), -1)
    with pytest.raises(ValueError, match="record_every"):
        simulate(env, Reinforce(), 3, record_every=0)
    with pytest.raises(ValueError, match="seeds"):
        simulate(env, Reinforce(), 3, seeds=[-1])
    with pytest.raises(ValueError, match="bernoulli"):
        Env(TabularMDP(np.ones((1, 1, 1)), [[2.0]], gamma=0.5), noise="bernoulli")


def test_sparse_env_samples_like_the_dense_one():
    import scipy.sparse as sp

    dense = riverswim(n=6)
    m = dense.mdp
    sparse = Env(TabularMDP(sp.csr_array(m.P.reshape(-1, 6)), m.R, gamma=m.gamma, mu0=m.mu0))
    rng = np.random.default_rng(0)
    s, a, u = rng.integers(0, 6, 5000), rng.integers(0, 2, 5000), rng.random(5000)
    np.testing.assert_array_equal(sparse.next_state(s, a, u), dense.next_state(s, a, u))
    np.testing.assert_array_equal(sparse.absorbing, dense.absorbing)
    a_run = simulate(sparse, Reinforce(lr=0.2), 200, seeds=2, shadow=None)
    b_run = simulate(dense, Reinforce(lr=0.2), 200, seeds=2, shadow=None)
    np.testing.assert_array_equal(a_run.history.states, b_run.history.states)
