"""Compiled EP training epochs of XY networks: several epochs per call, batched over examples
and random starts.

One epoch, as :func:`twin.learning.ep.ep_step` followed by the optimizer step of
:func:`twin.learning.ep_train.train_xy`: the free phase relaxes the epoch's starts, the nudged
phase (``+beta``, and ``-beta`` with symmetric nudging) relaxes from the free equilibria (both by
:func:`twin.kernels.xy.relax_batch`), the EP estimate ``(<dE/dtheta>_nudged - <dE/dtheta>_base)
/ scale`` of the parameters ``theta = (w, h, psi)`` updates them by Adam or SGD, and the epoch's
readings are recorded (model units). The random starts are drawn by the caller (its generator,
in the order the per-epoch code draws them).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import Arr, jit
from .xy import fields, relax_batch, split_edges

__all__ = ["xy_epochs"]


@jit
def _grads(phi: Arr, ea: Arr, eb: Arr, h: Arr, psi: Arr, g: Arr) -> None:
    """``g = (dE/dw, dE/dh, dE/dpsi)`` averaged over the rows of ``phi``: ``-cos(phi_a -
    phi_b)``, ``-cos(phi - psi)``, ``-h sin(phi - psi)`` (rows summed in order, then divided)."""
    n_rows, n = phi.shape
    n_e = ea.shape[0]
    g[:] = 0.0
    for r in range(n_rows):
        for e in range(n_e):
            g[e] += math.cos(phi[r, ea[e]] - phi[r, eb[e]])
        for i in range(n):
            d = phi[r, i] - psi[i]
            g[n_e + i] += math.cos(d)
            g[n_e + n + i] += h[i] * math.sin(d)
    for k in range(g.shape[0]):
        g[k] = -(g[k] / n_rows)


@jit
def _mean(v: Arr) -> float:
    acc = 0.0
    for k in range(v.shape[0]):
        acc += v[k]
    return acc / v.shape[0]


@jit
def _free_readings(
    phi: Arr, targets: Arr, labels: Arr, outputs: Arr, ea: Arr, eb: Arr, w: Arr, h: Arr,
    psi: Arr, row: Arr,
) -> None:  # fmt: skip
    """``row[:3]``: mean loss, accuracy and energy of the free equilibria ``phi``."""
    n_rows, n = phi.shape
    n_out = outputs.shape[0]
    loss = 0.0
    hits = 0
    energy = 0.0
    for r in range(n_rows):
        lr = 0.0
        best = 0
        s_best = -np.inf
        for k in range(n_out):
            x = phi[r, outputs[k]]
            lr += 1.0 - math.cos(x - targets[r, k])
            s = math.sin(x)
            if s > s_best:  # argmax: the first of equal maxima
                s_best = s
                best = k
        if n_out == 1:
            best = 1 if math.sin(phi[r, outputs[0]]) > 0 else 0
        loss += 0.5 * lr
        hits += best == labels[r]
        er = 0.0
        for e in range(ea.shape[0]):
            er -= w[e] * math.cos(phi[r, ea[e]] - phi[r, eb[e]])
        for i in range(n):
            er -= h[i] * math.cos(phi[r, i] - psi[i])
        energy += er
    row[0] = loss / n_rows
    row[1] = hits / n_rows
    row[2] = energy / n_rows


@jit
def xy_epochs(
    phi0: Arr, targets: Arr, labels: Arr, free: Arr, ea: Arr, eb: Arr, outputs: Arr,
    theta: Arr, adam_m: Arr, adam_v: Arr, adam_t: Arr, lr: float, sgd: bool, beta: float,
    symmetric: bool, dt: float, max_steps: int, tol: float, snap: Arr,
    readings: Arr, thetas: Arr, first_free: Arr,
) -> None:  # fmt: skip
    """Run ``K = phi0.shape[0]`` epochs; ``theta`` (``w``, ``h``, ``psi``), the Adam moments and
    step count ``adam_t`` (``(1,)``) are updated in place.

    Epoch ``k`` relaxes the starts ``phi0[k]`` (``(B, N)``, inputs clamped) towards
    ``targets[k]`` (``(B, n_out)``), classes ``labels[k]``. Writes ``readings[k]``: the batch
    means at the free equilibrium of the loss, accuracy and energy, the mean relaxation work of
    the free phase and of the nudged phase(s) (summed over both with symmetric nudging), and the
    fraction of free states converged (:data:`twin.learning.xy_epochs.READINGS`); the free
    equilibrium of row 0 to ``first_free[k]``; and, where ``snap[k]`` is ``i >= 0``, the
    parameters after the update to ``thetas[i]``.
    """
    n_epochs, n_rows, n = phi0.shape
    n_e = ea.shape[0]
    loc, fa, fb, fe, cj, ci, ce = split_edges(free, n, ea, eb)
    out = np.empty(outputs.shape[0], dtype=np.int64)
    for k in range(outputs.shape[0]):
        out[k] = loc[outputs[k]]
    p = theta.shape[0]
    g_plus, g_base = np.empty(p), np.empty(p)
    steps = np.empty(n_rows, dtype=np.int64)
    res, work = np.empty(n_rows), np.empty(n_rows)
    phi_f, phi_n = np.empty((n_rows, n)), np.empty((n_rows, n))
    zeros = np.zeros((n_rows, outputs.shape[0]))
    for ep in range(n_epochs):
        w, h, psi = theta[:n_e], theta[n_e : n_e + n], theta[n_e + n :]
        fw, cw = w[fe], w[ce]
        hc0, hs0 = fields(free, h, psi)
        phi_f[:] = phi0[ep]
        relax_batch(phi_f, free, fa, fb, fw, cj, ci, cw, hc0, hs0, out, zeros, 0.0, dt,
                    max_steps, tol, steps, res, work)  # fmt: skip
        row = readings[ep]
        _free_readings(phi_f, targets[ep], labels[ep], outputs, ea, eb, w, h, psi, row)
        row[3] = _mean(work)
        conv = 0
        for r in range(n_rows):
            conv += res[r] < tol
        row[5] = conv / n_rows
        first_free[ep] = phi_f[0]
        phi_n[:] = phi_f
        relax_batch(phi_n, free, fa, fb, fw, cj, ci, cw, hc0, hs0, out, targets[ep], beta, dt,
                    max_steps, tol, steps, res, work)  # fmt: skip
        row[4] = _mean(work)
        _grads(phi_n, ea, eb, h, psi, g_plus)
        scale = beta
        if symmetric:
            phi_n[:] = phi_f
            relax_batch(phi_n, free, fa, fb, fw, cj, ci, cw, hc0, hs0, out, targets[ep],
                        -beta, dt, max_steps, tol, steps, res, work)  # fmt: skip
            row[4] += _mean(work)
            _grads(phi_n, ea, eb, h, psi, g_base)
            scale = 2 * beta
        else:
            _grads(phi_f, ea, eb, h, psi, g_base)
        if sgd:
            for k in range(p):
                theta[k] = theta[k] - lr * ((g_plus[k] - g_base[k]) / scale)
        else:
            adam_t[0] += 1
            c1 = 1 - 0.9 ** float(adam_t[0])
            c2 = 1 - 0.999 ** float(adam_t[0])
            for k in range(p):
                gk = (g_plus[k] - g_base[k]) / scale
                adam_m[k] = 0.9 * adam_m[k] + 0.1 * gk
                adam_v[k] = 0.999 * adam_v[k] + 0.001 * gk**2
                theta[k] = theta[k] - lr * (adam_m[k] / c1) / (math.sqrt(adam_v[k] / c2) + 1e-8)
        if snap[ep] >= 0:
            thetas[snap[ep]] = theta
