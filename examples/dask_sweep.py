# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
# ---

# %% [markdown]
# # A sweep on Dask
#
# A sweep is data: `grid` crosses the axes into cells (scenario, learner, hyperparameters,
# sizes), each keyed by a hash of its configuration, with seeds derived from that
# configuration by `numpy.random.SeedSequence` — so a cell's table is bit-identical whether
# it ran alone, in a process pool or on a Dask worker. `sweep` sends the cells missing from a
# results `Store` to any `concurrent.futures.Executor` (a Dask client's `get_executor()`)
# and writes each finished cell as one checksummed Parquet file; rerunning computes nothing.
#
# The question swept: in the exploration trap, how does REINFORCE's step size α split its
# final intended regret between the data gap (outer) and the learner gap (inner)?
#
# Needs the Dask extra (`pip install -e '.[dask]'`). `MESABASE_EXAMPLES_SMALL=1` runs 3 step
# sizes × 3 seeds × 600 steps on an in-process cluster (threads); otherwise 7 × 20 × 3000
# on a `LocalCluster` of 2 worker processes. The figure goes to `$MESABASE_EXAMPLES_OUT`
# (default `./examples-output`).

# %%
import multiprocessing
import os
import tempfile
import time
from pathlib import Path

import dask
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from scipy import stats  # noqa: E402

from mesabase.sims import Store, grid, sweep  # noqa: E402
from mesabase.sims.reports.figures import STYLE  # noqa: E402
from mesabase.sims.reports.gap_figures import GAP_TERMS  # noqa: E402

SMALL = os.environ.get("MESABASE_EXAMPLES_SMALL") == "1"
OUT = Path(os.environ.get("MESABASE_EXAMPLES_OUT", "examples-output"))
LRS = [0.1, 0.5, 2.0] if SMALL else [0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0]
SEEDS, STEPS = (3, 600) if SMALL else (20, 3000)

# %% [markdown]
# ## The cells, and the cluster
#
# Worker processes are started by fork here: with Python's default for Dask (spawn) each
# worker re-imports the script that started it, which a script without an
# `if __name__ == "__main__":` guard cannot survive (in Jupyter the default works as is).

# %%
cells = grid(scenario="exploration-trap", learner="reinforce", lr=LRS, seeds=SEEDS,
             steps=STEPS, record_every=STEPS // 10)
print(len(cells), "cells, e.g.", cells[0])
if SMALL:
    cluster = LocalCluster(n_workers=1, threads_per_worker=2, processes=False,
                           dashboard_address=None)
else:
    fork = "fork" in multiprocessing.get_all_start_methods()
    with dask.config.set({"distributed.worker.multiprocessing-method":
                          "fork" if fork else "spawn"}):
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None)

# %% [markdown]
# ## Run into a store, then rerun
#
# The store lives in a temporary folder here; give `sweep` a lasting path to keep it.

# %%
folder = tempfile.TemporaryDirectory(prefix="mesabase-dask-sweep-")
with Client(cluster) as client:
    t = time.perf_counter()
    sweep(cells, executor=client.get_executor(), store=folder.name, progress=False)
    first = time.perf_counter() - t
    t = time.perf_counter()
    table = sweep(cells, executor=client.get_executor(), store=folder.name, progress=False)
    print(f"first run {first:.1f} s; rerun {time.perf_counter() - t:.2f} s (all cells stored)")
cluster.close()
store = Store(folder.name)
print(f"{len(store.keys())} cells stored, {len(store.verify())} corrupt (checked: size, "
      f"sha256, key, rows); {len(table)} rows")

# %% [markdown]
# ## The figure, from the stored table
#
# At the final step, per α: the seed mean of each term with a 95% Student-t interval
# x̄ ± t_{0.975, n−1} s/√n over the n seeds.

# %%
final = store.table().query("step == step.max()")
with plt.style.context(STYLE, after_reset=True):
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    for col, label, colour, ls in GAP_TERMS:
        if col not in ("data_gap", "learner_gap", "total"):
            continue  # no misspecification or ambiguity here (R_I = R_B, one optimum)
        g = final.groupby("lr")[col]
        m, sd, n = g.mean(), g.std(ddof=1), g.count()
        half = stats.t.ppf(0.975, n - 1) * sd / np.sqrt(n)
        ax.errorbar(m.index, m, yerr=half, color=colour, ls=ls, marker="o", capsize=3,
                    label=label)
    ax.set_xscale("log")
    ax.set(xlabel=r"REINFORCE step size $\alpha$", ylabel=r"gap in intended return $J_I$",
           title=f"exploration-trap: the final regret against the step size\n"
                 f"({SEEDS} seeds, {STEPS} steps; bars: 95% t-intervals)")
    ax.legend(fontsize=9)
    OUT.mkdir(parents=True, exist_ok=True)
    fig.savefig(OUT / "dask_sweep.png", dpi=120)
folder.cleanup()
print(f"figure: {OUT / 'dask_sweep.png'}")
