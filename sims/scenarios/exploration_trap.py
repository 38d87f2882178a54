"""The exploration trap: RiverSwim, where greedy full optimisation over the history locks
onto the small reward at the bank.

RiverSwim with n = 6 states and γ = 0.95 (:func:`~mesabase.sims.envs.riverswim`): swimming
left at the bank (state 0) pays 0.005 for sure; swimming right against the current, step by
uncertain step, reaches the far end, which pays 1 per step. R_I = R_B: no misspecification gap.

The full optimiser acts by the certainty-equivalent π*_t. An action it has not tried is
worth the prior mean reward, 0, in its model, so once it has seen the bank pay 0.005 it
swims left for ever (the CE model has no reason to explore): π*_t is the bank policy, and
J_I(π_B*) − J_I(π*_t) is a history gap — outer, the data's. REINFORCE does not lock on
the same way: its policy stays stochastic, its history keeps reaching the far end, and
π*_t on *its* history is optimal in most seeds while the learner itself lags: a learner
gap. (Default sizes, 3000 steps and 20 seeds: full optimiser history gap 4.34 of
J* = 4.67, learner gap 0; REINFORCE (lr 0.5) history gap 0.91, learner gap 3.67.)

Behaviour ``stays-at-bank``: b = (1 − γ) on (s = 0, swim left), so J_b ∈ [0, 1] is the
discounted fraction of time spent taking the small reward; shown at ≥ ½.
"""

from __future__ import annotations

import numpy as np

from ..agents.full import FullOptimizer
from ..agents.reinforce import Reinforce
from ..envs.chains import riverswim
from .base import Behaviour, Scenario

__all__ = ["exploration_trap", "N_STATES", "GAMMA"]

N_STATES = 6
GAMMA = 0.95


def exploration_trap() -> Scenario:
    """The ``exploration-trap`` scenario (module docstring)."""
    env = riverswim(n=N_STATES, gamma=GAMMA)
    R = env.mdp.R
    bank = np.zeros_like(R)
    bank[0, 0] = 1.0 - GAMMA
    far = np.zeros_like(R)
    far[N_STATES - 1, 1] = R[N_STATES - 1, 1]
    small = np.zeros_like(R)
    small[0, 0] = R[0, 0]
    behaviours = {"stays-at-bank": Behaviour(
        bank, 0.5, "discounted fraction of time swimming left at the bank for its small "
                   "reward (shown at >= 0.5)")}
    learners = {"full": FullOptimizer("ce"), "reinforce": Reinforce(lr=0.5)}
    return Scenario(
        name="exploration-trap",
        description=f"RiverSwim with {N_STATES} states, gamma = {GAMMA}: 0.005 for sure at "
                    "the bank, 1 per step at the far end after a slow swim upstream; the "
                    "intended reward is the base reward.",
        train=env, R_I=R, proxies={"bank-reward": small, "far-reward": far},
        behaviours=behaviours, learners=learners, default_learner="full", steps=3000,
        seeds=20, record_every=300,
        notes="History gap for the full optimiser (it locks onto the bank); for REINFORCE "
              "the history gap is small and the learner gap large.")
