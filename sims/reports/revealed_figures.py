"""Heat maps of revealed rewards: Ng & Russell's (2000) gridworld, true reward beside the
rewards their LP recovers from the optimal policy (the numbers come from
:func:`mesabase.theory.ng_russell_gridworld`; the style and saving from :mod:`.figures`).

:func:`plot_revealed_gridworld` draws three panels on one diverging colour scale
[−R_max, R_max]: the true reward, the LP's reward with λ = 0 and with the paper's λ, each
square labelled with its value (two decimals); r in a title is Pearson's correlation with
the true reward. A square of a recovered panel whose value is not
forced — its range over the LP's optimal face is wider than ``forced_tol`` — is hatched
and labelled with the range instead, so that the figure never shows a tie-broken value
as if it were the answer.

:func:`plot_revealed_distances` draws, for one scenario run, the normalised distance from
R_B and from R_I to the rewards the learner's policy reveals and to those π*_t reveals, over
the recorded steps (:mod:`mesabase.sims.attribution.revealed`).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from scipy import stats

from .figures import BLOG_WIDTH, need_columns, new_figure, styled
from .render import OKABE_ITO

__all__ = ["plot_revealed_gridworld", "FORCED_TOL", "plot_revealed_distances",
           "DISTANCE_PANELS"]

#: A square's value counts as forced when its range over the optimal face is this narrow.
FORCED_TOL = 1e-5


def _panel(ax, R: np.ndarray, title: str, r_max: float, ranges=None, forced_tol=FORCED_TOL):
    n = R.shape[0]
    im = ax.imshow(R, cmap="PuOr_r", vmin=-r_max, vmax=r_max)
    for (i, j), v in np.ndenumerate(R):
        label = f"{v if abs(v) >= 0.005 else 0.0:.2f}"  # never "-0.00"
        if ranges is not None and ranges[1][i, j] - ranges[0][i, j] > forced_tol:
            label = f"[{ranges[0][i, j]:.2f},\n{ranges[1][i, j]:.2f}]"
            ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="//",
                                   edgecolor="#555555", linewidth=0))
        ax.text(j, i, label, ha="center", va="center", fontsize=7,
                color="white" if abs(v) > 0.6 * r_max else "black")
    ax.set_title(title)
    ax.set_xticks(range(n))
    ax.set_yticks(range(n))
    ax.set_xlabel("column")
    ax.grid(False)
    return im


@styled
def plot_revealed_gridworld(result, forced_tol: float = FORCED_TOL) -> Figure:
    """True and recovered rewards of :func:`~mesabase.theory.ng_russell_gridworld`.

    Args:
      result: a :class:`~mesabase.theory.NgRussellResult`.
      forced_tol: see :data:`FORCED_TOL`.

    Returns:
      A three-panel Figure (true, λ = 0, the result's λ) with one colour bar.
    """
    for name in ("true_reward", "recovered", "recovered_no_penalty", "ranges",
                 "ranges_no_penalty", "l1", "r_max",
                 "gamma", "correlation", "correlation_no_penalty"):
        if not hasattr(result, name):
            raise TypeError(f"result must be an NgRussellResult (it has no {name!r}); got "
                            f"{type(result).__name__}")
    fig = new_figure(BLOG_WIDTH, 2.9)
    axes = fig.subplots(1, 3)
    r_max = result.r_max
    _panel(axes[0], result.true_reward, "true reward", r_max)
    _panel(axes[1], result.recovered_no_penalty,
           f"recovered, $\\lambda = 0$\n($r = {result.correlation_no_penalty:.2f}$)", r_max,
           result.ranges_no_penalty, forced_tol)
    im = _panel(axes[2], result.recovered,
                f"recovered, $\\lambda = {result.l1:g}$\n($r = {result.correlation:.2f}$)",
                r_max, result.ranges, forced_tol)
    axes[0].set_ylabel("row")
    fig.colorbar(im, ax=list(axes), shrink=0.8, label="reward $R(s)$")
    fig.suptitle(rf"Ng & Russell's gridworld ($\gamma = {result.gamma:g}$): the reward "
                 "its optimal policy reveals")
    return fig


#: The panels of :func:`plot_revealed_distances`: (column prefix, title).
DISTANCE_PANELS = (("dist_RB", "base reward $R_B$"), ("dist_RI", "intended reward $R_I$"))


def _band(df, col: str):
    """Per step: seed mean and Student-t 95% interval of ``col`` (NaN bounds for one seed)."""
    g = df.groupby("step")[col]
    m, s, n = g.mean(), g.std(ddof=1), g.count()
    half = stats.t.ppf(0.975, np.maximum(n - 1, 1)) * s / np.sqrt(n)
    half = half.where(n > 1)
    return m.index.to_numpy(), m.to_numpy(), (m - half).to_numpy(), (m + half).to_numpy()


@styled
def plot_revealed_distances(revealed_df) -> Figure:
    """The revealed-objective distances over the recorded steps (issue 17): for R_B and R_I
    (one panel each), the normalised ℓ∞ distance from the reward to the set of rewards the
    learner's policy is optimal for, and to π*_t's, seed means with 95% Student-t bands.

    Args:
      revealed_df: a table with :data:`~mesabase.sims.attribution.REVEALED_COLUMNS`
        (:func:`~mesabase.sims.attribution.revealed_table`), non-empty.

    Returns:
      A two-panel Figure; 0 = the policy is optimal for the reward, 1/2 = it reveals
      nothing of it (no reward in its set is closer than a constant one).
    """
    df = need_columns(revealed_df, ("step", "seed", "dist_RB_learner", "dist_RB_opt",
                                    "dist_RI_learner", "dist_RI_opt"), "revealed_df")
    if not len(df):
        raise ValueError("revealed_df is empty (the revealed distances were not computed)")
    fig = new_figure(BLOG_WIDTH, 3.1)
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (prefix, title) in zip(axes, DISTANCE_PANELS, strict=True):
        for who, label, colour, style in (
                ("learner", "learner $\\pi_{\\theta_t}$", OKABE_ITO["blue"], "-"),
                ("opt", "$\\pi^*_t$ (its whole argmax set)", OKABE_ITO["vermillion"], "--")):
            x, m, lo, hi = _band(df, f"{prefix}_{who}")
            ax.plot(x, m, color=colour, linestyle=style, label=label)
            if np.isfinite(lo).any():
                ax.fill_between(x, lo, hi, color=colour, alpha=0.2, linewidth=0)
        ax.set_title(f"distance to {title}")
        ax.set_xlabel("step $t$ (transitions seen)")
        ax.set_ylim(-0.02, 0.52)
    axes[0].set_ylabel("normalised $\\ell_\\infty$ distance")
    axes[0].legend(loc="best", fontsize=8)
    name = str(df.scenario.iloc[0]) if "scenario" in df.columns else ""
    fig.suptitle(f"{name}: the objective each policy reveals\n(0: optimal for the reward; "
                 "1/2: reveals nothing of it)".lstrip(": "))
    return fig
