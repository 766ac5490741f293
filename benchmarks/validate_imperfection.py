"""Issue 23: the emulated two-transistor network beside the measured floor and span, per point.

Configures the board emulator as the lab's small network of arXiv 2505.22887
(:func:`twin.board.clln.small_network_board`: measured bias, linear device, eta matched to the
measured curvature), trains it on tasks alpha and beta alternating every tau/2 until the cycle
is steady, and prints per measured period: the measured error floor and D^2, the emulated ones,
their ratio (emulated / measured) and the linearised model's (no rails). Target: every ratio
within a factor of 2. ``--quick`` runs 4 periods per experiment.

``--board``: the 4 x 4 board instead (``HiddenVariation.lab()``, two allostery tasks with
different source and target nodes alternating every tau/2 at eta 128/129, no ADC), printing per
period the cycle span summed over the 32 edges and the error floor: median [min, max] over the
boards (``--seeds``, default 0-5) beside the lab's numbers, and the worst factor of the medians.
Run: ``nice -n 10 python benchmarks/validate_imperfection.py [--quick | --board [--seeds S ...]
[--gain-rel R] [--gain-scale K] [--bias MEAN SIGMA] [--periods TAU ...]]``.

``--board --task classification [--jobs N] [--margin-v M] [--label-v L]``: the lab's
classification cycle instead (:func:`twin.board.hinge.grid_classifier_tasks`: its class-0 and
class-1 points alternating every tau/2, hinge with margin and label 63 mV, eta ramped 32 -> 128
/ 129 over 3 s), periods 0.02 0.12 0.5 2 5 s: span summed over edges beside the lab's 4.9 V/s x
tau, hinge floor beside its 1.15e-3 V^2 (up to 0.12 s) and 2.8e-3 (from 5 s). Measured
2026-12-06 (6 lab() boards, 10 s or 6 cycles; median [min, max], ratio to the lab): span
0.127 V [0.066, 0.17] (1.29x) at 20 ms, 0.75 [0.35, 1.01] (1.28x) at 0.12 s, 2.28 [0.97, 3.38]
(0.93x) at 0.5 s, 6.2 [1.9, 8.4] (0.64x) at 2 s, 10.0 [2.7, 11.7] (0.41x) at 5 s (D/tau 6.3,
6.3, 4.6, 3.1, 2.0 V/s: linear to 0.12 s at 1.3x the lab's rate, then saturating near the
regression's 11 V, which 4.9 V/s x 5 s = 24.5 V would exceed); hinge floor 6.2e-4 [4.1e-4,
8.8e-4] (0.54x) at 20 ms, 6.8e-4 [4.5e-4, 1.05e-3] (0.59x) at 0.12 s, 1.1e-3 at 0.5 s, 2.6e-3
at 2 s, 3.8e-3 [2.8e-3, 5.2e-3] (1.36x) at 5 s. Every median within 2x of the lab's but the
saturated 5 s span; 1900 s wall with --jobs 2 on a loaded machine.

Measured 2026-12-06 (branch h23, 6 boards, 3 s settling; lab in brackets), ``lab()`` = 1 %
free/clamped gain spread, gains at half the nominal x10, bias 0.5 +- 0.5 V/s: span 61 mV
[31, 114] (75 mV) at 20 ms, 0.61 V (0.57) at 0.2 s, 5.3 V (4.6) at 2 s; floor 3.5e-5 (4e-5) V^2
at 20 ms, 1.2e-4 (6.5e-5) at 0.2 s, 1.3e-3 (7e-4) at 1.26 s: worst factor 1.88. At 0.8 ms
(not steady after 20000 cycles; 2118 s on a loaded machine): span 2.7 mV [1.9, 5.1] (5.8,
0.47x), floor 2.6e-5 [1.3e-5, 8.2e-5] (4e-5, 0.64x): worst factor 2.12 over every period.
``--gain-rel 0`` (no gain spread): span 43 mV / 0.50 V, floor 1.2e-5 / 6.4e-5 at 20 ms / 0.2 s.
The former ``lab()`` (``typical()``'s 5 % spread at full gain, same bias), same boards: span
0.176 / 1.51 V at 20 ms / 0.2 s (2.35x / 2.65x), floor 2.2e-4 / 6.4e-4 / 2.1e-3 V^2 at 20 ms /
0.2 s / 1.26 s (5.6x / 9.8x / 3.0x). Why these parameters: ``HiddenVariation.lab``'s docstring
(the floor / span^2 ratio at a short period measures the learning rate; the bias then sets the
spans; a 5 % gain mismatch alone makes the floor 5-20x the lab's).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import attrs
import numpy as np

from twin.board.clln import compare_small_network, cycle_error_v2, settle_cycle
from twin.board.emulator import BoardEmulator, EmulatorConfig, default_board_task
from twin.board.hinge import (
    LAB_MARGIN_V,
    HingePolicy,
    check_classifier,
    free_outputs_at_v,
    grid_classifier_tasks,
    hinge_error_v2,
)
from twin.board.variation import Adc, HiddenVariation
from twin.physics.network_io import network_from_spec
from twin.simulation.schedule import EtaRamp, Schedule

QUICK_TAUS = (0.002, 0.02, 0.2, 2.0)


def _fmt(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3g}"


#: The lab's 4 x 4 board (issue 23): period (s) -> (span summed over edges, V; floor, V^2);
#: ``None`` where the lab gives no number at that period.
BOARD_LAB: dict[float, tuple[float | None, float | None]] = {
    0.0008: (5.8e-3, 4e-5),
    0.02: (0.075, 4e-5),
    0.2: (0.57, 6.5e-5),
    1.26: (None, 7e-4),
    2.0: (4.6, None),
}


def board_point(
    seed: int, tau_s: float, variation: HiddenVariation, settle_s: float
) -> tuple[float, float, int]:
    """One emulated 4 x 4 board's steady cycle: span summed over edges (V), floor (V^2), cycles."""
    a, b = default_board_task(seed=2), default_board_task(seed=5)
    config = EmulatorConfig(variation=variation, rate_hz=1 / tau_s,
                            node_adc=Adc(bits=0), gate_adc=Adc(bits=0))  # fmt: skip
    emu = BoardEmulator(config, rng=np.random.default_rng(seed))
    emu.follow_schedule(Schedule(tasks=[a, b], period_s=tau_s, eta=EtaRamp.constant(128 / 129),
                                 duration_s=1e5 * tau_s))  # fmt: skip
    # At most 20000 cycles and 200 s of board time (a long period may never settle to 1e-3).
    max_cycles = min(20_000, max(40, math.ceil(200.0 / tau_s)))
    start, half, k = settle_cycle(emu, tau_s, settle_s=settle_s, max_cycles=max_cycles)
    err = cycle_error_v2(emu, [a, b], [start, half])
    return float(np.abs(half - start).sum()), err, k


#: The lab's 4 x 4 board in classification (issue 23): span rate D / tau (V/s) and hinge error
#: floor (V^2) per period (s); ``None`` where the lab gives no number at that period.
CLASS_SPAN_RATE_V_PER_S = 4.9
CLASS_FLOOR_LAB: dict[float, float | None] = {0.02: 1.15e-3, 0.12: 1.15e-3, 0.5: None, 2.0: None,
                                              5.0: 2.8e-3}  # fmt: skip


def classification_point(
    seed: int, tau_s: float, variation: HiddenVariation, policy: HingePolicy
) -> tuple[float, float, int]:
    """One 4 x 4 board's hinge cycle: span summed over edges (V), hinge floor (V^2), cycles.

    The lab's cycle (:func:`~twin.board.hinge.grid_classifier_tasks`: its class-0 and class-1
    points alternate every ``tau_s / 2``) with the hinge ``policy`` (checked every
    ``min(check_s, tau / 8)``), eta ramped from 32/129 to 128/129 over 3 s as the lab's, from the
    reset gates, for at least 6 s and 4 cycles, then until the cycle is steady (at most
    ``max(6, 10 s / tau)`` cycles). The floor is the lab's hinge error over all 12 points,
    averaged over both switch points of the last cycle.
    """
    a, b = grid_classifier_tasks(network_from_spec("lattice:4x4:periodic"))
    policy = attrs.evolve(policy, check_s=min(policy.check_s, tau_s / 8))
    config = EmulatorConfig(variation=variation, rate_hz=1 / tau_s,
                            node_adc=Adc(bits=0), gate_adc=Adc(bits=0))  # fmt: skip
    emu = BoardEmulator(config, rng=np.random.default_rng(seed), task=a)
    eta = EtaRamp(start=32 / 129, end=128 / 129, ramp_s=3.0)
    emu.follow_schedule(Schedule(tasks=[a, b], period_s=tau_s, eta=eta, duration_s=1e5 * tau_s),
                        hinge=policy)  # fmt: skip
    max_cycles = max(6, math.ceil(10.0 / tau_s))
    start, half, k = settle_cycle(emu, tau_s, settle_s=6.0, min_cycles=4, max_cycles=max_cycles)
    errors = [
        hinge_error_v2(check_classifier(t), free_outputs_at_v(emu.edges.device, g, t), policy)
        for t in (a, b)
        for g in (start, half)
    ]
    return float(np.abs(half - start).sum()), float(np.mean(errors)), k


def classification(seeds: list[int], variation: HiddenVariation, periods: list[float],
                   policy: HingePolicy, jobs: int) -> float:  # fmt: skip
    """The 4 x 4 board's classification span and hinge floor per period over ``seeds``.

    Prints the median [min, max] over seeds beside the lab's (span: 4.9 V/s x tau); returns the
    worst factor between a median and the lab's number.
    """
    print(f"variation: {variation}\npolicy: {policy}\nseeds: {seeds}")
    print("tau_s   D_sum median [min, max] / lab (ratio), V   "
          "hinge floor median [min, max] / lab (ratio), V^2   D/tau (V/s)   cycles")  # fmt: skip
    taus = periods or list(CLASS_FLOOR_LAB)
    args = [(s, tau, variation, policy) for tau in taus for s in seeds]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(classification_point, *zip(*args, strict=True)))
    worst = 1.0
    for i, tau in enumerate(taus):
        points = results[i * len(seeds) : (i + 1) * len(seeds)]
        for s, (d_sum, floor, cycles) in zip(seeds, points, strict=True):
            sys.stderr.write(f"  tau {tau:g} s, seed {s}: D_sum {d_sum:.3g} V, "
                             f"hinge floor {floor:.3g} V^2, {cycles} cycles\n")  # fmt: skip
        d_text, d_ratio = _spread_text([p[0] for p in points], CLASS_SPAN_RATE_V_PER_S * tau)
        f_text, f_ratio = _spread_text([p[1] for p in points], CLASS_FLOOR_LAB.get(tau))
        for r in (d_ratio, f_ratio):
            if r is not None:
                worst = max(worst, r, 1 / r)
        rate = float(np.median([p[0] for p in points])) / tau
        cycles = int(np.median([p[2] for p in points]))
        print(f"{tau:7.4f}  {d_text}   {f_text}   {rate:.3g}   {cycles}", flush=True)
    print(f"worst factor between a median and the lab's number: {worst:.2f}")
    return worst


def _spread_text(values: list[float], lab: float | None) -> tuple[str, float | None]:
    med = float(np.median(values))
    text = f"{med:.3g} [{min(values):.3g}, {max(values):.3g}]"
    if lab is None:
        return text + " / n/a", None
    ratio = med / lab
    return text + f" / {lab:.2g} ({ratio:.2f}x)", ratio


def board(seeds: list[int], settle_s: float, variation: HiddenVariation,
          periods: list[float]) -> float:  # fmt: skip
    """The 4 x 4 board's span and floor per period over ``seeds``, beside the lab's.

    Prints the median [min, max] over seeds and the median's ratio to the lab's number;
    returns the worst factor between a median and the lab's number.
    """
    print(f"variation: {variation}\nseeds: {seeds}")
    print("tau_s   D_sum median [min, max] / lab (ratio), V   "
          "floor median [min, max] / lab (ratio), V^2   cycles (median)   wall (s)")  # fmt: skip
    worst = 1.0
    for tau, (d_lab, floor_lab) in BOARD_LAB.items():
        if periods and tau not in periods:
            continue
        t0 = time.perf_counter()
        points = []
        for s in seeds:
            points.append(board_point(s, tau, variation, settle_s))
            d_sum, floor, cycles = points[-1]
            sys.stderr.write(f"  tau {tau:g} s, seed {s}: D_sum {d_sum:.3g} V, "
                             f"floor {floor:.3g} V^2, {cycles} cycles\n")  # fmt: skip
        d_text, d_ratio = _spread_text([p[0] for p in points], d_lab)
        f_text, f_ratio = _spread_text([p[1] for p in points], floor_lab)
        for r in (d_ratio, f_ratio):
            if r is not None:
                worst = max(worst, r, 1 / r)
        cycles = int(np.median([p[2] for p in points]))
        print(f"{tau:7.4f}  {d_text}   {f_text}   {cycles}   {time.perf_counter() - t0:.0f}",
              flush=True)  # fmt: skip
    print(f"worst factor between a median and the lab's number: {worst:.2f}")
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 periods per experiment")
    parser.add_argument("--experiments", nargs="+", default=["exp1", "exp2"])
    parser.add_argument("--board", action="store_true", help="the 4 x 4 board's scalings")
    parser.add_argument(
        "--task",
        choices=["regression", "classification"],
        default="regression",
        help="--board: two alternating regression tasks, or two classifiers trained with a hinge",
    )
    parser.add_argument(
        "--margin-v", type=float, default=LAB_MARGIN_V, help="classification: margin, V"
    )
    parser.add_argument(
        "--label-v", type=float, default=None, help="classification: nudged points' difference, V"
    )
    parser.add_argument("--jobs", type=int, default=1, help="classification: processes")
    parser.add_argument(
        "--seeds",
        type=int,
        nargs="+",
        default=[0, 1, 2, 3, 4, 5],
        help="--board: emulated boards (seeds of their hidden variation)",
    )
    parser.add_argument("--settle-s", type=float, default=3.0)
    parser.add_argument(
        "--gain-rel",
        type=float,
        default=None,
        help="--board: spread of the free and clamped gains (lab(): 0.01)",
    )
    parser.add_argument(
        "--gain-scale",
        type=float,
        default=None,
        help="--board: mean amplifier gain relative to nominal",
    )
    parser.add_argument(
        "--bias",
        type=float,
        nargs=2,
        default=None,
        metavar=("MEAN", "SIGMA"),
        help="--board: learning bias per edge, V/s (lab(): 0.5 0.5)",
    )
    parser.add_argument(
        "--periods",
        type=float,
        nargs="+",
        default=[],
        help="--board: only these periods, s (of 0.0008 0.02 0.2 1.26 2)",
    )
    args = parser.parse_args()
    if args.board:
        variation = HiddenVariation.lab()
        if args.gain_rel is not None:
            variation = attrs.evolve(variation, gain_rel=args.gain_rel)
        if args.gain_scale is not None:
            variation = attrs.evolve(variation, gain_scale=args.gain_scale)
        if args.bias is not None:
            variation = attrs.evolve(
                variation, bias_mean_v_per_s=args.bias[0], bias_sigma_v_per_s=args.bias[1]
            )
        if args.task == "classification":
            policy = HingePolicy(margin_v=args.margin_v, label_v=args.label_v)
            classification(args.seeds, variation, args.periods, policy, args.jobs)
            return
        board(args.seeds, args.settle_s, variation, args.periods)
        return
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
