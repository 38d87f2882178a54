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


@pytest.mark.parametrize("name", list(PROOFS))
def test_every_rendered_formula_is_valid_latex(name):
    """The statement and every step's formula render with matplotlib's mathtext (matrices,
    which mathtext does not typeset, entry by entry: the matrix wrapper is sympy's own)."""
    import io

    import sympy as sp
    from matplotlib import mathtext

    proof = PROOFS[name]()
    formulas = []
    for f in [proof.statement] + [st.expr for st in proof.steps if st.expr is not None]:
        formulas += list(f) if isinstance(f, sp.MatrixBase) else [f]
    for f in formulas:
        tex = proof._tex(f)
        for part in tex.split("\n"):
            if part.strip():
                mathtext.math_to_image(f"${part}$", io.BytesIO(), format="png")
