"""mesabase.sims: environments, learners, simulation, sweeps, figures and the CLI."""

from .attribute import Attribution, attribute
from .envs import Env, bernoulli_bandit, chain, gaussian_bandit, riverswim
from .full import FullOptimizer
from .learners import Reinforce, ReinforceState, Transition
from .policies import LinearSoftmax, TabularSoftmax
from .scenarios import (
    SCENARIOS,
    SHIPPED,
    Behaviour,
    Deployment,
    Scenario,
    get_scenario,
    run,
    simulate_shift,
)
from .simulate import Run, simulate

__all__ = [
    "Env", "bernoulli_bandit", "gaussian_bandit", "chain", "riverswim",
    "FullOptimizer", "Reinforce", "ReinforceState", "Transition",
    "TabularSoftmax", "LinearSoftmax", "Run", "simulate",
    "attribute", "Attribution", "SCENARIOS", "SHIPPED", "get_scenario", "run",
    "Scenario", "Behaviour", "Deployment", "simulate_shift",
]
