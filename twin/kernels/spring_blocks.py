"""Numeric block Cholesky of a spring network's free Hessian on ``2 x 2`` node blocks.

With the layout of :mod:`.spring_layout` (the node graph's sparse columns, four values per block,
then a dense trailing block on degrees of freedom): :func:`factor_blocks` factors the sparse node
columns left-looking, each update a ``2 x 2`` block product, and scatters each finished column's
outer product into the dense block, which :func:`.cholesky.factor_dense` factors;
:func:`back_blocks` is the sparse columns' part of a back solve ``F^T x = y`` for a pair of
right-hand sides. One index serves four values, and a block's products are independent, where
the scalar factorization of the same matrix loads an index per value and chains its updates.
Failures (a pivot that is not positive: a floppy mode) are returned as ``False``.
"""

from __future__ import annotations

import numpy as np

from ._jit import Arr, jit

__all__ = ["back_blocks", "factor_blocks"]


@jit
def factor_blocks(
    split: int, nt: int, colptr: Arr, rowind: Arr, rlptr: Arr, rlcol: Arr, rlpos: Arr,
    tstart: Arr, v: Arr, pos: Arr,
) -> bool:  # fmt: skip
    """Left-looking block Cholesky of node columns ``0..split-1``; False when a pivot is not
    positive.

    ``nt`` is the dense block's node count; ``pos`` (nodes) is scratch. Block ``p`` (row node
    ``i``, column node ``j``) holds ``v[4 p + 2 a + b]``; the factor's diagonal blocks are lower
    triangular (``[1]`` set to 0), the dense block's entries follow at ``4 colptr[split]``.
    """
    nd = 2 * nt
    base = 4 * colptr[split] - 2 * split * nd - 2 * split
    for j in range(split):
        c0 = colptr[j]
        c1 = colptr[j + 1]
        for p in range(c0, c1):
            pos[rowind[p]] = p
        for t in range(rlptr[j], rlptr[j + 1]):  # L[:, j] -= L[:, k] L[j, k]^T
            q = 4 * rlpos[t]
            b00, b01, b10, b11 = v[q], v[q + 1], v[q + 2], v[q + 3]
            for p in range(rlpos[t], colptr[rlcol[t] + 1]):
                a = 4 * p
                a00, a01, a10, a11 = v[a], v[a + 1], v[a + 2], v[a + 3]
                g = 4 * pos[rowind[p]]
                v[g] -= a00 * b00 + a01 * b01
                v[g + 1] -= a00 * b10 + a01 * b11
                v[g + 2] -= a10 * b00 + a11 * b01
                v[g + 3] -= a10 * b10 + a11 * b11
        d = 4 * c0
        d00 = v[d]
        if not d00 > 0.0:
            return False
        d00 = np.sqrt(d00)
        d10 = v[d + 2] / d00
        d11 = v[d + 3] - d10 * d10
        if not d11 > 0.0:
            return False
        d11 = np.sqrt(d11)
        v[d], v[d + 1], v[d + 2], v[d + 3] = d00, 0.0, d10, d11
        i00 = 1.0 / d00
        i11 = 1.0 / d11
        for p in range(c0 + 1, c1):  # L[i, j] = A[i, j] D^-T
            a = 4 * p
            l0 = v[a] * i00
            v[a] = l0
            v[a + 1] = (v[a + 1] - d10 * l0) * i11
            l0 = v[a + 2] * i00
            v[a + 2] = l0
            v[a + 3] = (v[a + 3] - d10 * l0) * i11
        for p in range(tstart[j], c1):  # the dense block -= L[i, j] L[i', j]^T, i <= i'
            a = 4 * p
            a00, a01, a10, a11 = v[a], v[a + 1], v[a + 2], v[a + 3]
            row0 = base + 2 * rowind[p] * nd
            row1 = row0 + nd
            for p2 in range(p, c1):
                b = 4 * p2
                b00, b01, b10, b11 = v[b], v[b + 1], v[b + 2], v[b + 3]
                col = 2 * rowind[p2]
                v[row0 + col] -= a00 * b00 + a01 * b01
                v[row0 + col + 1] -= a00 * b10 + a01 * b11
                v[row1 + col] -= a10 * b00 + a11 * b01
                v[row1 + col + 1] -= a10 * b10 + a11 * b11
    return True


@jit
def back_blocks(split: int, colptr: Arr, rowind: Arr, v: Arr, z: Arr, j0: int) -> None:
    """Solve the sparse node columns' part of ``F^T x = 0`` for columns ``j0, j0 + 1`` of ``z``,
    nodes ``split-1`` down to 0 (rows ``2 i, 2 i + 1``; the rows below hold the solution)."""
    for i in range(split - 1, -1, -1):
        c0 = colptr[i]
        # acc[b][col] = -sum L[r, i][a, b] x[2 r + a, col], kept apart per a (shorter chains)
        s00 = s01 = s10 = s11 = 0.0
        t00 = t01 = t10 = t11 = 0.0
        for p in range(c0 + 1, colptr[i + 1]):
            a = 4 * p
            r = 2 * rowind[p]
            x00, x01 = z[r, j0], z[r, j0 + 1]
            x10, x11 = z[r + 1, j0], z[r + 1, j0 + 1]
            l00, l01, l10, l11 = v[a], v[a + 1], v[a + 2], v[a + 3]
            s00 -= l00 * x00
            s01 -= l00 * x01
            s10 -= l01 * x00
            s11 -= l01 * x01
            t00 -= l10 * x10
            t01 -= l10 * x11
            t10 -= l11 * x10
            t11 -= l11 * x11
        d = 4 * c0
        d00, d10, d11 = v[d], v[d + 2], v[d + 3]
        y10 = (s10 + t10) / d11  # D^T x = acc, D lower: the second row first
        y11 = (s11 + t11) / d11
        z[2 * i + 1, j0] = y10
        z[2 * i + 1, j0 + 1] = y11
        z[2 * i, j0] = (s00 + t00 - d10 * y10) / d00
        z[2 * i, j0 + 1] = (s01 + t01 - d10 * y11) / d00
