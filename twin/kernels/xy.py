"""Compiled relaxation of XY oscillator networks, batched over examples and random starts.

Gradient flow ``dphi/dt = -dE/dphi - beta dC/dphi`` on the free (non-input) nodes by explicit
Euler steps of ``dt``, each state stopped as soon as its largest free force ``max |F_i|`` falls
below ``tol`` (convergence detected per state, not a fixed step count), or after ``max_steps``.
The energy (see :mod:`twin.physics.xy.energy`) is dimensionless; so is the relaxation work
``sum dt |F|^2`` each state dissipates (the decrease of ``E + beta C`` along the path, to first
order in ``dt``).

States relax :data:`LANES` at a time, node-major (``x[j * LANES + l]``: node ``j`` of lane
``l``), so that every loop over the lanes has a constant trip count that the compiler unrolls
into one vector operation; a lane's arithmetic is exactly that of a state relaxed alone. A group
steps until its last lane has stopped; a lane that stopped earlier is recorded when it stops and
its later values are discarded.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import Arr, jit

__all__ = ["LANES", "NEAR_PI", "SMALL_ANGLE", "split_edges", "xy_relax"]


#: Below this rotation angle (radians) a step updates cos and sin of a phase by the Taylor series
#: of the rotation (truncation < 3e-21, below rounding) instead of calling cos and sin again.
SMALL_ANGLE = 0.01

#: The nudging force ``-tan(d / 2)`` of an output ``d`` from its target is computed as
#: ``-sin d / (1 + cos d)`` while ``1 + cos d`` exceeds this (|d| < pi - 0.045: relative error
#: below 1e-13), by ``tan`` itself nearer to ``d = +-pi``.
NEAR_PI = 1e-3

#: States relaxed together (one 256-bit vector of float64). The coupling loop and the force norms
#: of :func:`_relax_lanes` are written out for 4 lanes: change them with it.
LANES = 4


@jit
def split_edges(free: Arr, n: int, ea: Arr, eb: Arr) -> tuple:
    """The edges between free nodes (local ends ``fa``, ``fb``, edge ids ``fe``) and the edges
    from a clamped node to a free one (local free end ``cj``, clamped node ``ci``, edge ids
    ``ce``), and ``loc``: each node's local index (-1 for clamped nodes)."""
    loc = np.full(n, -1, dtype=np.int64)
    for j in range(free.shape[0]):
        loc[free[j]] = j
    n_ff = 0
    n_cf = 0
    for e in range(ea.shape[0]):
        la = loc[ea[e]]
        lb = loc[eb[e]]
        if la >= 0 and lb >= 0:
            n_ff += 1
        elif la >= 0 or lb >= 0:
            n_cf += 1
    fa = np.empty(n_ff, dtype=np.uint64)  # unsigned: no negative-index wraparound per access
    fb = np.empty(n_ff, dtype=np.uint64)
    fe = np.empty(n_ff, dtype=np.int64)
    cj = np.empty(n_cf, dtype=np.int64)
    ci = np.empty(n_cf, dtype=np.int64)
    ce = np.empty(n_cf, dtype=np.int64)
    k_ff = 0
    k_cf = 0
    for e in range(ea.shape[0]):
        la = loc[ea[e]]
        lb = loc[eb[e]]
        if la >= 0 and lb >= 0:
            fa[k_ff] = la
            fb[k_ff] = lb
            fe[k_ff] = e
            k_ff += 1
        elif la >= 0 or lb >= 0:
            cj[k_cf] = la if la >= 0 else lb
            ci[k_cf] = eb[e] if la >= 0 else ea[e]
            ce[k_cf] = e
            k_cf += 1
    return loc, fa, fb, fe, cj, ci, ce


@jit
def _load(
    phi: Arr, targets: Arr, r0: int, free: Arr, clamped: Arr, cj: Arr, ci: Arr, cw: Arr,
    hc0: Arr, hs0: Arr, cn: Arr, sn: Arr, x: Arr, c: Arr, s: Arr, hc: Arr, hs: Arr, tc: Arr,
    ts: Arr, tg: Arr,
) -> int:  # fmt: skip
    """Lanes of states ``r0 ..`` of ``phi``: phases, their cos and sin, the fields (own plus
    those of clamped neighbours: ``cn``, ``sn`` hold the cos and sin of each ``clamped`` node's
    phase, once per state) and the targets; a lane past the batch repeats the first. Returns
    the number of real lanes."""
    live = min(LANES, phi.shape[0] - r0)
    m = free.shape[0]
    for lane in range(LANES):
        r = r0 + (lane if lane < live else 0)
        for j in range(m):
            q = j * LANES + lane
            x[q] = phi[r, free[j]]
            c[q] = math.cos(x[q])
            s[q] = math.sin(x[q])
            hc[q] = hc0[j]
            hs[q] = hs0[j]
        for i in clamped:
            cn[i] = math.cos(phi[r, i])
            sn[i] = math.sin(phi[r, i])
        for k in range(cj.shape[0]):
            q = cj[k] * LANES + lane
            hc[q] += cw[k] * cn[ci[k]]
            hs[q] += cw[k] * sn[ci[k]]
        for k in range(targets.shape[1]):
            q = k * LANES + lane
            tg[q] = targets[r, k]
            tc[q] = math.cos(tg[q])
            ts[q] = math.sin(tg[q])
    return live


@jit
def _relax_lanes(
    x: Arr, c: Arr, s: Arr, hc: Arr, hs: Arr, tc: Arr, ts: Arr, tg: Arr, fa: Arr, fb: Arr,
    fw: Arr, out: Arr, beta: float, dt: float, max_steps: int, tol: float, live: int,
    f: Arr, xs: Arr, steps: Arr, residual: Arr, work: Arr,
) -> None:  # fmt: skip
    """Relax one group of lanes (see :func:`xy_relax` for the force); each real lane's final
    phases go to ``xs`` and its steps, residual and work to ``steps``, ``residual``, ``work``
    (index = lane) when it stops."""
    m = x.shape[0] // LANES
    alive = np.zeros(LANES, dtype=np.bool_)
    for lane in range(live):
        alive[lane] = True
    fmax = np.zeros(LANES)
    norm2 = np.zeros(LANES)
    acc = np.zeros(LANES)
    num = np.empty(LANES)
    den = np.empty(LANES)
    taken = 0
    while True:
        for q in range(m * LANES):
            f[q] = hs[q] * c[q] - hc[q] * s[q]
        for e in range(fa.shape[0]):
            # the lanes written out (scalars, not an array): all loads before the stores, so
            # the compiler may bundle each line's four into one vector operation
            ia = fa[e] * LANES
            ib = fb[e] * LANES
            we = fw[e]
            t0 = we * (s[ia] * c[ib] - c[ia] * s[ib])
            t1 = we * (s[ia + 1] * c[ib + 1] - c[ia + 1] * s[ib + 1])
            t2 = we * (s[ia + 2] * c[ib + 2] - c[ia + 2] * s[ib + 2])
            t3 = we * (s[ia + 3] * c[ib + 3] - c[ia + 3] * s[ib + 3])
            f[ia] -= t0
            f[ia + 1] -= t1
            f[ia + 2] -= t2
            f[ia + 3] -= t3
            f[ib] += t0
            f[ib + 1] += t1
            f[ib + 2] += t2
            f[ib + 3] += t3
        if beta != 0.0:
            for k in range(out.shape[0]):
                # tan(d / 2) = sin d / (1 + cos d) from c, s and the target's cos, sin (a call
                # of tan cost 20 % of a nudged step); tan itself near d = +-pi, where 1 + cos d
                # loses digits
                o = out[k] * LANES
                kt = k * LANES
                for lane in range(LANES):
                    num[lane] = s[o + lane] * tc[kt + lane] - c[o + lane] * ts[kt + lane]
                    den[lane] = 1.0 + (c[o + lane] * tc[kt + lane] + s[o + lane] * ts[kt + lane])
                for lane in range(LANES):
                    if den[lane] > NEAR_PI:
                        f[o + lane] -= beta * num[lane] / den[lane]
                    else:
                        f[o + lane] -= beta * math.tan(0.5 * (x[o + lane] - tg[kt + lane]))
        m0 = m1 = m2 = m3 = 0.0
        n0 = n1 = n2 = n3 = 0.0
        for q in range(0, m * LANES, LANES):
            v0, v1, v2, v3 = f[q], f[q + 1], f[q + 2], f[q + 3]
            m0, m1, m2, m3 = max(m0, abs(v0)), max(m1, abs(v1)), max(m2, abs(v2)), max(m3, abs(v3))
            n0, n1, n2, n3 = n0 + v0 * v0, n1 + v1 * v1, n2 + v2 * v2, n3 + v3 * v3
        fmax[0], fmax[1], fmax[2], fmax[3] = m0, m1, m2, m3
        norm2[0], norm2[1], norm2[2], norm2[3] = n0, n1, n2, n3
        running = False
        for lane in range(LANES):
            if alive[lane]:
                if fmax[lane] < tol or taken >= max_steps:
                    alive[lane] = False
                    steps[lane] = taken
                    residual[lane] = fmax[lane]
                    work[lane] = acc[lane]
                    for j in range(m):
                        xs[j * LANES + lane] = x[j * LANES + lane]
                else:
                    running = True
        if not running:
            break
        big = False
        for q in range(m * LANES):
            # x += theta, with c, s kept equal to cos x, sin x: rotated by the Taylor series of
            # theta, then recomputed below where theta is not small (with the calls of cos and
            # sin in this loop, it ran 2x slower)
            theta = dt * f[q]
            x[q] += theta
            t2 = theta * theta
            ct = 1.0 - t2 * (0.5 - t2 * (1.0 / 24.0 - t2 / 720.0))
            st = theta * (1.0 - t2 * (1.0 / 6.0 - t2 * (1.0 / 120.0 - t2 / 5040.0)))
            c_old = c[q]
            c[q] = c_old * ct - s[q] * st
            s[q] = s[q] * ct + c_old * st
            big |= abs(theta) >= SMALL_ANGLE
        if big:
            for q in range(m * LANES):
                if abs(dt * f[q]) >= SMALL_ANGLE:
                    c[q] = math.cos(x[q])
                    s[q] = math.sin(x[q])
        for lane in range(LANES):
            acc[lane] += dt * norm2[lane]
        taken += 1


@jit
def relax_batch(
    phi: Arr, free: Arr, fa: Arr, fb: Arr, fw: Arr, cj: Arr, ci: Arr, cw: Arr, hc0: Arr,
    hs0: Arr, out: Arr, targets: Arr, beta: float, dt: float, max_steps: int, tol: float,
    steps: Arr, residual: Arr, work: Arr,
) -> None:  # fmt: skip
    """Relax every row of ``phi`` in place, :data:`LANES` rows at a time (edges split by
    :func:`split_edges`, their weights ``fw``, ``cw``; free nodes' fields ``hc0 = h cos psi``,
    ``hs0 = h sin psi``; ``out`` the outputs' local indices)."""
    m = free.shape[0]
    n_out = targets.shape[1]
    is_free = np.zeros(phi.shape[1], dtype=np.bool_)
    for j in range(m):
        is_free[free[j]] = True
    clamped = np.flatnonzero(~is_free)
    cn, sn = np.empty(phi.shape[1]), np.empty(phi.shape[1])
    size = m * LANES
    x, c, s, f, xs = np.empty(size), np.empty(size), np.empty(size), np.empty(size), np.empty(size)
    hc, hs = np.empty(size), np.empty(size)
    tc, ts, tg = np.empty(n_out * LANES), np.empty(n_out * LANES), np.empty(n_out * LANES)
    g_steps = np.empty(LANES, dtype=np.int64)
    g_res, g_work = np.empty(LANES), np.empty(LANES)
    for r0 in range(0, phi.shape[0], LANES):
        live = _load(phi, targets, r0, free, clamped, cj, ci, cw, hc0, hs0, cn, sn, x, c, s, hc,
                     hs, tc, ts, tg)  # fmt: skip
        _relax_lanes(x, c, s, hc, hs, tc, ts, tg, fa, fb, fw, out, beta, dt, max_steps, tol,
                     live, f, xs, g_steps, g_res, g_work)  # fmt: skip
        for lane in range(live):
            r = r0 + lane
            for j in range(m):
                phi[r, free[j]] = xs[j * LANES + lane]
            steps[r] = g_steps[lane]
            residual[r] = g_res[lane]
            work[r] = g_work[lane]


@jit
def fields(free: Arr, h: Arr, psi: Arr) -> tuple:
    """Each free node's ``h cos psi`` and ``h sin psi``."""
    m = free.shape[0]
    hc0, hs0 = np.empty(m), np.empty(m)
    for j in range(m):
        hc0[j] = h[free[j]] * math.cos(psi[free[j]])
        hs0[j] = h[free[j]] * math.sin(psi[free[j]])
    return hc0, hs0


@jit
def xy_relax(
    phi: Arr, free: Arr, ea: Arr, eb: Arr, w: Arr, h: Arr, psi: Arr, outputs: Arr,
    targets: Arr, beta: float, dt: float, max_steps: int, tol: float,
    steps: Arr, residual: Arr, work: Arr,
) -> None:  # fmt: skip
    """Relax every row of ``phi`` (``(B, N)``, in place; inputs hold their clamped phases).

    ``targets`` is ``(B, K)`` for the ``K`` ``outputs``. Per state, writes the Euler steps taken
    (``steps``), the final largest free force (``residual``; converged where ``< tol``) and the
    relaxation work ``sum dt |F_free|^2`` (``work``, model units).

    Only the free nodes are iterated, in local indices: a coupling ``w`` to a clamped node ``i``
    acts on its free neighbour as a constant field, ``-w cos(x - x_i)`` = ``-(w cos x_i) cos x
    - (w sin x_i) sin x``, folded into that node's ``h cos psi`` and ``h sin psi`` once per state
    (a layered [784, 10] network relaxes 10 nodes with no coupling between them).

    The force ``-d(E + beta C)/dphi`` is computed inline (a call per step cost 20 %) and without
    trigonometry per edge, from ``c = cos x`` and ``s = sin x``: ``sin(x_a - x_b) = s_a c_b -
    c_a s_b``, ``h sin(x - psi) = (h cos psi) s - (h sin psi) c`` and the nudging force likewise
    (see :data:`NEAR_PI`).
    """
    loc, fa, fb, fe, cj, ci, ce = split_edges(free, phi.shape[1], ea, eb)
    out = np.empty(outputs.shape[0], dtype=np.int64)
    for k in range(outputs.shape[0]):
        out[k] = loc[outputs[k]]
    hc0, hs0 = fields(free, h, psi)
    relax_batch(phi, free, fa, fb, w[fe], cj, ci, w[ce], hc0, hs0, out, targets, beta, dt,
                max_steps, tol, steps, residual, work)  # fmt: skip
