"""Conductance curves ``k(V_G, V_mid)`` of the edge devices (:mod:`twin.simulation.devices`)."""

from __future__ import annotations

import math

import numpy as np

from .._jit import jit

__all__ = ["LINEAR", "TRANSISTOR", "conductance", "conductance_array"]

# device kinds
LINEAR, TRANSISTOR = 0, 1


@jit
def conductance(kind: int, p0: float, p1: float, p2: float, v_gate: float, v_mid: float) -> float:
    """Edge conductance (S) for gate voltage ``v_gate`` and mid-point voltage ``v_mid`` (V).

    Linear: ``p0 * (v_gate - p1)`` (slope S/V, zero-conductance gate voltage V).
    Transistor: ``p0 * n * softplus((v_gate - p1 - v_mid) / n)`` with ``n = p2 / ln 10``: the
    ohmic-region ``S (V_G - V_t - V_mid)`` above threshold, ``p2`` volts per decade below.
    """
    if kind == LINEAR:
        return p0 * (v_gate - p1)
    n = p2 / math.log(10.0)
    z = (v_gate - p1 - v_mid) / n
    sp = z + math.log1p(math.exp(-z)) if z > 0.0 else math.log1p(math.exp(z))
    return p0 * n * sp


@jit
def conductance_array(
    kind: int, dev: np.ndarray, v_gate: np.ndarray, v_mid: np.ndarray
) -> np.ndarray:
    """:func:`conductance` per edge: ``dev`` ``(E, 3)``, voltages ``(E,)``."""
    out = np.empty(v_gate.shape[0])
    for i in range(v_gate.shape[0]):
        out[i] = conductance(kind, dev[i, 0], dev[i, 1], dev[i, 2], v_gate[i], v_mid[i])
    return out
