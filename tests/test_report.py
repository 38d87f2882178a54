"""Results folders: atomic writes, tables that round-trip, and a report quoting the numbers."""

import json

import numpy as np
import pandas as pd
import pytest

from mesabase.sims.attribution import run, simulate_shift
from mesabase.sims.attribution.analysis import Attribution, attribute
from mesabase.sims.reports import conclusions, report
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
    assert row["misspecification_gap"] == pytest.approx(0.6, abs=1e-12)   # 0.8 − 0.2
    assert row["reason"] == a.verdict_reason and row["reason"].strip()
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
    # registry order; keys-and-chests: deployment (primary) and training rows
    assert list(s.scenario) == ["keys-and-chests", "keys-and-chests", "proxy-bandit"]
    assert list(s.environment) == ["deploy", "train", "train"]
    assert (tmp_path / "dichotomy.png").stat().st_size > 0
    assert list(pd.read_csv(tmp_path / "summary.csv").columns) == list(report.SUMMARY_COLUMNS)
    assert (tmp_path / "behaviours.png").stat().st_size > 0
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "HEADER LINE" in text
    assert "misspecification 0.6 " in text                          # the bandit's, quoted
    assert a.verdict_reason in text
    assert "**Verdict: outer**" in text
    assert "**In the training environment.**" in text               # keys: both sides
    assert a.summary() in text                                       # the numbers, verbatim
    assert "(proxy-bandit/simplex.png)" in text
    assert text.index("policies-start.png") < text.index("policies-key-held.png")


def _attribution(mis, data, learn, amb=0.0, J=1.0, width=0.0):
    """Two seeds of hand-typed gaps at one step, no behaviours."""
    from mesabase.sims.attribution.analysis import BEHAVIOUR_COLUMNS, VERDICT_COLUMNS

    total = mis + data + amb + learn
    M, Mt = J - mis, J - mis - data
    g = pd.DataFrame({"scenario": "toy", "environment": "train", "learner": "x",
                      "seed": [0, 1], "step": 10, "misspecification_gap": mis,
                      "data_gap": data, "ambiguity_gap": amb, "learner_gap": learn,
                      "total": total, "J_intended": J, "J_base_min": M, "J_base_max": M,
                      "J_history_min": Mt - width, "J_history_max": Mt, "J_learner": J - total})
    empty = pd.DataFrame(columns=list(VERDICT_COLUMNS))
    return Attribution(scenario="toy", environment="train", learner="x", gaps=g,
                       behaviours=pd.DataFrame(columns=list(BEHAVIOUR_COLUMNS)),
                       verdicts=empty, J_base_range=(M, M), policy_class="tabular")


def test_the_conclusion_names_the_largest_term_and_the_verdict():
    a = _attribution(0.0, 0.3, 0.1)
    text = conclusions.conclusion(a)
    assert "intended regret 0.4 (40.0% of the optimum)" in text
    assert "The largest term is the data gap (outer), 0.3, 75% of the regret." in text
    assert f"**Verdict: {a.scenario_verdict}** — {a.verdict_reason}" in text
    assert "Caveat" not in text


def test_nothing_diverged():
    text = conclusions.conclusion(_attribution(0.0, 0.0, 0.0))
    assert "Nothing diverged" in text and "**Verdict: none**" in text


def test_caveats_explain_negative_terms_and_wide_argmax_sets():
    neg = conclusions.caveats(_attribution(0.5, -0.2, -0.1))
    assert len(neg) == 2
    assert "learner gap is negative (-0.1)" in neg[0] and "every maximiser" in neg[0]
    assert "data gap is negative (-0.2)" in neg[1] and "full information" in neg[1]
    (wide,) = conclusions.caveats(_attribution(0.0, 0.5, 0.0, amb=0.3, width=0.4))
    assert "argmax set of L_t is wide" in wide and "ambiguity gap 0.3" in wide
    assert conclusions.caveats(_attribution(0.0, 0.5, 0.0, width=0.05)) == []   # 10%: narrow


def test_summary_row_quotes_the_ranges():
    row = conclusions.summary_row(_attribution(0.2, 0.3, 0.1, width=0.1))
    assert list(row) == list(conclusions.SUMMARY_COLUMNS)
    assert row["J_base_min"] == row["J_base_max"] == pytest.approx(0.8)
    assert (row["J_history_min"], row["J_history_max"]) == pytest.approx((0.4, 0.5))
    assert row["total"] == pytest.approx(0.6)


def test_a_second_learner_gets_its_own_folder_and_sits_side_by_side(tmp_path):
    sc = get_scenario("exploration-trap")
    assert report.folder_name(sc, None) == report.folder_name(sc, "full") == "exploration-trap"
    assert report.folder_name(sc, "reinforce") == "exploration-trap--reinforce"
    for learner in ("full", "reinforce"):
        r, a = run(sc, learner=learner, seeds=2, steps=300, record_every=100)
        report.write_scenario(tmp_path, sc, r, [a], sizes={**SIZES, "learner": learner},
                              seconds=0.1)
    assert report.result_folders(tmp_path) == ["exploration-trap", "exploration-trap--reinforce"]
    (b,) = report.load_attributions(tmp_path, "exploration-trap--reinforce")
    assert (b.scenario, b.learner) == ("exploration-trap", "reinforce")
    report.draw_scenario(tmp_path, "exploration-trap--reinforce", dpi=40)
    s = report.update_results(tmp_path, dpi=40)
    assert list(zip(s.scenario, s.learner, strict=True)) == [("exploration-trap", "full"),
                                                             ("exploration-trap", "reinforce")]
    assert (tmp_path / "exploration-trap-gaps.png").stat().st_size > 0
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert text.count("\n## exploration-trap\n") == 1
    assert "**Side by side**" in text and "(exploration-trap-gaps.png)" in text
    assert "### learner `full`" in text and "### learner `reinforce`" in text
    assert "(exploration-trap--reinforce/gaps.png)" in text


# ---- the demo's verdicts against its numbers ------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """``mesabase demo --quick`` once: every demo entry at small sizes."""
    import io

    from mesabase.sims.cli import app

    out = tmp_path_factory.mktemp("demo") / "results"
    assert app.demo(out, quick=True, stream=io.StringIO()) == 0
    return out


def _contradiction(a) -> str | None:
    """Why ``a``'s printed verdict is contradicted by its numbers, or None. With "shown"
    the unintended behaviours whose verdict is not none: "outer"/"inner": that is a shown
    behaviour's verdict, or nothing is shown and the outer terms (the learner gap) are ≥ 80%
    of a non-negligible total; "none": nothing is shown and the total is negligible (at most
    GAP_ATOL + 5% of |J_I(π_I*)|); "mixed": the shown verdicts disagree or one is mixed, or
    nothing is shown and neither share reaches 80% of a non-negligible total."""
    from mesabase.sims.attribution.analysis import GAP_ATOL, NEGLIGIBLE, OUTER_TERMS, SHARE

    v = a.verdicts[~a.verdicts.intended.astype(bool)]
    labels = set(v.verdict) - {"none"}
    f = a.final
    total = float(f.total.mean())
    outer = float(f[list(OUTER_TERMS)].sum(axis=1).mean())
    learner = float(f.learner_gap.mean())
    material = total > GAP_ATOL + NEGLIGIBLE * abs(float(f.J_intended.mean()))
    by_gaps = {"outer": material and outer >= SHARE * total,
               "inner": material and learner >= SHARE * total}
    verdict = a.scenario_verdict
    if verdict in ("outer", "inner"):
        ok = labels == {verdict} or (not labels and by_gaps[verdict])
    elif verdict == "none":
        ok = not labels and not material
    else:
        ok = (len(labels) > 1 or labels == {"mixed"}
              or (not labels and material and not any(by_gaps.values())))
    return None if ok else (f"{a.scenario}/{a.learner}: verdict {verdict}, behaviour verdicts "
                            f"{sorted(labels)}, total {total:.3g}, outer {outer:.3g}, "
                            f"learner {learner:.3g}")


def test_every_demo_verdict_agrees_with_its_numbers(demo):
    from mesabase.sims.cli import app

    s = pd.read_csv(demo / "summary.csv")
    folders = report.result_folders(demo)
    assert len(folders) == len(app.demo_entries())
    text = (demo / "report.md").read_text(encoding="utf-8")
    bad = []
    for folder in folders:
        for a in report.load_attributions(demo, folder):
            row = s[(s.scenario == a.scenario) & (s.learner == a.learner)
                    & (s.environment == a.environment)]
            assert len(row) == 1, (folder, a.environment)
            assert row.verdict.iloc[0] == a.scenario_verdict       # printed = recomputed
            assert row.reason.iloc[0] == a.verdict_reason
            assert f"**Verdict: {a.scenario_verdict}** — {a.verdict_reason}" in text
            bad.append(_contradiction(a))
    assert not [b for b in bad if b], "\n".join(b for b in bad if b)


def test_the_demo_shows_both_sides_of_the_dichotomy(demo):
    s = pd.read_csv(demo / "summary.csv")
    assert {"outer", "inner"} <= set(s.verdict), s[["scenario", "learner", "verdict"]]
    assert (demo / "dichotomy.png").stat().st_size > 0
    assert (demo / "exploration-trap-gaps.png").stat().st_size > 0
