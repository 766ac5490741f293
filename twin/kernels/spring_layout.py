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

from collections.abc import Callable, Sequence

import attrs
import numpy as np

from ..errors import SolverError
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
    ia, ib = np.triu_indices(4, 1)  # the pairs of a row's terms
    lo = np.minimum(ridx[:, ia], ridx[:, ib]).ravel()
    hi = np.maximum(ridx[:, ia], ridx[:, ib]).ravel()
    keys = np.unique((lo * n + hi)[(lo >= 0) & (lo < hi)])  # sorted as (lo, hi) pairs
    ends = np.stack([keys // n, keys % n], axis=1).astype(np.int64)
    lay = factor_layout(n, ends, cidx, cval)
    iperm = np.empty(n, dtype=np.int64)
    iperm[lay.perm] = np.arange(n)
    pidx = np.where(ridx >= 0, iperm[np.maximum(ridx, 0)], -1).astype(np.int64)
    hpos = np.full((ridx.shape[0], 4, 4), -1, dtype=np.int64)
    position = _positions(n, lay)
    for a in range(4):
        for b in range(a, 4):
            pa, pb = pidx[:, a], pidx[:, b]
            ok = (pa >= 0) & (pb >= 0)
            hpos[ok, a, b] = position(pa[ok], pb[ok])
    ca, cb = np.triu_indices(4)  # (a, b >= a) in the loops' order
    idx, val = lay.cidx[:n_sources], lay.cval[:n_sources]
    ok = (idx[:, ca] >= 0) & (idx[:, cb] >= 0)
    terms = (pin * val[:, ca] * val[:, cb])[ok]
    v0 = np.zeros(lay.n_values)
    np.add.at(v0, position(idx[:, ca][ok], idx[:, cb][ok]), terms)  # in order: the same sums
    return SpringLayout(factor=lay, ridx=pidx, rval=np.asarray(rval, dtype=float), hpos=hpos, v0=v0)


def _positions(n: int, lay: FactorLayout) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Storage positions of ``H[a, b]`` for arrays of permuted degrees of freedom ``a, b``: the
    diagonal's where ``a == b``, else the off-diagonal entry of the pair (one of ``lay.ends``)."""
    keys = np.minimum(lay.ends[:, 0], lay.ends[:, 1]) * n + np.maximum(
        lay.ends[:, 0], lay.ends[:, 1]
    )
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]

    def position(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        out = lay.diagpos[a].astype(np.int64)
        off = a != b
        if np.any(off):
            key = np.minimum(a[off], b[off]) * n + np.maximum(a[off], b[off])
            at = np.minimum(np.searchsorted(sorted_keys, key), sorted_keys.size - 1)
            if sorted_keys.size == 0 or np.any(sorted_keys[at] != key):
                raise SolverError(
                    "spring layout: a bond's degrees of freedom are not in the factor"
                )
            out[off] = lay.offdiag[order[at]]
        return out

    return position


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
