"""Small dense solves of the compiled core (a few constraint rows, or the board's 15 nodes).

One error convention for all of them: a solver returns ``True`` on success and ``False`` when
the matrix is not (numerically) positive definite or a pivot vanishes; it never raises. The
compiled caller passes the status up (the trainer's ``status`` array, the twin's fault counter)
and Python raises :class:`twin.errors.SolverError` after the kernel returns
(:func:`twin.kernels.status.raise_for_status`).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import Arr, jit

__all__ = ["chol_solve", "dense_cholesky", "mm", "small_cholesky", "small_inverse", "solve_small"]

#: Above this size :func:`dense_cholesky` calls LAPACK's blocked factorization.
LAPACK_ABOVE = 96


@jit
def _cholesky_lower(a: Arr, nn: int) -> bool:
    """In-place lower Cholesky factor of ``a[:nn, :nn]`` (left-looking; upper part left as is).

    The rows below a pivot are independent sums: four are accumulated side by side (each in
    its own order, the one of a row at a time, so the factor is the same bit for bit; the
    processor overlaps their chains of dependent subtractions).
    """
    for j in range(nn):
        d = a[j, j]
        for p in range(j):
            d -= a[j, p] * a[j, p]
        if not d > 0.0:
            return False
        d = math.sqrt(d)
        a[j, j] = d
        r = j + 1
        while r + 3 < nn:
            acc0, acc1, acc2, acc3 = a[r, j], a[r + 1, j], a[r + 2, j], a[r + 3, j]
            for p in range(j):
                ajp = a[j, p]
                acc0 -= a[r, p] * ajp
                acc1 -= a[r + 1, p] * ajp
                acc2 -= a[r + 2, p] * ajp
                acc3 -= a[r + 3, p] * ajp
            a[r, j], a[r + 1, j], a[r + 2, j], a[r + 3, j] = acc0 / d, acc1 / d, acc2 / d, acc3 / d
            r += 4
        while r < nn:
            acc = a[r, j]
            for p in range(j):
                acc -= a[r, p] * a[j, p]
            a[r, j] = acc / d
            r += 1
    return True


@jit
def small_cholesky(a: Arr, m: int, f: Arr) -> bool:
    """Cholesky factor ``f`` of the leading ``m x m`` block of ``a``; False if not positive."""
    for i in range(m):
        for j in range(i + 1):
            f[i, j] = a[i, j]
    return _cholesky_lower(f, m)


@jit
def small_inverse(a: Arr, m: int, f: Arr, y: Arr, out: Arr) -> bool:
    """Inverse of the leading ``m x m`` SPD block of ``a`` into ``out``; False if singular.

    ``f`` (m x m) and ``y`` (m) are scratch.
    """
    if not small_cholesky(a, m, f):
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


@jit
def mm(a: Arr, b: Arr, m: int, k: int, n: int, out: Arr) -> None:
    """``out[:m, :n] = a[:m, :k] @ b[:k, :n]``."""
    for i in range(m):
        for j in range(n):
            acc = 0.0
            for q in range(k):
                acc += a[i, q] * b[q, j]
            out[i, j] = acc


@jit
def dense_cholesky(a: Arr, nn: int) -> bool:
    """In-place lower Cholesky factor of the SPD ``a[:nn, :nn]`` (upper part left as is).

    False if a pivot is not positive.
    """
    if nn > LAPACK_ABOVE:  # LAPACK's blocked factorisation wins on big matrices
        try:
            a[:nn, :nn] = np.linalg.cholesky(a[:nn, :nn])
        except Exception:
            return False
        return True
    return _cholesky_lower(a, nn)


@jit
def chol_solve(f: Arr, nn: int, y: Arr) -> None:
    """Solve ``F F^T z = y`` in place for the columns of ``y[:nn, :]`` (``F`` lower, in ``f``).

    Three columns at a time, side by side (each column's sums in the order of a column at a
    time, so the solution is the same bit for bit), then the rest one by one.
    """
    done = 0
    while done + 2 < y.shape[1]:
        _chol_solve3(f, nn, y, done)
        done += 3
    for col in range(done, y.shape[1]):
        for r in range(nn):
            acc = y[r, col]
            for p in range(r):
                acc -= f[r, p] * y[p, col]
            y[r, col] = acc / f[r, r]
        for r in range(nn - 1, -1, -1):
            acc = y[r, col]
            for p in range(r + 1, nn):
                acc -= f[p, r] * y[p, col]
            y[r, col] = acc / f[r, r]


@jit
def _chol_solve3(f: Arr, nn: int, y: Arr, c0: int) -> None:
    """:func:`chol_solve` of columns ``c0``, ``c0 + 1``, ``c0 + 2`` of ``y`` together."""
    c1, c2 = c0 + 1, c0 + 2
    for r in range(nn):
        a0, a1, a2 = y[r, c0], y[r, c1], y[r, c2]
        for p in range(r):
            frp = f[r, p]
            a0 -= frp * y[p, c0]
            a1 -= frp * y[p, c1]
            a2 -= frp * y[p, c2]
        frr = f[r, r]
        y[r, c0], y[r, c1], y[r, c2] = a0 / frr, a1 / frr, a2 / frr
    for r in range(nn - 1, -1, -1):
        a0, a1, a2 = y[r, c0], y[r, c1], y[r, c2]
        for p in range(r + 1, nn):
            fpr = f[p, r]
            a0 -= fpr * y[p, c0]
            a1 -= fpr * y[p, c1]
            a2 -= fpr * y[p, c2]
        frr = f[r, r]
        y[r, c0], y[r, c1], y[r, c2] = a0 / frr, a1 / frr, a2 / frr


@jit
def solve_small(a: Arr, rhs: Arr, nn: int, out: Arr, m: Arr) -> bool:
    """Solve ``a[:nn, :nn] y = rhs[:nn]`` into ``out[:nn]`` (Gauss, partial pivoting).

    ``m`` is scratch space of shape at least ``(nn, nn + 1)``. False if a pivot vanishes (or is
    not a number).
    """
    for i in range(nn):
        for j in range(nn):
            m[i, j] = a[i, j]
        m[i, nn] = rhs[i]
    for col in range(nn):
        piv = col
        for r in range(col + 1, nn):
            if abs(m[r, col]) > abs(m[piv, col]):
                piv = r
        if piv != col:
            for j in range(nn + 1):
                tmp = m[col, j]
                m[col, j] = m[piv, j]
                m[piv, j] = tmp
        if not abs(m[col, col]) > 0.0:
            return False
        for r in range(col + 1, nn):
            f = m[r, col] / m[col, col]
            for j in range(col, nn + 1):
                m[r, j] -= f * m[col, j]
    for i in range(nn - 1, -1, -1):
        acc = m[i, nn]
        for j in range(i + 1, nn):
            acc -= m[i, j] * out[j]
        out[i] = acc / m[i, i]
    return True
