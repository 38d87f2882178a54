"""A symbolic proof: the statement, its assumptions, the steps, and whether it holds.

Each proof module in :mod:`mesabase.proofs` has one function returning a :class:`Proof`. The
function *establishes* the statement in sympy (simplification to zero, solving the
Lagrangian, evaluating limits — whatever is honest for that statement) and records each
step as (text, sympy expression). ``about`` names the ``theory``/``sims`` function whose
behaviour the proof is about; a test checks that function numerically against the result.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

__all__ = ["Proof", "Step"]


@dataclass(frozen=True)
class Step:
    """One step: what is done, in words, and the sympy object it produces (or None)."""

    text: str
    expr: object = None


@dataclass(frozen=True)
class Proof:
    """A statement established symbolically.

    Attributes:
      name: short identifier (the CLI's ``mesabase prove NAME``).
      title: one line.
      statement: the claim, a sympy relation/expression (rendered) or text.
      assumptions: the hypotheses, in words.
      steps: the derivation, as :class:`Step` objects.
      holds: True when every step checked out (e.g. a difference simplified to 0).
      about: dotted name of the function the statement is about (e.g.
        ``"mesabase.sims.agents.policies.TabularSoftmax.grad_log_prob"``).
      references: citations.
    """

    name: str
    title: str
    statement: object
    assumptions: tuple[str, ...]
    steps: tuple[Step, ...]
    holds: bool
    about: str
    references: tuple[str, ...] = field(default_factory=tuple)

    def _tex(self, x) -> str:
        return x if isinstance(x, str) else sp.latex(x, order="none")

    def to_markdown(self) -> str:
        """Markdown with inline LaTeX ($…$), for a blog post."""
        lines = [f"### {self.title}", "", f"**Statement.** ${self._tex(self.statement)}$", ""]
        if self.assumptions:
            lines += ["**Assumptions.**", ""] + [f"- {a}" for a in self.assumptions] + [""]
        lines += ["**Proof.**", ""]
        for i, st in enumerate(self.steps, 1):
            math = "" if st.expr is None else f" $${self._tex(st.expr)}$$"
            lines.append(f"{i}. {st.text}{math}")
        lines += ["", f"**Holds:** {'yes' if self.holds else 'NO'} — about `{self.about}`."]
        if self.references:
            lines += ["", "References: " + "; ".join(self.references)]
        return "\n".join(lines) + "\n"

    def to_latex(self) -> str:
        """A LaTeX fragment (a ``proposition`` and a ``proof`` environment)."""
        out = [f"\\begin{{proposition}}[{self.title}]", f"$${self._tex(self.statement)}$$"]
        if self.assumptions:
            out.append("Assumptions: " + "; ".join(self.assumptions) + ".")
        out += ["\\end{proposition}", "\\begin{proof}", "\\begin{enumerate}"]
        for st in self.steps:
            math = "" if st.expr is None else f" \\[{self._tex(st.expr)}\\]"
            out.append(f"\\item {st.text}{math}")
        out += ["\\end{enumerate}", "\\end{proof}"]
        return "\n".join(out) + "\n"
