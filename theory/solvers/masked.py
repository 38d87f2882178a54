"""Action masks in the solvers: the copy MDP, and the Solution translated back.

A :class:`~mesabase.theory.TabularMDP` with ``allowed[s, a]`` False for some pairs
(or R[s, a] = −inf) is solved over the allowed actions only,

    V*(s) = max_{a : allowed[s, a]} [ R[s, a] + γ Σ_s' P[s, a, s'] V*(s') ].

Infinite horizon: this is the ordinary Bellman optimality equation of the *copy MDP*, in
which each disallowed (s, a) is replaced by a copy of s's first allowed action c(s):
P'[s, a, ·] = P[s, c(s), ·], R'[s, a] = R[s, c(s)]. A copy adds no new choice, so
max_a Q'(s, a) = max_{a allowed} Q(s, a) and V*' = V*; every solver (value and policy
iteration, MPI, the compiled kernel, both LPs, ``auto``) runs unchanged on the copy MDP,
and its certificate holds for V* of the masked MDP: the copy's stored rows are the masked
MDP's allowed rows, so ρ̄, n and ‖R‖∞ bound both. The Solution is then translated back
(:func:`unmask`): ``Q`` = the copy's Q̂ at allowed pairs and −inf at disallowed ones, the
copy's actions a ↦ c(s) when a is a copy, and the optimal set recomputed with the copy's
certified width w over the allowed entries only (an allowed entry of Q̂ is the copy's
entry for the same row, so ε ≥ ‖Q̂ − Q*‖∞ still holds there; widened, if ever needed, to
cover the returned actions). No disallowed action is ever in ``optimal``, ``policy`` or
``actions``. Finite horizon: backward induction takes the max over allowed actions
directly (:func:`~mesabase.theory.backward_induction`).

Reference: M. L. Puterman, *Markov Decision Processes*, Wiley 1994, §2.1 and §6.2
(state-dependent action sets A_s are part of the general model).
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..mdp import TabularMDP
from ..solution import Solution
from .certificate import covering_set

__all__ = ["copy_index", "unmasked_copy", "unmask", "solve_masked", "fold_occupancy"]


def copy_index(allowed: np.ndarray) -> np.ndarray:
    """c[..., s, a] = a where allowed, else the first allowed action of s."""
    first = np.argmax(allowed, axis=-1)[..., None]
    return np.where(allowed, np.arange(allowed.shape[-1]), first)


def unmasked_copy(mdp: TabularMDP) -> TabularMDP:
    """The copy MDP of ``mdp``'s mask (module docstring): no disallowed pair, the same
    V*, γ, horizon, μ0 and terminal values (float data: exact mode does not use it)."""
    S, A = mdp.n_states, mdp.n_actions
    c = copy_index(mdp.allowed)
    rows = (np.arange(S)[:, None] * A + c).reshape(-1)
    Pm = mdp.P_matrix[rows]
    P = Pm if mdp.is_sparse else np.asarray(Pm).reshape(S, A, S)
    return TabularMDP(P, mdp.R[np.arange(S)[:, None], c], gamma=mdp.gamma,
                      horizon=mdp.horizon, mu0=mdp.mu0, terminal=mdp.terminal)


def unmask(mdp: TabularMDP, sol: Solution) -> Solution:
    """The copy MDP's Solution as the masked MDP's: Q = −inf at disallowed pairs, actions
    mapped to the allowed action they copy, the optimal set over allowed actions only
    (module docstring)."""
    m = mdp.allowed
    Q = np.where(m, sol.Q, -np.inf)
    c = copy_index(m)
    actions = np.take_along_axis(np.broadcast_to(c, sol.Q.shape), sol.actions[..., None],
                                 axis=-1)[..., 0]
    optimal, policy, width = covering_set(Q, sol.tol, actions)
    for a in (Q, optimal, policy, actions):
        a.setflags(write=False)
    return dataclasses.replace(sol, Q=Q, optimal=optimal, policy=policy, actions=actions,
                               tol=width)


def solve_masked(mdp: TabularMDP, solver) -> Solution:
    """``solver(copy MDP)`` translated back by :func:`unmask` (``solver`` takes one
    TabularMDP and returns its Solution)."""
    return unmask(mdp, solver(unmasked_copy(mdp)))


def fold_occupancy(mdp: TabularMDP, d: np.ndarray) -> np.ndarray:
    """An occupancy d'[s, a] of the copy MDP as one of the masked MDP: the flow on a copy
    (s, a) moves to the allowed action c(s) it copies, so d = 0 at disallowed pairs."""
    S, A = mdp.n_states, mdp.n_actions
    out = np.zeros((S, A))
    np.add.at(out, (np.repeat(np.arange(S), A), copy_index(mdp.allowed).reshape(-1)),
              d.reshape(-1))
    return out
