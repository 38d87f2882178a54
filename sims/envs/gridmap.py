"""ASCII maps for gridworlds: the cell characters, parsing with located errors, lap order.

Characters (one per cell; rows of equal length; blank edge lines and indentation are
ignored)::

    #  wall        .  floor        S  start (floor; μ0 is uniform over the starts)
    G  goal        L  lava         (both absorbing: entering ends the episode)
    k  key         c  chest        (a chest opens only with a key, which it uses up)
    > < ^ v        checkpoint, credited when entered *in the arrow's direction*

Lap order of the checkpoints (:func:`lap_order`): by their angle round the centroid of the
checkpoint cells, in the sense (clockwise or anticlockwise) in which every arrow turns
about that centroid. This fits loops such as the boat race of Leike et al. (2017); for
other shapes pass the order by hand.

Reference: J. Leike et al., "AI Safety Gridworlds", arXiv:1711.09883 (2017).
"""

from __future__ import annotations

import math
import textwrap

import numpy as np

__all__ = ["MapError", "CELLS", "MOVES", "ARROWS", "ABSORBING", "parse_map", "find_cells",
           "lap_order"]

#: Cell characters and their meaning.
CELLS = {
    "#": "wall", ".": "floor", "S": "start", "G": "goal", "L": "lava", "k": "key",
    "c": "chest", "^": "checkpoint north", "v": "checkpoint south", ">": "checkpoint east",
    "<": "checkpoint west",
}
#: (Δrow, Δcol) of actions 0..3, the order of ``theory.examples.GRID_ACTIONS``:
#: north, south, east, west.
MOVES = ((-1, 0), (1, 0), (0, 1), (0, -1))
#: Checkpoint character → the action (direction) that credits it.
ARROWS = {"^": 0, "v": 1, ">": 2, "<": 3}
#: Cells that end the episode when entered.
ABSORBING = ("G", "L")


class MapError(ValueError):
    """The ASCII map or a build option is malformed; the message says where."""


def parse_map(ascii_map: str) -> tuple[str, ...]:
    """The rows of an ASCII map, validated: known characters, equal lengths, a start.

    Example:
      >>> parse_map('''
      ...     S.kc
      ... ''')
      ('S.kc',)
    """
    if not isinstance(ascii_map, str):
        raise TypeError(f"the map must be a str; got {type(ascii_map).__name__}")
    rows = [ln.strip() for ln in textwrap.dedent(ascii_map).split("\n")]
    while rows and not rows[0]:
        rows.pop(0)
    while rows and not rows[-1]:
        rows.pop()
    if not rows:
        raise MapError("the map is empty")
    for i, row in enumerate(rows):
        if len(row) != len(rows[0]):
            raise MapError(
                f"ragged map: row {i} ({row!r}) has {len(row)} characters but row 0 has "
                f"{len(rows[0])}; every row must have the same length"
            )
        for j, ch in enumerate(row):
            if ch not in CELLS:
                raise MapError(f"unknown character {ch!r} at row {i}, column {j}; "
                               f"allowed: {' '.join(CELLS)}")
    if not any("S" in row for row in rows):
        raise MapError("the map has no start cell 'S'")
    return tuple(rows)


def find_cells(rows, chars) -> tuple[tuple[int, int], ...]:
    return tuple((i, j) for i, row in enumerate(rows) for j, ch in enumerate(row) if ch in chars)


def lap_order(rows, cells, order) -> tuple[tuple[int, int], ...]:
    """Checkpoint cells in lap order: by hand (``order``) or by angle round the centroid."""
    if order is not None:
        order = tuple((int(r), int(c)) for r, c in order)
        if sorted(order) != sorted(cells):
            raise MapError(f"checkpoint_order must list each checkpoint cell exactly once; "
                           f"got {list(order)}, the checkpoints are {sorted(cells)}")
        return order
    if len(cells) <= 1:
        return cells
    cx = np.mean([c for _, c in cells])
    cy = np.mean([-r for r, _ in cells])
    keyed, senses = [], set()
    for r, c in cells:
        x, y = c - cx, -r - cy
        dr, dc = MOVES[ARROWS[rows[r][c]]]
        cross = x * (-dr) - y * dc  # z of (position − centroid) × direction, y pointing up
        if abs(cross) < 1e-12:
            raise MapError(f"cannot infer the lap order: checkpoint {rows[r][c]!r} at ({r}, {c}) "
                           "points towards or away from the track's centre; pass "
                           "checkpoint_order=[(row, col), ...]")
        senses.add(cross > 0)
        keyed.append((math.atan2(y, x), (r, c)))
    if len(senses) > 1:
        raise MapError("cannot infer the lap order: the checkpoints do not all turn the same "
                       "way round the centre; pass checkpoint_order=[(row, col), ...]")
    anticlockwise = senses.pop()
    keyed.sort(key=lambda t: t[0] if anticlockwise else -t[0])
    return tuple(rc for _, rc in keyed)


