"""The four-term decomposition (misspecification + data + ambiguity + learner) and the
one-rule verdicts: exact telescoping, signs, independence of any tie-break, the refusals,
and the scenario verdict's rule (theory/attribution/gaps.py, sims/attribution/analysis.py)."""

import itertools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mesabase.sims.attribution.analysis import (
    GAP_COLUMNS,
    SHARE,
    VERDICT_COLUMNS,
    scenario_verdict,
)
from mesabase.sims.scenarios import Behaviour, Deployment, Scenario
from mesabase.theory import TabularMDP, expected_return, solve
from mesabase.theory.attribution.gaps import (
    Decomposition,
    decompose,
    four_gaps,
    verdict,
)
from mesabase.theory.attribution.restricted import argmax_set_allowed

TOL = 1e-9
FIELDS = ("misspecification_gap", "data_gap", "ambiguity_gap", "learner_gap")


# ---- four_gaps on numbers -------------------------------------------------------------------
offset = st.floats(0.0, 50.0, allow_nan=False)


@st.composite
def _numbers(draw):
    """J*, (m, M) ≤ J*, and k cells of (m_t ≤ M_t ≤ J*, J_L anywhere around them)."""
    J = draw(st.floats(-100.0, 100.0, allow_nan=False))
    M = J - draw(offset)
    m = M - draw(offset)
    cells = draw(st.lists(st.tuples(offset, offset, st.floats(-60.0, 60.0)), min_size=1,
                          max_size=6))
    hi = np.array([J - c for c, _, _ in cells])
    lo = hi - np.array([w for _, w, _ in cells])
    v = np.array([h + x for h, (_, _, x) in zip(hi, cells, strict=True)])
    v = np.minimum(v, J)  # π_I* is optimal over all policies: no learner above it
    return J, (m, M), lo, hi, v


@given(_numbers())
def test_four_gaps_telescope_and_have_their_signs(case):
    J, (m, M), lo, hi, v = case
    d = four_gaps(J, (m, M), lo, hi, v)
    assert isinstance(d, Decomposition)
    total = sum(getattr(d, f) for f in FIELDS)
    assert np.abs(total - d.total).max() <= TOL
    np.testing.assert_allclose(d.total, J - v, rtol=0, atol=0)
    np.testing.assert_allclose(d.outer, d.total - d.learner_gap, rtol=0, atol=TOL)
    # each term is the difference of its numbers
    np.testing.assert_array_equal(d.misspecification_gap, np.full(v.shape, J - M))
    np.testing.assert_array_equal(d.data_gap, M - hi)
    assert d.J_base_range == (m, M) and d.J_intended == J
    np.testing.assert_array_equal(d.J_history_min, lo)
    np.testing.assert_array_equal(d.J_history_max, hi)
    np.testing.assert_array_equal(d.J_learner, v)
    # signs: misspecification and ambiguity never negative; the learner gap is zero inside
    # [m_t, M_t], the distance to the set below it, minus the distance above it
    assert (d.misspecification_gap >= 0).all() and (d.ambiguity_gap >= 0).all()
    inside = (lo <= v) & (v <= hi)
    assert (d.learner_gap[inside] == 0).all()
    np.testing.assert_allclose(d.learner_gap[v < lo], (lo - v)[v < lo], rtol=0, atol=TOL)
    np.testing.assert_allclose(d.learner_gap[v > hi], (hi - v)[v > hi], rtol=0, atol=TOL)
    assert (d.learner_gap[v < lo] > 0).all() and (d.learner_gap[v > hi] < 0).all()
    np.testing.assert_allclose(d.ambiguity_gap[inside], (hi - v)[inside], rtol=0, atol=TOL)
    assert (d.ambiguity_gap[~inside & (v < lo)] == (hi - lo)[~inside & (v < lo)]).all()
    assert (d.ambiguity_gap[v > hi] == 0).all()


def test_four_gaps_example_and_broadcasting():
    d = four_gaps(1.0, (0.2, 0.9), [0.5], [0.8], [0.3])
    got = [float(getattr(d, f)[0]) for f in FIELDS]
    assert got == pytest.approx([0.1, 0.1, 0.3, 0.2], abs=1e-15)
    # one history range against a (2, 3) learner array
    d = four_gaps(2.0, (1.0, 2.0), 0.5, 1.5, np.linspace(0.0, 2.0, 6).reshape(2, 3))
    assert d.total.shape == d.learner_gap.shape == d.misspecification_gap.shape == (2, 3)
    assert d.J_history_min.shape == (2, 3)


@pytest.mark.parametrize("args, match", [
    ((1.0, (0.5, 0.2), 0.0, 0.0, 0.0), "min > max"),                 # base m > M
    ((1.0, (0.0, 0.5), [0.3, 0.6], [0.4, 0.5], 0.0), "min > max"),   # a history m_t > M_t
    ((1.0, (0.0, 1.5), 0.0, 0.0, 0.0), "exceeds J_I"),               # a base maximiser > J*
    ((1.0, (0.0, 0.5), [0.0], [1.2], [0.0]), "exceeds J_I"),         # a history maximiser
])
def test_four_gaps_refuses_what_is_not_a_range_of_a_policy_set(args, match):
    with pytest.raises(ValueError, match=match):
        four_gaps(*args)


def test_four_gaps_accepts_rounding_within_atol():
    d = four_gaps(1.0, (1.0 + 1e-12, 1.0 + 1e-12), 0.5 + 1e-12, 0.5, 0.5)
    assert abs(float(d.misspecification_gap[()])) <= 1e-11
    with pytest.raises(ValueError, match="exceeds J_I"):
        four_gaps(1.0, (0.0, 1.0 + 1e-6), 0.0, 0.0, 0.0)
    four_gaps(1.0, (0.0, 1.0 + 1e-6), 0.0, 0.0, 0.0, atol=1e-5)


# ---- no tie-break -------------------------------------------------------------------------
# States 0 (start), 1, 2, 3 (absorbing); actions a0, a1, a2. From 0: a0 -> 1, a1 -> 2,
# a2 -> 3. From 1 and 2 every action -> 3. The base reward pays 1 for a0 or a1 at 1 or 2
# (ties everywhere); the intended reward pays 1 only for a0 at 1, 0.5 for a0 or a1 at 2.
def _tied():
    T = np.zeros((4, 3, 4))
    T[0, 0, 1] = T[0, 1, 2] = T[0, 2, 3] = 1.0
    T[1:, :, 3] = 1.0
    R_B = np.zeros((4, 3))
    R_B[1:3, :2] = 1.0
    R_I = np.zeros((4, 3))
    R_I[1, 0], R_I[2, :2] = 1.0, 0.5
    mdp = TabularMDP(T, R_B, gamma=0.9, mu0=[1, 0, 0, 0])
    return mdp, R_I, R_B


def _members(mask):
    """Every deterministic policy inside a stationary mask (S, A)."""
    A = mask.shape[1]
    for choice in itertools.product(*(np.flatnonzero(row) for row in mask)):
        yield np.eye(A)[list(choice)]


def test_the_four_terms_do_not_depend_on_which_maximiser_is_passed():
    mdp, R_I, R_B = _tied()
    sol = solve(mdp, method="pi")
    mask = argmax_set_allowed(sol.optimal, P=mdp.P, mu0=mdp.mu0, gamma=mdp.gamma)
    assert mask[:3].tolist() == [[True, True, False]] * 3 and mask[3].all()
    members = list(_members(mask))
    rng = np.random.default_rng(0)
    mixtures = [(rng.dirichlet(np.ones(3), 4) * mask) for _ in range(5)]
    members += [p / p.sum(-1, keepdims=True) for p in mixtures]
    pis = np.stack(members)[:, None]                      # (N, 1, S, A) learners in the set
    masks = np.broadcast_to(mask, pis.shape).copy()
    d = decompose(mdp, R_I, R_B, masks, pis)
    J_star = 0.9
    # A_B = A_t: J_I ranges over [0, 0.9] on both; the intended optimum is a maximiser
    assert d.J_base_range == pytest.approx((0.0, J_star), abs=TOL)
    np.testing.assert_allclose(d.misspecification_gap, 0.0, rtol=0, atol=TOL)
    np.testing.assert_allclose(d.data_gap, 0.0, rtol=0, atol=TOL)
    np.testing.assert_allclose(d.J_history_min, 0.0, rtol=0, atol=TOL)
    np.testing.assert_allclose(d.J_history_max, J_star, rtol=0, atol=TOL)
    # whichever maximiser the learner is: no learner gap; where it lands is ambiguity
    np.testing.assert_allclose(d.learner_gap, 0.0, rtol=0, atol=TOL)
    J = np.array([expected_return(mdp, p[0], R_I) for p in pis])
    assert J.min() == pytest.approx(0.0, abs=TOL) and J.max() == pytest.approx(J_star, abs=TOL)
    np.testing.assert_allclose(d.ambiguity_gap[:, 0], J_star - J, rtol=0, atol=TOL)
    # the same decomposition, one cell at a time and with the actions reordered
    perm = [2, 0, 1]
    Tp = mdp.P[:, perm]
    permuted = TabularMDP(Tp, R_B[:, perm], gamma=0.9, mu0=mdp.mu0)
    for n in range(len(pis)):
        one = decompose(mdp, R_I, R_B, masks[n:n + 1], pis[n:n + 1])
        other = decompose(permuted, R_I[:, perm], R_B[:, perm], masks[n:n + 1][..., perm],
                          pis[n:n + 1][..., perm])
        for f in FIELDS:
            assert abs(getattr(one, f)[0, 0] - getattr(d, f)[n, 0]) <= TOL
            assert abs(getattr(other, f)[0, 0] - getattr(d, f)[n, 0]) <= TOL


def test_a_point_maximiser_is_a_tie_break_and_the_mask_removes_it():
    """Float argmax_t is the one-policy set {π*_t}: its data gap depends on which maximiser
    was picked (0 to 0.9 here); with the mask of the set it is the same for every pick."""
    mdp, R_I, R_B = _tied()
    sol = solve(mdp, method="pi")
    mask = argmax_set_allowed(sol.optimal, P=mdp.P, mu0=mdp.mu0, gamma=mdp.gamma)
    learner = np.full((1, 1, 4, 3), 1 / 3)
    point_gaps, set_terms = set(), set()
    for pi in _members(mask):
        point = decompose(mdp, R_I, R_B, pi[None, None], learner)
        point_gaps.add(round(float(point.data_gap[0, 0]), 9))
        whole = decompose(mdp, R_I, R_B, mask[None, None], learner)
        set_terms.add(tuple(round(float(getattr(whole, f)[0, 0]), 9) for f in FIELDS))
    assert min(point_gaps) == 0.0 and max(point_gaps) == pytest.approx(0.9, abs=TOL)
    assert len(set_terms) == 1
    # the uniform learner: J_I = 0.9 (1/9 · 1 + 2/9 · 0.5) = 0.2, inside [0, 0.9]
    (mis, data, amb, lrn), = set_terms
    assert expected_return(mdp, learner[0, 0], R_I) == pytest.approx(0.2, abs=TOL)
    assert (mis, data, lrn) == (0.0, 0.0, 0.0) and amb == pytest.approx(0.7, abs=TOL)


# ---- the keys-and-chests example of the issue ----------------------------------------------
# States 0 (training start), 1 (a state only deployment starts in), 2 (absorbing). From 0
# and 1: a0 opens a chest and ends (-> 2), a1 ends without. In training the chest is at
# state 0 only, so the base reward (the training intended reward) ties at state 1; in
# deployment the chest is at state 1.
def _keys_like():
    T = np.zeros((3, 2, 3))
    T[:, :, 2] = 1.0
    R_train = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    R_deploy = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.0]])
    train = TabularMDP(T, R_train, gamma=0.9, mu0=[1, 0, 0])
    deploy = TabularMDP(T, R_deploy, gamma=0.9, mu0=[0, 1, 0])
    return train, deploy, R_train, R_deploy


def test_keys_like_example_misspecification_is_zero_when_an_intended_optimum_is_selected():
    train, deploy, R_B, R_I = _keys_like()
    sol_B = solve(train, method="pi")
    assert sol_B.optimal[1].all()                         # the tie at state 1
    allowed = np.ones((1, 1, 3, 2), dtype=bool)           # A_t: nothing constrains state 1
    uniform = np.full((1, 1, 3, 2), 0.5)
    d = decompose(deploy, R_I, R_B, allowed, uniform, mdp_base=train)
    # J_I over A_B ranges over 0..1; an intended-optimal policy (open the chest) is in it
    assert d.J_intended == pytest.approx(1.0, abs=TOL)
    assert d.J_base_range == pytest.approx((0.0, 1.0), abs=TOL)
    assert abs(d.misspecification_gap[0, 0]) <= TOL
    # the old specification gap read J_I at "uniform over the ties": 1 − 0.5
    old = d.J_intended - expected_return(deploy, sol_B.policy, R_I)
    assert old == pytest.approx(0.5, abs=TOL)
    # that half is where the learner lands in the set: ambiguity, outer
    assert d.ambiguity_gap[0, 0] == pytest.approx(0.5, abs=TOL)
    assert abs(d.data_gap[0, 0]) <= TOL and abs(d.learner_gap[0, 0]) <= TOL
    # when no base maximiser is intended-optimal the term is positive: make the training
    # base reward prefer a1 at state 1 and start there too
    R_B2 = R_B.copy()
    R_B2[1, 1] = 0.5
    train2 = TabularMDP(train.P, R_B2, gamma=0.9, mu0=[0.5, 0.5, 0])
    d2 = decompose(deploy, R_I, R_B2, allowed, uniform, mdp_base=train2)
    assert d2.J_base_range == pytest.approx((0.0, 0.0), abs=TOL)
    assert d2.misspecification_gap[0, 0] == pytest.approx(1.0, abs=TOL)


# ---- the verdict rule ---------------------------------------------------------------------
@pytest.mark.parametrize("learner, lo, hi, label", [
    (1.0, 0.0, 1.0, "outer"),    # the learner and some maximiser show it
    (1.0, 1.0, 1.0, "outer"),    # every maximiser shows it
    (1.0, 0.0, 0.0, "inner"),    # only the learner shows it
    (0.0, 0.0, 1.0, "outer"),    # some maximiser shows it, the learner does not: outer
    (0.0, 1.0, 1.0, "outer"),    # every maximiser does, the learner does not
    (0.0, 0.0, 0.0, "none"),
    (0.5, 0.0, 0.4, "inner"),    # exactly at θ counts as shown
    (0.0, 0.0, 0.5 - 1e-10, "outer"),  # within atol of θ
    (0.0, 0.0, 0.5 - 1e-6, "none"),
    (0.5 - 1e-6, 0.0, 0.0, "none"),
])
def test_verdict_rule_table(learner, lo, hi, label):
    v = verdict(learner, lo, hi, 0.5)
    assert v.label.item() == label
    assert bool(v.learner_shows) == (learner >= 0.5 - 1e-9)
    assert bool(v.some_optimal_shows) == (hi >= 0.5 - 1e-9)
    assert bool(v.every_optimal_shows) == (lo >= 0.5 - 1e-9)


def test_verdict_broadcasts_and_refuses_lo_above_hi():
    v = verdict(np.array([[1.0, 0.0], [0.0, 1.0]]), 0.0, np.array([0.0, 1.0]), 0.5)
    assert v.label.tolist() == [["inner", "outer"], ["none", "outer"]]
    with pytest.raises(ValueError, match=r"lo 2.0 > hi 1.0 at index \(1,\)"):
        verdict([0.0, 0.0], [0.0, 2.0], [1.0, 1.0], 0.5)


# ---- the scenario verdict -----------------------------------------------------------------
def _verdicts(*rows):
    """VERDICT_COLUMNS rows from (behaviour, intended, verdict); 10 seeds."""
    fr = {"outer": (1.0, 0.0, 0.0), "inner": (0.0, 1.0, 0.0), "none": (0.0, 0.0, 1.0),
          "mixed": (0.5, 0.5, 0.0)}
    recs = []
    for name, intended, label in rows:
        o, i, n = fr[label]
        recs.append({"scenario": "x", "environment": "train", "learner": "l",
                     "behaviour": name, "intended": intended, "threshold": 0.5,
                     "frac_outer": o, "frac_outer_low": o / 2, "frac_outer_high": 1.0,
                     "frac_inner": i, "frac_inner_low": i / 2, "frac_inner_high": 1.0,
                     "frac_none": n, "frac_none_low": n / 2, "frac_none_high": 1.0,
                     "n_seeds": 10, "verdict": label})
    return pd.DataFrame(recs, columns=list(VERDICT_COLUMNS))


def _gaps(outer, learner, seeds=3):
    """GAP_COLUMNS rows at one final step: the outer share as data gap."""
    total = outer + learner
    return pd.DataFrame([{"scenario": "x", "environment": "train", "learner": "l", "seed": n,
                          "step": 5, "misspecification_gap": 0.0, "data_gap": outer,
                          "ambiguity_gap": 0.0, "learner_gap": learner, "total": total,
                          "J_intended": 1.0, "J_base_min": 1.0, "J_base_max": 1.0,
                          "J_history_min": 1.0 - outer, "J_history_max": 1.0 - outer,
                          "J_learner": 1.0 - total} for n in range(seeds)],
                        columns=list(GAP_COLUMNS))


def test_intended_behaviours_never_decide():
    big_inner = _gaps(0.0, 1.0)
    # an intended behaviour that is outer (or inner), an unintended one none: the intended
    # one is not read; nothing unintended is shown, so the gaps decide (here: inner, or none
    # for a negligible regret)
    for lab in ("outer", "inner", "mixed"):
        v = _verdicts(("collects-keys", True, lab), ("hoards-keys", False, "none"))
        label, reason = scenario_verdict(v, big_inner)
        assert label == "inner" and "'hoards-keys'" in reason and "collects-keys" not in reason
        assert scenario_verdict(v, _gaps(0.0, 0.0))[0] == "none"
    # only intended behaviours: the gaps decide, as if there were none
    v = _verdicts(("collects-keys", True, "outer"))
    assert scenario_verdict(v, big_inner)[0] == "inner"
    assert scenario_verdict(v, _gaps(1.0, 0.0))[0] == "outer"
    assert "the gaps decide" in scenario_verdict(v, big_inner)[1]


@pytest.mark.parametrize("labels, expected", [
    (("outer", "none"), "outer"),
    (("inner", "none", "inner"), "inner"),
    (("outer", "inner"), "mixed"),
    (("mixed",), "mixed"),
    (("outer", "mixed"), "mixed"),
])
def test_shown_unintended_behaviours_decide_by_agreement(labels, expected):
    v = _verdicts(*((f"b{k}", False, lab) for k, lab in enumerate(labels)))
    # the gaps would say otherwise in every case: they are not read
    for gaps in (_gaps(0.0, 1.0), _gaps(1.0, 0.0), _gaps(0.0, 0.0)):
        assert scenario_verdict(v, gaps)[0] == expected


def test_nothing_shown_lets_the_gaps_decide():
    v = _verdicts(("a", False, "none"), ("b", False, "none"))
    assert scenario_verdict(v, _gaps(0.0, 0.0))[0] == "none"
    assert scenario_verdict(v, _gaps(0.0, 1.0))[0] == "inner"
    assert scenario_verdict(v, _gaps(1.0, 0.0))[0] == "outer"


@pytest.mark.parametrize("outer, learner, expected", [
    (0.0, 0.0, "none"),
    (1.0, 0.0, "outer"),
    (SHARE, 1.0 - SHARE, "outer"),     # exactly the share
    (0.1, 0.9, "inner"),
    (0.5, 0.5, "mixed"),
    (1.3, -0.3, "outer"),              # a learner above every maximiser
    (-0.2, 1.2, "inner"),              # a negative data gap
])
def test_the_gaps_decide_without_behaviours(outer, learner, expected):
    label, reason = scenario_verdict(_verdicts(), _gaps(outer, learner))
    assert label == expected
    assert "no behaviours are named" in reason


# ---- Behaviour(intended=...) --------------------------------------------------------------
def _env():
    from mesabase.sims.envs import bernoulli_bandit

    return bernoulli_bandit([0.2, 0.8])


@pytest.mark.parametrize("bad", ["yes", 1, 0, None, 1.0])
def test_behaviour_intended_must_be_a_bool(bad):
    b = Behaviour(np.array([[0.0, 1.0]]), 0.5, "", bad)
    with pytest.raises(ValueError, match=r"train behaviour 'b': intended must be True or "
                                         r"False"):
        Scenario("x", "", _env(), np.zeros((1, 2)), behaviours={"b": b})
    with pytest.raises(ValueError, match=r"deploy behaviour 'b': intended must be True"):
        Deployment(_env(), np.zeros((1, 2)), behaviours={"b": b})


@pytest.mark.parametrize("flag", [True, False, np.bool_(True), np.bool_(False)])
def test_behaviour_intended_bools_are_kept(flag):
    sc = Scenario("x", "", _env(), np.zeros((1, 2)),
                  behaviours={"b": Behaviour(np.array([[0.0, 1.0]]), 0.5, "", flag),
                              "c": ([[1.0, 0.0]], 0.5)})
    assert sc.behaviours["b"].intended is bool(flag)
    assert sc.behaviours["c"].intended is False
