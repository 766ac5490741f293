"""Benchmark of the shadow's real-time margin on the 32-edge board at 1 kHz frames.

Run by hand::

    .venv/bin/python benchmarks/bench_shadow.py [--seconds 10] [--repeats 3]

An emulated board (4 x 4 periodic transistor lattice, hidden variation, 10-bit ADC) produces
``--seconds`` of frames first; then a shadow ingests them from a replaying board as fast as it
can (the emulator's own cost is not counted). The margin is board seconds shadowed per wall
second (by the wall clock, and per CPU second of this process, which a shared machine does not
distort): 5x means one twin keeps up with five boards. Three twins: the nominal one (residuals
large, the board has hidden variation), the calibrated one (the board's true edge parameters,
the best a calibration can do) and, for the cost of the emulator itself, the emulator's
frames per second.

With ``--node-every S`` two more rows give the cost of the passive node check (``twin shadow
--node-every``) on the shadow's hot path: a twin calibrated as ``twin shadow --calibrate`` does
(its fitted edges and residual spread, which the checks need), without and with the check every
``S`` board seconds, in the same interleaved repeats.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence

import numpy as np

from twin.board.contract import Ack, BoardState, Command, LinkCounters, Resync, Snapshot, Update
from twin.board.emulator import BoardEmulator, EmulatorConfig
from twin.board.variation import HiddenVariation
from twin.shadow.detector import SpreadModel
from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator
from twin.shadow.shadow import Shadow, ShadowConfig
from twin.simulation.edge import EdgeParams


class FrameList:
    """A finite board replaying recorded frames, ``chunk`` per poll (the Board contract)."""

    def __init__(self, snapshot: Snapshot, frames: list[BoardState], chunk: int = 10) -> None:
        self._snapshot = snapshot
        self._frames = frames
        self._pos = 0
        self._chunk = chunk
        self._joined = False
        self._counters = LinkCounters()

    @property
    def board_id(self) -> str:
        return self._snapshot.config.board_id

    @property
    def counters(self) -> LinkCounters:
        return self._counters

    def snapshot(self, timeout_s: float = 5.0) -> Snapshot:
        return self._snapshot

    def poll(self, timeout_s: float) -> list[Update]:
        out: list[Update] = []
        if not self._joined:
            self._joined = True
            out.append(Resync(snapshot=self._snapshot, reason="initial"))
        out += self._frames[self._pos : self._pos + self._chunk]
        self._pos += self._chunk
        return out

    def command(self, command: Command, timeout_s: float = 5.0) -> Ack:
        return Ack(key=command.key, ok=False, code="read_only")

    def close(self) -> None:
        pass


def _shadow_margin(
    snapshot: Snapshot,
    frames: list[BoardState],
    edges: EdgeParams | None,
    seconds: float,
    chunk: int = 10,
    *,
    spread: SpreadModel | None = None,
    node_every_s: float | None = None,
) -> tuple[float, dict[str, float]]:
    board = FrameList(snapshot, frames, chunk)
    shadow = Shadow(
        board,
        ShadowConfig(resync="periodic", resync_interval_s=0.25, node_every_s=node_every_s),
        rng=np.random.default_rng(1),
        edges=edges,
        spread=spread,
    )
    t0, c0 = time.perf_counter(), time.process_time()
    summary = shadow.run(seconds - 0.01)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    shadow.close()
    summary["cpu_margin"] = summary["board_time_s"] / cpu
    return summary["board_time_s"] / wall, summary


def main(argv: Sequence[str] | None = None) -> None:
    """Print the emulator's and the shadow's real-time factors."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="board seconds of frames")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--chunk", type=int, default=10, help="frames per poll (10: the twin compares at 100 Hz)"
    )
    parser.add_argument(
        "--node-every",
        type=float,
        default=None,
        help="also time a calibrated twin without and with the passive node check every S s",
    )
    args = parser.parse_args(argv)
    if args.node_every is not None:
        _node_check_cost(args)
        return
    emu = BoardEmulator(
        EmulatorConfig(variation=HiddenVariation.typical()), rng=np.random.default_rng(0)
    )
    emu.advance(0.01)  # compile and warm up
    snapshot = emu.snapshot()
    t0, c0 = time.perf_counter(), time.process_time()
    frames = emu.advance(emu.t_s + args.seconds)
    emu_wall, emu_cpu = time.perf_counter() - t0, time.process_time() - c0
    print(
        f"board: 32-edge transistor lattice, {len(frames)} frames at 1 kHz, "
        f"{args.chunk} frames per poll"
    )
    print(
        f"  emulator: {args.seconds / emu_wall:6.1f}x real time by the wall clock, "
        f"{args.seconds / emu_cpu:.1f}x per CPU second"
    )
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    _shadow_margin(snapshot, frames[:200], None, 0.2)  # warm up
    for label, edges in (("nominal twin", None), ("calibrated twin", emu.edges)):
        margins, cpu = [], []
        for _ in range(args.repeats):
            margin, summary = _shadow_margin(snapshot, frames, edges, args.seconds, args.chunk)
            margins.append(margin)
            cpu.append(summary["cpu_margin"])
        print(
            f"  shadow, {label:<15}: {np.median(margins):6.1f}x real time by the wall clock "
            f"(best {max(margins):.1f}x), {np.median(cpu):.1f}x per CPU second; "
            f"node residual {summary['residual_rms_v'] * 1e3:.2f} mV, alarms {summary['alarms']}"
        )


def _node_check_cost(args: argparse.Namespace) -> None:
    """CPU margin of a calibrated shadow without and with the node check (interleaved)."""
    spec = EmulationSpec(seed=0)
    result, _ = calibrate_emulator(make_emulator(spec), seed=0)
    emu = make_emulator(spec)
    emu.boot(0.0)
    snapshot = emu.snapshot()
    frames = emu.advance(emu.t_s + args.seconds)
    print(f"node check cost: {len(frames)} frames, calibrated twin (seed 0), interleaved repeats")
    _shadow_margin(snapshot, frames[:200], result.edges, 0.2, spread=result.spread)  # warm up
    rows: dict[str, list[float]] = {"without": [], "with": []}
    alarms: dict[str, int] = {"without": 0, "with": 0}
    tests = 0
    for _ in range(args.repeats):
        for label, every in (("without", None), ("with", args.node_every)):
            _, summary = _shadow_margin(
                snapshot,
                frames,
                result.edges,
                args.seconds,
                args.chunk,
                spread=result.spread,
                node_every_s=every,
            )
            rows[label].append(summary["cpu_margin"])
            alarms[label] += int(summary["alarms"])
            nodes = summary.get("nodes")
            if isinstance(nodes, dict):
                tests = max(tests, int(nodes.get("evaluated", 0)))
    per_s = {k: 1e3 / np.median(v) for k, v in rows.items()}  # CPU ms per board second
    print(f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")
    for label in rows:
        print(
            f"  {label:<7} node check every {args.node_every:g} s: median "
            f"{np.median(rows[label]):.1f}x real time per CPU second "
            f"({per_s[label]:.1f} CPU ms per board second), alarms {alarms[label]}"
        )
    print(f"  node tests per run with the check: {tests}")
    extra = per_s["with"] - per_s["without"]
    print(
        f"  the check costs {extra:+.2f} CPU ms per board second "
        f"({extra / per_s['without']:+.1%} of the shadow's own)"
    )


if __name__ == "__main__":
    main()
