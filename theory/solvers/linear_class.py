"""π*_t in the learner's own policy class: exact optimisation over linear-softmax policies.

The class. Features φ[s, a] ∈ ℝᵈ (an (S, A, d) array) define π_θ(a|s) ∝ exp(θ·φ(s, a)).
Its closure contains, for every θ, the *limit policy*

    lim_{c→∞} softmax(c φθ)(·|s) = uniform over argmax_a θ·φ(s, a)          (each state s).

Faces. The argmax sets depend on θ only through the signs of θ·(φ(s, a) − φ(s, a′)), so
the limit policies are constant on the faces of the central hyperplane arrangement
{θ : θ·n_h = 0}, n_h ranging over the difference vectors φ(s, a) − φ(s, a′) of every
state, with identical and antiparallel directions merged (equal to 12 digits after
scaling the largest entry to 1) and zero differences dropped (actions with identical
features are always tied). A face is a sign vector σ ∈ {−, 0, +}ⁿ realised by some θ.
They are enumerated exactly, hyperplane by hyperplane: each face C of the first k
hyperplanes, with a witness θ ∈ C, meets the open side of n_{k+1} that the witness lies
on; the other side is tested by a linear program (HiGHS: the equalities of σ and
σ_h θ·n_h ≥ 1 for its strict signs — margin 1 by scaling the cone), and C meets the
hyperplane itself iff it meets both sides (C is relatively open and convex) or lies in
it. So one LP per face per hyperplane, and only one face of each antipodal pair ±σ is
refined (:mod:`.arrangement`). θ = 0 (the uniform policy) is the all-zero face.
Every returned θ is checked: its strict score gaps are ≥ 1 (rescaled) and its ties are
exact up to rounding (projected on the ties' null space), so ``thetas[i]`` realises
``policies[i]`` = :func:`limit_policy` of it. Faces beyond ``max_faces`` are refused.

Value. J(π) = μ0ᵀV^π is evaluated exactly for every limit policy (a batched dense linear
solve; for a finite horizon H, backward recursion with the same π at every step — the
class has no time feature, so its policies are stationary). The value is the max; the
maximisers are the limit policies within ``width`` of it. Rounding: for the stored π,
‖V̂ − V^π‖∞ ≤ (‖ρ̂‖∞ + κu(‖R‖∞ + ‖V̂‖∞))/(1 − γρ̄(1 + 2(A+1)u)) with ρ̂ the computed
residual r_π − (I − γP_π)V̂, κ = 2(S + A + 8) covering the residual's own rounding, and
ρ̄ ≥ the row sums of P; finite horizon: e_t = E_Q(V̂_{t+1}) + 2γ_{A+1}(‖R‖ + γρ̄‖V̂_{t+1}‖)
+ γρ̄ e_{t+1} (E_Q of :mod:`.certificate`). Each J errs by ε ≤ e·Σμ0 + γ_S μ0ᵀ|V̂|, and
width = tol + 2 max ε + 2u|J| (rounded up): every true maximiser within tol is kept.

Interior optima. For finite θ, J(π_θ) can exceed every limit policy when features alias
states: optimal memoryless policies can be stochastic (S. Singh, T. Jaakkola, M. Jordan,
"Learning without state-estimation in partially observable Markovian decision
processes", ICML 1994). So ``upper_bound`` = the unrestricted optimum (infinite horizon:
μ0ᵀV* from :func:`~mesabase.theory.solve`; finite horizon: the non-stationary
backward-induction optimum, still an upper bound), plus its certified error. The result
is ``certified`` iff value ≥ upper_bound − width: then value is the supremum over θ up
to width. Otherwise a deterministic local ascent on θ (exact policy gradient from exact
evaluation; Armijo steps) starts from θ = 0 and from the first few maximisers' θ at
finite scales; if it finds a finite θ with J > value + width, that single stochastic
policy is returned (``interior=True``). Guarantee: ``value`` is always attained by a
returned policy (within its rounding); it is the supremum when ``certified``; otherwise it
is the best over all limit policies plus a local search — a lower bound on the supremum.

Tabular special case. Features are *separable* when the difference vectors of different
states use disjoint coordinates and, within each state, the A feature vectors are
affinely independent (one-hot φ(s, a), d = S·A, is the example): every score vector, so
every ranking, is then realisable and the class holds every policy. Face enumeration
would explode; instead (infinite horizon) value = μ0ᵀV* by :func:`solve`, and the
maximisers are the policies uniform over any nonempty subset of each state's optimal
set (k = Π_s (2^{m_s} − 1) ≤ ``max_policies``), θ the least-norm solution giving score 1
to the chosen actions and 0 to the others. A finite horizon enumerates all Π_s (2^A − 1)
limit policies when that is at most ``max_policies``.
"""

from __future__ import annotations

import itertools
import math
from typing import NamedTuple

import numpy as np
import scipy.sparse as sp

from ..checks import check_int, check_real, real_array
from ..episodic import is_episodic
from ..evaluation import reward_array
from ..mdp import InvalidMDP, TabularMDP
from .arrangement import enumerate_faces, hyperplanes, limit_masks
from .certificate import SAFETY_FACTOR, UNIT_ROUNDOFF, higham_gamma, mdp_rounding
from .iteration import solve

__all__ = ["ClassSolution", "LinearClass", "class_optimal", "class_optima", "limit_policy",
           "softmax_policy", "is_separable"]

_U, _SAFE = UNIT_ROUNDOFF, SAFETY_FACTOR
_SCALES = (0.5, 2.0)  # finite scales of a maximiser's θ at which the ascent starts


class ClassSolution(NamedTuple):
    """The class optimum (module docstring)."""

    value: float            # sup over θ of J(π_θ) (see certified)
    policies: np.ndarray    # (k, S, A) the limit policies attaining value (within width)
    thetas: np.ndarray      # (k, d) θ realising each: policies[i] = lim softmax(c·φ thetas[i])
    values: np.ndarray      # (k,) exact J of each returned policy
    width: float            # the attainment tolerance actually used
    upper_bound: float      # the unrestricted optimum (≥ value)
    certified: bool
    interior: bool
    n_policies: int         # number of distinct limit policies of the class
    #: rows of the evaluated stack (``LinearClass.policies`` or the ``policies`` given to
    #: :meth:`LinearClass.optimal`) that ``policies`` are; None for an interior result and
    #: for the tabular path (an extra field, last, so the nine above unpack by name).
    index: np.ndarray | None = None


def check_features(features) -> np.ndarray:
    """``features`` as a finite float (S, A, d) array with S, A, d ≥ 1."""
    phi = real_array(features, "features")
    if phi.ndim != 3 or min(phi.shape) < 1:
        raise ValueError(f"features must have shape (S, A, d) with S, A, d >= 1; got {phi.shape}")
    if not np.isfinite(phi).all():
        i = tuple(int(j) for j in np.argwhere(~np.isfinite(phi))[0])
        raise ValueError(f"features{list(i)} = {float(phi[i])} is not finite")
    return phi


def softmax_policy(features, theta) -> np.ndarray:
    """π_θ[s, a] = softmax_a(θ·φ(s, a)), shape (S, A)."""
    z = np.asarray(features, dtype=np.float64) @ np.asarray(theta, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def limit_policy(features, theta, atol: float = 1e-6) -> np.ndarray:
    """lim_{c→∞} softmax(c φθ): uniform over the actions whose score θ·φ(s, a) is within
    ``atol`` of the state's best (the returned ``thetas`` have gaps ≥ 1, ties ~1e-15)."""
    z = np.asarray(features, dtype=np.float64) @ np.asarray(theta, dtype=np.float64)
    best = z >= z.max(axis=1, keepdims=True) - atol
    return best / best.sum(axis=1, keepdims=True)


def is_separable(features) -> bool:
    """Different states' difference vectors use disjoint coordinates and each state's A
    feature vectors are affinely independent (so the class holds every policy)."""
    phi = check_features(features)
    D = phi[:, 1:] - phi[:, :1]
    if (((D != 0).any(axis=1)).sum(axis=0) > 1).any():
        return False
    return all(np.linalg.matrix_rank(D[s]) == phi.shape[1] - 1 for s in range(len(phi)))


def _separable_thetas(phi, masks) -> np.ndarray:
    """Least-norm θ with θ·(φ(s, a) − φ(s, 0)) = mask[s, a] − mask[s, 0] at every state."""
    D = phi[:, 1:] - phi[:, :1]
    pinv = np.linalg.pinv(D)                                       # (S, d, A−1)
    t = masks[:, :, 1:].astype(float) - masks[:, :, :1]            # (k, S, A−1)
    return np.einsum("sdb,ksb->kd", pinv, t)


def _all_masks(S: int, A: int) -> np.ndarray:
    """Every tie pattern: (Π (2^A − 1), S, A), each row a nonempty subset."""
    subsets = np.array([[(b >> a) & 1 for a in range(A)] for b in range(1, 2**A)], dtype=bool)
    idx = np.indices((len(subsets),) * S).reshape(S, -1).T
    return subsets[idx]


class LinearClass:
    """Enumerates the class's limit policies once (they depend on φ only), then optimises
    any MDP/reward over them: features (S, A, d) -> .policies (m, S, A), .thetas (m, d).

    Attributes: ``policies`` (m, S, A) the distinct limit policies, ``thetas`` (m, d) a θ
    realising each (strict score gaps ≥ 1, ties exact up to rounding), ``n_faces`` the
    number of faces of the arrangement (for separable features: the number of tie
    patterns, enumerated directly), ``n_hyperplanes``, ``separable``. With joint features
    ``np.concatenate([phi_a, phi_b])`` (two environments' states stacked) the slices
    ``policies[:, :S_a]`` are the class's limit policies on the first environment (with
    repeats: distinct joint policies may agree there); evaluate them with
    ``values(mdp_a, policies=...)``.
    """

    def __init__(self, features, *, max_faces: int = 200_000):
        phi = check_features(features)
        max_faces = check_int(max_faces, "max_faces", lo=1)
        S, A, _ = phi.shape
        self.features, self.separable = phi, is_separable(phi)
        if self.separable and A > 1:
            count = (2**A - 1) ** S
            if count > max_faces:
                raise ValueError(f"separable features: the class holds every policy, with "
                                 f"{count} limit policies (tie patterns); the limit "
                                 f"max_faces is {max_faces}")
            masks = _all_masks(S, A)
            self.n_faces, self.n_hyperplanes = count, S * A * (A - 1) // 2
            thetas = _separable_thetas(phi, masks)
        else:
            N, h, orient, i, j = hyperplanes(phi)
            faces = enumerate_faces(N, max_faces)
            sigs = np.array([f[0] for f in faces], dtype=np.int8).reshape(len(faces), -1)
            masks = limit_masks(sigs, h, orient, i, j, A)
            thetas = np.array([f[1] for f in faces])
            _, first = np.unique(masks.reshape(len(masks), -1), axis=0, return_index=True)
            first = np.sort(first)
            masks, thetas = masks[first], thetas[first]
            self.n_faces, self.n_hyperplanes = len(faces), len(N)
        self.policies = masks / masks.sum(axis=-1, keepdims=True)
        self.thetas = _unit_gaps(phi, thetas, masks)
        for a in (self.policies, self.thetas):
            a.setflags(write=False)

    def __repr__(self) -> str:
        S, A, d = self.features.shape
        return (f"LinearClass(S={S}, A={A}, d={d}, faces={self.n_faces}, "
                f"policies={len(self.policies)})")

    def _mdp(self, mdp, policies=None):
        if not isinstance(mdp, TabularMDP):
            raise TypeError(f"mdp must be a TabularMDP; got {type(mdp).__name__}")
        if policies is None and (mdp.n_states, mdp.n_actions) != self.features.shape[:2]:
            raise InvalidMDP(f"features have shape {self.features.shape} (S, A, d) but the MDP "
                             f"has S={mdp.n_states}, A={mdp.n_actions}")
        if is_episodic(mdp):
            raise InvalidMDP("gamma = 1 without a horizon is not supported by the class "
                             "solver: a limit policy need not terminate")

    def values(self, mdp, reward=None, policies=None) -> np.ndarray:
        """(m,) exact J(π) = μ0ᵀV^π of every limit policy (or of ``policies``, an explicit
        (m, S_mdp, A) stack, e.g. a slice of a joint class), under ``reward`` (default mdp.R)."""
        self._mdp(mdp, policies)
        pols = self.policies if policies is None else _check_stack(mdp, policies)
        return evaluate_bounded(mdp, pols, reward_array(mdp, reward))[0]

    def optimal(self, mdp, reward=None, *, tol: float = 1e-9, policies=None,
                max_starts: int = 8, steps: int = 300) -> ClassSolution:
        """The class optimum of ``mdp`` (module docstring); ``max_starts`` maximisers seed
        the ascent (each at the scales 0.5 and 2), ``steps`` ascent steps per start.

        ``policies``: an explicit (m, S_mdp, A) stack with one row per limit policy (m =
        ``len(self.policies)``), e.g. ``self.policies[:, :S_train]`` of a joint class; the
        result is then the best of those rows (``index`` into them, ``thetas`` the joint
        θ's), with no ascent (the features of the MDP's states are not known): ``certified``
        still says whether it reaches the unrestricted optimum, ``n_policies`` counts the
        distinct rows."""
        self._mdp(mdp, policies)
        tol = check_real(tol, "tol", lo=0.0)
        r = reward_array(mdp, reward)
        pols = self.policies
        if policies is not None:
            pols = _check_stack(mdp, policies)
            if len(pols) != len(self.policies):
                raise ValueError(f"policies must have one row per limit policy "
                                 f"({len(self.policies)}); got {len(pols)}")
        J, err = evaluate_bounded(mdp, pols, r)
        best = float(J.max())
        width = (tol + 2.0 * float(err.max()) + 2.0 * _U * abs(best)) * _SAFE
        keep = np.flatnonzero(J >= best - width)
        upper = unrestricted_upper(mdp, r, tol)
        n = len(self.policies) if policies is None else len({p.tobytes() for p in pols})
        sol = ClassSolution(best, pols[keep], self.thetas[keep], J[keep], width, upper,
                            bool(best >= upper - width), False, n, keep)
        if sol.certified or policies is not None:
            return sol
        starts = [np.zeros(self.features.shape[2])]
        starts += [c * t for t in sol.thetas[:max_starts] for c in _SCALES]
        return _with_ascent(mdp, self.features, r, sol, starts, steps)


def _unit_gaps(phi, thetas, masks):
    """Rescale each θ so its smallest strict score gap (best vs the rest) is 1."""
    z = np.einsum("sad,kd->ksa", phi, thetas)
    top = np.where(masks, z, -np.inf).max(axis=-1, keepdims=True)
    gap = np.where(masks, np.inf, top - z).min(axis=(1, 2))
    scale = np.where(np.isfinite(gap) & (gap > 0), 1.0 / np.where(gap > 0, gap, 1.0), 1.0)
    return thetas * scale[:, None]


def _check_stack(mdp, policies):
    pols = real_array(policies, "policies", error=InvalidMDP)
    S, A = mdp.n_states, mdp.n_actions
    if pols.ndim != 3 or pols.shape[1:] != (S, A):
        raise InvalidMDP(f"policies must have shape (m, {S}, {A}); got {pols.shape}")
    if not np.isfinite(pols).all() or (pols < 0).any() or \
            (np.abs(pols.sum(-1) - 1) > 1e-9).any():
        raise InvalidMDP("policies must hold distributions over actions in every row")
    return pols


def evaluate_bounded(mdp: TabularMDP, pols: np.ndarray, r: np.ndarray):
    """(J (m,), ε (m,)): J = μ0ᵀV̂ of each stationary policy and a bound |J − J^π| ≤ ε
    (module docstring, "Value"). Repeated rows are evaluated once."""
    keys: dict[bytes, int] = {}
    inv = np.array([keys.setdefault(p.tobytes(), i) for i, p in enumerate(pols)], dtype=int)
    if len(keys) < len(pols):
        first = np.array(sorted(keys.values()))
        J, err = evaluate_bounded(mdp, pols[first], r)
        at = np.searchsorted(first, inv)
        return J[at], err[at]
    m, S, A = pols.shape
    rd = mdp_rounding(mdp, r)
    Rn, g, mu0, Pm = float(np.abs(r).max()), mdp.gamma, mdp.mu0, mdp.P_matrix
    P = mdp.P if mdp.horizon is None else None
    if P is None and not sp.issparse(Pm) and np.count_nonzero(Pm) < 0.1 * Pm.size:
        Pm = sp.csr_array(Pm)  # a sparse product is faster (and needs no BLAS threads)
    J, err = np.empty(m), np.empty(m)
    gS = higham_gamma(S)
    chunk = max(1, 2_000_000 // (S * S + S * A * 4))
    for lo in range(0, m, chunk):
        pi = pols[lo:lo + chunk]
        if mdp.horizon is None:
            Pp = (pi[:, :, None, :] @ P[None])[:, :, 0]                    # (m, S, S)
            rp = (pi * r).sum(-1)
            V = np.linalg.solve(np.eye(S)[None] - g * Pp, rp[..., None])[..., 0]
            res = np.abs(rp - (V - g * (Pp @ V[..., None])[..., 0])).max(-1)
            vn = np.abs(V).max(-1)
            denom = (1.0 - rd.beta * (1.0 + 2.0 * (A + 1) * _U)) * (1.0 - 2.0 * _U)
            e = (res + 2.0 * (S + A + 8) * _U * (Rn + vn)) / denom * _SAFE
        else:
            V = np.zeros((len(pi), S))
            e = np.zeros(len(pi))
            gA = higham_gamma(A + 1)
            for _ in range(mdp.horizon):
                vn = np.abs(V).max(-1)
                Q = r + g * np.asarray(Pm @ V.T).T.reshape(-1, S, A)
                e = (rd.q_error(vn, Rn) + 2.0 * gA * (Rn + g * rd.rho * vn)
                     + g * rd.rho * e) * _SAFE
                V = (pi * Q).sum(-1)
        J[lo:lo + chunk] = V @ mu0
        err[lo:lo + chunk] = (e * mu0.sum() * (1 + 2 * gS) + gS * (np.abs(V) @ mu0)) * _SAFE
    return J, err


def unrestricted_upper(mdp: TabularMDP, r: np.ndarray, tol: float) -> float:
    """μ0ᵀV* of the unrestricted problem (non-stationary for a finite horizon) plus its
    certified error: an upper bound on every policy's J."""
    sol = solve(mdp.with_reward(r), tol=min(1e-10, tol) if tol > 0 else 1e-12)
    V0 = sol.V if mdp.horizon is None else sol.V[0]
    gS = higham_gamma(len(V0))
    return float((V0 @ mdp.mu0 + sol.error_bound * mdp.mu0.sum() * (1 + 2 * gS)
                  + gS * (np.abs(V0) @ mdp.mu0)) * _SAFE) if np.isfinite(sol.error_bound) \
        else float("inf")


def value_and_gradient(mdp: TabularMDP, phi, r, theta):
    """(J(π_θ), ∇_θ J) exactly (policy-gradient theorem; stationary π_θ at every step)."""
    pi = softmax_policy(phi, theta)
    centred = phi - np.einsum("sa,sad->sd", pi, phi)[:, None]
    P, g, mu0 = mdp.P, mdp.gamma, mdp.mu0
    Pp = np.einsum("sa,sat->st", pi, P)
    if mdp.horizon is None:
        M = np.eye(len(mu0)) - g * Pp
        V = np.linalg.solve(M, (pi * r).sum(-1))
        occ = np.linalg.solve(M.T, mu0)
        adv = r + g * (P @ V) - V[:, None]
        return float(mu0 @ V), np.einsum("s,sa,sad->d", occ, pi * adv, centred)
    H = mdp.horizon
    Vs = np.zeros((H + 1, len(mu0)))
    Qs = np.empty((H,) + r.shape)
    for t in range(H - 1, -1, -1):
        Qs[t] = r + g * (P @ Vs[t + 1])
        Vs[t] = (pi * Qs[t]).sum(-1)
    rho, grad = mu0.copy(), np.zeros(phi.shape[2])
    for t in range(H):
        grad += np.einsum("s,sa,sad->d", rho, pi * (Qs[t] - Vs[t][:, None]), centred)
        rho = g * (Pp.T @ rho)
    return float(mu0 @ Vs[0]), grad


def local_ascent(mdp, phi, r, theta, steps: int = 300):
    """Deterministic gradient ascent on J(π_θ) from ``theta`` with Armijo backtracking;
    returns (θ, J)."""
    J, g = value_and_gradient(mdp, phi, r, theta)
    eta = 1.0
    for _ in range(steps):
        gn = float(g @ g)
        if gn <= 1e-28:
            break
        while eta > 1e-12:
            th2 = theta + eta * g
            J2, g2 = value_and_gradient(mdp, phi, r, th2)
            if J2 >= J + 1e-4 * eta * gn:
                break
            eta /= 2
        else:
            break
        done = J2 - J <= 1e-15 * (1.0 + abs(J))
        theta, J, g, eta = th2, J2, g2, eta * 2
        if done:
            break
    return theta, J


def _with_ascent(mdp, phi, r, sol: ClassSolution, starts, steps) -> ClassSolution:
    best_th, best_J = None, -np.inf
    for th in starts:
        th, J = local_ascent(mdp, phi, r, th, steps)
        if J > best_J:
            best_th, best_J = th, J
    if best_J <= sol.value + sol.width:
        return sol
    pi = softmax_policy(phi, best_th)[None]
    J, _ = evaluate_bounded(mdp, pi, r)
    if J[0] <= sol.value + sol.width:
        return sol
    return sol._replace(value=float(J[0]), policies=pi, thetas=best_th[None], values=J,
                        certified=bool(J[0] >= sol.upper_bound - sol.width), interior=True,
                        index=None)


def _tabular(mdp, phi, r, tol, max_policies) -> ClassSolution:
    """Separable features, infinite horizon: the unrestricted optimum (module docstring)."""
    sol = solve(mdp.with_reward(r), tol=min(1e-10, tol) if tol > 0 else 1e-12)
    S, A = mdp.n_states, mdp.n_actions
    m = sol.optimal.sum(axis=1)
    k = math.prod(2 ** int(x) - 1 for x in m)
    if k > max_policies:
        raise ValueError(f"the class holds every policy (separable features) and has {k} "
                         f"optimal limit policies, Π_s (2^m_s − 1); the limit max_policies "
                         f"is {max_policies}")
    options = []
    for s in range(S):
        acts = np.flatnonzero(sol.optimal[s])
        options.append([np.isin(np.arange(A), c) for n in range(1, len(acts) + 1)
                        for c in itertools.combinations(acts, n)])
    masks = np.array([np.array(p) for p in itertools.product(*options)]).reshape(k, S, A)
    pols = masks / masks.sum(-1, keepdims=True)
    J, err = evaluate_bounded(mdp, pols, r)
    upper = unrestricted_upper(mdp, r, tol)
    best = float(J.max())
    eps = float(err.max()) + max(0.0, upper - float(sol.V @ mdp.mu0))  # + the solver's
    width = (tol + 2.0 * eps + 2.0 * _U * abs(best)) * _SAFE
    return ClassSolution(best, pols, _separable_thetas(phi, masks), J, width, upper,
                         bool(best >= upper - width), False, (2**A - 1) ** S)


def class_optimal(mdp, features, reward=None, *, tol=1e-9, max_faces=200_000,
                  max_policies=100_000) -> ClassSolution:
    """sup_θ J(π_θ) over the linear-softmax class of ``features`` (S, A, d), with the limit
    policies attaining it (module docstring: faces, width, interior optima, guarantee).

    Example (a one-state problem; then two states that look alike, where the best
    memoryless policy is stochastic, found by the ascent: θ finite, ``interior``):
      >>> import numpy as np
      >>> mdp = TabularMDP(np.ones((1, 2, 1)), [[1.0, 0.0]], gamma=0.5)
      >>> sol = class_optimal(mdp, [[[1.0], [0.0]]])
      >>> round(sol.value, 9), sol.policies.tolist(), sol.certified, sol.n_policies
      (2.0, [[[1.0, 0.0]]], True, 3)
      >>> P = np.zeros((2, 2, 2)); P[:, 0, 1] = 1; P[:, 1, 0] = 1   # a0: go to s1, a1: to s0
      >>> mdp = TabularMDP(P, [[0.0, 0.0], [0.3, 1.0]], gamma=0.9, mu0=[1.0, 0.0])
      >>> sol = class_optimal(mdp, [np.eye(2), np.eye(2)])         # φ(s, a) = e_a at both
      >>> sol.n_policies, sol.certified, sol.interior
      (3, False, True)
      >>> round(sol.value, 6), round(sol.upper_bound, 6), sol.policies[0, 0].round(4).tolist()
      (3.214286, 4.736842, [0.7143, 0.2857])
    """
    phi = check_features(features)
    max_policies = check_int(max_policies, "max_policies", lo=1)
    tol = check_real(tol, "tol", lo=0.0)
    if not isinstance(mdp, TabularMDP):
        raise TypeError(f"mdp must be a TabularMDP; got {type(mdp).__name__}")
    if (mdp.n_states, mdp.n_actions) != phi.shape[:2]:
        raise InvalidMDP(f"features have shape {phi.shape} (S, A, d) but the MDP has "
                         f"S={mdp.n_states}, A={mdp.n_actions}")
    if mdp.is_masked or (mdp.terminal is not None and mdp.terminal.any()):
        raise InvalidMDP("class_optimal does not support action masks or terminal values "
                         "yet (a softmax class puts mass on every action)")
    S, A, _ = phi.shape
    if is_separable(phi) and A > 1:
        if mdp.horizon is None and not is_episodic(mdp):
            return _tabular(mdp, phi, reward_array(mdp, reward), tol, max_policies)
        count = (2**A - 1) ** S
        if count > max_policies:
            raise ValueError(f"separable features with a finite horizon enumerate all "
                             f"Π_s (2^A − 1) = {count} limit policies; the limit "
                             f"max_policies is {max_policies}")
        max_faces = max(max_faces, count)
    return LinearClass(phi, max_faces=max_faces).optimal(mdp, reward, tol=tol)


def class_optima(mdp, features, tol: float = 1e-9):
    """:func:`class_optimal` of a TabularMDP, or a tuple of them for an MDPBatch (one per
    seed; the LinearClass is built once and reused). Separable features on an infinite
    horizon use the tabular path for every seed."""
    phi = check_features(features)
    if isinstance(mdp, TabularMDP):
        return class_optimal(mdp, phi, tol=tol)
    if getattr(mdp, "is_masked", False):
        raise InvalidMDP("class_optima does not support action masks yet")
    seeds = [mdp[i] for i in range(len(mdp))]
    if is_separable(phi) and seeds and seeds[0].horizon is None:
        return tuple(class_optimal(m, phi, tol=tol) for m in seeds)
    lc = LinearClass(phi)
    return tuple(lc.optimal(m, tol=tol) for m in seeds)
