"""``mesabase run meta-bandits``: files, report section, and argument errors."""

import json

import pandas as pd
import pytest

from mesabase.sims.cli.app import main
from mesabase.sims.meta.study import DEFAULTS, QUICK, study_sizes

SMALL = ["--horizons", "2,3", "--tasks", "20", "--seeds", "1", "--meta-steps", "2"]


def test_run_meta_bandits_writes_the_study(tmp_path, capsys):
    assert main(["run", "meta-bandits", *SMALL, "--out", str(tmp_path)]) == 0
    folder = tmp_path / "meta-bandits"
    table = pd.read_parquet(folder / "table.parquet")
    summary = pd.read_csv(folder / "summary.csv")
    assert list(table.columns) == ["agent", "horizon", "task", "seed", "regret", "return"]
    assert set(table.horizon) == {2, 3} and len(table) == 9 * 2 * 20
    assert set(summary.agent) == set(table.agent) and len(summary) == 9 * 2
    # the exact Bayes regret of K = 2 uniform arms at H = 2: 2·(2/3) − 13/12 = 1/4
    exact = summary[(summary.agent == "bayes-optimal") & (summary.horizon == 2)].exact_regret
    assert exact.iloc[0] == pytest.approx(0.25, abs=1e-12)
    assert (folder / "regret.png").exists() and (folder / "regret.svg").exists()
    sizes = json.loads((folder / "study.json").read_text())
    assert sizes["horizons"] == [2, 3] and sizes["n_tasks"] == 20
    report = (tmp_path / "report.md").read_text()
    assert "## meta-bandits" in report and "meta-bandits/regret.png" in report
    assert "Bayes regret at H = 3" in capsys.readouterr().out
    # meta-training outcomes: one row per meta-trained agent and horizon, marked in the report
    training = pd.read_csv(folder / "training.csv")
    assert list(training.columns) == ["agent", "horizon", "converged", "criterion", "steps",
                                      "bayes_gap", "class_gap"]
    assert sorted(set(training.agent)) == ["belief-rl", "maml", "meta-sgd"]
    assert len(training) == 3 * 2 and (training.steps <= 2).all()
    # MAML on the symmetric prior: theta_0 = 0 is stationary, so it stops before a step
    maml = training[training.agent == "maml"]
    assert maml.converged.all() and (maml.steps == 0).all()
    assert "Meta-training (each agent at each horizon" in report
    for r in training.itertuples():
        assert (r.bayes_gap >= 0) or pd.isna(r.bayes_gap)
        if not r.converged:
            assert f"| {r.agent} | {r.horizon} | **no** |" in report
    if not training[training.horizon == 3].converged.all():
        assert "(not converged)" in report
    advantage = pd.read_csv(folder / "maml-advantage.csv")
    assert list(advantage.family.unique()) == ["uniform", "asymmetric", "same-best",
                                               "dependent"]
    assert set(advantage.horizon) == {2, 3}
    assert "### Does MAML's initialisation help?" in report
    frozen = pd.read_csv(folder / "frozen-improvement.csv")
    assert set(frozen.family) == {"train", "shifted"} and len(frozen) == 4
    assert (folder / "frozen-weights.png").exists() and (folder / "frozen-weights.csv").exists()
    assert "### Frozen weights, improving performance?" in report


def test_study_is_deterministic(tmp_path):
    for d in ("a", "b"):
        assert main(["run", "meta-bandits", *SMALL, "--out", str(tmp_path / d)]) == 0
    a = pd.read_parquet(tmp_path / "a" / "meta-bandits" / "table.parquet")
    b = pd.read_parquet(tmp_path / "b" / "meta-bandits" / "table.parquet")
    pd.testing.assert_frame_equal(a, b, check_exact=True)


@pytest.mark.parametrize("argv,message", [
    (["run", "meta-bandits", "--steps", "3"], "--steps does not apply to meta-bandits"),
    (["run", "proxy-bandit", "--tasks", "3"], "--tasks applies to meta-bandits only"),
    (["run", "meta-bandits", "--horizons", "2,x"], "integers separated by commas"),
    (["run", "meta-bandits", "--horizons", "0,2"], "--horizons must be integers >= 1"),
    (["run", "meta-bandits", "--tasks", "0"], "--tasks (n_tasks) must be >= 1"),
    (["run", "meta-bandits", "--family", "dependent", "--arms", "3"], "two arms"),
])
def test_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit) as e:
        main(argv)
    assert e.value.code == 2
    assert message in capsys.readouterr().err


def test_sizes():
    assert study_sizes() == {**DEFAULTS, "horizons": (2, 5, 10, 20, 40)}
    assert study_sizes(quick=True)["horizons"] == QUICK["horizons"]
    assert study_sizes(n_tasks=7)["n_tasks"] == 7
    with pytest.raises(ValueError, match="unknown size 'steps'"):
        study_sizes(steps=3)
