"""The runs of ``bench_false_alarms.py``: fault-free emulated boards shadowed, their detector's
per-sample CUSUM increments, and the held-out check summed from per-seed records (moved out of
``bench_false_alarms.py``; the command line stays there)."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import partial
from pathlib import Path

import attrs
import numpy as np

from twin.board.inprocess import InProcessBoard
from twin.shadow.alarm_curve import FalseAlarmCurve, upper95_per_hour
from twin.shadow.config import default_node_every_s, detector_hours
from twin.shadow.session import EmulationSpec, calibrate_emulator, make_emulator
from twin.shadow.shadow import Shadow, ShadowConfig

__all__ = [
    "CLIP",
    "EVERY_S",
    "FINE_LEVELS",
    "LEVELS",
    "OUT",
    "PROVISIONAL",
    "CheckSettings",
    "K",
    "check",
    "crossings_at",
    "cusum_hours",
    "make_shadow",
    "one",
    "runs",
    "sampled_hours",
    "shadow_config",
]

K, CLIP, EVERY_S = 1.0, 50.0, 0.01
PROVISIONAL = FalseAlarmCurve(
    log_rate0=0.0, decay_per_level=1.0, k=K, clip=CLIP, every_s=EVERY_S, fitted_range=(0, 0)
)
OUT = Path(__file__).resolve().parents[1] / "twin" / "shadow" / "false_alarms.json"


@attrs.frozen(kw_only=True)
class CheckSettings:
    """What a check runs besides its seeds (the product's defaults): the boards' hidden
    ``variation``, the calibration's idle hold ``idle_s`` (s), the gross-drive margin
    ``drive_margin`` and whether the passive node check runs (``node_check``)."""

    variation: str = "typical"
    idle_s: float = 0.0
    drive_margin: str = "fit"
    node_check: bool = True


def shadow_config(hours: float, settings: CheckSettings = CheckSettings()) -> ShadowConfig:
    """The calibrated shadow's settings a check runs with, for a shadow-wide target of one
    false alarm per ``hours`` board-hours."""
    return ShadowConfig(
        false_alarm_hours=hours,
        drive_margin=settings.drive_margin,  # type: ignore[arg-type]  # argparse checked it
        node_every_s=default_node_every_s(calibrated=True) if settings.node_check else None,
    )


def cusum_hours(hours: float, settings: CheckSettings = CheckSettings()) -> float:
    """The gates' CUSUM's share of a shadow-wide target of ``hours`` board-hours between false
    alarms (:func:`twin.shadow.config.detector_hours`): its level is the curve's for this."""
    return detector_hours(shadow_config(hours, settings), calibrated=True)


def make_shadow(
    seed: int, curve: FalseAlarmCurve, hours: float, settings: CheckSettings = CheckSettings()
) -> Shadow:
    """A new fault-free emulated board ``seed``, calibrated as ``twin shadow --calibrate`` does,
    rebooted, and its shadow, not yet run (what :func:`one` runs)."""
    emu = make_emulator(EmulationSpec(seed=seed, variation=settings.variation))
    result, _ = calibrate_emulator(emu, seed=seed, idle_s=settings.idle_s)
    emu.boot(0.0)
    return Shadow(
        InProcessBoard(emu),
        shadow_config(hours, settings),
        rng=np.random.default_rng([seed, 3]),
        edges=result.edges,
        spread=result.spread,
        curve=curve,
    )


def one(
    seed: int,
    duration_s: float,
    curve: FalseAlarmCurve,
    hours: float,
    settings: CheckSettings = CheckSettings(),
) -> dict:
    sh = make_shadow(seed, curve, hours, settings)
    sh.detector.trace = []
    summary = sh.run(duration_s)
    sh.close()
    nodes = summary["nodes"] if isinstance(summary["nodes"], dict) else {}
    return {
        "trace": sh.detector.trace,
        "alarms": summary["alarms"],
        "t_s": summary["board_time_s"],
        "node_alarms": nodes.get("alarms", 0),
        "node_tests": nodes.get("evaluated", 0),
        "node_score_max": nodes.get("score_max"),
        "node_z_max": nodes.get("z_max"),
    }


def runs(
    seeds: range,
    duration_s: float,
    curve: FalseAlarmCurve,
    hours: float,
    jobs: int,
    *,
    ordered: bool = True,
    settings: CheckSettings = CheckSettings(),
) -> Iterator[tuple[int, dict]]:
    """``(seed, one(seed))``, ``jobs`` seeds at a time in worker processes: in seed order, or
    (``ordered=False``) as they finish, so a ``--progress`` file holds every finished seed."""
    run = partial(one, duration_s=duration_s, curve=curve, hours=hours, settings=settings)
    if jobs <= 1:
        yield from ((seed, run(seed)) for seed in seeds)
        return
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        if ordered:
            yield from zip(seeds, pool.map(run, seeds), strict=True)
            return
        futures = {pool.submit(run, seed): seed for seed in seeds}
        for done in as_completed(futures):
            yield futures[done], done.result()


def sampled_hours(trace: list[np.ndarray]) -> float:
    return sum(s.size > 0 for s in trace) * EVERY_S / 3600.0


LEVELS = np.arange(1.0, 80.0, 0.5)
#: ``--write --fine``: for a detector whose fault-free CUSUM rarely leaves 0.
FINE_LEVELS = np.arange(0.1, 20.0, 0.1)


def crossings_at(record: dict, level: float) -> int:
    """A seed's crossings of ``level``: as counted in the run, or (a record of a run at another
    level) on the grid level at or just below it, which counts at least as many."""
    if abs(record["level"] - level) <= 1e-9:
        return int(record["crossings_at_level"])
    below = np.flatnonzero(level + 1e-9 >= LEVELS)
    if below.size == 0:
        raise SystemExit(f"level {level:g} is below the recorded grid ({LEVELS[0]:g}-)")
    return int(record["crossings"][below[-1]])


def check(
    records: list[dict],
    curve: FalseAlarmCurve,
    false_alarm_hours: float,
    settings: CheckSettings = CheckSettings(),
) -> dict:
    """The held-out check from per-seed records (crossings counted per run, so they add) of a
    shadow-wide target of one false alarm per ``false_alarm_hours``: the gates' CUSUM crossings
    of the level of its share (:func:`cusum_hours`) and the node check's alarms are the shadow's
    false alarms (``false_alarms``; their rate per board-hour and its 95 % upper bound)."""
    hours = sum(r["sampled_s"] for r in records) / 3600.0
    level = curve.level(cusum_hours(false_alarm_hours, settings))
    n = sum(crossings_at(r, level) for r in records)
    counts = np.sum([r["crossings"] for r in records], axis=0) if records else LEVELS * 0
    node_alarms = sum(r.get("node_alarms", 0) for r in records)
    total = n + node_alarms
    return {
        "seeds_checked": [r["seed"] for r in records],
        "board_hours": sum(r["board_s"] for r in records) / 3600.0,
        "check_hours": hours,
        "false_alarm_hours": false_alarm_hours,
        "cusum_hours": cusum_hours(false_alarm_hours, settings),
        "level": level,
        "false_alarms_at_level": n,
        "false_alarms": total,
        "rate_per_hour": total / hours if hours else float("nan"),
        "rate_upper95_per_hour": upper95_per_hour(total, hours),
        "predicted_at_level_per_hour": curve.rate_per_hour(level),
        "shadow_alarms": sum(r["shadow_alarms"] for r in records),
        "node_alarms": node_alarms,
        "node_tests": sum(r.get("node_tests", 0) for r in records),
        "check_crossings": [int(c) for c in counts],
    }
