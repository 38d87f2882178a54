"""Claims checked by hypothesis (mesabase.proofs.claims) and ``mesabase claims``."""

import io

import numpy as np
import pytest
from hypothesis import strategies as st

from mesabase.proofs import commands
from mesabase.proofs.claims import REGISTRY, Claim, Finding, check, run_registry
from mesabase.sims.cli import app as cli


@pytest.mark.parametrize("claim", REGISTRY, ids=[c.name for c in REGISTRY])
def test_registry_finding_matches_expectation(claim):
    f = check(claim, max_examples=60)      # the CLI default (false ones: test_claims_refute)
    assert f.holds == claim.expected, str(f)
    assert (f.counterexample is None) == f.holds
    assert claim.why


def test_user_claim_in_three_lines_false_is_shrunk():
    claim = Claim("every list of small ints sums below 10",
                  st.lists(st.integers(0, 20)), lambda xs: sum(xs) < 10)
    f = check(claim, max_examples=100, seed=3)
    assert isinstance(f, Finding) and not f.holds and f.seed == 3
    assert f.counterexample == [10]          # shrunk: exact, no tolerance
    assert f.examples >= 1
    assert "seed=3" in str(f)


def test_user_claim_true_and_reproducible():
    claim = Claim("a square is non-negative", st.integers(-50, 50), lambda n: n * n >= 0)
    f1, f2 = check(claim, max_examples=30, seed=7), check(claim, max_examples=30, seed=7)
    assert f1.holds and f1.counterexample is None
    assert f1 == f2                          # same seed, same finding (exact)


def test_false_registry_counterexample_refutes():
    claim = next(c for c in REGISTRY if c.name == "surrogate optimum = CE optimum")
    f = check(claim, max_examples=40)
    assert not claim.check(f.counterexample)   # the returned case really refutes it


def test_errors_in_check_propagate_and_bad_args():
    def boom(x):
        raise ZeroDivisionError("bad check")

    with pytest.raises(ZeroDivisionError):
        check(Claim("raises", st.integers(), boom), max_examples=5)
    with pytest.raises(ValueError, match="max_examples"):
        check(Claim("x", st.integers(), bool), max_examples=0)
    with pytest.raises(TypeError, match="SearchStrategy"):
        Claim("x", [1, 2], bool)


def test_run_registry_table():
    table = run_registry(max_examples=10, claims=REGISTRY[:2] + REGISTRY[-1:])
    assert list(table.columns[:5]) == ["claim", "expected", "found", "counterexample",
                                       "agrees"]
    assert len(table) == 3
    assert np.array_equal(table["agrees"], table["expected"] == table["found"])


def test_cli_claims_exits_zero(capsys):
    assert cli.main(["claims", "--max-examples", "60"]) == 0
    out = capsys.readouterr().out
    assert "every finding agrees" in out
    for c in REGISTRY:
        assert c.name in out


def test_cli_claims_nonzero_on_disagreement(monkeypatch):
    wrong = Claim("1 + 1 = 3", st.just(1), lambda x: x + x == 3, expected=True, why="no",
                  name="wrong")
    monkeypatch.setattr("mesabase.proofs.claims.REGISTRY", (wrong,))
    buf = io.StringIO()
    assert commands.claims(max_examples=5, out=buf) == 1
    assert "1 DISAGREE: wrong" in buf.getvalue()
