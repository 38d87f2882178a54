"""Claims checked by hypothesis: statements in words, the cases that test them, a verdict.

A :class:`Claim` is a statement, a hypothesis strategy drawing its cases, and a function of
one case that returns True when the claim holds for it. :func:`check` searches the cases
for one where it fails and returns a :class:`Finding`: ``holds``, how many cases were
tried, and the *shrunk* counterexample (hypothesis's minimal failing case) when it fails.
A finding is reproducible from its seed: ``check(claim, max_examples, seed)`` draws the
same cases again.

:data:`REGISTRY` holds the argument's claims, true and false, each with its expected
verdict and why; :func:`run_registry` checks them all (``mesabase claims`` prints it).

A claim of your own, in three lines::

    >>> from hypothesis import strategies as st
    >>> c = Claim("every square is even", st.integers(0, 10), lambda n: n * n % 2 == 0)
    >>> check(c, max_examples=50).counterexample
    1

Reference: D. R. MacIver et al., "Hypothesis: a new approach to property-based testing",
JOSS 4(43), 1891 (2019), for the search and shrinking.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import seed as hyp_seed
from hypothesis.strategies import SearchStrategy

__all__ = ["Claim", "Finding", "check", "run_registry", "REGISTRY"]


@dataclass(frozen=True)
class Claim:
    """A statement, the strategy drawing its cases, and its check of one case.

    Args:
      statement: the claim in words.
      strategy: a hypothesis ``SearchStrategy`` drawing one case.
      check: ``case -> bool``, True when the claim holds for the case. An exception raised
        by ``check`` is an error, not a counterexample: :func:`check` re-raises it.
      expected: the verdict the argument expects (registry claims).
      why: why it holds or fails.
      name: a short label (default: the statement).
    """

    statement: str
    strategy: SearchStrategy
    check: Any
    expected: bool = True
    why: str = ""
    name: str = ""

    def __post_init__(self):
        if not isinstance(self.strategy, SearchStrategy):
            raise TypeError(f"Claim {self.statement!r}: strategy must be a hypothesis "
                            f"SearchStrategy; got {type(self.strategy).__name__}")
        if not callable(self.check):
            raise TypeError(f"Claim {self.statement!r}: check must be callable")
        if not self.name:
            object.__setattr__(self, "name", self.statement)


@dataclass(frozen=True)
class Finding:
    """What :func:`check` found.

    Attributes:
      holds: True when no case of the ``examples`` tried refuted the claim.
      examples: cases the check ran on (drawn, and replayed while shrinking).
      counterexample: the shrunk failing case, or None when the claim held.
      seed: the hypothesis seed: ``check(claim, max_examples, seed)`` reproduces this.
      max_examples: the search budget.
      seconds: wall time.
    """

    holds: bool
    examples: int
    counterexample: Any
    seed: int
    max_examples: int = 100
    seconds: float = field(default=0.0, compare=False)

    def __str__(self) -> str:
        head = (f"holds ({self.examples} cases)" if self.holds else
                f"fails: counterexample {self.counterexample!r} ({self.examples} cases)")
        return f"{head}; reproduce with max_examples={self.max_examples}, seed={self.seed}"


class _Refuted(AssertionError):
    """Raised inside hypothesis when a case refutes the claim."""


def check(claim: Claim, max_examples: int = 100, seed: int = 0) -> Finding:
    """Search ``claim.strategy`` for a case where ``claim.check`` is False.

    Hypothesis draws up to ``max_examples`` cases from ``seed`` (no example database, no
    deadline), and on a failure shrinks it to a minimal one: the returned counterexample is
    the last (smallest) failing case it replays.

    Raises:
      ValueError: ``max_examples < 1``.
      Exception: whatever ``claim.check`` raises on a case (after shrinking).
    """
    if int(max_examples) < 1:
        raise ValueError(f"max_examples must be >= 1; got {max_examples!r}")
    calls, failing = [0], []

    @hyp_seed(int(seed))
    @settings(max_examples=int(max_examples), derandomize=False, database=None, deadline=None,
              print_blob=False, suppress_health_check=list(HealthCheck))
    @given(claim.strategy)
    def run(case):
        calls[0] += 1
        if not claim.check(case):
            failing.append(case)
            raise _Refuted(claim.statement)

    t = time.perf_counter()
    try:
        run()
        holds = True
    except _Refuted:
        holds = False
    seconds = time.perf_counter() - t
    return Finding(holds=holds, examples=calls[0],
                   counterexample=None if holds else failing[-1], seed=int(seed),
                   max_examples=int(max_examples), seconds=seconds)


def _describe(x) -> str:
    """repr, with an MDP's rewards (and transitions when S > 1) spelled out."""
    if isinstance(x, tuple):
        return "(" + ", ".join(_describe(v) for v in x) + ")"
    if hasattr(x, "P") and hasattr(x, "R") and hasattr(x, "n_states"):
        extra = f", P={x.P.tolist()}" if x.n_states > 1 else ""
        return f"{x!r}[R={x.R.tolist()}{extra}]"
    if hasattr(x, "tolist"):
        return repr(x.tolist())
    return repr(x)


def _short(x, width: int = 90) -> str:
    s = " ".join(_describe(x).split())
    return s if len(s) <= width else s[:width - 1] + "…"


def run_registry(max_examples: int = 60, seed: int = 0, claims=None):
    """Check every registry claim: a DataFrame with one row per claim, columns ``claim``,
    ``expected``, ``found``, ``counterexample`` (shortened repr, "" when it held),
    ``agrees`` (found == expected), ``examples`` and ``seconds``."""
    import pandas as pd

    rows = []
    for c in (REGISTRY if claims is None else claims):
        f = check(c, max_examples=max_examples, seed=seed)
        rows.append({"claim": c.name, "expected": c.expected, "found": f.holds,
                     "counterexample": "" if f.holds else _short(f.counterexample),
                     "agrees": f.holds == c.expected, "examples": f.examples,
                     "seconds": round(f.seconds, 2)})
    return pd.DataFrame(rows)


# ---- the argument's claims ----------------------------------------------------------------
# Cases are small (S ≤ 3, A ≤ 4, a handful of steps) so the registry runs in seconds. A true
# claim draws generic cases; a false one draws from a strategy aimed at its counterexamples
# (:mod:`.claim_strategies`: each docstring says why), so it is refuted within 20 cases.
def _strategies():
    import numpy as np
    from hypothesis import strategies as st

    from mesabase.theory.strategies import bandits, mdps, policies

    from . import claim_strategies as aimed

    small = dict(n_states=st.integers(1, 3), n_actions=st.integers(1, 3),
                 gamma=st.sampled_from((0.0, 0.5, 0.9)))
    halves = st.integers(-4, 4).map(lambda k: k / 2)

    @st.composite
    def histories(draw, n_states, n_actions):
        """(S, A, steps): 1..6 steps (s, a, r, s') of one seed (:func:`_history`)."""
        S, A = draw(n_states), draw(n_actions)
        steps = draw(st.lists(st.tuples(st.integers(0, S - 1), st.integers(0, A - 1), halves,
                                        st.integers(0, S - 1)), min_size=1, max_size=6))
        return S, A, tuple(steps)

    @st.composite
    def decomposition_cases(draw):
        m = draw(mdps(**small))
        R_I = draw(mdps(n_states=m.n_states, n_actions=m.n_actions)).R
        return m, R_I, draw(policies(m)), draw(policies(m))

    @st.composite
    def logit_bandits(draw):
        b = draw(bandits(n_arms=st.integers(2, 4)))
        logits = draw(st.lists(halves, min_size=b.n_actions, max_size=b.n_actions))
        return b, np.array(logits)

    from mesabase.sims.meta.tasks import BetaTasks, DependentTasks

    memoryless = st.tuples(
        st.sampled_from((BetaTasks(2), DependentTasks(), BetaTasks(2, prior=(2, 1)))),
        st.integers(1, 4), st.lists(halves, min_size=2, max_size=2),
        st.lists(st.floats(-10, 10), min_size=2, max_size=2))

    # the false claims get strategies aimed at their counterexamples (.claim_strategies)
    return dict(mdps=mdps(**small), histories=histories(st.integers(1, 3), st.integers(1, 3)),
        decomposition=decomposition_cases(), logit_bandits=logit_bandits(),
        memoryless=memoryless, tied_bandits=aimed.tied_bandits(),
        two_arm_histories=aimed.two_arm_histories(), decoy_mdps=aimed.decoy_mdps(),
        unvisited_preferences=aimed.unvisited_preferences())


def _history(S, A, steps):
    """A single-seed History from steps (s, a, r, s'), behaviour probabilities 1/A."""
    import numpy as np

    from mesabase.theory import History

    s, a, r, s2 = (np.array(x) for x in zip(*steps, strict=True))
    return History.from_arrays(s, a, r.astype(float), s2, np.full(len(s), 1 / A))


def _methods_agree(m) -> bool:
    import numpy as np

    from mesabase.theory import solve

    V = [solve(m, k).V for k in ("vi", "pi", "lp")]
    return all(np.max(np.abs(v - V[0])) <= 1e-8 for v in V[1:])


def _ce_optimal(case) -> bool:
    import numpy as np

    from mesabase.theory import empirical_mdp, evaluate, history_optimal, solve

    S, A, steps = case
    h = _history(S, A, steps)
    pi = history_optimal(h, "ce", n_states=S, n_actions=A, gamma=0.9).policy
    emp = empirical_mdp(h, S, A, gamma=0.9)
    return bool(np.max(np.abs(evaluate(emp, pi) - solve(emp, "lp").V)) <= 1e-8)


def _telescopes(case) -> bool:
    import numpy as np

    from mesabase.theory import decompose

    m, R_I, pi_t, pi_l = case
    d = decompose(m, R_I, m.R, pi_t[None, None], pi_l[None, None])
    return bool(np.abs(d.outer + d.learner_gap - d.total).max() <= 1e-9)


def _full_run(m, learner, steps=4):
    from mesabase.sims import Env, simulate

    return simulate(Env(m), learner, steps, seeds=1, shadow=None)


def _full_in_argmax(m) -> bool:
    import numpy as np

    from mesabase.sims import FullOptimizer
    from mesabase.theory import history_optimal

    run = _full_run(m, FullOptimizer("ce"))
    h = run.history.seed(0)
    for r, t in enumerate(run.steps):
        opt = history_optimal(h[:int(t)], "ce", n_states=m.n_states, n_actions=m.n_actions,
                              gamma=m.gamma, tol=1e-8).optimal
        if np.any((run.policies[0, r] > 0) & ~opt):
            return False
    return True


def _reinforce_unbiased(case) -> bool:
    import numpy as np

    from mesabase.sims import Reinforce
    from mesabase.sims.agents.reinforce import Transition

    b, logits = case
    K, r = b.n_actions, b.R[0]
    learner = Reinforce(lr=1.0, init_logits=logits[None])
    st0 = learner.init(1, 1, K)
    pi = learner.policy(st0)[0, 0]
    mean = np.zeros(K)
    for a in range(K):  # E_{a∼π}[Δθ] = Σ_a π(a) Δθ(a), exactly
        step = Transition(np.array([0]), np.array([a]), np.array([r[a]]), np.array([0]),
                          np.array([pi[a]]), np.array([True]), 0)
        mean += pi[a] * (learner.update(st0, step).theta[0, 0] - logits)
    return bool(np.max(np.abs(mean - (np.diag(pi) - np.outer(pi, pi)) @ r)) <= 1e-12)


def _reinforce_ends_at_ce(case) -> bool:
    import numpy as np

    from mesabase.sims import Env, Reinforce, simulate

    b, seed = case
    run = simulate(Env(b, noise="bernoulli"), Reinforce(lr=0.1), 10, seeds=[seed],
                   shadow="ce")
    return bool(run.shadow_optimal[0, -1, 0, np.argmax(run.policies[0, -1, 0])])


def _log_equals_ce(case) -> bool:
    import numpy as np

    from mesabase.theory import history_optimal

    S, A, steps = case
    h = _history(S, A, steps)
    log = history_optimal(h, "log", n_states=S, n_actions=A).policy
    ce = history_optimal(h, "ce", n_states=S, n_actions=A, gamma=1.0, horizon=1).policy
    return bool(np.max(np.abs(log - ce)) <= 1e-9)


def _greedy_optimal(m) -> bool:
    from mesabase.sims import FullOptimizer
    from mesabase.theory import evaluate, solve

    run = _full_run(m, FullOptimizer("ce"))
    J = m.mu0 @ evaluate(m, run.policies[0, -1])
    return bool(J >= m.mu0 @ solve(m).V - 1e-8)


def _visited_agreement(case) -> bool:
    import numpy as np

    from mesabase.sims import Reinforce
    from mesabase.theory import history_optimal

    m, logits = case
    run = _full_run(m, Reinforce(lr=0.1, init_logits=logits), steps=2)
    star = history_optimal(run.history.seed(0), "ce", n_states=m.n_states,
                           n_actions=m.n_actions, gamma=m.gamma).actions
    agree = np.argmax(run.policies[0, -1], axis=-1) == star
    visited = np.unique(run.history.states[0])
    return bool(not agree[visited].all() or agree.all())


def _memoryless_below_bayes(case) -> bool:
    from mesabase.sims.meta.maml import memoryless_gap

    tasks, H, theta0, eta = case
    return memoryless_gap(theta0, eta, tasks, H) >= -1e-12


def _registry() -> tuple[Claim, ...]:
    s = _strategies()
    C = Claim
    return (
        C("value iteration, policy iteration and the LP give the same V* (to 1e-8)",
          s["mdps"], _methods_agree, True, "three exact-in-the-limit solvers of one "
          "contraction's fixed point", "VI = PI = LP"),
        C("the CE π*_t is optimal for the empirical MDP: V^{π*_t}(M̂_t) = V*(M̂_t)",
          s["histories"], _ce_optimal, True, "history_optimal('ce') solves M̂_t exactly",
          "CE pi*_t optimal for M_hat"),
        C("spec gap + history gap + learner gap = total regret (to 1e-9)",
          s["decomposition"], _telescopes, True, "the middle terms cancel: a telescoping sum",
          "decomposition telescopes"),
        C("every action the full optimiser takes is in argmax L_t over its history",
          s["mdps"], _full_in_argmax, True, "it acts by π*_t, recomputed before each action",
          "full optimiser in argmax L_t"),
        C("the expected REINFORCE update is (diag π − ππᵀ) r = ∇_θ πᵀr",
          s["logit_bandits"], _reinforce_unbiased, True, "E[r(a)(e_a − π)] = Σ_a π_a r_a "
          "(e_a − π), the softmax gradient of πᵀr", "REINFORCE unbiased"),
        C("REINFORCE always ends at π*_t (its greedy arm is CE-optimal after 10 Bernoulli pulls)",
          s["tied_bandits"], _reinforce_ends_at_ce, False, "a small step moves θ slowly: the "
          "learner lags the maximiser of its own data (the learner gap)",
          "REINFORCE ends at pi*_t"),
        C("the surrogate Σ r log π has the same optimum as the CE objective",
          s["two_arm_histories"], _log_equals_ce, False, "the surrogate's optimum is reward-"
          "weighted frequency matching c_a/Σc, not the best empirical arm",
          "surrogate optimum = CE optimum"),
        C("greedy full optimisation over the history is optimal in the true MDP after t "
          "steps", s["decoy_mdps"], _greedy_optimal, False, "a finite history can mislead the "
          "model (untried actions look worth 0): the history gap", "full optimiser optimal"),
        C("if the learner and π*_t agree on every visited state they agree everywhere",
          s["unvisited_preferences"], _visited_agreement, False, "off the visited states the "
          "learner keeps its initialisation while π*_t follows the unvisited rule",
          "agree on visited => agree everywhere"),
        C("a memoryless softmax learner updated by REINFORCE within the episode (any initial "
          "logits θ0, any step sizes η) never beats the Bayes-optimal value (exact, to 1e-12)",
          s["memoryless"], _memoryless_below_bayes, True, "it is one history-dependent policy "
          "of the Bayes-adaptive bandit, whose optimum the belief-MDP backward induction "
          "attains: statistics in weights cannot beat statistics in activations",
          "memoryless <= Bayes-optimal"),
    )


REGISTRY: tuple[Claim, ...] = _registry()
