"""Benchmark of the event-driven twin at scale with independent clocks (issue 10).

Independent Poisson clocks at 10 kHz per edge, allostery task, linear and transistor edges, on
the 32-edge board (4 x 4 periodic, seed 2), the 128-edge 8 x 8 periodic lattice and the
1,040-edge jammed network ``jammed:460:seed=1``. Rows:

- ``before``: the exact path as it was, one event at a time with dense Sherman-Morrison updates
  of an ``(n+1)^2`` inverse (``SolverSettings(sparse_events_above=None)``);
- ``exact``: the exact path now (a sparse refactorisation per event above 128 reduced nodes);
- ``window``: events within ``window_s`` committed together (``TwinConfig.window_s``).

Real-time factor = simulated s / CPU s of ``Twin.run`` (the build excluded), median of
``--repeats`` runs, each in a fresh twin; wall-clock factor beside it. Each case runs in its own
process so that the peak RSS (``ru_maxrss``, including numba's ~200 MB of compiled code) is its
own; ``state MB`` is the twin's own arrays. ``--accuracy`` adds the rms gate difference (V) of
each window against the exact run at equal times and, for scale, of the exact run with the
seed's learning-rule noise (delta = 1e-3 V^2) against the noise-free one.

Run: ``.venv/bin/python benchmarks/bench_scale_twin.py [--quick] [--repeats 3] [--accuracy]``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from typing import Any

import numpy as np
import simpy

from twin.physics.network_io import network_from_spec
from twin.physics.task import Task
from twin.physics.task_generators import allostery_task
from twin.physics.task_spec import build_tasks
from twin.simulation import NoiseConfig, SolverSettings, Twin, TwinConfig, board_edge_params

CLOCK = "poisson:10000"
CASES = {"board": "board 4x4 (32 edges)", "lattice:8x8:periodic": "lattice 8x8 (128 edges)",
         "jammed:460:seed=1": "jammed 460 (1040 edges)"}  # fmt: skip
#: Simulated seconds per run: (before, exact, windowed), chosen for ~0.3-3 s of CPU per run.
DURATIONS_S = {"board": (1.0, 1.0, 5.0), "lattice:8x8:periodic": (0.05, 0.05, 1.0),
               "jammed:460:seed=1": (1e-3, 3e-3, 0.2)}  # fmt: skip
WINDOWS_S = (1e-4, 3e-4, 1e-3)
BEFORE = SolverSettings(sparse_events_above=None)


def task_for(case: str) -> Task:
    if case == "board":
        return build_tasks("allostery", None, seed=2, realizations=1)[0]
    return allostery_task(network_from_spec(case), rng=np.random.default_rng(0))


def config(model: str, window_s: float, **changes: Any) -> TwinConfig:
    cfg = TwinConfig(clock=CLOCK, edges=board_edge_params(model), window_s=window_s)
    return cfg.evolve(**changes)


def state_mb(twin: Twin) -> float:
    total = 0
    for group in twin.state:
        for value in group if isinstance(group, tuple) else ():
            if isinstance(value, np.ndarray):
                total += value.nbytes
    return total / 2**20


def timed(task: Task, cfg: TwinConfig, duration_s: float, repeats: int) -> dict[str, float]:
    """Median CPU and wall seconds of ``Twin.run`` over ``repeats`` fresh twins."""
    cpu, wall = [], []
    mb = 0.0
    for _ in range(repeats):
        cfg = cfg.evolve(sample_interval_s=duration_s / 20)
        twin = Twin(simpy.Environment(), task, cfg, np.random.default_rng(1))
        mb = state_mb(twin)
        c0, w0 = time.process_time(), time.perf_counter()
        twin.run(duration_s)
        cpu.append(time.process_time() - c0)
        wall.append(time.perf_counter() - w0)
    return {"duration_s": duration_s, "cpu_s": statistics.median(cpu),
            "wall_s": statistics.median(wall), "state_mb": mb}  # fmt: skip


def rms_gate(task: Task, cfg: TwinConfig, ref: np.ndarray, duration_s: float) -> float:
    twin = Twin(simpy.Environment(), task, cfg.evolve(sample_interval_s=duration_s / 10),
                np.random.default_rng(1))  # fmt: skip
    return float(np.sqrt(np.mean((twin.run(duration_s).gate_v - ref) ** 2)))


def run_case(case: str, repeats: int, quick: bool, accuracy: bool) -> list[dict[str, Any]]:
    """Every row of one case (in this process); peak RSS measured at the end."""
    task = task_for(case)
    scale = 0.2 if quick else 1.0
    d_before, d_exact, d_window = (d * scale for d in DURATIONS_S[case])
    rows = []
    for model in ("linear", "transistor"):
        Twin(simpy.Environment(), task, config(model, 1e-4), np.random.default_rng(1)).run(1e-4)
        variants = [("before", 0.0, d_before, {"solver": BEFORE}), ("exact", 0.0, d_exact, {})]
        variants += [("window", w, d_window, {}) for w in WINDOWS_S]
        for label, window_s, dur, changes in variants:
            out = timed(task, config(model, window_s, **changes), dur, repeats)
            rows.append({"case": case, "model": model, "path": label, "window_s": window_s} | out)
        if accuracy:
            d_acc = DURATIONS_S[case][1] * 2 * scale
            exact = Twin(simpy.Environment(), task, config(model, 0.0, sample_interval_s=d_acc),
                         np.random.default_rng(1)).run(d_acc).gate_v  # fmt: skip
            noisy = config(model, 0.0, noise=NoiseConfig(delta_v2=1e-3))
            acc = {"duration_s": d_acc, "noise": rms_gate(task, noisy, exact, d_acc)}
            acc |= {str(w): rms_gate(task, config(model, w), exact, d_acc) for w in WINDOWS_S}
            rows.append({"case": case, "model": model, "path": "accuracy", "accuracy": acc})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for row in rows:
        row["peak_rss_mb"] = peak
    return rows


def print_table(rows: list[dict[str, Any]]) -> None:
    print(f"# clock {CLOCK}; real-time factor = simulated s / CPU s (median); load: "
          f"{os.getloadavg()[0]:.2f} (1 min) at the end")  # fmt: skip
    print(
        f"{'case':<26} {'edge kind':<10} {'path':<7} {'window_s':>9} {'RT(cpu)':>9} "
        f"{'RT(wall)':>9} {'CPU s':>7} {'sim s':>7} {'state MB':>9} {'peak RSS MB':>11}"
    )
    for r in rows:
        if r["path"] == "accuracy":
            continue
        rt_cpu, rt_wall = r["duration_s"] / r["cpu_s"], r["duration_s"] / r["wall_s"]
        print(f"{CASES[r['case']]:<26} {r['model']:<10} {r['path']:<7} {r['window_s']:>9.0e} "
              f"{rt_cpu:>9.3g} {rt_wall:>9.3g} {r['cpu_s']:>7.3g} {r['duration_s']:>7.3g} "
              f"{r['state_mb']:>9.3f} {r['peak_rss_mb']:>11.0f}")  # fmt: skip
    acc = [r for r in rows if r["path"] == "accuracy"]
    if acc:
        print("# rms gate difference (V) against the exact noise-free run at equal times")
        print(
            f"{'case':<26} {'edge kind':<10} {'sim s':>7} {'noise 1e-3':>11} "
            + " ".join(f"{'W=' + format(w, '.0e'):>10}" for w in WINDOWS_S)
        )
        for r in acc:
            a = r["accuracy"]
            print(
                f"{CASES[r['case']]:<26} {r['model']:<10} {a['duration_s']:>7.3g} "
                f"{a['noise']:>11.2e} " + " ".join(f"{a[str(w)]:>10.2e}" for w in WINDOWS_S)
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="runs 5x shorter")
    parser.add_argument("--repeats", type=int, default=3, help="runs per row (median)")
    parser.add_argument("--accuracy", action="store_true", help="windowed vs exact gate rms")
    parser.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    parser.add_argument("--case", help=argparse.SUPPRESS)  # worker: one case, JSON out
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.repeats, args.quick, args.accuracy)))
        return
    rows: list[dict[str, Any]] = []
    for case in args.cases:
        cmd = [sys.executable, __file__, "--case", case, "--repeats", str(args.repeats)]
        cmd += ["--quick"] * args.quick + ["--accuracy"] * args.accuracy
        out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
        rows += json.loads(out.strip().splitlines()[-1])
    print_table(rows)


if __name__ == "__main__":
    main()
