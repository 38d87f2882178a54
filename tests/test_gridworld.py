"""Gridworlds from ASCII maps: parsing, dynamics, named rewards, features, behaviours."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesabase.sims.agents.policies import LinearSoftmax
from mesabase.sims.envs.features import FEATURE_NAMES, distance_map, grid_features
from mesabase.sims.envs.gridmap import MapError, parse_map
from mesabase.sims.envs.gridworld import (
    MAX_ITEMS,
    REWARD_NAMES,
    GridState,
    build_gridworld,
    expected_count,
)
from mesabase.theory import expected_return, solve

N, S_, E, W = 0, 1, 2, 3
TOL = 1e-12

TRACK = """
#####
#S>.#
#^#v#
#.<.#
#####
"""
TRAIN = """
#######
#S..c.#
#.#.#k#
#c..c.#
#######
"""
DEPLOY = """
#######
#S..k.#
#.#.#k#
#k..c.#
#######
"""


def walk(world, state, actions):
    """Follow deterministic transitions; return the end state and the summed named rewards."""
    s = world.encode(*state) if isinstance(state, tuple) else state
    total = dict.fromkeys(REWARD_NAMES, 0.0)
    for a in actions:
        for name in REWARD_NAMES:
            total[name] += world.rewards[name][s, a]
        row = world.mdp.P[s, a]
        assert row.max() == pytest.approx(1.0, abs=TOL), "walk needs deterministic moves"
        s = int(np.argmax(row))
    return world.decode(s), total


def constant_policy(world, action):
    pi = np.zeros((world.n_states, world.n_actions))
    pi[:, action] = 1.0
    return pi


# ---- parsing -----------------------------------------------------------------------------
@pytest.mark.parametrize("text, match", [
    ("S.x", r"unknown character 'x' at row 0, column 2"),
    ("S..\n..", r"ragged map: row 1 .* has 2 characters but row 0 has 3"),
    ("...\n.k.", r"no start cell 'S'"),
    ("\n   \n", r"the map is empty"),
    ("S" + "k" * 9 + "c" * 8, rf"9 keys and 8 chests; at most {MAX_ITEMS}"),
])
def test_parse_errors_say_what_and_where(text, match):
    with pytest.raises(MapError, match=match):
        build_gridworld(text)


def test_parse_strips_indentation_and_blank_edges():
    assert parse_map("\n    #S.#\n    #.G#\n\n") == ("#S.#", "#.G#")


@pytest.mark.parametrize("kwargs, match", [
    (dict(slip=1.5), r"slip must be a probability"),
    (dict(rewards={"coins": 1.0}), r"unknown reward 'coins'"),
    (dict(step_reward=-1.0, rewards={"step": -1.0}), r"give the step weight once"),
    (dict(max_states=3), r"more than max_states=3"),
])
def test_build_option_errors(kwargs, match):
    with pytest.raises(MapError, match=match):
        build_gridworld("S.kc", **kwargs)


def test_checkpoint_order_errors():
    with pytest.raises(MapError, match="do not all turn the same way"):
        build_gridworld("S>.\n.#.\n.>.")  # both point east: one turns each way
    with pytest.raises(MapError, match="points towards or away from the track's centre"):
        build_gridworld("S>.<")  # on one line: every arrow points along the centre line
    with pytest.raises(MapError, match="exactly once"):
        build_gridworld(TRACK, checkpoint_order=[(1, 2)])


# ---- round trip and the MDP's basic contract ----------------------------------------------
MAPS = ["S.kc", TRAIN, DEPLOY, TRACK, "#S.L\n#..G\n#c.k"]


@pytest.mark.parametrize("text", MAPS)
def test_round_trip_and_stochastic_rows(text):
    w = build_gridworld(text, slip=0.1)
    assert w.to_ascii() == "\n".join(parse_map(text))
    w2 = build_gridworld(w.to_ascii(), slip=0.1)
    assert w2.states == w.states
    np.testing.assert_allclose(w2.mdp.P, w.mdp.P, rtol=0, atol=TOL)
    np.testing.assert_allclose(w.mdp.P.sum(-1), 1.0, rtol=0, atol=TOL)
    for s in range(w.n_states):
        assert w.encode(*w.decode(s)) == s


@st.composite
def ascii_maps(draw):
    h, wd = draw(st.integers(1, 3)), draw(st.integers(2, 4))
    cells = draw(st.lists(st.sampled_from("#..kcGL><"), min_size=h * wd, max_size=h * wd))
    cells[draw(st.integers(0, h * wd - 1))] = "S"
    return "\n".join("".join(cells[i * wd:(i + 1) * wd]) for i in range(h))


@given(text=ascii_maps(), slip=st.sampled_from([0.0, 0.3]))
def test_random_maps_round_trip_and_are_valid(text, slip):
    try:
        w = build_gridworld(text, slip=slip)
    except MapError as e:  # only the lap-order rule may refuse a well-formed map
        assert "lap order" in str(e)
        return
    assert build_gridworld(w.to_ascii(), slip=slip).to_ascii() == text
    np.testing.assert_allclose(w.mdp.P.sum(-1), 1.0, rtol=0, atol=TOL)
    absorbing = w.absorbing
    for name in REWARD_NAMES:
        assert (w.rewards[name][absorbing] == 0).all(), name  # absorbing: no events
    for st_ in w.states:  # collected status is consistent: never more chests than keys
        assert st_.held >= 0


# ---- hand-checked dynamics ---------------------------------------------------------------
def test_corridor_optimal_value_is_exact():
    w = build_gridworld("S.kc", gamma=Fraction(9, 10))
    assert w.mdp.is_exact
    sol = solve(w.mdp, method="exact")
    assert sol.V[w.encode(0, 0)] == Fraction(81, 100)  # key at t = 1, chest at t = 2: γ²
    fsol = solve(build_gridworld("S.kc", gamma=0.9).mdp)
    assert fsol.V[w.encode(0, 0)] == pytest.approx(0.81, abs=1e-9)


def test_a_chest_without_a_key_yields_nothing():
    w = build_gridworld("S.c", gamma=0.9, horizon=6)
    assert not w.rewards["chests_opened"].any()
    assert solve(w.mdp).V[0].max() == 0.0
    # chest before key: walking over it first does nothing, coming back with the key opens it
    w = build_gridworld("Sck", gamma=0.5)
    s0 = w.encode(0, 0)
    assert w.rewards["chests_opened"][s0, E] == 0.0
    end, total = walk(w, (0, 0), [E, E, W])
    assert end == GridState(0, 1, keys=1, chests=1)
    assert (total["keys_collected"], total["chests_opened"]) == (1.0, 1.0)
    assert solve(w.mdp).V[s0] == pytest.approx(0.25, abs=1e-9)  # γ²


def test_each_chest_opens_once_and_keys_are_counted():
    w = build_gridworld("Skkc", gamma=1.0, horizon=10)
    end, total = walk(w, (0, 0), [E, E, E, W, E, W, E])
    assert end == GridState(0, 3, keys=0b11, chests=1)
    assert end.held == 1
    assert total["keys_collected"] == 2.0 and total["chests_opened"] == 1.0
    V = solve(w.mdp).V[0]
    assert V[w.encode(0, 0)] == pytest.approx(1.0, abs=TOL)  # 2 keys, 1 chest: 1 opening
    Vk = solve(w.with_reward({"keys_collected": 1.0})).V[0]
    assert Vk[w.encode(0, 0)] == pytest.approx(2.0, abs=TOL)


def test_slip_moves_to_the_other_directions():
    w = build_gridworld("S.G", slip=0.3)
    s0, s1 = w.encode(0, 0), w.encode(0, 1)
    assert w.mdp.P[s0, E, s1] == pytest.approx(0.7, abs=TOL)
    assert w.mdp.P[s0, E, s0] == pytest.approx(0.3, abs=TOL)  # N, S, W all blocked
    assert w.rewards["goal"][s1, E] == pytest.approx(0.7, abs=TOL)
    assert w.rewards["goal"][s1, W] == pytest.approx(0.1, abs=TOL)
    assert w.rewards["step"][s1, W] == pytest.approx(1.0, abs=TOL)
    g = w.encode(0, 2)
    assert w.absorbing[g] and w.mdp.R[g].max() == 0.0
    np.testing.assert_allclose(w.mdp.P[g, :, g], 1.0, rtol=0, atol=TOL)


def test_lava_and_goal_end_the_episode_with_their_rewards():
    # episodic (γ = 1): goal and lava are terminal; the step cost makes staying put a loss
    w = build_gridworld("LSG", gamma=1.0, step_reward=-0.1)
    s = w.encode(0, 1)
    assert w.mdp.R[s, E] == pytest.approx(0.9, abs=TOL)
    assert w.mdp.R[s, W] == pytest.approx(-1.1, abs=TOL)
    sol = solve(w.mdp)
    assert sol.V[s] == pytest.approx(0.9, abs=1e-9) and sol.optimal[s].tolist() == [
        False, False, True, False]
    env = w.env()
    assert env.absorbing.tolist() == w.absorbing.tolist()


def test_sparse_and_dense_agree():
    dense = build_gridworld(TRAIN, slip=0.2, sparse=False)
    sparse = build_gridworld(TRAIN, slip=0.2, sparse=True)
    assert sparse.mdp.is_sparse and not dense.mdp.is_sparse
    np.testing.assert_allclose(solve(sparse.mdp).V, solve(dense.mdp).V, rtol=0, atol=1e-8)


def test_training_layout_optimum_opens_chests():
    w = build_gridworld(TRAIN, gamma=0.95, horizon=20)
    pi = solve(w.mdp).policy
    assert expected_count(w, pi, "chests_opened", gamma=1.0) == pytest.approx(1.0, abs=1e-9)
    assert expected_count(w, pi, "keys_collected", gamma=1.0) == pytest.approx(1.0, abs=1e-9)


# ---- the boat-race track -----------------------------------------------------------------
def test_track_lap_order_is_clockwise():
    w = build_gridworld(TRACK)
    order = [w.cell(*rc) for rc in w.checkpoints]
    i = order.index(">")
    assert order[i:] + order[:i] == [">", "v", "<", "^"]


def test_back_and_forth_pays_checkpoints_but_not_laps():
    w = build_gridworld(TRACK, gamma=1.0, horizon=8)
    _, lap = walk(w, (1, 1), [E, E, S_, S_, W, W, N, N])
    _, hack = walk(w, (1, 1), [E, W] * 4)
    assert lap["checkpoints"] == hack["checkpoints"] == 4.0
    assert lap["laps"] == pytest.approx(1.0, abs=TOL)
    assert hack["laps"] == pytest.approx(0.25, abs=TOL)
    sol = solve(w.mdp)  # base optimum: both ways earn 4 in 8 steps, so the set holds both
    assert sol.V[0][w.encode(1, 1)] == pytest.approx(4.0, abs=TOL)
    laps_opt = solve(w.with_reward({"laps": 1.0})).V[0][w.encode(1, 1)]
    assert laps_opt == pytest.approx(1.0, abs=TOL)
    base_laps = expected_count(w, sol.policy, "laps")
    assert base_laps < laps_opt - 0.1


# ---- features ----------------------------------------------------------------------------
def test_features_have_their_documented_meaning():
    w = build_gridworld("S.k\n.c.")
    names = ["toward_key", "toward_chest", "toward_chest_with_key", "blocked", "east"]
    phi = grid_features(w, names)
    col = {n: i for i, n in enumerate(names)}
    s = w.encode(0, 0)
    assert phi[s, :, col["toward_key"]].tolist() == [0, 0, 1, 0]       # only east
    assert phi[s, :, col["toward_chest"]].tolist() == [0, 1, 1, 0]     # south or east
    assert phi[s, :, col["toward_chest_with_key"]].tolist() == [0, 0, 0, 0]  # no key yet
    assert phi[s, :, col["blocked"]].tolist() == [1, 0, 0, 1]          # north, west: edge
    assert phi[s, :, col["east"]].tolist() == [0, 0, 1, 0]
    s = w.encode(0, 2, keys=1)  # key in hand: both ways to the chest count, keys do not
    assert phi[s, :, col["toward_chest_with_key"]].tolist() == [0, 1, 0, 1]
    assert not phi[s, :, col["toward_key"]].any()


def test_feature_errors_and_distance_map():
    w = build_gridworld("S.#k")
    with pytest.raises(MapError, match="unknown feature 'coins'"):
        grid_features(w, ["coins"])
    assert distance_map(w, [(0, 3)]).tolist() == [[np.inf, np.inf, np.inf, 0.0]]


def test_checkpoint_features_on_the_track():
    w = build_gridworld(TRACK)
    phi = grid_features(w, ["enters_checkpoint", "toward_next_checkpoint"])
    assert phi[w.encode(1, 1), :, 0].tolist() == [0, 0, 1, 0]  # east onto '>'; south: '^' no
    s = w.encode(3, 1)  # reached by S, S from the start, against '^': nothing credited yet
    assert phi[s, :, 0].tolist() == [1, 0, 0, 0]  # north onto '^'; east onto '<' is against
    assert phi[s, :, 1].tolist() == [1, 0, 1, 0]  # before the first, any checkpoint is next
    s = w.encode(1, 3, lap=w.checkpoints.index((1, 2)))  # '>' credited: 'v' is next
    assert phi[s, :, 1].tolist() == [0, 1, 0, 0]


def test_one_theta_gives_a_policy_on_train_and_deploy_layouts():
    train, deploy = build_gridworld(TRAIN, horizon=20), build_gridworld(DEPLOY, horizon=20)
    theta = np.zeros(len(FEATURE_NAMES))
    theta[FEATURE_NAMES.index("toward_key")] = 5.0
    theta[FEATURE_NAMES.index("toward_chest_with_key")] = 2.0
    counts = []
    for w in (train, deploy):
        pi = LinearSoftmax(grid_features(w)).probs(theta[None])[0]
        np.testing.assert_allclose(pi.sum(-1), 1.0, rtol=0, atol=1e-12)
        counts.append(expected_count(w, pi, "keys_collected", gamma=1.0))
    assert counts[1] > counts[0] + 0.5  # the key-seeking policy finds more keys in deployment


# ---- behaviours: exact, hand-computed ------------------------------------------------------
def test_expected_counts_match_hand_values():
    w = build_gridworld("S.kc", gamma=0.5)
    east = constant_policy(w, E)
    assert expected_count(w, east, "keys_collected") == pytest.approx(0.5, abs=TOL)
    assert expected_count(w, east, "chests_opened") == pytest.approx(0.25, abs=TOL)
    # uniform random policy, 3 steps, undiscounted: keys 1/16 + 5/64, chests 1/64
    w3 = build_gridworld("S.kc", gamma=0.5, horizon=3)
    uniform = np.full((w3.n_states, 4), 0.25)
    assert expected_count(w3, uniform, "keys_collected", gamma=1.0) == pytest.approx(
        9 / 64, abs=TOL)
    assert expected_count(w3, uniform, "chests_opened", gamma=1.0) == pytest.approx(
        1 / 64, abs=TOL)
    assert expected_count(w3, uniform, "step", gamma=1.0) == pytest.approx(3.0, abs=TOL)
    base = expected_return(w3.mdp, uniform)  # the world's γ and base reward (chests)
    assert base == pytest.approx(0.25 * 1 / 64, abs=TOL)
    with pytest.raises(MapError, match="unknown reward"):
        expected_count(w, east, "coins")


def test_mu0_uniform_over_starts_and_encode_errors():
    w = build_gridworld("S.S")
    assert w.mdp.mu0[w.encode(0, 0)] == 0.5 and w.mdp.mu0[w.encode(0, 2)] == 0.5
    with pytest.raises(MapError, match="not a state of this world"):
        w.encode(0, 1, keys=1)
    with pytest.raises(MapError, match="out of range"):
        w.decode(w.n_states)
