"""Bernoulli bandits with Beta priors: the exact Bayes-optimal policy over the belief MDP
(``bayes``) and Gittins indices for the discounted case (``gittins``; whole tables:
``gittins_grid``)."""

from .bayes import (
    BayesBandit,
    bayes_optimal_bandit,
    bayes_optimal_dependent,
    belief_index,
    belief_mdp,
    belief_states,
)
from .gittins import gittins_index, gittins_table
from .gittins_grid import gittins_table_bracket

__all__ = [
    "BayesBandit", "belief_states", "belief_index", "bayes_optimal_bandit",
    "bayes_optimal_dependent", "belief_mdp", "gittins_index", "gittins_table",
    "gittins_table_bracket",
]
