"""Attribution: the decomposition telescopes exactly, restricted solves equal brute force,
and verdicts agree with hand-built cases whose answers are known."""

import itertools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy.stats import binomtest

from mesabase.theory import History, InvalidMDP, TabularMDP, empirical_mdp, expected_return
from mesabase.theory.attribution.gaps import (
    behaviour_range,
    behaviour_values,
    behaviour_verdicts,
    decompose,
    proportion,
    verdict,
    verdict_fractions,
)
from mesabase.theory.attribution.restricted import (
    argmax_set_allowed,
    reachable,
    restricted_optima,
    solve_restricted,
)
from mesabase.theory.solvers.iteration import solve
from mesabase.theory.strategies import mdps

TOL = 1e-9


# ---- helpers ------------------------------------------------------------------------
def _deterministic(P, R, mu0, gamma=0.9):
    """A TabularMDP from a next-state table P[s][a] (deterministic dynamics)."""
    S, A = len(P), len(P[0])
    T = np.zeros((S, A, S))
    for s, a in itertools.product(range(S), range(A)):
        T[s, a, P[s][a]] = 1.0
    return TabularMDP(T, np.asarray(R, dtype=float), gamma=gamma, mu0=mu0)


def _history(steps):
    """History of one seed from (s, a, r, s') tuples (behaviour probabilities 1/2)."""
    s, a, r, s2 = (list(x) for x in zip(*steps, strict=True))
    return History.from_arrays(s, a, r, s2, [0.5] * len(s))


def _ce(h, S, A, **model):
    """Certainty-equivalent π*_t: (model, Solution, argmax-set mask)."""
    m = empirical_mdp(h, S, A, gamma=0.9, **model)
    sol = solve(m, method="pi")
    return m, sol, argmax_set_allowed(sol.optimal, m.visits, P=m.P, mu0=m.mu0, gamma=m.gamma)


def _batch(x):
    """(N, R) = (1, 1); keeps the dtype: bool is a mask (a set), float a policy."""
    x = np.asarray(x)
    return (x if x.dtype == bool else x.astype(float))[None, None]


def _fix_rows(mask, fallback):
    mask = mask.copy()
    empty = ~mask.any(-1)
    mask[empty, fallback[empty] % mask.shape[-1]] = True
    return mask


# ---- (1) the decomposition telescopes ---------------------------------------------------
@st.composite
def _decomposition_case(draw):
    mdp = draw(mdps(n_states=st.integers(1, 4), n_actions=st.integers(1, 3), mu0="random",
                    horizon=st.one_of(st.none(), st.integers(1, 3))))
    S, A = mdp.n_states, mdp.n_actions
    base = mdp
    if draw(st.booleans()):
        base = draw(mdps(n_states=S, n_actions=A, gamma=mdp.gamma, horizon=mdp.horizon,
                         mu0="random"))
    rewards = arrays(np.float64, (S, A), elements=st.integers(-4, 4).map(lambda k: k / 2))
    R_I, R_B = draw(rewards), draw(rewards)
    if draw(st.booleans()):
        R_B = R_I.copy()
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    per_step = mdp.horizon is not None and draw(st.booleans())
    shape = (2, 3) + ((mdp.horizon,) if per_step else ()) + (S,)
    return mdp, base, R_I, R_B, rng.dirichlet(np.ones(A), shape), rng.dirichlet(np.ones(A), shape)


@given(_decomposition_case())
def test_decomposition_telescopes_exactly(case):
    """Float argmax_t: each π*_t is a one-policy set, so m_t = M_t = J_I(π*_t)."""
    mdp, base, R_I, R_B, hist, learn = case
    d = decompose(mdp, R_I, R_B, hist, learn, mdp_base=base)
    assert d.total.shape == (2, 3)
    terms = d.misspecification_gap + d.data_gap + d.ambiguity_gap + d.learner_gap
    assert np.abs(terms - d.total).max() <= TOL
    assert np.abs(d.outer + d.learner_gap - d.total).max() <= TOL
    # every J is an exact evaluation: compare with the single-policy evaluator
    for n, r in itertools.product(range(2), range(3)):
        assert abs(d.J_learner[n, r] - expected_return(mdp, learn[n, r], R_I)) <= TOL
        assert abs(d.J_history_max[n, r] - expected_return(mdp, hist[n, r], R_I)) <= TOL
    np.testing.assert_array_equal(d.J_history_min, d.J_history_max)
    # one-policy sets: the learner sits at the set's only value or off it, never inside
    assert np.abs(d.ambiguity_gap).max() <= TOL
    # π_I* is optimal: no policy beats it; the base range lies below it
    m, M = d.J_base_range
    assert m <= M + TOL and M <= d.J_intended + TOL
    assert d.misspecification_gap.min() >= -TOL and d.total.min() >= -TOL
    np.testing.assert_allclose(d.misspecification_gap, d.J_intended - M, rtol=0, atol=0)
    if base is mdp and np.array_equal(R_I, R_B):   # the objective is the intent
        assert np.abs(d.misspecification_gap).max() <= TOL


@st.composite
def _mask_case(draw):
    mdp = draw(mdps(n_states=st.integers(1, 2), n_actions=st.integers(1, 3), mu0="random",
                    horizon=st.one_of(st.none(), st.integers(1, 2))))
    S, A = mdp.n_states, mdp.n_actions
    rewards = arrays(np.float64, (S, A), elements=st.integers(-4, 4).map(lambda k: k / 2))
    R_I, R_B = draw(rewards), draw(rewards)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    per_step = mdp.horizon is not None and draw(st.booleans())
    lead = (2, 2) + ((mdp.horizon,) if per_step else ())
    mask = _fix_rows(rng.random(lead + (S, A)) < 0.5, rng.integers(0, A, lead + (S,)))
    learn = rng.dirichlet(np.ones(A), lead + (S,))
    return mdp, R_I, R_B, mask, learn


@given(_mask_case())
def test_decomposition_over_a_mask_telescopes_and_uses_the_exact_range(case):
    """Bool argmax_t: [m_t, M_t] is the exact range of J_I over the mask (brute force)."""
    mdp, R_I, R_B, mask, learn = case
    d = decompose(mdp, R_I, R_B, mask, learn)
    terms = d.misspecification_gap + d.data_gap + d.ambiguity_gap + d.learner_gap
    assert np.abs(terms - d.total).max() <= TOL
    assert d.ambiguity_gap.min() >= -TOL
    for n, r in itertools.product(range(2), range(2)):
        lo, hi = _brute(mdp, R_I, mask[n, r], per_step=mask.ndim == 5)
        assert abs(d.J_history_min[n, r] - lo) <= TOL and abs(d.J_history_max[n, r] - hi) <= TOL
        v, gap = d.J_learner[n, r], d.learner_gap[n, r]
        expected = lo - v if v < lo else (hi - v if v > hi else 0.0)
        assert abs(gap - expected) <= 2 * TOL


def test_decompose_validates_shapes():
    mdp = TabularMDP(np.ones((1, 2, 1)), [[0.0, 0.0]], gamma=0.5)
    with pytest.raises(InvalidMDP, match=r"argmax_t must have shape \(N, R, 1, 2\)"):
        decompose(mdp, [[1.0, 0.0]], [[1.0, 0.0]], np.full((1, 2), 0.5), np.full((1, 1, 1, 2), .5))
    with pytest.raises(InvalidMDP, match="argmax_t has"):
        decompose(mdp, [[1.0, 0.0]], [[1.0, 0.0]], np.full((2, 1, 1, 2), .5),
                  np.full((1, 1, 1, 2), .5))
    with pytest.raises(InvalidMDP, match=r"pi_learner must have shape"):
        decompose(mdp, [[1.0, 0.0]], [[1.0, 0.0]], np.ones((1, 1, 1, 2), bool),
                  np.full((1, 1, 2), .5))


# ---- (5e) restricted solves equal brute force --------------------------------------------
def _brute(mdp, b, allowed, per_step=False):
    """min and max of J_b over every deterministic policy inside ``allowed``."""
    S, A, H = mdp.n_states, mdp.n_actions, mdp.horizon
    masks = allowed if per_step else ([allowed] * H if H else [allowed])
    cells = [np.flatnonzero(m[s]) for m in masks for s in range(S)]
    values = []
    for choice in itertools.product(*cells):
        pi = np.eye(A)[list(choice)].reshape(len(masks), S, A)
        values.append(behaviour_values(mdp, b, pi if H else pi[0], per_step=H is not None))
    return min(values), max(values)


@st.composite
def _restricted_case(draw, horizon=None):
    small = horizon is not None
    mdp = draw(mdps(n_states=st.integers(1, 2 if small else 3),
                    n_actions=st.integers(1, 2 if small else 3), mu0="random", horizon=horizon))
    S, A = mdp.n_states, mdp.n_actions
    shape = ((mdp.horizon,) if small and draw(st.booleans()) else ()) + (S, A)
    mask = _fix_rows(draw(arrays(bool, shape)), draw(arrays(np.int64, shape[:-1],
                                                            elements=st.integers(0, 2))))
    b = draw(arrays(np.float64, (S, A), elements=st.integers(-4, 4).map(lambda k: k / 2)))
    return mdp, mask, b


@given(_restricted_case())
def test_behaviour_range_equals_brute_force(case):
    mdp, allowed, b = case
    lo, hi = behaviour_range(mdp, b, allowed)
    blo, bhi = _brute(mdp, b, allowed)
    assert abs(lo - blo) <= TOL and abs(hi - bhi) <= TOL
    sol = solve_restricted(mdp, allowed, b)
    assert abs(float(mdp.mu0 @ sol.V) - hi) <= TOL
    assert not (sol.optimal & ~allowed).any() and np.isneginf(sol.Q[~allowed]).all()
    assert allowed[np.arange(mdp.n_states), sol.actions].all()


@given(_restricted_case(horizon=st.integers(1, 2)))
def test_behaviour_range_finite_horizon_equals_brute_force(case):
    mdp, allowed, b = case
    per_step = allowed.ndim == 3
    lo, hi = behaviour_range(mdp, b, allowed, per_step=per_step)
    blo, bhi = _brute(mdp, b, allowed, per_step)
    assert abs(lo - blo) <= TOL and abs(hi - bhi) <= TOL
    sol = solve_restricted(mdp, allowed, b)
    assert abs(float(mdp.mu0 @ sol.V[0]) - hi) <= TOL


def test_batched_sparse_and_episodic_optima_equal_single_solves():
    rng = np.random.default_rng(3)
    S, A = 5, 3
    P = rng.random((S, A, S)) ** 3
    P /= P.sum(-1, keepdims=True)
    b = rng.normal(size=(S, A))
    masks = _fix_rows(rng.random((4, 2, S, A)) < 0.5, rng.integers(0, A, (4, 2, S)))
    dense = TabularMDP(P, b, gamma=0.9)
    sparse = TabularMDP(sp.csr_array(P.reshape(S * A, S)), b, gamma=0.9)
    got = restricted_optima(dense, masks, b)
    assert got.shape == (4, 2)
    for i, j in itertools.product(range(4), range(2)):
        ref = float(dense.mu0 @ solve_restricted(dense, masks[i, j], b).V)
        assert abs(got[i, j] - ref) <= TOL
    assert np.abs(restricted_optima(sparse, masks, b) - got).max() <= TOL
    # γ = 1 episodic: state 2 terminal, −1 per step elsewhere; the mask forbids the shortcut
    T = np.zeros((3, 2, 3))
    T[0, 0, 2] = T[0, 1, 1] = T[1, :, 2] = T[2, :, 2] = 1.0
    ep = TabularMDP(T, [[-1.0, -1.0], [-1.0, -1.0], [0.0, 0.0]], gamma=1.0, mu0=[1, 0, 0])
    only_long = np.array([[False, True], [True, True], [True, True]])
    assert abs(restricted_optima(ep, only_long) - (-2.0)) <= TOL
    assert abs(restricted_optima(ep, np.ones((3, 2), bool)) - (-1.0)) <= TOL


def test_allowed_without_an_action_is_rejected_by_state():
    mdp = TabularMDP(np.ones((2, 2, 2)) / 2, np.zeros((2, 2)), gamma=0.5)
    with pytest.raises(InvalidMDP, match=r"allowed\[1, :\] has no allowed action"):
        behaviour_range(mdp, np.zeros((2, 2)), np.array([[True, False], [False, False]]))


# ---- the argmax set as a mask ------------------------------------------------------------
def test_argmax_set_frees_unvisited_and_unreachable_states():
    # 0 -a0-> 0 (optimal), 0 -a1-> 1, 1 -·-> 2, 2 -·-> 2; optimal set as given
    P = np.zeros((3, 2, 3))
    P[0, 0, 0] = P[0, 1, 1] = P[1, :, 2] = P[2, :, 2] = 1.0
    opt = np.array([[True, False], [False, True], [True, False]])
    mu0 = np.array([1.0, 0.0, 0.0])
    visits = np.array([[3, 1], [1, 0], [0, 0]])
    assert reachable(P, opt, mu0).tolist() == [True, False, False]
    assert reachable(P, np.ones((3, 2), bool), mu0).tolist() == [True, True, True]
    free = argmax_set_allowed(opt, visits, P=P, mu0=mu0)
    assert free.tolist() == [[True, False], [True, True], [True, True]]
    # without the model only the unvisited state 2 is free
    assert argmax_set_allowed(opt, visits).tolist() == [[True, False], [False, True],
                                                         [True, True]]
    # γ = 0: only supp μ0 matters; a horizon: reachability step by step
    assert reachable(P, np.ones((3, 2), bool), mu0, gamma=0.0).tolist() == [True, False, False]
    steps = reachable(P, np.ones((2, 3, 2), bool), mu0, horizon=2)
    assert steps.tolist() == [[True, False, False], [True, True, False]]
    myopic = reachable(P, np.ones((2, 3, 2), bool), mu0, gamma=0.0, horizon=2)
    assert myopic.tolist() == [[True, False, False], [False, False, False]]


# ---- verdicts on hand-built cases --------------------------------------------------------
# (a)/(b) a course with a loop: 0 = course, 1 = loop, 2 = finished (absorbing);
# a0 = advance (0 → 2 finishes, 1 → 0), a1 = loop (0 → 1, 1 → 1).
COURSE = [[2, 1], [0, 1], [2, 2]]
FINISH = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
POINTS = np.array([[1.0, 0.0], [0.0, 0.5], [0.0, 0.0]])   # R_B: the loop pays 0.5 a step
LOOPS = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])    # behaviour: steps spent looping
LOOPER = np.array([[0.2, 0.8], [0.1, 0.9], [0.5, 0.5]])


def _course_history(R):
    return _history([(s, a, R[s, a], COURSE[s][a]) for s in range(3) for a in range(2)])


def test_misspecified_reward_gives_a_misspecification_gap_and_outer():
    mdp = _deterministic(COURSE, FINISH, mu0=[1, 0, 0])
    _, sol, allowed = _ce(_course_history(POINTS), 3, 2, mu0=[1, 0, 0])
    d = decompose(mdp, FINISH, POINTS, _batch(allowed), _batch(LOOPER))
    # J_I(π_I*) = 1; every base maximiser loops from t = 1 and never finishes: A_B = {0}
    assert d.J_base_range == pytest.approx((0.0, 0.0), abs=TOL)
    assert abs(d.misspecification_gap[0, 0] - 1.0) <= TOL
    assert abs(d.data_gap[0, 0]) <= TOL                   # full data: A_t = A_B
    assert (d.J_history_min[0, 0], d.J_history_max[0, 0]) == pytest.approx((0.0, 0.0), abs=TOL)
    # the looper still finishes sometimes: above every maximiser, a negative learner gap
    J_L = expected_return(mdp, LOOPER, FINISH)
    assert J_L > 0.1 and abs(d.ambiguity_gap[0, 0]) <= TOL
    assert abs(d.learner_gap[0, 0] + J_L) <= TOL
    # a unique maximiser: the point π*_t gives the same terms as its set
    p = decompose(mdp, FINISH, POINTS, _batch(sol.policy), _batch(LOOPER))
    for f in ("misspecification_gap", "data_gap", "ambiguity_gap", "learner_gap"):
        assert abs(getattr(p, f)[0, 0] - getattr(d, f)[0, 0]) <= TOL
    v = behaviour_verdicts(mdp, {"loops": LOOPS}, {"loops": 1.0}, LOOPER[None],
                           allowed[None])["loops"]
    assert v.label.tolist() == ["outer"] and bool(v.every_optimal_shows[0])
    assert abs(v.hi[0] - 9.0) <= TOL                      # loop from t = 1: 0.9 / (1 − 0.9)


def test_stuck_learner_with_the_intended_reward_is_inner():
    mdp = _deterministic(COURSE, FINISH, mu0=[1, 0, 0])
    _, sol, allowed = _ce(_course_history(FINISH), 3, 2, mu0=[1, 0, 0])
    d = decompose(mdp, FINISH, FINISH, _batch(allowed), _batch(LOOPER))
    assert d.misspecification_gap[0, 0] == 0.0 and abs(d.data_gap[0, 0]) <= TOL
    # every maximiser finishes at once: J_I = 1 over A_t, the learner below all of them
    assert (d.J_history_min[0, 0], d.J_history_max[0, 0]) == pytest.approx((1.0, 1.0), abs=TOL)
    assert abs(d.ambiguity_gap[0, 0]) <= TOL and d.learner_gap[0, 0] > 0.5
    # the loop state 1 was visited but optimal play never reaches it: free, yet from state
    # 0 every maximiser finishes at once, so none loops
    assert allowed[1].all() and allowed[0].tolist() == [True, False]
    lo, hi = behaviour_range(mdp, LOOPS, allowed)
    learner = behaviour_values(mdp, LOOPS, LOOPER)
    assert learner >= 1.0 and abs(hi) <= TOL
    assert verdict(learner, lo, hi, 1.0).label.item() == "inner"


def test_exploration_trap_gives_a_data_gap_that_data_close():
    # chain 0 → 1 → 2 → 3; a0 stays (0.1 a step in state 0), a1 moves right; 1 a step in 3
    R = np.zeros((4, 2))
    R[0, 0], R[3] = 0.1, 1.0
    mdp = _deterministic([[0, 1], [1, 2], [2, 3], [3, 3]], R, mu0=[1, 0, 0, 0])
    short = _history([(0, 0, 0.1, 0), (0, 0, 0.1, 0), (0, 1, 0.0, 1)])
    _, sol, allowed = _ce(short, 4, 2, mu0=[1, 0, 0, 0])
    # the states beyond 0 are free in A_t, but every maximiser stays at 0: J_I = 1 over A_t
    assert allowed[0].tolist() == [True, False] and allowed[1:].all()
    d = decompose(mdp, R, R, _batch(allowed), _batch(sol.policy))
    assert d.misspecification_gap[0, 0] == 0.0
    assert abs(d.ambiguity_gap[0, 0]) <= TOL and abs(d.learner_gap[0, 0]) <= TOL
    assert abs(d.data_gap[0, 0] - (0.9**3 * 10 - 1.0)) <= TOL     # 7.29 − 1
    full = _history([(s, a, R[s, a], min(s + a, 3)) for s in range(4) for a in range(2)])
    _, sol, allowed = _ce(full, 4, 2, mu0=[1, 0, 0, 0])
    d = decompose(mdp, R, R, _batch(allowed), _batch(sol.policy))
    assert abs(d.data_gap[0, 0]) <= TOL and abs(d.total[0, 0]) <= TOL


# (d) underdetermination. Training: 0 -a0-> 1 pays 1, 0 -a1-> 2 (an excursion); 1 -a0-> 0;
# 2 -a0-> 0 pays 0.5 ("leave"), 2 -a1-> 2 ("grab", the behaviour). Deployment starts in 2.
TRAIN = [[1, 2], [0, 1], [0, 2]]
R_TRAIN = np.array([[1.0, 0.0], [0.0, 0.0], [0.5, 0.0]])
GRABS = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 1.0]])
GRABBER = np.array([[1.0, 0.0], [1.0, 0.0], [0.2, 0.8]])
CORE = [(0, 0, 1.0, 1), (1, 0, 0.0, 0), (1, 1, 0.0, 1), (0, 1, 0.0, 2)]
AT_2 = [(2, 0, 0.5, 0), (2, 1, 0.0, 2)]


def _grab_verdict(allowed):
    deploy = _deterministic(TRAIN, R_TRAIN, mu0=[0, 0, 1])
    learner = behaviour_values(deploy, GRABS, GRABBER)
    assert abs(learner - 0.8 / (1 - 0.9 * 0.8)) <= TOL
    lo, hi = behaviour_range(deploy, GRABS, allowed)
    return verdict(learner, lo, hi, 1.0).label.item()


def test_underdetermination_outer_and_constrained_inner():
    # (d1) state 2 never visited; a prior, not data, prefers leaving there
    prior = np.zeros((3, 2, 3))
    prior[2, 0, 0] = 1.0
    m, sol, allowed = _ce(_history(CORE[:3]), 3, 2, prior=prior)
    assert sol.optimal[2].tolist() == [True, False] and allowed[2].all()
    assert _grab_verdict(sol.optimal) == "inner"          # the prior's mask alone
    assert _grab_verdict(allowed) == "outer"              # the data leave state 2 free
    # (d2) state 2 visited, training also starts there: the data constrain it
    _, sol, allowed = _ce(_history(CORE + AT_2), 3, 2)
    assert allowed[2].tolist() == [True, False]
    assert _grab_verdict(allowed) == "inner"
    # (d3) visited by the excursion only; from μ0 = state 0 no maximiser goes there
    _, sol, allowed = _ce(_history(CORE + AT_2), 3, 2, mu0=[1, 0, 0])
    assert sol.optimal[2].tolist() == [True, False] and allowed[2].all()
    assert _grab_verdict(sol.optimal) == "inner"          # ignoring reachability
    assert _grab_verdict(allowed) == "outer"              # the argmax set decides it


def test_deployment_base_range_uses_the_training_optimum_and_its_free_states():
    """A_B is optimal in *training*; state 2 is off its optimal play there, so free. In
    deployment (start in 2) J_I over A_B then ranges from grabbing for ever (−10) to the
    intended optimum: misspecification 0 (an intended-optimal policy is among the base
    maximisers). A learner that grabs sits inside the set: its shortfall is ambiguity
    (outer, underdetermination), not a learner gap."""
    train = _deterministic(TRAIN, R_TRAIN, mu0=[1, 0, 0])
    deploy = _deterministic(TRAIN, R_TRAIN, mu0=[0, 0, 1])
    R_I = R_TRAIN - GRABS                                 # we do not want grabbing
    sol_B = solve(train, method="pi")
    allowed_B = argmax_set_allowed(sol_B.optimal, P=train.P, mu0=train.mu0, gamma=0.9)
    assert allowed_B[2].all()
    pi = _batch(GRABBER)
    d = decompose(deploy, R_I, R_TRAIN, _batch(allowed_B), pi, mdp_base=train)
    m, M = d.J_base_range
    assert abs(m - (-10.0)) <= TOL and abs(M - d.J_intended) <= TOL
    assert abs(d.misspecification_gap[0, 0]) <= TOL and abs(d.data_gap[0, 0]) <= TOL
    J_L = expected_return(deploy, GRABBER, R_I)
    assert m < J_L < M
    assert abs(d.ambiguity_gap[0, 0] - (d.J_intended - J_L)) <= TOL
    assert abs(d.learner_gap[0, 0]) <= TOL
    # the solver's point π_B* is one member of the set (it leaves state 2): M, not m
    assert abs(expected_return(deploy, sol_B.policy, R_I) - M) <= TOL
    same = decompose(deploy, R_I, R_TRAIN, pi, pi)        # A_B optimal in deployment
    assert same.J_base_range == pytest.approx((same.J_intended, same.J_intended), abs=TOL)
    assert abs(same.misspecification_gap[0, 0]) <= TOL


# ---- fractions across seeds --------------------------------------------------------------
@pytest.mark.parametrize("k,n", [(0, 7), (3, 7), (7, 7), (1, 1), (12, 40)])
def test_proportion_is_clopper_pearson(k, n):
    p = proportion(np.arange(n) < k, confidence=0.9)
    ci = binomtest(k, n).proportion_ci(0.9, method="exact")
    assert p.count == k and p.n == n and abs(p.fraction - k / n) <= 1e-15
    assert abs(p.low - ci.low) <= TOL and abs(p.high - ci.high) <= TOL


def test_verdict_fractions_across_seeds():
    learner = np.array([2.0, 2.0, 2.0, 0.0, 0.0])
    hi = np.array([3.0, 0.5, 1.0, 3.0, 0.0])
    v = verdict(learner, np.zeros(5), hi, 1.0)
    # seed 3: the learner does not show it but a maximiser does: outer (the objective
    # selects it whatever the learner does)
    assert v.label.tolist() == ["outer", "inner", "outer", "outer", "none"]
    f = verdict_fractions(v)
    assert f["outer"].count == 3 and f["inner"].count == 1 and f["none"].count == 1
    assert f["learner_shows"].count == 3
    assert f["some_optimal_shows"].count == 3 and f["every_optimal_shows"].count == 0
    assert abs(sum(f[k].fraction for k in ("outer", "inner", "none")) - 1.0) <= 1e-15
    with pytest.raises(ValueError, match="lo 2.0 > hi 1.0"):
        verdict(1.0, 2.0, 1.0, 0.5)
