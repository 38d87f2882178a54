"""Results directories: the tables, figures, ``summary.csv`` and ``report.md`` of scenario runs.

    out/
      summary.csv              one row per scenario (the seed means at the final step)
      report.md                per scenario: what diverged, by how much, the verdict; figures
      behaviours.png|svg       behaviour attribution bars across the scenarios
      <scenario>/
        meta.json              sizes, learner, attribution ranges, timing
        gaps|behaviours|verdicts|returns[|simplex|policies].parquet
        gaps.png|svg [simplex.png|svg] [policies-<view>.png|svg]

The directory is the record. :func:`write_scenario` saves a run's tables; every figure,
``summary.csv`` and ``report.md`` is then built *from the saved tables* (re-read from disk,
never from the live run), by :func:`draw_scenario` and :func:`update_results`. The summary
and the report cover every scenario folder in ``out``, so ``mesabase run A`` then
``mesabase run B`` into one folder reports both, and rerunning a scenario replaces its rows.
Every file is written atomically (:func:`atomic_write`: a temporary file in the same folder,
then ``os.replace``), so an interrupted run leaves each file whole, old or new. A file that
cannot be written or read (a read-only or full file system; a ``meta.json`` or table in
``out`` that is not UTF-8, JSON or Parquet) raises :class:`~mesabase.sims.files.PathError`
naming it, which the command prints as one line (:mod:`mesabase.sims.files`).

summary.csv columns: :data:`SUMMARY_COLUMNS`. ``spec_gap``, ``history_gap``,
``learner_gap``, ``total`` (= J_I(π_I*) − J_I(π_θt), their sum), ``J_intended`` and
``J_learner`` are seed means at the final recorded step ``step``; ``verdict`` is
:attr:`~mesabase.sims.attribution.Attribution.scenario_verdict` ("outer" | "inner" | "mixed" |
"none") of the scenario's primary attribution (in deployment when it has one).

Reference: the sweep / analysis split of bsuite (I. Osband et al., ICLR 2020).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd

from ..agents.full import FullOptimizer
from ..attribution.analysis import BEHAVIOUR_COLUMNS, GAP_COLUMNS, VERDICT_COLUMNS, Attribution
from ..attribution.runner import ShiftRun
from ..attribution.transfer import deploy_policies, full_optimizer_policies, is_linear, map_states
from ..files import PathError, atomic_write, reading, reason, remove
from ..scenarios import SCENARIOS, get_scenario
from .figures import (
    plot_behaviours,
    plot_gaps,
    plot_gridworld_policies,
    plot_simplex,
    policy_frame,
    save_figure,
    simplex_frame,
)

__all__ = ["SUMMARY_COLUMNS", "atomic_write", "write_figure", "scenario_tables", "write_scenario",
           "load_attributions", "draw_scenario", "summary_row", "update_results"]

SUMMARY_COLUMNS = ("scenario", "environment", "learner", "n_seeds", "step", "spec_gap",
                   "history_gap", "learner_gap", "total", "J_intended", "J_learner", "verdict")
_VERDICT_TEXT = {
    "outer": "every named behaviour the learner shows is also shown by some maximiser of the "
             "history objective L_t: the objective selects it, and fully optimising the same "
             "data would not remove it",
    "inner": "some named behaviour the learner shows is shown by no maximiser of L_t: it is "
             "the incremental learner's doing, and fully optimising the same history removes "
             "it",
    "mixed": "outer in some seeds or behaviours and inner in others (see the behaviours)",
    "none": "the learner shows none of the named behaviours (whatever regret remains is not "
            "attributed to a behaviour)",
}
_ENV_NAMES = {"train": "training", "deploy": "deployment"}
_GAP_NAMES = {"spec_gap": "specification gap (outer)", "history_gap": "history gap (outer)",
              "learner_gap": "learner gap (inner)"}


# ---- files --------------------------------------------------------------------------------
def _write_text(path, text: str) -> Path:
    return atomic_write(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_figure(fig, stem: Path, dpi: int | None = None) -> tuple[Path, Path]:
    """Write ``{stem}.png`` and ``{stem}.svg`` atomically (as :func:`atomic_write`); an
    OSError is raised as a :class:`~mesabase.sims.files.PathError` naming the file."""
    tmp = stem.with_name(f".{stem.name}.{os.getpid()}.tmp")
    out = (stem.with_name(f"{stem.name}.png"), stem.with_name(f"{stem.name}.svg"))
    try:
        png, svg = save_figure(fig, tmp, **({} if dpi is None else {"dpi": dpi}))
        os.replace(png, out[0])
        os.replace(svg, out[1])
    except PathError:
        raise
    except OSError as e:
        svg = os.fsdecode(e.filename or "").endswith(".svg")
        raise PathError("write", out[1] if svg else out[0], reason(e), e.errno) from e
    finally:
        for ext in (".png", ".svg"):
            Path(f"{tmp}{ext}").unlink(missing_ok=True)
    return out


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


def _attribution_meta(a: Attribution) -> dict:
    return {"environment": a.environment, "learner": a.learner,
            "rows": sorted(set(a.gaps.environment)),
            "spec_gap_range": list(map(float, a.spec_gap_range)),
            "J_base_range": list(map(float, a.J_base_range))}


def write_scenario(out, sc, run, attributions, *, sizes: dict, seconds: float) -> Path:
    """Save the tables of ``run`` (of scenario ``sc``, attributed by ``attributions``, the
    primary one first) and ``meta.json`` under ``out/<sc.name>/``; returns the folder."""
    folder = Path(out) / sc.name
    tables = scenario_tables(sc, run, attributions)
    for name, df in tables.items():
        atomic_write(folder / f"{name}.parquet", lambda p, df=df: df.to_parquet(p, index=False))
    for stale in set(("simplex", "policies")) - set(tables):
        remove(folder / f"{stale}.parquet")
    meta = {"scenario": sc.name, "description": sc.description, "notes": sc.notes,
            "shift_step": sc.shift_step, "sizes": sizes, "seconds": round(float(seconds), 3),
            "attributions": [_attribution_meta(a) for a in attributions]}
    _write_text(folder / "meta.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return folder


# ---- reading back -------------------------------------------------------------------------
#: The columns each saved attribution table must have to be read back.
_TABLE_COLUMNS = {"gaps": GAP_COLUMNS, "behaviours": BEHAVIOUR_COLUMNS,
                  "verdicts": VERDICT_COLUMNS}


def _read(folder: Path, name: str, required: bool = False) -> pd.DataFrame | None:
    """The table ``folder/name.parquet``, None if there is none. A file that cannot be read
    as Parquet, lacks a column of :data:`_TABLE_COLUMNS`, or is ``required`` and missing
    raises :class:`~mesabase.sims.files.PathError` naming it."""
    p = folder / f"{name}.parquet"
    if not p.exists() and not required:
        return None
    with reading(p):
        df = pd.read_parquet(p)
        missing = [c for c in _TABLE_COLUMNS.get(name, ()) if c not in df.columns]
        if missing:
            raise ValueError(f"not a mesabase {name} table (no column {', '.join(missing)})")
    return df


_META_KEYS = {"scenario": str, "description": str, "sizes": dict, "seconds": (int, float),
              "attributions": list}
_ATTRIBUTION_KEYS = {"environment": str, "learner": str, "rows": list,
                     "spec_gap_range": list, "J_base_range": list}
_SIZE_KEYS = ("seeds", "steps", "record_every")


def _meta(folder: Path) -> dict:
    """``folder/meta.json``; one that is missing, not UTF-8, not JSON or not shaped as
    :func:`write_scenario` writes it raises :class:`~mesabase.sims.files.PathError`
    naming it."""
    p = folder / "meta.json"
    with reading(p):
        meta = json.loads(p.read_text(encoding="utf-8"))
        bad = _bad_keys(meta, _META_KEYS)
        if not bad:
            bad = [k for k in _SIZE_KEYS if k not in meta["sizes"]]
            bad += [f"attributions[{i}].{k}" for i, a in enumerate(meta["attributions"])
                    for k in _bad_keys(a, _ATTRIBUTION_KEYS)]
            if not meta["attributions"]:
                bad.append("attributions[0]")
        if bad:
            raise ValueError(f"not a mesabase meta.json (missing or wrong {', '.join(bad)})")
    return meta


def _bad_keys(d, kinds: dict) -> list[str]:
    if not isinstance(d, dict):
        return list(kinds)
    return [k for k, kind in kinds.items() if not isinstance(d.get(k), kind)]


def load_attributions(out, name: str) -> list[Attribution]:
    """The attributions of scenario ``name`` rebuilt from its saved tables (primary first).
    A ``meta.json`` or table that is missing or not as :func:`write_scenario` writes it
    raises :class:`~mesabase.sims.files.PathError` naming the file."""
    folder = Path(out) / name
    meta = _meta(folder)
    gaps, beh, ver = (_read(folder, k, required=True) for k in ("gaps", "behaviours",
                                                                 "verdicts"))
    out_ = []
    for m in meta["attributions"]:
        rows = m["rows"]
        out_.append(Attribution(
            name, m["environment"], m["learner"],
            gaps[gaps.environment.isin(rows)].reset_index(drop=True),
            beh[beh.environment.isin(rows)].reset_index(drop=True),
            ver[ver.environment.isin(rows)].reset_index(drop=True),
            spec_gap_range=tuple(m["spec_gap_range"]), J_base_range=tuple(m["J_base_range"])))
    return out_


def draw_scenario(out, name: str, dpi: int | None = None) -> list[Path]:
    """Draw scenario ``name``'s figures from its saved tables: ``gaps``, ``simplex`` (a
    3-armed bandit) and ``policies-<view>`` (a gridworld: learner and π*_t, train vs
    deployment). Returns the PNG paths."""
    folder = Path(out) / name
    pngs = [write_figure(plot_gaps(_read(folder, "gaps", True), scenario=name), folder / "gaps",
                         dpi)[0]]
    simplex = _read(folder, "simplex")
    if simplex is not None:
        pngs.append(write_figure(plot_simplex(simplex), folder / "simplex", dpi)[0])
    for old in folder.glob("policies-*.png"):
        remove(old)
        remove(old.with_suffix(".svg"))
    pol = _read(folder, "policies")
    if pol is not None:
        sc = get_scenario(name)
        worlds = {"train": sc.world}
        if sc.deploy is not None and sc.deploy.world is not None:
            worlds["deploy"] = sc.deploy.world
        for view, d in pol.groupby("view", sort=False):
            fig = plot_gridworld_policies(d, worlds)
            pngs.append(write_figure(fig, folder / f"policies-{view}", dpi)[0])
    return pngs


# ---- summary and report -------------------------------------------------------------------
def summary_row(a: Attribution) -> dict:
    """One summary.csv row: the seed means of ``a``'s gaps at its final recorded step."""
    f = a.final
    return {"scenario": a.scenario, "environment": a.environment, "learner": a.learner,
            "n_seeds": len(f), "step": int(f.step.iloc[0]),
            **{c: float(f[c].mean()) for c in ("spec_gap", "history_gap", "learner_gap",
                                               "total", "J_intended", "J_learner")},
            "verdict": a.scenario_verdict}


def _scenario_folders(out: Path) -> list[str]:
    names = [p.parent.name for p in out.glob("*/meta.json")]
    order = {n: i for i, n in enumerate(SCENARIOS)}
    return sorted(names, key=lambda n: (order.get(n, len(order)), n))


def _fmt(x: float) -> str:
    return f"{x:.4g}" if abs(x) >= 1e-12 else "0"


def _diverged(a: Attribution) -> str:
    row = summary_row(a)
    total, J = row["total"], row["J_intended"]
    share = f" ({100 * total / J:.1f}% of the optimum)" if abs(J) > 1e-12 else ""
    text = (f"At step t = {row['step']} (mean of {row['n_seeds']} seeds) the intended optimum "
            f"is J_I(π_I*) = {_fmt(J)} and the learner reaches J_I(π_θt) = "
            f"{_fmt(row['J_learner'])}: intended regret {_fmt(total)}{share}. ")
    terms = {k: row[k] for k in _GAP_NAMES}
    big = max(terms, key=lambda k: abs(terms[k]))
    if abs(total) < 1e-9 and abs(terms[big]) < 1e-9:
        return text + "Nothing diverged: every term is zero."
    text += "It splits into " + ", ".join(f"{_GAP_NAMES[k]} {_fmt(v)}"
                                         for k, v in terms.items()) + "; "
    pct = f" ({100 * terms[big] / total:.0f}% of the regret)" if abs(total) > 1e-12 else ""
    text += f"the largest is the {_GAP_NAMES[big]}, {_fmt(terms[big])}{pct}."
    f = a.final
    lo, hi = float(f.J_history_min.mean()), float(f.J_history_max.mean())
    if hi - lo > 1e-9:
        text += (f" The history leaves π*_t's argmax set wide (J_I from {_fmt(lo)} to "
                 f"{_fmt(hi)} over it): what the data do not determine counts as outer "
                 "(underdetermination).")
    return text


def _behaviour_lines(a: Attribution) -> list[str]:
    b = a.behaviours
    lines = []
    for v in a.verdicts.itertuples():
        fin = b[(b.behaviour == v.behaviour) & (b.environment == v.environment)]
        fin = fin[fin.step == fin.step.max()]
        n = len(fin)
        shows = int((fin.learner_value >= v.threshold).sum())
        some = int((fin.hi >= v.threshold).sum())
        lines.append(
            f"- `{v.behaviour}` ({v.environment}; shown at ≥ {v.threshold:.4g}): the learner "
            f"shows it in {shows}/{n} seeds (mean value {fin.learner_value.mean():.3g}); some "
            f"maximiser of L_t does in {some}/{n} (its maximum over the argmax set, mean "
            f"{fin.hi.mean():.3g}) → "
            f"**{v.verdict}** (outer {v.frac_outer:.2f}, 95% CI {v.frac_outer_low:.2f}–"
            f"{v.frac_outer_high:.2f}; inner {v.frac_inner:.2f}, 95% CI "
            f"{v.frac_inner_low:.2f}–{v.frac_inner_high:.2f}).")
    return lines


def _section(out: Path, name: str) -> str:
    folder, meta = out / name, _meta(out / name)
    atts = load_attributions(out, name)
    a, s = atts[0], meta["sizes"]
    lines = [f"## {name}", "", meta["description"], ""]
    if meta.get("notes"):
        lines += [f"*Expected:* {meta['notes']}", ""]
    where = (f"attributed in training up to the shift at step {meta['shift_step']} and in "
             "deployment after it" if meta.get("shift_step") else
             f"attributed in the {_ENV_NAMES.get(a.environment, a.environment)} environment")
    lines += [f"*Run:* learner `{a.learner}`, {s['seeds']} seeds × {s['steps']} steps, "
              f"recorded every {s['record_every']}, {where}; {meta['seconds']:.1f} s.", ""]
    lines += [f"**What diverged.** {_diverged(a)}", ""]
    lines += [f"**Verdict: {a.scenario_verdict}** — {_VERDICT_TEXT[a.scenario_verdict]}.", ""]
    lines += _behaviour_lines(a) + [""]
    for extra in atts[1:]:
        env = _ENV_NAMES.get(extra.environment, extra.environment)
        lines += [f"**In the {env} environment.** {_diverged(extra)} Verdict there: "
                  f"**{extra.scenario_verdict}**.", ""] + _behaviour_lines(extra) + [""]
    lines += ["```text", *(x.summary() for x in atts), "```", ""]
    captions = {"gaps": "The three gaps over time (seed mean, 95% CI band)",
                "simplex": "Learner and π*_t on the probability simplex"}
    for png in sorted(folder.glob("*.png"), key=lambda p: (p.stem != "gaps", p.stem != "simplex",
                                                         p.stem != "policies-start", p.stem)):
        cap = captions.get(png.stem, "Policies of the learner and π*_t, " + png.stem[9:]
                           .replace("-", " ") + " (seed 0, final recorded step)")
        lines += [f"![{cap}]({name}/{png.name})", ""]
    tables = ", ".join(f"[{p.stem}]({name}/{p.name})" for p in sorted(folder.glob("*.parquet")))
    return "\n".join(lines + [f"Tables (Parquet): {tables}.", ""])


def _markdown_table(df: pd.DataFrame) -> list[str]:
    cols = list(df.columns)
    rows = [["" if pd.isna(x) else (_fmt(x) if isinstance(x, float) else str(x)) for x in r]
            for r in df.itertuples(index=False)]
    return ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)] + [
        "| " + " | ".join(r) + " |" for r in rows]


def update_results(out, header: str = "", dpi: int | None = None) -> pd.DataFrame:
    """Rebuild ``summary.csv``, ``behaviours.png|svg`` and ``report.md`` in ``out`` from the
    saved tables of every scenario folder there; returns the summary table."""
    out = Path(out)
    names = _scenario_folders(out)
    summary = pd.DataFrame([summary_row(load_attributions(out, n)[0]) for n in names],
                           columns=list(SUMMARY_COLUMNS))
    atomic_write(out / "summary.csv", lambda p: summary.to_csv(p, index=False))
    verdicts = [v for n in names if len(v := _read(out / n, "verdicts"))]
    if verdicts:
        fig = plot_behaviours(pd.concat(verdicts, ignore_index=True))
        write_figure(fig, out / "behaviours", dpi)
    lines = ["# mesabase results", ""]
    if header:
        lines += [header, ""]
    lines += [
        "For each scenario a learner is trained online on the base reward R_B; at every "
        "recorded step its intended regret, evaluated exactly (no sampling), splits as",
        "", "    J_I(π_I*) − J_I(π_θt) = [J_I(π_I*) − J_I(π_B*)]  specification gap (outer)",
        "                          + [J_I(π_B*) − J_I(π*_t)]  history gap (outer: the data's)",
        "                          + [J_I(π*_t) − J_I(π_θt)]  learner gap (inner)", "",
        "with π*_t the exact optimum of the objective over the learner's own history. A "
        "behaviour the learner shows is *outer* when some maximiser of that objective shows "
        "it too, *inner* when only the learner does.", "",
        "Headline (seed means at the final recorded step; the table is `summary.csv`):", "",
        *_markdown_table(summary), ""]
    if verdicts:
        lines += ["![Behaviour attribution across scenarios](behaviours.png)", ""]
    lines += [_section(out, n) for n in names]
    from .meta_section import STUDY, study_section

    with reading(out / STUDY):
        lines += study_section(out)
    _write_text(out / "report.md", "\n".join(lines).rstrip() + "\n")
    return summary
