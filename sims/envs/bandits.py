"""K-armed bandits as one-state MDPs (horizon 1: every step is an episode)."""

from __future__ import annotations

import numpy as np

from mesabase.theory import TabularMDP
from mesabase.theory.checks import real_array

from .base import Env

__all__ = ["bernoulli_bandit", "gaussian_bandit"]


def _bandit_mdp(means, gamma) -> TabularMDP:
    means = real_array(means, "means")
    if means.ndim != 1 or means.size < 1:
        raise ValueError(f"means must be a non-empty 1-D array (one per arm); got {means.shape}")
    K = means.size
    return TabularMDP(np.ones((1, K, 1)), means[None, :], gamma=gamma, horizon=1)


def bernoulli_bandit(means, gamma: float = 1.0) -> Env:
    """Arm a pays 1 with probability ``means[a]`` and 0 otherwise; R[0, a] = means[a].

    The exact expected return of a policy π is πᵀ means (horizon 1).

    Example:
      >>> env = bernoulli_bandit([0.2, 0.8])
      >>> env.n_states, env.n_actions, env.R.tolist()
      (1, 2, [[0.2, 0.8]])
    """
    return Env(_bandit_mdp(means, gamma), noise="bernoulli", name="bernoulli-bandit")


def gaussian_bandit(means, sigma: float = 1.0, gamma: float = 1.0) -> Env:
    """Arm a pays N(means[a], σ²)."""
    return Env(_bandit_mdp(means, gamma), noise="gaussian", sigma=sigma, name="gaussian-bandit")
