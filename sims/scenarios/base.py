"""Scenarios: a training environment with its base, intended and proxy objectives, named
behaviours, and optionally a deployment environment or an online shift.

A :class:`Scenario` bundles (docs/concepts.md, "The objects"):

* ``train``: the training :class:`~mesabase.sims.envs.Env`; its MDP's reward is the *base*
  reward R_B[s, a], the one the learner is updated with;
* ``R_I[s, a]``: the *intended* reward in the training environment (a hidden performance
  function, as in the safety gridworlds); R_I ≠ R_B is reward misspecification;
* ``proxies``: name → R[s, a], candidate mesa-objectives (e.g. "keys collected");
* ``behaviours``: name → :class:`Behaviour` ``(reward, threshold, description)``: a
  reward-form statistic J_b(π) = μ0ᵀ V^π_b of a policy (b = 1 on the step a key is picked
  up: expected discounted keys), and the threshold θ at which a policy *shows* it;
* ``deploy``: an optional :class:`Deployment`: another environment with the same actions
  (its own states, its own R_I and behaviours), where the trained learner is evaluated;
* ``shift_step``: T0 for the online-shift variant: the environment becomes
  ``deploy.env`` at step T0 and the learner keeps learning (:func:`simulate_shift`).

**Deployment states.** Gridworld layouts differ in their state spaces, so a policy on the
training states says nothing about a deployment state unless the two are linked.
``Deployment.state_map[s_d]`` is the training state that deployment state s_d *is* (−1:
none; ``None``: no state is shared). The evaluation is exact either way:

* a linear-softmax learner π_θ(a|s) ∝ exp φ(s, a)·θ transfers through its features: in
  deployment it is softmax(φ_deploy θ_t), with θ_t the learner's parameters at step t
  (``Deployment.features``, the same feature names computed on the deployment layout);
* any other learner (tabular softmax, the full optimiser) acts at a mapped state as at its
  training state, and uniformly at an unmapped one (a tabular row never updated);
* the argmax set of L_t (what the training history leaves free) is L_t's set at a mapped
  state and *every action* at an unmapped one: the training history says nothing there.
  Underdetermination therefore counts as outer (docs/concepts.md, "Outer vs inner"), and the
  point π*_t reported at an unmapped state is uniform over its argmax set, i.e. uniform.

Reference: E. Hubinger et al., "Risks from learned optimization", arXiv:1906.01820 (2019);
J. Leike et al., "AI Safety Gridworlds", arXiv:1711.09883 (2017).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import NamedTuple

import numpy as np

from ..envs.base import Env

__all__ = ["Behaviour", "Deployment", "Scenario"]


class Behaviour(NamedTuple):
    """A named behaviour: J_b(π) = μ0ᵀ V^π_b for the reward-form ``reward`` b[s, a] (S, A);
    a policy *shows* it when J_b(π) ≥ ``threshold``. ``intended`` marks a behaviour we
    want (collecting keys in order to open chests): it is measured and reported, but never
    makes a verdict outer or inner — only unintended behaviours are divergences."""

    reward: np.ndarray   # (S, A) float, b[s, a]
    threshold: float     # θ
    description: str = ""
    intended: bool = False


def _frozen(a, name: str, shape: tuple[int, ...]) -> np.ndarray:
    x = np.array(a, dtype=np.float64)
    if x.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {x.shape}")
    if not np.isfinite(x).all():
        i = tuple(int(j) for j in np.argwhere(~np.isfinite(x))[0])
        raise ValueError(f"{name}[{', '.join(map(str, i))}] = {x[i]} is not finite")
    x.setflags(write=False)
    return x


def _rewards(d, name: str, shape) -> Mapping[str, np.ndarray]:
    return MappingProxyType({str(k): _frozen(v, f"{name}[{k!r}]", shape)
                             for k, v in dict(d or {}).items()})


def _behaviours(d, where: str, shape) -> Mapping[str, Behaviour]:
    out = {}
    for k, b in dict(d or {}).items():
        if not isinstance(b, Behaviour):
            b = Behaviour(*b)
        th = float(b.threshold)
        if not np.isfinite(th):
            raise ValueError(f"{where} behaviour {k!r}: threshold {b.threshold!r} is not finite")
        if not isinstance(b.intended, (bool, np.bool_)):
            raise ValueError(f"{where} behaviour {k!r}: intended must be True or False; got "
                             f"{b.intended!r}")
        out[str(k)] = Behaviour(_frozen(b.reward, f"{where} behaviour {k!r} reward", shape),
                                th, str(b.description), bool(b.intended))
    return MappingProxyType(out)


@dataclass(frozen=True, eq=False)
class Deployment:
    """Where a trained learner is evaluated (module docstring, "Deployment states").

    Args:
      env: the deployment environment (any number of states; the training env's actions).
      R_I: intended reward R_I[s, a] in deployment, (S_d, A).
      behaviours: name → :class:`Behaviour` with rewards on the deployment states.
      proxies: name → R[s, a] on the deployment states.
      state_map: (S_d,) int, the training state of each deployment state (−1: none), or
        ``None`` (no shared states: every deployment state is new).
      features: φ_deploy[s, a, :] (S_d, A, d), the features a linear-softmax learner sees in
        deployment (required to deploy one).
      world: the deployment gridworld, for renderers (optional).
    """

    env: Env
    R_I: np.ndarray
    behaviours: Mapping[str, Behaviour] = field(default_factory=dict)
    proxies: Mapping[str, np.ndarray] = field(default_factory=dict)
    state_map: np.ndarray | None = None
    features: np.ndarray | None = None
    world: object | None = None

    def __post_init__(self):
        if not isinstance(self.env, Env):
            raise TypeError(f"Deployment.env must be an Env; got {type(self.env).__name__}")
        shape = (self.env.n_states, self.env.n_actions)
        object.__setattr__(self, "R_I", _frozen(self.R_I, "deploy R_I", shape))
        object.__setattr__(self, "behaviours", _behaviours(self.behaviours, "deploy", shape))
        object.__setattr__(self, "proxies", _rewards(self.proxies, "deploy proxies", shape))
        if self.state_map is not None:
            m = np.array(self.state_map)
            if m.shape != (shape[0],) or not np.issubdtype(m.dtype, np.integer):
                raise ValueError(f"state_map must be {shape[0]} integers (one per deployment "
                                 f"state); got shape {m.shape}, dtype {m.dtype}")
            m = m.astype(np.int64)
            m.setflags(write=False)
            object.__setattr__(self, "state_map", m)
        if self.features is not None:
            phi = np.array(self.features, dtype=np.float64)
            if phi.ndim != 3 or phi.shape[:2] != shape:
                raise ValueError(f"deploy features must have shape ({shape[0]}, {shape[1]}, d); "
                                 f"got {phi.shape}")
            phi.setflags(write=False)
            object.__setattr__(self, "features", phi)

    @property
    def R_B(self) -> np.ndarray:
        """The base reward in deployment (the deployment MDP's reward)."""
        return self.env.mdp.R

    def mapped(self, n_train_states: int) -> np.ndarray:
        """(S_d,) int: the training state of each deployment state, −1 where none."""
        if self.state_map is None:
            return np.full(self.env.n_states, -1, dtype=np.int64)
        m = self.state_map
        if (m < -1).any() or (m >= n_train_states).any():
            i = int(np.argmax((m < -1) | (m >= n_train_states)))
            raise ValueError(f"state_map[{i}] = {m[i]} is not a training state (need −1 or "
                             f"0..{n_train_states - 1})")
        return m


@dataclass(frozen=True, eq=False)
class Scenario:
    """A training environment with base, intended and proxy objectives (module docstring).

    Args:
      name, description: the registry name and a paragraph for reports.
      train: the training environment; its MDP's reward is R_B.
      R_I: intended reward (S, A) in ``train``.
      proxies: name → R[s, a] (S, A).
      behaviours: name → :class:`Behaviour` (or a tuple ``(reward, threshold, description)``).
      deploy: a :class:`Deployment`, or None.
      shift_step: T0 of the online shift (needs ``deploy``), or None.
      learners: name → learner (``init``/``policy``/``update``) the scenario is meant to be
        run with; ``default_learner`` names the one :func:`run` uses by default.
      steps, seeds, record_every: default sizes of :func:`~mesabase.sims.scenarios.run`.
      shadow: the history objective of π*_t (``"ce"``, ``"is"``, ``"log"``).
      world: the training gridworld, for renderers (optional).
      notes: what the scenario is expected to show, for reports.
    """

    name: str
    description: str
    train: Env
    R_I: np.ndarray
    proxies: Mapping[str, np.ndarray] = field(default_factory=dict)
    behaviours: Mapping[str, Behaviour] = field(default_factory=dict)
    deploy: Deployment | None = None
    shift_step: int | None = None
    learners: Mapping[str, object] = field(default_factory=dict)
    default_learner: str | None = None
    steps: int = 1000
    seeds: int = 10
    record_every: int = 100
    shadow: str = "ce"
    world: object | None = None
    notes: str = ""

    def __post_init__(self):
        if not isinstance(self.train, Env):
            raise TypeError(f"Scenario.train must be an Env; got {type(self.train).__name__}")
        shape = (self.train.n_states, self.train.n_actions)
        object.__setattr__(self, "R_I", _frozen(self.R_I, "R_I", shape))
        object.__setattr__(self, "proxies", _rewards(self.proxies, "proxies", shape))
        object.__setattr__(self, "behaviours", _behaviours(self.behaviours, "train", shape))
        object.__setattr__(self, "learners", MappingProxyType(dict(self.learners)))
        if self.deploy is not None:
            if not isinstance(self.deploy, Deployment):
                raise TypeError("Scenario.deploy must be a Deployment")
            if self.deploy.env.n_actions != shape[1]:
                raise ValueError(f"the deployment env has {self.deploy.env.n_actions} actions "
                                 f"but the training env has {shape[1]}")
            self.deploy.mapped(shape[0])  # validates the map against the training states
        if self.shift_step is not None:
            if self.deploy is None:
                raise ValueError("shift_step needs a deployment environment to shift to")
            if int(self.shift_step) < 1:
                raise ValueError(f"shift_step must be >= 1; got {self.shift_step}")
        if self.default_learner is not None and self.default_learner not in self.learners:
            raise ValueError(f"default learner {self.default_learner!r} is not one of the "
                             f"scenario's learners {sorted(self.learners)}")
        for f in ("steps", "seeds", "record_every"):
            if int(getattr(self, f)) < 1:
                raise ValueError(f"{f} must be >= 1; got {getattr(self, f)}")

    @property
    def R_B(self) -> np.ndarray:
        """The base reward R_B[s, a]: the training MDP's reward."""
        return self.train.mdp.R

    def get_learner(self, learner=None):
        """``learner`` itself, the scenario's learner of that name, or (None) its default."""
        if learner is None:
            if self.default_learner is None:
                raise ValueError(f"scenario {self.name!r} has no default learner; pass one")
            return self.learners[self.default_learner]
        if isinstance(learner, str):
            if learner not in self.learners:
                raise ValueError(f"scenario {self.name!r} has no learner {learner!r}; "
                                 f"choose from {', '.join(sorted(self.learners))}")
            return self.learners[learner]
        return learner

    def learner_name(self, learner, env: Env | None = None) -> str:
        """The scenario's name for ``learner`` (its key in ``learners``; a learner that
        simulate bound to ``env`` counts as the one it was bound from), else its class name."""
        inner = getattr(learner, "learner", learner)  # a resumed learner (simulate_shift)
        for k, v in self.learners.items():
            if v is inner or (env is not None and hasattr(v, "bind") and v.bind(env) == inner):
                return k
        return type(inner).__name__

    def __repr__(self) -> str:
        dep = "" if self.deploy is None else f", deploy S={self.deploy.env.n_states}"
        shift = "" if self.shift_step is None else f", shift at {self.shift_step}"
        return (f"Scenario({self.name!r}, train S={self.train.n_states}, "
                f"A={self.train.n_actions}{dep}{shift}, behaviours={list(self.behaviours)})")
