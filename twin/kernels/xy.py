"""Compiled relaxation of XY oscillator networks, batched over examples and random starts.

Gradient flow ``dphi/dt = -dE/dphi - beta dC/dphi`` on the free (non-input) nodes by explicit
Euler steps of ``dt``, each state stopped as soon as its largest free force ``max |F_i|`` falls
below ``tol`` (convergence detected per state, not a fixed step count), or after ``max_steps``.
The energy (see :mod:`twin.physics.xy.energy`) is dimensionless; so is the relaxation work
``sum dt |F|^2`` each state dissipates (the decrease of ``E + beta C`` along the path, to first
order in ``dt``).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import Arr, jit

__all__ = ["NEAR_PI", "SMALL_ANGLE", "xy_relax"]


#: Below this rotation angle (radians) a step updates cos and sin of a phase by the Taylor series
#: of the rotation (truncation < 3e-21, below rounding) instead of calling cos and sin again.
SMALL_ANGLE = 0.01

#: The nudging force ``-tan(d / 2)`` of an output ``d`` from its target is computed as
#: ``-sin d / (1 + cos d)`` while ``1 + cos d`` exceeds this (|d| < pi - 0.045: relative error
#: below 1e-13), by ``tan`` itself nearer to ``d = +-pi``.
NEAR_PI = 1e-3


@jit
def _split_edges(free: Arr, n: int, ea: Arr, eb: Arr, w: Arr) -> tuple:
    """The edges between free nodes in local indices (``fa``, ``fb``, ``fw``) and the edges from a
    clamped node to a free one (local free end ``cj``, clamped node ``ci``, weight ``cw``)."""
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
    fw = np.empty(n_ff)
    cj = np.empty(n_cf, dtype=np.int64)
    ci = np.empty(n_cf, dtype=np.int64)
    cw = np.empty(n_cf)
    k_ff = 0
    k_cf = 0
    for e in range(ea.shape[0]):
        la = loc[ea[e]]
        lb = loc[eb[e]]
        if la >= 0 and lb >= 0:
            fa[k_ff] = la
            fb[k_ff] = lb
            fw[k_ff] = w[e]
            k_ff += 1
        elif la >= 0:
            cj[k_cf] = la
            ci[k_cf] = eb[e]
            cw[k_cf] = w[e]
            k_cf += 1
        elif lb >= 0:
            cj[k_cf] = lb
            ci[k_cf] = ea[e]
            cw[k_cf] = w[e]
            k_cf += 1
    return loc, fa, fb, fw, cj, ci, cw


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
    n = phi.shape[1]
    m = free.shape[0]
    loc, fa, fb, fw, cj, ci, cw = _split_edges(free, n, ea, eb, w)
    out = np.empty(outputs.shape[0], dtype=np.int64)
    for k in range(outputs.shape[0]):
        out[k] = loc[outputs[k]]
    f = np.empty(m)
    x = np.empty(m)
    c = np.empty(m)
    s = np.empty(m)
    hc0 = np.empty(m)
    hs0 = np.empty(m)
    for j in range(m):
        hc0[j] = h[free[j]] * math.cos(psi[free[j]])
        hs0[j] = h[free[j]] * math.sin(psi[free[j]])
    hc = np.empty(m)
    hs = np.empty(m)
    tc = np.empty(outputs.shape[0])
    ts = np.empty(outputs.shape[0])
    for b in range(phi.shape[0]):
        for j in range(m):
            x[j] = phi[b, free[j]]
            c[j] = math.cos(x[j])
            s[j] = math.sin(x[j])
            hc[j] = hc0[j]
            hs[j] = hs0[j]
        for k in range(cj.shape[0]):
            xi = phi[b, ci[k]]
            hc[cj[k]] += cw[k] * math.cos(xi)
            hs[cj[k]] += cw[k] * math.sin(xi)
        target = targets[b]
        for k in range(out.shape[0]):
            tc[k] = math.cos(target[k])
            ts[k] = math.sin(target[k])
        acc = 0.0
        taken = 0
        fmax = 0.0
        while True:
            for j in range(m):
                f[j] = hs[j] * c[j] - hc[j] * s[j]
            for e in range(fa.shape[0]):
                ia = fa[e]
                ib = fb[e]
                t = fw[e] * (s[ia] * c[ib] - c[ia] * s[ib])
                f[ia] -= t
                f[ib] += t
            if beta != 0.0:
                for k in range(out.shape[0]):
                    # tan(d / 2) = sin d / (1 + cos d) from c, s and the target's cos, sin (a
                    # call of tan cost 20 % of a nudged step); tan itself near d = +-pi, where
                    # 1 + cos d loses digits
                    o = out[k]
                    den = 1.0 + (c[o] * tc[k] + s[o] * ts[k])
                    if den > NEAR_PI:
                        f[o] -= beta * (s[o] * tc[k] - c[o] * ts[k]) / den
                    else:
                        f[o] -= beta * math.tan(0.5 * (x[o] - target[k]))
            fmax = 0.0
            norm2 = 0.0
            for j in range(m):
                v = f[j]
                fmax = max(fmax, abs(v))
                norm2 += v * v
            if fmax < tol or taken >= max_steps:
                break
            big = False
            for j in range(m):
                # x_j += theta, with c_j, s_j kept equal to cos x_j, sin x_j: rotated by the
                # Taylor series of theta, then recomputed below where theta is not small (with
                # the calls of cos and sin in this loop, it ran 2x slower)
                theta = dt * f[j]
                x[j] += theta
                t2 = theta * theta
                ct = 1.0 - t2 * (0.5 - t2 * (1.0 / 24.0 - t2 / 720.0))
                st = theta * (1.0 - t2 * (1.0 / 6.0 - t2 * (1.0 / 120.0 - t2 / 5040.0)))
                c_old = c[j]
                c[j] = c_old * ct - s[j] * st
                s[j] = s[j] * ct + c_old * st
                big |= abs(theta) >= SMALL_ANGLE
            if big:
                for j in range(m):
                    if abs(dt * f[j]) >= SMALL_ANGLE:
                        c[j] = math.cos(x[j])
                        s[j] = math.sin(x[j])
            acc += dt * norm2
            taken += 1
        for j in range(m):
            phi[b, free[j]] = x[j]
        steps[b] = taken
        residual[b] = fmax
        work[b] = acc
