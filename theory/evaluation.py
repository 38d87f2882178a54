"""Exact policy evaluation: values, action values, occupancy measures and returns.

For a stationary policy π[s, a] on an infinite-horizon MDP,

    V^π = r_π + γ P_π V^π,   r_π(s) = Σ_a π(a|s) R[s, a],   P_π(s, s') = Σ_a π(a|s) P[s, a, s'],

solved as the linear system (I − γ P_π) V^π = r_π (dense LU, or a sparse solver). With
γ = 1 (no horizon) V^π = 0 on the recurrent classes of P_π, which must have zero reward
(terminal states, or a loop that earns nothing, e.g. wandering forever in FrozenLake: its
return is 0), and the system is solved on the other, transient, states; a recurrent class
with a nonzero reward makes the values ±∞ (or undefined) and is refused naming the states
(:func:`~mesabase.theory.episodic.zero_reward_classes`; Puterman 1994, §7.1).
For a finite horizon H, backward recursion:
V_H = v (``mdp.terminal``, 0 by default), V_t = r_{π_t} + γ P_{π_t} V_{t+1}, with
``policy`` (S, A) or per-step (H, S, A).

Action masks: a policy must put probability 0 on every pair with ``mdp.allowed[s, a]``
False (an :class:`InvalidMDP` names the first such (s, a)); Q^π is −inf there.

Reference: M. L. Puterman, *Markov Decision Processes*, Wiley 1994, §6.1 and §4.2.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from .checks import real_array
from .episodic import is_episodic, policy_terminates, terminal_states, zero_reward_classes
from .mdp import InvalidMDP, TabularMDP

__all__ = [
    "evaluate", "q_values", "occupancy", "expected_return", "check_policy",
    "policy_matrix", "bellman_q", "evaluate_many", "expected_returns", "check_support",
    "discounted_solve",
]

#: Sparse systems up to this size are solved directly; larger ones by BiCGSTAB.
SPARSE_DIRECT_MAX = 2000


def _check_rows(pi: np.ndarray, name: str) -> np.ndarray:
    """Every ``pi[..., :]`` a distribution: finite, >= 0, summing to 1 within 1e-9. The
    error names the first offending index (NaN and ±inf are not probabilities)."""
    if not np.isfinite(pi).all() or (pi < 0).any():
        i = tuple(int(j) for j in np.argwhere(~np.isfinite(pi) | (pi < 0))[0])
        raise InvalidMDP(f"{name}[{', '.join(map(str, i))}] = {float(pi[i])} is not a probability")
    sums = pi.sum(axis=-1)
    if (np.abs(sums - 1) > 1e-9).any():
        i = tuple(int(j) for j in np.argwhere(np.abs(sums - 1) > 1e-9)[0])
        raise InvalidMDP(
            f"{name}[{', '.join(map(str, i))}, :] sums to {float(sums[i])!r}, not 1"
        )
    return pi


def check_policy(mdp: TabularMDP, policy) -> np.ndarray:
    """Validate ``pi[s, a]`` (or ``pi[t, s, a]`` for a finite horizon) and return it as float.

    Rows must be distributions (finite, >= 0, summing to 1) with no mass on a disallowed
    action; complex input is refused."""
    pi = real_array(policy, "policy", error=InvalidMDP)
    S, A = mdp.n_states, mdp.n_actions
    ok = pi.shape == (S, A) or (mdp.horizon is not None and pi.shape == (mdp.horizon, S, A))
    if not ok:
        extra = f" or ({mdp.horizon}, {S}, {A})" if mdp.horizon is not None else ""
        raise InvalidMDP(f"policy must have shape ({S}, {A}){extra}; got {pi.shape}")
    return check_support(mdp, _check_rows(pi, "policy"), "policy")


def check_support(mdp: TabularMDP, pi: np.ndarray, name: str) -> np.ndarray:
    """Raise naming the first (s, a) where ``pi[..., s, a] > 0`` but the action is not
    allowed; return ``pi``."""
    if mdp.is_masked:
        bad = (pi > 0) & ~mdp.allowed
        if bad.any():
            i = tuple(int(j) for j in np.argwhere(bad)[0])
            s, a = i[-2:]
            raise InvalidMDP(f"{name}[{', '.join(map(str, i))}] = {float(pi[i])} > 0 but "
                             f"action {a} is not allowed in state {s} (allowed[{s}, {a}] "
                             "is False)")
    return pi


def reward_array(mdp: TabularMDP, reward) -> np.ndarray:
    if reward is None:
        return mdp.R
    r = real_array(reward, "reward", error=InvalidMDP)
    if r.shape != mdp.R.shape:
        raise InvalidMDP(f"reward must have shape {mdp.R.shape} (s, a); got {r.shape}")
    if mdp.is_masked:  # entries at disallowed pairs are never read (−inf is fine there)
        r = np.where(mdp.allowed, r, 0.0)
    if not np.isfinite(r).all():
        raise InvalidMDP("reward has non-finite entries")
    return r


def policy_matrix(mdp: TabularMDP, pi: np.ndarray):
    """P_π (S, S): dense ndarray for a dense MDP, CSR for a sparse one. No S×A×S copy.

    A deterministic π on a dense MDP gathers its S rows of P directly (``np.take``: 14× faster
    than the general selector product at S = 2000, A = 16); the result is a fresh array the
    caller may overwrite."""
    S, A = mdp.n_states, mdp.n_actions
    if not mdp.is_sparse:
        act = np.argmax(pi, axis=1)
        if np.count_nonzero(pi) == S and (pi[np.arange(S), act] == 1.0).all():  # one-hot
            return np.take(mdp.P_matrix, np.arange(S) * A + act, axis=0)
    M = sp.csr_array((pi.reshape(-1), (np.repeat(np.arange(S), A), np.arange(S * A))),
                     shape=(S, S * A))
    out = M @ mdp.P_matrix
    return sp.csr_array(out) if mdp.is_sparse else np.asarray(out)


def bellman_q(mdp: TabularMDP, V: np.ndarray, R: np.ndarray | None = None) -> np.ndarray:
    """Q[s, a] = R[s, a] + γ Σ_s' P[s, a, s'] V[s'] (one Bellman backup, no S×A×S copy)."""
    R = mdp.R if R is None else R
    return R + mdp.gamma * np.asarray(mdp.P_matrix @ V).reshape(R.shape)


def row_max(Q: np.ndarray) -> np.ndarray:
    """max_a Q[s, a]: numpy reduces a short trailing axis one row at a time (0.38 ms for
    (10⁴, 4), more than the sparse Bellman product itself); A − 1 vectorised
    ``np.maximum`` over the columns take 0.03 ms (same NaN propagation). Used for many
    states and few actions, where it is faster (measured: BENCHMARKS.md, issue 15)."""
    S, A = Q.shape
    if S < 1000 or A > 16:
        return Q.max(axis=1)
    out = Q[:, 0].copy()
    for a in range(1, A):
        np.maximum(out, Q[:, a], out=out)
    return out


def _linear_solve(M, b: np.ndarray, x0: np.ndarray | None = None) -> np.ndarray:
    if not sp.issparse(M):
        return np.linalg.solve(M, b)
    M = sp.csc_array(M)
    if M.shape[0] <= SPARSE_DIRECT_MAX:
        return spla.spsolve(M, b)
    x, info = spla.bicgstab(M, b, x0=x0, rtol=1e-13, atol=0.0, maxiter=10 * M.shape[0])
    if info != 0:  # fall back to a direct solve rather than return an inexact value
        return spla.spsolve(M, b)
    return x


def discounted_solve(mdp, pi, b: np.ndarray, x0=None) -> np.ndarray:
    """X = (I − γ P_π)⁻¹ b for a discounted (γ < 1) ``mdp`` and policy ``pi`` (S, A); ``b``
    of shape (S,) or (S, k) (k right-hand sides: one LU). Dense: I − γ P_π built in place
    and one LU by numpy's LAPACK — not scipy's: the two wheels bring two OpenBLAS thread
    pools, and after a scipy LU the spinning threads of one pool slowed numpy's next gemv
    4–5x on 2 cores (BENCHMARKS.md, issue 15). Sparse: a direct solve up to
    SPARSE_DIRECT_MAX states (always for several right-hand sides), else BiCGSTAB from
    ``x0``."""
    S = mdp.n_states
    P_pi = policy_matrix(mdp, pi)
    if not sp.issparse(P_pi):
        P_pi *= -mdp.gamma  # P_π is fresh: I − γ P_π in place
        P_pi.flat[::S + 1] += 1.0
        return np.linalg.solve(P_pi, b)
    M = sp.identity(S, format="csr") - mdp.gamma * P_pi
    if np.ndim(b) == 2:
        return np.asarray(spla.spsolve(sp.csc_array(M), b)).reshape(np.shape(b))
    return _linear_solve(M, b, x0)


def stationary_values(mdp, pi, r, x0=None) -> np.ndarray:
    S = mdp.n_states
    r_pi = (pi * r).sum(axis=1)
    if not is_episodic(mdp):
        return discounted_solve(mdp, pi, r_pi, x0)
    P_pi = policy_matrix(mdp, pi)
    I = sp.identity(S, format="csr") if sp.issparse(P_pi) else np.eye(S)
    # γ = 1: V = 0 on the recurrent classes (which must have zero reward), solve the rest
    closed = zero_reward_classes(P_pi, (pi > 0) & mdp.allowed, r)
    keep = np.flatnonzero(~closed)
    V = np.zeros(S)
    if keep.size:
        sub = (I - P_pi)[keep][:, keep]
        V[keep] = _linear_solve(sub, r_pi[keep], None if x0 is None else x0[keep])
    return V


def evaluate(mdp: TabularMDP, policy, reward=None) -> np.ndarray:
    """V^π, by an exact linear solve (infinite horizon) or backward recursion (finite H).

    Args:
      mdp: the TabularMDP.
      policy: ``pi[s, a]``, shape (S, A); per-step ``pi[t, s, a]`` (H, S, A) for a horizon.
      reward: evaluate under this ``R[s, a]`` instead of ``mdp.R`` (e.g. the intended reward).

    Returns:
      V^π of shape (S,), or (H+1, S) with ``V[H] = mdp.terminal`` (0 by default) for a
      finite horizon.

    Example:
      >>> import numpy as np
      >>> mdp = TabularMDP(np.ones((1, 1, 1)), [[1.0]], gamma=0.5)
      >>> evaluate(mdp, [[1.0]]).tolist()   # 1 + 1/2 + 1/4 + ... = 2
      [2.0]
    """
    pi = check_policy(mdp, policy)
    r = reward_array(mdp, reward)
    if mdp.horizon is None:
        if pi.ndim != 2:
            raise InvalidMDP("a per-step policy needs a finite horizon")
        return stationary_values(mdp, pi, r)
    H, S = mdp.horizon, mdp.n_states
    V = np.zeros((H + 1, S))
    V[H] = mdp.terminal
    for t in range(H - 1, -1, -1):
        pt = pi if pi.ndim == 2 else pi[t]
        V[t] = (pt * bellman_q(mdp, V[t + 1], r)).sum(axis=1)
    return V


def q_values(mdp: TabularMDP, policy, reward=None) -> np.ndarray:
    """Q^π[s, a] = R[s, a] + γ Σ_s' P[s, a, s'] V^π(s'); (H, S, A) for a finite horizon.
    −inf at pairs the mask does not allow."""
    r = reward_array(mdp, reward)
    V = evaluate(mdp, policy, r)
    if mdp.horizon is None:
        Q = bellman_q(mdp, V, r)
    else:
        Q = np.stack([bellman_q(mdp, V[t + 1], r) for t in range(mdp.horizon)])
    if mdp.is_masked:
        Q[..., ~mdp.allowed] = -np.inf
    return Q


def occupancy(mdp: TabularMDP, policy) -> np.ndarray:
    """Discounted state-action occupancy d[s, a] = Σ_t γᵗ Pr(s_t = s, a_t = a | s_0 ~ μ0, π).

    Infinite horizon: d_S = (I − γ P_πᵀ)⁻¹ μ0 and d[s, a] = d_S(s) π(a|s), so Σ d = 1/(1 − γ).
    γ = 1 (episodic): expected visits before termination (terminal states get 0), so
    Σ d is the expected episode length. Finite horizon H: t runs over 0..H−1, so
    Σ d = Σ_{t<H} γᵗ (= H when γ = 1). A per-step policy gives the total over t.
    """
    pi = check_policy(mdp, policy)
    S = mdp.n_states
    if mdp.horizon is not None:
        d = np.zeros((S, mdp.n_actions))
        rho = np.array(mdp.mu0, dtype=np.float64)
        for t in range(mdp.horizon):
            pt = pi if pi.ndim == 2 else pi[t]
            sa = rho[:, None] * pt
            d += mdp.gamma**t * sa
            rho = np.asarray(mdp.P_matrix.T @ sa.reshape(-1))
        return d
    P_pi = policy_matrix(mdp, pi)
    if is_episodic(mdp):
        terminal = terminal_states(mdp)
        policy_terminates(mdp, P_pi, terminal)
        keep = np.flatnonzero(~terminal)
        dS = np.zeros(S)
        I = sp.identity(keep.size, format="csr") if sp.issparse(P_pi) else np.eye(keep.size)
        sub = P_pi[keep][:, keep]
        dS[keep] = _linear_solve((I - sub).T, mdp.mu0[keep])
    else:
        I = sp.identity(S, format="csr") if sp.issparse(P_pi) else np.eye(S)
        dS = _linear_solve((I - mdp.gamma * P_pi).T, mdp.mu0)
    return dS[:, None] * pi


def expected_return(mdp: TabularMDP, policy, reward=None) -> float:
    """J(π) = Σ_s μ0(s) V^π(s) (V_0 for a finite horizon), optionally under another reward."""
    V = evaluate(mdp, policy, reward)
    return float(mdp.mu0 @ (V if mdp.horizon is None else V[0]))


def evaluate_many(mdp: TabularMDP, policies, reward=None) -> np.ndarray:
    """V^π for a stack of stationary policies ``pi[m, s, a]`` (M, S, A) in one batched solve.

    Returns (M, S) for an infinite horizon — solving (I − γ P_π) V = r_π for all M at
    once — or (M, H+1, S) for a finite horizon (backward recursion, vectorised over M).
    Equal to ``evaluate`` policy by policy (tested); γ = 1 episodic problems loop.
    Policies are validated as :func:`evaluate` validates one (finite, >= 0, rows summing
    to 1; the error names ``policies[m, s, a]``).
    """
    pi = real_array(policies, "policies", error=InvalidMDP)
    S, A = mdp.n_states, mdp.n_actions
    if pi.ndim != 3 or pi.shape[1:] != (S, A):
        raise InvalidMDP(f"policies must have shape (M, {S}, {A}); got {pi.shape}")
    check_support(mdp, _check_rows(pi, "policies"), "policies")
    r = reward_array(mdp, reward)
    if mdp.horizon is not None:
        H = mdp.horizon
        V = np.zeros((pi.shape[0], H + 1, S))
        V[:, H] = mdp.terminal
        for t in range(H - 1, -1, -1):
            PV = np.asarray(mdp.P_matrix @ V[:, t + 1].T).T.reshape(-1, S, A)
            V[:, t] = (pi * (r + mdp.gamma * PV)).sum(-1)
        return V
    if is_episodic(mdp) or mdp.is_sparse:
        return np.stack([stationary_values(mdp, p, r) for p in pi])
    P_pi = np.einsum("msa,sat->mst", pi, mdp.P)
    r_pi = (pi * r).sum(-1)
    M = np.eye(S)[None] - mdp.gamma * P_pi
    return np.linalg.solve(M, r_pi[..., None])[..., 0]


def expected_returns(mdp: TabularMDP, policies, reward=None) -> np.ndarray:
    """J(π_m) = μ0ᵀ V^{π_m} for a stack of policies (M, S, A): shape (M,)."""
    V = evaluate_many(mdp, policies, reward)
    return (V if mdp.horizon is None else V[:, 0]) @ mdp.mu0
