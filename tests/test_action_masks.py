"""Action masks (issue 14, item 2): ``TabularMDP(..., allowed=mask)`` and R = −inf, honoured
by every solver, evaluation, the batch, the history objectives and the learners; and
QuantEcon's two input forms (:func:`from_quantecon`)."""

from fractions import Fraction as F

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from mesabase.theory import (
    InvalidMDP,
    MDPBatch,
    TabularMDP,
    evaluate,
    evaluate_many,
    expected_return,
    from_quantecon,
    history_optimal,
    occupancy,
    occupancy_lp,
    q_values,
    solve,
    solve_batch,
    solve_restricted,
)
from mesabase.theory.history import History
from mesabase.theory.solvers.exact import evaluate_exact
from mesabase.theory.solvers.mpi import modified_policy_iteration

METHODS = ["vi", "pi", "lp", "cvxpy", "auto"]
try:
    import cvxpy  # noqa: F401
except ImportError:  # pragma: no cover - cvxpy is a test dependency here
    METHODS.remove("cvxpy")

# Puterman (1994) §3.1 as in QuantEcon's DiscreteDP documentation and tests: state 0 has
# two actions (rewards 5 and 10), state 1 one (reward −1); β = 0.95.
#   v(1) = −1/(1 − 0.95) = −20; v(0) = max(5 + 0.95(v0 + v1)/2, 10 + 0.95 v1)
#   action 0: v0 = (5 − 9.5)/(1 − 0.475) = −60/7 ≈ −8.5714;  action 1: 10 − 19 = −9.
R_DENSE = [[5.0, 10.0], [-1.0, -np.inf]]
Q_DENSE = [[[0.5, 0.5], [0.0, 1.0]], [[0.0, 1.0], [0.5, 0.5]]]
S_IND, A_IND = [0, 0, 1], [0, 1, 0]
R_PAIRS = [5.0, 10.0, -1.0]
Q_PAIRS = [[0.5, 0.5], [0.0, 1.0], [0.0, 1.0]]
V_STAR = np.array([-60.0 / 7.0, -20.0])


def puterman_forms():
    return {
        "dense -inf": TabularMDP(np.array(Q_DENSE), R_DENSE, gamma=0.95),
        "quantecon product": from_quantecon(R_DENSE, Q_DENSE, 0.95),
        "pairs dense": from_quantecon(R_PAIRS, Q_PAIRS, 0.95, S_IND, A_IND),
        "pairs sparse": from_quantecon(R_PAIRS, sp.csr_matrix(Q_PAIRS), 0.95, S_IND, A_IND),
        "allowed=": TabularMDP(np.array(Q_DENSE), [[5.0, 10.0], [-1.0, 123.0]], gamma=0.95,
                               allowed=np.array([[True, True], [True, False]])),
    }


@pytest.mark.parametrize("form", list(puterman_forms()))
@pytest.mark.parametrize("method", METHODS)
def test_puterman_every_form_and_method(form, method):
    mdp = puterman_forms()[form]
    assert mdp.allowed.tolist() == [[True, True], [True, False]] and mdp.is_masked
    sol = solve(mdp, method)
    np.testing.assert_allclose(sol.V, V_STAR, atol=1e-9, rtol=0)
    assert sol.error_bound <= 1e-9
    assert sol.optimal.tolist() == [[True, False], [True, False]]
    assert sol.actions.tolist() == [0, 0] and sol.Q[1, 1] == -np.inf
    assert sol.policy[1, 1] == 0.0


def test_puterman_sparse_is_sparse_and_placeholders():
    mdp = puterman_forms()["pairs sparse"]
    assert mdp.is_sparse
    dense = puterman_forms()["pairs dense"]
    assert dense.R[1, 1] == 0.0 and dense.P[1, 1].tolist() == [0.0, 1.0]  # e_s placeholder


def test_puterman_finite_horizon_and_mpi():
    mdp = TabularMDP(np.array(Q_DENSE), R_DENSE, gamma=0.95, horizon=4)
    sol = solve(mdp)
    assert not sol.optimal[:, 1, 1].any() and (sol.actions[:, 1] == 0).all()
    np.testing.assert_allclose(sol.V[0, 1], -sum(0.95**t for t in range(4)), atol=1e-12)
    for m in ("vi", "pi", "lp"):
        with pytest.raises(ValueError, match="backward"):
            solve(mdp, m)
    V, Q, actions, *_ = modified_policy_iteration(puterman_forms()["dense -inf"], 1e-11)
    np.testing.assert_allclose(V, V_STAR, atol=1e-9)
    assert Q[1, 1] == -np.inf and actions.tolist() == [0, 0]


def test_exact_puterman_is_exactly_minus_60_7_and_minus_20():
    # β = 19/20 given exactly: v* = (−60/7, −20), action 0 in state 0 (−9 for action 1)
    half, one, zero = F(1, 2), F(1), F(0)
    P = np.array([[[half, half], [zero, one]], [[zero, one], [half, half]]], dtype=object)
    R = np.array([[F(5), F(10)], [F(-1), F(0)]], dtype=object)
    exact = TabularMDP(P, R, gamma=F(19, 20), allowed=np.array([[True, True], [True, False]]))
    dense = {k: m for k, m in puterman_forms().items() if not m.is_sparse}
    for mdp in (exact, *dense.values()):
        sol = solve(mdp, "exact")
        assert sol.V.tolist() == [F(-60, 7), F(-20)]
        assert sol.Q[0].tolist() == [F(-60, 7), F(-9)] and sol.Q[1, 1] == -np.inf
        assert sol.optimal.tolist() == [[True, False], [True, False]]
        assert sol.actions.tolist() == [0, 0] and sol.policy[1].tolist() == [1, 0]
        assert sol.error_bound == 0.0
    assert solve(exact, "exact").exact_input == "exact"
    assert evaluate_exact(exact, [[1, 0], [1, 0]]).tolist() == [F(-60, 7), F(-20)]
    assert evaluate_exact(exact, [[0, 1], [1, 0]]).tolist() == [F(-9), F(-20)]
    with pytest.raises(InvalidMDP, match=r"policy\[1, 1\] = 1/2 > 0 but action 1 is not "
                                         r"allowed in state 1"):
        evaluate_exact(exact, [[1, 0], [F(1, 2), F(1, 2)]])
    finite = TabularMDP(P, R, gamma=F(19, 20), horizon=2,
                        allowed=np.array([[True, True], [True, False]]))
    with pytest.raises(InvalidMDP, match=r"policy\[1, 1, 1\] = 1 > 0"):
        evaluate_exact(finite, [[[1, 0], [1, 0]], [[1, 0], [0, 1]]])


# ---- equivalence with a very bad absorbing action ---------------------------------------
@st.composite
def masked_problems(draw):
    S = draw(st.integers(1, 4))
    A = draw(st.integers(2, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    gamma = draw(st.sampled_from([0.0, 0.5, 0.9]))
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S)) ** 2 + 1e-3
    P /= P.sum(-1, keepdims=True)
    R = rng.normal(size=(S, A))
    mask = rng.random((S, A)) < 0.6
    mask[np.arange(S), rng.integers(0, A, S)] = True
    return P, R, mask, gamma


def bad_action_twin(P, R, mask, gamma, horizon=None):
    """Disallowed actions replaced by a self-loop with a reward far below any return."""
    S = P.shape[0]
    scale = (np.abs(R).max() + 1.0) * (1 + (horizon or 1 / (1 - gamma)))
    P2, R2 = P.copy(), R.copy()
    s, a = np.nonzero(~mask)
    P2[s, a] = np.eye(S)[s]
    R2[s, a] = -1e3 * scale
    return TabularMDP(P2, R2, gamma=gamma, horizon=horizon)


@settings(max_examples=25, deadline=None)
@given(masked_problems())
def test_masked_equals_bad_action_twin_every_method(prob):
    P, R, mask, gamma = prob
    mdp = TabularMDP(P, R, gamma=gamma, allowed=mask)
    ref = solve(bad_action_twin(P, R, mask, gamma), "pi")
    for method in METHODS:
        sol = solve(mdp, method)
        np.testing.assert_allclose(sol.V, ref.V, atol=1e-8, rtol=0, err_msg=method)
        assert not (sol.optimal & ~mask).any(), method
        assert mask[np.arange(len(sol.actions)), sol.actions].all(), method
        assert (sol.optimal == (ref.optimal & mask)).all(), method


@settings(max_examples=20, deadline=None)
@given(masked_problems(), st.integers(1, 4))
def test_masked_finite_horizon_equals_twin(prob, H):
    P, R, mask, gamma = prob
    mdp = TabularMDP(P, R, gamma=gamma, horizon=H, allowed=mask)
    sol, ref = solve(mdp), solve(bad_action_twin(P, R, mask, gamma, H))
    np.testing.assert_allclose(sol.V, ref.V, atol=1e-9, rtol=0)
    assert not (sol.optimal & ~mask).any() and (sol.optimal == (ref.optimal & mask)).all()


def simple_rationals(P):
    """P rounded to rows k/n with n < 200, floats that exact mode reads back as k/n (so
    each row sums to exactly 1)."""
    K = np.floor(P * 50) + 1
    return K / K.sum(-1, keepdims=True)


@settings(max_examples=25, deadline=None)
@given(masked_problems())
def test_exact_agrees_with_every_float_method_on_masked_problems(prob):
    P, R, mask, gamma = prob
    P = simple_rationals(P)
    mdp = TabularMDP(P, R, gamma=gamma, allowed=mask)
    ex = solve(mdp, "exact")
    assert not (ex.optimal & ~mask).any() and mask[np.arange(len(mask)), ex.actions].all()
    assert all(q == -np.inf for q in ex.Q[~mask])
    V = ex.V.astype(float)
    for method in METHODS:
        sol = solve(mdp, method)
        np.testing.assert_allclose(sol.V, V, atol=1e-9, rtol=0, err_msg=method)
        np.testing.assert_allclose(sol.Q[mask], ex.Q[mask].astype(float), atol=1e-9,
                                   err_msg=method)
        assert (sol.optimal | ~ex.optimal).all(), method  # exact ties are float-optimal
    pi = mask / mask.sum(1, keepdims=True)
    np.testing.assert_allclose(evaluate_exact(mdp, pi).astype(float), evaluate(mdp, pi),
                               atol=1e-9)


@settings(max_examples=20, deadline=None)
@given(masked_problems(), st.integers(1, 4))
def test_exact_agrees_with_backward_on_masked_finite_horizons(prob, H):
    P, R, mask, gamma = prob
    P = simple_rationals(P)
    mdp = TabularMDP(P, R, gamma=gamma, horizon=H, allowed=mask)
    ex, sol = solve(mdp, "exact"), solve(mdp)
    np.testing.assert_allclose(ex.V.astype(float), sol.V, atol=1e-9, rtol=0)
    assert not (ex.optimal & ~mask).any() and (sol.optimal | ~ex.optimal).all()
    assert mask[np.arange(P.shape[0]), ex.actions].all()


@settings(max_examples=15, deadline=None)
@given(masked_problems())
def test_evaluation_of_masked_policies_equals_twin(prob):
    P, R, mask, gamma = prob
    mdp = TabularMDP(P, R, gamma=gamma, allowed=mask)
    twin = bad_action_twin(P, R, mask, gamma)
    pi = mask / mask.sum(1, keepdims=True)
    np.testing.assert_allclose(evaluate(mdp, pi), evaluate(twin, pi), atol=1e-9)
    np.testing.assert_allclose(evaluate_many(mdp, pi[None])[0], evaluate(twin, pi), atol=1e-9)
    Q = q_values(mdp, pi)
    assert (Q[~mask] == -np.inf).all()
    np.testing.assert_allclose(Q[mask], q_values(twin, pi)[mask], atol=1e-9)
    d = occupancy(mdp, pi)
    assert (d[~mask] == 0).all()
    assert expected_return(mdp, pi) == pytest.approx(expected_return(twin, pi), abs=1e-9)


# ---- construction and errors --------------------------------------------------------------
def test_default_mask_and_read_only():
    mdp = TabularMDP(np.ones((1, 2, 1)), [[1.0, 2.0]], gamma=0.5)
    assert mdp.allowed.tolist() == [[True, True]] and not mdp.is_masked
    with pytest.raises(ValueError):
        mdp.allowed[0, 0] = False
    masked = puterman_forms()["dense -inf"]
    kept = masked.with_reward(np.array([[1.0, 2.0], [3.0, np.nan]]))
    assert kept.allowed.tolist() == masked.allowed.tolist() and kept.R[1, 1] == 0.0
    assert "1 disallowed" in repr(masked)


@pytest.mark.parametrize("R, allowed, match", [
    ([[1.0, 2.0], [-np.inf, -np.inf]], None, r"state 1 has no allowed action"),
    ([[1.0, 2.0], [3.0, 4.0]], np.array([[True, True], [False, False]]),
     r"state 1 has no allowed action"),
    ([[1.0, np.inf], [3.0, 4.0]], None, r"R\[0, 1\] = inf is not finite"),
    ([[1.0, 2.0], [np.nan, 4.0]], None, r"R\[1, 0\] = nan is not finite"),
    ([[1.0, 2.0], [3.0, 4.0]], np.array([[1, 1], [1, 0]]), r"allowed must be a boolean"),
    ([[1.0, 2.0], [3.0, 4.0]], np.ones((2, 3), bool), r"allowed must have shape \(2, 2\)"),
])
def test_mask_errors(R, allowed, match):
    with pytest.raises(InvalidMDP, match=match):
        TabularMDP(np.array(Q_DENSE), R, gamma=0.9, allowed=allowed)


@pytest.mark.parametrize("fn", [evaluate, q_values, occupancy, expected_return])
def test_policy_on_disallowed_action_is_an_error(fn):
    mdp = puterman_forms()["dense -inf"]
    with pytest.raises(InvalidMDP, match=r"policy\[1, 1\] = 0.5 > 0 but action 1 is not "
                                         r"allowed in state 1"):
        fn(mdp, [[1.0, 0.0], [0.5, 0.5]])
    with pytest.raises(InvalidMDP, match=r"policies\[0, 1, 1\]"):
        evaluate_many(mdp, [[[1.0, 0.0], [0.0, 1.0]]])
    finite = TabularMDP(np.array(Q_DENSE), R_DENSE, gamma=0.9, horizon=2)
    with pytest.raises(InvalidMDP, match=r"policy\[1, 1, 1\]"):
        evaluate(finite, [[[1.0, 0.0], [1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]]])


@pytest.mark.parametrize("kwargs, match", [
    (dict(s_indices=[0, 0, 1], a_indices=None), "both s_indices and a_indices"),
    (dict(s_indices=[0, 0, 0], a_indices=[0, 1, 0]), r"\(0, 0\) is listed more than once"),
    (dict(s_indices=[0, 0, 0], a_indices=[0, 1, 2]), "state 1 has no feasible action"),
    (dict(s_indices=[0, 0, 2], a_indices=[0, 1, 0]), r"s_indices\[2\] = 2 is out of range"),
    (dict(s_indices=[0.0, 0, 1], a_indices=[0, 1, 0]), "s_indices must be 3 integers"),
])
def test_from_quantecon_errors(kwargs, match):
    with pytest.raises(InvalidMDP, match=match):
        from_quantecon(R_PAIRS, Q_PAIRS, 0.95, **kwargs)


def test_from_quantecon_bad_row_names_the_pair():
    with pytest.raises(InvalidMDP, match=r"P\[0, 1, :\] sums to"):
        from_quantecon(R_PAIRS, [[0.5, 0.5], [0.2, 0.2], [0.0, 1.0]], 0.95, S_IND, A_IND)
    # the product form does not read rows of infeasible pairs (QuantEcon may leave zeros)
    mdp = from_quantecon(R_DENSE, [[[0.5, 0.5], [0.0, 1.0]], [[0.0, 1.0], [0.0, 0.0]]], 0.95)
    np.testing.assert_allclose(solve(mdp).V, V_STAR, atol=1e-9)


# ---- episodic, restricted, LP occupancy, batch ------------------------------------------
def test_episodic_mask_removes_a_nonnegative_trap():
    # state 0: a0 → terminal 1 (reward −1); a1 loops at 0 with reward 0 (a trap)
    P = np.zeros((2, 2, 2))
    P[0, 0, 1] = P[0, 1, 0] = P[1, :, 1] = 1.0
    R = np.array([[-1.0, 0.0], [0.0, 0.0]])
    free = solve(TabularMDP(P, R, gamma=1.0))  # the zero-reward loop is worth 0 > −1
    assert free.V.tolist() == [0.0, 0.0] and free.actions[0] == 1
    mdp = TabularMDP(P, R, gamma=1.0, allowed=np.array([[True, False], [True, True]]))
    for method in [*METHODS, "exact"]:
        sol = solve(mdp, method)
        np.testing.assert_allclose(sol.V.astype(float), [-1.0, 0.0], atol=1e-9)
        assert not sol.optimal[0, 1] and sol.actions[0] == 0
    assert evaluate(mdp, [[1.0, 0.0], [0.5, 0.5]]).tolist() == [-1.0, 0.0]
    assert evaluate_exact(mdp, [[1, 0], [F(1, 2), F(1, 2)]]).tolist() == [-1, 0]
    # a terminal state is checked exactly over its allowed actions only: action 1 of
    # state 1 leaves with reward 5 but is not allowed, so state 1 is still terminal
    P2 = P.copy()
    P2[1, 1] = [1.0, 0.0]
    R2 = np.array([[-1.0, -np.inf], [0.0, 5.0]])
    masked = TabularMDP(P2, R2, gamma=1.0, allowed=np.array([[True, True], [True, False]]))
    assert solve(masked, "exact").V.tolist() == [-1, 0]


def test_occupancy_lp_and_restricted_respect_the_mask():
    mdp = puterman_forms()["dense -inf"]
    d = occupancy_lp(mdp, mdp.mu0)
    assert d[1, 1] == 0.0 and d.sum() == pytest.approx(1 / 0.05, rel=1e-8)
    # a restriction that would allow (1, 1) is intersected with the MDP's own mask
    for method in ("pi", "vi", "lp"):
        sol = solve_restricted(mdp, np.array([[False, True], [True, True]]), method=method)
        assert sol.method == f"restricted:{method}" and not sol.optimal[1, 1]
        np.testing.assert_allclose(sol.V, [10 - 0.95 * 20, -20.0], atol=1e-9)


def test_batch_carries_masks():
    rng = np.random.default_rng(3)
    N, S, A = 5, 4, 3
    P = rng.random((N, S, A, S))
    P /= P.sum(-1, keepdims=True)
    R = rng.normal(size=(N, S, A))
    mask = rng.random((N, S, A)) < 0.5
    mask[:, :, 0] = True
    R_inf = np.where(mask, R, -np.inf)
    for horizon, methods in ((None, ("pi", "vi", "auto")), (3, ("backward",))):
        batch = MDPBatch(P, R_inf, gamma=0.9, horizon=horizon)
        assert (batch.allowed == mask).all() and (batch.R[~mask] == 0).all()
        for method in methods:
            sol = solve_batch(batch, method)
            assert not (sol.optimal & ~(mask if horizon is None else mask[:, None])).any()
            for i in range(N):
                ref = solve(TabularMDP(P[i], R[i], gamma=0.9, horizon=horizon,
                                       allowed=mask[i]))
                np.testing.assert_allclose(sol.V[i], ref.V, atol=1e-8)
        assert batch[0].is_masked
        assert MDPBatch.from_mdps([batch[i] for i in range(N)]).allowed.tolist() == \
            mask.tolist()
    with pytest.raises(InvalidMDP, match=r"model 0: state 0 has no allowed action"):
        MDPBatch(P, np.full((N, S, A), -np.inf), gamma=0.9)


# ---- history objectives ----------------------------------------------------------------------
def test_history_ce_respects_the_mask():
    # one state, arm 1 pays most but is not allowed: π*_t must take arm 0 or 2
    h = History.from_arrays([0] * 4, [0, 1, 2, 1], [0.1, 9.0, 0.5, 9.0], [0] * 4, [1 / 3] * 4)
    mask = np.array([[True, False, True]])
    free = history_optimal(h, "ce", n_states=1, n_actions=3, gamma=0.5)
    assert free.optimal.tolist() == [[False, True, False]]
    sol = history_optimal(h, "ce", n_states=1, n_actions=3, gamma=0.5, allowed=mask)
    assert sol.optimal.tolist() == [[False, False, True]] and sol.actions.tolist() == [2]
    with pytest.raises(ValueError, match="does not take an action mask"):
        history_optimal(h, "is", n_states=1, n_actions=3, allowed=mask)


# ---- environments and learners --------------------------------------------------------------
def masked_env(horizon=None, noise="none"):
    """Three states in a cycle; state 1 lacks action 1, state 2 has only action 2."""
    from mesabase.sims.envs import Env

    P = np.zeros((3, 3, 3))
    P[:, 0, 1] = P[:, 1, 2] = P[:, 2, 0] = 1.0
    R = np.array([[0.1, 0.2, 0.3], [0.0, -np.inf, 0.9], [-np.inf, -np.inf, 0.5]])
    return Env(TabularMDP(P, R, gamma=0.9, horizon=horizon), noise=noise)


def _assert_allowed_only(run, mask):
    h = run.history
    assert mask[h.states, h.actions].all()
    assert (run.policies[..., ~mask] == 0).all()


def test_env_exposes_the_mask_and_absorbing_counts_allowed_actions():
    env = masked_env()
    assert env.allowed.tolist() == [[True] * 3, [True, False, True], [False, False, True]]
    assert env.last_allowed.tolist() == [2, 2, 2]
    from mesabase.sims.envs import Env

    P = np.zeros((2, 2, 2))
    P[0, :, 1] = 1.0
    P[1, 0, 1] = P[1, 1, 0] = 1.0  # state 1: action 0 stays, action 1 (disallowed) leaves
    env = Env(TabularMDP(P, [[0.0, 1.0], [0.0, -np.inf]], gamma=0.9))
    assert env.absorbing.tolist() == [False, True] and env.last_allowed.tolist() == [1, 0]


LEARNERS = [
    dict(lr=0.5), dict(lr=0.3, baseline="mean"), dict(lr=0.2, update="episode", gamma=0.9),
    dict(lr=0.2, natural=True), dict(lr=0.3, policy=np.random.default_rng(0).normal(
        size=(3, 3, 2))),
]


@pytest.mark.parametrize("kwargs", LEARNERS, ids=lambda k: ",".join(map(str, k)))
def test_reinforce_never_samples_a_disallowed_action(kwargs):
    from mesabase.sims import Reinforce, simulate

    env = masked_env(horizon=5)
    run = simulate(env, Reinforce(**kwargs), 300, seeds=[0, 1, 2], shadow=None)
    _assert_allowed_only(run, env.allowed)
    assert run.learner.allowed.tolist() == env.allowed.tolist()


def test_reinforce_masked_softmax_and_score():
    from mesabase.sims import Reinforce
    from mesabase.sims.agents.reinforce import Transition

    mask = masked_env().allowed
    learner = Reinforce(lr=1.0, allowed=mask)
    state = learner.init(1, 3, 3)
    assert learner.policy(state)[0, 1].tolist() == [0.5, 0.0, 0.5]
    assert learner.action_probs(state, np.array([2]))[0].tolist() == [0.0, 0.0, 1.0]
    step = Transition(np.array([1]), np.array([0]), np.array([1.0]), np.array([2]),
                      np.array([0.5]), np.array([False]), 0)
    theta = learner.update(state, step).theta
    assert theta[0, 1].tolist() == [0.5, 0.0, -0.5]  # e_a − π over the allowed actions
    bad = step._replace(action=np.array([1]))
    with pytest.raises(ValueError, match=r"step.action\[0\] = 1 is not allowed in state 1"):
        learner.update(state, bad)
    with pytest.raises(ValueError, match="allowed has shape"):
        Reinforce(allowed=mask).init(1, 2, 3)


def test_numba_engine_honours_the_mask_and_equals_numpy():
    from mesabase.sims import Reinforce, simulate
    from mesabase.sims.agents import engine as fast

    if not fast.available():
        pytest.skip("numba is not installed")
    env = masked_env(horizon=4, noise="bernoulli")
    for learner in (Reinforce(lr=0.5), Reinforce(lr=0.3, baseline="mean")):
        ref = simulate(env, learner, 400, seeds=[3, 9], shadow=None, record_every=50)
        got = simulate(env, learner, 400, seeds=[3, 9], shadow=None, record_every=50,
                       engine="numba")
        _assert_allowed_only(got, env.allowed)
        for f in ("states", "actions", "rewards", "next_states", "dones"):
            np.testing.assert_array_equal(getattr(ref.history, f), getattr(got.history, f))
        np.testing.assert_allclose(ref.policies, got.policies, atol=1e-12, rtol=0)
    other = Reinforce(lr=0.5, allowed=np.array([[True, False, True]] * 3))
    assert "differs from the environment" in fast.unsupported(env, other.bind(env), None)


@pytest.mark.parametrize("horizon", [None, 3])
def test_full_optimizer_respects_the_mask(horizon):
    from mesabase.sims import FullOptimizer, simulate

    env = masked_env(horizon=horizon)
    run = simulate(env, FullOptimizer(epsilon=0.2), 150, seeds=[0, 1], shadow=None)
    _assert_allowed_only(run, env.allowed)
    assert run.learner.allowed is not None
    shadowed = simulate(env, FullOptimizer(epsilon=0.2), 60, seeds=[0], shadow="ce")
    assert not (shadowed.shadow_optimal[..., ~env.allowed]).any()
    with pytest.raises(ValueError, match="does not support action masks"):
        FullOptimizer(objective="is").bind(env)


def test_simulate_refuses_a_learner_that_ignores_the_mask():
    from mesabase.sims import simulate

    class Uniform:  # no bind: puts mass on every action
        def init(self, N, S, A, rng=None):
            return np.full((N, S, A), 1.0 / A)

        def policy(self, state):
            return state

        def update(self, state, step):
            return state

    with pytest.raises(ValueError, match="not allowed in state"):
        simulate(masked_env(), Uniform(), 50, seeds=[0], shadow=None)
