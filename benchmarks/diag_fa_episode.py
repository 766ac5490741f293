"""Trace a fault-free CUSUM episode of the shadow's gates detector, with the twin's parameters
partly replaced by the board's hidden ones (calibration error or model error?).

A fault-free board is calibrated and shadowed as ``bench_false_alarms.py`` does
(:func:`fa_runs.make_shadow`'s settings); the shadow's :meth:`~twin.shadow.watch.Watch.edge_scores`
is wrapped (nothing it computes is changed) and every detector sample in ``--from``..``--to``
board seconds prints, for ``--edge``: the board's gate, the twin's (raw and tracker-corrected),
the resync gate, the residual, the stated-accuracy margin, the cutoff/neighbour spread, z, the
CUSUM and the tracker's gain and drift; then, at the first sample after each resync, the gates the
twin moved farthest from the board's (where a divergence starts).

``--true KEYS`` builds the twin from the calibration's edges with the listed parameter groups
taken from the emulator's hidden truth (``gains``: ``a_free_per_v``, ``a_clamp_per_v``;
``capacitors``; ``drift``: leak time, rest and learning bias; ``thresholds``; ``all``), on the
edges of ``--true-edges`` (default every edge). ``--episodes`` instead shadows the whole
``--to`` seconds and lists every episode of an edge's CUSUM above 1.

``--fault KEY=VALUE@T`` injects a fault into ``--edge`` (the changes of
``bench_detection.py``'s classes, e.g. ``gain_factor=0@3``, a dead gate at 3 s) to trace why a
fault is missed. The three >= 200 mV misses of ``bench_detection.py --effect`` on seeds 200-215
(2026-12-07, either design level): board 200 edge 20, dead gate (``--seed 200 --edge 20 --fault
gain_factor=0@3 --from 2.9 --to 4``): residual +291 mV at the first resync, z 0.49 (the
tracker's prior gain uncertainty, 0.2 of the gate's 0.29 V twin travel, widens the spread), and
at the next resync the tracker absorbs it (innovation 5.4 sd, under its 6: gain factor 1 -> 0,
after which the prediction follows the dead gate); board 205 edge 29, dead gate near cutoff:
residuals of 245-285 mV under a cutoff spread of 293-314 mV (the twin drives the gate into
cutoff, the board's stays); board 200 edge 2, both gains x2: +265 mV under a neighbour spread
of 652 mV, then the tracker learns gain factor 1.64 in one interval.

Board 2314's episode (edge 1, 9.2 s; see the README's false-alarm section):
``nice -n 10 python benchmarks/diag_fa_episode.py --seed 2314 --edge 1 --from 8.9 --to 9.3``,
then the same with ``--true gains --true-edges 4``.
"""

from __future__ import annotations

import argparse
from typing import Any

import attrs
import numpy as np
from fa_runs import CheckSettings

from twin.board.inprocess import Fault, InProcessBoard
from twin.shadow.alarm_curve import default_false_alarm_curve
from twin.shadow.config import default_node_every_s
from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator
from twin.shadow.shadow import Shadow, ShadowConfig
from twin.shadow.watch_margins import MODEL_ABS_V, MODEL_REL
from twin.simulation.edge import EdgeParams

GROUPS = {
    "gains": ("a_free_per_v", "a_clamp_per_v"),
    "capacitors": ("c_gate_f",),
    "drift": ("tau_leak_s", "v_rest_v", "bias_v_per_s"),
}


def twin_edges(fitted: EdgeParams, hidden: EdgeParams, n: int, keys: str, on: str) -> EdgeParams:
    """``fitted`` with the groups in ``keys`` (comma separated) from ``hidden`` on edges ``on``."""
    if not keys:
        return fitted
    groups = set(GROUPS) | {"thresholds"} if keys == "all" else set(keys.split(","))
    idx = np.arange(n) if on == "all" else np.array([int(e) for e in on.split(",")])
    fit, hid = fitted.columns(n), hidden.columns(n)
    changes: dict[str, Any] = {}
    for group in groups - {"thresholds"}:
        for key in GROUPS[group]:
            changes[key] = fit[key].copy()
            changes[key][idx] = hid[key][idx]
    if "thresholds" in groups:
        v_t = np.broadcast_to(fitted.device.v_t_v, (n,)).copy()  # type: ignore[attr-defined]
        v_t[idx] = np.broadcast_to(hidden.device.v_t_v, (n,))[idx]  # type: ignore[attr-defined]
        changes["device"] = attrs.evolve(fitted.device, v_t_v=v_t)  # type: ignore[misc]
    return attrs.evolve(fitted, **changes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seed", type=int, default=2314)
    ap.add_argument("--edge", type=int, default=1)
    ap.add_argument("--from", dest="t0", type=float, default=8.9, help="board s")
    ap.add_argument("--to", dest="t1", type=float, default=9.3, help="board s")
    ap.add_argument("--true", default="", help="gains,capacitors,drift,thresholds or all")
    ap.add_argument("--true-edges", default="all", help="comma-separated edges, or all")
    ap.add_argument("--episodes", action="store_true", help="list CUSUM episodes above 1")
    ap.add_argument(
        "--fault",
        default="",
        help="inject a fault into --edge: KEY=VALUE[,KEY=VALUE...]@T (Fault changes, e.g. "
        "gain_factor=0@3, a dead gate at 3 s, as bench_detection.py's classes)",
    )
    args = ap.parse_args()

    settings = CheckSettings()
    emu = make_emulator(EmulationSpec(seed=args.seed, variation=settings.variation))
    result, _ = calibrate_emulator(emu, seed=args.seed, idle_s=settings.idle_s)
    emu.boot(0.0)
    n = emu.task.network.n_edges
    edges = twin_edges(result.edges, emu.edges, n, args.true, args.true_edges)
    config = ShadowConfig(
        false_alarm_hours=10.0,
        drive_margin=settings.drive_margin,  # type: ignore[arg-type]
        node_every_s=default_node_every_s(calibrated=True),
    )
    faults = []
    if args.fault:
        changes, at = args.fault.rsplit("@", 1)
        kv = {k: float(v) for k, v in (item.split("=", 1) for item in changes.split(","))}
        faults = [Fault(t_s=float(at), edge=args.edge, changes=kv)]
    sh = Shadow(
        InProcessBoard(emu, faults=faults),
        config,
        rng=np.random.default_rng([args.seed, 3]),
        edges=edges,
        spread=result.spread,
        curve=default_false_alarm_curve(),
    )
    w, e, lo = sh.watch, args.edge, sh.watch.rails_v[0]
    orig = w.edge_scores
    open_eps: dict[int, dict[str, Any]] = {}
    episodes: list[dict[str, Any]] = []
    last_tau = [1e9]

    def traced(run_t_s: float, tau_s: float, rep: Any, raw: Any, pred: Any, res: Any, *a: Any):
        start = w.state.resync_gates_v.copy()
        cut = w.cutoff_var_v2(rep, pred) if not args.episodes else None
        out = orig(run_t_s, tau_s, rep, raw, pred, res, *a)
        if out is None:
            return out
        sums = w.detector.sums
        if args.episodes:
            for j in np.flatnonzero(sums >= 1.0):
                ep = open_eps.setdefault(int(j), {"edge": int(j), "t0": run_t_s, "peak": 0.0})
                if sums[j] > ep["peak"]:
                    ep |= {"peak": float(sums[j]), "t": run_t_s, "res": float(res[j])}
                    ep |= {"board": float(rep[j] - start[j]), "twin": float(raw[j] - start[j])}
            for j in [j for j in open_eps if sums[j] < 1.0]:
                episodes.append(open_eps.pop(j) | {"t1": run_t_s})
        elif args.t0 <= run_t_s <= args.t1:
            if tau_s < last_tau[0]:  # first sample after a resync: where the twin departs
                gap = np.asarray(raw) - np.asarray(rep)
                top = np.argsort(-np.abs(gap))[:5]
                moved = ", ".join(f"{j}: {gap[j] * 1e3:+.0f} mV at {rep[j]:.3f} V" for j in top)
                print(f"  resync at {run_t_s - tau_s:.3f} s; twin - board gates, largest: {moved}")
            travel = np.abs(pred - start)  # the margin as edge_scores states it
            both = np.maximum(travel, np.minimum(np.abs(rep - start), travel / (1 - MODEL_REL)))
            tr = w.tracker
            print(
                f"t {run_t_s:.3f} tau {tau_s:.3f} | board {rep[e]:.3f} twin {raw[e]:.3f} "
                f"pred {pred[e]:.3f} resync {start[e]:.3f} res {res[e] * 1e3:+.0f} mV "
                f"margin {(MODEL_ABS_V + MODEL_REL * both[e]) * 1e3:.0f} mV (no drive term) "
                f"cutoff/nb sd {np.sqrt(cut[e]) * 1e3:.0f} mV z {w.detector.last_z[e]:+.2f} "
                f"cusum {sums[e]:.1f} | tracker g {tr.gain[e] if tr else 1.0:.3f} "
                f"drift {tr.drift_v_per_s[e] if tr else 0.0:+.3f} V/s"
            )
        last_tau[0] = tau_s
        return out

    w.edge_scores = traced  # type: ignore[method-assign]
    sh.run(args.t1)
    sh.close()
    if args.episodes:
        episodes += list(open_eps.values())
        print(
            f"seed {args.seed}: {len(episodes)} episode(s) of an edge's CUSUM above 1 in "
            f"{args.t1:g} s (level {w.detector.level:.1f}; low rail {lo:g} V)"
        )
        for ep in episodes:
            print(
                f"  edge {ep['edge']} {ep['t0']:.2f}-{ep.get('t1', float('nan')):.2f} s, peak "
                f"{ep['peak']:.1f} at {ep['t']:.2f} s: board {ep['board'] * 1e3:+.0f} mV, twin "
                f"{ep['twin'] * 1e3:+.0f} mV since the resync, residual {ep['res'] * 1e3:+.0f} mV"
            )
    fit, hid = result.edges.columns(n), emu.edges.columns(n)
    bal = (fit["a_clamp_per_v"] / fit["a_free_per_v"]) / (
        hid["a_clamp_per_v"] / hid["a_free_per_v"]
    )
    worst = np.argsort(-np.abs(bal - 1.0))[:3]
    print(
        "fitted gain balance a_C/a_F against the hidden, worst edges: "
        + ", ".join(f"{j}: {(bal[j] - 1) * 100:+.1f} %" for j in worst)
    )


if __name__ == "__main__":
    main()
