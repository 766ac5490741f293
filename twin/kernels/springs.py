"""Compiled linear-response steps of spring networks (the fast path of
:mod:`twin.physics.springs.linear`, step for step).

Per realization and update: scatter ``H_F = R^T k R + K C_S^T C_S`` into the storage of its
sparse Cholesky factor (:mod:`.spring_layout`: minimum-degree order, the constraint bonds'
degrees of freedom last), factor it (:func:`.cholesky.factor_sparse` and
:func:`.cholesky.factor_dense`), form the basis ``X = H_F^-1 C^T`` and ``S = C X``
(:func:`.cholesky.basis`: the forward solve touches only the constraint block) and ``G = R X``,
then the free state, the nudge's target forces (a ``t x t`` solve) and the rule's two terms,
update the stiffnesses (clipped) and lambda (dynamic control) and accumulate the elastic
energies, for up to ``n_steps`` updates without returning to Python.

Structure (``R`` realizations, ``E`` padded bonds, ``c = s + t`` constraint bonds, ``m``
examples), from :func:`.spring_layout.stack_spring_layouts`: ``sizes`` ``(R, 4)``; the factor
pattern ``colptr, rowind, rlptr, rlcol, rlpos, tstart``; ``ridx, rval`` ``(R, E, 4)``
rigidity-row nonzeros in elimination order (index -1 for none); ``hpos`` ``(R, E, 4, 4)`` their
storage positions; ``v0`` the constant part of ``H_F``; ``cidx, cval`` ``(R, c, 4)`` the
constraint rows. Then ``l0`` ``(R, c)`` m; ``pin`` ``(R,)`` N/m; ``w_s`` ``(R, s, m)`` source pin
forces (N); ``src_ext`` ``(R, s, m)`` source rest extensions ``l0 eps`` (m); ``desired``
``(R, m, t)`` target strains.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import Arr, jit
from .cholesky import basis, factor_dense, factor_sparse
from .small import solve_small

__all__ = ["spring_quantities", "spring_steps"]


@jit
def spring_quantities(
    r: int, kr: Arr, sizes: Arr, colptr: Arr, rowind: Arr, rlptr: Arr, rlcol: Arr, rlpos: Arr,
    tstart: Arr, ridx: Arr, rval: Arr, hpos: Arr, v0: Arr, cidx: Arr, cval: Arr, l0: Arr,
    pin: Arr, w_s: Arr, src_ext: Arr, desired: Arr, eta: float, lam: float, alpha: float,
    v: Arr, pos: Arr, x: Arr, sm: Arr, g: Arr, ext: Arr, extc: Arr, y: Arr, dk: Arr, out: Arr,
) -> bool:  # fmt: skip
    """Error, free and clamped energy into ``out[:3]`` and the update into ``dk``; False if
    ``H_F`` is not positive definite (a floppy mode).

    ``v`` (stored values), ``pos`` (degrees of freedom) and ``x`` (``(n + 1, cw)``, ``cw`` the
    constraint count rounded up to a multiple of 4) are scratch.
    """
    n, split, first, nv = sizes[r, 0], sizes[r, 1], sizes[r, 2], sizes[r, 3]
    ne = kr.shape[0]
    c = l0.shape[1]
    s = w_s.shape[1]
    m = w_s.shape[2]
    t = c - s
    kp = pin[r]
    for p in range(nv):
        v[p] = v0[r, p]
    for e in range(ne):
        ke = kr[e]
        for a in range(4):
            if ridx[r, e, a] < 0:
                continue
            va = ke * rval[r, e, a]
            for b in range(a, 4):
                hp = hpos[r, e, a, b]
                if hp >= 0:
                    v[hp] += va * rval[r, e, b]
    nt = n - split
    cp, ri = colptr[r], rowind[r]
    if not factor_sparse(split, nt, cp, ri, rlptr[r], rlcol[r], rlpos[r], tstart[r], v, pos):
        return False
    base = cp[split]
    if not factor_dense(v[base : base + nt * nt].reshape((nt, nt))):
        return False
    basis(n, split, first, cp, ri, v, cidx[r], cval[r], x, sm)
    for e in range(ne):
        for j in range(c):
            acc = 0.0
            for a in range(4):
                ia = ridx[r, e, a]
                if ia >= 0:
                    acc += rval[r, e, a] * x[ia, j]
            g[e, j] = acc
    err = 0.0
    e_free = 0.0
    e_clamped = 0.0
    amat = np.empty((t, t))
    rhs = np.empty(t)
    sol = np.empty(t)
    scratch = np.empty((t, t + 1))
    for e in range(ne):
        dk[e] = 0.0
    for q in range(m):
        for e in range(ne):  # free extensions
            acc = 0.0
            for j in range(s):
                acc += g[e, j] * w_s[r, j, q]
            ext[e] = acc
        for i in range(c):
            acc = 0.0
            for j in range(s):
                acc += sm[i, j] * w_s[r, j, q]
            extc[i] = acc
        energy = 0.0
        for e in range(ne):
            energy += kr[e] * ext[e] * ext[e]
        for j in range(s):
            d = extc[j] - src_ext[r, j, q]
            energy += kp * d * d
        e_free += 0.5 * energy
        for tt in range(t):  # nudge: (I + K S_TT) y = K l0_T eta (eps_T - eps_F)
            eps_f = extc[s + tt] / l0[r, s + tt]
            diff = desired[r, q, tt] - eps_f
            err += diff * diff
            rhs[tt] = kp * l0[r, s + tt] * eta * diff
            for uu in range(t):
                amat[tt, uu] = kp * sm[s + tt, s + uu] + (1.0 if tt == uu else 0.0)
        if not solve_small(amat, rhs, t, sol, scratch):
            return False
        for tt in range(t):
            y[tt] = sol[tt]
        energy = 0.0
        for e in range(ne):
            delta = 0.0
            for tt in range(t):
                delta += g[e, s + tt] * y[tt]
            # contrast + lam * free term, dE/dk = s^2 / 2, averaged over the examples
            dk[e] += 0.5 * (delta * (2.0 * ext[e] + delta) + lam * ext[e] * ext[e]) / m
            ec = ext[e] + delta
            energy += kr[e] * ec * ec
        for i in range(c):
            acc = extc[i]
            for tt in range(t):
                acc += sm[i, s + tt] * y[tt]
            if i < s:
                d = acc - src_ext[r, i, q]
            else:
                eps_f = extc[i] / l0[r, i]
                d = acc - l0[r, i] * (eps_f + eta * (desired[r, q, i - s] - eps_f))
            energy += kp * d * d
        e_clamped += 0.5 * energy
    for e in range(ne):
        dk[e] *= -(alpha / eta)
    out[0] = err / m
    out[1] = e_free / m
    out[2] = e_clamped / m
    return True


@jit
def spring_steps(
    n_steps: int, k: Arr, lam: Arr, active: Arr, steps_done: Arr, energy: Arr, q: Arr,
    status: Arr, mask: Arr, k_min: Arr, k_max: Arr, sizes: Arr, colptr: Arr, rowind: Arr,
    rlptr: Arr, rlcol: Arr, rlpos: Arr, tstart: Arr, ridx: Arr, rval: Arr, hpos: Arr, v0: Arr,
    cidx: Arr, cval: Arr, l0: Arr, pin: Arr, w_s: Arr, src_ext: Arr, desired: Arr, params: Arr,
) -> int:  # fmt: skip
    """Advance every active realization by up to ``n_steps`` updates; the most done.

    ``params``: alpha, eta, stop_tol (0: none), control (0/1), ctl_tol, rho, p, lam_max.
    ``q`` ``(R, 3)`` holds error, free and clamped energy at the current ``k``; ``energy``
    ``(4, R)`` the free and clamped energy totals and their pending parts (J); ``status`` 1 marks
    a realization whose Hessian was singular.
    """
    alpha, eta, stop_tol = params[0], params[1], params[2]
    control = params[3] > 0.0
    ctl_tol, rho, p_exp, lam_max = params[4], params[5], params[6], params[7]
    rr, ne = k.shape
    c = l0.shape[1]
    cw = 4 * ((c + 3) // 4)
    most = 0
    for r in range(rr):
        v = np.empty(sizes[r, 3])
        pos = np.empty(sizes[r, 0], dtype=np.int64)
        x = np.zeros((sizes[r, 0] + 1, cw))
        sm = np.empty((c, c))
        g = np.empty((ne, c))
        ext = np.empty(ne)
        extc = np.empty(c)
        y = np.empty(c)
        dk = np.empty(ne)
        out = np.empty(3)
        done = 0
        if not active[r] or status[r] != 0 or n_steps == 0:
            continue
        if not spring_quantities(r, k[r], sizes, colptr, rowind, rlptr, rlcol, rlpos,
                                 tstart, ridx, rval, hpos, v0, cidx, cval, l0, pin, w_s,
                                 src_ext, desired, eta, lam[r], alpha, v, pos, x, sm, g, ext,
                                 extc, y, dk, out):  # fmt: skip
            status[r] = 1
            continue
        for _ in range(n_steps):
            if stop_tol > 0.0 and q[r, 0] <= stop_tol:
                active[r] = False
                break
            energy[0, r] += q[r, 1]
            energy[1, r] += q[r, 2]
            energy[2, r] += q[r, 1]
            energy[3, r] += q[r, 2]
            for e in range(ne):
                if mask[r, e]:
                    k[r, e] = min(max(k[r, e] + dk[e], k_min[r, e]), k_max[r, e])
            if control:
                ratio = ctl_tol / max(q[r, 0], 2.2250738585072014e-308)
                lam[r] = min(lam[r] * math.exp(rho * alpha * (ratio**p_exp - 1.0)), lam_max)
            steps_done[r] += 1
            done += 1
            if not spring_quantities(r, k[r], sizes, colptr, rowind, rlptr, rlcol,
                                     rlpos, tstart, ridx, rval, hpos, v0, cidx, cval, l0, pin,
                                     w_s, src_ext, desired, eta, lam[r], alpha, v, pos, x, sm, g,
                                     ext, extc, y, dk, out):  # fmt: skip
                status[r] = 1
                break
            q[r, 0] = out[0]
            q[r, 1] = out[1]
            q[r, 2] = out[2]
        most = max(most, done)
    return most
