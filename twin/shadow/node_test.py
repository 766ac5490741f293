"""The node test: a board's node readings at known inputs against the calibrated twin's prediction.

The test behind the active probe (:mod:`twin.shadow.probe`): the twin predicts the free nodes from
the *reported* gates averaged over the frames and its calibrated device model
(:meth:`~twin.board.circuit.BoardCircuit.free_response`), so it tests the conductance model alone,
not the learning dynamics. The statistics, the two tests (absolute and step) and their
false-alarm bound are described in :mod:`twin.shadow.probe`. :class:`NodeTester` keeps the last
clean result at each (epoch, inputs) as the step test's reference, the results, and the alarm
monitor the results feed.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from twin.board.contract import BoardState
from twin.physics.task import Task
from twin.shadow.alarms import Alarm, DivergenceMonitor
from twin.shadow.node_tail import NodeTail
from twin.shadow.probe_stats import (
    ProbeResult,
    critical_z,
    gate_sensitivity,
    quantisation_bias,
    read_spread,
    single_node,
    threshold_fit,
)
from twin.shadow.state import TwinState
from twin.shadow.threshold_track import ThresholdTrackConfig, ThresholdTracker
from twin.simulation.edge import EdgeParams

__all__ = [
    "KEPT_RESULTS",
    "NAMED_EDGES",
    "NAME_EXPLAINED",
    "PROBE_MODEL_V",
    "PROBE_STEP_REL",
    "NodeCheck",
    "NodeTester",
    "check_off",
    "free_nodes",
]

#: The calibrated twin's stated accuracy on a free node's voltage under a probe, V: how far its
#: free response at the reported gates may sit from the board's before the absolute test starts.
#: The calibration fits thresholds on gates between 2.0 and 4.5 V, so at gates pinned at a rail
#: its node error can be persistent: measured (``benchmarks/bench_probe.py --seeds 20
#: --first-seed 300 --duration 60``: fault-free calibrated boards, probes every 1 s) node
#: residuals up to 3.1 mV (board 303: 2.8 mV median, for the whole minute); the smallest margin
#: that would have kept all 20 boards silent was 2.5 mV. A persistent error cancels in the step
#: test, which carries the probe's sensitivity; the absolute test, which alone sees a fault
#: older than the shadow, keeps this margin.
PROBE_MODEL_V = 5.0e-3

#: The twin's stated accuracy on how a node's voltage *changes* between two probes at the same
#: inputs: this fraction of the predicted change (the gates moved in between). Measured like
#: :data:`PROBE_MODEL_V`: the smallest fraction that would have kept the 20 boards silent was
#: 1.0 %.
PROBE_STEP_REL = 0.1

#: Edges named by an alarm, at most.
NAMED_EDGES = 3

#: Fraction of the residual's sum of squares one edge's threshold shift must explain to be named.
NAME_EXPLAINED = 0.5


#: Results a tester keeps (its counters cover every test): 10 h of tests every 0.25 s would
#: otherwise be 144,000 results, arrays and all.
KEPT_RESULTS = 4096
#: Operating points kept to start the next prediction from, one per (epoch, inputs).
KEPT_STARTS = 64


class NodeTester:
    """Tests node readings against the twin: results, step references and the alarm monitor.

    Parameters
    ----------
    every_s
        Board time between tests, s (sets the level with ``false_alarm_hours``).
    false_alarm_hours
        Target mean time between false alarms, board-hours.
    state
        The shadow's state (task, circuit, epoch); read only.
    source
        The alarms' ``source`` (``probe``: the active probe).
    track
        Track every edge's threshold from the clean tests
        (:class:`~twin.shadow.threshold_track.ThresholdTracker`) and test the residual beyond
        it; ``None``: test against the calibration's thresholds.
    tail
        The measured tail of the tests' largest statistics the level is set from
        (:class:`~twin.shadow.node_tail.NodeTail`); ``None``: the Gaussian Bonferroni level.
    """

    def __init__(
        self,
        *,
        every_s: float,
        false_alarm_hours: float,
        state: TwinState,
        source: str,
        track: ThresholdTrackConfig | None = None,
        tail: NodeTail | None = None,
    ) -> None:
        self.every_s = float(every_s)
        self.track = track
        self.tail = tail
        self.tracker: ThresholdTracker | None = None
        self.false_alarm_hours = float(false_alarm_hours)
        self.state = state
        self.source = source
        self.monitor = DivergenceMonitor(threshold=1.0, hold_s=0.0, clear_s=0.0, source=source)
        #: The latest results (at most :data:`KEPT_RESULTS`: a shadow runs for hours).
        self.results: deque[ProbeResult] = deque(maxlen=KEPT_RESULTS)
        #: Tests evaluated, the largest score over ``z_crit``, the largest statistic (standard
        #: errors) and the last ``z_crit``, over all.
        self.evaluated = 0
        self.score_max = 0.0
        self.z_max = 0.0
        self.z_crit: float | None = None
        #: The last clean test at each (epoch, inputs): nodes, residual, prediction, errors.
        self._reference: dict[tuple[Any, ...], dict[str, Any]] = {}
        #: The last predicted nodes at each (epoch, inputs), where the next prediction's
        #: operating-point iteration starts (at most :data:`KEPT_STARTS`).
        self._last_nodes: dict[tuple[Any, ...], np.ndarray] = {}

    def evaluate(
        self,
        frames: Sequence[BoardState],
        inputs_v: np.ndarray,
        edges: EdgeParams,
        params: Mapping[str, Any],
        *,
        clamped_reads: bool = True,
    ) -> ProbeResult | None:
        """Test ``frames`` (at ``inputs_v``) against the twin's ``edges``.

        ``clamped_reads``: the frames' clamped node readings are second readings of the same
        free network (a probe's hold: the board reads both copies); ``False`` for frames in
        training, whose clamped network is nudged and is no reading of the free one."""
        task, circuit = self.state.task, self.state.circuit
        if task is None or circuit is None:
            return None
        free = free_nodes(task)
        reads = [np.asarray(f.v_free_v, dtype=float) for f in frames]
        reads += [
            np.asarray(f.v_clamped_v, dtype=float)
            for f in frames
            if clamped_reads and not np.array_equal(f.v_clamped_v, f.v_free_v)  # a copy is no
        ]  # second reading
        stack = np.stack(reads)
        gate_reads = np.stack([np.asarray(f.gate_v, dtype=float) for f in frames])
        gates = gate_reads.mean(axis=0)
        key = (self.state.epoch, tuple(float(x) for x in inputs_v))
        predicted, _ = circuit.free_response(
            edges.device, gates, inputs_v, start_nodes_v=self._last_nodes.get(key)
        )
        if len(self._last_nodes) >= KEPT_STARTS and key not in self._last_nodes:
            self._last_nodes.pop(next(iter(self._last_nodes)))  # bounded: the oldest goes
        self._last_nodes[key] = predicted
        full_v = float(params.get("node_full_scale_v", 0.0) or 0.0)
        bits = int(params.get("node_adc_bits", 0) or 0)
        lsb = full_v / (2**bits - 1) if full_v > 0 and bits > 0 else 0.0
        if full_v > 0:  # a reading clipped at either end of the ADC says nothing
            inside = (predicted > 2 * lsb) & (predicted < full_v - 2 * lsb)
            inside &= np.all((stack > 0.5 * lsb) & (stack < full_v - 0.5 * lsb), axis=0)
            free = free[inside[free]]
        if free.size == 0:
            return None
        # read noise of the nodes (dithering their quantisation) and of the gates, which the
        # prediction inherits through the nodes' sensitivity to each gate
        spread = read_spread(stack[:, free])
        sigma = max(spread, lsb / math.sqrt(12.0), 1e-6)
        sens = gate_sensitivity(circuit, edges.device, gates, predicted, free)
        gate_var = read_spread(gate_reads) ** 2 / len(frames)
        se = np.sqrt(sigma**2 / stack.shape[0] + gate_var * np.sum(sens * sens, axis=1))
        bias = quantisation_bias(spread, lsb)
        raw = stack[:, free].mean(axis=0) - predicted[free]
        res, se_abs = raw, se
        if self.track is not None:  # the residual beyond the tracked thresholds
            if self.tracker is None:
                self.tracker = ThresholdTracker(task.network.n_edges, self.track)
            shift, var = self.tracker.correction(sens)
            res, se_abs = raw - shift, np.sqrt(se * se + var)
        z = np.maximum(np.abs(res) - PROBE_MODEL_V - bias, 0.0) / se_abs
        # the change since the last clean probe at these inputs, beyond the predicted change
        ref = self._reference.get(key)
        z_step, step, moved, step_se = (np.zeros_like(z) for _ in range(4))
        if ref is not None and np.array_equal(ref["nodes"], free):
            step, moved = raw - ref["res"], predicted[free] - ref["pred"]
            step_se = np.hypot(se, ref["se"])
            margin = PROBE_STEP_REL * np.abs(moved) + bias + ref["bias"]
            z_step = np.maximum(np.abs(step) - margin, 0.0) / step_se
        z_crit = self.level(free.size)
        alarm = bool(max(np.max(z), np.max(z_step)) > z_crit)
        named: tuple[tuple[int, float, float], ...] = ()
        if alarm:  # fit what triggered it: the step when the step did, else the residual
            fitted = step if np.max(z_step) > np.max(z) else res
            shifts, explained = threshold_fit(sens, fitted)
            order = np.argsort(-explained, kind="stable")[:NAMED_EDGES]
            # a single node's reading (its ADC channel) is the rival explanation of every edge
            _, one_node = single_node(fitted)
            named = tuple(
                (int(e), float(shifts[e]), float(explained[e]))
                for e in order
                if explained[e] >= NAME_EXPLAINED and explained[e] > one_node
            )
        else:  # a clean probe is the reference the next one's change is measured from
            self._reference[key] = {
                "nodes": free,
                "res": raw,
                "pred": predicted[free],
                "se": se,
                "bias": bias,
            }
        result = ProbeResult(
            t_s=frames[0].t_s,
            inputs_v=tuple(float(x) for x in inputs_v),
            nodes=tuple(int(i) for i in free),
            residual_v=res,
            sigma_v=se_abs,
            z=z,
            z_step=z_step,
            z_crit=z_crit,
            step_v=step,
            step_pred_v=moved,
            step_se_v=step_se,
            bias_v=bias,
            reads=int(stack.shape[0]),
            alarm=alarm,
            edges=tuple(e for e, _, _ in named),
            shifts_v=tuple(s for _, s, _ in named),
            explained=tuple(x for _, _, x in named),
        )
        if self.tracker is not None and result.z_max < self.tracker.config.learn_below * z_crit:
            self.tracker.update(frames[-1].t_s, sens, raw, se)
        self.results.append(result)
        self.evaluated += 1
        self.score_max = max(self.score_max, result.z_max / result.z_crit)
        self.z_max = max(self.z_max, result.z_max)
        self.z_crit = result.z_crit
        return result

    def level(self, n_nodes: int) -> float:
        """The decision level (standard errors) of a test of ``n_nodes`` free nodes: from the
        measured tail where there is one, else Bonferroni over two Gaussian tests per node."""
        if self.tail is not None:
            return self.tail.level_z(self.every_s, self.false_alarm_hours, n_nodes)
        return critical_z(self.every_s, self.false_alarm_hours, 2 * n_nodes)

    def feed(self, result: ProbeResult, board_id: str, epoch: int) -> Alarm | None:
        """The probe's alarm path: an alarm is raised by a probe over ``z_crit`` (named edges
        and nodes, the edges' threshold fits as ``likely``) and ends at the next clean probe.
        It is stamped with the result's run time (its board time plus the shadow's offset)."""
        run_t_s = result.t_s + self.state.offset_s
        task = self.state.task
        n_edges = task.network.n_edges if task is not None else 0
        n_nodes = task.network.n_nodes if task is not None else 0
        node_scores = np.zeros(n_nodes)
        node_scores[list(result.nodes)] = np.maximum(result.z, result.z_step) / result.z_crit
        edge_scores = np.zeros(n_edges)
        top = float(np.max(node_scores, initial=0.0))
        for rank, (e, x) in enumerate(zip(result.edges, result.explained, strict=True)):
            edge_scores[e] = max(top * x, 1.0 + 1e-6 * (NAMED_EDGES - rank))
        alarm = self.monitor.update(
            run_t_s, edge_scores, node_scores, board_id=board_id, epoch=epoch
        )
        if self.monitor.active is not None and result.alarm:
            self.monitor.annotate(result.likely(self.source))
            if alarm is not None and alarm.end_s is None:
                alarm = self.monitor.active
        return alarm


def check_off(every_s: float | None) -> dict[str, Any] | None:
    """The summary's entry of a check that a shadow without calibration does not run (``None``
    when none was asked)."""
    if every_s is None:
        return None
    return {"off": "uncalibrated twin: its conductance model is not established (calibrate)"}


class NodeCheck:
    """What the probe and the node check share: their :class:`NodeTester`, its monitor, results
    and alarms."""

    tester: NodeTester

    @property
    def monitor(self) -> DivergenceMonitor:
        """The check's alarm monitor."""
        return self.tester.monitor

    @property
    def results(self) -> deque[ProbeResult]:
        """The latest evaluated tests, oldest first (at most :data:`KEPT_RESULTS`)."""
        return self.tester.results

    @property
    def alarms(self) -> list[Alarm]:
        """The check's finished alarms, plus the active one."""
        active = [self.monitor.active] if self.monitor.active is not None else []
        return [*self.monitor.alarms, *active]

    def thresholds_tracked(self) -> dict[str, Any] | None:
        """The summary's ``thresholds_tracked``: the threshold tracker's (``None``: none)."""
        tracker = self.tester.tracker
        return tracker.summary() if tracker is not None else None


def free_nodes(task: Task) -> np.ndarray:
    """Nodes no boundary condition holds in the free network (ground and source nodes held)."""
    held = np.zeros(task.network.n_nodes, dtype=bool)
    held[task.ground] = True
    if task.source_kind == "nodes":
        held[task.sources] = True
    return np.flatnonzero(~held)
