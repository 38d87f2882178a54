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
is read by :func:`mesabase.theory.rationals.float_to_fraction`: the closest rational
with denominator ≤ 10⁶ within 10⁻¹⁴·|x| (``0.9`` → 9/10, ``1/3`` → 1/3), else its exact
binary value; ``Solution.exact_input`` reports the largest change.

Action masks: ``allowed[s, a]`` (default all True) or R[s, a] = −inf (QuantEcon's
infeasible actions); V*(s) = max_{a allowed} Q*(s, a), policies put 0 on disallowed pairs,
whose stored R (0) and P row (as given, still a distribution) no solver reads. Terminal
values: with ``horizon=H``, ``terminal=v`` adds γᴴ v(s_H) to the return, V_H = v (default 0).
"""

from __future__ import annotations

from fractions import Fraction
from numbers import Integral, Rational

import numpy as np
import scipy.sparse as sp

from .checks import action_mask, gamma_horizon, real_array, terminal_values
from .rationals import check_exact_rows, float_to_fraction, fractions_of_floats
from .rowcheck import keep as _keep
from .rowcheck import max_reward as _max_reward
from .rowcheck import ours as _ours
from .rowcheck import row_sums_min
from .rowcheck import sum_stats as _sum_stats

__all__ = ["InvalidMDP", "TabularMDP", "ROW_SUM_ATOL", "to_fraction"]

#: Rows of P (and mu0) must sum to 1 within this absolute tolerance (float input).
ROW_SUM_ATOL = 1e-9


class InvalidMDP(ValueError):
    """Raised when an MDP's arrays or parameters are malformed; the message says where."""


def to_fraction(x) -> Fraction:
    """Convert an int, Fraction, sympy Rational or float to an exact :class:`Fraction`.

    Exact numbers are kept as given; a float is read by the rule of
    :func:`~mesabase.theory.rationals.float_to_fraction` (the closest rational with
    denominator ≤ 10⁶ within a relative 10⁻¹⁴, else its exact binary value), so
    ``to_fraction(0.9) == Fraction(9, 10)`` and ``to_fraction(1 / 3) == Fraction(1, 3)``.
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
    return float_to_fraction(xf)[0]


def _as_exact(a: np.ndarray) -> np.ndarray:
    """``a`` as an object array of Fractions, entrywise :func:`to_fraction` (a float array
    once per distinct value)."""
    a = np.asarray(a)
    if a.dtype.kind == "f":
        return fractions_of_floats(a, InvalidMDP)[0]
    out = np.empty(a.shape, dtype=object)
    if a.size:
        out[...] = np.frompyfunc(to_fraction, 1, 1)(a)
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


def check_distribution(name: str, a: np.ndarray, leading: str, stats=None) -> None:
    """a[..., :] rows on the simplex; `leading` names the indices of a row.

    One pass over ``a`` when it is valid (row sums and the global minimum, fused for large
    arrays: :func:`~mesabase.theory.rowcheck.row_sums_min`; a NaN or inf makes a row sum
    non-finite); the offending index is searched for only on failure. ``stats``: the
    ``(sums, min)`` of ``a`` when the caller already has them (e.g. from copying ``a``)."""
    if stats is None:
        if a.ndim >= 2 and a.size:
            sums, lo = row_sums_min(a.reshape(-1, a.shape[-1]))
            sums = sums.reshape(a.shape[:-1])
        else:
            sums, lo = a.sum(axis=-1), (a.min() if a.size else 0.0)
    else:
        sums, lo = stats
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


def _check_exact_rows(name: str, a: np.ndarray, floats: np.ndarray | None = None) -> None:
    """:func:`~mesabase.theory.rationals.check_exact_rows`, raising InvalidMDP."""
    check_exact_rows(name, a, floats, error=InvalidMDP)


def check_gamma_horizon(gamma, horizon):
    """:func:`~mesabase.theory.checks.gamma_horizon`, raising InvalidMDP."""
    return gamma_horizon(gamma, horizon, error=InvalidMDP)


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
      allowed: bool (S, A) action mask (default all True; R = −inf also disallows).
      terminal: finite v (S,), with a horizon only: V_H = v (default 0; kept exactly).
      copy: True (default): the MDP keeps its own copy of a dense P, so changing the
        caller's array afterwards changes nothing here. False: a float64, C-ordered P is
        kept as a read-only *view* of the caller's array, without copying (the copy of a
        512 MiB P costs 60–100 ms, more than solving it): the caller promises not to
        modify that array while the MDP is in use — its validation and every
        certificate assume it is unchanged. (Other dtypes and layouts are converted,
        which copies anyway; R, μ0, a sparse P and exact input are always copied.)

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
        "_allowed", "_masked", "_terminal", "_terminal_exact", "_row_sums", "_Pv0",
    )

    def __init__(self, P, R, *, gamma, horizon=None, mu0=None, allowed=None, terminal=None,
                 copy=True):
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
            if (Pm.data < 0).any() and not Pm.has_canonical_format:
                Pm.sum_duplicates()  # an entry is the sum of its duplicates: judge that
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
            sums = Pm @ np.ones(S)  # row sums: one CSR product (Pm.sum: 7x slower)
            self._row_sums = _sum_stats(sums)
            bad = np.abs(sums - 1.0) > ROW_SUM_ATOL
            if bad.any():
                row = int(np.argmax(bad))
                raise InvalidMDP(
                    f"P[{row // A}, {row % A}, :] sums to {sums[row]!r}, not 1 "
                    f"(tolerance {ROW_SUM_ATOL:g}); state {row // A}, action {row % A}"
                )
            self._Pv0 = None
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
            # Our own C-order copy, validated in the same pass — unless the conversion to
            # float64 already made one, P is another MDP's (frozen, ours), or the caller
            # lets us keep theirs (copy=False, a read-only view; their flags untouched).
            fresh = isinstance(P, (list, tuple)) or not np.may_share_memory(Pf, P_in)
            if not Pf.flags.c_contiguous:
                Pf, fresh = np.ascontiguousarray(Pf), True
            rows = Pf.reshape(S * A, S)
            v0 = None if exact or allowed is not None else _max_reward(R, S, A, rows.size)
            if fresh and Pf.base is None:
                stats = row_sums_min(rows, v=v0)
                _keep(Pf)
            elif _ours(Pf) or not copy:
                stats = row_sums_min(rows, v=v0)
                Pf = Pf.view()
            else:
                mine = np.empty((S * A, S))
                stats = row_sums_min(rows, out=mine, v=v0)
                _keep(mine)
                Pf = mine.reshape(S, A, S)
            self._Pv0 = None if v0 is None else stats[2].reshape(S, A)
            stats = (stats[0].reshape(S, A), stats[1])
            check_distribution("P", Pf, "each P[s, a, :] must be a distribution over s'", stats)
            self._row_sums = _sum_stats(stats[0])
            self._P_exact = None
            if exact:
                Pe = _as_exact(P_in)
                _check_exact_rows("P", Pe)
                Pe.setflags(write=False)
                self._P_exact = Pe
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
        mask = action_mask(allowed, Rf, error=InvalidMDP)
        self._allowed, self._masked = mask, not mask.all()
        # our own copy, with the placeholder 0 at disallowed pairs
        Rf = np.where(mask, Rf, 0.0) if self._masked else np.array(Rf)
        Rf.setflags(write=False)
        self._R = Rf
        self._R_exact = None
        if exact or R_in.dtype == object:
            R_in = np.array(R_in, dtype=object)
            R_in[~mask] = 0
            Re = _as_exact(R_in)
            Re.setflags(write=False)
            self._R_exact = Re
        self._terminal = terminal_values(terminal, horizon, S, error=InvalidMDP)
        self._terminal_exact = None  # exact input kept exactly, as R
        if terminal is not None and (exact or np.asarray(terminal).dtype == object):
            self._terminal_exact = _as_exact(np.asarray(terminal))
            self._terminal_exact.setflags(write=False)

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
    def first_backup(self) -> np.ndarray:
        """Q₁ = R + γ P v₀ with v₀(s) = max_a R[s, a] over the allowed actions (−inf at
        disallowed pairs), read-only (S, A): the second value-iteration iterate from V = 0,
        whose greedy policy starts policy iteration. For a large dense P, P v₀ comes free
        with the validation pass; otherwise it is computed on first use and kept."""
        if self._Pv0 is None:
            v0 = np.where(self._allowed, self._R, -np.inf).max(axis=1)
            self._Pv0 = np.asarray(self._Pm @ v0).reshape(self._R.shape)
        Q = self._R + self._gamma * self._Pv0
        if self._masked:
            Q[~self._allowed] = -np.inf
        Q.setflags(write=False)
        return Q

    has_first_backup = property(lambda self: self._Pv0 is not None,
                                doc="True when ``first_backup`` costs no pass over P.")

    @property
    def row_sums(self) -> tuple[float, float]:
        """(largest, largest |· − 1|) of P's row sums as computed at validation — each
        within γ_n Σ|p| of the exact sum (n terms per row): the certificate's row-sum
        bounds come from these, with no further pass over P."""
        return self._row_sums

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

    allowed = property(lambda self: self._allowed, doc="Bool (S, A), read-only: True where "
                       "state s has action a (module docstring, action masks).")
    is_masked = property(lambda self: self._masked, doc="True when some action is disallowed.")
    terminal = property(lambda self: self._terminal, doc="Terminal values v (S,), read-only: "
                        "V_H = v (zeros by default); None for an infinite horizon.")

    def exact_terminal(self) -> np.ndarray | None:
        """``terminal`` as Fractions (exact input as given, floats as in ``exact_arrays``)."""
        t, te = self._terminal, self._terminal_exact
        return te if te is not None or t is None else _as_exact(t)

    @property
    def is_exact(self) -> bool:
        """True when P was given as exact rationals (dtype object)."""
        return self._P_exact is not None

    def exact_arrays(self, *, report: bool = False):
        """``(P, R, gamma, mu0)`` as Fractions: exact input as given (Fractions, ints and
        sympy Rationals), floats by :func:`~mesabase.theory.rationals.float_to_fraction`
        (the closest rational with denominator ≤ 10⁶ within a relative 10⁻¹⁴, else the
        exact binary value; floats inside an exact array are read by the same rule at
        construction, and are not counted in the report).

        Rows of P read from floats must then sum to exactly 1: a row of 1/3s does
        (1/3 + 1/3 + 1/3), a row that misses by a rounding error is refused, naming the
        row, its exact sum and the rule, and is never renormalised.

        Args:
          report: also return a fifth item, how the numbers were obtained: ``"exact"``
            when no float was converted here, else ``"from floats (largest change c)"``
            with c = max |q − x| over every converted float of P, R, γ and μ0 (and how
            many kept their binary values, if any). ``solve_exact`` puts it on
            ``Solution.exact_input``.

        Raises:
          InvalidMDP: for a sparse MDP (the exact method is for small dense problems), or
            a row of P that does not sum to exactly 1 after conversion.
        """
        if self.is_sparse:
            raise InvalidMDP("exact arithmetic needs a dense P; pass P as an (S, A, S) array")
        changes = []

        def read(exact, floats):
            if exact is not None:
                return exact
            out, change, kept = fractions_of_floats(floats, InvalidMDP)
            changes.append((change, kept))
            return out

        P = read(self._P_exact, self._P)
        if self._P_exact is None:
            _check_exact_rows("P", P, floats=self._P)
        R = read(self._R_exact, self._R)
        mu0 = read(self._mu0_exact, self._mu0)
        gamma = read(self._gamma_exact, np.array([self._gamma]))
        gamma = gamma if self._gamma_exact is not None else gamma[0]
        if not report:
            return P, R, gamma, mu0
        note = "exact"
        if changes:
            kept = sum(k for _, k in changes)
            note = (f"from floats (largest change {float(max(c for c, _ in changes)):.2g}"
                    + (f"; {kept} kept their binary values" if kept else "") + ")")
        return P, R, gamma, mu0, note

    # ---- derived MDPs ----------------------------------------------------------
    def with_reward(self, R) -> TabularMDP:
        """The same dynamics, γ, H, μ0, action mask and terminal values with another reward
        array ``R[s, a]`` (its entries at disallowed pairs are ignored; −inf elsewhere
        disallows more)."""
        P = self._Pm if self.is_sparse else (self._P_exact if self.is_exact else self._P)
        gamma = self._gamma_exact if self.is_exact else self._gamma
        mu0 = self._mu0_exact if self.is_exact else self._mu0
        term = self._terminal_exact if self._terminal_exact is not None else self._terminal
        if self._masked and np.shape(R) == self._allowed.shape:  # −inf or anything there
            R = np.where(self._allowed, np.asarray(R), 0)
        return TabularMDP(P, R, gamma=gamma, horizon=self._horizon, mu0=mu0,
                          allowed=self._allowed, terminal=term)

    def __repr__(self) -> str:
        kind = "sparse" if self.is_sparse else ("exact" if self.is_exact else "dense")
        h = "" if self._horizon is None else f", horizon={self._horizon}"
        if self._masked:
            kind += f", {int((~self._allowed).sum())} disallowed"
        return (
            f"TabularMDP(S={self.n_states}, A={self.n_actions}, gamma={self._gamma:g}{h}, {kind})"
        )
