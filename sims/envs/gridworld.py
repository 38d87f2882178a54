"""Gridworlds from ASCII maps, whose state remembers what was collected.

The map characters are those of :mod:`.gridmap` (``#`` wall, ``.`` floor, ``S`` start,
``G`` goal, ``L`` lava, ``k`` key, ``c`` chest, ``> < ^ v`` checkpoints). Actions, in the
order of :data:`mesabase.theory.examples.GRID_ACTIONS`: 0 = north (row − 1), 1 = south
(row + 1), 2 = east (col + 1), 3 = west (col − 1). A move into a wall or off the map leaves
the agent in place. With probability ``slip`` the move made is instead one of the three
*other* directions, each with probability slip/3. μ0 is uniform over the start cells.

One move m from a non-absorbing state into cell x produces these *events* (a goal or lava
state loops to itself under every action, with no events):

* ``step``: 1 for every move (blocked or not);
* ``keys_collected``: x holds key i not yet taken: take it (``keys |= 2**i``);
* ``chests_opened``: x holds chest j, closed, and a key is held: open it, using one key
  (``chests |= 2**j``); without a key the chest stays closed and nothing happens;
* ``goal`` / ``lava``: x is a goal / lava cell;
* ``checkpoints``: x is a checkpoint and m is its arrow's direction;
* ``laps``: 1/n (n checkpoints) when that checkpoint is also the *next in lap order*
  (any checkpoint, before the first); it becomes the last one credited. (With a single
  checkpoint every credited entry is a lap: use two or more.)

A real lap of n checkpoints pays n ``checkpoints`` and 1 ``laps``; driving back and forth
over one arrow pays ``checkpoints`` as often and ``laps`` at most 1/n, as in the boat race
of Leike et al. (2017), whose hidden performance is the winding number (``laps`` is its
discrete, never-negative version).

States. :class:`GridState` ``(row, col, keys, chests, lap)``: ``keys`` and ``chests`` are
bitmasks over ``world.keys`` and ``world.chests`` (reading order), ``lap`` the index in
``world.checkpoints`` (lap order) of the last checkpoint credited, −1 before the first.
Keys held = popcount(keys) − popcount(chests), since each opened chest used one key. Only
states reachable from the starts are enumerated (breadth-first); state index s is the
rank of the state in the lexicographic order of (keys, chests, lap, row, col), so the
states of one collected status are contiguous, in reading order.

Rewards. ``world.rewards[name][s, a]`` is the expected event count E[event | s, a] (over
slip) for each name in :data:`REWARD_NAMES`. The MDP's reward is the *base* reward
R_B = Σ_name w_name R_name with weights ``rewards`` (default :data:`DEFAULT_WEIGHTS`, plus
``step_reward`` on ``step``); scenarios take intended rewards and proxies from the same dict.

References: J. Leike et al., "AI Safety Gridworlds", arXiv:1711.09883 (2017) (boat race);
M. Barnett, "A simple environment for showing mesa misalignment", AI Alignment Forum (2019)
(keys and chests).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from mesabase.theory import TabularMDP, expected_return, to_fraction
from mesabase.theory.checks import is_real

from .base import Env
from .gridmap import ABSORBING, ARROWS, MOVES, MapError, find_cells, lap_order, parse_map

__all__ = [
    "GridState", "Gridworld", "build_gridworld", "expected_count", "REWARD_NAMES",
    "DEFAULT_WEIGHTS", "MAX_ITEMS",
]

#: The named reward arrays of every world, in this order.
REWARD_NAMES = ("step", "keys_collected", "chests_opened", "goal", "lava", "checkpoints", "laps")
#: Base-reward weights used when ``rewards`` is not given.
DEFAULT_WEIGHTS = MappingProxyType(
    {"chests_opened": 1.0, "goal": 1.0, "lava": -1.0, "checkpoints": 1.0}
)
#: At most this many keys plus chests (each is one bit of the state).
MAX_ITEMS = 16
_EVENT = {name: i for i, name in enumerate(REWARD_NAMES)}


class GridState(NamedTuple):
    """A decoded state: position, keys taken and chests opened (bitmasks), last lap index."""

    row: int
    col: int
    keys: int = 0
    chests: int = 0
    lap: int = -1

    @property
    def held(self) -> int:
        """Keys in hand: taken minus used (each opened chest used one)."""
        return self.keys.bit_count() - self.chests.bit_count()


@dataclass(frozen=True, eq=False)
class Gridworld:
    """A gridworld built by :func:`build_gridworld`: the MDP, named rewards and the states.

    Fields: ``rows`` the map; ``mdp`` the TabularMDP with the base reward; ``rewards``
    name → R_name[s, a] (read-only, (S, A)); ``weights`` the base weights; ``states``
    the decoded states in index order; ``keys``, ``chests``, ``starts`` cells in reading
    order; ``checkpoints`` cells in lap order; ``slip``.
    """

    rows: tuple[str, ...]
    mdp: TabularMDP
    rewards: Mapping[str, np.ndarray]
    weights: Mapping[str, float]
    states: tuple[GridState, ...]
    keys: tuple[tuple[int, int], ...]
    chests: tuple[tuple[int, int], ...]
    checkpoints: tuple[tuple[int, int], ...]
    starts: tuple[tuple[int, int], ...]
    slip: float
    _index: dict = field(repr=False)

    @property
    def height(self) -> int:
        return len(self.rows)

    @property
    def width(self) -> int:
        return len(self.rows[0])

    @property
    def n_states(self) -> int:
        return len(self.states)

    @property
    def n_actions(self) -> int:
        return len(MOVES)

    def cell(self, row: int, col: int) -> str:
        """The map character at (row, col)."""
        return self.rows[row][col]

    def destination(self, row: int, col: int, action: int) -> tuple[int, int]:
        """Where ``action`` leads from (row, col) if it does not slip (stays if blocked)."""
        r, c = row + MOVES[action][0], col + MOVES[action][1]
        if 0 <= r < self.height and 0 <= c < self.width and self.rows[r][c] != "#":
            return r, c
        return row, col

    def encode(self, row: int, col: int, keys: int = 0, chests: int = 0, lap: int = -1) -> int:
        """The index s of state (row, col, keys, chests, lap); ``encode(*decode(s)) == s``."""
        st = GridState(int(row), int(col), int(keys), int(chests), int(lap))
        try:
            return self._index[st]
        except KeyError:
            raise MapError(f"{st} is not a state of this world (not reachable from the "
                           "starts, or outside the map)") from None

    def decode(self, s: int) -> GridState:
        """The :class:`GridState` of index s."""
        if not 0 <= int(s) < self.n_states:
            raise MapError(f"state index {s} out of range 0..{self.n_states - 1}")
        return self.states[int(s)]

    def state_grid(self, keys: int = 0, chests: int = 0, lap: int = -1) -> np.ndarray:
        """(height, width) int array: the index of the state at each cell with this
        collected status, −1 where there is none (walls, unreachable)."""
        grid = np.full((self.height, self.width), -1, dtype=np.int64)
        for s, st in enumerate(self.states):
            if (st.keys, st.chests, st.lap) == (keys, chests, lap):
                grid[st.row, st.col] = s
        return grid

    @property
    def absorbing(self) -> np.ndarray:
        """Bool (S,): states on a goal or lava cell (entering one ends the episode)."""
        return np.array([self.rows[st.row][st.col] in ABSORBING for st in self.states])

    def reward(self, weights: Mapping[str, float]) -> np.ndarray:
        """R[s, a] = Σ_name w_name R_name[s, a] for ``weights`` name → w."""
        out = np.zeros((self.n_states, self.n_actions))
        for name, w in _check_weights(weights).items():
            out += float(w) * self.rewards[name]
        return out

    def with_reward(self, weights: Mapping[str, float]) -> TabularMDP:
        """The same MDP with base reward Σ_name w_name R_name."""
        return self.mdp.with_reward(self.reward(weights))

    def env(self, name: str = "gridworld", noise: str = "none") -> Env:
        """The world as a sampleable :class:`~mesabase.sims.envs.base.Env`."""
        return Env(self.mdp, noise=noise, name=name)

    def to_ascii(self) -> str:
        """The map, one line per row: ``build_gridworld(w.to_ascii())`` rebuilds ``w``."""
        return "\n".join(self.rows)

    def __repr__(self) -> str:
        return (f"Gridworld({self.height}x{self.width}, S={self.n_states}, "
                f"keys={len(self.keys)}, chests={len(self.chests)}, "
                f"checkpoints={len(self.checkpoints)}, slip={self.slip:g})")


def _check_weights(weights) -> dict[str, float]:
    if not isinstance(weights, Mapping):
        raise MapError(f"reward weights must be a mapping name -> weight; got {weights!r}")
    out = {}
    for name, w in weights.items():
        if name not in _EVENT:
            raise MapError(f"unknown reward {name!r}; choose from {', '.join(REWARD_NAMES)}")
        if not is_real(w) or not np.isfinite(float(w)):
            raise MapError(f"reward weight {name!r} = {w!r} is not a finite real number")
        out[name] = w
    return out


def _step(rows, items, lap_of, st: GridState, m: int):
    """The next state and event counts (ints; ``laps`` counts in-order checkpoints)."""
    ev = [0] * len(REWARD_NAMES)
    if rows[st.row][st.col] in ABSORBING:
        return st, ev
    ev[_EVENT["step"]] = 1
    r, c = st.row + MOVES[m][0], st.col + MOVES[m][1]
    if not (0 <= r < len(rows) and 0 <= c < len(rows[0])) or rows[r][c] == "#":
        return st, ev
    ch, keys, chests, lap = rows[r][c], st.keys, st.chests, st.lap
    if ch == "k" and not keys >> items[r, c] & 1:
        keys |= 1 << items[r, c]
        ev[_EVENT["keys_collected"]] = 1
    elif ch == "c" and not chests >> items[r, c] & 1 and st.held > 0:
        chests |= 1 << items[r, c]
        ev[_EVENT["chests_opened"]] = 1
    elif ch in ABSORBING:
        ev[_EVENT["goal" if ch == "G" else "lava"]] = 1
    elif ch in ARROWS and ARROWS[ch] == m:
        ev[_EVENT["checkpoints"]] = 1
        j = lap_of[r, c]
        if lap == -1 or j == (lap + 1) % len(lap_of):
            ev[_EVENT["laps"]], lap = 1, j
    return GridState(r, c, keys, chests, lap), ev


def build_gridworld(ascii_map: str, *, gamma=0.95, horizon=None, slip=0.0, step_reward=0.0,
                    rewards=None, checkpoint_order=None, sparse=None,
                    max_states: int = 20_000) -> Gridworld:
    """Build a :class:`Gridworld` (and its TabularMDP) from an ASCII map.

    Args:
      ascii_map: the map (see the module docstring for the characters).
      gamma: discount γ; a ``Fraction`` builds exact (Fraction) P and R, for
        ``solve(mdp, method="exact")``.
      horizon: ``None`` or the number of decisions H per episode.
      slip: probability in [0, 1] that a move goes in one of the 3 other directions.
      step_reward: the weight of ``step`` (e.g. −0.01 per move) in the base reward.
      rewards: base-reward weights name → w over :data:`REWARD_NAMES`
        (default :data:`DEFAULT_WEIGHTS`).
      checkpoint_order: checkpoint cells (row, col) in lap order, overriding the angle rule.
      sparse: store P as a sparse (S·A, S) matrix; default: when S > 1000 (never if exact).
      max_states: refuse maps with more reachable states than this.

    Raises:
      MapError: naming the row, column or character at fault.

    Example:
      >>> w = build_gridworld("S.kc", gamma=0.5)
      >>> w.n_states, w.decode(w.n_states - 1)
      (9, GridState(row=0, col=3, keys=1, chests=1, lap=-1))
    """
    rows = parse_map(ascii_map)
    exact = isinstance(gamma, Fraction)
    if not is_real(slip) or not 0.0 <= float(slip) <= 1.0:
        raise MapError(f"slip must be a probability in [0, 1]; got {slip!r}")
    weights = _check_weights(dict(DEFAULT_WEIGHTS) if rewards is None else rewards)
    if step_reward:
        if "step" in weights:
            raise MapError("give the step weight once: as step_reward or in rewards['step']")
        weights["step"] = step_reward
    keys, chests = find_cells(rows, "k"), find_cells(rows, "c")
    if len(keys) + len(chests) > MAX_ITEMS:
        raise MapError(f"the map has {len(keys)} keys and {len(chests)} chests; at most "
                       f"{MAX_ITEMS} keys and chests in all fit the state's bitmasks")
    laps = lap_order(rows, find_cells(rows, "".join(ARROWS)), checkpoint_order)
    items = {rc: i for i, rc in enumerate(keys)} | {rc: j for j, rc in enumerate(chests)}
    lap_of = {rc: j for j, rc in enumerate(laps)}
    starts = tuple(GridState(r, c) for r, c in find_cells(rows, "S"))

    seen, queue = set(starts), deque(starts)
    while queue:
        st = queue.popleft()
        for m in range(len(MOVES)):
            nxt, _ = _step(rows, items, lap_of, st, m)
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
                if len(seen) > max_states:
                    raise MapError(f"more than max_states={max_states} reachable states; "
                                   "use fewer keys, chests or checkpoints, or a smaller map")
    states = tuple(sorted(seen, key=lambda t: (t.keys, t.chests, t.lap, t.row, t.col)))
    index = {st: i for i, st in enumerate(states)}
    S, A, M = len(states), len(MOVES), len(MOVES)
    nxt = np.empty((S, M), dtype=np.int64)
    ev = np.zeros((S, M, len(REWARD_NAMES)), dtype=np.int64)
    for s, st in enumerate(states):
        for m in range(M):
            st2, e = _step(rows, items, lap_of, st, m)
            nxt[s, m], ev[s, m] = index[st2], e

    slip_x = to_fraction(slip) if exact else float(slip)
    move_p = [[1 - slip_x if m == a else slip_x / 3 for m in range(M)] for a in range(A)]
    move_f = np.array(move_p, dtype=np.float64)  # move_f[a, m] = Pr(move m | action a)
    scale = np.ones(len(REWARD_NAMES))
    scale[_EVENT["laps"]] = 1.0 / max(len(laps), 1)
    named = np.einsum("smk,am->ksa", ev * scale, move_f)
    named_rewards = {}
    for k, name in enumerate(REWARD_NAMES):
        arr = np.ascontiguousarray(named[k])
        arr.setflags(write=False)
        named_rewards[name] = arr
    R = sum((float(w) * named_rewards[n] for n, w in weights.items()), np.zeros((S, A)))
    mu0 = np.zeros(S, dtype=object if exact else np.float64)
    for st in starts:
        mu0[index[st]] = Fraction(1, len(starts)) if exact else 1.0 / len(starts)
    s_idx, a_idx, m_idx = np.meshgrid(np.arange(S), np.arange(A), np.arange(M), indexing="ij")
    s_idx, a_idx, m_idx = s_idx.ravel(), a_idx.ravel(), m_idx.ravel()
    if exact:
        if sparse:
            raise MapError("exact (Fraction gamma) worlds are dense; use sparse=None or False")
        P = np.full((S, A, S), Fraction(0), dtype=object)
        R = np.full((S, A), Fraction(0), dtype=object)
        wx = {n: to_fraction(w) * (Fraction(1, max(len(laps), 1)) if n == "laps" else 1)
              for n, w in weights.items()}
        for s, a, m in zip(s_idx, a_idx, m_idx, strict=True):
            p = move_p[a][m]
            P[s, a, nxt[s, m]] += p
            R[s, a] += p * sum(wx[n] * int(ev[s, m, _EVENT[n]]) for n in wx)
    elif sparse or (sparse is None and S > 1000):
        nz = move_f[a_idx, m_idx] > 0
        s_idx, a_idx, m_idx = s_idx[nz], a_idx[nz], m_idx[nz]
        P = sp.csr_array((move_f[a_idx, m_idx], (s_idx * A + a_idx, nxt[s_idx, m_idx])),
                         shape=(S * A, S))
    else:
        P = np.zeros((S, A, S))
        np.add.at(P, (s_idx, a_idx, nxt[s_idx, m_idx]), move_f[a_idx, m_idx])
    mdp = TabularMDP(P, R, gamma=gamma, horizon=horizon, mu0=mu0)
    return Gridworld(rows=rows, mdp=mdp, rewards=MappingProxyType(named_rewards),
                     weights=MappingProxyType(dict(weights)), states=states, keys=keys,
                     chests=chests, checkpoints=laps, starts=tuple(st[:2] for st in starts),
                     slip=float(slip), _index=index)


def expected_count(world: Gridworld, policy, name: str, *, gamma=None) -> float:
    """Expected (discounted) number of ``name`` events per episode under ``policy``, exactly:

        E_π[Σ_{t<H} γᵗ R_name(s_t, a_t) | s_0 ~ μ0]   (H = ∞ without a horizon)

    by :func:`~mesabase.theory.expected_return` with ``reward=R_name`` (a linear solve or a
    backward recursion: no sampling). ``gamma`` overrides the world's γ: ``gamma=1`` with a
    finite horizon gives the plain expected count per episode (keys collected, chests
    opened, laps); γ = 1 without a horizon needs a goal or lava that ends every episode.

    Args:
      world: the gridworld; policy: ``pi[s, a]`` (S, A) or per-step (H, S, A);
      name: one of :data:`REWARD_NAMES`; gamma: ``None`` (the world's) or a discount.

    Example:
      >>> w = build_gridworld("S.kc", gamma=0.5)
      >>> east = np.tile([0.0, 0.0, 1.0, 0.0], (w.n_states, 1))
      >>> expected_count(w, east, "keys_collected"), expected_count(w, east, "chests_opened")
      (0.5, 0.25)
    """
    if name not in world.rewards:
        raise MapError(f"unknown reward {name!r}; choose from {', '.join(REWARD_NAMES)}")
    mdp = world.mdp
    if gamma is not None and not is_real(gamma):
        raise MapError(f"gamma must be None or a real number in [0, 1]; got {gamma!r}")
    if gamma is not None and float(gamma) != mdp.gamma:
        P = mdp.P_matrix if mdp.is_sparse else mdp.P
        mdp = TabularMDP(P, mdp.R, gamma=float(gamma), horizon=mdp.horizon, mu0=mdp.mu0)
    return expected_return(mdp, policy, reward=world.rewards[name])
