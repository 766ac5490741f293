"""Time per EP epoch of XY networks (run by hand; numbers go in the closing notes).

Cases, each with the predecessor's settings (beta 0.1, Euler dt 0.1, at most 1,000 steps per
phase): XOR (4 examples, one start) on all:6 and lattice:5x5, and one batch of 20 random
examples on a layered [784, 10] network (the compute of one MNIST batch of 20; MNIST is not
shipped). Each case runs twice: with convergence detection (``--relax-tol 1e-6``) and with a
fixed 1,000 steps per phase (tol 1e-300: the peer's fixed-step equivalent), and each by two
paths: the compiled epochs ``train_xy`` runs (up to 100 epochs per kernel call) and the
per-epoch path (``ep_step`` and an Adam step in numpy). Reported: CPU milliseconds per epoch
(process time: robust to other load on a shared machine) and wall.

    PYTHONPATH=. nice -n 10 python benchmarks/bench_xy.py [--epochs 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from twin.learning.ep import EPConfig, ep_step, random_starts
from twin.learning.ep_train import XYTrainConfig
from twin.learning.xy_epochs import XYEpochs
from twin.physics.xy.energy import init_params
from twin.physics.xy.relax import RelaxConfig
from twin.physics.xy.spec import graph_from_spec
from twin.physics.xy.tasks import XYTask, xor


def _case(spec: str, n_in: int, n_out: int, x, y, labels, epochs: int, tol: float) -> tuple:
    """CPU and wall ms per epoch of the compiled epochs (as ``train_xy``), and of the per-epoch
    path (``ep_step`` and the Adam step in numpy, one kernel call per phase)."""
    graph = graph_from_spec(spec, n_in, n_out)
    task = XYTask(name=spec, x_train=x, y_train=y, labels_train=labels, x_test=x, y_test=y,
                  labels_test=labels)  # fmt: skip
    ep = EPConfig(relax=RelaxConfig(tol=tol))
    rng = np.random.default_rng(0)
    p = init_params(graph, rng)
    state = XYEpochs(graph, task, XYTrainConfig(ep=ep), p)
    state.run(np.zeros(1, dtype=bool), rng)  # compile / load the kernel
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for first in range(0, epochs, state.chunk):
        state.run(np.zeros(min(state.chunk, epochs - first), dtype=bool), rng)
    compiled = ((time.process_time() - cpu0) / epochs * 1e3,
                (time.perf_counter() - wall0) / epochs * 1e3)  # fmt: skip
    theta = p.flat()
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    for t in range(1, epochs + 1):
        batch = random_starts(graph, x, y, labels, 1, rng)
        g = ep_step(graph, p, batch, ep).grad.flat()
        m = 0.9 * m + 0.1 * g
        v = 0.999 * v + 0.001 * g**2
        theta = theta - 0.1 * (m / (1 - 0.9**t)) / (np.sqrt(v / (1 - 0.999**t)) + 1e-8)
        p = p.unflat(theta)
    per_epoch = ((time.process_time() - cpu0) / epochs * 1e3,
                 (time.perf_counter() - wall0) / epochs * 1e3)  # fmt: skip
    return compiled, per_epoch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=200)
    parser.add_argument("--big-epochs", type=int, default=3)
    args = parser.parse_args()
    task = xor()
    rng = np.random.default_rng(1)
    x784 = rng.uniform(-np.pi / 2, np.pi / 2, (20, 784))
    lab = rng.integers(0, 10, 20)
    y10 = np.where(np.arange(10) == lab[:, None], np.pi / 2, -np.pi / 2)
    cases = [
        ("all:6 XOR", "all:6", 2, 1, task.x_train, task.y_train, task.labels_train, args.epochs),
        ("lattice:5x5 XOR", "lattice:5x5", 2, 1, task.x_train, task.y_train, task.labels_train,
         args.epochs),
        ("layered:784,10 batch 20", "layered:784,10", 784, 10, x784, y10, lab, args.big_epochs),
    ]  # fmt: skip
    print(f"{'case':26s} {'relaxation':>12s} {'path':>10s} {'cpu ms/epoch':>13s} "
          f"{'wall ms/epoch':>14s}")  # fmt: skip
    for name, spec, n_in, n_out, x, y, labels, epochs in cases:
        for label, tol in (("tol 1e-6", 1e-6), ("fixed 1000", 1e-300)):
            compiled, per_epoch = _case(spec, n_in, n_out, x, y, labels, epochs, tol)
            for path, (cpu, wall) in (("compiled", compiled), ("ep_step", per_epoch)):
                print(f"{name:26s} {label:>12s} {path:>10s} {cpu:13.3f} {wall:14.3f}", flush=True)


if __name__ == "__main__":
    main()
