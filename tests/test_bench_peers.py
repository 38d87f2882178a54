"""benchmarks/peers.py runs end to end in its smoke mode (the smallest grid case, one call
each, a 20-MDP batch). Structure and accuracy only: no timing is ever asserted here."""

import os
import subprocess
import sys

import pytest

pytest.importorskip("quantecon")
pytest.importorskip("mdptoolbox")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_peers_smoke():
    out = subprocess.run([sys.executable, os.path.join(ROOT, "benchmarks", "peers.py"), "--smoke"],
                         capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout
    assert text.startswith("## Peers: QuantEcon and pymdptoolbox")
    assert "Geometric mean over the 1 dense grid cases" in text
    assert "Batch ratios" in text
    # the grid row (case, load "a→b", V* certificate, then the contenders)
    row = next(line for line in text.splitlines()
               if line.startswith("| S=100 A=4 γ=0.9 |") and "→" in line)
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert float(cells[2]) <= 1e-8, row  # the reference's certified error bound
    # mesabase auto, vi, pi, lp: accurate (no failure mark), each with its error after "·"
    for c in cells[3:7]:
        assert not c.startswith("✗") and "·" in c, row
        assert float(c.split("·")[1]) <= 1e-8, row
