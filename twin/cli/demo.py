"""``twin demo``: the main job of ``make demo`` (the runs themselves: :mod:`._demo`)."""

from __future__ import annotations

from pathlib import Path

import attrs
import click

from . import cli
from ._types import SEED, FiniteRange, OutputDir

__all__ = ["demo_cmd"]


@cli.command("demo")
@click.option(
    "--out",
    type=OutputDir(),
    default=Path("out/demo"),
    show_default=True,
    help="Folder for plots, run documents and the demo ledger.",
)
@click.option(
    "--seed",
    type=SEED,
    default=2,
    show_default=True,
    help="Emulated board (hidden variation) and trainer tasks.",
)
@click.option(
    "--duration",
    type=FiniteRange(0, 3600.0, min_open=True),
    default=20.0,
    show_default=True,
    help="Board seconds of the shadow run.",
)
@click.option(
    "--calibration-s",
    type=FiniteRange(0.2, 60.0),
    default=1.0,
    show_default=True,
    help="Board seconds of each of the 6 calibration episodes.",
)
@click.option("--realizations", type=click.IntRange(1, 64), default=8, show_default=True,
              help="Trainer realizations.")  # fmt: skip
@click.option("--steps", type=click.IntRange(1, 10**6), default=20_000, show_default=True,
              help="Trainer steps of 0.1 ms.")  # fmt: skip
@click.option("--force", is_flag=True, help="Run even when the estimated work exceeds the limits.")
def demo_cmd(
    out: Path,
    seed: int,
    duration: float,
    calibration_s: float,
    realizations: int,
    steps: int,
    force: bool,
) -> None:
    """Shadow an emulated board (calibrate, fault, alarms, ledger) and the trainer trade-off."""
    from ..physics.estimate import network_size, stream_estimate, train_estimate
    from ._common import announce_compilation, check_request

    board = network_size("lattice:4x4:periodic")
    assert board is not None
    shadow = stream_estimate(shadow_frames=duration * 1000.0,
                             calibration_frames=6 * calibration_s * 1000.0)  # fmt: skip
    trainer = train_estimate(board, realizations=realizations, steps=steps)
    total = shadow.time_s + 2 * trainer.time_s  # two trainer runs (lambda = 0 and 1e-3)
    estimate = attrs.evolve(
        shadow,
        time_s=total,
        memory_bytes=max(shadow.memory_bytes, trainer.memory_bytes),
        parts=(*shadow.parts, ("trainer", 2 * trainer.time_s)),
    )
    check_request("demo", estimate, force)

    from ..simulation import twin as _twin  # noqa: F401  (its kernels, for the check below)
    from ._demo import run_demo

    announce_compilation("demo")
    run_demo(out, seed, duration, calibration_s, realizations, steps)
