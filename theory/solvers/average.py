"""Average reward (γ = 1, no horizon): the optimal gain g*, a bias h, the optimal actions,
and a certificate — ``solve(mdp, criterion="average")``.

Criterion. A stationary policy d (transitions P_d, rewards r_d) has gain
g_d = lim_N (1/N) Σ_{t<N} P_dᵗ r_d = P*_d r_d (P*_d the Cesàro limit of P_dᵗ) and bias
h_d = (I − P_d + P*_d)⁻¹ (I − P*_d) r_d, the solution of g_d + (I − P_d) h = r_d with
P*_d h = 0. The optimal gain g*(s) = sup over all policies of the long-run average reward
is attained by a deterministic stationary policy; it is constant in s for unichain and
weakly communicating MDPs and may depend on s for multichain ones (Puterman 1994, §8.3
and §9.1). Multichain optimality equations (Puterman 1994, §9.1):

    (1)  g(s) = max_a Σ_s' P[s, a, s'] g(s')                 B(s) = the argmax set of (1)
    (2)  g(s) + h(s) = max_{a ∈ B(s)} R[s, a] + Σ_s' P[s, a, s'] h(s')

Any solution has g = g*, and every deterministic d choosing d(s) in the argmax set of (2)
is gain-optimal (P_d g = g and r_d + P_d h = g + h give g_d = P*_d r_d = P*_d g = g).
``optimal`` is that two-level argmax set, ``Q = R + P h``, ``gain_Q = P g``. It is
sufficient, not necessary: gain optimality does not constrain actions at states that are
transient under the policy, so a gain-optimal action may lie outside the set.

**Relative value iteration** (``method="rvi"``; Puterman 1994, §8.5.5, with the
aperiodicity transformation of §8.5.4): d_k = T V_k − V_k with T V = max_a (R + P V),
V_{k+1} = V_k + τ d_k − (V_k + τ d_k)(0). V_k + τ d_k is the Bellman operator of the
transformed MDP (τP + (1 − τ)I, τR) applied to V_k, which is aperiodic for τ < 1, has the
same optimal policies and gain τ g*; the bounds below are those of the original MDP, so
τ enters nothing but the speed. τ = 1 at first, ½ once the span of d_k stops falling by
0.1 % a sweep (periodic chains, where it never falls). For every V (Odoni 1969):

    min_s (T V − V)(s) ≤ g*(s') ≤ max_s (T V − V)(s)    for every s'

(a policy d greedy for V has r_d + P_d V ≥ V + min d, hence g_d = P*_d r_d ≥ min d; every
policy has r + P V ≤ V + max d, hence gain ≤ max d). Stop when span(d_k) ≤ 2·tol — or at
the rounding floor (span(d) ≤ 4 e_d and no longer falling) — and return the midpoint of
the bracket widened by e_d ≥ |d̂(s) − d(s)|:

    e_d = (E_Q + δ_P ‖V‖∞ + 3u ‖d̂‖∞ + u ‖R‖∞) · (1 + 64u)

with E_Q the rounding bound of Q̂ = fl(R + P V) of :mod:`.certificate` (γ = 1, row sums
and nonzeros of P measured: one pass over P) and δ_P = dev + uρ̄ ≥ the ℓ1 distance of
each stored row of P to a stochastic row: the bound holds for every stochastic P̃ that
close to the stored P (its rows need not sum to exactly 1 in float64) and every R̃
within u|R| of the stored R. (The exact reading of float input used by
``method="exact"`` may move an entry by up to 10⁻¹⁴ relative,
:mod:`mesabase.theory.rationals`: it is another MDP, not covered by this bound.)
``error_bound`` ≥ |gain(s) − g*(s)| for every s, ≤ tol + e_d when converged. RVI needs g*
constant: for a multichain problem with unequal gains span(d_k) tends to max g* − min g* > 0,
and when it has not fallen by a factor 1 − 10⁻⁴ in 100 sweeps (after τ = ½) RVI gives up:
``"rvi"`` raises, ``"auto"`` goes on exactly (below; ``method`` then reads ``"auto:exact"``).
``bias`` is V_k with h(0) = 0 (a solution of (2) up to the error of V_k, which no cheap bound
controls), ``actions`` = argmax_a Q̂ and ``optimal`` the actions within
w = tol + 2(e_d + span(d̂)) + 2u‖Q̂‖∞ of the best (``tol`` holds w, rounded up): every
deterministic policy in the set has gain ≥ g* − 2(error_bound + w) (on its actions
r + P V − V ≥ min d̂ − e_d − w − u(‖Q̂‖∞ + w), as above, and u‖Q̂‖∞ ≤ w/2).

**Exact** (``method="exact"``; floats read as rationals as in :mod:`.exact`): Howard's
multichain policy iteration (Howard 1960; Puterman 1994, §9.2) in Fractions, simpler
than an exact LP. Evaluation: the closed classes of P_d (reachability), on each class C
the stationary μ_C (μ_C(I − P_CC) = 0, Σμ_C = 1), g = μ_C·r_C on C and the bias on C from
(I − P_CC) h = r_C − g with μ_C·h = 0 (one equation replaced: nonsingular, as μ_C > 0);
on the transient states T, (I − P_TT) g_T = P_TR g_R and (I − P_TT) h_T = r_T − g_T +
P_TR h_R. So h = h_d exactly (P*_d h = 0). Improvement: d(s) ← an argmax of (1) where it
improves P_d g; if none does, an argmax of (2) over B(s) where it improves r_d + P_d h;
else stop (ties keep d(s)). At the end (1) and (2) are verified exactly (RuntimeError
otherwise), so ``gain`` = g* exactly, ``error_bound = 0``; gain, bias, Q, gain_Q and
policy hold Fractions. ``"auto:exact"`` returns these rounded to float64:
``error_bound`` = u‖g*‖∞ (plus underflow), the rounding of g* of the exact reading
of the MDP (each entry within 10⁻¹⁴ relative of the stored float; unlike RVI's bound this
one is not about every nearby MDP: a multichain gain can jump under perturbation).

Disallowed pairs (``mdp.allowed``) are left out of every max; their Q and gain_Q are −inf.

References:
  M. L. Puterman, *Markov Decision Processes*, Wiley 1994, §8.3–8.5 and §9.1–9.2.
  A. R. Odoni, "On finding the maximal gain for Markov decision processes",
  Operations Research 17 (1969) 857–860.
  R. A. Howard, *Dynamic Programming and Markov Processes*, MIT Press 1960.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ..mdp import InvalidMDP, TabularMDP
from .certificate import (
    SAFETY_FACTOR,
    UNIT_ROUNDOFF,
    covering_set,
    inf_norm,
    rounding_from,
    set_width,
)

__all__ = ["AverageSolution", "AVERAGE_METHODS", "solve_average"]

AVERAGE_METHODS = ("auto", "rvi", "exact")
_U, _SAFE = UNIT_ROUNDOFF, SAFETY_FACTOR
_ZERO, _ONE = Fraction(0), Fraction(1)
#: τ drops to ½ when span(d_k) > (1 − SWITCH) span(d_{k−1}); RVI gives up when, with τ = ½,
#: span(d_k) > (1 − STALL) span(d_{k−WINDOW}) (module docstring).
SWITCH, STALL, WINDOW = 1e-3, 1e-4, 100


@dataclass(frozen=True, eq=False)
class AverageSolution:
    """The average-reward optimum of a TabularMDP (S states, A actions), with its evidence.

    ``gain`` (S,) g*(s); ``bias`` (S,) a solution h of the optimality equations (exact:
    the bias of ``actions``, P*h = 0; RVI: relative values with h(0) = 0); ``Q`` (S, A)
    = R + P h; ``gain_Q`` (S, A) = P g; ``optimal`` bool (S, A) the two-level argmax set
    of width ``tol`` (0 for exact); ``policy`` uniform over it; ``actions`` int (S,) one
    deterministic gain-optimal policy in it; ``error_bound`` ≥ max_s |gain(s) − g*(s)|
    (floating point included; 0 for exact); ``residual`` = span(T V − V) as computed
    (RVI) or 0; ``tau`` the aperiodicity factor RVI ended with (1.0 otherwise). The maths
    is in :mod:`mesabase.theory.solvers.average`.
    """

    gain: np.ndarray
    bias: np.ndarray
    Q: np.ndarray
    gain_Q: np.ndarray
    optimal: np.ndarray
    policy: np.ndarray
    actions: np.ndarray
    method: str
    iterations: int
    residual: float
    error_bound: float
    tol: float
    tau: float = 1.0

    @property
    def greedy(self) -> np.ndarray:
        """The deterministic policy ``actions`` as a one-hot ``pi[s, a]`` array (float)."""
        return (self.actions[:, None] == np.arange(self.Q.shape[-1])).astype(np.float64)

    def __repr__(self) -> str:
        return (f"AverageSolution(method={self.method!r}, S={self.gain.shape[0]}, "
                f"iterations={self.iterations}, error_bound={self.error_bound:.2e})")


def _allowed(mdp) -> np.ndarray:
    allowed = getattr(mdp, "allowed", None)
    return np.ones(mdp.R.shape, dtype=bool) if allowed is None else np.asarray(allowed)


# ---- relative value iteration (float) ---------------------------------------------------
def _rvi(mdp: TabularMDP, tol: float, max_sweeps: int, tau0: float | None):
    """Span-stopped RVI: (V, Q̂, lo, hi, e_d, k, τ, converged) of the last sweep."""
    S, A = mdp.n_states, mdp.n_actions
    Pm, R = mdp.P_matrix, mdp.R
    allowed = _allowed(mdp)
    masked = not allowed.all()
    rd = rounding_from(1.0, S, A, Pm, mdp.is_sparse, inf_norm(np.where(allowed, R, 0.0)),
                       size=0)  # size 0: measure n, ρ̄, dev (one pass over P)
    dP = (rd.dev + _U * rd.rho) * _SAFE
    V = np.zeros(S)
    tau = 1.0 if tau0 is None else float(tau0)
    switched = None if tau0 is None else 0
    spans: list[float] = []
    out = None
    for k in range(1, max_sweeps + 1):
        Q = np.asarray(Pm @ V).reshape(S, A) + R
        if masked:
            Q[~allowed] = -np.inf
        d = Q.max(axis=1) - V
        lo, hi = float(d.min()), float(d.max())
        span = hi - lo
        vn = inf_norm(V)
        ed = (float(rd.q_error(vn)) + dP * vn + 3.0 * _U * max(abs(lo), abs(hi))
              + _U * rd.R_norm) * _SAFE
        out = [V, Q, lo, hi, ed, k, tau, True]
        if span <= 2.0 * tol:
            return out
        if spans and span >= spans[-1] and span <= 4.0 * ed:
            return out  # the rounding floor: float64 certifies no more
        if switched is None and spans and span > (1.0 - SWITCH) * spans[-1]:
            tau, switched = 0.5, k
        if switched is not None and k - switched > WINDOW and \
                span > (1.0 - STALL) * spans[k - 1 - WINDOW]:
            break
        spans.append(span)
        V = V + tau * d
        V = V - V[0]
    out[-1] = False
    return out


def _rvi_solution(mdp, tol, V, Q, lo, hi, ed, k, tau) -> AverageSolution:
    """The certified bracket [lo − e_d, hi + e_d] ∋ g*, its midpoint and the optimal set."""
    g_lo, g_hi = lo - ed, hi + ed  # ed covers these two roundings (module docstring)
    mid = 0.5 * (g_lo + g_hi)
    bound = max(mid - g_lo, g_hi - mid) * _SAFE
    S, A = Q.shape
    actions = np.argmax(Q, axis=1)
    width = set_width(tol, ed + (hi - lo), inf_norm(Q))
    optimal, policy, width = covering_set(Q, width, actions)
    gain = np.full(S, mid)
    gain_Q = np.where(np.isneginf(Q), -np.inf, mid)
    arrays = (gain, V, Q, gain_Q, optimal, policy, actions)
    for a in arrays:
        a.setflags(write=False)
    return AverageSolution(*arrays, method="rvi", iterations=k, residual=hi - lo,
                           error_bound=float(bound), tol=float(width), tau=tau)


# ---- multichain policy iteration (exact) ------------------------------------------------
def _gauss(M: list[list[Fraction]], b: list[Fraction]) -> list[Fraction]:
    """Solve M x = b exactly (M square, nonsingular) by Gauss–Jordan in Fractions."""
    n = len(b)
    rows = [list(M[i]) + [b[i]] for i in range(n)]
    for k in range(n):
        p = next((i for i in range(k, n) if rows[i][k] != 0), None)
        if p is None:
            raise ZeroDivisionError(f"singular system: no nonzero pivot in column {k}")
        rows[k], rows[p] = rows[p], rows[k]
        piv = rows[k][k]
        rk = rows[k] = [x / piv for x in rows[k]]
        for i in range(n):
            f = rows[i][k]
            if i != k and f != 0:
                rows[i] = [x - f * y for x, y in zip(rows[i], rk, strict=True)]
    return [rows[i][n] for i in range(n)]


def _closed_classes(succ_d: list[list[tuple[int, Fraction]]]) -> list[list[int]]:
    """The recurrent classes of a chain: s is recurrent iff every state it reaches reaches
    it back, and then the states it reaches form its (closed) class."""
    S = len(succ_d)
    reach = []
    for s in range(S):
        seen, stack = {s}, [s]
        while stack:
            for j, _ in succ_d[stack.pop()]:
                if j not in seen:
                    seen.add(j)
                    stack.append(j)
        reach.append(seen)
    classes, done = [], set()
    for s in range(S):
        if s not in done and all(s in reach[t] for t in reach[s]):
            classes.append(sorted(reach[s]))
            done.update(reach[s])
    return classes


def _evaluate(succ, R, d) -> tuple[list[Fraction], list[Fraction]]:
    """(g_d, h_d) exactly: gain and bias (P*_d h = 0) of the deterministic policy d."""
    S = len(d)
    rows = [dict(succ[s][d[s]]) for s in range(S)]
    r = [R[s][d[s]] for s in range(S)]
    g: list = [None] * S
    h: list = [None] * S
    for C in _closed_classes([succ[s][d[s]] for s in range(S)]):
        n = len(C)
        # μ (I − P_CC) = 0 for the columns C[:-1], and Σ μ = 1
        M = [[(_ONE if i == j else _ZERO) - rows[C[i]].get(C[j], _ZERO) for i in range(n)]
             for j in range(n - 1)] + [[_ONE] * n]
        mu = _gauss(M, [_ZERO] * (n - 1) + [_ONE])
        gC = sum((m * r[s] for m, s in zip(mu, C, strict=True)), _ZERO)
        # (I − P_CC) h = r − g on the rows C[:-1], and μ·h = 0
        M = [[(_ONE if i == j else _ZERO) - rows[C[i]].get(C[j], _ZERO) for j in range(n)]
             for i in range(n - 1)] + [mu]
        for s, v in zip(C, _gauss(M, [r[s] - gC for s in C[:-1]] + [_ZERO]), strict=True):
            g[s], h[s] = gC, v
    T = [s for s in range(S) if g[s] is None]
    if T:
        M = [[(_ONE if s == t else _ZERO) - rows[s].get(t, _ZERO) for t in T] for s in T]
        out = [sum((p * g[j] for j, p in rows[s].items() if g[j] is not None), _ZERO)
               for s in T]
        for s, v in zip(T, _gauss(M, out), strict=True):
            g[s] = v
        out = [r[s] - g[s] + sum((p * h[j] for j, p in rows[s].items() if h[j] is not None),
                                 _ZERO) for s in T]
        for s, v in zip(T, _gauss(M, out), strict=True):
            h[s] = v
    return g, h


def _multichain_pi(mdp: TabularMDP, max_iterations: int):
    """Howard's multichain policy iteration in Fractions: (g, h, Q, gain_Q, d, k)."""
    P, R, _, _ = mdp.exact_arrays()
    S, A = R.shape
    allowed = _allowed(mdp)
    acts = [[a for a in range(A) if allowed[s, a]] for s in range(S)]
    succ = [[[(j, P[s, a, j]) for j in np.flatnonzero(P[s, a] != 0).tolist()]
             for a in range(A)] for s in range(S)]

    def backup(vec, reward):
        return [{a: (R[s, a] if reward else _ZERO) + sum((p * vec[j] for j, p in succ[s][a]),
                                                          _ZERO) for a in acts[s]}
                for s in range(S)]

    d = [max(acts[s], key=lambda a, s=s: (R[s, a], -a)) for s in range(S)]
    for k in range(1, max_iterations + 1):
        g, h = _evaluate(succ, R, d)
        gq = backup(g, False)
        new = [s for s in range(S) if max(gq[s].values()) > gq[s][d[s]]]
        for s in new:
            best = max(gq[s].values())
            d[s] = next(a for a in acts[s] if gq[s][a] == best)
        q = backup(h, True)
        if not new:
            for s in range(S):
                B = [a for a in acts[s] if gq[s][a] == max(gq[s].values())]
                best = max(q[s][a] for a in B)
                if best > q[s][d[s]]:
                    d[s] = next(a for a in B if q[s][a] == best)
                    new.append(s)
        if not new:
            for s in range(S):  # the certificate: equations (1) and (2), exactly
                B = [a for a in acts[s] if gq[s][a] == g[s]]
                if max(gq[s].values()) != g[s] or max(q[s][a] for a in B) != g[s] + h[s]:
                    raise RuntimeError(f"exact average-reward certificate failed at state {s}")
            return g, h, q, gq, d, k
    raise RuntimeError(f"multichain policy iteration did not stop in {max_iterations} iterations")


def _exact_solution(mdp, max_iterations: int, as_float: bool) -> AverageSolution:
    g, h, q, gq, d, k = _multichain_pi(mdp, max_iterations)
    S, A = mdp.n_states, mdp.n_actions
    Q = np.full((S, A), -np.inf, dtype=object)
    G = np.full((S, A), -np.inf, dtype=object)
    optimal = np.zeros((S, A), dtype=bool)
    for s in range(S):
        for a in q[s]:
            Q[s, a], G[s, a] = q[s][a], gq[s][a]
        B = [a for a in q[s] if gq[s][a] == g[s]]
        best = max(q[s][a] for a in B)
        for a in B:
            optimal[s, a] = q[s][a] == best
    counts = optimal.sum(axis=1)
    policy = np.empty((S, A), dtype=object)
    for s, a in np.ndindex(S, A):
        policy[s, a] = Fraction(int(optimal[s, a]), int(counts[s]))
    gain, bias = np.array(g, dtype=object), np.array(h, dtype=object)
    bound, method = 0.0, "exact"
    if as_float:  # float(Fraction) is correctly rounded: error ≤ u |g| (+ underflow)
        gain, bias, Q, G, policy = (np.asarray(x, dtype=np.float64)
                                    for x in (gain, bias, Q, G, policy))
        bound = (_U * inf_norm(gain) + 2.0 ** -1074) * _SAFE
        method = "auto:exact"
    arrays = (gain, bias, Q, G, optimal, policy, np.asarray(d, dtype=np.intp))
    for a in arrays:
        a.setflags(write=False)
    return AverageSolution(*arrays, method=method, iterations=k, residual=0.0,
                           error_bound=float(bound), tol=0.0)


# ---- entry point ----------------------------------------------------------------------
def solve_average(mdp: TabularMDP, method: str = "auto", tol: float = 1e-10, *,
                  criterion: str = "average", max_sweeps: int = 100_000,
                  tau: float | None = None, max_iterations: int = 10_000) -> AverageSolution:
    """Solve ``mdp`` (γ = 1, no horizon) for the optimal average reward (module docstring).

    Args:
      mdp: a :class:`TabularMDP` with ``gamma=1`` and ``horizon=None``.
      method: ``"rvi"`` relative value iteration (float; g* must be constant),
        ``"exact"`` multichain policy iteration in Fractions (dense P), ``"auto"`` RVI,
        falling back to the exact solver, rounded to float, when RVI cannot certify.
      tol: RVI stops when the gain bracket has half-width ≤ tol (``error_bound`` adds
        the rounding term e_d); the base width of the optimal set.
      criterion: must be ``"average"`` (for :func:`~mesabase.theory.solve`).
      max_sweeps: RVI's budget; tau: RVI's aperiodicity factor in (0, 1] (default: 1,
        then ½ when the span stalls); max_iterations: the exact solver's cap.

    Raises:
      InvalidMDP: γ < 1, a finite horizon, or not a TabularMDP.
      RuntimeError: ``"rvi"`` could not certify the gain (multichain with unequal gains,
        or mixing too slow for max_sweeps).

    Example:
      >>> P = np.array([[[0.5, 0.5], [0.0, 1.0]], [[0.8, 0.2], [0.1, 0.9]]])
      >>> mdp = TabularMDP(P, [[5.0, 10.0], [-1.0, 2.0]], gamma=1.0)  # mdptoolbox's small()
      >>> sol = solve_average(mdp)
      >>> sol.actions.tolist(), round(float(sol.gain[0]), 9), sol.error_bound < 1e-9
      ([1, 0], 3.888888889, True)
      >>> solve_average(mdp, method="exact").gain.tolist()
      [Fraction(35, 9), Fraction(35, 9)]
    """
    if criterion != "average":
        raise ValueError(f"unknown criterion {criterion!r}; choose 'discounted' or 'average'")
    if not isinstance(mdp, TabularMDP):
        raise InvalidMDP(f"criterion='average' solves one TabularMDP; got {type(mdp).__name__}")
    if mdp.horizon is not None:
        raise InvalidMDP(f"criterion='average' needs an infinite horizon; this MDP has "
                         f"horizon={mdp.horizon} (use criterion='discounted')")
    if mdp.gamma != 1.0:
        raise InvalidMDP(f"criterion='average' is undiscounted and needs gamma = 1; this MDP "
                         f"has gamma={mdp.gamma!r} (use criterion='discounted')")
    if method not in AVERAGE_METHODS:
        raise ValueError(f"unknown method {method!r} for criterion='average'; choose one of "
                         f"{', '.join(AVERAGE_METHODS)}")
    if not (tol > 0):
        raise ValueError(f"tol must be positive; got {tol!r}")
    if tau is not None and not (0.0 < tau <= 1.0):
        raise ValueError(f"tau must be in (0, 1]; got {tau!r}")
    if method == "exact":
        return _exact_solution(mdp, max_iterations, as_float=False)
    V, Q, lo, hi, ed, k, tau_end, ok = _rvi(mdp, tol, max_sweeps, tau)
    if ok:
        return _rvi_solution(mdp, tol, V, Q, lo, hi, ed, k, tau_end)
    why = (f"relative value iteration could not certify the gain after {k} sweeps: "
           f"g* lies in [{lo - ed:.6g}, {hi + ed:.6g}] (state-dependent gain, or slow mixing)")
    if method == "rvi":
        raise RuntimeError(why + "; use method='exact'")
    try:
        return _exact_solution(mdp, max_iterations, as_float=True)
    except InvalidMDP as e:
        raise RuntimeError(f"{why}, and the exact fallback needs {e}") from e
