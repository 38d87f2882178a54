"""mesabase.proofs: statements established symbolically or checked as claims."""
