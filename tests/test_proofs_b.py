"""Proofs 5–8: each holds, renders, and agrees with the library function it is about."""

import io

import matplotlib
import numpy as np
import pytest
import sympy as sp

matplotlib.use("Agg")
from matplotlib import mathtext  # noqa: E402

from mesabase.proofs.dichotomy_proof import dichotomy  # noqa: E402
from mesabase.proofs.lp_duality_proof import example_mdp, lp_duality  # noqa: E402
from mesabase.proofs.pg_rate import pg_bandit_rate  # noqa: E402
from mesabase.proofs.policy_gradient import EXAMPLE, policy_gradient_theorem  # noqa: E402
from mesabase.sims.agents.full import FullOptimizer
from mesabase.sims.agents.reinforce import Reinforce, Transition
from mesabase.theory import TabularMDP, solve  # noqa: E402
from mesabase.theory.evaluation import expected_return, occupancy, q_values  # noqa: E402
from mesabase.theory.solvers.lp import occupancy_lp, solve_cvxpy  # noqa: E402

PROOFS = {f.__name__: f for f in (dichotomy, policy_gradient_theorem, lp_duality,
                                   pg_bandit_rate)}


@pytest.fixture(scope="module", params=sorted(PROOFS))
def proof(request):
    return PROOFS[request.param]()


def test_proof_holds(proof):
    assert proof.holds is True
    assert proof.about.startswith("mesabase.")
    assert proof.steps and proof.assumptions


def test_rendering_contains_statement(proof):
    tex = proof._tex(proof.statement)
    assert tex in proof.to_markdown()
    assert tex in proof.to_latex()
    assert proof.title in proof.to_markdown()


def test_statement_renders_in_mathtext(proof):
    assert isinstance(proof.statement, (sp.Basic, str))
    tex = proof._tex(proof.statement)
    mathtext.math_to_image(f"${tex}$", io.BytesIO(), format="png")  # raises if invalid


def _softmax(theta):
    e = np.exp(theta - theta.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def test_dichotomy_full_optimizer_acts_inside_argmax():
    """FullOptimizer (ε = 0) puts mass only on its argmax set, whatever the tie rule."""
    rng = np.random.default_rng(5)
    for tie in ("uniform", "first"):
        opt = FullOptimizer(gamma=0.9, tie=tie)
        state = opt.init(n_seeds=3, n_states=3, n_actions=2)
        for t in range(20):
            pi = opt.policy(state)
            assert not (pi[~state.optimal] > 0).any()
            s = rng.integers(3, size=3)
            a = np.array([rng.choice(2, p=pi[i, s[i]]) for i in range(3)])
            step = Transition(s, a, rng.normal(size=3), rng.integers(3, size=3),
                              pi[np.arange(3), s, a], np.zeros(3, bool), t)
            state = opt.update(state, step)
        assert state.optimal.any(axis=-1).all()


def test_policy_gradient_matches_finite_differences_on_random_mdps():
    """∂J/∂θ_{s,a} by central differences = occupancy[s, a] · (Q − V)[s, a] (tol 1e-6)."""
    rng = np.random.default_rng(6)
    for _ in range(3):
        S, A = 4, 3
        P = rng.dirichlet(np.ones(S), size=(S, A))
        mdp = TabularMDP(P, rng.normal(size=(S, A)), gamma=0.8, mu0=rng.dirichlet(np.ones(S)))
        theta = rng.normal(size=(S, A))
        pi = _softmax(theta)
        Q = q_values(mdp, pi)
        formula = occupancy(mdp, pi) * (Q - (pi * Q).sum(axis=1, keepdims=True))
        h, fd = 1e-5, np.zeros((S, A))
        for s in range(S):
            for a in range(A):
                e = np.zeros((S, A))
                e[s, a] = h
                fd[s, a] = (expected_return(mdp, _softmax(theta + e))
                            - expected_return(mdp, _softmax(theta - e))) / (2 * h)
        np.testing.assert_allclose(fd, formula, atol=1e-6)


def test_policy_gradient_example_numeric():
    """The proof's own MDP: the unnormalised occupancy sums to 1/(1 − γ) (tol 1e-12)."""
    P = np.array(EXAMPLE["P"], dtype=float)
    mdp = TabularMDP(P, np.array(EXAMPLE["R"], dtype=float), gamma=0.75,
                     mu0=np.array(EXAMPLE["mu"], dtype=float))
    d = occupancy(mdp, np.full((2, 2), 0.5))
    assert abs(d.sum() - 4.0) < 1e-12


def test_solve_cvxpy_matches_exact_lp_value():
    """solve_cvxpy's V* and gap vs the exact rational V* of the proof's MDP (tol 1e-8)."""
    mdp = example_mdp()
    exact = np.array(solve(mdp, "exact").V, dtype=float)
    sol = solve_cvxpy(mdp)
    np.testing.assert_allclose(sol.V, exact, atol=1e-8)
    assert sol.gap < 1e-8
    d = occupancy_lp(mdp, np.full(2, 0.5))
    np.testing.assert_allclose((d * mdp.R).sum(), 0.5 * exact.sum(), atol=1e-8)
    np.testing.assert_allclose(d[:, 1:], 0.0, atol=1e-8)  # complementary slackness


def test_reinforce_expected_step_is_fisher_times_reward():
    """E_{a∼π}[Reinforce step] = η (diag π − ππᵀ) r on a 3-armed bandit (tol 1e-12)."""
    eta, r = 0.3, np.array([1.0, -0.5, 2.0])
    theta0 = np.array([0.2, -0.4, 0.1])
    pi = _softmax(theta0)
    K = len(r)
    learner = Reinforce(lr=eta, init_logits=theta0[None])
    state = learner.init(n_seeds=K, n_states=1, n_actions=K)
    a = np.arange(K)
    step = Transition(np.zeros(K, int), a, r, np.zeros(K, int), pi, np.zeros(K, bool), 0)
    delta = learner.update(state, step).theta[:, 0] - theta0
    expected = (pi[:, None] * delta).sum(axis=0)
    np.testing.assert_allclose(expected, eta * (np.diag(pi) - np.outer(pi, pi)) @ r,
                               atol=1e-12)


@pytest.mark.parametrize("r", [[1.0, 0.5, 0.0], [0.0, 1.0, 0.8, 0.1]])
def test_pg_rate_constant_numerically(r):
    """t·(r* − π_tᵀr) after 20 000 exact-gradient steps is (K − 1)/(Kη) within 2 %."""
    r, eta, T = np.array(r), 0.5, 20_000
    theta = np.zeros(len(r))
    for _ in range(T):
        p = _softmax(theta)
        theta += eta * (p * r - p * (p @ r))
    p = _softmax(theta)
    K = len(r)
    assert abs(T * (r.max() - p @ r) / ((K - 1) / (K * eta)) - 1) < 0.02
