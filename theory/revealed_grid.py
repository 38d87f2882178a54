"""Ng & Russell's 5×5 gridworld (ICML 2000, Section 5.1), reproduced with :mod:`.revealed`.

The world: states s = row·5 + col (row 0 at the top); actions north, south, east, west
(:data:`~mesabase.theory.examples.GRID_ACTIONS` order). Where each setting comes from:

* **the paper**: the 5×5 grid, the four compass actions, "a 30% chance of moving in a
  random direction instead" (p = 0.3), the true reward 1 in the upper-right square and 0
  elsewhere, R_max = 1, and the penalty λ = 1.05 of the figure's right panel (λ = 0: its
  left panel). The figure shows the λ = 1.05 recovery as the true reward: the corner spike,
  the rest flat.
* **not in the paper — the discount γ**. γ = 1/5 (the default) is the discount of the
  public reimplementation of M. Alger, "Inverse Reinforcement Learning" (2016, doi
  10.5281/zenodo.555999; ``examples/lp_gridworld.py`` of github.com/MatthewJA/
  Inverse-Reinforcement-Learning runs this experiment with discount 0.2, wind 0.3).
* **assumptions, measured to matter little**: "a random direction" is uniform over all
  four (``slip="any"``: the intended neighbour then has 1 − p + p/4 = 0.775; Alger reads it
  the same way), not over the other three (``slip="other"``); the goal square is absorbing
  (``absorbing=True``: every action stays, so every action is optimal there and it adds no
  margin to the LP's sum) rather than an ordinary square (Alger's). A move off the grid
  stays put.

What reproduces the figure (measured with :func:`ng_russell_gridworld`, λ = 1.05: Pearson r
between recovered and true reward over the 25 squares for the optimal-set policy, and in
brackets its range over every deterministic tie-break, as Ng & Russell used one):

    γ     "any", absorbing      "other", absorbing    "any", ordinary goal  "other", ordinary
    0.2   0.986 [0.986, 0.986]  0.988 [0.988, 0.988]  0.987 [0.987, 0.987]  0.989 [0.989, 0.989]
    0.3   0.967 [0.967, 0.967]  0.971 [0.971, 0.971]  0.970 [0.970, 0.970]  0.974 [0.974, 0.974]
    0.5   0.904 [0.899, 0.903]  0.899 [0.899, 0.899]  0.917 [0.655, 0.916]  0.917 [0.917, 0.918]
    0.9   0.639 [0.564, 0.623]  0.662 [0.620, 0.622]  0.637 [0.493, 0.555]  0.704 [0.524, 0.559]

γ decides it; the noise model and the goal barely do. At γ = 0.2 the λ = 1.05 LP has a
unique solution: 1 at the goal, 0.165 on the square diagonally below-left of it, 0.026 on
the next anti-diagonal square, |R| ≤ 0.001 on the other 22 — the corner spike with the rest
near 0, as published (the one visible difference is the 0.165). At γ = 0.9 the recovery
has squares near −0.86 (r = 0.64). Over λ ∈ {0.5, 1.05, 1.5, 2, 3, 5, 8} the exact recovery
(r = 1) appears at λ = 2 for γ = 0.3 and λ = 3 for γ = 0.5 and 0.9, never at γ = 0.2 (λ ≤ 1.5
gives the solution above, λ ≥ 2 gives R = 0). λ = 0 gives the bumpy reward of the figure's
left panel at every γ (r ≈ 0.27 at γ ≤ 0.5).

The experiment: the true optimal policy — its optimal *set*, solved in exact rational
arithmetic, so that exact ties (by the grid's symmetry about its anti-diagonal, north and
east tie on it) are ties — is given to Ng & Russell's LP over state rewards, with
R_max = 1 and their penalty λ = 1.05 (and λ = 0, their other panel). Our margins are
Q(s, a) − Q(s, a') = γ × theirs, so their λ is passed as γλ, which gives the same
maximisers (:meth:`~mesabase.theory.RevealedSet.max_margin`). Ng & Russell gave the LP one
deterministic policy; the result for every deterministic tie-break is reported as a range.

References: A. Y. Ng and S. Russell, "Algorithms for inverse reinforcement learning", ICML
2000, Section 5.1 and Figure 2; M. Alger, "Inverse Reinforcement Learning" (software,
2016), doi 10.5281/zenodo.555999.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .mdp import TabularMDP, to_fraction
from .revealed import revealed_rewards
from .solvers import solve_exact

__all__ = ["ng_russell_mdp", "ng_russell_gridworld", "NgRussellResult", "NG_RUSSELL_GOAL",
           "NG_RUSSELL_GAMMA", "SLIPS"]

#: The rewarding square (row, col) of Ng & Russell's gridworld (absorbing by default).
NG_RUSSELL_GOAL = (0, 4)
#: The default discount: Alger's reimplementation's (the paper gives none; module docstring).
NG_RUSSELL_GAMMA = Fraction(1, 5)
#: Where a slip goes: "any" of the four directions uniformly, or one of the "other" three.
SLIPS = ("any", "other")
_MOVES = ((-1, 0), (1, 0), (0, 1), (0, -1))  # north, south, east, west


def ng_russell_mdp(gamma=NG_RUSSELL_GAMMA, noise=Fraction(3, 10), size: int = 5, *,
                   slip: str = "any", absorbing: bool = True) -> TabularMDP:
    """Ng & Russell's gridworld (module docstring) as an exact :class:`TabularMDP`.

    Args:
      gamma: γ ∈ [0, 1) (read exactly: 0.2 → 1/5); default :data:`NG_RUSSELL_GAMMA`.
      noise: p ∈ [0, 1], the probability of a random direction instead (paper: 0.3).
      size: the side of the square grid (5 in the paper); the goal is its upper-right square.
      slip: "any" — the random direction is uniform over all four, so the intended move
        has probability 1 − p + p/4 — or "other" — uniform over the three others (1 − p).
      absorbing: the goal square keeps the agent under every action (True), or is an
        ordinary square (False).

    P, R and γ are Fractions (``solve(mdp, method="exact")`` works on them); R[goal, ·] = 1,
    else 0.
    """
    g, p = to_fraction(gamma), to_fraction(noise)
    if not 0 <= g < 1:
        raise ValueError(f"gamma must lie in [0, 1); got {gamma}")
    if not 0 <= p <= 1:
        raise ValueError(f"noise must lie in [0, 1]; got {noise}")
    if not (isinstance(size, int) and size >= 2):
        raise ValueError(f"size must be an int >= 2; got {size!r}")
    if slip not in SLIPS:
        raise ValueError(f"slip must be one of {SLIPS}; got {slip!r}")
    n = size
    S, A = n * n, 4
    goal = NG_RUSSELL_GOAL[0] * n + n - 1
    P = np.full((S, A, S), Fraction(0), dtype=object)
    R = np.full((S, A), Fraction(0), dtype=object)
    R[goal, :] = Fraction(1)
    for s in range(S):
        if s == goal and absorbing:
            P[s, :, s] = Fraction(1)
            continue
        r, c = divmod(s, n)
        dest = [min(max(r + dr, 0), n - 1) * n + min(max(c + dc, 0), n - 1)
                for dr, dc in _MOVES]
        for a in range(A):
            for d in range(A):
                if slip == "any":
                    P[s, a, dest[d]] += p / 4 + (1 - p if d == a else 0)
                else:
                    P[s, a, dest[d]] += 1 - p if d == a else p / 3
    return TabularMDP(P, R, gamma=g)


@dataclass(frozen=True)
class NgRussellResult:
    """The reproduction (:func:`ng_russell_gridworld`); rewards as (size, size) grids.

    ``true_reward``; ``recovered`` (λ as given) and ``recovered_no_penalty`` (λ = 0): the
    LP's vertex solutions for the optimal-set policy; ``ranges`` (lo, hi): each square's
    range over the optimal face of the λ LP (lo = hi: that value is forced), and
    ``ranges_no_penalty`` the same for λ = 0;
    ``correlation`` / ``correlation_no_penalty``: Pearson's r between recovered and true
    over the squares; ``max_abs_error``: max |recovered − true|; ``optimal`` (S, A) bool,
    the exact optimal sets; ``tie_states``: states with more than one optimal action (an
    absorbing goal, where the action is irrelevant, excepted); ``tie_break_correlations``:
    (min, max) of r over every deterministic policy in the optimal set (one per choice at
    the tie states), ``tie_breaks`` = (solved, total) of them; ``gamma``, ``l1`` (Ng &
    Russell's λ), ``r_max``, ``rs`` (the revealed set of the optimal-set policy)."""

    true_reward: np.ndarray
    recovered: np.ndarray
    recovered_no_penalty: np.ndarray
    ranges: tuple[np.ndarray, np.ndarray]
    ranges_no_penalty: tuple[np.ndarray, np.ndarray]
    correlation: float
    correlation_no_penalty: float
    max_abs_error: float
    optimal: np.ndarray
    tie_states: tuple[int, ...]
    tie_break_correlations: tuple[float, float]
    tie_breaks: tuple[int, int]
    gamma: float
    l1: float
    r_max: float
    rs: object


def _corr(x: np.ndarray, y: np.ndarray) -> float:
    x, y = x.reshape(-1) - x.mean(), y.reshape(-1) - y.mean()
    d = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / d) if d > 0 else float("nan")


def ng_russell_gridworld(gamma=NG_RUSSELL_GAMMA, l1: float = 1.05, r_max: float = 1.0,
                         noise=Fraction(3, 10), max_tie_breaks: int = 256, *,
                         slip: str = "any", absorbing: bool = True) -> NgRussellResult:
    """Recover the gridworld's reward from its optimal policy by Ng & Russell's LP.

    Steps: build :func:`ng_russell_mdp` (``gamma``, ``noise``, ``slip``, ``absorbing``
    passed on; the defaults are the module docstring's); solve it exactly (``optimal``: the
    exact argmax sets); the policy is uniform over each optimal set and its revealed set, over state
    rewards, requires every optimal action to stay optimal (ε = 1e-9); solve
    max Σ_s min_{a' ∉ opt(s)} margin − γλ‖R‖₁ s.t. the cone, |R| ≤ R_max, with λ and
    with λ = 0; then the same LP (with λ) for each deterministic tie-break, at most
    ``max_tie_breaks`` of them in lexicographic order (``tie_breaks`` says how many of
    how many were solved: the range covers all of them only when the two agree).

    Returns:
      A :class:`NgRussellResult`.
    """
    mdp = ng_russell_mdp(gamma, noise, slip=slip, absorbing=absorbing)
    n = int(round(np.sqrt(mdp.n_states)))
    sol = solve_exact(mdp)
    optimal = np.asarray(sol.optimal, dtype=bool)
    pi = optimal / optimal.sum(axis=1, keepdims=True)
    g = float(mdp.gamma)
    rs = revealed_rewards(mdp, pi, basis="state")
    best = rs.max_margin(l1=g * l1, r_max=r_max, ranges=True)
    free = rs.max_margin(l1=0.0, r_max=r_max, ranges=True)
    true = np.asarray(mdp.R[:, 0], dtype=np.float64).reshape(n, n)
    rec = best.reward[:, 0].reshape(n, n)
    goal = NG_RUSSELL_GOAL[0] * n + n - 1
    ties = tuple(int(s) for s in np.flatnonzero(optimal.sum(axis=1) > 1)
                 if s != goal or not absorbing)  # an absorbing goal's action is irrelevant
    choices = [np.flatnonzero(optimal[s]) for s in ties]
    base = np.argmax(optimal, axis=1)
    corrs = []
    for pick in itertools.islice(itertools.product(*choices), max_tie_breaks):
        acts = base.copy()
        acts[list(ties)] = pick
        r = revealed_rewards(mdp, acts, basis="state").max_margin(l1=g * l1, r_max=r_max)
        corrs.append(_corr(r.reward[:, 0].reshape(n, n), true))
    def grid(ranges):
        return tuple(x[:, 0].reshape(n, n) for x in ranges)

    return NgRussellResult(
        true_reward=true, recovered=rec, recovered_no_penalty=free.reward[:, 0].reshape(n, n),
        ranges=grid(best.ranges), ranges_no_penalty=grid(free.ranges),
        correlation=_corr(rec, true), correlation_no_penalty=_corr(free.reward[:, 0], true),
        max_abs_error=float(np.abs(rec - true).max()), optimal=optimal, tie_states=ties,
        tie_break_correlations=(min(corrs), max(corrs)),
        tie_breaks=(len(corrs), int(np.prod([len(c) for c in choices]))), gamma=g,
        l1=float(l1), r_max=float(r_max), rs=rs)
