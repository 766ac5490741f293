"""Symbolic set-up of the sparse Cholesky factorization of a reduced graph Laplacian.

Plain numpy, run once per circuit: the Laplacian's sparsity never changes during a run, only its
values. The layout (:class:`FactorLayout`) fixes

- a minimum-degree elimination order with the constrained nodes (sources, targets) last;
- the pattern of the lower factor ``F`` (compressed columns, diagonal first);
- where the factor turns dense: rows and columns ``split..n-1`` form a dense trailing block
  (stored row-major as the upper factor ``F^T`` after the sparse values), the split chosen by a
  cost model (:func:`split_point`);
- the storage positions of the Laplacian's diagonal and of each edge's off-diagonal entry.

The numeric routines of :mod:`.cholesky` read these arrays. Both the trainer's step and the
twin's sparse path build their layouts here (from plain arrays: reduced node indices, ``n`` for
ground; no task or network objects).
"""

from __future__ import annotations

import heapq
from collections.abc import Sequence

import attrs
import numpy as np

__all__ = [
    "MAX_DENSE_BLOCK",
    "FactorLayout",
    "entry_positions",
    "factor_layout",
    "minimum_degree_order",
    "row_lists",
    "split_point",
    "symbolic_cholesky",
]


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


def row_lists(n: int, colptr: np.ndarray, rowind: np.ndarray) -> tuple[np.ndarray, ...]:
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


def split_point(n: int, first: int, colptr: np.ndarray, rowind: np.ndarray) -> int:
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


def entry_positions(
    n: int, split: int, colptr: np.ndarray, rowind: np.ndarray, ends: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Storage positions of the Laplacian's diagonal and of each edge's off-diagonal entry."""
    nt = n - split
    base = int(colptr[split])
    diag = np.arange(n, dtype=np.int64)
    dense = base + (diag - split) * (nt + 1)
    diagpos = np.where(diag < split, colptr[np.minimum(diag, split)], dense)
    ends = np.asarray(ends, dtype=np.int64).reshape(-1, 2)
    offdiag = np.full(ends.shape[0], -1, dtype=np.int64)
    lo, hi = ends.min(axis=1), ends.max(axis=1)
    inside = hi < n  # neither end is ground
    dense_e = inside & (lo >= split)
    offdiag[dense_e] = base + (lo[dense_e] - split) * nt + (hi[dense_e] - split)
    sparse_e = inside & (lo < split)
    if np.any(sparse_e):
        # the sparse columns' entries keyed (column, row): sorted, as each column's rows are
        col = np.repeat(np.arange(split, dtype=np.int64), np.diff(colptr[: split + 1]))
        keys = col * (n + 1) + rowind[: colptr[split]]
        lo_s, hi_s = lo[sparse_e], hi[sparse_e]
        # a self-loop (lo == hi) reads past the diagonal, as a search of the rows below it does
        offdiag[sparse_e] = np.searchsorted(keys, lo_s * (n + 1) + hi_s) + (lo_s == hi_s)
    return diagpos.astype(np.int64), offdiag


@attrs.frozen(eq=False, kw_only=True)
class FactorLayout:
    """Factor structure of one circuit (reduced node indices in elimination order).

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
    perm: np.ndarray  # (n,) perm[new] = old reduced node index

    @property
    def n_values(self) -> int:
        """Stored factor values: sparse columns plus the dense block."""
        nt = self.n - self.split
        return int(self.colptr[-1]) + nt * nt


def factor_layout(
    n: int, ends: np.ndarray, cidx: np.ndarray, cval: np.ndarray, *, lanes: bool = False
) -> FactorLayout:
    """Ordering, symbolic factorization and storage layout of a reduced Laplacian.

    Parameters
    ----------
    n
        Reduced (non-ground) nodes.
    ends
        ``(E, 2)`` reduced edge ends, ``n`` for ground.
    cidx, cval
        ``(c, 2)`` rows of the constraint matrix ``C`` as up to two (reduced node, coefficient)
        terms, node ``-1`` for none.
    lanes
        Lay out for the lane kernels (:mod:`.lanes`): the dense block is only the constraint
        block, every other column sparse (there the sparse columns vectorise across lanes and
        cost less than the dense block; one realization alone takes :func:`split_point`'s).
    """
    cidx = np.asarray(cidx, dtype=np.int64)
    block = list(dict.fromkeys(int(a) for a in cidx.ravel() if a >= 0))
    perm = minimum_degree_order(n, ends, last=block)
    iperm = np.empty(n + 1, dtype=np.int64)
    iperm[perm] = np.arange(n)
    iperm[n] = n
    pends = np.ascontiguousarray(iperm[ends])
    colptr, rowind = symbolic_cholesky(n, pends)
    first = n - len(block)
    split = first if lanes else split_point(n, first, colptr, rowind)
    colptr, rowind = colptr[: split + 1], rowind[: colptr[split]]
    rlptr, rlcol, rlpos = row_lists(split, colptr, rowind)
    tstart = np.array(
        [colptr[k] + 1 + np.searchsorted(rowind[colptr[k] + 1 : colptr[k + 1]], split)
         for k in range(split)],
        dtype=np.int64,
    )  # fmt: skip
    diagpos, offdiag = entry_positions(n, split, colptr, rowind, pends)
    return FactorLayout(
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
        ends=pends,
        offdiag=offdiag,
        cidx=np.where(cidx >= 0, iperm[np.maximum(cidx, 0)], -1).astype(np.int64),
        cval=np.asarray(cval, dtype=float),
        perm=perm,
    )
