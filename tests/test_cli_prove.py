"""``mesabase prove``: print one or all proofs, or write one file per proof."""

import io

import pytest

from mesabase.proofs import PROOFS, commands
from mesabase.sims.cli import app as cli


def test_prove_one_as_markdown():
    buf = io.StringIO()
    assert commands.prove("telescoping", "md", out=buf) == 0
    text = buf.getvalue()
    assert text.startswith("### ") and "**Holds:** yes" in text


def test_prove_all_to_files_as_latex(tmp_path):
    buf = io.StringIO()
    assert commands.prove(None, "latex", tmp_path, out=buf) == 0
    for name in PROOFS:
        tex = (tmp_path / f"{name}.tex").read_text(encoding="utf-8")
        assert "\\begin{proposition}" in tex and "\\end{proof}" in tex
    assert buf.getvalue().count(": holds") == len(PROOFS)


def test_prove_rejects_unknown_names(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["prove", "fermat"])
    assert e.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
