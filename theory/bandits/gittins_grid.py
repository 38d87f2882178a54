"""A whole table of Gittins indices at once: one backward induction per retirement reward λ
over the SHARED posterior triangle, with a certified bracket for every index.

Setting, symbols and the calibration f(ν; λ) = C(ν; λ) − λ/(1 − γ) are those of
:mod:`mesabase.theory.bandits.gittins` (Gittins 1979; Gittins, Glazebrook & Weber 2011,
§2.5 and §8.4). Table nodes ν = (α + s, β + f), s + f ≤ M; the triangle holds every state
(α + j, β + r − j), 0 ≤ j ≤ r ≤ D = M + N, r the layer (pulls so far).

One induction, one λ. For a fixed λ the continuation value C(ν; λ) of every node depends
only on ν's subtree, so ONE backward induction over the triangle, with the truncation rule of
the per-index method at layer D (leaf value max(λ, m′)/(1 − γ)), gives f_low(ν; λ) and a
subgradient for all (M + 1)(M + 2)/2 table nodes at once. A table node at layer r is
truncated at depth D − r ≥ N, where N = :func:`truncation_depth` (γ, tol/5, α + β), so the
leaf error seen from it is ≤ ε_r = γ^{D−r}/(4(1 − γ)√(α + β + D + 1)) ≤ tol/10 (the claim
of the per-index module).

Band (the induction skips what it provably knows). In layer r only nodes between two
boundaries are computed:

  * below: if both children retire and m ≤ λ then C = m + γλ/(1 − γ) ≤ λ/(1 − γ): the node
    retires too, value λ/(1 − γ), f = m − λ exactly; these nodes form a prefix of the layer;
  * above ("cut"): nodes with posterior mean m ≥ λ + z·sd (sd² = m(1 − m)/(n + 1)) get the
    lower-bound value m/(1 − γ) (pull for ever), whose error is at most
    E(λ − p)⁺/(1 − γ) ≤ λ I_λ(a, b)/(1 − γ) (full information, as in the leaf rule); the
    largest such bound over the cut nodes, η, is computed and z raised until η ≤ tol/10.

Both leaves and cut nodes are feasible policies, so the computed f_low ≤ f; backward
induction is monotone and discounts, so f ≤ f_low + max(ε_r, η) (each path meets exactly one
leaf or cut node: step (ii) of the per-index module's claim). f_low is the value of a
finite stopping problem: a max of affine functions of λ, convex, with slope ≤ −1.

Certified brackets L ≤ G ≤ U from probes x (all valid whatever probe produced them):

  (a) tangent:  G ≥ x − f_low(x)/f_low′(x)   (f ≥ f_low ≥ its tangent; any x, either side);
  (b) sign:     G ≤ x + max(0, f̄(x)),  f̄ = f_low + max(ε_r, η) ≥ f  (f has slope ≤ −1);
  (c) chord:    G ≤ zero of the line through (x_p, f̄(x_p) > 0) and (x_n, f̄(x_n) ≤ 0),
                x_p < x_n (f convex: its chord, hence this line, lies above it on [x_p, x_n]);

each with a float-rounding allowance ρ = 8(D + 1)·2⁻⁵³/(1 − γ) on f (≥ the accumulated
error of D + 1 layers of a convex combination, a discount and an add on values ≤ 1/(1 − γ)).

Probes. Round 0 is a uniform grid of spacing h over [min m, 1) (default h = max(tol^½/2,
1/T), T the number of table nodes, at most 0.05: every root then has probes within h on both
sides and (a) and (c) are within ~c·h² of it, c ≈ 1–10 measured); then,
for every index whose bracket is still wider than tol, a probe at min(L + 0.8·tol, (L + U)/2):
by (a) a Newton step from just above L when f(x) > 0, else (b) closes the bracket to ≤ tol.
Probes are evaluated in sorted batches sharing one band (lower boundary from the smallest λ,
cut from the largest). The returned bracket satisfies U − L ≤ tol for every entry.

With numba installed (the ``fast`` extra) each probe is one compiled loop; otherwise the
induction is vectorised over a batch of probes with numpy (same numbers, slower).
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
from scipy import special

from .gittins_depth import truncation_depth

__all__ = ["gittins_table_bracket"]

_RHO = 8 * 2.0 ** -53  # rounding allowance per layer, times 1/(1 − γ)
_BATCH = 64  # probes per shared band
_SPREAD = 0.02  # largest λ spread inside one batch

_kernel = None  # None: not tried; False: numba missing


def _build():  # pragma: no cover - compiled
    import numba

    @numba.njit(cache=True, nogil=True)
    def kernel(lams, g, a0, b0, M, D, hi, F, S):
        inv = 1.0 / (1.0 - g)
        W = np.empty(D + 2)
        Sl = np.empty(D + 2)
        for gi in range(lams.size):
            lam = lams[gi]
            ret = lam * inv
            n = a0 + b0 + D
            lo = min(max(int(math.floor(lam * n - a0)) + 1, 0), D + 1)
            e = max(min(hi[D], D + 1), lo)
            for j in range(lo, e):
                v = (a0 + j) / n * inv
                if ret >= v:
                    W[j] = ret
                    Sl[j] = inv
                else:
                    W[j] = v
                    Sl[j] = 0.0
            for r in range(D - 1, -1, -1):
                n1 = n
                n = a0 + b0 + r
                jm = min(max(int(math.floor(lam * n - a0)) + 1, 0), r + 1)
                s = max(0, min(lo - 1, jm))
                e2 = max(min(hi[r], r + 1), s)
                base = r * (r + 1) // 2
                if r <= M:
                    for j in range(s):
                        F[gi, base + j] = (a0 + j) / n - lam
                        S[gi, base + j] = -1.0
                    for j in range(e2, r + 1):
                        F[gi, base + j] = np.inf
                        S[gi, base + j] = np.nan
                for k in range(s, min(lo, e2 + 1)):  # retired children
                    W[k] = ret
                    Sl[k] = inv
                for k in range(max(e, s), e2 + 1):  # cut children: pull for ever
                    W[k] = (a0 + k) / n1 * inv
                    Sl[k] = 0.0
                lead = True
                newlo = e2
                wf, sf = W[s], Sl[s]
                for j in range(s, e2):
                    ws, ss = W[j + 1], Sl[j + 1]
                    m = (a0 + j) / n
                    c = (wf + (ws - wf) * m) * g + m
                    sc = (sf + (ss - sf) * m) * g
                    if r <= M:
                        F[gi, base + j] = c - ret
                        S[gi, base + j] = sc - inv
                    if ret >= c:
                        W[j] = ret
                        Sl[j] = inv
                    else:
                        W[j] = c
                        Sl[j] = sc
                        if lead:
                            lead = False
                            newlo = j
                    wf, sf = ws, ss
                lo = newlo if not lead else e2
                e = e2

    return kernel


def _get_kernel():
    global _kernel
    if _kernel is None:
        try:
            _kernel = _build()
        except ImportError:  # pragma: no cover - numba is in the test environment
            _kernel = False
    return _kernel or None


def _numpy_batch(lams, g, a0, b0, M, D, hi, F, S):
    """The same induction as the compiled kernel, vectorised over the batch (G,) of probes
    sharing one band: lower boundary from min λ, cut ``hi`` (per layer) from max λ."""
    inv = 1.0 / (1.0 - g)
    ret = (lams * inv)[:, None]
    lmin = float(lams[0])
    n = a0 + b0 + D
    lo = min(max(math.floor(lmin * n - a0) + 1, 0), D + 1)
    e = max(min(int(hi[D]), D + 1), lo)
    mv = (a0 + np.arange(lo, e)) / n * inv
    W = np.maximum(ret, mv)
    Sl = np.where(ret >= mv, inv, 0.0)
    for r in range(D - 1, -1, -1):
        n1, n = n, a0 + b0 + r
        jm = min(max(math.floor(lmin * n - a0) + 1, 0), r + 1)
        s = max(0, min(lo - 1, jm))
        e2 = max(min(int(hi[r]), r + 1), s)
        Wc, Sc = np.empty((lams.size, e2 - s + 1)), np.empty((lams.size, e2 - s + 1))
        k1 = max(min(lo, e2 + 1) - s, 0)  # children k = s … e2: retire | band | cut
        k2 = max(min(e, e2 + 1) - s, k1)
        Wc[:, :k1], Sc[:, :k1] = ret, inv
        Wc[:, k1:k2] = W[:, s + k1 - lo: s + k2 - lo]
        Sc[:, k1:k2] = Sl[:, s + k1 - lo: s + k2 - lo]
        Wc[:, k2:] = (a0 + np.arange(s + k2, e2 + 1)) / n1 * inv
        Sc[:, k2:] = 0.0
        m = (a0 + np.arange(s, e2)) / n
        C = Wc[:, 1:] - Wc[:, :-1]
        C *= m
        C += Wc[:, :-1]
        C *= g
        C += m
        Ss = Sc[:, 1:] - Sc[:, :-1]
        Ss *= m
        Ss += Sc[:, :-1]
        Ss *= g
        if r <= M:
            base = r * (r + 1) // 2
            F[:, base: base + s] = (a0 + np.arange(s)) / n - lams[:, None]
            S[:, base: base + s] = -1.0
            F[:, base + s: base + e2] = C - ret
            S[:, base + s: base + e2] = Ss - inv
            F[:, base + e2: base + r + 1] = np.inf
            S[:, base + e2: base + r + 1] = np.nan
        stop = ret >= C
        W = np.maximum(C, ret)
        Sl = np.where(stop, inv, Ss)
        lead = int(np.argmin(stop[0])) if not stop[0].all() else e2 - s
        lo, e = s + lead, e2
        W, Sl = W[:, lead:], Sl[:, lead:]


def _cut(lmax: float, g: float, a0: float, b0: float, D: int, eta_max: float):
    """Per layer r the first cut node hi[r] (posterior mean ≥ λ + z·sd, z raised until the
    bound η ≤ ``eta_max``), and η = max over the first cut nodes of λ I_λ(a, b)/(1 − γ).
    Cut nodes above the first one have smaller tail bounds (stochastic order in j)."""
    r = np.arange(D + 1)
    n = a0 + b0 + r
    q = n + 1.0
    for z in np.arange(5.0, 60.0, 1.0):
        # larger root of (m − λ)² q = z² m (1 − m)
        A, B, C = q + z * z, 2 * lmax * q + z * z, lmax * lmax * q
        mt = (B + np.sqrt(np.maximum(B * B - 4 * A * C, 0.0))) / (2 * A)
        hi = np.clip(np.ceil(mt * n - a0), 0, r + 1).astype(np.int64)
        hi = np.minimum(hi + ((a0 + hi) / n <= lmax), r + 1)  # cut ⇒ m > λ_max
        has = hi <= r
        eta = float(np.max(lmax * special.betainc(a0 + hi[has], b0 + (r - hi)[has], lmax),
                           initial=0.0)) / (1 - g)
        if eta <= eta_max:
            return hi, eta
    return np.full(D + 1, D + 2, dtype=np.int64), 0.0  # pragma: no cover - no cut at all


def _batches(x: np.ndarray):
    """Sorted probes split into runs of ≤ _BATCH with spread ≤ _SPREAD."""
    start = 0
    while start < x.size:
        stop = min(start + _BATCH, x.size)
        stop = start + max(1, int(np.searchsorted(x[start:stop], x[start] + _SPREAD, "right")))
        yield x[start:stop]
        start = stop


class _Brackets:
    """Per table node: L, U and the chord's best points (x_p, f̄_p > 0), (x_n, f̄_n ≤ 0)."""

    def __init__(self, m: np.ndarray):
        self.L, self.U = m.copy(), np.ones_like(m)
        self.xp, self.fp = np.full_like(m, -np.inf), np.full_like(m, np.nan)
        self.xn, self.fn = np.full_like(m, np.inf), np.full_like(m, np.nan)

    def update(self, x, F, S, slack, rho):
        """Rules (a)–(c) of the module doc for probes x (G,), F, S of shape (G, T)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            cut = np.isinf(F)
            tang = np.where(cut, x[:, None], x[:, None] - (F - rho) / S)
            self.L = np.maximum(self.L, np.max(tang, axis=0))
            Fu = F + slack + rho
            self.U = np.minimum(self.U, np.min(x[:, None] + np.maximum(Fu, 0.0), axis=0))
            pos = Fu > 0
            xpos = np.where(pos & ~cut, x[:, None], -np.inf)
            k = np.argmax(xpos, axis=0)
            cols = np.arange(F.shape[1])
            better = xpos[k, cols] > self.xp
            self.xp = np.where(better, xpos[k, cols], self.xp)
            self.fp = np.where(better, Fu[k, cols], self.fp)
            xneg = np.where(~pos, x[:, None], np.inf)
            k = np.argmin(xneg, axis=0)
            better = xneg[k, cols] < self.xn
            self.xn = np.where(better, xneg[k, cols], self.xn)
            self.fn = np.where(better, Fu[k, cols], self.fn)
            ok = np.isfinite(self.xp) & np.isfinite(self.xn) & (self.xp < self.xn)
            z = self.xp + self.fp * (self.xn - self.xp) / (self.fp - self.fn)
            self.U = np.where(ok, np.minimum(self.U, z), self.U)
        self.L = np.minimum(self.L, self.U)  # rounding guard


def _solve(g, M, a0, b0, tol, h, engine):
    s, f = _layers(M)
    m = (a0 + s) / (a0 + b0 + s + f)
    if g == 0:
        return m.copy(), m.copy()
    N = truncation_depth(g, tol / 5, a0 + b0)
    D = M + N
    r = s + f
    eps = g ** (D - r) / (4 * (1 - g) * np.sqrt(a0 + b0 + D + 1))  # ≤ tol/10 at every layer
    rho = _RHO * (D + 1) / (1 - g)
    kern = _get_kernel() if engine != "numpy" else None
    if engine == "numba" and kern is None:  # pragma: no cover
        raise ValueError("engine='numba' needs numba installed (the 'fast' extra)")
    B = _Brackets(m)
    x = np.arange(float(m.min()), 1.0, h)
    for _ in range(60):
        x = np.unique(x)
        for xb in _batches(x):
            hi, eta = _cut(float(xb[-1]), g, a0, b0, D, tol / 10)
            F = np.empty((xb.size, m.size))
            S = np.empty((xb.size, m.size))
            (kern or _numpy_batch)(xb, g, a0, b0, M, D, hi, F, S)
            B.update(xb, F, S, np.maximum(eps, eta), rho)
        open_ = B.U - B.L > tol
        if not open_.any():
            return B.L, B.U
        L, U = B.L[open_], B.U[open_]
        x = np.minimum(L + 0.8 * tol, 0.5 * (L + U))
    raise RuntimeError("gittins table: brackets did not close")  # pragma: no cover


def _layers(M: int):
    """(s, f) of the table nodes in layer order: node (r, j) ↦ s = j, f = r − j."""
    r = np.repeat(np.arange(M + 1), np.arange(1, M + 2))
    j = np.arange(r.size) - r * (r + 1) // 2
    return j, r - j


def gittins_table_bracket(gamma: float, max_pulls: int, prior=(1, 1), tol: float = 1e-6, *,
                          grid: float | None = None, engine: str = "auto"):
    """Certified brackets ``lower ≤ G_γ(α + s, β + f) ≤ upper`` for s + f ≤ M = ``max_pulls``,
    every one of width ≤ ``tol`` (module doc: truncation, cut and rounding are inside it).

    Args:
      gamma: γ ∈ [0, 1).   max_pulls: M ≥ 0.   prior: (α, β), finite and > 0.
      tol: bracket width > 0.
      grid: spacing h of the first round of probes (default max(tol^½/2, 1/T) ≤ 0.05).
      engine: "auto" (numba if installed), "numba" or "numpy".

    Returns:
      (lower, upper), each of shape (M + 1, M + 1) with NaN where s + f > M.

    Raises:
      ValueError: naming the bad argument, or when the truncation depth would exceed
        :data:`~mesabase.theory.bandits.gittins.MAX_DEPTH`.

    Examples:
      >>> lo, up = gittins_table_bracket(0.9, 2)
      >>> inside = ~np.isnan(lo)
      >>> bool((up[inside] - lo[inside] <= 1e-6).all()), round(float(lo[0, 0]), 4)
      (True, 0.7029)
    """
    if isinstance(gamma, bool) or not isinstance(gamma, Real) or not 0 <= gamma < 1:
        raise ValueError(f"gamma must be a number in [0, 1); got {gamma!r}")
    if isinstance(tol, bool) or not isinstance(tol, Real) or not (0 < tol < math.inf):
        raise ValueError(f"tol must be a finite number > 0; got {tol!r}")
    if isinstance(max_pulls, bool) or not isinstance(max_pulls, Integral) or max_pulls < 0:
        raise ValueError(f"max_pulls must be an integer >= 0; got {max_pulls!r}")
    try:
        ab = np.asarray(prior, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"prior must be (alpha, beta); got {prior!r}") from None
    if ab.shape != (2,):
        raise ValueError(f"prior must be (alpha, beta), shape (2,); got shape {ab.shape}")
    if not (np.isfinite(ab) & (ab > 0)).all():
        raise ValueError(f"prior must be finite and > 0; got {prior!r}")
    if engine not in ("auto", "numba", "numpy"):
        raise ValueError(f"engine must be 'auto', 'numba' or 'numpy'; got {engine!r}")
    T = (int(max_pulls) + 1) * (int(max_pulls) + 2) // 2
    h = min(max(math.sqrt(tol) / 2, 1 / T), 0.05) if grid is None else grid
    if isinstance(h, bool) or not isinstance(h, Real) or not (0 < h < math.inf):
        raise ValueError(f"grid must be a finite number > 0; got {grid!r}")
    M = int(max_pulls)
    lo, up = _solve(float(gamma), M, float(ab[0]), float(ab[1]), float(tol), float(h), engine)
    s, f = _layers(M)
    out = np.full((2, M + 1, M + 1), np.nan)
    out[0, s, f], out[1, s, f] = lo, up
    return out[0], out[1]
