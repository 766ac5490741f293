"""Learning steps of realizations that share one factor layout, computed in lanes.

:func:`advance_lanes` is :func:`twin.kernels.train_step.advance` for a group of realizations with
the same :class:`~.ordering.FactorLayout` (one network, the same constrained nodes) and the
direct solver: their Laplacians are factorized together by :func:`.lanes.lane_sparse_basis`,
then each lane's rule coefficients come from :func:`.train_step.coefficients` and its rates from
the same written-out quadratic form as :func:`.train_step.edge_rates4`. Every realization's
numbers are bit for bit those of :func:`.train_step.advance` (the tests compare whole runs); the
per-update cost falls because each layout index is read once for all lanes and the innermost
loops are vectorised across them.
"""

from __future__ import annotations

import numpy as np

from ._jit import Arr, jit
from .lanes import LANES, lane_sparse_basis
from .pcg import FACTORIZATIONS
from .status import OK, SINGULAR
from .train_step import Arrays, _layout, coefficients, control

__all__ = ["LANE_COLUMNS", "advance_lanes", "lane_rates"]

#: Basis columns the lane kernels handle (constraint rows rounded up to a multiple of 4).
LANE_COLUMNS = 4


@jit
def lane_rates(
    idx: Arr, running: Arr, ne: int, ends: Arr, x: Arr, qs: Arr, qc: Arr, scale: float, dk: Arr
) -> None:
    """``dk[r] = scale * g^T q_r g`` per edge for the running lanes (:func:`edge_rates4`).

    ``x`` is the lane basis (flat ``(n + 1, 4, LANES)``), ``qs[r]`` realization ``r``'s form
    ``q`` (at least 4 x 4); ``qc`` ``(10 + E, LANES)`` scratch (coefficients, then rates).
    """
    wl = idx.shape[0]
    stride = 4 * LANES
    for w in range(wl):
        q = qs[idx[w]]
        qc[0, w], qc[1, w] = q[0, 0], 2.0 * q[0, 1]
        qc[2, w], qc[3, w] = 2.0 * q[0, 2], 2.0 * q[0, 3]
        qc[4, w], qc[5, w], qc[6, w] = q[1, 1], 2.0 * q[1, 2], 2.0 * q[1, 3]
        qc[7, w], qc[8, w], qc[9, w] = q[2, 2], 2.0 * q[2, 3], q[3, 3]
    q00, q01, q02, q03, q11 = qc[0], qc[1], qc[2], qc[3], qc[4]
    q12, q13, q22, q23, q33 = qc[5], qc[6], qc[7], qc[8], qc[9]
    for e in range(ne):
        xa = ends[e, 0] * stride
        xb = ends[e, 1] * stride
        a0, b0 = x[xa : xa + wl], x[xb : xb + wl]
        a1, b1 = x[xa + LANES : xa + LANES + wl], x[xb + LANES : xb + LANES + wl]
        a2, b2 = x[xa + 2 * LANES : xa + 2 * LANES + wl], x[xb + 2 * LANES : xb + 2 * LANES + wl]
        a3, b3 = x[xa + 3 * LANES : xa + 3 * LANES + wl], x[xb + 3 * LANES : xb + 3 * LANES + wl]
        out = qc[10 + e]
        for w in range(wl):
            g0 = a0[w] - b0[w]
            g1 = a1[w] - b1[w]
            g2 = a2[w] - b2[w]
            g3 = a3[w] - b3[w]
            quad = g0 * (q00[w] * g0 + q01[w] * g1 + q02[w] * g2 + q03[w] * g3)
            quad += g1 * (q11[w] * g1 + q12[w] * g2 + q13[w] * g3)
            out[w] = scale * (quad + g2 * (q22[w] * g2 + q23[w] * g3) + q33[w] * g3 * g3)
    for w in range(wl):
        if running[w]:
            r = idx[w]
            for e in range(ne):
                dk[r, e] = qc[10 + e, w]


@jit
def _evaluate(
    idx: Arr, running: Arr, circ: Arrays, k: Arr, lam: Arr, par: Arr, work: Arrays, lws: Arrays,
    counters: Arr, dk: Arr, out: Arr,
) -> None:  # fmt: skip
    """Step quantities of the running lanes into ``out`` ``(4, W)``: ok, error, P_F, P_C."""
    alpha, eta = par[0], par[1]
    sizes, ends, inputs, desired, moment = circ[0], circ[8], circ[12], circ[13], circ[14]
    s_all, q_all, sm_all = work[4], work[5], work[6]
    r0 = idx[0]
    lane_sparse_basis(k, idx, sizes[r0], _layout(circ, r0), lws)
    _v, _pos, x, s, _acc, ok, qc = lws
    c = s.shape[0]
    for w in range(idx.shape[0]):
        out[0, w] = 0.0
        if not running[w]:
            continue
        r = idx[w]
        counters[r, FACTORIZATIONS] += 1
        if not ok[w]:
            continue
        s_r = s_all[r]
        for i in range(c):
            for j in range(c):
                s_r[i, j] = s[i, j, w]
        good, err, pf, pc = coefficients(s_r, inputs.shape[2], inputs[r], desired[r], moment[r],
                                         lam[r], eta, sm_all[r], q_all[r])  # fmt: skip
        if good:
            out[0, w], out[1, w], out[2, w], out[3, w] = 1.0, err, pf, pc
    lane_rates(idx, out[0] > 0.0, sizes[r0, 1], ends[r0], x, q_all, qc, -alpha / eta, dk)


@jit
def advance_lanes(
    idx: Arr,
    n_steps: int,
    initial: bool,
    circ: Arrays,
    work: Arrays,
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
    :func:`.train_step.advance` plus ``lws``, the group's lane workspace
    (:meth:`twin.kernels.train_arrays.Realizations.lane_workspace`). Each lane follows the
    one-realization loop exactly; a lane leaves it when its realization stops or its circuit is
    singular, the group when every lane has left.
    """
    k, dk, lam, active, steps_done, energy, err, pf, pc = state
    step_s, stop_tol, ctl_tol = par[2], par[3], par[4]
    wg = idx.shape[0]
    ne = circ[0][idx[0], 1]
    running = np.ones(wg, dtype=np.bool_)
    for w in range(1, wg):
        if idx[w] == idx[0]:
            running[w] = False  # an unused lane
    out = np.zeros((4, wg))
    for w in range(wg):
        iters[idx[w]] = 0
        status[idx[w]] = OK
    if initial:
        _evaluate(idx, running, circ, k, lam, par, work, lws, counters, dk, out)
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
            if stop_tol > 0.0 and active[r] and not err[r] > stop_tol:
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
            if ctl_tol > 0.0:
                lam[r] = control(lam[r], err[r], par)
            steps_done[r] += 1
            moved = True
        if not moved:
            break
        _evaluate(idx, running, circ, k, lam, par, work, lws, counters, dk, out)
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
