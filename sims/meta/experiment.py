"""The meta-bandits study: Bayes regret versus horizon for every agent (issue 6).

Sweep (data) → run (:func:`meta_bandits`, a tidy table) → analysis (:func:`summarise`) →
figure (:func:`plot_meta_bandits`), as in bsuite; figures come from the saved tables.

For each horizon H, n_tasks tasks p ∼ prior are drawn and each is run n_seeds times (rows
= tasks × seeds, row = task · n_seeds + seed) by every agent, all agents on the *same* tasks
and the same outcome table (common random numbers, :mod:`.rollout`). Per row,

    regret = H · maxₖ pₖ − Σₜ p[a_t]     (pseudo-regret; its mean over the prior is the
                                          Bayes regret  R_H = H · E[maxₖ pₖ] − E[Σₜ p[a_t]])

and ``return`` = Σₜ rₜ, the realised total reward. The Bayes-optimal agent's Bayes regret is
also known exactly, H · E[maxₖ pₖ] − V*_H with V*_H = ``tasks.bayes(H).value``
(:func:`exact_bayes_regret`), which the Monte-Carlo mean must straddle.

Seeds. From ``seed`` (an int), for each horizon value H: the tasks are drawn from
``SeedSequence(seed, spawn_key=(0, H))``, the rollouts of every agent use
``SeedSequence(seed, spawn_key=(1, H))`` and an :class:`AgentSpec` named m is built (e.g.
meta-trained) with ``SeedSequence(seed, spawn_key=(2, H, crc32(m)))``. Keys are values, not
positions, so adding an agent or a horizon changes no other number.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from ..reports.figures import need_columns
from .agents import UCB1, BayesOptimalAgent, GittinsAgent, Greedy, Thompson
from .belief import TrainingReport, train_belief_policy
from .class_best import memoryless_class_best
from .maml import meta_train
from .memoryless import MemorylessReinforce
from .regret_figure import not_converged, plot_meta_bandits
from .rollouts import Agent, check_int, rollout
from .tasks import BetaTasks, DependentTasks

__all__ = ["AgentSpec", "FAMILIES", "make_tasks", "classical_agents", "meta_learned_agents",
           "default_agents", "meta_bandits", "not_converged",
           "exact_bayes_regret", "summarise", "plot_meta_bandits", "COLUMNS",
           "SUMMARY_COLUMNS", "t_interval", "paired_differences", "DIFFERENCE_COLUMNS"]

#: The task families by name.
FAMILIES = ("beta", "dependent")
#: Columns of the tidy table of :func:`meta_bandits`.
COLUMNS = ("agent", "horizon", "task", "seed", "regret", "return")
#: Columns of :func:`summarise`.
SUMMARY_COLUMNS = ("agent", "horizon", "n", "n_tasks", "regret", "sd", "ci_low", "ci_high",
                   "exact_regret", "mean_return")


class AgentSpec(NamedTuple):
    """An agent built per horizon: ``make(tasks, horizon, seed) -> Agent``, where ``seed`` is
    the :class:`numpy.random.SeedSequence` of (horizon, crc32(name)); ``name`` labels it.
    A meta-trained agent's ``make`` may return ``(agent, report)`` with a
    :class:`~.belief.TrainingReport`: :func:`meta_bandits` then records whether its training
    converged (``df.attrs["training"]``), and the study marks it in its tables and figure."""

    name: str
    make: Callable


def make_tasks(family: str = "beta", n_arms: int = 2, prior=(1, 1)):
    """:class:`~.tasks.BetaTasks` (``"beta"``) or :class:`~.tasks.DependentTasks`
    (``"dependent"``, which needs n_arms = 2)."""
    if family == "beta":
        return BetaTasks(n_arms, prior)
    if family == "dependent":
        if n_arms != 2:
            raise ValueError(f"n_arms must be 2 for family='dependent'; got {n_arms!r}")
        return DependentTasks(prior)
    raise ValueError(f"family must be one of {FAMILIES}; got {family!r}")


_BAYES: dict = {}


def _bayes(tasks, horizon: int, exact: bool):
    """``tasks.bayes(horizon, exact)``, memoised on (family, K, prior, H, exact)."""
    key = (tasks.key, int(horizon), bool(exact))
    if key not in _BAYES:
        if len(_BAYES) >= 32:
            _BAYES.clear()
        _BAYES[key] = tasks.bayes(int(horizon), exact=bool(exact))
    return _BAYES[key]


def exact_bayes_regret(tasks, horizon: int, exact: bool = False) -> float | Fraction:
    """R*_H = H · E[maxₖ pₖ] − V*_H, the Bayes regret of the Bayes-optimal agent, exactly
    (a Fraction when ``exact`` and E[max] has a closed form; else float, E[max] to
    :data:`~.tasks.QUAD_TOL`).

    Example (K = 2, uniform prior, H = 1: V* = 1/2, E[max] = 2/3):
      >>> exact_bayes_regret(BetaTasks(2), 1, exact=True)
      Fraction(1, 6)
    """
    value = _bayes(tasks, horizon, exact).value
    if exact:
        return horizon * tasks.expected_max(exact=True) - Fraction(value)
    return float(horizon * tasks.expected_max() - float(value))


def _prior_of(tasks) -> np.ndarray:
    """The per-arm marginal priors (K, 2) the independent-arm agents use; for the dependent
    family p₂ = 1 − p₁ ∼ Beta(β, α)."""
    if tasks.family == "dependent":
        a, b = tasks.prior
        return np.array([[a, b], [b, a]])
    return np.asarray(tasks.prior)


def _gittins_gamma(horizon: int) -> float:
    """γ = 1 − 1/H (the effective horizon matching H), clipped to [½, 0.95]: the cost of the
    index table grows steeply with γ (0.4 s at γ = 0.9, 2.5 s at 0.95, 40 s at 0.975 for
    40 pulls)."""
    return min(0.95, max(0.5, 1.0 - 1.0 / horizon))


def classical_agents(exact: bool = False) -> list:
    """bayes-optimal (the exact DP, in ``exact`` arithmetic), gittins (γ = 1 − 1/H clipped to
    [½, 0.95], :func:`_gittins_gamma`), ucb1, thompson and greedy (the last three with the
    tasks' per-arm marginal priors)."""
    return [
        AgentSpec("bayes-optimal",
                  lambda tasks, H, ss: BayesOptimalAgent(_bayes(tasks, H, exact))),
        AgentSpec("gittins", lambda tasks, H, ss: GittinsAgent(_gittins_gamma(H),
                                                               _prior_of(tasks))),
        UCB1(),
        AgentSpec("thompson", lambda tasks, H, ss: Thompson(_prior_of(tasks))),
        AgentSpec("greedy", lambda tasks, H, ss: Greedy(_prior_of(tasks))),
    ]


def _int_seed(ss: np.random.SeedSequence) -> int:
    return int(ss.generate_state(1, dtype=np.uint32)[0])


def meta_learned_agents(steps: int = 100, n_samples: int = 1024, batch: int = 512,
                        exact_up_to: int = 4**8) -> list:
    """The learners of :mod:`.memoryless`, :mod:`.maml` and :mod:`.belief`, trained per
    horizon on the study's task distribution (seeded from the spec's SeedSequence):

    * ``reinforce``: :class:`~.memoryless.MemorylessReinforce` from θ₀ = 0, η = 1
      (statistics in weights, nothing meta-learned);
    * ``maml``: the same learner with θ₀ from :func:`~.maml.meta_train` (η = 1 fixed);
    * ``meta-sgd``: θ₀ and per-arm η from ``meta_train(meta_sgd=True)``;
    * ``belief-rl``: a :class:`~.belief.BeliefPolicy` meta-trained by REINFORCE across tasks
      (:func:`~.belief.train_belief_policy`, statistics in "activations").

    Args:
      steps: training steps of each meta-learner.
      n_samples: episodes per step of the score-function estimator (MAML / Meta-SGD) when
        the meta-gradient is not exact; it is exact when (2K)ᴴ ≤ ``exact_up_to``.
      batch: episodes per step of the belief-policy training.

    The MAML / Meta-SGD reports' ``class_gap`` is max(J_best, J) − J with J the trained
    learner's exact meta-objective and J_best the best J found in its class
    (:func:`~.class_best.memoryless_class_best`); NaN when J is not enumerated. It is at most
    the true class gap (≤ ``bayes_gap``), and equal to it up to the search when the best is
    interior or the closed-form MAML limit; otherwise the criterion says it is a lower bound.
    """
    def memoryless(meta_sgd: bool):
        def make(tasks, H, ss):
            exact = (2 * tasks.n_arms) ** H <= exact_up_to
            res = meta_train(tasks, H, meta_sgd=meta_sgd, steps=steps, seed=_int_seed(ss),
                             exact=exact, n_samples=n_samples)
            criterion, class_gap = res.criterion, float("nan")  # NaN: J not enumerated
            if exact:  # the gap to the best J found in the class, ≤ the class gap
                best = memoryless_class_best(tasks, H, meta_sgd=meta_sgd,  # η = 1 as trained
                                             n_starts=2, seed=_int_seed(ss))
                J = float(res.curve[-1])                    # exact: the last iterate's J
                class_gap = max(best.value, J) - J
                if best.where != "interior" and not (best.where == "limit"
                                                     and np.isfinite(best.tail)):
                    criterion += f"; class_gap is a lower bound (class best: {best.where})"
            report = TrainingReport(res.converged, criterion, len(res.curve) - 1,
                                    res.bayes_gap, class_gap)
            return MemorylessReinforce(res.theta0, res.eta), report
        return make

    def belief(tasks, H, ss):
        policy, _, report = train_belief_policy(tasks, H, steps=steps, batch=batch, seed=ss,
                                                report=True)
        return policy, report

    return [
        AgentSpec("reinforce",
                  lambda tasks, H, ss: MemorylessReinforce(np.zeros(tasks.n_arms), 1.0)),
        AgentSpec("maml", memoryless(False)),
        AgentSpec("meta-sgd", memoryless(True)),
        AgentSpec("belief-rl", belief),
    ]


def default_agents(exact: bool = False, meta_steps: int = 100) -> list:
    """:func:`classical_agents` then :func:`meta_learned_agents` (``steps=meta_steps``)."""
    return classical_agents(exact) + meta_learned_agents(steps=meta_steps)


def _labels(agents) -> list[str]:
    labels = []
    for i, a in enumerate(agents):
        if isinstance(a, AgentSpec):
            if not isinstance(a.name, str) or not callable(a.make):
                raise ValueError(f"agents[{i}]: an AgentSpec needs a str name and a callable "
                                 f"make; got {a!r}")
            labels.append(a.name)
        elif isinstance(a, Agent):
            labels.append(a.name)
        else:
            raise ValueError(f"agents[{i}] must be an Agent or an AgentSpec; got "
                             f"{type(a).__name__}")
    dup = sorted({x for x in labels if labels.count(x) > 1})
    if dup:
        raise ValueError(f"agents have duplicate names {dup}; give each a distinct name")
    return labels


def meta_bandits(horizons: Sequence[int] = (2, 5, 10, 20, 40), n_arms: int = 2,
                 family: str = "beta", n_tasks: int = 500, n_seeds: int = 4, seed: int = 0,
                 agents: Sequence | None = None, exact: bool = False, prior=(1, 1),
                 progress: Callable[[str, int], None] | None = None) -> pd.DataFrame:
    """Run every agent on the same tasks and seeds at each horizon; a tidy table.

    Args:
      horizons: distinct ints H ≥ 1.
      n_arms: K ≥ 1 (2 for ``family="dependent"``).
      family: ``"beta"`` (independent pₖ ∼ Beta(prior)) or ``"dependent"`` (p₂ = 1 − p₁).
      n_tasks, n_seeds: tasks per horizon, and runs per task (rows = n_tasks · n_seeds).
      seed: int ≥ 0, the root of every random number (see the module docstring).
      agents: Agents (used as they are at every horizon) and :class:`AgentSpec` s (built per
        horizon); None for :func:`default_agents` (the classical and the meta-learned
        agents). Names must be distinct.
      exact: solve the Bayes-optimal DP in exact rational arithmetic (slow beyond small H).
      prior: (α, β), or (K, 2) for ``"beta"``.
      progress: called as ``progress(agent_name, horizon)`` after each cell, if given.

    Returns:
      DataFrame with columns :data:`COLUMNS` = agent (str), horizon, task, seed (int64),
      regret (float64), return (int64); one row per (agent, horizon, task, seed), agents in
      the given order. ``df.attrs`` records family, n_arms, prior, exact and seed (used by
      :func:`summarise`).
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}; got {family!r}")
    n_arms = check_int(n_arms, "n_arms", 1)
    tasks = make_tasks(family, n_arms, prior)
    n_tasks, n_seeds = check_int(n_tasks, "n_tasks", 1), check_int(n_seeds, "n_seeds", 1)
    check_int(seed, "seed", 0)
    if isinstance(horizons, (str, bytes)) or not isinstance(horizons, Sequence) \
            or len(horizons) == 0:
        raise ValueError(f"horizons must be a non-empty sequence of ints; got {horizons!r}")
    hs = [check_int(h, "horizons", 1) for h in horizons]
    if len(set(hs)) != len(hs):
        raise ValueError(f"horizons must be distinct; got {list(horizons)!r}")
    if not isinstance(exact, bool):
        raise ValueError(f"exact must be a bool; got {exact!r}")
    if agents is None:
        agents = default_agents(exact)
    agents = list(agents)
    if not agents:
        raise ValueError("agents must not be empty")
    labels = _labels(agents)
    task_col = np.repeat(np.arange(n_tasks, dtype=np.int64), n_seeds)
    seed_col = np.tile(np.arange(n_seeds, dtype=np.int64), n_tasks)
    frames, training = [], []
    for H in hs:
        p = tasks.sample(n_tasks, np.random.default_rng(
            np.random.SeedSequence(seed, spawn_key=(0, H))))
        rows = np.repeat(p, n_seeds, axis=0)
        for label, a in zip(labels, agents, strict=True):
            if isinstance(a, AgentSpec):
                ss = np.random.SeedSequence(seed, spawn_key=(2, H, zlib.crc32(label.encode())))
                a = a.make(tasks, H, ss)
                if isinstance(a, tuple) and len(a) == 2 and isinstance(a[1], TrainingReport):
                    a, rep = a
                    training.append({"agent": label, "horizon": int(H),
                                     "converged": bool(rep.converged),
                                     "criterion": str(rep.criterion), "steps": int(rep.steps),
                                     "bayes_gap": float(rep.bayes_gap),
                                     "class_gap": float(rep.class_gap)})
            out = rollout(a, rows, H, np.random.SeedSequence(seed, spawn_key=(1, H)))
            frames.append(pd.DataFrame({
                "agent": label, "horizon": np.int64(H), "task": task_col, "seed": seed_col,
                "regret": out.regret, "return": out.rewards.sum(axis=1, dtype=np.int64)}))
            if progress is not None:
                progress(label, H)
    df = pd.concat(frames, ignore_index=True)
    df.attrs = {"family": family, "n_arms": n_arms, "prior": np.asarray(prior).tolist(),
                "exact": exact, "seed": int(seed), "training": training}
    return df


def t_interval(x: np.ndarray, confidence: float):
    """(mean, low, high) over the rows of x (axis 0; independent units, e.g. task means)
    with the Student-t interval mean ± t_{(1+c)/2, n−1} s/√n; NaN bounds when n < 2."""
    m = x.mean(axis=0)
    if x.shape[0] < 2:
        return m, m * np.nan, m * np.nan
    half = stats.t.ppf((1 + confidence) / 2, x.shape[0] - 1) * x.std(axis=0, ddof=1) \
        / np.sqrt(x.shape[0])
    return m, m - half, m + half


def summarise(df: pd.DataFrame, tasks=None, confidence: float = 0.95) -> pd.DataFrame:
    """Mean Bayes regret per (agent, horizon) with a Student-t interval, and the exact value.

    The rows of a task share p, so they are not independent; the task means are. With
    yⱼ the mean regret of task j over its seeds (m tasks in the cell),

        ȳ = Σⱼ yⱼ / m,   s² = Σⱼ (yⱼ − ȳ)² / (m − 1),   ȳ ± t_{(1+c)/2, m−1} · s / √m

    (NaN when m = 1). With one seed per task this is the t-interval over the rows; with
    several it is the task-clustered interval (an interval over all tasks × seeds rows as if
    independent would be too narrow: its coverage of the exact Bayes regret was ≈ 0.90 for
    a nominal 0.95 at H = 5, 500 tasks × 4 seeds). ``sd`` is s, the sd of the task means.

    ``exact_regret`` is :func:`exact_bayes_regret` (float) on the ``"bayes-optimal"`` rows,
    NaN elsewhere; the tasks come from ``tasks`` or else ``df.attrs`` (as written by
    :func:`meta_bandits`), and the column is NaN when neither says.

    Returns:
      DataFrame with :data:`SUMMARY_COLUMNS`: agent, horizon, n (rows), n_tasks, regret
      (ȳ), sd, ci_low, ci_high, exact_regret, mean_return; agents in order of appearance,
      horizons ascending.
    """
    df = need_columns(df, list(COLUMNS), "df")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    if tasks is None and {"family", "n_arms", "prior"} <= set(df.attrs):
        a = df.attrs
        tasks = make_tasks(a["family"], a["n_arms"], a["prior"])
    exact = bool(df.attrs.get("exact", False))
    order = {a: i for i, a in enumerate(dict.fromkeys(df["agent"]))}
    per_task = df.groupby(["agent", "horizon", "task"], sort=False).agg(
        y=("regret", "mean"), rows=("regret", "size"), ret=("return", "mean"))
    g = per_task.groupby(level=["agent", "horizon"], sort=False)
    out = g["y"].agg(n_tasks="size", regret="mean", sd="std").reset_index()
    out["n"] = g["rows"].sum().to_numpy()
    out["mean_return"] = g["ret"].mean().to_numpy()
    m = out["n_tasks"].to_numpy()
    with np.errstate(invalid="ignore"):
        tq = np.where(m > 1, stats.t.ppf((1 + confidence) / 2, np.maximum(m - 1, 1)), np.nan)
    half = tq * out["sd"].to_numpy() / np.sqrt(m)
    out["ci_low"], out["ci_high"] = out["regret"] - half, out["regret"] + half
    out["exact_regret"] = [
        float(exact_bayes_regret(tasks, int(h), exact)) if tasks is not None
        and a == "bayes-optimal" else np.nan
        for a, h in zip(out["agent"], out["horizon"], strict=True)]
    out["_o"] = out["agent"].map(order)
    out = out.sort_values(["_o", "horizon"], kind="stable").drop(columns="_o")
    return out[list(SUMMARY_COLUMNS)].reset_index(drop=True)


#: Columns of :func:`paired_differences`.
DIFFERENCE_COLUMNS = ("agent", "reference", "horizon", "n_tasks", "difference", "ci_low",
                      "ci_high", "p_value", "significant", "significant_holm")


def paired_differences(df: pd.DataFrame, reference: str = "bayes-optimal",
                       confidence: float = 0.95) -> pd.DataFrame:
    """Each agent's Bayes regret minus ``reference``'s, paired by task, with intervals.

    Every agent runs on the same tasks and outcome tables (common random numbers), so the
    comparison is paired: with dⱼ = (mean regret of the agent on task j) − (the reference's),
    over the m tasks of a horizon, the interval is d̄ ± t_{(1+c)/2, m−1} s_d/√m and the
    two-sided p-value that of the paired t-test of d̄ = 0. ``significant``: the interval
    excludes 0 (one comparison at level 1 − c); ``significant_holm``: rejected by Holm's
    step-down procedure at level 1 − c over all the table's comparisons (Holm 1979, "A simple
    sequentially rejective multiple test procedure"), which controls the chance of any false
    claim across the table. A positive difference: the agent has more regret.

    Returns a DataFrame with :data:`DIFFERENCE_COLUMNS` (empty when ``reference`` is absent).
    """
    df = need_columns(df, list(COLUMNS), "df")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    per_task = df.groupby(["agent", "horizon", "task"], sort=False)["regret"].mean()
    rows = []
    if reference not in set(df["agent"]):
        return pd.DataFrame(columns=list(DIFFERENCE_COLUMNS))
    cells = {key: s.droplevel(["agent", "horizon"])
             for key, s in per_task.groupby(level=["agent", "horizon"], sort=False)}
    for (agent, H), s in cells.items():
        if agent == reference or (reference, H) not in cells:
            continue
        d = (s - cells[(reference, H)]).dropna().to_numpy()
        m, lo, hi = t_interval(d, confidence)
        se = d.std(ddof=1) / np.sqrt(d.size) if d.size > 1 else np.nan
        if d.size < 2:
            p = np.nan
        elif se == 0:
            p = 1.0 if m == 0 else 0.0
        else:
            p = float(2 * stats.t.sf(abs(m) / se, d.size - 1))
        rows.append([agent, reference, int(H), int(d.size), float(m), float(lo), float(hi), p,
                     bool(lo > 0 or hi < 0), False])
    out = pd.DataFrame(rows, columns=list(DIFFERENCE_COLUMNS))
    alpha = 1 - confidence
    order = np.argsort(out["p_value"].fillna(1.0).to_numpy(), kind="stable")
    k = len(order)
    for i, j in enumerate(order):  # Holm: stop at the first p_(i) > α/(k − i)
        p = out.at[j, "p_value"]
        if pd.isna(p) or p > alpha / (k - i):
            break
        out.at[j, "significant_holm"] = True
    return out
