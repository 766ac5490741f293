"""Issue 23: the emulated two-transistor network beside the measured floor and span, per point.

Configures the board emulator as the lab's small network of arXiv 2505.22887
(:func:`twin.board.clln.small_network_board`: measured bias, linear device, eta matched to the
measured curvature), trains it on tasks alpha and beta alternating every tau/2 until the cycle
is steady, and prints per measured period: the measured error floor and D^2, the emulated ones,
their ratio (emulated / measured) and the linearised model's (no rails). Target: every ratio
within a factor of 2. ``--quick`` runs 4 periods per experiment. Run:
``nice -n 10 python benchmarks/validate_imperfection.py [--quick]``.
"""

from __future__ import annotations

import argparse
import math
import sys
import time

from twin.board.clln import compare_small_network

QUICK_TAUS = (0.002, 0.02, 0.2, 2.0)


def _fmt(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 periods per experiment")
    parser.add_argument("--experiments", nargs="+", default=["exp1", "exp2"])
    args = parser.parse_args()
    worst = 1.0
    t0 = time.perf_counter()
    for exp in args.experiments:

        def show(done: int, total: int, exp: str = exp) -> None:
            elapsed = time.perf_counter() - t0
            sys.stderr.write(f"\r{exp}: {done}/{total} periods, {elapsed:.0f} s")
            sys.stderr.flush()

        rows = compare_small_network(exp, QUICK_TAUS if args.quick else None, progress=show)
        sys.stderr.write("\n")
        print(f"\n{exp}: tau_s  mse measured / emulated (ratio) / model   "
              f"D^2 measured / emulated (ratio) / model   cycles")  # fmt: skip
        for r in rows:
            if math.isnan(float(r["emulated_mse_v2"])):
                continue
            ratio_m = float(r["emulated_mse_v2"]) / float(r["measured_mse_v2"])
            ratio_d = float(r["emulated_d2_v2"]) / float(r["measured_d2_v2"])
            worst = max(worst, ratio_m, 1 / ratio_m, ratio_d, 1 / ratio_d)
            print(
                f"  {float(r['tau_s']):7.4f}  {_fmt(float(r['measured_mse_v2']))} / "
                f"{_fmt(float(r['emulated_mse_v2']))} ({ratio_m:.2f}) / "
                f"{_fmt(float(r['model_mse_v2']))}   {_fmt(float(r['measured_d2_v2']))} / "
                f"{_fmt(float(r['emulated_d2_v2']))} ({ratio_d:.2f}) / "
                f"{_fmt(float(r['model_d2_v2']))}   {int(float(r['cycles']))}"
            )
    print(f"\nworst factor between emulated and measured: {worst:.2f} "
          f"({'within' if worst <= 2 else 'OUTSIDE'} the factor-2 target); "
          f"{time.perf_counter() - t0:.0f} s")  # fmt: skip


if __name__ == "__main__":
    main()
