"""Exact linear algebra for :mod:`.exact`: python-flint's rational matrices behind Fractions.

The exact solver's two costs are the policy evaluation (I − γ P_π) V = r_π, a dense
S × S rational system, and the backup Q = R + γ P V over all (s, a). Both run here on
FLINT's ``fmpq_mat`` (python-flint): exact rationals with the integer arithmetic in C (GMP),
the solve by fraction-free LU or Dixon's p-adic lifting (Dixon 1982), chosen by FLINT.
Fractions stay the interface: :class:`Transitions` is built from the object arrays of
:meth:`~mesabase.theory.TabularMDP.exact_arrays`, and results are converted back with
:func:`fraction_of`, so nothing is rounded anywhere (an fmpq is a reduced p/q like a
Fraction; the conversion is exact both ways).

Why FLINT (benchmarks/exact.py, BENCHMARKS.md "Exact solving"): one solve of the Taxi
policy system (S = 501) takes 0.12 s in ``fmpq_mat.solve`` against 7 s in the pure-Python
fraction-free Gauss–Jordan below; sympy's ``DomainMatrix`` over QQ is as fast only
because it delegates to the same FLINT matrices when python-flint is installed (76 s with
its pure-Python ground types).

:func:`bareiss_solve` is that pure-Python solver, kept as the reference the fast path is
tested against and the "old" timing of the benchmark.

References:
  J. D. Dixon, "Exact solution of linear equations using p-adic expansions",
  Numer. Math. 40 (1982) 137–141.
  E. H. Bareiss, "Sylvester's identity and multistep integer-preserving Gaussian
  elimination", Math. Comp. 22 (1968) 565–578.
"""

from __future__ import annotations

from fractions import Fraction
from math import lcm

import flint
import numpy as np

__all__ = ["Transitions", "bareiss_solve", "fmpq_of", "fraction_of", "solve_fmpq"]


def fmpq_of(x) -> flint.fmpq:
    """An int or Fraction (anything with ``numerator``/``denominator``) as a flint fmpq."""
    if isinstance(x, flint.fmpq):
        return x
    return flint.fmpq(int(x.numerator), int(x.denominator))


def fraction_of(q) -> Fraction:
    """A flint fmpq (or fmpz) as a Fraction, exactly."""
    if isinstance(q, flint.fmpz):
        return Fraction(int(q))
    return Fraction(int(q.p), int(q.q))


def solve_fmpq(M: flint.fmpq_mat, b: flint.fmpq_mat) -> flint.fmpq_mat:
    """x with M x = b exactly (M square): FLINT's ``fmpq_mat.solve``.

    Raises:
      ZeroDivisionError: M is singular.
    """
    try:
        return M.solve(b)
    except ZeroDivisionError:
        n = M.nrows()
        raise ZeroDivisionError(f"singular system: the {n}×{n} matrix has no inverse") from None


def bareiss_solve(M, b) -> list[Fraction]:
    """Solve M x = b exactly (M square, entries rational) by fraction-free Gauss–Jordan.

    Each row of [M | b] is scaled by the lcm of its denominators to integers, then
    eliminated with Bareiss's integer-preserving update (Bareiss 1968)

        a_ij ← (p_k a_ij − a_ik a_kj) / p_{k−1}     (an exact integer division)

    for every row i ≠ k, where p_k is the k-th pivot (the first nonzero entry of column k
    at or below row k) and p_{−1} = 1. At the end every diagonal entry equals the last
    pivot d = ±det, and x_i = a_in / d. Pure Python: the reference implementation (the
    solver of mesabase before FLINT), O(n³) big-integer operations.

    Raises:
      ZeroDivisionError: M is singular (naming the column without a pivot).
    """
    n = len(b)
    A = []
    for row, rhs in zip(M, b, strict=True):
        row = [Fraction(x) for x in row] + [Fraction(rhs)]
        L = lcm(*(x.denominator for x in row))
        A.append([x.numerator * (L // x.denominator) for x in row])
    prev = 1
    for k in range(n):
        p = next((i for i in range(k, n) if A[i][k] != 0), None)
        if p is None:
            raise ZeroDivisionError(f"singular system: no nonzero pivot in column {k}")
        A[k], A[p] = A[p], A[k]
        rk = A[k]
        piv = rk[k]
        tail = range(k + 1, n + 1)
        for i in range(n):
            if i == k:
                continue
            ri = A[i]
            f = ri[k]
            if f == 0:
                for j in tail:
                    ri[j] = piv * ri[j] // prev
            else:
                for j in tail:
                    ri[j] = (piv * ri[j] - f * rk[j]) // prev
            ri[k] = 0
        prev = piv
    return [Fraction(A[i][n], prev) for i in range(n)]


class Transitions:
    """P, R and γ of a dense exact MDP as FLINT matrices, for backups and policy systems.

    ``Pm`` is the (S·A) × S fmpq_mat whose row s·A + a is P[s, a, :] (only the nonzero
    entries are written), ``Rc`` the (S·A) × 1 column of R, ``succ[s][a]`` the list of
    (s', P[s, a, s']) over the nonzero entries, with fmpq probabilities.

    Args:
      P, R, gamma: object arrays of Fractions (S, A, S) and (S, A), and a Fraction.
      support: P's nonzero pattern, bool (S, A, S), when known (the float image of a P
        read from floats); by default found from the Fractions' truth values.
    """

    def __init__(self, P: np.ndarray, R: np.ndarray, gamma: Fraction, support=None):
        S, A, _ = P.shape
        self.S, self.A = S, A
        self.gamma = fmpq_of(gamma)
        cache: dict[tuple[int, int], flint.fmpq] = {}  # keyed by (p, q): hashing is cheap

        def q(x):
            key = (x.numerator, x.denominator)
            if key not in cache:
                cache[key] = fmpq_of(x)
            return cache[key]

        if support is None:
            support = P.astype(bool)  # one __bool__ per entry (np.nonzero calls it twice)
        rows, cols = np.nonzero(np.asarray(support).reshape(S * A, S))
        vals = P.reshape(S * A, S)[rows, cols]
        self.Pm = flint.fmpq_mat(S * A, S)
        self.succ: list[list[list[tuple[int, flint.fmpq]]]] = [[[] for _ in range(A)]
                                                               for _ in range(S)]
        for r, c, v in zip(rows.tolist(), cols.tolist(), vals.tolist(), strict=True):
            p = q(v)
            self.Pm[r, c] = p
            self.succ[r // A][r % A].append((c, p))
        self.Rc = flint.fmpq_mat(S * A, 1, [q(x) for x in R.reshape(-1).tolist()])
        self.R = [[q(x) for x in row] for row in R.tolist()]

    def backup(self, V) -> list:
        """Q[s·A + a] = R[s, a] + γ Σ_s' P[s, a, s'] V[s'] as a flat list of fmpq
        (``V``: S Fractions or fmpq), one FLINT matrix–vector product."""
        Vc = flint.fmpq_mat(self.S, 1, [fmpq_of(v) for v in V])
        return (self.Rc + (self.Pm * Vc) * self.gamma).entries()

    def system(self, pi_rows, keep) -> tuple[flint.fmpq_mat, flint.fmpq_mat]:
        """(M, b) = (I − γ P_π, r_π) restricted to the states ``keep`` (rows and columns):
        P_π(s, s') = Σ_a π(a|s) P[s, a, s'], r_π(s) = Σ_a π(a|s) R[s, a], where
        ``pi_rows[s]`` lists (a, π(a|s)) over π(a|s) ≠ 0 (weights Fractions or fmpq)."""
        pos = {s: i for i, s in enumerate(keep)}
        n = len(keep)
        M = flint.fmpq_mat(n, n)
        b = flint.fmpq_mat(n, 1)
        g = self.gamma
        for i, s in enumerate(keep):
            row = {i: flint.fmpq(1)}
            r = flint.fmpq(0)
            for a, w in pi_rows[s]:
                w = fmpq_of(w)
                r += w * self.R[s][a]
                gw = g * w
                for j, p in self.succ[s][a]:
                    k = pos.get(j)
                    if k is not None:
                        row[k] = row.get(k, 0) - gw * p
            for k, v in row.items():
                M[i, k] = v
            b[i, 0] = r
        return M, b
