"""The board's circuit seen from its measurements: edge drops, conductances, powers, KCL.

Everything here works from *reported* voltages (gate voltages and free/clamped node voltages) and
a device model (:mod:`twin.simulation.devices`), without solving the network: the transistor's
conductance is evaluated at the measured mid-point, ``k_i = k(V_G,i, (V_a + V_b)/2)``, and

    P = sum_i k_i dV_i^2                     (watts, free or clamped network)
    u_i = (1 - lam) a_F dV_F,i^2 - a_C dV_C,i^2   (charging drive, V; gate power u^2 / R)

(PHYSICS.md sections 1, 5 and 8). :func:`kcl_residual` gives the current imbalance at every node
that no boundary condition holds (amperes), the quantity calibration drives to zero.
:func:`free_response` solves the free network for arbitrary inputs (inference).
"""

from __future__ import annotations

import attrs
import numpy as np

from twin.physics.solver import CircuitBatch, free_state
from twin.physics.task import Task
from twin.simulation.devices import Device, LinearDevice
from twin.simulation.edge import EdgeParams

__all__ = ["BoardCircuit", "EdgeModel", "Powers"]

#: Fixed-point iterations for the transistor's operating point in :meth:`free_response`.
OPERATING_POINT_ITERS = 30


@attrs.frozen(kw_only=True)
class Powers:
    """Instantaneous powers of the board, watts."""

    free_w: float
    clamped_w: float
    gate_w: float


class EdgeModel:
    """An edge model's per-edge arrays, evaluated in numpy without per-call set-up.

    The conductance is the device's documented curve (:mod:`twin.simulation.devices`):
    transistor ``k = S n ln(1 + exp((V_G - V_t - V_mid) / n))`` with ``n`` the subthreshold
    slope over ``ln 10``, or linear ``k = slope (V_G - v_zero)``. A test checks it against
    ``Device.conductance``.
    """

    def __init__(self, edges: EdgeParams, n_edges: int) -> None:
        self.edges = edges
        cols = edges.columns(n_edges)
        self.a_free_per_v = cols["a_free_per_v"]
        self.a_clamp_per_v = cols["a_clamp_per_v"]
        self.r_charge_ohm = cols["r_charge_ohm"]
        self.c_gate_f = cols["c_gate_f"]
        dev = edges.device.params(n_edges)
        self.linear = isinstance(edges.device, LinearDevice)
        self._p0, self._p1 = dev[:, 0].copy(), dev[:, 1].copy()
        self._n = dev[:, 2] / np.log(10.0)

    def conductance(self, gate_v: np.ndarray, v_mid_v: np.ndarray) -> np.ndarray:
        """Conductances (S) at gate voltages and mid-point voltages (V)."""
        if self.linear:
            return self._p0 * (gate_v - self._p1)
        x = (gate_v - self._p1 - v_mid_v) / self._n
        return self._p0 * self._n * np.logaddexp(0.0, x)


class BoardCircuit:
    """Drops, powers and KCL residuals of one task's network from measured voltages.

    Parameters
    ----------
    task
        The board's task (network, ground, sources, targets).
    """

    def __init__(self, task: Task) -> None:
        self.task = task
        edges = task.network.edges
        self.u = np.ascontiguousarray(edges[:, 0])
        self.v = np.ascontiguousarray(edges[:, 1])
        held = np.zeros(task.network.n_nodes, dtype=bool)
        held[task.ground] = True
        if task.source_kind == "nodes":
            held[task.sources] = True
        self._held_free = held.copy()
        if task.target_kind == "nodes":
            held[task.targets] = True
        self._held_clamped = held
        self._batch = CircuitBatch.from_tasks([task])
        inc = np.zeros((self.u.size, task.network.n_nodes))
        inc[np.arange(self.u.size), self.u] = 1.0
        inc[np.arange(self.u.size), self.v] -= 1.0
        self._incidence = inc

    @property
    def n_edges(self) -> int:
        return int(self.u.size)

    def drops(self, v_nodes_v: np.ndarray) -> np.ndarray:
        """Edge drops ``V_u - V_v`` (V), for ``(..., N)`` node voltages."""
        return v_nodes_v[..., self.u] - v_nodes_v[..., self.v]

    def gross_drive_v_per_s(
        self, model: EdgeModel, v_free_v: np.ndarray, v_clamped_v: np.ndarray, *, lam: float
    ) -> np.ndarray:
        """Each gate's two drive terms added instead of subtracted, as a gate rate (V/s):
        ``((1 - lam) a_F dV_F^2 + a_C dV_C^2) / (R C)`` (their difference drives the gate)."""
        free, clamped = self.drops(v_free_v), self.drops(v_clamped_v)
        u = (1.0 - lam) * model.a_free_per_v * free**2 + model.a_clamp_per_v * clamped**2
        return np.asarray(u / (model.r_charge_ohm * model.c_gate_f))

    def midpoints(self, v_nodes_v: np.ndarray) -> np.ndarray:
        """Edge mid-point voltages (V), for ``(..., N)`` node voltages."""
        return 0.5 * (v_nodes_v[..., self.u] + v_nodes_v[..., self.v])

    def conductance(self, device: Device, gate_v: np.ndarray, v_nodes_v: np.ndarray) -> np.ndarray:
        """Conductances (S) of every edge at measured gates and node voltages (``(E,)``)."""
        return np.asarray(device.conductance(gate_v, self.midpoints(v_nodes_v)))

    def powers(
        self,
        model: EdgeModel,
        gate_v: np.ndarray,
        v_free_v: np.ndarray,
        v_clamped_v: np.ndarray,
        *,
        lam: float,
        training: bool,
    ) -> Powers:
        """Free, clamped and gate-charging power (W) of a measured state under ``model``."""
        d_f, d_c = self.drops(v_free_v), self.drops(v_clamped_v)
        k_f = model.conductance(gate_v, self.midpoints(v_free_v))
        k_c = model.conductance(gate_v, self.midpoints(v_clamped_v))
        p_g = 0.0
        if training:
            u = (1.0 - lam) * model.a_free_per_v * d_f**2 - model.a_clamp_per_v * d_c**2
            p_g = float(np.dot(u, u / model.r_charge_ohm))
        return Powers(
            free_w=float(np.dot(k_f, d_f**2)), clamped_w=float(np.dot(k_c, d_c**2)), gate_w=p_g
        )

    def powers_many(
        self,
        model: EdgeModel,
        gate_v: np.ndarray,
        v_free_v: np.ndarray,
        v_clamped_v: np.ndarray,
        *,
        lam: np.ndarray,
        training: np.ndarray,
    ) -> np.ndarray:
        """Free, clamped and gate powers (W, ``(F, 3)``) of ``F`` measured states at once."""
        f = gate_v.shape[0]
        both = np.concatenate([v_free_v, v_clamped_v])  # free and clamped in one pass
        at_u, at_v = both[:, self.u], both[:, self.v]  # what drops and midpoints index
        d = at_u - at_v
        d2 = d * d
        k = model.conductance(np.concatenate([gate_v, gate_v]), 0.5 * (at_u + at_v))
        p = np.sum(k * d2, axis=-1)
        u = (1.0 - lam)[:, None] * model.a_free_per_v * d2[:f] - model.a_clamp_per_v * d2[f:]
        p_g = np.where(training, (u * u) @ (1.0 / model.r_charge_ohm), 0.0)
        return np.stack([p[:f], p[f:], p_g], axis=-1)

    def kcl_residual(self, k_s: np.ndarray, v_nodes_v: np.ndarray, *, clamped: bool) -> np.ndarray:
        """Net current (A) leaving every node no boundary condition holds.

        ``k_s`` ``(..., E)`` and ``v_nodes_v`` ``(..., N)``; returns ``(..., N_free)``.
        """
        out = (k_s * self.drops(v_nodes_v)) @ self._incidence
        held = self._held_clamped if clamped else self._held_free
        return out[..., ~held]

    def free_response(
        self,
        device: Device,
        gate_v: np.ndarray,
        inputs_v: np.ndarray,
        *,
        start_nodes_v: np.ndarray | None = None,
    ) -> tuple[np.ndarray, float]:
        """Free node voltages (V, ``(N,)``) and free power (W) for ``inputs_v`` at held gates.

        The transistor's operating point is iterated to a fixed point
        (``k = k(V_G, V_mid(k))``), from mid-points 0 V or, given ``start_nodes_v`` (node
        voltages near the answer, e.g. the last answer at nearby gates), from theirs: the same
        fixed point in fewer iterations.
        """
        inputs = np.asarray(inputs_v, dtype=float).reshape(1, 1, -1)
        nodes = np.zeros(self.task.network.n_nodes)
        v_mid = np.zeros(self.n_edges)
        if start_nodes_v is not None and np.shape(start_nodes_v) == nodes.shape:
            v_mid = self.midpoints(np.asarray(start_nodes_v, dtype=float))
        for _ in range(OPERATING_POINT_ITERS):
            k = np.asarray(device.conductance(gate_v, v_mid))
            basis = self._batch.basis(k[None, :])
            state = free_state(self._batch, basis, inputs)
            nodes = self._batch.node_voltages(basis, state.currents)[0, :, 0]
            new_mid = self.midpoints(nodes)
            if np.max(np.abs(new_mid - v_mid)) < 1e-12:
                break
            v_mid = new_mid
        k = np.asarray(device.conductance(gate_v, self.midpoints(nodes)))
        return nodes, float(np.sum(k * self.drops(nodes) ** 2))
