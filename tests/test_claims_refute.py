"""The claims registry finds its own counterexamples (issue 14, item 7).

Every false claim of :data:`~mesabase.proofs.claims.REGISTRY` is refuted within 20 cases,
and every true one holds there, both through :func:`~mesabase.proofs.claims.check` (what
``mesabase claims`` runs) and under the derandomised ``ci`` profile with hypothesis's
*generate* phase only: no ``@example`` seed, no example database, no shrinking to help.
The false claims' strategies (:mod:`mesabase.proofs.claim_strategies`) are aimed at their
counterexamples, so a good share of the drawn cases refute them, not one lucky case.
"""

import pytest
from hypothesis import HealthCheck, Phase, given, settings

from mesabase.proofs import claim_strategies
from mesabase.proofs.claims import REGISTRY, check

FALSE = [c for c in REGISTRY if not c.expected]
TRUE = [c for c in REGISTRY if c.expected]
N = 20
#: least share of the N derandomised cases that refute a false claim ("REINFORCE ends at
#: π*_t" depends on Bernoulli noise: ~0.35 of its cases; the others ~1)
MIN_SHARE = 0.2


def _derandomised_verdicts(claim, n=N) -> list[bool]:
    """claim.check on each of the n cases the ci profile (derandomised) generates."""
    verdicts = []

    @settings(settings.get_profile("ci"), max_examples=n, database=None,
              phases=(Phase.generate,), suppress_health_check=list(HealthCheck))
    @given(claim.strategy)
    def run(case):
        verdicts.append(bool(claim.check(case)))

    run()
    return verdicts


def test_the_registry_has_false_claims_with_aimed_strategies():
    assert {c.name for c in FALSE} == {
        "REINFORCE ends at pi*_t", "surrogate optimum = CE optimum", "full optimiser optimal",
        "agree on visited => agree everywhere"}
    for name in claim_strategies.__all__:
        doc = getattr(claim_strategies, name).__doc__ or ""
        assert "Why it targets the claim" in doc, name


@pytest.mark.parametrize("claim", FALSE, ids=[c.name for c in FALSE])
def test_false_claim_refuted_at_20_derandomised(claim):
    verdicts = _derandomised_verdicts(claim)
    assert len(verdicts) == N
    refuting = verdicts.count(False)
    assert refuting >= 1, f"{claim.name}: not refuted in {N} derandomised cases"
    assert refuting >= MIN_SHARE * N, (f"{claim.name}: only {refuting}/{N} cases refute it; "
                                       "the strategy does not aim at the claim")


@pytest.mark.parametrize("claim", TRUE, ids=[c.name for c in TRUE])
def test_true_claim_holds_at_20_derandomised(claim):
    assert all(_derandomised_verdicts(claim))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("claim", FALSE, ids=[c.name for c in FALSE])
def test_check_refutes_false_claim_at_20(claim, seed):
    f = check(claim, max_examples=N, seed=seed)
    assert not f.holds, str(f)
    assert not claim.check(f.counterexample)   # the shrunk case really refutes it


@pytest.mark.parametrize("claim", TRUE, ids=[c.name for c in TRUE])
def test_check_true_claim_holds_at_20(claim):
    f = check(claim, max_examples=N)
    assert f.holds and f.examples == N, str(f)
