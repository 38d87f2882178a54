"""What a run's learner is at each recorded step, in its own environment or in deployment.

A :class:`~mesabase.sims.simulation.Run` records the learner's *policy* on the training
states, π_θt[n, r, s, a]. Evaluating it elsewhere needs more:

* **Parameters.** A linear-softmax learner's θ_t is what transfers to a new layout
  (π = softmax(φ_deploy θ_t)). θ_t is not in the Run; :func:`learner_params` recovers it
  exactly by *replaying* the learner's updates over ``run.history`` (REINFORCE is a
  deterministic function of its transitions: no randomness of its own), and checks the
  replayed policies against ``run.policies``. (A ``run.params`` array, if simulate ever
  records one, is used instead.)
* **Deployment policies.** :func:`deploy_policies`: softmax(φ_deploy θ_t) for a
  linear-softmax learner; for any other learner, its training row at a mapped deployment
  state and the uniform row at an unmapped one (:func:`map_states`).
* **Per-step full optimisers.** In a horizon-H environment the full optimiser acts by the
  decision rule of its step in the episode, so ``run.policies`` holds only the rule of each
  seed's current step; :func:`full_optimizer_policies` rebuilds the whole per-step policy
  (H, S, A) from the history, with the optimiser's own objective, model, ties and ε.
"""

from __future__ import annotations

import numpy as np

from mesabase.theory.history.objectives import history_optimal

from ..agents.full import FullOptimizer, break_ties
from ..agents.policies import LinearSoftmax, softmax
from ..agents.reinforce import Reinforce, Transition

__all__ = ["learner_params", "replay", "deploy_policies", "map_states", "full_optimizer_policies",
           "history_solutions", "is_linear", "unwrapped"]

#: Replayed policies must equal the recorded ones to this absolute tolerance.
REPLAY_ATOL = 1e-12


def unwrapped(learner):
    """The learner itself: a learner resumed from a saved state (the online shift's second
    phase) wraps the original as ``.learner``."""
    while not isinstance(learner, (Reinforce, FullOptimizer)) and hasattr(learner, "learner"):
        learner = learner.learner
    return learner


def is_linear(learner) -> bool:
    """True for a REINFORCE learner with a linear-softmax policy (shared features), resumed
    or not."""
    learner = unwrapped(learner)
    return isinstance(learner, Reinforce) and isinstance(learner.family, LinearSoftmax)


def learner_params(run) -> np.ndarray:
    """θ_t of ``run.learner`` at each recorded step, (N, R, *Θ), by replaying its updates.

    The learner is re-initialised and fed ``run.history``'s transitions in order (the
    same arrays simulate fed it), so θ_t is bit-identical to the one that acted.

    Raises:
      TypeError: the learner is not a :class:`~mesabase.sims.agents.reinforce.Reinforce`.
      RuntimeError: the replayed policies differ from ``run.policies`` (by > 1e-12).
    """
    params = getattr(run, "params", None)
    if params is not None:
        return np.asarray(params)
    return replay(run)[0]


def replay(run):
    """``(params, state)``: θ_t at the recorded steps (N, R, *Θ) and the learner's state
    after the last step of ``run.history`` (see :func:`learner_params`)."""
    learner = run.learner
    if not isinstance(learner, Reinforce):
        raise TypeError(f"parameters can be replayed for Reinforce learners only; this run's "
                        f"learner is {type(learner).__name__}")
    h, N = run.history, run.history.n_seeds
    st = learner.init(N, run.env.n_states, run.env.n_actions, None)
    out = np.empty((N, len(run.steps)) + st.theta.shape[1:])
    where = {int(t): i for i, t in enumerate(run.steps)}
    if 0 in where:
        out[:, where[0]] = st.theta
    cols = [np.ascontiguousarray(a.T) for a in (h.states, h.actions, h.rewards,
                                                h.next_states, h.probs, h.dones)]
    for t in range(len(h)):
        st = learner.update(st, Transition(*(c[t] for c in cols), t))
        i = where.get(t + 1)
        if i is not None:
            out[:, i] = st.theta
    for i in range(len(run.steps)):
        pi = learner.policy(st._replace(theta=out[:, i]))
        err = float(np.max(np.abs(pi - run.policies[:, i])))
        if err > REPLAY_ATOL:
            raise RuntimeError(f"replaying the learner does not reproduce its policy at step "
                               f"{run.steps[i]} (max difference {err:.3g}): was the run made "
                               f"with engine='numpy' and this learner?")
    return out, st


def map_states(x: np.ndarray, mapped: np.ndarray, fill) -> np.ndarray:
    """Rows of x (..., S_t, A) moved to deployment states: row ``mapped[s_d]`` where
    ``mapped[s_d] >= 0``, ``fill`` (broadcast to a row) elsewhere; shape (..., S_d, A)."""
    m = np.asarray(mapped)
    rows = np.take(x, np.maximum(m, 0), axis=-2)
    return np.where((m >= 0)[:, None], rows, fill)


def deploy_policies(run, deploy, n_train_states: int) -> np.ndarray:
    """The learner of ``run`` acting in deployment, (N, R, S_d, A), exactly.

    Linear softmax: π_t(a|s) = softmax_a φ_deploy(s, a)·θ_t with θ_t from
    :func:`learner_params`. Otherwise: ``run.policies`` at mapped states, uniform at
    unmapped ones (a tabular row the learner never updated is its initial, uniform, row).
    """
    learner = run.learner
    if is_linear(learner):
        if deploy.features is None:
            raise ValueError("deploying a linear-softmax learner needs Deployment.features "
                             "(the same features computed on the deployment states)")
        d = learner.family.n_features
        if deploy.features.shape[2] != d:
            raise ValueError(f"the learner has {d} features but the deployment features have "
                             f"{deploy.features.shape[2]}")
        theta = learner_params(run)
        return softmax(np.einsum("sak,nrk->nrsa", deploy.features, theta))
    A = run.policies.shape[-1]
    return map_states(run.policies, deploy.mapped(n_train_states), 1.0 / A)


def history_solutions(history, steps, objective: str, *, n_states: int, n_actions: int,
                      gamma: float, horizon, **model):
    """(optimal, policy) of π*_t = argmax L_t(π; H_t) at each of ``steps``, stacked on a
    recorded-step axis: (N, R, S, A), or (N, R, H, S, A) for a per-step ("ce", horizon H)
    model. ``policy`` is the solver's (uniform over the optimal set; ``"log"``'s own)."""
    opt, pol = [], []
    for t in steps:
        sol = history_optimal(history[:int(t)], objective, n_states=n_states,
                              n_actions=n_actions, gamma=gamma, horizon=horizon, **model)
        opt.append(np.asarray(sol.optimal))
        pol.append(np.asarray(sol.policy))
    return np.stack(opt, axis=1), np.stack(pol, axis=1)


def full_optimizer_policies(run) -> np.ndarray:
    """The full optimiser's whole policy at each recorded step: (N, R, H, S, A) in a
    horizon-H environment ("ce"), (N, R, S, A) otherwise (``run.policies`` as recorded).

    π_t = (1 − ε) · ties(argmax L_t) + ε / A, per step of the episode, with the
    optimiser's objective, CE model (prior, reward prior, unvisited rule), tie rule and ε.
    """
    fo = run.learner
    if not isinstance(fo, FullOptimizer):
        raise TypeError(f"expected a FullOptimizer; got {type(fo).__name__}")
    if not fo._per_step():
        return run.policies
    model = dict(prior=fo.prior, reward_prior=fo.reward_prior, unvisited=fo.unvisited)
    optimal, _ = history_solutions(run.history, run.steps, "ce", n_states=run.env.n_states,
                                   n_actions=run.env.n_actions, gamma=fo.gamma,
                                   horizon=fo.horizon, tol=fo.tol, **model)
    A = optimal.shape[-1]
    return (1.0 - fo.epsilon) * break_ties(optimal, fo.tie) + fo.epsilon / A
