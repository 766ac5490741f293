"""The runs of ``twin demo`` (the main job of ``make demo``), imported when the command runs.

1. Shadow mode (``twin shadow --emulate``): an emulated laboratory board (4 x 4 periodic
   transistor network, node allostery, eta = 0.22, hidden per-edge variation, 10-bit ADC, 1 kHz
   frames) is calibrated, then shadowed for 20 s of board time by the event-driven twin, with a
   fault injected into one edge's amplifier at 12 s. A live progress line, the final summary
   (frames, losses, lags, residuals, alarms, energies of board and twin) and a PNG (board vs twin
   error and power over time, residuals with the alarms, per-edge residuals); both runs and the
   alarms are recorded in the demo ledger and queried back.
2. The synchronous trainer on several realizations of the board task, with and without power
   minimisation: the error / power trade-off.

Everything lands in ``--out``: PNG plots, the run documents (JSON lines) and ``ledger.db``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from ..learning.rules import LearningRule
from ..learning.trainer import TrainConfig, train
from ..physics.task_spec import build_tasks
from ..plots import plot_history
from ..shadow.config import share_words
from ._common import plain, progress_bar

__all__ = ["run_demo"]

TRAINER_LAMBDAS = (0.0, 1e-3)
#: The demo's injected fault: edge 7's free-channel amplifier gain triples at 12 s.
DEMO_FAULT = "7:free_gain=3@12"


def _shadow_run(
    console: Console, out: Path, seed: int, duration_s: float, episode_s: float
) -> None:
    from twin.board.inprocess import parse_fault
    from twin.shadow.config import DEFAULT_NODE_EVERY_S
    from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator, open_board
    from twin.shadow.shadow import ShadowConfig

    from ..ledger import open_ledger, show_run
    from ._shadow_run import run_shadow

    fault = parse_fault(DEMO_FAULT)
    faults = (fault,) if fault.t_s < duration_s else ()
    spec = EmulationSpec(seed=seed, variation="typical", faults=faults)
    emulator = make_emulator(spec)
    console.print(
        f"[bold]Shadow mode[/bold]: emulated board {emulator.config.board_id} "
        f"({emulator.task.description}; hidden variation: gains 5 %, thresholds 20 mV, "
        "capacitors 10 %, leaks 20-200 s, comparator offsets)"
    )
    t0 = time.perf_counter()
    result, calibration = calibrate_emulator(emulator, seed=seed, episode_s=episode_s)
    console.print(
        f"calibrated on {calibration['frames_fit']} frames in {time.perf_counter() - t0:.1f} s: "
        f"held-out prediction error (0.25 s ahead) gates "
        f"{calibration['prediction']['nominal']['gate_rms_v'] * 1e3:.1f} -> "
        f"{calibration['prediction']['calibrated']['gate_rms_v'] * 1e3:.2f} mV, nodes "
        f"{calibration['prediction']['nominal']['node_rms_v'] * 1e3:.2f} -> "
        f"{calibration['prediction']['calibrated']['node_rms_v'] * 1e3:.3f} mV"
    )
    emulator.boot(0.0)  # the board restarts with its gates reset; the shadow joins it
    board = open_board(emulate=spec, emulator=emulator)
    jsonl = out / "shadow.jsonl"
    jsonl.unlink(missing_ok=True)  # each demo writes its runs afresh (the ledger keeps all)
    db_url = f"sqlite:///{(out / 'ledger.db').resolve()}"
    summary = run_shadow(
        board,
        duration_s=duration_s,
        shadow_config=ShadowConfig(
            resync="periodic", resync_interval_s=0.25, node_every_s=DEFAULT_NODE_EVERY_S
        ),
        seed=seed,
        edges=result.edges,
        spread=result.spread,
        out=jsonl,
        db=db_url,
        no_db=False,
        plot=out / "shadow.png",
        params={"demo": True, "seed": seed, "fault": DEMO_FAULT, "calibrated": True},
    )
    _shadow_table(console, summary, duration_s)
    with open_ledger(db_url) as ledger:
        runs = {
            uid: show_run(ledger, summary[f"{src}_run"])
            for src in ("board", "twin")
            for uid in [summary[f"{src}_run"]]
        }
    for uid, shown in runs.items():
        comps = ", ".join(f"{e['component']} {e['energy_j'] * 1e3:.3f} mJ" for e in shown["energy"])
        console.print(plain(f"ledger run {uid[:8]} ({shown['run']['source']}): {comps}"))
    console.print(plain(f"ledger: {db_url}; plot: {out / 'shadow.png'}"))


def _shadow_table(console: Console, s: dict[str, Any], duration_s: float) -> None:
    table = Table(
        title=f"twin shadow --emulate: {duration_s:g} s of board time, fault {DEMO_FAULT}"
    )
    table.add_column("quantity")
    table.add_column("value", justify="right")
    rows = [
        ("frames", f"{s['frames']}"),
        (
            "gaps detected / resyncs / undetected loss",
            f"{s['gaps_detected']} / {s['resyncs']} / {s['undetected_loss']}",
        ),
        ("lag p50 / p99 (ms)", f"{s['lag_p50_s'] * 1e3:.2f} / {s['lag_p99_s'] * 1e3:.2f}"),
        ("node residual RMS (mV)", f"{s['residual_rms_v'] * 1e3:.3f}"),
        ("gate residual RMS (mV)", f"{s['gate_residual_rms_v'] * 1e3:.2f}"),
        (
            "board energy / twin energy (mJ)",
            f"{s['board_energy_j'] * 1e3:.3f} / {s['twin_energy_j'] * 1e3:.3f}",
        ),
        ("x real time", f"{s['realtime_factor']:.2f}"),
        (
            "detector",
            f"CUSUM level {s['detector']['level']:.1f}: one false alarm per "
            f"{s['detector']['detector_hours']:g} board-hours "
            f"({share_words(s['detector']['false_alarm_hours'])})"
            + ("" if s["calibrated"] else " (uncalibrated: rate not established)")
            + (
                _held_out(s["detector"])
                if s["detector"].get("curve_validated")
                else _not_validated(s["detector"])
            ),
        ),
        ("alarms", f"{s['alarms']}"),
    ]
    nodes = s.get("nodes")
    if isinstance(nodes, dict) and "evaluated" in nodes:
        rows.insert(
            -1,
            (
                "passive node check",
                f"every {nodes['every_s']:g} s: {nodes['evaluated']} tests, "
                f"{nodes['alarms']} alarms, largest score {nodes['score_max']:.2f} of the level",
            ),
        )
    drift = s.get("tracked_drift")
    if drift:
        rows.append(
            (
                "tracked drift (not alarmed)",
                f"largest gain factor change {drift['largest_gain_change']:.3f} "
                f"(edge {drift['largest_gain_change_edge']}), largest extra drift "
                f"{drift['largest_drift_v_per_s'] * 1e3:.1f} mV/s" + _saturated(drift),
            )
        )
    for alarm in s["alarm_list"]:
        end = alarm["end_s"]
        rows.append(
            (
                f"alarm {alarm['start_s']:.2f}-{end:.2f} s" if end is not None else "alarm",
                f"edges {alarm['edges'][:6]} score {alarm['score_max']:.1f}",
            )
        )
    for row in rows:
        table.add_row(*row)
    console.print(table)


def _trainer_runs(console: Console, out: Path, seed: int, realizations: int, steps: int) -> None:
    tasks = build_tasks("allostery", "lattice:4x4:periodic", seed=seed, realizations=realizations)
    table = Table(
        title=f"synchronous trainer: board allostery, {realizations} realizations, "
        f"{steps} steps of 0.1 ms (medians)"
    )
    for col in ("lambda", "error L0 (V^2)", "error (V^2)", "P_F (W)", "E (J)", "wall (s)"):
        table.add_column(col, justify="right")
    for lam in TRAINER_LAMBDAS:
        config = TrainConfig(rule=LearningRule(alpha=0.5, eta=0.22, lam=lam), steps=steps)
        t0 = time.perf_counter()
        with progress_bar(f"trainer lambda={lam:g}", steps) as update:
            result = train(tasks, config, progress=update)
        wall = time.perf_counter() - t0
        plot_history(
            result.history,
            out / f"trainer_lam{lam:g}.png",
            title=f"4x4 periodic board, synchronous trainer, lambda={lam:g}",
        )
        table.add_row(
            f"{lam:g}",
            *(
                f"{np.median(a):.3g}"
                for a in (
                    result.error_initial,
                    result.error_final,
                    result.free_power_final_w,
                    result.training_energy_j,
                )
            ),
            f"{wall:.2f}",
        )
    console.print(table)


def run_demo(
    out: Path, seed: int, duration_s: float, calibration_s: float, realizations: int, steps: int
) -> None:
    """The shadow of an emulated board with its ledger, then the trainer runs; tables on stdout."""
    console = Console()
    if not console.is_terminal:  # piped or logged: do not squeeze the tables into 80 columns
        console = Console(width=140)
    out.mkdir(parents=True, exist_ok=True)
    _shadow_run(console, out, seed, duration_s, calibration_s)
    _trainer_runs(console, out, seed, realizations, steps)
    console.print(plain(f"plots and run documents: {out.resolve()}"))


def _saturated(drift: dict[str, Any]) -> str:
    """The tracked-drift row's note on edges at the tracker's bounds (model error, not drift)."""
    edges = drift.get("saturated_edges") or []
    if not edges:
        return ""
    return (
        f"; {len(edges)} edge(s) at the tracker's bounds {edges[:6]} (the twin's travel does not "
        "explain the board's there: model error, not drift; largest change elsewhere "
        f"{drift['largest_gain_change_unsaturated']:.3f})"
    )


def _held_out(detector: dict[str, Any]) -> str:
    """What the held-out check that validated the curve measured: its false alarms per
    board-hour with their 95 % upper bound (Poisson)."""
    per_hour, hours = detector.get("curve_checked_per_hour"), detector.get("curve_checked_hours")
    upper = detector.get("curve_checked_upper95_per_hour")
    if per_hour is None or not hours or upper is None:
        return ""
    n = round(per_hour * hours)
    return (
        f" (set; held out: {n} in {hours:g} board-hours, 95 % upper bound {upper:.1f} per "
        "board-hour)"
    )


def _not_validated(detector: dict[str, Any]) -> str:
    """What the held-out check of the false-alarm curve measured, when it did not validate it:
    too few board-hours to show the target, or false alarms whose 90 % interval (Poisson) holds
    the target (not validated yet), or lies above it (the target is NOT met)."""
    per_hour, hours = detector.get("curve_checked_per_hour"), detector.get("curve_checked_hours")
    if per_hour is None or not hours:
        return " (curve not validated)"
    target_hours = float(detector.get("false_alarm_hours", 10.0))
    if per_hour == 0:
        needed = -math.log(0.05) * target_hours
        return (
            f" (not validated: no false alarm over {hours:.3g} held-out board-hours, fewer than "
            f"the {needed:.0f} needed for the 95 % upper bound to reach the target)"
        )
    n = round(per_hour * hours)
    lower = detector.get("curve_checked_lower95_per_hour")
    upper = detector.get("curve_checked_upper95_per_hour")
    if lower is None or upper is None:
        return f" (not validated: {n} false alarm(s) in {hours:.3g} held-out board-hours)"
    seen = (
        f"{n} false alarm(s) in {hours:.3g} held-out board-hours, {per_hour:.2g} per "
        f"board-hour (90 % interval {lower:.2g}-{upper:.2g})"
    )
    if lower > 1.0 / target_hours:
        return f" (NOT met: {seen}, above one per {target_hours:g})"
    return f" (not validated: {seen}, which holds the target of one per {target_hours:g})"
