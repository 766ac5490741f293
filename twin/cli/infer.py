"""``twin infer``: the energy of inference on a trained network (:mod:`twin.learning.inference`).

Each input of the chosen example set is held for ``--hold-s`` seconds; the run (one ``inference``
ledger entry per input) is recorded in the energy ledger and the ``--out`` file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import cli
from ._common import emit_json, tasks_from_options
from ._ledger import check_finite, ledger_options, recorded_dispatch
from ._types import SEED, FiniteRange, OutputFile

if TYPE_CHECKING:
    import numpy as np

    from ..physics.task import Task

__all__ = ["infer_cmd"]


def _trained_task(task_spec: str, network_spec: str, seed: int) -> tuple[Task, np.ndarray]:
    from ..learning.inference import trained_conductance

    if not network_spec.startswith("file:"):
        raise click.BadParameter(
            "expected file:PATH of a network saved with --save", param_hint="--network"
        )
    task = tasks_from_options(task_spec, network_spec, seed=seed, realizations=1)[0]
    return task, trained_conductance(task, network_spec[5:])


@cli.command("infer")
@click.option(
    "--network",
    "network",
    required=True,
    help="file:PATH of a trained network (twin train/simulate --save).",
)
@click.option(
    "--task",
    "task",
    default="allostery",
    show_default=True,
    help="regression, allostery, iris or file:PATH (same task and --seed as in training).",
)
@click.option(
    "--set",
    "example_set",
    default="train",
    show_default=True,
    help="Example set whose inputs are applied: train, test or a task's extra set.",
)
@click.option(
    "--hold-s",
    type=FiniteRange(0, 1e6, min_open=True),
    default=1e-4,
    show_default=True,
    help="Time each input is held, s (default: one board learning step).",
)
@click.option("--seed", type=SEED, default=0, show_default=True, help="Seed of generated tasks.")
@click.option(
    "--out",
    "out",
    type=OutputFile(),
    default=None,
    help="Write run documents as JSON lines.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (last line).")
@ledger_options
def infer_cmd(
    network: str,
    task: str,
    example_set: str,
    hold_s: float,
    seed: int,
    out: Path | None,
    as_json: bool,
    db: str | None,
    no_db: bool,
) -> None:
    """Apply each input of a task to a trained network and record the joules per inference."""
    from ..learning.inference import infer

    the_task, k = _trained_task(task, network, seed)
    sets = the_task.sets()
    if example_set not in sets:
        raise click.BadParameter(
            f"no example set {example_set!r}; this task has {', '.join(sets)}", param_hint="--set"
        )
    params = {
        "network": network,
        "task": task,
        "set": example_set,
        "hold_s": hold_s,
        "seed": seed,
    }
    with recorded_dispatch(out, db, no_db, params=params) as dispatch:
        result = infer(
            the_task, k, example_set=example_set, hold_s=hold_s, emit=dispatch, params=params
        )
    summary = result.summary() | {"run": result.run_uid}
    check_finite(summary, "summary", params)
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)


def _print_summary(summary: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    energies, powers, errors = summary["energy_j"], summary["power_w"], summary["error"]
    table = Table(title=f"twin infer: {summary['inputs']} inputs held {summary['hold_s']:g} s")
    for col in ("input", "power (W)", "energy (J)", "error (V^2)"):
        table.add_column(col, justify="right")
    shown = 50
    for i, (e_j, p_w, err) in enumerate(zip(energies, powers, errors, strict=True)):
        if i == shown:
            table.add_row("...", f"{len(energies) - shown} more (see --json)", "", "")
            break
        table.add_row(str(i), f"{p_w:.4g}", f"{e_j:.4g}", f"{err:.3g}")
    table.add_row("total", "", f"{summary['energy_j_total']:.4g}", "")
    console = Console()
    console.print(table)
    console.print(f"run {summary['run']}")
