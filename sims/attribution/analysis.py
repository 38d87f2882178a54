"""Attribution of a run: the three gaps at every recorded step and the behaviour verdicts.

    attribution = attribute(run, scenario, environment="train" | "deploy")

**Gaps** (:func:`mesabase.theory.decompose`): for every seed and recorded step t, the exact
decomposition of intended regret in the evaluation environment M,

    J_I(π_I*) − J_I(π_θt) = [J_I(π_I*) − J_I(π_B*)]    specification gap   (outer)
                          + [J_I(π_B*) − J_I(π*_t)]    history gap         (outer: the data's)
                          + [J_I(π*_t) − J_I(π_θt)]    learner gap         (inner)

with π*_t the maximiser of the history objective on the learner's own history
(``run.shadow_policies``: uniform over the argmax set; recomputed per episode step from the
history when the environment has a horizon H > 1, since a Run keeps only the first step's
rule). In deployment π_B* is the base optimum *of the training environment* carried to the
deployment states (:mod:`mesabase.sims.scenarios.base`, "Deployment states"), so the
specification gap holds everything the base objective optimised in training gets wrong in
deployment, including what it leaves undetermined. ``J_history_min``/``J_history_max``
give the range of J_I over the whole argmax set of π*_t (ties matter).

**Behaviours** (:func:`mesabase.theory.verdict`): for each named behaviour b, its value under
the learner and its range [lo, hi] over the argmax set of L_t — L_t's optimal actions at the
states it constrains (visited and reachable from μ0 under the empirical model M̂_t), every
action elsewhere (:func:`mesabase.theory.argmax_set_allowed`; in deployment, every action at
an unmapped state). Per seed and step: "outer" when the learner shows b (value ≥ θ) and
some maximiser of L_t does (hi ≥ θ), "inner" when only the learner does, "none" otherwise.

**Verdicts.** Per behaviour, across seeds at the final recorded step, the fractions of the
three labels with exact (Clopper–Pearson) 95% intervals, and the *verdict*: "mixed" when
"outer" and "inner" each occur in at least :data:`MIXED_FRACTION` of the seeds, otherwise the
most frequent label (ties in the order outer, inner, none). The *scenario verdict* is
"none" when every behaviour's verdict is "none", "outer" (or "inner") when every other
verdict is "outer" (or "inner"), and "mixed" otherwise. Without behaviours it is read from
the seed-mean gaps at the final step: "none" when the total is below :data:`GAP_ATOL`,
"outer" when spec + history gaps are ≥ 80% of it, "inner" when the learner gap is, else
"mixed".

Reference: docs/concepts.md, "Outer vs inner as the library computes them"; E. Hubinger et
al., arXiv:1906.01820 (2019).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from mesabase.theory import argmax_set_allowed, solve
from mesabase.theory.attribution.gaps import (
    Decomposition,
    behaviour_range,
    behaviour_values,
    decompose,
    proportion,
    verdict,
)
from mesabase.theory.history.empirical import empirical_counts, model_arrays

from ..agents.full import FullOptimizer
from .transfer import (
    deploy_policies,
    full_optimizer_policies,
    history_solutions,
    is_linear,
    map_states,
)

__all__ = ["Attribution", "attribute", "argmax_sets", "GAP_COLUMNS", "BEHAVIOUR_COLUMNS",
           "VERDICT_COLUMNS", "MIXED_FRACTION", "GAP_ATOL"]

GAP_COLUMNS = ("scenario", "environment", "learner", "seed", "step", "spec_gap",
               "history_gap", "learner_gap", "total", "J_intended", "J_base", "J_history",
               "J_learner", "J_history_min", "J_history_max")
BEHAVIOUR_COLUMNS = ("scenario", "environment", "learner", "behaviour", "seed", "step",
                     "learner_value", "lo", "hi", "threshold", "label")
VERDICT_COLUMNS = ("scenario", "environment", "learner", "behaviour", "threshold",
                   "frac_outer", "frac_outer_low", "frac_outer_high", "frac_inner",
                   "frac_inner_low", "frac_inner_high", "frac_none", "frac_none_low",
                   "frac_none_high", "n_seeds", "verdict")
#: "mixed" when outer and inner each occur in at least this fraction of the seeds.
MIXED_FRACTION = 0.2
#: A seed-mean total regret below this counts as no divergence (scenario verdict fallback).
GAP_ATOL = 1e-9


# ---- π*_t and its argmax set ----------------------------------------------------------
def argmax_sets(run, objective: str | None = None):
    """(π*_t, allowed, per_step) on ``run``'s history at its recorded steps.

    ``π*_t`` is uniform over the argmax set of L_t (the objective's own policy for "log"),
    ``allowed`` the mask of the argmax set as attribution reads it (module docstring), both
    (N, R, S, A) — or (N, R, H, S, A) in a horizon-H environment (``per_step`` True). The
    run's recorded shadow is used where it is the whole policy (no horizon, or H = 1, or an
    objective other than "ce"); otherwise π*_t is recomputed exactly from the history.
    """
    env, h = run.env, run.history
    S, A, H = env.n_states, env.n_actions, env.horizon
    objective = objective or run.shadow or "ce"
    if run.shadow == objective and (H is None or H == 1 or objective != "ce"):
        optimal, pi = run.shadow_optimal, run.shadow_policies
    else:
        optimal, pi = history_solutions(h, run.steps, objective, n_states=S, n_actions=A,
                                        gamma=env.mdp.gamma, horizon=H)
    per_step = H is not None
    if per_step and optimal.ndim == 4:  # a stationary rule: the same at every step
        optimal = np.broadcast_to(optimal[:, :, None], optimal.shape[:2] + (H, S, A))
        pi = np.broadcast_to(pi[:, :, None], optimal.shape)
    allowed = np.empty(optimal.shape, dtype=bool)
    for r, t in enumerate(run.steps):
        counts, rsum = empirical_counts(h[:int(t)], S, A)
        P_hat = model_arrays(counts, rsum)[0]
        allowed[:, r] = argmax_set_allowed(optimal[:, r], counts.sum(-1), P=P_hat,
                                           mu0=env.mdp.mu0, gamma=env.mdp.gamma,
                                           horizon=H if per_step else None)
    return np.asarray(pi), allowed, per_step


def _unique_range(mdp, reward, allowed: np.ndarray, per_step: bool):
    """behaviour_range over (N, R, ...) masks, solving each distinct mask once."""
    lead = allowed.shape[:2]
    flat = allowed.reshape((-1,) + allowed.shape[2:])
    packed = np.packbits(flat.reshape(flat.shape[0], -1), axis=1)
    _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
    lo, hi = behaviour_range(mdp, reward, flat[first], per_step=per_step)
    inverse = np.asarray(inverse).reshape(-1)
    return np.asarray(lo)[inverse].reshape(lead), np.asarray(hi)[inverse].reshape(lead)


def _learner_policies(run) -> np.ndarray:
    if isinstance(run.learner, FullOptimizer):
        return full_optimizer_policies(run)
    return run.policies


# ---- the deployment decomposition -------------------------------------------------------
def _to_deploy(x, mapped, fill, deploy_mdp, lead: tuple[int, ...]):
    """Training rows x (lead..., [H,] S_t, A) on the deployment states (module docstring of
    mesabase.sims.scenarios.base): stationary (lead..., S_d, A) when no state is mapped."""
    S_d, A = deploy_mdp.n_states, deploy_mdp.n_actions
    if not (mapped >= 0).any():
        return np.broadcast_to(np.asarray(fill, dtype=np.asarray(x).dtype), lead + (S_d, A))
    per_step = x.ndim == len(lead) + 3
    if per_step and x.shape[len(lead)] != deploy_mdp.horizon:
        raise ValueError(f"mapped deployment states need the training horizon "
                         f"({x.shape[len(lead)]}) to equal the deployment horizon "
                         f"({deploy_mdp.horizon})")
    return map_states(x, mapped, fill)


def _deploy_decomposition(run, scenario, pi_star, allowed):
    dep, train = scenario.deploy, run.env.mdp
    M, R_I, A = dep.env.mdp, dep.R_I, train.n_actions
    mapped = dep.mapped(train.n_states)
    N, R = pi_star.shape[:2]
    ps = M.horizon is not None

    def value(reward, pi, lead):
        return behaviour_values(M, reward, pi, per_step=ps and pi.ndim == len(lead) + 3)

    sol_I = solve(M.with_reward(R_I), method="backward" if ps else "pi")
    J_star = float(value(R_I, np.asarray(sol_I.policy), ()))
    sol_B = solve(train, method="backward" if train.horizon is not None else "pi")
    allowed_B = argmax_set_allowed(sol_B.optimal, P=train.P, mu0=train.mu0, gamma=train.gamma,
                                   horizon=train.horizon)
    pi_B = _to_deploy(np.asarray(sol_B.policy), mapped, 1.0 / A, M, ())
    allowed_B = _to_deploy(allowed_B, mapped, True, M, ())
    J_base = float(value(R_I, pi_B, ()))
    lo, hi = behaviour_range(M, R_I, allowed_B, per_step=ps and allowed_B.ndim == 3)
    pi_star = _to_deploy(pi_star, mapped, 1.0 / A, M, (N, R))
    allowed = _to_deploy(allowed, mapped, True, M, (N, R))
    if is_linear(run.learner):
        pi_learn = deploy_policies(run, dep, train.n_states)
    else:
        pi_learn = _to_deploy(_learner_policies(run), mapped, 1.0 / A, M, (N, R))
    J_hist, J_learn = value(R_I, pi_star, (N, R)), value(R_I, pi_learn, (N, R))
    d = Decomposition(
        spec_gap=np.full((N, R), J_star - J_base), history_gap=J_base - J_hist,
        learner_gap=J_hist - J_learn, total=J_star - J_learn, J_intended=J_star,
        J_base=J_base, J_history=J_hist, J_learner=J_learn, J_base_range=(float(lo), float(hi)),
        spec_gap_range=(J_star - float(hi), J_star - float(lo)))
    return d, pi_learn, allowed


# ---- the result ---------------------------------------------------------------------------
def _mean_ci(x: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Seed mean with a Student-t interval (NaN bounds for one seed)."""
    x = np.asarray(x, dtype=np.float64)
    m = float(x.mean())
    if x.size < 2:
        return m, float("nan"), float("nan")
    half = float(student_t.ppf(0.5 + confidence / 2, x.size - 1) * x.std(ddof=1)
                 / np.sqrt(x.size))
    return m, m - half, m + half


def _verdict_label(outer: float, inner: float, none: float) -> str:
    if outer >= MIXED_FRACTION and inner >= MIXED_FRACTION:
        return "mixed"
    best = max(outer, inner, none)
    return "outer" if outer == best else ("inner" if inner == best else "none")


@dataclass(frozen=True, eq=False)
class Attribution:
    """The attribution of one run (module docstring). ``gaps``, ``behaviours`` and
    ``verdicts`` are tidy tables with the columns :data:`GAP_COLUMNS`,
    :data:`BEHAVIOUR_COLUMNS` and :data:`VERDICT_COLUMNS`; ``spec_gap_range`` is the
    range of the specification gap over the argmax set of the base objective; ``environment``
    is "train", "deploy", or "shift" (train rows up to T0, deploy rows after)."""

    scenario: str
    environment: str
    learner: str
    gaps: pd.DataFrame
    behaviours: pd.DataFrame
    verdicts: pd.DataFrame
    spec_gap_range: tuple[float, float]
    J_base_range: tuple[float, float]

    @property
    def final(self) -> pd.DataFrame:
        """The gaps at the final recorded step, one row per seed."""
        return self.gaps[self.gaps.step == self.gaps.step.max()]

    @property
    def scenario_verdict(self) -> str:
        """"outer" | "inner" | "mixed" | "none" for the scenario (module docstring)."""
        labels = set(self.verdicts.verdict) - {"none"}
        if len(self.verdicts):
            return labels.pop() if len(labels) == 1 else ("none" if not labels else "mixed")
        f = self.final
        total = float(f.total.mean())
        if abs(total) < GAP_ATOL:
            return "none"
        outer = float((f.spec_gap + f.history_gap).mean()) / total
        return "outer" if outer >= 0.8 else ("inner" if 1 - outer >= 0.8 else "mixed")

    def summary(self) -> str:
        """A short text quoting the numbers: the gaps at the final step (seed means with
        95% t-intervals) and each behaviour's verdict with its fractions and intervals."""
        f = self.final
        n, T = len(f), int(f.step.iloc[0]) if len(f) else 0

        def q(col):
            m, lo, hi = _mean_ci(f[col].to_numpy())
            return f"{m:.4g} [95% CI {lo:.4g}, {hi:.4g}]" if n > 1 else f"{m:.4g}"

        lo, hi = self.spec_gap_range
        env = "training" if self.environment == "train" else self.environment
        lines = [
            f"{self.scenario} — learner {self.learner}, {env} environment: {n} seeds, "
            f"final step t = {T}.",
            f"  intended regret J_I(π_I*) − J_I(π_θt) = {q('total')}",
            f"    = specification gap {q('spec_gap')} (outer; {lo:.4g} to {hi:.4g} over the "
            "base optimum's argmax set)",
            f"    + history gap {q('history_gap')} (outer: the data's)",
            f"    + learner gap {q('learner_gap')} (inner).",
            f"  J_I: intended optimum {f.J_intended.mean():.4g}, base optimum "
            f"{f.J_base.mean():.4g}, π*_t {f.J_history.mean():.4g} (over its argmax set "
            f"{f.J_history_min.mean():.4g} to {f.J_history_max.mean():.4g}), learner "
            f"{f.J_learner.mean():.4g}.",
        ]
        for row in self.verdicts.itertuples():
            k = row.n_seeds
            parts = [f"{lab} {round(getattr(row, 'frac_' + lab) * k)}/{k} "
                     f"({getattr(row, 'frac_' + lab):.2f}, 95% CI "
                     f"{getattr(row, f'frac_{lab}_low'):.2f}–"
                     f"{getattr(row, f'frac_{lab}_high'):.2f})"
                     for lab in ("outer", "inner", "none")]
            lines.append(f"  behaviour {row.behaviour!r} (shown when ≥ {row.threshold:.4g}): "
                         f"{', '.join(parts)} → {row.verdict}")
        lines.append(f"  verdict: {self.scenario_verdict}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"Attribution({self.scenario!r}, {self.environment}, learner={self.learner}, "
                f"verdict={self.scenario_verdict!r}, {len(self.gaps)} gap rows)")


# ---- attribute -----------------------------------------------------------------------------
def _tables(name, env_label, learner, seeds, steps, d, verdicts_by_behaviour, thresholds):
    N, R = d["total"].shape
    base = {"scenario": name, "environment": env_label, "learner": learner,
            "seed": np.repeat(seeds, R), "step": np.tile(steps, N)}
    gaps = pd.DataFrame({**base, **{c: np.ravel(d[c]) if np.ndim(d[c]) else d[c]
                                    for c in GAP_COLUMNS[5:]}})
    rows, summary = [], []
    for b, v in verdicts_by_behaviour.items():
        rows.append(pd.DataFrame({**base, "behaviour": b,
                                  "learner_value": v.learner_value.ravel(), "lo": v.lo.ravel(),
                                  "hi": v.hi.ravel(), "threshold": thresholds[b],
                                  "label": v.label.ravel()}))
        fin = v.label[:, -1]
        props = {lab: proportion(fin == lab, axis=0) for lab in ("outer", "inner", "none")}
        rec = {"scenario": name, "environment": env_label, "learner": learner, "behaviour": b,
               "threshold": thresholds[b]}
        for lab, p in props.items():
            rec.update({f"frac_{lab}": float(p.fraction), f"frac_{lab}_low": float(p.low),
                        f"frac_{lab}_high": float(p.high)})
        rec["n_seeds"] = int(fin.size)
        rec["verdict"] = _verdict_label(rec["frac_outer"], rec["frac_inner"], rec["frac_none"])
        summary.append(rec)
    behaviours = (pd.concat(rows, ignore_index=True)[list(BEHAVIOUR_COLUMNS)] if rows
                  else pd.DataFrame(columns=list(BEHAVIOUR_COLUMNS)))
    verdicts = pd.DataFrame(summary, columns=list(VERDICT_COLUMNS))
    return gaps[list(GAP_COLUMNS)], behaviours, verdicts


def _evaluate(run, scenario, environment: str, *, R_I, behaviours, deploy: bool,
              step_offset: int = 0, seeds=None, learner: str | None = None):
    pi_star, allowed, _ = argmax_sets(run, run.shadow or scenario.shadow)
    if deploy:
        d, pi_learn, allowed = _deploy_decomposition(run, scenario, pi_star, allowed)
        M = scenario.deploy.env.mdp
    else:
        M, pi_learn = run.env.mdp, _learner_policies(run)
        d = decompose(M, R_I, M.R, pi_star, pi_learn)
    ps = M.horizon is not None and allowed.ndim == 5
    h_lo, h_hi = _unique_range(M, R_I, allowed, ps)
    d = d._asdict() | {"J_history_min": h_lo, "J_history_max": h_hi}
    verdicts = {}
    for b, beh in behaviours.items():
        value = behaviour_values(M, beh.reward, pi_learn, per_step=pi_learn.ndim == 5)
        lo, hi = _unique_range(M, beh.reward, allowed, ps)
        verdicts[b] = verdict(value, lo, hi, beh.threshold)
    name = learner or scenario.learner_name(run.learner, run.env)
    seeds = run.seeds if seeds is None else seeds
    tables = _tables(scenario.name, environment, name, seeds, run.steps + step_offset,
                     d, verdicts, {b: x.threshold for b, x in behaviours.items()})
    return Attribution(scenario.name, environment, name, *tables,
                       spec_gap_range=d["spec_gap_range"], J_base_range=d["J_base_range"])


def attribute(run, scenario=None, environment: str | None = None) -> Attribution:
    """Attribute ``run`` (of ``scenario``'s learner in ``scenario.train``), exactly.

    Args:
      run: a :class:`~mesabase.sims.simulation.Run` in the training environment, or a
        :class:`~mesabase.sims.scenarios.ShiftRun` (then ``environment`` is ignored: the
        rows up to T0 are evaluated in training, the rest in deployment).
      scenario: the :class:`~mesabase.sims.scenarios.Scenario` (or its registered name);
        may be omitted for a run made by :func:`~mesabase.sims.scenarios.run`, which
        carries its scenario (``run.scenario``).
      environment: "train", "deploy", or None (deployment when the scenario has one).

    Returns:
      An :class:`Attribution`; in every row spec + history + learner gaps = total to
      floating-point rounding.

    Example:
      >>> from mesabase.sims.scenarios import get_scenario
      >>> from mesabase.sims.simulation import simulate
      >>> sc = get_scenario("proxy-bandit")
      >>> r = simulate(sc.train, sc.get_learner(), 200, seeds=4, record_every=100)
      >>> a = attribute(r, sc)
      >>> round(float(a.final.spec_gap.mean()), 12), a.scenario_verdict
      (0.6, 'outer')
      >>> a.verdicts[["behaviour", "frac_outer", "verdict"]].values.tolist()
      [['pulls-proxy-arm', 1.0, 'outer'], ['intended-suboptimal-arm', 1.0, 'outer']]
    """
    from ..scenarios import get_scenario
    from ..simulation import ShiftRun

    if scenario is None:
        scenario = getattr(run, "scenario", None)
        if scenario is None:
            raise ValueError("attribute(run) needs the scenario: pass attribute(run, scenario) "
                             "or make the run with mesabase.sims.run(scenario)")
    if isinstance(scenario, str):
        scenario = get_scenario(scenario)
    if isinstance(run, ShiftRun):
        return _attribute_shift(run, scenario)
    if environment is None:
        environment = "deploy" if scenario.deploy is not None else "train"
    if environment not in ("train", "deploy"):
        raise ValueError(f"environment must be 'train' or 'deploy'; got {environment!r}")
    tr = scenario.train
    if (run.env.n_states, run.env.n_actions) != (tr.n_states, tr.n_actions):
        raise ValueError(f"the run's environment {run.env!r} is not the training environment "
                         f"of {scenario.name!r} ({tr!r})")
    if environment == "deploy":
        if scenario.deploy is None:
            raise ValueError(f"scenario {scenario.name!r} has no deployment environment")
        return _evaluate(run, scenario, "deploy", R_I=scenario.deploy.R_I,
                         behaviours=scenario.deploy.behaviours, deploy=True)
    return _evaluate(run, scenario, "train", R_I=scenario.R_I, behaviours=scenario.behaviours,
                     deploy=False)


def _attribute_shift(shift, scenario) -> Attribution:
    """Before T0 in the training environment; after it, the run in the deployment
    environment attributed there (π_B* optimal for the deployment base reward, since the
    data after T0 come from it; π*_t on the post-shift history, which for disjoint state
    spaces is the whole history's objective restricted to the deployment states)."""
    first = _evaluate(shift.before, scenario, "train", R_I=scenario.R_I,
                      behaviours=scenario.behaviours, deploy=False)
    second = _evaluate(shift.after, scenario, "deploy", R_I=scenario.deploy.R_I,
                       behaviours=scenario.deploy.behaviours, deploy=False,
                       step_offset=shift.shift_step, seeds=shift.before.seeds,
                       learner=first.learner)
    cat = [pd.concat([getattr(first, f), getattr(second, f)], ignore_index=True)
           for f in ("gaps", "behaviours")]
    return Attribution(scenario.name, "shift", first.learner, *cat, second.verdicts,
                       spec_gap_range=second.spec_gap_range, J_base_range=second.J_base_range)
