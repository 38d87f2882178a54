"""Online REINFORCE learners as pure (init, policy, update) over an explicit state.

The learner protocol used by :func:`mesabase.sims.simulation.simulate`::

    state = learner.init(n_seeds, n_states, n_actions, rng)   # rng may be unused
    pi    = learner.policy(state)                             # (N, S, A), used to act now
    state = learner.update(state, step)                       # step: a Transition of (N,)

:class:`Reinforce` implements, per seed n (all seeds in one numpy op),

    update="step"     θ_{k+1} = θ_k + α_k (r_t − b) ψ_t           after every step t
    update="episode"  θ ← θ + α_k Σ_{j=0}^{L−1} (G_j − b) ψ_j        when the episode ends,
                      G_j = Σ_{i=j}^{L−1} γ^{i−j} r_i (return-to-go)

with ψ_t = ∇_θ log π_θ(a_t|s_t) (the score; see :mod:`mesabase.sims.agents.policies`), or its
natural form (below), α_k = lr · m(k) from :mod:`mesabase.sims.agents.schedules` where k counts
the updates the seed has received (steps in step mode, finished episodes in episode
mode), and b a baseline. ``update="step"`` with b = 0 is the seed's literal rule
θ_{t+1} = θ_t + α r_t ∇_θ log π_θt(a_t|s_t). Step mode ignores ``done``; neither mode
reads ``next_state``, ``prob`` or ``t`` (REINFORCE is on-policy and counts its own updates).

Episode mode keeps no buffer of the episode: θ is fixed during an episode, so every ψ_j
is taken at the θ that acted, and the sum is accumulated online with an eligibility trace,

    e_j = γ e_{j−1} + ψ_j,   Σ_j (G_j − b) ψ_j = Σ_j (r_j e_j − b ψ_j)

(exchange the order of Σ_j Σ_{i≥j}); the state holds e and the running sum, both of θ's
shape, so memory does not grow with the episode's length. No γ^j factor weights the
terms (the common form; Sutton & Barto's box multiplies by γ^j — identical for γ = 1).

Baselines. ``None``: b = 0. A float: b = that constant. ``"mean"``: b is the running mean
of the seed's past *targets*, taken before the current ones are seen — in step mode the
mean of r_0, …, r_{t−1} (b = 0 at t = 0); in episode mode the mean of every return-to-go
G_j of the seed's finished episodes (b = 0 during the first episode), fixed during an
episode. Either way b does not depend on the current action, so the update stays unbiased.

Divergence. A step size or reward large enough for α (r − b) ψ to overflow (lr = 1e308, or
rewards near 1e308) would turn θ into ±∞ and π into NaN. Every update checks the θ rows it
changed (and, for the linear family, the logits it used) with one reduction —
a non-finite sum flags the rows, which are then searched — and raises
:class:`DivergedError` naming the step t and the seed (its row of the batch; ``simulate``
reports the seed itself).

Natural gradient (tabular only). ψ_t is replaced by the score preconditioned by the
Fisher matrix of the action distribution at s_t, F_s = diag π_s − π_s π_sᵀ:
x = e_{s_t, a_t} / π_θ(a_t|s_t) on row s_t solves F_s x = e_{a_t} − π_s (the minimum-norm
solution differs by a multiple of 1, which leaves π unchanged). Per step

    θ[s_t, a_t] += α (r_t − b) / π_θ(a_t|s_t),

whose expectation over a_t ∼ π(·|s_t) is α (r(s_t, ·) − b): the NPG step for the softmax
class, θ ← θ + α A^π(s, ·) up to a per-state constant (Kakade 2002; Agarwal et al. 2021,
"On the theory of policy gradient methods", the NPG-for-softmax lemma, with
A = r − πᵀr for a bandit). States are updated as they are visited, i.e. at rate d(s);
the exact Kakade step would also divide by d(s_t), which the learner does not know.

Action masks. Bound to an environment whose MDP disallows some actions
(:meth:`Reinforce.bind`, as :func:`~mesabase.sims.simulation.simulate` does), or given
``allowed`` (S, A), the policy is the softmax over the allowed actions only, ℓ = −inf
elsewhere: π_θ(a|s) = 0 there and the score e_a − π_θ(·|s) (φ(s, a) − Σ_b π_θ(b|s) φ(s, b))
is taken over the allowed actions, so θ at a disallowed pair never moves (tabular) and no
disallowed action is ever sampled. A step with a disallowed action is a ValueError.

References: R. J. Williams, "Simple statistical gradient-following algorithms for
connectionist reinforcement learning", Machine Learning 8 (1992); Sutton & Barto (2018)
§13.3–13.4; S. Kakade, "A natural policy gradient", NeurIPS 2002; A. Agarwal, S. Kakade,
J. Lee, G. Mahajan, JMLR 22 (2021).
"""

from __future__ import annotations

import math
from numbers import Real
from typing import NamedTuple

import numpy as np

from mesabase.theory.checks import real_array

from .policies import (
    LinearSoftmax,
    TabularSoftmax,
    lin_logits,
    lin_rows,
    lin_score,
    natural_rows,
    score_rows,
    softmax,
    tab_rows,
)
from .schedules import Constant, make_schedule

__all__ = ["Transition", "ReinforceState", "Reinforce", "DivergedError"]


class DivergedError(ValueError, FloatingPointError):
    """A learner's parameters or logits became non-finite (an update overflowed).

    Attributes: ``row`` (the seed's row in the batch), ``step`` (the global step t of the
    update), ``seed`` (the seed: ``row`` unless the caller knew the seed itself, as
    :func:`~mesabase.sims.simulation.simulate` does) and ``detail``.
    """

    def __init__(self, row: int, step: int, detail: str, seed: int | None = None):
        self.row, self.step, self.detail = int(row), int(step), detail
        self.seed = self.row if seed is None else int(seed)
        where = "" if seed is None or int(seed) == self.row else f" (batch row {self.row})"
        super().__init__(f"REINFORCE diverged at step {self.step} for seed {self.seed}{where}: "
                         f"{detail}; lower lr or rescale the rewards")

    def with_seed(self, seed: int) -> DivergedError:
        """The same error, naming ``seed`` instead of the batch row."""
        return DivergedError(self.row, self.step, self.detail, seed)

    def __reduce__(self):  # picklable (process pools), despite the custom signature
        return (DivergedError, (self.row, self.step, self.detail,
                                None if self.seed == self.row else self.seed))


def check_finite(x: np.ndarray, step, what: str, rows=None, r=None, coef=None,
                  s=None) -> None:
    """Raise DivergedError if ``x`` (seed axis first) has a non-finite entry. One reduction
    when it has none (a NaN or ±∞ makes the sum non-finite; a finite sum that overflows
    only triggers the exact search)."""
    if math.isfinite(np.add.reduce(x, axis=None)):
        return
    bad = ~np.isfinite(x.reshape(x.shape[0], -1)).all(axis=1)
    if not bad.any():
        return
    i = int(np.argmax(bad))
    label = what.format(n=i if rows is None else rows[i], s=None if s is None else int(s[i]))
    detail = f"{label} = {x[i].tolist()} is not finite"
    if coef is not None:
        detail += f" (α (r − b) = {float(coef[i])!r} for r = {float(r[i])!r})"
    raise DivergedError(i if rows is None else rows[i], step, detail)


class Transition(NamedTuple):
    """One environment step for every seed (each field (N,) except ``t``)."""

    state: np.ndarray       # (N,) int: s_t
    action: np.ndarray      # (N,) int: a_t
    reward: np.ndarray      # (N,) float: r_t
    next_state: np.ndarray  # (N,) int: s_{t+1}
    prob: np.ndarray        # (N,) float: behaviour probability π_θt(a_t|s_t)
    done: np.ndarray        # (N,) bool: the episode ended after this step
    t: int                  # global step index, from 0


class ReinforceState(NamedTuple):
    """:class:`Reinforce`'s state; seed axis first. Θ = (S, A) tabular, (d,) linear."""

    theta: np.ndarray           # (N, *Θ) float64: policy parameters
    count: np.ndarray           # (N,) int64: updates applied (steps / finished episodes)
    baseline: np.ndarray        # (N,) float64: b for the next update
    baseline_count: np.ndarray  # (N,) int64: targets averaged into b ("mean" only)
    trace: np.ndarray           # (N, *Θ) episode mode: e_j = γ e_{j−1} + ψ_j; step: (N, 0)
    accum: np.ndarray           # (N, *Θ) episode mode: Σ_{i≤j} (r_i e_i − b ψ_i); step: (N, 0)
    disc: np.ndarray            # (N,) float64 episode mode: c_j = γ c_{j−1} + 1
    return_sum: np.ndarray      # (N,) float64 episode mode: Σ_{i≤j} r_i c_i (= Σ_i G_i at end)
    length: np.ndarray          # (N,) int64: steps in the current episode


_UPDATES = ("step", "episode")


class Reinforce:
    """REINFORCE with a softmax policy, vectorised over seeds (see the module docstring).

    Args:
      lr: base step size lr >= 0 (α_k = lr · m(k)).
      update: "step" (after every step) or "episode" (at each episode's end).
      baseline: None (b = 0), a float constant, or "mean" (running mean of past targets).
      policy: "tabular", a :class:`TabularSoftmax`, a feature array φ of shape (S, A, d),
        or a :class:`LinearSoftmax`.
      schedule: "constant", ("power", p) for m(k) = (k + 1)^(−p), or a callable k -> m(k).
      natural: natural policy gradient (tabular only).
      gamma: γ ∈ [0, 1], the discount of the return-to-go (episode mode only).
      init_logits: initial θ per seed — (S, A) tabular or (d,) linear, shared by all seeds —
        or with a seed axis first; default zeros (uniform policies).

    Immutable (``replace(**changes)`` gives a modified copy). Two arguments are stored
    under other names because the protocol's methods own theirs: ``update`` as ``mode``,
    ``policy`` as ``family``.

    Example (the seed's rule on a two-armed bandit, by hand: θ = (0, 0), π = (½, ½),
    a = 1, r = 1, α = 0.5: θ ← θ + 0.5 · 1 · (e_1 − π) = (−0.25, 0.25)):
      >>> learner = Reinforce(lr=0.5)
      >>> state = learner.init(n_seeds=1, n_states=1, n_actions=2)
      >>> step = Transition(np.array([0]), np.array([1]), np.array([1.0]), np.array([0]),
      ...                   np.array([0.5]), np.array([True]), 0)
      >>> learner.update(state, step).theta.tolist()
      [[[-0.25, 0.25]]]
    """

    __slots__ = ("lr", "mode", "baseline", "family", "schedule", "natural", "gamma",
                 "init_logits", "allowed", "_sched", "_linear", "_neg")

    def __init__(self, lr=0.1, update="step", baseline=None, policy="tabular",
                 schedule="constant", natural=False, gamma=1.0, init_logits=None,
                 allowed=None):
        if isinstance(lr, bool) or not isinstance(lr, Real) or not np.isfinite(lr) or lr < 0:
            raise ValueError(f"lr must be a finite real >= 0; got {lr!r}")
        if update not in _UPDATES:
            raise ValueError(f"update must be 'step' or 'episode'; got {update!r}")
        if isinstance(baseline, str):
            if baseline != "mean":
                raise ValueError(f"baseline must be None, 'mean' or a float; got {baseline!r}")
        elif baseline is not None and (isinstance(baseline, bool) or not isinstance(
                baseline, Real) or not np.isfinite(baseline)):
            raise ValueError(f"baseline must be None, 'mean' or a finite float; got {baseline!r}")
        if isinstance(policy, str):
            if policy != "tabular":
                raise ValueError(f"policy must be 'tabular', a feature array (S, A, d) or a "
                                 f"LinearSoftmax; got {policy!r}")
            linear = None
        elif isinstance(policy, TabularSoftmax):
            linear = None
        elif isinstance(policy, LinearSoftmax):
            linear = policy
        else:
            linear = LinearSoftmax(policy)        # validates rank 3, finiteness
            policy = linear
        if not isinstance(natural, (bool, np.bool_)):
            raise ValueError(f"natural must be True or False; got {natural!r}")
        if natural and linear is not None:
            raise ValueError("natural=True is implemented for the tabular softmax only "
                             "(its Fisher matrix is per state); got a linear policy")
        if isinstance(gamma, bool) or not isinstance(gamma, Real) or not 0 <= gamma <= 1:
            raise ValueError(f"gamma must be a real in [0, 1]; got {gamma!r}")
        if init_logits is not None:
            x = real_array(init_logits, "init_logits", copy=True)
            if not np.isfinite(x).all():
                raise ValueError("init_logits must be finite")
            x.flags.writeable = False
            init_logits = x
        neg = None
        if allowed is not None:
            allowed = np.array(allowed)
            if allowed.dtype != bool or allowed.ndim != 2 or not allowed.any(axis=1).all():
                raise ValueError("allowed must be a bool (S, A) array with an allowed action "
                                 f"in every state; got {allowed.dtype} {allowed.shape}")
            allowed.flags.writeable = False
            if allowed.all():
                allowed = None
            else:
                neg = np.where(allowed, 0.0, -np.inf)
        for name, value in (("lr", float(lr)), ("mode", update), ("baseline", baseline),
                            ("family", policy), ("schedule", schedule),
                            ("natural", bool(natural)), ("gamma", float(gamma)),
                            ("init_logits", init_logits), ("_sched", make_schedule(schedule)),
                            ("_linear", linear), ("allowed", allowed), ("_neg", neg)):
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError("Reinforce is immutable; use .replace(...)")

    def replace(self, **changes) -> Reinforce:
        """A copy with some constructor arguments changed (``update=`` sets the mode)."""
        args = dict(lr=self.lr, update=self.mode, baseline=self.baseline, policy=self.family,
                    schedule=self.schedule, natural=self.natural, gamma=self.gamma,
                    init_logits=self.init_logits, allowed=self.allowed)
        args.update(changes)
        return Reinforce(**args)

    def bind(self, env) -> Reinforce:
        """This learner restricted to ``env``'s allowed actions (itself when ``env`` has
        no action mask); a mask of its own is intersected with the environment's."""
        mask = getattr(env, "allowed", None)
        if mask is None or mask.all():
            return self
        if self.allowed is not None:
            if self.allowed.shape != mask.shape:
                raise ValueError(f"allowed has shape {self.allowed.shape} but the "
                                 f"environment's mask has {mask.shape}")
            mask = mask & self.allowed
        return self.replace(allowed=mask)

    def __repr__(self) -> str:
        pol = self.family if isinstance(self.family, str) else repr(self.family)
        return (f"Reinforce(lr={self.lr}, update={self.mode!r}, baseline={self.baseline!r}, "
                f"policy={pol!r}, schedule={self.schedule!r}, natural={self.natural}, "
                f"gamma={self.gamma})")

    # ---- protocol ----------------------------------------------------------------------
    def init(self, n_seeds: int, n_states: int, n_actions: int, rng=None) -> ReinforceState:
        """The initial state for N seeds (``rng`` is unused: the learner is deterministic)."""
        if self._linear is None:
            family = TabularSoftmax(n_states, n_actions)
            if isinstance(self.family, TabularSoftmax) and self.family != family:
                raise ValueError(f"policy {self.family} does not match n_states={n_states}, "
                                 f"n_actions={n_actions}")
        else:
            family = self._linear
            if (family.n_states, family.n_actions) != (n_states, n_actions):
                raise ValueError(f"features have shape {family.features.shape} but the "
                                 f"environment has S={n_states}, A={n_actions}")
        if self.allowed is not None and self.allowed.shape != (n_states, n_actions):
            raise ValueError(f"allowed has shape {self.allowed.shape} but the environment "
                             f"has S={n_states}, A={n_actions}")
        theta = family.init(n_seeds, self.init_logits)
        N = theta.shape[0]
        b0 = 0.0 if self.baseline in (None, "mean") else float(self.baseline)
        traced = theta.shape if self.mode == "episode" else (N, 0)
        return ReinforceState(
            theta=theta, count=np.zeros(N, np.int64), baseline=np.full(N, b0),
            baseline_count=np.zeros(N, np.int64), trace=np.zeros(traced),
            accum=np.zeros(traced), disc=np.zeros(N), return_sum=np.zeros(N),
            length=np.zeros(N, np.int64))

    def policy(self, state: ReinforceState) -> np.ndarray:
        """π_θ(a|s) for every seed and state, shape (N, S, A)."""
        return softmax(self._logits(state.theta))

    def action_probs(self, state: ReinforceState, s) -> np.ndarray:
        """π_θ(·|s_n) for each seed's current state only, shape (N, A) (cheaper than
        ``policy(state)[n, s]`` when S is large)."""
        s = np.asarray(s)
        return softmax(self._masked(self._rows(state.theta, np.arange(s.shape[0]), s)[1], s))

    def update(self, state: ReinforceState, step: Transition) -> ReinforceState:
        """The state after ``step``; pure (the input state's arrays are not modified)."""
        N = state.theta.shape[0]
        s, a, r, done = _check_step(step, N, state.theta.shape, self._linear)
        if self.allowed is not None and not self.allowed[s, a].all():
            i = int(np.argmin(self.allowed[s, a]))
            raise ValueError(f"step.action[{i}] = {int(a[i])} is not allowed in state "
                             f"{int(s[i])}")
        n = np.arange(N)
        if self.mode == "step":
            return self._step(state, n, s, a, r, step.t)
        return self._episode(state, n, s, a, r, done, step.t)

    # ---- internals: the row kernels of mesabase.sims.agents.policies --------------------------
    def _alpha(self, count):
        if isinstance(self._sched, Constant):
            return self.lr
        return self.lr * self._sched(count)

    def _logits(self, theta):
        """ℓ (N, S, A), −inf at disallowed pairs."""
        out = theta if self._linear is None else lin_logits(self._linear.phi_t, theta)
        return out if self._neg is None else out + self._neg

    def _masked(self, logits, s):
        """Row logits (N, A) of states s with −inf at disallowed actions (for π and ψ)."""
        return logits if self._neg is None else logits + self._neg[s]

    def _rows(self, theta, n, s):
        """(flat row index n·S + s_n, or φᵀ rows (d, N, A) when linear; logits of row s_n,
        shape (N, A))."""
        if self._linear is None:
            return tab_rows(theta, n, s)
        return lin_rows(self._linear.phi_t, theta, s)

    def _score(self, logits, where, n, a):
        """ψ_t from row s_t's logits: tabular -> the (N, A) row to add at θ[n, s_n];
        linear -> (N, d)."""
        if self._linear is not None:
            return lin_score(where, logits, n, a)
        return (natural_rows if self.natural else score_rows)(logits, n, a)

    @staticmethod
    def _put_rows(x, idx, new):
        """A copy of x (N, S, A) with row s_n of seed n (flat index ``idx``) set to new[n]."""
        N, S, A = x.shape
        if S == 1:
            return new.reshape(N, 1, A)
        out = x.copy()
        out.reshape(N * S, A)[idx] = new
        return out

    @staticmethod
    def _add_rows_inplace(x, idx, delta):
        """x[n, s_n] += delta[n] for a fresh array x (N, S, A)."""
        N, S, A = x.shape
        if S == 1:
            x[:, 0] += delta
        else:
            flat = x.reshape(N * S, A)
            flat[idx] = np.take(flat, idx, axis=0) + delta

    def _step(self, st, n, s, a, r, t):
        with np.errstate(over="ignore", invalid="ignore"):   # overflow: DivergedError below
            coef = self._alpha(st.count) * (r - st.baseline)
            where, logits = self._rows(st.theta, n, s)
            if self._linear is not None:
                check_finite(logits, t, "the logits φ(s_t, ·)·θ[{n}]")
            psi = self._score(self._masked(logits, s), where, n, a)
            psi *= coef[:, None]
            if self._linear is None:
                new = logits + psi
                check_finite(new, t, "theta[{n}, {s}]", r=r, coef=coef, s=s)
                theta = self._put_rows(st.theta, where, new)
            else:
                theta = st.theta + psi
                check_finite(theta, t, "theta[{n}]", r=r, coef=coef)
        baseline, bcount = st.baseline, st.baseline_count
        if self.baseline == "mean":
            bcount = bcount + 1
            baseline = baseline + (r - baseline) / bcount
        return st._replace(theta=theta, count=st.count + 1, baseline=baseline,
                           baseline_count=bcount)

    def _episode(self, st, n, s, a, r, done, t):
        with np.errstate(over="ignore", invalid="ignore"):  # overflow: DivergedError at the end
            return self._episode_update(st, n, s, a, r, done, t)

    def _episode_update(self, st, n, s, a, r, done, t):
        g, b = self.gamma, st.baseline
        where, logits = self._rows(st.theta, n, s)
        if self._linear is not None:
            check_finite(logits, t, "the logits φ(s_t, ·)·θ[{n}]")
        psi = self._score(self._masked(logits, s), where, n, a)
        if self._linear is None:
            trace = g * st.trace if g != 1.0 else st.trace.copy()
            self._add_rows_inplace(trace, where, psi)
            accum = st.accum + r[:, None, None] * trace
            if self.baseline is not None:
                self._add_rows_inplace(accum, where, -b[:, None] * psi)
        else:
            trace = g * st.trace + psi
            accum = st.accum + r[:, None] * trace
            if self.baseline is not None:
                accum -= b[:, None] * psi
        disc = g * st.disc + 1.0
        return_sum = st.return_sum + r * disc
        length = st.length + 1
        theta, count, baseline, bcount = st.theta, st.count, st.baseline, st.baseline_count
        if done.any():
            alpha = np.broadcast_to(self._alpha(count), (len(n),))[done]
            theta = theta.copy()
            upd = theta[done] + alpha.reshape(-1, *(1,) * (theta.ndim - 1)) * accum[done]
            check_finite(upd, t, "theta[{n}] at the episode's end", rows=np.flatnonzero(done))
            theta[done] = upd
            count = count + done
            if self.baseline == "mean":
                total = bcount + np.where(done, length, 0)
                mean = (baseline * bcount + return_sum) / np.maximum(total, 1)
                baseline = np.where(done, mean, baseline)
                bcount = total
            trace[done] = 0.0
            accum[done] = 0.0
            disc = np.where(done, 0.0, disc)
            return_sum = np.where(done, 0.0, return_sum)
            length = np.where(done, 0, length)
        return ReinforceState(theta, count, baseline, bcount, trace, accum, disc,
                              return_sum, length)


def _check_step(step, N, theta_shape, linear):
    """(s, a, r, done) as arrays of shape (N,), with a clear error when they are not."""
    s, a = np.asarray(step.state), np.asarray(step.action)
    r = np.asarray(step.reward)
    if r.dtype != np.float64:   # complex rewards are refused, not truncated
        r = real_array(r, "step.reward")
    if r.shape == (N,) and not np.isfinite(r).all():
        i = int(np.argmax(~np.isfinite(r)))
        raise ValueError(f"step.reward[{i}] = {r[i]} is not finite")
    done = np.asarray(step.done, dtype=bool)
    for name, x in (("state", s), ("action", a), ("reward", r), ("done", done)):
        if x.shape != (N,):
            raise ValueError(f"step.{name} must have shape ({N},) (one per seed); "
                             f"got {x.shape}")
    S, A = (linear.n_states, linear.n_actions) if linear is not None else theta_shape[1:]
    for name, x, size in (("state", s, S), ("action", a, A)):
        if x.dtype.kind not in "iu":
            raise ValueError(f"step.{name} must hold integers; got dtype {x.dtype}")
        # one comparison catches both ends: negatives wrap to huge values as uint64
        if (x.astype(np.int64, copy=False).view(np.uint64) >= size).any():
            i = int(np.argmax((x < 0) | (x >= size)))
            raise ValueError(f"step.{name}[{i}] = {int(x[i])} is out of range [0, {size})")
    return s, a, r, done
