"""Time the compiled trainer on periodic lattices of 256, 1,024 and 4,096 nodes (GitHub issue 10).

One realization of the board's allostery task (``allostery_task``, seed 0) on an ``L x L``
periodic lattice, alpha 0.5, eta 1e-3, default bounds. For each size and solver (``direct``: a
sparse Cholesky factorisation per update; ``pcg``: warm-started conjugate gradients
preconditioned by a recent factorisation) one fresh subprocess prints one line:

    N, solver, ms/update (wall, median of the timed runs), CPU ms/update (the same from
    ``time.process_time``), CPU s of the timed runs, peak RSS MB of the subprocess, PCG
    iterations per update, refactorisations per run (the direct solver: one per evaluation)

``ms/update`` is ``(t(steps) - t(0)) / steps`` with ``t(0)`` the median wall time of a run of 0
steps (set-up: ordering, symbolic factorisation, first evaluation); numba compilation is excluded
by a warm-up run. Issue 10's target: 64 x 64 (N = 4096) <= 0.5 ms per update, aim 0.2 ms.

Run: ``nice -n 5 .venv/bin/python benchmarks/bench_scale_trainer.py [--repeat 3] [--sizes 16,32,64]
[--solvers direct,pcg]`` and state ``uptime`` beside the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from twin.learning.trainer import TrainConfig, Trainer
from twin.physics.network import lattice
from twin.physics.task import Task
from twin.physics.task_generators import allostery_task

#: Steps timed per size (about a second per run with the direct solver).
STEPS = {16: 4000, 32: 1500, 64: 400, 128: 60}


def _tasks(side: int) -> list[Task]:
    return [allostery_task(lattice(side, side, periodic=True), rng=np.random.default_rng(0))]


def _config(solver: str, steps: int) -> TrainConfig:
    kwargs: dict[str, Any] = {"steps": steps, "n_records": 10}
    if solver != "direct" or "solver" in attrs_fields():
        kwargs["solver"] = solver
    return TrainConfig(**kwargs)


def attrs_fields() -> set[str]:
    import attrs

    return {f.name for f in attrs.fields(TrainConfig)}


def _run(tasks: list[Task], solver: str, steps: int) -> tuple[float, float, Any]:
    """Wall and CPU seconds of one ``Trainer.run``, and its result."""
    trainer = Trainer(tasks, _config(solver, steps))
    w0, c0 = time.perf_counter(), time.process_time()
    result = trainer.run()
    return time.perf_counter() - w0, time.process_time() - c0, result


def measure(side: int, solver: str, repeat: int, steps: int) -> dict[str, Any]:
    """One size and solver, in this process: the figures of one output line."""
    tasks = _tasks(side)
    _run(tasks, solver, 2)  # compile or load the numba cache
    setups = [_run(tasks, solver, 0)[:2] for _ in range(repeat)]
    setup = statistics.median(w for w, _ in setups)
    setup_cpu = statistics.median(c for _, c in setups)
    walls, cpus, iters, refac = [], [], [], []
    for _ in range(repeat):
        wall, cpu, result = _run(tasks, solver, steps)
        walls.append(wall)
        cpus.append(cpu)
        stats = getattr(result, "solver_stats", None)
        if stats is not None:
            iters.append(float(stats["iterations"][0]) / steps)
            refac.append(float(stats["refactorizations"][0]))
    peak_kb = float(Path("/proc/self/status").read_text().split("VmHWM:")[1].split()[0])
    return {
        "N": side * side,
        "solver": solver,
        "steps": steps,
        "ms_per_update": (statistics.median(walls) - setup) / steps * 1e3,
        "cpu_ms_per_update": (statistics.median(cpus) - setup_cpu) / steps * 1e3,
        "ms_runs": [round((w - setup) / steps * 1e3, 4) for w in walls],
        "cpu_s": sum(cpus),
        "wall_s": sum(walls),
        "setup_s": setup,
        "peak_rss_mb": peak_kb / 1024.0,
        "iterations_per_update": statistics.median(iters) if iters else float("nan"),
        "refactorizations": statistics.median(refac) if refac else float("nan"),
        "error_final": float(result.error_final[0]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per figure (median)")
    parser.add_argument("--sizes", default="16,32,64", help="lattice sides, comma-separated")
    parser.add_argument("--solvers", default="direct,pcg", help="comma-separated")
    parser.add_argument("--steps-scale", type=float, default=1.0, help="multiply the steps")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # side:solver (worker)
    args = parser.parse_args()
    if args.one:
        side_s, solver = args.one.split(":")
        side = int(side_s)
        steps = max(2, int(STEPS.get(side, 100) * args.steps_scale))
        print(json.dumps(measure(side, solver, args.repeat, steps)))
        return
    print(f"load average: {os.getloadavg()}")
    head = ("N", "solver", "ms/upd", "cpu ms", "CPU s", "wall s", "RSS MB", "it/upd", "refac")
    print(" ".join(f"{h:>7s}" for h in head), "error_final  runs (ms/update)")
    for side in (int(s) for s in args.sizes.split(",")):
        for solver in args.solvers.split(","):
            cmd = [sys.executable, __file__, "--one", f"{side}:{solver}", "--repeat",
                   str(args.repeat), "--steps-scale", str(args.steps_scale)]  # fmt: skip
            out = subprocess.run(cmd, capture_output=True, text=True, check=False)
            if out.returncode != 0:
                print(f"{side * side:6d} {solver:>7s} failed: {out.stderr.strip()[-300:]}")
                continue
            r = json.loads(out.stdout.strip().splitlines()[-1])
            print(f"{r['N']:7d} {solver:>7s} {r['ms_per_update']:7.3f} "
                  f"{r['cpu_ms_per_update']:7.3f} {r['cpu_s']:7.2f} "
                  f"{r['wall_s']:7.2f} {r['peak_rss_mb']:7.1f} "
                  f"{r['iterations_per_update']:7.2f} {r['refactorizations']:6.0f} "
                  f"{r['error_final']:12.4e}  {r['ms_runs']}")  # fmt: skip
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
