"""Undiscounted episodic problems (γ = 1, no horizon): when are their values defined?

With γ = 1 the return Σ_t r_t is finite only if the episode ends. mesabase follows the
stochastic-shortest-path setting of Bertsekas & Tsitsiklis (1991): a *terminal* state is
absorbing with zero reward under every action (``P[s, a, s] = 1`` and ``R[s, a] = 0``
for all a); its value is 0 and it ends the episode. The problem is *well posed* when

1. from every state some policy reaches a terminal state with probability 1 (a
   *proper* policy exists), and
2. every policy that can avoid termination forever collects an infinitely negative
   return, so the optimum is attained by a proper policy.

Condition 2 is checked exactly on end components (:func:`end_components`): every set of
non-terminal states a policy can stay in forever, using some actions infinitely often,
must contain an action with negative reward and none with positive reward (a positive
one could be repeated for ever: +∞, or +∞ − ∞ with a negative one). Textbook gridworlds
(−1 per step, walls that bounce back) satisfy it. Problems that fail either condition
raise :class:`IllPosedMDP` naming the states and actions at fault, instead of a singular
linear system.

Zero-reward loops (an end component whose actions all have reward 0) are not shortest
paths, but their values are determined — staying forever is worth 0 — and
:func:`~mesabase.theory.solve` reduces them to one (:mod:`.solvers.total`: the positive
and negative models of Puterman 1994, ch. 7, e.g. reaching the goal of FrozenLake);
:func:`~mesabase.theory.evaluate` accepts any policy whose recurrent classes have zero
reward (:func:`zero_reward_classes`).

References: D. P. Bertsekas and J. N. Tsitsiklis, "An analysis of stochastic shortest
path problems", Math. Oper. Res. 16(3), 1991. L. de Alfaro, *Formal verification of
probabilistic systems*, PhD thesis, Stanford 1997. M. L. Puterman, *Markov Decision
Processes*, Wiley 1994, ch. 7.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components, dijkstra

from .mdp import InvalidMDP, TabularMDP

__all__ = ["IllPosedMDP", "terminal_states", "check_episodic", "policy_terminates",
           "end_components", "refuse_unbounded_loops", "almost_sure", "zero_reward_classes",
           "toward"]


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
    # +inf (a positive self-loop) or -inf (no zero-reward action); an absorbing state with
    # both zero and negative actions is worth 0 and is not terminal (solve collapses it)
    bad = absorbing & ((mdp.R > 0).any(axis=1) | ~((mdp.R == 0) & mdp.allowed).any(axis=1))
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
    """Check that an undiscounted MDP is a stochastic shortest-path problem (module
    docstring); return ``(terminal, proper_actions)``. Problems with zero-reward loops
    fail here but are solved by :func:`~mesabase.theory.solve` (:mod:`.solvers.total`).

    Only allowed actions (``mdp.allowed``) count. ``terminal`` is the bool (S,) mask of
    terminal states; ``proper_actions`` (S,) int is a
    proper deterministic policy: from every state it reaches a terminal state with
    probability 1 (it moves, with positive probability, one step closer to one without
    ever leaving the set of states that can still terminate surely).

    Raises:
      IllPosedMDP: no proper policy from some state, or an end component of non-terminal
        states with a positive reward or with only zero rewards (a policy that loops
        forever without an infinitely negative return), naming states and actions.
    """
    S = mdp.n_states
    terminal = terminal_states(mdp)
    if not terminal.any():
        raise IllPosedMDP(
            "gamma = 1 with no horizon needs terminal states (absorbing, zero reward) that "
            "end every episode; this MDP has none. Use gamma < 1 or a finite horizon"
        )
    # Almost-sure reachability: shrink U until every state of U reaches T inside U.
    U = almost_sure(mdp, terminal)
    allowed = ~_leaves(mdp, U) & U[:, None] & mdp.allowed
    dist = _distance_to(_pattern(mdp, allowed), terminal)
    if not U.all():
        stuck = np.flatnonzero(~U)
        raise IllPosedMDP(
            f"with gamma = 1, no policy reaches a terminal state with probability 1 from "
            f"states {stuck[:10].tolist()}{' ...' if stuck.size > 10 else ''}: every policy "
            "repeats a nonzero reward forever there, so their values are infinite (V* = "
            "-inf with costs) or undefined. Use gamma < 1 or a finite horizon"
        )
    # A proper policy: an allowed action with a successor one step closer.
    closer = np.asarray(
        mdp.P_matrix @ (dist[:, None] == np.arange(int(dist.max()) + 1)[None, :]).astype(float)
    ).reshape(S, mdp.n_actions, -1)
    target = np.clip(dist.astype(int) - 1, 0, None)
    moves = closer[np.arange(S), :, target] > 0
    moves &= allowed
    moves[terminal] = mdp.allowed[terminal]
    proper = np.argmax(moves, axis=1)

    # Traps: every end component outside the terminal states must contain a negative
    # action and no positive one (Bertsekas & Tsitsiklis's "improper ⇒ −∞").
    outside = mdp.allowed & ~terminal[:, None]
    refuse_unbounded_loops(mdp, outside)
    ec, inside = end_components(mdp, outside & (mdp.R == 0))
    if (ec >= 0).any():
        s, a = (int(i) for i in np.argwhere(inside)[0])
        raise IllPosedMDP(
            f"with gamma = 1, action {a} in state {s} never leaves the non-terminal states "
            f"{np.flatnonzero(ec == ec[s])[:10].tolist()} and has reward R[{s}, {a}] = 0: "
            "a zero-reward loop is not a stochastic shortest path (a trap action must have "
            "negative reward); solve() and evaluate() handle it (the loop is worth 0)"
        )
    return terminal, proper


def end_components(mdp: TabularMDP, pairs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Maximal end components of the sub-MDP with the (s, a) pairs ``pairs`` (bool (S, A)).

    An end component is a set of states C with actions B(s) ≠ ∅ for s ∈ C, each keeping
    the state in C with probability 1, such that C is strongly connected under them; a
    policy can stay in C forever and (randomising over B) visit every such pair infinitely
    often, and every policy's set of pairs taken infinitely often is almost surely an end
    component (de Alfaro 1997, Thm 3.2). Found by de Alfaro's algorithm: split into
    strongly connected components, drop every pair with a successor in another component,
    repeat until nothing changes (Baier & Katoen 2008, Alg. 47).

    Returns ``(ec, inside)``: ``ec[s]`` the index of s's maximal end component (−1 if none)
    and ``inside[s, a]`` whether (s, a) is one of its actions.

    References: L. de Alfaro, *Formal verification of probabilistic systems*, PhD thesis,
    Stanford 1997; C. Baier and J.-P. Katoen, *Principles of Model Checking*, MIT Press
    2008, §10.6.3.
    """
    S, A = mdp.n_states, mdp.n_actions
    Pm = sp.csr_array(mdp.P_matrix)
    owner = np.repeat(np.arange(S * A), np.diff(Pm.indptr)) // A  # state of each nonzero
    positive = Pm.data > 0
    act = np.array(pairs, dtype=bool)
    while True:
        _, lab = connected_components(_pattern(mdp, act), directed=True, connection="strong")
        cross = positive & (lab[Pm.indices] != lab[owner])
        leaves = np.bincount(np.repeat(np.arange(S * A), np.diff(Pm.indptr))[cross],
                             minlength=S * A).reshape(S, A) > 0
        new = act & ~leaves
        if (new == act).all():
            break
        act = new
    has = act.any(axis=1)
    _, ec = np.unique(np.where(has, lab, -1), return_inverse=True)
    ec = np.where(has, ec - (0 if has.all() else 1), -1)
    return ec, act


def refuse_unbounded_loops(mdp: TabularMDP, pairs: np.ndarray) -> None:
    """Raise :class:`IllPosedMDP` if an end component of the ``pairs`` sub-MDP (γ = 1)
    contains a positive reward: a policy can then repeat it forever, so V* = +∞ there
    (or, with a negative reward in the same component, some policy's return is +∞ − ∞,
    undefined). The message names the component's states and the actions."""
    ec, inside = end_components(mdp, pairs)
    pos = inside & (mdp.R > 0)
    if not pos.any():
        return
    s, a = (int(i) for i in np.argwhere(pos)[0])
    states = np.flatnonzero(ec == ec[s])
    neg = inside & (mdp.R < 0) & (ec == ec[s])[:, None]
    head = (f"with gamma = 1, a policy can stay forever in states {states[:10].tolist()}"
            f"{' ...' if states.size > 10 else ''} repeating action {a} in state {s} "
            f"(reward R[{s}, {a}] = {mdp.R[s, a]} > 0)")
    if neg.any():
        s2, a2 = (int(i) for i in np.argwhere(neg)[0])
        raise IllPosedMDP(
            f"{head} and action {a2} in state {s2} (reward R[{s2}, {a2}] = {mdp.R[s2, a2]} "
            "< 0): its return is +inf - inf, so the values are not determined. Use gamma < 1 "
            "or a finite horizon")
    raise IllPosedMDP(f"{head}: V* = +inf there. Use gamma < 1 or a finite horizon")


def almost_sure(mdp: TabularMDP, terminal: np.ndarray) -> np.ndarray:
    """Bool (S,): the states from which some policy (allowed actions only) reaches a
    ``terminal`` state with probability 1 (the classic fixed point: shrink U until every
    state of U reaches the terminal states through actions that stay in U)."""
    U = np.ones(mdp.n_states, dtype=bool)
    while True:
        allowed = ~_leaves(mdp, U) & U[:, None] & mdp.allowed
        reach = np.isfinite(_distance_to(_pattern(mdp, allowed), terminal))
        if (reach == U).all():
            return U
        U = reach


def toward(mdp: TabularMDP, pairs: np.ndarray, targets: np.ndarray):
    """``(reach, actions)``: bool (S,), the states with a path to ``targets`` through the
    (s, a) pairs ``pairs`` (bool (S, A)), and for each such non-target state a pair with a
    successor one step closer (shortest path in the graph of positive probabilities), so
    that following them reaches the targets with probability 1 when ``pairs`` never leave
    the reaching states (e.g. inside an end component). Elsewhere ``actions`` is the first
    action allowed in ``pairs`` (0 if none)."""
    S, A = mdp.n_states, mdp.n_actions
    dist = _distance_to(_pattern(mdp, pairs), targets)
    reach = np.isfinite(dist)
    D = int(dist[reach].max()) if reach.any() else 0
    level = np.where(reach, dist, -1).astype(np.intp)
    closer = np.asarray(mdp.P_matrix @ (level[:, None] == np.arange(D + 1)).astype(float))
    closer = closer.reshape(S, A, D + 1)
    step = np.clip(level - 1, 0, None)
    moves = (closer[np.arange(S), :, step] > 0) & pairs & (reach & ~targets)[:, None]
    actions = np.where(moves.any(axis=1), np.argmax(moves, axis=1), np.argmax(pairs, axis=1))
    return reach, actions


def zero_reward_classes(pattern, taken: np.ndarray, R: np.ndarray) -> np.ndarray:
    """For the chain of a stationary policy (γ = 1): bool (S,), the states of its closed
    (recurrent) classes, whose value is 0; raises :class:`IllPosedMDP` naming the states
    from which the chain reaches a closed class in which a pair taken with positive
    probability (``taken[s, a]``) has ``R[s, a]`` ≠ 0: those rewards recur for ever, so
    the values there are ±inf (or undefined). ``pattern`` (S, S): P_π (positivity used).

    On the other states every closed class is reached with probability 1 and the chain
    restricted to them is transient, so (I − P_π) V = r_π has one solution there
    (Puterman 1994, §7.1 and App. A)."""
    G = sp.csr_array(sp.csr_array(pattern) > 0, dtype=np.float64)
    n, lab = connected_components(G, directed=True, connection="strong")
    Gc = G.tocoo()
    out = np.zeros(n, dtype=bool)
    out[lab[Gc.row][lab[Gc.row] != lab[Gc.col]]] = True
    closed = ~out[lab]
    bad_pairs = taken & (R != 0) & closed[:, None]
    if bad_pairs.any():
        bad = np.isfinite(_distance_to(G, bad_pairs.any(axis=1)))
        s, a = (int(i) for i in np.argwhere(bad_pairs)[0])
        states = np.flatnonzero(bad)
        raise IllPosedMDP(
            f"with gamma = 1 this policy never terminates from states "
            f"{states[:10].tolist()}{' ...' if states.size > 10 else ''}: it repeats action "
            f"{a} in state {s} (reward {R[s, a]}) forever, so its values are infinite "
            "or undefined"
        )
    return closed


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
