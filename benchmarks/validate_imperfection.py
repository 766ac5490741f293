"""Issue 23: the emulated two-transistor network beside the measured floor and span, per point.

Configures the board emulator as the lab's small network of arXiv 2505.22887
(:func:`twin.board.clln.small_network_board`: measured bias, linear device, eta matched to the
measured curvature), trains it on tasks alpha and beta alternating every tau/2 until the cycle
is steady, and prints per measured period: the measured error floor and D^2, the emulated ones,
their ratio (emulated / measured) and the linearised model's (no rails). Target: every ratio
within a factor of 2. ``--quick`` runs 4 periods per experiment.

``--board``: the 4 x 4 board instead (``HiddenVariation.lab()``, eta 128/129, no ADC) in the lab's
regression cycle (``--cycle lab``, the default: two points of one regression alternating every
tau/2, :func:`twin.board.hinge.regression_cycle_tasks`, floor the lab's error of the output
difference) or two allostery tasks with different source and target nodes (``--cycle allostery``,
this benchmark's cycle before 2026-12-07, floor their error per target node), printing per period
the cycle span summed over the 32 edges, the span as the Euclidean norm over the edges (the lab's D:
``DELTAG`` in its ``ExperimentGroup.m`` is ``sqrt(mean over pairs of sum over edges of dG^2)``, from
the gate readings half a period apart) and the error floor: median [min, max] over the boards
(``--seeds``, default 0-5) beside the lab's numbers, the span on the way to the steady cycle (per
board, stderr) and, where the emulated span is below the lab's, the read noise per gate reading that
would lift it there; then one table of every number (``--task both``: regression and
classification). ``--from-log FILE ...`` prints that table from the per-board lines (stderr) of
earlier runs. Run: ``nice -n 10 python benchmarks/validate_imperfection.py [--quick | --board
[--task regression|classification|both] [--jobs N] [--seeds S ...] [--gain-rel R] [--gain-scale K]
[--bias MEAN SIGMA] [--periods TAU ...] [--class-periods TAU ...] [--from-log FILE ...]]``.

Measurements: ``docs/imperfection-measurements.md`` (the record, newest first).

``--board --task classification [--jobs N] [--margin-v M] [--label-v L]``: the lab's
classification cycle instead (:func:`twin.board.hinge.grid_classifier_tasks`: its class-0 and
class-1 points alternating every tau/2, hinge with margin and label 63 mV, eta ramped 32 -> 128
/ 129 over 3 s), periods 0.02 0.12 0.5 2 5 s: span beside the lab's 4.9 V/s x tau, hinge floor
beside its 1.15e-3 V^2 (up to 0.12 s) and 2.8e-3 (from 5 s).
"""

from __future__ import annotations

import argparse
import math
import re
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
    difference_error_v2,
    free_outputs_at_v,
    grid_classifier_tasks,
    hinge_error_v2,
    regression_cycle_tasks,
)
from twin.board.variation import Adc, HiddenVariation
from twin.physics.network_io import network_from_spec
from twin.simulation.schedule import EtaRamp, Schedule

QUICK_TAUS = (0.002, 0.02, 0.2, 2.0)


def _fmt(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:.3g}"


#: The lab's 4 x 4 board (issue 23): period (s) -> (span summed over edges, V; floor, V^2);
#: ``None`` where the lab gives no number at that period. 5 and 10 s (``--periods``): the floor
#: "about 5e-3 from 5 s" and the span "saturating near 11 V".
BOARD_LAB: dict[float, tuple[float | None, float | None]] = {
    0.0008: (5.8e-3, 4e-5),
    0.02: (0.075, 4e-5),
    0.2: (0.57, 6.5e-5),
    1.26: (None, 7e-4),
    2.0: (4.6, None),
    5.0: (None, 5e-3),
    10.0: (11.0, 5e-3),
}
#: Periods ``--board`` runs unless ``--periods`` names others (the long ones cost the most).
BOARD_DEFAULT_PERIODS = (0.0008, 0.02, 0.2, 1.26, 2.0)


@attrs.frozen
class BoardPoint:
    """One emulated board's steady cycle at one period."""

    d_sum_v: float  #: span summed over edges, V
    floor_v2: float  #: error floor, V^2
    cycles: int  #: cycles run
    trace: tuple[tuple[int, float], ...]  #: (cycle, span summed over edges, V) on the way
    d_edges_v: np.ndarray  #: per-edge span |G(tau/2) - G(0)|, V

    @property
    def d_norm_v(self) -> float:
        """The span as the lab computes its D (``DELTAG``): the Euclidean norm, V."""
        return float(np.sqrt(np.sum(np.square(self.d_edges_v))))


#: The regression cycles ``--cycle`` offers: the lab's (two points of one regression) or two
#: allostery tasks with different sources and targets (this benchmark's cycle before 2026-12-07).
CYCLES = ("lab", "allostery")


def board_point(seed: int, tau_s: float, variation: HiddenVariation, settle_s: float,
                cycle: str = "lab") -> BoardPoint:  # fmt: skip
    """One emulated 4 x 4 board's steady cycle (span, floor, cycles, the span on the way).

    ``cycle`` ``lab``: the lab's regression cycle (two points of one regression,
    :func:`~twin.board.hinge.regression_cycle_tasks`), its floor the lab's error of the output
    difference; ``allostery``: two allostery tasks, the
    floor their mean squared error per target node."""
    if cycle == "lab":
        a, b = regression_cycle_tasks(network_from_spec("lattice:4x4:periodic"))
    else:
        a, b = default_board_task(seed=2), default_board_task(seed=5)
    config = EmulatorConfig(variation=variation, rate_hz=1 / tau_s,
                            node_adc=Adc(bits=0), gate_adc=Adc(bits=0))  # fmt: skip
    emu = BoardEmulator(config, rng=np.random.default_rng(seed))
    emu.follow_schedule(Schedule(tasks=[a, b], period_s=tau_s, eta=EtaRamp.constant(128 / 129),
                                 duration_s=1e5 * tau_s))  # fmt: skip
    # At most 20000 cycles and 200 s of board time (a long period may never settle to 1e-3).
    max_cycles = min(20_000, max(40, math.ceil(200.0 / tau_s)))
    every = max(1, max_cycles // 10)
    trace: list[tuple[int, float]] = []

    def follow(k: int, start: np.ndarray, half: np.ndarray) -> None:
        if k % every == 0:
            trace.append((k, float(np.abs(half - start).sum())))

    start, half, k = settle_cycle(emu, tau_s, settle_s=settle_s, max_cycles=max_cycles,
                                  on_cycle=follow)  # fmt: skip
    if cycle == "lab":
        err = float(np.mean([difference_error_v2(free_outputs_at_v(emu.edges.device, g, t),
                                                 t.train.outputs)
                             for t in (a, b) for g in (start, half)]))  # fmt: skip
    else:
        err = cycle_error_v2(emu, [a, b], [start, half])
    d_edges = np.abs(half - start)
    way = ", ".join(f"{i}: {d:.3g}" for i, d in trace)
    sys.stderr.write(f"  tau {tau_s:g} s, seed {seed}: D_sum {d_edges.sum():.3g} V, "
                     f"D_norm {np.sqrt(np.sum(d_edges**2)):.3g} V, floor "
                     f"{err:.3g} V^2, {k} cycles; span on the way (cycle: V) {way}\n")  # fmt: skip
    sys.stderr.flush()
    return BoardPoint(float(d_edges.sum()), err, k, tuple(trace), d_edges)


def read_noise_to_reach(d_edges_v: np.ndarray, target_v: float) -> float:
    """The read noise per gate reading (V, Gaussian) that lifts the expected span summed over
    edges, each edge's span the difference of two readings, from ``d_edges_v`` to ``target_v``
    (bisection; ``nan`` if the span is already above the target)."""

    def expected(sigma: float) -> float:
        s = math.sqrt(2.0) * sigma  # the difference of two readings
        if s == 0:
            return float(d_edges_v.sum())
        return sum(s * math.sqrt(2 / math.pi) * math.exp(-(x * x) / (2 * s * s))
                   + x * math.erf(x / (s * math.sqrt(2))) for x in d_edges_v)  # fmt: skip

    if expected(0.0) >= target_v:
        return math.nan
    lo, hi = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if expected(mid) < target_v else (lo, mid)
    return 0.5 * (lo + hi)


#: The lab's 4 x 4 board in classification (issue 23): span rate D / tau (V/s) and hinge error
#: floor (V^2) per period (s); ``None`` where the lab gives no number at that period.
CLASS_SPAN_RATE_V_PER_S = 4.9
CLASS_FLOOR_LAB: dict[float, float | None] = {0.02: 1.15e-3, 0.12: 1.15e-3, 0.5: None, 2.0: None,
                                              5.0: 2.8e-3}  # fmt: skip


def classification_point(
    seed: int, tau_s: float, variation: HiddenVariation, policy: HingePolicy
) -> tuple[float, float, int, float]:
    """One 4 x 4 board's hinge cycle: span summed over edges (V), hinge floor (V^2), cycles,
    span as the Euclidean norm over edges (V).

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
    d = np.abs(half - start)
    sys.stderr.write(f"  classification tau {tau_s:g} s, seed {seed}: D_sum {d.sum():.3g} V, "
                     f"D_norm {np.sqrt(np.sum(d**2)):.3g} V, hinge floor "
                     f"{np.mean(errors):.3g} V^2, {k} cycles\n")  # fmt: skip
    sys.stderr.flush()
    return float(d.sum()), float(np.mean(errors)), k, float(np.sqrt(np.sum(d**2)))


def classification(seeds: list[int], variation: HiddenVariation, periods: list[float],
                   policy: HingePolicy, jobs: int) -> list[Row]:  # fmt: skip
    """The 4 x 4 board's classification span and hinge floor per period over ``seeds``.

    Prints the median [min, max] over seeds beside the lab's (span: 4.9 V/s x tau); returns the
    table's rows (:data:`Row`).
    """
    print(f"variation: {variation}\npolicy: {policy}\nseeds: {seeds}")
    print("tau_s   D_sum median [min, max] / lab (ratio), V   "
          "hinge floor median [min, max] / lab (ratio), V^2   D/tau (V/s)   cycles")  # fmt: skip
    taus = periods or list(CLASS_FLOOR_LAB)
    args = [(s, tau, variation, policy) for tau in taus for s in seeds]
    rows: list[Row] = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = pool.map(classification_point, *zip(*args, strict=True))
        for tau in taus:
            points = [next(results) for _ in seeds]
            d_values, f_values = [p[0] for p in points], [p[1] for p in points]
            d_text, _ = _spread_text(d_values, CLASS_SPAN_RATE_V_PER_S * tau)
            f_text, _ = _spread_text(f_values, CLASS_FLOOR_LAB.get(tau))
            rows.append(("classification span summed over edges (4.9 V/s x tau), V", tau,
                         CLASS_SPAN_RATE_V_PER_S * tau, d_values))  # fmt: skip
            rows.append(("classification span D = norm (4.9 V/s x tau), V", tau,
                         CLASS_SPAN_RATE_V_PER_S * tau, [p[3] for p in points]))  # fmt: skip
            floor_lab = CLASS_FLOOR_LAB.get(tau)
            if floor_lab is not None:
                rows.append(("classification hinge floor, V^2", tau, floor_lab, f_values))
            rate = float(np.median(d_values)) / tau
            cycles = int(np.median([p[2] for p in points]))
            print(f"{tau:7.4f}  {d_text}   {f_text}   {rate:.3g}   {cycles}", flush=True)
    return rows


#: One number of the issue's table: (quantity, period s, the lab's value, emulated per board).
Row = tuple[str, float, float, list[float]]


def print_table(rows: list[Row]) -> float:
    """The rows as one markdown table (median [min, max] over boards, ratio of the median to the
    lab's); returns the worst factor between a median and the lab's number."""
    print("\n| quantity | tau (s) | lab | emulated median [min, max] | ratio |")
    print("|---|---|---|---|---|")
    worst = 1.0
    for name, tau, lab, values in rows:
        med = float(np.median(values))
        ratio = med / lab
        worst = max(worst, ratio, 1 / ratio)
        flag = "" if 0.5 <= ratio <= 2 else " (outside 2x)"
        print(f"| {name} | {tau:g} | {lab:.3g} | {med:.3g} [{min(values):.3g}, "
              f"{max(values):.3g}] | {ratio:.2f}x{flag} |")  # fmt: skip
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
          periods: list[float], jobs: int = 1, cycle: str = "lab") -> list[Row]:  # fmt: skip
    """The 4 x 4 board's span and floor per period over ``seeds``, beside the lab's.

    Prints the median [min, max] over seeds and the median's ratio to the lab's number, the span
    rate D / tau, and the span on the way to the steady cycle (median over boards, at a tenth,
    half and all of the cycles); at a period where the emulated span is below the lab's, the
    read noise per gate reading that would lift it to the lab's. Returns the table's rows.
    """
    print(f"variation: {variation}\nseeds: {seeds}\nregression cycle: {cycle}")
    print("tau_s   D_sum median [min, max] / lab (ratio), V   "
          "floor median [min, max] / lab (ratio), V^2   D/tau (V/s)   cycles (median)")  # fmt: skip
    taus = [tau for tau in BOARD_LAB if tau in (periods or BOARD_DEFAULT_PERIODS)]
    args = [(s, tau, variation, settle_s, cycle) for tau in taus for s in seeds]
    rows: list[Row] = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = pool.map(board_point, *zip(*args, strict=True))
        for tau in taus:
            d_lab, floor_lab = BOARD_LAB[tau]
            points: list[BoardPoint] = [next(results) for _ in seeds]
            d_values = [p.d_sum_v for p in points]
            f_values = [p.floor_v2 for p in points]
            d_text, d_ratio = _spread_text(d_values, d_lab)
            f_text, _ = _spread_text(f_values, floor_lab)
            if d_lab is not None:
                name = "regression span (saturation)" if tau >= 10 else "regression span"
                rows.append((name + " summed over edges, V", tau, d_lab, d_values))
                rows.append((name + " D = norm, V", tau, d_lab, [p.d_norm_v for p in points]))
            if floor_lab is not None:
                rows.append(("regression floor, V^2", tau, floor_lab, f_values))
            cycles = int(np.median([p.cycles for p in points]))
            rate = float(np.median(d_values)) / tau
            print(f"{tau:7.4f}  {d_text}   {f_text}   {rate:.3g}   {cycles}", flush=True)
            first = np.median([p.trace[0][1] / p.d_sum_v for p in points if p.trace])
            print(f"         span at the first traced cycle (a tenth of the most cycles) / final, "
                  f"median: {first:.3f}", flush=True)  # fmt: skip
            norms = [p.d_norm_v for p in points]
            n_text = _spread_text(norms, d_lab)[0]
            print(f"         D = norm over edges (the lab's DELTAG): {n_text}; D_sum / D_norm "
                  f"{np.median(np.divide(d_values, norms)):.2f}", flush=True)  # fmt: skip
            if d_lab is not None and d_ratio is not None and d_ratio < 1:
                noise = [read_noise_to_reach(p.d_edges_v, d_lab) for p in points]
                print(f"         read noise per gate reading lifting the summed span to the lab's:"
                      f" {np.nanmedian(noise) * 1e3:.3g} mV [{np.nanmin(noise) * 1e3:.3g}, "
                      f"{np.nanmax(noise) * 1e3:.3g}] (boards below the lab's)",
                      flush=True)  # fmt: skip
            if d_lab is not None and float(np.median(norms)) < d_lab:
                # a Gaussian read error sigma adds 2 sigma^2 per edge to the squared norm
                noise = [math.sqrt(max(d_lab**2 - n**2, 0.0) / (2 * len(p.d_edges_v)))
                         for n, p in zip(norms, points, strict=True)]  # fmt: skip
                print(f"         read noise per gate reading lifting the norm to the lab's: "
                      f"{np.median(noise) * 1e3:.3g} mV [{min(noise) * 1e3:.3g}, "
                      f"{max(noise) * 1e3:.3g}]", flush=True)  # fmt: skip
    return rows


_LOG_LINE = re.compile(
    r"^\s*(classification )?tau ([0-9.e+-]+) s, seed (\d+): D_sum ([0-9.e+-]+) V, "
    r"D_norm ([0-9.e+-]+) V, (?:hinge )?floor ([0-9.e+-]+) V\^2"
)


def table_from_logs(paths: list[str], seeds: list[int]) -> list[Row]:
    """The table's rows from the per-board lines (stderr) of earlier ``--board`` runs, for the
    boards ``seeds`` (each period's boards as logged; the emulator is seeded, so a run repeats
    them bit for bit)."""
    reg: dict[float, dict[int, tuple[float, float, float]]] = {}
    cls: dict[float, dict[int, tuple[float, float, float]]] = {}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            for line in f:
                m = _LOG_LINE.match(line)
                if m and int(m[3]) in seeds:
                    into = cls if m[1] else reg
                    into.setdefault(float(m[2]), {})[int(m[3])] = (
                        float(m[4]), float(m[5]), float(m[6]))  # fmt: skip
    rows: list[Row] = []
    for tau, (d_lab, floor_lab) in BOARD_LAB.items():
        got = list(reg.get(tau, {}).values())
        if not got:
            continue
        name = "regression span (saturation)" if tau >= 10 else "regression span"
        if d_lab is not None:
            rows.append((name + " summed over edges, V", tau, d_lab, [g[0] for g in got]))
            rows.append((name + " D = norm, V", tau, d_lab, [g[1] for g in got]))
        if floor_lab is not None:
            rows.append(("regression floor, V^2", tau, floor_lab, [g[2] for g in got]))
    for tau in sorted(cls):
        got = list(cls[tau].values())
        lab = CLASS_SPAN_RATE_V_PER_S * tau
        rows.append(("classification span summed over edges (4.9 V/s x tau), V", tau, lab,
                     [g[0] for g in got]))  # fmt: skip
        rows.append(("classification span D = norm (4.9 V/s x tau), V", tau, lab,
                     [g[1] for g in got]))  # fmt: skip
        floor_lab = CLASS_FLOOR_LAB.get(tau)
        if floor_lab is not None:
            rows.append(("classification hinge floor, V^2", tau, floor_lab, [g[2] for g in got]))
    for name, tau, _, values in rows:
        if len(values) != len(seeds):
            sys.stderr.write(f"note: {name} at {tau:g} s has {len(values)} of {len(seeds)} "
                             "boards in the logs\n")  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="4 periods per experiment")
    parser.add_argument("--experiments", nargs="+", default=["exp1", "exp2"])
    parser.add_argument("--board", action="store_true", help="the 4 x 4 board's scalings")
    parser.add_argument(
        "--task",
        choices=["regression", "classification", "both"],
        default="regression",
        help="--board: two alternating regression tasks, two classifiers trained with a hinge, "
        "or both (one table of every number of the issue)",
    )
    parser.add_argument(
        "--cycle",
        choices=CYCLES,
        default="lab",
        help="--board regression: the lab's two-point regression cycle or two allostery tasks",
    )
    parser.add_argument(
        "--margin-v", type=float, default=LAB_MARGIN_V, help="classification: margin, V"
    )
    parser.add_argument(
        "--label-v", type=float, default=None, help="classification: nudged points' difference, V"
    )
    parser.add_argument("--jobs", type=int, default=1, help="--board: processes")
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
        help="--board: only these periods, s (regression: of 0.0008 0.02 0.2 1.26 2 5 10, "
        "default all but 5 and 10)",
    )
    parser.add_argument(
        "--class-periods",
        type=float,
        nargs="+",
        default=[],
        help="--board --task both: the classification's periods, s (default 0.02 0.12 0.5 2 5)",
    )
    parser.add_argument(
        "--from-log",
        nargs="+",
        default=[],
        metavar="FILE",
        help="--board: print the table from the per-board lines (stderr) of earlier runs",
    )
    args = parser.parse_args()
    if args.board and args.from_log:
        print_table(table_from_logs(args.from_log, args.seeds))
        return
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
        policy = HingePolicy(margin_v=args.margin_v, label_v=args.label_v)
        table: list[Row] = []
        t0 = time.perf_counter()
        if args.task in ("regression", "both"):
            table += board(args.seeds, args.settle_s, variation, args.periods, args.jobs,
                           args.cycle)  # fmt: skip
        if args.task == "classification":
            table += classification(args.seeds, variation, args.periods, policy, args.jobs)
        if args.task == "both":
            table += classification(args.seeds, variation, args.class_periods, policy, args.jobs)
        print_table(table)
        print(f"{time.perf_counter() - t0:.0f} s wall")
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
