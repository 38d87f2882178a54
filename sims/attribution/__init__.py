"""A run's attribution, in one place: simulate a scenario (:func:`run`, including the
online shift :func:`simulate_shift`), carry the learner's parameters to a deployment
(:mod:`.transfer`), and measure gaps, behaviours and verdicts (:func:`attribute`,
:class:`Attribution`; see ``docs/concepts.md``).
"""

from .analysis import Attribution, attribute
from .revealed import REVEALED_COLUMNS, revealed_table
from .runner import ShiftRun, run, simulate_shift
from .transfer import deploy_policies, learner_params

__all__ = ["Attribution", "attribute", "run", "simulate_shift", "ShiftRun", "deploy_policies",
           "learner_params", "revealed_table", "REVEALED_COLUMNS"]
