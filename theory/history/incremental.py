"""The certainty-equivalent optimum π*_t kept up to date one transition at a time.

At step t each seed's empirical model M̂_t = (P̂, R̂) (``model_arrays`` in
:mod:`~mesabase.theory.history.empirical`: counts, an optional Dirichlet prior, a prior mean
reward, a rule for unvisited pairs) is solved exactly. One transition (s, a, r, s')
changes only the row (s, a) of M̂:

    P̂[s, a, ·] = (n(s, a, ·) + α[s, a, ·]) / Σ_s' (n(s, a, s') + α[s, a, s'])
    R̂[s, a]    = (Σr(s, a) + w·r₀) / (n(s, a) + w)

so :class:`IncrementalCE` rewrites that row (O(S) per seed) and re-solves warm-started from
the previous policy π (a deterministic ``actions[s]``) by policy iteration, keeping

    M⁻¹ = (I − γ P̂_π)⁻¹,   V = M⁻¹ r̂_π,   Q = R̂ + γ P̂ V,

where P̂_π[s, ·] = P̂[s, π(s), ·] and r̂_π[s] = R̂[s, π(s)].

**Why one row, and what it costs.** If π(s) ≠ a the updated pair is off the policy: P̂_π,
r̂_π and hence V do not change, only Q[s, a] = R̂[s, a] + γ P̂[s, a]·V (O(S)); the only
possible improvement is a in state s. If π(s) = a, or π switches to a in s, row s of
P̂_π changes by d = p_new − p_old and r̂_π[s] by δr: M' = M + e_s vᵀ with v = −γ d, and
Sherman–Morrison (Sherman & Morrison 1950; Golub & Van Loan, *Matrix Computations* §2.1.4)
gives, with c = M⁻¹ e_s, w = vᵀ M⁻¹ and β = 1 + vᵀ c = 1 + w_s (β = det M' / det M ≠ 0),

    M'⁻¹ = M⁻¹ − c wᵀ / β,     M'⁻¹ e_s = c / β,     V' = V + κ c / β,   κ = δr − vᵀ V

(from M'(V' − V) = r' − r − e_s vᵀ V = e_s κ): O(S²) per seed. On the policy no product is
needed for w: the row moved towards e_s', d = (e_s' − p_old)/n with n the new row total,
and p_oldᵀ M⁻¹ = (M⁻¹[s, ·] − e_sᵀ)/γ because M = I − γ P̂_π, so
w = (M⁻¹[s, ·] − e_sᵀ − γ M⁻¹[s', ·]) / n. Then the policy is checked (below) and policy
iteration continues — each state whose action changes is again a one-row change — until
no action improves. As in :func:`~mesabase.theory.policy_iteration`, π(s) is kept unless
some Q̂[s, b] beats Q̂[s, π(s)] by more than θ(s), the rounding bound of the two entries
(:mod:`~.incremental_checks`; θ ≈ 0.01 at |Q| ≈ 6e12, where a relative rule 1e-12·|V|
ignored improvements up to 6). A seed whose policy iteration would revisit a policy
(rounding, or drift) stops at the current one, which its V and M⁻¹ describe. An
off-policy update is a candidate when Q̂[s, a] > V(s) + (a lower bound on θ), confirmed
against a fresh Q̂[s, π(s)] (O(S)). A seed whose policy changes in more than ``max_rank``
states at once is re-factorised instead.

**The policy check** needs Q = R̂ + γ P̂ V for the seed, O(S²A): every entry of P̂ is read,
and with many seeds that is memory-bound. With ``screen`` on, P̂ is also kept in float32
and Q̃ ≈ Q evaluated from it with a rigorous error bound (:func:`.incremental_checks.screen`);
when every non-policy Q̃[s, b] is provably at most Q[s, π(s)], no action can beat π by θ,
π is kept and the exact Q is only computed when ``Q`` (or ``optimal``, ``policy``,
``solution()``) is read. Otherwise Q is computed exactly and decides. The screen never
changes a result, only its cost.

**Drift.** Rank-one updates accumulate rounding. Every ``refresh_every`` steps (and at
once for a seed whose |β| < MIN_PIVOT) M⁻¹ and V are recomputed (inverse, linear solve,
one step of iterative refinement) and the policy re-checked; ``drift`` is the largest
|V_incremental − V_fresh| at the last refresh (below 1e-12 for |V| ≲ 100 in the tests and
benchmarks/history.py; the tests demand 1e-8 agreement with from-scratch solves).

**Certificate** (:mod:`~.incremental_checks`). ``solution().error_bound`` bounds ‖V − V*‖∞,
floating point and drift included: Δ/(1 − γρ̄) with Δ the residual ‖max_a Q̂ − V‖∞ (plus
rounding) of Q̂ = R̂ + γ P̂ V recomputed from the model for the V returned. ``optimal`` and
``policy`` use the certified width w = tol + 2ε + 2u‖Q̂‖∞ (``Solution.tol``). ``Q`` is kept
equal to R̂ + γ P̂ V of the current V entry by entry, so the per-step ``optimal`` costs a
few passes over Q, not one over P̂; ``solution()`` recomputes Q from the model.

**Cost.** Per step and seed O(S) off the policy, O(S²A) on it (about 1/A of the seeds
under a uniform behaviour policy): one BLAS call per seed on views (``ger`` in place on
M⁻¹, a matrix-vector product on P̂), as gathering many seeds' P̂ would copy it. Memory per
seed: 2S²A + S² floats (+ S²A/2 with the screen). ``P``, ``R``, ``counts`` are those of
``model_arrays`` (same formulas and dtype): equal to a from-scratch ``empirical_mdp``.

References: R. A. Howard, *Dynamic Programming and Markov Processes* (1960) (policy
iteration); J. Sherman & W. J. Morrison, Ann. Math. Statist. 21 (1950) 124–127;
N. J. Higham, *Accuracy and Stability of Numerical Algorithms* (2002), §3.1.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import get_blas_funcs

from ..checks import check_int, check_real, is_real, real_array
from ..solution import Solution
from .empirical import UNVISITED, model_arrays
from .incremental_checks import certify, model_rounding, screen, tie_coefficients

_dger = get_blas_funcs("ger", dtype=np.float64)

__all__ = ["IncrementalCE"]

#: A Sherman–Morrison denominator β below this (in absolute value) triggers a re-factorisation.
MIN_PIVOT = 1e-8
#: ``screen=None`` turns the float32 screen on when P̂ of all seeds takes at least this many
#: bytes (16 MiB: about where it stops fitting in a server's last-level cache).
SCREEN_BYTES = 16 * 2**20


class IncrementalCE:
    """π*_t of N seeds' certainty-equivalent models, updated in place one step at a time.

    Args:
      n_seeds, n_states, n_actions: N, S, A.
      gamma: discount γ ∈ [0, 1) (γ = 1 is refused: use ``history_optimal``).
      prior, reward_prior, reward_weight, unvisited: the model's α, r₀, w and unvisited-pair
        rule, as in :func:`~mesabase.theory.empirical_mdp`.
      tol: the optimal-action set is {a : Q[s, a] ≥ max Q[s, ·] − w} with the certified
        width w = tol + 2ε + 2u‖Q‖∞ (module docstring, "Certificate").
      refresh_every: steps between full re-factorisations (drift control).
      max_rank: a seed whose policy changes in more states than this in one policy-iteration
        round is re-factorised rather than updated by rank-one steps.
      screen: check the policy with a float32 copy of P̂ first (module docstring); ``None``
        (default): on when P̂ of all seeds takes at least SCREEN_BYTES (16 MiB).

    Attributes (seed axis first; read-only views that :meth:`update` changes in place, so
    copy to keep): ``counts`` (N, S, A, S), ``visits`` and ``reward_sums`` (N, S, A), ``P``
    (N, S, A, S) and ``R`` (N, S, A) the model, ``actions`` (N, S) int (one optimal
    deterministic policy), ``V`` (N, S), ``Q`` (N, S, A); properties ``optimal`` (bool,
    within the certified width w of the best) and ``policy`` (uniform over ``optimal``);
    ``steps``, ``drift`` (see the module docstring) and ``refactorisations`` (seeds
    re-factorised so far).

    At t = 0 every seed has the prior model, solved by policy iteration from argmax R̂. The
    object is mutable, unlike the pure functions elsewhere in ``theory``: rewriting O(S)
    entries per step is the point, and a functional copy of (N, S, A, S) arrays would defeat
    it. :meth:`solution` returns an immutable batched :class:`Solution` snapshot.

    Example:
      >>> ce = IncrementalCE(1, 2, 2, gamma=0.5)
      >>> ce.update([0], [1], [1.0], [1])
      >>> ce.update([1], [0], [2.0], [1])
      >>> ce.V.round(10).tolist(), ce.actions.tolist()
      ([[3.0, 4.0]], [[1, 0]])
    """

    def __init__(self, n_seeds: int, n_states: int, n_actions: int, gamma: float, *,
                 prior=0.0, reward_prior: float = 0.0, reward_weight: float = 0.0,
                 unvisited: str = "self-loop", tol: float = 1e-10, refresh_every: int = 1000,
                 max_rank: int = 8, screen: bool | None = None):
        N, S, A = (check_int(v, name, lo=1) for v, name in (
            (n_seeds, "n_seeds"), (n_states, "n_states"), (n_actions, "n_actions")))
        if not is_real(gamma):
            raise ValueError(f"gamma must be a real number in [0, 1); got {gamma!r}")
        gamma = float(gamma)
        if not 0.0 <= gamma < 1.0:
            raise ValueError(f"IncrementalCE needs 0 <= gamma < 1; got gamma={gamma!r} "
                             "(undiscounted problems: solve each step with history_optimal)")
        if unvisited not in UNVISITED:
            raise ValueError(f"unvisited must be one of {UNVISITED}; got {unvisited!r}")
        check_real(tol, "tol", lo=0.0, lo_open=True)
        check_int(refresh_every, "refresh_every", lo=0)
        check_int(max_rank, "max_rank", lo=0)
        self.gamma, self.tol, self.rule = gamma, float(tol), unvisited
        self.reward_prior, self.reward_weight = float(reward_prior), float(reward_weight)
        self.refresh_every, self.max_rank = int(refresh_every), int(max_rank)
        # the screen halves the memory traffic of a policy check, which pays once the model
        # arrays outgrow the caches; on a cache-resident model it is pure overhead
        self.screen = N * S * A * S * 8 >= SCREEN_BYTES if screen is None else bool(screen)
        P0, R0, _ = model_arrays(np.zeros((S, A, S)), np.zeros((S, A)), prior=prior,
                                 reward_prior=reward_prior, reward_weight=reward_weight,
                                 unvisited=unvisited)
        self.prior = prior
        self._alpha = np.array(np.broadcast_to(real_array(prior, "prior"), (S, A, S)))
        zeros = np.zeros
        self._counts, self._reward_sums, self._visits = zeros((N, S, A, S)), *zeros((2, N, S, A))
        self._P, self._R = np.repeat(P0[None], N, axis=0), np.repeat(R0[None], N, axis=0)
        self._actions, self._V, self._Q = zeros((N, S), np.intp), zeros((N, S)), zeros((N, S, A))
        self._Minv = zeros((N, S, S))                          # M⁻¹ = (I − γ P̂_π)⁻¹ per seed
        self._Minv1 = self._Minv.reshape(N * S, S)             # its rows
        self._Si, self._Ai = np.intp(S), np.intp(A)
        self._P2 = self._P.reshape(N, S * A, S)                 # a view: P̂ as (S·A) × S
        self._pv = np.empty((N, S * A))
        self._stale = np.zeros(N, dtype=bool)                  # Q not recomputed since V moved
        self._screen_calls, self._screen_fail = 0, 0.0
        if self.screen:                                        # P̂ in float32, for the screen
            self._P32 = self._P2.astype(np.float32)
            self._P32f, self._rows_P32 = self._P32.reshape(N * S * A, S), list(self._P32)
            self._pv32 = np.empty((N, S * A), dtype=np.float32)
        self._seeds = np.arange(N)
        self._nS, self._alpha2 = self._seeds * S, self._alpha.reshape(S * A, S)
        self._has_prior = bool(self._alpha.any())
        # flat views (the arrays are only ever written in place, so these stay valid)
        self._flat = (self._P.reshape(N * S * A, S), self._R.reshape(-1), self._Q.reshape(-1),
                      self._visits.reshape(-1), self._reward_sums.reshape(-1))
        self._counts1, self._counts3 = self._counts.reshape(-1), self._counts.reshape(-1, S)
        self._actions1, self._V1 = self._actions.reshape(-1), self._V.reshape(-1)
        self._eye = np.eye(S)
        # per-seed views, listed once: the per-seed BLAS loops then index Python lists
        self._rows_P, self._rows_V = list(self._P2), list(self._V)
        self._rows_Minv, self._rows_MinvT = list(self._Minv), [m.T for m in self._Minv]
        self.steps, self.drift, self.refactorisations = 0, 0.0, 0
        # the certificate's rounding constants; ties θ(s) = tie_v[n] + tie_q·|Q̂[s, π(s)]|
        # with tie_v = tie_coef·‖V‖∞ kept per seed (incremental_checks)
        self._rd = model_rounding(gamma, S)
        (self._tie_coef, self._tie_q), self._tie_v = tie_coefficients(self._rd), zeros(N)
        self._taken = np.arange(N * S) * A                     # flat Q[n, s, actions[n, s]]
        for name in ("counts", "reward_sums", "visits", "P", "R", "actions", "V", "Q"):
            view = getattr(self, "_" + name).view()            # public, read-only, live
            view.flags.writeable = False
            setattr(self, "_view_Q" if name == "Q" else name, view)
        self._actions[:] = np.argmax(R0, axis=1)
        self._refactor(self._seeds[:1])                        # the prior model, solved once
        self._improve(self._seeds[:1])
        self._recompute_q(self._seeds[:1])
        for arr in (self._actions, self._V, self._Q, self._Minv):
            arr[1:] = arr[0]
        self._tie_v[1:] = self._tie_v[0]

    # ---- public API -------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """(N, S, A)."""
        return self._Q.shape

    @property
    def Q(self) -> np.ndarray:
        """Q[n, s, a] = R̂ + γ P̂ V, (N, S, A), read-only. Computed here, on reading, for the
        seeds whose policy the float32 screen confirmed without it (see the module doc)."""
        stale = self._stale.nonzero()[0]
        if stale.size:
            self._recompute_q(stale)
        return self._view_Q

    @property
    def optimal(self) -> np.ndarray:
        """optimal[n, s, a]: Q[n, s, a] ≥ max_b Q[n, s, b] − w, shape (N, S, A), with the
        certified width w of :meth:`solution` (module docstring, "Certificate")."""
        return certify(self._rd, self.tol, self._V, self._R, self.Q, self._actions,
                       self._taken)[0]

    @property
    def policy(self) -> np.ndarray:
        """π*_t uniform over the optimal set, shape (N, S, A)."""
        optimal = self.optimal
        return optimal / optimal.sum(axis=-1, keepdims=True)

    def solution(self) -> Solution:
        """An immutable batched :class:`Solution` snapshot (leading seed axis), with the
        certificate of the module docstring: Q = R̂ + γ P̂ V is recomputed from the model
        for every seed (one pass over P̂), and ``residual``, ``error_bound`` and ``tol``
        (the set's width w) are batch maxima."""
        Q = self._recompute_q(self._seeds)  # a new array; self.Q now holds the same values
        V, actions = self._V.copy(), self._actions.copy()
        optimal, width, residual, bound = certify(self._rd, self.tol, self._V, self._R, Q,
                                                  self._actions, self._taken)
        policy = optimal / optimal.sum(axis=-1, keepdims=True)
        for a in (V, Q, optimal, policy, actions):
            a.setflags(write=False)
        return Solution(V=V, Q=Q, optimal=optimal, policy=policy, actions=actions,
                        method="incremental-pi", iterations=self.steps, residual=residual,
                        error_bound=bound, tol=width)

    def update(self, states, actions, rewards, next_states, *, check: bool = True) -> None:
        """Record one transition (s, a, r, s') per seed (each of shape (N,)) and re-solve.

        ``check=False`` skips validation (shapes, index ranges, finiteness): for callers
        that pass intp index arrays and float rewards they generated themselves.
        """
        if check:
            states, actions, rewards, next_states = self._check(states, actions, rewards,
                                                                next_states)
        s, a, s2, r = states, actions, next_states, rewards
        Si, Ai = self._Si, self._Ai
        # --- the one row (s, a) of each seed's model, as model_arrays defines it. Flat
        # indices into the (N·S·A) rows; take/put are the cheapest gathers and scatters.
        ns = self._nS + s
        sa = ns * Ai + a
        P3, Rf, Qf, visits, rsum = self._flat
        old_row, old_r = P3.take(sa, axis=0), Rf.take(sa)
        c1, i = self._counts1, sa * Si + s2
        c1.put(i, c1.take(i) + 1.0)
        n_sa = visits.take(sa) + 1.0
        visits.put(sa, n_sa)
        r_sa = rsum.take(sa) + r
        rsum.put(sa, r_sa)
        mass = self._counts3.take(sa, axis=0)
        if self._has_prior:
            mass += self._alpha2.take(s * Ai + a, axis=0)
        total = mass.sum(axis=1)
        row = mass / total[:, None]
        rw = self.reward_weight
        new_r = (r_sa + rw * self.reward_prior) / (n_sa + rw) if rw else r_sa / n_sa
        P3[sa] = row
        if self.screen:
            self._P32f[sa] = row
        Rf.put(sa, new_r)
        q_sa = new_r + self.gamma * np.einsum("ns,ns->n", row, self._V)
        Qf.put(sa, q_sa)
        # --- whose P̂_π changed: on-policy updates (π(s) = a), and off-policy improvements
        cur = self._actions1.take(ns)
        on = cur == a
        v_s = self._V1.take(ns)                                # = Q[s, π(s)] (Bellman for π)
        cand = q_sa > v_s + self._tie_v                        # an improvement by θ? (rare)
        cand &= ~on
        if cand.any():  # confirm against Q̂[s, π(s)] computed now, as _improve would
            j = cand.nonzero()[0]
            cur_sa = ns.take(j) * Ai + cur.take(j)
            q_cur = Rf.take(cur_sa) + self.gamma * np.einsum(
                "ks,ks->k", P3.take(cur_sa, axis=0), self._V.take(j, axis=0))
            cand[j] = q_sa.take(j) > q_cur + self._ties(j, q_cur)
            dirty = (on | cand).nonzero()[0]
        else:
            dirty = on.nonzero()[0]
        if dirty.size:
            prev_row, prev_r = old_row.take(dirty, axis=0), old_r.take(dirty)
            d_s = s.take(dirty)
            # On the policy the row moved towards e_s': p_new − p_old = (e_s' − p_old)/n with
            # n the new row total, and p_oldᵀ M⁻¹ = (e_sᵀ M⁻¹ − e_sᵀ)/γ as M = I − γ P̂_π, so
            # w = vᵀ M⁻¹ = (M⁻¹[s, :] − e_sᵀ − γ M⁻¹[s', :]) / n: two rows, no product.
            Minv1, base = self._Minv1, dirty * Si
            w = Minv1.take(base + d_s, axis=0) - self.gamma * Minv1.take(base + s2.take(dirty),
                                                                         axis=0)
            w[np.arange(dirty.size), d_s] -= 1.0
            w /= total.take(dirty)[:, None]
            d = row.take(dirty, axis=0)
            jsw = (~on.take(dirty)).nonzero()[0]
            if jsw.size:  # a switch to a: the previous P̂_π row is the current action's
                cur_sa = ns.take(dirty[jsw]) * Ai + cur.take(dirty[jsw])
                prev_row[jsw], prev_r[jsw] = P3.take(cur_sa, axis=0), Rf.take(cur_sa)
                rows = self._rows_Minv
                for j, i in zip(jsw.tolist(), dirty[jsw].tolist(), strict=True):
                    np.dot((d[j] - prev_row[j]) * -self.gamma, rows[i], out=w[j])
            d -= prev_row
            self._actions1.put(ns.take(dirty), a.take(dirty))
            self._rank_one(dirty, d_s, d, new_r.take(dirty) - prev_r, w)
            self._improve(dirty)
        self.steps += 1
        if self.refresh_every and self.steps % self.refresh_every == 0:
            self.refresh()

    def refresh(self) -> float:
        """Re-factorise every seed from its model; return (and record) the drift in V."""
        V_old = self._V.copy()
        self._refactor(self._seeds)
        self.drift = float(np.max(np.abs(self._V - V_old)))
        self._improve(self._seeds)
        return self.drift

    # ---- internals --------------------------------------------------------------------
    def _ties(self, idx, q_pi):
        """θ(s) of seeds idx given Q̂[s, π(s)] = ``q_pi``, (k,) or (k, S) (incremental_checks):
        Q̂[s, b] − Q̂[s, π(s)] ≤ θ(s) is a tie."""
        v = self._tie_v.take(idx)
        return (v if q_pi.ndim == 1 else v[:, None]) + self._tie_q * np.abs(q_pi)

    def _check(self, states, actions, rewards, next_states):
        """Validate one step's arrays: shapes (N,), integer indices in range, finite rewards."""
        N, S, A = self._Q.shape
        out = []
        for x, name, bound in (states, "states", S), (actions, "actions", A), (
                next_states, "next_states", S):
            x = np.asarray(x)
            if x.dtype != np.intp:
                if not (x.dtype.kind in "iu" or (x.dtype.kind == "f" and (x == np.round(x)).all())):
                    raise ValueError(f"{name} must hold integer indices; got dtype {x.dtype}")
                x = x.astype(np.intp)
            if x.shape != (N,):
                raise ValueError(f"{name} must have shape ({N},); got {x.shape}")
            if x.view(np.uintp).max() >= bound:                # negatives wrap to huge values
                i = int(np.argmax((x < 0) | (x >= bound)))
                raise ValueError(f"{name}[{i}] = {x[i]} is out of range [0, {bound})")
            out.append(x)
        r = np.asarray(rewards)
        if r.dtype != np.float64:   # complex rewards are refused, not truncated
            r = real_array(r, "rewards")
        if r.shape != (N,) or not np.isfinite(r).all():
            raise ValueError(f"rewards must have shape ({N},) and be finite; got shape {r.shape}"
                             + (f", rewards[{int(np.argmin(np.isfinite(r)))}] not finite"
                                if r.shape == (N,) else ""))
        return out[0], out[1], r, out[2]

    def _rank_one(self, idx, st, d, dr, w=None):
        """Row st of P̂_π changed by d and r̂_π[st] by dr, for seeds idx (Sherman–Morrison).

        ``w`` = vᵀ M⁻¹ (k, S) when the caller has it; else one vector-matrix product per seed.
        """
        v = d * -self.gamma                                    # M' = M + e_s vᵀ
        k, Minv, MinvT = idx.size, self._rows_Minv, self._rows_MinvT
        if w is None:
            w = np.empty_like(v)
            for i, vj, wj in zip(idx.tolist(), v, w, strict=True):
                np.dot(vj, Minv[i], out=wj)
        c = self._Minv[idx, :, st]                             # M⁻¹ e_s, (k, S)
        beta = 1.0 + w[np.arange(k), st]                       # 1 + vᵀ M⁻¹ e_s
        V = self._V.take(idx, axis=0)
        kappa = dr - np.einsum("ki,ki->k", v, V)
        ok = np.abs(beta) > MIN_PIVOT
        if not ok.all():
            beta[~ok] = 1.0                                    # re-factorised below
        z = c / beta[:, None]                                  # M'⁻¹ e_s
        V += kappa[:, None] * z
        self._V[idx] = V
        self._tie_v[idx] = self._tie_coef * np.abs(V).max(axis=1)
        for i, zj, wj in zip(idx.tolist(), z, w, strict=True):  # M'⁻¹ = M⁻¹ − z wᵀ, in place
            _dger(-1.0, wj, zj, a=MinvT[i], overwrite_a=True)
        if not ok.all():
            self._refactor(idx[~ok])

    def _refactor(self, idx):
        """M⁻¹ and V from scratch for seeds idx: inverse, linear solve, one refinement."""
        rows, states, acts = idx[:, None], np.arange(self._V.shape[1]), self._actions[idx]
        P_pi, r_pi = self._P[rows, states, acts], self._R[rows, states, acts]
        M = self._eye - self.gamma * P_pi
        Minv = np.linalg.inv(M)
        V = np.linalg.solve(M, r_pi[:, :, None])[:, :, 0]
        V += np.einsum("kij,kj->ki", Minv, r_pi - np.einsum("kij,kj->ki", M, V))
        self._Minv[idx], self._V[idx] = Minv, V
        self._tie_v[idx] = self._tie_coef * np.abs(V).max(axis=1)
        self._stale[idx] = True
        self.refactorisations += idx.size

    def _recompute_q(self, idx):
        """Q[i] = R̂[i] + γ P̂[i] V[i] for seeds idx; returns Q[idx] (k, S, A).

        One matrix-vector product per seed on views of P̂: a gathered copy of P̂[idx] would
        move the (k, S, A, S) block through memory three times instead of once."""
        N, S, A = self._Q.shape
        P2, V, out, dot = self._rows_P, self._rows_V, self._pv[:idx.size], np.dot
        for i, o in zip(idx.tolist(), out, strict=True):
            dot(P2[i], V[i], out=o)
        Q = out.reshape(idx.size, S, A) * self.gamma
        Q += self._R.take(idx, axis=0)
        self._Q[idx] = Q
        self._stale[idx] = False
        return Q

    def _screen(self, idx):
        """The seeds of idx whose policy the float32 screen cannot confirm
        (:func:`.incremental_checks.screen`); those it confirms keep π and their Q is
        computed when read. A screen costs about half an exact check, so while a moving
        average of its failure rate is above 0.4 (early on, when policies change often) it
        is skipped but for one call in eight. Results never depend on it, only costs."""
        self._screen_calls += 1
        if not self.screen or (self._screen_fail > 0.4 and self._screen_calls % 8):
            return idx  # off, or recently failing for most seeds: skip, probing 1 call in 8
        unsure = screen(self._rows_P32, idx, self._pv32, self._V.take(idx, axis=0),
                        self._R.take(idx, axis=0), self._actions.take(idx, axis=0),
                        self.gamma)
        self._stale[idx[~unsure]] = True
        self._screen_fail += 0.1 * (unsure.mean() - self._screen_fail)  # moving average
        return idx[unsure]

    def _improve(self, idx):
        """Policy iteration for seeds idx from their current actions and V: π(s) changes
        only for an improvement of Q̂ by more than θ (module docstring), and a seed that
        would revisit a policy (a cycle through rounding-level changes) stops where it is."""
        S, A = self._Q.shape[1:]
        seen, rounds = {}, 0
        while idx.size:
            idx = self._screen(idx)
            if not idx.size:
                return
            Q = self._recompute_q(idx)
            k = idx.size
            acts = self._actions.take(idx, axis=0)
            cur = Q.reshape(-1).take(self._taken[:k * S] + acts.reshape(-1)).reshape(k, S)
            qmax = Q[:, :, 0].copy()
            for b in range(1, A):                              # faster than max(axis=2)
                np.maximum(qmax, Q[:, :, b], out=qmax)
            better = qmax > cur + self._ties(idx, cur)          # Q̂[s, π(s)] beaten by θ
            changed = better.any(axis=1)
            if not changed.any():
                return
            best = Q.argmax(axis=2)
            new = np.where(better, best, acts)
            rounds += 1  # the cycle guard, from round 2 (the first needs no bookkeeping)
            for i in np.flatnonzero(changed).tolist() if rounds > 1 else ():
                visited = seen.setdefault(int(idx[i]), set())
                visited.add(acts[i].tobytes())
                if new[i].tobytes() in visited:
                    changed[i], better[i] = False, False
            n_better = better.sum(axis=1)
            big = changed & (n_better > self.max_rank)
            if big.any():
                j = idx[big]
                self._actions[j] = new[big]
                self._refactor(j)
            small = np.flatnonzero(changed & ~big)
            if small.size:
                k_seed, k_state = np.nonzero(better[small])
                rank = np.arange(k_seed.size) - np.searchsorted(k_seed, k_seed)
                for j in range(int(rank.max()) + 1):
                    sel = rank == j
                    seeds, st = idx[small[k_seed[sel]]], k_state[sel]
                    old, new = self._actions[seeds, st], best[small[k_seed[sel]], st]
                    self._actions[seeds, st] = new
                    self._rank_one(seeds, st, self._P[seeds, st, new] - self._P[seeds, st, old],
                                   self._R[seeds, st, new] - self._R[seeds, st, old])
            idx = idx[changed]
