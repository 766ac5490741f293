"""The spring factor layout (array operations) against the plain loops it replaced."""

from __future__ import annotations

import numpy as np
import pytest

from twin.kernels.ordering import factor_layout
from twin.kernels.spring_layout import spring_layout
from twin.learning._spring_engine import row_nonzeros
from twin.learning.rules import LearningRule
from twin.learning.trainer import TrainConfig, Trainer
from twin.physics.springs.task_spec import build_spring_tasks


def _loops(n, ridx, rval, cidx, cval, pin, n_sources):  # type: ignore[no-untyped-def]
    """The layout by dictionaries and loops, entry by entry (the former implementation)."""
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

    pidx = np.where(ridx >= 0, iperm[np.maximum(ridx, 0)], -1)
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
    return lay, pidx, hpos, v0


@pytest.mark.parametrize(("network", "seed"), [(None, 0), (None, 3), ("jammed:16", 2)])
def test_layout_equals_the_loops_entry_for_entry(network: str | None, seed: int) -> None:
    tasks = build_spring_tasks("allostery-strain", network, seed=seed, realizations=2)
    batch = Trainer(tasks, TrainConfig(rule=LearningRule(alpha=10.0))).physics.batch
    ridx, rval = row_nonzeros(batch.rigidity)
    cidx, cval = row_nonzeros(batch.constraints)
    for r in range(batch.realizations):
        n = int((~batch.pad_dof[r]).sum())
        args = (n, ridx[r], rval[r], cidx[r], cval[r], float(batch.pin[r]), batch.n_sources)
        got = spring_layout(*args)
        lay, pidx, hpos, v0 = _loops(*args)
        np.testing.assert_array_equal(got.ridx, pidx)
        np.testing.assert_array_equal(got.hpos, hpos)
        np.testing.assert_array_equal(got.v0, v0)  # the same sums in the same order
        assert (hpos >= 0).sum() > ridx.shape[1]  # every bond has entries
        for name in ("perm", "colptr", "rowind", "diagpos", "offdiag", "ends", "cidx"):
            np.testing.assert_array_equal(getattr(got.factor, name), getattr(lay, name))


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
