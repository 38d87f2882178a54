"""Attribution by revealed objective: how far R_B and R_I are from the rewards the learner's
policy — and π*_t's — is optimal for (issue 17).

For a policy π and a reward R in an environment M, 𝓡(π) is the set of rewards under which
every action π plays is optimal, in every state (and, with a horizon, at every step): a
polyhedral cone (Ng & Russell 2000; :func:`mesabase.theory.revealed_rewards`). This module
measures, at every recorded step and seed of a run,

    d(R, π) = min_{R' ∈ 𝓡(π)} ‖R' − R‖∞ / (max R − min R)

(``dist_RB_learner``, ``dist_RI_learner``, ``dist_RB_opt``, ``dist_RI_opt``), over the
state-action entries M allows. The ℓ∞ norm reads as "the largest change to any one reward
entry"; dividing by the reward's range makes it unit-free, so scenarios compare. Every
constant reward lies in every 𝓡(π) (all actions tie), and the mid-range constant is at
‖·‖∞ = range/2 from R, so d ∈ [0, 1/2]: 0 means R ∈ 𝓡(π) (π is optimal for R), 1/2 that no
reward in the set is closer to R than a constant one — π reveals nothing of R. (A constant
R, range 0, is in every set: d = 0.)

**Which actions π plays.** The learner's policy is stochastic: its actions are those played
with probability ≥ :data:`EPS` = 0.05 (the ε-support rule of
:func:`~mesabase.theory.revealed_rewards`; where no action reaches ε — only possible with
more than 20 actions — the most probable ones). 0.05 keeps what the learner actually does
(an action chosen at least one time in twenty) and drops what softmax never quite
extinguishes; it is also above the ε/A exploration floor of the shipped full optimisers.
The set depends on the support only (a reward makes every support action optimal or not,
whatever the weights), so each distinct support is solved once per run.

**π*_t, an argmax set.** π*_t maximises the history objective L_t and may be a set; its
actions are the whole argmax set (``run.shadow_optimal``; per step of the episode for a
horizon-H "ce" model), so 𝓡(π*_t) holds the rewards under which *every* maximiser of L_t is
optimal. Nothing depends on a tie-break. It is the intersection of the sets of the single
maximisers, so its distance is an upper bound on the distance to the nearest one (equal
when the argmax is one policy); the learner's ε-support is read the same way, so both are
held to the same standard (a tabular learner that is still uniform in a state it never
visited, and a π*_t whose model ties every action there, are both asked that all those
actions be optimal).

**Reading** (``reading``, per seed and step; :data:`CONTAINS_TOL` decides "contains"):

* ``"contains R_B"``: the learner's set contains R_B — it behaves as the base objective
  asks, so any failure (intended regret) is outer: it is the objective's, not the learner's;
* ``"inner"``: the learner's set does not contain R_B while π*_t's does — an inner gap in
  objective space: the data single out R_B, the learner pursues something else;
* ``"neither"``: neither contains R_B — the history objective itself does not (yet) reveal
  R_B (data or ambiguity), whatever the learner does.

**Where and at what cost.** Distances are measured in the environment the learner was
trained in, with its base reward and the scenario's R_I there (for an online shift: the
training environment before T0 and the deployment environment after, with
``Deployment.R_B`` and ``Deployment.R_I``); a deployment attribution of a run carries the
same numbers. Each distance is one LP with H·S·A·(A − 1) × S·A constraint entries at most;
a run whose environment exceeds :data:`MAX_ENTRIES` (the horizon-16 and horizon-24
gridworlds: millions of entries, seconds to tens of seconds per LP) gets an empty table and
:func:`revealed_cost` says why.

References: A. Y. Ng and S. Russell, "Algorithms for inverse reinforcement learning", ICML
2000; E. Hubinger et al., "Risks from learned optimization", arXiv:1906.01820 (2019).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from mesabase.theory import revealed_rewards

from ..agents.full import FullOptimizer
from .transfer import full_optimizer_policies, history_solutions

__all__ = ["revealed_table", "revealed_cost", "revealed_reading", "REVEALED_COLUMNS", "EPS",
           "CONTAINS_TOL", "MAX_ENTRIES", "READINGS"]

#: Actions played with at least this probability are the learner's (module docstring).
EPS = 0.05
#: A normalised distance at most this counts as "contains" (the LP's tolerance is 1e-10).
CONTAINS_TOL = 1e-7
#: Largest LP (constraint entries, :func:`revealed_cost`) attributed; larger runs are skipped.
MAX_ENTRIES = 200_000
READINGS = ("contains R_B", "inner", "neither")
REVEALED_COLUMNS = ("scenario", "environment", "learner", "seed", "step", "dist_RB_learner",
                    "dist_RB_opt", "dist_RI_learner", "dist_RI_opt", "reading")


def revealed_cost(mdp) -> int:
    """The largest constraint matrix (entries) of a distance LP in ``mdp``:
    H·S·A·(A − 1) rows (one per step, state and ordered action pair) × S·A weights."""
    S, A = mdp.n_states, mdp.n_actions
    return (mdp.horizon or 1) * S * A * max(A - 1, 0) * S * A


def revealed_reading(d_learner: float, d_opt: float, tol: float = CONTAINS_TOL) -> str:
    """The reading rule (module docstring) from the normalised distances to R_B of the
    learner's set and of π*_t's (NaN: π*_t unknown, never "inner")."""
    if d_learner <= tol:
        return "contains R_B"
    return "inner" if d_opt <= tol else "neither"


def _normalised(rs, R: np.ndarray) -> float:
    r = np.asarray(R, dtype=np.float64)[rs.mdp.allowed]
    span = float(r.max() - r.min()) if r.size else 0.0
    if span == 0.0:
        return 0.0
    return float(rs.distance(R, "linf").value) / span


def _supports(pi: np.ndarray, eps: float) -> np.ndarray:
    """π ≥ eps, or the most probable actions where no action reaches eps."""
    top = pi.max(axis=-1, keepdims=True)
    return pi >= np.minimum(eps, top)


def _phase(run, mdp, R_B, R_I, eps):
    """(N, R, 4) distances [RB learner, RB opt, RI learner, RI opt] for one run."""
    pol = full_optimizer_policies(run) if isinstance(run.learner, FullOptimizer) else run.policies
    learner = _supports(np.asarray(pol, dtype=np.float64), eps)
    H, S, A = mdp.horizon, mdp.n_states, mdp.n_actions
    opt = run.shadow_optimal
    if opt is not None and H is not None and H > 1 and (run.shadow or "ce") == "ce":
        opt = history_solutions(run.history, run.steps, "ce", n_states=S, n_actions=A,
                                gamma=mdp.gamma, horizon=H)[0]
    N, R = learner.shape[:2]
    out = np.full((N, R, 4), np.nan)
    cache: dict[bytes, tuple[float, float]] = {}

    def dist(supp: np.ndarray) -> tuple[float, float]:
        key = supp.tobytes() + repr(supp.shape).encode()
        if key not in cache:
            rs = revealed_rewards(mdp, supp / supp.sum(axis=-1, keepdims=True))
            cache[key] = (_normalised(rs, R_B), _normalised(rs, R_I))
        return cache[key]

    for n in range(N):
        for r in range(R):
            out[n, r, [0, 2]] = dist(learner[n, r])
            if opt is not None:
                out[n, r, [1, 3]] = dist(np.asarray(opt[n, r], dtype=bool))
    return out


def _frame(d, scenario, environment, learner, seeds, steps) -> pd.DataFrame:
    N, R = d.shape[:2]
    df = pd.DataFrame({"scenario": scenario, "environment": environment, "learner": learner,
                       "seed": np.repeat(seeds, R), "step": np.tile(steps, N),
                       "dist_RB_learner": d[..., 0].ravel(), "dist_RB_opt": d[..., 1].ravel(),
                       "dist_RI_learner": d[..., 2].ravel(), "dist_RI_opt": d[..., 3].ravel()})
    df["reading"] = [revealed_reading(a, b) for a, b in zip(df.dist_RB_learner,
                                                            df.dist_RB_opt, strict=True)]
    return df


def revealed_table(run, scenario, *, eps: float = EPS, learner: str | None = None,
                   max_entries: int = MAX_ENTRIES) -> pd.DataFrame:
    """The revealed-objective distances of ``run`` (module docstring), one row per seed and
    recorded step, columns :data:`REVEALED_COLUMNS`; empty (same columns) when the
    environment's LPs exceed ``max_entries`` (:func:`revealed_cost`).

    Args:
      run: a :class:`~mesabase.sims.simulation.Run` in ``scenario.train`` or a
        :class:`~mesabase.sims.simulation.ShiftRun`.
      scenario: its :class:`~mesabase.sims.scenarios.Scenario`.
      eps: the learner's ε-support threshold, in (0, 1].
      learner: the learner's name for the table (default: the scenario's name for it).
    """
    from ..simulation import ShiftRun

    if not (isinstance(eps, (int, float)) and 0.0 < eps <= 1.0):
        raise ValueError(f"eps must be a number in (0, 1]; got {eps!r}")
    first = run.before if isinstance(run, ShiftRun) else run
    name = learner or scenario.learner_name(first.learner, first.env)
    phases = [(first, scenario.train.mdp, scenario.train.mdp.R, scenario.R_I, "train", 0,
               first.seeds)]
    if isinstance(run, ShiftRun):
        dep = scenario.deploy
        phases.append((run.after, dep.env.mdp, dep.R_B, dep.R_I, "deploy", run.shift_step,
                       first.seeds))
    empty = pd.DataFrame({c: pd.Series(dtype=float if c.startswith("dist_") else
                                       "int64" if c in ("seed", "step") else object)
                          for c in REVEALED_COLUMNS})
    if any(revealed_cost(m) > max_entries for _, m, *_ in phases):
        return empty
    frames = [_frame(_phase(r, m, rb, ri, eps), scenario.name, env, name, seeds,
                     np.asarray(r.steps) + off)
              for r, m, rb, ri, env, off, seeds in phases]
    return pd.concat(frames, ignore_index=True)[list(REVEALED_COLUMNS)]
