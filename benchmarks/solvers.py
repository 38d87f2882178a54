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
import datetime
import math
import os
import sys
import time
from typing import NamedTuple

import numpy as np

from mesabase.theory import TabularMDP

try:
    import mdptoolbox.mdp  # noqa: F401 (checked here, used in harness)
except ImportError:  # pragma: no cover
    sys.exit("pymdptoolbox is needed: pip install -e '.[bench]'")


from harness import (  # noqa: I001 (a sibling script module)
    BUSY,
    bandwidth,
    batch_section,
    blas_threads,
    chain_section,
    dense_section,
    fe,
    fr,
    ft,
    log,
    machine,
    random_dense,
    sparse_section,
    sweep_rows,
    table,
    TOL,
    WAIT,
)
from solver_traps import cycle_trap, lp_trap

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
             "column). mesabase stops when span/(2(1 − γ)) ≤ tol and returns the midpoint, "
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
