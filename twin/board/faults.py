"""Faults injected into an emulated board's hidden circuits (emulation only).

Moved out of :mod:`twin.board.emulator`: :func:`with_fault` returns the board's edge circuits with
one edge changed (a gain lost, a threshold shifted, a leak appeared);
:meth:`~twin.board.emulator.BoardEmulator.inject_fault` applies it at the current board time.
"""

from __future__ import annotations

import attrs
import numpy as np

from twin.board.errors import BridgeConfigError
from twin.simulation.devices import TransistorDevice
from twin.simulation.edge import EdgeParams

__all__ = ["with_fault"]


def with_fault(edges: EdgeParams, n_edges: int, edge: int, **changes: float) -> EdgeParams:
    """``edges`` with edge ``edge`` changed.

    ``changes``: ``gain_factor`` (both amplifier gains), ``free_gain_factor``,
    ``threshold_shift_v``, ``leak_tau_s`` (with the rest voltage ``v_rest_v``, default 0).
    Raises :class:`BridgeConfigError` for an edge out of range, an unknown change or a device
    other than a transistor.
    """
    n = n_edges
    if not 0 <= edge < n:
        raise BridgeConfigError(f"edge: expected 0..{n - 1}, got {edge}")
    cols = edges.columns(n)
    dev_vt = np.broadcast_to(edges.device.params(n)[:, 1], (n,)).copy()
    factor = changes.pop("gain_factor", 1.0)
    cols["a_free_per_v"][edge] *= factor * changes.pop("free_gain_factor", 1.0)
    cols["a_clamp_per_v"][edge] *= factor
    dev_vt[edge] += changes.pop("threshold_shift_v", 0.0)
    if "leak_tau_s" in changes:
        cols["tau_leak_s"][edge] = changes.pop("leak_tau_s")
        cols["v_rest_v"][edge] = changes.pop("v_rest_v", 0.0)
    if changes:
        raise BridgeConfigError(f"inject_fault: unknown change(s) {sorted(changes)}")
    dev = edges.device
    if not isinstance(dev, TransistorDevice):
        raise BridgeConfigError("inject_fault: the emulator's device is a transistor")
    device = attrs.evolve(dev, v_t_v=dev_vt)
    cols.pop("v_gate0_v")
    return EdgeParams(device=device, **cols)
