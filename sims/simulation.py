"""Online simulation: every seed advanced by one numpy operation per step.

    run = simulate(env, learner, steps, seeds, shadow="ce", record_every=...)

At step t each seed n acts a_t ~ π_t(·|s_t) from ``learner.policy(state)``, the
environment samples s_{t+1} and r_t, the transition is appended to ``run.history`` and
the learner updated. Episodes end after the horizon or on entering an absorbing state
and restart from μ0; a bandit (horizon 1) restarts every step.

The *shadow* π*_t = argmax L_t(π; H_t) is computed on the learner's own history (so both
face the same data) with the objective ``shadow`` (``"ce"``, ``"is"``, ``"log"`` or None),
at every recorded step, together with its argmax set.

Randomness: seed n's stream is ``numpy.random.default_rng(seed_n)``; it draws one
uniform for the first state, then four per step (action, next state, reward, reset), in
blocks of up to ``BLOCK`` steps (the block size changes no number: a seed's uniforms are
consumed in order from its own stream), so a seed's Run is bit-identical whatever else is
in the batch and however large the batch is.

Cost. A step is a few dozen numpy operations on (N,)-arrays; the bookkeeping around the
learner runs each of them along the long seed axis (uniforms are held step-major,
(B, 4, N); actions are sampled column by column), see benchmarks/reinforce.py.
``engine="numba"`` runs tabular step-mode REINFORCE in one compiled loop instead
(:mod:`mesabase.sims.agents.engine`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

import numpy as np

from mesabase.theory import History, expected_returns, solve
from mesabase.theory.checks import check_int

from .agents.full import FullOptimizer
from .agents.reinforce import DivergedError, Transition
from .envs.base import Env, sample_index

__all__ = ["simulate", "Run", "ShiftRun", "BLOCK"]

#: Steps of uniforms drawn per seed at a time, at most (any block size gives the same
#: numbers, since a seed's uniforms are consumed in order from its own stream).
BLOCK = 1024
#: Uniforms per buffer, 4·B·N ≤ 2²⁰ (8 MB), so blocks shrink for large batches (down to
#: 64 steps); larger buffers were no faster (benchmarks/reinforce.py).
_BUFFER = 1 << 20


def _record_steps(T: int, k: int) -> np.ndarray:
    """Recorded steps 0, k, 2k, … and always the final step T."""
    steps = np.arange(0, T + 1, k)
    return steps if steps[-1] == T else np.append(steps, T)


def _block_size(n_seeds: int, steps: int) -> int:
    return max(1, min(BLOCK, steps, max(64, _BUFFER // (4 * n_seeds))))


#: Seeds per chunk of a transposing copy (numpy copies a transposed array element by
#: element along the source's long stride; chunks of a few seeds keep it in cache).
_CHUNK = 8


def _draw(gens, U: np.ndarray, Ut: np.ndarray, nb: int) -> None:
    """Ut[:nb, :, i] ← the next nb × 4 uniforms of seed i's stream, through U (N, B, 4)
    (a generator fills only contiguous memory), so that each step reads (4, N) rows."""
    for i, g in enumerate(gens):
        g.random(out=U[i, :nb])
    for i in range(0, U.shape[0], _CHUNK):
        Ut[:nb, :, i:i + _CHUNK] = U[i:i + _CHUNK, :nb].transpose(1, 2, 0)


def _sample_actions(pi_s: np.ndarray, u: np.ndarray, ge: np.ndarray) -> np.ndarray:
    """a_n = #{k < A−1 : u_n ≥ c_n[k]}, c_n = cumsum π_n — :func:`sample_index` on
    ``np.cumsum(pi_s, axis=1)``, bit for bit (the same sequential sums), column by column:
    numpy reduces short rows one at a time, several times slower. ``ge``: (N,) bool."""
    N, A = pi_s.shape
    if A == 1:
        return np.zeros(N, dtype=np.int64)
    if A > 256:  # the uint8 counter below would overflow
        return sample_index(np.cumsum(pi_s, axis=1), u)
    c = pi_s[:, 0].copy()
    np.greater_equal(u, c, out=ge)
    count = ge.view(np.uint8).copy()
    for j in range(1, A - 1):
        c += pi_s[:, j]
        np.greater_equal(u, c, out=ge)
        count += ge.view(np.uint8)
    return count.astype(np.int64)


def _seed_list(seeds) -> np.ndarray:
    """A count N -> seeds 0…N−1; a list of non-negative integer seeds as given. bools (a
    count of True?) and floats are refused, in the count and in the list."""
    if isinstance(seeds, (bool, np.bool_)):
        raise ValueError(f"seeds must be a count (an integer >= 1) or a list of integer "
                         f"seeds; got {seeds!r}")
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"seeds must be >= 1 (a count) or a list of seeds; got {seeds}")
        return np.arange(int(seeds))
    try:
        arr = np.asarray(list(seeds))
    except TypeError:
        raise ValueError(f"seeds must be a count (an integer >= 1) or a list of integer "
                         f"seeds; got {seeds!r}") from None
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
      scenario: the Scenario the run belongs to, when made by
        :func:`mesabase.sims.scenarios.run` (so ``attribute(run)`` needs nothing else).
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
    scenario: object = None
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
             record_every: int = 1, engine: str = "numpy") -> Run:
    """Run ``learner`` online in ``env`` for ``steps`` steps on every seed at once.

    Args:
      env: an :class:`~mesabase.sims.envs.Env`.
      learner: a learner (``init``/``policy``/``update``; e.g. ``Reinforce``,
        ``FullOptimizer``); one with a ``bind(env)`` method is bound to ``env`` first, and
        one with ``action_probs(state, s)`` is asked only for the rows it acts in.
      steps: T ≥ 0, the number of transitions per seed (an integer: ``int`` or a numpy
        integer; a float, even 3.0, or a bool is refused).
      seeds: a count N ≥ 1 (seeds 0…N−1) or a list of non-negative integer seeds (bools
        refused).
      shadow: the history objective of the shadow π*_t, or None for no shadow.
      record_every: record policies every k ≥ 1 steps (and at t = 0 and the final step T);
        an integer, as ``steps``.
      engine: ``"numpy"`` (the reference) or ``"numba"``: a fused compiled kernel for
        tabular step-mode ``Reinforce`` with a constant step size and no shadow (see
        :mod:`mesabase.sims.agents.engine`; needs the optional numba), equal to the numpy path to
        rounding.

    Returns:
      A :class:`Run`.

    Raises:
      DivergedError: (:mod:`mesabase.sims.agents.reinforce`) when a learner's update overflows,
        naming the step and the seed.
    """
    if not isinstance(env, Env):
        raise TypeError(f"env must be an Env (see mesabase.sims.envs); got {type(env).__name__}")
    T = check_int(steps, "steps", lo=0)
    k_rec = check_int(record_every, "record_every", lo=1)
    if engine not in ("numpy", "numba"):
        raise ValueError(f"engine must be 'numpy' or 'numba'; got {engine!r}")
    seeds = _seed_list(seeds)
    N, S, A = seeds.size, env.n_states, env.n_actions
    if hasattr(learner, "bind"):
        learner = learner.bind(env)
    if engine == "numba":
        return _simulate_numba(env, learner, T, seeds, k_rec, shadow)
    shadow_opt = None
    if shadow is not None:
        shadow_opt = FullOptimizer(objective=shadow).bind(env)
        if shadow_opt.horizon is None and shadow_opt.gamma >= 1.0:
            raise ValueError("a shadow needs an environment with gamma < 1 or a horizon")
    gens = [np.random.default_rng(int(s)) for s in seeds]
    state = learner.init(N, S, A, None)
    history = History(N, max(T, 1))
    record_steps = _record_steps(T, k_rec)
    R_ = record_steps.size
    policies = np.empty((N, R_, S, A))
    sh_pol = np.empty((N, R_, S, A)) if shadow else None
    sh_opt = np.empty((N, R_, S, A), dtype=bool) if shadow else None
    sh_ret = np.empty((N, R_)) if shadow else None
    sh_state = shadow_opt.init(N, S, A) if shadow else None
    n = np.arange(N)
    H = env.horizon
    masked, last = env.mdp.is_masked, env.last_allowed

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
    B = _block_size(N, T)
    U = np.empty((N, B, 4))               # seed i's next B steps of uniforms, refilled
    Ut = np.empty((B, 4, N))              # the same, step-major
    ge = np.empty(N, dtype=bool)
    u_first = np.array([g.random() for g in gens])
    s = env.reset(u_first)
    k = np.zeros(N, dtype=np.int64)
    record(0)
    rec = 1
    for t in range(T):
        j = t % B
        if j == 0:
            _draw(gens, U, Ut, min(B, T - t))
        u = Ut[j]
        pi_s = act(state, s)                                     # (N, A)
        a = _sample_actions(pi_s, u[0], ge)
        if masked:  # rounding cannot reach a trailing disallowed action (sims.envs.base)
            off = (pi_s > 0) & ~env.allowed[s]
            if off.any():
                i, b = (int(x) for x in np.argwhere(off)[0])
                raise ValueError(f"the learner gives probability {pi_s[i, b]!r} to action {b}, "
                                 f"not allowed in state {int(s[i])} (seed {int(seeds[i])}, "
                                 f"step {t}); bind it to the environment's mask")
            a = np.minimum(a, last[s])
        prob = pi_s[n, a]
        s2 = env.next_state(s, a, u[1])
        r = env.reward(s, a, u[2])
        k = k + 1
        done = env.absorbing[s2] if H is None else (env.absorbing[s2] | (k >= H))
        history._append_unchecked(s, a, r, s2, prob, done)     # valid by construction
        step = Transition(s, a, r, s2, prob, done, t)
        try:
            state = learner.update(state, step)
        except DivergedError as e:
            raise e.with_seed(int(seeds[e.row])) from None
        if shadow:
            c = sh_state.counts
            c[n, s, a, s2] += 1.0
            sh_state.rsum[n, s, a] += r
        s = np.where(done, env.reset(u[3]), s2)
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


# ---- the fused fast path (engine="numba"); the numpy loop above is the reference --------
def _simulate_numba(env: Env, learner, T: int, seeds: np.ndarray, k_rec: int, shadow) -> Run:
    """``simulate`` through :func:`mesabase.sims.agents.engine.reinforce_run`: the same streams
    (one uniform for the first state, then four per step) and the same Run."""
    from .agents import engine as fast

    if not fast.available():
        raise ImportError("engine='numba' needs numba, an optional dependency: "
                          "pip install 'mesabase[fast]' (or pip install numba)")
    why = fast.unsupported(env, learner, shadow)
    if why is not None:
        raise ValueError(f"engine='numba' cannot run this configuration: {why}; "
                         f"use engine='numpy'")
    N = seeds.size
    gens = [np.random.default_rng(int(s)) for s in seeds]
    s0 = env.reset(np.array([g.random() for g in gens]))
    history = History(N, max(T, 1))
    record_steps = _record_steps(T, k_rec)
    try:
        theta_rec = fast.reinforce_run(env, learner, T, gens, s0, record_steps, history._data)
    except DivergedError as e:
        raise e.with_seed(int(seeds[e.row])) from None
    history._t = T
    policies = learner.policy(learner.init(N, env.n_states, env.n_actions)._replace(
        theta=theta_rec.reshape(-1, env.n_states, env.n_actions)))
    return Run(env=env, learner=learner, shadow=None, seeds=seeds, steps=record_steps,
               history=history, policies=policies.reshape(theta_rec.shape),
               shadow_policies=None, shadow_optimal=None, shadow_returns=None)


class ShiftRun(NamedTuple):
    """The two phases of an online shift: ``before`` (steps 0..T0, training env) and
    ``after`` (steps T0.., deployment env; its steps count from T0)."""

    before: Run
    after: Run
    shift_step: int
    scenario: object = None
