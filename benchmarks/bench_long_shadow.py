"""One long, continuous shadow of a slowly drifting board: false alarms, drift tracked, memory.

The short fault-free runs of ``bench_false_alarms.py`` and ``bench_probe.py`` (one or two board
minutes per seed) cannot show what an hour-long shadow does: the online tracker following a board
whose gains and thresholds wander (:func:`twin.board.drift.slow_drift`), an edge that doubts
and stops teaching the tracker (lock-in), memory that grows with the run. Here one board (typical
hidden variation, calibrated as ``twin shadow --calibrate``) drifts at ``--gain-rel-per-hour``
and ``--threshold-v-per-hour`` (standard deviations per edge; the defaults are
:class:`~twin.board.drift.SlowDrift`'s) and is shadowed without a break for ``--duration``
board seconds, with the gates' detector and the passive node check (``--node-every``).

Every ``--every`` board seconds one JSON line goes to ``--out`` (and a line with an ETA to
stderr): board time, the alarms so far by source (every one is false: no fault is injected),
the detector's largest score, the node check's tests and largest score, the tracker's gain and
drift spread over edges, the process's resident memory and CPU time. An interrupted run keeps
its lines.

Run: ``nice -n 5 python benchmarks/bench_long_shadow.py --seed 950 --duration 3600
--out long.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np

from twin.board.drift import SlowDrift, slow_drift
from twin.board.inprocess import InProcessBoard
from twin.shadow.config import DRIVE_MARGINS
from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator
from twin.shadow.shadow import Shadow, ShadowConfig


def _rss_mb() -> float:
    """Resident memory now, MB (Linux /proc; the peak from getrusage elsewhere)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * resource.getpagesize() / 2**20
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=950)
    ap.add_argument("--duration", type=float, default=3600.0, help="board seconds shadowed")
    ap.add_argument("--every", type=float, default=60.0, help="board seconds between lines")
    ap.add_argument("--node-every", type=float, default=0.25, help="node check period, s (0: off)")
    ap.add_argument("--gain-rel-per-hour", type=float, default=SlowDrift().gain_rel_per_hour)
    ap.add_argument("--threshold-v-per-hour", type=float, default=SlowDrift().threshold_v_per_hour)
    ap.add_argument("--false-alarm-hours", type=float, default=10.0)
    ap.add_argument(
        "--drive-margin",
        choices=DRIVE_MARGINS,
        default=ShadowConfig().drive_margin,
        help="the gross-drive margin (ShadowConfig.drive_margin): fit (from the calibration's "
        "fitted gains' covariance, twin.shadow.drive_margin) or flat (DRIVE_REL); default: the "
        "product's",
    )
    ap.add_argument("--out", required=True, help="JSON lines, one per --every board seconds")
    args = ap.parse_args(argv)
    if not (args.duration > 0 and args.every > 0 and args.node_every >= 0):
        ap.error("--duration and --every must be > 0, --node-every >= 0")
    spec = EmulationSpec(seed=args.seed)
    result, _ = calibrate_emulator(make_emulator(spec), seed=args.seed)
    emu = make_emulator(spec)
    emu.boot(0.0)
    drift = SlowDrift(
        gain_rel_per_hour=args.gain_rel_per_hour,
        threshold_v_per_hour=args.threshold_v_per_hour,
    )
    faults = slow_drift(
        emu.task.network.n_edges,
        duration_s=args.duration + args.every,
        drift=drift,
        rng=np.random.default_rng([args.seed, 11]),
    )
    sh = Shadow(
        InProcessBoard(emu, faults=faults),
        ShadowConfig(
            false_alarm_hours=args.false_alarm_hours,
            node_every_s=args.node_every or None,
            drive_margin=args.drive_margin,
        ),
        rng=np.random.default_rng([args.seed, 3]),
        edges=result.edges,
        spread=result.spread,
    )
    det, peak = sh.detector, [0.0]
    update = det.update

    def scored(*a, **k):  # the largest score over the run (CUSUM over the level, any edge)
        out = update(*a, **k)
        if out is not None and out.size:
            peak[0] = max(peak[0], float(np.max(out)))
        return out

    det.update = scored  # type: ignore[method-assign]
    t0, c0 = time.perf_counter(), time.process_time()
    with open(args.out, "a") as fh:
        done = 0.0
        while done < args.duration - 1e-9:
            done = min(done + args.every, args.duration)
            summary = sh.run(done)
            row = _row(sh, summary, args, done, time.perf_counter() - t0, time.process_time() - c0)
            row["score_max"] = peak[0]
            fh.write(json.dumps(row) + "\n")
            fh.flush()
            wall = time.perf_counter() - t0
            eta = wall / done * (args.duration - done)
            sys.stderr.write(
                f"board {done:7.0f} s: alarms {row['alarms']} (gates {row['gate_alarms']}, "
                f"nodes {row['node_alarms']}), score max {row['score_max']:.2f}, "
                f"RSS {row['rss_mb']:.0f} MB; ETA {eta:.0f} s\n"
            )
    sh.close()
    return 0


def _row(
    sh: Shadow, summary: dict, args: argparse.Namespace, board_s: float, wall: float, cpu: float
) -> dict:
    alarms = list(sh.alarms)
    nodes = summary.get("nodes") if isinstance(summary.get("nodes"), dict) else {}
    tracker = sh.watch.tracker
    gains = drifts = None
    if tracker is not None:
        gains = np.asarray(tracker.gain, dtype=float)
        drifts = np.asarray(tracker.drift_v_per_s, dtype=float)
    return {
        "seed": args.seed,
        "drive_margin": args.drive_margin,
        "board_s": board_s,
        "gain_rel_per_hour": args.gain_rel_per_hour,
        "threshold_v_per_hour": args.threshold_v_per_hour,
        "alarms": len(alarms),
        "gate_alarms": sum(a.source == "gates" for a in alarms),
        "node_alarms": sum(a.source == "nodes" for a in alarms),
        "alarm_list": [
            {
                "t_s": a.start_s,
                "source": a.source,
                "edges": list(a.edges[:3]),
                "nodes": list(a.nodes[:3]),
                "likely": list(a.likely),
            }
            for a in alarms
        ],
        "node_tests": int(nodes.get("evaluated", 0)),
        "node_score_max": float(nodes.get("score_max", 0.0) or 0.0),
        "tracked_gain_rel_sd": float(np.std(gains)) if gains is not None else None,
        "tracked_gain_rel_max": float(np.max(np.abs(gains - 1.0))) if gains is not None else None,
        "tracked_drift_v_per_s_max": float(np.max(np.abs(drifts))) if drifts is not None else None,
        "tracked_saturated_edges": (
            [int(e) for e in np.flatnonzero(tracker.saturated())] if tracker is not None else None
        ),
        "rss_mb": _rss_mb(),
        "wall_s": wall,
        "cpu_s": cpu,
    }


if __name__ == "__main__":
    raise SystemExit(main())
