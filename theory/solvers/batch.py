"""Many MDPs with the same shape solved in one vectorised call (one model per seed).

This is a *separate batched entry point*: :class:`MDPBatch` holds ``P[n, s, a, s']``,
``R[n, s, a]`` (batch axis first) with one shared γ and horizon, and
:func:`solve_batch` returns a :class:`~mesabase.theory.Solution` whose arrays carry the
leading batch axis N (``V`` (N, S), ``Q`` (N, S, A), …; ``batch[i]`` and
``solution_item(sol, i)`` give model i alone). Every numpy operation advances all N
models at once: the online workload (one empirical model per seed) in one call.

Undiscounted episodic problems (γ = 1, no horizon) are not batched: solve them one by one.

Action masks: ``allowed[n, s, a]`` (or R = −inf) as for :class:`~mesabase.theory.TabularMDP`;
the batched solvers work over the allowed actions only — the copy MDPs of
:mod:`.masked` for an infinite horizon, Q = −inf at disallowed pairs for backward
induction — and never return a disallowed action. Terminal values are not batched.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..mdp import InvalidMDP, TabularMDP, check_distribution, check_finite, check_gamma_horizon
from ..solution import Solution
from .certificate import SAFETY_FACTOR as _SAFE
from .certificate import UNIT_ROUNDOFF as _U
from .certificate import (
    Rounding,
    backward_bound,
    covering_set,
    discounted_bound,
    inf_norm,
    make_solution,
    rounding_from,
)
from .masked import copy_index

__all__ = ["MDPBatch", "solve_batch", "solution_item"]


class MDPBatch:
    """N tabular MDPs sharing S, A, γ and horizon; validated and immutable.

    Args:
      P: ``P[n, s, a, s']``, shape (N, S, A, S).
      R: ``R[n, s, a]``, shape (N, S, A), or (S, A) shared by every model.
      gamma: shared discount γ ∈ [0, 1) (or ≤ 1 with a finite horizon).
      horizon: ``None`` or H ≥ 1 decisions.
      mu0: (S,) shared or (N, S) per model; uniform by default.
      allowed: bool (S, A) shared or (N, S, A) per model, all True by default; R = −inf
        also marks a pair as not allowed. Stored R is 0 at disallowed pairs.
    """

    __slots__ = ("P", "R", "gamma", "horizon", "mu0", "allowed", "is_masked")

    def __init__(self, P, R, *, gamma, horizon=None, mu0=None, allowed=None):
        gamma, horizon = check_gamma_horizon(gamma, horizon)
        if horizon is None and gamma >= 1.0:
            raise InvalidMDP("MDPBatch needs gamma < 1 or a finite horizon (episodic gamma = 1 "
                             "problems are solved one at a time with solve())")
        P = np.array(P, dtype=np.float64)
        if P.ndim != 4:
            raise InvalidMDP(f"batched P must have rank 4, axes (n, s, a, s'); got shape {P.shape}")
        N, S, A, S2 = P.shape
        if min(N, S, A) == 0:
            raise InvalidMDP(f"batched P needs N, S, A >= 1; got shape {P.shape}")
        if S2 != S:
            raise InvalidMDP(f"P axis 3 (next state s') has length {S2} but axis 1 (state s) "
                             f"has length {S}")
        check_distribution("P", P, "each P[n, s, a, :] must be a distribution over s'")
        R = np.array(np.broadcast_to(np.asarray(R, dtype=np.float64), (N, S, A))
                     if np.ndim(R) == 2 else R, dtype=np.float64)
        if R.shape != (N, S, A):
            raise InvalidMDP(f"batched R must have shape ({N}, {S}, {A}) or ({S}, {A}); "
                             f"got {R.shape}")
        bad = np.isnan(R) | (R == np.inf)
        if bad.any():
            check_finite("R", np.where(bad, R, 0.0))
        mask = np.ones((N, S, A), dtype=bool) if allowed is None else np.asarray(allowed)
        if mask.dtype != bool or mask.shape not in ((S, A), (N, S, A)):
            raise InvalidMDP(f"allowed must be a boolean array of shape ({S}, {A}) or "
                             f"({N}, {S}, {A}); got {mask.dtype} {mask.shape}")
        mask = np.broadcast_to(mask, (N, S, A)) & (R != -np.inf)
        empty = ~mask.any(axis=2)
        if empty.any():
            n, s = (int(i) for i in np.argwhere(empty)[0])
            raise InvalidMDP(f"model {n}: state {s} has no allowed action (allowed[{n}, {s}, :]"
                             f" is all False or R[{n}, {s}, :] is all -inf)")
        R = np.where(mask, R, 0.0)
        if mu0 is None:
            mu0 = np.full((N, S), 1.0 / S)
        else:
            mu0 = np.array(np.broadcast_to(np.asarray(mu0, dtype=np.float64), (N, S)))
            check_distribution("mu0", mu0, "mu0 must be a distribution over states")
        for a in (P, R, mu0, mask):
            a.setflags(write=False)
        self.P, self.R, self.gamma, self.horizon, self.mu0 = P, R, gamma, horizon, mu0
        self.allowed, self.is_masked = mask, not mask.all()

    def __len__(self) -> int:
        return self.P.shape[0]

    def __getitem__(self, i: int) -> TabularMDP:
        return TabularMDP(self.P[i], self.R[i], gamma=self.gamma, horizon=self.horizon,
                          mu0=self.mu0[i], allowed=self.allowed[i])

    @classmethod
    def from_mdps(cls, mdps) -> MDPBatch:
        """Stack TabularMDPs with equal S, A, γ and horizon into one batch."""
        mdps = list(mdps)
        if not mdps:
            raise InvalidMDP("from_mdps needs at least one MDP")
        g, h = mdps[0].gamma, mdps[0].horizon
        for i, m in enumerate(mdps):
            if (m.gamma, m.horizon) != (g, h) or m.R.shape != mdps[0].R.shape:
                raise InvalidMDP(f"MDP {i} differs from MDP 0 in shape, gamma or horizon")
            if m.terminal is not None and m.terminal.any():
                raise InvalidMDP(f"MDP {i} has nonzero terminal values: MDPBatch does not "
                                 "carry them; solve it with solve()")
        return cls(np.stack([m.P for m in mdps]), np.stack([m.R for m in mdps]), gamma=g,
                   horizon=h, mu0=np.stack([m.mu0 for m in mdps]),
                   allowed=np.stack([m.allowed for m in mdps]))

    def __repr__(self) -> str:
        N, S, A, _ = self.P.shape
        h = "" if self.horizon is None else f", horizon={self.horizon}"
        return f"MDPBatch(N={N}, S={S}, A={A}, gamma={self.gamma:g}{h})"


def _q(batch: MDPBatch, V: np.ndarray, idx=slice(None)) -> np.ndarray:
    """Q[n, s, a] = R[n, s, a] + γ Σ_s' P[n, s, a, s'] V[n, s'] (batched matmul)."""
    P = batch.P[idx]
    N, S, A, _ = P.shape
    PV = np.matmul(P.reshape(N, S * A, S), V[:, :, None]).reshape(N, S, A)
    return batch.R[idx] + batch.gamma * PV


def _evaluate_actions(batch: MDPBatch, actions: np.ndarray, idx) -> np.ndarray:
    """V^π for deterministic policies actions[n, s]: solve (I − γ P_π) V = r_π per model."""
    N, S, A, _ = batch.P.shape
    n = np.arange(N)[idx] if not isinstance(idx, np.ndarray) else idx
    flat = ((n[:, None] * S + np.arange(S)[None, :]) * A + actions).ravel()
    P_pi = batch.P.reshape(N * S * A, S).take(flat, axis=0).reshape(n.size, S, S)
    r_pi = batch.R.reshape(-1).take(flat).reshape(n.size, S)
    M = -batch.gamma * P_pi
    M[:, np.arange(S), np.arange(S)] += 1.0
    return np.linalg.solve(M, r_pi[:, :, None])[:, :, 0]


def _rounding_batch(batch: MDPBatch) -> Rounding:
    """The rounding constants of :mod:`.solvers` for the whole batch (ρ̄, n over every
    model; ‖R‖∞ per model, an (N,) array)."""
    N, S, A, _ = batch.P.shape
    R_norm = np.abs(batch.R).reshape(N, -1).max(axis=1)
    return rounding_from(batch.gamma, S, A, batch.P.reshape(N * S * A, S), False, R_norm,
                          size=N * S * A * S)


def _finish_batch(batch: MDPBatch, rd: Rounding, V, Q, tol, method, k, actions) -> Solution:
    """The certificate per model (as :func:`~.certificate.certify_solution`) for Q̂
    computed afresh from V; ``residual``, ``error_bound`` and the set's width are the
    batch maxima."""
    qerr = rd.q_error(inf_norm(V, axis=1))  # (N,)
    res = np.abs(Q.max(axis=2) - V).max(axis=1)
    bound = discounted_bound(rd, res, qerr)
    eps = qerr + rd.gamma * rd.rho * np.where(np.isfinite(bound), bound, 0.0)
    return make_solution(V, Q, tol, method, k, float(res.max()), float(np.max(bound)),
                     float(np.max(eps)), actions)


def _pi(batch: MDPBatch, tol: float, actions0, max_iterations: int = 10_000) -> Solution:
    """Batched policy iteration; ties as in :func:`~mesabase.theory.policy_iteration`:
    within 2·E_Q of the model (the rounding bound of its Q̂), with a stop on a revisited
    policy."""
    N, S, A = batch.R.shape
    if actions0 is None:
        actions = np.argmax(batch.R, axis=2)
    else:
        actions = np.array(actions0, dtype=np.intp)
        if actions.shape != (N, S) or (actions < 0).any() or (actions >= A).any():
            raise ValueError(f"actions0 must have shape ({N}, {S}) with entries in [0, {A})")
    rd = _rounding_batch(batch)
    V = np.empty((N, S))
    Q = np.empty((N, S, A))
    active = np.arange(N)
    states = np.arange(S)[None, :]
    seen = [set() for _ in range(N)]
    for k in range(1, max_iterations + 1):
        V[active] = _evaluate_actions(batch, actions[active], active)
        Q[active] = _q(batch, V[active], active)
        Qa = Q[active]
        best = Qa.argmax(axis=2)
        cur = Qa[np.arange(active.size)[:, None], states, actions[active]]
        theta = 2.0 * (_U * rd.R_norm[active] + rd.gamma * rd.rho
                       * inf_norm(V[active], axis=1) * rd.k) * _SAFE
        better = Qa.max(axis=2) > cur + theta[:, None]
        changed = better.any(axis=1)
        new = np.where(better, best, actions[active])
        cycled = np.zeros(active.size, dtype=bool)
        for i in np.flatnonzero(changed):
            n = active[i]
            seen[n].add(actions[n].tobytes())
            if new[i].tobytes() in seen[n]:  # rounding-level cycle: stop with greedy actions
                cycled[i] = True
                new[i] = best[i]
        actions[active] = new
        active = active[changed & ~cycled]
        if active.size == 0:
            return _finish_batch(batch, rd, V, Q, tol, "pi", k, actions)
    raise RuntimeError(f"batched policy iteration did not converge in {max_iterations} iterations")


def _vi(batch: MDPBatch, tol: float, max_sweeps: int = 1_000_000) -> Solution:
    """Span-stopped value iteration per model (see :func:`mesabase.theory.value_iteration`,
    including its stop at the rounding floor), then Q = R + γ P V of the midpoints."""
    N, S, A = batch.R.shape
    g = batch.gamma
    rd = _rounding_batch(batch)
    if g == 0.0:
        V = batch.R.max(axis=2)
        Q = _q(batch, V)
        return _finish_batch(batch, rd, V, Q, tol, "vi", 1, Q.argmax(axis=2))
    c = g / (1.0 - g)
    fa = _U * rd.R_norm * _SAFE
    fb = rd.gamma * rd.rho * rd.k * _SAFE
    V = np.zeros((N, S))
    out = np.empty((N, S))
    prev = np.full(N, np.inf)
    active = np.arange(N)
    for k in range(1, max_sweeps + 1):
        V_new = _q(batch, V[active], active).max(axis=2)
        d = V_new - V[active]
        lo, hi = d.min(axis=1), d.max(axis=1)
        span = hi - lo
        bound = c * span / 2.0
        floor = (2.0 * (fa[active] + fb * inf_norm(V[active], axis=1))
                 + 4.0 * _U * np.maximum(np.abs(hi), np.abs(lo)))
        done = (bound <= tol) | ((span <= floor) & (span >= prev[active]))
        prev[active] = span
        V[active] = V_new
        out[active[done]] = V_new[done] + (c * (hi + lo) / 2.0)[done, None]
        active = active[~done]
        if active.size == 0:
            Q = _q(batch, out)
            return _finish_batch(batch, rd, out, Q, tol, "vi", k, Q.argmax(axis=2))
    raise RuntimeError(f"batched value iteration did not reach tol={tol:g} in {max_sweeps} sweeps")


def _backward(batch: MDPBatch, tol: float) -> Solution:
    N, S, A = batch.R.shape
    H = batch.horizon
    V = np.zeros((N, H + 1, S))
    Q = np.empty((N, H, S, A))
    for t in range(H - 1, -1, -1):
        Q[:, t] = _q(batch, V[:, t + 1])
        if batch.is_masked:
            Q[:, t][~batch.allowed] = -np.inf
        V[:, t] = Q[:, t].max(axis=2)
    rd = _rounding_batch(batch)
    rd_t = dataclasses.replace(rd, R_norm=np.asarray(rd.R_norm)[:, None])  # per model
    bound = backward_bound(rd_t, V)
    return make_solution(V, Q, tol, "backward", H, 0.0, bound, bound, Q.argmax(axis=3))


def solve_batch(batch: MDPBatch, method: str = "auto", tol: float = 1e-10,
                actions0=None) -> Solution:
    """Solve every MDP of ``batch`` in one vectorised call.

    Methods: ``"pi"`` (batched policy iteration: one ``numpy.linalg.solve`` over the
    stack of (S, S) systems per iteration, only for the models whose policy changed; warm
    start with ``actions0[n, s]``, e.g. the previous step's policy), ``"vi"``
    (span-stopped value iteration, ‖V − V*‖∞ ≤ tol per model), ``"backward"`` (finite
    horizon). ``"auto"``: backward for a horizon, else policy iteration.

    Returns a :class:`Solution` whose arrays have a leading axis N; ``iterations``,
    ``residual`` and ``error_bound`` are maxima over the batch, and ``tol`` is the width of
    the optimal sets, the largest over the batch (certificates as for :func:`solve`,
    rounding included: :mod:`.solvers`).

    Example:
      >>> import numpy as np
      >>> P = np.ones((3, 1, 2, 1))
      >>> sol = solve_batch(MDPBatch(P, [[[0.0, 1.0]], [[2.0, 0.0]], [[1.0, 1.0]]], gamma=0.5))
      >>> sol.V.ravel().round(12).tolist(), sol.actions.ravel().tolist()
      ([2.0, 4.0, 2.0], [1, 0, 0])
    """
    if not isinstance(batch, MDPBatch):
        raise TypeError(f"solve_batch takes an MDPBatch; got {type(batch).__name__}")
    if not (tol > 0):
        raise ValueError(f"tol must be positive; got {tol!r}")
    if batch.horizon is not None:
        if method not in ("auto", "backward"):
            raise ValueError(f"method {method!r} is for infinite horizons; use 'backward'")
        return _backward(batch, tol)
    if method not in ("auto", "pi", "vi"):
        raise ValueError(f"unknown batched method {method!r}; choose auto, pi, vi or backward")
    if batch.is_masked:  # the copy MDPs (.masked), translated back
        c = copy_index(batch.allowed)
        N, S, A = batch.R.shape
        n, s = np.arange(N)[:, None, None], np.arange(S)[None, :, None]
        copy = MDPBatch(batch.P[n, s, c], batch.R[n, s, c], gamma=batch.gamma, mu0=batch.mu0)
        sol = solve_batch(copy, method, tol, actions0)
        Q = np.where(batch.allowed, sol.Q, -np.inf)
        actions = np.take_along_axis(c, sol.actions[..., None], axis=-1)[..., 0]
        optimal, policy, width = covering_set(Q, sol.tol, actions)
        for a in (Q, optimal, policy, actions):
            a.setflags(write=False)
        return dataclasses.replace(sol, Q=Q, optimal=optimal, policy=policy, actions=actions,
                                   tol=width)
    if method in ("auto", "pi"):
        return _pi(batch, tol, actions0)
    if method == "vi":
        return _vi(batch, tol)
    raise ValueError(f"unknown batched method {method!r}; choose auto, pi, vi or backward")


def solution_item(sol: Solution, i: int) -> Solution:
    """Model i's Solution out of a batched one (certificate fields are the batch's)."""
    return Solution(V=sol.V[i], Q=sol.Q[i], optimal=sol.optimal[i], policy=sol.policy[i],
                    actions=sol.actions[i], method=sol.method, iterations=sol.iterations,
                    residual=sol.residual, error_bound=sol.error_bound, tol=sol.tol,
                    gap=sol.gap)
