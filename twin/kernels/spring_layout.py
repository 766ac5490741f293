"""Symbolic set-up of the sparse Cholesky factorization of a spring network's free Hessian.

Plain numpy, run once per network: ``H_F = R^T diag(k) R + K C_S^T C_S`` keeps its sparsity
during a run (only the stiffnesses change). Bond ``e`` couples the (at most four) degrees of
freedom of its two nodes, so the pattern of ``H_F`` is the graph on degrees of freedom in which
every bond is a clique; :func:`twin.kernels.ordering.factor_layout` orders that graph (minimum
degree, the degrees of freedom of the constraint bonds last), computes the factor's pattern and
its dense trailing block, and the numeric routines of :mod:`.cholesky` factor it and form the
basis ``X = H_F^-1 C^T`` (:mod:`.springs`).

What this module adds to the factor layout: for each bond, the storage positions of the entries
of its ``4 x 4`` contribution ``k_e r_e r_e^T`` (upper triangle, ``-1`` where a degree of freedom
is fixed), and the constant part (the source pins) already scattered into the factor storage.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np

from .ordering import FactorLayout, factor_layout

__all__ = ["SpringLayout", "spring_layout", "stack_spring_layouts"]


@attrs.frozen(eq=False, kw_only=True)
class SpringLayout:
    """Factor layout of one spring network (degrees of freedom in elimination order)."""

    factor: FactorLayout
    ridx: np.ndarray  # (E, 4) permuted degree of freedom of each rigidity-row term, -1 for none
    rval: np.ndarray  # (E, 4) its coefficient (the bond's unit vector, signed)
    hpos: np.ndarray  # (E, 4, 4) storage position of H[ridx[a], ridx[b]] for b >= a, else -1
    v0: np.ndarray  # (n_values,) the constant part of H_F (source pins) in factor storage


def spring_layout(
    n: int,
    ridx: np.ndarray,
    rval: np.ndarray,
    cidx: np.ndarray,
    cval: np.ndarray,
    pin: float,
    n_sources: int,
) -> SpringLayout:
    """Layout of ``H_F`` for ``n`` free degrees of freedom.

    Parameters
    ----------
    n
        Free (reduced) degrees of freedom.
    ridx, rval
        ``(E, 4)`` nonzeros of the rigidity rows (degree of freedom, ``-1`` for none; value).
    cidx, cval
        ``(c, 4)`` nonzeros of the constraint rows (sources first, then targets).
    pin
        Pinning-spring stiffness ``K`` (N/m) of the sources.
    n_sources
        Leading constraint rows that are source pins (part of ``H_F``).
    """
    ridx = np.asarray(ridx, dtype=np.int64)
    pairs: set[tuple[int, int]] = set()
    for row in ridx:
        nz = [int(a) for a in row if a >= 0]
        pairs.update((a, b) for a in nz for b in nz if a < b)
    ends = np.array(sorted(pairs), dtype=np.int64).reshape(-1, 2)
    lay = factor_layout(n, ends, cidx, cval)
    iperm = np.empty(n, dtype=np.int64)
    iperm[lay.perm] = np.arange(n)
    where = {
        (int(min(a, b)), int(max(a, b))): int(p)
        for (a, b), p in zip(lay.ends, lay.offdiag, strict=True)
    }

    def position(a: int, b: int) -> int:
        return int(lay.diagpos[a]) if a == b else where[(min(a, b), max(a, b))]

    pidx = np.where(ridx >= 0, iperm[np.maximum(ridx, 0)], -1).astype(np.int64)
    hpos = np.full((ridx.shape[0], 4, 4), -1, dtype=np.int64)
    for e, row in enumerate(pidx):
        for a in range(4):
            for b in range(a, 4):
                if row[a] >= 0 and row[b] >= 0:
                    hpos[e, a, b] = position(int(row[a]), int(row[b]))
    v0 = np.zeros(lay.n_values)
    for j in range(n_sources):
        idx, val = lay.cidx[j], lay.cval[j]
        for a in range(4):
            for b in range(a, 4):
                if idx[a] >= 0 and idx[b] >= 0:
                    v0[position(int(idx[a]), int(idx[b]))] += pin * val[a] * val[b]
    return SpringLayout(factor=lay, ridx=pidx, rval=np.asarray(rval, dtype=float), hpos=hpos, v0=v0)


def _pad(arrays: Sequence[np.ndarray], fill: float, dtype: type) -> np.ndarray:
    length = max(1, *(a.shape[0] for a in arrays))
    out = np.full((len(arrays), length, *arrays[0].shape[1:]), fill, dtype=dtype)
    for r, a in enumerate(arrays):
        out[r, : a.shape[0]] = a
    return out


def stack_spring_layouts(layouts: Sequence[SpringLayout]) -> tuple[np.ndarray, ...]:
    """The arrays of :func:`twin.kernels.springs.spring_steps`' structure, padded over
    realizations: ``sizes`` ``(R, 4)`` (degrees of freedom, split, first constraint row, stored
    values), ``colptr, rowind, rlptr, rlcol, rlpos, tstart, ridx, rval, hpos, v0, cidx, cval``."""
    fs = [lay.factor for lay in layouts]
    sizes = np.array([(f.n, f.split, f.first, f.n_values) for f in fs], dtype=np.int64)
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
        np.stack([f.cidx for f in fs]),
        np.stack([f.cval for f in fs]),
    )
