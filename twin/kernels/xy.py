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
    x: Arr, ea: Arr, eb: Arr, w: Arr, h: Arr, psi: Arr, outputs: Arr, target: Arr,
    beta: float, f: Arr,
) -> None:  # fmt: skip
    """``f = -d(E + beta C)/dphi`` at ``x`` (every node)."""
    for i in range(x.shape[0]):
        f[i] = -h[i] * math.sin(x[i] - psi[i])
    for e in range(ea.shape[0]):
        a = ea[e]
        b = eb[e]
        s = w[e] * math.sin(x[a] - x[b])
        f[a] -= s
        f[b] += s
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
    for b in range(phi.shape[0]):
        x[:] = phi[b]
        acc = 0.0
        taken = 0
        fmax = 0.0
        while True:
            _forces(x, ea, eb, w, h, psi, outputs, targets[b], beta, f)
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
