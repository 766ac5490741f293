"""Learning steps of realizations that share one factor layout, computed in lanes.

:func:`advance_lanes` is :func:`twin.kernels.train_step.advance` for a group of realizations with
the same :class:`~.ordering.FactorLayout` (one network, the same constrained nodes) and the
direct solver: their Laplacians are factorized together by :func:`.lanes.lane_sparse_basis`,
the rule's coefficients of all lanes by :func:`.lane_rule.lane_coefficients` and their rates
from the written-out quadratic form of :func:`.train_step.edge_rates4`
(:func:`.simd.lane_rate`). Every realization's numbers are bit for bit those of
:func:`.train_step.advance` (the same operations in the same order; the tests compare whole
runs); the per-update cost falls because each layout index is read once for all lanes and each
operation is one vector instruction for all of them (:mod:`.simd`).
"""

from __future__ import annotations

import numpy as np

from ._jit import Arr, jit
from .direct import sparse_program
from .lane_rule import lane_coefficients, lane_examples, lane_form, single_row
from .lanes import LANES, lane_sparse_basis
from .pcg import FACTORIZATIONS
from .simd import lane_rate
from .status import OK, SINGULAR
from .train_step import Arrays, control_to

__all__ = ["LANE_COLUMNS", "advance_lanes", "lane_layout", "lane_rates"]

W = LANES

#: Basis columns the lane kernels handle (constraint rows rounded up to a multiple of 4).
LANE_COLUMNS = 4


@jit
def lane_rates(idx: Arr, good: Arr, ne: int, ends: Arr, x: Arr, qc: Arr, dk: Arr) -> None:
    """``dk[r] = scale * g^T q_r g`` per edge for the lanes ``good`` (:func:`edge_rates4`).

    ``x`` is the lane basis (rows ``(n + 1, 4)``), ``qc`` ``11 + E`` rows: the form's
    coefficients and scale (:func:`.lane_rule.lane_form`), then room for the rates.
    """
    for e in range(ne):
        lane_rate(qc, 11 + e, x, ends[e, 0] * 4, x, ends[e, 1] * 4, qc, 0)
    for w in range(idx.shape[0]):
        if good[w]:
            r = idx[w]
            for e in range(ne):
                dk[r, e] = qc[(11 + e) * W + w]


@jit
def lane_layout(circ: Arrays, r: int) -> tuple[Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr]:
    """Realization ``r``'s ``(colptr, rowind, tstart, diagpos, ends, offdiag, cidx, cval)``."""
    return (circ[1][r], circ[2][r], circ[6][r], circ[7][r], circ[8][r], circ[9][r], circ[10][r],
            circ[11][r])  # fmt: skip


@jit
def _evaluate(
    idx: Arr, running: Arr, circ: Arrays, k: Arr, lam: Arr, par: Arr, lws: Arrays,
    program: tuple[Arr, Arr], counters: Arr, dk: Arr, out: Arr,
) -> None:  # fmt: skip
    """Step quantities of the running lanes into ``out`` ``(4, W)``: ok, error, P_F, P_C.

    The rates' scale is each lane's ``-alpha / eta`` (``alpha`` of lane ``w``: ``lws[10][w]``).
    """
    alpha, eta = par[0], par[1]
    sizes, ends, inputs = circ[0], circ[8], circ[12]
    r0 = idx[0]
    lane_sparse_basis(k, idx, sizes[r0], lane_layout(circ, r0), program, lws)
    x, s, ok, qc, z, ex, lam_l = lws[1], lws[2], lws[4], lws[5], lws[7], lws[8], lws[9]
    c = circ[10].shape[1]
    for w in range(idx.shape[0]):
        lam_l[w] = lam[idx[w]]
    lane_coefficients(s, c, inputs.shape[2], inputs.shape[1], ex, lam_l, eta, z)
    good = single_row(c, 11)
    for w in range(idx.shape[0]):
        out[0, w] = 0.0
        if not running[w]:
            continue
        counters[idx[w], FACTORIZATIONS] += 1
        if ok[w] and z[good * W + w] > 0.0:
            out[0, w] = 1.0
            for t in range(1, 4):
                out[t, w] = z[single_row(c, t + 1) * W + w]
    lane_form(z, c, -alpha / eta, qc)
    alphas = lws[10]
    for w in range(idx.shape[0]):  # each lane's own learning rate (the cells of one batch)
        qc[10 * W + w] = -alphas[w] / eta
    lane_rates(idx, out[0] > 0.0, sizes[r0, 1], ends[r0], x, qc, dk)


@jit
def advance_lanes(
    idx: Arr,
    n_steps: int,
    initial: bool,
    circ: Arrays,
    lws: Arrays,
    par: Arr,
    kmin: Arr,
    kmax: Arr,
    state: Arrays,
    iters: Arr,
    status: Arr,
    counters: Arr,
) -> None:
    """Advance realizations ``idx`` (one shared layout, direct solver) by up to ``n_steps`` steps.

    ``idx`` has :data:`.lanes.LANES` entries: the group's realizations, then its first one
    repeated in unused lanes (computed, never written back). The other arguments are those of
    :func:`.train_step.advance` (but ``work`` and ``pwork``) plus ``lws``, the group's lane
    workspace (:meth:`twin.kernels.train_arrays.Realizations.lane_workspace`), whose last row
    holds each lane's learning rate alpha (``par[0]`` is not read for the rates: the lanes may
    be cells of one batch at different alphas; with lambda control every lane must have
    ``par[0]``, the control's time step), and the row after it each lane's early-stopping
    tolerance (``par[3]`` is not read: the cells of one batch may stop at different tolerances;
    0: none), and the row after that each lane's lambda-control tolerance (``par[4]`` is not
    read; 0: no control). Each lane follows
    the one-realization loop exactly; a lane leaves it when its realization stops or its circuit is
    singular, the group when every lane has left.
    """
    k, dk, lam, active, steps_done, energy, err, pf, pc = state
    step_s = par[2]
    stops, ctls = lws[11], lws[12]
    wg = idx.shape[0]
    r0 = idx[0]
    ne, n, split = circ[0][r0, 1], circ[0][r0, 0], circ[0][r0, 2]
    program = sparse_program(split, n - split, circ[1][r0], circ[2][r0], circ[3][r0],
                             circ[4][r0], circ[5][r0], circ[6][r0],
                             np.empty(n, dtype=np.int64))  # fmt: skip
    lane_examples(idx, circ[12], circ[13], circ[14], lws[8])
    running = np.ones(wg, dtype=np.bool_)
    for w in range(1, wg):
        if idx[w] == idx[0]:
            running[w] = False  # an unused lane
    out = np.zeros((4, wg))
    for w in range(wg):
        iters[idx[w]] = 0
        status[idx[w]] = OK
    if initial:
        _evaluate(idx, running, circ, k, lam, par, lws, program, counters, dk, out)
        for w in range(wg):
            r = idx[w]
            if not running[w]:
                continue
            if out[0, w] > 0.0:
                err[r], pf[r], pc[r] = out[1, w], out[2, w], out[3, w]
            else:
                status[r] = SINGULAR
                running[w] = False
    for _it in range(n_steps):
        moved = False
        for w in range(wg):
            r = idx[w]
            if not running[w]:
                continue
            if stops[w] > 0.0 and active[r] and not err[r] > stops[w]:
                active[r] = False
            if not active[r]:
                running[w] = False
                continue
            de_free = pf[r] * step_s
            de_clamped = pc[r] * step_s
            energy[0, r] += de_free
            energy[1, r] += de_clamped
            energy[2, r] += de_free
            energy[3, r] += de_clamped
            for e in range(ne):
                k[r, e] = min(max(k[r, e] + dk[r, e], kmin[r, e]), kmax[r, e])
            if ctls[w] > 0.0:
                lam[r] = control_to(lam[r], err[r], par, ctls[w])
            steps_done[r] += 1
            moved = True
        if not moved:
            break
        _evaluate(idx, running, circ, k, lam, par, lws, program, counters, dk, out)
        for w in range(wg):
            r = idx[w]
            if not running[w]:
                continue
            if out[0, w] > 0.0:
                err[r], pf[r], pc[r] = out[1, w], out[2, w], out[3, w]
                iters[r] += 1
            else:
                status[r] = SINGULAR
                running[w] = False
