"""The probe's statistics: read noise, quantisation bias, node sensitivities, the decision level.

Pure functions of arrays (volts), used by :class:`~twin.shadow.probe.InferenceProbe`:

- :func:`read_spread`: the pooled standard deviation of repeated readings of a held state;
- :func:`quantisation_bias`: how far the mean of quantised readings can sit from the truth, given
  the noise that dithers them (the harmonics of the rounding error, each damped by the noise);
- :func:`gate_sensitivity`: ``dV_node / dV_gate`` of every node to every edge's gate at a free
  response, from the linearised Kirchhoff equations (the transistor's conductance
  ``k = S n ln(1 + exp((V_G - V_t - V_mid) / n))`` depends on the gate and on the mid-point
  voltage, both taken into account). A threshold shift is a gate shift of the opposite sign;
- :func:`threshold_fit`: the one-edge threshold shift that best explains a node residual;
- :func:`critical_z`: the Bonferroni-corrected Gaussian level for a target mean time between
  false alarms;

and :class:`ProbeResult`, one evaluated probe.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import attrs
import numpy as np

from twin.board.circuit import BoardCircuit
from twin.simulation.devices import Device, TransistorDevice

__all__ = [
    "ProbeResult",
    "critical_z",
    "gate_sensitivity",
    "quantisation_bias",
    "read_spread",
    "single_node",
    "threshold_fit",
]


@attrs.frozen(kw_only=True)
class ProbeResult:
    """One evaluated probe (volts; ``nodes`` the free nodes tested)."""

    t_s: float
    inputs_v: tuple[float, ...]
    nodes: tuple[int, ...]
    residual_v: np.ndarray
    sigma_v: np.ndarray
    z: np.ndarray
    z_step: np.ndarray
    z_crit: float
    #: Change of the residual since the reference probe, the predicted change of the nodes, and
    #: the step's standard error (V; zeros without a reference), the quantisation bias bound (V).
    step_v: np.ndarray
    step_pred_v: np.ndarray
    step_se_v: np.ndarray
    bias_v: float
    reads: int
    alarm: bool
    edges: tuple[int, ...] = ()
    shifts_v: tuple[float, ...] = ()
    explained: tuple[float, ...] = ()

    @property
    def z_max(self) -> float:
        """The larger score of the two tests (absolute residual, change since the reference)."""
        return float(max(np.max(self.z, initial=0.0), np.max(self.z_step, initial=0.0)))

    def likely(self, source: str = "probe") -> tuple[str, ...]:
        """One line per named edge (an alarm's ``likely``); ``source`` names the test (``probe``,
        or ``nodes``: the passive check at the training inputs)."""
        where = "the probe" if source == "probe" else "the training inputs"
        return tuple(
            f"{source}: edge {e} conducts as if its threshold moved {s * 1e3:+.0f} mV "
            f"(explains {x:.0%} of the node residual at {where})"
            for e, s, x in zip(self.edges, self.shifts_v, self.explained, strict=True)
        ) or (self._unexplained(source),)

    def _unexplained(self, source: str) -> str:
        """An alarm no edge explains: one node alone (its ADC channel, most likely), or not."""
        fitted = self.step_v if np.max(self.z_step) > np.max(self.z) else self.residual_v
        k, share = single_node(fitted)
        if share >= ONE_NODE:
            return (
                f"{source}: node {self.nodes[k]} reads {fitted[k] * 1e3:+.0f} mV off the twin, "
                f"alone ({share:.0%} of the node residual): its ADC channel, "
                "no single edge explains it"
            )
        return f"{source}: node residual {self.z_max:.1f} sigma, no single edge explains it"


def single_node(residual_v: np.ndarray) -> tuple[int, float]:
    """The node with the largest residual and its share of the residual's sum of squares (0
    for a zero residual): how well one node's reading alone (its ADC channel) explains it."""
    r = np.asarray(residual_v, dtype=float)
    k = int(np.argmax(np.abs(r)))
    total = float(r @ r)
    return k, (float(r[k] ** 2) / total if total > 0 else 0.0)


#: Fraction of the node residual's sum of squares one node must hold for an alarm no edge
#: explains to name that node's ADC channel.
ONE_NODE = 0.8

#: Harmonics of the rounding error summed by :func:`quantisation_bias` (beyond them the sum of
#: the amplitudes reaches half an LSB anyway unless the noise damps them to nothing).
BIAS_HARMONICS = 64


def critical_z(every_s: float, false_alarm_hours: float, n_tests: int) -> float:
    """Two-sided Gaussian quantile giving at most one false alarm per ``false_alarm_hours``
    board-hours to probes every ``every_s`` s, each making ``n_tests`` tests (Bonferroni)."""
    alpha = every_s / (3600.0 * false_alarm_hours)
    per_test = min(alpha / (2.0 * max(n_tests, 1)), 0.25)
    return NormalDist().inv_cdf(1.0 - per_test)


def read_spread(reads_v: np.ndarray) -> float:
    """Pooled standard deviation (V) of ``(n, m)`` readings: ``n`` readings of ``m`` held values
    (0 with fewer than two readings)."""
    reads = np.asarray(reads_v, dtype=float)
    n, m = reads.shape
    if n < 2 or m == 0:
        return 0.0
    dev = reads - reads.mean(axis=0)
    return math.sqrt(float(np.sum(dev * dev)) / ((n - 1) * m))


def quantisation_bias(sigma_v: float, lsb_v: float) -> float:
    """Largest error (V) of a mean of quantised readings dithered by Gaussian noise ``sigma_v``
    (``lsb_v`` 0: no quantisation, no bias).

    The rounding error ``x - round(x)`` is a sawtooth, ``sum_k (-1)^(k+1) sin(2 pi k x) / (pi k)``
    in LSB; Gaussian noise scales its k-th harmonic by ``exp(-2 pi^2 k^2 sigma^2 / lsb^2)``, so
    the mean's error is at most the sum of those amplitudes, and never more than half an LSB."""
    if lsb_v <= 0:
        return 0.0
    ratio = sigma_v / lsb_v
    k = np.arange(1, BIAS_HARMONICS + 1)
    total = float(np.sum(np.exp(-2.0 * np.pi**2 * k * k * ratio * ratio) / (np.pi * k)))
    return lsb_v * min(0.5, total)


def gate_sensitivity(
    circuit: BoardCircuit,
    device: Device,
    gates_v: np.ndarray,
    nodes_v: np.ndarray,
    free: np.ndarray,
) -> np.ndarray:
    """``dV_i / dV_G,e`` (dimensionless, ``(len(free), E)``) of the free nodes ``free`` at the free
    response ``nodes_v`` (V) with gates ``gates_v`` (V).

    Kirchhoff's current law at the free nodes, ``F(V) = A^T diag(k) A V = 0`` with
    ``k_e = k(V_G,e, V_mid,e)``, linearised: ``J dV = -dF/dV_G dV_G`` with
    ``J = A^T diag(k) A + A^T diag(dV_e dk_e/dV_mid) M`` (``M`` the mid-point operator) and
    ``dF/dV_G,e = A_e^T dV_e dk_e/dV_G``, restricted to the free nodes (the held ones do not move).
    """
    n_edges = circuit.n_edges
    u, v = circuit.u, circuit.v
    n_nodes = nodes_v.size
    a = np.zeros((n_edges, n_nodes))
    a[np.arange(n_edges), u] = 1.0
    a[np.arange(n_edges), v] -= 1.0
    mid_op = 0.5 * np.abs(a)
    drop = a @ nodes_v
    mid = mid_op @ nodes_v
    k, dk_dgate = _conductance_slope(device, gates_v, mid)
    dk_dmid = -dk_dgate  # k depends on V_G - V_mid
    jac = a.T @ (k[:, None] * a) + a.T @ ((drop * dk_dmid)[:, None] * mid_op)
    rhs = a.T * (drop * dk_dgate)[None, :]  # (N, E): dF_i / dV_G,e
    jff = jac[np.ix_(free, free)]
    return -np.linalg.solve(jff, rhs[free])


def _conductance_slope(
    device: Device, gates_v: np.ndarray, mid_v: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Conductance (S) and its slope in the gate voltage (S/V) of every edge."""
    n = gates_v.size
    par = device.params(n)
    if not isinstance(device, TransistorDevice):  # linear: k = slope (V_G - v_zero)
        return par[:, 0] * (gates_v - par[:, 1]), par[:, 0] * np.ones(n)
    s, vt, slope = par[:, 0], par[:, 1], par[:, 2] / np.log(10.0)
    x = (gates_v - vt - mid_v) / slope
    k = s * slope * np.logaddexp(0.0, x)
    return k, s / (1.0 + np.exp(-x))


def threshold_fit(sens_gate: np.ndarray, residual_v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per edge, the threshold shift (V) that alone best explains ``residual_v`` (the nodes'
    sensitivity to a threshold is minus that to the gate, ``sens_gate``), and the fraction of the
    residual's sum of squares it explains (0 for an edge the nodes do not feel)."""
    sens = -np.asarray(sens_gate, dtype=float)
    res = np.asarray(residual_v, dtype=float)
    total = float(res @ res)
    norm = np.sum(sens * sens, axis=0)
    proj = res @ sens
    ok = (norm > 0) & (total > 0)
    shifts = np.where(ok, proj / np.where(ok, norm, 1.0), 0.0)
    explained = np.where(ok, proj * proj / np.where(ok, norm * total, 1.0), 0.0)
    return shifts, explained
