"""``twin demo``: the main job of ``make demo``.

Trains the 4 x 4 periodic board network on its node-allostery task (board values: sources at 0 V
and 0.45 V, targets at 20 %/80 %, eta = 0.22), for a few realizations, with plain coupled learning
and with power-minimising learning, prints a summary table and writes PNG plots.
"""

from __future__ import annotations

import time
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from ..plots import plot_history
from ..rules import LearningRule
from ..trainer import TrainConfig, train
from . import cli
from ._common import build_tasks, progress_bar

__all__ = ["demo_cmd"]


@cli.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("out/demo"),
    show_default=True,
)
@click.option("--realizations", type=click.IntRange(min=1), default=8, show_default=True)
@click.option("--steps", type=click.IntRange(min=1), default=20_000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
def demo_cmd(out: Path, realizations: int, steps: int, seed: int) -> None:
    """Train the board network (lattice:4x4:periodic) on its allostery task and plot it."""
    console = Console()
    tasks = build_tasks("allostery", "lattice:4x4:periodic", seed=seed, realizations=realizations)
    table = Table(title=f"board allostery, {realizations} realizations, {steps} steps of 0.1 ms")
    for col in (
        "lambda",
        "median error L0 (V^2)",
        "median error (V^2)",
        "median P_F (W)",
        "median E (J)",
        "wall (s)",
    ):
        table.add_column(col, justify="right")
    for lam in (0.0, 1e-3):
        config = TrainConfig(rule=LearningRule(alpha=0.5, eta=0.22, lam=lam), steps=steps)
        t0 = time.perf_counter()
        with progress_bar(f"lambda={lam:g}", steps) as update:
            result = train(tasks, config, progress=update)
        wall = time.perf_counter() - t0
        png = plot_history(
            result.history,
            out / f"board_allostery_lam{lam:g}.png",
            title=f"4x4 periodic board, allostery, lambda={lam:g}",
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
        console.print(f"plot: {png}")
    console.print(table)
