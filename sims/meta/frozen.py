"""Frozen weights, improving performance: seed 002's disputed claim, made checkable.

The claim: a policy whose weights are frozen can still get better *within* an episode, because
it carries the sufficient statistics in its activations (here: a belief-state policy reads the
posterior counts), while a memoryless learner has to change its weights to improve. Measured
as the per-step pseudo-regret within an episode,

    ρ_t = E[ maxₖ pₖ − p[a_t] ],   t = 0, …, H − 1,

for (i) the belief-state policy meta-trained on the training family
(:func:`~.belief.train_belief_policy`, then frozen) and (ii) the memoryless softmax learner
updated by REINFORCE within the episode from θ₀ = 0 (:class:`~.memoryless.MemorylessReinforce`),
on the training family and off it (a shifted prior), on the same tasks and outcome tables.
ρ_t is estimated by its mean over tasks (each task's seeds averaged) with a Student-t interval
over tasks; the *within-episode improvement* is ρ_early − ρ_late, the mean regret of the first
third of the steps minus that of the last third, with its t-interval over tasks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from ..reports.figures import BLOG_WIDTH, new_figure, save_figure, styled
from ..reports.render import OKABE_ITO
from .belief import train_belief_policy
from .experiment import t_interval
from .memoryless import MemorylessReinforce
from .rollouts import check_int, rollout
from .tasks import BetaTasks

__all__ = ["FROZEN_COLUMNS", "IMPROVEMENT_COLUMNS", "frozen_weights", "plot_frozen_weights"]

#: Columns of the per-step table of :func:`frozen_weights`.
FROZEN_COLUMNS = ("family", "agent", "step", "regret", "ci_low", "ci_high", "n_tasks")
#: Columns of its improvement table.
IMPROVEMENT_COLUMNS = ("family", "agent", "early", "late", "improvement", "ci_low",
                       "ci_high", "significant")


def frozen_weights(horizon: int = 20, *, train=None, shifted=None, n_tasks: int = 400,
                   n_seeds: int = 2, steps: int = 200, batch: int = 256, seed: int = 0,
                   confidence: float = 0.95) -> tuple[pd.DataFrame, pd.DataFrame, object]:
    """Per-step regret of a frozen belief-state policy and of REINFORCE within the episode.

    Args:
      horizon: H ≥ 2 pulls per episode.
      train: the training family (default ``BetaTasks(2)``, uniform arms); shifted: the
        family off it (default ``BetaTasks(2, prior=(1, 3))``: arms mostly bad).
      n_tasks, n_seeds: tasks per family and episodes per task; steps, batch: the belief
        policy's meta-training (:func:`~.belief.train_belief_policy`, with its report).
      seed: int ≥ 0; tasks of family f from ``SeedSequence(seed, spawn_key=(3, f))``, the
        rollouts (shared by both agents) from ``(4, f)``, the training from ``(5,)``.

    Returns:
      (per_step, improvement, report): :data:`FROZEN_COLUMNS` and :data:`IMPROVEMENT_COLUMNS`
      tables, and the belief policy's :class:`~.belief.TrainingReport`.
    """
    H = check_int(horizon, "horizon", 2)
    n_tasks, n_seeds = check_int(n_tasks, "n_tasks", 2), check_int(n_seeds, "n_seeds", 1)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    train = BetaTasks(2) if train is None else train
    shifted = BetaTasks(2, prior=(1, 3)) if shifted is None else shifted
    if shifted.n_arms != train.n_arms:
        raise ValueError("train and shifted families must have the same number of arms")
    policy, _, report = train_belief_policy(train, H, steps=steps, batch=batch,
                                            seed=np.random.SeedSequence(seed, spawn_key=(5,)),
                                            report=True)
    agents = {"belief (frozen)": policy,
              "reinforce (learning)": MemorylessReinforce(np.zeros(train.n_arms), 1.0)}
    per_step, improvement = [], []
    third = max(1, H // 3)
    for f, (fam, tasks) in enumerate((("train", train), ("shifted", shifted))):
        p = tasks.sample(n_tasks, np.random.default_rng(
            np.random.SeedSequence(seed, spawn_key=(3, f))))
        rows = np.repeat(p, n_seeds, axis=0)
        best = rows.max(axis=1, keepdims=True)
        for name, agent in agents.items():
            out = rollout(agent, rows, H, np.random.SeedSequence(seed, spawn_key=(4, f)))
            rho = (best - out.means).reshape(n_tasks, n_seeds, H).mean(axis=1)  # (tasks, H)
            m, lo, hi = t_interval(rho, confidence)
            per_step += [{"family": fam, "agent": name, "step": t, "regret": float(m[t]),
                          "ci_low": float(lo[t]), "ci_high": float(hi[t]),
                          "n_tasks": n_tasks} for t in range(H)]
            d = rho[:, :third].mean(axis=1) - rho[:, -third:].mean(axis=1)
            dm, dlo, dhi = t_interval(d[:, None], confidence)
            improvement.append({"family": fam, "agent": name,
                                "early": float(rho[:, :third].mean()),
                                "late": float(rho[:, -third:].mean()),
                                "improvement": float(dm[0]), "ci_low": float(dlo[0]),
                                "ci_high": float(dhi[0]),
                                "significant": bool(dlo[0] > 0 or dhi[0] < 0)})
    return (pd.DataFrame(per_step, columns=list(FROZEN_COLUMNS)),
            pd.DataFrame(improvement, columns=list(IMPROVEMENT_COLUMNS)), report)


@styled
def plot_frozen_weights(per_step: pd.DataFrame, path=None) -> Figure:
    """Per-step regret with its intervals, one panel per family (training / shifted), one
    line per agent; saved as ``{path}.png`` and ``.svg`` when ``path`` is given."""
    fams = list(dict.fromkeys(per_step["family"]))
    fig = new_figure(BLOG_WIDTH, 3.4)
    axes = fig.subplots(1, len(fams), sharey=True, squeeze=False).ravel()
    colours = [OKABE_ITO["blue"], OKABE_ITO["vermillion"], OKABE_ITO["bluish_green"]]
    for ax, fam in zip(axes, fams, strict=True):
        d = per_step[per_step.family == fam]
        for i, agent in enumerate(dict.fromkeys(d["agent"])):
            a = d[d.agent == agent].sort_values("step")
            t = a["step"].to_numpy()
            ax.plot(t, a["regret"], color=colours[i % 3], label=agent, marker=".")
            ax.fill_between(t, a["ci_low"], a["ci_high"], color=colours[i % 3], alpha=0.2,
                            linewidth=0)
        ax.set_title("training family" if fam == "train" else "shifted family (off it)")
        ax.set_xlabel("step t within the episode")
    axes[0].set_ylabel(r"per-step regret  $E[\max_k p_k - p_{a_t}]$")
    axes[0].legend(loc="upper right", fontsize="small")
    fig.suptitle("meta-bandits: frozen weights, improving performance? (95% t-intervals over "
                 "tasks)")
    if path is not None:
        save_figure(fig, path)
    return fig
