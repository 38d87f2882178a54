"""The meta-bandits section of ``report.md``, drawn from the study's saved files
(``OUT/meta-bandits/summary.csv`` and ``study.json``; :mod:`mesabase.sims.meta.study` writes
them).

The files are read as inputs of an untrusted results folder
(:func:`~mesabase.sims.files.open_input`): a symbolic link at ``OUT/meta-bandits`` or at any
of its files is refused with :class:`~mesabase.sims.files.PathError` (one line, exit code 2),
never followed and never taken for a missing file."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ..files import input_exists, open_input, read_input_text

__all__ = ["STUDY", "study_section"]

#: The study's name (the CLI's and the folder's).
STUDY = "meta-bandits"


def study_section(out) -> list[str]:
    """Markdown lines for ``report.md`` from the saved study (empty if there is none)."""
    folder = Path(out) / STUDY
    if not _has(folder, "summary.csv"):
        return []
    summary = _csv(folder, "summary.csv")
    sizes = json.loads(read_input_text(folder / "study.json", folder.parent))
    H = int(summary.horizon.max())
    last = summary[summary.horizon == H].sort_values("regret")
    lines = [f"## {STUDY}: statistics in activations vs in weights", "",
             f"Bayes regret H·E[max p] − E[Σ p[a_t]] of every agent on the same "
             f"{sizes['n_tasks']} tasks × {sizes['n_seeds']} seeds per horizon "
             f"({sizes['family']} prior, K = {sizes['n_arms']}); 95% t-intervals over tasks. "
             "The Bayes-optimal agent (exact backward induction on the belief MDP) tracks the "
             "posterior counts in its state; the memoryless learners (REINFORCE within the "
             "episode, MAML / Meta-SGD initialisations) can only track them in their weights.",
             "", f"At H = {H}:", ""]
    training = (_csv(folder, "training.csv") if _has(folder, "training.csv")
                else pd.DataFrame(columns=["agent", "horizon", "converged"]))
    bad = {(r.agent, int(r.horizon)) for r in training.itertuples() if not r.converged}
    lines += _table(["agent", "Bayes regret", "95% interval", "exact"],
                    ([r.agent + (" (not converged)" if (r.agent, H) in bad else ""),
                      f"{r.regret:.4g}", _ci(r.ci_low, r.ci_high, ".4g"),
                      _num(r.exact_regret)] for r in last.itertuples()))
    lines += _differences_lines(folder, H)
    lines += ["", f"![Bayes regret versus horizon]({STUDY}/regret.png)", ""]
    if len(training):
        lines += ["Meta-training (each agent at each horizon; `training.csv`): converged means "
                  "its stated criterion held within the step budget; the gap is V* − the "
                  "agent's exact value, the class gap the best exact value found in its class "
                  "− the agent's (blank where not computable).", ""]
        lines += _table(["agent", "H", "converged", "steps", "gap to Bayes-optimal",
                         "gap to class best", "criterion"],
                        ([r.agent, str(int(r.horizon)), _yes(r.converged, "**no**"),
                          str(int(r.steps)), _num(r.bayes_gap),
                          _num(getattr(r, "class_gap", float("nan"))), r.criterion]
                         for r in training.itertuples()))
        lines.append("")
    if _has(folder, "maml-advantage.csv"):
        adv = _csv(folder, "maml-advantage.csv")
        lines += ["### Does MAML's initialisation help? (task families where it can)", "",
                  "Reduction of Bayes regret by the MAML θ₀ over REINFORCE from θ₀ = 0 (η = 1), "
                  "same tasks and outcome tables: exact (ΔJ, by enumeration) and Monte-Carlo "
                  "mean with a 95% t-interval over tasks. On the symmetric uniform prior the "
                  "best θ₀ is 0, so the two learners coincide there (the control).", ""]
        lines += _table(["family", "H", "θ₀,₁ − θ₀,₂", "meta-training converged", "exact gain",
                         "gain [95% interval]", "significant"],
                        ([r.family, str(int(r.horizon)), f"{r.theta0_diff:.3g}",
                          _yes(r.converged, "**no**"), _num(r.exact_gain),
                          f"{r.gain:.4g} " + _ci(r.ci_low, r.ci_high, ".4g"),
                          _yes(r.significant)] for r in adv.itertuples()))
        sig = adv[adv.significant]
        lines += ["", (f"The interval excludes 0 in {len(sig)} of {len(adv)} cells"
                       + (f" ({', '.join(sorted(set(sig.family)))})" if len(sig) else "")
                       + "; elsewhere the data do not distinguish the two learners. Where "
                       "meta-training did not converge, the best θ₀ lies at infinity (commit "
                       "to the arm the prior favours) and the gain is that of the θ₀ reached "
                       "within the step budget: a lower bound on what the class can gain."), ""]
    if _has(folder, "frozen-improvement.csv"):
        imp = _csv(folder, "frozen-improvement.csv")
        conv = bool(imp.belief_converged.iloc[0])
        lines += ["### Frozen weights, improving performance?", "",
                  "Per-step regret E[max p − p[a_t]] within an episode, for the belief-state "
                  "policy meta-trained on the training family and then frozen, and for the "
                  "memoryless learner updated by REINFORCE within the episode, on the training "
                  "family (uniform arms) and off it (Beta(1, 3) arms). Improvement = mean "
                  "regret of the first third of the steps − that of the last third, with a 95% "
                  "t-interval over tasks. The belief policy's meta-training "
                  + ("converged" if conv else "**did not converge**")
                  + f" (gap to Bayes-optimal {imp.belief_bayes_gap.iloc[0]:.3g}).", ""]
        lines += _table(["family", "agent", "first third", "last third",
                         "improvement [95% interval]", "significant"],
                        ([r.family, r.agent, f"{r.early:.4g}", f"{r.late:.4g}",
                          f"{r.improvement:.4g} " + _ci(r.ci_low, r.ci_high, ".4g"),
                          _yes(r.significant)] for r in imp.itertuples()))
        frozen = imp[imp.agent.str.startswith("belief")]
        better = frozen[frozen.significant & (frozen.improvement > 0)]
        lines += ["", (f"With its weights frozen, the belief policy's regret falls within the "
                       f"episode on {len(better)} of {len(frozen)} families "
                       f"({', '.join(better.family) if len(better) else 'none'}): the "
                       "improvement comes from the counts it reads, not from learning."),
                  "", f"![Per-step regret within the episode]({STUDY}/frozen-weights.png)", ""]
    lines += _weights_section(folder)
    lines += _mesa_section(folder)
    return lines


def _has(folder: Path, name: str) -> bool:
    """Whether the study folder (``OUT/meta-bandits``) has the file ``name``; a link at
    either raises :class:`~mesabase.sims.files.PathError`."""
    return input_exists(folder / name, folder.parent)


def _csv(folder: Path, name: str) -> pd.DataFrame:
    """The table ``folder/name`` of the study folder, read following no link."""
    with open_input(folder / name, folder.parent) as f:
        return pd.read_csv(f)


def _table(header, rows) -> list[str]:
    """A markdown table: the ``header`` row, its rule, then one line per row (each row, like
    the header, a sequence of cell strings)."""
    return [_row(header), "|" + "---|" * len(header), *map(_row, rows)]


def _row(cells) -> str:
    return "| " + " | ".join(cells) + " |"


def _num(x, spec: str = ".4g") -> str:
    """``x`` formatted with ``spec``; blank when it is missing (NaN)."""
    return "" if pd.isna(x) else format(x, spec)


def _ci(lo, hi, spec: str) -> str:
    return f"[{lo:{spec}}, {hi:{spec}}]"


def _yes(flag, no: str = "no") -> str:
    return "yes" if flag else no


def _interval(m, lo, hi) -> str:
    if pd.isna(m):
        return "n/a (constant)"
    if pd.isna(lo) or pd.isna(hi):
        return f"{m:.3g} (no interval)"
    return f"{m:.3g} [{lo:.3g}, {hi:.3g}]"


def _weights_section(folder: Path) -> list[str]:
    """The weight-trajectory experiment (:mod:`mesabase.sims.meta.weights`), from its files."""
    need = ("agreement", "compare", "starts", "nmf", "fit")
    if not all(_has(folder, f"weights-{n}.csv") for n in need):
        return []
    ag, cmp_, st, nmf, fit = (_csv(folder, f"weights-{n}.csv") for n in need)
    H = int(ag.step.max()) + 1
    fam = ", ".join(map(str, dict.fromkeys(ag.family)))
    last = ag[ag.step == H - 1].set_index(["start", "measure"])
    lines = ["### Where does the memoryless learner keep the statistics? (weight trajectories)",
             "", f"The memoryless learner run from θ₀ = 0, from the MAML θ₀ and from the "
             f"Meta-SGD (θ₀, η), meta-trained on the {fam} family at H = {H}, on the same "
             "tasks and outcome tables. *Mass* is the probability its policy puts on the "
             "Bayes-optimal action set at the belief (counts) it reached (no tie-break "
             "enters); *most probable agrees* is the share of rows whose most probable arm is "
             "Bayes-optimal, as a range over ties; Σ regret gap is Σ_t E[V*(c_t) − "
             "Σ_k π_t(k) Q*(c_t, k)], which equals the exact Bayes gap V* − J (last column). "
             "95% t-intervals over tasks.", ""]

    def vector(js: str) -> str:
        return "(" + ", ".join(f"{v:.3g}" for v in json.loads(js)) + ")"

    def start_row(r) -> list[str]:
        m = last.loc[(r.start, "mass")]
        ga, gy = last.loc[(r.start, "greedy_all"), "mean"], last.loc[(r.start, "greedy_any"),
                                                                      "mean"]
        return [r.start, vector(r.theta0), vector(r.eta), _yes(r.converged, "**no**"),
                _interval(m["mean"], m.ci_low, m.ci_high), f"{ga:.3g}–{gy:.3g}",
                _interval(r.gap_total, r.ci_low, r.ci_high), _num(r.exact_gap)]

    lines += _table(["start", "θ₀", "η", "meta-training converged", f"mass at t = {H - 1}",
                     "most probable agrees", "Σ regret gap", "exact V* − J"],
                    map(start_row, st.itertuples()))
    said = []
    for r in cmp_[cmp_.summary == "mass_last"].itertuples():
        verdict = ("significantly higher than" if r.ci_low > 0 else
                   "significantly lower than" if r.ci_high < 0 else
                   "not distinguishable from")
        said.append(f"{r.start}'s mass at the last step is {verdict} the zero start's "
                    f"(paired difference {_interval(r.diff, r.ci_low, r.ci_high)})")
    f = fit.iloc[0]
    lines += ["", "; ".join(said) + ".", "",
              f"NMF of the weight trajectories (rows: start × task × seed × step, "
              f"{int(f.n_rows)} in all; columns: {f['transform']}): {int(f.n_components)} "
              f"components, relative Frobenius error {f.relative_err:.3g}, "
              + ("converged" if f.converged else "**did not converge**")
              + f" in {int(f.n_iter)} iterations. Pearson r of each component's activation "
              "with the counts (successes s_k, failures f_k of arm k), with a task-clustered "
              "(jackknife) Fisher-z 95% interval (none where the correlation rests on one "
              "task):", ""]
    stats = list(dict.fromkeys(nmf.statistic))
    lines += _table(["start", "component", *stats],
                    ([start, f"c{comp}", *(_interval(r.r, r.ci_low, r.ci_high)
                                           for r in d.itertuples())]
                     for (start, comp), d in nmf.groupby(["start", "component"], sort=False)))
    succ = nmf[nmf.statistic.str.startswith("s")].r.abs().max()
    fail = nmf[nmf.statistic.str.startswith("f")].r.abs().max()
    lines += ["", f"The largest |r| with a success count is {succ:.2f}, with a failure count "
              f"{fail:.2f}" + (" (with baseline b = 0 a failure leaves the weights unchanged, so "
                               "failures reach them only through which arms were pulled)."
                               if fail < succ else "."),
              "", f"![Agreement and NMF correlations]({STUDY}/weights.png)", ""]
    return lines


def _mesa_section(folder: Path) -> list[str]:
    """A mesa-learner attributed (:mod:`mesabase.sims.meta.mesa`), from ``mesa.csv`` and
    ``mesa-regret.csv``."""
    if not (_has(folder, "mesa.csv") and _has(folder, "mesa-regret.csv")):
        return []
    t, reg = _csv(folder, "mesa.csv"), _csv(folder, "mesa-regret.csv")
    r0 = t.iloc[0]
    level = f"{float(r0.confidence):.0%}"

    def rng(lo, hi) -> str:
        return f"{lo:.3g}" if abs(hi - lo) < 5e-4 else f"[{lo:.3g}, {hi:.3g}]"

    conv = ("its meta-training converged" if str(r0.learner_converged) == "True"
            else "its meta-training **did not converge**")
    conv = "it was given, not meta-trained" if pd.isna(r0.learner_converged) else conv
    gap = "" if pd.isna(r0.learner_bayes_gap) else \
        f" (gap to Bayes-optimal on the training family {r0.learner_bayes_gap:.3g})"
    lines = ["### A mesa-learner attributed", "",
             f"The belief-state policy meta-trained on a family where arm 2 is useless "
             f"({r0.train}) is frozen and deployed on one where it is good ({r0.deploy}), "
             f"H = {int(r0.horizon)}; {conv}{gap}. For each behaviour, "
             f"(a) the learner's frequency over {int(r0.n_tasks)} deployment tasks with a "
             f"{level} t-interval over tasks (and its exact probability), (b) the exact range "
             "over every Bayes-optimal policy of the *training* objective and (c) over every "
             "Bayes-optimal policy of the *deployment* objective (what we intended), under the "
             "deployment prior — ranges over all tie-breaks, by backward induction. Rule: a "
             f"policy shows a behaviour when its frequency is ≥ θ = top of (c) + δ "
             f"(δ = {r0.margin:g}); the behaviour is *unintended* when the learner's interval "
             "lies at or above θ; then *outer* when some training-optimal policy shows it too "
             "(the training objective selects it), *inner* when none does (only the learner "
             "adds it).", ""]
    lines += _table(["behaviour", f"(a) learner [{level} interval]", "(a) exact",
                     "(b) training-optimal", "(c) intended", "θ", "verdict"],
                    ([r.behaviour, f"{r.learner:.3g} " + _ci(r.ci_low, r.ci_high, ".3g"),
                      _num(r.learner_exact, ".3g"), rng(r.training_lo, r.training_hi),
                      rng(r.intended_lo, r.intended_hi), f"{r.threshold:.3g}",
                      f"**{r.verdict}**" if r.unintended else r.verdict]
                     for r in t.itertuples()))
    said = []
    for r in t[t.unintended].itertuples():
        s = (f"*{r.behaviour}* ({r.description}) is unintended: the learner shows it in "
             f"{r.learner:.3g} [{r.ci_low:.3g}, {r.ci_high:.3g}] of episodes, no "
             f"intended-optimal policy more than {r.intended_hi:.3g}; ")
        if r.verdict == "outer":
            s += (f"a Bayes-optimal policy for the training objective shows it too (up to "
                  f"{r.training_hi:.3g}), so it is **outer**")
            if r.exceeds_training:
                s += ", and the learner shows it more than every training-optimal policy"
            elif r.ci_high < r.training_lo:
                s += (f", though the learner shows it less than every training-optimal policy "
                      f"(at least {r.training_lo:.3g})")
        else:
            s += (f"no Bayes-optimal policy for the training objective shows it (at most "
                  f"{r.training_hi:.3g}), so it is **inner**")
        said.append(s + ".")
    rest = t[~t.unintended]
    if len(rest):
        said.append("Not unintended (the learner's interval reaches below θ): "
                    + ", ".join(f"{r.behaviour} ({r.learner:.3g} [{r.ci_low:.3g}, "
                                f"{r.ci_high:.3g}])" for r in rest.itertuples()) + ".")
    lines += [""] + [x for s in said for x in (s, "")]
    lines += [f"Regret on the deployment family, H·E[max p] − E[Σ p[a_t]]: the learner's "
              f"Monte-Carlo mean with its {level} interval and its exact value; the exact range "
              "over the training-optimal policies (ties); the exact Bayes regret of the "
              "intended ones.", ""]
    lines += _table(["policy", "Monte Carlo [interval]", "exact"],
                    ([r.policy,
                      "" if pd.isna(r.regret)
                      else f"{r.regret:.3g} " + _ci(r.ci_low, r.ci_high, ".3g"),
                      "" if pd.isna(r.exact_lo) else rng(r.exact_lo, r.exact_hi)]
                     for r in reg.itertuples()))
    by = reg.set_index("policy")
    a, b = by.loc["learner"], by.loc["training"]
    where = ("below" if a.ci_high < b.exact_lo else "above" if a.ci_low > b.exact_hi
             else "overlapping")
    lines += ["", f"The learner's regret interval lies {where} the training-optimal range "
              f"{rng(b.exact_lo, b.exact_hi)}, against {by.loc['intended'].exact_lo:.3g} for "
              "the intended policy.", "",
              f"![A mesa-learner attributed]({STUDY}/mesa.png)", ""]
    return lines


def _differences_lines(folder: Path, H: int) -> list[str]:
    """The paired comparison with the Bayes-optimal agent at horizon H (``differences.csv``),
    and which differences are significant, in words."""
    if not _has(folder, "differences.csv"):
        return []
    d = _csv(folder, "differences.csv")
    d = d[d.horizon == H]
    if d.empty:
        return []
    lines = ["", f"Paired by task (same tasks and outcome tables), each agent's Bayes regret "
             f"minus the Bayes-optimal agent's at H = {H}, with a 95% t-interval over tasks "
             "and the paired t-test's p-value; *Holm* marks the differences that stay "
             "significant after Holm's correction over every agent and horizon "
             "(`differences.csv`).", ""]
    lines += _table(["agent", "difference", "95% interval", "p", "significant", "Holm"],
                    ([r.agent, f"{r.difference:.4g}", _ci(r.ci_low, r.ci_high, ".4g"),
                      f"{r.p_value:.2g}", _yes(r.significant), _yes(r.significant_holm)]
                     for r in d.sort_values("difference").itertuples()))
    worse = [a for a, s, x in zip(d.agent, d.significant_holm, d.difference, strict=True)
             if s and x > 0]
    better = [a for a, s, x in zip(d.agent, d.significant_holm, d.difference, strict=True)
              if s and x < 0]
    same = [a for a, s in zip(d.agent, d.significant_holm, strict=True) if not s]
    text = []
    if worse:
        text.append("significantly more regret than Bayes-optimal (Holm): " + ", ".join(worse))
    if better:
        text.append("significantly *less* (sampling noise or a bug: Bayes-optimal is optimal "
                    "in expectation): " + ", ".join(better))
    if same:
        text.append("not distinguishable from Bayes-optimal at these sizes: " + ", ".join(same))
    return lines + ["", f"At H = {H}, " + "; ".join(text) + "."]

