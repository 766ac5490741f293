"""Compiled linear-response steps of spring networks (the fast path of
:mod:`twin.physics.springs.linear`, step for step).

Per realization and update: scatter ``H_F = R^T k R + K C_S^T C_S`` into the storage of its
block Cholesky factor (:mod:`.spring_layout`: ``2 x 2`` node blocks, minimum-degree order of the
nodes, the constraint bonds' nodes last), factor it (:func:`.spring_blocks.factor_blocks` and
:func:`.cholesky.factor_dense`), solve forward for the constraint block only,
``Y = F^-1 C^T`` and ``S = C H_F^-1 C^T = Y^T Y`` (:func:`constraint_block`), then per example
the free state's constraint extensions and the nudge's target forces (a ``t x t`` solve), one back
solve of two right-hand sides (:func:`back_pair`: the free displacements and the nudge's),
the bonds' extensions ``R u`` and the rule's two terms; update the stiffnesses (clipped) and
lambda (dynamic control) and accumulate the elastic energies, for up to ``n_steps`` updates
without returning to Python.

Structure (``R`` realizations, ``E`` padded bonds, ``c = s + t`` constraint bonds, ``m``
examples), from :func:`.spring_layout.stack_spring_layouts`: ``sizes`` ``(R, 4)`` (nodes, the node
split, the constraint block's first node, stored values); the node factor's pattern ``colptr,
rowind, rlptr, rlcol, rlpos, tstart``; ``ridx, rval`` ``(R, E, 4)`` rigidity-row nonzeros
(degrees of freedom ``2 p + axis`` in elimination order, -1 for none); ``hpos``
``(R, E, 4, 4)`` their storage positions; ``v0`` the constant part of ``H_F``; ``cidx, cval``
``(R, c, 4)`` the constraint rows. Then ``l0`` ``(R, c)`` m; ``pin`` ``(R,)`` N/m; ``w_s``
``(R, s, m)`` source pin forces (N); ``src_ext`` ``(R, s, m)`` source rest extensions ``l0 eps``
(m); ``desired`` ``(R, m, t)`` target strains.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import Arr, jit
from .cholesky import constraint_columns, factor_dense, forward_dense
from .small import solve_small
from .spring_blocks import back_blocks, factor_blocks

__all__ = ["back_pair", "constraint_block", "spring_quantities", "spring_steps", "workspace"]


@jit
def constraint_block(n: int, split: int, first: int, u: Arr, cidx: Arr, cval: Arr, x: Arr,
                     sm: Arr) -> None:  # fmt: skip
    """``Y = F^-1 C^T`` into rows ``first..n-1`` of ``x`` (the rows where it is non-zero) and
    ``S = C H_F^-1 C^T = Y^T Y`` into ``sm`` (m/N): the forward half of :func:`.cholesky.basis`."""
    c = cidx.shape[0]
    cw = x.shape[1]
    constraint_columns(first, n, cidx, cval, x)
    forward_dense(u, first - split, x[split:n], cw)
    for a in range(c):  # symmetric; two partial sums (even and odd rows) halve the chains
        for b in range(a, c):
            acc = 0.0
            acc2 = 0.0
            i = first
            while i + 1 < n:
                acc += x[i, a] * x[i, b]
                acc2 += x[i + 1, a] * x[i + 1, b]
                i += 2
            if i < n:
                acc += x[i, a] * x[i, b]
            sm[a, b] = acc + acc2
            sm[b, a] = acc + acc2


@jit
def back_pair(split: int, first: int, colptr: Arr, rowind: Arr, v: Arr, u: Arr, z: Arr,
              j0: int) -> None:  # fmt: skip
    """Solve ``F^T x = y`` in place for columns ``j0, j0 + 1`` of ``z`` (``y`` is 0 in rows
    before ``first``): the dense block ``u``'s rows (degrees of freedom from ``2 split``), then
    the sparse node columns' (:func:`.spring_blocks.back_blocks`).

    Each dense row's sum runs over two interleaved partial sums per column (even and odd terms),
    which halves the chain of dependent multiply-adds that bounds these short dot products.
    """
    nt = u.shape[0]
    zt = z[2 * split : 2 * split + nt]
    f0 = first - 2 * split
    for i in range(nt - 1, -1, -1):
        if i >= f0:
            a0, a1 = zt[i, j0], zt[i, j0 + 1]
        else:
            a0 = a1 = 0.0
        b0 = b1 = 0.0
        j = i + 1
        while j + 1 < nt:
            f, g = u[i, j], u[i, j + 1]
            a0 -= f * zt[j, j0]
            a1 -= f * zt[j, j0 + 1]
            b0 -= g * zt[j + 1, j0]
            b1 -= g * zt[j + 1, j0 + 1]
            j += 2
        if j < nt:
            f = u[i, j]
            a0 -= f * zt[j, j0]
            a1 -= f * zt[j, j0 + 1]
        d = u[i, i]
        zt[i, j0] = (a0 + b0) / d
        zt[i, j0 + 1] = (a1 + b1) / d
    back_blocks(split, colptr, rowind, v, z, j0)


@jit
def workspace(c: int, s: int, m: int) -> tuple[Arr, Arr, Arr, Arr, Arr]:
    """Scratch of :func:`spring_quantities`' nudge: ``(I + K S_TT)`` ``(t, t)``, its right-hand
    side and solution ``(t,)``, :func:`.small.solve_small`'s ``(t, t + 1)``, and the pins'
    energies ``(2, m)``."""
    t = c - s
    return np.empty((t, t)), np.empty(t), np.empty(t), np.empty((t, t + 1)), np.empty((2, m))


@jit
def spring_quantities(
    r: int, kr: Arr, sizes: Arr, colptr: Arr, rowind: Arr, rlptr: Arr, rlcol: Arr, rlpos: Arr,
    tstart: Arr, ridx: Arr, rval: Arr, hpos: Arr, v0: Arr, cidx: Arr, cval: Arr, l0: Arr,
    pin: Arr, w_s: Arr, src_ext: Arr, desired: Arr, eta: float, lam: float, alpha: float,
    v: Arr, pos: Arr, x: Arr, sm: Arr, z: Arr, extc: Arr, work: tuple[Arr, Arr, Arr, Arr, Arr],
    dk: Arr, out: Arr,
) -> bool:  # fmt: skip
    """Error, free and clamped energy into ``out[:3]`` and the update into ``dk``; False if
    ``H_F`` is not positive definite (a floppy mode).

    ``v`` (stored values), ``pos`` (degrees of freedom), ``x`` (``(n + 1, cw)``, ``cw`` the
    constraint count rounded up to a multiple of 4), ``z`` (``(n + 1, 2 m)``, ``m`` examples),
    ``extc`` (``c``) and ``work`` (:func:`workspace`) are scratch. Only the constraint block's
    forward solve runs per constraint; the back solve runs per example on two combinations of
    its columns, the free state's ``Y_S w_S`` and the nudge's ``Y_T y``, so that ``z`` ends as
    the free displacements and the clamped-minus-free displacements (m), and the extensions are
    ``R z``.
    """
    nn, split, nv = sizes[r, 0], sizes[r, 1], sizes[r, 3]
    n, first = 2 * nn, 2 * sizes[r, 2]  # degrees of freedom, the constraint block's first
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
    cp, ri = colptr[r], rowind[r]
    if not factor_blocks(split, nn - split, cp, ri, rlptr[r], rlcol[r], rlpos[r], tstart[r], v,
                         pos):  # fmt: skip
        return False
    nt = n - 2 * split
    base = 4 * cp[split]
    u = v[base : base + nt * nt].reshape((nt, nt))
    if not factor_dense(u):
        return False
    constraint_block(n, 2 * split, first, u, cidx[r], cval[r], x, sm)
    err = 0.0
    amat, rhs, y, scratch, pins = work  # pins: their free and clamped energies per example (J)
    for q in range(m):
        for i in range(c):  # constraint extensions of the free state
            acc = 0.0
            for j in range(s):
                acc += sm[i, j] * w_s[r, j, q]
            extc[i] = acc
        energy = 0.0
        for j in range(s):
            d = extc[j] - src_ext[r, j, q]
            energy += kp * d * d
        pins[0, q] = energy
        for tt in range(t):  # nudge: (I + K S_TT) y = K l0_T eta (eps_T - eps_F)
            eps_f = extc[s + tt] / l0[r, s + tt]
            diff = desired[r, q, tt] - eps_f
            err += diff * diff
            rhs[tt] = kp * l0[r, s + tt] * eta * diff
            for uu in range(t):
                amat[tt, uu] = kp * sm[s + tt, s + uu] + (1.0 if tt == uu else 0.0)
        if not solve_small(amat, rhs, t, y, scratch):
            return False
        energy = 0.0
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
        pins[1, q] = energy
        for i in range(first, n):  # the two right-hand sides of this example
            a0 = 0.0
            for j in range(s):
                a0 += x[i, j] * w_s[r, j, q]
            a1 = 0.0
            for tt in range(t):
                a1 += x[i, s + tt] * y[tt]
            z[i, 2 * q] = a0
            z[i, 2 * q + 1] = a1
        back_pair(split, first, cp, ri, v, u, z, 2 * q)
    e_free = 0.0
    e_clamped = 0.0
    for e in range(ne):
        dk[e] = 0.0
    for q in range(m):
        ef = 0.0
        ec = 0.0
        for e in range(ne):
            free = 0.0
            delta = 0.0
            for a in range(4):
                ia = ridx[r, e, a]
                if ia >= 0:
                    free += rval[r, e, a] * z[ia, 2 * q]
                    delta += rval[r, e, a] * z[ia, 2 * q + 1]
            # contrast + lam * free term, dE/dk = s^2 / 2, averaged over the examples
            dk[e] += 0.5 * (delta * (2.0 * free + delta) + lam * free * free) / m
            ef += kr[e] * free * free
            clamped = free + delta
            ec += kr[e] * clamped * clamped
        e_free += 0.5 * (ef + pins[0, q])
        e_clamped += 0.5 * (ec + pins[1, q])
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
    m = w_s.shape[2]
    most = 0
    for r in range(rr):
        v = np.empty(sizes[r, 3])
        pos = np.empty(sizes[r, 0], dtype=np.int64)
        x = np.zeros((2 * sizes[r, 0] + 1, cw))
        sm = np.empty((c, c))
        z = np.zeros((2 * sizes[r, 0] + 1, 2 * m))
        extc = np.empty(c)
        work = workspace(c, w_s.shape[1], m)
        dk = np.empty(ne)
        out = np.empty(3)
        done = 0
        if not active[r] or status[r] != 0 or n_steps == 0:
            continue
        if not spring_quantities(r, k[r], sizes, colptr, rowind, rlptr, rlcol, rlpos,
                                 tstart, ridx, rval, hpos, v0, cidx, cval, l0, pin, w_s,
                                 src_ext, desired, eta, lam[r], alpha, v, pos, x, sm, z,
                                 extc, work, dk, out):  # fmt: skip
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
                                     w_s, src_ext, desired, eta, lam[r], alpha, v, pos, x, sm, z,
                                     extc, work, dk, out):  # fmt: skip
                status[r] = 1
                break
            q[r, 0] = out[0]
            q[r, 1] = out[1]
            q[r, 2] = out[2]
        most = max(most, done)
    return most
