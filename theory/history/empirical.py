"""The certainty-equivalent model of a history: counts, means, a prior, and a stated rule
for the state-action pairs the data never tried.

For one seed, with n(s, a, s') the transition counts, n(s, a) = Σ_s' n(s, a, s') and
Σr(s, a) the summed rewards of the first t steps:

    P̂[s, a, s'] = (n(s, a, s') + α[s, a, s']) / (n(s, a) + Σ_s'' α[s, a, s''])
    R̂[s, a]     = (Σr(s, a) + w·r₀) / (n(s, a) + w)

α is a Dirichlet prior on transitions (``prior``, default 0: pure counts), r₀ a prior mean
reward (``reward_prior``, default 0) with pseudo-count w (``reward_weight``, default 0).

**Unvisited pairs** (n(s, a) = 0 and no prior mass): the data say nothing, and the model
must still be an MDP. The rule is a parameter, recorded in the result as ``rule``:

* ``"self-loop"`` (the default): P̂[s, a, s] = 1 and R̂[s, a] = r₀ — an untried action
  keeps the agent where it is and earns the prior mean reward (0 by default) forever;
* ``"uniform"``: P̂[s, a, ·] uniform over states, R̂[s, a] = r₀.

Either way the rule is an assumption, not data: attribution treats what the history
leaves undetermined as part of the objective's argmax set (see docs/concepts.md §3.4).
"""

from __future__ import annotations

import numpy as np

from ..checks import check_int, check_real, real_array
from ..mdp import TabularMDP
from ..solvers.batch import MDPBatch
from .records import History

__all__ = ["empirical_mdp", "EmpiricalMDP", "EmpiricalBatch", "empirical_counts", "UNVISITED"]

UNVISITED = ("self-loop", "uniform")


def empirical_counts(history: History, n_states: int, n_actions: int):
    """``(counts, reward_sums)``: n[n, s, a, s'] (N, S, A, S) and Σr[n, s, a] (N, S, A)."""
    S, A = check_int(n_states, "n_states", lo=1), check_int(n_actions, "n_actions", lo=1)
    for name, arr, bound in (("states", history.states, S), ("actions", history.actions, A),
                             ("next_states", history.next_states, S)):
        if arr.size and arr.max() >= bound:
            i = tuple(int(j) for j in np.argwhere(arr >= bound)[0])
            raise ValueError(f"history {name}[{i[0]}, {i[1]}] = {arr[i]} is out of range "
                             f"(must be < {bound})")
    N, T = history.states.shape
    flat = ((np.arange(N)[:, None] * S + history.states) * A + history.actions) * S
    flat = flat + history.next_states
    counts = np.bincount(flat.ravel(), minlength=N * S * A * S).reshape(N, S, A, S)
    sa = (np.arange(N)[:, None] * S + history.states) * A + history.actions
    rsum = np.bincount(sa.ravel(), weights=history.rewards.ravel(),
                       minlength=N * S * A).reshape(N, S, A)
    return counts.astype(np.float64), rsum


def model_arrays(counts, rsum, *, prior=0.0, reward_prior=0.0, reward_weight=0.0,
                 unvisited="self-loop"):
    """(P̂, R̂, unvisited mask) from counts (…, S, A, S) and reward sums (…, S, A)."""
    if unvisited not in UNVISITED:
        raise ValueError(f"unvisited must be one of {UNVISITED}; got {unvisited!r}")
    S = counts.shape[-1]
    alpha = np.broadcast_to(real_array(prior, "prior"), counts.shape[-3:])
    if (alpha < 0).any() or not np.isfinite(alpha).all():
        raise ValueError("prior (Dirichlet pseudo-counts) must be finite and >= 0")
    reward_weight = check_real(reward_weight, "reward_weight", lo=0.0)
    reward_prior = check_real(reward_prior, "reward_prior")
    visits = counts.sum(axis=-1)
    mass = counts + alpha
    total = mass.sum(axis=-1)
    empty = total <= 0
    with np.errstate(invalid="ignore", divide="ignore"):
        P = np.where(empty[..., None], 0.0, mass / np.where(empty, 1.0, total)[..., None])
        denom = visits + reward_weight
        R = np.where(denom > 0, (rsum + reward_weight * reward_prior) / np.where(
            denom > 0, denom, 1.0), reward_prior)
    if empty.any():
        if unvisited == "self-loop":
            P[empty] = np.eye(S)[np.nonzero(empty)[-2]]
        else:
            P[empty] = 1.0 / S
    return P, R, visits == 0


class EmpiricalMDP(TabularMDP):
    """A TabularMDP estimated from one seed's history; also carries the evidence.

    Extra attributes: ``counts`` (S, A, S), ``visits`` (S, A), ``unvisited`` bool (S, A)
    (pairs with no data), ``rule`` (the unvisited-pair rule used), ``prior``,
    ``reward_prior``.
    """

    __slots__ = ("counts", "visits", "unvisited", "rule", "prior", "reward_prior")


class EmpiricalBatch(MDPBatch):
    """An MDPBatch of empirical models, one per seed, with ``counts`` (N, S, A, S),
    ``visits`` (N, S, A), ``unvisited`` (N, S, A), ``rule``, ``prior``, ``reward_prior``."""

    __slots__ = ("counts", "visits", "unvisited", "rule", "prior", "reward_prior")


def empirical_mdp(history: History, n_states: int, n_actions: int, *, prior=0.0,
                  reward_prior: float = 0.0, reward_weight: float = 0.0,
                  unvisited: str = "self-loop", gamma: float = 0.9, horizon=None, mu0=None,
                  allowed=None):
    """The certainty-equivalent model of ``history`` (formulas in the module docstring).

    Args:
      history: a :class:`History` (N seeds, t steps).
      n_states, n_actions: S and A of the model.
      prior: Dirichlet pseudo-counts α, a scalar or an (S, A, S) array (default 0).
      reward_prior: prior mean reward r₀ (default 0), used with weight ``reward_weight``
        and for unvisited pairs.
      unvisited: the rule for pairs never tried: ``"self-loop"`` (default) or ``"uniform"``.
      gamma, horizon, mu0: those of the returned model (default γ = 0.9, no horizon,
        uniform μ0) — the counts do not depend on them.
      allowed: bool (S, A) action mask of the model (the environment's ``allowed``;
        default all True): the model's solvers then never choose a disallowed action, and
        data recorded at a disallowed pair is not read.

    Returns:
      An :class:`EmpiricalMDP` for a single-seed history (``History.from_arrays`` with 1-D
      arrays, or ``history.seed(i)``), else an :class:`EmpiricalBatch` with a seed axis.

    Example:
      >>> h = History.from_arrays([0, 0, 1], [1, 1, 0], [1.0, 0.0, 2.0], [1, 0, 1], [.5, .5, .5])
      >>> m = empirical_mdp(h, 2, 2)
      >>> m.P[0, 1].tolist(), float(m.R[0, 1]), m.rule, m.unvisited.tolist()
      ([0.5, 0.5], 0.5, 'self-loop', [[True, False], [False, True]])
    """
    counts, rsum = empirical_counts(history, n_states, n_actions)
    P, R, unv = model_arrays(counts, rsum, prior=prior, reward_prior=reward_prior,
                             reward_weight=reward_weight, unvisited=unvisited)
    if history.single:
        out = EmpiricalMDP(P[0], R[0], gamma=gamma, horizon=horizon, mu0=mu0, allowed=allowed)
        extra = (counts[0], counts[0].sum(-1), unv[0])
    else:
        out = EmpiricalBatch(P, R, gamma=gamma, horizon=horizon, mu0=mu0, allowed=allowed)
        extra = (counts, counts.sum(-1), unv)
    out.counts, out.visits, out.unvisited = extra
    out.rule, out.prior, out.reward_prior = unvisited, prior, reward_prior
    return out
