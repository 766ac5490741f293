"""The edge circuit: a gate voltage on a capacitor, charged by the local contrast signal.

Each edge ``i`` of the board (PHYSICS.md section 8) holds its gate voltage ``V_G`` on a capacitor
``c_gate_f``. An amplifier drives a current through ``r_charge_ohm`` onto it:

    I = u / R,    u = (1 - lam) a_F (dV_F)^2 - a_C (dV_C)^2 + offset      (volts)
    dV_G/dt = u / (R C) - (V_G - v_rest_v) / tau_leak_s

with ``a_F``/``a_C`` the amplifier gains for the free and clamped measurements (1/V; x10 on the
board). Lambda is realised the board's way, by weighting the free measurement by ``1 - lam``.
The leak (``tau_leak_s = inf`` by default: no drain resistor on the reference build) relaxes the
gate to ``v_rest_v``. The rails ``[v_min_v, v_max_v]`` bound ``V_G`` (1.0-5.5 V on the board).

Held drive and exact evolution
    An edge agent measures its drops at its events and holds the drive ``u`` until its next
    event (sample and hold). Between events the capacitor therefore sees a constant drive plus
    leak and evolves in closed form,

        V(t) = V0 + u t / (R C)                                (no leak)
        V(t) = V_inf + (V0 - V_inf) exp(-t / tau),  V_inf = v_rest + tau u / (R C)

    (:func:`gate_voltage`), with no time step. The trajectory is monotone, so clipping the end
    value to the rails is exact. The network sees an edge's conductance ``k(V_G)`` as of the
    edge's last event (a zero-order hold of the gate, the quantisation the synchronous trainer
    makes per step); with the continuous clock it is refreshed whenever ``V_G`` moved ``dq``.

Energy of gate charging
    The charging path dissipates ``i^2 R = u^2 / R`` in the resistor while the drive is held; the
    ledger's ``gate_charging`` component is the exact integral ``sum u^2 / R * dt`` over the hold
    intervals (the amplifier keeps driving the same current when the gate is pinned at a rail,
    where the rail clamp sinks it). The energy stored on the capacitor (``C dV^2 / 2``) is
    recoverable and not counted. Noise currents are not counted (white noise has no finite power).

Parameters are per edge (arrays broadcast to ``E``), so component variation is expressible:
:meth:`EdgeParams.varied` draws it.
"""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np

from .._validators import finite, non_negative, positive
from ..kernels.events import gate as KG
from ..kernels.events.state import Edges
from .devices import Device, LinearDevice, TransistorDevice
from .errors import ModelError

__all__ = [
    "BOARD_C_GATE_F",
    "BOARD_GAIN_PER_V",
    "BOARD_R_CHARGE_OHM",
    "EdgeParams",
    "board_edge_params",
    "gate_voltage",
    "gate_write_energy_j",
]

#: Gate capacitor of the board, farads (2.2 uF).
BOARD_C_GATE_F = 2.2e-6
#: Charging resistor of the board, ohms (1 kOhm; RC = 2.2 ms).
BOARD_R_CHARGE_OHM = 1e3
#: Amplifier gain applied to the squared drops, 1/V (x10 on the board).
BOARD_GAIN_PER_V = 10.0
#: Gate rails of the board, volts.
BOARD_V_MIN_V, BOARD_V_MAX_V = 1.0, 5.5
#: Initial gate voltage (mid-range conductance), volts.
BOARD_V_GATE0_V = 3.0


def gate_write_energy_j(c_gate_f: Any, before_v: Any, after_v: Any) -> float:
    """Energy (J) a write of gates from ``before_v`` to ``after_v`` (V) dissipates: each
    capacitor (``c_gate_f``, F) charged through its resistor from a driver stepped to the new
    voltage loses ``C dV^2 / 2`` in the resistor, whatever its value; summed over the gates."""
    dv = np.asarray(after_v, dtype=float) - np.asarray(before_v, dtype=float)
    return float(np.sum(0.5 * np.asarray(c_gate_f, dtype=float) * dv**2))


def _array(value: Any) -> np.ndarray:
    arr = np.array(value, dtype=float)
    arr.setflags(write=False)
    return arr


@attrs.frozen(kw_only=True, eq=False)
class EdgeParams:
    """Per-edge circuit parameters (scalars or ``(E,)`` arrays), in SI units.

    Parameters
    ----------
    device
        Conductance curve ``k(V_G)``.
    c_gate_f
        Gate capacitance, F.
    r_charge_ohm
        Charging resistance, ohm.
    a_free_per_v, a_clamp_per_v
        Amplifier gains on the squared free and clamped drops, 1/V.
    tau_leak_s
        Leak time constant, s (``inf``: no leak).
    v_rest_v
        Voltage the leak relaxes to, V.
    v_min_v, v_max_v
        Gate rails, V.
    v_gate0_v
        Initial gate voltage, V.
    bias_v_per_s
        Learning bias, V/s: the drift of the gate while the edge learns, whatever the drops (an
        offset on the charging drive after the amplifier, ``bias R C`` volts; arXiv 2505.22887).
        It acts only while the amplifier drives the gate (gains > 0): a held gate does not drift.
    soft_wall_v
        Width of a soft wall at each rail, V (0: hard rails only, the default). Within
        ``soft_wall_v`` of a rail the charging toward that rail is scaled by the distance to the
        rail over the width (falling linearly to 0 at the rail); motion away from it is not
        (issue 23: the lab's gates keep moving near the ends of their range). The factor is taken
        at the start of each advance, exact in the limit of short advances (the board's 100 us
        ticks move a gate well under a mV); the continuous clock's crossing times ignore it.
    """

    device: Device
    c_gate_f: np.ndarray = attrs.field(
        default=_array(BOARD_C_GATE_F), converter=_array, validator=positive(ModelError)
    )
    r_charge_ohm: np.ndarray = attrs.field(
        default=_array(BOARD_R_CHARGE_OHM), converter=_array, validator=positive(ModelError)
    )
    a_free_per_v: np.ndarray = attrs.field(
        default=_array(BOARD_GAIN_PER_V), converter=_array, validator=non_negative(ModelError)
    )
    a_clamp_per_v: np.ndarray = attrs.field(
        default=_array(BOARD_GAIN_PER_V), converter=_array, validator=non_negative(ModelError)
    )
    tau_leak_s: np.ndarray = attrs.field(
        default=_array(np.inf), converter=_array, validator=positive(ModelError, allow_inf=True)
    )
    v_rest_v: np.ndarray = attrs.field(
        default=_array(0.0), converter=_array, validator=finite(ModelError)
    )
    v_min_v: np.ndarray = attrs.field(
        default=_array(BOARD_V_MIN_V), converter=_array, validator=finite(ModelError)
    )
    v_max_v: np.ndarray = attrs.field(
        default=_array(BOARD_V_MAX_V), converter=_array, validator=finite(ModelError)
    )
    v_gate0_v: np.ndarray = attrs.field(
        default=_array(BOARD_V_GATE0_V), converter=_array, validator=finite(ModelError)
    )
    bias_v_per_s: np.ndarray = attrs.field(
        default=_array(0.0), converter=_array, validator=finite(ModelError)
    )
    soft_wall_v: np.ndarray = attrs.field(
        default=_array(0.0), converter=_array, validator=non_negative(ModelError)
    )

    def __attrs_post_init__(self) -> None:
        if np.any(np.asarray(self.v_min_v) >= np.asarray(self.v_max_v)):
            raise ModelError("v_min_v/v_max_v: need v_min_v < v_max_v")
        if isinstance(self.device, LinearDevice) and np.any(
            self.device.slope_siemens_per_v * (self.v_min_v - self.device.v_zero_v) <= 0
        ):
            raise ModelError(
                "linear device: the lower rail v_min_v must give a positive conductance "
                "(v_min_v > v_zero_v)"
            )

    def bias_offsets_v2(self, n_edges: int) -> np.ndarray:
        """The learning bias as a per-edge offset on the contrast (V^2), the form the kernel adds.

        The kernel's drive carries ``0.5 (a_F + a_C) offset``; an offset of
        ``bias R C / (0.5 (a_F + a_C))`` makes the gate move at ``bias`` V/s while the edge learns.
        Zero where the gains are zero (the edge does not learn, so it does not drift).
        """
        cols = self.columns(n_edges)
        gain = 0.5 * (cols["a_free_per_v"] + cols["a_clamp_per_v"])
        drive = cols["bias_v_per_s"] * cols["r_charge_ohm"] * cols["c_gate_f"]
        out = np.zeros(n_edges)
        np.divide(drive, gain, out=out, where=gain > 0)
        return out

    @property
    def rc_s(self) -> np.ndarray:
        """Charging time constant ``R C``, seconds."""
        return self.r_charge_ohm * self.c_gate_f

    def evolve(self, **changes: Any) -> EdgeParams:
        return attrs.evolve(self, **changes)

    def columns(self, n_edges: int) -> dict[str, np.ndarray]:
        """Every parameter broadcast to ``(n_edges,)`` (raises on a wrong per-edge length)."""
        out = {}
        for field in attrs.fields(EdgeParams):
            if field.name == "device":
                continue
            value = np.asarray(getattr(self, field.name), dtype=float)
            try:
                out[field.name] = np.broadcast_to(value, (n_edges,)).copy()
            except ValueError:
                raise ModelError(
                    f"{field.name}: expected a scalar or {n_edges} values, got shape {value.shape}"
                ) from None
        v0 = out["v_gate0_v"]
        if np.any(v0 < out["v_min_v"]) or np.any(v0 > out["v_max_v"]):
            raise ModelError("v_gate0_v: the initial gate voltage must lie within the rails")
        return out

    def kernel_group(self, n_edges: int) -> Edges:
        """The edges' kernel group: parameters per edge and the gate state at ``t = 0``."""
        cols = self.columns(n_edges)
        v0 = cols["v_gate0_v"]
        return Edges(
            c_gate_f=cols["c_gate_f"],
            r_charge_ohm=cols["r_charge_ohm"],
            a_free_per_v=cols["a_free_per_v"],
            a_clamp_per_v=cols["a_clamp_per_v"],
            tau_leak_s=cols["tau_leak_s"],
            v_rest_v=cols["v_rest_v"],
            v_min_v=cols["v_min_v"].copy(),  # writable: a resync may hold a gate (Twin)
            v_max_v=cols["v_max_v"].copy(),
            wall_v=cols["soft_wall_v"],
            v_gate=v0.copy(),
            t_gate=np.zeros(n_edges),
            drive=np.zeros(n_edges),
            q_gate=v0.copy(),
            events=np.zeros(n_edges, dtype=np.int64),
        )

    def varied(self, n_edges: int, rng: np.random.Generator, rel_sigma: float) -> EdgeParams:
        """A copy with component variation: C, R and the gains times ``1 + rel_sigma N(0, 1)``."""
        cols = self.columns(n_edges)
        scaled = {
            name: cols[name] * np.maximum(1.0 + rel_sigma * rng.standard_normal(n_edges), 0.1)
            for name in ("c_gate_f", "r_charge_ohm", "a_free_per_v", "a_clamp_per_v")
        }
        return self.evolve(**scaled)


def board_edge_params(model: str) -> EdgeParams:
    """The board's edge circuit with the ``linear`` (ideal) or ``transistor`` conductance curve.

    The linear curve is the transistor without its mid-point and subthreshold terms,
    ``k = S (V_G - V_t)``, so both share the conductance scale.
    """
    transistor = TransistorDevice()
    if model == "transistor":
        return EdgeParams(device=transistor)
    if model == "linear":
        return EdgeParams(
            device=LinearDevice(
                slope_siemens_per_v=transistor.s_a_per_v2, v_zero_v=transistor.v_t_v
            )
        )
    raise ModelError(f"model: unknown model {model!r}; expected linear or transistor")


def gate_voltage(
    params: EdgeParams, v0_v: np.ndarray, dt_s: np.ndarray, drive_v: np.ndarray
) -> np.ndarray:
    """Exact gate voltages (V) after ``dt_s`` seconds of constant ``drive_v`` (V), with rails.

    Arrays broadcast to ``(E,)`` for ``E`` edges of ``params``.
    """
    v0 = np.atleast_1d(np.asarray(v0_v, dtype=float))
    n = v0.size
    cols = params.columns(n)
    return KG.gate_advance_array(
        v0,
        np.broadcast_to(np.asarray(dt_s, float), (n,)).copy(),
        np.broadcast_to(np.asarray(drive_v, float), (n,)).copy(),
        cols["c_gate_f"],
        cols["r_charge_ohm"],
        cols["tau_leak_s"],
        cols["v_rest_v"],
        cols["v_min_v"],
        cols["v_max_v"],
    )
