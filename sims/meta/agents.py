"""The classical Bernoulli-bandit agents, each vectorised over rows (one op per step).

Every agent follows the protocol of :mod:`mesabase.sims.meta.rollouts` and acts on the
posterior counts ``counts[i, k] = (sₖ, fₖ)`` (successes, failures of arm k so far, t = Σ
counts[i] pulls made). Agents holding a prior use the task prior (α, β) (shared) or (K, 2)
(per arm); they treat the arms as *independent* (for :class:`~.tasks.DependentTasks` they
ignore that p₂ = 1 − p₁ — only the Bayes-optimal agent knows the family).

=================== ========================================================================
agent               arm at step t (ties: uniformly at random by the agent's rng)
=================== ========================================================================
BayesOptimalAgent   a ∼ uniform over argmaxₖ Q*(b_t, k), b_t the belief state (exact DP)
GittinsAgent(γ)     argmaxₖ G_γ(αₖ + sₖ, βₖ + fₖ)   (Gittins index at discount γ)
UCB1                each arm once (lowest index first), then argmaxₖ x̄ₖ + √(2 ln t / nₖ)
Thompson            θₖ ∼ Beta(αₖ + sₖ, βₖ + fₖ) independently, argmaxₖ θₖ
Greedy              argmaxₖ (αₖ + sₖ) / (αₖ + βₖ + sₖ + fₖ)   (posterior mean)
=================== ========================================================================

with nₖ = sₖ + fₖ and x̄ₖ = sₖ / nₖ. Random numbers: every act draws a fixed number of
variates (``rng.random((n, K))`` for the tie-break, preceded for Thompson by
``rng.random((n, K))`` for its inversion sampling θₖ = I⁻¹(u; αₖ + sₖ, βₖ + fₖ)), so a row's
actions do not depend on other rows, and agents sharing a seed share their tie-breaks.

References:
  P. Auer, N. Cesa-Bianchi, P. Fischer, "Finite-time analysis of the multiarmed bandit
  problem", Machine Learning 47 (2002), Fig. 1 (UCB1) and Theorem 1.
  W. R. Thompson, "On the likelihood that one unknown probability exceeds another in view of
  the evidence of two samples", Biometrika 25 (1933).
  J. C. Gittins, "Bandit processes and dynamic allocation indices", JRSS B 41 (1979);
  J. Gittins, K. Glazebrook, R. Weber, "Multi-armed Bandit Allocation Indices" (2011).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from numbers import Real
from typing import NamedTuple

import numpy as np
from scipy import special

from mesabase.theory.bandits.bayes import BayesBandit
from mesabase.theory.bandits.gittins import gittins_table

from .rollouts import NoState

__all__ = ["BayesOptimalAgent", "GittinsAgent", "UCB1", "Thompson", "Greedy",
           "random_argmax", "GittinsState", "PriorState"]


def random_argmax(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """argmaxₖ values[i, k] per row, ties (exact equality) split uniformly at random.

    Draws exactly ``rng.random(values.shape)``: among the maximisers the one with the largest
    uniform wins, so each of m tied arms is chosen with probability 1/m.
    """
    u = rng.random(values.shape)
    best = values == values.max(axis=1, keepdims=True)
    return np.argmax(np.where(best, u, -1.0), axis=1).astype(np.int64)


def _prior(prior, name: str = "prior") -> np.ndarray:
    arr = np.asarray(prior, dtype=np.float64) if not isinstance(prior, str) else None
    if arr is None or not (arr.shape == (2,) or (arr.ndim == 2 and arr.shape[1] == 2)):
        raise ValueError(f"{name} must be (alpha, beta) or an array of shape (K, 2); "
                         f"got {prior!r}")
    if not np.isfinite(arr).all() or (arr <= 0).any():
        raise ValueError(f"{name} entries must be finite and > 0; got {prior!r}")
    arr.setflags(write=False)
    return arr


def _per_arm(prior: np.ndarray, n_arms: int, who: str) -> np.ndarray:
    """The (K, 2) prior for K arms (a shared pair is tiled)."""
    if prior.shape == (2,):
        return np.tile(prior, (n_arms, 1))
    if prior.shape[0] != n_arms:
        raise ValueError(f"{who}: prior has {prior.shape[0]} rows but the bandit has "
                         f"n_arms={n_arms}")
    return prior


class PriorState(NamedTuple):
    """State of an agent acting on posterior counts under a prior."""

    prior: np.ndarray  # (K, 2) float64: (αₖ, βₖ)


@dataclass(frozen=True, eq=False)
class BayesOptimalAgent:
    """Acts by the Bayes-optimal policy of an exactly solved belief MDP.

    At belief state b (the counts), picks uniformly among argmaxₖ Q*(b, k) (the arms of
    largest ``bayes.action_probs(counts)``), by :func:`random_argmax` — the same tie-break as
    the other agents, so that on a common seed they pick the same arm whenever their argmax
    sets agree. Its expected total reward on tasks from the prior the table was solved for is
    ``bayes.value``.

    Args:
      bayes: a :class:`~mesabase.theory.bandits.BayesBandit` whose ``n_arms`` and
        ``horizon`` are the rollout's (the policy depends on the pulls left, so a table for
        another horizon would not be Bayes-optimal: ``init`` raises ValueError).
    """

    bayes: BayesBandit
    name: str = "bayes-optimal"

    def __post_init__(self):
        if not isinstance(self.bayes, BayesBandit):
            raise ValueError(f"bayes must be a BayesBandit; got {type(self.bayes).__name__}")

    def init(self, n, n_arms, horizon, rng) -> NoState:
        if n_arms != self.bayes.n_arms:
            raise ValueError(f"BayesOptimalAgent: n_arms={n_arms} but the table has "
                             f"{self.bayes.n_arms} arms")
        if horizon != self.bayes.horizon:
            raise ValueError(f"BayesOptimalAgent: horizon={horizon} but the table was solved "
                             f"for horizon {self.bayes.horizon}")
        return NoState()

    def act(self, state, counts, t, rng) -> np.ndarray:
        return random_argmax(self.bayes.action_probs(counts), rng)

    def update(self, state, counts, t, arms, rewards):
        return state


@functools.lru_cache(maxsize=64)
def _gittins(gamma: float, max_pulls: int, alpha: float, beta: float, tol: float):
    table = np.asarray(gittins_table(gamma, max_pulls, prior=(alpha, beta), tol=tol),
                       dtype=np.float64)
    table.setflags(write=False)
    return table


class GittinsState(NamedTuple):
    """The Gittins indices of every count the episode can reach."""

    tables: np.ndarray  # (K, M+1, M+1) float64: [k, s, f] -> G_γ(αₖ + s, βₖ + f), M = H − 1


@dataclass(frozen=True, eq=False)
class GittinsAgent:
    """Pulls the arm of largest Gittins index G_γ(αₖ + sₖ, βₖ + fₖ), random tie-breaks.

    For the infinite-horizon discounted Bernoulli bandit (rewards Σ γᵗ rₜ, independent
    arms) this index rule is Bayes-optimal (Gittins 1979). For the finite-horizon,
    undiscounted episode studied here it is *not*: the Bayes-optimal policy depends on the
    pulls left, which the index ignores, so at any γ the rule is a heuristic (γ ≈ 1 − 1/H is a
    common choice of the effective horizon). Compare with :class:`BayesOptimalAgent`.

    Args:
      gamma: discount γ ∈ (0, 1) of the index.
      prior: (α, β) or (K, 2), the task prior.
      tol: the tolerance of :func:`~mesabase.theory.bandits.gittins_table`.
    """

    gamma: float
    prior: np.ndarray = field(default=(1, 1))
    tol: float = 1e-6

    def __post_init__(self):
        if not isinstance(self.gamma, Real) or not 0 < self.gamma < 1:
            raise ValueError(f"gamma must be in (0, 1); got {self.gamma!r}")
        if not isinstance(self.tol, Real) or not self.tol > 0:
            raise ValueError(f"tol must be > 0; got {self.tol!r}")
        object.__setattr__(self, "prior", _prior(self.prior))

    @property
    def name(self) -> str:
        return f"gittins({self.gamma:g})"

    def init(self, n, n_arms, horizon, rng) -> GittinsState:
        prior = _per_arm(self.prior, n_arms, "GittinsAgent")
        M = max(int(horizon) - 1, 1)
        tables = np.stack([_gittins(float(self.gamma), M, float(a), float(b), float(self.tol))
                           for a, b in prior])
        return GittinsState(tables)

    def act(self, state: GittinsState, counts, t, rng) -> np.ndarray:
        K = counts.shape[1]
        g = state.tables[np.arange(K), counts[..., 0], counts[..., 1]]
        return random_argmax(g, rng)

    def update(self, state, counts, t, arms, rewards):
        return state


@dataclass(frozen=True, eq=False)
class UCB1:
    """UCB1 (Auer, Cesa-Bianchi & Fischer 2002, Fig. 1).

    Pull each arm once (lowest index first); afterwards, with t = Σₖ nₖ pulls made so far,

        aₜ = argmaxₖ  x̄ₖ + √(2 ln t / nₖ),   x̄ₖ = sₖ / nₖ,

    ties split at random. For rewards in [0, 1] the expected regret after T pulls is at most
    Σ_{k: Δₖ>0} 8 ln T / Δₖ + (1 + π²/3) Σₖ Δₖ (their Theorem 1).
    """

    name: str = "ucb1"

    def init(self, n, n_arms, horizon, rng) -> NoState:
        return NoState()

    def act(self, state, counts, t, rng) -> np.ndarray:
        pulls = counts.sum(axis=2)
        total = pulls.sum(axis=1, keepdims=True)
        safe = np.maximum(pulls, 1)
        index = counts[..., 0] / safe + np.sqrt(2.0 * np.log(np.maximum(total, 1)) / safe)
        chosen = random_argmax(index, rng)
        unpulled = pulls == 0
        return np.where(unpulled.any(axis=1), np.argmax(unpulled, axis=1), chosen)

    def update(self, state, counts, t, arms, rewards):
        return state


@dataclass(frozen=True, eq=False)
class Thompson:
    """Thompson sampling with the task prior (Thompson 1933).

    θₖ ∼ Beta(αₖ + sₖ, βₖ + fₖ) independently, drawn by inversion θₖ = I⁻¹(uₖ; αₖ + sₖ,
    βₖ + fₖ) (``scipy.special.betaincinv``, uₖ uniform); pulls argmaxₖ θₖ (ties, of
    probability zero in exact arithmetic, split at random). So arm k is pulled with
    probability P(pₖ is the largest | counts) under the (independent-arms) posterior.

    Args:
      prior: (α, β) or (K, 2).
    """

    prior: np.ndarray = field(default=(1, 1))
    name: str = "thompson"

    def __post_init__(self):
        object.__setattr__(self, "prior", _prior(self.prior))

    def init(self, n, n_arms, horizon, rng) -> PriorState:
        return PriorState(_per_arm(self.prior, n_arms, "Thompson"))

    def act(self, state: PriorState, counts, t, rng) -> np.ndarray:
        u = rng.random(counts.shape[:2])
        theta = special.betaincinv(state.prior[:, 0] + counts[..., 0],
                                   state.prior[:, 1] + counts[..., 1], u)
        return random_argmax(theta, rng)

    def update(self, state, counts, t, arms, rewards):
        return state


@dataclass(frozen=True, eq=False)
class Greedy:
    """Greedy on the posterior mean: argmaxₖ (αₖ + sₖ) / (αₖ + βₖ + sₖ + fₖ), random ties.

    Args:
      prior: (α, β) or (K, 2).
    """

    prior: np.ndarray = field(default=(1, 1))
    name: str = "greedy"

    def __post_init__(self):
        object.__setattr__(self, "prior", _prior(self.prior))

    def init(self, n, n_arms, horizon, rng) -> PriorState:
        return PriorState(_per_arm(self.prior, n_arms, "Greedy"))

    def act(self, state: PriorState, counts, t, rng) -> np.ndarray:
        a, b = state.prior[:, 0], state.prior[:, 1]
        mean = (a + counts[..., 0]) / (a + b + counts[..., 0] + counts[..., 1])
        return random_argmax(mean, rng)

    def update(self, state, counts, t, arms, rewards):
        return state
