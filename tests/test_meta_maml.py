"""The memoryless learner, its exact MAML meta-objective and gradient, the score-function
estimator, MAML / Meta-SGD training, and the claim J ≤ V* (issue 6)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesabase.sims.meta.maml import (
    MAX_SEQUENCES,
    enumerate_outcomes,
    maml_gradient,
    maml_objective,
    memoryless_gap,
    meta_train,
    score_gradient,
)
from mesabase.sims.meta.memoryless import MemorylessReinforce
from mesabase.sims.meta.rollouts import Agent, rollout
from mesabase.sims.meta.tasks import BetaTasks, DependentTasks

SIG1 = 1.0 / (1.0 + math.exp(-1.0))      # σ(1) = softmax((0.5, −0.5))₀
FAMILIES = [BetaTasks(2), DependentTasks(), BetaTasks(3, prior=[[1, 2], [2, 1], [1.5, 1]])]


def _task(i):
    return FAMILIES[i]


# ---------------------------------------------------------------- the learner (an Agent)

def test_update_by_hand():
    agent = MemorylessReinforce([0.0, 0.0], eta=1.0)
    s = agent.init(3, 2, 4, np.random.default_rng(0))
    s = agent.update(s, None, 0, np.array([0, 1, 0]), np.array([1.0, 1.0, 0.0]))
    # r = 1: θ += (e_a − (½, ½)); r = 0 and b = 0: θ unchanged
    assert s.theta.tolist() == [[0.5, -0.5], [-0.5, 0.5], [0.0, 0.0]]
    per_arm = MemorylessReinforce([0.0, 0.0], eta=[2.0, 0.5], baseline=0.5)
    s = per_arm.init(2, 2, 4, np.random.default_rng(0))
    s = per_arm.update(s, None, 0, np.array([0, 0]), np.array([1.0, 0.0]))
    # η ⊙ (r − b)(e_0 − π) = (2, 0.5) ⊙ (±0.5)(0.5, −0.5)
    assert s.theta.tolist() == [[0.5, -0.125], [-0.5, 0.125]]


def test_update_vectorised_equals_rows():
    rng = np.random.default_rng(3)
    agent = MemorylessReinforce(rng.normal(size=3), eta=rng.uniform(0, 2, 3), baseline=0.2)
    theta = rng.normal(size=(5, 3))
    arms, rewards = rng.integers(0, 3, 5), rng.integers(0, 2, 5).astype(float)
    batch = agent.update(agent.init(5, 3, 2, rng)._replace(theta=theta), None, 0, arms,
                         rewards).theta
    for i in range(5):
        one = agent.update(agent.init(1, 3, 2, rng)._replace(theta=theta[i:i + 1]), None, 0,
                           arms[i:i + 1], rewards[i:i + 1]).theta
        np.testing.assert_array_equal(batch[i], one[0])


def test_agent_acts_by_softmax():
    agent = MemorylessReinforce([math.log(3.0), 0.0], eta=0.0)   # π = (3/4, 1/4)
    assert isinstance(agent, Agent)
    n = 40_000
    arms = agent.act(agent.init(n, 2, 1, None), None, 0, np.random.default_rng(1))
    # binomial mean 3/4, sd √(3/16/n); 5 sd
    assert abs((arms == 0).mean() - 0.75) <= 5 * math.sqrt(3 / 16 / n)


@pytest.mark.parametrize("i", [0, 1])
def test_rollout_matches_exact_objective(i):
    """Monte Carlo through rollout() agrees with maml_objective within 5 standard errors."""
    tasks, H, n = _task(i), 4, 60_000
    agent = MemorylessReinforce([0.4, -0.3], eta=[2.0, 1.0], baseline=0.3)
    p = tasks.sample(n, np.random.default_rng(5))
    R = rollout(agent, p, H, seed=6).rewards.sum(axis=1)
    J = maml_objective(agent.theta0, agent.eta, tasks, H, baseline=0.3)
    assert abs(R.mean() - J) <= 5 * R.std() / math.sqrt(n)


@pytest.mark.parametrize("kwargs, match", [
    (dict(theta0=[[0.0, 1.0]]), "theta0 must have shape"),
    (dict(theta0=[0.0, np.nan]), "theta0 must be finite"),
    (dict(theta0=[0.0, 1.0], eta=[1.0, 1.0, 1.0]), "eta must be a scalar or have shape"),
    (dict(theta0=[0.0, 1.0], eta=[1.0, np.inf]), "eta must be finite"),
    (dict(theta0=[0.0, 1.0], baseline=True), "baseline must be a finite real"),
    (dict(theta0=[0.0, 1.0], baseline=np.nan), "baseline must be a finite real"),
])
def test_learner_errors(kwargs, match):
    with pytest.raises(ValueError, match=match):
        MemorylessReinforce(**kwargs)


def test_learner_init_checks_arms():
    with pytest.raises(ValueError, match="n_arms must equal the learner's K = 2"):
        MemorylessReinforce([0.0, 0.0]).init(1, 3, 2, np.random.default_rng(0))


# ---------------------------------------------------------------- the exact objective

def test_objective_by_hand():
    """θ_0 = 0, η = 1, b = 0, H = 2. After a success θ = ±(½, −½), so the learner stays with
    probability σ(1); after a failure it is still uniform. Independent Beta(1,1): staying
    after a success pays 2/3, switching 1/2; after a failure staying pays 1/3:
        J = ½ + ½ (⅔σ(1) + ½(1 − σ(1))) + ½ (½·⅓ + ½·½) = 23/24 + σ(1)/12.
    Dependent: after a success of arm 1, μ = (2/3, 1/3); after a failure, (1/3, 2/3):
        J = ½ + ½ (⅔σ(1) + ⅓(1 − σ(1))) + ½·½ = 11/12 + σ(1)/6."""
    assert maml_objective([0, 0], 1.0, BetaTasks(2), 1) == 0.5
    assert maml_objective([0, 0], 1.0, BetaTasks(2), 2) == pytest.approx(23 / 24 + SIG1 / 12,
                                                                         abs=1e-15)
    assert maml_objective([0, 0], 1.0, DependentTasks(), 2) == pytest.approx(
        11 / 12 + SIG1 / 6, abs=1e-15)
    # H = 1 with a prior of means (2/3, 1/2) and π = (3/4, 1/4): ¾·⅔ + ¼·½ = 5/8
    tasks = BetaTasks(2, prior=[[2, 1], [1, 1]])
    assert maml_objective([math.log(3.0), 0.0], 1.0, tasks, 1) == pytest.approx(0.625,
                                                                              abs=1e-15)


@pytest.mark.parametrize("i", [0, 1, 2])
@pytest.mark.parametrize("H", [1, 2, 3])
def test_enumeration_agrees_with_layers(i, H):
    """Leaves with the Beta-function ratio (an independent oracle) vs the layered recursion
    with Pólya-urn predictives: probabilities sum to 1, Σ P(τ) R(τ) = J, to 1e-12."""
    tasks = _task(i)
    rng = np.random.default_rng(H)
    th, eta = rng.normal(size=tasks.n_arms), rng.uniform(-1, 3, tasks.n_arms)
    out = enumerate_outcomes(th, eta, tasks, H, baseline=0.25)
    assert out.arms.shape == (len(out.prob), H) == ((2 * tasks.n_arms) ** H, H)
    assert abs(out.prob.sum() - 1.0) <= 1e-12
    J = maml_objective(th, eta, tasks, H, baseline=0.25)
    assert abs((out.prob * out.rewards.sum(axis=1)).sum() - J) <= 1e-12


def test_prior_probability_by_hand():
    """Row 1 is (a, r) = (0, 1), (0, 0): B(2, 2)/B(1, 1) = 1/6 under Beta(1,1) (= ½·⅓);
    dependent: (1 + s₁ + f₂, 1 + f₁ + s₂) = (2, 2) as well; π = ½ · ½ at θ_0 = 0, η = 0."""
    for tasks in (BetaTasks(2), DependentTasks()):
        out = enumerate_outcomes([0, 0], 0.0, tasks, 2)
        assert out.arms[1].tolist() == [0, 0] and out.rewards[1].tolist() == [1, 0]
        assert out.prior_prob[1] == pytest.approx(1 / 6, abs=1e-15)
        assert out.policy_prob[1] == pytest.approx(1 / 4, abs=1e-15)
    # dependent: row 3 = (0, 1) then (1, 0) is evidence (2, 0) for p₁: B(3, 1)/B(1, 1) = 1/3
    out = enumerate_outcomes([0, 0], 0.0, DependentTasks(), 2)
    assert out.arms[3].tolist() == [0, 1] and out.rewards[3].tolist() == [1, 0]
    assert out.prior_prob[3] == pytest.approx(1 / 3, abs=1e-15)


def test_enumeration_refuses_above_limit():
    assert 4 ** 10 <= MAX_SEQUENCES < 4 ** 11
    for f in (maml_objective, maml_gradient, enumerate_outcomes):
        with pytest.raises(ValueError, match="MAX_SEQUENCES"):
            f([0, 0], 1.0, BetaTasks(2), 11)


@pytest.mark.parametrize("args, match", [
    (([0, 0, 0], 1.0, BetaTasks(2), 2), "theta0 must have length n_arms = 2"),
    (([0, 0], 1.0, BetaTasks(2), 0), "horizon must be an int >= 1"),
    (([0, 0], 1.0, "beta", 2), "tasks must be a BetaTasks or DependentTasks"),
])
def test_objective_errors(args, match):
    with pytest.raises(ValueError, match=match):
        maml_objective(*args)


# ---------------------------------------------------------------- the exact gradient

def _fd(th, eta, tasks, H, b, h=1e-5):
    x = np.concatenate([th, eta])
    K = len(th)
    out = np.empty(2 * K)
    for j in range(2 * K):
        xp, xm = x.copy(), x.copy()
        xp[j] += h
        xm[j] -= h
        out[j] = (maml_objective(xp[:K], xp[K:], tasks, H, baseline=b)
                  - maml_objective(xm[:K], xm[K:], tasks, H, baseline=b)) / (2 * h)
    return out


@given(i=st.integers(0, 2), H=st.integers(1, 3),
       th=st.lists(st.floats(-2, 2), min_size=3, max_size=3),
       eta=st.lists(st.floats(-3, 3), min_size=3, max_size=3), b=st.floats(-1, 1))
def test_gradient_matches_finite_differences(i, H, th, eta, b):
    """Forward mode vs central differences (h = 1e-5: truncation O(h²) ≈ 1e-10, rounding
    ≈ 1e-11): |g − fd| ≤ 1e-6 · max(1, |fd|)."""
    tasks = _task(i)
    K = tasks.n_arms
    th, eta = np.array(th[:K]), np.array(eta[:K])
    g = np.concatenate(maml_gradient(th, eta, tasks, H, baseline=b))
    fd = _fd(th, eta, tasks, H, b)
    assert (np.abs(g - fd) <= 1e-6 * np.maximum(1.0, np.abs(fd))).all(), (g, fd)


def test_gradient_invariances():
    """Σₖ ∂J/∂θ_0,ₖ = 0 (softmax shift); K = 2: ∂J/∂η₁ = ∂J/∂η₂; a scalar η's derivative
    is Σₖ ∂J/∂ηₖ (central difference, 1e-6 relative)."""
    for tasks in FAMILIES:
        rng = np.random.default_rng(tasks.n_arms)
        th, eta = rng.normal(size=tasks.n_arms), rng.uniform(0.5, 2, tasks.n_arms)
        g_th, g_eta = maml_gradient(th, eta, tasks, 4)
        assert abs(g_th.sum()) <= 1e-12
        if tasks.n_arms == 2:
            assert abs(g_eta[0] - g_eta[1]) <= 1e-12
    th, h = np.array([0.3, -0.1]), 1e-5
    d = (maml_objective(th, 1.5 + h, BetaTasks(2), 4)
         - maml_objective(th, 1.5 - h, BetaTasks(2), 4)) / (2 * h)
    assert maml_gradient(th, 1.5, BetaTasks(2), 4)[1].sum() == pytest.approx(d, rel=1e-6)


# ---------------------------------------------------------------- the estimator

@pytest.mark.parametrize("i", [0, 1, 2])
def test_score_gradient_unbiased(i):
    """Mean of 200 000 samples of ĝ within 4 standard errors of the exact gradient, every
    component (fixed seed)."""
    tasks = _task(i)
    K, H = tasks.n_arms, 3
    th, eta = np.array([0.3, -0.2, 0.1])[:K], np.array([1.5, 0.7, 1.0])[:K]
    exact = np.concatenate(maml_gradient(th, eta, tasks, H, baseline=0.2))
    est = score_gradient(th, eta, tasks, H, 200_000, np.random.default_rng(11), baseline=0.2)
    assert est.stderr.shape == (2, K) and (est.stderr > 0).all()
    mean = np.concatenate([est.g_theta0, est.g_eta])
    assert (np.abs(mean - exact) <= 4 * est.stderr.ravel()).all(), (mean, exact)


def test_score_gradient_seeded_and_errors():
    a = score_gradient([0, 0], 1.0, BetaTasks(2), 3, 100, 7)
    b = score_gradient([0, 0], 1.0, BetaTasks(2), 3, 100, np.random.default_rng(7))
    c = score_gradient([0, 0], 1.0, BetaTasks(2), 3, 100, np.random.SeedSequence(7))
    for x, y, z in zip(a, b, c, strict=True):
        np.testing.assert_array_equal(x, y)
        np.testing.assert_array_equal(x, z)
    with pytest.raises(ValueError, match="n_samples must be an int >= 2"):
        score_gradient([0, 0], 1.0, BetaTasks(2), 3, 1, 0)
    with pytest.raises(ValueError, match="rng must be a numpy Generator"):
        score_gradient([0, 0], 1.0, BetaTasks(2), 3, 10, -1)


# ---------------------------------------------------------------- meta-training

def test_meta_sgd_improves_and_keeps_symmetry():
    """Meta-SGD from the default (θ_0 = 0, η = 1) on Beta(1,1), K = 2, H = 4: J rises by
    more than 0.05 (from 2.0357…); the Beta(1,1) prior is symmetric in the arms, so θ_0 and
    η end with equal entries. Tolerance 1e-3 for θ_0: Adam normalises each coordinate, so a
    rounding-level (1e-17) asymmetry of the gradient becomes a step of up to ~lr, which the
    restoring curvature of J in θ_0,1 − θ_0,2 then damps (1e-5 after 150 steps here); η's
    entries get identical gradients and stay equal to 1e-12 relative."""
    tasks = BetaTasks(2)
    res = meta_train(tasks, 4, meta_sgd=True, steps=150, lr=0.05)
    assert res.curve.shape == (151,)
    assert res.curve[0] == maml_objective([0, 0], 1.0, tasks, 4)
    assert res.curve[-1] == maml_objective(res.theta0, res.eta, tasks, 4)
    assert res.curve[-1] > res.curve[0] + 0.05
    assert abs(res.theta0[0] - res.theta0[1]) <= 1e-3
    assert abs(res.eta[0] - res.eta[1]) <= 1e-12 * res.eta[0] and (res.eta > 1).all()


@pytest.mark.parametrize("i", [0, 1])
def test_maml_restores_symmetry(i):
    """MAML (η = 1 fixed) from the asymmetric θ_0 = (1, −1) on a symmetric prior: J rises
    and θ_0 ends with equal entries (|θ_0,1 − θ_0,2| ≤ 1e-3 after 300 steps)."""
    res = meta_train(_task(i), 4, steps=300, lr=0.05, theta0=[1.0, -1.0])
    assert res.curve[-1] > res.curve[0]
    assert abs(res.theta0[0] - res.theta0[1]) <= 1e-3
    assert res.eta.tolist() == [1.0, 1.0]


def test_maml_learns_a_prior_preference():
    """Arm 1 ∼ Beta(2, 1) (mean 2/3), arm 2 ∼ Beta(1, 1): MAML (η = 1) learns θ_0,1 > θ_0,2
    and improves J by more than 0.1 (the memoryless optimum there is to commit to arm 1:
    J → 2H/3 as θ_0,1 − θ_0,2 → ∞)."""
    tasks = BetaTasks(2, prior=[[2, 1], [1, 1]])
    maml = meta_train(tasks, 4, steps=150, lr=0.05)
    assert maml.theta0[0] > maml.theta0[1] + 1.0
    assert maml.curve[-1] > maml.curve[0] + 0.1
    assert maml.curve[-1] < 8 / 3


@pytest.mark.parametrize("tasks", [BetaTasks(2, prior=[[1.2, 1], [1, 1]]), BetaTasks(2),
                                   DependentTasks(), BetaTasks(3)], ids=lambda t: t.name)
def test_meta_sgd_beats_maml(tasks):
    """Meta-SGD ⊇ MAML (η is learned too): with the same 150 Adam steps (lr 0.05) from the
    same start, its final exact J is higher, by more than 0.01, on priors where the best
    θ_0 is interior (an arm's slight preference, or symmetry)."""
    maml = meta_train(tasks, 3, steps=150, lr=0.05)
    msgd = meta_train(tasks, 3, meta_sgd=True, steps=150, lr=0.05)
    assert msgd.curve[-1] > maml.curve[-1] + 0.01


def test_meta_train_with_the_estimator():
    """exact=False: Adam on score-function estimates (1024 episodes per step, fixed seed)
    still raises the exact J of the final iterate above the start."""
    tasks = BetaTasks(2, prior=[[2, 1], [1, 1]])
    res = meta_train(tasks, 3, steps=60, lr=0.1, exact=False, n_samples=1024, seed=3)
    assert maml_objective(res.theta0, res.eta, tasks, 3) \
        > maml_objective([0, 0], 1.0, tasks, 3) + 0.05
    again = meta_train(tasks, 3, steps=60, lr=0.1, exact=False, n_samples=1024, seed=3)
    np.testing.assert_array_equal(res.curve, again.curve)


@pytest.mark.parametrize("kwargs, match", [
    (dict(meta_sgd=True, eta=0.0), "meta_sgd needs eta > 0"),
    (dict(exact=True, horizon=11), "MAX_SEQUENCES"),
    (dict(steps=-1), "steps must be an int >= 0"),
    (dict(lr=0.0), "lr must be a finite real > 0"),
    (dict(n_samples=1), "n_samples must be an int >= 2"),
])
def test_meta_train_errors(kwargs, match):
    H = kwargs.pop("horizon", 2)
    with pytest.raises(ValueError, match=match):
        meta_train(BetaTasks(2), H, **kwargs)


# ---------------------------------------------------------------- the claim: J ≤ V*

@given(i=st.integers(0, 2), H=st.integers(1, 4),
       th=st.lists(st.floats(-4, 4), min_size=3, max_size=3),
       eta=st.lists(st.floats(-10, 10), min_size=3, max_size=3), b=st.floats(-1, 1))
def test_memoryless_cannot_beat_bayes(i, H, th, eta, b):
    """Issue 6's claim: the memoryless learner (any θ_0, η, b) is one history-dependent
    policy, so J ≤ V* = BayesBandit.value (+1e-12 for rounding)."""
    tasks = _task(i)
    H = min(H, 3) if tasks.n_arms == 3 else H
    K = tasks.n_arms
    J = maml_objective(th[:K], eta[:K], tasks, H, baseline=b)
    assert J <= float(tasks.bayes(H).value) + 1e-12


def test_memoryless_gap():
    """gap = V* − J; zero at H = 1 under Beta(1,1) (every policy earns ½); positive at H = 2
    (V* = 13/12 vs 23/24 + σ(1)/12)."""
    assert abs(memoryless_gap([0.7, -0.2], 2.0, BetaTasks(2), 1)) <= 1e-15
    assert memoryless_gap([0, 0], 1.0, BetaTasks(2), 2) == pytest.approx(
        13 / 12 - 23 / 24 - SIG1 / 12, abs=1e-15)
