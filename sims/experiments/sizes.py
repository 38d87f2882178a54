"""The sizes a scenario runs at (seeds N, steps T, record every k), as ``mesabase run`` and
the sweep cells choose them, and the version stamped on results.

Without ``record_every`` the default number of recorded steps is kept as T changes, and k is
preferably a divisor of T (of T0 and T − T0 for a shift scenario) so that the final step is
recorded. A run may hold at most :data:`MAX_CELL_WORK` = 10⁸ seed-steps (T × N), refused
before any work.
"""

from __future__ import annotations

import math
from importlib.metadata import PackageNotFoundError, version

__all__ = ["scenario_sizes", "default_record_every", "divisors", "package_version",
           "MAX_CELL_WORK", "QUICK_SEEDS", "QUICK_FRACTION"]

#: Largest steps × seeds of one cell or one ``mesabase run`` (seconds to hours of CPU).
MAX_CELL_WORK = 10**8
#: ``--quick``: this many seeds and 1/QUICK_FRACTION of the steps.
QUICK_SEEDS, QUICK_FRACTION = 3, 4


def package_version() -> str:
    """The installed mesabase version (``0+unknown`` from a source tree not installed)."""
    try:
        return version("mesabase")
    except PackageNotFoundError:
        return "0+unknown"


def scenario_sizes(sc, *, quick: bool = False, seeds=None, steps=None, record_every=None,
                   learner=None, environment=None) -> dict:
    """The sizes a scenario runs at: its defaults, ``quick`` ones (3 seeds, a quarter of the
    steps; just past the shift for a shift scenario), or the given ones. Without
    ``record_every``, the default number of recorded steps is kept (record_every scales with
    steps). Raises ValueError for sizes the scenario cannot take."""
    T0 = sc.shift_step
    if quick:
        seeds = QUICK_SEEDS if seeds is None else seeds
        if steps is None:
            steps = T0 + sc.record_every if T0 else max(1, sc.steps // QUICK_FRACTION)
            record_every = record_every or (sc.record_every if T0 else
                                            max(1, sc.record_every // QUICK_FRACTION))
    steps = sc.steps if steps is None else int(steps)
    n_seeds = sc.seeds if seeds is None else int(seeds)
    if steps * n_seeds > MAX_CELL_WORK:  # refused at once, before any work (issue 11, 10)
        raise ValueError(f"--steps {steps} × --seeds {n_seeds} = {steps * n_seeds:.3g} "
                         f"seed-steps is over the limit of {MAX_CELL_WORK:.0e} for one run")
    if record_every is None:
        record_every = default_record_every(sc.record_every * steps / sc.steps, steps, T0)
    seeds = sc.seeds if seeds is None else int(seeds)
    for k, v in (("seeds", seeds), ("steps", steps), ("record_every", record_every)):
        if v < 1:
            raise ValueError(f"--{k.replace('_', '-')} must be >= 1; got {v}")
    if T0 is not None and steps <= T0:
        raise ValueError(f"{sc.name} shifts at step {T0}: --steps must exceed it; got {steps}")
    if learner is not None and learner not in sc.learners:
        raise ValueError(f"{sc.name} has no learner {learner!r}; choose from "
                         f"{', '.join(sc.learners)}")
    if environment is not None:
        if T0 is not None:
            raise ValueError(f"{sc.name} is attributed in training before the shift and in "
                             "deployment after it; --environment does not apply")
        if environment == "deploy" and sc.deploy is None:
            raise ValueError(f"{sc.name} has no deployment environment")
    return {"seeds": seeds, "steps": steps, "record_every": int(record_every),
            "learner": learner or sc.default_learner, "environment": environment}


def default_record_every(target: float, steps: int, T0: int | None) -> int:
    """About ``target``, preferring a divisor of the steps (of T0 and steps − T0 for a shift)
    so that the final step is recorded: the largest such divisor ≥ target / 2, else target."""
    g = math.gcd(T0, steps - T0) if T0 else steps
    target = max(1, round(target))
    best = max((d for d in divisors(g) if d <= target), default=1)
    return best if 2 * best >= target else target


def divisors(n: int):
    """The divisors of ``n`` ≥ 1, by trial division up to √n (O(√n), not O(n))."""
    for d in range(1, math.isqrt(n) + 1):
        if n % d == 0:
            yield d
            yield n // d
