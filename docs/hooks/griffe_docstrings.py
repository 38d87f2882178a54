"""griffe extension: read mesabase's reST-flavoured Google docstrings as Markdown.

The docstrings use Google sections (``Args:``, ``Returns:``, ``Raises:``) with Sphinx roles
in the text. Before mkdocstrings parses a docstring, this extension rewrites four things
(and nothing else; the source files are not touched):

* a role, ``:func:`~.belief.train_belief_policy``` (also ``:class:``, ``:data:``,
  ``:mod:``, ``:meth:``, ``:attr:``, ``:exc:``, ``:obj:``), becomes inline code of its
  target; with ``~`` only the last component is kept, as Sphinx shows it. A target broken
  over two lines is joined;
* a section line ``Example:`` becomes ``Examples:``, so its ``>>>`` lines are shown as code
  (griffe knows the plural only);
* a paragraph ending in reST's literal-block marker ``::`` ends in ``:`` (the indented block
  after it is already code in Markdown);
* in prose (a line indented less than 4 spaces, outside backquotes), ``](`` becomes ``]\\(``,
  so maths such as ``π_θ[n](a_n|s_n)`` is not read as a Markdown link.
"""

from __future__ import annotations

import re

import griffe

ROLE = re.compile(r":(?:py:)?(?:func|class|data|mod|meth|attr|exc|obj|const):`([^`]+)`")
EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)
LITERAL = re.compile(r"(\S)::[ \t]*$", re.MULTILINE)
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")


def _role(match: re.Match) -> str:
    target = re.sub(r"\s+", "", match.group(1))
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target}`"


def _no_links(line: str) -> str:
    if len(line) - len(line.lstrip(" ")) >= 4 or "](" not in line:
        return line
    out, end = [], 0
    for m in CODE_SPAN.finditer(line):
        out += [line[end:m.start()].replace("](", "]\\("), m.group(0)]
        end = m.end()
    return "".join(out) + line[end:].replace("](", "]\\(")


def to_markdown(text: str) -> str:
    """The docstring ``text`` rewritten as the module docstring says."""
    text = ROLE.sub(_role, text)
    text = EXAMPLE.sub(r"\1Examples:", text)
    text = LITERAL.sub(r"\1:", text)
    return "\n".join(_no_links(line) for line in text.split("\n"))


class MarkdownDocstrings(griffe.Extension):
    """Rewrite every loaded object's docstring with :func:`to_markdown`."""

    def on_object(self, *, obj: griffe.Object, **kwargs) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
