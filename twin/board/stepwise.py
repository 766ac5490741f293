"""Training decided at every learning step, as the lab's board does (arXiv 2505.22887).

The lab's control code presents one training point per learning step (25 us in its overclamping
runs) and decides at that step, from the point's free outputs, whether and towards what the
board learns. Rounds (:mod:`twin.board.overclamp`: 1-10 ms of learning per point, then a new
decision) overshoot once the circle is small; this module decides per step instead, in a compiled
loop (:mod:`twin.kernels.stepwise`) over one board's edge circuits:

- ``standard`` (the lab's ``UPD 3``, eta 128/129, 60 s, never stopped): every point is presented
  and learnt; a point inside the hinge margin (``s (out_0 - out_1) < margin_v``) aims at outputs
  ``label_v`` apart about their mean, any other point at its own free outputs (its targets
  switched off: no nudge, but learning stays engaged, so the bias drives the gates);
- ``overclamp`` (``UPD 4``, eta 32/129): only a misclassified point learns, towards the rails,
  for ``step_s`` divided by the previous epoch's misclassified count (``NOR 1``); training stops
  after an epoch (one pass over the points) without a misclassified point (``KIL 1``).

:class:`StepwiseRun` is a training under way, resumable epoch by epoch; :func:`step_train` runs
one to its end on given edges from given gates (pure). :mod:`twin.board.stepwise_board` runs it on
a :class:`~twin.board.emulator.BoardEmulator`. :func:`plain_steps` runs the same loop on a plain
task (every example learnt at every step, the twin's scheme), which the tests compare with the
event-driven twin step by step.
"""

from __future__ import annotations

import attrs
import numpy as np

from twin._validators import positive
from twin.board.errors import BridgeConfigError
from twin.board.hinge import check_classifier, free_outputs_at_v
from twin.board.variation import NODE_FULL_SCALE_V, Adc
from twin.errors import SolverError
from twin.kernels import stepwise as KS
from twin.kernels.events.devices import LINEAR, TRANSISTOR
from twin.physics.task import Task
from twin.simulation.devices import LinearDevice
from twin.simulation.edge import EdgeParams

__all__ = ["StepPolicy", "StepResult", "StepwiseRun", "plain_steps", "step_train"]

#: The lab's hinge buffer and label in its standard runs of the circle (0.04 of the node range).
LAB_CIRCLE_MARGIN_V = 0.04 * NODE_FULL_SCALE_V
#: Fixed-point solves per network and step at most, and the node change (V) that ends them: the
#: board's operating point settles between decisions (a point is presented once per epoch, so
#: its last solution is a few steps old; two solves left a point on the wrong side).
DEFAULT_ITERS = 30
SETTLE_TOL_V = 1e-10


@attrs.frozen(kw_only=True)
class StepPolicy:
    """How a classifier board is trained point by point, deciding at every step.

    Parameters
    ----------
    overclamp
        Overclamping (rail targets, misclassified points only, stop after a perfect epoch); else
        standard clamping with a hinge (every point learnt, targets off beyond the margin).
    eta
        Nudge while learning.
    margin_v
        Hinge margin of the output difference, V (standard clamping).
    label_v
        Output difference a point inside the margin aims at, V (``None``: ``margin_v``).
    rails_v
        Low and high rail of the overclamped targets, V.
    step_s
        Learning step (one point presented), s.
    max_s
        Board time trained at most, s.
    normalise
        Overclamping: a step learns ``step_s`` over the previous epoch's misclassified count.
    stop_when_perfect
        Stop after an epoch without a misclassified point (``None``: only when overclamping).
    iters
        Fixed-point solves of each network per step at most (transistor operating point; they
        stop once no node moves by more than 1e-10 V).
    decide_by_adc
        Decide from the outputs as the board's node ADC reads them (noise, 10-bit codes), as the
        lab's control code does, rather than from the true voltages.
    """

    overclamp: bool = True
    eta: float = attrs.field(default=32 / 129, validator=positive(BridgeConfigError))
    margin_v: float = attrs.field(
        default=LAB_CIRCLE_MARGIN_V, validator=positive(BridgeConfigError)
    )
    label_v: float | None = None
    rails_v: tuple[float, float] = (0.0, NODE_FULL_SCALE_V)
    step_s: float = attrs.field(default=25e-6, validator=positive(BridgeConfigError))
    max_s: float = attrs.field(default=60.0, validator=positive(BridgeConfigError))
    normalise: bool = True
    stop_when_perfect: bool | None = None
    iters: int = attrs.field(default=DEFAULT_ITERS, validator=positive(BridgeConfigError))
    decide_by_adc: bool = False

    def __attrs_post_init__(self) -> None:
        lo, hi = self.rails_v
        if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
            raise BridgeConfigError(f"rails_v: expected low < high, got {self.rails_v}")
        if self.label_v is not None and not (np.isfinite(self.label_v) and self.label_v > 0):
            raise BridgeConfigError(f"label_v: expected a difference > 0 V, got {self.label_v}")

    @classmethod
    def lab_standard(cls, **changes: object) -> StepPolicy:
        """The lab's standard clamping of the circle: hinge at 18 mV, eta 128/129, 60 s."""
        return attrs.evolve(cls(overclamp=False, eta=128 / 129), **changes)  # type: ignore[arg-type]

    @classmethod
    def lab_overclamp(cls, **changes: object) -> StepPolicy:
        """The lab's overclamping: eta 32/129, rail targets, normalised, stop when perfect."""
        return attrs.evolve(cls(), **changes)  # type: ignore[arg-type]

    @property
    def label(self) -> float:
        return self.margin_v if self.label_v is None else self.label_v

    @property
    def stops(self) -> bool:
        return self.overclamp if self.stop_when_perfect is None else self.stop_when_perfect


@attrs.frozen(kw_only=True, eq=False)
class StepResult:
    """Outcome of a per-step training.

    ``error_fraction``: misclassified fraction at the gates reached (true free outputs at the
    settled operating point: a point overclamping left microvolts from the line may fall back
    across it under the leak); ``wrong_per_epoch``: misclassified presentations in each epoch
    as the board decided them (the last, over the point count: :attr:`decided_error`);
    ``learning_s``: time the board learnt, s; ``board_s``: board time trained, s; ``perfect``:
    stopped after an epoch without a misclassified point.
    """

    error_fraction: float
    wrong_per_epoch: np.ndarray
    learning_s: float
    board_s: float
    perfect: bool
    points: int

    @property
    def epochs(self) -> int:
        return int(self.wrong_per_epoch.size)

    @property
    def decided_error(self) -> float:
        """Misclassified fraction of the last epoch as the board decided it (the lab's report)."""
        return float(self.wrong_per_epoch[-1] / self.points) if self.epochs else 0.0


def _layout(task: Task, clamped: bool) -> tuple[np.ndarray, np.ndarray]:
    n = task.network.n_nodes
    held = np.zeros(n, dtype=bool)
    held[task.ground] = True
    held[task.sources] = True
    if clamped:
        held[task.targets] = True
    unknown = np.flatnonzero(~held).astype(np.int64)
    pos = np.full(n, -1, dtype=np.int64)
    pos[unknown] = np.arange(unknown.size)
    return pos, unknown


def _edge_table(edges: EdgeParams, n_edges: int) -> np.ndarray:
    c = edges.columns(n_edges)
    cols = ("a_free_per_v", "a_clamp_per_v", "tau_leak_s", "v_rest_v", "v_min_v", "v_max_v")
    a_f, a_c, tau, v_rest, v_min, v_max = (c[k] for k in cols)
    rc = c["r_charge_ohm"] * c["c_gate_f"]
    bias = np.where(a_f + a_c > 0, c["bias_v_per_s"], 0.0)  # an edge that cannot learn: no bias
    table = [a_f, a_c, rc, tau, v_rest, v_min, v_max, bias]
    if np.any(c["soft_wall_v"] > 0):
        table.append(c["soft_wall_v"])
    return np.ascontiguousarray(np.stack(table, axis=1))


class StepwiseRun:
    """A per-step training under way on given edge circuits, resumable epoch by epoch.

    Build one with :meth:`classifier` (standard or overclamping, :class:`StepPolicy`) or
    :meth:`plain`; :meth:`run` trains a number of epochs (``m`` steps each for a classifier, one
    step for a plain task), :attr:`gates` holds the gate voltages reached (V), :attr:`done` says
    whether training has ended (a perfect epoch, or every epoch allowed run), :meth:`result`
    gives the outcome so far.
    """

    def __init__(
        self, edges: EdgeParams, task: Task, gates_v: np.ndarray, *, rule: int, cycle: bool,
        eta: float, lam: float, margin: float, label: float, rails: tuple[float, float],
        step_s: float, normalise: bool, iters: int, tol: float, max_epochs: int, kill: bool,
        adc: Adc | None = None, seed: int = 0,
    ) -> None:  # fmt: skip
        if task.source_kind != "nodes" or task.target_kind != "nodes":
            raise BridgeConfigError("task: per-step training needs node sources and node targets")
        self.task = task
        self._ends = np.ascontiguousarray(task.network.edges, dtype=np.int64)
        self.set_edges(edges)
        lo, hi = self._table[:, 5], self._table[:, 6]
        self.gates = np.clip(np.asarray(gates_v, dtype=float), lo, hi).copy()
        self._pos_f, self._unk_f = _layout(task, False)
        self._pos_c, self._unk_c = _layout(task, True)
        inputs = np.asarray(task.train.inputs, dtype=float)
        self._desired = np.ascontiguousarray(task.train.outputs, dtype=float)
        m = inputs.shape[0]
        self._free = np.zeros((m, task.network.n_nodes))
        self._free[:, task.sources] = inputs
        self._clamped = self._free.copy()
        self._targets = np.ascontiguousarray(task.targets, dtype=np.int64)
        self._settle(rule, eta)
        self._signs = check_classifier(task) if rule != KS.PLAIN else np.ones(m)
        self._rule, self._cycle, self._kill = rule, cycle, kill
        self._floats = (eta, lam, margin, label, rails[0], rails[1], step_s)
        self._normalise, self._iters, self._tol = normalise, iters, tol
        self._adc = (0.0, 0.0, 0) if adc is None else (adc.sigma_v, adc.lsb_v, 2**adc.bits - 1)
        self._seed = seed
        self.epochs_left = int(max_epochs)
        self.epoch_s = step_s * (m if cycle else 1)
        self._out = np.zeros(5)
        self._out[3] = m
        self._wrong: list[np.ndarray] = []
        self.epochs_run = 0
        #: Board time the training started, s (set by whoever runs it on a board).
        self.t0_s = 0.0

    def set_edges(self, edges: EdgeParams) -> None:
        """Train on ``edges`` from now on (a fault changed the board's circuits)."""
        n_edges = self.task.network.n_edges
        self.edges = edges
        self._kind = LINEAR if isinstance(edges.device, LinearDevice) else TRANSISTOR
        self._dev = np.ascontiguousarray(edges.device.params(n_edges))
        self._table = _edge_table(edges, n_edges)

    def _settle(self, rule: int, eta: float) -> None:
        """The operating points the loop starts from (fixed points at the start gates)."""
        g, t = self.gates, self._targets
        for p in range(self._free.shape[0]):
            ok = KS.settle(g, self._ends, self._dev, self._kind, self._free[p], self._pos_f,
                           self._unk_f, 50)  # fmt: skip
            vf = self._free[p, t]
            goal = self._desired[p] if rule == KS.PLAIN else vf
            self._clamped[p] = self._free[p]
            self._clamped[p, t] = vf + eta * (goal - vf)
            if not (ok and KS.settle(g, self._ends, self._dev, self._kind, self._clamped[p],
                                     self._pos_c, self._unk_c, 50)):  # fmt: skip
                raise SolverError("per-step training: singular network at the start")

    @classmethod
    def classifier(
        cls, edges: EdgeParams, task: Task, gates_v: np.ndarray, policy: StepPolicy, *,
        adc: Adc | None = None, seed: int = 0,
    ) -> StepwiseRun:  # fmt: skip
        """The training of the classifier ``task`` under ``policy`` (see :func:`step_train`)."""
        check_classifier(task)
        m = task.train.inputs.shape[0]
        return cls(
            edges, task, gates_v, rule=KS.OVERCLAMP if policy.overclamp else KS.HINGE,
            cycle=True, eta=policy.eta, lam=0.0, margin=policy.margin_v, label=policy.label,
            rails=policy.rails_v, step_s=policy.step_s, normalise=policy.normalise,
            iters=policy.iters, tol=SETTLE_TOL_V,
            max_epochs=max(int(np.ceil(policy.max_s / (policy.step_s * m) - 1e-9)), 1),
            kill=policy.stops,
            adc=(adc or Adc(bits=10, sigma_v=2e-4)) if policy.decide_by_adc else None, seed=seed,
        )  # fmt: skip

    @property
    def done(self) -> bool:
        """Training has ended (a perfect epoch with the stop rule, or no epoch left)."""
        return self._out[2] == 2.0 or self.epochs_left <= 0

    def run(self, epochs: int) -> int:
        """Train up to ``epochs`` more epochs (fewer when training ends); the epochs run."""
        n = min(int(epochs), self.epochs_left)
        if n <= 0 or self.done:
            return 0
        wrong = np.full(n, -1, dtype=np.int64)
        eta, lam, margin, label, lo, hi, step_s = self._floats
        sigma, lsb, codes = self._adc
        ran = KS.run_steps(
            self.gates, self._ends, self._dev, self._kind, self._table, self._free,
            self._clamped, self._pos_f, self._unk_f, self._pos_c, self._unk_c, self._targets,
            self._desired, self._signs, self._rule, self._cycle, eta, lam, margin, label, lo,
            hi, step_s, self._normalise, self._iters, self._tol, n, self._kill, sigma, lsb,
            codes, self._seed, wrong, self._out,
        )  # fmt: skip
        if self._out[2] == 1.0:
            raise SolverError("per-step training: singular network")
        self._wrong.append(wrong[:ran])
        self.epochs_left -= ran
        self.epochs_run += ran
        return int(ran)

    def result(self) -> StepResult:
        """The outcome so far (the error at the gates reached, settled)."""
        outputs = free_outputs_at_v(self.edges.device, self.gates, self.task)
        margins = self._signs * (outputs[:, 0] - outputs[:, 1])
        wrong = np.concatenate(self._wrong) if self._wrong else np.zeros(0, dtype=np.int64)
        return StepResult(
            error_fraction=float(np.mean(margins <= 0.0)),
            wrong_per_epoch=wrong,
            learning_s=float(self._out[0]),
            board_s=float(self._out[1]),
            perfect=bool(self._out[2] == 2.0),
            points=int(self.task.train.inputs.shape[0]),
        )


def step_train(
    edges: EdgeParams, task: Task, gates_v: np.ndarray, policy: StepPolicy, *,
    adc: Adc | None = None, seed: int = 0,
) -> tuple[np.ndarray, StepResult]:  # fmt: skip
    """Train the classifier ``task`` on ``edges`` from ``gates_v`` (V) under ``policy``.

    With ``policy.decide_by_adc`` the decisions read the outputs through ``adc`` (default: the
    emulator's node ADC, 10 bits over 0.4532 V, 0.2 mV noise), its noise drawn from ``seed``.
    Returns the gates reached (V) and the outcome. Raises
    :class:`~twin.board.errors.BridgeConfigError` unless ``task`` is a two-output classifier with
    node sources and targets.
    """
    run = StepwiseRun.classifier(edges, task, gates_v, policy, adc=adc, seed=seed)
    run.run(run.epochs_left)
    return run.gates.copy(), run.result()


def plain_steps(
    edges: EdgeParams, task: Task, gates_v: np.ndarray, *, eta: float, lam: float = 0.0,
    step_s: float, n_steps: int, iters: int = 1,
) -> np.ndarray:  # fmt: skip
    """Gates (V) after ``n_steps`` steps of learning every example of ``task`` towards its outputs.

    The twin's synchronous scheme (every example at every step, drive averaged; with ``iters``
    1 the lagged operating point of :mod:`twin.kernels.events.loop`), for comparison with it.
    """
    run = StepwiseRun(
        edges, task, gates_v, rule=KS.PLAIN, cycle=False, eta=eta, lam=lam, margin=1.0,
        label=1.0, rails=(0.0, 1.0), step_s=step_s, normalise=False, iters=iters, tol=0.0,
        max_epochs=n_steps, kill=False,
    )  # fmt: skip
    run.run(n_steps)
    return run.gates.copy()
