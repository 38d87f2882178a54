"""Optimisation over restricted action sets, and the argmax set of an objective as such a set.

**Restricted optimum.** For a mask ``allowed[s, a]`` (at least one True per state),

    V(s) = max_{a : allowed[s, a]} [ r(s, a) + γ Σ_s' P[s, a, s'] V(s') ]

is the optimal value over the policies with π(a|s) = 0 wherever ``allowed[s, a]`` is False.
It is the ordinary Bellman optimality equation of the *copy MDP*, in which each disallowed
action a in state s is replaced by a copy of the first allowed action c(s):
P'[s, a, ·] = P[s, c(s), ·], r'[s, a] = r[s, c(s)]. Copies add no new choice, so
max_a Q'(s, a) = max_{a allowed} Q(s, a), and the standard exact solvers apply unchanged
(policy iteration: V exact up to floating point). For a finite horizon H the mask is applied
inside backward induction, and may differ per step (``allowed[t, s, a]``). Deterministic
Markov policies attain the restricted optimum, as they do the unrestricted one.

**The argmax set as a mask.** An objective J(π) = μ0ᵀ V^π depends on π only at the states π
reaches from μ0 (with γ = 0, or at step t of a horizon, only at the states reachable at that
step). Let O = ``optimal`` be the per-state optimal actions and 𝓡 the states reachable from
supp μ0 using actions in O. Every policy using O on 𝓡, with anything elsewhere, reaches only
𝓡 and so attains the optimum; conversely an optimal policy uses O on the states it reaches.
The mask

    allowed[s, ·] = O[s, ·]  if s ∈ 𝓡 (and s was visited in the history),  all True otherwise

describes the rectangular set 𝒜 of those policies. The exact argmax set is not rectangular
(a policy that avoids s is free at s even if s ∈ 𝓡), but for any reward-form quantity
evaluated *in the same MDP from the same μ0* the min and max over 𝒜 equal those over the
exact set: an optimal π can be changed on 𝓡 minus the states it reaches without changing
what it reaches. Evaluated in another environment (deployment), 𝒜 is a subset of the exact
set, so its range is an inner bound: "some maximiser shows B" decided over 𝒜 is sound.

Reference: M. L. Puterman, *Markov Decision Processes*, Wiley 1994, §6.2 (restricted
action sets A_s are part of the general model) and §4.4 (finite horizon).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..episodic import is_episodic
from ..evaluation import bellman_q, reward_array
from ..mdp import InvalidMDP, TabularMDP
from ..solution import Solution
from ..solvers.batch import MDPBatch, solve_batch
from ..solvers.certificate import backward_bound, covering_set, make_solution, mdp_rounding
from ..solvers.iteration import solve

__all__ = ["check_allowed", "copy_mdp", "solve_restricted", "restricted_optima", "reachable",
           "argmax_set_allowed"]

#: Batched solves build (chunk, S, A, S) copy models; chunks hold about this many entries.
CHUNK_ENTRIES = 2_000_000


def check_allowed(allowed, shape: tuple[int, ...]) -> np.ndarray:
    """``allowed`` as a bool array whose trailing axes are ``shape``, with a True in every
    row; raises naming the first state with no allowed action."""
    m = np.asarray(allowed)
    if m.dtype != bool:
        raise InvalidMDP(f"allowed must be a boolean array; got dtype {m.dtype}")
    if m.ndim < len(shape) or m.shape[m.ndim - len(shape):] != tuple(shape):
        raise InvalidMDP(f"allowed must have trailing shape {tuple(shape)}; got {m.shape}")
    empty = ~m.any(axis=-1)
    if empty.any():
        i = tuple(int(j) for j in np.argwhere(empty)[0])
        raise InvalidMDP(f"allowed[{', '.join(map(str, i))}, :] has no allowed action")
    return m


def _copy_index(allowed: np.ndarray) -> np.ndarray:
    """c[..., s, a] = a where allowed, else the first allowed action of s."""
    first = np.argmax(allowed, axis=-1)[..., None]
    return np.where(allowed, np.arange(allowed.shape[-1]), first)


def copy_mdp(mdp: TabularMDP, allowed, reward=None) -> TabularMDP:
    """The copy MDP of ``allowed`` (module docstring), with reward ``reward`` (default
    ``mdp.R``): every disallowed (s, a) becomes a copy of s's first allowed action."""
    S, A = mdp.n_states, mdp.n_actions
    m = check_allowed(allowed, (S, A))
    if m.ndim != 2:
        raise InvalidMDP(f"copy_mdp takes one (S, A) mask; got shape {m.shape}")
    m = check_allowed(m & mdp.allowed, (S, A))  # the MDP's own mask too
    r = reward_array(mdp, reward)
    c = _copy_index(m)
    rows = (np.arange(S)[:, None] * A + c).reshape(-1)
    Pm = mdp.P_matrix[rows]
    P = Pm if mdp.is_sparse else np.asarray(Pm).reshape(S, A, S)
    return TabularMDP(P, r[np.arange(S)[:, None], c], gamma=mdp.gamma, horizon=mdp.horizon,
                      mu0=mdp.mu0)


def _masked_backward(mdp: TabularMDP, allowed: np.ndarray, r: np.ndarray, per_step: bool):
    """Backward induction over M masks at once: allowed (M, S, A) or (M, H, S, A).
    Returns V (M, H+1, S) and Q (M, H, S, A) with −inf at disallowed pairs."""
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    M = allowed.shape[0]
    V = np.zeros((M, H + 1, S))
    V[:, H] = mdp.terminal
    Q = np.empty((M, H, S, A))
    for t in range(H - 1, -1, -1):
        PV = np.asarray(mdp.P_matrix @ V[:, t + 1].T).T.reshape(M, S, A)
        mask = allowed[:, t] if per_step else allowed
        Q[:, t] = np.where(mask, r + mdp.gamma * PV, -np.inf)
        V[:, t] = Q[:, t].max(axis=-1)
    return V, Q


def solve_restricted(mdp: TabularMDP, allowed, reward=None, tol: float = 1e-10,
                     method: str = "pi") -> Solution:
    """max over policies with π(a|s) = 0 where not ``allowed[s, a]``, exactly.

    The MDP's own action mask (``mdp.allowed``) applies as well: the restriction is to
    ``allowed & mdp.allowed``.

    Args:
      mdp: a :class:`TabularMDP` (dense or sparse; γ = 1 episodic problems must stay well
        posed under the restriction).
      allowed: bool (S, A), at least one True per state; for a finite horizon also
        (H, S, A), one mask per step.
      reward: r[s, a] to maximise (default ``mdp.R``); pass −B to minimise B.
      tol: the tolerance of the returned optimal-action sets.
      method: the solver of the copy MDP for an infinite horizon (any float method of
        :func:`~mesabase.theory.solve`: ``"pi"``, ``"vi"``, ``"lp"``, ``"cvxpy"``,
        ``"auto"``); a finite horizon always uses masked backward induction.

    Returns:
      A :class:`Solution` of the restricted problem: ``Q`` is −inf at disallowed pairs,
      ``optimal ⊆ allowed``, ``policy`` uniform over ``optimal``; certificate and the
      set's width ``tol`` as for :func:`~mesabase.theory.solve` (rounding included).
      Infinite horizon: ``method`` on :func:`copy_mdp` (method ``"restricted:<method>"``);
      finite: masked backward induction (``"restricted:backward"``).

    Example:
      >>> import numpy as np
      >>> mdp = TabularMDP(np.ones((1, 2, 1)), [[1.0, 2.0]], gamma=0.5)
      >>> sol = solve_restricted(mdp, np.array([[True, False]]))
      >>> sol.V.tolist(), sol.optimal.tolist()
      ([2.0], [[True, False]])
    """
    S, A = mdp.n_states, mdp.n_actions
    r = reward_array(mdp, reward)
    m = check_allowed(allowed, (S, A))
    m = check_allowed(m & mdp.allowed, (S, A))
    if m.ndim > 3:
        raise InvalidMDP(f"allowed must be (S, A) or (H, S, A); got {m.shape}")
    per_step = m.ndim == 3
    if per_step and (mdp.horizon is None or m.shape[0] != mdp.horizon):
        raise InvalidMDP(f"a per-step mask (H, S, A) needs a finite horizon H = {mdp.horizon}; "
                         f"got shape {m.shape}")
    if mdp.horizon is not None:
        V, Q = _masked_backward(mdp, m[None], r, per_step)
        V, Q = V[0], Q[0]
        bound = backward_bound(mdp_rounding(mdp, r), V)  # rounding only (solvers, item 5)
        return make_solution(V, Q, tol, "restricted:backward", mdp.horizon, 0.0, bound, bound,
                         np.argmax(Q, axis=-1))
    if method == "exact":
        raise InvalidMDP("solve_restricted has no exact mode; use a float method")
    sol = solve(copy_mdp(mdp, m, r), method=method, tol=tol)
    Q = np.where(m, bellman_q(mdp, sol.V, r), -np.inf)
    actions = _copy_index(m)[np.arange(S), sol.actions]
    # sol.tol is the certified width for the copy MDP's Q, whose allowed entries are these
    optimal, policy, width = covering_set(Q, sol.tol, actions)
    for a in (Q, optimal, policy, actions):
        a.setflags(write=False)
    return dataclasses.replace(sol, Q=Q, optimal=optimal, policy=policy, actions=actions,
                               method=f"restricted:{method}", tol=width)


def restricted_optima(mdp: TabularMDP, allowed, reward=None, *, per_step: bool = False):
    """J* = max_π μ0ᵀ V^π (V_0 for a horizon) over policies restricted to each mask.

    ``allowed`` has shape (..., S, A) — or (..., H, S, A) with ``per_step=True`` for a
    finite horizon — and the result has shape ``allowed.shape[:-2]`` (``[:-3]``). Dense
    γ < 1 problems are solved in chunks by batched policy iteration on the copy MDPs
    (:func:`~mesabase.theory.solve_batch`), finite horizons by masked backward induction,
    and the rest (sparse, episodic) one mask at a time with :func:`solve_restricted`.
    Minimise by passing −reward and negating.
    """
    S, A = mdp.n_states, mdp.n_actions
    r = reward_array(mdp, reward)
    trailing = (mdp.horizon, S, A) if per_step else (S, A)
    if per_step and mdp.horizon is None:
        raise InvalidMDP("per_step=True needs a finite-horizon MDP")
    m = check_allowed(allowed, trailing)
    m = check_allowed(m & mdp.allowed, trailing)
    batch_shape = m.shape[:m.ndim - len(trailing)]
    flat = m.reshape((-1,) + trailing)
    if mdp.horizon is not None:
        V, _ = _masked_backward(mdp, flat, r, per_step)
        return (V[:, 0] @ mdp.mu0).reshape(batch_shape)
    if mdp.is_sparse or is_episodic(mdp):
        out = np.array([mdp.mu0 @ solve_restricted(mdp, f, r).V for f in flat])
        return out.reshape(batch_shape)
    out = np.empty(flat.shape[0])
    step = max(1, CHUNK_ENTRIES // (S * A * S))
    states = np.arange(S)[None, :, None]
    for lo in range(0, flat.shape[0], step):
        c = _copy_index(flat[lo:lo + step])
        batch = MDPBatch(mdp.P[states, c], r[states, c], gamma=mdp.gamma, mu0=mdp.mu0)
        out[lo:lo + step] = solve_batch(batch, "pi").V @ mdp.mu0
    return out.reshape(batch_shape)


def reachable(P, allowed, mu0, *, gamma=None, horizon=None) -> np.ndarray:
    """States reachable from supp μ0 using only ``allowed`` actions (positive probability).

    Args:
      P: ``P[..., s, a, s']`` (a batch of models allowed in front).
      allowed: bool (..., S, A), or (..., H, S, A) when ``horizon`` is given.
      mu0: (..., S).
      gamma: with ``gamma == 0`` only supp μ0 (at step 0) counts: later steps carry no
        weight in the return.
      horizon: H for per-step reachability.

    Returns:
      bool (..., S): the closure of supp μ0 under s → s' for an allowed a with
      P[s, a, s'] > 0; with a horizon, (..., H, S): the states reachable at step t.
    """
    P = np.asarray(P, dtype=np.float64)
    m = np.asarray(allowed, dtype=bool)
    reach = np.asarray(mu0, dtype=np.float64) > 0
    myopic = gamma is not None and float(gamma) == 0.0

    def edge(mask):
        return np.einsum("...sa,...sat->...st", mask.astype(float), P) > 0

    if horizon is not None:
        steps = [reach]
        for t in range(int(horizon) - 1):
            nxt = np.einsum("...s,...st->...t", steps[-1].astype(float), edge(m[..., t, :, :]))
            steps.append((nxt > 0) & (not myopic))
        return np.stack(np.broadcast_arrays(*steps), axis=-2)
    if myopic:
        return np.broadcast_to(reach, m.shape[:-1]).copy()
    G = edge(m)
    reach = np.broadcast_to(reach, m.shape[:-1]).copy()
    for _ in range(P.shape[-1]):
        new = reach | (np.einsum("...s,...st->...t", reach.astype(float), G) > 0)
        if np.array_equal(new, reach):
            break
        reach = new
    return reach


def argmax_set_allowed(optimal, visits=None, *, P=None, mu0=None, gamma=None,
                       horizon=None) -> np.ndarray:
    """The mask of the argmax set of an objective: its optimal actions where it constrains
    the policy, every action where it does not.

        allowed[s, ·] = optimal[s, ·]   if s was visited and s ∈ 𝓡,   all True otherwise

    𝓡 is :func:`reachable` under ``P`` from μ0 using optimal actions (module docstring);
    without ``P`` every state counts as reachable. Visited: Σ_a visits[s, a] > 0 (the state
    was the source of a recorded transition); without ``visits`` every state counts. For a
    history objective pass the empirical model's ``visits``, ``P``, ``mu0`` and ``gamma``
    (e.g. ``argmax_set_allowed(sol.optimal, m.visits, P=m.P, mu0=m.mu0, gamma=m.gamma)``
    for an :class:`~mesabase.theory.EmpiricalMDP` m): the data say nothing at unvisited
    states, whatever the model's rule or prior puts there, and nothing the maximiser never
    reaches matters to L_t — so any action there is a maximiser's action.

    Args:
      optimal: bool (..., S, A) optimal-action sets, or (..., H, S, A) with ``horizon``.
      visits: counts (..., S, A) or None.
      P, mu0, gamma, horizon: the objective's model, for :func:`reachable`.

    Example:
      >>> import numpy as np
      >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
      >>> optimal = np.array([[True, False], [False, True]])   # stay in 0; 1 is never reached
      >>> argmax_set_allowed(optimal, P=P, mu0=np.array([1.0, 0.0])).tolist()
      [[True, False], [True, True]]
    """
    opt = np.asarray(optimal, dtype=bool)
    constrained = np.ones(opt.shape[:-1], dtype=bool)
    if visits is not None:
        seen = np.asarray(visits).sum(axis=-1) > 0
        constrained &= seen[..., None, :] if horizon is not None else seen
    if P is not None:
        if mu0 is None:
            raise ValueError("argmax_set_allowed: pass mu0 together with P")
        constrained &= reachable(P, opt, mu0, gamma=gamma, horizon=horizon)
    return np.where(constrained[..., None], opt, True)
