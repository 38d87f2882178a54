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
from .class_best import CLASS_BOUND, CLASS_LOG_ETA, ClassBest, memoryless_class_best
from .experiment import (
    COLUMNS,
    DIFFERENCE_COLUMNS,
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
    paired_differences,
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
    bayes_value,
    enumerate_outcomes,
    maml_gradient,
    maml_objective,
    maml_value_gradient,
    memoryless_gap,
    meta_train,
    score_gradient,
)
from .memoryless import MemorylessReinforce, MemorylessState, check_theta_eta
from .mesa import (
    MESA_COLUMNS,
    MESA_MARGIN,
    MESA_POLICIES,
    MESA_REGRET_COLUMNS,
    BanditBehaviour,
    MesaAttribution,
    behaviour_bounds,
    mesa_attribution,
    mesa_behaviours,
    plot_mesa,
)
from .rollouts import Agent, NoState, Rollout, rollout, sample_arms, split_seed
from .tasks import QUAD_TOL, BetaTasks, DependentTasks
from .weights import (
    AGREEMENT_COLUMNS,
    COMPARE_COLUMNS,
    GREEDY_TOL,
    MEASURES,
    START_COLUMNS,
    STARTS,
    SUMMARIES,
    Recorded,
    WeightStudy,
    bayes_agreement,
    record_trajectories,
    weight_trajectories,
)
from .weights_nmf import (
    COMPONENT_COLUMNS,
    CORRELATION_COLUMNS,
    FIT_COLUMNS,
    TRANSFORM,
    fit_nmf,
    plot_weight_trajectories,
    signed_parts,
    stat_correlations,
    stat_names,
)

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
    "bayes_value", "maml_value_gradient",
    # the best value of the MAML / Meta-SGD class
    "ClassBest", "CLASS_BOUND", "CLASS_LOG_ETA", "memoryless_class_best",
    # belief-state policy
    "BeliefPolicy", "task_prior", "predictive", "log_marginal", "belief_policy_value",
    "train_belief_policy", "TrainingReport",
    # the study
    "AgentSpec", "FAMILIES", "COLUMNS", "SUMMARY_COLUMNS", "DIFFERENCE_COLUMNS",
    "paired_differences", "make_tasks", "classical_agents",
    "meta_learned_agents", "default_agents", "meta_bandits", "not_converged", "exact_bayes_regret",
    "summarise", "plot_meta_bandits", "t_interval",
    # families where the initialisation matters
    "INIT_FAMILIES", "ADVANTAGE_COLUMNS", "init_family", "maml_advantage",
    # frozen weights, improving performance
    "FROZEN_COLUMNS", "IMPROVEMENT_COLUMNS", "frozen_weights", "plot_frozen_weights",
    # a mesa-learner attributed
    "MESA_MARGIN", "MESA_COLUMNS", "MESA_REGRET_COLUMNS", "MESA_POLICIES", "BanditBehaviour",
    "MesaAttribution", "mesa_behaviours", "behaviour_bounds", "mesa_attribution", "plot_mesa",
    # weight trajectories of the memoryless learner, and their NMF
    "STARTS", "MEASURES", "SUMMARIES", "GREEDY_TOL", "AGREEMENT_COLUMNS", "COMPARE_COLUMNS",
    "START_COLUMNS", "Recorded", "WeightStudy", "record_trajectories", "bayes_agreement",
    "weight_trajectories", "TRANSFORM", "CORRELATION_COLUMNS", "COMPONENT_COLUMNS",
    "FIT_COLUMNS", "signed_parts", "stat_names", "fit_nmf", "stat_correlations",
    "plot_weight_trajectories",
]
