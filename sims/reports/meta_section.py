"""The meta-bandits section of ``report.md``, drawn from the study's saved files
(``OUT/meta-bandits/summary.csv`` and ``study.json``; :mod:`mesabase.sims.meta.study` writes
them)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

__all__ = ["STUDY", "study_section"]

#: The study's name (the CLI's and the folder's).
STUDY = "meta-bandits"


def study_section(out) -> list[str]:
    """Markdown lines for ``report.md`` from the saved study (empty if there is none)."""
    folder = Path(out) / STUDY
    if not (folder / "summary.csv").exists():
        return []
    summary = pd.read_csv(folder / "summary.csv")
    sizes = json.loads((folder / "study.json").read_text(encoding="utf-8"))
    H = int(summary.horizon.max())
    last = summary[summary.horizon == H].sort_values("regret")
    lines = [f"## {STUDY}: statistics in activations vs in weights", "",
             f"Bayes regret H·E[max p] − E[Σ p[a_t]] of every agent on the same "
             f"{sizes['n_tasks']} tasks × {sizes['n_seeds']} seeds per horizon "
             f"({sizes['family']} prior, K = {sizes['n_arms']}); 95% t-intervals over tasks. "
             "The Bayes-optimal agent (exact backward induction on the belief MDP) tracks the "
             "posterior counts in its state; the memoryless learners (REINFORCE within the "
             "episode, MAML / Meta-SGD initialisations) can only track them in their weights.",
             "", f"At H = {H}:", "", "| agent | Bayes regret | 95% interval | exact |",
             "|---|---|---|---|"]
    training = (pd.read_csv(folder / "training.csv") if (folder / "training.csv").exists()
                else pd.DataFrame(columns=["agent", "horizon", "converged"]))
    bad = {(r.agent, int(r.horizon)): r for r in training.itertuples() if not r.converged}
    for r in last.itertuples():
        exact = "" if pd.isna(r.exact_regret) else f"{r.exact_regret:.4g}"
        mark = " (not converged)" if (r.agent, H) in bad else ""
        lines.append(f"| {r.agent}{mark} | {r.regret:.4g} | [{r.ci_low:.4g}, {r.ci_high:.4g}] "
                     f"| {exact} |")
    lines += ["", f"![Bayes regret versus horizon]({STUDY}/regret.png)", ""]
    if len(training):
        lines += ["Meta-training (each agent at each horizon; `training.csv`): converged means "
                  "its stated criterion held within the step budget; the gap is V* − the "
                  "agent's exact value (NaN where not computable).", "",
                  "| agent | H | converged | steps | gap to Bayes-optimal | criterion |",
                  "|---|---|---|---|---|---|"]
        for r in training.itertuples():
            gap = "" if pd.isna(r.bayes_gap) else f"{r.bayes_gap:.4g}"
            lines.append(f"| {r.agent} | {int(r.horizon)} | {'yes' if r.converged else '**no**'}"
                         f" | {int(r.steps)} | {gap} | {r.criterion} |")
        lines.append("")
    if (folder / "maml-advantage.csv").exists():
        adv = pd.read_csv(folder / "maml-advantage.csv")
        lines += ["### Does MAML's initialisation help? (task families where it can)", "",
                  "Reduction of Bayes regret by the MAML θ₀ over REINFORCE from θ₀ = 0 (η = 1), "
                  "same tasks and outcome tables: exact (ΔJ, by enumeration) and Monte-Carlo "
                  "mean with a 95% t-interval over tasks. On the symmetric uniform prior the "
                  "best θ₀ is 0, so the two learners coincide there (the control).", "",
                  "| family | H | θ₀,₁ − θ₀,₂ | meta-training converged | exact gain | gain "
                  "[95% interval] | significant |", "|---|---|---|---|---|---|---|"]
        for r in adv.itertuples():
            ex = "" if pd.isna(r.exact_gain) else f"{r.exact_gain:.4g}"
            lines.append(f"| {r.family} | {int(r.horizon)} | {r.theta0_diff:.3g} | "
                         f"{'yes' if r.converged else '**no**'} | {ex} | {r.gain:.4g} "
                         f"[{r.ci_low:.4g}, {r.ci_high:.4g}] | "
                         f"{'yes' if r.significant else 'no'} |")
        sig = adv[adv.significant]
        lines += ["", (f"The interval excludes 0 in {len(sig)} of {len(adv)} cells"
                       + (f" ({', '.join(sorted(set(sig.family)))})" if len(sig) else "")
                       + "; elsewhere the data do not distinguish the two learners. Where "
                       "meta-training did not converge, the best θ₀ lies at infinity (commit "
                       "to the arm the prior favours) and the gain is that of the θ₀ reached "
                       "within the step budget: a lower bound on what the class can gain."), ""]
    if (folder / "frozen-improvement.csv").exists():
        imp = pd.read_csv(folder / "frozen-improvement.csv")
        conv = bool(imp.belief_converged.iloc[0])
        lines += ["### Frozen weights, improving performance?", "",
                  "Per-step regret E[max p − p[a_t]] within an episode, for the belief-state "
                  "policy meta-trained on the training family and then frozen, and for the "
                  "memoryless learner updated by REINFORCE within the episode, on the training "
                  "family (uniform arms) and off it (Beta(1, 3) arms). Improvement = mean "
                  "regret of the first third of the steps − that of the last third, with a 95% "
                  "t-interval over tasks. The belief policy's meta-training "
                  + ("converged" if conv else "**did not converge**")
                  + f" (gap to Bayes-optimal {imp.belief_bayes_gap.iloc[0]:.3g}).", "",
                  "| family | agent | first third | last third | improvement [95% interval] "
                  "| significant |", "|---|---|---|---|---|---|"]
        for r in imp.itertuples():
            lines.append(f"| {r.family} | {r.agent} | {r.early:.4g} | {r.late:.4g} | "
                         f"{r.improvement:.4g} [{r.ci_low:.4g}, {r.ci_high:.4g}] | "
                         f"{'yes' if r.significant else 'no'} |")
        frozen = imp[imp.agent.str.startswith("belief")]
        better = frozen[frozen.significant & (frozen.improvement > 0)]
        lines += ["", (f"With its weights frozen, the belief policy's regret falls within the "
                       f"episode on {len(better)} of {len(frozen)} families "
                       f"({', '.join(better.family) if len(better) else 'none'}): the "
                       "improvement comes from the counts it reads, not from learning."),
                  "", f"![Per-step regret within the episode]({STUDY}/frozen-weights.png)", ""]
    return lines
