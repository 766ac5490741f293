"""The emulator configured as the lab's two-transistor network (arXiv 2505.22887), and its cycles.

:func:`small_network_board` builds the network, the two tasks and the edge circuits of
experiment ``exp1`` or ``exp2`` (:mod:`twin.learning.clln_small`): nodes High, Low (ground),
Output, Input; edge 0 Low-Output (gate ``G-``), edge 1 High-Output (``G+``), edge 2 the fixed
500 Ohm resistor (an edge that never learns: gains 0, gate held where its conductance is
2 mS). Voltages are shifted by the Low rail (0.0181 V) so Low is the ground; the linear device
``k = S (G - V_T)`` makes the shift exact. The learning edges carry the measured bias.

Nudge: the board's contrast drive ``a (dV_F^2 - dV_C^2)`` gives, near a task's solution,
``M = (2 a eta / RC) (K / S) J J^T``; the paper's model has ``M = (2 r / (RC f S)) K J J^T``
(``r = 2``, ``f = 0.33``), so ``eta = r / (f a)`` (0.61 with the board's gain ``a = 10``) gives
the measured curvature (59-81 1/s).

:func:`emulated_cycle` trains the emulator on the two tasks alternating every ``tau / 2``
(a :class:`~twin.simulation.schedule.Schedule`) until the cycle is steady and measures what the
lab measured: the span ``D^2 = |G(tau/2) - G(0)|^2`` of the learning gates and the error averaged
over both tasks at the two switch points.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import attrs
import numpy as np

from twin.board.contract import Command
from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.errors import BridgeConfigError
from twin.board.variation import Adc
from twin.learning import clln_small as C
from twin.learning.limit_cycle import short_period_center, steady_cycle
from twin.physics.network import Network
from twin.physics.task import Examples, Task
from twin.simulation.devices import LinearDevice
from twin.simulation.edge import BOARD_GAIN_PER_V, EdgeParams
from twin.simulation.schedule import EtaRamp, Schedule

__all__ = [
    "CycleMeasurement",
    "SmallBoard",
    "compare_small_network",
    "cycle_error_v2",
    "emulated_cycle",
    "settle_cycle",
    "small_network_board",
]

#: Nodes of the small network.
HIGH, LOW, OUTPUT, INPUT = 0, 1, 2, 3
#: Gate of the fixed resistor's edge, V: ``S (G - V_T) = 1 / 500 Ohm``.
FIXED_GATE_V = C.V_T_V + C.K_FIXED_SIEMENS / C.S_A_PER_V2


@attrs.frozen(kw_only=True, eq=False)
class SmallBoard:
    """The two tasks, edge circuits and nudge of one experiment's network."""

    experiment: str
    alpha: Task
    beta: Task
    edges: EdgeParams
    eta: float


def _task(network: Network, line: tuple[float, float], name: str) -> Task:
    inp, out = C.task_io(line)
    return Task(
        kind="custom",
        network=network,
        ground=[LOW],
        source_kind="nodes",
        sources=[HIGH, INPUT],
        target_kind="nodes",
        targets=[OUTPUT],
        train=Examples(
            inputs=np.array([[C.HIGH_V - C.LOW_V, inp - C.LOW_V]]),
            outputs=np.array([[out - C.LOW_V]]),
        ),
        description=f"arXiv 2505.22887 small network, task {name} (voltages minus the Low rail)",
    )


def small_network_board(experiment: str, *, bias: bool = True) -> SmallBoard:
    """Network, tasks and circuits of ``exp1`` or ``exp2`` (``bias=False``: the bias-free board)."""
    model = C.small_network_model(experiment)
    network = Network(
        n_nodes=4, edges=np.array([[LOW, OUTPUT], [HIGH, OUTPUT], [INPUT, OUTPUT]]), name="clln-2"
    )
    b = model.bias_v_per_s if bias else np.zeros(2)
    edges = EdgeParams(
        device=LinearDevice(slope_siemens_per_v=C.S_A_PER_V2, v_zero_v=C.V_T_V),
        a_free_per_v=[BOARD_GAIN_PER_V, BOARD_GAIN_PER_V, 0.0],
        a_clamp_per_v=[BOARD_GAIN_PER_V, BOARD_GAIN_PER_V, 0.0],
        bias_v_per_s=[b[0], b[1], 0.0],
        v_gate0_v=[3.0, 3.0, FIXED_GATE_V],
    )
    eta = model.network.prefactor / (0.33 * BOARD_GAIN_PER_V)
    return SmallBoard(
        experiment=experiment,
        alpha=_task(network, model.network.line_alpha, "alpha"),
        beta=_task(network, model.network.line_beta, "beta"),
        edges=edges,
        eta=eta,
    )


@attrs.frozen(kw_only=True)
class CycleMeasurement:
    """The steady cycle the emulator settled into at period ``tau_s``."""

    tau_s: float
    start_v: np.ndarray  # learning gates (G-, G+) when a task-alpha phase starts, V
    half_v: np.ndarray  # ... when it ends, V
    d2_v2: float  # |half - start|^2, V^2
    mse_v2: float  # error averaged over both tasks and both switch points, V^2
    cycles: int  # cycles run


def settle_cycle(
    emu: BoardEmulator,
    tau_s: float,
    *,
    settle_s: float,
    min_cycles: int = 12,
    max_cycles: int = 100_000,
    rel_tol: float = 1e-3,
    on_cycle: Callable[[int, np.ndarray, np.ndarray], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, int]:
    """Run an emulator that has just started a schedule of period ``tau_s`` until steady.

    Runs at least ``settle_s`` seconds and ``min_cycles`` cycles, then until both switch points
    move less than ``rel_tol`` times the span from one cycle to the next. Returns the gates (V)
    at the start of the last cycle and at its half, and the number of cycles run.
    ``on_cycle(k, start, half)`` is called for every cycle measured (from the first after
    settling), e.g. to follow the span on the way to the steady cycle.
    """
    t0 = emu.t_s

    def points(k: int) -> tuple[np.ndarray, np.ndarray]:
        emu.advance(t0 + k * tau_s)
        start = emu.track.gates().copy()
        emu.advance(t0 + k * tau_s + tau_s / 2)
        return start, emu.track.gates().copy()

    k = min(max(min_cycles, int(np.ceil(settle_s / tau_s))), max_cycles - 1)
    prev = points(k)
    start, half = prev
    if on_cycle is not None:
        on_cycle(k, start, half)
    while k < max_cycles:
        k += 1
        start, half = points(k)
        if on_cycle is not None:
            on_cycle(k, start, half)
        scale = max(float(np.linalg.norm(half - start)), 1e-6)
        if max(np.linalg.norm(start - prev[0]), np.linalg.norm(half - prev[1])) < rel_tol * scale:
            break
        prev = (start, half)
    return start, half, k


def cycle_error_v2(
    emu: BoardEmulator, tasks: Sequence[Task], points: Sequence[np.ndarray]
) -> float:
    """Mean over ``points`` (gate vectors, V) of the tasks' mean training error (V^2).

    Leaves the emulator idle at the last point (a measurement after the run).
    """
    every = Schedule(tasks=list(tasks))
    errors = []
    for gates in points:
        emu.command(Command(name="reset_gates", key=f"measure-{emu.version}",
                            args={"gate_v": np.asarray(gates).tolist()}))  # fmt: skip
        errors.append(emu.schedule_error_v2(every))
    return float(np.mean(errors))


def emulated_cycle(
    board: SmallBoard,
    tau_s: float,
    *,
    rng: np.random.Generator,
    settle_s: float = 1.5,
    min_cycles: int = 12,
    max_cycles: int = 100_000,
    rel_tol: float = 1e-3,
) -> CycleMeasurement:
    """Train the emulated board on alpha/beta alternating every ``tau_s / 2``; measure the cycle.

    Starts from the model's short-period centre (a board already trained on both tasks); runs
    until steady (:func:`settle_cycle`).
    """
    model = C.small_network_model(board.experiment)
    center = short_period_center(model.alpha, model.beta, model.bias_v_per_s)
    config = EmulatorConfig(
        eta=board.eta, node_adc=Adc(bits=0), gate_adc=Adc(bits=0), rate_hz=1.0 / tau_s
    )
    emu = BoardEmulator(config, rng=rng, task=board.alpha, edges=board.edges)
    gates = [float(center[0]), float(center[1]), FIXED_GATE_V]  # the resistor's gate too
    ack = emu.command(Command(name="reset_gates", key="clln-start", args={"gate_v": gates}))
    if not ack.ok:
        raise BridgeConfigError(f"emulated_cycle: start gates refused: {ack.message}")
    schedule = Schedule(
        tasks=[board.alpha, board.beta],
        period_s=tau_s,
        eta=EtaRamp.constant(board.eta),
        duration_s=tau_s * (max_cycles + 1),
    )
    emu.follow_schedule(schedule)
    start, half, k = settle_cycle(
        emu, tau_s, settle_s=settle_s, min_cycles=min_cycles, max_cycles=max_cycles,
        rel_tol=rel_tol,
    )  # fmt: skip
    return CycleMeasurement(
        tau_s=tau_s,
        start_v=start[:2],
        half_v=half[:2],
        d2_v2=float(np.sum((half[:2] - start[:2]) ** 2)),
        mse_v2=cycle_error_v2(emu, [board.alpha, board.beta], [start, half]),
        cycles=k,
    )


#: Columns of :func:`compare_small_network`'s rows.
COLUMNS = (
    "experiment", "tau_s", "measured_mse_v2", "emulated_mse_v2", "model_mse_v2",
    "measured_d2_v2", "emulated_d2_v2", "model_d2_v2", "cycles",
)  # fmt: skip


def compare_small_network(
    experiment: str,
    taus_s: Sequence[float] | None = None,
    *,
    seed: int = 0,
    settle_s: float = 1.5,
    progress: Callable[[int, int], None] | None = None,
) -> list[dict[str, float | str]]:
    """Measured, emulated and model floor and span at each measured period of ``experiment``.

    One row per measured point (:data:`COLUMNS`); the emulated values are NaN at periods not in
    ``taus_s`` (default: every measured period). ``progress(done, total)`` after each emulation.
    """
    mse = C.measured_curve(experiment, "mse")
    d2 = dict(map(tuple, C.measured_curve(experiment, "d2").tolist()))
    model = C.small_network_model(experiment)
    board = small_network_board(experiment)
    chosen = set(mse[:, 0].tolist() if taus_s is None else taus_s)
    rows: list[dict[str, float | str]] = []
    done, total = 0, sum(1 for tau in mse[:, 0] if tau in chosen)
    for tau, measured in mse.tolist():
        cycle = steady_cycle(model.alpha, model.beta, model.bias_v_per_s, tau, model.error_v2)
        row: dict[str, float | str] = {
            "experiment": experiment,
            "tau_s": tau,
            "measured_mse_v2": measured,
            "emulated_mse_v2": np.nan,
            "model_mse_v2": cycle.floor_v2,
            "measured_d2_v2": d2.get(tau, np.nan),
            "emulated_d2_v2": np.nan,
            "model_d2_v2": cycle.span2_v2,
            "cycles": np.nan,
        }
        if tau in chosen:
            got = emulated_cycle(
                board, tau, rng=np.random.default_rng([seed, int(tau * 1e6)]), settle_s=settle_s
            )
            row.update(emulated_mse_v2=got.mse_v2, emulated_d2_v2=got.d2_v2, cycles=got.cycles)
            done += 1
            if progress is not None:
                progress(done, total)
        rows.append(row)
    return rows
