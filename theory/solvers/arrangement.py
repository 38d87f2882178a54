"""Faces of a central hyperplane arrangement and the limit policies they give (the
linear-softmax class of :mod:`.linear_class`, whose docstring has the maths).

The faces of {θ : θ·n_h = 0}, h = 1..n, are the sign vectors σ ∈ {−, 0, +}ⁿ realised by
some θ. :func:`enumerate_faces` adds one hyperplane at a time: a face C of the first k,
with a witness θ ∈ C, meets the open side of n_{k+1} the witness lies on; the other side
is decided by one LP (HiGHS: the equalities of σ, σ_h θ·n_h ≥ 1 on its strict signs and
∓θ·n_{k+1} ≥ 1 — a margin of 1 by scaling the cone); C meets the hyperplane iff it meets
both sides (C is relatively open and convex; witness: the convex combination on it) or
lies in it (both LPs infeasible). Witnesses are projected on the null space of their
ties and kept only if every strict margin is ≥ 1/2, so each is a θ of its face. The
arrangement is central, so only one face of each antipodal pair (σ, −σ) is refined.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

__all__ = ["hyperplanes", "enumerate_faces", "limit_masks"]


def hyperplanes(phi):
    """(normals (n, d), h (S, P), orient (S, P), i, j): pair p = (i[p], j[p]) of state s
    has difference orient[s, p]·|pivot|·normals[h[s, p]] (h = −1: identical features)."""
    S, A, d = phi.shape
    i, j = np.triu_indices(A, 1)
    flat = (phi[:, i] - phi[:, j]).reshape(-1, d)
    k = np.argmax(np.abs(flat), axis=1)
    piv = flat[np.arange(len(flat)), k]
    nz = piv != 0
    if not nz.any():
        return np.zeros((0, d)), np.full((S, len(i)), -1), np.zeros((S, len(i))), i, j
    unit = flat[nz] / piv[nz, None]
    _, first, inv = np.unique(np.round(unit, 12), axis=0, return_index=True,
                              return_inverse=True)
    h = np.full(len(flat), -1)
    h[nz] = inv.ravel()
    return unit[first], h.reshape(S, -1), np.sign(piv).reshape(S, -1), i, j


def _lp(N, sig, extra=None):
    """A θ with N_h·θ = 0 where sig = 0 and sig_h N_h·θ ≥ 1 elsewhere (and extra·θ ≥ 1),
    or None when infeasible."""
    strict = sig != 0
    rows = -sig[strict, None] * N[: len(sig)][strict]
    if extra is not None:
        rows = np.vstack([rows, -extra])
    eq = N[: len(sig)][~strict]
    d = N.shape[1]
    res = linprog(np.zeros(d), A_ub=rows if len(rows) else None,
                  b_ub=-np.ones(len(rows)) if len(rows) else None,
                  A_eq=eq if len(eq) else None, b_eq=np.zeros(len(eq)) if len(eq) else None,
                  bounds=(None, None), method="highs")
    if res.status == 2:
        return None
    if res.status != 0:
        raise RuntimeError(f"face enumeration: the LP failed ({res.message})")
    return res.x


def _clean(N, sig, theta):
    """Project θ on the null space of sig's ties; None unless every strict margin is ≥ 1/2."""
    Z = N[: len(sig)][sig == 0]
    if len(Z):
        theta = theta - np.linalg.lstsq(Z, Z @ theta, rcond=None)[0]
    m = sig * (N[: len(sig)] @ theta)
    return theta if (m[sig != 0] >= 0.5).all() else None


def _children(N, v, sig, th):
    """{side: witness} of the faces of C ∩ {side of v}, C = the face (sig, th)."""
    if not sig.any():  # C = the tie space L, symmetric: only "+" is needed (and 0)
        w = _lp(N, sig, v)
        return {0.0: th} if w is None else {1.0: w, 0.0: th}
    s = float(v @ th)
    near = abs(s) <= 1e-7 * (1.0 + np.abs(v).sum() * np.abs(th).max())
    kids = {}
    if not near:
        kids[np.sign(s)] = th / min(1.0, abs(s))
        other = _lp(N, sig, -np.sign(s) * v)
        if other is not None:
            kids[-np.sign(s)] = other
    else:
        for side in (1.0, -1.0):
            w = _lp(N, sig, side * v)
            if w is not None:
                kids[side] = w
    if len(kids) == 2:  # both sides: the convex combination on the hyperplane
        a, b = kids[1.0], kids[-1.0]
        sa, sb = v @ a, -(v @ b)
        kids[0.0] = (sb * a + sa * b) / (sa + sb)
    elif not kids or near:
        kids[0.0] = th
    return kids


def enumerate_faces(N, max_faces: int):
    """Every face (sign vector, witness θ) of the central arrangement of the rows of N.

    Faces come in antipodal pairs (σ, θ) ↔ (−σ, −θ): only those whose first nonzero sign
    is + are refined (plus the all-zero face), the rest are their negations."""
    n, d = N.shape
    faces = [(np.zeros(0, dtype=np.int8), np.zeros(d))]
    for k in range(n):
        out = []
        for sig, th in faces:
            for side, w in sorted(_children(N, N[k], sig, th).items(), reverse=True):
                child = np.append(sig, int(side)).astype(np.int8)
                w = _clean(N, child, w)
                if w is not None:
                    out.append((child, w))
            if 2 * len(out) - 1 > max_faces:
                raise ValueError(f"the feature arrangement has more than {max_faces} faces "
                                 f"(at least {2 * len(out) - 1} after {k + 1} of {n} "
                                 f"hyperplanes); raise max_faces (the limit is {max_faces})")
        faces = out
    return faces + [(-sig, -th) for sig, th in faces if sig.any()]


def limit_masks(sigs, h, orient, i, j, A):
    """argmax masks (m, S, A) of the faces' sign vectors (m, n)."""
    m, S = len(sigs), h.shape[0]
    padded = np.concatenate([sigs, np.zeros((m, 1), dtype=np.int8)], axis=1)  # h = −1 → 0
    sg = orient[None] * padded[:, h]                                          # (m, S, P)
    lose = np.zeros((m, S, A), dtype=bool)
    for p in range(len(i)):
        lose[:, :, i[p]] |= sg[:, :, p] < 0
        lose[:, :, j[p]] |= sg[:, :, p] > 0
    return ~lose
