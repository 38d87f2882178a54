"""Environments: sampleable TabularMDPs (each exposes P and R for the exact solvers)."""

from .bandits import bernoulli_bandit, gaussian_bandit
from .base import Env
from .chains import chain, riverswim
from .features import FEATURE_NAMES, distance_map, grid_features
from .gridmap import MapError, parse_map
from .gridworld import (
    DEFAULT_WEIGHTS,
    REWARD_NAMES,
    GridState,
    Gridworld,
    build_gridworld,
    expected_count,
)

__all__ = [
    "Env", "bernoulli_bandit", "gaussian_bandit", "chain", "riverswim",
    "build_gridworld", "Gridworld", "GridState", "expected_count", "REWARD_NAMES",
    "DEFAULT_WEIGHTS", "MapError", "parse_map", "grid_features", "FEATURE_NAMES",
    "distance_map",
]
