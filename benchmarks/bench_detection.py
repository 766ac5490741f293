"""Detection table of the shadow's detector: probability, delay and the right edge named, per
fault class and size, on calibrated emulated boards.

For each seed a board with typical hidden variation is calibrated once (as ``twin shadow
--calibrate``); each fault is injected into a fresh board with the same hidden variation (the
seed draws it first) at ``--fault-at``
s on an edge whose gate is off the rails then (a gate pinned at a rail cannot reveal a fault to a
passive watcher: such edges are counted, not faulted). The shadow runs ``--after`` s past the
fault. Reported per fault: detections (an alarm raised at or after the fault), median and worst
delay, how often the faulty edge is the first named, and alarms before the fault (false).

With ``--probe-every S`` the shadow also runs the active probe (:mod:`twin.shadow.probe`), with
``--node-every S`` the passive node check (:mod:`twin.shadow.node_watch`), and each class gets a
second row (either check's alarms): the probe's detections, delay, right edge first named and false
alarms before the fault, and how many runs either detector caught. ``--edges pinned`` faults an
edge pinned at a rail at the fault time instead (``both``: both sets, the pinned rows marked).

With ``--effect`` each run also measures the fault's effect: how far it moves its edge's true
gate from a twin board without the fault (same hidden board, same noise), within ``--within``
s and by the end; a second table gives detection against that effect, over every class.

Run: ``nice -n 10 python benchmarks/bench_detection.py --seeds 3 [--probe-every 0.5]
[--edges both] [--effect] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time

import numpy as np

from twin.board.inprocess import Fault, InProcessBoard, NodeFault
from twin.shadow.config import DRIVE_MARGINS, detector_hours
from twin.shadow.detector import FalseAlarmCurve, default_false_alarm_curve
from twin.shadow.diagnose import kind_of
from twin.shadow.node_test import free_nodes
from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator
from twin.shadow.shadow import Shadow, ShadowConfig

#: The runs record the detector's increments, so any level is evaluated afterwards: the one of
#: ``--false-alarm-hours`` on the stored curve, read when the runs are done.
PROVISIONAL = FalseAlarmCurve(
    log_rate0=0.0, decay_per_level=1.0, k=1.0, clip=50.0, every_s=0.01, fitted_range=(0, 0)
)


def first_crossing(trace: list[np.ndarray], times: list[float], level: float) -> list[tuple]:
    """(time, edges by CUSUM, largest first) of every crossing of ``level`` (sums restart)."""
    sums: np.ndarray | None = None
    out = []
    for t, step in zip(times, trace, strict=True):
        sums = np.maximum((sums if sums is not None else 0.0) + step, 0.0)
        if np.max(sums) > level:
            order = np.argsort(-sums)
            out.append((t, [int(e) for e in order if sums[e] > level]))
            sums = np.zeros_like(sums)
    return out


FAULTS = {
    "free gain x3": {"free_gain_factor": 3.0},
    "free gain x1.5": {"free_gain_factor": 1.5},
    "clamped gain x1.5": {"gain_factor": 1.5, "free_gain_factor": 1.0 / 1.5},
    "both gains x2": {"gain_factor": 2.0},
    "both gains x0.5": {"gain_factor": 0.5},
    "dead gate (gains x0)": {"gain_factor": 0.0},
    "threshold +0.1 V": {"threshold_shift_v": 0.1},
    "threshold +0.03 V": {"threshold_shift_v": 0.03},
    "leak tau 1 s": {"leak_tau_s": 1.0},
    "leak tau 10 s": {"leak_tau_s": 10.0},
    # a node ADC channel's offset (NodeFault on a free node drawn per seed; the edge rows'
    # "right edge" is then the right node, first named by the probe or the node check)
    "node ADC +20 mV": {"node_adc_offset_v": 0.02},
}


def _shadow(
    emu,
    result,
    fault: Fault | None,
    duration_s: float,
    seed: int,
    track: bool = True,
    probe_every_s: float | None = None,
    node_every_s: float | None = None,
    drive_margin: str = "fit",
    false_alarm_hours: float = 10.0,
) -> dict:
    sh = Shadow(
        InProcessBoard(emu, faults=[fault] if fault else []),
        ShadowConfig(
            false_alarm_hours=false_alarm_hours,
            track_drift=track,
            probe_every_s=probe_every_s,
            node_every_s=node_every_s,
            drive_margin=drive_margin,  # type: ignore[arg-type]  # argparse checked it
        ),
        rng=np.random.default_rng([seed, 3]),
        edges=result.edges,
        spread=result.spread,
        curve=default_false_alarm_curve(),  # live alarms (and their diagnosis) at the level
    )
    det = sh.detector
    det.trace = []
    times: list[float] = []
    update = det.update

    def timed(t_s, *args, **kwargs):
        n = len(det.trace or [])
        out = update(t_s, *args, **kwargs)
        if len(det.trace or []) > n:
            times.append(t_s)
        return out

    det.update = timed  # type: ignore[method-assign]
    sh.run(duration_s)
    sh.close()
    raised = [
        {"t_s": a.start_s, "edges": list(a.edges[:3]), "likely": list(a.likely)}
        for a in sh.monitor.alarms
    ]
    checks = [c for c in (sh.probe, sh.nodes) if c is not None]
    probed = (  # the active probe's and the node check's alarms (no check: no check rows)
        [
            {
                "t_s": a.start_s,
                "edges": list(a.edges[:3]),
                "nodes": list(a.nodes[:3]),
                "likely": list(a.likely),
            }
            for c in checks
            for a in c.alarms
        ]
        if checks
        else None
    )
    if probed is not None:
        probed.sort(key=lambda a: a["t_s"])
    return {
        "trace": det.trace,
        "times": times,
        "t0": sh.state.t_start_s or 0.0,
        "raised": raised,
        "probed": probed,
    }


def _effect(spec: EmulationSpec, fault: Fault, t_end_s: float, within_s: float) -> dict:
    """How far the fault moves its edge's true gate from where it would be without it, mV:
    the largest difference within ``within_s`` after the fault and up to ``t_end_s``.

    Two bare emulators of the same hidden board run frame by frame with the same calls; one
    gets the fault, the other an empty one at the same time (the same restart of its model),
    so the gate noise is the same draw and the difference is the fault's alone. A fault that
    moves no gate beyond the ADC's resolution cannot be seen by a passive watcher.
    """
    faulty, clean = make_emulator(spec), make_emulator(spec)
    for emu in (faulty, clean):
        emu.advance(fault.t_s)
    faulty.inject_fault(fault.edge, **dict(fault.changes))
    clean.inject_fault(fault.edge)
    early = late = 0.0
    while faulty.next_frame_s <= t_end_s + 1e-12:
        faulty.step()
        clean.step()
        d = abs(float(faulty.track.gates()[fault.edge] - clean.track.gates()[fault.edge]))
        late = max(late, d)
        if faulty.t_s <= fault.t_s + within_s + 1e-12:
            early = max(early, d)
    return {"effect_early_mv": 1e3 * early, "effect_mv": 1e3 * late}


#: Bins of a fault's effect on its gate (mV) for the table of detection against effect.
EFFECT_BINS_MV = (0.0, 5.0, 20.0, 50.0, 200.0, float("inf"))


def _effect_table(table: dict[str, list[dict]], within_s: float) -> None:
    """Detection against the fault's effect on its gate: within ``within_s`` (by the effect
    there) and by the end of the run (by the largest effect), over every class together."""
    rows = [r for rs in table.values() for r in rs if "effect_mv" in r]
    if not rows:
        return
    sys.stdout.write(
        f"detection against the fault's effect on its edge's true gate (every class; "
        f"'early': caught within {within_s:g} s, by the effect then)\n"
        "effect (mV)        early caught  95 % CI      by the end caught  95 % CI\n"
    )
    for lo_mv, hi_mv in itertools.pairwise(EFFECT_BINS_MV):
        early = [r for r in rows if lo_mv <= r["effect_early_mv"] < hi_mv]
        late = [r for r in rows if lo_mv <= r["effect_mv"] < hi_mv]
        ke = sum(r["detected"] and r["delay_s"] <= within_s + 1e-9 for r in early)
        kl = sum(r["detected"] for r in late)
        el, eh = _clopper_pearson(ke, len(early))
        ll, lh = _clopper_pearson(kl, len(late))
        sys.stdout.write(
            f"[{lo_mv:g}, {hi_mv:g})".ljust(18)
            + f" {ke:3d}/{len(early):<3d}      {el:.2f}-{eh:.2f}    {kl:3d}/{len(late):<3d}"
            f"            {ll:.2f}-{lh:.2f}\n"
        )


def _table(
    runs: dict[str, list[dict]], level: float, *, live: bool, label: str = "  + probe"
) -> dict[str, list[dict]]:
    """Print and return the detection table at ``level`` (the live alarms' signatures only at
    the level they ran at)."""
    table: dict[str, list[dict]] = {}
    sys.stdout.write(
        "fault                           detected  95 % CI      delay median/max (s)  right edge  "
        "false before  signature of the faulty edge (live alarm)\n"
    )
    for name, rs in runs.items():
        rows = []
        for r in rs:
            hits = first_crossing(r["trace"], r["times"], level)
            before = [h for h in hits if h[0] < r["t_fault"]]
            after = [h for h in hits if h[0] >= r["t_fault"]]
            rows.append(
                {
                    "seed": r["seed"],
                    "edge": r["edge"],
                    "false_before": len(before),
                    "detected": bool(after),
                    "delay_s": after[0][0] - r["t_fault"] if after else None,
                    "right_edge": bool(after) and after[0][1][0] == r["edge"],
                    "named": after[0][1][:4] if after else [],
                    "likely": _likely(r, r["edge"]) if live else None,
                    **_probe_row(r),
                    **{k: r[k] for k in ("effect_early_mv", "effect_mv") if k in r},
                }
            )
        n = len(rows)
        det = [r for r in rows if r["detected"]]
        delays = [r["delay_s"] for r in det]
        med = f"{np.median(delays):.3f}/{max(delays):.3f}" if delays else "-"
        right = sum(r["right_edge"] for r in rows)
        false = sum(r["false_before"] for r in rows)
        lo, hi = _clopper_pearson(len(det), n)
        kinds = _kinds(rows) if live else "-"
        sys.stdout.write(
            f"{name:30s} {len(det):3d}/{n:<3d}  {lo:.2f}-{hi:.2f}  {med:>20s}  "
            f"{right:3d}/{n:<3d}   {false}    {kinds}\n"
        )
        if rows and rows[0]["probe_run"]:
            sys.stdout.write(_probe_line(rows, label) + "\n")
        table[name] = rows
    return table


def _probe_row(run: dict) -> dict:
    """The probe's verdict on one run: detected (an alarm raised at or after the fault), delay,
    the faulty edge named first, probe alarms before the fault (false)."""
    probed = run.get("probed")
    if probed is None:
        return {"probe_run": False}
    after = [a for a in probed if a["t_s"] >= run["t_fault"]]
    return {
        "probe_run": True,
        "probe_detected": bool(after),
        "probe_delay_s": after[0]["t_s"] - run["t_fault"] if after else None,
        "probe_right_edge": bool(after)
        and (
            bool(after[0]["edges"]) and after[0]["edges"][0] == run["edge"]
            if run.get("node") is None
            else bool(after[0]["nodes"]) and after[0]["nodes"][0] == run["node"]
        ),
        "probe_false_before": len(probed) - len(after),
        "probe_likely": after[0]["likely"][:1] if after else [],
    }


def _probe_line(rows: list[dict], label: str) -> str:
    """One line: the probe's detections, delay, right edge, false alarms; and either detector's."""
    n = len(rows)
    det = [r for r in rows if r["probe_detected"]]
    delays = [r["probe_delay_s"] for r in det]
    med = f"{np.median(delays):.3f}/{max(delays):.3f}" if delays else "-"
    lo, hi = _clopper_pearson(len(det), n)
    either = sum(r["probe_detected"] or r["detected"] for r in rows)
    elo, ehi = _clopper_pearson(either, n)
    right = sum(r["probe_right_edge"] for r in rows)
    false = sum(r["probe_false_before"] for r in rows)
    return (
        f"{label:30s} {len(det):3d}/{n:<3d}  {lo:.2f}-{hi:.2f}  {med:>20s}  "
        f"{right:3d}/{n:<3d}   {false}    either detector {either}/{n} ({elo:.2f}-{ehi:.2f})"
    )


def _likely(run: dict, edge: int) -> str | None:
    """The live alarm's signature of the faulty edge (the first alarm after the fault naming
    it), e.g. ``gain``, ``drift``, ``stuck``, ``unexplained``; ``None`` if none named it."""
    for alarm in run.get("raised", []):
        if alarm["t_s"] < run["t_fault"] or edge not in alarm["edges"]:
            continue
        at = alarm["edges"].index(edge)
        return kind_of(alarm["likely"][at]) if at < len(alarm["likely"]) else "unknown"
    return None


def _kinds(rows: list[dict]) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        if r["likely"] is not None:
            counts[r["likely"]] = counts.get(r["likely"], 0) + 1
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])) or "-"


def _clopper_pearson(k: int, n: int) -> tuple[float, float]:
    """Exact two-sided 95 % interval of a detection probability from ``k`` of ``n``."""
    from scipy.stats import beta

    if n == 0:
        return 0.0, 1.0
    lo = float(beta.ppf(0.025, k, n - k + 1)) if k > 0 else 0.0
    hi = float(beta.ppf(0.975, k + 1, n - k)) if k < n else 1.0
    return lo, hi


def _label(name: str, where: str) -> str:
    """A fault class's row name: its name, with ``[pinned]`` for an edge pinned at a rail."""
    return name if where == "off" else f"{name} [pinned]"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=200)
    ap.add_argument("--fault-at", type=float, default=3.0)
    ap.add_argument("--after", type=float, default=1.0)
    ap.add_argument("--false-alarm-hours", type=float, default=10.0)
    ap.add_argument(
        "--faults",
        default=",".join(FAULTS),
        help=f"comma-separated fault classes (default all: {', '.join(FAULTS)})",
    )
    ap.add_argument(
        "--no-track", action="store_true", help="shadow without the online drift tracker"
    )
    ap.add_argument(
        "--also-levels",
        default="",
        help="comma-separated decision levels to tabulate besides the stored curve's",
    )
    ap.add_argument(
        "--probe-every",
        type=float,
        default=None,
        help="also run the active probe every this many board seconds (twin shadow "
        "--probe-every) and tabulate its detections beside the passive detector's",
    )
    ap.add_argument(
        "--node-every",
        type=float,
        default=None,
        help="also run the passive node check every this many board seconds (twin shadow "
        "--node-every); its detections join the probe's row",
    )
    ap.add_argument(
        "--edges",
        choices=("off", "pinned", "both"),
        default="off",
        help="fault edges off the rails (the passive detector's case), pinned at a rail, or both",
    )
    ap.add_argument(
        "--effect",
        action="store_true",
        help="also measure each fault's effect on its gate (a twin board without the fault "
        "beside it) and tabulate detection against it",
    )
    ap.add_argument(
        "--within",
        type=float,
        default=0.2,
        help="the delay, s, of the effect table's 'early' columns (the issue's 0.2 s)",
    )
    ap.add_argument(
        "--drive-margin",
        choices=DRIVE_MARGINS,
        default=ShadowConfig().drive_margin,
        help="the gross-drive margin (ShadowConfig.drive_margin): fit (DRIVE_SIGMAS sd of the net "
        "drive from the calibration's fitted gains' covariance) or flat (DRIVE_REL of the gross "
        "drive); default: the product's",
    )
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    for name in ("probe_every", "node_every"):
        every = getattr(args, name)
        if every is not None and not every > 0:
            ap.error(f"--{name.replace('_', '-')}: expected a number of seconds > 0")
    check_label = "  + " + " and ".join(
        label
        for label, every in (("probe", args.probe_every), ("node check", args.node_every))
        if every is not None
    )
    chosen = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = sorted(set(chosen) - set(FAULTS))
    if unknown:
        ap.error(f"--faults: unknown class(es) {unknown}; expected some of {list(FAULTS)}")
    sets = ["off", "pinned"] if args.edges == "both" else [args.edges]
    runs: dict[str, list[dict]] = {_label(name, where): [] for where in sets for name in chosen}
    pinned = []
    t0 = time.perf_counter()
    for i, seed in enumerate(range(args.first_seed, args.first_seed + args.seeds)):
        spec = EmulationSpec(seed=seed)
        result, _ = calibrate_emulator(make_emulator(spec), seed=seed)
        probe = make_emulator(spec)  # the same hidden board (drawn first from the seed), booted
        probe.advance(args.fault_at)
        gates = probe.track.gates()
        off = np.flatnonzero((gates > 1.2) & (gates < 5.3))
        pinned.append(int(gates.size - off.size))
        candidates = {"off": off, "pinned": np.flatnonzero((gates <= 1.2) | (gates >= 5.3))}
        for where in sets:
            rng = np.random.default_rng([seed, 99 if where == "off" else 98])
            for name, changes in FAULTS.items():
                # drawn for every class: the same edges whatever is run
                edge = int(rng.choice(candidates[where])) if candidates[where].size else -1
                label = _label(name, where)
                if label not in runs or edge < 0:
                    continue
                node = None
                fault: Fault | NodeFault
                if "node_adc_offset_v" not in changes:
                    fault = Fault(t_s=args.fault_at, edge=edge, changes=changes)
                else:
                    free = free_nodes(probe.task)
                    node = int(np.random.default_rng([seed, 97]).choice(free))
                    fault = NodeFault(
                        t_s=args.fault_at, node=node, offset_v=changes["node_adc_offset_v"]
                    )
                    edge = -1
                got = _shadow(
                    make_emulator(spec),
                    result,
                    fault,
                    args.fault_at + args.after,
                    seed,
                    track=not args.no_track,
                    probe_every_s=args.probe_every,
                    node_every_s=args.node_every,
                    drive_margin=args.drive_margin,
                    false_alarm_hours=args.false_alarm_hours,
                )
                effect = (  # a node fault moves no gate: no effect to measure
                    _effect(spec, fault, args.fault_at + args.after, args.within)
                    if args.effect and isinstance(fault, Fault)
                    else {}
                )
                runs[label].append(
                    {
                        "seed": seed,
                        "edge": edge,
                        "node": node,
                        "t_fault": got["t0"] + args.fault_at,
                        **got,
                        **effect,
                    }
                )
        eta = (time.perf_counter() - t0) / (i + 1) * (args.seeds - i - 1)
        sys.stderr.write(f"seed {seed} done; ETA {eta:.0f} s\n")
    curve = default_false_alarm_curve()
    share = detector_hours(  # the CUSUM's share of the shadow's budget, as the shadow ran
        ShadowConfig(
            false_alarm_hours=args.false_alarm_hours,
            probe_every_s=args.probe_every,
            node_every_s=args.node_every,
        ),
        calibrated=True,
    )
    level = curve.level(share)
    levels = [level, *(float(x) for x in args.also_levels.split(",") if x.strip())]
    out: dict = {"pinned_edges_at_fault_time": pinned, "level": level, "faults": {}}
    sys.stdout.write(f"edges pinned at a rail at {args.fault_at:g} s (per seed): {pinned}\n")
    for i, h in enumerate(levels):
        what = (
            f"the CUSUM's share, {share:g} board-hours per false alarm, of the shadow's "
            f"{args.false_alarm_hours:g}"
            if i == 0
            else "also"
        )
        sys.stdout.write(f"level {h:.1f} ({what})\n")
        table = _table(runs, h, live=i == 0, label=check_label)
        if args.effect:
            _effect_table(table, args.within)
        if i == 0:
            out["faults"] = table
        else:
            out.setdefault("also", {})[f"{h:g}"] = table
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
