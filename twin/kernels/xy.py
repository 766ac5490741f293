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

__all__ = ["xy_relax"]


@jit
def _forces(
    x: Arr, ea: Arr, eb: Arr, w: Arr, hc: Arr, hs: Arr, outputs: Arr, target: Arr,
    beta: float, c: Arr, s: Arr, f: Arr,
) -> None:  # fmt: skip
    """``f = -d(E + beta C)/dphi`` at ``x`` (every node).

    One ``cos`` and ``sin`` per node, none per edge: ``sin(x_a - x_b) = s_a c_b - c_a s_b`` and
    ``h sin(x - psi) = (h cos psi) s - (h sin psi) c`` (``hc``, ``hs``).
    """
    for i in range(x.shape[0]):
        c[i] = math.cos(x[i])
        s[i] = math.sin(x[i])
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
        x[:] = phi[b]
        acc = 0.0
        taken = 0
        fmax = 0.0
        while True:
            _forces(x, ea, eb, w, hc, hs, outputs, targets[b], beta, c, s, f)
            fmax = 0.0
            norm2 = 0.0
            for j in range(free.shape[0]):
                v = f[free[j]]
                fmax = max(fmax, abs(v))
                norm2 += v * v
            if fmax < tol or taken >= max_steps:
                break
            for j in range(free.shape[0]):
                i = free[j]
                x[i] += dt * f[i]
            acc += dt * norm2
            taken += 1
        phi[b] = x
        steps[b] = taken
        residual[b] = fmax
        work[b] = acc
