"""Complete LaTeX documents of the proofs (``mesabase prove --format latex --standalone``).

:meth:`mesabase.proofs.base.Proof.to_latex` writes fragments; :func:`latex_document` puts them
in an ``article`` with the preamble they need, :data:`LATEX_PREAMBLE`, so that the result
compiles with pdflatex. Everything it uses is in Debian's ``texlive-latex-base`` (amsmath,
amsthm, inputenc) and ``texlive-base`` (amssymb), which that package depends on.
"""

from __future__ import annotations

from .base import latex_text

__all__ = ["LATEX_PREAMBLE", "latex_document"]

#: What a :meth:`~mesabase.proofs.base.Proof.to_latex` fragment needs: the AMS packages
#: (``\operatorname``, ``\mathbb``, the ``proof`` environment) and a ``proposition``.
#: ``inputenc`` is a safety net only: the fragments are pure ASCII.
LATEX_PREAMBLE = "\n".join([
    r"\documentclass{article}",
    r"\usepackage[utf8]{inputenc}",
    r"\usepackage{amsmath,amssymb,amsthm}",
    r"\newtheorem{proposition}{Proposition}",
    r"\allowdisplaybreaks",
])


def latex_document(fragments, title: str | None = None) -> str:
    """A complete LaTeX document (:data:`LATEX_PREAMBLE`, ``\\begin{document}`` …
    ``\\end{document}``) holding the LaTeX ``fragments`` (strings, e.g. from
    :meth:`~mesabase.proofs.base.Proof.to_latex`) in order, under an optional ``title``
    (prose, through :func:`~mesabase.proofs.base.latex_text`). Compiles with pdflatex."""
    if isinstance(fragments, str):  # one fragment, not its characters
        fragments = [fragments]
    body = [f"\\section*{{{latex_text(title)}}}"] if title else []
    return "\n".join([LATEX_PREAMBLE, r"\begin{document}", *body,
                      "\n".join(f.rstrip("\n") + "\n" for f in fragments),
                      r"\end{document}"]) + "\n"
