"""Constructors from the forms researchers already have: pymdptoolbox's ``(P, R)``, the
transition dict ``P[s][a] = [(prob, s_next, reward, done), ...]`` of Gymnasium's toy-text
environments (FrozenLake, Taxi, CliffWalking), and QuantEcon's ``DiscreteDP`` arguments
(product form with R = −inf for infeasible actions, or state-action pairs).

All return a :class:`~mesabase.theory.mdp.TabularMDP` in mesabase's axis convention
``P[s, a, s']``, ``R[s, a]``; neither package is imported (pymdptoolbox is a benchmark
extra, Gymnasium and QuantEcon are not dependencies at all).

References:
  S. Cordwell, pymdptoolbox, https://github.com/sawcordwell/pymdptoolbox (``mdp.MDP``).
  Farama Foundation, Gymnasium toy-text environments, https://gymnasium.farama.org.
  QuantEcon, ``quantecon.markov.DiscreteDP`` (D. Oyama), https://quantecon.org.
"""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Integral

import numpy as np
import scipy.sparse as sp

from .checks import is_real, real_array
from .mdp import ROW_SUM_ATOL, InvalidMDP, TabularMDP

__all__ = ["from_mdptoolbox", "from_gym", "from_quantecon"]


# ---- pymdptoolbox ---------------------------------------------------------------------
def _is_matrix_sequence(X) -> bool:
    """A list/tuple or 1-D object array whose items are matrices (pymdptoolbox's 'cell array')."""
    if isinstance(X, np.ndarray):
        return X.dtype == object and X.ndim == 1 and any(
            sp.issparse(m) or np.ndim(m) == 2 for m in X)
    return isinstance(X, (list, tuple)) and any(sp.issparse(m) for m in X)


def _matrices(X, name: str, what: str) -> list:
    """Check a sequence of A square (S, S) matrices of one size; keep sparse ones sparse."""
    if len(X) == 0:
        raise InvalidMDP(f"{name} is empty: need one (S, S) {what} matrix per action")
    out = []
    for a, m in enumerate(X):
        m = m if sp.issparse(m) else np.asarray(m)
        if m.dtype.kind == "c":
            raise InvalidMDP(f"{name}[{a}] (action {a}) must be real; got complex dtype "
                             f"{m.dtype} (the imaginary part would be discarded)")
        if m.ndim != 2 or m.shape[0] != m.shape[1]:
            raise InvalidMDP(
                f"{name}[{a}] (action {a}) must be a square (S, S) {what} matrix; "
                f"got shape {m.shape}")
        if out and m.shape != out[0].shape:
            raise InvalidMDP(
                f"{name}[{a}] (action {a}) has shape {m.shape} but {name}[0] has "
                f"{out[0].shape}: every action needs the same (S, S)")
        out.append(m)
    return out


def _toolbox_transitions(P):
    """Return ``(P_mesabase, mats)``: the (S, A, S) array or (S·A, S) CSR, and the A matrices."""
    if sp.issparse(P):
        raise InvalidMDP(
            f"P is a single sparse matrix of shape {P.shape}; pymdptoolbox's P is an "
            "(A, S, S) array or a sequence of A sparse (S, S) matrices")
    if not _is_matrix_sequence(P):
        try:
            P3 = np.asarray(P)
        except ValueError:  # ragged list of matrices: let _matrices name the culprit
            P3 = None
        if P3 is not None and (P3.dtype != object or P3.ndim != 1):
            if P3.ndim != 3:
                raise InvalidMDP(
                    f"P must have rank 3, axes (a, s, s') in pymdptoolbox's layout; got rank "
                    f"{P3.ndim} with shape {P3.shape}")
            A, S, S2 = P3.shape
            if S2 != S:
                raise InvalidMDP(
                    f"P axis 2 (next state s') has length {S2} but axis 1 (state s) has "
                    f"length {S}; pymdptoolbox's P has shape (A, S, S)")
            return np.transpose(P3, (1, 0, 2)), list(P3)
    mats = _matrices(P, "P", "transition")
    if not any(sp.issparse(m) for m in mats):
        P3 = np.stack(mats)
        return np.transpose(P3, (1, 0, 2)), list(P3)
    A, S = len(mats), mats[0].shape[0]
    mats = [sp.csr_array(m, dtype=np.float64) for m in mats]
    stacked = sp.vstack(mats, format="csr")  # row a·S + s holds P[a][s, :]
    order = (np.arange(A)[None, :] * S + np.arange(S)[:, None]).reshape(-1)
    return sp.csr_array(stacked[order, :]), mats  # row s·A + a


def _rowsum_product(Pa, Ra) -> np.ndarray:
    """Σ_s' Pa[s, s'] Ra[s, s'] for dense or sparse factors, without densifying."""
    if sp.issparse(Pa):
        return np.asarray(Pa.multiply(Ra).sum(axis=1)).reshape(-1)
    if sp.issparse(Ra):
        return np.asarray(Ra.multiply(Pa).sum(axis=1)).reshape(-1)
    return (Pa * Ra).sum(axis=1)


def _toolbox_rewards(R, mats, S: int, A: int) -> np.ndarray:
    if _is_matrix_sequence(R):
        rmats = _matrices(R, "R", "transition-reward")
        if len(rmats) != A or rmats[0].shape != (S, S):
            raise InvalidMDP(
                f"R as a sequence of transition-reward matrices must hold A = {A} matrices "
                f"of shape ({S}, {S}); got {len(rmats)} of shape {rmats[0].shape}")
        return np.stack([_rowsum_product(mats[a], rmats[a]) for a in range(A)], axis=1)
    R = R.toarray() if sp.issparse(R) else np.asarray(R)
    if R.ndim == 1:
        if R.shape[0] != S:
            raise InvalidMDP(
                f"R of rank 1 is a state reward R[s] and needs S = {S} entries (axis 0, "
                f"state s); got {R.shape[0]}")
        return np.repeat(R[:, None], A, axis=1)
    if R.ndim == 2:
        if R.shape[0] != S:
            hint = " (it looks like (A, S): transpose it)" if R.shape == (A, S) else ""
            raise InvalidMDP(
                f"R of rank 2 is R[s, a], shape (S, A) = ({S}, {A}); axis 0 (state s) has "
                f"length {R.shape[0]}{hint}")
        if R.shape[1] != A:
            raise InvalidMDP(
                f"R of rank 2 is R[s, a], shape (S, A) = ({S}, {A}); axis 1 (action a) has "
                f"length {R.shape[1]}")
        return R
    if R.ndim == 3:
        for axis, (n, want, label) in enumerate(
                zip(R.shape, (A, S, S), ("action a", "state s", "next state s'"), strict=True)):
            if n != want:
                raise InvalidMDP(
                    f"R of rank 3 is R[a, s, s'], shape (A, S, S) = ({A}, {S}, {S}); axis "
                    f"{axis} ({label}) has length {n}")
        return np.stack([_rowsum_product(mats[a], R[a]) for a in range(A)], axis=1)
    raise InvalidMDP(
        f"R must have shape (S,), (S, A) or (A, S, S) (pymdptoolbox's layouts); got rank "
        f"{R.ndim} with shape {R.shape}")


def from_mdptoolbox(P, R, *, gamma, horizon=None, mu0=None) -> TabularMDP:
    """Build a :class:`TabularMDP` from pymdptoolbox's ``(P, R)``.

    pymdptoolbox puts the action first: ``P_in[a][s, s']``. Here
    ``P[s, a, s'] = P_in[a][s, s']`` and the expected reward is

        R[s, a] = R_in[s]                               R_in of shape (S,)   (state reward)
        R[s, a] = R_in[s, a]                            R_in of shape (S, A)
        R[s, a] = Σ_s' P_in[a][s, s'] R_in[a][s, s']    R_in of shape (A, S, S) (transition reward)

    the three layouts of ``mdptoolbox.mdp.MDP._computeReward``. ``R_in`` may also be a
    sequence of A (S, S) transition-reward matrices, dense or ``scipy.sparse``.

    Args:
      P: an (A, S, S) array (float, or Fractions for an exact MDP), or a sequence (list,
        tuple, object array) of A (S, S) matrices. If any of them is ``scipy.sparse`` the
        MDP is sparse: an (S·A, S) CSR matrix with row ``s·A + a = P_in[a][s, :]``, built
        without densifying.
      R: the reward in one of the layouts above.
      gamma, horizon, mu0: as for :class:`TabularMDP` (pymdptoolbox's ``discount`` is γ).

    Raises:
      InvalidMDP: for a malformed shape, naming the axis; row-sum errors name ``P[s, a, :]``
        in mesabase's order, i.e. ``P_in[a][s, :]``.

    Example:
      >>> import numpy as np
      >>> P_in = np.array([[[0.5, 0.5], [0.0, 1.0]], [[1.0, 0.0], [1.0, 0.0]]])  # (A, S, S)
      >>> mdp = from_mdptoolbox(P_in, np.array([[1.0, 0.0], [0.0, 2.0]]), gamma=0.9)
      >>> mdp.P[0].tolist()  # P[s=0, a, s']
      [[0.5, 0.5], [1.0, 0.0]]
      >>> from_mdptoolbox(P_in, np.ones((2, 2, 2)), gamma=0.9).R.tolist()
      [[1.0, 1.0], [1.0, 1.0]]
    """
    P_out, mats = _toolbox_transitions(P)
    S = P_out.shape[1] if sp.issparse(P_out) else P_out.shape[0]
    A = len(mats)
    R_out = _toolbox_rewards(R, mats, S, A)
    try:
        return TabularMDP(P_out, R_out, gamma=gamma, horizon=horizon, mu0=mu0)
    except InvalidMDP as e:
        raise InvalidMDP(f"{e} [from pymdptoolbox's layout: P[s, a, s'] = P_in[a][s, s']]") \
            from None


# ---- Gymnasium toy-text ---------------------------------------------------------------
def _count(n, name: str, default: int) -> int:
    if n is None:
        return default
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise InvalidMDP(f"{name} must be an integer >= 1; got {n!r}")
    return int(n)


def from_gym(P, *, gamma, horizon=None, mu0=None, n_states=None, n_actions=None,
             sparse: bool = False) -> TabularMDP:
    """Build a :class:`TabularMDP` from a Gymnasium toy-text transition dict
    ``P[s][a] = [(prob, s_next, reward, done), ...]`` (``env.unwrapped.P``).

    Semantics:

    * Expected reward: R[s, a] = Σ_k prob_k · reward_k over the entries of ``P[s][a]``
      (the reward Gymnasium pays on a transition is credited to the (s, a) that made it).
    * Termination: an entry flagged ``done`` (with positive probability) ends the episode.
      It is routed to one extra absorbing, zero-reward "episode over" state with index S
      (its reward is still counted in R[s, a]), so the MDP has S + 1 states; without
      such an entry no state is added. The extra state is terminal in the sense of
      :mod:`mesabase.theory.episodic`, so γ = 1 is well posed when every policy either
      ends the episode or pays for not ending it (see
      :func:`~mesabase.theory.check_episodic`). Gymnasium's time-limit *truncation*
      (``TimeLimit``) is not part of ``P``; use ``horizon`` for it.
    * Duplicate entries with the same ``s_next`` (FrozenLake's slippery moves into a wall)
      have their probabilities summed.
    * μ0: ``mu0`` with S entries (padded with 0 for the extra state) or S + 1 entries;
      by default uniform over the S original states. Toy-text environments keep their
      own start distribution in ``env.unwrapped.initial_state_distrib`` (FrozenLake and
      CliffWalking start in one state, Taxi in 300 of 500): pass it to reproduce the
      environment's J(π) = Σ_s μ0(s) V^π(s). V*, Q* and the optimal actions do not depend
      on μ0.

    Args:
      P: the dict ``{s: {a: [(prob, s_next, reward, done), ...]}}`` with states 0..S−1 and
        the same actions 0..A−1 in every state.
      gamma, horizon: as for :class:`TabularMDP`.
      mu0: initial distribution, see above.
      n_states, n_actions: S and A (default ``len(P)`` and ``len(P[0])``).
      sparse: build an (S·A, S) CSR ``P`` (large maps) instead of a dense array.

    Raises:
      InvalidMDP: a missing or extra state or action key, an entry that is not a 4-tuple,
        a next state out of range, a negative or non-finite probability or reward, or
        probabilities of ``P[s][a]`` not summing to 1, naming s and a.

    Example:
      >>> P = {0: {0: [(1.0, 0, 0.0, False)], 1: [(0.5, 1, 1.0, True), (0.5, 0, 0.0, False)]},
      ...      1: {0: [(1.0, 1, 0.0, True)], 1: [(1.0, 1, 0.0, True)]}}
      >>> mdp = from_gym(P, gamma=0.9)
      >>> mdp.n_states, mdp.R.tolist(), mdp.mu0.tolist()
      (3, [[0.0, 0.5], [0.0, 0.0], [0.0, 0.0]], [0.5, 0.5, 0.0])
      >>> mdp.P[0, 1].tolist()  # from state 0, action 1: stay, or end the episode
      [0.5, 0.0, 0.5]
    """
    if not isinstance(P, Mapping):
        raise InvalidMDP(f"P must be a dict {{s: {{a: [(prob, s_next, reward, done), ...]}}}}; "
                         f"got {type(P).__name__}")
    S = _count(n_states, "n_states", len(P))
    for key in P:
        if isinstance(key, bool) or not isinstance(key, Integral) or not 0 <= key < S:
            raise InvalidMDP(f"P has a state key {key!r} outside 0..{S - 1} (n_states = {S})")
    for s in range(S):
        if s not in P:
            raise InvalidMDP(f"P has no entry for state {s}: states must be the keys 0..{S - 1}")
        if not isinstance(P[s], Mapping):
            raise InvalidMDP(f"P[{s}] must be a dict {{a: [...]}}; got {type(P[s]).__name__}")
    A = _count(n_actions, "n_actions", len(P[0]))
    rows, cols, vals = [], [], []
    R = np.zeros((S, A))
    any_done = False
    for s in range(S):
        for key in P[s]:
            if isinstance(key, bool) or not isinstance(key, Integral) or not 0 <= key < A:
                raise InvalidMDP(f"P[{s}] has an action key {key!r} outside 0..{A - 1} "
                                 f"(n_actions = {A})")
        for a in range(A):
            if a not in P[s]:
                raise InvalidMDP(f"P[{s}] has no entry for action {a} (state {s}, action {a})")
            entries = P[s][a]
            if len(entries) == 0:
                raise InvalidMDP(f"P[{s}][{a}] is empty: state {s}, action {a} has no outcome")
            total = 0.0
            for k, entry in enumerate(entries):
                if len(entry) != 4:
                    raise InvalidMDP(f"P[{s}][{a}][{k}] must be (prob, s_next, reward, done); "
                                     f"got {entry!r}")
                prob, s_next, reward, done = entry
                for what, x in (("probability", prob), ("reward", reward)):
                    if not is_real(x):  # "0.5", True, 1+0j: refused, not converted
                        raise InvalidMDP(f"P[{s}][{a}][{k}] (state {s}, action {a}) has "
                                         f"{what} {x!r}; it must be a real number")
                prob, reward = float(prob), float(reward)
                if not np.isfinite(prob) or prob < 0:
                    raise InvalidMDP(f"P[{s}][{a}][{k}] (state {s}, action {a}) has probability "
                                     f"{prob!r}; it must be finite and >= 0")
                if not np.isfinite(reward):
                    raise InvalidMDP(f"P[{s}][{a}][{k}] (state {s}, action {a}) has reward "
                                     f"{reward!r}; it must be finite")
                if (isinstance(s_next, bool) or not isinstance(s_next, Integral)
                        or not 0 <= s_next < S):
                    raise InvalidMDP(f"P[{s}][{a}][{k}] (state {s}, action {a}) has next state "
                                     f"{s_next!r} outside 0..{S - 1}")
                ends = bool(done) and prob > 0
                any_done |= ends
                rows.append(s * A + a)
                cols.append(S if ends else int(s_next))
                vals.append(prob)
                R[s, a] += prob * reward
                total += prob
            if abs(total - 1.0) > ROW_SUM_ATOL:
                raise InvalidMDP(f"P[{s}][{a}] probabilities sum to {total!r}, not 1 "
                                 f"(state {s}, action {a}; tolerance {ROW_SUM_ATOL:g})")
    S_out = S + int(any_done)
    if any_done:
        rows += [S * A + a for a in range(A)]
        cols += [S] * A
        vals += [1.0] * A
        R = np.vstack([R, np.zeros((1, A))])
    Pm = sp.csr_array((vals, (rows, cols)), shape=(S_out * A, S_out))  # duplicates summed
    Pm.sum_duplicates()
    P_out = Pm if sparse else Pm.toarray().reshape(S_out, A, S_out)

    if mu0 is None:
        m = np.zeros(S_out)
        m[:S] = 1.0 / S
    else:
        m = real_array(mu0, "mu0", error=InvalidMDP)
        if m.shape == (S,) and any_done:
            m = np.concatenate([m, [0.0]])
        elif m.shape != (S_out,):
            extra = f" or ({S_out},) with the episode-over state" if any_done else ""
            raise InvalidMDP(f"mu0 must have shape ({S},) (one entry per state of P){extra}; "
                             f"got {m.shape}")
    return TabularMDP(P_out, R, gamma=gamma, horizon=horizon, mu0=m)


# ---- QuantEcon ------------------------------------------------------------------------
def _pair_indices(x, name: str, L: int, size: int | None) -> np.ndarray:
    arr = np.asarray(x)
    if arr.shape != (L,) or (arr.size and arr.dtype.kind not in "iu"):
        raise InvalidMDP(f"{name} must be {L} integers (one per state-action pair); got "
                         f"dtype {arr.dtype}, shape {arr.shape}")
    arr = arr.astype(np.intp)
    bad = (arr < 0) | (size is not None and arr >= size)
    if bad.any():
        i = int(np.argmax(bad))
        top = "" if size is None else f", {size}"
        raise InvalidMDP(f"{name}[{i}] = {int(arr[i])} is out of range [0{top})")
    return arr


def from_quantecon(R, Q, beta, s_indices=None, a_indices=None, *, horizon=None,
                   terminal=None, mu0=None, n_actions=None) -> TabularMDP:
    """Build a :class:`TabularMDP` from QuantEcon's ``DiscreteDP(R, Q, beta, s_indices,
    a_indices)`` arguments (QuantEcon's ``v_term`` is ``terminal``, with a ``horizon``).

    Two forms, as in QuantEcon:

    * product form (``s_indices`` None): ``R[s, a]`` (S, A) with R = −inf for an action a
      state does not have, ``Q[s, a, s']`` (S, A, S). Rows Q[s, a, :] of infeasible pairs
      are not read (any row will do) and are stored as the unit vector e_s.
    * state-action pairs: pair l is (``s_indices[l]``, ``a_indices[l]``) with reward
      ``R[l]`` (L,) and transition row ``Q[l, :]`` (Q of shape (L, S), dense or
      ``scipy.sparse``: then the MDP is sparse). Pairs not listed are not allowed; each
      pair may be listed once. A = max(a_indices) + 1 unless ``n_actions`` is given.

    In both, ``mdp.allowed`` is the feasibility mask, the stored R is 0 and P[s, a, :] = e_s
    at infeasible pairs (placeholders no solver reads: :mod:`mesabase.theory.mdp`).

    Args:
      R, Q, beta, s_indices, a_indices: QuantEcon's arguments (β = γ).
      horizon, terminal, mu0: as for :class:`TabularMDP`.
      n_actions: A for the state-action pair form.

    Raises:
      InvalidMDP: a malformed shape, a repeated pair, a state with no feasible action, or
        a row of Q that is not a distribution (named as P[s, a, :]).

    Example (Puterman 1994, §3.1, as in QuantEcon's documentation):
      >>> mdp = from_quantecon([5.0, 10.0, -1.0], [[0.5, 0.5], [0.0, 1.0], [0.0, 1.0]], 0.95,
      ...                      s_indices=[0, 0, 1], a_indices=[0, 1, 0])
      >>> mdp.allowed.tolist()
      [[True, True], [True, False]]
    """
    if (s_indices is None) != (a_indices is None):
        raise InvalidMDP("pass both s_indices and a_indices (state-action pair form) or "
                         "neither (product form)")
    if s_indices is None:
        Rf = real_array(R, "R", error=InvalidMDP)
        P = np.array(Q, dtype=object if np.asarray(Q).dtype == object else np.float64)
        if Rf.ndim != 2 or P.ndim != 3 or P.shape[:2] != Rf.shape or P.shape[2] != P.shape[0]:
            raise InvalidMDP(f"product form needs R (S, A) and Q (S, A, S); got R {Rf.shape} "
                             f"and Q {P.shape}")
        S = P.shape[0]
        off = Rf == -np.inf
        P[off] = np.eye(S, dtype=P.dtype)[np.nonzero(off)[0]]
        return TabularMDP(P, R, gamma=beta, horizon=horizon, terminal=terminal, mu0=mu0)
    Rl = real_array(R, "R", error=InvalidMDP)
    if Rl.ndim != 1:
        raise InvalidMDP(f"state-action pair form needs R of shape (L,); got {Rl.shape}")
    L = Rl.shape[0]
    if sp.issparse(Q):
        Qm = sp.csr_array(Q, dtype=np.float64)
    else:
        Qm = np.asarray(Q)
    if Qm.ndim != 2 or Qm.shape[0] != L or Qm.shape[1] == 0:
        raise InvalidMDP(f"state-action pair form needs Q of shape (L, S) with L = {L}; got "
                         f"{Qm.shape}")
    S = Qm.shape[1]
    s = _pair_indices(s_indices, "s_indices", L, S)
    a = _pair_indices(a_indices, "a_indices", L, n_actions)
    A = _count(n_actions, "n_actions", int(a.max()) + 1 if L else 1)
    allowed = np.zeros((S, A), dtype=bool)
    row = s * A + a
    seen = np.zeros(S * A, dtype=np.intp)
    np.add.at(seen, row, 1)
    if (seen > 1).any():
        k = int(np.argmax(seen > 1))
        raise InvalidMDP(f"the pair (s, a) = ({k // A}, {k % A}) is listed more than once")
    allowed.reshape(-1)[row] = True
    empty = ~allowed.any(axis=1)
    if empty.any():
        raise InvalidMDP(f"state {int(np.argmax(empty))} has no feasible action (no pair "
                         "lists it)")
    R_full = np.zeros(S * A, dtype=Rl.dtype if np.asarray(R).dtype != object else object)
    R_full[row] = np.asarray(R)
    free = np.flatnonzero(~allowed.reshape(-1))  # placeholder rows e_s
    if sp.issparse(Qm):
        Qc = Qm.tocoo()
        r_all = np.concatenate([row[Qc.row], free])
        c_all = np.concatenate([Qc.col, free // A])
        v_all = np.concatenate([Qc.data, np.ones(free.size)])
        P = sp.csr_array((v_all, (r_all, c_all)), shape=(S * A, S))
    else:
        P = np.zeros((S * A, S), dtype=object if Qm.dtype == object else np.float64)
        P[row] = Qm
        P[free, free // A] = 1
        P = P.reshape(S, A, S)
    return TabularMDP(P, R_full.reshape(S, A), gamma=beta, horizon=horizon,
                      terminal=terminal, mu0=mu0, allowed=allowed)
