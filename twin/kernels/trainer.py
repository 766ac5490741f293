"""Compiled (numba) kernels of the synchronous trainer: many learning steps per call.

The numpy path of :mod:`twin.physics.solver` and :mod:`twin.learning.trainer` is the reference; this
module
computes the same quantities (PHYSICS.md sections 1-4) with a sparse Cholesky factorization whose
ordering and symbolic structure are fixed once per realization (the Laplacian's sparsity never
changes, only its values) and advances every realization by many steps without returning to
Python.

Per realization and step, in reduced (ground-eliminated) node space with the nodes touched by a
boundary condition ordered last:

1. assemble ``L = D^T diag(k) D`` into the fixed pattern of its Cholesky factor and factorize
   ``L = F F^T``: minimum-degree ordering; the leading columns are sparse (left-looking, each
   finished column scattered into the trailing block), the trailing rows, where the fill has
   made the factor dense, form a dense block factorized right-looking in panels of 4 (the split
   minimises a cost model, :func:`_split_point`);
2. ``Y = F^-1 C^T`` is non-zero only in the trailing constraint block, so ``S = C L^-1 C^T =
   Y^T Y`` is a tiny product, and one back solve gives the basis solutions ``X = F^-T Y``;
3. with ``A = S_ss^-1`` the free currents of example ``b`` are ``A b``, the free outputs
   ``W b`` (``W = S_ts A``), the error ``e = y - W b``; the clamped currents are the free ones plus
   ``d = eta S^-1 [0; e]``. The mean squared drops enter the rule only through
   ``mean (dV^C)^2 - (1 - lam) mean (dV^F)^2 = g^T Q g`` for an edge's basis drops ``g`` (a row of
   ``D X``) and the ``c x c`` matrix ``Q = lam M_F + mean(mu_F d^T + d mu_F^T) + mean(d d^T)``,
   ``M_F = A (mean b b^T) A``; the free-clamped difference is formed without cancellation;
4. powers follow from ``G^T diag(k) G = S``: ``P_F = mean b^T A b`` and
   ``P_C = P_F + eta^2 mean e^T (S^-1)_tt e`` (watts).

All state lives in arrays owned by :class:`KernelRun`; kernels release the GIL, so realizations
are split over threads without changing any number (each realization is computed by one thread,
in the same order, whatever the thread count).
"""

from __future__ import annotations

import heapq
import importlib
import logging
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import attrs
import numpy as np

from ..errors import SolverError
from ..physics.task import Task

__all__ = [
    "HAVE_NUMBA",
    "KernelRun",
    "Realizations",
    "StepParams",
    "minimum_degree_order",
    "symbolic_cholesky",
]

log = logging.getLogger("twin.kernels")

Arr = np.ndarray
Arrays = tuple[np.ndarray, ...]

numba: Any = None
try:  # numba is a declared dependency; the trainer falls back to numpy without it
    numba = importlib.import_module("numba")
except ImportError:  # pragma: no cover - exercised only on broken installs
    log.warning("numba is not importable: compiled trainer kernels are unavailable")
HAVE_NUMBA = numba is not None


def _jit(fn: Any) -> Any:
    """``numba.njit(cache=True, nogil=True)`` when numba is importable, else ``fn`` unchanged."""
    if numba is None:  # pragma: no cover
        return fn
    return numba.njit(cache=True, nogil=True)(fn)


# =========================================================================== symbolic set-up


def minimum_degree_order(n: int, edges: np.ndarray, last: Sequence[int] = ()) -> np.ndarray:
    """Minimum-degree elimination order of a graph, with the nodes ``last`` eliminated last.

    Parameters
    ----------
    n
        Number of nodes.
    edges
        ``(E, 2)`` node pairs (duplicates and pairs touching ``n`` or more are ignored).
    last
        Nodes kept to the end, in the given order (the constraint block).

    Returns
    -------
    perm : (n,) int64
        ``perm[new] = old``.
    """
    adj: list[set[int]] = [set() for _ in range(n)]
    for u, v in edges:
        if u < n and v < n and u != v:
            adj[u].add(int(v))
            adj[v].add(int(u))
    keep = {int(x) for x in last}
    heap = [(len(adj[v]), v) for v in range(n) if v not in keep]
    heapq.heapify(heap)
    done = np.zeros(n, dtype=bool)
    order: list[int] = []
    while heap:
        deg, v = heapq.heappop(heap)
        if done[v] or deg != len(adj[v]):
            continue
        done[v] = True
        order.append(v)
        nbrs = adj[v]
        for a in nbrs:
            adj[a].discard(v)
            adj[a] |= nbrs
            adj[a].discard(a)
            if a not in keep:
                heapq.heappush(heap, (len(adj[a]), a))
        adj[v] = set()
    order.extend(int(x) for x in last)
    return np.array(order, dtype=np.int64)


def symbolic_cholesky(n: int, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pattern of the lower Cholesky factor of a graph Laplacian in the given node order.

    Parameters
    ----------
    n
        Number of (reduced) nodes.
    edges
        ``(E, 2)`` node pairs in elimination order; pairs touching ``n`` or more are ignored.

    Returns
    -------
    colptr : (n + 1,) int64
    rowind : (nnz,) int64
        Compressed columns, the diagonal first in each column, then increasing row indices.
    """
    below: list[set[int]] = [set() for _ in range(n)]
    for u, v in edges:
        if u < n and v < n and u != v:
            lo, hi = (int(u), int(v)) if u < v else (int(v), int(u))
            below[lo].add(hi)
    for j in range(n):  # column j's pattern flows into its elimination-tree parent
        if below[j]:
            parent = min(below[j])
            below[parent] |= below[j]
            below[parent].discard(parent)
    counts = np.array([1 + len(b) for b in below], dtype=np.int64)
    colptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    rowind = np.empty(int(colptr[-1]), dtype=np.int64)
    for j in range(n):
        rowind[colptr[j]] = j
        rowind[colptr[j] + 1 : colptr[j + 1]] = sorted(below[j])
    return colptr, rowind


def _row_lists(n: int, colptr: np.ndarray, rowind: np.ndarray) -> tuple[np.ndarray, ...]:
    """For each row ``j < n``: the columns ``k < j`` with ``F[j, k] != 0`` and the entry's position.

    Returns ``(rlptr, rlcol, rlpos)``: row ``j``'s entries are ``rlptr[j]:rlptr[j + 1]``.
    """
    ncol = colptr.size - 1
    col = np.repeat(np.arange(ncol), np.diff(colptr))
    pos = np.flatnonzero((rowind != col) & (rowind < n))
    row = rowind[pos]
    order = np.lexsort((col[pos], row))
    rlptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n))]).astype(np.int64)
    return rlptr, col[pos][order].astype(np.int64), pos[order].astype(np.int64)


#: Cost model of the factorization (nanoseconds per operation, measured on the project's 2-core
#: machines), used only to choose where the dense trailing block starts: a sparse left-looking
#: update, a scatter of a sparse column into the dense block, and a dense (vectorised) update in
#: a block of ``nt`` rows, ``_COST_DENSE + _COST_DENSE_ROWS / nt`` (loop overheads on short rows).
_COST_SPARSE, _COST_SCATTER, _COST_DENSE, _COST_DENSE_ROWS = 1.8, 1.0, 0.1, 9.0
#: Largest dense trailing block (rows); 1024 rows hold 8 MiB of float64 per realization.
MAX_DENSE_BLOCK = 1024
#: Split points tried when choosing the dense block.
_SPLIT_CANDIDATES = 96


def _split_point(n: int, first: int, colptr: np.ndarray, rowind: np.ndarray) -> int:
    """Start of the dense trailing block minimising the modelled factorization time.

    Parameters
    ----------
    n
        Reduced nodes.
    first
        First row of the constraint block (the split never lies after it).
    colptr, rowind
        Full factor pattern (:func:`symbolic_cholesky`).
    """
    count = np.diff(colptr)
    col = np.repeat(np.arange(n), count)
    off = rowind != col
    rank = np.arange(rowind.size) - colptr[col]  # position inside its column, diagonal = 0
    # left-looking: F[j, k] != 0 updates the entries of column j from column k's rows >= j
    updates = np.bincount(rowind[off], weights=(count[col] - rank)[off], minlength=n)
    done_before = np.concatenate([[0.0], np.cumsum(updates)])
    lo = min(max(0, n - MAX_DENSE_BLOCK), first)
    grid = np.linspace(lo, first, num=min(first - lo + 1, _SPLIT_CANDIDATES))
    best, best_cost = first, np.inf
    for b in np.unique(grid.astype(np.int64)):
        tail = np.bincount(col[off & (col < b) & (rowind >= b)], minlength=n).astype(float)
        nt = float(n - b)
        cost = (
            _COST_SPARSE * done_before[b]
            + _COST_SCATTER * float(np.sum(tail * (tail + 1.0) / 2.0))
            + (_COST_DENSE + _COST_DENSE_ROWS / nt) * nt**3 / 6.0
        )
        if cost < best_cost:
            best, best_cost = int(b), cost
    return best


@attrs.frozen(eq=False)
class _Circuit:
    """Factor structure of one realization (reduced node indices in elimination order).

    Columns ``0..split-1`` of the Cholesky factor ``F`` are sparse (compressed columns, diagonal
    first); rows and columns ``split..n-1`` form a dense block, stored row-major as the upper
    factor ``F^T`` after the sparse values. ``diagpos``/``offdiag`` locate the Laplacian's entries
    in that storage.
    """

    n: int  # reduced nodes
    split: int  # first row of the dense trailing block
    first: int  # first row of the constraint block (>= split)
    colptr: np.ndarray  # (split + 1,)
    rowind: np.ndarray  # (colptr[split],)
    rlptr: np.ndarray  # (split + 1,) row lists of the sparse columns
    rlcol: np.ndarray
    rlpos: np.ndarray
    tstart: np.ndarray  # (split,) first entry of each sparse column inside the dense block
    diagpos: np.ndarray  # (n,)
    ends: np.ndarray  # (E, 2) permuted ends, n for ground
    offdiag: np.ndarray  # (E,) position of the edge's off-diagonal entry, -1 if grounded
    cidx: np.ndarray  # (c, 2) permuted node of each constraint term, -1 for none
    cval: np.ndarray  # (c, 2) its coefficient

    @property
    def n_values(self) -> int:
        """Stored factor values: sparse columns plus the dense block."""
        nt = self.n - self.split
        return int(self.colptr[-1]) + nt * nt


def _constraint_terms(task: Task, fi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of ``C`` as up to two (reduced node, coefficient) terms; ``fi`` maps node -> index."""
    c = task.n_sources + task.n_targets
    idx = np.full((c, 2), -1, dtype=np.int64)
    val = np.zeros((c, 2))
    rows = [(task.source_kind, i) for i in task.sources]
    rows += [(task.target_kind, i) for i in task.targets]
    for j, (kind, i) in enumerate(rows):
        if kind == "nodes":
            idx[j, 0], val[j, 0] = fi[i], 1.0
            continue
        u, v = task.network.edges[i]
        for slot, (node, sign) in enumerate(((u, 1.0), (v, -1.0))):
            if fi[node] >= 0:
                idx[j, slot], val[j, slot] = fi[node], sign
    return idx, val


def _entry_positions(
    n: int, split: int, colptr: np.ndarray, rowind: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Storage positions of the Laplacian's diagonal and of each edge's off-diagonal entry."""
    nt = n - split
    base = int(colptr[split])
    diag = np.arange(n, dtype=np.int64)
    dense = base + (diag - split) * (nt + 1)
    diagpos = np.where(diag < split, colptr[np.minimum(diag, split)], dense)
    offdiag = np.full(ends.shape[0], -1, dtype=np.int64)
    for e, (a, b) in enumerate(ends):
        if a >= n or b >= n:
            continue
        lo, hi = (a, b) if a < b else (b, a)
        if lo < split:
            seg = rowind[colptr[lo] + 1 : colptr[lo + 1]]
            offdiag[e] = colptr[lo] + 1 + int(np.searchsorted(seg, hi))
        else:
            offdiag[e] = base + (lo - split) * nt + (hi - split)
    return diagpos.astype(np.int64), offdiag


def _circuit(task: Task) -> _Circuit:
    """Ordering, symbolic factorization and storage layout of one task's reduced Laplacian."""
    net = task.network
    free = np.ones(net.n_nodes, dtype=bool)
    free[task.ground] = False
    n = int(free.sum())
    fi = np.full(net.n_nodes, -1, dtype=np.int64)
    fi[free] = np.arange(n)
    cidx, cval = _constraint_terms(task, fi)
    block = list(dict.fromkeys(int(a) for a in cidx.ravel() if a >= 0))
    red = np.where(fi[net.edges] >= 0, fi[net.edges], n)
    perm = minimum_degree_order(n, red, last=block)
    iperm = np.empty(n + 1, dtype=np.int64)
    iperm[perm] = np.arange(n)
    iperm[n] = n
    ends = iperm[red]
    colptr, rowind = symbolic_cholesky(n, ends)
    first = n - len(block)
    split = _split_point(n, first, colptr, rowind)
    colptr, rowind = colptr[: split + 1], rowind[: colptr[split]]
    rlptr, rlcol, rlpos = _row_lists(split, colptr, rowind)
    tstart = np.array(
        [colptr[k] + 1 + np.searchsorted(rowind[colptr[k] + 1 : colptr[k + 1]], split)
         for k in range(split)],
        dtype=np.int64,
    )  # fmt: skip
    diagpos, offdiag = _entry_positions(n, split, colptr, rowind, ends)
    return _Circuit(
        n=n,
        split=split,
        first=first,
        colptr=colptr,
        rowind=rowind,
        rlptr=rlptr,
        rlcol=rlcol,
        rlpos=rlpos,
        tstart=tstart,
        diagpos=diagpos,
        ends=ends,
        offdiag=offdiag,
        cidx=np.where(cidx >= 0, iperm[np.maximum(cidx, 0)], -1),
        cval=cval,
    )


def _pad(arrays: Sequence[np.ndarray], fill: float, dtype: Any) -> np.ndarray:
    """Stack arrays whose first lengths differ into one array padded with ``fill``."""
    length = max(1, *(a.shape[0] for a in arrays))
    out = np.full((len(arrays), length, *arrays[0].shape[1:]), fill, dtype=dtype)
    for r, a in enumerate(arrays):
        out[r, : a.shape[0]] = a
    return out


@attrs.frozen(eq=False)
class Realizations:
    """Factor structures and training examples of ``R`` realizations, padded to common sizes.

    Build with :meth:`from_tasks`. Each realization keeps its own sizes: padding is stored, never
    computed.
    """

    sizes: np.ndarray  # (R, 5): reduced nodes, real edges, split, first constraint row, values
    colptr: np.ndarray  # (R, split_max + 1)
    rowind: np.ndarray  # (R, nnz_max)
    rlptr: np.ndarray  # (R, split_max + 1)
    rlcol: np.ndarray  # (R, rl_max)
    rlpos: np.ndarray  # (R, rl_max)
    tstart: np.ndarray  # (R, split_max)
    diagpos: np.ndarray  # (R, n_max)
    ends: np.ndarray  # (R, E, 2)
    offdiag: np.ndarray  # (R, E)
    cidx: np.ndarray  # (R, c, 2)
    cval: np.ndarray  # (R, c, 2)
    inputs: np.ndarray  # (R, m, s) volts
    desired: np.ndarray  # (R, m, t) volts
    input_moment: np.ndarray  # (R, s, s) sum over examples of b b^T, V^2

    @classmethod
    def from_tasks(cls, tasks: Sequence[Task]) -> Realizations:
        """Structures of ``tasks`` (same numbers of sources, targets and training examples)."""
        cs = [_circuit(t) for t in tasks]
        inputs = np.stack([t.train.inputs for t in tasks]).astype(float)
        sizes = [(c.n, c.ends.shape[0], c.split, c.first, c.n_values) for c in cs]
        return cls(
            sizes=np.array(sizes, dtype=np.int64),
            colptr=_pad([c.colptr for c in cs], 0, np.int64),
            rowind=_pad([c.rowind for c in cs], 0, np.int64),
            rlptr=_pad([c.rlptr for c in cs], 0, np.int64),
            rlcol=_pad([c.rlcol for c in cs], 0, np.int64),
            rlpos=_pad([c.rlpos for c in cs], 0, np.int64),
            tstart=_pad([c.tstart for c in cs], 0, np.int64),
            diagpos=_pad([c.diagpos for c in cs], 0, np.int64),
            ends=_pad([c.ends for c in cs], 0, np.int64),
            offdiag=_pad([c.offdiag for c in cs], -1, np.int64),
            cidx=np.stack([c.cidx for c in cs]),
            cval=np.stack([c.cval for c in cs]),
            inputs=inputs,
            desired=np.stack([t.train.outputs for t in tasks]).astype(float),
            input_moment=np.einsum("rmi,rmj->rij", inputs, inputs),
        )

    def arrays(self) -> tuple[np.ndarray, ...]:
        """The structure in the order the kernels unpack it."""
        return (
            self.sizes,
            self.colptr,
            self.rowind,
            self.rlptr,
            self.rlcol,
            self.rlpos,
            self.tstart,
            self.diagpos,
            self.ends,
            self.offdiag,
            self.cidx,
            self.cval,
            self.inputs,
            self.desired,
            self.input_moment,
        )

    def workspace(self) -> tuple[np.ndarray, ...]:
        """Zeroed scratch arrays of every realization, in the order the kernels unpack them.

        Factor values, position map, basis ``x`` and its product ``y`` (``cw`` columns: the
        constraint count rounded up to a multiple of 4), ``S``, the rule's form ``Q`` and small
        matrices of the coefficient algebra.
        """
        rr = self.realizations
        n_max = int(self.sizes[:, 0].max())
        c = self.cidx.shape[1]
        cw = 4 * ((c + 3) // 4)
        return (
            np.zeros((rr, int(self.sizes[:, 4].max()))),
            np.zeros((rr, n_max), dtype=np.int64),
            np.zeros((rr, n_max + 1, cw)),
            np.zeros((rr, n_max + 1, cw)),
            np.zeros((rr, c, c)),
            np.zeros((rr, cw, cw)),
            np.zeros((rr, 12, c, c)),
        )

    @property
    def realizations(self) -> int:
        return int(self.sizes.shape[0])


@attrs.frozen(kw_only=True)
class StepParams:
    """Scalar settings of a run (see :class:`twin.learning.trainer.TrainConfig`).

    ``alpha`` (S/V^2 per step) and ``eta`` are the rule's, ``step_s`` the step duration in seconds,
    ``stop_tol`` the early-stopping tolerance and ``ctl_tol`` the lambda-control tolerance (V^2;
    ``<= 0`` disables either); ``rho``, ``p`` and ``lam_max`` are the control's constants.
    """

    alpha: float
    eta: float
    step_s: float
    stop_tol: float = 0.0
    ctl_tol: float = 0.0
    rho: float = 1.0
    p: float = 1.0
    lam_max: float = 1.0

    def array(self) -> np.ndarray:
        """The settings in the order the kernels read them."""
        return np.array(
            [
                self.alpha,
                self.eta,
                self.step_s,
                self.stop_tol,
                self.ctl_tol,
                self.rho,
                self.p,
                self.lam_max,
            ]
        )


# =========================================================================== numeric kernels
# Basis arrays ``x`` have ``cw`` columns, ``c`` rounded up to a multiple of 4, so that the
# innermost loops work on 4 right-hand sides at once with register accumulators.


@_jit
def _assemble(
    k: Arr, ne: int, ends: Arr, n: int, diagpos: Arr, offdiag: Arr, nvals: int, v: Arr
) -> None:
    """Reduced Laplacian values (siemens) scattered into the factor storage ``v``."""
    for p in range(nvals):
        v[p] = 0.0
    for e in range(ne):
        ke = k[e]
        a = ends[e, 0]
        b = ends[e, 1]
        if a < n:
            v[diagpos[a]] += ke
        if b < n:
            v[diagpos[b]] += ke
        if offdiag[e] >= 0:
            v[offdiag[e]] -= ke


@_jit
def _factor_sparse(
    split: int,
    nt: int,
    colptr: Arr,
    rowind: Arr,
    rlptr: Arr,
    rlcol: Arr,
    rlpos: Arr,
    tstart: Arr,
    v: Arr,
    pos: Arr,
) -> bool:
    """Left-looking Cholesky of the sparse columns; False when a pivot is not positive.

    Each finished column's outer product over the dense block is subtracted there (the block is
    stored row-major as an upper factor after the sparse values).
    """
    base = colptr[split] - split * nt - split
    for j in range(split):
        c0 = colptr[j]
        c1 = colptr[j + 1]
        for p in range(c0, c1):
            pos[rowind[p]] = p
        for t in range(rlptr[j], rlptr[j + 1]):
            pj = rlpos[t]
            ljk = v[pj]
            for p in range(pj, colptr[rlcol[t] + 1]):
                v[pos[rowind[p]]] -= ljk * v[p]
        d = v[c0]
        if not d > 0.0:
            return False
        d = np.sqrt(d)
        v[c0] = d
        inv = 1.0 / d
        for p in range(c0 + 1, c1):
            v[p] *= inv
        for p in range(tstart[j], c1):
            la = v[p]
            row = base + rowind[p] * nt
            for p2 in range(p, c1):
                v[row + rowind[p2]] -= la * v[p2]
    return True


@_jit
def _factor_panel(u: Arr, k: int, kb: int) -> bool:
    """Factor rows ``k..k+kb-1`` of ``u`` (their trailing parts are updated in place).

    Loops run over row slices indexed from 0, which lets LLVM vectorise them.
    """
    for kk in range(k, k + kb):
        d = u[kk, kk]
        if not d > 0.0:
            return False
        d = np.sqrt(d)
        u[kk, kk] = d
        inv = 1.0 / d
        row = u[kk, kk + 1 :]
        for j in range(row.shape[0]):
            row[j] *= inv
        for i in range(kk + 1, k + kb):
            f = u[kk, i]
            ui = u[i, i:]
            uk = u[kk, i:]
            for j in range(ui.shape[0]):
                ui[j] -= f * uk[j]
    return True


@_jit
def _factor_dense(u: Arr) -> bool:
    """In-place upper Cholesky ``A = U^T U`` of the upper triangle of ``u``; False if singular.

    Right-looking in panels of 4 rows: each trailing row gets one rank-4 update per panel.
    """
    nt = u.shape[0]
    k = 0
    while k + 4 <= nt:
        if not _factor_panel(u, k, 4):
            return False
        for i in range(k + 4, nt):
            f0, f1, f2, f3 = u[k, i], u[k + 1, i], u[k + 2, i], u[k + 3, i]
            if f0 == 0.0 and f1 == 0.0 and f2 == 0.0 and f3 == 0.0:
                continue
            ui = u[i, i:]
            r0, r1, r2, r3 = u[k, i:], u[k + 1, i:], u[k + 2, i:], u[k + 3, i:]
            for j in range(ui.shape[0]):
                ui[j] -= (f0 * r0[j] + f1 * r1[j]) + (f2 * r2[j] + f3 * r3[j])
        k += 4
    return _factor_panel(u, k, nt - k)


@_jit
def _forward_dense(u: Arr, f0: int, y: Arr, cw: int) -> None:
    """Solve ``U^T y = rhs`` in place for rows ``>= f0`` (the right-hand side is 0 above)."""
    nt = u.shape[0]
    for k in range(f0, nt):
        inv = 1.0 / u[k, k]
        for jb in range(0, cw, 4):
            y[k, jb] *= inv
            y[k, jb + 1] *= inv
            y[k, jb + 2] *= inv
            y[k, jb + 3] *= inv
        for i in range(k + 1, nt):
            f = u[k, i]
            if f != 0.0:
                for jb in range(0, cw, 4):
                    y[i, jb] -= f * y[k, jb]
                    y[i, jb + 1] -= f * y[k, jb + 1]
                    y[i, jb + 2] -= f * y[k, jb + 2]
                    y[i, jb + 3] -= f * y[k, jb + 3]


@_jit
def _backward_dense(u: Arr, f0: int, x: Arr, cw: int) -> None:
    """Solve ``U x = y`` in place (``y`` is 0 in rows before ``f0``)."""
    nt = u.shape[0]
    for i in range(nt - 1, -1, -1):
        d = u[i, i]
        for jb in range(0, cw, 4):
            if i >= f0:
                a0, a1, a2, a3 = x[i, jb], x[i, jb + 1], x[i, jb + 2], x[i, jb + 3]
            else:
                a0 = a1 = a2 = a3 = 0.0
            for j in range(i + 1, nt):
                f = u[i, j]
                a0 -= f * x[j, jb]
                a1 -= f * x[j, jb + 1]
                a2 -= f * x[j, jb + 2]
                a3 -= f * x[j, jb + 3]
            x[i, jb] = a0 / d
            x[i, jb + 1] = a1 / d
            x[i, jb + 2] = a2 / d
            x[i, jb + 3] = a3 / d


@_jit
def _backward_sparse(split: int, colptr: Arr, rowind: Arr, v: Arr, x: Arr, cw: int) -> None:
    """Solve the sparse columns' part of ``F^T x = 0``, rows ``split-1`` down to 0."""
    for i in range(split - 1, -1, -1):
        c0 = colptr[i]
        d = v[c0]
        for jb in range(0, cw, 4):
            a0 = a1 = a2 = a3 = 0.0
            for p in range(c0 + 1, colptr[i + 1]):
                r = rowind[p]
                lp = v[p]
                a0 -= lp * x[r, jb]
                a1 -= lp * x[r, jb + 1]
                a2 -= lp * x[r, jb + 2]
                a3 -= lp * x[r, jb + 3]
            x[i, jb] = a0 / d
            x[i, jb + 1] = a1 / d
            x[i, jb + 2] = a2 / d
            x[i, jb + 3] = a3 / d


@_jit
def _basis(
    n: int,
    split: int,
    first: int,
    colptr: Arr,
    rowind: Arr,
    v: Arr,
    cidx: Arr,
    cval: Arr,
    x: Arr,
    s: Arr,
) -> None:
    """Basis solutions ``x = L^-1 C^T`` (volts per ampere; row ``n`` stays 0) and ``s = C x``."""
    c = cidx.shape[0]
    cw = x.shape[1]
    nt = n - split
    u = v[colptr[split] : colptr[split] + nt * nt].reshape((nt, nt))
    xt = x[split:n]
    for i in range(first, n):
        for j in range(cw):
            x[i, j] = 0.0
    for j in range(c):
        for slot in range(2):
            if cidx[j, slot] >= 0:
                x[cidx[j, slot], j] += cval[j, slot]
    _forward_dense(u, first - split, xt, cw)
    for a in range(c):
        for b in range(c):
            acc = 0.0
            for i in range(first, n):
                acc += x[i, a] * x[i, b]
            s[a, b] = acc
    _backward_dense(u, first - split, xt, cw)
    _backward_sparse(split, colptr, rowind, v, x, cw)


@_jit
def _small_cholesky(a: Arr, m: int, f: Arr) -> bool:
    """Cholesky factor ``f`` of the leading ``m x m`` block of ``a``; False if not positive."""
    for j in range(m):
        d = a[j, j]
        for q in range(j):
            d -= f[j, q] * f[j, q]
        if not d > 0.0:
            return False
        d = np.sqrt(d)
        f[j, j] = d
        for i in range(j + 1, m):
            v = a[i, j]
            for q in range(j):
                v -= f[i, q] * f[j, q]
            f[i, j] = v / d
    return True


@_jit
def _small_inverse(a: Arr, m: int, f: Arr, y: Arr, out: Arr) -> bool:
    """Inverse of the leading ``m x m`` SPD block of ``a`` into ``out``; False if singular.

    ``f`` (m x m) and ``y`` (m) are scratch.
    """
    if not _small_cholesky(a, m, f):
        return False
    for col in range(m):
        for i in range(m):  # F y = e_col
            v = 1.0 if i == col else 0.0
            for q in range(i):
                v -= f[i, q] * y[q]
            y[i] = v / f[i, i]
        for i in range(m - 1, -1, -1):  # F^T z = y
            v = y[i]
            for q in range(i + 1, m):
                v -= f[q, i] * out[q, col]
            out[i, col] = v / f[i, i]
    return True


@_jit
def _mm(a: Arr, b: Arr, m: int, k: int, n: int, out: Arr) -> None:
    """``out[:m, :n] = a[:m, :k] @ b[:k, :n]``."""
    for i in range(m):
        for j in range(n):
            acc = 0.0
            for q in range(k):
                acc += a[i, q] * b[q, j]
            out[i, j] = acc


@_jit
def _example_moments(
    w: Arr, ns: int, nt: int, inputs: Arr, desired: Arr, e: Arr, be: Arr, ee: Arr
) -> float:
    """Free-state errors ``e = y - W b`` summed into ``be = sum b e^T``, ``ee = sum e e^T``.

    Returns the summed squared error (V^2).
    """
    for i in range(ns):
        for j in range(nt):
            be[i, j] = 0.0
    for i in range(nt):
        for j in range(nt):
            ee[i, j] = 0.0
    err = 0.0
    for mm in range(inputs.shape[0]):
        tot = 0.0
        for i in range(nt):
            out = 0.0
            for j in range(ns):
                out += w[i, j] * inputs[mm, j]
            e[i] = desired[mm, i] - out
            tot += e[i] * e[i]
        err += tot
        for i in range(ns):
            b = inputs[mm, i]
            for j in range(nt):
                be[i, j] += b * e[j]
        for i in range(nt):
            for j in range(nt):
                ee[i, j] += e[i] * e[j]
    return err


@_jit
def _coefficients(
    s_mat: Arr,
    ns: int,
    inputs: Arr,
    desired: Arr,
    moment: Arr,
    lam: float,
    eta: float,
    sm: Arr,
    q: Arr,
) -> tuple[bool, float, float, float]:
    """Error (V^2), free and clamped power (W) and the rule's quadratic form ``q`` (c x c).

    ``sm`` is scratch of shape ``(12, c, c)``. Returns ``(ok, error, free_power, clamped_power)``.
    """
    c = s_mat.shape[0]
    nt = c - ns
    f, a_inv, s_inv, w, be, ee, am, ab = sm[0], sm[1], sm[2], sm[3], sm[4], sm[5], sm[6], sm[7]
    cross, ze, mf, vec = sm[8], sm[9], sm[10], sm[11]
    if not _small_inverse(s_mat, ns, f, vec[0], a_inv):
        return False, 0.0, 0.0, 0.0
    if not _small_inverse(s_mat, c, f, vec[0], s_inv):
        return False, 0.0, 0.0, 0.0
    _mm(s_mat[ns:, :], a_inv, nt, ns, ns, w)  # free outputs per input volt, S_ts A
    err = _example_moments(w, ns, nt, inputs, desired, vec[1], be, ee)
    inv_m = 1.0 / inputs.shape[0]
    _mm(a_inv, moment, ns, ns, ns, am)  # A sum(b b^T)
    p_free = 0.0
    for i in range(ns):
        p_free += am[i, i]
    p_free *= inv_m
    p_extra = 0.0
    for i in range(nt):
        for j in range(nt):
            p_extra += s_inv[ns + i, ns + j] * ee[j, i]
    p_clamped = p_free + eta * eta * p_extra * inv_m
    # d = Z e with Z = eta S^-1[:, s:]: sum mu_F d^T = A be Z^T, sum d d^T = Z ee Z^T
    _mm(a_inv, be, ns, ns, nt, ab)
    for i in range(ns):
        for j in range(c):
            acc = 0.0
            for l2 in range(nt):
                acc += ab[i, l2] * s_inv[j, ns + l2]
            cross[i, j] = eta * acc
    for i in range(c):
        for j in range(nt):
            acc = 0.0
            for l2 in range(nt):
                acc += s_inv[i, ns + l2] * ee[l2, j]
            ze[i, j] = eta * acc
    _mm(am, a_inv, ns, ns, ns, mf)  # sum mu_F mu_F^T
    for i in range(c):
        for j in range(c):
            v = 0.0
            for l2 in range(nt):
                v += ze[i, l2] * s_inv[j, ns + l2]
            v *= eta
            if i < ns:
                v += cross[i, j]
                if j < ns:
                    v += lam * mf[i, j]
            if j < ns:
                v += cross[j, i]
            q[i, j] = v * inv_m
    return True, err * inv_m, p_free, p_clamped


@_jit
def _edge_rates4(ne: int, ends: Arr, x: Arr, q: Arr, scale: float, dk: Arr) -> None:
    """:func:`_edge_rates` for 4 basis columns, the quadratic form written out."""
    q00, q01, q02, q03 = q[0, 0], 2.0 * q[0, 1], 2.0 * q[0, 2], 2.0 * q[0, 3]
    q11, q12, q13 = q[1, 1], 2.0 * q[1, 2], 2.0 * q[1, 3]
    q22, q23, q33 = q[2, 2], 2.0 * q[2, 3], q[3, 3]
    for e in range(ne):
        a = ends[e, 0]
        b = ends[e, 1]
        g0 = x[a, 0] - x[b, 0]
        g1 = x[a, 1] - x[b, 1]
        g2 = x[a, 2] - x[b, 2]
        g3 = x[a, 3] - x[b, 3]
        quad = g0 * (q00 * g0 + q01 * g1 + q02 * g2 + q03 * g3)
        quad += g1 * (q11 * g1 + q12 * g2 + q13 * g3)
        dk[e] = scale * (quad + g2 * (q22 * g2 + q23 * g3) + q33 * g3 * g3)


@_jit
def _edge_rates(ne: int, ends: Arr, x: Arr, q: Arr, scale: float, y: Arr, dk: Arr) -> None:
    """``dk_e = scale * g_e^T q g_e`` with ``g_e = x[u] - x[v]`` (siemens per step).

    ``q`` is symmetric; ``y`` (shape of ``x``) is scratch.
    """
    rows, cw = x.shape
    if cw == 4:
        _edge_rates4(ne, ends, x, q, scale, dk)
        return
    xf = x.ravel()
    yf = y.ravel()
    for t in range(yf.shape[0]):
        yf[t] = 0.0
    for l2 in range(cw):  # y = x q, column by column over all rows
        for j in range(cw):
            f = q[l2, j]
            for i in range(rows):
                yf[i * cw + j] += f * xf[i * cw + l2]
    for e in range(ne):
        a = ends[e, 0]
        b = ends[e, 1]
        a0 = a1 = a2 = a3 = 0.0
        for jb in range(0, cw, 4):
            a0 += (x[a, jb] - x[b, jb]) * (y[a, jb] - y[b, jb])
            a1 += (x[a, jb + 1] - x[b, jb + 1]) * (y[a, jb + 1] - y[b, jb + 1])
            a2 += (x[a, jb + 2] - x[b, jb + 2]) * (y[a, jb + 2] - y[b, jb + 2])
            a3 += (x[a, jb + 3] - x[b, jb + 3]) * (y[a, jb + 3] - y[b, jb + 3])
        dk[e] = scale * ((a0 + a1) + (a2 + a3))


@_jit
def _evaluate_one(
    r: int, circ: Arrays, k_r: Arr, lam: float, eta: float, alpha: float, ws: Arrays, dk_r: Arr
) -> tuple[bool, float, float, float]:
    """All step quantities of realization ``r``; ``(ok, error, free power, clamped power)``.

    ``ws`` is the realization's :func:`_workspace`; ``dk_r`` receives the rate (S per step).
    """
    (sizes, colptr, rowind, rlptr, rlcol, rlpos, tstart, diagpos, ends, offdiag, cidx, cval,
     inputs, desired, moment) = circ  # fmt: skip
    v, pos, x, y, s_mat, q, sm = ws
    n, ne, split, first, nvals = sizes[r, 0], sizes[r, 1], sizes[r, 2], sizes[r, 3], sizes[r, 4]
    nt = n - split
    _assemble(k_r, ne, ends[r], n, diagpos[r], offdiag[r], nvals, v)
    if not _factor_sparse(split, nt, colptr[r], rowind[r], rlptr[r], rlcol[r], rlpos[r],
                          tstart[r], v, pos):  # fmt: skip
        return False, 0.0, 0.0, 0.0
    base = colptr[r, split]
    if not _factor_dense(v[base : base + nt * nt].reshape((nt, nt))):
        return False, 0.0, 0.0, 0.0
    _basis(n, split, first, colptr[r], rowind[r], v, cidx[r], cval[r], x, s_mat)
    ok, err, pf, pc = _coefficients(s_mat, inputs.shape[2], inputs[r], desired[r], moment[r],
                                    lam, eta, sm, q)  # fmt: skip
    if ok:
        _edge_rates(ne, ends[r], x, q, -alpha / eta, y, dk_r)
    return ok, err, pf, pc


@_jit
def _workspace(work: Arrays, r: int, n: int, nvals: int) -> Arrays:
    """Realization ``r``'s views of the scratch arrays (:meth:`Realizations.workspace`)."""
    v, pos, x, y, s_mat, q, sm = work
    return v[r, :nvals], pos[r, :n], x[r, : n + 1], y[r, : n + 1], s_mat[r], q[r], sm[r]


@_jit
def _control(lam: float, error: float, par: Arr) -> float:
    """Dynamic lambda control: :meth:`twin.learning.rules.LambdaControl.step`, ``dt = alpha``."""
    alpha, tol, rho, p, lam_max = par[0], par[4], par[5], par[6], par[7]
    ratio = tol / max(error, np.finfo(np.float64).tiny)
    growth = rho * alpha * (ratio**p - 1.0)
    return min(lam * np.exp(growth), lam_max)


@_jit
def advance(
    idx: Arr,
    n_steps: int,
    initial: bool,
    circ: Arrays,
    work: Arrays,
    par: Arr,
    kmin: Arr,
    kmax: Arr,
    state: Arrays,
    iters: Arr,
    status: Arr,
) -> None:
    """Advance realizations ``idx`` by up to ``n_steps`` learning steps.

    With ``initial`` the step quantities of the current conductances are computed first. Each
    step mirrors one iteration of the numpy trainer loop: early-stopping check, energy
    accumulation (joules), clipped update, lambda control, step count, new step quantities.
    A realization leaves the loop when it stops; ``iters[r]`` counts the steps it took here and
    ``status[r]`` is 1 when its Laplacian was not positive definite.
    """
    k, dk, lam, active, steps_done, energy, err, pf, pc = state
    alpha, eta, step_s, stop_tol, ctl_tol = par[0], par[1], par[2], par[3], par[4]
    sizes = circ[0]
    for r in idx:
        ws = _workspace(work, r, sizes[r, 0], sizes[r, 4])
        ne = sizes[r, 1]
        it = 0
        status[r] = 0
        if initial:
            ok, err[r], pf[r], pc[r] = _evaluate_one(r, circ, k[r], lam[r], eta, alpha, ws, dk[r])
            if not ok:
                status[r] = 1
                n_steps = 0
        while it < n_steps:
            if stop_tol > 0.0 and active[r] and not err[r] > stop_tol:
                active[r] = False
            if not active[r]:
                break
            de_free = pf[r] * step_s
            de_clamped = pc[r] * step_s
            energy[0, r] += de_free
            energy[1, r] += de_clamped
            energy[2, r] += de_free
            energy[3, r] += de_clamped
            for e in range(ne):
                k[r, e] = min(max(k[r, e] + dk[r, e], kmin[r, e]), kmax[r, e])
            if ctl_tol > 0.0:
                lam[r] = _control(lam[r], err[r], par)
            steps_done[r] += 1
            ok, e1, p1, p2 = _evaluate_one(r, circ, k[r], lam[r], eta, alpha, ws, dk[r])
            if not ok:
                status[r] = 1
                break
            err[r], pf[r], pc[r] = e1, p1, p2
            it += 1
        iters[r] = it


# =========================================================================== driver


def default_threads() -> int:
    """Worker threads for realizations: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


class KernelRun:
    """Arrays of a compiled training run and the calls that advance them.

    Parameters
    ----------
    structure
        Sparse structures and examples of the realizations.
    params
        Scalar settings.
    k
        ``(R, E)`` initial conductances, siemens (padding edges are ignored).
    lam
        ``(R,)`` initial lambda.
    kmin, kmax
        ``(R, E)`` conductance bounds, siemens.
    threads
        Worker threads; ``0`` uses every available CPU (never more than ``R``).
    """

    def __init__(
        self,
        structure: Realizations,
        params: StepParams,
        k: np.ndarray,
        lam: np.ndarray,
        kmin: np.ndarray,
        kmax: np.ndarray,
        threads: int = 0,
    ) -> None:
        rr = structure.realizations
        self.structure = structure
        self.circ = structure.arrays()
        self.work = structure.workspace()
        self.par = params.array()
        self.k = np.ascontiguousarray(k, dtype=float).copy()
        self.lam = np.ascontiguousarray(lam, dtype=float).copy()
        self.kmin = np.ascontiguousarray(kmin, dtype=float)
        self.kmax = np.ascontiguousarray(kmax, dtype=float)
        self.dk = np.zeros_like(self.k)
        self.active = np.ones(rr, dtype=np.bool_)
        self.steps_done = np.zeros(rr, dtype=np.int64)
        #: rows: free and clamped energy since the start, then since the last reset (joules)
        self.energy = np.zeros((4, rr))
        self.error = np.zeros(rr)
        self.free_power = np.zeros(rr)
        self.clamped_power = np.zeros(rr)
        self.iters = np.zeros(rr, dtype=np.int64)
        self.status = np.zeros(rr, dtype=np.int64)
        n_threads = min(threads or default_threads(), rr)
        self._groups = [np.arange(g, rr, n_threads, dtype=np.int64) for g in range(n_threads)]
        self._pool = ThreadPoolExecutor(n_threads) if n_threads > 1 else None
        try:
            self._map(self._advance, 0, True)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the worker threads."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None

    def __enter__(self) -> KernelRun:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _map(self, fn: Any, *args: Any) -> None:
        """Run ``fn(group, *args)`` for every thread's group of realizations; check status."""
        if self._pool is None:
            fn(self._groups[0], *args)
        else:
            list(self._pool.map(lambda g: fn(g, *args), self._groups))
        bad = np.flatnonzero(self.status)
        if bad.size:
            raise SolverError(
                f"conductance: the circuit equations of realization {int(bad[0])} are singular "
                "(the Laplacian is not positive definite: zero, negative or non-finite "
                "conductances?)"
            )

    def _advance(self, idx: np.ndarray, n_steps: int, initial: bool = False) -> None:
        state = (self.k, self.dk, self.lam, self.active, self.steps_done, self.energy,
                 self.error, self.free_power, self.clamped_power)  # fmt: skip
        advance(idx, n_steps, initial, self.circ, self.work, self.par, self.kmin, self.kmax,
                state, self.iters, self.status)  # fmt: skip

    def advance(self, n_steps: int) -> int:
        """Advance every active realization by up to ``n_steps`` steps.

        Returns
        -------
        int
            Steps until the last realization stopped (``n_steps`` if any is still active).
        """
        self.iters[:] = 0
        self._map(self._advance, int(n_steps))
        return int(self.iters.max(initial=0))

    def quantities(self) -> dict[str, np.ndarray]:
        """Current error (V^2), free and clamped power (W) and rate ``dk`` (S per step)."""
        return {
            "error": self.error,
            "free_power_w": self.free_power,
            "clamped_power_w": self.clamped_power,
            "dk": self.dk,
        }
