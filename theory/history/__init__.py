"""What a learner has seen, and the policy that fully optimises an objective over it.

``records`` holds the :class:`History` (one trajectory of (s, a, r, s') per seed);
``empirical`` turns it into the certainty-equivalent MDP; ``objectives`` defines the
history objectives and ``history_optimal`` (π*_t); ``incremental`` maintains π*_t step by
step with the same certificate as a fresh solve (``incremental_checks``).
"""

from .empirical import EmpiricalBatch, EmpiricalMDP, empirical_mdp
from .incremental import IncrementalCE
from .objectives import OBJECTIVES, history_optimal
from .records import History

__all__ = [
    "History", "EmpiricalMDP", "EmpiricalBatch", "empirical_mdp", "OBJECTIVES",
    "history_optimal", "IncrementalCE",
]
