"""The proof registry: every proof holds, under the name the CLI takes."""

import pytest

from mesabase.proofs import PROOFS, Proof, all_proofs


@pytest.mark.parametrize("name", list(PROOFS))
def test_registered_proof_holds_under_its_name(name):
    proof = PROOFS[name]()
    assert isinstance(proof, Proof)
    assert proof.name == name
    assert proof.holds, proof.to_markdown()
    assert proof.about.startswith("mesabase.")


def test_all_proofs_in_order():
    assert [p.name for p in all_proofs()] == list(PROOFS)
    assert len(PROOFS) >= 8
