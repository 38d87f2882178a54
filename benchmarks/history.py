"""Shadow π*_t benchmark: the incremental certainty-equivalent optimum against re-solving.

Run on demand (this is not a test)::

    python benchmarks/history.py [--steps 10000] [--seeds 1000] [--sample 50] [--quick]
                                 [--repeat 3] [--out FILE]

Workload (issue 3). A fixed random MDP with S = 50, A = 4: rows P[s, a, ·] ~ Dirichlet(1),
mean rewards R[s, a] ~ U[0, 1], observed rewards R[s, a] + 0.1·N(0, 1). Each seed follows a
uniform random behaviour policy for ``--steps`` transitions (one long episode, start state
uniform), all from one seeded numpy Generator, generated before any timing. At every step
the certainty-equivalent model of the history so far (prior 0, unvisited pairs self-loop
with reward 0: the defaults of ``empirical_mdp``) is solved, at γ = 0.95 and 0.99, by:

(a) sup-norm value iteration from scratch (written here): V₀ = 0, V_{k+1} = max_a [R̂ + γ P̂ V_k],
    stopped when ‖V_{k+1} − V_k‖∞ < tol (1 − γ)/(2γ), tol = 1e-8 (the classic rule: the
    greedy policy of V_{k+1} is tol-optimal; Puterman 1994, Thm 6.3.1);
(b) ``solve(TabularMDP(P̂, R̂, gamma), "pi")`` from scratch (policy iteration, exact);
(c) :class:`mesabase.theory.history.incremental.IncrementalCE` (one-row update + warm-started
    policy iteration with Sherman–Morrison), for one seed and for ``--seeds`` seeds at once.

(a) and (b) are timed on every ``--sample``-th step (their counts are kept up to date, not
timed; the timed part is building P̂, R̂ from the counts and solving). (c) is timed over
every step, including its periodic re-factorisation. Timing: time.perf_counter, best of
``--repeat`` runs of the whole sequence (``--repeat-many`` for the many-seed runs), and
the process CPU time alongside (the machine may be shared). Agreement: (c)'s V against (b)'s at the
sampled steps, and against batched policy iteration for all seeds at the last step.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime
import os
import platform
import pstats
import sys
import time

import numpy as np
from machine import cpu_name  # benchmarks/machine.py (the script's folder is on sys.path)

from mesabase.theory import TabularMDP, solve
from mesabase.theory.history.empirical import model_arrays
from mesabase.theory.history.incremental import IncrementalCE
from mesabase.theory.solvers.batch import MDPBatch, solve_batch

S, A = 50, 4
GAMMAS = (0.95, 0.99)
VI_TOL = 1e-8
TARGET_ONE, TARGET_MANY = 50e-6, 5e-6


def machine() -> str:
    cpu = cpu_name()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (f"{os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}, "
            f"numpy {np.__version__}; load average at start {load:.2f}")


def random_mdp(rng: np.random.Generator):
    """P[s, a, ·] ~ Dirichlet(1), R[s, a] ~ U[0, 1]."""
    return rng.dirichlet(np.ones(S), size=(S, A)), rng.random((S, A))


def trajectories(rng, P, R, n_seeds, steps):
    """(states, actions, rewards, next_states), each (N, T), under the uniform policy."""
    cum = P.cumsum(axis=2)
    out = [np.empty((n_seeds, steps), dtype=np.intp) for _ in range(2)]
    rewards, nexts = np.empty((n_seeds, steps)), np.empty((n_seeds, steps), dtype=np.intp)
    s = rng.integers(S, size=n_seeds)
    for t in range(steps):
        a = rng.integers(A, size=n_seeds)
        s2 = np.minimum((cum[s, a] < rng.random(n_seeds)[:, None]).sum(axis=1), S - 1)
        out[0][:, t], out[1][:, t], nexts[:, t] = s, a, s2
        rewards[:, t] = R[s, a] + 0.1 * rng.standard_normal(n_seeds)
        s = s2
    return out[0], out[1], rewards, nexts


def value_iteration_supnorm(P, R, gamma, tol=VI_TOL):
    """From V = 0 until ‖V_{k+1} − V_k‖∞ < tol (1 − γ)/(2γ); returns (V, Q, sweeps)."""
    P2, V = P.reshape(S * A, S), np.zeros(S)
    eps = tol * (1.0 - gamma) / (2.0 * gamma)
    for k in range(1, 10_000_000):
        Q = R + gamma * (P2 @ V).reshape(S, A)
        V_new = Q.max(axis=1)
        if np.max(np.abs(V_new - V)) < eps:
            return V_new, Q, k
        V = V_new
    raise RuntimeError("value iteration did not stop")


def from_scratch(traj, gamma, method, sample, reference=None):
    """Mean seconds per sampled step of (model from counts + solve) for seed 0's history."""
    s, a, r, s2 = (x[0] for x in traj)
    counts, rsum = np.zeros((S, A, S)), np.zeros((S, A))
    times, sweeps, err = [], [], 0.0
    for t in range(s.size):
        counts[s[t], a[t], s2[t]] += 1.0
        rsum[s[t], a[t]] += r[t]
        if (t + 1) % sample:
            continue
        t0 = time.perf_counter()
        P, R, _ = model_arrays(counts, rsum)
        if method == "vi":
            V, _, k = value_iteration_supnorm(P, R, gamma)
            sweeps.append(k)
        else:
            V = solve(TabularMDP(P, R, gamma=gamma), "pi").V
        times.append(time.perf_counter() - t0)
        if reference is not None:
            err = max(err, float(np.max(np.abs(V - reference[t]))))
    return float(np.mean(times)), (float(np.mean(sweeps)) if sweeps else None), err, len(times)


def incremental(traj, gamma, n_seeds, record=None, cls=IncrementalCE, block=1000, **kw):
    """Run IncrementalCE over every step; returns wall and CPU seconds, per-block wall
    seconds, and the object. ``record`` (a dict) collects seed 0's V at each step;
    ``kw`` goes to ``update`` (``check=False``)."""
    s, a, r, s2 = (np.ascontiguousarray(x[:n_seeds].T) for x in traj)  # (T, N) rows
    ce = cls(n_seeds, S, A, gamma)
    blocks, w0, c0 = [], time.perf_counter(), time.process_time()
    tb = w0
    for t in range(s.shape[0]):
        ce.update(s[t], a[t], r[t], s2[t], **kw)
        if record is not None:
            record[t] = ce.V[0].copy()
        if (t + 1) % block == 0:
            now = time.perf_counter()
            blocks.append(now - tb)
            tb = now
    return time.perf_counter() - w0, time.process_time() - c0, blocks, ce


def check_final(ce, traj, gamma):
    """max |V − V_PI| over all seeds at the last step, and whether the optimal sets agree."""
    s, a, r, s2 = (x[:ce.V.shape[0]] for x in traj)
    N = s.shape[0]
    flat = ((np.arange(N)[:, None] * S + s) * A + a)
    counts = np.bincount((flat * S + s2).ravel(), minlength=N * S * A * S).reshape(N, S, A, S)
    rsum = np.bincount(flat.ravel(), weights=r.ravel(), minlength=N * S * A).reshape(N, S, A)
    P, R, _ = model_arrays(counts.astype(float), rsum)
    sol = solve_batch(MDPBatch(P, R, gamma=gamma), "pi")
    return float(np.max(np.abs(sol.V - ce.V))), bool((sol.optimal == ce.optimal).all())


def profile_tail(traj, gamma, n_seeds, steps):
    """cProfile of the last 500 steps: (function, share of time, calls) for the top entries."""
    s, a, r, s2 = (x[:n_seeds] for x in traj)
    ce = IncrementalCE(n_seeds, S, A, gamma)
    for t in range(steps - 500):
        ce.update(s[:, t], a[:, t], r[:, t], s2[:, t])
    prof = cProfile.Profile()
    prof.enable()
    for t in range(steps - 500, steps):
        ce.update(s[:, t], a[:, t], r[:, t], s2[:, t])
    prof.disable()
    st = pstats.Stats(prof)
    total = sum(v[2] for v in st.stats.values())
    rows = sorted(((v[2], v[1], k) for k, v in st.stats.items()), reverse=True)[:6]
    return [(f"{k[2]} ({os.path.basename(k[0])})", tt / total, nc) for tt, nc, k in rows]


def us(x):
    return f"{x * 1e6:,.1f} µs"


def run(args) -> str:
    rng = np.random.default_rng(args.seed)
    P, R = random_mdp(rng)
    traj = trajectories(rng, P, R, args.seeds, args.steps)
    T, N = args.steps, args.seeds
    out = ["## Shadow π*_t: incremental vs from scratch", "",
           f"Command: `python benchmarks/history.py --steps {T} --seeds {N} --sample "
           f"{args.sample} --repeat {args.repeat} --repeat-many {args.repeat_many} "
           f"--seed {args.seed}` "
           f"({datetime.date.today().isoformat()}).", "",
           f"Machine: {machine()}.", "",
           f"Workload: S = {S}, A = {A}, {T:,} transitions per seed of a uniform random "
           "behaviour policy in a fixed random MDP (Dirichlet(1) rows); the CE model of "
           "the history so far is solved after every transition. From-scratch methods are "
           f"timed on every {args.sample}th step; value iteration from V = 0 with the "
           f"sup-norm stopping rule at tol = {VI_TOL:g}. Details in the script's docstring.",
           "",
           "| γ | method | per step (one seed) | sweeps | max \\|V − V_inc\\| | target |",
           "|---|---|---|---|---|---|"]
    verdicts = []
    for g in GAMMAS:
        rec = {}
        incremental(traj, g, 1, record=rec)  # untimed: seed 0's V at every step
        w, c, blocks, ce = min((incremental(traj, g, 1) for _ in range(args.repeat)),
                               key=lambda x: x[0])
        w_nc = min(incremental(traj, g, 1, check=False)[0] for _ in range(args.repeat))
        vi = from_scratch(traj, g, "vi", args.sample, rec)
        pi = from_scratch(traj, g, "pi", args.sample, rec)
        ok = w / T <= TARGET_ONE
        verdicts.append((f"one seed, γ = {g}", w / T, TARGET_ONE, ok))
        out += [f"| {g} | value iteration from scratch (sup-norm rule) | {us(vi[0])} | "
                f"{vi[1]:.0f} | {vi[2]:.1e} | |",
                f"| {g} | `solve(..., \"pi\")` from scratch | {us(pi[0])} | | {pi[2]:.1e} | |",
                f"| {g} | `IncrementalCE` (CPU {us(c / T)}) | **{us(w / T)}** | | 0 | "
                f"≤ 50 µs: {'met' if ok else 'NOT met'} |",
                f"| {g} | `IncrementalCE`, `update(..., check=False)` | {us(w_nc / T)} | | 0 | |"]
        out.append(f"| {g} | — of which steps 1–1,000 / last 1,000 | {us(blocks[0] / 1000)} / "
                   f"{us(blocks[-1] / 1000)} | | | |")
    out += ["", f"From-scratch columns: mean over {T // args.sample} sampled steps. "
            "max |V − V_inc| compares each method's V with IncrementalCE's on the same "
            "steps.", "",
            f"**{N:,} seeds updated and re-solved together** (one `update` call per step):",
            "", "| γ | per seed-step | CPU per seed-step | steps 1–1,000 / last 1,000 "
            "| final max \\|V − V_PI\\| | optimal sets equal | drift at last refresh "
            "| target |", "|---|---|---|---|---|---|---|---|"]
    for g in GAMMAS:
        w, c, blocks, ce = min((incremental(traj, g, N) for _ in range(args.repeat_many)),
                               key=lambda x: x[0])
        err, same = check_final(ce, traj, g)
        ok = w / (T * N) <= TARGET_MANY
        verdicts.append((f"{N} seeds, γ = {g}", w / (T * N), TARGET_MANY, ok))
        out.append(f"| {g} | **{us(w / (T * N))}** | {us(c / (T * N))} | "
                   f"{us(blocks[0] / (1000 * N))} / {us(blocks[-1] / (1000 * N))} | "
                   f"{err:.1e} | {same} | {ce.drift:.1e} | ≤ 5 µs: "
                   f"{'met' if ok else 'NOT met'} |")
    if args.profile:
        out += ["", f"Where the time goes ({N:,} seeds, γ = {GAMMAS[0]}, cProfile of the "
                "last 500 steps, own time):", "", "| function | share | calls |", "|---|---|---|"]
        for name, share, calls in profile_tail(traj, GAMMAS[0], N, T):
            out.append(f"| `{name}` | {share:.0%} | {calls:,} |")
    out += ["", "Verdict: " + "; ".join(
        f"{k}: {us(v)} vs {us(tgt)} ({'met' if ok else 'NOT met'})" for k, v, tgt, ok in verdicts)
        + ".", f"Load average at the end: {os.getloadavg()[0]:.2f}.", ""]
    return "\n".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--seeds", type=int, default=1000)
    p.add_argument("--sample", type=int, default=50, help="time from-scratch solves every k steps")
    p.add_argument("--repeat", type=int, default=3, help="best of k runs (one seed)")
    p.add_argument("--repeat-many", type=int, default=2, help="best of k runs (many seeds)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--profile", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--quick", action="store_true", help="2,000 steps, 100 seeds, 1 repeat")
    p.add_argument("--out", help="also write the Markdown section to this file")
    args = p.parse_args(argv)
    if args.quick:
        args.steps, args.seeds, args.repeat, args.repeat_many = 2000, 100, 1, 1
    if args.steps < 1000:
        p.error("--steps must be at least 1000 (costs are reported per 1,000-step block)")
    report = run(args)
    print(report)
    if args.out:
        with open(args.out, "w") as f:
            f.write(report)


if __name__ == "__main__":
    sys.exit(main())
