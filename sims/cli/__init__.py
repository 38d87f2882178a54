"""The ``mesabase`` command: :func:`main` and one module per group of commands.

:mod:`.app` parses the command line and runs ``demo``, ``run`` and ``solvers``; :mod:`.sweep`
runs ``sweep`` and ``results``; :mod:`.errors` maps a user's mistake to one line and an exit
code. ``prove`` and ``claims`` come from :mod:`mesabase.proofs.commands` through the
``mesabase.commands`` entry-point group. The top layer of :mod:`mesabase.sims`: nothing below
imports it.
"""

from .app import demo, exactness_check, main, run_scenarios

__all__ = ["main", "demo", "run_scenarios", "exactness_check"]
