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
from ..rowcheck import row_sums_min
from ..solution import Solution
from .batch_pi import batch_policy_iteration, max_last, q_values
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

    P is copied (the batch owns a read-only C-order copy) and validated in the same pass
    over the input (:func:`~mesabase.theory.rowcheck.row_sums_min`: row sums and min P);
    P's rules and messages are :class:`~mesabase.theory.TabularMDP`'s.
    """

    __slots__ = ("P", "R", "gamma", "horizon", "mu0", "allowed", "is_masked")

    def __init__(self, P, R, *, gamma, horizon=None, mu0=None, allowed=None):
        gamma, horizon = check_gamma_horizon(gamma, horizon)
        if horizon is None and gamma >= 1.0:
            raise InvalidMDP("MDPBatch needs gamma < 1 or a finite horizon (episodic gamma = 1 "
                             "problems are solved one at a time with solve())")
        src = np.asarray(P, dtype=np.float64)
        if src.ndim != 4:
            raise InvalidMDP("batched P must have rank 4, axes (n, s, a, s'); got shape "
                             f"{src.shape}")
        N, S, A, S2 = src.shape
        if min(N, S, A) == 0:
            raise InvalidMDP(f"batched P needs N, S, A >= 1; got shape {src.shape}")
        if S2 != S:
            raise InvalidMDP(f"P axis 3 (next state s') has length {S2} but axis 1 (state s) "
                             f"has length {S}")
        # our own C-order copy, its row sums and min P in one pass over the input
        P = np.empty((N, S, A, S))
        sums, lo = row_sums_min(src.reshape(-1, S), out=P.reshape(-1, S))
        check_distribution("P", P, "each P[n, s, a, :] must be a distribution over s'",
                           (sums.reshape(N, S, A), lo))
        R = np.array(np.broadcast_to(np.asarray(R, dtype=np.float64), (N, S, A))
                     if np.ndim(R) == 2 else R, dtype=np.float64)
        if R.shape != (N, S, A):
            raise InvalidMDP(f"batched R must have shape ({N}, {S}, {A}) or ({S}, {A}); "
                             f"got {R.shape}")
        finite = bool(np.isfinite(R).all())
        if not finite:
            bad = np.isnan(R) | (R == np.inf)
            if bad.any():
                check_finite("R", np.where(bad, R, 0.0))
        mask = np.ones((N, S, A), dtype=bool) if allowed is None else np.asarray(allowed)
        if mask.dtype != bool or mask.shape not in ((S, A), (N, S, A)):
            raise InvalidMDP(f"allowed must be a boolean array of shape ({S}, {A}) or "
                             f"({N}, {S}, {A}); got {mask.dtype} {mask.shape}")
        if allowed is not None or not finite:
            mask = np.broadcast_to(mask, (N, S, A)) & (R != -np.inf)
            empty = ~mask.any(axis=2)
            if empty.any():
                n, s = (int(i) for i in np.argwhere(empty)[0])
                raise InvalidMDP(f"model {n}: state {s} has no allowed action (allowed[{n}, "
                                 f"{s}, :] is all False or R[{n}, {s}, :] is all -inf)")
            R[~mask] = 0.0
        if mu0 is None:
            mu0 = np.full((N, S), 1.0 / S)
        else:
            mu0 = np.array(np.broadcast_to(np.asarray(mu0, dtype=np.float64), (N, S)))
            check_distribution("mu0", mu0, "mu0 must be a distribution over states")
        self._set(P, R, gamma, horizon, mu0, mask)

    def _set(self, P, R, gamma, horizon, mu0, mask) -> None:
        for a in (P, R, mu0, mask):
            a.setflags(write=False)
        self.P, self.R, self.gamma, self.horizon, self.mu0 = P, R, gamma, horizon, mu0
        self.allowed, self.is_masked = mask, not mask.all()

    @classmethod
    def _validated(cls, P, R, gamma, horizon, mu0) -> MDPBatch:
        """A batch of arrays that are already valid (e.g. rows of a validated batch: the
        copy MDPs of a masked one), owned by the new batch: not checked again."""
        out = cls.__new__(cls)
        out._set(P, R, gamma, horizon, mu0, np.ones(R.shape, dtype=bool))
        return out

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


def _q(batch: MDPBatch, V: np.ndarray) -> np.ndarray:
    """Q[n, s, a] = R[n, s, a] + γ Σ_s' P[n, s, a, s'] V[n, s'] (batched matmul)."""
    return q_values(batch.P, batch.R, batch.gamma, V)


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
    best = max_last(Q)
    res = np.abs(best - V).max(axis=1)
    bound = discounted_bound(rd, res, qerr)
    eps = qerr + rd.gamma * rd.rho * np.where(np.isfinite(bound), bound, 0.0)
    return make_solution(V, Q, tol, method, k, float(res.max()), float(np.max(bound)),
                         float(np.max(eps)), actions, best=best[..., None])


def _pi(batch: MDPBatch, tol: float, actions0, max_iterations: int = 10_000) -> Solution:
    """Batched policy iteration (:mod:`.batch_pi`); ties as in
    :func:`~mesabase.theory.policy_iteration`: within 2·E_Q of the model (the rounding
    bound of its Q̂), with a stop on a revisited policy."""
    rd = _rounding_batch(batch)
    V, Q, k, actions = batch_policy_iteration(batch.P, batch.R, batch.gamma, rd, actions0,
                                              max_iterations)
    return _finish_batch(batch, rd, V, Q, tol, "pi", k, actions)


def _vi(batch: MDPBatch, tol: float, max_sweeps: int = 1_000_000) -> Solution:
    """Span-stopped value iteration per model (see :func:`mesabase.theory.value_iteration`,
    including its stop at the rounding floor), then Q = R + γ P V of the midpoints."""
    N, S, A = batch.R.shape
    g = batch.gamma
    rd = _rounding_batch(batch)
    if g == 0.0:
        V = max_last(batch.R)
        Q = _q(batch, V)
        return _finish_batch(batch, rd, V, Q, tol, "vi", 1, Q.argmax(axis=2))
    c = g / (1.0 - g)
    fa = _U * rd.R_norm * _SAFE
    fb = rd.gamma * rd.rho * rd.k * _SAFE
    V = np.zeros((N, S))
    out = np.empty((N, S))
    prev = np.full(N, np.inf)
    active = np.arange(N)
    Pa, Ra = batch.P, batch.R  # the active models' arrays (taken anew when some stop)
    for k in range(1, max_sweeps + 1):
        Va = V[active]
        V_new = max_last(q_values(Pa, Ra, g, Va))
        d = V_new - Va
        lo, hi = d.min(axis=1), d.max(axis=1)
        span = hi - lo
        bound = c * span / 2.0
        floor = (2.0 * (fa[active] + fb * inf_norm(Va, axis=1))
                 + 4.0 * _U * np.maximum(np.abs(hi), np.abs(lo)))
        done = (bound <= tol) | ((span <= floor) & (span >= prev[active]))
        prev[active] = span
        V[active] = V_new
        if done.any():
            out[active[done]] = V_new[done] + (c * (hi + lo) / 2.0)[done, None]
            active = active[~done]
            if active.size == 0:
                Q = _q(batch, out)
                return _finish_batch(batch, rd, out, Q, tol, "vi", k, Q.argmax(axis=2))
            Pa, Ra = batch.P.take(active, axis=0), batch.R.take(active, axis=0)
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
        V[:, t] = max_last(Q[:, t])
    rd = _rounding_batch(batch)
    rd_t = dataclasses.replace(rd, R_norm=np.asarray(rd.R_norm)[:, None])  # per model
    bound = backward_bound(rd_t, V)
    return make_solution(V, Q, tol, "backward", H, 0.0, bound, bound, Q.argmax(axis=3))


def solve_batch(batch: MDPBatch, method: str = "auto", tol: float = 1e-10,
                actions0=None) -> Solution:
    """Solve every MDP of ``batch`` in one vectorised call.

    Methods: ``"pi"`` (batched policy iteration, :mod:`.batch_pi`: from the greedy policy
    of v_0 = max_a R, one ``numpy.linalg.solve`` over the stack of (S, S) systems
    I − γ P_π per iteration, only for the models whose policy changed; warm start with
    ``actions0[n, s]``, e.g. the previous step's policy), ``"vi"``
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
        copy = MDPBatch._validated(batch.P[n, s, c], batch.R[n, s, c], batch.gamma, None,
                                   batch.mu0)
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
