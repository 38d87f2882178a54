"""State-action features of gridworlds, defined the same way on every map.

φ(s, a) ∈ {0, 1}^d for a :class:`~mesabase.sims.envs.gridworld.Gridworld`, shape (S, A, d),
for the linear-softmax policy π_θ(a|s) ∝ exp φ(s, a)·θ. Every feature is defined from the
map's cells and the state's collected status only, never from state indices, so one θ ∈ R^d
gives a policy on any layout: train on one map, deploy on another.

Distances. d_T(x) is the breadth-first (4-neighbour) distance from cell x to the nearest
cell of a target set T, moving through non-wall, non-absorbing cells (targets themselves
may be absorbing, e.g. a goal); ∞ when no target is reachable. "The move approaches T"
means d_T(x′) < d_T(x), where x′ is the cell the *intended* move reaches (x itself when
blocked; slip is ignored). With T empty or unreachable the feature is 0.

Features (:data:`FEATURES`; states on a goal or lava cell have φ = 0, since every action
there is the same):

============================  =============================================================
``toward_key``                the move approaches the nearest key not yet taken
``toward_chest``              the move approaches the nearest unopened chest
``toward_chest_with_key``     ``toward_chest``, and at least one key is held
``toward_goal``               the move approaches the nearest goal
``toward_next_checkpoint``    the move approaches the next checkpoint in lap order (any
                              checkpoint before the first is credited)
``enters_checkpoint``         the move enters a checkpoint in its arrow's direction
``into_lava``                 the move enters a lava cell
``blocked``                   the move is blocked by a wall or the map's edge
``north`` … ``west``          the action is north / south / east / west (a bias per action)
============================  =============================================================

"A key is held" alone is not a feature: it is the same for every action of a state, so it
cancels in the softmax; it enters through ``toward_chest_with_key``.

Reference: R. S. Sutton and A. G. Barto, *Reinforcement Learning: An Introduction*, 2nd ed.,
2018, §9.5 and §13.2 (linear features, softmax in action preferences).
"""

from __future__ import annotations

from collections import deque

import numpy as np

from .gridmap import ABSORBING, ARROWS, MOVES, MapError
from .gridworld import Gridworld

__all__ = ["FEATURES", "FEATURE_NAMES", "grid_features", "distance_map"]

#: Feature name → meaning, in the default column order.
FEATURES = {
    "toward_key": "the move approaches the nearest key not yet taken",
    "toward_chest": "the move approaches the nearest unopened chest",
    "toward_chest_with_key": "the move approaches the nearest unopened chest, a key in hand",
    "toward_goal": "the move approaches the nearest goal",
    "toward_next_checkpoint": "the move approaches the next checkpoint in lap order",
    "enters_checkpoint": "the move enters a checkpoint in its arrow's direction",
    "into_lava": "the move enters a lava cell",
    "blocked": "the move is blocked by a wall or the edge",
    "north": "the action is north",
    "south": "the action is south",
    "east": "the action is east",
    "west": "the action is west",
}
FEATURE_NAMES = tuple(FEATURES)


def distance_map(world: Gridworld, targets) -> np.ndarray:
    """(height, width) BFS distances d_T(x) to the nearest target cell (∞ if none reachable).

    Paths run through non-wall, non-absorbing cells; target cells count 0 whatever they are.

    Example:
      >>> from mesabase.sims.envs.gridworld import build_gridworld
      >>> w = build_gridworld("S.#k")
      >>> distance_map(w, [(0, 0)]).tolist()
      [[0.0, 1.0, inf, inf]]
    """
    H, W = world.height, world.width
    dist = np.full((H, W), np.inf)
    queue = deque()
    for r, c in targets:
        dist[r, c] = 0.0
        queue.append((r, c))
    while queue:
        r, c = queue.popleft()
        for dr, dc in MOVES:
            y, x = r + dr, c + dc
            if (0 <= y < H and 0 <= x < W and dist[y, x] == np.inf
                    and world.rows[y][x] != "#" and world.rows[y][x] not in ABSORBING):
                dist[y, x] = dist[r, c] + 1.0
                queue.append((y, x))
    return dist


def grid_features(world: Gridworld, names=FEATURE_NAMES) -> np.ndarray:
    """φ[s, a, k] ∈ {0, 1} for the features ``names`` (columns in that order), (S, 4, d).

    Args:
      world: the gridworld.
      names: a sequence of names from :data:`FEATURE_NAMES` (default: all, in order).

    Example:
      >>> from mesabase.sims.envs.gridworld import build_gridworld
      >>> w = build_gridworld("S.k")
      >>> phi = grid_features(w, ["toward_key", "blocked"])
      >>> phi[w.encode(0, 0)].tolist()   # north, south, east, west from the start
      [[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [0.0, 1.0]]
    """
    names = tuple(names)
    for n in names:
        if n not in FEATURES:
            raise MapError(f"unknown feature {n!r}; choose from {', '.join(FEATURE_NAMES)}")
    if not names:
        raise MapError("names must list at least one feature")
    cache: dict[frozenset, np.ndarray] = {}

    def dist(targets) -> np.ndarray:
        key = frozenset(targets)
        if key not in cache:
            cache[key] = distance_map(world, key)
        return cache[key]

    goals = [(r, c) for r, row in enumerate(world.rows) for c, ch in enumerate(row) if ch == "G"]
    n_cp = len(world.checkpoints)
    A = world.n_actions
    phi = np.zeros((world.n_states, A, len(names)))
    col = {n: k for k, n in enumerate(names)}
    for s, st in enumerate(world.states):
        if world.rows[st.row][st.col] in ABSORBING:
            continue
        keys_left = [rc for i, rc in enumerate(world.keys) if not st.keys >> i & 1]
        chests_left = [rc for j, rc in enumerate(world.chests) if not st.chests >> j & 1]
        if n_cp == 0:
            next_cp = []
        elif st.lap == -1:
            next_cp = list(world.checkpoints)
        else:
            next_cp = [world.checkpoints[(st.lap + 1) % n_cp]]
        d = {"toward_key": dist(keys_left), "toward_chest": dist(chests_left),
             "toward_goal": dist(goals), "toward_next_checkpoint": dist(next_cp)}
        for a in range(A):
            r, c = world.destination(st.row, st.col, a)
            ch = world.rows[r][c]
            moved = (r, c) != (st.row, st.col)
            vals = {n: float(D[r, c] < D[st.row, st.col]) for n, D in d.items()}
            vals["toward_chest_with_key"] = vals["toward_chest"] * (st.held > 0)
            vals["enters_checkpoint"] = float(moved and ARROWS.get(ch) == a)
            vals["into_lava"] = float(moved and ch == "L")
            vals["blocked"] = float(not moved)
            for b, n in enumerate(("north", "south", "east", "west")):
                vals[n] = float(a == b)
            for n, k in col.items():
                phi[s, a, k] = vals[n]
    phi.setflags(write=False)
    return phi
