"""Bridge an existing acquisition loop to the twin: a runnable example for lab engineers.

Run it, then shadow it from another terminal::

    python -m hw_bridge.examples.lab_host --bind tcp://127.0.0.1:5556 --duration 60
    twin record --connect tcp://127.0.0.1:5556 --out run.rec --duration 10

The "existing loop" below fakes the measurements of a 4x4 periodic board (16 nodes, 32 edges);
in a lab, ``measure()`` is the code that reads the ADCs. The bridge is the ``BoardPublisher``
(three lines) and a command handler that hands commands to the loop through a queue, because the
handler runs in the publisher's I/O thread and the loop owns the hardware.
"""

from __future__ import annotations

import argparse
import queue
import time
from typing import Any

import numpy as np

from hw_bridge.server import BoardPublisher
from twin.board.contract import Command
from twin.board.errors import CommandRefused

__all__ = ["FakeBoard", "lattice_4x4", "main"]


def lattice_4x4() -> dict[str, Any]:
    edges = []
    for y in range(4):
        for x in range(4):
            node = 4 * y + x
            edges += [[node, 4 * y + (x + 1) % 4], [node, 4 * ((y + 1) % 4) + x]]
    return {"schema": "twin.network/1", "nodes": 16, "edges": edges}


class FakeBoard:
    """Stands in for the lab's hardware access (the ADC reads and DAC writes)."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.gate_v = rng.uniform(2.0, 4.0, 32)
        self.settings: dict[str, Any] = {"eta": 0.22, "lam": 0.0, "step_s": 1e-4}
        self.mode = "idle"

    def measure(self) -> dict[str, Any]:
        if self.mode == "training":
            self.gate_v = np.clip(self.gate_v + self.rng.normal(0, 1e-3, 32), 1.0, 5.5)
        return {
            "gate_v": self.gate_v,
            "v_free_v": self.rng.uniform(0.018, 0.435, 16),
            "v_clamped_v": self.rng.uniform(0.018, 0.435, 16),
            "inputs_v": [0.2, 0.3],
            "targets_v": [0.1],
        }

    def apply(self, command: Command) -> None:
        if command.name == "start_training":
            self.mode = "training"
        elif command.name == "stop_training":
            self.mode = "idle"
        elif command.name == "set_params":
            self.settings.update(command.args)  # eta and step_s already physical
        elif command.name == "reset_gates":
            self.gate_v = np.full(32, float(command.args.get("gate_v", 3.0)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bind", default="tcp://127.0.0.1:0")
    parser.add_argument("--rate-hz", type=float, default=1000.0)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args(argv)
    hardware = FakeBoard(np.random.default_rng(0))
    pending: queue.Queue[Command] = queue.Queue()

    def handler(command: Command) -> dict[str, Any]:
        if command.name in ("load_task", "run_inference"):
            raise CommandRefused("unsupported", f"this host does not do {command.name}")
        pending.put(command)  # applied by the loop, which owns the hardware
        return {}

    # --- the bridge: create the publisher once ...
    with BoardPublisher(
        "lab-board-1",
        network=lattice_4x4(),
        params=hardware.settings,
        handler=handler,
        bind=args.bind,
    ) as pub:
        print(f"board lab-board-1 at {pub.endpoints.base}", flush=True)
        t0 = time.monotonic()
        period = 1.0 / args.rate_hz
        while (t := time.monotonic() - t0) < args.duration:
            while not pending.empty():
                hardware.apply(pending.get())
            # --- ... and publish each measurement (the existing loop's one new line)
            pub.publish_measurement(
                t_s=t,
                mode=hardware.mode,
                eta=hardware.settings["eta"],
                lam=hardware.settings["lam"],
                **hardware.measure(),
            )
            time.sleep(max(0.0, period - (time.monotonic() - t0 - t)))


if __name__ == "__main__":
    main()
