"""Distributions of Bernoulli-bandit tasks: the "meta" in meta-learning.

A task is a vector p ∈ [0, 1]ᴷ of arm success probabilities; a distribution over tasks is
the prior an agent is (meta-)trained on and evaluated against (its mean regret over tasks
is the Bayes regret). Two families, each knowing its exact Bayes-optimal agent:

* :class:`BetaTasks`: independent arms, pₖ ∼ Beta(αₖ, βₖ); the posterior after (sₖ, fₖ)
  successes and failures is Beta(αₖ + sₖ, βₖ + fₖ)
  (:func:`mesabase.theory.bandits.bayes_optimal_bandit`).
* :class:`DependentTasks`: two arms, p₁ ∼ Beta(α, β), p₂ = 1 − p₁, so each pull informs
  both arms: the posterior of p₁ is Beta(α + s₁ + f₂, β + f₁ + s₂)
  (:func:`mesabase.theory.bandits.bayes_optimal_dependent`).

``sample(n, rng)`` returns p (n, K) float64; ``rng`` is a Generator or an int seed.
``expected_max()`` is E[maxₖ pₖ], so that the exact Bayes regret of an agent whose expected
total reward is V is H · E[maxₖ pₖ] − V.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from numbers import Integral

import numpy as np
from scipy import integrate, special

from mesabase.theory.bandits.bayes import (
    BayesBandit,
    bayes_optimal_bandit,
    bayes_optimal_dependent,
)

from .rollouts import check_int

__all__ = ["BetaTasks", "DependentTasks", "QUAD_TOL"]

#: Absolute and relative tolerance asked of ``scipy.integrate.quad`` in ``expected_max``.
QUAD_TOL = 1e-12


def _pair(prior, name: str = "prior") -> tuple[float, float]:
    arr = np.asarray(prior, dtype=np.float64) if not isinstance(prior, str) else None
    if arr is None or arr.shape != (2,):
        raise ValueError(f"{name} must be a pair (alpha, beta); got {prior!r}")
    if not np.isfinite(arr).all() or (arr <= 0).any():
        raise ValueError(f"{name} must have alpha > 0 and beta > 0 (finite); got {prior!r}")
    return float(arr[0]), float(arr[1])


def _prior_array(prior, n_arms: int) -> np.ndarray:
    arr = np.asarray(prior, dtype=np.float64) if not isinstance(prior, str) else None
    if arr is not None and arr.shape == (2,):
        arr = np.tile(arr, (n_arms, 1))
    if arr is None or arr.shape != (n_arms, 2):
        raise ValueError(f"prior must be (alpha, beta) or an array of shape ({n_arms}, 2); "
                         f"got {prior!r}")
    bad = ~np.isfinite(arr) | (arr <= 0)
    if bad.any():
        k, j = np.argwhere(bad)[0]
        raise ValueError(f"prior entries must be finite and > 0; got prior[{k}, {j}] = "
                         f"{arr[k, j]}")
    return arr


def _rng(rng) -> np.random.Generator:
    if isinstance(rng, np.random.Generator):
        return rng
    if isinstance(rng, Integral) and not isinstance(rng, bool) and rng >= 0:
        return np.random.default_rng(int(rng))
    raise ValueError(f"rng must be a numpy Generator or a non-negative int seed; got {rng!r}")


def _count(n) -> int:
    return check_int(n, "n", 0)


def _bayes_prior(prior: np.ndarray):
    """The prior as ints when integral (the DP can then be exact), else floats."""
    if np.all(prior == np.round(prior)):
        return prior.astype(np.int64)
    return prior


@dataclass(frozen=True, eq=False)
class BetaTasks:
    """Independent arms: pₖ ∼ Beta(αₖ, βₖ), k = 1 … K.

    Args:
      n_arms: K ≥ 1.
      prior: (α, β) shared by all arms, or an array (K, 2) of per-arm (αₖ, βₖ); all > 0.

    Example:
      >>> tasks = BetaTasks(2)
      >>> tasks.sample(3, rng=0).shape, tasks.expected_max(exact=True)
      ((3, 2), Fraction(2, 3))
    """

    n_arms: int
    prior: np.ndarray = field(default=(1, 1))

    family = "beta"

    def __post_init__(self):
        object.__setattr__(self, "n_arms", check_int(self.n_arms, "n_arms", 1))
        prior = _prior_array(self.prior, self.n_arms)
        prior.setflags(write=False)
        object.__setattr__(self, "prior", prior)

    @property
    def name(self) -> str:
        a, b = self.prior[0]
        same = bool((self.prior == self.prior[0]).all())
        pr = f"Beta({a:g},{b:g})" if same else "Beta(per-arm)"
        return f"beta K={self.n_arms} {pr}"

    @property
    def key(self) -> tuple:
        """A hashable identity (family, K, prior) for caches."""
        return (self.family, self.n_arms, tuple(self.prior.ravel().tolist()))

    def sample(self, n: int, rng) -> np.ndarray:
        """p (n, K) float64, rows i.i.d. from the prior (``rng.beta``)."""
        n, rng = _count(n), _rng(rng)
        return rng.beta(self.prior[:, 0], self.prior[:, 1], size=(n, self.n_arms))

    def bayes(self, horizon: int, exact: bool = False) -> BayesBandit:
        """The exact Bayes-optimal agent's table: ``bayes_optimal_bandit(K, H, prior)``."""
        return bayes_optimal_bandit(self.n_arms, horizon, prior=_bayes_prior(self.prior),
                                    exact=exact)

    def expected_max(self, exact: bool = False) -> float | Fraction:
        """E[maxₖ pₖ] = ∫₀¹ (1 − Πₖ Fₖ(x)) dx, Fₖ the Beta(αₖ, βₖ) CDF.

        Closed form for the uniform prior: E[max of K uniforms] = K / (K + 1) (a Fraction
        when ``exact``); otherwise ``scipy.integrate.quad`` with absolute and relative
        tolerance :data:`QUAD_TOL` (``exact`` then raises ValueError: no closed form here).
        """
        if (self.prior == 1).all():
            val = Fraction(self.n_arms, self.n_arms + 1)
            return val if exact else float(val)
        if exact:
            raise ValueError("exact=True needs the uniform prior (alpha, beta) = (1, 1); "
                             f"got prior {self.prior.tolist()}")
        a, b = self.prior[:, 0], self.prior[:, 1]
        val, _ = integrate.quad(lambda x: 1.0 - np.prod(special.betainc(a, b, x)), 0.0, 1.0,
                                epsabs=QUAD_TOL, epsrel=QUAD_TOL, limit=200)
        return float(val)


@dataclass(frozen=True, eq=False)
class DependentTasks:
    """Two dependent arms: p₁ ∼ Beta(α, β), p₂ = 1 − p₁.

    Args:
      prior: (α, β), both > 0, the prior of p₁.

    Example:
      >>> tasks = DependentTasks()
      >>> p = tasks.sample(4, rng=0)
      >>> bool(np.allclose(p.sum(axis=1), 1.0)), tasks.expected_max(exact=True)
      (True, Fraction(3, 4))
    """

    prior: tuple = (1, 1)

    family = "dependent"
    n_arms = 2

    def __post_init__(self):
        object.__setattr__(self, "prior", _pair(self.prior))

    @property
    def name(self) -> str:
        return f"dependent p2=1-p1, p1~Beta({self.prior[0]:g},{self.prior[1]:g})"

    @property
    def key(self) -> tuple:
        """A hashable identity (family, K, prior) for caches."""
        return (self.family, 2, self.prior)

    def sample(self, n: int, rng) -> np.ndarray:
        """p (n, 2) float64: p[:, 0] ∼ Beta(α, β) i.i.d., p[:, 1] = 1 − p[:, 0]."""
        n, rng = _count(n), _rng(rng)
        p1 = rng.beta(self.prior[0], self.prior[1], size=n)
        return np.stack([p1, 1.0 - p1], axis=1)

    def bayes(self, horizon: int, exact: bool = False) -> BayesBandit:
        """The exact Bayes-optimal agent's table: ``bayes_optimal_dependent(H, prior)``."""
        prior = _bayes_prior(np.asarray(self.prior))
        return bayes_optimal_dependent(horizon, prior=tuple(prior.tolist()), exact=exact)

    def expected_max(self, exact: bool = False) -> float | Fraction:
        """E[max(p₁, 1 − p₁)], with I_x(a, b) the regularised incomplete beta function (the
        Beta(a, b) CDF) and E[p₁ 1{p₁ ≤ x}] = α/(α+β) I_x(α+1, β):

            E[max] = α/(α+β) (1 − 2 I_½(α+1, β)) + I_½(α, β)

        (closed form, evaluated with ``scipy.special.betainc``). Uniform prior: 3/4 (a
        Fraction when ``exact``; ``exact`` raises ValueError for other priors).
        """
        a, b = self.prior
        if a == 1 and b == 1:
            return Fraction(3, 4) if exact else 0.75
        if exact:
            raise ValueError("exact=True needs the uniform prior (alpha, beta) = (1, 1); "
                             f"got prior {self.prior}")
        m = a / (a + b)
        # E[max] = E[p 1{p>½}] + E[(1−p) 1{p≤½}] = m − m I(α+1,β) + I(α,β) − m I(α+1,β)
        return float(m * (1.0 - 2.0 * special.betainc(a + 1, b, 0.5))
                     + special.betainc(a, b, 0.5))

