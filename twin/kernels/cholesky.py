"""Numeric sparse + dense-block Cholesky of a reduced Laplacian and the constraint basis.

With the layout of :mod:`.ordering` (reduced node space, elimination order, constrained nodes
last):

1. :func:`assemble` scatters ``L = D^T diag(k) D`` into the fixed pattern of its factor;
2. :func:`factor_sparse` factorizes the leading sparse columns left-looking, scattering each
   finished column's outer product into the dense trailing block, which :func:`factor_dense`
   factorizes right-looking in panels of 4 rows;
3. :func:`basis` solves for ``X = L^-1 C^T`` (volts per ampere): ``Y = F^-1 C^T`` is non-zero
   only in the trailing constraint block, so ``S = C L^-1 C^T = Y^T Y`` is a tiny product, and one
   back solve gives ``X = F^-T Y``.

:func:`sparse_basis` chains the three. :func:`solve_factor` applies a stored factorization to
a general right-hand side (the trainer's preconditioner, :mod:`.pcg`; its passes are in
:mod:`.triangular`). Basis arrays ``x`` have ``cw`` columns, the constraint count rounded up to
a multiple of 4, so that the innermost loops work on 4 right-hand sides at once with register
accumulators. Failures (a pivot that is not
positive) are returned as ``False``; callers turn them into :class:`twin.errors.SolverError` in
Python.
"""

from __future__ import annotations

import numpy as np

from ._jit import Arr, jit
from .triangular import (
    backward_dense4,
    backward_sparse4,
    backward_sparse_rhs,
    forward_dense4,
    forward_sparse,
    forward_sparse4,
)

__all__ = [
    "assemble",
    "backward_dense",
    "backward_sparse",
    "basis",
    "factor_dense",
    "factor_panel",
    "factor_sparse",
    "forward_dense",
    "solve_factor",
    "sparse_basis",
]


@jit
def assemble(
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


@jit
def factor_sparse(
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


@jit
def factor_panel(u: Arr, k: int, kb: int) -> bool:
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


@jit
def factor_dense(u: Arr) -> bool:
    """In-place upper Cholesky ``A = U^T U`` of the upper triangle of ``u``; False if singular.

    Right-looking in panels of 4 rows: each trailing row gets one rank-4 update per panel.
    """
    nt = u.shape[0]
    k = 0
    while k + 4 <= nt:
        if not factor_panel(u, k, 4):
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
    return factor_panel(u, k, nt - k)


@jit
def forward_dense(u: Arr, f0: int, y: Arr, cw: int) -> None:
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


@jit
def backward_dense(u: Arr, f0: int, x: Arr, cw: int) -> None:
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


@jit
def backward_sparse(split: int, colptr: Arr, rowind: Arr, v: Arr, x: Arr, cw: int) -> None:
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


@jit
def constraint_columns(first: int, n: int, cidx: Arr, cval: Arr, x: Arr) -> None:
    """``C^T`` into rows ``first..n-1`` of ``x`` (rows of the constrained nodes; the rest of those
    rows 0): the right-hand sides whose forward solve starts :func:`basis` and
    :func:`.springs.constraint_block`. ``cidx, cval`` ``(c, w)`` as in :func:`basis`."""
    for i in range(first, n):
        for j in range(x.shape[1]):
            x[i, j] = 0.0
    for j in range(cidx.shape[0]):
        for slot in range(cidx.shape[1]):
            if cidx[j, slot] >= 0:
                x[cidx[j, slot], j] += cval[j, slot]


@jit
def basis(
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
    """Basis solutions ``x = L^-1 C^T`` (volts per ampere; row ``n`` stays 0) and ``s = C x``.

    ``cidx, cval`` ``(c, w)``: each constraint row's terms (``w`` = 2 for a resistor network's
    node pairs, 4 for a spring network's bond), index -1 for none.
    """
    c = cidx.shape[0]
    cw = x.shape[1]
    nt = n - split
    u = v[colptr[split] : colptr[split] + nt * nt].reshape((nt, nt))
    xt = x[split:n]
    constraint_columns(first, n, cidx, cval, x)
    forward_dense(u, first - split, xt, cw)
    for a in range(c):
        for b in range(c):
            acc = 0.0
            for i in range(first, n):
                acc += x[i, a] * x[i, b]
            s[a, b] = acc
    backward_dense(u, first - split, xt, cw)
    backward_sparse(split, colptr, rowind, v, x, cw)


@jit
def sparse_basis(
    k: Arr,
    ne: int,
    n: int,
    split: int,
    first: int,
    layout: tuple[Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr],
    v: Arr,
    pos: Arr,
    x: Arr,
    s: Arr,
) -> bool:
    """Factorize the Laplacian of conductances ``k`` (S) and form ``x = L^-1 C^T``, ``s = C x``.

    ``layout`` holds ``(colptr, rowind, rlptr, rlcol, rlpos, tstart, diagpos, ends, offdiag,
    cidx, cval)`` of a :class:`~.ordering.FactorLayout`; ``v`` (factor values) and ``pos`` (``n``)
    are scratch, ``x`` is ``(n + 1, cw)`` in elimination order. False if the Laplacian is not
    positive definite.
    """
    colptr, rowind, rlptr, rlcol, rlpos, tstart, diagpos, ends, offdiag, cidx, cval = layout
    nt = n - split
    assemble(k, ne, ends, n, diagpos, offdiag, v.shape[0], v)
    if not factor_sparse(split, nt, colptr, rowind, rlptr, rlcol, rlpos, tstart, v, pos):
        return False
    base = colptr[split]
    if not factor_dense(v[base : base + nt * nt].reshape((nt, nt))):
        return False
    basis(n, split, first, colptr, rowind, v, cidx, cval, x, s)
    return True


@jit
def solve_factor(n: int, split: int, colptr: Arr, rowind: Arr, v: Arr, x: Arr) -> None:
    """Solve ``L x = r`` in place with the factor ``F F^T = L`` stored in ``v`` (rows 0..n-1).

    ``x`` (``cw`` columns, a multiple of 4) holds ``r`` on entry; ``v`` is a factorization left by
    :func:`sparse_basis` (a general right-hand side: the forward solve runs over every row).
    Four columns take register-blocked loops (:func:`forward_dense4`, ...).
    """
    cw = x.shape[1]
    nt = n - split
    base = colptr[split]
    u = v[base : base + nt * nt].reshape((nt, nt))
    xt = x[split:n]
    if cw == 4:
        forward_sparse4(split, colptr, rowind, v, x)
        forward_dense4(u, xt)
        backward_dense4(u, xt)
        backward_sparse4(split, colptr, rowind, v, x)
        return
    forward_sparse(split, colptr, rowind, v, x, cw)
    forward_dense(u, 0, xt, cw)
    backward_dense(u, 0, xt, cw)
    backward_sparse_rhs(split, colptr, rowind, v, x, cw)
