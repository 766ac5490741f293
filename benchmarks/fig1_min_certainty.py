"""How many realizations would make Fig. 1's training-energy minimum certain (issue 21).

Fig. 1's kappa of the training-energy minimum (:mod:`twin.sweeps.figures.fig1_kappa`) is "too
uncertain" when its bootstrap interval spans more than a factor 3 or fewer than 80 % of the
resamples find an interior minimum (:class:`twin.sweeps.figures.spread.Spread`). This script
reads a finished tolerance sweep of Fig. 1 from a ledger (``fig1-kappa-tol-full``: alpha = 0.1
kappa, time in kappa/alpha units; ``--sweep`` for another), takes its measured realizations as
the population, and for each ensemble size ``n`` in ``--sizes`` draws ``--draws`` ensembles of
``n`` realizations with replacement (all kappas of a realization together, as the figure's
bootstrap does), applies the figure's own computation to each, and prints the fraction that
find an interior minimum and the 16-84 % interval of its kappa. The smallest ``n`` meeting both
rules is what the measured spread says a certain minimum needs (an extrapolation: it assumes the
measured realizations stand for the population). Nothing is trained; run by hand:
``python benchmarks/fig1_min_certainty.py --db /tmp/h21full.db``.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import pandas as pd

from twin.sweeps.figures import fig1_kappa as fig1
from twin.sweeps.figures._common import done_rows
from twin.sweeps.figures.spread import MAX_FACTOR, MIN_FINITE
from twin.sweeps.results import results_frame


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", required=True, help="ledger with the finished sweep")
    ap.add_argument("--sweep", default="fig1-kappa-tol-full")
    ap.add_argument("--sizes", type=int, nargs="+", default=[8, 16, 50, 100, 200, 400, 800])
    ap.add_argument("--draws", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--fixed-alpha",
        action="store_true",
        help="time in 1/alpha epochs (the fixed-alpha sweep's convention)",
    )
    args = ap.parse_args()
    frame = done_rows(results_frame(args.sweep, db_url=args.db))
    tol = fig1._epochs(frame.copy()) if args.fixed_alpha else fig1._time_units(frame.copy())
    ids = np.array(sorted(tol["realization"].unique()))
    rows = {r: np.flatnonzero(tol["realization"].to_numpy() == r) for r in ids}
    kappa, lo, hi, energy, reached = fig1._energy_minimum(tol)
    print(
        f"{args.sweep}: {len(ids)} realizations, {tol['kappa'].nunique()} kappas; "
        f"kappa of the minimum {kappa:.3g} (eligible {lo:.3g}..{hi:.3g})"
    )
    for x, med, n in zip(energy["x"], energy["median"], energy["n"], strict=True):
        print(f"  kappa {x:.3g}: median energy {med:.4g} ({n} reached, {100 * reached[x]:.0f} %)")
    rng = np.random.default_rng(args.seed)
    print(
        f"{'n':>5} {'interior':>9} {'16 %':>9} {'84 %':>9} {'84/16':>6}  verdict "
        f"(certain: >= {100 * MIN_FINITE:.0f} % interior, 84/16 <= {MAX_FACTOR:g})"
    )
    for n in args.sizes:
        found = []
        for _ in range(args.draws):
            pick = rng.choice(ids, size=n, replace=True)
            parts = [tol.iloc[rows[r]].assign(realization=j) for j, r in enumerate(pick)]
            k = fig1._energy_minimum(pd.concat(parts, ignore_index=True))[0]
            found.append(k)
        arr = np.asarray(found, dtype=float)
        ok = arr[np.isfinite(arr)]
        share = ok.size / arr.size
        q16, q84 = np.quantile(ok, [0.16, 0.84]) if ok.size else (math.nan, math.nan)
        ratio = q84 / q16 if ok.size and q16 > 0 else math.nan
        certain = share >= MIN_FINITE and ratio <= MAX_FACTOR
        print(
            f"{n:5d} {100 * share:8.0f} % {q16:9.3g} {q84:9.3g} {ratio:6.2f}  "
            f"{'certain' if certain else 'too uncertain'}"
        )


if __name__ == "__main__":
    main()
