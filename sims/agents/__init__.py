"""Agents: the policy classes, online REINFORCE, the full optimiser π*_t, step-size
schedules and the compiled engine that runs REINFORCE on tabular bandits and chains.

The bottom layer of :mod:`mesabase.sims` with :mod:`~mesabase.sims.envs`: it imports only
:mod:`mesabase.theory`.
"""

from .full import FullOptimizer
from .policies import LinearSoftmax, TabularSoftmax
from .reinforce import Reinforce, ReinforceState, Transition

__all__ = ["FullOptimizer", "LinearSoftmax", "TabularSoftmax", "Reinforce", "ReinforceState",
           "Transition"]
