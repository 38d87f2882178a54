"""Revealed objectives: the set of rewards under which a given policy is optimal.

A learned policy need not pursue the reward it was trained on ("utility ≠ reward"); what it
*reveals* is the set of rewards it is optimal for. For a finite MDP this set is a
polyhedral cone (Ng & Russell 2000, Theorem 3), computed here exactly.

Rewards. R = Φ w with a basis Φ[s, a, k] and weights w ∈ ℝᵏ: ``"state_action"`` (the
default: one-hot, R[s, a] = w[s·A + a]), ``"state"`` (R[s, a] = w[s], Ng & Russell's
setting) or any feature array φ(s, a) ∈ ℝᵏ of shape (S, A, k). Entries at pairs the MDP's
action mask disallows are never read.

Support. For a policy π and ε ∈ (0, 1], supp_ε(s) = {a : π(a|s) ≥ ε} (ε = 1e-9 by default:
the support up to rounding; a deterministic policy has one action). The set is

    𝓡(π, ε) = {R : every a ∈ supp_ε(s) is optimal in s under R, for every state s}.

Theorem (the cone). Let π_ε be π restricted to supp_ε and renormalised, and Q^{π_ε}_R its
action values. Then R ∈ 𝓡(π, ε) ⇔ Q^{π_ε}_R(s, a) ≥ Q^{π_ε}_R(s, a') for every s,
a ∈ supp_ε(s) and allowed a' ≠ a. (⇒: π_ε is then optimal, so Q^{π_ε} = Q*. ⇐: the
support actions have equal Q^{π_ε}, the largest in s, so V^{π_ε} solves Bellman's
optimality equation and V^{π_ε} = V*.) Infinite horizon (γ < 1),

    Q^{π_ε}_R = R + γ P (I − γ P_{π_ε})⁻¹ R_{π_ε},    R_{π_ε}(s) = Σ_a π_ε(a|s) R[s, a],

is linear in R, so 𝓡 ∩ span Φ = {Φ w : D w ≥ 0}, one row of D per triple (s, a, a') — the
*margin* Q(s, a) − Q(s, a'). With state rewards and a deterministic π this is Ng &
Russell's condition (P_π − P_a)(I − γ P_π)⁻¹ R ⪰ 0, times γ. A pair with both actions in
the support gives two opposite rows: an equality. Potential shaping R + γ P Φ − Φ
(Ng, Harada & Russell 1999) shifts every Q(s, ·) by −Φ(s) and leaves every margin, so the
set, unchanged (for bases whose span contains the shaping terms, e.g. state-action).

Finite horizon H (γ ∈ [0, 1]): the reward is stationary, R[s, a] at every step; the policy
is stationary (S, A) — then played at every step — or per-step (H, S, A), and the set
requires supp_ε(π_t(s)) to be optimal at *every* step t and state s (reachable or not, as
in Ng & Russell). Q_t^{π_ε} = R + γ P V_{t+1}, V_t = Σ_a π_ε,t Q_t, V_H = 0: linear in R,
one row of D per (t, s, a, a'). Terminal values must be 0 (a nonzero one would make the
set affine, not a cone). γ = 1 without a horizon is refused.

:class:`RevealedSet` holds D and answers: :meth:`~RevealedSet.contains` (margins computed
directly from R, with a floating-point or exact certificate), and the programs of
:mod:`.revealed_lp` (cvxpy): :meth:`~RevealedSet.max_margin` (Ng & Russell's LP),
:meth:`~RevealedSet.distance` and :meth:`~RevealedSet.trivial` (each tries a chain of solvers
and raises :class:`~.revealed_lp.SolverFailed`, naming the program, only when all fail).

References: A. Y. Ng and S. Russell, "Algorithms for inverse reinforcement learning", ICML
2000. A. Y. Ng, D. Harada and S. Russell, "Policy invariance under reward transformations:
theory and application to reward shaping", ICML 1999.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from .checks import real_array
from .evaluation import check_policy, discounted_solve, evaluate
from .mdp import InvalidMDP, TabularMDP, to_fraction
from .revealed_lp import (
    MaxMargin,
    Nearest,
    SolverFailed,
    distance_program,
    max_margin_program,
    strict_program,
)
from .solvers import evaluate_exact
from .solvers.certificate import higham_gamma, mdp_rounding

__all__ = ["RevealedSet", "Membership", "MaxMargin", "Nearest", "revealed_rewards",
           "BASES", "shaping_term", "SolverFailed"]

#: The named bases: one-hot state-action rewards, and state-only rewards.
BASES = ("state_action", "state")
#: Largest constraint matrix (rows × basis size) built, so that a mistake does not fill memory.
MAX_ENTRIES = 50_000_000
_U = 2.0**-53


@dataclass(frozen=True)
class Membership:
    """Whether R ∈ 𝓡(π, ε), with the evidence (:meth:`RevealedSet.contains`).

    ``margin`` = min over the set's triples of Q^{π_ε}_R(t, s, a) − Q^{π_ε}_R(t, s, a')
    as computed in float64 (+inf when there are no triples); ``interval`` = (lo, hi)
    bounds on the true minimum margin: the float value ∓ a rounding bound, or the exact
    value twice when computed in rationals (``exact`` holds it: a Fraction, for R and the
    MDP read as rationals by :func:`~mesabase.theory.rationals.float_to_fraction`).
    ``worst``: every triple (t, s, a, a') (t = 0 for an infinite horizon) whose margin is
    within ``tol`` of the minimum. ``span_residual`` = ‖Φ w − R‖∞ over the allowed pairs
    at w from :meth:`RevealedSet.weights_of` (0 for the one-hot basis). ``member`` =
    span_residual ≤ tol and the minimum margin (``exact`` when computed, else ``margin``)
    ≥ −tol;
    ``certain``: the margin certificate decides it without ``tol`` — hi < 0 (certainly
    not a member), or lo ≥ 0 for a member (an exact minimum of 0, a tie, counts)."""

    member: bool
    margin: float
    interval: tuple[float, float]
    exact: Fraction | None
    worst: tuple[tuple[int, int, int, int], ...]
    span_residual: float
    tol: float
    certain: bool

    def __bool__(self) -> bool:
        return self.member


def shaping_term(mdp: TabularMDP, potential) -> np.ndarray:
    """F[s, a] = γ Σ_s' P[s, a, s'] Φ(s') − Φ(s): the expected potential-based shaping
    reward of Ng, Harada & Russell (1999), shape (S, A). Adding it to R changes no
    optimal policy (infinite horizon; with a finite horizon only when Φ = 0 at the end,
    which a stationary potential does not give — the last step's term is then not
    telescoped away)."""
    phi = real_array(potential, "potential", error=InvalidMDP)
    if phi.shape != (mdp.n_states,):
        raise ValueError(f"potential must have shape ({mdp.n_states},); got {phi.shape}")
    PV = np.asarray(mdp.P_matrix @ phi).reshape(mdp.n_states, mdp.n_actions)
    return mdp.gamma * PV - phi[:, None]


def _basis(mdp: TabularMDP, basis) -> tuple[np.ndarray, str]:
    """Φ as an (S·A, k) float array (zero rows at disallowed pairs) and its name."""
    S, A = mdp.n_states, mdp.n_actions
    if basis is None or (isinstance(basis, str) and basis == "state_action"):
        Phi, name = np.eye(S * A), "state_action"
    elif isinstance(basis, str):
        if basis != "state":
            raise ValueError(f"basis must be one of {BASES} or an (S, A, k) array; got "
                             f"{basis!r}")
        Phi, name = np.repeat(np.eye(S), A, axis=0), "state"
    else:
        B = real_array(basis, "basis", error=ValueError)
        if B.ndim == 2:
            B = B[..., None]
        if B.ndim != 3 or B.shape[:2] != (S, A) or B.shape[2] == 0:
            raise ValueError(f"basis must have shape ({S}, {A}, k) with k >= 1 (features "
                             f"phi(s, a)); got {np.shape(basis)}")
        if not np.isfinite(B).all():
            raise ValueError("basis has non-finite entries")
        Phi, name = np.array(B.reshape(S * A, -1)), "features"
    if mdp.is_masked:
        Phi = Phi * mdp.allowed.reshape(-1, 1)
    return Phi, name


def _policy(mdp: TabularMDP, policy) -> np.ndarray:
    """π as float probabilities, (S, A) or (H, S, A); integer actions become one-hot."""
    arr = np.asarray(policy)
    S, A = mdp.n_states, mdp.n_actions
    if arr.dtype.kind in "iu" and arr.ndim in (1, 2) and arr.shape[-1] == S and not (
            arr.ndim == 2 and arr.shape == (S, A)):
        if arr.size and (arr.min() < 0 or arr.max() >= A):
            raise ValueError(f"policy actions must lie in 0..{A - 1}; got {arr.min()}.."
                             f"{arr.max()}")
        arr = (arr[..., None] == np.arange(A)).astype(np.float64)
    return check_policy(mdp, arr)


def _support(pi: np.ndarray, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """(supp_ε, π_ε): the ε-support (bool) and π restricted to it, renormalised."""
    if not (isinstance(eps, (int, float)) and 0.0 < float(eps) <= 1.0):
        raise ValueError(f"eps must be a number in (0, 1]; got {eps!r}")
    supp = pi >= eps
    empty = ~supp.any(axis=-1)
    if empty.any():
        i = tuple(int(j) for j in np.argwhere(empty)[0])
        raise ValueError(f"eps = {eps} exceeds every probability of policy[{i}] (largest "
                         f"{float(pi[i].max())}): no action is played with probability >= eps")
    pe = np.where(supp, pi, 0.0)
    return supp, pe / pe.sum(axis=-1, keepdims=True)


def _q_maps(mdp: TabularMDP, pi_eps: np.ndarray, Phi: np.ndarray) -> np.ndarray:
    """G (T, S·A, k) with Q^{π_ε}_t = G_t w for R = Φ w (T = 1, or H for a horizon)."""
    S, A, g = mdp.n_states, mdp.n_actions, mdp.gamma
    k = Phi.shape[1]
    Pm = mdp.P_matrix

    def weigh(p):  # Π Φ: (S, k), Π[s, s·A + a] = p(a|s)
        return (p[:, :, None] * Phi.reshape(S, A, k)).sum(axis=1)

    if mdp.horizon is None:
        X = discounted_solve(mdp, pi_eps, weigh(pi_eps))
        return (Phi + g * np.asarray(Pm @ X))[None]
    H = mdp.horizon
    G = np.empty((H, S * A, k))
    W = np.zeros((S, k))
    for t in range(H - 1, -1, -1):
        G[t] = Phi + g * np.asarray(Pm @ W)
        pt = pi_eps if pi_eps.ndim == 2 else pi_eps[t]
        W = (pt[:, :, None] * G[t].reshape(S, A, k)).sum(axis=1)
    return G


def revealed_rewards(mdp: TabularMDP, policy, basis=None, *, eps: float = 1e-9) -> RevealedSet:
    """The set of rewards R = Φ w under which ``policy``'s actions are all optimal.

    Args:
      mdp: a :class:`TabularMDP` (its own reward is not used), γ < 1 or a finite horizon.
      policy: ``pi[s, a]`` (S, A), per-step ``pi[t, s, a]`` (H, S, A) with a horizon, or
        integer actions (S,) / (H, S) (an integer array of shape (S, A) is read as
        probabilities).
      basis: ``None`` or ``"state_action"`` (one-hot, the default), ``"state"``, or
        features φ (S, A, k).
      eps: actions played with probability ≥ eps must be optimal (module docstring).

    Returns:
      A :class:`RevealedSet`: {Φ w : D w ≥ 0}.

    Raises:
      ValueError: γ = 1 with no horizon, nonzero terminal values, a bad basis, policy or
        eps (InvalidMDP, a ValueError, for a malformed policy), or a constraint matrix
        over :data:`MAX_ENTRIES` entries.

    Example:
      >>> P = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [0.0, 1.0]]])
      >>> mdp = TabularMDP(P, np.zeros((2, 2)), gamma=0.5)
      >>> rs = revealed_rewards(mdp, [1, 0], basis="state")   # go to state 1, stay there
      >>> bool(rs.contains([[0.0, 0.0], [1.0, 1.0]])), bool(rs.contains([[1.0, 1.0], [0.0, 0.0]]))
      (True, False)
    """
    if mdp.horizon is None and mdp.gamma >= 1.0:
        raise ValueError("revealed_rewards needs gamma < 1 or a finite horizon (with gamma = 1"
                         " and no horizon a reward's values may be undefined)")
    if mdp.horizon is not None and np.any(mdp.terminal != 0):
        raise ValueError("revealed_rewards needs zero terminal values: the reward is the only "
                         "unknown (nonzero terminal values make the set affine, not a cone)")
    pi = _policy(mdp, policy)
    supp, pi_eps = _support(pi, eps)
    S, A = mdp.n_states, mdp.n_actions
    T = 1 if mdp.horizon is None else mdp.horizon
    sup = np.broadcast_to(supp, (T, S, A))
    allowed = mdp.allowed
    # triples (t, s, a, a'): a in the support, a' allowed and a' != a
    pairs = np.argwhere(sup[..., :, None] & allowed[None, :, None, :]
                        & ~np.eye(A, dtype=bool)[None, None])
    if isinstance(basis, str) and basis not in BASES:
        raise ValueError(f"basis must be one of {BASES} or an (S, A, k) array; got {basis!r}")
    if basis is None or isinstance(basis, str):
        k = S if basis == "state" else S * A
    else:  # checked fully by _basis
        k = np.shape(basis)[-1] if np.ndim(basis) == 3 else 1
    if max(pairs.shape[0], T * S * A) * k > MAX_ENTRIES:
        raise ValueError(f"the constraint matrix would have {pairs.shape[0]} x {k} entries "
                         f"and the Q-maps {T * S * A} x {k} (limit {MAX_ENTRIES}); use a "
                         "smaller basis")
    Phi, name = _basis(mdp, basis)
    G = _q_maps(mdp, pi_eps, Phi)
    t, s, a, b = pairs.T
    D = G[t, s * A + a] - G[t, s * A + b]
    strict = ~sup[t, s, b]
    return RevealedSet(mdp, pi, pi_eps, supp, float(eps), Phi, name, pairs, D, strict)


class RevealedSet:
    """The cone {Φ w : D w ≥ 0} of rewards revealed by a policy (module docstring).

    Attributes (read-only arrays): ``mdp``, ``policy`` (as given, float), ``policy_eps``
    (π_ε), ``support`` (bool, the shape of the policy), ``eps``, ``basis`` (Φ as
    (S, A, k)), ``basis_name``, ``pairs`` (int (m, 4): rows (t, s, a, a')), ``D`` (m, k)
    and ``strict`` (bool (m,): a' outside the support, the pairs whose margin may be > 0).
    """

    def __init__(self, mdp, pi, pi_eps, supp, eps, Phi, name, pairs, D, strict):
        self.mdp, self.eps, self.basis_name = mdp, eps, name
        S, A = mdp.n_states, mdp.n_actions
        for attr, arr in (("policy", pi), ("policy_eps", pi_eps), ("support", supp),
                          ("pairs", pairs), ("D", D), ("strict", strict),
                          ("_Phi", Phi), ("basis", Phi.reshape(S, A, -1))):
            arr = np.asarray(arr)
            arr.setflags(write=False)
            setattr(self, attr, arr)

    @property
    def n_weights(self) -> int:
        """k, the number of basis functions."""
        return self._Phi.shape[1]

    def __repr__(self) -> str:
        return (f"RevealedSet({self.basis_name}, k={self.n_weights}, "
                f"{self.pairs.shape[0]} margins, {int(self.strict.sum())} strict, "
                f"eps={self.eps:g}, {self.mdp!r})")

    def reward(self, weights) -> np.ndarray:
        """R = Φ w, shape (S, A) (0 at disallowed pairs)."""
        w = real_array(weights, "weights", error=ValueError)
        if w.shape != (self.n_weights,):
            raise ValueError(f"weights must have shape ({self.n_weights},); got {w.shape}")
        return (self._Phi @ w).reshape(self.mdp.n_states, self.mdp.n_actions)

    def _reward_in(self, R) -> np.ndarray:
        r = real_array(R, "R", error=ValueError)
        shape = (self.mdp.n_states, self.mdp.n_actions)
        if r.shape != shape:
            raise ValueError(f"R must have shape {shape} (s, a); got {r.shape}")
        r = np.where(self.mdp.allowed, r, 0.0)
        if not np.isfinite(r).all():
            raise ValueError("R has non-finite entries at allowed pairs")
        return r

    def weights_of(self, R) -> tuple[np.ndarray, float]:
        """(w, ‖Φ w − R‖∞) over the allowed pairs: w = R for the one-hot basis, the mid-range
        of R(s, ·) for the state basis (the ∞-norm projection), least squares for features."""
        r = self._reward_in(R).reshape(-1)
        if self.basis_name == "state_action":
            return r.copy(), 0.0
        if self.basis_name == "state":  # w(s) = mid-range over the allowed actions: the ∞-min
            R2 = r.reshape(self.mdp.n_states, -1)
            ok = self.mdp.allowed
            hi, lo = np.where(ok, R2, -np.inf).max(axis=1), np.where(ok, R2, np.inf).min(axis=1)
            return lo + (hi - lo) / 2, float(((hi - lo) / 2).max())
        w = np.linalg.lstsq(self._Phi, r, rcond=None)[0]
        return w, float(np.max(np.abs(self._Phi @ w - r)))

    def _q(self, r: np.ndarray) -> tuple[np.ndarray, float]:
        """Q^{π_ε}_R as (T, S, A) floats and a bound on its rounding error (entrywise)."""
        mdp, pe = self.mdp, self.policy_eps
        V = evaluate(mdp, pe, r)
        rd = mdp_rounding(mdp, r)
        A = mdp.n_actions
        if mdp.horizon is None:
            Q = (r + mdp.gamma * np.asarray(mdp.P_matrix @ V).reshape(r.shape))[None]
            eq = rd.q_error(float(np.max(np.abs(V))))
            res = float(np.max(np.abs((pe * Q[0]).sum(axis=1) - V)))
            qn = float(np.max(np.abs(Q)))
            delta = res * (1 + 2 * _U) + eq + higham_gamma(A + 1) * (qn + float(np.abs(V).max()))
            omb = rd.one_minus_beta()
            err_v = delta / omb if omb > 0 else float("inf")
            return Q, (eq + rd.beta * err_v) * (1 + 8 * _U)
        H = mdp.horizon
        Q = np.stack([r + mdp.gamma * np.asarray(mdp.P_matrix @ V[t + 1]).reshape(r.shape)
                      for t in range(H)])
        err_v, worst = 0.0, 0.0
        for t in range(H - 1, -1, -1):
            err_q = rd.q_error(float(np.max(np.abs(V[t + 1])))) + rd.beta * err_v
            worst = max(worst, err_q)
            err_v = err_q + higham_gamma(A + 1) * float(np.max(np.abs(Q[t])))
        return Q, worst * (1 + 8 * _U)

    def margins(self, R) -> np.ndarray:
        """Q^{π_ε}_R(t, s, a) − Q^{π_ε}_R(t, s, a') at every row of ``pairs``, computed
        directly from R (a policy evaluation, not through D): (m,) floats."""
        Q, _ = self._q(self._reward_in(R))
        t, s, a, b = self.pairs.T
        return Q[t, s, a] - Q[t, s, b]

    def _exact_margins(self, r: np.ndarray) -> np.ndarray:
        mdp = self.mdp
        pe = np.vectorize(to_fraction, otypes=[object])(self.policy_eps)
        pe = pe / pe.sum(axis=-1, keepdims=True)  # rows sum to 1 exactly
        Re = np.vectorize(to_fraction, otypes=[object])(r)
        V = evaluate_exact(mdp, pe, Re)
        P, _, gamma, _ = mdp.exact_arrays()
        if mdp.horizon is None:
            Q = (Re + gamma * P.dot(V))[None]
        else:
            Q = np.stack([Re + gamma * P.dot(V[t + 1]) for t in range(mdp.horizon)])
        t, s, a, b = self.pairs.T
        return Q[t, s, a] - Q[t, s, b]

    def contains(self, R, tol: float = 1e-9, *, exact: bool | str = "auto") -> Membership:
        """Is R in the set? The margins of π_ε's actions under R, with a certificate.

        Membership of a given R needs no optimisation: every margin is a linear function
        of R itself, computed by one policy evaluation (:meth:`margins`). R must also lie
        in span Φ (least squares over the allowed pairs; exact for the one-hot basis).

        Certificate. Float64: the computed V of π_ε has a policy-evaluation residual δ;
        with E_Q the rounding bound of Q = R + γ P V and β ≥ γ ρ̄ (ρ̄ ≥ the row sums of P),
        ‖V − V^{π_ε}‖∞ ≤ (δ + E_Q + γ_{A+1}(‖Q‖∞ + ‖V‖∞))/(1 − β), each Q is then within
        ε_Q = E_Q + β‖V − V^{π_ε}‖∞ and each margin within 2 ε_Q (a finite horizon
        accumulates ε_Q over the steps). Exact (``exact=True``, or ``"auto"`` for a dense
        MDP with H·S·A ≤ 400 whose rows of P sum to exactly 1 as rationals — else "auto"
        falls back to floats): π_ε, R and the MDP are read as rationals
        (:func:`~mesabase.theory.rationals.float_to_fraction`) and the margins computed
        in rational arithmetic (:func:`~mesabase.theory.evaluate_exact`).

        Args:
          R: reward array (S, A) (entries at disallowed pairs ignored).
          tol: absolute tolerance for ``member`` (margin ≥ −tol, span residual ≤ tol).
          exact: True, False or "auto".

        Returns:
          A :class:`Membership` (truthy when ``member``).
        """
        if not (isinstance(tol, (int, float)) and tol >= 0):
            raise ValueError(f"tol must be a number >= 0; got {tol!r}")
        r = self._reward_in(R)
        _, resid = self.weights_of(r)
        mdp = self.mdp
        size = (mdp.horizon or 1) * mdp.n_states * mdp.n_actions
        use_exact = exact is True or (exact == "auto" and not mdp.is_sparse and size <= 400)
        if not self.pairs.shape[0]:
            m, interval, ex, worst = float("inf"), (float("inf"),) * 2, None, ()
        else:
            Q, err = self._q(r)
            t, s, a, b = self.pairs.T
            ms = Q[t, s, a] - Q[t, s, b]
            m = float(ms.min())
            e = 2 * err + 2 * _U * float(np.abs(ms).max())
            interval, ex = (m - e, m + e), None
            if use_exact:
                try:
                    ex = min(self._exact_margins(r))
                    interval = (float(ex), float(ex))
                except InvalidMDP:  # P's float rows do not sum to exactly 1 as rationals
                    if exact is True:
                        raise
            worst = tuple(tuple(int(x) for x in p) for p in self.pairs[ms <= m + tol])
        member = resid <= tol and (m if ex is None else ex) >= -tol
        certain = interval[1] < 0 or (member and interval[0] >= 0)
        return Membership(member=bool(member), margin=m, interval=interval, exact=ex,
                          worst=worst, span_residual=resid, tol=float(tol),
                          certain=bool(certain))

    def max_margin(self, l1: float = 0.0, r_max: float = 1.0, *, ranges: bool = False,
                   rel_tol: float = 1e-9) -> MaxMargin:
        """Ng & Russell's LP, generalised (:func:`~.revealed_lp.max_margin_program`):

            max_w  Σ_{t,s} min_{a' ∉ supp(s)} [Q(t, s, a) − Q(t, s, a')] − λ ‖w‖₁
            s.t.   D w ≥ 0,   |Φ w| ≤ r_max entrywise.

        Note the margins are γ × Ng & Russell's for state rewards, so their λ is γ λ here.
        ``ranges=True`` also returns, for every reward entry, its range over the LP's
        optimal face (objective within ``rel_tol``·(1 + |opt|) of the optimum)."""
        return max_margin_program(self, float(l1), float(r_max), ranges, float(rel_tol))

    def distance(self, R, norm: str = "l1") -> Nearest:
        """min ‖R' − R‖ over R' in the set, in ``norm`` ∈ {"l1", "linf", "l2"} over the
        allowed (s, a) entries (:func:`~.revealed_lp.distance_program`): the smallest change
        to R that makes the policy's actions optimal."""
        return distance_program(self, self._reward_in(R), norm)

    def trivial(self, tol: float = 1e-9) -> bool:
        """True when only degenerate rewards are in the set: rewards under which *every*
        action is optimal in every state (at every step), e.g. constants and potential
        shaping terms γ P Φ − Φ (their Q(s, ·) is constant in a). Decided by the LP
        max Σ_strict D w s.t. D w ≥ 0, D_strict w ≤ 1 (:func:`~.revealed_lp.strict_program`):
        trivial iff its value ≤ ``tol``, i.e. no reward in the set makes some action of
        the support strictly better than another action. A set with no strict pair (the
        support is every allowed action everywhere) is trivial."""
        return strict_program(self)[0] <= tol

    def strict_reward(self, tol: float = 1e-9) -> np.ndarray | None:
        """A reward in the set with the largest total strict margin (each ≤ 1), or None
        when the set is :meth:`trivial`."""
        value, R = strict_program(self)
        return None if value <= tol else R
