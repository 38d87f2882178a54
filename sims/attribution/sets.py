"""The argmax sets attribution compares the learner with, in the learner's own policy class.

For a run and an evaluation environment M (training, or the scenario's deployment), a
:class:`Sets` gives everything the four-term decomposition (:func:`mesabase.theory.four_gaps`)
and the behaviour verdicts need, as exact ranges over sets — never a tie-broken point:

* ``base_range(b)``: (min, max) of J_b over A_B, the argmax set of the base objective with
  full information (J_B in the *training* environment, where the data come from);
* ``history_range(b)``: (min, max) of J_b over A_t, the argmax set of the history objective
  L_t on the learner's own history, at every seed and recorded step, (N, R) each;
* ``pi_learner``: the learner's policy in M; ``J_intended`` = J_I(π_I*) over all policies.

**Which class.** The seed asks to "optimise θ all the way to convergence", θ being the
learner's parameters; so A_B and A_t are argmax sets *in the learner's class*:

* a tabular learner (or the full optimiser) can realise any policy: A is the mask of the
  objective's optimal actions on the states optimal play reaches from μ0, every action
  elsewhere (:func:`mesabase.theory.argmax_set_allowed`); a range is two restricted solves.
  In deployment, a mapped state inherits its training state's actions and an unmapped one
  is free: the training history says nothing there.
* a linear-softmax learner π_θ(a|s) ∝ exp φ(s, a)·θ can realise only the policies its
  features allow, and one θ acts in training and in deployment at once. Its class's limit
  policies are enumerated exactly on the *joint* state space (training states stacked on
  deployment states, :class:`mesabase.theory.LinearClass`): each limit policy is one θ's
  behaviour in both layouts. A is the set of those whose training part maximises the
  objective (L_t: the certainty-equivalent return from μ0 in the empirical model of the
  learner's history; J_B: the true training return), and a range over A is the min and max
  of J_b over their evaluation part (each an exact policy evaluation). Deployment
  behaviour is then tied to the training data through θ, as the learner's is.

The linear class is used for the "ce" objective; other objectives ("is", "log") are
defined per state, and fall back to the tabular class (``Sets.policy_class`` says which).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from mesabase.theory import (
    TabularMDP,
    argmax_set_allowed,
    behaviour_range,
    behaviour_values,
    empirical_mdp,
    solve,
)
from mesabase.theory.history.empirical import empirical_counts, model_arrays

from ..agents.full import FullOptimizer
from .transfer import (
    deploy_policies,
    full_optimizer_policies,
    history_solutions,
    is_linear,
    map_states,
    unwrapped,
)

__all__ = ["Sets", "argmax_sets", "learner_sets", "tabular_sets", "linear_sets",
           "CLASS_TOL"]

#: Limit policies within this much (plus the class solver's rounding allowance) of the
#: class optimum are maximisers (:meth:`mesabase.theory.LinearClass.optimal`).
CLASS_TOL = 1e-9

Range = Callable[[np.ndarray], tuple]


class Sets(NamedTuple):
    """The sets of one attribution (module docstring)."""

    mdp: TabularMDP                 # M, the evaluation environment
    pi_learner: np.ndarray          # (N, R, S, A), or (N, R, H, S, A) per step
    J_intended: float               # J_I(π_I*) in M, over all policies
    base_range: Range               # b -> (lo, hi) floats over A_B
    history_range: Range            # b -> (lo, hi), each (N, R), over A_t
    policy_class: str               # "tabular" | "linear"


# ---- the tabular class ----------------------------------------------------------------
def argmax_sets(run, objective: str | None = None):
    """(π*_t, allowed, per_step) on ``run``'s history at its recorded steps.

    ``π*_t`` is uniform over the argmax set of L_t (the objective's own policy for "log"),
    ``allowed`` the mask of the argmax set as attribution reads it (module docstring), both
    (N, R, S, A) — or (N, R, H, S, A) in a horizon-H environment (``per_step`` True). The
    run's recorded shadow is used where it is the whole policy (no horizon, or H = 1, or an
    objective other than "ce"); otherwise π*_t is recomputed exactly from the history.
    """
    env, h = run.env, run.history
    S, A, H = env.n_states, env.n_actions, env.horizon
    objective = objective or run.shadow or "ce"
    if run.shadow == objective and (H is None or H == 1 or objective != "ce"):
        optimal, pi = run.shadow_optimal, run.shadow_policies
    else:
        optimal, pi = history_solutions(h, run.steps, objective, n_states=S, n_actions=A,
                                        gamma=env.mdp.gamma, horizon=H)
    per_step = H is not None
    if per_step and optimal.ndim == 4:  # a stationary rule: the same at every step
        optimal = np.broadcast_to(optimal[:, :, None], optimal.shape[:2] + (H, S, A))
        pi = np.broadcast_to(pi[:, :, None], optimal.shape)
    allowed = np.empty(optimal.shape, dtype=bool)
    for r, t in enumerate(run.steps):
        counts, rsum = empirical_counts(h[:int(t)], S, A)
        P_hat = model_arrays(counts, rsum)[0]
        allowed[:, r] = argmax_set_allowed(optimal[:, r], counts.sum(-1), P=P_hat,
                                           mu0=env.mdp.mu0, gamma=env.mdp.gamma,
                                           horizon=H if per_step else None)
    return np.asarray(pi), allowed, per_step


def _unique_range(mdp, reward, allowed: np.ndarray, per_step: bool):
    """behaviour_range over (N, R, ...) masks, solving each distinct mask once."""
    lead = allowed.shape[:2]
    flat = allowed.reshape((-1,) + allowed.shape[2:])
    packed = np.packbits(flat.reshape(flat.shape[0], -1), axis=1)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    lo, hi = behaviour_range(mdp, reward, flat[first], per_step=per_step)
    inverse = np.asarray(inverse).reshape(-1)
    return np.asarray(lo)[inverse].reshape(lead), np.asarray(hi)[inverse].reshape(lead)


def _learner_policies(run) -> np.ndarray:
    if isinstance(run.learner, FullOptimizer):
        return full_optimizer_policies(run)
    return run.policies


def _to_deploy(x, mapped, fill, deploy_mdp, lead: tuple[int, ...]):
    """Training rows x (lead..., [H,] S_t, A) on the deployment states (module docstring of
    mesabase.sims.scenarios.base): stationary (lead..., S_d, A) when no state is mapped."""
    S_d, A = deploy_mdp.n_states, deploy_mdp.n_actions
    if not (mapped >= 0).any():
        return np.broadcast_to(np.asarray(fill, dtype=np.asarray(x).dtype), lead + (S_d, A))
    per_step = x.ndim == len(lead) + 3
    if per_step and x.shape[len(lead)] != deploy_mdp.horizon:
        raise ValueError(f"mapped deployment states need the training horizon "
                         f"({x.shape[len(lead)]}) to equal the deployment horizon "
                         f"({deploy_mdp.horizon})")
    return map_states(x, mapped, fill)


def _intended_optimum(M: TabularMDP, R_I) -> float:
    ps = M.horizon is not None
    sol = solve(M.with_reward(R_I), method="backward" if ps else "pi")
    return float(behaviour_values(M, R_I, np.asarray(sol.policy), per_step=ps))


def _base_allowed(train: TabularMDP) -> np.ndarray:
    sol = solve(train, method="backward" if train.horizon is not None else "pi")
    return argmax_set_allowed(sol.optimal, P=train.P, mu0=train.mu0, gamma=train.gamma,
                              horizon=train.horizon)


def tabular_sets(run, scenario, *, R_I, deploy: bool) -> Sets:
    """A_B and A_t as masks of allowed actions (module docstring)."""
    _, allowed, ps = argmax_sets(run, run.shadow or scenario.shadow)
    train = run.env.mdp
    allowed_B = _base_allowed(train)
    if deploy:
        dep = scenario.deploy
        M, A = dep.env.mdp, train.n_actions
        mapped = dep.mapped(train.n_states)
        N, R = allowed.shape[:2]
        allowed_B = _to_deploy(allowed_B, mapped, True, M, ())
        allowed = _to_deploy(allowed, mapped, True, M, (N, R))
        if is_linear(run.learner):
            pi_learn = deploy_policies(run, dep, train.n_states)
        else:
            pi_learn = _to_deploy(_learner_policies(run), mapped, 1.0 / A, M, (N, R))
    else:
        M, pi_learn = train, _learner_policies(run)
    ps = M.horizon is not None and allowed.ndim == 5
    ps_B = M.horizon is not None and allowed_B.ndim == 3

    def base_range(b):
        lo, hi = behaviour_range(M, b, allowed_B, per_step=ps_B)
        return float(lo), float(hi)

    return Sets(M, np.asarray(pi_learn), _intended_optimum(M, R_I), base_range,
                lambda b: _unique_range(M, b, allowed, ps), "tabular")


# ---- the linear-softmax class ---------------------------------------------------------------
_CLASSES: dict[bytes, object] = {}


def _linear_class(features: np.ndarray):
    """The :class:`~mesabase.theory.LinearClass` of ``features``, enumerated once per process
    (the enumeration depends on φ only; the last few are kept)."""
    from mesabase.theory import LinearClass

    key = features.tobytes() + repr(features.shape).encode()
    if key not in _CLASSES:
        if len(_CLASSES) >= 4:
            _CLASSES.pop(next(iter(_CLASSES)))
        _CLASSES[key] = LinearClass(features)
    return _CLASSES[key]


def linear_sets(run, scenario, *, R_I, deploy: bool) -> Sets:
    """A_B and A_t as sets of the linear class's limit policies (module docstring)."""
    env, h = run.env, run.history
    train, S, A = env.mdp, env.n_states, env.n_actions
    phi = np.asarray(unwrapped(run.learner).family.features)
    dep = scenario.deploy if deploy else None
    # one class per scenario: the joint one serves the training attribution too (its
    # training slices are the training class's limit policies, repeated)
    other = scenario.deploy.features if scenario.deploy is not None else None
    joint = (other is not None and np.shape(other)[1:] == phi.shape[1:]
             and phi.shape[0] == scenario.train.n_states)
    lc = _linear_class(np.concatenate([phi, other]) if joint else phi)
    train_p = lc.policies[:, :S]
    eval_p = lc.policies[:, S:] if deploy else train_p
    M = dep.env.mdp if deploy else train
    best_B = lc.optimal(train, policies=train_p, tol=CLASS_TOL).index
    N, R = h.n_seeds, len(run.steps)
    best_t = np.zeros((N, R, len(train_p)), dtype=bool)
    for r, t in enumerate(run.steps):
        emp = empirical_mdp(h[:int(t)], S, A, gamma=train.gamma, horizon=train.horizon,
                            mu0=train.mu0)
        for n in range(N):
            model = emp if h.single else emp[n]
            best_t[n, r, lc.optimal(model, policies=train_p, tol=CLASS_TOL).index] = True
    cache: dict[bytes, np.ndarray] = {}

    def values(b):
        b = np.asarray(b, dtype=np.float64)
        key = b.tobytes()
        if key not in cache:
            cache[key] = np.asarray(behaviour_values(M, b, eval_p))
        return cache[key]

    def base_range(b):
        v = values(b)[best_B]
        return float(v.min()), float(v.max())

    def history_range(b):
        v = values(b)
        return (np.where(best_t, v, np.inf).min(-1), np.where(best_t, v, -np.inf).max(-1))

    pi_learn = deploy_policies(run, dep, S) if deploy else run.policies
    return Sets(M, np.asarray(pi_learn), _intended_optimum(M, R_I), base_range,
                history_range, "linear")


def learner_sets(run, scenario, *, R_I, deploy: bool) -> Sets:
    """The linear class for a linear-softmax learner under the "ce" objective (its features
    on this run's states), the tabular class otherwise."""
    objective = run.shadow or scenario.shadow or "ce"
    linear = (is_linear(run.learner) and objective == "ce"
              and np.shape(unwrapped(run.learner).family.features)[0] == run.env.n_states
              and (not deploy or scenario.deploy.features is not None))
    make = linear_sets if linear else tabular_sets
    return make(run, scenario, R_I=R_I, deploy=deploy)
