"""Benchmark of the event-driven twin (``twin simulate``): real-time factors.

The board: 4 x 4 periodic lattice (32 edges), allostery task, transistor model, clocks at
10 kHz per edge, 20 s of simulated time. Three implementations:

- ``naive``: one SimPy process per edge and a fresh numpy solve of the free and clamped states per
  event (the "before": what a literal implementation does), measured on a short run;
- ``agents``: one SimPy process per edge, one SimPy event per edge event, compiled rank-1 updates;
- ``batched``: one SimPy process per clock group, events processed in compiled batches (default).

Also a ~1,024-edge jammed network (``jammed:460:seed=1``, 1040 edges), on short runs; with sync
and Bernoulli clocks both on the sparse path (the default above 56 reduced nodes) and on the
dense path (``SolverSettings(sparse_above=None)``: dense refactorisation per tick, the "before").

Run: ``.venv/bin/python benchmarks/bench_twin.py [--duration 20] [--quick]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Generator
from typing import Any

import numpy as np
import simpy

from twin.physics.network_io import network_from_spec
from twin.physics.solver import CircuitBatch, clamped_state, free_state, nudged_targets
from twin.physics.task import Task
from twin.physics.task_generators import allostery_task
from twin.physics.task_spec import build_tasks
from twin.simulation import SolverSettings, TwinConfig, board_edge_params, simulate

CLOCKS = ("sync:10000", "bernoulli:10000:0.5", "poisson:10000", "periodic:10000:0.01")
CONTINUOUS = "continuous:0.001"


def naive_run(task: Task, duration_s: float, rate_hz: float = 1e4) -> tuple[float, float]:
    """Poisson clocks, one process per edge, a fresh dense solve per event (linear model).

    Returns (realtime factor, final error).
    """
    env = simpy.Environment()
    rng = np.random.default_rng(0)
    batch = CircuitBatch.from_tasks([task])
    inputs, desired = task.train.inputs[None], task.train.outputs[None]
    s_a, v_t, rc, gain, eta = 8.5e-4, 0.65, 2.2e-3, 10.0, 0.22
    e = task.network.n_edges
    v_gate = np.full(e, 3.0)
    drive = np.zeros(e)
    t_last = np.zeros(e)
    k = s_a * (v_gate - v_t)

    def measure() -> tuple[np.ndarray, np.ndarray, float]:
        basis = batch.basis(k[None])
        free = free_state(batch, basis, inputs)
        clamp = nudged_targets(free.outputs, desired, eta)
        clamped = clamped_state(batch, basis, inputs, clamp)
        err = float(np.sum((free.outputs - desired) ** 2))
        return free.drops[0, :, 0], clamped.drops[0, :, 0], err

    d_f, d_c, _ = measure()
    drive[:] = gain * (d_f**2 - d_c**2)

    def agent(i: int) -> Generator[simpy.Event, Any, None]:
        while True:
            yield env.timeout(rng.exponential(1 / rate_hz))
            v_gate[i] = np.clip(v_gate[i] + drive[i] * (env.now - t_last[i]) / rc, 1.0, 5.5)
            t_last[i] = env.now
            k[i] = s_a * (v_gate[i] - v_t)
            d_f, d_c, _ = measure()
            drive[i] = gain * (d_f[i] ** 2 - d_c[i] ** 2)

    for i in range(e):
        env.process(agent(i))
    t0 = time.perf_counter()
    env.run(until=duration_s)
    wall = time.perf_counter() - t0
    return duration_s / wall, measure()[2]


def run(task: Task, clock: str, duration_s: float, **changes: Any) -> dict[str, Any]:
    cfg = TwinConfig(clock=clock, sample_interval_s=max(duration_s / 200, 1e-4)).evolve(**changes)
    result = simulate(task, cfg, duration_s, rng=np.random.default_rng(1))
    return result.stats


def row(label: str, stats: dict[str, Any]) -> None:
    print(
        f"{label:<44} {stats['realtime_factor']:>9.3g}x  events {stats['events']:>10d}  "
        f"error {stats['error_initial']:.3g} -> {stats['error_final']:.3g}  "
        f"wall {stats['wall_s']:.3g} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=20.0, help="board run, simulated s")
    parser.add_argument("--quick", action="store_true", help="2 s board runs, fewer variants")
    args = parser.parse_args()
    duration = 2.0 if args.quick else args.duration
    board = build_tasks("allostery", None, seed=2, realizations=1)[0]
    run(board, "poisson:10000", 1e-3)  # compile / load the kernel cache outside the timings

    print(f"# board: 4x4 periodic, 32 edges, allostery (seed 2), {duration:g} s simulated")
    rt, _ = naive_run(board, 0.01)
    print(f"{'naive (process/edge, solve/event), poisson':<44} {rt:>9.3g}x  (0.01 s run)")
    for clock in ("sync:10000", "poisson:10000"):
        row(f"agents engine, transistor, {clock}", run(board, clock, 0.05, engine="agents"))
    for model in ("transistor", "linear"):
        for clock in (*CLOCKS, CONTINUOUS):
            stats = run(board, clock, duration, edges=board_edge_params(model))
            row(f"batched, {model}, {clock}", stats)
        if args.quick:
            break

    net = network_from_spec("jammed:460:seed=1")
    task = allostery_task(net, rng=np.random.default_rng(0))
    print(f"# jammed:460:seed=1: {net.n_nodes} nodes, {net.n_edges} edges, allostery")
    for clock in ("sync:10000", "bernoulli:10000:0.5"):
        for model in ("linear", "transistor"):
            edges = board_edge_params(model)
            row(f"batched, {model}, {clock}, sparse", run(task, clock, 0.2, edges=edges))
            dense = run(task, clock, 0.02, edges=edges, solver=SolverSettings(sparse_above=None))
            row(f"batched, {model}, {clock}, dense", dense)
    for model in ("linear", "transistor"):
        edges = board_edge_params(model)
        row(f"batched, {model}, poisson:10000", run(task, "poisson:10000", 2e-3, edges=edges))
    row("batched, transistor, continuous:0.001", run(task, CONTINUOUS, 0.05))


if __name__ == "__main__":
    main()
