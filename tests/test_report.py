"""Results folders: atomic writes, tables that round-trip, and a report quoting the numbers."""

import json

import numpy as np
import pandas as pd
import pytest

from mesabase.sims.attribution import run, simulate_shift
from mesabase.sims.attribution.analysis import Attribution, attribute
from mesabase.sims.reports import report
from mesabase.sims.scenarios import get_scenario

SIZES = {"seeds": 3, "steps": 200, "record_every": 50, "learner": "reinforce",
         "environment": None}


@pytest.fixture(scope="module")
def bandit():
    sc = get_scenario("proxy-bandit")
    r, a = run(sc, seeds=3, steps=200, record_every=50)
    return sc, r, a


@pytest.fixture(scope="module")
def keys():
    """keys-and-chests, 2 seeds × 800 steps, attributed in deployment and in training."""
    sc = get_scenario("keys-and-chests")
    r, a = run(sc, seeds=2, steps=800, record_every=400)
    return sc, r, [a, attribute(r, sc, "train")]


# ---- atomic_write -------------------------------------------------------------------------
def test_atomic_write_replaces_the_file(tmp_path):
    p = tmp_path / "sub" / "summary.csv"
    report.atomic_write(p, lambda t: t.write_text("a\n"))
    report.atomic_write(p, lambda t: t.write_text("b\n"))
    assert p.read_text() == "b\n"
    assert sorted(x.name for x in p.parent.iterdir()) == ["summary.csv"]


def test_interrupted_write_keeps_the_old_file_whole(tmp_path):
    p = tmp_path / "summary.csv"
    p.write_text("old,complete\n")

    def half_then_fail(t):
        t.write_text("new,half-writ")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        report.atomic_write(p, half_then_fail)
    assert p.read_text() == "old,complete\n"
    assert [x.name for x in tmp_path.iterdir()] == ["summary.csv"]   # no temporary file


# ---- tables on disk -------------------------------------------------------------------------
def test_saved_tables_rebuild_the_same_attribution(bandit, tmp_path):
    sc, r, a = bandit
    folder = report.write_scenario(tmp_path, sc, r, [a], sizes=SIZES, seconds=0.5)
    assert folder == tmp_path / "proxy-bandit"
    (b,) = report.load_attributions(tmp_path, "proxy-bandit")
    assert isinstance(b, Attribution)
    assert b.summary() == a.summary()
    assert b.scenario_verdict == a.scenario_verdict == "outer"
    for t in ("gaps", "behaviours", "verdicts"):
        pd.testing.assert_frame_equal(getattr(b, t), getattr(a, t), check_dtype=False,
                                      rtol=0, atol=0)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["sizes"] == SIZES and meta["attributions"][0]["environment"] == "train"


def test_returns_and_simplex_tables(bandit):
    sc, r, a = bandit
    t = report.scenario_tables(sc, r, [a])
    assert set(t) == {"gaps", "behaviours", "verdicts", "returns", "simplex"}
    ret = t["returns"]
    assert len(ret) == 3 * 5 and (ret.environment == "train").all()       # seeds × records
    np.testing.assert_allclose(ret.return_optimal, 0.8, rtol=0, atol=1e-12)  # arm 2 pays 0.8
    sx = t["simplex"]
    np.testing.assert_allclose(sx[["p0", "p1", "p2"]].sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert set(sx.who) == {"learner", "shadow"}


def test_summary_row_is_the_seed_mean_at_the_final_step(bandit):
    _, _, a = bandit
    row = report.summary_row(a)
    assert list(row) == list(report.SUMMARY_COLUMNS)
    f = a.gaps[a.gaps.step == 200]
    assert (row["step"], row["n_seeds"]) == (200, 3)
    assert row["spec_gap"] == pytest.approx(0.6, abs=1e-12)   # 0.8 − 0.2, by construction
    assert row["learner_gap"] == pytest.approx(f.learner_gap.mean(), abs=1e-15)
    assert row["verdict"] == "outer"


def test_gridworld_policy_table_train_and_deploy(keys):
    sc, r, atts = keys
    pol = report.scenario_tables(sc, r, atts)["policies"]
    views = pol.groupby(["environment", "view"]).who.agg(lambda w: sorted(set(w)))
    assert views.to_dict() == {(e, v): ["learner", "shadow"] for e in ("deploy", "train")
                               for v in ("key-held", "start")}
    p = pol[[f"p_{m}" for m in ("north", "south", "east", "west")]].to_numpy()
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=0, atol=1e-9)
    # No deployment state is a training state: the history leaves every action optimal there,
    # and π*_t is uniform (module docstring of mesabase.sims.scenarios.base).
    dep = (pol.environment == "deploy") & (pol.who == "shadow")
    np.testing.assert_allclose(p[dep.to_numpy()], 0.25, rtol=0, atol=1e-12)
    held = pol[(pol.view == "key-held") & (pol.environment == "deploy")]
    assert (held["keys"] == 1 << 2).all()          # (1, 7), the key nearest the start
    assert (held["chests"] == 0).all()


def test_shift_tables_carry_the_seeds_and_steps_across_the_shift():
    sc = get_scenario("keys-and-chests-shift")
    sr = simulate_shift(sc, sc.get_learner(), sc.shift_step + 400, seeds=2, record_every=400)
    a = attribute(sr, sc)
    t = report.scenario_tables(sc, sr, [a])
    ret = t["returns"]
    assert sorted(set(ret.seed)) == [0, 1]
    dep = ret[ret.environment == "deploy"]
    assert sorted(set(dep.step)) == [sc.shift_step, sc.shift_step + 400]
    assert sorted(set(ret[ret.environment == "train"].step)) == list(range(0, 8001, 400))
    assert set(t["policies"].environment) == {"train", "deploy"}


# ---- figures, summary and report ------------------------------------------------------------
def test_update_results_writes_summary_figures_and_report(bandit, keys, tmp_path):
    sc, r, a = bandit
    report.write_scenario(tmp_path, sc, r, [a], sizes=SIZES, seconds=0.5)
    ksc, kr, katts = keys
    report.write_scenario(tmp_path, ksc, kr, katts, sizes={**SIZES, "steps": 800}, seconds=1)
    pngs = report.draw_scenario(tmp_path, "keys-and-chests", dpi=40)
    assert sorted(p.name for p in pngs) == ["gaps.png", "policies-key-held.png",
                                            "policies-start.png"]
    report.draw_scenario(tmp_path, "proxy-bandit", dpi=40)
    s = report.update_results(tmp_path, header="HEADER LINE", dpi=40)
    assert list(s.scenario) == ["keys-and-chests", "proxy-bandit"]   # registry order
    assert list(pd.read_csv(tmp_path / "summary.csv").columns) == list(report.SUMMARY_COLUMNS)
    assert (tmp_path / "behaviours.png").stat().st_size > 0
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "HEADER LINE" in text
    assert "specification gap (outer) 0.6," in text                 # the bandit's, quoted
    assert "**Verdict: outer**" in text
    assert "**In the training environment.**" in text               # keys: both sides
    assert a.summary() in text                                       # the numbers, verbatim
    assert "(proxy-bandit/simplex.png)" in text
    assert text.index("policies-start.png") < text.index("policies-key-held.png")


def _attribution(spec, hist, learn, J=1.0):
    g = pd.DataFrame({"scenario": "toy", "environment": "train", "learner": "x",
                      "seed": [0, 1], "step": 10, "spec_gap": spec, "history_gap": hist,
                      "learner_gap": learn, "total": spec + hist + learn, "J_intended": J,
                      "J_base": J - spec, "J_history": J - spec - hist,
                      "J_learner": J - spec - hist - learn, "J_history_min": J - spec - hist,
                      "J_history_max": J - spec - hist})
    empty = pd.DataFrame(columns=["behaviour", "environment", "verdict"])
    return Attribution("toy", "train", "x", g, empty, empty, (spec, spec), (J - spec, J - spec))


def test_what_diverged_names_the_largest_term():
    text = report._diverged(_attribution(0.0, 0.3, 0.1))
    assert "intended regret 0.4 (40.0% of the optimum)" in text
    assert "the largest is the history gap (outer), 0.3 (75% of the regret)" in text


def test_nothing_diverged():
    assert "Nothing diverged" in report._diverged(_attribution(0.0, 0.0, 0.0))
