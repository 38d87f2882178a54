"""Bring your own learner: attribute a run made by any agent, from its history and policies.

    attribution = attribute_policies(scenario, history, policies, steps, environment="train")

An agent mesabase did not write (a Q-learner, a PPO run in Gymnasium, a logged policy) is
attributed exactly as mesabase's own learners are (:func:`~mesabase.sims.attribute`), from
what such a run leaves behind:

* ``history``: its transitions in the scenario's training environment, a
  :class:`~mesabase.theory.History` (``History.from_arrays``, ``History.from_transitions``,
  or ``RecordEpisodes(env).history`` while it ran in ``to_gymnasium(scenario)``), N seeds
  side by side, or a list of N one-seed histories of one length;
* ``policies``: its policy π_t[n, r, s, a] at the recorded steps, (N, R, S, A) (or (R, S, A)
  for one seed): the action distribution it would use at step t = ``steps[r]``, after
  seeing the first t transitions of its history;
* ``steps``: the R recorded steps, strictly increasing, 0 ≤ t ≤ T (the history's length).

The four gaps, the behaviour labels and the verdicts are then those of a
:class:`~mesabase.sims.simulation.Run` holding these arrays: A_t is the argmax set of the
scenario's history objective (``scenario.shadow``, "ce" for every shipped one) on the
agent's own history at each recorded step, A_B that of the base objective, both in the
*tabular* class — an outside agent's policy class is unknown, and a tabular agent can
realise every policy. (A mesabase linear-softmax learner is attributed by
:func:`~mesabase.sims.attribute` in its own, smaller, class instead.) Policies are
stationary (one row per state); in deployment a policy acts at a deployment state as at the
training state it maps to, and uniformly at an unmapped one
(:mod:`mesabase.sims.scenarios.base`, "Deployment states").

Checks (each a ValueError with one line): the environment name; the history's states and
actions in range, each transition possible in the training environment (P[s, a, s'] > 0)
and with an allowed action; the policies' shape against (N, R, S, A), their entries finite
and ≥ −:data:`POLICY_ATOL`, each row summing to 1 within :data:`POLICY_ATOL` and giving at
most that much to a disallowed action (a row off by more than :data:`EXACT_ATOL` is then
clipped at 0, zeroed on disallowed actions and renormalised, so what is evaluated is a
distribution; the others are used as given); ``steps`` against the policies and the
history.

Reference: E. Hubinger et al., "Risks from learned optimization", arXiv:1906.01820 (2019).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from mesabase.theory import History

from .attribution import Attribution, attribute
from .scenarios import SCENARIOS, Scenario, get_scenario
from .simulation import Run

__all__ = ["attribute_policies", "POLICY_ATOL", "EXACT_ATOL"]

#: Tolerance on a policy row: entries ≥ −POLICY_ATOL, |Σ_a π(a|s) − 1| ≤ POLICY_ATOL, and
#: at most POLICY_ATOL on disallowed actions.
POLICY_ATOL = 1e-6
#: A valid row summing to 1 within this, with no negative entry and nothing on a disallowed
#: action, is evaluated as given (not renormalised), as :func:`attribute` evaluates a run's.
EXACT_ATOL = 1e-12


class _External:
    """The learner of an attributed outside run: only its name is known."""

    def __init__(self, name: str):
        self.name = name

    def __repr__(self) -> str:
        return f"external learner {self.name!r}"


def _scenario(scenario) -> Scenario:
    if isinstance(scenario, str):
        if scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {scenario!r}; choose from "
                             f"{', '.join(SCENARIOS)}")
        return get_scenario(scenario)
    if not isinstance(scenario, Scenario):
        raise ValueError(f"scenario must be a Scenario or a registered name; got "
                         f"{type(scenario).__name__}")
    return scenario


def _history(history) -> History:
    """A batched (not ``single``) copy of ``history`` or of a list of histories."""
    parts = [history] if isinstance(history, History) else history
    if not isinstance(parts, (list, tuple)) or not parts or not all(
            isinstance(h, History) for h in parts):
        raise ValueError("history must be a History or a non-empty list of Histories (one per "
                         "seed); build one with History.from_arrays or History.from_transitions")
    lengths = {len(h) for h in parts}
    if len(lengths) > 1:
        raise ValueError(f"the histories have different lengths {sorted(lengths)}: one "
                         f"attribution needs every seed's history to have the same length")
    fields = ("states", "actions", "rewards", "next_states", "probs", "dones")
    arrays = [np.concatenate([getattr(h, f) for h in parts]) for f in fields]
    return History.from_arrays(*arrays)


def _check_history(h: History, sc: Scenario) -> None:
    env = sc.train
    S, A = env.n_states, env.n_actions
    for name, x, n in (("state", h.states, S), ("action", h.actions, A),
                       ("next state", h.next_states, S)):
        if x.size and x.max() >= n:
            i, t = (int(j) for j in np.argwhere(x >= n)[0])
            raise ValueError(f"history seed {i}, step {t}: {name} {int(x[i, t])} is out of "
                             f"range for {sc.name!r} (its training environment has {S} states "
                             f"and {A} actions)")
    if not h.states.size:
        return
    s, a, s2 = h.states.ravel(), h.actions.ravel(), h.next_states.ravel()
    ok = env.allowed[s, a]
    p = np.asarray(env.mdp.P_matrix[s * A + a, s2]).ravel()
    bad = ~ok | ~(p > 0)
    if bad.any():
        k = int(np.argmax(bad))
        i, t = divmod(k, h.states.shape[1])
        why = (f"action {a[k]} is not allowed in state {s[k]}" if not ok[k] else
               f"the transition {s[k]} --{a[k]}--> {s2[k]} has probability 0")
        raise ValueError(f"history seed {i}, step {t}: {why} in the training environment of "
                         f"{sc.name!r}: was the history recorded in another environment?")


def _policies(policies, N: int, R: int, sc: Scenario) -> np.ndarray:
    S, A = sc.train.n_states, sc.train.n_actions
    pi = np.asarray(policies)
    if pi.dtype.kind not in "biuf" or pi.dtype.kind == "b":
        raise ValueError(f"policies must be real numbers; got dtype {pi.dtype}")
    pi = pi.astype(np.float64)
    if pi.ndim == 3:
        if N != 1:
            raise ValueError(f"policies of shape (R, S, A) = {pi.shape} are for one seed, but "
                             f"the history has {N} seeds: pass (N, R, S, A)")
        pi = pi[None]
    if pi.shape != (N, R, S, A):
        raise ValueError(f"policies must have shape (N, R, S, A) = ({N}, {R}, {S}, {A}) (seeds, "
                         f"recorded steps, states, actions); got {pi.shape}")
    where = None
    if not np.isfinite(pi).all():
        where, what = np.argwhere(~np.isfinite(pi))[0], "is not finite"
    elif (pi < -POLICY_ATOL).any():
        where, what = np.argwhere(pi < -POLICY_ATOL)[0], "is negative"
    if where is not None:
        n, r, s, a = (int(j) for j in where)
        raise ValueError(f"policies[{n}, {r}, {s}, {a}] = {float(pi[n, r, s, a])!r} {what}")
    total = pi.sum(-1)
    off = np.where(sc.train.allowed, 0.0, np.clip(pi, 0.0, None)).sum(-1)
    for bad, what in ((np.abs(total - 1.0) > POLICY_ATOL, "sums to {:.9g}, not 1"),
                      (off > POLICY_ATOL, "gives {:.3g} to disallowed actions")):
        if bad.any():
            n, r, s = (int(j) for j in np.argwhere(bad)[0])
            v = total[n, r, s] if "sums" in what else off[n, r, s]
            raise ValueError(f"policies[{n}, {r}, {s}] (seed {n}, recorded step {r}, state {s}) "
                             f"{what.format(v)} (tolerance {POLICY_ATOL:g}): each row must be "
                             f"a distribution over the allowed actions")
    fix = (np.abs(total - 1.0) > EXACT_ATOL) | (pi < 0).any(-1) | (off > 0)
    if fix.any():  # clip and renormalise these rows only; the others are used as given
        q = np.where(sc.train.allowed, np.clip(pi[fix], 0.0, None), 0.0)
        pi[fix] = q / q.sum(-1, keepdims=True)
    return pi


def _steps(steps, T: int) -> np.ndarray:
    x = np.asarray(steps)
    if x.ndim != 1 or x.size == 0 or x.dtype.kind not in "iu":
        raise ValueError(f"steps must be a non-empty 1-D array of integers (the recorded steps); "
                         f"got {np.asarray(steps).dtype} of shape {x.shape}")
    x = x.astype(np.int64)
    if (np.diff(x) <= 0).any() or x[0] < 0 or x[-1] > T:
        raise ValueError(f"steps must increase strictly within [0, {T}] (the history has {T} "
                         f"steps); got {x.tolist()[:8]}{' ...' if x.size > 8 else ''}")
    return x


def attribute_policies(scenario, history, policies, steps, environment: str = "train", *,
                       learner: str = "external", seeds=None) -> Attribution:
    """Attribute an outside agent's run of ``scenario`` (module docstring).

    Args:
      scenario: a :class:`~mesabase.sims.scenarios.Scenario` or a registered name.
      history: a :class:`~mesabase.theory.History` of N seeds in the training environment,
        or a list of one-seed histories of equal length (e.g. ``RecordEpisodes`` recorders').
      policies: (N, R, S, A) policy snapshots (or (R, S, A) for one seed).
      steps: (R,) the recorded steps, strictly increasing, in [0, len(history)].
      environment: ``"train"`` or ``"deploy"`` (the scenario's deployment environment).
      learner: the name in the tables' ``learner`` column.
      seeds: (N,) seed labels for the tables (default 0, …, N − 1).

    Returns:
      An :class:`~mesabase.sims.attribution.Attribution` with the tables and verdicts of
      :func:`~mesabase.sims.attribute` (class "tabular"). For a run of a tabular mesabase
      learner, passing ``run.history``, ``run.policies`` and ``run.steps`` reproduces
      ``attribute(run)``.

    Example:
      >>> import numpy as np
      >>> from mesabase.theory import History
      >>> h = History.from_arrays(np.zeros((2, 4), int), np.full((2, 4), 2), np.ones((2, 4)),
      ...                         np.zeros((2, 4), int), np.ones((2, 4)), np.ones((2, 4), bool))
      >>> always_2 = np.broadcast_to([0.0, 0.0, 1.0], (2, 2, 1, 3))   # N=2, R=2, S=1, A=3
      >>> a = attribute_policies("proxy-bandit", h, always_2, [0, 4], learner="arm-2")
      >>> a.scenario_verdict, a.learner, a.verdicts.verdict.tolist()
      ('outer', 'arm-2', ['outer', 'outer'])
    """
    sc = _scenario(scenario)
    if environment not in ("train", "deploy"):
        raise ValueError(f"environment must be 'train' or 'deploy'; got {environment!r}")
    if environment == "deploy" and sc.deploy is None:
        raise ValueError(f"scenario {sc.name!r} has no deployment environment; use "
                         f"environment='train'")
    if not isinstance(learner, str) or not learner:
        raise ValueError(f"learner must be a non-empty name; got {learner!r}")
    h = _history(history)
    _check_history(h, sc)
    st = _steps(steps, len(h))
    pi = _policies(policies, h.n_seeds, st.size, sc)
    if seeds is None:
        seed_arr = np.arange(h.n_seeds)
    else:
        seed_arr = np.asarray(seeds)
        if seed_arr.shape != (h.n_seeds,):
            raise ValueError(f"seeds must label the {h.n_seeds} seeds of the history; got "
                             f"shape {seed_arr.shape}")
    run = Run(env=sc.train, learner=_External(learner), shadow=None, seeds=seed_arr, steps=st,
              history=h, policies=pi, shadow_policies=None, shadow_optimal=None,
              shadow_returns=None, scenario=sc)
    a = attribute(run, sc, environment)
    tables = {f: getattr(a, f).assign(learner=learner)
              for f in ("gaps", "behaviours", "verdicts")}
    return dataclasses.replace(a, learner=learner, **tables)
