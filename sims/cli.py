"""The ``mesabase`` command.

    mesabase demo [--quick]     the main job: a solver showcase on published problems
    mesabase --version
    mesabase --help
"""

from __future__ import annotations

import argparse
import sys
import time
from fractions import Fraction
from importlib.metadata import PackageNotFoundError, version

import numpy as np

__all__ = ["main", "demo"]


def _version() -> str:
    try:
        return version("mesabase")
    except PackageNotFoundError:  # running from a source tree that is not installed
        return "0+unknown"


def _timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


def demo(out=None, quick: bool = False) -> int:
    """Solve published problems with every method and show that they agree.

    Prints, for Sutton & Barto's 5×5 gridworld (Example 3.8, γ = 0.9), each method's
    V*(A) against the exact rational value 10/(1 − 0.9⁵), its Bellman residual and
    duality gap, and its time; then Example 4.1 (γ = 1, episodic) and the secretary
    problem (finite horizon, exact fractions). Returns a process exit code.
    """
    from mesabase.theory import evaluate, solve
    from mesabase.theory.examples import (
        secretary,
        sutton_barto_gridworld,
        sutton_barto_small_gridworld,
    )

    out = out or sys.stdout
    w = out.write
    w(f"mesabase {_version()}: exact tabular MDP solvers\n\n")
    w("1. Sutton & Barto (2018) Example 3.8: 5x5 gridworld, gamma = 0.9\n")
    exact_mdp = sutton_barto_gridworld(gamma=Fraction(9, 10))
    mdp = sutton_barto_gridworld(gamma=0.9)
    exact, t_exact = _timed(solve, exact_mdp, "exact")
    closed = Fraction(10) / (1 - Fraction(9, 10) ** 5)
    if exact.V[1] != closed:
        w(f"   FAILED: exact V*(A) = {exact.V[1]} but the closed form is {closed}\n")
        return 1
    w(f"   closed form V*(A) = 10 / (1 - 0.9^5) = {closed} = {float(closed):.12f}\n")
    V_exact = np.array(exact.V, dtype=np.float64)
    w(f"   {'method':<10}{'V*(A)':>18}{'max|V - V_exact|':>19}{'residual':>11}"
      f"{'gap':>10}{'ms':>9}\n")
    w(f"   {'exact':<10}{str(exact.V[1]):>18}{0.0:>19.1e}{exact.residual:>11.1e}"
      f"{'-':>10}{t_exact * 1e3:>9.2f}\n")
    worst = 0.0
    for method in ("auto", "vi", "pi", "lp", "cvxpy"):
        sol, t = _timed(solve, mdp, method)
        err = float(np.max(np.abs(sol.V - V_exact)))
        worst = max(worst, err)
        gap = "-" if sol.gap is None else f"{sol.gap:.1e}"
        w(f"   {sol.method:<10}{sol.V[1]:>18.12f}{err:>19.1e}{sol.residual:>11.1e}"
          f"{gap:>10}{t * 1e3:>9.2f}\n")
    w("   V* (rounded as in the book):\n")
    for row in V_exact.reshape(5, 5):
        w("     " + " ".join(f"{v:5.1f}" for v in row) + "\n")

    w("\n2. Sutton & Barto Example 4.1: 4x4 gridworld, gamma = 1 (episodic), -1 per step\n")
    small = sutton_barto_small_gridworld()
    v_rand = evaluate(small, np.full((small.n_states, small.n_actions), 1 / small.n_actions))
    v_star = solve(small).V
    w("   equiprobable random policy        optimal\n")
    for r1, r2 in zip(v_rand.reshape(4, 4), v_star.reshape(4, 4), strict=True):
        w("     " + " ".join(f"{v:5.0f}" for v in r1) + "      "
          + " ".join(f"{v:3.0f}" for v in r2) + "\n")

    w("\n3. The secretary problem (finite horizon, exact backward induction)\n")
    for n in (range(1, 6) if quick else range(1, 11)):
        problem = secretary(n)
        p = _start_value(solve(problem, "exact"), problem)
        w(f"   n = {n:2d}: P(best chosen) = {str(p):>12} = {float(p):.6f}\n")
    ok = worst <= 1e-8
    w(f"\nAll methods agree with the exact solution to {worst:.1e} (tolerance 1e-8): "
      f"{'OK' if ok else 'FAILED'}\n")
    return 0 if ok else 1


def _start_value(sol, mdp):
    """μ0ᵀ V_0 in exact arithmetic."""
    _, _, _, mu0 = mdp.exact_arrays()
    V0 = sol.V[0] if mdp.horizon is not None else sol.V
    return sum((m * v for m, v in zip(mu0, V0, strict=True)), Fraction(0))


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mesabase",
        description="Exact tabular MDPs, online REINFORCE and the full optimum over history.",
    )
    p.add_argument("--version", action="version", version=f"mesabase {_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="solve published problems with every method (the main job)")
    d.add_argument("--quick", action="store_true", help="a shorter run")
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        return demo(quick=args.quick)
    _parser().print_help()
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
