"""The constraint basis by warm-started conjugate gradients, preconditioned by a recent factor.

The trainer's conductances change little per update, so the Cholesky factor of an earlier
Laplacian ``M = L(k_f)`` (left in the factor storage by :func:`.cholesky.sparse_basis`) is a
very good preconditioner for the current ``L = L(k)``: for every vector the ratio
``x^T L x / x^T M x`` lies between the smallest and largest ratio ``rho = k_e / k_f,e`` over
the edges, so the preconditioned condition number is at most ``kappa = rho_max / rho_min`` and
each CG iteration shrinks the energy-norm error by at least ``q = (kappa - 1) / (kappa + 1)``.

:func:`pcg_basis` solves ``L X = C^T`` column by column in lockstep (the ``cw`` columns of the
basis, zero padding untouched), starting from the previous updates' solutions (linearly
extrapolated), and stops a column once a rigorous bound on its error in the energy norm
``||e||_L = sqrt(e^T L e)`` is at most ``tol`` times a lower bound of ``||x||_L``. The bound is
the smaller of

- a posteriori: ``||e||_L^2 = r^T L^-1 r <= r^T M^-1 r / rho_min`` (residual ``r``, the
  preconditioned residual ``z = M^-1 r`` is computed by the iteration anyway);
- a priori: the last a posteriori bound times ``q`` per iteration since (CG minimises the
  energy-norm error over its Krylov space, which contains the damped Richardson iterates),

so a converged column costs no extra preconditioner solve. ``S = C X`` is formed in the
Galerkin form ``S_ab = c_a^T x_b + x_a^T r_b``, whose error ``-e_a^T L e_b`` is second order:
``|dS_ab| <= tol^2 sqrt(S_aa S_bb)`` (outputs, errors and powers derive from ``S``), while the
edge drops (rows of ``D X``) carry the first-order error ``tol`` in the energy norm.

When the bound cannot be met within ``max_iters`` iterations, or ``kappa`` exceeds
``kappa_max``, or the previous update took more than ``refactor_iters`` iterations, the
Laplacian is refactorized (the direct path, exact to rounding) and its factor becomes the new
preconditioner.
"""

from __future__ import annotations

import numpy as np

from ._jit import Arr, jit
from .cholesky import solve_factor, sparse_basis

__all__ = [
    "FACTORIZATIONS",
    "HISTORY",
    "ITERATIONS",
    "LATEST",
    "N_COUNTERS",
    "REFACTOR_NEXT",
    "conductance_ratio",
    "galerkin_s",
    "laplacian_apply",
    "pcg_basis",
    "pcg_iterate",
]

#: Slots of a realization's solver counters (``int64``): total CG iterations, factorizations,
#: number of stored previous solutions (0-2), a flag asking for a refactorization, and which of
#: the two stored solutions is the latest.
ITERATIONS, FACTORIZATIONS, HISTORY, REFACTOR_NEXT, LATEST = 0, 1, 2, 3, 4
#: Number of solver counters per realization.
N_COUNTERS = 5


@jit
def laplacian_apply(k: Arr, ne: int, ends: Arr, n: int, x: Arr, y: Arr) -> None:
    """``y = L x`` for the reduced Laplacian of conductances ``k`` (S); row ``n`` (ground) is 0.

    ``x`` and ``y`` are ``(n + 1, cw)``; ``x[n]`` must be 0.
    """
    cw = x.shape[1]
    for i in range(n + 1):
        for j in range(cw):
            y[i, j] = 0.0
    if cw == 4:
        for e in range(ne):
            a = ends[e, 0]
            b = ends[e, 1]
            ke = k[e]
            d0 = ke * (x[a, 0] - x[b, 0])
            d1 = ke * (x[a, 1] - x[b, 1])
            d2 = ke * (x[a, 2] - x[b, 2])
            d3 = ke * (x[a, 3] - x[b, 3])
            y[a, 0] += d0
            y[a, 1] += d1
            y[a, 2] += d2
            y[a, 3] += d3
            y[b, 0] -= d0
            y[b, 1] -= d1
            y[b, 2] -= d2
            y[b, 3] -= d3
        for j in range(cw):
            y[n, j] = 0.0
        return
    for e in range(ne):
        a = ends[e, 0]
        b = ends[e, 1]
        ke = k[e]
        for jb in range(0, cw, 4):
            d0 = ke * (x[a, jb] - x[b, jb])
            d1 = ke * (x[a, jb + 1] - x[b, jb + 1])
            d2 = ke * (x[a, jb + 2] - x[b, jb + 2])
            d3 = ke * (x[a, jb + 3] - x[b, jb + 3])
            y[a, jb] += d0
            y[a, jb + 1] += d1
            y[a, jb + 2] += d2
            y[a, jb + 3] += d3
            y[b, jb] -= d0
            y[b, jb + 1] -= d1
            y[b, jb + 2] -= d2
            y[b, jb + 3] -= d3
    for j in range(cw):
        y[n, j] = 0.0


@jit
def conductance_ratio(k: Arr, kf_inv: Arr, ne: int) -> tuple[float, float]:
    """Smallest and largest ``k_e / kf_e`` over the edges (``kf_inv = 1 / kf``)."""
    lo = np.inf
    hi = 0.0
    for e in range(ne):
        ratio = k[e] * kf_inv[e]
        lo = min(lo, ratio)
        hi = max(hi, ratio)
    return lo, hi


@jit
def galerkin_s(n: int, c: int, cidx: Arr, cval: Arr, x: Arr, r: Arr, s: Arr) -> None:
    """``S_ab = (c_a^T x_b + x_a^T r_b)``, symmetrised; ``r = C^T - L x`` (second-order error).

    One pass over the rows (``x`` and ``r`` are row-major ``(n + 1, cw)``).
    """
    for a in range(c):
        for b in range(c):
            s[a, b] = 0.0
    for i in range(n):
        for a in range(c):
            xa = x[i, a]
            for b in range(c):
                s[a, b] += xa * r[i, b]
    for a in range(c):
        for b in range(c):
            for slot in range(2):
                if cidx[a, slot] >= 0:
                    s[a, b] += cval[a, slot] * x[cidx[a, slot], b]
    for a in range(c):
        for b in range(a + 1, c):
            m = 0.5 * (s[a, b] + s[b, a])
            s[a, b] = m
            s[b, a] = m


@jit
def _precondition(n: int, split: int, colptr: Arr, rowind: Arr, v: Arr, r: Arr, z: Arr) -> None:
    """``z = M^-1 r`` with the stored factor (row ``n`` stays 0)."""
    cw = r.shape[1]
    for i in range(n + 1):
        for j in range(cw):
            z[i, j] = r[i, j]
    solve_factor(n, split, colptr, rowind, v, z)
    for j in range(cw):
        z[n, j] = 0.0


@jit
def pcg_iterate(
    k: Arr,
    ne: int,
    n: int,
    split: int,
    layout: tuple[Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr],
    v: Arr,
    x: Arr,
    pw: tuple[Arr, ...],
    counters: Arr,
    rho: tuple[float, float],
    tol: float,
    max_iters: int,
) -> int:
    """Warm-started PCG for ``L x = C^T`` to the energy-norm bound ``tol``; iterations or -1.

    ``-1``: not converged within ``max_iters`` iterations (or a breakdown). All columns advance
    in lockstep (row-major passes); a converged column takes steps of length 0.
    """
    colptr, rowind = layout[0], layout[1]
    ends, cidx, cval = layout[7], layout[9], layout[10]
    _kf, xh, r, z, p, ap, sc = pw
    c = cidx.shape[0]
    cw = x.shape[1]
    rho_min, rho_max = rho
    q = (rho_max - rho_min) / (rho_max + rho_min)
    rz, bound, target, done, pap, alpha = sc[0], sc[1], sc[2], sc[3], sc[4], sc[5]
    new, old = xh[counters[LATEST]], xh[1 - counters[LATEST]]
    if counters[HISTORY] >= 2:
        for i in range(n + 1):
            for j in range(cw):
                x[i, j] = 2.0 * new[i, j] - old[i, j]
    else:
        for i in range(n + 1):
            for j in range(cw):
                x[i, j] = new[i, j]
    laplacian_apply(k, ne, ends, n, x, ap)
    for i in range(n + 1):
        for j in range(cw):
            r[i, j] = -ap[i, j]
    for j in range(c):
        for slot in range(2):
            if cidx[j, slot] >= 0:
                r[cidx[j, slot], j] += cval[j, slot]
    _precondition(n, split, colptr, rowind, v, r, z)
    for j in range(cw):
        rz[j] = 0.0
        pap[j] = 0.0  # x^T L x here
    for i in range(n):
        for j in range(cw):
            rz[j] += r[i, j] * z[i, j]
            pap[j] += x[i, j] * ap[i, j]
            p[i, j] = z[i, j]
    for j in range(cw):
        p[n, j] = 0.0
    n_done = 0
    for j in range(cw):
        bound[j] = np.sqrt(max(rz[j], 0.0) / rho_min)
        target[j] = tol * (np.sqrt(max(pap[j], 0.0)) - bound[j])
        done[j] = 1.0 if j >= c or bound[j] <= target[j] else 0.0
        n_done += int(done[j])
    it = 0
    while n_done < cw:
        if it >= max_iters:
            return -1
        laplacian_apply(k, ne, ends, n, p, ap)
        for j in range(cw):
            pap[j] = 0.0
        for i in range(n):
            for j in range(cw):
                pap[j] += p[i, j] * ap[i, j]
        for j in range(cw):
            alpha[j] = 0.0
            if done[j] == 0.0:
                if not pap[j] > 0.0:
                    return -1
                alpha[j] = rz[j] / pap[j]
        for i in range(n):
            for j in range(cw):
                x[i, j] += alpha[j] * p[i, j]
                r[i, j] -= alpha[j] * ap[i, j]
        for j in range(cw):
            if done[j] == 0.0:
                bound[j] *= q
                if bound[j] <= target[j]:
                    done[j] = 1.0
                    n_done += 1
        it += 1
        if n_done == cw:
            break
        _precondition(n, split, colptr, rowind, v, r, z)
        for j in range(cw):
            pap[j] = 0.0  # the new r^T z here
        for i in range(n):
            for j in range(cw):
                pap[j] += r[i, j] * z[i, j]
        for j in range(cw):
            alpha[j] = 0.0  # beta here
            if done[j] != 0.0:
                continue
            bound[j] = min(bound[j], np.sqrt(max(pap[j], 0.0) / rho_min))
            if bound[j] <= target[j]:
                done[j] = 1.0
                n_done += 1
                continue
            alpha[j] = pap[j] / rz[j]
            rz[j] = pap[j]
        for i in range(n):
            for j in range(cw):
                p[i, j] = z[i, j] + alpha[j] * p[i, j]
    return it


@jit
def pcg_basis(
    k: Arr,
    ne: int,
    n: int,
    split: int,
    first: int,
    layout: tuple[Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr, Arr],
    v: Arr,
    pos: Arr,
    x: Arr,
    s: Arr,
    pw: tuple[Arr, ...],
    counters: Arr,
    par: Arr,
) -> bool:
    """Basis ``x = L^-1 C^T`` and ``s = C x`` by PCG, refactorizing when it pays; False if singular.

    ``pw`` is ``(kf, xh, r, z, p, ap, sc)``: inverse conductances of the stored factor (1/S),
    the two previous solutions, four ``(n + 1, cw)`` vectors and ``(6, cw)`` column scalars.
    ``counters`` are the realization's :data:`ITERATIONS`, ... slots; ``par`` the trainer's
    settings (``par[9]`` tol, ``par[10]`` max iterations, ``par[11]`` refactor iterations,
    ``par[12]`` kappa max).
    """
    kf, xh, r, _z, _p, _ap, _sc = pw
    tol, max_iters, refactor_iters, kappa_max = par[9], int(par[10]), int(par[11]), par[12]
    cw = x.shape[1]
    c = layout[9].shape[0]
    refactor = counters[HISTORY] == 0 or counters[REFACTOR_NEXT] != 0
    it = -1
    if not refactor:
        rho = conductance_ratio(k, kf, ne)
        if rho[0] > 0.0 and rho[1] <= kappa_max * rho[0]:
            it = pcg_iterate(k, ne, n, split, layout, v, x, pw, counters, rho, tol, max_iters)
    if it < 0:
        if not sparse_basis(k, ne, n, split, first, layout, v, pos, x, s):
            return False
        for e in range(ne):
            kf[e] = 1.0 / k[e]
        counters[FACTORIZATIONS] += 1
        counters[REFACTOR_NEXT] = 0
    else:
        galerkin_s(n, c, layout[9], layout[10], x, r, s)
        counters[ITERATIONS] += it
        counters[REFACTOR_NEXT] = 1 if it > refactor_iters else 0
    latest = 1 - counters[LATEST]  # overwrite the older solution
    for i in range(n + 1):
        for j in range(cw):
            xh[latest, i, j] = x[i, j]
    counters[LATEST] = latest
    counters[HISTORY] = min(counters[HISTORY] + 1, 2)
    return True
