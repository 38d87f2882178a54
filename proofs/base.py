"""A symbolic proof: the statement, its assumptions, the steps, and whether it holds.

Each proof module in :mod:`mesabase.proofs` has one function returning a :class:`Proof`. The
function *establishes* the statement in sympy (simplification to zero, solving the
Lagrangian, evaluating limits — whatever is honest for that statement) and records each
step as (text, sympy expression). ``about`` names the ``theory``/``sims`` function whose
behaviour the proof is about; a test checks that function numerically against the result.

:meth:`Proof.to_latex` writes LaTeX that compiles with pdflatex: the prose goes through
:func:`latex_text` (TeX specials escaped, Unicode mathematics set in math mode), formulas
through :func:`latex_math`; :func:`mesabase.proofs.tex.latex_document` wraps fragments in a
complete document.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

import sympy as sp

__all__ = ["Proof", "Step", "latex_text", "latex_math", "LATEX_CHARACTERS"]

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
        """A LaTeX fragment (a ``proposition`` and a ``proof`` environment), pure ASCII: the
        title, assumptions and steps through :func:`latex_text`, the formulas through
        :func:`latex_math` in ``\\[…\\]``. It needs the packages of
        :data:`~mesabase.proofs.tex.LATEX_PREAMBLE`;
        :func:`~mesabase.proofs.tex.latex_document` makes a complete document of it."""
        title = latex_text(self.title)
        if "]" in title:
            title = f"{{{title}}}"
        out = [f"\\begin{{proposition}}[{title}]", f"\\[{latex_math(self._tex(self.statement))}\\]"]
        if self.assumptions:
            out.append("Assumptions: " + "; ".join(map(latex_text, self.assumptions)) + ".")
        out += ["\\end{proposition}", "\\begin{proof}", "\\begin{enumerate}"]
        for st in self.steps:
            text = latex_text(st.text)
            math = "" if st.expr is None else f" \\[{latex_math(self._tex(st.expr))}\\]"
            out.append(f"\\item {'{}' if text.startswith('[') else ''}{text}{math}")
        out += ["\\end{enumerate}", "\\end{proof}"]
        return "\n".join(out) + "\n"


# ---- LaTeX: prose escaped, Unicode mathematics set in math mode ---------------------------
#: Unicode letters and symbols -> their LaTeX math-mode commands (amsmath/amssymb). Σ is set
#: as the summation sign ``\sum``: the proofs' prose uses it for sums, never for a matrix.
_MATH_CHARS = {
    **{chr(0x3B1 + i): n if n == "o" else "\\" + n for i, n in enumerate(
        "alpha beta gamma delta varepsilon zeta eta theta iota kappa lambda mu nu xi o "
        "pi rho varsigma sigma tau upsilon varphi chi psi omega".split())},  # omicron is o
    **{"Γ": r"\Gamma", "Δ": r"\Delta", "Θ": r"\Theta", "Λ": r"\Lambda", "Ξ": r"\Xi",
       "Π": r"\Pi", "Σ": r"\sum", "Υ": r"\Upsilon", "Φ": r"\Phi", "Ψ": r"\Psi",
       "Ω": r"\Omega", "ϵ": r"\epsilon", "ϑ": r"\vartheta", "ϕ": r"\phi", "µ": r"\mu",
       "ℓ": r"\ell", "ℝ": r"\mathbb{R}", "ℕ": r"\mathbb{N}", "ℤ": r"\mathbb{Z}",
       "ℚ": r"\mathbb{Q}", "ℂ": r"\mathbb{C}", "𝔼": r"\mathbb{E}", "∑": r"\sum",
       "∏": r"\prod", "∫": r"\int", "∂": r"\partial", "∇": r"\nabla", "∞": r"\infty",
       "−": "-", "±": r"\pm", "∓": r"\mp", "×": r"\times", "·": r"\cdot", "⋅": r"\cdot",
       "÷": r"\div", "∘": r"\circ", "⊗": r"\otimes", "⊕": r"\oplus", "≤": r"\leq",
       "≥": r"\geq", "≠": r"\neq", "≈": r"\approx", "≡": r"\equiv", "∼": r"\sim",
       "≃": r"\simeq", "≅": r"\cong", "∝": r"\propto", "≪": r"\ll", "≫": r"\gg",
       "∈": r"\in", "∉": r"\notin", "∋": r"\ni", "⊂": r"\subset", "⊆": r"\subseteq",
       "⊃": r"\supset", "⊇": r"\supseteq", "∩": r"\cap", "∪": r"\cup", "∖": r"\setminus",
       "∅": r"\emptyset", "∀": r"\forall", "∃": r"\exists", "¬": r"\neg", "∧": r"\wedge",
       "∨": r"\vee", "→": r"\to", "←": r"\leftarrow", "↦": r"\mapsto", "⇒": r"\Rightarrow",
       "⟹": r"\Longrightarrow", "⇔": r"\Leftrightarrow", "⟺": r"\Longleftrightarrow",
       "↑": r"\uparrow", "↓": r"\downarrow", "‖": r"\|", "∣": r"\mid", "⊤": r"\top",
       "⊥": r"\perp", "⟨": r"\langle", "⟩": r"\rangle", "⌈": r"\lceil", "⌉": r"\rceil",
       "⌊": r"\lfloor", "⌋": r"\rfloor", "√": r"\surd", "…": r"\ldots", "⋯": r"\cdots",
       "′": "'", "″": "''", "∗": "*"}}
#: Unicode super- and subscripts -> the content of ``^{…}`` / ``_{…}``.
_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁱⁿᵀ°", [*"0123456789+-=()in", r"\top", r"\circ"],
                        strict=True))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₒₓₕₖₗₘₙₚₛₜᵢⱼ", "0123456789+-=()aeoxhklmnpstij",
                       strict=True))
#: Combining marks -> the math accent / the text accent on the letter before them.
_MATH_ACCENTS = {"\u0307": r"\dot", "\u0308": r"\ddot", "\u0302": r"\hat", "\u0303": r"\tilde",
                 "\u0304": r"\bar", "\u0301": r"\acute", "\u0300": r"\grave",
                 "\u0306": r"\breve", "\u030C": r"\check", "\u030A": r"\mathring",
                 "\u20D7": r"\vec"}
_TEXT_ACCENTS = {"\u0307": "\\.", "\u0308": '\\"', "\u0302": "\\^", "\u0303": "\\~",
                 "\u0304": "\\=", "\u0301": "\\'", "\u0300": "\\`", "\u0306": "\\u",
                 "\u030C": "\\v", "\u030A": "\\r", "\u0327": "\\c"}
#: Characters with a text-mode form only (in math they are wrapped in ``\mbox``).
_TEXT_CHARS = {"—": "---", "–": "--", "‘": "`", "’": "'", "“": "``", "”": "''",
               "\u00a0": "~", "ß": r"\ss{}", "æ": r"\ae{}", "Æ": r"\AE{}", "ø": r"\o{}",
               "Ø": r"\O{}", "œ": r"\oe{}", "Œ": r"\OE{}", "ł": r"\l{}", "Ł": r"\L{}",
               "§": r"\S{}", "¶": r"\P{}", "†": r"\dag{}", "‡": r"\ddag{}"}
_TEXT_ESCAPES = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "^": r"\^{}",
                 "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&", "~": r"\~{}",
                 "<": "$<$", ">": "$>$", "|": "$|$"}
_MATH_ESCAPES = {"\\": r"\backslash", "#": r"\#", "$": r"\$", "%": r"\%", "&": r"\&",
                 "~": r"\sim", "{": r"\{", "}": r"\}"}
_FUNCTIONS = {"log", "ln", "exp", "max", "min", "sup", "inf", "lim", "det", "dim", "ker",
              "sin", "cos", "tan", "arg", "deg", "gcd", "Pr"}
_NEUTRAL = re.compile(r"[(\[{]?(?:[A-Za-z]|\d+(?:\.\d+)?)(?:/(?:[A-Za-z]|\d+))?[*']*[)\]}]?")
_IDENT = re.compile(r"[A-Za-z0-9_.]*_[A-Za-z0-9_.]*")
_MATH_WORD_CHARS = set(_MATH_CHARS) | set(_SUPERSCRIPTS) | set(_SUBSCRIPTS) | set(_MATH_ACCENTS)
#: Every non-ASCII character :func:`latex_text` and :func:`latex_math` can set; so are
#: letters that decompose to these (``έ``) or to an ASCII letter and text accents (``é``).
LATEX_CHARACTERS = frozenset(_MATH_WORD_CHARS | set(_TEXT_CHARS))


def _join(parts) -> str:
    """Concatenate LaTeX pieces, with a space where a control word meets a letter."""
    out = ""
    for a in parts:
        if a[:1].isalpha() and re.search(r"\\[A-Za-z]+$", out):
            out += " "
        out += a
    return out


def _unknown(c: str) -> ValueError:
    return ValueError(f"cannot set {c!r} (U+{ord(c):04X}) in LaTeX: it is in none of "
                      f"mesabase.proofs.base's character tables")


def _accented(c: str) -> tuple[str, str] | None:
    """(ASCII letter, its combining marks) when ``c`` decomposes to a letter and marks that
    all have a text accent (``é``, ``ǜ``), else None."""
    d = unicodedata.normalize("NFD", c)
    if (len(d) >= 2 and d[0].isascii() and d[0].isalpha()
            and all(m in _TEXT_ACCENTS for m in d[1:])):
        return d[0], d[1:]
    return None


def _prepare(text: str) -> str:
    """NFC, then a character in no table (``έ``) decomposed to its letter and marks."""
    return "".join(c if c.isascii() or c in LATEX_CHARACTERS or _accented(c)
                   else unicodedata.normalize("NFD", c)
                   for c in unicodedata.normalize("NFC", text))


def _text_char(c: str) -> str:
    if c in _TEXT_ESCAPES:
        return _TEXT_ESCAPES[c]
    if c in _TEXT_CHARS:
        return _TEXT_CHARS[c]
    if " " <= c <= "~":
        return c
    if (acc := _accented(c)) is not None:
        out = {"i": r"\i", "j": r"\j"}.get(acc[0], acc[0])  # dotless under an accent
        for mark in acc[1]:
            out = f"{_TEXT_ACCENTS[mark]}{{{out}}}"
        return out
    raise _unknown(c)  # mathematics never reaches here: its words are set in math mode


def _is_ident(word: str) -> bool:
    """A code identifier (``grad_log_prob``, ``_private``): its underscores are text."""
    if not _IDENT.fullmatch(word):
        return False
    parts = word.split("_")
    return (word.startswith("_") or word.endswith("_") or "" in parts
            or any(len(a) >= 2 and len(b) >= 2 for a, b in zip(parts, parts[1:], strict=False)))


def _word_kind(word: str) -> str:
    """'M' (mathematics), 'N' (a lone letter or number: joins adjacent mathematics) or 'T'."""
    if any(c in _MATH_WORD_CHARS or c in "<>|*" for c in word):
        return "M"
    if ("_" in word or "^" in word) and not _is_ident(word):
        return "M"
    if all(c in "=+-/" for c in word):
        return "M"
    if _NEUTRAL.fullmatch(word) or word in _FUNCTIONS or word in ("argmax", "argmin", "diag"):
        return "N"
    return "T"


class _MathWriter:
    """Converts pseudo-mathematics written in Unicode prose (``π_a = e^{θ_a}/Σ_k e^{θ_k}``,
    ``πᵀr``, ``(I − γP)⁻¹``, ``θ̇``) to LaTeX math-mode source, one span at a time, keeping
    track of the scripts on the current base so that no double super/subscript arises."""

    def __init__(self):
        self.atoms: list[str] = []
        self.used: set[str] = set()  # scripts attached to the last base ("_", "^")
        self.prime = False  # the last atom was a prime

    def _base(self, tex: str) -> None:
        self.atoms.append(tex)
        self.used, self.prime = set(), False

    def _script(self, kind: str, body: str, tex: str | None = None) -> None:
        if kind in self.used and not (kind == "^" and self.prime):
            self.atoms.append("{}")
            self.used = set()
        self.atoms.append(f"{kind}{{{body}}}" if tex is None else tex)
        self.used.add(kind)
        self.prime = False

    def space(self, text: str = " ") -> None:
        self.atoms.append(text)
        self.prime = False  # TeX merges a prime with a ``^`` only right after it

    def _accent(self, c: str) -> None:
        """Put the accent on the last letter, digit or command; else on an empty group."""
        last = self.atoms[-1] if self.atoms and not self.used else ""
        if re.fullmatch(r"\\[A-Za-z]+(?:\{.*\})?|[A-Za-z0-9]", last):
            self.atoms.pop()
        else:
            last = ""
        self._base(f"{_MATH_ACCENTS[c]}{{{last}}}")

    def _prime(self, tex: str) -> None:
        if "^" in self.used and not self.prime:
            self.atoms.append("{}")
            self.used = set()
        self.atoms.append(tex)
        self.used.add("^")
        self.prime = True

    @staticmethod
    def convert(s: str) -> str:
        """``s`` as math-mode LaTeX (a fresh writer: scripts do not carry over)."""
        w = _MathWriter()
        w.feed(s)
        return w.tex()

    def tex(self) -> str:
        return _join(self.atoms)

    def feed(self, s: str) -> None:  # noqa: C901 - one dispatch on the character class
        i, n = 0, len(s)
        while i < n:
            c = s[i]
            if c in "_^":
                j = i + 1
                if j < n and s[j] == "{":
                    depth, k = 0, j
                    while k < n:
                        depth += (s[k] == "{") - (s[k] == "}")
                        if depth == 0:
                            break
                        k += 1
                    if k < n:
                        self._script(c, self.convert(s[j + 1:k]))
                        i = k + 1
                        continue
                if j < n and s[j] in "-−+":
                    j += 1
                while j < n and (s[j].isascii() and s[j].isalnum()
                                 or s[j] in _MATH_CHARS and s[j].isalpha()
                                 or s[j] in _MATH_ACCENTS):
                    j += 1
                if j == i + 1 and j < n and not s[j].isspace():
                    j += 1  # one symbol
                if j == i + 1:
                    self._base(r"\_" if c == "_" else r"\hat{}")
                else:
                    self._script(c, self.convert(s[i + 1:j]))
                i = j
            elif c in _SUPERSCRIPTS or c in _SUBSCRIPTS:
                table, kind = (_SUPERSCRIPTS, "^") if c in _SUPERSCRIPTS else (_SUBSCRIPTS, "_")
                j = i
                while j < n and s[j] in table:
                    j += 1
                self._script(kind, _join(table[x] for x in s[i:j]))
                i = j
            elif c in _MATH_ACCENTS:
                self._accent(c)
                i += 1
            elif c.isspace():
                self.space()
                i += 1
            elif c.isascii() and c.isalpha():
                j = i
                while j < n and s[j].isascii() and s[j].isalpha():
                    j += 1
                run = s[i:j]
                if run in _FUNCTIONS:
                    self._base("\\" + run)
                elif len(run) >= 3:
                    self._base(fr"\operatorname{{{run}}}" if run in ("argmax", "argmin")
                               else fr"\mathrm{{{run}}}")
                else:
                    for x in run:
                        self._base(x)
                i = j
            elif c in "'′″":
                self._prime(_MATH_CHARS.get(c, c))
                i += 1
            else:
                self._base(self.char(c))
                i += 1

    @staticmethod
    def char(c: str) -> str:
        if c in _MATH_ESCAPES:
            return _MATH_ESCAPES[c]
        if c in _MATH_CHARS:
            return _MATH_CHARS[c]
        if c.isspace():
            return " "
        if " " <= c <= "~":
            return c
        if c in _TEXT_CHARS or _accented(c) is not None:
            return fr"\mbox{{{_text_char(c)}}}"
        raise _unknown(c)


def latex_text(text: str) -> str:
    """Prose as LaTeX source: pure ASCII, every TeX special escaped, and the mathematics
    written in Unicode (``θ ∈ ℝ^K``, ``π_a = c_a / Σ c``, ``∇ log π``) set in math mode.

    The prose is split into whitespace-separated words. A word is mathematics when it holds
    ``_`` or ``^`` (unless it is a code identifier such as ``grad_log_prob``), a Greek letter,
    a mathematical symbol (the table ``_MATH_CHARS``), a Unicode super/subscript, ``*``,
    ``<``, ``>`` or ``|``, or is made of ``= + - /`` only; a lone letter or number, and
    ``log``, ``max``, ``argmax``… , join the mathematics next to them. Each maximal run of
    such words (broken by text words and by a trailing ``, ; : . ! ?``) becomes one
    ``$…$``, its Unicode converted to commands (``θ`` → ``\\theta``, ``≤`` → ``\\leq``,
    ``Σ`` → ``\\sum``, ``ᵀ`` → ``^{\\top}``, ``⁻¹`` → ``^{-1}``, ``θ̇`` → ``\\dot{\\theta}``,
    ``_bk`` → ``_{bk}``; letter runs of three or more are upright). Everything else is text:
    ``\\ { } _ ^ # $ % & ~`` escaped, accented Latin letters as ``\\'{e}``, dashes and
    quotes as TeX ligatures. Runs of whitespace become one space. A character in none of
    the tables raises :class:`ValueError` naming it.
    """
    if not isinstance(text, str):
        raise ValueError(f"latex_text takes a str; got {type(text).__name__}")
    text = _prepare(text)
    for c in text:
        if unicodedata.category(c) == "Cc" and not c.isspace():
            raise ValueError(f"cannot set the control character U+{ord(c):04X} in LaTeX")
    pieces: list[tuple[str, str]] = []  # (kind, source): kinds M, N, T, punct " " and ","
    for word in text.split():
        if pieces:
            pieces.append((" ", " "))
        core = word.rstrip(",;:.!?") or word
        pieces.append((_word_kind(core), core))
        if core != word:
            pieces.append((",", word[len(core):]))
    out, i = [], 0
    while i < len(pieces):
        kind, src = pieces[i]
        if kind in "MN":
            j, words = i, []
            while j < len(pieces) and pieces[j][0] in "MN":
                words.append(pieces[j])
                if j + 2 < len(pieces) and pieces[j + 1][0] == " " and pieces[j + 2][0] in "MN":
                    j += 2
                else:
                    j += 1
                    break
            if words[-1][1] in ("a", "A") and j + 1 < len(pieces) and pieces[j][0] == " " \
                    and pieces[j + 1][0] == "T" and len(words) > 1:
                words.pop()  # the article before a word ("μ0 a distribution"), not a symbol
                j -= 2
            if any(k == "M" for k, _ in words):
                w = _MathWriter()
                for m, (_, s) in enumerate(words):
                    if m:
                        w.space()
                    w.feed(s)
                out.append(f"${w.tex()}$")
            else:
                out.append(" ".join("".join(map(_text_char, s)) for _, s in words))
            i = j
        else:
            out.append("".join(map(_text_char, src)))
            i += 1
    return "".join(out)


def latex_math(tex: str) -> str:
    """Math-mode LaTeX (sympy's output, or a statement written in LaTeX) with any Unicode
    letters and symbols replaced by their commands (``θ`` → ``\\theta``, ``≤`` →
    ``\\leq``, a run ``⁻¹`` → ``^{-1}``, ``ᵀ`` → ``^{\\top}``); ASCII is left as it is.
    Raises :class:`ValueError` naming a character in none of the tables."""
    if not isinstance(tex, str):
        raise ValueError(f"latex_math takes a str; got {type(tex).__name__}")
    w = _MathWriter()
    # ASCII runs (kept as they are, see _flush) alternate with non-ASCII runs (fed to w).
    parts = re.split(r"([^\x00-\x7f]+)", _prepare(tex))
    for run, uni in zip(parts[::2], [*parts[1::2], ""], strict=True):
        base = re.search(r"(\\[A-Za-z]+|[A-Za-z0-9])$", run) if uni[:1] in _MATH_ACCENTS else None
        if base:  # the accent takes the last letter, digit or command
            base, run = base.group(1), run[: base.start()]
        _flush(w, run)
        if base is not None:
            w._base(base)
        w.feed(uni)
    return w.tex()


def _ends_in_script(run: str) -> bool:
    """Whether ``run`` ends in a braced group opened right after ``_`` or ``^``."""
    depth, run = 0, run.rstrip()
    for k in range(len(run) - 1, -1, -1):
        depth += (run[k] == "}") - (run[k] == "{")
        if depth == 0:
            return k > 0 and run[k - 1] in "_^" and run.endswith("}")
    return True  # unbalanced: assume the worst


_ASCII_SCRIPT = r"[_^](?:\{[^{}]*\}|\\[A-Za-z]+|[^\s{}\\])|'"


def _flush(w: _MathWriter, run: str) -> None:
    """Hand a run of ASCII LaTeX to ``w`` as it is, but with its script state: the scripts
    and primes that open it attach to what came before (a ``{}`` is put in front of one that
    would double a script), and those that end it (``x_a'``) are the state a Unicode script
    after it sees; a run ending in another ``}`` counts as having both scripts."""
    while run and (lead := re.match(rf"\s+|{_ASCII_SCRIPT}", run)):
        tok = lead.group(0)
        if tok.isspace():
            w.space(tok)
        elif tok == "'":
            w._prime(tok)
        else:
            w._script(tok[0], "", tex=tok)
        run = run[lead.end():]
    if run:
        w._base(run)
        tail = re.search(rf"(?:{_ASCII_SCRIPT})+\s*$", run)
        kinds = re.findall(r"[_^]|'", re.sub(r"\{[^{}]*\}|\\[A-Za-z]+", "", tail.group(0))
                           ) if tail else (["_", "^"] if _ends_in_script(run) else [])
        w.used = {"^" if k == "'" else k for k in kinds}
        w.prime = kinds[-1:] == ["'"] and not run[-1].isspace()
