"""Exact solutions in rational arithmetic: Fractions in, Fractions out, with a certificate.

Every number is a :class:`fractions.Fraction`; nothing is rounded, so V*, Q*, and above
all the *set* of optimal actions (exact ties) are the true ones of the model as given.
Inputs come from :meth:`TabularMDP.exact_arrays`: exact input as given, floats read as
their shortest decimals (``0.9`` → 9/10). Meant for small dense MDPs (S up to a few
dozen); a sparse MDP raises :class:`~mesabase.theory.mdp.InvalidMDP`.

Infinite horizon, γ < 1 — Howard's policy iteration (Howard 1960; Puterman 1994, §6.4):

    evaluate   (I − γ P_π) V^π = r_π                      (exact Gauss–Jordan)
    improve    π'(s) = π(s) unless max_a Q^π(s, a) > Q^π(s, π(s)),  then the first argmax
               Q^π(s, a) = R[s, a] + γ Σ_s' P[s, a, s'] V^π(s')

starting from π₀(s) = first argmax_a R[s, a]. The comparison is exact, so each change
strictly improves V^π and the iteration stops, after finitely many steps, at a policy
with max_a Q^π(s, a) = V^π(s) for every s, i.e. V^π = V*.

γ = 1 with no horizon (episodic, stochastic shortest path): the same iteration from the
proper policy of :func:`~mesabase.theory.episodic.check_episodic`, evaluating only over
non-terminal states (terminal values are 0), as :func:`~mesabase.theory.evaluate` does in
floating point; improvement keeps a proper policy proper (Bertsekas & Tsitsiklis 1991).

Finite horizon H — backward induction (Puterman 1994, §4.5):
V_H = 0, Q_t = R + γ P V_{t+1}, V_t(s) = max_a Q_t(s, a) for t = H−1, …, 0.

Certificate: before returning, the Bellman residual ‖max_a Q − V‖∞ of the result is
recomputed and checked to be exactly 0 (a :class:`RuntimeError` otherwise).

References:
  R. A. Howard, *Dynamic Programming and Markov Processes*, MIT Press 1960.
  M. L. Puterman, *Markov Decision Processes*, Wiley 1994, §4.5 and §6.4.
  E. H. Bareiss, "Sylvester's identity and multistep integer-preserving Gaussian
  elimination", Math. Comp. 22 (1968) 565–578.
"""

from __future__ import annotations

from fractions import Fraction
from math import lcm

import numpy as np

from ..episodic import IllPosedMDP, check_episodic, policy_terminates, terminal_states
from ..mdp import InvalidMDP, TabularMDP, to_fraction
from ..solution import Solution, optimal_set

__all__ = ["solve_exact", "evaluate_exact"]

_ZERO = Fraction(0)


# ---- exact linear algebra ---------------------------------------------------------------
def _solve_linear(M, b) -> list[Fraction]:
    """Solve M x = b exactly (M square, entries rational) by fraction-free Gauss–Jordan.

    Each row of [M | b] is scaled by the lcm of its denominators to integers, then
    eliminated with Bareiss's integer-preserving update (Bareiss 1968)

        a_ij ← (p_k a_ij − a_ik a_kj) / p_{k−1}     (an exact integer division)

    for every row i ≠ k, where p_k is the k-th pivot (the first nonzero entry of column k
    at or below row k: partial pivoting on nonzero entries) and p_{−1} = 1. At the end
    every diagonal entry equals the last pivot d = ±det, and x_i = a_in / d. Integers
    instead of Fractions avoid a gcd per operation (about 10× faster at S = 30).

    Raises:
      ZeroDivisionError: M is singular (naming the column without a pivot).
    """
    n = len(b)
    A = []
    for row, rhs in zip(M, b, strict=True):
        row = [to_fraction(x) for x in row] + [to_fraction(rhs)]
        L = lcm(*(x.denominator for x in row))
        A.append([x.numerator * (L // x.denominator) for x in row])
    prev = 1
    for k in range(n):
        p = next((i for i in range(k, n) if A[i][k] != 0), None)
        if p is None:
            raise ZeroDivisionError(f"singular system: no nonzero pivot in column {k}")
        A[k], A[p] = A[p], A[k]
        rk = A[k]
        piv = rk[k]
        tail = range(k + 1, n + 1)
        for i in range(n):
            if i == k:
                continue
            ri = A[i]
            f = ri[k]
            if f == 0:
                for j in tail:
                    ri[j] = piv * ri[j] // prev
            else:
                for j in tail:
                    ri[j] = (piv * ri[j] - f * rk[j]) // prev
            ri[k] = 0
        prev = piv
    return [Fraction(A[i][n], prev) for i in range(n)]


# ---- Bellman backups over the nonzero transitions ---------------------------------------
def _successors(P: np.ndarray) -> list[list[list[tuple[int, Fraction]]]]:
    """succ[s][a] = [(s', P[s, a, s']) for the nonzero entries]."""
    S, A, _ = P.shape
    return [[[(j, P[s, a, j]) for j in np.flatnonzero(P[s, a] != 0).tolist()]
             for a in range(A)] for s in range(S)]


def _backup(succ, R: np.ndarray, gamma: Fraction, V) -> np.ndarray:
    """Q[s, a] = R[s, a] + γ Σ_s' P[s, a, s'] V[s'], an object array of Fractions."""
    S, A = R.shape
    Q = np.empty((S, A), dtype=object)
    for s in range(S):
        for a in range(A):
            Q[s, a] = R[s, a] + gamma * sum((p * V[j] for j, p in succ[s][a]), _ZERO)
    return Q


def _first_argmax(row) -> int:
    best = max(row)
    return next(a for a, q in enumerate(row) if q == best)


def _stationary(succ, r_pi, gamma, pi_rows, keep) -> np.ndarray:
    """V^π over the states in ``keep`` (others 0): (I − γ P_π) V = r_π restricted to keep.

    ``pi_rows[s]`` is a list of (a, π(a|s)) with π(a|s) ≠ 0; ``r_pi[s]`` = Σ_a π(a|s) R[s, a].
    """
    S = len(succ)
    pos = {s: i for i, s in enumerate(keep)}
    M, b = [], []
    for s in keep:
        row = [_ZERO] * len(keep)
        row[pos[s]] = Fraction(1)
        for a, w in pi_rows[s]:
            for j, p in succ[s][a]:
                if j in pos:
                    row[pos[j]] -= gamma * w * p
        M.append(row)
        b.append(r_pi[s])
    V = np.full(S, _ZERO, dtype=object)
    for s, v in zip(keep, _solve_linear(M, b), strict=True):
        V[s] = v
    return V


def _episodic_setup(mdp: TabularMDP, P, R, terminal=None):
    """Terminal mask (checked exactly) for γ = 1: absorbing, zero reward, as Fractions."""
    if terminal is None:
        terminal = terminal_states(mdp)
    for s in np.flatnonzero(terminal).tolist():
        for a in range(P.shape[1]):
            if P[s, a, s] != 1 or R[s, a] != 0:
                raise IllPosedMDP(
                    f"state {s} is terminal in floating point but not exactly: "
                    f"P[{s}, {a}, {s}] = {P[s, a, s]}, R[{s}, {a}] = {R[s, a]}"
                )
    return terminal


def _check_terminates(mdp, succ, pi_rows, terminal) -> None:
    S = len(succ)
    pattern = np.zeros((S, S))
    for s in range(S):
        for a, _ in pi_rows[s]:
            for j, _ in succ[s][a]:
                pattern[s, j] = 1.0
    policy_terminates(mdp, pattern, terminal)


def _certify(succ, R, gamma, V, V_next, Q, where="") -> None:
    """Raise unless Q = R + γ P V_next and max_a Q(s, a) = V(s) exactly, for every s
    (V_next = V for an infinite horizon, V_{t+1} for step t of a finite one)."""
    Q2 = _backup(succ, R, gamma, V_next)
    for s in range(R.shape[0]):
        if list(Q2[s]) != list(Q[s]) or max(Q2[s]) != V[s]:
            raise RuntimeError(
                f"exact Bellman certificate failed{where} at state {s}: "
                f"max_a (R + γ P V)(s, a) = {max(Q2[s])}, V = {V[s]}"
            )


def _result(V, Q, actions, iterations) -> Solution:
    optimal, policy = optimal_set(Q, 0)
    actions = np.asarray(actions, dtype=np.intp)
    for a in (V, Q, optimal, policy, actions):
        a.setflags(write=False)
    return Solution(V=V, Q=Q, optimal=optimal, policy=policy, actions=actions,
                    method="exact", iterations=int(iterations), residual=0.0,
                    error_bound=0.0, tol=0.0, gap=None)


# ---- solvers ---------------------------------------------------------------------------
def solve_exact(mdp: TabularMDP, max_iterations: int = 10_000) -> Solution:
    """Solve ``mdp`` exactly in rational arithmetic (see the module docstring for the maths).

    Infinite horizon: Howard's policy iteration with exact evaluation; ``actions`` is the
    final policy (it keeps its action on exact ties). Finite horizon H: backward
    induction; ``actions[t, s]`` is the first optimal action. ``V``, ``Q``, ``policy`` are
    object arrays of Fractions; ``optimal`` uses exact equality; ``residual``,
    ``error_bound`` and ``tol`` are 0.0, and the zero residual is verified exactly.

    Args:
      mdp: a dense :class:`TabularMDP` (exact or float; floats are read as decimals).
      max_iterations: a safety cap on policy-iteration steps.

    Raises:
      InvalidMDP: for a sparse MDP (from :meth:`TabularMDP.exact_arrays`).
      IllPosedMDP: γ = 1 with no horizon and the values are not defined.

    Example:
      >>> from fractions import Fraction as F
      >>> import numpy as np
      >>> P = np.array([[[F(1), F(0)], [F(0), F(1)]], [[F(0), F(1)], [F(0), F(1)]]])
      >>> sol = solve_exact(TabularMDP(P, [[F(0), F(1)], [F(2), F(2)]], gamma=F(1, 2)))
      >>> sol.V.tolist(), sol.optimal.tolist()
      ([Fraction(3, 1), Fraction(4, 1)], [[False, True], [True, True]])
    """
    P, R, gamma, _ = mdp.exact_arrays()
    S, A = R.shape
    succ = _successors(P)
    if mdp.horizon is not None:
        H = mdp.horizon
        V = np.full((H + 1, S), _ZERO, dtype=object)
        Q = np.empty((H, S, A), dtype=object)
        actions = np.zeros((H, S), dtype=np.intp)
        for t in range(H - 1, -1, -1):
            Q[t] = _backup(succ, R, gamma, V[t + 1])
            for s in range(S):
                actions[t, s] = _first_argmax(Q[t, s])
                V[t, s] = Q[t, s, actions[t, s]]
        for t in range(H):
            _certify(succ, R, gamma, V[t], V[t + 1], Q[t], f" at t = {t}")
        return _result(V, Q, actions, H)

    episodic = gamma == 1
    if episodic:
        terminal, proper = check_episodic(mdp)
        terminal = _episodic_setup(mdp, P, R, terminal)
        pi_a = [int(a) for a in proper]
        keep = np.flatnonzero(~terminal).tolist()
    else:
        pi_a = [_first_argmax(R[s]) for s in range(S)]
        keep = list(range(S))
    for k in range(1, max_iterations + 1):
        pi_rows = [[(a, Fraction(1))] for a in pi_a]
        if episodic:
            _check_terminates(mdp, succ, pi_rows, terminal)
        r_pi = [R[s, pi_a[s]] for s in range(S)]
        V = _stationary(succ, r_pi, gamma, pi_rows, keep)
        Q = _backup(succ, R, gamma, V)
        changed = False
        for s in range(S):
            if max(Q[s]) > Q[s, pi_a[s]]:
                pi_a[s] = _first_argmax(Q[s])
                changed = True
        if not changed:
            _certify(succ, R, gamma, V, V, Q)
            return _result(V, Q, pi_a, k)
    raise RuntimeError(f"exact policy iteration did not stop in {max_iterations} iterations")


def _exact_array(x, shape, name: str) -> np.ndarray:
    a = np.asarray(x, dtype=object)
    if a.shape != shape:
        raise InvalidMDP(f"{name} must have shape {shape}; got {a.shape}")
    out = np.empty(shape, dtype=object)
    for i in np.ndindex(shape):
        out[i] = to_fraction(a[i])
    return out


def _exact_policy(mdp: TabularMDP, policy) -> np.ndarray:
    S, A, H = mdp.n_states, mdp.n_actions, mdp.horizon
    shape = np.shape(np.asarray(policy, dtype=object))
    if shape != (S, A) and not (H is not None and shape == (H, S, A)):
        extra = f" or ({H}, {S}, {A})" if H is not None else ""
        raise InvalidMDP(f"policy must have shape ({S}, {A}){extra}; got {shape}")
    pi = _exact_array(policy, shape, "policy")
    for i in np.ndindex(shape):
        if pi[i] < 0:
            raise InvalidMDP(f"policy{list(i)} = {pi[i]} is negative")
    for i in np.ndindex(shape[:-1]):
        total = sum(pi[i], _ZERO)
        if total != 1:
            raise InvalidMDP(
                f"policy{list(i)}[:] sums to {total} exactly, not 1: exact evaluation needs "
                "exact probabilities (pass Fractions, e.g. Fraction(1, 3) rather than 1/3)"
            )
    return pi


def evaluate_exact(mdp: TabularMDP, policy, reward=None) -> np.ndarray:
    """V^π in rational arithmetic: the exact counterpart of :func:`~mesabase.theory.evaluate`.

    Infinite horizon: (I − γ P_π) V^π = r_π with r_π(s) = Σ_a π(a|s) R[s, a] and
    P_π(s, s') = Σ_a π(a|s) P[s, a, s'], solved by exact Gauss–Jordan; with γ = 1 only
    over non-terminal states (terminal values 0; the policy must terminate). Finite
    horizon H: V_H = 0, V_t(s) = Σ_a π_t(a|s) [R[s, a] + γ Σ_s' P[s, a, s'] V_{t+1}(s')].

    Args:
      mdp: a dense :class:`TabularMDP`.
      policy: ``pi[s, a]`` (S, A), or per-step ``pi[t, s, a]`` (H, S, A) for a horizon;
        Fractions, ints or floats (read as decimals); rows must sum to 1 exactly.
      reward: evaluate under this ``R[s, a]`` instead of the MDP's reward.

    Returns:
      An object array of Fractions, shape (S,), or (H+1, S) with ``V[H] = 0``.

    Raises:
      InvalidMDP: bad shapes, negative entries or rows that do not sum to 1 exactly.
      IllPosedMDP: γ = 1 and the policy does not terminate from some state.

    Example:
      >>> from fractions import Fraction as F
      >>> import numpy as np
      >>> mdp = TabularMDP(np.array([[[F(1)]]]), [[F(1)]], gamma=F(1, 3))
      >>> evaluate_exact(mdp, [[1]]).tolist()   # 1 + 1/3 + 1/9 + ... = 3/2
      [Fraction(3, 2)]
    """
    P, R_mdp, gamma, _ = mdp.exact_arrays()
    S, A = R_mdp.shape
    R = R_mdp if reward is None else _exact_array(reward, (S, A), "reward")
    pi = _exact_policy(mdp, policy)
    succ = _successors(P)
    if mdp.horizon is not None:
        H = mdp.horizon
        V = np.full((H + 1, S), _ZERO, dtype=object)
        for t in range(H - 1, -1, -1):
            pt = pi if pi.ndim == 2 else pi[t]
            Q = _backup(succ, R, gamma, V[t + 1])
            for s in range(S):
                V[t, s] = sum((pt[s, a] * Q[s, a] for a in range(A)), _ZERO)
        return V
    pi_rows = [[(a, pi[s, a]) for a in range(A) if pi[s, a] != 0] for s in range(S)]
    r_pi = [sum((w * R[s, a] for a, w in pi_rows[s]), _ZERO) for s in range(S)]
    keep = list(range(S))
    if gamma == 1:
        terminal = _episodic_setup(mdp, P, R_mdp)
        _check_terminates(mdp, succ, pi_rows, terminal)
        keep = np.flatnonzero(~terminal).tolist()
    return _stationary(succ, r_pi, gamma, pi_rows, keep)
