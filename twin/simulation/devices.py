"""Conductance curves ``k(V_G)``: the ideal linear element and the board's transistor.

Linear (ideal network)
    ``k = slope * (V_G - v_zero)``. The gate rails bound ``k``; with ``v_zero < v_min`` every
    conductance is positive. :func:`linear_for_bounds` builds the map whose rails are exactly a
    network's ``[k_min, k_max]`` (used to compare with the synchronous trainer).

Transistor (realistic board, PHYSICS.md section 8)
    An n-MOSFET in the ohmic region carries ``I = S (V_G - V_t - (V_a + V_b)/2) (V_a - V_b)``.
    That is *exactly* a conductance ``k = S (V_G - V_t - V_mid)`` times the drop, with
    ``V_mid = (V_a + V_b)/2`` the edge's mid-point voltage, so the network is nonlinear only
    through ``V_mid``. Below threshold the square law is replaced by a smooth exponential floor of
    ``subthreshold_v_per_decade`` volts per decade (0.1 V/decade):

        k = S * n * ln(1 + exp((V_G - V_t - V_mid) / n)),   n = subthreshold / ln(10)

    which tends to ``S (V_G - V_t - V_mid)`` above threshold and to ``S n exp(...)`` below.
    Saturation (``V_DS > V_G - V_t``) is not modelled: on the board ``V_DS <= 0.45 V``, well
    below the overdrive over most of the 1.0-5.5 V gate range.

How the solver handles the nonlinearity
    Each (state, example) pair is its own circuit, because the free and clamped networks are two
    physical networks whose transistors see different node voltages. An edge's conductance in
    each circuit is evaluated at that circuit's current operating point whenever the edge
    updates (its events): ``k = k(V_G, V_mid)`` with ``V_mid`` read from the circuit just before
    the update. Between an edge's events its conductance is frozen, so the operating point it
    uses lags by at most one of its update intervals (0.1 ms at 10 kHz, while the node voltages
    move on the learning time scale of ~0.1-1 s). At the start the fixed point
    ``k = k(V_G, V_mid(k))`` is iterated to a relative tolerance of 1e-12.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from .._validators import finite, positive
from ..kernels.events import devices as KD
from ..kernels.events.state import DeviceGroup
from .errors import ModelError

__all__ = [
    "BOARD_SUBTHRESHOLD_V_PER_DECADE",
    "BOARD_S_A_PER_V2",
    "BOARD_V_T_V",
    "Device",
    "LinearDevice",
    "TransistorDevice",
    "device_group",
    "linear_for_bounds",
]

#: Transistor gain factor of the board's n-MOSFETs, A/V^2 (PHYSICS.md section 8).
BOARD_S_A_PER_V2 = 8.5e-4
#: Threshold voltage, V (0.62-0.7 V on the board).
BOARD_V_T_V = 0.65
#: Subthreshold slope, volts per decade of current.
BOARD_SUBTHRESHOLD_V_PER_DECADE = 0.1


def _array(value: Any) -> np.ndarray:
    arr = np.array(value, dtype=float)
    arr.setflags(write=False)
    return arr


@attrs.frozen(kw_only=True, eq=False)
class LinearDevice:
    """Ideal linear element ``k = slope_siemens_per_v * (V_G - v_zero_v)`` (scalars or per edge)."""

    slope_siemens_per_v: np.ndarray = attrs.field(converter=_array, validator=positive(ModelError))
    v_zero_v: np.ndarray = attrs.field(converter=_array, validator=finite(ModelError))
    kind = KD.LINEAR
    name = "linear"

    def params(self, n_edges: int) -> np.ndarray:
        """Kernel parameter columns ``(E, 3)``."""
        return _columns(n_edges, self.slope_siemens_per_v, self.v_zero_v, 0.0)

    def conductance(self, v_gate_v: np.ndarray, v_mid_v: np.ndarray | None = None) -> np.ndarray:
        """Conductances (S) for gate voltages ``v_gate_v`` (the mid-point is irrelevant)."""
        return _evaluate(self, v_gate_v, v_mid_v)


@attrs.frozen(kw_only=True, eq=False)
class TransistorDevice:
    """Board n-MOSFET in the ohmic region with a subthreshold floor (scalars or per edge)."""

    s_a_per_v2: np.ndarray = attrs.field(
        default=_array(BOARD_S_A_PER_V2), converter=_array, validator=positive(ModelError)
    )
    v_t_v: np.ndarray = attrs.field(
        default=_array(BOARD_V_T_V), converter=_array, validator=finite(ModelError)
    )
    subthreshold_v_per_decade: np.ndarray = attrs.field(
        default=_array(BOARD_SUBTHRESHOLD_V_PER_DECADE),
        converter=_array,
        validator=positive(ModelError),
    )
    kind = KD.TRANSISTOR
    name = "transistor"

    def params(self, n_edges: int) -> np.ndarray:
        return _columns(n_edges, self.s_a_per_v2, self.v_t_v, self.subthreshold_v_per_decade)

    def conductance(self, v_gate_v: np.ndarray, v_mid_v: np.ndarray | None = None) -> np.ndarray:
        """Small-signal conductance (S) at gate ``v_gate_v`` and mid-point ``v_mid_v`` (V)."""
        return _evaluate(self, v_gate_v, v_mid_v)


Device = LinearDevice | TransistorDevice


def _columns(n_edges: int, *cols: np.ndarray | float) -> np.ndarray:
    try:
        return np.column_stack([np.broadcast_to(np.asarray(c, float), (n_edges,)) for c in cols])
    except ValueError:
        raise ModelError(f"device: per-edge parameters must have {n_edges} entries") from None


def _evaluate(device: Device, v_gate_v: np.ndarray, v_mid_v: np.ndarray | None) -> np.ndarray:
    vg = np.atleast_1d(np.asarray(v_gate_v, dtype=float))
    vm = np.zeros_like(vg) if v_mid_v is None else np.broadcast_to(v_mid_v, vg.shape)
    dev = device.params(vg.size)
    return KD.conductance_array(device.kind, dev, vg.ravel(), np.ascontiguousarray(vm, float))


def linear_for_bounds(
    k_min_siemens: float, k_max_siemens: float, v_min_v: float, v_max_v: float
) -> LinearDevice:
    """The linear map taking the gate rails ``[v_min_v, v_max_v]`` to ``[k_min_siemens,
    k_max_siemens]`` (siemens)."""
    if not (0 < k_min_siemens < k_max_siemens and v_min_v < v_max_v):
        raise ModelError("linear device: need 0 < k_min < k_max and v_min < v_max")
    slope = (k_max_siemens - k_min_siemens) / (v_max_v - v_min_v)
    return LinearDevice(slope_siemens_per_v=slope, v_zero_v=v_min_v - k_min_siemens / slope)


def device_group(device: Device, n_edges: int) -> DeviceGroup:
    """The device's kernel group: its kind and per-edge parameter columns ``(E, 3)``."""
    return DeviceGroup(kind=int(device.kind), params=np.ascontiguousarray(device.params(n_edges)))
