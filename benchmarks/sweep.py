"""Sweep benchmark: one grid run serially, through a 2-process pool and on a Dask cluster.

Run on demand (this is not a test; about 13 minutes on 2 idle cores)::

    python benchmarks/sweep.py [--cells 200] [--seeds 64] [--steps 7000] [--workers 2]
                               [--blas-threads 1] [--quick] [--out FILE]

Workload (issue 7). ``--cells`` cells (a multiple of 4): REINFORCE on ``proxy-bandit`` and
``proxy-bandit-control`` with ``--cells / 4`` step sizes lr ∈ [0.05, 0.5] each, and on
``exploration-trap`` with the same step sizes × baseline ∈ {0, "mean"}; every cell runs
``--seeds`` seeds for ``--steps`` steps, recording every ``steps / 10``, and is attributed
(:func:`mesabase.sims.experiments.sweeps.run_cell`). At the defaults a cell takes 1.1–2.4 s serially
(1.7 s on average): every cell is over the 1 s the target speaks of.

Each mode runs the whole grid into a fresh store (timed: the ``sweep`` call, i.e. computing,
writing every cell and reading the final table back):

* ``serial``: ``sweep(cells, executor="serial")``, in this process;
* ``pool``: ``sweep(cells, executor=ProcessPoolExecutor(workers))`` (pool start included);
* ``dask``: ``sweep(cells, executor=client.get_executor())`` on a
  ``LocalCluster(n_workers=workers, threads_per_worker=1, processes=True)`` started (and its
  workers' imports warmed) before the timing; its start time is reported apart.

Per mode: wall time W; Σc, the sum of the cells' compute times measured where they ran
(the store's ``seconds``); the speed-up W_serial / W and the efficiency speed-up / p
(ideal: p = ``--workers``); the *overhead per cell* (p·W − Σc) / n, the worker time not
spent computing (dispatch, pickling, store writes, idle tails, start-up); and the
*contention* Σc / Σc_serial (cells slowed by running side by side). The tables of all modes
are checked to be identical bit for bit. Target: the pool within 10% of the ideal 2×
speed-up (efficiency ≥ 0.9) on cells of 1 s or more.

BLAS runs one thread per process in every mode (``--blas-threads``, set before numpy is
imported; Dask's nanny does the same for its workers), so that p processes use p cores.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import tempfile
import time


def _blas_threads(argv) -> str:
    for i, a in enumerate(argv):
        if a.startswith("--blas-threads"):
            return a.split("=", 1)[1] if "=" in a else argv[i + 1]
    return "1"


if __name__ == "__main__":  # before numpy is imported (also inherited by the workers)
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = _blas_threads(sys.argv[1:])

import numpy as np  # noqa: E402
from machine import cpu_name  # noqa: E402  (benchmarks/machine.py)
from pandas.testing import assert_frame_equal  # noqa: E402

from mesabase.sims.experiments.store import Store  # noqa: E402
from mesabase.sims.experiments.sweeps import grid, sweep  # noqa: E402

TARGET_EFFICIENCY = 0.9


def log(*a):
    print(f"[{time.strftime('%H:%M:%S')}]", *a, file=sys.stderr, flush=True)


def cells_for(n: int, seeds: int, steps: int):
    """The benchmark grid (module docstring): n cells, n a multiple of 4."""
    lrs = [float(x) for x in np.round(np.linspace(0.05, 0.5, n // 4), 6)]
    k = max(1, steps // 10)
    sizes = dict(seeds=seeds, steps=steps, record_every=k, learner="reinforce")
    return (grid(scenario=["proxy-bandit", "proxy-bandit-control"], lr=lrs, **sizes)
            + grid(scenario="exploration-trap", lr=lrs, baseline=[0.0, "mean"], **sizes))


def timed_sweep(cells, executor, root: str, name: str):
    """(table, wall seconds, per-cell compute seconds) of one mode into a fresh store."""
    store = Store(os.path.join(root, name))
    t = time.perf_counter()
    table = sweep(cells, executor=executor, store=store, progress=False)
    wall = time.perf_counter() - t
    compute = np.array([store.meta(c.key)["seconds"] for c in cells])
    return table, wall, compute


def machine() -> list[str]:
    cpu = cpu_name()
    try:
        import distributed
        dask = f"dask.distributed {distributed.__version__}"
    except ImportError:
        dask = "dask.distributed not installed"
    import pandas

    return [f"- CPU: {cpu}, {os.cpu_count()} cores (`os.cpu_count()`)",
            f"- Python {platform.python_version()}, numpy {np.__version__}, pandas "
            f"{pandas.__version__}, {dask}; BLAS threads per process: "
            f"{os.environ.get('OPENBLAS_NUM_THREADS', 'default')}"]


def run(args) -> str:
    cells = cells_for(args.cells, args.seeds, args.steps)
    p = args.workers
    load0 = os.getloadavg()
    rows, tables = [], {}
    with tempfile.TemporaryDirectory(prefix="mesabase-bench-") as root:
        log(f"{len(cells)} cells, {args.seeds} seeds x {args.steps} steps; serial")
        tables["serial"], w1, c1 = timed_sweep(cells, "serial", root, "serial")
        rows.append(("serial", 1, w1, c1))
        from concurrent.futures import ProcessPoolExecutor

        log(f"pool of {p}")
        with ProcessPoolExecutor(p) as pool:
            tables["pool"], w, c = timed_sweep(cells, pool, root, "pool")
        rows.append((f"process pool ({p})", p, w, c))
        dask_start = None
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            log("dask.distributed is not installed: pip install mesabase[dask]; skipped")
        else:
            log(f"dask LocalCluster of {p}")
            t = time.perf_counter()
            with LocalCluster(n_workers=p, threads_per_worker=1, processes=True,
                              dashboard_address=":0") as cluster, Client(cluster) as client:
                client.run(lambda: __import__("mesabase.sims.experiments.sweeps"))
                dask_start = time.perf_counter() - t
                tables["dask"], w, c = timed_sweep(cells, client.get_executor(), root,
                                                   "dask")
            rows.append((f"Dask LocalCluster ({p} workers)", p, w, c))
    for name, table in tables.items():
        assert_frame_equal(table, tables["serial"], check_exact=True, obj=name)
    load1 = os.getloadavg()
    return report(args, cells, rows, dask_start, load0, load1)


def report(args, cells, rows, dask_start, load0, load1) -> str:
    n = len(cells)
    w1, c1 = rows[0][2], rows[0][3]
    lines = [
        "## Sweeps: serial, process pool, Dask",
        "",
        f"`python benchmarks/sweep.py{' --quick' if args.quick else ''} --cells {args.cells}"
        f" --seeds {args.seeds} --steps {args.steps} --workers {args.workers}` "
        f"({datetime.date.today().isoformat()}). Method and definitions: the docstring of "
        "`benchmarks/sweep.py`.",
        "",
        *machine(),
        f"- load average at start {load0[0]:.2f}, at end {load1[0]:.2f} (other processes "
        "share the cores: read ratios, not absolute times)",
        f"- workload: {n} cells (proxy-bandit, proxy-bandit-control, exploration-trap; "
        f"REINFORCE step sizes and baselines), {args.seeds} seeds x {args.steps} steps each, "
        f"one cell {c1.mean():.2f} s on average serially (min {c1.min():.2f} s, max "
        f"{c1.max():.2f} s)",
        "",
        "| executor | p | wall | Σ cell compute | speed-up | efficiency | overhead / cell "
        "| contention |",
        "|---|---|---|---|---|---|---|---|",
    ]
    verdict = None
    for name, p, w, c in rows:
        speed = w1 / w
        over = (p * w - c.sum()) / n
        lines.append(f"| {name} | {p} | {w:.1f} s | {c.sum():.1f} s | {speed:.2f}× | "
                     f"{speed / p:.2f} | {over * 1e3:.0f} ms | {c.sum() / c1.sum():.2f} |")
        if name.startswith("process pool"):
            verdict = (speed / p, speed)
    lines.append("")
    if dask_start is not None:
        lines.append(f"The Dask cluster took {dask_start:.1f} s to start (not in its wall "
                     "time). All tables were identical bit for bit.")
    else:
        lines.append("Dask was not installed (`pip install mesabase[dask]`): its row is "
                     "missing. The other tables were identical bit for bit.")
    eff, speed = verdict
    ok = eff >= TARGET_EFFICIENCY and c1.min() >= 1.0
    why = "" if c1.min() >= 1.0 else " (cells under 1 s: the target does not apply)"
    lines += ["", f"- target: the pool within 10% of the ideal {args.workers}× speed-up on "
              f"cells of 1 s or more: **{'met' if ok else 'not met'}** ({speed:.2f}×, "
              f"efficiency {eff:.2f}){why}.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--cells", type=int, default=200, help="a multiple of 4 (default 200)")
    p.add_argument("--seeds", type=int, default=64)
    p.add_argument("--steps", type=int, default=7000)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--blas-threads", type=int, default=1,
                   help="BLAS threads per process (default 1)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 8 cells, 4 seeds, "
                                                        "400 steps")
    p.add_argument("--out", help="also write the Markdown section to this file")
    args = p.parse_args(argv)
    if args.quick:
        args.cells, args.seeds, args.steps = 8, 4, 400
    if args.cells < 4 or args.cells % 4:
        p.error(f"--cells must be a positive multiple of 4; got {args.cells}")
    if args.workers < 1 or args.seeds < 1 or args.steps < 10:
        p.error("--workers and --seeds must be >= 1 and --steps >= 10")
    text = run(args)
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
