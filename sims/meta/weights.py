"""Where the memoryless learner keeps the sufficient statistics: its weight trajectories.

Seed 000 proposes that "a converged memoryless MAML solution on a distribution of bandit tasks
will arrange the part of its weight-space that encodes bandit sufficient statistics in a way
that makes it easy to traverse via SGD" (issue 16, item 4). This module measures it. The
learner (:class:`~.memoryless.MemorylessReinforce`) acts by a_t ∼ π_t = softmax(θ_t) and steps
θ_{t+1} = θ_t + η ⊙ (r_t − b)(e_{a_t} − π_t); it is run from three starts

* ``zero``      θ₀ = 0, η = 1 (plain REINFORCE within the episode);
* ``maml``      the MAML θ₀ (η = 1 fixed; Finn, Abbeel & Levine 2017);
* ``meta-sgd``  the Meta-SGD (θ₀, η) (Li, Zhou, Chen & Li 2017),

both meta-trained on the task family by :func:`~.maml.meta_train`, on the same tasks and
outcome tables (common random numbers, :func:`~.rollouts.rollout`), recording θ_t and the
posterior counts c_t = (s_k, f_k)_k at every step t = 0 … H.

The family. On the uniform prior BetaTasks(2) the best MAML θ₀ is 0 by symmetry (MAML *is*
the zero start there), so the default is ``"asymmetric"`` (p₁ ∼ Beta(2, 1), p₂ ∼ Beta(1, 1),
:func:`~.families.init_family`), where the MAML θ₀ favours arm 1; any family of
:data:`~.families.INIT_FAMILIES` or a BetaTasks / DependentTasks object can be passed.

Tracking the Bayes-optimal action. With O(c) ⊆ {1 … K} the Bayes-optimal action *set* at the
belief state c (``bayes.optimal``, ties within ``TIE_RTOL``, exact backward induction on the
belief MDP, :mod:`mesabase.theory.bandits.bayes`), the per-step measures (:data:`MEASURES`)
for a learner at (θ_t, c_t) are

* ``mass``        Σ_{k ∈ O(c_t)} π_t(k): the probability that its action is Bayes-optimal
                  (exact given the state; no tie-break enters);
* ``agree``       1{a_t ∈ O(c_t)} for the action it sampled (E[agree] = E[mass]);
* ``greedy_all``  1{argmax π_t ⊆ O(c_t)}, ``greedy_any`` 1{argmax π_t ∩ O(c_t) ≠ ∅}: its
                  most probable action(s) (ties within :data:`GREEDY_TOL`) agree whichever
                  way / some way the tie is broken (a range over the argmax set);
* ``regret_gap``  V*(c_t) − Σₖ π_t(k) Q*(c_t, k) ≥ 0: the reward-to-go lost by following the
                  weight-tracked policy for one step at the belief it reached, then the
                  belief-tracked (Bayes-optimal) one. By the performance-difference identity
                  (S. Kakade, J. Langford, "Approximately optimal approximate reinforcement
                  learning", ICML 2002; it holds for any history-dependent policy because the
                  belief c_t is the Markov state of the Bayes-adaptive MDP)
                  Σ_t E[regret_gap_t] = V* − J(θ₀, η), the learner's exact Bayes gap
                  (:func:`~.maml.memoryless_gap`), which the ``starts`` table checks.

Each is averaged over a task's seeds and reported with a Student-t interval over tasks
(:func:`~.experiment.t_interval`); learned starts are compared with the zero start by paired
t-intervals over tasks (:data:`COMPARE_COLUMNS`). The factorisation of the weights is in
:mod:`.weights_nmf`.
"""

from __future__ import annotations

import json
from numbers import Real
from typing import NamedTuple

import numpy as np
import pandas as pd

from ..agents.policies import softmax
from .experiment import t_interval
from .families import init_family
from .maml import MAX_SEQUENCES, maml_objective, meta_train
from .memoryless import MemorylessReinforce
from .rollouts import Rollout, check_int, rollout
from .tasks import BetaTasks, DependentTasks
from .weights_nmf import fit_nmf, signed_parts, stat_correlations, stat_names

__all__ = ["STARTS", "MEASURES", "SUMMARIES", "GREEDY_TOL", "AGREEMENT_COLUMNS",
           "COMPARE_COLUMNS", "START_COLUMNS", "Recorded", "WeightStudy",
           "record_trajectories", "bayes_agreement", "weight_trajectories"]

#: The three starts of the inner loop, in this order.
STARTS = ("zero", "maml", "meta-sgd")
#: The per-step measures of the agreement table (module docstring).
MEASURES = ("mass", "agree", "greedy_all", "greedy_any", "regret_gap")
#: Per-task summaries compared between starts: mass at the last step, mass averaged over the
#: steps, and Σ_t regret_gap_t (the Bayes gap, Monte Carlo).
SUMMARIES = ("mass_last", "mass_mean", "gap_total")
#: Arms whose probability is within this of the largest form the most-probable set.
GREEDY_TOL = 1e-12
#: Columns of the per-step table (one row per family, start, step, measure).
AGREEMENT_COLUMNS = ("family", "start", "step", "measure", "mean", "ci_low", "ci_high",
                     "n_tasks")
#: Columns of the paired comparison of each learned start with the zero start.
COMPARE_COLUMNS = ("family", "start", "versus", "summary", "diff", "ci_low", "ci_high",
                   "significant", "n_tasks")
#: Columns of the table of starts: θ₀ and η (JSON lists), the meta-training outcome, the exact
#: Bayes gap V* − J (NaN where not enumerable) and its Monte-Carlo estimate Σ_t regret_gap_t
#: with its interval, and whether the interval covers the exact value.
START_COLUMNS = ("family", "start", "theta0", "eta", "converged", "criterion", "exact_gap",
                 "gap_total", "ci_low", "ci_high", "covers_exact")


class Recorded(NamedTuple):
    """A rollout with the states it went through (n rows, H steps, K arms).

    Attributes:
      rollout: the :class:`~.rollouts.Rollout` (arms, rewards, means, regret).
      counts: (n, H + 1, K, 2) int64, the posterior counts c_t before step t (c_H: at the end).
      theta: (n, H + 1, K) float64, the weights θ_t before step t, or None when the agent's
        state has no ``theta``.
    """

    rollout: Rollout
    counts: np.ndarray
    theta: np.ndarray | None


class WeightStudy(NamedTuple):
    """The tables of :func:`weight_trajectories` (columns: the ``*_COLUMNS`` constants here and
    in :mod:`.weights_nmf`)."""

    agreement: pd.DataFrame
    compare: pd.DataFrame
    starts: pd.DataFrame
    correlations: pd.DataFrame
    components: pd.DataFrame
    fit: pd.DataFrame


class _Recorder:
    """Wraps an agent, keeping the counts and weights it sees; acts exactly as the agent."""

    def __init__(self, agent):
        self.agent, self.name = agent, agent.name
        self.counts, self.theta = [], []

    def _keep(self, state, counts):
        self.counts.append(np.array(counts, dtype=np.int64))
        th = getattr(state, "theta", None)
        self.theta.append(None if th is None else np.array(th, dtype=np.float64))

    def init(self, n, n_arms, horizon, rng):
        state = self.agent.init(n, n_arms, horizon, rng)
        self._keep(state, np.zeros((n, n_arms, 2), dtype=np.int64))
        return state

    def act(self, state, counts, t, rng):
        return self.agent.act(state, counts, t, rng)

    def update(self, state, counts, t, arms, rewards):
        state = self.agent.update(state, counts, t, arms, rewards)
        after = counts.copy()
        after[np.arange(len(arms)), arms, (rewards == 0).astype(np.int64)] += 1
        self._keep(state, after)
        return state


def record_trajectories(agent, p, horizon: int, seed) -> Recorded:
    """:func:`~.rollouts.rollout` of ``agent`` (same arguments, same draws: the agent is
    wrapped, not changed), keeping the counts c_t and, when the agent's state has a
    ``theta`` field (the memoryless learner), the weights θ_t at t = 0 … H."""
    rec = _Recorder(agent)
    out = rollout(rec, p, horizon, seed)
    counts = np.stack(rec.counts, axis=1)
    theta = None if rec.theta[0] is None else np.stack(rec.theta, axis=1)
    return Recorded(out, counts, theta)


def bayes_agreement(bayes, counts, probs) -> dict:
    """The tie-free agreement of action probabilities with the Bayes-optimal set.

    Args:
      bayes: a :class:`~mesabase.theory.bandits.BayesBandit` with full tables.
      counts: (…, K, 2) belief states (counts) in its table; probs: (…, K) the policy's
        action probabilities there (rows on the simplex).

    Returns:
      dict of (…,) float64 arrays: ``mass`` Σ_{k∈O} π(k), ``greedy_all`` and ``greedy_any``
      (0/1: every / some most-probable arm, within :data:`GREEDY_TOL`, is in O), and
      ``regret_gap`` V*(c) − Σₖ π(k) Q*(c, k); plus ``optimal`` (…, K) bool, the set O.
    """
    counts = np.asarray(counts)
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != counts.shape[:-1]:
        raise ValueError(f"probs must have shape {counts.shape[:-1]} (counts without the last "
                         f"axis); got {probs.shape}")
    if not np.isfinite(probs).all() or (probs < 0).any() \
            or not np.allclose(probs.sum(axis=-1), 1.0, rtol=0, atol=1e-9):
        raise ValueError("probs must be finite, non-negative rows summing to 1 (within 1e-9)")
    idx = bayes.index(counts)
    opt = np.asarray(bayes.optimal)[idx]
    V = np.asarray(bayes.V, dtype=np.float64)[idx]
    Q = np.asarray(bayes.Q, dtype=np.float64)[idx]
    top = probs >= probs.max(axis=-1, keepdims=True) - GREEDY_TOL
    return {"mass": (probs * opt).sum(axis=-1),
            "greedy_all": (~top | opt).all(axis=-1).astype(np.float64),
            "greedy_any": (top & opt).any(axis=-1).astype(np.float64),
            "regret_gap": V - (probs * Q).sum(axis=-1), "optimal": opt}


def _family(tasks):
    if isinstance(tasks, str):
        return tasks, init_family(tasks)
    if isinstance(tasks, (BetaTasks, DependentTasks)):
        return tasks.name, tasks
    raise ValueError(f"tasks must be a family name or a BetaTasks / DependentTasks; "
                     f"got {tasks!r}")


def _starts(tasks, H, meta_steps, baseline, seed):
    """{start: (θ₀, η, converged, criterion)} — the three starts (module docstring)."""
    K = tasks.n_arms
    exact = (2 * K) ** H <= MAX_SEQUENCES
    out = {"zero": (np.zeros(K), np.ones(K), True, "fixed: theta0 = 0, eta = 1")}
    for i, (name, sgd) in enumerate((("maml", False), ("meta-sgd", True))):
        res = meta_train(tasks, H, meta_sgd=sgd, steps=meta_steps, exact=exact,
                         baseline=baseline,
                         seed=np.random.SeedSequence(seed, spawn_key=(9, i)))
        out[name] = (res.theta0, res.eta, bool(res.converged), res.criterion)
    return out


def _paired(a, b, confidence):
    m, lo, hi = (float(v[0]) for v in t_interval((a - b)[:, None], confidence))
    return m, lo, hi


def weight_trajectories(horizon: int = 8, *, tasks="asymmetric", n_tasks: int = 400,
                        n_seeds: int = 2, meta_steps: int = 200, n_components: int | None = None,
                        baseline: float = 0.0, seed: int = 0, confidence: float = 0.95,
                        max_iter: int = 2000) -> WeightStudy:
    """Run the three starts on the same tasks and outcome tables; measure how their policies
    track the Bayes-optimal action, and factor their weights (module docstrings).

    Args:
      horizon: H ≥ 2 pulls; (2K)ᴴ ≤ MAX_SEQUENCES uses the exact meta-gradient (and gives
        the exact gap), else the sampled one; the Bayes table must have full tables.
      tasks: a family name (:data:`~.families.INIT_FAMILIES`, default ``"asymmetric"``) or a
        BetaTasks / DependentTasks.
      n_tasks, n_seeds: n_tasks ≥ 2 tasks and n_seeds ≥ 1 episodes per task (rows =
        n_tasks · n_seeds).
      meta_steps: ≥ 0 Adam steps of MAML and of Meta-SGD (:func:`~.maml.meta_train`).
      n_components: NMF components (default K); max_iter: NMF's iteration budget.
      baseline: the learner's b (b = 0: a failure leaves θ unchanged).
      seed: int ≥ 0; tasks from ``SeedSequence(seed, spawn_key=(6,))``, the outcome tables and
        the learners' draws (shared by the three starts) from ``(7,)``, the NMF's random_state
        from ``(8,)``, sampled meta-gradients from ``(9, i)``.
      confidence: of every interval, in (0, 1).

    Returns:
      :class:`WeightStudy`.
    """
    H = check_int(horizon, "horizon", 2)
    n_tasks, n_seeds = check_int(n_tasks, "n_tasks", 2), check_int(n_seeds, "n_seeds", 1)
    meta_steps = check_int(meta_steps, "meta_steps", 0)
    seed = check_int(seed, "seed", 0)
    if isinstance(confidence, bool) or not isinstance(confidence, Real) \
            or not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    family, tasks = _family(tasks)
    K = tasks.n_arms
    n_components = K if n_components is None else check_int(n_components, "n_components", 1)
    bayes = tasks.bayes(H)
    if not bayes.tables:
        raise ValueError(f"horizon {H} is too long for the full Bayes table of {family}")
    starts = _starts(tasks, H, meta_steps, baseline, seed)
    p = tasks.sample(n_tasks, np.random.default_rng(np.random.SeedSequence(seed,
                                                                           spawn_key=(6,))))
    rows = np.repeat(p, n_seeds, axis=0)
    agreement, start_rows, per_task, weights, stats = [], [], {}, [], []
    for start, (th0, eta, conv, crit) in starts.items():
        rec = record_trajectories(MemorylessReinforce(th0, eta, baseline), rows, H,
                                  np.random.SeedSequence(seed, spawn_key=(7,)))
        m = bayes_agreement(bayes, rec.counts[:, :H], softmax(rec.theta[:, :H]))
        m["agree"] = np.take_along_axis(m.pop("optimal"), rec.rollout.arms[..., None],
                                        axis=-1)[..., 0].astype(np.float64)
        task_means = {k: v.reshape(n_tasks, n_seeds, H).mean(axis=1) for k, v in m.items()}
        for measure in MEASURES:
            mean, lo, hi = t_interval(task_means[measure], confidence)
            agreement += [{"family": family, "start": start, "step": t, "measure": measure,
                           "mean": float(mean[t]), "ci_low": float(lo[t]),
                           "ci_high": float(hi[t]), "n_tasks": n_tasks} for t in range(H)]
        per_task[start] = {"mass_last": task_means["mass"][:, -1],
                           "mass_mean": task_means["mass"].mean(axis=1),
                           "gap_total": task_means["regret_gap"].sum(axis=1)}
        exact = float("nan")
        if (2 * K) ** H <= MAX_SEQUENCES:
            exact = float(bayes.value) - maml_objective(th0, eta, tasks, H, baseline=baseline)
        g, glo, ghi = _paired(per_task[start]["gap_total"], 0.0, confidence)
        start_rows.append({"family": family, "start": start,
                           "theta0": json.dumps(np.asarray(th0).tolist()),
                           "eta": json.dumps(np.asarray(eta).tolist()), "converged": conv,
                           "criterion": crit, "exact_gap": exact, "gap_total": g,
                           "ci_low": glo, "ci_high": ghi,
                           "covers_exact": bool(glo <= exact <= ghi)})
        weights.append(rec.theta.reshape(-1, K))          # rows (task, seed, step)
        stats.append(rec.counts.reshape(-1, K * 2))        # (s_1, f_1, s_2, f_2, …)
    compare = []
    for start in STARTS[1:]:
        for summary in SUMMARIES:
            d, lo, hi = _paired(per_task[start][summary], per_task["zero"][summary],
                                confidence)
            compare.append({"family": family, "start": start, "versus": "zero",
                            "summary": summary, "diff": d, "ci_low": lo, "ci_high": hi,
                            "significant": bool(lo > 0 or hi < 0), "n_tasks": n_tasks})
    X = signed_parts(np.concatenate(weights))
    rs = int(np.random.SeedSequence(seed, spawn_key=(8,)).generate_state(1)[0])
    W, comps, fit = fit_nmf(X, n_components, random_state=rs, max_iter=max_iter)
    groups = np.repeat(np.arange(n_tasks), n_seeds * (H + 1))
    corr = []
    per_start = n_tasks * n_seeds * (H + 1)
    for i, start in enumerate(starts):
        c = stat_correlations(W[i * per_start:(i + 1) * per_start], stats[i], groups,
                         confidence=confidence, statistics=stat_names(K))
        c.insert(0, "start", start)
        c.insert(0, "family", family)
        corr.append(c)
    return WeightStudy(pd.DataFrame(agreement, columns=list(AGREEMENT_COLUMNS)),
                       pd.DataFrame(compare, columns=list(COMPARE_COLUMNS)),
                       pd.DataFrame(start_rows, columns=list(START_COLUMNS)),
                       pd.concat(corr, ignore_index=True), comps, fit)
