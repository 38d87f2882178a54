"""Results directories: the tables, figures, ``summary.csv`` and ``report.md`` of scenario runs.

    out/
      summary.csv              one row per (scenario, learner, environment): final-step means
      report.md                per scenario and learner: what diverged, by how much, the
                               verdict and why; figures
      dichotomy.png|svg        every unintended behaviour: learner vs maximisers of L_t
      behaviours.png|svg       behaviour attribution bars across the scenarios
      <scenario>-gaps.png|svg  a scenario run with several learners: their gaps side by side
      cruxes.csv, cruxes.png|svg  the crux model's tornado (``demo``; crux_figures.py)
      <folder>/                <scenario> (its default learner) or <scenario>--<learner>
        meta.json              sizes, learner, attribution ranges, timing
        gaps|behaviours|verdicts|returns|revealed[|simplex|policies].parquet
        gaps.png|svg [revealed.png|svg] [simplex.png|svg] [policies-<view>.png|svg]

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

The folder may come from someone else: mesabase follows no symbolic link below ``out``
(``out`` itself may be one). Files are read with :func:`~mesabase.sims.files.open_input`
(no link followed, a regular file checked with ``fstat``); a scenario folder is checked to be
no link before anything is written into it; :func:`result_folders` lists ``out`` with
``lstat`` and refuses *every* symbolic link directly in ``out`` (a results folder holds
none: mesabase never makes one, and a link is where a folder outside ``out`` would be read
or written). Each refusal is one line, exit code 2 (``cannot read out/x: is a symbolic
link; mesabase does not follow links in a results folder``).

A run of a scenario with its default learner is saved in the folder ``<scenario>``, with
another learner in ``<scenario>--<learner>`` (:func:`folder_name`), so that the same
environment under two learners is kept, and reported, side by side.

summary.csv columns: :data:`~mesabase.sims.reports.conclusions.SUMMARY_COLUMNS`, one row per
attribution of every folder (the primary one first: in deployment when the scenario has
one). ``misspecification_gap``, ``data_gap``, ``ambiguity_gap``, ``learner_gap``, ``total``
(= J_I(π_I*) − J_I(π_θt), their sum), ``J_intended``, ``J_learner`` and the ranges
``J_base_min``/``J_base_max`` (of J_I over the base objective's argmax set) and
``J_history_min``/``J_history_max`` (over L_t's) are seed means at the final recorded step
``step``; ``verdict`` is :attr:`~mesabase.sims.attribution.Attribution.scenario_verdict`
("outer" | "inner" | "mixed" | "none") and ``reason`` its one-sentence ``verdict_reason``.

Reference: the sweep / analysis split of bsuite (I. Osband et al., ICLR 2020).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd

from ..attribution.analysis import BEHAVIOUR_COLUMNS, GAP_COLUMNS, VERDICT_COLUMNS, Attribution
from ..attribution.revealed import REVEALED_COLUMNS, revealed_table
from ..files import (
    PathError,
    atomic_write,
    input_exists,
    make_folder,
    open_input,
    read_input_text,
    reading,
    reason,
    refuse_links,
    remove,
)
from ..scenarios import SCENARIOS, get_scenario
from .conclusions import (
    DIST_COLUMNS,
    SUMMARY_COLUMNS,
    comparison_rows,
    conclusion,
    revealed_lines,
    summary_row,
)
from .dichotomy import dichotomy_frame, plot_dichotomy
from .figures import plot_behaviours, plot_gridworld_policies, plot_simplex, save_figure
from .gap_figures import plot_gap_comparison, plot_gaps
from .revealed_figures import plot_revealed_distances
from .tables import scenario_tables

__all__ = ["SUMMARY_COLUMNS", "atomic_write", "write_figure", "scenario_tables", "write_scenario",
           "load_attributions", "draw_scenario", "summary_row", "update_results",
           "folder_name", "result_folders"]

_VERDICT_TEXT = {
    "outer": "the divergence is the objective's: some maximiser of the learner's own "
             "objective L_t shows the unintended behaviour, or the outer terms carry the regret",
    "inner": "the divergence is the learner's: it shows an unintended behaviour no maximiser "
             "of L_t shows, or the learner gap carries the regret",
    "mixed": "outer in some seeds or behaviours and inner in others",
    "none": "no named unintended behaviour is shown, by the learner or by any maximiser of "
            "L_t (or, with no behaviours named, the intended regret is zero)",
}
_ENV_NAMES = {"train": "training", "deploy": "deployment"}


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


def _attribution_meta(a: Attribution) -> dict:
    return {"environment": a.environment, "learner": a.learner,
            "rows": sorted(set(a.gaps.environment)),
            "J_base_range": list(map(float, a.J_base_range)),
            "policy_class": str(a.policy_class)}


def folder_name(sc, learner: str | None) -> str:
    """The results folder of scenario ``sc`` run with ``learner``: ``sc.name`` for its
    default learner (or None), ``<sc.name>--<learner>`` for another."""
    return sc.name if learner in (None, sc.default_learner) else f"{sc.name}--{learner}"


def write_scenario(out, sc, run, attributions, *, sizes: dict, seconds: float) -> Path:
    """Save the tables of ``run`` (of scenario ``sc``, attributed by ``attributions``, the
    primary one first) and ``meta.json`` under ``out/<folder>/`` (:func:`folder_name` of the
    learner); returns the folder."""
    folder = Path(out) / folder_name(sc, attributions[0].learner)
    make_folder(folder, root=out)  # a link there (to a folder outside out) is refused
    tables = scenario_tables(sc, run, attributions)
    # the revealed-objective distances: an attribution's own, or measured here (empty for an
    # environment over the size limit; mesabase.sims.attribution.revealed)
    own = [a.revealed for a in attributions if a.revealed is not None]
    tables["revealed"] = own[0] if own else revealed_table(run, sc,
                                                           learner=attributions[0].learner)
    for name, df in tables.items():
        atomic_write(folder / f"{name}.parquet", lambda p, df=df: df.to_parquet(p, index=False))
    for stale in set(("simplex", "policies")) - set(tables):
        remove(folder / f"{stale}.parquet")
    meta = {"scenario": sc.name, "learner": attributions[0].learner,
            "description": sc.description, "notes": sc.notes,
            "shift_step": sc.shift_step, "sizes": sizes, "seconds": round(float(seconds), 3),
            "attributions": [_attribution_meta(a) for a in attributions]}
    _write_text(folder / "meta.json", json.dumps(meta, indent=2, ensure_ascii=False) + "\n")
    return folder


# ---- reading back -------------------------------------------------------------------------
#: The columns each saved attribution table must have to be read back.
_TABLE_COLUMNS = {"gaps": GAP_COLUMNS, "behaviours": BEHAVIOUR_COLUMNS,
                  "verdicts": VERDICT_COLUMNS, "revealed": REVEALED_COLUMNS}


def _read(folder: Path, name: str, required: bool = False,
          root=None) -> pd.DataFrame | None:
    """The table ``folder/name.parquet``, None if there is none. A file that cannot be read
    as Parquet, lacks a column of :data:`_TABLE_COLUMNS`, is ``required`` and missing, or is
    (or lies in) a symbolic link below the results folder ``root`` (default: ``folder``'s
    parent) raises :class:`~mesabase.sims.files.PathError` naming it."""
    p, root = folder / f"{name}.parquet", folder.parent if root is None else root
    if not required and not input_exists(p, root):
        return None
    with reading(p), open_input(p, root) as f:
        df = pd.read_parquet(f)
        missing = [c for c in _TABLE_COLUMNS.get(name, ()) if c not in df.columns]
        if missing:
            raise ValueError(f"not a mesabase {name} table (no column {', '.join(missing)})")
    return df


_META_KEYS = {"scenario": str, "description": str, "sizes": dict, "seconds": (int, float),
              "attributions": list}
_ATTRIBUTION_KEYS = {"environment": str, "learner": str, "rows": list,
                     "J_base_range": list, "policy_class": str}
_SIZE_KEYS = ("seeds", "steps", "record_every")


def _meta(folder: Path, root=None) -> dict:
    """``folder/meta.json``; one that is missing, not UTF-8, not JSON, not shaped as
    :func:`write_scenario` writes it, or a symbolic link below the results folder ``root``
    (default: ``folder``'s parent) raises :class:`~mesabase.sims.files.PathError` naming
    it."""
    p = folder / "meta.json"
    with reading(p):
        meta = json.loads(read_input_text(p, folder.parent if root is None else root))
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
    """The attributions saved in the results folder ``name`` (a scenario's, or
    ``<scenario>--<learner>``) rebuilt from its tables (primary first). A ``meta.json`` or
    table that is missing or not as :func:`write_scenario` writes it raises
    :class:`~mesabase.sims.files.PathError` naming the file."""
    return _attributions(out, name, _meta(Path(out) / name, out))


def _attributions(out, name: str, meta: dict) -> list[Attribution]:
    """:func:`load_attributions` with the folder's ``meta.json`` already read (``meta``)."""
    folder = Path(out) / name
    scenario = meta["scenario"]
    revealed = _read(folder, "revealed", root=out)  # the run's, shared by its attributions
    gaps, beh, ver = (_read(folder, k, required=True, root=out)
                      for k in ("gaps", "behaviours", "verdicts"))
    out_ = []
    for m in meta["attributions"]:
        rows = m["rows"]
        out_.append(Attribution(
            scenario=scenario, environment=m["environment"], learner=m["learner"],
            gaps=gaps[gaps.environment.isin(rows)].reset_index(drop=True),
            behaviours=beh[beh.environment.isin(rows)].reset_index(drop=True),
            verdicts=ver[ver.environment.isin(rows)].reset_index(drop=True),
            J_base_range=tuple(m["J_base_range"]), policy_class=m["policy_class"],
            revealed=revealed))
    return out_


def draw_scenario(out, name: str, dpi: int | None = None) -> list[Path]:
    """Draw the figures of results folder ``name`` from its saved tables: ``gaps`` (the four
    terms over time), ``simplex`` (a 3-armed bandit) and ``policies-<view>`` (a gridworld:
    learner and π*_t, train vs deployment). Returns the PNG paths."""
    folder = Path(out) / name
    refuse_links(folder, out, "write into")  # figures are written into it
    scenario = _meta(folder, out)["scenario"]
    pngs = [write_figure(plot_gaps(_read(folder, "gaps", True), scenario=scenario),
                         folder / "gaps", dpi)[0]]
    simplex = _read(folder, "simplex")
    if simplex is not None:
        pngs.append(write_figure(plot_simplex(simplex), folder / "simplex", dpi)[0])
    for old in folder.glob("policies-*.png"):
        remove(old)
        remove(old.with_suffix(".svg"))
    rev = _read(folder, "revealed")
    if rev is not None and len(rev):
        pngs.append(write_figure(plot_revealed_distances(rev), folder / "revealed", dpi)[0])
    else:
        remove(folder / "revealed.png")
        remove(folder / "revealed.svg")
    pol = _read(folder, "policies")
    if pol is not None:
        sc = get_scenario(scenario)
        worlds = {"train": sc.world}
        if sc.deploy is not None and sc.deploy.world is not None:
            worlds["deploy"] = sc.deploy.world
        for view, d in pol.groupby("view", sort=False):
            fig = plot_gridworld_policies(d, worlds)
            pngs.append(write_figure(fig, folder / f"policies-{view}", dpi)[0])
    return pngs


# ---- summary and report -------------------------------------------------------------------
def result_folders(out) -> list[str]:
    """The results folders under ``out`` (those with a ``meta.json``), in the order of the
    registry, a scenario's default learner first, then its other learners by name. ``out``
    is listed with ``lstat``: a symbolic link directly in it raises
    :class:`~mesabase.sims.files.PathError` (module docstring), never followed."""
    out = Path(out)
    names = []
    try:
        with os.scandir(out) as entries:
            for e in entries:
                if e.is_symlink():
                    refuse_links(out / e.name, out)  # raises: one line naming the link
                if e.is_dir(follow_symlinks=False) and input_exists(out / e.name / "meta.json",
                                                                    out):
                    names.append(e.name)
    except (FileNotFoundError, NotADirectoryError):  # as glob: no folder, no results
        return []
    order = {n: i for i, n in enumerate(SCENARIOS)}

    def key(n):
        scen, _, learner = n.partition("--")
        return (order.get(scen, len(order)), scen, learner != "", learner)

    return sorted(names, key=key)


def _fmt(x: float) -> str:
    return f"{x:.4g}" if abs(x) >= 1e-12 else "0"


def _behaviour_lines(a: Attribution) -> list[str]:
    b = a.behaviours
    lines = []
    for v in a.verdicts.itertuples():
        fin = b[(b.behaviour == v.behaviour) & (b.environment == v.environment)]
        fin = fin[fin.step == fin.step.max()]
        n = len(fin)
        shows = int((fin.learner_value >= v.threshold).sum())
        some = int((fin.hi >= v.threshold).sum())
        kind = "intended" if bool(getattr(v, "intended", False)) else "unintended"
        lines.append(
            f"- `{v.behaviour}` ({kind}, {v.environment}; shown at ≥ {v.threshold:.4g}): the "
            f"learner shows it in {shows}/{n} seeds (mean value {fin.learner_value.mean():.3g}); "
            f"some maximiser of L_t does in {some}/{n} (its maximum over the argmax set, mean "
            f"{fin.hi.mean():.3g}) → **{v.verdict}** (outer {v.frac_outer:.2f}, 95% CI "
            f"{v.frac_outer_low:.2f}–{v.frac_outer_high:.2f}; inner {v.frac_inner:.2f}, 95% CI "
            f"{v.frac_inner_low:.2f}–{v.frac_inner_high:.2f}).")
    return lines


_CAPTIONS = {"gaps": "The four terms over time (seed mean, 95% CI band)",
             "simplex": "Learner and π*_t on the probability simplex",
             "revealed": "Distance from R_B and R_I to the rewards the learner's policy and "
                         "π*_t are optimal for (seed mean, 95% CI band)"}


def _entry(out: Path, name: str, heading: bool, meta: dict,
           atts: list[Attribution]) -> list[str]:
    """The report lines of results folder ``name`` (one learner of a scenario), from its
    ``meta.json`` and attributions as read by :func:`update_results`."""
    folder = out / name
    a, s = atts[0], meta["sizes"]
    lines = [f"### learner `{a.learner}`", ""] if heading else []
    where = (f"attributed in training up to the shift at step {meta['shift_step']} and in "
             "deployment after it" if meta.get("shift_step") else
             f"attributed in the {_ENV_NAMES.get(a.environment, a.environment)} environment")
    lines += [f"*Run:* learner `{a.learner}` ({a.policy_class} policies), {s['seeds']} seeds × "
              f"{s['steps']} steps, recorded every {s['record_every']}, {where}; "
              f"{meta['seconds']:.1f} s.", ""]
    lines += [f"**What diverged.** {conclusion(a)}", "",
              f"*{a.scenario_verdict.capitalize()}* means: "
              f"{_VERDICT_TEXT[a.scenario_verdict]}.", ""]
    lines += _behaviour_lines(a) + [""]
    lines += revealed_lines(a)
    for extra in atts[1:]:
        env = _ENV_NAMES.get(extra.environment, extra.environment)
        lines += [f"**In the {env} environment.** {conclusion(extra)}", ""]
        lines += _behaviour_lines(extra) + [""]
    lines += ["```text", *(x.summary() for x in atts), "```", ""]
    for png in sorted(folder.glob("*.png"), key=lambda p: (p.stem != "gaps", p.stem != "revealed",
                                                         p.stem != "simplex",
                                                         p.stem != "policies-start", p.stem)):
        cap = _CAPTIONS.get(png.stem, "Policies of the learner and π*_t, " + png.stem[9:]
                            .replace("-", " ") + " (seed 0, final recorded step)")
        lines += [f"![{cap}, {a.learner}]({name}/{png.name})", ""]
    tables = ", ".join(f"[{p.stem}]({name}/{p.name})" for p in sorted(folder.glob("*.parquet")))
    return lines + [f"Tables (Parquet): {tables}.", ""]


def _section(out: Path, scenario: str, folders: list[str], metas: dict[str, dict],
             loaded: dict[str, list[Attribution]]) -> str:
    """The report section of one scenario: its learners side by side, then each in turn
    (``metas`` and ``loaded``: each folder's ``meta.json`` and attributions)."""
    meta = metas[folders[0]]
    lines = [f"## {scenario}", "", meta["description"], ""]
    if meta.get("notes"):
        lines += [f"*Expected:* {meta['notes']}", ""]
    if len(folders) > 1:
        atts = [loaded[f][0] for f in folders]
        lines += [f"**Side by side** (final recorded step, seed means with 95% intervals): "
                  f"the same environment under {len(atts)} learners.", "",
                  *comparison_rows(atts), ""]
        if (out / f"{scenario}-gaps.png").exists():
            lines += [f"![{scenario}: the four terms under each learner, side by side]"
                      f"({scenario}-gaps.png)", ""]
    for f in folders:
        lines += _entry(out, f, len(folders) > 1, metas[f], loaded[f])
    return "\n".join(lines)


def _markdown_table(df: pd.DataFrame) -> list[str]:
    cols = list(df.columns)
    rows = [["" if pd.isna(x) else (_fmt(x) if isinstance(x, float) else str(x)) for x in r]
            for r in df.itertuples(index=False)]
    return ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)] + [
        "| " + " | ".join(r) + " |" for r in rows]


def _root_figures(out: Path, groups: dict[str, list[str]], dpi,
                  loaded: dict[str, list[Attribution]]) -> bool:
    """``dichotomy`` (every folder's primary attribution, from ``loaded``) and
    ``<scenario>-gaps`` (scenarios with several learners) at the results root; returns
    whether the dichotomy was drawn."""
    for old in out.glob("*-gaps.png"):
        if old.stem[:-5] not in groups or len(groups[old.stem[:-5]]) < 2:
            remove(old)
            remove(old.with_suffix(".svg"))
    points = []
    for scenario, folders in groups.items():
        primary = [loaded[f][0] for f in folders]
        for a in primary:
            b = a.behaviours
            points.append(b[b.step == a.final.step.max()])
        if len(folders) > 1:
            gaps = pd.concat([a.gaps for a in primary], ignore_index=True)
            write_figure(plot_gap_comparison(gaps, scenario, [a.learner for a in primary]),
                         out / f"{scenario}-gaps", dpi)
    points = [p for p in points if len(p)]
    if not points or dichotomy_frame(pd.concat(points, ignore_index=True)).empty:
        remove(out / "dichotomy.png")
        remove(out / "dichotomy.svg")
        return False
    write_figure(plot_dichotomy(pd.concat(points, ignore_index=True)), out / "dichotomy", dpi)
    return True


_PREAMBLE = [
    "For each scenario a learner is trained online on the base reward R_B; at every recorded "
    "step its intended regret, evaluated exactly (no sampling), splits into four terms. With "
    "[m, M] the range of J_I over the maximisers of the base objective with full information "
    "(A_B) and [m_t, M_t] its range over the maximisers of the history objective L_t on the "
    "learner's own history (A_t), both in the learner's policy class,", "",
    "    J_I(π_I*) − J_I(π_θt) = (J_I(π_I*) − M)                       misspecification (outer)",
    "                          + (M − M_t)                               data (outer)",
    "                          + (M_t − clip(J_I(π_θt), m_t, M_t))       ambiguity (outer)",
    "                          + (clip(J_I(π_θt), m_t, M_t) − J_I(π_θt))  learner (inner)", "",
    "No term depends on a tie-break. A behaviour is *outer* when some maximiser of L_t shows "
    "it, *inner* when the learner shows it and no maximiser does; intended behaviours never "
    "make a verdict outer. The learner gap is negative when the learner does better for the "
    "intended reward than every maximiser of its objective; the data gap is negative when the "
    "finite history's maximisers beat full information's.", ""]


def update_results(out, header: str = "", dpi: int | None = None) -> pd.DataFrame:
    """Rebuild ``summary.csv``, ``dichotomy.png|svg``, ``behaviours.png|svg``, the
    side-by-side ``<scenario>-gaps.png|svg`` and ``report.md`` in ``out`` from the saved
    tables of every results folder there; returns the summary table."""
    out = Path(out)
    names = result_folders(out)
    metas = {n: _meta(out / n) for n in names}  # each folder's files are read once, here
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(metas[n]["scenario"], []).append(n)
    loaded = {n: _attributions(out, n, metas[n]) for n in names}
    summary = pd.DataFrame([summary_row(a) for n in names for a in loaded[n]],
                           columns=list(SUMMARY_COLUMNS))
    atomic_write(out / "summary.csv", lambda p: summary.to_csv(p, index=False))
    verdicts = [v for n in names if len(v := _read(out / n, "verdicts"))]
    if verdicts:
        fig = plot_behaviours(pd.concat(verdicts, ignore_index=True))
        write_figure(fig, out / "behaviours", dpi)
    dichotomy = _root_figures(out, groups, dpi, loaded)
    lines = ["# mesabase results", ""]
    if header:
        lines += [header, ""]
    headline = summary.drop(columns=["reason", "J_base_min", "J_base_max", "J_history_min",
                                     "J_history_max", *DIST_COLUMNS])
    lines += [*_PREAMBLE, "Headline (seed means at the final recorded step; the table, with "
              "the ranges and each verdict's reason, is `summary.csv`):", "",
              *_markdown_table(headline), ""]
    if dichotomy:
        lines += ["![Outer or inner: each unintended behaviour under the learner (y) and "
                  "under the maximisers of its objective (x)](dichotomy.png)", "",
                  "*The dichotomy.* Each unintended behaviour at the final step: x is its "
                  "largest value over the maximisers of L_t, y its value under the learner, "
                  "both divided by its threshold. Right of x = 1 some maximiser shows it "
                  "(outer); left of it and above y = 1 only the learner does (inner).", ""]
    if verdicts:
        lines += ["![Behaviour attribution across scenarios](behaviours.png)", ""]
    lines += [_section(out, scen, folders, metas, loaded) for scen, folders in groups.items()]
    from .meta_section import STUDY, study_section

    with reading(out / STUDY):
        lines += study_section(out)
    from .crux_figures import crux_section, plot_tornado, read_tornado

    cruxes = read_tornado(out)  # the crux model's tornado table, saved by the demo
    if cruxes is not None:
        write_figure(plot_tornado(cruxes), out / "cruxes", dpi)
    lines += crux_section(cruxes)
    _write_text(out / "report.md", "\n".join(lines).rstrip() + "\n")
    return summary
