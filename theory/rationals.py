"""Floats read as exact rationals, and exact row sums: the number rules of exact solving.

A float given where :mod:`~mesabase.theory.solvers.exact` needs an exact number is read by
:func:`float_to_fraction`: the closest rational with denominator ≤ 10⁶ if it lies within
a relative 10⁻¹⁴ of the float, else the float's exact binary value. Exact input
(Fractions, ints, sympy Rationals) never passes through here: it is kept as given.
:meth:`~mesabase.theory.TabularMDP.exact_arrays` applies the rule to the float arrays of
an MDP (:func:`fractions_of_floats`), reports the largest change, and checks with
:func:`exact_row_sums` that every row of P then sums to exactly 1.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

__all__ = ["FLOAT_MAX_DENOMINATOR", "FLOAT_RTOL", "FLOAT_RULE", "float_to_fraction",
           "fractions_of_floats", "exact_row_sums", "check_exact_rows"]

#: Floats read as exact numbers: the closest rational q with denominator at most
#: FLOAT_MAX_DENOMINATOR, kept when |q − x| ≤ FLOAT_RTOL·|x|.
FLOAT_MAX_DENOMINATOR = 10**6
FLOAT_RTOL = 1e-14
#: The rule in words, for error messages.
FLOAT_RULE = ("the closest rationals with denominator <= 10^6 within a relative 1e-14, "
              "else their exact binary values")


def float_to_fraction(x: float) -> tuple[Fraction, bool]:
    """``(q, simple)``: the finite float ``x`` read as an exact number, and whether the rule
    found a simple rational (False: ``q`` is the exact binary value ``Fraction(x)``).

    The rule: with b = Fraction(x) (the exact value of the float) and D = 10⁶, let q be the
    closest rational to b with denominator ≤ D (``b.limit_denominator(D)``, continued
    fractions); take q if |q − b| ≤ 10⁻¹⁴·|b|, else b itself. So ``1/3`` (the float
    0.333…3) → 1/3 and ``0.1`` → 1/10, while a float with no such rational nearby keeps
    its binary value (π/4 → 884279719003555/2⁵⁰). When some p/q with q ≤ D lies within
    the tolerance it is this one and the simplest there: another rational with denominator
    ≤ D differs from p/q by at least 1/(qD) ≥ 10⁻¹², more than twice the tolerance for
    |x| < 50. The tolerance is relative, so 0 stays 0 and nothing nonzero becomes 0
    (a transition's support never changes), and is about 45–90 float64 rounding units:
    a float computed in a few operations from a simple rational is read as that rational.
    A random float is moved (by at most 10⁻¹⁴·|x|) with probability about 0.6 %·|x| for
    |x| ≤ 1.

    Example:
      >>> float_to_fraction(1 / 3), float_to_fraction(0.1 + 0.2)
      ((Fraction(1, 3), True), (Fraction(3, 10), True))
      >>> float_to_fraction(0.123456789)[1]   # no rational with denominator <= 10^6 near
      False
    """
    b = Fraction(x)
    q = b.limit_denominator(FLOAT_MAX_DENOMINATOR)
    if abs(q - b) <= abs(b) * Fraction(FLOAT_RTOL):
        return q, True
    return b, False


def fractions_of_floats(a, error=ValueError) -> tuple[np.ndarray, Fraction, int]:
    """``(out, change, kept)``: the float array ``a`` as an object array of Fractions by
    :func:`float_to_fraction` (computed once per distinct value), the largest change
    max |q − x|, and how many entries kept their binary values.

    Raises:
      error: an entry is NaN or infinite.
    """
    a = np.asarray(a, dtype=np.float64)
    vals, inv, counts = np.unique(a.reshape(-1), return_inverse=True, return_counts=True)
    bad = ~np.isfinite(vals)
    if bad.any():
        raise error(f"{float(vals[bad][0])!r} is not a finite number")
    table = np.empty(len(vals), dtype=object)
    change, kept = Fraction(0), 0
    for i, (x, c) in enumerate(zip(vals.tolist(), counts.tolist(), strict=True)):
        table[i], simple = float_to_fraction(x)
        change = max(change, abs(table[i] - Fraction(x)))
        kept += 0 if simple else c
    return table[inv.reshape(-1)].reshape(a.shape), change, kept


def exact_row_sums(rows: np.ndarray, support: np.ndarray | None = None) -> np.ndarray:
    """Σ_j rows[i, j] for a 2-D object array of Fractions, adding only the nonzero entries
    (found by truth value, or given as the nonzero pattern ``support`` of the same shape):
    one ``np.add.reduceat`` over them, so a sparse pattern in a dense array costs little.

    Example:
      >>> exact_row_sums(np.array([[Fraction(1, 3)] * 3, [0, 0, 0]], dtype=object)).tolist()
      [Fraction(1, 1), Fraction(0, 1)]
    """
    r, c = np.nonzero(rows if support is None else support)
    counts = np.bincount(r, minlength=rows.shape[0])
    sums = np.full(rows.shape[0], Fraction(0), dtype=object)
    if r.size:
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))[counts > 0]
        sums[counts > 0] = np.add.reduceat(rows[r, c], starts)
    return sums


def check_exact_rows(name: str, a: np.ndarray, floats: np.ndarray | None = None, *,
                     error: type[Exception] = ValueError) -> None:
    """Raise unless every row ``a[..., :]`` of Fractions sums to exactly 1 (never
    renormalised). ``floats``: the float array ``a`` was read from (its zeros are ``a``'s,
    the rule being relative); the message then names the rule, the row's deviation from
    1 and its first entry that kept its binary value."""
    rows = a.reshape(-1, a.shape[-1])
    sums = exact_row_sums(rows, None if floats is None else floats.reshape(rows.shape))
    bad = np.flatnonzero(sums != 1)
    if not bad.size:
        return
    i = tuple(int(k) for k in np.unravel_index(bad[0], a.shape[:-1]))
    where = f"{name}[{', '.join(map(str, i))}, :]" if i else name
    total = sums[bad[0]]
    if floats is None:
        raise error(f"{where} sums to {total} exactly, not 1 (exact input)")
    binary = [j for j in np.flatnonzero(floats[i]).tolist()
              if not float_to_fraction(floats[i][j])[1]]
    at = ", ".join(map(str, i + tuple(binary[:1])))
    kept = (f"; {name}[{at}] = {float(floats[i][binary[0]])!r} kept its binary value"
            if binary else "")
    raise error(
        f"{where} sums to {total} exactly (1 {'+-'[total < 1]} {float(abs(total - 1)):.2g}), "
        f"not 1, read from floats as {FLOAT_RULE}{kept}: exact solving needs rows that sum "
        "to 1 (rows are not renormalised; pass Fractions)"
    )
