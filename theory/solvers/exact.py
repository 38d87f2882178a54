"""Exact solutions in rational arithmetic: Fractions in, Fractions out, with a certificate.

Every number is an exact rational; nothing is rounded, so V*, Q*, and above all the *set*
of optimal actions (exact ties) are the true ones of the model as given. Inputs come from
:meth:`TabularMDP.exact_arrays`: exact input as given, floats read by the rule of
:func:`~mesabase.theory.rationals.float_to_fraction` (the closest rational with denominator
≤ 10⁶ within a relative 10⁻¹⁴, else the float's exact binary value; a row of P that then
does not sum to exactly 1 is refused), and ``Solution.exact_input`` says which happened
("exact", or "from floats (largest change c)"). The linear algebra runs on python-flint's
rational matrices (:mod:`.rational`): Taxi (S = 501, A = 6) solves in about 3 s. A sparse
MDP raises :class:`~mesabase.theory.mdp.InvalidMDP` (P must be a dense array).

Infinite horizon, γ < 1 — Howard's policy iteration (Howard 1960; Puterman 1994, §6.4):

    evaluate   (I − γ P_π) V^π = r_π                      (exact FLINT solve)
    improve    π'(s) = π(s) unless max_a Q^π(s, a) > Q^π(s, π(s)),  then the first argmax
               Q^π(s, a) = R[s, a] + γ Σ_s' P[s, a, s'] V^π(s')

starting from π₀(s) = first argmax_a R[s, a]. The comparison is exact, so each change
strictly improves V^π and the iteration stops, after finitely many steps, at a policy
with max_a Q^π(s, a) = V^π(s) for every s, i.e. V^π = V*.

γ = 1 with no horizon (episodic, stochastic shortest path): the same iteration from the
proper policy of :func:`~mesabase.theory.episodic.check_episodic`, evaluating only over
non-terminal states (terminal values are 0), as :func:`~mesabase.theory.evaluate` does in
floating point; improvement keeps a proper policy proper (Bertsekas & Tsitsiklis 1991).
With zero-reward loops (positive and negative models, e.g. reachability) the problem is
first reduced to its quotient (:mod:`.total`: each zero-reward end component collapsed,
with a "stop" action worth 0), which is solved so, then lifted exactly: V(s) = V_q(b(s)),
Q recomputed from V, ``actions`` the lifted optimal policy.

Finite horizon H — backward induction (Puterman 1994, §4.5):
V_H = v (``mdp.exact_terminal()``, 0 by default), Q_t = R + γ P V_{t+1},
V_t(s) = max_a Q_t(s, a) for t = H−1, …, 0.

Action masks: every max, argmax and comparison runs over the allowed actions of s only
(``mdp.allowed``), so V*(s) = max_{a allowed} Q*(s, a) exactly (Puterman 1994, §2.1:
state-dependent action sets). ``Q`` holds Fractions at allowed pairs and the float −inf
at disallowed ones (−inf is not a rational; Python compares Fractions with it exactly,
so max, ties and ``optimal`` work unchanged, and it matches the float solvers' Q); no
disallowed action is ever in ``optimal``, ``policy`` or ``actions``. Policies passed to
:func:`evaluate_exact` must put probability 0 on disallowed pairs.

Certificate: before returning, Q = R + γ P V is recomputed from the returned Fractions V
(a FLINT product independent of the solve) and checked to equal the returned Q at every
allowed pair with max_{a allowed} Q(s, a) = V(s) exactly for every s (at every step t,
against V_{t+1} — V_H = v — for a finite horizon; a :class:`RuntimeError` otherwise).

References:
  R. A. Howard, *Dynamic Programming and Markov Processes*, MIT Press 1960.
  M. L. Puterman, *Markov Decision Processes*, Wiley 1994, §4.5 and §6.4.
"""

from __future__ import annotations

from fractions import Fraction

import flint
import numpy as np

from ..episodic import (
    IllPosedMDP,
    check_episodic,
    policy_terminates,
    terminal_states,
    zero_reward_classes,
)
from ..mdp import InvalidMDP, TabularMDP, to_fraction
from ..solution import Solution, optimal_set
from .rational import Transitions, fmpq_of, fraction_of, solve_fmpq
from .total import exact_quotient, reduce_total

__all__ = ["solve_exact", "evaluate_exact"]

_ZERO = Fraction(0)


# ---- exact linear algebra ---------------------------------------------------------------
def _solve_linear(M, b) -> list[Fraction]:
    """Solve M x = b exactly: FLINT's rational solve (:func:`.rational.solve_fmpq`).

    ``M``: an fmpq_mat or a square list of rows of rationals; ``b``: an (n × 1) fmpq_mat
    or a list of n rationals. Returns the n entries of x as Fractions.

    Raises:
      ZeroDivisionError: M is singular.
    """
    if not isinstance(M, flint.fmpq_mat):
        n = len(b)
        M = flint.fmpq_mat(n, n, [fmpq_of(Fraction(x)) for row in M for x in row])
    if not isinstance(b, flint.fmpq_mat):
        b = flint.fmpq_mat(len(b), 1, [fmpq_of(Fraction(x)) for x in b])
    return [fraction_of(x) for x in solve_fmpq(M, b).entries()]


def _first_argmax(row, allowed) -> int:
    """The first allowed a with row[a] = max over the allowed actions (exact)."""
    best = max(q for q, ok in zip(row, allowed, strict=True) if ok)
    return next(a for a, q in enumerate(row) if allowed[a] and q == best)


_NEG_INF = float("-inf")


def _q_array(model: Transitions, flat, allowed=None) -> np.ndarray:
    """The flat fmpq list of :meth:`Transitions.backup` as an (S, A) array of Fractions,
    with the float −inf at pairs ``allowed`` (bool (S, A)) marks as disallowed."""
    Q = np.empty(model.S * model.A, dtype=object)
    Q[:] = [fraction_of(x) for x in flat]
    Q = Q.reshape(model.S, model.A)
    if allowed is not None:
        Q[~allowed] = _NEG_INF
    return Q


def _stationary(model: Transitions, pi_rows, keep) -> np.ndarray:
    """V^π over the states in ``keep`` (others 0): (I − γ P_π) V = r_π restricted to keep.

    ``pi_rows[s]`` is a list of (a, π(a|s)) with π(a|s) ≠ 0.
    """
    M, b = model.system(pi_rows, keep)
    V = np.full(model.S, _ZERO, dtype=object)
    for s, v in zip(keep, _solve_linear(M, b), strict=True):
        V[s] = v
    return V


def _episodic_setup(mdp: TabularMDP, P, R, terminal=None):
    """Terminal mask (checked exactly) for γ = 1: absorbing, zero reward under every
    allowed action, as Fractions."""
    if terminal is None:
        terminal = terminal_states(mdp)
    for s in np.flatnonzero(terminal).tolist():
        for a in np.flatnonzero(mdp.allowed[s]).tolist():
            if P[s, a, s] != 1 or R[s, a] != 0:
                raise IllPosedMDP(
                    f"state {s} is terminal in floating point but not exactly: "
                    f"P[{s}, {a}, {s}] = {P[s, a, s]}, R[{s}, {a}] = {R[s, a]}"
                )
    return terminal


def _pattern(succ, pi_rows) -> np.ndarray:
    """The (S, S) 0/1 pattern of P_π from the exact successors."""
    S = len(succ)
    pattern = np.zeros((S, S))
    for s in range(S):
        for a, _ in pi_rows[s]:
            for j, _ in succ[s][a]:
                pattern[s, j] = 1.0
    return pattern


def _check_terminates(mdp, succ, pi_rows, terminal) -> None:
    policy_terminates(mdp, _pattern(succ, pi_rows), terminal)


def _certify(model: Transitions, V, V_next, Q, allowed, where="") -> None:
    """Raise unless Q = R + γ P V_next at every allowed pair, Q = −inf at the others, and
    max_{a allowed} Q(s, a) = V(s) exactly, for every s (V_next = V for an infinite
    horizon, V_{t+1} for step t of a finite one); Q is recomputed here from V_next."""
    Q2 = _q_array(model, model.backup(V_next), allowed)
    for s in range(model.S):
        if list(Q2[s]) != list(Q[s]) or max(Q2[s]) != V[s]:
            raise RuntimeError(
                f"exact Bellman certificate failed{where} at state {s}: "
                f"max_a (R + γ P V)(s, a) = {max(Q2[s])}, V = {V[s]}"
            )


def _result(V, Q, actions, iterations, note, allowed) -> Solution:
    optimal, policy = optimal_set(Q, 0)
    actions = np.asarray(actions, dtype=np.intp)
    if not allowed[np.arange(allowed.shape[0]), actions].all():  # never: argmax is masked
        raise RuntimeError("exact solve returned a disallowed action")
    for a in (V, Q, optimal, policy, actions):
        a.setflags(write=False)
    return Solution(V=V, Q=Q, optimal=optimal, policy=policy, actions=actions,
                    method="exact", iterations=int(iterations), residual=0.0,
                    error_bound=0.0, tol=0.0, gap=None, exact_input=note)


# ---- solvers ---------------------------------------------------------------------------
def solve_exact(mdp: TabularMDP, max_iterations: int = 10_000) -> Solution:
    """Solve ``mdp`` exactly in rational arithmetic (see the module docstring for the maths).

    Infinite horizon: Howard's policy iteration with exact evaluation; ``actions`` is the
    final policy (it keeps its action on exact ties). Finite horizon H: backward
    induction from V_H = ``mdp.exact_terminal()``; ``actions[t, s]`` is the first optimal
    action. ``V``, ``Q``, ``policy`` are object arrays of Fractions (``Q`` is the float
    −inf at pairs the action mask disallows); ``optimal`` uses exact equality; ``residual``,
    ``error_bound`` and ``tol`` are 0.0, and the zero residual is verified exactly;
    ``exact_input`` is ``"exact"`` or ``"from floats (largest change c)"``.

    Args:
      mdp: a dense :class:`TabularMDP` (exact, or float: floats are read by the rule of
        :func:`~mesabase.theory.rationals.float_to_fraction`).
      max_iterations: a safety cap on policy-iteration steps.

    Raises:
      InvalidMDP: for a sparse MDP, or a row of P read from floats that does not sum to
        exactly 1 (from :meth:`TabularMDP.exact_arrays`).
      IllPosedMDP: γ = 1 with no horizon and the values are not defined.

    Example:
      >>> from fractions import Fraction as F
      >>> import numpy as np
      >>> P = np.array([[[F(1), F(0)], [F(0), F(1)]], [[F(0), F(1)], [F(0), F(1)]]])
      >>> sol = solve_exact(TabularMDP(P, [[F(0), F(1)], [F(2), F(2)]], gamma=F(1, 2)))
      >>> sol.V.tolist(), sol.optimal.tolist(), sol.exact_input
      ([Fraction(3, 1), Fraction(4, 1)], [[False, True], [True, True]], 'exact')
    """
    P, R, gamma, _, note = mdp.exact_arrays(report=True)
    S, A = R.shape
    ok = mdp.allowed
    ok_rows = ok.tolist()
    # P read from floats has the float image's zeros (the rule is relative)
    model = Transitions(P, R, gamma, None if mdp.is_exact else mdp.P != 0)
    if mdp.horizon is not None:
        H = mdp.horizon
        V = np.full((H + 1, S), _ZERO, dtype=object)
        V[H] = mdp.exact_terminal()
        Q = np.empty((H, S, A), dtype=object)
        actions = np.zeros((H, S), dtype=np.intp)
        for t in range(H - 1, -1, -1):
            Q[t] = _q_array(model, model.backup(V[t + 1]), ok)
            for s in range(S):
                actions[t, s] = _first_argmax(Q[t, s], ok_rows[s])
                V[t, s] = Q[t, s, actions[t, s]]
        for t in range(H):
            _certify(model, V[t], V[t + 1], Q[t], ok, f" at t = {t}")
        return _result(V, Q, actions, H, note, ok)

    episodic = gamma == 1
    if episodic:
        red = reduce_total(mdp)
        if red is not None:  # zero-reward loops: solve the quotient (.total), lift exactly
            sq = solve_exact(exact_quotient(mdp, red, P, R), max_iterations)
            col = np.where(red.node >= 0, red.node, red.n_nodes)
            V = np.array([sq.V[c] for c in col] + [_ZERO])[:S]
            actions = red.lift_actions(mdp, sq.actions)
            Q = _q_array(model, model.backup(V), ok)
            _certify(model, V, V, Q, ok)
            return _result(V, Q, actions, sq.iterations, note, ok)
        terminal, proper = check_episodic(mdp)
        terminal = _episodic_setup(mdp, P, R, terminal)
        pi_a = [int(a) for a in proper]
        keep = np.flatnonzero(~terminal).tolist()
    else:
        pi_a = [_first_argmax(R[s], ok_rows[s]) for s in range(S)]
        keep = list(range(S))
    choices = [np.flatnonzero(ok[s]).tolist() for s in range(S)]
    one = flint.fmpq(1)
    for k in range(1, max_iterations + 1):
        pi_rows = [[(a, one)] for a in pi_a]
        if episodic:
            _check_terminates(mdp, model.succ, pi_rows, terminal)
        V = _stationary(model, pi_rows, keep)
        Qf = model.backup(V)
        changed = False
        for s in range(S):
            row = Qf[s * A:(s + 1) * A]
            best = max(row[a] for a in choices[s])
            if best > row[pi_a[s]]:
                pi_a[s] = next(a for a in choices[s] if row[a] == best)
                changed = True
        if not changed:
            Q = _q_array(model, Qf, ok)
            _certify(model, V, V, Q, ok)
            return _result(V, Q, pi_a, k, note, ok)
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
    for i in np.ndindex(shape):
        if pi[i] != 0 and not mdp.allowed[i[-2:]]:
            s, a = i[-2:]
            raise InvalidMDP(f"policy[{', '.join(map(str, i))}] = {pi[i]} > 0 but action {a} "
                             f"is not allowed in state {s} (allowed[{s}, {a}] is False)")
    for i in np.ndindex(shape[:-1]):
        total = sum(pi[i], _ZERO)
        if total != 1:
            raise InvalidMDP(
                f"policy{list(i)}[:] sums to {total} exactly, not 1: exact evaluation needs "
                "exact probabilities (floats are read as the closest rationals with "
                "denominator <= 10^6 within a relative 1e-14, else as their binary values; "
                "pass Fractions, e.g. Fraction(1, 3))"
            )
    return pi


def evaluate_exact(mdp: TabularMDP, policy, reward=None) -> np.ndarray:
    """V^π in rational arithmetic: the exact counterpart of :func:`~mesabase.theory.evaluate`.

    Infinite horizon: (I − γ P_π) V^π = r_π with r_π(s) = Σ_a π(a|s) R[s, a] and
    P_π(s, s') = Σ_a π(a|s) P[s, a, s'], solved exactly by FLINT; with γ = 1 only over
    the transient states of P_π (V = 0 on its recurrent classes, which must have zero
    reward: :func:`~mesabase.theory.episodic.zero_reward_classes`). Finite
    horizon H: V_H = v (``mdp.exact_terminal()``, 0 by default),
    V_t(s) = Σ_a π_t(a|s) [R[s, a] + γ Σ_s' P[s, a, s'] V_{t+1}(s')].

    Args:
      mdp: a dense :class:`TabularMDP`.
      policy: ``pi[s, a]`` (S, A), or per-step ``pi[t, s, a]`` (H, S, A) for a horizon;
        Fractions, ints or floats (read by the rule of
        :func:`~mesabase.theory.rationals.float_to_fraction`); rows must sum to 1 exactly.
      reward: evaluate under this ``R[s, a]`` instead of the MDP's reward.

    Returns:
      An object array of Fractions, shape (S,), or (H+1, S) with ``V[H] = v``.

    Raises:
      InvalidMDP: bad shapes, negative entries, rows that do not sum to 1 exactly, or
        probability > 0 on an action the mask does not allow (naming the pair).
      IllPosedMDP: γ = 1 and the policy repeats a nonzero reward forever from some state.

    Example:
      >>> from fractions import Fraction as F
      >>> import numpy as np
      >>> mdp = TabularMDP(np.array([[[F(1)]]]), [[F(1)]], gamma=F(1, 3))
      >>> evaluate_exact(mdp, [[1]]).tolist()   # 1 + 1/3 + 1/9 + ... = 3/2
      [Fraction(3, 2)]
    """
    P, R_mdp, gamma, _ = mdp.exact_arrays()
    S, A = R_mdp.shape
    if reward is not None and mdp.is_masked:  # entries at disallowed pairs are never read
        reward = np.where(mdp.allowed, np.asarray(reward, dtype=object), 0)
    R = R_mdp if reward is None else _exact_array(reward, (S, A), "reward")
    pi = _exact_policy(mdp, policy)
    model = Transitions(P, R, gamma)
    if mdp.horizon is not None:
        H = mdp.horizon
        V = np.full((H + 1, S), _ZERO, dtype=object)
        V[H] = mdp.exact_terminal()
        for t in range(H - 1, -1, -1):
            pt = pi if pi.ndim == 2 else pi[t]
            Q = _q_array(model, model.backup(V[t + 1]))
            for s in range(S):
                V[t, s] = sum((pt[s, a] * Q[s, a] for a in range(A) if pt[s, a] != 0), _ZERO)
        return V
    pi_rows = [[(a, pi[s, a]) for a in range(A) if pi[s, a] != 0] for s in range(S)]
    keep = list(range(S))
    if gamma == 1:  # V = 0 on the recurrent classes, which must have zero reward
        closed = zero_reward_classes(_pattern(model.succ, pi_rows), pi != 0, R)
        keep = np.flatnonzero(~closed).tolist()
    return _stationary(model, pi_rows, keep)
