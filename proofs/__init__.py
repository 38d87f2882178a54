"""mesabase.proofs: statements established symbolically (sympy) or checked as claims.

``PROOFS`` maps each proof's name to the function that builds and establishes it;
``all_proofs()`` runs them all. Claims (hypothesis-checked statements, true and false) live
in :mod:`mesabase.proofs.claims`.
"""

from types import MappingProxyType

from .base import LATEX_CHARACTERS, Proof, Step, latex_math, latex_text
from .claims import REGISTRY, Claim, Finding, check, run_registry
from .dichotomy_proof import dichotomy
from .lp_duality_proof import lp_duality
from .pg_rate import pg_bandit_rate
from .policy_gradient import policy_gradient_theorem
from .reinforce_unbiased_proof import reinforce_unbiased
from .softmax_score_proof import softmax_score
from .surrogate_optimum_proof import surrogate_optimum
from .telescoping_proof import telescoping
from .tex import LATEX_PREAMBLE, latex_document

#: Proof name (as the CLI takes it) -> the function that establishes it, in the issue's order.
PROOFS = MappingProxyType({
    "softmax_score": softmax_score,
    "reinforce_unbiased": reinforce_unbiased,
    "surrogate_optimum": surrogate_optimum,
    "telescoping": telescoping,
    "dichotomy": dichotomy,
    "policy_gradient": policy_gradient_theorem,
    "lp_duality": lp_duality,
    "pg_rate": pg_bandit_rate,
})


def all_proofs() -> list[Proof]:
    """Every registered proof, established now."""
    return [f() for f in PROOFS.values()]


__all__ = ["Proof", "Step", "PROOFS", "all_proofs", "latex_text", "latex_math",
           "latex_document", "LATEX_PREAMBLE", "LATEX_CHARACTERS", "Claim", "Finding", "check",
           "run_registry", "REGISTRY", "softmax_score", "reinforce_unbiased",
           "surrogate_optimum", "telescoping", "dichotomy", "policy_gradient_theorem",
           "lp_duality", "pg_bandit_rate"]
