"""Compiled linear-response steps of spring networks (the fast path of
:mod:`twin.physics.springs.linear`, step for step).

Per realization and update: assemble ``H_F = R^T k R + K C_S^T C_S`` from the (at most four)
nonzeros of each rigidity row, factor it (dense Cholesky), solve the basis ``X = H_F^-1 C^T``,
form ``S = C X`` and ``G = R X``, the free state, the nudge's target forces (a ``t x t`` solve)
and the rule's two terms, then update the stiffnesses (clipped) and lambda (dynamic control) and
accumulate the elastic energies, for up to ``n_steps`` updates without returning to Python.

Arrays (``R`` realizations, ``E`` padded bonds, ``n`` padded degrees of freedom, ``c = s + t``
constraint bonds, ``m`` examples): ``ridx, rval`` ``(R, E, 4)`` rigidity-row nonzeros (index -1
for none); ``cidx, cval`` ``(R, c, 4)`` the constraint rows; ``hpin`` ``(R, n, n)`` the constant
part of ``H_F`` (source pins, identity on padding); ``l0`` ``(R, c)`` m; ``pin`` ``(R,)`` N/m;
``w_s`` ``(R, s, m)`` source pin forces (N); ``src_ext`` ``(R, s, m)`` source rest extensions
``l0 eps`` (m); ``desired`` ``(R, m, t)`` target strains.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import Arr, jit
from .small import chol_solve, dense_cholesky, solve_small

__all__ = ["spring_quantities", "spring_steps"]


@jit
def spring_quantities(
    r: int, kr: Arr, ridx: Arr, rval: Arr, cidx: Arr, cval: Arr, hpin: Arr, l0: Arr, pin: Arr,
    w_s: Arr, src_ext: Arr, desired: Arr, eta: float, lam: float, alpha: float,
    h: Arr, x: Arr, sm: Arr, g: Arr, ext: Arr, extc: Arr, y: Arr, dk: Arr, out: Arr,
) -> bool:  # fmt: skip
    """Error, free and clamped energy into ``out[:3]`` and the update into ``dk``; False if
    ``H_F`` is not positive definite (a floppy mode)."""
    n = h.shape[0]
    ne = kr.shape[0]
    c = l0.shape[1]
    s = w_s.shape[1]
    m = w_s.shape[2]
    t = c - s
    kp = pin[r]
    for i in range(n):
        for j in range(n):
            h[i, j] = hpin[r, i, j]
    for e in range(ne):
        ke = kr[e]
        for a in range(4):
            ia = ridx[r, e, a]
            if ia < 0:
                continue
            va = ke * rval[r, e, a]
            for b in range(4):
                ib = ridx[r, e, b]
                if ib >= 0:
                    h[ia, ib] += va * rval[r, e, b]
    if not dense_cholesky(h, n):
        return False
    x[:, :] = 0.0
    for j in range(c):
        for a in range(4):
            ia = cidx[r, j, a]
            if ia >= 0:
                x[ia, j] += cval[r, j, a]
    chol_solve(h, n, x)
    for i in range(c):
        for j in range(c):
            acc = 0.0
            for a in range(4):
                ia = cidx[r, i, a]
                if ia >= 0:
                    acc += cval[r, i, a] * x[ia, j]
            sm[i, j] = acc
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
    status: Arr, mask: Arr, k_min: Arr, k_max: Arr, ridx: Arr, rval: Arr, cidx: Arr, cval: Arr,
    hpin: Arr, l0: Arr, pin: Arr, w_s: Arr, src_ext: Arr, desired: Arr, params: Arr,
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
    n = hpin.shape[1]
    c = l0.shape[1]
    most = 0
    for r in range(rr):
        h = np.empty((n, n))
        x = np.empty((n, c))
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
        if not spring_quantities(r, k[r], ridx, rval, cidx, cval, hpin, l0, pin, w_s,
                                 src_ext, desired, eta, lam[r], alpha, h, x, sm, g, ext,
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
            if not spring_quantities(r, k[r], ridx, rval, cidx, cval, hpin, l0, pin, w_s,
                                     src_ext, desired, eta, lam[r], alpha, h, x, sm, g, ext,
                                     extc, y, dk, out):  # fmt: skip
                status[r] = 1
                break
            q[r, 0] = out[0]
            q[r, 1] = out[1]
            q[r, 2] = out[2]
        most = max(most, done)
    return most
