"""Issue 23: does the calibrated twin predict a biased board's limit cycle?

Per lab board (``HiddenVariation.lab()``, seeds ``--seeds``): the shadow's calibration with idle
holds (:func:`twin.shadow.session.calibrate_emulator`, 6 episodes of 1 s, 2 held out,
``--idle-s``), then two tasks alternating every tau/2 at eta 128/129 (as
``benchmarks/validate_imperfection.py --board``, noise-free readings) run on three edge sets from
the same gates and seed: the board's hidden edges, the calibrated twin's, and the calibrated
twin's with its bias removed. Prints the cycle span summed over the 32 edges (V) and the error
floor (V^2) of each after ``--cycles`` cycles at most (at least 3 s; the same protocol for all
three, so they compare even where a cycle is not yet steady).

Run: ``nice -n 10 python benchmarks/bench_bias_cycle.py [--seeds 600 601 602] [--periods 0.02
0.2] [--cycles 300]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from twin.board.clln import cycle_error_v2, settle_cycle
from twin.board.emulator import BoardEmulator, EmulatorConfig, default_board_task
from twin.board.variation import Adc
from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator
from twin.simulation.edge import EdgeParams
from twin.simulation.schedule import EtaRamp, Schedule


def cycle(edges: EdgeParams, tau_s: float, seed: int, cycles: int) -> tuple[float, float, int]:
    """Span summed over edges (V), floor (V^2) and cycles run of ``edges`` alternating tasks."""
    a, b = default_board_task(seed=2), default_board_task(seed=5)
    config = EmulatorConfig(rate_hz=1 / tau_s, node_adc=Adc(bits=0), gate_adc=Adc(bits=0))
    emu = BoardEmulator(config, rng=np.random.default_rng(seed), edges=edges)
    emu.follow_schedule(Schedule(tasks=[a, b], period_s=tau_s, eta=EtaRamp.constant(128 / 129),
                                 duration_s=1e5 * tau_s))  # fmt: skip
    start, half, k = settle_cycle(emu, tau_s, settle_s=3.0, max_cycles=cycles)
    return float(np.abs(half - start).sum()), cycle_error_v2(emu, [a, b], [start, half]), k


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[600, 601, 602])
    parser.add_argument("--periods", type=float, nargs="+", default=[0.02, 0.2])
    parser.add_argument("--cycles", type=int, default=300)
    parser.add_argument("--idle-s", type=float, default=0.2)
    args = parser.parse_args()
    for seed in args.seeds:
        emu = make_emulator(EmulationSpec(seed=seed, variation="lab"))
        result, _ = calibrate_emulator(emu, seed=seed, idle_s=args.idle_s)
        sets = {"board": emu.edges, "twin": result.edges,
                "twin without bias": result.edges.evolve(bias_v_per_s=0.0)}  # fmt: skip
        for tau in args.periods:
            t0 = time.process_time()
            got = {name: cycle(edges, tau, seed, args.cycles) for name, edges in sets.items()}
            text = "; ".join(
                f"{name} span {s * 1e3:.1f} mV floor {f:.2e} V^2 ({k} cycles)"
                for name, (s, f, k) in got.items()
            )
            print(f"seed {seed} tau {tau:g} s: {text} [{time.process_time() - t0:.0f} s CPU]",
                  flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
