"""Figure cells batched in lanes against the same cells one at a time (issue 21).

A batch (:mod:`twin.sweeps.batches`) is the cells of a figure's sweep that differ only in lambda,
kappa, alpha or the early-stopping tolerance, trained in one run so that realization ``r`` of
every cell (the same network) is one lane group. Four batches of the reference task
(``ref:64``, regression, realizations on the authors' networks): Fig. 2's lambdas (8 cells,
kappa 1, alpha 0.5), Fig. 1's kappas (5 cells, alpha = 0.1 kappa) and Fig. 4's early stopping
(5 cells, L~ = 1e-4..1e-2, kappa 1e-3, alpha 0.03, ``--stop-steps`` steps at most: each
realization stops at its own tolerance and leaves its lane group) and lambda control (the same
5 tolerances, each lane controlled to its own). Each is timed as one batch
and as its cells one after another, in CPU seconds (``time.process_time``) per
realization-update done (early stopping: the updates made before stopping), median of
``--repeat`` interleaved rounds; the rows of both are checked equal to the last bit.

Run: ``nice -n 10 .venv/bin/python benchmarks/bench_batches.py [--steps 3000 --repeat 5]`` and
state the load printed beside the figures (the machine may be shared).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from typing import Any

from twin.sweeps._trainer_cell import batch_rows, tasks_for, trainer_rows
from twin.sweeps.cells import realization_seeds
from twin.sweeps.params import canonical_params

BASE = {"task": "regression", "network": "ref:64", "eta": 1e-3, "kmin": 1e-3, "kmax": 10.0,
        "n_records": 4}  # fmt: skip
BATCHES = {
    "fig2 lambdas": [{"kappa": 1.0, "alpha": 0.5, "lam": lam}
                     for lam in (0.0, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4)],
    "fig1 kappas": [{"kappa": k, "alpha": 0.1 * k, "lam": 0.0}
                    for k in (1e-3, 1e-2, 3.1622776601683794e-2, 0.1, 1.0)],
    "fig4 stopping": [{"kappa": 1e-3, "alpha": 0.03, "lam": 0.0, "stop_tol": tol}
                      for tol in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)],
    "fig4 control": [{"kappa": 1e-3, "alpha": 0.03, "lam": 0.0, "control_tol": tol, "rho": 1.0,
                      "p": 0.02} for tol in (1e-4, 3e-4, 1e-3, 3e-3, 1e-2)],
}  # fmt: skip
#: Batches whose runs last ``--stop-steps`` (they stop early).
STOPPING = ("fig4 stopping",)


def _same(a: list[list[dict[str, float]]], b: list[list[dict[str, float]]]) -> bool:
    return all(
        (math.isnan(x[k]) and math.isnan(y[k])) or x[k] == y[k]
        for ra, rb in zip(a, b, strict=True)
        for x, y in zip(ra, rb, strict=True)
        for k in x
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--stop-steps", type=int, default=100_000)
    ap.add_argument("--only", action="append", choices=sorted(BATCHES), help="this batch only")
    ap.add_argument("--realizations", type=int, default=8)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    seeds = realization_seeds(0, args.realizations)
    print(f"load {os.getloadavg()[0]:.2f}; {args.steps} steps, {args.realizations} "
          f"realizations, median of {args.repeat}")  # fmt: skip
    for name, values in BATCHES.items():
        if args.only and name not in args.only:
            continue
        steps = args.stop_steps if name in STOPPING else args.steps
        cells: list[Any] = [canonical_params("trainer", {**BASE, **v, "steps": steps},
                                             where=name) for v in values]  # fmt: skip
        tasks = tasks_for(cells[0], seeds)
        batch_rows(cells[:3], tasks[:1])  # compile
        together, alone = [], []
        for _ in range(args.repeat):
            c0 = time.process_time()
            rows_b = batch_rows(cells, tasks)
            c1 = time.process_time()
            rows_a = [trainer_rows(c, tasks) for c in cells]
            c2 = time.process_time()
            assert _same(rows_b, rows_a), "a batch's rows differ from its cells' alone"
            n = sum(r["steps_done"] for rows in rows_a for r in rows)
            together.append(1e6 * (c1 - c0) / n)
            alone.append(1e6 * (c2 - c1) / n)
        b, a = statistics.median(together), statistics.median(alone)
        updates = n / (len(cells) * len(tasks))
        print(f"{name} ({len(cells)} cells, {steps} steps, {updates:.0f} updates per "
              f"realization on average): batch {b:.2f} us, alone {a:.2f} us per "
              f"realization-update (x {a / b:.2f}); rows equal to the last bit")  # fmt: skip
    print(f"load {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
