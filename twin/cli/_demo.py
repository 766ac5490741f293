"""The runs of ``twin demo`` (the main job of ``make demo``), imported when the command runs.

1. The event-driven twin of the laboratory board (4 x 4 periodic transistor network, node
   allostery, eta = 0.22, every edge on its own desynchronous 10 kHz Bernoulli clock, 20 s of
   simulated time), once with coupled learning and once power-minimising, each run recorded in an
   energy ledger (SQLite file in the output folder) and queried back: joules to reach an error of
   1e-3, and joules per phase and component.
2. The synchronous trainer on several realizations of the board task, with and without power
   minimisation: the error / power trade-off.

Everything lands in ``--out``: PNG plots, the run documents (JSON lines) and ``ledger.db``.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.table import Table

from ..documents import Dispatcher, JsonLinesWriter
from ..learning.rules import LearningRule
from ..learning.trainer import TrainConfig, train
from ..physics.task_spec import build_tasks
from ..plots import plot_history
from ._common import progress_bar

__all__ = ["run_demo"]

TWIN_LAMBDAS = (0.0, 0.01)
TRAINER_LAMBDAS = (0.0, 1e-3)
TOLERANCE_V2 = 1e-3


def _twin_runs(console: Console, out: Path, seed: int, duration_s: float) -> None:
    import simpy

    from ..ledger import energy_to_tolerance, open_ledger, recording, show_run
    from ..simulation.clocks import parse_clock
    from ..simulation.twin import Twin, TwinConfig

    task = build_tasks("allostery", "lattice:4x4:periodic", seed=seed, realizations=1)[0]
    console.print(f"[bold]Event-driven twin of the board[/bold]: {task.description}")
    table = Table(
        title=f"board twin: transistor model, bernoulli:10000:0.5 clocks, {duration_s:g} s"
    )
    columns = (
        "lambda",
        "L0 (V^2)",
        "L (V^2)",
        "P_F (W)",
        "E to 1e-3 (J)",
        "E free (J)",
        "E clamped (J)",
        "E gate (J)",
        "x realtime",
    )
    for col in columns:
        table.add_column(col, justify="right")
    db_url = f"sqlite:///{(out / 'ledger.db').resolve()}"
    with open_ledger(db_url) as ledger:
        for lam in TWIN_LAMBDAS:
            config = TwinConfig(
                clock=parse_clock("bernoulli:10000:0.5"),
                lam=lam,
                sample_interval_s=duration_s / 400,
            )
            jsonl = out / f"twin_lam{lam:g}.jsonl"
            jsonl.unlink(missing_ok=True)  # each demo writes its runs afresh (the ledger keeps all)
            writer = JsonLinesWriter(jsonl)
            with recording(ledger) as sink:
                twin = Twin(
                    simpy.Environment(),
                    task,
                    config,
                    np.random.default_rng([seed, 1]),
                    emit=Dispatcher([writer, sink]),
                    params={"demo": True, "seed": seed},
                )
                with progress_bar(f"twin lambda={lam:g}", duration_s) as update:
                    result = twin.run(duration_s, progress=update)
            writer.close()
            plot_history(
                result.history,
                out / f"twin_lam{lam:g}.png",
                title=f"event-driven board twin, lambda={lam:g}",
            )
            table.add_row(
                f"{lam:g}",
                *_twin_row(ledger, result.run_uid, result.summary(), energy_to_tolerance, show_run),
            )
    console.print(table)
    console.print(f"ledger: {db_url}")


def _twin_row(ledger: object, uid: str, s: dict[str, float], to_tol: Any, show: Any) -> list[str]:
    reach = to_tol(ledger, uid, error=TOLERANCE_V2)["realizations"][0]
    comps = {e["component"]: e["energy_j"] for e in show(ledger, uid)["energy"]}
    return [
        *(f"{s[k]:.2g}" for k in ("error_initial", "error_final", "free_power_final_w")),
        f"{reach['energy_j']:.2g}" if reach["reached"] else "never",
        *(f"{comps.get(c, 0.0):.2g}" for c in ("free_network", "clamped_network", "gate_charging")),
        f"{s['realtime_factor']:.0f}",
    ]


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


def run_demo(out: Path, seed: int, duration_s: float, realizations: int, steps: int) -> None:
    """The twin runs with their ledger, then the trainer runs; tables on stdout."""
    console = Console()
    if not console.is_terminal:  # piped or logged: do not squeeze the tables into 80 columns
        console = Console(width=140)
    out.mkdir(parents=True, exist_ok=True)
    _twin_runs(console, out, seed, duration_s)
    _trainer_runs(console, out, seed, realizations, steps)
    console.print(f"plots and run documents: {out.resolve()}")
