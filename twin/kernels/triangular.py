"""Triangular solves with a stored factor of :mod:`.cholesky` for a general right-hand side.

:func:`.cholesky.basis` solves only for the constraint columns, whose right-hand side is zero
outside the trailing block; :func:`.cholesky.solve_factor` (the trainer's preconditioner,
:mod:`.pcg`) needs the forward solve over every row. These are its pieces: the sparse columns'
forward and backward passes for ``cw`` columns (a multiple of 4), and register-blocked versions
for exactly 4 columns, whose dense-block passes take 4 rows of ``U`` at a time.
"""

from __future__ import annotations

from ._jit import Arr, jit

__all__ = [
    "backward_dense4",
    "backward_sparse4",
    "backward_sparse_rhs",
    "forward_dense4",
    "forward_sparse",
    "forward_sparse4",
]


@jit
def forward_sparse(split: int, colptr: Arr, rowind: Arr, v: Arr, y: Arr, cw: int) -> None:
    """Solve the sparse columns' part of ``F y = r`` in place (``y`` holds ``r``, rows 0..n-1).

    Column ``j < split`` divides row ``j`` by its pivot and subtracts its multiple from the rows
    below it, including the rows of the dense block.
    """
    for j in range(split):
        c0 = colptr[j]
        inv = 1.0 / v[c0]
        y0 = y[j, 0] * inv
        y1 = y[j, 1] * inv
        y2 = y[j, 2] * inv
        y3 = y[j, 3] * inv
        y[j, 0], y[j, 1], y[j, 2], y[j, 3] = y0, y1, y2, y3
        for jb in range(4, cw, 4):
            for t in range(4):
                y[j, jb + t] *= inv
        for p in range(c0 + 1, colptr[j + 1]):
            r = rowind[p]
            lp = v[p]
            y[r, 0] -= lp * y0
            y[r, 1] -= lp * y1
            y[r, 2] -= lp * y2
            y[r, 3] -= lp * y3
            for jb in range(4, cw, 4):
                for t in range(4):
                    y[r, jb + t] -= lp * y[j, jb + t]


@jit
def backward_sparse_rhs(split: int, colptr: Arr, rowind: Arr, v: Arr, x: Arr, cw: int) -> None:
    """Solve the sparse columns' part of ``F^T x = y`` in place, rows ``split-1`` down to 0.

    As :func:`.cholesky.backward_sparse`, but rows ``< split`` of ``x`` hold a right-hand side
    ``y``.
    """
    for i in range(split - 1, -1, -1):
        c0 = colptr[i]
        d = v[c0]
        for jb in range(0, cw, 4):
            a0, a1, a2, a3 = x[i, jb], x[i, jb + 1], x[i, jb + 2], x[i, jb + 3]
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
def forward_sparse4(split: int, colptr: Arr, rowind: Arr, v: Arr, y: Arr) -> None:
    """:func:`forward_sparse` for exactly 4 columns."""
    for j in range(split):
        c0 = colptr[j]
        inv = 1.0 / v[c0]
        y0 = y[j, 0] * inv
        y1 = y[j, 1] * inv
        y2 = y[j, 2] * inv
        y3 = y[j, 3] * inv
        y[j, 0] = y0
        y[j, 1] = y1
        y[j, 2] = y2
        y[j, 3] = y3
        for p in range(c0 + 1, colptr[j + 1]):
            r = rowind[p]
            lp = v[p]
            y[r, 0] -= lp * y0
            y[r, 1] -= lp * y1
            y[r, 2] -= lp * y2
            y[r, 3] -= lp * y3


@jit
def forward_dense4(u: Arr, y: Arr) -> None:
    """Solve ``U^T y = r`` in place for 4 columns, 4 rows of ``U`` at a time (general ``r``)."""
    nt = u.shape[0]
    k = 0
    while k + 4 <= nt:
        for kk in range(k, k + 4):
            inv = 1.0 / u[kk, kk]
            for j in range(4):
                y[kk, j] *= inv
            for i in range(kk + 1, k + 4):
                f = u[kk, i]
                for j in range(4):
                    y[i, j] -= f * y[kk, j]
        a0, a1, a2, a3 = y[k, 0], y[k, 1], y[k, 2], y[k, 3]
        b0, b1, b2, b3 = y[k + 1, 0], y[k + 1, 1], y[k + 1, 2], y[k + 1, 3]
        c0, c1, c2, c3 = y[k + 2, 0], y[k + 2, 1], y[k + 2, 2], y[k + 2, 3]
        d0, d1, d2, d3 = y[k + 3, 0], y[k + 3, 1], y[k + 3, 2], y[k + 3, 3]
        r0, r1, r2, r3 = u[k], u[k + 1], u[k + 2], u[k + 3]
        for i in range(k + 4, nt):
            f0, f1, f2, f3 = r0[i], r1[i], r2[i], r3[i]
            y[i, 0] -= (f0 * a0 + f1 * b0) + (f2 * c0 + f3 * d0)
            y[i, 1] -= (f0 * a1 + f1 * b1) + (f2 * c1 + f3 * d1)
            y[i, 2] -= (f0 * a2 + f1 * b2) + (f2 * c2 + f3 * d2)
            y[i, 3] -= (f0 * a3 + f1 * b3) + (f2 * c3 + f3 * d3)
        k += 4
    for kk in range(k, nt):
        inv = 1.0 / u[kk, kk]
        for j in range(4):
            y[kk, j] *= inv
        for i in range(kk + 1, nt):
            f = u[kk, i]
            for j in range(4):
                y[i, j] -= f * y[kk, j]


@jit
def backward_dense4(u: Arr, x: Arr) -> None:
    """Solve ``U x = y`` in place for 4 columns, 4 rows of ``U`` at a time (general ``y``)."""
    nt = u.shape[0]
    hi = nt
    while hi >= 4:
        i0 = hi - 4
        a0, a1, a2, a3 = x[i0, 0], x[i0, 1], x[i0, 2], x[i0, 3]
        b0, b1, b2, b3 = x[i0 + 1, 0], x[i0 + 1, 1], x[i0 + 1, 2], x[i0 + 1, 3]
        c0, c1, c2, c3 = x[i0 + 2, 0], x[i0 + 2, 1], x[i0 + 2, 2], x[i0 + 2, 3]
        d0, d1, d2, d3 = x[i0 + 3, 0], x[i0 + 3, 1], x[i0 + 3, 2], x[i0 + 3, 3]
        r0, r1, r2, r3 = u[i0], u[i0 + 1], u[i0 + 2], u[i0 + 3]
        for j in range(hi, nt):
            x0, x1, x2, x3 = x[j, 0], x[j, 1], x[j, 2], x[j, 3]
            f = r0[j]
            a0 -= f * x0
            a1 -= f * x1
            a2 -= f * x2
            a3 -= f * x3
            f = r1[j]
            b0 -= f * x0
            b1 -= f * x1
            b2 -= f * x2
            b3 -= f * x3
            f = r2[j]
            c0 -= f * x0
            c1 -= f * x1
            c2 -= f * x2
            c3 -= f * x3
            f = r3[j]
            d0 -= f * x0
            d1 -= f * x1
            d2 -= f * x2
            d3 -= f * x3
        x[i0 + 3, 0] = d0
        x[i0 + 3, 1] = d1
        x[i0 + 3, 2] = d2
        x[i0 + 3, 3] = d3
        x[i0 + 2, 0] = c0
        x[i0 + 2, 1] = c1
        x[i0 + 2, 2] = c2
        x[i0 + 2, 3] = c3
        x[i0 + 1, 0] = b0
        x[i0 + 1, 1] = b1
        x[i0 + 1, 2] = b2
        x[i0 + 1, 3] = b3
        x[i0, 0] = a0
        x[i0, 1] = a1
        x[i0, 2] = a2
        x[i0, 3] = a3
        for i in range(hi - 1, i0 - 1, -1):  # the 4 x 4 triangle
            d = u[i, i]
            for j in range(4):
                acc = x[i, j]
                for t in range(i + 1, hi):
                    acc -= u[i, t] * x[t, j]
                x[i, j] = acc / d
        hi = i0
    for i in range(hi - 1, -1, -1):
        d = u[i, i]
        for j in range(4):
            acc = x[i, j]
            for t in range(i + 1, nt):
                acc -= u[i, t] * x[t, j]
            x[i, j] = acc / d


@jit
def backward_sparse4(split: int, colptr: Arr, rowind: Arr, v: Arr, x: Arr) -> None:
    """:func:`backward_sparse_rhs` for exactly 4 columns."""
    for i in range(split - 1, -1, -1):
        c0 = colptr[i]
        d = v[c0]
        a0, a1, a2, a3 = x[i, 0], x[i, 1], x[i, 2], x[i, 3]
        for p in range(c0 + 1, colptr[i + 1]):
            r = rowind[p]
            lp = v[p]
            a0 -= lp * x[r, 0]
            a1 -= lp * x[r, 1]
            a2 -= lp * x[r, 2]
            a3 -= lp * x[r, 3]
        x[i, 0] = a0 / d
        x[i, 1] = a1 / d
        x[i, 2] = a2 / d
        x[i, 3] = a3 / d
