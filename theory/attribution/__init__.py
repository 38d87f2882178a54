"""Attribution of a learner's regret: ``gaps`` splits it into the part the objective selects
(outer) and the part only the incremental learner adds (inner), and reads behaviours' values
into verdicts; ``restricted`` solves an MDP with some actions forbidden, for the ranges of
a behaviour over an argmax set.
"""

from .gaps import (
    Decomposition,
    Verdict,
    behaviour_range,
    behaviour_values,
    behaviour_verdicts,
    decompose,
    four_gaps,
    proportion,
    verdict,
    verdict_fractions,
)
from .restricted import argmax_set_allowed, restricted_optima, solve_restricted

__all__ = [
    "Decomposition", "four_gaps", "Verdict", "behaviour_range", "behaviour_values",
    "behaviour_verdicts",
    "decompose", "proportion", "verdict", "verdict_fractions", "argmax_set_allowed",
    "restricted_optima", "solve_restricted",
]
