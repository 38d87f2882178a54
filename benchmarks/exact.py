"""Exact solving: python-flint against the pure-Fraction solver it replaced (issue 14, item 6).

Run on demand (this is not a test)::

    python benchmarks/exact.py [--repeat 3] [--old-repeat 1] [--no-old] [--out FILE]

Problems:

* Taxi (Dietterich 2000; Gymnasium's Taxi-v3 dict, built here, no gymnasium needed) through
  ``from_gym``: 500 states plus the episode-over state, 6 actions, floats read exactly
  (P and R are dyadic; γ = 0.9 → 9/10, 0.99 → 99/100), at γ = 0.9 and γ = 0.99.
* Dense random S = 200, A = 4, exact input: P[s, a, :] = w / Σw with integer weights
  w ∈ {0..4}^S (w[0] ≥ 1), R[s, a] ∈ {−3..3}, from ``np.random.default_rng(0)``, at
  γ = 9/10 and 99/100.

Timed (``time.perf_counter``, median of ``--repeat`` runs):

* **new**: ``solve_exact(mdp)`` end to end (conversion of float input, every FLINT solve,
  backup and the exact certificate), with its policy-iteration count k;
* **one solve** of the first policy-evaluation system (I − γ P_π₀) V = r_π₀ by: FLINT
  ``fmpq_mat.solve`` (what solve_exact uses), sympy's ``DomainMatrix.lu_solve`` over QQ
  (dense; it delegates to FLINT when python-flint is installed, as here), and the
  pure-Python fraction-free Bareiss elimination of mesabase before FLINT
  (:func:`~mesabase.theory.solvers.rational.bareiss_solve`, ``--old-repeat`` runs);
* **old, estimated**: k × (one Bareiss solve). Policy evaluation was the old solver's
  cost (113 of 140 s profiled on Taxi at γ = 0.9), so this is a lower bound on the old
  end-to-end time, which is not re-run (one run took 71–94 s at γ = 0.9 and did not
  finish in 120 s at γ = 0.99).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import statistics
import sys
import time
from fractions import Fraction

import flint
import numpy as np
import sympy
from machine import cpu_name  # benchmarks/machine.py (the script's folder is on sys.path)
from sympy.external.gmpy import GROUND_TYPES
from sympy.polys.matrices import DomainMatrix

from mesabase.theory import TabularMDP, from_gym
from mesabase.theory.examples import taxi_transitions
from mesabase.theory.solvers.exact import solve_exact
from mesabase.theory.solvers.rational import Transitions, bareiss_solve, fraction_of, solve_fmpq

TARGET = 5.0  # seconds, each problem (issue 14)
def dense(gamma: Fraction, S=200, A=4, seed=0) -> TabularMDP:
    rng = np.random.default_rng(seed)
    W = rng.integers(0, 5, size=(S, A, S))
    W[..., 0] += 1
    P = np.array([[[Fraction(int(x), int(w.sum())) for x in w] for w in row] for row in W],
                 dtype=object)
    R = np.array([[Fraction(int(x)) for x in row] for row in rng.integers(-3, 4, size=(S, A))],
                 dtype=object)
    return TabularMDP(P, R, gamma=gamma)


def first_system(mdp: TabularMDP):
    """(M, b) = (I − γ P_π₀, r_π₀) as an fmpq_mat pair, π₀ = first argmax of R (γ < 1)."""
    P, R, gamma, _ = mdp.exact_arrays()
    model = Transitions(P, R, gamma)
    pi = [max(range(R.shape[1]), key=lambda a, s=s: (R[s, a], -a)) for s in range(R.shape[0])]
    return model.system([[(a, Fraction(1))] for a in pi], list(range(R.shape[0])))


def median_time(f, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def fmt(t: float) -> str:
    return f"{t * 1e3:.0f} ms" if t < 1 else f"{t:.2f} s"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--old-repeat", type=int, default=1)
    ap.add_argument("--no-old", action="store_true", help="skip the pure-Python solves")
    ap.add_argument("--out", help="also write the markdown section here")
    args = ap.parse_args(argv)
    load0 = os.getloadavg()[0]
    t_start = time.perf_counter()
    problems = [(f"Taxi, γ = {g}", from_gym(taxi_transitions(), gamma=g)) for g in (0.9, 0.99)]
    problems += [(f"dense S = 200, A = 4, γ = {g}", dense(g))
                 for g in (Fraction(9, 10), Fraction(99, 100))]
    rows, verdicts = [], []
    for name, mdp in problems:
        print(f"[{time.perf_counter() - t_start:6.1f} s] {name}", file=sys.stderr, flush=True)
        t_new, sol = median_time(lambda mdp=mdp: solve_exact(mdp), args.repeat)
        k = sol.iterations
        M, b = first_system(mdp)
        t_flint, x = median_time(lambda M=M, b=b: solve_fmpq(M, b), args.repeat)
        n = M.nrows()
        QQ = sympy.QQ
        dM = DomainMatrix([[QQ(int(M[i, j].p), int(M[i, j].q)) for j in range(n)]
                           for i in range(n)], (n, n), QQ)
        db = DomainMatrix([[QQ(int(b[i, 0].p), int(b[i, 0].q))] for i in range(n)], (n, 1), QQ)
        t_sympy, _ = median_time(lambda dM=dM, db=db: dM.lu_solve(db), args.repeat)
        if args.no_old:
            t_old, old = "not run", "–"
        else:
            Ml = [[fraction_of(M[i, j]) for j in range(n)] for i in range(n)]
            bl = [fraction_of(b[i, 0]) for i in range(n)]
            t_b, xb = median_time(lambda Ml=Ml, bl=bl: bareiss_solve(Ml, bl), args.old_repeat)
            assert xb == [fraction_of(v) for v in x.entries()], "Bareiss and FLINT differ"
            t_old, old = fmt(t_b), f"≥ {fmt(k * t_b)} ({t_b * k / t_new:.0f}×)"
        rows.append(f"| {name} | **{fmt(t_new)}** | {k} | {sol.exact_input} | {fmt(t_flint)} "
                    f"| {fmt(t_sympy)} | {t_old} | {old} |")
        verdicts.append(f"{name}: {fmt(t_new)} ({'met' if t_new < TARGET else 'MISSED'})")
    today = datetime.date.today().isoformat()
    text = "\n".join([
        "## Exact solving (python-flint)",
        "",
        f"Command: `python benchmarks/exact.py --repeat {args.repeat} --old-repeat "
        f"{args.old_repeat}{' --no-old' if args.no_old else ''}` ({today}).",
        "",
        f"Machine: {os.cpu_count()} CPUs ({cpu_name()}), Python {platform.python_version()}, "
        f"python-flint {flint.__version__}, sympy {sympy.__version__} (ground types "
        f"{GROUND_TYPES}), numpy {np.__version__}; load average at "
        f"start {load0:.2f}, at end {os.getloadavg()[0]:.2f}.",
        "",
        "Medians of the runs. 'solve_exact' is end to end; the three 'one solve' columns time "
        "the first policy-evaluation system (I − γP_π₀)V = r_π₀ alone; 'old' is k × the "
        "Bareiss solve, a lower bound on the pure-Fraction solver (script docstring).",
        "",
        "| problem | solve_exact | PI steps k | exact_input | one solve: FLINT | "
        "one solve: sympy DomainMatrix | one solve: old Bareiss | old, estimated |",
        "|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        f"Target ≤ {TARGET:.0f} s each: " + "; ".join(verdicts) + ".",
        "",
    ])
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
