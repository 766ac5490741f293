"""Detection table of the shadow's detector: probability, delay and the right edge named, per
fault class and size, on calibrated emulated boards.

For each seed a board with typical hidden variation is calibrated once (as ``twin shadow
--calibrate``), rebooted, and copied; each fault is injected into a fresh copy at ``--fault-at``
s on an edge whose gate is off the rails then (a gate pinned at a rail cannot reveal a fault to a
passive watcher: such edges are counted, not faulted). The shadow runs ``--after`` s past the
fault. Reported per fault: detections (an alarm raised at or after the fault), median and worst
delay, how often the faulty edge is the first named, and alarms before the fault (false).

Run: ``nice -n 10 python benchmarks/bench_detection.py --seeds 3 [--json out.json]``.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time

import numpy as np

from twin.board.inprocess import Fault, InProcessBoard
from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator
from twin.shadow.shadow import Shadow, ShadowConfig

FAULTS = {
    "free gain x3": {"free_gain_factor": 3.0},
    "free gain x1.5": {"free_gain_factor": 1.5},
    "both gains x2": {"gain_factor": 2.0},
    "both gains x0.5": {"gain_factor": 0.5},
    "threshold +0.1 V": {"threshold_shift_v": 0.1},
    "threshold +0.03 V": {"threshold_shift_v": 0.03},
    "leak tau 1 s": {"leak_tau_s": 1.0, "v_rest_v": 0.0},
    "leak tau 10 s": {"leak_tau_s": 10.0, "v_rest_v": 0.0},
}


def _shadow(emu, result, fault: Fault | None, duration_s: float, seed: int) -> dict:
    raised: list = []
    sh = Shadow(
        InProcessBoard(emu, faults=[fault] if fault else []),
        ShadowConfig(),
        rng=np.random.default_rng([seed, 3]),
        edges=result.edges,
        spread=result.spread,
        on_alarm=lambda a: raised.append(a) if a.end_s is None else None,
    )
    sh.run(duration_s)
    sh.close()
    return {"alarms": raised, "t0": sh.state.t_start_s or 0.0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=200)
    ap.add_argument("--fault-at", type=float, default=3.0)
    ap.add_argument("--after", type=float, default=1.0)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    rows: dict[str, list[dict]] = {name: [] for name in FAULTS}
    pinned = []
    t0 = time.perf_counter()
    for i, seed in enumerate(range(args.first_seed, args.first_seed + args.seeds)):
        emu = make_emulator(EmulationSpec(seed=seed))
        result, _ = calibrate_emulator(emu, seed=seed)
        emu.boot(0.0)
        probe = copy.deepcopy(emu)
        probe.advance(args.fault_at)
        gates = probe.track.gates()
        off = np.flatnonzero((gates > 1.2) & (gates < 5.3))
        pinned.append(int(gates.size - off.size))
        rng = np.random.default_rng([seed, 99])
        for name, changes in FAULTS.items():
            edge = int(rng.choice(off))
            fault = Fault(t_s=args.fault_at, edge=edge, changes=changes)
            got = _shadow(copy.deepcopy(emu), result, fault, args.fault_at + args.after, seed)
            t_fault = got["t0"] + args.fault_at
            before = [a for a in got["alarms"] if a.raised_s < t_fault]
            after = [a for a in got["alarms"] if a.raised_s >= t_fault]
            rows[name].append(
                {
                    "seed": seed,
                    "edge": edge,
                    "false_before": len(before),
                    "detected": bool(after),
                    "delay_s": after[0].raised_s - t_fault if after else None,
                    "right_edge": bool(after) and after[0].edges[0] == edge,
                    "named": list(after[0].edges[:4]) if after else [],
                }
            )
        eta = (time.perf_counter() - t0) / (i + 1) * (args.seeds - i - 1)
        sys.stderr.write(f"seed {seed} done; ETA {eta:.0f} s\n")
    table: dict[str, list[dict]] = {}
    out = {"pinned_edges_at_fault_time": pinned, "faults": table}
    sys.stdout.write(f"edges pinned at a rail at {args.fault_at:g} s (per seed): {pinned}\n")
    sys.stdout.write(
        "fault                 detected  delay median/max (s)  right edge  false before\n"
    )
    for name, rs in rows.items():
        n = len(rs)
        det = [r for r in rs if r["detected"]]
        delays = [r["delay_s"] for r in det]
        med = f"{np.median(delays):.3f}/{max(delays):.3f}" if delays else "-"
        right = sum(r["right_edge"] for r in rs)
        false = sum(r["false_before"] for r in rs)
        sys.stdout.write(
            f"{name:20s} {len(det):3d}/{n:<3d}  {med:>20s}  {right:3d}/{n:<3d}   {false}\n"
        )
        table[name] = rs
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
