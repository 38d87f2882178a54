"""Undiscounted episodic problems (γ = 1, no horizon): when are their values defined?

With γ = 1 the return Σ_t r_t is finite only if the episode ends. mesabase follows the
stochastic-shortest-path setting of Bertsekas & Tsitsiklis (1991): a *terminal* state is
absorbing with zero reward under every action (``P[s, a, s] = 1`` and ``R[s, a] = 0``
for all a); its value is 0 and it ends the episode. The problem is *well posed* when

1. from every state some policy reaches a terminal state with probability 1 (a
   *proper* policy exists), and
2. every policy that can avoid termination forever collects an infinitely negative
   return, so the optimum is attained by a proper policy.

Condition 2 is checked by a sufficient rule: let C be the largest set of non-terminal
states that some policy can stay in forever (every s ∈ C has an action whose successors
all lie in C); every such *trap* action (s, a) must have ``R[s, a] < 0``. Textbook
gridworlds (−1 per step, walls that bounce back) satisfy it. Problems that fail either
condition raise :class:`IllPosedMDP` naming the states and actions at fault, instead of
a singular linear system.

Reference: D. P. Bertsekas and J. N. Tsitsiklis, "An analysis of stochastic shortest
path problems", Math. Oper. Res. 16(3), 1991.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from .mdp import InvalidMDP, TabularMDP

__all__ = ["IllPosedMDP", "terminal_states", "check_episodic", "policy_terminates"]


class IllPosedMDP(InvalidMDP):
    """The values of this MDP are not defined (γ = 1 and some policy never terminates)."""


def is_episodic(mdp: TabularMDP) -> bool:
    return mdp.horizon is None and mdp.gamma == 1.0


def terminal_states(mdp: TabularMDP) -> np.ndarray:
    """Boolean (S,): absorbing states with zero reward under every (allowed) action."""
    S, A = mdp.n_states, mdp.n_actions
    Pm = mdp.P_matrix
    rows = np.arange(S * A)
    self_p = np.asarray(Pm[rows, np.repeat(np.arange(S), A)]).reshape(S, A)
    absorbing = np.all((self_p >= 1.0 - 1e-12) | ~mdp.allowed, axis=1)
    zero = np.all(mdp.R == 0.0, axis=1)  # R is 0 at disallowed pairs
    bad = absorbing & ~zero
    if is_episodic(mdp) and bad.any():
        s = int(np.argmax(bad))
        a = int(np.argmax(mdp.R[s] != 0))
        raise IllPosedMDP(
            f"state {s} is absorbing with reward R[{s}, {a}] = {mdp.R[s, a]} != 0: "
            "with gamma = 1 its value is infinite"
        )
    return absorbing & zero


def _leaves(mdp: TabularMDP, inside: np.ndarray) -> np.ndarray:
    """(S, A) bool: action a in s puts positive probability outside ``inside``."""
    out = mdp.P_matrix @ (~inside).astype(np.float64)
    return (np.asarray(out) > 0).reshape(mdp.n_states, mdp.n_actions)


def _pattern(mdp: TabularMDP, allowed: np.ndarray) -> sp.csr_array:
    """State graph s → s' over the allowed (s, a) pairs (positive probability)."""
    S, A = mdp.n_states, mdp.n_actions
    Pm = sp.csr_array(mdp.P_matrix)
    keep = sp.diags_array(allowed.reshape(-1).astype(np.float64))
    collapse = sp.csr_array(
        (np.ones(S * A), (np.repeat(np.arange(S), A), np.arange(S * A))), shape=(S, S * A)
    )
    G = collapse @ keep @ Pm
    G.data[:] = 1.0
    G.eliminate_zeros()
    return sp.csr_array(G)


def _distance_to(G: sp.csr_array, targets: np.ndarray) -> np.ndarray:
    """Fewest steps from each state to any target along G (inf where unreachable)."""
    if not targets.any():
        return np.full(G.shape[0], np.inf)
    d = dijkstra(G.T.tocsr(), directed=True, indices=np.flatnonzero(targets),
                 unweighted=True, min_only=True)
    return np.asarray(d)


def check_episodic(mdp: TabularMDP) -> tuple[np.ndarray, np.ndarray]:
    """Check that an undiscounted MDP is well posed; return ``(terminal, proper_actions)``.

    Only allowed actions (``mdp.allowed``) count. ``terminal`` is the bool (S,) mask of
    terminal states; ``proper_actions`` (S,) int is a
    proper deterministic policy: from every state it reaches a terminal state with
    probability 1 (it moves, with positive probability, one step closer to one without
    ever leaving the set of states that can still terminate surely).

    Raises:
      IllPosedMDP: no proper policy from some state, or a policy that loops forever
        without an infinitely negative return exists.
    """
    S = mdp.n_states
    terminal = terminal_states(mdp)
    if not terminal.any():
        raise IllPosedMDP(
            "gamma = 1 with no horizon needs terminal states (absorbing, zero reward) that "
            "end every episode; this MDP has none. Use gamma < 1 or a finite horizon"
        )
    # Almost-sure reachability: shrink U until every state of U reaches T inside U.
    U = np.ones(S, dtype=bool)
    while True:
        allowed = ~_leaves(mdp, U) & U[:, None] & mdp.allowed
        dist = _distance_to(_pattern(mdp, allowed), terminal)
        reach = np.isfinite(dist)
        if (reach == U).all():
            break
        U = reach
    if not U.all():
        stuck = np.flatnonzero(~U)
        raise IllPosedMDP(
            f"with gamma = 1, no policy reaches a terminal state with probability 1 from "
            f"states {stuck[:10].tolist()}{' ...' if stuck.size > 10 else ''}: their values "
            "are not defined. Use gamma < 1 or a finite horizon"
        )
    # A proper policy: an allowed action with a successor one step closer.
    closer = np.asarray(
        mdp.P_matrix @ (dist[:, None] == np.arange(int(dist.max()) + 1)[None, :]).astype(float)
    ).reshape(S, mdp.n_actions, -1)
    target = np.clip(dist.astype(int) - 1, 0, None)
    moves = closer[np.arange(S), :, target] > 0
    moves &= allowed
    moves[terminal] = True
    proper = np.argmax(moves, axis=1)

    # Traps: the largest set C of non-terminal states some policy can stay in forever.
    C = ~terminal
    while True:
        stay = ~_leaves(mdp, C) & C[:, None] & mdp.allowed
        C_new = stay.any(axis=1)
        if (C_new == C).all():
            break
        C = C_new
    trap = stay & (mdp.R >= 0)
    if trap.any():
        s, a = (int(i) for i in np.argwhere(trap)[0])
        raise IllPosedMDP(
            f"with gamma = 1, action {a} in state {s} never leaves the non-terminal states "
            f"{np.flatnonzero(C)[:10].tolist()} and has reward R[{s}, {a}] = {mdp.R[s, a]} >= 0: "
            "a policy that never terminates need not have return -inf, so the values are "
            "not determined (a trap action must have negative reward)"
        )
    return terminal, proper


def policy_terminates(mdp: TabularMDP, P_pi, terminal: np.ndarray) -> None:
    """Raise :class:`IllPosedMDP` unless the chain ``P_pi`` (S, S) reaches a terminal
    state with probability 1 from every state (for a finite chain: with positive
    probability from every state)."""
    G = sp.csr_array(P_pi)
    G = sp.csr_array((G > 0).astype(np.float64))
    dist = _distance_to(G, terminal)
    if not np.isfinite(dist).all():
        bad = np.flatnonzero(~np.isfinite(dist))
        raise IllPosedMDP(
            f"with gamma = 1 this policy never terminates from states "
            f"{bad[:10].tolist()}{' ...' if bad.size > 10 else ''}: its values are infinite "
            "or undefined"
        )
