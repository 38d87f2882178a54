"""The Bayes-adaptive Bernoulli bandit as a belief MDP, solved exactly by backward induction.

K arms pay 1 with unknown probabilities pₖ; the agent pulls H times and maximises the
expected total reward under a prior. With conjugate Beta priors the posterior after any
history depends only on the counts, so the *belief state* is the int vector

    c = (s₁, f₁, s₂, f₂, …, s_K, f_K)        (successes, failures per arm; shape (K, 2))

and t = Σ c pulls have been made. Holding c is holding the sufficient statistics "in
activations"; the Bayes-optimal policy is a function of c and the pulls left, H − t.
(The Gittins indices of :mod:`.gittins` are re-exported here: ``gittins_index``,
``gittins_table``.)

Independent family (:func:`bayes_optimal_bandit`): pₖ ~ Beta(αₖ, βₖ) independently; the
posterior mean of arm k is mₖ(c) = (αₖ + sₖ)/(αₖ + βₖ + sₖ + fₖ), and

    V(c) = maxₖ Q(c, k),   Q(c, k) = mₖ (1 + V(c + e_{k,s})) + (1 − mₖ) V(c + e_{k,f}),
    V(c) = 0 when Σ c = H,

solved layer by layer, t = H − 1, …, 0 (Bellman 1956; Berry & Fristedt 1985, ch. 2–3).
Dependent family (:func:`bayes_optimal_dependent`): K = 2, p₂ = 1 − p₁, p₁ ~ Beta(α, β);
a success on arm 2 is a failure of p₁, so p₁'s posterior is Beta(α + s₁ + f₂, β + f₁ + s₂),
m₁ = (α + s₁ + f₂)/(α + β + t) and m₂ = 1 − m₁, in the same Bellman equation.

Symbols → arguments: K = ``n_arms`` (≥ 1), H = ``horizon`` (≥ 0; H = 0 is the empty
problem, V = 0), (αₖ, βₖ) = ``prior`` ((α, β) for every arm, or an array (K, 2); all > 0
and finite). ``exact=True`` computes in :class:`fractions.Fraction` (float priors are read
as the closest simple rationals, :func:`mesabase.theory.rationals.float_to_fraction`,
0.5 → 1/2); otherwise float64, vectorised over each layer.

Hand check (K = 2, uniform priors). H = 1: V = 1/2. H = 2: pull either arm (1/2); after a
success pull it again (mean 2/3), after a failure pull the other (1/2):
V = 1/2 + ½·2/3 + ½·1/2 = 13/12. H = 3: after a success, re-pulling gives
2/3 + ⅔·3/4 + ⅓·1/2 = 4/3 (switching gives 7/6); after a failure, switching gives
1/2 + ½·2/3 + ½·1/3 = 1 (staying gives 5/6); V = 1/2 + ½·4/3 + ½·1 = 5/3.

    >>> bayes_optimal_bandit(2, 2, exact=True).value
    Fraction(13, 12)
    >>> bayes_optimal_bandit(2, 3, exact=True).value
    Fraction(5, 3)

Size: the table holds every count vector of total ≤ H, C(H + 2K, 2K) states, up to
:data:`MAX_STATES` (K = 2 reaches it at H ≈ 64, K = 3 at H ≈ 27); beyond, or with
``tables=False``, the problem is solved one layer of beliefs at a time (:mod:`.layered`)
and only the empty belief's values and policy are kept.

References:
  D. A. Berry and B. Fristedt, *Bandit Problems: Sequential Allocation of Experiments*,
  Chapman & Hall 1985.  M. O. Duff, *Optimal Learning: Computational procedures for
  Bayes-adaptive Markov decision processes*, PhD thesis, UMass Amherst 2002.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import comb
from numbers import Integral

import numpy as np
import scipy.sparse as sp

from ..mdp import TabularMDP, to_fraction
from .gittins import gittins_index, gittins_table
from .layered import layer_offsets, layer_rank, layer_states, layered_values

__all__ = ["MAX_STATES", "TIE_RTOL", "BayesBandit", "belief_states", "belief_index",
           "n_belief_states", "bayes_optimal_bandit", "bayes_optimal_dependent", "belief_mdp",
           "gittins_index", "gittins_table"]

#: Largest belief table built (states of total ≤ H): C(H + 2K, 2K) ≤ MAX_STATES.
MAX_STATES = 2_000_000
#: Float ties: Q[c, k] is optimal when Q[c, k] ≥ maxₖ' Q[c, k'] − TIE_RTOL·max(1, |V(c)|).
TIE_RTOL = 1e-12
FAMILIES = ("independent", "dependent")


# ---- validation ---------------------------------------------------------------------------
def _int_arg(x, name: str, lo: int) -> int:
    if isinstance(x, bool) or not isinstance(x, Integral) or x < lo:
        raise ValueError(f"{name} must be an integer >= {lo}; got {x!r}")
    return int(x)


def n_belief_states(n_arms: int, horizon: int) -> int:
    """C(H + 2K, 2K): the number of count vectors (2K non-negative ints) of total ≤ H."""
    K, H = _int_arg(n_arms, "n_arms", 1), _int_arg(horizon, "horizon", 0)
    return comb(H + 2 * K, 2 * K)


def _check_size(K: int, H: int) -> int:
    n = n_belief_states(K, H)
    if n > MAX_STATES:
        raise ValueError(f"n_arms={K}, horizon={H} give {n:,} belief states, more than "
                         f"MAX_STATES={MAX_STATES:,} for the full table; tables=False solves "
                         "layer by layer (the value and the first decision only)")
    return n


def _prior(prior, K: int, exact: bool, per_arm: bool = True) -> np.ndarray:
    """(K, 2) float64, or Fractions (object) when exact; every entry finite and > 0."""
    raw = np.asarray(prior, dtype=object if exact else None)
    try:
        f = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"prior must be numeric (alpha, beta) pairs; got {prior!r}") from None
    if f.shape == (2,):
        f, raw = np.broadcast_to(f, (K, 2)), np.broadcast_to(raw, (K, 2))
    elif not per_arm or f.shape != (K, 2):
        want = "(2,) = (alpha, beta)" + ("" if not per_arm else f" or ({K}, 2) per arm")
        raise ValueError(f"prior must have shape {want}; got shape {f.shape}")
    bad = ~np.isfinite(f) | ~(f > 0)
    if bad.any():
        k, j = (int(i) for i in np.argwhere(bad)[0])
        raise ValueError(f"prior[{k}, {j}] ({'alpha' if j == 0 else 'beta'}) = {f[k, j]!r} "
                         f"must be finite and > 0")
    if not exact:
        return np.array(f, dtype=np.float64)
    out = np.empty((K, 2), dtype=object)
    for i in np.ndindex(K, 2):
        out[i] = to_fraction(raw[i])
    return out


# ---- the state table and its ranking ------------------------------------------------------
def belief_states(n_arms: int, horizon: int) -> np.ndarray:
    """Every belief state of total ≤ H: (n, K, 2) int64, n = C(H + 2K, 2K).

    Ordered by total t = Σ counts, then lexicographically in the flattened
    (s₁, f₁, …, s_K, f_K); row 0 is the empty belief. Raises ValueError above MAX_STATES.

      >>> belief_states(1, 1).reshape(-1, 2).tolist()
      [[0, 0], [0, 1], [1, 0]]
    """
    K, H = _int_arg(n_arms, "n_arms", 1), _int_arg(horizon, "horizon", 0)
    _check_size(K, H)
    out = np.concatenate([layer_states(K, t) for t in range(H + 1)]).astype(np.int64)
    out.setflags(write=False)
    return out


def _rank(flat: np.ndarray, H: int) -> np.ndarray:
    """Row of each m-vector (…, m) in the belief_states order (no validation): the
    C(t − 1 + m, m) vectors of smaller total t, then its lexicographic rank within its layer
    (:func:`~mesabase.theory.bandits.layered.layer_rank`, the hockey-stick identity)."""
    t = flat.sum(axis=-1)
    return layer_offsets(flat.shape[-1], t) + layer_rank(flat, t)


def belief_index(counts, n_arms: int, horizon: int) -> np.ndarray:
    """Rows (…,) of ``counts`` (…, K, 2) in the :func:`belief_states` order of (K, H).

    Vectorised ranking (see :func:`_rank`); ValueError for a wrong shape, a non-integer
    dtype, a negative count or a total above the horizon.
    """
    c = np.asarray(counts)
    K, H = n_arms, horizon
    if c.ndim < 2 or c.shape[-2:] != (K, 2):
        raise ValueError(f"counts must have shape (..., {K}, 2); got {c.shape}")
    if not (np.issubdtype(c.dtype, np.integer) or c.size == 0):
        raise ValueError(f"counts must be integers; got dtype {c.dtype}")
    flat = c.reshape(c.shape[:-2] + (2 * K,)).astype(np.int64)
    if (flat < 0).any():
        i = tuple(int(j) for j in np.argwhere(flat < 0)[0])
        raise ValueError(f"counts must be >= 0; got {int(flat[i])} at flat index {i}")
    tot = flat.sum(axis=-1)
    if (tot > H).any():
        i = tuple(int(j) for j in np.argwhere(np.atleast_1d(tot > H))[0])
        raise ValueError(f"counts total {int(np.atleast_1d(tot)[i])} (at {i}) exceeds "
                         f"the horizon {H}: outside the belief table")
    return _rank(flat, H)


# ---- the solved problem -------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class BayesBandit:
    """The Bayes-optimal solution of a Bernoulli bandit over its belief table.

    Fields (n = C(H + 2K, 2K) belief states in :func:`belief_states` order):
      n_arms, horizon: K and H.
      prior: (K, 2) (αₖ, βₖ) — float64, or Fractions when ``exact``. For the dependent
        family it is [[α, β], [β, α]] (the marginal prior of p₂ = 1 − p₁ is Beta(β, α)).
      exact: whether V and Q are Fractions.
      family: "independent" or "dependent".
      states: (n, K, 2) int64 count vectors.
      V: (n,) Bayes-optimal expected reward-to-go from each state (H − t pulls left).
      Q: (n, K) expected reward-to-go pulling arm k first, then acting optimally.
      optimal: (n, K) bool argmax set (exact equality when exact, else TIE_RTOL).
      policy: (n, K) float64, uniform over the optimal set.
      value: V at the empty belief, the Bayes-optimal expected total reward.
      tables: True when states/V/Q/optimal/policy cover every belief state; False when
        the problem was solved layer by layer (:mod:`.layered`, ``tables=False``, the
        default above MAX_STATES) and they hold the empty belief only (one row).

    It unpacks as ``(value, policy)``, the two things the Bayes-optimal solution is asked
    for: ``value, policy = bayes_optimal_bandit(2, 2, exact=True)`` gives 13/12 and the
    (n, K) policy over the belief states.
    """

    n_arms: int
    horizon: int
    prior: np.ndarray
    exact: bool
    family: str
    states: np.ndarray
    V: np.ndarray
    Q: np.ndarray
    optimal: np.ndarray
    policy: np.ndarray
    value: float | Fraction
    tables: bool = True

    def index(self, counts) -> np.ndarray:
        """Rows of ``counts`` (…, K, 2), non-negative ints of total ≤ H, in the table: (…,)
        (:func:`belief_index`).

          >>> b = bayes_optimal_bandit(2, 3)
          >>> int(b.index([[1, 0], [0, 2]])), b.states[b.index([[1, 0], [0, 2]])].tolist()
          (25, [[1, 0], [0, 2]])
        """
        idx = belief_index(counts, self.n_arms, self.horizon)
        if not self.tables and np.any(idx):
            raise ValueError("this solution keeps the empty belief only (solved layer by "
                             "layer, tables=False); solve with tables=True for every state "
                             f"(at most MAX_STATES={MAX_STATES:,} states)")
        return idx

    def action_probs(self, counts) -> np.ndarray:
        """π(k | counts) = ``policy[index(counts)]``: (…, K) float64, rows sum to 1."""
        return self.policy[self.index(counts)]

    def __iter__(self):
        """``(value, policy)``: ``value, policy = bayes_optimal_bandit(...)`` unpacks."""
        return iter((self.value, self.policy))

    def __repr__(self) -> str:
        return (f"BayesBandit(family={self.family!r}, n_arms={self.n_arms}, "
                f"horizon={self.horizon}, exact={self.exact}, "
                + (f"n_states={len(self.states)}, " if self.tables else "tables=False, ")
                + f"value={self.value})")


def _means(family: str, prior: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Posterior means mₖ (L, K) at the counts c (L, K, 2) (object ints when exact)."""
    if family == "independent":
        a = prior[:, 0] + c[..., 0]
        return a / (a + prior[:, 1] + c[..., 1])
    a, b = prior[0]
    m1 = (a + c[:, 0, 0] + c[:, 1, 1]) / (a + b + c.sum(axis=(1, 2)))
    return np.stack([m1, 1 - m1], axis=1)


def _successors(c: np.ndarray, H: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows of c + e_{k,s} and c + e_{k,f}: two (L, K) int arrays."""
    L, K, _ = c.shape
    out = []
    for j in (0, 1):
        nxt = np.repeat(c[:, None], K, axis=1)  # (L, K, K, 2)
        nxt[:, np.arange(K), np.arange(K), j] += 1
        out.append(_rank(nxt.reshape(L, K, 2 * K), H))
    return out[0], out[1]


def _solve(family: str, K: int, H: int, prior: np.ndarray, exact: bool) -> BayesBandit:
    states = belief_states(K, H)
    n = len(states)
    m = 2 * K
    offsets = [comb(t - 1 + m, m) if t else 0 for t in range(H + 2)]
    if exact:
        zero = Fraction(0)
        V = np.full(n, zero, dtype=object)
        Q = np.full((n, K), zero, dtype=object)
    else:
        V, Q = np.zeros(n), np.zeros((n, K))
    for t in range(H - 1, -1, -1):
        sl = slice(offsets[t], offsets[t + 1])
        c = states[sl]
        js, jf = _successors(c, H)
        mk = _means(family, prior, c.astype(object) if exact else c)
        Q[sl] = mk * (1 + V[js]) + (1 - mk) * V[jf]
        V[sl] = Q[sl].max(axis=1)
    if exact:
        optimal = np.asarray(Q == V[:, None], dtype=bool)
    else:
        optimal = Q >= V[:, None] - TIE_RTOL * np.maximum(1.0, np.abs(V[:, None]))
    policy = optimal / optimal.sum(axis=1, keepdims=True)
    for a in (prior, V, Q, optimal, policy):
        a.setflags(write=False)
    value = V[0] if exact else float(V[0])
    return BayesBandit(n_arms=K, horizon=H, prior=prior, exact=exact, family=family,
                       states=states, V=V, Q=Q, optimal=optimal, policy=policy, value=value)


def _root_only(family: str, K: int, H: int, prior: np.ndarray, exact: bool) -> BayesBandit:
    """The layered solution (:mod:`.layered`): tables of the empty belief only."""
    value, q0 = layered_values(family, K, H, prior, exact, _means)
    Q = q0[None, :]
    V = np.array([value], dtype=object if exact else np.float64)
    if exact:
        optimal = np.asarray(Q == V[:, None], dtype=bool)
    else:
        optimal = Q >= V[:, None] - TIE_RTOL * np.maximum(1.0, np.abs(V[:, None]))
    policy = optimal / optimal.sum(axis=1, keepdims=True)
    states = np.zeros((1, K, 2), dtype=np.int64)
    for a in (prior, V, Q, optimal, policy, states):
        a.setflags(write=False)
    return BayesBandit(n_arms=K, horizon=H, prior=prior, exact=exact, family=family,
                       states=states, V=V, Q=Q, optimal=optimal, policy=policy, value=value,
                       tables=False)


def _tables(tables, K: int, H: int) -> bool:
    """Whether to build the full table: ``tables`` as given (True checks MAX_STATES), or,
    for None, whenever it fits."""
    if tables is None:
        return n_belief_states(K, H) <= MAX_STATES
    if not isinstance(tables, bool):
        raise ValueError(f"tables must be True, False or None; got {tables!r}")
    if tables:
        _check_size(K, H)
    return tables


def bayes_optimal_bandit(n_arms: int, horizon: int, prior=(1, 1),
                         exact: bool = False, tables: bool | None = None) -> BayesBandit:
    """The Bayes-optimal policy and value of the K-armed Bernoulli bandit, horizon H.

    Independent arms pₖ ~ Beta(αₖ, βₖ); see the module docstring for the Bellman equation.
    ``value`` is the Bayes-optimal expected total reward E[Σₜ rₜ] over H pulls.

    Args:
      n_arms: K ≥ 1.
      horizon: H ≥ 0 pulls.
      prior: (α, β) for every arm, or (K, 2) per-arm (αₖ, βₖ); finite and > 0.
      exact: exact rationals throughout, else float64.
      tables: True: V, Q and the policy at every belief state (at most MAX_STATES of
        them); False: backward induction one layer at a time (:mod:`.layered`), keeping
        the empty belief only — memory for the largest layer, C(H + 2K − 1, 2K − 1)
        states; None (default): the full table when it fits, else layered.

    Raises:
      ValueError: a bad argument (named, with its value), or tables=True above MAX_STATES.

    Example (K = 1: no choice, V = H·α/(α + β)):
      >>> bayes_optimal_bandit(1, 4, prior=(2, 3), exact=True).value
      Fraction(8, 5)
    """
    K, H = _int_arg(n_arms, "n_arms", 1), _int_arg(horizon, "horizon", 0)
    if not isinstance(exact, bool):
        raise ValueError(f"exact must be a bool; got {exact!r}")
    full = _tables(tables, K, H)
    pr = _prior(prior, K, exact)
    return (_solve if full else _root_only)("independent", K, H, pr, exact)


def bayes_optimal_dependent(horizon: int, prior=(1, 1), exact: bool = False,
                            tables: bool | None = None) -> BayesBandit:
    """The Bayes-optimal two-arm bandit with p₂ = 1 − p₁, p₁ ~ Beta(α, β).

    Same 4-count belief states as the independent K = 2 problem; p₁'s posterior is
    Beta(α + s₁ + f₂, β + f₁ + s₂), so m₁ = (α + s₁ + f₂)/(α + β + t), m₂ = 1 − m₁.
    By symmetry of the uniform prior, H = 2 gives 1/2 + ½·2/3 + ½·2/3 = 7/6 (after a
    failure on arm 1, arm 2 has mean 2/3):

      >>> bayes_optimal_dependent(2, exact=True).value
      Fraction(7, 6)

    Args:
      horizon: H ≥ 0; prior: (α, β), finite and > 0; exact, tables: as in
        bayes_optimal_bandit.
    """
    H = _int_arg(horizon, "horizon", 0)
    if not isinstance(exact, bool):
        raise ValueError(f"exact must be a bool; got {exact!r}")
    full = _tables(tables, 2, H)
    ab = _prior(prior, 1, exact, per_arm=False)[0]
    pr = np.array([[ab[0], ab[1]], [ab[1], ab[0]]], dtype=object if exact else np.float64)
    return (_solve if full else _root_only)("dependent", 2, H, pr, exact)


def belief_mdp(n_arms: int, horizon: int, prior=(1, 1), *, family: str = "independent",
               exact: bool = False) -> TabularMDP:
    """The same problem as a finite-horizon :class:`TabularMDP`, for cross-checks.

    States are :func:`belief_states` (S = C(H + 2K, 2K)), actions the K arms, γ = 1,
    horizon H, μ0 the empty belief. From c with Σ c < H, arm k moves to c + e_{k,s} with
    probability mₖ(c) and to c + e_{k,f} with 1 − mₖ(c), with R[c, k] = mₖ(c); states of
    total H are absorbing with reward 0. So ``solve(mdp, "backward").V[t, s]`` equals
    ``BayesBandit.V[s]`` for each state s of total t (other entries of V[t] are values of
    states not reachable at time t).

    P is sparse (CSR, (S·K, S)) unless ``exact``, which builds dense Fraction arrays for
    ``solve(mdp, "exact")`` (S²K entries: small problems only). ``family="dependent"``
    needs n_arms = 2 and prior (α, β). ``horizon`` must be ≥ 1 (a TabularMDP's horizon).
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}; got {family!r}")
    K, H = _int_arg(n_arms, "n_arms", 1), _int_arg(horizon, "horizon", 1)
    if not isinstance(exact, bool):
        raise ValueError(f"exact must be a bool; got {exact!r}")
    if family == "dependent":
        if K != 2:
            raise ValueError(f"the dependent family has n_arms=2; got n_arms={K}")
        ab = _prior(prior, 1, exact, per_arm=False)[0]
        pr = np.array([[ab[0], ab[1]], [ab[1], ab[0]]], dtype=object if exact else np.float64)
    else:
        pr = _prior(prior, K, exact)
    S = _check_size(K, H)
    states = belief_states(K, H)
    live = np.flatnonzero(states.sum(axis=(1, 2)) < H)
    c = states[live]
    js, jf = _successors(c, H)
    mk = _means(family, pr, c.astype(object) if exact else c)
    rows = (live[:, None] * K + np.arange(K)).ravel()
    term = np.flatnonzero(states.sum(axis=(1, 2)) == H)
    trows = (term[:, None] * K + np.arange(K)).ravel()
    mu0 = np.zeros(S, dtype=object if exact else np.float64)
    mu0[0] = 1
    if exact:
        P = np.full((S * K, S), Fraction(0), dtype=object)
        R = np.full((S, K), Fraction(0), dtype=object)
        P[rows, js.ravel()] = mk.ravel()
        P[rows, jf.ravel()] = (1 - mk).ravel()
        P[trows, np.repeat(term, K)] = Fraction(1)
        R[live] = mk
        return TabularMDP(P.reshape(S, K, S), R, gamma=Fraction(1), horizon=H, mu0=mu0)
    R = np.zeros((S, K))
    R[live] = mk
    r = np.concatenate([rows, rows, trows])
    col = np.concatenate([js.ravel(), jf.ravel(), np.repeat(term, K)])
    val = np.concatenate([mk.ravel(), (1 - mk).ravel(), np.ones(len(trows))])
    P = sp.csr_array((val, (r, col)), shape=(S * K, S))
    return TabularMDP(P, R, gamma=1.0, horizon=H, mu0=mu0)
