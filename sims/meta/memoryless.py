"""A memoryless bandit learner whose only memory is its weights (seed 000).

The policy is a softmax over per-arm logits θ ∈ ℝᴷ that sees nothing of the history; it
"tracks the sufficient statistics in its weights" by a REINFORCE step after every pull,
within the episode (Mikulik, seed 000: "the only way of tracking the sufficient stats you
have is through your weights, which are changed through the gradient updates"):

    π_θ(k) = exp θₖ / Σⱼ exp θⱼ,                       a_t ∼ π_θt,
    θ_{t+1} = θ_t + η ⊙ (r_t − b) (e_{a_t} − π_θt),     θ_0 = theta0,

where e_{a_t} − π_θt = ∇_θ log π_θ(a_t) (the softmax score), η ∈ ℝᴷ a per-arm step size
(a scalar is broadcast: plain REINFORCE; per-arm step sizes are Meta-SGD's, Li et al.
2017), b a constant baseline. With b = 0 a failure leaves θ unchanged.

Symbols -> arguments: θ_0 -> ``theta0`` (K,), η -> ``eta`` (K,) or a scalar, b ->
``baseline``; θ_t -> ``state.theta`` (n, K), one row per task × seed.

Such a learner is one particular history-dependent randomised policy of the Bayes-adaptive
bandit, so its expected total reward under the task prior never exceeds the Bayes-optimal
value (:func:`mesabase.sims.meta.maml.memoryless_gap`); MAML / Meta-SGD
(:mod:`mesabase.sims.meta.maml`) choose θ_0 (and η) to maximise that expectation.

References: R. J. Williams, Machine Learning 8 (1992) (REINFORCE); C. Finn, P. Abbeel,
S. Levine, "Model-agnostic meta-learning", ICML 2017; Z. Li, F. Zhou, F. Chen, H. Li,
"Meta-SGD", arXiv:1707.09835 (2017).
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real
from typing import NamedTuple

import numpy as np

from ..agents.policies import softmax
from .rollouts import sample_arms

__all__ = ["MemorylessReinforce", "MemorylessState", "check_theta_eta"]


class MemorylessState(NamedTuple):
    """The learner's weights for n rows.

    Attributes:
      theta: (n, K) float64, the logits θ_t of every row (task × seed).
    """

    theta: np.ndarray


def check_theta_eta(theta0, eta) -> tuple[np.ndarray, np.ndarray]:
    """Validate θ_0 (K,) finite and η (K,) or scalar finite; return float64 (K,) copies."""
    th = np.array(theta0, dtype=np.float64)
    if th.ndim != 1 or th.shape[0] < 1:
        raise ValueError(f"theta0 must have shape (K,) with K >= 1; got shape {th.shape}")
    if not np.isfinite(th).all():
        k = int(np.argmax(~np.isfinite(th)))
        raise ValueError(f"theta0 must be finite; got theta0[{k}] = {th[k]}")
    et = np.array(eta, dtype=np.float64)
    if et.ndim == 0:
        et = np.full(th.shape, float(et))
    if et.shape != th.shape:
        raise ValueError(f"eta must be a scalar or have shape {th.shape} (that of theta0); "
                         f"got shape {et.shape}")
    if not np.isfinite(et).all():
        k = int(np.argmax(~np.isfinite(et)))
        raise ValueError(f"eta must be finite; got eta[{k}] = {et[k]}")
    return th, et


def check_baseline(baseline) -> float:
    """``baseline`` as a float; ValueError unless it is a finite real number (not a bool)."""
    if isinstance(baseline, bool) or not isinstance(baseline, Real) \
            or not np.isfinite(baseline):
        raise ValueError(f"baseline must be a finite real number; got {baseline!r}")
    return float(baseline)


@dataclass(frozen=True, eq=False)
class MemorylessReinforce:
    """The memoryless softmax learner, θ ← θ + η ⊙ (r − b)(e_a − π_θ), as an Agent.

    Args:
      theta0: (K,) initial logits θ_0, finite.
      eta: (K,) per-arm step sizes η, or a scalar (broadcast); finite (any sign).
      baseline: the constant b (default 0).

    ``act`` samples a_t ∼ softmax(θ_t) by inversion (:func:`sample_arms`, n variates per
    step); ``counts`` are ignored (the learner is memoryless). ``update`` applies the step.

    Example:
      >>> agent = MemorylessReinforce([0.0, 0.0], eta=1.0)
      >>> s = agent.init(1, 2, 3, np.random.default_rng(0))
      >>> s = agent.update(s, None, 0, np.array([0]), np.array([1.0]))
      >>> s.theta.tolist()
      [[0.5, -0.5]]
    """

    theta0: np.ndarray
    eta: np.ndarray | float = 1.0
    baseline: float = 0.0

    def __post_init__(self):
        th, et = check_theta_eta(self.theta0, self.eta)
        th.setflags(write=False)
        et.setflags(write=False)
        object.__setattr__(self, "theta0", th)
        object.__setattr__(self, "eta", et)
        object.__setattr__(self, "baseline", check_baseline(self.baseline))

    @property
    def n_arms(self) -> int:
        return int(self.theta0.shape[0])

    @property
    def name(self) -> str:
        eta = self.eta
        e = f"{eta[0]:.3g}" if (eta == eta[0]).all() else "per-arm"
        return f"memoryless REINFORCE (eta={e})"

    def init(self, n: int, n_arms: int, horizon: int,
             rng: np.random.Generator) -> MemorylessState:
        """θ_0 repeated on n rows; ``n_arms`` must equal K (ValueError otherwise)."""
        if n_arms != self.n_arms:
            raise ValueError(f"n_arms must equal the learner's K = {self.n_arms} (the length "
                             f"of theta0); got n_arms = {n_arms}")
        return MemorylessState(np.tile(self.theta0, (int(n), 1)))

    def policy(self, state: MemorylessState) -> np.ndarray:
        """π_θt (n, K), the softmax of every row's logits."""
        return softmax(state.theta)

    def act(self, state: MemorylessState, counts, t: int,
            rng: np.random.Generator) -> np.ndarray:
        """a_t ∼ π_θt, (n,) int64 (``counts`` unused: the policy has no memory)."""
        return sample_arms(self.policy(state), rng)

    def update(self, state: MemorylessState, counts, t: int, arms: np.ndarray,
               rewards: np.ndarray) -> MemorylessState:
        """θ_{t+1} = θ_t + η ⊙ (r_t − b)(e_{a_t} − π_θt), every row in one op."""
        theta = state.theta
        pi = softmax(theta)
        score = -pi
        score[np.arange(theta.shape[0]), np.asarray(arms)] += 1.0
        adv = np.asarray(rewards, dtype=np.float64) - self.baseline
        return MemorylessState(theta + self.eta * adv[:, None] * score)
