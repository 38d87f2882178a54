"""The ``mesabase sweep`` and ``mesabase results`` commands.

    mesabase sweep SPEC.toml [--executor serial|local|dask] [--scheduler ADDRESS]
                             [--out STORE] [--workers N]
    mesabase results STORE [--csv FILE]

``sweep`` loads the spec (:func:`mesabase.sims.experiments.sweeps.load_spec`; a bare name such as
``small`` finds a shipped spec), runs the cells not yet in the store ``--out`` (default
``mesabase-sweeps/<sweep name>``) and prints a summary. Executors: ``local`` (default: a
process pool, ``--workers`` processes, default one per core), ``serial`` (this process),
``dask`` (``--scheduler ADDRESS`` connects to a running cluster; without it a
``distributed.LocalCluster`` of ``--workers`` single-threaded worker processes is started
and closed at the end; needs ``pip install mesabase[dask]``). Rerunning the same command
resumes: finished cells are kept, corrupt ones recomputed (and counted as written).

Bad input ends in one line on stderr and a non-zero exit, never a traceback: a bad spec
(exit 2: the message names the key, or the file and why it cannot be read — not UTF-8, no
permission), an ``--out`` that is a file or a folder that is not a store (2), a store that
cannot be written or read — read-only, a full disk, a symbolic link in place of its manifest
(1: the message names the path and the problem; the cells finished so far stay), a failed
cell (1). Warnings (a corrupt cell being recomputed, a malformed manifest line skipped) are
one line each on stderr.

``results`` summarises a store (cells, rows, per scenario and learner the seed means of
the gaps at each cell's final recorded step) and with ``--csv FILE`` writes the whole table:
one row per cell × seed × recorded step, cells in sorted-key order, rows in each cell's
order (the order of :meth:`mesabase.sims.experiments.store.Store.table`); floats are written with
``repr`` precision, so the CSV reads back to the same numbers.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
import warnings
from pathlib import Path

from ..files import make_folder

__all__ = ["add_parsers", "sweep_main", "results_main", "summarise", "SWEEPS_DIR",
           "DASK_HINT"]

#: The default parent folder of a sweep's store.
SWEEPS_DIR = "mesabase-sweeps"
DASK_HINT = "the dask executor needs dask.distributed: pip install mesabase[dask]"
_GAPS = ("total", "misspecification_gap", "data_gap", "ambiguity_gap", "learner_gap")


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


def _error(msg: str, stream, code: int = 2) -> int:
    stream.write(f"mesabase: error: {_one_line(msg)}\n")
    return code


def _one_line(msg: str) -> str:
    return " ".join(str(msg).split())


def _os_text(e: OSError) -> str:
    """``<path>: <reason>`` for an OSError (a StoreError's text is that already)."""
    from ..experiments.store import StoreError

    if isinstance(e, StoreError) or e.filename is None:
        return str(e)
    return f"{e.filename}: {e.strerror or e}"


@contextlib.contextmanager
def _warnings_as_lines(stream):
    """Show each warning as one line, ``mesabase: warning: …``, as it happens."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.showwarning = (lambda message, *args, **kwargs:
                                stream.write(f"mesabase: warning: {_one_line(message)}\n"))
        yield


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
        from ..experiments.sweeps import worker_pool

        pool = worker_pool(args.workers)
        return pool, lambda: pool.shutdown(wait=True, cancel_futures=True)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise ImportError(DASK_HINT) from None
    if args.scheduler:
        client, cluster = Client(args.scheduler), None
    else:
        from ..experiments.sweeps import usable_cpus

        cluster = LocalCluster(n_workers=args.workers or usable_cpus(), threads_per_worker=1,
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
    code: 0 done, 2 a bad spec or argument (the message names the key or path), 1 a failed
    cell or a store that cannot be written (the message names the path), 130 Ctrl-C."""
    with _warnings_as_lines(sys.stderr):
        return _sweep_main(args, stream or sys.stdout)


def _sweep_main(args, stream) -> int:
    from ..experiments.store import CorruptCell, Store
    from ..experiments.sweeps import SpecError, load_spec, spec_name, sweep_with_report

    if args.scheduler and args.executor != "dask":
        return _error("--scheduler needs --executor dask", sys.stderr)
    if args.workers is not None and args.workers < 1:
        return _error(f"--workers must be >= 1; got {args.workers}", sys.stderr)
    try:
        cells = load_spec(args.spec)
        name = spec_name(args.spec)
    except (SpecError, FileNotFoundError) as e:
        return _error(str(e), sys.stderr)
    except OSError as e:  # a spec that cannot be read
        return _error(f"cannot read the spec: {_os_text(e)}", sys.stderr)
    out = Path(args.out) if args.out else Path(SWEEPS_DIR) / name
    new = not out.exists()
    try:
        store = Store(out)
    except ValueError as e:
        return _error(f"--out {str(out)!r}: {e}", sys.stderr)
    except OSError as e:
        return _error(f"--out: {_os_text(e)}", sys.stderr)
    if new:
        stream.write(f"created the store folder {out}\n")
    work = sum(c.steps * c.seeds for c in cells)
    try:
        before = sum(store.has(c.key) for c in cells)
    except OSError as e:
        return _error(_os_text(e), sys.stderr, 1)
    stream.write(f"sweep {name!r}: {len(cells)} cells, {before} already in {out}, "
                 f"executor {args.executor} ({work:.3g} seed-steps in all)\n")
    try:
        executor, close = _executor(args, stream)
    except (ImportError, OSError) as e:  # no Dask; a scheduler that does not answer
        return _error(str(e), sys.stderr)
    t = time.perf_counter()
    try:
        table, computed, corrupt = sweep_with_report(cells, executor, store, None)
    except RuntimeError as e:
        sys.stderr.write(f"mesabase: {_one_line(e)}: {_one_line(repr(e.__cause__))}; the "
                         f"cells finished so far are in {out}: rerun to resume\n")
        return 1
    except OSError as e:  # the store: read-only, full, a link where its manifest belongs
        return _error(f"{_os_text(e)} (the cells finished so far are kept)", sys.stderr, 1)
    except CorruptCell as e:  # damaged while the sweep ran (by something else)
        return _error(f"{e} (rerun the sweep to recompute it)", sys.stderr, 1)
    except KeyboardInterrupt:
        with contextlib.suppress(OSError):
            before = len(store.keys())
        sys.stderr.write(f"\ninterrupted: {before} cells are in {out}; rerun the "
                         "same command to resume\n")
        return 130
    finally:
        close()
    again = f" ({len(corrupt)} recomputed: corrupt)" if corrupt else ""
    stream.write(f"wrote {len(computed)} cells{again} in {time.perf_counter() - t:.1f} s; "
                 f"{out}: {len(table)} rows\n")
    stream.write(summarise(table))
    return 0


def results_main(args, stream=None) -> int:
    """``mesabase results`` for parsed ``args``: 0 done, 1 a corrupt cell (named) or a
    store or CSV file that cannot be read or written (the path named), 2 no store there."""
    with _warnings_as_lines(sys.stderr):
        return _results_main(args, stream or sys.stdout)


def _results_main(args, stream) -> int:
    from ..experiments.store import MANIFEST, Store

    path = Path(args.store)
    if not os.path.lexists(path / MANIFEST):
        return _error(f"no results store at {str(path)!r} (no {MANIFEST})", sys.stderr)
    try:
        store = Store(path)
        bad = store.verify()
        if bad:
            for key, reason in bad.items():
                sys.stderr.write(f"mesabase: corrupt cell {key}: {_one_line(reason)}\n")
            sys.stderr.write("rerun the sweep to recompute them\n")
            return 1
        from ..experiments.sweeps import order_columns

        table = order_columns(store.table())
    except (ValueError, OSError) as e:
        return _error(_os_text(e) if isinstance(e, OSError) else str(e), sys.stderr, 1)
    stream.write(summarise(table))
    if args.csv:
        csv = Path(args.csv)
        tmp = csv.with_name(f".{csv.name}.{os.getpid()}.tmp")
        try:
            make_folder(csv.parent, stream)  # says "mesabase: created folder" when it does
            table.to_csv(tmp, index=False)
            os.replace(tmp, csv)
        except OSError as e:
            return _error(f"--csv: {_os_text(e)}", sys.stderr, 1)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)
        stream.write(f"wrote {args.csv} ({len(table)} rows, {table.shape[1]} columns)\n")
    return 0
