"""MkDocs hook: the gallery, one page per ``examples/<name>.py``, made at build time.

Each example is a script in jupytext's percent format: ``# %% [markdown]`` cells (every line
a ``#`` comment) and ``# %%`` code cells, after an optional ``# ---`` header. Its page is its
markdown cells as Markdown and its code cells as Python code blocks, in order, with the figure
the example writes, ``docs/gallery/<name>.png`` (``python examples/run_all.py --out
docs/gallery``), shown after the first markdown cell. ``gallery/index.md`` shows every example
as a card: thumbnail, title (the first ``# `` heading) and first paragraph. The nav entry
``Gallery: gallery/index.md`` becomes a section holding the index and the pages.

A missing figure is a warning naming the example and the command that makes the figure, so
``mkdocs build --strict`` fails. Scripts whose names start with ``_`` and the driver
``run_all.py`` are not examples. Nothing is written to ``docs/``: the pages exist only in the
build.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from mkdocs.structure.files import File

log = logging.getLogger("mkdocs.hooks.gallery")

EXAMPLES = "examples"  # beside mkdocs.yml
GALLERY = "gallery"  # inside docs_dir: the figures, and the generated pages' folder
NOT_EXAMPLES = {"run_all"}
CELL = re.compile(r"^# %%(?P<rest>.*)$")
MARKDOWN = re.compile(r"\[(markdown|md)\]")


def example_scripts(root: Path) -> list[Path]:
    """The examples, sorted by name."""
    return sorted(p for p in (root / EXAMPLES).glob("*.py")
                  if not p.name.startswith("_") and p.stem not in NOT_EXAMPLES)


def cells(text: str) -> list[tuple[str, str]]:
    """(kind, source) pairs, kind "markdown" or "code", in order; empty cells dropped."""
    lines = text.splitlines()
    if lines and lines[0].strip() == "# ---":  # jupytext's YAML header, as comments
        end = next((i for i, line in enumerate(lines[1:], 1) if line.strip() == "# ---"), 0)
        lines = lines[end + 1:]
    out, kind, body = [], "code", []

    def flush():
        source = "\n".join(body).strip("\n")
        if source.strip():
            out.append((kind, source))

    for line in lines:
        m = CELL.match(line)
        if m:
            flush()
            kind, body = ("markdown" if MARKDOWN.search(m["rest"]) else "code"), []
        elif kind == "markdown":
            body.append(re.sub(r"^# ?", "", line) if line.startswith("#") else line)
        else:
            body.append(line)
    flush()
    return out


def title_and_summary(markdown: str, fallback: str) -> tuple[str, str]:
    """The first ``# `` heading of a markdown cell, and the paragraph after it."""
    m = re.search(r"^# (.+)$", markdown, re.MULTILINE)
    title = m[1].strip() if m else fallback
    rest = markdown[m.end():] if m else markdown
    paragraphs = [p.strip() for p in re.split(r"\n\s*\n", rest) if p.strip()]
    summary = " ".join(paragraphs[0].split()) if paragraphs else ""
    if len(summary) > 300:  # cut at a sentence end
        cut = summary.rfind(". ", 0, 300)
        summary = summary[:cut + 1] if cut > 0 else summary[:300] + "…"
    return title, summary


class Example:
    """One example script: its cells, title, summary and whether its figure exists."""

    def __init__(self, script: Path, docs_dir: Path):
        self.name = script.stem
        self.cells = cells(script.read_text(encoding="utf-8"))
        first = next((src for kind, src in self.cells if kind == "markdown"), "")
        self.title, self.summary = title_and_summary(first, self.name)
        self.figure = f"{self.name}.png"
        self.has_figure = (docs_dir / GALLERY / self.figure).is_file()

    def page(self) -> str:
        """The example's page (Markdown)."""
        parts = [f"<!-- made by docs/hooks/gallery.py from {EXAMPLES}/{self.name}.py -->"]
        if not any(kind == "markdown" and re.match(r"# ", src) for kind, src in self.cells):
            parts.append(f"# {self.title}")
        figure_done = False
        for kind, src in self.cells:
            parts.append(src if kind == "markdown" else f"```python\n{src}\n```")
            if kind == "markdown" and not figure_done:
                parts.append(self.figure_block())
                figure_done = True
        if not figure_done:
            parts.insert(2, self.figure_block())
        return "\n\n".join(parts) + "\n"

    def figure_block(self) -> str:
        source = (f"Source: `{EXAMPLES}/{self.name}.py` (jupytext percent format: run it as a "
                  f"script, or open it as a notebook).")
        if self.has_figure:
            return f"![The figure {self.name}.py draws]({self.figure})\n\n{source}"
        return (f'!!! warning "No figure"\n    `docs/{GALLERY}/{self.figure}` is missing.\n\n'
                f"{source}")


def index_page(examples: list[Example]) -> str:
    """The gallery's index: a grid of cards, one per example."""
    intro = ("# Gallery\n\nWorked examples, each one script in `examples/` shown here as its "
             "text and code cells with the figure it draws. The figures are made by "
             "`python examples/run_all.py --out docs/gallery`.")
    if not examples:
        return intro + "\n\nNo examples yet.\n"
    cards = []
    for ex in examples:
        thumb = f"[![{ex.title}]({ex.figure})]({ex.name}.md)\n\n    " if ex.has_figure else ""
        cards.append(f"-   {thumb}**[{ex.title}]({ex.name}.md)**\n\n    {ex.summary}")
    grid = '<div class="grid cards" markdown>\n\n' + "\n\n".join(cards) + "\n\n</div>"
    return f"{intro}\n\n{grid}\n"


def _examples(config) -> list[Example]:
    root = Path(config.config_file_path).resolve().parent
    return [Example(p, Path(config.docs_dir)) for p in example_scripts(root)]


def on_config(config):
    """Expand the nav entry ``Gallery: gallery/index.md`` into the index and one page each."""
    index = f"{GALLERY}/index.md"
    for i, entry in enumerate(config.nav or []):
        if isinstance(entry, dict) and list(entry.values()) == [index]:
            key = next(iter(entry))
            pages = [{ex.title: f"{GALLERY}/{ex.name}.md"} for ex in _examples(config)]
            config.nav[i] = {key: [index, *pages]}
    return config


def on_files(files, config):
    """Add the generated pages; warn (failing a strict build) on a missing figure."""
    examples = _examples(config)
    generated = {f"{GALLERY}/index.md": index_page(examples)}
    for ex in examples:
        if not ex.has_figure:
            log.warning(f"gallery: {EXAMPLES}/{ex.name}.py has no figure docs/{GALLERY}/"
                        f"{ex.figure}; make it with: python examples/run_all.py --out "
                        f"docs/{GALLERY}")
        generated[f"{GALLERY}/{ex.name}.md"] = ex.page()
    for uri, content in generated.items():
        if files.get_file_from_path(uri) is not None:
            files.remove(files.get_file_from_path(uri))
        files.append(File.generated(config, uri, content=content))
    return files


def on_serve(server, config, builder):
    """``mkdocs serve`` rebuilds when an example changes."""
    server.watch(str(Path(config.config_file_path).resolve().parent / EXAMPLES))
    return server
