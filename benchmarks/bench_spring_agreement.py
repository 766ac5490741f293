"""Linear response against the exact nonlinear equilibrium of spring networks, over strain.

Run by hand::

    nice -n 10 .venv/bin/python benchmarks/bench_spring_agreement.py [--seeds 3] [--spread 0]

For the default allostery-strain task of each seed (rigid jammed:27, ``twin train --physics
springs --seed S``), the source strains are scaled to each strain in 0.002..0.2 (the seed's is
0.2) and the free state solved on both paths at stiffness 1 N/m (``--spread D``: log-uniform over
D decades below 1 N/m instead). Per strain it prints the largest difference of the bond
extensions (m) and its ratio to the largest extension, ``diff / strain^2`` (constant to second
order), the largest difference of the target strains against the largest target strain, and the
relative difference of the free state's elastic energy; per seed the log-log slope of the
extension difference against strain (2 to second order).
"""

from __future__ import annotations

import argparse

import numpy as np

from twin.physics.springs.physics import SpringPhysics
from twin.physics.springs.task_spec import build_spring_tasks

STRAINS = (0.2, 0.1, 0.05, 0.02, 0.01, 0.005, 0.002)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--spread", type=float, default=0.0, help="decades of stiffness")
    args = parser.parse_args()
    for seed in range(args.seeds):
        tasks = build_spring_tasks("allostery-strain", None, seed=seed, realizations=1)
        linear, exact = SpringPhysics(tasks), SpringPhysics(tasks, "nonlinear")
        inputs, _ = linear.examples()
        rng = np.random.default_rng(seed)
        k = np.ones(linear.shape)
        if args.spread:
            k = 10 ** rng.uniform(-args.spread, 0, linear.shape)
        rows = []
        for strain in STRAINS:
            scaled = inputs * strain / np.max(np.abs(inputs))
            a, b = linear.solve(k, scaled, None), exact.solve(k, scaled, None)
            d_ext = float(np.max(np.abs(a.drops - b.drops)))
            rows.append((strain, d_ext, float(np.max(np.abs(b.drops))),
                         float(np.max(np.abs(a.outputs - b.outputs))),
                         float(np.max(np.abs(b.outputs))),
                         float(abs(a.cost[0] - b.cost[0]) / b.cost[0])))  # fmt: skip
        arr = np.array(rows)
        slope = np.polyfit(np.log(arr[:, 0]), np.log(arr[:, 1]), 1)[0]
        print(f"seed {seed}: log-log slope of the extension difference {slope:.3f}")
        print("  strain  max|d ext| m (of max)  /strain^2  max|d target strain| (of max)  dE/E")
        for s, d, size, dt, ts, de in rows:
            print(f"  {s:6.3f}  {d:.3e}  ({d / size:6.2%})  {d / s**2:8.4f}  "
                  f"{dt:.3e} ({ts:.3e})  {de:.2e}")  # fmt: skip


if __name__ == "__main__":
    main()
