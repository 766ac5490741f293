"""Fig. 1 at the seed's 1e6 steps on a subset: where the training-energy minimum lies (issue 21).

Runs (through the sweep runner, so finished cells are reused from ``--db``) the full set's two
tolerance sweeps of Fig. 1, with the seed's 1e6 steps and early stopping at L = 1e-4 V^2, on
``--realizations`` of the authors' N = 64 networks and the full set's kappas up to ``--kappa-max``
(the low end, where the minimum and the slow runs are):

- alpha = 0.1 kappa, time in kappa/alpha units (``fig1-kappa-tol``),
- alpha = 0.1 fixed, time in 1/alpha epochs (``fig1-kappa-tol-fixed-alpha``),

then Fig. 1's own computation (:mod:`twin.sweeps.figures.fig1_kappa`: the interior minimum over
the kappas most realizations reached) with its bootstrap interval (:mod:`.spread`), and prints
the fraction reaching the tolerance and the median energy per kappa. Cells of this subset are
not those of the full set (fewer realizations: other cell ids). Run by hand, one worker:
``nice -n 10 python benchmarks/fig1_full_minimum.py --db /tmp/fig1-full.db [--realizations 16]``.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from twin.sweeps.executors import LocalExecutor
from twin.sweeps.figures import fig1_kappa as fig1
from twin.sweeps.figures._common import DRAWING, done_rows
from twin.sweeps.figures.spread import bootstrap
from twin.sweeps.runner import results_frame, run_sweeps
from twin.sweeps.spec import SweepSpec, spec_from_dict


def specs(realizations: int, kappa_max: float) -> list[SweepSpec]:
    """The full set's tolerance sweeps at its kappas <= ``kappa_max``."""
    kappas = [k for k in np.logspace(-3, 1, 9).tolist() if k <= kappa_max * (1 + 1e-12)]
    alphas = [min(fig1.ALPHA_PER_KAPPA * k, 1.0) for k in kappas]
    base = {**fig1.BASE, "steps": fig1.TOL_STEPS, "stop_tol": fig1.TOLERANCE_V2, "n_records": 2}
    what = "Fig. 1 at 1e6 steps, a subset (benchmarks/fig1_full_minimum.py)"
    common = {"kind": "trainer", "realizations": realizations, "seed": 0, "description": what}
    return [
        spec_from_dict({**common, "name": f"fig1-kappa-tol-sub{realizations}", "combine": "zip",
                        "axes": {"kappa": kappas, "alpha": alphas}, "base": base}),
        spec_from_dict({**common, "name": f"fig1-kappa-tol-fixed-alpha-sub{realizations}",
                        "axes": {"kappa": kappas},
                        "base": {**base, "alpha": fig1.FIXED_ALPHA}}),
    ]  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="ledger (SQLite path or URL): cells are reused")
    ap.add_argument("--realizations", type=int, default=16)
    ap.add_argument("--kappa-max", type=float, default=1.0)
    ap.add_argument("--workers", type=int, default=1)
    args = ap.parse_args()
    todo = specs(args.realizations, args.kappa_max)
    t0 = time.perf_counter()
    executor = LocalExecutor(args.workers)
    try:
        outcomes = run_sweeps(todo, db_url=args.db, executor=executor)
    finally:
        executor.close()
    wall = time.perf_counter() - t0
    tol, fixed = (results_frame(s, db_url=args.db) for s in todo)
    # fig1.render wants a run-to-the-end frame for its power panel: the tolerance frame stands
    # in (the minimum does not use it); nothing is drawn
    frames = {"fig1-kappa-full": tol, "fig1-kappa-tol-full": tol,
              "fig1-kappa-tol-fixed-alpha-full": fixed}  # fmt: skip
    token = DRAWING.set(False)
    try:
        result = fig1.render(frames, Path("/nonexistent"))
        spreads = bootstrap(fig1.render, frames, result, Path("/nonexistent"), resamples=200)
    finally:
        DRAWING.reset(token)
    for o in outcomes:
        print(f"{o.name}: {o.cells} cells, {o.already_done} found done, {o.computed} computed")
    print(f"wall {wall:.0f} s with {args.workers} worker(s)")
    for label, frame, units in (("alpha = 0.1 kappa, kappa/alpha units", tol, fig1._time_units),
                                (f"alpha = {fig1.FIXED_ALPHA:g} fixed, 1/alpha epochs", fixed,
                                 fig1._epochs)):  # fmt: skip
        f = units(done_rows(frame))
        print(f"\n{label}: kappa, fraction reaching 1e-4, median steps, median energy units")
        for kappa, g in f.groupby("kappa"):
            hit = np.isfinite(g["time_to_tol_s"])
            med = float(np.median(g.loc[hit, "energy_units"])) if hit.any() else math.nan
            steps = float(np.median(g["steps_done"]))
            print(f"  {kappa:.3g}  {hit.mean():.0%}  {steps:.3g}  {med:.3g}")
    print()
    for key in ("kappa_at_energy_minimum", "kappa_at_energy_minimum_fixed_alpha"):
        sp = spreads[key]
        verdict = "too uncertain" if sp.too_uncertain() else "comparable"
        print(f"{key}: {sp.text()} (68 % over 200 resamples; {sp.finite:.0%} give a number; "
              f"{verdict}); published ~2e-2")  # fmt: skip


if __name__ == "__main__":
    main()
