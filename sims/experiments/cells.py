"""Sweep cells: configurations, their stable keys and seeds, and TOML spec files.

The data half of :mod:`mesabase.sims.experiments.sweeps` (which runs cells and re-exports
these names).

**Cells.** A :class:`Cell` is one configuration: a registered scenario, one of its named
learners, the sizes (steps T, seeds N, record every k steps), the evaluation environment,
and ``params``, hyperparameters replacing the learner's own (:data:`PARAMS`). Defaults
(the scenario's) are resolved at construction, and the key hashes every field:

    key = "<scenario>:<learner>:" + h[:16],   h = sha256(canonical JSON of the cell)

Canonical JSON: sorted keys, no spaces, ASCII, floats by ``repr`` (shortest round trip),
each param normalised to its kind first (``lr = 1`` becomes 1.0). No ``hash()`` enters, so
the key is the same in every process, whatever ``PYTHONHASHSEED`` or the params' order.

**Seeds.** Seed n of a cell is word n of ``SeedSequence(int(s, 16)).generate_state(·,
uint64)`` shifted right one bit (a non-negative int64; repeats, probability ≈ N²/2⁶⁴, are
skipped), where ``s = sha256(canonical JSON of the cell without its seed count)``
(:attr:`Cell.seed_digest`): :func:`cell_seeds`. They depend on the configuration alone, so a
cell's table is bit for bit the same alone, in a pool, on a Dask worker, in any order; cells
differing in any field but N get independent seeds. **Seeds extend**: ``generate_state`` is
prefix-stable, so the cell with 16 seeds has the 8-seed cell's seeds first, and (each
seed's run in the vectorised ``scenarios.run`` being independent of the others in the
batch) its rows for those seeds are the 8-seed cell's rows, bit for bit — except the
``key`` and ``n_seeds`` columns. A sweep uses this to extend a stored cell
(:func:`mesabase.sims.experiments.sweeps.sweep`).

**Limits.** A cell may hold at most :data:`MAX_CELL_WORK` = 10⁸ seed-steps (steps × seeds;
one seed-step costs about 1–25 µs and 60 bytes of memory, so the limit is minutes to hours
and gigabytes for one cell), a grid at most :data:`MAX_CELLS` = 10⁵ cells, and a spec file
at most :data:`MAX_SPEC_WORK` = 10¹⁰ seed-steps in all (hours to days of CPU). Past a limit
the cell, grid or spec is refused at once with a :class:`SpecError` naming the key — before
any work, so ``steps = 10**12`` is a one-line error, not an hour's silence. (Larger sweeps:
several specs, or :func:`~mesabase.sims.experiments.sweeps.grid` and
:func:`~mesabase.sims.experiments.sweeps.sweep`
from Python, which check only the per-cell and per-grid limits.)

**Spec files** (TOML, :func:`load_spec`; ``sims/specs/small.toml`` is the example)::

    [sweep]                       # optional: defaults for every grid table
    name = "small"                # the sweep's name (default: the file's stem); a plain
                                  # name: letters, digits, "-", "_", "." (not first)
    seeds = 8                     # N, int >= 1           (default: the scenario's)
    steps = 1000                  # T, int >= 1           (default: the scenario's)
    record_every = 100            # k, int >= 1           (default: scaled with T)
    environment = "train"         # "train" | "deploy"    (default: the scenario's)

    [[grid]]                      # one or more; each is a Cartesian product
    scenario = ["proxy-bandit", "proxy-bandit-control"]   # required
    learner = "reinforce"         # default: the scenario's default learner
    lr = [0.05, 0.2, 0.5]         # any key of PARAMS for that learner

An array is an axis (its values are crossed with every other axis); a scalar is one value;
an array inside an axis is one tuple value (``schedule = [["power", 0.6]]``). A grid table
may also set ``seeds``, ``steps``, ``record_every``, ``environment`` (scalars or axes),
overriding ``[sweep]``. Errors (:class:`SpecError`, a ValueError) name the bad key —
``grid[1].lrr: unknown key`` — for unknown keys, wrong types (a string, a bool or a
fraction where a number or an integer belongs: ``gamma = "0.9"``, ``steps = 2.7``,
``seeds = true``), unknown scenarios and learners, values the learner rejects, a name that is
not a plain name, work past the limits, and a file that is not UTF-8 TOML. Duplicate cells
are run once.
"""


from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
import re
import tomllib
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ..agents.full import FullOptimizer
from ..agents.reinforce import Reinforce
from .sizes import MAX_CELL_WORK, scenario_sizes

__all__ = ["Cell", "SpecError", "PARAMS", "grid", "load_spec", "spec_name", "cell_seeds",
           "SPECS_DIR", "MAX_CELL_WORK", "MAX_CELLS", "MAX_SPEC_WORK"]

#: The most cells one grid (one ``[[grid]]`` table, or one :func:`grid` call) may expand to.
MAX_CELLS = 10**5
#: The most seed-steps a spec file may hold in all (module docstring, "Limits").
MAX_SPEC_WORK = 10**10
#: A sweep's name: letters, digits, "-", "_" and "." (not first), at most 100 characters.
_NAME_RE = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")

#: The shipped spec files (``load_spec("small")`` finds ``small.toml`` there).
SPECS_DIR = Path(__file__).parent / "specs"
#: The hyperparameters a cell may set, per learner class, and the kind of value each takes.
PARAMS = MappingProxyType({
    Reinforce: MappingProxyType({"lr": "real", "update": "str", "baseline": "baseline",
                                 "schedule": "schedule", "natural": "bool", "gamma": "real"}),
    FullOptimizer: MappingProxyType({"objective": "str", "epsilon": "real", "tie": "str",
                                     "prior": "real", "reward_prior": "real",
                                     "unvisited": "str", "tol": "real"}),
})
_FIELDS = ("scenario", "learner", "steps", "seeds", "record_every", "environment")
#: A cell's configuration columns, in table order (a sweep's table starts with these).
CONFIG = ("key", "scenario", "learner", "environment", "steps", "n_seeds", "record_every")
#: The fields of one behaviour's statistic (columns ``behaviour:field`` of a sweep's table).
STATS = ("value", "lo", "hi", "label")
_KINDS = {"real": "a real number", "str": "a string", "bool": "true or false",
          "baseline": '"mean" or a real number', "schedule": '"constant" or ["power", p]'}


class SpecError(ValueError):
    """A bad cell or spec; ``key`` names the offending entry (``grid[1].lr``)."""

    def __init__(self, key: str, message: str, source=None):
        self.key, self.message, self.source = key, message, source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}{key}: {message}")


def _real(v, key):
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise SpecError(key, f"must be a real number; got {v!r} ({type(v).__name__})")
    if not math.isfinite(v):
        raise SpecError(key, f"must be finite; got {v!r}")
    return float(v)


def _count(v, key):
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise SpecError(key, f"must be an integer >= 1; got {v!r} ({type(v).__name__})")
    if v < 1:
        raise SpecError(key, f"must be an integer >= 1; got {v}")
    return int(v)


def _param(kind: str, v, key):
    """A param value in canonical form (module docstring), or SpecError."""
    if kind == "real" or (kind == "baseline" and not isinstance(v, str) and v is not None):
        return _real(v, key)
    if kind == "baseline" and (v is None or isinstance(v, str)):
        return v
    if kind == "str" and isinstance(v, str) or kind == "bool" and isinstance(v, bool):
        return v
    if kind == "schedule":
        if isinstance(v, str):
            return v
        if isinstance(v, (list, tuple)) and len(v) == 2 and isinstance(v[0], str):
            return (v[0], _real(v[1], key))
    raise SpecError(key, f"must be {_KINDS[kind]}; got {v!r} ({type(v).__name__})")


def _apply(learner, params: dict):
    if not params:
        return learner
    if isinstance(learner, Reinforce):
        return learner.replace(**params)
    return dataclasses.replace(learner, **params)


def _resumable(sc, learner) -> bool:
    """Whether ``learner`` can go on learning after ``sc``'s shift (simulate_shift)."""
    from ..attribution.transfer import is_linear

    if not isinstance(learner, Reinforce):
        return False
    if is_linear(learner):
        return sc.deploy.features is not None
    return sc.deploy.env.n_states == sc.train.n_states


@dataclasses.dataclass(frozen=True, eq=False, repr=False)
class Cell:
    """One configuration of a sweep (module docstring). Immutable; equal cells share a key.

    Args:
      scenario: a registered scenario name (:data:`~mesabase.sims.scenarios.SCENARIOS`).
      learner: one of ``scenario.learners`` (default: the scenario's default learner).
      steps, seeds, record_every: T, the number of seeds N, and k (defaults: the
        scenario's; k scaled with T as :func:`mesabase.sims.experiments.sizes.scenario_sizes` does).
      params: hyperparameters replacing the learner's (:data:`PARAMS`).
      environment: "train" | "deploy" | None (the scenario's default).

    Raises :class:`SpecError` (a ValueError) naming the bad field.
    """

    scenario: str
    learner: str | None = None
    steps: int | None = None
    seeds: int | None = None
    record_every: int | None = None
    params: dict = dataclasses.field(default_factory=dict)
    environment: str | None = None
    _digest: str = dataclasses.field(init=False, repr=False, compare=False, default="")
    _seed_digest: str = dataclasses.field(init=False, repr=False, compare=False, default="")

    def __post_init__(self):
        from ..scenarios import SCENARIOS, get_scenario

        if not isinstance(self.scenario, str) or self.scenario not in SCENARIOS:
            raise SpecError("scenario", f"unknown scenario {self.scenario!r}; choose from "
                                        f"{', '.join(SCENARIOS)}")
        sc, env = get_scenario(self.scenario), self.environment
        name = sc.default_learner if self.learner is None else self.learner
        if not isinstance(name, str) or name not in sc.learners:
            raise SpecError("learner", f"unknown learner {name!r} for scenario "
                                       f"{sc.name!r}; choose from {', '.join(sc.learners)}")
        sizes = {f: None if getattr(self, f) is None else _count(getattr(self, f), f)
                 for f in ("steps", "seeds", "record_every")}
        if env not in (None, "train", "deploy"):
            raise SpecError("environment", f"must be 'train' or 'deploy'; got {env!r}")
        if env == "deploy" and sc.deploy is None:
            raise SpecError("environment", f"{sc.name} has no deployment environment")
        if env is not None and sc.shift_step is not None:
            raise SpecError("environment", f"{sc.name} is attributed in training before its "
                                           "shift and in deployment after it; leave it unset")
        steps, seeds = sizes["steps"] or sc.steps, sizes["seeds"] or sc.seeds
        if steps * seeds > MAX_CELL_WORK:  # before scenario_sizes: its work grows with steps
            raise SpecError("seeds" if seeds > steps else "steps",
                            f"steps × seeds = {steps} × {seeds} = {steps * seeds:.3g} seed-steps, "
                            f"over the limit of {MAX_CELL_WORK:.0e} for one cell (about 1–25 µs "
                            "and 60 bytes each); use fewer steps or seeds")
        T0 = sc.shift_step
        if T0 is not None and (sizes["steps"] or sc.steps) <= T0:
            raise SpecError("steps", f"{sc.name} shifts at step {T0}; steps must exceed it; "
                                     f"got {sizes['steps']}")
        sizes = scenario_sizes(sc, **sizes)
        params = self._check_params(sc.learners[name], name)
        if T0 is not None and not _resumable(sc, _apply(sc.learners[name], params)):
            raise SpecError("learner", f"{sc.name} keeps learning after its shift, which "
                                       f"learner {name!r} cannot (simulate_shift)")
        for f, v in (("learner", name), ("steps", sizes["steps"]), ("seeds", sizes["seeds"]),
                     ("record_every", sizes["record_every"]),
                     ("params", MappingProxyType(params))):
            object.__setattr__(self, f, v)
        text = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"),
                          ensure_ascii=True, allow_nan=False)
        object.__setattr__(self, "_digest", hashlib.sha256(text.encode("ascii")).hexdigest())
        unseeded = {k: v for k, v in self.to_dict().items() if k != "seeds"}
        text = json.dumps(unseeded, sort_keys=True, separators=(",", ":"), ensure_ascii=True,
                          allow_nan=False)
        object.__setattr__(self, "_seed_digest",
                           hashlib.sha256(text.encode("ascii")).hexdigest())

    def _check_params(self, learner, name) -> dict:
        if not isinstance(self.params, (dict, MappingProxyType)):
            raise SpecError("params", f"must be a dict; got {type(self.params).__name__}")
        allowed = next((p for c, p in PARAMS.items() if isinstance(learner, c)), {})
        out = {}
        for k in sorted(self.params, key=str):
            if k not in allowed:
                raise SpecError(str(k), f"unknown key: not a hyperparameter of learner "
                                        f"{name!r} ({type(learner).__name__}); choose from "
                                        f"{', '.join(allowed) or 'none'}")
            out[k] = _param(allowed[k], self.params[k], k)
            try:
                _apply(learner, {k: out[k]})
            except (ValueError, TypeError) as e:
                raise SpecError(k, str(e)) from None
        return out

    def to_dict(self) -> dict:
        """The canonical fields (tuples as lists): ``Cell(**cell.to_dict())`` is the cell."""
        return {"scenario": self.scenario, "learner": self.learner, "steps": self.steps,
                "seeds": self.seeds, "record_every": self.record_every,
                "params": {k: list(v) if isinstance(v, tuple) else v
                           for k, v in self.params.items()},
                "environment": self.environment}

    @property
    def key(self) -> str:
        """``"<scenario>:<learner>:<16 hex digits of the sha256>"`` (module docstring)."""
        return f"{self.scenario}:{self.learner}:{self._digest[:16]}"

    @property
    def digest(self) -> str:
        """The full sha256 (hex) of the cell's canonical JSON."""
        return self._digest

    @property
    def seed_digest(self) -> str:
        """The sha256 (hex) of the canonical JSON without ``seeds``: the root of the seeds
        (:func:`cell_seeds`), shared by the cells that differ only in their seed count."""
        return self._seed_digest

    def build_learner(self):
        """The scenario's learner with ``params`` applied."""
        from ..scenarios import get_scenario

        return _apply(get_scenario(self.scenario).learners[self.learner], dict(self.params))

    def __eq__(self, other):
        return isinstance(other, Cell) and other._digest == self._digest

    def __hash__(self):
        return hash(self._digest)

    def __reduce__(self):
        d = self.to_dict()
        return (Cell, (d["scenario"], d["learner"], d["steps"], d["seeds"], d["record_every"],
                       d["params"], d["environment"]))

    def __dask_tokenize__(self):
        return ("mesabase.sims.experiments.sweeps.Cell", self._digest)

    def __repr__(self) -> str:
        env = "" if self.environment is None else f", environment={self.environment!r}"
        return (f"Cell({self.scenario!r}, {self.learner!r}, steps={self.steps}, "
                f"seeds={self.seeds}, record_every={self.record_every}, "
                f"params={dict(self.params)!r}{env})")


# ---- grids and spec files -------------------------------------------------------------------
def _axis(v) -> list:
    """An axis: a list's values (an inner list becomes a tuple), or [v]."""
    if isinstance(v, list):
        return [tuple(x) if isinstance(x, list) else x for x in v]
    return [v]


def _product(table: dict, paths: dict) -> list[Cell]:
    """The cells of one grid table; ``paths[k]`` names key k in errors."""
    if "scenario" not in table:
        raise SpecError(paths["scenario"], "missing: every grid needs a scenario")
    for k, v in table.items():
        if _axis(v) == []:
            raise SpecError(paths[k], "an empty array: give at least one value")
    n = math.prod(len(_axis(v)) for v in table.values())
    if n > MAX_CELLS:
        raise SpecError(paths["scenario"].rsplit(".", 1)[0] if "." in paths["scenario"]
                        else "grid", f"the axes cross to {n} cells, over the limit of "
                                     f"{MAX_CELLS}")
    cells = []
    for combo in itertools.product(*map(_axis, table.values())):
        d = dict(zip(table, combo, strict=True))
        fields = {f: d.pop(f) for f in _FIELDS if f in d}
        try:
            cells.append(Cell(**fields, params=d))
        except SpecError as e:
            raise SpecError(paths.get(e.key, e.key), e.message) from None
    return cells


def unique(cells) -> list[Cell]:
    """``cells`` without repeats: the first cell of each key, in order."""
    out = {}
    for c in cells:
        out.setdefault(c.key, c)
    return list(out.values())


def grid(**axes) -> list[Cell]:
    """The cells of the Cartesian product of ``axes`` (module docstring): ``scenario``
    (required), ``learner``, ``steps``, ``seeds``, ``record_every``, ``environment`` and
    params. A list is an axis; any other value (a tuple included) is one value. Duplicate
    cells are dropped, first kept.

    Example:
      >>> cells = grid(scenario="proxy-bandit", lr=[0.1, 0.5], seeds=3, steps=40)
      >>> [c.params["lr"] for c in cells], cells[0].learner, cells[0].record_every
      ([0.1, 0.5], 'reinforce', 2)
    """
    return unique(_product(axes, {k: k for k in (*axes, "scenario")}))


def _parse(path) -> tuple[Path, dict]:
    p = Path(path)
    shipped = SPECS_DIR / (p.name if p.suffix == ".toml" else f"{p.name}.toml")
    if not p.exists() and p.parent == Path(".") and shipped.exists():
        p = shipped
    if not p.is_file():
        names = ", ".join(sorted(q.stem for q in SPECS_DIR.glob("*.toml")))
        raise FileNotFoundError(f"no spec file {str(path)!r} (shipped specs: {names})")
    data = p.read_bytes()  # an OSError (no permission, …) names the path
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise SpecError("(toml)", f"not UTF-8 text (byte {e.start}: {data[e.start]:#04x})",
                        p) from None
    try:
        spec = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError) as e:  # ValueError: an int too long, …
        raise SpecError("(toml)", str(e), p) from None
    except RecursionError:
        raise SpecError("(toml)", "arrays or tables nested too deeply", p) from None
    for k in spec:
        if k not in ("sweep", "grid"):
            raise SpecError(k, "unknown key (a spec has [sweep] and [[grid]] tables)", p)
    head = spec.get("sweep", {})
    if not isinstance(head, dict):
        raise SpecError("sweep", "must be a table ([sweep])", p)
    for k, v in head.items():
        if k not in ("name", "description", *_FIELDS[2:]):
            raise SpecError(f"sweep.{k}", "unknown key (allowed: name, description, seeds, "
                                          "steps, record_every, environment)", p)
        if k in ("name", "description", "environment") and not isinstance(v, str):
            raise SpecError(f"sweep.{k}", f"must be a string; got {v!r}", p)
        if k in ("seeds", "steps", "record_every") and (isinstance(v, bool) or not
                                                        isinstance(v, int) or v < 1):
            raise SpecError(f"sweep.{k}", f"must be an integer >= 1; got {v!r}", p)
        if k == "name" and not _NAME_RE.fullmatch(v):
            raise SpecError("sweep.name", f"must be a plain name (letters, digits, '-', '_' "
                                          f"and '.', not first; at most 100); got {v!r}", p)
    return p, spec


def spec_name(path) -> str:
    """The sweep's name: ``[sweep] name``, else the spec file's stem; a plain name (letters,
    digits, ``-``, ``_`` and ``.`` not first): it names the default store folder, so it
    can never be a path. Raises :class:`SpecError` (``sweep.name``) otherwise."""
    p, spec = _parse(path)
    name = spec.get("sweep", {}).get("name", p.stem)
    if not _NAME_RE.fullmatch(name):
        raise SpecError("sweep.name", f"the file's name {p.stem!r} is not a plain name "
                                      "(letters, digits, '-', '_' and '.', not first): set "
                                      "[sweep] name", p)
    return name


def load_spec(path) -> list[Cell]:
    """The cells of the TOML spec at ``path`` (module docstring), in grid order, duplicates
    dropped. A bare name (``"small"``) that is not a file names a shipped spec in
    :data:`SPECS_DIR`. Raises :class:`SpecError` naming the bad key (also for work past
    :data:`MAX_SPEC_WORK`, key ``grid``), FileNotFoundError, OSError (unreadable)."""
    p, spec = _parse(path)
    defaults = {k: v for k, v in spec.get("sweep", {}).items() if k in _FIELDS}
    tables = spec.get("grid")
    if not isinstance(tables, list) or not tables or not all(isinstance(t, dict)
                                                             for t in tables):
        raise SpecError("grid", "missing or not an array of tables: add [[grid]] tables", p)
    cells = []
    for i, t in enumerate(tables):
        paths = {k: f"sweep.{k}" for k in defaults} | {
            k: f"grid[{i}].{k}" for k in (*t, "scenario")}
        try:
            cells += _product({**defaults, **t}, paths)
        except SpecError as e:
            raise SpecError(e.key, e.message, p) from None
    cells = unique(cells)
    work = sum(c.steps * c.seeds for c in cells)
    if work > MAX_SPEC_WORK:
        raise SpecError("grid", f"{len(cells)} cells of {work:.3g} seed-steps in all, over the "
                                f"limit of {MAX_SPEC_WORK:.0e} for a spec; split it", p)
    return cells


def cell_seeds(cell: Cell) -> np.ndarray:
    """(N,) int64: the cell's seeds, from ``SeedSequence(int(cell.seed_digest, 16))``
    (module docstring): distinct, non-negative, the same in every process, and the first N
    of the seeds of the same cell with more seeds.

    Example:
      >>> small, big = grid(scenario="proxy-bandit", seeds=[3, 5], steps=20)
      >>> bool((cell_seeds(big)[:3] == cell_seeds(small)).all())
      True
    """
    ss = np.random.SeedSequence(int(cell.seed_digest, 16))
    n, m = cell.seeds, cell.seeds
    while True:
        words = (ss.generate_state(m, dtype=np.uint64) >> np.uint64(1)).astype(np.int64)
        _, first = np.unique(words, return_index=True)
        if first.size >= n:
            return words[np.sort(first)[:n]]
        m += n - first.size
