"""Steering a board in another process through command loss and a real reboot (issue 22).

For each seed: ``twin board --seed S`` on a random free loopback port (real time, training from
boot); this process steers it (``steer_board``, predictive, ``--reset-gates``) over the wire
through a wrapper that loses ``--loss`` of command attempts (half the requests never sent, half
the acks dropped after the board applied the command: the retry with the same key must not apply
it twice) and reboots the board once: after ``--reboot-after`` training frames of steering it
kills the board process and starts a new one on the same port (a new epoch, its gates back at
boot; the steerer resumes from it). Reports reached (verified by inference) with a Wilson 95 %
interval, training energy against the twin's lambda = 0 prediction from the same start, reboots
seen, retries, unanswered commands, re-plans, board and wall time, and the load average. Run by
hand::

    PYTHONPATH=. nice -n 10 python benchmarks/bench_steer_xproc_chaos.py --seeds 10
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

from benchmarks.bench_steer_xproc import wilson
from tests.ports import free_port_run, wait_listening
from twin.board.contract import Ack, BoardState, Command
from twin.board.errors import BridgeTimeout
from twin.shadow.session import open_board
from twin.steer import PolicySpec, SteerConfig, steer_board


def start_board(seed: int, port: int, variation: str) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "twin", "board", "--bind", f"tcp://127.0.0.1:{port}",
           "--seed", str(seed), "--variation", variation, "--duration", "600"]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_listening(port, proc=proc, timeout_s=120.0)
    return proc


class WireChaos:
    """The ZeroMQ board client, losing command attempts and rebooting the board process once."""

    def __init__(self, inner, *, loss: float, reboot_after: int, restart, seed: int) -> None:
        self.inner = inner
        self.loss = loss
        self.reboot_after = reboot_after
        self.restart = restart
        self.rng = np.random.default_rng([seed, 99])
        self.training_frames = 0  # counted once steering has started training
        self.steering = False
        self.rebooted = False
        self.board_id = inner.board_id
        self.lost = {"requests": 0, "acks": 0}

    @property
    def counters(self):
        return self.inner.counters

    def snapshot(self, timeout_s: float = 5.0):
        return self.inner.snapshot(timeout_s)

    def poll(self, timeout_s: float):
        updates = self.inner.poll(timeout_s)
        if self.steering and not self.rebooted:
            self.training_frames += sum(
                1 for u in updates if isinstance(u, BoardState) and u.mode == "training"
            )
            if self.training_frames >= self.reboot_after:
                self.rebooted = True
                self.restart()
        return updates

    def command(self, command: Command, timeout_s: float = 5.0) -> Ack:
        lost = self.rng.random() < self.loss
        if lost and self.rng.random() < 0.5:
            self.lost["requests"] += 1
            raise BridgeTimeout(f"{command.name}: request lost")
        ack = self.inner.command(command, timeout_s)
        self.steering |= command.name == "start_training" and ack.ok
        if lost:
            self.lost["acks"] += 1
            raise BridgeTimeout(f"{command.name}: ack lost")
        return ack

    def close(self) -> None:
        self.inner.close()


def one_run(seed: int, args: argparse.Namespace) -> dict:
    port = free_port_run()
    procs = [start_board(seed, port, args.variation)]

    def restart() -> None:
        procs[-1].kill()
        procs[-1].wait(timeout=30)
        procs.append(start_board(seed, port, args.variation))

    t0 = time.monotonic()
    board = WireChaos(
        open_board(connect=f"tcp://127.0.0.1:{port}"),
        loss=args.loss,
        reboot_after=args.reboot_after,
        restart=restart,
        seed=seed,
    )
    try:
        res = steer_board(
            board,
            policy=PolicySpec(name="predictive"),
            config=SteerConfig(
                tolerance_rel=args.tolerance_rel,
                max_time_s=args.max_time_s,
                reset_gates=True,
                join_timeout_s=60.0,
            ),
            seed=seed,
        )
    finally:
        board.close()
        for p in procs:
            p.terminate()
            p.wait(timeout=30)
    s = dict(res.summary)
    s.update(seed=seed, wall_s=time.monotonic() - t0, lost=board.lost, rebooted=board.rebooted)
    return s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=10)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--tolerance-rel", type=float, default=1e-3)
    ap.add_argument("--variation", default="none", choices=["none", "typical"])
    ap.add_argument("--loss", type=float, default=0.05)
    ap.add_argument("--reboot-after", type=int, default=100, help="training frames (1 kHz)")
    ap.add_argument("--max-time-s", type=float, default=120.0)
    args = ap.parse_args()
    load0 = os.getloadavg()
    runs = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        r = one_run(seed, args)
        runs.append(r)
        base = r.get("baseline_energy_j")
        c = r["commands"]
        print(
            f"seed {seed}: reached {r['reached']}, E/baseline "
            f"{r['training_energy_j'] / base if base else float('nan'):.3f}, reboots seen "
            f"{r['reboots']} (board rebooted {r['rebooted']}), lost {r['lost']}, retries "
            f"{c['retries']}, unanswered {c['unanswered']}, stale {c['stale']}, replans "
            f"{r['replans']}, fell back {r['fell_back']}, board {r['board_time_s']:.1f} s, "
            f"wall {r['wall_s']:.1f} s" + ("" if r["reached"] else f", reason {r['reason']}"),
            flush=True,
        )
    load1 = os.getloadavg()
    ok = [r for r in runs if r["reached"]]
    lo, hi = wilson(len(ok), len(runs))
    print(
        f"predictive at {args.tolerance_rel:g} x e0, {args.loss:.0%} command loss, a reboot after "
        f"{args.reboot_after} training frames: reached {len(ok)}/{len(runs)} "
        f"(Wilson 95 % [{lo:.2f}, {hi:.2f}])"
    )
    ratios = [r["training_energy_j"] / r["baseline_energy_j"] for r in ok if r["baseline_energy_j"]]
    if ratios:
        print(
            f"  training energy / lambda = 0 prediction: median {statistics.median(ratios):.3f} "
            f"[{min(ratios):.3f}, {max(ratios):.3f}]"
        )
    print(f"  load average (1/5/15 min) before {load0}, after {load1}")


if __name__ == "__main__":
    main()
