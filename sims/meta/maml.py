"""MAML and Meta-SGD for the memoryless learner, with the meta-objective computed exactly.

The learner (:class:`~mesabase.sims.meta.memoryless.MemorylessReinforce`) acts by
a_t ∼ π_t = softmax(θ_t) and steps θ_{t+1} = θ_t + η ⊙ (r_t − b)(e_{a_t} − π_t) from θ_0.
Its meta-objective is the Bayes-expected total reward of an H-pull episode,

    J(θ_0, η) = E_{p∼tasks} E[Σ_{t<H} r_t]
              = Σ_τ  Π_t π_t(a_t)  ·  P_prior(r_{0:H} | a_{0:H})  ·  Σ_t r_t,

the sum over all (2K)ᴴ outcome sequences τ = (a_t, r_t)_{t<H}. The policy factor depends on
ψ = (θ_0, η); the prior factor does not: it is the prior-marginal probability of the ordered
rewards, Πₖ B(αₖ + sₖ, βₖ + fₖ)/B(αₖ, βₖ) for independent Beta arms and
B(α + s₁ + f₂, β + f₁ + s₂)/B(α, β) for the dependent pair
(:func:`~mesabase.sims.meta.belief.log_marginal`); it factorises along the sequence into
posterior predictives μ (the Pólya urn), which is how :func:`maml_objective` computes it,
layer by layer over prefixes (each prefix's inner updates done once, the expected reward of
step t summed in closed form, so (2K)^{H−1} rows are held). :func:`enumerate_outcomes`
enumerates the leaves directly with the Beta-function ratio (an independent oracle).

Exact gradient (forward mode). With T_t = [∂θ_t/∂θ_0 | ∂θ_t/∂η] (K × 2K), T_0 = [I | 0],
Jπ = diag π − ππᵀ and the score row σ_t(k) = (e_k − π_t)ᵀ T_t = ∂ log π_t(k)/∂ψ,

    T_{t+1} = T_t + (r_t − b) ( diag(e_{a_t} − π_t) [0 | I] − diag(η) Jπ T_t ),
    ∇_ψ J   = Σ_τ P(τ) R(τ) Σ_t σ_t(a_t),       R(τ) = Σ_t r_t

(the likelihood-ratio identity, exact over the enumeration: the prior factor has no ψ).
:func:`score_gradient` samples τ instead (p ∼ tasks, then the episode) and averages
ĝ = R(τ) Σ_t σ_t(a_t), unbiased for ∇_ψ J.

Meta-training (:func:`meta_train`) ascends J with Adam (Kingma & Ba 2015) on θ_0 (MAML:
η fixed; Finn et al. 2017) or on (θ_0, ρ) with η = exp ρ per arm (Meta-SGD, Li et al. 2017;
the log-parameterisation keeps η > 0 and ∂J/∂ρ = η ⊙ ∂J/∂η).

Invariances (checked in the tests): J is unchanged by θ_0 → θ_0 + c·1 (softmax), so
Σₖ ∂J/∂θ_0,ₖ = 0; for K = 2, e_a − π = ±π_{other}(1, −1), so θ_t enters only through
θ_t,1 − θ_t,2 and η only through η_1 + η_2: ∂J/∂η_1 = ∂J/∂η_2 (per-arm step sizes add
nothing over a scalar one there; they do for K ≥ 3).

The learner is one history-dependent randomised policy of the Bayes-adaptive bandit, so
J ≤ V* (the Bayes-optimal value, :func:`bayes_value`): :func:`memoryless_gap` = V* − J ≥ 0,
the issue's claim. The best J of the MAML / Meta-SGD class itself, and so the class gap of a
trained learner, is :func:`~.class_best.memoryless_class_best` (multi-start L-BFGS-B on
:func:`maml_value_gradient`, plus the closed-form limits at infinity).

References: C. Finn, P. Abbeel, S. Levine, "Model-agnostic meta-learning", ICML 2017;
Z. Li et al., "Meta-SGD", arXiv:1707.09835 (2017); R. J. Williams, Machine Learning 8 (1992);
D. P. Kingma, J. Ba, "Adam", ICLR 2015.
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import NamedTuple

import numpy as np

from ..agents.policies import softmax
from .belief import log_marginal, predictive, task_prior
from .memoryless import check_baseline, check_theta_eta
from .rollouts import check_int, sample_arms

__all__ = [
    "MAX_SEQUENCES", "GRAD_TOL", "Outcomes", "GradientEstimate", "MetaResult", "enumerate_outcomes",
    "maml_objective", "maml_gradient", "score_gradient", "meta_train", "memoryless_gap",
    "bayes_value", "maml_value_gradient",
]

#: Largest (2K)ᴴ the exact enumeration accepts (K = 2: H ≤ 10; K = 3: H ≤ 8).
MAX_SEQUENCES = 2_000_000
#: meta_train stops when the exact ‖∇J‖∞ is at most this: J is a sum of (2K)ᴴ terms of
#: size ≤ H computed in float64, so gradients below ~1e-12·H are rounding, and 1e-8 is far
#: above that and far below any gradient that moves J measurably in a few hundred steps.
GRAD_TOL = 1e-8


class Outcomes(NamedTuple):
    """Every outcome sequence of an H-pull episode (M = (2K)ᴴ rows, lexicographic in
    (a_0, r_0, a_1, …) with r = 1 before r = 0).

    Attributes:
      arms: (M, H) int64; rewards: (M, H) int8;
      policy_prob: (M,) Π_t π_t(a_t); prior_prob: (M,) the Beta-function ratio;
      prob: (M,) their product (sums to 1).
    """

    arms: np.ndarray
    rewards: np.ndarray
    policy_prob: np.ndarray
    prior_prob: np.ndarray
    prob: np.ndarray


class GradientEstimate(NamedTuple):
    """Score-function estimate of ∇J: means over samples and their standard errors.

    Attributes:
      g_theta0: (K,); g_eta: (K,); stderr: (2, K), rows (θ_0, η), std (ddof 1) / √n.
    """

    g_theta0: np.ndarray
    g_eta: np.ndarray
    stderr: np.ndarray


class MetaResult(NamedTuple):
    """theta0 (K,), eta (K,) after meta-training; curve (n + 1,): J at every iterate
    (exact, or the Monte-Carlo mean of R over that step's samples when not exact), n the
    Adam steps taken. ``converged``: the stopping criterion held (else the step budget ran
    out); ``criterion``: which one, in words; ``grad``: ‖∇J‖∞ of the meta-parameters at the
    last iterate (exact, or the sampled estimate); ``bayes_gap``: V* − J at the last iterate
    (exact; NaN when J is not computable exactly)."""

    theta0: np.ndarray
    eta: np.ndarray
    curve: np.ndarray
    converged: bool = False
    criterion: str = ""
    grad: float = float("nan")
    bayes_gap: float = float("nan")


def _setup(theta0, eta, tasks, horizon, baseline):
    task_prior(tasks)
    th, et = check_theta_eta(theta0, eta)
    if th.shape[0] != tasks.n_arms:
        raise ValueError(f"theta0 must have length n_arms = {tasks.n_arms} of tasks; got "
                         f"length {th.shape[0]}")
    return th, et, check_int(horizon, "horizon", 1), check_baseline(baseline)


def _check_size(K: int, H: int) -> None:
    if (2 * K) ** H > MAX_SEQUENCES:
        raise ValueError(f"exact enumeration needs (2K)^H = {2 * K}^{H} = {(2 * K) ** H} "
                         f"outcome sequences, above MAX_SEQUENCES = {MAX_SEQUENCES}; use "
                         f"score_gradient or a smaller horizon")


def _inner_step(theta, T, score, pi, k_onehot, adv, eta):
    """θ and T after pulling arms with one-hots ``k_onehot`` (..., K) and advantages adv."""
    g = k_onehot - pi
    theta = theta + eta * adv[..., None] * g
    if T is not None:
        K = theta.shape[-1]
        T = T - (adv[..., None] * eta * pi)[..., None] * score   # − diag(η) Jπ T, a new array
        k = np.arange(K)
        T[..., k, K + k] += adv[..., None] * g                    # diag(e_a − π) [0 | I]
    return theta, T


def enumerate_outcomes(theta0, eta, tasks, horizon: int, *, baseline=0.0) -> Outcomes:
    """All (2K)ᴴ outcome sequences with their probabilities (vectorised over sequences):
    the learner's Π_t π_t(a_t) by running the inner updates along each sequence, the prior
    factor by the Beta-function ratio. ValueError when (2K)ᴴ > MAX_SEQUENCES."""
    th, et, H, b = _setup(theta0, eta, tasks, horizon, baseline)
    K = th.shape[0]
    _check_size(K, H)
    M = (2 * K) ** H
    digits = (np.arange(M)[:, None] // (2 * K) ** np.arange(H - 1, -1, -1)) % (2 * K)
    arms, rewards = digits // 2, (1 - digits % 2).astype(np.int8)
    theta = np.tile(th, (M, 1))
    logp = np.zeros(M)
    eye = np.eye(K)
    for t in range(H):
        pi = softmax(theta)
        logp += np.log(pi[np.arange(M), arms[:, t]])
        theta, _ = _inner_step(theta, None, None, pi, eye[arms[:, t]],
                               rewards[:, t] - b, et)
    counts = np.zeros((M, K, 2), dtype=np.int64)
    for t in range(H):
        np.add.at(counts, (np.arange(M), arms[:, t], 1 - rewards[:, t]), 1)
    policy_prob, prior_prob = np.exp(logp), np.exp(log_marginal(tasks, counts))
    return Outcomes(arms.astype(np.int64), rewards, policy_prob, prior_prob,
                    policy_prob * prior_prob)


def _exact(th, et, tasks, H, b, grad: bool):
    """(J, ∇J (2K,) or None) by the layer-by-layer expansion of prefixes."""
    K = th.shape[0]
    _check_size(K, H)
    eye = np.eye(K)
    theta = th[None].copy()
    counts = np.zeros((1, K, 2), dtype=np.int64)
    w = np.ones(1)
    T = np.concatenate([eye, np.zeros((K, K))], axis=1)[None] if grad else None
    S = np.zeros((1, 2 * K))
    J, G = 0.0, np.zeros(2 * K)
    rew = np.array([1.0, 0.0])                                  # child r: success, failure
    for t in range(H):
        pi = softmax(theta)
        mu = predictive(tasks, counts)
        gain = w[:, None] * pi * mu                             # P(prefix, a_t = k, r_t = 1)
        J += float(gain.sum())
        if grad:
            score = T - np.einsum("mk,mkj->mj", pi, T)[:, None, :]      # σ_t(k), (M, K, 2K)
            G += np.einsum("mk,mj->j", gain, S) + np.einsum("mk,mkj->j", gain, score)
        if t + 1 == H:
            break
        M = len(w)
        w = (w[:, None, None] * pi[:, :, None]
             * np.stack([mu, 1.0 - mu], axis=-1)).reshape(-1)          # children (m, k, r)
        onehot = np.broadcast_to(eye[None, :, None, :], (M, K, 2, K))
        adv = np.broadcast_to(rew - b, (M, K, 2))
        Tm = None if T is None else T[:, None, None]
        sm = None if T is None else score[:, None, None]
        theta, T = _inner_step(theta[:, None, None], Tm, sm, pi[:, None, None], onehot,
                               adv, et)
        theta = theta.reshape(-1, K)
        if grad:
            T = T.reshape(-1, K, 2 * K)
            S = np.repeat(S[:, None] + score, 2, axis=1).reshape(-1, 2 * K)
        child = counts[:, None, None] + np.eye(2 * K, dtype=np.int64).reshape(1, K, 2, K, 2)
        counts = child.reshape(-1, K, 2)
    return J, (G if grad else None)


def maml_objective(theta0, eta, tasks, horizon: int, *, baseline=0.0) -> float:
    """J(θ_0, η) exactly (see the module docstring); ``eta`` (K,) or a scalar;
    ValueError when (2K)ᴴ > MAX_SEQUENCES.

    Example (H = 2, θ_0 = 0, η = 1, Beta(1,1): J = 23/24 + σ(1)/12, against V* = 13/12):
      >>> from mesabase.sims.meta.tasks import BetaTasks
      >>> round(maml_objective([0.0, 0.0], 1.0, BetaTasks(2), 2), 6)
      1.019255
    """
    th, et, H, b = _setup(theta0, eta, tasks, horizon, baseline)
    return _exact(th, et, tasks, H, b, grad=False)[0]


def maml_gradient(theta0, eta, tasks, horizon: int, *,
                  baseline=0.0) -> tuple[np.ndarray, np.ndarray]:
    """(∂J/∂θ_0 (K,), ∂J/∂η (K,)) exactly, by forward-mode differentiation through the inner
    updates. η is per-arm: for a scalar η the derivative is ``g_eta.sum()``."""
    th, et, H, b = _setup(theta0, eta, tasks, horizon, baseline)
    g = _exact(th, et, tasks, H, b, grad=True)[1]
    K = th.shape[0]
    return g[:K], g[K:]


def maml_value_gradient(theta0, eta, tasks, horizon: int, *,
                        baseline=0.0) -> tuple[float, np.ndarray, np.ndarray]:
    """(J, ∂J/∂θ_0 (K,), ∂J/∂η (K,)) from one enumeration: :func:`maml_objective` and
    :func:`maml_gradient` together, at the cost of the gradient alone."""
    th, et, H, b = _setup(theta0, eta, tasks, horizon, baseline)
    J, g = _exact(th, et, tasks, H, b, grad=True)
    K = th.shape[0]
    return J, g[:K], g[K:]


def _samples(th, et, tasks, H, b, n, rng):
    """Per-sample (R (n,), R · Σ_t σ_t(a_t) (n, 2K)) of n episodes, tasks p ∼ ``tasks``."""
    K = th.shape[0]
    p = tasks.sample(n, rng)
    rows = np.arange(n)
    eye = np.eye(K)
    theta = np.tile(th, (n, 1))
    T = np.tile(np.concatenate([eye, np.zeros((K, K))], axis=1), (n, 1, 1))
    S = np.zeros((n, 2 * K))
    R = np.zeros(n)
    for _ in range(H):
        pi = softmax(theta)
        a = sample_arms(pi, rng)
        r = (rng.random(n) < p[rows, a]).astype(np.float64)
        score = T - np.einsum("nk,nkj->nj", pi, T)[:, None, :]
        S += score[rows, a]
        R += r
        theta, T = _inner_step(theta, T, score, pi, eye[a], r - b, et)
    return R, R[:, None] * S


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, np.random.SeedSequence):
        return np.random.Generator(np.random.PCG64(rng))
    if isinstance(rng, Integral) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a numpy Generator, a SeedSequence or a non-negative int "
                     f"seed; got {rng!r}")


def score_gradient(theta0, eta, tasks, horizon: int, n_samples: int, rng, *,
                   baseline=0.0) -> GradientEstimate:
    """Unbiased score-function estimate of ∇J: the mean of ĝ = R(τ) Σ_t σ_t(a_t) over
    ``n_samples`` ≥ 2 episodes, each on its own task p ∼ ``tasks`` (``rng``: a Generator, a
    SeedSequence or an int seed; draws the tasks, the arms by inversion and the rewards),
    with standard
    errors. σ_t is the total derivative of log π_t(a_t) through the inner updates."""
    th, et, H, b = _setup(theta0, eta, tasks, horizon, baseline)
    _, g = _samples(th, et, tasks, H, b, check_int(n_samples, "n_samples", 2), _rng(rng))
    K = th.shape[0]
    mean = g.mean(axis=0)
    se = g.std(axis=0, ddof=1) / np.sqrt(n_samples)
    return GradientEstimate(mean[:K], mean[K:], se.reshape(2, K))


def meta_train(tasks, horizon: int, *, meta_sgd: bool = False, steps: int = 200,
               lr: float = 0.05, seed=0, exact: bool | None = None, theta0=None, eta=1.0,
               baseline=0.0, n_samples: int = 4096, grad_tol: float = GRAD_TOL,
               z: float = 2.0, patience: int = 10) -> MetaResult:
    """Meta-train the memoryless learner by Adam ascent on J, until a stated criterion holds.

    MAML (``meta_sgd=False``): learn θ_0, η fixed at ``eta``. Meta-SGD: learn θ_0 and a
    per-arm η = exp ρ (``eta`` is then the initial value and must be > 0).

    Stopping (checked before every step, so a start that already satisfies it takes none):
    with the exact gradient, ‖∇J‖∞ ≤ ``grad_tol`` (first-order stationary; Adam normalises
    each coordinate, so without this rule a gradient of rounding noise, ~1e-17 at the
    symmetric optimum θ_0 = 0, becomes steps of size ~lr that *lower* J); with the sampled
    gradient, no coordinate of the estimate is further than ``z`` standard errors from 0 at
    ``patience`` consecutive iterates (the data cannot tell the gradient from zero; one
    such iterate is common far from the optimum when the estimate is noisy). Either way
    ``converged`` says whether it held within ``steps`` steps.

    Args:
      tasks: BetaTasks or DependentTasks; horizon: H ≥ 1.
      steps: at most this many Adam steps (≥ 0); lr: Adam step size (> 0), β₁ = 0.9,
        β₂ = 0.999, ε = 1e-8.
      grad_tol: > 0, the exact-gradient tolerance; z: > 0, the sampled-gradient threshold;
        patience: ≥ 1 iterates.
      seed: int ≥ 0, SeedSequence or Generator for the estimator's draws (unused when
        exact).
      exact: True: the exact gradient (ValueError if (2K)ᴴ > MAX_SEQUENCES); False: the
        score-function estimator with ``n_samples`` episodes per step; None: exact when
        (2K)ᴴ ≤ MAX_SEQUENCES.
      theta0: initial θ_0 (K,); None: zeros (the uniform policy). eta: scalar or (K,).
      baseline: the learner's b.

    Returns:
      MetaResult (theta0, eta, curve, converged, criterion, grad, bayes_gap).
    """
    task_prior(tasks)
    K = tasks.n_arms
    th, et, H, b = _setup(np.zeros(K) if theta0 is None else theta0, eta, tasks, horizon,
                          baseline)
    check_int(steps, "steps", 0), check_int(n_samples, "n_samples", 2)
    check_int(patience, "patience", 1)
    if isinstance(lr, bool) or not isinstance(lr, Real) or not (np.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite real > 0; got {lr!r}")
    for name, val in (("grad_tol", grad_tol), ("z", z)):
        if isinstance(val, bool) or not isinstance(val, Real) or not (np.isfinite(val)
                                                                       and val > 0):
            raise ValueError(f"{name} must be a finite real > 0; got {val!r}")
    if meta_sgd and (et <= 0).any():
        raise ValueError(f"meta_sgd needs eta > 0 (eta = exp(rho)); got eta = {et.tolist()}")
    fits = (2 * K) ** H <= MAX_SEQUENCES
    if exact is None:
        exact = fits
    elif exact and not fits:
        _check_size(K, H)
    rng = _rng(seed)

    def value_grad(th, et):
        """(J, the gradient in x, its standard errors or None when exact)."""
        if exact:
            J, g = _exact(th, et, tasks, H, b, grad=True)
            se = None
        else:
            R, gs = _samples(th, et, tasks, H, b, n_samples, rng)
            J, g = float(R.mean()), gs.mean(axis=0)
            se = gs.std(axis=0, ddof=1) / np.sqrt(n_samples)
        if meta_sgd:  # ∂J/∂ρ = η ⊙ ∂J/∂η
            return J, np.concatenate([g[:K], et * g[K:]]), \
                None if se is None else np.concatenate([se[:K], et * se[K:]])
        return J, g[:K], None if se is None else se[:K]

    x = np.concatenate([th, np.log(et)]) if meta_sgd else th.copy()
    m, v = np.zeros_like(x), np.zeros_like(x)
    curve = []
    rule = (f"exact ‖∇J‖∞ ≤ {grad_tol:g}" if exact
            else f"every sampled gradient coordinate within {z:g} standard errors of 0 "
                 f"at {patience} iterates in a row")
    converged = False
    quiet = 0
    for i in range(steps + 1):
        th, et = (x[:K], np.exp(x[K:])) if meta_sgd else (x, et)
        J, grad, se = value_grad(th, et)
        curve.append(J)
        gnorm = float(np.max(np.abs(grad))) if grad.size else 0.0
        if se is None:
            converged = gnorm <= grad_tol
        else:
            quiet = quiet + 1 if bool(np.all(np.abs(grad) <= z * se)) else 0
            converged = quiet >= patience
        if converged or i == steps:
            break
        m = 0.9 * m + 0.1 * grad
        v = 0.999 * v + 0.001 * grad**2
        x = x + lr * (m / (1 - 0.9 ** (i + 1))) / (np.sqrt(v / (1 - 0.999 ** (i + 1))) + 1e-8)
    th = np.array(th, dtype=np.float64)
    et = np.array(et, dtype=np.float64)
    gap = float("nan")
    if (2 * K) ** H <= MAX_SEQUENCES:
        gap = bayes_value(tasks, H) - (curve[-1] if exact else maml_objective(th, et, tasks, H))
    criterion = (f"stopped: {rule}" if converged
                 else f"not converged: {len(curve) - 1} steps without {rule}")
    return MetaResult(th, et, np.asarray(curve), converged, criterion, gnorm, float(gap))


_BAYES_VALUES: dict = {}


def bayes_value(tasks, horizon: int) -> float:
    """V*, the Bayes-optimal value ``tasks.bayes(horizon).value`` as a float (cached per task
    distribution and horizon, at most 64 entries)."""
    task_prior(tasks)
    H = check_int(horizon, "horizon", 1)
    key = (tasks.key, H)
    if len(_BAYES_VALUES) >= 64 and key not in _BAYES_VALUES:
        _BAYES_VALUES.clear()
    if key not in _BAYES_VALUES:
        _BAYES_VALUES[key] = float(tasks.bayes(H).value)
    return _BAYES_VALUES[key]


def memoryless_gap(theta0, eta, tasks, horizon: int) -> float:
    """V* − J(θ_0, η) ≥ 0: the Bayes-optimal value (``tasks.bayes(horizon).value``, cached
    per task distribution and horizon) minus the learner's exact meta-objective."""
    th, et, H, _ = _setup(theta0, eta, tasks, horizon, 0.0)
    return bayes_value(tasks, H) - maml_objective(th, et, tasks, H)
