"""The full optimiser: act by π*_t = argmax_π L_t(π; H_t) at every step (docs/concepts.md §1).

"Optimise θ all the way to convergence before every single action": before each action
the learner recomputes, exactly, the maximiser of the history objective over everything
it has seen, and acts by it. ``objective`` picks L_t (see
:mod:`mesabase.theory.history.objectives`): ``"ce"`` (certainty equivalence), ``"is"``
(importance-weighted return), ``"log"`` (the seed's literal Σ r log π).

Tie-breaking: argmax L_t is a set. ``tie="uniform"`` acts uniformly over the optimal
actions of the current state (the full optimiser has no reason to prefer one);
``tie="first"`` takes the lowest-index optimal action. For ``"log"`` the maximiser is a
stochastic policy and is used as it is (ties only arise in states with no data, where
it is uniform). ε-exploration: π = (1 − ε) π*_t + ε · uniform.

Action masks: bound to an environment whose MDP disallows some actions, the CE model
carries the mask (:class:`~mesabase.theory.MDPBatch` ``allowed``), so π*_t and its argmax
set never contain a disallowed action, and ε-exploration is uniform over the allowed
actions. Only ``"ce"`` takes a mask (``"is"`` and ``"log"`` raise a ValueError).

Horizons: in an environment with horizon H the ``"ce"`` model has horizon H and π*_t is
the optimal *per-step* policy; the optimiser tracks each seed's step within its episode
and acts by the decision rule for that step. Otherwise the model is discounted with the
environment's γ (required < 1).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import numpy as np

from mesabase.theory import MDPBatch, solve_batch
from mesabase.theory.checks import check_int, check_real
from mesabase.theory.history.empirical import model_arrays
from mesabase.theory.history.incremental import IncrementalCE
from mesabase.theory.history.objectives import OBJECTIVES, history_optimal, log_optimal
from mesabase.theory.history.records import History

__all__ = ["FullOptimizer", "FullState", "TIES"]

TIES = ("uniform", "first")


class FullState(NamedTuple):
    counts: np.ndarray     # (N, S, A, S) transition counts
    rsum: np.ndarray       # (N, S, A) summed rewards
    actions: np.ndarray    # (N, S) or (N, H, S): last π*_t's deterministic actions (warm start)
    optimal: np.ndarray    # (N, S, A) or (N, H, S, A) bool: argmax set of π*_t
    target: np.ndarray     # (N, S, A) or (N, H, S, A): π*_t with ties broken (before ε)
    k: np.ndarray          # (N,) int: step within the current episode
    history: History | None  # kept only for objective "is"
    engine: IncrementalCE | None = None  # "ce", γ < 1, no horizon: updated in place


def break_ties(optimal: np.ndarray, tie: str) -> np.ndarray:
    """π* with ties broken, from a boolean argmax set ``optimal`` (..., A): ``"uniform"``
    spreads mass evenly over the optimal actions, ``"first"`` puts it all on the first one."""
    if tie == "uniform":
        return optimal / optimal.sum(axis=-1, keepdims=True)
    first = np.argmax(optimal, axis=-1)
    return (first[..., None] == np.arange(optimal.shape[-1])).astype(np.float64)


@dataclass(frozen=True)
class FullOptimizer:
    """Acts by π*_t, the exact maximiser of the history objective, at every step.

    Args:
      objective: ``"ce"``, ``"is"`` or ``"log"``.
      epsilon: ε-exploration mass, in [0, 1].
      tie: ``"uniform"`` or ``"first"`` (module docstring).
      gamma, horizon: the model's discount and horizon; ``None`` takes the environment's
        (``simulate`` binds them with :meth:`bind`).
      prior, reward_prior, unvisited: the CE model (:func:`mesabase.theory.empirical_mdp`).
      tol: optimal-action tolerance.
      allowed: the action mask (S, A) as nested tuples of bools, or None (every action);
        :meth:`bind` takes the environment's.
    """

    objective: str = "ce"
    epsilon: float = 0.0
    tie: str = "uniform"
    gamma: float | None = None
    horizon: int | None = None
    prior: float = 0.0
    reward_prior: float = 0.0
    unvisited: str = "self-loop"
    tol: float = 1e-10
    allowed: tuple | None = None

    def __post_init__(self):
        if self.allowed is not None:
            m = np.asarray(self.allowed)
            if m.dtype != bool or m.ndim != 2 or not m.any(axis=1).all():
                raise ValueError("allowed must be a bool (S, A) mask with an allowed action "
                                 "in every state")
            object.__setattr__(self, "allowed", None if m.all() else tuple(
                tuple(bool(x) for x in row) for row in m))
        if self.allowed is not None and self.objective != "ce":
            raise ValueError(f"objective {self.objective!r} does not support action masks "
                             'yet; use "ce"')
        if self.objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {OBJECTIVES}; got {self.objective!r}")
        check_real(self.epsilon, "epsilon", lo=0.0, hi=1.0)
        if self.tie not in TIES:
            raise ValueError(f"tie must be one of {TIES}; got {self.tie!r}")
        check_real(self.tol, "tol", lo=0.0, lo_open=True)
        if self.gamma is not None:
            check_real(self.gamma, "gamma", lo=0.0, hi=1.0)
        if self.horizon is not None:
            check_int(self.horizon, "horizon", lo=1)
        check_real(self.reward_prior, "reward_prior")

    def bind(self, env) -> FullOptimizer:
        """This optimiser with γ and the horizon taken from ``env`` where unset."""
        gamma = env.mdp.gamma if self.gamma is None else self.gamma
        horizon = env.mdp.horizon if self.horizon is None and self.gamma is None else self.horizon
        allowed = self.allowed
        if env.mdp.is_masked:
            allowed = env.mdp.allowed if allowed is None else env.mdp.allowed & self._mask()
        return replace(self, gamma=gamma, horizon=horizon, allowed=allowed)

    def _mask(self):
        """The mask as a bool array, or None."""
        return None if self.allowed is None else np.array(self.allowed, dtype=bool)

    def _per_step(self) -> bool:
        return self.objective == "ce" and self.horizon is not None

    def init(self, n_seeds, n_states, n_actions, rng=None) -> FullState:
        if self.gamma is None:
            raise ValueError("FullOptimizer needs gamma: pass gamma=... or use simulate() "
                             "(which binds the environment's)")
        N, S, A = n_seeds, n_states, n_actions
        shape = (N, self.horizon, S) if self._per_step() else (N, S)
        optimal = np.ones(shape + (A,), dtype=bool)  # no data: every action is optimal
        if self.allowed is not None:
            optimal &= self._mask()  # … that is allowed
        hist = History(N, 256) if self.objective == "is" else None
        engine = None
        if self._incremental():
            engine = IncrementalCE(N, S, A, self.gamma, prior=self.prior,
                                   reward_prior=self.reward_prior, unvisited=self.unvisited,
                                   tol=self.tol)
        return FullState(np.zeros((N, S, A, S)), np.zeros((N, S, A)), np.zeros(shape, int),
                         optimal, break_ties(optimal, self.tie), np.zeros(N, int), hist,
                         engine)

    def _incremental(self) -> bool:
        """CE with a discounted model: one row changes per step, so re-solve incrementally
        (:class:`~mesabase.theory.history.incremental.IncrementalCE`: a rank-one update of
        (I − γ P̂_π)⁻¹ and warm-started policy iteration, tested equal to a fresh solve)."""
        return (self.objective == "ce" and self.horizon is None and self.gamma < 1.0
                and np.ndim(self.prior) == 0 and self.allowed is None)

    def policy(self, state: FullState) -> np.ndarray:
        """(N, S, A): (1 − ε) π*_t + ε uniform, at each seed's step in its episode."""
        target = state.target
        if self._per_step():
            H = target.shape[1]
            target = target[np.arange(target.shape[0]), np.minimum(state.k, H - 1)]
        A = target.shape[-1]
        if self.allowed is not None:
            m = self._mask()
            return (1.0 - self.epsilon) * target + self.epsilon * m / m.sum(-1, keepdims=True)
        return (1.0 - self.epsilon) * target + self.epsilon / A

    def update(self, state: FullState, step) -> FullState:
        """The state after ``step``. Pure except for the incremental CE engine, which is
        advanced in place (the previous state's ``engine`` is the same object)."""
        if state.engine is not None:
            eng = state.engine
            eng.update(step.state, step.action, step.reward, step.next_state)
            optimal = np.array(eng.optimal)
            k = np.where(step.done, 0, state.k + 1)
            return state._replace(actions=np.array(eng.actions), optimal=optimal,
                                  target=break_ties(optimal, self.tie), k=k,
                                  counts=eng.counts, rsum=eng.reward_sums)
        N = state.counts.shape[0]
        n = np.arange(N)
        counts = state.counts.copy()
        rsum = state.rsum.copy()
        counts[n, step.state, step.action, step.next_state] += 1.0
        rsum[n, step.state, step.action] += step.reward
        k = np.where(step.done, 0, state.k + 1)
        hist = state.history
        if hist is not None:
            hist.append(step.state, step.action, step.reward, step.next_state, step.prob,
                        step.done)
        actions, optimal = self.solve(counts, rsum, state.actions, hist)
        return FullState(counts, rsum, actions, optimal, self._target(optimal, rsum), k, hist)

    def _target(self, optimal, rsum):
        if self.objective == "log":
            return log_optimal(rsum)[0]
        return break_ties(optimal, self.tie)

    def solve(self, counts, rsum, actions0, history=None):
        """(actions, optimal) of π*_t from the sufficient statistics (warm-started)."""
        S, A = counts.shape[1], counts.shape[2]
        if self.objective == "log":
            pol, optimal, _, _ = log_optimal(rsum)
            return np.argmax(pol, axis=-1), optimal
        if self.objective == "is":
            sol = history_optimal(history, "is", n_states=S, n_actions=A, gamma=self.gamma,
                                  tol=self.tol)
            return sol.actions, sol.optimal
        P, R, _ = model_arrays(counts, rsum, prior=self.prior, reward_prior=self.reward_prior,
                               unvisited=self.unvisited)
        batch = MDPBatch(P, R, gamma=self.gamma, horizon=self.horizon, allowed=self._mask())
        if self.horizon is not None:
            sol = solve_batch(batch, "backward", self.tol)
        else:
            sol = solve_batch(batch, "pi", self.tol, actions0=actions0)
        return np.array(sol.actions), np.array(sol.optimal)
