"""Solvers for a tabular MDP: value/policy iteration and backward induction (``iteration``),
modified policy iteration (``mpi``), linear programs (``lp``), exact rational arithmetic
(``exact``), many MDPs at once (``batch``), the optimum over a linear-softmax policy class
(``linear_class``, faces by ``arrangement``), the average-reward criterion
(``average``: :class:`~mesabase.theory.AverageSolution`), the compiled sweeps
(``kernels``) and the floating-point certificate they all share (``certificate``).

Every solver returns a :class:`~mesabase.theory.Solution` whose ``error_bound`` is a bound on
‖V̂ − V*‖∞ that includes floating-point error, and whose ``optimal`` mask is the certified
argmax set (see ``certificate``).
"""

from .average import AVERAGE_METHODS, AverageSolution, solve_average
from .batch import MDPBatch, solution_item, solve_batch
from .exact import evaluate_exact, solve_exact
from .iteration import METHODS, backward_induction, policy_iteration, solve, value_iteration
from .linear_class import ClassSolution, LinearClass, class_optimal
from .lp import occupancy_lp, solve_cvxpy, solve_lp

__all__ = [
    "METHODS", "solve", "value_iteration", "policy_iteration", "backward_induction",
    "MDPBatch", "solve_batch", "solution_item", "solve_exact", "evaluate_exact",
    "solve_lp", "solve_cvxpy", "occupancy_lp", "ClassSolution", "LinearClass", "class_optimal",
    "AverageSolution", "AVERAGE_METHODS", "solve_average",
]
