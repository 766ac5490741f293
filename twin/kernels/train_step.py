"""Compiled learning steps of the synchronous trainer: many steps per call, per realization.

Per realization and step, in reduced (ground-eliminated) node space with the nodes touched by a
boundary condition ordered last (PHYSICS.md sections 1-4):

1. factorize ``L = F F^T`` and form the basis ``X = L^-1 C^T`` and ``S = C X``
   (:func:`twin.kernels.cholesky.sparse_basis`; the direct solver), or solve for ``X`` by
   conjugate gradients preconditioned by a recent factorization (:func:`twin.kernels.pcg.pcg_basis`;
   the ``pcg`` solver, to a stated energy-norm tolerance);
2. with ``A = S_ss^-1`` the free currents of example ``b`` are ``A b``, the free outputs
   ``W b`` (``W = S_ts A``), the error ``e = y - W b``; the clamped currents are the free ones plus
   ``d = eta S^-1 [0; e]``. The mean squared drops enter the rule only through
   ``mean (dV^C)^2 - (1 - lam) mean (dV^F)^2 = g^T Q g`` for an edge's basis drops ``g`` (a row of
   ``D X``) and the ``c x c`` matrix ``Q = lam M_F + mean(mu_F d^T + d mu_F^T) + mean(d d^T)``,
   ``M_F = A (mean b b^T) A``: the free-clamped difference is formed from ``d`` itself, so no
   digits are lost to cancellation (:func:`coefficients`);
3. powers follow from ``G^T diag(k) G = S``: ``P_F = mean b^T A b`` and
   ``P_C = P_F + eta^2 mean e^T (S^-1)_tt e`` (watts).

:func:`advance` runs the trainer loop (early stopping, energy, clipped update, lambda control)
over the arrays of :class:`twin.kernels.train_run.KernelRun`.
"""

from __future__ import annotations

import numpy as np

from ._jit import Arr, jit
from .cholesky import sparse_basis
from .pcg import FACTORIZATIONS, pcg_basis
from .small import mm, small_inverse
from .status import OK, SINGULAR

__all__ = ["advance", "coefficients", "edge_rates", "evaluate", "evaluate_one", "rates_from_basis"]

Arrays = tuple[np.ndarray, ...]


@jit
def example_moments(
    w: Arr, ns: int, nt: int, inputs: Arr, desired: Arr, e: Arr, be: Arr, ee: Arr
) -> float:
    """Free-state errors ``e = y - W b`` summed into ``be = sum b e^T``, ``ee = sum e e^T``.

    Returns the summed squared error (V^2).
    """
    for i in range(ns):
        for j in range(nt):
            be[i, j] = 0.0
    for i in range(nt):
        for j in range(nt):
            ee[i, j] = 0.0
    err = 0.0
    for ex in range(inputs.shape[0]):
        tot = 0.0
        for i in range(nt):
            out = 0.0
            for j in range(ns):
                out += w[i, j] * inputs[ex, j]
            e[i] = desired[ex, i] - out
            tot += e[i] * e[i]
        err += tot
        for i in range(ns):
            b = inputs[ex, i]
            for j in range(nt):
                be[i, j] += b * e[j]
        for i in range(nt):
            for j in range(nt):
                ee[i, j] += e[i] * e[j]
    return err


@jit
def coefficients(
    s_mat: Arr,
    ns: int,
    inputs: Arr,
    desired: Arr,
    moment: Arr,
    lam: float,
    eta: float,
    sm: Arr,
    q: Arr,
) -> tuple[bool, float, float, float]:
    """Error (V^2), free and clamped power (W) and the rule's quadratic form ``q`` (c x c).

    ``sm`` is scratch of shape ``(12, c, c)``. Returns ``(ok, error, free_power, clamped_power)``.
    """
    c = s_mat.shape[0]
    nt = c - ns
    f, a_inv, s_inv, w, be, ee, am, ab = sm[0], sm[1], sm[2], sm[3], sm[4], sm[5], sm[6], sm[7]
    cross, ze, mf, vec = sm[8], sm[9], sm[10], sm[11]
    if not small_inverse(s_mat, ns, f, vec[0], a_inv):
        return False, 0.0, 0.0, 0.0
    if not small_inverse(s_mat, c, f, vec[0], s_inv):
        return False, 0.0, 0.0, 0.0
    mm(s_mat[ns:, :], a_inv, nt, ns, ns, w)  # free outputs per input volt, S_ts A
    err = example_moments(w, ns, nt, inputs, desired, vec[1], be, ee)
    inv_m = 1.0 / inputs.shape[0]
    mm(a_inv, moment, ns, ns, ns, am)  # A sum(b b^T)
    p_free = 0.0
    for i in range(ns):
        p_free += am[i, i]
    p_free *= inv_m
    p_extra = 0.0
    for i in range(nt):
        for j in range(nt):
            p_extra += s_inv[ns + i, ns + j] * ee[j, i]
    p_clamped = p_free + eta * eta * p_extra * inv_m
    # d = Z e with Z = eta S^-1[:, s:]: sum mu_F d^T = A be Z^T, sum d d^T = Z ee Z^T
    mm(a_inv, be, ns, ns, nt, ab)
    for i in range(ns):
        for j in range(c):
            acc = 0.0
            for l2 in range(nt):
                acc += ab[i, l2] * s_inv[j, ns + l2]
            cross[i, j] = eta * acc
    for i in range(c):
        for j in range(nt):
            acc = 0.0
            for l2 in range(nt):
                acc += s_inv[i, ns + l2] * ee[l2, j]
            ze[i, j] = eta * acc
    mm(am, a_inv, ns, ns, ns, mf)  # sum mu_F mu_F^T
    for i in range(c):
        for j in range(c):
            v = 0.0
            for l2 in range(nt):
                v += ze[i, l2] * s_inv[j, ns + l2]
            v *= eta
            if i < ns:
                v += cross[i, j]
                if j < ns:
                    v += lam * mf[i, j]
            if j < ns:
                v += cross[j, i]
            q[i, j] = v * inv_m
    return True, err * inv_m, p_free, p_clamped


@jit
def edge_rates4(ne: int, ends: Arr, x: Arr, q: Arr, scale: float, dk: Arr) -> None:
    """:func:`_edge_rates` for 4 basis columns, the quadratic form written out."""
    q00, q01, q02, q03 = q[0, 0], 2.0 * q[0, 1], 2.0 * q[0, 2], 2.0 * q[0, 3]
    q11, q12, q13 = q[1, 1], 2.0 * q[1, 2], 2.0 * q[1, 3]
    q22, q23, q33 = q[2, 2], 2.0 * q[2, 3], q[3, 3]
    for e in range(ne):
        a = ends[e, 0]
        b = ends[e, 1]
        g0 = x[a, 0] - x[b, 0]
        g1 = x[a, 1] - x[b, 1]
        g2 = x[a, 2] - x[b, 2]
        g3 = x[a, 3] - x[b, 3]
        quad = g0 * (q00 * g0 + q01 * g1 + q02 * g2 + q03 * g3)
        quad += g1 * (q11 * g1 + q12 * g2 + q13 * g3)
        dk[e] = scale * (quad + g2 * (q22 * g2 + q23 * g3) + q33 * g3 * g3)


@jit
def edge_rates(ne: int, ends: Arr, x: Arr, q: Arr, scale: float, y: Arr, dk: Arr) -> None:
    """``dk_e = scale * g_e^T q g_e`` with ``g_e = x[u] - x[v]`` (siemens per step).

    ``q`` is symmetric; ``y`` (shape of ``x``) is scratch.
    """
    rows, cw = x.shape
    if cw == 4:
        edge_rates4(ne, ends, x, q, scale, dk)
        return
    xf = x.ravel()
    yf = y.ravel()
    for t in range(yf.shape[0]):
        yf[t] = 0.0
    for l2 in range(cw):  # y = x q, column by column over all rows
        for j in range(cw):
            f = q[l2, j]
            for i in range(rows):
                yf[i * cw + j] += f * xf[i * cw + l2]
    for e in range(ne):
        a = ends[e, 0]
        b = ends[e, 1]
        a0 = a1 = a2 = a3 = 0.0
        for jb in range(0, cw, 4):
            a0 += (x[a, jb] - x[b, jb]) * (y[a, jb] - y[b, jb])
            a1 += (x[a, jb + 1] - x[b, jb + 1]) * (y[a, jb + 1] - y[b, jb + 1])
            a2 += (x[a, jb + 2] - x[b, jb + 2]) * (y[a, jb + 2] - y[b, jb + 2])
            a3 += (x[a, jb + 3] - x[b, jb + 3]) * (y[a, jb + 3] - y[b, jb + 3])
        dk[e] = scale * ((a0 + a1) + (a2 + a3))


@jit
def rates_from_basis(
    r: int, circ: Arrays, lam: float, eta: float, alpha: float, ws: Arrays, dk_r: Arr
) -> tuple[bool, float, float, float]:
    """Step quantities of realization ``r`` from its basis ``x`` and ``S`` (in ``ws``)."""
    ends, inputs, desired, moment = circ[8], circ[12], circ[13], circ[14]
    _v, _pos, x, y, s_mat, q, sm = ws
    ne = circ[0][r, 1]
    ok, err, pf, pc = coefficients(s_mat, inputs.shape[2], inputs[r], desired[r], moment[r],
                                   lam, eta, sm, q)  # fmt: skip
    if ok:
        edge_rates(ne, ends[r], x, q, -alpha / eta, y, dk_r)
    return ok, err, pf, pc


@jit
def _layout(circ: Arrays, r: int) -> tuple[Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr]:
    (_sizes, colptr, rowind, rlptr, rlcol, rlpos, tstart, diagpos, ends, offdiag, cidx, cval,
     _inputs, _desired, _moment) = circ  # fmt: skip
    return (colptr[r], rowind[r], rlptr[r], rlcol[r], rlpos[r], tstart[r], diagpos[r], ends[r],
            offdiag[r], cidx[r], cval[r])  # fmt: skip


@jit
def evaluate_one(
    r: int, circ: Arrays, k_r: Arr, lam: float, eta: float, alpha: float, ws: Arrays, dk_r: Arr
) -> tuple[bool, float, float, float]:
    """All step quantities of realization ``r``; ``(ok, error, free power, clamped power)``.

    ``ws`` is the realization's :func:`workspace`; ``dk_r`` receives the rate (S per step).
    The direct path: one sparse factorization per call.
    """
    sizes = circ[0]
    v, pos, x, _y, s_mat, _q, _sm = ws
    n, ne, split, first = sizes[r, 0], sizes[r, 1], sizes[r, 2], sizes[r, 3]
    if not sparse_basis(k_r, ne, n, split, first, _layout(circ, r), v, pos, x, s_mat):
        return False, 0.0, 0.0, 0.0
    return rates_from_basis(r, circ, lam, eta, alpha, ws, dk_r)


@jit
def evaluate(
    r: int,
    circ: Arrays,
    k_r: Arr,
    lam: float,
    eta: float,
    alpha: float,
    ws: Arrays,
    pws: Arrays,
    counters: Arr,
    par: Arr,
    dk_r: Arr,
) -> tuple[bool, float, float, float]:
    """:func:`evaluate_one` with the configured solver (``par[8]``: 0 direct, 1 PCG).

    ``pws`` is the realization's PCG workspace, ``counters`` its solver counters
    (:data:`twin.kernels.pcg.ITERATIONS`, ...).
    """
    if par[8] == 0.0:
        counters[FACTORIZATIONS] += 1
        return evaluate_one(r, circ, k_r, lam, eta, alpha, ws, dk_r)
    sizes = circ[0]
    v, pos, x, _y, s_mat, _q, _sm = ws
    n, ne, split, first = sizes[r, 0], sizes[r, 1], sizes[r, 2], sizes[r, 3]
    if not pcg_basis(k_r, ne, n, split, first, _layout(circ, r), v, pos, x, s_mat, pws,
                     counters, par):  # fmt: skip
        return False, 0.0, 0.0, 0.0
    return rates_from_basis(r, circ, lam, eta, alpha, ws, dk_r)


@jit
def workspace(work: Arrays, r: int, n: int, nvals: int) -> Arrays:
    """Realization ``r``'s views of the scratch arrays (:meth:`Realizations.workspace`)."""
    v, pos, x, y, s_mat, q, sm = work
    return v[r, :nvals], pos[r, :n], x[r, : n + 1], y[r, : n + 1], s_mat[r], q[r], sm[r]


@jit
def pcg_workspace(pwork: Arrays, r: int, n: int) -> Arrays:
    """Realization ``r``'s views of the PCG arrays (:meth:`Realizations.pcg_workspace`)."""
    kf, xh, res, z, p, ap, sc = pwork
    m = n + 1
    return kf[r], xh[r, :, :m], res[r, :m], z[r, :m], p[r, :m], ap[r, :m], sc[r]


@jit
def control(lam: float, error: float, par: Arr) -> float:
    """Dynamic lambda control: :meth:`twin.learning.rules.LambdaControl.step`, ``dt = alpha``."""
    return control_to(lam, error, par, par[4])


@jit
def control_to(lam: float, error: float, par: Arr, tol: float) -> float:
    """:func:`control` to the tolerance ``tol`` (V^2) in place of ``par[4]``."""
    alpha, rho, p, lam_max = par[0], par[5], par[6], par[7]
    ratio = tol / max(error, np.finfo(np.float64).tiny)
    growth = rho * alpha * (ratio**p - 1.0)
    return min(lam * np.exp(growth), lam_max)


@jit
def advance(
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
    pwork: Arrays,
    counters: Arr,
) -> None:
    """Advance realizations ``idx`` by up to ``n_steps`` learning steps.

    With ``initial`` the step quantities of the current conductances are computed first. Each
    step mirrors one iteration of the numpy trainer loop: early-stopping check, energy
    accumulation (joules), clipped update, lambda control, step count, new step quantities.
    A realization leaves the loop when it stops; ``iters[r]`` counts the steps it took here and
    ``status[r]`` is :data:`~.status.SINGULAR` when its circuit equations could not be solved.
    ``pwork`` holds the PCG arrays and ``counters`` ``(R, 4)`` the solver counters.
    """
    k, dk, lam, active, steps_done, energy, err, pf, pc = state
    alpha, eta, step_s, stop_tol, ctl_tol = par[0], par[1], par[2], par[3], par[4]
    sizes = circ[0]
    for r in idx:
        ws = workspace(work, r, sizes[r, 0], sizes[r, 4])
        pws = pcg_workspace(pwork, r, sizes[r, 0])
        ne = sizes[r, 1]
        it = 0
        status[r] = OK
        if initial:
            ok, err[r], pf[r], pc[r] = evaluate(r, circ, k[r], lam[r], eta, alpha, ws, pws,
                                                counters[r], par, dk[r])  # fmt: skip
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
                k[r, e] = min(max(k[r, e] + dk[r, e], kmin[r, e]), kmax[r, e])
            if ctl_tol > 0.0:
                lam[r] = control(lam[r], err[r], par)
            steps_done[r] += 1
            ok, e1, p1, p2 = evaluate(r, circ, k[r], lam[r], eta, alpha, ws, pws, counters[r],
                                      par, dk[r])  # fmt: skip
            if not ok:
                status[r] = SINGULAR
                break
            err[r], pf[r], pc[r] = e1, p1, p2
            it += 1
        iters[r] = it
