"""Bandit episodes for many tasks at once, with common random numbers.

The Agent protocol (a pure-ish (init, act, update) triple, optax-style; the state is a
NamedTuple whose arrays carry a leading row axis n = tasks × seeds)::

    agent.name: str                                        # a label for tables and figures
    state = agent.init(n, n_arms, horizon, rng)            # rng: numpy.random.Generator
    arms  = agent.act(state, counts, t, rng)               # (n,) int64 in [0, K)
    state = agent.update(state, counts, t, arms, rewards)  # rewards (n,) float64 in {0, 1}

At step t = 0, 1, …, H − 1 of :func:`rollout` the agent acts on ``counts`` (n, K, 2) int64,
the posterior counts so far: ``counts[i, k] = (s_k, f_k)``, the successes and failures of arm
k in row i before step t (Σ counts[i] = t). ``update`` receives the *same* ``counts`` (the
ones the arms were chosen from: the ``_tm1`` convention of rlax), the pulled ``arms`` and
their ``rewards``; the counts of step t + 1 are ``counts`` plus that pull. The arrays handed
to an agent are fresh every step and must not be mutated by it.

Rules an agent must follow so that the guarantees below hold:

* all its randomness comes from the ``rng`` it is given (never numpy's global RNG);
* it draws the *same number* of variates from ``rng`` at every step whatever the data,
  e.g. ``rng.random((n, K))`` for random tie-breaks, and samples by inversion
  (:func:`sample_arms`, ``scipy.special.betaincinv``) rather than by rejection samplers such
  as ``rng.beta``, which consume a data-dependent number of variates, so that row i's draws
  do not depend on what happens in the other rows.

Common random numbers. A seed (an int or a :class:`numpy.random.SeedSequence`) is split into
two independent children: child 0 draws the outcome table U (n, K, H) of uniforms once, in C
order (so row i's table is the same whatever n is); child 1 seeds the Generator handed to the
agent. The j-th pull (j = 0, 1, …) of arm k in row i pays

    r = 1  iff  U[i, k, j] < p[i, k],

so two agents run with the same seed face the same outcome table: the same arm pulled for
the same time pays the same in both runs (the coupling of, e.g., Lattimore & Szepesvári,
"Bandit Algorithms" (2020) §4.6, the "stack of rewards" model). The same agent run twice with
the same seed gives bit-identical results, and row i's result depends only on p[i], i, n and
the seed (not on p or the actions of the other rows).

Regret. Per row, the (pseudo-)regret of the run is

    regret = H · maxₖ pₖ − Σₜ p[a_t],

whose mean over tasks p ∼ prior is the Bayes regret; ``means[i, t] = p[i, a_t]`` is the
expected reward of the arm pulled at t.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, NamedTuple, Protocol, runtime_checkable

import numpy as np

__all__ = ["Agent", "Rollout", "rollout", "sample_arms", "split_seed", "NoState"]


@runtime_checkable
class Agent(Protocol):
    """The bandit-agent protocol (see the module docstring for the contract)."""

    name: str

    def init(self, n: int, n_arms: int, horizon: int, rng: np.random.Generator) -> Any:
        """The state for n rows of a K-armed, H-step episode."""

    def act(self, state: Any, counts: np.ndarray, t: int,
            rng: np.random.Generator) -> np.ndarray:
        """counts (n, K, 2) int64 before step t -> arms (n,) int64."""

    def update(self, state: Any, counts: np.ndarray, t: int, arms: np.ndarray,
               rewards: np.ndarray) -> Any:
        """The state after pulling ``arms`` (n,) from ``counts`` and seeing ``rewards``."""


class NoState(NamedTuple):
    """The state of an agent that acts on the counts alone (it holds nothing)."""


class Rollout(NamedTuple):
    """One episode per row (row axis first).

    Attributes:
      arms: (n, H) int64, a_t.
      rewards: (n, H) int8 in {0, 1}, r_t.
      means: (n, H) float64, p[i, a_t] (the expected reward of the pulled arm).
      regret: (n,) float64, H · maxₖ p[i, k] − Σₜ p[i, a_t].
    """

    arms: np.ndarray
    rewards: np.ndarray
    means: np.ndarray
    regret: np.ndarray


def split_seed(seed) -> tuple[np.random.SeedSequence, np.random.SeedSequence]:
    """(outcome-table child, agent child) of ``seed`` (an int ≥ 0 or a SeedSequence)."""
    if isinstance(seed, np.random.SeedSequence):
        ss = seed
    elif isinstance(seed, Integral) and not isinstance(seed, bool) and seed >= 0:
        ss = np.random.SeedSequence(int(seed))
    else:
        raise ValueError(f"seed must be a non-negative int or a numpy SeedSequence; got {seed!r}")
    table, agent = ss.spawn(2)
    return table, agent


def sample_arms(probs: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Sample one arm per row from ``probs`` (n, K) (rows on the simplex) by inversion:

        aᵢ = #{k < K − 1 : uᵢ ≥ Σ_{j≤k} probs[i, j]},   uᵢ ∼ U[0, 1),

    drawing exactly ``rng.random(n)`` (n variates, whatever the probabilities)."""
    probs = np.asarray(probs, dtype=np.float64)
    u = rng.random(probs.shape[0])
    c = np.cumsum(probs, axis=1)
    arms = np.zeros(probs.shape[0], dtype=np.int64)
    for k in range(probs.shape[1] - 1):
        arms += u >= c[:, k]
    return arms


def _check_p(p) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 2 or p.shape[0] < 1 or p.shape[1] < 1:
        raise ValueError(f"p must have shape (n, K) with n, K >= 1; got shape {p.shape}")
    bad = ~np.isfinite(p) | (p < 0) | (p > 1)
    if bad.any():
        i, k = np.argwhere(bad)[0]
        raise ValueError(f"p must lie in [0, 1]; got p[{i}, {k}] = {p[i, k]}")
    return p


def check_int(x, name: str, lo: int) -> int:
    """``int(x)`` for an integer ``x ≥ lo`` (bools refused), else ValueError naming ``name``:
    the one integer-argument check of this package."""
    if not isinstance(x, Integral) or isinstance(x, bool) or x < lo:
        raise ValueError(f"{name} must be an int >= {lo}; got {x!r}")
    return int(x)


def _check_horizon(horizon) -> int:
    return check_int(horizon, "horizon", 1)


def _check_arms(arms, n: int, K: int, name: str, t: int) -> np.ndarray:
    arms = np.asarray(arms)
    if arms.shape != (n,) or not np.issubdtype(arms.dtype, np.integer):
        raise ValueError(f"agent {name!r} must return integer arms of shape ({n},) at step "
                         f"t={t}; got dtype {arms.dtype}, shape {arms.shape}")
    bad = (arms < 0) | (arms >= K)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"agent {name!r} returned arm {arms[i]} outside [0, {K}) in row {i} "
                         f"at step t={t}")
    return arms.astype(np.int64, copy=False)


def rollout(agent: Agent, p, horizon: int, seed) -> Rollout:
    """Run ``agent`` for ``horizon`` pulls on each row's Bernoulli bandit ``p[i]``.

    Args:
      agent: an :class:`Agent`.
      p: (n, K) float64 in [0, 1], the arms' success probabilities per row (task).
      horizon: H ≥ 1, pulls per row.
      seed: an int ≥ 0 or a SeedSequence; see the module docstring (common random numbers).

    Returns:
      A :class:`Rollout`. One numpy operation per step advances every row.

    Example:
      >>> from mesabase.sims.meta import Greedy
      >>> out = rollout(Greedy(), [[0.2, 0.9]], horizon=3, seed=0)
      >>> out.arms.shape, out.rewards.dtype.name
      ((1, 3), 'int8')
    """
    if not isinstance(agent, Agent):
        raise ValueError(f"agent must follow the Agent protocol (name, init, act, update); "
                         f"got {type(agent).__name__}")
    p = _check_p(p)
    H = _check_horizon(horizon)
    table_ss, agent_ss = split_seed(seed)
    n, K = p.shape
    U = np.random.Generator(np.random.PCG64(table_ss)).random((n, K, H))
    rng = np.random.Generator(np.random.PCG64(agent_ss))
    rows = np.arange(n)
    arms_out = np.empty((n, H), dtype=np.int64)
    rewards_out = np.empty((n, H), dtype=np.int8)
    counts = np.zeros((n, K, 2), dtype=np.int64)
    pulls = np.zeros((n, K), dtype=np.int64)
    state = agent.init(n, K, H, rng)
    for t in range(H):
        arms = _check_arms(agent.act(state, counts.copy(), t, rng), n, K, agent.name, t)
        j = pulls[rows, arms]
        r = U[rows, arms, j] < p[rows, arms]
        arms_out[:, t] = arms
        rewards_out[:, t] = r
        state = agent.update(state, counts.copy(), t, arms.copy(), r.astype(np.float64))
        counts[rows, arms, (~r).astype(np.int64)] += 1
        pulls[rows, arms] += 1
    means = np.take_along_axis(p, arms_out, axis=1)
    regret = H * p.max(axis=1) - means.sum(axis=1)
    return Rollout(arms_out, rewards_out, means, regret)
