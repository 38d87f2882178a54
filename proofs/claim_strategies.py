"""Strategies that aim at the false claims of :data:`mesabase.proofs.claims.REGISTRY`.

A false claim is only shown false when hypothesis draws a counterexample, and a generic
strategy (any small MDP, any history) rarely lands on one: at 40 cases
"agree on visited ⇒ agree everywhere" used to hold. Each strategy here draws the cases the
claim's own *why* points at, so that nearly every case is a counterexample (the
mechanism, not luck, refutes the claim): the first, simplest case hypothesis tries is one
already, and the shrunk counterexample shows the mechanism plainly. The cases are still
drawn (sizes, discounts, rewards, transitions, seeds vary), and nothing here is an
``@example``; ``tests/test_claims_refute.py`` checks every false claim is refuted at 20
cases and every true one holds.

Sizes are small (S ≤ 3, A ≤ 4, a handful of steps) so the registry runs in seconds.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from mesabase.theory import TabularMDP
from mesabase.theory.strategies import bandits, mdps

__all__ = ["tied_bandits", "two_arm_histories", "decoy_mdps", "unvisited_preferences"]

_GAMMAS = st.sampled_from((0.0, 0.5, 0.9))
_POSITIVE_HALVES = st.integers(1, 4).map(lambda k: k / 2)  # 1/2 .. 2


def tied_bandits():
    """(bandit, seed) for "REINFORCE ends at π*_t": 3–4 Bernoulli arms all of mean 1/2.

    Why it targets the claim: with tied means the CE-optimal arm after 10 pulls is whichever
    arm has the best empirical *rate*, decided by the noise (largest at mean 1/2), while
    REINFORCE with a small step (lr = 0.1, from θ = 0) moves θ_a by about lr per success,
    so its greedy arm is the one with the most *successes*. More arms make the two disagree
    more often (about 1 seed in 3 at K = 3, 1 in 2 at K = 4, against ~1 case in 13 of the
    generic 2–3-armed bandits with any means in {0, 1/2, 1}); the seed is drawn.
    """
    return st.tuples(bandits(n_arms=st.integers(3, 4), reward_range=(0.5, 0.5)),
                     st.integers(0, 2**16))


@st.composite
def two_arm_histories(draw):
    """(1, A, steps) for "surrogate optimum = CE optimum": bandit histories in which two
    different arms a ≠ b earn positive rewards r and r + d (d ≥ 1/2), then 0–4 more pulls of
    any arm with positive reward.

    Why it targets the claim: the surrogate Σ r log π is maximised by the frequency match
    π_a = c_a / Σc (c the reward sums), which puts mass on *every* arm with c > 0, so on
    both a and b; the CE optimum puts all its mass on the best empirical mean. Two arms with
    positive sums and no tie in the means is exactly a counterexample; only a rare tie made
    by the extra pulls can rescue the claim.
    """
    A = draw(st.integers(2, 3))
    a = draw(st.integers(0, A - 1))
    b = (a + draw(st.integers(1, A - 1))) % A
    r, d = draw(_POSITIVE_HALVES), draw(st.integers(1, 3)) / 2
    extra = draw(st.lists(st.tuples(st.just(0), st.integers(0, A - 1), _POSITIVE_HALVES,
                                    st.just(0)), max_size=4))
    return 1, A, ((0, a, r, 0), (0, b, r + d, 0), *extra)


@st.composite
def decoy_mdps(draw):
    """MDPs for "full optimiser optimal": S = 1..3, A = 2..3, drawn transitions and γ, where
    action 0 is a *decoy* that pays a little (R[s, 0] ∈ {1/2, 1}) and every other action pays
    at least 1/2 more (R[s, a] ∈ {3/2, 2}).

    Why it targets the claim: the CE model scores an untried action as worth 0 (reward
    prior 0, self-loop), below any tried action with a positive reward. Once the full
    optimiser has tried the decoy in a state it keeps it (the history gap), and in a state it
    never reached in its 4 steps it is uniform over all actions, decoy included. Either way
    its final policy gives up reward the true MDP offers.
    """
    m = draw(mdps(n_states=st.integers(1, 3), n_actions=st.integers(2, 3), gamma=_GAMMAS,
                  reward_range=(0.5, 1)))
    R = m.R.copy()
    R[:, 1:] += 1.0
    return TabularMDP(m.P, R, gamma=m.gamma, horizon=m.horizon, mu0=m.mu0)


@st.composite
def unvisited_preferences(draw):
    """(MDP, initial logits) for "agree on visited ⇒ agree everywhere": S = 3 (so a 2-step
    run leaves a state unvisited), A = 2..3, positive rewards (1/2 .. 2), and logits that
    prefer a drawn non-zero action p_s in every state by a margin of 4 (over noise of ±1).

    Why it targets the claim: on a visited state the learner most likely takes its
    preferred action (probability ≥ e²/(e² + 2) ≈ 0.79), earns a positive reward and is
    pushed further towards it, and π*_t (whose untried actions are worth 0) picks that same
    action: they agree. On the unvisited state every action ties at 0 in the CE model, so
    π*_t takes the solver's action 0, while the learner keeps its initial preference
    p_s ≠ 0: they disagree there.
    """
    m = draw(mdps(n_states=st.just(3), n_actions=st.integers(2, 3), gamma=_GAMMAS,
                  reward_range=(0.5, 2)))
    S, A = m.n_states, m.n_actions
    noise = draw(st.lists(st.integers(-2, 2), min_size=S * A, max_size=S * A))
    prefer = np.array(draw(st.lists(st.integers(1, A - 1), min_size=S, max_size=S)))
    return m, np.reshape(noise, (S, A)) / 2 + 4.0 * (np.arange(A) == prefer[:, None])
