"""The tabular MDP: an immutable, validated (P, R, γ, H, μ0).

Axis convention (used everywhere in mesabase)::

    P[s, a, s']   transition probabilities, shape (S, A, S), rows on the simplex
    R[s, a]       expected immediate reward, shape (S, A)
    pi[s, a]      a stationary policy, rows on the simplex, shape (S, A)
    mu0[s]        initial-state distribution, shape (S,)

When batched (one model per seed) the batch axis comes first: P[n, s, a, s'].

Discounting and horizons. With ``horizon=None`` the return is Σ_{t≥0} γᵗ r_t with
γ ∈ [0, 1); γ = 1 is allowed for *episodic* problems in which absorbing states
end every episode (the solvers check this and raise :class:`IllPosedMDP`
otherwise). With ``horizon=H`` the return is Σ_{t=0}^{H-1} γᵗ r_t: H decisions,
at t = 0, …, H−1, and any γ ∈ [0, 1].

Exactness. Arrays of ``fractions.Fraction`` (dtype object; ints and sympy
Rationals are accepted too) are kept exactly alongside their float64 image, for
``solve(mdp, method="exact")``. A float given where an exact number is needed
is read as its shortest round-trip decimal (``0.9`` → 9/10).
"""

from __future__ import annotations

from fractions import Fraction
from numbers import Integral, Rational, Real

import numpy as np
import scipy.sparse as sp

from .checks import real_array

__all__ = ["InvalidMDP", "TabularMDP", "ROW_SUM_ATOL", "to_fraction"]

#: Rows of P (and mu0) must sum to 1 within this absolute tolerance (float input).
ROW_SUM_ATOL = 1e-9


class InvalidMDP(ValueError):
    """Raised when an MDP's arrays or parameters are malformed; the message says where."""


def to_fraction(x) -> Fraction:
    """Convert an int, Fraction, sympy Rational or float to an exact :class:`Fraction`.

    Floats are read as their shortest round-trip decimal, ``Fraction(repr(x))``,
    so ``to_fraction(0.9) == Fraction(9, 10)``.
    """
    if isinstance(x, Fraction):
        return x
    if isinstance(x, (Integral, Rational)):
        return Fraction(int(x.numerator), int(x.denominator))
    if hasattr(x, "p") and hasattr(x, "q"):  # sympy Rational
        return Fraction(int(x.p), int(x.q))
    xf = float(x)
    if not np.isfinite(xf):
        raise InvalidMDP(f"{x!r} is not a finite number")
    return Fraction(repr(xf))


def _as_exact(a: np.ndarray) -> np.ndarray:
    out = np.empty(a.shape, dtype=object)
    flat_in, flat_out = a.reshape(-1), out.reshape(-1)
    for i, x in enumerate(flat_in):
        flat_out[i] = to_fraction(x)
    return out


def _float_image(a, name: str) -> np.ndarray:
    """The float64 image of ``a``; complex or non-numeric input is an InvalidMDP (numpy
    would drop an imaginary part with only a warning)."""
    return real_array(a, name, error=InvalidMDP)


def _first_bad(mask: np.ndarray) -> tuple[int, ...]:
    return tuple(int(i) for i in np.argwhere(mask)[0])


def _idx(name: str, index: tuple[int, ...]) -> str:
    return f"{name}[{', '.join(map(str, index))}]"


def check_finite(name: str, a: np.ndarray) -> None:
    bad = ~np.isfinite(a)
    if bad.any():
        i = _first_bad(bad)
        raise InvalidMDP(f"{_idx(name, i)} = {float(a[i])} is not finite")


def check_distribution(name: str, a: np.ndarray, leading: str) -> None:
    """a[..., :] rows on the simplex; `leading` names the indices of a row.

    Two passes over ``a`` when it is valid (row sums, global minimum; a NaN or inf makes
    one of them non-finite); the offending index is searched for only on failure."""
    sums = a.sum(axis=-1)
    lo = a.min() if a.size else 0.0
    if not (np.isfinite(sums).all() and np.isfinite(lo)):
        check_finite(name, a)
    if lo < 0:
        i = _first_bad(a < 0)
        raise InvalidMDP(
            f"{_idx(name, i)} = {float(a[i])} is negative (probabilities must be >= 0)"
        )
    bad = np.abs(sums - 1.0) > ROW_SUM_ATOL
    if bad.any():
        i = _first_bad(np.atleast_1d(bad))
        where = f"{name}[{', '.join(map(str, i))}, :]" if a.ndim > 1 else name
        s = float(np.atleast_1d(sums)[i])
        raise InvalidMDP(
            f"{where} sums to {s!r}, not 1 (tolerance {ROW_SUM_ATOL:g}); {leading}"
        )


def _check_exact_rows(name: str, a: np.ndarray) -> None:
    sums = np.asarray(a.sum(axis=-1), dtype=object)
    for i in np.ndindex(sums.shape):
        if sums[i] != 1:
            where = f"{name}[{', '.join(map(str, i))}, :]" if i else name
            raise InvalidMDP(f"{where} sums to {sums[i]} exactly, not 1 (exact input)")


def check_gamma_horizon(gamma, horizon):
    """γ must be a real number (int, float, numpy scalar, Fraction, sympy Rational): a string
    such as ``"0.9"``, a bool or a complex number is refused, not converted."""
    g0 = gamma[()] if isinstance(gamma, np.ndarray) and gamma.ndim == 0 else gamma
    if isinstance(g0, (bool, np.bool_)) or not isinstance(g0, Real):
        raise InvalidMDP(f"gamma must be a number in [0, 1]; got {gamma!r}")
    g = float(g0)
    if not (0.0 <= g <= 1.0) or not np.isfinite(g):
        raise InvalidMDP(f"gamma must be in [0, 1]; got {gamma!r}")
    if horizon is not None:
        if isinstance(horizon, bool) or not isinstance(horizon, Integral) or horizon < 1:
            raise InvalidMDP(f"horizon must be None or an integer >= 1; got {horizon!r}")
        horizon = int(horizon)
    return g, horizon


class TabularMDP:
    """A finite MDP ``(P, R, γ, H, μ0)``, validated at construction and immutable.

    Args:
      P: transitions ``P[s, a, s']``, shape (S, A, S); or a ``scipy.sparse``
        matrix of shape (S·A, S) whose row ``s·A + a`` is ``P[s, a, :]`` (the
        C-order flattening of the dense array).
      R: expected rewards ``R[s, a]``, shape (S, A).
      gamma: discount γ ∈ [0, 1] (γ = 1 only for episodic or finite-horizon problems).
      horizon: ``None`` (infinite horizon) or H ≥ 1 decisions.
      mu0: initial distribution, shape (S,); uniform by default.

    Raises:
      InvalidMDP: naming the offending axis, index and value.

    Example:
      >>> import numpy as np
      >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
      >>> mdp = TabularMDP(P, [[0.0, 1.0], [2.0, 2.0]], gamma=0.5)
      >>> mdp.n_states, mdp.n_actions, float(mdp.mu0[0])
      (2, 2, 0.5)
    """

    __slots__ = (
        "_P", "_Pm", "_R", "_gamma", "_horizon", "_mu0",
        "_P_exact", "_R_exact", "_gamma_exact", "_mu0_exact",
    )

    def __init__(self, P, R, *, gamma, horizon=None, mu0=None):
        gamma_f, horizon = check_gamma_horizon(gamma, horizon)
        exact = False
        if sp.issparse(P):
            if P.dtype.kind not in "biuf":
                raise InvalidMDP(f"sparse P must be real; got dtype {P.dtype}")
            Pm = sp.csr_array(P, dtype=np.float64, copy=True)
            if Pm.ndim != 2 or Pm.shape[0] % max(Pm.shape[1], 1) or Pm.shape[1] == 0:
                raise InvalidMDP(
                    f"sparse P must have shape (S*A, S) with S*A a multiple of S; got {Pm.shape}"
                )
            S = Pm.shape[1]
            A = Pm.shape[0] // S
            if A == 0:
                raise InvalidMDP("sparse P has no rows: need at least one action")
            Pm.sum_duplicates()
            if not np.isfinite(Pm.data).all():
                k = int(np.argmax(~np.isfinite(Pm.data)))
                row = int(np.searchsorted(Pm.indptr, k, side="right") - 1)
                raise InvalidMDP(
                    f"P[{row // A}, {row % A}, {int(Pm.indices[k])}] = {Pm.data[k]} is not finite"
                )
            if (Pm.data < 0).any():
                k = int(np.argmax(Pm.data < 0))
                row = int(np.searchsorted(Pm.indptr, k, side="right") - 1)
                s, a, s2 = row // A, row % A, int(Pm.indices[k])
                raise InvalidMDP(f"P[{s}, {a}, {s2}] = {Pm.data[k]} is negative")
            sums = np.asarray(Pm.sum(axis=1)).ravel()
            bad = np.abs(sums - 1.0) > ROW_SUM_ATOL
            if bad.any():
                row = int(np.argmax(bad))
                raise InvalidMDP(
                    f"P[{row // A}, {row % A}, :] sums to {sums[row]!r}, not 1 "
                    f"(tolerance {ROW_SUM_ATOL:g}); state {row // A}, action {row % A}"
                )
            for arr in (Pm.data, Pm.indices, Pm.indptr):
                arr.setflags(write=False)
            self._P = None
            self._Pm = Pm
            self._P_exact = None
        else:
            P_in = np.asarray(P)
            exact = P_in.dtype == object
            Pf = _float_image(P_in, "P")
            if Pf.ndim != 3:
                raise InvalidMDP(
                    f"P must have rank 3, axes (s, a, s'); got rank {Pf.ndim} with shape {Pf.shape}"
                )
            S, A, S2 = Pf.shape
            if S == 0 or A == 0:
                raise InvalidMDP(f"P must have at least one state and one action; got {Pf.shape}")
            if S2 != S:
                raise InvalidMDP(
                    f"P axis 2 (next state s') has length {S2} but axis 0 (state s) has "
                    f"length {S}; P must have shape (S, A, S)"
                )
            check_distribution("P", Pf, "each P[s, a, :] must be a distribution over s'")
            self._P_exact = None
            if exact:
                Pe = _as_exact(P_in)
                _check_exact_rows("P", Pe)
                Pe.setflags(write=False)
                self._P_exact = Pe
            Pf = np.array(Pf, dtype=np.float64, order="C")  # our own copy
            Pf.setflags(write=False)
            self._P = Pf
            self._Pm = Pf.reshape(S * A, S)

        R_in = np.asarray(R)
        Rf = _float_image(R_in, "R")
        if Rf.ndim != 2:
            raise InvalidMDP(
                f"R must have rank 2, axes (s, a); got rank {Rf.ndim} with shape {Rf.shape}"
            )
        if Rf.shape[0] != S:
            raise InvalidMDP(f"R axis 0 (state s) has length {Rf.shape[0]} but P has {S} states")
        if Rf.shape[1] != A:
            raise InvalidMDP(f"R axis 1 (action a) has length {Rf.shape[1]} but P has {A} actions")
        check_finite("R", Rf)
        Rf = np.array(Rf, dtype=np.float64)
        Rf.setflags(write=False)
        self._R = Rf
        self._R_exact = None
        if exact or R_in.dtype == object:
            Re = _as_exact(R_in)
            Re.setflags(write=False)
            self._R_exact = Re

        if mu0 is None:
            m_in = None
            mf = np.full(S, 1.0 / S)
        else:
            m_in = np.asarray(mu0)
            mf = _float_image(m_in, "mu0")
            if mf.shape != (S,):
                raise InvalidMDP(
                    f"mu0 must have shape ({S},) (one entry per state); got {mf.shape}"
                )
            check_distribution("mu0", mf, "mu0 must be a distribution over states")
            mf = np.array(mf)
        mf.setflags(write=False)
        self._mu0 = mf
        self._mu0_exact = None
        if exact:
            if m_in is None:
                me = np.array([Fraction(1, S)] * S, dtype=object)
            else:
                me = _as_exact(m_in)
                _check_exact_rows("mu0", me)
            me.setflags(write=False)
            self._mu0_exact = me

        self._gamma = gamma_f
        self._gamma_exact = to_fraction(gamma) if exact else None
        self._horizon = horizon

    # ---- read-only views -------------------------------------------------------
    @property
    def n_states(self) -> int:
        """S, the number of states."""
        return self._R.shape[0]

    @property
    def n_actions(self) -> int:
        """A, the number of actions (the same in every state)."""
        return self._R.shape[1]

    @property
    def P(self) -> np.ndarray:
        """Dense ``P[s, a, s']`` (read-only). For a sparse MDP this densifies (S²A memory)."""
        if self._P is None:
            d = self._Pm.toarray().reshape(self.n_states, self.n_actions, self.n_states)
            d.setflags(write=False)
            return d
        return self._P

    @property
    def P_matrix(self):
        """``P`` as an (S·A, S) operator: a view of the dense array, or the CSR matrix."""
        return self._Pm

    @property
    def is_sparse(self) -> bool:
        return self._P is None

    @property
    def R(self) -> np.ndarray:
        return self._R

    @property
    def gamma(self) -> float:
        return self._gamma

    @property
    def horizon(self) -> int | None:
        return self._horizon

    @property
    def mu0(self) -> np.ndarray:
        return self._mu0

    @property
    def is_exact(self) -> bool:
        """True when P was given as exact rationals (dtype object)."""
        return self._P_exact is not None

    def exact_arrays(self):
        """``(P, R, gamma, mu0)`` as Fractions: exact input as given, floats as decimals.

        Raises:
          InvalidMDP: for a sparse MDP (the exact method is for small dense problems).
        """
        if self.is_sparse:
            raise InvalidMDP("exact arithmetic needs a dense P; pass P as an (S, A, S) array")
        P = self._P_exact if self._P_exact is not None else _as_exact(self._P)
        if self._P_exact is None:
            _check_exact_rows("P (read as decimals)", P)
        R = self._R_exact if self._R_exact is not None else _as_exact(self._R)
        mu0 = self._mu0_exact if self._mu0_exact is not None else _as_exact(self._mu0)
        gamma = self._gamma_exact if self._gamma_exact is not None else to_fraction(self._gamma)
        return P, R, gamma, mu0

    # ---- derived MDPs ----------------------------------------------------------
    def with_reward(self, R) -> TabularMDP:
        """The same dynamics, γ, H and μ0 with another reward array ``R[s, a]``."""
        P = self._Pm if self.is_sparse else (self._P_exact if self.is_exact else self._P)
        gamma = self._gamma_exact if self.is_exact else self._gamma
        mu0 = self._mu0_exact if self.is_exact else self._mu0
        return TabularMDP(P, R, gamma=gamma, horizon=self._horizon, mu0=mu0)

    def __repr__(self) -> str:
        kind = "sparse" if self.is_sparse else ("exact" if self.is_exact else "dense")
        h = "" if self._horizon is None else f", horizon={self._horizon}"
        return (
            f"TabularMDP(S={self.n_states}, A={self.n_actions}, gamma={self._gamma:g}{h}, {kind})"
        )
