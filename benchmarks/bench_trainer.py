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

``--update [--before TREE]`` (issue 21) times only the compiled update of the reference task
(``KernelRun.advance``, CPU time from ``time.process_time``, median of ``--repeat`` runs of
20,000 updates after 1,000 untimed ones) for 1 realization and for 8 in lanes; with ``--before``
the same is timed for the source tree ``TREE`` (e.g. ``git archive <commit> | tar -x -C TREE``,
then ``make warm`` there or one untimed run), each timing in its own subprocess, this tree's and
``TREE``'s alternating, so that both see the same load. Beside them: the naive dense baseline,
a numpy update that solves the free and the clamped state of every example with a dense KKT
solve of its own (:func:`naive_dense_dk`), and the numpy backend (one dense factorization per
update serving both states). The update's numbers are bit for bit those of ``TREE`` when the
kernels only changed their overhead; ``--update`` prints the largest difference of ``k`` after
the timed runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
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


UPDATE_STEPS = 20_000


def _update_child(realizations_count: int, repeat: int) -> None:
    """Print the compiled update's CPU microseconds (median) and final ``k`` of the tree on the
    import path, as one JSON line (run in a subprocess by :func:`update_us`)."""
    from twin.kernels.train_run import KernelRun, StepParams
    from twin.learning._compiled import realizations

    tasks = reference_r1() * realizations_count
    rr = len(tasks)
    structure = realizations(tasks)
    e = structure.ends.shape[1]
    params = StepParams(alpha=0.5, eta=1e-3, step_s=1e-4)
    run = KernelRun(structure, params, np.ones((rr, e)), np.zeros(rr), np.full((rr, e), 1e-4),
                    np.full((rr, e), 1e6), threads=1)  # fmt: skip
    run.advance(1000)
    steps = UPDATE_STEPS // rr
    times = []
    for _ in range(repeat):
        t0 = time.process_time()
        run.advance(steps)
        times.append(time.process_time() - t0)
    us = float(np.median(times)) / (steps * rr) * 1e6
    print(json.dumps({"us": us, "k": run.k[0].tolist()}))


def update_us(tree: Path, realizations_count: int, repeat: int) -> tuple[float, np.ndarray]:
    """CPU microseconds per realization-update of the source tree ``tree``, and its final ``k``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, __file__, "--update-child", str(realizations_count), "--repeat",
           str(repeat)]  # fmt: skip
    out = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True, check=True)
    doc = json.loads(out.stdout.strip().splitlines()[-1])
    return float(doc["us"]), np.array(doc["k"])


def naive_dense_dk(task: Task, k: np.ndarray, alpha: float, eta: float) -> np.ndarray:
    """One update computed naively: free and clamped state of each example by dense KKT solves.

    ``[L C^T; C 0] [V; I] = [0; b]`` with ``L`` the dense reduced Laplacian, ``C`` the source
    rows (free state) or all constraint rows with the nudged targets (clamped state); then
    ``dk = -(alpha / eta) mean(dV_C^2 - dV_F^2)`` (lambda 0). No factorization is shared.
    """
    from twin.simulation.network_state import circuit_structure

    ends, cons, n = circuit_structure(task)
    d = np.zeros((ends.shape[0], n + 1))
    d[np.arange(ends.shape[0]), ends[:, 0]] += 1.0
    d[np.arange(ends.shape[0]), ends[:, 1]] -= 1.0
    d = d[:, :n]
    c_all = np.zeros((cons.shape[0], n + 1))
    c_all[np.arange(cons.shape[0]), cons[:, 0]] += 1.0
    c_all[np.arange(cons.shape[0]), cons[:, 1]] -= 1.0
    c_all = c_all[:, :n]
    ns = task.n_sources
    lap = d.T @ (k[:, None] * d)
    acc = np.zeros(ends.shape[0])
    for b, y in zip(task.train.inputs, task.train.outputs, strict=True):
        drops = []
        for rows, rhs in ((c_all[:ns], b), (c_all, None)):
            if rhs is None:  # clamped: targets nudged from the free outputs towards y
                out = c_all[ns:] @ drops[0][1]
                rhs = np.concatenate([b, out + eta * (y - out)])
            c = rows.shape[0]
            kkt = np.zeros((n + c, n + c))
            kkt[:n, :n], kkt[:n, n:], kkt[n:, :n] = lap, rows.T, rows
            volts = np.linalg.solve(kkt, np.concatenate([np.zeros(n), rhs]))[:n]
            drops.append((d @ volts, volts))
        acc += drops[1][0] ** 2 - drops[0][0] ** 2
    return -(alpha / eta) * acc / task.train.inputs.shape[0]


def naive_dense_us(task: Task, steps: int, repeat: int) -> float:
    """CPU microseconds per update of :func:`naive_dense_dk` (clipped updates, lambda 0)."""
    times = []
    for _ in range(repeat):
        k = np.ones(task.network.n_edges)
        t0 = time.process_time()
        for _ in range(steps):
            k = np.clip(k + naive_dense_dk(task, k, 0.5, 1e-3), 1e-4, 1e6)
        times.append(time.process_time() - t0)
    return float(np.median(times)) / steps * 1e6


def update_report(before: Path | None, repeat: int) -> None:
    """The compiled update of the reference task: this tree, ``before``, the dense baselines."""
    here = Path(__file__).resolve().parents[1]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs at the start; CPU "
          f"us per realization-update, median of {repeat} runs of {UPDATE_STEPS} "
          "updates")  # fmt: skip
    for rr in (1, 8):
        now, before_us, k_now, k_before = [], [], None, None
        for _ in range(3):  # alternate the trees, so that both see the same load
            us, k_now = update_us(here, rr, repeat)
            now.append(us)
            if before is not None:
                us, k_before = update_us(before, rr, repeat)
                before_us.append(us)
        line = f"N=64 R={rr}: this tree {np.median(now):.2f} us (runs {np.round(now, 2)})"
        if before is not None and k_now is not None and k_before is not None:
            diff = float(np.max(np.abs(k_now - k_before) / np.abs(k_before)))
            ratio = np.median(before_us) / np.median(now)
            line += (f"; before {np.median(before_us):.2f} us (runs {np.round(before_us, 2)}), "
                     f"speed-up {ratio:.2f}x, max relative difference of k {diff:.1e}")  # fmt: skip
        print(line)
    task = reference_r1()[0]
    print(f"naive dense baseline (dense KKT solve per state and example): "
          f"{naive_dense_us(task, 20, repeat):.0f} us")  # fmt: skip
    _, us_numpy = time_run([task], "numpy", 200, repeat)
    print(f"numpy backend (one dense factorization per update): {us_numpy:.1f} us (wall)")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per figure (median)")
    parser.add_argument("--quick", action="store_true", help="a tenth of the steps")
    parser.add_argument("--compiled-only", action="store_true", help="skip the numpy backend")
    parser.add_argument("--only", default="", help="cases whose name contains this text")
    parser.add_argument("--update", action="store_true", help="only the update (issue 21)")
    parser.add_argument("--before", type=Path, help="with --update: a source tree to compare")
    parser.add_argument("--update-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.update_child:
        _update_child(args.update_child, args.repeat)
        return
    if args.update:
        update_report(args.before, args.repeat)
        return
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
