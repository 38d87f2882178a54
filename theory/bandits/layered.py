"""Bayes-optimal bandit values layer by layer: memory for one layer of beliefs, not the tree.

Backward induction on the belief states of :mod:`.bayes` only ever reads layer t + 1 (the
count vectors with t + 1 pulls) while computing layer t, so the whole table of
C(H + 2K, 2K) states is never needed: the largest layer has C(H + 2K − 1, 2K − 1) states
(K = 2, H = 100: 176,851 of the table's 4,598,126; K = 3, H = 50: 3,478,761 of 32,468,436).

Layer t holds the 2K-vectors c = (s₁, f₁, …, s_K, f_K) of total t in lexicographic order
(the order of :func:`~mesabase.theory.bandits.belief_states` within a total). The position
of c in its layer is, by the hockey-stick identity (q = 2K − i − 1 entries after position
i, rᵢ = t − Σ_{j<i} cⱼ):

    rank(c) = Σᵢ [ C(rᵢ + q, q) − C(rᵢ − cᵢ + q, q) ],

so the successors c + e_{k,s}, c + e_{k,f} of every state of a layer are located in the
next layer by integer arithmetic, vectorised over the layer. With posterior means mₖ(c)
(:func:`~mesabase.theory.bandits.bayes._means`),

    Q_t(c, k) = mₖ (1 + V_{t+1}(c + e_{k,s})) + (1 − mₖ) V_{t+1}(c + e_{k,f}),
    V_t(c) = maxₖ Q_t(c, k),  V_H = 0,

the Bellman equation of :mod:`.bayes`, exactly. In floats (float64, vectorised) or
exactly, in python-flint's ``fmpq`` rationals (GMP), object arrays one layer at a time.
"""

from __future__ import annotations

import functools
from fractions import Fraction

import numpy as np

__all__ = ["layer_states", "layer_rank", "layered_values", "binomials", "layer_offsets"]


@functools.lru_cache(maxsize=512)
def _exact_total(m: int, t: int) -> np.ndarray:
    """All m-vectors of non-negative ints with total exactly t, lexicographic: (n, m) int16."""
    if m == 1:
        return np.array([[t]], dtype=np.int16)
    blocks = []
    for v in range(t + 1):
        rest = _exact_total(m - 1, t - v)
        head = np.full((len(rest), 1), v, dtype=np.int16)
        blocks.append(np.concatenate([head, rest], axis=1))
    out = np.concatenate(blocks)
    out.setflags(write=False)
    return out


def layer_offsets(m: int, t) -> np.ndarray:
    """C(t − 1 + m, m): how many m-vectors have total < t (0 for t = 0)."""
    t = np.asarray(t, dtype=np.int64)
    B = binomials(int(t.max()) + m if t.size else m, m)
    return np.where(t > 0, B[np.maximum(t - 1 + m, 0), m], 0)


def layer_states(n_arms: int, t: int) -> np.ndarray:
    """The count vectors with t pulls, (n, K, 2) int16, in belief_states order within the
    total: n = C(t + 2K − 1, 2K − 1)."""
    return _exact_total(2 * n_arms, t).reshape(-1, n_arms, 2)


@functools.lru_cache(maxsize=64)
def binomials(n_max: int, m: int) -> np.ndarray:
    """binom[n, k] = C(n, k) for 0 ≤ n ≤ n_max, 0 ≤ k ≤ m (int64)."""
    from math import comb

    return np.array([[comb(n, k) for k in range(m + 1)] for n in range(n_max + 1)],
                    dtype=np.int64)


def layer_rank(flat: np.ndarray, t) -> np.ndarray:
    """Position of each m-vector (…, m) of total t in its layer (module docstring); ``t`` a
    scalar or an array of the vectors' totals."""
    m = flat.shape[-1]
    t = np.asarray(t, dtype=np.int64)
    B = binomials(int(t.max()) + m if t.size else m, m)
    idx = np.zeros(flat.shape[:-1], dtype=np.int64)
    r = np.array(np.broadcast_to(t, flat.shape[:-1]), dtype=np.int64)
    for i in range(m - 1):
        q = m - i - 1
        c = flat[..., i].astype(np.int64)
        idx += B[r + q, q] - B[r - c + q, q]
        r -= c
    return idx


def _successor_ranks(flat: np.ndarray, t: int, K: int) -> tuple[np.ndarray, np.ndarray]:
    """Ranks in layer t + 1 of c + e_{k,s} and c + e_{k,f}: two (L, K) int64 arrays."""
    L = flat.shape[0]
    out = []
    for j in (0, 1):
        cols = []
        for k in range(K):
            nxt = flat.astype(np.int64)
            nxt[:, 2 * k + j] += 1
            cols.append(layer_rank(nxt, t + 1))
        out.append(np.stack(cols, axis=1) if L else np.zeros((0, K), np.int64))
    return out[0], out[1]


def _fmpq_prior(prior: np.ndarray):
    import flint

    return np.vectorize(lambda x: flint.fmpq(x.numerator, x.denominator),
                        otypes=[object])(prior)


def layered_values(family: str, K: int, H: int, prior: np.ndarray, exact: bool,
                   means) -> tuple[object, np.ndarray]:
    """``(value, Q₀)``: V at the empty belief and the root's Q (K,) by backward induction
    one layer at a time. ``prior``: (K, 2) float64, or Fractions when ``exact`` (then the
    arithmetic is python-flint's fmpq and the results Fractions); ``means(family, prior, c)``
    the posterior means (L, K) at counts c (L, K, 2)."""
    if exact:
        import flint

        pr = _fmpq_prior(prior)
        zero, one = flint.fmpq(0), flint.fmpq(1)
    else:
        pr, zero, one = prior, 0.0, 1.0
    if H == 0:
        z = Fraction(0) if exact else 0.0
        return z, np.full(K, z, dtype=object if exact else np.float64)
    # layer H: every value 0
    V = np.full(len(_exact_total(2 * K, H)), zero, dtype=object if exact else np.float64)
    Q = None
    for t in range(H - 1, -1, -1):
        flat = _exact_total(2 * K, t)
        js, jf = _successor_ranks(flat, t, K)
        c = flat.reshape(-1, K, 2)
        mk = means(family, pr, c.astype(np.int64).astype(object) if exact else c)
        Q = mk * (one + V[js]) + (one - mk) * V[jf]
        V = Q.max(axis=1)
    if exact:
        def frac(x):
            return Fraction(int(x.p), int(x.q))

        return frac(V[0]), np.array([frac(q) for q in Q[0]], dtype=object)
    return float(V[0]), np.array(Q[0], dtype=np.float64)
