"""Desynchronous spring learning in the event-driven twin (``twin simulate --physics springs``).

For ``--seeds`` N = 27 allostery-strain tasks (seeds 0..N-1) and each clock of ``--clocks``, runs
the spring twin (alpha 10, eta 1e-3, lambda 0, ``--duration`` simulated seconds, compiled state
solve) and prints per clock: how many tasks reach ``L / L0 < --tol`` (with a 68 % Wilson
interval), the median and IQR of ``L / L0``, and the wall time per event and per event group.
``--backend numpy`` times the contract (numpy) solve instead.

Run: ``nice -n 10 .venv/bin/python benchmarks/bench_springs_twin.py --seeds 20``.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np

from twin.physics.springs.task_spec import build_spring_tasks
from twin.simulation.physics_config import PhysicsTwinConfig
from twin.simulation.physics_twin import simulate_physics

CLOCKS = ("sync:10000", "poisson:2000", "bernoulli:10000:0.2", "periodic:2000:0.1")


def wilson(k: int, n: int, z: float = 1.0) -> tuple[float, float]:
    """Wilson score interval of ``k`` successes in ``n`` (``z = 1``: 68 %)."""
    p = k / n
    den = 1 + z * z / n
    mid = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return mid - half, mid + half


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=0.2)
    parser.add_argument("--tol", type=float, default=1e-2)
    parser.add_argument("--backend", choices=["auto", "numpy", "compiled"], default="auto")
    parser.add_argument("--clocks", nargs="+", default=list(CLOCKS))
    args = parser.parse_args()
    tasks = [
        build_spring_tasks("allostery-strain", None, seed=s, realizations=1)[0]
        for s in range(args.seeds)
    ]
    warm = PhysicsTwinConfig(clock="sync:10000", backend=args.backend)
    simulate_physics(tasks[0], warm, 1e-3, rng=np.random.default_rng(0))  # load the kernels
    print(f"{args.seeds} tasks (N = 27), {args.duration} s, alpha 10, eta 1e-3, lambda 0")
    for clock in args.clocks:
        ratios, wall, events, groups = [], 0.0, 0, 0
        for seed, task in enumerate(tasks):
            cfg = PhysicsTwinConfig(clock=clock, backend=args.backend,
                                    sample_interval_s=args.duration / 10)  # fmt: skip
            t0 = time.perf_counter()
            rng = np.random.default_rng(seed)
            stats = simulate_physics(task, cfg, args.duration, rng=rng).stats
            wall += time.perf_counter() - t0
            ratios.append(stats["error_final"] / stats["error_initial"])
            events += stats["events"]
            groups += stats["event_groups"]
        r = np.array(ratios)
        k = int(np.sum(r < args.tol))
        lo, hi = wilson(k, r.size)
        q1, med, q3 = np.percentile(r, [25, 50, 75])
        print(f"{clock:>22}: {k}/{r.size} reach L/L0 < {args.tol:g} [{lo:.2f}, {hi:.2f}], "
              f"median L/L0 {med:.3g} (IQR {q1:.3g}-{q3:.3g}); "
              f"{wall / events * 1e6:.1f} us/event, "
              f"{wall / groups * 1e6:.1f} us/group")  # fmt: skip


if __name__ == "__main__":
    main()
