"""Solver benchmarks: mesabase against pymdptoolbox on the same arrays, at equal accuracy.

Run on demand (this is not a test)::

    python benchmarks/solvers.py [--quick] [--out FILE] [--seed N] [--threads N]

It prints a Markdown report (machine, method, targets, tables, the peer's traps) and
writes it to ``--out``. ``BENCHMARKS.md`` at the repository root is its output. Needs the
``bench`` extra (pymdptoolbox); ``cvxopt``, if importable, demonstrates pymdptoolbox's LP.

Accuracy. V* is policy iteration's V, checked by its Bellman residual. Every mesabase
method is called with tol = 1e-8 and reported with max |V − V*|. pymdptoolbox's
ValueIteration stops on a span rule and returns its last iterate, whose error is not
bounded by its epsilon, so it is timed twice: at its default epsilon (and its error shown),
and stopped after N sweeps, N the first sweep count whose iterate is within 1e-8 of V*
(measured on the same iterates, or MacQueen's bound once the step is nearly constant):
an oracle stopping rule, the most favourable to it. Its PolicyIteration is exact up to
floating point.

Timing. time.perf_counter; best of up to 5 runs within a budget per measurement (a run
longer than the budget runs once). mesabase times are of solve(mdp), with the TabularMDP
built (copied and validated) once outside and its build time shown on its own;
pymdptoolbox times include its constructor (validation, and for value iteration its
iteration bound); the layout change to P[a, s, s'] is done outside.
"""

from __future__ import annotations

import argparse
import copy
import ctypes
import datetime
import glob
import io
import math
import os
import platform
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import redirect_stdout
from fractions import Fraction
from typing import NamedTuple

import numpy as np
import scipy
import scipy.sparse as sp

from mesabase.theory import TabularMDP, policy_iteration, solve
from mesabase.theory.batch import MDPBatch, solve_batch
from mesabase.theory.solvers import _vi_sweeps

try:
    import mdptoolbox
    import mdptoolbox.mdp as mdpt
except ImportError:  # pragma: no cover
    sys.exit("pymdptoolbox is needed: pip install -e '.[bench]'")

TOL = 1e-8
GAMMAS = (0.95, 0.99)


class Run(NamedTuple):
    t: float          # best wall time, seconds (nan: not run)
    runs: int         # number of timed runs (0: extrapolated)
    err: float        # max |V − V*|
    info: str = ""


SKIP = Run(math.nan, 0, math.nan, "not run")


T0 = time.perf_counter()


def log(*a):
    print(f"[{time.perf_counter() - T0:6.1f} s]", *a, file=sys.stderr, flush=True)


def timed(f, repeat=5, budget=2.0):
    """(best seconds, runs, last result) of up to `repeat` calls within `budget` seconds."""
    times, out = [], None
    while len(times) < repeat and sum(times) <= budget:
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return min(times), len(times), out


def _cpu_times() -> tuple[int, int]:
    with open("/proc/stat") as fh:
        v = [int(x) for x in fh.readline().split()[1:]]
    return v[3] + v[4], sum(v)  # idle + iowait, total (all cores)


BUSY: list[str] = []  # cases measured while another process kept a core busy
WAIT = [20.0]  # seconds each case may wait for idle cores (set by main)


def wait_idle(label: str, window: float = 0.25, need: float = 0.9):
    """Wait up to WAIT[0] s for a `window` in which the cores are ≥ `need` idle: another
    process on a core stalls every two-thread BLAS call. Notes `label` in BUSY if never."""
    t0 = time.perf_counter()
    while True:
        i0, n0 = _cpu_times()
        time.sleep(window)
        i1, n1 = _cpu_times()
        if n1 > n0 and (i1 - i0) / (n1 - n0) >= need:
            return
        if time.perf_counter() - t0 > WAIT[0]:
            BUSY.append(label)
            return


def quiet(f):
    """Call f with pymdptoolbox's prints and scipy's sparse warnings silenced."""
    with warnings.catch_warnings(), redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        return f()


# ---- machine ---------------------------------------------------------------------------
def _openblas(fn_suffix):
    libs = glob.glob(os.path.join(os.path.dirname(np.__file__), "..", "numpy.libs", "*blas*"))
    for path in libs:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_", "openblas_"):
            for tail in ("64_", ""):
                f = getattr(lib, f"{name}{fn_suffix}{tail}", None)
                if f is not None:
                    return f
    return None


def blas_threads(n=None):
    """Get (or set, then get) numpy's OpenBLAS thread count; None if unknown."""
    if n is not None and (setter := _openblas("set_num_threads")) is not None:
        setter(int(n))
    getter = _openblas("get_num_threads")
    return int(getter()) if getter is not None else None


def machine() -> dict:
    cpu = platform.processor()
    with open("/proc/cpuinfo") as fh:
        cpu = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), cpu)
    with open("/proc/meminfo") as fh:
        mem = int(fh.readline().split()[1]) / 2**20
    try:
        b = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{b['name']} {b['version']}"
    except Exception:
        blas = "unknown"
    return {"cpu": cpu, "nproc": os.cpu_count(), "mem_gib": mem,
            "python": platform.python_version(), "numpy": np.__version__,
            "scipy": scipy.__version__, "blas": blas, "blas_threads": blas_threads(),
            "mdptoolbox": getattr(mdptoolbox, "__version__", "4.0b3"), "load": os.getloadavg(),
            "l3": _l3()}


def _l3() -> str:
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index3/size") as fh:
            return fh.read().strip()
    except OSError:
        return "unknown"


def bandwidth(n_bytes: int) -> dict:
    """Bytes/s, best of 5, over an n_bytes array: read by np.sum (one thread, and two halves
    on two threads), read by a BLAS matrix-vector product (rows of 4096), and copy (read +
    write). The read bandwidth is the fastest of the three reads."""
    x = np.ones(n_bytes // 8)
    half = x.size // 2
    with ThreadPoolExecutor(2) as pool:
        t2 = timed(lambda: list(pool.map(np.sum, (x[:half], x[half:]))), 5, 10)[0]
    t1 = timed(x.sum, 5, 10)[0]
    X, v = x.reshape(-1, 4096), np.ones(4096)
    tg = timed(lambda: X @ v, 5, 10)[0]
    y = np.empty_like(x)
    tc = timed(lambda: np.copyto(y, x), 5, 10)[0]
    out = {"read_1t": x.nbytes / t1, "read_2t": x.nbytes / t2, "gemv": x.nbytes / tg,
           "copy": 2 * x.nbytes / tc}
    out["read"] = max(out["read_1t"], out["read_2t"], out["gemv"])
    return out


# ---- problems --------------------------------------------------------------------------
def random_dense(rng, S, A):
    """P[s, a, :] = u / Σu with u ~ U(0, 1)^S (mixes in one step); R ~ U(0, 1)."""
    P = rng.random((S, A, S))
    P /= P.sum(axis=2, keepdims=True)
    return P, rng.random((S, A))


def river_chain(S, p_right=0.6, p_stay=0.35, small=0.005, big=1.0):
    """RiverSwim-like chain: action 0 moves left (reward `small` at state 0), action 1 moves
    right w.p. 0.6, stays w.p. 0.35, left w.p. 0.05 (reward `big` at state S−1). It mixes
    at the speed of a random walk, so value iteration needs ~log(tol(1−γ))/log γ sweeps."""
    P, R = np.zeros((S, 2, S)), np.zeros((S, 2))
    for s in range(S):
        P[s, 0, max(s - 1, 0)] += 1.0
        P[s, 1, min(s + 1, S - 1)] += p_right
        P[s, 1, s] += p_stay
        P[s, 1, max(s - 1, 0)] += 1.0 - p_right - p_stay
    R[0, 0], R[S - 1, 1] = small, big
    return P, R


def random_sparse(rng, S, A, k):
    """CSR (S·A, S), row s·A + a with k distinct random successors, U(0,1) weights normalised."""
    rows = S * A
    cols = rng.integers(0, S, size=(rows, k))
    while (dup := (np.diff(np.sort(cols, axis=1), axis=1) == 0).any(axis=1)).any():
        cols[dup] = rng.integers(0, S, size=(int(dup.sum()), k))
    vals = rng.random((rows, k))
    vals /= vals.sum(axis=1, keepdims=True)
    Pm = sp.csr_array((vals.ravel(), cols.ravel(), np.arange(0, rows * k + 1, k)), (rows, S))
    return Pm, rng.random((S, A))


def toolbox_P(P):
    """pymdptoolbox's layout: dense (A, S, S) copy, or an object array of A CSR matrices."""
    if sp.issparse(P):
        S = P.shape[1]
        A = P.shape[0] // S
        out = np.empty(A, dtype=object)
        for a in range(A):
            out[a] = sp.csr_matrix(P[a::A])
        return out
    return np.ascontiguousarray(P.transpose(1, 0, 2))


# ---- accuracy --------------------------------------------------------------------------
def reference(mdp):
    """V* by policy iteration and its Bellman residual ‖TV − V‖∞."""
    sol = policy_iteration(mdp)
    return sol.V, sol.residual


def sweeps_to(mdp, V_star, tol, max_sweeps=200_000):
    """Smallest N with ‖T^N 0 − V*‖∞ ≤ tol (plain value iteration from 0, the iterates of
    pymdptoolbox's ValueIteration), or an upper bound on it: with d_k = V_k − V_{k−1},
    d_{k+i} ∈ γⁱ[min d_k, max d_k] (MacQueen), so ‖V* − V_{k+j}‖ ≤ γ^{j+1} max|d_k| / (1 − γ).
    The bound is used once span(d_k) ≤ 1e-6 max|d_k| (then it is tight to a sweep)."""
    g, Pm, R = mdp.gamma, mdp.P_matrix, mdp.R
    S, A = R.shape
    V = np.zeros(S)
    for k in range(1, max_sweeps + 1):
        V_new = (R + g * np.asarray(Pm @ V).reshape(S, A)).max(axis=1)
        if np.max(np.abs(V_new - V_star)) <= tol:
            return k, "measured"
        d = V_new - V
        V = V_new
        lo, hi = d.min(), d.max()
        M = max(abs(lo), abs(hi))
        if hi - lo <= 1e-6 * M:
            j = math.ceil(math.log(tol * (1 - g) / M) / math.log(g)) - 1
            return k + max(j, 0), "bound"
    raise RuntimeError("value iteration did not reach tol")


def err(V, V_star) -> float:
    return float(np.max(np.abs(np.asarray(V, dtype=float).ravel() - V_star.ravel())))


# ---- runners ---------------------------------------------------------------------------
def build_time(P, R, g) -> float:
    """Best time of TabularMDP(P, R, gamma=g): copy and validation."""
    return timed(lambda: TabularMDP(P, R, gamma=g), 5, 1)[0]


def run_ours(mdp, method, V_star, repeat, budget):
    """solve(mdp) alone: the TabularMDP is built (and validated) once, outside."""
    t, n, sol = timed(lambda: solve(mdp, method=method, tol=TOL), repeat, budget)
    return Run(t, n, err(sol.V, V_star), f"{sol.method} {sol.iterations}")


def run_toolbox_pi(Pt, R, g, V_star, repeat, budget, max_iter=1000):
    def go():
        pi = mdpt.PolicyIteration(Pt, R, g, max_iter=max_iter)
        quiet(pi.run)
        return pi

    t, n, pi = quiet(lambda: timed(go, repeat, budget))
    info = f"{pi.iter} it" + (" (stopped at max_iter)" if pi.iter == max_iter else "")
    return Run(t, n, err(pi.V, V_star), info)


def run_toolbox_vi(Pt, R, g, mdp, V_star, repeat, budget, max_run):
    """(default-epsilon run, equal-accuracy run): see the module docstring."""
    t_c, _, vi = quiet(lambda: timed(lambda: mdpt.ValueIteration(Pt, R, g), 3, budget))
    t_d, n_d, v = timed(lambda: quiet(lambda: _run(copy.copy(vi))), repeat, budget)
    default = Run(t_c + t_d, n_d, err(v.V, V_star), f"{v.iter} sweeps")
    N, how = sweeps_to(mdp, V_star, TOL)
    vi_eq = copy.copy(vi)  # same constructor work; a zero threshold: run exactly N sweeps
    vi_eq.thresh = 0.0
    per_sweep = t_d / max(v.iter, 1)
    if N * per_sweep <= max_run:
        vi_eq.max_iter = N
        t_e, n_e, w = timed(lambda: quiet(lambda: _run(copy.copy(vi_eq))), repeat, budget)
        return default, Run(t_c + t_e, n_e, err(w.V, V_star), f"N={N} ({how})")
    probe = max(10, int(max_run / per_sweep))
    vi_eq.max_iter = probe
    t_p = timed(lambda: quiet(lambda: _run(copy.copy(vi_eq))), 1, 0)[0]
    return default, Run(t_c + t_p * N / probe, 0, TOL, f"N={N} ({how}); ≈ from {probe} sweeps")


def _run(vi):
    vi.run()
    return vi


# ---- formatting ------------------------------------------------------------------------
def ft(t: float) -> str:
    if math.isnan(t):
        return "–"
    return f"{t * 1e3:.3g} ms" if t < 1 else f"{t:.3g} s"


def fe(e: float) -> str:
    return "–" if math.isnan(e) else f"{e:.1e}"


def fr(r: Run, with_info=True) -> str:
    if math.isnan(r.t):
        return "–"
    s = ("≈" if r.runs == 0 else "") + ft(r.t)
    return f"{s} ({r.info})" if with_info and r.info else s


def table(header, rows) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


# ---- sections --------------------------------------------------------------------------
def exact_twin(P, R, g):
    """The MDP with P's float entries as exact binary Fractions, rows renormalised exactly."""
    F = np.vectorize(Fraction, otypes=[object])
    Pe = F(P)
    return TabularMDP(Pe / Pe.sum(axis=-1, keepdims=True), F(R), gamma=Fraction(str(g)))


def sweep_rows(mdp, bw, rng):
    """One Bellman sweep at S = 2000 against the bandwidth bound (bytes of P / read BW)."""
    Pm, S, A = mdp.P_matrix, mdp.n_states, mdp.n_actions
    V = rng.random(S)
    bound = Pm.nbytes / bw

    def lib():  # the library's own loop: 10 span-stopped sweeps that cannot stop early
        t0 = time.perf_counter()
        k = _vi_sweeps(mdp, V, 1e-300, 10)[1]
        return (time.perf_counter() - t0) / k

    def best(f):
        f()
        return min(f() for _ in range(10))

    def mv():
        return timed(lambda: Pm @ V, 20, 5)[0]

    wait_idle(f"sweep A={A}")
    raw, sweep = mv(), best(lib)
    vdot = timed(lambda: np.vecdot(Pm, V), 20, 5)[0]
    n = blas_threads()
    blas_threads(1)
    raw1, sweep1 = mv(), best(lib)
    blas_threads(n)
    cells = [(raw, "`P_matrix @ V`"), (sweep, "library sweep"), (raw1, "`P_matrix @ V`, 1 thread"),
             (sweep1, "library sweep, 1 thread"), (vdot, "`np.vecdot(P_matrix, V)`")]
    return [[S, A, f"{Pm.nbytes / 2**20:.0f} MiB", ft(bound), what, ft(t), f"{t / bound:.2f}"]
            for t, what in cells]


def dense_section(cfg, bw, out):
    res = {}
    for S in cfg.sizes:
        for A in (4, 16):
            log(f"dense S={S} A={A}")
            P, R = random_dense(np.random.default_rng([cfg.seed, S, A]), S, A)
            Pt = toolbox_P(P)
            for g in GAMMAS:
                wait_idle(f"dense S={S} A={A} γ={g}")
                mdp = TabularMDP(P, R, gamma=g)
                V_star, resid = reference(mdp)
                r = {"resid": resid, "build": build_time(P, R, g)}
                ok = {"auto": True, "vi": True, "pi": True, "lp": S * A * S <= 1.1e6,
                      "cvxpy": S <= 100}
                for m in ok:
                    r[m] = run_ours(mdp, m, V_star, cfg.repeat, cfg.budget) if ok[m] else SKIP
                r["exact"] = run_ours(exact_twin(P, R, g), "exact", V_star, 1, 0) if S <= 10 \
                    else SKIP
                r["t_pi"] = run_toolbox_pi(Pt, R, g, V_star, cfg.repeat, cfg.budget)
                r["t_vi0"], r["t_vi"] = run_toolbox_vi(Pt, R, g, mdp, V_star, cfg.repeat,
                                                       cfg.budget, cfg.max_run)
                res[(S, A, g)] = r
            if S == 2000 and A in cfg.sweep_A:
                mdp = TabularMDP(P, R, gamma=0.95)
                out["sweep"] += sweep_rows(mdp, bw, np.random.default_rng(0))
            del P, Pt
    return res


def chain_section(cfg):
    out = {}
    for S in cfg.chain_sizes:
        log(f"chain S={S}")
        wait_idle(f"chain S={S}")
        P, R = river_chain(S)
        g = 0.99
        mdp = TabularMDP(P, R, gamma=g)
        V_star, resid = reference(mdp)
        Pt = toolbox_P(P)
        r = {"resid": resid, "build": build_time(P, R, g)}
        for m in ("auto", "vi", "pi", "lp"):
            r[m] = run_ours(mdp, m, V_star, cfg.repeat, cfg.budget)
        r["t_pi"] = run_toolbox_pi(Pt, R, g, V_star, cfg.repeat, cfg.budget)
        r["t_vi0"], r["t_vi"] = run_toolbox_vi(Pt, R, g, mdp, V_star, cfg.repeat, cfg.budget,
                                               cfg.max_run)
        out[S] = r
    return out


def sparse_section(cfg):
    S, A, k = 10_000, 4, 5
    Pm, R = random_sparse(np.random.default_rng([cfg.seed, S, k]), S, A, k)
    out = {}
    for g in GAMMAS:
        log(f"sparse gamma={g}")
        wait_idle(f"sparse γ={g}")
        mdp = TabularMDP(Pm, R, gamma=g)
        V_star, resid = reference(mdp)
        r = {"resid": resid, "build": build_time(Pm, R, g)}
        for m in ("auto", "vi", "pi"):  # lp (HiGHS) is not run: it takes minutes here
            r[m] = run_ours(mdp, m, V_star, cfg.repeat, cfg.budget)
        if cfg.peers_sparse and g == 0.99:
            Pt = toolbox_P(Pm)
            log("  pymdptoolbox ValueIteration (its constructor takes ~50 s here)")
            r["t_vi0"], r["t_vi"] = run_toolbox_vi(Pt, R, g, mdp, V_star, 1, 0, cfg.max_run)
            log("  pymdptoolbox PolicyIteration, one iteration (dense 10,000² solve)")
            one = run_toolbox_pi(Pt, R, g, V_star, 1, 0, max_iter=1)
            n = int(r["pi"].info.split()[-1])
            r["t_pi1"] = one
            r["t_pi"] = Run(one.t * n, 0, 0.0, f"{n} it × one iteration")
        out[g] = r
    return out, Pm.nnz


def batch_section(cfg):
    N, S, A, g = 1000, 20, 4, 0.95
    log("batch")
    wait_idle("batch")
    rng = np.random.default_rng([cfg.seed, N, S, A])
    P = rng.random((N, S, A, S))
    P /= P.sum(axis=3, keepdims=True)
    R = rng.random((N, S, A))
    ref = solve_batch(MDPBatch(P, R, gamma=g), method="pi")
    V_star = ref.V
    Pt = np.ascontiguousarray(P.transpose(0, 2, 1, 3))
    rep, bud = cfg.repeat, cfg.budget

    def batch(m):
        return lambda: solve_batch(MDPBatch(P, R, gamma=g), method=m, tol=TOL).V

    built = MDPBatch(P, R, gamma=g)

    def ours_loop():
        return np.stack([solve(TabularMDP(P[i], R[i], gamma=g), tol=TOL).V for i in range(N)])

    def tb(cls, **kw):
        def go():
            out = []
            for i in range(N):
                m = cls(Pt[i], R[i], g, **kw)
                m.run()
                out.append(m.V)
            return np.array(out)
        return lambda: quiet(go)

    r = {"resid": ref.residual}
    for name, f in (("MDPBatch + solve_batch(auto)", batch("auto")),
                    ("solve_batch(auto) alone", lambda: solve_batch(built, tol=TOL).V),
                    ("MDPBatch + solve_batch(vi)", batch("vi")),
                    ("loop of solve(auto)", ours_loop),
                    ("loop of pymdptoolbox PolicyIteration", tb(mdpt.PolicyIteration)),
                    ("loop of pymdptoolbox ValueIteration (ε = 0.01)", tb(mdpt.ValueIteration))):
        t, n, V = timed(f, rep, bud)
        r[name] = Run(t, n, err(V, V_star))
    return r


# ---- the peer's traps ------------------------------------------------------------------
def lp_trap(seed):
    """pymdptoolbox's LP: constraints stacked by action (row a·S + s), reward vector laid
    out in Fortran order (row s·A + a). It solves the MDP with rewards R'[s, a] =
    R.ravel()[a·S + s] and then applies one Bellman backup with the true R."""
    try:
        import cvxopt  # noqa: F401
    except ImportError:
        return None
    S, A, g = 10, 3, 0.9
    P, R = random_dense(np.random.default_rng([seed, 7]), S, A)
    mdp = TabularMDP(P, R, gamma=g)
    V_star = reference(mdp)[0]
    lp = quiet(lambda: mdpt._LP(toolbox_P(P), R, g))
    quiet(lp.run)
    R_perm = R.ravel().reshape(A, S).T
    V_perm = policy_iteration(mdp.with_reward(R_perm)).V
    predicted = (R + g * (mdp.P_matrix @ V_perm).reshape(S, A)).max(axis=1)
    ours = solve(mdp, method="lp", tol=TOL)
    return {"S": S, "A": A, "g": g, "err": err(lp.V, V_star), "explained": err(lp.V, predicted),
            "ours": err(ours.V, V_star)}


def mirror_mdp(rng, k):
    """State 0 chooses between two mirror-image copies of one random k-state MDP that both
    return to 0: Q*(0, 0) = Q*(0, 1) exactly, but not in floating point."""
    S, A = 1 + 2 * k, 2
    B = rng.random((k, A, k + 1))
    B /= B.sum(axis=2, keepdims=True)
    RB = rng.random((k, A))
    P, R = np.zeros((S, A, S)), np.zeros((S, A))
    for off in (1, 1 + k):
        P[off:off + k, :, off:off + k] = B[:, :, :k]
        P[off:off + k, :, 0] = B[:, :, k]
        R[off:off + k] = RB
    P[0, 0, 1] = P[0, 1, 1 + k] = 1.0
    R[0] = rng.random()
    return P, R


def cycle_trap():
    g = 0.9
    for seed in range(1000):
        rng = np.random.default_rng(seed)
        P, R = mirror_mdp(rng, int(rng.integers(2, 8)))
        probe = mdpt.PolicyIteration(toolbox_P(P), R, g, max_iter=20)
        quiet(probe.run)
        if probe.iter == 20:
            break
    else:
        return None
    mdp = TabularMDP(P, R, gamma=g)
    t, _, pi = timed(lambda: quiet(lambda: _run(mdpt.PolicyIteration(toolbox_P(P), R, g))), 1)
    t2, _, ours = timed(lambda: policy_iteration(mdp), 3)
    return {"seed": seed, "S": mdp.n_states, "iters": pi.iter, "t": t, "ours_t": t2,
            "ours_iters": ours.iterations, "diff": err(pi.V, ours.V)}


# ---- report ----------------------------------------------------------------------------
OURS = ("auto", "vi", "pi", "lp", "cvxpy", "exact")
PEERS = (("t_pi", "pymdptoolbox PI"), ("t_vi", "pymdptoolbox VI, = accuracy"),
         ("t_vi0", "pymdptoolbox VI, ε = 0.01"))


def verdict(ok: bool) -> str:
    return "**met**" if ok else "**not met**"


def targets(dense, chain, sparse, batch, sweep) -> list[str]:
    out = []
    sp_ = {k: r["t_pi"].t / r["auto"].t for k, r in dense.items() if k[0] >= 100}
    e2e = {k: r["t_pi"].t / (r["build"] + r["auto"].t) for k, r in dense.items() if k[0] >= 100}
    if sp_:
        worst = min(sp_, key=sp_.get)
        cells = ", ".join(f"S={k[0]} A={k[1]} γ={k[2]}: {v:.1f}× ({e2e[k]:.1f}×)"
                          for k, v in sp_.items())
        out.append(f"- `solve(method=\"auto\")` ≥ 4× faster than pymdptoolbox PolicyIteration, "
                   f"random dense, S ≥ 100: {verdict(sp_[worst] >= 4)}; slowest cell "
                   f"{sp_[worst]:.1f}× (S={worst[0]}, A={worst[1]}, γ={worst[2]}). All cells, "
                   f"solve alone (and with building the TabularMDP): {cells}.")
    for S, r in chain.items():
        s = r["t_pi"].t / r["auto"].t
        out.append(f"- the same target on the slow-mixing chain, S = {S}, γ = 0.99: "
                   f"{verdict(s >= 4)} ({s:.2f}×: auto {fr(r['auto'])}, "
                   f"pymdptoolbox PI {fr(r['t_pi'])}; "
                   f"value iteration alone {fr(r['vi'])}).")
    if sweep:
        rat = [f"A={row[1]}: {row[6]}×" for row in sweep if row[4] == "library sweep"]
        ok = all(float(row[6]) <= 1.2 for row in sweep if row[4] == "library sweep")
        out.append(f"- Bellman sweep within 1.2× of the bandwidth bound at S = 2000: "
                   f"{verdict(ok)} ({', '.join(rat)}; table 1 also has one BLAS thread and "
                   "np.vecdot).")
    cells = [f"γ={g}: {fr(r['auto'])}, max|V − V*| = {fe(r['auto'].err)}"
             for g, r in sparse.items()]
    ok = all(r["auto"].t < 0.1 and r["auto"].err <= TOL for r in sparse.values())
    out.append(f"- sparse S = 10,000 (5 nonzeros per row) solved to 1e-8 in under 100 ms: "
               f"{verdict(ok)} ({'; '.join(cells)}).")
    loop = batch["loop of pymdptoolbox PolicyIteration"].t
    s1 = loop / batch["solve_batch(auto) alone"].t
    s2 = loop / batch["MDPBatch + solve_batch(auto)"].t
    out.append(f"- 1,000 MDPs (S = 20, A = 4) in one call ≥ 20× faster than a loop over "
               f"pymdptoolbox: {verdict(s1 >= 20)} on `solve_batch` ({s1:.1f}×: "
               f"{ft(batch['solve_batch(auto) alone'].t)} against {ft(loop)}); {s2:.1f}× "
               "including building the MDPBatch (copy and validation).")
    bad = [f"{name} {m} {k}: {fe(r[m].err)}" for name, res in (("dense", dense), ("chain", chain),
           ("sparse", sparse)) for k, r in res.items() for m in OURS
           if m in r and r[m].err > TOL]
    out.append(f"- every mesabase method within tol = 1e-8 of V*: {verdict(not bad)}"
               + (f" (exceptions: {'; '.join(bad)})." if bad else "."))
    return out


def dense_tables(dense) -> str:
    cols = [m for m in OURS if any(not math.isnan(r[m].t) for r in dense.values())]
    head = ["S", "A", "γ", "build"] + cols + [p[1] for p in PEERS] + [
        "PI / auto", "PI / (build + auto)"]
    rows, erows = [], []
    for (S, A, g), r in dense.items():
        rows.append([S, A, g, ft(r["build"])] + [fr(r[m], m in ("auto", "pi")) for m in cols]
                    + [fr(r[k], k != "t_vi0") for k, _ in PEERS]
                    + [f"{r['t_pi'].t / r['auto'].t:.1f}×",
                       f"{r['t_pi'].t / (r['build'] + r['auto'].t):.1f}×"])
        erows.append([S, A, g, fe(r["resid"])] + [fe(r[m].err) for m in cols]
                     + [fe(r[k].err) for k, _ in PEERS])
    ehead = ["S", "A", "γ", "residual of V*"] + cols + [p[1] for p in PEERS]
    return (table(head, rows) + "\n\nmax |V − V*| of the same runs:\n\n" + table(ehead, erows))


def long_table(r, names) -> str:
    rows = [[label, fr(r[k], False), r[k].info, fe(r[k].err)] for k, label in names
            if k in r and not math.isnan(r[k].t)]
    return table(["method", "time", "iterations / notes", "max |V − V*|"], rows)


def report(cfg, mach, bw, dense, sweep, chain, sparse, nnz, batch, lp, cyc, elapsed) -> str:
    names = [(m, f"mesabase `{m}`") for m in OURS] + list(PEERS) + [
        ("t_pi1", "pymdptoolbox PI, one iteration")]
    L = [
        "# Solver benchmarks",
        "",
        f"Generated by `{cfg.command}` on {datetime.date.today()} in {elapsed / 60:.1f} min. "
        "Do not edit by hand: re-run the command.",
        "",
        "## Machine",
        "",
        f"- CPU: {mach['cpu']}, {mach['nproc']} cores (`nproc`), {mach['mem_gib']:.0f} GiB RAM",
        f"- Python {mach['python']}, numpy {mach['numpy']}, scipy {mach['scipy']}, "
        f"pymdptoolbox {mach['mdptoolbox']}",
        f"- BLAS: {mach['blas']}, {mach['blas_threads']} threads (the dense LU solves of policy "
        "iteration and `P_matrix @ V` use them; set `OPENBLAS_NUM_THREADS` to change)",
        f"- load average at start {mach['load'][0]:.2f}, at end {os.getloadavg()[0]:.2f} "
        "(other processes share the cores: times are best of k, and each case first waits up "
        f"to {WAIT[0]:g} s for the cores to be idle; "
        + (f"cases that never found them idle: {', '.join(BUSY)})" if BUSY else
           "every case found them idle)"),
        f"- memory bandwidth, measured over {cfg.bw_bytes / 2**30:g} GiB: read "
        f"{bw['read_1t'] / 1e9:.1f} GB/s (`np.sum`, one thread), {bw['read_2t'] / 1e9:.1f} GB/s "
        f"(`np.sum` of two halves on two threads), {bw['gemv'] / 1e9:.1f} GB/s (BLAS "
        f"matrix-vector product, rows of 4096); copy {bw['copy'] / 1e9:.1f} GB/s (read + write). "
        f"The bound below uses the fastest read, {bw['read'] / 1e9:.1f} GB/s. L3 cache: "
        f"{mach['l3']}.",
        "",
        "## Method",
        "",
        "- Same arrays for every solver: P[s, a, s'] for mesabase, the copy P.transpose(1, 0, 2) "
        "(made outside the timed region) for pymdptoolbox, whose prints are silenced.",
        f"- mesabase is called with tol = {TOL:g}; every row reports max |V − V*|, V* from "
        "policy iteration (its Bellman residual is shown). pymdptoolbox's PolicyIteration is "
        "exact up to floating point. Its ValueIteration returns its last iterate and stops when "
        "the span of V_k − V_{k−1} is below ε(1 − γ)/γ, which does not bound the error of that "
        "iterate: it is shown at its default ε = 0.01 (error included) and stopped at equal "
        "accuracy, after the first N sweeps whose iterate is within 1e-8 of V* (N measured on the "
        "same iterates, or from MacQueen's bound once the step is constant to 1e-6, marked "
        "'bound'): an oracle stopping rule, the most favourable to it. '≈' marks a time "
        f"extrapolated from fewer sweeps (runs predicted over {cfg.max_run:g} s).",
        f"- Times: best of up to {cfg.repeat} runs within {cfg.budget:g} s (slower runs run once); "
        "mesabase times are of `solve(mdp, method, tol)`; the TabularMDP is built (copied and "
        "validated) once, outside, and its time is the 'build' column. pymdptoolbox times "
        "include its constructor (validation, and for ValueIteration its iteration bound).",
        "- Random dense MDPs: numpy Generator seeded by (seed, S, A); P[s, a, :] = u / Σu, "
        "u ~ U(0,1)^S, R ~ U(0,1). Such rows mix in one step, so span-stopped value iteration "
        "converges in a handful of sweeps; the chain below does not mix.",
        "",
        "## Targets",
        "",
        *targets(dense, chain, sparse, batch, sweep),
        "",
        "## 1. One Bellman sweep against the bandwidth bound (S = 2000)",
        "",
        "Bound = bytes of P read per sweep / read bandwidth. 'library sweep' is the loop of "
        "`value_iteration` (`_vi_sweeps`: product, max over actions, span), per sweep.",
        "",
        table(["S", "A", "P", "bound", "kernel", "time", "× bound"], sweep),
        "",
        "## 2. Random dense MDPs",
        "",
        "Cells: best time (method and iterations where useful). `lp` (HiGHS) runs for "
        "S²A ≤ 1.1e6, `cvxpy` for S ≤ 100, `exact` (Fractions, on the exact twin of the same P) "
        "for S = 10. Last columns: pymdptoolbox PolicyIteration time / auto time, without and "
        "with building the TabularMDP.",
        "",
        dense_tables(dense),
        "",
        "## 3. Slow-mixing chain, γ = 0.99",
        "",
        "`river_chain(S)`: left moves left (0.005 at state 0); right moves right w.p. 0.6, stays "
        "w.p. 0.35, moves left w.p. 0.05 (1.0 at state S − 1). Value iteration needs thousands "
        "of sweeps; policy iteration moves the switch point about one state per iteration.",
    ]
    for S, r in chain.items():
        L += ["", f"S = {S}, A = 2 (residual of V* {fe(r['resid'])}; TabularMDP build "
              f"{ft(r['build'])}):", "", long_table(r, names)]
    L += ["", f"## 4. Sparse MDP: S = 10,000, A = 4, 5 nonzeros per row ({nnz:,} in P)", ""]
    for g, r in sparse.items():
        L += [f"γ = {g} (residual of V* {fe(r['resid'])}; TabularMDP build {ft(r['build'])}):",
              "", long_table(r, names), ""]
    if not cfg.peers_sparse:
        L += ["pymdptoolbox not run here (`--quick`).", ""]
    L += ["pymdptoolbox's PolicyIteration densifies P_π (S × S) and solves it with a dense LU, so"
          " one iteration is timed and multiplied by the iteration count (both start from argmax R"
          " and follow the same iterates).", "",
          "## 5. A batch of 1,000 MDPs (S = 20, A = 4, γ = 0.95)", "",
          table(["method", "time", "max |V − V*|"],
                [[k, ft(v.t), fe(v.err)] for k, v in batch.items() if k != "resid"]), "",
          "## 6. Traps in pymdptoolbox", ""]
    worst = max(((r["t_vi0"].err, f"dense S={k[0]}, A={k[1]}, γ={k[2]}") for k, r in dense.items()),
                default=(math.nan, ""))
    L.append(f"- ValueIteration stops on a span rule and returns its last iterate: at its default "
             f"ε = 0.01 it was off by up to {worst[0]:.3g} ({worst[1]}; table 2, last error "
             "column). mesabase stops when γ/(1 − γ)·span/2 ≤ tol and returns the midpoint, "
             "whose error that bounds.")
    if lp is None:
        L.append("- LP (`mdptoolbox.mdp._LP`, needs cvxopt, not installed here): its reward vector "
                 "is laid out in Fortran order against constraints stacked by action, so it "
                 "solves an MDP with permuted rewards.")
    else:
        L.append(f"- LP (`mdptoolbox.mdp._LP`, cvxopt): on a random S = {lp['S']}, A = {lp['A']}, "
                 f"γ = {lp['g']} MDP its V is off by {lp['err']:.3g}. Reward vector in Fortran "
                 "order (row s·A + a) against constraints stacked by action (row a·S + s): it "
                 "solves the MDP with rewards R'[s, a] = R.ravel()[a·S + s], then backs up once "
                 f"with R; that prediction matches its output to {lp['explained']:.1e}. "
                 f"mesabase `lp`: {lp['ours']:.1e}.")
    if cyc is None:
        L.append("- PolicyIteration switches to argmax Q on floating-point near-ties and can cycle "
                 "(no cycling instance found in this run).")
    else:
        L.append(f"- PolicyIteration takes argmax Q even on a floating-point tie, so it can cycle: "
                 f"on `mirror_mdp` (seed {cyc['seed']}, S = {cyc['S']}; two actions whose Q* are "
                 f"equal in exact arithmetic) it ran {cyc['iters']} iterations (its max_iter) in "
                 f"{ft(cyc['t'])}. mesabase keeps the current action unless another is better by "
                 f"more than 1e-12 relative: {cyc['ours_iters']} iterations, {ft(cyc['ours_t'])} "
                 f"(values agree to {cyc['diff']:.1e}).")
    return "\n".join(L) + "\n"


class Config(NamedTuple):
    command: str
    seed: int
    sizes: tuple
    sweep_A: tuple
    chain_sizes: tuple
    peers_sparse: bool
    repeat: int
    budget: float
    max_run: float
    bw_bytes: int


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="reduced grid, under a minute")
    ap.add_argument("--out", help="write the Markdown report here too")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, help="set numpy's OpenBLAS thread count first")
    a = ap.parse_args(argv)
    cmd = "python benchmarks/solvers.py" + (" --quick" if a.quick else "") + (
        f" --out {a.out}" if a.out else "") + (f" --seed {a.seed}" if a.seed else "") + (
        f" --threads {a.threads}" if a.threads else "")
    if a.threads and blas_threads(a.threads) != a.threads:
        sys.exit("could not set the OpenBLAS thread count; use OPENBLAS_NUM_THREADS")
    if a.quick:
        cfg = Config(cmd, a.seed, (10, 100, 500), (), (200,), False, 3, 0.5, 3.0, 2**28)
    else:
        cfg = Config(cmd, a.seed, (10, 100, 500, 2000), (4, 16), (200, 500), True, 7, 2.0, 15.0,
                     2**30)
    WAIT[0] = 2.0 if a.quick else 30.0
    t0 = time.perf_counter()
    mach = machine()
    log("bandwidth")
    bw = bandwidth(cfg.bw_bytes)
    out = {"sweep": []}
    if a.quick:  # the sweep table still needs S = 2000; A = 4 only
        P, R = random_dense(np.random.default_rng([a.seed, 2000, 4]), 2000, 4)
        mdp = TabularMDP(P, R, gamma=0.95)
        out["sweep"] = sweep_rows(mdp, bw["read"], np.random.default_rng(0))
        del P
    dense = dense_section(cfg, bw["read"], out)
    chain = chain_section(cfg)
    sparse, nnz = sparse_section(cfg)
    batch = batch_section(cfg)
    log("traps")
    lp, cyc = lp_trap(a.seed), cycle_trap()
    text = report(cfg, mach, bw, dense, out["sweep"], chain, sparse, nnz, batch, lp, cyc,
                  time.perf_counter() - t0)
    print(text)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
