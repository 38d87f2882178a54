"""History objectives L_t(π; H_t) and their exact maximisers π*_t (shared/seeds/003).

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

``"log"`` — the seed's literal surrogate L(π) = Σ_τ r_τ log π(a_τ|s_τ) = Σ_{s,a} c(s,a)
  log π(a|s), with c(s, a) the summed reward of (s, a). Per state, when every c(s, ·) ≥ 0
  and Σ_a c(s, a) > 0 the unique maximiser is the reward-weighted frequency
  π(a|s) = c(s, a) / Σ_b c(s, b) (Lagrange; mesabase.proofs has the derivation); when all
  c(s, ·) = 0 every policy row is optimal; when some c(s, a) < 0 the supremum is +∞
  (send π(a|s) → 0): the result has ``bounded == False`` and its policy is the limit
  policy — zero mass on negative-sum actions, the rest reward-weighted over the positive
  sums (uniform over the zero-sum actions if none is positive, and over the largest sums
  if all are negative). Nothing is clipped.

Batching: a history with N seeds gives one :class:`Solution` with a leading seed axis
(``V`` (N, S), ``Q``/``optimal``/``policy`` (N, S, A), ``bounded`` (N,)); a single-seed
history (``History.from_arrays`` with 1-D arrays, or ``history.seed(i)``) gives an
unbatched one.
"""

from __future__ import annotations

import numpy as np

from .empirical import empirical_counts, empirical_mdp
from .history import History
from .solution import Solution, optimal_set
from .solvers import solve

__all__ = ["history_optimal", "OBJECTIVES", "MAX_ENUMERATED", "log_optimal", "is_scores"]

OBJECTIVES = ("ce", "is", "log")
#: Largest number of deterministic policies the "is" objective enumerates on an MDP.
MAX_ENUMERATED = 200_000


def _freeze(*arrays):
    for a in arrays:
        a.setflags(write=False)


def _pack(V, Q, optimal, policy, method, bounded, tol, single) -> Solution:
    actions = np.argmax(policy, axis=-1)
    bounded = np.asarray(bounded, dtype=bool)
    if single:
        V, Q, optimal, policy, actions = V[0], Q[0], optimal[0], policy[0], actions[0]
        bounded = bool(bounded[0])
    _freeze(V, Q, optimal, policy, actions)
    return Solution(V=V, Q=Q, optimal=optimal, policy=policy, actions=actions, method=method,
                    iterations=1, residual=0.0, error_bound=0.0, tol=float(tol),
                    bounded=bounded)


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


def is_scores(states, actions, rewards, probs, dones, n_states, n_actions, gamma):
    """Per-decision IS objective L(π)·E for every deterministic policy of one seed.

    Returns ``(policies (M, S), scores (M,), n_episodes)`` with M = A^S.
    """
    S, A = n_states, n_actions
    M = A**S
    if M > MAX_ENUMERATED:
        raise ValueError(f'objective "is" on an MDP enumerates A^S = {A}^{S} = {M} '
                         f"deterministic policies; the limit is {MAX_ENUMERATED}")
    grids = np.indices((A,) * S).reshape(S, M).T             # (M, S) every policy
    ep = _episodes(dones)
    T = states.size
    if T == 0:
        return grids, np.zeros(M), 0
    first = np.concatenate([[True], ep[1:] != ep[:-1]])
    start_idx = np.maximum.accumulate(np.where(first, np.arange(T), 0))
    k = np.arange(T) - start_idx                              # step within the episode
    logw = np.cumsum(-np.log(probs))
    logw = logw - np.where(start_idx > 0, logw[start_idx - 1], 0.0)
    coef = gamma**k * rewards * np.exp(logw)                  # γᵏ r_k Π 1/b_j
    scores = np.zeros(M)
    chunk = max(1, 5_000_000 // max(T, 1))
    for lo in range(0, M, chunk):
        pol = grids[lo:lo + chunk]
        mism = (pol[:, states] != actions[None, :]).astype(np.int64)
        cum = np.cumsum(mism, axis=1)
        before = np.where(start_idx > 0, cum[:, start_idx - 1], 0)
        consistent = (cum - before) == 0
        scores[lo:lo + chunk] = consistent @ coef
    return grids, scores, int(ep[-1]) + 1


def history_optimal(history: History, objective: str = "ce", *, n_states: int,
                    n_actions: int, gamma: float = 0.9, horizon=None, tol: float = 1e-10,
                    **model) -> Solution:
    """π*_t = argmax_π L_t(π; H_t), exactly, for ``objective`` in ``"ce"``, ``"is"``, ``"log"``.

    Args:
      history: the :class:`History` (all of it: pass ``history[:t]`` for the first t steps).
      objective: which L_t (see the module docstring).
      n_states, n_actions: S and A.
      gamma, horizon: the discount (and horizon) of ``"ce"``'s empirical model and of
        ``"is"``'s γᵏ; unused by ``"log"``.
      tol: optimal-action sets are the actions within ``tol`` of the best.
      **model: passed to :func:`~mesabase.theory.empirical_mdp` for ``"ce"`` (``prior``,
        ``reward_prior``, ``reward_weight``, ``unvisited``).

    Returns:
      A :class:`Solution`, with a leading seed axis unless the history is single-seed.
      ``"ce"``: the empirical model's Solution. ``"is"``: ``V[s]`` the best IS estimate
      of the return (the same for every s), ``Q[s, a]`` the best estimate among
      policies taking a in s. ``"log"``: ``V[s]`` the maximised per-state objective
      (+∞ where unbounded), ``Q[s, a] = c(s, a)`` the reward sums, ``bounded``.

    Example:
      >>> h = History.from_arrays([0, 0, 0], [0, 1, 1], [1.0, 2.0, 1.0], [0, 0, 0], [.5, .5, .5])
      >>> history_optimal(h, "log", n_states=1, n_actions=2).policy.tolist()
      [[0.25, 0.75]]
      >>> history_optimal(h, "is", n_states=1, n_actions=2).optimal.tolist()
      [[False, True]]
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown objective {objective!r}; choose one of {OBJECTIVES}")
    if objective != "ce" and model:
        raise TypeError(f"objective {objective!r} takes no model arguments: {sorted(model)}")
    S, A = int(n_states), int(n_actions)
    single = history.single
    if objective == "ce":
        mdp = empirical_mdp(history, S, A, gamma=gamma, horizon=horizon, **model)
        return solve(mdp, tol=tol)
    counts, rsum = empirical_counts(history, S, A)  # validates the indices
    N = history.n_seeds
    if objective == "log":
        policy, optimal, value, bounded = log_optimal(rsum)
        return _pack(value, rsum, optimal, policy, "log", bounded.all(axis=-1), tol, single)
    # "is"
    V = np.empty((N, S))
    Q = np.empty((N, S, A))
    for n in range(N):
        if S == 1:  # a bandit: linear in π
            T = max(len(history), 1)
            w = np.bincount(history.actions[n], weights=history.rewards[n] / history.probs[n],
                            minlength=A) / T
            Q[n, 0] = w
        else:
            pols, scores, E = is_scores(history.states[n], history.actions[n],
                                        history.rewards[n], history.probs[n],
                                        history.dones[n], S, A, gamma)
            scores = scores / max(E, 1)
            for s in range(S):
                for a in range(A):
                    Q[n, s, a] = scores[pols[:, s] == a].max()
        V[n] = Q[n].max(axis=-1)
    optimal, policy = optimal_set(Q, tol)
    return _pack(V, Q, optimal, policy, "is", np.ones(N, dtype=bool), tol, single)
