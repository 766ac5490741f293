"""Bridge benchmarks: client throughput with zero undetected loss, and latency at 1 kHz.

The board is a separate process (as a lab's acquisition host is): a :class:`BoardPublisher`
publishing synthetic states of the 32-edge / 16-node board over loopback TCP. The twin side is a
:class:`ZmqBoard` in this process, polled in a loop.

1. Client capacity: the board queues ``--drain-frames`` frames (unpaced) before the client
   reads; the client then decodes, sequences and delivers them all: frames/s (wall clock, and per
   core from the client process's CPU time, which a busy machine does not inflate), gaps, loss.
2. Throughput: for each rate in ``--rates`` the board publishes ``--seconds`` worth of frames,
   paced; the client must deliver every one of them (no gap, no resync) and keep up (finish within
   10 % + 0.2 s of the publishing time). Reported: delivered frames/s, gaps, and undetected loss
   (sequence numbers the board sent that the client neither delivered nor resynced over; must be
   0). The highest rate passing is the sustained rate.
3. Latency at 1 kHz: ``--latency-frames`` frames paced at 1 kHz; per frame, the time from the
   board stamping ``wall_unix`` (just before encoding) to the client's ``poll`` returning the
   decoded state (p50, p99, max), and the socket part alone (to the receive call, from the tap).

Run: ``.venv/bin/python benchmarks/bench_bridge.py [--rates 5000 10000 20000 40000] [--seconds 2]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import msgpack
import numpy as np

from hw_bridge import BoardState, Resync
from hw_bridge.client import ZmqBoard

ROOT = Path(__file__).resolve().parents[1]

_BOARD = textwrap.dedent(
    """
    import sys, time
    import numpy as np
    from twin.board.contract import BoardState
    from hw_bridge.server import BoardPublisher, PublisherSettings

    rate_hz, n = float(sys.argv[1]), int(sys.argv[2])
    rng = np.random.default_rng(0)
    edges = [[i, (i + 1) % 16] for i in range(16)] + [[i, (i + 4) % 16] for i in range(16)]
    states = [BoardState(board_id="bench", epoch=0, seq=1, t_s=0.0, wall_unix=0.0,
                         mode="training", gate_v=rng.uniform(1, 5, 32),
                         v_free_v=rng.uniform(0, 0.4, 16), v_clamped_v=rng.uniform(0, 0.4, 16),
                         inputs_v=[0.1, 0.2], targets_v=[0.3, 0.1], eta=0.22, lam=0.0)
              for _ in range(64)]
    settings = PublisherSettings(sndhwm=1_000_000)
    with BoardPublisher("bench", network={"nodes": 16, "edges": edges}, settings=settings) as pub:
        pub.publish(states[0])
        print(pub.endpoints.base, flush=True)
        sys.stdin.readline()  # the client has joined
        t0 = time.perf_counter()
        wall0 = time.time()
        for i in range(n):
            due = t0 + i / rate_hz if rate_hz > 0 else 0.0
            while (now := time.perf_counter()) < due:
                time.sleep(due - now)  # no busy wait: the client shares the cores
            st = states[i % 64]
            pub.publish(BoardState(board_id="bench", epoch=0, seq=1, t_s=i * 1e-4,
                                   wall_unix=wall0 + (now - t0), mode="training",
                                   gate_v=st.gate_v, v_free_v=st.v_free_v,
                                   v_clamped_v=st.v_clamped_v, inputs_v=st.inputs_v,
                                   targets_v=st.targets_v, eta=0.22, lam=0.0))
        print(time.perf_counter() - t0, flush=True)
        sys.stdin.readline()
    """
)


def _run(rate_hz: float, n: int, *, latency: bool = False) -> dict[str, float]:
    """Publish n frames at rate_hz (0: as fast as possible, all queued before the client reads)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, "-c", _BOARD, str(rate_hz), str(n)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
    assert proc.stdin is not None
    assert proc.stdout is not None
    socket_lags: list[float] = []

    def tap(source: str, frames: list[bytes], recv_unix: float) -> None:
        if latency and frames[0] == b"update":
            socket_lags.append(recv_unix - msgpack.unpackb(frames[1])["wall_unix"])

    try:
        endpoint = proc.stdout.readline().strip()
        with ZmqBoard(endpoint, tap=tap) as board:
            join = board.poll(5.0)
            assert isinstance(join[0], Resync)
            last, first_seq = join[0].snapshot.state.seq, join[0].snapshot.state.seq
            delivered, lags = 0, []
            proc.stdin.write("go\n")
            proc.stdin.flush()
            publish_s = float(proc.stdout.readline()) if rate_hz <= 0 else float("nan")
            t_first = None
            cpu0 = time.process_time()
            deadline = time.monotonic() + n / (rate_hz or 1000.0) * 3 + 10
            while last < first_seq + n and time.monotonic() < deadline:
                for item in board.poll(0.05):
                    if isinstance(item, BoardState):
                        now = time.time()
                        t_first = t_first or time.perf_counter()
                        delivered += 1
                        if latency:
                            lags.append(now - item.wall_unix)
                        last = item.seq
                    else:
                        last = item.snapshot.state.seq
            elapsed_s = time.perf_counter() - (t_first or time.perf_counter())
            cpu_s = time.process_time() - cpu0
            counters = board.counters
        if rate_hz > 0:
            publish_s = float(proc.stdout.readline())
        proc.stdin.write("done\n")
        proc.stdin.flush()
    finally:
        proc.stdin.close()
        proc.wait(10)
    out = {
        "rate_hz": rate_hz,
        "sent": n,
        "delivered": delivered,
        "client_fps": delivered / elapsed_s if elapsed_s > 0 else float("nan"),
        "publish_s": publish_s,
        "client_s": elapsed_s,
        "client_cpu_us": 1e6 * cpu_s / max(delivered, 1),
        "gaps": counters.gaps_detected,
        "resynced_seqs": counters.resynced_seqs,
        "undetected_loss": n - delivered - counters.resynced_seqs,
        "decode_errors": counters.decode_errors,
    }
    if latency:
        out |= {
            "lag_p50_ms": 1e3 * float(np.percentile(lags, 50)),
            "lag_p99_ms": 1e3 * float(np.percentile(lags, 99)),
            "lag_max_ms": 1e3 * float(np.max(lags)),
            "socket_p50_ms": 1e3 * float(np.percentile(socket_lags, 50)),
            "socket_p99_ms": 1e3 * float(np.percentile(socket_lags, 99)),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[5000, 10000, 20000, 40000])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--latency-frames", type=int, default=5000)
    parser.add_argument("--drain-frames", type=int, default=50_000)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
    r = _run(0.0, args.drain_frames)
    print(
        f"client drain: {r['delivered']}/{r['sent']} frames queued by the board, decoded and "
        f"delivered at {r['client_fps']:.0f} frames/s wall clock; client CPU "
        f"{r['client_cpu_us']:.0f} us/frame = {1e6 / r['client_cpu_us']:.0f} frames/s per core; "
        f"gaps {r['gaps']}, undetected loss {r['undetected_loss']}"
    )
    sustained = 0.0
    for rate in args.rates:
        r = _run(rate, int(rate * args.seconds))
        ok = (
            r["gaps"] == 0
            and r["undetected_loss"] == 0
            and r["client_s"] <= 1.1 * r["publish_s"] + 0.2
            and r["publish_s"] <= 1.1 * args.seconds + 0.2  # the board kept the rate too
        )
        sustained = rate if ok else sustained
        print(
            f"throughput {rate:>8.0f} Hz: delivered {r['delivered']}/{r['sent']} "
            f"at {r['client_fps']:>8.0f} frames/s (board published in {r['publish_s']:.2f} s, "
            f"client {r['client_s']:.2f} s), gaps {r['gaps']}, resynced {r['resynced_seqs']}, "
            f"undetected loss {r['undetected_loss']} -> {'ok' if ok else 'not sustained'}"
        )
    print(f"sustained with zero loss: {sustained:.0f} frames/s")
    r = _run(1000.0, args.latency_frames, latency=True)
    print(
        f"latency at 1 kHz ({r['delivered']} frames, undetected loss {r['undetected_loss']}): "
        f"board->poll p50 {r['lag_p50_ms']:.3f} ms, p99 {r['lag_p99_ms']:.3f} ms, "
        f"max {r['lag_max_ms']:.3f} ms; socket only p50 {r['socket_p50_ms']:.3f} ms, "
        f"p99 {r['socket_p99_ms']:.3f} ms"
    )


if __name__ == "__main__":
    main()
