"""mesabase.sims: environments, learners, simulation, sweeps, figures and the CLI."""
