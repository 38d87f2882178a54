"""Step-size schedules: α_k = lr · m(k), where k counts the updates a seed has received.

    "constant"       m(k) = 1
    ("power", p)     m(k) = (k + 1)^(−p),  p ≥ 0         (p = 1: the Robbins–Monro 1/k)
    a callable f     m(k) = f(k), evaluated on the (N,) int64 array of counts; it must
                     return non-negative finite values broadcastable to (N,)

With lr = 1 a callable's value is α_k itself. Robbins–Monro conditions (Σα = ∞,
Σα² < ∞) hold for ("power", p) with ½ < p ≤ 1.

Reference: H. Robbins and S. Monro, "A stochastic approximation method", Ann. Math.
Statist. 22 (1951).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from numbers import Real

import numpy as np

__all__ = ["Constant", "Power", "Custom", "make_schedule"]


@dataclass(frozen=True)
class Constant:
    """m(k) = 1.

    >>> Constant()(np.array([0, 5])).tolist()
    [1.0, 1.0]
    """

    def __call__(self, k: np.ndarray) -> np.ndarray:
        return np.ones(np.shape(k))


@dataclass(frozen=True)
class Power:
    """m(k) = (k + 1)^(−p).

    >>> Power(1.0)(np.array([0, 1, 3])).tolist()
    [1.0, 0.5, 0.25]
    """

    p: float

    def __post_init__(self):
        if isinstance(self.p, bool) or not isinstance(self.p, Real) or not (
                np.isfinite(self.p) and self.p >= 0):
            raise ValueError(f"the power schedule's exponent p must be a finite real >= 0; "
                             f"got {self.p!r}")

    def __call__(self, k: np.ndarray) -> np.ndarray:
        return (np.asarray(k, dtype=np.float64) + 1.0) ** (-float(self.p))


@dataclass(frozen=True)
class Custom:
    """m(k) = f(k) for a user function, checked on every call (finite, >= 0, shape)."""

    f: Callable

    def __call__(self, k: np.ndarray) -> np.ndarray:
        m = np.asarray(self.f(k), dtype=np.float64)
        try:
            m = np.broadcast_to(m, np.shape(k))
        except ValueError:
            raise ValueError(f"schedule returned shape {m.shape}, not broadcastable to the "
                             f"counts' shape {np.shape(k)}") from None
        bad = ~np.isfinite(m) | (m < 0)
        if bad.any():
            i = int(np.argmax(bad.ravel()))
            raise ValueError(f"schedule(k) must be finite and >= 0; got {m.ravel()[i]} at "
                             f"k = {int(np.ravel(k)[i])}")
        return m


def make_schedule(spec) -> Constant | Power | Custom:
    """A schedule from its specification: "constant", ("power", p), a callable, or a
    schedule object.

    >>> make_schedule(("power", 0.5))
    Power(p=0.5)
    """
    if isinstance(spec, (Constant, Power, Custom)):
        return spec
    if isinstance(spec, str):
        if spec == "constant":
            return Constant()
        raise ValueError(f"unknown schedule {spec!r}; use 'constant', ('power', p) or a "
                         f"callable k -> multiplier")
    if isinstance(spec, tuple):
        if len(spec) == 2 and spec[0] == "power":
            return Power(spec[1])
        raise ValueError(f"a tuple schedule must be ('power', p); got {spec!r}")
    if callable(spec):
        return Custom(spec)
    raise ValueError(f"unknown schedule {spec!r}; use 'constant', ('power', p) or a callable")
