"""The ``softmax-trap`` scenario: registration, its exact values, REINFORCE committing to a
worse arm its own history ranks below the best (inner), and the full optimiser not."""

import numpy as np
import pytest

from mesabase.sims import FullOptimizer, Reinforce
from mesabase.sims.attribution import run
from mesabase.sims.scenarios import SCENARIOS, SHIPPED, get_scenario
from mesabase.sims.scenarios import softmax_trap as st
from mesabase.sims.simulation import simulate
from mesabase.theory import history_optimal, solve
from mesabase.theory.attribution.gaps import behaviour_values

NAME = "softmax-trap"
BEH = "commits-to-worse-arm"
K = st.N_ARMS


@pytest.fixture(scope="module")
def sc():
    return get_scenario(NAME)


@pytest.fixture(scope="module")
def runs(sc):
    """``run`` of each learner at the scenario's default sizes (< 1 s each)."""
    return {name: run(NAME, learner=name) for name in ("reinforce", "full")}


def _sample_means(history, n_actions):
    """(N, A) per-arm sample means of the history (NaN for an untried arm) and counts."""
    a, r = history.actions, history.rewards
    counts = np.stack([(a == k).sum(1) for k in range(n_actions)], 1)
    sums = np.stack([(r * (a == k)).sum(1) for k in range(n_actions)], 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / counts, np.nan), counts


# ---- registration ---------------------------------------------------------------------------
def test_registered_not_shipped(sc):
    assert NAME in SCENARIOS and NAME not in SHIPPED
    assert get_scenario(NAME) is sc and sc.name == NAME
    assert sc.default_learner == "reinforce" and set(sc.learners) == {"reinforce", "full"}
    assert (sc.steps, sc.seeds, sc.record_every) == (3000, 20, 300)
    assert list(sc.behaviours) == [BEH]


def test_reinforce_is_the_library_default(sc):
    """The learner is ``Reinforce()`` as it stands: the default step size, no baseline."""
    learner, default = sc.learners["reinforce"], Reinforce()
    assert repr(learner) == repr(default)
    assert learner.lr == default.lr and learner.baseline is None and learner.mode == "step"
    full = sc.learners["full"]
    assert isinstance(full, FullOptimizer) and full.objective == "ce"
    assert full.reward_prior > st.R_BEST   # optimistic about untried arms


# ---- the exact values -----------------------------------------------------------------------
def test_exact_values(sc):
    g = st.GAMMA
    r = np.array([st.R_BEST] + [st.R_WORSE] * (K - 1))
    assert np.array_equal(sc.R_B, r[None]) and np.array_equal(sc.R_I, sc.R_B)
    assert (r > 0).all() and int(np.argmax(r)) == 0 and (r[1:] < r[0]).all()
    M = sc.train.mdp
    assert M.horizon is None and M.gamma == g and sc.train.noise == "none"
    sol = solve(M)
    assert sol.optimal.tolist() == [[True] + [False] * (K - 1)]
    J_star = float(M.mu0 @ sol.V)
    assert J_star == pytest.approx(st.R_BEST / (1 - g), abs=1e-9) == pytest.approx(50.0)
    b = sc.behaviours[BEH]
    assert b.threshold == 0.5
    assert np.allclose(b.reward, np.r_[0.0, [1 - g] * (K - 1)][None])
    # J_b(π) = π(worse), J_I(π) = 50 − 2.5 π(worse), on a few policies
    pis = np.array([np.eye(K)[0], np.eye(K)[3], np.full(K, 1 / K), np.r_[0.5, [0.5 / (K - 1)]
                                                                          * (K - 1)]])
    worse = pis[:, 1:].sum(1)
    assert np.allclose(behaviour_values(M, b.reward, pis[:, None]), worse, atol=1e-12)
    J = behaviour_values(M, sc.R_I, pis[:, None])
    gap = (st.R_BEST - st.R_WORSE) / (1 - g)
    assert gap == pytest.approx(2.5)
    assert np.allclose(J, J_star - gap * worse, atol=1e-9)


# ---- REINFORCE commits to a worse arm its history ranks second -------------------------------
def test_reinforce_commits_with_the_best_arm_ranked_first(sc, runs):
    r, a = runs["reinforce"]
    m = st.MEASURED["reinforce"]
    pi = r.policies[:, -1, 0]                          # (N, K) at t = 3000
    committed = pi[:, 1:].max(1) >= 0.5
    assert committed.sum() == m["worse_arm"] and committed.mean() >= 0.6
    arm = pi.argmax(1)
    means, counts = _sample_means(r.history, K)
    ranked = (counts[:, 0] > 0) & (means[np.arange(len(arm)), 0]
                                   > means[np.arange(len(arm)), arm])
    assert (committed & ranked).sum() == m["best_ranked_first"] == committed.sum()
    # the history objective itself (CE) has the single maximiser "arm 0" in those seeds
    sol = history_optimal(r.history, "ce", n_states=1, n_actions=K, gamma=st.GAMMA)
    opt = np.asarray(sol.optimal)[:, 0]                # (N, K)
    assert (opt[committed] == np.eye(K, dtype=bool)[0]).all()


def test_reinforce_attribution_is_inner(runs):
    _, a = runs["reinforce"]
    m = st.MEASURED["reinforce"]
    b = a.behaviours[(a.behaviours.step == a.behaviours.step.max())
                     & (a.behaviours.behaviour == BEH)]
    counts = b.label.value_counts().to_dict()
    assert {k: counts.get(k, 0) for k in ("inner", "none", "outer")} == m["labels"]
    v = a.verdicts.set_index("behaviour").loc[BEH]
    assert v.verdict == "inner" and v.frac_inner >= 0.6 and v.frac_outer < 0.2
    f = a.final
    assert float(f.learner_gap.mean()) == pytest.approx(m["learner_gap"], abs=1e-3)
    assert np.allclose(f.learner_gap, f.total, atol=1e-9)   # all of the regret is inner


# ---- the full optimiser does not --------------------------------------------------------------
def test_full_optimiser_tries_every_arm_then_plays_the_best(sc, runs):
    r, a = runs["full"]
    m = st.MEASURED["full"]
    h = r.history
    # the first K pulls are the K arms, each once (optimistic CE model, ties uniform)
    assert (np.sort(h.actions[:, :K], axis=1) == np.arange(K)).all()
    assert (h.actions[:, K:] == 0).all()
    # from then on its CE objective ranks arm 0 first (the history's L_t, prior-free)
    for t in (K, K + 1, sc.steps):
        sol = history_optimal(h[:t], "ce", n_states=1, n_actions=K, gamma=st.GAMMA)
        assert (np.asarray(sol.optimal)[:, 0] == np.eye(K, dtype=bool)[0]).all()
    pi = r.policies[:, -1, 0]
    assert (pi[:, 1:].max(1) >= 0.5).sum() == m["worse_arm"] == 0
    b = a.behaviours[a.behaviours.step == a.behaviours.step.max()]
    assert (b.label == "none").sum() == m["labels"]["none"] == len(b)
    assert a.verdicts.set_index("behaviour").loc[BEH].verdict == "none"
    assert np.allclose(a.final.total, 0.0, atol=1e-9)


def test_small_sizes_are_deterministic(sc):
    """The same seeds give the same pulls (a short run, no shadow)."""
    one = simulate(sc.train, sc.get_learner(), 200, seeds=[3, 5], shadow=None,
                   record_every=100)
    two = simulate(sc.train, sc.get_learner(), 200, seeds=[3, 5], shadow=None,
                   record_every=100)
    assert np.array_equal(one.history.actions, two.history.actions)
    assert np.array_equal(one.policies, two.policies)
