"""Time the synchronous trainer: microseconds per realization-step, numpy vs compiled backend.

The reference problem (GitHub issue 2): the N = 64 jammed network of the reference task file,
20 training examples, 2 source edges, 2 target edges, alpha 0.5, eta 1e-3, bounds [1e-4, 1e6];
for 1 realization, for 8 realizations of that one task (computed together in lanes,
:mod:`twin.kernels.train_lanes`, issue 21) and for 50 (one network with 50 tasks, and 50
different networks r1..r50). Also N = 256 (jammed, regression) and N = 4096 (64 x 64 periodic
lattice, allostery).

Each figure is the median of ``--repeat`` timed runs of ``Trainer.run`` (one thread), minus the
median of runs of 0 steps (set-up: ordering and symbolic factorization, reported separately);
numba compilation is excluded by a warm-up run. The machine may be shared: the load average is
printed beside the numbers. Run: ``make bench`` or
``.venv/bin/python benchmarks/bench_trainer.py [--repeat 5] [--quick] [--compiled-only]``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from twin.learning.rules import LearningRule
from twin.learning.trainer import TrainConfig, Trainer
from twin.physics.network import lattice
from twin.physics.network_io import read_authors_txt
from twin.physics.reference_networks import packaged_reference_dir
from twin.physics.task import Task, load_task
from twin.physics.task_generators import allostery_task, regression_task

REFERENCE = packaged_reference_dir()
JAMMED = REFERENCE / "jammed"
SETTING = {"rule": LearningRule(alpha=0.5, eta=1e-3), "k_min": 1e-4, "k_max": 1e6}


def _jammed(n: int, r: int) -> Path:
    return JAMMED / f"data_N{n:05d}_Lp0.0100_r{r}.txt"


def reference_r1() -> list[Task]:
    """The reference task file (N = 64, 1 realization)."""
    return [load_task(REFERENCE / "tasks" / "regression_n64_r1.json")]


def reference_r8() -> list[Task]:
    """The reference task file 8 times (one circuit: its realizations run in lanes)."""
    return reference_r1() * 8


def one_network_r50() -> list[Task]:
    """50 regression tasks on the N = 64 network r1 (no padding)."""
    net = read_authors_txt(_jammed(64, 1))
    return [regression_task(net, rng=np.random.default_rng(s)) for s in range(50)]


def networks_r50() -> list[Task]:
    """One regression task on each of the 50 reference N = 64 networks (padded batch)."""
    nets = [read_authors_txt(_jammed(64, r)) for r in range(1, 51)]
    return [regression_task(n, rng=np.random.default_rng(s)) for s, n in enumerate(nets)]


def jammed_256() -> list[Task]:
    """A regression task on the first N = 256 reference network (files r101..r150)."""
    path = sorted(JAMMED.glob("data_N00256_*.txt"), key=lambda p: int(p.stem.split("_r")[-1]))[0]
    return [regression_task(read_authors_txt(path), rng=np.random.default_rng(0))]


def lattice_4096() -> list[Task]:
    """The board's allostery task on a 64 x 64 periodic lattice (4096 nodes, 8192 edges)."""
    net = lattice(64, 64, periodic=True)
    return [allostery_task(net, rng=np.random.default_rng(0))]


def _median_run(tasks: list[Task], backend: str, steps: int, repeat: int) -> float:
    """Median wall time of ``Trainer.run`` over ``repeat`` runs (one thread), seconds."""
    cfg = TrainConfig(backend=backend, steps=steps, threads=1, **SETTING)  # type: ignore[arg-type]
    times = []
    for _ in range(repeat):
        trainer = Trainer(tasks, cfg)
        t0 = time.perf_counter()
        trainer.run()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def time_run(tasks: list[Task], backend: str, steps: int, repeat: int) -> tuple[float, float]:
    """Set-up time (s, a run of 0 steps) and time per realization-step (microseconds).

    The per-step figure is ``(t(steps) - t(0)) / (steps * R)``: set-up (ordering, symbolic
    factorization) and the first evaluation are excluded.
    """
    setup = _median_run(tasks, backend, 0, repeat)
    total = _median_run(tasks, backend, steps, repeat)
    return setup, (total - setup) / (steps * len(tasks)) * 1e6


CASES: list[tuple[str, Callable[[], list[Task]], int, int]] = [
    # name, tasks, numpy steps, compiled steps
    ("N=64 R=1 (reference task)", reference_r1, 1000, 20_000),
    ("N=64 R=8 (reference x 8, lanes)", reference_r8, 100, 5000),
    ("N=64 R=50 (one network)", one_network_r50, 100, 2000),
    ("N=64 R=50 (networks r1..r50)", networks_r50, 100, 2000),
    ("N=256 R=1", jammed_256, 100, 5000),
    ("N=4096 R=1 (lattice)", lattice_4096, 5, 50),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the steps")
    parser.add_argument("--compiled-only", action="store_true", help="skip the numpy backend")
    parser.add_argument("--only", default="", help="cases whose name contains this text")
    args = parser.parse_args()
    scale = 0.1 if args.quick else 1.0
    t0 = time.perf_counter()
    time_run(reference_r1(), "compiled", 2, 1)  # compile or load the numba cache
    print(f"numba warm-up (compile or cache load): {time.perf_counter() - t0:.2f} s")
    print(f"{'case':32s} {'numpy us':>10s} {'compiled us':>12s} {'speed-up':>9s} {'set-up s':>9s}")
    print(
        f"(microseconds per realization-step, median of {args.repeat} runs, one thread; "
        f"set-up: compiled; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)"
    )
    print("issue 21 target, N=64: <= 2.5 us per realization-update (issue 2: <= 40 us)")
    for name, make, n_numpy, n_compiled in CASES:
        if args.only not in name:
            continue
        tasks = make()
        us_numpy = np.nan
        if not args.compiled_only:
            _, us_numpy = time_run(tasks, "numpy", max(2, int(n_numpy * scale)), args.repeat)
        setup, us_comp = time_run(tasks, "compiled", max(2, int(n_compiled * scale)), args.repeat)
        ratio = us_numpy / us_comp
        print(f"{name:32s} {us_numpy:10.1f} {us_comp:12.2f} {ratio:8.1f}x {setup:9.3f}")


if __name__ == "__main__":
    main()
