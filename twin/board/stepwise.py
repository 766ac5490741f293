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

:func:`step_train` trains given edges from given gates (pure); :func:`train_stepwise` runs it on
a :class:`~twin.board.emulator.BoardEmulator` (its hidden circuits and gates) and leaves the board
idle on the task at the gates reached, its board time moved on by the time trained (frames are
not published during the block: like ``follow_schedule``, an emulation-only training script).
:func:`plain_steps` runs the same loop on a plain task (every example learnt at every step, the
twin's scheme), which the tests compare with the event-driven twin step by step.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import attrs
import numpy as np

from twin._validators import positive
from twin.board.circuit import BoardCircuit
from twin.board.errors import BridgeConfigError
from twin.board.following import check_schedule_network
from twin.board.hinge import check_classifier, free_outputs_at_v
from twin.board.rounds import end_rounds
from twin.board.variation import NODE_FULL_SCALE_V, Adc
from twin.errors import SolverError
from twin.kernels import stepwise as KS
from twin.kernels.events.devices import LINEAR, TRANSISTOR
from twin.physics.task import Task
from twin.simulation.devices import LinearDevice
from twin.simulation.edge import EdgeParams
from twin.simulation.schedule import Schedule

if TYPE_CHECKING:  # the emulator is trained here: no import at run time
    from twin.board.emulator import BoardEmulator

__all__ = ["StepPolicy", "StepResult", "plain_steps", "step_train", "train_stepwise"]

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
    return np.ascontiguousarray(
        np.stack([a_f, a_c, rc, tau, v_rest, v_min, v_max, c["bias_v_per_s"]], axis=1)
    )


def _run(
    edges: EdgeParams, task: Task, gates_v: np.ndarray, *, rule: int, cycle: bool, eta: float,
    lam: float, margin: float, label: float, rails: tuple[float, float], step_s: float,
    normalise: bool, iters: int, tol: float, max_epochs: int, kill: bool,
    adc: Adc | None = None, seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    if task.source_kind != "nodes" or task.target_kind != "nodes":
        raise BridgeConfigError("task: per-step training needs node sources and node targets")
    n_edges = task.network.n_edges
    ends = np.ascontiguousarray(task.network.edges, dtype=np.int64)
    kind = LINEAR if isinstance(edges.device, LinearDevice) else TRANSISTOR
    dev = np.ascontiguousarray(edges.device.params(n_edges))
    table = _edge_table(edges, n_edges)
    gates = np.clip(np.asarray(gates_v, dtype=float), table[:, 5], table[:, 6]).copy()
    pos_f, unk_f = _layout(task, False)
    pos_c, unk_c = _layout(task, True)
    inputs = np.asarray(task.train.inputs, dtype=float)
    desired = np.ascontiguousarray(task.train.outputs, dtype=float)
    m = inputs.shape[0]
    free = np.zeros((m, task.network.n_nodes))
    free[:, task.sources] = inputs
    clamped = free.copy()
    targets = np.ascontiguousarray(task.targets, dtype=np.int64)
    for p in range(m):  # the operating points the loop starts from
        ok = KS.settle(gates, ends, dev, kind, free[p], pos_f, unk_f, 50)
        vf = free[p, targets]
        goal = desired[p] if rule == KS.PLAIN else vf
        clamped[p] = free[p]
        clamped[p, targets] = vf + eta * (goal - vf)
        if not (ok and KS.settle(gates, ends, dev, kind, clamped[p], pos_c, unk_c, 50)):
            raise SolverError("per-step training: singular network at the start")
    signs = check_classifier(task) if rule != KS.PLAIN else np.ones(m)
    wrong = np.full(max_epochs, -1, dtype=np.int64)
    out = np.zeros(3)
    done = KS.run_steps(
        gates, ends, dev, kind, table, free, clamped, pos_f, unk_f, pos_c, unk_c, targets,
        desired, signs, rule, cycle, float(eta), float(lam), float(margin), float(label),
        float(rails[0]), float(rails[1]), float(step_s), normalise, int(iters), float(tol),
        int(max_epochs), kill,
        0.0 if adc is None else adc.sigma_v, 0.0 if adc is None else adc.lsb_v,
        0 if adc is None else 2**adc.bits - 1, int(seed), wrong, out,
    )  # fmt: skip
    if out[2] == 1.0:
        raise SolverError("per-step training: singular network")
    return gates, wrong[:done], out


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
    check_classifier(task)
    m = task.train.inputs.shape[0]
    max_epochs = max(int(np.ceil(policy.max_s / (policy.step_s * m) - 1e-9)), 1)
    gates, wrong, out = _run(
        edges, task, gates_v, rule=KS.OVERCLAMP if policy.overclamp else KS.HINGE, cycle=True,
        eta=policy.eta, lam=0.0, margin=policy.margin_v, label=policy.label,
        rails=policy.rails_v, step_s=policy.step_s, normalise=policy.normalise,
        iters=policy.iters, tol=SETTLE_TOL_V, max_epochs=max_epochs, kill=policy.stops,
        adc=(adc or Adc(bits=10, sigma_v=2e-4)) if policy.decide_by_adc else None, seed=seed,
    )  # fmt: skip
    outputs = free_outputs_at_v(edges.device, gates, task)
    signs = check_classifier(task)
    error = float(np.mean(signs * (outputs[:, 0] - outputs[:, 1]) <= 0.0))
    return gates, StepResult(
        error_fraction=error,
        wrong_per_epoch=wrong,
        learning_s=float(out[0]),
        board_s=float(out[1]),
        perfect=out[2] == 2.0,
        points=int(task.train.inputs.shape[0]),
    )


def plain_steps(
    edges: EdgeParams, task: Task, gates_v: np.ndarray, *, eta: float, lam: float = 0.0,
    step_s: float, n_steps: int, iters: int = 1,
) -> np.ndarray:  # fmt: skip
    """Gates (V) after ``n_steps`` steps of learning every example of ``task`` towards its outputs.

    The twin's synchronous scheme (every example at every step, drive averaged; with ``iters``
    1 the lagged operating point of :mod:`twin.kernels.events.loop`), for comparison with it.
    """
    gates, _, _ = _run(
        edges, task, gates_v, rule=KS.PLAIN, cycle=False, eta=eta, lam=lam, margin=1.0,
        label=1.0, rails=(0.0, 1.0), step_s=step_s, normalise=False, iters=iters, tol=0.0,
        max_epochs=n_steps, kill=False,
    )  # fmt: skip
    return gates


def train_stepwise(
    emu: BoardEmulator, task: Task, policy: StepPolicy, *, rng: np.random.Generator | None = None
) -> StepResult:
    """Train the emulated board on the classifier ``task`` point by point under ``policy``.

    ``rng``: source of the ADC noise of the decisions (needed with ``policy.decide_by_adc``,
    which reads the outputs through the board's node ADC).
    Runs on the board's hidden circuits from its gates now; abandons any schedule, rounds or
    inference hold. The board is left idle on ``task`` at the gates reached, its board time
    moved on by :attr:`StepResult.board_s` (no frames are published for the block).
    """
    check_schedule_network(Schedule(tasks=[task]), emu.task.network)
    end_rounds(emu)
    emu.following = None
    emu.inference = None
    emu.train_until_s = np.inf
    if policy.decide_by_adc and rng is None:
        raise BridgeConfigError("rng: deciding by the ADC needs a generator for its noise")
    seed = int(rng.integers(0, 2**31 - 1)) if rng is not None else 0
    gates, result = step_train(
        emu.edges, task, emu.track.gates(), policy, adc=emu.config.node_adc, seed=seed
    )
    t_end = emu.t_s + result.board_s
    emu.track.reset_gates(t_end, gates)
    emu.t_s = t_end
    emu.task = task
    emu.circuit = BoardCircuit(task)
    emu.mode = "idle"
    emu.track.restart(t_end, task=task, mode="idle")
    emu.restart_frames()
    return result
