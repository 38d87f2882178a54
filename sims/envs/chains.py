"""Chains: the deterministic chain and RiverSwim (an exploration benchmark)."""

from __future__ import annotations

import numpy as np

from mesabase.theory import TabularMDP
from mesabase.theory.checks import check_int
from mesabase.theory.examples import chain_mdp as _chain_mdp

from .base import Env

__all__ = ["chain", "riverswim"]


def chain(n: int = 5, gamma: float = 0.9, horizon: int | None = None) -> Env:
    """The deterministic chain of :func:`mesabase.theory.examples.chain_mdp` (reward 1 for
    "right" at the right end, start at 0), as an environment; ``horizon`` makes it
    episodic (restart from state 0 every ``horizon`` steps)."""
    m = _chain_mdp(n, gamma)
    if horizon is not None:
        m = TabularMDP(m.P, m.R, gamma=gamma, horizon=horizon, mu0=m.mu0)
    return Env(m, name="chain")


def riverswim(n: int = 6, gamma: float = 0.95, horizon: int | None = None) -> Env:
    """RiverSwim (Strehl & Littman 2008; the variant of Osband, Russo & Van Roy 2013).

    States 0 … n−1 along a river, start at 0 (μ0 = δ₀). Action 0 (swim left, with the
    current) moves left deterministically (0 stays) and pays 5/1000 in state 0. Action 1
    (swim right, against it): from 0, stay 0.4 / right 0.6; in the middle, left 0.05 /
    stay 0.6 / right 0.35; at n−1, left 0.4 / stay 0.6, paying 1. Rewards are the
    expected ones (no noise). The small sure reward at the bank is the trap a greedy
    learner locks onto; the large one needs sustained exploration.
    """
    n = check_int(n, "n (riverswim's number of states)", lo=2)
    P = np.zeros((n, 2, n))
    R = np.zeros((n, 2))
    for s in range(n):
        P[s, 0, max(s - 1, 0)] = 1.0
        if s == 0:
            P[s, 1, 0], P[s, 1, 1] = 0.4, 0.6
        elif s == n - 1:
            P[s, 1, s - 1], P[s, 1, s] = 0.4, 0.6
        else:
            P[s, 1, s - 1], P[s, 1, s], P[s, 1, s + 1] = 0.05, 0.6, 0.35
    R[0, 0] = 5 / 1000
    R[n - 1, 1] = 1.0
    mu0 = np.zeros(n)
    mu0[0] = 1.0
    return Env(TabularMDP(P, R, gamma=gamma, horizon=horizon, mu0=mu0), name="riverswim")
