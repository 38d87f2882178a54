"""Certificates of the history solvers (issue 11, item 6): ``IncrementalCE`` and the
closed-form history objectives ``"is"`` and ``"log"`` report a true ``error_bound``.

Oracles, all exact:

* ``IncrementalCE``: ``solve(..., method="exact")`` of the empirical model of the same
  history, its float64 P̂ and R̂ read as the exact binary numbers they are. For the exact
  solver's rows to sum to 1 exactly, the histories visit every pair a power-of-two number
  of times (P̂ entries k/2^j) and rewards are dyadic, h·2^e + l/4 up to 2^40 ≈ 1.1e12; two
  seeds see the same transitions in different orders (different rank-one paths, one
  model). Models with priors and arbitrary counts are checked against a small rational
  policy iteration that accepts rows not summing to 1 (:func:`_exact_optimum`).
* ``"is"``: the per-decision IS objective in rational arithmetic for every deterministic
  policy. ``"log"``: the exact reward sums and Σ c log(c/Σc) in 60-digit decimals.

For each: the true ‖V − V*‖∞ ≤ ``error_bound``; returned actions lie in ``optimal``;
an exactly optimal action is never left out of ``optimal`` when the bound is finite.
"""

import decimal
import itertools
from fractions import Fraction as F

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mesabase.theory import History, TabularMDP, history_optimal, solve
from mesabase.theory.history.empirical import empirical_mdp
from mesabase.theory.history.incremental import IncrementalCE
from mesabase.theory.solution import optimal_set
from mesabase.theory.solvers.iteration import higham_gamma

U = 2.0 ** -53
TOL = 1e-10
GAMMAS = (0.0, 0.5, 0.9, 0.99, 1 - 2.0**-10, 0.999999, 1 - 2.0**-20)


def _fractions(a) -> np.ndarray:
    out = np.empty(np.shape(a), dtype=object)
    for i in np.ndindex(out.shape):
        out[i] = F(float(a[i]))
    return out


def _err(x, exact) -> F:
    """|x − exact| exactly (x a float read as its binary value; ∞ − ∞ = 0)."""
    if isinstance(exact, float) or np.isinf(x):
        return F(0) if x == exact else F(10**400)
    return abs(F(float(x)) - exact)


def _true_error(V, V_exact) -> float:
    return float(max(_err(v, x) for v, x in zip(np.ravel(V), np.ravel(V_exact), strict=True)))


# ---- IncrementalCE against method="exact" ------------------------------------------------------
@st.composite
def dyadic_histories(draw):
    """(history with 2 seeds, S, A, γ, engine kwargs): each visited pair 1, 2 or 4 times."""
    S, A = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    e = draw(st.sampled_from([0, 4, 20, 30]))
    steps = []
    for s in range(S):
        for a in range(A):
            for _ in range(draw(st.sampled_from([0, 1, 2, 4]))):
                r = draw(st.integers(-1024, 1024)) * 2.0**e + draw(st.integers(-16, 16)) / 4
                steps.append((s, a, r, draw(st.integers(0, S - 1))))
    order0 = draw(st.permutations(range(len(steps))))
    order1 = draw(st.permutations(range(len(steps))))
    cols = [np.array([[steps[i][f] for i in order] for order in (order0, order1)])
            .reshape(2, len(steps)) for f in range(4)]
    h = History.from_arrays(cols[0].astype(int), cols[1].astype(int), cols[2].astype(float),
                            cols[3].astype(int), np.ones((2, len(steps))))
    engine = dict(refresh_every=draw(st.sampled_from([0, 3, 1000])),
                  max_rank=draw(st.sampled_from([0, 1, 8])), screen=draw(st.booleans()))
    return h, S, A, draw(st.sampled_from(GAMMAS)), engine


def _dyadic(counts) -> bool:
    """Every visited row total a power of two (so the float P̂ rows sum to 1 exactly)."""
    n = counts.sum(axis=-1)
    return bool(((n == 0) | (np.frexp(n)[0] == 0.5)).all())


def _check_incremental(ce, h, t, S, A, gamma, exact_of):
    """The certificate of ``ce`` (after t steps of h) against the exact optimum per seed."""
    sol = ce.solution()
    true = 0.0
    for n in range(ce.V.shape[0]):
        m = empirical_mdp(h.seed(n)[:t], S, A, gamma=gamma)
        np.testing.assert_array_equal(ce.P[n], m.P)  # the model the oracle solves
        np.testing.assert_array_equal(ce.R[n], m.R)
        exact = exact_of(m)
        true = max(true, _true_error(sol.V[n], exact.V))
        assert sol.optimal[n, np.arange(S), sol.actions[n]].all()
        if np.isfinite(sol.error_bound):
            assert (sol.optimal[n] | ~exact.optimal).all()  # outside ⇒ provably suboptimal
    assert true <= sol.error_bound, (true, sol.error_bound)
    np.testing.assert_array_equal(sol.optimal, optimal_set(sol.Q, sol.tol)[0])
    np.testing.assert_array_equal(ce.optimal, sol.optimal)  # the property uses the same w
    assert sol.tol >= ce.tol and sol.residual >= 0.0
    scale = float(np.abs(ce.R).max()) + float(np.abs(sol.V).max())
    assert sol.error_bound <= TOL + 64 * (S + 3) * U * scale / (1.0 - gamma) ** 2 + 1e-300
    return true, sol.error_bound


def _exact_solver(gamma):
    def exact_of(m):
        return solve(TabularMDP(_fractions(m.P), _fractions(m.R), gamma=F(gamma)), "exact")
    return exact_of


@settings(max_examples=100)
@given(dyadic_histories())
def test_incremental_bound_covers_the_true_error(case):
    h, S, A, gamma, engine = case
    ce = IncrementalCE(2, S, A, gamma, tol=TOL, **engine)
    exact_of = _exact_solver(gamma)
    counts = np.zeros((2, S, A, S))
    checked = 0
    for t in range(len(h)):
        ce.update(h.states[:, t], h.actions[:, t], h.rewards[:, t], h.next_states[:, t])
        counts[np.arange(2), h.states[:, t], h.actions[:, t], h.next_states[:, t]] += 1
        if (t == len(h) - 1 or checked < 2) and _dyadic(counts):
            _check_incremental(ce, h, t + 1, S, A, gamma, exact_of)
            checked += 1
    if not len(h):
        _check_incremental(ce, h, 0, S, A, gamma, exact_of)


def _exact_optimum(P, R, gamma):
    """(V*, optimal) of the model exactly as stored (floats read exactly; rows need not sum
    to 1, as a Dirichlet prior's do not): rational policy iteration, S and A small."""
    S, A = R.shape
    P = [[[F(float(x)) for x in P[s, a]] for a in range(A)] for s in range(S)]
    R = [[F(float(x)) for x in R[s]] for s in range(S)]
    g = F(gamma)
    pi = [max(range(A), key=lambda a, s=s: R[s][a]) for s in range(S)]
    while True:
        M = [[F(int(i == j)) - g * P[i][pi[i]][j] for j in range(S)] + [R[i][pi[i]]]
             for i in range(S)]
        for k in range(S):  # Gauss–Jordan (I − γP_π is strictly diagonally dominant)
            M[k] = [x / M[k][k] for x in M[k]]
            for i in range(S):
                if i != k and M[i][k]:
                    M[i] = [x - M[i][k] * y for x, y in zip(M[i], M[k], strict=True)]
        V = [M[i][S] for i in range(S)]
        Q = [[R[s][a] + g * sum(P[s][a][t] * V[t] for t in range(S)) for a in range(A)]
             for s in range(S)]
        new = [pi[s] if Q[s][pi[s]] == max(Q[s]) else Q[s].index(max(Q[s])) for s in range(S)]
        if new == pi:
            optimal = np.array([[q == max(row) for q in row] for row in Q])
            return np.array(V, dtype=object), optimal
        pi = new


class _Exact:
    def __init__(self, V, optimal):
        self.V, self.optimal = V, optimal


@st.composite
def general_histories(draw):
    """Arbitrary counts (rows like 1/3), Dirichlet priors, reward priors; rewards to 1e12."""
    S, A, T = draw(st.integers(1, 3)), draw(st.integers(1, 3)), draw(st.integers(1, 25))
    ints = lambda hi: st.lists(st.integers(0, hi - 1), min_size=2 * T, max_size=2 * T)  # noqa: E731
    scale = draw(st.sampled_from([1.0, 1e6, 1e12]))
    rewards = np.array(draw(st.lists(st.floats(-1, 1), min_size=2 * T, max_size=2 * T))) * scale
    h = History.from_arrays(*(np.array(draw(ints(b))).reshape(2, T) for b in (S, A)),
                            rewards.reshape(2, T), np.array(draw(ints(S))).reshape(2, T),
                            np.ones((2, T)))
    kw = dict(prior=draw(st.sampled_from([0.0, 0.5, 1.0 / 3])),
              reward_prior=draw(st.sampled_from([0.0, 0.3])),
              reward_weight=draw(st.sampled_from([0.0, 1.0])),
              unvisited=draw(st.sampled_from(["self-loop", "uniform"])))
    engine = dict(refresh_every=draw(st.sampled_from([0, 5])),
                  max_rank=draw(st.sampled_from([0, 8])))
    return h, S, A, draw(st.sampled_from(GAMMAS)), kw, engine


@settings(max_examples=60)
@given(general_histories())
def test_incremental_bound_with_priors_and_inexact_rows(case):
    """The a-priori row-sum bound of the certificate ((u + γ_{S−1})/(1 − γ_{S−1})) holds for
    rows computed as m/Σm, and the bound covers the true error of the model as stored."""
    h, S, A, gamma, kw, engine = case
    ce = IncrementalCE(2, S, A, gamma, tol=TOL, **kw, **engine)
    for t in range(len(h)):
        ce.update(h.states[:, t], h.actions[:, t], h.rewards[:, t], h.next_states[:, t])
    g = higham_gamma(S - 1)
    dev = F((U + g) / (1 - g))
    for row in ce.P.reshape(-1, S):
        assert abs(sum(F(float(p)) for p in row) - 1) <= dev
    sol = ce.solution()
    for n in range(2):
        m = empirical_mdp(h.seed(n), S, A, gamma=gamma, **kw)
        np.testing.assert_array_equal(ce.P[n], m.P)
        V, optimal = _exact_optimum(ce.P[n], ce.R[n], gamma)
        assert _true_error(sol.V[n], V) <= sol.error_bound
        assert sol.optimal[n, np.arange(S), sol.actions[n]].all()
        assert (sol.optimal[n] | ~optimal).all()


def test_drift_of_rank_one_updates_is_in_the_bound():
    """3,000 rank-one steps without a refresh at γ = 0.999999 and rewards ~1e6: whatever
    drift V accumulated is in the residual of the recomputed Q, and so in the bound (true
    error 1.3e2, bound 8.2e3, |V| 2.4e12). The code before the fix looped forever here, at
    step 8: V(0) had drifted 42 below Q̂[0, π(0)], beyond the relative tie 1.4, so it kept
    "switching" state 0 to the action it already took."""
    rng = np.random.default_rng(5)
    S, A, T, gamma = 4, 2, 3000, 0.999999
    P = rng.dirichlet(np.ones(S), size=(S, A))
    ce = IncrementalCE(1, S, A, gamma, refresh_every=0)
    s = 0
    for _ in range(T):
        a = int(rng.integers(A))
        s2 = int(rng.choice(S, p=P[s, a]))
        ce.update([s], [a], [1e6 * (s + a) + rng.standard_normal()], [s2])
        s = s2
    sol = ce.solution()
    V, optimal = _exact_optimum(ce.P[0], ce.R[0], gamma)
    true = _true_error(sol.V[0], V)
    assert 0.0 < true <= sol.error_bound < 1e-6 * float(np.abs(sol.V).max())
    assert sol.optimal[0, np.arange(S), sol.actions[0]].all()
    assert (sol.optimal[0] | ~optimal).all()


def _big_reward_history():
    """State 0 chooses a0 (reward 1e12, then state 1: 5e12 forever) or a1 (1e12 − 1, then
    state 2: 5e12 + 1.75 forever); γ = 1/2, so Q*(0, 1) − Q*(0, 0) = 0.75 at |Q| ≈ 6e12.
    The last step brings the data of a1 while π(0) = a0."""
    c = 5e12
    steps = [(1, 0, c, 1), (1, 1, c, 1), (2, 0, c + 1.75, 2), (2, 1, c + 1.75, 2),
             (0, 0, 1e12, 1), (0, 1, 1e12 - 1, 2)]
    return [np.array([x[i] for x in steps]) for i in range(4)]


def _run_big(cls):
    s, a, r, s2 = _big_reward_history()
    ce = cls(1, 3, 2, 0.5)
    for t in range(s.size):
        ce.update(s[t:t + 1], a[t:t + 1], r[t:t + 1], s2[t:t + 1])
    return ce


def test_incremental_takes_a_real_improvement_at_reward_scale_1e12():
    """The relative tie rule 1e-12·(1 + |V(s)|) ≈ 6 ignored the improvement of 0.75: π(0)
    stayed a0, outside its own optimal set, V(0) was off by 0.75 and solution() certified
    0 (checked against the code before the fix). Now θ(0) ≈ 0.012, the rounding level."""
    ce = _run_big(IncrementalCE)
    s, a, r, s2 = _big_reward_history()
    h = History.from_arrays(s, a, r, s2, np.ones(s.size))
    exact = _exact_solver(0.5)(empirical_mdp(h, 3, 2, gamma=0.5))
    assert exact.optimal[0].tolist() == [False, True]
    sol = ce.solution()
    assert ce.actions[0, 0] == 1 and sol.optimal[0, 0].tolist() == [False, True]
    assert ce.optimal[0, 0].tolist() == [False, True]
    assert _true_error(sol.V[0], exact.V) <= sol.error_bound < 0.1


def test_ties_are_rounding_level_only():
    """Identical actions stay tied (π keeps its action, both optimal), and a difference of
    two ulps at |Q| ≈ 6e12 is not an improvement."""
    ce = IncrementalCE(1, 1, 2, 0.9)
    top = np.nextafter(np.nextafter(6e11, np.inf), np.inf)
    ce.update([0], [0], [6e11], [0])
    ce.update([0], [1], [top], [0])
    assert ce.actions.tolist() == [[0]] and ce.optimal.all()
    ce.update([0], [1], [top], [0])
    assert ce.actions.tolist() == [[0]] and ce.solution().optimal.all()


# ---- the "is" and "log" objectives ---------------------------------------------------------------
_PROBS = st.sampled_from([1.0, 0.5, 0.7, 0.3, 0.1, 1e-3, 1 / 3])
_REWARDS = st.one_of(st.sampled_from([0.0, 1.0, 0.1, 0.2, 2.5, -0.3, 1e12 + 0.1, 3e-5]),
                     st.floats(-10, 1e3))


@st.composite
def small_histories(draw, positive=False):
    N, S, A, T = (draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 3)),
                  draw(st.integers(0, 8)))
    ints = lambda hi: st.lists(st.integers(0, hi - 1), min_size=N * T, max_size=N * T)  # noqa: E731
    rewards = draw(st.lists(_REWARDS, min_size=N * T, max_size=N * T))
    if positive:
        rewards = [abs(r) for r in rewards]
    shape = (N, T)
    h = History.from_arrays(
        np.array(draw(ints(S)), dtype=int).reshape(shape),
        np.array(draw(ints(A)), dtype=int).reshape(shape),
        np.array(rewards, dtype=float).reshape(shape),
        np.array(draw(ints(S)), dtype=int).reshape(shape),
        np.array(draw(st.lists(_PROBS, min_size=N * T, max_size=N * T))).reshape(shape),
        np.array(draw(st.lists(st.booleans(), min_size=N * T, max_size=N * T))).reshape(shape))
    return h, S, A, draw(st.sampled_from([0.0, 0.5, 0.9, 0.999999, 1.0]))


def _is_exact(h, n, S, A, gamma):
    """Q*[s, a] and V* of the per-decision IS objective of seed n, in rationals."""
    s_, a_, r_, b_, d_ = (h.states[n], h.actions[n], h.rewards[n], h.probs[n], h.dones[n])
    T = len(h)
    if S == 1:  # the bandit reading: w(a) = (1/T) Σ r/b
        w = [sum((F(float(r_[t])) / F(float(b_[t])) for t in range(T) if a_[t] == a), F(0))
             / max(T, 1) for a in range(A)]
        return np.array([w], dtype=object), max(w)
    g = F(float(gamma))
    scores = {}
    for pol in itertools.product(range(A), repeat=S):
        total, E, k, weight, alive = F(0), 0, 0, F(1), True
        for t in range(T):
            if k == 0:
                E += 1
            weight /= F(float(b_[t]))
            alive = alive and pol[s_[t]] == a_[t]
            if alive:
                total += g**k * F(float(r_[t])) * weight
            k += 1
            if d_[t]:
                k, weight, alive = 0, F(1), True
        scores[pol] = total / max(E, 1)
    Q = np.array([[max(v for p, v in scores.items() if p[s] == a) for a in range(A)]
                  for s in range(S)], dtype=object)
    return Q, max(scores.values())


@settings(max_examples=100)
@given(small_histories())
def test_is_objective_bound_covers_the_exact_objective(case):
    h, S, A, gamma = case
    sol = history_optimal(h, "is", n_states=S, n_actions=A, gamma=gamma, tol=TOL)
    assert np.isfinite(sol.error_bound)
    for n in range(h.n_seeds):
        Q, V = _is_exact(h, n, S, A, gamma)
        assert max(_err(q, x) for q, x in zip(sol.Q[n].ravel(), Q.ravel(), strict=True)) \
            <= sol.error_bound
        assert max(_err(v, V) for v in sol.V[n]) <= sol.error_bound
        assert sol.optimal[n, np.arange(S), sol.actions[n]].all()
        exact_optimal = np.array([[q == max(row) for q in row] for row in Q])
        assert (sol.optimal[n] | ~exact_optimal).all()
        if np.any(sol.V[n] != 0):
            assert sol.error_bound > 0  # a rounding term, never 0 for nonzero values
    # each seed has its own width; Solution.tol is the largest (the identity for one seed)
    assert (~sol.optimal | optimal_set(sol.Q, sol.tol)[0]).all()
    if h.n_seeds == 1:
        np.testing.assert_array_equal(sol.optimal, optimal_set(sol.Q, sol.tol)[0])


def test_is_bound_on_the_shifted_paths():
    """Weights beyond the float range (formed in log space, scaled by e^{−c}): an MDP with
    one 1,100-step episode at b = ½ (V ≈ 2^1014) and a bandit with b = 10⁻³⁰⁰."""
    T = 1100
    h = History.from_arrays(np.arange(T) % 2, np.zeros(T, int), np.full(T, 2.0**-87),
                            (np.arange(T) + 1) % 2, np.full(T, 0.5))
    sol = history_optimal(h, "is", n_states=2, n_actions=2, gamma=1.0)
    Q, V = _is_exact(h, 0, 2, 2, 1.0)
    true = max(_err(q, x) for q, x in zip(sol.Q.ravel(), Q.ravel(), strict=True))
    assert 0 < true <= sol.error_bound < 1e-8 * float(V)
    assert sol.optimal[np.arange(2), sol.actions].all()
    bandit = History.from_arrays([0, 0, 0], [0, 1, 1], [1e8, 3.0, -2.0], [0, 0, 0],
                                 [1e-300, 0.5, 1e-300])
    sol = history_optimal(bandit, "is", n_states=1, n_actions=2)
    Q, V = _is_exact(bandit, 0, 1, 2, 0.9)
    assert max(_err(q, x) for q, x in zip(sol.Q.ravel(), Q.ravel(), strict=True)) \
        <= sol.error_bound < 1e-11 * float(V)
    assert sol.actions.tolist() == [0] and sol.optimal.tolist() == [[True, False]]


def test_is_sets_of_a_seed_do_not_depend_on_the_other_seeds():
    """Each seed's set has its own width: a seed whose long episode makes ε large (weights
    4^k) does not widen another seed's set."""
    T = 400
    s = np.arange(T) % 2
    states, actions = np.stack([s, s]), np.stack([s, 1 - s])
    rewards = np.stack([np.ones(T), np.full(T, 0.3)])
    probs = np.stack([np.full(T, 1.0), np.full(T, 0.25)])
    h = History.from_arrays(states, actions, rewards, (states + 1) % 2, probs)
    both = history_optimal(h, "is", n_states=2, n_actions=2, gamma=0.9)
    alone = history_optimal(h.seed(0), "is", n_states=2, n_actions=2, gamma=0.9)
    assert both.error_bound > 1e6 * alone.error_bound
    np.testing.assert_array_equal(both.optimal[0], alone.optimal)
    np.testing.assert_array_equal(both.Q[0], alone.Q)


def _log_exact(h, n, S, A):
    """V*(s) = Σ_{c>0} c log(c/Σc) of the exact reward sums, in 60-digit decimals
    (+∞ where some exact sum is negative)."""
    c = [[F(0)] * A for _ in range(S)]
    for s, a, r in zip(h.states[n], h.actions[n], h.rewards[n], strict=True):
        c[s][a] += F(float(r))
    out = []
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        for row in c:
            if any(x < 0 for x in row):
                out.append(float("inf"))
                continue
            C = sum(row)
            dec = [decimal.Decimal(x.numerator) / decimal.Decimal(x.denominator) for x in row]
            total = sum((d * (d / (decimal.Decimal(C.numerator) / C.denominator)).ln()
                         for d, x in zip(dec, row, strict=True) if x > 0), decimal.Decimal(0))
            out.append(total)
    return out


def _log_error(v, exact) -> float:
    if isinstance(exact, float):
        return 0.0 if v == exact else float("inf")
    with decimal.localcontext() as ctx:
        ctx.prec = 60
        return float(abs(decimal.Decimal(float(v)) - exact) * (1 + decimal.Decimal(10) ** -40))


@settings(max_examples=100)
@given(st.one_of(small_histories(positive=True), small_histories()))
def test_log_objective_bound_covers_the_exact_objective(case):
    h, S, A, _ = case
    sol = history_optimal(h, "log", n_states=S, n_actions=A)
    true = max((_log_error(v, x) for n in range(h.n_seeds)
                for v, x in zip(sol.V[n], _log_exact(h, n, S, A), strict=True)), default=0.0)
    assert true <= sol.error_bound
    assert sol.optimal[np.arange(h.n_seeds)[:, None], np.arange(S), sol.actions].all()
    finite = sol.V[np.isfinite(sol.V)]
    if np.any(finite != 0):
        assert sol.error_bound > 0


def test_log_bound_is_tight_when_sums_are_exact_and_honest_when_signs_are_not():
    # integer rewards: every sum exact, only the evaluation's rounding remains
    h = History.from_arrays([0, 0, 0, 0], [0, 1, 1, 0], [1.0, 2.0, 5.0, -1.0], [0] * 4, [.5] * 4)
    sol = history_optimal(h, "log", n_states=1, n_actions=2)
    assert 0 < sol.error_bound < 1e-14
    # 0.1 + 0.2 − 0.3 is 2.8e-17 exactly but its computed sum 5.6e-17: the sign is certain
    # only up to the summation error, so V* may be finite or +∞: no finite bound
    h = History.from_arrays([0, 0, 0, 0], [0, 0, 0, 1], [0.1, 0.2, -0.3, 1.0], [0] * 4, [.5] * 4)
    assert history_optimal(h, "log", n_states=1, n_actions=2).error_bound == np.inf


def test_ce_objective_passes_the_solver_certificate_through():
    h = History.from_arrays([0, 0, 1, 1], [0, 1, 0, 1], [1.0, 2.0, 0.5, 4.0], [1, 1, 0, 0],
                            [.5] * 4)
    sol = history_optimal(h, "ce", n_states=2, n_actions=2, gamma=0.999999)
    m = empirical_mdp(h, 2, 2, gamma=0.999999)
    ref = solve(m, tol=TOL)
    assert (sol.error_bound, sol.tol, sol.residual) == (ref.error_bound, ref.tol, ref.residual)
    exact = _exact_solver(0.999999)(m)
    assert 0 < _true_error(sol.V, exact.V) <= sol.error_bound
