"""The emulator's frames: one (:func:`measure`) and a group at a time (:func:`quick_frames`).

:meth:`BoardEmulator.step <twin.board.emulator.BoardEmulator.step>` publishes one frame: it runs
the board's twin to the frame time, reads the gates and the node voltages there through the
ADCs and builds the :class:`~twin.board.contract.BoardState` (:func:`measure`, moved here from
the emulator). Between scheduled changes (no training end, schedule segment, hinge check or
inference hold due) the frames of a poll are independent of each other but for the twin's state
and the ADC's noise stream, so :func:`quick_frames` runs the twin to each frame time in one call
(:meth:`~twin.board.track.TwinTrack.sample`), reads every frame through the ADCs in one draw
(:func:`~twin.board.variation.read_interleaved`, the same normals in the same order) and builds
the states without re-validating the arrays it made: the same frames as ``step`` after
``step``, bit for bit, for much less Python per frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from twin.board.contract import BoardState, prebuilt_state
from twin.board.stepwise import StepwiseRun
from twin.board.variation import read_interleaved

if TYPE_CHECKING:  # the emulator runs this function: no import at run time
    from twin.board.emulator import BoardEmulator

__all__ = ["measure", "quick_frames", "task_rows"]


def _frame_times(emu: BoardEmulator, t_s: float) -> list[float]:
    """The frame times up to ``t_s`` before the next scheduled change (``step``'s times)."""
    if isinstance(emu.rounds, StepwiseRun) or emu.inference is not None:
        return []
    limit = min((t for t in emu._pending_changes() if t > emu.t_s), default=np.inf)
    floor = max(emu.t_s, emu.track.t_s)
    times: list[float] = []
    n = emu._frame_n
    while True:
        t = emu._frame_base_s + (n + 1) / emu.rate_hz
        if not (t <= t_s + 1e-12 and t < limit and t > floor):
            return times
        times.append(t)
        floor, n = t, n + 1


def quick_frames(emu: BoardEmulator, t_s: float) -> list[BoardState]:
    """The frames ``emu.step()`` would publish up to board time ``t_s`` before its next
    scheduled change, published (none when the next frame needs ``step``)."""
    times = _frame_times(emu, t_s)
    if not times:
        return []
    n_edges, n_nodes = emu.task.network.n_edges, emu.task.network.n_nodes
    gates = np.empty((len(times), n_edges))
    nodes = np.empty((len(times), 2 * n_nodes))
    emu.track.sample(times, gates, nodes)
    if emu.node_offset_v is not None:
        nodes = nodes + emu.node_offset_v[np.arange(2 * n_nodes) % n_nodes]
    config = emu.config
    nodes, gates = read_interleaved(
        [(config.node_adc, nodes), (config.gate_adc, gates)], emu._adc_rng
    )
    nodes.setflags(write=False)
    gates.setflags(write=False)
    inputs, targets = task_rows(emu)
    frames = []
    for k, t in enumerate(times):
        emu.t_s = t
        emu._frame_n += 1
        emu.seq += 1
        frames.append(
            prebuilt_state(
                board_id=config.board_id,
                epoch=emu.epoch,
                seq=emu.seq,
                t_s=t,
                wall_unix=emu.boot_unix + t,
                mode=emu.mode,
                gate_v=gates[k],
                v_free_v=nodes[k, :n_nodes],
                v_clamped_v=nodes[k, n_nodes:],
                inputs_v=inputs,
                targets_v=targets,
                eta=emu.eta,
                lam=emu.lam,
            )
        )
    emu.last = frames[-1]
    return frames


def measure(emu: BoardEmulator) -> BoardState:
    """The frame the board publishes now: its gates and nodes through the ADCs (the held
    inference's nodes and inputs during an inference)."""
    gates = emu.track.gates()
    inputs, targets = task_rows(emu)
    if emu.inference is not None:
        v_free = v_clamped = emu.inference["nodes"]
        inputs = emu.inference["inputs"]
    else:
        v_free, v_clamped = emu.track.node_voltages()
    n = v_free.size
    nodes = emu.read_nodes_v(np.concatenate([v_free, v_clamped]))
    gate_v = emu.config.gate_adc.read(gates, emu._adc_rng)
    gate_v.setflags(write=False)  # a fresh array of its own: the state keeps it, no copy
    return BoardState(
        board_id=emu.config.board_id,
        epoch=emu.epoch,
        seq=emu.seq,
        t_s=emu.t_s,
        wall_unix=emu.boot_unix + emu.t_s,
        mode=emu.mode,
        gate_v=gate_v,
        v_free_v=nodes[:n],
        v_clamped_v=nodes[n:],
        inputs_v=inputs,
        targets_v=targets,
        eta=emu.eta,
        lam=emu.lam,
    )


def task_rows(emu: BoardEmulator) -> tuple[np.ndarray, np.ndarray]:
    """The task's first training inputs and targets (V) as read-only copies, made once per
    task (every frame carries them: no copy per frame)."""
    cached = emu._rows_of
    if cached is None or cached[0] is not emu.task:
        rows = tuple(
            np.array(a[0], dtype=np.float64)
            for a in (emu.task.train.inputs, emu.task.train.outputs)
        )
        for row in rows:
            row.setflags(write=False)
        cached = emu._rows_of = (emu.task, rows[0], rows[1])
    return cached[1], cached[2]
