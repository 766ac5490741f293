"""``twin demo``: the main job of ``make demo`` (the runs themselves: :mod:`._demo`)."""

from __future__ import annotations

from pathlib import Path

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
def demo_cmd(
    out: Path, seed: int, duration: float, calibration_s: float, realizations: int, steps: int
) -> None:
    """Shadow an emulated board (calibrate, fault, alarms, ledger) and the trainer trade-off."""
    from ..simulation import twin as _twin  # noqa: F401  (its kernels, for the check below)
    from ._common import announce_compilation
    from ._demo import run_demo

    announce_compilation("demo")
    run_demo(out, seed, duration, calibration_s, realizations, steps)
