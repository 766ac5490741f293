"""Issue 23: the emulated two-transistor network beside the measured floor and span, per point.

Configures the board emulator as the lab's small network of arXiv 2505.22887
(:func:`twin.board.clln.small_network_board`: measured bias, linear device, eta matched to the
measured curvature), trains it on tasks alpha and beta alternating every tau/2 until the cycle
is steady, and prints per measured period: the measured error floor and D^2, the emulated ones,
their ratio (emulated / measured) and the linearised model's (no rails). Target: every ratio
within a factor of 2. ``--quick`` runs 4 periods per experiment.

``--board``: the 4 x 4 board instead (``HiddenVariation.lab()``, eta 128/129, no ADC) in the lab's
regression cycle (``--cycle lab``, the default: its two training points alternating every tau/2,
:func:`twin.board.hinge.regression_cycle_tasks`, from its run files; floor the lab's error of the
output difference) or two allostery tasks with different source and target nodes (``--cycle
allostery``, this benchmark's cycle before 2026-12-07, floor their error per target node). Per
period (``--periods``: any of the lab's measured periods, default 0.8 ms, 20 ms, 0.2 s, 1.262 s,
2 s) it prints the cycle span D, the Euclidean norm over the 32 edges of ``|G(tau/2) - G(0)|``, and
the error floor: median [min, max] over the boards (``--seeds``, default 0-5) beside the median of
the lab's replicates at that period (``twin/data/clln/lab-regression-curves.csv``, one row per run
file: 3 replicates up to 20 ms, 1 above), the lab's replicates, the span summed over edges, the
span on the way to the steady cycle (per board, stderr) and, where the emulated D is below the
lab's, the read noise per gate reading that would lift it there; then one table of every number
(``--task both``: regression and classification). ``--from-log FILE ...`` prints that table from
the per-board lines (stderr) of earlier runs. Run: ``nice -n 10 python
benchmarks/validate_imperfection.py [--quick | --board [--task regression|classification|both]
[--jobs N] [--seeds S ...] [--gain-rel R] [--gain-scale K] [--bias MEAN SIGMA]
[--soft-wall WIDTH_V] [--periods TAU ...] [--class-periods TAU ...] [--from-log FILE ...]]``.

Measurements: ``docs/imperfection-measurements.md`` (the record, newest first).

``--board --task classification [--jobs N] [--margin-v M] [--label-v L]``: the lab's
classification cycle instead (:func:`twin.board.hinge.grid_classifier_tasks`: its class-0 and
class-1 points alternating every tau/2, hinge with margin and label 63 mV, eta ramped 32 -> 128
/ 129 over 3 s), periods 0.02 0.12 0.5 2 5 s: span beside the lab's 4.9 V/s x tau, hinge floor
beside its 1.15e-3 V^2 (up to 0.12 s) and 2.8e-3 (from 5 s).
"""

from __future__ import annotations

import argparse
import csv
import math
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from importlib import resources

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


@attrs.frozen
class LabCycle:
    """The lab's regression cycle at one period: its replicates' floor and span."""

    tau_s: float
    floors_v2: tuple[float, ...]  #: the error floor per replicate, V^2
    spans_v: tuple[float, ...]  #: the span D (Euclidean norm over the 32 edges) per replicate, V

    @property
    def floor_v2(self) -> float:
        return float(np.median(self.floors_v2))

    @property
    def span_v(self) -> float:
        return float(np.median(self.spans_v))


def lab_regression_curves() -> dict[float, LabCycle]:
    """The lab's measured regression cycle per period (``twin/data/clln/lab-regression-curves.csv``,
    one row per run file, provenance in the folder's README): floor and span per replicate."""
    ref = resources.files("twin") / "data" / "clln" / "lab-regression-curves.csv"
    rows = list(csv.DictReader(ref.read_text().splitlines()))
    taus = sorted({float(r["tau_s"]) for r in rows})
    return {
        tau: LabCycle(
            tau_s=tau,
            floors_v2=tuple(float(r["floor_v2"]) for r in rows if float(r["tau_s"]) == tau),
            spans_v=tuple(float(r["span_norm_v"]) for r in rows if float(r["tau_s"]) == tau),
        )
        for tau in taus
    }


BOARD_LAB = lab_regression_curves()
#: Periods ``--board`` runs unless ``--periods`` names others (the long ones cost the most).
BOARD_DEFAULT_PERIODS = (0.0008, 0.02, 0.2, 1.262, 2.0)


def lab_period(tau_s: float) -> float:
    """The lab's measured period within 2 % of ``tau_s``; exits naming them if none."""
    near = [t for t in BOARD_LAB if abs(t - tau_s) <= 0.02 * t]
    if not near:
        sys.exit(
            f"--periods: {tau_s:g} s is not a measured period ({', '.join(map(str, BOARD_LAB))})"
        )
    return near[0]


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


def gate_census(start: np.ndarray, half: np.ndarray) -> str:
    """Where a steady cycle's gates sit: still at a rail (within 10 mV of 1.0 / 5.5 V, moving
    under 0.1 mV over the half period), moving more than 0.1 mV, in the lab's bands (1.0-1.4 V,
    4.7-5.2 V at the cycle's start)."""
    moved = np.abs(half - start)
    still = moved < 1e-4
    low = still & (np.minimum(start, half) < 1.01)
    high = still & (np.maximum(start, half) > 5.49)
    bands = ((start >= 1.0) & (start <= 1.4)) | ((start >= 4.7) & (start <= 5.2))
    return (f"{int(low.sum() + high.sum())} still at a rail ({int(high.sum())} at 5.5 V), "
            f"{int((~still).sum())} moving > 0.1 mV, {int(bands.sum())} in the lab's bands, "
            f"{int((start > 5.2).sum())} above 5.2 V, max {float(start.max()):.3f} V")  # fmt: skip


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
    sys.stderr.write(f"    gates: {gate_census(start, half)}\n")
    sys.stderr.flush()
    return BoardPoint(float(d_edges.sum()), err, k, tuple(trace), d_edges)


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

    Prints the span D (norm over the edges) and the floor, median [min, max] over seeds, beside
    the median of the lab's replicates at that period (:func:`lab_regression_curves`) and the
    ratio, the span rate D / tau, the lab's replicates, the span summed over edges, the span on
    the way to the steady cycle; at a period where the emulated span is below the lab's, the read
    noise per gate reading that would lift it to the lab's. Returns the table's rows.
    """
    print(f"variation: {variation}\nseeds: {seeds}\nregression cycle: {cycle}")
    print("tau_s   D (norm) median [min, max] / lab (ratio), V   "
          "floor median [min, max] / lab (ratio), V^2   D/tau (V/s)   cycles (median)")  # fmt: skip
    taus = [lab_period(t) for t in (periods or BOARD_DEFAULT_PERIODS)]
    args = [(s, tau, variation, settle_s, cycle) for tau in taus for s in seeds]
    rows: list[Row] = []
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = pool.map(board_point, *zip(*args, strict=True))
        for tau in taus:
            lab = BOARD_LAB[tau]
            points: list[BoardPoint] = [next(results) for _ in seeds]
            norms = [p.d_norm_v for p in points]
            f_values = [p.floor_v2 for p in points]
            rows.append(("regression span D (norm over edges), V", tau, lab.span_v, norms))
            rows.append(("regression floor, V^2", tau, lab.floor_v2, f_values))
            cycles = int(np.median([p.cycles for p in points]))
            rate = float(np.median(norms)) / tau
            print(f"{tau:7.4f}  {_spread_text(norms, lab.span_v)[0]}   "
                  f"{_spread_text(f_values, lab.floor_v2)[0]}   {rate:.3g}   {cycles}",
                  flush=True)  # fmt: skip
            print(f"         lab's replicates: D {', '.join(f'{x:.3g}' for x in lab.spans_v)} V; "
                  f"floor {', '.join(f'{x:.3g}' for x in lab.floors_v2)} V^2; emulated span "
                  f"summed over edges {_spread_text([p.d_sum_v for p in points], None)[0]}",
                  flush=True)  # fmt: skip
            traced = [p.trace[0][1] / p.d_sum_v for p in points if p.trace]
            if traced:
                print(f"         span at the first traced cycle (a tenth of the most cycles) / "
                      f"final, median: {np.median(traced):.3f}", flush=True)  # fmt: skip
            if float(np.median(norms)) < lab.span_v:
                # a Gaussian read error sigma adds 2 sigma^2 per edge to the squared norm
                noise = [math.sqrt(max(lab.span_v**2 - n**2, 0.0) / (2 * len(p.d_edges_v)))
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
    for logged in sorted(reg):
        got = list(reg[logged].values())
        lab = BOARD_LAB[lab_period(logged)]
        rows.append(("regression span D (norm over edges), V", lab.tau_s, lab.span_v,
                     [g[1] for g in got]))  # fmt: skip
        rows.append(("regression floor, V^2", lab.tau_s, lab.floor_v2, [g[2] for g in got]))
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
        "--soft-wall",
        type=float,
        default=None,
        metavar="WIDTH_V",
        help="--board: soft wall of this width at each gate rail, V (lab(): 0, hard rails)",
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
        if args.soft_wall is not None:
            variation = attrs.evolve(variation, soft_wall_v=args.soft_wall)
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
