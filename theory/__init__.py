"""mesabase.theory: exact tabular MDP objects and computations (deterministic, no sampling).

Axis convention: ``P[s, a, s']``, ``R[s, a]``, ``pi[s, a]``, ``mu0[s]``; a batch (seed)
axis comes first when present: ``P[n, s, a, s']``.
"""

from .attribution import (
    Decomposition,
    Verdict,
    argmax_set_allowed,
    behaviour_range,
    behaviour_values,
    behaviour_verdicts,
    decompose,
    four_gaps,
    proportion,
    restricted_optima,
    solve_restricted,
    verdict,
    verdict_fractions,
)
from .bandits import (
    BayesBandit,
    bayes_optimal_bandit,
    bayes_optimal_dependent,
    belief_index,
    belief_mdp,
    belief_states,
    gittins_index,
    gittins_table,
    gittins_table_bracket,
)
from .convert import from_gym, from_mdptoolbox, from_quantecon
from .crux_sensitivity import (
    Crossover,
    Swing,
    crossovers,
    most_sensitive,
    participant_range,
    sensitivity,
)
from .cruxes import Chance, CruxModel, Leaf, OutcomeRange, crux_tree
from .cruxes_data import (
    B_REFLECTIVE_RELIABILITY,
    CRUX_NODES,
    CRUX_SOURCE,
    CRUXES,
    PARTICIPANTS,
    Crux,
    Estimate,
    NodeInfo,
    Participant,
)
from .episodic import IllPosedMDP, check_episodic, terminal_states
from .evaluation import (
    bellman_q,
    evaluate,
    evaluate_many,
    expected_return,
    expected_returns,
    occupancy,
    q_values,
)
from .history import (
    OBJECTIVES,
    EmpiricalBatch,
    EmpiricalMDP,
    History,
    IncrementalCE,
    empirical_mdp,
    history_optimal,
)
from .mdp import InvalidMDP, TabularMDP, to_fraction
from .revealed import (
    MaxMargin,
    Membership,
    Nearest,
    RevealedSet,
    SolverFailed,
    revealed_rewards,
    shaping_term,
)
from .revealed_grid import NgRussellResult, ng_russell_gridworld, ng_russell_mdp
from .solution import Solution
from .solvers import (
    AVERAGE_METHODS,
    METHODS,
    AverageSolution,
    ClassSolution,
    LinearClass,
    MDPBatch,
    backward_induction,
    class_optimal,
    evaluate_exact,
    occupancy_lp,
    policy_iteration,
    solution_item,
    solve,
    solve_average,
    solve_batch,
    solve_cvxpy,
    solve_exact,
    solve_lp,
    value_iteration,
)

__all__ = [
    "InvalidMDP", "IllPosedMDP", "TabularMDP", "Solution", "METHODS",
    "solve", "value_iteration", "policy_iteration", "backward_induction",
    "evaluate", "q_values", "occupancy", "expected_return", "bellman_q",
    "check_episodic", "terminal_states", "to_fraction",
    "MDPBatch", "solve_batch", "solution_item", "from_gym", "from_mdptoolbox", "from_quantecon",
    "solve_exact", "evaluate_exact", "solve_lp", "solve_cvxpy", "occupancy_lp",
    "History", "empirical_mdp", "EmpiricalMDP", "EmpiricalBatch", "history_optimal",
    "OBJECTIVES", "evaluate_many", "expected_returns",
    "decompose", "four_gaps", "Decomposition", "behaviour_values", "behaviour_range",
    "verdict", "Verdict",
    "verdict_fractions", "proportion", "behaviour_verdicts", "solve_restricted",
    "restricted_optima",
    "argmax_set_allowed", "IncrementalCE",
    "BayesBandit", "belief_states", "belief_index", "bayes_optimal_bandit",
    "bayes_optimal_dependent", "belief_mdp", "gittins_index", "gittins_table",
    "gittins_table_bracket",
    "ClassSolution", "LinearClass", "class_optimal",
    "AverageSolution", "AVERAGE_METHODS", "solve_average",
    "revealed_rewards", "RevealedSet", "Membership", "MaxMargin", "Nearest", "shaping_term",
    "SolverFailed",
    "ng_russell_gridworld", "ng_russell_mdp", "NgRussellResult",
    "CruxModel", "crux_tree", "Leaf", "Chance", "OutcomeRange", "Swing", "Crossover",
    "sensitivity", "most_sensitive", "crossovers", "participant_range",
    "CRUXES", "CRUX_NODES", "CRUX_SOURCE", "PARTICIPANTS", "B_REFLECTIVE_RELIABILITY", "Crux",
    "Estimate", "NodeInfo", "Participant",
]
