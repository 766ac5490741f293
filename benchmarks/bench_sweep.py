"""Sweep benchmark: speed-up of two local worker processes over one on trainer cells.

The same sweep (``--cells`` lambda values x ``--realizations`` on the jammed-network regression
task, ``--steps`` each; one batched trainer call per cell) runs into a fresh SQLite ledger with
``LocalExecutor(workers=1)`` and then ``workers=2``. Reported per run: wall time, the CPU time of
the sweep process and of its (joined) worker processes, the summed per-cell CPU time recorded
in the ledger, and the load average before and after (the machine is shared: a busy machine
lowers the speed-up, the CPU times show how much work was done). Speed-up = wall(1) / wall(2).

Run: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_sweep.py [--cells 8] [--steps 5000]``.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from twin.ledger import open_ledger
from twin.sweeps import LocalExecutor, run_sweep, spec_from_dict


def _spec(cells: int, realizations: int, steps: int):
    lams = [0.0] + [10.0 ** (-7 + 4 * i / max(cells - 2, 1)) for i in range(cells - 1)]
    return spec_from_dict(
        {
            "name": "bench",
            "kind": "trainer",
            "realizations": realizations,
            "seed": 0,
            "base": {"task": "regression", "network": "jammed:64", "steps": steps},
            "axes": {"lam": lams},
        }
    )


def _children_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _run(spec, workers: int, folder: Path) -> dict[str, float]:
    url = f"sqlite:///{folder / f'w{workers}.db'}"
    load0 = os.getloadavg()[0]
    cpu0, child0, wall0 = time.process_time(), _children_cpu_s(), time.perf_counter()
    executor = LocalExecutor(workers=workers)
    try:
        outcome = run_sweep(spec, db_url=url, executor=executor)
    finally:
        executor.close()
    wall = time.perf_counter() - wall0
    if outcome.computed != outcome.cells or outcome.failed:
        raise RuntimeError(f"the sweep did not compute every cell: {outcome}")
    with open_ledger(url) as led, led.read() as conn:
        cell_cpu = conn.execute(sa.text("SELECT SUM(cpu_s) FROM sweep_cells")).scalar()
    return {
        "wall_s": wall,
        "sweep_cpu_s": time.process_time() - cpu0,
        "workers_cpu_s": _children_cpu_s() - child0,
        "cells_cpu_s": float(cell_cpu),
        "load_before": load0,
        "load_after": os.getloadavg()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", type=int, default=8)
    parser.add_argument("--realizations", type=int, default=4)
    parser.add_argument("--steps", type=int, default=5_000)
    args = parser.parse_args()
    spec = _spec(args.cells, args.realizations, args.steps)
    cpus = len(os.sched_getaffinity(0))
    print(f"{args.cells} trainer cells x {args.realizations} realizations, regression on "
          f"jammed:64, {args.steps} steps; CPUs available: {cpus}")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        results = {w: _run(spec, w, Path(tmp)) for w in (1, 2)}
    for w, r in results.items():
        print(f"workers={w}: wall {r['wall_s']:.2f} s, sweep process CPU {r['sweep_cpu_s']:.2f} s, "
              f"workers CPU {r['workers_cpu_s']:.2f} s (cells {r['cells_cpu_s']:.2f} s; "
              f"{r['workers_cpu_s'] / r['wall_s']:.2f} cores used), "
              f"load {r['load_before']:.2f} -> {r['load_after']:.2f}")  # fmt: skip
    print(f"speed-up of 2 workers over 1: {results[1]['wall_s'] / results[2]['wall_s']:.2f}x")


if __name__ == "__main__":
    main()
