"""Fit the node check's level to the measured tail of its largest scores (issue 17).

Reads the fault-free evidence of ``benchmarks/evidence/false_alarms/`` (typical calibrated
emulated boards of 120 s, the node check every 0.25 s on 10-frame windows: the product's
defaults), takes each board's largest node statistic in standard errors, fits the generalised
Pareto tail of :class:`twin.shadow.node_tail.NodeTail` above its ``--quantile`` and prints, beside
the Gaussian premise and the fit, how many boards passed each ``z``, the level for one false
alarm per 10 / 20 / 60 board-hours (the node check's share with the design margin is 60 for
the shadow's default 10) with a bootstrap 90 % interval, and the Bonferroni level it replaces.
``--write`` stores the fit in ``twin/shadow/node_tail.json``.

Each record's largest statistic is ``node_z_max`` where it has one; older records kept only
``node_score_max`` (the largest statistic over its level), so it is multiplied by the level of
the design that ran it: the Bonferroni level for the node check's hours, which were the gates'
CUSUM's (both set from ``detector_hours``), read off the record's CUSUM ``level`` through the
stored curve. A test at fewer free nodes (an ADC-clipped reading) had a slightly lower level,
so that conversion can only overstate a board's largest statistic, by at most 0.02.

Only the files named by ``--files`` (default: every file of the evidence whose seeds are all
below ``--below-seed``, 6000) are read, so later held-out evidence never joins the fit.

Run by hand: ``PYTHONPATH=. python benchmarks/node_tail_fit.py`` (``--write`` to store it).
Measured 2026-12-08 (the evidence to seed 4497): see ``twin/shadow/node_tail.json``'s provenance
and the module docstring of :mod:`twin.shadow.node_tail`.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from statistics import NormalDist

import attrs
import numpy as np

from benchmarks.fa_evidence import EVIDENCE_DIR, with_settings
from benchmarks.fa_runs import CheckSettings
from twin.shadow.alarm_curve import default_false_alarm_curve
from twin.shadow.config import DEFAULT_NODE_EVERY_S
from twin.shadow.node_tail import fit_node_tail
from twin.shadow.probe_stats import critical_z

OUT = Path(__file__).resolve().parents[1] / "twin" / "shadow" / "node_tail.json"
#: Free nodes of the typical board's task, tests per 120 s board, frames per window.
NODES, TESTS, WINDOW, BOARD_S = 14, 480, 10, 120.0
HOURS = (10.0, 20.0, 60.0)
GAUSS = NormalDist()


def board_z(record: dict, curve_rate: float, decay: float) -> float:
    """A record's largest node statistic, standard errors (see the module's docstring)."""
    if record.get("node_z_max") is not None:
        return float(record["node_z_max"])
    hours = math.exp(decay * record["level"] - curve_rate)  # the curve's level, inverted
    return float(record["node_score_max"]) * critical_z(DEFAULT_NODE_EVERY_S, hours, 2 * NODES)


def fit_records(files: list[Path]) -> tuple[np.ndarray, list[int], list[str]]:
    """The largest statistics of the typical, product-default boards in ``files`` (each seed
    once), their seeds and the names of the files that held any."""
    curve = default_false_alarm_curve()
    settings = attrs.asdict(CheckSettings())  # the product's defaults, as the evidence keeps them
    z, seeds, seen, used = [], [], set(), []
    for path in files:
        rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
        for r in with_settings(rows, settings):
            ok = r.get("node_tests") == TESTS and r.get("board_s") == BOARD_S
            if not ok or r.get("node_score_max") is None or r["seed"] in seen:
                continue
            seen.add(r["seed"])
            z.append(board_z(r, curve.log_rate0, curve.decay_per_level))
            seeds.append(r["seed"])
            used += [path.name] if path.name not in used else []
    return np.array(z), seeds, used


def premise_exceedance(z: float) -> float:
    """``P(largest of TESTS x NODES |standard Gaussians| > z)``."""
    return -math.expm1(TESTS * NODES * math.log1p(-2.0 * (1.0 - GAUSS.cdf(z))))


def default_files(below_seed: int) -> list[Path]:
    out = []
    for path in sorted(EVIDENCE_DIR.glob("*.jsonl")):
        seeds = [json.loads(line)["seed"] for line in path.read_text().splitlines() if line]
        if seeds and max(seeds) < below_seed:
            out.append(path)
    return out


def spans(seeds: list[int]) -> str:
    s = sorted(seeds)
    parts, start = [], s[0]
    for a, b in zip(s, [*s[1:], None], strict=True):
        if b is None or b != a + 1:
            parts.append(f"{start}-{a}" if a != start else f"{a}")
            start = b
    return ", ".join(parts)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", nargs="*", type=Path, default=None)
    ap.add_argument("--below-seed", type=int, default=6000)
    ap.add_argument("--quantile", type=float, default=0.9)
    ap.add_argument("--bootstrap", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=17, help="bootstrap generator's seed")
    ap.add_argument("--write", action="store_true")
    args = ap.parse_args(argv)
    files = args.files if args.files is not None else default_files(args.below_seed)
    z, seeds, used = fit_records(files)
    common = {"node_tests": TESTS * NODES, "every_s": DEFAULT_NODE_EVERY_S,
              "window_frames": WINDOW, "board_s": BOARD_S, "quantile": args.quantile}  # fmt: skip
    tail = fit_node_tail(z, **common)
    rng = np.random.default_rng(args.seed)
    boot = [fit_node_tail(rng.choice(z, z.size), **common) for _ in range(args.bootstrap)]
    rows = []
    for t in (4.6, 4.8, 5.0, 5.2, 5.3, 5.5, 5.7):
        rows.append({"z": t, "boards_over": int(np.sum(z > t)),
                     "premise": z.size * premise_exceedance(t),
                     "fit": z.size * tail.board_exceedance(t)})  # fmt: skip
    levels = {}
    for h in HOURS:
        at = [b.level_z(DEFAULT_NODE_EVERY_S, h, NODES) for b in boot]
        levels[h] = {"fit": tail.level_z(DEFAULT_NODE_EVERY_S, h, NODES),
                     "boot90": [float(np.quantile(at, 0.05)), float(np.quantile(at, 0.95))],
                     "bonferroni": critical_z(DEFAULT_NODE_EVERY_S, h, 2 * NODES)}  # fmt: skip
    out = {"boards": tail.boards, "board_hours": tail.board_hours, "tail": tail.as_dict(),
           "counts": rows, "levels": levels}  # fmt: skip
    json.dump(out, sys.stdout, indent=1)
    sys.stdout.write("\n")
    if args.write:
        lv = levels[60.0]
        provenance = (
            f"benchmarks/node_tail_fit.py --quantile {args.quantile} --bootstrap {args.bootstrap}"
            f" --seed {args.seed} --write: {tail.boards} fault-free calibrated typical emulated"
            f" boards of {BOARD_S:g} s ({tail.board_hours:.1f} board-hours; seeds {spans(seeds)})"
            f" from {len(used)} evidence files of benchmarks/evidence/false_alarms/; the level"
            f" for one false alarm per 60 board-hours at 14 nodes every 0.25 s is"
            f" {lv['fit']:.3f} (bootstrap 90 % {lv['boot90'][0]:.3f}-{lv['boot90'][1]:.3f})"
            f" against the Gaussian Bonferroni {lv['bonferroni']:.3f}; its held-out check runs on"
            f" seeds from 6000 on"
        )
        data = tail.as_dict() | {"provenance": provenance, "sources": used}
        OUT.write_text(json.dumps(data, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
