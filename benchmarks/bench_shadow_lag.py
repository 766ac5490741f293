"""Shadow lag against ``twin board`` in another process: a clean 1 kHz stream, then losses, a
silence and a reboot.

Run by hand::

    PYTHONPATH=. .venv/bin/python benchmarks/bench_shadow_lag.py [--seconds 20] \
        [--scenarios cost clean chaos]

The board is ``twin board`` (the emulated 32-edge transistor lattice, 1 kHz frames) in its own
process on a random port. The shadow (:class:`~twin.shadow.shadow.Shadow` on a
:class:`~hw_bridge.client.ZmqBoard`, periodic state resyncs every 0.25 s) runs in this process.
The lag of a frame is the shadow's receipt (when it takes the frame) minus the board's stamp,
corrected by the link's estimated clock offset (``ShadowStats.lags_s``: every frame the shadow
took after the warm-up).

Scenarios:

- ``clean``: the shadow subscribes to the board directly.
- ``relay``: the update stream passes a relay process that forwards everything (the cost of
  the hop alone, the baseline of ``chaos``).
- ``chaos``: the relay drops one update in ``--loss-every`` (each a gap: the client
  re-snapshots and the shadow resyncs), forwards nothing for ``--silence-s`` at a third of the
  run (the client declares silence and reconnects) and the board process is killed and started
  again on the same port at two thirds (a new epoch: a restart; the run goes on until the
  shadow has followed it, the new board's start-up included).

On a shared machine the tails follow the other jobs' load; run the benchmark under a real-time
policy (as root: ``chrt -f 10 python benchmarks/bench_shadow_lag.py ...``; the board process
inherits it) to give board and shadow a core each as on a quiet lab host, and say so beside the
numbers.

Each scenario first shadows ``--warmup`` seconds unmeasured (join, kernels loaded, backlog).
The emulated board stamps a frame with its scheduled time; on a loaded machine the emulator
runs late and every frame's lag includes its lateness (``board_s_per_wall_s`` below 1 shows
it). ``--restamp`` has the relay stamp each update with the time it received it, so ``relay``
and ``chaos`` then measure the hop and the shadow only.

- ``cost``: in this process, no link: the wall time of a state resync and of a board Resync
  after a 4 ms loss (each ``--repeats`` times on a shadow of an emulated board), median and p99.

Also printed: board seconds shadowed per wall second and this process's CPU seconds per board
second (below 1: one core keeps up; a loaded machine gives it less), the shadow's resyncs by
kind and the wall time each took (median, p99, max), and the load average (the machine is
shared: lag tails follow the load).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hw_bridge import Endpoints
from hw_bridge.client import ZmqBoard
from tests.ports import free_port_run, wait_listening
from twin.shadow.shadow import Shadow, ShadowConfig

ROOT = Path(__file__).resolve().parents[1]

_RELAY = textwrap.dedent(
    """
    import sys, threading, time
    import msgpack
    import zmq
    from hw_bridge.codec import decode

    upstream, loss_every, restamp = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
    ctx = zmq.Context()
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"")
    sub.connect(upstream)
    pub = ctx.socket(zmq.PUB)
    pub.setsockopt(zmq.SNDHWM, 0)
    port = pub.bind_to_random_port("tcp://127.0.0.1")
    print(f"tcp://127.0.0.1:{port}", flush=True)
    mute_until = [0.0]

    def commands():
        for line in sys.stdin:  # "mute S": forward nothing for S seconds
            mute_until[0] = time.monotonic() + float(line.split()[1])

    threading.Thread(target=commands, daemon=True).start()
    dropped = 0
    while True:
        parts = sub.recv_multipart()
        if time.monotonic() < mute_until[0]:
            continue
        if loss_every > 0 and parts[0] == b"update":
            seq = decode(parts).header["seq"]
            if seq % loss_every == 0:
                dropped += 1
                continue
        if restamp and parts[0] == b"update":  # the stamp becomes this hop's receipt
            header = msgpack.unpackb(parts[1])
            header["wall_unix"] = time.time()
            parts[1] = msgpack.packb(header)
        pub.send_multipart(parts)
    """
)


def _env() -> dict[str, str]:
    return dict(os.environ, PYTHONPATH=str(ROOT))


def _start_board(endpoint: str, seconds: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "twin", "board", "--bind", endpoint, "--duration", str(seconds)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=_env(),
    )


def _scenario(name: str, args: argparse.Namespace) -> dict[str, Any]:
    base = f"tcp://127.0.0.1:{free_port_run()}"
    board = _start_board(base, args.seconds + 120)
    relay: subprocess.Popen[str] | None = None
    try:
        wait_listening(int(base.rsplit(":", 1)[1]), proc=board, timeout_s=120)
        endpoints = Endpoints.from_base(base)
        if name != "clean":
            relay = subprocess.Popen(
                [
                    sys.executable,
                    "-c",
                    _RELAY,
                    base,
                    str(args.loss_every if name == "chaos" else 0),
                    "1" if args.restamp else "0",
                ],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=_env(),
            )
            assert relay.stdout is not None
            updates = relay.stdout.readline().strip()
            endpoints = Endpoints(
                updates=updates, snapshot=endpoints.snapshot, command=endpoints.command
            )
        link = ZmqBoard(endpoints)
        shadow = Shadow(
            link,
            ShadowConfig(resync="periodic", resync_interval_s=0.25, silence_s=30.0),
            rng=np.random.default_rng(1),
        )
        shadow.open()
        warm_until = time.monotonic() + args.warmup
        while time.monotonic() < warm_until:  # join, load the kernels, catch up
            shadow.step(0.05)
        shadow.stats.lags_s.clear()  # the start-up backlog is not the shadow's lag
        for kept in shadow.stats.resync_cost_s.values():
            kept.clear()
        board_t0, start, cpu0 = shadow.stats.board_time_s, time.monotonic(), time.process_time()
        muted = rebooted = False
        restarts0 = shadow.stats.restarts
        while (elapsed := time.monotonic() - start) < args.seconds or (
            rebooted and shadow.stats.restarts == restarts0 and elapsed < args.seconds + 120
        ):
            shadow.step(0.05)
            if name == "chaos" and relay is not None and not muted and elapsed > args.seconds / 3:
                assert relay.stdin is not None
                relay.stdin.write(f"mute {args.silence_s}\n")
                relay.stdin.flush()
                muted = True
            if name == "chaos" and not rebooted and elapsed > 2 * args.seconds / 3:
                board.kill()
                board.wait()
                board = _start_board(base, args.seconds + 300)
                rebooted = True
        wall_s, cpu_s = time.monotonic() - start, time.process_time() - cpu0
        board_s = shadow.stats.board_time_s - board_t0
        summary = shadow.close()
        counters = link.counters
        link.close()
    finally:
        for proc in (relay, board):
            if proc is not None:
                proc.kill()
                proc.wait()
    lags = shadow.stats.lags_s  # every frame the shadow took (its own receipt; 1 % bins)
    costs = shadow.stats.resync_cost_s
    return {
        "scenario": name,
        "frames": summary["frames"],
        "lag_p50_ms": lags.quantile(0.5) * 1e3,
        "lag_p99_ms": lags.quantile(0.99) * 1e3,
        "lag_max_ms": lags.max_s * 1e3,
        # the link's own figure: the client's receipt of the frame from the socket, over its
        # last ``lag_window`` frames (the shadow's lag adds the wait for the shadow to take it)
        "link_lag_p50_ms": counters.lag_p50_s * 1e3,
        "link_lag_p99_ms": counters.lag_p99_s * 1e3,
        "frames_over_20ms": lags.fraction_over(0.02),
        "wall_s": wall_s,
        "board_s_per_wall_s": board_s / wall_s,
        "cpu_s_per_board_s": cpu_s / board_s if board_s > 0 else None,
        "resyncs": summary["resyncs"],
        "state_resyncs": summary["state_resyncs"],
        "restarts": summary["restarts"],
        "gaps": counters.gaps_detected,
        "reconnects": counters.reconnects,
        "silences": counters.silences,
        "resync_cost_ms": {
            k: {
                "n": len(v),
                "median": v.quantile(0.5) * 1e3,
                "p99": v.quantile(0.99) * 1e3,
                "max": v.max_s * 1e3,
            }
            for k, v in costs.items()
            if len(v)
        },
        "load_average": os.getloadavg()[0],
    }


def _costs(args: argparse.Namespace) -> dict[str, Any]:
    from twin.board.contract import Resync
    from twin.board.emulator import BoardEmulator, EmulatorConfig
    from twin.board.inprocess import InProcessBoard
    from twin.board.variation import HiddenVariation

    emu = BoardEmulator(
        EmulatorConfig(variation=HiddenVariation.typical()), rng=np.random.default_rng(0)
    )
    shadow = Shadow(InProcessBoard(emu), ShadowConfig(resync="off"), rng=np.random.default_rng(1))
    shadow.run(0.2)
    state_s, board_s = [], []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        shadow.resync_state()
        state_s.append(time.perf_counter() - t0)
        emu.advance(emu.t_s + 0.004)  # lost frames
        snapshot = emu.snapshot()
        t0 = time.perf_counter()
        shadow.ingest(Resync(snapshot=snapshot, reason="gap"))
        board_s.append(time.perf_counter() - t0)

    def q(xs: list[float]) -> dict[str, float]:
        a = np.asarray(xs) * 1e3
        return {"median_ms": float(np.median(a)), "p99_ms": float(np.quantile(a, 0.99))}

    return {
        "scenario": "cost",
        "repeats": args.repeats,
        "state_resync": q(state_s),
        "board_resync_after_loss": q(board_s),
        "load_average": os.getloadavg()[0],
    }


def main(argv: Sequence[str] | None = None) -> None:
    """Run the scenarios; one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="wall seconds per scenario")
    kinds = ["cost", "clean", "relay", "chaos"]
    parser.add_argument("--scenarios", nargs="+", default=kinds, choices=kinds)
    parser.add_argument("--loss-every", type=int, default=1000, help="chaos: drop 1 update in N")
    parser.add_argument("--silence-s", type=float, default=1.0, help="chaos: relay mute, s")
    parser.add_argument("--repeats", type=int, default=500, help="cost: resyncs of each kind")
    parser.add_argument("--warmup", type=float, default=5.0, help="wall seconds not measured")
    parser.add_argument(
        "--restamp",
        action="store_true",
        help="relay: stamp each update with its receipt there (leaves out a board that runs late)",
    )
    args = parser.parse_args(argv)
    for name in args.scenarios:
        result = _costs(args) if name == "cost" else _scenario(name, args)
        print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
