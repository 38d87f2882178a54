"""Environments: sampleable TabularMDPs (each exposes P and R for the exact solvers)."""

from .bandits import bernoulli_bandit, gaussian_bandit
from .base import Env
from .chains import chain, riverswim

__all__ = ["Env", "bernoulli_bandit", "gaussian_bandit", "chain", "riverswim"]
