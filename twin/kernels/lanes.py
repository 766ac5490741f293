"""The sparse Cholesky and constraint basis of :mod:`.cholesky` for realizations in lanes.

Realizations whose circuits share one :class:`~.ordering.FactorLayout` (the same network and the
same constrained nodes: e.g. one task at several lambdas, initial conductances or noise seeds) are
factorized together: every stored value is followed by its :data:`LANES` copies, one per
realization (flat arrays, value ``p`` of lane ``w`` at ``p * LANES + w``: "row" ``p``), so each
index of the layout is read once for all of them and each operation on a row is one vector
instruction (:mod:`.simd`). Unused lanes of a smaller group repeat its first realization and are
ignored.

Each lane performs exactly the floating-point operations of the one-realization direct path
(:func:`.direct.evaluate_direct`: the flat program of :func:`.direct.factor_sparse_flat`, then
:func:`.cholesky.factor_dense` and :func:`.cholesky.basis`), in the same order, so its numbers
are bit for bit those of that path (the tests compare whole runs); where that path skips a
product by zero, a lane subtracts the zero, which leaves every finite value unchanged. Only 4
basis columns (``cw == 4``) are handled.
"""

from __future__ import annotations

from ._jit import Arr, jit
from .simd import WIDTH, add_mul, add_row, div_to, mul_by, pivot, rank4, sub_mul, sub_row

__all__ = ["LANES", "lane_assemble", "lane_basis", "lane_factor_dense", "lane_factor_sparse",
           "lane_sparse_basis"]  # fmt: skip

#: Realizations per lane group (the width of a row, :data:`.simd.WIDTH`).
LANES = WIDTH
W = LANES


@jit
def lane_assemble(
    k: Arr, idx: Arr, ne: int, ends: Arr, n: int, diagpos: Arr, offdiag: Arr, kt: Arr, v: Arr
) -> None:
    """Reduced Laplacians of realizations ``idx`` (rows of ``k``, S) into lane storage ``v``.

    ``kt`` (``E`` rows) receives the conductances by edge.
    """
    v[:] = 0.0
    for e in range(ne):
        for w in range(W):
            kt[e * W + w] = k[idx[w], e]
    for e in range(ne):
        a = ends[e, 0]
        b = ends[e, 1]
        o = offdiag[e]
        if a < n:
            add_row(v, diagpos[a], kt, e)
        if b < n:
            add_row(v, diagpos[b], kt, e)
        if o >= 0:
            sub_row(v, o, kt, e)


@jit
def lane_factor_sparse(split: int, colptr: Arr, tstart: Arr, uptr: Arr, ops: Arr, v: Arr,
                       inv: Arr, okf: Arr) -> None:  # fmt: skip
    """:func:`.direct.factor_sparse_flat` in lanes; ``okf[w]`` turns 0 on a bad pivot.

    ``(uptr, ops)`` is the layout's flat program (:func:`.direct.sparse_program`), ``inv`` one
    row of scratch. Each column's scatter into the dense block follows the column (as in
    :func:`.cholesky.factor_sparse`: each value still receives its terms in the same order), so
    that it overlaps the next column's updates, which wait for this column's pivot.
    """
    sq = uptr[split]
    for j in range(split):
        for q in range(uptr[j], uptr[j + 1]):
            sub_mul(v, ops[q, 0], v, ops[q, 1], v, ops[q, 2])
        c0 = colptr[j]
        pivot(v, c0, inv, okf)
        for p in range(c0 + 1, colptr[j + 1]):
            mul_by(v, p, inv, 0)
        tail = colptr[j + 1] - tstart[j]
        for q in range(sq, sq + tail * (tail + 1) // 2):
            sub_mul(v, ops[q, 0], v, ops[q, 1], v, ops[q, 2])
        sq += tail * (tail + 1) // 2


@jit
def _lane_panel(u: Arr, nt: int, k: int, kb: int, inv: Arr, okf: Arr) -> None:
    """:func:`.cholesky.factor_panel` in lanes (``u`` rows ``(nt, nt)``)."""
    for kk in range(k, k + kb):
        pivot(u, kk * nt + kk, inv, okf)
        for j in range(kk + 1, nt):
            mul_by(u, kk * nt + j, inv, 0)
        for i in range(kk + 1, k + kb):
            for j in range(i, nt):
                sub_mul(u, i * nt + j, u, kk * nt + i, u, kk * nt + j)


@jit
def lane_factor_dense(u: Arr, nt: int, inv: Arr, okf: Arr) -> None:
    """:func:`.cholesky.factor_dense` in lanes (``u`` rows ``(nt, nt)``)."""
    k = 0
    while k + 4 <= nt:
        _lane_panel(u, nt, k, 4, inv, okf)
        k0, k1, k2, k3 = k * nt, (k + 1) * nt, (k + 2) * nt, (k + 3) * nt
        for i in range(k + 4, nt):
            for j in range(i, nt):
                rank4(u, i * nt + j, u, k0 + i, u, k0 + j, u, k1 + i, u, k1 + j, u, k2 + i,
                      u, k2 + j, u, k3 + i, u, k3 + j)  # fmt: skip
        k += 4
    _lane_panel(u, nt, k, nt - k, inv, okf)


@jit
def _lane_forward(u: Arr, nt: int, f0: int, y: Arr, inv: Arr) -> None:
    """:func:`.cholesky.forward_dense` in lanes, 4 columns (``y`` rows ``(nt, 4)``)."""
    for k in range(f0, nt):
        dg = (k * nt + k) * W
        for w in range(W):
            inv[w] = 1.0 / u[dg + w]
        for j in range(4):
            mul_by(y, k * 4 + j, inv, 0)
        for i in range(k + 1, nt):
            for j in range(4):
                sub_mul(y, i * 4 + j, u, k * nt + i, y, k * 4 + j)


@jit
def _lane_backward(u: Arr, nt: int, f0: int, x: Arr, acc: Arr) -> None:
    """:func:`.cholesky.backward_dense` in lanes, 4 columns; ``acc`` 4 rows of scratch."""
    for i in range(nt - 1, -1, -1):
        for t in range(4 * W):
            acc[t] = x[i * 4 * W + t] if i >= f0 else 0.0
        for j2 in range(i + 1, nt):
            for j in range(4):
                sub_mul(acc, j, u, i * nt + j2, x, j2 * 4 + j)
        for j in range(4):
            div_to(x, i * 4 + j, acc, j, u, i * nt + i)


@jit
def _lane_backward_sparse(split: int, colptr: Arr, rowind: Arr, v: Arr, x: Arr, acc: Arr) -> None:
    """:func:`.cholesky.backward_sparse` in lanes, 4 columns."""
    for i in range(split - 1, -1, -1):
        c0 = colptr[i]
        acc[:] = 0.0
        for p in range(c0 + 1, colptr[i + 1]):
            r = rowind[p]
            for j in range(4):
                sub_mul(acc, j, v, p, x, r * 4 + j)
        for j in range(4):
            div_to(x, i * 4 + j, acc, j, v, c0)


@jit
def lane_basis(
    n: int, split: int, first: int, colptr: Arr, rowind: Arr, v: Arr, cidx: Arr, cval: Arr,
    x: Arr, s: Arr, acc: Arr,
) -> None:  # fmt: skip
    """:func:`.cholesky.basis` in lanes: ``x`` rows ``(n + 1, 4)``, ``s`` rows ``(c, c)``."""
    c = cidx.shape[0]
    nt = n - split
    base = colptr[split] * W
    u = v[base : base + nt * nt * W]
    x[first * 4 * W : n * 4 * W] = 0.0
    for j in range(c):
        for slot in range(2):
            if cidx[j, slot] >= 0:
                for w in range(W):
                    x[(cidx[j, slot] * 4 + j) * W + w] += cval[j, slot]
    xt = x[split * 4 * W : n * 4 * W]
    _lane_forward(u, nt, first - split, xt, acc)
    for a in range(c):
        for b in range(c):
            o = a * c + b
            s[o * W : (o + 1) * W] = 0.0
            for i in range(first, n):
                add_mul(s, o, x, i * 4 + a, x, i * 4 + b)
    _lane_backward(u, nt, first - split, xt, acc)
    _lane_backward_sparse(split, colptr, rowind, v, x, acc)


@jit
def lane_sparse_basis(
    k: Arr,
    idx: Arr,
    sizes: Arr,
    layout: tuple[Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr],
    program: tuple[Arr, Arr],
    lws: tuple[Arr, ...],
) -> None:
    """:func:`.direct.evaluate_direct`'s basis of realizations ``idx`` (one layout) in lanes.

    ``idx`` has :data:`LANES` entries; ``sizes`` is the layout's ``(n, E, split, first)``;
    ``layout`` its ``(colptr, rowind, tstart, diagpos, ends, offdiag, cidx, cval)``,
    ``program`` its flat program ``(uptr, ops)``; ``lws`` the lane workspace
    (:meth:`twin.kernels.train_arrays.Realizations.lane_workspace`). ``ok[w]`` is False where
    lane ``w``'s Laplacian is not positive definite.
    """
    colptr, rowind, tstart, diagpos, ends, offdiag, cidx, cval = layout
    v, x, s, acc, ok, kt = lws[0], lws[1], lws[2], lws[3], lws[4], lws[6]
    n, ne, split, first = sizes[0], sizes[1], sizes[2], sizes[3]
    nt = n - split
    okf = acc[W : 2 * W]
    okf[:] = 1.0
    lane_assemble(k, idx, ne, ends, n, diagpos, offdiag, kt, v)
    lane_factor_sparse(split, colptr, tstart, program[0], program[1], v, acc, okf)
    base = colptr[split] * W
    lane_factor_dense(v[base : base + nt * nt * W], nt, acc, okf)
    for w in range(W):
        ok[w] = okf[w] > 0.0
    lane_basis(n, split, first, colptr, rowind, v, cidx, cval, x, s, acc)
