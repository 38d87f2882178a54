"""A belief-state policy meta-trained across tasks: statistics held in "activations".

The Bayes-adaptive Bernoulli bandit's sufficient statistic after t pulls is the count vector
c = (s₁, f₁, …, s_K, f_K) (successes, failures per arm; a belief state of
:func:`mesabase.theory.bandits.belief_states`). A recurrent meta-learner that tracks c in its
activations and maps it to an action distribution is, at its most expressive, a *tabular*
softmax over belief states,

    π_φ(k | c) = exp φ[c, k] / Σⱼ exp φ[c, j],       φ -> ``BeliefPolicy.logits`` (n, K),

(one row per belief state of total ≤ H, in ``belief_states(K, H)`` order). It is meta-trained
across tasks by REINFORCE with returns-to-go and a per-state baseline (Williams 1992; the
"RL²" idea of Duan et al. 2016 / Wang et al. 2016 with the recurrent state replaced by the
exact sufficient statistic), and its exact value is the Bayes-expected total reward

    V(φ) = E_{p∼prior} E[Σ_{t<H} r_t] = Σ_t Σ_{c: |c|=t} d_t(c) Σ_k π_φ(k|c) μ_k(c),

with d_t the probability of reaching belief c at step t and μ_k(c) = P(r = 1 | c, a = k) the
posterior predictive (below), computed by a forward recursion over belief layers
(:func:`belief_policy_value`). The maximum over φ (a limit of softmaxes) is the
Bayes-optimal value of :class:`mesabase.theory.bandits.BayesBandit`.

Posterior predictive and prior marginal (Beta–Bernoulli conjugacy; the Pólya urn):

* independent arms pₖ ∼ Beta(αₖ, βₖ): μₖ(c) = (αₖ + sₖ)/(αₖ + βₖ + sₖ + fₖ), and an ordered
  reward sequence with counts c has prior-marginal probability
  Πₖ B(αₖ + sₖ, βₖ + fₖ)/B(αₖ, βₖ);
* dependent arms p₂ = 1 − p₁, p₁ ∼ Beta(α, β): a success of arm 1 or a failure of arm 2 is
  evidence for p₁, so μ₁(c) = (α + s₁ + f₂)/(α + β + t) = 1 − μ₂(c), and the marginal is
  B(α + s₁ + f₂, β + f₁ + s₂)/B(α, β).

References: R. J. Williams, Machine Learning 8 (1992); Y. Duan et al., "RL²",
arXiv:1611.02779 (2016); J. X. Wang et al., "Learning to reinforcement learn",
arXiv:1611.05763 (2016); M. O. Duff, "Optimal learning", PhD thesis, UMass (2002) (the
Bayes-adaptive bandit as a belief MDP).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from numbers import Real
from typing import NamedTuple

import numpy as np
from scipy import special

from mesabase.theory.bandits.bayes import belief_index, belief_states

from ..agents.policies import softmax
from .rollouts import NoState, check_int, rollout, sample_arms

__all__ = [
    "BeliefPolicy", "task_prior", "predictive", "log_marginal", "belief_policy_value",
    "train_belief_policy", "TrainingReport",
]


def task_prior(tasks) -> tuple[str, np.ndarray]:
    """(family, prior) of a task distribution: ("beta", (K, 2) float64 of (αₖ, βₖ)) for
    :class:`BetaTasks`, ("dependent", (2,) float64 (α, β)) for :class:`DependentTasks`."""
    family = getattr(tasks, "family", None)
    if family == "beta":
        return family, np.asarray(tasks.prior, dtype=np.float64).reshape(tasks.n_arms, 2)
    if family == "dependent":
        return family, np.asarray(tasks.prior, dtype=np.float64).reshape(2)
    raise ValueError(f"tasks must be a BetaTasks or DependentTasks (family 'beta' or "
                     f"'dependent'); got {tasks!r}")


def _counts(tasks, counts) -> tuple[str, np.ndarray, np.ndarray]:
    family, prior = task_prior(tasks)
    c = np.asarray(counts)
    if c.ndim < 2 or c.shape[-2:] != (tasks.n_arms, 2):
        raise ValueError(f"counts must have shape (..., {tasks.n_arms}, 2); got {c.shape}")
    return family, prior, c.astype(np.float64)


def predictive(tasks, counts) -> np.ndarray:
    """μ (..., K): μₖ(c) = P(r = 1 | counts c, pull arm k) under the task prior (see the
    module docstring); ``counts`` (..., K, 2) of (sₖ, fₖ)."""
    family, prior, c = _counts(tasks, counts)
    s, f = c[..., 0], c[..., 1]
    if family == "beta":
        return (prior[:, 0] + s) / (prior.sum(axis=1) + s + f)
    a, b = prior
    m = (a + s[..., 0] + f[..., 1]) / (a + b + s.sum(-1) + f.sum(-1))
    return np.stack([m, 1.0 - m], axis=-1)


def log_marginal(tasks, counts) -> np.ndarray:
    """log of the prior-marginal probability (...,) of any one ordered reward sequence whose
    counts are c (given the arms pulled): Σₖ log B(αₖ + sₖ, βₖ + fₖ) − log B(αₖ, βₖ)
    (independent) or log B(α + s₁ + f₂, β + f₁ + s₂) − log B(α, β) (dependent)."""
    family, prior, c = _counts(tasks, counts)
    s, f = c[..., 0], c[..., 1]
    if family == "beta":
        a, b = prior[:, 0], prior[:, 1]
        return (special.betaln(a + s, b + f) - special.betaln(a, b)).sum(axis=-1)
    a, b = prior
    return special.betaln(a + s[..., 0] + f[..., 1], b + f[..., 0] + s[..., 1]) \
        - special.betaln(a, b)


class _Table(NamedTuple):
    states: np.ndarray     # (n, K, 2) int64, belief_states(K, H)
    starts: np.ndarray     # (H + 2,) int64, rows of total t are starts[t]:starts[t + 1]


@lru_cache(maxsize=32)
def _table(K: int, H: int) -> _Table:
    states = np.asarray(belief_states(K, H), dtype=np.int64)
    totals = states.sum(axis=(1, 2))
    starts = np.searchsorted(totals, np.arange(H + 2), side="left").astype(np.int64)
    for a in (states, starts):
        a.setflags(write=False)
    return _Table(states, starts)


@dataclass(frozen=True, eq=False)
class BeliefPolicy:
    """Tabular softmax over belief states, π(k | c) = softmax(logits[index(c)])ₖ; an Agent.

    Args:
      n_arms: K ≥ 1.
      horizon: H ≥ 1; the table covers every count vector of total ≤ H.
      logits: (n_states, K) finite, rows in ``belief_states(K, H)`` order; None: zeros
        (the uniform policy).

    As an Agent it holds no state of its own (the counts handed to ``act`` are its memory);
    it samples by inversion (:func:`sample_arms`). ``init`` raises ValueError when the
    episode's K differs or its horizon exceeds H.

    Example:
      >>> pol = BeliefPolicy(2, 3)
      >>> pol.logits.shape, int(pol.index(np.array([[1, 0], [0, 2]])))
      ((35, 2), 25)
    """

    n_arms: int
    horizon: int
    logits: np.ndarray | None = None

    def __post_init__(self):
        K = check_int(self.n_arms, "n_arms", 1)
        H = check_int(self.horizon, "horizon", 1)
        object.__setattr__(self, "n_arms", K)
        object.__setattr__(self, "horizon", H)
        n = len(_table(K, H).states)
        lg = np.zeros((n, K)) if self.logits is None \
            else np.array(self.logits, dtype=np.float64)
        if lg.shape != (n, K):
            raise ValueError(f"logits must have shape ({n}, {K}) (belief states of K={K}, "
                             f"H={H} by arms); got {lg.shape}")
        if not np.isfinite(lg).all():
            s, k = np.argwhere(~np.isfinite(lg))[0]
            raise ValueError(f"logits must be finite; got logits[{s}, {k}] = {lg[s, k]}")
        lg.setflags(write=False)
        object.__setattr__(self, "logits", lg)

    name = "belief-state policy (meta-trained)"

    @classmethod
    def from_bayes(cls, bayes, inverse_temperature: float) -> BeliefPolicy:
        """logits = τ⁻¹ (Q − maxₖ Q) from a :class:`BayesBandit` (same K, H and states order):
        softmax(τ⁻¹ Q) tends to the uniform policy over the Bayes-optimal set as τ⁻¹ → ∞."""
        if isinstance(inverse_temperature, bool) or not isinstance(inverse_temperature, Real) \
                or not np.isfinite(inverse_temperature) or inverse_temperature < 0:
            raise ValueError(f"inverse_temperature must be a finite real >= 0; got "
                             f"{inverse_temperature!r}")
        Q = np.asarray(bayes.Q, dtype=np.float64)
        return cls(bayes.n_arms, bayes.horizon,
                   inverse_temperature * (Q - Q.max(axis=1, keepdims=True)))

    @property
    def states(self) -> np.ndarray:
        """(n_states, K, 2) int64, ``belief_states(K, H)``."""
        return _table(self.n_arms, self.horizon).states

    def index(self, counts) -> np.ndarray:
        """Row indices (...,) of ``counts`` (..., K, 2) int in the table
        (:func:`mesabase.theory.bandits.belief_index`); ValueError outside it (a negative
        count or a total above H)."""
        return belief_index(counts, self.n_arms, self.horizon)

    def probs(self, counts) -> np.ndarray:
        """π(· | c) (..., K) for ``counts`` (..., K, 2)."""
        return softmax(self.logits[self.index(counts)])

    def init(self, n: int, n_arms: int, horizon: int, rng) -> NoState:
        if n_arms != self.n_arms or horizon > self.horizon:
            raise ValueError(f"the policy covers n_arms = {self.n_arms}, horizon <= "
                             f"{self.horizon}; got n_arms = {n_arms}, horizon = {horizon}")
        return NoState()

    def act(self, state, counts, t: int, rng: np.random.Generator) -> np.ndarray:
        """a ∼ π(· | counts), (n,) int64."""
        return sample_arms(self.probs(counts), rng)

    def update(self, state, counts, t, arms, rewards):
        """No state to update: the counts are the memory."""
        return state


def _check_pair(policy, tasks, horizon) -> int:
    if not isinstance(policy, BeliefPolicy):
        raise ValueError(f"policy must be a BeliefPolicy; got {type(policy).__name__}")
    task_prior(tasks)
    H = check_int(horizon, "horizon", 1)
    if tasks.n_arms != policy.n_arms or H > policy.horizon:
        raise ValueError(f"policy covers n_arms = {policy.n_arms}, horizon <= "
                         f"{policy.horizon}; got tasks with n_arms = {tasks.n_arms} and "
                         f"horizon = {H}")
    return H


def belief_policy_value(policy: BeliefPolicy, tasks, horizon: int) -> float:
    """Exact V(φ) = Σ_{t<H} Σ_{|c|=t} d_t(c) Σₖ π_φ(k|c) μₖ(c) by forward recursion:
    d_0 = δ_∅, d_{t+1}(c + e_{k,success}) += d_t(c) π_φ(k|c) μₖ(c) and
    d_{t+1}(c + e_{k,failure}) += d_t(c) π_φ(k|c) (1 − μₖ(c)). ``horizon`` ≤ policy.horizon.
    """
    H = _check_pair(policy, tasks, horizon)
    K = policy.n_arms
    tab = _table(K, policy.horizon)
    d = np.zeros(len(tab.states))
    d[0] = 1.0
    value = 0.0
    eye = np.eye(2 * K, dtype=np.int64).reshape(2 * K, K, 2)
    for t in range(H):
        lo, hi = tab.starts[t], tab.starts[t + 1]
        c = tab.states[lo:hi]
        reach = d[lo:hi, None] * softmax(policy.logits[lo:hi])
        mu = predictive(tasks, c)
        value += float((reach * mu).sum())
        if t + 1 < H:
            child = policy.index(c[:, None] + eye[None])         # (m, 2K): (k, success/fail)
            mass = np.stack([reach * mu, reach * (1.0 - mu)], axis=-1).reshape(len(c), -1)
            np.add.at(d, child, mass)
    return value


class TrainingReport(NamedTuple):
    """How a meta-training run ended: ``converged`` (the criterion held before the step
    budget ran out), ``criterion`` (in words), ``steps`` taken, ``bayes_gap`` = V* − V of the
    final policy (exact), and ``class_gap``, the gap to the best value the policy class can
    reach (for a belief policy the class contains the Bayes-optimal policy as a limit of
    its logits, so class_gap = bayes_gap)."""

    converged: bool
    criterion: str
    steps: int
    bayes_gap: float
    class_gap: float


def train_belief_policy(tasks, horizon: int, *, steps: int = 300, batch: int = 512,
                        lr: float = 1.0, seed=0, baseline_rate: float = 0.5,
                        init: BeliefPolicy | None = None, rel_gap_tol: float = 1e-4,
                        report: bool = False):
    """Meta-train a :class:`BeliefPolicy` by REINFORCE across tasks, for at most ``steps``
    steps: it stops once the exact value is within ``rel_gap_tol``·V* of the Bayes-optimal
    value V* (the best this class can reach), checked before every step.

    Each step i draws ``batch`` tasks p ∼ ``tasks`` and runs one episode on each with
    :func:`rollout` (every task in one numpy op), then, with cₜ the belief before step t,
    Gₜ = Σ_{t'≥t} r_{t'} the return-to-go and b a per-belief baseline,

        φ[c, ·] ← φ[c, ·] + lr · (1/N_c) Σ_{(j,t): cⱼₜ = c} (Gⱼₜ − b[c]) (e_{aⱼₜ} − π_φ(·|c)),

    N_c the visits of c in the batch. This is the REINFORCE estimate of ∇_φ V preconditioned
    by diag(1/d̂(c)) (∇_{φ[c]} V = d(c) π(·|c) ⊙ (Q(c,·) − V(c)), d(c) the visitation):
    each row moves by the estimated per-state advantage, so rarely visited beliefs learn at
    the rate of common ones; a positive diagonal preconditioner keeps it an ascent
    direction. The baseline is a function of the belief only (so the estimate stays
    unbiased): b[c] is set to the batch mean of G at c on c's first visit, then moved a
    fraction ``baseline_rate`` towards each later batch mean, after the policy step.

    Args:
      tasks: a BetaTasks or DependentTasks (the meta-training distribution).
      horizon: H ≥ 1.
      steps: number of updates (≥ 0); batch: episodes per update (≥ 1); lr: step (> 0).
      seed: int ≥ 0 or SeedSequence; step i uses the i-th spawned child, split into a task
        child and a rollout child (outcome table and arm draws, see :func:`rollout`).
      baseline_rate: in (0, 1].
      init: the starting policy (K, H must match); None: uniform.
      rel_gap_tol: in (0, 1): the convergence criterion above.
      report: also return a :class:`TrainingReport`.

    Returns:
      (policy, curve[, report]): the trained policy, the exact value
      :func:`belief_policy_value` before the first and after every step taken (n + 1,).
    """
    task_prior(tasks)
    H = check_int(horizon, "horizon", 1)
    steps, batch = check_int(steps, "steps", 0), check_int(batch, "batch", 1)
    for name, v, hi in (("lr", lr, np.inf), ("baseline_rate", baseline_rate, 1.0)):
        if isinstance(v, bool) or not isinstance(v, Real) or not 0 < v <= hi:
            raise ValueError(f"{name} must be a real in (0, {hi}]; got {v!r}")
    K = tasks.n_arms
    policy = BeliefPolicy(K, H) if init is None else init
    if not isinstance(policy, BeliefPolicy) or (policy.n_arms, policy.horizon) != (K, H):
        raise ValueError(f"init must be a BeliefPolicy with n_arms = {K}, horizon = {H}; "
                         f"got {init!r}")
    ss = seed if isinstance(seed, np.random.SeedSequence) \
        else np.random.SeedSequence(check_int(seed, "seed", 0))
    n = len(policy.states)
    logits = policy.logits.copy()
    base = np.zeros(n)
    seen = np.zeros(n, dtype=bool)
    if isinstance(rel_gap_tol, bool) or not isinstance(rel_gap_tol, Real) \
            or not 0 < rel_gap_tol < 1:
        raise ValueError(f"rel_gap_tol must be a real in (0, 1); got {rel_gap_tol!r}")
    v_star = float(tasks.bayes(H).value)
    target = v_star - rel_gap_tol * abs(v_star)
    curve = [belief_policy_value(policy, tasks, H)]
    rows = np.arange(batch)[:, None]
    for child in ss.spawn(steps):
        if curve[-1] >= target:
            break
        task_ss, roll_ss = child.spawn(2)
        p = tasks.sample(batch, np.random.Generator(np.random.PCG64(task_ss)))
        out = rollout(policy, p, H, roll_ss)
        # beliefs before each step: exclusive cumulative sums of the pulls' one-hots
        hit = np.zeros((batch, H, K, 2), dtype=np.int64)
        hit[rows, np.arange(H), out.arms, 1 - out.rewards.astype(np.int64)] = 1
        idx = policy.index(np.cumsum(hit, axis=1) - hit)                 # (batch, H)
        G = np.cumsum(out.rewards[:, ::-1], axis=1)[:, ::-1].astype(np.float64)
        score = -softmax(logits[idx])
        score[rows, np.arange(H), out.arms] += 1.0
        visits = np.bincount(idx.ravel(), minlength=n).astype(np.float64)
        step = np.zeros((n, K))
        np.add.at(step, idx.ravel(), ((G - base[idx])[..., None] * score).reshape(-1, K))
        hit_rows = visits > 0
        logits[hit_rows] += lr * step[hit_rows] / visits[hit_rows, None]
        mean_g = np.bincount(idx.ravel(), weights=G.ravel(), minlength=n)[hit_rows] \
            / visits[hit_rows]
        rate = np.where(seen[hit_rows], baseline_rate, 1.0)
        base[hit_rows] += rate * (mean_g - base[hit_rows])
        seen |= hit_rows
        policy = BeliefPolicy(K, H, logits)
        curve.append(belief_policy_value(policy, tasks, H))
    if not report:
        return policy, np.asarray(curve)
    gap = v_star - curve[-1]
    ok = bool(curve[-1] >= target)
    rule = f"exact value within {rel_gap_tol:g}·V* of V* = {v_star:.6g}"
    why = (f"stopped: {rule}" if ok
           else f"not converged: {len(curve) - 1} steps without {rule} (gap {gap:.3g})")
    return policy, np.asarray(curve), TrainingReport(ok, why, len(curve) - 1, gap, gap)
