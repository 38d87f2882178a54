"""γ = 1 with no horizon beyond shortest paths: zero-reward loops (positive and negative models).

The total reward V^π(s) = E Σ_t r_t is determined for every policy when no policy can
repeat a nonzero reward forever without end: every *end component* (a set of states a
policy can stay in forever, with the actions that keep it there,
:func:`~mesabase.theory.episodic.end_components`) has either only zero rewards — staying
there is worth 0, e.g. wandering on the frozen tiles of FrozenLake — or a negative reward
and no positive one — staying costs −∞, so an optimal policy leaves. This covers
Puterman's (1994, ch. 7) *positive* models without infinite values (all rewards ≥ 0:
reachability, V* the least non-negative fixed point of T, e.g. the probability of
reaching FrozenLake's goal, §7.2) and *negative* models (rewards ≤ 0, with somewhere
free to rest: V* the largest non-positive fixed point, §7.3), and the stochastic shortest
paths of Bertsekas & Tsitsiklis (1991), with rewards of any sign where no policy can
repeat them forever.
Refused, naming states and actions (:class:`~mesabase.theory.IllPosedMDP`): an end
component with a positive reward (V* = +∞, or +∞ − ∞ with a negative one in it, where the
values are not determined), and states from which every policy repeats a negative reward
forever with positive probability (V* = −∞). We refuse infinite values rather than
report them: every method then returns finite arrays with the usual meaning.

**Reduction** (de Alfaro 1999; Puterman 1994, §7.2–7.3): with zero-reward loops T has many
fixed points (a constant can be added on a zero loop), value iteration and policy
iteration can stall on them, and a policy that picks only Bellman-optimal actions may
loop forever for 0. Each maximal end component B of the zero-reward actions (a *zero
block*) is therefore collapsed into one state b of a *quotient* MDP whose actions are

* every (s, a) with s ∈ B and a not one of B's zero-reward actions (it leaves B with
  positive probability, or has nonzero reward), with the same reward and the successors
  mapped to their blocks, and
* *stop*: reward 0, to a terminal state τ (staying in B forever is worth exactly 0);

a block without other actions (terminal states among them) is τ itself, and a state in no
block is its own quotient state. In the quotient every end component other than τ has a
negative reward (a zero one would lift to a larger zero block), so it is a stochastic
shortest path problem in the sense of Bertsekas & Tsitsiklis: T has exactly one fixed
point, policy and value iteration and both LPs find it, from the same code as any other
γ = 1 problem. V*(s) = V*_q(b(s)): a quotient policy lifts to an original one of the same
value (inside B, move towards the state whose action the quotient takes, through B's
zero-reward actions: finitely many steps a.s., reward 0), and no original policy does
better (the end-component argument of de Alfaro 1999, for total rewards: a policy's pairs
taken infinitely often form an end component almost surely). The returned
``actions`` are that lifted policy: optimal, not only greedy. ``optimal`` is the set of
*conserving* actions, Q*(s, a) = V*(s) (Puterman 1994, §7.1.3): with zero loops it can
contain a loop action a policy must not take at every visit.

**Certificate** (``error_bound`` ≥ ‖V − V*‖∞ for the MDP as stored, floating point
included). The values are checked against the original rows, Q̂ = fl(R + P V) with the
rounding bound E_Q of :mod:`.certificate` — the exact quotient backup at (b, (s, a)) is
the original backup at (s, a) — so the rounding of building the quotient does not
enter. When the quotient has no end component besides τ (every policy ends: no negative
loop, the reachability case), let w be its largest expected time to τ (a γ = 1 problem
with reward 1, solved by policy iteration) and η > 0 a verified lower bound on
w(n) − (P_o w)(n) over every quotient option o (rounding of P w included), so that
w' = w/η satisfies P_o w' ≤ w' − 1 exactly. For δ⁺ ≥ max(T V − V, 0) and δ⁻ ≥
max(V − T_μ V, 0) (μ the returned policy, both with E_Q added), U = V + δ⁺w' satisfies
T U ≤ U, hence U ≥ V*, and L = V − δ⁻w' satisfies T_μ L ≥ L, hence L ≤ V^μ ≤ V* (every
P_π then has spectral radius < 1, so these are Neumann-series arguments). So

    error_bound = max(δ⁺, δ⁻) ‖w‖∞ / η        (rounded up)

which also bounds V* − V^μ for the returned policy. With a negative loop in the quotient
(some policy never ends) no such w exists; then ``error_bound`` is the shortest-path
bound when the problem needed no reduction (:mod:`.iteration`, item 4) and otherwise
``inf`` (not certified). Exact mode (:mod:`.exact`) solves the quotient in rationals.

References:
  L. de Alfaro, "Computing minimum and maximum reachability times in probabilistic
  systems", CONCUR 1999, LNCS 1664. D. P. Bertsekas and J. N. Tsitsiklis, "An analysis
  of stochastic shortest path problems", Math. Oper. Res. 16(3), 1991. M. L. Puterman,
  *Markov Decision Processes*, Wiley 1994, ch. 7.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import scipy.sparse as sp

from ..episodic import (
    IllPosedMDP,
    almost_sure,
    end_components,
    refuse_unbounded_loops,
    terminal_states,
    toward,
)
from ..evaluation import bellman_q
from ..mdp import TabularMDP
from ..solution import Solution
from .certificate import SAFETY_FACTOR, UNIT_ROUNDOFF, inf_norm, make_solution, mdp_rounding

__all__ = ["Reduction", "reduce_total", "solve_total", "exact_quotient"]

_U, _SAFE = UNIT_ROUNDOFF, SAFETY_FACTOR
#: Quotients with (N + 1)² · A_q up to this are built dense, larger ones as CSR.
DENSE_MAX = 2_000_000


@dataclass(frozen=True)
class Reduction:
    """The quotient of an MDP by its zero blocks (module docstring).

    ``node[s]``: s's quotient state, or −1 for τ (quotient index ``n_nodes``).
    Options ``k`` are arrays over the quotient's actions: ``opt_node``, ``opt_k`` (its
    index among the node's actions), ``opt_s``, ``opt_a`` (the original pair; ``opt_a``
    is −1 for *stop*). ``block[s]``: s's zero block (−1 if none); ``internal[s, a]``:
    (s, a) is a zero-reward action of s's block. ``quotient``: the float quotient MDP.
    """

    node: np.ndarray
    n_nodes: int
    opt_node: np.ndarray
    opt_k: np.ndarray
    opt_s: np.ndarray
    opt_a: np.ndarray
    block: np.ndarray
    internal: np.ndarray
    quotient: TabularMDP | None

    @property
    def width(self) -> int:
        return int(self.opt_k.max()) + 1 if self.opt_k.size else 1

    def lift_actions(self, mdp: TabularMDP, actions_q) -> np.ndarray:
        """An optimal stationary policy of the original MDP from the quotient's actions:
        the chosen pair at its state, and inside a block a zero-reward move towards that
        state (or, for *stop* and for τ, any zero-reward action of the block)."""
        actions_q = np.asarray(actions_q)
        S = mdp.n_states
        lookup = {(int(n), int(k)): i
                  for i, (n, k) in enumerate(zip(self.opt_node, self.opt_k, strict=True))}
        chosen = [lookup[(n, int(actions_q[n]))] for n in range(self.n_nodes)]
        actions = np.argmax(np.where(self.internal.any(axis=1)[:, None], self.internal,
                                     mdp.allowed), axis=1)
        targets = np.zeros(S, dtype=bool)
        for i in chosen:
            s, a = int(self.opt_s[i]), int(self.opt_a[i])
            if a >= 0:
                actions[s] = a
                targets[s] = True
        reach, route = toward(mdp, self.internal, targets)
        inside = (self.block >= 0) & reach & ~targets
        actions[inside] = route[inside]
        return actions


def _zero_blocks(mdp: TabularMDP):
    """Refusals, then (block, internal) of the zero-reward end components, terminal."""
    terminal = terminal_states(mdp)  # raises for an absorbing state worth ±inf
    refuse_unbounded_loops(mdp, mdp.allowed)
    block, internal = end_components(mdp, mdp.allowed & (mdp.R == 0))
    return block, internal, terminal


def reduce_total(mdp: TabularMDP) -> Reduction | None:
    """The :class:`Reduction` of a γ = 1, no-horizon ``mdp`` by its zero blocks, or None
    when its only zero blocks are its terminal states (a shortest-path problem as given).

    Raises:
      IllPosedMDP: an end component with a positive reward (V* = +inf or undetermined),
        or states where V* = −inf (every policy repeats a negative reward forever with
        positive probability), naming them.
    """
    block, internal, terminal = _zero_blocks(mdp)
    if ((block >= 0) == terminal).all():
        return None
    red = _build(mdp, block, internal)
    _refuse_minus_infinity(mdp, red)
    return red


def _build(mdp: TabularMDP, block, internal, quotient: bool = True) -> Reduction:
    external = mdp.allowed & ~internal
    n_blocks = int(block.max()) + 1
    open_block = np.zeros(n_blocks, dtype=bool)
    np.logical_or.at(open_block, block[block >= 0], external[block >= 0].any(axis=1))
    # node numbering: open blocks first, then states in no block; closed blocks → τ
    bnode = np.cumsum(open_block) - 1
    n_open = int(open_block.sum())
    free = block < 0
    node = np.where(free, n_open + np.cumsum(free) - 1, -1)
    inb = block >= 0
    node[inb] = np.where(open_block[block[inb]], bnode[block[inb]], -1)
    N = n_open + int(free.sum())
    s_idx, a_idx = np.nonzero(external & (node >= 0)[:, None])
    stop_nodes = np.arange(n_open)
    opt_node = np.concatenate([node[s_idx], stop_nodes])
    opt_s = np.concatenate([s_idx, -np.ones(n_open, dtype=np.intp)])
    opt_a = np.concatenate([a_idx, -np.ones(n_open, dtype=np.intp)])
    order = np.argsort(opt_node, kind="stable")
    opt_node, opt_s, opt_a = opt_node[order], opt_s[order], opt_a[order]
    starts = np.searchsorted(opt_node, np.arange(N))
    opt_k = np.arange(opt_node.size) - starts[opt_node]
    # the stop option's state: any state of the block (for reporting only)
    first = np.full(n_open, -1)
    for s in np.flatnonzero(inb & (node >= 0))[::-1]:
        first[node[s]] = s
    stop = opt_a < 0
    opt_s[stop] = first[opt_node[stop]]
    red = Reduction(node=node, n_nodes=N, opt_node=opt_node, opt_k=opt_k, opt_s=opt_s,
                    opt_a=opt_a, block=block, internal=internal, quotient=None)
    if not quotient:
        return red
    return Reduction(**{**red.__dict__, "quotient": _float_quotient(mdp, red)})


def _float_quotient(mdp: TabularMDP, red: Reduction) -> TabularMDP:
    S, A, N, W = mdp.n_states, mdp.n_actions, red.n_nodes, red.width
    col = np.where(red.node >= 0, red.node, N)
    M = sp.csr_array((np.ones(S), (np.arange(S), col)), shape=(S, N + 1))
    pair = red.opt_a >= 0
    rows_q = red.opt_node * W + red.opt_k
    Pp = sp.csr_array(sp.csr_array(mdp.P_matrix)[red.opt_s[pair] * A + red.opt_a[pair]] @ M)
    allowed = np.zeros((N + 1, W), dtype=bool)
    allowed[red.opt_node, red.opt_k] = True
    allowed[N, 0] = True
    R = np.zeros((N + 1, W))
    R[red.opt_node[pair], red.opt_k[pair]] = mdp.R[red.opt_s[pair], red.opt_a[pair]]
    # rows: the pairs' aggregated rows; stop and τ → τ; unused slots: a self-loop
    filler = np.repeat(np.arange(N + 1), W)
    base = sp.csr_array((np.ones((N + 1) * W), (np.arange((N + 1) * W), filler)),
                        shape=((N + 1) * W, N + 1))
    keep = np.ones((N + 1) * W, dtype=bool)
    keep[rows_q] = False
    keep[N * W] = False
    base = sp.diags_array(keep.astype(float)) @ base
    put = sp.csr_array((np.ones(int(pair.sum())), (rows_q[pair], np.arange(int(pair.sum())))),
                       shape=((N + 1) * W, int(pair.sum())))
    stop_rows = np.append(rows_q[~pair], N * W)
    to_tau = sp.csr_array((np.ones(stop_rows.size), (stop_rows, np.full(stop_rows.size, N))),
                          shape=((N + 1) * W, N + 1))
    Pq = sp.csr_array(base + put @ Pp + to_tau)
    if (N + 1) ** 2 * W <= DENSE_MAX:
        Pq = Pq.toarray().reshape(N + 1, W, N + 1)
    mu0 = np.asarray(M.T @ mdp.mu0)
    return TabularMDP(Pq, R, gamma=1.0, mu0=mu0 / mu0.sum(), allowed=allowed)


def exact_quotient(mdp: TabularMDP, red: Reduction, P, R) -> TabularMDP:
    """The quotient in rationals, from the Fractions ``P``, ``R`` of ``mdp.exact_arrays``."""
    N, W = red.n_nodes, red.width
    zero = Fraction(0)
    Pq = np.full((N + 1, W, N + 1), zero, dtype=object)
    Rq = np.full((N + 1, W), zero, dtype=object)
    allowed = np.zeros((N + 1, W), dtype=bool)
    col = np.where(red.node >= 0, red.node, N)
    for n, k, s, a in zip(red.opt_node, red.opt_k, red.opt_s, red.opt_a, strict=True):
        allowed[n, k] = True
        if a < 0:
            Pq[n, k, N] = Fraction(1)
            continue
        Rq[n, k] = R[s, a]
        support = (np.flatnonzero(mdp.P[s, a] != 0).tolist() if not mdp.is_exact
                   else [j for j in range(mdp.n_states) if P[s, a, j] != 0])
        for s2 in support:
            Pq[n, k, col[s2]] += P[s, a, s2]
    for n in range(N + 1):
        for k in range(W):
            if not allowed[n, k]:
                Pq[n, k, n] = Fraction(1)
    Pq[N, 0, N] = Fraction(1)
    allowed[N, 0] = True
    return TabularMDP(Pq, Rq, gamma=Fraction(1), allowed=allowed)


def _refuse_minus_infinity(mdp: TabularMDP, red: Reduction) -> None:
    q = red.quotient
    tau = np.zeros(red.n_nodes + 1, dtype=bool)
    tau[-1] = True
    U = almost_sure(q, tau)
    if U.all():
        return
    col = np.where(red.node >= 0, red.node, red.n_nodes)
    bad = np.flatnonzero(~U[col])
    raise IllPosedMDP(
        f"with gamma = 1, from states {bad[:10].tolist()}{' ...' if bad.size > 10 else ''} "
        "every policy repeats a negative reward forever with positive probability (none "
        "reaches a terminal state or a zero-reward loop with probability 1): V* = -inf "
        "there. Use gamma < 1 or a finite horizon"
    )


def _max_time(q: TabularMDP, direct) -> np.ndarray | None:
    """w(n): the largest expected number of steps to τ (the last state) over all policies
    of the quotient, or None when some policy never ends (an end component besides τ)."""
    Rt = np.where(q.allowed, 1.0, 0.0)
    Rt[-1] = 0.0
    try:
        return np.asarray(direct(q.with_reward(Rt), "pi", 1e-12).V)
    except IllPosedMDP:
        return None


def _certificate(mdp: TabularMDP, red: Reduction, V, Q, qerr, rd, actions_q, w) -> float:
    """error_bound = max(δ⁺, δ⁻) ‖w‖∞/η of the module docstring (``inf`` if η ≤ 0)."""
    if w is None or not np.isfinite(w).all():
        return float("inf")
    pair = red.opt_a >= 0
    col = np.where(red.node >= 0, red.node, red.n_nodes)
    w_s = np.maximum(w[col], 0.0)
    w_s[red.node < 0] = 0.0
    Vn = np.zeros(red.n_nodes + 1)
    Vn[col] = V
    q_opt = np.zeros(red.opt_node.size)  # stop: 0 exactly
    q_opt[pair] = Q[red.opt_s[pair], red.opt_a[pair]]
    best = np.full(red.n_nodes, -np.inf)
    np.maximum.at(best, red.opt_node, q_opt)
    chosen = np.zeros(red.opt_node.size, dtype=bool)
    chosen[np.searchsorted(red.opt_node, np.arange(red.n_nodes)) + actions_q[:red.n_nodes]] = True
    d_plus = max(float(np.max(best - Vn[:-1])), 0.0)
    d_minus = max(float(np.max(Vn[red.opt_node[chosen]] - q_opt[chosen])), 0.0)
    delta = (max(d_plus, d_minus) * (1.0 + 2.0 * _U) + qerr) * _SAFE
    Wp = np.asarray(mdp.P_matrix @ w_s).reshape(mdp.n_states, mdp.n_actions)
    w_err = float(rd.q_error(float(w_s.max()), 0.0))
    slack = np.empty(red.opt_node.size)
    diff = w_s[red.opt_s[pair]] - Wp[red.opt_s[pair], red.opt_a[pair]]  # errs by u|diff|
    slack[pair] = diff - 2.0 * (_U * np.abs(diff) + w_err) * _SAFE
    slack[~pair] = w_s[red.opt_s[~pair]]  # stop: to τ, where w = 0
    eta = float(slack.min()) * (1.0 - 4.0 * _U) if slack.size else 1.0
    if not eta > 0.0:
        return float("inf")
    out = delta * float(w_s.max()) * _SAFE / eta * _SAFE
    return out if out < np.inf else float("inf")


def _identity(mdp: TabularMDP) -> Reduction:
    """The trivial reduction of a shortest-path problem: every state its own node, the
    terminal states τ (no stop options): used for its certificate only."""
    term = terminal_states(mdp)
    block = np.full(mdp.n_states, -1)
    block[term] = np.arange(int(term.sum()))
    return _build(mdp, block, mdp.allowed & term[:, None], quotient=False)


def solve_total(mdp: TabularMDP, method: str, tol: float, solve, direct) -> Solution:
    """Solve a γ = 1, no-horizon ``mdp`` by the reduction of the module docstring with the
    float ``method``: ``solve`` is :func:`~mesabase.theory.solve` (for the quotient),
    ``direct(mdp, method, tol)`` the shortest-path solver used when no reduction is
    needed (and for the expected times of the certificate)."""
    red = reduce_total(mdp)
    if red is None:
        sol = direct(mdp, method, tol)
        if sol.error_bound < np.inf:
            return sol
        red = _identity(mdp)
        actions_q = _node_actions(red, sol.actions)
        V, actions, method_name, iters = sol.V.copy(), sol.actions, sol.method, sol.iterations
        V[red.node < 0] = 0.0  # terminal states: exactly 0
        tau_mdp = _float_quotient(mdp, red)
    else:
        q = red.quotient
        sq = solve(q, method, tol)
        actions_q = np.asarray(sq.actions)
        col = np.where(red.node >= 0, red.node, red.n_nodes)
        V = np.asarray(sq.V)[col]
        V[red.node < 0] = 0.0
        actions = red.lift_actions(mdp, actions_q)
        method_name, iters = sq.method, sq.iterations
        tau_mdp = q
    rd = mdp_rounding(mdp)
    Q = bellman_q(mdp, V)
    Q[~mdp.allowed] = -np.inf
    qerr = float(rd.q_error(inf_norm(V)))
    bound = _certificate(mdp, red, V, Q, qerr, rd, actions_q, _max_time(tau_mdp, direct))
    residual = inf_norm(Q.max(axis=1) - V)
    eps = qerr + (rd.rho * bound if bound < np.inf else 0.0)
    return make_solution(np.array(V, dtype=float), Q, tol, method_name, iters, residual, bound,
                         eps, actions)


def _node_actions(red: Reduction, actions) -> np.ndarray:
    """Quotient actions (option index per node) of an identity reduction's policy."""
    out = np.zeros(red.n_nodes, dtype=np.intp)
    for i, (n, s, a) in enumerate(zip(red.opt_node, red.opt_s, red.opt_a, strict=True)):
        if a == actions[s]:
            out[n] = red.opt_k[i]
    return out
