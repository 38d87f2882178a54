"""The ``mesabase`` command: --help, --version and the demo."""

import io
import subprocess
import sys

from mesabase.sims import cli


def test_version(capsys):
    try:
        cli.main(["--version"])
    except SystemExit as e:
        assert e.code == 0
    out = capsys.readouterr().out
    assert out.startswith("mesabase ") and out.strip() != "mesabase"


def test_help_lists_demo(capsys):
    try:
        cli.main(["--help"])
    except SystemExit as e:
        assert e.code == 0
    assert "demo" in capsys.readouterr().out


def test_demo_agrees_and_reports_exact_values():
    buf = io.StringIO()
    assert cli.demo(out=buf, quick=True) == 0
    text = buf.getvalue()
    assert "1000000/40951" in text          # 10 / (1 - 0.9^5) as an exact fraction
    assert "11/24" in text                  # the secretary problem, n = 4
    assert "OK" in text and "FAILED" not in text
    for method in ("auto", "vi", "pi", "lp", "cvxpy", "exact"):
        assert method in text


def test_console_script_runs():
    """The installed entry point works as a module too (python -m)."""
    r = subprocess.run([sys.executable, "-m", "mesabase.sims.cli", "--version"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0 and "mesabase" in r.stdout
