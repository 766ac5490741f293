"""The spring block factor layout: the stored free Hessian, its block factorization and solves,
against dense numpy; and the resistor layout's entry positions against a column search."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import triangular_springs
from twin.kernels.cholesky import factor_dense
from twin.kernels.spring_blocks import factor_blocks
from twin.kernels.spring_layout import SpringLayout, spring_layout
from twin.kernels.springs import back_pair, constraint_block
from twin.learning._spring_engine import row_nonzeros
from twin.physics.springs.linear import SpringBatch
from twin.physics.springs.task import allostery_strain_task
from twin.physics.springs.task_spec import build_spring_tasks


def _batches() -> list[SpringBatch]:
    out = [
        SpringBatch(build_spring_tasks("allostery-strain", spec, seed=seed, realizations=1))
        for spec, seed in ((None, 0), (None, 3), ("jammed:16", 2))
    ]
    open_task = allostery_strain_task(triangular_springs(5, 6), rng=np.random.default_rng(4))
    return [*out, SpringBatch([open_task])]


def _layout(batch: SpringBatch) -> SpringLayout:
    ridx, rval = row_nonzeros(batch.rigidity)
    cidx, cval = row_nonzeros(batch.constraints)
    return spring_layout(batch.coords[0], ridx[0], rval[0], cidx[0], cval[0],
                         float(batch.pin[0]), batch.n_sources)  # fmt: skip


def _kernel_order(batch: SpringBatch, lay: SpringLayout, h: np.ndarray) -> np.ndarray:
    """``h`` (reduced degrees of freedom) in the kernel's order, identity at fixed coordinates."""
    ridx, _ = row_nonzeros(batch.rigidity)
    dof = np.full(batch.n_dof, -1)
    ok = ridx[0] >= 0
    dof[ridx[0][ok]] = lay.ridx[ok]
    assert np.all(dof >= 0)
    out = np.eye(lay.n_dof)
    out[np.ix_(dof, dof)] = h
    return out


def _scatter(lay: SpringLayout, k: np.ndarray) -> np.ndarray:
    v = lay.v0.copy()
    for a in range(4):
        for b in range(a, 4):
            ok = lay.hpos[:, a, b] >= 0
            np.add.at(v, lay.hpos[ok, a, b], k[ok] * lay.rval[ok, a] * lay.rval[ok, b])
    return v


def _dense(lay: SpringLayout, v: np.ndarray) -> np.ndarray:
    """The lower triangle held in block storage (sparse node columns, dense block's upper)."""
    f = lay.factor
    out = np.zeros((lay.n_dof, lay.n_dof))
    for j in range(f.split):
        for p in range(int(f.colptr[j]), int(f.colptr[j + 1])):
            i = int(f.rowind[p])
            out[2 * i : 2 * i + 2, 2 * j : 2 * j + 2] = v[4 * p : 4 * p + 4].reshape(2, 2)
    nt = lay.n_dof - 2 * f.split
    u = v[lay.base : lay.base + nt * nt].reshape(nt, nt)
    out[2 * f.split :, 2 * f.split :] = np.triu(u).T
    return np.tril(out)


@pytest.mark.parametrize("which", range(4))
def test_block_storage_holds_the_free_hessian_and_its_factor(which: int) -> None:
    batch = _batches()[which]
    lay = _layout(batch)
    rng = np.random.default_rng(which)
    k = rng.uniform(0.5, 2.0, batch.n_edges)
    want = _kernel_order(batch, lay, batch.free_hessian(k[None])[0])
    v = _scatter(lay, k)
    np.testing.assert_allclose(_dense(lay, v), np.tril(want), rtol=1e-13, atol=1e-12)
    f = lay.factor
    assert factor_blocks(f.split, f.n - f.split, f.colptr, f.rowind, f.rlptr, f.rlcol, f.rlpos,
                         f.tstart, v, np.empty(f.n, dtype=np.int64))  # fmt: skip
    nt = lay.n_dof - 2 * f.split
    u = v[lay.base : lay.base + nt * nt].reshape(nt, nt)
    assert factor_dense(u)
    low = _dense(lay, v)
    np.testing.assert_allclose(low @ low.T, want, rtol=1e-12, atol=1e-9 * np.abs(want).max())
    # the constraint block's forward solve and a back solve: S and H^-1 C^T against numpy
    c = lay.cidx.shape[0]
    n = lay.n_dof
    x, sm, z = np.zeros((n + 1, 4 * ((c + 3) // 4))), np.empty((c, c)), np.zeros((n + 1, 2))
    constraint_block(n, 2 * f.split, 2 * f.first, u, lay.cidx, lay.cval, x, sm)
    ct = np.zeros((n, c))
    for j in range(c):
        ok = lay.cidx[j] >= 0
        ct[lay.cidx[j][ok], j] = lay.cval[j][ok]
    xs = np.linalg.solve(want, ct)
    np.testing.assert_allclose(sm, ct.T @ xs, rtol=1e-9, atol=1e-12 * np.abs(sm).max())
    z[:n] = x[:n, :2]  # two columns of Y, zero above the constraint block
    back_pair(f.split, 2 * f.first, f.colptr, f.rowind, v, u, z, 0)
    np.testing.assert_allclose(z[:n], xs[:, :2], rtol=1e-9, atol=1e-9 * np.abs(xs).max())


def test_a_floppy_network_is_refused_by_the_factorization() -> None:
    batch = _batches()[0]
    lay = _layout(batch)
    k = np.ones(batch.n_edges)
    k[np.flatnonzero(lay.ridx[:, 0] >= 0)] = 0.0  # no bonds at all: only the source pins hold
    v = _scatter(lay, k)
    f = lay.factor
    ok = factor_blocks(f.split, f.n - f.split, f.colptr, f.rowind, f.rlptr, f.rlcol, f.rlpos,
                       f.tstart, v, np.empty(f.n, dtype=np.int64))  # fmt: skip
    if ok:
        nt = lay.n_dof - 2 * f.split
        ok = factor_dense(v[lay.base : lay.base + nt * nt].reshape(nt, nt))
    assert not ok


def _positions_loop(n, split, colptr, rowind, ends):  # type: ignore[no-untyped-def]
    """Each edge's off-diagonal position by a search of its column (the former loop)."""
    nt = n - split
    base = int(colptr[split])
    offdiag = np.full(ends.shape[0], -1, dtype=np.int64)
    for e, (a, b) in enumerate(ends):
        if a >= n or b >= n:
            continue
        lo, hi = (a, b) if a < b else (b, a)
        if lo < split:
            seg = rowind[colptr[lo] + 1 : colptr[lo + 1]]
            offdiag[e] = colptr[lo] + 1 + int(np.searchsorted(seg, hi))
        else:
            offdiag[e] = base + (lo - split) * nt + (hi - split)
    return offdiag


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_entry_positions_equal_the_column_search(seed: int) -> None:
    """Random graphs with grounded edges, repeated pairs and self-loops, at every split."""
    from twin.kernels.ordering import entry_positions, minimum_degree_order, symbolic_cholesky

    rng = np.random.default_rng(seed)
    n = 30
    ends = rng.integers(0, n + 1, size=(120, 2))  # n is ground
    perm = minimum_degree_order(n, ends)
    iperm = np.append(np.argsort(perm), n)
    pends = iperm[ends]
    colptr, rowind = symbolic_cholesky(n, pends)
    for split in (0, 7, 15, n):
        cp, ri = colptr[: split + 1], rowind[: colptr[split]]
        _, got = entry_positions(n, split, cp, ri, pends)
        want = _positions_loop(n, split, cp, ri, pends)
        np.testing.assert_array_equal(got, want)
        assert np.sum(got >= 0) > 50  # most edges are stored
