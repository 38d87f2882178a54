"""mesabase.sims.meta: learning to learn on Bernoulli bandits (issue 6, seed 000).

Task distributions (:mod:`.tasks`), the Agent protocol and common-random-number rollouts
(:mod:`.rollout`), the classical agents (:mod:`.agents`), the memoryless learner and its
MAML / Meta-SGD initialisations (:mod:`.memoryless`, :mod:`.maml`), the meta-trained
belief-state policy (:mod:`.belief`) and the meta-bandits study (:mod:`.experiment`).
"""

from .agents import (
    UCB1,
    BayesOptimalAgent,
    GittinsAgent,
    GittinsState,
    Greedy,
    PriorState,
    Thompson,
    random_argmax,
)
from .belief import (
    BeliefPolicy,
    TrainingReport,
    belief_policy_value,
    log_marginal,
    predictive,
    task_prior,
    train_belief_policy,
)
from .experiment import (
    COLUMNS,
    FAMILIES,
    SUMMARY_COLUMNS,
    AgentSpec,
    classical_agents,
    default_agents,
    exact_bayes_regret,
    make_tasks,
    meta_bandits,
    meta_learned_agents,
    not_converged,
    plot_meta_bandits,
    summarise,
    t_interval,
)
from .families import ADVANTAGE_COLUMNS, INIT_FAMILIES, init_family, maml_advantage
from .frozen import FROZEN_COLUMNS, IMPROVEMENT_COLUMNS, frozen_weights, plot_frozen_weights
from .maml import (
    GRAD_TOL,
    MAX_SEQUENCES,
    GradientEstimate,
    MetaResult,
    Outcomes,
    enumerate_outcomes,
    maml_gradient,
    maml_objective,
    memoryless_gap,
    meta_train,
    score_gradient,
)
from .memoryless import MemorylessReinforce, MemorylessState, check_theta_eta
from .rollouts import Agent, NoState, Rollout, rollout, sample_arms, split_seed
from .tasks import QUAD_TOL, BetaTasks, DependentTasks

__all__ = [
    # tasks
    "BetaTasks", "DependentTasks", "QUAD_TOL",
    # rollout
    "Agent", "NoState", "Rollout", "rollout", "sample_arms", "split_seed",
    # classical agents
    "BayesOptimalAgent", "GittinsAgent", "GittinsState", "UCB1", "Thompson", "Greedy",
    "PriorState", "random_argmax",
    # memoryless learner, MAML / Meta-SGD
    "MemorylessReinforce", "MemorylessState", "check_theta_eta",
    "GRAD_TOL", "MAX_SEQUENCES", "Outcomes", "GradientEstimate", "MetaResult",
    "enumerate_outcomes",
    "maml_objective", "maml_gradient", "score_gradient", "meta_train", "memoryless_gap",
    # belief-state policy
    "BeliefPolicy", "task_prior", "predictive", "log_marginal", "belief_policy_value",
    "train_belief_policy", "TrainingReport",
    # the study
    "AgentSpec", "FAMILIES", "COLUMNS", "SUMMARY_COLUMNS", "make_tasks", "classical_agents",
    "meta_learned_agents", "default_agents", "meta_bandits", "not_converged", "exact_bayes_regret",
    "summarise", "plot_meta_bandits", "t_interval",
    # families where the initialisation matters
    "INIT_FAMILIES", "ADVANTAGE_COLUMNS", "init_family", "maml_advantage",
    # frozen weights, improving performance
    "FROZEN_COLUMNS", "IMPROVEMENT_COLUMNS", "frozen_weights", "plot_frozen_weights",
]
