"""The best meta-objective the memoryless learner's class can reach (issue 16, item 2).

MAML's class is {θ_0 ∈ ℝᴷ} at a fixed step size η; Meta-SGD's is {(θ_0, η) : η ∈ ℝᴷ, η > 0}.
With J(θ_0, η) the exact meta-objective (:func:`~.maml.maml_objective`, the Bayes-expected
total reward of an H-pull episode), the class value is

    J_class = sup_{θ_0} J(θ_0, η)            (MAML)
    J_class = sup_{θ_0, η > 0} J(θ_0, η)     (Meta-SGD),

and a meta-trained learner's *class gap* is J_class − J(trained). It is bracketed by

    0 ≤ J_class − J(trained) ≤ V* − J(trained) = bayes_gap,

since every member of the class is a history-dependent policy of the Bayes-adaptive bandit
(J ≤ V*, :func:`~.maml.bayes_value`).

Reductions (exact, no loss of generality). J(θ_0 + c·1, η) = J(θ_0, η) (softmax), so θ_0,K = 0
is fixed and the search runs over u = (θ_0,k − θ_0,K)_{k<K}. For K = 2, J depends on η only
through η_1 + η_2 (:mod:`.maml`, "Invariances"), so Meta-SGD searches a scalar η (both arms
equal) there; for K ≥ 3 it searches per-arm η. The reported (θ_0, η) are these canonical
representatives of the (set-valued) argmax.

The search. Multi-start L-BFGS-B (R. H. Byrd, P. Lu, J. Nocedal, C. Zhu, "A limited memory
algorithm for bound constrained optimization", SIAM J. Sci. Comput. 16, 1995; scipy) on −J
with the exact gradient (:func:`~.maml.maml_value_gradient`; ∂J/∂ρ = η ⊙ ∂J/∂η for ρ = log η)
over the box

    |u_k| ≤ B (``bound``),   ρ = log η ∈ [ρ_lo, ρ_hi] (``log_eta``, Meta-SGD only),

from a deterministic start (u = 0, η = ``eta``) and ``n_starts`` − 1 starts drawn from
``seed`` (u ∼ U[−3, 3], ρ ∼ U[log 0.1, log 10] ∩ [ρ_lo, ρ_hi]: far out J saturates and its
gradient vanishes, so starts there do not move), in three phases:

1. every start runs to a projected ‖∇J‖∞ ≤ max(``grad_tol``, :data:`COARSE_TOL`);
2. the saturation probe: at the best end point, each coordinate is moved to the bound its
   gradient points to (both bounds when |∂J| ≤ ``grad_tol``), and the move is kept when J
   there is ≥ J − :data:`ROUNDING`·H. J that rises towards a limit at infinity (e.g.
   η → ∞) has a vanishing gradient, and without the probe such a point would pass for an
   interior stationary point;
3. the point is polished to ‖∇J‖∞ ≤ ``grad_tol``/10 (L-BFGS-B, bounds kept).

``value`` uses the best J *evaluated* anywhere, so it is at least J at every start.

Suprema at infinity. J is continuous but the class is not compact:

* θ_0,k − θ_0,j → +∞ for every j ≠ k, at any η in a bounded set: the learner pulls arm k at
  every step with probability → 1 (each step moves θ_t,k − θ_t,j by at most (η_k + η_j)·
  max(|1 − b|, |b|)), so J → H·E[p_k] ("always pull arm k"; the prior mean E[p_k] =
  :func:`~.belief.predictive` at zero counts). This closed form is evaluated for every k.
  For K = 2 and MAML it controls everything outside the box: with δ = θ_0,1 − θ_0,2, |δ| > B,
  η̄ = η_1 + η_2 and c = max(b, 0), pulling the favoured arm moves |δ| towards 0 by at most
  η̄·c per step, so (coupling with the always-k agent; a deviation costs at most H)

      |J(δ) − H·E[p_k]| ≤ tail = H · Σ_{t<H} min(1, σ(−(B − t·η̄·c)))   (σ the logistic),

  e.g. H²·σ(−B) ≈ 6e-12 at H = 8, B = 30, b = 0.
* η → 0 (Meta-SGD): the learner stops learning, J → H·Σ_k π_0,k E[p_k] ≤ maxₖ H·E[p_k], a
  limit already dominated by the one above.
* η → ∞ (Meta-SGD, b = 0): the first success on arm a sends θ_a − θ_j → +∞: "sample
  softmax(θ_0) until the first success, then stay". At ρ_hi = 7 (η ≈ 1097) the jump after
  a success is η̄·π_other ≳ 22 unless π_other(θ_0) < 1%, so the box boundary ρ = ρ_hi
  evaluates this limit to within float rounding except when θ_0 nearly commits already; it
  is reported as ``where = "boundary"`` (a lower bound), never as the supremum.
* Faces θ_0,j → −∞ for j outside a subset S (K ≥ 3, 2 ≤ |S| < K) are the learner on the
  sub-bandit S; they are approached by the box boundary only.

Every number reported is J at a point or a limit of J along a path, so ``value`` ≤ J_class
always, and J_class ≤ V* = ``bayes``. ``where`` says what is known beyond that:
``"interior"`` (the best is a box point strictly inside, ‖∇J‖∞ ≤ ``grad_tol``: a stationary
point, the supremum if the multi-start found the global maximum — J is not concave, so that
is not certified; a saturated approach to infinity can also have a vanishing gradient),
``"limit"`` (the closed-form H·E[p_k] exceeds every box value found), ``"boundary"`` (a KKT
point on the box face: the supremum may lie beyond, ``value`` is a lower bound) or
``"not stationary"`` (L-BFGS-B stopped, e.g. at its iteration cap, above the tolerance).
"""

from __future__ import annotations

from numbers import Integral, Real
from typing import NamedTuple

import numpy as np
from scipy import optimize

from .belief import predictive, task_prior
from .maml import GRAD_TOL, MAX_SEQUENCES, bayes_value, maml_value_gradient
from .memoryless import check_baseline, check_theta_eta
from .rollouts import check_int

__all__ = ["ClassBest", "CLASS_BOUND", "CLASS_LOG_ETA", "memoryless_class_best"]

#: Default box half-width B on u = θ_0,k − θ_0,K (policy odds up to e^30 ≈ 1e13).
CLASS_BOUND = 30.0
#: Default box on ρ = log η for Meta-SGD: η ∈ [e^−7, e^7] ≈ [9.1e-4, 1097].
CLASS_LOG_ETA = (-7.0, 7.0)
#: L-BFGS-B puts an active coordinate exactly on its bound; within this it counts as on it.
_ON_BOUND = 1e-9
#: J is a sum of (2K)ᴴ terms of size ≤ H in float64: differences below ROUNDING · H are
#: rounding. The saturation probe moves the best point to a bound when J there is at least
#: J(best) − ROUNDING · H (J rises towards a limit at infinity with a vanishing gradient).
ROUNDING = 1e-12
#: Each start runs to a projected ‖∇J‖∞ ≤ max(grad_tol, COARSE_TOL); the best is then polished
#: to grad_tol.
COARSE_TOL = 1e-4


class ClassBest(NamedTuple):
    """The best J found for the memoryless learner's class (module docstring).

    Attributes:
      value: max(box_value, limit_value), a lower bound on the class supremum J_class.
      bayes: V*, an upper bound on J_class.
      where: "interior", "boundary", "limit" or "not stationary" (module docstring).
      note: ``where`` in words, with the numbers.
      theta0: (K,) the best box point's θ_0 (θ_0,K = 0); eta: (K,) its η (MAML: the fixed η;
        Meta-SGD, K = 2: both arms equal, the scalar representative of η_1 + η_2).
      box_value: J there (exact); grad: ‖∇J‖∞ there in the search coordinates (u, ρ);
        proj_grad: the same projected on the box (0 for a coordinate at a bound whose
        gradient points out).
      limit_value: maxₖ H·E[p_k]; limit_arms: the arms attaining it (a tuple: ties listed).
      tail: MAML with K = 2: every J outside the box is within ``tail`` of the always-pull
        value of its favoured arm; NaN otherwise.
      box: the search box in words; n_starts, seed: the starts.
    """

    value: float
    bayes: float
    where: str
    note: str
    theta0: np.ndarray
    eta: np.ndarray
    box_value: float
    grad: float
    proj_grad: float
    limit_value: float
    limit_arms: tuple
    tail: float
    box: str
    n_starts: int
    seed: int


def _real(x, name: str) -> float:
    if isinstance(x, bool) or not isinstance(x, Real) or not np.isfinite(x):
        raise ValueError(f"{name} must be a finite real number; got {x!r}")
    return float(x)


def _seed(seed) -> int:
    if isinstance(seed, np.random.SeedSequence):
        return int(seed.generate_state(1, dtype=np.uint32)[0])
    if isinstance(seed, Integral) and not isinstance(seed, bool) and seed >= 0:
        return int(seed)
    raise ValueError(f"seed must be a non-negative int or a SeedSequence; got {seed!r}")


_CACHE: dict = {}


def memoryless_class_best(tasks, horizon: int, *, meta_sgd: bool = False, eta=1.0,
                          baseline=0.0, bound: float = CLASS_BOUND,
                          log_eta=CLASS_LOG_ETA, n_starts: int = 3, seed=0,
                          grad_tol: float = GRAD_TOL, max_iter: int = 50,
                          cache: bool = True) -> ClassBest:
    """The best exact meta-objective of the MAML (η = ``eta`` fixed) or Meta-SGD class.

    Multi-start L-BFGS-B on the exact J over a stated box, plus the closed-form limits at
    infinity (module docstring). Deterministic given ``seed``; results are cached.

    Args:
      tasks: BetaTasks or DependentTasks; horizon: H ≥ 1 with (2K)ᴴ ≤ MAX_SEQUENCES.
      meta_sgd: search η too (else η = ``eta`` is fixed); eta: scalar or (K,) — MAML's step
        size, or Meta-SGD's first start (> 0; clipped into the box).
      baseline: the learner's b. bound: B > 0; log_eta: (ρ_lo, ρ_hi), ρ_lo < ρ_hi.
      n_starts: ≥ 1 starts (the first deterministic); seed: int ≥ 0 or SeedSequence.
      grad_tol: > 0, the stationarity tolerance on ‖∇J‖∞; max_iter: ≥ 1 L-BFGS-B iterations
        per start. cache: reuse (and store) the result for the same arguments (at most 64
        kept); False recomputes.

    Returns:
      :class:`ClassBest`; ``value`` ≤ J_class ≤ ``bayes``.

    Example (K = 2 uniform arms, H = 1: J = Σₖ π_0,k/2 = 1/2 for every θ_0):
      >>> from mesabase.sims.meta.tasks import BetaTasks
      >>> memoryless_class_best(BetaTasks(2), 1).value
      0.5
    """
    task_prior(tasks)
    K = tasks.n_arms
    H = check_int(horizon, "horizon", 1)
    b = check_baseline(baseline)
    _, et = check_theta_eta(np.zeros(K), eta)
    if et.shape != (K,):
        raise ValueError(f"eta must be a scalar or have length n_arms = {K}; got {eta!r}")
    if not isinstance(meta_sgd, bool):
        raise ValueError(f"meta_sgd must be a bool; got {meta_sgd!r}")
    B = _real(bound, "bound")
    if B <= 0:
        raise ValueError(f"bound must be > 0; got {bound!r}")
    if isinstance(log_eta, (str, bytes)) or np.ndim(log_eta) != 1 or len(log_eta) != 2:
        raise ValueError(f"log_eta must be a pair (lo, hi); got {log_eta!r}")
    lo, hi = (_real(v, "log_eta") for v in log_eta)
    if not lo < hi:
        raise ValueError(f"log_eta must have lo < hi; got {log_eta!r}")
    n_starts = check_int(n_starts, "n_starts", 1)
    max_iter = check_int(max_iter, "max_iter", 1)
    tol = _real(grad_tol, "grad_tol")
    if tol <= 0:
        raise ValueError(f"grad_tol must be > 0; got {grad_tol!r}")
    if meta_sgd and (et <= 0).any():
        raise ValueError(f"meta_sgd needs eta > 0; got eta = {et.tolist()}")
    if (2 * K) ** H > MAX_SEQUENCES:
        raise ValueError(f"the class best needs the exact J: (2K)^H = {(2 * K) ** H} outcome "
                         f"sequences, above MAX_SEQUENCES = {MAX_SEQUENCES}")
    sd = _seed(seed)
    key = (tasks.key, H, meta_sgd, tuple(et.tolist()), b, B, lo, hi, n_starts, sd, tol,
           max_iter)
    if not isinstance(cache, bool):
        raise ValueError(f"cache must be a bool; got {cache!r}")
    if not cache or key not in _CACHE:
        if len(_CACHE) >= 64:
            _CACHE.clear()
        _CACHE[key] = _search(tasks, H, meta_sgd, et, b, B, lo, hi, n_starts, sd, tol,
                              max_iter)
    r = _CACHE[key]
    return r._replace(theta0=r.theta0.copy(), eta=r.eta.copy())


def _search(tasks, H, meta_sgd, et, b, B, lo, hi, n_starts, seed, tol, max_iter):
    K = tasks.n_arms
    mu0 = predictive(tasks, np.zeros((K, 2)))
    limits = H * mu0
    limit_value = float(limits.max())
    arms = tuple(int(k) for k in np.flatnonzero(limits == limits.max()))
    V = bayes_value(tasks, H)
    m = (1 if K == 2 else K) if meta_sgd and K > 1 else 0   # K = 1: η has no effect
    box = (f"|θ_0,k − θ_0,{K}| ≤ {B:g}" if K > 1 else "θ_0 ∈ ℝ (K = 1: J is constant)") \
        + (f", log η ∈ [{lo:g}, {hi:g}]" + (" (η_1 = η_2: J depends on η_1 + η_2)"
                                             if K == 2 else "") if meta_sgd else "")
    tail = float("nan")
    if K == 2 and not meta_sgd:
        drift = et.sum() * max(b, 0.0)
        tail = float(H * sum(min(1.0, 1.0 / (1.0 + np.exp(min(B - t * drift, 700.0))))
                             for t in range(H)))

    def decode(x):
        th = np.append(x[:K - 1], 0.0)
        return th, (np.exp(np.broadcast_to(x[K - 1:], (K,))) if m else et)

    top = {"J": -np.inf}                            # the best J evaluated anywhere

    def value_grad(x):
        """(J, ∇J in the search coordinates x = (u, ρ)); records the best J seen."""
        th, eta = decode(x)
        J, g_th, g_eta = maml_value_gradient(th, eta, tasks, H, baseline=b)
        g = g_th[:K - 1]
        if m:  # ∂J/∂ρ = η ⊙ ∂J/∂η; one scalar ρ for K = 2
            g = np.concatenate([g, [float(eta[0] * g_eta.sum())] if K == 2 else eta * g_eta])
        if J > top["J"]:
            top.update(J=J, x=x.copy())
        return J, g

    def neg(x):
        J, g = value_grad(x)
        return -J, -g

    def ascend(x0, gtol, ftol):
        x = optimize.minimize(neg, x0, jac=True, method="L-BFGS-B", bounds=bounds,
                              options={"maxiter": max_iter, "gtol": gtol, "ftol": ftol}).x
        return x, *value_grad(x)

    bounds = [(-B, B)] * (K - 1) + [(lo, hi)] * m
    lo_b, hi_b = np.array([v[0] for v in bounds]), np.array([v[1] for v in bounds])
    rng = np.random.default_rng(seed)
    rho0 = np.log(et.mean() if K == 2 else et) if m else np.zeros(0)
    starts = [np.concatenate([np.zeros(K - 1), np.clip(np.broadcast_to(rho0, (m,)), lo, hi)])]
    for _ in range(n_starts - 1):
        u = rng.uniform(-3.0, 3.0, K - 1)
        rho = rng.uniform(max(lo, np.log(0.1)), min(hi, np.log(10.0)), m) if m else []
        starts.append(np.concatenate([u, rho]))
    if not bounds:                                  # K = 1: J ≡ H·E[p_1]
        x = starts[0]
        Jx, g = value_grad(x)
    else:
        # 1. every start, coarsely; 2. the saturation probe at the best; 3. polish it.
        runs = [ascend(x0, max(tol, COARSE_TOL), 1e-15) for x0 in starts]
        x, Jx, g = max(runs, key=lambda r: r[1])
        for i in range(len(bounds)):
            sides = [hi_b] if g[i] > tol else [lo_b] if g[i] < -tol else [lo_b, hi_b]
            for side in sides:
                y = np.where(np.arange(len(bounds)) == i, side, x)
                if y[i] != x[i]:
                    Jy, gy = value_grad(y)
                    if Jy >= Jx - ROUNDING * H:
                        x, Jx, g = y, Jy, gy
                        break
        y, Jy, gy = ascend(x, tol / 10, 0.0)
        if Jy >= Jx - ROUNDING * H:
            x, Jx, g = y, Jy, gy
    th, eta = decode(x)
    at_lo, at_hi = x - lo_b <= _ON_BOUND, hi_b - x <= _ON_BOUND
    # KKT on a box for a maximum: at a lower bound ∂J ≤ 0 is allowed, at an upper ∂J ≥ 0
    proj = np.where(at_lo, np.maximum(g, 0.0), np.where(at_hi, np.minimum(g, 0.0), g))
    gnorm = float(np.abs(g).max()) if g.size else 0.0
    pnorm = float(np.abs(proj).max()) if proj.size else 0.0
    box_value = float(top["J"])
    names = [f"θ_0,{k + 1} − θ_0,{K}" for k in range(K - 1)] \
        + (["log η"] if m == 1 else [f"log η_{k + 1}" for k in range(m)])
    if limit_value > box_value:
        where = "limit"
        note = (f"the limit always pull arm {' or '.join(str(k + 1) for k in arms)} "
                f"(θ_0 → ∞ towards it), H·E[p] = {limit_value:.10g} > the best box value "
                f"{box_value:.10g}")
        if np.isfinite(tail):
            note += f"; outside the box J is within {tail:.1e} of an always-pull value"
    elif pnorm > tol:
        where = "not stationary"
        note = (f"the search stopped with projected ‖∇J‖∞ = {pnorm:.1e} > {tol:g}: "
                f"J = {box_value:.10g} is a lower bound")
    elif (at_lo | at_hi).any():
        where = "boundary"
        on = ", ".join(f"{n} = {v:g}" for n, v, a in zip(names, x, at_lo | at_hi, strict=True)
                       if a)
        note = (f"on the box boundary ({on}): the supremum may lie beyond, "
                f"J = {box_value:.10g} is a lower bound")
    else:
        where = "interior"
        note = (f"interior stationary point (‖∇J‖∞ = {gnorm:.1e} ≤ {tol:g}), J = "
                f"{box_value:.10g}; the supremum if the {n_starts}-start search found the "
                f"global maximum (not certified: J is not concave)")
    return ClassBest(max(box_value, limit_value), V, where, note, th, np.array(eta, float),
                     float(Jx), gnorm, pnorm, limit_value, arms, tail, box, n_starts, seed)
