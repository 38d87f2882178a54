"""The four-term decomposition of intended regret over time, drawn from the saved ``gaps``
tables (the style, palette and saving of :mod:`.figures`).

With [m, M] the range of J_I over the argmax set of the base objective (full information)
and [m_t, M_t] its range over the argmax set of the history objective L_t,

    J_I(π_I*) − J_I(π_θt) = (J_I(π_I*) − M)                misspecification gap (outer)
                          + (M − M_t)                       data gap (outer)
                          + (M_t − clip(J_I(π_θt), m_t, M_t))  ambiguity gap (outer)
                          + (clip(J_I(π_θt), m_t, M_t) − J_I(π_θt))  learner gap (inner).

:func:`plot_gaps` draws one scenario's terms against the step, one panel per environment;
:func:`plot_gap_comparison` draws the same scenario under several learners side by side
(one panel per learner, shared axes). Each term is its seed mean with a Student-t band; the
total, their sum, is its mean only, so that a panel holds four bands (:data:`MAX_BANDS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats

from .figures import BLOG_WIDTH, environment_order, need_columns, new_figure, styled
from .render import OKABE_ITO

__all__ = ["GAP_TERMS", "GAP_NAMES", "gap_summary", "plot_gaps", "plot_gap_comparison"]

#: The decomposition's columns: (column, label, colour, line style); the total last.
GAP_TERMS = (
    ("misspecification_gap", "misspecification gap (outer)", OKABE_ITO["vermillion"], "-"),
    ("data_gap", "data gap (outer)", OKABE_ITO["orange"], "--"),
    ("ambiguity_gap", "ambiguity gap (outer)", OKABE_ITO["reddish_purple"],
     (0, (3, 1, 1, 1, 1, 1))),
    ("learner_gap", "learner gap (inner)", OKABE_ITO["blue"], "-."),
    ("total", "total intended regret (their sum)", OKABE_ITO["black"], ":"),
)
#: Column → words, for text.
GAP_NAMES = {c: label for c, label, _, _ in GAP_TERMS}
_YLABEL = r"gap in intended return $J_I$"
_XLABEL = "step $t$ (transitions seen)"


def gap_summary(gaps_df: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """Seed mean and t-interval of each term per (scenario, [learner,] environment, step).

    For the n seeds at one step, x̄ = Σ xᵢ / n, s² = Σ (xᵢ − x̄)² / (n − 1) and the interval
    is x̄ ± t_{(1+c)/2, n−1} · s / √n (Student's t; NaN when n = 1). Columns: scenario,
    learner (when the table has one), environment, step, n_seeds, and ``{gap}_mean``,
    ``{gap}_low``, ``{gap}_high`` for every column of :data:`GAP_TERMS`.

    Example:
      >>> t = pd.DataFrame({"scenario": "s", "environment": "train", "seed": [0, 1, 2],
      ...                   "step": 5, "misspecification_gap": 0.0,
      ...                   "data_gap": [0.1, 0.2, 0.3], "ambiguity_gap": 0.0,
      ...                   "learner_gap": 0.0, "total": [0.1, 0.2, 0.3]})
      >>> row = gap_summary(t).iloc[0]      # half-width t₀.₉₇₅,₂ · 0.1 / √3
      >>> print(f"{row.data_gap_mean:.4f} ± {row.data_gap_high - row.data_gap_mean:.4f}")
      0.2000 ± 0.2484
    """
    gaps = [g[0] for g in GAP_TERMS]
    df = need_columns(gaps_df, ["scenario", "environment", "seed", "step", *gaps], "gaps_df")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}")
    keys = ["scenario", *(["learner"] if "learner" in df else []), "environment", "step"]
    grouped = df.groupby(keys, sort=True)
    out = grouped.size().rename("n_seeds").to_frame()
    n = out["n_seeds"].to_numpy()
    with np.errstate(invalid="ignore"):
        tq = np.where(n > 1, stats.t.ppf((1 + confidence) / 2, np.maximum(n - 1, 1)), np.nan)
    for g in gaps:
        mean, sd = grouped[g].mean().to_numpy(), grouped[g].std(ddof=1).to_numpy()
        half = tq * sd / np.sqrt(n)
        out[f"{g}_mean"], out[f"{g}_low"], out[f"{g}_high"] = mean, mean - half, mean + half
    return out.reset_index()


def _one(df: pd.DataFrame, column: str, value, name: str) -> pd.DataFrame:
    values = sorted(df[column].unique())
    if value is None:
        if len(values) > 1:
            raise ValueError(f"{name} holds several {column}s {values}; pick one with "
                             f"{column}=...")
        return df
    if value not in values:
        raise ValueError(f"{column} {value!r} is not in {name}; it holds {values}")
    return df[df[column] == value]


def _draw_terms(ax, s: pd.DataFrame) -> None:
    """The four terms (mean and band) and the total (mean) of one summary panel."""
    for col, label, colour, ls in GAP_TERMS:
        ax.plot(s["step"], s[f"{col}_mean"], linestyle=ls, color=colour, label=label)
        if col != "total":
            ax.fill_between(s["step"], s[f"{col}_low"], s[f"{col}_high"], color=colour,
                            alpha=0.18, linewidth=0)
    ax.axhline(0.0, color="#888888", linewidth=0.8, zorder=0)
    ax.set_xlabel(_XLABEL)


def _legend(fig, ax) -> None:
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncols=2,
               frameon=False)


@styled
def plot_gaps(gaps_df: pd.DataFrame, scenario: str | None = None,
              confidence: float = 0.95) -> Figure:
    """The four terms and their total against the step, seed mean with a ``confidence``
    t-interval band (:func:`gap_summary`); one panel per environment (train, deploy).

    ``gaps_df``: the ``gaps`` table of an attribution, one row per seed × recorded step, with
    columns scenario, environment ("train" | "deploy"), seed, step, misspecification_gap,
    data_gap, ambiguity_gap, learner_gap, total (extra columns ignored; a learner column, if
    any, must hold one learner). ``scenario`` picks one scenario; it may be omitted when the
    table holds only one. Terms are in units of the intended return J_I.
    """
    df = _one(need_columns(gaps_df, ["scenario"], "gaps_df"), "scenario", scenario, "gaps_df")
    if "learner" in df:
        df = _one(df, "learner", None, "gaps_df")
    summ = gap_summary(df, confidence)
    envs = environment_order(summ["environment"].unique())
    fig = new_figure(BLOG_WIDTH, 4.6)
    axes = fig.subplots(1, len(envs), sharey=True, squeeze=False)[0]
    for ax, env in zip(axes, envs, strict=True):
        _draw_terms(ax, summ[summ["environment"] == env])
        ax.set_title(f"{env} environment")
    axes[0].set_ylabel(_YLABEL)
    n = int(summ["n_seeds"].max())
    who = f", learner {df['learner'].iloc[0]}" if "learner" in df else ""
    fig.suptitle(f"{df['scenario'].iloc[0]}{who}: regret decomposition, "
                 f"mean ± {confidence:.0%} CI over {n} seeds")
    _legend(fig, axes[0])
    return fig


@styled
def plot_gap_comparison(gaps_df: pd.DataFrame, scenario: str | None = None,
                        learners=None, confidence: float = 0.95) -> Figure:
    """One scenario under several learners side by side: a panel per (learner,
    environment) of the table, in the order of ``learners`` (default: as they first
    appear), sharing both axes, each with the four terms (seed mean and ``confidence``
    band) and the total, as :func:`plot_gaps`.

    ``gaps_df``: ``gaps`` tables of attributions of the same scenario stacked, with the
    columns of :func:`plot_gaps` and learner.
    """
    df = need_columns(gaps_df, ["scenario", "learner"], "gaps_df")
    df = _one(df, "scenario", scenario, "gaps_df")
    order = list(dict.fromkeys(df["learner"])) if learners is None else list(learners)
    absent = [x for x in order if x not in set(df["learner"])]
    if absent:
        raise ValueError(f"learners {absent} are not in gaps_df")
    summ = gap_summary(df[df["learner"].isin(order)], confidence)
    panels = [(lr, env) for lr in order
              for env in environment_order(summ[summ["learner"] == lr]["environment"].unique())]
    fig = new_figure(BLOG_WIDTH, 4.8)
    axes = fig.subplots(1, len(panels), sharey=True, sharex=True, squeeze=False)[0]
    for ax, (lr, env) in zip(axes, panels, strict=True):
        s = summ[(summ["learner"] == lr) & (summ["environment"] == env)]
        _draw_terms(ax, s)
        ax.set_title(f"learner {lr}" + ("" if env == "train" else f" ({env})"))
    axes[0].set_ylabel(_YLABEL)
    n = int(summ["n_seeds"].max())
    fig.suptitle(f"{df['scenario'].iloc[0]}: the same environment, {len(order)} learners\n"
                 f"regret decomposition, mean ± {confidence:.0%} CI over {n} seeds")
    _legend(fig, axes[0])
    return fig
