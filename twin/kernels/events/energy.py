"""Energy books of the twin: network energy between conductance changes, clamp feedback.

Between changes the network powers are constant (instantaneous nudge) or, with a clamp feedback
loop of time constant ``tau``, a quadratic form in exponentially relaxing clamp values,
integrated in closed form (:func:`clamped_energy`). :func:`prepare` books the energy up to an
event; :func:`pending_energy` reads what is not booked yet without changing anything.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import jit
from ..small import solve_small
from ..status import SINGULAR
from .circuit import clamped_only
from .gate import pending_gate_energy
from .state import KernelState

__all__ = ["clamped_energy", "pending_energy", "prepare"]


@jit
def clamped_energy(st: KernelState, dt: float) -> float:
    """Clamped-network energy (J) over the next ``dt`` seconds with no conductance change.

    With an instantaneous nudge the power is constant; with a feedback loop of time constant
    ``tau`` the clamp values relax exponentially and the power, a quadratic form in them, is
    integrated in closed form.
    """
    tau = st.rule_tau_feedback_s
    if tau <= 0.0 or dt <= 0.0:
        return st.energy_clamped_power_w * dt
    m = st.examples_b.shape[0]
    c = st.examples_b.shape[1]
    ns = st.rule_n_sources
    b0 = np.empty(c)
    d = np.zeros(c)
    z0 = np.empty(c)
    z1 = np.empty(c)
    e1 = -math.expm1(-dt / tau)
    e2 = -math.expm1(-2.0 * dt / tau)
    total = 0.0
    for e in range(m):
        for j in range(c):
            b0[j] = st.examples_b[e, j]
        for j in range(c - ns):
            b0[ns + j] = st.examples_c_inf[e, j]
            d[ns + j] = st.examples_b[e, ns + j] - st.examples_c_inf[e, j]
        q = st.circuit_clamp_q[e]
        ok = solve_small(st.circuit_s[q], b0, c, z0, st.examples_sm)
        if not (ok and solve_small(st.circuit_s[q], d, c, z1, st.examples_sm)):
            st.counters_status = SINGULAR
        p0 = 0.0
        p1 = 0.0
        p2 = 0.0
        for j in range(c):
            p0 += b0[j] * z0[j]
            p1 += d[j] * z0[j]
            p2 += d[j] * z1[j]
        total += p0 * dt + 2.0 * p1 * tau * e1 + 0.5 * p2 * tau * e2
    return total / m


@jit
def prepare(st: KernelState, t: float) -> None:
    """Book the energy dissipated up to ``t`` and move the clamp values to ``t``.

    Idempotent at one instant; every event group calls it before changing anything.
    """
    dt = t - st.energy_t_s
    if dt <= 0.0:
        return
    st.energy_free_j += st.energy_free_power_w * dt
    tau = st.rule_tau_feedback_s
    if tau <= 0.0:
        st.energy_clamped_j += st.energy_clamped_power_w * dt
    else:
        st.energy_clamped_j += clamped_energy(st, dt)
        f = math.exp(-dt / tau)
        ns = st.rule_n_sources
        for e in range(st.examples_b.shape[0]):
            for j in range(st.examples_c_inf.shape[1]):
                st.examples_b[e, ns + j] = (
                    st.examples_c_inf[e, j]
                    + (st.examples_b[e, ns + j] - st.examples_c_inf[e, j]) * f
                )
        clamped_only(st)
    st.energy_t_s = t


@jit
def pending_energy(st: KernelState, t: float) -> tuple[float, float, float]:
    """Energies (J) free, clamped, gate charging dissipated since the last booking, up to ``t``.

    Read-only: probes call it so that looking never changes the trajectory.
    """
    dt = t - st.energy_t_s
    e_free = st.energy_free_power_w * max(dt, 0.0)
    e_clamped = clamped_energy(st, dt) if dt > 0.0 else 0.0
    return e_free, e_clamped, pending_gate_energy(st, t)
