"""Sweeps: grids of configurations run through any executor into a resumable results store.

    cells = grid(scenario=["proxy-bandit", "exploration-trap"], learner="reinforce",
                 lr=[0.05, 0.2, 0.5], seeds=8, steps=1000)
    table = sweep(cells, executor=None, store="mesabase-sweeps/lr")   # resumable

The cells, their keys and seeds, and the spec format are in :mod:`.cells`.

**Tables.** :func:`run_cell` gives one row per seed × recorded step (× environment, for a
shift scenario: "train" rows up to T0, "deploy" rows from T0): ``key, scenario, learner,
environment, steps, n_seeds, record_every``, the params (a tuple value such as
``("power", 0.5)`` as its JSON text), ``seed, step``, the gap columns of
:data:`~mesabase.sims.attribute.GAP_COLUMNS`, and per behaviour b the columns ``b:value``
(the learner's J_b), ``b:lo``, ``b:hi`` (its range over argmax L_t) and ``b:label``.
:func:`sweep` returns ``store.table(keys)`` with the columns in one canonical order
(:func:`order_columns`): cells in sorted-key order, rows in each cell's order — the same
table, bit for bit, from every executor.

**Executors.** ``executor=None``: a local process pool, one process per core; ``"serial"``:
this process; or any :class:`concurrent.futures.Executor` (Dask: ``Client.get_executor()``).
Workers only compute; this process writes each cell to the store (:mod:`~.store`) as it
finishes, so a killed sweep keeps every finished cell and a rerun computes only the rest.
Cells found in the store are checked (sha256); a corrupt one is reported by key (a
RuntimeWarning), discarded and recomputed. KeyboardInterrupt cancels the pending cells.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
import warnings
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from functools import partial

import pandas as pd

from .cells import (  # noqa: F401 - re-exported: the sweep API in one place
    _CONFIG,
    _STATS,
    PARAMS,
    SPECS_DIR,
    Cell,
    SpecError,
    _unique,
    cell_seeds,
    grid,
    load_spec,
    spec_name,
)
from .store import Store

__all__ = ["Cell", "SpecError", "PARAMS", "grid", "load_spec", "spec_name", "cell_seeds",
           "run_cell", "order_columns", "sweep", "SPECS_DIR"]


# ---- running a cell -------------------------------------------------------------------------
def run_cell(cell: Cell) -> pd.DataFrame:
    """Run ``cell`` (one vectorised :func:`~mesabase.sims.scenarios.run` over its seeds) and
    return its tidy table (module docstring, "Tables")."""
    from .scenarios import get_scenario, run

    sc = get_scenario(cell.scenario)
    _, att = run(sc, learner=cell.build_learner(), steps=cell.steps, seeds=cell_seeds(cell),
                 record_every=cell.record_every, environment=cell.environment)
    rows = att.gaps.drop(columns=["scenario", "learner"])
    on = ["environment", "seed", "step"]
    b = att.behaviours
    for name in pd.unique(b["behaviour"]):
        part = b.loc[b["behaviour"] == name, on + ["learner_value", "lo", "hi", "label"]]
        part = part.rename(columns={"learner_value": f"{name}:value", "lo": f"{name}:lo",
                                    "hi": f"{name}:hi", "label": f"{name}:label"})
        rows = rows.merge(part, on=on, how="left", validate="one_to_one")
    config = {"key": cell.key, "scenario": cell.scenario, "learner": cell.learner,
              "environment": rows.pop("environment"), "steps": cell.steps,
              "n_seeds": cell.seeds, "record_every": cell.record_every}
    for k, v in cell.params.items():
        config[k] = json.dumps(list(v)) if isinstance(v, tuple) else v
    front = pd.DataFrame(config, index=rows.index)
    return order_columns(pd.concat([front, rows], axis=1).reset_index(drop=True))


def order_columns(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with its columns in the canonical order of sweep tables: the config
    (key, scenario, learner, environment, steps, n_seeds, record_every), the params (sorted),
    seed, step, the gaps in :data:`~mesabase.sims.attribute.GAP_COLUMNS` order, then per
    behaviour (sorted) value, lo, hi, label; any other column last, sorted. Rows untouched."""
    from .attribute import GAP_COLUMNS

    cols = set(table.columns)
    params = sorted(cols & {k for p in PARAMS.values() for k in p})
    behaviours = sorted({c.rsplit(":", 1)[0] for c in cols if ":" in c})
    order = [c for c in (*_CONFIG, *params, "seed", "step", *GAP_COLUMNS[5:],
                         *(f"{b}:{s}" for b in behaviours for s in _STATS)) if c in cols]
    return table[order + sorted(cols - set(order))]


def _work(cell: Cell):
    t = time.perf_counter()
    table = run_cell(cell)
    return table, time.perf_counter() - t


def _ignore_sigint():  # pool workers: the parent handles Ctrl-C
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _bar(total: int, initial: int, progress):
    from tqdm.auto import tqdm

    disable = None if progress is None else not progress
    return tqdm(total=total, initial=initial, desc="sweep", unit="cell", disable=disable,
                dynamic_ncols=True)


def _meta(cell: Cell, seconds: float) -> dict:
    from .cli import _version

    return {"cell": cell.to_dict(), "seconds": round(seconds, 3), "mesabase": _version()}


def sweep(cells, executor=None, store=None, progress=None) -> pd.DataFrame:
    """Run every cell not yet in ``store`` through ``executor`` and return the table of all
    of ``cells`` (module docstring).

    Args:
      cells: an iterable of :class:`Cell` (duplicates run once).
      executor: None or "local" (a process pool, one process per core), "serial" (this
        process), or any :class:`concurrent.futures.Executor` (left running).
      store: a :class:`~mesabase.sims.store.Store`, a directory, or None (a temporary
        store, deleted on return).
      progress: None (a bar when stderr is a terminal), True or False.

    Returns:
      ``order_columns(store.table([cell.key for cell in cells]))``: cells in sorted-key
      order, rows in each cell's order, columns in the canonical order.
    """
    cells = list(cells)
    for c in cells:
        if not isinstance(c, Cell):
            raise ValueError(f"cells must be Cell objects; got {type(c).__name__} {c!r}")
    cells = _unique(cells)
    if not (executor is None or executor in ("serial", "local") or isinstance(executor,
                                                                            Executor)):
        raise ValueError(f"executor must be None, 'serial', 'local' or a "
                         f"concurrent.futures.Executor; got {executor!r}")
    if store is None:
        with tempfile.TemporaryDirectory(prefix="mesabase-sweep-") as tmp:
            return sweep(cells, executor, Store(tmp), progress)
    st = store if isinstance(store, Store) else Store(store)
    keys = [c.key for c in cells]
    done = {k for k in keys if st.has(k)}
    for k, reason in st.verify(sorted(done)).items():
        warnings.warn(f"cell {k} in {st.path} is corrupt ({reason}); recomputing it",
                      RuntimeWarning, stacklevel=2)
        st.discard(k)
        done.discard(k)
    todo = [c for c in cells if c.key not in done]
    if todo:
        _run(todo, executor, st, lambda: _bar(len(cells), len(done), progress))
    return order_columns(st.table(keys))


def _run(todo: list[Cell], executor, st: Store, make_bar) -> None:
    serial = executor == "serial" or (executor in (None, "local")
                                      and (len(todo) == 1 or _cpus() == 1))
    own = not serial and not isinstance(executor, Executor)
    if own:
        executor = ProcessPoolExecutor(max_workers=min(len(todo), _cpus()),
                                       initializer=_ignore_sigint)
    futures, finished = {}, False
    try:
        if not serial:  # all submitted before the bar starts its thread (fork-safe)
            futures = {executor.submit(_work, cell): cell for cell in todo}
        results = (((c, partial(_work, c)) for c in todo) if serial else
                   ((futures[f], f.result) for f in as_completed(futures)))
        with make_bar() as bar:
            for cell, result in results:
                try:
                    table, seconds = result()
                except Exception as e:
                    raise RuntimeError(f"cell {cell.key} failed: {cell!r}") from e
                st.write(cell.key, table, _meta(cell, seconds))
                bar.update(1)
        finished = True
    finally:
        if not finished:
            for fut in futures:
                fut.cancel()
        if own:
            executor.shutdown(wait=finished, cancel_futures=True)
