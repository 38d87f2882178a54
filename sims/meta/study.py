"""``mesabase run meta-bandits``: the meta-bandits study written to a results folder.

The study of :mod:`.experiment` (Bayes regret versus horizon, every agent on the same tasks
and seeds) at the default sizes :data:`DEFAULTS` or the small :data:`QUICK` ones, saved as

    OUT/meta-bandits/table.parquet   the tidy table (agent, horizon, task, seed, regret, return)
    OUT/meta-bandits/summary.csv     per (agent, horizon): mean Bayes regret, 95% t-interval
                                     over tasks, the exact Bayes regret of the Bayes-optimal
                                     agent
    OUT/meta-bandits/differences.csv per (agent, horizon): its Bayes regret minus the
                                     Bayes-optimal agent's, paired by task, with a 95%
                                     t-interval, p-value and Holm-adjusted significance
    OUT/meta-bandits/training.csv    per meta-trained (agent, horizon): converged, the
                                     stopping criterion, steps, the gap to Bayes-optimal
                                     (and to the best of the agent's class, where known)
    OUT/meta-bandits/regret.png|svg  the figure (drawn from summary.csv and training.csv;
                                     agents not converged are marked)
    OUT/meta-bandits/maml-advantage.csv  MAML's θ₀ against REINFORCE from zero on task
                                     families where the initialisation matters
                                     (:mod:`.families`), exact and with intervals
    OUT/meta-bandits/frozen-weights.csv|png|svg, frozen-improvement.csv  per-step regret
                                     within the episode of the frozen belief policy and of
                                     REINFORCE, on and off the training family
                                     (:mod:`.frozen`)
    OUT/meta-bandits/weights-agreement.csv, weights-compare.csv, weights-starts.csv
                                     how the memoryless learner's policy tracks the
                                     Bayes-optimal action along the inner loop from the
                                     zero, MAML and Meta-SGD starts (:mod:`.weights`)
    OUT/meta-bandits/weights-nmf.csv, weights-components.csv, weights-fit.csv,
    weights.png|svg                  the NMF of those weight trajectories and each
                                     component's correlation with the counts
                                     (:mod:`.weights_nmf`)
    OUT/meta-bandits/mesa.csv, mesa-regret.csv, mesa.png|svg  a mesa-learner attributed: the
                                     belief policy meta-trained where arm 2 is useless,
                                     deployed where it is good; its behaviours' frequencies
                                     (intervals) against the ranges over the training and
                                     the deployment argmax sets, verdicts outer / inner,
                                     and the deployment regret (:mod:`.mesa`)
    OUT/meta-bandits/study.json      the sizes and seed, to rerun it

each file written atomically (temporary file, then rename). :func:`study_section` turns the
saved files into the section of ``report.md`` (figures and reports come from saved tables).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

from ..reports.meta_section import STUDY, study_section  # noqa: F401 - re-exported
from .belief import TrainingReport
from .experiment import (
    default_agents,
    meta_bandits,
    paired_differences,
    plot_meta_bandits,
    summarise,
)
from .families import maml_advantage
from .frozen import frozen_weights, plot_frozen_weights
from .mesa import mesa_attribution, plot_mesa
from .weights import weight_trajectories
from .weights_nmf import plot_weight_trajectories

TRAINING_FIELDS = list(TrainingReport._fields)
#: The MAML-advantage table (:mod:`.families`) runs at the study's horizons up to this one
#: (exact meta-gradients, seconds).
ADVANTAGE_MAX_H = 10
#: The frozen-weights experiment (:mod:`.frozen`) runs at the largest study horizon up to this.
FROZEN_MAX_H = 20
#: The mesa-learner attribution (:mod:`.mesa`) runs at the largest study horizon up to this
#: (at H = 10 and 1000 steps the belief policy ends 0.006 below V* = 5.0; at H = 16 it ends
#: 0.58 below V* = 8.0, too far from its optimum to say much about its behaviours).
MESA_MAX_H = 12
#: The weight-trajectory experiment (:mod:`.weights`) runs at the largest study horizon capped
#: at this (exact meta-gradients: 4⁸ outcome sequences, ~17 ms a step), with 5 × meta_steps
#: Adam steps for MAML and for Meta-SGD, at most WEIGHTS_MAX_STEPS.
WEIGHTS_MAX_H = 8
WEIGHTS_MAX_STEPS = 300

__all__ = ["STUDY", "DEFAULTS", "QUICK", "run_study", "study_section", "study_sizes"]

#: Default sizes: K = 2 independent uniform arms, horizons 2 … 40, 500 tasks × 4 seeds.
DEFAULTS = dict(horizons=(2, 5, 10, 20, 40), n_arms=2, family="beta", n_tasks=500,
                n_seeds=4, seed=0, meta_steps=100)
#: ``--quick`` (and ``mesabase demo``) sizes.
QUICK = dict(DEFAULTS, horizons=(2, 4, 8), n_tasks=200, n_seeds=2, meta_steps=20)


def study_sizes(quick: bool = False, **given) -> dict:
    """The sizes the study runs at: :data:`QUICK` or :data:`DEFAULTS`, overridden by the
    ``given`` values that are not None. Raises ValueError naming a bad size."""
    sizes = dict(QUICK if quick else DEFAULTS)
    for k, v in given.items():
        if k not in sizes:
            raise ValueError(f"unknown size {k!r} of {STUDY}; choose from {', '.join(sizes)}")
        if v is not None:
            sizes[k] = v
    sizes["horizons"] = tuple(int(h) for h in sizes["horizons"])
    if not sizes["horizons"] or min(sizes["horizons"]) < 1:
        raise ValueError(f"--horizons must be integers >= 1; got {sizes['horizons']}")
    flags = {"n_arms": "--arms", "n_tasks": "--tasks", "n_seeds": "--seeds",
             "meta_steps": "--meta-steps"}  # the CLI's names of the sizes
    for k, flag in flags.items():
        if int(sizes[k]) < 1:
            raise ValueError(f"{flag} ({k}) must be >= 1; got {sizes[k]}")
    return sizes


def run_study(out, sizes: dict, *, stream=None, dpi: int | None = None) -> pd.DataFrame:
    """Run the study at ``sizes`` (:func:`study_sizes`) with a progress bar, write its files
    under ``out/meta-bandits`` and return the summary table. A symbolic link at
    ``out/meta-bandits`` is refused (:class:`~mesabase.sims.files.PathError`) before any
    work: nothing is written outside ``out``."""
    from tqdm import tqdm

    from ..files import atomic_write, make_folder
    from ..reports.report import write_figure

    stream = stream or sys.stdout
    folder = Path(out) / STUDY
    make_folder(folder, root=out)  # before any work: a link there (outside out) is refused
    agents = default_agents(meta_steps=sizes["meta_steps"])
    n_cells = len(sizes["horizons"]) * len(agents)
    t0 = time.perf_counter()
    with tqdm(total=n_cells, desc=STUDY, unit="cell", disable=None) as bar:
        def progress(agent, horizon):
            bar.set_postfix_str(f"{agent} H={horizon}")
            bar.update(1)

        df = meta_bandits(horizons=sizes["horizons"], n_arms=sizes["n_arms"],
                          family=sizes["family"], n_tasks=sizes["n_tasks"],
                          n_seeds=sizes["n_seeds"], seed=sizes["seed"],
                          agents=agents,
                          progress=progress)
    seconds = time.perf_counter() - t0
    summary = summarise(df)
    training = pd.DataFrame(df.attrs.get("training", []),
                            columns=["agent", "horizon", *TRAINING_FIELDS])
    df.attrs.pop("training", None)  # saved as its own table
    atomic_write(folder / "table.parquet", lambda p: df.to_parquet(p, index=False))
    atomic_write(folder / "summary.csv", lambda p: summary.to_csv(p, index=False))
    differences = paired_differences(df)
    atomic_write(folder / "differences.csv", lambda p: differences.to_csv(p, index=False))
    atomic_write(folder / "training.csv", lambda p: training.to_csv(p, index=False))
    write_figure(plot_meta_bandits(summary, training=training), folder / "regret", dpi)
    small = tuple(h for h in sizes["horizons"] if h <= ADVANTAGE_MAX_H) or (2,)
    advantage = maml_advantage(horizons=small, n_tasks=sizes["n_tasks"],
                               n_seeds=sizes["n_seeds"], steps=10 * sizes["meta_steps"],
                               seed=sizes["seed"])
    atomic_write(folder / "maml-advantage.csv", lambda p: advantage.to_csv(p, index=False))
    H_frozen = max((h for h in sizes["horizons"] if h <= FROZEN_MAX_H), default=2)
    per_step, improvement, rep = frozen_weights(
        max(H_frozen, 2), n_tasks=sizes["n_tasks"], n_seeds=sizes["n_seeds"],
        steps=10 * sizes["meta_steps"], seed=sizes["seed"])
    improvement["belief_converged"] = rep.converged
    improvement["belief_bayes_gap"] = rep.bayes_gap
    atomic_write(folder / "frozen-weights.csv", lambda p: per_step.to_csv(p, index=False))
    atomic_write(folder / "frozen-improvement.csv",
                 lambda p: improvement.to_csv(p, index=False))
    write_figure(plot_frozen_weights(per_step), folder / "frozen-weights", dpi)
    mesa = mesa_attribution(
        max((h for h in sizes["horizons"] if 2 <= h <= MESA_MAX_H), default=2),
        n_tasks=max(sizes["n_tasks"], 2), n_seeds=sizes["n_seeds"],
        steps=10 * sizes["meta_steps"], seed=sizes["seed"])
    atomic_write(folder / "mesa.csv", lambda p: mesa.table.to_csv(p, index=False))
    atomic_write(folder / "mesa-regret.csv", lambda p: mesa.regret.to_csv(p, index=False))
    write_figure(plot_mesa(mesa.table), folder / "mesa", dpi)
    ws = weight_trajectories(max(min(max(sizes["horizons"]), WEIGHTS_MAX_H), 2),
                             n_tasks=max(sizes["n_tasks"], 2), n_seeds=sizes["n_seeds"],
                             meta_steps=min(5 * sizes["meta_steps"], WEIGHTS_MAX_STEPS),
                             seed=sizes["seed"])
    for name, table in (("agreement", ws.agreement), ("compare", ws.compare),
                        ("starts", ws.starts), ("nmf", ws.correlations),
                        ("components", ws.components), ("fit", ws.fit)):
        atomic_write(folder / f"weights-{name}.csv",
                     lambda p, t=table: t.to_csv(p, index=False))
    write_figure(plot_weight_trajectories(ws.agreement, ws.correlations), folder / "weights",
                 dpi)
    meta = {**sizes, "horizons": list(sizes["horizons"]), "seconds": round(seconds, 2),
            "rows": len(df)}
    atomic_write(folder / "study.json",
                 lambda p: Path(p).write_text(json.dumps(meta, indent=2), encoding="utf-8"))
    last = summary[summary.horizon == summary.horizon.max()].sort_values("regret")
    stream.write(f"  {STUDY:<22} Bayes regret at H = {int(last.horizon.iloc[0])}: "
                 + ", ".join(f"{a} {r:.3g}" for a, r in zip(last.agent, last.regret,
                                                             strict=True))
                 + f"   ({seconds:.1f} s)\n")
    return summary
