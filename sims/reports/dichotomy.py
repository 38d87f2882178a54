"""The outer/inner dichotomy in one picture, drawn from the saved ``behaviours`` tables.

For every (scenario, learner) and every *unintended* behaviour b with threshold θ > 0, at
the final recorded step:

* x = hi / θ, with hi the largest value of b over the argmax set of the history objective
  L_t (what *some* maximiser of the learner's own objective does);
* y = learner_value / θ, the value of b under the learner.

So the threshold lines are x = 1 and y = 1, and the plane splits as the labels do
(:mod:`mesabase.sims.attribution.analysis`): **outer** where x ≥ 1 (a maximiser of L_t shows
b: the objective and its data select it), **inner** where x < 1 ≤ y (only the learner
shows b), **none** where both are below 1. Each seed is a faint point, the seed mean a
solid marker with a number, and the legend names each number "scenario / learner:
behaviour". Intended behaviours (we want them, e.g. collecting keys) are left out: they
never make a verdict outer.
"""

from __future__ import annotations

import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .figures import BLOG_WIDTH, need_columns, new_figure, styled
from .render import OKABE_ITO

__all__ = ["DICHOTOMY_COLUMNS", "dichotomy_frame", "plot_dichotomy"]

#: The columns :func:`plot_dichotomy` needs (``intended`` and ``environment`` optional).
DICHOTOMY_COLUMNS = ("scenario", "learner", "behaviour", "seed", "step", "learner_value",
                     "hi", "threshold")
_REGIONS = {"outer": ("#FBE3D6", OKABE_ITO["vermillion"]),
            "inner": ("#DCEBF7", OKABE_ITO["blue"]), "none": ("#F2F2F2", "#777777")}
_MARKERS = ("o", "s", "D", "^", "v", "P", "X", "<", ">", "h")
#: Where each mean's number goes (points), in turn, so that coincident means stay legible.
_OFFSETS = ((9, 9), (9, -9), (-9, 9), (-9, -9), (0, 12), (0, -12), (12, 0), (-12, 0))
_COLOURS = (OKABE_ITO["black"], OKABE_ITO["bluish_green"], OKABE_ITO["reddish_purple"],
            OKABE_ITO["orange"], OKABE_ITO["sky_blue"], OKABE_ITO["vermillion"],
            OKABE_ITO["blue"], "#777777")


def _group_keys(df: pd.DataFrame) -> list[str]:
    return ["scenario", "learner", *(["environment"] if "environment" in df else []),
            "behaviour"]


def dichotomy_frame(behaviours_df: pd.DataFrame) -> pd.DataFrame:
    """The points of the dichotomy figure: the rows of ``behaviours_df`` (columns
    :data:`DICHOTOMY_COLUMNS`, optionally intended and environment) of unintended
    behaviours at the final recorded step of each (scenario, learner, [environment,]
    behaviour), with ``x`` = hi / threshold and ``y`` = learner_value / threshold added.
    A threshold that is not positive raises ValueError (the ratio would flip the sides)."""
    df = need_columns(behaviours_df, DICHOTOMY_COLUMNS, "behaviours_df")
    if "intended" in df:
        df = df[~df["intended"].astype(bool)]
    if df.empty:
        return df.assign(x=[], y=[])
    bad = df[~(df["threshold"] > 0)]
    if len(bad):
        raise ValueError(f"behaviour {bad['behaviour'].iloc[0]!r} has threshold "
                         f"{bad['threshold'].iloc[0]!r}; the dichotomy figure needs θ > 0")
    keys = _group_keys(df)
    last = df.groupby(keys, sort=False)["step"].transform("max")
    df = df[df["step"] == last]
    return df.assign(x=df["hi"] / df["threshold"], y=df["learner_value"] / df["threshold"])


def _regions(ax, top: float, right: float) -> None:
    """Shade and name the three regions of [0, right] × [0, top]."""
    lo = -0.05 * max(top, right)
    ax.fill_between([1.0, right], lo, top, color=_REGIONS["outer"][0], zorder=0, linewidth=0)
    ax.fill_between([lo, 1.0], 1.0, top, color=_REGIONS["inner"][0], zorder=0, linewidth=0)
    ax.fill_between([lo, 1.0], lo, 1.0, color=_REGIONS["none"][0], zorder=0, linewidth=0)
    for v in (ax.axvline, ax.axhline):
        v(1.0, color="#555555", linewidth=1.2, linestyle="--", zorder=1)
    text = {"outer": ((1 + right) / 2, top - 0.03 * top,
                      "OUTER\nsome maximiser of $L_t$ shows it"),
            "inner": ((lo + 1) / 2, top - 0.03 * top, "INNER\nonly the learner\nshows it"),
            "none": (0.97, lo + 0.03 * top, "NONE\nnobody shows it")}
    for lab, (x, y, s) in text.items():
        ax.text(x, y, s, ha="right" if lab == "none" else "center",
                va="bottom" if lab == "none" else "top",
                color=_REGIONS[lab][1], fontsize=10, fontweight="bold", zorder=2)
    ax.set_xlim(lo, right)
    ax.set_ylim(lo, top)


@styled
def plot_dichotomy(behaviours_df: pd.DataFrame, title: str | None = None) -> Figure:
    """The dichotomy figure (module docstring) of every (scenario, learner) in
    ``behaviours_df``: the ``behaviours`` tables of attributions stacked (the columns of
    :data:`DICHOTOMY_COLUMNS`; extra columns ignored). Each (scenario, learner, behaviour)
    gets a colour, a marker and a number; seeds are faint, the seed mean solid and numbered,
    and the legend names every number."""
    pts = dichotomy_frame(behaviours_df)
    if pts.empty:
        raise ValueError("behaviours_df has no unintended behaviour to place")
    keys = _group_keys(pts)
    means = pts.groupby(keys, sort=False).agg(x=("x", "mean"), y=("y", "mean"),
                                              n=("seed", "size")).reset_index()
    right = max(2.0, 1.12 * float(np.nanmax(pts["x"])))
    top = max(2.0, 1.12 * float(np.nanmax(pts["y"])))
    fig = new_figure(BLOG_WIDTH, BLOG_WIDTH * 0.78 + 0.3 * len(means))
    ax = fig.subplots()
    _regions(ax, top, right)
    for i, m in enumerate(means.itertuples(index=False)):
        colour, marker = _COLOURS[i % len(_COLOURS)], _MARKERS[i % len(_MARKERS)]
        sel = np.ones(len(pts), dtype=bool)
        for k in keys:
            sel &= (pts[k] == getattr(m, k)).to_numpy()
        seeds = pts[sel]
        ax.scatter(seeds["x"], seeds["y"], s=22, marker=marker, color=colour, alpha=0.25,
                   linewidths=0, zorder=3)
        env = getattr(m, "environment", "train")
        where = "" if env == "train" else f" ({env})"
        label = f"{m.scenario} / {m.learner}: {m.behaviour}{where}"
        ax.scatter([m.x], [m.y], s=90, marker=marker, color=colour, edgecolors="white",
                   linewidths=1.0, zorder=4, label=f"{i + 1}: {label}, {m.n} seeds")
        dx, dy = _OFFSETS[i % len(_OFFSETS)]
        ax.annotate(str(i + 1), (m.x, m.y), xytext=(dx, dy), textcoords="offset points",
                    ha="center", va="center", fontsize=9, fontweight="bold", color=colour,
                    zorder=5)
    ax.set_xlabel(r"what some maximiser of $L_t$ does: $\max_{\pi \in A_t} J_b(\pi)\,/\,"
                  r"\theta_b$")
    ax.set_ylabel(r"learner shows it: $J_b(\pi_{\theta_t})\,/\,\theta_b$")
    ax.grid(visible=False)
    names = textwrap.fill(", ".join(dict.fromkeys(map(str, means["scenario"]))), 80,
                          break_on_hyphens=False)
    fig.suptitle(title or f"Outer or inner? Unintended behaviours at the final step\n{names}",
                 fontsize=12)
    fig.legend(loc="outside lower center", ncols=1, frameon=False, fontsize=9,
               title="seed mean (solid; faint: one seed); threshold $\\theta_b$ at 1",
               title_fontsize=9)
    return fig
