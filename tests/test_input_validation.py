"""Issue 11, items 7, 8 and 10: bad input gets a clear error, never a silent NaN or a
silently truncated value. Each test reproduces the input of the report and failed on the
code before the fix."""

import pickle
import warnings
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp

from mesabase.sims import Reinforce, riverswim, simulate
from mesabase.sims.agents.engine import available as numba_available
from mesabase.sims.agents.full import FullOptimizer
from mesabase.sims.agents.policies import LinearSoftmax, TabularSoftmax
from mesabase.sims.agents.reinforce import DivergedError, Transition
from mesabase.sims.envs import Env, bernoulli_bandit
from mesabase.sims.envs.gridworld import build_gridworld
from mesabase.theory import (
    History,
    IncrementalCE,
    InvalidMDP,
    TabularMDP,
    empirical_mdp,
    evaluate,
    evaluate_many,
    expected_return,
    expected_returns,
    from_gym,
    from_mdptoolbox,
    history_optimal,
)
from mesabase.theory.checks import check_int, check_real, real_array


# ---- 7: the "is" objective in log space ---------------------------------------------------
def test_is_shadow_on_a_long_riverswim_run_is_finite_without_warnings():
    """The report's input: 1,500 steps of RiverSwim (one episode: Π 1/b ≈ 2^1500)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        run = simulate(riverswim(), Reinforce(lr=0.1), 1500, seeds=2, shadow="is",
                       record_every=500)
    assert np.isfinite(run.shadow_policies).all() and np.isfinite(run.shadow_returns).all()
    assert run.shadow_optimal.any(axis=-1).all()       # every state keeps an optimal action
    sol = history_optimal(run.history, "is", n_states=6, n_actions=2, gamma=0.95)
    np.testing.assert_array_equal(sol.optimal, run.shadow_optimal[:, -1])
    assert not np.isnan(sol.Q).any() and not np.isnan(sol.V).any()


def _oracle_is(states, actions, rewards):
    """Exact IS scores with γ = 1/2 and b = 1/4 (so γᵏ Π_{j≤k} 1/b_j = 4·2ᵏ), one episode:
    the integer Σ_{k < first mismatch} 4 r_k 2ᵏ per deterministic policy (S = A = 2)."""
    scores = {}
    for pol in [(0, 0), (0, 1), (1, 0), (1, 1)]:
        total = 0
        for k, (s, a, r) in enumerate(zip(states, actions, rewards, strict=True)):
            if pol[s] != a:
                break
            total += 4 * int(r) * 2**k
        scores[pol] = total
    Q = [[max(v for p, v in scores.items() if p[s] == a) for a in range(2)] for s in range(2)]
    return Q


def _as_float(x: int) -> float:
    try:
        return float(x)
    except OverflowError:
        return float(np.inf) if x > 0 else -float(np.inf)


@pytest.mark.parametrize("T", [1000, 1100])   # weight e^{1386} with a finite score; and ∞
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_is_argmax_and_values_are_exact_when_the_weights_overflow(T, seed):
    g = np.random.default_rng(seed)
    states = g.integers(0, 2, T)
    actions = states.copy()                # behaviour: a = s, so policy (0, 1) never breaks
    if seed >= 2:                          # ... except near the end
        actions[T - 3] = 1 - actions[T - 3]
    rewards = g.integers(-1, 2, T).astype(float)
    rewards[T - 5:] = 1.0 if seed % 2 == 0 else -1.0    # the sign of the huge scores
    h = History.from_arrays(states, actions, rewards, states, np.full(T, 0.25))
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        sol = history_optimal(h, "is", n_states=2, n_actions=2, gamma=0.5)
    Q = _oracle_is(states, actions, rewards)
    for s in range(2):
        best = max(Q[s])
        assert sol.optimal[s].tolist() == [q == best for q in Q[s]]
        for a in range(2):
            want = _as_float(Q[s][a])
            if np.isfinite(want):
                assert sol.Q[s, a] == pytest.approx(want, rel=1e-9, abs=0)
            else:
                assert sol.Q[s, a] == want
    assert not np.isnan(sol.Q).any()


def test_is_bandit_with_tiny_behaviour_probabilities_ranks_the_arms():
    # r/b = 1e310 and 2e310: both overflowed to inf and tied; arm 1 is twice arm 0
    h = History.from_arrays([0, 0], [0, 1], [1e10, 2e10], [0, 0], [1e-300, 1e-300])
    sol = history_optimal(h, "is", n_states=1, n_actions=2)
    assert sol.optimal.tolist() == [[False, True]]
    assert sol.Q[0].tolist() == [np.inf, np.inf]    # beyond the float range, reported as such


def test_is_objective_names_seed_and_step_where_it_is_undefined():
    h = History.from_arrays(np.zeros((2, 4), int), np.zeros((2, 4), int), np.ones((2, 4)),
                            np.zeros((2, 4), int), np.full((2, 4), 0.5))
    h._data["probs"][1, 2] = 0.0       # as a buffer written directly (the numba engine does)
    with pytest.raises(ValueError, match=r'"is": seed 1, step 2: behaviour probability 0\.0'):
        history_optimal(h, "is", n_states=1, n_actions=1)


# ---- 8: History.append validates ----------------------------------------------------------
GOOD = dict(states=[0, 1], actions=[1, 0], rewards=[1.0, 0.0], next_states=[1, 1],
            probs=[0.5, 0.5], dones=[False, True])


@pytest.mark.parametrize("field, value, match", [
    ("states", [0, -1], r"states\[1\] = -1 \(seed 1, step 1\) is negative"),
    ("actions", [-3, 0], r"actions\[0\] = -3 \(seed 0, step 1\)"),
    ("next_states", [0, -1], r"next_states\[1\] = -1 \(seed 1"),
    ("states", [0, 0.5], r"states\[1\] = 0\.5 \(seed 1, step 1\) is not an integer"),
    ("states", [True, False], "states must hold integers; got dtype bool"),
    ("states", ["0", "1"], "states must be numeric"),
    ("rewards", [1.0, np.nan], r"rewards\[1\] = nan \(seed 1, step 1\) is not finite"),
    ("rewards", [np.inf, 0.0], r"rewards\[0\] = inf \(seed 0"),
    ("rewards", [1.0, 1j], "rewards must be real; got complex"),
    ("probs", [0.5, 0.0], r"probs\[1\] = 0\.0 \(seed 1, step 1\) is not a probability"),
    ("probs", [1.5, 0.5], r"probs\[0\] = 1\.5"),
    ("probs", [np.nan, 0.5], r"probs\[0\] = nan"),
    ("dones", [2, 0], r"dones\[0\] = 2 \(seed 0, step 1\) is not a bool"),
    ("states", [0, 1, 1], r"states must have shape \(2,\)"),
])
def test_history_append_rejects_a_bad_step_naming_seed_field_and_value(field, value, match):
    h = History(2, capacity=1)
    h.append(**GOOD)
    with pytest.raises(ValueError, match=match):
        h.append(**{**GOOD, field: value})
    assert len(h) == 1 and h.states.tolist() == [[0], [1]]   # nothing was written


def test_a_negative_state_no_longer_lands_in_another_seeds_counts():
    h = History(2, capacity=4)
    h.append(**GOOD)
    with pytest.raises(ValueError, match=r"seed 1"):
        h.append([0, -1], [0, 0], [1.0, 1.0], [0, 0], [0.5, 0.5])
    counts = empirical_mdp(h, 2, 2).counts
    assert counts.sum(axis=(1, 2, 3)).tolist() == [1.0, 1.0]


def test_history_append_accepts_scalars_numpy_integers_and_integral_floats():
    h = History(2, capacity=1)
    h.append(np.int32(0), np.array([1, 0], np.uint8), 1, [1.0, 0.0], 1.0, True)
    assert h.states.dtype == np.int64 and h.next_states.tolist() == [[1], [0]]
    assert h.dones.tolist() == [[True], [True]]


def test_history_from_arrays_names_seed_and_step():
    with pytest.raises(ValueError, match=r"states\[1, 2\] = -1 \(seed 1, step 2\)"):
        History.from_arrays([[0, 0, 0], [0, 0, -1]], np.zeros((2, 3), int), np.zeros((2, 3)),
                            np.zeros((2, 3), int), np.ones((2, 3)))
    with pytest.raises(ValueError, match="rewards must be real; got complex"):
        History.from_arrays([0], [0], [1 + 1j], [0], [1.0])


# ---- 10a: NaN policies, consistently -------------------------------------------------------
def _mdp():
    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = P[:, 1, 1] = 1.0
    return TabularMDP(P, [[0.0, 1.0], [2.0, 0.0]], gamma=0.9)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_evaluate_many_and_expected_returns_reject_non_finite_policies_like_evaluate(bad):
    mdp = _mdp()
    pi = np.full((3, 2, 2), 0.5)
    pi[1, 0] = [bad, 0.5]
    with pytest.raises(InvalidMDP, match=r"policy\[0, 0\] = (nan|inf) is not a probability"):
        evaluate(mdp, pi[1])
    with pytest.raises(InvalidMDP, match=r"policies\[1, 0, 0\] = (nan|inf) is not a probab"):
        evaluate_many(mdp, pi)
    with pytest.raises(InvalidMDP, match=r"policies\[1, 0, 0\]"):
        expected_returns(mdp, pi)


def test_evaluate_many_still_equals_evaluate():
    mdp = _mdp()
    pi = np.array([[[1.0, 0.0], [0.5, 0.5]], [[0.25, 0.75], [0.0, 1.0]]])
    np.testing.assert_allclose(expected_returns(mdp, pi),
                               [expected_return(mdp, p) for p in pi], rtol=0, atol=1e-12)


# ---- 10b: complex input is refused ---------------------------------------------------------
def _complex_cases():
    P = np.ones((1, 2, 1))
    mdp = TabularMDP(P, [[0.0, 1.0]], gamma=0.5)
    h = History.from_arrays([0], [0], [1.0], [0], [1.0])
    return [
        ("TabularMDP P", lambda: TabularMDP(P + 0j, [[0.0, 1.0]], gamma=0.5), "P must be real"),
        ("TabularMDP R", lambda: TabularMDP(P, [[0.0, 1 + 1j]], gamma=0.5), "R must be real"),
        ("TabularMDP mu0", lambda: TabularMDP(P, [[0.0, 1.0]], gamma=0.5, mu0=[1 + 0j]),
         "mu0 must be real"),
        ("TabularMDP object R", lambda: TabularMDP(
            P, np.array([[0, 1j]], dtype=object), gamma=0.5), "R must hold real numbers"),
        ("sparse P", lambda: TabularMDP(sp.csr_array(np.ones((2, 1)) + 1j), [[0.0, 1.0]],
                                        gamma=0.5), "sparse P must be real"),
        ("gamma", lambda: TabularMDP(P, [[0.0, 1.0]], gamma=0.5 + 0j), "gamma must be a number"),
        ("evaluate policy", lambda: evaluate(mdp, [[0.5 + 0.1j, 0.5]]), "policy must be real"),
        ("evaluate reward", lambda: evaluate(mdp, [[0.5, 0.5]], reward=[[1j, 0]]),
         "reward must be real"),
        ("evaluate_many", lambda: evaluate_many(mdp, [[[0.5 + 1j, 0.5]]]),
         "policies must be real"),
        ("History.append", lambda: History(1).append(0, 0, 1j, 0, 1.0), "rewards must be real"),
        ("History probs", lambda: History.from_arrays([0], [0], [1.0], [0], [1 + 0j]),
         "probs must be real"),
        ("Reinforce init_logits", lambda: Reinforce(init_logits=[[1j, 0]]),
         "init_logits must be real"),
        ("softmax theta", lambda: TabularSoftmax(1, 2).probs(np.array([[[1j, 0]]])),
         "theta must be real"),
        ("features", lambda: LinearSoftmax(np.ones((1, 2, 1)) * 1j), "features must be real"),
        ("bandit means", lambda: bernoulli_bandit([0.5 + 0.5j]), "means must be real"),
        ("Transition reward", lambda: Reinforce().update(
            Reinforce().init(1, 1, 2), Transition(np.array([0]), np.array([0]),
                                                  np.array([1j]), np.array([0]),
                                                  np.array([0.5]), np.array([True]), 0)),
         "step.reward must be real"),
        ("from_gym prob", lambda: from_gym({0: {0: [(1 + 0j, 0, 0.0, False)]}}, gamma=0.5),
         "probability .* must be a real number"),
        ("from_gym mu0", lambda: from_gym({0: {0: [(1.0, 0, 0.0, False)]}}, gamma=0.5,
                                          mu0=[1 + 0j]), "mu0 must be real"),
        ("from_mdptoolbox sparse", lambda: from_mdptoolbox(
            [sp.csr_array(np.eye(2) + 0j), sp.csr_array(np.eye(2))], [1.0, 2.0], gamma=0.5),
         r"P\[0\] \(action 0\) must be real"),
        ("IncrementalCE rewards", lambda: IncrementalCE(1, 1, 1, 0.5).update(
            [0], [0], [1j], [0]), "rewards must be real"),
        ("empirical prior", lambda: empirical_mdp(h, 1, 1, prior=1j), "prior must be real"),
    ]


@pytest.mark.parametrize("case", _complex_cases(), ids=lambda c: c[0])
def test_complex_input_is_refused_not_truncated(case):
    _, make, match = case
    with warnings.catch_warnings():
        warnings.simplefilter("error")             # no ComplexWarning on the way either
        with pytest.raises(ValueError, match=match):
            make()


# ---- 10c: REINFORCE overflow is an error naming step and seed ------------------------------
def _huge_bandit():
    return Env(TabularMDP(np.ones((1, 2, 1)), [[1e308, 1e308]], gamma=1.0, horizon=1))


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_reinforce_overflow_in_simulate_names_step_and_seed(engine):
    if engine == "numba" and not numba_available():
        pytest.skip("numba is not installed")
    with pytest.raises(DivergedError, match=r"diverged at step 0 for seed 4 \(batch row 0\)"):
        simulate(_huge_bandit(), Reinforce(lr=10.0), 20, seeds=[4, 9], shadow=None,
                 engine=engine)


@pytest.mark.parametrize("engine", ["numpy", "numba"])
def test_a_huge_step_size_diverges_at_the_first_overflowing_step(engine):
    """lr = 1e308 with rewards 1 and 2: θ stays finite until lr·r·ψ overflows; the error
    names that step, and the run up to it is finite."""
    if engine == "numba" and not numba_available():
        pytest.skip("numba is not installed")
    env = Env(TabularMDP(np.ones((1, 2, 1)), [[1.0, 2.0]], gamma=1.0, horizon=1))
    with pytest.raises(DivergedError) as info:
        simulate(env, Reinforce(lr=1e308), 50, seeds=[3, 5, 8], shadow=None, engine=engine)
    e = info.value
    assert e.seed in (3, 5, 8) and f"step {e.step} for seed {e.seed}" in str(e)
    before = simulate(env, Reinforce(lr=1e308), e.step, seeds=[3, 5, 8], shadow=None,
                      engine=engine)
    assert np.isfinite(before.policies).all()
    if engine == "numba":                  # the same step and seed as the reference path
        with pytest.raises(DivergedError) as ref:
            simulate(env, Reinforce(lr=1e308), 50, seeds=[3, 5, 8], shadow=None)
        assert (ref.value.step, ref.value.seed) == (e.step, e.seed)


@pytest.mark.parametrize("kwargs", [dict(), dict(update="episode"), dict(natural=True),
                                    dict(policy=np.eye(2)[None]), dict(baseline="mean")])
def test_reinforce_update_raises_instead_of_producing_nan(kwargs):
    learner = Reinforce(lr=10.0, **kwargs)
    state = learner.init(3, 1, 2)
    step = Transition(np.zeros(3, int), np.array([0, 1, 1]), np.array([0.0, 1e308, 2.0]),
                      np.zeros(3, int), np.full(3, 0.5), np.ones(3, bool), 7)
    with pytest.raises(DivergedError, match=r"diverged at step 7 for seed 1") as info:
        learner.update(state, step)
    assert (info.value.row, info.value.step) == (1, 7)
    again = pickle.loads(pickle.dumps(info.value.with_seed(42)))
    assert str(again) == str(info.value.with_seed(42)) and again.seed == 42
    assert isinstance(info.value, ValueError) and isinstance(info.value, FloatingPointError)


# ---- 10d: non-numeric and non-integer arguments --------------------------------------------
def _env():
    return bernoulli_bandit([0.2, 0.8])


@pytest.mark.parametrize("kwargs, match", [
    (dict(steps=2.7), r"steps must be an integer; got 2\.7"),
    (dict(steps=3.0), r"steps must be an integer; got 3\.0"),
    (dict(steps=True), "steps must be an integer; got True"),
    (dict(steps="3"), "steps must be an integer"),
    (dict(steps=-1), "steps must be an integer >= 0"),
    (dict(seeds=True), "seeds must be a count"),
    (dict(seeds=2.0), "seeds must be a count"),
    (dict(seeds=[1.0, 2.0]), "integer seeds"),
    (dict(record_every=1.5), "record_every must be an integer"),
    (dict(record_every=0), "record_every must be an integer >= 1"),
])
def test_simulate_refuses_non_integer_counts(kwargs, match):
    args = dict(steps=3, seeds=2, record_every=1) | kwargs
    with pytest.raises(ValueError, match=match):
        simulate(_env(), Reinforce(), args["steps"], seeds=args["seeds"], shadow=None,
                 record_every=args["record_every"])


def test_simulate_accepts_numpy_integers():
    run = simulate(_env(), Reinforce(), np.int64(3), seeds=np.int32(2), shadow=None,
                   record_every=np.uint8(1))
    assert run.policies.shape == (2, 4, 1, 2)


@pytest.mark.parametrize("gamma", ["0.9", True, np.bool_(True), None, [0.9]])
def test_tabular_mdp_refuses_a_gamma_that_is_not_a_number(gamma):
    with pytest.raises(InvalidMDP, match="gamma must be a number in"):
        TabularMDP(np.ones((1, 1, 1)), [[1.0]], gamma=gamma)


@pytest.mark.parametrize("gamma", [np.float32(0.5), np.array(0.5), Fraction(1, 2), 0, 1])
def test_tabular_mdp_accepts_real_gammas(gamma):
    assert TabularMDP(np.ones((1, 1, 1)), [[1.0]], gamma=gamma, horizon=2).gamma == float(gamma)


@pytest.mark.parametrize("make, match", [
    (lambda: History(2.5), "n_seeds must be an integer"),
    (lambda: History(True), "n_seeds must be an integer"),
    (lambda: History(2, capacity=3.0), "capacity must be an integer"),
    (lambda: History(2).first(0.5), "t must be an integer"),
    (lambda: history_optimal(History(1), "is", n_states=2.0, n_actions=2),
     "n_states must be an integer"),
    (lambda: history_optimal(History(1), "is", n_states=1, n_actions=2, gamma="0.9"),
     "gamma must be a real number"),
    (lambda: empirical_mdp(History(1), 2, True), "n_actions must be an integer"),
    (lambda: IncrementalCE(2.0, 2, 2, 0.5), "n_seeds must be an integer"),
    (lambda: IncrementalCE(1, 2, 2, "0.5"), "gamma must be a real number"),
    (lambda: IncrementalCE(1, 2, 2, 0.5, refresh_every=10.0), "refresh_every must be an int"),
    (lambda: FullOptimizer(epsilon="0.1"), "epsilon must be a real number"),
    (lambda: FullOptimizer(epsilon=True), "epsilon must be a real number"),
    (lambda: FullOptimizer(gamma="0.9"), "gamma must be a real number"),
    (lambda: FullOptimizer(gamma=0.9, horizon=2.0), "horizon must be an integer"),
    (lambda: FullOptimizer(tol=0.0), r"tol must be in \(0"),
    (lambda: Reinforce(lr="0.1"), "lr must be a finite real"),
    (lambda: Env(_env().mdp, sigma="1"), "sigma must be a real number"),
    (lambda: riverswim(n=3.0), "must be an integer"),
    (lambda: build_gridworld("S.", slip="0.1"), "slip must be a probability"),
    (lambda: build_gridworld("S.", rewards={"step": "1"}), "not a finite real number"),
    (lambda: from_gym({0: {0: [("1.0", 0, 0.0, False)]}}, gamma=0.5),
     "probability '1.0'; it must be a real number"),
])
def test_library_arguments_refuse_wrong_types_naming_the_argument(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_the_shared_checks():
    assert check_int(np.int64(3), "n") == 3 and type(check_int(np.uint8(3), "n")) is int
    assert check_int(np.array(4), "n", lo=0, hi=4) == 4
    for bad in (True, np.bool_(False), 3.0, "3", None, 3 + 0j):
        with pytest.raises(ValueError, match="n must be an integer; got"):
            check_int(bad, "n")
    with pytest.raises(TypeError, match=r"n must be an integer in \[0, 2\]; got 3"):
        check_int(3, "n", lo=0, hi=2, error=TypeError)
    assert check_real(Fraction(1, 4), "x") == 0.25 and check_real(np.float32(2), "x") == 2.0
    for bad in (True, "0.5", 1j, None, float("nan")):
        with pytest.raises(ValueError, match="x must be a"):
            check_real(bad, "x")
    assert check_real(float("inf"), "x", finite=False) == float("inf")
    with pytest.raises(ValueError, match=r"x must be in \(0, 1\]; got 0"):
        check_real(0, "x", lo=0, hi=1, lo_open=True)
    assert real_array([True, False], "a").tolist() == [1.0, 0.0]
    assert real_array(np.array([Fraction(1, 2)], dtype=object), "a").tolist() == [0.5]
    with pytest.raises(ValueError, match="a must be real; got complex dtype"):
        real_array([1 + 0j], "a")
