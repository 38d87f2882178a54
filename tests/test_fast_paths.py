"""The fast paths: the fused row check (:mod:`~mesabase.theory.rowcheck`: plain numpy, the
numba kernel, the blockwise numpy fallback), ``TabularMDP(copy=...)``, the one-hot gather of
``policy_matrix``, policy iteration's greedy start and ``auto``'s policy-iteration-first
path, whose certificates are checked against exact rational solves."""

import importlib.util
import os
import re
import time
from fractions import Fraction

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mesabase.theory import InvalidMDP, TabularMDP, evaluate, policy_iteration, rowcheck, solve
from mesabase.theory.evaluation import check_policy, policy_matrix, stationary_values
from mesabase.theory.examples import chain_mdp
from mesabase.theory.solvers import iteration, kernels, pi_start
from mesabase.theory.solvers.iteration import greedy_start

EPS = np.finfo(np.float64).eps
FUSED = rowcheck.FUSED_SIZE
PATHS = ("small", "compiled", "fallback")
HAVE_NUMBA = importlib.util.find_spec("numba") is not None
SIZES = {"small": (4, 3), "large": (200, 8)}  # large: 320 000 entries > FUSED_SIZE
GAMMAS = st.sampled_from([0.5, 0.9, 0.99])
seeds = st.integers(0, 2**32 - 1)
POS = st.one_of(st.just(0), st.just(-1), st.integers(0, 10**9))  # a flat index, mod size


def _use_path(mp, path):  # "fallback": numba disabled, as if not installed
    if path == "compiled" and not HAVE_NUMBA:
        pytest.skip("numba is not installed")
    if path == "fallback":
        mp.setattr(rowcheck, "_kernel", False)


def _matrix(seed, path, n, extra, strided=False):
    """A non-negative matrix with zeros and -0.0s, below FUSED_SIZE entries for "small",
    at least FUSED_SIZE otherwise; per-row scales 1e-3 .. 1e3."""
    rows = max(1, (FUSED - 1) // n - extra) if path == "small" else -(-FUSED // n) + extra
    rng = np.random.default_rng(seed)
    cols = 2 * n if strided else n
    M = rng.random((rows, cols)) * 10.0 ** rng.integers(-3, 4, (rows, 1))
    M[rng.random((rows, cols)) < 0.3] = 0.0
    M[rng.random((rows, cols)) < 0.05] = -0.0
    M = M[:, ::2] if strided else M
    assert (M.size < FUSED) == (path == "small")
    return M


def _row_sums_min(path, M, out=None):
    with pytest.MonkeyPatch.context() as mp:
        _use_path(mp, path)
        res = rowcheck.row_sums_min(M, out=out)
        assert path != "compiled" or rowcheck._kernel  # the numba kernels were built, used
        return res


# ---- 1. rowcheck.row_sums_min ------------------------------------------------------------
@pytest.mark.parametrize("strided", [False, True])
@pytest.mark.parametrize("path", PATHS)
@given(seed=seeds, n=st.integers(1, 700), extra=st.integers(0, 40))
@settings(max_examples=12)
def test_row_sums_min_sums_copy_and_sign(path, strided, seed, n, extra):
    M = _matrix(seed, path, n, extra, strided)
    out = np.full(M.shape, np.nan)
    # tolerance: 2·n·eps·Σ|row| (each sum within γ_n Σ|x| of the exact one, any order)
    tol = 2 * M.shape[1] * EPS * np.abs(M).sum(axis=1)
    for sums, lo in (_row_sums_min(path, M, out), _row_sums_min(path, M)):
        assert np.all(np.abs(sums - M.sum(axis=1)) <= tol)
        assert not lo < 0  # zeros and -0.0 are not negative
    assert out.tobytes() == np.ascontiguousarray(M).tobytes()  # tolerance: exact (bitwise)


@pytest.mark.parametrize("neg", [-1e-300, -5e-324, -0.25, -1e300])  # one negative entry
@pytest.mark.parametrize("path", PATHS)
@given(seed=seeds, n=st.integers(1, 700), extra=st.integers(0, 40), pos=POS)
@settings(max_examples=8)
def test_row_sums_min_sees_a_single_negative_entry(path, neg, seed, n, extra, pos):
    M = _matrix(seed, path, n, extra)
    M.flat[pos % M.size] = neg
    out = np.empty_like(M)
    assert _row_sums_min(path, M)[1] < 0 and _row_sums_min(path, M, out)[1] < 0
    assert out.tobytes() == M.tobytes()  # tolerance: exact (bitwise, subnormal kept)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("path", PATHS)
@given(seed=seeds, n=st.integers(1, 700), extra=st.integers(0, 40), pos=POS)
@settings(max_examples=10)
def test_row_sums_min_non_finite_entry_makes_its_row_sum_non_finite(path, bad, seed, n,
                                                                    extra, pos):
    M = _matrix(seed, path, n, extra)
    i, j = np.unravel_index(pos % M.size, M.shape)
    M[i, j] = bad
    for out in (None, np.empty_like(M)):
        sums, lo = _row_sums_min(path, M, out)
        assert not np.isfinite(sums[i])
        assert np.isfinite(np.delete(sums, i)).all()
        if bad == -np.inf:
            assert lo < 0
        if out is not None:
            assert out.tobytes() == M.tobytes()  # tolerance: exact (bitwise, NaN kept)


# ---- 2. TabularMDP(copy=...) -------------------------------------------------------------
def _dyadic_P(S, A, seed=0):
    """Rows of counts/16: exact in binary (and in float32), with zeros."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(16, rng.dirichlet(np.full(S, 0.3), size=(S, A))) / 16.0


@pytest.mark.parametrize("size", SIZES)
def test_default_copy_is_independent_and_leaves_caller_writable(size):
    S, A = SIZES[size]
    P = _dyadic_P(S, A)
    keep, mdp = P.copy(), TabularMDP(P, np.zeros((S, A)), gamma=0.9)
    assert not np.shares_memory(mdp.P, P)
    assert P.flags.writeable and not mdp.P.flags.writeable
    P[0, 0] = 0.5
    assert np.array_equal(mdp.P, keep)  # tolerance: exact


@pytest.mark.parametrize("size", SIZES)
def test_copy_false_keeps_a_read_only_view_of_float64_c_order(size):
    S, A = SIZES[size]
    P = _dyadic_P(S, A)
    mdp = TabularMDP(P, np.zeros((S, A)), gamma=0.9, copy=False)
    assert np.shares_memory(mdp.P, P)
    assert P.flags.writeable and not mdp.P.flags.writeable
    with pytest.raises(ValueError):
        mdp.P[0, 0, 0] = 0.5
    P[0, 0] = 0.5  # the caller's (promised not to) change shows through the view
    assert np.array_equal(mdp.P, P)  # tolerance: exact


@pytest.mark.parametrize("kind", ["float32", "int", "fortran", "list"])
@pytest.mark.parametrize("size", SIZES)
def test_copy_false_converts_other_dtypes_and_layouts_independently(size, kind):
    S, A = SIZES[size]
    base = _dyadic_P(S, A)
    if kind == "int":  # a deterministic P, as integers
        s, a = np.indices((S, A))
        base = np.zeros((S, A, S))
        base[s, a, (s + a) % S] = 1.0
    given_P = {"float32": base.astype(np.float32), "int": base.astype(np.int64),
               "fortran": np.asfortranarray(base), "list": base.tolist()}[kind]
    mdp = TabularMDP(given_P, np.zeros((S, A)), gamma=0.9, copy=False)
    assert mdp.P.dtype == np.float64 and mdp.P.flags.c_contiguous
    assert not mdp.P.flags.writeable
    assert np.array_equal(mdp.P, base)  # tolerance: exact (dyadic entries)
    if kind != "list":
        assert not np.shares_memory(mdp.P, given_P)
        given_P[0, 0] = 0
        assert np.array_equal(mdp.P, base)  # tolerance: exact


@pytest.mark.parametrize("copy", [True, False])
@pytest.mark.parametrize("size", SIZES)
def test_frozen_P_is_shared_and_read_only_view_of_writable_array_is_copied(size, copy):
    S, A = SIZES[size]
    P = _dyadic_P(S, A)
    R = np.zeros((S, A))
    mdp = TabularMDP(P, R, gamma=0.9)
    assert np.shares_memory(TabularMDP(mdp.P, R, gamma=0.5, copy=copy).P, mdp.P)
    assert np.shares_memory(mdp.with_reward(R + 1.0).P, mdp.P)
    view = P.view()
    view.setflags(write=False)
    other = TabularMDP(view, R, gamma=0.9)  # copy=True: the view's base is writable
    assert not np.shares_memory(other.P, P)
    P[0, 0] = 0.0
    assert np.array_equal(other.P, mdp.P)  # tolerance: exact


@pytest.mark.parametrize("kind", ["list", "float32", "fortran"])
def test_converted_P_is_frozen_too(kind):
    P = _dyadic_P(*SIZES["small"])
    given_P = {"list": P.tolist(), "float32": P.astype(np.float32),
               "fortran": np.asfortranarray(P)}[kind]
    mdp = TabularMDP(given_P, np.zeros(SIZES["small"]), gamma=0.9)
    assert np.shares_memory(mdp.with_reward(np.ones(SIZES["small"])).P, mdp.P)


def test_default_copy_survives_the_caller_unfreezing_its_array():
    P = _dyadic_P(*SIZES["small"])
    keep = P.copy()
    P.setflags(write=False)  # the caller's own read-only array: copied
    mdp = TabularMDP(P, np.zeros(SIZES["small"]), gamma=0.9)
    P.setflags(write=True)
    P[0, 0] = 0.0
    assert np.array_equal(mdp.P, keep)  # tolerance: exact


ROW_MSG = "each P[s, a, :] must be a distribution over s'"
DEFECTS = {  # value put at the index, and the message it must give there
    "tiny": (-1e-300, "{i} = -1e-300 is negative (probabilities must be >= 0)"),
    "subnormal": (-5e-324, "{i} = -5e-324 is negative (probabilities must be >= 0)"),
    "nan": (np.nan, "{i} = nan is not finite"),
    "inf": (np.inf, "{i} = inf is not finite"),
    "rowsum": (None, "{r} sums to " + repr(1 + 2**-20) + ", not 1 (tolerance 1e-09); " + ROW_MSG),
}


@pytest.mark.parametrize("defect", DEFECTS)
@pytest.mark.parametrize("copy", [True, False])
@pytest.mark.parametrize("size,path", [("small", "small"), ("large", "compiled"),
                                       ("large", "fallback")])
def test_validation_messages_are_the_same_on_every_path(size, path, copy, defect):
    S, A = SIZES[size]
    P = _dyadic_P(S, A)
    first, later = (S - 2, A - 1, 1), (S - 1, 0, S - 1)
    value, msg = DEFECTS[defect]
    for idx in (later, first):  # two defects: the first in C order is named
        if value is None:
            P[idx] += 2**-20  # dyadic: every summation order gives exactly 1 + 2^-20
        else:
            P[idx] = value
    keep = P.copy()
    expected = msg.format(i="P[{}, {}, {}]".format(*first), r="P[{}, {}, :]".format(*first[:2]))
    with pytest.MonkeyPatch.context() as mp:
        _use_path(mp, path)
        with pytest.raises(InvalidMDP, match="^" + re.escape(expected) + "$"):
            TabularMDP(P, np.zeros((S, A)), gamma=0.9, copy=copy)
    assert P.flags.writeable
    assert keep.tobytes() == P.tobytes()  # tolerance: exact (caller's array untouched)


# ---- 3. policy_matrix and policy evaluation ---------------------------------------------
def _random_mdp(seed, S, A, gamma):
    rng = np.random.default_rng(seed)
    P = rng.random((S, A, S)) ** 3
    P /= P.sum(axis=-1, keepdims=True)
    return TabularMDP(P, rng.uniform(-1, 1, (S, A)), gamma=gamma), rng


def _accepted(mdp, pi):
    try:
        return check_policy(mdp, pi)
    except InvalidMDP:
        return None


@given(seed=seeds, S=st.integers(2, 30), A=st.integers(1, 8), gamma=GAMMAS,
       kind=st.sampled_from(["one-hot", "stochastic", "nearly"]))
@settings(max_examples=40)
def test_policy_matrix_and_values(seed, S, A, gamma, kind):
    mdp, rng = _random_mdp(seed, S, A, gamma)
    act = rng.integers(0, A, S)
    pi = np.eye(A)[act]
    if kind == "stochastic":
        pi = rng.random((S, A)) * (rng.random((S, A)) < 0.7) + pi
        pi /= pi.sum(axis=1, keepdims=True)
    elif kind == "nearly" and A > 1:
        pi[0, (act[0] + 1) % A] = 1e-12  # row 0: 1.0 and 1e-12
    pi = _accepted(mdp, pi)
    assume(pi is not None)  # a nearly one-hot row sums to 1 + 1e-12: skipped if refused
    ref = np.einsum("sa,sat->st", pi, mdp.P)
    P_pi = policy_matrix(mdp, pi)
    if kind == "one-hot":
        assert np.array_equal(P_pi, ref)  # tolerance: exact (rows gathered)
    else:
        assert np.abs(P_pi - ref).max() <= 2 * A * EPS  # tolerance: 2·A·eps (entries <= 1)
    assert P_pi.flags.writeable and not np.shares_memory(P_pi, mdp.P)
    keep = P_pi.copy()
    P_pi[:] = -1.0  # the caller may overwrite it: mdp.P is untouched
    assert np.array_equal(policy_matrix(mdp, pi), keep)  # tolerance: exact (same computation)
    r_pi = (pi * mdp.R).sum(axis=1)
    V_ref = np.linalg.solve(np.eye(S) - gamma * ref, r_pi)
    scale = 1e-12 * max(1.0, np.abs(V_ref).max())  # tolerance: 1e-12 relative
    assert np.abs(evaluate(mdp, pi) - V_ref).max() <= scale
    assert np.abs(stationary_values(mdp, pi, mdp.R) - V_ref).max() <= scale


# ---- 4. greedy start, policy iteration and auto:pi -----------------------------------------
def _dyadic_mdp(seed, S, A, gamma):
    """P rows of counts/16 and rewards k/4: read exactly by the exact solver (γ = 0.9, 0.99
    are read as 9/10, 99/100: :func:`_certified` allows for that change)."""
    rng = np.random.default_rng(seed)
    return TabularMDP(_dyadic_P(S, A, seed), rng.integers(-8, 9, (S, A)) / 4.0, gamma=gamma)


def _certified(sol, mdp, ex):
    """|V − V*| ≤ error_bound; every exactly optimal action in the set; actions in the set."""
    Ve = np.array([float(v) for v in ex.V])
    norm = np.abs(Ve).max()
    dg = abs(float(Fraction(mdp.gamma) - mdp.exact_arrays()[2]))
    # tolerance: the exact model's γ differs by dg (‖ΔV*‖ ≤ dg‖V*‖/(1 − γ), doubled), plus
    # eps‖V*‖ for rounding the Fractions to float
    slack = 2 * dg * norm / (1 - mdp.gamma) + EPS * norm
    assert np.isfinite(sol.error_bound)
    assert np.abs(sol.V - Ve).max() <= sol.error_bound + slack
    assert sol.optimal[ex.optimal].all()
    assert sol.optimal[np.arange(mdp.n_states), sol.actions].all()


@given(seed=seeds, S=st.integers(2, 30), A=st.integers(1, 8), gamma=GAMMAS)
@settings(max_examples=30)
def test_greedy_start_is_argmax_of_two_value_iteration_steps(seed, S, A, gamma):
    mdp, _ = _random_mdp(seed, S, A, gamma)
    act = greedy_start(mdp)
    Q0 = mdp.R + gamma * np.einsum("sat,t->sa", mdp.P, mdp.R.max(axis=1))
    tol = 1e-12 * (1 + np.abs(Q0).max())  # tolerance: 1e-12 relative (matvec vs einsum)
    assert (Q0[np.arange(S), act] >= Q0.max(axis=1) - tol).all()
    top = np.sort(Q0, axis=1)
    clear = top[:, -1] - top[:, -2] > tol if A > 1 else np.ones(S, bool)
    assert np.array_equal(act[clear], Q0.argmax(axis=1)[clear])


@given(seed=seeds, S=st.integers(2, 30), A=st.integers(1, 8), gamma=GAMMAS)
@settings(max_examples=30)
def test_policy_iteration_starts_greedy_and_is_certified(seed, S, A, gamma):
    mdp = _dyadic_mdp(seed, S, A, gamma)
    ex = solve(mdp, method="exact")
    sol = policy_iteration(mdp)
    same = policy_iteration(mdp, actions0=greedy_start(mdp))
    assert sol.iterations == same.iterations and np.array_equal(sol.actions, same.actions)
    assert np.array_equal(sol.V, same.V)  # tolerance: exact (the same computation)
    from_r = policy_iteration(mdp, actions0=np.argmax(mdp.R, axis=1))
    for s in (sol, from_r, solve(mdp, "pi")):
        _certified(s, mdp, ex)
    assert np.array_equal(sol.optimal, from_r.optimal)
    # tolerance: the two certificates' sum
    assert np.abs(sol.V - from_r.V).max() <= sol.error_bound + from_r.error_bound


def _solve_auto(mdp, pi_first_max=None, compiled=False):
    """solve(mdp) recording, per call of pi_first, whether it returned a solution; without
    the compiled kernels unless ``compiled`` (pi_first is auto's path only without them)."""
    calls, orig = [], iteration.pi_first

    def spy(*args):
        res = orig(*args)
        calls.append(res[0] is not None)
        return res

    with pytest.MonkeyPatch.context() as mp:
        if pi_first_max is not None:
            mp.setattr(pi_start, "PI_FIRST_MAX", pi_first_max)
        mp.setattr(iteration, "pi_first", spy)
        if not compiled:
            mp.setattr(kernels, "available", lambda: False)
        return solve(mdp), calls, pi_start.PI_FIRST_MAX


@given(seed=seeds, S=st.integers(2, 30), A=st.integers(1, 8), gamma=GAMMAS,
       pi_first_max=st.sampled_from([None, 1]), compiled=st.booleans())
@settings(max_examples=60)
def test_auto_paths_are_certified(seed, S, A, gamma, pi_first_max, compiled):
    mdp = _dyadic_mdp(seed, S, A, gamma)
    sol, calls, limit = _solve_auto(mdp, pi_first_max, compiled)
    if compiled and HAVE_NUMBA:  # small dense: the compiled MPI (A >= 6) or VI loop
        assert calls == []  # (auto:pi: policy iteration after value iteration's budget)
        first = "auto:mpi" if A >= iteration.MPI_MIN_ACTIONS else "auto:vi"
        assert sol.method in (first, "auto:vi", "auto:pi")
    elif S <= iteration.PI_FIRST_RATIO * A:
        assert len(calls) == 1
        if calls[0]:
            assert sol.method == "auto:pi" and sol.iterations <= limit
        else:
            assert sol.method == "auto:vi" and sol.iterations > limit
    else:
        assert calls == [] and sol.method.startswith("auto:")
    _certified(sol, mdp, solve(mdp, method="exact"))


def test_auto_pi_first_solves_a_fast_mixing_problem():
    mdp = _dyadic_mdp(3, 12, 4, 0.9)
    assert policy_iteration(mdp).iterations <= pi_start.PI_FIRST_MAX
    sol, calls, _ = _solve_auto(mdp)
    assert calls == [True] and sol.method == "auto:pi"
    _certified(sol, mdp, solve(mdp, method="exact"))


@pytest.mark.parametrize("pi_first_max", [None, 1])
def test_auto_continues_by_value_iteration_on_a_slow_chain(pi_first_max):
    mdp = chain_mdp(20, 0.9)  # S = 20 <= PI_FIRST_RATIO·A: PI moves one state per evaluation
    assert mdp.n_states <= iteration.PI_FIRST_RATIO * mdp.n_actions
    assert policy_iteration(mdp).iterations > pi_start.PI_FIRST_MAX
    sol, calls, limit = _solve_auto(mdp, pi_first_max)
    assert calls == [False] and sol.method == "auto:vi" and sol.iterations > limit
    V = 0.9 ** (19 - np.arange(20)) / 0.1
    assert np.abs(sol.V - V).max() <= sol.error_bound + 1e-13  # tolerance: error_bound + 1e-13
    assert (sol.actions == 1).all()
    _certified(sol, mdp, solve(mdp, method="exact"))


def test_auto_with_one_evaluation_continues_by_value_iteration_on_random_problem():
    for seed in range(100):  # a dense problem that policy iteration needs 2+ evaluations for
        mdp = _dyadic_mdp(seed, 10, 3, 0.99)
        if policy_iteration(mdp).iterations >= 2:
            break
    else:
        pytest.fail("no problem needing two evaluations among 100 seeds")
    sol, calls, _ = _solve_auto(mdp, 1)
    assert calls == [False] and sol.method == "auto:vi" and sol.iterations > 1
    _certified(sol, mdp, solve(mdp, method="exact"))


# ---- two threads for large P, fork safety, the measured row sums ------------------------
@pytest.mark.skipif(not HAVE_NUMBA, reason="the threaded pass is the compiled kernels'")
def test_threaded_pass_equals_one_thread(monkeypatch):
    rng = np.random.default_rng(5)
    M = rng.random((2 * rowcheck.THREADED_SIZE // 512 + 3, 512))
    M[7, 3] = -1e-300
    out2 = np.empty_like(M)
    two = rowcheck.row_sums_min(M, out=out2)
    monkeypatch.setattr(rowcheck, "THREADED_SIZE", M.size + 1)
    out1 = np.empty_like(M)
    one = rowcheck.row_sums_min(M, out=out1)
    assert np.array_equal(two[0], one[0]) and two[1] < 0 and one[1] < 0  # tolerance: exact
    assert np.array_equal(out1, M) and np.array_equal(out2, M)  # tolerance: exact


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_large_model_is_built_in_a_forked_child():
    """The second-half thread of the parent does not exist in a forked child: building a
    large model there must not wait for it forever."""
    S, A = 200, 32
    P = _dyadic_P(S, A)
    TabularMDP(P, np.zeros((S, A)), gamma=0.9)  # the parent's pool is running
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        try:
            m = TabularMDP(P, np.zeros((S, A)), gamma=0.9)
            os.write(w, str(m.n_states).encode())
        finally:
            os._exit(0)
    os.close(w)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        time.sleep(0.05)
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        pytest.fail("building a large TabularMDP in a forked child hung")
    assert os.read(r, 100) == b"200"


@pytest.mark.parametrize("size", SIZES)
def test_row_sums_are_the_validation_sums(size):
    S, A = SIZES[size]
    P = _dyadic_P(S, A)
    P[0, 0] *= 1.0 + 2.0 ** -40  # a row off 1 by ~1e-12, within the tolerance
    mdp = TabularMDP(P, np.zeros((S, A)), gamma=0.9)
    sums = P.sum(axis=-1)
    hi, dev = mdp.row_sums
    n = S * np.finfo(float).eps
    assert abs(hi - sums.max()) <= n and abs(dev - np.abs(sums - 1).max()) <= n  # tolerance: S ulps
    sparse = TabularMDP(sp.csr_array(P.reshape(S * A, S)), np.zeros((S, A)), gamma=0.9)
    assert abs(sparse.row_sums[1] - dev) <= n  # tolerance: S ulps


def test_sparse_input_is_not_sorted_but_duplicates_are_judged_by_their_sum():
    """A CSR P with unsorted indices is used as given (no O(nnz log) sort on construction);
    duplicate entries are summed before the sign check, so (0.6, -0.1) at one (s, a, s') is
    the entry 0.5."""
    data = np.array([0.5, 0.5, 1.0, 0.25, 0.75, 1.0])
    indices = np.array([1, 0, 0, 1, 0, 1])  # row 0 and row 3 unsorted
    M = sp.csr_array((data, indices, np.array([0, 2, 3, 5, 6])), shape=(4, 2))
    M.has_sorted_indices = False
    mdp = TabularMDP(M, np.zeros((2, 2)), gamma=0.9)
    dense = np.array([[0.5, 0.5], [1.0, 0.0], [0.75, 0.25], [0.0, 1.0]]).reshape(2, 2, 2)
    assert np.array_equal(mdp.P, dense)  # tolerance: exact
    dup = sp.csr_array((np.array([0.6, -0.1, 0.5, 1.0, 1.0, 1.0]),
                        np.array([0, 0, 1, 0, 1, 1]), np.array([0, 3, 4, 5, 6])), shape=(4, 2))
    got = TabularMDP(dup, np.zeros((2, 2)), gamma=0.9).P[0, 0]
    assert np.array_equal(got, [0.5, 0.5])  # tolerance: exact
    bad = sp.csr_array((np.array([0.6, -0.2, 0.6, 1.0, 1.0, 1.0]),
                        np.array([0, 1, 0, 0, 1, 1]), np.array([0, 3, 4, 5, 6])), shape=(4, 2))
    with pytest.raises(InvalidMDP, match=r"P\[0, 0, 1\] = -0.2 is negative"):
        TabularMDP(bad, np.zeros((2, 2)), gamma=0.9)
