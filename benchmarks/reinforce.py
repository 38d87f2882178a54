"""Online REINFORCE throughput: ``simulate`` against bare numpy loops of the same update.

Run on demand (this is not a test)::

    python benchmarks/reinforce.py [--quick] [--repeat 5] [--no-malloc] [--out FILE]
                                   [--simulate-from PATH]

Workloads (issue 3): a K = 10 Bernoulli bandit (means ~ U[0, 1]) with N = 1,000 and
10,000 seeds, and a random episodic MDP with S = 20, A = 4, horizon 20 (P[s, a, ·] ~
Dirichlet(1), R[s, a] ~ U[0, 1] paid as Bernoulli rewards, μ0 uniform), N = 1,000; both
from ``numpy.random.default_rng(0)``. The learner is the seed's rule,
θ[s_t] += α r_t (e_{a_t} − π(·|s_t)) after every step, α = 0.1, θ₀ = 0.

Contenders, in seed-steps per second (N × T / wall time):
- ``simulate(env, Reinforce(lr=0.1), T, seeds=N, shadow=None, record_every=T)``, numpy
  engine (the reference) and numba engine (``mesabase.sims.agents.engine``) on 1 and 2 threads;
- two bare numpy loops written here: *naive* (the obvious code: (N, A) rows, fresh
  temporaries) and *prealloc* (θ held (A, S·N) so every reduction runs along the long seed
  axis; reused buffers, ``out=`` everywhere). Both draw 4 uniforms per seed and step from
  one Generator and record nothing; ``--check`` replays simulate's per-seed streams
  through them and checks they reach the same θ (so they are the same update).

Timing: time.perf_counter, best of ``--repeat`` runs after a warm-up run (the first touch
of fresh memory costs ~2 ns/byte on this VM, ~20x a warm page), with the process CPU time
alongside (the machine may be shared: CPU/wall far below the thread count means it was).

Profile: cProfile of the numpy engine, grouped into learner.update, learner.action_probs,
action sampling, environment, history, RNG block draws and the rest of simulate's loop;
``--simulate-from old_simulate.py`` profiles another version of sims/simulate.py (e.g.
the one before this benchmark's optimisations) under the same grouping.

malloc: the timings are repeated in child processes with MALLOC_TRIM_THRESHOLD_ and
MALLOC_MMAP_THRESHOLD_ set (glibc otherwise returns the heap top to the OS after
freeing a large temporary and faults it back in on the next step).
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import importlib.util
import json
import os
import platform
import pstats
import subprocess
import sys
import time

import numpy as np
from machine import cpu_name  # benchmarks/machine.py

from mesabase.sims.agents.reinforce import Reinforce
from mesabase.sims.envs import Env, bernoulli_bandit
from mesabase.sims.simulation import simulate
from mesabase.theory import TabularMDP

try:
    import numba
except ImportError:  # pragma: no cover
    numba = None

LR = 0.1
MALLOC_ENV = {"MALLOC_TRIM_THRESHOLD_": str(1 << 32), "MALLOC_MMAP_THRESHOLD_": str(1 << 25)}


def workloads(quick=False):
    g = np.random.default_rng(0)
    bandit = bernoulli_bandit(g.random(10))
    S, A = 20, 4
    P, R = g.dirichlet(np.ones(S), size=(S, A)), g.random((S, A))
    mdp = Env(TabularMDP(P, R, gamma=1.0, horizon=20), noise="bernoulli", name="mdp-20x4")
    q = 4 if quick else 1
    return [("bandit K=10", bandit, 1000, 2000 // q), ("bandit K=10", bandit, 10000, 1000 // q),
            ("MDP S=20 A=4 H=20", mdp, 1000, 2000 // q)]


# ---- the bare loops ---------------------------------------------------------------------
def _tables(env):
    cdf = np.cumsum(env.P, axis=-1)
    cdf[..., -1] = 1.0
    m0 = np.cumsum(env.mdp.mu0)
    m0[-1] = 1.0
    return cdf, m0, env.R, env.absorbing, env.horizon or 0


def bare_naive(env, T, N, rng, lr=LR):
    """The obvious numpy loop; returns θ (N, S, A)."""
    cdf, m0, R, absorbing, H = _tables(env)
    S, A = env.n_states, env.n_actions
    theta, n = np.zeros((N, S, A)), np.arange(N)
    s = np.minimum((rng.random(N)[:, None] >= m0).sum(1), S - 1)
    k = np.zeros(N, np.int64)
    for _ in range(T):
        u = rng.random((4, N))
        row = theta[:, 0] if S == 1 else theta[n, s]
        p = np.exp(row - row.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        a = np.minimum((u[0][:, None] >= p.cumsum(1)).sum(1), A - 1)
        s2 = np.minimum((u[1][:, None] >= cdf[s, a]).sum(1), S - 1) if S > 1 else s
        r = (u[2] < R[s, a]).astype(float)
        g = -p
        g[n, a] += 1.0
        if S == 1:
            theta[:, 0] += lr * r[:, None] * g
        else:
            theta[n, s] += lr * r[:, None] * g
        k += 1
        done = absorbing[s2] | (k >= H) if H else absorbing[s2]
        s = np.where(done, np.minimum((u[3][:, None] >= m0).sum(1), S - 1), s2)
        k[done] = 0
    return theta


def bare_prealloc(env, T, N, rng, lr=LR):
    """θ held as (A, S·N) so reductions run along the seed axis; buffers reused."""
    cdf, m0, R, absorbing, H = _tables(env)
    S, A = env.n_states, env.n_actions
    cdf_t = np.ascontiguousarray(cdf.transpose(2, 0, 1)).reshape(S, S * A)
    Rf = R.ravel()
    theta, n = np.zeros((A, S * N)), np.arange(N)
    u, p, c = np.empty((4, N)), np.empty((A, N)), np.empty(N)
    m, tot, r = np.empty(N), np.empty(N), np.empty(N)
    ge, cnt = np.empty(N, bool), np.empty(N, np.uint8)
    row, sa = np.empty(N, np.int64), np.empty(N, np.int64)
    first = np.empty(N)
    rng.random(out=first)
    s = np.minimum((first[None] >= m0[:, None]).sum(0), S - 1)
    k = np.zeros(N, np.int64)
    for _ in range(T):
        rng.random(out=u)
        np.multiply(s, N, out=row)
        row += n
        np.take(theta, row, axis=1, out=p)
        p.max(0, out=m)
        p -= m
        np.exp(p, out=p)
        p.sum(0, out=tot)
        p /= tot
        np.copyto(c, p[0])
        np.greater_equal(u[0], c, out=cnt.view(bool))
        for b in range(1, A - 1):
            c += p[b]
            np.greater_equal(u[0], c, out=ge)
            cnt += ge.view(np.uint8)
        a = cnt.astype(np.int64)
        np.multiply(s, A, out=sa)
        sa += a
        if S > 1:
            s2 = np.minimum((u[1] >= np.take(cdf_t, sa, axis=1)).sum(0), S - 1)
        else:
            s2 = s
        np.less(u[2], Rf[sa], out=ge)
        np.multiply(ge, lr, out=r)
        np.negative(p, out=p)
        p[a, n] += 1.0
        p *= r
        if S == 1:
            theta += p
        else:
            theta[:, row] += p
        k += 1
        done = absorbing[s2] | (k >= H) if H else absorbing[s2]
        if S > 1:
            s = np.where(done, np.minimum((u[3][None] >= m0[:, None]).sum(0), S - 1), s2)
        k[done] = 0
    return theta.reshape(A, S, N).transpose(2, 1, 0)


class _Replay:
    """simulate's per-seed streams, served to a bare loop as ``random(size | out=)``."""

    def __init__(self, N, T):
        gens = [np.random.default_rng(i) for i in range(N)]
        self.first = np.array([g.random() for g in gens])
        self.U = np.stack([g.random((T, 4)) for g in gens]).transpose(1, 2, 0)   # (T, 4, N)
        self.t = -1

    def random(self, size=None, out=None):
        x = self.first if self.t < 0 else self.U[self.t]
        self.t += 1
        if out is None:
            return x.copy()
        out[...] = x
        return out


def check(env, N=50, T=300):
    """The bare loops replaying simulate's streams reach simulate's θ (softmax within 1e-12)."""
    run = simulate(env, Reinforce(lr=LR), T, seeds=N, shadow=None, record_every=T)
    for f in (bare_naive, bare_prealloc):
        theta = f(env, T, N, _Replay(N, T))
        p = np.exp(theta - theta.max(-1, keepdims=True))
        p /= p.sum(-1, keepdims=True)
        err = float(np.abs(p - run.policies[:, -1]).max())
        assert err < 1e-12, f"{f.__name__} on {env.name}: max |π − π_simulate| = {err:.2e}"
    return True


# ---- timing ---------------------------------------------------------------------------
def timed(f, repeat):
    """(best wall seconds, CPU seconds of that run) over ``repeat`` runs after a warm-up."""
    f()
    best = (np.inf, np.nan)
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        f()
        best = min(best, (time.perf_counter() - t0, time.process_time() - c0))
    return best


def contenders():
    out = {"simulate (numpy)": lambda env, T, N: simulate(
        env, Reinforce(lr=LR), T, seeds=N, shadow=None, record_every=T)}
    if numba is not None:
        for th in (1, 2):
            def fn(env, T, N, th=th):
                numba.set_num_threads(min(th, numba.config.NUMBA_NUM_THREADS))
                return simulate(env, Reinforce(lr=LR), T, seeds=N, shadow=None,
                                record_every=T, engine="numba")
            out[f"simulate (numba, {th} thr)"] = fn
    out["bare numpy, naive"] = lambda env, T, N: bare_naive(env, T, N,
                                                            np.random.default_rng(1))
    out["bare numpy, prealloc"] = lambda env, T, N: bare_prealloc(env, T, N,
                                                                  np.random.default_rng(1))
    return out


def throughput(repeat, quick, only=None):
    rows = []
    for name, env, N, T in workloads(quick):
        for who, fn in contenders().items():
            if only is not None and who not in only:
                continue
            wall, cpu = timed(lambda fn=fn, env=env, T=T, N=N: fn(env, T, N), repeat)
            rows.append({"workload": name, "N": N, "T": T, "who": who,
                         "rate": N * T / wall / 1e6, "cpu_wall": cpu / wall})
            print(f"  {name:18s} N={N:6d} {who:26s} {rows[-1]['rate']:6.2f} M/s "
                  f"(cpu/wall {rows[-1]['cpu_wall']:.2f})", file=sys.stderr, flush=True)
    return rows


# ---- profile --------------------------------------------------------------------------
#: component -> [(part of the file name, function, calling function or None)]: cumulative
#: times (only the calls from that caller, when one is named)
GROUPS = {
    "learner.update": [("learners", "update", None)],
    "learner.action_probs": [("learners", "action_probs", None)],
    "action sampling": [("simulate", "_sample_actions", None),
                        ("base.py", "sample_index", "simulate"),
                        ("fromnumeric.py", "cumsum", "simulate")],
    "environment": [("base.py", "next_state", None), ("base.py", "reward", None),
                    ("base.py", "reset", None)],
    "history": [("history.py", "append", "simulate"), ("simulate", "put", None),
                ("simulate", "flush", None)],
    "RNG block draws": [("simulate", "_draw", None), ("simulate", "<listcomp>", None),
                        ("shape_base.py", "stack", "simulate")],
}


def profile(env, N, T, module):
    pr = cProfile.Profile()
    pr.enable()
    module.simulate(env, Reinforce(lr=LR), T, seeds=N, shadow=None, record_every=T)
    pr.disable()
    stats = pstats.Stats(pr).stats
    total = next(v[3] for k, v in stats.items() if k[2] == "simulate" and
                 k[0].endswith(os.path.basename(module.__file__)))
    out = {}
    for group, keys in GROUPS.items():
        t = 0.0
        for (fname, func, caller) in keys:
            for k, v in stats.items():
                if k[2] != func or fname not in os.path.basename(k[0]):
                    continue
                if caller is None:
                    t += v[3]
                else:
                    t += sum(cv[3] for ck, cv in v[4].items() if ck[2] == caller)
        out[group] = t
    out["rest of the loop"] = total - sum(out.values())
    return {g: t / (N * T) * 1e9 for g, t in out.items()}, total / (N * T) * 1e9


def numba_breakdown(env, N, T, repeat):
    """CPU ns per seed-step of the numba engine's parts, on one thread: the per-seed
    generators, the uniforms' draws alone, and the whole ``fast.reinforce_run``."""
    from mesabase.sims.agents import engine as fast
    from mesabase.theory import History

    def gens():
        return [np.random.default_rng(i) for i in range(N)]

    def draws():
        g, U = gens(), np.empty((N, fast._STEPS, 4))
        for t0 in range(0, T, fast._STEPS):
            for i in range(N):
                g[i].random(out=U[i, :min(fast._STEPS, T - t0)])

    def run():
        h = History(N, T)
        fast.reinforce_run(env, Reinforce(lr=LR), T, gens(), np.zeros(N, np.int64),
                           np.array([0, T]), h._data, threads=1)

    def cpu(f):
        f()
        return min(_cpu(f) for _ in range(repeat)) / (N * T) * 1e9

    g, d, r = cpu(gens), cpu(draws), cpu(run)
    return {"generators": g, "uniform draws": d - g, "kernel, history, rest": r - d,
            "total": r}


def _cpu(f):
    c0 = time.process_time()
    f()
    return time.process_time() - c0


def load_module(path):
    spec = importlib.util.spec_from_file_location("mesabase.sims._simulate_other", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    return mod


# ---- report ---------------------------------------------------------------------------
def machine():
    cpu = cpu_name()
    return (f"{cpu}, {os.cpu_count()} cores; Python {platform.python_version()}, numpy "
            f"{np.__version__}, numba {getattr(numba, '__version__', 'absent')}; load "
            f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def table(rows):
    lines = ["| workload | N | T | contender | M seed-steps/s | CPU/wall |",
             "|---|---:|---:|---|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['N']:,} | {r['T']:,} | {r['who']} | "
                     f"{r['rate']:.2f} | {r['cpu_wall']:.2f} |")
    return "\n".join(lines)


MALLOC_WHO = ("simulate (numpy)", "simulate (numba, 1 thr)", "bare numpy, naive")


def malloc_experiment(repeat, quick, rounds=2):
    """Best rates in child processes, alternating the default environment and MALLOC_ENV
    (so that a shared machine's load falls on both alike)."""
    best = {}
    for _ in range(rounds):
        for label, extra in (("default", {}), ("malloc env", MALLOC_ENV)):
            env = {k: v for k, v in os.environ.items() if k not in MALLOC_ENV}
            cmd = [sys.executable, __file__, "--child", ";".join(MALLOC_WHO),
                   "--repeat", str(repeat)] + (["--quick"] if quick else [])
            res = subprocess.run(cmd, env={**env, **extra}, capture_output=True, text=True,
                                 check=True)
            for r in json.loads(res.stdout):
                key = (r["workload"], r["N"], r["who"], label)
                best[key] = max(best.get(key, 0.0), r["rate"])
    lines = ["| workload | N | contender | default | MALLOC_TRIM/MMAP_THRESHOLD_ set | ratio |",
             "|---|---:|---|---:|---:|---:|"]
    for (w, N, who, label), rate in best.items():
        if label == "default":
            m = best[(w, N, who, "malloc env")]
            lines.append(f"| {w} | {N:,} | {who} | {rate:.2f} | {m:.2f} | {m / rate:.2f} |")
    return "\n".join(lines)


def ratios(rows):
    out = []
    by = {(r["workload"], r["N"], r["who"]): r["rate"] for r in rows}
    for name, N in dict.fromkeys((r["workload"], r["N"]) for r in rows):
        sim = by[(name, N, "simulate (numpy)")]
        naive, pre = by[(name, N, "bare numpy, naive")], by[(name, N, "bare numpy, prealloc")]
        out.append(f"| {name} | {N:,} | {sim / naive:.2f} | {sim / pre:.2f} |")
    return ("| workload | N | simulate / naive | simulate / prealloc |\n|---|---:|---:|---:|\n"
            + "\n".join(out))


def profile_table(profiles):
    groups = list(next(iter(profiles.values()))[0])
    head = "| component | " + " | ".join(profiles) + " |"
    lines = [head, "|---|" + "---:|" * len(profiles)]
    for g in groups:
        cells = [f"{p[g]:.0f} ({100 * p[g] / tot:.0f}%)" for p, tot in profiles.values()]
        lines.append(f"| {g} | " + " | ".join(cells) + " |")
    lines.append("| **total** | " + " | ".join(f"{tot:.0f}" for _, tot in profiles.values())
                 + " |")
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="T / 4")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-malloc", action="store_true", help="skip the malloc experiment")
    ap.add_argument("--simulate-from", help="profile this simulate.py as well ('before')")
    ap.add_argument("--child", help=argparse.SUPPRESS)      # the malloc experiment's runs
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    if args.child:
        print(json.dumps(throughput(args.repeat, args.quick, args.child.split(";"))))
        return
    rows = throughput(args.repeat, args.quick)
    malloc = None if args.no_malloc else malloc_experiment(args.repeat, args.quick)
    for name, env in (("bandit K=10", workloads()[0][1]), ("MDP", workloads()[2][1])):
        assert check(env), name
    current = importlib.import_module("mesabase.sims.simulation")
    profiles = {}
    mods = [("now", current)]
    if args.simulate_from:
        mods.insert(0, ("before", load_module(args.simulate_from)))
    for name, env, N, T in workloads(args.quick):
        if N != 1000:
            continue
        runs = {label: [] for label, _ in mods}
        for _ in range(6):                       # interleaved: a shared machine's load
            for label, mod in mods:              # falls on every version alike
                runs[label].append(profile(env, N, min(T, 1000), mod))
        for label, r in runs.items():
            profiles[f"{name}, {label}"] = min(r[1:], key=lambda x: x[1])
    breakdown = {}
    if numba is not None:
        for name, env, N, T in workloads(args.quick):
            if N == 1000:
                breakdown[name] = numba_breakdown(env, N, T, args.repeat)
    report = "\n\n".join([
        f"Measured {datetime.date.today()} on {machine()}. `python benchmarks/reinforce.py"
        f"{' --quick' if args.quick else ''}`; best of {args.repeat} after a warm-up.",
        table(rows),
        "simulate's numpy engine against the bare loops (ratio of rates):",
        ratios(rows),
        "Where the numpy engine's time goes (cProfile, ns per seed-step, N = 1,000, "
        "T = 1,000; the least total of 5 runs after a warm-up, versions interleaved; "
        "cProfile adds ~10–20% to small calls):",
        profile_table(profiles)]
        + ([] if not breakdown else [
            "The numba engine's parts (process CPU ns per seed-step, one thread, N = 1,000):",
            "| workload | " + " | ".join(next(iter(breakdown.values()))) + " |\n"
            + "|---|" + "---:|" * len(next(iter(breakdown.values()))) + "\n"
            + "\n".join(f"| {w} | " + " | ".join(f"{v:.0f}" for v in b.values()) + " |"
                        for w, b in breakdown.items())])
        + ([] if malloc is None else [
            "malloc experiment: child processes alternating the default environment and "
            + ", ".join(f"{k}={v}" for k, v in MALLOC_ENV.items())
            + f" (2 rounds, best of {args.repeat} each):", malloc]))
    print(report)
    if args.out:
        with open(args.out, "w") as fh:
            fh.write(report + "\n")


if __name__ == "__main__":
    main()
