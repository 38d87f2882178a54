"""The best meta-objective of the MAML / Meta-SGD class (issue 16, item 2): closed forms at
H = 1 and H = 2, the bracket J(any member) ≤ value ≤ V*, the tail bound outside the box,
reproducibility, argument errors, and the class gap in the study's training records."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mesabase.sims.meta import (
    ClassBest,
    maml_objective,
    maml_value_gradient,
    memoryless_class_best,
    meta_train,
)
from mesabase.sims.meta.families import init_family
from mesabase.sims.meta.tasks import BetaTasks, DependentTasks

SIG1 = 1.0 / (1.0 + math.exp(-1.0))  # σ(1)


@pytest.mark.parametrize("meta_sgd", [False, True])
def test_horizon_one_closed_form(meta_sgd):
    """H = 1: J = H·Σₖ π_0,k E[p_k] for every (θ_0, η): 1/2 on uniform arms (class gap 0,
    every θ_0 optimal); on the asymmetric family maxₖ E[p_k] = 2/3 is reached only in the
    limit θ_0,1 − θ_0,2 → ∞."""
    r = memoryless_class_best(BetaTasks(2), 1, meta_sgd=meta_sgd)
    assert isinstance(r, ClassBest)
    assert r.value == pytest.approx(0.5, abs=1e-15)  # tolerance: float rounding
    assert r.limit_value == pytest.approx(0.5, abs=1e-15) and r.limit_arms == (0, 1)
    a = memoryless_class_best(init_family("asymmetric"), 1, meta_sgd=meta_sgd)
    assert a.where == "limit" and a.limit_arms == (0,)
    assert a.value == pytest.approx(2 / 3, abs=1e-15) and a.box_value < 2 / 3
    assert a.value <= a.bayes + 1e-15


def test_h2_uniform_maml_is_theta_zero():
    """H = 2, uniform arms, η = 1: J(0) = 23/24 + σ(1)/12 (maml.py's doctest) is the class
    value; a dense grid of δ = θ_0,1 − θ_0,2 (an independent check of the search) finds
    nothing above it, and the limits H·E[p_k] = 1 are below it."""
    tasks = BetaTasks(2)
    r = memoryless_class_best(tasks, 2)
    J0 = 23 / 24 + SIG1 / 12
    assert r.where == "interior" and r.value == pytest.approx(J0, abs=1e-12)  # tol: 1e-12
    assert abs(r.theta0[0]) <= 1e-6 and r.theta0[1] == 0.0  # tolerance: 1e-6
    grid = [maml_objective([d, 0.0], 1.0, tasks, 2) for d in np.linspace(-12, 12, 481)]
    assert max(grid) <= r.value + 1e-12 and r.limit_value == pytest.approx(1.0)
    assert "interior stationary point" in r.note


def test_h2_uniform_meta_sgd_is_win_stay_limit():
    """H = 2, uniform arms, Meta-SGD, b = 0. J = 1/2 + ½ Σ_a π_a (1/2 + π'_a/6)
    + ½ (1/2 − Σ_a π_a²/6), with π'_a the probability of repeating arm a after a success on
    it (a failure does not update θ when b = 0). Both terms are maximised only in the limit
    π'_a → 1 (η → ∞) and π_0 = (½, ½): J_class = 1/2 + 1/3 + 5/24 = 25/24, not attained, so
    the search ends on the box boundary log η = ρ_hi, where J equals 25/24 to rounding."""
    r = memoryless_class_best(BetaTasks(2), 2, meta_sgd=True)
    assert r.where == "boundary" and "log η = 7" in r.note
    assert r.value == pytest.approx(25 / 24, abs=1e-12)  # tolerance: 1e-12
    assert r.value <= 25 / 24 + 1e-15 and r.bayes == pytest.approx(13 / 12)
    assert np.allclose(r.eta, math.exp(7.0)) and abs(r.theta0[0]) <= 1e-6  # tol: 1e-6


@pytest.mark.parametrize("meta_sgd", [False, True])
def test_h2_asymmetric_commit_is_bayes_optimal(meta_sgd):
    """p₁ ∼ Beta(2, 1), p₂ ∼ Beta(1, 1), H = 2: always pulling arm 1 is Bayes-optimal
    (V* = 4/3 = 2·E[p₁]), reached by the class only as θ_0,1 − θ_0,2 → ∞: the class value is
    V* and the class gap equals the Bayes gap."""
    tasks = init_family("asymmetric")
    r = memoryless_class_best(tasks, 2, meta_sgd=meta_sgd)
    assert r.where == "limit" and r.limit_arms == (0,)
    assert r.value == pytest.approx(4 / 3, abs=1e-15) == r.bayes
    if meta_sgd:
        assert math.isnan(r.tail)
    else:
        assert 0 < r.tail < 1e-12 and "within" in r.note  # 2·2·σ(−30) ≈ 3.7e-13


@pytest.mark.parametrize("baseline", [0.0, 0.5])
def test_tail_bound_holds_outside_the_box(baseline):
    """MAML, K = 2: outside the box |δ| > B, J is within ``tail`` of H·E[p_k] of the favoured
    arm (the coupling bound of the module docstring), here checked just beyond B = 6."""
    tasks, H = init_family("asymmetric"), 3
    r = memoryless_class_best(tasks, H, bound=6.0, baseline=baseline)
    assert r.tail > 1e-6  # a small box: a bound that is not vacuous but not tiny
    for d, arm_mean in ((6.5, 2 / 3), (9.0, 2 / 3), (-6.5, 1 / 2), (-20.0, 1 / 2)):
        J = maml_objective([d, 0.0], 1.0, tasks, H, baseline=baseline)
        assert abs(J - H * arm_mean) <= r.tail


@pytest.mark.parametrize("name", ["uniform", "asymmetric", "same-best", "dependent"])
@pytest.mark.parametrize("meta_sgd", [False, True])
def test_bracket_trained_and_zero(name, meta_sgd):
    """J(0, 1) ≤ value, J(meta-trained) ≤ value (≤ up to rounding), value ≤ V*."""
    tasks, H = init_family(name), 4
    r = memoryless_class_best(tasks, H, meta_sgd=meta_sgd)
    res = meta_train(tasks, H, meta_sgd=meta_sgd, steps=40)
    J_train = maml_objective(res.theta0, res.eta, tasks, H)
    assert maml_objective([0.0, 0.0], 1.0, tasks, H) <= r.value + 1e-12  # tol: rounding
    assert J_train <= r.value + 1e-12 and r.value <= r.bayes + 1e-12
    assert r.box_value <= r.value and r.limit_value <= r.value
    J_at = maml_objective(r.theta0, r.eta, tasks, H)
    assert abs(J_at - r.box_value) <= 1e-12 or r.where == "limit"


@settings(max_examples=6, deadline=None)
@given(st.lists(st.floats(-4, 4), min_size=2, max_size=2), st.floats(-3, 3))
def test_no_member_beats_the_class_best(theta, log_eta):
    """Random members (θ_0, η) of the Meta-SGD class on the dependent family, H = 3."""
    tasks = DependentTasks()
    r = memoryless_class_best(tasks, 3, meta_sgd=True)
    assert maml_objective(theta, math.exp(log_eta), tasks, 3) <= r.value + 1e-12


def test_k2_step_sizes_enter_through_their_sum():
    """The reduction the K = 2 Meta-SGD search uses: J(θ, (η₁, η₂)) = J(θ, (η̄, η̄)),
    η̄ = (η₁ + η₂)/2."""
    tasks = init_family("same-best")
    a = maml_value_gradient([0.7, -0.2], [0.3, 2.1], tasks, 4)
    b = maml_value_gradient([0.7, -0.2], 1.2, tasks, 4)
    assert a[0] == pytest.approx(b[0], abs=1e-13)  # tolerance: rounding
    assert np.allclose(a[1], b[1], atol=1e-12)


def test_three_arms_and_one_arm():
    """K = 3 searches u (2 coordinates) and per-arm η (3); K = 1: J ≡ H·E[p₁]."""
    tasks = BetaTasks(3, prior=[[2, 1], [1, 1], [1, 2]])
    r = memoryless_class_best(tasks, 2, meta_sgd=True, n_starts=2)
    assert r.theta0.shape == (3,) and r.eta.shape == (3,) and r.theta0[2] == 0.0
    assert maml_objective(np.zeros(3), 1.0, tasks, 2) <= r.value <= r.bayes + 1e-12
    one = memoryless_class_best(BetaTasks(1, prior=[[3, 1]]), 5, meta_sgd=True)
    assert one.value == pytest.approx(5 * 0.75, abs=1e-12) and one.where == "interior"


def test_reproducible_and_seeded():
    tasks = init_family("same-best")
    a = memoryless_class_best(tasks, 2, meta_sgd=True, seed=7, cache=False)
    b = memoryless_class_best(tasks, 2, meta_sgd=True, seed=np.random.SeedSequence(1),
                              cache=False)
    c = memoryless_class_best(tasks, 2, meta_sgd=True, seed=7, cache=False)
    assert a.value == c.value and np.array_equal(a.theta0, c.theta0)  # tolerance: exact
    assert a.note == c.note and a.seed == 7 and b.seed != 7
    a.theta0[0] = 99.0  # results are copies: the cache is not touched
    assert memoryless_class_best(tasks, 2, meta_sgd=True, seed=7).theta0[0] != 99.0


@pytest.mark.parametrize("kwargs,match", [
    (dict(horizon=0), "horizon must be an int >= 1"),
    (dict(horizon=11), "above MAX_SEQUENCES"),
    (dict(bound=0.0), "bound must be > 0"),
    (dict(bound=float("inf")), "bound must be a finite real"),
    (dict(log_eta=(1.0, 1.0)), "log_eta must have lo < hi"),
    (dict(log_eta=(1.0,)), "log_eta must be a pair"),
    (dict(n_starts=0), "n_starts must be an int >= 1"),
    (dict(grad_tol=0.0), "grad_tol must be > 0"),
    (dict(max_iter=0), "max_iter must be an int >= 1"),
    (dict(meta_sgd=True, eta=0.0), "meta_sgd needs eta > 0"),
    (dict(meta_sgd=1), "meta_sgd must be a bool"),
    (dict(eta=[1.0, 1.0, 1.0]), "eta must be a scalar or have shape"),
    (dict(seed=-1), "seed must be a non-negative int"),
    (dict(baseline=float("nan")), "baseline must be a finite real"),
    (dict(cache="yes"), "cache must be a bool"),
])
def test_bad_arguments_raise(kwargs, match):
    kw = {"horizon": 2, **kwargs}
    with pytest.raises(ValueError, match=match):
        memoryless_class_best(BetaTasks(2), kw.pop("horizon"), **kw)
    with pytest.raises(ValueError, match="prior|tasks"):
        memoryless_class_best("beta", 2)


def test_study_records_the_class_gap():
    """meta_bandits' training records: class_gap ∈ [0, bayes_gap]; 0 for MAML on uniform
    arms (θ_0 = 0 is the class optimum and training stops there); for Meta-SGD the best is
    the η → ∞ boundary, so the criterion says the gap is a lower bound."""
    from mesabase.sims.meta import meta_bandits, meta_learned_agents

    df = meta_bandits(horizons=(2, 3), n_tasks=5, n_seeds=1,
                      agents=meta_learned_agents(steps=3)[1:3])
    rec = {(r["agent"], r["horizon"]): r for r in df.attrs["training"]}
    assert set(rec) == {(a, h) for a in ("maml", "meta-sgd") for h in (2, 3)}
    for r in rec.values():
        assert -1e-12 <= r["class_gap"] <= r["bayes_gap"] + 1e-12  # tolerance: rounding
    assert rec[("maml", 2)]["class_gap"] == 0.0 and rec[("maml", 3)]["class_gap"] == 0.0
    assert rec[("meta-sgd", 2)]["class_gap"] > 0
    assert "class_gap is a lower bound (class best: boundary)" in rec[("meta-sgd", 2)][
        "criterion"]
    J = 25 / 24 - rec[("meta-sgd", 2)]["class_gap"]  # the trained J, against 25/24 above
    assert 1.0 < J < 25 / 24
