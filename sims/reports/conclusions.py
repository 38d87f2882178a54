"""What an attribution concludes, in words a reader can check against the numbers: the
summary.csv row, the paragraph of ``report.md`` and its caveats.

:func:`conclusion` says, for one (scenario, learner, environment), what diverged and by how
much — the intended regret and its four terms at the final recorded step, seed means with
95% Student-t intervals across seeds — then the verdict with
:attr:`~mesabase.sims.attribution.Attribution.verdict_reason`. :func:`caveats` adds a
sentence for each thing that reads against intuition:

* a negative learner gap: the learner does better for the intended reward than every
  maximiser of its own objective (it has not converged to one, and that helps);
* a negative data gap: the finite history's maximisers include a policy better for the
  intended reward than any full-information maximiser;
* a verdict "none" with a regret left: no named unintended behaviour is shown, but the
  intended regret is not zero (the terms say whose it is);
* a wide argmax set: the ambiguity gap, or the range J_history_max − J_history_min of J_I
  over the maximisers of L_t (or J_base_max − J_base_min over those of the base
  objective), is more than :data:`WIDE` of the total regret: the objective leaves the
  intended return undetermined, and which maximiser a learner lands on matters.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

__all__ = ["TERMS", "TERM_NAMES", "SUMMARY_COLUMNS", "WIDE", "NEGATIVE_ATOL", "NONE_ATOL",
           "mean_ci", "DIST_COLUMNS", "revealed_means", "revealed_lines",
           "summary_row", "conclusion", "caveats", "comparison_rows"]

#: The four terms of the decomposition, outer first; the learner gap is the inner one.
TERMS = ("misspecification_gap", "data_gap", "ambiguity_gap", "learner_gap")
TERM_NAMES = {"misspecification_gap": "misspecification gap (outer)",
              "data_gap": "data gap (outer)", "ambiguity_gap": "ambiguity gap (outer)",
              "learner_gap": "learner gap (inner)", "total": "total"}
#: The revealed-objective distances (:mod:`mesabase.sims.attribution.revealed`) in summaries.
DIST_COLUMNS = ("dist_RB_learner", "dist_RB_opt", "dist_RI_learner", "dist_RI_opt")
SUMMARY_COLUMNS = ("scenario", "learner", "environment", "n_seeds", "step", *TERMS, "total",
                   "J_intended", "J_learner", "J_base_min", "J_base_max", "J_history_min",
                   "J_history_max", *DIST_COLUMNS, "verdict", "reason")
#: A range (or the ambiguity gap) wider than this share of the total regret is "wide".
WIDE = 0.2
#: A seed-mean term below −NEGATIVE_ATOL is negative (earns a caveat).
NEGATIVE_ATOL = 1e-9
#: A verdict "none" with a seed-mean total regret above this earns a caveat.
NONE_ATOL = 1e-6
_ENV = {"train": "training", "deploy": "deployment", "shift": "deployment (after the shift)"}


def mean_ci(x, confidence: float = 0.95) -> tuple[float, float, float]:
    """Seed mean and Student-t interval x̄ ± t_{(1+c)/2, n−1} s/√n (NaN bounds for n = 1)."""
    x = np.asarray(x, dtype=np.float64)
    m = float(x.mean())
    if x.size < 2:
        return m, float("nan"), float("nan")
    half = float(stats.t.ppf((1 + confidence) / 2, x.size - 1) * x.std(ddof=1)
                 / np.sqrt(x.size))
    return m, m - half, m + half


def _fmt(x: float) -> str:
    return f"{x:.4g}" if abs(x) >= 1e-12 else "0"


def _q(x) -> str:
    """``mean [95% CI lo, hi]`` (the mean alone when the interval is a point or undefined)."""
    m, lo, hi = mean_ci(x)
    if not np.isfinite(lo) or hi - lo < 1e-12:
        return _fmt(m)
    return f"{_fmt(m)} [95% CI {_fmt(lo)}, {_fmt(hi)}]"


def summary_row(a) -> dict:
    """One summary.csv row (:data:`SUMMARY_COLUMNS`): the seed means of ``a``'s gaps at its
    final recorded step, the ranges of J_I over the two argmax sets, the scenario verdict
    and its one-sentence reason."""
    f = a.final
    means = {c: float(f[c].mean()) for c in (*TERMS, "total", "J_intended", "J_learner",
                                            "J_base_min", "J_base_max", "J_history_min",
                                            "J_history_max")}
    row = {"scenario": a.scenario, "learner": a.learner, "environment": a.environment,
           "n_seeds": len(f), "step": int(f.step.iloc[0]), **means,
           **revealed_means(a), "verdict": a.scenario_verdict, "reason": a.verdict_reason}
    return {c: row[c] for c in SUMMARY_COLUMNS}


def revealed_final(a):
    """The rows of ``a.revealed`` at its final recorded step (None when not measured)."""
    rev = getattr(a, "revealed", None)
    if rev is None or not len(rev):
        return None
    return rev[rev.step == rev.step.max()]


def revealed_means(a) -> dict:
    """Seed means of :data:`DIST_COLUMNS` at the final recorded step (NaN: not measured)."""
    f = revealed_final(a)
    return {c: float("nan") if f is None else float(f[c].mean()) for c in DIST_COLUMNS}


def revealed_lines(a) -> list[str]:
    """The report's reading of the revealed-objective distances (issue 17): final-step seed
    means with 95% intervals and the reading rule's counts, or why they are missing."""
    f = revealed_final(a)
    if f is None:
        why = ("this run's results folder has no revealed table" if a.revealed is None else
               "its environment's revealed-set LPs exceed the size limit "
               "(`mesabase.sims.attribution.revealed.MAX_ENTRIES` constraint entries)")
        return [f"**Revealed objective.** Not measured: {why}.", ""]
    n, step = len(f), int(f.step.iloc[0])
    counts = f.reading.value_counts()
    reads = ", ".join(f"{lab} {int(counts.get(lab, 0))}/{n}"
                      for lab in ("contains R_B", "inner", "neither"))
    return [f"**Revealed objective** (step t = {step}, {n} seeds; normalised ℓ∞ distance "
            "from the reward to the rewards the policy is optimal for: 0 = optimal for it, "
            "1/2 = reveals nothing of it). To R_B: learner "
            f"{_q(f.dist_RB_learner)}, π*_t {_q(f.dist_RB_opt)}; to R_I: learner "
            f"{_q(f.dist_RI_learner)}, π*_t {_q(f.dist_RI_opt)}. Reading per seed: {reads} "
            "(contains R_B: the learner behaves as the base objective asks, so any failure "
            "is outer; inner: its set is far from R_B while π*_t's contains it, an inner gap "
            "in objective space; neither: the history objective does not single out R_B).",
            ""]


def conclusion(a) -> str:
    """Two or three sentences: what diverged and by how much (the four terms with 95%
    intervals), the largest term, the verdict and its reason; then :func:`caveats`."""
    f = a.final
    n, step = len(f), int(f.step.iloc[0])
    total = float(f.total.mean())
    J, JL = float(f.J_intended.mean()), float(f.J_learner.mean())
    share = f" ({100 * total / J:.1f}% of the optimum)" if abs(J) > 1e-12 else ""
    where = _ENV.get(a.environment, a.environment)
    text = (f"At step t = {step} ({n} seed{'s' if n != 1 else ''}, {where} environment) "
            f"the learner reaches J_I(π_θt) = {_fmt(JL)} against the intended optimum "
            f"J_I(π_I*) = {_fmt(J)}: intended regret {_q(f.total)}{share} = "
            + " + ".join(f"{TERM_NAMES[t].split(' (')[0]} {_q(f[t])}" for t in TERMS) + ". ")
    terms = {t: float(f[t].mean()) for t in TERMS}
    big = max(terms, key=lambda t: abs(terms[t]))
    if abs(total) <= NEGATIVE_ATOL and abs(terms[big]) <= NEGATIVE_ATOL:
        text += "Nothing diverged: every term is zero. "
    else:
        pct = f", {100 * terms[big] / total:.0f}% of the regret" if abs(total) > 1e-12 else ""
        text += f"The largest term is the {TERM_NAMES[big]}, {_fmt(terms[big])}{pct}. "
    text += f"**Verdict: {a.scenario_verdict}** — {a.verdict_reason}"
    extra = caveats(a)
    return text + (" " + " ".join(extra) if extra else "")


def caveats(a) -> list[str]:
    """One sentence for each negative term and each wide range (module docstring)."""
    f = a.final
    total = abs(float(f.total.mean()))
    wide = max(WIDE * total, 1e-9)
    out = []
    learner, data = float(f.learner_gap.mean()), float(f.data_gap.mean())
    if learner < -NEGATIVE_ATOL:
        out.append(f"Caveat: the learner gap is negative ({_fmt(learner)}): the learner does "
                   "better for the intended reward than every maximiser of its own objective.")
    if data < -NEGATIVE_ATOL:
        out.append(f"Caveat: the data gap is negative ({_fmt(data)}): the finite history's "
                   "maximisers include a policy better for the intended reward than every "
                   "maximiser with full information.")
    lo, hi = float(f.J_history_min.mean()), float(f.J_history_max.mean())
    amb = float(f.ambiguity_gap.mean())
    if hi - lo > wide or amb > wide:
        out.append(f"Caveat: the argmax set of L_t is wide: J_I ranges from {_fmt(lo)} to "
                   f"{_fmt(hi)} over its maximisers (ambiguity gap {_fmt(amb)}), so the data "
                   "leave the intended return undetermined and which maximiser a learner "
                   "lands on matters.")
    if a.scenario_verdict == "none" and total > NONE_ATOL:
        outer = float(sum(f[t].mean() for t in TERMS[:3]))
        out.append(f"Caveat: no named unintended behaviour is shown, hence the verdict none, "
                   f"yet the intended regret is {_fmt(total)}: it is tied to no named "
                   f"behaviour; by the terms, the outer ones carry {_fmt(outer)} "
                   f"({100 * outer / total:.0f}%) and the learner gap {_fmt(learner)} "
                   f"({100 * learner / total:.0f}%).")
    blo, bhi = float(f.J_base_min.mean()), float(f.J_base_max.mean())
    if bhi - blo > wide:
        out.append(f"Caveat: the base objective's argmax set is wide too: J_I ranges from "
                   f"{_fmt(blo)} to {_fmt(bhi)} over its full-information maximisers.")
    return out


def comparison_rows(attributions) -> list[str]:
    """A Markdown table putting learners of one scenario side by side: per attribution the
    four terms and the total (seed means with 95% intervals) and the verdict."""
    head = ["learner", "environment", *(TERM_NAMES[t] for t in TERMS), "total", "verdict"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for a in attributions:
        f = a.final
        cells = [f"`{a.learner}`", _ENV.get(a.environment, a.environment),
                 *(_q(f[t]) for t in (*TERMS, "total")), f"**{a.scenario_verdict}**"]
        lines.append("| " + " | ".join(cells) + " |")
    return lines
