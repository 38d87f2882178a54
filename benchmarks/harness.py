"""Shared harness of benchmarks/solvers.py: timing, machine facts, bandwidth, problem
builders, the runners of each solver, and table formatting (not a test)."""

from __future__ import annotations

import copy
import ctypes
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
from machine import cpu_name  # benchmarks/machine.py

from mesabase.theory import TabularMDP, policy_iteration, solve
from mesabase.theory.solvers.batch import MDPBatch, solve_batch
from mesabase.theory.solvers.iteration import _vi_sweeps

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


def timed(f, repeat=5, budget=2.0, min_time=0.2, max_runs=1000):
    """(best seconds, runs, last result): at least `repeat` calls (fewer only past `budget`
    seconds), and for fast calls more, until `min_time` seconds or `max_runs` calls — the
    best of many is robust to other processes' noise on sub-millisecond calls."""
    times, out = [], None
    while ((len(times) < repeat or (sum(times) < min_time and len(times) < max_runs))
           and sum(times) <= budget):
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
    cpu = cpu_name()
    with open("/proc/meminfo") as fh:
        mem = int(fh.readline().split()[1]) / 2**20
    try:
        b = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        blas = f"{b['name']} {b['version']}"
    except (TypeError, KeyError):  # numpy < 1.25 has no mode=; a build without BLAS entries
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
    """Bytes/s, best of 15, over an n_bytes array: read by np.sum (one thread, and two halves
    on two threads), read by a BLAS matrix-vector product (rows of 4096), and copy (read +
    write). The read bandwidth is the fastest of the three reads."""
    x = np.ones(n_bytes // 8)
    half = x.size // 2
    k = 15  # best of 15: single readings on a shared VM vary by 30% and more
    with ThreadPoolExecutor(2) as pool:
        t2 = timed(lambda: list(pool.map(np.sum, (x[:half], x[half:]))), k, 20)[0]
    t1 = timed(x.sum, k, 20)[0]
    X, v = x.reshape(-1, 4096), np.ones(4096)
    tg = timed(lambda: X @ v, k, 20)[0]
    y = np.empty_like(x)
    tc = timed(lambda: np.copyto(y, x), k, 20)[0]
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
        k = _vi_sweeps(mdp, V, 1e-300, 10)[2]
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
