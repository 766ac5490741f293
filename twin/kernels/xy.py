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

__all__ = ["SMALL_ANGLE", "xy_relax"]


#: Below this rotation angle (radians) a step updates cos and sin of a phase by the Taylor series
#: of the rotation (truncation < 3e-21, below rounding) instead of calling cos and sin again.
SMALL_ANGLE = 0.01


@jit
def _forces(
    c: Arr, s: Arr, x: Arr, ea: Arr, eb: Arr, w: Arr, hc: Arr, hs: Arr, outputs: Arr,
    target: Arr, beta: float, f: Arr,
) -> None:  # fmt: skip
    """``f = -d(E + beta C)/dphi`` (every node) from ``c = cos x`` and ``s = sin x``.

    No trigonometry per edge: ``sin(x_a - x_b) = s_a c_b - c_a s_b`` and
    ``h sin(x - psi) = (h cos psi) s - (h sin psi) c`` (``hc``, ``hs``); only the nudged outputs
    call ``tan``.
    """
    for i in range(x.shape[0]):
        f[i] = hs[i] * c[i] - hc[i] * s[i]
    for e in range(ea.shape[0]):
        a = ea[e]
        b = eb[e]
        t = w[e] * (s[a] * c[b] - c[a] * s[b])
        f[a] -= t
        f[b] += t
    if beta != 0.0:
        for k in range(outputs.shape[0]):
            o = outputs[k]
            f[o] -= beta * math.tan(0.5 * (x[o] - target[k]))


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
    """
    n = phi.shape[1]
    f = np.empty(n)
    x = np.empty(n)
    c = np.empty(n)
    s = np.empty(n)
    hc = h * np.cos(psi)
    hs = h * np.sin(psi)
    for b in range(phi.shape[0]):
        for i in range(n):
            x[i] = phi[b, i]
            c[i] = math.cos(x[i])
            s[i] = math.sin(x[i])
        target = targets[b]
        acc = 0.0
        taken = 0
        fmax = 0.0
        while True:
            _forces(c, s, x, ea, eb, w, hc, hs, outputs, target, beta, f)
            fmax = 0.0
            norm2 = 0.0
            for j in range(free.shape[0]):
                v = f[free[j]]
                fmax = max(fmax, abs(v))
                norm2 += v * v
            if fmax < tol or taken >= max_steps:
                break
            for j in range(free.shape[0]):
                # x_i += theta, with c_i, s_i kept equal to cos x_i, sin x_i: rotated by the
                # Taylor series of theta when small, recomputed otherwise (inline: a call per
                # node and step cost more than the update)
                i = free[j]
                theta = dt * f[i]
                x[i] += theta
                if abs(theta) < SMALL_ANGLE:
                    t2 = theta * theta
                    ct = 1.0 - t2 * (0.5 - t2 * (1.0 / 24.0 - t2 / 720.0))
                    st = theta * (1.0 - t2 * (1.0 / 6.0 - t2 * (1.0 / 120.0 - t2 / 5040.0)))
                    ci = c[i]
                    c[i] = ci * ct - s[i] * st
                    s[i] = s[i] * ct + ci * st
                else:
                    c[i] = math.cos(x[i])
                    s[i] = math.sin(x[i])
            acc += dt * norm2
            taken += 1
        phi[b] = x
        steps[b] = taken
        residual[b] = fmax
        work[b] = acc
