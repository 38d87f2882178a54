"""The contenders of benchmarks/peers.py: mesabase, QuantEcon and pymdptoolbox, each timed
(model construction included) with its error against V* beside the time; the shared
records (Res, Config) and constants. Run benchmarks/peers.py, not this file."""

from __future__ import annotations

import math
import multiprocessing as mp
import statistics
import sys
import time
from typing import NamedTuple

import numpy as np

from mesabase.theory import TabularMDP, solve
from mesabase.theory.evaluation import bellman_q, evaluate

try:
    from quantecon.markov import DiscreteDP
except ImportError:  # pragma: no cover
    sys.exit("quantecon is needed: pip install -e '.[bench]'")

from harness import (  # noqa: I001 (a sibling script module)
    err,
    ft,
    quiet,
    random_sparse,
    sweeps_to,
)
import mdptoolbox.mdp as mdpt  # noqa: E402 (harness exits first with a message if missing)

TOL = 1e-8
EPS_LADDER = (2e-8, 2e-10, 2e-12)
QE_PI_MAX_ITER = 250  # QuantEcon's default
BIG = 10**6


class Res(NamedTuple):
    t: float            # median seconds (nan: not run)
    runs: int           # timed calls (0: extrapolated)
    err: float          # max |V − V*|
    note: str = ""      # iterations, ε, max_iter
    ok: bool = True     # within TOL of V* and not stopped by max_iter


NOT_RUN = Res(math.nan, 0, math.nan, "not run", False)


class Config(NamedTuple):
    command: str
    seed: int
    dense: tuple        # ((S, A, γ), ...)
    chains: tuple       # chain sizes
    sparse_gammas: tuple
    batch_n: int
    repeat: int
    budget: float
    max_run: float
    lp_max: float       # mesabase lp runs when S·S·A ≤ this (HiGHS: seconds at 1e6)
    child_timeout: float  # seconds for one sparse QuantEcon PI iteration (in_child)


# ---- timing ----------------------------------------------------------------------------
#: Calls faster than this are timed in blocks of repeated calls (each block ≥ BLOCK s).
BLOCK = 0.005


def _block_size(t):
    """Calls per timed block for a call of t seconds: enough that the block lasts ≥ BLOCK."""
    return max(1, math.ceil(BLOCK / max(t, 1e-6)))


def _timed(f, n=1):
    """(seconds per call over a block of n calls of f, f's last result)."""
    t0 = time.perf_counter()
    for _ in range(n):
        out = f()
    return (time.perf_counter() - t0) / n, out


def measure(f, repeat, budget):
    """(median seconds, calls, last result): one timed warm-up call; if it took more than
    `budget` it is the measurement, else the median of up to `repeat` further runs (at
    least 3, more while their total stays under `budget`). A call under BLOCK seconds is
    timed as a block of n calls (n·t ≥ BLOCK; the run is the block's mean), as timeit does:
    single sub-millisecond calls on this 2-core VM vary by ±50 % (scheduler, the BLAS
    threads' sleep state), and the same code measured 0.24 and 0.39 ms in one run."""
    tw, out = _timed(f)
    if tw > budget or repeat <= 1:
        return tw, 1, out
    n = _block_size(tw)  # 1 for a call of BLOCK seconds or more
    times: list[float] = []
    while len(times) < repeat and (len(times) < 3 or sum(times) * n < budget):
        t, out = _timed(f, n)
        times.append(t)
    return statistics.median(times), len(times) * n, out


#: Rounds of the head-to-head (:func:`duel`): each round times one block of each contender.
DUEL_ROUNDS = 9


def duel(f, g, rounds=DUEL_ROUNDS, budget=10.0):
    """(median seconds of f, median seconds of g, rounds): f and g timed alternately, one
    block each per round (a block repeats the call until it lasts BLOCK seconds, as in
    :func:`measure`), the order swapped every round (f g, g f, …). Measuring the two
    contenders of a ratio in alternation means a change of machine state (load from
    elsewhere, frequency, the BLAS threads' sleep state) falls on both rather than on
    whichever ran during it; the separate per-contender runs of :func:`measure` are
    minutes apart. Fewer rounds (at least 3) when a round would exceed budget / rounds."""
    f(), g()
    t0 = time.perf_counter()
    f(), g()
    pair = time.perf_counter() - t0
    n_f = n_g = 1
    if pair < 2 * BLOCK:  # size the blocks from single calls
        n_f, n_g = _block_size(_timed(f)[0]), _block_size(_timed(g)[0])
    rounds = max(3, min(rounds, int(budget / max(pair, 1e-9))))
    tf_, tg_ = [], []
    order = ((f, n_f, tf_), (g, n_g, tg_))
    for i in range(rounds):
        for h, n, times in order if i % 2 == 0 else order[::-1]:
            times.append(_timed(h, n)[0])
    return statistics.median(tf_), statistics.median(tg_), rounds


def qe_fastest_call(P, R, g, key, res):
    """The call of QuantEcon's method ``key`` as :func:`run_qe` ran it (its ε from the
    result's note), for :func:`duel`; None when it cannot be rerun as is (extrapolated,
    sparse policy iteration in a child process)."""
    method = QE_METHODS[key]
    if res.runs == 0 or (method == "policy_iteration" and isinstance(P, tuple)):
        return None
    if method == "policy_iteration":
        return _qe_call(P, R, g, method, None, QE_PI_MAX_ITER)
    eps = float(res.note.split(",")[0].removeprefix("ε="))
    return _qe_call(P, R, g, method, eps, BIG)


def dirichlet_dense(rng, S, A):
    """P[s, a, :] ~ Dirichlet(1, …, 1) (normalised standard exponentials), R ~ U(0, 1)."""
    P = rng.standard_exponential((S, A, S))
    P /= P.sum(axis=2, keepdims=True)
    return P, rng.random((S, A))


# ---- contenders ------------------------------------------------------------------------
def run_ours(P, R, g, method, V_star, cfg):
    """``solve(TabularMDP(P, R, gamma=g, copy=False), method)``: like QuantEcon's and
    pymdptoolbox's constructors, the model keeps (a read-only view of) the caller's P;
    ``auto_copy`` is the default construction, which copies P first."""
    copy = method == "auto_copy"
    method = "auto" if copy else method

    def go():
        return solve(TabularMDP(P, R, gamma=g, copy=copy), method=method, tol=TOL)

    t, n, sol = measure(go, cfg.repeat, cfg.budget)
    e = err(sol.V, V_star)
    return Res(t, n, e, f"{sol.method} {sol.iterations}", e <= TOL)


def qe_model(P, R, g):
    """DiscreteDP from the arrays: dense (S, A, S) as is; sparse CSR (S·A, S) in the
    state-action-pair form (R flattened, index arrays from the shape)."""
    if isinstance(P, tuple):  # (CSR, s_indices, a_indices)
        Pm, s_idx, a_idx = P
        return DiscreteDP(R.ravel(), Pm, g, s_idx, a_idx)
    return DiscreteDP(R, P, g)


def _qe_call(P, R, g, method, eps, max_iter):
    def go():
        return qe_model(P, R, g).solve(method=method, epsilon=eps, max_iter=max_iter)
    return go


def run_qe(P, R, g, method, V_star, cfg):
    """QuantEcon's DiscreteDP.solve, model construction included. VI and MPI: the first ε
    of EPS_LADDER that lands within TOL; a VI run predicted past max_run is cut at
    max_iter = K and its iteration count N extrapolated (see vi_extrapolate)."""
    if method == "policy_iteration" and isinstance(P, tuple):
        return run_qe_pi_sparse(P, R, g, cfg)
    if method == "policy_iteration":
        t, n, r = measure(_qe_call(P, R, g, method, None, QE_PI_MAX_ITER), cfg.repeat,
                          cfg.budget)
        hit = r.num_iter >= QE_PI_MAX_ITER
        e = err(r.v, V_star)
        note = f"{r.num_iter} it" + (f" = max_iter {QE_PI_MAX_ITER}" if hit else "")
        return Res(t, n, e, note, e <= TOL and not hit)
    cap = None
    if method == "value_iteration":
        cap = qe_vi_cap(P, R, g, cfg.max_run)
    for eps in EPS_LADDER:
        max_iter = cap or BIG
        t0 = time.perf_counter()
        r = _qe_call(P, R, g, method, eps, max_iter)()
        tw = time.perf_counter() - t0
        if cap and r.num_iter >= cap:  # cut: extrapolate the sweep count
            return qe_vi_extrapolate(P, R, g, eps, r, tw, cap)
        e = err(r.v, V_star)
        if e <= TOL:
            break
    hit = r.num_iter >= max_iter
    if tw <= cfg.budget:
        tw, n, r = measure(_qe_call(P, R, g, method, eps, max_iter), cfg.repeat, cfg.budget)
    else:
        n = 1
    e = err(r.v, V_star)
    note = f"ε={eps:g}, {r.num_iter} it" + (" = max_iter" if hit else "")
    return Res(tw, n, e, note, e <= TOL and not hit)


def in_child(f, timeout):
    """f() in a forked child: (seconds, f's value), or None if not done in `timeout` s (the
    child is then killed). For calls that cannot be interrupted (a sparse LU)."""
    ctx = mp.get_context("fork")
    recv, send = ctx.Pipe(duplex=False)

    def target():
        t0 = time.perf_counter()
        v = f()
        send.send((time.perf_counter() - t0, v))

    p = ctx.Process(target=target)
    p.start()
    out = recv.recv() if recv.poll(timeout) else None
    if out is None:
        p.kill()
    p.join()
    return out


def qe_pi_iterations(Pm, R, g, max_iter=QE_PI_MAX_ITER):
    """The number of evaluations QuantEcon's policy iteration makes (its rules: start
    greedy for v = max_a R, stop when the greedy policy repeats), replayed with mesabase's
    policy evaluation (an iterative sparse solve: seconds, not minutes)."""
    mdp = TabularMDP(Pm, R, gamma=g)
    S, A = R.shape
    sigma = np.argmax(bellman_q(mdp, R.max(axis=1)), axis=1)
    for i in range(1, max_iter + 1):
        v = evaluate(mdp, np.eye(A)[sigma])
        new = np.argmax(bellman_q(mdp, v), axis=1)
        if np.array_equal(new, sigma):
            return i
        sigma = new
    return max_iter


def run_qe_pi_sparse(P, R, g, cfg):
    """QuantEcon's sparse policy evaluation is scipy's spsolve (SuperLU) of I − γ P_σ; on
    random successors its fill-in makes one solve take tens of seconds, so one iteration
    (model construction included) is timed in a child and multiplied by the iteration count
    of qe_pi_iterations."""
    out = in_child(lambda: _qe_call(P, R, g, "policy_iteration", None, 1)().num_iter,
                   cfg.child_timeout)
    if out is None:
        return Res(math.nan, 0, math.nan, f"one iteration not done in {cfg.child_timeout:g} s "
                   "(spsolve)", False)
    t1 = out[0]
    n = qe_pi_iterations(P[0], R, g)
    hit = n >= QE_PI_MAX_ITER
    return Res(t1 * n, 0, math.nan, f"{n} it × one iteration ({ft(t1)}, spsolve)", not hit)


def qe_vi_cap(P, R, g, max_run):
    """max_iter for QuantEcon VI so that one run lasts about max_run seconds (None: no cap
    needed below 10⁶ sweeps), from two short runs (5 and 25 sweeps)."""
    ts = []
    for k in (5, 25):
        f = _qe_call(P, R, g, "value_iteration", 1e-300, k)
        f()
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    per = max((ts[1] - ts[0]) / 20, 1e-9)
    base = max(ts[0] - 5 * per, 0.0)
    QE_VI_SWEEP[0], QE_VI_SWEEP[1] = per, base
    k = int((max_run - base) / per)
    return None if k >= BIG else max(k, 30)


QE_VI_SWEEP = [math.nan, math.nan]  # (seconds per sweep, fixed cost) of the last cap probe


def qe_vi_extrapolate(P, R, g, eps, r, t_run, cap):
    """QuantEcon VI stops at the first i with ‖T v_i − v_i‖∞ < ε(1 − γ)/(2γ) and returns
    T v_i. Cut at `cap` sweeps: with d = T v − v of the returned iterate nearly constant
    (span ≤ 1e-6 max|d|, as on fast-mixing rows), d shrinks by exactly γ per sweep, so the
    remaining count is ⌈log(tol/max|d|)/log γ⌉; the time is per-sweep × N + fixed cost. Its
    error is then < ε/2 by QuantEcon's own stopping rule (ε = 2e-8: below 1e-8)."""
    ddp = qe_model(P, R, g)
    v = np.asarray(r.v, dtype=float)
    d = ddp.bellman_operator(v) - v
    M, span = float(np.max(np.abs(d))), float(d.max() - d.min())
    tol = eps * (1 - g) / (2 * g)
    per, base = QE_VI_SWEEP
    if span > 1e-6 * M:
        return Res(math.nan, 0, math.nan, f"ε={eps:g}: not done after {cap} sweeps "
                   f"({ft(t_run)}); not extrapolated (d not constant)", False)
    N = cap + max(math.ceil(math.log(tol / M) / math.log(g)), 0) + 1
    t = base + per * N
    return Res(t, 0, eps / 2, f"ε={eps:g}, N≈{N} it (≈ from {cap}; error ≤ ε/2)", True)


def run_tb_pi(Pt, R, g, V_star, cfg):
    def go():
        m = mdpt.PolicyIteration(Pt, R, g)
        m.run()
        return m

    t, n, m = quiet(lambda: measure(go, cfg.repeat, cfg.budget))
    hit = m.iter >= m.max_iter
    e = err(m.V, V_star)
    return Res(t, n, e, f"{m.iter} it" + (" = max_iter" if hit else ""), e <= TOL and not hit)


class _Deadline(Exception):
    pass


def _mpi_class(deadline):
    class MPI(mdpt.PolicyIterationModified):
        """pymdptoolbox's MPI has no outer iteration cap: stop it at `deadline` seconds."""

        def _evalPolicyIterative(self, *a, **k):
            if time.perf_counter() > self._t_end:
                raise _Deadline
            return super()._evalPolicyIterative(*a, **k)

        def run(self):
            self._t_end = time.perf_counter() + deadline
            return super().run()
    return MPI


def run_tb_mpi(Pt, R, g, V_star, cfg):
    cls = _mpi_class(cfg.max_run)
    for eps in EPS_LADDER:
        def go(eps=eps):
            m = cls(Pt, R, g, epsilon=eps)
            m.run()
            return m
        t0 = time.perf_counter()
        try:
            m = quiet(go)
        except _Deadline:
            return Res(math.nan, 0, math.nan, f"ε={eps:g}: not done in {cfg.max_run:g} s",
                       False)
        tw = time.perf_counter() - t0
        e = err(m.V, V_star)
        if e <= TOL:
            break
    if tw <= cfg.budget:
        tw, n, m = quiet(lambda: measure(go, cfg.repeat, cfg.budget))
    else:
        n = 1
    e = err(m.V, V_star)
    return Res(tw, n, e, f"ε={eps:g}, {m.iter} it", e <= TOL)


def run_tb_vi(Pt, R, g, mdp, V_star, cfg):
    """ValueIteration stopped after the oracle N sweeps (thresh 0, max_iter N), its
    constructor (and its own iteration bound) inside the timed call."""
    N, how = sweeps_to(mdp, V_star, TOL)
    if how == "bound":  # MacQueen's bound is tight to a sweep: one more, to be sure
        N += 1

    def go(k):
        def f():
            m = mdpt.ValueIteration(Pt, R, g)
            m.thresh, m.max_iter = 0.0, k
            m.run()
            return m
        return lambda: quiet(f)

    probe = min(N, 20)
    go(probe)()
    t0 = time.perf_counter()
    go(probe)()
    t_p = time.perf_counter() - t0
    go(1)()
    t0 = time.perf_counter()
    go(1)()
    t_1 = time.perf_counter() - t0
    per = max((t_p - t_1) / max(probe - 1, 1), 1e-9)
    if t_1 + per * (N - 1) > cfg.max_run:
        return Res(t_1 + per * (N - 1), 0, TOL, f"N={N} ({how}); ≈ from {probe} sweeps", True)
    t, n, m = measure(go(N), cfg.repeat, cfg.budget)
    e = err(m.V, V_star)
    return Res(t, n, e, f"N={N} ({how})", e <= TOL)


OURS = (("auto", "mesabase auto"), ("auto_copy", "mesabase auto, copying P"),
        ("vi", "mesabase vi"), ("pi", "mesabase pi"), ("lp", "mesabase lp"))
QE = (("qe_vi", "QuantEcon VI"), ("qe_pi", "QuantEcon PI"), ("qe_mpi", "QuantEcon MPI"))
TB = (("tb_vi", "pymdptoolbox VI (oracle N)"), ("tb_pi", "pymdptoolbox PI"),
      ("tb_mpi", "pymdptoolbox MPI"))
QE_METHODS = {"qe_vi": "value_iteration", "qe_pi": "policy_iteration",
              "qe_mpi": "modified_policy_iteration"}


def warm_up():
    """Compile QuantEcon's (and mesabase's) numba kernels outside any timed region."""
    P, R = dirichlet_dense(np.random.default_rng(1), 5, 2)
    for m in ("value_iteration", "policy_iteration", "modified_policy_iteration"):
        DiscreteDP(R, P, 0.9).solve(method=m)
    Pm, Rs = random_sparse(np.random.default_rng(1), 5, 2, 2)
    DiscreteDP(Rs.ravel(), Pm, 0.9, np.repeat(np.arange(5), 2), np.tile(np.arange(2), 5)).solve()
    # mesabase: every compiled path auto takes on the grid (numba's cache makes these
    # loads, but a stale or missing cache entry compiles: seconds, once per process).
    for S, A in ((5, 2), (5, 8), (60, 8), (200, 8), (400, 8)):
        Pw, Rw = dirichlet_dense(np.random.default_rng(1), S, A)
        for copy in (False, True):
            for g in (0.9, 0.999):
                solve(TabularMDP(Pw, Rw, gamma=g, copy=copy))
    Pm, Rs = random_sparse(np.random.default_rng(1), 50, 4, 3)
    solve(TabularMDP(Pm, Rs, gamma=0.99))


