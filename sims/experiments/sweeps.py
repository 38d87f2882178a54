"""Sweeps: grids of configurations run through any executor into a resumable results store.

    cells = grid(scenario=["proxy-bandit", "exploration-trap"], learner="reinforce",
                 lr=[0.05, 0.2, 0.5], seeds=8, steps=1000)
    table = sweep(cells, executor=None, store="mesabase-sweeps/lr")   # resumable

The cells, their keys and seeds, and the spec format are in :mod:`.cells`.

**Tables.** :func:`run_cell` gives one row per seed × recorded step (× environment, for a
shift scenario: "train" rows up to T0, "deploy" rows from T0): ``key, scenario, learner,
environment, steps, n_seeds, record_every``, the params (a tuple value such as
``("power", 0.5)`` as its JSON text), ``seed, step``, the gap columns of
:data:`~mesabase.sims.attribution.analysis.GAP_COLUMNS`, and per behaviour b the columns ``b:value``
(the learner's J_b), ``b:lo``, ``b:hi`` (its range over argmax L_t) and ``b:label``.
:func:`sweep` returns ``store.table(keys)`` with the columns in one canonical order
(:func:`order_columns`): cells in sorted-key order, rows in each cell's order — the same
table, bit for bit, from every executor.

**Executors.** ``executor=None``: a local process pool, one process per core; ``"serial"``:
this process; or any :class:`concurrent.futures.Executor` (Dask: ``Client.get_executor()``).
Workers only compute; this process writes each cell to the store (:mod:`~.store`) as it
finishes, so a killed sweep keeps every finished cell and a rerun computes only the rest.
Every recorded cell of the sweep is checked first (:meth:`~.store.Store.verify`: its file
name, size, sha256, the key inside the file, the rows); a corrupt one is reported by key (a
RuntimeWarning), discarded and recomputed; so is a cell computed by an older attribution
(:data:`ATTRIBUTION_VERSION` in its meta). KeyboardInterrupt cancels the pending cells. The
workers of the pool a sweep starts exit by themselves when the sweep's process dies, even
by SIGKILL (:func:`_init_worker`).

**Extending.** A cell whose configuration is stored with fewer seeds (the same cell but for
``seeds``, e.g. 8 stored, 16 asked) is not recomputed from scratch: its seeds extend
(:mod:`.cells`, "Seeds"), so only the new seeds run, and the stored rows (with the new
``key`` and ``n_seeds``) and the new ones are merged in the order of a full run — the same
table, bit for bit, as computing the 16 seeds at once. The stored smaller cell stays.
"""

from __future__ import annotations

import json
import os
import signal
import tempfile
import threading
import time
import warnings
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from functools import partial

import pandas as pd

from .cells import (  # noqa: F401 - re-exported: the sweep API in one place
    CONFIG,
    MAX_CELL_WORK,
    MAX_CELLS,
    MAX_SPEC_WORK,
    PARAMS,
    SPECS_DIR,
    STATS,
    Cell,
    SpecError,
    cell_seeds,
    grid,
    load_spec,
    spec_name,
    unique,
)
from .sizes import package_version
from .store import CorruptCell, Store

__all__ = ["Cell", "SpecError", "PARAMS", "grid", "load_spec", "spec_name", "cell_seeds",
           "run_cell", "order_columns", "sweep", "sweep_with_report", "worker_pool",
           "usable_cpus", "SPECS_DIR", "MAX_CELL_WORK", "MAX_CELLS",
           "MAX_SPEC_WORK"]
#: How often (seconds) a pool worker checks that the sweep's process is still there.
PARENT_POLL = 0.2


# ---- running a cell -------------------------------------------------------------------------
def run_cell(cell: Cell, first_seed: int = 0) -> pd.DataFrame:
    """Run ``cell`` (one vectorised :func:`~mesabase.sims.scenarios.run` over its seeds) and
    return its tidy table (module docstring, "Tables"). ``first_seed`` > 0: only the seeds
    from that index on (the rows a cell with fewer seeds lacks; ``key`` and ``n_seeds``
    still the whole cell's)."""
    from ..attribution import run
    from ..scenarios import get_scenario

    if not 0 <= first_seed < cell.seeds:
        raise ValueError(f"first_seed must be in [0, {cell.seeds}); got {first_seed!r}")
    sc = get_scenario(cell.scenario)
    _, att = run(sc, learner=cell.build_learner(), steps=cell.steps,
                 seeds=cell_seeds(cell)[first_seed:], record_every=cell.record_every,
                 environment=cell.environment)
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
    seed, step, the gaps in :data:`~mesabase.sims.attribution.analysis.GAP_COLUMNS` order, then per
    behaviour (sorted) value, lo, hi, label; any other column last, sorted. Rows untouched."""
    from ..attribution.analysis import GAP_COLUMNS

    cols = set(table.columns)
    params = sorted(cols & {k for p in PARAMS.values() for k in p})
    behaviours = sorted({c.rsplit(":", 1)[0] for c in cols if ":" in c})
    order = [c for c in (*CONFIG, *params, "seed", "step", *GAP_COLUMNS[5:],
                         *(f"{b}:{s}" for b in behaviours for s in STATS)) if c in cols]
    return table[order + sorted(cols - set(order))]


def _work(cell: Cell, first: int = 0):
    t = time.perf_counter()
    table = run_cell(cell, first_seed=first) if first else run_cell(cell)
    return table, time.perf_counter() - t


def _init_worker(parent: int) -> None:
    """The initializer of the pool workers a sweep starts (``parent``: the sweep's pid).

    Ctrl-C is the sweep's to handle (ignored here). The worker exits (``os._exit``) when
    the process that started it is gone — the sweep, or the fork server between them —
    even if it was SIGKILLed and could not shut its pool down: a daemon thread polls
    ``os.getppid()`` every :data:`PARENT_POLL` seconds and exits when it changes (the
    worker was re-parented); a worker started after its sweep died exits at once.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    start = os.getppid()
    if start != parent and not _alive(parent):
        os._exit(1)

    def watch():
        while os.getppid() == start:
            time.sleep(PARENT_POLL)
        os._exit(1)

    threading.Thread(target=watch, name="mesabase-parent-watch", daemon=True).start()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - someone else's process has that pid
        return True
    return True


def worker_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool whose workers die with this process (:func:`_init_worker`)."""
    return ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                               initargs=(os.getpid(),))


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity mask; the CPU count elsewhere)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _bar(total: int, initial: int, progress):
    from tqdm.auto import tqdm

    disable = None if progress is None else not progress
    return tqdm(total=total, initial=initial, desc="sweep", unit="cell", disable=disable,
                dynamic_ncols=True)


#: The attribution's table format, stored in every cell's meta. 2: the four-term gaps of
#: issue 13 (misspecification, data, ambiguity, learner) in the learner's class; a cell
#: stored under another version is stale and is recomputed (module docstring).
ATTRIBUTION_VERSION = 2


def _meta(cell: Cell, seconds: float) -> dict:
    return {"cell": cell.to_dict(), "seconds": round(seconds, 3), "mesabase": package_version(),
            "attribution": ATTRIBUTION_VERSION}


def _stale(st: Store, keys) -> list[str]:
    """Recorded keys among ``keys`` whose table was made by another attribution version."""
    recorded = set(st.keys())
    return [k for k in keys if k in recorded
            and st.meta(k).get("attribution") != ATTRIBUTION_VERSION]


def sweep(cells, executor=None, store=None, progress=None) -> pd.DataFrame:
    """Run every cell not yet in ``store`` through ``executor`` and return the table of all
    of ``cells`` (module docstring).

    Args:
      cells: an iterable of :class:`Cell` (duplicates run once).
      executor: None or "local" (a process pool, one process per core), "serial" (this
        process), or any :class:`concurrent.futures.Executor` (left running).
      store: a :class:`~mesabase.sims.experiments.store.Store`, a directory, or None (a temporary
        store, deleted on return).
      progress: None (a bar when stderr is a terminal), True or False.

    Returns:
      ``order_columns(store.table([cell.key for cell in cells]))``: cells in sorted-key
      order, rows in each cell's order, columns in the canonical order.

    Raises:
      ValueError: bad arguments.
      RuntimeError: a cell failed (named; its cause chained).
      StoreError: (:class:`~mesabase.sims.experiments.store.StoreError`, an OSError, one line
        naming the path) the store cannot be written or read; the cells finished before stay.
    """
    return sweep_with_report(cells, executor, store, progress)[0]


def sweep_with_report(cells, executor, store,
                      progress) -> tuple[pd.DataFrame, list[str], list[str]]:
    """:func:`sweep`, and the keys it computed and those it found corrupt (recomputed)."""
    cells = list(cells)
    for c in cells:
        if not isinstance(c, Cell):
            raise ValueError(f"cells must be Cell objects; got {type(c).__name__} {c!r}")
    cells = unique(cells)
    if not (executor is None or executor in ("serial", "local") or isinstance(executor,
                                                                            Executor)):
        raise ValueError(f"executor must be None, 'serial', 'local' or a "
                         f"concurrent.futures.Executor; got {executor!r}")
    if store is None:
        with tempfile.TemporaryDirectory(prefix="mesabase-sweep-") as tmp:
            return sweep_with_report(cells, executor, Store(tmp), progress)
    st = store if isinstance(store, Store) else Store(store)
    keys = [c.key for c in cells]
    corrupt = st.verify(keys)  # every recorded cell of the sweep, fully checked
    for k, reason in corrupt.items():
        warnings.warn(f"cell {k} in {st.path} is corrupt ({reason}); recomputing it",
                      RuntimeWarning, stacklevel=3)
        st.discard(k)
    for k in _stale(st, keys):
        warnings.warn(f"cell {k} in {st.path} was computed by an older attribution (its gap "
                      f"columns differ); recomputing it", RuntimeWarning, stacklevel=3)
        st.discard(k)
    done = set(st.keys()) & set(keys)
    todo = [c for c in cells if c.key not in done]
    if todo:
        bases = _bases(st, todo)
        _run(todo, bases, executor, st, lambda: _bar(len(cells), len(done), progress))
    return order_columns(st.table(keys)), [c.key for c in todo], sorted(corrupt)


def _bases(st: Store, todo: list[Cell]) -> dict[str, Cell]:
    """{key of a cell in ``todo``: the stored cell with the most seeds among those that
    are the same cell with fewer seeds} (module docstring, "Extending"). The stored cell's
    meta is untrusted: it must rebuild to a valid Cell whose key is the stored key."""
    wanted = {c.seed_digest: c for c in todo}
    prefixes = tuple({f"{c.scenario}:{c.learner}:" for c in todo})
    found: dict[str, Cell] = {}
    for key, entry in st._snapshot().items():
        d = entry["meta"].get("cell")
        if entry["problem"] is not None or not isinstance(d, dict) or not key.startswith(
                prefixes) or entry["meta"].get("attribution") != ATTRIBUTION_VERSION:
            continue
        try:
            base = Cell(**d)
        except (SpecError, TypeError, ValueError):
            continue
        cell = wanted.get(base.seed_digest)
        if (cell is None or base.key != key or base.seeds >= cell.seeds
                or base.seeds <= getattr(found.get(cell.key), "seeds", 0)):
            continue
        found[cell.key] = base
    return found


def _extend(st: Store, cell: Cell, base: Cell, new: pd.DataFrame) -> pd.DataFrame | None:
    """The table of ``cell``: ``base``'s stored rows (as ``cell``'s) and ``new`` (the rows
    of seeds base.seeds on), in the order of a full run (environment blocks as they come,
    seeds in seed order, each seed's rows in their order); None if the stored rows are
    gone or are not exactly ``base``'s seeds."""
    try:
        old = st.read(base.key)
    except (KeyError, CorruptCell):
        return None
    seeds = cell_seeds(cell).tolist()
    if ("seed" not in old or sorted(set(old["seed"].tolist())) != sorted(seeds[:base.seeds])
            or list(old.columns) != list(new.columns)):
        return None
    old = old.assign(key=cell.key, n_seeds=cell.seeds).astype(new.dtypes.to_dict())
    both = pd.concat([old, new], ignore_index=True)
    env = both["environment"].map({e: i for i, e in enumerate(pd.unique(both["environment"]))})
    rank = both["seed"].map({s: i for i, s in enumerate(seeds)})
    order = pd.DataFrame({"env": env, "seed": rank}).sort_values(["env", "seed"],
                                                                kind="stable").index
    return both.loc[order].reset_index(drop=True)


def _run(todo: list[Cell], bases: dict, executor, st: Store, make_bar) -> None:
    serial = executor == "serial" or (executor in (None, "local")
                                      and (len(todo) == 1 or usable_cpus() == 1))
    own = not serial and not isinstance(executor, Executor)
    if own:
        executor = worker_pool(min(len(todo), usable_cpus()))
    first = {c.key: bases[c.key].seeds if c.key in bases else 0 for c in todo}
    futures, finished = {}, False
    try:
        if not serial:  # all submitted before the bar starts its thread (fork-safe)
            futures = {executor.submit(_work, cell, first[cell.key]): cell for cell in todo}
        results = (((c, partial(_work, c, first[c.key])) for c in todo) if serial else
                   ((futures[f], f.result) for f in as_completed(futures)))
        with make_bar() as bar:
            for cell, result in results:
                try:
                    table, seconds = result()
                    meta = _meta(cell, seconds)
                    if first[cell.key]:
                        base = bases[cell.key]
                        full = _extend(st, cell, base, table)
                        if full is None:  # the stored rows went away: compute them all
                            full, more = _work(cell)
                            seconds += more
                        else:
                            meta["extends"] = base.key
                        meta["seconds"] = round(seconds, 3)
                        table = full
                except Exception as e:
                    raise RuntimeError(f"cell {cell.key} failed: {cell!r}") from e
                st.write(cell.key, table, meta)
                bar.update(1)
        finished = True
    finally:
        if not finished:
            for fut in futures:
                fut.cancel()
        if own:
            executor.shutdown(wait=finished, cancel_futures=True)
