"""Meta-training that says whether it converged (issue 16, item 2): MAML / Meta-SGD stop on
the exact gradient (or a sampled-gradient test), never move on rounding noise, and report
their gap to the Bayes-optimal value; belief-policy training stops within a stated
relative gap of V* and reports it."""

import numpy as np
import pytest

from mesabase.sims.meta import (
    GRAD_TOL,
    BetaTasks,
    DependentTasks,
    TrainingReport,
    maml_objective,
    meta_train,
    train_belief_policy,
)
from mesabase.sims.meta.belief import belief_policy_value


def test_symmetric_maml_does_not_move_on_rounding_noise():
    """θ_0 = 0 is stationary on a symmetric prior: the exact gradient is ~1e-15 (rounding),
    so training stops before its first step (Adam would have blown it up to steps of ~lr
    that lower J) and MAML is REINFORCE from θ_0 = 0, as the seed's experiment found."""
    tasks = BetaTasks(2)
    res = meta_train(tasks, 6, steps=100)
    assert res.converged and res.criterion.startswith("stopped: exact")
    assert res.curve.shape == (1,) and res.grad <= GRAD_TOL
    assert res.theta0.tolist() == [0.0, 0.0]  # tolerance: exact (no step taken)
    V = float(tasks.bayes(6).value)
    J = maml_objective([0.0, 0.0], 1.0, tasks, 6)
    assert res.bayes_gap == pytest.approx(V - J, abs=1e-12)  # tolerance: 1e-12
    assert res.bayes_gap > 0


def test_interior_optimum_is_reached_and_reported():
    """From θ_0 = (1, −1) on a symmetric prior the optimum θ_0,1 = θ_0,2 is interior: Adam
    reaches ‖∇J‖∞ ≤ GRAD_TOL well within the budget and says so."""
    res = meta_train(BetaTasks(2), 4, steps=3000, lr=0.05, theta0=[1.0, -1.0])
    assert res.converged and len(res.curve) < 3001 and res.grad <= GRAD_TOL
    assert abs(res.theta0[0] - res.theta0[1]) <= 1e-6  # tolerance: 1e-6
    assert res.curve[-1] == maml_objective(res.theta0, res.eta, BetaTasks(2), 4)


@pytest.mark.parametrize("meta_sgd,tasks", [
    (False, BetaTasks(2, prior=[[2, 1], [1, 1]])),  # commit to arm 1: θ_0 difference → ∞
    (True, DependentTasks()),                        # η → ∞: the supremum is not attained
])
def test_suprema_at_infinity_are_reported_as_not_converged(meta_sgd, tasks):
    res = meta_train(tasks, 3, meta_sgd=meta_sgd, steps=150, lr=0.05)
    assert not res.converged and res.criterion.startswith("not converged: 150 steps")
    assert res.curve.shape == (151,) and res.grad > GRAD_TOL
    assert 0 < res.bayes_gap < float(tasks.bayes(3).value)


def test_sampled_gradient_stops_when_indistinguishable_from_zero_and_is_seeded():
    tasks = BetaTasks(2, prior=[[2, 1], [1, 1]])
    a = meta_train(tasks, 3, steps=200, lr=0.1, exact=False, n_samples=512, seed=4)
    b = meta_train(tasks, 3, steps=200, lr=0.1, exact=False, n_samples=512, seed=4)
    assert a.converged == b.converged and np.array_equal(a.curve, b.curve)  # tolerance: exact
    if a.converged:
        assert "10 iterates in a row" in a.criterion and len(a.curve) >= 10
    assert np.isfinite(a.bayes_gap)  # J is exact at H = 3 even when the gradient is sampled


@pytest.mark.parametrize("kwargs,match", [
    (dict(grad_tol=0.0), "grad_tol must be a finite real > 0"),
    (dict(grad_tol=float("nan")), "grad_tol must be a finite real > 0"),
    (dict(z=-1.0), "z must be a finite real > 0"),
    (dict(patience=0), "patience must be an int >= 1"),
])
def test_meta_train_stopping_arguments_are_checked(kwargs, match):
    with pytest.raises(ValueError, match=match):
        meta_train(BetaTasks(2), 2, steps=1, **kwargs)


def test_belief_training_stops_at_the_stated_gap_and_reports_it():
    tasks, H = BetaTasks(2), 4
    V = float(tasks.bayes(H).value)
    pol, curve, rep = train_belief_policy(tasks, H, steps=300, batch=256, lr=2.0, seed=0,
                                          rel_gap_tol=0.02, report=True)
    assert isinstance(rep, TrainingReport) and rep.converged
    assert rep.steps == len(curve) - 1 < 300
    assert curve[-1] == belief_policy_value(pol, tasks, H)
    assert rep.bayes_gap == rep.class_gap == pytest.approx(V - curve[-1], abs=1e-12)
    assert 0 <= rep.bayes_gap <= 0.02 * V and curve[-2] < V - 0.02 * V
    short = train_belief_policy(tasks, H, steps=2, batch=32, seed=0, report=True)[2]
    assert not short.converged and short.criterion.startswith("not converged: 2 steps")
    assert len(train_belief_policy(tasks, H, steps=2, batch=32, seed=0)) == 2  # no report
    with pytest.raises(ValueError, match="rel_gap_tol must be a real in"):
        train_belief_policy(tasks, H, steps=1, rel_gap_tol=1.0)


def test_meta_bandits_records_training_and_the_figure_marks_it():
    from mesabase.sims.meta import (
        meta_bandits,
        meta_learned_agents,
        not_converged,
        plot_meta_bandits,
        summarise,
    )

    df = meta_bandits(horizons=(2, 3), n_tasks=10, n_seeds=1,
                      agents=meta_learned_agents(steps=1, batch=16))
    rec = df.attrs["training"]
    assert {(r["agent"], r["horizon"]) for r in rec} == {
        (a, h) for a in ("maml", "meta-sgd", "belief-rl") for h in (2, 3)}
    assert all(set(r) == {"agent", "horizon", "converged", "criterion", "steps",
                          "bayes_gap", "class_gap"} for r in rec)
    bad = not_converged(rec)
    assert all(h in (2, 3) for hs in bad.values() for h in hs)
    assert "maml" not in bad  # symmetric prior: stationary at theta_0 = 0
    fig = plot_meta_bandits(summarise(df), training=rec)
    labels = [t.get_text() for ax in fig.axes for t in (ax.get_legend().get_texts()
                                                         if ax.get_legend() else [])]
    labels += [ln.get_label() for ax in fig.axes for ln in ax.get_lines()]
    for agent, hs in bad.items():
        assert f"{agent} (not converged: H = {', '.join(map(str, hs))})" in labels
    assert not_converged([]) == {} and not_converged(None) == {}
