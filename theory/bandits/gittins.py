"""Gittins indices of Bernoulli arms with Beta posteriors, by calibration (bisection).

The discounted one-armed problem: an arm whose success probability p has posterior
Beta(a, b) pays rₜ ∈ {0, 1}; a standard arm pays λ per step for ever. The Gittins index
G_γ(a, b) is the λ at which, pulling the arm at least once, one is indifferent between
retiring at once (λ/(1 − γ)) and continuing optimally with the option to retire later
(Gittins & Jones 1974; Gittins 1979; Gittins, Glazebrook & Weber 2011, §2.5 and §8.4):

    W(a, b; λ) = max( λ/(1 − γ),  C(a, b; λ) ),
    C(a, b; λ) = m + γ [ m W(a + 1, b; λ) + (1 − m) W(a, b + 1; λ) ],   m = a/(a + b),
    G_γ(a, b)  = the root λ* of f(λ) = C(a, b; λ) − λ/(1 − γ).

Symbols → arguments: (a, b) = (``alpha``, ``beta``) > 0, γ = ``gamma`` ∈ [0, 1),
``tol`` > 0 the guaranteed absolute accuracy of the returned index (up to floating-point
rounding, ~1e-13·N/(1 − γ) here).

Truncation rule. C is computed by backward induction on the posterior tree of depth N
below the root (nodes (a + j, b + r − j), r ≤ N); at depth N the value of continuing is
replaced by the lower bound

    W_N = max(λ, m′)/(1 − γ)                (retire now, or pull for ever: E = m′/(1 − γ)),

and N is the least N ≥ 1 with  ε(N) = γᴺ / (4(1 − γ)√(a + b + N + 1)) ≤ tol/2.

Claim: the truncated root λ_N and the true index satisfy λ_N ≤ λ* ≤ λ_N + ε(N).
Proof. (i) Leaf error. Knowing p, no policy earns more than max(λ, p) per step in
expectation, so W ≤ E[max(λ, p)]/(1 − γ) under the leaf posterior Beta(a′, b′). Since
max(λ, p) ≤ max(λ, m′) + (p − m′)⁺ and E(p − m′)⁺ = ½E|p − m′| ≤ ½ sd(p) with
sd² = m′(1 − m′)/(a′ + b′ + 1) ≤ 1/(4(a + b + N + 1)), we get
0 ≤ W − W_N ≤ 1/(4(1 − γ)√(a + b + N + 1)) at every leaf (W_N is a lower bound: both of its
options are feasible). (ii) Propagation. Backward induction is monotone; max is
1-Lipschitz and the posterior-predictive average does not increase a sup-norm gap, and
each level multiplies it by γ: 0 ≤ C(λ) − C_N(λ) ≤ γᴺ·(leaf gap) ≤ ε(N) for every λ.
(iii) Slopes. C_N(λ) is a max over stopping rules τ ≥ 1 of E[Σ_{t<τ} γᵗ rₜ] + λ E[γ^τ]/(1 − γ),
so its slope in λ lies in [0, γ/(1 − γ)], and f_N = C_N − λ/(1 − γ) has slope ≤ −1: f_N is
strictly decreasing with a unique root λ_N. Now f_N ≤ f ≤ f_N + ε gives f(λ_N) ≥ 0, so
λ* ≥ λ_N, and f(λ_N + ε) ≤ f_N(λ_N + ε) + ε ≤ f_N(λ_N) − ε + ε = 0, so λ* ≤ λ_N + ε. ∎

Search (vectorised over many roots at once; :func:`_indices`). A certified bracket
L ≤ λ* ≤ U, from [m, 1] (f(m) ≥ 0: pulling for ever earns m/(1 − γ); f(1) = m − 1 < 0), is
shrunk by evaluating, at its midpoint x (a bisection step; the first probe is m + tol/4),
f_N(x), a subgradient f_N′(x), and f̄_N(x): the same backward induction with the
full-information leaves E[max(λ, p)]/(1 − γ) ≥ W (so f_N ≤ f ≤ f̄_N):

    (a) f_N(x) > 0 ⇒ λ* > x;   f̄_N(x) ≤ 0 ⇒ λ* ≤ x                 (the signs);
    (b) λ* ≥ x + f_N(x)/|f_N′(x)|       (f ≥ f_N, f_N convex: tangents lie below it);
    (c) λ* ≤ z, the zero of the line through the last points xp < xn with
        f̄(xp) > 0 ≥ f̄(xn), each f̄ at its own depth (f ≤ f̄ and f is convex, so the
        line lies above the chord of f, which lies above f on [xp, xn]: f(z) ≤ 0);
    (d) f_N(x) ≤ 0 ⇒ λ* ≤ x + ε(N)                             (the claim above);

and stops when U − L ≤ tol, returning (L + U)/2: |returned − λ*| ≤ tol/2. (b) and (c) are
Newton and regula-falsi steps that usually end it in far fewer than log₂(1/tol) rounds.
The depth starts at ⌈N*/3⌉, N* the a-priori depth above, and grows ×1.5 (capped at N*) only
for roots where truncation blocks progress (f_N(x) ≤ 0 < f̄_N(x)); at N* a bisection step
halves U − L up to ε(N*) ≤ tol/2, so the search ends. E[max(λ, p)] = λ I_λ(a, b) +
m (1 − I_λ(a + 1, b)), I the regularised incomplete beta function.

    >>> round(float(gittins_index(1, 1, 0.9)), 4)
    0.7029

Whole tables (:func:`gittins_table`) are computed by
:mod:`mesabase.theory.bandits.gittins_grid` instead: one induction per λ over the shared
posterior triangle serves all entries (γ = 0.99, 100 pulls: seconds rather than minutes).

References:
  J. C. Gittins, "Bandit processes and dynamic allocation indices", J. R. Statist. Soc. B
  41 (1979) 148–177.  J. C. Gittins, K. Glazebrook and R. Weber, *Multi-armed Bandit
  Allocation Indices*, 2nd ed., Wiley 2011.  M. N. Katehakis and A. F. Veinott, "The
  multi-armed bandit problem: decomposition and computation", Math. Oper. Res. 12 (1987).
"""

from __future__ import annotations

import math
from numbers import Integral

import numpy as np
from scipy import special

from .gittins_depth import MAX_DEPTH, check_gamma_tol, truncation_depth
from .gittins_grid import gittins_table_bracket

__all__ = ["MAX_DEPTH", "gittins_index", "gittins_table", "truncation_depth"]

def _eps(g: float, N, n0) -> np.ndarray:
    """ε(N) = γᴺ/(4(1 − γ)√(n0 + N + 1)), the a-priori truncation bound (module doc)."""
    return g**N / (4 * (1 - g) * np.sqrt(n0 + N + 1))


def _expected_max(lam: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """E[max(λ, p)], p ~ Beta(a, b): λ I_λ(a, b) + a/(a + b) (1 − I_λ(a + 1, b))."""
    return lam * special.betainc(a, b, lam) + a / (a + b) * special.betainc(b, a + 1, 1 - lam)


def _f(a: np.ndarray, b: np.ndarray, lam: np.ndarray, g: float, N: int):
    """(f_N(λ), f_N′(λ), f̄_N(λ)) for R roots at once: a, b, λ of shape (R,).

    f_N = C_N − λ/(1 − γ) with the lower-bound leaves max(λ, m′)/(1 − γ); f̄_N the same
    with the full-information upper-bound leaves E[max(λ, p)]/(1 − γ). Layer r holds the
    nodes (a + j, b + r − j), j = 0 … r, as an (R, r + 1) array; the success child of node j
    is node j + 1 of layer r + 1, the failure child node j. The slope f_N′ is that of the
    stopping rule chosen at λ (retire where λ/(1 − γ) ≥ C): an affine minorant of C_N
    touching it at λ, hence a subgradient of the convex f_N.
    """
    inv = 1.0 / (1.0 - g)
    ret = (lam * inv)[:, None]
    j = np.arange(N + 1, dtype=np.float64)
    n = a + b
    aj, bj = a[:, None] + j, b[:, None] + (N - j)
    m = aj / (n + N)[:, None]
    stop = ret >= m * inv
    W = np.where(stop, ret, m * inv)
    D = np.where(stop, inv, 0.0)
    Wu = np.maximum(_expected_max(np.broadcast_to(lam[:, None], aj.shape), aj, bj) * inv, W)
    for r in range(N - 1, -1, -1):
        m = (a[:, None] + j[: r + 1]) / (n + r)[:, None]
        out = []
        for X in (W, D, Wu):  # m X_s + (1 − m) X_f, discounted
            Xf = X[:, :-1]
            Y = X[:, 1:] - Xf
            Y *= m
            Y += Xf
            Y *= g
            out.append(Y)
        C, Dc, Cu = out
        C += m  # C = m + γ (m W_s + (1 − m) W_f)
        Cu += m
        if r == 0:
            return C[:, 0] - ret[:, 0], Dc[:, 0] - inv, Cu[:, 0] - ret[:, 0]
        stop = ret >= C
        W = np.where(stop, ret, C)
        D = np.where(stop, inv, Dc)
        Wu = np.maximum(ret, Cu)
    raise AssertionError("N >= 1")  # pragma: no cover


def _indices(a: np.ndarray, b: np.ndarray, g: float, tol: float) -> np.ndarray:
    """Gittins indices of the roots (a, b), flat arrays (the search of the module doc).

    Per root: the bracket [L, U], the depth N, and the last points (xp, f̄_N(xp) > 0) and
    (xn, f̄_N(xn) ≤ 0) for the chord; each round evaluates every active root at its
    midpoint (grouped by N), or at the same x with a larger N when truncation blocked it.
    """
    m = a / (a + b)
    if g == 0 or m.size == 0:
        return m.copy()
    n_max = truncation_depth(g, tol, float(np.min(a + b)))
    L, U = m.copy(), np.ones_like(m)
    xp, fp = np.full_like(m, np.nan), np.full_like(m, np.nan)  # last point with f̄_N > 0
    xn, fn = np.ones_like(m), m - 1.0  # ... with f̄_N ≤ 0: f̄_N(1) = m − 1
    depth = np.full(m.size, max(1, math.ceil(n_max / 3)))
    x = np.minimum(m + tol / 4, 1.0)
    act = np.arange(m.size)
    for _ in range(400):
        fl, gl, fu = (np.empty(act.size) for _ in range(3))
        for N in np.unique(depth[act]):
            k = depth[act] == N
            fl[k], gl[k], fu[k] = _f(a[act[k]], b[act[k]], x[k], g, int(N))
        Na = depth[act]
        pos = fu > 0
        xp[act] = np.where(pos, x, xp[act])
        fp[act] = np.where(pos, fu, fp[act])
        xn[act] = np.where(pos, xn[act], x)
        fn[act] = np.where(pos, fn[act], fu)
        with np.errstate(invalid="ignore", divide="ignore"):
            chord = xp[act] + fp[act] * (xn[act] - xp[act]) / (fp[act] - fn[act])
        Li = np.maximum(L[act], x + fl / -gl)
        Ui = np.where(pos, U[act], np.minimum(U[act], x))
        ok = np.isfinite(chord) & (xp[act] < xn[act])
        Ui = np.where(ok, np.minimum(Ui, chord), Ui)
        Ui = np.where(fl <= 0, np.minimum(Ui, x + _eps(g, Na, a[act] + b[act])), Ui)
        Li = np.minimum(Li, Ui)  # rounding guard
        L[act], U[act] = Li, Ui
        keep = Ui - Li > tol
        if not keep.any():
            break
        stuck = (fl <= 0) & pos & (Na < n_max)
        depth[act] = np.where(stuck, np.minimum(np.ceil(1.5 * Na), n_max), Na).astype(int)
        x = np.where(stuck, x, 0.5 * (Li + Ui))[keep]
        act = act[keep]
    else:  # pragma: no cover - bisection steps alone end it in ~log2(1/tol) rounds
        raise RuntimeError("gittins bisection did not converge")
    return 0.5 * (L + U)


def _positive(x, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number or an array of numbers; got {x!r}") from None
    bad = ~(np.isfinite(arr) & (arr > 0))
    if bad.any():
        i = tuple(int(k) for k in np.argwhere(np.atleast_1d(bad))[0])
        v = np.atleast_1d(arr)[i]
        raise ValueError(f"{name} must be finite and > 0; got {v!r}"
                         + (f" at index {i}" if arr.ndim else ""))
    return arr


def gittins_index(alpha, beta, gamma: float, tol: float = 1e-6):
    """G_γ(α, β): the Gittins index of a Bernoulli arm with posterior Beta(α, β).

    Calibration by bisection on the retirement reward λ, with the truncation rule and
    error bound of the module docstring: |returned − G_γ(α, β)| ≤ tol/2 (plus rounding).

    Args:
      alpha, beta: > 0 and finite; scalars or arrays (broadcast together).
      gamma: discount γ ∈ [0, 1) (γ = 0 gives the posterior mean α/(α + β)).
      tol: accuracy > 0.

    Returns:
      A float for scalar α and β, else an ndarray of their broadcast shape.

    Raises:
      ValueError: naming the bad argument and value, or when γ and tol would need a
        truncation depth above MAX_DEPTH.
    """
    g, tol = check_gamma_tol(gamma, tol)
    a, b = _positive(alpha, "alpha"), _positive(beta, "beta")
    a, b = np.broadcast_arrays(a, b)
    out = _indices(a.ravel(), b.ravel(), g, tol).reshape(a.shape)
    return float(out) if out.ndim == 0 else out


def gittins_table(gamma: float, max_pulls: int, prior=(1, 1), tol: float = 1e-6, *,
                  method: str = "shared") -> np.ndarray:
    """Indices of every posterior reachable in ``max_pulls`` pulls of one arm.

    ``table[s, f] = G_γ(α + s, β + f)`` for s + f ≤ M = ``max_pulls``, NaN elsewhere; shape
    (M + 1, M + 1); every entry within tol/2 of the index (truncation and rounding included).

    ``method="shared"`` (default): the midpoints of the certified brackets of
    :func:`~mesabase.theory.bandits.gittins_grid.gittins_table_bracket` (one backward
    induction per λ over the shared posterior triangle serves every entry; width ≤ tol).
    ``method="per-index"``: the (M + 1)(M + 2)/2 calibrations of :func:`gittins_index`,
    sharing one vectorised bisection (each with its own subtree: slow for γ near 1).

    Args:
      gamma, tol: as in :func:`gittins_index`.
      max_pulls: M ≥ 0.
      prior: (α, β), finite and > 0.
      method: "shared" or "per-index".

    Examples:
      >>> t = gittins_table(0.9, 1)
      >>> bool(t[1, 0] > t[0, 0] > t[0, 1]), bool(np.isnan(t[1, 1]))
      (True, True)
    """
    g, tol = check_gamma_tol(gamma, tol)
    if isinstance(max_pulls, bool) or not isinstance(max_pulls, Integral) or max_pulls < 0:
        raise ValueError(f"max_pulls must be an integer >= 0; got {max_pulls!r}")
    M = int(max_pulls)
    ab = _positive(prior, "prior")
    if ab.shape != (2,):
        raise ValueError(f"prior must be (alpha, beta), shape (2,); got shape {ab.shape}")
    if method == "shared":
        lower, upper = gittins_table_bracket(g, M, (float(ab[0]), float(ab[1])), tol)
        return 0.5 * (lower + upper)
    if method != "per-index":
        raise ValueError(f"method must be 'shared' or 'per-index'; got {method!r}")
    s, f = np.divmod(np.arange((M + 1) ** 2), M + 1)
    keep = s + f <= M
    s, f = s[keep], f[keep]
    table = np.full((M + 1, M + 1), np.nan)
    table[s, f] = _indices(ab[0] + s, ab[1] + f, g, tol)
    return table
