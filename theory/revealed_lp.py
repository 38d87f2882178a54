"""The convex programs over a revealed-reward cone {Φ w : D w ≥ 0} (:mod:`.revealed`), in cvxpy.

* :func:`max_margin_program` — Ng & Russell's (2000) LP, Section 3, eq. (4), for any basis
  and ε-support:  max Σ_{t,s} min_{a' ∉ supp(s)} margin(t, s, a, a') − λ ‖w‖₁  s.t.
  D w ≥ 0, |Φ w| ≤ R_max. The inner min is the usual epigraph: z_{t,s} ≤ margin for
  every strict pair of (t, s), maximise Σ z.
* :func:`distance_program` — min ‖Φ w − R‖ s.t. D w ≥ 0 (ℓ1, ℓ∞: LPs; ℓ2: an SOCP).
* :func:`strict_program` — max Σ_strict D w s.t. D w ≥ 0, D_strict w ≤ 1: positive iff
  some reward in the set makes a support action strictly better than another action.

Solvers (cvxpy). Each program is tried with the solvers of a fallback chain, in order,
until one returns an optimal (or optimal-inaccurate) status: :data:`LP_SOLVERS` for the
LPs — HiGHS (vertex solutions; primal and dual feasibility tolerances 1e-10,
:data:`~mesabase.theory.solvers.lp.HIGHS_OPTIONS`), HiGHS again without matrix scaling (the
retry :mod:`.solvers.lp` uses on badly scaled data), Clarabel (interior point, tolerances
1e-9), SCS (first order, 1e-7) — and :data:`CONE_SOLVERS` for the ℓ2 program (Clarabel,
then SCS). Solvers that are not installed are skipped. A solver that raises (HiGHS fails
outright on some of the range LPs of Ng & Russell's gridworld at γ = 0.3) or returns
another status hands over to the next; when every one fails, :class:`SolverFailed` names
the program and each solver's failure. Every result says which solver produced it
(``solver``), and every reward returned is re-checked by a direct policy evaluation:
``min_margin`` is its smallest margin as computed from R (it may be below 0 by the
solver's feasibility tolerance, never by more, in the tests). Interior-point and SCS
answers are not vertices: where the optimum is not unique they may lie inside the
optimal face (the ``ranges`` of :func:`max_margin_program` say how wide it is).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from .solvers.lp import HIGHS_OPTIONS, quiet_highs

__all__ = ["MaxMargin", "Nearest", "max_margin_program", "distance_program",
           "strict_program", "NORMS", "SolverFailed", "LP_SOLVERS", "CONE_SOLVERS"]

#: The norms of :func:`distance_program`.
NORMS = ("l1", "linf", "l2")

#: The LP fallback chain (module docstring): (label, cvxpy solver name, options), in order.
LP_SOLVERS = (
    ("HIGHS", "HIGHS", HIGHS_OPTIONS),
    ("HIGHS-unscaled", "HIGHS", {**HIGHS_OPTIONS, "simplex_scale_strategy": 0}),
    ("CLARABEL", "CLARABEL", dict(tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9,
                                  max_iter=500)),
    ("SCS", "SCS", dict(eps_abs=1e-7, eps_rel=1e-7, max_iters=50_000)),
)
#: The fallback chain of the ℓ2 distance (a second-order cone program).
CONE_SOLVERS = (("CLARABEL", "CLARABEL", {}),
                ("SCS", "SCS", dict(eps_abs=1e-7, eps_rel=1e-7, max_iters=50_000)))


class SolverFailed(RuntimeError):
    """Every solver of a fallback chain failed on one of this module's programs (the
    message names the program and each solver's failure)."""


@dataclass(frozen=True)
class MaxMargin:
    """The solution of Ng & Russell's LP (:func:`max_margin_program`).

    ``weights`` (k,) and ``reward`` (S, A) = Φ w: one optimal solution (HiGHS's vertex);
    ``objective`` = Σ z − λ‖w‖₁ at it, ``margin_sum`` = Σ z, ``l1_norm`` = ‖w‖₁;
    ``min_margin``: the smallest margin of ``reward`` recomputed by policy evaluation;
    ``ranges``: None, or (lo, hi), each (S, A): the range of R[s, a] over the optimal face
    {w feasible : objective(w) ≥ opt − ``face_tol``}; lo = hi where the optimum is unique.
    ``l1`` and ``r_max`` are the arguments; ``solver``: the solvers that produced the
    answer (the main LP's first, then any other a range LP needed), comma-separated."""

    weights: np.ndarray
    reward: np.ndarray
    objective: float
    margin_sum: float
    l1_norm: float
    min_margin: float
    ranges: tuple[np.ndarray, np.ndarray] | None
    face_tol: float
    l1: float
    r_max: float
    solver: str = ""


@dataclass(frozen=True)
class Nearest:
    """The nearest reward of the set (:func:`distance_program`): ``value`` = ‖R' − R‖ in
    ``norm`` (recomputed from the returned R' over the allowed entries), ``reward`` R'
    (S, A), ``weights`` w with R' = Φ w, and ``min_margin``, the smallest margin of R'
    recomputed by policy evaluation (≥ −1e-7 up to the solver's tolerance). value = 0
    and R' = R exactly when R's computed margins are all ≥ 0 and R lies in span Φ (then
    ``solver`` is "none": no program is solved; else the solver that answered)."""

    value: float
    reward: np.ndarray
    weights: np.ndarray
    norm: str
    min_margin: float
    solver: str = ""


def _cp():
    import cvxpy as cp

    return cp


_INSTALLED: list[frozenset] = []  # cvxpy's installed_solvers() costs ~10 ms a call: once


def _solve(prob, chain, program: str) -> str:
    """Solve ``prob`` with the first solver of ``chain`` (:data:`LP_SOLVERS` or
    :data:`CONE_SOLVERS`) that returns an optimal status; returns its label. An
    optimal-inaccurate answer is taken only when no solver of the chain is optimal (it is
    then re-solved, labelled "<label> (inaccurate)"). Raises :class:`SolverFailed` naming
    ``program`` when every one fails."""
    cp = _cp()
    if not _INSTALLED:
        _INSTALLED.append(frozenset(cp.installed_solvers()))
    failures, inaccurate = [], None
    for entry in chain:
        label, solver, opts = entry
        if solver not in _INSTALLED[0]:
            failures.append(f"{label}: not installed")
            continue
        if solver == "HIGHS":
            quiet_highs()
        try:
            with warnings.catch_warnings():  # cvxpy warns of an inaccurate answer: judged here
                warnings.simplefilter("ignore", UserWarning)
                prob.solve(solver=solver, **opts)
        except (cp.error.SolverError, ValueError) as e:  # ValueError: a refused option
            failures.append(f"{label}: {type(e).__name__}: {e}")
            continue
        finite = prob.value is not None and np.isfinite(prob.value)
        if prob.status == cp.OPTIMAL and finite:
            return label
        if prob.status == cp.OPTIMAL_INACCURATE and finite and inaccurate is None:
            inaccurate = entry
        failures.append(f"{label}: status {prob.status!r}")
    if inaccurate is not None:
        label, solver, opts = inaccurate
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            prob.solve(solver=solver, **opts)
        if prob.status in (cp.OPTIMAL, cp.OPTIMAL_INACCURATE):
            return label + (" (inaccurate)" if prob.status == cp.OPTIMAL_INACCURATE else "")
    raise SolverFailed(f"every solver failed on the {program}: " + "; ".join(failures))


def _allowed_basis(rs) -> np.ndarray:
    """Φ restricted to the allowed (s, a) rows: (n_allowed, k)."""
    return rs.basis.reshape(-1, rs.n_weights)[rs.mdp.allowed.reshape(-1)]


def _groups(rs) -> tuple[sp.csr_array, int]:
    """E (n_strict, n_groups): strict pair j belongs to the state-step group (t, s)."""
    ts = rs.pairs[rs.strict][:, :2]
    if not ts.shape[0]:
        return sp.csr_array((0, 0)), 0
    _, g = np.unique(ts, axis=0, return_inverse=True)
    g = g.reshape(-1)
    n = int(g.max()) + 1
    E = sp.csr_array((np.ones(g.size), (np.arange(g.size), g)), shape=(g.size, n))
    return E, n


def max_margin_program(rs, l1: float, r_max: float, ranges: bool,
                       rel_tol: float) -> MaxMargin:
    """Ng & Russell's LP over ``rs`` (:meth:`~mesabase.theory.RevealedSet.max_margin`).

    Variables w (k,) and z (one per (t, s) with a strict pair)::

        max  Σ z − λ ‖w‖₁
        s.t. z_{t,s} ≤ D_j w   for each strict pair j = (t, s, a, a'),
             D w ≥ 0,   −R_max ≤ Φ w ≤ R_max (allowed entries).

    Ranges: for every distinct row φ of Φ, min and max φᵀw subject to the same
    constraints and Σ z − λ‖w‖₁ ≥ opt − rel_tol·(1 + |opt|) (2 LPs per distinct row).
    """
    if not (np.isfinite(l1) and l1 >= 0):
        raise ValueError(f"l1 must be a finite number >= 0; got {l1}")
    if not (np.isfinite(r_max) and r_max > 0):
        raise ValueError(f"r_max must be a finite number > 0; got {r_max}")
    if not (np.isfinite(rel_tol) and rel_tol >= 0):
        raise ValueError(f"rel_tol must be a finite number >= 0; got {rel_tol}")
    cp = _cp()
    k = rs.n_weights
    Phi = _allowed_basis(rs)
    E, n = _groups(rs)
    w = cp.Variable(k)
    cons = [Phi @ w <= r_max, Phi @ w >= -r_max]
    if rs.D.shape[0]:
        cons.append(rs.D @ w >= 0)
    margin = 0.0
    if n:
        z = cp.Variable(n)
        cons.append(rs.D[rs.strict] @ w - E @ z >= 0)
        margin = cp.sum(z)
    objective = margin - l1 * cp.norm1(w)
    prob = cp.Problem(cp.Maximize(objective), cons)
    used = [_solve(prob, LP_SOLVERS, "max-margin LP (Ng & Russell)")]
    wv = np.asarray(w.value, dtype=np.float64)
    opt = float(prob.value)
    R = rs.reward(wv)
    msum = float(margin.value) if n else 0.0
    rng = None
    face_tol = rel_tol * (1.0 + abs(opt))
    if ranges:
        rows, inverse = np.unique(Phi, axis=0, return_inverse=True)
        c = cp.Parameter(k)
        face = cons + [objective >= opt - face_tol]
        lo_r, hi_r = np.empty(rows.shape[0]), np.empty(rows.shape[0])
        for sign, out in ((1.0, hi_r), (-1.0, lo_r)):
            p = cp.Problem(cp.Maximize(c @ w), face)
            for i, row in enumerate(rows):
                c.value = sign * row
                used.append(_solve(p, LP_SOLVERS, "max-margin range LP (a reward entry's "
                                   "range over the optimal face)"))
                out[i] = sign * float(p.value)
        S, A = rs.mdp.n_states, rs.mdp.n_actions
        lo, hi = np.zeros(S * A), np.zeros(S * A)
        idx = np.flatnonzero(rs.mdp.allowed.reshape(-1))
        lo[idx], hi[idx] = lo_r[inverse.reshape(-1)], hi_r[inverse.reshape(-1)]
        rng = (lo.reshape(S, A), hi.reshape(S, A))
    mm = rs.margins(R)
    return MaxMargin(weights=wv, reward=R, objective=opt, margin_sum=msum,
                     l1_norm=float(np.abs(wv).sum()),
                     min_margin=float(mm.min()) if mm.size else float("inf"),
                     ranges=rng, face_tol=face_tol, l1=l1, r_max=r_max,
                     solver=", ".join(dict.fromkeys(used)))


def _norm(x: np.ndarray, norm: str) -> float:
    return float({"l1": np.abs(x).sum, "linf": lambda: np.abs(x).max(initial=0.0),
                  "l2": lambda: np.sqrt((x * x).sum())}[norm]())


def distance_program(rs, r: np.ndarray, norm: str) -> Nearest:
    """min_w ‖Φ w − R‖ s.t. D w ≥ 0, over the allowed entries (ℓ1, ℓ∞ or ℓ2).

    The set is a closed cone, so the minimum is attained; for ℓ2 the nearest R' is
    unique (a projection onto a convex set), for ℓ1 and ℓ∞ it may not be (one minimiser
    is returned; ``value`` is the same for all)."""
    if norm not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}; got {norm!r}")
    keep = rs.mdp.allowed.reshape(-1)
    w0, resid = rs.weights_of(r)
    m0 = rs.margins(r)
    if resid == 0.0 and (not m0.size or m0.min() >= 0.0):
        return Nearest(value=0.0, reward=r.copy(), weights=w0, norm=norm,
                       min_margin=float(m0.min()) if m0.size else float("inf"), solver="none")
    cp = _cp()
    w = cp.Variable(rs.n_weights)
    diff = _allowed_basis(rs) @ w - r.reshape(-1)[keep]
    cons = [rs.D @ w >= 0] if rs.D.shape[0] else []
    if norm == "linf":  # epigraph (cvxpy's norm_inf bound propagation warns on 0·inf)
        obj = cp.Variable()
        cons += [diff <= obj, diff >= -obj]
    else:
        obj = (cp.norm1 if norm == "l1" else cp.norm2)(diff)
    prob = cp.Problem(cp.Minimize(obj), cons)
    solver = _solve(prob, CONE_SOLVERS if norm == "l2" else LP_SOLVERS,
                    f"nearest-reward program ({norm} distance)")
    wv = np.asarray(w.value, dtype=np.float64)
    R2 = rs.reward(wv)
    mm = rs.margins(R2)
    return Nearest(value=_norm((R2 - r).reshape(-1)[keep], norm), reward=R2, weights=wv,
                   norm=norm, min_margin=float(mm.min()) if mm.size else float("inf"),
                   solver=solver)


def strict_program(rs) -> tuple[float, np.ndarray | None]:
    """(value, R) of  max Σ_strict D w  s.t.  D w ≥ 0,  D_strict w ≤ 1; (0.0, None) when no
    pair is strict. value > 0 iff the set holds a non-degenerate reward (R witnesses it)."""
    if not rs.strict.any():
        return 0.0, None
    cp = _cp()
    w = cp.Variable(rs.n_weights)
    Ds = rs.D[rs.strict]
    prob = cp.Problem(cp.Maximize(cp.sum(Ds @ w)), [rs.D @ w >= 0, Ds @ w <= 1])
    _solve(prob, LP_SOLVERS, "strict-margin LP (triviality)")
    wv = np.asarray(w.value, dtype=np.float64)
    return float(prob.value), rs.reward(wv)
