"""Attribution by revealed objective (mesabase.sims.attribution.revealed, issue 17): the
distances from R_B and R_I to the rewards the learner's policy and π*_t reveal, the reading
rule, the table in the attribution and the results folder, and the figure."""

import numpy as np
import pandas as pd
import pytest
from figure_checks import check_post_figure

from mesabase.sims import attribute, get_scenario, revealed_table, simulate
from mesabase.sims.attribution import REVEALED_COLUMNS
from mesabase.sims.attribution.revealed import (
    CONTAINS_TOL,
    EPS,
    MAX_ENTRIES,
    revealed_cost,
    revealed_reading,
)
from mesabase.sims.reports.conclusions import revealed_lines, summary_row
from mesabase.sims.reports.revealed_figures import plot_revealed_distances
from mesabase.theory import revealed_rewards


@pytest.fixture(scope="module")
def bandit():
    """proxy-bandit: the learner converges to the proxy arm, the base optimum."""
    sc = get_scenario("proxy-bandit")
    r = simulate(sc.train, sc.get_learner(), 2000, seeds=4, record_every=500)
    return sc, r, attribute(r, sc, revealed=True)


@pytest.fixture(scope="module")
def trap():
    """softmax-trap: the learner stays spread while π*_t settles (an inner verdict)."""
    sc = get_scenario("softmax-trap")
    r = simulate(sc.train, sc.get_learner(), 3000, seeds=4, record_every=1000)
    return sc, r, attribute(r, sc, revealed=True)


def test_a_learner_converged_to_the_base_optimum_reveals_r_b(bandit):
    sc, r, a = bandit
    R_B = sc.train.mdp.R
    final = a.revealed[a.revealed.step == a.revealed.step.max()]
    pi = r.policies[:, -1, 0]
    assert (pi.max(axis=1) > 1 - EPS).all()  # converged: one arm kept
    assert (pi.argmax(axis=1) == np.argmax(R_B[0])).all()  # the base-optimal arm
    assert (final.dist_RB_learner == 0).all() and (final.reading == "contains R_B").all()
    # R_I prefers another arm: the distance is (max R_I − R_I[arm]) / 2 over the range
    arm = int(np.argmax(R_B[0]))
    want = (sc.R_I[0].max() - sc.R_I[0, arm]) / 2 / np.ptp(sc.R_I[0])
    np.testing.assert_allclose(final.dist_RI_learner, want, atol=1e-7)
    assert a.scenario_verdict == "outer"  # "contains R_B → any failure is outer"


def test_the_opt_distance_is_zero_exactly_when_its_set_contains_the_reward(bandit, trap):
    for sc, r, a in (bandit, trap):
        mdp = sc.train.mdp
        rev = a.revealed.set_index(["seed", "step"])
        for n, seed in enumerate(r.seeds):
            for k, step in enumerate(r.steps):
                opt = np.asarray(r.shadow_optimal[n, k], dtype=bool)
                rs = revealed_rewards(mdp, opt / opt.sum(-1, keepdims=True))
                for R, col in ((mdp.R, "dist_RB_opt"), (sc.R_I, "dist_RI_opt")):
                    d = rev.loc[(seed, step), col]
                    assert (d <= CONTAINS_TOL) == rs.contains(R, tol=1e-9).member
                    assert 0.0 <= d <= 0.5 + 1e-9


def test_an_inner_gap_in_objective_space(trap):
    """softmax-trap: π*_t's set contains R_B at the end while the learner's is far from it."""
    sc, r, a = trap
    final = a.revealed[a.revealed.step == a.revealed.step.max()]
    assert (final.dist_RB_opt <= CONTAINS_TOL).all()
    far = final.dist_RB_learner > CONTAINS_TOL
    assert far.any() and (final.reading[far] == "inner").all()
    assert a.scenario_verdict == "inner"


def test_the_reading_rule():
    assert revealed_reading(0.0, 0.3) == "contains R_B"
    assert revealed_reading(0.2, 0.0) == "inner"
    assert revealed_reading(0.2, 0.1) == "neither"
    assert revealed_reading(0.2, float("nan")) == "neither"


def test_columns_in_the_tables_and_summary(bandit):
    sc, r, a = bandit
    assert list(a.revealed.columns) == list(REVEALED_COLUMNS)
    assert len(a.revealed) == len(r.seeds) * len(r.steps)
    assert (a.revealed.learner == a.learner).all()
    row = summary_row(a)
    for c in ("dist_RB_learner", "dist_RB_opt", "dist_RI_learner", "dist_RI_opt"):
        assert row[c] == pytest.approx(a.revealed[a.revealed.step == r.steps[-1]][c].mean())
    text = " ".join(revealed_lines(a))
    assert "contains R_B 4/4" in text and "any failure is outer" in text
    assert attribute(r, sc).revealed is None  # opt-in: attribute() alone solves no LP


def test_a_large_environment_is_skipped_and_says_so():
    sc = get_scenario("keys-and-chests")
    assert revealed_cost(sc.train.mdp) > MAX_ENTRIES
    r = simulate(sc.train, sc.get_learner(), 32, seeds=1, record_every=16)
    df = revealed_table(r, sc)
    assert df.empty and list(df.columns) == list(REVEALED_COLUMNS)
    assert df.dist_RB_learner.dtype == float
    with pytest.raises(ValueError, match="eps must be"):
        revealed_table(r, sc, eps=0.0)


def test_the_results_folder_saves_and_draws_it(bandit, tmp_path):
    from mesabase.sims.reports.report import draw_scenario, load_attributions, write_scenario

    sc, r, a = bandit
    sizes = {"seeds": 4, "steps": 2000, "record_every": 500}
    folder = write_scenario(tmp_path, sc, r, [a], sizes=sizes, seconds=1.0)
    saved = pd.read_parquet(folder / "revealed.parquet")
    pd.testing.assert_frame_equal(saved, a.revealed, check_dtype=False)
    pngs = draw_scenario(tmp_path, folder.name, dpi=40)
    assert folder / "revealed.png" in pngs
    back = load_attributions(tmp_path, folder.name)[0]
    assert back.revealed is not None and len(back.revealed) == len(a.revealed)


def test_the_figure_draws_learner_and_opt_for_both_rewards(trap):
    sc, r, a = trap
    fig = plot_revealed_distances(a.revealed)
    axes = [ax for ax in fig.axes if ax.lines]
    assert len(axes) == 2 and all(len(ax.lines) == 2 for ax in axes)
    steps = np.sort(a.revealed.step.unique())
    means = a.revealed.groupby("step").dist_RB_learner.mean().to_numpy()
    np.testing.assert_allclose(axes[0].lines[0].get_xdata(), steps)
    np.testing.assert_allclose(axes[0].lines[0].get_ydata(), means)
    check_post_figure(fig, ["softmax-trap"])
    with pytest.raises(ValueError, match="empty"):
        plot_revealed_distances(a.revealed.iloc[:0])
