"""The crux model (:mod:`mesabase.theory.cruxes`) for people: the ``mesabase cruxes`` table,
the tornado figure, and the demo's ``cruxes.csv`` / ``cruxes.png|svg`` / report section.

The table puts each node of the model beside the two participants' stated numbers and the
sentences they came from (the comment thread under Abram Demski's "Mesa-Search vs
Mesa-Control", AI Alignment Forum, 2020: :data:`~mesabase.theory.CRUX_SOURCE`), then the
outcome P(catastrophe) of each participant as an exact range over their stated intervals
(a declined node over [0, 1]), the most sensitive crux and the crossovers
(:mod:`mesabase.theory.crux_sensitivity`).

The tornado (:func:`plot_tornado`), drawn from the saved table :func:`tornado_frame` (one row
per participant × node): a panel per participant; each node's bar runs from the outcome with
that node at 0 to the outcome with it at 1, the other nodes at the participant's baselines;
the darker part is the node's stated range (hatched where the participant declined, which
is the whole bar); the vertical line is the outcome at the baselines. Bars are sorted by
length, the longest on top. Okabe–Ito colours, blog width (:mod:`.figures`).
"""

from __future__ import annotations

import csv
import io
from fractions import Fraction
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from mesabase.theory import (
    CRUX_NODES,
    CRUX_SOURCE,
    CRUXES,
    PARTICIPANTS,
    CruxModel,
    crossovers,
    most_sensitive,
    participant_range,
    sensitivity,
)

from ..files import atomic_write, input_exists, open_input, reading
from .figures import BLOG_WIDTH, need_columns, new_figure, styled
from .render import OKABE_ITO

__all__ = ["TORNADO_COLUMNS", "CRUX_FORMATS", "tornado_frame", "plot_tornado", "crux_report",
           "write_cruxes", "read_tornado", "crux_section"]

#: The columns of :func:`tornado_frame` (and of the demo's ``cruxes.csv``).
TORNADO_COLUMNS = ("participant", "node", "crux", "label", "declined", "baseline", "outcome",
                   "at_zero", "at_one", "stated_low", "stated_high", "at_stated_low",
                   "at_stated_high", "swing", "slope_low", "slope_high", "range_low",
                   "range_high", "most_sensitive", "robust")
#: The output formats of ``mesabase cruxes``.
CRUX_FORMATS = ("md", "csv")
_COLOURS = {"A": OKABE_ITO["vermillion"], "B": OKABE_ITO["blue"]}
_LIGHT = {"A": "#F6CDB8", "B": "#BFDDF1"}
_OUTCOME = "P(catastrophe | the problems manifest early)"
_ROLES = {"A": " (proposed the cruxes)", "B": " (answered them)"}


def _num(x) -> str:
    """A probability for reading: 6 significant digits."""
    return f"{float(x):.6g}"


def _exact(x: Fraction) -> str:
    return str(x)


def tornado_frame(model: CruxModel | None = None) -> pd.DataFrame:
    """The tornado of both participants as a tidy table (:data:`TORNADO_COLUMNS`), one row
    per participant × node in decreasing swing; probabilities as floats of the exact
    values. ``range_low`` / ``range_high``: the participant's outcome range (repeated on each
    of their rows); ``most_sensitive``: the node is (one of) the longest bars; ``robust``:
    that ranking holds everywhere in the participant's stated box."""
    model = model or CruxModel()
    rows = []
    for key in PARTICIPANTS:
        swings = sensitivity(model, key)
        rng, _ = participant_range(model, key)
        best, robust = most_sensitive(swings)
        for s in swings:
            rows.append({
                "participant": key, "node": s.node, "crux": s.crux,
                "label": CRUX_NODES[s.node].label if s.node in CRUX_NODES else s.node,
                "declined": s.declined, **{k: float(getattr(s, k)) for k in (
                    "baseline", "outcome", "at_zero", "at_one", "stated_low", "stated_high",
                    "at_stated_low", "at_stated_high", "swing", "slope_low", "slope_high")},
                "range_low": float(rng.low), "range_high": float(rng.high),
                "most_sensitive": s.node in best, "robust": robust})
    return pd.DataFrame(rows, columns=list(TORNADO_COLUMNS))


@styled
def plot_tornado(df: pd.DataFrame) -> Figure:
    """The tornado figure from a :func:`tornado_frame` table (module docstring)."""
    df = need_columns(df, TORNADO_COLUMNS, "the tornado table")
    keys = list(dict.fromkeys(df["participant"]))
    fig = new_figure(BLOG_WIDTH, 1.2 + 0.42 * df.groupby("participant").size().max()
                     * len(keys))
    axes = fig.subplots(len(keys), 1, squeeze=False)[:, 0]
    for ax, key in zip(axes, keys, strict=True):
        d = df[df["participant"] == key].sort_values("swing", kind="stable").reset_index()
        colour, light = _COLOURS.get(key, OKABE_ITO["black"]), _LIGHT.get(key, "#DDDDDD")
        for y, r in d.iterrows():
            lo, hi = sorted((r["at_zero"], r["at_one"]))
            ax.barh(y, hi - lo, left=lo, height=0.7, color=light, edgecolor="none")
            slo, shi = sorted((r["at_stated_low"], r["at_stated_high"]))
            if shi > slo:
                ax.barh(y, shi - slo, left=slo, height=0.7, color=colour,
                        hatch="//" if r["declined"] else None, edgecolor="white", linewidth=0)
            else:  # a stated point: a tick
                ax.plot([slo, slo], [y - 0.38, y + 0.38], color=colour, linewidth=3,
                        solid_capstyle="butt")
        ax.axvline(d["outcome"].iloc[0], color=OKABE_ITO["black"], linewidth=1.2)
        ax.set_yticks(range(len(d)), [f"crux {c}: {lab}" for c, lab
                                      in zip(d["crux"], d["label"], strict=True)])
        ax.grid(axis="y", visible=False)
        lo = min(d["at_zero"].min(), d["at_one"].min())
        hi = max(d["at_zero"].max(), d["at_one"].max())
        pad = max((hi - lo) * 0.04, 1e-6)
        ax.set_xlim(lo - pad, hi + pad)
        role = _ROLES.get(key, "")
        ax.set_title(f"participant {key}{role}\nrange {d['range_low'].iloc[0]:.4g} to "
                     f"{d['range_high'].iloc[0]:.4g}; {d['outcome'].iloc[0]:.4g} at the "
                     "baselines", fontsize=10)
        ax.set_xlabel(_OUTCOME)
    handles = [Patch(color="#CCCCCC", label="node moved over [0, 1]"),
               Patch(color="#666666", label="stated range (tick: stated value)"),
               Patch(facecolor="#666666", hatch="//", edgecolor="white",
                     label="declined: stated range is [0, 1]"),
               Line2D([], [], color=OKABE_ITO["black"], linewidth=1.2,
                      label="outcome at the baselines")]
    fig.legend(handles=handles, loc="outside lower center", ncols=2, frameon=False)
    fig.suptitle("cruxes: how far one crux alone moves P(catastrophe)\n(other nodes at "
                 "each participant's baselines)")
    return fig


# ---- the table for ``mesabase cruxes`` ---------------------------------------------------
def _stated(e) -> str:
    """The number as stated, and the exact value or interval the model reads it as."""
    lo, hi = e.interval
    if e.declined:
        return f"{e.stated} \u2192 shown over [0, 1]"
    return f"{e.stated} \u2192 " + (str(lo) if lo == hi else f"[{lo}, {hi}]")


def _table_rows() -> list[dict]:
    a, b = PARTICIPANTS["A"], PARTICIPANTS["B"]
    rows = []
    for c in CRUXES:
        for n in c.nodes:
            ea, eb = a.estimates[n], b.estimates[n]
            rows.append({"crux": c.number, "question": c.question, "node": n,
                         "event": CRUX_NODES[n].event, "A": _stated(ea),
                         "A_low": _exact(ea.interval[0]), "A_high": _exact(ea.interval[1]),
                         "A_source": ea.quote, "A_note": ea.note, "B": _stated(eb),
                         "B_low": _exact(eb.interval[0]), "B_high": _exact(eb.interval[1]),
                         "B_source": eb.quote, "B_note": eb.note})
    return rows


def _corners(rng, which: str) -> str:
    corners = rng.argmax if which == "max" else rng.argmin
    common = rng.common(which)
    fixed = ", ".join(f"{n} = {v}" for n, v in common.items())
    free = [n for n in corners[0] if n not in common]
    return (f"{fixed}" + (f" (any end of {', '.join(free)}: {len(corners)} corners)"
                          if free else ""))


def _csv(model: CruxModel) -> str:
    buf = io.StringIO()
    rows = _table_rows()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    for key in PARTICIPANTS:
        rng, base = participant_range(model, key)
        w.writerow({"crux": "outcome", "question": _OUTCOME, "node": "P(catastrophe)",
                    "event": _formula(model), key: f"range; {_num(base)} at the baselines",
                    f"{key}_low": _exact(rng.low), f"{key}_high": _exact(rng.high)})
    return buf.getvalue()


def _formula(model: CruxModel) -> str:
    """The outcome as 1 − (the factored probability of safety)."""
    return f"1 - {model.safety}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def crux_report(fmt: str = "md", model: CruxModel | None = None) -> str:
    """What ``mesabase cruxes`` prints: ``fmt`` "md" (the table, each participant's outcome
    with its range, the most sensitive crux and the crossovers) or "csv" (the table, one row
    per node, then one outcome row per participant, exact bounds as fractions)."""
    if fmt not in CRUX_FORMATS:
        raise ValueError(f"format must be one of {', '.join(CRUX_FORMATS)}; got {fmt!r}")
    model = model or CruxModel()
    if fmt == "csv":
        return _csv(model)
    a, b = PARTICIPANTS["A"], PARTICIPANTS["B"]
    lines = ["# The crux model", "", f"Source: {CRUX_SOURCE}.", "",
             f"Participant A: {a.role}. Participant B: {b.role}. B's scope: \u201c{b.scope}\u201d",
             "", f"Outcome: {_OUTCOME} = `{_formula(model)}` "
             f"(multilinear: degrees {model.degrees()}).", "",
             "| crux | node | participant A | participant B | source sentences |",
             "|---|---|---|---|---|"]
    for r in _table_rows():
        src = f"A: \u201c{r['A_source']}\u201d B: \u201c{r['B_source']}\u201d"
        lines.append(f"| {r['crux']}. {_cell(r['question'])} | {r['node']}: {r['event']} | "
                     f"{_cell(r['A'])} | {_cell(r['B'])} | {_cell(src)} |")
    lines += ["", "## Outcome", "",
              "Exact range over the stated intervals (a declined node over [0, 1]); the value "
              "at the baselines (point; midpoint of a range; a declined node's reading, else "
              "1/2) is for the tornado and crossovers only.", ""]
    for key in PARTICIPANTS:
        rng, base = participant_range(model, key)
        lines += [f"- participant {key}: P(catastrophe) in [{_num(rng.low)}, "
                  f"{_num(rng.high)}] = [{rng.low}, {rng.high}]; at the baselines "
                  f"{_num(base)}. Minimum at {_corners(rng, 'min')}; maximum at "
                  f"{_corners(rng, 'max')}. Directions over the box: "
                  + ", ".join(f"{n} {d}" for n, d in rng.monotone.items()) + "."]
    lines += ["", "## Sensitivity", ""]
    for key in PARTICIPANTS:
        swings = sensitivity(model, key)
        best, robust = most_sensitive(swings)
        top = [s for s in swings if s.node in best]
        lines.append(f"- participant {key}: most sensitive "
                     + " and ".join(f"crux {s.crux} ({s.node}), swing {_num(s.swing)}"
                                    for s in top)
                     + ("; the same anywhere in the stated ranges." if robust else
                        "; not robust: within the stated ranges another crux can move the "
                        "outcome more.") + " Swings: "
                     + ", ".join(f"{s.node} {_num(s.swing)}" for s in swings) + ".")
    lines += ["", "## Crossovers", "", "The value of one crux alone at which a participant "
              "(other nodes at their baselines) reaches the other's baseline outcome.", "",
              "| node | A moves to reach B | B moves to reach A |", "|---|---|---|"]
    xs = crossovers(model)
    for n in model.nodes:
        ab = next(x for x in xs if x.node == n and x.mover == "A")
        ba = next(x for x in xs if x.node == n and x.mover == "B")
        lines.append(f"| {n} | {ab.text()} | {ba.text()} |")
    return "\n".join(lines) + "\n"


# ---- the demo's files ------------------------------------------------------------------
def write_cruxes(out) -> Path:
    """Save :func:`tornado_frame` as ``out/cruxes.csv`` (atomically); returns its path. The
    figure and the report section are drawn from it by
    :func:`~mesabase.sims.reports.report.update_results`."""
    df = tornado_frame()
    path = Path(out) / "cruxes.csv"
    return atomic_write(path, lambda p: df.to_csv(p, index=False))


def read_tornado(out) -> pd.DataFrame | None:
    """``out/cruxes.csv``, None if there is none; one that cannot be read, lacks a column or
    is a symbolic link (never followed: :func:`~mesabase.sims.files.open_input`) raises
    :class:`~mesabase.sims.files.PathError` naming it."""
    path = Path(out) / "cruxes.csv"
    if not input_exists(path, out):
        return None
    with reading(path), open_input(path, out) as f:
        df = pd.read_csv(f)
        missing = [c for c in TORNADO_COLUMNS if c not in df.columns]
        if missing:
            raise ValueError(f"not a mesabase cruxes table (no column {', '.join(missing)})")
    return df


def crux_section(df: pd.DataFrame | None) -> list[str]:
    """The ``report.md`` lines of the crux model from the saved table (none without one)."""
    if df is None:
        return []
    lines = ["## cruxes: do alignment problems that manifest early get fixed?", "",
             f"A probability tree over the four cruxes of the {CRUX_SOURCE}, with the two "
             "participants' stated numbers (`mesabase cruxes` prints them with the sentences "
             "they came from; the model is `mesabase.theory.CruxModel`). Outcome: "
             f"{_OUTCOME}, an exact range over each participant's stated intervals (a "
             "declined node over [0, 1]).", "",
             "| participant | P(catastrophe) range | at the baselines | most sensitive crux |",
             "|---|---|---|---|"]
    for key, d in df.groupby("participant", sort=False):
        best = d[d["most_sensitive"].astype(bool)]
        top = ", ".join(f"crux {c} ({n})" for c, n in zip(best["crux"], best["node"],
                                                            strict=True))
        robust = "" if bool(d["robust"].iloc[0]) else " (not robust over the stated ranges)"
        lines.append(f"| {key} | {d['range_low'].iloc[0]:.6g} to {d['range_high'].iloc[0]:.6g}"
                     f" | {d['outcome'].iloc[0]:.6g} | {top}{robust} |")
    lines += ["", "![cruxes: how far one crux alone moves P(catastrophe)](cruxes.png)", ""]
    return lines
