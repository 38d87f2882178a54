"""Scenarios: training environments with base, intended and proxy objectives, behaviours,
deployments and shifts; the registry of the shipped ones, and ``run``.

    from mesabase.sims.attribution import run

    from mesabase.sims.scenarios import get_scenario
    run_, attribution = run("keys-and-chests")
    print(attribution.summary())

:data:`SCENARIOS` maps each registered name to a function building the scenario;
:func:`get_scenario` builds (and caches) one. :data:`SHIPPED` are the four of issue 4, the
names the CLI takes; the registry adds ``proxy-bandit-control`` (the clean control),
``keys-and-chests-shift`` (the online shift) and ``softmax-trap`` (an inner failure of
REINFORCE the full optimiser never shows).
"""

from __future__ import annotations

from functools import cache, partial
from types import MappingProxyType

from . import (
    exploration_trap,
    keys_and_chests,
    misspecified_reward,
    proxy_bandit,
    softmax_trap,
)
from .base import Behaviour, Deployment, Scenario

__all__ = ["Behaviour", "Deployment", "Scenario", "SCENARIOS", "SHIPPED", "get_scenario"]

#: Registered name → a function building the scenario.
SCENARIOS = MappingProxyType({
    "keys-and-chests": keys_and_chests.keys_and_chests,
    "misspecified-reward": misspecified_reward.misspecified_reward,
    "proxy-bandit": proxy_bandit.proxy_bandit,
    "exploration-trap": exploration_trap.exploration_trap,
    "proxy-bandit-control": partial(proxy_bandit.proxy_bandit, control=True),
    "keys-and-chests-shift": partial(keys_and_chests.keys_and_chests, shift=True),
    "softmax-trap": softmax_trap.softmax_trap,
})
#: The four scenarios of issue 4, in the order of the report.
SHIPPED = ("keys-and-chests", "misspecified-reward", "proxy-bandit", "exploration-trap")


@cache
def get_scenario(name: str) -> Scenario:
    """The registered scenario ``name`` (built once, then cached; scenarios are immutable).

    Example:
      >>> sc = get_scenario("proxy-bandit")
      >>> sc.R_B.tolist(), sc.R_I.tolist(), list(sc.behaviours)
      ([[0.3, 0.5, 0.8]], [[0.8, 0.5, 0.2]], ['pulls-proxy-arm', 'intended-suboptimal-arm'])
    """
    if name not in SCENARIOS:
        raise KeyError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    return SCENARIOS[name]()
