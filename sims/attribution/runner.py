"""Running a scenario: ``run`` (simulate, then attribute) and the online shift.

**Online shift** (:func:`simulate_shift`). The environment is ``scenario.train`` for the
first T0 = ``scenario.shift_step`` steps and ``scenario.deploy.env`` afterwards; the learner
keeps learning. It is two calls of :func:`~mesabase.sims.simulation`: the second starts the
learner from its state at T0 (recovered by replaying its updates,
:func:`~mesabase.sims.attribution.transfer.replay`), through a learner whose ``init`` returns
that state. What carries over:

* θ, the update count (step-size schedules continue) and the running-mean baseline; a
  linear-softmax learner continues with the same θ through the deployment features;
* not the partial episode at T0: the episode is cut there (its eligibility trace and
  return are dropped), as the environment resets into the new layout;
* the random streams: phase 2 of seed n draws from seed ``SeedSequence([n, 1])``'s first
  32-bit word (deterministic, independent of phase 1's stream).

π*_t after T0 is computed on the post-shift history. The shift requires disjoint state
spaces (``Deployment.state_map`` None): then the pre-shift data constrain no deployment
state, and π*_t on the post-shift history *is* the whole history's π*_t on the deployment
states. Only :class:`~mesabase.sims.agents.reinforce.Reinforce` learners can be resumed (tabular
ones only when both environments have the same number of states).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..agents.reinforce import Reinforce
from ..scenarios.base import Scenario
from ..simulation import ShiftRun, simulate
from .transfer import is_linear, replay

__all__ = ["ShiftRun", "simulate_shift", "run"]


class _Resumed:
    """A learner that starts from a given state (its ``init`` returns it)."""

    def __init__(self, learner, state):
        self.learner, self._state = learner, state

    def init(self, n_seeds, n_states, n_actions, rng=None):
        if self._state.theta.shape[0] != n_seeds:
            raise ValueError(f"resumed state has {self._state.theta.shape[0]} seeds, "
                             f"not {n_seeds}")
        return self._state

    def policy(self, state):
        return self.learner.policy(state)

    def update(self, state, step):
        return self.learner.update(state, step)

    @property
    def action_probs(self):
        return self.learner.action_probs

    def __repr__(self) -> str:
        return f"resumed {self.learner!r}"


def _phase2_seeds(seeds: np.ndarray) -> list[int]:
    return [int(np.random.SeedSequence([int(s), 1]).generate_state(1)[0]) for s in seeds]


def simulate_shift(scenario: Scenario, learner, steps: int, seeds=1, *,
                   record_every: int = 1, shadow: str | None = "ce") -> ShiftRun:
    """Simulate the online shift of ``scenario`` (module docstring) for ``steps`` steps in all
    (T0 = ``scenario.shift_step`` of them before the shift)."""
    T0, dep = scenario.shift_step, scenario.deploy
    if T0 is None:
        raise ValueError(f"scenario {scenario.name!r} has no shift_step")
    if not int(steps) > T0:
        raise ValueError(f"steps ({steps}) must exceed the shift step T0 = {T0}")
    if dep.state_map is not None:
        raise ValueError("simulate_shift needs disjoint state spaces (Deployment.state_map "
                         "None)")
    if not isinstance(learner, Reinforce):
        raise TypeError(f"only Reinforce learners can be resumed after the shift; got "
                        f"{type(learner).__name__}")
    before = simulate(scenario.train, learner, T0, seeds, shadow=shadow,
                      record_every=record_every)
    _, st = replay(before)
    if is_linear(learner):
        if dep.features is None:
            raise ValueError("a linear-softmax learner needs Deployment.features to go on "
                             "learning after the shift")
        nxt = learner.replace(policy=dep.features)
    elif dep.env.n_states == scenario.train.n_states:
        nxt = learner
    else:
        raise ValueError("a tabular learner cannot carry over to a deployment environment "
                         "with another number of states; use a linear-softmax learner")
    st = st._replace(trace=np.zeros_like(st.trace), accum=np.zeros_like(st.accum),
                     disc=np.zeros_like(st.disc), return_sum=np.zeros_like(st.return_sum),
                     length=np.zeros_like(st.length))
    after = simulate(dep.env, _Resumed(nxt, st), int(steps) - T0, _phase2_seeds(before.seeds),
                     shadow=shadow, record_every=record_every)
    return ShiftRun(before, after, int(T0), scenario)


def run(scenario, learner=None, steps: int | None = None, seeds=None,
        record_every: int | None = None, environment: str | None = None,
        shadow: str | None = None, revealed: bool = False):
    """Simulate ``scenario`` with its defaults (or the given sizes) and attribute the run.

    Args:
      scenario: a :class:`Scenario` or a registered name.
      learner: a learner, the name of one of ``scenario.learners``, or None (the default).
      steps, seeds, record_every: override the scenario's sizes.
      environment: passed to :func:`~mesabase.sims.attribution.analysis.attribute`.
      shadow: the history objective (default ``scenario.shadow``).
      revealed: passed to :func:`~mesabase.sims.attribution.analysis.attribute` (the
        revealed-objective distances, :mod:`.revealed`).

    Returns:
      ``(run, attribution)``: a :class:`~mesabase.sims.simulation.Run` (a :class:`ShiftRun`
      for a scenario with a shift step) and its
      :class:`~mesabase.sims.attribution.Attribution`.
    """
    from ..scenarios import get_scenario
    from .analysis import attribute

    sc = get_scenario(scenario) if isinstance(scenario, str) else scenario
    L = sc.get_learner(learner)
    steps = sc.steps if steps is None else int(steps)
    seeds = sc.seeds if seeds is None else seeds
    k = sc.record_every if record_every is None else int(record_every)
    shadow = shadow or sc.shadow
    if sc.shift_step is not None:
        r = simulate_shift(sc, L, steps, seeds, record_every=k, shadow=shadow)
    else:
        r = dataclasses.replace(simulate(sc.train, L, steps, seeds, shadow=shadow,
                                         record_every=k), scenario=sc)
    return r, attribute(r, sc, environment, revealed=revealed)
