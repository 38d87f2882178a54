"""Textbook MDPs with published solutions: builders for tests, demos and benchmarks.

Every builder is a pure function returning a :class:`~mesabase.theory.mdp.TabularMDP`;
its docstring cites the source and states the published values, so a test can check
the solvers against the literature rather than against themselves.

Exactness: builders that take ``gamma`` build ``P`` and ``R`` as arrays of
:class:`fractions.Fraction` (dtype object) when ``gamma`` is a ``Fraction``, so that
``solve(mdp, method="exact")`` works on exact numbers; otherwise they build float64
arrays. :func:`secretary` is always exact.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .mdp import InvalidMDP, TabularMDP

__all__ = [
    "GRID_ACTIONS",
    "sutton_barto_gridworld",
    "sutton_barto_small_gridworld",
    "secretary",
    "secretary_state",
    "puterman_two_state",
    "chain_mdp",
    "taxi_transitions",
]

#: Action order of the gridworlds: 0 = north (row − 1), 1 = south (row + 1),
#: 2 = east (col + 1), 3 = west (col − 1).
GRID_ACTIONS = ("north", "south", "east", "west")
_MOVES = ((-1, 0), (1, 0), (0, 1), (0, -1))


def _arrays(S: int, A: int, exact: bool):
    """Zero P (S, A, S) and R (S, A), and the number type: Fractions or floats."""
    if exact:
        P = np.full((S, A, S), Fraction(0), dtype=object)
        R = np.full((S, A), Fraction(0), dtype=object)
        return P, R, Fraction
    return np.zeros((S, A, S)), np.zeros((S, A)), float


def sutton_barto_gridworld(gamma=0.9) -> TabularMDP:
    """The 5×5 gridworld of Sutton & Barto (2018), Examples 3.5 and 3.8.

    States ``s = row·5 + col`` (row 0 at the top); actions in :data:`GRID_ACTIONS` order
    (north, south, east, west), all deterministic. From A = (0, 1) every action moves to
    A′ = (4, 1) with reward +10; from B = (0, 3) every action moves to B′ = (2, 3) with
    reward +5; a move off the grid leaves the state unchanged with reward −1; every other
    move has reward 0. μ0 is uniform. γ = 0.9 in the book.

    Published values (rounded to one decimal), rows top to bottom:

    V* (Example 3.8, Figure 3.5)::

        22.0 24.4 22.0 19.4 17.5
        19.8 22.0 19.8 17.8 16.0
        17.8 19.8 17.8 16.0 14.4
        16.0 17.8 16.0 14.4 13.0
        14.4 16.0 14.4 13.0 11.7

    V^π of the equiprobable random policy (Example 3.5, Figure 3.2)::

         3.3  8.8  4.4  5.3  1.5
         1.5  3.0  2.3  1.9  0.5
         0.1  0.7  0.7  0.4 −0.4
        −1.0 −0.4 −0.4 −0.6 −1.2
        −1.9 −1.3 −1.2 −1.4 −2.0

    Closed form at A: the optimal policy returns to A every 5 steps, so
    V*(A) = 10 / (1 − γ⁵) = 24.419… for γ = 0.9.

    Args:
      gamma: discount γ ∈ [0, 1), a float or a ``Fraction`` (then P and R are exact).

    Reference: R. S. Sutton and A. G. Barto, *Reinforcement Learning: An Introduction*,
    2nd ed., MIT Press 2018, §3.5–3.6.
    """
    exact = isinstance(gamma, Fraction)
    n = 5
    P, R, num = _arrays(n * n, 4, exact)
    for r in range(n):
        for c in range(n):
            s = r * n + c
            for a, (dr, dc) in enumerate(_MOVES):
                if (r, c) == (0, 1):
                    s2, rew = 4 * n + 1, 10
                elif (r, c) == (0, 3):
                    s2, rew = 2 * n + 3, 5
                elif 0 <= r + dr < n and 0 <= c + dc < n:
                    s2, rew = (r + dr) * n + c + dc, 0
                else:
                    s2, rew = s, -1
                P[s, a, s2] = num(1)
                R[s, a] = num(rew)
    return TabularMDP(P, R, gamma=gamma)


def sutton_barto_small_gridworld() -> TabularMDP:
    """The 4×4 gridworld of Sutton & Barto (2018), Example 4.1 (undiscounted, episodic).

    States ``s = row·4 + col``; actions in :data:`GRID_ACTIONS` order; γ = 1. The corners
    0 and 15 are terminal (absorbing, zero reward under every action); every other
    transition has reward −1, and a move off the grid leaves the state unchanged. μ0 is
    uniform. Built exactly (Fractions), so ``method="exact"`` applies.

    Published values (Figure 4.1), rows top to bottom. V^π of the equiprobable random
    policy (the fixed point of iterative policy evaluation, exact integers)::

          0 −14 −20 −22
        −14 −18 −20 −20
        −20 −20 −18 −14
        −22 −20 −14   0

    V*(s) = −(number of steps to the nearest terminal corner)::

         0 −1 −2 −3
        −1 −2 −3 −2
        −2 −3 −2 −1
        −3 −2 −1  0

    Reference: Sutton & Barto (2018), §4.1, Example 4.1 and Figure 4.1.
    """
    n = 4
    P, R, num = _arrays(n * n, 4, True)
    for r in range(n):
        for c in range(n):
            s = r * n + c
            for a, (dr, dc) in enumerate(_MOVES):
                if s in (0, n * n - 1):
                    P[s, a, s] = num(1)
                    continue
                rr, cc = r + dr, c + dc
                s2 = rr * n + cc if 0 <= rr < n and 0 <= cc < n else s
                P[s, a, s2] = num(1)
                R[s, a] = num(-1)
    return TabularMDP(P, R, gamma=Fraction(1))


def secretary_state(n: int, t: int, best: bool) -> int:
    """Index of state (t, b) in :func:`secretary` ``(n)``: 2(t − 1) + b; ``2n`` is "stopped"."""
    if not 1 <= t <= n:
        raise ValueError(f"t must be in 1..{n}; got {t}")
    return 2 * (t - 1) + int(bool(best))


def secretary(n: int) -> TabularMDP:
    """The classical secretary (best-choice) problem as a finite-horizon MDP, in Fractions.

    n candidates arrive in uniformly random order; after seeing candidate t we know only
    whether it is the best so far (b = 1) or not (b = 0), and must stop (accept it) or
    continue. We win if we accept the overall best.

    States: (t, b) for t = 1..n, b ∈ {0, 1}, at index 2(t − 1) + b (see
    :func:`secretary_state`), and an absorbing zero-reward "stopped" state at index 2n.
    Actions: 0 = stop, 1 = continue. Stopping at (t, 1) earns Pr(best overall | best of
    first t) = t/n, at (t, 0) earns 0; both go to "stopped". Continuing from (t, ·), t < n,
    earns 0 and goes to (t + 1, 1) with probability 1/(t + 1) (the next candidate is the
    best of the first t + 1), else to (t + 1, 0); continuing at t = n earns 0 and ends.
    μ0 is the point mass on (1, 1); horizon H = n; γ = 1.

    The optimal rule is a threshold: reject the first r − 1 candidates, then accept the
    first best-so-far one. With threshold r its success probability is
    P(r) = (r − 1)/n · Σ_{k=r}^{n} 1/(k − 1) (P(1) = 1/n), and V*_0(1, 1) = max_r P(r).

    Published optimal values (Gilbert & Mosteller 1966; Ferguson 1989)::

        n   1    2    3    4      5      6       7      8         9        10
        r   1   1|2   2    2      3      3       3      4         4         4
        P*  1   1/2  1/2  11/24  13/30  77/180  29/70  459/1120  341/840  3349/8400

    (3349/8400 ≈ 0.398690. For n = 2, r = 1 and r = 2 tie at 1/2; as n → ∞, r/n → 1/e
    and P* → 1/e.) In the MDP, stopping at (t, 1) is optimal exactly when t ≥ r, i.e.
    when Σ_{k=t}^{n−1} 1/k ≤ 1 (a tie only for n = 2, t = 1); continuing is optimal at
    (t, 0) for every t < n.

    References: J. P. Gilbert and F. Mosteller, "Recognizing the maximum of a sequence",
    J. Amer. Statist. Assoc. 61 (1966), 35–73; T. S. Ferguson, "Who solved the secretary
    problem?", Statistical Science 4(3) (1989), 282–296.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidMDP(f"n must be an integer >= 1; got {n!r}")
    S, stopped = 2 * n + 1, 2 * n
    P, R, _ = _arrays(S, 2, True)
    one = Fraction(1)
    for t in range(1, n + 1):
        for b in (0, 1):
            s = secretary_state(n, t, bool(b))
            P[s, 0, stopped] = one
            R[s, 0] = Fraction(t, n) if b else Fraction(0)
            if t < n:
                P[s, 1, secretary_state(n, t + 1, True)] = Fraction(1, t + 1)
                P[s, 1, secretary_state(n, t + 1, False)] = Fraction(t, t + 1)
            else:
                P[s, 1, stopped] = one
    P[stopped, :, stopped] = one
    mu0 = np.full(S, Fraction(0), dtype=object)
    mu0[secretary_state(n, 1, True)] = one
    return TabularMDP(P, R, gamma=Fraction(1), horizon=n, mu0=mu0)


def puterman_two_state(gamma=0.95, horizon=None) -> TabularMDP:
    """The two-state MDP of Puterman (1994), §3.1 (Figure 3.1.1).

    State 0 = s1 has a11 (action 0: reward 5, stays with probability 1/2, moves to s2
    with probability 1/2) and a12 (action 1: reward 10, moves to s2). State 1 = s2 has
    only a21 (reward −1, stays); so that A = 2 in every state, s2's action 1 is a
    duplicate of a21. μ0 is uniform.

    Discounted (γ = 0.95, no horizon): v*(s2) = −1/(1 − γ) = −20 and
    v*(s1) = max(5 + γ(v*(s1) + v*(s2))/2, 10 + γ v*(s2)); with a11,
    v(s1)(1 − γ/2) = 5 − 10γ ⇒ v(s1) = −4.5/0.525 = −60/7 ≈ −8.571, against
    10 − 19 = −9 for a12: a11 is optimal, v* = (−60/7, −20).

    Finite horizon (γ = 1): with one decision left, v₁ = (max(5, 10), −1) = (10, −1)
    (a12 optimal); with two left, a11 gives 5 + (10 − 1)/2 = 9.5 and a12 gives
    10 − 1 = 9, so v₂ = (9.5, −2) (a11 optimal). With ``horizon=2`` these are
    ``V[1]`` and ``V[0]`` of the solution.

    Args:
      gamma: discount; a ``Fraction`` gives exact P and R.
      horizon: ``None`` or the number of decisions H.

    Reference: M. L. Puterman, *Markov Decision Processes: Discrete Stochastic Dynamic
    Programming*, Wiley 1994, §3.1, §4.6.1 and §6.2.
    """
    exact = isinstance(gamma, Fraction)
    P, R, num = _arrays(2, 2, exact)
    P[0, 0, 0] = P[0, 0, 1] = num(1) / 2
    P[0, 1, 1] = num(1)
    P[1, :, 1] = num(1)
    R[0, 0], R[0, 1] = num(5), num(10)
    R[1, :] = num(-1)
    return TabularMDP(P, R, gamma=gamma, horizon=horizon)


def chain_mdp(n: int, gamma=0.9) -> TabularMDP:
    """A deterministic chain 0 … n−1 with a closed-form optimum.

    Actions: 0 = left (s → max(s − 1, 0)), 1 = right (s → min(s + 1, n − 1)). The only
    reward is 1 for action right at the right end n − 1 (which stays there). μ0 is the
    point mass on state 0. The optimal policy goes right everywhere, and

        V*(s) = Σ_{t ≥ n−1−s} γᵗ = γ^{n−1−s} / (1 − γ),

    so J* = γ^{n−1}/(1 − γ); Q*(s, left) = γ V*(max(s − 1, 0)) (for s = n − 1 that is
    γ V*(n − 2), or γ V*(0) when n = 1).

    Args:
      n: number of states, n ≥ 1.
      gamma: discount γ ∈ [0, 1) (the chain has no terminal state); a ``Fraction``
        gives exact P and R.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InvalidMDP(f"n must be an integer >= 1; got {n!r}")
    if not 0 <= float(gamma) < 1:
        raise InvalidMDP(f"chain needs gamma in [0, 1) (it never terminates); got {gamma!r}")
    P, R, num = _arrays(n, 2, isinstance(gamma, Fraction))
    for s in range(n):
        P[s, 0, max(s - 1, 0)] = num(1)
        P[s, 1, min(s + 1, n - 1)] = num(1)
    R[n - 1, 1] = num(1)
    mu0 = np.zeros(n, dtype=object if isinstance(gamma, Fraction) else float)
    mu0[:] = num(0)
    mu0[0] = num(1)
    return TabularMDP(P, R, gamma=gamma, mu0=mu0)


_TAXI_MAP = ("+---------+", "|R: | : :G|", "| : | : : |", "| : : : : |", "| | : | : |",
             "|Y| : |B: |", "+---------+")
_TAXI_LOCS = ((0, 0), (0, 4), (4, 0), (4, 3))


def taxi_transitions() -> dict:
    """Gymnasium's Taxi-v3 transition dict ``P[s][a] = [(prob, s', reward, done)]``
    (T. G. Dietterich, "Hierarchical reinforcement learning with the MAXQ value function
    decomposition", JAIR 13, 2000), built without Gymnasium; pass it to
    :func:`~mesabase.theory.from_gym`. 500 states ((row·5 + col)·5 + passenger)·4 +
    destination; actions south, north, east, west, pickup, dropoff; −1 a step, −10 an
    illegal pickup or dropoff, +20 and the end of the episode for the dropoff at the
    destination. Deterministic. (tests/test_exact_fast.py checks it against Gymnasium when
    Gymnasium is installed.)

    Example:
      >>> P = taxi_transitions()
      >>> len(P), len(P[0]), P[0][5]
      (500, 6, [(1.0, 0, -10.0, False)])
    """
    P = {}
    for s in range(500):
        rc, dest = divmod(s, 4)
        rc, pas = divmod(rc, 5)
        row, col = divmod(rc, 5)
        P[s] = {}
        for a in range(6):
            r, c, p, rew, done = row, col, pas, -1.0, False
            if a < 2:
                r = min(row + 1, 4) if a == 0 else max(row - 1, 0)
            elif a == 2 and _TAXI_MAP[1 + row][2 * col + 2] == ":":
                c = col + 1
            elif a == 3 and _TAXI_MAP[1 + row][2 * col] == ":":
                c = col - 1
            elif a == 4:
                here = (row, col)
                p, rew = (4, rew) if pas < 4 and here == _TAXI_LOCS[pas] else (pas, -10.0)
            elif a == 5:
                if pas == 4 and (row, col) == _TAXI_LOCS[dest]:
                    p, rew, done = dest, 20.0, True
                elif pas == 4 and (row, col) in _TAXI_LOCS:
                    p = _TAXI_LOCS.index((row, col))
                else:
                    rew = -10.0
            P[s][a] = [(1.0, ((r * 5 + c) * 5 + p) * 4 + dest, rew, done)]
    return P
