"""The online record: what each seed saw, did and got, step by step.

A :class:`History` holds, for N seeds and the first t steps (seed axis first, shape (N, t)):

    states[n, τ]       s_τ
    actions[n, τ]      a_τ
    rewards[n, τ]      r_τ
    next_states[n, τ]  s_{τ+1}
    probs[n, τ]        π_{θ_τ}(a_τ | s_τ), the behaviour probability of the action taken
    dones[n, τ]        True when the episode ended after step τ (horizon or absorbing state)

Arrays are preallocated to a capacity and filled one step at a time for the whole batch
(:meth:`History.append`); the capacity doubles when full, so appends are amortised O(N).
``history[:t]`` (or :meth:`History.first`) is the history of the first t steps, as
read-only views without copying.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_int

__all__ = ["History"]

_FIELDS = ("states", "actions", "rewards", "next_states", "probs", "dones")
_DTYPES = (np.int64, np.int64, np.float64, np.int64, np.float64, np.bool_)


class History:
    """Append-only record of N seeds' transitions (s, a, r, s', π(a|s), done).

    Args:
      n_seeds: N, the number of seeds recorded side by side.
      capacity: steps preallocated (grows by doubling when exceeded).

    Example:
      >>> h = History(n_seeds=2, capacity=4)
      >>> h.append([0, 1], [1, 0], [1.0, 0.0], [1, 1], [0.5, 0.5])
      >>> h.append([1, 1], [0, 0], [0.0, 2.0], [0, 1], [0.5, 0.5])
      >>> len(h), h.rewards.tolist(), h[:1].rewards.tolist()
      (2, [[1.0, 0.0], [0.0, 2.0]], [[1.0], [0.0]])
    """

    __slots__ = ("_data", "_t", "_single", "_frozen")

    def __init__(self, n_seeds: int, capacity: int = 1024):
        n_seeds = check_int(n_seeds, "n_seeds", lo=1)
        capacity = max(check_int(capacity, "capacity", lo=0), 1)
        self._data = {f: np.zeros((int(n_seeds), capacity), dtype=d)
                      for f, d in zip(_FIELDS, _DTYPES, strict=True)}
        self._t = 0
        self._single = False
        self._frozen = False

    # ---- construction from logged data -------------------------------------------
    @classmethod
    def from_arrays(cls, states, actions, rewards, next_states, probs, dones=None) -> History:
        """A history from arrays of shape (N, T), or (T,) for a single seed.

        ``probs`` are the behaviour probabilities π(a_τ|s_τ) ∈ (0, 1]; ``dones`` defaults
        to all False (one long episode). The arrays are copied and validated as
        :meth:`append` validates a step; an error names the field, the seed and the step.
        """
        arrays = [np.asarray(x) for x in (states, actions, rewards, next_states, probs)]
        single = arrays[0].ndim == 1
        shape = arrays[0].shape
        if arrays[0].ndim not in (1, 2):
            raise ValueError(f"states must have shape (N, T) or (T,); got {shape}")
        dones = np.zeros(shape, dtype=bool) if dones is None else np.asarray(dones)
        arrays.append(dones)
        for name, a in zip(_FIELDS, arrays, strict=True):
            if a.shape != shape:
                raise ValueError(f"{name} has shape {a.shape} but states has shape {shape}")
        arrays = [a[None] if single else a for a in arrays]
        N, T = arrays[0].shape
        h = cls(N, max(T, 1))
        for name, a in zip(_FIELDS, arrays, strict=True):
            h._data[name][:, :T] = _coerce(name, a, lambda i: (int(i[0]), int(i[1])))
        h._t = T
        h._single = single
        return h

    @classmethod
    def from_transitions(cls, transitions) -> History:
        """One seed's history from Gymnasium-style transitions, in the order they happened.

        Each transition is ``(obs, action, reward, next_obs, terminated, truncated)`` — the
        state the action was taken in, then what ``env.step(action)`` returned, without its
        info — optionally with a seventh item ``prob`` = π(a|s), the probability the agent
        gave the action; or a dict with the keys ``obs``, ``action``, ``reward``,
        ``next_obs``, ``terminated``, ``truncated`` and optionally ``prob`` (an ``info``
        key is ignored). Observations are state indices (Discrete spaces). ``prob``
        defaults to 1 (unknown; only the "is" history objective reads it). The step is
        done (episode over) when terminated or truncated; while it is not, the next
        transition must start where this one ended (``obs[τ+1] == next_obs[τ]``).

        Returns a one-seed history (``single``, like :meth:`from_arrays` with 1-D arrays).
        Raises ValueError naming the transition (its index τ) and the problem.

        Example:
          >>> h = History.from_transitions([(0, 1, 1.0, 2, False, False),
          ...                               {"obs": 2, "action": 0, "reward": 0.5,
          ...                                "next_obs": 0, "terminated": True,
          ...                                "truncated": False, "prob": 0.25}])
          >>> h.states.tolist(), h.probs.tolist(), h.dones.tolist()
          ([[0, 2]], [[1.0, 0.25]], [[False, True]])
        """
        if isinstance(transitions, (str, bytes, dict)) or not hasattr(transitions, "__len__"):
            raise ValueError(f"History.from_transitions needs a list of transitions; got "
                             f"{type(transitions).__name__}")
        rows = [_transition(i, x) for i, x in enumerate(transitions)]
        dtypes = (np.int64, np.int64, np.float64, np.int64, np.bool_, np.bool_, np.float64)
        cols = list(zip(*rows, strict=True)) or [()] * 7
        s, a, r, s2, term, trunc, p = (np.array(c, dtype=d)
                                       for c, d in zip(cols, dtypes, strict=True))
        done = term | trunc
        gap = ~done[:-1] & (s[1:] != s2[:-1])
        if gap.any():
            i = int(np.argmax(gap))
            raise ValueError(f"History.from_transitions: transition {i + 1} starts in state "
                             f"{s[i + 1]} but transition {i} ended in state {s2[i]} and its "
                             f"episode did not end (terminated and truncated both False): "
                             f"transitions must be one seed's steps in order")
        return cls.from_arrays(s, a, r, s2, p, done)

    def append(self, states, actions, rewards, next_states, probs, dones=None) -> None:
        """Record one step for every seed; each argument has shape (N,) (or is a scalar).

        Validated before anything is written (so a rejected step leaves the history as it
        was): states, actions and next_states must be integers >= 0 (integer dtype, or
        integral floats; bool and complex are refused), rewards finite reals, probs in
        (0, 1], dones bools (or 0/1). The error names the field, the seed and the value.
        """
        if self._frozen:
            raise ValueError("this History is a read-only slice; append to the original")
        N, cap = self._data["states"].shape
        t = self._t
        values = (states, actions, rewards, next_states, probs,
                  False if dones is None else dones)
        checked = [_coerce(f, _per_seed(f, v, N), lambda i: (int(i[0]), t))
                   for f, v in zip(_FIELDS, values, strict=True)]
        self._append_unchecked(*checked)

    def _append_unchecked(self, *values) -> None:
        """:meth:`append` without the validation, for a producer whose values are valid by
        construction (``simulate``: inverse-CDF samples in range, the Env's finite rewards,
        the learner's probabilities of the sampled actions). The checks are a few
        reductions per field, ~40% of an append's cost at N = 1,000 seeds."""
        N, cap = self._data["states"].shape
        t = self._t
        if t == cap:
            for f in _FIELDS:
                old = self._data[f]
                self._data[f] = np.zeros((N, 2 * cap), dtype=old.dtype)
                self._data[f][:, :cap] = old
        for f, v in zip(_FIELDS, values, strict=True):
            self._data[f][:, t] = v
        self._t = t + 1

    # ---- views ---------------------------------------------------------------------
    def first(self, t: int) -> History:
        """The history of the first t steps (views, no copy; read-only)."""
        t = check_int(t, "t")
        if not 0 <= t <= self._t:
            raise IndexError(f"t must be in [0, {self._t}]; got {t}")
        h = object.__new__(History)
        h._data = {f: a[:, :t] for f, a in self._data.items()}
        for a in h._data.values():
            a.flags.writeable = False
        h._t, h._single, h._frozen = t, self._single, True
        return h

    def seed(self, i: int) -> History:
        """Seed i alone, as a one-seed history (views, read-only)."""
        h = object.__new__(History)
        h._data = {f: a[i:i + 1, :self._t] for f, a in self._data.items()}
        for a in h._data.values():
            a.flags.writeable = False
        h._t, h._single, h._frozen = self._t, True, True
        return h

    def __getitem__(self, key) -> History:
        """``history[:t]``: the first t steps (only prefix slices along time)."""
        if isinstance(key, slice) and key.start in (None, 0) and key.step in (None, 1):
            stop = self._t if key.stop is None else key.stop
            return self.first(min(max(stop if stop >= 0 else self._t + stop, 0), self._t))
        raise TypeError("History supports prefix slices history[:t]; use .seed(i) for a seed")

    def __len__(self) -> int:
        return self._t

    @property
    def n_seeds(self) -> int:
        return self._data["states"].shape[0]

    @property
    def single(self) -> bool:
        """True when built from 1-D arrays (one seed): consumers then return unbatched results."""
        return self._single

    def _view(self, f):
        v = self._data[f][:, :self._t]
        v = v.view()
        v.flags.writeable = False
        return v

    states = property(lambda self: self._view("states"), doc="s_τ, shape (N, t)")
    actions = property(lambda self: self._view("actions"), doc="a_τ, shape (N, t)")
    rewards = property(lambda self: self._view("rewards"), doc="r_τ, shape (N, t)")
    next_states = property(lambda self: self._view("next_states"), doc="s_{τ+1}, shape (N, t)")
    probs = property(lambda self: self._view("probs"), doc="π_{θ_τ}(a_τ|s_τ), shape (N, t)")
    dones = property(lambda self: self._view("dones"), doc="episode ended after τ, (N, t)")

    def __repr__(self) -> str:
        return f"History(n_seeds={self.n_seeds}, steps={self._t})"


_INDEX_FIELDS = ("states", "actions", "next_states")
#: Integral floats are accepted as indices up to this magnitude (exactly representable).
_MAX_INDEX = 2.0**53


def _per_seed(name: str, v, N: int) -> np.ndarray:
    """One step's ``v`` as an (N,) array (a scalar is broadcast), or a ValueError."""
    a = np.asarray(v)
    if a.ndim == 0:
        return np.broadcast_to(a, (N,))
    if a.shape != (N,):
        raise ValueError(f"History.append: {name} must have shape ({N},) (one per seed) or be "
                         f"a scalar; got shape {a.shape}")
    return a


def _coerce(name: str, a: np.ndarray, where) -> np.ndarray:
    """``a`` (seed axis first) checked for field ``name`` and converted to its dtype.

    ``where(index)`` gives (seed, step) of an offending element, for the message. The
    valid case costs a reduction or two per field (min/max/sum), the search for the
    offending element runs only on failure.
    """
    kind = a.dtype.kind
    if kind == "c":
        raise ValueError(f"History: {name} must be real; got complex dtype {a.dtype} (the "
                         f"imaginary part would be discarded)")
    if kind not in "biuf":
        raise ValueError(f"History: {name} must be numeric; got dtype {a.dtype}")

    def fail(mask, what):
        i = tuple(np.argwhere(mask)[0])
        n, t = where(i)
        raise ValueError(f"History: {name}[{', '.join(map(str, i))}] = {a[i].item()!r} (seed {n}, "
                         f"step {t}) {what}")

    if name in _INDEX_FIELDS:
        if kind == "b":
            raise ValueError(f"History: {name} must hold integers; got dtype bool")
        if kind == "f":
            ok = np.isfinite(a) & (a == np.round(a)) & (np.abs(a) < _MAX_INDEX)
            if not ok.all():
                fail(~ok, "is not an integer: states and actions must hold integers")
        elif kind == "u" and a.size and a.max() > np.iinfo(np.int64).max:
            fail(a > np.iinfo(np.int64).max, "is too large for an index")
        if a.size and a.min() < 0:
            fail(a < 0, "is negative: states and actions are indices >= 0")
        return a.astype(np.int64, copy=False)
    if name == "dones":
        if kind != "b":
            ok = (a == 0) | (a == 1)
            if not ok.all():
                fail(~ok, "is not a bool (True/False or 0/1)")
        return a.astype(bool, copy=False)
    x = a.astype(np.float64, copy=False)
    if name == "rewards":
        if not np.isfinite(x.sum()) and not np.isfinite(x).all():  # sum: one reduction
            fail(~np.isfinite(x), "is not finite")
    elif x.size and not (x.min() > 0 and x.max() <= 1):  # a NaN fails the comparison
        fail(~((x > 0) & (x <= 1)), "is not a probability in (0, 1]")
    return x


_KEYS = ("obs", "action", "reward", "next_obs", "terminated", "truncated", "prob")


def _transition(i: int, x) -> tuple:
    """Transition i of :meth:`History.from_transitions` as a 7-tuple of scalars (the prob
    defaults to 1), or a ValueError naming it: its form, a missing or unknown key, a field
    that is not a real scalar, or a flag that is not a bool."""
    where = f"History.from_transitions: transition {i}"
    if isinstance(x, dict):
        unknown = sorted(set(map(str, x)) - set(_KEYS) - {"info"})
        missing = [k for k in _KEYS[:6] if k not in x]
        if unknown or missing:
            raise ValueError(f"{where}: " + "; ".join(
                ([f"missing key(s) {', '.join(missing)}"] if missing else [])
                + ([f"unknown key(s) {', '.join(unknown)}"] if unknown else []))
                + f" (keys: {', '.join(_KEYS[:6])}, and optionally prob)")
        values = tuple(x[k] for k in _KEYS[:6]) + (x.get("prob", 1.0),)
    elif isinstance(x, (tuple, list)) and len(x) in (6, 7):
        values = tuple(x) + ((1.0,) if len(x) == 6 else ())
    else:
        raise ValueError(f"{where} must be a tuple (obs, action, reward, next_obs, terminated, "
                         f"truncated[, prob]) or a dict with those keys; got {x!r:.80}")
    for k, v in zip(_KEYS, values, strict=True):
        if k in ("terminated", "truncated"):
            if not isinstance(v, (bool, np.bool_)):
                raise ValueError(f"{where}: {k} = {v!r:.40} is not a bool")
        elif np.ndim(v) != 0 or np.asarray(v).dtype.kind not in "iuf" or isinstance(
                v, (bool, np.bool_)):
            what = "a state index" if k in ("obs", "next_obs") else "a real number"
            raise ValueError(f"{where}: {k} = {v!r:.40} is not {what} (a real scalar)")
        else:
            f = float(v)
            if k in ("obs", "action", "next_obs") and not (
                    f == round(f) and 0 <= f < _MAX_INDEX):
                raise ValueError(f"{where}: {k} = {v!r} is not an index (an integer >= 0)")
            if k == "reward" and not np.isfinite(f):
                raise ValueError(f"{where}: reward = {v!r} is not finite")
            if k == "prob" and not 0 < f <= 1:
                raise ValueError(f"{where}: prob = {v!r} is not a probability in (0, 1]")
    return tuple(v.item() if isinstance(v, np.ndarray | np.generic) else v for v in values)
