"""The direct solver's learning steps for realizations computed one at a time, with less overhead.

:func:`advance_direct` is :func:`twin.kernels.train_step.advance` with the direct solver (one
factorization per update) and the same numbers bit for bit: every value is computed by the same
floating-point operations in the same order. What changes is the work around them:

- the sparse columns' factorization runs from a flat program (:func:`sparse_program`, built once
  per call for each realization): the left-looking updates of each column as ``(target, factor,
  source)`` triples, the pivots in between, and the scatter of every finished column into the
  dense block as one list at the end (the dense block is read only after the sparse columns, and
  each of its entries receives its terms in the original order), so no position map is filled
  and no short inner loop is entered per entry of the factor;
- the views of a realization's arrays (its layout, workspace, examples and the dense block) are
  taken once per call and passed as plain arrays, not taken again at every update (each view
  costs reference counting).

The caller (:class:`twin.kernels.train_run.KernelRun`) uses it when the solver is direct.
"""

from __future__ import annotations

import numpy as np

from ._jit import Arr, jit
from .cholesky import assemble, basis, factor_dense
from .pcg import FACTORIZATIONS
from .status import OK, SINGULAR
from .train_step import Arrays, coefficients, control, edge_rates

__all__ = ["advance_direct", "evaluate_direct", "factor_sparse_flat", "sparse_program"]


@jit
def sparse_program(
    split: int, nt: int, colptr: Arr, rowind: Arr, rlptr: Arr, rlcol: Arr, rlpos: Arr,
    tstart: Arr, pos: Arr,
) -> tuple[Arr, Arr]:  # fmt: skip
    """The flat program of :func:`.cholesky.factor_sparse` for one layout.

    Returns ``uptr`` (``split + 1``: column ``j``'s updates are rows ``uptr[j]..uptr[j+1]-1``;
    the scatter into the dense block follows from ``uptr[split]``) and ``ops`` ``(count, 3)``:
    each row ``(t, a, b)`` stands for ``v[t] -= v[a] * v[b]``. ``pos`` (``n``) is scratch.
    """
    count = 0
    for j in range(split):
        for t in range(rlptr[j], rlptr[j + 1]):
            count += colptr[rlcol[t] + 1] - rlpos[t]
    for j in range(split):
        tail = colptr[j + 1] - tstart[j]
        count += tail * (tail + 1) // 2
    ops = np.empty((count, 3), dtype=np.int64)
    uptr = np.empty(split + 1, dtype=np.int64)
    q = 0
    for j in range(split):
        uptr[j] = q
        for p in range(colptr[j], colptr[j + 1]):
            pos[rowind[p]] = p
        for t in range(rlptr[j], rlptr[j + 1]):
            pj = rlpos[t]
            for p in range(pj, colptr[rlcol[t] + 1]):
                ops[q, 0], ops[q, 1], ops[q, 2] = pos[rowind[p]], pj, p
                q += 1
    uptr[split] = q
    base = colptr[split] - split * nt - split
    for j in range(split):
        c1 = colptr[j + 1]
        for p in range(tstart[j], c1):
            row = base + rowind[p] * nt
            for p2 in range(p, c1):
                ops[q, 0], ops[q, 1], ops[q, 2] = row + rowind[p2], p, p2
                q += 1
    return uptr, ops


@jit
def factor_sparse_flat(split: int, colptr: Arr, uptr: Arr, ops: Arr, v: Arr) -> bool:
    """:func:`.cholesky.factor_sparse` from its flat program; False when a pivot is not positive.

    The same operations in the same order for every stored value (the factor ``v[pj]`` of an
    update run is not changed by it, nor is a scattered column by the scatter).
    """
    for j in range(split):
        for q in range(uptr[j], uptr[j + 1]):
            v[ops[q, 0]] -= v[ops[q, 1]] * v[ops[q, 2]]
        c0 = colptr[j]
        d = v[c0]
        if not d > 0.0:
            return False
        d = np.sqrt(d)
        v[c0] = d
        inv = 1.0 / d
        for p in range(c0 + 1, colptr[j + 1]):
            v[p] *= inv
    for q in range(uptr[split], ops.shape[0]):
        v[ops[q, 0]] -= v[ops[q, 1]] * v[ops[q, 2]]
    return True


@jit
def evaluate_direct(
    k_r: Arr, ne: int, n: int, split: int, first: int, colptr: Arr, rowind: Arr, diagpos: Arr,
    ends: Arr, offdiag: Arr, cidx: Arr, cval: Arr, uptr: Arr, ops: Arr, v: Arr, u: Arr, x: Arr,
    y: Arr, s_mat: Arr, q: Arr, sm: Arr, inputs: Arr, desired: Arr, moment: Arr, lam: float,
    eta: float, alpha: float, dk_r: Arr,
) -> tuple[bool, float, float, float]:  # fmt: skip
    """:func:`.train_step.evaluate_one` from views taken once.

    The layout's arrays, the flat program ``(uptr, ops)`` (:func:`sparse_program`), the
    workspace (``u`` the dense block of ``v``) and the examples of one realization.
    """
    assemble(k_r, ne, ends, n, diagpos, offdiag, v.shape[0], v)
    if not factor_sparse_flat(split, colptr, uptr, ops, v):
        return False, 0.0, 0.0, 0.0
    if not factor_dense(u):
        return False, 0.0, 0.0, 0.0
    basis(n, split, first, colptr, rowind, v, cidx, cval, x, s_mat)
    ok, err, pf, pc = coefficients(s_mat, inputs.shape[1], inputs, desired, moment, lam, eta, sm,
                                   q)  # fmt: skip
    if ok:
        edge_rates(ne, ends, x, q, -alpha / eta, y, dk_r)
    return ok, err, pf, pc


@jit
def advance_direct(
    idx: Arr,
    n_steps: int,
    initial: bool,
    circ: Arrays,
    work: Arrays,
    par: Arr,
    kmin: Arr,
    kmax: Arr,
    state: Arrays,
    iters: Arr,
    status: Arr,
    counters: Arr,
) -> None:
    """:func:`.train_step.advance` with the direct solver (the same arguments but ``pwork``).

    Each realization's loop is that function's: early-stopping check, energy (joules), clipped
    update, lambda control, step count, new step quantities.
    """
    k, dk, lam, active, steps_done, energy, err, pf, pc = state
    alpha, eta, step_s, stop_tol, ctl_tol = par[0], par[1], par[2], par[3], par[4]
    (sizes, colptr, rowind, rlptr, rlcol, rlpos, tstart, diagpos, ends, offdiag, cidx, cval,
     inputs, desired, moment) = circ  # fmt: skip
    v_all, pos_all, x_all, y_all, s_all, q_all, sm_all = work
    for r in idx:
        n, ne, split, first, nvals = sizes[r, 0], sizes[r, 1], sizes[r, 2], sizes[r, 3], sizes[r, 4]
        nt = n - split
        # every view of realization r is taken here, once per call
        v, x, y = v_all[r, :nvals], x_all[r, : n + 1], y_all[r, : n + 1]
        s_r, q_r, sm_r = s_all[r], q_all[r], sm_all[r]
        base = colptr[r, split]
        u = v[base : base + nt * nt].reshape((nt, nt))
        cp, ri, dp, en, od = colptr[r], rowind[r], diagpos[r], ends[r], offdiag[r]
        ci, cv, inp, des, mom = cidx[r], cval[r], inputs[r], desired[r], moment[r]
        uptr, ops = sparse_program(split, nt, cp, ri, rlptr[r], rlcol[r], rlpos[r], tstart[r],
                                   pos_all[r, :n])  # fmt: skip
        k_r, dk_r, kmin_r, kmax_r, cnt = k[r], dk[r], kmin[r], kmax[r], counters[r]
        it = 0
        status[r] = OK
        if initial:
            cnt[FACTORIZATIONS] += 1
            ok, err[r], pf[r], pc[r] = evaluate_direct(
                k_r, ne, n, split, first, cp, ri, dp, en, od, ci, cv, uptr, ops, v, u, x, y, s_r,
                q_r, sm_r, inp, des, mom, lam[r], eta, alpha, dk_r)  # fmt: skip
            if not ok:
                status[r] = SINGULAR
                n_steps = 0
        while it < n_steps:
            if stop_tol > 0.0 and active[r] and not err[r] > stop_tol:
                active[r] = False
            if not active[r]:
                break
            de_free = pf[r] * step_s
            de_clamped = pc[r] * step_s
            energy[0, r] += de_free
            energy[1, r] += de_clamped
            energy[2, r] += de_free
            energy[3, r] += de_clamped
            for e in range(ne):
                k_r[e] = min(max(k_r[e] + dk_r[e], kmin_r[e]), kmax_r[e])
            if ctl_tol > 0.0:
                lam[r] = control(lam[r], err[r], par)
            steps_done[r] += 1
            cnt[FACTORIZATIONS] += 1
            ok, e1, p1, p2 = evaluate_direct(
                k_r, ne, n, split, first, cp, ri, dp, en, od, ci, cv, uptr, ops, v, u, x, y, s_r,
                q_r, sm_r, inp, des, mom, lam[r], eta, alpha, dk_r)  # fmt: skip
            if not ok:
                status[r] = SINGULAR
                break
            err[r], pf[r], pc[r] = e1, p1, p2
            it += 1
        iters[r] = it
