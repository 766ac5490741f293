"""Issue 9: how many generated regression tasks learn at lambda = 0 on the 50 reference networks.

Trains the seed's regression task (App. B) on the authors' 50 N = 64 networks (``ref:64``,
realization r on network r, ``realization_rng(seed, r)``) at lambda = 0, kappa = 1, alpha 0.5,
eta 1e-3, bounds [1e-3, 10] (or ``--authors-bounds``: [1e-4, 1e6]) for ``--steps`` steps, with
the edge rule of ``--rule``: ``disjoint`` (the default generator: four node-disjoint edges) or
``touching`` (the old rule: edges may share nodes). Prints the fraction reaching L/L0 < 1e-5,
the number stuck above 3e-4 V^2, the medians, and how many draws touched. Measured (seed 0,
1e5 steps, 2 shared cores): touching 72 % learn, 13 stuck, 15 touching draws of which 9 stuck;
disjoint 84 %, 5 stuck. Run: ``python benchmarks/regression_learnability.py --rule touching``.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from twin.learning.rules import LearningRule
from twin.learning.trainer import TrainConfig, train
from twin.physics.network_io import network_from_spec
from twin.physics.task_generators import regression_task
from twin.physics.task_spec import realization_rng


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule", choices=("disjoint", "touching"), default="disjoint")
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--map-noise", type=float, default=0.1, help="std of the A entries")
    parser.add_argument("--authors-bounds", action="store_true", help="bounds [1e-4, 1e6]")
    args = parser.parse_args()
    tasks = [
        regression_task(network_from_spec(f"ref:64:i={r}"), rng=realization_rng(args.seed, r),
                        disjoint=args.rule == "disjoint", map_noise=args.map_noise)
        for r in range(50)
    ]  # fmt: skip
    bounds = (1e-4, 1e6) if args.authors_bounds else (1e-3, 10.0)
    config = TrainConfig(rule=LearningRule(alpha=0.5, eta=1e-3), kappa=1.0, k_min=bounds[0],
                         k_max=bounds[1], steps=args.steps)  # fmt: skip
    t0, c0 = time.perf_counter(), time.process_time()
    res = train(tasks, config)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    ratio = res.error_final / res.error_initial
    touching = np.array([np.unique(t.network.edges[np.r_[t.sources, t.targets]]).size < 8
                         for t in tasks])  # fmt: skip
    stuck = res.error_final > 3e-4
    print(f"rule {args.rule}, bounds {bounds}, {args.steps} steps, seed {args.seed}")
    print(f"  learn (L/L0 < 1e-5): {np.mean(ratio < 1e-5):.0%}; stuck (L > 3e-4 V^2): "
          f"{int(stuck.sum())}; median L/L0 {np.median(ratio):.2e}")  # fmt: skip
    print(
        f"  touching draws: {int(touching.sum())}, of which stuck {int((touching & stuck).sum())}"
    )
    print(f"  {wall:.0f} s wall, {cpu:.0f} s CPU; load average {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
