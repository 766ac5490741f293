"""Symbolic set-up of the block Cholesky factorization of a spring network's free Hessian.

Plain numpy, run once per network: ``H_F = R^T diag(k) R + K C_S^T C_S`` keeps its sparsity
during a run (only the stiffnesses change). A node's two coordinates couple to the same
neighbours, so the factor is laid out on nodes, with ``2 x 2`` blocks: the node graph (the
network's bonds) is ordered and factored symbolically by :func:`twin.kernels.ordering.factor_layout`
exactly as a resistor network on the same graph (minimum degree, the constraint bonds' nodes
last), and :mod:`.spring_blocks` factors it numerically. A node with one fixed coordinate (the
open plane's rotation) keeps a ``2 x 2`` block whose fixed coordinate is an identity row and
column, so every block is full.

Degrees of freedom in the kernels are numbered ``2 p + axis`` (``p`` the node's position in the
elimination order). Storage: the sparse node columns hold four values per stored block (row
node ``i``, column node ``j``: entries ``[2 a + b]`` for ``H[2 i + a, 2 j + b]``; the diagonal
block's lower triangle is what the factorization reads), then the dense trailing block on
``2 nt`` degrees of freedom, row-major as the upper factor.

What this module adds to the node layout: for each bond, the storage positions of the entries of
its ``4 x 4`` contribution ``k_e r_e r_e^T`` (upper triangle, ``-1`` where a degree of freedom
is fixed), and the constant part (the source pins and the fixed coordinates' identity) already
scattered into the factor storage.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from ..errors import SolverError
from .ordering import FactorLayout, factor_layout

__all__ = ["SpringLayout", "spring_layout", "stack_spring_layouts"]


@attrs.frozen(eq=False, kw_only=True)
class SpringLayout:
    """Block factor layout of one spring network (nodes in elimination order)."""

    factor: FactorLayout  # the node graph's layout
    ridx: np.ndarray  # (E, 4) degree of freedom 2 p + axis of each rigidity-row term, -1: none
    rval: np.ndarray  # (E, 4) its coefficient (the bond's unit vector, signed)
    hpos: np.ndarray  # (E, 4, 4) storage position of H[ridx[a], ridx[b]] for b >= a, else -1
    cidx: np.ndarray  # (c, 4) the constraint rows' degrees of freedom, -1 for none
    cval: np.ndarray  # (c, 4) their coefficients
    v0: np.ndarray  # (n_values,) the constant part of H_F in factor storage

    @property
    def n_dof(self) -> int:
        """Degrees of freedom of the factor (two per node, fixed coordinates included)."""
        return 2 * self.factor.n

    @property
    def base(self) -> int:
        """Storage position of the dense block."""
        return 4 * int(self.factor.colptr[self.factor.split])

    @property
    def n_values(self) -> int:
        nt = 2 * (self.factor.n - self.factor.split)
        return self.base + nt * nt


def spring_layout(
    coords: np.ndarray,
    ridx: np.ndarray,
    rval: np.ndarray,
    cidx: np.ndarray,
    cval: np.ndarray,
    pin: float,
    n_sources: int,
) -> SpringLayout:
    """Layout of ``H_F`` for the free (reduced) degrees of freedom.

    Parameters
    ----------
    coords
        ``(n,)`` flat coordinate ``2 node + axis`` of each free degree of freedom.
    ridx, rval
        ``(E, 4)`` nonzeros of the rigidity rows (free degree of freedom, ``-1`` for none; value).
    cidx, cval
        ``(c, 4)`` nonzeros of the constraint rows (sources first, then targets).
    pin
        Pinning-spring stiffness ``K`` (N/m) of the sources.
    n_sources
        Leading constraint rows that are source pins (part of ``H_F``).
    """
    coords = np.asarray(coords, dtype=np.int64)
    nodes, node_of = np.unique(coords // 2, return_inverse=True)  # nodes with a free coordinate
    nn = nodes.size
    axis = coords % 2
    ridx = np.asarray(ridx, dtype=np.int64)
    cidx = np.asarray(cidx, dtype=np.int64)
    rnode = node_of[np.maximum(ridx, 0)]
    lo = np.where(ridx >= 0, rnode, nn).min(axis=1)  # a row may lack a node's terms (a fixed
    hi = np.where(ridx >= 0, rnode, -1).max(axis=1)  # node, or a zero component of the bond)
    ends = np.stack([lo, hi], axis=1)[lo < hi]
    cnode = np.where(cidx >= 0, node_of[np.maximum(cidx, 0)], -1)
    cpair = np.full((cidx.shape[0], 2), -1, dtype=np.int64)
    for j, row in enumerate(cnode):
        uniq = list(dict.fromkeys(int(a) for a in row if a >= 0))
        cpair[j, : len(uniq)] = uniq
    lay = factor_layout(nn, ends, cpair, np.ones(cpair.shape, dtype=float))
    iperm = np.empty(nn, dtype=np.int64)
    iperm[lay.perm] = np.arange(nn)
    dof = 2 * iperm[node_of] + axis  # kernel degree of freedom of each free one
    pidx = np.where(ridx >= 0, dof[np.maximum(ridx, 0)], -1).astype(np.int64)
    pcidx = np.where(cidx >= 0, dof[np.maximum(cidx, 0)], -1).astype(np.int64)
    position = _Positions(lay)
    hpos = np.full((ridx.shape[0], 4, 4), -1, dtype=np.int64)
    for a in range(4):
        for b in range(a, 4):
            pa, pb = pidx[:, a], pidx[:, b]
            ok = (pa >= 0) & (pb >= 0)
            hpos[ok, a, b] = position(pa[ok], pb[ok])
    out = SpringLayout(
        factor=lay,
        ridx=pidx,
        rval=np.asarray(rval, dtype=float),
        hpos=hpos,
        cidx=pcidx,
        cval=np.asarray(cval, dtype=float),
        v0=np.zeros(0),
    )
    v0 = np.zeros(out.n_values)
    ca, cb = np.triu_indices(4)  # (a, b >= a)
    idx, val = pcidx[:n_sources], out.cval[:n_sources]
    ok = (idx[:, ca] >= 0) & (idx[:, cb] >= 0)
    np.add.at(v0, position(idx[:, ca][ok], idx[:, cb][ok]), (pin * val[:, ca] * val[:, cb])[ok])
    fixed = np.setdiff1d(np.arange(2 * nn), dof)  # fixed coordinates of partly free nodes
    v0[position(fixed, fixed)] = 1.0
    return attrs.evolve(out, v0=v0)


class _Positions:
    """Storage positions of ``H[a, b]`` (arrays of kernel degrees of freedom) in block storage."""

    def __init__(self, lay: FactorLayout) -> None:
        self.split = lay.split
        self.nt = 2 * (lay.n - lay.split)
        self.base = 4 * int(lay.colptr[lay.split])
        self.colptr, self.rowind = lay.colptr, lay.rowind
        col = np.repeat(np.arange(lay.split, dtype=np.int64), np.diff(lay.colptr))
        self.keys = col * (lay.n + 1) + lay.rowind  # sorted: (column, row) in storage order
        self.n = lay.n

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        a, b = np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64)
        lo, hi = np.minimum(a, b), np.maximum(a, b)  # degrees of freedom
        nlo, nhi = lo // 2, hi // 2  # nodes, nlo <= nhi
        out = np.empty(lo.shape, dtype=np.int64)
        dense = nlo >= self.split
        s2 = 2 * self.split
        out[dense] = self.base + (lo[dense] - s2) * self.nt + (hi[dense] - s2)
        sp = ~dense
        if np.any(sp):
            key = nlo[sp] * (self.n + 1) + nhi[sp]
            at = np.minimum(np.searchsorted(self.keys, key), max(self.keys.size - 1, 0))
            if self.keys.size == 0 or np.any(self.keys[at] != key):
                raise SolverError("spring layout: a bond's nodes are not in the factor")
            # block (row node nhi, column node nlo): entry [axis in nhi, axis in nlo]; on the
            # diagonal block (nlo == nhi) the lower one, [larger axis, smaller axis]
            out[sp] = 4 * at + 2 * (hi[sp] % 2) + lo[sp] % 2
        return out


def _pad(arrays: Sequence[np.ndarray], fill: float, dtype: type) -> np.ndarray:
    length = max(1, *(a.shape[0] for a in arrays))
    out = np.full((len(arrays), length, *arrays[0].shape[1:]), fill, dtype=dtype)
    for r, a in enumerate(arrays):
        out[r, : a.shape[0]] = a
    return out


def stack_spring_layouts(layouts: Sequence[SpringLayout]) -> tuple[np.ndarray, ...]:
    """The arrays of :func:`twin.kernels.springs.spring_steps`' structure, padded over
    realizations: ``sizes`` ``(R, 4)`` (nodes, node split, node of the first constraint row,
    stored values), ``colptr, rowind, rlptr, rlcol, rlpos, tstart, ridx, rval, hpos, v0, cidx,
    cval``."""
    fs = [lay.factor for lay in layouts]
    sizes = np.array(
        [(f.n, f.split, f.first, lay.n_values) for f, lay in zip(fs, layouts, strict=True)],
        dtype=np.int64,
    )
    return (
        sizes,
        _pad([f.colptr for f in fs], 0, np.int64),
        _pad([f.rowind for f in fs], 0, np.int64),
        _pad([f.rlptr for f in fs], 0, np.int64),
        _pad([f.rlcol for f in fs], 0, np.int64),
        _pad([f.rlpos for f in fs], 0, np.int64),
        _pad([f.tstart for f in fs], 0, np.int64),
        np.stack([lay.ridx for lay in layouts]),
        np.stack([lay.rval for lay in layouts]),
        np.stack([lay.hpos for lay in layouts]),
        _pad([lay.v0 for lay in layouts], 0.0, float),
        np.stack([lay.cidx for lay in layouts]),
        np.stack([lay.cval for lay in layouts]),
    )
