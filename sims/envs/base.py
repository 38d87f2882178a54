"""Environments: a TabularMDP that can be *sampled*, with a stated reward-noise model.

An :class:`Env` exposes ``P[s, a, s']`` and the expected reward ``R[s, a]`` of its MDP,
so the exact solvers apply to it, and samples transitions from uniform variates so that
a simulation is a pure function of its per-seed random streams:

* next state: s' = min{k : u < Σ_{j≤k} P[s, a, j]} (inverse CDF);
* reward: ``"none"`` gives R[s, a]; ``"bernoulli"`` gives 1{u < R[s, a]} (R ∈ [0, 1]);
  ``"gaussian"`` gives R[s, a] + σ Φ⁻¹(u).

Episodes end after ``mdp.horizon`` steps (if set) or on entering an absorbing state
(``P[s', a, s'] = 1`` for every allowed a); the next episode starts from ``mu0``.

Action masks: ``env.allowed`` is the MDP's ``allowed[s, a]``; learners bind to it
(``bind(env)``) and never act with a disallowed action; ``last_allowed[s]`` caps the
inverse-CDF draw so that rounding in a cumulative sum cannot land on a trailing
disallowed action (a disallowed action in the middle has zero width: it is never drawn).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import ndtri

from mesabase.theory import TabularMDP
from mesabase.theory.checks import check_real

__all__ = ["Env", "NOISES", "sample_index"]

NOISES = ("none", "bernoulli", "gaussian")


def sample_index(cdf: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Inverse-CDF sampling along the last axis: cdf (..., K), u (...) -> indices (...),
    idx = #{k < K − 1 : u ≥ cdf[..., k]} (the first k with u < cdf[..., k]).

    For small K the count runs column by column over the long leading axis (numpy
    reduces short rows one at a time, several times slower); the result is the same.
    """
    K = cdf.shape[-1]
    if K <= 64:
        idx = np.zeros(u.shape, dtype=np.intp)
        for k in range(K - 1):
            idx += u >= cdf[..., k]
        return idx
    idx = (u[..., None] >= cdf[..., :-1]).sum(axis=-1)
    return idx


@dataclass(frozen=True, eq=False)
class Env:
    """A sampleable tabular environment.

    Args:
      mdp: the TabularMDP (its ``R`` is the *expected* reward).
      noise: ``"none"``, ``"bernoulli"`` or ``"gaussian"`` (see the module docstring).
      sigma: standard deviation for ``"gaussian"``.
      name: a label for tables and figures.
    """

    mdp: TabularMDP
    noise: str = "none"
    sigma: float = 1.0
    name: str = "mdp"
    _cdf: np.ndarray = field(init=False, repr=False)
    _mu0_cdf: np.ndarray = field(init=False, repr=False)
    _absorbing: np.ndarray = field(init=False, repr=False)

    def __post_init__(self):
        if not isinstance(self.mdp, TabularMDP):
            raise TypeError(f"Env needs a TabularMDP; got {type(self.mdp).__name__}")
        if self.noise not in NOISES:
            raise ValueError(f"noise must be one of {NOISES}; got {self.noise!r}")
        if self.noise == "bernoulli" and ((self.mdp.R < 0) | (self.mdp.R > 1)).any():
            raise ValueError("bernoulli rewards need every R[s, a] in [0, 1] (a probability)")
        check_real(self.sigma, "sigma", lo=0.0)
        S, A = self.mdp.n_states, self.mdp.n_actions
        if self.mdp.is_sparse:  # rows of the CSR matrix: no S×A×S table
            Pm = self.mdp.P_matrix
            counts = np.diff(Pm.indptr)
            rows = np.repeat(np.arange(S * A), counts)
            pos = np.arange(Pm.data.size) - Pm.indptr[rows]      # position within its row
            within = np.array(Pm.data, dtype=np.float64)
            for j in range(1, int(counts.max(initial=1))):      # per-row prefix sums
                at = np.flatnonzero(pos >= j)
                within[at] += Pm.data[at - j]
            last = Pm.indptr[1:] - 1
            within[last[counts > 0]] = 1.0  # guard the last bin against rounding
            cdf = (rows + within, np.asarray(Pm.indices, dtype=np.intp), Pm.indptr)
            self_p = np.asarray(Pm[np.arange(S * A), np.repeat(np.arange(S), A)]).reshape(S, A)
            absorbing = np.all((self_p >= 1.0 - 1e-12) | ~self.mdp.allowed, axis=1)
        else:
            P = self.mdp.P
            cdf = np.cumsum(P, axis=-1)
            cdf[..., -1] = 1.0  # guard the last bin against rounding
            absorbing = np.all((P[np.arange(S), :, np.arange(S)] >= 1.0 - 1e-12)
                               | ~self.mdp.allowed, axis=1)
        mu0_cdf = np.cumsum(self.mdp.mu0)
        mu0_cdf[-1] = 1.0
        for name, v in (("_cdf", cdf), ("_mu0_cdf", mu0_cdf), ("_absorbing", absorbing)):
            for arr in (v if isinstance(v, tuple) else (v,)):
                arr.setflags(write=False)
            object.__setattr__(self, name, v)

    @property
    def P(self) -> np.ndarray:
        return self.mdp.P

    @property
    def R(self) -> np.ndarray:
        return self.mdp.R

    @property
    def allowed(self) -> np.ndarray:
        """Bool (S, A), read-only: the MDP's action mask (all True when unmasked)."""
        return self.mdp.allowed

    @property
    def last_allowed(self) -> np.ndarray:
        """Int (S,): the largest allowed action index of each state."""
        A = self.mdp.n_actions
        return A - 1 - np.argmax(self.mdp.allowed[:, ::-1], axis=1)

    @property
    def n_states(self) -> int:
        return self.mdp.n_states

    @property
    def n_actions(self) -> int:
        return self.mdp.n_actions

    @property
    def horizon(self) -> int | None:
        return self.mdp.horizon

    @property
    def absorbing(self) -> np.ndarray:
        """Bool (S,): entering one of these states ends the episode."""
        return self._absorbing

    def reset(self, u: np.ndarray) -> np.ndarray:
        """Initial states for uniforms u (N,)."""
        return sample_index(self._mu0_cdf, u)

    def next_state(self, s: np.ndarray, a: np.ndarray, u: np.ndarray) -> np.ndarray:
        if isinstance(self._cdf, tuple):  # sparse: one search in the rows' shifted CDFs
            flat, nxt, indptr = self._cdf
            row = np.asarray(s) * self.n_actions + np.asarray(a)
            k = np.searchsorted(flat, row + u, side="right")
            return nxt[np.minimum(k, indptr[row + 1] - 1)]
        return sample_index(self._cdf[s, a], u)

    def reward(self, s: np.ndarray, a: np.ndarray, u: np.ndarray) -> np.ndarray:
        mean = self.mdp.R[s, a]
        if self.noise == "none":
            return mean.astype(np.float64, copy=True)
        if self.noise == "bernoulli":
            return (u < mean).astype(np.float64)
        return mean + self.sigma * ndtri(np.clip(u, 1e-300, 1.0 - 1e-16))

    def __repr__(self) -> str:
        return f"Env({self.name!r}, S={self.n_states}, A={self.n_actions}, noise={self.noise!r})"
