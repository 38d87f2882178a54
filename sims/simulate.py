"""Online simulation: every seed advanced by one numpy operation per step.

    run = simulate(env, learner, steps, seeds, shadow="ce", record_every=...)

At step t each seed n acts a_t ~ π_t(·|s_t) from ``learner.policy(state)``, the
environment samples s_{t+1} and r_t, the transition is appended to ``run.history`` and
the learner updated. Episodes end after the horizon or on entering an absorbing state
and restart from μ0; a bandit (horizon 1) restarts every step.

The *shadow* π*_t = argmax L_t(π; H_t) is computed on the learner's own history (so both
face the same data) with the objective ``shadow`` (``"ce"``, ``"is"``, ``"log"`` or None),
at every recorded step, together with its argmax set.

Randomness: seed n's stream is ``numpy.random.default_rng(seed_n)``; it draws four
uniforms per step (action, next state, reward, reset) in blocks, so a seed's Run is
bit-identical whatever else is in the batch and however large the batch is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mesabase.theory import History, expected_returns, solve

from .envs.base import Env, sample_index
from .full import FullOptimizer
from .learners import Transition

__all__ = ["simulate", "Run", "BLOCK"]

#: Steps of uniforms drawn per seed at a time.
BLOCK = 1024


def _seed_list(seeds) -> np.ndarray:
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1 (a count) or a list of seeds; got {seeds}")
        return np.arange(int(seeds))
    arr = np.asarray(list(seeds))
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError("seeds must be a count or a non-empty list of integer seeds")
    if (arr < 0).any():
        raise ValueError("seeds must be non-negative integers")
    return arr


@dataclass(frozen=True, eq=False)
class Run:
    """The record of a simulation (seed axis first).

    Attributes:
      env, learner, shadow: what was run.
      seeds: (N,) the seeds.
      steps: (R,) the recorded steps t (transitions seen so far): 0, k, 2k, …
      history: the :class:`~mesabase.theory.History`, arrays (N, T).
      policies: (N, R, S, A) the learner's policy at each recorded step.
      shadow_policies: (N, R, S, A) π*_t on the learner's history, uniform over its argmax
        set (for a horizon-H model: the decision rule of an episode's first step), or None.
      shadow_optimal: (N, R, S, A) bool, the argmax set of π*_t (same convention), or None.
      shadow_returns: (N, R) exact expected return of π*_t in ``env`` (per-step policies
        evaluated as such), or None.
    """

    env: Env
    learner: object
    shadow: str | None
    seeds: np.ndarray
    steps: np.ndarray
    history: History
    policies: np.ndarray
    shadow_policies: np.ndarray | None
    shadow_optimal: np.ndarray | None
    shadow_returns: np.ndarray | None
    _frame: list = field(default_factory=list, repr=False)

    def learner_returns(self) -> np.ndarray:
        """(N, R): exact expected return J(π_θt) under the base reward, by evaluation."""
        N, R, S, A = self.policies.shape
        return expected_returns(self.env.mdp, self.policies.reshape(N * R, S, A)).reshape(N, R)

    def to_frame(self):
        """Tidy table, one row per seed × recorded step: ``seed``, ``step``,
        ``return_learner``, ``return_shadow`` (NaN without a shadow), ``return_optimal``
        (J* of the environment) — exact expected returns, not sampled."""
        if not self._frame:
            import pandas as pd

            N, R = self.policies.shape[:2]
            j_star = float(self.env.mdp.mu0 @ np.atleast_2d(solve(self.env.mdp).V)[0])
            shadow = (np.full((N, R), np.nan) if self.shadow_returns is None
                      else self.shadow_returns)
            self._frame.append(pd.DataFrame({
                "seed": np.repeat(self.seeds, R),
                "step": np.tile(self.steps, N),
                "return_learner": self.learner_returns().ravel(),
                "return_shadow": shadow.ravel(),
                "return_optimal": j_star,
            }))
        return self._frame[0].copy()


def _per_step_returns(mdp, policies: np.ndarray) -> np.ndarray:
    """J of per-step policies pi[m, t, s, a] (M, H, S, A) in a horizon-H MDP."""
    M, H, S, A = policies.shape
    V = np.zeros((M, S))
    for t in range(H - 1, -1, -1):
        PV = np.asarray(mdp.P_matrix @ V.T).T.reshape(M, S, A)
        V = (policies[:, t] * (mdp.R + mdp.gamma * PV)).sum(-1)
    return V @ mdp.mu0


def simulate(env: Env, learner, steps: int, seeds=1, shadow: str | None = "ce",
             record_every: int = 1) -> Run:
    """Run ``learner`` online in ``env`` for ``steps`` steps on every seed at once.

    Args:
      env: an :class:`~mesabase.sims.envs.Env`.
      learner: a learner (``init``/``policy``/``update``; e.g. ``Reinforce``,
        ``FullOptimizer``); one with a ``bind(env)`` method is bound to ``env`` first, and
        one with ``action_probs(state, s)`` is asked only for the rows it acts in.
      steps: T, the number of transitions per seed.
      seeds: a count N (seeds 0…N−1) or a list of non-negative integer seeds.
      shadow: the history objective of the shadow π*_t, or None for no shadow.
      record_every: record policies every k steps (and at t = 0).

    Returns:
      A :class:`Run`.
    """
    if not isinstance(env, Env):
        raise TypeError(f"env must be an Env (see mesabase.sims.envs); got {type(env).__name__}")
    if int(steps) < 0:
        raise ValueError(f"steps must be >= 0; got {steps}")
    if int(record_every) < 1:
        raise ValueError(f"record_every must be >= 1; got {record_every}")
    seeds = _seed_list(seeds)
    T, k_rec = int(steps), int(record_every)
    N, S, A = seeds.size, env.n_states, env.n_actions
    if hasattr(learner, "bind"):
        learner = learner.bind(env)
    shadow_opt = None
    if shadow is not None:
        shadow_opt = FullOptimizer(objective=shadow).bind(env)
        if shadow_opt.horizon is None and shadow_opt.gamma >= 1.0:
            raise ValueError("a shadow needs an environment with gamma < 1 or a horizon")
    gens = [np.random.default_rng(int(s)) for s in seeds]
    state = learner.init(N, S, A, None)
    history = History(N, max(T, 1))
    record_steps = np.arange(0, T + 1, k_rec)
    R_ = record_steps.size
    policies = np.empty((N, R_, S, A))
    sh_pol = np.empty((N, R_, S, A)) if shadow else None
    sh_opt = np.empty((N, R_, S, A), dtype=bool) if shadow else None
    sh_ret = np.empty((N, R_)) if shadow else None
    sh_state = shadow_opt.init(N, S, A) if shadow else None
    n = np.arange(N)
    H = env.horizon

    def record(i):
        policies[:, i] = learner.policy(state)
        if shadow is None:
            return
        target, optimal = sh_state.target, sh_state.optimal
        if target.ndim == 4:  # per-step (horizon) model
            sh_ret[:, i] = _per_step_returns(env.mdp, target)
            target, optimal = target[:, 0], optimal[:, 0]
        else:
            sh_ret[:, i] = expected_returns(env.mdp, target)
        sh_pol[:, i], sh_opt[:, i] = target, optimal

    act = getattr(learner, "action_probs", None) or (lambda st, s_: learner.policy(st)[n, s_])
    U = np.empty((N, 0, 4))
    u_first = np.array([g.random() for g in gens])
    s = env.reset(u_first)
    k = np.zeros(N, dtype=np.int64)
    record(0)
    rec = 1
    for t in range(T):
        j = t % BLOCK
        if j == 0:
            U = np.stack([g.random((BLOCK, 4)) for g in gens])
        u = U[:, j]
        pi_s = act(state, s)                                     # (N, A)
        a = sample_index(np.cumsum(pi_s, axis=1), u[:, 0])
        prob = pi_s[n, a]
        s2 = env.next_state(s, a, u[:, 1])
        r = env.reward(s, a, u[:, 2])
        k = k + 1
        done = env.absorbing[s2] if H is None else (env.absorbing[s2] | (k >= H))
        history.append(s, a, r, s2, prob, done)
        step = Transition(s, a, r, s2, prob, done, t)
        state = learner.update(state, step)
        if shadow:
            c = sh_state.counts
            c[n, s, a, s2] += 1.0
            sh_state.rsum[n, s, a] += r
        s = np.where(done, env.reset(u[:, 3]), s2)
        k = np.where(done, 0, k)
        if rec < R_ and t + 1 == record_steps[rec]:
            if shadow:
                acts, optimal = shadow_opt.solve(sh_state.counts, sh_state.rsum,
                                                 sh_state.actions, history)
                sh_state = sh_state._replace(actions=acts, optimal=optimal,
                                             target=shadow_opt._target(optimal, sh_state.rsum))
            record(rec)
            rec += 1
    return Run(env=env, learner=learner, shadow=shadow, seeds=seeds, steps=record_steps,
               history=history, policies=policies, shadow_policies=sh_pol,
               shadow_optimal=sh_opt, shadow_returns=sh_ret)
