"""Attribution: the exact decomposition of intended regret, and outer/inner verdicts.

**Decomposition** (docs/concepts.md, "Outer vs inner"). With J_I(π) = μ0ᵀ V^π under the intended
reward R_I in an evaluation environment M (training or deployment), evaluated exactly,

    J_I(π_I*) − J_I(π_θt) = [J_I(π_I*) − J_I(π_B*)]    specification gap   (outer)
                          + [J_I(π_B*) − J_I(π*_t)]    history gap         (outer: the data's)
                          + [J_I(π*_t) − J_I(π_θt)]    learner gap         (inner)

* π_I* is optimal for R_I in M: what we intend.
* π_B* is optimal for the base reward R_B in the environment the base objective is
  optimised in, M_B (``mdp_base``): what the objective selects given full information.
* π*_t maximises the history objective L_t(π; H_t): what the objective selects given the
  data of the first t steps (the seed's "optimise to convergence before every action").
* π_θt is the incrementally updated learner.

Why outer or inner. The first two terms involve no learner: the specification gap is fixed
by R_B versus R_I (and by where R_B is optimised), the history gap by what fully optimising
the same objective on a finite history selects; both change only if the objective (or the
data it is fed) changes. That is the seed's sense of *outer*: the objective itself selects
the shortfall. The learner gap compares the learner with the maximiser of its own objective
on its own data: it vanishes under full optimisation, so it is *inner*. (The history was
collected by the learner, so its exploration shapes the history gap; the gap is still the
objective's verdict on that data.)

Which M_B. The full-information limit of L_t is optimal where the data come from: the
*training* environment. So for a deployment evaluation pass the training MDP as
``mdp_base``: the history gap then measures only what finite data change, and the
specification gap holds everything the base objective, optimised in training, gets wrong in
deployment — misspecification and distribution shift alike. (π_B* optimal in deployment is a
policy no amount of training data selects; using it would file the shift under "data".)
The default, ``mdp_base = mdp_eval``, is right when M is the training environment.

Ties. argmax is a set and J_I varies over it. The reported π_B* is uniform over the
R_B-optimal actions of every state (``Solution.policy``, as :func:`history_optimal` reports
π*_t); ``spec_gap_range`` is the exact range of the specification gap over the whole
argmax set of J_B in M_B (:func:`~mesabase.theory.attribution.restricted.argmax_set_allowed`: the
R_B-optimal actions on the states optimal play reaches from μ0, anything elsewhere), from two
restricted solves of R_I in M. π*_t is whichever maximiser the caller passes.

**Behaviours.** A behaviour is a number attached to a policy. Here it is reward-form: the
expected discounted sum of a behaviour reward b[s, a] in M, J_b(π) = μ0ᵀ V^π_b (b = 1 on the
step a key is picked up: expected discounted keys; (1 − γ)·J_b is a rate). Reward form
makes its range over an argmax set an exact MDP solve (:func:`behaviour_range`); for any
other statistic of (policy, MDP) compute the range by other means (e.g. enumeration) and
pass the numbers to :func:`verdict`, which only compares numbers.

**Verdicts.** A policy *shows* B when its value is ≥ θ (``threshold``), within ``atol``
(≥ θ − atol, so that values equal to θ in exact arithmetic count). Per seed and step:
"outer" when the learner shows B and some maximiser of L_t does (hi ≥ θ), "inner" when the
learner shows B and no maximiser does (hi < θ), "none" when the learner does not. The
argmax set is what L_t leaves free: its optimal actions where it constrains the policy,
every action at states it never visited or that optimal play never reaches. A state the
history never saw (a deployment state, say) is therefore free, and if acting on B there is
consistent with maximising L_t, the objective did not rule B out: underdetermination counts
as outer, as the seed argues. Fractions across seeds carry exact (Clopper–Pearson) binomial
confidence intervals.

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

__all__ = ["Decomposition", "decompose", "behaviour_values", "behaviour_range", "Verdict",
           "verdict", "Proportion", "proportion", "verdict_fractions", "behaviour_verdicts",
           "LABELS"]

LABELS = ("outer", "inner", "none")


class Decomposition(NamedTuple):
    """The three-term decomposition; (N, R) = (seeds, recorded steps)."""

    spec_gap: np.ndarray          # (N, R) J_I(π_I*) − J_I(π_B*), the same in every cell
    history_gap: np.ndarray       # (N, R) J_I(π_B*) − J_I(π*_t)
    learner_gap: np.ndarray       # (N, R) J_I(π*_t) − J_I(π_θt)
    total: np.ndarray             # (N, R) J_I(π_I*) − J_I(π_θt), computed directly
    J_intended: float             # J_I(π_I*)
    J_base: float                 # J_I(π_B*), π_B* uniform over R_B-optimal actions
    J_history: np.ndarray         # (N, R) J_I(π*_t)
    J_learner: np.ndarray         # (N, R) J_I(π_θt)
    J_base_range: tuple[float, float]    # (min, max) of J_I over argmax J_B in M_B
    spec_gap_range: tuple[float, float]  # (min, max) spec gap over argmax J_B in M_B


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


def decompose(mdp_eval: TabularMDP, R_I, R_B, pi_star_t, pi_learner, *,
              mdp_base: TabularMDP | None = None) -> Decomposition:
    """The exact three-term decomposition of intended regret (module docstring).

    Args:
      mdp_eval: M, the evaluation environment (training or deployment).
      R_I: intended reward R_I[s, a].
      R_B: base reward R_B[s, a] (the learner's).
      pi_star_t: π*_t[n, r, s, a] (N seeds, R recorded steps), or (N, R, H, S, A).
      pi_learner: π_θt[n, r, s, a], same leading shape.
      mdp_base: M_B, where π_B* is optimal for R_B (default ``mdp_eval``; pass the training
        MDP when ``mdp_eval`` is a deployment environment). Same S, A and horizon as M.

    Returns:
      A :class:`Decomposition`; ``spec_gap + history_gap + learner_gap == total`` up to
      floating-point rounding (tested to 1e-9).

    Example:
      >>> bandit = TabularMDP(np.ones((1, 2, 1)), [[0.0, 0.0]], gamma=0.5)
      >>> arm = lambda a: np.eye(2)[None, None, None, a]            # shape (1, 1, 1, 2)
      >>> d = decompose(bandit, [[1.0, 0.0]], [[0.0, 1.0]], arm(1), arm(1))
      >>> float(d.spec_gap[0, 0]), float(d.history_gap[0, 0]), float(d.total[0, 0])
      (2.0, 0.0, 2.0)
    """
    base = mdp_eval if mdp_base is None else mdp_base
    if base.R.shape != mdp_eval.R.shape or base.horizon != mdp_eval.horizon:
        raise InvalidMDP(f"mdp_base ({base!r}) must have the same S, A and horizon as "
                         f"mdp_eval ({mdp_eval!r})")
    R_I, R_B = reward_array(mdp_eval, R_I), reward_array(base, R_B)
    hist = _check_batch("pi_star_t", pi_star_t, mdp_eval)
    learn = _check_batch("pi_learner", pi_learner, mdp_eval)
    if hist.shape[:2] != learn.shape[:2]:
        raise InvalidMDP(f"pi_star_t has (N, R) = {hist.shape[:2]} but pi_learner has "
                         f"{learn.shape[:2]}")
    per_step = mdp_eval.horizon is not None
    sol_I, sol_B = _exact_solve(mdp_eval, R_I), _exact_solve(base, R_B)
    J_star = float(behaviour_values(mdp_eval, R_I, sol_I.policy, per_step=per_step))
    J_base = float(behaviour_values(mdp_eval, R_I, sol_B.policy, per_step=per_step))
    allowed_B = argmax_set_allowed(sol_B.optimal, P=base.P, mu0=base.mu0, gamma=base.gamma,
                                   horizon=base.horizon)
    lo, hi = behaviour_range(mdp_eval, R_I, allowed_B, per_step=per_step)
    J_hist = behaviour_values(mdp_eval, R_I, hist, per_step=hist.ndim == 5)
    J_learn = behaviour_values(mdp_eval, R_I, learn, per_step=learn.ndim == 5)
    spec = np.full(J_hist.shape, J_star - J_base)
    return Decomposition(
        spec_gap=spec, history_gap=J_base - J_hist, learner_gap=J_hist - J_learn,
        total=J_star - J_learn, J_intended=J_star, J_base=J_base, J_history=J_hist,
        J_learner=J_learn, J_base_range=(float(lo), float(hi)),
        spec_gap_range=(J_star - float(hi), J_star - float(lo)))


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
      >>> verdict([1.0, 1.0, 0.0], [0.0, 0.0, 0.0], [1.0, 0.0, 1.0], 0.5).label.tolist()
      ['outer', 'inner', 'none']
    """
    v, lo, hi = np.broadcast_arrays(*(np.asarray(x, dtype=np.float64) for x in
                                      (learner_value, lo, hi)))
    if (lo > hi + atol).any():
        i = tuple(int(j) for j in np.argwhere(lo > hi + atol)[0])
        raise ValueError(f"lo {lo[i]} > hi {hi[i]} at index {i}")
    shows, some, every = v >= threshold - atol, hi >= threshold - atol, lo >= threshold - atol
    label = np.where(shows, np.where(some, "outer", "inner"), "none")
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
