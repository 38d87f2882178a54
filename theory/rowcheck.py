"""One pass over the rows of P: their sums and the smallest entry, optionally copying; and
the registry of the P arrays that TabularMDPs own (:func:`keep`, :func:`ours`).

Validating a dense P (rows on the simplex) needs the S·A row sums and min P; a naive
numpy check reads P twice (``P.sum(axis=-1)``, then ``P.min()``), and keeping a private
copy reads it a third time. For P beyond the caches (S = 2000, A = 16 is 512 MiB) every
read costs as much as a Bellman pass, so :func:`row_sums_min` does all of it in one pass:

* with numba installed (the ``fast`` extra), one compiled loop reads each row once,
  writing the copy (if asked) and accumulating the row sum and the minimum as it goes;
* without numba, blocks of rows small enough to stay in the L2 cache are copied and then
  summed and minimised while they are cache-resident (one pass over main memory).

Measured on the benchmark machine (2-core EPYC, S = 2000, A = 16, float64): two numpy
passes 37 ms, blocks 29 ms, compiled 18 ms (one read at ≈ 28 GB/s); with a copy,
``np.array`` and then the two passes 113–118 ms, blocks 81 ms, compiled 83 ms (fresh memory
must be faulted in: 60 ms of the copy is the kernel zeroing 512 MiB of new pages). Below
:data:`FUSED_SIZE` entries the plain numpy
calls are used (no import of numba for small models).

The sums are exactly numpy's in the sense that matters: each is a floating-point sum of
the row, within γ_n Σ|p| of the exact sum in any order (Higham 2002, §3.1), which is all
the validation tolerance and the certificate's row-sum bounds assume.
"""

from __future__ import annotations

import os
import weakref

import numpy as np

__all__ = ["row_sums_min", "FUSED_SIZE", "keep", "ours", "max_reward", "sum_stats"]

#: P with at least this many entries is checked (and copied) in one fused pass.
FUSED_SIZE = 1 << 15
#: Bytes per block of rows in the numpy fallback (well inside a 512 KiB L2).
_BLOCK_BYTES = 1 << 18

#: ... and with at least this many, in two threads (one memory stream per core: 2 cores
#: read 1.9x faster than one here — a 32 MiB gemv: 1.0 ms on two threads, 2.0 ms on one).
THREADED_SIZE = 1 << 20

_kernel = None  # None: not tried; False: numba missing
_executor = []


def _forget_pool() -> None:
    _executor.clear()  # a forked child has none of the parent's threads: start afresh


os.register_at_fork(after_in_child=_forget_pool)


def _pool():
    """One worker thread (created on first use; anew in a forked child, whose copy of the
    parent's pool has no thread and would never run the work) for the second half of P."""
    if not _executor:
        from concurrent.futures import ThreadPoolExecutor

        _executor.append(ThreadPoolExecutor(1, thread_name_prefix="mesabase-rowcheck"))
    return _executor[0]


def _build():
    import numba

    opts = dict(cache=True, nogil=True, fastmath={"reassoc", "nsz"})

    # Σ min(x, 0) rather than min x: a sum vectorises (reassociated), a running min with
    # NaN semantics does not (2.4x slower measured). It is < 0 iff an entry is negative
    # (a sum of non-positive numbers is 0 only if all are ±0). Two loops, not one with a
    # flag: a branch in the inner loop stops it vectorising (2.5x slower measured).
    # pv[i] = Σ_j src[i, j] v[j] comes with the same read of the row (a free Bellman
    # backup of v: memory-bound, the extra multiply-add costs nothing measurable).
    @numba.njit(**opts)
    def sums_min(src, sums, v, pv):  # pragma: no cover (compiled)
        rows, n = src.shape
        neg = 0.0
        for i in range(rows):
            acc = 0.0
            ng = 0.0
            dot = 0.0
            for j in range(n):
                x = src[i, j]
                acc += x
                ng += min(x, 0.0)
                dot += x * v[j]
            sums[i] = acc
            pv[i] = dot
            neg += ng
        return neg

    @numba.njit(**opts)
    def copy_sums_min(src, dst, sums, v, pv):  # pragma: no cover (compiled)
        rows, n = src.shape
        neg = 0.0
        for i in range(rows):
            acc = 0.0
            ng = 0.0
            dot = 0.0
            for j in range(n):
                x = src[i, j]
                dst[i, j] = x
                acc += x
                ng += min(x, 0.0)
                dot += x * v[j]
            sums[i] = acc
            pv[i] = dot
            neg += ng
        return neg

    return sums_min, copy_sums_min


def _compiled():
    global _kernel
    if _kernel is None:
        try:
            _kernel = _build()
        except ImportError:
            _kernel = False
    return _kernel


def row_sums_min(M: np.ndarray, out: np.ndarray | None = None, v: np.ndarray | None = None):
    """``(sums, lo)`` for a 2-d float64 ``M`` (rows × n): ``sums[i]`` = Σ_j M[i, j] (rounded)
    and ``lo``, a number that is negative iff some entry of M is (min M, or with the
    compiled pass the sum of the negative entries). A NaN or ±inf entry makes its row sum
    non-finite (the caller then searches for it). With ``out`` (same shape, float64,
    C-contiguous) the rows are also copied into ``out`` in the same pass. With ``v`` (n,)
    the result is ``(sums, lo, M @ v)``, the product computed in the same pass."""
    rows, n = M.shape
    if M.size < FUSED_SIZE or rows == 0:
        if out is not None:
            np.copyto(out, M)
            M = out
        res = M.sum(axis=1), (float(M.min()) if M.size else 0.0)
        if v is None:
            return res
        with np.errstate(invalid="ignore", over="ignore"):  # a bad P is reported later
            return (*res, M @ v)
    sums = np.empty(rows)
    pv = np.empty(rows)
    w = np.zeros(n) if v is None else np.ascontiguousarray(v, dtype=np.float64)
    kern = _compiled()
    if kern:
        def part(i, j):  # the kernels release the GIL (nogil): halves run in parallel
            if out is None:
                return kern[0](M[i:j], sums[i:j], w, pv[i:j])
            return kern[1](M[i:j], out[i:j], sums[i:j], w, pv[i:j])

        if M.size < THREADED_SIZE or rows < 2:
            lo = part(0, rows)
        else:
            half = rows // 2
            other = _pool().submit(part, half, rows)
            lo = min(part(0, half), other.result())
        return (sums, float(lo)) if v is None else (sums, float(lo), pv)
    step = max(1, _BLOCK_BYTES // (8 * n))
    lo = np.inf
    for i in range(0, rows, step):
        blk = M[i:i + step]
        if out is not None:
            dst = out[i:i + step]
            np.copyto(dst, blk)
            blk = dst
        np.sum(blk, axis=1, out=sums[i:i + step])
        if v is not None:
            with np.errstate(invalid="ignore", over="ignore"):  # a bad P is reported later
                np.dot(blk, w, out=pv[i:i + step])
        lo = min(lo, float(blk.min()))
    return (sums, lo) if v is None else (sums, lo, pv)


#: The arrays of P that TabularMDPs own (id → array, dropped when the array is freed):
#: read-only from birth and never handed out writable, so another MDP may share them.
_OWNED: weakref.WeakValueDictionary = weakref.WeakValueDictionary()


def keep(a: np.ndarray) -> None:
    """Make ``a`` (an array no one else holds) read-only and record it as an MDP's own."""
    a.setflags(write=False)
    _OWNED[id(a)] = a


def ours(a: np.ndarray) -> bool:
    """True when ``a`` is a read-only view (at any depth) of an array recorded by
    :func:`keep` — e.g. another TabularMDP's P — so sharing it is as safe as a copy. A
    caller's read-only array does not qualify: its owner could make it writable again."""
    while isinstance(a, np.ndarray):
        if a.flags.writeable:
            return False
        if a.base is None:
            return _OWNED.get(id(a)) is a
        a = a.base
    return False


def max_reward(R, S: int, A: int, size: int):
    """v₀(s) = max_a R[s, a] for the fused validation pass of a large P (else None: the
    product is then computed on first use of ``first_backup``, and R is validated later)."""
    R = np.asarray(R)
    if size < FUSED_SIZE or R.dtype.kind not in "iuf" or R.shape != (S, A):
        return None
    v = R.max(axis=1).astype(np.float64)
    return v if np.isfinite(v).all() else None


def sum_stats(sums: np.ndarray) -> tuple[float, float]:
    """(max row sum, max |row sum − 1|) of the computed row sums (``TabularMDP.row_sums``)."""
    return float(sums.max()), float(np.abs(sums - 1.0).max())
