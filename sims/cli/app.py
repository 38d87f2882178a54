"""The ``mesabase`` command.

    mesabase demo [--out DIR] [--quick]       every demo entry, attributed (the main job)
    mesabase run SCENARIO [--seeds N] [--steps T] [--learner NAME] [--record-every K]
                          [--environment train|deploy] [--out DIR]
    mesabase run meta-bandits [--quick] [--horizons H,H,…] [--arms K] [--family beta|dependent]
                          [--tasks N] [--seeds N] [--meta-steps N] [--out DIR]
    mesabase sweep SPEC.toml [--executor serial|local|dask] [--scheduler ADDRESS] [--out STORE]
    mesabase results STORE [--csv FILE]       a sweep's results store: summary or CSV
    mesabase solvers [--quick]                the exact solvers on published problems
    mesabase claims [--max-examples N]        the argument's claims, checked by hypothesis
    mesabase cruxes [--format md|csv]         the crux model: stated numbers, outcome ranges
    mesabase --version | --help

``demo`` and ``run`` write a results folder (default ``./mesabase-results``): Parquet tables,
figures (PNG and SVG), ``summary.csv`` and ``report.md`` (:mod:`mesabase.sims.reports.report`).
A demo entry is a (scenario, learner) pair (:func:`demo_entries`): the shipped scenarios with
their default learners, ``exploration-trap`` also with ``reinforce`` (the same environment on
both sides of the outer/inner dichotomy), ``softmax-trap`` when it is registered, and the
controls. A run with a learner other than the scenario's default is saved in the folder
``<scenario>--<learner>``, so ``mesabase run exploration-trap --learner reinforce`` sits
beside the default run and the report puts them side by side.

An output folder that does not exist (``--out``, and the folder of ``results --csv FILE``)
is created with its missing parents, and the command says so: ``mesabase: created folder
PATH``. A user error never ends in a traceback: a file that cannot be read or written (a
folder that cannot be created, a read-only or full file system, a missing input, an input
that is not UTF-8 text) or an invalid input prints one line on stderr naming the path and
the problem (``mesabase: cannot write out/report.md: Read-only file system``) and exits
non-zero. Exit codes: 0 done; 1 the command could not finish (an output cannot be written,
a corrupt store cell, a failed check); 2 a usage error or a missing or invalid input; 130
interrupted (:mod:`mesabase.sims.files`). Any other exception is a bug in mesabase and
keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from fractions import Fraction

import numpy as np

from ..experiments.sizes import package_version, scenario_sizes

__all__ = ["main", "demo", "run_scenarios", "solvers", "exactness_check", "COMMAND_GROUP",
           "demo_scenarios", "demo_entries", "RESULTS_DIR", "DEMO_EXTRA"]

#: The default results folder of ``demo`` and ``run``.
RESULTS_DIR = "mesabase-results"
#: ``quick`` figures: this dpi (the sizes: :mod:`mesabase.sims.experiments.sizes`).
QUICK_DPI = 80


#: The entry-point group through which higher packages add commands to ``mesabase``
#: (``mesabase.proofs.commands`` adds ``prove`` and ``claims``), so that the CLI, in
#: mesabase.sims, never imports mesabase.proofs, which stands above it.
COMMAND_GROUP = "mesabase.commands"


def _plugins() -> list:
    """The command modules registered under :data:`COMMAND_GROUP`, in name order. Each has
    ``COMMANDS`` (the command names), ``add_parsers(subparsers)`` and ``dispatch(parser,
    args) -> int``."""
    from importlib.metadata import entry_points

    return [ep.load() for ep in sorted(entry_points(group=COMMAND_GROUP), key=lambda e: e.name)]


def _timed(fn, *args, **kwargs):
    t = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t


#: What ``demo`` runs besides the shipped scenarios with their default learners, in the
#: report's order (the registry's, a scenario's default learner first): (scenario, learner
#: or None for its default). Entries of unregistered scenarios are skipped with a line.
DEMO_EXTRA = (("exploration-trap", "reinforce"), ("proxy-bandit-control", None),
              ("keys-and-chests-shift", None), ("softmax-trap", None))


def demo_entries(registered_only: bool = True) -> tuple[tuple[str, str | None], ...]:
    """The (scenario, learner) pairs ``demo`` runs (learner None: the scenario's default):
    the shipped scenarios, then :data:`DEMO_EXTRA` — only the registered ones unless
    ``registered_only`` is False."""
    from ..scenarios import SCENARIOS, SHIPPED

    entries = [(n, None) for n in SHIPPED]
    entries += [e for e in DEMO_EXTRA if e not in entries]
    return tuple(e for e in entries if e[0] in SCENARIOS or not registered_only)


def demo_scenarios() -> tuple[str, ...]:
    """The scenarios ``demo`` runs (each once, in the order of :func:`demo_entries`)."""
    return tuple(dict.fromkeys(n for n, _ in demo_entries()))


# ---- the scenarios ------------------------------------------------------------------------
def exactness_check() -> tuple[bool, str]:
    """Solve Sutton & Barto's Example 3.8 in exact rationals and compare V*(A) with the
    closed form 10 / (1 − γ⁵), γ = 9/10 (A's +10 jump returns every 5 steps): (ok, line)."""
    from mesabase.theory import solve
    from mesabase.theory.examples import sutton_barto_gridworld

    sol, t = _timed(solve, sutton_barto_gridworld(gamma=Fraction(9, 10)), "exact")
    closed = Fraction(10) / (1 - Fraction(9, 10) ** 5)
    ok = sol.V[1] == closed
    return ok, (f"exactness check: Sutton & Barto Example 3.8, exact V*(A) = {sol.V[1]} "
                f"{'==' if ok else '!='} 10/(1 - 0.9^5) = {closed}: "
                f"{'OK' if ok else 'FAILED'} ({t * 1e3:.0f} ms)")


def _one(name: str, sz: dict, out, dpi):
    """Simulate, attribute, save the tables, draw the figures: (attribution, s, s)."""
    from ..attribution import run
    from ..attribution.analysis import attribute
    from ..reports.report import draw_scenario, folder_name, write_scenario
    from ..scenarios import get_scenario

    sc = get_scenario(name)
    t = time.perf_counter()
    r, a = run(sc, learner=sz["learner"], steps=sz["steps"], seeds=sz["seeds"],
               record_every=sz["record_every"], environment=sz["environment"])
    atts = [a]
    if sz["environment"] is None and sc.deploy is not None and sc.shift_step is None:
        atts.append(attribute(r, sc, "train"))  # the training side too, for the figures
    sim = time.perf_counter() - t
    write_scenario(out, sc, r, atts, sizes=sz, seconds=sim)
    _, fig = _timed(draw_scenario, out, folder_name(sc, a.learner), dpi)
    return a, sim, fig


def progress_line(a, sim: float | None = None, fig: float | None = None) -> str:
    """The line ``demo`` and ``run`` print per entry: scenario, learner, verdict, and the
    intended regret split into its four terms (seed means at the final recorded step)."""
    f = a.final
    line = (f"  {a.scenario:<22} {a.learner:<18} {a.scenario_verdict:<6} regret "
            f"{f.total.mean():.3g} = misspecification {f.misspecification_gap.mean():.3g} + "
            f"data {f.data_gap.mean():.3g} + ambiguity {f.ambiguity_gap.mean():.3g} + learner "
            f"{f.learner_gap.mean():.3g}")
    if sim is not None and fig is not None:
        line += f"   (run {sim:.1f} s, figures {fig:.1f} s)"
    return line


def run_scenarios(names, out=RESULTS_DIR, *, sizes: dict, stream=None, command="demo",
                  dpi: int | None = None, study: dict | None = None,
                  cruxes: bool = False) -> int:
    """Run the entries ``names`` — scenario names, or (scenario, learner) pairs — with
    ``sizes`` mapping each entry to its :func:`scenario_sizes` (whose ``learner`` is the one
    run), with a progress bar; write their tables and figures under ``out``, then
    (``study``: the sizes of :func:`mesabase.sims.meta.study.study_sizes`) the meta-bandits
    study, then (``cruxes``) the crux model's ``cruxes.csv``, then rebuild ``summary.csv``,
    ``report.md`` and the root figures from every results folder there. An entry whose
    scenario is not registered is skipped with a line. Returns an exit code. ``out`` is
    created (with its parents) if missing, and the stream says so; a folder that cannot be
    created or written raises :class:`~mesabase.sims.files.PathError` before any work is
    done."""
    from pathlib import Path

    from tqdm import tqdm

    from ..files import make_folder
    from ..reports.report import update_results

    stream = stream or sys.stdout
    out, t0 = Path(out), time.perf_counter()
    created = make_folder(out)  # before any work: a folder that cannot be made fails fast
    ok, check = exactness_check()
    stream.write(check + "\n")
    if created:
        stream.write(f"mesabase: created folder {out}\n")
    if not ok:
        return 1
    from ..scenarios import SCENARIOS

    bar = tqdm(names, desc="scenarios", unit="scenario", disable=None)
    for entry in bar:
        name = entry if isinstance(entry, str) else entry[0]
        if name not in SCENARIOS or entry not in sizes:
            tqdm.write(f"  {name:<22} skipped: not a registered scenario in mesabase "
                       f"{package_version()}", file=stream)
            continue
        bar.set_postfix_str(name)
        a, sim, fig = _one(name, sizes[entry], out, dpi)
        tqdm.write(progress_line(a, sim, fig), file=stream)
    if study is not None:
        from ..meta.study import run_study

        run_study(out, study, stream=stream, dpi=dpi)
    if cruxes:  # the crux model's tornado table; its figure and section come with the report
        from ..reports.crux_figures import write_cruxes

        write_cruxes(out)
    header = (f"Written by `mesabase {command}` (mesabase {package_version()}). "
              f"{check[0].upper()}{check[1:]}.")
    summary, t = _timed(update_results, out, header, dpi)
    stream.write(f"summary, root figures and report: {t:.1f} s\n"
                 f"wrote {out / 'summary.csv'} ({len(summary)} row"
                 f"{'' if len(summary) == 1 else 's'}: scenario × learner × environment) and "
                 f"{out / 'report.md'} in {time.perf_counter() - t0:.1f} s\n")
    return 0


def demo(out=RESULTS_DIR, quick: bool = False, stream=None) -> int:
    """Run every demo entry (:func:`demo_entries`: the shipped scenarios, exploration-trap
    with both learners, softmax-trap when registered, the controls) at default sizes, or
    ``quick`` ones, the meta-bandits study at its small sizes, and the crux model's tornado
    (:mod:`mesabase.sims.reports.crux_figures`), into ``out`` (:func:`run_scenarios`).
    Returns an exit code."""
    from ..meta.study import study_sizes
    from ..scenarios import SCENARIOS, get_scenario

    entries = demo_entries(registered_only=False)
    sizes = {(n, lr): scenario_sizes(get_scenario(n), quick=quick, learner=lr)
             for n, lr in entries if n in SCENARIOS}
    return run_scenarios(entries, out, sizes=sizes, stream=stream, command="demo",
                         dpi=QUICK_DPI if quick else None, study=study_sizes(quick=True),
                         cruxes=True)


# ---- the solver showcase ------------------------------------------------------------------
def solvers(out=None, quick: bool = False) -> int:
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
    w(f"mesabase {package_version()}: exact tabular MDP solvers\n\n")
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


class _Parser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line on stderr (the usage itself is one
    ``-h`` away), exit status 2; its subcommand parsers are of the same class."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} -h')\n")


def _parser() -> argparse.ArgumentParser:
    from ..scenarios import SCENARIOS

    p = _Parser(
        prog="mesabase",
        description="Exact tabular MDPs, online REINFORCE and the full optimum over history: "
                    "attribute divergences from the intended objective to outer or inner "
                    "alignment.")
    p.add_argument("--version", action="version", version=f"mesabase {package_version()}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    d = sub.add_parser("demo", help="run every shipped scenario and write tables, figures, "
                                    "summary.csv and report.md (the main job)")
    d.add_argument("--out", default=RESULTS_DIR, metavar="DIR",
                   help=f"results folder (default ./{RESULTS_DIR})")
    d.add_argument("--quick", action="store_true", help="small sizes (3 seeds, 1/4 of the "
                   "steps, low-resolution PNGs): a smoke test")
    from ..meta.study import STUDY

    r = sub.add_parser("run", help="run one scenario, or the meta-bandits study, into the "
                                   "results folder")
    r.add_argument("scenario", choices=[*SCENARIOS, STUDY], metavar="SCENARIO",
                   help=f"one of: {', '.join([*SCENARIOS, STUDY])}")
    r.add_argument("--seeds", type=int, metavar="N", help="number of seeds")
    r.add_argument("--steps", type=int, metavar="T", help="steps per seed")
    r.add_argument("--record-every", type=int, metavar="K",
                   help="record every K steps (default: as many records as the defaults)")
    r.add_argument("--learner", metavar="NAME", help="one of the scenario's learners")
    r.add_argument("--environment", choices=("train", "deploy"),
                   help="where to attribute (default: deployment when there is one)")
    r.add_argument("--out", default=RESULTS_DIR, metavar="DIR",
                   help=f"results folder (default ./{RESULTS_DIR})")
    m = r.add_argument_group(f"{STUDY} only")
    m.add_argument("--quick", action="store_true", help="small sizes (horizons 2,4,8; 200 "
                   "tasks x 2 seeds)")
    m.add_argument("--horizons", type=_int_list, metavar="H,H,...",
                   help="horizons (default 2,5,10,20,40)")
    m.add_argument("--arms", type=int, metavar="K", help="arms (default 2)")
    m.add_argument("--family", choices=("beta", "dependent"),
                   help="independent Beta(1,1) arms (default) or p2 = 1 - p1")
    m.add_argument("--tasks", type=int, metavar="N", help="tasks per horizon (default 500)")
    m.add_argument("--meta-steps", type=int, metavar="N",
                   help="meta-training steps of MAML, Meta-SGD and the belief policy "
                        "(default 100)")
    s = sub.add_parser("solvers", help="solve published problems with every method and show "
                                       "that they agree")
    s.add_argument("--quick", action="store_true", help="a shorter run")
    c = sub.add_parser("cruxes", help="the crux model of an Alignment Forum thread: the stated "
                                      "numbers, each participant's outcome and its range")
    c.add_argument("--format", choices=("md", "csv"), default="md",
                   help="markdown (default) or CSV")
    for plugin in _plugins():  # prove, claims (mesabase.proofs), registered by entry point
        plugin.add_parsers(sub)
    from .sweep import add_parsers

    add_parsers(sub)  # sweep, results
    return p


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(x) for x in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas; got "
                                         f"{text!r}") from None


_STUDY_OPTIONS = ("quick", "horizons", "arms", "family", "tasks", "meta_steps")
_SCENARIO_OPTIONS = ("steps", "record_every", "learner", "environment")


def _only_study(parser, args):
    for k in _STUDY_OPTIONS:
        if getattr(args, k) not in (None, False):
            parser.error(f"--{k.replace('_', '-')} applies to meta-bandits only")


def _run_study(parser, args) -> int:
    from ..meta.study import study_sizes

    for k in _SCENARIO_OPTIONS:
        if getattr(args, k) is not None:
            parser.error(f"--{k.replace('_', '-')} does not apply to meta-bandits")
    try:
        sizes = study_sizes(args.quick, horizons=args.horizons, n_arms=args.arms,
                            family=args.family, n_tasks=args.tasks, n_seeds=args.seeds,
                            meta_steps=args.meta_steps)
    except ValueError as e:
        parser.error(str(e))
    if sizes["family"] == "dependent" and sizes["n_arms"] != 2:
        parser.error("--family dependent has two arms (p2 = 1 - p1); drop --arms")
    return run_scenarios([], args.out, sizes={}, command="run meta-bandits", study=sizes,
                         dpi=QUICK_DPI if args.quick else None)


def main(argv=None) -> int:
    """Run the ``mesabase`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit
    code (module docstring). A usage error exits through argparse (SystemExit 2). A user
    error — :func:`mesabase.sims.files.user_errors`: OSError, UnicodeDecodeError and the
    library's invalid-input errors — is printed as one line ``mesabase: ...`` on stderr and
    its code returned; Ctrl-C prints ``mesabase: interrupted`` and returns 130; a closed
    stdout (``mesabase ... | head``) returns 1 quietly. Other exceptions propagate."""
    from ..files import FAILED, INTERRUPTED
    from .errors import describe, user_errors

    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return _dispatch(parser, args)
    except KeyboardInterrupt:
        sys.stderr.write("\nmesabase: interrupted\n")
        return INTERRUPTED
    except BrokenPipeError:  # the reader of stdout went away: nothing more to say to it
        _silence_stdout()
        return FAILED
    except user_errors() as e:
        line, code = describe(e)
        sys.stderr.write(f"mesabase: {line}\n")
        return code


def _silence_stdout() -> None:
    """Point the stdout file descriptor at /dev/null, so that the interpreter's final flush
    does not fail again on the closed pipe (the Python documentation's recipe for SIGPIPE)."""
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (AttributeError, OSError, ValueError):  # no real stdout (tests, embedding)
        pass


def _dispatch(parser, args) -> int:
    if args.command == "demo":
        return demo(args.out, quick=args.quick)
    if args.command == "run" and args.scenario == "meta-bandits":
        return _run_study(parser, args)
    if args.command == "run":
        from ..scenarios import get_scenario

        _only_study(parser, args)

        sc = get_scenario(args.scenario)
        try:
            sz = scenario_sizes(sc, seeds=args.seeds, steps=args.steps,
                                record_every=args.record_every, learner=args.learner,
                                environment=args.environment)
        except ValueError as e:
            parser.error(str(e))
        return run_scenarios([sc.name], args.out, sizes={sc.name: sz}, command="run")
    if args.command == "cruxes":
        from ..reports.crux_figures import crux_report

        sys.stdout.write(crux_report(args.format))
        return 0
    if args.command == "solvers":
        return solvers(quick=args.quick)
    for plugin in _plugins():
        if args.command in plugin.COMMANDS:
            return plugin.dispatch(parser, args)
    if args.command in ("sweep", "results"):
        from .sweep import results_main, sweep_main

        return (sweep_main if args.command == "sweep" else results_main)(args)
    parser.print_help()
    return 0

