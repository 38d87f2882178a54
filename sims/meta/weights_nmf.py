"""Non-negative factorisation of the weight trajectories, and its figure (issue 16, item 4).

The matrix. Rows are the states (start, task, seed, step t = 0 … H) the learner of
:mod:`.weights` went through, columns its weights. The softmax ignores θ → θ + c·1, so the
weights are first centred, θ̃ = θ − mean_k θ_k (the one representative of the policy with
Σ θ̃ = 0), then split into positive and negative parts,

    X = [θ̃⁺ | θ̃⁻] ∈ ℝ_{≥0}^{rows × 2K},   θ̃⁺ = max(θ̃, 0),  θ̃⁻ = max(−θ̃, 0),

(:func:`signed_parts`; column ``theta{k}+`` / ``theta{k}-``). Why this transform: it loses
nothing (θ̃ = θ̃⁺ − θ̃⁻), adds no arbitrary offset (θ − min θ would), and unlike the
probabilities π_θ (which for K = 2 are one number per row) it keeps the weights' own scale.
Each column reads "arm k's logit is above (below) the average by this much", so an NMF
component is an additive pattern of preferences that no other component can cancel — the
reason seed 000 suggests NMF over PCA (D. D. Lee, H. S. Seung, "Learning the parts of objects
by non-negative matrix factorization", Nature 401 (1999)). For K = 2, θ̃ = ±(θ₁ − θ₂)/2, so X
has rank ≤ 2 (arm 1 favoured / arm 2 favoured).

The factorisation X ≈ W Hᶜ (W ≥ 0 the activations, rows; Hᶜ ≥ 0 the components) is
scikit-learn's :class:`~sklearn.decomposition.NMF` (Frobenius loss, coordinate descent, init
``nndsvda``: C. Boutsidis, E. Gallopoulos, "SVD based initialization: a head start for
nonnegative matrix factorization", Pattern Recognition 41 (2008)), with a stated number of
components, ``random_state`` and iteration budget; ``converged`` is n_iter < max_iter.

Correlations (:func:`stat_correlations`). For every component c and statistic x ∈ {s_k, f_k}, the
Pearson r between the activation W[:, c] and x over the rows. Rows of one task (its seeds and
steps) are dependent, so the interval is a Fisher-z interval with a *task-clustered* standard
error: the delete-one-task jackknife of z = atanh r (B. Efron, C. Stein, "The jackknife
estimate of variance", Ann. Statist. 9 (1981)),

    se² = (m − 1)/m Σ_j (z₋ⱼ − z̄)²,   r ∈ tanh(z ± t_{(1+c)/2, m−1} · se),

m tasks (the components held fixed: the NMF is not refitted per deletion). r is invariant to
NMF's scale ambiguity (W D, D⁻¹ Hᶜ). r is NaN where a column is constant; |r| is clipped to
1 − 1e-12 before atanh. The interval is NaN when fewer than 2 tasks, or when some
delete-one-task sample has a constant column (the one task left out carries the whole
correlation: nothing to estimate its spread from).
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy import stats as sps

from ..reports.figures import BLOG_WIDTH, need_columns, new_figure, save_figure, styled
from ..reports.render import OKABE_ITO

__all__ = ["TRANSFORM", "CORRELATION_COLUMNS", "COMPONENT_COLUMNS", "FIT_COLUMNS",
           "signed_parts", "stat_names", "fit_nmf", "stat_correlations", "plot_weight_trajectories"]

#: The non-negative transform, in words (the ``fit`` table's ``transform``).
TRANSFORM = "[theta_c+, theta_c-]: centred logits split into positive and negative parts"
#: Columns of the correlation table (one row per start, component, statistic).
CORRELATION_COLUMNS = ("family", "start", "component", "statistic", "r", "ci_low", "ci_high",
                       "n_rows", "n_tasks")
#: Columns of the component table (the loadings Hᶜ, one row per component and column of X).
COMPONENT_COLUMNS = ("component", "column", "loading")
#: Columns of the one-row fit table.
FIT_COLUMNS = ("transform", "n_components", "init", "random_state", "max_iter", "n_iter",
               "converged", "frobenius_err", "relative_err", "n_rows", "n_columns")


def signed_parts(theta) -> np.ndarray:
    """X = [θ̃⁺ | θ̃⁻] (rows, 2K) of θ (rows, K), θ̃ = θ − row mean (module docstring)."""
    th = np.asarray(theta, dtype=np.float64)
    if th.ndim != 2 or th.shape[1] < 1 or not np.isfinite(th).all():
        raise ValueError(f"theta must be a finite (rows, K) array; got shape {th.shape}")
    c = th - th.mean(axis=1, keepdims=True)
    return np.concatenate([np.maximum(c, 0.0), np.maximum(-c, 0.0)], axis=1)


def stat_names(n_arms: int) -> list[str]:
    """Names of the statistics in counts order, (s_k, f_k) per arm: s1, f1, s2, f2, …"""
    return [f"{x}{k + 1}" for k in range(n_arms) for x in ("s", "f")]


def fit_nmf(X, n_components: int, *, random_state: int, max_iter: int = 2000,
            tol: float = 1e-4) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
    """NMF of X ≥ 0 (module docstring): (W (rows, n_components), the components table
    :data:`COMPONENT_COLUMNS` with the columns of X named as :func:`signed_parts` makes them,
    the one-row :data:`FIT_COLUMNS` table). Components are numbered in the order of the
    column of their largest loading (ties: larger loading first), not sklearn's arbitrary
    order, so that c0 of two runs means the same pattern where it can. ``frobenius_err`` =
    ‖X − W Hᶜ‖_F, computed here; ``relative_err`` divides it by ‖X‖_F (NaN for X = 0);
    ``tol`` is sklearn's."""
    from sklearn.decomposition import NMF
    from sklearn.exceptions import ConvergenceWarning

    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[0] < 1 or X.shape[1] % 2 or X.shape[1] < 2:
        raise ValueError(f"X must be (rows, 2K) with rows >= 1; got shape {X.shape}")
    if not np.isfinite(X).all() or (X < 0).any():
        raise ValueError("X must be finite and non-negative")
    if isinstance(n_components, bool) or not isinstance(n_components, int) \
            or not 1 <= n_components <= min(X.shape):
        raise ValueError(f"n_components must be an int in [1, {min(X.shape)}]; "
                         f"got {n_components!r}")
    if isinstance(max_iter, bool) or not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter must be an int >= 1; got {max_iter!r}")
    model = NMF(n_components=n_components, init="nndsvda", solver="cd",
                random_state=random_state, max_iter=max_iter, tol=tol)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # reported as ``converged``
        W = model.fit_transform(X)
    comps = model.components_
    order = np.lexsort((-comps.max(axis=1), comps.argmax(axis=1)))  # canonical order
    W, comps = W[:, order], comps[order]
    K = X.shape[1] // 2
    names = [f"theta{k + 1}+" for k in range(K)] + [f"theta{k + 1}-" for k in range(K)]
    components = pd.DataFrame([{"component": c, "column": names[j],
                                "loading": float(comps[c, j])}
                               for c in range(n_components) for j in range(2 * K)],
                              columns=list(COMPONENT_COLUMNS))
    err = float(np.linalg.norm(X - W @ comps))
    norm = float(np.linalg.norm(X))
    fit = pd.DataFrame([{"transform": TRANSFORM, "n_components": n_components,
                         "init": "nndsvda", "random_state": int(random_state),
                         "max_iter": max_iter, "n_iter": int(model.n_iter_),
                         "converged": bool(model.n_iter_ < max_iter), "frobenius_err": err,
                         "relative_err": err / norm if norm > 0 else float("nan"),
                         "n_rows": X.shape[0], "n_columns": X.shape[1]}],
                       columns=list(FIT_COLUMNS))
    return W, components, fit


def _r(n, sx, sy, sxx, syy, sxy):
    cov = sxy - sx * sy / n
    vx, vy = sxx - sx**2 / n, syy - sy**2 / n
    with np.errstate(invalid="ignore", divide="ignore"):
        ok = (vx > 1e-12 * np.maximum(sxx, 1.0)) & (vy > 1e-12 * np.maximum(syy, 1.0))
        return np.where(ok, cov / np.sqrt(np.where(ok, vx * vy, 1.0)), np.nan)


def stat_correlations(activations, statistics_values, groups, *, confidence: float = 0.95,
                 statistics=None) -> pd.DataFrame:
    """Pearson r of every activation column with every statistic column, with the
    task-clustered (jackknife) Fisher-z interval of the module docstring.

    Args:
      activations: (N, C); statistics_values: (N, M); groups: (N,) ints, the task of each row
        (m ≥ 2 distinct tasks for an interval; NaN bounds otherwise).
      statistics: M names (default x1 … xM).

    Returns:
      DataFrame with :data:`CORRELATION_COLUMNS` minus family and start: component,
      statistic, r, ci_low, ci_high, n_rows, n_tasks.
    """
    A = np.asarray(activations, dtype=np.float64)
    S = np.asarray(statistics_values, dtype=np.float64)
    g = np.asarray(groups)
    if A.ndim != 2 or S.ndim != 2 or g.shape != (A.shape[0],) or S.shape[0] != A.shape[0]:
        raise ValueError(f"activations (N, C), statistics (N, M) and groups (N,) must agree; "
                         f"got {A.shape}, {S.shape}, {g.shape}")
    if A.shape[0] < 3 or not (np.isfinite(A).all() and np.isfinite(S).all()):
        raise ValueError("need at least 3 rows of finite values")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    names = statistics or [f"x{j + 1}" for j in range(S.shape[1])]
    if len(names) != S.shape[1]:
        raise ValueError(f"statistics must name {S.shape[1]} columns; got {len(names)}")
    _, gi = np.unique(g, return_inverse=True)
    m = int(gi.max()) + 1

    def sums():  # per-task sums (m, …) of the five moments
        out = []
        for v in (A, S, A**2, S**2, A[:, :, None] * S[:, None, :]):
            acc = np.zeros((m, *v.shape[1:]))
            np.add.at(acc, gi, v)
            out.append(acc)
        return out

    gx, gy, gxx, gyy, gxy = sums()
    gn = np.bincount(gi, minlength=m).astype(np.float64)
    tot = [v.sum(axis=0) for v in (gx, gy, gxx, gyy, gxy)]
    n = gn.sum()
    r = _r(n, tot[0][:, None], tot[1][None, :], tot[2][:, None], tot[3][None, :], tot[4])
    lim = 1 - 1e-12
    lo = hi = np.full_like(r, np.nan)
    if m >= 2:
        loo = _r((n - gn)[:, None, None], (tot[0] - gx)[:, :, None],
                 (tot[1] - gy)[:, None, :], (tot[2] - gxx)[:, :, None],
                 (tot[3] - gyy)[:, None, :], tot[4] - gxy)
        z = np.arctanh(np.clip(loo, -lim, lim))
        se = np.sqrt((m - 1) / m * ((z - z.mean(axis=0)) ** 2).sum(axis=0))
        half = sps.t.ppf((1 + confidence) / 2, m - 1) * se
        z0 = np.arctanh(np.clip(r, -lim, lim))
        lo, hi = np.tanh(z0 - half), np.tanh(z0 + half)
    rows = [{"component": c, "statistic": names[j], "r": float(r[c, j]),
             "ci_low": float(lo[c, j]), "ci_high": float(hi[c, j]), "n_rows": int(n),
             "n_tasks": m} for c in range(A.shape[1]) for j in range(S.shape[1])]
    return pd.DataFrame(rows, columns=list(CORRELATION_COLUMNS[2:]))


@styled
def plot_weight_trajectories(agreement: pd.DataFrame, correlations_df: pd.DataFrame,
                             path=None) -> Figure:
    """Left: the policy's mass on the Bayes-optimal set against the step, one line (with its
    interval) per start; right: one heatmap per start of r(component, statistic). Saved as
    ``{path}.png`` and ``.svg`` when ``path`` is given."""
    need_columns(agreement, ["family", "start", "step", "measure", "mean", "ci_low",
                             "ci_high"], "agreement")
    need_columns(correlations_df, ["start", "component", "statistic", "r"], "correlations")
    starts = list(dict.fromkeys(agreement["start"]))
    fig = new_figure(BLOG_WIDTH, 3.6)
    grid = fig.add_gridspec(1, 1 + len(starts), width_ratios=[2.2] + [1] * len(starts))
    ax = fig.add_subplot(grid[0, 0])
    colours = [OKABE_ITO["black"], OKABE_ITO["vermillion"], OKABE_ITO["blue"],
               OKABE_ITO["bluish_green"]]
    styles = ["-", "--", ":", "-."]
    mass = agreement[agreement.measure == "mass"]
    for i, start in enumerate(starts):
        d = mass[mass.start == start].sort_values("step")
        t = d["step"].to_numpy()
        ax.plot(t, d["mean"], color=colours[i % 4], linestyle=styles[i % 4], marker=".",
                label=start)
        ax.fill_between(t, d["ci_low"], d["ci_high"], color=colours[i % 4], alpha=0.2,
                        linewidth=0)
    ax.set_xlabel("step t")
    ax.set_ylabel(r"$P(a_t \in$ Bayes-optimal set$)$")
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower right", fontsize="small")
    ax.set_title("agreement")
    image = None
    for i, start in enumerate(starts):
        h = fig.add_subplot(grid[0, 1 + i])
        c = correlations_df[correlations_df.start == start]
        table = c.pivot(index="component", columns="statistic", values="r")
        table = table[list(dict.fromkeys(c["statistic"]))]
        image = h.imshow(table.to_numpy(dtype=float), vmin=-1, vmax=1, cmap="RdBu_r",
                         aspect="auto")
        for (y, x), v in np.ndenumerate(table.to_numpy(dtype=float)):
            h.text(x, y, "" if np.isnan(v) else f"{v:.1f}", ha="center", va="center",
                   fontsize=8)
        h.set_xticks(range(table.shape[1]), list(table.columns), fontsize=8)
        h.set_yticks(range(table.shape[0]),
                     [f"c{k}" for k in table.index] if i == 0 else [], fontsize=8)
        h.tick_params(length=0)
        h.grid(False)
        h.set_title(start, fontsize=10)
    if image is not None:
        fig.colorbar(image, ax=fig.axes[1:], shrink=0.8,
                     label="r(component c, count)")
    family = ", ".join(map(str, dict.fromkeys(agreement["family"])))
    fig.suptitle(f"meta-bandits ({family}): weights along the inner loop")
    if path is not None:
        save_figure(fig, path)
    return fig
