"""Softmax policy families: tabular and linear over shared state-action features.

Both families share one form, with a seed axis first on every parameter array::

    π_θ(a|s) = exp ℓ_θ(s, a) / Σ_b exp ℓ_θ(s, b)

    tabular   θ ∈ R^{N×S×A}    ℓ_θ[n, s, a] = θ[n, s, a]
    linear    θ ∈ R^{N×d}      ℓ_θ[n, s, a] = φ(s, a)·θ[n],   features φ[s, a, :] ∈ R^d

and its score (the gradient of the log-probability), in θ's shape:

    tabular   ∇_θ log π_θ(a|s) = e_{s,a} − π_θ(·|s) on row s, 0 on the other rows
    linear    ∇_θ log π_θ(a|s) = φ(s, a) − Σ_b π_θ(b|s) φ(s, b)

The linear family shares θ across states, so it is the only way a tabular agent
generalises (and so the only way it can pursue a proxy that features expose).

Numerics. Logits are shifted by their per-state maximum before exponentiating
(log-sum-exp), so logits of ±1e4 neither overflow nor give NaN, and log π is computed
directly as ℓ − max ℓ − log Σ exp(ℓ − max ℓ) (never as the log of a rounded π).
Every reduction runs per seed in a fixed order (no BLAS), so a seed's probabilities,
log-probabilities and scores are bit-identical whatever the batch it is computed in.

Reference: R. S. Sutton and A. G. Barto, *Reinforcement Learning: An Introduction*,
2nd ed., 2018, §13.2 (softmax in action preferences, linear preferences and their score).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mesabase.theory.checks import real_array

__all__ = ["TabularSoftmax", "LinearSoftmax", "softmax", "log_softmax"]


def _row_max(x2: np.ndarray) -> np.ndarray:
    """max over the last axis of a 2-D array, (M,). Short rows are reduced along the long
    axis of a transposed copy: numpy reduces rows one at a time, ~4x slower for A ≈ 10."""
    if x2.shape[1] <= 32:
        return np.ascontiguousarray(x2.T).max(axis=0)
    return x2.max(axis=1)


def _row_sum(x2: np.ndarray) -> np.ndarray:
    """Σ over the last axis of a 2-D array, (M,), one row at a time in a fixed order (so a
    row's sum does not depend on M); einsum is ~4x faster than ``sum(-1)`` on short rows."""
    return np.einsum("ma->m", x2)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log softmax along the last axis: ℓ − m − log Σ exp(ℓ − m), m = max ℓ (stable).

    >>> log_softmax(np.array([0.0, -1e4])).tolist()
    [0.0, -10000.0]
    """
    x = np.asarray(logits)
    if x.dtype != np.float64:   # complex logits are refused, not truncated
        x = real_array(x, "logits")
    x2 = x.reshape(-1, x.shape[-1])
    z = x2 - _row_max(x2)[:, None]
    z -= np.log(_row_sum(np.exp(z)))[:, None]
    return z.reshape(x.shape)


def softmax(logits: np.ndarray) -> np.ndarray:
    """softmax along the last axis, exp(ℓ − m) / Σ exp(ℓ − m) with m = max ℓ (stable).

    >>> softmax(np.array([1e4, 1e4, -1e4])).tolist()
    [0.5, 0.5, 0.0]
    """
    x = np.asarray(logits)
    if x.dtype != np.float64:   # complex logits are refused, not truncated
        x = real_array(x, "logits")
    x2 = x.reshape(-1, x.shape[-1])
    e = x2 - _row_max(x2)[:, None]
    np.exp(e, out=e)
    e /= _row_sum(e)[:, None]
    return e.reshape(x.shape)


def _positive_int(x, name: str) -> int:
    if isinstance(x, bool) or not isinstance(x, (int, np.integer)) or x < 1:
        raise ValueError(f"{name} must be a positive integer; got {x!r}")
    return int(x)


def _indices(x, n: int, size: int, name: str) -> np.ndarray:
    """(N,) integer indices in [0, size), from an array or a scalar broadcast to N seeds."""
    arr = np.asarray(x)
    if arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and arr.size and np.array_equal(arr, np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise ValueError(f"{name} must hold integers; got dtype {arr.dtype}")
    arr = np.broadcast_to(arr, (n,)) if arr.ndim == 0 else arr
    if arr.shape != (n,):
        raise ValueError(f"{name} must have shape ({n},) (one per seed); got {arr.shape}")
    bad = (arr < 0) | (arr >= size)
    if bad.any():
        i = int(np.argmax(bad))
        raise ValueError(f"{name}[{i}] = {int(arr[i])} is out of range [0, {size})")
    return arr


def _finite(theta, shape_tail: tuple[int, ...], what: str) -> np.ndarray:
    t = real_array(theta, what)
    if t.ndim != 1 + len(shape_tail) or t.shape[1:] != shape_tail:
        want = ", ".join(["N", *map(str, shape_tail)])
        raise ValueError(f"{what} must have shape ({want}) with the seed axis first; "
                         f"got {t.shape}")
    if not np.isfinite(t).all():
        i = tuple(int(j) for j in np.argwhere(~np.isfinite(t))[0])
        raise ValueError(f"{what}[{', '.join(map(str, i))}] = {t[i]} is not finite")
    return t


def _init(n_seeds, tail: tuple[int, ...], init_logits, what: str) -> np.ndarray:
    n = _positive_int(n_seeds, "n_seeds")
    if init_logits is None:
        return np.zeros((n, *tail))
    x = real_array(init_logits, what)
    if x.shape == tail:
        x = np.broadcast_to(x, (n, *tail))
    return _finite(x, tail, what).copy()


# ---- row kernels (shared by the public methods and the learners' hot paths) -------------
# A seed's "row" is its current state's action logits, shape (N, A). Tabular rows are
# addressed flat, θ viewed as (N·S, A) at row n·S + s_n (np.take and one fancy assignment
# are several times faster than θ[n, s]). Linear features are kept transposed, φᵀ[k, s, a],
# and dot products are accumulated over k one feature at a time (a fixed order, no BLAS),
# so a seed's numbers do not depend on how many seeds share the batch.

def tab_rows(theta: np.ndarray, n: np.ndarray, s: np.ndarray):
    """(flat row index n·S + s_n, logits θ[n, s_n] of shape (N, A))."""
    N, S, A = theta.shape
    idx = n * S + s if S > 1 else n
    return idx, np.take(theta.reshape(N * S, A), idx, axis=0)


def score_rows(logits: np.ndarray, n: np.ndarray, a: np.ndarray) -> np.ndarray:
    """e_{a_n} − π(·|s_n), shape (N, A), from row logits."""
    p = softmax(logits)
    np.negative(p, out=p)
    p[n, a] += 1.0
    return p


def natural_rows(logits: np.ndarray, n: np.ndarray, a: np.ndarray) -> np.ndarray:
    """e_{a_n} / π(a_n|s_n), shape (N, A) (1/π as exp(−log π), accurate for tiny π)."""
    row = np.zeros_like(logits)
    row[n, a] = np.exp(-log_softmax(logits)[n, a])
    return row


def lin_rows(phi_t: np.ndarray, theta: np.ndarray, s: np.ndarray):
    """(φᵀ rows (d, N, A) at s_n, logits φ(s_n, ·)·θ[n] of shape (N, A))."""
    rows = phi_t[:, s]
    return rows, _lin_dot_rows(rows, theta)


def _lin_dot_rows(rows: np.ndarray, theta: np.ndarray) -> np.ndarray:
    out = rows[0] * theta[:, 0, None]
    tmp = np.empty_like(out)
    for k in range(1, rows.shape[0]):
        np.multiply(rows[k], theta[:, k, None], out=tmp)
        out += tmp
    return out


def lin_score(rows: np.ndarray, logits: np.ndarray, n: np.ndarray, a: np.ndarray):
    """φ(s_n, a_n) − Σ_b π(b|s_n) φ(s_n, b), shape (N, d), from φᵀ rows (d, N, A)."""
    d, N, A = rows.shape
    p = softmax(logits)
    mean = _row_sum((rows * p).reshape(d * N, A)).reshape(d, N)
    return (rows[:, n, a] - mean).T


def lin_logits(phi_t: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """ℓ[n, s, a] = Σ_k φᵀ[k, s, a] θ[n, k], shape (N, S, A)."""
    out = phi_t[0][None] * theta[:, 0, None, None]
    tmp = np.empty_like(out)
    for k in range(1, phi_t.shape[0]):
        np.multiply(phi_t[k][None], theta[:, k, None, None], out=tmp)
        out += tmp
    return out


class _SoftmaxFamily:
    """What both families share: validated (θ, seed index, s, a) for the per-seed methods."""

    def _args(self, theta, s, a):
        theta = self.check(theta)
        n = np.arange(theta.shape[0])
        return (theta, n, _indices(s, len(n), self.n_states, "s"),
                _indices(a, len(n), self.n_actions, "a"))


@dataclass(frozen=True)
class TabularSoftmax(_SoftmaxFamily):
    """π_θ(a|s) ∝ exp θ[s, a], one table per seed: θ has shape (N, S, A).

    Args:
      n_states: S.  n_actions: A.

    Example:
      >>> pol = TabularSoftmax(n_states=1, n_actions=2)
      >>> theta = pol.init(n_seeds=1, init_logits=[[0.0, np.log(3.0)]])
      >>> pol.probs(theta).round(6).tolist()
      [[[0.25, 0.75]]]
      >>> pol.grad_log_prob(theta, s=0, a=1).round(6).tolist()   # e_{0,1} − π(·|0)
      [[[-0.25, 0.25]]]
    """

    n_states: int
    n_actions: int

    def __post_init__(self):
        _positive_int(self.n_states, "n_states")
        _positive_int(self.n_actions, "n_actions")

    @property
    def param_shape(self) -> tuple[int, int]:
        """θ's shape per seed, (S, A)."""
        return (self.n_states, self.n_actions)

    def init(self, n_seeds: int, init_logits=None) -> np.ndarray:
        """θ for N seeds: zeros (uniform policies), or ``init_logits`` of shape (S, A)
        (shared by every seed) or (N, S, A)."""
        return _init(n_seeds, self.param_shape, init_logits, "init_logits")

    def check(self, theta) -> np.ndarray:
        """θ as float64 of shape (N, S, A) with finite entries, or a ValueError."""
        return _finite(theta, self.param_shape, "theta")

    def logits(self, theta) -> np.ndarray:
        """ℓ[n, s, a] = θ[n, s, a], shape (N, S, A)."""
        return self.check(theta)

    def log_probs(self, theta) -> np.ndarray:
        """log π_θ(a|s) for every (s, a), shape (N, S, A) (computed directly, stable)."""
        return log_softmax(self.check(theta))

    def probs(self, theta) -> np.ndarray:
        """π_θ(a|s) for every (s, a), shape (N, S, A); rows sum to 1."""
        return softmax(self.check(theta))

    def log_prob(self, theta, s, a) -> np.ndarray:
        """log π_θ[n](a_n|s_n) per seed, shape (N,); s, a of shape (N,) or scalars."""
        theta, n, s, a = self._args(theta, s, a)
        return log_softmax(tab_rows(theta, n, s)[1])[n, a]

    def grad_log_prob(self, theta, s, a) -> np.ndarray:
        """∇_θ log π_θ(a|s) per seed, shape (N, S, A): e_{s,a} − π_θ(·|s) on row s."""
        theta, n, s, a = self._args(theta, s, a)
        idx, logits = tab_rows(theta, n, s)
        out = np.zeros_like(theta)
        out.reshape(-1, self.n_actions)[idx] = score_rows(logits, n, a)
        return out

    def natural_grad_log_prob(self, theta, s, a) -> np.ndarray:
        """The score preconditioned by the Fisher matrix of π_θ(·|s), shape (N, S, A):
        e_{s,a} / π_θ(a|s) on row s, 0 elsewhere.

        With F_s = diag π_s − π_s π_sᵀ (the Fisher information of the action distribution
        at s, singular along 1), x = e_a / π(a|s) solves F_s x = e_a − π_s, i.e. it is
        F_s⁻¹ ∇ log π(a|s) up to the null direction 1, which leaves π unchanged. Its
        expectation E_{a∼π(·|s)}[w(s, a) x] = w(s, ·), the natural-gradient (NPG) direction
        of the softmax class (Kakade 2002; Agarwal et al. 2021, NPG for softmax).
        """
        theta, n, s, a = self._args(theta, s, a)
        idx, logits = tab_rows(theta, n, s)
        out = np.zeros_like(theta)
        out.reshape(-1, self.n_actions)[idx] = natural_rows(logits, n, a)
        return out

    def policy_gradient(self, theta, w, rho=None) -> np.ndarray:
        """∇_θ Σ_s ρ(s) Σ_a π_θ(a|s) w(s, a) with w held fixed, shape (N, S, A):

            out[n, s, a] = ρ(s) π(a|s) (w(s, a) − Σ_b π(b|s) w(s, b))
                         = ρ(s) Σ_b π(b|s) w(s, b) ∇ log π(b|s)   (the score identity)

        For a bandit (S = 1) with w = r this is the exact policy gradient (diag π − ππᵀ) r;
        for an MDP with w = Q^π and ρ the discounted state occupancy it is ∇J (the policy
        gradient theorem). w: (S, A) or (N, S, A); rho: (S,) or (N, S), default all ones.
        """
        theta = self.check(theta)
        pi = softmax(theta)
        w = np.broadcast_to(real_array(w, "w"), theta.shape)
        rho = np.ones(theta.shape[:2]) if rho is None else np.broadcast_to(
            real_array(rho, "rho"), theta.shape[:2])
        adv = w - (pi * w).sum(-1, keepdims=True)
        return rho[..., None] * pi * adv


@dataclass(frozen=True, eq=False)
class LinearSoftmax(_SoftmaxFamily):
    """π_θ(a|s) ∝ exp φ(s, a)·θ with features φ of shape (S, A, d) shared across states;
    θ has shape (N, d).

    Args:
      features: φ[s, a, :] ∈ R^d, a finite array of shape (S, A, d) (copied, read-only).

    Example:
      >>> phi = np.array([[[1.0, 0.0], [0.0, 1.0]]])        # S=1, A=2, d=2: one-hot
      >>> pol = LinearSoftmax(phi)
      >>> theta = pol.init(1, init_logits=[0.0, np.log(3.0)])
      >>> pol.probs(theta).round(6).tolist()
      [[[0.25, 0.75]]]
      >>> pol.grad_log_prob(theta, s=0, a=0).round(6).tolist()  # φ(0,0) − Σ π φ
      [[0.75, -0.75]]
    """

    features: np.ndarray
    n_states: int = field(init=False)
    n_actions: int = field(init=False)
    n_features: int = field(init=False)
    phi_t: np.ndarray = field(init=False, repr=False)   # φᵀ[k, s, a], (d, S, A)

    def __post_init__(self):
        phi = real_array(self.features, "features", copy=True)
        if phi.ndim != 3:
            raise ValueError(f"features must have shape (S, A, d) (rank 3); got rank "
                             f"{phi.ndim}, shape {phi.shape}")
        if min(phi.shape) < 1:
            raise ValueError(f"features must have S, A, d >= 1; got shape {phi.shape}")
        if not np.isfinite(phi).all():
            i = tuple(int(j) for j in np.argwhere(~np.isfinite(phi))[0])
            raise ValueError(f"features[{', '.join(map(str, i))}] = {phi[i]} is not finite")
        phi.flags.writeable = False
        object.__setattr__(self, "features", phi)
        for name, v in zip(("n_states", "n_actions", "n_features"), phi.shape, strict=True):
            object.__setattr__(self, name, int(v))
        phi_t = np.ascontiguousarray(np.moveaxis(phi, -1, 0))
        phi_t.flags.writeable = False
        object.__setattr__(self, "phi_t", phi_t)

    def __repr__(self) -> str:
        S, A, d = self.features.shape
        return f"LinearSoftmax(features of shape ({S}, {A}, {d}))"

    @property
    def param_shape(self) -> tuple[int]:
        """θ's shape per seed, (d,)."""
        return (self.n_features,)

    def init(self, n_seeds: int, init_logits=None) -> np.ndarray:
        """θ for N seeds: zeros (uniform policies), or ``init_logits`` — the initial
        *parameters* — of shape (d,) (shared) or (N, d)."""
        return _init(n_seeds, self.param_shape, init_logits, "init_logits")

    def check(self, theta) -> np.ndarray:
        """θ as float64 of shape (N, d) with finite entries, or a ValueError."""
        return _finite(theta, self.param_shape, "theta")

    def logits(self, theta) -> np.ndarray:
        """ℓ[n, s, a] = Σ_k φ[s, a, k] θ[n, k], shape (N, S, A).

        Accumulated over k = 0, 1, … in order (no BLAS), so a seed's logits do not depend
        on N.
        """
        return lin_logits(self.phi_t, self.check(theta))

    def log_probs(self, theta) -> np.ndarray:
        """log π_θ(a|s) for every (s, a), shape (N, S, A)."""
        return log_softmax(self.logits(theta))

    def probs(self, theta) -> np.ndarray:
        """π_θ(a|s) for every (s, a), shape (N, S, A)."""
        return softmax(self.logits(theta))

    def log_prob(self, theta, s, a) -> np.ndarray:
        """log π_θ[n](a_n|s_n) per seed, shape (N,)."""
        theta, n, s, a = self._args(theta, s, a)
        return log_softmax(lin_rows(self.phi_t, theta, s)[1])[n, a]

    def grad_log_prob(self, theta, s, a) -> np.ndarray:
        """∇_θ log π_θ(a|s) per seed, shape (N, d): φ(s, a) − Σ_b π_θ(b|s) φ(s, b)."""
        theta, n, s, a = self._args(theta, s, a)
        rows, logits = lin_rows(self.phi_t, theta, s)
        return lin_score(rows, logits, n, a)

    def policy_gradient(self, theta, w, rho=None) -> np.ndarray:
        """∇_θ Σ_s ρ(s) Σ_a π_θ(a|s) w(s, a) with w fixed, shape (N, d):

            Σ_s ρ(s) Σ_a π(a|s) (w(s, a) − Σ_b π(b|s) w(s, b)) φ(s, a).

        w: (S, A) or (N, S, A); rho: (S,) or (N, S), default all ones.
        """
        pi = self.probs(theta)
        w = np.broadcast_to(real_array(w, "w"), pi.shape)
        rho = np.ones(pi.shape[:2]) if rho is None else np.broadcast_to(
            real_array(rho, "rho"), pi.shape[:2])
        c = rho[..., None] * pi * (w - (pi * w).sum(-1, keepdims=True))   # (N, S, A)
        return (c[..., None] * self.features[None]).sum((1, 2))
