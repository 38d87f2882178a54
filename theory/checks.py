"""Argument checks shared by mesabase.theory and mesabase.sims: integers, reals and real arrays.

The rules, applied the same way everywhere:

* an **integer** argument (a count, an index, a number of steps, a horizon) must be a Python
  ``int`` or a numpy integer (anything registered as :class:`numbers.Integral`, e.g. a
  sympy Integer), or a 0-d integer array. ``bool`` is refused (``True`` is not a count),
  and so is every float, *including integral ones such as 3.0*: a float where an integer
  is meant is usually a computed value that was meant to be rounded somewhere, and
  rounding it here would hide that (``steps=2.7`` would silently run 2 steps);
* a **real** argument (a discount, a step size, a tolerance) must be a
  :class:`numbers.Real` — int, float, numpy floating or integer, ``Fraction``, sympy
  Rational — or a 0-d real array; ``bool``, ``str`` (``"0.9"``) and complex numbers are
  refused, and it must be finite unless said otherwise;
* a **real array** is refused when its dtype is complex (converting would discard the
  imaginary part: numpy only warns) or not numeric (strings, objects that are not real
  numbers).

Every failure raises the caller's error class (``ValueError`` by default; a subclass such
as :class:`~mesabase.theory.InvalidMDP` where the caller has one) with a message naming the
argument and the value.

Example:
  >>> check_int(3, "steps", lo=0)
  3
  >>> check_int(3.0, "steps")
  Traceback (most recent call last):
  ...
  ValueError: steps must be an integer; got 3.0 (float)
  >>> check_real(0.9, "gamma", lo=0, hi=1)
  0.9
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

__all__ = ["check_int", "check_real", "real_array", "is_int", "is_real", "action_mask",
           "gamma_horizon",
           "terminal_values"]


def _scalar(x):
    """A 0-d numpy array as its scalar; anything else unchanged."""
    if isinstance(x, np.ndarray) and x.ndim == 0:
        return x[()]
    return x


def _describe(x) -> str:
    return f"{x!r} ({type(x).__name__})"


def is_int(x) -> bool:
    """Whether ``x`` is an integer in the sense of :func:`check_int` (no bools, no floats)."""
    v = _scalar(x)
    return isinstance(v, Integral) and not isinstance(v, (bool, np.bool_))


def is_real(x) -> bool:
    """Whether ``x`` is a real number in the sense of :func:`check_real` (any value, NaN
    included; no bools, strings or complex numbers)."""
    v = _scalar(x)
    return isinstance(v, Real) and not isinstance(v, (bool, np.bool_))


def check_int(x, name: str, lo: int | None = None, hi: int | None = None, *,
              error: type[Exception] = ValueError) -> int:
    """``int(x)`` for an integer ``lo <= x <= hi`` (bounds optional), else ``error``.

    Accepted: ``int``, numpy integers, other :class:`numbers.Integral`, 0-d integer arrays.
    Refused: ``bool``, floats (even 3.0), strings and everything else.
    """
    if not is_int(x):
        raise error(f"{name} must be an integer; got {_describe(x)}")
    v = int(_scalar(x))
    if lo is not None and v < lo or hi is not None and v > hi:
        rng = (f">= {lo}" if hi is None else f"<= {hi}" if lo is None
               else f"in [{lo}, {hi}]")
        raise error(f"{name} must be an integer {rng}; got {v}")
    return v


def check_real(x, name: str, lo: float | None = None, hi: float | None = None, *,
               lo_open: bool = False, hi_open: bool = False, finite: bool = True,
               error: type[Exception] = ValueError) -> float:
    """``float(x)`` for a real ``x`` within the bounds (closed unless ``lo_open``/``hi_open``),
    else ``error``. NaN is always refused; ±inf unless ``finite=False``.

    Accepted: :class:`numbers.Real` (int, float, numpy numbers, Fraction, sympy Rational) and
    0-d real arrays. Refused: ``bool``, ``str``, complex numbers.
    """
    if not is_real(x):
        raise error(f"{name} must be a real number; got {_describe(x)}")
    f = float(_scalar(x))
    if np.isnan(f) or (finite and not np.isfinite(f)):
        raise error(f"{name} must be a finite real number; got {x!r}")
    below = lo is not None and (f <= lo if lo_open else f < lo)
    above = hi is not None and (f >= hi if hi_open else f > hi)
    if below or above:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        interval = f"{left}{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}{right}"
        raise error(f"{name} must be in {interval}; got {x!r}")
    return f


def real_array(x, name: str, *, dtype=np.float64, error: type[Exception] = ValueError,
               copy: bool = False) -> np.ndarray:
    """``x`` as a real array of ``dtype`` (float64 by default), refusing complex and
    non-numeric input instead of discarding an imaginary part or failing obscurely.

    bool and integer arrays are converted (a one-hot policy may be given as bools); an
    object array is converted element by element (Fractions are fine; complex or str
    elements are refused).
    """
    a = np.asarray(x)
    kind = a.dtype.kind
    if kind == "c":
        raise error(f"{name} must be real; got complex dtype {a.dtype} (the imaginary part "
                    f"would be discarded)")
    if kind not in "biuf" and kind != "O":
        raise error(f"{name} must be numeric; got dtype {a.dtype}")
    if kind == "O":
        for v in a.reshape(-1):
            if isinstance(v, (complex, np.complexfloating, str, bytes)):
                raise error(f"{name} must hold real numbers; got {_describe(v)}")
    try:
        return np.array(a, dtype=dtype, copy=True) if copy else np.asarray(a, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise error(f"{name} must be numeric: {e}") from None


def action_mask(allowed, R: np.ndarray, *, error: type[Exception] = ValueError) -> np.ndarray:
    """An MDP's action mask: ``allowed`` (bool (S, A), default all True) and R ≠ −inf, for a
    float reward array R (S, A). NaN and +inf in R are errors wherever they are; −inf marks
    its pair as not allowed; a state with no allowed action is an error naming it. Returns
    a read-only bool array."""
    S, A = R.shape
    if allowed is None and np.isfinite(R).all():  # the common case, one pass
        mask = np.ones((S, A), dtype=bool)
        mask.setflags(write=False)
        return mask
    bad = np.isnan(R) | (R == np.inf)
    if bad.any():
        s, a = (int(i) for i in np.argwhere(bad)[0])
        raise error(f"R[{s}, {a}] = {float(R[s, a])} is not finite (use -inf, or allowed=, "
                    "for an action a state does not have)")
    mask = np.ones((S, A), dtype=bool)
    if allowed is not None:
        m = np.asarray(allowed)
        if m.dtype != bool:
            raise error(f"allowed must be a boolean array; got dtype {m.dtype}")
        if m.shape != (S, A):
            raise error(f"allowed must have shape ({S}, {A}) (s, a); got {m.shape}")
        mask &= m
    mask &= R != -np.inf
    empty = ~mask.any(axis=1)
    if empty.any():
        s = int(np.argmax(empty))
        raise error(f"state {s} has no allowed action (allowed[{s}, :] is all False or "
                    f"R[{s}, :] is all -inf)")
    mask.setflags(write=False)
    return mask


def terminal_values(terminal, horizon, S: int, *, error: type[Exception] = ValueError):
    """Terminal values v (S,) as read-only float64: zeros by default for a finite horizon;
    None for an infinite one, where ``terminal`` is an error; finite entries only."""
    if horizon is None:
        if terminal is not None:
            raise error("terminal values need a finite horizon; this MDP has horizon=None")
        return None
    v = np.zeros(S) if terminal is None else real_array(terminal, "terminal", error=error,
                                                         copy=True)
    if v.shape != (S,):
        raise error(f"terminal must have shape ({S},) (one value per state); got {v.shape}")
    if not np.isfinite(v).all():
        i = int(np.argmax(~np.isfinite(v)))
        raise error(f"terminal[{i}] = {float(v[i])} is not finite")
    v.setflags(write=False)
    return v


def gamma_horizon(gamma, horizon, *, error: type[Exception] = ValueError):
    """γ must be a real number (int, float, numpy scalar, Fraction, sympy Rational): a string
    such as ``"0.9"``, a bool or a complex number is refused, not converted."""
    g0 = gamma[()] if isinstance(gamma, np.ndarray) and gamma.ndim == 0 else gamma
    if isinstance(g0, (bool, np.bool_)) or not isinstance(g0, Real):
        raise error(f"gamma must be a number in [0, 1]; got {gamma!r}")
    g = float(g0)
    if not (0.0 <= g <= 1.0) or not np.isfinite(g):
        raise error(f"gamma must be in [0, 1]; got {gamma!r}")
    if horizon is not None:
        if isinstance(horizon, bool) or not isinstance(horizon, Integral) or horizon < 1:
            raise error(f"horizon must be None or an integer >= 1; got {horizon!r}")
        horizon = int(horizon)
    return g, horizon
