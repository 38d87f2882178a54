"""The ``mesabase`` command: --help, --version, ``solvers``, ``demo`` and ``run``.

``demo --quick`` runs once per module (about 8 s on 2 cores) and several tests read its folder.
"""

import io
import re
import subprocess
import sys
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pandas as pd
import pytest

from mesabase.sims.cli import app as cli
from mesabase.sims.experiments import sizes
from mesabase.sims.reports.report import SUMMARY_COLUMNS, result_folders
from mesabase.sims.scenarios import SCENARIOS, SHIPPED, get_scenario

VERDICTS = {"outer", "inner", "mixed", "none"}


def _exit_code(argv, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(argv)
    return e.value.code, capsys.readouterr()


def test_version(capsys):
    code, out = _exit_code(["--version"], capsys)
    assert code == 0
    assert out.out.startswith("mesabase ") and out.out.strip() != "mesabase"


def test_help_lists_the_commands(capsys):
    code, out = _exit_code(["--help"], capsys)
    assert code == 0
    for command in ("demo", "run", "solvers"):
        assert re.search(rf"^\s+{command}\s", out.out, re.MULTILINE), command


def test_run_help_lists_the_scenarios(capsys):
    code, out = _exit_code(["run", "--help"], capsys)
    assert code == 0
    text = re.sub(r"-\n\s*", "-", out.out)   # argparse wraps lines after hyphens
    for name in SCENARIOS:
        assert name in text


def test_solvers_agree_and_report_exact_values():
    buf = io.StringIO()
    assert cli.solvers(out=buf, quick=True) == 0
    text = buf.getvalue()
    assert "1000000/40951" in text          # 10 / (1 - 0.9^5) as an exact fraction
    assert "11/24" in text                  # the secretary problem, n = 4
    assert "OK" in text and "FAILED" not in text
    for method in ("auto", "vi", "pi", "lp", "cvxpy", "exact"):
        assert method in text


def test_exactness_check_quotes_the_fraction():
    ok, line = cli.exactness_check()
    assert ok and "1000000/40951" in line and line.count("1000000/40951") == 2


def test_console_script_runs():
    """The installed entry point works as a module too (python -m)."""
    r = subprocess.run([sys.executable, "-m", "mesabase.sims.cli", "--version"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 0 and "mesabase" in r.stdout


# ---- demo --quick ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "results"
    buf = io.StringIO()
    assert cli.demo(out, quick=True, stream=buf) == 0
    return out, buf.getvalue()


def test_demo_runs_the_shipped_scenarios_the_second_learner_and_the_controls():
    names = cli.demo_scenarios()
    assert names[:4] == SHIPPED
    assert set(names) == set(SCENARIOS)  # the controls and softmax-trap are registered
    entries = cli.demo_entries()
    assert ("exploration-trap", None) in entries and ("exploration-trap", "reinforce") in entries
    assert len(set(entries)) == len(entries)


def test_demo_skips_an_unregistered_entry_with_a_line(monkeypatch, tmp_path):
    monkeypatch.setattr(cli, "DEMO_EXTRA", (("no-such-scenario", None),))
    assert ("no-such-scenario", None) not in cli.demo_entries()
    assert ("no-such-scenario", None) in cli.demo_entries(registered_only=False)
    buf = io.StringIO()
    code = cli.run_scenarios([("no-such-scenario", None)], tmp_path, sizes={}, stream=buf)
    assert code == 0
    assert "no-such-scenario" in buf.getvalue() and "skipped" in buf.getvalue()


def test_demo_prints_the_exactness_check_first_and_a_line_per_entry(demo_dir):
    _, text = demo_dir
    lines = text.splitlines()
    assert lines[0].startswith("exactness check:") and lines[0].rstrip().endswith("ms)")
    assert "OK" in lines[0]
    for name, learner in cli.demo_entries():
        learner = learner or get_scenario(name).default_learner
        assert any(line.split()[:2] == [name, learner] for line in lines), (name, learner)
    progress = [line for line in lines if line.startswith("  exploration-trap ")]
    assert len(progress) == 2
    for line in progress:
        for word in ("regret", "= misspecification", "+ data", "+ ambiguity", "+ learner"):
            assert word in line, line


TERMS = ("misspecification_gap", "data_gap", "ambiguity_gap", "learner_gap")


def test_demo_summary_has_one_row_per_scenario_learner_and_environment(demo_dir):
    out, _ = demo_dir
    s = pd.read_csv(out / "summary.csv")
    assert list(s.columns) == list(SUMMARY_COLUMNS)
    pairs = list(dict.fromkeys(zip(s.scenario, s.learner, strict=True)))
    assert pairs == [(n, lr or get_scenario(n).default_learner) for n, lr in cli.demo_entries()]
    assert not s.duplicated(["scenario", "learner", "environment"]).any()
    assert set(s.verdict) <= VERDICTS and s.reason.str.len().min() > 20
    assert (s.n_seeds == sizes.QUICK_SEEDS).all()
    np.testing.assert_allclose(s[list(TERMS)].sum(axis=1), s.total, rtol=0, atol=1e-9)
    assert (s.J_base_min <= s.J_base_max + 1e-12).all()
    assert (s.J_history_min <= s.J_history_max + 1e-12).all()
    # By construction (scenario docstrings): misspecification 0.6 and 1.75, 0 for the control.
    by = s.drop_duplicates("scenario").set_index("scenario")
    assert by.loc["proxy-bandit", "misspecification_gap"] == pytest.approx(0.6, abs=1e-12)
    assert by.loc["misspecified-reward", "misspecification_gap"] == pytest.approx(1.75,
                                                                                 abs=1e-12)
    assert by.loc["proxy-bandit-control", "misspecification_gap"] == pytest.approx(0.0,
                                                                                  abs=1e-12)
    assert by.loc["proxy-bandit", "verdict"] == "outer"


def test_demo_summary_is_the_saved_gaps_at_the_final_step(demo_dir):
    """summary.csv is computed from the tables on disk: seed means at the final step."""
    out, _ = demo_dir
    s = pd.read_csv(out / "summary.csv").set_index(["scenario", "learner"])
    for folder, learner in (("exploration-trap", "full"),
                            ("exploration-trap--reinforce", "reinforce")):
        g = pd.read_parquet(out / folder / "gaps.parquet")
        final = g[g.step == g.step.max()]
        row = s.loc[("exploration-trap", learner)]
        assert row["step"] == final.step.iloc[0]
        for col in (*TERMS, "total", "J_history_min", "J_history_max"):
            assert row[col] == pytest.approx(final[col].mean(), abs=1e-12)


def test_demo_report_mentions_every_scenario_and_links_existing_figures(demo_dir):
    out, _ = demo_dir
    text = (out / "report.md").read_text(encoding="utf-8")
    s = pd.read_csv(out / "summary.csv")
    for row in s.itertuples():
        assert f"\n## {row.scenario}\n" in text
        assert f"**Verdict: {row.verdict}**" in text
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", text)
    assert "behaviours.png" in links and "dichotomy.png" in links
    assert "exploration-trap-gaps.png" in links                   # the two learners
    assert text.index("exploration-trap-gaps.png") < text.index("### learner `reinforce`")
    for folder in result_folders(out):
        assert f"{folder}/gaps.png" in links
    assert "proxy-bandit/simplex.png" in links
    assert "keys-and-chests/policies-key-held.png" in links
    for link in links:
        png = out / link
        assert png.suffix == ".png" and png.stat().st_size > 5_000, link   # bytes
        assert mpimg.imread(png).shape[1] > 400, link                       # px wide


def test_demo_writes_every_figure_as_png_and_svg(demo_dir):
    out, _ = demo_dir
    pngs = sorted(out.rglob("*.png"))
    assert len(pngs) >= 1 + len(cli.demo_scenarios())
    for png in pngs:
        svg = png.with_suffix(".svg")
        assert png.stat().st_size > 5_000 and svg.stat().st_size > 5_000, png  # bytes
        assert svg.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert not [p for p in out.rglob(".*")], "temporary files left behind"


def test_every_demo_figure_is_fit_for_a_post(demo_dir, tmp_path, monkeypatch):
    """Each figure the demo draws, redrawn from its saved tables: its title names its
    scenario, its symbols are mathtext that renders, no panel has more than MAX_BANDS bands,
    and a gridworld map has a legend of its tiles and glyphs and no bitmask in its titles."""
    import shutil

    from figure_checks import check_gridworld_figure, check_post_figure

    from mesabase.sims.meta.experiment import plot_meta_bandits
    from mesabase.sims.meta.frozen import plot_frozen_weights
    from mesabase.sims.meta.mesa import plot_mesa
    from mesabase.sims.meta.weights_nmf import plot_weight_trajectories
    from mesabase.sims.reports import report

    out = tmp_path / "results"
    shutil.copytree(demo_dir[0], out)
    drawn, write = {}, report.write_figure
    monkeypatch.setattr(report, "write_figure", lambda fig, stem, dpi=None: (
        drawn.__setitem__(stem.relative_to(out).as_posix(), fig), write(fig, stem, dpi))[1])
    names = cli.demo_scenarios()
    for folder in result_folders(out):
        report.draw_scenario(out, folder)
    report.update_results(out)
    drawn["meta-bandits/regret"] = plot_meta_bandits(
        pd.read_csv(out / "meta-bandits" / "summary.csv"),
        training=pd.read_csv(out / "meta-bandits" / "training.csv"))
    drawn["meta-bandits/frozen-weights"] = plot_frozen_weights(
        pd.read_csv(out / "meta-bandits" / "frozen-weights.csv"))
    drawn["meta-bandits/mesa"] = plot_mesa(pd.read_csv(out / "meta-bandits" / "mesa.csv"))
    drawn["meta-bandits/weights"] = plot_weight_trajectories(
        pd.read_csv(out / "meta-bandits" / "weights-agreement.csv"),
        pd.read_csv(out / "meta-bandits" / "weights-nmf.csv"))
    written = {p.relative_to(out).with_suffix("").as_posix() for p in out.rglob("*.png")}
    assert set(drawn) == written                     # every figure of the demo is checked
    assert {"dichotomy", "behaviours", "exploration-trap-gaps"} <= set(drawn)
    for stem, fig in drawn.items():
        scenario = stem.split("/")[0].split("--")[0].removesuffix("-gaps")
        if stem == "behaviours":
            check_post_figure(fig, names)
        elif stem == "dichotomy":
            check_post_figure(fig, ["exploration-trap", "softmax-trap", "proxy-bandit"])
        else:
            check_post_figure(fig, [scenario])
        if "/policies-" in stem:
            sc = get_scenario(scenario)
            worlds = [sc.world] + ([sc.deploy.world] if sc.deploy and sc.deploy.world else [])
            check_gridworld_figure(fig, worlds)


def test_demo_tables_are_parquet(demo_dir):
    out, _ = demo_dir
    folders = result_folders(out)
    assert "exploration-trap--reinforce" in folders
    for folder in folders:
        name = folder.split("--")[0]
        for table in ("gaps", "behaviours", "verdicts", "returns"):
            df = pd.read_parquet(out / folder / f"{table}.parquet")
            assert len(df) > 0 and (df.scenario == name).all(), (folder, table)


# ---- run --------------------------------------------------------------------------------------
def test_run_proxy_bandit(tmp_path, capsys):
    assert cli.main(["run", "proxy-bandit", "--seeds", "3", "--steps", "200",
                     "--out", str(tmp_path)]) == 0
    s = pd.read_csv(tmp_path / "summary.csv")
    assert list(s.scenario) == ["proxy-bandit"]
    assert (s.n_seeds.iloc[0], s.step.iloc[0]) == (3, 200)
    assert s.misspecification_gap.iloc[0] == pytest.approx(0.6, abs=1e-12)
    assert s.verdict.iloc[0] in VERDICTS
    for f in ("report.md", "behaviours.png", "proxy-bandit/simplex.svg",
              "proxy-bandit/gaps.png"):
        assert (tmp_path / f).stat().st_size > 0, f
    assert "proxy-bandit" in capsys.readouterr().out


def test_rerun_overwrites_and_another_scenario_joins_the_summary(tmp_path):
    args = ["--seeds", "2", "--steps", "100", "--out", str(tmp_path)]
    assert cli.main(["run", "proxy-bandit", *args]) == 0
    first = (tmp_path / "summary.csv").read_text()
    assert cli.main(["run", "proxy-bandit", *args]) == 0
    assert (tmp_path / "summary.csv").read_text() == first     # same seeds: same numbers
    assert cli.main(["run", "proxy-bandit-control", *args]) == 0
    s = pd.read_csv(tmp_path / "summary.csv")
    assert list(s.scenario) == ["proxy-bandit", "proxy-bandit-control"]
    assert "## proxy-bandit-control" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_run_with_another_learner_writes_its_own_folder(tmp_path):
    args = ["--seeds", "2", "--steps", "300", "--out", str(tmp_path)]
    assert cli.main(["run", "exploration-trap", *args]) == 0
    assert cli.main(["run", "exploration-trap", "--learner", "reinforce", *args]) == 0
    s = pd.read_csv(tmp_path / "summary.csv")
    assert list(zip(s.scenario, s.learner, strict=True)) == [
        ("exploration-trap", "full"), ("exploration-trap", "reinforce")]
    for f in ("exploration-trap/gaps.png", "exploration-trap--reinforce/gaps.svg",
              "exploration-trap-gaps.png", "exploration-trap-gaps.svg", "dichotomy.png"):
        assert (tmp_path / f).stat().st_size > 0, f


def test_unknown_scenario_exits_2_listing_the_names(capsys):
    code, out = _exit_code(["run", "no-such-scenario"], capsys)
    assert code == 2
    assert "invalid choice" in out.err
    for name in SHIPPED:
        assert name in out.err


@pytest.mark.parametrize("argv, message", [
    (["run", "proxy-bandit", "--learner", "nobody"], "has no learner 'nobody'"),
    (["run", "proxy-bandit", "--environment", "deploy"], "no deployment environment"),
    (["run", "keys-and-chests-shift", "--steps", "100"], "must exceed it"),
    (["run", "proxy-bandit", "--seeds", "0"], "--seeds must be >= 1"),
])
def test_bad_options_exit_2_with_a_reason(argv, message, capsys, tmp_path):
    code, out = _exit_code([*argv, "--out", str(tmp_path)], capsys)
    assert code == 2 and message in out.err
    assert not (tmp_path / "summary.csv").exists()


@pytest.mark.parametrize("name, steps", [("proxy-bandit", 200), ("proxy-bandit", 997),
                                         ("keys-and-chests-shift", 8800),
                                         ("exploration-trap", 1000)])
def test_default_record_every_records_the_final_step_when_it_can(name, steps):
    sc = get_scenario(name)
    k = sizes.scenario_sizes(sc, steps=steps)["record_every"]
    target = sc.record_every * steps / sc.steps
    assert target / 2 <= k <= max(1, round(target))
    T0 = sc.shift_step or 0
    if name != "proxy-bandit" or steps == 200:
        assert (steps - T0) % k == 0 and T0 % k == 0
    else:                                                   # 997 is prime: no divisor near 50
        assert k == round(target)


def test_quick_sizes_are_small():
    for name in cli.demo_scenarios():
        sc = get_scenario(name)
        q = sizes.scenario_sizes(sc, quick=True)
        assert q["seeds"] == sizes.QUICK_SEEDS
        if sc.shift_step is None:   # a quarter of the steps, as many records
            assert q["steps"] == sc.steps // sizes.QUICK_FRACTION
            assert q["steps"] // q["record_every"] == sc.steps // sc.record_every
        else:                       # just past the shift
            assert q["steps"] == sc.shift_step + sc.record_every


def test_results_dir_default_is_relative():
    assert not Path(cli.RESULTS_DIR).is_absolute()
    assert cli._parser().parse_args(["demo"]).out == cli.RESULTS_DIR


def test_the_highs_banner_never_reaches_the_terminal():
    """highspy printed "Running HiGHS ..." once per process on the first cvxpy solve; a fresh
    process (the banner prints once) runs every method and must print no banner."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "mesabase.sims.cli", "solvers", "--quick"],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "HiGHS" not in r.stdout and "HiGHS" not in r.stderr, r.stdout[:400]
