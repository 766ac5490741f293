"""``twin infer``: the energy of inference on a trained network.

Each input of the chosen example set is applied to the free network for ``--hold-s`` seconds; its
energy is ``P_F * hold_s`` with ``P_F = sum_i k_i dV_i^2`` the free-state power (PHYSICS.md
section 5). The run is recorded in the energy ledger (phase ``inference``, component
``free_network``, method ``integral``, one entry per input, entry ``i`` covering
``[i * hold_s, (i + 1) * hold_s]``), with a sample per input (``free_power_w``, ``error``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import numpy as np

from ..documents import Dispatcher, energy_doc, sample_doc, start_doc, stop_doc
from ..errors import NetworkError
from ..physics.solver import CircuitBatch, free_state
from ..physics.task import Task
from . import cli
from ._common import emit_json, tasks_from_options
from ._ledger import ledger_options, recorded_dispatch

__all__ = ["free_power", "infer_cmd"]


def free_power(task: Task, k: np.ndarray, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Free-state power (W) and outputs (V) for each input row, conductances ``k`` (S).

    Returns
    -------
    power_w : (m,) ``sum_i k_i dV_i^2`` per input.
    outputs : (m, t) target values per input.
    """
    batch = CircuitBatch.from_tasks([task])
    basis = batch.basis(k[None])
    state = free_state(batch, basis, inputs[None])
    power = np.sum(k[:, None] * state.drops[0] ** 2, axis=0)
    return power, state.outputs[0]


def _trained_task(task_spec: str, network_spec: str, seed: int) -> tuple[Task, np.ndarray]:
    if not network_spec.startswith("file:"):
        raise click.BadParameter(
            "expected file:PATH of a network saved with --save", param_hint="--network"
        )
    task = tasks_from_options(task_spec, network_spec, seed=seed, realizations=1)[0]
    k = task.network.conductance
    if k is None:
        raise NetworkError(
            f"network: {network_spec[5:]} has no trained conductances "
            "(save one with twin train --save)"
        )
    return task, np.asarray(k, dtype=float)


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
    type=click.FloatRange(min=0, min_open=True),
    default=1e-4,
    show_default=True,
    help="Time each input is held, s (default: one board learning step).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of generated tasks.")
@click.option(
    "--out",
    "out",
    type=click.Path(dir_okay=False, path_type=Path),
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
    the_task, k = _trained_task(task, network, seed)
    sets = the_task.sets()
    if example_set not in sets:
        raise click.BadParameter(
            f"no example set {example_set!r}; this task has {', '.join(sets)}", param_hint="--set"
        )
    examples = sets[example_set]
    power, outputs = free_power(the_task, k, examples.inputs)
    error = np.sum((outputs - examples.outputs) ** 2, axis=-1)
    energy = power * hold_s
    params = {
        "network": network,
        "task": task,
        "set": example_set,
        "hold_s": hold_s,
        "seed": seed,
    }
    summary: dict[str, Any] = {
        "inputs": int(examples.size),
        "hold_s": hold_s,
        "set": example_set,
        "energy_j_total": float(energy.sum()),
        "energy_j_mean": float(energy.mean()),
        "energy_j": [float(x) for x in energy],
        "power_w": [float(x) for x in power],
        "error": [float(x) for x in error],
    }
    with recorded_dispatch(out, db, no_db) as dispatch:
        uid = _emit_run(dispatch, params, power, error, hold_s, summary)
    summary["run"] = uid
    if as_json:
        emit_json(summary)
    else:
        _print_summary(summary)


def _emit_run(
    dispatch: Dispatcher,
    params: dict[str, object],
    power: np.ndarray,
    error: np.ndarray,
    hold_s: float,
    summary: dict[str, Any],
) -> str:
    start = start_doc(source="twin", kind="infer", params=params, realizations=1)
    uid = start["uid"]
    if not dispatch:
        return uid
    dispatch(start)
    for i, (p_w, err) in enumerate(zip(power, error, strict=True)):
        t0 = i * hold_s
        dispatch(sample_doc(uid, i, t0, {"free_power_w": [p_w], "error": [err]}))
        dispatch(
            energy_doc(
                uid, i, t0, t0 + hold_s, p_w * hold_s, component="free_network", phase="inference"
            )
        )
    dispatch(stop_doc(uid, summary=summary))
    return uid


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
