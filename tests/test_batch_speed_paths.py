"""The fast paths of :func:`solve_batch` (issue 15): the greedy start of batched policy
iteration, the batched evaluation and Q̂, the elementwise max/argmax, the cycle check, the
one-pass validation of :class:`MDPBatch` and the trusted copy MDPs of a masked batch.

Oracles: single-model :func:`solve` (``"pi"``) within the two certified bounds, and
``method="exact"`` on batches whose every number is a float64 exactly (P entries k/16,
dyadic rewards, γ the exact value of its float), so ``error_bound`` is checked against the
true error. No timing here: speed is shown by the benchmarks only.
"""

from fractions import Fraction as F

import numpy as np
import pytest

from mesabase.theory import InvalidMDP, TabularMDP, solve
from mesabase.theory.solution import optimal_set
from mesabase.theory.solvers.batch import MDPBatch, solve_batch
from mesabase.theory.solvers.batch_pi import (
    _revisits,
    evaluate_policies,
    max_argmax_last,
    max_last,
    q_values,
)
from mesabase.theory.solvers.certificate import UNIT_ROUNDOFF


def _dirichlet(seed, N=30, S=8, A=4):
    """The benchmark's model class: rows Dirichlet(1), rewards uniform on [0, 1)."""
    rng = np.random.default_rng(seed)
    P = rng.standard_exponential((N, S, A, S))
    P /= P.sum(-1, keepdims=True)
    return P, rng.random((N, S, A))


def _dyadic(seed, N=5, S=4, A=3, scale=1.0):
    """Exactly representable models: P[n, s, a, :] = k/16 summing to 1 exactly, R = l/4."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.integers(0, 17, (N, S, A, S - 1)), axis=-1)
    edges = np.concatenate([np.zeros((N, S, A, 1), int), cuts, np.full((N, S, A, 1), 16)], -1)
    P = np.diff(edges, axis=-1) / 16.0
    R = rng.integers(-40, 41, (N, S, A)) / 4.0 * scale
    return P, R


def _exact_values(P, R, gamma, allowed=None):
    """V* of each model by rational policy iteration (the floats read exactly)."""
    out = []
    for i in range(P.shape[0]):
        Pe = np.vectorize(F, otypes=[object])(P[i])
        Re = np.vectorize(F, otypes=[object])(np.where(np.isfinite(R[i]), R[i], 0.0))
        mdp = TabularMDP(Pe, Re, gamma=F(gamma),
                         allowed=None if allowed is None else allowed[i])
        out.append(solve(mdp, "exact").V)
    return out


def _true_error(V, V_exact) -> float:
    return float(max(abs(F(float(v)) - x) for v, x in zip(V, V_exact, strict=True)))


# ---- the greedy start -----------------------------------------------------------------------
@pytest.mark.parametrize("method", ["auto", "pi"])
@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.95, 0.99])
def test_greedy_start_agrees_with_single_model_policy_iteration(method, gamma):
    P, R = _dirichlet(0)
    sol = solve_batch(MDPBatch(P, R, gamma=gamma), method, tol=1e-8)
    S = P.shape[1]
    for i in range(P.shape[0]):
        ref = solve(TabularMDP(P[i], R[i], gamma=gamma), method="pi", tol=1e-8)
        assert np.abs(sol.V[i] - ref.V).max() <= sol.error_bound + ref.error_bound
        np.testing.assert_array_equal(sol.optimal[i], ref.optimal)
        assert sol.optimal[i, np.arange(S), sol.actions[i]].all()
    assert sol.error_bound < 1e-10 and sol.method == "pi"
    np.testing.assert_array_equal(sol.optimal, optimal_set(sol.Q, sol.tol)[0])


def test_the_start_is_greedy_for_max_r():
    """A cold start is exactly a warm start from π_0 = argmax_a [R + γ P max_b R]."""
    P, R = _dirichlet(1, N=50)
    g = 0.95
    v0 = R.max(axis=2)
    pi0 = (R + g * np.einsum("nsat,nt->nsa", P, v0)).argmax(axis=2)
    batch = MDPBatch(P, R, gamma=g)
    cold = solve_batch(batch, "pi")
    warm = solve_batch(batch, "pi", actions0=pi0)
    np.testing.assert_array_equal(cold.V, warm.V)
    np.testing.assert_array_equal(cold.actions, warm.actions)
    assert cold.iterations == warm.iterations


def test_partial_warm_start_runs_the_subset_iterations():
    """Half the models start optimal, half from action 0: later iterations run on the
    changing models only; every model ends as from a cold start."""
    P, R = _dirichlet(2, N=40)
    batch = MDPBatch(P, R, gamma=0.99)
    cold = solve_batch(batch, "pi")
    start = np.array(cold.actions)
    start[::2] = 0
    warm = solve_batch(batch, "pi", actions0=start)
    assert warm.iterations > 1
    assert np.abs(warm.V - cold.V).max() <= warm.error_bound + cold.error_bound
    np.testing.assert_array_equal(warm.optimal, cold.optimal)


@pytest.mark.parametrize("method", ["auto", "pi", "vi"])
@pytest.mark.parametrize("gamma", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("scale", [1.0, 2.0 ** 30])
def test_error_bound_covers_the_true_error(method, gamma, scale):
    P, R = _dyadic(3, scale=scale)
    sol = solve_batch(MDPBatch(P, R, gamma=gamma), method, tol=1e-10)
    S = P.shape[1]
    for i, Vx in enumerate(_exact_values(P, R, gamma)):
        assert _true_error(sol.V[i], Vx) <= sol.error_bound
        assert sol.optimal[i, np.arange(S), sol.actions[i]].all()
    assert sol.error_bound < 1e-6 * scale


# ---- masks --------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["auto", "pi", "vi"])
@pytest.mark.parametrize("how", ["allowed", "neg_inf", "shared"])
def test_masked_batches(method, how):
    P, R = _dyadic(4, N=6, S=5, A=3)
    rng = np.random.default_rng(5)
    N, S, A = R.shape
    mask = rng.random((N, S, A)) < 0.5
    mask[:, :, 1] = True  # every state keeps an action (not always the first)
    if how == "shared":
        mask = np.broadcast_to(mask[0], (N, S, A))
    kw = {"allowed": mask[0] if how == "shared" else mask} if how != "neg_inf" else {}
    Rin = np.where(mask, R, -np.inf) if how == "neg_inf" else R
    batch = MDPBatch(P, Rin, gamma=0.9, **kw)
    assert batch.is_masked and (batch.allowed == mask).all() and (batch.R[~mask] == 0).all()
    sol = solve_batch(batch, method, tol=1e-10)
    assert not (sol.optimal & ~mask).any() and (sol.policy[~mask] == 0).all()
    assert mask[np.arange(N)[:, None], np.arange(S), sol.actions].all()
    assert (sol.Q[~mask] == -np.inf).all()
    for i, Vx in enumerate(_exact_values(P, R, 0.9, mask)):
        assert _true_error(sol.V[i], Vx) <= sol.error_bound
        ref = solve(TabularMDP(P[i], R[i], gamma=0.9, allowed=mask[i]), "pi")
        assert np.abs(sol.V[i] - ref.V).max() <= sol.error_bound + ref.error_bound


def test_masked_finite_horizon_uses_max_over_allowed():
    P, R = _dyadic(6, N=4, S=4, A=3)
    mask = np.random.default_rng(7).random(R.shape) < 0.5
    mask[:, :, 2] = True
    sol = solve_batch(MDPBatch(P, R, gamma=0.9, horizon=4, allowed=mask))
    for i in range(R.shape[0]):
        ref = solve(TabularMDP(P[i], R[i], gamma=0.9, horizon=4, allowed=mask[i]))
        np.testing.assert_allclose(sol.V[i], ref.V, atol=1e-12, rtol=0)
        assert not (sol.optimal[i] & ~mask[i]).any()


# ---- value iteration with models stopping at different sweeps ------------------------------
def test_vi_models_stop_at_different_sweeps():
    P, R = _dirichlet(8, N=12, S=6, A=3)
    R = R * np.logspace(-3, 6, 12)[:, None, None]  # very different scales: different stops
    batch = MDPBatch(P, R, gamma=0.95)
    vi = solve_batch(batch, "vi", tol=1e-9)
    pi = solve_batch(batch, "pi", tol=1e-9)
    for i in range(12):
        assert np.abs(vi.V[i] - pi.V[i]).max() <= vi.error_bound + pi.error_bound
    np.testing.assert_array_equal(vi.optimal, optimal_set(vi.Q, vi.tol)[0])


# ---- the building blocks ---------------------------------------------------------------------
def test_max_and_argmax_match_numpy_including_ties_and_minus_inf():
    rng = np.random.default_rng(9)
    Q = rng.integers(0, 3, (7, 5, 4)).astype(float)  # many ties
    Q[0, 0, :2] = -np.inf
    Q[1, 1, :] = -np.inf
    m, a = max_argmax_last(Q)
    np.testing.assert_array_equal(m, Q.max(axis=-1))
    np.testing.assert_array_equal(a[2:], Q[2:].argmax(axis=-1))
    np.testing.assert_array_equal(max_last(Q), Q.max(axis=-1))
    np.testing.assert_array_equal(max_last(Q[:, :, :1]), Q[:, :, 0])
    assert a[0, 0] == Q[0, 0].argmax()


def test_evaluation_and_q_match_a_direct_solve():
    P, R = _dirichlet(10, N=9, S=5, A=3)
    g = 0.9
    rng = np.random.default_rng(11)
    actions = rng.integers(0, 3, (9, 5))
    models = np.array([1, 4, 8])
    V = evaluate_policies(P, R, g, actions[models], models)
    for j, n in enumerate(models):
        P_pi = P[n, np.arange(5), actions[n]]
        ref = np.linalg.solve(np.eye(5) - g * P_pi, R[n, np.arange(5), actions[n]])
        np.testing.assert_allclose(V[j], ref, rtol=0, atol=1e-12)
    Q = q_values(P[models], R[models], g, V)
    np.testing.assert_allclose(Q, R[models] + g * np.einsum("nsat,nt->nsa", P[models], V),
                               rtol=0, atol=1e-12)
    # the policy's own column of Q̂ is V up to rounding (V = r_π + γ P_π V)
    Q_pi = np.take_along_axis(Q, actions[models][..., None], axis=2)[..., 0]
    assert np.abs(Q_pi - V).max() <= 64 * 5 * UNIT_ROUNDOFF * (1 + np.abs(V).max()) / (1 - g)


def test_revisits_finds_an_earlier_policy_of_the_same_model():
    history = [(np.array([0, 1, 2, 3]), np.array([[0, 0], [1, 1], [0, 1], [1, 0]])),
               (np.array([1, 3]), np.array([[1, 0], [0, 0]]))]
    got = _revisits(history, np.array([1, 3]), np.array([[1, 1], [1, 1]]))
    assert got.tolist() == [True, False]  # model 1 had (1, 1) at iteration 1; model 3 never
    got = _revisits(history, np.array([3]), np.array([[1, 0]]))
    assert got.tolist() == [True]


# ---- the one-pass validation -----------------------------------------------------------------
def _big(seed=12):
    P, R = _dirichlet(seed, N=60, S=12, A=4)  # 34 560 entries: the fused pass
    return P, R


@pytest.mark.parametrize(("edit", "match"), [
    (lambda P: P.__setitem__((3, 2, 1, 5), -0.25), r"P\[3, 2, 1, 5\] = -0.25 is negative"),
    (lambda P: P.__setitem__((4, 0, 2, 0), np.nan), r"P\[4, 0, 2, 0\] = nan is not finite"),
    (lambda P: P.__setitem__((5, 1, 3, 0), np.inf), r"P\[5, 1, 3, 0\] = inf is not finite"),
    (lambda P: P.__setitem__((6, 7, 0), P[6, 7, 0] * 1.001), r"P\[6, 7, 0, :\] sums to"),
])
def test_validation_messages_on_a_large_batch(edit, match):
    P, R = _big()
    edit(P)
    with pytest.raises(InvalidMDP, match=match):
        MDPBatch(P, R, gamma=0.9)


def test_validation_keeps_a_private_copy_of_any_input_layout():
    P, R = _big()
    ref = MDPBatch(P, R, gamma=0.9)
    Pd, Rd = _dyadic(14, N=60, S=12, A=4)
    for Pin, Rin in ((P, R), (np.asfortranarray(P), R), (P[:, ::-1], R[:, ::-1]),
                     (P.tolist(), R), (Pd.astype(np.float32), Rd)):
        b = MDPBatch(Pin, Rin, gamma=0.9)
        np.testing.assert_array_equal(b.P, np.asarray(Pin, dtype=np.float64))
        assert b.P.flags.c_contiguous and not b.P.flags.writeable
    assert P.flags.writeable  # the caller's array keeps its flags ...
    P[0, 0, 0] = np.roll(P[0, 0, 0], 1)
    assert not np.array_equal(ref.P[0, 0, 0], P[0, 0, 0])  # ... and is not shared
    assert not ref.is_masked and ref.allowed.all() and ref.allowed.shape == R.shape


def test_reward_checks_and_masks():
    P, R = _dirichlet(13, N=3, S=3, A=2)
    for bad in (np.nan, np.inf):
        Rb = R.copy()
        Rb[1, 2, 0] = bad
        with pytest.raises(InvalidMDP, match=r"R\[1, 2, 0\] = .* is not finite"):
            MDPBatch(P, Rb, gamma=0.9)
    shared = np.array([[0.0, -np.inf], [1.0, 2.0], [-np.inf, 3.0]])
    b = MDPBatch(P, shared, gamma=0.9)
    assert b.is_masked and b.allowed[:, 0, 1].tolist() == [False] * 3
    assert np.isfinite(b.R).all() and (b.R[~b.allowed] == 0).all()
    with pytest.raises(InvalidMDP, match=r"model 0: state 2 has no allowed action"):
        MDPBatch(P, R, gamma=0.9, allowed=np.array([[True, True], [True, False],
                                                   [False, False]]))
    with pytest.raises(InvalidMDP, match="allowed must be a boolean array"):
        MDPBatch(P, R, gamma=0.9, allowed=np.ones((3, 2)))
