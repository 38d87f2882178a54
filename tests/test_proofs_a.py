"""Proofs 1–4 (softmax score, REINFORCE unbiased, surrogate optimum, telescoping): each holds,
renders, and agrees numerically with the library function it is about."""

import io

import numpy as np
import pytest
from matplotlib import mathtext

from mesabase.proofs.reinforce_unbiased_proof import reinforce_unbiased
from mesabase.proofs.softmax_score_proof import softmax_score
from mesabase.proofs.surrogate_optimum_proof import surrogate_optimum
from mesabase.proofs.telescoping_proof import telescoping
from mesabase.sims.agents.policies import TabularSoftmax
from mesabase.sims.agents.reinforce import Reinforce, Transition
from mesabase.theory.attribution.gaps import decompose
from mesabase.theory.history.objectives import log_optimal
from mesabase.theory.mdp import TabularMDP

BUILDERS = [softmax_score, reinforce_unbiased, surrogate_optimum, telescoping]


@pytest.fixture(scope="module", params=BUILDERS, ids=lambda f: f.__name__)
def proof(request):
    return request.param()


def test_proof_holds_and_is_described(proof):
    assert proof.holds is True
    assert proof.name and proof.title and proof.steps and proof.assumptions
    assert proof.about.startswith("mesabase.")


def test_renderings_contain_statement(proof):
    tex = proof._tex(proof.statement)  # the printer the renderings use
    md, latex = proof.to_markdown(), proof.to_latex()
    assert f"${tex}$" in md
    assert tex in latex and "\\begin{proof}" in latex
    assert proof.about in md


def test_statement_renders_with_mathtext(proof):
    buf = io.BytesIO()
    mathtext.math_to_image(f"${proof._tex(proof.statement)}$", buf, format="png")
    assert buf.getbuffer().nbytes > 0


def test_softmax_score_matches_grad_log_prob():
    rng = np.random.default_rng(0)
    for K in (2, 3, 5):
        theta0 = rng.normal(size=(1, K))
        pol = TabularSoftmax(n_states=1, n_actions=K)
        theta = pol.init(n_seeds=1, init_logits=theta0)
        pi = np.exp(theta0[0]) / np.exp(theta0[0]).sum()
        for a in range(K):
            got = pol.grad_log_prob(theta, s=0, a=a)[0, 0]
            np.testing.assert_allclose(got, np.eye(K)[a] - pi, rtol=0, atol=1e-12)


@pytest.mark.parametrize("b", [0.0, 2.5])
def test_reinforce_expected_update_is_policy_gradient(b):
    rng = np.random.default_rng(1)
    K = 4
    theta0, r = rng.normal(size=(1, K)), rng.normal(size=K)
    learner = Reinforce(lr=1.0, baseline=b if b else None, init_logits=theta0)
    state = learner.init(n_seeds=1, n_states=1, n_actions=K)
    pi = learner.policy(state)[0, 0]
    mean = np.zeros(K)
    for a in range(K):
        step = Transition(np.array([0]), np.array([a]), np.array([r[a]]), np.array([0]),
                          np.array([pi[a]]), np.array([True]), 0)
        mean += pi[a] * (learner.update(state, step).theta[0, 0] - state.theta[0, 0])
    exact = (np.diag(pi) - np.outer(pi, pi)) @ r          # ∇_θ πᵀr for the softmax
    np.testing.assert_allclose(mean, exact, rtol=0, atol=1e-12)


def test_log_optimal_matches_frequency_matching_and_unboundedness():
    rng = np.random.default_rng(2)
    c = rng.uniform(0.1, 3.0, size=(5, 4))
    policy, _, value, bounded = log_optimal(c)
    np.testing.assert_allclose(policy, c / c.sum(axis=-1, keepdims=True), rtol=0, atol=1e-12)
    assert bounded.all()
    # the closed form beats random points of the simplex (it is the maximum)
    for row in range(5):
        others = rng.dirichlet(np.ones(4), size=200)
        assert (np.log(others) @ c[row] <= value[row] + 1e-12).all()
    c[0, 2] = -0.5
    _, _, value, bounded = log_optimal(c)
    assert not bounded[0] and np.isinf(value[0]) and value[0] > 0
    assert bounded[1:].all()


def test_decompose_telescopes_numerically():
    rng = np.random.default_rng(3)
    S, A, N, R = 3, 2, 2, 3
    P = rng.dirichlet(np.ones(S), size=(S, A))
    mdp = TabularMDP(P, rng.normal(size=(S, A)), gamma=0.9)
    pis = [rng.dirichlet(np.ones(A), size=(N, R, S)) for _ in range(2)]
    d = decompose(mdp, rng.normal(size=(S, A)), rng.normal(size=(S, A)), *pis)
    np.testing.assert_allclose(d.outer + d.learner_gap, d.total,
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(d.total, d.J_intended - d.J_learner, rtol=0, atol=1e-9)
    assert np.abs(d.data_gap).max() > 1e-6     # the middle terms are not trivially zero
