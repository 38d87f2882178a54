"""Task families where the initialisation matters, and what MAML's θ₀ buys there.

On the symmetric uniform prior the best MAML initialisation is θ₀ = 0 (by symmetry, and
:func:`~.maml.meta_train` stops there: the exact gradient is rounding noise), so MAML *is*
REINFORCE from zero and no difference can be found. The families below break the symmetry
(issue 16, item 3):

* ``uniform``     pₖ ∼ Beta(1, 1) independently: the control (no advantage expected);
* ``asymmetric``  p₁ ∼ Beta(2, 1), p₂ ∼ Beta(1, 1): arm 1 is better on average (2/3 vs 1/2);
* ``same-best``   p₁ ∼ Beta(4, 1), p₂ ∼ Beta(1, 4): arm 1 is the best arm in 98.4% of the
                  tasks (P(p₁ > p₂) = 1 − B-function sum = 0.984), so an initialisation
                  that prefers it should help a learner that has H pulls to find out;
* ``dependent``   p₂ = 1 − p₁, p₁ ∼ Beta(2, 1): correlated arms, arm 1 usually better.

For each family and horizon H, MAML meta-trains θ₀ (η = 1; exact meta-gradient where
(2K)ᴴ ≤ MAX_SEQUENCES) and the two learners — REINFORCE from θ₀ = 0 and from the MAML θ₀ —
run on the same tasks and outcome tables (common random numbers, :func:`~.experiment.
meta_bandits`). The advantage is measured twice:

* exactly, ΔJ = J(θ₀) − J(0) with J the meta-objective (:func:`~.maml.maml_objective`;
  the expected total reward, so ΔJ is the exact reduction of Bayes regret), where J is
  computable by enumeration;
* by Monte Carlo, the mean over tasks of d_j = (regret of REINFORCE − regret of MAML) on
  task j (averaged over its seeds), with a Student-t interval over tasks (the task means are
  independent; a paired comparison, so the common outcome tables cancel most of the noise).

``significant`` says whether the interval excludes 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .experiment import AgentSpec, meta_bandits, t_interval
from .maml import MAX_SEQUENCES, meta_train
from .memoryless import MemorylessReinforce
from .tasks import BetaTasks, DependentTasks

__all__ = ["INIT_FAMILIES", "init_family", "maml_advantage", "ADVANTAGE_COLUMNS"]

#: The families of this module, by name.
INIT_FAMILIES = ("uniform", "asymmetric", "same-best", "dependent")
#: Columns of :func:`maml_advantage`'s table.
ADVANTAGE_COLUMNS = ("family", "horizon", "theta0_diff", "converged", "exact_gain",
                     "gain", "ci_low", "ci_high", "significant", "n_tasks")


def init_family(name: str):
    """The task distribution called ``name`` (:data:`INIT_FAMILIES`)."""
    if name == "uniform":
        return BetaTasks(2)
    if name == "asymmetric":
        return BetaTasks(2, prior=[[2, 1], [1, 1]])
    if name == "same-best":
        return BetaTasks(2, prior=[[4, 1], [1, 4]])
    if name == "dependent":
        return DependentTasks(prior=(2, 1))
    raise ValueError(f"family must be one of {', '.join(INIT_FAMILIES)}; got {name!r}")


def maml_advantage(families=INIT_FAMILIES, horizons=(4, 8), *, n_tasks: int = 400,
                   n_seeds: int = 2, steps: int = 200, seed: int = 0,
                   confidence: float = 0.95) -> pd.DataFrame:
    """MAML's θ₀ against REINFORCE from zero, per family and horizon (module docstring).

    Returns:
      DataFrame with :data:`ADVANTAGE_COLUMNS`: family, horizon, theta0_diff (θ₀,₁ − θ₀,₂ of
      the MAML initialisation), converged (its meta-training, :func:`~.maml.meta_train`),
      exact_gain (ΔJ, NaN where not enumerable), gain (the Monte-Carlo mean reduction of
      regret) with its ``confidence`` t-interval [ci_low, ci_high] over tasks, significant
      (the interval excludes 0), n_tasks.
    """
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence!r}")
    rows = []
    for name in families:
        tasks = init_family(name)
        for H in horizons:
            exact = (2 * tasks.n_arms) ** H <= MAX_SEQUENCES
            res = meta_train(tasks, H, steps=steps, exact=exact)
            zero = MemorylessReinforce(np.zeros(tasks.n_arms), 1.0)
            maml = MemorylessReinforce(res.theta0, res.eta)
            df = meta_bandits(horizons=(H,), n_arms=tasks.n_arms, family=tasks.family,
                              n_tasks=n_tasks, n_seeds=n_seeds, seed=seed,
                              prior=np.asarray(tasks.prior).tolist(),
                              agents=[AgentSpec("reinforce", lambda t, h, s, a=zero: a),
                                      AgentSpec("maml", lambda t, h, s, a=maml: a)])
            per_task = df.pivot_table(index="task", columns="agent", values="regret",
                                      aggfunc="mean")
            d = (per_task["reinforce"] - per_task["maml"]).to_numpy()
            mean, lo, hi = (float(v) for v in t_interval(d, confidence))
            # exact: meta_train's curve is J at every iterate, from θ₀ = 0 (η = 1), so
            # ΔJ = J(θ₀) − J(0) needs no further enumeration
            gain = float(res.curve[-1] - res.curve[0]) if exact else float("nan")
            rows.append({"family": name, "horizon": int(H),
                         "theta0_diff": float(res.theta0[0] - res.theta0[-1]),
                         "converged": bool(res.converged), "exact_gain": gain,
                         "gain": mean, "ci_low": lo, "ci_high": hi,
                         "significant": bool(lo > 0 or hi < 0), "n_tasks": int(d.size)})
    return pd.DataFrame(rows, columns=list(ADVANTAGE_COLUMNS))
