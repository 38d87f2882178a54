"""A fused numba kernel for online REINFORCE: ``simulate(..., engine="numba")``.

numba is an optional accelerator (``pip install mesabase[fast]``); the numpy path of
:func:`mesabase.sims.simulation.simulate` is the reference, and the kernel is tested equal to
it (tests/test_fast.py). One compiled loop runs a seed's whole simulation — act, sample
the environment, record, update — per step

    π(·|s_t) = softmax θ[s_t]                          (max-shifted, as the numpy path;
                                                        over the allowed actions only)
    a_t = #{k < K_s : u⁰_t ≥ Σ_{j≤k} π(j|s_t)}         (inverse CDF; K_s = A−1, or the
                                                        last allowed action of s_t)
    s_{t+1} = #{k < S−1 : u¹_t ≥ Σ_{j≤k} P[s_t, a_t, j]},   r_t from u²_t (the Env's noise)
    θ[s_t] ← θ[s_t] + α (r_t − b) (e_{a_t} − π(·|s_t))
    b ← b + (r_t − b) / (t + 1)                        (baseline="mean" only)

and restarts from μ0 (with u³_t) when the episode ends — the numpy path's operations in the
same order, on the same per-seed uniforms (seed n's ``default_rng(n)``: one for the first
state, then four per step). The results equal the numpy path's to rounding: exp and the
softmax denominator's summation order differ from numpy's by an ulp or so (hence the
tests' 1e-12), while the sampled states, actions and rewards are identical unless a
uniform falls within an ulp of a cumulative probability. π(·|s) is memoised per seed and
state while θ[s] is unchanged (a step with α (r − b) = 0 leaves θ exactly as it was), which
skips the exps — the kernel's largest cost — after zero-reward steps.

Divergence: an update that makes θ[s_t] non-finite (α (r − b) overflowing, e.g. lr = 1e308)
stops that seed where it stands (the other seeds run on), and ``reinforce_run`` then
raises :class:`~mesabase.sims.agents.reinforce.DivergedError` for the earliest such step (lowest
seed among ties, whatever the thread count), as the numpy path does. The kernel keeps per
seed the bound M = max|θ₀| + Σ_t |α (r_t − b_t)| ≥ max|θ_t| (an update moves each entry by
at most |α (r − b)|, since |e_a − π| ≤ 1): one add and one comparison per update, and the
written row is inspected entry by entry only once M exceeds 1e300 (or is ∞/NaN) — never in
an ordinary run, where a per-entry test measurably slowed the loop.

Supported: :class:`~mesabase.sims.agents.reinforce.Reinforce` with ``update="step"``, a tabular
policy (over the environment's allowed actions), a constant step size, ``natural=False``,
any baseline (None, a constant, "mean"), any ``init_logits``; an
:class:`~mesabase.sims.envs.Env` (not a subclass) with any noise; no shadow. Anything else
raises a ValueError that says which setting.

Threads: the seeds are split into contiguous ranges, one per thread
(``numba.get_num_threads()``, i.e. ``NUMBA_NUM_THREADS``); each thread draws its seeds'
uniforms (numpy's generators release the GIL) and runs the kernel (compiled ``nogil``) on
them, so drawing and stepping both scale. Seeds are independent: results do not depend on
the thread count or the batch. The kernel is compiled once and cached on disk
(``cache=True``).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from scipy.special import ndtri

from ..envs.base import Env
from .reinforce import DivergedError, Reinforce
from .schedules import Constant

__all__ = ["available", "unsupported", "reinforce_run"]

try:
    import numba
except ImportError:  # pragma: no cover - exercised only without numba
    numba = None

_NOISE = {"none": 0, "bernoulli": 1, "gaussian": 2}
#: While Σ|α (r − b)| + max|θ₀| stays below this bound no θ entry can have overflowed (each
#: update moves an entry by at most |α (r − b)|, as |e_a − π| ≤ 1); past it, the row
#: written is checked entry by entry.
_SAFE = 1e300
#: Uniforms held per seed at a time (steps); any block size gives the same numbers.
_STEPS = 256


def available() -> bool:
    """Whether numba is importable."""
    return numba is not None


def unsupported(env, learner, shadow) -> str | None:
    """Why the kernel cannot run this configuration, or None if it can."""
    if type(env) is not Env:
        return f"the environment must be an Env (not a subclass); got {type(env).__name__}"
    if env.noise not in _NOISE:
        return f"reward noise {env.noise!r} is not supported"
    if shadow is not None:
        return f"the kernel runs without a shadow (shadow=None); got shadow={shadow!r}"
    if not isinstance(learner, Reinforce):
        return f"the learner must be a Reinforce; got {type(learner).__name__}"
    if learner.mode != "step":
        return f"only update='step' is fused; got update={learner.mode!r}"
    if learner._linear is not None:
        return "only the tabular policy is fused; got a linear-softmax policy"
    if learner.natural:
        return "natural=True is not fused"
    own = learner.allowed
    if own is not None and not np.array_equal(own, env.allowed):
        return "the learner's action mask differs from the environment's (bind it to env)"
    if not isinstance(learner._sched, Constant):
        return f"only the constant step size is fused; got schedule={learner.schedule!r}"
    return None


def _build_kernel():
    """The kernel, compiled on first use (so that importing this module never needs numba)."""

    @numba.njit(cache=True, nogil=True, fastmath=False, error_model="numpy")
    def step_block(i0, i1, t0, nb, U, Z, theta, pc, valid, s, k, b, bc, cdf, mu0c,
                   absorbing, R, noise, sigma, H, lr, mean_baseline, rec_at, theta_rec,
                   hs, ha, hr, hs2, hp, hd, mag, err_t, err_s, allowed, last):
        N, S, A = theta.shape
        for i in range(i0, i1):
            if err_t[i] >= 0:             # diverged earlier: this seed is stopped
                continue
            si, ki, bi, bci, mi = s[i], k[i], b[i], bc[i], mag[i]
            for j in range(nb):
                t = t0 + j
                p = pc[i, si]
                if not valid[i, si]:      # π(·|s) memoised until θ[s] changes
                    m = -np.inf           # softmax over the allowed actions only
                    for x in range(A):
                        if allowed[si, x] and theta[i, si, x] > m:
                            m = theta[i, si, x]
                    tot = 0.0
                    for x in range(A):
                        e = np.exp(theta[i, si, x] - m) if allowed[si, x] else 0.0
                        p[x] = e
                        tot += e
                    for x in range(A):
                        p[x] = p[x] / tot
                    valid[i, si] = True
                u0 = U[i - i0, j, 0]
                c = 0.0
                a = 0
                for x in range(last[si]):  # A − 1 unless trailing actions are disallowed
                    c += p[x]
                    a += u0 >= c
                u1 = U[i - i0, j, 1]
                s2 = 0
                for x in range(S - 1):
                    s2 += u1 >= cdf[si, a, x]
                mean = R[si, a]
                if noise == 0:
                    r = mean
                elif noise == 1:
                    r = 1.0 if U[i - i0, j, 2] < mean else 0.0
                else:
                    r = mean + sigma * Z[i - i0, j]
                coef = lr * (r - bi)
                if coef != 0.0:           # θ + 0 = θ: nothing to do, π(·|s) stays valid
                    for x in range(A):
                        g = -p[x]
                        if x == a:
                            g += 1.0
                        theta[i, si, x] = theta[i, si, x] + g * coef
                    valid[i, si] = False
                    mi += abs(coef)       # |g| ≤ 1: a bound on max |θ[i]|
                    if not mi <= _SAFE:   # rare: look at the row itself
                        bad = False
                        for x in range(A):
                            bad |= not np.isfinite(theta[i, si, x])
                        if bad:           # diverged: stop this seed, report it
                            err_t[i], err_s[i], hr[i, t] = t, si, r
                            break
                if mean_baseline:
                    bci += 1
                    bi = bi + (r - bi) / bci
                ki += 1
                done = absorbing[s2] or (H > 0 and ki >= H)
                hs[i, t], ha[i, t], hr[i, t], hs2[i, t] = si, a, r, s2
                hp[i, t], hd[i, t] = p[a], done
                if done:
                    u3 = U[i - i0, j, 3]
                    si = 0
                    for x in range(S - 1):
                        si += u3 >= mu0c[x]
                    ki = 0
                else:
                    si = s2
                ridx = rec_at[t + 1]
                if ridx >= 0:
                    for y in range(S):
                        for x in range(A):
                            theta_rec[i, ridx, y, x] = theta[i, y, x]
            s[i], k[i], b[i], bc[i], mag[i] = si, ki, bi, bci, mi

    return step_block


_compiled = []


def _kernel():
    if not _compiled:
        _compiled.append(_build_kernel())
    return _compiled[0]


def reinforce_run(env: Env, learner: Reinforce, steps: int, gens, s0: np.ndarray,
                  record_steps: np.ndarray, buffers: dict, threads: int | None = None):
    """Run the fused kernel for every seed; fills the history ``buffers`` (field -> (N, T)
    array, the History's) and returns θ at the recorded steps, shape (N, R, S, A).

    ``gens`` are the seeds' generators after the first state's uniform (``s0``, (N,)).
    """
    if numba is None:
        raise ImportError("engine='numba' needs numba: pip install 'mesabase[fast]' "
                          "(or pip install numba)")
    why = unsupported(env, learner, None)
    if why is not None:
        raise ValueError(f"engine='numba' cannot run this configuration: {why}")
    T = int(steps)
    N, S, A = len(gens), env.n_states, env.n_actions
    state = learner.init(N, S, A, None)
    theta = np.ascontiguousarray(state.theta, dtype=np.float64).copy()
    b = state.baseline.astype(np.float64).copy()
    bc = state.baseline_count.astype(np.int64).copy()
    s = np.ascontiguousarray(s0, dtype=np.int64).copy()
    k = np.zeros(N, np.int64)
    pc = np.empty_like(theta)                      # π(·|s) per seed and state, memoised
    valid = np.zeros((N, S), dtype=np.bool_)
    rec_at = np.full(T + 1, -1, np.int64)
    rec_at[record_steps] = np.arange(record_steps.size)
    theta_rec = np.empty((N, record_steps.size, S, A))
    theta_rec[:, 0] = theta
    mag = np.abs(theta).reshape(N, -1).max(axis=1)  # max |θ[i]| so far, bounded above
    err_t = np.full(N, -1, np.int64)               # step at which a seed diverged, or -1
    err_s = np.zeros(N, np.int64)                  # and the state whose θ row overflowed
    mdp = env.mdp
    args = (env._cdf, env._mu0_cdf, env.absorbing, np.ascontiguousarray(mdp.R, np.float64),
            _NOISE[env.noise], float(env.sigma), int(mdp.horizon or 0), float(learner.lr),
            learner.baseline == "mean", rec_at, theta_rec,
            *(buffers[f] for f in ("states", "actions", "rewards", "next_states", "probs",
                                   "dones")), mag, err_t, err_s,
            np.ascontiguousarray(env.allowed), np.ascontiguousarray(env.last_allowed, np.int64))
    kernel = _kernel()
    gaussian = env.noise == "gaussian"

    def work(i0, i1):
        B = max(1, min(_STEPS, T))
        U = np.empty((i1 - i0, B, 4))
        Z = np.empty((i1 - i0, B)) if gaussian else np.empty((0, 0))
        for t0 in range(0, T, B):
            nb = min(B, T - t0)
            for i in range(i0, i1):
                gens[i].random(out=U[i - i0, :nb])
            if gaussian:
                Z[:, :nb] = ndtri(np.clip(U[:, :nb, 2], 1e-300, 1.0 - 1e-16))
            kernel(i0, i1, t0, nb, U, Z, theta, pc, valid, s, k, b, bc, *args)

    n_threads = max(1, min(threads or numba.get_num_threads(), os.cpu_count() or 1, N))
    bounds = np.linspace(0, N, n_threads + 1).astype(int)
    if n_threads == 1 or T == 0:
        work(0, N)
    else:
        with ThreadPoolExecutor(n_threads) as pool:
            futures = [pool.submit(work, int(lo), int(hi))
                       for lo, hi in zip(bounds[:-1], bounds[1:], strict=True)]
            for f in futures:
                f.result()
    if (err_t >= 0).any():
        row = int(np.argmin(np.where(err_t >= 0, err_t, np.iinfo(np.int64).max)))
        t, si = int(err_t[row]), int(err_s[row])
        raise DivergedError(row, t, f"theta[{row}, {si}] = {theta[row, si].tolist()} is not "
                                    f"finite (α (r − b) overflowed: lr = {learner.lr!r}, "
                                    f"r = {float(buffers['rewards'][row, t])!r})")
    return theta_rec
