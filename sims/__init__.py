"""mesabase.sims: environments, agents, simulation, scenarios, attribution, experiments
(sweeps and the results store), reports and the CLI, in that order of layers (each imports
only the ones before it; ``docs/architecture.md``).

Every public name a research note needs is exported here::

    from mesabase.sims import get_scenario, run, simulate, Reinforce, sweep, grid, Store
"""

from .agents import (
    FullOptimizer,
    LinearSoftmax,
    Reinforce,
    ReinforceState,
    TabularSoftmax,
    Transition,
)
from .attribution import (
    Attribution,
    ShiftRun,
    attribute,
    deploy_policies,
    learner_params,
    revealed_table,
    run,
    simulate_shift,
)
from .byol import attribute_policies
from .envs import Env, bernoulli_bandit, chain, gaussian_bandit, riverswim
from .experiments import Cell, CorruptCell, SpecError, Store, cell_seeds, grid, load_spec, sweep
from .gymenv import RecordEpisodes, to_gymnasium
from .scenarios import SCENARIOS, SHIPPED, Behaviour, Deployment, Scenario, get_scenario
from .simulation import Run, simulate

__all__ = [
    "Env", "bernoulli_bandit", "gaussian_bandit", "chain", "riverswim",
    "FullOptimizer", "Reinforce", "ReinforceState", "Transition",
    "TabularSoftmax", "LinearSoftmax", "Run", "simulate",
    "attribute", "Attribution", "SCENARIOS", "SHIPPED", "get_scenario", "run",
    "Scenario", "Behaviour", "Deployment", "simulate_shift", "ShiftRun", "deploy_policies",
    "learner_params", "sweep", "grid", "load_spec", "Cell", "SpecError", "cell_seeds", "Store",
    "CorruptCell", "to_gymnasium", "RecordEpisodes", "attribute_policies", "revealed_table",
]
