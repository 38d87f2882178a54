"""Figures for posts, drawn from saved tidy tables (never only from a live run).

Every ``plot_*`` function takes a pandas DataFrame in the tidy format documented on it (the
tables of :mod:`mesabase.sims.attribution.analysis` and the ``*_frame`` helpers here) and returns a
:class:`matplotlib.figure.Figure`; :func:`save_figure` writes it as PNG and SVG. Figures are
built without pyplot (no global figure registry, no backend needed) under one fixed style,
:data:`STYLE`, applied on top of matplotlib's defaults so that a figure looks, and rasterises,
the same whatever the user's matplotlibrc:

* blog width: 7 in wide (:data:`BLOG_WIDTH`), saved at :data:`BLOG_DPI` = 200 dpi, i.e. 1400 px,
  which a 700 px column shows at 2x; text ≥ 10 pt (≈ 14 px in the column);
* the Okabe–Ito colour-blind-safe palette (:data:`~mesabase.sims.reports.render.OKABE_ITO`),
  with line
  styles and hatches doubling every colour so that figures also read in greyscale;
* DejaVu Sans (bundled with matplotlib), a fixed ``svg.hashsalt`` and no SVG date, so that the
  same table gives the same bytes of SVG and the same pixels of PNG for one matplotlib version.

Colours: outer terms are warm (misspecification vermillion, data orange, ambiguity reddish
purple), the inner term blue (learner gap), the total black; the learner blue and π*_t
vermillion. The decomposition over time is drawn by :mod:`.gap_figures`, the outer/inner
dichotomy of behaviours by :mod:`.dichotomy`.

For a post: every figure's title names its scenario; symbols are matplotlib mathtext
(``$J_I$``, ``$\\pi_{\\theta_t}$``, ``$\\pi^*_t$``), never literal underscores; no panel shows
more than :data:`MAX_BANDS` confidence bands (a crowded figure is split into panels or its
bands thinned); gridworld maps carry a legend of their tiles and glyphs and say in words what
was collected (:func:`~mesabase.sims.reports.render.describe_collected`), not as bitmasks.

Reference: M. Okabe and K. Ito, "Color Universal Design (CUD)" (2002),
https://jfly.uni-koeln.de/color/; the figures-from-logged-tables split follows bsuite's
``analysis.py`` (I. Osband et al., "Behaviour Suite for Reinforcement Learning", ICLR 2020).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from pathlib import Path

import matplotlib
import matplotlib.style
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from mesabase.theory.attribution.gaps import proportion

from ..envs.gridworld import Gridworld
from .render import (
    ARROW_GLYPHS,
    OKABE_ITO,
    TIE_TOL,
    collected_status,
    describe_collected,
    legend_handles,
    plot_policy,
)

__all__ = ["STYLE", "BLOG_WIDTH", "BLOG_DPI", "MAX_BANDS", "simplex_frame", "plot_simplex",
           "policy_frame", "plot_gridworld_policies", "plot_behaviours", "save_figure",
           "styled", "new_figure", "need_columns", "environment_order", "scenario_title"]

#: Figure width in inches, and the PNG resolution: 7 in × 200 dpi = 1400 px.
BLOG_WIDTH = 7.0
BLOG_DPI = 200
#: At most this many confidence bands in one panel: more overlap into an unreadable wash.
MAX_BANDS = 4
#: The fixed style every figure is drawn and saved under (on top of matplotlib's defaults).
STYLE = {
    "font.family": "DejaVu Sans", "font.size": 11, "axes.titlesize": 12,
    "axes.labelsize": 11, "xtick.labelsize": 10, "ytick.labelsize": 10,
    "legend.fontsize": 10, "figure.titlesize": 13, "lines.linewidth": 2.0,
    "axes.spines.top": False, "axes.spines.right": False, "axes.grid": True,
    "grid.color": "#DDDDDD", "grid.linewidth": 0.8, "svg.hashsalt": "mesabase",
    "svg.fonttype": "path", "text.hinting": "default", "figure.dpi": 100,
    "savefig.dpi": BLOG_DPI, "savefig.facecolor": "white", "path.simplify": False,
}
_WHO = {"learner": (r"learner $\pi_{\theta_t}$", OKABE_ITO["blue"]),
        "shadow": (r"$\pi^*_t$ (history optimum)", OKABE_ITO["vermillion"])}
_SHADOW_SIMPLEX = r"$\pi^*_t$ (larger square: more recorded steps there)"
_LABEL_STYLE = {"outer": (OKABE_ITO["vermillion"], "//"), "inner": (OKABE_ITO["blue"], ".."),
                "none": ("#BBBBBB", "")}
_MOVES = ("north", "south", "east", "west")


def styled(fn):
    """Run ``fn`` under :data:`STYLE` on top of matplotlib's defaults."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with matplotlib.style.context(STYLE, after_reset=True):
            return fn(*args, **kwargs)
    return wrapper


def need_columns(df, columns, name: str) -> pd.DataFrame:
    """``df``, checked to be a non-empty DataFrame with ``columns`` (errors name it)."""
    if not isinstance(df, pd.DataFrame):
        raise TypeError(f"{name} must be a pandas DataFrame; got {type(df).__name__}")
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{name} lacks the columns {missing}; it has {list(df.columns)}")
    if df.empty:
        raise ValueError(f"{name} is empty")
    return df


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free Figure of ``width`` × ``height`` inches, constrained layout."""
    return Figure(figsize=(width, height), layout="constrained")


def scenario_title(df: pd.DataFrame) -> str:
    """The table's scenario name(s) for a title ("" when it has no scenario column)."""
    return ", ".join(map(str, dict.fromkeys(df["scenario"]))) if "scenario" in df else ""


def environment_order(values) -> list:
    """Environment names in reading order: train, deploy, then the rest by name."""
    order = {"train": 0, "deploy": 1}
    return sorted(values, key=lambda e: (order.get(e, 2), str(e)))


# ---- bandit trajectories on the simplex --------------------------------------------------
def simplex_frame(run, state: int = 0) -> pd.DataFrame:
    """A 3-action Run's policies at ``state`` (a bandit's only state) as a tidy table: one row
    per seed × recorded step × who, columns seed, step, who ("learner": π_θt from
    ``run.policies``; "shadow": π*_t from ``run.shadow_policies``, absent without a shadow),
    p0, p1, p2 (the action probabilities)."""
    pol = np.asarray(run.policies)
    if pol.ndim != 4 or pol.shape[-1] != 3:
        raise ValueError(f"simplex_frame needs policies (N, R, S, 3); got {pol.shape}")
    if not 0 <= state < pol.shape[2]:
        raise ValueError(f"state {state} out of range 0..{pol.shape[2] - 1}")
    parts = [("learner", pol)]
    if run.shadow_policies is not None:
        parts.append(("shadow", np.asarray(run.shadow_policies)))
    N, R = pol.shape[:2]
    frames = [pd.DataFrame({"seed": np.repeat(run.seeds, R), "step": np.tile(run.steps, N),
                            "who": who, **{f"p{i}": p[:, :, state, i].ravel() for i in range(3)}})
              for who, p in parts]
    return pd.concat(frames, ignore_index=True)


_CORNERS = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, math.sqrt(3) / 2]])


def _simplex_xy(p) -> np.ndarray:
    """Barycentric → plane: (x, y) = Σᵢ pᵢ vᵢ, v₀ = (0, 0), v₁ = (1, 0), v₂ = (½, √3/2)."""
    return np.asarray(p, dtype=np.float64) @ _CORNERS


@styled
def plot_simplex(simplex_df: pd.DataFrame, seeds=None, max_seeds: int = 3) -> Figure:
    """Trajectories of the learner and of π*_t on the 2-simplex, one triangle per seed.

    ``simplex_df``: columns seed, step, who ("learner" | "shadow"), p0, p1, p2 (see
    :func:`simplex_frame`), and optionally scenario (named in the title). The learner is a
    line from ○ (first recorded step) to ● (last); π*_t, piecewise constant, is a hollow
    square at each point it visits, of area 40 + 260·(fraction of recorded steps spent
    there) pt². ``seeds``: which to draw (default: the first ``max_seeds``).
    """
    df = need_columns(simplex_df, ["seed", "step", "who", "p0", "p1", "p2"], "simplex_df")
    chosen = sorted(df["seed"].unique())[:max_seeds] if seeds is None else list(seeds)
    absent = [s for s in chosen if s not in set(df["seed"])]
    if absent:
        raise ValueError(f"seeds {absent} are not in simplex_df")
    fig = new_figure(BLOG_WIDTH, BLOG_WIDTH / max(len(chosen), 2) * 0.95 + 0.8)
    axes = fig.subplots(1, len(chosen), squeeze=False)[0]
    for ax, seed in zip(axes, chosen, strict=True):
        ax.fill(*_CORNERS.T, facecolor="#F4F4F4", edgecolor="#555555", linewidth=1.0)
        for i, (x, y) in enumerate(_CORNERS):
            ax.annotate(f"arm {i}", (x, y), ha="center", va="top" if y == 0 else "bottom",
                        xytext=(0, -6 if y == 0 else 12), textcoords="offset points")
        d = df[df["seed"] == seed].sort_values("step")
        for who, g in d.groupby("who", sort=True):
            label, colour = _WHO.get(who, (str(who), OKABE_ITO["black"]))
            xy = _simplex_xy(g[["p0", "p1", "p2"]].to_numpy())
            if who == "shadow":
                pts, counts = np.unique(np.round(xy, 9), axis=0, return_counts=True)
                ax.scatter(pts[:, 0], pts[:, 1], s=40 + 260 * counts / counts.sum(),
                           marker="s", facecolors="none", edgecolors=colour, linewidths=2,
                           label=_SHADOW_SIMPLEX, zorder=3)
            else:
                ax.plot(xy[:, 0], xy[:, 1], "-", color=colour, label=label, zorder=4)
                ax.plot(*xy[0], "o", color=colour, markerfacecolor="white", zorder=5,
                        label="first recorded step")
                ax.plot(*xy[-1], "o", color=colour, zorder=5, label="last recorded step")
        ax.set_title(f"seed {seed}")
        ax.set_aspect("equal")
        ax.set_xlim(-0.12, 1.12)
        ax.set_ylim(-0.16, 1.08)
        ax.axis("off")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=2, frameon=False)
    scen = scenario_title(df)
    fig.suptitle(f"{scen}: " * bool(scen) + "bandit policy on the probability simplex\n"
                 "(corner = all mass on one arm)")
    return fig


# ---- gridworld policies, train vs deployment ---------------------------------------------
def policy_frame(world: Gridworld, pi, who: str, environment: str,
                 collected=None) -> pd.DataFrame:
    """The policy ``pi`` (S, A) at the states of one collected status as a tidy table, one
    row per state: who, environment, state, row, col, keys, chests, lap (the status, as in
    :mod:`~mesabase.sims.reports.render`), action (the first most likely action: 0 north, 1 south,
    2 east, 3 west), glyph (↑ ↓ → ←, or + when several tie within 1e-9), prob (its
    probability), p_north, p_south, p_east, p_west (the whole row π(·|s))."""
    pi = np.asarray(pi, dtype=np.float64)
    if pi.shape != (world.n_states, world.n_actions):
        raise ValueError(f"pi must have shape (S, A) = {(world.n_states, world.n_actions)}; "
                         f"got {pi.shape}")
    bad = ~np.isfinite(pi).all(axis=1) | (pi < 0).any(axis=1)
    if bad.any():
        s = int(np.flatnonzero(bad)[0])
        raise ValueError(f"pi[{s}] = {pi[s]} is not a probability row")
    keys, chests, lap = collected_status(world, collected)
    grid = world.state_grid(keys, chests, lap)
    states = np.sort(grid[grid >= 0])
    if states.size == 0:
        raise ValueError(f"no state of this world has keys={keys}, chests={chests}, lap={lap}")
    rows = pi[states]
    best = rows.max(axis=1)
    ties = (rows >= best[:, None] - TIE_TOL).sum(axis=1) > 1
    action = rows.argmax(axis=1)
    dec = [world.decode(s) for s in states]
    return pd.DataFrame({
        "who": who, "environment": environment, "state": states,
        "row": [d.row for d in dec], "col": [d.col for d in dec],
        "keys": keys, "chests": chests, "lap": lap, "action": action,
        "glyph": np.where(ties, "+", np.array(ARROW_GLYPHS)[action]), "prob": best,
        **{f"p_{m}": rows[:, a] for a, m in enumerate(_MOVES)},
    })


def _panel_policy(d: pd.DataFrame, world: Gridworld, where: str):
    """(pi (S, A), collected) of one panel's rows, checked against ``world``."""
    status = d[["keys", "chests", "lap"]].drop_duplicates()
    if len(status) != 1:
        raise ValueError(f"{where}: one collected status per panel; got "
                         f"{status.to_dict('records')}")
    collected = tuple(int(x) for x in status.iloc[0])
    if d["state"].duplicated().any():
        raise ValueError(f"{where}: a state appears twice (filter to one seed and step)")
    pi = np.full((world.n_states, world.n_actions), np.nan)
    for rec in d.itertuples(index=False):
        s = int(rec.state)
        if not 0 <= s < world.n_states:
            raise ValueError(f"{where}: state {s} is not a state of the world given "
                             f"(S = {world.n_states})")
        st = world.decode(s)
        if (st.row, st.col, st.keys, st.chests, st.lap) != (rec.row, rec.col, *collected):
            raise ValueError(f"{where}: the table puts state {s} at (row {rec.row}, col "
                             f"{rec.col}) but the world given decodes it as {st}; wrong world?")
        pi[s] = [getattr(rec, f"p_{m}") for m in _MOVES]
    grid = world.state_grid(*collected)
    missing = sorted(set(grid[grid >= 0].tolist()) - set(d["state"].tolist()))
    if missing:
        raise ValueError(f"{where}: the table lacks states {missing[:8]} of status {collected}")
    return pi, collected


@styled
def plot_gridworld_policies(frames, world_by_env: Mapping[str, Gridworld]) -> Figure:
    """Maps with the learner's and π*_t's policies side by side (columns), for the training
    and deployment environments (rows), each drawn by
    :func:`~mesabase.sims.reports.render.plot_policy` (an arrow per action, length ∝ π(a|s)).

    ``frames``: a DataFrame of :func:`policy_frame` rows (columns who, environment, state,
    row, col, keys, chests, lap, p_north, p_south, p_east, p_west), or a list or mapping
    of such frames (concatenated), with one policy per (who, environment), and optionally a
    scenario column (named in the title). ``world_by_env``: the
    Gridworld of each environment named in the table. The world is static structure (walls,
    items, the state indexing), not a result, so it is passed rather than stored; the table's
    (state, row, col) are checked against it.
    """
    if isinstance(frames, Mapping):
        frames = list(frames.values())
    if isinstance(frames, (list, tuple)):
        frames = pd.concat(frames, ignore_index=True)
    cols = ["who", "environment", "state", "row", "col", "keys", "chests", "lap",
            *(f"p_{m}" for m in _MOVES)]
    df = need_columns(frames, cols, "frames")
    envs = environment_order(df["environment"].unique())
    who_order = {"learner": 0, "shadow": 1}
    whos = sorted(df["who"].unique(), key=lambda w: (who_order.get(w, 2), str(w)))
    absent = [e for e in envs if e not in world_by_env]
    if absent:
        raise ValueError(f"world_by_env lacks the environments {absent}")
    aspect = max(world_by_env[e].height / world_by_env[e].width for e in envs)
    panel_w = BLOG_WIDTH / len(whos)
    fig = new_figure(BLOG_WIDTH, len(envs) * (panel_w * aspect * 0.9 + 0.55) + 0.95)
    axes = fig.subplots(len(envs), len(whos), squeeze=False)
    greyed = taken = outlined = False
    for i, env in enumerate(envs):
        for j, who in enumerate(whos):
            d = df[(df["environment"] == env) & (df["who"] == who)]
            ax = axes[i, j]
            if d.empty:
                ax.set_axis_off()
                continue
            world = world_by_env[env]
            pi, collected = _panel_policy(d, world, f"({who}, {env})")
            title = (f"{_WHO.get(who, (str(who), None))[0]}, {env}\n"
                     f"{describe_collected(world, collected)}")
            plot_policy(world, pi, collected, ax=ax, title=title)
            ax.title.set_fontsize(10)
            ax.grid(which="major", visible=False)
            ax.spines[:].set_visible(False)
            grid = world.state_grid(*collected)
            greyed |= any(grid[r, c] < 0 and ch != "#" for r, row in enumerate(world.rows)
                          for c, ch in enumerate(row))
            taken |= bool(collected[0] or collected[1])
            outlined |= collected[2] >= 0
    fresh = bool(((df["keys"] == 0) & (df["chests"] == 0) & (df["lap"] == -1)).all())
    scen = scenario_title(df)
    fig.suptitle(f"{scen}: " * bool(scen) + "learner and $\\pi^*_t$ on the map"
                 + (", nothing collected yet" if fresh else ""))
    fig.legend(handles=legend_handles([world_by_env[e] for e in envs], greyed=greyed,
                                      taken=taken, outlined=outlined),
               loc="outside lower center", ncols=2, frameon=False, fontsize=9)
    return fig


# ---- behaviour attribution bars ----------------------------------------------------------
def _interval(df: pd.DataFrame, lab: str) -> tuple[np.ndarray, np.ndarray]:
    """The table's interval for ``frac_{lab}``, or the exact Clopper–Pearson interval from
    frac · n_seeds when the table has none."""
    if f"frac_{lab}_low" in df and f"frac_{lab}_high" in df:
        return df[f"frac_{lab}_low"].to_numpy(), df[f"frac_{lab}_high"].to_numpy()
    lo, hi = [], []
    for f, n in zip(df[f"frac_{lab}"], df["n_seeds"], strict=True):
        p = proportion(np.arange(int(n)) < round(f * n))
        lo.append(float(p.low))
        hi.append(float(p.high))
    return np.array(lo), np.array(hi)


@styled
def plot_behaviours(verdicts_df: pd.DataFrame, confidence_label: str = "95% CI") -> Figure:
    """Per scenario (and learner, when the table has a learner column: one panel each), per
    behaviour and environment, the fraction of seeds whose verdict is outer, inner or none,
    with confidence-interval error bars.

    ``verdicts_df``: the ``verdicts`` table of attributions (one row per scenario ×
    [learner ×] environment × behaviour): scenario, environment, behaviour, frac_outer,
    frac_outer_low, frac_outer_high, frac_inner, frac_inner_low, frac_inner_high,
    frac_none, n_seeds, and optionally learner, intended (an intended behaviour's tick says
    so), verdict (written under the group) and frac_none_low / frac_none_high (else
    computed, exact Clopper–Pearson, from n_seeds).
    """
    df = need_columns(verdicts_df, ["scenario", "environment", "behaviour", "frac_outer",
                                    "frac_outer_low", "frac_outer_high", "frac_inner",
                                    "frac_inner_low", "frac_inner_high", "frac_none",
                                    "n_seeds"], "verdicts_df")
    panel_keys = ["scenario", *(["learner"] if "learner" in df else [])]
    dup = df.duplicated([*panel_keys, "environment", "behaviour"])
    if dup.any():
        raise ValueError(f"verdicts_df has several rows for "
                         f"{df[dup][[*panel_keys, 'environment', 'behaviour']].iloc[0].tolist()}")
    panels = list(dict.fromkeys(map(tuple, df[panel_keys].itertuples(index=False))))
    ncols = min(len(panels), 2)
    nrows = math.ceil(len(panels) / ncols)
    fig = new_figure(BLOG_WIDTH, 3.0 * nrows + 0.6)
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True).ravel()
    width = 0.26
    for ax, key in zip(axes, panels, strict=False):
        sel = np.ones(len(df), dtype=bool)
        for k, v in zip(panel_keys, key, strict=True):
            sel &= (df[k] == v).to_numpy()
        d = df[sel]
        x = np.arange(len(d))
        for k, lab in enumerate(("outer", "inner", "none")):
            colour, hatch = _LABEL_STYLE[lab]
            frac = d[f"frac_{lab}"].to_numpy(dtype=float)
            lo, hi = _interval(d, lab)
            yerr = np.vstack([np.clip(frac - lo, 0, None), np.clip(hi - frac, 0, None)])
            ax.bar(x + (k - 1) * width, frac, width, yerr=yerr, capsize=3, color=colour,
                   hatch=hatch, edgecolor="white", error_kw={"elinewidth": 1.2},
                   label=lab)
        intended = (d["intended"].astype(bool).tolist() if "intended" in d
                    else [False] * len(d))
        ticks = [f"{b}{' (intended)' if i else ''}\n({e})" for b, e, i
                 in zip(d["behaviour"], d["environment"], intended, strict=True)]
        if "verdict" in d:
            ticks = [f"{t}\n→ {v}" for t, v in zip(ticks, d["verdict"], strict=True)]
        ax.set_xticks(x, ticks, fontsize=9 if len(d) > 2 else 10)
        ax.set_ylim(0, 1.05)
        ax.grid(axis="x", visible=False)
        ax.set_title(" / ".join(map(str, key)))
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    for ax in axes[::ncols]:
        ax.set_ylabel("fraction of seeds")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside lower center", ncols=3, frameon=False)
    fig.suptitle(f"Behaviour attribution across seeds (bars: {confidence_label})")
    return fig


# ---- saving -----------------------------------------------------------------------------
def save_figure(fig: Figure, path_stem, dpi: int = BLOG_DPI) -> tuple[Path, Path]:
    """Write ``fig`` to ``{path_stem}.png`` (``dpi`` dots per inch: 1400 px for a 7 in
    figure at the default) and ``{path_stem}.svg`` (no date, fixed hash salt: the same
    figure gives the same bytes), creating the folder. Returns (png_path, svg_path)."""
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    png, svg = Path(f"{stem}.png"), Path(f"{stem}.svg")
    with matplotlib.style.context(STYLE, after_reset=True):
        fig.savefig(png, dpi=dpi, format="png")
        fig.savefig(svg, format="svg", metadata={"Date": None})
    return png, svg
