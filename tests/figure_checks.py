"""Checks that a figure is fit for a post, shared by tests/test_figures.py and the demo test in
tests/test_cli.py (not a test module itself).

* its title (suptitle and panel titles) names its scenario(s);
* symbols with subscripts are mathtext: outside ``$...$`` no title, axis label or legend text
  holds an underscore, a π or J_I; the ``$`` pair up; and the figure draws (Agg), so the
  mathtext parses;
* no panel shows more than :data:`~mesabase.sims.reports.figures.MAX_BANDS` confidence bands;
* a gridworld figure has a legend naming each kind of tile on its maps and the action
  arrows, and its titles say what was collected in words, never as a bitmask.
"""

from __future__ import annotations

import re

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection
from matplotlib.quiver import Quiver

from mesabase.sims.reports.figures import MAX_BANDS
from mesabase.sims.reports.render import TILE_NAMES

_MATHS = re.compile(r"\$[^$]*\$")
_BITMASK = re.compile(r"\b(keys|chests|lap) -?[0-9]+\b")


def titles(fig) -> list[str]:
    out = [fig._suptitle.get_text()] if fig._suptitle is not None else []
    return out + [ax.get_title(loc) for ax in fig.axes for loc in ("left", "center", "right")
                  if ax.get_title(loc)]


def legend_texts(fig) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for leg in legends for t in leg.get_texts()]


def texts(fig) -> list[str]:
    """Titles, axis labels and legend entries (not tick labels, which carry data names)."""
    labels = [s for ax in fig.axes for s in (ax.get_xlabel(), ax.get_ylabel()) if s]
    return titles(fig) + labels + legend_texts(fig)


def bands(ax) -> int:
    """Confidence bands (fill_between) in ``ax``; a quiver of arrows is not one."""
    return sum(isinstance(c, PolyCollection) and not isinstance(c, Quiver)
               for c in ax.collections)


def check_post_figure(fig, scenarios) -> None:
    heading = "\n".join(titles(fig))
    for name in scenarios:
        assert name in heading, (name, heading)
    for text in texts(fig):
        assert text.count("$") % 2 == 0, text
        plain = _MATHS.sub("", text)
        assert "_" not in plain and "π" not in plain, f"symbols outside mathtext: {text!r}"
    FigureCanvasAgg(fig)
    fig.canvas.draw()                                # every mathtext string parses
    for ax in fig.axes:
        assert bands(ax) <= MAX_BANDS, (ax.get_title(), bands(ax))


def check_gridworld_figure(fig, worlds) -> None:
    entries = legend_texts(fig)
    chars = {"^" if ch in "^v<>" else ch for w in worlds for row in w.rows for ch in row}
    for ch in chars:
        name = TILE_NAMES[ch].split(" (")[0].split(":")[0]
        assert any(e.startswith(name) for e in entries), (name, entries)
    assert any("arrow" in e and r"\pi(a" in e for e in entries), entries
    for t in titles(fig):
        assert not _BITMASK.search(t), f"a bitmask in the title: {t!r}"
    panels = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert panels and all(("taken" in t or "opened" in t or "checkpoint" in t
                           or "nothing to collect" in t) for t in panels), panels
