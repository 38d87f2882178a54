"""Attribution: the exact decomposition of intended regret, and outer/inner verdicts.

**Decomposition** (docs/concepts.md, "Outer vs inner"). With J_I(π) = μ0ᵀ V^π under the
intended reward R_I in an evaluation environment M (training or deployment), evaluated
exactly, and two *sets* of policies, each in the learner's policy class:

* A_B, the argmax set of the base objective with full information (J_B in M_B), and
  [m, M] = the exact range of J_I over A_B;
* A_t, the argmax set of the history objective L_t(π; H_t) (the seed's "optimise to
  convergence before every action"), and [m_t, M_t] = the exact range of J_I over A_t;

the learner's intended regret splits into four terms, none of which depends on a tie-break:

    J_I(π_I*) − J_I(π_θt) = [J_I(π_I*) − M]                 misspecification  (outer)
                          + [M − M_t]                       data              (outer)
                          + [M_t − clip(J_I(π_θt), m_t, M_t)]  ambiguity      (outer)
                          + [clip(J_I(π_θt), m_t, M_t) − J_I(π_θt)]  learner  (inner)

It telescopes exactly (the middle values cancel), and every term is a function of sets and
of the learner, never of which maximiser a solver happened to return.

* **misspecification** ≥ 0: even the best-for-R_I policy the base objective selects with
  full information falls short of what we intend (π_I* is optimal for R_I over *all*
  policies, so a policy class that cannot express it also shows up here);
* **data**: what finitely many data change in the best of the selected set. Negative when
  the finite history's maximisers include a policy better for R_I than any full-information
  maximiser (the data, by luck or by shift, select better than the objective would);
* **ambiguity** ≥ 0: how far the learner sits below the best maximiser of its own
  objective *while still within the range of the set* — the objective leaves the choice
  open, so where in the set the learner lands is the objective's underdetermination;
* **learner**: how far the learner falls below *every* maximiser of its own objective on
  its own data (≥ 0), or, when negative, how far it is above every maximiser (it does
  better for R_I than anything full optimisation would select).

The first three involve no learner beyond its position relative to the set: they change
only if the objective, its data, or its ties change — *outer*, in the seed's sense. The
last vanishes under full optimisation: *inner*.

Which M_B. The full-information limit of L_t is optimal where the data come from: the
*training* environment. For a deployment evaluation pass the training MDP as ``mdp_base``
(then A_B is the training argmax set carried to the deployment states by the caller).
The default, ``mdp_base = mdp_eval``, is right when M is the training environment.

In the tabular class an argmax set is a mask of allowed actions: the objective's optimal
actions on the states optimal play reaches, anything elsewhere
(:func:`~.restricted.argmax_set_allowed`), and a range over it is two exact restricted
solves (:func:`behaviour_range`). In the linear-softmax class it is a finite set of limit
policies (:class:`~mesabase.theory.LinearClass`), and a range is a min and max over them.

**Behaviours.** A behaviour is a number attached to a policy. Here it is reward-form: the
expected discounted sum of a behaviour reward b[s, a] in M, J_b(π) = μ0ᵀ V^π_b (b = 1 on the
step a key is picked up: expected discounted keys; (1 − γ)·J_b is a rate). Reward form
makes its range over an argmax set an exact MDP solve (:func:`behaviour_range`); for any
other statistic of (policy, MDP) compute the range by other means (e.g. enumeration) and
pass the numbers to :func:`verdict`, which only compares numbers.

**Verdicts, one rule.** A policy *shows* B when its value is ≥ θ (``threshold``), within
``atol`` (≥ θ − atol, so values equal to θ in exact arithmetic count). Per seed and step:
"outer" when some maximiser of L_t shows B (hi ≥ θ): the objective, on this data, selects
it, whatever the learner does; "inner" when the learner shows B and no maximiser does (hi <
θ): full optimisation would not; "none" when neither does. A state the history never saw
(a deployment state, say) is left free by L_t in the tabular class, so if acting on B there
is consistent with maximising L_t the objective did not rule B out: underdetermination
counts as outer, as the seed argues. Fractions across seeds carry exact (Clopper–Pearson)
binomial confidence intervals.

Reference: E. Hubinger et al., "Risks from learned optimization in advanced machine learning
systems", arXiv:1906.01820 (2019), for the outer/inner split; C. J. Clopper and E. S.
Pearson, Biometrika 26(4), 1934, for the intervals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import numpy as np
from scipy.stats import beta

from ..evaluation import expected_returns, reward_array
from ..mdp import InvalidMDP, TabularMDP
from ..solvers.iteration import solve
from .restricted import argmax_set_allowed, restricted_optima

__all__ = ["Decomposition", "decompose", "four_gaps", "behaviour_values", "behaviour_range",
           "Verdict", "verdict", "Proportion", "proportion", "verdict_fractions",
           "behaviour_verdicts", "LABELS"]

LABELS = ("outer", "inner", "none")


class Decomposition(NamedTuple):
    """The four-term decomposition (module docstring); (N, R) = (seeds, recorded steps)."""

    misspecification_gap: np.ndarray  # (N, R) J_I(π_I*) − M
    data_gap: np.ndarray              # (N, R) M − M_t
    ambiguity_gap: np.ndarray         # (N, R) M_t − clip(J_I(π_θt), m_t, M_t)
    learner_gap: np.ndarray           # (N, R) clip(J_I(π_θt), m_t, M_t) − J_I(π_θt)
    total: np.ndarray                 # (N, R) J_I(π_I*) − J_I(π_θt), computed directly
    J_intended: float                 # J_I(π_I*)
    J_base_range: tuple[float, float]  # (m, M): J_I over A_B
    J_history_min: np.ndarray         # (N, R) m_t: min of J_I over A_t
    J_history_max: np.ndarray         # (N, R) M_t: max of J_I over A_t
    J_learner: np.ndarray             # (N, R) J_I(π_θt)

    @property
    def outer(self) -> np.ndarray:
        """misspecification + data + ambiguity: what the objective selects."""
        return self.misspecification_gap + self.data_gap + self.ambiguity_gap


def four_gaps(J_intended, base_range, history_min, history_max, J_learner, *,
              atol: float = 1e-9) -> Decomposition:
    """The four terms from the numbers they are made of (module docstring).

    Args:
      J_intended: J_I(π_I*), a float.
      base_range: (m, M), the range of J_I over A_B.
      history_min, history_max: m_t and M_t, any shape (e.g. (N, R)).
      J_learner: J_I(π_θt), broadcastable with them.
      atol: ranges with lo > hi + atol, or a set better than π_I* by more than atol, are
        refused (they are not ranges of a policy set; π_I* is optimal over all policies).

    Example:
      >>> d = four_gaps(1.0, (0.2, 0.9), [0.5], [0.8], [0.3])
      >>> [round(float(x[0]), 12) for x in (d.misspecification_gap, d.data_gap,
      ...                                   d.ambiguity_gap, d.learner_gap, d.total)]
      [0.1, 0.1, 0.3, 0.2, 0.7]
    """
    J = float(J_intended)
    m, M = (float(x) for x in base_range)
    lo, hi, v = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64)
                                      for x in (history_min, history_max, J_learner)))
    if m > M + atol or (lo > hi + atol).any():
        raise ValueError(f"a range has min > max: base ({m}, {M}); history "
                         f"min - max up to {float(np.max(lo - hi, initial=0.0))}")
    if max(M, float(np.max(hi, initial=-np.inf))) > J + atol:
        raise ValueError(f"a maximiser's J_I exceeds J_I(pi_I*) = {J}: pass the intended "
                         "optimum over all policies")
    clipped = np.clip(v, lo, np.maximum(lo, hi))
    return Decomposition(
        misspecification_gap=np.full(v.shape, J - M), data_gap=M - hi,
        ambiguity_gap=hi - clipped, learner_gap=clipped - v, total=J - v, J_intended=J,
        J_base_range=(m, M), J_history_min=lo.copy(), J_history_max=hi.copy(),
        J_learner=v.copy())


def behaviour_values(mdp: TabularMDP, reward, policies, *, per_step: bool = False):
    """J_b(π) = μ0ᵀ V^π_b for a stack of policies, by exact policy evaluation.

    ``policies`` has shape (..., S, A), or (..., H, S, A) with ``per_step=True`` for a
    finite horizon; the result has the leading shape (...). ``reward`` is b[s, a].
    """
    r = reward_array(mdp, reward)
    pi = np.asarray(policies, dtype=np.float64)
    S, A, H = mdp.n_states, mdp.n_actions, mdp.horizon
    trailing = (H, S, A) if per_step else (S, A)
    if per_step and H is None:
        raise InvalidMDP("per_step=True needs a finite-horizon MDP")
    if pi.ndim < len(trailing) or pi.shape[pi.ndim - len(trailing):] != trailing:
        raise InvalidMDP(f"policies must have trailing shape {trailing}; got {pi.shape}")
    lead = pi.shape[:pi.ndim - len(trailing)]
    flat = pi.reshape((-1,) + trailing)
    if not per_step:
        return expected_returns(mdp, flat, r).reshape(lead)
    bad = (flat < 0).any(axis=-1) | (np.abs(flat.sum(-1) - 1) > 1e-9)
    if bad.any():
        i = tuple(int(j) for j in np.argwhere(bad)[0])
        raise InvalidMDP(f"policies[{', '.join(map(str, i))}, :] is not a distribution")
    V = np.zeros((flat.shape[0], S))
    for t in range(H - 1, -1, -1):
        PV = np.asarray(mdp.P_matrix @ V.T).T.reshape(-1, S, A)
        V = (flat[:, t] * (r + mdp.gamma * PV)).sum(-1)
    return (V @ mdp.mu0).reshape(lead)


def behaviour_range(mdp: TabularMDP, reward, allowed, *, per_step: bool = False):
    """``(lo, hi)``: min and max of J_b(π) = μ0ᵀ V^π_b over policies restricted to ``allowed``.

        hi = max_{π ∈ Π(allowed)} J_b(π),   lo = −max_{π ∈ Π(allowed)} J_{−b}(π)

    Two exact restricted solves (:func:`~mesabase.theory.attribution.restricted.restricted_optima`);
    deterministic Markov policies attain both, and every stochastic policy in Π(allowed)
    lies between them. ``allowed`` is bool (..., S, A) (or (..., H, S, A) with
    ``per_step=True``); ``lo`` and ``hi`` have its leading shape.

    Example:
      >>> mdp = TabularMDP(np.ones((1, 3, 1)), [[0.0, 0.0, 0.0]], gamma=0.5)
      >>> lo, hi = behaviour_range(mdp, [[0.0, 1.0, 2.0]], np.array([[True, True, False]]))
      >>> float(lo), float(hi)
      (0.0, 2.0)
    """
    r = reward_array(mdp, reward)
    hi = restricted_optima(mdp, allowed, r, per_step=per_step)
    lo = 0.0 - restricted_optima(mdp, allowed, -r, per_step=per_step)  # no −0.0
    return lo, hi


def _exact_solve(mdp: TabularMDP, R: np.ndarray):
    return solve(mdp.with_reward(R), method="backward" if mdp.horizon is not None else "pi")


def _check_batch(name: str, pi, mdp: TabularMDP) -> np.ndarray:
    pi = np.asarray(pi, dtype=np.float64)
    S, A, H = mdp.n_states, mdp.n_actions, mdp.horizon
    ok = pi.ndim == 4 and pi.shape[2:] == (S, A)
    ok = ok or (H is not None and pi.ndim == 5 and pi.shape[2:] == (H, S, A))
    if not ok:
        extra = f" or (N, R, {H}, {S}, {A})" if H is not None else ""
        raise InvalidMDP(f"{name} must have shape (N, R, {S}, {A}){extra}; got {pi.shape}")
    return pi


def decompose(mdp_eval: TabularMDP, R_I, R_B, argmax_t, pi_learner, *,
              mdp_base: TabularMDP | None = None) -> Decomposition:
    """The exact four-term decomposition of intended regret in the tabular class (module
    docstring).

    Args:
      mdp_eval: M, the evaluation environment (training or deployment).
      R_I: intended reward R_I[s, a].
      R_B: base reward R_B[s, a] (the learner's).
      argmax_t: A_t at each seed and recorded step: a bool mask of allowed actions
        (N, R, S, A) or (N, R, H, S, A) (:func:`~.restricted.argmax_set_allowed`; the
        range over it is two restricted solves), or float policies of that shape, each
        then the one-policy set {π*_t} (m_t = M_t = J_I(π*_t): a tie-break is then yours).
      pi_learner: π_θt[n, r, s, a], same leading shape.
      mdp_base: M_B, where A_B is optimal for R_B (default ``mdp_eval``). Same S, A and
        horizon as M.

    Returns:
      A :class:`Decomposition`; the four terms sum to ``total`` up to floating-point
      rounding (tested to 1e-9).

    Example:
      >>> bandit = TabularMDP(np.ones((1, 2, 1)), [[0.0, 0.0]], gamma=0.5)
      >>> both = np.ones((1, 1, 1, 2), dtype=bool)                # A_t: every policy
      >>> d = decompose(bandit, [[1.0, 0.0]], [[1.0, 1.0]], both, np.eye(2)[None, None, [1]])
      >>> [float(x[0, 0]) for x in (d.misspecification_gap, d.data_gap, d.ambiguity_gap,
      ...                           d.learner_gap)]
      [0.0, 0.0, 2.0, 0.0]
    """
    base = mdp_eval if mdp_base is None else mdp_base
    if base.R.shape != mdp_eval.R.shape or base.horizon != mdp_eval.horizon:
        raise InvalidMDP(f"mdp_base ({base!r}) must have the same S, A and horizon as "
                         f"mdp_eval ({mdp_eval!r})")
    R_I, R_B = reward_array(mdp_eval, R_I), reward_array(base, R_B)
    mask = np.asarray(argmax_t).dtype == bool
    hist = _check_batch("argmax_t", argmax_t, mdp_eval)
    learn = _check_batch("pi_learner", pi_learner, mdp_eval)
    if hist.shape[:2] != learn.shape[:2]:
        raise InvalidMDP(f"argmax_t has (N, R) = {hist.shape[:2]} but pi_learner has "
                         f"{learn.shape[:2]}")
    per_step = mdp_eval.horizon is not None
    sol_I, sol_B = _exact_solve(mdp_eval, R_I), _exact_solve(base, R_B)
    J_star = float(behaviour_values(mdp_eval, R_I, sol_I.policy, per_step=per_step))
    allowed_B = argmax_set_allowed(sol_B.optimal, P=base.P, mu0=base.mu0, gamma=base.gamma,
                                   horizon=base.horizon)
    m, M = behaviour_range(mdp_eval, R_I, allowed_B, per_step=per_step)
    if mask:
        flat = hist.reshape((-1,) + hist.shape[2:]) > 0.5
        lo, hi = (np.asarray(x).reshape(hist.shape[:2]) for x in
                  behaviour_range(mdp_eval, R_I, flat, per_step=hist.ndim == 5))
    else:
        lo = hi = behaviour_values(mdp_eval, R_I, hist, per_step=hist.ndim == 5)
    J_learn = behaviour_values(mdp_eval, R_I, learn, per_step=learn.ndim == 5)
    return four_gaps(J_star, (float(m), float(M)), lo, hi, J_learn)


class Verdict(NamedTuple):
    """Per-seed (and step) verdicts, with the numbers they came from."""

    label: np.ndarray                # str: "outer" | "inner" | "none"
    learner_shows: np.ndarray        # bool: learner_value ≥ θ − atol
    some_optimal_shows: np.ndarray   # bool: hi ≥ θ − atol (the objective allows B)
    every_optimal_shows: np.ndarray  # bool: lo ≥ θ − atol (the objective forces B)
    learner_value: np.ndarray        # J_b(π_θt)
    lo: np.ndarray                   # min of J_b over argmax L_t
    hi: np.ndarray                   # max of J_b over argmax L_t
    threshold: float                 # θ


def verdict(learner_value, lo, hi, threshold: float, *, atol: float = 1e-9) -> Verdict:
    """Outer / inner / none for one behaviour, elementwise (module docstring).

    Args:
      learner_value: J_b of the learner, any shape (e.g. (N,) seeds or (N, R)).
      lo, hi: min and max of J_b over argmax L_t (:func:`behaviour_range`), broadcastable.
      threshold: θ; a policy shows the behaviour when its value is ≥ θ − atol.

    Example:
      >>> verdict([1.0, 1.0, 0.0, 0.0], [0.0] * 4, [1.0, 0.0, 1.0, 0.0], 0.5).label.tolist()
      ['outer', 'inner', 'outer', 'none']
    """
    v, lo, hi = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in
                                      (learner_value, lo, hi)))
    if (lo > hi + atol).any():
        i = tuple(int(j) for j in np.argwhere(lo > hi + atol)[0])
        raise ValueError(f"lo {lo[i]} > hi {hi[i]} at index {i}")
    shows, some, every = v >= threshold - atol, hi >= threshold - atol, lo >= threshold - atol
    label = np.where(some, "outer", np.where(shows, "inner", "none"))
    return Verdict(label, shows, some, every, v, lo, hi, float(threshold))


class Proportion(NamedTuple):
    """k of n, with an exact two-sided Clopper–Pearson interval."""

    fraction: np.ndarray  # k / n
    low: np.ndarray
    high: np.ndarray
    count: np.ndarray     # k
    n: int


def proportion(mask, axis: int = 0, confidence: float = 0.95) -> Proportion:
    """Fraction of True along ``axis`` with the exact binomial (Clopper–Pearson) interval

        low = Beta⁻¹(α/2; k, n − k + 1),   high = Beta⁻¹(1 − α/2; k + 1, n − k),   α = 1 − c,

    with low = 0 when k = 0 and high = 1 when k = n (as
    ``scipy.stats.binomtest(k, n).proportion_ci(c, method="exact")``).
    """
    m = np.asarray(mask, dtype=bool)
    n = m.shape[axis]
    if n == 0 or not 0 < confidence < 1:
        raise ValueError(f"need n >= 1 and 0 < confidence < 1; got n={n}, {confidence}")
    k = m.sum(axis=axis)
    a = 1.0 - confidence
    low = np.where(k > 0, beta.ppf(a / 2, np.maximum(k, 1), n - k + 1), 0.0)
    high = np.where(k < n, beta.ppf(1 - a / 2, k + 1, np.maximum(n - k, 1)), 1.0)
    return Proportion(k / n, low, high, k, n)


def verdict_fractions(v: Verdict, axis: int = 0,
                      confidence: float = 0.95) -> dict[str, Proportion]:
    """Across seeds (``axis``): the fraction of each label ("outer", "inner", "none") and of
    ``learner_shows``, ``some_optimal_shows``, ``every_optimal_shows``, each a
    :class:`Proportion` with its Clopper–Pearson interval."""
    out = {lab: proportion(v.label == lab, axis, confidence) for lab in LABELS}
    for f in ("learner_shows", "some_optimal_shows", "every_optimal_shows"):
        out[f] = proportion(getattr(v, f), axis, confidence)
    return out


def behaviour_verdicts(mdp_eval: TabularMDP, behaviours: Mapping[str, np.ndarray],
              thresholds: Mapping[str, float], pi_learner, allowed, *,
              per_step_policy: bool = False, per_step_allowed: bool = False,
              atol: float = 1e-9) -> dict[str, Verdict]:
    """A :class:`Verdict` per named behaviour b[s, a] in M = ``mdp_eval``: the learner's
    value (:func:`behaviour_values`) against the range over the argmax set ``allowed``
    (:func:`behaviour_range`; build it with
    :func:`~.restricted.argmax_set_allowed`). ``pi_learner`` (..., S, A) and
    ``allowed`` (..., S, A) share their leading shape (e.g. (N, R)); the flags select the
    per-step forms (..., H, S, A) of a finite horizon."""
    out = {}
    for name, b in behaviours.items():
        value = behaviour_values(mdp_eval, b, pi_learner, per_step=per_step_policy)
        lo, hi = behaviour_range(mdp_eval, b, allowed, per_step=per_step_allowed)
        out[name] = verdict(value, lo, hi, thresholds[name], atol=atol)
    return out
