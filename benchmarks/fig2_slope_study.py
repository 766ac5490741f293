"""Why Fig. 2's error slope reads 1.86 and not 2: the slope under each choice (issue 21).

Runs (through the sweep runner, so finished cells are reused from ``--db``) the small-lambda end
of Fig. 2's sweep (lambda = 0 and 1e-10..1e-8, the window of the slope fit, plus 1e-7 and 1e-6 for
the wide window) on ``--realizations`` of the authors' N = 64 networks, for

- bounds [1e-3, 10] S (the seed's text, the figure's setting) and [1e-4, 1e6] S (the authors'
  code),
- 1e5 steps (the figure's) and ``--long`` steps,

and fits the slope of the median error ratio L/L0 against lambda

- in the figure's window (lambda <= 1e-8, median > 10 x the lambda = 0 median) and the wide one
  (lambda <= 1e-6),
- of L/L0 as is, and of L/L0 minus its lambda = 0 value paired per realization (the floor
  subtracted: the error the power term adds),

printing one table (slope +- standard error of the fit, points used). Run by hand:
``python benchmarks/fig2_slope_study.py --db /tmp/fig2-study.db [--realizations 16]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from twin.sweeps.executors import LocalExecutor
from twin.sweeps.figures._common import done_rows, fit_loglog_slope, grouped, paired
from twin.sweeps.figures.fig2_lambda import BASE, ERROR_ABOVE_FLOOR, FIT_MAX_LAMBDA, WIDE_MAX_LAMBDA
from twin.sweeps.runner import results_frame, run_sweep
from twin.sweeps.spec import SweepSpec, spec_from_dict

LAMS = [0.0, 1e-10, 3.1622776601683795e-10, 1e-09, 3.1622776601683795e-09, 1e-08, 1e-07, 1e-06]
BOUNDS = {"seed text [1e-3, 10] S": (1e-3, 10.0), "authors' code [1e-4, 1e6] S": (1e-4, 1e6)}


def spec(name: str, kmin: float, kmax: float, steps: int, realizations: int) -> SweepSpec:
    base = {**BASE, "kmin": kmin, "kmax": kmax, "steps": steps, "n_records": 2}
    return spec_from_dict({"name": name, "kind": "trainer", "realizations": realizations,
                           "seed": 0, "base": base, "axes": {"lam": LAMS}})  # fmt: skip


def slopes(frame: object) -> dict[str, str]:
    """The four fitted slopes of one sweep's frame."""
    frame = done_rows(frame)  # type: ignore[arg-type]
    # paired() is L/L(lambda = 0) per realization: L - L(0) = L (1 - 1 / that)
    frame["excess"] = frame["error_ratio"] * (1.0 - 1.0 / paired(frame, "lam", "error_ratio", 0.0))
    out = {}
    floor = float(np.median(frame.loc[frame["lam"] == 0.0, "error_ratio"]))
    for label, column in (("L/L0", "error_ratio"), ("L/L0 - (L/L0 at 0)", "excess")):
        g = grouped(frame, "lam", column)
        g = g[g["x"] > 0]
        if column == "error_ratio":
            g = g[g["median"] > ERROR_ABOVE_FLOOR * floor]
        for window, x_max in (("lam<=1e-8", FIT_MAX_LAMBDA), ("lam<=1e-6", WIDE_MAX_LAMBDA)):
            s = fit_loglog_slope(g["x"], g["median"], x_max=x_max)
            out[f"{label}, {window}"] = f"{s.slope:.2f} +- {s.stderr:.2f} ({s.n_points} pts)"
    out["median L/L0 at lambda = 0"] = f"{floor:.2g}"
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="ledger URL or SQLite path (cells reused)")
    parser.add_argument("--realizations", type=int, default=16)
    parser.add_argument("--long", type=int, default=300_000, help="steps of the long runs")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    variants = [(b, 100_000) for b in BOUNDS] + [(next(iter(BOUNDS)), args.long)]
    executor = LocalExecutor(args.workers)
    try:
        for bounds, steps in variants:
            kmin, kmax = BOUNDS[bounds]
            name = f"fig2-study-k{-round(np.log10(kmin))}-k{round(np.log10(kmax))}-{steps}"
            sp = spec(name, kmin, kmax, steps, args.realizations)
            t0 = time.perf_counter()
            run_sweep(sp, db_url=args.db, executor=executor)
            frame = results_frame(sp, db_url=args.db)
            print(f"\n## bounds {bounds}, {steps:.0e} steps, {args.realizations} realizations "
                  f"({time.perf_counter() - t0:.0f} s)", flush=True)  # fmt: skip
            for key, value in slopes(frame).items():
                print(f"  {key:40s} {value}", flush=True)
    finally:
        executor.close()


if __name__ == "__main__":
    main()
