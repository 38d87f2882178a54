"""History objectives L_t(π; H_t) and their exact maximisers π*_t (docs/concepts.md §2.3).

The seed asks what happens if, instead of one gradient step per transition, we *fully
optimise* the objective over the history seen so far before every action. Three readings
of "the objective over the history", each solved exactly by :func:`history_optimal`:

``"ce"`` — certainty equivalence: L(π) = J(π; M̂_t), the expected discounted return of π
  in the empirical MDP M̂_t (:func:`~mesabase.theory.empirical_mdp`), maximised by the
  exact solvers. π*_t is what a full optimiser that trusts its data would do.

``"is"`` — the importance-weighted return of the logged data. For an episode e with
  steps k = 0, 1, … and behaviour probabilities b_k = π_{θ_k}(a_k|s_k):

      L(π) = (1/E) Σ_e Σ_k γᵏ r_k Π_{j≤k} π(a_j|s_j) / b_j        (per-decision IS)

  For a bandit (S = 1, every step an episode) this is linear in π: L(π) = Σ_a π(a) w(a)
  with w(a) = (1/T) Σ_{τ: a_τ = a} r_τ / b_τ, and its argmax is the *set* of arms with
  the largest w. For an MDP it is a polynomial in π; it is maximised exactly over the
  deterministic policies (the class a full optimiser acts in) by enumerating all A^S of
  them, so it is for small problems (A^S ≤ :data:`MAX_ENUMERATED`). Episodes are
  delimited by ``history.dones``; a final unfinished episode counts as it stands.

  Numerics. The weight of a long episode overflows: Π 1/b_j = e^{1040} after 1,500 steps
  at b = ½, while γᵏ underflows, and the product of the two floats is ∞ · 0 = NaN. So
  each term is formed in log space,

      ℓ_k = k log γ + Σ_{j≤k} (−log b_j) + log|r_k|,     term_k = sign(r_k) e^{ℓ_k}

  (a zero reward or γᵏ = 0 is ℓ = −∞, a term of exactly 0), and when the largest ℓ
  exceeds ``log(float max) − log T − 1`` every term is exponentiated with one shared
  shift c = max_k ℓ_k − (that bound), as e^{ℓ_k − c}. Each score L(π)·E is a sum of these
  terms, so the shifted scores are the true ones times e^{−c} > 0, the same for every
  policy of the seed: the argmax is unchanged, and the optimal set {Q ≥ max Q − tol} is
  taken on the shifted values with the tolerance shifted alike, tol · e^{−c} (exact
  ties only once e^{−c} underflows). ``Q`` and ``V`` are reported unshifted,
  sign · e^{log|Q̃| + c}, and saturate to ±∞ where the estimate itself exceeds the float
  range; they are never NaN. Without a shift (c = 0, the ordinary case) the terms are
  the plain products γᵏ r_k Π 1/b_j (r/b for a bandit), as before. Where the objective is
  undefined — a behaviour probability b ≤ 0 (or NaN) or a non-finite reward, which a
  validated :class:`History` cannot hold — a ValueError names the seed and the step.

``"log"`` — the seed's literal surrogate L(π) = Σ_τ r_τ log π(a_τ|s_τ) = Σ_{s,a} c(s,a)
  log π(a|s), with c(s, a) the summed reward of (s, a). Per state, when every c(s, ·) ≥ 0
  and Σ_a c(s, a) > 0 the unique maximiser is the reward-weighted frequency
  π(a|s) = c(s, a) / Σ_b c(s, b) (Lagrange; mesabase.proofs has the derivation); when all
  c(s, ·) = 0 every policy row is optimal; when some c(s, a) < 0 the supremum is +∞
  (send π(a|s) → 0): the result has ``bounded == False`` and its policy is the limit
  policy — zero mass on negative-sum actions, the rest reward-weighted over the positive
  sums (uniform over the zero-sum actions if none is positive, and over the largest sums
  if all are negative). Nothing is clipped.

Certificates. ``error_bound`` is, as for every :class:`Solution`, a guaranteed bound on
‖V − V*‖∞, floating point included, where V* is the objective's exact value for the
history as stored (its float64 rewards and probabilities read as the exact numbers they
are); ``residual`` is 0 (no fixed-point equation is solved). Elementary functions (log,
exp, power) are assumed accurate to 4 ulps (:data:`ELEMENTARY_RTOL`); u = 2⁻⁵³.

* ``"ce"``: the empirical model's certificate from :func:`~mesabase.theory.solve`
  (:mod:`~mesabase.theory.solvers`), passed through unchanged.
* ``"is"``: V* and Q*[s, a] are the exact maxima of the IS objective (over all policies,
  over those taking a in s). Each term γᵏ r_k Π 1/b_j is formed with a relative error
  at most ρ (the logs' 8u, the running sum of −log b, exp's 8u, the products; shifted:
  the errors of ℓ_k − c through exp), so the score of a policy π errs by at most
  ε_π = (ρ(1 + 2ρ) + γ_T)·Σ_{k kept by π}|term_k| (+ underflow), over E (or T) with one
  more rounding. A computed max errs by at most the largest ε_π of the policies whose
  intervals [score ± ε_π] reach its own, so ‖Q − Q*‖∞ ≤ ε per seed: ``error_bound`` =
  max ε (≥ u·|V| when V ≠ 0). Each seed's optimal set has its own certified width
  w = tol + 2ε + 2u‖Q‖∞ (``Solution.tol`` = the largest; no seed's set depends on the
  others), so an action outside it is provably worse. Shifted seeds: the set on the
  shifted scale (w e^{−c}), the bound e^c ε plus the unshift's rounding (∞ if saturated).
* ``"log"``: V*(s) = Σ_a c(s, a) log(c(s, a)/Σ_b c(s, b)) over the positive exact sums
  (+∞ when one is negative). Each summed c̃ errs by δ ≤ γ_{m−1} Σ|r| (m rewards; δ = 0
  when the seed's rewards lie on a grid 2^q with Σ|r| ≤ 2^{53+q}, as for integer or
  dyadic rewards, where every partial sum is exact). g(c) = Σ c log(c/Σc) is convex with
  ∂g/∂c_a = log p_a, so |g(c) − g(c̃)| ≤ Σ_a δ_a |log p_a| (p at either end, bounded
  below from c̃ − δ); the evaluation adds (8u + 2u + γ_A)·Σ|c̃ log p̃| + (u + γ_A)·Σc̃.
  A row whose value is +∞ for certain (some c̃ + δ < 0) contributes 0 (V = V* = +∞);
  where a sign is not certain (|c̃| ≤ δ ≠ 0: V* may be +∞ or finite) ``error_bound`` is
  ∞. The optimal set is the maximiser's support (not a tol-band), ``Solution.tol`` is
  the tol passed.

Batching: a history with N seeds gives one :class:`Solution` with a leading seed axis
(``V`` (N, S), ``Q``/``optimal``/``policy`` (N, S, A), ``bounded`` (N,)); a single-seed
history (``History.from_arrays`` with 1-D arrays, or ``history.seed(i)``) gives an
unbatched one.
"""

from __future__ import annotations

import numpy as np

from ..checks import check_int, check_real
from ..solution import Solution, optimal_set
from ..solvers.certificate import SAFETY_FACTOR as _SAFE
from ..solvers.certificate import SMALLEST_SUBNORMAL as _ETA
from ..solvers.certificate import UNIT_ROUNDOFF as _U
from ..solvers.certificate import higham_gamma, set_width
from ..solvers.iteration import solve
from ..solvers.linear_class import class_optima
from .empirical import empirical_counts, empirical_mdp
from .records import History

__all__ = ["history_optimal", "OBJECTIVES", "MAX_ENUMERATED", "ELEMENTARY_RTOL", "log_optimal",
           "is_scores"]

OBJECTIVES = ("ce", "is", "log")
#: Largest number of deterministic policies the "is" objective enumerates on an MDP.
MAX_ENUMERATED = 200_000


def _freeze(*arrays):
    for a in arrays:
        a.setflags(write=False)


def _pack(V, Q, optimal, policy, method, bounded, tol, single, error_bound) -> Solution:
    """A closed form's Solution: ``actions`` the first of each set, ``residual`` 0."""
    actions = np.argmax(policy, axis=-1)
    bounded = np.asarray(bounded, dtype=bool)
    if single:
        V, Q, optimal, policy, actions = V[0], Q[0], optimal[0], policy[0], actions[0]
        bounded = bool(bounded[0])
    _freeze(V, Q, optimal, policy, actions)
    return Solution(V=V, Q=Q, optimal=optimal, policy=policy, actions=actions, method=method,
                    iterations=1, residual=0.0, error_bound=float(error_bound),
                    tol=float(tol), bounded=bounded)


# ---- certificates of the closed forms (module docstring, "Certificates") ---------------------
_U, _SAFE, _ETA = _U, _SAFE, _ETA
#: Assumed relative accuracy of numpy's float64 log, exp and power: 4 ulps (8u), with margin
#: (numpy validates float64 log and exp to 1 ulp: _core/tests/data/umath-validation-set-*).
ELEMENTARY_RTOL = _LIBM = 8.0 * _U
_TINY = float(np.finfo(np.float64).tiny)  # 2⁻¹⁰²²: below it a result is subnormal


def _compose(*rels) -> float:
    """A bound on Π(1 + r_i) − 1 (≤ e^{Σr} − 1 ≤ Σr(1 + Σr) for Σr ≤ 1), rounded up."""
    t = float(sum(rels))
    if t > 1.0:
        with np.errstate(over="ignore"):
            return float(np.expm1(t)) * (1.0 + _LIBM) * _SAFE
    return t * (1.0 + t) * _SAFE


def _exp_rel(log_err) -> float:
    """Relative error of exp(x̃) against e^x when |x̃ − x| ≤ ``log_err`` (exp's own 8u in)."""
    with np.errstate(over="ignore"):
        return _compose(float(np.expm1(log_err)) * (1.0 + _LIBM) * _SAFE, _LIBM)


def _sum_error(rel: float, n_terms: int, abs_sum, n_underflow: int):
    """A bound on |Σ_{k∈K} x̃_k − Σ_{k∈K} x_k| (K of at most ``n_terms`` terms, summed in
    any order) when each x̃_k = x_k(1 + θ_k), |θ_k| ≤ ``rel`` < 1/2, Σ_{k∈K}|x̃_k| =
    ``abs_sum`` (an array: one bound per K), and up to ``n_underflow`` operations may have
    underflowed (2⁻¹⁰⁷⁴ each)."""
    if not rel < 0.5:
        return np.full(np.shape(abs_sum), np.inf)
    g = higham_gamma(n_terms)
    return ((rel * (1.0 + 2.0 * rel) + g) * abs_sum * (1.0 + g) + 2.0 * n_underflow * _ETA) * _SAFE


def _logw_error(log_b_sum: float, T: int) -> float:
    """|log w̃ − log w| for the log-weights log Π_{j≤k} 1/b_j formed as differences of one
    running sum of −log b_j (total ``log_b_sum`` ≥ 0, T terms): the logs' 8u, the running
    sum's γ_T at both ends and the difference's rounding."""
    return (_LIBM + 2.0 * higham_gamma(T) + 2.0 * _U) * log_b_sum * (1.0 + _LIBM) * _SAFE


def _unshifted_error(Qs: np.ndarray, c: float, eps_s: float) -> float:
    """|Q − Q*| ≤ e^c eps_s + the rounding of Q = ``_unshift(Qs, c)`` = sign·exp(log|Qs| + c)
    when |Qs − e^{−c} Q*| ≤ ``eps_s`` (∞ when Q saturated)."""
    Q = _unshift(Qs, c)
    if not np.isfinite(Q).all():
        return float("inf")
    with np.errstate(over="ignore"):
        scaled = float(np.exp(np.log(eps_s) + c)) * (1.0 + _LIBM) * _SAFE if eps_s else 0.0
        nz = Qs[Qs != 0.0]
        if nz.size == 0:
            return scaled
        lq = np.log(np.abs(nz))
        rho = _exp_rel(float(np.max(_LIBM * np.abs(lq) + _U * np.abs(lq + c))) * _SAFE)
        out = (scaled + 2.0 * rho * float(np.abs(Q).max())) * _SAFE
    return out if out < np.inf else float("inf")


def _maxima(pols, x, e, A: int):
    """(Q (S, A), ε): Q[s, a] = max of the scores x of the policies taking a in s, and a
    bound on |Q − Q*| when each |x_π − x*_π| ≤ e_π: the exact max is attained by a policy
    whose interval [x_π ± e_π] reaches the computed max's, so ε = the largest such e_π."""
    S = pols.shape[1]
    Q, eps, actions = np.empty((S, A)), 0.0, np.arange(A)[:, None]
    for s in range(S):
        X = np.where(pols[:, s] == actions, x, -np.inf)             # (A, M)
        i = X.argmax(axis=1)
        Q[s] = X[np.arange(A), i]
        with np.errstate(invalid="ignore"):  # −∞ + ∞ (an infinite e_π) is no match
            reach = X + 2.0 * e >= (Q[s] - 2.0 * e[i])[:, None]
        eps = max(eps, float(np.where(reach, e, 0.0).max()))
    return Q, eps


def _log_error(history: History, c: np.ndarray, visits: np.ndarray, policy: np.ndarray):
    """error_bound of the "log" objective: a bound on max_{n,s} |V − V*| with V* the exact
    supremum for the exact reward sums (module docstring, "Certificates")."""
    N, S, A = c.shape
    r = history.rewards
    sa = ((np.arange(N)[:, None] * S + history.states) * A + history.actions).ravel()
    abs_sum = np.bincount(sa, weights=np.abs(r).ravel(), minlength=N * S * A).reshape(N, S, A)
    m = visits
    g_m1 = np.maximum(m - 1.0, 0.0) * _U / (1.0 - m * _U) * _SAFE  # γ_{m−1} per pair
    abs_hi = abs_sum * (1.0 + g_m1) * _SAFE                        # ≥ exact Σ|r|
    delta = g_m1 * abs_hi * _SAFE                                  # |c̃ − c| ≤ δ
    # Sums are exact when every reward of the seed is a multiple of 2^q and Σ|r| ≤ 2^(53+q)
    # (every partial sum is then a float): q from each reward's lowest set bit.
    if r.size:
        mant, ex = np.frexp(r)
        M = np.abs(np.ldexp(mant, 53)).astype(np.int64)
        low = np.frexp((M & -M).astype(np.float64))[1] - 1       # trailing zero bits
        q = np.where(r != 0.0, ex - 53 + low, 1 << 20).min(axis=1)
        with np.errstate(over="ignore"):
            exact = abs_hi <= np.ldexp(1.0, np.minimum(53 + q, 2000))[:, None, None]
        delta = np.where(exact, 0.0, delta)
    neg = (c < 0).any(axis=-1)                                     # computed V = +∞
    sure_neg = (c + delta < 0).any(axis=-1)                        # … and V* = +∞ too
    unsure = ((delta > 0) & (np.abs(c) <= delta)).any(axis=-1)     # a sign not certain
    # bounded rows: rounding of Σ c̃ log p̃ (8u logs, u quotients and products, γ sums) …
    gA = higham_gamma(A)
    C = np.where(c > 0, c, 0.0).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(c != 0, c * np.log(np.where(policy > 0, policy, 1.0)), 0.0)
    t_abs = np.abs(terms).sum(axis=-1) * (1.0 + gA)
    e_eval = (((_LIBM + 2.0 * _U + gA) * t_abs * (1.0 + 2.0 * _LIBM)
               + 1.01 * (_U + gA) * C * (1.0 + gA)) * _SAFE + 4 * A * _ETA)
    # … plus the error of the sums: g(c) = Σ c_a log(c_a/Σc) is convex (a perspective of
    # Σ p log p) with ∂g/∂c_a = log p_a, so |g(c) − g(c̃)| ≤ Σ δ_a max|log p_a| at both ends
    den = (C * (1.0 + gA) + delta.sum(axis=-1)) * _SAFE
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = (c - delta) * (1.0 - 2.0 * _U) / den[..., None] * (1.0 - 2.0 * _U)
        L = -np.log(lo) * (1.0 + _LIBM) * _SAFE + _LIBM
        e_delta = np.where(delta > 0, delta * L, 0.0).sum(axis=-1) * (1.0 + gA) * _SAFE
    finite = np.where(unsure, np.inf, (e_eval + e_delta) * _SAFE)
    per_row = np.where(neg, np.where(sure_neg, 0.0, np.inf), finite)
    return float(per_row.max()) if per_row.size else 0.0


def log_optimal(c: np.ndarray):
    """Closed-form argmax of Σ_a c[..., a] log π[..., a] over the simplex, per row.

    Returns ``(policy, optimal, value, bounded)``; see the module docstring for the cases.
    """
    neg = c < 0
    pos = np.where(c > 0, c, 0.0)
    psum = pos.sum(axis=-1, keepdims=True)
    zero_rows = (~neg.any(axis=-1, keepdims=True)) & (psum == 0)
    # rows with a positive sum: reward-weighted; rows with none: uniform over c == 0 actions
    support = np.where(psum > 0, c > 0, c == 0)
    # every c < 0: any row with a vanishing entry is a maximising sequence; take the limit
    # that keeps the mass on the largest (least negative) sums
    none = ~support.any(axis=-1, keepdims=True)
    support = np.where(none, c == c.max(axis=-1, keepdims=True), support)
    weights = np.where(psum > 0, pos, support.astype(float))
    policy = weights / weights.sum(axis=-1, keepdims=True)
    optimal = np.where(zero_rows, True, support)
    unbounded = neg.any(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(c != 0, c * np.log(np.where(policy > 0, policy, 1.0)), 0.0)
    value = np.where(unbounded, np.inf, terms.sum(axis=-1))
    return policy, optimal, value, ~unbounded


def _episodes(dones: np.ndarray) -> np.ndarray:
    """Episode index of each step of one seed (a new episode after every done)."""
    starts = np.concatenate([[0], np.cumsum(dones[:-1])]) if dones.size else dones
    return np.asarray(starts, dtype=np.int64)


#: log of the largest float64: the bound the shifted IS terms are kept under.
_LOG_MAX = float(np.log(np.finfo(np.float64).max))


def _shift(logmag: np.ndarray, n_terms: int) -> float:
    """c ≥ 0 such that T terms of size ≤ e^{max ℓ − c} sum to a finite float (0 if possible)."""
    finite = logmag[np.isfinite(logmag)]
    if finite.size == 0:
        return 0.0
    bound = _LOG_MAX - np.log(max(n_terms, 1)) - 1.0
    return max(0.0, float(finite.max()) - bound)


def _unshift(x: np.ndarray, c: float) -> np.ndarray:
    """x · e^c without overflow to NaN: sign(x) e^{log|x| + c} (±∞ past the float range)."""
    if c == 0.0:
        return x
    with np.errstate(divide="ignore", over="ignore"):
        return np.sign(x) * np.exp(np.log(np.abs(x)) + c)


def _check_is_inputs(probs, rewards, seed: int | None) -> None:
    """The IS weights need b ∈ (0, 1] and finite rewards; name the seed and step if not."""
    who = "" if seed is None else f"seed {seed}, "
    bad = ~((probs > 0) & (probs <= 1))
    if bad.any():
        t = int(np.argmax(bad))
        raise ValueError(f'objective "is": {who}step {t}: behaviour probability '
                         f"{float(probs[t])!r} is not in (0, 1], so the importance weight "
                         f"1/b is undefined")
    if not np.isfinite(rewards).all():
        t = int(np.argmax(~np.isfinite(rewards)))
        raise ValueError(f'objective "is": {who}step {t}: reward {float(rewards[t])!r} is '
                         f"not finite")


def _is_bandit(actions, rewards, probs, n_actions):
    """(w̃, c, err): w(a) e^{−c}, w(a) = (1/T) Σ_{τ: a_τ = a} r_τ / b_τ, with the shared
    shift c, and bounds ``err[a]`` on the error of T·w̃(a) against T·w(a) e^{−c}."""
    T = max(actions.size, 1)
    with np.errstate(divide="ignore"):
        log_r, log_b = np.log(np.abs(rewards)), np.log(probs)
        logmag = log_r - log_b
    c = _shift(logmag, T)
    if c == 0.0:
        terms = rewards / probs
        rel = _U
    else:
        terms = np.sign(rewards) * np.exp(logmag - c)
        ok = np.isfinite(log_r)  # r = 0: the term is exactly 0
        x = logmag[ok]
        err_x = ((_LIBM + _U) * (np.abs(log_r[ok]) + np.abs(log_b[ok])) + _U * np.abs(x)
                 + _U * np.abs(x - c)) * _SAFE
        rel = _exp_rel(float(err_x.max())) if x.size else 0.0
    abs_sums = np.bincount(actions, weights=np.abs(terms), minlength=n_actions)
    err = _sum_error(rel, actions.size, abs_sums, 2 * actions.size)
    return np.bincount(actions, weights=terms, minlength=n_actions) / T, c, err


def _is_scores_shifted(states, actions, rewards, probs, dones, n_states, n_actions, gamma):
    """``(policies (M, S), scores · e^{−c} (M,), n_episodes, c, err)`` (module docstring);
    ``err`` (M,) bounds the error of each shifted score against the exact one times e^{−c}
    (from the sum of |terms| that policy keeps)."""
    S, A = n_states, n_actions
    M = A**S
    if M > MAX_ENUMERATED:
        raise ValueError(f'objective "is" on an MDP enumerates A^S = {A}^{S} = {M} '
                         f"deterministic policies; the limit is {MAX_ENUMERATED}")
    grids = np.indices((A,) * S).reshape(S, M).T             # (M, S) every policy
    ep = _episodes(dones)
    T = states.size
    if T == 0:
        return grids, np.zeros(M), 0, 0.0, np.zeros(M)
    first = np.concatenate([[True], ep[1:] != ep[:-1]])
    start_idx = np.maximum.accumulate(np.where(first, np.arange(T), 0))
    k = np.arange(T) - start_idx                              # step within the episode
    logw = np.cumsum(-np.log(probs))
    logw_err = _logw_error(float(logw[-1]), T)                 # |log w̃ − log w|, every k
    logw = logw - np.where(start_idx > 0, logw[start_idx - 1], 0.0)   # log Π_{j≤k} 1/b_j
    with np.errstate(divide="ignore", invalid="ignore"):
        k_log_gamma = np.where(k == 0, 0.0, k * np.log(gamma))          # log γᵏ (γ⁰ = 1)
        log_r = np.log(np.abs(rewards))
        partial = k_log_gamma + logw
        logmag = partial + log_r                                         # log |γᵏ r_k Π 1/b_j|
    c = _shift(logmag, T)
    n_uf = 2 * T  # operations that may underflow (the dot products' and the exps')
    if c == 0.0 and logw.max() <= _LOG_MAX:
        gk = gamma**k
        grk = gk * rewards
        w = np.exp(logw)
        coef = grk * w                                        # γᵏ r_k Π 1/b_j, all finite
        # γᵏ (8u), w (its log's error, then exp's 8u), two products
        rel = _compose(_LIBM, _exp_rel(logw_err), _U, _U)
        # where γᵏ or γᵏ r_k is subnormal, each carries an absolute error 2⁻¹⁰⁷⁴ that w scales
        uf = ((gk < _TINY) & (gamma > 0.0)) | ((np.abs(grk) < _TINY) & (rewards != 0.0))
        uf_abs = float((((np.abs(rewards[uf]) + 1.0) * _ETA) * w[uf]).sum()) * 4.0
    else:
        coef = np.sign(rewards) * np.exp(logmag - c)          # the same, times e^{−c}
        ok = np.isfinite(logmag)  # −∞: r = 0 or γᵏ = 0, a term of exactly 0
        x = logmag[ok]
        err_x = ((_LIBM + 2 * _U) * np.abs(k_log_gamma[ok]) + logw_err
                 + (_LIBM + _U) * np.abs(log_r[ok]) + _U * np.abs(partial[ok])
                 + _U * np.abs(x) + _U * np.abs(x - c)) * _SAFE
        rel = _exp_rel(float(err_x.max())) if x.size else 0.0
        uf_abs = 0.0
    both = np.stack([coef, np.abs(coef)], axis=1)            # scores and Σ|terms| at once
    out = np.zeros((M, 2))
    chunk = max(1, 5_000_000 // max(T, 1))
    for lo in range(0, M, chunk):
        pol = grids[lo:lo + chunk]
        mism = (pol[:, states] != actions[None, :]).astype(np.int64)
        cum = np.cumsum(mism, axis=1)
        before = np.where(start_idx > 0, cum[:, start_idx - 1], 0)
        consistent = (cum - before) == 0
        out[lo:lo + chunk] = consistent @ both
    err = _sum_error(rel, T, out[:, 1], n_uf) + uf_abs * _SAFE
    return grids, out[:, 0].copy(), int(ep[-1]) + 1, c, err


def is_scores(states, actions, rewards, probs, dones, n_states, n_actions, gamma):
    """Per-decision IS objective L(π)·E for every deterministic policy of one seed.

    Returns ``(policies (M, S), scores (M,), n_episodes)`` with M = A^S. The terms are
    formed in log space (module docstring), so a long episode gives a score of ±∞ where
    the true score exceeds the float range, never NaN; :func:`history_optimal` compares
    the shifted scores, so its argmax stays exact there.
    """
    _check_is_inputs(np.asarray(probs, dtype=np.float64),
                     np.asarray(rewards, dtype=np.float64), None)
    grids, scores, E, c, _ = _is_scores_shifted(states, actions, rewards, probs, dones,
                                                n_states, n_actions, gamma)
    return grids, _unshift(scores, c), E


def history_optimal(history: History, objective: str = "ce", *, n_states: int,
                    n_actions: int, gamma: float = 0.9, horizon=None, tol: float = 1e-10,
                    features=None, **model) -> Solution:
    """π*_t = argmax_π L_t(π; H_t), exactly, for ``objective`` in ``"ce"``, ``"is"``, ``"log"``.

    Args:
      history: the :class:`History` (all of it: pass ``history[:t]`` for the first t steps).
      objective: which L_t (see the module docstring).
      n_states, n_actions: S and A.
      gamma, horizon: the discount (and horizon) of ``"ce"``'s empirical model and of
        ``"is"``'s γᵏ; unused by ``"log"``.
      tol: optimal-action sets are the actions within ``tol`` (plus the certified
        rounding margin, module docstring) of the best; unused by ``"log"``.
      features: (S, A, d) φ of a linear-softmax class: ``"ce"`` then returns the class
        optimum (:func:`~mesabase.theory.class_optimal`; a tuple of them per seed).
      **model: passed to :func:`~mesabase.theory.empirical_mdp` for ``"ce"`` (``prior``,
        ``reward_prior``, ``reward_weight``, ``unvisited``, and ``allowed``, an (S, A)
        action mask π*_t respects; only ``"ce"`` takes a mask).

    Returns:
      A :class:`Solution`, with a leading seed axis unless the history is single-seed.
      ``"ce"``: the empirical model's Solution. ``"is"``: ``V[s]`` the best IS estimate
      of the return (the same for every s), ``Q[s, a]`` the best estimate among
      policies taking a in s. ``"log"``: ``V[s]`` the maximised per-state objective
      (+∞ where unbounded), ``Q[s, a] = c(s, a)`` the reward sums, ``bounded``.
      ``error_bound`` and ``tol`` (the set's width) as in the module docstring,
      "Certificates"; ``residual`` is 0 for ``"is"`` and ``"log"``.

    Example:
      >>> h = History.from_arrays([0, 0, 0], [0, 1, 1], [1.0, 2.0, 1.0], [0, 0, 0], [.5, .5, .5])
      >>> history_optimal(h, "log", n_states=1, n_actions=2).policy.tolist()
      [[0.25, 0.75]]
      >>> history_optimal(h, "is", n_states=1, n_actions=2).optimal.tolist()
      [[False, True]]
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose one of {OBJECTIVES}")
    if features is not None and objective != "ce":
        raise ValueError(f'only "ce" is defined in a class (features given); got {objective!r}')
    if objective != "ce" and model:
        if model.get("allowed") is not None:
            raise ValueError(f'{objective!r} does not take an action mask yet; only "ce" does')
        raise TypeError(f"objective {objective!r} takes no model arguments: {sorted(model)}")
    S = check_int(n_states, "n_states", lo=1)
    A = check_int(n_actions, "n_actions", lo=1)
    check_real(tol, "tol", lo=0.0)
    if objective == "is":
        gamma = check_real(gamma, "gamma", lo=0.0, hi=1.0)
    single = history.single
    if objective == "ce":
        mdp = empirical_mdp(history, S, A, gamma=gamma, horizon=horizon, **model)
        return solve(mdp, tol=tol) if features is None else class_optima(mdp, features, tol)
    counts, rsum = empirical_counts(history, S, A)  # validates the indices
    N = history.n_seeds
    if objective == "log":
        policy, optimal, value, bounded = log_optimal(rsum)
        bound = _log_error(history, rsum, counts.sum(axis=-1), policy)
        return _pack(value, rsum, optimal, policy, "log", bounded.all(axis=-1), tol, single,
                     bound)
    # "is": per seed, Q̃ = Q e^{−c} with a shared shift c ≥ 0 (module docstring), and
    # eps[n] ≥ |Q̃ − Q* e^{−c}| for every entry of the seed ("Certificates")
    Q = np.empty((N, S, A))
    shift, eps, widths = np.zeros(N), np.zeros(N), np.zeros(N)
    for n in range(N):
        probs, rewards = history.probs[n], history.rewards[n]
        _check_is_inputs(probs, rewards, n)
        if S == 1:  # a bandit: linear in π
            Q[n, 0], shift[n], err = _is_bandit(history.actions[n], rewards, probs, A)
            D = max(len(history), 1)
            eps[n] = np.max((err / D * (1.0 + _U) + _U * np.abs(Q[n, 0])) * _SAFE)
        else:
            pols, scores, E, shift[n], err = _is_scores_shifted(
                history.states[n], history.actions[n], rewards, probs, history.dones[n],
                S, A, gamma)
            D = max(E, 1)
            scores = scores / D
            err = (err / D * (1.0 + _U) + _U * np.abs(scores)) * _SAFE  # of each score
            Q[n], eps[n] = _maxima(pols, scores, err, A)
        # the certified set of the seed, on its (shifted) scale: Q̃ ≥ max Q̃ − w e^{−c}
        widths[n] = set_width(tol * np.exp(-shift[n]), eps[n], float(np.abs(Q[n]).max()))
    optimal, policy = optimal_set(Q, widths[:, None, None])
    for n in np.flatnonzero(shift):
        eps[n] = _unshifted_error(Q[n], shift[n], eps[n])
        Q[n] = _unshift(Q[n], shift[n])
        with np.errstate(over="ignore", divide="ignore"):
            widths[n] = float(np.exp(np.log(widths[n]) + shift[n]))
    V = Q.max(axis=-1)
    return _pack(V, Q, optimal, policy, "is", np.ones(N, dtype=bool), float(widths.max()),
                 single, float(eps.max()))
