"""The gate capacitor of an edge: exact evolution under a held drive and leak, noise, rails.

Scalar closed forms (:func:`gate_advance`, :func:`gate_noise_std`, :func:`crossing_time`) and
the state-level step :func:`advance_gate` (PHYSICS.md section 8, :mod:`twin.simulation.edge`).
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import jit
from .rng import S_NOISE, normal, stream_id
from .state import KernelState

__all__ = [
    "advance_gate",
    "crossing_time",
    "gate_advance",
    "gate_advance_array",
    "gate_noise_std",
    "gates_at",
    "pending_gate_energy",
    "wall_factor",
]


@jit
def gate_advance(
    v0: float, dt: float, drive_v: float, c_f: float, r_ohm: float, tau_s: float, v_rest: float
) -> float:
    """Exact gate voltage after ``dt`` seconds of constant drive and leak (no rails).

    ``dV/dt = drive / (R C) - (V - v_rest) / tau``; ``tau = inf`` means no leak.
    """
    rate = drive_v / (r_ohm * c_f)
    if not math.isfinite(tau_s):
        return v0 + rate * dt
    v_inf = v_rest + tau_s * rate
    return v0 + (v_inf - v0) * (-math.expm1(-dt / tau_s))


@jit
def gate_noise_std(dt: float, sig: float, tau_s: float) -> float:
    """Standard deviation (V) of the gate's noise increment over ``dt`` seconds.

    ``sig`` is the white-noise amplitude of dV_G/dt (V/sqrt(s)); with leak the increment is that
    of an Ornstein-Uhlenbeck process.
    """
    if dt <= 0.0 or sig <= 0.0:
        return 0.0
    if not math.isfinite(tau_s):
        return sig * math.sqrt(dt)
    return sig * math.sqrt(0.5 * tau_s * (-math.expm1(-2.0 * dt / tau_s)))


@jit
def crossing_time(
    v: float,
    q: float,
    dq: float,
    drive_v: float,
    c_f: float,
    r_ohm: float,
    tau_s: float,
    v_rest: float,
    v_min: float,
    v_max: float,
) -> float:
    """Time (s, from now) until the gate at ``v`` has moved ``dq`` from ``q`` (or hits a rail).

    Returns ``inf`` if it never does under the current drive and leak.
    """
    rate = drive_v / (r_ohm * c_f)
    slope = rate - (v - v_rest) / tau_s if math.isfinite(tau_s) else rate
    if slope > 0.0:
        target = min(q + dq, v_max)
        if target <= v:
            return math.inf
    elif slope < 0.0:
        target = max(q - dq, v_min)
        if target >= v:
            return math.inf
    else:
        return math.inf
    if abs(target - v) <= 1e-9 * dq:
        return math.inf  # at a rail (to rounding): it will not move further this way
    if not math.isfinite(tau_s):
        return max((target - v) / rate, 0.0)
    v_inf = v_rest + tau_s * rate
    ratio = (v_inf - v) / (v_inf - target)
    if ratio <= 0.0 or (v_inf - target) * slope <= 0.0:
        return math.inf
    return max(tau_s * math.log(ratio), 0.0)


@jit
def wall_factor(v: float, drive_v: float, v_min: float, v_max: float, wall_v: float) -> float:
    """Scale of the drive of a gate at ``v`` inside a soft wall of width ``wall_v`` (V).

    Charging toward a rail falls linearly to 0 over the last ``wall_v`` volts before it; motion
    away from the rail is not scaled (:attr:`twin.simulation.edge.EdgeParams.soft_wall_v`).
    """
    if drive_v > 0.0:
        room = v_max - v
    elif drive_v < 0.0:
        room = v - v_min
    else:
        return 1.0
    return min(max(room / wall_v, 0.0), 1.0)


@jit
def advance_gate(st: KernelState, i: int, t: float, noisy: bool) -> None:
    """Move edge ``i``'s capacitor to time ``t`` under its held drive (closed form, rails).

    Books the i^2 R energy of the charging resistor; with ``noisy`` adds the exact noise
    increment accumulated since the edge's last noise draw.
    """
    dt = t - st.edges_t_gate[i]
    u = st.edges_drive[i]
    v = st.edges_v_gate[i]
    r_ohm = st.edges_r_charge_ohm[i]
    c_f = st.edges_c_gate_f[i]
    tau_s = st.edges_tau_leak_s[i]
    if st.edges_wall_v[i] > 0.0:
        u *= wall_factor(v, u, st.edges_v_min_v[i], st.edges_v_max_v[i], st.edges_wall_v[i])
    if dt > 0.0:
        v = gate_advance(v, dt, u, c_f, r_ohm, tau_s, st.edges_v_rest_v[i])
        st.energy_gate_j += u * u / r_ohm * dt
        st.edges_t_gate[i] = t
    if noisy and st.noise_sig_gate > 0.0:
        sig = (
            st.noise_sig_gate
            * 0.5
            * (st.edges_a_free_per_v[i] + st.edges_a_clamp_per_v[i])
            / (r_ohm * c_f)
        )
        std = gate_noise_std(t - st.noise_t_noise[i], sig, tau_s)
        if std > 0.0:
            v += std * normal(st.noise_key, stream_id(S_NOISE, i), st.noise_draws[i])
            st.noise_draws[i] += 1
        st.noise_t_noise[i] = t
    st.edges_v_gate[i] = min(max(v, st.edges_v_min_v[i]), st.edges_v_max_v[i])


@jit
def gates_at(st: KernelState, t: float, out: np.ndarray) -> None:
    """Deterministic gate voltages (V) at ``t`` (read-only; noise since last draw excluded)."""
    for i in range(st.edges_drive.shape[0]):
        u = st.edges_drive[i]
        if st.edges_wall_v[i] > 0.0:
            u *= wall_factor(
                st.edges_v_gate[i], u, st.edges_v_min_v[i], st.edges_v_max_v[i], st.edges_wall_v[i]
            )
        v = gate_advance(
            st.edges_v_gate[i],
            max(t - st.edges_t_gate[i], 0.0),
            u,
            st.edges_c_gate_f[i],
            st.edges_r_charge_ohm[i],
            st.edges_tau_leak_s[i],
            st.edges_v_rest_v[i],
        )
        out[i] = min(max(v, st.edges_v_min_v[i]), st.edges_v_max_v[i])


@jit
def pending_gate_energy(st: KernelState, t: float) -> float:
    """Gate-charging energy (J) dissipated since each edge's last advance, up to ``t``."""
    e_gate = 0.0
    for i in range(st.edges_drive.shape[0]):
        dti = t - st.edges_t_gate[i]
        if dti > 0.0:
            e_gate += st.edges_drive[i] * st.edges_drive[i] / st.edges_r_charge_ohm[i] * dti
    return e_gate


@jit
def gate_advance_array(
    v0: np.ndarray,
    dt: np.ndarray,
    drive_v: np.ndarray,
    c_f: np.ndarray,
    r_ohm: np.ndarray,
    tau_s: np.ndarray,
    v_rest: np.ndarray,
    v_min: np.ndarray,
    v_max: np.ndarray,
) -> np.ndarray:
    """:func:`gate_advance` per element, clipped to the rails."""
    out = np.empty(v0.shape[0])
    for i in range(v0.shape[0]):
        v = gate_advance(v0[i], dt[i], drive_v[i], c_f[i], r_ohm[i], tau_s[i], v_rest[i])
        out[i] = min(max(v, v_min[i]), v_max[i])
    return out
