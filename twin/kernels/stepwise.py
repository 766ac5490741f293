"""Compiled step loop of a board trained point by point, deciding at every step what to learn.

The lab's board (arXiv 2505.22887, its control code) presents one training point per learning
step and decides at that step, from the point's free outputs, whether and towards what it learns.
:func:`run_steps` reproduces that loop on one board's edge circuits (the emulator's hidden ones):

- each step presents a point (``cycle``: point ``s mod m`` at step ``s``; else every point at
  once, the twin's example average) and solves its free network at the present gates;
- ``rule`` decides the point's clamping targets: ``PLAIN`` its desired outputs; ``HINGE`` (the
  lab's standard clamping, ``UPD 3``) the hinge targets, ``label`` apart about the outputs' mean,
  while ``s d < margin`` (``d = out_0 - out_1``, ``s`` the class sign), else its own free outputs
  (learning stays engaged: the bias acts); ``OVERCLAMP`` (``UPD 4``) learns only a misclassified
  point (``s d <= 0``), towards the rails, for ``step_s`` divided by the previous epoch's
  misclassified count when ``normalise`` and ``cycle`` (the lab's ``NOR``), and leaves the gates
  alone (leak only) otherwise;
- a learning point's clamped network holds its targets nudged by ``eta`` from its free outputs;
  the edge drive is ``(1 - lam) a_F dV_F^2 - a_C dV_C^2`` (mean over the points learnt in the
  step), held for the learning time, plus the learning bias ``B`` (V/s); the leak acts for the
  whole step; the gate stops at its rails (:mod:`twin.simulation.edge`).

Operating point of the transistors: each point keeps its last free and clamped node voltages and
evaluates the conductances at their mid-points before solving, up to ``iters`` times per solve
until no node moves by more than ``tol`` (``iters = 1`` is the twin's lagged scheme,
:mod:`twin.kernels.events.loop`; the board itself settles between steps). An epoch is ``m``
steps (``cycle``) or one step; ``kill`` stops after an epoch in which every point was classified
right. No learning-rule noise (the emulator's default).
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import Arr, jit
from .events.devices import conductance
from .events.rng import normal
from .small import solve_small

__all__ = ["HINGE", "OVERCLAMP", "PLAIN", "run_steps", "settle"]

# rules
PLAIN, HINGE, OVERCLAMP = 0, 1, 2


@jit
def _solve(
    gates: Arr, ends: Arr, dev: Arr, kind: int, nodes: Arr, pos: Arr, unknown: Arr,
    held: Arr, values: Arr, iters: int, tol: float, k_s: Arr, a: Arr, rhs: Arr, out: Arr,
    scratch: Arr,
) -> bool:  # fmt: skip
    """Solve the network for ``nodes`` up to ``iters`` times; False if singular.

    ``pos[n]``: row of node ``n`` among the unknowns, ``-1`` when held; ``unknown``: those nodes.
    The first conductances come from ``nodes`` as they were (the last solution); then the nodes
    ``held`` take their new ``values`` (the clamped targets). Stops early once a solve moves no
    node by more than ``tol`` (V; 0: always ``iters`` solves).
    """
    nu = unknown.shape[0]
    for it in range(iters):
        for i in range(ends.shape[0]):
            u = ends[i, 0]
            v = ends[i, 1]
            k_s[i] = conductance(kind, dev[i, 0], dev[i, 1], dev[i, 2], gates[i],
                                 0.5 * (nodes[u] + nodes[v]))  # fmt: skip
        if it == 0:
            for j in range(held.shape[0]):
                nodes[held[j]] = values[j]
        for r in range(nu):
            rhs[r] = 0.0
            for c in range(nu):
                a[r, c] = 0.0
        for i in range(ends.shape[0]):
            u = ends[i, 0]
            v = ends[i, 1]
            k = k_s[i]
            pu = pos[u]
            pv = pos[v]
            if pu >= 0:
                a[pu, pu] += k
                if pv >= 0:
                    a[pu, pv] -= k
                else:
                    rhs[pu] += k * nodes[v]
            if pv >= 0:
                a[pv, pv] += k
                if pu >= 0:
                    a[pv, pu] -= k
                else:
                    rhs[pv] += k * nodes[u]
        if not solve_small(a, rhs, nu, out, scratch):
            return False
        change = 0.0
        for r in range(nu):
            change = max(change, abs(out[r] - nodes[unknown[r]]))
            nodes[unknown[r]] = out[r]
        if change <= tol:
            break
    return True


@jit
def settle(
    gates: Arr, ends: Arr, dev: Arr, kind: int, nodes: Arr, pos: Arr, unknown: Arr, iters: int
) -> bool:
    """Fixed point of one network's operating point (up to ``iters`` solves) for ``nodes``."""
    nu = unknown.shape[0]
    none = np.zeros(0, dtype=np.int64)
    return _solve(gates, ends, dev, kind, nodes, pos, unknown, none, np.zeros(0), iters, 1e-14,
                  np.zeros(ends.shape[0]), np.zeros((nu, nu)), np.zeros(nu), np.zeros(nu),
                  np.zeros((nu, nu + 1)))  # fmt: skip


@jit
def _read(v: float, sigma: float, lsb: float, codes: int, key: np.uint64, n: int) -> float:
    """A voltage (V) as an ADC reads it: Gaussian noise (draw ``n`` of the run's ``key``), then
    quantised to ``codes`` codes."""
    if sigma > 0.0:
        v += sigma * normal(key, 0, n)
    if lsb > 0.0:
        v = min(max(float(np.rint(v / lsb)), 0.0), float(codes)) * lsb
    return v


@jit
def run_steps(
    gates: Arr, ends: Arr, dev: Arr, kind: int, edge: Arr,
    free: Arr, clamped: Arr, pos_f: Arr, unk_f: Arr, pos_c: Arr, unk_c: Arr, targets: Arr,
    desired: Arr, signs: Arr,
    rule: int, cycle: bool, eta: float, lam: float, margin: float, label: float,
    rail_lo: float, rail_hi: float, step_s: float, normalise: bool, iters: int, tol: float,
    max_epochs: int, kill: bool, read_sigma: float, read_lsb: float, read_codes: int, seed: int,
    wrong: Arr, out: Arr,
) -> int:  # fmt: skip
    """Train from ``gates`` (V, in place) for at most ``max_epochs`` epochs; epochs run.

    ``edge`` ``(E, 8)`` or ``(E, 9)``: ``a_F, a_C, R C, tau_leak, v_rest, v_min, v_max, B`` per edge
    and the soft-wall width (V; 0 or absent: hard rails).
    ``free``/``clamped`` ``(m, N)``: each point's node voltages (held values in place, the last
    solution elsewhere). ``targets``: the two target nodes. ``wrong[e]``: misclassified points
    seen in epoch ``e`` (``-1`` past the end). ``out`` (in and out, so a training resumes where
    the last call left it): learning time (s), board time (s), status (0 ok, 1 singular, 2
    perfect), the last epoch's misclassified count (``m`` before the first), noise draws made.
    The decisions read the two outputs as the node ADC does (:func:`_read`: noise ``read_sigma``
    V, then ``read_lsb`` V codes up to ``read_codes``; all 0: the true voltages), its noise
    counter-based draws of the key ``seed``; the clamped network nudges the true outputs.
    """
    key = np.uint64(seed)
    draws = int(out[4])
    m = free.shape[0]
    n_edges = ends.shape[0]
    nt = targets.shape[0]
    nu = max(unk_f.shape[0], unk_c.shape[0])
    a = np.zeros((nu, nu))
    rhs = np.zeros(nu)
    sol = np.zeros(nu)
    scratch = np.zeros((nu, nu + 1))
    drive = np.zeros(n_edges)
    k_s = np.zeros(n_edges)
    goal = np.zeros(nt)
    nudged = np.zeros(nt)
    none = np.zeros(0, dtype=np.int64)
    per_epoch = m if cycle else 1
    per_step = 1 if cycle else m
    n_wrong_last = int(out[3])
    learn_s = out[0]
    board_s = out[1]
    out[2] = 0.0
    for epoch in range(max_epochs):
        n_wrong = 0
        for s in range(per_epoch):
            for i in range(n_edges):
                drive[i] = 0.0
            n_learn = 0
            for q in range(per_step):
                p = s if cycle else q
                if not _solve(gates, ends, dev, kind, free[p], pos_f, unk_f, none, goal, iters,
                              tol, k_s, a, rhs, sol, scratch):  # fmt: skip
                    out[2] = 1.0
                    return epoch
                learn = True
                if rule == PLAIN:
                    for j in range(nt):
                        goal[j] = desired[p, j]
                else:
                    o0 = _read(free[p, targets[0]], read_sigma, read_lsb, read_codes, key, draws)
                    o1 = _read(free[p, targets[1]], read_sigma, read_lsb, read_codes, key,
                               draws + 1)  # fmt: skip
                    draws += 2
                    sd = signs[p] * (o0 - o1)
                    if sd <= 0.0:
                        n_wrong += 1
                    if rule == OVERCLAMP:
                        learn = sd <= 0.0
                        mid = 0.5 * (rail_lo + rail_hi)
                        half = 0.5 * (rail_hi - rail_lo)
                        goal[0] = mid + half * signs[p]
                        goal[1] = mid - half * signs[p]
                    elif sd < margin:
                        mean = 0.5 * (o0 + o1)
                        goal[0] = mean + 0.5 * label * signs[p]
                        goal[1] = mean - 0.5 * label * signs[p]
                    else:
                        goal[0] = o0
                        goal[1] = o1
                if not learn:
                    continue
                n_learn += 1
                for j in range(nt):
                    v_f = free[p, targets[j]]
                    nudged[j] = v_f + eta * (goal[j] - v_f)
                if not _solve(gates, ends, dev, kind, clamped[p], pos_c, unk_c, targets, nudged,
                              iters, tol, k_s, a, rhs, sol, scratch):  # fmt: skip
                    out[2] = 1.0
                    return epoch
                for i in range(n_edges):  # (1 - lam) a_F dF^2 - a_C dC^2, factored as the twin's
                    u = ends[i, 0]
                    v = ends[i, 1]
                    d_f = free[p, u] - free[p, v]
                    diff = (clamped[p, u] - clamped[p, v]) - d_f
                    a_f = edge[i, 0]
                    a_c = edge[i, 1]
                    drive[i] -= (a_c * diff * (2.0 * d_f + diff)
                                 + (a_c - a_f + lam * a_f) * d_f * d_f)  # fmt: skip
            dt_learn = 0.0
            if n_learn > 0:
                dt_learn = step_s
                if rule == OVERCLAMP and normalise and cycle:
                    dt_learn = step_s / max(n_wrong_last, 1)
            for i in range(n_edges):
                g = gates[i]
                rate = 0.0
                if n_learn > 0:
                    rate = drive[i] / n_learn / edge[i, 2] + edge[i, 7]
                    if edge.shape[1] > 8 and edge[i, 8] > 0.0:  # soft wall (EdgeParams)
                        if rate > 0.0:
                            rate *= min(max((edge[i, 6] - g) / edge[i, 8], 0.0), 1.0)
                        elif rate < 0.0:
                            rate *= min(max((g - edge[i, 5]) / edge[i, 8], 0.0), 1.0)
                tau = edge[i, 3]
                if math.isfinite(tau):  # the closed form of twin.kernels.events.gate
                    v_inf = edge[i, 4] + tau * rate
                    g = g + (v_inf - g) * (-math.expm1(-dt_learn / tau))
                    g = g + (edge[i, 4] - g) * (-math.expm1(-(step_s - dt_learn) / tau))
                else:
                    g = g + rate * dt_learn
                gates[i] = min(max(g, edge[i, 5]), edge[i, 6])
            learn_s += dt_learn
            board_s += step_s
        wrong[epoch] = n_wrong
        n_wrong_last = n_wrong
        out[0] = learn_s
        out[1] = board_s
        out[3] = n_wrong_last
        out[4] = draws
        if kill and rule != PLAIN and n_wrong == 0:
            out[2] = 2.0
            return epoch + 1
    return max_epochs
