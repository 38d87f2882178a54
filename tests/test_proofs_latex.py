"""LaTeX that compiles: ``Proof.to_latex`` escapes the prose and sets its Unicode mathematics
in math mode, and ``mesabase prove --format latex --standalone`` writes a document that a
real TeX engine (pdflatex) compiles without errors.

The compile tests need ``pdflatex`` (Debian's ``texlive-latex-base``/``texlive-latex-extra``,
which ``.ci/run`` installs when absent and ``apt-get`` is usable); without it they are
skipped, saying so.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesabase.proofs import (
    LATEX_CHARACTERS,
    PROOFS,
    commands,
    latex_document,
    latex_math,
    latex_text,
)
from mesabase.sims.cli import app as cli

PDFLATEX = shutil.which("pdflatex")
needs_tex = pytest.mark.skipif(
    PDFLATEX is None,
    reason="no TeX engine: pdflatex is not on PATH (install Debian's texlive-latex-base and "
           "texlive-latex-extra; .ci/run does when apt-get is available)")

#: Every character the tables set, plus accented Latin letters and the whole printable ASCII.
ALPHABET = ("".join(sorted(LATEX_CHARACTERS)) + "éèêëñüçåİ"
            + "".join(map(chr, range(32, 127))))

#: A text-mode token of the escaped prose: a command (``\theta``, ``\ss{}``), an accent on
#: a letter (``\'{e}``, ``\"{\i}``), an escaped special (``\_``, ``\^{}``), or a plain
#: character that is not special.
_TEXT_TOKEN = re.compile(r"""\\[A-Za-z]+\{\\?[A-Za-z]\}|\\['`^"~=.]\{\\?[A-Za-z]\}"""
                         r"""|\\[A-Za-z]+(?:\{\})?|\\[{}_#$%&]|\\\^\{\}|\\~\{\}"""
                         r"""|[^\\{}_^#$%&~]""")


def _split_math(tex: str) -> tuple[list[str], list[str]]:
    """(text segments, math segments) of LaTeX whose math is delimited by unescaped ``$``."""
    segments, cur, i = [[], []], "", 0
    mode = 0
    while i < len(tex):
        if tex[i] == "\\" and i + 1 < len(tex):
            cur += tex[i:i + 2]
            i += 2
            continue
        if tex[i] == "$":
            segments[mode].append(cur)
            cur, mode = "", 1 - mode
        else:
            cur += tex[i]
        i += 1
    assert mode == 0, f"unbalanced $ in {tex!r}"
    segments[0].append(cur)
    return segments[0], segments[1]


def _braces_balance(math: str) -> bool:
    depth = 0
    for tok in re.findall(r"\\.|[{}]", math):
        depth += (tok == "{") - (tok == "}")
        if depth < 0:
            return False
    return depth == 0


def check_prose(tex: str) -> None:
    """Fail unless ``tex`` is ASCII, every ``$`` is paired, no TeX special stands unescaped
    outside math, and braces balance inside every math span."""
    assert tex.isascii(), f"non-ASCII in {tex!r}"
    text, math = _split_math(tex)
    for seg in text:
        pos = 0
        for m in _TEXT_TOKEN.finditer(seg):
            assert m.start() == pos, f"raw special at {seg[pos:pos + 10]!r} in {tex!r}"
            pos = m.end()
        assert pos == len(seg), f"raw special at {seg[pos:pos + 10]!r} in {tex!r}"
    for seg in math:
        assert _braces_balance(seg), f"unbalanced braces in math {seg!r}"
        assert not re.search(r"(?<!\\)[#%&~]", seg.replace("\\\\", "")), seg


def compile_latex(tmp_path, source: str) -> str:
    """Run pdflatex on ``source``; fail unless it exits 0 with a PDF and a clean log."""
    (tmp_path / "doc.tex").write_text(source, encoding="ascii")
    run = subprocess.run([PDFLATEX, "-interaction=nonstopmode", "-halt-on-error",
                          "-no-shell-escape", "doc.tex"], cwd=tmp_path, capture_output=True,
                         text=True, errors="replace", timeout=300, check=False)
    log = (tmp_path / "doc.log").read_text(encoding="latin-1")
    assert run.returncode == 0, log[-3000:]
    assert (tmp_path / "doc.pdf").stat().st_size > 0
    for bad in ("Undefined control sequence", "Missing character", "invalid in math mode"):
        assert bad not in log, log[-3000:]
    return log


@pytest.fixture(scope="module")
def fragments() -> dict[str, str]:
    return {name: fn().to_latex() for name, fn in PROOFS.items()}


# ---- the proofs' LaTeX --------------------------------------------------------------------
def test_every_proof_line_is_escaped(fragments):
    """No line of any proof's LaTeX has a raw ``_``, ``^``, Greek or other non-ASCII
    character outside math (there were 56 such lines of 123, 38 with a raw ``_``)."""
    for name, tex in fragments.items():
        for line in tex.splitlines():
            prose = re.sub(r"\\\[.*\\\]$", "", line)  # the display formula ends the line
            if prose.startswith("\\begin{proposition}["):
                prose = prose[len("\\begin{proposition}["):-1].strip("{}")
            elif prose.startswith(("\\item ", "\\begin{", "\\end{")):
                prose = prose.split(" ", 1)[1] if " " in prose else ""
            check_prose(prose)
        assert tex.isascii(), name


def test_prose_maths_is_set_in_math_mode(fragments):
    tex = fragments["softmax_score"]
    assert r"$\pi_{a} = e^{\theta_{a}} / \sum_{k=0}^{K-1} e^{\theta_{k}}$" in tex
    assert r"$\theta \in \mathbb{R}^{K}$" in tex
    assert r"Differentiate with respect to $\theta_{b}$;" in tex
    assert r"$\pi_{a*} \to 1$" in fragments["pg_rate"]


@needs_tex
def test_all_proofs_compile_with_pdflatex(fragments, tmp_path):
    log = compile_latex(tmp_path, latex_document(list(fragments.values()), title="all"))
    assert "Output written on doc.pdf" in log


@needs_tex
def test_cli_standalone_file_compiles(tmp_path, capsys):
    assert cli.main(["prove", "dichotomy", "--format", "latex", "--standalone",
                     "--out", str(tmp_path)]) == 0
    source = (tmp_path / "dichotomy.tex").read_text(encoding="utf-8")
    assert source.startswith("\\documentclass{article}")
    assert source.rstrip().endswith("\\end{document}")
    assert "dichotomy.tex: holds" in capsys.readouterr().out
    compile_latex(tmp_path, source)


def test_standalone_printed_is_one_document():
    buf = io.StringIO()
    assert commands.prove("telescoping", "latex", out=buf, standalone=True) == 0
    text = buf.getvalue()
    assert text.count("\\documentclass") == 1 and text.count("\\end{document}") == 1
    assert "\\begin{proposition}" in text and text.isascii()


def test_standalone_needs_latex(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["prove", "telescoping", "--standalone"])
    assert e.value.code == 2
    assert "--standalone needs --format latex" in capsys.readouterr().err
    with pytest.raises(ValueError, match="LaTeX only"):
        commands.prove("telescoping", "md", out=io.StringIO(), standalone=True)
    with pytest.raises(ValueError, match="fmt must be"):
        commands.prove("telescoping", "pdf", out=io.StringIO())


# ---- the escaping ------------------------------------------------------------------------
@needs_tex
def test_random_prose_compiles(tmp_path):
    """300 strings drawn (seeded) from every character the tables know plus printable
    ASCII, escaped and compiled in one document; and 100 Unicode formulas through
    ``latex_math``."""
    rng = np.random.default_rng(20240518)
    chars = np.array(list(ALPHABET))
    prose = ["".join(rng.choice(chars, size=rng.integers(1, 40))) for _ in range(300)]
    math_chars = np.array(list("xyab01+=() ") + sorted(LATEX_CHARACTERS))
    formulas = ["".join(rng.choice(math_chars, size=rng.integers(1, 20))) for _ in range(100)]
    body = ["\\begin{itemize}"] + [f"\\item {{}}{latex_text(s)}" for s in prose]
    body += ["\\end{itemize}"] + [f"\\[{latex_math(f)}\\]" for f in formulas]
    compile_latex(tmp_path, latex_document(["\n".join(body)]))


@given(st.text(alphabet=ALPHABET, max_size=60))
def test_escaped_prose_has_no_raw_specials(s):
    check_prose(latex_text(s))


@given(st.lists(st.text(alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                                 ",.;:!?()'", min_size=1, max_size=8), max_size=10))
def test_plain_prose_is_unchanged(words):
    s = " ".join(words)
    assert latex_text(s) == s


@given(st.text(alphabet="".join(map(chr, range(32, 127))), max_size=60))
def test_latex_math_leaves_ascii_alone(s):
    assert latex_math(s) == s


@pytest.mark.parametrize("text, tex", [
    ("θ ∈ ℝ^K", r"$\theta \in \mathbb{R}^{K}$"),
    ("δ_bk e^{θ_k}", r"$\delta_{bk} e^{\theta_{k}}$"),
    ("(I − γP_π)⁻¹ r", r"$(I - \gamma P_{\pi})^{-1} r$"),
    ("θ̇ = η∇J", r"$\dot{\theta} = \eta\nabla J$"),
    ("V^πᵀ", r"$V^{\pi}{}^{\top}$"),  # no double superscript
    ("grad_log_prob at 50% & $5 #1 ~x \\ {a}",
     r"grad\_log\_prob at 50\% \& \$5 \#1 \~{}x \textbackslash{} \{a\}"),
    ("café naïve — done", r"caf\'{e} na\"{\i}ve --- done"),
    ("μ0 a distribution", r"$\mu0$ a distribution"),
])
def test_examples(text, tex):
    assert latex_text(text) == tex


def test_latex_math_converts_unicode_only():
    assert latex_math(r"\frac{θx}{2}ᵀ⁻¹ θ̇") == r"\frac{\theta x}{2}^{\top-1} \dot{\theta}"


@pytest.mark.parametrize("bad", ["日本", "a\x07b", "\u200d"])
def test_unknown_characters_are_named(bad):
    with pytest.raises(ValueError, match="U\\+"):
        latex_text(bad)
    if bad.isprintable() and "\x07" not in bad:
        with pytest.raises(ValueError, match="U\\+"):
            latex_math(bad)
