"""Hypothesis strategies for tabular MDPs, bandits and policies (``mesabase.theory.strategies``).

In the style of ``hypothesis.extra.numpy``: one function per strategy, each returning a
``SearchStrategy``; every argument takes a value or a strategy for one; values are
validated when the function is called (``InvalidArgument`` at once), drawn values when
they are drawn. Defaults are small (S ≤ 4, A ≤ 3) so that exact solvers stay fast.

How objects are drawn (and so what they shrink towards):

* a distribution row (a row ``P[s, a, :]``, a policy row, a random μ0) is a vector of
  integer weights w_i ∈ {0, …, 4}, normalised, p_i = w_i / Σ_j w_j; a row of zero
  weights puts all its mass on one drawn index. Rows shrink towards "all mass on index 0".
* rewards are halves k/2 inside ``reward_range``, shrinking towards 0.
* discounts default to k/20, k = 0, …, 19, shrinking towards γ = 0.

With ``rational=True`` every number is a :class:`fractions.Fraction` (arrays of dtype
object, γ a Fraction): ``solve(mdp, method="exact")`` then works on exact input.
Otherwise arrays are float64 and γ a float.

Axis convention: ``P[s, a, s']``, ``R[s, a]``, ``pi[s, a]``.
"""

from __future__ import annotations

from fractions import Fraction
from math import ceil, floor
from numbers import Integral, Real

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.extra.numpy import arrays
from hypothesis.strategies import SearchStrategy

from .mdp import TabularMDP, to_fraction

__all__ = ["GAMMAS", "WEIGHT_MAX", "mdps", "bandits", "policies"]

#: Default discounts: γ = k/20 for k = 0, …, 19 (γ < 1, exact as Fractions).
GAMMAS = tuple(Fraction(k, 20) for k in range(20))
#: Integer weights of a drawn distribution row lie in {0, …, WEIGHT_MAX}.
WEIGHT_MAX = 4
MU0_MODES = ("uniform", "random")

# Default argument strategies (module-level singletons, shared by every call).
_N_STATES = st.integers(1, 4)
_N_ACTIONS = st.integers(1, 3)
_N_ARMS = st.integers(2, 5)
_GAMMA = st.sampled_from(GAMMAS)


# ---- argument checks: each takes (value, name) and raises InvalidArgument ---------------
def _count(v, name):
    if isinstance(v, bool) or not isinstance(v, Integral) or v < 1:
        raise InvalidArgument(f"{name} must be an integer >= 1; got {v!r}")


def _flag(v, name):
    if not isinstance(v, (bool, np.bool_)):
        raise InvalidArgument(f"{name} must be True or False; got {v!r}")


def _gamma(v, name):
    if isinstance(v, bool) or not isinstance(v, Real) or not 0 <= v <= 1:
        raise InvalidArgument(f"{name} must be a number in [0, 1]; got {v!r}")


def _horizon(v, name):
    if v is not None:
        _count(v, name + " (None or an integer >= 1)")


def _reward_range(v, name):
    ok = isinstance(v, tuple) and len(v) == 2 and all(
        isinstance(x, Real) and not isinstance(x, bool) and np.isfinite(float(x)) for x in v)
    if not ok:
        raise InvalidArgument(f"{name} must be a tuple (low, high) of finite numbers; got {v!r}")
    lo, hi = v
    if lo > hi:
        raise InvalidArgument(f"{name} = {v!r} has low > high")
    if ceil(2 * lo) > floor(2 * hi):
        raise InvalidArgument(f"{name} = {v!r} contains no multiple of 1/2 (rewards are k/2)")


def _mu0(v, name):
    if v not in MU0_MODES:
        raise InvalidArgument(f"{name} must be one of {MU0_MODES}; got {v!r}")


def _arg(value, name, check) -> SearchStrategy:
    """A strategy for an argument: values are checked now and wrapped in ``st.just``."""
    if isinstance(value, SearchStrategy):
        return value
    check(value, name)
    return st.just(value)


def _draw(draw, strategy, name, check):
    """Draw an argument's value and check it (strategies are checked draw by draw)."""
    v = draw(strategy)
    check(v, f"{name} (drawn)")
    return v


# ---- building blocks ------------------------------------------------------------------
def _weights(draw, shape: tuple[int, ...]) -> np.ndarray:
    """Integer weights (..., n) in {0..WEIGHT_MAX}, every row with a positive entry."""
    n = shape[-1]
    w = draw(arrays(np.int64, shape, elements=st.integers(0, WEIGHT_MAX)))
    fallback = draw(arrays(np.int64, shape[:-1], elements=st.integers(0, n - 1)))
    rows, fall = w.reshape(-1, n), fallback.reshape(-1)
    empty = np.flatnonzero(rows.sum(axis=1) == 0)
    rows[empty, fall[empty]] = 1
    return rows.reshape(shape)


def _normalise(w: np.ndarray, rational: bool) -> np.ndarray:
    tot = w.sum(axis=-1, keepdims=True)
    if not rational:
        return w / tot
    out = np.empty(w.shape, dtype=object)
    tot = np.broadcast_to(tot, w.shape)
    for i in np.ndindex(w.shape):
        out[i] = Fraction(int(w[i]), int(tot[i]))
    return out


def _halves(draw, shape, reward_range, rational: bool) -> np.ndarray:
    lo, hi = reward_range
    k = draw(arrays(np.int64, shape, elements=st.integers(ceil(2 * lo), floor(2 * hi))))
    if not rational:
        return k / 2.0
    out = np.empty(shape, dtype=object)
    for i in np.ndindex(shape):
        out[i] = Fraction(int(k[i]), 2)
    return out


# ---- mdps -----------------------------------------------------------------------------
@st.composite
def _mdps(draw, n_states, n_actions, gamma, horizon, rational, reward_range, mu0):
    S = int(_draw(draw, n_states, "n_states", _count))
    A = int(_draw(draw, n_actions, "n_actions", _count))
    g = _draw(draw, gamma, "gamma", _gamma)
    H = _draw(draw, horizon, "horizon", _horizon)
    exact = bool(_draw(draw, rational, "rational", _flag))
    rr = _draw(draw, reward_range, "reward_range", _reward_range)
    mode = _draw(draw, mu0, "mu0", _mu0)
    if H is None and g == 1:
        raise InvalidArgument("gamma = 1 (drawn) needs a finite horizon: drawn MDPs need not "
                              "be episodic; pass horizon=... or gamma < 1")
    P = _normalise(_weights(draw, (S, A, S)), exact)
    R = _halves(draw, (S, A), rr, exact)
    m = None if mode == "uniform" else _normalise(_weights(draw, (S,)), exact)
    g = to_fraction(g) if exact else float(g)
    return TabularMDP(P, R, gamma=g, horizon=None if H is None else int(H), mu0=m)


def mdps(n_states=_N_STATES, n_actions=_N_ACTIONS, gamma=_GAMMA, horizon=None,
         rational=False, reward_range=(-2, 2), mu0="uniform") -> SearchStrategy[TabularMDP]:
    """Strategy for a dense :class:`TabularMDP` ``(P, R, γ, H, μ0)``.

    Each row P[s, a, :] is w / Σ w for integer weights w ∈ {0..4}^S (at least one
    positive); R[s, a] = k/2 for integers k with k/2 in ``reward_range``.

    Args (each a value or a strategy):
      n_states: S ≥ 1 (default 1..4).
      n_actions: A ≥ 1 (default 1..3).
      gamma: γ ∈ [0, 1] (default k/20, k = 0..19); γ = 1 needs a finite horizon.
      horizon: ``None`` (infinite horizon) or H ≥ 1 decisions.
      rational: ``True`` for Fraction arrays and a Fraction γ (exact solves).
      reward_range: ``(low, high)`` bounding the rewards.
      mu0: ``"uniform"`` (μ0 = 1/S) or ``"random"`` (drawn like a row of P).

    Raises:
      InvalidArgument: at call time for a bad value, at draw time for a bad drawn value.

    Example:
      >>> from hypothesis import given, settings
      >>> from mesabase.theory import solve
      >>> @settings(max_examples=10, derandomize=True, database=None, deadline=None)
      ... @given(mdps(reward_range=(0, 1)))
      ... def values_are_nonnegative(mdp):
      ...     assert solve(mdp).V.min() >= -1e-9
      >>> values_are_nonnegative()

      The simplest MDP with two states (what failing examples shrink towards):

      >>> from hypothesis import find
      >>> mdp = find(mdps(), lambda m: m.n_states == 2, settings=settings(database=None))
      >>> mdp, mdp.P.tolist(), mdp.R.tolist()
      (TabularMDP(S=2, A=1, gamma=0, dense), [[[1.0, 0.0]], [[1.0, 0.0]]], [[0.0], [0.0]])
    """
    n_states = _arg(n_states, "n_states", _count)
    n_actions = _arg(n_actions, "n_actions", _count)
    horizon_s = _arg(horizon, "horizon", _horizon)
    gamma_s = _arg(gamma, "gamma", _gamma)
    if not isinstance(gamma, SearchStrategy) and gamma == 1 and horizon is None:
        raise InvalidArgument("gamma = 1 needs a finite horizon: drawn MDPs need not be "
                              "episodic, so their values may be undefined; pass horizon=...")
    return _mdps(n_states, n_actions, gamma_s, horizon_s, _arg(rational, "rational", _flag),
                 _arg(reward_range, "reward_range", _reward_range), _arg(mu0, "mu0", _mu0))


# ---- bandits --------------------------------------------------------------------------
@st.composite
def _bandits(draw, n_arms, rational, reward_range):
    K = int(_draw(draw, n_arms, "n_arms", _count))
    exact = bool(_draw(draw, rational, "rational", _flag))
    rr = _draw(draw, reward_range, "reward_range", _reward_range)
    one = Fraction(1) if exact else 1.0
    P = np.full((1, K, 1), one, dtype=object if exact else np.float64)
    R = _halves(draw, (1, K), rr, exact)
    return TabularMDP(P, R, gamma=one, horizon=1)


def bandits(n_arms=_N_ARMS, rational=False,
            reward_range=(-2, 2)) -> SearchStrategy[TabularMDP]:
    """Strategy for a K-armed bandit as a one-state MDP: S = 1, P[0, a, 0] = 1, H = 1, γ = 1.

    R has shape (1, K): R[0, a] = k/2 is the expected reward of arm a, so
    ``solve(bandit).V[0, 0]`` is the best arm's mean.

    Args (each a value or a strategy):
      n_arms: K ≥ 1 (default 2..5).
      rational: ``True`` for Fraction arrays.
      reward_range: ``(low, high)`` bounding the arm means.

    Example:
      >>> from hypothesis import given, settings
      >>> from mesabase.theory import solve
      >>> @settings(max_examples=5, derandomize=True, database=None, deadline=None)
      ... @given(bandits())
      ... def best_arm(b):
      ...     assert solve(b).V[0, 0] == b.R.max()
      >>> best_arm()
    """
    return _bandits(_arg(n_arms, "n_arms", _count), _arg(rational, "rational", _flag),
                    _arg(reward_range, "reward_range", _reward_range))


# ---- policies -------------------------------------------------------------------------
@st.composite
def _policies(draw, n_states, n_actions, deterministic):
    S = int(_draw(draw, n_states, "n_states", _count))
    A = int(_draw(draw, n_actions, "n_actions", _count))
    if _draw(draw, deterministic, "deterministic", _flag):
        actions = draw(arrays(np.int64, (S,), elements=st.integers(0, A - 1)))
        return (actions[:, None] == np.arange(A)).astype(np.float64)
    return _normalise(_weights(draw, (S, A)), rational=False)


def policies(mdp: TabularMDP | int | None = None, n_actions=None, *, n_states=None,
             deterministic=False) -> SearchStrategy[np.ndarray]:
    """Strategy for a stationary policy ``pi[s, a]``: a float64 (S, A) array, rows on the
    simplex (integer weights w ∈ {0..4}^A normalised), or one-hot rows if ``deterministic``.

    Give either ``mdp`` (sizes taken from it) or both ``n_states`` and ``n_actions`` (each a
    value or a strategy); ``policies(S, A)`` is short for
    ``policies(n_states=S, n_actions=A)``. For a policy of a drawn MDP, use ``flatmap``:
    ``mdps().flatmap(lambda m: st.tuples(st.just(m), policies(m)))``.

    Raises:
      InvalidArgument: both or neither of ``mdp`` and the sizes, or a bad value.

    Example:
      >>> from hypothesis import given, settings, strategies as st
      >>> from mesabase.theory import evaluate
      >>> pairs = mdps(reward_range=(0, 0)).flatmap(lambda m: st.tuples(st.just(m), policies(m)))
      >>> @settings(max_examples=10, derandomize=True, database=None, deadline=None)
      ... @given(pairs)
      ... def zero_reward_zero_value(pair):
      ...     mdp, pi = pair
      ...     assert abs(evaluate(mdp, pi)).max() <= 1e-12
      >>> zero_reward_zero_value()
    """
    if (mdp is not None and not isinstance(mdp, TabularMDP) and n_states is None
            and n_actions is not None):
        mdp, n_states = None, mdp  # policies(S, A): sizes given positionally
    sizes = (n_states is not None, n_actions is not None)
    if mdp is not None:
        if any(sizes):
            raise InvalidArgument("give either mdp or n_states/n_actions, not both")
        if not isinstance(mdp, TabularMDP):
            raise InvalidArgument(
                f"mdp must be a TabularMDP; got {type(mdp).__name__} (for a strategy of MDPs "
                "use mdps().flatmap(policies))")
        n_states, n_actions = mdp.n_states, mdp.n_actions
    elif not all(sizes):
        raise InvalidArgument("give an mdp, or both n_states and n_actions")
    return _policies(_arg(n_states, "n_states", _count), _arg(n_actions, "n_actions", _count),
                     _arg(deterministic, "deterministic", _flag))
