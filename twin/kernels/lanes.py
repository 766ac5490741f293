"""The sparse Cholesky and constraint basis of :mod:`.cholesky` for realizations in lanes.

Realizations whose circuits share one :class:`~.ordering.FactorLayout` (the same network and the
same constrained nodes: e.g. one task at several lambdas, initial conductances or noise seeds) are
factorized together: every stored value is followed by its :data:`LANES` copies, one per
realization (flat arrays, value ``p`` of lane ``w`` at ``p * LANES + w``), so each index of the
layout is read once for all of them and the innermost loops, of a fixed length known to the
compiler, are vectorised across the lanes. Unused lanes of a smaller group repeat its first
realization and are ignored.

Each lane performs exactly the floating-point operations of :func:`.cholesky.sparse_basis`, in
the same order, so its numbers are bit for bit those of the one-realization path (the tests
compare whole runs); where that path skips a product by zero, a lane subtracts the zero, which
leaves every finite value unchanged. Only 4 basis columns (``cw == 4``) are handled.
"""

from __future__ import annotations

import numpy as np

from ._jit import Arr, jit

__all__ = ["LANES", "lane_assemble", "lane_basis", "lane_factor_dense", "lane_factor_sparse",
           "lane_sparse_basis"]  # fmt: skip

#: Realizations per lane group (the innermost loop length of the lane kernels).
LANES = 8
W = LANES


@jit
def lane_assemble(
    k: Arr, idx: Arr, ne: int, ends: Arr, n: int, diagpos: Arr, offdiag: Arr, v: Arr
) -> None:
    """Reduced Laplacians of realizations ``idx`` (rows of ``k``, S) into lane storage ``v``."""
    v[:] = 0.0
    for e in range(ne):
        a = ends[e, 0]
        b = ends[e, 1]
        o = offdiag[e]
        for w in range(W):
            ke = k[idx[w], e]
            if a < n:
                v[diagpos[a] * W + w] += ke
            if b < n:
                v[diagpos[b] * W + w] += ke
            if o >= 0:
                v[o * W + w] -= ke


@jit
def lane_factor_sparse(
    split: int, nt: int, layout: tuple[Arr, Arr, Arr, Arr, Arr, Arr], v: Arr, pos: Arr, ok: Arr
) -> None:
    """:func:`.cholesky.factor_sparse` in lanes; ``ok[w]`` turns False on a bad pivot."""
    colptr, rowind, rlptr, rlcol, rlpos, tstart = layout
    wl = ok.shape[0]
    base = colptr[split] - split * nt - split
    for j in range(split):
        c0 = colptr[j]
        c1 = colptr[j + 1]
        for p in range(c0, c1):
            pos[rowind[p]] = p
        for t in range(rlptr[j], rlptr[j + 1]):
            pj = rlpos[t] * W
            lj = v[pj : pj + wl]
            for p in range(rlpos[t], colptr[rlcol[t] + 1]):
                dst = pos[rowind[p]] * W
                vd = v[dst : dst + wl]
                vs = v[p * W : p * W + wl]
                for w in range(wl):
                    vd[w] -= lj[w] * vs[w]
        d0 = c0 * W
        for w in range(W):
            d = v[d0 + w]
            if not d > 0.0:
                ok[w] = False
                d = 1.0
            v[d0 + w] = np.sqrt(d)
        for w in range(W):  # one reciprocal per pivot, as the one-realization path
            inv = 1.0 / v[d0 + w]
            for p in range(c0 + 1, c1):
                v[p * W + w] *= inv
        for p in range(tstart[j], c1):
            la = v[p * W : p * W + wl]
            row = base + rowind[p] * nt
            for p2 in range(p, c1):
                dst = (row + rowind[p2]) * W
                vd = v[dst : dst + wl]
                vs = v[p2 * W : p2 * W + wl]
                for w in range(wl):
                    vd[w] -= la[w] * vs[w]


@jit
def _lane_panel(u: Arr, nt: int, k: int, kb: int, ok: Arr) -> None:
    """:func:`.cholesky.factor_panel` in lanes (``u`` flat ``(nt, nt, LANES)``)."""
    wl = ok.shape[0]
    for kk in range(k, k + kb):
        dg = (kk * nt + kk) * W
        for w in range(W):
            d = u[dg + w]
            if not d > 0.0:
                ok[w] = False
                d = 1.0
            u[dg + w] = np.sqrt(d)
        for j in range(kk + 1, nt):
            r = (kk * nt + j) * W
            for w in range(W):
                u[r + w] *= 1.0 / u[dg + w]
        for i in range(kk + 1, k + kb):
            f = u[(kk * nt + i) * W : (kk * nt + i) * W + wl]
            for j in range(i, nt):
                dst = (i * nt + j) * W
                src = (kk * nt + j) * W
                vd = u[dst : dst + wl]
                vs = u[src : src + wl]
                for w in range(wl):
                    vd[w] -= f[w] * vs[w]


@jit
def lane_factor_dense(u: Arr, nt: int, ok: Arr) -> None:
    """:func:`.cholesky.factor_dense` in lanes (``u`` flat ``(nt, nt, LANES)``)."""
    wl = ok.shape[0]
    k = 0
    while k + 4 <= nt:
        _lane_panel(u, nt, k, 4, ok)
        k0, k1, k2, k3 = k * nt * W, (k + 1) * nt * W, (k + 2) * nt * W, (k + 3) * nt * W
        for i in range(k + 4, nt):
            iw = i * W
            f0, f1 = u[k0 + iw : k0 + iw + wl], u[k1 + iw : k1 + iw + wl]
            f2, f3 = u[k2 + iw : k2 + iw + wl], u[k3 + iw : k3 + iw + wl]
            for j in range(i, nt):
                dst = (i * nt + j) * W
                jw = j * W
                vd = u[dst : dst + wl]
                r0, r1 = u[k0 + jw : k0 + jw + wl], u[k1 + jw : k1 + jw + wl]
                r2, r3 = u[k2 + jw : k2 + jw + wl], u[k3 + jw : k3 + jw + wl]
                for w in range(wl):
                    vd[w] -= (f0[w] * r0[w] + f1[w] * r1[w]) + (f2[w] * r2[w] + f3[w] * r3[w])
        k += 4
    _lane_panel(u, nt, k, nt - k, ok)


@jit
def _lane_forward(u: Arr, nt: int, f0: int, y: Arr) -> None:
    """:func:`.cholesky.forward_dense` in lanes, 4 columns (``y`` flat ``(nt, 4, LANES)``)."""
    for k in range(f0, nt):
        dg = (k * nt + k) * W
        yk = k * 4 * W
        for j in range(4):
            for w in range(W):
                y[yk + j * W + w] *= 1.0 / u[dg + w]
        for i in range(k + 1, nt):
            f = (k * nt + i) * W
            yi = i * 4 * W
            for j in range(4):
                for w in range(W):
                    y[yi + j * W + w] -= u[f + w] * y[yk + j * W + w]


@jit
def _lane_backward(u: Arr, nt: int, f0: int, x: Arr, acc: Arr) -> None:
    """:func:`.cholesky.backward_dense` in lanes, 4 columns; ``acc`` ``(4 LANES)`` scratch."""
    for i in range(nt - 1, -1, -1):
        xi = i * 4 * W
        for t in range(4 * W):
            acc[t] = x[xi + t] if i >= f0 else 0.0
        for j2 in range(i + 1, nt):
            f = (i * nt + j2) * W
            xj = j2 * 4 * W
            for j in range(4):
                for w in range(W):
                    acc[j * W + w] -= u[f + w] * x[xj + j * W + w]
        dg = (i * nt + i) * W
        for j in range(4):
            for w in range(W):
                x[xi + j * W + w] = acc[j * W + w] / u[dg + w]


@jit
def _lane_backward_sparse(split: int, colptr: Arr, rowind: Arr, v: Arr, x: Arr, acc: Arr) -> None:
    """:func:`.cholesky.backward_sparse` in lanes, 4 columns."""
    for i in range(split - 1, -1, -1):
        c0 = colptr[i]
        acc[:] = 0.0
        for p in range(c0 + 1, colptr[i + 1]):
            lp = p * W
            xr = rowind[p] * 4 * W
            for j in range(4):
                for w in range(W):
                    acc[j * W + w] -= v[lp + w] * x[xr + j * W + w]
        xi = i * 4 * W
        for j in range(4):
            for w in range(W):
                x[xi + j * W + w] = acc[j * W + w] / v[c0 * W + w]


@jit
def lane_basis(
    n: int, split: int, first: int, colptr: Arr, rowind: Arr, v: Arr, cidx: Arr, cval: Arr,
    x: Arr, s: Arr, acc: Arr,
) -> None:  # fmt: skip
    """:func:`.cholesky.basis` in lanes: ``x`` flat ``(n + 1, 4, LANES)``, ``s``
    ``(c, c, LANES)``."""
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
    _lane_forward(u, nt, first - split, xt)
    for a in range(c):
        for b in range(c):
            for w in range(W):
                acc[w] = 0.0
            for i in range(first, n):
                for w in range(W):
                    acc[w] += x[(i * 4 + a) * W + w] * x[(i * 4 + b) * W + w]
            for w in range(W):
                s[a, b, w] = acc[w]
    _lane_backward(u, nt, first - split, xt, acc)
    _lane_backward_sparse(split, colptr, rowind, v, x, acc)


@jit
def lane_sparse_basis(
    k: Arr,
    idx: Arr,
    sizes: Arr,
    layout: tuple[Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr],
    lws: tuple[Arr, ...],
) -> None:
    """:func:`.cholesky.sparse_basis` of realizations ``idx`` (one shared layout) in lanes.

    ``idx`` has :data:`LANES` entries; ``sizes`` is the layout's ``(n, E, split, first)``;
    ``lws`` is the lane workspace ``(v, pos, x, s, acc, ok, qc)`` (``qc`` is not used here).
    ``ok[w]`` is False where lane ``w``'s Laplacian is not positive definite.
    """
    colptr, rowind, rlptr, rlcol, rlpos, tstart, diagpos, ends, offdiag, cidx, cval = layout
    v, pos, x, s, acc, ok, _qc = lws
    n, ne, split, first = sizes[0], sizes[1], sizes[2], sizes[3]
    nt = n - split
    ok[:] = True
    lane_assemble(k, idx, ne, ends, n, diagpos, offdiag, v)
    lane_factor_sparse(split, nt, (colptr, rowind, rlptr, rlcol, rlpos, tstart), v, pos, ok)
    base = colptr[split] * W
    lane_factor_dense(v[base : base + nt * nt * W], nt, ok)
    lane_basis(n, split, first, colptr, rowind, v, cidx, cval, x, s, acc)
