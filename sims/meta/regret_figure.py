"""The meta-bandits figure: Bayes regret versus horizon for every agent, from the summary
table of :func:`~.experiment.summarise` (and the training table, to mark agents whose
meta-training did not converge)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..reports.figures import (
    BLOG_WIDTH,
    MAX_BANDS,
    need_columns,
    new_figure,
    save_figure,
    styled,
)
from ..reports.render import OKABE_ITO

__all__ = ["not_converged", "plot_meta_bandits"]


_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
_LINES = ("-", "--", "-.", ":")
#: Panel of each default agent: the classical agents and the meta-learned ones.
_FAMILY_OF = {"gittins": "classical", "ucb1": "classical", "thompson": "classical",
              "greedy": "classical", "reinforce": "meta-learned", "maml": "meta-learned",
              "meta-sgd": "meta-learned", "belief-rl": "meta-learned"}
_REFERENCE = "bayes-optimal"


def _panels(agents: list, budget: int) -> list[tuple[str, list]]:
    """The agents other than the reference, grouped by family (consecutive runs, in order)
    and each group cut into balanced chunks of at most ``budget``: (title, agents) each."""
    groups: list[tuple[str, list]] = []
    for a in agents:
        fam = _FAMILY_OF.get(str(a), "other")
        if groups and groups[-1][0] == fam:
            groups[-1][1].append(a)
        else:
            groups.append((fam, [a]))
    out = []
    for fam, members in groups:
        k = -(-len(members) // budget)
        size = -(-len(members) // k)
        for j in range(k):
            chunk = members[j * size:(j + 1) * size]
            out.append((f"{fam} agents" + (f" ({j + 1}/{k})" if k > 1 else ""), chunk))
    return out or [("", [])]


@styled
def not_converged(training) -> dict[str, list[int]]:
    """agent → the horizons at which its meta-training did not converge, from the records
    of ``df.attrs["training"]`` (or the study's training.csv as a DataFrame)."""
    rows = training.to_dict("records") if isinstance(training, pd.DataFrame) else training
    out: dict[str, list[int]] = {}
    for r in rows or []:
        if not bool(r["converged"]):
            out.setdefault(str(r["agent"]), []).append(int(r["horizon"]))
    return {a: sorted(h) for a, h in out.items()}


def plot_meta_bandits(summary: pd.DataFrame, path=None, title: str | None = None,
                      training=None) -> Figure:
    """Bayes regret versus horizon, one line per agent with its confidence band (the
    ``ci_low``/``ci_high`` of :func:`summarise`), on a log-scaled horizon axis with ticks at
    the table's horizons. So that bands stay readable, a panel shows at most
    :data:`~mesabase.sims.reports.figures.MAX_BANDS` of them: the agents are split into
    panels (the classical and the meta-learned agents apart; larger groups cut in balanced
    chunks), sharing the y axis. Every panel repeats the Bayes-optimal agent (black) as
    the reference: its exact Bayes regret (open diamonds, where known) and its Monte-Carlo
    mean, whose band is drawn only where the exact value is unknown.

    Args:
      summary: the table of :func:`summarise`.
      path: if given, a path stem (a ``.png``/``.svg`` suffix is dropped): the figure is
        saved as ``{stem}.png`` and ``{stem}.svg``
        (:func:`~mesabase.sims.reports.figures.save_figure`).
      title: the figure title (the default names the study, meta-bandits, and the bands as
        95% t-intervals over tasks).
      training: the training records (``df.attrs["training"]`` or training.csv): an agent
        whose meta-training did not converge at some horizon is labelled so in the legend
        and its points there are drawn hollow.

    Returns:
      The matplotlib Figure (one Axes per panel).
    """
    df = need_columns(summary, ["agent", "horizon", "regret", "ci_low", "ci_high"], "summary")
    agents = list(dict.fromkeys(df["agent"]))
    ref = df[df["agent"] == _REFERENCE].sort_values("horizon")
    exact = (df.dropna(subset=["exact_regret"]).sort_values("horizon")
             if "exact_regret" in df else df.iloc[:0])
    ref_band = not ref.empty and exact.empty
    panels = _panels([a for a in agents if a != _REFERENCE], MAX_BANDS - ref_band)
    fig = new_figure(BLOG_WIDTH, 5.2 if len(panels) <= 2 else 8.4)
    ncols = min(len(panels), 2)
    axes = fig.subplots(-(-len(panels) // ncols), ncols, squeeze=False, sharey=True).ravel()
    colours = [c for k, c in OKABE_ITO.items() if k not in ("black", "yellow")] \
        + ["#999999", OKABE_ITO["yellow"]]
    style = {_REFERENCE: (OKABE_ITO["black"], "-", "o")}
    for i, a in enumerate(a for a in agents if a != _REFERENCE):
        style[a] = (colours[i % len(colours)], _LINES[(i + 1) % len(_LINES)],
                    _MARKERS[(i + 1) % len(_MARKERS)])

    unconverged = not_converged(training)

    def draw(ax, d, agent, band):
        colour, ls, marker = style[agent]
        h = d["horizon"].to_numpy(dtype=float)
        top = {"zorder": 4, "linewidth": 1.5} if agent == _REFERENCE else {}
        bad = unconverged.get(str(agent), [])
        label = str(agent) + (f" (not converged: H = {', '.join(map(str, bad))})"
                              if bad else "")
        ax.plot(h, d["regret"].to_numpy(dtype=float), color=colour, label=label,
                linestyle=ls, marker=marker, markersize=5, **top)
        if bad:
            hollow = np.isin(h, bad)
            ax.plot(h[hollow], d["regret"].to_numpy(dtype=float)[hollow], linestyle="none",
                    marker=marker, markersize=7, markerfacecolor="white", color=colour,
                    zorder=5)
        if band:
            ax.fill_between(h, d["ci_low"].to_numpy(dtype=float),
                            d["ci_high"].to_numpy(dtype=float), color=colour, alpha=0.15,
                            linewidth=0)

    hs = sorted(set(df["horizon"].astype(int)))
    for ax, (name, members) in zip(axes, panels, strict=False):
        if not ref.empty:
            draw(ax, ref, _REFERENCE, ref_band)
        for agent in members:
            draw(ax, df[df["agent"] == agent].sort_values("horizon"), agent, True)
        if not exact.empty:
            ax.plot(exact["horizon"].to_numpy(dtype=float),
                    exact["exact_regret"].to_numpy(dtype=float), linestyle="none",
                    marker="D", markerfacecolor="none", markeredgecolor=OKABE_ITO["black"],
                    markersize=9, label="bayes-optimal (exact)")
        if len(hs) > 1 and hs[0] > 0:
            ax.set_xscale("log")
        ax.set_xticks(hs, [str(h) for h in hs])
        ax.minorticks_off()
        ax.set_xlabel("horizon $H$ (pulls)")
        ax.set_title(name)
        ax.legend(loc="upper left", fontsize=9, frameon=False)
    for ax in axes[len(panels):]:
        ax.set_axis_off()
    for ax in axes[::ncols]:
        ax.set_ylabel(r"Bayes regret $H\,\mathbb{E}[\mathrm{max}_k\,p_k]"
                      r" - \mathbb{E}[\Sigma_t\,p_{a_t}]$")
    fig.suptitle(title or "meta-bandits: Bayes regret versus horizon\n"
                 "(bands: 95% t-intervals over tasks; black: the Bayes-optimal agent)")
    if path is not None:
        stem = str(path)
        for ext in (".png", ".svg"):
            if stem.endswith(ext):
                stem = stem[: -len(ext)]
        save_figure(fig, stem)
    return fig
