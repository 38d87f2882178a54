"""The tables of one scenario run, as the results folder saves them
(:mod:`mesabase.sims.reports.report`): the attributions' ``gaps``, ``behaviours`` and
``verdicts`` stacked, exact ``returns``, and ``simplex`` (3-armed bandits) and ``policies``
(gridworlds, seed 0 at the final recorded step, train vs deployment) where they apply."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..agents.full import FullOptimizer
from ..attribution.runner import ShiftRun
from ..attribution.transfer import deploy_policies, full_optimizer_policies, is_linear, map_states
from .figures import policy_frame, simplex_frame

__all__ = ["scenario_tables"]


# ---- tables of one run --------------------------------------------------------------------
def _learner_rule(run) -> np.ndarray:
    """(N, R, S, A): the learner's policy (its first decision rule in a horizon-H MDP)."""
    pi = full_optimizer_policies(run) if isinstance(run.learner, FullOptimizer) else run.policies
    pi = np.asarray(pi)
    return pi[:, :, 0] if pi.ndim == 5 else pi


def _final_step(run) -> int:
    return int(run.steps[-1])


def _views(world, run) -> list[tuple[str, tuple[int, int, int]]]:
    """Which collected statuses to draw: nothing collected; then, with keys on the map,
    holding the key nearest the start; otherwise the status (other than the start's) that
    seed 0's history visits most in its last quarter."""
    views = [("start", (0, 0, -1))]
    if world.keys:
        r0, c0 = world.starts[0]
        i = int(np.argmin([abs(r - r0) + abs(c - c0) for r, c in world.keys]))
        views.append(("key-held", (1 << i, 0, -1)))
    elif run is not None and len(run.history):
        states = np.asarray(run.history.states)[0, -max(1, len(run.history) // 4):]
        status = pd.Series([tuple(world.decode(int(s)))[2:] for s in states]).value_counts()
        status = [s for s in status.index if s != (0, 0, -1)]
        if status:
            k, c, lap = status[0]
            views.append((f"lap-{lap}" if lap >= 0 and not (k or c) else "visited", status[0]))
    return [(v, st) for v, st in views if (world.state_grid(*st) >= 0).any()]


def _policy_table(sc, run) -> pd.DataFrame | None:
    """Seed 0's learner and π*_t at the final recorded step, per environment and view."""
    if sc.world is None:
        return None
    phases = []  # (environment, world, learner (S, A), π*_t (S, A) or None, step, run)
    if isinstance(run, ShiftRun):
        for env, world, r, off in (("train", sc.world, run.before, 0),
                                   ("deploy", sc.deploy.world, run.after, run.shift_step)):
            if world is not None:
                sh = None if r.shadow_policies is None else r.shadow_policies[0, -1]
                phases.append((env, world, _learner_rule(r)[0, -1], sh, off + _final_step(r), r))
    else:
        sh = None if run.shadow_policies is None else np.asarray(run.shadow_policies)
        phases.append(("train", sc.world, _learner_rule(run)[0, -1],
                       None if sh is None else sh[0, -1], _final_step(run), run))
        dep = sc.deploy
        if dep is not None and dep.world is not None:
            S, A = run.env.n_states, run.env.n_actions
            mapped = dep.mapped(S)
            learn = (deploy_policies(run, dep, S) if is_linear(run.learner)
                     else map_states(_learner_rule(run), mapped, 1.0 / A))[0, -1]
            shd = None if sh is None else map_states(sh[0, -1], mapped, 1.0 / A)
            phases.append(("deploy", dep.world, learn, shd, _final_step(run), None))
    frames = []
    for env, world, learn, shadow, step, r in phases:
        for view, status in _views(world, r):
            for who, pi in (("learner", learn), ("shadow", shadow)):
                if pi is not None:
                    f = policy_frame(world, pi, who, env, status)
                    frames.append(f.assign(view=view, seed=0, step=step))
    return pd.concat(frames, ignore_index=True) if frames else None


def _returns(run, learner: str) -> pd.DataFrame:
    if isinstance(run, ShiftRun):
        before = run.before.to_frame().assign(environment="train")
        after = run.after.to_frame().assign(environment="deploy")
        seed_of = dict(zip(run.after.seeds.tolist(), run.before.seeds.tolist(), strict=True))
        after["seed"] = after["seed"].map(seed_of)
        after["step"] += run.shift_step
        df = pd.concat([before, after], ignore_index=True)
    else:
        df = run.to_frame().assign(environment="train")
    return df.assign(learner=learner)


def scenario_tables(sc, run, attributions) -> dict[str, pd.DataFrame]:
    """The tables of one scenario's run: ``gaps``, ``behaviours``, ``verdicts`` (the
    attributions' tables stacked), ``returns`` (exact returns per seed and step), and
    ``simplex`` (3-armed bandits) and ``policies`` (gridworlds) where they apply."""
    tables = {k: pd.concat([getattr(a, k) for a in attributions], ignore_index=True)
              for k in ("gaps", "behaviours", "verdicts")}
    tables["returns"] = _returns(run, attributions[0].learner).assign(scenario=sc.name)
    r = run.before if isinstance(run, ShiftRun) else run
    if (r.env.n_states, r.env.n_actions) == (1, 3) and not isinstance(run, ShiftRun):
        tables["simplex"] = simplex_frame(run).assign(scenario=sc.name)
    pol = _policy_table(sc, run)
    if pol is not None:
        tables["policies"] = pol.assign(scenario=sc.name)
    return tables
