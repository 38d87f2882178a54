"""Text and matplotlib renderers of gridworld maps, values and policies."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from mesabase.sims.envs.gridworld import GridState, build_gridworld  # noqa: E402
from mesabase.sims.reports.render import (  # noqa: E402
    OKABE_ITO,
    plot_map,
    plot_policy,
    plot_values,
    render_map,
    render_policy,
    render_values,
)
from mesabase.theory import solve  # noqa: E402

MAP = """
#######
#S.kcG#
#L....#
#######
"""


@pytest.fixture(scope="module")
def corridor():
    w = build_gridworld("S.kc", gamma=0.5)
    return w, solve(w.mdp)


def test_render_map_is_the_ascii_map_and_marks_the_agent():
    w = build_gridworld(MAP)
    assert render_map(w) == w.to_ascii() == "\n".join(ln.strip() for ln in MAP.strip().split())
    s = w.encode(1, 4, keys=1, chests=1)  # on the opened chest, key used
    assert render_map(w, s).split("\n")[1] == "#S..AG#"


def test_render_values_hand_checked(corridor):
    w, sol = corridor
    # nothing collected: the key and chest cells have no such state
    assert render_values(w, sol.V) == "0.25 0.50    ·    ·"
    assert render_values(w, sol.V, collected=(1, 0)) == "0.25 0.50 1.00    ·"
    assert render_values(w, sol.V, collected={"keys": 1, "chests": 1}, digits=1) == (
        "0.0 0.0 0.0 0.0")
    assert render_values(w, sol.V, collected=GridState(0, 0, 1, 0)) == render_values(
        w, sol.V, collected=(1, 0, -1))


def test_render_values_shows_walls_and_takes_a_time_index():
    w = build_gridworld("S#G", gamma=1.0, horizon=2)
    sol = solve(w.mdp)
    assert sol.V.shape == (3, w.n_states)
    assert render_values(w, sol.V, digits=0) == "0 # ·"   # G unreachable past the wall


def test_render_policy_arrows_and_ties(corridor):
    w, sol = corridor
    assert render_policy(w, sol.policy) == "→→··"
    assert render_policy(w, sol.policy, collected=(1, 0)) == "→→→·"
    assert render_policy(w, sol.policy, collected=(1, 1)) == "++++"  # nothing left: all tie
    west = np.zeros((w.n_states, 4))
    west[:, 3] = 1.0
    assert render_policy(w, west, collected=(1, 1)) == "←←←←"


def test_render_policy_on_a_map_with_walls_and_absorbing_cells():
    w = build_gridworld(MAP, gamma=0.9)
    lines = render_policy(w, solve(w.mdp).policy).split("\n")
    assert lines[0] == "#######" and lines[3] == "#######"
    assert lines[1][:3] == "#→→" and lines[2][:2] == "#L"


def test_render_errors(corridor):
    w, sol = corridor
    with pytest.raises(ValueError, match=r"V must have shape \(S,\) with S = 9"):
        render_values(w, sol.V[:3])
    with pytest.raises(ValueError, match="no state of this world has keys=0, chests=1"):
        render_values(w, sol.V, collected=(0, 1))
    with pytest.raises(ValueError, match="unknown fields"):
        render_policy(w, sol.policy, collected={"coins": 1})


@pytest.mark.parametrize("draw", ["map", "values", "policy"])
def test_plots_return_axes_and_save(tmp_path, draw):
    w = build_gridworld(MAP, gamma=0.9, slip=0.1)
    sol = solve(w.mdp)
    if draw == "map":
        ax = plot_map(w, state=w.encode(1, 1), title="map")
    elif draw == "values":
        ax = plot_values(w, sol.V, collected=(1, 0), title="V*")
    else:
        ax = plot_policy(w, sol.policy, title="π*")
    assert isinstance(ax, plt.Axes)
    width_in = ax.figure.get_size_inches()[0]
    assert 2.0 <= width_in <= 8.0  # fits a blog column
    path = tmp_path / f"{draw}.png"
    ax.figure.savefig(path, dpi=80)
    assert path.stat().st_size > 1000
    plt.close(ax.figure)


def test_plot_on_given_axes_uses_the_palette():
    w = build_gridworld(MAP)
    fig, axes = plt.subplots(1, 2)
    ax = plot_map(w, ax=axes[0])
    assert ax is axes[0]
    img = ax.images[0].get_array()
    goal_rgb = np.array(matplotlib.colors.to_rgb(OKABE_ITO["bluish_green"]))
    np.testing.assert_allclose(img[1, 5], goal_rgb, rtol=0, atol=1e-12)
    plot_policy(w, np.full((w.n_states, 4), 0.25), ax=axes[1])
    assert len(axes[1].collections) == 1  # one quiver of arrows
    plt.close(fig)


def test_legend_handles_name_the_tiles_and_the_last_checkpoint_is_outlined():
    from matplotlib.patches import Rectangle

    from mesabase.sims.reports.render import TILE_NAMES, legend_handles

    loop = build_gridworld("#####\n#S>v#\n#^<.#\n#####")
    labels = [h.get_label() for h in legend_handles([loop], greyed=True, outlined=True)]
    assert labels[:4] == [TILE_NAMES[c] for c in "S.#^"]
    assert "hatched: never reached with this status" in labels
    assert "checkpoint credited last (outlined)" in labels
    assert labels[-1].startswith("one arrow per action") and "$" in labels[-1]
    fig, ax = plt.subplots()
    plot_policy(loop, np.full((loop.n_states, 4), 0.25), collected=(0, 0, 0), ax=ax)
    r, c = loop.checkpoints[0]
    outlines = [p for p in ax.patches if isinstance(p, Rectangle) and not p.get_fill()]
    assert [(p.get_x() + 0.44, p.get_y() + 0.44) for p in outlines] == [(c, r)]
    plt.close(fig)
