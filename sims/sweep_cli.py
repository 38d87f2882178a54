"""The ``mesabase sweep`` and ``mesabase results`` commands.

    mesabase sweep SPEC.toml [--executor serial|local|dask] [--scheduler ADDRESS]
                             [--out STORE] [--workers N]
    mesabase results STORE [--csv FILE]

``sweep`` loads the spec (:func:`mesabase.sims.sweep.load_spec`; a bare name such as
``small`` finds a shipped spec), runs the cells not yet in the store ``--out`` (default
``mesabase-sweeps/<sweep name>``) and prints a summary. Executors: ``local`` (default: a
process pool, ``--workers`` processes, default one per core), ``serial`` (this process),
``dask`` (``--scheduler ADDRESS`` connects to a running cluster; without it a
``distributed.LocalCluster`` of ``--workers`` single-threaded worker processes is started
and closed at the end; needs ``pip install mesabase[dask]``). Rerunning the same command
resumes: finished cells are kept, corrupt ones recomputed.

``results`` summarises a store (cells, rows, per scenario and learner the seed means of
the gaps at each cell's final recorded step) and with ``--csv FILE`` writes the whole table:
one row per cell × seed × recorded step, cells in sorted-key order, rows in each cell's
order (the order of :meth:`mesabase.sims.store.Store.table`); floats are written with
``repr`` precision, so the CSV reads back to the same numbers.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

__all__ = ["add_parsers", "sweep_main", "results_main", "summarise", "SWEEPS_DIR",
           "DASK_HINT"]

#: The default parent folder of a sweep's store.
SWEEPS_DIR = "mesabase-sweeps"
DASK_HINT = "the dask executor needs dask.distributed: pip install mesabase[dask]"
_GAPS = ("total", "spec_gap", "history_gap", "learner_gap")


def add_parsers(sub) -> None:
    """Add the ``sweep`` and ``results`` subcommands to ``sub`` (argparse subparsers)."""
    s = sub.add_parser("sweep", help="run a sweep spec (TOML) into a resumable results store")
    s.add_argument("spec", metavar="SPEC.toml", help="a spec file, or the name of a shipped "
                                                     "spec (small)")
    s.add_argument("--executor", choices=("serial", "local", "dask"), default="local",
                   help="where cells run (default local: a process pool)")
    s.add_argument("--scheduler", metavar="ADDRESS",
                   help="a Dask scheduler to connect to (--executor dask)")
    s.add_argument("--out", metavar="STORE",
                   help=f"the results store (default ./{SWEEPS_DIR}/<sweep name>)")
    s.add_argument("--workers", type=int, metavar="N",
                   help="processes of the local pool or the Dask LocalCluster (default: one "
                        "per core)")
    r = sub.add_parser("results", help="summarise a results store or export it as CSV")
    r.add_argument("store", metavar="STORE", help="a store written by `mesabase sweep`")
    r.add_argument("--csv", metavar="FILE", help="write the whole table to FILE")


def _error(msg: str, stream) -> int:
    stream.write(f"mesabase: error: {msg}\n")
    return 2


def summarise(table) -> str:
    """The text ``results`` prints for a sweep table (module docstring)."""
    import pandas as pd

    if table.empty:
        return "0 cells, 0 rows\n"
    last = table[table["step"] == table.groupby("key")["step"].transform("max")]
    by = last.groupby(["scenario", "learner"], sort=True)
    summary = by[list(_GAPS)].mean()
    summary.insert(0, "rows", by.size())
    summary.insert(0, "cells", by["key"].nunique())
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        text = summary.to_string(float_format=lambda x: f"{x:.4g}")
    return (f"{table['key'].nunique()} cells, {len(table)} rows "
            f"({table['seed'].nunique()} seeds in all)\n"
            "seed means at each cell's final recorded step (rows: seeds there):\n"
            f"{text}\n")


def _executor(args, stream):
    """(executor, close) for ``args``; ImportError (:data:`DASK_HINT`) without Dask."""
    if args.executor == "serial":
        return "serial", lambda: None
    if args.executor == "local":
        if args.workers is None:
            return None, lambda: None
        from concurrent.futures import ProcessPoolExecutor

        from .sweep import _ignore_sigint

        pool = ProcessPoolExecutor(max_workers=args.workers, initializer=_ignore_sigint)
        return pool, lambda: pool.shutdown(wait=True, cancel_futures=True)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError(DASK_HINT) from None
    if args.scheduler:
        client, cluster = Client(args.scheduler), None
    else:
        from .sweep import _cpus

        cluster = LocalCluster(n_workers=args.workers or _cpus(), threads_per_worker=1,
                               processes=True, dashboard_address=":0")
        client = Client(cluster)
    stream.write(f"dask: {client}\n")

    def close():
        client.close()
        if cluster is not None:
            cluster.close()

    return client.get_executor(), close


def sweep_main(args, stream=None) -> int:
    """``mesabase sweep`` for parsed ``args`` (see :func:`add_parsers`). Returns an exit
    code: 0 done, 2 a bad spec or argument (the message names the key), 1 a failed cell."""
    from .store import Store
    from .sweep import SpecError, load_spec, spec_name, sweep

    stream = stream or sys.stdout
    if args.scheduler and args.executor != "dask":
        return _error("--scheduler needs --executor dask", sys.stderr)
    if args.workers is not None and args.workers < 1:
        return _error(f"--workers must be >= 1; got {args.workers}", sys.stderr)
    try:
        cells = load_spec(args.spec)
        name = spec_name(args.spec)
    except (SpecError, FileNotFoundError) as e:
        return _error(str(e), sys.stderr)
    out = Path(args.out) if args.out else Path(SWEEPS_DIR) / name
    try:
        store = Store(out)
    except (ValueError, OSError) as e:
        return _error(f"--out {str(out)!r}: {e}", sys.stderr)
    before = sum(store.has(c.key) for c in cells)
    stream.write(f"sweep {name!r}: {len(cells)} cells, {before} already in {out}, "
                 f"executor {args.executor}\n")
    try:
        executor, close = _executor(args, stream)
    except (ImportError, OSError) as e:  # no Dask; a scheduler that does not answer
        return _error(str(e), sys.stderr)
    t = time.perf_counter()
    try:
        table = sweep(cells, executor=executor, store=store)
    except RuntimeError as e:
        sys.stderr.write(f"mesabase: {e}: {e.__cause__!r}\n"
                         f"the cells finished so far are in {out}; rerun to resume\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write(f"\ninterrupted: {len(store.keys())} cells are in {out}; rerun the "
                         "same command to resume\n")
        return 130
    finally:
        close()
    stream.write(f"wrote {len(cells) - before} cells in {time.perf_counter() - t:.1f} s; "
                 f"{out}: {len(table)} rows\n")
    stream.write(summarise(table))
    return 0


def results_main(args, stream=None) -> int:
    """``mesabase results`` for parsed ``args``: 0 done, 1 a corrupt cell (named), 2 no
    store there."""
    from .store import MANIFEST, Store

    stream = stream or sys.stdout
    path = Path(args.store)
    if not (path / MANIFEST).is_file():
        return _error(f"no results store at {str(path)!r} (no {MANIFEST})", sys.stderr)
    store = Store(path)
    bad = store.verify()
    if bad:
        for key, reason in bad.items():
            sys.stderr.write(f"mesabase: corrupt cell {key}: {reason}\n")
        sys.stderr.write("rerun the sweep to recompute them\n")
        return 1
    from .sweep import order_columns

    table = order_columns(store.table())
    stream.write(summarise(table))
    if args.csv:
        import os

        csv = Path(args.csv)
        csv.parent.mkdir(parents=True, exist_ok=True)
        tmp = csv.with_name(f".{csv.name}.{os.getpid()}.tmp")
        try:
            table.to_csv(tmp, index=False)
            os.replace(tmp, csv)
        finally:
            tmp.unlink(missing_ok=True)
        stream.write(f"wrote {args.csv} ({len(table)} rows, {table.shape[1]} columns)\n")
    return 0
