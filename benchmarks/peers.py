"""Peers: mesabase against QuantEcon and pymdptoolbox, side by side, in one run (issue 15).

Run on demand (this is not a test)::

    python benchmarks/peers.py [--quick | --smoke | --profile] [--write] [--seed N]

It prints a Markdown section to stdout; ``--write`` also puts it between the markers
``<!-- peers:begin -->`` / ``<!-- peers:end -->`` of BENCHMARKS.md (appended at the end
the first time; the hand-written profile notes after the markers are left alone).
Needs the ``bench`` extra (pymdptoolbox, quantecon, numba). This file holds the problems
and the run; each contender's timed call is in ``peers_contenders.py``, the tables in
``peers_report.py``, ``--profile`` in ``peers_profile.py``.

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
*and* solving: ``solve(TabularMDP(P, R, gamma=γ, copy=False), method, tol=1e-8)`` (the
model keeps a read-only view of P, as QuantEcon's and pymdptoolbox's keep a reference;
"auto, copying P" times the default construction, which copies P, beside it),
``DiscreteDP(R, P, γ).solve(method, ...)``, ``mdptoolbox.mdp.X(Pt, R, γ).run()`` — Pt the
(A, S, S) layout pymdptoolbox needs, copied outside the timed region. One warm-up call
(whose result gives the accuracy), then the median of up to `repeat` calls within a
budget; a call slower than the budget runs once. A run predicted past `max_run` seconds is
extrapolated from a shorter run ('≈'). The load average is recorded beside every case.
Then mesabase auto and QuantEcon's fastest accurate method are timed once more head to head
(``duel``: alternating blocks, the order swapped every round, medians), so that their ratio
does not depend on a change of machine state between two separate runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import mdptoolbox.mdp as mdpt  # noqa: E402 (harness exits first with a message if missing)
import numpy as np
from harness import (  # noqa: I001 (a sibling script module)
    WAIT,
    err,
    log,
    machine,
    quiet,
    random_sparse,
    river_chain,
    toolbox_P,
    wait_idle,
)
from peers_contenders import (  # noqa: E402 (sibling script modules, after harness's check)
    BIG,
    NOT_RUN,
    OURS,
    QE,
    QE_METHODS,
    QE_PI_MAX_ITER,
    TB,
    TOL,
    Config,
    Res,
    dirichlet_dense,
    duel,
    measure,
    qe_fastest_call,
    run_ours,
    run_qe,
    run_tb_mpi,
    run_tb_pi,
    run_tb_vi,
    warm_up,
)
from peers_profile import profile  # noqa: E402
from peers_report import best, report, write_section  # noqa: E402
from quantecon.markov import DiscreteDP  # peers_contenders says so if it is missing

from mesabase.theory import TabularMDP, policy_iteration, solve
from mesabase.theory.solvers.batch import MDPBatch, solve_batch

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- cases -----------------------------------------------------------------------------
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
    out["build"] = measure(lambda: TabularMDP(Pm, R, gamma=g, copy=False), cfg.repeat,
                           cfg.budget)[0]
    out["build_copy"] = measure(lambda: TabularMDP(Pm, R, gamma=g), cfg.repeat, cfg.budget)[0]
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
    kq, q = best(out, [k for k, _ in QE])
    go_qe = qe_fastest_call(P, R, g, kq, q) if q else None
    if go_qe is not None and out["auto"].ok:
        log(f"  {label} head-to-head: mesabase auto against {kq}")
        idle("duel")
        out["duel"] = (kq, *duel(
            lambda: solve(TabularMDP(Pm, R, gamma=g, copy=False), method="auto", tol=TOL),
            go_qe, budget=20 * cfg.budget))
    out["elapsed"] = time.perf_counter() - t0
    out["load_end"] = os.getloadavg()
    return out


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
    duels = {}
    for key in ("qe_pi", "tb_pi"):  # the batch head to head with each peer's PI loop
        log(f"  batch head-to-head: ours against {key}")
        if WAIT[0] > 0:
            wait_idle(f"batch duel {key}")
        peer = qe_loop("policy_iteration") if key == "qe_pi" else tb_loop(mdpt.PolicyIteration)
        duels[key] = duel(ours_batch, peer, rounds=5, budget=20 * cfg.budget)
    return {"rows": rows, "load": load, "load_end": os.getloadavg(), "N": N, "cert":
            ref.error_bound, "duels": duels}


def chain_case(S, cfg):
    P, R = river_chain(S)
    return one_case(f"chain S={S}", P, R, 0.99, cfg)


def sparse_case(g, cfg):
    S, A, k = 10_000, 4, 5
    Pm, R = random_sparse(np.random.default_rng([cfg.seed, S, k]), S, A, k)
    s_idx, a_idx = np.repeat(np.arange(S), A), np.tile(np.arange(A), S)
    return one_case(f"sparse γ={g}", (Pm, s_idx, a_idx), R, g, cfg, lp=False, toolbox=False)



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
