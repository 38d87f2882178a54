"""Figures from tidy tables: each writes a non-empty PNG and SVG of the expected size, and
one is compared pixel by pixel with a stored reference.

The reference, tests/data/figures_gaps_reference.png, is ``plot_gaps`` of :func:`_gaps` (the
four-term decomposition) saved at 60 dpi (420 px wide, to keep the file small). Regenerate it
after an intended change of the figure (and look at it) with

    MESABASE_UPDATE_REFERENCE=1 .venv/bin/pytest tests/test_figures.py -k reference

Tolerance: ``compare_images``'s tol is the RMS difference of the pixel values, on 0–255.
The figures are drawn under a fixed style on top of matplotlib's defaults (DejaVu Sans,
bundled), so the same matplotlib version draws the same pixels on any machine (RMS 0 here);
tol = 2 leaves room for a differently built FreeType or Agg rounding, and is far below what
a change of the data gives (moving one gap of one seed by 0.05 at one step: RMS ≈ 4.3;
checked below to exceed 2·tol).
Rendering changes between matplotlib releases, so the comparison is skipped unless the
installed major.minor is the reference's (REFERENCE_MPL).
"""

import os
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.image as mpimg  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from figure_checks import (  # noqa: E402
    bands,
    check_gridworld_figure,
    check_post_figure,
    legend_texts,
)
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.testing.compare import compare_images  # noqa: E402
from scipy import stats  # noqa: E402

from mesabase.sims import Reinforce, bernoulli_bandit, simulate
from mesabase.sims.envs.gridworld import build_gridworld  # noqa: E402
from mesabase.sims.reports.dichotomy import dichotomy_frame, plot_dichotomy  # noqa: E402
from mesabase.sims.reports.figures import (  # noqa: E402
    BLOG_DPI,
    BLOG_WIDTH,
    MAX_BANDS,
    _simplex_xy,
    plot_behaviours,
    plot_gridworld_policies,
    plot_simplex,
    policy_frame,
    save_figure,
    simplex_frame,
)
from mesabase.sims.reports.gap_figures import (  # noqa: E402
    GAP_TERMS,
    gap_summary,
    plot_gap_comparison,
    plot_gaps,
)
from mesabase.sims.reports.render import describe_collected, render_policy
from mesabase.theory import solve  # noqa: E402

DATA = Path(__file__).parent / "data"
REFERENCE = DATA / "figures_gaps_reference.png"
REFERENCE_MPL = "3.11"
TOL = 2.0
REF_DPI = 60


def _gaps(bump: float = 0.0, learner: str | None = None) -> pd.DataFrame:
    """3 seeds × 4 steps × 2 environments of hand-typed gaps; ``bump`` moves one value."""
    data = {0: [0.6, 0.5, 0.7], 10: [0.4, 0.3, 0.35], 20: [0.2, 0.25, 0.1], 30: [0.1, 0.0, 0.05]}
    amb = {0: [0.2, 0.1, 0.3], 10: [0.15, 0.1, 0.2], 20: [0.1, 0.1, 0.05], 30: [0.0, 0.0, 0.0]}
    learn = {0: [0.3, 0.2, 0.4], 10: [0.2, 0.25, 0.1], 20: [0.1, 0.05, -0.2],
             30: [0.0, -0.05, -0.1]}
    rows = []
    for env, mis in (("train", 0.1), ("deploy", 0.5)):
        for step in data:
            for seed in range(3):
                d = data[step][seed] + (bump if (env, step, seed) == ("train", 20, 0) else 0.0)
                am, lg = amb[step][seed], learn[step][seed]
                rows.append({"scenario": "toy", "environment": env, "seed": seed, "step": step,
                             "misspecification_gap": mis, "data_gap": d, "ambiguity_gap": am,
                             "learner_gap": lg, "total": mis + d + am + lg,
                             **({} if learner is None else {"learner": learner})})
    return pd.DataFrame(rows)


def _verdicts() -> pd.DataFrame:
    return pd.DataFrame({
        "scenario": ["keys-and-chests", "keys-and-chests", "proxy-bandit"],
        "environment": ["train", "deploy", "train"],
        "behaviour": ["keys collected", "keys collected", "proxy arm"],
        "frac_outer": [0.1, 0.2, 0.9], "frac_outer_low": [0.0, 0.05, 0.6],
        "frac_outer_high": [0.4, 0.5, 1.0], "frac_inner": [0.6, 0.7, 0.0],
        "frac_inner_low": [0.3, 0.4, 0.0], "frac_inner_high": [0.85, 0.9, 0.3],
        "frac_none": [0.3, 0.1, 0.1], "n_seeds": 10, "verdict": ["inner", "inner", "outer"],
    })


MAP_TRAIN = "#######\n#S.kcG#\n#.c...#\n#######"
MAP_DEPLOY = "#######\n#Skk.G#\n#..c..#\n#######"


@pytest.fixture(scope="module")
def worlds():
    return {"train": build_gridworld(MAP_TRAIN), "deploy": build_gridworld(MAP_DEPLOY)}


@pytest.fixture(scope="module")
def bandit_run():
    return simulate(bernoulli_bandit([0.2, 0.5, 0.8]), Reinforce(lr=0.3), 40, seeds=2,
                    record_every=10)


def _check_written(fig: Figure, tmp_path: Path, name: str):
    """Both files exist, are non-empty, and the PNG is figsize × dpi pixels."""
    assert isinstance(fig, Figure)
    png, svg = save_figure(fig, tmp_path / "out" / name)
    assert (png.name, svg.name) == (f"{name}.png", f"{name}.svg")
    assert png.stat().st_size > 10_000 and svg.stat().st_size > 10_000   # bytes
    w_in, h_in = fig.get_size_inches()
    img = mpimg.imread(png)
    assert img.shape[:2] == (round(h_in * BLOG_DPI), round(w_in * BLOG_DPI))  # exact, px
    assert img.shape[1] == 1400                                               # blog width
    assert img.std() > 0.05                          # not a blank image (pixel values 0–1)
    text = svg.read_text()
    assert text.startswith("<?xml") and "<svg" in text and f'width="{72 * BLOG_WIDTH:g}pt"' in text
    return png, svg


def test_gap_summary_is_the_t_interval_by_hand():
    s = gap_summary(_gaps()).set_index(["environment", "step"])
    row = s.loc[("train", 0)]
    x = np.array([0.6, 0.5, 0.7])               # mean 0.6, sd 0.1
    half = stats.t.ppf(0.975, 2) * 0.1 / np.sqrt(3)
    assert row["n_seeds"] == 3
    assert row["data_gap_mean"] == pytest.approx(x.mean(), abs=1e-12)
    assert row["data_gap_low"] == pytest.approx(0.6 - half, abs=1e-12)
    assert row["data_gap_high"] == pytest.approx(0.6 + half, abs=1e-12)
    assert half == pytest.approx(4.302653 * 0.1 / np.sqrt(3), abs=1e-6)
    # a constant gap has a zero-width interval
    assert row["misspecification_gap_low"] == pytest.approx(0.1, abs=1e-12)
    assert row["misspecification_gap_high"] == pytest.approx(0.1, abs=1e-12)
    one = gap_summary(_gaps().query("seed == 0"))
    assert one["n_seeds"].eq(1).all() and one["total_low"].isna().all()


def test_plot_gaps_writes_files_and_draws_the_means(tmp_path):
    before = plt.get_fignums()
    fig = plot_gaps(_gaps())
    assert plt.get_fignums() == before              # built without pyplot: nothing leaks
    assert len(fig.axes) == 2
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["train environment", "deploy environment"]
    mis = fig.axes[1].lines[0]                      # deploy: misspecification, constant 0.5
    np.testing.assert_allclose(mis.get_ydata(), 0.5, atol=1e-12)
    labels = [line.get_label() for line in fig.axes[0].lines[:5]]
    assert labels == [t[1] for t in GAP_TERMS]      # four terms, then the total
    _check_written(fig, tmp_path, "gaps")


def test_figures_come_from_saved_tables_and_save_reproducibly(tmp_path):
    """A table read back from Parquet draws the same pixels; saving twice, the same SVG."""
    _gaps().to_parquet(tmp_path / "gaps.parquet")
    saved = pd.read_parquet(tmp_path / "gaps.parquet")
    a, svg_a = save_figure(plot_gaps(_gaps()), tmp_path / "a", dpi=REF_DPI)
    b, svg_b = save_figure(plot_gaps(saved), tmp_path / "b", dpi=REF_DPI)
    assert compare_images(str(a), str(b), tol=0) is None
    assert svg_a.read_bytes() == svg_b.read_bytes()


def test_plot_gaps_picks_and_checks_the_scenario():
    two = pd.concat([_gaps(), _gaps().assign(scenario="other")])
    with pytest.raises(ValueError, match="several scenarios"):
        plot_gaps(two)
    with pytest.raises(ValueError, match="'nope' is not in"):
        plot_gaps(two, scenario="nope")
    assert "other" in plot_gaps(two, scenario="other")._suptitle.get_text()
    with pytest.raises(ValueError, match=r"lacks the columns \['learner_gap'\]"):
        plot_gaps(_gaps().drop(columns="learner_gap"))


def test_simplex_frame_matches_the_run(bandit_run):
    df = simplex_frame(bandit_run)
    assert list(df.columns) == ["seed", "step", "who", "p0", "p1", "p2"]
    assert len(df) == 2 * 2 * 5                     # who × seeds × recorded steps
    lr = df[(df["who"] == "learner") & (df["seed"] == 1) & (df["step"] == 30)]
    np.testing.assert_array_equal(lr[["p0", "p1", "p2"]].to_numpy()[0],
                                  bandit_run.policies[1, 3, 0])
    sh = df[df["who"] == "shadow"][["p0", "p1", "p2"]].to_numpy()
    np.testing.assert_array_equal(sh, bandit_run.shadow_policies[:, :, 0].reshape(-1, 3))
    np.testing.assert_allclose(df[["p0", "p1", "p2"]].sum(axis=1), 1.0, atol=1e-12)


def test_simplex_coordinates_by_hand():
    np.testing.assert_allclose(_simplex_xy(np.eye(3)), [[0, 0], [1, 0], [0.5, np.sqrt(3) / 2]],
                               atol=1e-15)
    np.testing.assert_allclose(_simplex_xy([1 / 3, 1 / 3, 1 / 3]), [0.5, np.sqrt(3) / 6],
                               atol=1e-15)


def test_plot_simplex_writes_files(bandit_run, tmp_path):
    df = simplex_frame(bandit_run)
    fig = plot_simplex(df)
    assert [ax.get_title() for ax in fig.axes] == ["seed 0", "seed 1"]
    xy = fig.axes[1].lines[0].get_xydata()          # seed 1's learner trajectory
    np.testing.assert_allclose(xy, _simplex_xy(bandit_run.policies[1, :, 0]), atol=1e-12)
    _check_written(fig, tmp_path, "simplex")
    with pytest.raises(ValueError, match=r"seeds \[7\]"):
        plot_simplex(df, seeds=[7])


def test_policy_frame_agrees_with_the_text_renderer(worlds):
    w = worlds["train"]
    pi = solve(w.mdp).policy
    df = policy_frame(w, pi, "shadow", "train")
    text = render_policy(w, pi).split("\n")
    for rec in df.itertuples():
        if w.rows[rec.row][rec.col] not in "GL":
            assert text[rec.row][rec.col] == rec.glyph
        np.testing.assert_allclose(
            [rec.p_north, rec.p_south, rec.p_east, rec.p_west], pi[rec.state], atol=0)
    assert (df["keys"] == 0).all() and df["state"].is_monotonic_increasing
    with pytest.raises(ValueError, match="not a probability row"):
        policy_frame(w, -pi, "shadow", "train")


def test_plot_gridworld_policies_writes_files_and_checks_the_world(worlds, tmp_path):
    frames = {}
    for env, w in worlds.items():
        opt = solve(w.mdp).policy
        frames["shadow", env] = policy_frame(w, opt, "shadow", env)
        frames["learner", env] = policy_frame(w, 0.5 * opt + 0.125, "learner", env)
    fig = plot_gridworld_policies(frames, worlds)
    assert [ax.get_title().split("\n")[0] for ax in fig.axes] == [
        r"learner $\pi_{\theta_t}$, train", r"$\pi^*_t$ (history optimum), train",
        r"learner $\pi_{\theta_t}$, deploy", r"$\pi^*_t$ (history optimum), deploy"]
    _check_written(fig, tmp_path, "policies")
    swapped = {"train": worlds["deploy"], "deploy": worlds["train"]}
    with pytest.raises(ValueError, match="wrong world"):
        plot_gridworld_policies(frames, swapped)
    with pytest.raises(ValueError, match=r"lacks the environments \['deploy'\]"):
        plot_gridworld_policies(frames, {"train": worlds["train"]})


def test_plot_behaviours_bars_are_the_fractions(tmp_path):
    v = _verdicts()
    fig = plot_behaviours(v)
    ax = fig.axes[0]                                 # keys-and-chests: 2 groups × 3 labels
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [0.1, 0.2, 0.6, 0.7, 0.3, 0.1], atol=1e-12)
    _check_written(fig, tmp_path, "behaviours")
    with pytest.raises(ValueError, match="several rows"):
        plot_behaviours(pd.concat([v, v.iloc[:1]]))


def test_plot_behaviours_computes_a_missing_interval_exactly():
    from mesabase.sims.reports.figures import _interval
    lo, hi = _interval(_verdicts(), "none")     # 3 of 10 → Clopper–Pearson (0.0667, 0.6525)
    assert lo[0] == pytest.approx(0.066739, abs=1e-6)
    assert hi[0] == pytest.approx(0.652453, abs=1e-6)


def _reference_png(tmp_path: Path, table: pd.DataFrame) -> Path:
    png, _ = save_figure(plot_gaps(table), tmp_path / "gaps_ref", dpi=REF_DPI)
    return png


def test_plot_gaps_matches_the_stored_reference(tmp_path):
    if os.environ.get("MESABASE_UPDATE_REFERENCE"):
        DATA.mkdir(exist_ok=True)
        REFERENCE.write_bytes(_reference_png(tmp_path, _gaps()).read_bytes())
    mpl = ".".join(matplotlib.__version__.split(".")[:2])
    if mpl != REFERENCE_MPL:
        pytest.skip(f"reference drawn with matplotlib {REFERENCE_MPL}; this is {mpl}")
    # the user's rcParams do not leak in: the figures reset to defaults + STYLE
    with matplotlib.rc_context({"font.size": 30, "lines.linewidth": 6, "axes.grid": False}):
        actual = _reference_png(tmp_path, _gaps())
    assert mpimg.imread(actual).shape[:2] == mpimg.imread(REFERENCE).shape[:2] == (276, 420)
    assert compare_images(str(REFERENCE), str(actual), tol=TOL) is None
    # the comparison can fail: a small change of the data is seen at this tolerance
    moved = _reference_png(tmp_path / "moved", _gaps(bump=0.05))
    result = compare_images(str(REFERENCE), str(moved), tol=TOL, in_decorator=True)
    assert result is not None and result["rms"] > 2 * TOL


# ---- fit for a post: titles, mathtext, legends, bands -------------------------------------
def test_gap_figure_names_its_scenario_in_mathtext_and_thins_its_bands():
    fig = plot_gaps(_gaps())
    check_post_figure(fig, ["toy"])
    assert fig.axes[0].get_ylabel() == r"gap in intended return $J_I$"
    assert [bands(ax) for ax in fig.axes] == [4, 4]   # the total: its mean only


def test_simplex_figure_names_its_scenario_in_mathtext(bandit_run):
    fig = plot_simplex(simplex_frame(bandit_run).assign(scenario="proxy-bandit"))
    check_post_figure(fig, ["proxy-bandit"])
    assert r"learner $\pi_{\theta_t}$" in legend_texts(fig)


def _policy_frames(worlds, collected=None):
    frames = []
    for env, w in worlds.items():
        opt = solve(w.mdp).policy
        status = collected.get(env) if collected else None
        frames += [policy_frame(w, opt, "shadow", env, status),
                   policy_frame(w, 0.5 * opt + 0.125, "learner", env, status)]
    return pd.concat(frames, ignore_index=True).assign(scenario="keys-and-chests")


def test_gridworld_figure_has_a_legend_of_tiles_and_glyphs(worlds):
    fig = plot_gridworld_policies(_policy_frames(worlds), worlds)
    check_post_figure(fig, ["keys-and-chests"])
    check_gridworld_figure(fig, worlds.values())
    entries = legend_texts(fig)
    for name in ("start", "floor", "wall", "key", "chest", "goal"):
        assert any(e.startswith(name) for e in entries), name
    assert any(e.startswith("hatched: never reached") for e in entries)  # the keys' cells


def test_gridworld_titles_spell_the_collected_items_in_words(worlds):
    """keys = 0b10 (the second key) and chests = 0b1 are words, not "keys 10, chests 1"."""
    status = {"train": (0b1, 0b1), "deploy": (0b10, 0)}
    fig = plot_gridworld_policies(_policy_frames(worlds, status), worlds)
    check_gridworld_figure(fig, worlds.values())
    second = [ax.get_title().split("\n")[1] for ax in fig.axes]
    assert second == ["1 of 1 key taken, 1 of 2 chests opened"] * 2 \
        + ["1 of 2 keys taken, 0 of 1 chest opened"] * 2
    assert any(e.startswith("floor (also a taken key") for e in legend_texts(fig))


def test_describe_collected_names_checkpoints_and_worlds_without_items():
    loop = build_gridworld("#####\n#S>v#\n#^<.#\n#####")
    assert describe_collected(loop) == "no checkpoint credited yet"
    assert describe_collected(loop, (0, 0, 1)) == "checkpoint 2 of 4 (outlined) credited last"
    assert describe_collected(build_gridworld("S.G")) == "nothing to collect"


def _regret_summary(agents, exact=True) -> pd.DataFrame:
    rows = [{"agent": a, "horizon": h, "regret": 0.1 * h + i / 50, "ci_low": 0.1 * h,
             "ci_high": 0.1 * h + 0.1,
             "exact_regret": 0.1 * h if (exact and a == "bayes-optimal") else np.nan}
            for i, a in enumerate(agents) for h in (2, 4, 8)]
    return pd.DataFrame(rows)


DEFAULT_AGENTS = ["bayes-optimal", "gittins", "ucb1", "thompson", "greedy", "reinforce",
                  "maml", "meta-sgd", "belief-rl"]


@pytest.mark.parametrize("agents, exact, panels", [
    (DEFAULT_AGENTS, True, ["classical agents", "meta-learned agents"]),
    (DEFAULT_AGENTS, False, ["classical agents (1/2)", "classical agents (2/2)",
                             "meta-learned agents (1/2)", "meta-learned agents (2/2)"]),
    ([f"agent-{i}" for i in range(9)], True, ["other agents (1/3)", "other agents (2/3)",
                                              "other agents (3/3)"]),
])
def test_meta_bandit_panels_split_so_no_panel_has_more_than_max_bands(agents, exact, panels):
    from mesabase.sims.meta.experiment import plot_meta_bandits

    fig = plot_meta_bandits(_regret_summary(agents, exact))
    check_post_figure(fig, ["meta-bandits"])
    axes = [ax for ax in fig.axes if ax.get_title()]
    assert [ax.get_title() for ax in axes] == panels
    assert all(1 <= bands(ax) <= MAX_BANDS for ax in axes)
    shown = [t for ax in axes for t in (x.get_text() for x in ax.get_legend().get_texts())
             if t not in ("bayes-optimal", "bayes-optimal (exact)")]
    assert sorted(shown) == sorted(a for a in agents if a != "bayes-optimal")  # each once
    assert "$" in axes[0].get_ylabel() and "$" in axes[0].get_xlabel()


# ---- the four terms side by side, and the dichotomy -----------------------------------------
def test_gap_comparison_puts_the_learners_side_by_side(tmp_path):
    two = pd.concat([_gaps(learner="full").query("environment == 'train'"),
                     _gaps(bump=0.3, learner="reinforce").query("environment == 'train'")])
    fig = plot_gap_comparison(two, learners=["full", "reinforce"])
    assert [ax.get_title() for ax in fig.axes] == ["learner full", "learner reinforce"]
    check_post_figure(fig, ["toy"])
    assert [bands(ax) for ax in fig.axes] == [4, 4]
    data = [ax.lines[1].get_ydata() for ax in fig.axes]    # the data gap, seed means
    assert data[1][2] == pytest.approx(data[0][2] + 0.1, abs=1e-12)   # 0.3 bump / 3 seeds
    _check_written(fig, tmp_path, "comparison")
    with pytest.raises(ValueError, match=r"learners \['nobody'\]"):
        plot_gap_comparison(two, learners=["nobody"])


def _behaviours() -> pd.DataFrame:
    """Three behaviours × 3 seeds at steps 10 and 20: one outer, one inner, one none, and an
    intended one (left out)."""
    rows = []
    cases = {("trap", "full", "stays-at-bank", False): ([1.0, 1.0, 0.9], [1.0, 0.8, 0.9]),
             ("trap", "reinforce", "stays-at-bank", False): ([0.1, 0.2, 0.0], [0.6, 0.7, 0.8]),
             ("bandit", "reinforce", "proxy-arm", False): ([0.2, 0.1, 0.3], [0.2, 0.3, 0.1]),
             ("keys", "linear", "collects-keys", True): ([2.0, 2.0, 2.0], [2.0, 2.0, 2.0])}
    for (scen, learner, b, intended), (hi, val) in cases.items():
        for step in (10, 20):
            for seed in range(3):
                f = 1.0 if step == 20 else 0.0          # the earlier step is all zeros
                rows.append({"scenario": scen, "environment": "train", "learner": learner,
                             "behaviour": b, "intended": intended, "seed": seed, "step": step,
                             "learner_value": f * val[seed], "lo": 0.0, "hi": f * hi[seed],
                             "threshold": 0.5, "label": "none"})
    return pd.DataFrame(rows)


def test_dichotomy_frame_divides_by_the_threshold_at_the_final_step():
    pts = dichotomy_frame(_behaviours())
    assert set(pts.step) == {20} and not pts.intended.any()
    assert len(pts) == 3 * 3
    full = pts[pts.learner == "full"].sort_values("seed")
    np.testing.assert_allclose(full.x, [2.0, 2.0, 1.8], atol=1e-12)     # hi / 0.5
    np.testing.assert_allclose(full.y, [2.0, 1.6, 1.8], atol=1e-12)     # learner / 0.5
    with pytest.raises(ValueError, match="θ > 0"):
        dichotomy_frame(_behaviours().assign(threshold=0.0))


def test_dichotomy_figure_places_each_mean_in_its_region(tmp_path):
    fig = plot_dichotomy(_behaviours())
    check_post_figure(fig, ["trap", "bandit"])
    ax = fig.axes[0]
    from matplotlib.collections import PathCollection

    solid = [c for c in ax.collections if isinstance(c, PathCollection) and c.get_alpha() is None]
    means = dict(zip(legend_texts(fig), (tuple(c.get_offsets()[0]) for c in solid), strict=True))
    x, y = means["1: trap / full: stays-at-bank, 3 seeds"]
    assert x >= 1                                   # outer: a maximiser shows it
    x, y = means["2: trap / reinforce: stays-at-bank, 3 seeds"]
    assert x < 1 <= y                               # inner: only the learner
    x, y = means["3: bandit / reinforce: proxy-arm, 3 seeds"]
    assert x < 1 and y < 1                          # none
    assert x == pytest.approx(0.4) and y == pytest.approx(0.4)      # mean 0.2 / 0.5
    assert sorted(t.get_text() for t in ax.texts if t.get_text().isdigit()) == ["1", "2", "3"]
    assert not any("collects-keys" in t for t in legend_texts(fig))   # intended: left out
    regions = {t.get_text().split("\n")[0] for t in ax.texts}
    assert {"OUTER", "INNER", "NONE"} <= regions
    assert "$" in ax.get_xlabel() and "$" in ax.get_ylabel()
    _check_written(fig, tmp_path, "dichotomy")
