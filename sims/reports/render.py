"""Pictures of gridworlds: maps, values and policies, as text and as matplotlib figures.

Text renderers return one line per map row. Value and policy renderers show the states
with one *collected status* (which keys are taken, which chests opened, the last lap
checkpoint): ``collected`` is ``None`` (nothing collected: the starts' status), a tuple
``(keys, chests)`` or ``(keys, chests, lap)`` of the bitmasks of
:class:`~mesabase.sims.envs.gridworld.GridState`, a dict with some of those fields, or a
GridState. Cells with no state of that status (walls, places the status cannot occur)
show ``#`` (wall) or ``·`` (none).

Policies show, per cell, the most likely action as an arrow ↑ ↓ → ← (the action order
north, south, east, west), ``+`` when several actions tie (within 1e-9: argmax is a set),
and the map letter on goal and lava cells (absorbing: every action is the same).

Figures use the Okabe–Ito palette (distinguishable under the common colour-vision
deficiencies) for cells, viridis for values, and carry a letter in every item cell so that
they also read in greyscale. Every plot function draws on ``ax`` (a new figure sized for a
blog column when ``None``) and returns the Axes; ``ax.figure.savefig(...)`` saves it.

Reference: M. Okabe and K. Ito, "Color Universal Design (CUD): how to make figures and
presentations that are friendly to colorblind people" (2002), https://jfly.uni-koeln.de/color/.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..envs.gridmap import ARROWS
from ..envs.gridworld import GridState, Gridworld

__all__ = ["OKABE_ITO", "CELL_COLOURS", "ARROW_GLYPHS", "TILE_NAMES", "TIE_TOL",
           "collected_status", "render_map",
           "render_values", "render_policy", "describe_collected", "plot_map", "plot_values",
           "plot_policy", "legend_handles"]

#: The Okabe–Ito colour-blind-safe palette.
OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9", "bluish_green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish_purple": "#CC79A7",
}
#: Fill colour of each map character.
CELL_COLOURS = {
    "#": "#3A3A3A", ".": "#F4F4F4", "S": OKABE_ITO["sky_blue"], "G": OKABE_ITO["bluish_green"],
    "L": OKABE_ITO["vermillion"], "k": OKABE_ITO["yellow"], "c": OKABE_ITO["orange"],
    "^": OKABE_ITO["blue"], "v": OKABE_ITO["blue"], ">": OKABE_ITO["blue"], "<": OKABE_ITO["blue"],
}
#: Glyphs for actions north, south, east, west.
ARROW_GLYPHS = ("↑", "↓", "→", "←")
_LABELS = {"S": "S", "G": "G", "L": "L", "k": "k", "c": "c",
           "^": "↑", "v": "↓", ">": "→", "<": "←"}
#: Actions within this of the most likely one tie (argmax is a set): glyph ``+``.
TIE_TOL = 1e-9
#: Legend text of each kind of tile (the four checkpoint arrows share one entry).
TILE_NAMES = {
    "S": "start (S)", ".": "floor", "#": "wall", "k": "key (k)",
    "c": "chest (c): opening it uses a key", "G": "goal (G): ends the episode",
    "L": "lava (L): ends the episode",
    "^": "checkpoint (↑ ↓ → ←): credited when entered in the arrow's direction",
}
#: The wash over cells with no state of the status shown: the tile's colour shows through,
#: faded and hatched.
_UNREACHED = {"facecolor": (1.0, 1.0, 1.0, 0.55), "hatch": "///", "edgecolor": "#666666",
              "linewidth": 0.0}
_RING = OKABE_ITO["yellow"]


def collected_status(world: Gridworld, collected) -> tuple[int, int, int]:
    """``collected`` (None, (keys, chests[, lap]), a dict or a GridState; see the module
    docstring) as the tuple (keys, chests, lap) of bitmasks and lap index."""
    if collected is None:
        return 0, 0, -1
    if isinstance(collected, GridState):
        return collected.keys, collected.chests, collected.lap
    if isinstance(collected, Mapping):
        extra = set(collected) - {"keys", "chests", "lap"}
        if extra:
            raise ValueError(f"collected has unknown fields {sorted(extra)}; "
                             "use keys, chests, lap")
        return (int(collected.get("keys", 0)), int(collected.get("chests", 0)),
                int(collected.get("lap", -1)))
    t = tuple(int(x) for x in collected)
    if len(t) not in (2, 3):
        raise ValueError(f"collected must be (keys, chests) or (keys, chests, lap); got {t}")
    return t if len(t) == 3 else (*t, -1)


def _n_of(k: int, n: int, noun: str, verb: str) -> str:
    return f"{k} of {n} {noun}{'' if n == 1 else 's'} {verb}"


def describe_collected(world: Gridworld, collected=None) -> str:
    """The collected status in words, for titles: how many of the world's keys are taken,
    chests opened, and which checkpoint (in lap order) was credited last; only the kinds
    of item the world has.

    Example:
      >>> from mesabase.sims.envs.gridworld import build_gridworld
      >>> w = build_gridworld("#S.kkck#")
      >>> describe_collected(w, (0b100, 0))          # the bitmask 100: the third key
      '1 of 3 keys taken, 0 of 1 chest opened'
    """
    keys, chests, lap = collected_status(world, collected)
    parts = []
    if world.keys:
        parts.append(_n_of(keys.bit_count(), len(world.keys), "key", "taken"))
    if world.chests:
        parts.append(_n_of(chests.bit_count(), len(world.chests), "chest", "opened"))
    if world.checkpoints:
        n = len(world.checkpoints)
        parts.append("no checkpoint credited yet" if lap < 0 else
                     f"checkpoint {lap + 1} of {n} (outlined) credited last")
    return ", ".join(parts) if parts else "nothing to collect"


def _grid(world: Gridworld, collected) -> np.ndarray:
    keys, chests, lap = collected_status(world, collected)
    grid = world.state_grid(keys, chests, lap)
    if (grid < 0).all():
        raise ValueError(f"no state of this world has keys={keys}, chests={chests}, lap={lap}")
    return grid


def _at_t(a, name: str, world: Gridworld, ndim: int, t: int) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == ndim + 1:
        a = a[t]
    if a.ndim != ndim or a.shape[0] != world.n_states:
        want = "(S,)" if ndim == 1 else "(S, A)"
        raise ValueError(f"{name} must have shape {want} with S = {world.n_states} (or a "
                         f"leading time axis); got {np.shape(a)}")
    return a


def _item_rows(world: Gridworld, state: GridState | None) -> list[list[str]]:
    """The map's characters, with taken keys and opened chests shown as floor ('.')."""
    rows = [list(r) for r in world.rows]
    if state is not None:
        for i, (r, c) in enumerate(world.keys):
            if state.keys >> i & 1:
                rows[r][c] = "."
        for j, (r, c) in enumerate(world.chests):
            if state.chests >> j & 1:
                rows[r][c] = "."
    return rows


def render_map(world: Gridworld, state: int | None = None) -> str:
    """The ASCII map (``world.to_ascii()``); with ``state`` (an index), ``A`` marks the
    agent and taken keys and opened chests are shown as floor.

    Example:
      >>> from mesabase.sims.envs.gridworld import build_gridworld
      >>> w = build_gridworld("S.kc")
      >>> print(render_map(w, w.encode(0, 2, keys=1)))
      S.Ac
    """
    if state is None:
        return world.to_ascii()
    st = world.decode(state)
    rows = _item_rows(world, st)
    rows[st.row][st.col] = "A"
    return "\n".join("".join(r) for r in rows)


def render_values(world: Gridworld, V, collected=None, *, digits: int = 2, t: int = 0) -> str:
    """V(s) on the map for the states of one collected status, right-aligned in columns.

    Args:
      V: values (S,), or (H+1, S) of a finite-horizon solve (row ``t`` is shown).
      collected: the collected status (see the module docstring).
      digits: decimals shown.

    Example:
      >>> from mesabase.sims.envs.gridworld import build_gridworld
      >>> from mesabase.theory import solve
      >>> w = build_gridworld("S.kc", gamma=0.5)
      >>> print(render_values(w, solve(w.mdp).V, collected=(1, 0)))
      0.25 0.50 1.00    ·
    """
    V = _at_t(V, "V", world, 1, t)
    grid = _grid(world, collected)
    cells = [[f"{V[s]:.{digits}f}" if s >= 0 else ("#" if world.rows[r][c] == "#" else "·")
              for c, s in enumerate(row)] for r, row in enumerate(grid)]
    width = max(len(x) for row in cells for x in row)
    return "\n".join(" ".join(x.rjust(width) for x in row) for row in cells)


def _policy_glyph(p: np.ndarray) -> str:
    best = np.flatnonzero(p >= p.max() - TIE_TOL)
    return ARROW_GLYPHS[best[0]] if best.size == 1 else "+"


def render_policy(world: Gridworld, pi, collected=None, *, t: int = 0) -> str:
    """The most likely action per cell (↑ ↓ → ←, ``+`` for a tie), for one collected status.

    Args:
      pi: policy (S, A), or per-step (H, S, A) (step ``t`` is shown).

    Example:
      >>> from mesabase.sims.envs.gridworld import build_gridworld
      >>> from mesabase.theory import solve
      >>> w = build_gridworld("#S.kcG#", gamma=0.9)
      >>> pi = solve(w.mdp).policy
      >>> print(render_policy(w, pi))                      # nothing collected yet
      #→→···#
      >>> print(render_policy(w, pi, collected=(1, 1)))    # key taken, chest opened
      #→→→→G#
    """
    pi = _at_t(pi, "pi", world, 2, t)
    grid = _grid(world, collected)
    out = []
    for r, row in enumerate(grid):
        line = []
        for c, s in enumerate(row):
            ch = world.rows[r][c]
            if ch == "#":
                line.append("#")
            elif s < 0:
                line.append("·")
            elif ch in ("G", "L"):
                line.append(ch)
            else:
                line.append(_policy_glyph(pi[s]))
        out.append("".join(line))
    return "\n".join(out)


# ---- matplotlib --------------------------------------------------------------------------
def _axes(world: Gridworld, ax, extra_width: float = 0.0):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    cell = min(0.6, 6.5 / max(world.width, 1))
    fig, ax = plt.subplots(figsize=(cell * world.width + 0.4 + extra_width,
                                    cell * world.height + 0.5), layout="constrained")
    return ax


def _frame(ax, world: Gridworld, title: str | None):
    H, W = world.height, world.width
    ax.set_xlim(-0.5, W - 0.5)
    ax.set_ylim(H - 0.5, -0.5)
    ax.set_aspect("equal")
    ax.set_xticks(np.arange(-0.5, W, 1.0), minor=True)
    ax.set_yticks(np.arange(-0.5, H, 1.0), minor=True)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(which="minor", color="white", linewidth=1.5)
    ax.tick_params(which="both", length=0)
    if title:
        ax.set_title(title)


def _draw_cells(ax, world: Gridworld, state: GridState | None, fontsize: float,
                corner: bool = False):
    """Coloured cells with their letters (centred, or small in the top-left corner so that
    arrows drawn over the cell stay readable)."""
    from matplotlib.colors import to_rgb

    rows = _item_rows(world, state)
    img = np.array([[to_rgb(CELL_COLOURS[ch]) for ch in row] for row in rows])
    ax.imshow(img, interpolation="nearest")
    for r, row in enumerate(rows):
        for c, ch in enumerate(row):
            if ch in _LABELS:
                small = corner and ch not in ("G", "L")  # no arrows on absorbing cells
                dx, fs = (-0.3, 0.65 * fontsize) if small else (0.0, fontsize)
                fs *= 1.6 if ch in ARROWS else 1.0  # arrow glyphs are small in most fonts
                colour = "white" if ch in "^v<>GL" else "black"
                ax.text(c + dx, r + dx, _LABELS[ch], ha="center", va="center", color=colour,
                        fontsize=fs, fontweight="bold", zorder=4)


def _fontsize(ax) -> float:
    w_in = ax.figure.get_size_inches()[0]
    return float(np.clip(w_in * 2.2, 8, 12))


def plot_map(world: Gridworld, ax=None, *, state: int | None = None, title: str | None = None):
    """The map as coloured cells with letters; with ``state``, the agent as a black dot.
    Returns the Axes."""
    ax = _axes(world, ax)
    st = None if state is None else world.decode(state)
    _draw_cells(ax, world, st, _fontsize(ax))
    if st is not None:
        ax.plot(st.col, st.row, "o", markersize=22, markerfacecolor="none",
                markeredgecolor=OKABE_ITO["black"], markeredgewidth=2.5, zorder=5)
    _frame(ax, world, title)
    return ax


def plot_values(world: Gridworld, V, collected=None, ax=None, *, title: str | None = None,
                t: int = 0, digits: int = 2, cmap: str = "viridis"):
    """V(s) as a heat map (viridis) with the numbers written in, for one collected status;
    walls dark grey, cells with no such state light grey. Returns the Axes."""
    V = _at_t(V, "V", world, 1, t)
    grid = _grid(world, collected)
    ax = _axes(world, ax, extra_width=1.0)
    vals = np.where(grid >= 0, V[np.maximum(grid, 0)], np.nan)
    masked = np.ma.masked_invalid(vals)
    import matplotlib

    cm = matplotlib.colormaps[cmap].with_extremes(bad=CELL_COLOURS["#"])
    im = ax.imshow(masked, cmap=cm, interpolation="nearest")
    ax.figure.colorbar(im, ax=ax, shrink=0.8)
    lo, hi = (float(np.nanmin(vals)), float(np.nanmax(vals))) if masked.count() else (0.0, 1.0)
    fs = _fontsize(ax) * 0.8
    for r, row in enumerate(grid):
        for c, s in enumerate(row):
            if s >= 0:
                light = (V[s] - lo) / (hi - lo) > 0.6 if hi > lo else True
                ax.text(c, r, f"{V[s]:.{digits}f}", ha="center", va="center", fontsize=fs,
                        color="black" if light else "white")
            elif world.rows[r][c] != "#":
                ax.add_patch(_square(c, r, "#DDDDDD"))
    _frame(ax, world, title)
    return ax


def _unreached(c, r):
    from matplotlib.patches import Rectangle

    return Rectangle((c - 0.5, r - 0.5), 1.0, 1.0, zorder=1, **_UNREACHED)


def _square(c, r, colour, alpha: float = 1.0):
    from matplotlib.patches import Rectangle

    return Rectangle((c - 0.5, r - 0.5), 1.0, 1.0, facecolor=colour, edgecolor="none",
                     alpha=alpha, zorder=1)


def plot_policy(world: Gridworld, pi, collected=None, ax=None, *, title: str | None = None,
                t: int = 0, min_prob: float = 0.02):
    """The policy on the map for one collected status: from each cell's centre, an arrow
    per action of length ∝ π(a|s) (actions below ``min_prob`` omitted), so ties and
    stochastic policies show. Taken keys and opened chests are drawn as floor; cells with
    no such state are faded and hatched; the checkpoint credited last (lap ≥ 0) is outlined
    in yellow. Returns the Axes (:func:`legend_handles` explains the tiles and glyphs)."""
    pi = _at_t(pi, "pi", world, 2, t)
    keys, chests, lap = collected_status(world, collected)
    grid = _grid(world, collected)
    ax = _axes(world, ax)
    _draw_cells(ax, world, GridState(0, 0, keys, chests, lap), _fontsize(ax), corner=True)
    X, Y, U, Vv = [], [], [], []
    for r, row in enumerate(grid):
        for c, s in enumerate(row):
            if s < 0:
                if world.rows[r][c] != "#":
                    ax.add_patch(_unreached(c, r))
                continue
            if world.rows[r][c] in ("G", "L"):
                continue
            for a, (dr, dc) in enumerate(((-1, 0), (1, 0), (0, 1), (0, -1))):
                if pi[s, a] >= min_prob:
                    X.append(c)
                    Y.append(r)
                    U.append(0.45 * dc * pi[s, a])
                    Vv.append(0.45 * dr * pi[s, a])
    if X:
        ax.quiver(X, Y, U, Vv, angles="xy", scale_units="xy", scale=1.0, units="xy",
                  width=0.06, headwidth=3.0, headlength=3.0, headaxislength=2.6,
                  color=OKABE_ITO["black"], zorder=3)
    if 0 <= lap < len(world.checkpoints):
        r, c = world.checkpoints[lap]
        ax.add_patch(_ring(c, r))
    _frame(ax, world, title)
    return ax


def _ring(c, r):
    from matplotlib.patches import Rectangle

    return Rectangle((c - 0.44, r - 0.44), 0.88, 0.88, fill=False, edgecolor=_RING,
                     linewidth=2.5, zorder=5)


def legend_handles(worlds, *, policy: bool = True, greyed: bool = False,
                   taken: bool = False, outlined: bool = False) -> list:
    """Legend handles for gridworld pictures: one per kind of tile found in ``worlds`` (an
    iterable of Gridworlds), in the colours of :data:`CELL_COLOURS`, then the glyphs:
    ``policy`` the action arrows of :func:`plot_policy`; ``greyed`` the hatched wash of
    cells with no state of the status shown; ``taken`` that taken keys and opened chests are
    drawn as floor; ``outlined`` the outline of the last credited checkpoint. Use as
    ``fig.legend(handles=legend_handles([world]))``."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    chars = {ch for w in worlds for row in w.rows for ch in row}
    chars = {"^" if ch in ARROWS else ch for ch in chars}
    handles = []
    for ch, name in TILE_NAMES.items():
        if ch in chars:
            if ch == "." and taken:
                name = "floor (also a taken key or an opened chest)"
            handles.append(Patch(facecolor=CELL_COLOURS[ch], edgecolor="#888888", label=name))
    if greyed:
        handles.append(Patch(**{**_UNREACHED, "linewidth": 0.8},
                             label="hatched: never reached with this status"))
    if outlined:
        handles.append(Line2D([], [], linestyle="none", marker="s", markersize=11,
                              markerfacecolor="none", markeredgecolor=_RING,
                              markeredgewidth=2.5,
                              label="checkpoint credited last (outlined)"))
    if policy:
        handles.append(Line2D([], [], linestyle="none", marker=r"$\rightarrow$",
                              markersize=13, color=OKABE_ITO["black"],
                              label=r"one arrow per action, length $\propto \pi(a \mid s)$"))
    return handles
