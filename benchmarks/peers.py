"""Peers: mesabase against QuantEcon and pymdptoolbox, side by side, in one run (issue 15).

Run on demand (this is not a test)::

    python benchmarks/peers.py [--quick | --smoke | --profile] [--write] [--seed N]

It prints a Markdown section to stdout; ``--write`` also puts it between the markers
``<!-- peers:begin -->`` / ``<!-- peers:end -->`` of BENCHMARKS.md (appended at the end
the first time; the hand-written profile notes after the markers are left alone).
Needs the ``bench`` extra (pymdptoolbox, quantecon, numba).

Problems. Random dense MDPs on the grid S ∈ {100, 500, 2000} × A ∈ {4, 16} × γ ∈ {0.9,
0.99, 0.999}: rows P[s, a, :] ~ Dirichlet(1) (normalised standard exponentials) and
R ~ U(0, 1), from ``numpy.random.default_rng([seed, S, A])`` (the same P, R for the three
γ of an (S, A)); the slow-mixing chain ``river_chain(S)`` of benchmarks/harness.py
(BENCHMARKS.md §3), γ = 0.99; a sparse S = 10⁴, A = 4 problem with 5 random successors
per (s, a) (``random_sparse``); and a batch of 1,000 dense MDPs with S = 20, A = 4,
γ = 0.95.

Accuracy. V* is mesabase's policy iteration, with its certificate (``error_bound``, a
proved bound on ‖V − V*‖∞ that includes floating point). Every contender's max |V − V*| is
reported; a result further than 1e-8 from V*, or one that stopped at its max_iter, is a
failure (✗) and never counts as the fastest. mesabase is called with tol = 1e-8. QuantEcon's
value iteration and modified policy iteration, and pymdptoolbox's PolicyIterationModified,
take an epsilon: the first of 2e-8, 2e-10, 2e-12 whose result is within 1e-8 of V* is used
(for QuantEcon 2e-8 suffices in theory: both stop with ‖v − V*‖ < ε/2); the ε used is
reported. QuantEcon's policy iteration keeps its default max_iter = 250; its VI and MPI get
max_iter = 10⁶ (their ε decides). pymdptoolbox's ValueIteration returns its last iterate on
a span rule that does not bound the error, so it is stopped after N sweeps, N the first
sweep count within 1e-8 of V* (an oracle, as in BENCHMARKS.md §2).

Timing. time.perf_counter around building each library's model from the same numpy arrays
*and* solving: ``solve(TabularMDP(P, R, gamma=γ), method, tol=1e-8)``,
``DiscreteDP(R, P, γ).solve(method, ...)``, ``mdptoolbox.mdp.X(Pt, R, γ).run()`` — Pt the
(A, S, S) layout pymdptoolbox needs, copied outside the timed region. One warm-up call
(whose result gives the accuracy), then the median of up to `repeat` calls within a
budget; a call slower than the budget runs once. A run predicted past `max_run` seconds is
extrapolated from a shorter run ('≈'). The load average is recorded beside every case.
"""

from __future__ import annotations

import argparse
import datetime
import math
import multiprocessing as mp
import os
import re
import statistics
import sys
import time
from typing import NamedTuple

import numpy as np

from mesabase.theory import TabularMDP, policy_iteration, solve
from mesabase.theory.evaluation import bellman_q, evaluate
from mesabase.theory.solvers.batch import MDPBatch, solve_batch

try:
    import quantecon
    from quantecon.markov import DiscreteDP
except ImportError:  # pragma: no cover
    sys.exit("quantecon is needed: pip install -e '.[bench]'")

from harness import (  # noqa: I001 (a sibling script module)
    BUSY,
    WAIT,
    err,
    fe,
    ft,
    log,
    machine,
    quiet,
    random_sparse,
    river_chain,
    sweeps_to,
    table,
    toolbox_P,
    wait_idle,
)
import mdptoolbox.mdp as mdpt  # noqa: E402 (harness exits first with a message if missing)

TOL = 1e-8
EPS_LADDER = (2e-8, 2e-10, 2e-12)
QE_PI_MAX_ITER = 250  # QuantEcon's default
BIG = 10**6
BEGIN, END = "<!-- peers:begin -->", "<!-- peers:end -->"
HERE = os.path.dirname(os.path.abspath(__file__))


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
def measure(f, repeat, budget):
    """(median seconds, calls, last result): one timed warm-up call; if it took more than
    `budget` it is the measurement, else the median of up to `repeat` further calls (at
    least 3, more while their total stays under `budget`)."""
    t0 = time.perf_counter()
    out = f()
    tw = time.perf_counter() - t0
    if tw > budget or repeat <= 1:
        return tw, 1, out
    times: list[float] = []
    while len(times) < repeat and (len(times) < 3 or sum(times) < budget):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), len(times), out


def dirichlet_dense(rng, S, A):
    """P[s, a, :] ~ Dirichlet(1, …, 1) (normalised standard exponentials), R ~ U(0, 1)."""
    P = rng.standard_exponential((S, A, S))
    P /= P.sum(axis=2, keepdims=True)
    return P, rng.random((S, A))


# ---- contenders ------------------------------------------------------------------------
def run_ours(P, R, g, method, V_star, cfg):
    def go():
        return solve(TabularMDP(P, R, gamma=g), method=method, tol=TOL)

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


# ---- cases -----------------------------------------------------------------------------
OURS = (("auto", "mesabase auto"), ("vi", "mesabase vi"), ("pi", "mesabase pi"),
        ("lp", "mesabase lp"))
QE = (("qe_vi", "QuantEcon VI"), ("qe_pi", "QuantEcon PI"), ("qe_mpi", "QuantEcon MPI"))
TB = (("tb_vi", "pymdptoolbox VI (oracle N)"), ("tb_pi", "pymdptoolbox PI"),
      ("tb_mpi", "pymdptoolbox MPI"))
QE_METHODS = {"qe_vi": "value_iteration", "qe_pi": "policy_iteration",
              "qe_mpi": "modified_policy_iteration"}


def one_case(label, P, R, g, cfg, lp=True, toolbox=True):
    """Every contender on one problem (P dense (S, A, S) or (CSR, s_idx, a_idx))."""
    if WAIT[0] > 0:
        wait_idle(label)
    load = os.getloadavg()
    Pm = P[0] if isinstance(P, tuple) else P
    mdp = TabularMDP(Pm, R, gamma=g)
    ref = policy_iteration(mdp, tol=1e-12)
    V_star = ref.V
    out = {"load": load, "cert": ref.error_bound, "ref_it": ref.iterations}
    t0 = time.perf_counter()
    out["build"] = measure(lambda: TabularMDP(Pm, R, gamma=g), cfg.repeat, cfg.budget)[0]
    def idle(what):  # every contender waits for idle cores, not only every case
        if WAIT[0] > 0:
            wait_idle(f"{label} {what}")

    for m, _ in OURS:
        log(f"  {label} mesabase {m}")
        idle(m)
        out[m] = run_ours(Pm, R, g, m, V_star, cfg) if (m != "lp" or lp) else NOT_RUN
    for k, _ in QE:
        log(f"  {label} {k}")
        idle(k)
        out[k] = run_qe(P, R, g, QE_METHODS[k], V_star, cfg)
    if toolbox:
        Pt = toolbox_P(Pm)
        log(f"  {label} pymdptoolbox")
        idle("tb_pi")
        out["tb_pi"] = run_tb_pi(Pt, R, g, V_star, cfg)
        idle("tb_vi")
        out["tb_vi"] = run_tb_vi(Pt, R, g, mdp, V_star, cfg)
        idle("tb_mpi")
        out["tb_mpi"] = run_tb_mpi(Pt, R, g, V_star, cfg)
        del Pt
    else:
        for k, _ in TB:
            out[k] = NOT_RUN
    out["elapsed"] = time.perf_counter() - t0
    out["load_end"] = os.getloadavg()
    return out


def best(r, keys):
    """(key, Res) of the fastest accurate contender among keys, or (None, None)."""
    ok = [(r[k].t, k) for k in keys if r[k].ok and not math.isnan(r[k].t)]
    if not ok:
        return None, None
    k = min(ok)[1]
    return k, r[k]


def batch_case(cfg):
    N, S, A, g = cfg.batch_n, 20, 4, 0.95
    if WAIT[0] > 0:
        wait_idle("batch")
    load = os.getloadavg()
    rng = np.random.default_rng([cfg.seed, N, S, A])
    P = rng.standard_exponential((N, S, A, S))
    P /= P.sum(axis=3, keepdims=True)
    R = rng.random((N, S, A))
    ref = solve_batch(MDPBatch(P, R, gamma=g), method="pi", tol=1e-12)
    V_star = ref.V
    Pt = np.ascontiguousarray(P.transpose(0, 2, 1, 3))

    def ours_batch():
        return solve_batch(MDPBatch(P, R, gamma=g), method="auto", tol=TOL).V

    def ours_loop():
        return np.stack([solve(TabularMDP(P[i], R[i], gamma=g), tol=TOL).V for i in range(N)])

    def qe_loop(method, eps=None):
        def go():
            out = np.empty((N, S))
            hits = 0
            for i in range(N):
                res = DiscreteDP(R[i], P[i], g).solve(method=method, epsilon=eps,
                                                      max_iter=QE_PI_MAX_ITER
                                                      if method == "policy_iteration" else BIG)
                hits += res.num_iter >= res.max_iter
                out[i] = res.v
            return out, hits
        return go

    def tb_loop(cls, **kw):
        def go():
            out = np.empty((N, S))
            for i in range(N):
                m = cls(Pt[i], R[i], g, **kw)
                m.run()
                out[i] = m.V
            return out, 0
        return lambda: quiet(go)

    rows = {}
    for key, name, f in (
            ("ours", "mesabase `MDPBatch` + `solve_batch` (auto)", lambda: (ours_batch(), 0)),
            ("ours_loop", "mesabase loop of `solve(TabularMDP(...))` (auto)",
             lambda: (ours_loop(), 0)),
            ("qe_pi", "QuantEcon loop, policy iteration", qe_loop("policy_iteration")),
            ("qe_mpi", "QuantEcon loop, modified PI (ε = 2e-8)",
             qe_loop("modified_policy_iteration", 2e-8)),
            ("qe_vi", "QuantEcon loop, value iteration (ε = 2e-8)",
             qe_loop("value_iteration", 2e-8)),
            ("tb_pi", "pymdptoolbox loop, PolicyIteration", tb_loop(mdpt.PolicyIteration)),
            ("tb_mpi", "pymdptoolbox loop, PolicyIterationModified (ε = 2e-10)",
             tb_loop(mdpt.PolicyIterationModified, epsilon=2e-10))):
        log(f"  batch {key}")
        if WAIT[0] > 0:
            wait_idle(f"batch {key}")
        t, n, (V, hits) = measure(f, cfg.repeat, cfg.budget)
        e = err(V, V_star)
        rows[key] = (name, Res(t, n, e, f"{hits} hit max_iter" if hits else "",
                               e <= TOL and not hits))
    return {"rows": rows, "load": load, "load_end": os.getloadavg(), "N": N, "cert":
            ref.error_bound}


def chain_case(S, cfg):
    P, R = river_chain(S)
    return one_case(f"chain S={S}", P, R, 0.99, cfg)


def sparse_case(g, cfg):
    S, A, k = 10_000, 4, 5
    Pm, R = random_sparse(np.random.default_rng([cfg.seed, S, k]), S, A, k)
    s_idx, a_idx = np.repeat(np.arange(S), A), np.tile(np.arange(A), S)
    return one_case(f"sparse γ={g}", (Pm, s_idx, a_idx), R, g, cfg, lp=False, toolbox=False)


# ---- report ----------------------------------------------------------------------------
def cell(r: Res) -> str:
    if math.isnan(r.t):
        return "–" if r.note == "not run" else f"✗ ({r.note})"
    s = ("≈" if r.runs == 0 else "") + ft(r.t)
    e = fe(r.err) if not math.isnan(r.err) else "?"
    return f"{s} · {e}" if r.ok else f"✗ {s} · {e}"


def fload(load) -> str:
    return f"{load[0]:.2f}"


def case_rows(res, keys_label):
    head = ["case", "load 1 min", "V* cert."] + [lab for _, lab in keys_label]
    rows = []
    for label, r in res.items():
        rows.append([label, f"{fload(r['load'])}→{fload(r['load_end'])}", fe(r["cert"])]
                    + [cell(r[k]) for k, _ in keys_label])
    return head, rows


def notes_rows(res, keys_label):
    head = ["case"] + [lab for _, lab in keys_label]
    rows = [[label] + [r[k].note for k, _ in keys_label] for label, r in res.items()]
    return head, rows


def ratio(a, b):
    return a / b if (b and not math.isnan(a) and not math.isnan(b)) else math.nan


def fx(x) -> str:
    return "–" if math.isnan(x) else f"{x:.2f}×"


def summary(res):
    """Rows: case, mesabase auto (build + solve), fastest accurate QuantEcon and ratio,
    fastest accurate pymdptoolbox and ratio, mesabase's fastest method / auto."""
    rows, qr, tr = [], [], []
    for label, r in res.items():
        kq, q = best(r, [k for k, _ in QE])
        kt, t = best(r, [k for k, _ in TB])
        ko, o = best(r, [k for k, _ in OURS])
        a = r["auto"]
        rq = ratio(q.t, a.t) if q else math.nan
        rt = ratio(t.t, a.t) if t else math.nan
        qr.append(rq)
        tr.append(rt)
        name = dict(QE + TB + OURS)
        rows.append([label, ft(a.t) + ("" if a.ok else " ✗"),
                     f"{name[kq]} {ft(q.t)}" if q else "none accurate", fx(rq),
                     f"{name[kt]} {ft(t.t)}" if t else "–", fx(rt),
                     f"{name[ko]} {ft(o.t)}" if o else "–",
                     f"{ratio(o.t, a.t):.2f}" if o else "–", r["build"] and ft(r["build"])])
    return rows, qr, tr


def gmean(xs):
    xs = [x for x in xs if not math.isnan(x) and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else math.nan


def report(cfg, mach, dense, chains, sparse, batch, elapsed) -> str:
    allk = OURS + QE + TB
    L = ["## Peers: QuantEcon and pymdptoolbox, side by side (issue 15)", "",
         f"Generated by `{cfg.command}` on {datetime.date.today()} in {elapsed / 60:.1f} min "
         "(between the markers; the profile notes after them are written by hand). "
         f"{mach['cpu']}, {mach['nproc']} cores; Python {mach['python']}, numpy "
         f"{mach['numpy']}, scipy {mach['scipy']}, {mach['blas']} ({mach['blas_threads']} "
         f"threads); QuantEcon {quantecon.__version__} (the newest for Python 3.11; 0.12+ "
         f"need 3.12), pymdptoolbox {mach['mdptoolbox']}. Load average at start "
         f"{mach['load'][0]:.2f}, at end {os.getloadavg()[0]:.2f}; each case waits up to "
         f"{WAIT[0]:g} s for idle cores before every contender ("
         + (f"never found for {len(BUSY)}: {', '.join(BUSY)}" if BUSY else "always found")
         + "; the load column shows the 1-minute load average before and after each case).",
         "",
         "Method (details: the docstring of `benchmarks/peers.py`): every time includes "
         "building the library's model from the same numpy arrays — "
         "`solve(TabularMDP(P, R, gamma=γ), method, tol=1e-8)`, "
         "`DiscreteDP(R, P, γ).solve(method, epsilon=ε)`, `mdptoolbox.mdp.X(Pt, R, γ).run()` "
         "(Pt = P.transpose(1, 0, 2), copied outside the timed region). Median of up to "
         f"{cfg.repeat} calls after a warm-up (a call over {cfg.budget:g} s runs once); '≈': "
         f"extrapolated from a shorter run (runs predicted over {cfg.max_run:g} s). "
         "Cells: time · max |V − V*|, V* from mesabase policy iteration ('V* cert.': its "
         "certified bound on ‖V − V*‖∞). **✗ marks a failure**: further than 1e-8 from V*, or "
         "stopped by max_iter — a fast wrong answer is not a win. mesabase `pi` *is* the "
         "reference computation (its error is 0 by construction). QuantEcon VI/MPI and "
         "pymdptoolbox MPI use the first ε of 2e-8, 2e-10, 2e-12 that lands within 1e-8 "
         "(ε used: second table); QuantEcon PI keeps its default max_iter = 250, VI and MPI "
         "get 10⁶; pymdptoolbox VI stops after the oracle N sweeps (§2). `lp` (HiGHS) runs "
         f"for S²A ≤ {cfg.lp_max:.2g}.",
         ""]
    if dense:
        qrows, qr, tr = summary(dense)
        L += ["### Summary: fastest accurate peer / mesabase auto (both including model "
              "construction)", "",
              table(["case", "mesabase auto", "fastest accurate QuantEcon", "QE / auto",
                     "fastest accurate pymdptoolbox", "tb / auto", "fastest mesabase",
                     "fastest / auto", "TabularMDP build alone"], qrows), "",
              f"**Geometric mean over the {len(dense)} dense grid cases of (QuantEcon fastest "
              f"accurate) / (mesabase auto): {gmean(qr):.2f}×** (> 1: mesabase faster); "
              f"pymdptoolbox: {gmean(tr):.2f}×. Cases where mesabase auto is behind QuantEcon: "
              + (", ".join(lbl for lbl, x in zip(dense, qr, strict=True) if x < 1) or "none")
              + ".", ""]
        other = {**chains, **sparse}
        if other:
            orows, oq, ot = summary(other)
            L += ["Chains and the sparse problem (not in the geometric mean):", "",
                  table(["case", "mesabase auto", "fastest accurate QuantEcon", "QE / auto",
                         "fastest accurate pymdptoolbox", "tb / auto", "fastest mesabase",
                         "fastest / auto", "TabularMDP build alone"], orows), ""]
    if batch:
        rows = batch["rows"]
        ours = rows["ours"][1]
        kq, q = best({k: v[1] for k, v in rows.items()}, ["qe_pi", "qe_mpi", "qe_vi"])
        kt, t = best({k: v[1] for k, v in rows.items()}, ["tb_pi", "tb_mpi"])
        L += [f"### Batch: {batch['N']:,} MDPs, S = 20, A = 4, γ = 0.95 (load "
              f"{fload(batch['load'])}→{fload(batch['load_end'])}; V* by batched PI, "
              f"certified to {fe(batch['cert'])})", "",
              table(["method", "time", "max |V − V*|", "notes"],
                    [[name, ("" if r.ok else "✗ ") + ft(r.t), fe(r.err), r.note]
                     for name, r in rows.values()]), "",
              f"Batch ratios (fastest accurate loop / mesabase `MDPBatch` + `solve_batch`): "
              f"QuantEcon {ratio(q.t, ours.t):.1f}× ({rows[kq][0]}), pymdptoolbox "
              f"{ratio(t.t, ours.t):.1f}× ({rows[kt][0]}).", ""]
    for title, res in (("Dense grid (Dirichlet(1) rows)", dense),
                       ("Slow-mixing chain `river_chain(S)`, γ = 0.99", chains),
                       ("Sparse S = 10,000, A = 4, 5 successors per (s, a) (pymdptoolbox not "
                        "run: its constructor alone takes ~50 s here, §4)", sparse)):
        if not res:
            continue
        h, rows = case_rows(res, allk)
        nh, nrows = notes_rows(res, allk)
        L += [f"### {title}", "", table(h, rows), "",
              "Iterations, ε used and max_iter hits of the same runs:", "",
              table(nh, nrows), ""]
    return "\n".join(L).rstrip() + "\n"


def write_section(text: str, path: str):
    with open(path) as fh:
        doc = fh.read()
    block = f"{BEGIN}\n{text}{END}"
    if BEGIN in doc and END in doc:
        doc = re.sub(re.escape(BEGIN) + r".*?" + re.escape(END), lambda _: block, doc,
                     flags=re.S)
    else:
        doc = doc.rstrip("\n") + "\n\n" + block + "\n"
    with open(path, "w") as fh:
        fh.write(doc)


def warm_up():
    """Compile QuantEcon's (and mesabase's) numba kernels outside any timed region."""
    P, R = dirichlet_dense(np.random.default_rng(1), 5, 2)
    for m in ("value_iteration", "policy_iteration", "modified_policy_iteration"):
        DiscreteDP(R, P, 0.9).solve(method=m)
    Pm, Rs = random_sparse(np.random.default_rng(1), 5, 2, 2)
    DiscreteDP(Rs.ravel(), Pm, 0.9, np.repeat(np.arange(5), 2), np.tile(np.arange(2), 5)).solve()
    solve(TabularMDP(P, R, gamma=0.9))


# ---- profile (--profile) ---------------------------------------------------------------
def _med(f, k=5):
    f()
    ts = []
    for _ in range(k):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def _top(f, n=8) -> list[list]:
    """cProfile of one call of f: the n functions with the most own time."""
    import cProfile
    import pstats

    pr = cProfile.Profile()
    pr.enable()
    f()
    pr.disable()
    st = pstats.Stats(pr)
    rows = sorted(st.stats.items(), key=lambda kv: -kv[1][2])[:n]
    return [[f"`{os.path.basename(fn)}:{line} {name}`", cc, ft(tt), ft(ct)]
            for (fn, line, name), (cc, nc, tt, ct, _) in rows]


def profile_case(S, A, g, seed=0, k=5):
    """Where solve(TabularMDP(P, R, gamma)) spends its time on one dense case (Markdown)."""
    from mesabase.theory.checks import real_array
    from mesabase.theory.evaluation import policy_matrix
    from mesabase.theory.mdp import check_distribution
    from mesabase.theory.solvers.certificate import mdp_rounding, one_hot

    P, R = dirichlet_dense(np.random.default_rng([seed, S, A]), S, A)
    load = os.getloadavg()[0]
    mdp = TabularMDP(P, R, gamma=g)
    rows = np.arange(S)
    t = {}
    t["TabularMDP(P, R, gamma) total"] = _med(lambda: TabularMDP(P, R, gamma=g), k)
    t["  real_array(P) (asarray, no copy)"] = _med(lambda: real_array(P, "P"), k)
    t["  check_distribution(P): row sums + min"] = _med(
        lambda: check_distribution("P", P, ""), k)
    t["  own C-order copy of P"] = _med(lambda: np.array(P, dtype=np.float64, order="C"), k)
    t["QuantEcon DiscreteDP(R, P, γ)"] = _med(lambda: DiscreteDP(R, P, g), k)
    t["solve(mdp, 'auto') on a built mdp"] = _med(lambda: solve(mdp, tol=TOL), k)
    t["solve(mdp, 'vi') on a built mdp"] = _med(lambda: solve(mdp, "vi", tol=TOL), k)
    t["solve(mdp, 'pi') on a built mdp"] = _med(lambda: solve(mdp, "pi", tol=TOL), k)
    greedy = np.argmax(bellman_q(mdp, R.max(axis=1)), axis=1)
    pi_g = policy_iteration(mdp, TOL, actions0=greedy)
    t[f"policy_iteration from greedy(max_a R) ({pi_g.iterations} it, QuantEcon's start)"] = \
        _med(lambda: policy_iteration(mdp, TOL, actions0=greedy), k)
    sol = solve(mdp, "pi", tol=TOL)
    act = sol.actions
    pi = one_hot(act, A)
    t["mdp_rounding(mdp)"] = _med(lambda: mdp_rounding(mdp), k)
    t["one PI step: policy_matrix (sparse selector @ P)"] = _med(lambda: policy_matrix(mdp, pi), k)
    t["one PI step: P[s, σ(s), :] by np.take (QuantEcon: fancy index)"] = _med(
        lambda: np.take(mdp.P_matrix, rows * A + act, axis=0), k)
    Pp = np.take(mdp.P_matrix, rows * A + act, axis=0)
    t["one PI step: np.eye(S) − γ P_π"] = _med(lambda: np.eye(S) - g * Pp, k)
    M = np.eye(S) - g * Pp
    rp = R[rows, act]
    t["one PI step: np.linalg.solve (LU)"] = _med(lambda: np.linalg.solve(M, rp), k)
    t["one PI step: bellman_q (a full pass over P)"] = _med(lambda: bellman_q(mdp, sol.V), k)
    out = [f"#### S = {S}, A = {A}, γ = {g} (load {load:.2f} → {os.getloadavg()[0]:.2f}; "
           f"medians of {k})", "", table(["what", "time"], [[w, ft(v)] for w, v in t.items()]),
           "", "cProfile of `solve(TabularMDP(P, R, gamma=γ), tol=1e-8)` (auto), top own time:",
           "", table(["function", "calls", "own", "cumulative"],
                     _top(lambda: solve(TabularMDP(P, R, gamma=g), tol=TOL))), ""]
    return "\n".join(out)


def profile_sparse(g=0.99, seed=0, k=5):
    S, A, kk = 10_000, 4, 5
    Pm, R = random_sparse(np.random.default_rng([seed, S, kk]), S, A, kk)
    s_idx, a_idx = np.repeat(np.arange(S), A), np.tile(np.arange(A), S)
    load = os.getloadavg()[0]
    mdp = TabularMDP(Pm, R, gamma=g)
    V = np.zeros(S)
    t = {"TabularMDP(Pm, R, gamma) (CSR)": _med(lambda: TabularMDP(Pm, R, gamma=g), k),
         "solve(mdp, 'auto') on a built mdp": _med(lambda: solve(mdp, tol=TOL), k),
         "one full pass P_matrix @ V": _med(lambda: mdp.P_matrix @ V, k),
         "QuantEcon DiscreteDP (sa-pair form)": _med(
             lambda: DiscreteDP(R.ravel(), Pm, g, s_idx, a_idx), k),
         "QuantEcon MPI solve (built model)": _med(
             lambda: DiscreteDP(R.ravel(), Pm, g, s_idx, a_idx).solve(
                 "modified_policy_iteration", epsilon=2e-8), k)}
    sol = solve(mdp, tol=TOL)
    out = [f"#### Sparse S = 10⁴, A = 4, γ = {g} (load {load:.2f}; medians of {k}; auto: "
           f"{sol.method} {sol.iterations})", "",
           table(["what", "time"], [[w, ft(v)] for w, v in t.items()]), "",
           "cProfile of `solve(TabularMDP(Pm, R, gamma=γ), tol=1e-8)`, top own time:", "",
           table(["function", "calls", "own", "cumulative"],
                 _top(lambda: solve(TabularMDP(Pm, R, gamma=g), tol=TOL))), ""]
    return "\n".join(out)


def profile(cases) -> str:
    warm_up()
    parts = [profile_case(*c) for c in cases]
    parts.append(profile_sparse())
    return "\n".join(parts)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="reduced grid, a few minutes")
    mode.add_argument("--smoke", action="store_true",
                      help="the smallest case only, one call each (for the test suite)")
    mode.add_argument("--profile", action="store_true",
                      help="print where mesabase's solve spends its time (cProfile, parts)")
    ap.add_argument("--write", action="store_true", help="update BENCHMARKS.md's section")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    cmd = "python benchmarks/peers.py" + (" --quick" if a.quick else "") + (
        " --smoke" if a.smoke else "") + (f" --seed {a.seed}" if a.seed else "") + (
        " --write" if a.write else "")
    if a.profile:
        print(profile(((100, 16, 0.99), (500, 16, 0.99), (2000, 4, 0.99), (2000, 16, 0.99))))
        return 0
    grid = [(S, A, g) for S in (100, 500, 2000) for A in (4, 16) for g in (0.9, 0.99, 0.999)]
    if a.smoke:
        cfg = Config(cmd, a.seed, ((100, 4, 0.9),), (), (), 20, 1, 0.5, 2.0, 1.1e6, 10.0)
        WAIT[0] = 0.0
    elif a.quick:
        cfg = Config(cmd, a.seed, tuple(c for c in grid if c[0] <= 500 and c[2] != 0.999)
                     + ((2000, 4, 0.99),), (200,), (0.99,), 200, 3, 0.5, 3.0, 1.1e6, 90.0)
        WAIT[0] = 2.0
    else:
        cfg = Config(cmd, a.seed, tuple(grid), (200, 500), (0.9, 0.99, 0.999), 1000, 7, 2.0,
                     10.0, 1.1e6, 180.0)
        WAIT[0] = 20.0
    t0 = time.perf_counter()
    mach = machine()
    warm_up()
    dense = {}
    cache = {}
    for S, A, g in cfg.dense:
        if (S, A) not in cache:
            cache.clear()
            cache[(S, A)] = dirichlet_dense(np.random.default_rng([a.seed, S, A]), S, A)
        P, R = cache[(S, A)]
        label = f"S={S} A={A} γ={g}"
        log(label)
        dense[label] = one_case(label, P, R, g, cfg, lp=S * S * A <= cfg.lp_max)
    cache.clear()
    chains = {}
    for S in cfg.chains:
        log(f"chain S={S}")
        chains[f"chain S={S} γ=0.99"] = chain_case(S, cfg)
    sparse = {}
    for g in cfg.sparse_gammas:
        log(f"sparse γ={g}")
        sparse[f"sparse S=10⁴ γ={g}"] = sparse_case(g, cfg)
    log("batch")
    batch = batch_case(cfg)
    text = report(cfg, mach, dense, chains, sparse, batch, time.perf_counter() - t0)
    print(text)
    if a.write:
        write_section(text, os.path.join(HERE, "..", "BENCHMARKS.md"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
