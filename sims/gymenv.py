"""Gymnasium export: any mesabase MDP or scenario as a ``gymnasium.Env``, and a recorder.

    env = to_gymnasium("keys-and-chests", environment="train", seed=0)
    env = gymnasium.make("mesabase/keys-and-chests-v0")          # after ``import mesabase.sims``
    env = RecordEpisodes(env)                                    # env.history: a History

**The environment.** For a :class:`~mesabase.sims.envs.Env` with S states and A actions:

* observation: the state index s ∈ ``Discrete(S)`` (a Python ``int``); action ``Discrete(A)``;
* ``reset``: s_0 ~ μ0, drawn by inverse CDF from one uniform of the env's ``np_random``;
* ``step(a)``: s' ~ P[s, a, ·] by inverse CDF, and the reward by the Env's noise model
  (``"none"``: exactly the base reward R_B[s, a]; ``"bernoulli"``: 1{u < R_B[s, a]};
  ``"gaussian"``: R_B[s, a] + σ Φ⁻¹(u); :mod:`mesabase.sims.envs.base`), from two more
  uniforms — the same sampling rules as :func:`~mesabase.sims.simulate`;
* ``terminated``: s' is absorbing (P[s', a, s'] = 1 for every allowed a), where mesabase's
  own simulation also ends the episode;
* ``truncated``: not terminated and the episode has taken ``max_steps`` steps: the MDP's
  finite horizon H; for an infinite-horizon MDP with γ < 1, by default the smallest H with
  γ^H ≤ :data:`TAIL` (γ = 0.95 → 90 steps), so that the discounted return cut off after H
  steps is at most γ^H · max|R| / (1 − γ) ≤ 1% of max|R| / (1 − γ). An infinite-horizon
  MDP with γ = 1 needs an explicit ``max_steps``.
* ``info`` of a step: ``"intended_reward"`` R_I[s, a], ``"base_reward_mean"`` R_B[s, a]
  (the expected reward), ``"behaviours"`` {name: b[s, a]} and ``"proxies"`` {name: R[s, a]}
  of the scenario (empty for a bare MDP, whose R_I is its R_B); plus ``"action_mask"``
  (int8, the allowed actions of the new state) in every info when the MDP has a mask.

**Discounting.** Gymnasium rewards are undiscounted; the objective mesabase attributes is
J(π) = E[Σ_{k<H} γᵏ r_k] from s_0 ~ μ0, with γ = ``env.unwrapped.gamma`` (and the horizon
``env.unwrapped.horizon``, None when infinite). A behaviour's value J_b(π) is the same sum
over the ``info["behaviours"][b]`` entries.

**Registration.** When Gymnasium is importable, importing this module (which ``import
mesabase.sims`` does) registers ``mesabase/<name>-v0`` for every name in
:data:`~mesabase.sims.scenarios.SCENARIOS`; keyword arguments of ``gymnasium.make`` are
passed to :func:`to_gymnasium` (``environment="deploy"``, ``max_steps=...``). A scenario
with an online shift gives its training (or deployment) environment: the switch at T0 is not
simulated (:func:`~mesabase.sims.simulate_shift` does that). Gymnasium 1.x has no plugin
entry point, so the registration happens on import; ``gymnasium.make("mesabase.sims:
mesabase/keys-and-chests-v0")`` imports the module itself.

Gymnasium is optional (``pip install 'mesabase[gym]'``): without it this module imports,
registers nothing, and :func:`to_gymnasium` / :class:`RecordEpisodes` raise ImportError.

Reference: M. Towers et al., "Gymnasium: A Standard Interface for Reinforcement Learning
Environments", arXiv:2407.17032 (2024).
"""

from __future__ import annotations

import math

import numpy as np

from mesabase.theory import History, TabularMDP
from mesabase.theory.checks import check_int

from .envs.base import Env
from .scenarios import SCENARIOS, Scenario, get_scenario

try:
    import gymnasium as _gym
    from gymnasium import spaces as _spaces
except ImportError:  # the optional extra is not installed
    _gym = None

__all__ = ["to_gymnasium", "RecordEpisodes", "MesabaseEnv", "TAIL", "NAMESPACE",
           "REGISTERED", "default_max_steps"]

#: The default truncation of an infinite-horizon MDP: the smallest H with γ^H ≤ TAIL.
TAIL = 0.01
#: Registered ids are ``f"{NAMESPACE}/{name}-v0"``.
NAMESPACE = "mesabase"
_INSTALL = "Gymnasium is an optional dependency: pip install 'mesabase[gym]' (or gymnasium)"


def default_max_steps(mdp: TabularMDP) -> int:
    """The episode length of :func:`to_gymnasium`: the horizon H, or for γ < 1 without one the
    smallest H ≥ 1 with γ^H ≤ :data:`TAIL` (module docstring); ValueError for γ = 1 without
    a horizon."""
    if mdp.horizon is not None:
        return int(mdp.horizon)
    g = float(mdp.gamma)
    if not g < 1.0:
        raise ValueError("an infinite-horizon MDP with gamma = 1 has no default episode length; "
                         "pass max_steps")
    if g <= 0.0:
        return 1
    H = max(1, math.ceil(math.log(TAIL) / math.log(g)))
    while H > 1 and g ** (H - 1) <= TAIL:  # guard the float log ratio
        H -= 1
    return H


def _parts(mdp_or_scenario, environment: str):
    """(Env, R_I, behaviours, proxies, name) of the argument (see :func:`to_gymnasium`)."""
    if environment not in ("train", "deploy"):
        raise ValueError(f"environment must be 'train' or 'deploy'; got {environment!r}")
    x = mdp_or_scenario
    if isinstance(x, str):
        if x not in SCENARIOS:
            raise ValueError(f"unknown scenario {x!r}; choose from {', '.join(SCENARIOS)}")
        x = get_scenario(x)
    if isinstance(x, Scenario):
        if environment == "deploy":
            if x.deploy is None:
                raise ValueError(f"scenario {x.name!r} has no deployment environment; use "
                                 f"environment='train'")
            d = x.deploy
            return d.env, d.R_I, d.behaviours, d.proxies, f"{x.name} (deploy)"
        return x.train, x.R_I, x.behaviours, x.proxies, x.name
    if isinstance(x, TabularMDP):
        x = Env(x)
    if isinstance(x, Env):
        if environment != "train":
            raise ValueError("a bare MDP or Env has no deployment environment; use "
                             "environment='train' (or pass a Scenario)")
        return x, x.mdp.R, {}, {}, x.name
    raise TypeError(f"to_gymnasium needs a Scenario, a registered scenario name, an Env or a "
                    f"TabularMDP; got {type(mdp_or_scenario).__name__}")


def to_gymnasium(mdp_or_scenario, environment: str = "train", seed=None,
                 max_steps: int | None = None, render_mode: str | None = None):
    """A ``gymnasium.Env`` of a scenario's training or deployment environment, or of an MDP.

    Args:
      mdp_or_scenario: a :class:`~mesabase.sims.scenarios.Scenario`, a registered scenario
        name, an :class:`~mesabase.sims.envs.Env` or a :class:`~mesabase.theory.TabularMDP`
        (reward noise "none"; R_I = R_B, no behaviours).
      environment: ``"train"`` or ``"deploy"`` (a scenario's deployment environment).
      seed: seeds the env's ``np_random`` now, so that a first ``reset()`` without a seed is
        reproducible (``reset(seed=...)`` reseeds, as in Gymnasium).
      max_steps: episode length before truncation (module docstring for the default).
      render_mode: None or ``"ansi"`` (a line with the step and the state).

    Returns:
      A :class:`MesabaseEnv` (module docstring: spaces, sampling, termination, info).

    Example:
      >>> env = to_gymnasium("proxy-bandit", seed=0)
      >>> s, info = env.reset()
      >>> s2, r, terminated, truncated, info = env.step(2)
      >>> (s, s2, terminated, truncated), info["intended_reward"]
      ((0, 0, True, False), 0.2)
    """
    if _gym is None:
        raise ImportError(f"to_gymnasium needs Gymnasium. {_INSTALL}")
    env, R_I, behaviours, proxies, name = _parts(mdp_or_scenario, environment)
    H = (default_max_steps(env.mdp) if max_steps is None
         else check_int(max_steps, "max_steps", lo=1))
    return MesabaseEnv(env, R_I, behaviours, proxies, name=name, max_steps=H, seed=seed,
                       render_mode=render_mode)


def _define():
    """The two Gymnasium classes (defined only when Gymnasium is importable)."""

    class MesabaseEnv(_gym.Env):
        """A mesabase environment as a ``gymnasium.Env`` (module docstring); made by
        :func:`to_gymnasium`. Attributes: ``mesabase_env`` (the Env), ``gamma``, ``horizon``,
        ``max_steps``, ``R_I``, ``behaviours`` (name → reward array b[s, a]),
        ``proxies``."""

        metadata = {"render_modes": ["ansi"], "render_fps": 4}

        def __init__(self, env: Env, R_I, behaviours, proxies, *, name: str, max_steps: int,
                     seed=None, render_mode=None):
            if render_mode not in (None, "ansi"):
                raise ValueError(f"render_mode must be None or 'ansi'; got {render_mode!r}")
            S, A = env.n_states, env.n_actions
            self.mesabase_env, self.name, self.max_steps = env, name, int(max_steps)
            self.gamma, self.horizon = float(env.mdp.gamma), env.horizon
            self.R_I = np.asarray(R_I, dtype=np.float64)
            self.behaviours = {k: np.asarray(getattr(b, "reward", b))
                               for k, b in dict(behaviours).items()}
            self.proxies = {k: np.asarray(v) for k, v in dict(proxies).items()}
            self.observation_space = _spaces.Discrete(S)
            self.action_space = _spaces.Discrete(A)
            self.render_mode = render_mode
            self._masked = bool(env.mdp.is_masked)
            self._s, self._k, self._over = None, 0, False
            if seed is not None:
                self._np_random, self._np_random_seed = _gym.utils.seeding.np_random(seed)

        def _info(self, s: int) -> dict:
            if not self._masked:
                return {}
            return {"action_mask": self.mesabase_env.allowed[s].astype(np.int8)}

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            u = self.np_random.random(1)
            self._s = int(self.mesabase_env.reset(u)[0])
            self._k, self._over = 0, False
            return self._s, self._info(self._s)

        def step(self, action):
            if self._s is None:
                raise _gym.error.ResetNeeded("call reset() before step()")
            if self._over:
                raise _gym.error.ResetNeeded("the episode has ended (terminated or truncated); "
                                             "call reset() before step()")
            if isinstance(action, np.ndarray) and action.ndim == 0:
                action = action[()]
            if isinstance(action, (bool, np.bool_)) or not isinstance(action, (int, np.integer)) \
                    or not 0 <= action < self.action_space.n:
                raise ValueError(f"action must be an integer in [0, {self.action_space.n}); got "
                                 f"{action!r}")
            s, a, env = self._s, int(action), self.mesabase_env
            if not env.allowed[s, a]:
                raise ValueError(f"action {a} is not allowed in state {s} (see "
                                 f"info['action_mask'])")
            u = self.np_random.random(2)
            s_a = (np.array([s]), np.array([a]))
            s2 = int(env.next_state(*s_a, u[:1])[0])
            r = float(env.reward(*s_a, u[1:])[0])
            self._k += 1
            terminated = bool(env.absorbing[s2])
            truncated = (not terminated) and self._k >= self.max_steps
            self._over = terminated or truncated
            info = self._info(s2)
            info.update(intended_reward=float(self.R_I[s, a]),
                        base_reward_mean=float(env.mdp.R[s, a]),
                        behaviours={k: float(b[s, a]) for k, b in self.behaviours.items()},
                        proxies={k: float(p[s, a]) for k, p in self.proxies.items()})
            self._s = s2
            return s2, r, terminated, truncated, info

        def render(self):
            if self.render_mode == "ansi":
                return f"{self.name}: step {self._k}, state {self._s}\n"
            return None

        def __repr__(self) -> str:
            return (f"MesabaseEnv({self.name!r}, S={self.observation_space.n}, "
                    f"A={self.action_space.n}, gamma={self.gamma}, max_steps={self.max_steps})")

    class RecordEpisodes(_gym.Wrapper):
        """Records every transition of a discrete Gymnasium env while any agent runs it.

        ``.history`` is the :class:`~mesabase.theory.History` of the steps so far (one seed,
        in order; :meth:`History.from_transitions`), ``.transitions`` the list of
        ``(obs, action, reward, next_obs, terminated, truncated)``. The behaviour
        probability of an action is not seen by the env and is recorded as 1 (only the
        "is" history objective reads it). A ``reset()`` in the middle of an episode marks
        the last recorded step as truncated (the episode was cut there). Needs
        ``Discrete(n)`` observation and action spaces starting at 0.
        """

        def __init__(self, env):
            super().__init__(env)
            for what, sp in (("observation", env.observation_space),
                             ("action", env.action_space)):
                if not isinstance(sp, _spaces.Discrete) or int(sp.start) != 0:
                    raise ValueError(f"RecordEpisodes needs a Discrete {what} space starting "
                                     f"at 0; got {sp!r}")
            self._rows: list[tuple] = []
            self._s = None

        def reset(self, *, seed=None, options=None):
            obs, info = self.env.reset(seed=seed, options=options)
            if self._rows and not (self._rows[-1][4] or self._rows[-1][5]):
                self._rows[-1] = self._rows[-1][:5] + (True,)
            self._s = int(obs)
            return obs, info

        def step(self, action):
            obs, r, terminated, truncated, info = self.env.step(action)
            if self._s is None:
                raise _gym.error.ResetNeeded("call reset() before step()")
            self._rows.append((self._s, int(action), float(r), int(obs), bool(terminated),
                               bool(truncated)))
            self._s = int(obs)
            return obs, r, terminated, truncated, info

        @property
        def transitions(self) -> list[tuple]:
            """The recorded steps, ``(obs, action, reward, next_obs, terminated,
            truncated)`` each (a copy)."""
            return list(self._rows)

        @property
        def history(self) -> History:
            """The recorded steps as a one-seed :class:`~mesabase.theory.History`."""
            return History.from_transitions(self._rows)

    for cls in (MesabaseEnv, RecordEpisodes):  # importable by name (pickle, docs)
        cls.__qualname__ = cls.__name__
    return MesabaseEnv, RecordEpisodes


if _gym is not None:
    MesabaseEnv, RecordEpisodes = _define()
else:
    class _Missing:
        """Placeholder: Gymnasium is not installed."""

        def __init__(self, *args, **kwargs):
            raise ImportError(f"{type(self).__name__} needs Gymnasium. {_INSTALL}")

    class MesabaseEnv(_Missing):  # type: ignore[no-redef]
        """Needs Gymnasium (``pip install 'mesabase[gym]'``)."""

    class RecordEpisodes(_Missing):  # type: ignore[no-redef]
        """Needs Gymnasium (``pip install 'mesabase[gym]'``)."""


def _register() -> list[str]:
    """Register ``mesabase/<name>-v0`` for every registered scenario (module docstring)."""
    ids = []
    for name in SCENARIOS:
        env_id = f"{NAMESPACE}/{name}-v0"
        if env_id not in _gym.envs.registry:
            _gym.register(env_id, entry_point="mesabase.sims.gymenv:to_gymnasium",
                          kwargs={"mdp_or_scenario": name})
        ids.append(env_id)
    return ids


#: The registered Gymnasium ids (empty without Gymnasium).
REGISTERED: tuple[str, ...] = tuple(_register()) if _gym is not None else ()
